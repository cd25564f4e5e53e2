/** The bounded mempool's accounting: reservations cover admitted transactions until settled; order is kept. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";
import { Mempool, type MempoolEntry } from "../../src/node/mempool.js";

function entry(n: number, size: number): MempoolEntry {
  const txid = new Uint8Array(32).fill(n);
  return { key: Buffer.from(txid).toString("hex"), txid, tx: new Uint8Array(size).fill(n), record: new Uint8Array(36) };
}

describe("mempool", () => {
  it("refuses reservations past the count or byte cap and admits again after release", () => {
    const mempool = new Mempool({ maxTxs: 3, maxBytes: 250 });
    assert.equal(mempool.tryReserve(100), true);
    assert.equal(mempool.tryReserve(100), true);
    assert.equal(mempool.tryReserve(100), false, "bytes: 300 > 250");
    assert.equal(mempool.tryReserve(50), true);
    assert.equal(mempool.tryReserve(1), false, "count: 4 > 3");
    assert.equal(mempool.reservedTxs, 3);
    assert.equal(mempool.reservedBytes, 250);
    mempool.release(100);
    assert.equal(mempool.tryReserve(100), true);
    assert.throws(() => new Mempool({ maxTxs: 1, maxBytes: 1 }).release(5), (error: unknown) => error instanceof IosError && error.code === "MEMPOOL_ACCOUNTING");
  });

  it("keeps insertion order, rejects a second copy of a txid, and takes within count and body limits", () => {
    const mempool = new Mempool({ maxTxs: 100, maxBytes: 100_000 });
    for (const n of [5, 1, 9, 3]) assert.equal(mempool.add(entry(n, 100)), true);
    assert.equal(mempool.add(entry(1, 100)), false);
    assert.equal(mempool.size, 4);
    assert.deepEqual(mempool.take(2, 10_000).map((e) => e.tx[0]), [5, 1]);
    assert.deepEqual(mempool.take(10, 208).map((e) => e.tx[0]), [9, 3], "two framed entries of 104 bytes fit 208");
    assert.equal(mempool.size, 0);
    mempool.add(entry(7, 100));
    assert.deepEqual(mempool.take(10, 103), [], "one framed entry needs 104 bytes");
    assert.equal(mempool.has(entry(7, 1).key), true);
    assert.deepEqual(mempool.peek(5, 10_000).map((e) => e.tx[0]), [7], "peek leaves entries in place");
    assert.equal(mempool.size, 1);
    assert.equal(mempool.remove(entry(8, 1).key), undefined);
    mempool.restore([entry(2, 100), entry(4, 100)]);
    assert.deepEqual(mempool.take(10, 10_000).map((e) => e.tx[0]), [2, 4, 7], "restored entries go back in front");
  });

  it("checks its limits", () => {
    for (const limits of [{ maxTxs: 0, maxBytes: 1 }, { maxTxs: 1, maxBytes: 0.5 }]) {
      assert.throws(() => new Mempool(limits), (error: unknown) => error instanceof IosError && error.code === "PIPELINE_OPTIONS");
    }
  });
});
