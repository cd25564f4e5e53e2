/**
 * The durable state machine of one shard (DESIGN.md §3): the working UTXO set in the WASM table
 * (src/ledger/utxo-table.ts), mirrored in the validator's chain store (src/store/interface.ts: LMDB
 * in production, in memory in the simulator).
 *
 * Phases:
 *  1. open: open the store; if empty, write the shard's genesis state (flushed at height 0);
 *     otherwise check it belongs to this shard and genesis.
 *  2. load: insert the flushed UTXO set (the set after block h = flushed height) into the table and
 *     check its count and supply against the flush marker.
 *  3. replay: apply the stored blocks h+1..tip to the table, checking heights and hash links, and
 *     collect their UTXO changes as the pending (unflushed) delta and their transactions'
 *     locations as the pending tx index.
 *  4. ready: `commitBlock(bytes)` checks the block against the tip, validates it statelessly,
 *     applies it to the table, then appends it durably; once every FLUSH_INTERVAL_BLOCKS blocks, at
 *     this replica's turn (`setFlushTurn`), or when the pending delta or tx index reaches its bound,
 *     the delta (logged, or the whole set as the log's new base: store/schema.ts "The UTXO log"),
 *     the pending tx index entries and the new flushed marker ride in that block's own transaction.
 *
 * A block is final once `commitBlock` returns: it is on disk, and both the UTXO set it produces
 * and its transactions' locations are recoverable from the flushed state plus the stored blocks
 * (`getTransactionLocation` answers from the pending index until the flush). Signatures are
 * not checked here: the caller commits only blocks whose transactions passed stateless validation
 * and batch signature verification (the worker pool), and replay re-applies only blocks this node
 * committed itself.
 *
 * Every block becomes durable the same way, through one assembly (`assemble()`): apply records
 * to the block at tip + 1 (a producer's records come from the worker pool, which did the stateless
 * and signature checks; nothing is decoded again on this thread), then commit the block built
 * from the applied transactions. `commitBlock(bytes)` is that assembly for an encoded block
 * decided elsewhere (validated statelessly here first). An assembly that applied once may instead
 * be aborted (a consensus execution that did not become final): the table's undo journal reverts
 * it, and its changes join the pending delta only at a commit.
 *
 * API: `ShardState.open(options)`, `assemble(): BlockAssembly`, `commitBlock(bytes, msb?): CommitResult`, `prunedBelow` (pruning, option `prune`),
 * `setFlushTurn(turn)`, `flush()`, `close()`,
 * `tip`, `flushedHeight`, `supply`, `utxoCount`, `epoch`, `setEpoch(epoch)`, `lastEpoch`, `keepEpoch(epoch, link, transcript)`,
 * `epochLink(epoch)`, `epochTranscript(epoch)` (the epoch archive, ChainStore), `chainId`, `msbHeader(epoch)`, `keptMsbs`, `latestMsb`, `msbBody(epoch)`, `msbDecisions(epoch)` (Micro State Blocks, src/node/msb.ts), `utxoSnapshot()`,
 * `getUtxo(txid, index)`, `hasUtxo(txid, index)`, `getTransactionLocation(txid)`, `getBlock(height)`, `getBlockByHash(hash)`, `tipTimestamp`,
 * `consensusStateAt(height)`, `certificateAt(height)`, `finalHeightAt(height)`, `finalHeightRecord(height)`, `orderedBlock(hash)`, `keepOrderedBlocks(blocks)`, `rejection(txid)`, `atomix(crossTxid)`, `phaseOf(crossTxid)`, `keepAccepted(txs)`, `forgetAccepted(txids)`, `acceptedTransactions()`, `blockTransactions(height)`, `createdOutput(txid, index)`, `validatorChanges(from, to)`, `changeProofs()`; `genesisShardEntries(genesis, shard)` (the state a shard starts from, bonds included).
 */
