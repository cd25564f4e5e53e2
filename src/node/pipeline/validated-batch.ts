/**
 * The two buffers of the pool's `validateTransactions` task (src/node/pool/worker.ts), so the main
 * thread never decodes a transaction: it frames submitted bytes and reads back verdicts, txids and
 * apply records.
 *
 * Request:  u32le shard ‖ u32le shardCount ‖ u32le |committees| ‖ committees (the trusted epochs', for the
 *           proofs of Atomix unlocks, src/atomix/proof.ts `encodeEpochCommittees`; empty: Atomix is
 *           refused) ‖ framed transactions (u32le length ‖ encoding, repeated).
 * Response: u32le count ‖ u32le recordBytes ‖ u32le rejectionBytes ‖ u32le reserved
 *           ‖ txids (count × 32; zeros where undecodable) ‖ verdicts (count × u8: 1 valid, 0 rejected)
 *           ‖ records (apply records of the valid transactions, batch order; src/ledger/records.ts walks them)
 *           ‖ rejections (UTF-8 JSON [[index, code, message], ...]; rare, so text is cheap enough).
 */
import { check } from "../../errors.js";
import { BinaryWriter, readU32 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { TXID_BYTES } from "../../codec/sizes.js";

const REQUEST_HEADER = layout({ shard: 4, shardCount: 4, committeesLength: 4 });
const RESPONSE_HEADER = layout({ count: 4, recordBytes: 4, rejectionBytes: 4, reserved: 4 });
export const REQUEST_HEADER_BYTES = REQUEST_HEADER.bytes;
export const RESPONSE_HEADER_BYTES = RESPONSE_HEADER.bytes;

export interface BatchRejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

export interface ValidatedBatch {
  readonly count: number;
  /** count × 32 bytes. */
  readonly txids: Uint8Array;
  /** count bytes, 1 = passed stateless validation and every signature verified. */
  readonly verdicts: Uint8Array;
  /** Apply records of the valid transactions, in batch order. */
  readonly records: Uint8Array;
  readonly rejections: readonly BatchRejection[];
}

const NO_COMMITTEES = new Uint8Array(0);

/** Builds a request from already framed transactions (copied into a fresh transferable buffer). */
export function encodeValidationRequest(framed: Uint8Array, shard: number, shardCount: number, committees: Uint8Array = NO_COMMITTEES): Uint8Array<ArrayBuffer> {
  return BinaryWriter.ofSize(REQUEST_HEADER.bytes + committees.length + framed.length).u32(shard).u32(shardCount).u32(committees.length).bytes(committees).bytes(framed).finish();
}

export function decodeValidationRequest(bytes: Uint8Array): { shard: number; shardCount: number; committees: Uint8Array; framed: Uint8Array } {
  check(bytes.length >= REQUEST_HEADER.bytes, "PIPELINE_BAD_TASK", `a validation request needs ${REQUEST_HEADER.bytes} header bytes, got ${bytes.length}`);
  const end = REQUEST_HEADER.bytes + readU32(bytes, REQUEST_HEADER.offset.committeesLength);
  check(bytes.length >= end, "PIPELINE_BAD_TASK", "a validation request is shorter than its committees");
  return {
    shard: readU32(bytes, REQUEST_HEADER.offset.shard), shardCount: readU32(bytes, REQUEST_HEADER.offset.shardCount),
    committees: bytes.subarray(REQUEST_HEADER.bytes, end), framed: bytes.subarray(end),
  };
}

export function encodeValidatedBatch(batch: ValidatedBatch): Uint8Array<ArrayBuffer> {
  const rejectionText = new TextEncoder().encode(JSON.stringify(batch.rejections.map((r) => [r.index, r.code, r.message])));
  const { count } = batch;
  return BinaryWriter.ofSize(RESPONSE_HEADER.bytes + count * (TXID_BYTES + 1) + batch.records.length + rejectionText.length)
    .u32(count)
    .u32(batch.records.length)
    .u32(rejectionText.length)
    .u32(0)
    .bytes(batch.txids)
    .bytes(batch.verdicts)
    .bytes(batch.records)
    .bytes(rejectionText)
    .finish();
}

/** Reads the header at its named offsets and cuts the sections as views: no reader per batch on the main thread. */
export function decodeValidatedBatch(bytes: Uint8Array): ValidatedBatch {
  check(bytes.length >= RESPONSE_HEADER.bytes, "PIPELINE_BAD_TASK", "validation response shorter than its header");
  const count = readU32(bytes, RESPONSE_HEADER.offset.count);
  const recordBytes = readU32(bytes, RESPONSE_HEADER.offset.recordBytes);
  const rejectionBytes = readU32(bytes, RESPONSE_HEADER.offset.rejectionBytes);
  const expected = RESPONSE_HEADER.bytes + count * (TXID_BYTES + 1) + recordBytes + rejectionBytes;
  // The message is built only on failure: this runs for every batch on the main thread.
  if (bytes.length !== expected) check(false, "PIPELINE_BAD_TASK", `validation response is ${bytes.length} bytes, its header says ${expected}`);
  const txidsAt = RESPONSE_HEADER.bytes;
  const verdictsAt = txidsAt + count * TXID_BYTES;
  const recordsAt = verdictsAt + count;
  const rejectionsAt = recordsAt + recordBytes;
  const txids = bytes.subarray(txidsAt, verdictsAt);
  const verdicts = bytes.subarray(verdictsAt, recordsAt);
  const records = bytes.subarray(recordsAt, rejectionsAt);
  const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(rejectionsAt)));
  check(Array.isArray(parsed), "PIPELINE_BAD_TASK", "validation response rejections are not a list");
  const rejections = (parsed as [number, string, string][]).map(([index, code, message]) => ({ index, code, message }));
  return { count, txids, verdicts, records, rejections };
}
