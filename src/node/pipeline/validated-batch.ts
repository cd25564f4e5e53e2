/**
 * The two buffers of the pool's `validateTransactions` task (src/node/pool/worker.ts), so the main
 * thread never decodes a transaction: it frames submitted bytes and reads back verdicts, txids and
 * apply records.
 *
 * Request:  u32le shard ‖ u32le shardCount ‖ framed transactions (u32le length ‖ encoding, repeated).
 * Response: u32le count ‖ u32le recordBytes ‖ u32le rejectionBytes ‖ u32le reserved
 *           ‖ txids (count × 32; zeros where undecodable) ‖ verdicts (count × u8: 1 valid, 0 rejected)
 *           ‖ records (apply records of the valid transactions, batch order; src/ledger/records.ts walks them)
 *           ‖ rejections (UTF-8 JSON [[index, code, message], ...]; rare, so text is cheap enough).
 */
import { check } from "../../errors.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { TXID_BYTES } from "../../codec/sizes.js";

const REQUEST_HEADER = layout({ shard: 4, shardCount: 4 });
const RESPONSE_HEADER = layout({ count: 4, recordBytes: 4, rejectionBytes: 4, reserved: 4 });
export const REQUEST_HEADER_BYTES = REQUEST_HEADER.bytes;
export const RESPONSE_HEADER_BYTES = RESPONSE_HEADER.bytes;
/** A malformed request or answer is a bug between the main thread and its worker: one code. */
const TASK_CODES = singleCode("PIPELINE_BAD_TASK");

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

/** Builds a request from already framed transactions (copied into a fresh transferable buffer). */
export function encodeValidationRequest(framed: Uint8Array, shard: number, shardCount: number): Uint8Array<ArrayBuffer> {
  return BinaryWriter.ofSize(REQUEST_HEADER.bytes + framed.length).u32(shard).u32(shardCount).bytes(framed).finish();
}

export function decodeValidationRequest(bytes: Uint8Array): { shard: number; shardCount: number; framed: Uint8Array } {
  const reader = new BinaryReader(bytes, TASK_CODES);
  reader.need(REQUEST_HEADER.bytes, "a validation request's header");
  return { shard: reader.u32(), shardCount: reader.u32(), framed: reader.bytes(reader.remaining) };
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

export function decodeValidatedBatch(bytes: Uint8Array): ValidatedBatch {
  const reader = new BinaryReader(bytes, TASK_CODES);
  reader.need(RESPONSE_HEADER.bytes, "a validation response's header");
  const count = reader.u32();
  const recordBytes = reader.u32();
  const rejectionBytes = reader.u32();
  reader.skip(RESPONSE_HEADER.size.reserved);
  reader.expectRemaining(count * (TXID_BYTES + 1) + recordBytes + rejectionBytes, "the txids, verdicts, records and rejections its header declares");
  const txids = reader.bytes(count * TXID_BYTES);
  const verdicts = reader.bytes(count);
  const records = reader.bytes(recordBytes);
  const parsed: unknown = JSON.parse(new TextDecoder().decode(reader.bytes(rejectionBytes)));
  check(Array.isArray(parsed), "PIPELINE_BAD_TASK", "validation response rejections are not a list");
  const rejections = (parsed as [number, string, string][]).map(([index, code, message]) => ({ index, code, message }));
  return { count, txids, verdicts, records, rejections };
}