import { IosError, invariant, check, hasCodeIn } from "../errors.js";
import { decodeAtomixPhase, type AtomixPhase } from "../atomix/phases.js";
import { DecisionProofReader } from "../atomix/stored-proofs.js";
import type { WasmFlavor } from "../crypto/wasm.js";
import { decodeBlock, decodeBlockEnvelope, decodeBlockHeader, txRootOf, type BlockEnvelope } from "../ledger/block.js";
import { createdOutputOf } from "../ledger/records.js";
import { genesisEntries, genesisPopChainId, genesisTxid, type Genesis } from "../ledger/genesis.js";
import { validatorChanges, type ValidatorChange } from "../ledger/validator-changes.js";
import { genesisEpochContext } from "../epoch/context.js";
import type { IdentityLink } from "../epoch/identity/interface.js";
import { checkShardIndex } from "../ledger/shard.js";
import { validateStateless, type BatchOrigin, type StatelessResult } from "../ledger/stateless.js";
import { ApplyStatus, UtxoTable, applyStatusName, type BlockDelta, type ReleasePermit } from "../ledger/utxo-table.js";
import { LmdbChainStore } from "../store/chain-store.js";
import type { ChainStore, AtomixWrite, OrderedBlockBytes, ProvenTransaction, PruneRequest, StoredBlock, StoredMsb, StoredRestore, UtxoFlush } from "../store/interface.js";
import { NOT_DECIDED_HERE, UtxoLogPart, utxoCompactionDue, type ChainTip, type KeptMsb, type StoredFinalHeight, type StoredRejection, type TxLocation } from "../store/schema.js";
import type { CodedTxid } from "../codec/coded-txids.js";
import { UtxoDelta } from "../store/utxo-delta.js";
import { ByteKeyMap } from "../ledger/byte-key-map.js";
import { sameBytes } from "../bytes.js";
import { toHex } from "../hex.js";
import { FINAL_CHAIN_DECISIONS, certifiedProposalOf, decodeFinalHeightCertificate } from "../atomix/proof.js";
import { transactionIdOfEncoding } from "../ledger/kinds/registry.js";
import { TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { outpointKey } from "../ledger/transaction.js";
import type { StoreErrorCode } from "../store/errors.js";
import { LEDGER_ERROR_CODES, type TransactionFailureDetail } from "../ledger/errors.js";

/**
 * Blocks between UTXO flushes. Batching pays: 48k UTXO writes into a 1M-entry set cost about half
 * as much as one flush per block of the same writes (fewer fsyncs, B-tree pages shared between
 * keys; bench/store.bench.ts), while a restart replays about this many blocks and the flush
 * block's commit takes a few hundred ms instead of tens: hence the replicas' turns (`FlushTurn`).
 */
export const FLUSH_INTERVAL_BLOCKS = 16;

/** Flush early once this many net writes are pending: bounds the delta's memory (~150 B each). */
export const MAX_PENDING_UTXO_WRITES = 1 << 18;
/** Flush early once this many tx index entries wait (~100 B each in memory). */
export const MAX_PENDING_TX_INDEX = 1 << 18;

/**
 * This replica's turn to flush among its shard's replicas (`setFlushTurn`). Replicas flushing
 * after the same heights stall together, and at saturation the shard's next height waited for the
 * slowest of them (0.3–0.8 s every 16 heights on the default devnet). Spread over the interval,
 * a flushing member is one missing co-signer at most; and a member flushes after a height it led,
 * as far as the rotation allows from the next it leads (a leader still flushing when its turn
 * comes, or anchoring its heights' spacing late, holds the height). Where the state is flushed
 * is this replica's own business: it decides nothing the others see.
 */
export interface FlushTurn {
  /** This replica's position among the shard's `replicas` (0-based). */
  readonly index: number;
  readonly replicas: number;
  /** Whether this replica leads `height` in its first view: a committee member flushes after a height it led. */
  readonly leads?: (height: number) => boolean;
}

/** The table starts at ≥ 2 buckets per loaded entry (2^16..2^25, UtxoTable's accepted range). */
const MIN_CAPACITY_LOG2 = 16;
const MAX_CAPACITY_LOG2 = 25;

export const SHARD_STATE_ERROR_CODES = [
  "STATE_WRONG_SHARD",
  "STATE_PREV_HASH_MISMATCH",
  "STATE_TX_COUNT_MISMATCH",
  "STATE_TX_ROOT_MISMATCH",
  "STATE_INVALID_TX",
  /** A second assembly (or a flush) while a block is being assembled. */
  "STATE_STAGED",
  /** A previous commit failed after touching the table; reopen the state from the store. */
  "STATE_FAILED",
  "STATE_CLOSED",
  /** An assembly that applied more than once cannot be aborted (the table undoes one block). */
  "STATE_NOT_UNDOABLE",
] as const;

export type ShardStateErrorCode = (typeof SHARD_STATE_ERROR_CODES)[number];

export type ShardStateOptions = {
  readonly genesis: Genesis;
  readonly shard: number;
  readonly flavor?: WasmFlavor;
  /** Defaults to FLUSH_INTERVAL_BLOCKS. */
  readonly flushIntervalBlocks?: number;
  /**
   * Prune (ChainStore StoredBlock `prune`): storing the MSB of epoch e deletes the per-height
   * records of epochs ≤ e − 1 but block e·L (white paper §8). Off unless asked here; the node's
   * configuration asks by default (`store.prune`, src/node/config.ts).
   */
  readonly prune?: boolean;
} & (
  /** The LMDB store in this directory (production). */
  | { readonly directory: string }
  /** An opened store, which the shard state then owns and closes (the simulator's MemoryChainStore). */
  | { readonly store: ChainStore }
);

export interface CommitResult extends CommittedBlock {
  /** One ApplyStatus per transaction, in body order. */
  readonly statuses: Uint8Array;
  /** Every transaction's txid, applied or not, packed (n × 32) in body order. */
  readonly txids: Uint8Array;
}

/** Where an assembled block goes, and how many of its records applied. */
export interface BlockSlot {
  readonly height: number;
  readonly prevHash: Uint8Array;
  /** Records applied (status Ok) across the assembly's `apply` calls: the txids the block must list. */
  readonly applied: number;
}

/** The block a builder made for a slot: its encoding, hash and the applied txids packed (n × 32). */
export interface BuiltBlock {
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  readonly txids: Uint8Array;
  /** Position in the block of each applied txid; default 0..n−1 (a block of the applied ones only). */
  readonly positions?: Uint32Array;
  /** Stored with the block in its transaction (ChainStore `consensusStateAt`). */
  readonly consensusState?: Uint8Array;
  /** Stored with the block in its transaction, by hash (ChainStore `orderedBlock`). */
  readonly orderedBlocks?: readonly OrderedBlockBytes[];
  /** Transactions the block decided invalid, with their codes (ChainStore `rejection`). */
  readonly rejections?: readonly CodedTxid[];
  /** Cross-shard transactions whose phase the block moved (ChainStore StoredBlock `atomix`). */
  readonly atomix?: readonly AtomixWrite[];
  /** Registrations and leaves the block applied, with their proofs (ChainStore StoredBlock `changeProofs`). */
  readonly changeProofs?: readonly ProvenTransaction[];
  /** The block's final-height certificate (ChainStore StoredBlock `certificate`, `certificateAt`). */
  readonly certificate?: Uint8Array;
  /** The final proposal it certifies, required with `certificate` (ChainStore StoredBlock `proposal`). */
  readonly proposal?: Uint8Array;
  /** The MSB of the epoch this block ends (ChainStore StoredBlock `msb`, src/node/msb.ts). */
  readonly msb?: StoredMsb;
}

/** A block made durable by an assembly. */
export interface CommittedBlock {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly applied: number;
  readonly flushed: boolean;
}

/** A block at tip + 1 being assembled (`ShardState.assemble`). */
export interface BlockAssembly {
  /** Applies packed apply records to the block; one ApplyStatus per record. */
  apply(records: Uint8Array, recordCount: number): Uint8Array;
  /** Appends the block `build` encodes for the applied transactions, durably; the assembly is then spent. */
  commit(build: (slot: BlockSlot) => BuiltBlock): CommittedBlock;
  /**
   * Abandons the block: the table's changes are undone and nothing reaches the store; the
   * assembly is then spent and a new one may start. Only an assembly opened `undoable` that
   * applied at most once.
   */
  abort(): void;
}

/**
 * Locations of applied transactions whose blocks are appended but whose tx index entries wait for
 * the next flush: writing them per block was most of a block's commit cost (2.8–4.7× a block
 * without them, bench/store.bench.ts), while in one flush they share B-tree pages. Rebuilt by
 * replay after a restart, like the UTXO delta.
 */
class PendingTxIndex {
  /** By the txid's own bytes: views into this index's copy of each block's packed txids (one copy per block, not a key per txid). */
  private locations = new ByteKeyMap<TxLocation>();

  /** Transaction i of `txids` (packed n × 32) lives at (height, positions[i]). */
  add(txids: Uint8Array, height: number, positions: ArrayLike<number>): void {
    const own = txids.slice(0, positions.length * TXID_BYTES);
    for (let i = 0; i < positions.length; i++) this.locations.set(own.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES), { height, position: positions[i]! });
  }

  get(txid: Uint8Array): TxLocation | undefined {
    return txid.length === TXID_BYTES ? this.locations.get(txid) : undefined;
  }

  get size(): number {
    return this.locations.size;
  }

  packed(): { txids: Uint8Array; heights: Uint32Array; positions: Uint32Array } {
    const n = this.locations.size;
    const txids = new Uint8Array(n * TXID_BYTES);
    const heights = new Uint32Array(n);
    const positions = new Uint32Array(n);
    let i = 0;
    this.locations.forEach((location, txid) => {
      txids.set(txid, i * TXID_BYTES);
      heights[i] = location.height;
      positions[i++] = location.position;
    });
    return { txids, heights, positions };
  }

  clear(): void {
    this.locations = new ByteKeyMap<TxLocation>();
  }
}

