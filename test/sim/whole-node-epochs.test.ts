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
import { TxKind, encodeTransaction, signTransaction, transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster } from "./pob-cluster.js";

const L = 10;
const EPOCHS = 3;
const VALIDATORS = 5;
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

async function run(seed: string, crashAcross: boolean) {
  const { sim, genesis, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-epochs", policy: POLICY, shards: 1, perShard: VALIDATORS, accounts: 12, amount: AMOUNT, epochLength: L,
  });
  const ids = cluster.members(0);
  const rounds = planRounds(accounts, cluster.context.chain, positions, 6);
  const txids = new Set<string>();
  const outcomes: string[] = [];
  // A client paying in chained rounds: each round once the previous one is final at the validator it submits through
  // (a transfer spends its parent's output), 400 ms later; with epochs of about L idle heights plus a transition, rounds
  // land in every epoch and around the switches. Like any client it sends a round's unsettled transfers again after
  // RESEND_MS (a relay to a producer that is down is answered RELAY_UNANSWERED, not lost silently).
  let round = 0;
  let sentAt = 0;
  const via = () => ids.find((id) => cluster.node(id) !== undefined)!;
  const send = (batch: readonly Uint8Array[]): void => {
    sentAt = sim.now();
    void cluster.node(via())!.submit(batch).then((results) => {
      for (const result of results) {
        outcomes.push(result.outcome === "rejected" ? `rejected:${result.code}` : "answered");
        if (result.txid !== undefined) txids.add(toHex(result.txid));
      }
    });
  };
  const pay = (): void => {
    const node = cluster.node(via())!;
    const current = round === 0 ? [] : rounds[round - 1]!;
    const unsettled = current.filter((tx) => node.driver.status(transactionIdOfEncoding(tx)).state !== "final");
    if (unsettled.length === 0 && round < rounds.length) send(rounds[round++]!);
    else if (unsettled.length > 0 && sim.now() - sentAt >= RESEND_MS) send(unsettled);
    if (round < rounds.length || unsettled.length > 0) sim.schedule(400, "pay", pay);
  };
  sim.schedule(300, "pay", pay);
  const victim = ids.at(-1)!;
  if (crashAcross) {
    // Down from mid epoch 0 until the others are in epoch 2: it restarts into an epoch it never saw configured.
    sim.schedule(500, "crash", () => cluster.crash(victim));
  }
  const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
  const reached = (epoch: number) => running().length === VALIDATORS && running().every((node) => node.context.epoch >= epoch);
  if (crashAcross) {
    assert.ok(await cluster.advance(60_000, () => running().length === VALIDATORS - 1 && cluster.node(victim) === undefined && running().every((node) => node.context.epoch >= 2)),
      `${seed}: the others reach epoch 2 (epochs ${running().map((n) => n.context.epoch).join()})`);
    cluster.restart(victim);
  }
  const total = rounds.length * accounts.length;
  const allFinal = () => txids.size === total && running().every((node) => [...txids].every((txid) => node.driver.status(Buffer.from(txid, "hex")).state === "final"));
  assert.ok(await cluster.advance(120_000, () => reached(EPOCHS) && allFinal()),
    `${seed}: every validator reaches epoch ${EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, heights ${running().map((n) => n.state.tip.height).join()}, final ${txids.size}/${total}, not final ${running().map((node) => [...txids].filter((txid) => node.driver.status(Buffer.from(txid, "hex")).state !== "final").map((txid) => `${txid.slice(0, 8)}:${JSON.stringify(node.driver.status(Buffer.from(txid, "hex")))}`).join("/")).join(" | ")}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(outcomes.filter((o) => o.startsWith("rejected")), [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  assert.equal(cluster.handlerFailures, 0, `${seed}: no handler threw`);

  // One identity chain everywhere, verified from the genesis; each node runs its latest epoch's context.
  const nodes = running();
  const known = Math.min(...nodes.map((node) => node.state.lastEpoch));
  assert.ok(known >= EPOCHS);
  const links = Array.from({ length: known }, (_, i) => nodes[0]!.state.epochLink(i + 1)!);
  for (const node of nodes) {
    for (let epoch = 1; epoch <= known; epoch++) {
      const link = node.state.epochLink(epoch)!;
      assert.equal(toHex(link.configuration) + toHex(link.certificate), toHex(links[epoch - 1]!.configuration) + toHex(links[epoch - 1]!.certificate), `${seed}: one link of epoch ${epoch}`);
    }
  }
  const contexts = verifyIdentityChain(genesis, links, verifier);
  for (const node of nodes) assert.equal(toHex(node.context.configurationHash), toHex(contexts[node.context.epoch]!.configurationHash));

  // The chain went on across the switches: every block of height h is of epoch ⌊(h − 1)/L⌋, and every replica holds the same ones.
  await cluster.advance(1_000);
  const common = Math.min(...nodes.map((node) => node.state.tip.height));
  assert.ok(common >= EPOCHS * L, `${seed}: the shard passed height ${EPOCHS * L} (common ${common})`);
  for (let height = 1; height <= common; height++) {
    const block = nodes[0]!.state.getBlock(height)!;
    assert.equal(decodeBlock(block).header.epoch, Math.floor((height - 1) / L), `${seed}: height ${height}'s epoch`);
    for (const node of nodes) assert.equal(toHex(node.state.getBlock(height)!), toHex(block), `${seed}: height ${height} agrees`);
  }
  assert.equal(cluster.agreement(0).firstDifference, undefined);
  const supplies = new Set(nodes.map((node) => node.state.supply));
  assert.deepEqual([...supplies], [genesisSupply(genesis) - FEE * BigInt(total)], `${seed}: the supply less the fees, on every replica`);
  if (crashAcross) {
    // Restarted in epoch 0 at a low height: it learned the later links from its peers' archives and synced its shard up to the latest epoch's start.
    const restarted = cluster.node(victim)!;
    assert.ok(restarted.switches >= 1, `${seed}: the restarted validator entered a later epoch itself`);
    assert.ok((restarted.lastSwitch?.sync?.heights ?? 0) > 0, `${seed}: it synced the heights it missed (${JSON.stringify(restarted.lastSwitch)})`);
  }
  await cluster.stop();
}

describe("whole PoB validators across epochs", () => {
  for (const seed of caseSeeds("epochs", EPOCHS_SEEDS)) {
    it(`${seed}: one shard switches through ${EPOCHS} epochs under transfers; every replica agrees`, async () => {
      await run(seed, false);
    });
    it(`${seed}: a validator down across two switches restarts into the latest epoch`, async () => {
      await run(`${seed}/crash`, true);
    });
  }
});
