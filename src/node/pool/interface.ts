/**
 * What the node asks of its verifier pool: batch signature verification and the pipeline's
 * per-batch validation task (src/node/pool/worker.ts). Two implementations run the same task
 * functions on the same batches: `PiscinaVerifierPool` (verify-pool.ts) on worker threads in
 * production, `InlineVerifierPool` (inline-pool.ts) on the calling thread for the deterministic
 * simulator. Both answer through promises and give the same results byte for byte.
 */
import type { SignatureItem } from "../../crypto/ed25519.js";
import type { ValidatedBatch } from "../pipeline/validated-batch.js";

export type VerifierPoolErrorCode = "VERIFIER_POOL_OPTIONS" | "VERIFIER_POOL_CLOSED" | "VERIFIER_POOL_TASK_FAILED";

/**
 * Tasks worth keeping in flight per thread: 2, so each worker already holds its next batch while
 * the main thread is busy (a block commit blocks it for tens of ms, bench/pipeline.bench.ts) and
 * cannot hand out work; the worker still runs them one after the other.
 */
export const TASKS_PER_WORKER = 2;

/**
 * Decompressed keys a worker keeps (~12 KiB each, so 48 MiB per worker), and the PoB driver's
 * main-thread verifier of the sampled signatures (src/node/consensus/pob-consensus.ts). A shard's busy senders
 * repeat: on a 2,000-account rotating workload, 4,096 slots verified 1.21× faster per CPU-second
 * than the verifier's default of 512, which such a workload thrashes.
 */
export const WORKER_KEY_CACHE_SIZE = 4096;

export interface VerifierPool {
  /** Threads the work is spread over (callers keep threads × TASKS_PER_WORKER tasks in flight). */
  readonly threads: number;
  /**
   * Resolves to one verdict per item, in order. Bad signatures and wrong-length fields are
   * `false`, never a rejection; rejects only if the pool is closed, a task fails, or a chunk
   * exceeds the packed format's limits (MAX_BATCH_ITEMS/BYTES).
   */
  verifyBatch(items: readonly SignatureItem[]): Promise<boolean[]>;
  /**
   * Verifies a packed batch (src/crypto/signature-batch.ts): one verdict byte per item (1 valid,
   * 0 invalid). `bytes` is not modified or detached; a malformed batch rejects with
   * SIGNATURE_BATCH_MALFORMED.
   */
  verifyPacked(bytes: Uint8Array): Promise<Uint8Array>;
  /**
   * Validates framed transactions (u32le length ‖ encoding, repeated) for `shard` of
   * `shardCount`: stateless checks and batch signature verification as one task
   * (src/node/pipeline/validated-batch.ts). `committees` (src/atomix/proof.ts
   * `encodeEpochCommittees`) verify the proofs of Atomix unlocks; without them every Atomix kind is
   * refused. `framed` is copied, never detached. Broken framing rejects with BATCH_TRUNCATED.
   */
  validateTransactions(framed: Uint8Array, shard: number, shardCount: number, committees?: Uint8Array): Promise<ValidatedBatch>;
  /** Finishes running tasks; later calls reject with VERIFIER_POOL_CLOSED. */
  close(): Promise<void>;
}
