/**
 * What a shard's durable state (src/node/shard-state.ts) needs from its chain store: blocks by
 * height and hash, the txid index, the flushed UTXO set with its marker, and the chain metadata.
 * Two implementations share one record layout (schema.ts) and one body of checks
 * (record-store.ts): `LmdbChainStore` (chain-store.ts, production, fsynced) and
 * `MemoryChainStore` (memory-store.ts, the simulator's, on a `MemoryDisk` that outlives a node).
 *
 * Contract. Every write (`initialize`, `appendBlock`, `flushUtxos`, `setEpoch`, `keepEpoch`) is one atomic
 * transaction: when it returns, all of it is durable; when it throws, none of it happened. Bad
 * arguments throw `IosError<StoreErrorCode>` (STORE_BAD_INPUT, STORE_HEIGHT_GAP, ...) before anything is
 * written; reads of a closed store throw STORE_CLOSED.
 */
import type { ChainTip, FlushMarker, KeptMsb, StoreIdentity, StoredAtomix, StoredFinalHeight, StoredRejection, TxLocation, UtxoLogPart } from "./schema.js";
import type { CodedTxid } from "../codec/coded-txids.js";
import type { IdentityLink } from "../epoch/identity/interface.js";

/** A block as the store keeps it; the store does not decode blocks, the caller supplies the parts. */
export interface StoredBlock {
  readonly height: number;
  readonly hash: Uint8Array;
  /** The encoded block (src/ledger/block.ts). */
  readonly bytes: Uint8Array;
  /** Packed 32-byte txids of the transactions the block applied, to index. */
  readonly txids: Uint8Array;
  /** positions[i] = index in the block body of the transaction txids[i]. */
  readonly positions: ArrayLike<number>;
  /**
   * The consensus layer's own record of this block (PoB: the final proposal hash, the state
   * commitment and the replica state, src/consensus/pob/replica-state.ts), stored in the same
   * transaction, by height.
   */
  readonly consensusState?: Uint8Array;
  /**
   * Blocks the consensus layer keeps with this one, by hash (PoB: the sealed optimistic blocks the
   * final block ordered), so that peers far behind can fetch them after every replica restarted.
   */
  readonly orderedBlocks?: readonly OrderedBlockBytes[];
  /** Transactions this block decided invalid, each with its code: answered after a restart too. */
  readonly rejections?: readonly CodedTxid[];
  /**
   * Cross-shard transactions whose phase this block moved (src/atomix/phases.ts), in order; a
   * later entry for one transaction wins. A lock decision is marked `decided` (its proof is built
   * from this height when read); other entries keep the stored decision height.
   */
  readonly atomix?: readonly AtomixWrite[];
  /** Registrations and leaves this block applied, each with the decision proof of its acceptance. */
  readonly changeProofs?: readonly ProvenTransaction[];
  /**
   * The block's final-height certificate (PoB, src/atomix/proof.ts): kept by height with the
   * block's `rejections` and `atomix` phases in their order (`finalHeightRecord`), what a peer
   * syncing the shard needs beyond the block (src/node/sync).
   */
  readonly certificate?: Uint8Array;
  /**
   * The final proposal the certificate's committee signed (PoB, src/consensus/pob/proposal.ts),
   * required with `certificate`: its digest is the certificate's body digest, so it certifies the
   * header fields the certificate alone does not (timestamp, proposer).
   */
  readonly proposal?: Uint8Array;
  /**
   * The shard's MSB of the epoch this block ends (src/node/msb.ts): its header, kept by epoch, and
   * its body (packed 76-byte entries in outpoint order) and decisions, kept with the previous MSB's
   * (the oldest kept body is deleted beyond MSB_BODIES_KEPT).
   */
  readonly msb?: StoredMsb;
  /**
   * Prunes, in this block's transaction, the per-height records of heights below `below` (schema.ts
   * "Pruning"), keeping the final-height records of heights that are multiples of `epochLength`
   * (epoch ends). The store lowers `below` to the flushed height, so that a reopened state can
   * always replay from its flushed set (and the flushed block's hash); the horizon only moves up (`prunedBelow`).
   */
  readonly prune?: PruneRequest;
}

/** StoredBlock `prune`. */
export interface PruneRequest {
  readonly below: number;
  readonly epochLength: number;
}

/** An MSB as the store keeps it (StoredBlock `msb`). */
export interface StoredMsb {
  readonly epoch: number;
  /** The header's encoding (src/msb/header.ts). */
  readonly header: Uint8Array;
  /** Packed 76-byte entries in outpoint order. */
  readonly body: Uint8Array;
  /** Packed 33-byte decisions (cross txid ‖ u8 phase) in cross txid order (src/msb/decisions.ts). */
  readonly decisions: Uint8Array;
}

