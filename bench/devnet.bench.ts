/**
 * End-to-end devnet throughput (issue 7). Two shapes side by side, each driven closed loop at
 * several windows (maximum rate: a new transfer as soon as one resolves), each run on a fresh
 * devnet with a freshly signed workload (signing is outside the timed region):
 *  - the default devnet of `ios start`: 2 shards × 5 validators, each shard running
 *    Proof-of-Believability (1 believable producer verifies every signature and confirms
 *    optimistically, a normal league of 4 finalizes by BFT and re-verifies a sample, p = 0.1);
 *  - 2 shards × 1 validator: the same machine with no replication, the per-shard ceiling.
 * Records final tx/s end to end, optimistic and final latency p50/p99, the CPU of every validator and of this
 * driver process, and, side by side, the single-process pipeline ceiling measured by
 * bench/pipeline.bench.ts (bench/results/pipeline-throughput.json) when that file exists.
 * A last run profiles validator 0 of the default devnet (`node --cpu-prof`, passed through the
 * launcher) and sums its self time by function and by source file: where a validator's time goes.
 * Targets of the issue: ≥ 10,000 final tx/s, optimistic p50 ≤ 100 ms, final p50 ≤ 1 s; and (issue 16)
 * steadiness: the 10th percentile of the per-second final tx/s under full load ≥ 0.8× its median,
 * read from one longer run of the default devnet (DEVNET_BENCH_STEADY_SECONDS, default 30) past its
 * warm-up (STEADY_WARMUP_S); each 10 s run's own figure counts its warm-up in.
 * Results: bench/results/devnet.json. DEVNET_BENCH_SECONDS sets each run's length (default 10),
 * DEVNET_BENCH_OUT the results file, BENCH_V8_THREADS and BENCH_MIN_HEIGHT_INTERVAL_MS devnet
 * settings for an A/B (bench/devnet-overrides.ts; default: the launcher's and the node's).
 * Not benny: one run is seconds of a whole network, not a function to sample thousands of times.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { startDevnet, type Devnet } from "../src/devnet/launcher.js";
import { runDevnetLoad, summaryLines, type DevnetLoadResult } from "../src/devnet/session.js";
import { generateLoad } from "../src/load/workload.js";
import { steadiness } from "./stats.js";
import { devnetOverridesFromEnv } from "./devnet-overrides.js";
import { DEFAULT_MIN_HEIGHT_INTERVAL_MS } from "../src/node/consensus/pob-consensus.js";

const RESULTS_FILE = process.env.DEVNET_BENCH_OUT ?? "bench/results/devnet.json";
const SECONDS = Number(process.env.DEVNET_BENCH_SECONDS ?? 10);
/**
 * Shapes and windows. Transfers signed per second of load sit above the highest rate seen for the
 * shape on this machine, so a run never runs dry (signing them is the slow part of a run).
 */
const SHAPES = [
  { validatorsPerShard: 5, windows: [250, 1000, 4000], txPerSecondBudget: 10_000 },
  { validatorsPerShard: 1, windows: [4000, 8000], txPerSecondBudget: 24_000 },
] as const;
const PROFILE_WINDOW = 1000;
/** Seconds at a run's start left out of its steadiness: the closed loop's window fills. */
const RAMP_S = 1;
const STEADY_SECONDS = Number(process.env.DEVNET_BENCH_STEADY_SECONDS ?? 30);
/**
 * Seconds of the steadiness run left out as warm-up: the window fills in the first, and the
 * validators' code compiles over the first ~5 (on their main threads when they run
 * `--single-threaded`), final tx/s climbing from ~5 k to ~8.5 k meanwhile (session 28's runs).
 */
const STEADY_WARMUP_S = 5;
const STEADY_WINDOW = 4000;
const ACCOUNTS = 2000;
const TARGET_TPS = 10_000;
const TARGET_FINAL_P50_MS = 1000;
const TARGET_OPTIMISTIC_P50_MS = 100;

const root = mkdtempSync(join(tmpdir(), "ios-devnet-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

const OVERRIDES = devnetOverridesFromEnv();
let runs = 0;
async function launch(validatorsPerShard: number, nodeArgs?: (i: number) => readonly string[]): Promise<Devnet> {
  const devnet = await startDevnet({ shards: 2, validatorsPerShard, believable: 1, dir: join(root, `run-${runs++}`), seed: "bench", accounts: ACCOUNTS, ...OVERRIDES, ...(nodeArgs === undefined ? {} : { nodeArgs }) });
  if (!devnet.consensus) {
    await devnet.stop();
    throw new Error(`the validators of a shard did not agree on their first block (${validatorsPerShard} per shard): nothing to measure`);
  }
  return devnet;
}

async function measure(
  validatorsPerShard: number,
  window: number,
  txPerSecondBudget: number,
  nodeArgs?: (i: number) => readonly string[],
  seconds = SECONDS,
): Promise<{ result: DevnetLoadResult; driverCpuPercent: number; signingSeconds: number; v8BackgroundThreads: boolean }> {
  const devnet = await launch(validatorsPerShard, nodeArgs);
  try {
    const signStart = performance.now();
    const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts, count: seconds * txPerSecondBudget, seed: `bench-${window}` });
    const signingSeconds = Math.round(performance.now() - signStart) / 1000;
    const before = process.cpuUsage();
    const wallStart = performance.now();
    const result = await runDevnetLoad(devnet, { set, mode: { kind: "closed-loop", window }, durationMs: seconds * 1000, reportDir: join(root, `report-${runs}`) });
    const used = process.cpuUsage(before);
    const driverCpuPercent = ((used.user + used.system) / 1000 / (performance.now() - wallStart)) * 100;
    return { result, driverCpuPercent, signingSeconds, v8BackgroundThreads: devnet.manifest.v8BackgroundThreads };
  } finally {
    await devnet.stop();
  }
}

