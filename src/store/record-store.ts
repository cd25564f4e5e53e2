/**
 * The chain store's logic over a set of record tables (layout: schema.ts), shared by both
 * implementations of `ChainStore` (interface.ts): `LmdbChainStore` (chain-store.ts) keeps the
 * tables in an LMDB environment, `MemoryChainStore` (memory-store.ts) in memory. Checks, record
 * encodings, the metadata cache and the consistency checks on open live here once, so the two
 * answer the same inputs with the same results and the same error codes.
 *
 * Write path (DESIGN.md §3). Random-key puts are expensive, so the UTXO set is not written per
 * transaction:
 *  - `appendBlock` is one write transaction: the block (sequential key), its hash → height, the
 *    txids it applied, and the tip. Optionally the same transaction also carries a UTXO flush
 *    (its changes logged, or the whole set as a new base: schema.ts "The UTXO log") and its
 *    "flushed" marker (what ShardState does every FLUSH_INTERVAL_BLOCKS blocks), so a flush costs
 *    no extra sync.
 *  - `flushUtxos` writes a UTXO flush and the marker on its own (used on close).
 *    A PoB block's final-height certificate and proposal, with its rejections and phase writes in order,
 *    rides in the same transaction (the finalHeights sub-database, served to syncing peers), and so
 *    does the MSB an epoch's last block ends with (its header kept by epoch, its body and decisions
 *    by epoch, the oldest body deleted beyond MSB_BODIES_KEPT), and, when asked (StoredBlock `prune`), the deletion of the per-height
 *    records of old epochs (schema.ts "Pruning", `prune`) with the "pruned" marker.
 *  - `keepEpoch` writes epoch e's identity-chain link and DRP transcript in one transaction, e
 *    the one after the last kept (the epoch archive: what a validator serves of past transitions).
 */
