// Whole PoB validators (src/sim/validator-cluster.ts) living through several epochs: each epoch's
// last height is final, the validators configure the next epoch (src/epoch/transition) and every
// one of them switches into it (ValidatorNode): a new driver on the same state continues the
// shard's chain at height e·L + 1 under the new epoch's leagues and instance key. Transfers
// submitted throughout — some pending across a switch — all end final on every replica; every
// replica holds the same blocks, the same identity chain (verified from the genesis) and the same
// supply, less the fees. A validator crashed in one epoch and restarted in a later one catches up
// from its archive and the shard. CI runs EPOCHS_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { toHex } from "../../src/hex.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import type { PeerId } from "../../src/net/interface.js";
import { TxKind, encodeTransaction, signTransaction, transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster } from "./pob-cluster.js";

const L = 10;
const EPOCHS = 3;
const ROUNDS = 6;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const EPOCHS_SEEDS = 1;
/** A client sends a round's unsettled transfers again after this long. */
const RESEND_MS = 5_000;
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.5, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
const verifier = new Ed25519Verifier();

/** Chained transfers: in round r every account pays 1,000 to the next one and keeps the change (its output of round r − 1). */
function planRounds(accounts: readonly KeyPair[], genesisTxid: Uint8Array, positions: Map<string, number>, rounds: number): Uint8Array[][] {
  const unspent = new Map(accounts.map((a) => [toHex(a.publicKey), { txid: genesisTxid, index: positions.get(toHex(a.publicKey))!, amount: AMOUNT }]));
  return Array.from({ length: rounds }, () => accounts.map((payer, i) => {
    const payee = accounts[(i + 1) % accounts.length]!;
    const coin = unspent.get(toHex(payer.publicKey))!;
    const change = coin.amount - 1_000n - FEE;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer,
      inputs: [{ txid: coin.txid, index: coin.index, owner: payer.publicKey }],
      outputs: [{ owner: payee.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: change }],
    }, [payer]);
    unspent.set(toHex(payer.publicKey), { txid, index: 1, amount: change });
    return encodeTransaction(transaction);
  }));
}

interface Case {
  readonly shards: number;
  readonly perShard: number;
  /** A validator crashes in epoch 0 and restarts once the others are in epoch 2. */
  readonly crash: boolean;
  /** A validator that epoch 1 moves to another shard crashes once it kept epoch 1's link, before it entered it, and restarts 2 s later. */
  readonly crashMover?: boolean;
}

