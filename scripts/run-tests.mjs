// Runs the compiled test files (dist/test/**/*.test.js) with Node's built-in test runner, each
// file in its own process. Node 20's `node --test` takes no globs, so the files are listed here.
// Arguments filter the files by substring: `node scripts/run-tests.mjs merkle sha256`.
//
//   1  files that start processes of their own (ALONE: devnets, validator processes) run one at a
//      time, with nothing beside them: their nodes keep wall-clock timeouts, and a devnet starved
//      of CPU stalls (shards stop a few heights into an epoch under contention).
//   2  every other file runs in-process (the simulator on virtual time, real LMDB and sockets with
//      generous timeouts), CONCURRENCY at a time: one file keeps one core busy, and Node's default
//      (available cores − 1) leaves the second core of a 2-core machine idle for most of the run.
//      Known long files start first (LONG_FIRST), so that no long file is left to run by itself
//      at the end.
//   3  a table of the slowest files and the wall time of each phase, to keep the suite's time in view;
//      every file's seconds go to dist/test-timings.json (to update LONG_FIRST from).
// Exit status 1 if any test failed.
import { readdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";
import { pipeline } from "node:stream/promises";

const root = new URL("..", import.meta.url).pathname;
const testRoot = join(root, "dist", "test");

/** Files (path prefixes under dist/test) that start processes of their own: each runs alone. */
const ALONE = ["devnet/", "integration/"];
/** In-process files that take longest (12–31 s each in a full run, dist/test-timings.json), longest first: started before the rest. */
const LONG_FIRST = [
  "sim/whole-node-transepoch.test.js",
  "sim/whole-node-atomix-liveness.test.js",
  "sim/whole-node-fault-liveness.test.js",
  "sim/whole-node.test.js",
  "cli/edges.test.js",
  "crypto/ed25519.test.js",
  "sim/whole-node-prune.test.js",
  "sim/whole-node-drp-byzantine.test.js",
  "cli/cli.test.js",
  "sim/whole-node-joiner.test.js",
  "ledger/store-crash.test.js",
  "cli/vrf.test.js",
  "sim/whole-node-epochs.test.js",
  "cli/epoch.test.js",
  "epoch/transition/transition.test.js",
  "sim/whole-node-turnover.test.js",
  "cli/registration.test.js",
];
/** In-process files run at once: one per core, at least two. */
const CONCURRENCY = Math.max(2, availableParallelism());
/** Rows of the slowest-files table. */
const SLOWEST_SHOWN = 15;

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return collect(path);
    return e.name.endsWith(".test.js") ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = collect(testRoot)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testRoot, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const name = (file) => relative(testRoot, file);
const alone = files.filter((f) => ALONE.some((prefix) => name(f).startsWith(prefix)));
const rank = (f) => {
  const at = LONG_FIRST.indexOf(name(f));
  return at === -1 ? LONG_FIRST.length : at;
};
const inProcess = files.filter((f) => !alone.includes(f)).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));

/** Seconds of each file's top-level tests (run one after another inside the file). */
const fileSeconds = new Map();
let failed = false;

async function runPhase(phaseFiles, concurrency) {
  if (phaseFiles.length === 0) return 0;
  const started = Date.now();
  const stream = run({ files: phaseFiles, concurrency });
  stream.on("test:fail", (data) => {
    if (data.todo === undefined || data.todo === false) failed = true;
  });
  stream.on("test:pass", (data) => tally(data));
  stream.on("test:fail", (data) => tally(data));
  await pipeline(stream, new spec(), process.stdout, { end: false });
  return (Date.now() - started) / 1000;
}

function tally(data) {
  if (data.nesting !== 0 || data.file === undefined) return;
  fileSeconds.set(data.file, (fileSeconds.get(data.file) ?? 0) + data.details.duration_ms / 1000);
}

const aloneSeconds = await runPhase(alone, 1);
const inProcessSeconds = await runPhase(inProcess, CONCURRENCY);

writeFileSync(join(root, "dist", "test-timings.json"), `${JSON.stringify(Object.fromEntries([...fileSeconds].sort((a, b) => b[1] - a[1]).map(([file, seconds]) => [name(file), Math.round(seconds * 10) / 10])), null, 1)}\n`);
const slowest = [...fileSeconds].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_SHOWN);
console.log(`\nslowest files (seconds of their tests):`);
for (const [file, seconds] of slowest) console.log(`${seconds.toFixed(1).padStart(8)}  ${name(file)}`);
console.log(`files alone: ${alone.length} in ${aloneSeconds.toFixed(1)} s; in-process, ${CONCURRENCY} at a time: ${inProcess.length} in ${inProcessSeconds.toFixed(1)} s; total ${(aloneSeconds + inProcessSeconds).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