import { TxRunMap } from "./tx-run-map.js";
import type { ChainStore, OrderedBlockBytes, ProvenTransaction, PruneRequest, StoredBlock, StoredMsb, StoredRestore, UtxoFlush, UtxoLogRecord } from "./interface.js";
import { decodeBlockHeader } from "../ledger/block.js";
import { ByteKeyMap } from "../ledger/byte-key-map.js";
import { MAX_MSB_HEADER_BYTES } from "../msb/header.js";
import { checkDecisions } from "../msb/decisions.js";
import { MSB_ERROR_CODES } from "../msb/interface.js";
import { BinaryWriter, readU32, readU64 } from "../codec/binary.js";
import { MAX_DECISION_PROOF_BYTES, MAX_FINAL_HEIGHT_CERTIFICATE_BYTES } from "../atomix/proof.js";
import { decisionProofAt, keepsProofAfterPrune } from "../atomix/stored-proofs.js";
import { MAX_ANY_TX_BYTES } from "../ledger/kinds/interface.js";
import { MAX_CODE_BYTES } from "../codec/coded-txids.js";
import { ATOMIX_DECISION, HASH_BYTES, OUTPOINT_BYTES, TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { MAX_TRANSCRIPT_BYTES } from "../epoch/drp/transcript.js";
import { MAX_CONFIGURATION_BYTES } from "../epoch/identity/configuration.js";
import type { IdentityLink } from "../epoch/identity/interface.js";
import { MAX_CERTIFICATE_BYTES } from "../epoch/identity/link.js";
import {
  MAX_CONSENSUS_STATE_BYTES,
  MAX_ORDERED_BLOCKS,
  MAX_ORDERED_BLOCK_BYTES,
  decodeRejection,
  encodeRejection,
  META_MSB,
  META_PRUNED,
  META_ATOMIX_INDEXED,
  decodePrunedBelow,
  encodePrunedBelow,
  MSB_BODY_CHUNK_ENTRIES,
  MSB_BODIES_KEPT,
  msbChunkKey,
  decodeKeptMsbs,
  encodeKeptMsbs,
  type KeptMsb,
  decodeFinalHeight,
  encodeFinalHeight,
  type StoredFinalHeight,
  decodeAtomix,
  encodeAtomix,
  atomixDecidedKey,
  decodeAtomixDecidedKey,
  TX_INDEX_TXID_OFFSET,
  txIndexKey,
  txIndexRunOf,
  EMPTY_VALUE,
  MAX_STORED_PROPOSAL_BYTES,
  NOT_DECIDED_HERE,
  type StoredAtomix,
  type StoredRejection,
  META_EPOCH,
  META_FLUSHED,
  META_IDENTITY,
  META_TIP,
  UTXO_ENTRY_BYTES,
  UTXO_LOG_CHUNK_BYTES,
  UtxoLogPart,
  decodeUtxoLogKey,
  utxoLogKey,
  decodeEpoch,
  decodeEpochKey,
  decodeEpochLink,
  encodeEpochLink,
  epochKey,
  decodeFlushMarker,
  decodeHeightKey,
  decodeHeightValue,
  decodeIdentity,
  decodeTip,
  decodeTxLocation,
  encodeEpoch,
  encodeFlushMarker,
  encodeHeightValue,
  encodeIdentity,
  encodeTip,
  encodeTxLocation,
  heightKey,
  isU64,
  type ChainTip,
  type FlushMarker,
  type StoreIdentity,
  type SubDatabase,
  type TxLocation,
} from "./schema.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";

/** An atomix entry's proof bytes while its deciding height is kept (schema doc). */
const NO_PROOF = new Uint8Array(0);

/** Keys from `start` (included) to `end` (excluded), in byte order. */
export interface KeyRange {
  readonly start: Buffer;
  readonly end: Buffer;
}

/** One sub-database of schema.ts: binary keys and values. */
export interface RecordTable {
  /** Keys and values to write may be any Uint8Array views: no Buffer made per record (a flush writes tens of thousands). */
  get(key: Uint8Array): Buffer | undefined;
  /** Inside `RecordEnvironment.transaction` only. `append`: the key sorts after every key (LMDB's append hint). */
  put(key: Uint8Array, value: Uint8Array, append?: boolean): void;
  /** Inside `RecordEnvironment.transaction` only. */
  remove(key: Uint8Array): void;
  isEmpty(): boolean;
  /** The greatest key (byte order), or undefined when empty. */
  lastKey(): Buffer | undefined;
  /** Every record in key (byte) order, as of the call; with `range`, those with start ≤ key < end. */
  entries(range?: KeyRange): Iterable<{ readonly key: Buffer; readonly value: Buffer }>;
  /** Every key in byte order, as of the call (no value read). */
  keys(): Iterable<Buffer>;
}

/** The tables of schema.ts and their atomic, durable write transactions. */
export interface RecordEnvironment {
  table(name: SubDatabase): RecordTable;
  /** Runs `writes` as one transaction: durable when this returns, discarded when `writes` throws. */
  transaction(writes: () => void): void;
  /**
   * Puts (value) or removes (null) records of `name` without blocking the caller: durable when
   * the promise resolves, in call order with every other write; calls of one turn share a commit.
   */
  writeLater(name: SubDatabase, writes: readonly { readonly key: Buffer; readonly value: Buffer | null }[]): Promise<void>;
  close(): Promise<void>;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isHeight(height: number): boolean {
  return Number.isSafeInteger(height) && height >= 0;
}

function checkOrderedBlock(entry: OrderedBlockBytes, i: number): void {
  check<StoreErrorCode>(entry.hash.length === HASH_BYTES, "STORE_BAD_INPUT", `ordered block ${i}: hash must be ${HASH_BYTES} bytes`);
  check<StoreErrorCode>(entry.bytes.length > 0 && entry.bytes.length <= MAX_ORDERED_BLOCK_BYTES, "STORE_BAD_INPUT", `ordered block ${i}: 1..${MAX_ORDERED_BLOCK_BYTES} bytes`);
}

function checkFlush(flush: UtxoFlush): void {
  check<StoreErrorCode>(isHeight(flush.count), "STORE_BAD_INPUT", "flush count must be a non-negative safe integer");
  check<StoreErrorCode>(isU64(flush.supply), "STORE_BAD_INPUT", "flush supply must be a u64");
  check<StoreErrorCode>(flush.spent.length % OUTPOINT_BYTES === 0, "STORE_BAD_INPUT", `spent must be a multiple of ${OUTPOINT_BYTES} bytes`);
  check<StoreErrorCode>(flush.created.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `created must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
  check<StoreErrorCode>(flush.base === undefined || flush.base.length === flush.count * UTXO_ENTRY_BYTES, "STORE_BAD_INPUT", `a base of ${flush.count} entries is ${flush.count * UTXO_ENTRY_BYTES} bytes`);
  const index = flush.txIndex;
  if (index !== undefined) {
    const n = index.heights.length;
    check<StoreErrorCode>(index.txids.length === n * TXID_BYTES && index.positions.length === n, "STORE_BAD_INPUT", `tx index: ${index.txids.length / TXID_BYTES} txids, ${n} heights, ${index.positions.length} positions`);
  }
}

/** The flushed marker after `flush` at `height`, following `previous` (schema.ts, "The UTXO log"). */
function markerAfter(previous: FlushMarker, height: number, flush: UtxoFlush): FlushMarker {
  const { count, supply } = flush;
  if (flush.base !== undefined) return { height, count, supply, baseHeight: height, baseCount: count, logged: 0 };
  return { height, count, supply, baseHeight: previous.baseHeight, baseCount: previous.baseCount, logged: previous.logged + flush.spent.length + flush.created.length };
}

/** Puts `packed` (items of `stride` bytes) as the utxo log's chunks of `part` at `height`, each at most UTXO_LOG_CHUNK_BYTES. */
function logChunks(utxo: RecordTable, height: number, part: UtxoLogPart, packed: Uint8Array, stride: number): void {
  const bytes = Math.floor(UTXO_LOG_CHUNK_BYTES / stride) * stride;
  for (let at = 0, chunk = 0; at < packed.length; at += bytes, chunk++) utxo.put(utxoLogKey(height, part, chunk), packed.subarray(at, at + bytes), true);
}

/**
 * The height an ordered (optimistic) block was built for, from its header; undefined for bytes that
 * do not decode, which pruning then leaves alone (a replica keeps only blocks it checked).
 */
function orderedBlockHeight(bytes: Buffer): number | undefined {
  try {
    return decodeBlockHeader(bytes).height;
  } catch {
    return undefined;
  }
}

/** An MSB section's packed leaves as msbBody / msbDecisions records: MSB_BODY_CHUNK_ENTRIES leaves each, the last one shorter. */
function msbChunks(packed: Uint8Array, leafBytes: number): Uint8Array[] {
  const chunkBytes = MSB_BODY_CHUNK_ENTRIES * leafBytes;
  return Array.from({ length: Math.ceil(packed.length / chunkBytes) }, (_, i) => packed.subarray(i * chunkBytes, (i + 1) * chunkBytes));
}

/** The leaves of an MSB's decisions (src/msb/decisions.ts), checked as the atomix table needs them: STORE_BAD_INPUT otherwise. */
function storedDecisionCount(decisions: Uint8Array): number {
  try {
    return checkDecisions(decisions);
  } catch (error) {
    if (hasCodeIn(error, MSB_ERROR_CODES)) throw new IosError<StoreErrorCode>("STORE_BAD_INPUT", `MSB decisions: ${error.message}`);
    throw error;
  }
}

export class RecordChainStore implements ChainStore {
  private closed = false;
  private identityRecord: StoreIdentity | undefined;
  private tipRecord: ChainTip | undefined;
  private flushedRecord: FlushMarker | undefined;
  private epochRecord = 0;
  private lastEpochRecord = 0;
  private keptMsbRecords: readonly KeptMsb[] = [];
  private prunedBelowRecord = 1;
  private readonly dbs: Record<SubDatabase, RecordTable>;
  /** The run of every txIndex entry, by txid prefix (tx-run-map.ts): rebuilt from the table at open and when entries are dropped. */
  private readonly txRuns = new TxRunMap();

  /** Reads and checks the metadata of `env`; STORE_FOREIGN / STORE_SCHEMA_MISMATCH / STORE_CORRUPT when it is not a sound store. */
  protected constructor(
    readonly location: string,
    private readonly env: RecordEnvironment,
  ) {
    this.dbs = {
      blocks: env.table("blocks"),
      blockHeights: env.table("blockHeights"),
      txIndex: env.table("txIndex"),
      utxo: env.table("utxo"),
      meta: env.table("meta"),
      consensus: env.table("consensus"),
      orderedBlocks: env.table("orderedBlocks"),
      rejections: env.table("rejections"),
      accepted: env.table("accepted"),
      atomix: env.table("atomix"),
      epochLinks: env.table("epochLinks"),
      epochTranscripts: env.table("epochTranscripts"),
      changeProofs: env.table("changeProofs"),
      finalHeights: env.table("finalHeights"),
      msbHeaders: env.table("msbHeaders"),
      msbBody: env.table("msbBody"),
      msbDecisions: env.table("msbDecisions"),
      atomixDecided: env.table("atomixDecided"),
    };
    this.loadMeta();
    if (this.identityRecord !== undefined && this.dbs.meta.get(META_ATOMIX_INDEXED) === undefined) this.indexAtomixDecisions();
    this.loadTxRuns();
  }

  /** The txRuns map from the txIndex table: one sequential scan of its keys. */
  private loadTxRuns(): void {
    this.txRuns.clear();
    for (const key of this.dbs.txIndex.keys()) this.txRuns.add(key, txIndexRunOf(key), TX_INDEX_TXID_OFFSET);
  }

  /** Remembers the runs of entries a committed transaction wrote: `count` txids packed in `txids`, all in run `run`. */
  private addTxRuns(txids: Uint8Array, count: number, run: number): void {
    for (let i = 0; i < count; i++) this.txRuns.add(txids, run, i * TXID_BYTES);
  }

  /** Builds atomixDecided from the atomix table's entries decided at kept heights (a store written before the index: schema.ts). */
  private indexAtomixDecisions(): void {
    const { atomix, atomixDecided, meta } = this.dbs;
    const keys: Buffer[] = [];
    for (const { key, value } of atomix.entries()) {
      const { decidedAt } = decodeAtomix(value);
      if (decidedAt !== NOT_DECIDED_HERE && decidedAt >= this.prunedBelowRecord) keys.push(atomixDecidedKey(decidedAt, key));
    }
    this.env.transaction(() => {
      for (const key of keys) atomixDecided.put(key, EMPTY_VALUE);
      meta.put(META_ATOMIX_INDEXED, EMPTY_VALUE);
    });
  }

  private loadMeta(): void {
    const { meta, blocks } = this.dbs;
    const identity = meta.get(META_IDENTITY);
    if (identity === undefined) {
      const populated = Object.values(this.dbs).some((db) => !db.isEmpty());
      check<StoreErrorCode>(!populated, "STORE_FOREIGN", `${this.location} has records but no IOSChain identity`);
      return;
    }
    this.identityRecord = decodeIdentity(identity);
    const tip = meta.get(META_TIP);
    const flushed = meta.get(META_FLUSHED);
    check<StoreErrorCode>(tip !== undefined && flushed !== undefined, "STORE_CORRUPT", "tip or flushed marker missing");
    this.tipRecord = decodeTip(tip);
    this.flushedRecord = decodeFlushMarker(flushed);
    const epoch = meta.get(META_EPOCH);
    this.epochRecord = epoch === undefined ? 0 : decodeEpoch(epoch);
    const msb = meta.get(META_MSB);
    this.keptMsbRecords = msb === undefined ? [] : decodeKeptMsbs(msb);
    const pruned = meta.get(META_PRUNED);
    this.prunedBelowRecord = pruned === undefined ? 1 : decodePrunedBelow(pruned);
    const tipHeight = this.tipRecord.height;
    check<StoreErrorCode>(this.flushedRecord.height <= tipHeight, "STORE_CORRUPT", `flushed height ${this.flushedRecord.height} is above the tip ${tipHeight}`);
    const lastKey = blocks.lastKey();
    const last = lastKey === undefined ? 0 : decodeHeightKey(lastKey);
    check<StoreErrorCode>(last === tipHeight, "STORE_CORRUPT", `the last stored block is ${last} but the tip says ${tipHeight}`);
    const lastOf = (table: RecordTable): number => {
      const key = table.lastKey();
      return key === undefined ? 0 : decodeEpochKey(key);
    };
    this.lastEpochRecord = lastOf(this.dbs.epochLinks);
    const lastTranscript = lastOf(this.dbs.epochTranscripts);
    check<StoreErrorCode>(lastTranscript === this.lastEpochRecord, "STORE_CORRUPT", `the last kept epoch link is ${this.lastEpochRecord} but the last transcript ${lastTranscript}`);
  }

  /** The store stops answering, its environment left as is: a crashed process's handle (memory-store.ts). */
  protected revoke(): void {
    this.closed = true;
  }

  private checkOpen(): void {
    check<StoreErrorCode>(!this.closed, "STORE_CLOSED", "the store is closed");
  }

  private checkInitialized(): void {
    this.checkOpen();
    check<StoreErrorCode>(this.identityRecord !== undefined, "STORE_NOT_INITIALIZED", "the store has no genesis state yet");
  }

  get initialized(): boolean {
    return this.identityRecord !== undefined;
  }

  get identity(): StoreIdentity {
    this.checkInitialized();
    return this.identityRecord!;
  }

  get tip(): ChainTip {
    this.checkInitialized();
    return this.tipRecord!;
  }

  get flushed(): FlushMarker {
    this.checkInitialized();
    return this.flushedRecord!;
  }

  get epoch(): number {
    return this.epochRecord;
  }

  /**
   * Writes the genesis state in one transaction: identity, tip = (0, genesisId), the UTXO entries
   * (packed 76-byte UtxoTable entries) and the flushed marker at height 0.
   */
  initialize(identity: StoreIdentity, entries: Uint8Array): void {
    this.checkOpen();
    check<StoreErrorCode>(this.identityRecord === undefined, "STORE_ALREADY_INITIALIZED", "the store already holds a chain");
    check<StoreErrorCode>(Number.isInteger(identity.shard) && identity.shard >= 0 && identity.shard <= 0xffffffff, "STORE_BAD_INPUT", "shard must be a u32");
    check<StoreErrorCode>(identity.genesisId.length === HASH_BYTES, "STORE_BAD_INPUT", `genesis id must be ${HASH_BYTES} bytes`);
    check<StoreErrorCode>(entries.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `entries must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
    const packed = asBuffer(entries);
    const count = packed.length / UTXO_ENTRY_BYTES;
    const order = Array.from({ length: count }, (_, i) => i * UTXO_ENTRY_BYTES);
    order.sort((a, b) => packed.compare(packed, b, b + OUTPOINT_BYTES, a, a + OUTPOINT_BYTES));
    let supply = 0n;
    order.forEach((at, i) => {
      if (i > 0) {
        const previous = order[i - 1]!;
        check<StoreErrorCode>(packed.compare(packed, previous, previous + OUTPOINT_BYTES, at, at + OUTPOINT_BYTES) !== 0, "STORE_BAD_INPUT", "duplicate outpoint in the genesis entries");
      }
      supply += readU64(packed, at + UTXO_ENTRY.offset.amount);
    });
    check<StoreErrorCode>(isU64(supply), "STORE_BAD_INPUT", "genesis supply exceeds u64");
    const tip: ChainTip = { height: 0, hash: new Uint8Array(identity.genesisId) };
    const flushed: FlushMarker = { height: 0, count, supply, baseHeight: 0, baseCount: count, logged: 0 };
    const { meta, utxo } = this.dbs;
    this.env.transaction(() => {
      meta.put(META_IDENTITY, encodeIdentity(identity));
      meta.put(META_TIP, encodeTip(tip));
      meta.put(META_FLUSHED, encodeFlushMarker(flushed));
      meta.put(META_EPOCH, encodeEpoch(0));
      meta.put(META_ATOMIX_INDEXED, EMPTY_VALUE);
      logChunks(utxo, 0, UtxoLogPart.base, packed, UTXO_ENTRY_BYTES);
    });
    this.identityRecord = { shard: identity.shard, genesisId: new Uint8Array(identity.genesisId) };
    this.tipRecord = tip;
    this.flushedRecord = flushed;
    this.epochRecord = 0;
  }

  /**
   * Appends the block at tip + 1 durably (see the header), with an optional UTXO flush whose
   * marker is this block's height. Returns once the transaction is on disk.
   */
  appendBlock(block: StoredBlock, flush?: UtxoFlush): void {
    this.checkInitialized();
    const tip = this.tipRecord!;
    check<StoreErrorCode>(isHeight(block.height), "STORE_BAD_INPUT", "block height must be a non-negative safe integer");
    check<StoreErrorCode>(block.height === tip.height + 1, "STORE_HEIGHT_GAP", `block height ${block.height} does not follow the tip ${tip.height}`);
    check<StoreErrorCode>(block.hash.length === HASH_BYTES, "STORE_BAD_INPUT", `block hash must be ${HASH_BYTES} bytes`);
    check<StoreErrorCode>(block.bytes.length > 0, "STORE_BAD_INPUT", "block bytes are empty");
    check<StoreErrorCode>(block.consensusState === undefined || block.consensusState.length <= MAX_CONSENSUS_STATE_BYTES, "STORE_BAD_INPUT",
      `consensus state exceeds ${MAX_CONSENSUS_STATE_BYTES} bytes`);
    check<StoreErrorCode>(block.txids.length % TXID_BYTES === 0, "STORE_BAD_INPUT", `txids must be a multiple of ${TXID_BYTES} bytes`);
    const txCount = block.txids.length / TXID_BYTES;
    check<StoreErrorCode>(block.positions.length === txCount, "STORE_BAD_INPUT", `${txCount} txids but ${block.positions.length} positions`);
    for (let i = 0; i < txCount; i++) {
      const position = block.positions[i]!;
      check<StoreErrorCode>(Number.isInteger(position) && position >= 0 && position <= 0xffffffff, "STORE_BAD_INPUT", `position ${i} must be a u32`);
    }
    const ordered = block.orderedBlocks ?? [];
    check<StoreErrorCode>(ordered.length <= MAX_ORDERED_BLOCKS, "STORE_BAD_INPUT", `at most ${MAX_ORDERED_BLOCKS} ordered blocks per block`);
    const rejections = (block.rejections ?? []).map((entry, i) => {
      check<StoreErrorCode>(entry.txid.length === TXID_BYTES, "STORE_BAD_INPUT", `rejection ${i}: txid must be ${TXID_BYTES} bytes`);
      const code = Buffer.from(entry.code, "latin1");
      check<StoreErrorCode>(code.length > 0 && code.length <= MAX_CODE_BYTES, "STORE_BAD_INPUT", `rejection ${i}: code must be 1..${MAX_CODE_BYTES} bytes`);
      return { key: entry.txid, value: encodeRejection(block.height, code) };
    });
    // One write per X (a height may move X twice: the last phase, decided if any write was, fresh if the first was).
    const atomixWrites = new ByteKeyMap<{ key: Uint8Array; phase: number; decided: boolean; fresh: boolean }>();
    (block.atomix ?? []).forEach((entry, i) => {
      check<StoreErrorCode>(entry.crossTxid.length === TXID_BYTES, "STORE_BAD_INPUT", `atomix ${i}: txid must be ${TXID_BYTES} bytes`);
      check<StoreErrorCode>(Number.isInteger(entry.phase) && entry.phase >= 0 && entry.phase <= 0xff, "STORE_BAD_INPUT", `atomix ${i}: phase must be a byte`);
      const earlier = atomixWrites.get(entry.crossTxid);
      if (earlier === undefined) atomixWrites.set(entry.crossTxid, { key: entry.crossTxid, phase: entry.phase, decided: entry.decided === true, fresh: entry.fresh === true });
      else atomixWrites.set(entry.crossTxid, { ...earlier, phase: entry.phase, decided: earlier.decided || entry.decided === true });
    });
    ordered.forEach(checkOrderedBlock);
    const changeProofs = (block.changeProofs ?? []).map(({ txid, tx, proof }, i) => {
      check<StoreErrorCode>(txid.length === TXID_BYTES && tx.length > 0 && tx.length <= MAX_ANY_TX_BYTES && proof.length > 0 && proof.length <= MAX_DECISION_PROOF_BYTES,
        "STORE_BAD_INPUT", `change ${i}: a ${TXID_BYTES}-byte txid, 1..${MAX_ANY_TX_BYTES} transaction bytes and a proof of 1..${MAX_DECISION_PROOF_BYTES} bytes`);
      return { key: Buffer.from(txid), value: Buffer.from(BinaryWriter.ofSize(4 + tx.length + proof.length).lengthPrefixed("u32", tx).bytes(proof).finish()) };
    });
    check<StoreErrorCode>((block.certificate === undefined) === (block.proposal === undefined), "STORE_BAD_INPUT", "a certificate and its proposal come together");
    check<StoreErrorCode>(block.certificate === undefined || (block.certificate.length > 0 && block.certificate.length <= MAX_FINAL_HEIGHT_CERTIFICATE_BYTES), "STORE_BAD_INPUT",
      `certificate must be 1..${MAX_FINAL_HEIGHT_CERTIFICATE_BYTES} bytes`);
    check<StoreErrorCode>(block.proposal === undefined || (block.proposal.length > 0 && block.proposal.length <= MAX_STORED_PROPOSAL_BYTES), "STORE_BAD_INPUT",
      `proposal must be 1..${MAX_STORED_PROPOSAL_BYTES} bytes`);
    const finalHeight = block.certificate === undefined ? undefined : encodeFinalHeight({
      certificate: block.certificate, proposal: block.proposal!, rejections: block.rejections ?? [], atomix: (block.atomix ?? []).map(({ crossTxid, phase }) => ({ crossTxid, phase })),
    });
    const msb = block.msb === undefined ? undefined : this.checkMsb(block.msb);
    const pruneBelow = block.prune === undefined ? undefined : this.pruneHorizon(block.prune);
    if (flush !== undefined) checkFlush(flush);
    const { hash } = block;
    check<StoreErrorCode>(this.dbs.blockHeights.get(hash) === undefined, "STORE_BAD_INPUT", "a block with this hash is already stored");
    const newTip: ChainTip = { height: block.height, hash: new Uint8Array(block.hash) };
    const marker = flush && markerAfter(this.flushedRecord!, block.height, flush);
    const { blocks, blockHeights, txIndex, meta, consensus, orderedBlocks, rejections: rejected, atomix, atomixDecided, changeProofs: proven, finalHeights } = this.dbs;
    const { txids } = block;
    this.env.transaction(() => {
      blocks.put(heightKey(block.height), block.bytes, true);
      blockHeights.put(hash, encodeHeightValue(block.height));
      for (let i = 0; i < txCount; i++) {
        txIndex.put(txIndexKey(block.height, txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES)), encodeTxLocation(block.height, block.positions[i]!));
      }
      meta.put(META_TIP, encodeTip(newTip));
      if (block.consensusState !== undefined) consensus.put(heightKey(block.height), block.consensusState, true);
      if (finalHeight !== undefined) finalHeights.put(heightKey(block.height), finalHeight, true);
      for (const entry of ordered) orderedBlocks.put(entry.hash, entry.bytes);
      for (const { key, value } of rejections) rejected.put(key, value);
      for (const { key, value } of changeProofs) proven.put(key, value);
      // A lock decision is proven by this height (built when read: src/atomix/stored-proofs.ts); a later phase keeps the entry's decision.
      atomixWrites.forEach(({ key, phase, decided, fresh }) => {
        const stored = decided || fresh ? undefined : atomix.get(key);
        const { decidedAt, proof } = stored === undefined ? { decidedAt: decided ? block.height : NOT_DECIDED_HERE, proof: NO_PROOF } : decodeAtomix(stored);
        atomix.put(key, encodeAtomix({ phase, height: block.height, decidedAt, proof }));
        if (decided) atomixDecided.put(atomixDecidedKey(block.height, key), EMPTY_VALUE);
      });
      if (flush !== undefined) this.writeFlush(flush, marker!);
      if (msb !== undefined) this.writeMsb(msb);
      if (pruneBelow !== undefined) this.prune(pruneBelow, block.prune!.epochLength, block.height);
    });
    this.tipRecord = newTip;
    if (pruneBelow !== undefined) {
      this.prunedBelowRecord = pruneBelow;
      this.loadTxRuns();
    } else {
      this.addTxRuns(txids, txCount, block.height);
      if (flush?.txIndex !== undefined) this.addTxRuns(flush.txIndex.txids, flush.txIndex.heights.length, block.height);
    }
    if (msb !== undefined) this.keptMsbRecords = msb.kept;
    if (marker !== undefined) this.flushedRecord = marker;
  }

  /** See ChainStore `restoreAtMsb`: checks first, then one transaction. */
  restoreAtMsb(restore: StoredRestore): void {
    this.checkInitialized();
    const { block, earlierHeaders } = restore;
    check<StoreErrorCode>(isHeight(block.height) && block.height > this.tipRecord!.height, "STORE_BAD_INPUT", `a restore at height ${block.height} does not lie above the tip ${this.tipRecord!.height}`);
    check<StoreErrorCode>(block.hash.length === HASH_BYTES && block.bytes.length > 0, "STORE_BAD_INPUT", "the restored block needs its bytes and a 32-byte hash");
    check<StoreErrorCode>(block.certificate.length > 0 && block.certificate.length <= MAX_FINAL_HEIGHT_CERTIFICATE_BYTES && block.proposal !== undefined
      && block.proposal.length > 0 && block.proposal.length <= MAX_STORED_PROPOSAL_BYTES, "STORE_BAD_INPUT", "the restored block needs its certificate and proposal");
    earlierHeaders.forEach(({ epoch, header }, i) => {
      check<StoreErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch < block.msb.epoch && header.length > 0 && header.length <= MAX_MSB_HEADER_BYTES, "STORE_BAD_INPUT",
        `earlier MSB header ${i}: an epoch below ${block.msb.epoch} and 1..${MAX_MSB_HEADER_BYTES} bytes`);
    });
    // Every table holding the chain below the MSB goes: a restore replaces it, never mixes with it.
    const wiped: readonly SubDatabase[] = ["blocks", "blockHeights", "txIndex", "utxo", "consensus", "finalHeights", "rejections", "atomix", "atomixDecided", "changeProofs", "msbHeaders", "msbBody", "msbDecisions"];
    const body = asBuffer(block.msb.body);
    check<StoreErrorCode>(body.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `the MSB body must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
    const count = body.length / UTXO_ENTRY_BYTES;
    let supply = 0n;
    for (let at = 0; at < body.length; at += UTXO_ENTRY_BYTES) {
      check<StoreErrorCode>(at === 0 || body.compare(body, at - UTXO_ENTRY_BYTES, at - UTXO_ENTRY_BYTES + OUTPOINT_BYTES, at, at + OUTPOINT_BYTES) > 0,
        "STORE_BAD_INPUT", "the MSB body's outpoints are not strictly ascending");
      supply += readU64(body, at + UTXO_ENTRY.offset.amount);
    }
    check<StoreErrorCode>(isU64(supply), "STORE_BAD_INPUT", "the MSB body's supply exceeds u64");
    const decisions = block.msb.decisions;
    const decisionCount = storedDecisionCount(decisions);
    const chunks = msbChunks(body, UTXO_ENTRY_BYTES);
    const decisionChunks = msbChunks(decisions, ATOMIX_DECISION.bytes);
    const kept: KeptMsb[] = [{ epoch: block.msb.epoch, count, chunks: chunks.length, decisions: decisionCount, decisionChunks: decisionChunks.length }];
    // The replay guard: every phase decided up to the MSB, at its height; the lock proofs stay with the replicas that decided them.
    const restoredPhase = (at: number) => encodeAtomix({ phase: decisions[at + ATOMIX_DECISION.offset.phase]!, height: block.height, decidedAt: NOT_DECIDED_HERE, proof: NO_PROOF });
    const tip: ChainTip = { height: block.height, hash: new Uint8Array(block.hash) };
    const flushed: FlushMarker = { height: block.height, count, supply, baseHeight: block.height, baseCount: count, logged: 0 };
    const finalHeight = encodeFinalHeight({
      certificate: block.certificate, proposal: block.proposal, rejections: block.rejections ?? [], atomix: (block.atomix ?? []).map(({ crossTxid, phase }) => ({ crossTxid, phase })),
    });
    const { blocks, blockHeights, meta, utxo, finalHeights, msbHeaders, msbBody, msbDecisions, atomix } = this.dbs;
    this.env.transaction(() => {
      for (const name of wiped) {
        const table = this.dbs[name];
        const keys = Array.from(table.entries(), ({ key }) => Buffer.from(key));
        for (const key of keys) table.remove(key);
      }
      logChunks(utxo, block.height, UtxoLogPart.base, body, UTXO_ENTRY_BYTES);
      for (let at = 0; at < decisions.length; at += ATOMIX_DECISION.bytes) atomix.put(decisions.subarray(at, at + TXID_BYTES), restoredPhase(at), true);
      blocks.put(heightKey(block.height), block.bytes, true);
      blockHeights.put(block.hash, encodeHeightValue(block.height));
      finalHeights.put(heightKey(block.height), finalHeight, true);
      for (const { epoch, header } of earlierHeaders) msbHeaders.put(epochKey(epoch), header);
      msbHeaders.put(epochKey(block.msb.epoch), block.msb.header);
      chunks.forEach((chunk, i) => msbBody.put(msbChunkKey(block.msb.epoch, i), chunk));
      decisionChunks.forEach((chunk, i) => msbDecisions.put(msbChunkKey(block.msb.epoch, i), chunk));
      meta.put(META_MSB, encodeKeptMsbs(kept));
      meta.put(META_TIP, encodeTip(tip));
      meta.put(META_FLUSHED, encodeFlushMarker(flushed));
      meta.put(META_PRUNED, encodePrunedBelow(block.height));
    });
    this.tipRecord = tip;
    this.flushedRecord = flushed;
    this.keptMsbRecords = kept;
    this.prunedBelowRecord = block.height;
    this.txRuns.clear();
  }

  /** StoredBlock `msb`'s checks, before anything is written; its records and the kept MSBs after it. */
  private checkMsb(msb: StoredMsb): { readonly epoch: number; readonly header: Uint8Array; readonly chunks: Uint8Array[]; readonly decisionChunks: Uint8Array[]; readonly kept: readonly KeptMsb[] } {
    check<StoreErrorCode>(Number.isInteger(msb.epoch) && msb.epoch >= 0 && msb.epoch <= 0xffffffff, "STORE_BAD_INPUT", "MSB epoch must be a u32");
    check<StoreErrorCode>(msb.header.length > 0 && msb.header.length <= MAX_MSB_HEADER_BYTES, "STORE_BAD_INPUT", `MSB header must be 1..${MAX_MSB_HEADER_BYTES} bytes`);
    check<StoreErrorCode>(msb.body.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `MSB body must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
    const latest = this.keptMsbRecords.at(-1);
    check<StoreErrorCode>(latest === undefined || msb.epoch > latest.epoch, "STORE_BAD_INPUT", `MSB of epoch ${msb.epoch} does not follow the latest, of epoch ${latest?.epoch}`);
    const decisions = storedDecisionCount(msb.decisions);
    const chunks = msbChunks(msb.body, UTXO_ENTRY_BYTES);
    const decisionChunks = msbChunks(msb.decisions, ATOMIX_DECISION.bytes);
    const stored: KeptMsb = { epoch: msb.epoch, count: msb.body.length / UTXO_ENTRY_BYTES, chunks: chunks.length, decisions, decisionChunks: decisionChunks.length };
    return { epoch: msb.epoch, header: msb.header, chunks, decisionChunks, kept: [...this.keptMsbRecords, stored].slice(-MSB_BODIES_KEPT) };
  }

  /** Inside a write transaction: the header by epoch, the body and decisions by epoch, the bodies no longer kept deleted. */
  private writeMsb(msb: ReturnType<RecordChainStore["checkMsb"]>): void {
    const { msbHeaders, msbBody, msbDecisions, meta } = this.dbs;
    msbHeaders.put(epochKey(msb.epoch), msb.header, true);
    for (const dropped of this.keptMsbRecords.filter((old) => !msb.kept.includes(old))) {
      for (let i = 0; i < dropped.chunks; i++) msbBody.remove(msbChunkKey(dropped.epoch, i));
      for (let i = 0; i < dropped.decisionChunks; i++) msbDecisions.remove(msbChunkKey(dropped.epoch, i));
    }
    msb.chunks.forEach((chunk, i) => msbBody.put(msbChunkKey(msb.epoch, i), chunk, true));
    msb.decisionChunks.forEach((chunk, i) => msbDecisions.put(msbChunkKey(msb.epoch, i), chunk, true));
    meta.put(META_MSB, encodeKeptMsbs(msb.kept));
  }

  /**
   * StoredBlock `prune`'s checks, before anything is written: the new horizon, or undefined when it
   * would not move. Lowered to the flushed height (before this block's flush, whose index entries
   * the same transaction writes): a reopened state replays the blocks above its flushed set, linked
   * to the flushed block's hash.
   */
  private pruneHorizon(request: PruneRequest): number | undefined {
    check<StoreErrorCode>(isHeight(request.below), "STORE_BAD_INPUT", "prune height must be a non-negative safe integer");
    check<StoreErrorCode>(Number.isSafeInteger(request.epochLength) && request.epochLength >= 1, "STORE_BAD_INPUT", "prune epoch length must be a positive integer");
    const below = Math.min(request.below, this.flushedRecord!.height);
    return below > this.prunedBelowRecord ? below : undefined;
  }

  /**
   * Inside the block's write transaction: deletes the per-height records of heights
   * prunedBelow..below − 1 (schema.ts "Pruning"). Height-keyed tables are deleted key by key; the
   * tables keyed by hash or txid are scanned, and hold only what is above the previous horizon (about
   * two epochs), so one prune costs in proportion to the epochs kept, not the chain's length.
   */
  private prune(below: number, epochLength: number, height: number): void {
    const { blocks, consensus, finalHeights, blockHeights, txIndex, rejections, orderedBlocks, meta, atomix, atomixDecided } = this.dbs;
    // Proofs still asked for are cut from their heights before those go (schema doc, pruning): the
    // entries those heights decided, read by height; an index entry whose atomix entry names another
    // height (decided again since) only goes.
    const decidedKeys = Array.from(atomixDecided.entries({ start: heightKey(this.prunedBelowRecord), end: heightKey(below) }), ({ key }) => Buffer.from(key));
    const kept: { key: Buffer; entry: StoredAtomix }[] = [];
    for (const decidedKey of decidedKeys) {
      const { decidedAt, crossTxid: key } = decodeAtomixDecidedKey(decidedKey);
      const value = atomix.get(key);
      const entry = value === undefined ? undefined : decodeAtomix(value);
      if (entry !== undefined && entry.decidedAt === decidedAt && keepsProofAfterPrune(entry, height)) kept.push({ key, entry });
    }
    for (const { key, entry } of kept) atomix.put(key, encodeAtomix({ ...entry, proof: decisionProofAt(this, key, entry) ?? NO_PROOF }));
    for (const decidedKey of decidedKeys) atomixDecided.remove(decidedKey);
    for (let height = this.prunedBelowRecord; height < below; height++) {
      const key = heightKey(height);
      blocks.remove(key);
      consensus.remove(key);
      if (height % epochLength !== 0) finalHeights.remove(key);
    }
    const removeWhere = (table: RecordTable, heightOf: (value: Buffer) => number | undefined): void => {
      const stale: Buffer[] = [];
      for (const { key, value } of table.entries()) {
        const height = heightOf(value);
        if (height !== undefined && height < below) stale.push(key);
      }
      for (const key of stale) table.remove(key);
    };
    removeWhere(blockHeights, decodeHeightValue);
    removeWhere(txIndex, (value) => decodeTxLocation(value).height);
    removeWhere(rejections, (value) => decodeRejection(value).height);
    removeWhere(orderedBlocks, orderedBlockHeight);
    meta.put(META_PRUNED, encodePrunedBelow(below));
  }

  get prunedBelow(): number {
    this.checkInitialized();
    return this.prunedBelowRecord;
  }

  msbHeader(epoch: number): Uint8Array | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "STORE_BAD_INPUT", "epoch must be a u32");
    const value = this.dbs.msbHeaders.get(epochKey(epoch));
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  get keptMsbs(): readonly KeptMsb[] {
    this.checkInitialized();
    return this.keptMsbRecords;
  }

  get latestMsb(): KeptMsb | undefined {
    return this.keptMsbs.at(-1);
  }

  msbBody(epoch: number): Iterable<Uint8Array> | undefined {
    return this.msbChunks("msbBody", epoch, (kept) => kept.chunks);
  }

  msbDecisions(epoch: number): Iterable<Uint8Array> | undefined {
    return this.msbChunks("msbDecisions", epoch, (kept) => kept.decisionChunks);
  }

  private msbChunks(table: "msbBody" | "msbDecisions", epoch: number, chunksOf: (kept: KeptMsb) => number): Iterable<Uint8Array> | undefined {
    const kept = this.keptMsbs.find((msb) => msb.epoch === epoch);
    if (kept === undefined) return undefined;
    const records = this.dbs[table];
    const chunks = chunksOf(kept);
    return (function* () {
      for (let i = 0; i < chunks; i++) {
        const chunk = records.get(msbChunkKey(epoch, i));
        if (chunk === undefined) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `MSB ${table} chunk ${i} of ${chunks} of epoch ${epoch} is missing`);
        yield Uint8Array.from(chunk);
      }
    })();
  }

  /** Writes a UTXO batch and moves the flushed marker to the current tip, in one durable transaction. */
  flushUtxos(flush: UtxoFlush): void {
    this.checkInitialized();
    checkFlush(flush);
    const logs = flush.base === undefined && flush.spent.length + flush.created.length > 0;
    check<StoreErrorCode>(!logs || this.tipRecord!.height > this.flushedRecord!.height, "STORE_BAD_INPUT",
      `the tip ${this.tipRecord!.height} is flushed already: a flush there logs nothing`);
    const marker = markerAfter(this.flushedRecord!, this.tipRecord!.height, flush);
    this.env.transaction(() => this.writeFlush(flush, marker));
    this.flushedRecord = marker;
    if (flush.txIndex !== undefined) this.addTxRuns(flush.txIndex.txids, flush.txIndex.heights.length, marker.height);
  }

  /** Inside a write transaction: the flush's log records (or a new base, everything older deleted), then the marker. */
  private writeFlush(flush: UtxoFlush, marker: FlushMarker): void {
    const { utxo, meta, txIndex } = this.dbs;
    if (flush.base !== undefined) {
      // Every record is older than this height (the flushed height only grows). The keys are read
      // whole first: no cursor walks the table while its records go.
      for (const key of Array.from(utxo.keys(), (key) => Buffer.from(key))) utxo.remove(key);
      logChunks(utxo, marker.height, UtxoLogPart.base, flush.base, UTXO_ENTRY_BYTES);
    } else {
      logChunks(utxo, marker.height, UtxoLogPart.spent, flush.spent, OUTPOINT_BYTES);
      logChunks(utxo, marker.height, UtxoLogPart.created, flush.created, UTXO_ENTRY_BYTES);
    }
    const index = flush.txIndex;
    if (index !== undefined) {
      const { txids } = index;
      for (let i = 0; i < index.heights.length; i++) {
        txIndex.put(txIndexKey(marker.height, txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES)), encodeTxLocation(index.heights[i]!, index.positions[i]!));
      }
    }
    meta.put(META_FLUSHED, encodeFlushMarker(marker));
  }

  /** The consensus state stored with the block at `height`, if it carried one. */
  consensusStateAt(height: number): Uint8Array | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(isHeight(height), "STORE_BAD_INPUT", "height must be a non-negative safe integer");
    const value = this.dbs.consensus.get(heightKey(height));
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  /** What was kept with the certified block at `height` (StoredBlock `certificate`), if it carried one. */
  finalHeightRecord(height: number): StoredFinalHeight | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(isHeight(height), "STORE_BAD_INPUT", "height must be a non-negative safe integer");
    const value = this.dbs.finalHeights.get(heightKey(height));
    return value === undefined ? undefined : decodeFinalHeight(value);
  }

  orderedBlock(hash: Uint8Array): Uint8Array | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(hash.length === HASH_BYTES, "STORE_BAD_INPUT", `block hash must be ${HASH_BYTES} bytes`);
    const value = this.dbs.orderedBlocks.get(hash);
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  keepOrderedBlocks(blocks: readonly OrderedBlockBytes[]): Promise<void> {
    this.checkInitialized();
    check<StoreErrorCode>(blocks.length <= MAX_ORDERED_BLOCKS, "STORE_BAD_INPUT", `at most ${MAX_ORDERED_BLOCKS} ordered blocks at once`);
    blocks.forEach(checkOrderedBlock);
    // Copies: lmdb-js reads the values at the commit, after this returns (see keepAccepted).
    return this.env.writeLater("orderedBlocks", blocks.map(({ hash, bytes }) => ({ key: Buffer.from(hash), value: Buffer.from(bytes) })));
  }

  keepAccepted(transactions: readonly { readonly txid: Uint8Array; readonly tx: Uint8Array }[]): Promise<void> {
    this.checkInitialized();
    transactions.forEach(({ txid, tx }, i) => {
      check<StoreErrorCode>(txid.length === TXID_BYTES, "STORE_BAD_INPUT", `accepted ${i}: txid must be ${TXID_BYTES} bytes`);
      check<StoreErrorCode>(tx.length > 0, "STORE_BAD_INPUT", `accepted ${i}: no transaction bytes`);
    });
    // Copies, not views: lmdb-js's write thread reads a value through its address at the commit,
    // after this returns, and the caller's buffers may be reused by then.
    return this.env.writeLater("accepted", transactions.map(({ txid, tx }) => ({ key: Buffer.from(txid), value: Buffer.from(tx) })));
  }

  forgetAccepted(txids: readonly Uint8Array[]): Promise<void> {
    this.checkInitialized();
    txids.forEach((txid, i) => check<StoreErrorCode>(txid.length === TXID_BYTES, "STORE_BAD_INPUT", `forgotten ${i}: txid must be ${TXID_BYTES} bytes`));
    return this.env.writeLater("accepted", txids.map((txid) => ({ key: Buffer.from(txid), value: null })));
  }

  acceptedTransactions(): Uint8Array[] {
    this.checkInitialized();
    return [...this.dbs.accepted.entries()].map(({ value }) => Uint8Array.from(value));
  }

  *changeProofs(): Iterable<ProvenTransaction> {
    this.checkInitialized();
    for (const { key, value } of this.dbs.changeProofs.entries()) {
      const length = readU32(value, 0);
      yield { txid: Uint8Array.from(key), tx: Uint8Array.from(value.subarray(4, 4 + length)), proof: Uint8Array.from(value.subarray(4 + length)) };
    }
  }

  *atomixEntries(): Iterable<{ readonly crossTxid: Uint8Array; readonly entry: StoredAtomix }> {
    this.checkInitialized();
    for (const { key, value } of this.dbs.atomix.entries()) yield { crossTxid: Uint8Array.from(key), entry: decodeAtomix(value) };
  }

  atomix(crossTxid: Uint8Array): StoredAtomix | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(crossTxid.length === TXID_BYTES, "STORE_BAD_INPUT", `txid must be ${TXID_BYTES} bytes`);
    const value = this.dbs.atomix.get(crossTxid);
    return value === undefined ? undefined : decodeAtomix(value);
  }

  rejection(txid: Uint8Array): StoredRejection | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(txid.length === TXID_BYTES, "STORE_BAD_INPUT", `txid must be ${TXID_BYTES} bytes`);
    const value = this.dbs.rejections.get(txid);
    return value === undefined ? undefined : decodeRejection(value);
  }

  get lastEpoch(): number {
    this.checkInitialized();
    return this.lastEpochRecord;
  }

  /**
   * Keeps epoch `epoch`'s link and DRP transcript in one durable transaction. The caller verified
   * them (the transition's `onConfigured`); the store checks that the archive stays gap-free:
   * `epoch` = lastEpoch + 1, else STORE_BAD_INPUT.
   */
  keepEpoch(epoch: number, link: IdentityLink, transcript: Uint8Array): void {
    this.checkInitialized();
    const next = this.lastEpochRecord + 1;
    check<StoreErrorCode>(epoch === next, "STORE_BAD_INPUT", `epoch ${epoch} does not follow the last kept epoch ${this.lastEpochRecord}; the archive keeps ${next} next`);
    check<StoreErrorCode>(epoch <= 0xffffffff, "STORE_BAD_INPUT", "epoch must be a u32");
    check<StoreErrorCode>(link.configuration.length > 0 && link.configuration.length <= MAX_CONFIGURATION_BYTES, "STORE_BAD_INPUT", `configuration must be 1..${MAX_CONFIGURATION_BYTES} bytes`);
    check<StoreErrorCode>(link.certificate.length > 0 && link.certificate.length <= MAX_CERTIFICATE_BYTES, "STORE_BAD_INPUT", `certificate must be 1..${MAX_CERTIFICATE_BYTES} bytes`);
    check<StoreErrorCode>(transcript.length > 0 && transcript.length <= MAX_TRANSCRIPT_BYTES, "STORE_BAD_INPUT", `transcript must be 1..${MAX_TRANSCRIPT_BYTES} bytes`);
    const key = epochKey(epoch);
    this.env.transaction(() => {
      this.dbs.epochLinks.put(key, encodeEpochLink(link), true);
      this.dbs.epochTranscripts.put(key, Buffer.from(transcript), true);
    });
    this.lastEpochRecord = epoch;
  }

  /** Link `epoch` of the identity chain, if kept (epochs 1..lastEpoch). */
  epochLink(epoch: number): IdentityLink | undefined {
    const value = this.epochRecordOf("epochLinks", epoch);
    return value === undefined ? undefined : decodeEpochLink(value);
  }

  /** The DRP transcript of `epoch`, if kept. */
  epochTranscript(epoch: number): Uint8Array | undefined {
    const value = this.epochRecordOf("epochTranscripts", epoch);
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  private epochRecordOf(table: "epochLinks" | "epochTranscripts", epoch: number): Buffer | undefined {
    this.checkInitialized();
    check<StoreErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "STORE_BAD_INPUT", "epoch must be a u32");
    return this.dbs[table].get(epochKey(epoch));
  }

  setEpoch(epoch: number): void {
    this.checkInitialized();
    check<StoreErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "STORE_BAD_INPUT", "epoch must be a u32");
    this.env.transaction(() => this.dbs.meta.put(META_EPOCH, encodeEpoch(epoch)));
    this.epochRecord = epoch;
  }

  getBlock(height: number): Uint8Array | undefined {
    this.checkOpen();
    check<StoreErrorCode>(isHeight(height), "STORE_BAD_INPUT", "height must be a non-negative safe integer");
    return this.dbs.blocks.get(heightKey(height));
  }

  getHeight(hash: Uint8Array): number | undefined {
    this.checkOpen();
    check<StoreErrorCode>(hash.length === HASH_BYTES, "STORE_BAD_INPUT", `block hash must be ${HASH_BYTES} bytes`);
    const value = this.dbs.blockHeights.get(hash);
    return value === undefined ? undefined : decodeHeightValue(value);
  }

  getBlockByHash(hash: Uint8Array): Uint8Array | undefined {
    const height = this.getHeight(hash);
    return height === undefined ? undefined : this.getBlock(height);
  }

  getTxLocation(txid: Uint8Array): TxLocation | undefined {
    this.checkOpen();
    check<StoreErrorCode>(txid.length === TXID_BYTES, "STORE_BAD_INPUT", `txid must be ${TXID_BYTES} bytes`);
    for (const run of this.txRuns.runsOf(txid)) {
      const value = this.dbs.txIndex.get(txIndexKey(run, txid));
      if (value !== undefined) return decodeTxLocation(value);
    }
    return undefined;
  }

  /** See ChainStore `utxoLog`: the records in key order, each checked against its place and the marker. */
  *utxoLog(): Generator<UtxoLogRecord> {
    this.checkInitialized();
    const marker = this.flushedRecord!;
    let baseCount = 0;
    let logged = 0;
    let previous: { height: number; part: UtxoLogPart; chunk: number } | undefined;
    for (const { key, value } of this.dbs.utxo.entries()) {
      const at = decodeUtxoLogKey(key);
      const where = `utxo record (${at.height}, ${at.part}, ${at.chunk})`;
      const follows = previous !== undefined && previous.height === at.height && previous.part === at.part;
      check<StoreErrorCode>(at.chunk === (follows ? previous!.chunk + 1 : 0), "STORE_CORRUPT", `${where}: a chunk is missing before it`);
      check<StoreErrorCode>(at.part === UtxoLogPart.base ? at.height === marker.baseHeight : at.height > marker.baseHeight && at.height <= marker.height,
        "STORE_CORRUPT", `${where} lies outside the log of base ${marker.baseHeight} flushed to ${marker.height}`);
      const stride = at.part === UtxoLogPart.spent ? OUTPOINT_BYTES : UTXO_ENTRY_BYTES;
      check<StoreErrorCode>(value.length > 0 && value.length <= UTXO_LOG_CHUNK_BYTES && value.length % stride === 0, "STORE_CORRUPT", `${where} holds ${value.length} bytes`);
      if (at.part === UtxoLogPart.base) baseCount += value.length / UTXO_ENTRY_BYTES;
      else logged += value.length;
      previous = at;
      yield { height: at.height, part: at.part, bytes: Uint8Array.from(value) };
    }
    check<StoreErrorCode>(baseCount === marker.baseCount && logged === marker.logged, "STORE_CORRUPT",
      `the utxo log holds a base of ${baseCount} entries and ${logged} bytes after it, the marker says ${marker.baseCount} and ${marker.logged}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.close();
  }
}
