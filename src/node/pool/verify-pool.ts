/**
 * The node's worker pool for batch signature verification (DESIGN §2: one Piscina pool per
 * validator, sized to the cores, workers that load the WASM kernels once and take whole batches).
 *
 * A batch is packed into one buffer (src/crypto/signature-batch.ts), split into at most one chunk
 * per thread, and each chunk is moved (transferred, not copied) to a worker, which answers with a
 * verdict byte per item. Items the packed format cannot carry (wrong-length key or signature) are
 * invalid and never leave this thread.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { IosError, check } from "../../errors.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import {
  isPackableItem,
  packSignatureBatch,
  scanSignatureBatch,
  sliceSignatureBatch,
} from "../../crypto/signature-batch.js";
import { WASM_FLAVORS, type WasmFlavor } from "../../crypto/wasm.js";
import { decodeValidatedBatch, encodeValidationRequest, type ValidatedBatch } from "../pipeline/validated-batch.js";
import type * as WorkerTasks from "./worker.js";

export type VerifierPoolErrorCode = "VERIFIER_POOL_OPTIONS" | "VERIFIER_POOL_CLOSED" | "VERIFIER_POOL_TASK_FAILED";

export interface VerifierPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  threads?: number;
  /** WASM kernel build the workers load; default per `defaultFlavor()` in each worker. */
  flavor?: WasmFlavor;
}

/**
 * Fewest items worth a chunk of their own: 64. Batch verification costs less per signature as the
 * batch grows (the multi-scalar multiplication amortises its doublings) and a worker round trip
 * costs about as much as one verification, so a batch is split across threads only into chunks of
 * at least this many items; smaller batches go to a single worker whole.
 */
export const MIN_CHUNK_ITEMS = 64;
/**
 * Tasks posted to a worker at once: 2, so each worker already holds its next batch while the
 * main thread is busy (a block commit blocks it for tens of ms, bench/pipeline.bench.ts) and
 * cannot hand out work; the worker still runs them one after the other.
 */
export const TASKS_PER_WORKER = 2;
/** Upper bound on `threads`: far above any core count this runs on, low enough to catch typos. */
export const MAX_POOL_THREADS = 256;

type TaskName = keyof typeof WorkerTasks;
const WORKER_FILE = fileURLToPath(new URL("./worker.js", import.meta.url));
const CODED_MESSAGE = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/;

/**
 * Errors cross the thread boundary by structured clone, which keeps the message but drops the
 * `code` property; IosError messages start with their code, so the code is restored from there.
 */
export function reviveWorkerError(error: unknown): IosError {
  const message = error instanceof Error ? error.message : String(error);
  const coded = CODED_MESSAGE.exec(message);
  if (coded !== null) return new IosError(coded[1]!, coded[2]!, { fromWorker: true });
  return new IosError<VerifierPoolErrorCode>("VERIFIER_POOL_TASK_FAILED", message, { fromWorker: true });
}

/** Splits `count` items into at most `threads` contiguous ranges of at least MIN_CHUNK_ITEMS (one range if fewer). */
function chunkBounds(count: number, threads: number): number[] {
  const chunks = Math.max(1, Math.min(threads, Math.floor(count / MIN_CHUNK_ITEMS)));
  const bounds = [0];
  for (let chunk = 1; chunk <= chunks; chunk++) bounds.push(Math.round((count * chunk) / chunks));
  return bounds;
}

export class VerifierPool {
  readonly threads: number;
  readonly #piscina: Piscina;
  #closed = false;

