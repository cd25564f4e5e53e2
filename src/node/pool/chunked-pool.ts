/**
 * The part of a verifier pool that does not depend on where tasks run: splitting a batch into at
 * most one chunk per thread, packing it, gathering verdicts, closing, and the errors a task
 * rejects with. Subclasses run one named task of src/node/pool/worker.ts on an ArrayBuffer.
 */
import { IosError, check } from "../../errors.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import { isPackableItem, packSignatureBatch, scanSignatureBatch, sliceSignatureBatch } from "../../crypto/signature-batch.js";
import { decodeValidatedBatch, encodeValidationRequest, type ValidatedBatch } from "../pipeline/validated-batch.js";
import type { VerifierPool, VerifierPoolErrorCode } from "./interface.js";
import type * as WorkerTasks from "./worker.js";

export type TaskName = keyof typeof WorkerTasks;

/**
 * Fewest items worth a chunk of their own: 64. Batch verification costs less per signature as the
 * batch grows (the multi-scalar multiplication amortises its doublings) and a worker round trip
 * costs about as much as one verification, so a batch is split across threads only into chunks of
 * at least this many items; smaller batches go to a single worker whole.
 */
export const MIN_CHUNK_ITEMS = 64;
/** Upper bound on `threads`: far above any core count this runs on, low enough to catch typos. */
export const MAX_POOL_THREADS = 256;

const CODED_MESSAGE = /^([A-Z][A-Z0-9_]*): ([\s\S]*)$/;

/**
 * The error a task rejects with, as callers see it from either pool. Errors cross the thread
 * boundary by structured clone, which keeps the message but drops the `code` property; IosError
 * messages start with their code, so the code is restored from there.
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

export function checkThreads(threads: number): void {
  check(
    Number.isInteger(threads) && threads >= 1 && threads <= MAX_POOL_THREADS,
    "VERIFIER_POOL_OPTIONS",
    `threads must be an integer in 1..${MAX_POOL_THREADS}, got ${threads}`,
  );
}

export abstract class ChunkedVerifierPool implements VerifierPool {
  #closed = false;

  protected constructor(readonly threads: number) {
    checkThreads(threads);
  }

  /** Runs worker task `name` on `packed`, whose buffer the task may take (the caller must not use it afterwards). */
  protected abstract runTask(name: TaskName, packed: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  /** Stops running tasks once the running ones finish. */
  protected abstract stopTasks(): Promise<void>;

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

  /** The batch is not split: the pipeline keeps one batch per thread in flight instead. */
  async validateTransactions(framed: Uint8Array, shard: number, shardCount: number, committees?: Uint8Array): Promise<ValidatedBatch> {
    this.#checkOpen();
    return decodeValidatedBatch(await this.#run("validateTransactions", encodeValidationRequest(framed, shard, shardCount, committees)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stopTasks();
  }

  #checkOpen(): void {
    check(!this.#closed, "VERIFIER_POOL_CLOSED", "the verifier pool has been closed");
  }

  async #run(name: TaskName, packed: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    try {
      return new Uint8Array(await this.runTask(name, packed));
    } catch (error) {
      throw reviveWorkerError(error);
    }
  }
}
