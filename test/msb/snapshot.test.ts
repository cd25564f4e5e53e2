/**
 * MSB body tests (src/msb/snapshot.ts): the snapshot's order, root, count and supply against an
 * independent reference (plain sort + @noble/hashes RFC 6962) over random sets of 0, 1, powers of
 * two and non-powers of two; input order and the two sources (table order, store key order) give
 * one body; duplicates and unordered store input are refused with codes; and the snapshot of a
 * real ShardState on LMDB after some blocks is exactly the set it holds. Set IOS_TEST_SEED to replay.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENTRY_BYTES, unpackEntry } from "../../src/ledger/utxo-table.js";
import { BOND_INDEX_FLAG } from "../../src/ledger/bond.js";
import { ShardState } from "../../src/node/shard-state.js";
import { LmdbChainStore } from "../../src/store/chain-store.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { flushedEntries } from "../support/utxo-log.js";
import { findOutpoint, msbTree, snapshotOfEntries, snapshotOfOrderedEntries, sortByOutpoint } from "../../src/msb/snapshot.js";
import { genesisSupply, makeTestGenesis } from "../../src/ledger/genesis.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { ChainBuilder, FEE, GENESIS_AMOUNT, type Workload } from "../store/workload.js";
import { codeOf } from "../support/errors.js";
import { readVectorFile, testSeed } from "../support/vectors.js";
import { concat, entriesOf, randomEntries, referenceRoot, referenceSort, shuffled } from "./fixtures.js";

const seed = testSeed("msb snapshot");
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 64 };
const SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 255, 1000, 4097];

describe("MSB snapshot", () => {
  it("orders by outpoint and commits to the RFC 6962 root of a plain sort (differential, random sets)", () => {
    const rng = SeededRng.fromSeed(`${seed}/differential`);
    for (const size of SIZES) {
      const packed = randomEntries(rng, size);
      const sorted = referenceSort(packed);
      const snapshot = snapshotOfEntries(packed);
      assert.equal(snapshot.count, size);
      assert.deepEqual(snapshot.entries, concat(sorted), `order, ${size} outputs`);
      assert.equal(hex(snapshot.root), hex(referenceRoot(sorted)), `root, ${size} outputs`);
      assert.equal(snapshot.supply, entriesOf(packed).reduce((sum, e) => sum + unpackEntry(e).amount, 0n));
    }
  });

  it("roots the empty set at the RFC 6962 empty-tree vector", () => {
    const vectors = readVectorFile<{ roots: { size: number; root: string }[] }>("merkle-rfc6962.json");
    const empty = snapshotOfEntries(new Uint8Array(0));
    assert.equal(hex(empty.root), vectors.roots.find((r) => r.size === 0)!.root);
    assert.equal(empty.supply, 0n);
  });

  it("gives one body whatever the input order, and the same from ordered chunks (a store's key order)", () => {
    const rng = SeededRng.fromSeed(`${seed}/order`);
    const packed = randomEntries(rng, 777);
    const reference = snapshotOfEntries(packed);
    const reordered = snapshotOfEntries(concat(shuffled(rng, entriesOf(packed))));
    assert.deepEqual(reordered, reference);
    const sorted = referenceSort(packed);
    const chunks = [concat(sorted.slice(0, 100)), new Uint8Array(0), concat(sorted.slice(100, 101)), concat(sorted.slice(101))];
    assert.deepEqual(snapshotOfOrderedEntries(chunks), reference);
  });

  it("refuses a repeated outpoint, unordered store input and bad lengths, with codes", () => {
    const rng = SeededRng.fromSeed(`${seed}/refusals`);
    const entries = referenceSort(randomEntries(rng, 50));
    const repeated = concat([...entries, entries[17]!]);
    assert.equal(codeOf(() => sortByOutpoint(repeated)), "MSB_DUPLICATE_OUTPOINT");
    // Same outpoint, other owner and amount: still the same output twice.
    const clash = entries[3]!.slice();
    clash[40] ^= 1;
    clash[75] ^= 1;
    assert.equal(codeOf(() => snapshotOfEntries(concat([...entries, clash]))), "MSB_DUPLICATE_OUTPOINT");
    assert.equal(codeOf(() => snapshotOfOrderedEntries([concat(entries.slice(0, 4)), concat([entries[3]!])])), "MSB_DUPLICATE_OUTPOINT");
    const swapped = [...entries];
    [swapped[20], swapped[21]] = [swapped[21]!, swapped[20]!];
    assert.equal(codeOf(() => snapshotOfOrderedEntries([concat(swapped)])), "MSB_UNORDERED");
    assert.equal(codeOf(() => snapshotOfEntries(new Uint8Array(ENTRY_BYTES + 1))), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => snapshotOfOrderedEntries([new Uint8Array(ENTRY_BYTES - 1)])), "MSB_BAD_INPUT");
  });

  it("finds every output by outpoint and nothing else", () => {
    const rng = SeededRng.fromSeed(`${seed}/find`);
    const snapshot = snapshotOfEntries(randomEntries(rng, 300));
    const present = new Set(entriesOf(snapshot.entries).map((entry) => hex(entry.subarray(0, 36))));
    entriesOf(snapshot.entries).forEach((entry, position) => {
      const { txid, index } = unpackEntry(entry);
      assert.equal(findOutpoint(snapshot, txid, index), position);
      // A neighbouring index of the same transaction: found exactly when it is in the set.
      const other = (index ^ 1) >>> 0;
      const key = Buffer.from(entry.subarray(0, 36));
      key.writeUInt32LE(other, 32);
      assert.equal(findOutpoint(snapshot, txid, other) !== undefined, present.has(hex(key)));
    });
    assert.equal(findOutpoint(snapshot, rng.bytes(32), 0), undefined);
    assert.equal(findOutpoint(snapshotOfEntries(new Uint8Array(0)), rng.bytes(32), 0), undefined);
  });

  it("builds a tree whose root is the snapshot's", () => {
    const rng = SeededRng.fromSeed(`${seed}/tree`);
    for (const size of [1, 2, 3, 100]) {
      const snapshot = snapshotOfEntries(randomEntries(rng, size));
      const tree = msbTree(snapshot);
      assert.equal(tree.size, size);
      assert.deepEqual(tree.root, snapshot.root);
    }
  });
});

describe("MSB snapshot of a real shard state (LMDB)", () => {
  const root = mkdtempSync(join(tmpdir(), "ios-msb-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("is the set the state holds after some blocks: count, supply, every output, and the store's key order agrees", async () => {
    // A PoB genesis, so the shard's set holds its validators' bonds as well as transfer outputs.
    const made = makeTestGenesis({ seed: "msb snapshot state", shardCount: 1, accounts: 24, amount: GENESIS_AMOUNT, validators: 4, pob: POLICY });
    const workload: Workload = { genesis: made.genesis, accounts: made.accounts, producer: made.validators[0]!, supply: genesisSupply(made.genesis) };
    const directory = join(root, "state");
    const state = ShardState.open({ directory, genesis: workload.genesis, shard: 0, flushIntervalBlocks: 3 });
    const genesisSupplyWithBonds = state.supply;
    const spendable = concat(entriesOf(state.utxoSnapshot()).filter((e) => (unpackEntry(e).index & BOND_INDEX_FLAG) === 0));
    const builder = ChainBuilder.atGenesis(workload, spendable);
    for (let i = 0; i < 7; i++) state.commitBlock(builder.nextBlock(10).bytes);
    const snapshot = snapshotOfEntries(state.utxoSnapshot());
    assert.equal(snapshot.count, state.utxoCount);
    assert.equal(snapshot.supply, state.supply);
    assert.equal(snapshot.supply, genesisSupplyWithBonds - 70n * FEE);
    for (const entry of entriesOf(snapshot.entries)) {
      const { txid, index, owner, amount } = unpackEntry(entry);
      assert.deepEqual(state.getUtxo(txid, index), { owner, amount });
    }
    assert.equal(entriesOf(snapshot.entries).filter((e) => (unpackEntry(e).index & BOND_INDEX_FLAG) !== 0).length, 4, "the genesis bonds are leaves");
    assert.equal(hex(snapshot.root), hex(referenceRoot(referenceSort(state.utxoSnapshot()))));
    await state.close();

    // close flushed the set: its log, composed and in outpoint order, is the snapshot's body.
    const store = LmdbChainStore.open(directory);
    try {
      assert.equal(store.flushed.height, 7);
      assert.deepEqual(snapshotOfOrderedEntries([flushedEntries(store)]), snapshot);
    } finally {
      await store.close();
    }
  });
});
