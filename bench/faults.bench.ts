/**
 * Faults under load (issue 16): the default devnet of `ios start` (2 shards × 5 validators, PoB:
 * 1 believable producer and a normal league of 4 per shard, which tolerates one faulty normal
 * validator) driven closed loop; after BEFORE seconds one normal validator per shard is SIGKILLed,
 * after DURING more seconds both are restarted through the control path (src/devnet/control.ts:
 * D/control.json, the request `ios devnet restart N --dir D` sends), and the load runs AFTER more
 * seconds. Records final tx/s before, during and after the fault (mean of the report's 1-second
 * buckets in each window, by finalization time), the faults and resubmissions the driver counted,
 * and then checks that every transaction acknowledged as final is final on every validator of its
 * shard, the restarted ones included (GET /v1/tx/:id on each).
 * Results: bench/results/faults.json. FAULTS_BENCH_SECONDS sets each window (default 8),
 * FAULTS_BENCH_TX_PER_SECOND the transfers signed per second of load (default 9000).
 * Not benny: one run is a whole network for tens of seconds, not a function to sample.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient, type TxStatusJson } from "../src/api/client.js";
import { controlDevnet, serveControl } from "../src/devnet/control.js";
import { startDevnet } from "../src/devnet/launcher.js";
import { runDevnetLoad } from "../src/devnet/session.js";
import { toHex } from "../src/hex.js";
import { generateLoad } from "../src/load/workload.js";

const RESULTS_FILE = "bench/results/faults.json";
const SECONDS = Number(process.env.FAULTS_BENCH_SECONDS ?? 8);
const SHARDS = 2;
const VALIDATORS_PER_SHARD = 5;
const ACCOUNTS = 2000;
/** `ios start`'s window: the default devnet's latency-bound sweet spot (src/cli/devnet-commands.ts). */
const WINDOW = 4000;
/** Transfers signed per second of load: above what the default devnet finalizes here (bench/devnet.bench.ts), so the set never runs dry. */
const TX_PER_SECOND = Number(process.env.FAULTS_BENCH_TX_PER_SECOND ?? 9000);
/** How long the final check waits for every validator of a shard to hold the same tip (a restarted one syncs). */
const SYNC_WAIT_MS = 30_000;
/** Parallel GET /v1/tx per validator in the final check: few, so a busy validator answers rather than times out. */
const CHECK_CONCURRENCY = 8;
/** Reads of one transaction's status before its failure is recorded. */
const READ_ATTEMPTS = 5;

