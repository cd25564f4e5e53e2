/**
 * What the client API needs from a validator. `src/node/validator.ts` adapts the pipeline and the
 * shard state to this; the API itself holds no ledger logic beyond the owner index.
 */
import type { IdentityLink } from "../epoch/identity/interface.js";
import type { AtomixBatch, ConfirmationBatch, OptimisticBatch, SubmitOutcomeName } from "./stream-codec.js";

/** Result of submitting one transaction: the one type from the API down to the shard drivers. */
export interface SubmitResult {
  readonly outcome: SubmitOutcomeName;
  /** 32 bytes, or undefined when the transaction could not be decoded (or was refused before validation). */
  readonly txid?: Uint8Array;
  /** Set unless accepted: a ledger or pipeline code (e.g. TX_TRUNCATED, MEMPOOL_FULL). */
  readonly code?: string;
  readonly message?: string;
  /** For duplicates: the status of the transaction already known. */
  readonly status?: TxStatus;
}

/** A transaction's status: the one type from the API down to the shard drivers. */
export type TxStatus =
  | { readonly state: "pending" }
  /** In an optimistic block of a believable validator, not yet final (white paper §7.2 phase 1). */
  | {
    readonly state: "optimistic";
    readonly block: Uint8Array;
    readonly producer: Uint8Array;
    /** The producer's signed header and the transaction's Merkle proof (src/consensus/pob/evidence.ts `encodeInclusion`), for the client to check. */
    readonly inclusion?: Uint8Array;
  }
  | { readonly state: "final"; readonly height: number; readonly index: number }
  | { readonly state: "rejected"; readonly code: string }
  | { readonly state: "unknown" };

export interface ChainTipView {
  readonly height: number;
  readonly hash: Uint8Array;
}

/** The read side of the shard state the API serves (ShardState satisfies it). */
export interface ChainView {
  /** Which shard of how many it is: a record's effects depend on it (Atomix). */
  readonly shard: number;
  readonly shardCount: number;
  readonly tip: ChainTipView;
  utxoSnapshot(): Uint8Array;
  getBlock(height: number): Uint8Array | undefined;
  /** Heights below it are pruned (src/store/schema.ts "Pruning"): their blocks and index entries are gone. */
  readonly prunedBelow: number;
  /** Whether this node prunes old epochs' heights (`ios node --no-prune` keeps them all). */
  readonly prunes: boolean;
  getBlockByHash(hash: Uint8Array): Uint8Array | undefined;
  getTransactionLocation(txid: Uint8Array): { readonly height: number; readonly position: number } | undefined;
  /** Where the final chain left a cross-shard transaction (src/atomix/phases.ts), with the proof of this shard's lock decision. */
  atomix(crossTxid: Uint8Array): { readonly phase: string; readonly height: number; readonly proof: Uint8Array | undefined } | undefined;
  /** The epoch archive (ChainStore `keepEpoch`): links and DRP transcripts of epochs 1..lastEpoch. */
  readonly lastEpoch: number;
  epochLink(epoch: number): IdentityLink | undefined;
  epochTranscript(epoch: number): Uint8Array | undefined;
}

/** The epoch archive the API serves: a validator's home store's, whichever shard it serves now. */
export type EpochArchiveView = Pick<ChainView, "lastEpoch" | "epochLink" | "epochTranscript">;

/** One Prometheus sample family contributed by the node (pipeline, pool, transport, ...). */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly samples: readonly { readonly labels?: Readonly<Record<string, string>>; readonly value: number }[];
}

/** Proofs about the shard's Micro State Blocks and final transactions (src/node/msb-proof.ts, its binary format). */
export interface MsbProofService {
  /** The latest MSB's header facts, if an epoch ended. */
  latestSummary(): { readonly epoch: number; readonly height: number; readonly root: Uint8Array; readonly count: number; readonly supply: bigint } | undefined;
  /** An MSB header proof (type 1) of `epoch`, the latest when undefined, with the decoded header and its hash. */
  header(epoch?: number): { readonly proof: Uint8Array; readonly header: { readonly epoch: number; readonly shard: number; readonly height: number; readonly count: number; readonly supply: bigint; readonly root: Uint8Array; readonly decisions: number; readonly decisionsRoot: Uint8Array }; readonly headerHash: Uint8Array };
  /** A UTXO proof (type 2) against the latest MSB. */
  utxo(txid: Uint8Array, index: number): Uint8Array;
  /** A transaction proof (type 3). */
  tx(txid: Uint8Array): Uint8Array;
}

export interface ClientBackend {
  /** The shard this node serves and the epoch it serves it in (the node's epoch context). */
  readonly shard: number;
  readonly epoch: number;
  readonly shardCount: number;
  readonly chain: ChainView;
  /** Where the epoch archive is kept, when not in `chain` (a validator that moved to another shard's store). */
  readonly archive?: EpochArchiveView;
  /** Submits transactions; resolves once each has an outcome (same order). Never rejects. */
  submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]>;
  status(txid: Uint8Array): TxStatus;
  /** Registers a listener for confirmation batches; returns the unsubscribe function. */
  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void;
  /** Registers a listener for optimistic blocks of the shard (PoB); returns the unsubscribe function. */
  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void;
  /** Registers a listener for the cross-shard transfers each final height moved (PoB); returns the unsubscribe function. */
  onAtomix?(listener: (batch: AtomixBatch) => void): () => void;
  /** Proofs (GET /v1/msb/*, /v1/utxo/:outpoint/proof, /v1/tx/:txid/proof); absent: MSB_NONE. */
  readonly msb?: MsbProofService;
  /** Node facts for GET /v1/status (JSON-safe values). */
  nodeStatus(): Record<string, unknown>;
  /** Node metrics for GET /metrics. */
  metrics(): MetricFamily[];
}
