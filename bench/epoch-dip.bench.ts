/**
 * Throughput across epoch boundaries (issue 15, TransEpoch's goal: the dip stays under 20 % of the
 * steady rate). A real-process PoB devnet (2 shards × 5 validators, 1 believable producer: a BFT
 * committee of 4, f = 1, the smallest that keeps 2f + 1 seats up to date while a batch's joiner
 * catches up; with 4 validators a committee of 3 has f = 0 and stalls at each swap until the
 * joiner holds the tip — measured in session 20, see ARCHITECTURE) with genesis epoch length L
 * under a steady open-loop load from the load harness (src/load) for SECONDS:
 *  1. start the devnet; sign the workload (outside the timed region);
 *  2. drive it while a poller reads every validator's /v1/status every POLL_MS: its epoch, shard,
 *     tip height and `lastSwitch` (the pause from the next epoch's configuration to its driver);
 *  3. per boundary e (heights e·L → e·L + 1): when a shard first reached e·L, when it first
 *     passed it (the rest there; TransEpoch's opening keeps it short), and each validator's
 *     switch pause into e; the window around it runs from one second before the first shard
 *     reached e·L to RECOVERY_S seconds after the last shard passed it;
 *  4. from the report's 1-second series of final transactions (by the driver's confirmation
 *     time): the steady rate = the mean of the seconds outside every window (after the first
 *     RAMP_S and before the submissions end), and per boundary the mean rate over its window as
 *     a share of steady (its dip = 1 − share). Means, not single seconds: heights carry a few
 *     hundred milliseconds of transfers each, so at this rate a single second can hold none even
 *     when nothing stalls; the lowest second of each window is recorded beside it;
 *  5. the validators' side of the same run: per shard, the highest tip height polled by each
 *     second (`tipBySecond`), so a gap in confirmations can be told from a gap in heights.
 * Results: the key `epochBoundary` of bench/results/bootstrap.json, read-modify-write (other
 * benches keep their keys there), under `runs[label]` with EPOCH_DIP_LABEL (default "latest")
 * so a before/after pair sits side by side. The machine has 2 shared cores: compare ratios.
 * EPOCH_DIP_SAMPLES writes every polled status there as JSON lines; EPOCH_DIP_KEEP keeps the devnet's directory (logs, stores). EPOCH_DIP_SECONDS (default 90), EPOCH_DIP_RATE (tx/s, default 100), EPOCH_DIP_L (default 120), EPOCH_DIP_VALIDATORS (per shard, default 5).
 * Not benny: one run is a whole network for a minute.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "../src/api/client.js";
import { startDevnet } from "../src/devnet/launcher.js";
import { runDevnetLoad, unsettledLines } from "../src/devnet/session.js";
import { generateLoad } from "../src/load/workload.js";
import { median, mergeResults } from "./stats.js";

const RESULTS_FILE = "bench/results/bootstrap.json";
const RESULT_KEY = "epochBoundary";
const LABEL = process.env.EPOCH_DIP_LABEL ?? "latest";
/** Where to write every polled status as JSON lines (for reading a run's timeline), if set. */
const SAMPLES_FILE = process.env.EPOCH_DIP_SAMPLES;
const SECONDS = Number(process.env.EPOCH_DIP_SECONDS ?? 90);
/** Keeps the devnet's directory (every validator's log and store) for reading a run afterwards, if set. */
const KEEP_DIR = process.env.EPOCH_DIP_KEEP !== undefined;
/** Far below what the devnet finalizes here (bench/results/devnet.json), so the steady rate is the offered rate and a dip is the boundary's. */
const RATE = Number(process.env.EPOCH_DIP_RATE ?? 100);
/**
 * Heights per epoch: the devnet decides 15–25 heights a second under this load, so 120 makes epochs of several seconds
 * and leaves seconds away from every boundary window for the steady rate (at 40, windows covered all but 2–4 s of a run).
 */
const L = Number(process.env.EPOCH_DIP_L ?? 120);
const SHARDS = 2;
const VALIDATORS_PER_SHARD = Number(process.env.EPOCH_DIP_VALIDATORS ?? 5);
/** Chained transfers spread over this many accounts. */
const ACCOUNTS = 400;
const POLL_MS = 200;
/** Seconds at the run's start left out of the steady rate: the load ramps up. */
const RAMP_S = 3;
/** Seconds after the last shard passed a boundary still counted in its window: the backlog drains. */
const RECOVERY_S = 2;
/** Lets an idle shard pass its heights too (the test devnets' value): a boundary never waits on an empty shard's 5 s heartbeat. */
const IDLE_HEARTBEAT_MS = 250;

