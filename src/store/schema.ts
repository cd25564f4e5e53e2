/**
 * On-disk layout of a validator's LMDB environment (DESIGN.md §3). All keys and values are raw
 * bytes (no msgpack): integers little-endian except block-height keys, which are big-endian so
 * that LMDB's byte order is height order and blocks are appended at the end of the B-tree.
 *
 *   sub-database   key                          value
 *   blocks         u64be height                 encoded block (src/ledger/block.ts)
 *   blockHeights   block hash [32]              u64le height
 *   txIndex        u64be run ‖ txid [32]        u64le height ‖ u32le position in the block body
 *                                               (run: the height whose transaction wrote the entry)
 *   utxo           u64be height ‖ u8 part ‖     the flushed UTXO set as a log (below, "The UTXO log"): part 0 a
 *                  u32be chunk                  chunk of the base's packed 76-byte entries (UtxoTable form, any
 *                                               order), 1 of a flush's spent 36-byte outpoints, 2 of its created
 *                                               entries; UTXO_LOG_CHUNK_BYTES at most, chunks numbered from 0
 *   meta           "identity"                   magic [8] ‖ u32le schema ‖ u32le shard ‖ genesis id [32]
 *                  "tip"                        u64le height ‖ block hash [32]   (height 0 = genesis id)
 *                  "flushed"                    u64le height ‖ u64le count ‖ u64le supply ‖ u64le base height ‖
 *                                               u64le base count ‖ u64le bytes logged since the base
 *                  "epoch"                      u32le epoch
 *   consensus      u64be height                 the consensus layer's record of that block (PoB:
 *                                               proposal hash, state commitment, replica state)
 *   orderedBlocks  block hash [32]              an optimistic block a final block ordered (PoB), as
 *                                               sealed: what a replica catching up re-executes
 *   rejections     txid [32]                    u64le height ‖ u8 |code| ‖ code (Latin-1): a final
 *                                               block decided this transaction invalid, and why
 *   accepted       txid [32]                    the transaction's bytes: answered "accepted" here and
 *                                               not settled yet, so a restart queues it again
 *   atomix         cross txid [32]              u8 phase ‖ u64le height ‖ u64le decided at ‖ u16le |proof| ‖
 *                                               proof: the phase this shard's final chain reached for a
 *                                               cross-shard transaction (src/atomix/phases.ts), the height
 *                                               that reached it, the height whose block and finalHeights
 *                                               record prove this shard's lock decision (0: none, an output
 *                                               shard or a restored entry), and that proof's bytes only
 *                                               once its height was pruned (src/atomix/stored-proofs.ts:
 *                                               a proof is built when read, not stored per lock)
 *   atomixDecided  u64be decided at ‖ cross txid [32]   empty: the atomix entries by the height that decided their
 *                                               lock, written with the entry, so a prune reads the heights it
 *                                               drops instead of the whole table (which is never pruned)
 *   epochLinks     u32be epoch                  u32le |configuration| ‖ configuration ‖ u32le |certificate| ‖
 *                                               certificate: link e ≥ 1 of the identity chain (src/epoch/identity),
 *                                               epochs 1..last without a gap
 *   epochTranscripts u32be epoch                the DRP transcript whose hash configuration e names
 *                                               (src/epoch/drp/transcript.ts), written with the link
 *   changeProofs   txid [32]                    u32le |tx| ‖ a registration or leave the final chain
 *                                               applied ‖ the decision proof of its acceptance: what
 *                                               the epoch's boundary carries (src/epoch/transition)
 *   finalHeights   u64be height                 u32le |certificate| ‖ the block's final-height certificate
 *                                               (src/atomix/proof.ts) ‖ u32le |proposal| ‖ the final
 *                                               proposal it certifies ‖ u32le n ‖ n coded txids (the block's
 *                                               rejections, in order) ‖ u32le m ‖ m × (cross txid [32] ‖
 *                                               u8 phase): its Atomix phase writes in order; what a peer
 *                                               syncing the shard fetches with the block (src/node/sync)
 *   msbHeaders     u32be epoch                  the shard's MSB header of that epoch (src/msb/header.ts encoding),
 *                                               written with the epoch's last final block: every one is kept
 *   msbBody        u32be epoch ‖ u32be chunk    the body of a kept MSB (the latest MSB_BODIES_KEPT): its packed 76-byte
 *                                               entries in outpoint order, MSB_BODY_CHUNK_ENTRIES per chunk (the last one
 *                                               shorter); the oldest body is deleted, in the same transaction, when a
 *                                               newer MSB is stored beyond the kept number
 *   msbDecisions   u32be epoch ‖ u32be chunk    a kept MSB's decisions (src/msb/decisions.ts): packed 33-byte
 *                                               leaves (cross txid ‖ u8 phase) in cross txid order, MSB_BODY_CHUNK_ENTRIES
 *                                               per chunk; kept and deleted with the body (the atomix table moves on after
 *                                               the MSB's height, so what a joiner fetches is kept as it was)
 *                  (meta) "msb"                 u32le n ‖ n × (u32le epoch ‖ u32le count ‖ u32le chunks ‖ u32le decisions ‖
 *                                               u32le decision chunks): the kept MSBs, ascending epochs, n ≤ MSB_BODIES_KEPT
 *   (meta)         "pruned"                     u64le height h: the per-height records of heights < h are gone
 *                                               (StoredBlock `prune`), but the final-height records of epoch ends
 *   (meta)         "atomixIndexed"              empty: atomixDecided indexes every atomix entry decided at a kept height
 *
 * "flushed" says the utxo sub-database is the UTXO set after block `height` exactly, holding `count`
 * entries whose amounts sum to `supply`; it is written in the same transaction as those entries.
 *
 * The UTXO log (version 14). The set after the flushed height is the base (the whole set after
 * block `base height`, `base count` entries) with every later flush applied in height order: its
 * spent outpoints removed, then its created entries added (an outpoint deleted and created again in
 * one window is in both). A flush appends its parts under its own height, so it writes sequential
 * keys whatever the set's size; in one B-tree keyed by outpoint (before), each flush copied about a
 * page per write across the whole set, a cost that grew with it (bench/utxo-layout.bench.ts: 313 /
 * 829 / 1,412 ms of CPU per flush of 13k spends and 26k creations into 0.1 / 1 / 3 million entries,
 * 4.2 / 4.1 / 4.4 ms logged). Once the bytes logged since the base would reach the base's own
 * (`utxoCompactionDue`), the flush writes the whole set as the new base under its height and
 * deletes every older key instead: the log stays below twice the set, a restart replays at most
 * that, and each byte of the set is rewritten about once per byte logged.
 *
 * Pruning (white paper §8: a validator keeps the MSBs, and the regular blocks of epoch e until the
 * end of e + 1). When the MSB of epoch e is stored, the same transaction deletes, below height e·L
 * (the last of epoch e − 1: its block stays, the anchor of a join at MSB_{e−1}, node/sync), per sub-database:
 *  - blocks, consensus, finalHeights (by height key), blockHeights, txIndex, rejections (by the height
 *    in the value) and orderedBlocks (by the height in the optimistic block's header): per-height;
 *  - kept: finalHeights at epoch ends (a certificate anchors every MSB proof of its epoch: the MSB
 *    header's binding; one record per epoch, like msbHeaders); atomix (every entry, settled or not:
 *    it is the shard's replay guard, `admits` takes an absent phase for a first sight, so dropping a
 *    committed entry would let a replayed unlock-commit mint its outputs again); changeProofs (by
 *    txid, what a boundary carries; one per registration or leave); accepted (dropped when settled);
 *    epochLinks, epochTranscripts (the identity chain's archive); msbHeaders (every one); msbBody
 *    and msbDecisions (the latest two, whatever the pruning); utxo and meta (the state).
 *
 *  - atomix entries whose lock decision's height is pruned and whose proof may still be asked for
 *    (`keepsProofAfterPrune`, src/atomix/stored-proofs.ts: still locked, or settled by its lock
 *    within SETTLED_REWATCH_HEIGHTS) get that proof's bytes written into the entry, built from the
 *    height's block and record before they go; any other entry answers without a proof from then on.
 *
 * Restore (ChainStore `restoreAtMsb`, a node joining at an MSB): the atomix table becomes the MSB's
 * decisions, each entry at the MSB's height with no decision height and no proof (the proof of a
 * lock decision stays with the replicas that decided it; the phase is what the replay guard needs).
 *
 * Sub-databases are only ever added: a store of an older program (without the newer ones) opens
 * with them empty, and an older program refuses a newer store as STORE_FOREIGN, naming them.
 * atomixDecided (session 28) is built from the atomix table, in one transaction with meta
 * "atomixIndexed", when a store written before it opens (no such marker; one scan, once).
 * Version 5 added msbHeaders and msbBody and changed the final-height certificate (its commitment
 * parts gained the MSB header hash), so a version-4 store is refused, not migrated: a validator
 * syncs its shard again from peers into a fresh directory. Version 6 added msbDecisions and the MSB
 * header version 2 (its stored headers are v2; meta "msb" grew): a version-5 store is refused too.
 * Version 7 keys msbBody and msbDecisions by epoch and chunk and lists the kept MSBs in meta "msb"
 * (two bodies kept, so a joiner can join at the MSB before the latest): a version-6 store is
 * refused (STORE_SCHEMA_MISMATCH) and resynced, which joins at an MSB since version 6.
 * Version 8: final-height certificates (finalHeights, the MSB's epoch-end certificate) and decision
 * proofs (atomix, changeProofs) name the TransEpoch batch whose instance decided the height
 * (certificate and proof version 4, src/atomix/proof.ts), and every BFT statement signs the
 * batch's instance key: a version-7 store's certificates verify under no committee, so it is refused.
 * Version 9: an atomix entry names the height that decided its lock instead of holding the proof
 * (built on read from that height's block and record; issue 13: a ~0.76 KB proof per lock written
 * in every height's transaction on every replica was the largest storage cost of a cross-shard
 * transfer): a version-8 entry has no decision height, so the store is refused and resynced.
 * Version 10: stored blocks whose unlocks carry decision proofs cite their heights' certified parts
 * from a section of the block body (src/ledger/kinds/atomix-citations.ts); a version-9 block with
 * such proofs inline no longer decodes (BLOCK_PROOF_NOT_CITED: one encoding per block), so a
 * version-9 store is refused and resynced.
 * Version 11: every stored block's header carries the body root (block version 2, 162 bytes,
 * src/ledger/block.ts: a Merkle root of the full encodings, so signatures and proofs are bound by
 * the block hash); a version-10 block is BLOCK_UNKNOWN_VERSION, so the store is refused and resynced.
 * Version 12: the PoB state commitment's parts carry the final block's body root and previous
 * block hash (domain v6, src/consensus/pob/finalization.ts; final-height certificates and decision
 * proofs version 5, their parts 312 bytes): a version-11 store's certificates name commitments no version-12 replica
 * continues, and its cited parts no longer frame, so the store is refused and resynced.
 * Version 13: txIndex keys lead with their run, the height whose transaction wrote them (a UTXO
 * flush's, or a block stored with its own index), so a flush appends its entries at the table's
 * end instead of copying a page per entry across a txid-ordered tree (a cost that grew with the
 * index: bench/index-layout.bench.ts); lookups go to the run through an in-memory map of txid
 * prefixes (src/store/tx-run-map.ts) rebuilt at open. A version-12 store's entries are keyed by txid alone:
 * it is refused and resynced.
 * Version 14: the utxo sub-database is a log of chunks (above, "The UTXO log") and the "flushed"
 * marker names its base; a version-13 store's set is keyed by outpoint: it is refused and resynced.
 */