/** Packed txids and body positions of the records a block applied (status Ok), in body order. */
function appliedLocations(stateless: StatelessResult, statuses: Uint8Array): { txids: Uint8Array; positions: Uint32Array; statusesByTx: Uint8Array; rejections: CodedTxid[] } {
  const statusesByTx = new Uint8Array(stateless.count);
  let count = 0;
  for (let k = 0; k < stateless.recordCount; k++) if (statuses[k] === ApplyStatus.Ok) count++;
  const txids = new Uint8Array(count * TXID_BYTES);
  const positions = new Uint32Array(count);
  let applied = 0;
  const rejections: CodedTxid[] = [];
  for (let k = 0; k < stateless.recordCount; k++) {
    const position = stateless.recordTx[k]!;
    statusesByTx[position] = statuses[k]!;
    if (statuses[k] !== ApplyStatus.Ok) {
      rejections.push({ txid: stateless.txids.slice(position * TXID_BYTES, (position + 1) * TXID_BYTES), code: applyStatusName(statuses[k]!) });
      continue;
    }
    txids.set(stateless.txids.subarray(position * TXID_BYTES, (position + 1) * TXID_BYTES), applied * TXID_BYTES);
    positions[applied++] = position;
  }
  return { txids, positions, statusesByTx, rejections };
}

const NO_TXIDS = new Uint8Array(0);
const NO_POSITIONS = new Uint32Array(0);


function capacityLog2For(entries: number): number {
  const wanted = Math.ceil(Math.log2(Math.max(entries, 1) * 2));
  return Math.min(MAX_CAPACITY_LOG2, Math.max(MIN_CAPACITY_LOG2, wanted));
}

/**
 * The UTXO set `shard` starts from: the genesis outputs of the shard and, when the genesis has a
 * PoB policy (the one consensus that slashes), the bonds of its epoch-0 members (src/ledger/bond.ts).
 */
export function genesisShardEntries(genesis: Genesis, shard: number): Uint8Array {
  const outputs = genesisEntries(genesis, shard);
  if (genesis.pob === undefined) return outputs;
  const bonds = genesisEpochContext(genesis).bondEntries(shard);
  const entries = new Uint8Array(outputs.length + bonds.length);
  entries.set(outputs);
  entries.set(bonds, outputs.length);
  return entries;
}

export class ShardState {
  private readonly pending = new UtxoDelta();
  private readonly pendingTxIndex = new PendingTxIndex();
  private blocksSinceFlush = 0;
  /** Flushes fall after heights ≡ flushPhase (mod flushInterval): `setFlushTurn`. */
  private flushPhase = 0;
  private leads: ((height: number) => boolean) | undefined;
  /** Records were staged for the next block and not yet committed (commitBlock must not interleave). */
  private staged = false;
  private failed = false;
  private closed = false;
  /** Lock decisions' proofs, built when read (src/atomix/stored-proofs.ts). */
  readonly #decisionProofs: DecisionProofReader;

  private constructor(
    private readonly store: ChainStore,
    /** Replaced only by `restoreAtMsb`. */
    private table: UtxoTable,
    readonly shard: number,
    readonly shardCount: number,
    private readonly flushInterval: number,
    /** The tip block's timestamp, kept here: reading the tip block back per proposal would copy a whole block. */
    private tipTime: number,
    private readonly genesis: Genesis,
    private readonly pruning: boolean,
  ) {
    this.#decisionProofs = new DecisionProofReader(store);
  }

