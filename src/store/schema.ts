/**
 * On-disk layout of a validator's LMDB environment (DESIGN.md §3). All keys and values are raw
 * bytes (no msgpack): integers little-endian except block-height keys, which are big-endian so
 * that LMDB's byte order is height order and blocks are appended at the end of the B-tree.
 *
 *   sub-database   key                          value
 *   blocks         u64be height                 encoded block (src/ledger/block.ts)
 *   blockHeights   block hash [32]              u64le height
 *   txIndex        txid [32]                    u64le height ‖ u32le position in the block body
 *   utxo           outpoint [36]                owner [32] ‖ u64le amount   (UtxoTable entry split 36/40)
 *   meta           "identity"                   magic [8] ‖ u32le schema ‖ u32le shard ‖ genesis id [32]
 *                  "tip"                        u64le height ‖ block hash [32]   (height 0 = genesis id)
 *                  "flushed"                    u64le height ‖ u64le count ‖ u64le supply
 *                  "epoch"                      u32le epoch
 *
 * "flushed" says the utxo sub-database is the UTXO set after block `height` exactly, holding `count`
 * entries whose amounts sum to `supply`; it is written in the same transaction as those entries.
 */
import { StoreError, storeCheck } from "./errors.js";
import { AMOUNT_BYTES, HASH_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES } from "../codec/sizes.js";

/** Bumped whenever a layout above changes; a store of another version is refused, not migrated. */
export const SCHEMA_VERSION = 1;
export const STORE_MAGIC = Buffer.from("IOSCHAIN", "latin1");

/** owner public key [32] ‖ u64le amount; the key is an OUTPOINT (src/ledger/transaction.ts `outpointKey`). */
export const UTXO_VALUE_BYTES = PUBLIC_KEY_BYTES + AMOUNT_BYTES;
/** A packed UtxoTable entry: outpoint ‖ value. */
export const UTXO_ENTRY_BYTES = OUTPOINT_BYTES + UTXO_VALUE_BYTES;

export const SUB_DATABASES = ["blocks", "blockHeights", "txIndex", "utxo", "meta"] as const;
export type SubDatabase = (typeof SUB_DATABASES)[number];

export const META_IDENTITY = Buffer.from("identity", "latin1");
export const META_TIP = Buffer.from("tip", "latin1");
export const META_FLUSHED = Buffer.from("flushed", "latin1");
export const META_EPOCH = Buffer.from("epoch", "latin1");
export const META_CONSENSUS = Buffer.from("consensus", "latin1");
/** A consensus layer's per-block record (META_CONSENSUS) is a few hashes, never more than this. */
export const MAX_CONSENSUS_STATE_BYTES = 4096;

const IDENTITY_BYTES = STORE_MAGIC.length + 4 + 4 + HASH_BYTES;
const TIP_BYTES = 8 + HASH_BYTES;
const FLUSHED_BYTES = 24;
const TX_LOCATION_BYTES = 12;
const U64_MAX = (1n << 64n) - 1n;

export interface StoreIdentity {
  readonly shard: number;
  /** What the chain grows from: block 1's previous hash (the genesis txid). */
  readonly genesisId: Uint8Array;
}

export interface ChainTip {
  readonly height: number;
  readonly hash: Uint8Array;
}

export interface FlushMarker {
  readonly height: number;
  readonly count: number;
  readonly supply: bigint;
}

export interface TxLocation {
  readonly height: number;
  /** Index of the transaction in its block's body. */
  readonly position: number;
}

function corrupt(record: string, expected: number, actual: number): never {
  throw new StoreError("STORE_CORRUPT", `${record} record has ${actual} bytes, expected ${expected}`);
}

function readHeight(buffer: Buffer, offset: number, record: string): number {
  const height = buffer.readBigUInt64LE(offset);
  storeCheck(height <= BigInt(Number.MAX_SAFE_INTEGER), "STORE_CORRUPT", `${record} height ${height} exceeds 2^53 - 1`);
  return Number(height);
}

export function heightKey(height: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(BigInt(height));
  return key;
}