const root = mkdtempSync(join(tmpdir(), "ios-faults-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
const dir = join(root, "devnet");
// A generous start: on a busy 2-core machine ten validators take minutes to finalize their first block.
const devnet = await startDevnet({ shards: SHARDS, validatorsPerShard: VALIDATORS_PER_SHARD, believable: 1, dir, seed: "faults-bench", accounts: ACCOUNTS, readyTimeoutMs: 300_000 });
const control = await serveControl(devnet, dir);
try {
  if (!devnet.consensus) throw new Error("the validators of a shard did not agree on their first block: nothing to measure");
  const victims = Array.from({ length: SHARDS }, (_, shard) => devnet.validators().find((v) => v.shard === shard && v.league === "normal")!);
  const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts, count: 3 * SECONDS * TX_PER_SECOND, seed: "faults" });
  const loadAvgBefore = loadavg()[0]!;
  const started = performance.now();
  const running = runDevnetLoad(devnet, { set, mode: { kind: "closed-loop", window: WINDOW }, durationMs: 3 * SECONDS * 1000, drainTimeoutMs: 60_000, reportDir: join(root, "report") });
  await sleep(SECONDS * 1000);
  const killedAtMs = performance.now() - started;
  for (const victim of victims) process.kill(victim.pid, "SIGKILL");
  console.log(`killed validators ${victims.map((v) => `${v.index} (shard ${v.shard}, pid ${v.pid})`).join(", ")} at ${(killedAtMs / 1000).toFixed(1)} s`);
  await sleep(SECONDS * 1000);
  const restartRequestedAtMs = performance.now() - started;
  const restarted = await Promise.all(victims.map((v) => controlDevnet(dir, "restart", v.index)));
  const restartedAtMs = performance.now() - started;
  console.log(`restarted them (pids ${restarted.map((r) => r[0]!.pid).join(", ")}) from ${(restartRequestedAtMs / 1000).toFixed(1)} s, answering at ${(restartedAtMs / 1000).toFixed(1)} s`);
  const { run, set: driven } = await running;
  const report = run.report;
  const m = report.metrics;
  const t = m.totals;
  console.log(`load: ${t.final} final of ${t.submitted} submitted, ${t.rejected} rejected, ${t.unsettled} unsettled (${run.end}); ${report.faults?.length ?? 0} fault event(s); ${m.resubmitted.count} resubmitted`);

  // Final tx/s in each window, from the 1-second buckets (the report's series is by finalization time from the run's start).
  const series = m.series.final;
  const submissionEndMs = 3 * SECONDS * 1000;
  const meanTps = (fromMs: number, toMs: number) => {
    const from = Math.ceil(fromMs / 1000);
    const to = Math.floor(toMs / 1000);
    if (to <= from) return null;
    const buckets = series.slice(from, to);
    return Math.round(buckets.reduce((sum, n) => sum + n, 0) / (to - from));
  };
  // The first second ramps up (signing is outside, the window fills): skipped in "before".
  const tps = { before: meanTps(1000, killedAtMs), during: meanTps(killedAtMs, restartedAtMs), after: meanTps(restartedAtMs, submissionEndMs) };
  console.log(`final tx/s: before ${tps.before}, during ${tps.during}, after ${tps.after}`);

  // Every transaction acknowledged as final, on every validator of its shard: a transaction some
  // validator reports final (the driver's finals come from the validators' events) must be final on
  // all of them once they hold the same chain; restarted ones may still be syncing, so the check
  // waits (at most SYNC_WAIT_MS) until the validators of each shard report the same tip height.
  const clients = devnet.manifest.validators.map((v) => new ApiClient(v.http));
  const tips = async () => Promise.all(clients.map(async (c) => (await c.status()).tip.height));
  const syncDeadline = performance.now() + SYNC_WAIT_MS;
  let heights = await tips();
  const synced = () => Array.from({ length: SHARDS }, (_, shard) => new Set(devnet.manifest.validators.filter((v) => v.shard === shard).map((v) => heights[v.index])).size === 1).every(Boolean);
  while (!synced() && performance.now() < syncDeadline) {
    await sleep(500);
    heights = await tips();
  }
  // Closed loop with intra-shard transfers only: positions are sent in set order, so the submitted ones are the first `submitted`.
  const statuses = await Promise.all(
    devnet.manifest.validators.map(async (validator) => {
      const client = clients[validator.index]!;
      const positions = Array.from({ length: t.submitted }, (_, p) => p).filter((p) => driven.shard(p) === validator.shard);
      const final = new Set<number>();
      /** What a validator answered for a transaction that is not final there: its state, TX_NOT_FOUND, or the read's failure. */
      const answers = new Map<number, string>();
      const read = async (position: number): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            const status = await client.request<TxStatusJson>("GET", `/v1/tx/${toHex(driven.txid(position))}`);
            if (status.state === "final") final.add(position);
            else answers.set(position, status.state);
            return;
          } catch (error) {
            const code = (error as { code?: string }).code ?? "ERROR";
            // A definite answer (no such transaction here) is kept; a failed read is tried again.
            if (code === "TX_NOT_FOUND" || attempt === READ_ATTEMPTS) return void answers.set(position, code);
            await sleep(200 * attempt);
          }
        }
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: CHECK_CONCURRENCY }, async () => {
          while (next < positions.length) await read(positions[next++]!);
        }),
      );
      return { validator, positions, final, answers };
    }),
  );
  const finalSomewhere = new Set(statuses.flatMap((s) => [...s.final]));
  const checked = statuses.map(({ validator, positions, final, answers }) => {
    const missing = positions.filter((p) => finalSomewhere.has(p) && !final.has(p));
    const byAnswer: Record<string, number> = {};
    for (const p of missing) byAnswer[answers.get(p)!] = (byAnswer[answers.get(p)!] ?? 0) + 1;
    return {
      index: validator.index,
      shard: validator.shard,
      league: validator.league,
      restarted: victims.some((v) => v.index === validator.index),
      tipHeight: heights[validator.index],
      finalSomewhereInShard: positions.filter((p) => finalSomewhere.has(p)).length,
      final: final.size,
      notFinal: missing.slice(0, 5).map((p) => toHex(driven.txid(p))),
      notFinalCount: missing.length,
      notFinalByAnswer: byAnswer,
    };
  });
  const allFinal = checked.every((c) => c.notFinalCount === 0) && finalSomewhere.size >= t.final;
  for (const c of checked) console.log(`  validator ${c.index} (shard ${c.shard}, ${c.league}${c.restarted ? ", restarted" : ""}, tip ${c.tipHeight}): ${c.final} final of the ${c.finalSomewhereInShard} final on some validator of its shard${c.notFinalCount > 0 ? `; not final: ${JSON.stringify(c.notFinalByAnswer)}, e.g. ${c.notFinal[0]}` : ""}`);
  console.log(allFinal ? "every final transaction is final on every validator of its shard" : "SOME FINAL TRANSACTIONS ARE NOT FINAL EVERYWHERE");

  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        benchmark: "faults",
        machine: { cores: availableParallelism(), node: process.version, loadAverage1mAtStart: Math.round(loadAvgBefore * 10) / 10 },
        devnet: { shards: SHARDS, validatorsPerShard: VALIDATORS_PER_SHARD, believable: 1, accounts: ACCOUNTS, window: WINDOW, secondsPerWindow: SECONDS },
        victims: victims.map((v) => ({ index: v.index, shard: v.shard, league: v.league })),
        timeline: { killedAtMs: Math.round(killedAtMs), restartRequestedAtMs: Math.round(restartRequestedAtMs), restartedAtMs: Math.round(restartedAtMs), submissionEndMs },
        finalTps: tps,
        finalTpsSeries: series,
        load: {
          end: run.end,
          submitted: t.submitted,
          final: t.final,
          rejected: t.rejected,
          endToEndTps: m.throughput.endToEndTps,
          finalLatencyMs: { p50: m.latency.final.p50Ms, p99: m.latency.final.p99Ms, max: m.latency.final.maxMs },
          resentByCause: m.resentByCause,
          resubmitted: m.resubmitted,
          faults: report.faults,
        },
        finalityCheck: { allFinal, acknowledgedFinal: t.final, finalOnSomeValidator: finalSomewhere.size, validatorsSynced: synced(), validators: checked },
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results: ${RESULTS_FILE}`);
  if (!allFinal) process.exitCode = 1;
} finally {
  await control.close();
  await devnet.stop();
}
