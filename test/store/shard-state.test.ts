import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BlockKind, decodeBlockEnvelope, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { genesisEntries, genesisTxid, type Genesis } from "../../src/ledger/genesis.js";
import { validateStateless } from "../../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { ApplyStatus, ENTRY_BYTES } from "../../src/ledger/utxo-table.js";
import { ShardState } from "../../src/node/shard-state.js";
import { META_FLUSHED, UtxoLogPart, heightKey, utxoLogKey } from "../../src/store/schema.js";
import { WORKLOAD_ACCOUNTS, utxoSetDigest } from "../ledger/store-crash-child.js";
import { ChainBuilder, FEE, makeWorkload, type BuiltBlock } from "./workload.js";
import { codeOf, codeOfAsync } from "../support/errors.js";
import { BACKENDS, type Medium } from "./backends.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";

const workload = makeWorkload("shard state tests", 32);
const genesisCount = genesisEntries(workload.genesis, 0).length / ENTRY_BYTES;


for (const makeBackend of BACKENDS) {
const backend = makeBackend();
const freshDir = (): Medium => backend.fresh();

function openState(medium: Medium, flushIntervalBlocks = 4, genesis: Genesis = workload.genesis): ShardState {
  return ShardState.open({ ...backend.location(medium), genesis, shard: 0, flushIntervalBlocks });
}

describe(`ShardState (${backend.name} store)`, () => {
  it("starts from genesis, commits blocks, flushes every K blocks and answers lookups", async () => {
    const dir = freshDir();
    const state = openState(dir);
    assert.deepEqual(state.tip, { height: 0, hash: genesisTxid(workload.genesis) });
    assert.equal(state.supply, workload.supply);
    assert.equal(state.utxoCount, genesisCount);
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    const blocks: BuiltBlock[] = [];
    for (let i = 0; i < 10; i++) {
      const block = builder.nextBlock(12);
      const result = state.commitBlock(block.bytes);
      blocks.push(block);
      assert.equal(result.height, i + 1);
      assert.deepEqual(result.hash, block.hash);
      assert.equal(result.applied, 12);
      assert.equal(result.flushed, (i + 1) % 4 === 0);
      assert.ok(result.statuses.every((status) => status === ApplyStatus.Ok));
      assert.deepEqual(result.txids, Uint8Array.from(Buffer.concat(block.txids)), "every txid, in body order");
    }
    assert.equal(state.flushedHeight, 8);
    assert.equal(state.supply, workload.supply - 120n * FEE);
    assert.equal(state.utxoCount, genesisCount + 120);
    blocks.forEach((block) => {
      assert.deepEqual(state.getBlock(block.height), Buffer.from(block.bytes));
      assert.deepEqual(state.getBlockByHash(block.hash), Buffer.from(block.bytes));
      block.txids.forEach((txid, position) => assert.deepEqual(state.getTransactionLocation(txid), { height: block.height, position }));
    });
    const lastTx = blocks[9]!.txids[0]!;
    assert.ok(state.getUtxo(lastTx, 0)!.amount > 0n);
    assert.equal(state.getUtxo(lastTx, 2), undefined);
    const digest = utxoSetDigest(state.utxoSnapshot());
    state.setEpoch(3);
    await state.close();

    const reopened = openState(dir);
    assert.equal(reopened.flushedHeight, 10, "close flushes the pending delta");
    assert.deepEqual(reopened.tip, { height: 10, hash: blocks[9]!.hash });
    assert.equal(reopened.epoch, 3);
    assert.equal(utxoSetDigest(reopened.utxoSnapshot()), digest);
    await reopened.close();
    assert.equal(await codeOfAsync(() => reopened.commitBlock(blocks[0]!.bytes)), "STATE_CLOSED");
  });

  it("flushes at its turn among the replicas, after a height it led, or half an interval past its phase", async () => {
    const dir = freshDir();
    const state = openState(dir, 8);
    assert.equal(codeOf(() => state.setFlushTurn({ index: 4, replicas: 4 })), "STORE_BAD_INPUT");
    assert.equal(codeOf(() => state.setFlushTurn({ index: 0, replicas: 0 })), "STORE_BAD_INPUT");
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    const flushedAt: number[] = [];
    const commit = (to: number) => {
      for (let height = state.tip.height + 1; height <= to; height++) if (state.commitBlock(builder.nextBlock(3).bytes).flushed) flushedAt.push(height);
    };
    // Replica 2 of 4 with an interval of 8: phase 4. It leads heights ≡ 1 (mod 4): its flushes follow 5, 13, 21.
    state.setFlushTurn({ index: 2, replicas: 4, leads: (height) => height % 4 === 1 });
    commit(22);
    assert.deepEqual(flushedAt, [5, 13, 21]);
    assert.equal(state.flushedHeight, 21);
    // A replica that leads nothing in range waits half an interval past its phase (28 + 4).
    state.setFlushTurn({ index: 2, replicas: 4, leads: () => false });
    commit(33);
    assert.deepEqual(flushedAt, [5, 13, 21, 32]);
    // A new turn without leaders (phase 6): its phase height 38 flushes, then 46.
    state.setFlushTurn({ index: 3, replicas: 4 });
    commit(47);
    assert.deepEqual(flushedAt, [5, 13, 21, 32, 38, 46]);
    const digest = utxoSetDigest(state.utxoSnapshot());
    await state.close();
    const reopened = openState(dir, 8);
    assert.deepEqual([reopened.flushedHeight, reopened.tip.height], [47, 47]);
    assert.equal(utxoSetDigest(reopened.utxoSnapshot()), digest);
    await reopened.close();
  });

  it("replays an unflushed tail left by a process that exited without closing", async () => {
    const dir = freshDir();
    const summary = ["summary", ...backend.crashRun(dir, "tail replay", 4, 15, 10)];
    const tailWorkload = makeWorkload("tail replay", WORKLOAD_ACCOUNTS);
    const state = openState(dir, 4, tailWorkload.genesis);
    assert.equal(state.tip.height, 10);
    assert.equal(state.flushedHeight, 8, "blocks 9 and 10 were never flushed");
    assert.equal(String(state.supply), summary[1]);
    assert.equal(String(state.utxoCount), summary[2]);
    assert.equal(utxoSetDigest(state.utxoSnapshot()), summary[3], "replayed UTXO set equals the one the child had");
    assert.equal(state.supply, tailWorkload.supply - 150n * FEE);
    await state.close();
  });

  it("rejects blocks that do not follow the tip or fail stateless checks, and stays usable", async () => {
    const state = openState(freshDir());
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    const first = builder.nextBlock(3);
    const second = builder.nextBlock(3);
    assert.equal(await codeOfAsync(() => state.commitBlock(second.bytes)), "STORE_HEIGHT_GAP");
    const tampered = Uint8Array.from(first.bytes);
    tampered[20] = (tampered[20]! + 1) & 0xff;
    assert.equal(await codeOfAsync(() => state.commitBlock(tampered)), "STATE_PREV_HASH_MISMATCH");
    const wrongRoot = Uint8Array.from(first.bytes);
    wrongRoot[60] = (wrongRoot[60]! + 1) & 0xff;
    assert.equal(await codeOfAsync(() => state.commitBlock(wrongRoot)), "STATE_TX_ROOT_MISMATCH");
    const wrongShard = Uint8Array.from(first.bytes);
    wrongShard[2] = 1;
    assert.equal(await codeOfAsync(() => state.commitBlock(wrongShard)), "STATE_WRONG_SHARD");
    assert.equal(await codeOfAsync(() => state.commitBlock(first.bytes.subarray(0, 100))), "BLOCK_TRUNCATED");
    assert.equal(state.tip.height, 0);
    assert.equal(state.supply, workload.supply);
    state.commitBlock(first.bytes);
    state.commitBlock(second.bytes);
    assert.equal(state.tip.height, 2);
    await state.close();
  });

  it("keeps a transaction failing stateful validation in the block unapplied and unindexed", async () => {
    const state = openState(freshDir());
    const entries = Buffer.from(genesisEntries(workload.genesis, 0));
    const input = { txid: entries.subarray(0, 32), index: entries.readUInt32LE(32), owner: entries.subarray(36, 68) };
    const owner = workload.accounts.find((account) => input.owner.equals(account.publicKey))!;
    const amount = entries.readBigUInt64LE(68);
    const pay = (fee: bigint) =>
      signTransaction({ kind: TxKind.Transfer, inputs: [input], outputs: [{ owner: workload.accounts[1]!.publicKey, amount: amount - fee }] }, [owner]);
    const first = pay(5n);
    const doubleSpend = pay(6n);
    const transactions = [encodeTransaction(first.transaction), encodeTransaction(doubleSpend.transaction)];
    const header = makeBlockHeader(
      { kind: BlockKind.Optimistic, shard: 0, epoch: 0, height: 1, prevHash: state.tip.hash, timestamp: 1000, producer: workload.producer.publicKey },
      transactions,
    );
    const result = state.commitBlock(encodeBlock(header, sealOptimistic(header, workload.producer), transactions));
    assert.equal(result.applied, 1);
    assert.deepEqual([...result.statuses], [ApplyStatus.Ok, ApplyStatus.MissingInput]);
    assert.deepEqual(state.getTransactionLocation(first.txid), { height: 1, position: 0 });
    assert.equal(state.getTransactionLocation(doubleSpend.txid), undefined);
    assert.equal(state.supply, workload.supply - 5n);
    assert.equal(state.tip.height, 1);
    await state.close();
  });

  it("refuses another genesis, a gap below the tip and a torn flushed set with coded errors", async () => {
    const dir = freshDir();
    const state = openState(dir, 2);
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    for (let i = 0; i < 5; i++) state.commitBlock(builder.nextBlock(2).bytes);
    assert.equal(state.flushedHeight, 4);
    await state.close();

    const other = makeWorkload("another genesis", 4);
    assert.equal(await codeOfAsync(() => openState(dir, 4, other.genesis)), "STORE_IDENTITY_MISMATCH");

    const gapDir = freshDir();
    backend.crashRun(gapDir, "gap", 100, 2, 5);
    await backend.rawTable(gapDir, "blocks", (blocks) => blocks.remove(heightKey(2)));
    const gapGenesis = makeWorkload("gap", WORKLOAD_ACCOUNTS).genesis;
    assert.equal(await codeOfAsync(() => openState(gapDir, 100, gapGenesis)), "STORE_HEIGHT_GAP");

    await backend.rawTable(dir, "meta", (meta) => {
      const marker = Buffer.from(meta.get(META_FLUSHED)!);
      marker.writeBigUInt64LE(marker.readBigUInt64LE(16) + 1n, 16);
      meta.put(META_FLUSHED, marker);
    });
    assert.equal(await codeOfAsync(() => openState(dir)), "STORE_CORRUPT");
  });

  it("keeps the flushed set as a log: flushes append, compactions rewrite the base, a reopen composes both; a log naming an absent outpoint is STORE_CORRUPT", async () => {
    // A flush per block: the base (genesis first) is rewritten once the log would reach its size.
    const dir = freshDir();
    const state = openState(dir, 1);
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    for (let i = 0; i < 30; i++) state.commitBlock(builder.nextBlock(12).bytes);
    const digest = utxoSetDigest(state.utxoSnapshot());
    await state.close();
    const store = backend.open(dir);
    const { baseHeight, height } = store.flushed;
    const spentAfterBase = [...store.utxoLog()].find(({ part, height: at }) => part === UtxoLogPart.spent && at > baseHeight);
    await store.close();
    assert.ok(baseHeight > 0 && height > baseHeight && spentAfterBase !== undefined, `flushes logged after the base at ${baseHeight}, up to ${height}`);
    const reopened = openState(dir, 1);
    assert.equal(utxoSetDigest(reopened.utxoSnapshot()), digest, "base and log compose to the set the state held");
    await reopened.close();

    const key = utxoLogKey(spentAfterBase!.height, UtxoLogPart.spent, 0);
    await backend.rawTable(dir, "utxo", (table) => {
      const chunk = Buffer.from(table.get(key)!);
      chunk[0]! ^= 0xff;
      table.put(key, chunk);
    });
    assert.equal(await codeOfAsync(() => openState(dir, 1)), "STORE_CORRUPT", "a spend of an outpoint the set does not hold");
  });
});
}

