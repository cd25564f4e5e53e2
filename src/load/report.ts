/**
 * The end-of-run report in three forms: JSON (for machines), Markdown (summary tables, the console
 * summary) and a self-contained HTML page: the same tables as HTML, and uPlot charts (throughput
 * over time with the faults marked, latency CDF, and the knee search's steps when it ran). The
 * page inlines uPlot's script and stylesheet and the data, so it opens offline from a single file.
 * Markdown and HTML are rendered from one list of sections (`summarySections`), so they agree.
 *
 * JSON schema (`schema: "ioschain.load-report/4"`; /4 added metrics.stages, shards[].stages,
 * metrics.resubmitted, knee and faults):
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
 *             cdf { optimistic, final } as [ms, fraction][], shards[] (each with its stages),
 *             series (per 1 s bucket), stages { submitToAccepted, acceptedToOptimistic,
 *             optimisticToFinal, acceptedToFinal } (the final latency split by the stream events
 *             that bound each stage; the ordering of an optimistic block has no event: metrics.ts)
 *   cpu:      [{ pid, label, samples: [ms, % of one core][], meanPercent, maxPercent, exited }]
 *   faults:   [{ atMs, endpoint, shard, kind ("disconnected" | "reconnected"), detail }]: each time an
 *             endpoint's stream closed or failed, and each time the driver reconnected to it (ms since
 *             the start; shard as the endpoint last reported it); what the disconnections cost is in
 *             metrics.resubmitted { count, finalLatency } and metrics.resentByCause.ENDPOINT_DISCONNECTED;
 *             marked on the throughput chart and listed (absent from a /3 report)
 *   knee:     optional, KneeReport of src/load/knee.ts (`ios load --find-knee`): latencyCapMs,
 *             followFraction, stepMs, steps [{ phase, offeredTps, finalTps, p50Ms, p99Ms,
 *             submitted, final, unsettled, over }], sustainedTps, overTps, end; the rest of the
 *             report is then the run of the step at sustainedTps (else the last step)
 *
 * API: `buildReport(run, metrics, cpu, extras?)`, `summarySections`, `renderJson`,
 * `renderMarkdown`, `renderHtml`, `writeReport(report, dir, baseName?)`.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { KneeReport } from "./knee.js";
import type { CpuSummary, LatencySummary, MetricsSummary, StageSummary } from "./metrics.js";
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
  readonly faults?: readonly LoadFault[];
  readonly knee?: KneeReport;
}

/** Optional report sections: present only when the run had them. */
export interface ReportExtras {
  readonly faults?: readonly LoadFault[];
  readonly knee?: KneeReport;
}

export function buildReport(run: RunInfo, metrics: MetricsSummary, cpu: readonly CpuSummary[], extras: ReportExtras = {}): LoadReport {
  return {
    schema: REPORT_SCHEMA, run, metrics, cpu,
    ...(extras.faults === undefined ? {} : { faults: extras.faults }),
    ...(extras.knee === undefined ? {} : { knee: extras.knee }),
  };
}

export function renderJson(report: LoadReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function fmt(value: number | null): string {
  if (value === null) return "n/a";
  return Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 1 : 3);
}

/** A summary section: a heading, a sentence, or a table of plain-text cells (escaped by each renderer). */
export type Section =
  | { readonly kind: "heading"; readonly text: string }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "table"; readonly head: readonly string[]; readonly rows: readonly (readonly string[])[] };

const heading = (text: string): Section => ({ kind: "heading", text });
const text = (body: string): Section => ({ kind: "text", text: body });
const table = (head: readonly string[], rows: readonly (readonly string[])[]): Section => ({ kind: "table", head, rows });

function latencyCells(name: string, l: LatencySummary): string[] {
  if (l.count === 0) return [name, "0", "n/a", "n/a", "n/a", "n/a"];
  return [name, String(l.count), fmt(l.p50Ms), fmt(l.p90Ms), fmt(l.p99Ms), fmt(l.maxMs)];
}

/** The stages in their order, with the stream events that bound each (metrics.ts). */
const STAGES: readonly { readonly key: keyof StageSummary; readonly name: string }[] = [
  { key: "submitToAccepted", name: "submit → accepted" },
  { key: "acceptedToOptimistic", name: "accepted → optimistic" },
  { key: "optimisticToFinal", name: "optimistic → ordered → final" },
  { key: "acceptedToFinal", name: "accepted → final (no optimistic confirmation)" },
];

