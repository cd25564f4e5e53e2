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
import { BinaryReader, BinaryWriter, singleCode } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../codec/sizes.js";

export type SignatureBatchErrorCode = "SIGNATURE_BATCH_MALFORMED";

const BATCH_HEADER = layout({ count: 4 });
const COUNT_LENGTH = BATCH_HEADER.bytes;
/** An item before its message: publicKey ‖ signature ‖ u32 messageLength. */
const ITEM_HEADER = layout({ publicKey: PUBLIC_KEY_BYTES, signature: SIGNATURE_BYTES, messageLength: 4 });
export const ITEM_HEADER_LENGTH = ITEM_HEADER.bytes;
const BATCH_CODES = singleCode<SignatureBatchErrorCode>("SIGNATURE_BATCH_MALFORMED");

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
  const writer = BinaryWriter.ofSize(length).u32(items.length);
  for (const { publicKey, signature, message } of items) writer.bytes(publicKey).bytes(signature).lengthPrefixed("u32", message);
  return writer.finish();
}

/**
 * Validates the structure of a packed batch and returns the byte offset of every item plus the
 * end offset (count + 1 entries), without copying anything.
 */
export function scanSignatureBatch(bytes: Uint8Array): Uint32Array {
  if (!(bytes instanceof Uint8Array)) throw malformed("a packed batch must be a Uint8Array");
  if (bytes.length > MAX_BATCH_BYTES) throw malformed(`${bytes.length} bytes exceed the limit of ${MAX_BATCH_BYTES}`);
  const reader = new BinaryReader(bytes, BATCH_CODES);
  const count = reader.u32("the item count");
  if (count > MAX_BATCH_ITEMS) throw malformed(`item count ${count} exceeds the limit of ${MAX_BATCH_ITEMS}`);
  reader.need(count * ITEM_HEADER_LENGTH, `${count} items`);
  const offsets = new Uint32Array(count + 1);
  for (let index = 0; index < count; index++) {
    offsets[index] = reader.at;
    reader.advance(ITEM_HEADER.offset.messageLength, `item ${index}`);
    reader.lengthPrefixed("u32", MAX_MESSAGE_LENGTH, `item ${index}'s message`);
  }
  reader.expectEnd(`${count} items`);
  offsets[count] = reader.at;
  return offsets;
}

/** Decodes a packed batch; each item's fields are subarray views of `bytes` (no copies). */
export function unpackSignatureBatch(bytes: Uint8Array): SignatureItem[] {
  const offsets = scanSignatureBatch(bytes);
  const items: SignatureItem[] = new Array(offsets.length - 1);
  for (let index = 0; index < items.length; index++) {
    const start = offsets[index]!;
    items[index] = {
      publicKey: bytes.subarray(start + ITEM_HEADER.offset.publicKey, start + ITEM_HEADER.offset.publicKey + PUBLIC_KEY_BYTES),
      signature: bytes.subarray(start + ITEM_HEADER.offset.signature, start + ITEM_HEADER.offset.signature + SIGNATURE_BYTES),
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
  return BinaryWriter.ofSize(COUNT_LENGTH + body.length).u32(to - from).bytes(body).finish();
}
