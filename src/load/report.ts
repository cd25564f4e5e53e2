/**
 * The end-of-run report in three forms: JSON (for machines), Markdown (a summary table) and a
 * self-contained HTML page with two uPlot charts (throughput over time, latency CDF). The page
 * inlines uPlot's script and stylesheet and the data, so it opens offline from a single file.
 *
 * JSON schema (`schema: "ioschain.load-report/4"`; /4 added `faults` and `metrics.resubmitted`):
 *   run:      { seed, mode ("open-loop" | "closed-loop"), targetRate (tx/s, open loop) | null,
 *               window (max in flight, closed loop) | null, plannedDurationMs, transactions (in the
 *               set), shardCount, genesisHash (hex), endpoints (the validators' stream URLs),
 *               startedAt (ISO), consensus (per shard, as the endpoints serving it at the end of the
 *               run reported it in /v1/status: "solo", "bft", "pob/two-league", "pob/one-league", or
 *               "none" without an endpoint), routing (per shard, at the end: "pob-assignee" when
 *               transactions went to their believable assignee, else "owner-byte"),
 *               epochs { first, last (lowest and highest epoch an endpoint reported), switches
 *               ([{ atMs, endpoint, fromEpoch, toEpoch, fromShard, toShard }]: each change of an
 *               endpoint's epoch or shard the driver saw, ms since the start), routeRebuilds } }
 *   metrics:  MetricsSummary of src/load/metrics.ts — totals (submitted = accepted +
 *             rejectedAtSubmission + unacknowledged; accepted = final + rejectedAfterAcceptance +
 *             pending; submitted = final + rejected + unsettled; rejected = Σ rejectedByCode;
 *             resent = Σ resentByCause, sends after the first, not in submitted), throughput (endToEndTps, consensusTps,
 *             optimisticTps, latencyCapMs, withinCapTps, peakBucketTpsUnderCap; definitions there),
 *             latency { optimistic, final, consensus } as { count, p50Ms, p90Ms, p99Ms, maxMs, meanMs },
 *             byKind { intra, cross } (final count, tx/s, latency; cross adds phases locked, proven, committed),
 *             cdf { optimistic, final } as [ms, fraction][], shards[], series (per 1 s bucket)
 *   cpu:      [{ pid, label, samples: [ms, % of one core][], meanPercent, maxPercent, exited }]
 *   faults:   [{ atMs, endpoint, shard, kind ("disconnected" | "reconnected"), detail }]: each time an
 *             endpoint's stream closed or failed, and each time the driver reconnected to it (ms since
 *             the start; shard as the endpoint last reported it); what the disconnections cost is in
 *             metrics.resubmitted { count, finalLatency } and metrics.resentByCause.ENDPOINT_DISCONNECTED
 *
 * API: `buildReport(run, metrics, cpu)`, `renderJson`, `renderMarkdown`, `renderHtml`,
 * `writeReport(report, dir, baseName?)`.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { CpuSummary, LatencySummary, MetricsSummary } from "./metrics.js";
import { IosError } from "../errors.js";
import type { LoadErrorCode } from "./errors.js";

export const REPORT_SCHEMA = "ioschain.load-report/4";

/** An endpoint's stream closed or failed (its validator died, stopped or restarted), or came back. */
export interface LoadFault {
  /** Milliseconds since the run's start. */
  readonly atMs: number;
  readonly endpoint: string;
  readonly shard: number;
  readonly kind: "disconnected" | "reconnected";
  /** The close code or error, or the epoch on reconnection. */
  readonly detail: string;
}

/** One change of an endpoint's epoch or shard, as the driver saw it (its /v1/status). */
export interface EndpointSwitch {
  /** Milliseconds since the run's start. */
  readonly atMs: number;
  readonly endpoint: string;
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly fromShard: number;
  readonly toShard: number;
}

export interface EpochsSeen {
  readonly first: number;
  readonly last: number;
  readonly switches: readonly EndpointSwitch[];
  /** Times the routes were rebuilt after the first (an endpoint's shard, epoch or league changed). */
  readonly routeRebuilds: number;
}

export interface RunInfo {
  readonly seed: string;
  readonly mode: "open-loop" | "closed-loop";
  readonly targetRate: number | null;
  readonly window: number | null;
  readonly plannedDurationMs: number;
  readonly transactions: number;
  readonly shardCount: number;
  readonly genesisHash: string;
  readonly endpoints: readonly string[];
  readonly startedAt: string;
  readonly consensus: readonly string[];
  readonly routing: readonly ("pob-assignee" | "owner-byte")[];
  readonly epochs: EpochsSeen;
}

