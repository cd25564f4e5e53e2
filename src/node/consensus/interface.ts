/**
 * The shard driver: what decides a validator's blocks. The validator wires exactly one — solo
 * (solo-driver.ts, a lone validator commits its own blocks), bft (shard-consensus.ts, one-league
 * ByzCoin over the shard's validators) or pob (pob-consensus.ts, Proof-of-Believability, white
 * paper §7.2) — and the client API, the status and the metrics speak to it alone.
 *
 * Every driver admits client transactions through the node's pipeline (intake → worker pool →
 * verified queue, ../pipeline.ts), makes its blocks durable through the shard state's one commit
 * API (`ShardState.assemble`), and settles their transactions back through the pipeline, which
 * publishes one `BlockEvent` per settlement. `SubmitResult` and `TxStatus` (src/api/interface.ts)
 * are the one result and status type from the client API down to the drivers.
 */
import type { MetricFamily, SubmitResult, TxStatus } from "../../api/interface.js";
import type { AtomixBatch, OptimisticBatch } from "../../api/stream-codec.js";

export type { SubmitResult, TxStatus };

/** One settlement: a committed block's transactions, or transactions refused before any block. */
export interface BlockEvent {
  readonly height: number;
  readonly hash: Uint8Array;
  /** Packed txids (n × 32) of the transactions the block made final, in block order. */
  readonly final: Uint8Array;
  /** Transactions settled as rejected, with their code (an ApplyStatus name, or the producer's refusal). */
  readonly rejected: readonly { readonly txid: Uint8Array; readonly code: string }[];
}

export type ConsensusMode = "solo" | "bft" | "pob";

/** Where transactions enter a validator (client API, gossip and relays from peers). */
export interface TxSink {
  submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]>;
}

export interface ShardDriver extends TxSink {
  readonly mode: ConsensusMode;
  /** Joins the shard (or starts producing) from the stored tip. */
  start(): void;
  /**
   * Leaves the shard; committed blocks stay. Solo commits what it accepted first (a clean stop
   * drops nothing accepted); bft and pob leave unfinal transactions to the shard.
   */
  stop(): Promise<void>;
  status(txid: Uint8Array): TxStatus;
  /** One event per settlement, in order; returns the unsubscribe function. */
  onConfirmations(listener: (event: BlockEvent) => void): () => void;
  /** Optimistic blocks of the shard: only a driver with optimistic confirmations (PoB) has it. */
  onOptimistic?(listener: (batch: OptimisticBatch) => void): () => void;
  /** Cross-shard transfers each final height moved, with lock proofs (PoB only). */
  onAtomix?(listener: (batch: AtomixBatch) => void): () => void;
  /** The consensus part of GET /v1/status (JSON-safe values). */
  describe(): Record<string, unknown>;
  /** The driver's own metric families for GET /metrics. */
  metrics(): MetricFamily[];
}
