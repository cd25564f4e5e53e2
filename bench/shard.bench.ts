/**
 * Shard consensus throughput and latency (issue 6): one shard of 4 and of 7 validator processes
 * on loopback, driven closed loop over the client WebSocket stream (runLoad), under
 *   - Proof-of-Believability at sampling p = 0.1 and p = 1: 1 believable producer and a normal
 *     league of 3 (4 validators), 2 producers and a normal league of 5 (7 validators);
 *   - the one-league BFT fallback, where every validator verifies every signature;
 * and, side by side, the reference: the same load on one solo validator process (no agreement),
 * so the ratios show what agreement costs. Records finalized tx/s and latency p50/p99 from each
 * transaction's send to its optimistic and to its first final confirmation.
 * Results: bench/results/shard.json. SHARD_BENCH_SECONDS sets each run's length (default 10).
 * Not benny: one run is seconds of a whole network of processes, not a function to sample.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { runLoad } from "../src/load/driver.js";
import { generateLoad } from "../src/load/workload.js";
import { deriveTestAccounts } from "../src/ledger/genesis.js";
import type { ConsensusSettings } from "../src/node/config.js";
import { startShardNetwork, stopAll, type ShardNetwork } from "../test/integration/processes.js";

const RESULTS_FILE = "bench/results/shard.json";
const SECONDS = Number(process.env.SHARD_BENCH_SECONDS ?? 10);
/** Closed-loop windows: 256 in flight shows latency near an unloaded shard, 4,000 the throughput at saturation. */
const WINDOWS = [256, 4000];
const ACCOUNTS = 2000;
/** Signed per run: above the highest rate seen here, so a run never runs dry. */
const TX_PER_SECOND_BUDGET = 8000;
const SEED = "shard bench";

/** The PoB league split per shard size: the largest believable league leaving a fault-tolerant normal league (≥ 4) at 7, one producer at 4. */
const BELIEVABLE: Readonly<Record<number, number>> = { 4: 1, 7: 2 };

interface RunResult {
  readonly label: string;
  readonly validators: number;
  readonly consensus: ConsensusSettings["mode"];
  readonly samplingProbability: number | null;
  readonly believable: number;
  readonly window: number;
  readonly end: string;
  readonly submitted: number;
  readonly final: number;
  readonly rejected: number;
  readonly finalTps: number;
  readonly finalLatencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly optimisticLatencyMs: { readonly p50: number; readonly p99: number } | null;
  readonly blocks: number;
  readonly viewChanges: number;
}

const root = mkdtempSync(join(tmpdir(), "ios-shard-bench-"));
const holder: { network?: ShardNetwork } = {};
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
process.on("SIGINT", () => void stopAll(holder.network).then(() => process.exit(130)));

async function measure(label: string, validators: number, consensus: ConsensusSettings, window: number, samplingProbability?: number): Promise<RunResult> {
  const directory = join(root, `${label}-${window}`.replace(/\W+/g, "-"));
  mkdirSync(directory, { recursive: true });
  holder.network = undefined;
  try {
    const believable = samplingProbability === undefined ? 0 : BELIEVABLE[validators]!;
    const pob = samplingProbability === undefined ? {} : { pob: { believable, samplingProbability } };
    const network = await startShardNetwork({ directory, validators, accounts: ACCOUNTS, seed: SEED, pipeline: { workers: 1 }, consensus, ...pob }, holder);
    const set = await generateLoad({ genesis: network.genesis, accounts: deriveTestAccounts(SEED, ACCOUNTS), count: SECONDS * TX_PER_SECOND_BUDGET, seed: `${SEED} ${label}` });
    const { report, end } = await runLoad({
      set,
      endpoints: network.validators.map((v) => `ws://127.0.0.1:${v.port}/v1/stream`),
      mode: { kind: "closed-loop", window },
      durationMs: SECONDS * 1000,
    });
    const statuses = await Promise.all(network.validators.map((v) => v.api!.status()));
    const m = report.metrics;
    return {
      label,
      validators,
      consensus: consensus.mode,
      samplingProbability: samplingProbability ?? null,
      believable,
      window,
      end,
      submitted: m.totals.submitted,
      final: m.totals.final,
      rejected: m.totals.rejected,
      finalTps: m.throughput.endToEndTps,
      finalLatencyMs: { p50: m.latency.final.p50Ms, p99: m.latency.final.p99Ms, max: m.latency.final.maxMs },
      optimisticLatencyMs: m.latency.optimistic.count > 0 ? { p50: m.latency.optimistic.p50Ms, p99: m.latency.optimistic.p99Ms } : null,
      blocks: Math.min(...statuses.map((s) => s.tip.height)),
      viewChanges: Math.max(...statuses.map((s) => ((s as unknown as { consensus: { viewChanges?: number } }).consensus.viewChanges ?? 0))),
    };
  } finally {
    await stopAll(holder.network);
  }
}