  /** Opens, loads and replays (phases 1–3); the returned state is ready for `commitBlock`. */
  static open(options: ShardStateOptions): ShardState {
    const { genesis, shard } = options;
    checkShardIndex(shard, genesis.shardCount);
    const flushInterval = options.flushIntervalBlocks ?? FLUSH_INTERVAL_BLOCKS;
    check<StoreErrorCode>(Number.isInteger(flushInterval) && flushInterval >= 1, "STORE_BAD_INPUT", "flushIntervalBlocks must be a positive integer");
    const store = "store" in options ? options.store : LmdbChainStore.open(options.directory);
    try {
      const genesisId = genesisTxid(genesis);
      if (!store.initialized) store.initialize({ shard, genesisId }, genesisShardEntries(genesis, shard));
      const identity = store.identity;
      check<StoreErrorCode>(identity.shard === shard && sameBytes(identity.genesisId, genesisId), "STORE_IDENTITY_MISMATCH",
        `${store.location} belongs to shard ${identity.shard} of genesis ${Buffer.from(identity.genesisId).toString("hex").slice(0, 16)}…, ` +
          `not shard ${shard} of genesis ${Buffer.from(genesisId).toString("hex").slice(0, 16)}…`);
      const table = new UtxoTable({ flavor: options.flavor, initialCapacityLog2: capacityLog2For(store.flushed.count), chain: genesisPopChainId(genesis) });
      const tipBlock = store.tip.height === 0 ? undefined : store.getBlock(store.tip.height);
      const tipTime = tipBlock === undefined ? genesis.timestamp : decodeBlockHeader(tipBlock).timestamp;
      const state = new ShardState(store, table, shard, genesis.shardCount, flushInterval, tipTime, genesis, options.prune === true);
      state.loadFlushedSet();
      state.replay();
      return state;
    } catch (error) {
      void store.close();
      throw error;
    }
  }

