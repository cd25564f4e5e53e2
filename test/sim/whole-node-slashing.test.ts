// Slashing as a ledger fact, with whole validators (src/sim/validator-cluster.ts; issue 12
// defect 4): an attacker holding a believable producer's key seals one forged transfer per block
// until the shard catches it. Forgeries the sample missed became final; when one is caught, the
// height's final block carries one slashing transaction that spends the producer's bond, pays the
// owners of the forged-away outputs (pro rata: the 10,000 bond is short of their losses) and
// burns the rest. The whole shard restarts while the forgeries go on (so the re-check reads what
// came before from the store) and again afterwards: every replica rebuilds accounts, leagues and
// the re-check history from its store and agrees, block by block and commitment by commitment,
// and the shard goes on.
// IOS_SIM_SEED replays one seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import { buildOptimisticBlock } from "../../src/consensus/pob/optimistic.js";
import { compensate, verifySlashing } from "../../src/consensus/pob/slashing.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction, transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SIM_WALL_ORIGIN_MS } from "../../src/sim/virtual-clock.js";
import { pobCluster, slashingsOf, caseSeeds } from "./pob-cluster.js";
import { committeesOfContext } from "../../src/atomix/proof.js";
import { movesOfContext } from "../../src/epoch/transepoch/walk.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { ShardState } from "../../src/node/shard-state.js";
import { ShardSync } from "../../src/node/sync/shard-sync.js";
import type { SyncReport } from "../../src/node/sync/interface.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";

const SHARDS = 2;
const PER_SHARD = 5;
const ACCOUNTS = 64;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const STAKE = 10_000n;
/** Enough that a producer forging every block is caught whatever the seed: 0.75^24 < 0.1 % of runs see none sampled. */
const ATTACK_BLOCKS = 24;
const ATTACKER = "ee".repeat(32);
/** A quarter of the transfers sampled: most runs see forgeries slip before one is caught. */
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.25, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };

const driverOf = (node: ValidatorNode) => node.driver as PobShardConsensus;