export interface LoadReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly run: RunInfo;
  readonly metrics: MetricsSummary;
  readonly cpu: readonly CpuSummary[];
  readonly faults: readonly LoadFault[];
}

export function buildReport(run: RunInfo, metrics: MetricsSummary, cpu: readonly CpuSummary[], faults: readonly LoadFault[] = []): LoadReport {
  return { schema: REPORT_SCHEMA, run, metrics, cpu, faults };
}

export function renderJson(report: LoadReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function fmt(value: number | null): string {
  if (value === null) return "n/a";
  return Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 1 : 3);
}

function latencyRow(name: string, l: LatencySummary): string {
  if (l.count === 0) return `| ${name} | 0 | n/a | n/a | n/a | n/a |`;
  return `| ${name} | ${l.count} | ${fmt(l.p50Ms)} | ${fmt(l.p90Ms)} | ${fmt(l.p99Ms)} | ${fmt(l.maxMs)} |`;
}

export function renderMarkdown(report: LoadReport): string {
  const { run, metrics: m, cpu } = report;
  const t = m.totals;
  const rate = run.mode === "open-loop" ? `target ${fmt(run.targetRate)} tx/s` : `window ${fmt(run.window)} in flight`;
  const lines = [
    `# IOSChain load report`,
    ``,
    `${run.mode}, ${rate}, seed \`${run.seed}\`, ${run.shardCount} shard(s), ${run.transactions} transactions planned, started ${run.startedAt}, ran ${fmt(m.elapsedMs / 1000)} s.`,
    ``,
    `Consensus per shard: ${run.consensus.map((mode, shard) => `${shard}: ${mode}${run.routing[shard] === "pob-assignee" ? " (sent to believable assignees)" : ""}`).join(", ")}.`,
    ``,
    `Epochs ${run.epochs.first}..${run.epochs.last}: ${run.epochs.switches.length} endpoint switch(es) seen, routes rebuilt ${run.epochs.routeRebuilds} time(s).`,
    ``,
    `| submitted | accepted | rejected | optimistic | final | pending | unacknowledged | unsettled | resent |`,
    `|---|---|---|---|---|---|---|---|---|`,
    `| ${t.submitted} | ${t.accepted} | ${t.rejected} | ${t.optimistic} | ${t.final} | ${t.pending} | ${t.unacknowledged} | ${t.unsettled} | ${t.resent} |`,
    ``,
    `| throughput | tx/s |`,
    `|---|---|`,
    `| end-to-end (final) | ${fmt(m.throughput.endToEndTps)} |`,
    `| consensus | ${fmt(m.throughput.consensusTps)} |`,
    `| optimistic | ${fmt(m.throughput.optimisticTps)} |`,
    `| final within ${fmt(m.throughput.latencyCapMs)} ms | ${fmt(m.throughput.withinCapTps)} |`,
    `| peak 1 s bucket with p99 ≤ ${fmt(m.throughput.latencyCapMs)} ms | ${fmt(m.throughput.peakBucketTpsUnderCap)} |`,
    ``,
    `| latency (ms) | count | p50 | p90 | p99 | max |`,
    `|---|---|---|---|---|---|`,
    latencyRow("optimistic", m.latency.optimistic),
    latencyRow("final (end to end)", m.latency.final),
    latencyRow("consensus", m.latency.consensus),
    ``,
    `| shard | submitted | accepted | rejected | optimistic | final | tx/s | final p50 ms | final p99 ms | final heights | tx per height |`,
    `|---|---|---|---|---|---|---|---|---|---|---|`,
    ...m.shards.map((s) => `| ${s.shard} | ${s.submitted} | ${s.accepted} | ${s.rejected} | ${s.optimistic} | ${s.final} | ${fmt(s.endToEndTps)} | ${fmt(s.finalLatency.p50Ms)} | ${fmt(s.finalLatency.p99Ms)} | ${s.heights} | ${fmt(s.txPerHeight)} |`),
  ];
  const { intra, cross } = m.byKind;
  if (cross.phases.locked.count > 0) {
    lines.push(
      ``,
      `| kind (Atomix, white paper §6) | final | tx/s | final p50 ms | final p99 ms |`,
      `|---|---|---|---|---|`,
      `| intra-shard | ${intra.final} | ${fmt(intra.endToEndTps)} | ${fmt(intra.finalLatency.p50Ms)} | ${fmt(intra.finalLatency.p99Ms)} |`,
      `| cross-shard | ${cross.final} | ${fmt(cross.endToEndTps)} | ${fmt(cross.finalLatency.p50Ms)} | ${fmt(cross.finalLatency.p99Ms)} |`,
      ``,
      `| cross-shard phase, from submission (ms) | count | p50 | p90 | p99 | max |`,
      `|---|---|---|---|---|---|`,
      latencyRow("locked (final in the input shard)", cross.phases.locked),
      latencyRow("proven (its proof read)", cross.phases.proven),
      latencyRow("committed (final in every shard)", cross.phases.committed),
    );
  }
  const codes = Object.entries(m.rejectedByCode);
  if (codes.length > 0) lines.push(``, `| rejection code | count |`, `|---|---|`, ...codes.map(([code, n]) => `| ${code} | ${n} |`));
  const causes = Object.entries(m.resentByCause);
  if (causes.length > 0) lines.push(``, `| resent because | count |`, `|---|---|`, ...causes.map(([cause, n]) => `| ${cause} | ${n} |`));
  if (cpu.length > 0) {
    lines.push(``, `| process | pid | mean CPU % | max CPU % |`, `|---|---|---|---|`, ...cpu.map((c) => `| ${c.label}${c.exited ? " (exited)" : ""} | ${c.pid} | ${fmt(c.meanPercent)} | ${fmt(c.maxPercent)} |`));
  }
  return `${lines.join("\n")}\n`;
}

