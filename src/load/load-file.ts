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
import { MAX_SHARDS, PUBLIC_KEY_BYTES, shardOfOwner } from "../ledger/shard.js";
import { MAX_TX_BYTES, OUTPOINT_BYTES, TXID_BYTES, TX_HEADER_BYTES, scanTransaction } from "../ledger/transaction.js";
import { LoadError, loadCheck } from "./errors.js";
import { LoadSet, MAX_LOAD_TRANSACTIONS } from "./workload.js";

export const LOAD_FILE_MAGIC = new Uint8Array(Buffer.from("IOSLOAD\0", "latin1"));
export const LOAD_FILE_VERSION = 1;
/** A seed is a label typed by a person; 1 KiB is far above any real one. */
export const MAX_SEED_BYTES = 1024;
const TX_PREFIX_BYTES = 6;

/** The whole file for `set`. */
export function encodeLoadFile(set: LoadSet): Uint8Array {
  const { genesisHash, seed, shardCount } = set.header;
  const seedBytes = Buffer.from(seed, "utf8");
  loadCheck(seedBytes.length >= 1 && seedBytes.length <= MAX_SEED_BYTES, "LOAD_BAD_OPTION", `seed must take 1..${MAX_SEED_BYTES} UTF-8 bytes`);
  loadCheck(genesisHash.length === TXID_BYTES, "LOAD_BAD_OPTION", `genesis hash must be ${TXID_BYTES} bytes`);
  const headerBytes = 8 + 2 + 32 + 2 + seedBytes.length + 2 + 4;
  const out = new Uint8Array(headerBytes + set.count * TX_PREFIX_BYTES + (set.offsets[set.count]! - set.offsets[0]!));
  const view = new DataView(out.buffer);
  out.set(LOAD_FILE_MAGIC, 0);
  view.setUint16(8, LOAD_FILE_VERSION, true);
  out.set(genesisHash, 10);
  view.setUint16(42, seedBytes.length, true);
  out.set(seedBytes, 44);
  let at = 44 + seedBytes.length;
  view.setUint16(at, shardCount, true);
  view.setUint32(at + 2, set.count, true);
  at += 6;
  for (let i = 0; i < set.count; i++) {
    const tx = set.tx(i);
    view.setUint16(at, set.shard(i), true);
    view.setUint32(at + 2, tx.length, true);
    out.set(tx, at + TX_PREFIX_BYTES);
    at += TX_PREFIX_BYTES + tx.length;
  }
  return out;
}

function need(bytes: Uint8Array, at: number, length: number, what: string): void {
  loadCheck(at + length <= bytes.length, "LOAD_FILE_TRUNCATED", `file ends inside ${what} (needs ${at + length} bytes, has ${bytes.length})`);
}

/** Strictly parses a load file (see the file comment for what is rejected). */
export function decodeLoadFile(bytes: Uint8Array, expectedGenesisHash?: Uint8Array): LoadSet {
  need(bytes, 0, 10, "the magic and version");
  loadCheck(LOAD_FILE_MAGIC.every((byte, i) => bytes[i] === byte), "LOAD_FILE_BAD_MAGIC", "not a load file (magic is not IOSLOAD)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  loadCheck(version === LOAD_FILE_VERSION, "LOAD_FILE_BAD_VERSION", `version ${version} is not ${LOAD_FILE_VERSION}`);
  need(bytes, 10, 34, "the genesis hash and seed length");
  const genesisHash = bytes.slice(10, 42);
  if (expectedGenesisHash !== undefined) {
    loadCheck(
      Buffer.from(genesisHash).equals(expectedGenesisHash),
      "LOAD_FILE_GENESIS_MISMATCH",
      `the set was made for genesis ${Buffer.from(genesisHash).toString("hex")}, not ${Buffer.from(expectedGenesisHash).toString("hex")}`,
    );
  }
  const seedLength = view.getUint16(42, true);
  loadCheck(seedLength >= 1 && seedLength <= MAX_SEED_BYTES, "LOAD_FILE_BAD_HEADER", `seed length ${seedLength} is not in 1..${MAX_SEED_BYTES}`);
  need(bytes, 44, seedLength + 6, "the seed, shard count and transaction count");
  let seed: string;
  try {
    seed = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(44, 44 + seedLength));
  } catch {
    throw new LoadError("LOAD_FILE_BAD_HEADER", "the seed is not valid UTF-8");
  }
  let at = 44 + seedLength;
  const shardCount = view.getUint16(at, true);
  const count = view.getUint32(at + 2, true);
  loadCheck(shardCount >= 1 && shardCount <= MAX_SHARDS, "LOAD_FILE_BAD_HEADER", `shard count ${shardCount} is not in 1..${MAX_SHARDS}`);
  loadCheck(count >= 1 && count <= MAX_LOAD_TRANSACTIONS, "LOAD_FILE_BAD_HEADER", `transaction count ${count} is not in 1..${MAX_LOAD_TRANSACTIONS}`);
  at += 6;
  // Each record takes at least its prefix plus a header, which bounds `count` by the file size before allocating.
  need(bytes, at, count * (TX_PREFIX_BYTES + TX_HEADER_BYTES), `${count} transaction records`);
  const body = new Uint8Array(bytes.length - at);
  const offsets = new Uint32Array(count + 1);
  const shards = new Uint16Array(count);
  let written = 0;
  for (let i = 0; i < count; i++) {
    need(bytes, at, TX_PREFIX_BYTES, `the prefix of transaction ${i}`);
    const shard = view.getUint16(at, true);
    const length = view.getUint32(at + 2, true);
    loadCheck(shard < shardCount, "LOAD_FILE_BAD_TX", `transaction ${i}: shard ${shard} is not below the shard count ${shardCount}`);
    loadCheck(length <= MAX_TX_BYTES, "LOAD_FILE_BAD_TX", `transaction ${i}: length ${length} exceeds MAX_TX_BYTES = ${MAX_TX_BYTES}`);
    at += TX_PREFIX_BYTES;
    need(bytes, at, length, `transaction ${i}`);
    try {
      scanTransaction(bytes, at, at + length);
    } catch (error) {
      throw new LoadError("LOAD_FILE_BAD_TX", `transaction ${i}: ${(error as Error).message}`);
    }
    const ownerAt = at + TX_HEADER_BYTES + OUTPOINT_BYTES;
    const ownerShard = shardOfOwner(bytes.subarray(ownerAt, ownerAt + PUBLIC_KEY_BYTES), shardCount);
    loadCheck(ownerShard === shard, "LOAD_FILE_BAD_TX", `transaction ${i}: stated shard ${shard}, but its first input's owner is in shard ${ownerShard}`);
    body.set(bytes.subarray(at, at + length), written);
    shards[i] = shard;
    written += length;
    offsets[i + 1] = written;
    at += length;
  }
  loadCheck(at === bytes.length, "LOAD_FILE_TRAILING_BYTES", `${bytes.length - at} bytes after the last transaction`);
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
    throw new LoadError("LOAD_FILE_UNREADABLE", `load file ${path} ${reason}`);
  }
  return decodeLoadFile(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), expectedGenesisHash);
}