import { check } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";
import { BinaryReader, BinaryWriter, readU32, singleCode, writeU32, writeU64, writeU64BE } from "../codec/binary.js";
import { layout, type Layout } from "../codec/layout.js";
import { CODED_TXID, MAX_CODE_BYTES, codeBytesOf, codedTxidsSize, readCodedTxids, writeCodedTxids, type CodedTxid } from "../codec/coded-txids.js";
import { MAX_FINAL_HEIGHT_CERTIFICATE_BYTES } from "../atomix/proof.js";
import { HASH_BYTES, TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { MAX_PROPOSAL_BLOCKS } from "../consensus/pob/proposal.js";
import { MAX_BLOCK_BYTES } from "../ledger/block.js";
import { MAX_CONFIGURATION_BYTES } from "../epoch/identity/configuration.js";
import { MAX_CERTIFICATE_BYTES } from "../epoch/identity/link.js";
import type { IdentityLink } from "../epoch/identity/interface.js";

/** Bumped whenever a layout above changes; a store of another version is refused, not migrated. */
export const SCHEMA_VERSION = 14;
export const STORE_MAGIC = Buffer.from("IOSCHAIN", "latin1");

/** A utxo value: owner public key [32] ‖ u64le amount; the key is the outpoint (UTXO_ENTRY, src/codec/sizes.ts). */
export const UTXO_VALUE_BYTES = UTXO_ENTRY.size.owner + UTXO_ENTRY.size.amount;
export const UTXO_ENTRY_BYTES = UTXO_ENTRY.bytes;
/**
 * The most bytes of a utxo log chunk: one 4 KiB LMDB page less its 16-byte header, so a chunk is one
 * overflow page, which LMDB allocates without searching its free list for a run of pages (53
 * entries or 113 outpoints; bench/utxo-layout.bench.ts: a flush 4.1–4.4 ms of CPU, compactions
 * included 4.4–11.3, against 1.9–2.3 and 2.3–14.0 with 8,192-entry chunks).
 */
export const UTXO_LOG_CHUNK_BYTES = 4096 - 16;
/** The parts of a utxo log key, in the order a height's are applied. */
export const UtxoLogPart = { base: 0, spent: 1, created: 2 } as const;
export type UtxoLogPart = (typeof UtxoLogPart)[keyof typeof UtxoLogPart];

export const SUB_DATABASES = ["blocks", "blockHeights", "txIndex", "utxo", "meta", "consensus", "orderedBlocks", "rejections", "accepted", "atomix", "epochLinks", "epochTranscripts", "changeProofs", "finalHeights", "msbHeaders", "msbBody", "msbDecisions", "atomixDecided"] as const;
export type SubDatabase = (typeof SUB_DATABASES)[number];

export const META_IDENTITY = Buffer.from("identity", "latin1");
export const META_TIP = Buffer.from("tip", "latin1");
export const META_FLUSHED = Buffer.from("flushed", "latin1");
export const META_EPOCH = Buffer.from("epoch", "latin1");
export const META_MSB = Buffer.from("msb", "latin1");
export const META_PRUNED = Buffer.from("pruned", "latin1");
export const META_ATOMIX_INDEXED = Buffer.from("atomixIndexed", "latin1");
/** Entries per msbBody chunk: 8,192 × 76 B = 608 KiB per record. */
export const MSB_BODY_CHUNK_ENTRIES = 8192;
/**
 * MSB bodies (with their decisions) a store keeps: the latest and the one before it. A joiner joins
 * at the MSB before its target epoch's start and replays the epoch between (node/sync), so that it
 * holds the blocks of the last two epochs (the transaction proofs of issue 15's invariant); a source
 * already past the next epoch end still keeps the MSB at the joiner's target epoch's start.
 */
export const MSB_BODIES_KEPT = 2;
/**
 * A consensus layer's per-block record (the consensus sub-database): for PoB two hashes, the
 * believability accounts, the league changes and the optimistic blocks the height ordered
 * (src/consensus/pob/replica-state.ts), never more than this.
 */
export const MAX_CONSENSUS_STATE_BYTES = 512 * 1024;
/** Blocks one final block may order (a PoB final proposal's bound), each at most one ledger block. */
export const MAX_ORDERED_BLOCKS = MAX_PROPOSAL_BLOCKS;
export const MAX_ORDERED_BLOCK_BYTES = MAX_BLOCK_BYTES;

const HEIGHT_KEY = layout({ height: 8 });
const HEIGHT_VALUE = layout({ height: 8 });
const IDENTITY = layout({ magic: STORE_MAGIC.length, schema: 4, shard: 4, genesisId: HASH_BYTES });
const TIP = layout({ height: 8, hash: HASH_BYTES });
const FLUSHED = layout({ height: 8, count: 8, supply: 8, baseHeight: 8, baseCount: 8, logged: 8 });
const UTXO_LOG_KEY = layout({ height: 8, part: 1, chunk: 4 });
const EPOCH = layout({ epoch: 4 });
const KEPT_MSB = layout({ epoch: 4, count: 4, chunks: 4, decisions: 4, decisionChunks: 4 });
const MSB_CHUNK_KEY = layout({ epoch: 4, chunk: 4 });
const TX_LOCATION = layout({ height: 8, position: 4 });
const REJECTION = layout({ height: 8, codeLength: 1 });
const ATOMIX = layout({ phase: 1, height: 8, decidedAt: 8, proofLength: 2 });
const EPOCH_KEY = layout({ epoch: 4 });
const EPOCH_LINK = layout({ configurationLength: 4, certificateLength: 4 });
/** A stored proof of a lock decision: src/atomix/proof.ts MAX_DECISION_PROOF_BYTES. */
export const MAX_STORED_PROOF_BYTES = 16 * 1024;
const U64_MAX = (1n << 64n) - 1n;
/** A record of the wrong size or a height beyond 2^53 − 1 is STORE_CORRUPT. */
const RECORD_CODES = singleCode<StoreErrorCode>("STORE_CORRUPT");

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
  /** The utxo log's base: the height whose whole set it is, and its entries. */
  readonly baseHeight: number;
  readonly baseCount: number;
  /** Bytes of spent and created parts logged after the base. */
  readonly logged: number;
}

