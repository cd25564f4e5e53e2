// Atomix without its client (white paper §6: proofs are gossiped, any party may unlock, the
// shards' own validators finish what a vanished client started — src/atomix/watcher.ts), between
// whole PoB validators in the simulator, 2 shards × 5. The client crashes after each step; a
// partition between the shards heals; replays and forged unlocks change nothing. After each run:
// every shard's phase is the one outcome, supply is conserved, replicas agree, no lock remains.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { encodeAtomixUnlock, atomixUnlockTxid } from "../../src/ledger/kinds/atomix-unlock.js";
import { runCrossShardTransfer, signCrossShardTransfer, unlockFor, type SignedCrossShardTransfer } from "../../src/atomix/client.js";
import { ATOMIX_GRACE_MS, type PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { ATOMIX_MESSAGES, MAX_RETRY_MS, actingMembers } from "../../src/atomix/watcher.js";
import { atomixAccess, caseSeeds, entryOf, pobCluster, WHOLE_NODE } from "./pob-cluster.js";
import { SETTLED_CHECK_MS, type ValidatorCluster } from "../../src/sim/validator-cluster.js";

const POLICY: ShardingPolicy = {
  believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256,
};
const SHARDS = WHOLE_NODE.shards;
/** Every lock is finished within the grace period, a few retries and their final heights. */
const LIVENESS_MS = ATOMIX_GRACE_MS + 12_000;

function setup(seed: string) {
  const { sim, genesis, accounts, cluster: nodes, positions } = pobCluster({ seed, genesisSeed: "atomix-liveness", policy: POLICY, shards: SHARDS, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount });
  const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
  const coin = (a: KeyPair) => ({ txid: nodes.context.chain, owner: a.publicKey, index: positions.get(toHex(a.publicKey))!, amount: WHOLE_NODE.amount });
  /** a (shard 0) and b (shard 1) pay c (shard 0) and d (shard 1), less a fee of 10. */
  const transfer = (a: KeyPair, b: KeyPair, c: KeyPair, d: KeyPair): SignedCrossShardTransfer => signCrossShardTransfer({
    kind: TxKind.AtomixLock, inputs: [coin(a), coin(b)], outputs: [{ owner: c.publicKey, amount: 1_200_000n }, { owner: d.publicKey, amount: 799_990n }],
  }, [a, b]);
  return { sim, genesis, nodes, inShard, coin, transfer };
}

/** The setup with the standard transfer X: a (shard 0) and b (shard 1) pay c (shard 0) and d (shard 1). */
function setupWithTransfer(seed: string) {
  const base = setup(seed);
  const [a, c] = base.inShard(0);
  const [b, d] = base.inShard(1);
  return { ...base, a: a!, b: b!, d: d!, x: base.transfer(a!, b!, c!, d!) };
}

/** The standard transfer's lock sent to shard 0 while the shards are cut off from each other. */
async function lockedWhilePartitioned(seed: string) {
  const setup = setupWithTransfer(seed);
  const { sim, nodes, x } = setup;
  await nodes.advance(500);
  sim.network.partition([nodes.members(0), nodes.members(1)]);
  submitTo(nodes, 0, x.bytes);
  return setup;
}


function submitTo(nodes: ValidatorCluster, shard: number, tx: Uint8Array): void {
  void nodes.submit(shard, [tx], entryOf(nodes, shard));
}

function phasesOf(nodes: ValidatorCluster, txid: Uint8Array): (string | undefined)[][] {
  return Array.from({ length: SHARDS }, (_, shard) => nodes.replicas(shard).map((node) => node.state.atomix(txid)?.phase));
}

/** Runs until every replica of every shard shows `phase` for X (or the time runs out). */
async function until(nodes: ValidatorCluster, txid: Uint8Array, expected: readonly (string | undefined)[], ms = LIVENESS_MS): Promise<void> {
  const reached = () => phasesOf(nodes, txid).every((replicas, shard) => replicas.every((phase) => phase === expected[shard]));
  if (!(await nodes.advance(ms, reached, SETTLED_CHECK_MS))) assert.fail(`phases ${JSON.stringify(phasesOf(nodes, txid))}, expected ${JSON.stringify(expected)}`);
}

/** The run's invariants: replicas agree, supply is the genesis' less `fees`, no failure. */
async function invariants(nodes: ValidatorCluster, genesis: Parameters<typeof genesisSupply>[0], fees: bigint): Promise<void> {
  await nodes.advance(1_000);
  let supply = 0n;
  for (let shard = 0; shard < SHARDS; shard++) {
    assert.equal(nodes.agreement(shard).firstDifference, undefined, `shard ${shard}: replicas hold the same blocks`);
    assert.equal(new Set(nodes.replicas(shard).map((node) => node.state.supply)).size, 1);
    supply += nodes.replicas(shard)[0]!.state.supply;
  }
  assert.equal(supply, genesisSupply(genesis) - fees, "supply across the shards is conserved");
  assert.deepEqual(nodes.failures, []);
  assert.equal(nodes.handlerFailures, 0, "no message handler threw");
  for (let shard = 0; shard < SHARDS; shard++) {
    for (const node of nodes.replicas(shard)) assert.equal(node.state.watchedTransfers(Number.POSITIVE_INFINITY).length, 0, `shard ${shard}: no lock remains`);
  }
}


describe("Atomix without its client, between whole PoB validators", () => {
  for (const seed of caseSeeds("atomix-lock-one-shard", 1)) {
    it(`the client sends the lock to one input shard and vanishes: the shards lock, prove and commit everywhere (${seed})`, async () => {
      const { genesis, nodes, d, x } = setupWithTransfer(seed);
      await nodes.advance(500);
      submitTo(nodes, 0, x.bytes);
      await until(nodes, x.txid, ["committed", "committed"]);
      assert.deepEqual(nodes.replicas(1)[0]!.state.getUtxo(x.txid, 1), { owner: d.publicKey, amount: 799_990n });
      await invariants(nodes, genesis, 10n);
      await nodes.stop();
    });
  }

  it("the client locks in both shards and vanishes before any unlock: committed everywhere", async () => {
    const { genesis, nodes, x } = setupWithTransfer("atomix-no-unlock");
    await nodes.advance(500);
    submitTo(nodes, 0, x.bytes);
    submitTo(nodes, 1, x.bytes);
    await until(nodes, x.txid, ["locked", "locked"], 2_000);
    await until(nodes, x.txid, ["committed", "committed"]);
    await invariants(nodes, genesis, 10n);
    await nodes.stop();
  });

  it("the client sends the commit to one shard only: the other commits too; replayed unlocks and a replayed lock change nothing", async () => {
    const { sim, genesis, nodes, x } = setupWithTransfer("atomix-partial-unlock");
    await nodes.advance(500);
    submitTo(nodes, 0, x.bytes);
    submitTo(nodes, 1, x.bytes);
    await until(nodes, x.txid, ["locked", "locked"], 2_000);
    const proofs = new Map([0, 1].map((shard) => [shard, nodes.replicas(shard)[0]!.state.atomix(x.txid)!.proof!]));
    const commit = unlockFor(x.unsigned, proofs, SHARDS)!;
    assert.equal(commit.kind, "commit");
    submitTo(nodes, 0, commit.bytes);
    await until(nodes, x.txid, ["committed", "committed"]);
    const heights = [0, 1].map((shard) => nodes.replicas(shard)[0]!.state.tip.height);
    // Replays: the commit again, the lock again, to both shards; every answer refuses them.
    const answers = await Promise.all([0, 1].flatMap((shard) => [commit.bytes, x.bytes].map((tx) => nodes.submitAndWait(shard, [tx], entryOf(nodes, shard)))));
    for (const [result] of answers) assert.notEqual(result!.outcome, "accepted", `a replay is refused (${result!.outcome} ${"code" in result! ? String(result.code) : ""})`);
    await nodes.advance(2_000);
    assert.ok([0, 1].every((shard) => nodes.replicas(shard)[0]!.state.tip.height > heights[shard]!), "the shards kept finalizing");
    assert.deepEqual(phasesOf(nodes, x.txid).map((replicas) => new Set(replicas)), [new Set(["committed"]), new Set(["committed"])]);
    // An unlock naming X with a forged proof is refused at intake with the proof's code.
    const forged = Uint8Array.from(proofs.get(1)!);
    forged[forged.length - 40]! ^= 1;
    const [refused] = await nodes.submitAndWait(1, [encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: x.unsigned, proofs: [proofs.get(0)!, forged] })], entryOf(nodes, 1));
    assert.match(String((refused as { code?: string }).code), /^TX_PROOF_/);
    assert.equal(sim.now() > 0, true);
    await invariants(nodes, genesis, 10n);
    await nodes.stop();
  });

  it("the client locks one shard, its other input is spent meanwhile: the shards refuse, prove it and abort; the lock is released", async () => {
    const { genesis, nodes, coin, a, b, d, x } = setupWithTransfer("atomix-abort-without-client");
    // Y spends a's output first, through the whole flow of its own client.
    const y = signCrossShardTransfer({ kind: TxKind.AtomixLock, inputs: [coin(a)], outputs: [{ owner: d.publicKey, amount: WHOLE_NODE.amount }] }, [a]);
    await nodes.advance(500);
    let yDone = false;
    void runCrossShardTransfer(y, atomixAccess(nodes)).then(() => (yDone = true));
    assert.ok(await nodes.advance(10_000, () => yDone));
    submitTo(nodes, 1, x.bytes);
    // Shard 0 refused X (it never locked anything: refused is its end); shard 1 released its lock.
    await until(nodes, x.txid, ["refused", "aborted"]);
    for (const node of nodes.replicas(1)) assert.deepEqual(node.state.getUtxo(nodes.context.chain, coin(b).index), { owner: b.publicKey, amount: WHOLE_NODE.amount }, "b's input is spendable again");
    assert.equal(nodes.replicas(1)[0]!.state.getUtxo(x.txid, 1), undefined, "no output of the aborted transfer");
    // A late lock of X at shard 1, after its abort, is refused: it would lock forever.
    const [late] = await nodes.submitAndWait(1, [x.bytes], entryOf(nodes, 1));
    assert.notEqual(late!.outcome, "accepted");
    await nodes.advance(2_000);
    assert.deepEqual(phasesOf(nodes, x.txid)[1], Array(WHOLE_NODE.perShard).fill("aborted"));
    assert.equal(nodes.replicas(1)[0]!.state.atomix(atomixUnlockTxid(TxKind.AtomixUnlockAbort, x.unsigned)), undefined, "phases are kept by transfer, not by unlock");
    await invariants(nodes, genesis, 0n);
    await nodes.stop();
  });

  for (const seed of caseSeeds("atomix-byzantine-members", 1)) {
    it(`a byzantine member of each shard lies in its answers (forged proofs, a false "committed") and withholds what it should relay: the transfer still commits everywhere (${seed})`, async () => {
      const { genesis, nodes, coin, d, x } = setupWithTransfer(seed);
      // In each shard, the first member ranked for X (a watcher that acts for it) turns byzantine.
      const { transaction: baitTx } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: nodes.context.chain, index: coin(d).index, owner: d.publicKey }], outputs: [{ owner: d.publicKey, amount: 5n }] }, [d]);
      const bait = encodeTransaction(baitTx);
      const liars = [0, 1].map((shard) => toHex(actingMembers([...nodes.members(shard)].map((id) => Buffer.from(id, "hex")), x.txid)[0]!));
      for (const liar of liars) {
        nodes.sim.network.intercept(liar, (_to, type, payload) => {
          // Instead of relaying, it asks the other shard about a plain transfer and hands it one to submit.
          if (type === ATOMIX_MESSAGES.SUBMIT || type === ATOMIX_MESSAGES.QUERY) return bait;
          if (type !== ATOMIX_MESSAGES.ANSWER) return payload;
          // Claims "committed" (phase 2) with a proof whose last byte is flipped.
          const lie = Uint8Array.from(payload);
          lie[32] = 2;
          if (lie.length > 35) lie[lie.length - 1]! ^= 1;
          return lie;
        });
      }
      await nodes.advance(500);
      submitTo(nodes, 0, x.bytes);
      await until(nodes, x.txid, ["committed", "committed"]);
      await invariants(nodes, genesis, 10n);
      const refused = [0, 1].flatMap((shard) => nodes.replicas(shard)).reduce((n, node) => n + (node.driver as PobShardConsensus).atomix!.stats.malformed, 0);
      assert.ok(refused > 0, "the liars' bait was refused, not submitted");
      assert.deepEqual(nodes.replicas(1)[0]!.state.getUtxo(nodes.context.chain, coin(d).index), { owner: d.publicKey, amount: WHOLE_NODE.amount }, "the bait transfer never applied");
      await nodes.stop();
    });
  }

  it("a transfer with every input in one shard: its lock settles it there; with the client gone and that shard's validators restarted, their watchers still bring the commit to the other shard; replayed unlocks change nothing", async () => {
    const { genesis, nodes, inShard, coin } = setup("atomix-settling-lock");
    const [a, c] = inShard(0);
    const [d] = inShard(1);
    const x = signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [coin(a!)], outputs: [{ owner: c!.publicKey, amount: 600_000n }, { owner: d!.publicKey, amount: WHOLE_NODE.amount - 600_010n }],
    }, [a!]);
    await nodes.advance(500);
    submitTo(nodes, 0, x.bytes);
    await until(nodes, x.txid, ["committed", undefined], 3_000);
    for (const node of nodes.replicas(0)) {
      assert.equal(node.state.getUtxo(nodes.context.chain, coin(a!).index), undefined, "the input is spent");
      assert.deepEqual(node.state.getUtxo(x.txid, 0), { owner: c!.publicKey, amount: 600_000n }, "the change exists as soon as the lock is final");
      assert.equal(node.state.watchedTransfers(Number.POSITIVE_INFINITY).length, 0, "nothing is locked");
    }
    // Every member of the input shard restarts before the grace period ends: the restarted watchers take the transfer up again.
    for (const id of nodes.members(0)) nodes.crash(id);
    await nodes.advance(200);
    for (const id of nodes.members(0)) nodes.restart(id);
    await until(nodes, x.txid, ["committed", "committed"]);
    // The output shard restarts too: its stored blocks, the unlock's included, replay to the same state.
    for (const id of nodes.members(1)) nodes.crash(id);
    await nodes.advance(200);
    for (const id of nodes.members(1)) nodes.restart(id);
    await nodes.advance(1_000);
    for (const node of nodes.replicas(1)) assert.deepEqual(node.state.getUtxo(x.txid, 1), { owner: d!.publicKey, amount: WHOLE_NODE.amount - 600_010n });
    // The input shard decided X with its lock: an unlock sent there later decides nothing.
    const proof = nodes.replicas(0)[0]!.state.atomix(x.txid)!.proof!;
    const commit = unlockFor(x.unsigned, new Map([[0, proof]]), SHARDS)!;
    assert.equal(commit.kind, "commit");
    const heights = nodes.replicas(0).map((node) => node.state.tip.height);
    submitTo(nodes, 0, commit.bytes);
    submitTo(nodes, 1, commit.bytes);
    await nodes.advance(3_000);
    assert.ok(nodes.replicas(0).every((node, i) => node.state.tip.height > heights[i]!), "shard 0 kept finalizing");
    assert.ok(nodes.replicas(0).every((node) => node.driver.status(atomixUnlockTxid(TxKind.AtomixUnlockCommit, x.unsigned)).state !== "final"), "shard 0 never includes an unlock of X");
    assert.deepEqual(phasesOf(nodes, x.txid).map((replicas) => new Set(replicas)), [new Set(["committed"]), new Set(["committed"])]);
    await invariants(nodes, genesis, 10n);
    await nodes.stop();
  });

  it("a byzantine member of the output shard also names, in its commit notices, a transfer its shard never committed: one member's word ends no watch, and the watchers still bring that commit", async () => {
    const { sim, genesis, nodes, inShard, coin } = setup("atomix-false-notice");
    const [a, c] = inShard(0);
    const [d, e] = inShard(1);
    const settling = (payer: KeyPair, payee: KeyPair) => signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [coin(payer)], outputs: [{ owner: payee.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: WHOLE_NODE.amount - 1_010n }],
    }, [payer]);
    // X: its client sends the lock and vanishes. Y: its client finishes, so shard 1 commits Y and its members send notices.
    const x = settling(a!, d!);
    const y = settling(c!, e!);
    const liar = nodes.members(1)[0]!;
    let lies = 0;
    sim.network.intercept(liar, (_to, type, payload) => {
      if (type !== ATOMIX_MESSAGES.COMMITTED) return payload;
      lies++;
      const forged = new Uint8Array(payload.length + 32);
      forged.set(payload);
      forged.set(x.txid, payload.length);
      new DataView(forged.buffer).setUint16(0, new DataView(payload.buffer, payload.byteOffset).getUint16(0, true) + 1, true);
      return forged;
    });
    await nodes.advance(500);
    submitTo(nodes, 0, x.bytes);
    let settled = false;
    void runCrossShardTransfer(y, atomixAccess(nodes)).then(() => (settled = true));
    assert.ok(await nodes.advance(5_000, () => settled), "Y's client finished");
    await nodes.advance(500);
    assert.ok(lies > 0, "the liar named X in its notices");
    assert.deepEqual(phasesOf(nodes, x.txid), [Array(WHOLE_NODE.perShard).fill("committed"), Array(WHOLE_NODE.perShard).fill(undefined)], "X settled in shard 0 only, so far");
    await until(nodes, x.txid, ["committed", "committed"]);
    await invariants(nodes, genesis, 20n);
    await nodes.stop();
  });

  // A partition between the shards delays the finish, and the transfer commits once it heals: this case shows it with a
  // partition long enough to see the watchers back off as well (a shorter one took a run of its own and showed nothing more).
  it("watchers cut off from a shard back off: their queries thin out while the partition lasts, and the transfer still commits once it heals", async () => {
    const { sim, genesis, nodes, x } = await lockedWhilePartitioned("atomix-backoff");
    const cutOffMs = 20_000;
    await nodes.advance(ATOMIX_GRACE_MS + cutOffMs);
    assert.deepEqual(phasesOf(nodes, x.txid), [Array(WHOLE_NODE.perShard).fill("locked"), Array(WHOLE_NODE.perShard).fill(undefined)]);
    const queries = nodes.replicas(0).reduce((n, node) => n + (node.driver as PobShardConsensus).atomix!.stats.queries, 0);
    // f + 1 = 2 acting members; waits of 1, 2, 4, 8, 8 s give at most 6 rounds each in 20 s (21 at one a second).
    assert.ok(queries >= 2 * 4 && queries <= 2 * 6, `${queries} queries in ${cutOffMs} ms`);
    sim.network.heal();
    await until(nodes, x.txid, ["committed", "committed"], LIVENESS_MS + MAX_RETRY_MS);
    await invariants(nodes, genesis, 10n);
    await nodes.stop();
  });
});