/** p50 / p99 of a stage, or "n/a" without samples. */
function p50p99(l: LatencySummary): string {
  return l.count === 0 ? "n/a" : `${fmt(l.p50Ms)} / ${fmt(l.p99Ms)}`;
}

/** The stages that have samples somewhere in the run (a solo run has no optimistic ones). */
function stagesSeen(m: MetricsSummary): typeof STAGES {
  return STAGES.filter(({ key }) => m.stages[key].count > 0);
}

/** Console lines: final latency by stage, over the run and per shard (p50 / p99 ms). */
export function stageLines(m: MetricsSummary): string[] {
  const seen = stagesSeen(m);
  if (seen.length === 0) return [];
  const split = (stages: StageSummary) => seen.map(({ key, name }) => `${name} ${p50p99(stages[key])}`).join("; ");
  return [
    `final latency by stage, p50 / p99 ms: ${split(m.stages)}`,
    ...m.shards.map((s) => `  shard ${s.shard}: final ${p50p99(s.finalLatency)}; ${split(s.stages)}`),
  ];
}

function kneeSections(knee: KneeReport): Section[] {
  const result = knee.sustainedTps === null
    ? `no rate within the cap (${knee.end})`
    : `${knee.sustainedTps} tx/s sustained${knee.overTps === null ? "" : `, ${knee.overTps} tx/s over`} (${knee.end})`;
  return [
    heading("Knee search"),
    text(`p99 final latency cap ${fmt(knee.latencyCapMs)} ms, final TPS must follow ≥ ${fmt(knee.followFraction)} × offered, steps of ${knee.stepMs === null ? "n/a" : fmt(knee.stepMs / 1000)} s: ${result}.`),
    table(
      ["step", "phase", "offered tx/s", "final tx/s", "final p50 ms", "final p99 ms", "submitted", "final", "unsettled", "verdict"],
      knee.steps.map((s, i) => [String(i + 1), s.phase, fmt(s.offeredTps), fmt(s.finalTps), fmt(s.p50Ms), fmt(s.p99Ms), String(s.submitted), String(s.final), String(s.unsettled), s.over.length === 0 ? "within" : `over: ${s.over.join(", ")}`]),
    ),
  ];
}

