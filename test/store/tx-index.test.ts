/**
 * The tx index in runs (schema.ts version 13, src/store/tx-run-map.ts): entries keyed by the
 * height whose transaction wrote them, then the txid; lookups sent to the run by an in-memory map
 * of 8-byte txid prefixes, rebuilt at open. The map against a reference on random txids, txids
 * sharing a prefix, and the store on both backends: blocks stored with their index and flushes
 * of deferred entries, across a reopen, with the records' keys read raw.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TxRunMap, MAX_RUN_HEIGHT } from "../../src/store/tx-run-map.js";
import { heightKey, txIndexKey } from "../../src/store/schema.js";
import { TestRng } from "../ledger/helpers.js";
import { codeOfAsync } from "../support/errors.js";
import { BACKENDS } from "./backends.js";

const rng = new TestRng(0x71d3);

/** `count` txids sharing their first 8 bytes with `like`. */
function sharingPrefix(like: Uint8Array, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => {
    const txid = rng.bytes(32);
    txid.set(like.subarray(0, 8));
    return txid;
  });
}

describe("TxRunMap", () => {
  it("answers the run of every txid added, through its growth, as a reference map does, and none for a txid never added", () => {
    const map = new TxRunMap();
    const reference = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const txid = rng.bytes(32);
      const run = rng.nextU32() % 5_000;
      map.add(txid, run);
      reference.set(Buffer.from(txid).toString("hex"), run);
    }
    assert.equal(map.size, reference.size);
    for (const [hex, run] of reference) assert.deepEqual(map.runsOf(Buffer.from(hex, "hex")), [run]);
    for (let i = 0; i < 1_000; i++) assert.deepEqual(map.runsOf(rng.bytes(32)), []);
  });

  it("keeps a run for each of several txids sharing a prefix, and forgets everything when cleared", () => {
    const map = new TxRunMap();
    const [first, ...others] = sharingPrefix(rng.bytes(32), 5);
    map.add(first!, 7);
    others.forEach((txid, i) => map.add(txid, 100 + i));
    assert.deepEqual(map.runsOf(first!).sort((a, b) => a - b), [7, 100, 101, 102, 103]);
    map.clear();
    assert.equal(map.size, 0);
    assert.deepEqual(map.runsOf(first!), []);
  });

  it("refuses a run height it cannot hold", async () => {
    const map = new TxRunMap();
    assert.equal(await codeOfAsync(() => map.add(rng.bytes(32), MAX_RUN_HEIGHT + 1)), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => map.add(rng.bytes(32), -1)), "STORE_BAD_INPUT");
    map.add(rng.bytes(32), MAX_RUN_HEIGHT);
    assert.equal(map.size, 1);
  });
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();

  describe(`tx index in runs (${backend.name})`, () => {
    it("finds entries of blocks stored with their index and of flushes, txids sharing a prefix each at its own location, after a reopen too", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize({ shard: 0, genesisId: rng.bytes(32) }, new Uint8Array(0));
      // Height 1: a block stored with its own index (run 1).
      const own = rng.bytes(32 * 3);
      store.appendBlock({ height: 1, hash: rng.bytes(32), bytes: rng.bytes(80), txids: own, positions: [0, 1, 2] });
      // Heights 2 and 3 without their index; height 3's flush writes both heights' entries (run 3),
      // two of them sharing a prefix with one of height 1's txids.
      const deferred = [...sharingPrefix(own.subarray(0, 32), 2), rng.bytes(32), rng.bytes(32)];
      store.appendBlock({ height: 2, hash: rng.bytes(32), bytes: rng.bytes(80), txids: new Uint8Array(0), positions: [] });
      const { count, supply } = store.flushed;
      store.appendBlock({ height: 3, hash: rng.bytes(32), bytes: rng.bytes(80), txids: new Uint8Array(0), positions: [] }, {
        spent: new Uint8Array(0), created: new Uint8Array(0), count, supply,
        txIndex: { txids: Buffer.concat(deferred), heights: Uint32Array.from([2, 2, 3, 3]), positions: Uint32Array.from([0, 1, 0, 1]) },
      });
      const expected = [
        ...[0, 1, 2].map((i) => ({ txid: own.subarray(i * 32, i * 32 + 32), location: { height: 1, position: i } })),
        ...deferred.map((txid, i) => ({ txid, location: { height: i < 2 ? 2 : 3, position: i % 2 } })),
      ];
      const absent = sharingPrefix(own.subarray(0, 32), 1)[0]!;
      const check = (reading: typeof store, when: string) => {
        for (const { txid, location } of expected) assert.deepEqual(reading.getTxLocation(txid), location, `${when}: ${Buffer.from(txid).toString("hex").slice(0, 16)}`);
        assert.equal(reading.getTxLocation(absent), undefined, `${when}: a txid sharing a prefix but never indexed`);
      };
      check(store, "as written");
      await store.close();
      const reopened = backend.open(medium);
      check(reopened, "reopened");
      await reopened.close();
      await backend.rawTable(medium, "txIndex", (table) => {
        assert.notEqual(table.get(txIndexKey(1, own.subarray(0, 32))), undefined, "a block's own entry lies in its height's run");
        assert.notEqual(table.get(txIndexKey(3, deferred[0]!)), undefined, "a flushed entry lies in the flush's run");
        assert.equal(table.get(Buffer.from(deferred[0]!)), undefined, "no entry is keyed by its txid alone");
        assert.equal(txIndexKey(3, deferred[0]!).subarray(0, 8).compare(heightKey(3)), 0, "the run leads the key, as a height key");
      });
    });

    it("refuses to open a store whose tx index holds a key of another shape (STORE_CORRUPT)", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize({ shard: 0, genesisId: rng.bytes(32) }, new Uint8Array(0));
      store.appendBlock({ height: 1, hash: rng.bytes(32), bytes: rng.bytes(80), txids: rng.bytes(32), positions: [0] });
      await store.close();
      await backend.rawTable(medium, "txIndex", (table) => table.put(Buffer.from(rng.bytes(32)), Buffer.alloc(12)));
      assert.equal(await codeOfAsync(() => backend.open(medium)), "STORE_CORRUPT");
    });
  });
}