const runs: RunResult[] = [];
const lines: string[] = [];
const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
const ratios: Record<string, { tpsVsSolo: number; p50VsSolo: number; p99VsSolo: number }> = {};
for (const window of WINDOWS) {
  const reference = await measure("solo, 1 validator (reference)", 1, { mode: "solo" }, window);
  runs.push(reference);
  const group = [reference];
  for (const n of [4, 7]) {
    const variants: [string, ConsensusSettings, number | undefined][] = [
      [`bft one-league, ${n} validators`, { mode: "bft" }, undefined],
      [`pob p=1, ${n} validators`, { mode: "pob" }, 1],
      [`pob p=0.1, ${n} validators`, { mode: "pob" }, 0.1],
    ];
    for (const [label, consensus, p] of variants) {
      const run = await measure(label, n, consensus, window, p);
      runs.push(run);
      group.push(run);
      ratios[`${run.label}, window ${window}`] = {
        tpsVsSolo: ratio(run.finalTps, reference.finalTps),
        p50VsSolo: ratio(run.finalLatencyMs.p50, reference.finalLatencyMs.p50),
        p99VsSolo: ratio(run.finalLatencyMs.p99, reference.finalLatencyMs.p99),
      };
    }
  }
  for (const r of group) {
    const line =
      `window ${String(window).padStart(4)}  ${r.label.padEnd(30)} ${r.finalTps.toFixed(0).padStart(6)} final tx/s (×${ratio(r.finalTps, reference.finalTps)} of solo)  ` +
      `final p50 ${r.finalLatencyMs.p50.toFixed(1)} ms, p99 ${r.finalLatencyMs.p99.toFixed(1)} ms  ` +
      (r.optimisticLatencyMs === null ? "" : `optimistic p50 ${r.optimisticLatencyMs.p50.toFixed(1)} ms, p99 ${r.optimisticLatencyMs.p99.toFixed(1)} ms  `) +
      `blocks ${r.blocks}, view changes ${r.viewChanges}, ${r.end}`;
    lines.push(line);
    console.log(line);
  }
}

const result = {
  benchmark: "shard",
  date: new Date().toISOString(),
  machine: { cores: availableParallelism(), node: process.version },
  setup: {
    shards: 1,
    secondsPerRun: SECONDS,
    mode: `closed loop, windows ${WINDOWS.join(" and ")}`,
    accounts: ACCOUNTS,
    workersPerValidator: 1,
    note: "every validator process and the driver share this machine's cores",
  },
  pobLeagues: Object.fromEntries(Object.entries(BELIEVABLE).map(([n, b]) => [`${n} validators`, `${b} believable, normal league of ${Number(n) - b}`])),
  runs,
  ratios,
  summary: lines,
};
writeFileSync(RESULTS_FILE, `${JSON.stringify(result, null, 2)}\n`);
console.log(`→ ${RESULTS_FILE}`);