/**
 * A store brought to an MSB's height without the blocks below it (`restoreAtMsb`, node/sync
 * bootstrap): the certified block of the epoch's last height with its certificate, proposal and
 * MSB (whose body is the UTXO set after it), and the shard's MSB headers of the earlier epochs
 * (the back-pointers of the MSBs to come name them).
 */
export interface StoredRestore {
  readonly block: StoredBlock & { readonly msb: StoredMsb; readonly certificate: Uint8Array };
  readonly earlierHeaders: readonly { readonly epoch: number; readonly header: Uint8Array }[];
}

/** A transaction a final block applied and the decision proof of it (src/atomix/proof.ts). */
export interface ProvenTransaction {
  readonly txid: Uint8Array;
  readonly tx: Uint8Array;
  readonly proof: Uint8Array;
}

/** One phase change of a cross-shard transaction (StoredBlock `atomix`). */
export interface AtomixWrite {
  readonly crossTxid: Uint8Array;
  /** src/atomix/phases.ts `encodeAtomixPhase`. */
  readonly phase: number;
  /** This write is the shard's lock decision, proven by the block's own height (src/atomix/stored-proofs.ts builds the proof when read). */
  readonly decided?: boolean;
  /**
   * The store holds no entry for X before this block (the execution's lookup found none): nothing
   * earlier to keep, so the write reads nothing back. A block's first write of X decides it.
   */
  readonly fresh?: boolean;
}

/** A sealed block kept by its hash (`StoredBlock.orderedBlocks`). */
export interface OrderedBlockBytes {
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
}

/**
 * A UTXO flush: the net changes of the blocks since the last one, and the size and supply of the
 * set they produce (schema.ts, "The UTXO log").
 */
export interface UtxoFlush {
  /** Packed 36-byte outpoints of flushed entries the window deleted (one deleted and created again too). */
  readonly spent: Uint8Array;
  /** Packed 76-byte entries the window added, in any order (one deleted and created again too). */
  readonly created: Uint8Array;
  /**
   * The whole set after this flush, packed 76-byte entries in any order, when the log is compacted
   * (schema.ts `utxoCompactionDue`): it becomes the base, every older record goes, and `spent`
   * and `created` are not logged.
   */
  readonly base?: Uint8Array;
  readonly count: number;
  readonly supply: bigint;
  /**
   * Transaction locations of blocks appended without their index (StoredBlock with no txids):
   * written with the flush, in its transaction. txids packed n × 32, heights and positions n each.
   */
  readonly txIndex?: { readonly txids: Uint8Array; readonly heights: Uint32Array; readonly positions: Uint32Array };
}

/** A record of the flushed set's log, in the order to apply them: the base's entries, then each later flush's spent outpoints and created entries. */
export interface UtxoLogRecord {
  readonly height: number;
  readonly part: UtxoLogPart;
  /** Packed 76-byte entries (base, created) or 36-byte outpoints (spent); a copy the caller may keep. */
  readonly bytes: Uint8Array;
}

