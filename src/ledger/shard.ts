/**
 * Shard map (DESIGN.md §3, white paper §3 "UTXO model"): an output belongs to the shard
 * `u32le(SHA-256(owner)[0..4]) mod m`, where `owner` is its 32-byte Ed25519 public key and `m` the
 * shard count of the current epoch.
 *
 * API: `shardOfOwner(owner, shardCount): number`, `checkShardCount(m)`, `checkShardIndex(shard, m)`.
 */
import { PUBLIC_KEY_BYTES } from "../codec/sizes.js";
import { readU32 } from "../codec/binary.js";
import { defaultSha256Wasm } from "../crypto/sha256.js";
import { check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

/** Upper bound on shards: keeps shard ids in a u32 and per-shard tables of the node small. */
export const MAX_SHARDS = 1024;

export function checkShardCount(shardCount: number): void {
  check<LedgerErrorCode>(
    Number.isInteger(shardCount) && shardCount >= 1 && shardCount <= MAX_SHARDS,
    "SHARD_BAD_COUNT",
    `shard count must be an integer in 1..${MAX_SHARDS}, got ${shardCount}`,
  );
}

export function checkShardIndex(shard: number, shardCount: number): void {
  checkShardCount(shardCount);
  check<LedgerErrorCode>(
    Number.isInteger(shard) && shard >= 0 && shard < shardCount,
    "SHARD_BAD_INDEX",
    `shard must be an integer in 0..${shardCount - 1}, got ${shard}`,
  );
}

/** The shard of an output owned by `owner` when there are `shardCount` shards. */
export function shardOfOwner(owner: Uint8Array, shardCount: number): number {
  checkShardCount(shardCount);
  check<LedgerErrorCode>(owner.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `owner must be ${PUBLIC_KEY_BYTES} bytes, got ${owner.length}`);
  if (shardCount === 1) return 0;
  // The digest is read in place from the kernel's output buffer: no allocation per owner.
  const sha = defaultSha256Wasm();
  sha.digestToOut(owner);
  const digest = sha.out;
  return readU32(digest, 0) % shardCount;
}
