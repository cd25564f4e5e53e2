/**
 * Save and replay a generated load: a binary file, little-endian, read strictly.
 *
 *   offset 0  magic        8 bytes  "IOSLOAD\0"
 *          8  version      u16      LOAD_FILE_VERSION (1)
 *         10  genesisHash  32 bytes genesisTxid of the chain the set was made for
 *         42  seedLength   u16      1..MAX_SEED_BYTES
 *         44  seed         seedLength bytes of UTF-8
 *             shardCount   u16      1..MAX_SHARDS
 *             count        u32      1..MAX_LOAD_TRANSACTIONS
 *             then count × { shard u16 (< shardCount), length u32 (≤ MAX_TX_BYTES), encoded transaction }
 *
 * The reader rejects a wrong magic or version, a truncated file, trailing bytes, a shard out of
 * range, a transaction that fails the canonical structural check (transaction.ts) or whose first
 * input's owner is not of the stated shard, and — when the caller names its genesis — a set made
 * for another chain.
 *
 * API: `encodeLoadFile(set)`, `decodeLoadFile(bytes, expectedGenesisHash?)`, `saveLoadFile(path,
 * set)`, `readLoadFile(path, expectedGenesisHash?)`.
 */
import { readFile, writeFile } from "node:fs/promises";
import { MAX_SHARDS, shardOfOwner } from "../ledger/shard.js";
import { TX_PREFIX } from "../ledger/kinds/interface.js";
import { spenderOf } from "../ledger/kinds/registry.js";
import { MAX_TX_BYTES, scanTransaction } from "../ledger/transaction.js";
import { IosError, check } from "../errors.js";
import type { LoadErrorCode } from "./errors.js";
import { LoadSet, MAX_LOAD_TRANSACTIONS } from "./workload.js";
import { sameBytes } from "../bytes.js";
import { BinaryReader, BinaryWriter, type CodecCodes } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { HASH_BYTES } from "../codec/sizes.js";

export const LOAD_FILE_MAGIC = new Uint8Array(Buffer.from("IOSLOAD\0", "latin1"));
export const LOAD_FILE_VERSION = 1;
/** A seed is a label typed by a person; 1 KiB is far above any real one. */
export const MAX_SEED_BYTES = 1024;
/** The header up to the seed, and after it. */
const HEAD = layout({ magic: LOAD_FILE_MAGIC.length, version: 2, genesisHash: HASH_BYTES, seedLength: 2 });
const COUNTS = layout({ shardCount: 2, count: 4 });
/** Each transaction's prefix in the file. */
const RECORD_PREFIX = layout({ shard: 2, length: 4 });
const LOAD_FILE_CODES: CodecCodes<LoadErrorCode> = {
  truncated: "LOAD_FILE_TRUNCATED",
  trailing: "LOAD_FILE_TRAILING_BYTES",
  tooLarge: "LOAD_FILE_BAD_HEADER",
  outOfRange: "LOAD_FILE_BAD_HEADER",
};

/** The whole file for `set`. */
export function encodeLoadFile(set: LoadSet): Uint8Array {
  const { genesisHash, seed, shardCount } = set.header;
  const seedBytes = Buffer.from(seed, "utf8");
  check<LoadErrorCode>(seedBytes.length >= 1 && seedBytes.length <= MAX_SEED_BYTES, "LOAD_BAD_OPTION", `seed must take 1..${MAX_SEED_BYTES} UTF-8 bytes`);
  check<LoadErrorCode>(genesisHash.length === HASH_BYTES, "LOAD_BAD_OPTION", `genesis hash must be ${HASH_BYTES} bytes`);
  const headerBytes = HEAD.bytes + seedBytes.length + COUNTS.bytes;
  const writer = BinaryWriter.ofSize(headerBytes + set.count * RECORD_PREFIX.bytes + (set.offsets[set.count]! - set.offsets[0]!))
    .bytes(LOAD_FILE_MAGIC)
    .u16(LOAD_FILE_VERSION)
    .bytes(genesisHash)
    .lengthPrefixed("u16", seedBytes)
    .u16(shardCount)
    .u32(set.count);
  for (let i = 0; i < set.count; i++) writer.u16(set.shard(i)).lengthPrefixed("u32", set.tx(i));
  return writer.finish();
}

