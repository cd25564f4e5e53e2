// Whole PoB validators with pruning on (NodeConfig store.prune, src/store/schema.ts "Pruning")
// through EPOCHS epochs and transfers: storing the MSB of epoch e deletes the heights of epochs
// ≤ e − 1. Every replica agrees on the heights it keeps, on the MSB chain and on the supply; each
// keeps the latest two epochs (and everything above its flushed height); every final transfer of
// the kept heights has a transaction proof that verifies with the committees of the identity chain,
// and every older one is refused MSB_PRUNED.
// A validator down for a moment in epoch 3 restarts from its pruned store and catches up; the
// transfers start then, so that the early rounds end pruned and the late ones in the kept epochs.
// With pruning off (`ios node --no-prune`), every height stays and every transfer stays provable.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { committeesOfContext } from "../../src/atomix/proof.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { toHex } from "../../src/hex.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { MsbProver, verifyIosProof } from "../../src/node/msb-proof.js";
import { simSeed } from "../../src/sim/simulator.js";
import { checkIdentityChains, checkMsbChain, payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { codeOf } from "../support/errors.js";

const L = 10;
const EPOCHS = 7;
const ROUNDS = 14;
/**
 * Epochs the pruning-off case runs: its transfers end in the first ones, more than two epochs before the last (no shard rests
 * at an epoch's end, so its 6 rounds span up to 6 epochs of L = 10 heights).
 */
const KEEP_ALL_EPOCHS = 9;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const verifier = new Ed25519Verifier();


describe("whole PoB validators with pruning on", () => {
  for (const seed of caseSeeds("prune", 1)) {
    it(`${seed}: ${EPOCHS} epochs under transfers keep the last two epochs, proofs of kept heights verify, older ones are MSB_PRUNED; a restart resumes`, async () => {
      const { genesis, accounts, cluster, positions } = pobCluster({
        seed: simSeed(seed), genesisSeed: "whole-node-prune", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 12, amount: AMOUNT, epochLength: L, store: { prune: true },
      });
      const ids = cluster.members(0);
      const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
      // A transfer's status goes with its height: latch each transfer once a replica answers it final
      // (that every replica applied every transfer is the supply check below).
      const seenFinal = new Set<string>();
      let load: ReturnType<typeof payInRounds> = { total: 0, txids: new Set(), refused: [], allFinal: () => true, unsettled: () => "" };
      const finalSomewhere = (hex: string) => cluster.serving(0).some((node) => node.driver.status(Buffer.from(hex, "hex")).state === "final");
      const allSeenFinal = () => {
        for (const hex of load.txids) if (!seenFinal.has(hex) && finalSomewhere(hex)) seenFinal.add(hex);
        return seenFinal.size === load.total;
      };
      // Down for a moment once the others are in epoch 3 (their stores pruned epochs ≤ 1): it reopens its pruned store.
      const victim = ids.at(-1)!;
      assert.ok(await cluster.advance(60_000, () => (allSeenFinal(), running().length === ids.length && running().every((node) => node.context.epoch >= 3)), SETTLED_CHECK_MS), `${seed}: epoch 3`);
      const prunedBeforeCrash = cluster.node(victim)!.state.prunedBelow;
      assert.ok(prunedBeforeCrash > 1, `${seed}: the victim pruned before it went down (${prunedBeforeCrash})`);
      cluster.crash(victim);
      await cluster.advance(300);
      cluster.restart(victim);
      // The transfers start now: the early rounds end below the horizon by epoch EPOCHS, the late ones in the kept epochs.
      load = payInRounds(cluster, accounts, positions, { rounds: ROUNDS, amount: AMOUNT, fee: FEE });
      const done = () => running().length === ids.length && allSeenFinal() && running().every((node) => node.context.epoch >= EPOCHS) && load.total > 0;
      assert.ok(await cluster.advance(180_000, done, SETTLED_CHECK_MS),
        `${seed}: every validator reaches epoch ${EPOCHS} (epochs ${running().map((n) => n.context.epoch).join()}, submitted ${load.txids.size}/${load.total}, final ${seenFinal.size}, refused ${load.refused.join()}, heights ${running().map((n) => n.state.tip.height).join()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
      assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
      assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
      assert.deepEqual(cluster.handlerFailureCodes.filter((entry) => !entry.startsWith("drp:TRANSITION_NOT_LEADER ")), [], `${seed}: no handler threw`);
      await cluster.advance(1_000);

      const contexts = checkIdentityChains(seed, genesis, running(), EPOCHS);
      const serving = cluster.serving(0);
      const common = Math.min(...serving.map((node) => node.state.tip.height));
      const ended = Math.floor(common / L);
      checkMsbChain(seed, serving, 0, ended, L);
      for (const node of serving) {
        const { prunedBelow, latestMsb } = node.state;
        const latest = latestMsb!.epoch;
        // The latest two epochs (latest MSB's epoch and the one after) are kept; the flushed set bounds the horizon.
        assert.ok(prunedBelow <= latest * L + 1 && prunedBelow > (latest - 1) * L + 1 - 16, `${seed}: horizon ${prunedBelow} after the MSB of epoch ${latest}`);
        assert.equal(node.state.getBlock(prunedBelow - 1), undefined, `${seed}: height ${prunedBelow - 1} is pruned`);
        for (let epoch = 0; epoch <= latest; epoch++) assert.ok(node.state.msbHeader(epoch) !== undefined, `${seed}: MSB header ${epoch} kept`);
        for (let epoch = 1; epoch * L < prunedBelow; epoch++) assert.ok(node.state.certificateAt(epoch * L) !== undefined, `${seed}: the end certificate of epoch ${epoch - 1} kept`);
      }
      // The kept heights agree everywhere.
      const lowest = Math.max(...serving.map((node) => node.state.prunedBelow));
      for (let height = lowest; height <= common; height++) {
        const block = toHex(serving[0]!.state.getBlock(height)!);
        for (const node of serving) assert.equal(toHex(node.state.getBlock(height)!), block, `${seed}: height ${height} agrees`);
      }
      const supplies = new Set(serving.map((node) => node.state.supply));
      assert.equal(supplies.size, 1, `${seed}: the replicas agree on the supply`);
      assert.equal(serving[0]!.state.supply, genesisSupply(genesis) - FEE * BigInt(load.total), `${seed}: the chain keeps its supply, less the fees`);

      // Proofs: every final transfer is provable from a kept height or refused MSB_PRUNED, never anything else.
      const state = serving[0]!.state;
      const prover = new MsbProver(() => state);
      const trust = { committees: committeesOfContext(...contexts), verifier };
      const kept = new Set<string>();
      for (let height = state.prunedBelow; height <= state.tip.height; height++) {
        const { txids } = decodeBlock(state.getBlock(height)!);
        for (let at = 0; at < txids.length; at += 32) kept.add(toHex(txids.subarray(at, at + 32)));
      }
      const outcomes = { proven: 0, pruned: 0 };
      for (const hex of load.txids) {
        const txid = Buffer.from(hex, "hex");
        if (kept.has(hex)) {
          assert.equal(verifyIosProof(prover.tx(txid), trust).type, "tx", `${seed}: transfer ${hex.slice(0, 16)} of a kept height is proven`);
          outcomes.proven++;
        } else {
          assert.equal(codeOf(() => prover.tx(txid)), "MSB_PRUNED", `${seed}: transfer ${hex.slice(0, 16)} below the horizon`);
          outcomes.pruned++;
        }
      }
      assert.ok(outcomes.proven > 0 && outcomes.pruned > 0, `${seed}: both kinds of transfers (${JSON.stringify(outcomes)})`);
      // The restarted validator reopened its pruned store and serves the same kept chain.
      const restarted = cluster.node(victim)!;
      assert.ok(restarted.state.prunedBelow > prunedBeforeCrash, `${seed}: the restarted validator pruned on (${prunedBeforeCrash} → ${restarted.state.prunedBelow})`);
      await cluster.stop();
    });
  }
});

describe("whole PoB validators with pruning off", () => {
  for (const seed of caseSeeds("no-prune", 1)) {
    it(`${seed}: ${KEEP_ALL_EPOCHS} epochs under transfers keep every height, and every transfer, the first epoch's too, is proven`, async () => {
      const { genesis, accounts, cluster, positions } = pobCluster({
        seed: simSeed(seed), genesisSeed: "whole-node-no-prune", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 12, amount: AMOUNT, epochLength: L, store: { prune: false },
      });
      const ids = cluster.members(0);
      const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
      const load = payInRounds(cluster, accounts, positions, { rounds: 6, amount: AMOUNT, fee: FEE });
      const done = () => running().length === ids.length && load.allFinal() && running().every((node) => node.context.epoch >= KEEP_ALL_EPOCHS);
      assert.ok(await cluster.advance(180_000, done, SETTLED_CHECK_MS),
        `${seed}: every validator reaches epoch ${KEEP_ALL_EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, ${load.unsettled()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
      assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
      await cluster.advance(1_000);

      const contexts = checkIdentityChains(seed, genesis, running(), KEEP_ALL_EPOCHS);
      const serving = cluster.serving(0);
      const common = Math.min(...serving.map((node) => node.state.tip.height));
      checkMsbChain(seed, serving, 0, Math.floor(common / L), L);
      for (const node of serving) {
        assert.equal(node.state.prunes, false, `${seed}: the node does not prune`);
        assert.equal(node.state.prunedBelow, 1, `${seed}: nothing pruned`);
      }
      for (let height = 1; height <= common; height++) {
        const block = serving[0]!.state.getBlock(height);
        assert.ok(block !== undefined, `${seed}: height ${height} kept`);
        for (const node of serving) assert.equal(toHex(node.state.getBlock(height)!), toHex(block), `${seed}: height ${height} agrees`);
      }
      const state = serving[0]!.state;
      const prover = new MsbProver(() => state);
      const trust = { committees: committeesOfContext(...contexts), verifier };
      const firstEpochs = new Set<number>();
      for (const hex of load.txids) {
        const txid = Buffer.from(hex, "hex");
        firstEpochs.add(Math.floor((state.getTransactionLocation(txid)!.height - 1) / L));
        assert.equal(verifyIosProof(prover.tx(txid), trust).type, "tx", `${seed}: transfer ${hex.slice(0, 16)} is proven`);
      }
      assert.ok(firstEpochs.has(0) && Math.max(...firstEpochs) + 2 < KEEP_ALL_EPOCHS, `${seed}: transfers of epoch 0, older than the two epochs a pruning node keeps (epochs ${[...firstEpochs].join()})`);
      await cluster.stop();
    });
  }
});