/** A disk that survives crashes, and how to open the workload's shard state on it. */
function onMemoryDisk(name: string, flushIntervalBlocks: number) {
  const disk = new MemoryDisk(name);
  return { disk, open: () => ShardState.open({ store: MemoryChainStore.open(disk), genesis: workload.genesis, shard: 0, flushIntervalBlocks }) };
}

describe("ShardState assembly abort", () => {
  it("an aborted assembly leaves the state as before: a later commit and a restart see nothing of it", async () => {
    const { disk, open } = onMemoryDisk("aborted assembly", 2);
    const state = open();
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    for (let i = 0; i < 3; i++) state.commitBlock(builder.nextBlock(5).bytes);
    const before = { tip: state.tip, supply: state.supply, count: state.utxoCount, digest: utxoSetDigest(state.utxoSnapshot()) };
    // A speculative block (another value than the one decided): applied, then aborted.
    const speculative = builder.nextBlock(7);
    const records = validateStateless(decodeBlockEnvelope(speculative.bytes).body, 0, 1);
    const assembly = state.assemble({ undoable: true });
    assembly.apply(records.records, records.recordCount);
    assert.notEqual(state.supply, before.supply);
    assembly.abort();
    assert.deepEqual({ tip: state.tip, supply: state.supply, count: state.utxoCount, digest: utxoSetDigest(state.utxoSnapshot()) }, before);
    assert.throws(() => assembly.commit(() => { throw new Error("not reached"); }), /not reused/);
    // The decided block commits as if nothing had happened, and flushes (every 2nd block) the right delta.
    state.commitBlock(speculative.bytes);
    const committed = { tip: state.tip, supply: state.supply, digest: utxoSetDigest(state.utxoSnapshot()) };
    const twice = state.assemble({ undoable: true });
    twice.apply(records.records, records.recordCount);
    twice.apply(records.records, records.recordCount);
    assert.equal(codeOf(() => twice.abort()), "STATE_NOT_UNDOABLE", "one apply per abortable assembly");
    disk.crash();
    const restarted = open();
    assert.deepEqual(restarted.tip, committed.tip);
    assert.equal(restarted.supply, committed.supply);
    assert.equal(utxoSetDigest(restarted.utxoSnapshot()), committed.digest);
    await restarted.close();
  });
});