/** Strictly parses a load file (see the file comment for what is rejected). */
export function decodeLoadFile(bytes: Uint8Array, expectedGenesisHash?: Uint8Array): LoadSet {
  const reader = new BinaryReader(bytes, LOAD_FILE_CODES);
  reader.need(HEAD.offset.genesisHash, "the magic and version");
  check<LoadErrorCode>(sameBytes(reader.bytes(LOAD_FILE_MAGIC.length), LOAD_FILE_MAGIC), "LOAD_FILE_BAD_MAGIC", "not a load file (magic is not IOSLOAD)");
  const version = reader.u16();
  check<LoadErrorCode>(version === LOAD_FILE_VERSION, "LOAD_FILE_BAD_VERSION", `version ${version} is not ${LOAD_FILE_VERSION}`);
  const genesisHash = reader.bytes(HASH_BYTES, "the genesis hash").slice();
  if (expectedGenesisHash !== undefined) {
    check<LoadErrorCode>(
      sameBytes(genesisHash, expectedGenesisHash),
      "LOAD_FILE_GENESIS_MISMATCH",
      `the set was made for genesis ${Buffer.from(genesisHash).toString("hex")}, not ${Buffer.from(expectedGenesisHash).toString("hex")}`,
    );
  }
  const seedLength = reader.u16("the seed length");
  check<LoadErrorCode>(seedLength >= 1 && seedLength <= MAX_SEED_BYTES, "LOAD_FILE_BAD_HEADER", `seed length ${seedLength} is not in 1..${MAX_SEED_BYTES}`);
  const seedBytes = reader.bytes(seedLength, "the seed");
  let seed: string;
  try {
    seed = new TextDecoder("utf-8", { fatal: true }).decode(seedBytes);
  } catch {
    throw new IosError<LoadErrorCode>("LOAD_FILE_BAD_HEADER", "the seed is not valid UTF-8");
  }
  const shardCount = reader.u16("the shard count");
  const count = reader.u32("the transaction count");
  check<LoadErrorCode>(shardCount >= 1 && shardCount <= MAX_SHARDS, "LOAD_FILE_BAD_HEADER", `shard count ${shardCount} is not in 1..${MAX_SHARDS}`);
  check<LoadErrorCode>(count >= 1 && count <= MAX_LOAD_TRANSACTIONS, "LOAD_FILE_BAD_HEADER", `transaction count ${count} is not in 1..${MAX_LOAD_TRANSACTIONS}`);
  // Each record takes at least its prefix plus a version and kind, which bounds `count` by the file size before allocating.
  reader.need(count * (RECORD_PREFIX.bytes + TX_PREFIX.bytes), `${count} transaction records`);
  const body = new Uint8Array(reader.remaining);
  const offsets = new Uint32Array(count + 1);
  const shards = new Uint16Array(count);
  let written = 0;
  for (let i = 0; i < count; i++) {
    const shard = reader.u16(`the prefix of transaction ${i}`);
    const length = reader.u32(`the prefix of transaction ${i}`);
    check<LoadErrorCode>(shard < shardCount, "LOAD_FILE_BAD_TX", `transaction ${i}: shard ${shard} is not below the shard count ${shardCount}`);
    check<LoadErrorCode>(length <= MAX_TX_BYTES, "LOAD_FILE_BAD_TX", `transaction ${i}: length ${length} exceeds MAX_TX_BYTES = ${MAX_TX_BYTES}`);
    const tx = reader.bytes(length, `transaction ${i}`);
    try {
      scanTransaction(tx);
    } catch (error) {
      throw new IosError<LoadErrorCode>("LOAD_FILE_BAD_TX", `transaction ${i}: ${(error as Error).message}`);
    }
    const ownerShard = shardOfOwner(spenderOf(tx)!, shardCount);
    check<LoadErrorCode>(ownerShard === shard, "LOAD_FILE_BAD_TX", `transaction ${i}: stated shard ${shard}, but its spender is in shard ${ownerShard}`);
    body.set(tx, written);
    shards[i] = shard;
    written += length;
    offsets[i + 1] = written;
  }
  reader.expectEnd("the last transaction");
  return new LoadSet({ genesisHash, seed, shardCount }, body.subarray(0, written), offsets, shards);
}

export async function saveLoadFile(path: string, set: LoadSet): Promise<void> {
  await writeFile(path, encodeLoadFile(set));
}

export async function readLoadFile(path: string, expectedGenesisHash?: Uint8Array): Promise<LoadSet> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(error as Error).message})`;
    throw new IosError<LoadErrorCode>("LOAD_FILE_UNREADABLE", `load file ${path} ${reason}`);
  }
  return decodeLoadFile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), expectedGenesisHash);
}