export interface ChainStore {
  /** Where the records live, for messages: a directory, or `memory:<name>`. */
  readonly location: string;
  /** False until `initialize` wrote the genesis state. */
  readonly initialized: boolean;
  /** The following four throw STORE_NOT_INITIALIZED before `initialize`. */
  readonly identity: StoreIdentity;
  readonly tip: ChainTip;
  readonly flushed: FlushMarker;
  /** What the consensus layer stored with the block at `height`, if anything. */
  consensusStateAt(height: number): Uint8Array | undefined;
  /** A block stored with a final block's `orderedBlocks`, or kept by `keepOrderedBlocks`, by its hash. */
  orderedBlock(hash: Uint8Array): Uint8Array | undefined;
  /**
   * Keeps blocks a proposal orders before the final block that stores them: a PoB replica keeps
   * them before it co-signs the proposal, so that the bodies of a prepared value survive a restart
   * of every replica (durable when the promise resolves; writes of one turn share one commit).
   */
  keepOrderedBlocks(blocks: readonly OrderedBlockBytes[]): Promise<void>;
  /**
   * Keeps transactions this validator answered "accepted" until they settle, so that a restart
   * queues them again: durable when the promise resolves, without blocking the caller (writes of
   * one turn share one commit; they keep call order with `forgetAccepted`).
   */
  keepAccepted(transactions: readonly { readonly txid: Uint8Array; readonly tx: Uint8Array }[]): Promise<void>;
  /** Drops settled transactions from the kept ones (same ordering as `keepAccepted`). */
  forgetAccepted(txids: readonly Uint8Array[]): Promise<void>;
  /** The kept transactions' bytes, in txid order. */
  acceptedTransactions(): Uint8Array[];
  /** Where this shard's final chain left a cross-shard transaction (StoredBlock `atomix`), if it touched it. */
  atomix(crossTxid: Uint8Array): StoredAtomix | undefined;
  /** Every cross-shard transfer the final chain touched, in txid order (a restart watches its locks again). */
  atomixEntries(): Iterable<{ readonly crossTxid: Uint8Array; readonly entry: StoredAtomix }>;
  /** Every registration and leave the final chain applied, with its proof (StoredBlock `changeProofs`), in txid order. */
  changeProofs(): Iterable<ProvenTransaction>;
  /** What was kept with the certified block at `height` (StoredBlock `certificate`), if it carried a certificate. */
  finalHeightRecord(height: number): StoredFinalHeight | undefined;
  /** The MSB header of `epoch` stored with that epoch's last block (StoredBlock `msb`), if any. */
  msbHeader(epoch: number): Uint8Array | undefined;
  /** The MSBs whose bodies are kept in full (the latest MSB_BODIES_KEPT, schema.ts), ascending epochs. */
  readonly keptMsbs: readonly KeptMsb[];
  /** The last of `keptMsbs`, if any. */
  readonly latestMsb: KeptMsb | undefined;
  /** A kept MSB's body, packed entries in outpoint order, one chunk at a time; undefined when its body is not kept. */
  msbBody(epoch: number): Iterable<Uint8Array> | undefined;
  /** A kept MSB's decisions, packed 33-byte leaves in cross txid order, one chunk at a time; undefined when not kept. */
  msbDecisions(epoch: number): Iterable<Uint8Array> | undefined;
  /**
   * The lowest height whose per-height records are all kept (1 when nothing was pruned): below it a
   * block, its index entries and its final-height record are gone, except epoch ends' records.
   */
  readonly prunedBelow: number;
  /** The last final block's refusal of `txid` (StoredBlock `rejections`), if any. */
  rejection(txid: Uint8Array): StoredRejection | undefined;
  readonly epoch: number;
  /**
   * Writes the genesis state: identity, tip = (0, genesisId), the UTXO entries (packed 76-byte
   * UtxoTable entries) and the flushed marker at height 0. STORE_ALREADY_INITIALIZED if present.
   */
  initialize(identity: StoreIdentity, entries: Uint8Array): void;
  /**
   * Replaces the chain below and at an MSB's height in ONE transaction (StoredRestore): blocks,
   * their indexes, final-height records, rejections, phases, change proofs, consensus records, MSB
   * headers and bodies and the UTXO set are dropped; the UTXO set becomes the MSB body, the Atomix
   * phases the MSB's decisions (each at the MSB height, without a proof: schema.ts "Restore"), the flushed
   * marker and the tip the MSB height, `prunedBelow` that height (the blocks below were never fetched). The height must be above the tip
   * (STORE_BAD_INPUT); the identity, epoch archive, kept transactions and ordered blocks stay.
   */
  restoreAtMsb(restore: StoredRestore): void;
  /** Appends the block at tip + 1, with an optional UTXO flush whose marker is this block's height. */
  appendBlock(block: StoredBlock, flush?: UtxoFlush): void;
  /** Writes a UTXO batch and moves the flushed marker to the current tip. */
  flushUtxos(flush: UtxoFlush): void;
  setEpoch(epoch: number): void;
  /** The last epoch whose link and transcript are kept (0: none); the archive holds 1..lastEpoch. */
  readonly lastEpoch: number;
  /**
   * Keeps epoch `epoch`'s identity-chain link and the DRP transcript whose hash its configuration
   * names, in one transaction; `epoch` must be lastEpoch + 1 (STORE_BAD_INPUT): no gaps.
   */
  keepEpoch(epoch: number, link: IdentityLink, transcript: Uint8Array): void;
  epochLink(epoch: number): IdentityLink | undefined;
  epochTranscript(epoch: number): Uint8Array | undefined;
  getBlock(height: number): Uint8Array | undefined;
  getBlockByHash(hash: Uint8Array): Uint8Array | undefined;
  getTxLocation(txid: Uint8Array): TxLocation | undefined;
  /** The flushed UTXO set as its log (`flushed` says what it adds up to); STORE_CORRUPT for a record out of place. */
  utxoLog(): Iterable<UtxoLogRecord>;
  close(): Promise<void>;
}
