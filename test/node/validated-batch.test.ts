/**
 * The worker's request and answer (src/node/pipeline/validated-batch.ts): byte layout, round
 * trips, and PIPELINE_BAD_TASK for every cut or padded buffer.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  REQUEST_HEADER_BYTES,
  RESPONSE_HEADER_BYTES,
  decodeValidatedBatch,
  decodeValidationRequest,
  encodeValidatedBatch,
  encodeValidationRequest,
  type ValidatedBatch,
} from "../../src/node/pipeline/validated-batch.js";
import { TXID_BYTES } from "../../src/codec/sizes.js";
import { codeOf } from "../support/errors.js";

const batch: ValidatedBatch = {
  count: 3,
  txids: randomBytes(3 * TXID_BYTES),
  verdicts: Uint8Array.of(1, 0, 1),
  records: randomBytes(50),
  rejections: [{ index: 1, code: "TX_BAD_SIGNATURE", message: "signature 0 does not verify" }],
};

describe("validation request", () => {
  it("is u32le shard ‖ u32le shardCount ‖ u32le |committees| ‖ committees ‖ the framed transactions, and decodes back", () => {
    const framed = randomBytes(40);
    const request = encodeValidationRequest(framed, 0x01020304, 7);
    assert.equal(request.length, REQUEST_HEADER_BYTES + framed.length);
    assert.deepEqual([...request.subarray(0, REQUEST_HEADER_BYTES)], [4, 3, 2, 1, 7, 0, 0, 0, 0, 0, 0, 0]);
    const decoded = decodeValidationRequest(request);
    assert.deepEqual({ ...decoded, committees: Buffer.from(decoded.committees), framed: Buffer.from(decoded.framed) }, { shard: 0x01020304, shardCount: 7, committees: Buffer.alloc(0), framed });
    for (let cut = 0; cut < REQUEST_HEADER_BYTES; cut++) assert.equal(codeOf(() => decodeValidationRequest(request.subarray(0, cut))), "PIPELINE_BAD_TASK");
    const committees = randomBytes(9);
    const withCommittees = encodeValidationRequest(framed, 1, 2, committees);
    assert.deepEqual([...withCommittees.subarray(8, 12)], [9, 0, 0, 0]);
    const both = decodeValidationRequest(withCommittees);
    assert.deepEqual([Buffer.from(both.committees), Buffer.from(both.framed)], [committees, framed]);
    assert.equal(codeOf(() => decodeValidationRequest(withCommittees.subarray(0, REQUEST_HEADER_BYTES + 8))), "PIPELINE_BAD_TASK", "shorter than its committees");
  });
});

describe("validated batch", () => {
  it("round-trips with its header declaring every section's size", () => {
    const bytes = encodeValidatedBatch(batch);
    const rejectionBytes = bytes.length - RESPONSE_HEADER_BYTES - 3 * (TXID_BYTES + 1) - 50;
    const header = new DataView(bytes.buffer, 0, RESPONSE_HEADER_BYTES);
    assert.deepEqual([0, 4, 8, 12].map((at) => header.getUint32(at, true)), [3, 50, rejectionBytes, 0]);
    const decoded = decodeValidatedBatch(bytes);
    assert.equal(decoded.count, 3);
    assert.deepEqual(Buffer.from(decoded.txids), Buffer.from(batch.txids));
    assert.deepEqual([...decoded.verdicts], [1, 0, 1]);
    assert.deepEqual(Buffer.from(decoded.records), Buffer.from(batch.records));
    assert.deepEqual(decoded.rejections, batch.rejections);
  });

  it("refuses every truncation and a trailing byte with PIPELINE_BAD_TASK", () => {
    const bytes = encodeValidatedBatch(batch);
    for (let cut = 0; cut < bytes.length; cut++) assert.equal(codeOf(() => decodeValidatedBatch(bytes.subarray(0, cut))), "PIPELINE_BAD_TASK", `cut to ${cut}`);
    assert.equal(codeOf(() => decodeValidatedBatch(Uint8Array.from([...bytes, 0]))), "PIPELINE_BAD_TASK");
  });

  it("an empty batch is header and an empty rejection list", () => {
    const empty = decodeValidatedBatch(encodeValidatedBatch({ count: 0, txids: new Uint8Array(0), verdicts: new Uint8Array(0), records: new Uint8Array(0), rejections: [] }));
    assert.deepEqual({ count: empty.count, records: empty.records.length, rejections: empty.rejections }, { count: 0, records: 0, rejections: [] });
  });
});
