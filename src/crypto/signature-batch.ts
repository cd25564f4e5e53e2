/**
 * Packed signature batches: many (publicKey, signature, message) triples in one contiguous buffer,
 * so a whole batch crosses a worker boundary as a single transferable `ArrayBuffer` instead of
 * one message per signature.
 *
 * Layout, all integers little-endian:
 *   u32 count
 *   count × ( publicKey[32] ‖ signature[64] ‖ u32 messageLength ‖ message[messageLength] )
 *
 * Decoding is strict: a truncated item, a count or length beyond the limits below, or bytes after
 * the last item are `SIGNATURE_BATCH_MALFORMED`. Decoded items are views into the input buffer.
 */
import { IosError } from "../errors.js";
import { type SignatureItem } from "./ed25519.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../codec/sizes.js";

export type SignatureBatchErrorCode = "SIGNATURE_BATCH_MALFORMED";

const COUNT_LENGTH = 4;
const MESSAGE_LENGTH_FIELD = 4;
/** Bytes of an item before its message: publicKey ‖ signature ‖ u32 messageLength. */
export const ITEM_HEADER_LENGTH = PUBLIC_KEY_BYTES + SIGNATURE_BYTES + MESSAGE_LENGTH_FIELD;

/**
 * Most items in one packed batch: 2^20. A block carries thousands of transactions and a pool task
 * a fraction of a block, so honest batches stay far below; the cap bounds one task's work.
 */
export const MAX_BATCH_ITEMS = 1 << 20;
/**
 * Longest message in a batch: 1 MiB. Signed messages are transactions and consensus messages,
 * which are far smaller; the cap keeps one item from dominating a task.
 */
export const MAX_MESSAGE_LENGTH = 1 << 20;
/** Largest packed batch: 256 MiB, far above any block; bounds the memory one task can pin. */
export const MAX_BATCH_BYTES = 256 << 20;

function malformed(message: string): IosError<SignatureBatchErrorCode> {
  return new IosError("SIGNATURE_BATCH_MALFORMED", message);
}

function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** Whether an item has the shape the packed format can carry (32-byte key, 64-byte signature, bounded message). */
export function isPackableItem(item: SignatureItem): boolean {
  return (
    isBytes(item.publicKey, PUBLIC_KEY_BYTES) &&
    isBytes(item.signature, SIGNATURE_BYTES) &&
    isBytes(item.message) &&
    item.message.length <= MAX_MESSAGE_LENGTH
  );
}

/** Size of the packed encoding of `items`. */
function packedSignatureBatchLength(items: readonly SignatureItem[]): number {
  let length = COUNT_LENGTH;
  for (const item of items) length += ITEM_HEADER_LENGTH + item.message.length;
  return length;
}

/**
 * Packs `items` into one freshly allocated buffer (owned by the caller, free to transfer).
 * Throws SIGNATURE_BATCH_MALFORMED if an item has a wrong-length key or signature, or the batch
 * exceeds the limits; callers that must give such items a verdict filter with `isPackableItem`.
 */
export function packSignatureBatch(items: readonly SignatureItem[]): Uint8Array<ArrayBuffer> {
  if (items.length > MAX_BATCH_ITEMS) throw malformed(`${items.length} items exceed the limit of ${MAX_BATCH_ITEMS}`);
  for (const [index, item] of items.entries()) {
    if (!isPackableItem(item)) {
      throw malformed(
        `item ${index} needs a ${PUBLIC_KEY_BYTES}-byte public key, a ${SIGNATURE_BYTES}-byte signature ` +
          `and a message of at most ${MAX_MESSAGE_LENGTH} bytes`,
      );
    }
  }
  const length = packedSignatureBatchLength(items);
  if (length > MAX_BATCH_BYTES) throw malformed(`${length} bytes exceed the limit of ${MAX_BATCH_BYTES}`);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, items.length, true);
  let offset = COUNT_LENGTH;
  for (const { publicKey, signature, message } of items) {
    bytes.set(publicKey, offset);
    bytes.set(signature, offset + PUBLIC_KEY_BYTES);
    view.setUint32(offset + PUBLIC_KEY_BYTES + SIGNATURE_BYTES, message.length, true);
    bytes.set(message, offset + ITEM_HEADER_LENGTH);
    offset += ITEM_HEADER_LENGTH + message.length;
  }
  return bytes;
}

