/**
 * The state-sync messages (little-endian; message types in the `msb` range, net/message-types.ts):
 *
 *   SYNC_REQUEST   u32 request id ‖ u64 first height ‖ u16 count (1..MAX_SYNC_HEIGHTS_PER_REQUEST)
 *   SYNC_RESPONSE  u32 request id ‖ u8 status ‖ u64 first height ‖ u16 n ‖ n × height
 *                  height: u32 |block| ‖ encoded block ‖ u32 |record| ‖ record (store schema.ts
 *                  `encodeFinalHeight`: certificate, proposal, rejections, phase writes)
 *
 * Status: OK (n ≥ 1 heights from the first), BEHIND (the server lacks the first height or holds it
 * without a certificate), BUSY (the peer's byte budget is spent: ask later). Decoding is strict:
 * anything else is SYNC_MALFORMED; an answer above MAX_SYNC_RESPONSE_BYTES is SYNC_OVERSIZE.
 *
 * API: `SYNC_REQUEST`, `SYNC_RESPONSE`, `SyncStatus`, `encodeSyncRequest`/`decodeSyncRequest`,
 * `encodeSyncResponse`/`decodeSyncResponse`, `SyncedHeight`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { check, hasCodeIn, IosError } from "../../errors.js";
import { MAX_BLOCK_BYTES } from "../../ledger/block.js";
import { messageType } from "../../net/message-types.js";
import { decodeFinalHeight, encodeFinalHeight, type StoredFinalHeight } from "../../store/schema.js";
import type { StoreErrorCode } from "../../store/errors.js";
import { MAX_SYNC_HEIGHTS_PER_REQUEST, MAX_SYNC_RESPONSE_BYTES, type SyncErrorCode } from "./interface.js";

export const SYNC_REQUEST = messageType("msb", 0);
export const SYNC_RESPONSE = messageType("msb", 1);

/** Pruned: the source deleted the asked height (below its pruned horizon); no heights follow. */
export const SyncStatus = { Ok: 0, Behind: 1, Busy: 2, Pruned: 3 } as const;
export type SyncStatus = (typeof SyncStatus)[keyof typeof SyncStatus];

const CODES = singleCode<SyncErrorCode>("SYNC_MALFORMED");
const REQUEST_BYTES = 4 + 8 + 2;
/** An answer before its heights: id, status, first height, count. */
export const RESPONSE_HEAD_BYTES = 4 + 1 + 8 + 2;

export interface SyncRequest {
  readonly id: number;
  readonly first: number;
  readonly count: number;
}

/** One height as it travels: the block and what its store keeps with it. */
export interface SyncedHeight {
  readonly block: Uint8Array;
  readonly record: StoredFinalHeight;
}

export interface SyncResponse {
  readonly id: number;
  readonly status: SyncStatus;
  readonly first: number;
  readonly heights: readonly SyncedHeight[];
}

export function encodeSyncRequest(request: SyncRequest): Uint8Array {
  return BinaryWriter.ofSize(REQUEST_BYTES).u32(request.id).u64(request.first).u16(request.count).finish();
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  const reader = new BinaryReader(bytes, CODES);
  const request = { id: reader.u32("request id"), first: reader.u53("first height"), count: reader.u16("count") };
  reader.expectEnd("the request");
  check<SyncErrorCode>(request.first >= 1 && request.count >= 1 && request.count <= MAX_SYNC_HEIGHTS_PER_REQUEST, "SYNC_MALFORMED",
    `a request asks for 1..${MAX_SYNC_HEIGHTS_PER_REQUEST} heights from height 1 or above`);
  return request;
}

/** One height encoded on its own, so a server fills an answer up to its bound by the sizes. */
export function encodeSyncedHeight(height: SyncedHeight): Uint8Array {
  const record = encodeFinalHeight(height.record);
  return BinaryWriter.ofSize(4 + height.block.length + 4 + record.length).lengthPrefixed("u32", height.block).lengthPrefixed("u32", record).finish();
}

/** An answer from already encoded heights (`encodeSyncedHeight`). */
export function encodeSyncResponse(head: Omit<SyncResponse, "heights">, heights: readonly Uint8Array[]): Uint8Array {
  const size = RESPONSE_HEAD_BYTES + heights.reduce((sum, h) => sum + h.length, 0);
  const writer = BinaryWriter.ofSize(size).u32(head.id).u8(head.status).u64(head.first).u16(heights.length);
  for (const height of heights) writer.bytes(height);
  return writer.finish();
}

export function decodeSyncResponse(bytes: Uint8Array): SyncResponse {
  check<SyncErrorCode>(bytes.length <= MAX_SYNC_RESPONSE_BYTES, "SYNC_OVERSIZE", `an answer of ${bytes.length} bytes exceeds ${MAX_SYNC_RESPONSE_BYTES}`);
  const reader = new BinaryReader(bytes, CODES);
  const id = reader.u32("request id");
  const status = reader.u8("status");
  check<SyncErrorCode>((Object.values(SyncStatus) as number[]).includes(status), "SYNC_MALFORMED", `status ${status} is not defined`);
  const first = reader.u53("first height");
  const count = reader.u16("height count");
  check<SyncErrorCode>(count <= MAX_SYNC_HEIGHTS_PER_REQUEST && (status === SyncStatus.Ok) === count > 0, "SYNC_MALFORMED", `an OK answer holds 1..${MAX_SYNC_HEIGHTS_PER_REQUEST} heights, another none (status ${status}, ${count})`);
  const heights = Array.from({ length: count }, (): SyncedHeight => {
    const block = reader.lengthPrefixed("u32", MAX_BLOCK_BYTES, "block").slice();
    const recordBytes = reader.lengthPrefixed("u32", MAX_SYNC_RESPONSE_BYTES, "final-height record");
    try {
      return { block, record: decodeFinalHeight(recordBytes) };
    } catch (error) {
      if (hasCodeIn<StoreErrorCode>(error, ["STORE_CORRUPT"])) throw new IosError<SyncErrorCode>("SYNC_MALFORMED", `final-height record: ${error.message}`);
      throw error;
    }
  });
  reader.expectEnd("the answer");
  return { id, status: status as SyncStatus, first, heights };
}
