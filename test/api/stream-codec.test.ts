import assert from "node:assert/strict";
import { HEADER_BYTES } from "../../src/ledger/block.js";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import { packTransactions } from "../../src/ledger/stateless.js";
import {
  FRAME_OPTIMISTIC,
  MAX_STREAM_TXS,
  SubmitOutcome,
  decodeAck,
  decodeError,
  decodeEvents,
  decodeOptimistic,
  decodeSubmission,
  encodeAck,
  encodeError,
  encodeEvents,
  encodeOptimistic,
  encodeSubmission,
  type OptimisticBatch,
} from "../../src/api/stream-codec.js";

function code(error: unknown): string {
  assert.ok(error instanceof IosError);
  return error.code;
}

describe("stream codec", () => {
  it("a submission frame is a count followed by the block-body framing", () => {
    const txs = Array.from({ length: 5 }, (_, i) => new Uint8Array(randomBytes(10 + i * 7)));
    const frame = encodeSubmission(txs);
    assert.deepEqual(frame.subarray(4), packTransactions(txs));
    assert.equal(new DataView(frame.buffer).getUint32(0, true), 5);
    assert.deepEqual(decodeSubmission(frame).map((t) => Buffer.from(t)), txs.map((t) => Buffer.from(t)));
  });

  it("refuses malformed submission frames with precise codes", () => {
    const good = encodeSubmission([new Uint8Array(8), new Uint8Array(3)]);
    assert.throws(() => decodeSubmission(new Uint8Array(3)), (e) => code(e) === "STREAM_BAD_FRAME");
    assert.throws(() => decodeSubmission(new Uint8Array(4)), /at least one transaction/);
    assert.throws(() => decodeSubmission(good.subarray(0, good.length - 1)), /declares 3 bytes/);
    assert.throws(() => decodeSubmission(Uint8Array.from([...good, 0])), /follow the last/);
    const tooMany = new Uint8Array(4);
    new DataView(tooMany.buffer).setUint32(0, MAX_STREAM_TXS + 1, true);
    assert.throws(() => decodeSubmission(tooMany), (e) => code(e) === "STREAM_TOO_MANY_TXS");
    assert.throws(() => encodeSubmission(new Array<Uint8Array>(MAX_STREAM_TXS + 1).fill(new Uint8Array(1))), (e) => code(e) === "STREAM_TOO_MANY_TXS");
  });

  it("acks round-trip with outcomes, txids and codes", () => {
    const acks = [
      { outcome: "accepted", txid: new Uint8Array(randomBytes(32)), code: "" },
      { outcome: "duplicate", txid: new Uint8Array(randomBytes(32)), code: "DUPLICATE" },
      { outcome: "rejected", txid: new Uint8Array(32), code: "TX_TRUNCATED" },
    ] as const;
    const decoded = decodeAck(encodeAck(77, acks));
    assert.equal(decoded.sequence, 77);
    const codes = [SubmitOutcome.Accepted, SubmitOutcome.Duplicate, SubmitOutcome.Rejected];
    assert.deepEqual(decoded.acks, acks.map((ack, i) => ({ ...ack, outcome: codes[i] })), "a decoded ack carries the numeric outcome of its name");
    const frame = encodeAck(1, acks);
    assert.throws(() => decodeAck(frame.subarray(0, frame.length - 2)), /cut short/);
    assert.throws(() => decodeAck(Uint8Array.from([...frame, 9])), /trailing/);
  });

  it("event batches round-trip", () => {
    const final = new Uint8Array(randomBytes(32 * 3));
    const rejected = [{ txid: new Uint8Array(randomBytes(32)), code: "MISSING_INPUT" }];
    const decoded = decodeEvents(encodeEvents({ height: 2 ** 40 + 5, final, rejected }));
    assert.equal(decoded.height, 2 ** 40 + 5);
    assert.deepEqual(decoded.final, final);
    assert.deepEqual(decoded.rejected, rejected);
    assert.throws(() => encodeEvents({ height: 1, final: new Uint8Array(31), rejected: [] }), /multiple of 32/);
    assert.throws(() => decodeEvents(encodeAck(0, [])), /not an EVENTS frame/);
  });

  it("optimistic batches round-trip byte for byte, from none to many txids", () => {
    for (const n of [0, 1, 2, 7, 100, 1000]) {
      const batch: OptimisticBatch = { producer: new Uint8Array(randomBytes(32)), block: new Uint8Array(randomBytes(32)), txids: new Uint8Array(randomBytes(32 * n)) };
      const frame = encodeOptimistic(batch);
      assert.equal(frame.length, 1 + 32 + 32 + 4 + 32 * n);
      assert.equal(frame[0], FRAME_OPTIMISTIC);
      assert.deepEqual(frame.subarray(1, 33), batch.producer);
      assert.deepEqual(frame.subarray(33, 65), batch.block);
      assert.equal(new DataView(frame.buffer).getUint32(65, true), n);
      assert.deepEqual(frame.subarray(69), batch.txids);
      assert.deepEqual(decodeOptimistic(frame), batch);
    }
  });

  it("refuses every truncated, extended or mistagged optimistic frame with STREAM_BAD_FRAME", () => {
    const batch = { producer: new Uint8Array(randomBytes(32)), block: new Uint8Array(randomBytes(32)), txids: new Uint8Array(randomBytes(32 * 3)) };
    const frame = encodeOptimistic(batch);
    for (let length = 0; length < frame.length; length++) {
      assert.throws(() => decodeOptimistic(frame.subarray(0, length)), (e) => code(e) === "STREAM_BAD_FRAME", `cut to ${length} bytes`);
    }
    for (const extra of [1, 31, 32, 33]) {
      const longer = Uint8Array.from([...frame, ...randomBytes(extra)]);
      assert.throws(() => decodeOptimistic(longer), (e) => code(e) === "STREAM_BAD_FRAME", `${extra} extra byte(s)`);
    }
    for (let tag = 0; tag < 256; tag++) {
      if (tag === FRAME_OPTIMISTIC) continue;
      const retagged = frame.slice();
      retagged[0] = tag;
      assert.throws(() => decodeOptimistic(retagged), (e) => code(e) === "STREAM_BAD_FRAME", `tag ${tag}`);
    }
    // A count that disagrees with the txids that follow, either way.
    for (const count of [0, 2, 4, 0xffffffff]) {
      const recounted = frame.slice();
      new DataView(recounted.buffer).setUint32(65, count, true);
      assert.throws(() => decodeOptimistic(recounted), (e) => code(e) === "STREAM_BAD_FRAME", `count ${count}`);
    }
    assert.throws(() => decodeOptimistic(encodeEvents({ height: 1, final: batch.txids, rejected: [] })), /not an OPTIMISTIC frame/);
  });

  it("optimistic batches with their signed block round-trip, and a cut or padded signed part is refused", () => {
    const txids = new Uint8Array(randomBytes(32 * 5));
    const batch: OptimisticBatch = {
      producer: new Uint8Array(randomBytes(32)), block: new Uint8Array(randomBytes(32)), txids: txids.slice(32, 96),
      signed: { header: new Uint8Array(randomBytes(HEADER_BYTES)), seal: new Uint8Array(randomBytes(64)), txids },
    };
    const frame = encodeOptimistic(batch);
    assert.equal(frame.length, 1 + 32 + 32 + 4 + 64 + HEADER_BYTES + 64 + 4 + 32 * 5);
    assert.deepEqual(decodeOptimistic(frame), batch);
    const plain = encodeOptimistic({ ...batch, signed: undefined });
    for (let length = plain.length + 1; length < frame.length; length++) {
      assert.throws(() => decodeOptimistic(frame.subarray(0, length)), (e) => code(e) === "STREAM_BAD_FRAME", `cut to ${length} bytes`);
    }
    assert.throws(() => decodeOptimistic(Uint8Array.from([...frame, 0])), (e) => code(e) === "STREAM_BAD_FRAME", "a byte past the signed part");
    assert.throws(() => encodeOptimistic({ ...batch, signed: { ...batch.signed!, seal: new Uint8Array(63) } }), (e) => code(e) === "STREAM_BAD_FRAME");
  });

  it("encodes only 32-byte producers and block hashes and whole txids", () => {
    const good = { producer: new Uint8Array(32), block: new Uint8Array(32), txids: new Uint8Array(64) };
    assert.throws(() => encodeOptimistic({ ...good, producer: new Uint8Array(31) }), (e) => code(e) === "STREAM_BAD_FRAME");
    assert.throws(() => encodeOptimistic({ ...good, block: new Uint8Array(33) }), (e) => code(e) === "STREAM_BAD_FRAME");
    assert.throws(() => encodeOptimistic({ ...good, txids: new Uint8Array(65) }), /multiple of 32/);
  });

  it("error frames carry a code and a message", () => {
    assert.deepEqual(decodeError(encodeError("STREAM_BUSY", "wait")), { code: "STREAM_BUSY", message: "wait" });
  });
});