function runRow(validatorsPerShard: number, window: number, { result, driverCpuPercent, signingSeconds, v8BackgroundThreads }: Awaited<ReturnType<typeof measure>>) {
  const m = result.run.report.metrics;
  return {
    validatorsPerShard,
    window,
    v8BackgroundThreads,
    end: result.run.end,
    submitted: m.totals.submitted,
    final: m.totals.final,
    rejected: m.totals.rejected,
    endToEndTps: m.throughput.endToEndTps,
    withinCapTps: m.throughput.withinCapTps,
    finalLatencyMs: { p50: m.latency.final.p50Ms, p90: m.latency.final.p90Ms, p99: m.latency.final.p99Ms, max: m.latency.final.maxMs },
    // The seconds of full load: after the first (the window fills) and before the submissions end.
    steadiness: steadiness(m.series.final, RAMP_S, SECONDS),
    optimisticLatencyMs: m.latency.optimistic.count === 0 ? null : { p50: m.latency.optimistic.p50Ms, p99: m.latency.optimistic.p99Ms },
    validatorCpuPercent: result.run.report.cpu.map((c) => ({ label: c.label, mean: c.meanPercent, max: c.maxPercent })),
    driverCpuPercent: Math.round(driverCpuPercent),
    signingSeconds,
  };
}

const rows: ReturnType<typeof runRow>[] = [];
for (const { validatorsPerShard, windows, txPerSecondBudget } of SHAPES) {
  for (const window of windows) {
    const measured = await measure(validatorsPerShard, window, txPerSecondBudget);
    const { result, driverCpuPercent } = measured;
    console.log(`\n2 shards × ${validatorsPerShard} validator(s), window ${window}:`);
    for (const line of summaryLines(result)) if (!line.startsWith("report:")) console.log(`  ${line}`);
    console.log(`  driver (this process) CPU: ${driverCpuPercent.toFixed(0)}% of one core`);
    const steady = steadiness(result.run.report.metrics.series.final, RAMP_S, SECONDS);
    console.log(`  per-second final tx/s over ${steady.seconds} s: p10 ${steady.p10}, median ${steady.median} (p10/median ${steady.p10ToMedian})`);
    rows.push(runRow(validatorsPerShard, window, measured));
  }
}

// ---- steadiness at saturation: one longer run of the default devnet, past its warm-up ----------
const steadyRun = await (async () => {
  const { result, v8BackgroundThreads } = await measure(SHAPES[0].validatorsPerShard, STEADY_WINDOW, SHAPES[0].txPerSecondBudget, undefined, STEADY_SECONDS);
  const m = result.run.report.metrics;
  const warm = steadiness(m.series.final, STEADY_WARMUP_S, STEADY_SECONDS);
  console.log(`\nsteadiness, 2 shards × ${SHAPES[0].validatorsPerShard}, window ${STEADY_WINDOW}, ${STEADY_SECONDS} s: per-second final tx/s from second ${STEADY_WARMUP_S}: p10 ${warm.p10}, median ${warm.median} (p10/median ${warm.p10ToMedian}; target ≥ 0.8)`);
  return {
    validatorsPerShard: SHAPES[0].validatorsPerShard, window: STEADY_WINDOW, seconds: STEADY_SECONDS, warmupSeconds: STEADY_WARMUP_S, v8BackgroundThreads,
    endToEndTps: m.throughput.endToEndTps, finalP50Ms: m.latency.final.p50Ms,
    steadiness: warm, steadinessFromSecond1: steadiness(m.series.final, RAMP_S, STEADY_SECONDS), finalPerSecond: m.series.final,
  };
})();

