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
 * V8 flags an operator may give the validator's node (heap sizes, GC and JIT tracing, background threads, perf maps): they are the
 * process's, and Node refuses every V8 flag in a worker's execArgv (ERR_WORKER_INVALID_EXEC_ARGV),
 * so `node --max-old-space-size=8192 ios node …` would fail to start its verifier pool. Only the
 * `=` form exists for them (`--max-old-space-size 8192` is not a Node option).
 */
const V8_FLAG = /^--(max-old-space-size|max-semi-space-size|max-heap-size|stack-size|stack-trace-limit|expose-gc|trace-gc|no-opt|max-opt|single-threaded|single-threaded-gc|v8-pool-size|no-flush-bytecode|trace-opt|trace-deopt|perf-basic-prof|perf-prof|interpreted-frames-native-stack)(=|$)/;

/** V8 without background threads (compilation and GC on the thread that needs them): a devnet packed onto few cores (src/devnet/launcher.ts). */
export const SINGLE_THREADED_V8 = "--single-threaded";
/**
 * V8 keeps every function's bytecode and type feedback (src/devnet/launcher.ts). By default it
 * drops those of functions idle through a few GCs, and a validator's rare functions (the UTXO
 * flush every 16 heights, per-epoch work) then start cold each time: in a 30 s closed-loop run
 * `writeFlush` was compiled 15 times, deoptimized for want of feedback, against 2–5 without.
 */
export const KEEP_BYTECODE_V8 = "--no-flush-bytecode";
const inherited = process.execArgv.filter((arg) => !V8_FLAG.test(arg));

export const WORKER_EXEC_ARGV: readonly string[] = process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM) ? [...inherited, NO_REQUIRE_ESM] : inherited;