/**
 * Validates the structure of a packed batch and returns the byte offset of every item plus the
 * end offset (count + 1 entries), without copying anything.
 */
export function scanSignatureBatch(bytes: Uint8Array): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw malformed("a packed batch must be a Uint8Array");
  if (bytes.length > MAX_BATCH_BYTES) throw malformed(`${bytes.length} bytes exceed the limit of ${MAX_BATCH_BYTES}`);
  if (bytes.length < COUNT_LENGTH) throw malformed(`${bytes.length} bytes cannot hold the 4-byte item count`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count > MAX_BATCH_ITEMS) throw malformed(`item count ${count} exceeds the limit of ${MAX_BATCH_ITEMS}`);
  const smallest = COUNT_LENGTH + count * ITEM_HEADER_LENGTH;
  if (smallest > bytes.length) throw malformed(`${count} items need at least ${smallest} bytes, got ${bytes.length}`);
  const offsets = new Uint32Array(count + 1);
  let offset = COUNT_LENGTH;
  for (let index = 0; index < count; index++) {
    offsets[index] = offset;
    if (offset + ITEM_HEADER_LENGTH > bytes.length) throw malformed(`item ${index} is truncated at byte ${offset}`);
    const messageLength = view.getUint32(offset + PUBLIC_KEY_BYTES + SIGNATURE_BYTES, true);
    if (messageLength > MAX_MESSAGE_LENGTH) {
      throw malformed(`item ${index} declares a ${messageLength}-byte message, over the limit of ${MAX_MESSAGE_LENGTH}`);
    }
    offset += ITEM_HEADER_LENGTH + messageLength;
    if (offset > bytes.length) throw malformed(`item ${index}'s message runs past the end of the batch`);
  }
  if (offset !== bytes.length) throw malformed(`${bytes.length - offset} trailing bytes after ${count} items`);
  offsets[count] = offset;
  return offsets;
}

/** Decodes a packed batch; each item's fields are subarray views of `bytes` (no copies). */
export function unpackSignatureBatch(bytes: Uint8Array): SignatureItem[] {
  const offsets = scanSignatureBatch(bytes);
  const items: SignatureItem[] = new Array(offsets.length - 1);
  for (let index = 0; index < items.length; index++) {
    const start = offsets[index]!;
    items[index] = {
      publicKey: bytes.subarray(start, start + PUBLIC_KEY_BYTES),
      signature: bytes.subarray(start + PUBLIC_KEY_BYTES, start + PUBLIC_KEY_BYTES + SIGNATURE_BYTES),
      message: bytes.subarray(start + ITEM_HEADER_LENGTH, offsets[index + 1]!),
    };
  }
  return items;
}

/**
 * Copies items [from, to) of a scanned batch into a new packed batch of their own, so that one
 * large batch can be split into independently transferable chunks.
 */
export function sliceSignatureBatch(
  bytes: Uint8Array,
  offsets: Uint32Array,
  from: number,
  to: number,
): Uint8Array<ArrayBuffer> {
  const count = offsets.length - 1;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= count)) {
    throw new RangeError(`slice [${from}, ${to}) is outside a batch of ${count} items`);
  }
  const body = bytes.subarray(offsets[from]!, offsets[to]!);
  const chunk = new Uint8Array(COUNT_LENGTH + body.length);
  new DataView(chunk.buffer).setUint32(0, to - from, true);
  chunk.set(body, COUNT_LENGTH);
  return chunk;
}