interface Status {
  readonly epoch: number;
  readonly shard: number;
  readonly tip: { readonly height: number };
  readonly lastSwitch?: { readonly epoch: number; readonly shard: number; readonly pauseMs: number; readonly sync?: { readonly heights: number; readonly ms: number } };
}
interface Sample { readonly atWallMs: number; readonly validator: number; readonly status: Status }
interface Boundary {
  readonly epoch: number;
  readonly height: number;
  readonly windowMs: readonly [number, number];
  readonly restMs: readonly { readonly shard: number; readonly reachedMs: number; readonly restMs: number }[];
  readonly switchPauseMs: readonly number[];
  readonly movers: number;
  readonly lowestFinalPerSecond: number | null;
  readonly meanFinalPerSecond: number | null;
}

const root = mkdtempSync(join(tmpdir(), "ios-epoch-dip-"));
if (KEEP_DIR) console.log(`devnet files kept in ${root}`);
else process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const devnet = await startDevnet({
  shards: SHARDS, validatorsPerShard: VALIDATORS_PER_SHARD, believable: 1, dir: join(root, "devnet"), seed: "epoch-dip",
  accounts: ACCOUNTS, workers: 1, epochLength: L, idleHeartbeatMs: IDLE_HEARTBEAT_MS, readyTimeoutMs: 300_000,
});
try {
  const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts, count: SECONDS * RATE, seed: "epoch-dip" });
  const clients = devnet.manifest.validators.map((v) => new ApiClient(v.http));
  const samples: Sample[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const atWallMs = Date.now();
      await Promise.all(clients.map(async (client, validator) => {
        try {
          samples.push({ atWallMs, validator, status: (await client.status()) as unknown as Status });
        } catch {
          // A validator busy switching may not answer one poll; the next one reads it.
        }
      }));
      await sleep(POLL_MS);
    }
  })();
  const loadAverageAtStart = loadavg()[0]!;
  const { run } = await runDevnetLoad(devnet, { set, mode: { kind: "open-loop", rate: RATE }, durationMs: SECONDS * 1000, drainTimeoutMs: 60_000, reportDir: join(root, "report") });
  polling = false;
  await poller;
  if (SAMPLES_FILE !== undefined) writeFileSync(SAMPLES_FILE, samples.map((s) => JSON.stringify({ ...s, atMs: s.atWallMs - Date.parse(run.report.run.startedAt) })).join("\n"));
  const startWallMs = Date.parse(run.report.run.startedAt);
  const series = run.report.metrics.series.final;
  const t = run.report.metrics.totals;

  // Boundaries: per shard, the first sample at or past e·L and the first past it (the shard's validators change, the heights do not).
  const at = (sample: Sample) => sample.atWallMs - startWallMs;
  const lastEpoch = Math.max(...samples.map((s) => s.status.epoch));
  const boundaries: Boundary[] = [];
  for (let epoch = 1; epoch <= lastEpoch; epoch++) {
    const end = epoch * L;
    const shards = Array.from({ length: SHARDS }, (_, shard) => {
      const ofShard = samples.filter((s) => s.status.shard === shard);
      const reached = ofShard.find((s) => s.status.tip.height >= end);
      const passed = ofShard.find((s) => s.status.tip.height > end);
      return { shard, reachedMs: reached === undefined ? null : at(reached), passedMs: passed === undefined ? null : at(passed) };
    });
    if (shards.some((s) => s.reachedMs === null || s.passedMs === null)) continue;
    const pauses = new Map<number, { pauseMs: number; moved: boolean }>();
    for (const s of samples) {
      const last = s.status.lastSwitch;
      // A mover syncs its new shard (a stayer does not): since msb-join it may replay no height, joining at the MSB of e·L.
      if (last?.epoch === epoch) pauses.set(s.validator, { pauseMs: Math.round(last.pauseMs), moved: last.sync !== undefined });
    }
    const fromMs = Math.min(...shards.map((s) => s.reachedMs!)) - 1000;
    const toMs = Math.max(...shards.map((s) => s.passedMs!)) + RECOVERY_S * 1000;
    const seconds = series.slice(Math.max(0, Math.floor(fromMs / 1000)), Math.ceil(toMs / 1000));
    const windowFinal = seconds.reduce((sum, n) => sum + n, 0);
    boundaries.push({
      epoch, height: end, windowMs: [Math.round(fromMs), Math.round(toMs)],
      restMs: shards.map((s) => ({ shard: s.shard, reachedMs: Math.round(s.reachedMs!), restMs: Math.round(s.passedMs! - s.reachedMs!) })),
      switchPauseMs: [...pauses.values()].map((p) => p.pauseMs).sort((a, b) => a - b),
      movers: [...pauses.values()].filter((p) => p.moved).length,
      lowestFinalPerSecond: seconds.length === 0 ? null : Math.min(...seconds),
      meanFinalPerSecond: seconds.length === 0 ? null : Math.round(windowFinal / seconds.length),
    });
  }
  const submissionEndS = Math.floor(SECONDS);
  const inWindow = (second: number) => boundaries.some((b) => second + 1 > b.windowMs[0]! / 1000 && second < b.windowMs[1]! / 1000);
  const steadySeconds = series.map((n, second) => ({ n, second })).filter(({ second }) => second >= RAMP_S && second < submissionEndS && !inWindow(second));
  const steady = steadySeconds.length === 0 ? null : Math.round(steadySeconds.reduce((sum, s) => sum + s.n, 0) / steadySeconds.length);
  const share = (n: number | null) => (n === null || steady === null || steady === 0 ? null : Math.round((n / steady) * 1000) / 1000);
  // A window reaching past the submissions' end measures the load stopping, not the boundary.
  const underLoad = (b: Boundary) => b.windowMs[1]! <= submissionEndS * 1000;
  const measured = boundaries.map((b) => ({ ...b, underLoad: underLoad(b), shareOfSteady: underLoad(b) ? share(b.meanFinalPerSecond) : null, lowestSecondShareOfSteady: underLoad(b) ? share(b.lowestFinalPerSecond) : null }));
  // The validators' side: per shard, the highest tip polled by the end of each second of the run.
  const tipBySecond = Array.from({ length: SHARDS }, (_, shard) => {
    const tips: number[] = [];
    for (const sample of samples) {
      if (sample.status.shard !== shard) continue;
      const second = Math.floor(at(sample) / 1000);
      if (second < 0) continue;
      while (tips.length <= second) tips.push(tips.at(-1) ?? 0);
      tips[second] = Math.max(tips[second]!, sample.status.tip.height);
    }
    return tips;
  });
  const shares = measured.map((b) => b.shareOfSteady).filter((s): s is number => s !== null);
  const worstShare = shares.length === 0 ? null : Math.min(...shares);
  const result = {
    benchmark: "epoch-dip",
    measuredAt: new Date().toISOString(),
    machine: { cores: availableParallelism(), node: process.version, loadAverage1mAtStart: Math.round(loadAverageAtStart * 10) / 10 },
    devnet: { shards: SHARDS, validatorsPerShard: VALIDATORS_PER_SHARD, believable: 1, epochLength: L, idleHeartbeatMs: IDLE_HEARTBEAT_MS },
    load: { mode: "open-loop", rate: RATE, seconds: SECONDS, end: run.end, submitted: t.submitted, final: t.final, rejected: t.rejected, rejectedByCode: run.report.metrics.rejectedByCode, unsettled: t.unsettled, resentByCause: run.report.metrics.resentByCause, ...(run.unsettled === undefined ? {} : { unsettledTraced: run.unsettled }) },
    steadyFinalPerSecond: steady,
    steadySeconds: steadySeconds.length,
    boundaries: measured,
    /** The goal: 1 − worst share < 0.2. */
    worstShareOfSteady: worstShare,
    worstDip: worstShare === null ? null : Math.round((1 - worstShare) * 1000) / 1000,
    medianRestMs: measured.length === 0 ? null : median(measured.flatMap((b) => b.restMs.map((r) => r.restMs))),
    medianSwitchPauseMs: measured.length === 0 ? null : median(measured.flatMap((b) => b.switchPauseMs)),
    finalPerSecond: series,
    tipBySecond,
  };
  console.log(`steady ${steady} final tx/s over ${steadySeconds.length} s; ${measured.length} boundaries:`);
  for (const b of measured) console.log(`  epoch ${b.epoch} (height ${b.height}): rest ${b.restMs.map((r) => `${r.restMs} ms`).join(" / ")}, switch pauses ${b.switchPauseMs.join(", ")} ms, ${b.movers} mover(s), mean ${b.meanFinalPerSecond} final tx/s (${b.shareOfSteady} of steady), lowest second ${b.lowestFinalPerSecond}`);
  console.log(`worst dip ${result.worstDip}; load ${run.end}: ${t.final} final of ${t.submitted}`);
  for (const line of unsettledLines(run)) console.log(`  ${line}`);
  for (const [shard, tips] of tipBySecond.entries()) console.log(`  shard ${shard} heights per second: ${tips.map((tip, k) => tip - (tips[k - 1] ?? tip)).join(" ")}`);

  // Other keys of the file (bench/bootstrap's figures) stay; earlier labels' runs too.
  const previous = (existsSync(RESULTS_FILE) ? (JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as Record<string, { runs?: Record<string, unknown> }>)[RESULT_KEY] : undefined) ?? {};
  mergeResults(RESULTS_FILE, { [RESULT_KEY]: { goal: "the mean final tx/s over the window around an epoch boundary stays above 80 % of the steady rate", runs: { ...(previous.runs ?? {}), [LABEL]: result } } });
  console.log(`results: ${RESULTS_FILE} (${RESULT_KEY}.runs.${LABEL})`);
} finally {
  await devnet.stop();
}