/** Whether a flush logging `bytes` more after `marker` writes the whole set as a new base instead (schema doc, "The UTXO log"). */
export function utxoCompactionDue(marker: FlushMarker, bytes: number): boolean {
  return marker.logged + bytes >= marker.baseCount * UTXO_ENTRY_BYTES;
}

/** The utxo log key of chunk `chunk` of `part` at `height`: height order, then part order, then chunk order. */
export function utxoLogKey(height: number, part: UtxoLogPart, chunk: number): Buffer {
  const key = Buffer.allocUnsafe(UTXO_LOG_KEY.bytes);
  writeU64BE(key, UTXO_LOG_KEY.offset.height, height);
  key[UTXO_LOG_KEY.offset.part] = part;
  key.writeUInt32BE(chunk, UTXO_LOG_KEY.offset.chunk);
  return key;
}

export function decodeUtxoLogKey(key: Buffer): { readonly height: number; readonly part: UtxoLogPart; readonly chunk: number } {
  check<StoreErrorCode>(key.length === UTXO_LOG_KEY.bytes, "STORE_CORRUPT", `a utxo key of ${key.length} bytes, expected ${UTXO_LOG_KEY.bytes}`);
  const part = key[UTXO_LOG_KEY.offset.part]!;
  check<StoreErrorCode>(part <= UtxoLogPart.created, "STORE_CORRUPT", `a utxo key of part ${part}`);
  return { height: keyHeightAt(key, UTXO_LOG_KEY.offset.height, "utxo"), part: part as UtxoLogPart, chunk: key.readUInt32BE(UTXO_LOG_KEY.offset.chunk) };
}

