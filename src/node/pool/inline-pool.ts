/**
 * The simulator's verifier pool: the task functions of worker.ts, run on the calling thread. No
 * threads, no scheduling: a task runs to completion when called, in call order, so a run is a
 * function of its inputs; the answer still comes through a promise (already resolved), so callers
 * see the same asynchronous shape as with the worker pool. Chunking, packing and errors are the
 * worker pool's own (chunked-pool.ts), so the results are equal byte for byte
 * (test/node/inline-pool.test.ts). The kernel build is the process default (worker.ts reads no
 * options on the main thread).
 */
import { Piscina } from "piscina";
import { ChunkedVerifierPool, type TaskName } from "./chunked-pool.js";
import * as tasks from "./worker.js";

export interface InlineVerifierPoolOptions {
  /**
   * Threads the pool reports (default 1): chunking and the pipeline's in-flight bound follow it,
   * as they would with that many workers; the work itself stays on this thread.
   */
  threads?: number;
}

/** A task's answer: worker.ts hands some results to `Piscina.move`, which wraps them for the thread boundary. */
function unwrapMoved(result: unknown): ArrayBuffer {
  const moved = result as Record<symbol, unknown>;
  return (typeof result === "object" && result !== null && Piscina.valueSymbol in moved ? moved[Piscina.valueSymbol] : result) as ArrayBuffer;
}

export class InlineVerifierPool extends ChunkedVerifierPool {
  constructor(options: InlineVerifierPoolOptions = {}) {
    super(options.threads ?? 1);
  }

  protected async runTask(name: TaskName, packed: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
    return unwrapMoved(tasks[name](packed.buffer));
  }

  protected stopTasks(): Promise<void> {
    return Promise.resolve();
  }
}