export function decodeHeightKey(key: Buffer): number {
  if (key.length !== 8) corrupt("block key", 8, key.length);
  const height = key.readBigUInt64BE(0);
  storeCheck(height <= BigInt(Number.MAX_SAFE_INTEGER), "STORE_CORRUPT", `block key height ${height} exceeds 2^53 - 1`);
  return Number(height);
}

export function encodeHeightValue(height: number): Buffer {
  const value = Buffer.allocUnsafe(8);
  value.writeBigUInt64LE(BigInt(height));
  return value;
}

export function decodeHeightValue(value: Buffer): number {
  if (value.length !== 8) corrupt("block height", 8, value.length);
  return readHeight(value, 0, "block height");
}

export function encodeIdentity(identity: StoreIdentity): Buffer {
  const value = Buffer.alloc(IDENTITY_BYTES);
  STORE_MAGIC.copy(value, 0);
  value.writeUInt32LE(SCHEMA_VERSION, 8);
  value.writeUInt32LE(identity.shard, 12);
  value.set(identity.genesisId, 16);
  return value;
}

/** Checks magic and schema version first, so a foreign or older store says so rather than "corrupt". */
export function decodeIdentity(value: Buffer): StoreIdentity {
  storeCheck(value.length >= 12 && value.subarray(0, 8).equals(STORE_MAGIC), "STORE_FOREIGN", "the identity record lacks the IOSCHAIN magic");
  const version = value.readUInt32LE(8);
  storeCheck(version === SCHEMA_VERSION, "STORE_SCHEMA_MISMATCH", `store schema version ${version}, this program reads version ${SCHEMA_VERSION}`);
  if (value.length !== IDENTITY_BYTES) corrupt("identity", IDENTITY_BYTES, value.length);
  return { shard: value.readUInt32LE(12), genesisId: new Uint8Array(value.subarray(16, 16 + HASH_BYTES)) };
}

export function encodeTip(tip: ChainTip): Buffer {
  const value = Buffer.allocUnsafe(TIP_BYTES);
  value.writeBigUInt64LE(BigInt(tip.height), 0);
  value.set(tip.hash, 8);
  return value;
}

export function decodeTip(value: Buffer): ChainTip {
  if (value.length !== TIP_BYTES) corrupt("tip", TIP_BYTES, value.length);
  return { height: readHeight(value, 0, "tip"), hash: new Uint8Array(value.subarray(8, 8 + HASH_BYTES)) };
}

export function encodeFlushMarker(marker: FlushMarker): Buffer {
  const value = Buffer.allocUnsafe(FLUSHED_BYTES);
  value.writeBigUInt64LE(BigInt(marker.height), 0);
  value.writeBigUInt64LE(BigInt(marker.count), 8);
  value.writeBigUInt64LE(marker.supply, 16);
  return value;
}

export function decodeFlushMarker(value: Buffer): FlushMarker {
  if (value.length !== FLUSHED_BYTES) corrupt("flushed", FLUSHED_BYTES, value.length);
  const count = value.readBigUInt64LE(8);
  storeCheck(count <= BigInt(Number.MAX_SAFE_INTEGER), "STORE_CORRUPT", `flushed count ${count} exceeds 2^53 - 1`);
  return { height: readHeight(value, 0, "flushed"), count: Number(count), supply: value.readBigUInt64LE(16) };
}

export function encodeEpoch(epoch: number): Buffer {
  const value = Buffer.allocUnsafe(4);
  value.writeUInt32LE(epoch);
  return value;
}

export function decodeEpoch(value: Buffer): number {
  if (value.length !== 4) corrupt("epoch", 4, value.length);
  return value.readUInt32LE(0);
}

export function encodeTxLocation(height: number, position: number): Buffer {
  const value = Buffer.allocUnsafe(TX_LOCATION_BYTES);
  value.writeBigUInt64LE(BigInt(height), 0);
  value.writeUInt32LE(position, 8);
  return value;
}

export function decodeTxLocation(value: Buffer): TxLocation {
  if (value.length !== TX_LOCATION_BYTES) corrupt("tx location", TX_LOCATION_BYTES, value.length);
  return { height: readHeight(value, 0, "tx location"), position: value.readUInt32LE(8) };
}

export function isU64(value: bigint): boolean {
  return value >= 0n && value <= U64_MAX;
}