  constructor(options: VerifierPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    check(
      Number.isInteger(threads) && threads >= 1 && threads <= MAX_POOL_THREADS,
      "VERIFIER_POOL_OPTIONS",
      `threads must be an integer in 1..${MAX_POOL_THREADS}, got ${threads}`,
    );
    check(
      options.flavor === undefined || WASM_FLAVORS.includes(options.flavor),
      "VERIFIER_POOL_OPTIONS",
      `flavor must be one of ${WASM_FLAVORS.join(", ")}, got ${String(options.flavor)}`,
    );
    this.threads = threads;
    this.#piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      workerData: { flavor: options.flavor },
    });
  }

  /**
   * Verifies `items` on the workers; resolves to one verdict per item, in order. Never rejects
   * for bad signatures or wrong-length fields (those are `false`); rejects only if the pool is
   * closed, a worker fails, or a chunk exceeds the packed format's limits (MAX_BATCH_ITEMS/BYTES).
   */
  async verifyBatch(items: readonly SignatureItem[]): Promise<boolean[]> {
    this.#checkOpen();
    const verdicts = new Array<boolean>(items.length).fill(false);
    const packableIndices: number[] = [];
    for (let index = 0; index < items.length; index++) if (isPackableItem(items[index]!)) packableIndices.push(index);
    const bounds = chunkBounds(packableIndices.length, this.threads);
    const chunks: Promise<Uint8Array>[] = [];
    for (let chunk = 0; chunk + 1 < bounds.length; chunk++) {
      const chunkItems = packableIndices.slice(bounds[chunk], bounds[chunk + 1]).map((index) => items[index]!);
      if (chunkItems.length > 0) chunks.push(this.#run("verifySignatureBatch", packSignatureBatch(chunkItems)));
    }
    let next = 0;
    for (const chunkVerdicts of await Promise.all(chunks)) {
      for (const verdict of chunkVerdicts) verdicts[packableIndices[next++]!] = verdict === 1;
    }
    return verdicts;
  }

  /**
   * Verifies a packed batch; resolves to one verdict byte per item (1 valid, 0 invalid). `bytes`
   * is not modified or detached. A malformed batch rejects with SIGNATURE_BATCH_MALFORMED.
   */
  async verifyPacked(bytes: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    const offsets = scanSignatureBatch(bytes);
    const count = offsets.length - 1;
    const verdicts = new Uint8Array(count);
    if (count === 0) return verdicts;
    const bounds = chunkBounds(count, this.threads);
    const chunks: Promise<void>[] = [];
    for (let chunk = 0; chunk + 1 < bounds.length; chunk++) {
      const from = bounds[chunk]!;
      const packed = sliceSignatureBatch(bytes, offsets, from, bounds[chunk + 1]!);
      chunks.push(this.#run("verifySignatureBatch", packed).then((chunkVerdicts) => verdicts.set(chunkVerdicts, from)));
    }
    await Promise.all(chunks);
    return verdicts;
  }

  /**
   * Validates a batch of framed transactions (u32le length ‖ encoding, repeated) for `shard` of
   * `shardCount` on one worker: stateless checks and batch signature verification in a single
   * message each way (src/node/pipeline/validated-batch.ts). The batch is not split: the pipeline
   * keeps one batch per worker in flight instead. `framed` is copied, never detached. Broken
   * framing rejects with BATCH_TRUNCATED.
   */
  async validateTransactions(framed: Uint8Array, shard: number, shardCount: number): Promise<ValidatedBatch> {
    this.#checkOpen();
    return decodeValidatedBatch(await this.#run("validateTransactions", encodeValidationRequest(framed, shard, shardCount)));
  }

  /** Stops the workers once running tasks finish; later calls reject with VERIFIER_POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.close();
  }

  #checkOpen(): void {
    check(!this.#closed, "VERIFIER_POOL_CLOSED", "the verifier pool has been closed");
  }

  /** Moves `packed`'s buffer to a worker running task `name`; the caller must not use it afterwards. */
  async #run(name: TaskName, packed: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    try {
      const result: ArrayBuffer = await this.#piscina.run(packed.buffer, { name, transferList: [packed.buffer] });
      return new Uint8Array(result);
    } catch (error) {
      throw reviveWorkerError(error);
    }
  }
}