/** The summary as sections, shared by the Markdown and HTML renderers. */
export function summarySections(report: LoadReport): Section[] {
  const { run, metrics: m, cpu } = report;
  const t = m.totals;
  const rate = run.mode === "open-loop" ? `target ${fmt(run.targetRate)} tx/s` : `window ${fmt(run.window)} in flight`;
  const sections: Section[] = [
    text(`${run.mode}, ${rate}, seed "${run.seed}", ${run.shardCount} shard(s), ${run.transactions} transactions planned, started ${run.startedAt}, ran ${fmt(m.elapsedMs / 1000)} s.`),
    text(`Consensus per shard: ${run.consensus.map((mode, shard) => `${shard}: ${mode}${run.routing[shard] === "pob-assignee" ? " (sent to believable assignees)" : ""}`).join(", ")}.`),
    text(`Epochs ${run.epochs.first}..${run.epochs.last}: ${run.epochs.switches.length} endpoint switch(es) seen, routes rebuilt ${run.epochs.routeRebuilds} time(s).`),
  ];
  if (report.knee !== undefined) sections.push(...kneeSections(report.knee), heading(`The step at ${fmt(run.targetRate)} tx/s`));
  sections.push(
    table(
      ["submitted", "accepted", "rejected", "optimistic", "final", "pending", "unacknowledged", "unsettled", "resent"],
      [[t.submitted, t.accepted, t.rejected, t.optimistic, t.final, t.pending, t.unacknowledged, t.unsettled, t.resent].map(String)],
    ),
    table(["throughput", "tx/s"], [
      ["end-to-end (final)", fmt(m.throughput.endToEndTps)],
      ["consensus", fmt(m.throughput.consensusTps)],
      ["optimistic", fmt(m.throughput.optimisticTps)],
      [`final within ${fmt(m.throughput.latencyCapMs)} ms`, fmt(m.throughput.withinCapTps)],
      [`peak 1 s bucket with p99 ≤ ${fmt(m.throughput.latencyCapMs)} ms`, fmt(m.throughput.peakBucketTpsUnderCap)],
    ]),
    table(["latency (ms)", "count", "p50", "p90", "p99", "max"], [
      latencyCells("optimistic", m.latency.optimistic),
      latencyCells("final (end to end)", m.latency.final),
      latencyCells("consensus", m.latency.consensus),
    ]),
    heading("Final latency by stage"),
    text(`Each stage over the final transactions whose two events were seen in order. The ordering of an optimistic block (the normal league's proposal that includes it) sends no stream event, so it is not observable from the client: it lies inside optimistic → final. ${m.totals.final - m.stages.submitToAccepted.count} of the ${m.totals.final} final transactions had no "accepted" ack before their first confirmation, optimistic or final (a validator acks a submission frame once it has admitted all of it, in frame order, so a block can overtake the ack; a resend answered "duplicate" has none): they count in the later stages only.`),
    table(["stage (ms)", "count", "p50", "p90", "p99", "max", "mean"], STAGES.map(({ key, name }) => [...latencyCells(name, m.stages[key]), m.stages[key].count === 0 ? "n/a" : fmt(m.stages[key].meanMs)])),
    heading("By shard"),
    table(
      ["shard", "submitted", "accepted", "rejected", "optimistic", "final", "tx/s", "final p50 ms", "final p99 ms", "final heights", "tx per height"],
      m.shards.map((s) => [String(s.shard), String(s.submitted), String(s.accepted), String(s.rejected), String(s.optimistic), String(s.final), fmt(s.endToEndTps), fmt(s.finalLatency.p50Ms), fmt(s.finalLatency.p99Ms), String(s.heights), fmt(s.txPerHeight)]),
    ),
  );
  const seen = stagesSeen(m);
  if (seen.length > 0) {
    sections.push(table(["shard", ...seen.map(({ name }) => `${name} p50 / p99 ms`)], m.shards.map((s) => [String(s.shard), ...seen.map(({ key }) => p50p99(s.stages[key]))])));
  }
  const { intra, cross } = m.byKind;
  if (cross.phases.locked.count > 0) {
    sections.push(
      heading("Intra- and cross-shard"),
      table(["kind (Atomix, white paper §6)", "final", "tx/s", "final p50 ms", "final p99 ms"], [
        ["intra-shard", String(intra.final), fmt(intra.endToEndTps), fmt(intra.finalLatency.p50Ms), fmt(intra.finalLatency.p99Ms)],
        ["cross-shard", String(cross.final), fmt(cross.endToEndTps), fmt(cross.finalLatency.p50Ms), fmt(cross.finalLatency.p99Ms)],
      ]),
      table(["cross-shard phase, from submission (ms)", "count", "p50", "p90", "p99", "max"], [
        latencyCells("locked (final in the input shard)", cross.phases.locked),
        latencyCells("proven (its proof read)", cross.phases.proven),
        latencyCells("committed (final in every shard)", cross.phases.committed),
      ]),
    );
  }
  const codes = Object.entries(m.rejectedByCode);
  if (codes.length > 0) sections.push(table(["rejection code", "count"], codes.map(([code, n]) => [code, String(n)])));
  const causes = Object.entries(m.resentByCause);
  if (causes.length > 0) sections.push(table(["resent because", "count"], causes.map(([cause, n]) => [cause, String(n)])));
  if (report.faults !== undefined && report.faults.length > 0) {
    sections.push(heading("Faults"), table(["at (s)", "endpoint", "shard", "kind", "detail"], report.faults.map((f) => [fmt(f.atMs / 1000), f.endpoint, String(f.shard), f.kind, f.detail])));
  }
  if (cpu.length > 0) {
    sections.push(table(["process", "pid", "mean CPU %", "max CPU %"], cpu.map((c) => [`${c.label}${c.exited ? " (exited)" : ""}`, String(c.pid), fmt(c.meanPercent), fmt(c.maxPercent)])));
  }
  return sections;
}