async function run(seed: string, { shards, perShard, crash, crashMover = false }: Case) {
  const { sim, genesis, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-epochs", policy: POLICY, shards, perShard, accounts: 12 * shards, amount: AMOUNT, epochLength: L,
  });
  const ids = Array.from({ length: shards }, (_, shard) => cluster.members(shard)).flat();
  const validators = ids.length;
  const byShard = Array.from({ length: shards }, (_, shard) => accounts.filter((account) => shardOfOwner(account.publicKey, shards) === shard));
  const rounds = byShard.map((owners) => planRounds(owners, cluster.context.chain, positions, ROUNDS));
  const total = ROUNDS * accounts.length;
  const txids = new Set<string>();
  const refused: string[] = [];
  // A client per shard paying in chained rounds: each round once the previous one is final at a validator serving the
  // shard now (a transfer spends its parent's output), 400 ms later; with epochs of about L idle heights plus a
  // transition, rounds land in every epoch and around the switches. Like any client it sends a round's unsettled
  // transfers again after RESEND_MS (a relay to a producer that is down is answered RELAY_UNANSWERED, not lost silently).
  rounds.forEach((planned, shard) => {
    let round = 0;
    let sentAt = 0;
    const send = (node: ValidatorNode, batch: readonly Uint8Array[]): void => {
      sentAt = sim.now();
      void node.submit(batch).then((results) => {
        for (const result of results) {
          if (result.outcome === "rejected") refused.push(`${result.code}`);
          if (result.txid !== undefined) txids.add(toHex(result.txid));
        }
      });
    };
    const pay = (): void => {
      const node = cluster.serving(shard)[0];
      const current = round === 0 ? [] : planned[round - 1]!;
      const unsettled = node === undefined ? current : current.filter((tx) => node.driver.status(transactionIdOfEncoding(tx)).state !== "final");
      if (node !== undefined && unsettled.length === 0 && round < planned.length) send(node, planned[round++]!);
      else if (node !== undefined && unsettled.length > 0 && sim.now() - sentAt >= RESEND_MS) send(node, unsettled);
      if (round < planned.length || unsettled.length > 0) sim.schedule(400, `pay ${shard}`, pay);
    };
    sim.schedule(300, `pay ${shard}`, pay);
  });
  const victim = ids.at(-1)!;
  const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
  if (crash) {
    sim.schedule(500, "crash", () => cluster.crash(victim));
    // Down until the others are in epoch 2: it restarts into epochs it never saw configured.
    assert.ok(await cluster.advance(60_000, () => running().length === validators - 1 && cluster.node(victim) === undefined && running().every((node) => node.context.epoch >= 2)),
      `${seed}: the others reach epoch 2 (epochs ${running().map((n) => n.context.epoch).join()})`);
    cluster.restart(victim);
  }
  let mover: PeerId | undefined;
  if (crashMover) {
    // Configured and not entered: it is stopping its driver or syncing its new shard when it goes down.
    const switchingShard = (id: PeerId) => {
      const node = cluster.node(id);
      return node !== undefined && node.contexts.length > 1 && node.context.epoch === 0 && node.contexts[1]!.shardOf(node.setup.key.publicKey) !== node.shard;
    };
    assert.ok(await cluster.advance(60_000, () => (mover = ids.find(switchingShard)) !== undefined), `${seed}: a validator is about to change shard`);
    cluster.crash(mover!);
    await cluster.advance(2_000);
    cluster.restart(mover!);
  }
  const finalWhereServed = (txid: string, shard: number) => cluster.serving(shard).every((node) => node.driver.status(Buffer.from(txid, "hex")).state === "final");
  const shardOfTx = new Map(rounds.flatMap((planned, shard) => planned.flat().map((tx) => [toHex(transactionIdOfEncoding(tx)), shard] as const)));
  const done = () => running().length === validators && running().every((node) => node.context.epoch >= EPOCHS) && txids.size === total && [...txids].every((txid) => finalWhereServed(txid, shardOfTx.get(txid)!));
  assert.ok(await cluster.advance(120_000, done),
    `${seed}: every validator reaches epoch ${EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, heights ${running().map((n) => n.state.tip.height).join()}, submitted ${txids.size}/${total}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(refused, [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  // A validator restarted during a transition may get the elected leader's proposal before its own election elected it:
  // refused TRANSITION_NOT_LEADER (it takes the link later). Nothing else may be refused or throw.
  const restarted = crash || crashMover;
  assert.deepEqual(cluster.handlerFailureCodes.filter((entry) => !(restarted && entry.startsWith("drp:TRANSITION_NOT_LEADER "))), [], `${seed}: no handler threw`);

  // One identity chain everywhere, verified from the genesis; each node runs its latest epoch's context and serves the shard it assigns.
  const nodes = running();
  const known = Math.min(...nodes.map((node) => node.contexts.length - 1));
  assert.ok(known >= EPOCHS);
  const home = (node: ValidatorNode) => node.contexts[0]!.shardOf(node.setup.key.publicKey)!;
  const links = Array.from({ length: known }, (_, i) => nodes[0]!.archive.epochLink(i + 1)!);
  for (const node of nodes) {
    for (let epoch = 1; epoch <= known; epoch++) {
      const link = node.archive.epochLink(epoch)!;
      assert.equal(toHex(link.configuration) + toHex(link.certificate), toHex(links[epoch - 1]!.configuration) + toHex(links[epoch - 1]!.certificate), `${seed}: one link of epoch ${epoch}`);
    }
  }
  const contexts = verifyIdentityChain(genesis, links, verifier);
  for (const node of nodes) {
    for (let epoch = 1; epoch <= known; epoch++) assert.equal(toHex(node.contexts[epoch]!.configurationHash), toHex(contexts[epoch]!.configurationHash), `${seed}: one configuration of epoch ${epoch}`);
    assert.equal(node.shard, contexts[node.context.epoch]!.shardOf(node.setup.key.publicKey), `${seed}: each validator serves the shard its epoch assigns`);
  }

  // Each shard's chain went on across the switches: height h is of epoch ⌊(h − 1)/L⌋, and every validator serving the shard now holds the same blocks.
  await cluster.advance(1_000);
  let supply = 0n;
  for (let shard = 0; shard < shards; shard++) {
    const serving = cluster.serving(shard);
    assert.ok(serving.length > 0);
    const common = Math.min(...serving.map((node) => node.state.tip.height));
    assert.ok(common >= EPOCHS * L, `${seed}: shard ${shard} passed height ${EPOCHS * L} (common ${common})`);
    for (let height = 1; height <= common; height++) {
      const block = serving[0]!.state.getBlock(height)!;
      assert.equal(decodeBlock(block).header.epoch, Math.floor((height - 1) / L), `${seed}: shard ${shard} height ${height}'s epoch`);
      for (const node of serving) assert.equal(toHex(node.state.getBlock(height)!), toHex(block), `${seed}: shard ${shard} height ${height} agrees`);
    }
    const supplies = new Set(serving.map((node) => node.state.supply));
    assert.equal(supplies.size, 1, `${seed}: shard ${shard}'s validators agree on its supply`);
    supply += serving[0]!.state.supply;
  }
  assert.equal(supply, genesisSupply(genesis) - FEE * BigInt(total), `${seed}: the chain keeps its supply, less the fees`);
  if (shards > 1) assert.ok(nodes.some((node) => node.lastSwitch?.sync !== undefined || node.shard !== home(node)), `${seed}: validators moved between shards`);
  if (mover !== undefined) {
    const restarted = cluster.node(mover)!;
    assert.ok(restarted.recentSwitches.some((entered) => (entered.sync?.heights ?? 0) > 0), `${seed}: the mover restarted before its new shard and synced it (${JSON.stringify(restarted.recentSwitches)})`);
  }
  if (crash) {
    // Restarted in epoch 0 at a low height: it learned the later links from its peers' archives and synced its shard up to the latest epoch's start.
    const restarted = cluster.node(victim)!;
    assert.ok(restarted.switches >= 1, `${seed}: the restarted validator entered a later epoch itself`);
    assert.ok(restarted.recentSwitches.some((entered) => (entered.sync?.heights ?? 0) > 0), `${seed}: it synced the heights it missed (${JSON.stringify(restarted.recentSwitches)})`);
  }
  await cluster.stop();
}

describe("whole PoB validators across epochs", () => {
  for (const seed of caseSeeds("epochs", EPOCHS_SEEDS)) {
    // One shard switching through the epochs is the crash case's run with its other four validators (every assertion
    // of `run` holds for them), and the two-shard case checks a run without a restart, where nothing may be refused.
    it(`${seed}: one shard switches through ${EPOCHS} epochs under transfers, every replica agrees; a validator down across two switches restarts into the latest epoch`, async () => {
      await run(`${seed}/crash`, { shards: 1, perShard: 5, crash: true });
    });
    it(`${seed}: two shards through ${EPOCHS} epochs under transfers: validators move, sync, and the chain keeps its supply`, async () => {
      await run(`${seed}/shards`, { shards: 2, perShard: 5, crash: false });
    });
    it(`${seed}: a validator that goes down while moving to another shard restarts, syncs it and joins`, async () => {
      await run(`${seed}/mover`, { shards: 2, perShard: 5, crash: false, crashMover: true });
    });
  }
});
