/**
 * The project's workers start when the node itself runs with V8 flags an operator may give it
 * (src/runtime/worker-exec-argv.ts): a child Node with heap and GC flags and a Node option starts
 * a worker with `workerExecArgv()`, which keeps the Node option and leaves the V8 flags out; so does
 * one profiled with perf maps or traced by the JIT's own flags, and one given flags no list names
 * (any V8 flag, per-process Node options with their values): a probe worker's refusal names them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { workerAcceptedArgs } from "../../src/runtime/worker-exec-argv.js";

const MODULE = fileURLToPath(new URL("../../src/runtime/worker-exec-argv.js", import.meta.url));

const CHILD = `
import { Worker } from "node:worker_threads";
const { workerExecArgv } = await import(${JSON.stringify(MODULE)});
// The worker inherits --input-type=module: its code is an ES module too.
const worker = new Worker("import { parentPort } from 'node:worker_threads'; parentPort.postMessage(process.execArgv);", { eval: true, execArgv: [...workerExecArgv()] });
worker.once("message", (argv) => { console.log(JSON.stringify(argv)); worker.terminate(); });
`;

/**
 * Starts a child Node with `flags` (its last one a Node option) whose worker reports its execArgv;
 * asserts the child ran, the worker kept that option and dropped every other flag.
 */
function assertWorkerStarts(flags: readonly string[]): void {
  // V8 writes its code log (isolate-*.log) into the working directory and the perf map into /tmp.
  const cwd = mkdtempSync(join(tmpdir(), "ios-worker-argv-"));
  const child = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", CHILD], { encoding: "utf8", timeout: 30_000, cwd });
  rmSync(cwd, { recursive: true, force: true });
  if (child.pid !== undefined) rmSync(`/tmp/perf-${child.pid}.map`, { force: true });
  assert.equal(child.status, 0, child.stderr);
  // JIT traces go to stdout too: the worker's argv is the line that parses as a JSON array.
  const line = child.stdout.split("\n").find((text) => text.startsWith('["'));
  assert.ok(line !== undefined, `the worker answered: ${child.stdout.slice(-500)}`);
  const workerArgv = JSON.parse(line) as string[];
  const option = flags[flags.length - 1]!;
  assert.ok(workerArgv.includes(option), `the Node option ${option} is inherited: ${line}`);
  for (const flag of flags.slice(0, -1)) assert.ok(!workerArgv.includes(flag), `${flag} is the process's, not passed`);
}

describe("worker execArgv", () => {
  it("a node started with --max-old-space-size, --max-semi-space-size, --expose-gc, --stack-trace-limit, --single-threaded, --v8-pool-size and --no-flush-bytecode starts its workers, which keep its Node options", () => {
    assertWorkerStarts(["--max-old-space-size=512", "--max-semi-space-size=32", "--expose-gc", "--stack-trace-limit=20", "--single-threaded", "--v8-pool-size=1", "--no-flush-bytecode", "--enable-source-maps"]);
  });

  it("a node started with perf maps or the JIT's traces starts its workers, which keep its Node options", () => {
    assertWorkerStarts(["--perf-basic-prof", "--interpreted-frames-native-stack", "--trace-opt", "--trace-deopt", "--enable-source-maps"]);
  });

  it("a node started with V8 flags and per-process options no list names starts its workers, which keep its Node options", () => {
    assertWorkerStarts(["--interrupt-budget=33792", "--max-lazy", "--title=ios-validator", "--zero-fill-buffers", "--disable-proto=delete", "--trace-warnings"]);
  });

  it("leaves out a refused option given with its value apart, and keeps options with values a worker takes", () => {
    const args = ["--title", "ios-validator", "--conditions", "ios", "--stack-size=900", "--enable-source-maps", "--secure-heap=0", "--redirect-warnings=/dev/null"];
    assert.deepEqual(workerAcceptedArgs(args), ["--conditions", "ios", "--enable-source-maps", "--redirect-warnings=/dev/null"]);
    assert.deepEqual(workerAcceptedArgs([]), []);
  });
});
