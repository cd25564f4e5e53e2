import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import { packTransactions } from "../../src/ledger/stateless.js";
import {
  MAX_STREAM_TXS,
  SubmitOutcome,
  decodeAck,
  decodeError,
  decodeEvents,
  decodeSubmission,
  encodeAck,
  encodeError,
  encodeEvents,
  encodeSubmission,
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
      { outcome: SubmitOutcome.Accepted, txid: new Uint8Array(randomBytes(32)), code: "" },
      { outcome: SubmitOutcome.Duplicate, txid: new Uint8Array(randomBytes(32)), code: "DUPLICATE" },
      { outcome: SubmitOutcome.Rejected, txid: new Uint8Array(32), code: "TX_TRUNCATED" },
    ];
    const decoded = decodeAck(encodeAck(77, acks));
    assert.equal(decoded.sequence, 77);
    assert.deepEqual(decoded.acks, acks);
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

  it("error frames carry a code and a message", () => {
    assert.deepEqual(decodeError(encodeError("STREAM_BUSY", "wait")), { code: "STREAM_BUSY", message: "wait" });
  });
});