async function run(seed: string) {
  const { sim, genesis, accounts, validators, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-slashing", policy: POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT,
  });
  const producerKey = validators.find((v) => toHex(v.publicKey) === toHex(cluster.context.leagues(0).believable[0]!))!;
  const producer = toHex(producerKey.publicKey);
  const members = cluster.members(0).filter((id) => id !== producer);
  const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
  assert.ok(payers.length > ATTACK_BLOCKS + 2);
  const transfer = (k: number, forge: boolean) => {
    const payer = payers[k]!;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
      outputs: [{ owner: payers[0]!.publicKey, amount: AMOUNT - FEE }],
    }, [payer]);
    const bytes = encodeTransaction(transaction);
    if (forge) bytes[bytes.length - 1]! ^= 0x01;
    return { bytes, txid: toHex(txid), victim: payer.publicKey };
  };
  const forgeries = Array.from({ length: ATTACK_BLOCKS }, (_, k) => transfer(k + 1, true));
  const caughtOn = (id: string) => {
    const node = cluster.node(id);
    return node !== undefined && !driverOf(node).node.validator.leagues.isBelievable(producerKey.publicKey);
  };
  let sent = 0;
  // The attacker speaks the real peer protocol: one forged block every 300 ms until it is caught.
  sim.addNode(ATTACKER, ({ transport, clock }) => {
    const channel = transport.open({ protocol: "consensus", shard: 0, epoch: 0 });
    const attack = () => {
      if (sent === ATTACK_BLOCKS || caughtOn(members[0]!)) return;
      const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 1_000 + sent, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + clock.now() }, [forgeries[sent]!.bytes], producerKey);
      sent++;
      for (const id of members) channel.send(id, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
      clock.setTimer(300, attack);
    };
    clock.setTimer(600, attack);
    return channel;
  });
  /** Restarts the whole shard from its stores, wherever each replica is: one behind catches up from the others' stores. */
  const restartShard = async () => {
    for (const id of cluster.members(0)) cluster.crash(id);
    await cluster.advance(200);
    for (const id of cluster.members(0)) cluster.restart(id);
  };
  // In the middle of the attack the shard restarts: what the re-check reads later comes from the store.
  await cluster.advance(1_300);
  await restartShard();
  // A block in flight at the restart may be lost with every replica's memory; those sent since must settle.
  const sentBefore = sent;
  const settled = (id: string, txid: string) => ["final", "rejected"].includes(cluster.status(id, txid)?.state ?? "unknown");
  const done = await cluster.advance(20_000, () => members.every(caughtOn) && members.every((id) => forgeries.slice(sentBefore, sent).every((f) => settled(id, f.txid))));
  assert.ok(done, `${seed}: the producer is caught and every forgery sent since the restart settled on every member (caught ${members.map(caughtOn).join()}, states ${forgeries.slice(sentBefore, sent).map((f) => members.map((id) => cluster.status(id, f.txid)?.state).join("/")).join(" ")}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")}, heights ${members.map((id) => cluster.node(id)?.state.tip.height).join()})`);
  await cluster.advance(1_000);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed (no replica diverged)`);

  const states = (txid: string) => new Set(members.map((id) => cluster.status(id, txid)?.state));
  const slipped = forgeries.slice(0, sent).filter((f) => [...states(f.txid)].join() === "final");
  const settlements = (txid: string) => new Set(members.map((id) => JSON.stringify(cluster.status(id, txid))));
  const settledForgeries = () => forgeries.slice(0, sent).map((f) => {
    const alike = settlements(f.txid);
    assert.equal(alike.size, 1, `${seed}: forgery ${f.txid.slice(0, 8)} settled alike everywhere: ${[...alike].join(" ")}`);
    return [...alike][0]!;
  });
  const settledBefore = settledForgeries();
  assert.ok(settledBefore.slice(sentBefore).every((s) => s.includes('"final"') || s.includes('"rejected"')), `${seed}: forgeries settled: ${settledBefore.join(" ")}`);
  assert.ok(settledBefore.some((s) => s.includes('"rejected"')), `${seed}: the caught forgery is answered with its code`);

  // One slashing, identical on every replica, verifiable offline, paying the slipped forgeries' victims.
  const expected = compensate(slipped.map((f) => ({ owner: f.victim, amount: AMOUNT })), STAKE);
  const checkReplicas = (when: string) => {
    const replicas = cluster.replicas(0);
    assert.equal(replicas.length, PER_SHARD, `${seed} ${when}: every validator of the shard runs`);
    const { commonHeight, firstDifference } = cluster.agreement(0);
    assert.ok(commonHeight > 0);
    assert.equal(firstDifference, undefined, `${seed} ${when}: every replica holds the same blocks`);
    const atCommon = replicas.filter((node) => node.state.tip.height === commonHeight).map((node) => toHex(driverOf(node).node.validator.tip));
    assert.equal(new Set(atCommon).size, 1, `${seed} ${when}: one state commitment at height ${commonHeight}`);
    for (const node of replicas) {
      const slashings = slashingsOf(node);
      assert.equal(slashings.length, 1, `${seed} ${when}: one slashing in the final chain`);
      const slashing = verifySlashing(slashings[0]!, producerKey.publicKey);
      assert.deepEqual(slashing.compensations.map((c) => [toHex(c.owner), c.amount]), expected.payments.map((c) => [toHex(c.owner), c.amount]));
      const slashingTxid = transactionIdOfEncoding(slashings[0]!);
      slashing.compensations.forEach((c, j) => {
        const held = node.state.getUtxo(slashingTxid, j);
        assert.deepEqual(held && [toHex(held.owner), held.amount], [toHex(c.owner), c.amount], `${seed} ${when}: compensation ${j} is unspent`);
      });
      const validator = driverOf(node).node.validator;
      assert.equal(validator.leagues.isBelievable(producerKey.publicKey), false, `${seed} ${when}: the producer stays out of the league`);
      const account = validator.accounts.get(producerKey.publicKey);
      assert.deepEqual([account.stake, account.servi, account.reputation], [0n, 0, 0]);
    }
    const finalForged = BigInt(slipped.length);
    let supply = 0n;
    for (let shard = 0; shard < SHARDS; shard++) supply += cluster.replicas(shard)[0]!.state.supply;
    return { supply, finalForged };
  };
  const before = checkReplicas("after the attack");
  if (slipped.length > 0) await syncsSlippedForgeries(seed, cluster, genesis);
  assert.equal(before.supply, genesisSupply(genesis) - FEE * before.finalForged - expected.burned, `${seed}: supply falls by the fees and what the slashing burned`);

  // The whole shard restarts from its stores again and goes on.
  await restartShard();
  const honest = transfer(ATTACK_BLOCKS + 1, false);
  sim.schedule(1_500, "a client after the restart", () => void cluster.submit(0, [honest.bytes], members[0]));
  assert.ok(await cluster.advance(15_000, () => members.every((id) => cluster.status(id, honest.txid)?.state === "final")),
    `${seed}: the restarted shard finalizes`);
  await cluster.advance(500);
  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged after the restart`);
  const after = checkReplicas("after the restart");
  assert.deepEqual(settledForgeries(), settledBefore, `${seed}: every forgery is answered as before the restart`);
  assert.equal(after.supply, before.supply - FEE, `${seed}: the restart changed nothing but the new transfer's fee`);
  await cluster.stop();
  return { slipped: slipped.length, burned: expected.burned };
}

