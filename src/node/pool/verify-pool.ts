/**
 * The node's worker pool for batch signature verification (DESIGN §2: one Piscina pool per
 * validator, sized to the cores, workers that load the WASM kernels once and take whole batches).
 *
 * A batch is packed into one buffer (src/crypto/signature-batch.ts), split into at most one chunk
 * per thread (chunked-pool.ts), and each chunk is moved (transferred, not copied) to a worker,
 * which answers with a verdict byte per item. Items the packed format cannot carry (wrong-length
 * key or signature) are invalid and never leave this thread.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { check } from "../../errors.js";
import { WASM_FLAVORS, type WasmFlavor } from "../../crypto/wasm.js";
import { ChunkedVerifierPool, type TaskName } from "./chunked-pool.js";
import { TASKS_PER_WORKER } from "./interface.js";
import { workerExecArgv } from "../../runtime/worker-exec-argv.js";

export interface VerifierPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  threads?: number;
  /** WASM kernel build the workers load; default per `defaultFlavor()` in each worker. */
  flavor?: WasmFlavor;
}

const WORKER_FILE = fileURLToPath(new URL("./worker.js", import.meta.url));

export class PiscinaVerifierPool extends ChunkedVerifierPool {
  readonly #piscina: Piscina;

  constructor(options: VerifierPoolOptions = {}) {
    super(options.threads ?? availableParallelism());
    check(
      options.flavor === undefined || WASM_FLAVORS.includes(options.flavor),
      "VERIFIER_POOL_OPTIONS",
      `flavor must be one of ${WASM_FLAVORS.join(", ")}, got ${String(options.flavor)}`,
    );
    this.#piscina = new Piscina({
      filename: WORKER_FILE,
      execArgv: [...workerExecArgv()],
      minThreads: this.threads,
      maxThreads: this.threads,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
      workerData: { flavor: options.flavor },
    });
  }

  /** Moves `packed`'s buffer to a worker. */
  protected runTask(name: TaskName, packed: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
    return this.#piscina.run(packed.buffer, { name, transferList: [packed.buffer] });
  }

  protected stopTasks(): Promise<void> {
    return this.#piscina.close();
  }
}