export interface TxLocation {
  readonly height: number;
  /** Index of the transaction in its block's body. */
  readonly position: number;
}

/** A reader over a `record` value that must be exactly `fields.bytes` long. */
function recordReader(value: Uint8Array, fields: Layout<Record<string, number>>, record: string): BinaryReader<StoreErrorCode> {
  const reader = new BinaryReader(value, RECORD_CODES);
  reader.expectRemaining(fields.bytes, `the ${record} record`);
  return reader;
}

/** The blocks key of `height`: big-endian, so LMDB's byte order is height order. */
export function heightKey(height: number): Buffer {
  const key = Buffer.allocUnsafe(HEIGHT_KEY.bytes);
  writeU64BE(key, HEIGHT_KEY.offset.height, height);
  return key;
}

/**
 * A key ordered by a height, then a txid: atomixDecided's (the height that decided the entry's lock,
 * so a prune reads a range) and txIndex's (the entry's run: the height whose transaction wrote it,
 * so a flush appends at the table's end).
 */
function heightTxidKey(height: number, txid: Uint8Array): Buffer {
  const key = Buffer.allocUnsafe(HEIGHT_KEY.bytes + TXID_BYTES);
  writeU64BE(key, HEIGHT_KEY.offset.height, height);
  key.set(txid, HEIGHT_KEY.bytes);
  return key;
}

