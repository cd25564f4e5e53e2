/**
 * Atomix on the default devnet (issue 13): 2 shards × 5 validators, Proof-of-Believability (1
 * believable producer, a normal league of 4, p = 0.1), driven closed loop by the load harness at
 * 0 %, 10 %, 50 % and 100 % cross-shard transfers, each on a fresh devnet with a freshly signed
 * workload (signing outside the timed region). A cross-shard transfer here has its input in the
 * sender's shard and pays an account of the other: lock in the input shard, its proof read over
 * HTTP, unlock-to-commit final in both shards (src/load/driver.ts).
 * Records per mix: final tx/s, final latency p50/p99 overall, intra- and cross-shard, the cross
 * phases; then the ratios the issue sets goals for — cross/intra final p50 (goal ≤ 3×) and final
 * tx/s at the 50 % mix as a share of the intra-only run (goal ≥ 50 %) — and proof sizes read
 * from the shards. Throughput is recorded two ways: end to end (every final over first submission
 * to last final) and sustained (the mean per-second final tx/s from RAMP_S to the load's end);
 * the share's goal is read on the sustained rate. A run's edges weigh on a mix by its latency,
 * not its throughput (a cross-shard lane's first commit comes a lock and a commit after its start,
 * the last locks' commits trickle in after the load stops): the end-to-end share of 10 s runs
 * read 0.45 where 30 s runs of the same code read 0.49 and 0.50 (session 26). Each pair also
 * gives a cross-shard transfer's validator CPU in intra-shard transfers (`crossCostIntraUnits`;
 * the share of 50 % needs ≤ 3). The first pair's intra-only run often comes out 9–17 % below the
 * later ones (4 of session 26's 9 invocations; an unrecorded intra-only run before it did not
 * change that, so it is no cold start), which lifts that pair's share: read the median and the
 * later pairs. The share is measured side by side: the intra-only and half-mix runs come in
 * interleaved pairs (0, 0.5, 0, 0.5, ...) before the other mixes, each pair's ratio is recorded,
 * and the share is their median, so that a neighbour's load on the shared machine weighs on both
 * runs of a pair alike. Results: bench/results/atomix.json. ATOMIX_BENCH_SECONDS sets each run's
 * length (default 20), ATOMIX_BENCH_PAIRS the pairs (default 2), ATOMIX_BENCH_MIXES the other
 * mixes (default "0.1,1"; "" for none), ATOMIX_BENCH_ACCOUNTS the
 * funded accounts (default 2,000: each is one lane, whose next transfer waits for a cross-shard
 * commit), ATOMIX_BENCH_WINDOW the closed loop's window (default 4,000, `ios start`'s), ATOMIX_BENCH_OUT
 * the results file, ATOMIX_BENCH_PROFILE=DIR has every validator i of run k write `--cpu-prof`
 * profiles into DIR/run-<k>-v<i> (one file per thread, thread 0 the main one; the profiler's own
 * cost inflates such a run's figures; scripts/cpuprofile-summary.mjs sums them by function). Closed loop, each mix's throughput is at most window ÷ latency and accounts ÷
 * cross-shard latency: raise both (e.g. 16,000 and 12,000) to compare the mixes at saturation. Not benny: one run is seconds of a whole network.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../src/api/client.js";
import { startDevnet } from "../src/devnet/launcher.js";
import { runDevnetLoad, summaryLines } from "../src/devnet/session.js";
import { TxKind } from "../src/ledger/kinds/interface.js";
import { generateLoad } from "../src/load/workload.js";

const RESULTS_FILE = process.env.ATOMIX_BENCH_OUT ?? "bench/results/atomix.json";
const PROFILE_DIR = process.env.ATOMIX_BENCH_PROFILE;
const SECONDS = Number(process.env.ATOMIX_BENCH_SECONDS ?? 20);
/** Seconds at a run's start left out of its sustained rate: the window fills and the first cross-shard lanes reach their commits (p50 under 2 s at the default window). */
const RAMP_S = 3;
const PAIRS = Number(process.env.ATOMIX_BENCH_PAIRS ?? 2);
const OTHER_MIXES = (process.env.ATOMIX_BENCH_MIXES ?? "0.1,1").split(",").filter((mix) => mix.trim() !== "").map(Number);
/** Intra-only and half-mix runs interleaved, pair by pair, then the other mixes. */
const MIXES = [...Array.from({ length: PAIRS }, () => [0, 0.5]).flat(), ...OTHER_MIXES];
/** `ios start`'s window by default. */
const WINDOW = Number(process.env.ATOMIX_BENCH_WINDOW ?? 4000);
const ACCOUNTS = Number(process.env.ATOMIX_BENCH_ACCOUNTS ?? 2000);
/** Signed transfers per second of load: above what the default devnet finalizes, so no run runs dry. */
const TX_PER_SECOND_BUDGET = 8_000;