describe("ShardState on a crashed MemoryDisk", () => {
  it("a restart on the same disk sees the committed blocks only: staged records and the unflushed delta are gone", async () => {
    const { disk, open } = onMemoryDisk("staged crash", 4);
    const state = open();
    const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
    for (let i = 0; i < 6; i++) state.commitBlock(builder.nextBlock(5).bytes);
    const committed = { tip: state.tip, supply: state.supply, digest: utxoSetDigest(state.utxoSnapshot()) };
    const next = builder.nextBlock(5);
    const records = validateStateless(decodeBlockEnvelope(next.bytes).body, 0, 1);
    state.assemble().apply(records.records, records.recordCount);
    assert.notEqual(state.supply, committed.supply);
    disk.crash();
    assert.equal(await codeOfAsync(() => state.tip), "STORE_CLOSED");

    const restarted = open();
    assert.deepEqual(restarted.tip, committed.tip);
    assert.equal(restarted.flushedHeight, 4, "blocks 5 and 6 replayed from the store");
    assert.equal(restarted.supply, committed.supply);
    assert.equal(utxoSetDigest(restarted.utxoSnapshot()), committed.digest);
    restarted.commitBlock(next.bytes);
    assert.equal(restarted.tip.height, 7);
    await restarted.close();
  });
});
