/**
 * MSB header (white paper §8, Algorithm 6: "the header of msb_{j,e} holds the root, the epoch, the
 * shard, the supply and the count"), its canonical encoding, strict decoding and hash.
 *
 * Phases: 1. make (`makeMsbHeader`: checks fields against each other, back-pointers against the
 * epoch); 2. encode; 3. decode (strict inverse: any other byte string is a coded MSB_* error);
 * 4. hash (`msbHeaderHash` = SHA-256(MSB_HEADER_DOMAIN ‖ encoding)); 5. navigate (`backPointerEpochs`,
 * `skipPath`: the epochs a client hops through from a later MSB to an earlier one).
 *
 * Encoding, version 2 (integers little-endian):
 *   u8 version ‖ chain [32] ‖ u32 shard ‖ u32 epoch ‖ u64 height ‖ u32 count ‖ u64 supply ‖
 *   root [32] ‖ u32 decisions ‖ decisionsRoot [32] ‖ L × back-pointer [32]
 * (version 2 added the decisions, ./decisions.ts: the shard's Atomix phases after the height, which
 * a joining node restores with the set; version 1 is no longer read)
 * where L = backPointerLevels(epoch) = ⌊log2 e⌋ + 1 (0 for epoch 0): level i is the hash of
 * msb_{j, e − 2^i}. L follows from the epoch, so it is not written and the encoding must end
 * exactly after the L-th pointer. Every MSB keeps every level (not a randomised skip list): from
 * epoch e to any t < e, hopping by the largest 2^i ≤ distance at least halves the distance, so
 * ⌈log2(e − t)⌉ + 1 headers at most.
 *
 * Decoding also refuses headers no honest snapshot has: a count (UTXOs or decisions) of 0 with
 * another root than the empty tree's, and a supply below the count (every output holds at least 1).
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { AMOUNT_BYTES, HASH_BYTES } from "../codec/sizes.js";
import { sha256 } from "../crypto/sha256.js";
import { sameBytes } from "../bytes.js";
import { IosError, check } from "../errors.js";
import type { MsbDecisions, MsbErrorCode, MsbHeader, MsbSnapshot } from "./interface.js";

/** The only header version this program writes and reads. */
export const MSB_HEADER_VERSION = 2;
/** Separates a header's hash from every other SHA-256 of the tree (block hashes, txids). */
export const MSB_HEADER_DOMAIN = new TextEncoder().encode("IOSChain/msb-header/v1");
/** Epochs are u32: at most 32 back-pointer levels (2^31 ≤ e < 2^32). */
export const MAX_BACK_POINTER_LEVELS = 32;

/** The fixed part of the encoding, before the back-pointers. */
export const MSB_HEADER_FIXED = layout({
  version: 1, chain: HASH_BYTES, shard: 4, epoch: 4, height: 8, count: 4, supply: AMOUNT_BYTES, root: HASH_BYTES,
  decisions: 4, decisionsRoot: HASH_BYTES,
});
/** The longest header: every level an epoch can have. */
export const MAX_MSB_HEADER_BYTES = MSB_HEADER_FIXED.bytes + MAX_BACK_POINTER_LEVELS * HASH_BYTES;

export const MSB_CODEC: CodecCodes<MsbErrorCode> = {
  truncated: "MSB_TRUNCATED", trailing: "MSB_TRAILING", tooLarge: "MSB_TOO_LARGE", outOfRange: "MSB_OUT_OF_RANGE",
};

/** RFC 6962 §2.1: the root of an empty tree is SHA-256 of the empty string. */
const EMPTY_ROOT = sha256(new Uint8Array(0));
const U32_MAX = 0xffff_ffff;

/** Levels of epoch `epoch`'s back-pointers: one per power of two 2^i ≤ epoch. */
export function backPointerLevels(epoch: number): number {
  check<MsbErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= U32_MAX, "MSB_BAD_INPUT", `epoch ${epoch} is not a u32`);
  return epoch === 0 ? 0 : Math.floor(Math.log2(epoch)) + 1;
}

/** The epochs msb_e's back-pointers name, level 0 first: e − 1, e − 2, e − 4, … */
export function backPointerEpochs(epoch: number): number[] {
  return Array.from({ length: backPointerLevels(epoch) }, (_, level) => epoch - 2 ** level);
}

/**
 * The epochs from `from` down to `to` (both included) a client walks through back-pointers, and
 * the level taken at each hop: the largest 2^i not beyond the remaining distance.
 */
export function skipPath(from: number, to: number): { epochs: number[]; levels: number[] } {
  check<MsbErrorCode>(Number.isInteger(to) && to >= 0 && to <= from, "MSB_BAD_INPUT", `epoch ${to} is not in [0, ${from}]`);
  backPointerLevels(from);
  const epochs = [from];
  const levels: number[] = [];
  for (let at = from; at > to; ) {
    const level = Math.floor(Math.log2(at - to));
    levels.push(level);
    at -= 2 ** level;
    epochs.push(at);
  }
  return { epochs, levels };
}