const root = mkdtempSync(join(tmpdir(), "ios-atomix-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

/** The mean of the whole seconds [RAMP_S, SECONDS) of a 1-second series of finals. */
const sustainedTps = (perSecond: readonly number[]): number => {
  const window = Array.from({ length: SECONDS - RAMP_S }, (_, k) => perSecond[RAMP_S + k] ?? 0);
  return Math.round(window.reduce((sum, n) => sum + n, 0) / window.length);
};

const rows = [];
let proofSizes: number[] = [];
for (const [k, crossShard] of MIXES.entries()) {
  const devnet = await startDevnet({
    shards: 2, validatorsPerShard: 5, believable: 1, dir: join(root, `run-${k}`), seed: "atomix-bench", accounts: ACCOUNTS,
    ...(PROFILE_DIR === undefined ? {} : { nodeArgs: (i: number) => ["--cpu-prof", "--cpu-prof-dir", join(PROFILE_DIR, `run-${k}-v${i}`)] }),
  });
  try {
    const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts, count: SECONDS * TX_PER_SECOND_BUDGET, seed: `atomix-${crossShard}`, crossShard });
    const result = await runDevnetLoad(devnet, { set, mode: { kind: "closed-loop", window: WINDOW }, durationMs: SECONDS * 1000, drainTimeoutMs: 30_000, reportDir: join(root, `report-${k}`) });
    const m = result.run.report.metrics;
    console.log(`\n${Math.round(crossShard * 100)} % cross-shard:`);
    for (const line of summaryLines(result)) console.log(`  ${line}`);
    if (crossShard === 0.5 && proofSizes.length === 0) {
      // Proofs as the input shards store them: a sample of the committed cross-shard transfers.
      const sampled: number[] = [];
      for (let i = 0; i < set.count && sampled.length < 50; i++) {
        if (set.tx(i)[1] !== TxKind.AtomixLock) continue;
        const node = devnet.manifest.validators.find((v) => v.shard === set.shard(i))!;
        const found = await new ApiClient(node.http).atomix(Buffer.from(set.txid(i)).toString("hex")).catch(() => undefined);
        if (found?.proof !== undefined) sampled.push(found.proof.length / 2);
      }
      proofSizes = sampled;
    }
    rows.push({
      crossShard,
      /** The interleaved pair this run belongs to (intra-only and half mix), null for the other mixes. */
      pair: k < 2 * PAIRS ? Math.floor(k / 2) : null,
      end: result.run.end,
      final: m.totals.final,
      rejected: m.totals.rejected,
      finalTps: m.throughput.endToEndTps,
      /** Mean per-second final tx/s over [RAMP_S, SECONDS): the run's edges left out. */
      sustainedTps: sustainedTps(m.series.final),
      finalLatency: { p50Ms: m.latency.final.p50Ms, p99Ms: m.latency.final.p99Ms },
      intra: { final: m.byKind.intra.final, tps: m.byKind.intra.endToEndTps, p50Ms: m.byKind.intra.finalLatency.p50Ms, p99Ms: m.byKind.intra.finalLatency.p99Ms },
      cross: {
        final: m.byKind.cross.final, tps: m.byKind.cross.endToEndTps, p50Ms: m.byKind.cross.finalLatency.p50Ms, p99Ms: m.byKind.cross.finalLatency.p99Ms,
        phasesP50Ms: { locked: m.byKind.cross.phases.locked.p50Ms, proven: m.byKind.cross.phases.proven.p50Ms, committed: m.byKind.cross.phases.committed.p50Ms },
      },
      optimisticP50Ms: m.latency.optimistic.p50Ms,
      /** Per shard: transactions per final height (fixed per-height costs weigh on each transaction in inverse proportion). */
      txPerHeight: m.shards.map((s) => s.txPerHeight),
      validatorCpuMeanPercent: result.run.report.cpu.map((c) => c.meanPercent),
    });
  } finally {
    await devnet.stop();
  }
}