/**
 * A fresh state of shard 0 syncs the final chain, forgeries the sample let through included, from
 * a replica: their blocks are certified as the committee executed them (the body root), and every
 * replica keeps them, so state sync must take them as they are — it verified each signature
 * before the commitment bound the body root, and refused these heights from every source.
 */
async function syncsSlippedForgeries(seed: string, cluster: ReturnType<typeof pobCluster>["cluster"], genesis: ReturnType<typeof pobCluster>["genesis"]): Promise<void> {
  const replica = cluster.node(cluster.members(0)[0]!)!;
  const target = replica.state.tip.height;
  const options = { committees: committeesOfContext(cluster.context), moves: movesOfContext(cluster.context), epochLength: undefined, verifier: new Ed25519Verifier() };
  // A validator serves sync only with epochs (this chain has one endless epoch): a node of its own serves the replica's store.
  const source = `sync-source-${seed}`;
  cluster.sim.addNode(source, ({ transport, clock }) => new ShardSync({ state: replica.state, transport, clock, ...options }));
  let sync: ShardSync | undefined;
  let state: ShardState | undefined;
  const id = `syncer-${seed}`;
  cluster.sim.addNode(id, ({ transport, clock }) => {
    state = ShardState.open({ store: MemoryChainStore.open(new MemoryDisk(id)), genesis, shard: 0 });
    sync = new ShardSync({ state, transport, clock, ...options, bootstrap: false });
    return sync;
  });
  await cluster.advance(1, () => sync !== undefined);
  let outcome: unknown;
  sync!.sync(target, [source]).then((report) => (outcome = report), (error: unknown) => (outcome = error));
  assert.ok(await cluster.advance(60_000, () => outcome !== undefined), `${seed}: the sync settles`);
  assert.ok(!(outcome instanceof Error), `${seed}: a final chain holding slipped forgeries syncs (${String(outcome)})`);
  assert.deepEqual((outcome as SyncReport).dropped, []);
  for (let h = 1; h <= target; h++) assert.equal(toHex(state!.getBlock(h)!), toHex(replica.state.getBlock(h)!), `${seed}: block ${h} synced as the shard holds it`);
  cluster.sim.crash(id);
  cluster.sim.crash(source);
}

/**
 * Three seeds in CI: some let forgeries slip, one is caught at once. The sampling follows the
 * chain's randomness, so which seed does what changes with the commitment (since domain v6, with
 * the body root and previous block hash: slashing-1 and -2 slip, slashing-3 is caught at once).
 */
const seeds = caseSeeds("slashing", 3);

describe("slashing with whole validators", () => {
  it(`${seeds.join(", ")}: a forging producer is slashed by a slashing transaction that repays its victims, and every replica, restarted, agrees`, async () => {
    const results = [];
    for (const seed of seeds) results.push(await run(seed));
    console.log(`whole-node slashing: ${results.map((r, i) => `${seeds[i]}: ${r.slipped} forgeries slipped, ${r.burned} burned`).join("; ")}`);
    assert.ok(results.some((r) => r.slipped > 0), "at least one seed lets a forgery slip, so compensation is exercised");
  });
});