/** The u64be height at `at` of a `table` key, read without a BigInt (the open reads every txIndex key); STORE_CORRUPT beyond 2^53 − 1. */
function keyHeightAt(key: Buffer, at: number, table: string): number {
  const high = key.readUInt32BE(at);
  check<StoreErrorCode>(high < 2 ** 21, "STORE_CORRUPT", `a ${table} key's height exceeds 2^53 - 1`);
  return high * 2 ** 32 + key.readUInt32BE(at + 4);
}

/** The height leading a `table` key of that shape, checked (its size, a safe integer). */
function heightOfHeightTxidKey(key: Buffer, table: string): number {
  check<StoreErrorCode>(key.length === HEIGHT_KEY.bytes + TXID_BYTES, "STORE_CORRUPT", `a ${table} key is ${HEIGHT_KEY.bytes + TXID_BYTES} bytes, got ${key.length}`);
  return keyHeightAt(key, HEIGHT_KEY.offset.height, table);
}

function decodeHeightTxidKey(key: Buffer, table: string): { readonly height: number; readonly txid: Buffer } {
  return { height: heightOfHeightTxidKey(key, table), txid: key.subarray(HEIGHT_KEY.bytes) };
}

/** The atomixDecided key of an entry whose lock `decidedAt` decided. */
export function atomixDecidedKey(decidedAt: number, crossTxid: Uint8Array): Buffer {
  return heightTxidKey(decidedAt, crossTxid);
}

export function decodeAtomixDecidedKey(key: Buffer): { readonly decidedAt: number; readonly crossTxid: Buffer } {
  const { height, txid } = decodeHeightTxidKey(key, "atomixDecided");
  return { decidedAt: height, crossTxid: txid };
}

/** The txIndex key of `txid` written in the run of height `run`. */
export function txIndexKey(run: number, txid: Uint8Array): Buffer {
  return heightTxidKey(run, txid);
}

/** Where a txIndex key's txid starts. */
export const TX_INDEX_TXID_OFFSET = HEIGHT_KEY.bytes;

/** A txIndex key's run (its txid starts at TX_INDEX_TXID_OFFSET: no view made per key at open). */
export function txIndexRunOf(key: Buffer): number {
  return heightOfHeightTxidKey(key, "txIndex");
}

/** The value of a record whose key or presence says everything: atomixDecided entries, meta "atomixIndexed". */
export const EMPTY_VALUE = Buffer.alloc(0);

export function decodeHeightKey(key: Buffer): number {
  recordReader(key, HEIGHT_KEY, "block key");
  return keyHeightAt(key, HEIGHT_KEY.offset.height, "block");
}

