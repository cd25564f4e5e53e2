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
import { TXID_BYTES } from "../../codec/sizes.js";

export const REQUEST_HEADER_BYTES = 8;
export const RESPONSE_HEADER_BYTES = 16;

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
  const out = new Uint8Array(REQUEST_HEADER_BYTES + framed.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, shard, true);
  view.setUint32(4, shardCount, true);
  out.set(framed, REQUEST_HEADER_BYTES);
  return out;
}

export function decodeValidationRequest(bytes: Uint8Array): { shard: number; shardCount: number; framed: Uint8Array } {
  check(bytes.length >= REQUEST_HEADER_BYTES, "PIPELINE_BAD_TASK", `a validation request needs ${REQUEST_HEADER_BYTES} header bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { shard: view.getUint32(0, true), shardCount: view.getUint32(4, true), framed: bytes.subarray(REQUEST_HEADER_BYTES) };
}

export function encodeValidatedBatch(batch: ValidatedBatch): Uint8Array<ArrayBuffer> {
  const rejectionText = new TextEncoder().encode(JSON.stringify(batch.rejections.map((r) => [r.index, r.code, r.message])));
  const { count } = batch;
  const out = new Uint8Array(RESPONSE_HEADER_BYTES + count * (TXID_BYTES + 1) + batch.records.length + rejectionText.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, count, true);
  view.setUint32(4, batch.records.length, true);
  view.setUint32(8, rejectionText.length, true);
  let at = RESPONSE_HEADER_BYTES;
  out.set(batch.txids, at);
  at += count * TXID_BYTES;
  out.set(batch.verdicts, at);
  at += count;
  out.set(batch.records, at);
  out.set(rejectionText, at + batch.records.length);
  return out;
}

export function decodeValidatedBatch(bytes: Uint8Array): ValidatedBatch {
  check(bytes.length >= RESPONSE_HEADER_BYTES, "PIPELINE_BAD_TASK", "validation response shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  const recordBytes = view.getUint32(4, true);
  const rejectionBytes = view.getUint32(8, true);
  const expected = RESPONSE_HEADER_BYTES + count * (TXID_BYTES + 1) + recordBytes + rejectionBytes;
  check(bytes.length === expected, "PIPELINE_BAD_TASK", `validation response is ${bytes.length} bytes, its header says ${expected}`);
  let at = RESPONSE_HEADER_BYTES;
  const txids = bytes.subarray(at, at + count * TXID_BYTES);
  at += count * TXID_BYTES;
  const verdicts = bytes.subarray(at, at + count);
  at += count;
  const records = bytes.subarray(at, at + recordBytes);
  at += recordBytes;
  const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(at)));
  check(Array.isArray(parsed), "PIPELINE_BAD_TASK", "validation response rejections are not a list");
  const rejections = (parsed as [number, string, string][]).map(([index, code, message]) => ({ index, code, message }));
  return { count, txids, verdicts, records, rejections };
}