  private loadFlushedSet(): void {
    const marker = this.store.flushed;
    try {
      for (const { part, bytes } of this.store.utxoLog()) {
        if (part === UtxoLogPart.spent) this.table.removeEntries(bytes);
        else this.table.insertEntries(bytes);
      }
    } catch (error) {
      if (hasCodeIn(error, LEDGER_ERROR_CODES)) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `flushed UTXO set rejected by the table: ${error.message}`);
      throw error;
    }
    check<StoreErrorCode>(this.table.count === marker.count && this.table.supply === marker.supply, "STORE_CORRUPT",
      `flushed UTXO set has ${this.table.count} entries / supply ${this.table.supply}, the marker says ${marker.count} / ${marker.supply}`);
  }

  /** The envelope of stored block `height`; a missing or undecodable block is a store error. */
  private storedEnvelope(height: number): BlockEnvelope {
    const bytes = this.store.getBlock(height);
    check<StoreErrorCode>(bytes !== undefined, "STORE_HEIGHT_GAP", `block ${height} is missing below the tip ${this.store.tip.height}`);
    try {
      return decodeBlockEnvelope(bytes);
    } catch (error) {
      if (hasCodeIn(error, LEDGER_ERROR_CODES)) throw new IosError<StoreErrorCode>("STORE_CORRUPT", `stored block ${height} does not decode: ${error.message}`);
      throw error;
    }
  }

  private replay(): void {
    const { flushed, tip } = this.store;
    let previous = flushed.height === 0 ? this.store.identity.genesisId : this.storedEnvelope(flushed.height).hash;
    for (let height = flushed.height + 1; height <= tip.height; height++) {
      const envelope = this.storedEnvelope(height);
      check<StoreErrorCode>(envelope.header.height === height, "STORE_CORRUPT", `the block stored at ${height} says height ${envelope.header.height}`);
      check<StoreErrorCode>(sameBytes(envelope.header.prevHash, previous), "STORE_CORRUPT", `block ${height} does not link to block ${height - 1}`);
      let stateless: StatelessResult;
      try {
        stateless = this.validate(envelope, "derived");
      } catch (error) {
        if (hasCodeIn(error, LEDGER_ERROR_CODES) || hasCodeIn(error, SHARD_STATE_ERROR_CODES)) {
          throw new IosError<StoreErrorCode>("STORE_CORRUPT", `stored block ${height} cannot be replayed: ${error.message}`);
        }
        throw error;
      }
      // This replica's own final blocks: their bond releases were admitted when they became final.
      const delta = this.table.applyBlock(stateless.records, stateless.recordCount, false, true);
      this.pending.addBlock(delta.created, delta.spent);
      const { txids, positions } = appliedLocations(stateless, delta.statuses);
      this.pendingTxIndex.add(txids, height, positions);
      this.blocksSinceFlush++;
      previous = envelope.hash;
    }
    check<StoreErrorCode>(sameBytes(previous, tip.hash), "STORE_CORRUPT", "the chain does not end at the tip hash");
  }

  /** Stateless checks of a stored (`derived`: this replica built it) or received block: its apply records, if every check passed. */
  private validate(envelope: BlockEnvelope, origin: BatchOrigin): StatelessResult {
    const { header } = envelope;
    if (header.shard !== this.shard) throw new IosError<ShardStateErrorCode>("STATE_WRONG_SHARD", `block of shard ${header.shard}, this is shard ${this.shard}`);
    // A stored block's unlocks were judged when it became final: replay reads what their proofs state.
    const stateless = validateStateless(envelope.body, this.shard, this.shardCount, origin, origin === "derived" ? FINAL_CHAIN_DECISIONS : undefined);
    if (stateless.count !== header.txCount) {
      throw new IosError<ShardStateErrorCode>("STATE_TX_COUNT_MISMATCH", `header declares ${header.txCount} transactions, the body holds ${stateless.count}`);
    }
    const rejected = stateless.rejections.findIndex((rejection) => rejection !== null);
    if (rejected >= 0) {
      const rejection = stateless.rejections[rejected]!;
      throw new IosError<ShardStateErrorCode, TransactionFailureDetail>("STATE_INVALID_TX", `transaction ${rejected}: ${rejection.message}`, { index: rejected, code: rejection.code });
    }
    if (!sameBytes(txRootOf(stateless.txids), header.txRoot)) throw new IosError<ShardStateErrorCode>("STATE_TX_ROOT_MISMATCH", "tx root does not match the transactions");
    return stateless;
  }

  private checkUsable(): void {
    if (this.closed) throw new IosError<ShardStateErrorCode>("STATE_CLOSED", "the shard state is closed");
    if (this.failed) throw new IosError<ShardStateErrorCode>("STATE_FAILED", "a commit failed after applying to the table; reopen the shard state");
  }

  /**
   * Validates and applies the encoded block at tip + 1 and appends it durably (a final block
   * decided elsewhere: BFT). When this returns, the block is final (see the header). Throws,
   * leaving the state unchanged, for a block that does not follow the tip (STORE_HEIGHT_GAP,
   * STATE_PREV_HASH_MISMATCH), is malformed (a ledger code) or fails stateless validation
   * (STATE_*). Transactions failing stateful validation (a missing input, a double spend, ...)
   * stay in the block unapplied, with their status. `msb`: the MSB of the epoch this block ends
   * (BuiltBlock `msb`), which a pruning state prunes with.
   */
  commitBlock(bytes: Uint8Array, msb?: StoredMsb): CommitResult {
    this.checkUsable();
    if (this.staged) throw new IosError<ShardStateErrorCode>("STATE_STAGED", "a block is being assembled; commit it first");
    const envelope = decodeBlockEnvelope(bytes);
    const { header } = envelope;
    const tip = this.store.tip;
    check<StoreErrorCode>(header.height === tip.height + 1, "STORE_HEIGHT_GAP", `block height ${header.height} does not follow the tip ${tip.height}`);
    if (!sameBytes(header.prevHash, tip.hash)) throw new IosError<ShardStateErrorCode>("STATE_PREV_HASH_MISMATCH", `block ${header.height} does not link to the tip`);
    const stateless = this.validate(envelope, "submitted");
    const assembly = this.assemble();
    const statuses = assembly.apply(stateless.records, stateless.recordCount);
    const { txids, positions, statusesByTx, rejections } = appliedLocations(stateless, statuses);
    const committed = assembly.commit(() => ({ bytes, hash: envelope.hash, txids, positions, rejections, ...(msb === undefined ? {} : { msb }) }));
    return { ...committed, statuses: statusesByTx, txids: stateless.txids };
  }

  /**
   * The one way a block becomes durable: `apply` packed apply records (checked statelessly and
   * signature-verified by the caller: the worker pool, or `commitBlock`) to the block at tip + 1,
   * as many times as the block has parts, then `commit` the block `build` encodes for the applied
   * transactions, in one durable transaction with its UTXO changes. Until the commit nothing is on
   * disk, and a crash loses only the table (rebuilt from the store on open). A failure after the
   * table changed marks the state failed (STATE_FAILED until reopened). One assembly at a time:
   * from `assemble()` to its commit, another assembly, `commitBlock` or `flush` is STATE_STAGED.
   * `replay`: the block is a certified final one decided earlier (state sync), whose bond releases
   * were judged then, under its own epoch's permits.
   */
  assemble(options: { readonly undoable?: boolean; readonly replay?: boolean } = {}): BlockAssembly {
    this.checkUsable();
    const undoable = options.undoable === true;
    if (this.staged) throw new IosError<ShardStateErrorCode>("STATE_STAGED", "a block is being assembled; commit it first");
    // From here until its commit the assembly owns the next block: no other assembly, no flush.
    this.staged = true;
    let applied = 0;
    let touched = false;
    let open = true;
    /** Each apply's delta: it joins the pending (flushable) delta only at the commit. */
    const deltas: BlockDelta[] = [];
    const usable = (): void => {
      invariant(open, "a committed or aborted block assembly is not reused");
      this.checkUsable();
    };
    return {
      apply: (records, recordCount) => {
        usable();
        touched = true;
        try {
          const delta = this.table.applyBlock(records, recordCount, undoable, options.replay === true);
          deltas.push(delta);
          for (const status of delta.statuses) if (status === ApplyStatus.Ok) applied++;
          return delta.statuses;
        } catch (error) {
          // The table may hold part of these records: only a reopen from the store undoes them.
          this.failed = true;
          throw error;
        }
      },
      commit: (build) => {
        usable();
        open = false;
        const tip = this.store.tip;
        try {
          const height = tip.height + 1;
          const block = build({ height, prevHash: tip.hash, applied });
          if (block.txids.length !== applied * TXID_BYTES) {
            throw new IosError<ShardStateErrorCode>("STATE_TX_COUNT_MISMATCH", `the built block lists ${block.txids.length / TXID_BYTES} txids, ${applied} records applied`);
          }
          this.table.forgetUndo();
          for (const delta of deltas) this.pending.addBlock(delta.created, delta.spent);
          const positions = block.positions ?? Uint32Array.from({ length: applied }, (_, i) => i);
          const { consensusState, orderedBlocks, rejections, atomix, changeProofs, certificate, proposal, msb } = block;
          const flushed = this.append({
            height, hash: block.hash, bytes: block.bytes, ...(consensusState === undefined ? {} : { consensusState }),
            ...(orderedBlocks === undefined ? {} : { orderedBlocks }), ...(rejections === undefined ? {} : { rejections }),
            ...(atomix === undefined ? {} : { atomix }), ...(changeProofs === undefined ? {} : { changeProofs }),
            ...(certificate === undefined ? {} : { certificate }), ...(proposal === undefined ? {} : { proposal }),
            ...(msb === undefined ? {} : { msb, ...this.pruneWith(height, msb.epoch) }),
          }, block.txids, positions);
          this.staged = false;
          return { height, hash: block.hash, applied, flushed };
        } catch (error) {
          // The table holds this block's changes: only a reopen from the store undoes them.
          if (touched) this.failed = true;
          else this.staged = false;
          throw error;
        }
      },
      abort: () => {
        usable();
        check<ShardStateErrorCode>(deltas.length === 0 || (undoable && deltas.length === 1), "STATE_NOT_UNDOABLE",
          `only an undoable assembly that applied at most once can be aborted (${deltas.length} applies, undoable ${String(undoable)})`);
        open = false;
        if (deltas.length === 1) this.table.undoLastBlock();
        this.staged = false;
      },
    };
  }

  /**
   * Appends a block whose UTXO changes are already in the pending delta, with its applied txids'
   * locations going to the pending tx index; the flush rides along when one is due. True if it did.
   */
  private append(block: Omit<StoredBlock, "txids" | "positions">, txids: Uint8Array, positions: Uint32Array): boolean {
    this.pendingTxIndex.add(txids, block.height, positions);
    this.blocksSinceFlush++;
    const due = this.flushTurnAt(block.height) || this.pending.size >= MAX_PENDING_UTXO_WRITES || this.pendingTxIndex.size >= MAX_PENDING_TX_INDEX;
    const flush = due ? this.takeFlush() : undefined;
    this.store.appendBlock({ ...block, txids: NO_TXIDS, positions: NO_POSITIONS }, flush);
    this.tipTime = decodeBlockHeader(block.bytes).timestamp;
    if (flush !== undefined) this.flushDone();
    return flush !== undefined;
  }

  /**
   * The prune request of the block at `height` storing the MSB of `epoch` (height = (epoch + 1)·L):
   * every height of epochs ≤ epoch − 1 but their last, i.e. below epoch·L, when pruning is on. Kept:
   * epochs `epoch` and `epoch` + 1 (their transactions' proofs), and block epoch·L, the height of
   * MSB_{epoch − 1}, whose body is kept too: a joiner anchors there (node/sync, schema.ts "Pruning").
   */
  private pruneWith(height: number, epoch: number): { readonly prune?: PruneRequest } {
    if (!this.pruning || epoch === 0) return {};
    const epochLength = height / (epoch + 1);
    invariant(Number.isSafeInteger(epochLength), `height ${height} ends epoch ${epoch}`);
    return { prune: { below: epoch * epochLength, epochLength } };
  }

  /** Whether storing an epoch's MSB prunes the heights of the epochs before it (option `prune`). */
  get prunes(): boolean {
    return this.pruning;
  }

  /** See ChainStore `prunedBelow`: blocks, index entries and final-height records below it are gone (epoch ends' records kept). */
  get prunedBelow(): number {
    return this.store.prunedBelow;
  }

  /**
   * Whether the flush is this replica's after `height`: once its phase height is among the
   * unflushed ones, after the first height it led (the furthest from the next it leads, which it
   * could only propose after its flush), or half an interval past the phase at the latest.
   */
  private flushTurnAt(height: number): boolean {
    const interval = this.flushInterval;
    const sincePhase = (((height - this.flushPhase) % interval) + interval) % interval;
    if (sincePhase >= this.blocksSinceFlush) return false;
    return this.leads === undefined || this.leads(height) || sincePhase >= interval >> 1;
  }

  /** Sets this replica's flush turn (FlushTurn); until then it flushes after heights ≡ 0 (mod the interval). */
  setFlushTurn(turn: FlushTurn): void {
    check<StoreErrorCode>(Number.isInteger(turn.replicas) && turn.replicas >= 1 && Number.isInteger(turn.index) && turn.index >= 0 && turn.index < turn.replicas,
      "STORE_BAD_INPUT", `a flush turn needs 0 <= index < replicas, got ${turn.index} of ${turn.replicas}`);
    this.flushPhase = Math.floor((turn.index * this.flushInterval) / turn.replicas);
    this.leads = turn.leads;
  }

  /** The pending delta as a flush of the set the table holds, or that whole set as the log's new base when one is due. */
  private takeFlush(): UtxoFlush {
    const { spent, created } = this.pending.parts();
    const base = utxoCompactionDue(this.store.flushed, spent.length + created.length) ? this.table.snapshot() : undefined;
    return { spent, created, ...(base === undefined ? {} : { base }), count: this.table.count, supply: this.table.supply, txIndex: this.pendingTxIndex.packed() };
  }

  private flushDone(): void {
    this.pending.clear();
    this.pendingTxIndex.clear();
    this.blocksSinceFlush = 0;
  }

  /** Flushes the pending UTXO delta now (one durable transaction); a no-op when nothing is pending. */
  flush(): void {
    this.checkUsable();
    if (this.staged) throw new IosError<ShardStateErrorCode>("STATE_STAGED", "a block is being assembled; commit it first");
    if (this.blocksSinceFlush === 0) return;
    this.store.flushUtxos(this.takeFlush());
    this.flushDone();
  }

  /** Flushes (unless a commit failed) and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Staged records belong to no stored block: flushing them would put them in the set at the tip.
    if (!this.failed && !this.staged) this.flush();
    this.closed = true;
    await this.store.close();
  }

  get tip(): ChainTip {
    return this.store.tip;
  }

  get flushedHeight(): number {
    return this.store.flushed.height;
  }

  /** Σ amounts of the shard's UTXO set. */
  get supply(): bigint {
    return this.table.supply;
  }

  get utxoCount(): number {
    return this.table.count;
  }

  get epoch(): number {
    return this.store.epoch;
  }

  /** The consensus record stored with block `height` (the tip's by default). */
  consensusStateAt(height = this.store.tip.height): Uint8Array | undefined {
    return this.store.consensusStateAt(height);
  }

  /** The final-height certificate stored with block `height` (BuiltBlock `certificate`), if it carried one. */
  certificateAt(height: number): Uint8Array | undefined {
    return this.store.finalHeightRecord(height)?.certificate;
  }

  /** See ChainStore `finalHeightRecord`: a certified block's certificate, rejections and phase writes in order. */
  finalHeightRecord(height: number): StoredFinalHeight | undefined {
    return this.store.finalHeightRecord(height);
  }

  /**
   * What a PoB instance continues from after the certified block at `height`: the state
   * commitment and proposal hash its certificate names (checked when it was stored) and the
   * block's timestamp; undefined when the block carries no certificate.
   */
  finalHeightAt(height: number): { readonly stateCommitment: Uint8Array; readonly proposalHash: Uint8Array; readonly timestamp: number } | undefined {
    const certificate = this.certificateAt(height);
    if (certificate === undefined) return undefined;
    const { stateCommitment, proposalHash } = certifiedProposalOf(decodeFinalHeightCertificate(certificate));
    return { stateCommitment, proposalHash, timestamp: decodeBlockHeader(this.store.getBlock(height)!).timestamp };
  }

  /** See ChainStore `keepAccepted`: transactions answered "accepted", durable when the promise resolves. */
  keepAccepted(transactions: readonly { readonly txid: Uint8Array; readonly tx: Uint8Array }[]): Promise<void> {
    return this.store.keepAccepted(transactions);
  }

  forgetAccepted(txids: readonly Uint8Array[]): Promise<void> {
    return this.store.forgetAccepted(txids);
  }

  /** The transactions kept as accepted and not settled when the store was last open. */
  acceptedTransactions(): Uint8Array[] {
    return this.store.acceptedTransactions();
  }

  /** The final chain's refusal of `txid` with its code, if a stored block decided one (BuiltBlock `rejections`). */
  rejection(txid: Uint8Array): StoredRejection | undefined {
    return this.store.rejection(txid);
  }

  /** Where the final chain left a cross-shard transaction: its phase, the height, the proof of this shard's lock decision. */
  atomix(crossTxid: Uint8Array): { readonly phase: AtomixPhase; readonly height: number; readonly proof: Uint8Array | undefined } | undefined {
    const stored = this.store.atomix(crossTxid);
    if (stored === undefined) return undefined;
    const proofs = this.#decisionProofs;
    let proof: Uint8Array | undefined | null = null;
    // Built on first read only: most readers want the phase (the watchers' rounds and notices).
    return {
      phase: decodeAtomixPhase(stored.phase),
      height: stored.height,
      get proof() {
        if (proof === null) proof = proofs.proofOf(crossTxid, stored);
        return proof;
      },
    };
  }

  /**
   * The signed cross-shard transfers the Atomix watchers finish (src/atomix/watcher.ts), as their
   * final blocks carry them: every lock the final chain holds (phase "locked"), and every X that
   * its lock settled here (committed at the lock's own height: X's only input shard) at a height
   * ≥ `settledSince`, whose other shards may still lack their commit.
   */
  watchedTransfers(settledSince: number): Uint8Array[] {
    const found: Uint8Array[] = [];
    // Many transfers share a height: each block is read and indexed once.
    const blocks = new Map<number, Map<string, Uint8Array>>();
    const transactionsAt = (height: number): Map<string, Uint8Array> => {
      let byTxid = blocks.get(height);
      if (byTxid === undefined) {
        byTxid = new Map(this.blockTransactions(height).map((tx) => [toHex(transactionIdOfEncoding(tx)), tx]));
        blocks.set(height, byTxid);
      }
      return byTxid;
    };
    for (const { crossTxid, entry } of this.store.atomixEntries()) {
      const phase = decodeAtomixPhase(entry.phase);
      if (phase !== "locked" && (phase !== "committed" || entry.height < settledSince)) continue;
      // Every lock this chain decided names its height; one without was restored from an MSB (a
      // joined store): neither its block nor its proof is here, the replicas that decided it finish it.
      if (phase === "locked" && entry.decidedAt === NOT_DECIDED_HERE) continue;
      const x = transactionsAt(entry.height).get(toHex(crossTxid));
      // A committed X whose block holds its unlock, not X, was settled by that unlock: nothing left to watch here.
      invariant(x !== undefined || phase === "committed", "a lock's final block holds its transfer");
      if (x !== undefined) found.push(x);
    }
    return found;
  }

  /** The phase the final chain reached for a cross-shard transaction (src/atomix/phases.ts AtomixPhases). */
  phaseOf(crossTxid: Uint8Array): AtomixPhase | undefined {
    const stored = this.store.atomix(crossTxid);
    return stored === undefined ? undefined : decodeAtomixPhase(stored.phase);
  }

  /** Every stored phase (encoded), in cross txid order: what an MSB's decisions are built from (src/msb/decisions.ts). */
  *atomixPhases(): Iterable<{ readonly crossTxid: Uint8Array; readonly phase: number }> {
    for (const { crossTxid, entry } of this.store.atomixEntries()) yield { crossTxid, phase: entry.phase };
  }

  /** A block stored by hash with a final block (BuiltBlock `orderedBlocks`). */
  orderedBlock(hash: Uint8Array): Uint8Array | undefined {
    return this.store.orderedBlock(hash);
  }

  /** See ChainStore `changeProofs`: every registration and leave the final chain applied, with its proof. */
  changeProofs(): Iterable<ProvenTransaction> {
    return this.store.changeProofs();
  }

  /** See ChainStore `keepOrderedBlocks`: blocks a proposal orders, durable when the promise resolves. */
  keepOrderedBlocks(blocks: readonly OrderedBlockBytes[]): Promise<void> {
    return this.store.keepOrderedBlocks(blocks);
  }

  setEpoch(epoch: number): void {
    this.checkUsable();
    this.store.setEpoch(epoch);
  }

  /** The last epoch whose identity-chain link and DRP transcript this validator keeps (0: none). */
  /** The bond releases the current epoch admits (EpochContext `releasable`; UtxoTable `setReleases`). */
  setReleases(permits: readonly ReleasePermit[]): void {
    this.checkUsable();
    this.table.setReleases(permits);
    this.releases = permits;
  }

  /** The permits last set: a table replaced by `restoreAtMsb` gets them again. */
  private releases: readonly ReleasePermit[] = [];

  /**
   * Restores the state at an MSB's height (ChainStore `restoreAtMsb`, one transaction): the store
   * drops the chain below it, its Atomix phases become the MSB's decisions (the replay guard), and
   * the working table becomes the MSB body (node/sync bootstrap: the caller verified the block, its
   * certificate, the body and the decisions against the certified header).
   */
  restoreAtMsb(restore: StoredRestore): void {
    this.checkUsable();
    if (this.staged) throw new IosError<ShardStateErrorCode>("STATE_STAGED", "a block is being assembled; commit it first");
    const table = new UtxoTable({ flavor: this.table.flavor, initialCapacityLog2: capacityLog2For(restore.block.msb.body.length / UTXO_ENTRY.bytes), chain: genesisPopChainId(this.genesis) });
    table.insertEntries(restore.block.msb.body);
    table.setReleases(this.releases);
    this.store.restoreAtMsb(restore);
    this.table = table;
    this.flushDone();
    this.tipTime = decodeBlockHeader(restore.block.bytes).timestamp;
  }


  get lastEpoch(): number {
    return this.store.lastEpoch;
  }

  /** See ChainStore `keepEpoch`: what the transition to `epoch` produced (`onConfigured`), durable on return. */
  keepEpoch(epoch: number, link: IdentityLink, transcript: Uint8Array): void {
    this.checkUsable();
    this.store.keepEpoch(epoch, link, transcript);
  }

  epochLink(epoch: number): IdentityLink | undefined {
    return this.store.epochLink(epoch);
  }

  epochTranscript(epoch: number): Uint8Array | undefined {
    return this.store.epochTranscript(epoch);
  }

  /** The chain id MSB headers name: the genesis txid this store grows from. */
  get chainId(): Uint8Array {
    return this.store.identity.genesisId;
  }

  /** See ChainStore `msbHeader`: the shard's MSB header of `epoch`, as stored. */
  msbHeader(epoch: number): Uint8Array | undefined {
    return this.store.msbHeader(epoch);
  }

  /** See ChainStore `keptMsbs`: the MSBs whose bodies are kept (the latest two). */
  get keptMsbs(): readonly KeptMsb[] {
    return this.store.keptMsbs;
  }

  /** See ChainStore `latestMsb`. */
  get latestMsb(): KeptMsb | undefined {
    return this.store.latestMsb;
  }

  /** See ChainStore `msbBody`. */
  msbBody(epoch: number): Iterable<Uint8Array> | undefined {
    return this.store.msbBody(epoch);
  }

  /** See ChainStore `msbDecisions`. */
  msbDecisions(epoch: number): Iterable<Uint8Array> | undefined {
    return this.store.msbDecisions(epoch);
  }

  /** Every UTXO of the working set as packed 76-byte entries (table order, not sorted). */
  utxoSnapshot(): Uint8Array {
    return this.table.snapshot();
  }

  getUtxo(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined {
    return this.table.get(txid, index);
  }

  /** Whether the working set holds (txid, index), without copying its owner and amount out. */
  hasUtxo(txid: Uint8Array, index: number): boolean {
    return this.table.has(txid, index);
  }

  /** Where a transaction applied by a final block lives: its block height and position in the body. */
  getTransactionLocation(txid: Uint8Array): TxLocation | undefined {
    return this.pendingTxIndex.get(txid) ?? this.store.getTxLocation(txid);
  }

  getBlock(height: number): Uint8Array | undefined {
    return this.store.getBlock(height);
  }

  /** The tip block's timestamp (the genesis's before the first block): block time never runs backwards, so a new block's is no earlier. */
  get tipTimestamp(): number {
    return this.tipTime;
  }

  getBlockByHash(hash: Uint8Array): Uint8Array | undefined {
    return this.store.getBlockByHash(hash);
  }

  /** The transactions of the stored block at `height`, in body order. STORE_HEIGHT_GAP above the tip. */
  blockTransactions(height: number): Uint8Array[] {
    const bytes = this.store.getBlock(height);
    check<StoreErrorCode>(bytes !== undefined, "STORE_HEIGHT_GAP", `no block is stored at height ${height}`);
    return decodeBlock(bytes).transactions;
  }

  /**
   * Output `index` of `txid` as it was created, spent or not: a genesis output, or an output of a
   * transaction a stored block applied; undefined when there is none.
   */
  createdOutput(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined {
    if (sameBytes(txid, this.store.identity.genesisId)) {
      const output = this.genesis.outputs[index];
      return output && { owner: output.owner, amount: output.amount };
    }
    const location = this.getTransactionLocation(txid);
    if (location === undefined) return this.store.prunedBelow > 1 ? this.latestMsbOutput(txid, index) : undefined;
    return createdOutputOf(this.blockTransactions(location.height)[location.position]!, txid, index, this.shard, this.shardCount);
  }

  /**
   * An output created below the pruned horizon, found in the latest MSB's body: the PoB re-check
   * reads outputs spent in the current epoch, and everything created before it and unspent at its
   * start is in the previous epoch's MSB, the latest one until this epoch ends. Chunks hold sorted
   * entries: read one by one until the key is not above a chunk's last (rare path: slashing).
   */
  private latestMsbOutput(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined {
    const key = Buffer.from(outpointKey(txid, index));
    const { bytes, offset } = UTXO_ENTRY;
    const keyBytes = offset.owner;
    const latest = this.store.latestMsb;
    for (const chunk of (latest === undefined ? undefined : this.store.msbBody(latest.epoch)) ?? []) {
      const entries = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const count = entries.length / bytes;
      if (count === 0 || key.compare(entries, (count - 1) * bytes, (count - 1) * bytes + keyBytes) > 0) continue;
      let low = 0;
      let high = count - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const order = key.compare(entries, middle * bytes, middle * bytes + keyBytes);
        if (order === 0) {
          const at = middle * bytes;
          return { owner: Uint8Array.from(entries.subarray(at + offset.owner, at + offset.amount)), amount: entries.readBigUInt64LE(at + offset.amount) };
        }
        if (order < 0) high = middle - 1;
        else low = middle + 1;
      }
      return undefined;
    }
    return undefined;
  }

  /**
   * The registrations and leaves final in heights `from`..`to` that this shard applied
   * (src/ledger/validator-changes.ts), in chain order. The epoch engine lists epoch e's changes
   * with from = e·L + 1, to = (e + 1)·L.
   */
  validatorChanges(from: number, to: number): ValidatorChange[] {
    check<StoreErrorCode>(Number.isSafeInteger(from) && from >= 1 && to >= from - 1 && to <= this.store.tip.height, "STORE_BAD_INPUT", `heights ${from}..${to} are not within 1..${this.store.tip.height}`);
    const blocks = Array.from({ length: to - from + 1 }, (_, k) => ({ height: from + k, transactions: this.blockTransactions(from + k) }));
    return validatorChanges(blocks, (txid, height, position) => {
      const location = this.getTransactionLocation(txid);
      return location?.height === height && location.position === position;
    });
  }
}