export function encodeHeightValue(height: number): Buffer {
  const value = Buffer.allocUnsafe(HEIGHT_VALUE.bytes);
  writeU64(value, HEIGHT_VALUE.offset.height, height);
  return value;
}

export function decodeHeightValue(value: Buffer): number {
  return recordReader(value, HEIGHT_VALUE, "block height").u53("block height");
}

export function encodeIdentity(identity: StoreIdentity): Buffer {
  const value = Buffer.alloc(IDENTITY.bytes);
  value.set(STORE_MAGIC, IDENTITY.offset.magic);
  writeU32(value, IDENTITY.offset.schema, SCHEMA_VERSION);
  writeU32(value, IDENTITY.offset.shard, identity.shard);
  value.set(identity.genesisId, IDENTITY.offset.genesisId);
  return value;
}

/** Checks magic and schema version first, so a foreign or older store says so rather than "corrupt". */
export function decodeIdentity(value: Buffer): StoreIdentity {
  check<StoreErrorCode>(value.length >= IDENTITY.offset.shard && value.subarray(0, IDENTITY.size.magic).equals(STORE_MAGIC), "STORE_FOREIGN", "the identity record lacks the IOSCHAIN magic");
  const version = readU32(value, IDENTITY.offset.schema);
  check<StoreErrorCode>(version === SCHEMA_VERSION, "STORE_SCHEMA_MISMATCH", `store schema version ${version}, this program reads version ${SCHEMA_VERSION}`);
  const reader = recordReader(value, IDENTITY, "identity");
  reader.advance(IDENTITY.offset.shard);
  return { shard: reader.u32("shard"), genesisId: new Uint8Array(reader.bytes(HASH_BYTES)) };
}

export function encodeTip(tip: ChainTip): Buffer {
  const value = Buffer.allocUnsafe(TIP.bytes);
  writeU64(value, TIP.offset.height, tip.height);
  value.set(tip.hash, TIP.offset.hash);
  return value;
}

export function decodeTip(value: Buffer): ChainTip {
  const reader = recordReader(value, TIP, "tip");
  return { height: reader.u53("tip height"), hash: new Uint8Array(reader.bytes(HASH_BYTES)) };
}

export function encodeFlushMarker(marker: FlushMarker): Buffer {
  const value = Buffer.allocUnsafe(FLUSHED.bytes);
  writeU64(value, FLUSHED.offset.height, marker.height);
  writeU64(value, FLUSHED.offset.count, marker.count);
  writeU64(value, FLUSHED.offset.supply, marker.supply);
  writeU64(value, FLUSHED.offset.baseHeight, marker.baseHeight);
  writeU64(value, FLUSHED.offset.baseCount, marker.baseCount);
  writeU64(value, FLUSHED.offset.logged, marker.logged);
  return value;
}

export function decodeFlushMarker(value: Buffer): FlushMarker {
  const reader = recordReader(value, FLUSHED, "flushed");
  return {
    height: reader.u53("flushed height"), count: reader.u53("flushed count"), supply: reader.u64("flushed supply"),
    baseHeight: reader.u53("utxo base height"), baseCount: reader.u53("utxo base count"), logged: reader.u53("utxo bytes logged"),
  };
}

/** The "pruned" marker: the lowest height whose per-height records are all kept (1 when nothing was pruned). */
export function encodePrunedBelow(height: number): Buffer {
  return encodeHeightValue(height);
}

export function decodePrunedBelow(value: Buffer): number {
  return recordReader(value, HEIGHT_VALUE, "pruned marker").u53("pruned height");
}

export function encodeEpoch(epoch: number): Buffer {
  const value = Buffer.allocUnsafe(EPOCH.bytes);
  writeU32(value, EPOCH.offset.epoch, epoch);
  return value;
}

export function decodeEpoch(value: Buffer): number {
  return recordReader(value, EPOCH, "epoch").u32("epoch");
}

/** An MSB whose body and decisions the msbBody and msbDecisions sub-databases hold (meta "msb"). */
export interface KeptMsb {
  readonly epoch: number;
  /** UTXO entries of the body, in `chunks` msbBody records. */
  readonly count: number;
  readonly chunks: number;
  /** Decision leaves, in `decisionChunks` msbDecisions records. */
  readonly decisions: number;
  readonly decisionChunks: number;
}

/** Meta "msb": the kept MSBs, ascending epochs. */
export function encodeKeptMsbs(kept: readonly KeptMsb[]): Buffer {
  const writer = BinaryWriter.ofSize(4 + kept.length * KEPT_MSB.bytes).u32(kept.length);
  for (const msb of kept) writer.u32(msb.epoch).u32(msb.count).u32(msb.chunks).u32(msb.decisions).u32(msb.decisionChunks);
  return Buffer.from(writer.finish().buffer);
}

