/**
 * The project's workers start when the node itself runs with V8 flags an operator may give it
 * (src/runtime/worker-exec-argv.ts): a child Node with heap and GC flags and a Node option starts
 * a worker with WORKER_EXEC_ARGV, which keeps the Node option and leaves the V8 flags out.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const MODULE = fileURLToPath(new URL("../../src/runtime/worker-exec-argv.js", import.meta.url));

const CHILD = `
import { Worker } from "node:worker_threads";
const { WORKER_EXEC_ARGV } = await import(${JSON.stringify(MODULE)});
// The worker inherits --input-type=module: its code is an ES module too.
const worker = new Worker("import { parentPort } from 'node:worker_threads'; parentPort.postMessage(process.execArgv);", { eval: true, execArgv: [...WORKER_EXEC_ARGV] });
worker.once("message", (argv) => { console.log(JSON.stringify(argv)); worker.terminate(); });
`;

describe("worker execArgv", () => {
  it("a node started with --max-old-space-size, --max-semi-space-size, --expose-gc, --stack-trace-limit, --single-threaded and --v8-pool-size starts its workers, which keep its Node options", () => {
    const flags = ["--max-old-space-size=512", "--max-semi-space-size=32", "--expose-gc", "--stack-trace-limit=20", "--single-threaded", "--v8-pool-size=1", "--enable-source-maps"];
    const child = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", CHILD], { encoding: "utf8", timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    const workerArgv = JSON.parse(child.stdout.trim()) as string[];
    assert.ok(workerArgv.includes("--enable-source-maps"), `the Node option is inherited: ${child.stdout}`);
    for (const flag of flags.slice(0, -1)) assert.ok(!workerArgv.includes(flag), `${flag} is the process's, not passed`);
  });
});
