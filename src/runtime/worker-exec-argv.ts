import { Worker } from "node:worker_threads";
import { IosError } from "../errors.js";

/**
 * The Node options of the project's Piscina workers. Piscina loads a worker file with `require()`
 * first and `import()` only when that throws; on Node 20.19+ `require()` of an ES module succeeds
 * through require(esm), which can abort the whole process (V8 "IsGraphAsync must be used on an
 * instantiated module", nodejs/node#55782: a require(esm)/import(esm) race, seen once in six full
 * test runs). Turning require(esm) off in the workers makes `require()` throw ERR_REQUIRE_ESM, so
 * every worker loads its ES module by `import()` alone. Older Node 20 releases, without the
 * option, never take the require(esm) path: the workers keep the parent's options there.
 */
const NO_REQUIRE_ESM = "--no-experimental-require-module";

/**
 * A worker refuses every V8 flag and per-process Node option in its execArgv
 * (ERR_WORKER_INVALID_EXEC_ARGV), and an operator may start the node with any of them (`node
 * --max-old-space-size=8192 … ios node`, `--interrupt-budget=…`, `--title=…`): which ones, only
 * Node knows (`process.allowedNodeEnvironmentFlags` admits some it refuses here, and misses
 * `--cpu-prof`, which a worker takes). So a probe worker is started with the process's options
 * and its refusal names the flags to leave out ("… invalid execArgv flags: --a=1, --b"); a refused
 * flag given without `=` takes the argument after it along when that is its value.
 */
export type WorkerArgvErrorCode = "WORKER_ARGV_REFUSED";

const REFUSED_PREFIX = "invalid execArgv flags: ";

/** The flags a worker refuses among `args` (none: a probe worker started and was stopped). */
function refusedFlags(args: readonly string[]): string[] {
  try {
    const probe = new Worker("", { eval: true, execArgv: [...args], stdout: true, stderr: true });
    probe.unref();
    probe.on("error", () => undefined);
    void probe.terminate();
    return [];
  } catch (error) {
    const message = (error as Error).message;
    const at = message.indexOf(REFUSED_PREFIX);
    if ((error as { code?: string }).code !== "ERR_WORKER_INVALID_EXEC_ARGV" || at < 0) throw error;
    return message.slice(at + REFUSED_PREFIX.length).split(", ");
  }
}

function withoutFlags(args: readonly string[], refused: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const flag = refused.find((name) => arg === name || (!name.includes("=") && arg.startsWith(`${name}=`)));
    if (flag === undefined) kept.push(arg);
    else if (arg === flag && !flag.includes("=") && args[i + 1] !== undefined && !args[i + 1]!.startsWith("-")) i++;
  }
  return kept;
}

/** `args` less every flag a worker refuses; a refusal naming nothing of `args` is Node's error, thrown. */
export function workerAcceptedArgs(args: readonly string[]): string[] {
  let kept = [...args];
  for (;;) {
    const refused = refusedFlags(kept);
    if (refused.length === 0) return kept;
    const fewer = withoutFlags(kept, refused);
    if (fewer.length === kept.length) {
      throw new IosError<WorkerArgvErrorCode>("WORKER_ARGV_REFUSED", `a worker refuses ${refused.join(", ")}, which are not among its options ${kept.join(" ")}`);
    }
    kept = fewer;
  }
}

/** V8 without background threads (compilation and GC on the thread that needs them): a devnet packed onto few cores (src/devnet/launcher.ts). */
export const SINGLE_THREADED_V8 = "--single-threaded";
/**
 * V8 keeps every function's bytecode and type feedback (src/devnet/launcher.ts). By default it
 * drops those of functions idle through a few GCs, and a validator's rare functions (the UTXO
 * flush every 16 heights, per-epoch work) then start cold each time: in a 30 s closed-loop run
 * `writeFlush` was compiled 15 times, deoptimized for want of feedback, against 2–5 without.
 */
export const KEEP_BYTECODE_V8 = "--no-flush-bytecode";

let workerArgs: readonly string[] | undefined;

/** The execArgv of the project's workers: the process's options a worker takes, then NO_REQUIRE_ESM where Node has it (worked out once). */
export function workerExecArgv(): readonly string[] {
  if (workerArgs === undefined) {
    // A process started with no option of its own has nothing a worker could refuse: no probe.
    const inherited = process.execArgv.length === 0 ? [] : workerAcceptedArgs(process.execArgv);
    workerArgs = process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM) ? [...inherited, NO_REQUIRE_ESM] : inherited;
  }
  return workerArgs;
}