export function decodeKeptMsbs(value: Buffer): KeptMsb[] {
  const reader = new BinaryReader(value, RECORD_CODES);
  const n = reader.u32("kept MSBs");
  check<StoreErrorCode>(n >= 1 && n <= MSB_BODIES_KEPT, "STORE_CORRUPT", `meta "msb" lists ${n} MSBs, not 1..${MSB_BODIES_KEPT}`);
  reader.expectRemaining(n * KEPT_MSB.bytes, "the kept MSBs");
  const kept = Array.from({ length: n }, (): KeptMsb => ({
    epoch: reader.u32("MSB epoch"), count: reader.u32("MSB count"), chunks: reader.u32("MSB chunks"),
    decisions: reader.u32("MSB decisions"), decisionChunks: reader.u32("MSB decision chunks"),
  }));
  kept.forEach((msb, i) => {
    check<StoreErrorCode>(i === 0 || msb.epoch > kept[i - 1]!.epoch, "STORE_CORRUPT", `kept MSB epochs are not ascending (${kept.map((k) => k.epoch).join(", ")})`);
    check<StoreErrorCode>(msb.chunks === Math.ceil(msb.count / MSB_BODY_CHUNK_ENTRIES), "STORE_CORRUPT", `an MSB of ${msb.count} entries has not ${msb.chunks} chunks`);
    check<StoreErrorCode>(msb.decisionChunks === Math.ceil(msb.decisions / MSB_BODY_CHUNK_ENTRIES), "STORE_CORRUPT", `an MSB of ${msb.decisions} decisions has not ${msb.decisionChunks} chunks`);
  });
  return kept;
}

/** The msbBody (and msbDecisions) key of chunk `index` of epoch `epoch`'s MSB: big-endian, so LMDB's byte order is epoch, then the body's order. */
export function msbChunkKey(epoch: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(MSB_CHUNK_KEY.bytes);
  key.writeUInt32BE(epoch, MSB_CHUNK_KEY.offset.epoch);
  key.writeUInt32BE(index, MSB_CHUNK_KEY.offset.chunk);
  return key;
}

export function encodeTxLocation(height: number, position: number): Buffer {
  const value = Buffer.allocUnsafe(TX_LOCATION.bytes);
  writeU64(value, TX_LOCATION.offset.height, height);
  writeU32(value, TX_LOCATION.offset.position, position);
  return value;
}

export function decodeTxLocation(value: Buffer): TxLocation {
  const reader = recordReader(value, TX_LOCATION, "tx location");
  return { height: reader.u53("tx location height"), position: reader.u32("tx location position") };
}

/** Where and why a final block refused a transaction (the rejections sub-database). */
export interface StoredRejection {
  readonly height: number;
  readonly code: string;
}

export function encodeRejection(height: number, code: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(REJECTION.bytes + code.length);
  writeU64(value, REJECTION.offset.height, height);
  new BinaryWriter(value, REJECTION.offset.codeLength).lengthPrefixed("u8", code);
  return value;
}

export function decodeRejection(value: Uint8Array): StoredRejection {
  const reader = new BinaryReader(value, RECORD_CODES);
  const height = reader.u53("rejection height");
  const code = reader.lengthPrefixed("u8", MAX_CODE_BYTES, "rejection code");
  reader.expectEnd("the rejection record");
  return { height, code: Buffer.from(code.buffer, code.byteOffset, code.length).toString("latin1") };
}

/** A cross-shard transaction as this shard's final chain left it (the atomix sub-database). */
export interface StoredAtomix {
  /** src/atomix/phases.ts `encodeAtomixPhase`. */
  readonly phase: number;
  /** Final height that reached the phase. */
  readonly height: number;
  /** The height whose block and final-height record prove this shard's lock decision; NOT_DECIDED_HERE when none (an output shard, a restored entry). */
  readonly decidedAt: number;
  /** That proof's bytes, kept only once its height was pruned (schema doc); empty otherwise. */
  readonly proof: Uint8Array;
}

/** `StoredAtomix.decidedAt` of an entry with no lock decision here: height 0 is genesis, which decides nothing. */
export const NOT_DECIDED_HERE = 0;

export function encodeAtomix(entry: StoredAtomix): Buffer {
  return Buffer.from(BinaryWriter.ofSize(ATOMIX.bytes + entry.proof.length).u8(entry.phase).u64(entry.height).u64(entry.decidedAt).lengthPrefixed("u16", entry.proof).finish().buffer);
}

