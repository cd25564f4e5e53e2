/**
 * A/B of the default devnet (`ios start`: 2 shards × 5 PoB validators, closed loop) between this
 * build and another built checkout, side by side in one run: rounds alternate which side goes
 * first, so the shared machine's drift lands on both. Each side runs in its own checkout with its
 * own `dist/`, exactly as a user would start it; each run's load-report.json gives final tx/s,
 * final and optimistic p50, and the validators' mean CPU.
 *
 *   AB_BASE=/path/to/other/checkout   required: a checkout of the commit to compare with, built
 *                                     (`git worktree add --detach DIR COMMIT && cd DIR && npm ci && npm run build`)
 *   AB_RUNS (default 3), AB_SECONDS (default 10), AB_LABEL (default "ab"): results go to
 *   bench/results/<label>.json, with the median of each side and the head/base ratios.
 * Without AB_BASE it says so and exits 0 (`npm run bench` runs every benchmark).
 * Not benny: one sample is a whole devnet run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./stats.js";

interface Sample {
  readonly finalTps: number;
  readonly finalP50Ms: number;
  readonly optimisticP50Ms: number;
  readonly validatorCpuPercent: number;
}

const base = process.env.AB_BASE;
if (base === undefined || base === "") {
  console.log("ab-start: set AB_BASE to a built checkout of the commit to compare with; skipped");
  process.exit(0);
}
const head = resolve(new URL("../..", import.meta.url).pathname);
const runs = Number(process.env.AB_RUNS ?? 3);
const seconds = Number(process.env.AB_SECONDS ?? 10);
const label = process.env.AB_LABEL ?? "ab";
const sides = { base: resolve(base), head } as const;
for (const [side, dir] of Object.entries(sides)) {
  if (!existsSync(join(dir, "dist/src/cli/main.js"))) throw new Error(`${side} (${dir}) is not built: run npm run build there`);
}
const scratch = mkdtempSync(join(tmpdir(), "ios-ab-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

function runOnce(dir: string, tag: string): Sample {
  const report = join(scratch, tag);
  const result = spawnSync(process.execPath, [join(dir, "dist/src/cli/main.js"), "start", "--duration", String(seconds), "--report", report], { cwd: dir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${tag}: ios start exited ${result.status}: ${result.stderr.slice(-2000)}`);
  const json = JSON.parse(readFileSync(join(report, "load-report.json"), "utf8"));
  const cpu: { meanPercent: number }[] = json.cpu;
  return {
    finalTps: json.metrics.throughput.endToEndTps,
    finalP50Ms: json.metrics.latency.final.p50Ms,
    optimisticP50Ms: json.metrics.latency.optimistic.p50Ms,
    validatorCpuPercent: cpu.reduce((sum, c) => sum + c.meanPercent, 0),
  };
}

const samples: Record<keyof typeof sides, Sample[]> = { base: [], head: [] };
for (let round = 0; round < runs; round++) {
  const order: (keyof typeof sides)[] = round % 2 === 0 ? ["base", "head"] : ["head", "base"];
  for (const side of order) {
    const sample = runOnce(sides[side], `${side}-${round}`);
    samples[side].push(sample);
    console.log(`round ${round} ${side}: ${sample.finalTps.toFixed(0)} final tx/s, final p50 ${sample.finalP50Ms.toFixed(0)} ms, optimistic p50 ${sample.optimisticP50Ms.toFixed(0)} ms, validators ${sample.validatorCpuPercent.toFixed(0)}% CPU`);
  }
}

const summary = (side: keyof typeof sides) => ({
  finalTps: median(samples[side].map((s) => s.finalTps)),
  finalP50Ms: median(samples[side].map((s) => s.finalP50Ms)),
  optimisticP50Ms: median(samples[side].map((s) => s.optimisticP50Ms)),
  validatorCpuPercent: median(samples[side].map((s) => s.validatorCpuPercent)),
  // CPU-seconds of all validators per 1,000 final transactions.
  validatorCpuMsPerTx: median(samples[side].map((s) => (s.validatorCpuPercent * 10) / s.finalTps)),
});
const medians = { base: summary("base"), head: summary("head") };
const ratios = {
  finalTps: medians.head.finalTps / medians.base.finalTps,
  finalP50Ms: medians.head.finalP50Ms / medians.base.finalP50Ms,
  validatorCpuMsPerTx: medians.head.validatorCpuMsPerTx / medians.base.validatorCpuMsPerTx,
};
const git = (dir: string) => spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).stdout.trim();
const out = {
  benchmark: "ab-start",
  what: `ios start (2 shards × 5 PoB validators, closed loop 4000), ${seconds} s per run, ${runs} rounds alternating`,
  base: { commit: git(sides.base), samples: samples.base, median: medians.base },
  head: { commit: git(head), samples: samples.head, median: medians.head },
  ratios,
};
writeFileSync(join(head, "bench/results", `${label}.json`), `${JSON.stringify(out, null, 2)}\n`);
console.log(`head/base: final tx/s ${ratios.finalTps.toFixed(2)}×, final p50 ${ratios.finalP50Ms.toFixed(2)}×, validator CPU per tx ${ratios.validatorCpuMsPerTx.toFixed(2)}× → bench/results/${label}.json`);