/** A Markdown table cell: a "|" would end the cell, a line break the row. */
function markdownCell(cell: string): string {
  return cell.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

export function renderMarkdown(report: LoadReport): string {
  const lines = [`# IOSChain load report`];
  for (const section of summarySections(report)) {
    lines.push(``);
    if (section.kind === "heading") lines.push(`## ${section.text}`);
    else if (section.kind === "text") lines.push(section.text);
    else {
      const row = (cells: readonly string[]) => `| ${cells.map(markdownCell).join(" | ")} |`;
      lines.push(row(section.head), `|${section.head.map(() => "---|").join("")}`, ...section.rows.map(row));
    }
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

function sectionHtml(section: Section): string {
  if (section.kind === "heading") return `<h2>${escapeHtml(section.text)}</h2>`;
  if (section.kind === "text") return `<p>${escapeHtml(section.text)}</p>`;
  const cells = (tag: "th" | "td", row: readonly string[]) => `<tr>${row.map((cell) => `<${tag}>${escapeHtml(cell)}</${tag}>`).join("")}</tr>`;
  return `<table>\n<thead>${cells("th", section.head)}</thead>\n<tbody>\n${section.rows.map((row) => cells("td", row)).join("\n")}\n</tbody>\n</table>`;
}

/** JSON safe inside a <script> element: no "</script" or "<!--" can appear. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * Draws the charts from the embedded data; runs in the browser. Faults (when the report has them)
 * are vertical lines on the throughput chart, drawn by a uPlot draw hook; the knee chart (when the
 * search ran) plots each step's final TPS and p99 against its offered rate, steps sorted by rate.
 */
const CHART_SCRIPT = `
const report = JSON.parse(document.getElementById("report-data").textContent);
const m = report.metrics;
const width = Math.min(960, document.body.clientWidth - 32);
const seconds = m.series.final.map((_, k) => (k * m.series.bucketMs) / 1000);
const perSecond = (series) => series.map((n) => (n * 1000) / m.series.bucketMs);
const faults = Array.isArray(report.faults) ? report.faults : [];
const faultMarkers = {
  hooks: {
    draw: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#d60";
      ctx.fillStyle = "#d60";
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.font = "12px sans-serif";
      for (const fault of faults) {
        const x = u.valToPos(fault.atMs / 1000, "x", true);
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.fillText(String(fault.kind) + " " + String(fault.shard ?? ""), x + 3, u.bbox.top + 12);
      }
      ctx.restore();
    }],
  },
};
new uPlot({
  title: "Throughput over time (tx/s per 1 s bucket)" + (faults.length > 0 ? "; dashed: faults" : ""), width, height: 320,
  scales: { x: { time: false } },
  axes: [{ label: "seconds since start" }, { label: "tx/s" }],
  series: [{}, { label: "submitted", stroke: "#888" }, { label: "optimistic", stroke: "#2a7" }, { label: "final", stroke: "#15c" }, { label: "rejected", stroke: "#c33" }],
  plugins: [faultMarkers],
}, [seconds, perSecond(m.series.submitted), perSecond(m.series.optimistic), perSecond(m.series.final), perSecond(m.series.rejected)], document.getElementById("throughput"));
const table = (points) => [points.map((p) => p[0]), points.map((p) => p[1])];
const cdfs = [m.cdf.optimistic, m.cdf.final].map((points) => points.length > 0 ? table(points) : [[0], [null]]);
new uPlot({
  title: "Latency CDF", width, height: 320,
  scales: { x: { time: false } },
  axes: [{ label: "latency (ms)" }, { label: "fraction of transactions" }],
  series: [{}, { label: "optimistic", stroke: "#2a7", spanGaps: true }, { label: "final", stroke: "#15c", spanGaps: true }],
}, uPlot.join(cdfs), document.getElementById("cdf"));
if (report.knee && report.knee.steps.length > 0) {
  const steps = [...report.knee.steps].sort((a, b) => a.offeredTps - b.offeredTps);
  new uPlot({
    title: "Knee search: final TPS and p99 per offered rate (cap " + report.knee.latencyCapMs + " ms)", width, height: 320,
    scales: { x: { time: false }, ms: {} },
    axes: [{ label: "offered tx/s" }, { label: "tx/s" }, { scale: "ms", side: 1, label: "p99 ms", grid: { show: false } }],
    series: [{}, { label: "offered", stroke: "#888", dash: [4, 4] }, { label: "final tx/s", stroke: "#15c", points: { size: 8 } }, { label: "p99 ms", scale: "ms", stroke: "#c33", points: { size: 8 } }, { label: "cap ms", scale: "ms", stroke: "#d60", dash: [2, 6] }],
  }, [steps.map((s) => s.offeredTps), steps.map((s) => s.offeredTps), steps.map((s) => s.finalTps), steps.map((s) => s.p99Ms), steps.map(() => report.knee.latencyCapMs)], document.getElementById("knee"));
}
`;

const PAGE_STYLE = "body{font-family:system-ui,sans-serif;margin:16px}table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}";

export function renderHtml(report: LoadReport): string {
  const sections = summarySections(report).map(sectionHtml).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>IOSChain load report — seed ${escapeHtml(report.run.seed)}</title>
<style>${asset("uplot/dist/uPlot.min.css")}</style>
<style>${PAGE_STYLE}</style>
</head>
<body>
<h1>IOSChain load report</h1>
<div id="throughput"></div>
<div id="cdf"></div>
${report.knee === undefined ? "" : `<div id="knee"></div>\n`}<h2>Summary</h2>
${sections}
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