export function decodeAtomix(value: Uint8Array): StoredAtomix {
  const reader = new BinaryReader(value, RECORD_CODES);
  const phase = reader.u8("atomix phase");
  const height = reader.u53("atomix height");
  const decidedAt = reader.u53("atomix decision height");
  const proof = reader.lengthPrefixed("u16", MAX_STORED_PROOF_BYTES, "atomix proof").slice();
  reader.expectEnd("the atomix record");
  return { phase, height, decidedAt, proof };
}

export function isU64(value: bigint): boolean {
  return value >= 0n && value <= U64_MAX;
}

/** The epochLinks / epochTranscripts key of `epoch`: big-endian, so LMDB's byte order is epoch order. */
export function epochKey(epoch: number): Buffer {
  const key = Buffer.allocUnsafe(EPOCH_KEY.bytes);
  key.writeUInt32BE(epoch, EPOCH_KEY.offset.epoch);
  return key;
}

export function decodeEpochKey(key: Buffer): number {
  recordReader(key, EPOCH_KEY, "epoch key");
  return key.readUInt32BE(EPOCH_KEY.offset.epoch);
}

export function encodeEpochLink(link: IdentityLink): Buffer {
  const writer = BinaryWriter.ofSize(EPOCH_LINK.bytes + link.configuration.length + link.certificate.length);
  return Buffer.from(writer.lengthPrefixed("u32", link.configuration).lengthPrefixed("u32", link.certificate).finish().buffer);
}

export function decodeEpochLink(value: Uint8Array): IdentityLink {
  const reader = new BinaryReader(value, RECORD_CODES);
  const configuration = Uint8Array.from(reader.lengthPrefixed("u32", MAX_CONFIGURATION_BYTES, "epoch configuration"));
  const certificate = Uint8Array.from(reader.lengthPrefixed("u32", MAX_CERTIFICATE_BYTES, "epoch certificate"));
  reader.expectEnd("the epoch link record");
  return { configuration, certificate };
}

/** A certified block's record (the finalHeights sub-database). */
export interface StoredFinalHeight {
  readonly certificate: Uint8Array;
  /** The final proposal the certificate certifies (StoredBlock `proposal`). */
  readonly proposal: Uint8Array;
  /** The block's rejections (StoredBlock `rejections`), in order. */
  readonly rejections: readonly CodedTxid[];
  /** The block's Atomix phase writes (StoredBlock `atomix`), in order, without their proofs (the certificate and the lists give them back). */
  readonly atomix: readonly { readonly crossTxid: Uint8Array; readonly phase: number }[];
}

const PHASE_WRITE = layout({ crossTxid: TXID_BYTES, phase: 1 });
/**
 * A stored final proposal: a one-league proposal carries up to a block's worth of transactions
 * (MAX_BLOCK_BYTES) besides its fixed part, shares and league changes; twice that bounds it.
 */
export const MAX_STORED_PROPOSAL_BYTES = 2 * MAX_BLOCK_BYTES;

export function encodeFinalHeight(record: StoredFinalHeight): Buffer {
  const codes = codeBytesOf(record.rejections);
  const writer = BinaryWriter.ofSize(4 + record.certificate.length + 4 + record.proposal.length + 4 + codedTxidsSize(codes) + 4 + record.atomix.length * PHASE_WRITE.bytes)
    .lengthPrefixed("u32", record.certificate).lengthPrefixed("u32", record.proposal).u32(record.rejections.length);
  writeCodedTxids(writer, record.rejections, codes).u32(record.atomix.length);
  for (const { crossTxid, phase } of record.atomix) writer.bytes(crossTxid).u8(phase);
  return Buffer.from(writer.finish().buffer);
}

export function decodeFinalHeight(value: Uint8Array): StoredFinalHeight {
  // A plain view: the copies read from it are then plain Uint8Arrays, not Buffers.
  const reader = new BinaryReader(new Uint8Array(value.buffer, value.byteOffset, value.length), RECORD_CODES);
  const certificate = Uint8Array.from(reader.lengthPrefixed("u32", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "final-height certificate"));
  const proposal = Uint8Array.from(reader.lengthPrefixed("u32", MAX_STORED_PROPOSAL_BYTES, "final proposal"));
  const rejectionCount = reader.u32("rejection count");
  // Each entry takes at least CODED_TXID.bytes: a forged count fails before any allocation.
  reader.need(rejectionCount * CODED_TXID.bytes, "rejections");
  const rejections = readCodedTxids(reader, rejectionCount);
  const writeCount = reader.u32("atomix write count");
  reader.expectRemaining(writeCount * PHASE_WRITE.bytes, "the atomix writes");
  const atomix = Array.from({ length: writeCount }, () => ({ crossTxid: reader.bytes(TXID_BYTES, "cross txid").slice(), phase: reader.u8("phase") }));
  reader.expectEnd("the final-height record");
  return { certificate, proposal, rejections, atomix };
}
