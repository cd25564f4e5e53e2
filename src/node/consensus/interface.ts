/**
 * What shard consensus needs from the node around it (issue 6). The BFT application
 * (shard-consensus.ts) builds proposals from the transactions a validator holds, has every
 * proposal's transactions checked by the verifier pool, commits final blocks through the shard
 * state, and then tells the holder which transactions a final block settled. Two holders fit:
 * `VerifiedTxQueue` (verified-queue.ts, a self-contained one) and the node's pipeline once it
 * exposes these hooks.
 */
import type { FinalityRecord } from "../../consensus/bft/codec.js";
import type { VerifierPool } from "../pool/interface.js";
import type { ShardState } from "../shard-state.js";

/** A block the shard finalized and this validator committed. */
export interface FinalBlock {
  readonly height: number;
  readonly hash: Uint8Array;
  /** The stored encoding: Final header, collective seal (the commit certificate), body. */
  readonly bytes: Uint8Array;
  /** Every transaction of the block, applied or not, packed (n × 32), in body order. */
  readonly txids: Uint8Array;
  /** One ApplyStatus per transaction, in body order (0 = applied). */
  readonly statuses: Uint8Array;
  /** The BFT proof: proposal plus prepare and commit certificates (`verifyFinality`). */
  readonly record: FinalityRecord;
}

/** What a leader may propose: waiting transactions, oldest first, and their txids packed (n × 32) in the same order. */
export interface Candidates {
  readonly transactions: readonly Uint8Array[];
  readonly txids: Uint8Array;
}

/** The holder of the transactions a validator has verified and not yet seen final. */
export interface ConsensusHost {
  readonly state: ShardState;
  readonly pool: VerifierPool;
  /** Up to `maxTxs` waiting transactions (at most `maxBodyBytes` framed), oldest first, left in place. */
  candidates(maxTxs: number, maxBodyBytes: number): Candidates;
  /**
   * Whether this exact transaction (same bytes under `txid`) passed this validator's stateless
   * checks and signature verification and still waits: a proposal's copy need not be verified again.
   */
  holds(txid: Uint8Array, tx: Uint8Array): boolean;
  /** A final block was committed: forget its transactions, publish their statuses. */
  settled(block: FinalBlock): void;
  /** Called with the number waiting whenever verified transactions were added. */
  onAdmitted(listener: (waiting: number) => void): () => void;
}

/** Outcome of one submitted transaction, shaped like the pipeline's `SubmitResult`. */
export interface TxSubmitResult {
  readonly outcome: "accepted" | "duplicate" | "rejected";
  readonly txid?: Uint8Array;
  readonly code?: string;
  readonly message?: string;
}

/** Where transactions enter a validator (client API, gossip from peers). */
export interface TxSink {
  submit(transactions: readonly Uint8Array[]): Promise<readonly TxSubmitResult[]>;
}