const requireFromHere = createRequire(import.meta.url);

function asset(path: string): string {
  try {
    return readFileSync(requireFromHere.resolve(path), "utf8");
  } catch (error) {
    throw new IosError<LoadErrorCode>("LOAD_REPORT_ASSET_MISSING", `cannot read ${path} (is the uplot package installed?): ${(error as Error).message}`);
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element: no "</script" or "<!--" can appear. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/** Draws both charts from the embedded data; runs in the browser. */
const CHART_SCRIPT = `
const report = JSON.parse(document.getElementById("report-data").textContent);
const m = report.metrics;
const width = Math.min(960, document.body.clientWidth - 32);
const seconds = m.series.final.map((_, k) => (k * m.series.bucketMs) / 1000);
const perSecond = (series) => series.map((n) => (n * 1000) / m.series.bucketMs);
new uPlot({
  title: "Throughput over time (tx/s per 1 s bucket)", width, height: 320,
  scales: { x: { time: false } },
  axes: [{ label: "seconds since start" }, { label: "tx/s" }],
  series: [{}, { label: "submitted", stroke: "#888" }, { label: "optimistic", stroke: "#2a7" }, { label: "final", stroke: "#15c" }, { label: "rejected", stroke: "#c33" }],
}, [seconds, perSecond(m.series.submitted), perSecond(m.series.optimistic), perSecond(m.series.final), perSecond(m.series.rejected)], document.getElementById("throughput"));
const table = (points) => [points.map((p) => p[0]), points.map((p) => p[1])];
const cdfs = [m.cdf.optimistic, m.cdf.final].map((points) => points.length > 0 ? table(points) : [[0], [null]]);
new uPlot({
  title: "Latency CDF", width, height: 320,
  scales: { x: { time: false } },
  axes: [{ label: "latency (ms)" }, { label: "fraction of transactions" }],
  series: [{}, { label: "optimistic", stroke: "#2a7", spanGaps: true }, { label: "final", stroke: "#15c", spanGaps: true }],
}, uPlot.join(cdfs), document.getElementById("cdf"));
`;

export function renderHtml(report: LoadReport): string {
  const markdownTables = renderMarkdown(report);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>IOSChain load report — seed ${escapeHtml(report.run.seed)}</title>
<style>${asset("uplot/dist/uPlot.min.css")}</style>
<style>body{font-family:system-ui,sans-serif;margin:16px}pre{background:#f4f4f4;padding:12px;overflow:auto}</style>
</head>
<body>
<h1>IOSChain load report</h1>
<div id="throughput"></div>
<div id="cdf"></div>
<h2>Summary</h2>
<pre>${escapeHtml(markdownTables)}</pre>
<script id="report-data" type="application/json">${scriptJson(report)}</script>
<script>${asset("uplot/dist/uPlot.iife.min.js")}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}

export interface ReportFiles {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

/** Writes `<baseName>.json`, `.md` and `.html` into `dir` (created if missing). */
export async function writeReport(report: LoadReport, dir: string, baseName = "load-report"): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const files = { json: join(dir, `${baseName}.json`), markdown: join(dir, `${baseName}.md`), html: join(dir, `${baseName}.html`) };
  await writeFile(files.json, renderJson(report));
  await writeFile(files.markdown, renderMarkdown(report));
  await writeFile(files.html, renderHtml(report));
  return files;
}