function checkHeader(header: MsbHeader, fail: (code: MsbErrorCode, message: string) => never): void {
  if (header.version !== MSB_HEADER_VERSION) fail("MSB_BAD_VERSION", `header version ${header.version}, this program reads ${MSB_HEADER_VERSION}`);
  if (header.count === 0 && !sameBytes(header.root, EMPTY_ROOT)) fail("MSB_BAD_FIELD", "an empty body's root is SHA-256(\"\")");
  if (header.decisions === 0 && !sameBytes(header.decisionsRoot, EMPTY_ROOT)) fail("MSB_BAD_FIELD", "no decisions' root is SHA-256(\"\")");
  if (header.supply < BigInt(header.count)) fail("MSB_BAD_FIELD", `supply ${header.supply} is below the count ${header.count}: every output holds at least 1`);
}

/** A header for `snapshot` and `decisions` with its back-pointers (level i: the hash of the MSB 2^i epochs back). */
export function makeMsbHeader(fields: {
  chain: Uint8Array; shard: number; epoch: number; height: number; snapshot: MsbSnapshot; decisions: MsbDecisions; backPointers: readonly Uint8Array[];
}): MsbHeader {
  const { chain, shard, epoch, height, snapshot, decisions, backPointers } = fields;
  const badInput = (message: string): never => {
    throw new IosError<MsbErrorCode>("MSB_BAD_INPUT", message);
  };
  if (!(chain instanceof Uint8Array) || chain.length !== HASH_BYTES) badInput(`a chain id is ${HASH_BYTES} bytes`);
  if (!Number.isInteger(shard) || shard < 0 || shard > U32_MAX) badInput(`shard ${shard} is not a u32`);
  if (!Number.isSafeInteger(height) || height < 0) badInput(`height ${height} is not a safe non-negative integer`);
  const levels = backPointerLevels(epoch);
  if (backPointers.length !== levels) badInput(`epoch ${epoch} has ${levels} back-pointers, got ${backPointers.length}`);
  backPointers.forEach((pointer, level) => {
    if (!(pointer instanceof Uint8Array) || pointer.length !== HASH_BYTES) badInput(`back-pointer ${level} is not ${HASH_BYTES} bytes`);
  });
  const header: MsbHeader = {
    version: MSB_HEADER_VERSION, chain: Uint8Array.from(chain), shard, epoch, height,
    count: snapshot.count, supply: snapshot.supply, root: Uint8Array.from(snapshot.root),
    decisions: decisions.count, decisionsRoot: Uint8Array.from(decisions.root), backPointers: backPointers.map((p) => Uint8Array.from(p)),
  };
  checkHeader(header, (_code, message) => badInput(message));
  return header;
}

export function msbHeaderSize(header: Pick<MsbHeader, "epoch">): number {
  return MSB_HEADER_FIXED.bytes + backPointerLevels(header.epoch) * HASH_BYTES;
}

/** Writes the canonical encoding of `header` (made by makeMsbHeader or decoded). */
export function writeMsbHeader(writer: BinaryWriter, header: MsbHeader): BinaryWriter {
  writer.u8(header.version).bytes(header.chain).u32(header.shard).u32(header.epoch).u64(header.height)
    .u32(header.count).u64(header.supply).bytes(header.root).u32(header.decisions).bytes(header.decisionsRoot);
  for (const pointer of header.backPointers) writer.bytes(pointer);
  return writer;
}

export function encodeMsbHeader(header: MsbHeader): Uint8Array {
  return writeMsbHeader(BinaryWriter.ofSize(msbHeaderSize(header)), header).finish();
}

/** Reads one header at the reader's position (its own fields only; the caller checks what follows). */
export function readMsbHeader(reader: BinaryReader<MsbErrorCode>): MsbHeader {
  const version = reader.u8("MSB header version");
  if (version !== MSB_HEADER_VERSION) reader.fail("MSB_BAD_VERSION", `header version ${version}, this program reads ${MSB_HEADER_VERSION}`);
  const chain = reader.bytes(HASH_BYTES, "chain id").slice();
  const shard = reader.u32("shard");
  const epoch = reader.u32("epoch");
  const height = reader.u53("height");
  const count = reader.u32("count");
  const supply = reader.u64("supply");
  const root = reader.bytes(HASH_BYTES, "root").slice();
  const decisions = reader.u32("decisions");
  const decisionsRoot = reader.bytes(HASH_BYTES, "decisions root").slice();
  const backPointers = Array.from({ length: backPointerLevels(epoch) }, (_, level) => reader.bytes(HASH_BYTES, `back-pointer ${level}`).slice());
  const header: MsbHeader = { version, chain, shard, epoch, height, count, supply, root, decisions, decisionsRoot, backPointers };
  checkHeader(header, (code, message) => reader.fail(code, message));
  return header;
}

/** Strict inverse of `encodeMsbHeader`. */
export function decodeMsbHeader(bytes: Uint8Array): MsbHeader {
  check<MsbErrorCode>(bytes instanceof Uint8Array, "MSB_BAD_INPUT", "an encoded header is a Uint8Array");
  const reader = new BinaryReader(bytes, MSB_CODEC);
  const header = readMsbHeader(reader);
  reader.expectEnd("the MSB header");
  return header;
}

/** SHA-256(MSB_HEADER_DOMAIN ‖ encoding): what back-pointers, proofs and (later) co-signatures name. */
export function msbHeaderHash(header: MsbHeader): Uint8Array {
  return msbHeaderHashOfEncoding(encodeMsbHeader(header));
}

export function msbHeaderHashOfEncoding(encoding: Uint8Array): Uint8Array {
  return sha256(BinaryWriter.ofSize(MSB_HEADER_DOMAIN.length + encoding.length).bytes(MSB_HEADER_DOMAIN).bytes(encoding).finish());
}