/** The runs, typed as recorded (the closures below read them). */
const runs = rows;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
/** A run's validator CPU (percent of a core, summed over the validators) per final tx/s. */
const cpuPerFinal = (run: (typeof runs)[number]): number => run.validatorCpuMeanPercent.reduce((sum, percent) => sum + percent, 0) / run.finalTps;
const pairs = Array.from({ length: PAIRS }, (_, pair) => {
  const [intraOnly, half] = [0, 0.5].map((mix) => runs.find((r) => r.pair === pair && r.crossShard === mix)!);
  return {
    pair, intraOnlyTps: intraOnly!.finalTps, halfMixTps: half!.finalTps,
    intraOnlySustainedTps: intraOnly!.sustainedTps, halfMixSustainedTps: half!.sustainedTps,
    /** This pair's half-mix sustained final tx/s over its intra-only run's (the goal's figure). */
    halfMixTpsShare: half!.sustainedTps / intraOnly!.sustainedTps,
    /** The same from end-to-end rates (first submission to last final). */
    halfMixEndToEndShare: half!.finalTps / intraOnly!.finalTps,
    /**
     * Validator CPU per cross-shard transfer in intra-shard transfers: 2 × (the half mix's validator
     * CPU per final transfer ÷ the intra-only run's) − 1 (the share's goal of 50 % needs ≤ 3).
     */
    crossCostIntraUnits: 2 * (cpuPerFinal(half!) / cpuPerFinal(intraOnly!)) - 1,
    halfMixCrossTpsShare: half!.cross.tps / intraOnly!.finalTps,
    crossOverIntraP50AtHalf: half!.cross.p50Ms / half!.intra.p50Ms,
    intraOnlyP50Ms: intraOnly!.intra.p50Ms,
  };
});
const allCross = runs.find((r) => r.crossShard === 1);
const ratios = pairs.length === 0 ? null : {
  /** In the 50 % runs: a cross-shard transfer's final p50 over an intra-shard one's, same load (median over the pairs). */
  crossOverIntraP50AtHalf: median(pairs.map((p) => p.crossOverIntraP50AtHalf)),
  /** Across runs: the all-cross run's final p50 over the intra-only runs' median. */
  crossOverIntraP50AcrossRuns: allCross === undefined ? null : allCross.cross.p50Ms / median(pairs.map((p) => p.intraOnlyP50Ms)),
  /** Sustained final tx/s of the 50 % mix as a share of the intra-only run's: the median of the interleaved pairs' shares. */
  halfMixTpsShare: median(pairs.map((p) => p.halfMixTpsShare)),
  /** The same from end-to-end rates. */
  halfMixEndToEndShare: median(pairs.map((p) => p.halfMixEndToEndShare)),
  /** A cross-shard transfer's validator CPU in intra-shard transfers (median over the pairs). */
  crossCostIntraUnits: median(pairs.map((p) => p.crossCostIntraUnits)),
  /** Cross-shard transfers final per second at the 50 % mix, as a share of the intra-only run's final tx/s (median over the pairs). */
  halfMixCrossTpsShare: median(pairs.map((p) => p.halfMixCrossTpsShare)),
  /** Each interleaved pair's figures and share. */
  pairs,
};
const output = {
  benchmark: "atomix",
  date: new Date().toISOString(),
  machine: "2 cores (shared, noisy): compare ratios, not absolute figures",
  devnet: "2 shards × 5 validators, PoB: 1 believable producer + normal league of 4, p = 0.1",
  crossShardTransfers: "one input shard each (the sender's): its lock settles the transfer there, the unlock-to-commit goes to the other shard; what spends the change follows the lock at once",
  seconds: SECONDS,
  sustainedFromS: RAMP_S,
  window: WINDOW,
  accounts: ACCOUNTS,
  goals: { crossOverIntraLatency: "≤ 3×", halfMixTpsShare: "≥ 50 %" },
  runs,
  ratios,
  proofBytes: proofSizes.length === 0 ? null : { samples: proofSizes.length, min: Math.min(...proofSizes), max: Math.max(...proofSizes), committee: 4 },
};
writeFileSync(RESULTS_FILE, `${JSON.stringify(output, null, 2)}\n`);
if (ratios !== null) {
  console.log(`\ncross/intra final p50 at the 50 % mix ${ratios.crossOverIntraP50AtHalf.toFixed(2)}×${ratios.crossOverIntraP50AcrossRuns === null ? "" : ` (all-cross run over intra-only runs ${ratios.crossOverIntraP50AcrossRuns.toFixed(2)}×)`}`);
  console.log(`sustained final tx/s at the 50 % mix: ${(100 * ratios.halfMixTpsShare).toFixed(0)} % of intra-only, median of pairs ${ratios.pairs.map((p) => `${(100 * p.halfMixTpsShare).toFixed(0)} %`).join(", ")}; end to end ${(100 * ratios.halfMixEndToEndShare).toFixed(0)} % (cross-shard alone ${(100 * ratios.halfMixCrossTpsShare).toFixed(0)} %); a cross-shard transfer costs ${ratios.crossCostIntraUnits.toFixed(2)} intra-shard ones of validator CPU`);
}
console.log(`proofs: ${output.proofBytes === null ? "none sampled" : `${output.proofBytes.min}–${output.proofBytes.max} bytes (committee of 4)`}`);
console.log(`results: ${RESULTS_FILE}`);