// ---- profile of validator 0 ------------------------------------------------------------------
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
const profileDir = join(root, "profile");
await measure(SHAPES[0].validatorsPerShard, PROFILE_WINDOW, SHAPES[0].txPerSecondBudget, (i) => (i === 0 ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []));
// One file per thread: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile, thread 0 the main thread, the others the verifier workers.
const profileFiles = readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"));
if (profileFiles.length === 0) throw new Error(`validator 0 wrote no .cpuprofile into ${profileDir}`);
function selfTimes(files: readonly string[]) {
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let totalUs = 0;
  let waitingUs = 0;
  for (const name of files) {
    const profile = JSON.parse(readFileSync(join(profileDir, name), "utf8")) as CpuProfile;
    const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, k) => {
      const frame = nodeById.get(id)!.callFrame;
      const delta = profile.timeDeltas[k] ?? 0;
      totalUs += delta;
      const file = frame.url === "" ? frame.functionName : frame.url.startsWith("wasm://") ? "wasm" : basename(frame.url);
      const fn = `${frame.functionName || "(anonymous)"} ${file}${frame.url === "" ? "" : `:${frame.lineNumber + 1}`}`;
      if (WAITING.some((w) => fn.startsWith(w))) {
        waitingUs += delta;
        return;
      }
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta);
      byFile.set(file, (byFile.get(file) ?? 0) + delta);
    });
  }
  // The profile spans the validator's whole life (start, the driver signing, the load, stop): waiting is excluded from the busy share.
  const busyUs = totalUs - waitingUs;
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([label, us]) => ({ name: label, percentOfBusy: Math.round((1000 * us) / busyUs) / 10 }));
  return { threads: files.length, sampledSeconds: Math.round(totalUs / 1e5) / 10, busySeconds: Math.round(busyUs / 1e5) / 10, selfTimeByFile: top(byFile, 15), selfTimeByFunction: top(byFunction, 25) };
}
/** Samples of a thread with nothing to do: the event loop idle, a verifier worker blocked waiting for its next task. */
const WAITING = ["(idle)", "atomicsWaitLoop "];
const threadOf = (file: string) => Number(file.split(".")[4]);
const profileSummary = {
  validator: 0,
  validatorsPerShard: SHAPES[0].validatorsPerShard,
  window: PROFILE_WINDOW,
  mainThread: selfTimes(profileFiles.filter((f) => threadOf(f) === 0)),
  workers: selfTimes(profileFiles.filter((f) => threadOf(f) !== 0)),
};
for (const [label, part] of [["main thread", profileSummary.mainThread], ["verifier workers", profileSummary.workers]] as const) {
  console.log(`\nvalidator 0 ${label} (${part.threads} thread(s), ${part.sampledSeconds} s sampled, ${part.busySeconds} s busy), share of busy self time by file:`);
  for (const { name, percentOfBusy } of part.selfTimeByFile.slice(0, 10)) console.log(`  ${percentOfBusy.toFixed(1).padStart(5)}%  ${name}`);
  console.log("  top functions:");
  for (const { name, percentOfBusy } of part.selfTimeByFunction.slice(0, 10)) console.log(`  ${percentOfBusy.toFixed(1).padStart(5)}%  ${name}`);
}

// ---- reference: the single-process pipeline ceiling ------------------------------------------
const pipelineFile = "bench/results/pipeline-throughput.json";
const pipelineReference = existsSync(pipelineFile) ? (JSON.parse(readFileSync(pipelineFile, "utf8")) as unknown) : null;
const bestOf = (validatorsPerShard: number) => {
  const best = rows.filter((r) => r.validatorsPerShard === validatorsPerShard).reduce((a, b) => (b.endToEndTps > a.endToEndTps ? b : a));
  console.log(
    `best of 2 shards × ${validatorsPerShard}: window ${best.window}: ${best.endToEndTps.toFixed(0)} final tx/s (target ${TARGET_TPS}: ${(best.endToEndTps / TARGET_TPS).toFixed(2)}×), final p50 ${best.finalLatencyMs.p50} ms (target ≤ ${TARGET_FINAL_P50_MS})` +
      (best.optimisticLatencyMs === null ? "" : `, optimistic p50 ${best.optimisticLatencyMs.p50} ms (target ≤ ${TARGET_OPTIMISTIC_P50_MS})`),
  );
  return {
    validatorsPerShard,
    window: best.window,
    endToEndTps: best.endToEndTps,
    ratioToTarget: Math.round((best.endToEndTps / TARGET_TPS) * 100) / 100,
    finalP50Ms: best.finalLatencyMs.p50,
    optimisticP50Ms: best.optimisticLatencyMs?.p50 ?? null,
  };
};
console.log("");
const best = SHAPES.map((shape) => bestOf(shape.validatorsPerShard));

writeFileSync(
  RESULTS_FILE,
  `${JSON.stringify(
    {
      benchmark: "devnet",
      machine: { cores: (await import("node:os")).availableParallelism(), node: process.version },
      devnet: {
        shards: 2, shapes: SHAPES, accounts: ACCOUNTS, secondsPerRun: SECONDS,
        minHeightIntervalMs: OVERRIDES.minHeightIntervalMs ?? DEFAULT_MIN_HEIGHT_INTERVAL_MS,
      },
      targets: { endToEndTps: TARGET_TPS, finalP50Ms: TARGET_FINAL_P50_MS, optimisticP50Ms: TARGET_OPTIMISTIC_P50_MS },
      best,
      runs: rows,
      steadyRun,
      profile: profileSummary,
      pipelineReference,
    },
    null,
    2,
  )}\n`,
);
console.log(`results: ${RESULTS_FILE}`);
