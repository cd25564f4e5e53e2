/**
 * A load run against a launched devnet: generate (or replay) the workload for its genesis and
 * accounts, drive it over every validator's stream with H9's driver (src/load/driver.ts), sample
 * the validators' CPU, and write the JSON / Markdown / HTML report. Shared by `ios start`, the
 * devnet test and the devnet benchmark (`ios load --devnet` has only the manifest, not a Devnet).
 *
 * API: `runDevnetLoad(devnet, options): Promise<DevnetLoadResult>`, `summaryLines(result)`.
 */
import { runLoad, type LoadMode, type LoadRun } from "../load/driver.js";
import type { ProgressDisplay } from "../load/progress.js";
import { writeReport, type ReportFiles } from "../load/report.js";
import { generateLoad, type LoadSet } from "../load/workload.js";
import { validatorProcesses, type Devnet } from "./launcher.js";

export interface DevnetLoadOptions {
  /** Transfers to generate (ignored with `set`). */
  readonly count?: number;
  /** A set generated or replayed beforehand, for this devnet's genesis. */
  readonly set?: LoadSet;
  /** Workload seed; default "load". */
  readonly seed?: string;
  readonly mode: LoadMode;
  readonly durationMs: number;
  readonly drainTimeoutMs?: number;
  readonly reportDir: string;
  readonly progress?: ProgressDisplay;
  /** Signing threads; default: all cores. */
  readonly threads?: number;
  /** Fraction of cross-shard transfers (Atomix); default 0. */
  readonly crossShard?: number;
}

export interface DevnetLoadResult {
  readonly set: LoadSet;
  readonly run: LoadRun;
  readonly files: ReportFiles;
  /** Wall time spent signing the workload. */
  readonly generateMs: number;
}

export async function runDevnetLoad(devnet: Devnet, options: DevnetLoadOptions): Promise<DevnetLoadResult> {
  const started = performance.now();
  const set =
    options.set ??
    (await generateLoad({
      genesis: devnet.genesis,
      accounts: devnet.accounts,
      count: options.count ?? 1,
      seed: options.seed ?? "load",
      ...(options.crossShard === undefined ? {} : { crossShard: options.crossShard }),
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    }));
  const generateMs = performance.now() - started;
  const run = await runLoad({
    set,
    endpoints: devnet.endpoints,
    ...(devnet.genesis.epochLength === undefined ? {} : { epochLength: devnet.genesis.epochLength }),
    mode: options.mode,
    durationMs: options.durationMs,
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    // A validator down when the run starts has no process to sample (the driver counts it as a fault).
    cpu: validatorProcesses(devnet.manifest).filter((_, i) => devnet.validators()[i]!.exit === null),
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  const files = await writeReport(run.report, options.reportDir);
  return { set, run, files, generateMs };
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/** Intra- and cross-shard transfers apart, when the run had cross-shard ones (white paper §6). */
export function kindLines(m: DevnetLoadResult["run"]["report"]["metrics"]): string[] {
  const { intra, cross } = m.byKind;
  if (cross.final === 0 && cross.phases.locked.count === 0) return [];
  const p = cross.phases;
  return [
    `intra-shard: ${intra.final} final, ${intra.endToEndTps.toFixed(0)} tx/s, latency p50 ${ms(intra.finalLatency.p50Ms)}, p99 ${ms(intra.finalLatency.p99Ms)}`,
    `cross-shard: ${cross.final} committed, ${cross.endToEndTps.toFixed(0)} tx/s, latency p50 ${ms(cross.finalLatency.p50Ms)}, p99 ${ms(cross.finalLatency.p99Ms)}`,
    `cross-shard phases (p50 from submission): locked ${ms(p.locked.p50Ms)}, proven ${ms(p.proven.p50Ms)}, committed ${ms(p.committed.p50Ms)}`,
  ];
}

/**
 * After a drain timeout, the traced transactions grouped by where they are: the driver's state
 * and each endpoint's answer (e.g. "accepted; final at 2 of 8, TX_NOT_FOUND at 6"), with a count
 * and one txid of each group.
 */
export function unsettledLines(run: LoadRun): string[] {
  if (run.unsettled === undefined) return [];
  const groups = new Map<string, { count: number; example: string }>();
  for (const trace of run.unsettled) {
    const answers = new Map<string, number>();
    for (const answer of trace.atEndpoints) answers.set(answer, (answers.get(answer) ?? 0) + 1);
    const key = `${trace.cross ? "cross-shard " : ""}${trace.driverState} (shard ${trace.shard}); ${[...answers].sort().map(([answer, n]) => `${answer} at ${n}`).join(", ")}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { count: 1, example: trace.txid });
    else group.count++;
  }
  return [`unsettled, the first ${run.unsettled.length} traced:`, ...[...groups].map(([key, { count, example }]) => `  ${count} × ${key} (e.g. ${example})`)];
}

/** The few lines a person reads after a run: throughput, latencies, counts, where the report is. */
export function summaryLines(result: DevnetLoadResult): string[] {
  const m = result.run.report.metrics;
  const t = m.totals;
  const f = m.latency.final;
  const o = m.latency.optimistic;
  return [
    `transactions: ${t.submitted} submitted, ${t.accepted} accepted, ${t.final} final, ${t.rejected} rejected, ${t.pending} pending (${result.run.end})`,
    `throughput: ${m.throughput.endToEndTps.toFixed(0)} final tx/s end to end (${m.throughput.withinCapTps.toFixed(0)} tx/s final within ${m.throughput.latencyCapMs} ms)`,
    `final latency: p50 ${ms(f.p50Ms)}, p90 ${ms(f.p90Ms)}, p99 ${ms(f.p99Ms)}, max ${ms(f.maxMs)}`,
    ...kindLines(m),
    o.count === 0 ? "optimistic latency: n/a (no believable validators: solo or one-league BFT shards confirm only when final)" : `optimistic latency: p50 ${ms(o.p50Ms)}, p99 ${ms(o.p99Ms)}`,
    `validator CPU (mean % of one core): ${result.run.report.cpu.map((c) => `${c.label} ${c.meanPercent.toFixed(0)}%`).join(", ")}`,
    ...unsettledLines(result.run),
    `report: ${result.files.html} (also ${result.files.json}, ${result.files.markdown})`,
  ];
}
