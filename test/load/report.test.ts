// Report files: JSON that parses and whose counts add up, a Markdown summary, and an HTML page that
// is self-contained (uPlot and the data inlined, nothing fetched) with scripts that parse, its
// summary as escaped HTML tables; the final latency by stage and by shard; faults marked on the
// throughput chart when the report has them (and a page that works without); the knee search's
// steps. Progress lines on a terminal and on a plain stream.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Script } from "node:vm";
import { after, before, describe, it } from "node:test";
import { CpuSampler, LoadMetrics } from "../../src/load/metrics.js";
import { ProgressDisplay, formatProgress, type ProgressSnapshot } from "../../src/load/progress.js";
import type { KneeReport } from "../../src/load/knee.js";
import { REPORT_SCHEMA, buildReport, renderHtml, renderMarkdown, stageLines, writeReport, type LoadFault, type LoadReport, type ReportFiles, type RunInfo } from "../../src/load/report.js";

function runMetrics(): LoadMetrics {
  const metrics = new LoadMetrics(2, 0, 500);
  metrics.submitted(0, 0, 60);
  metrics.submitted(1, 10, 40);
  for (let i = 0; i < 58; i++) {
    metrics.accepted(0);
    metrics.optimistic(0, 0, 100 + 20 * i);
    metrics.final(0, 0, 300 + 20 * i, 100 + 20 * i);
    // Accepted 5 ms after its due time, optimistic 95 + 20 i ms later, final 200 ms after that.
    metrics.stages(0, 0, 5, 100 + 20 * i, 300 + 20 * i);
  }
  metrics.rejected(0, "TX_TRUNCATED", 5, false);
  metrics.rejected(0, "TX_TRUNCATED", 5, false);
  for (let i = 0; i < 40; i++) metrics.accepted(1);
  metrics.rejected(1, "MISSING_INPUT", 900, true);
  for (let i = 0; i < 35; i++) {
    metrics.final(1, 10, 1500 + 10 * i);
    // Solo: accepted 40 ms after its due time, no optimistic confirmation.
    metrics.stages(1, 10, 50, undefined, 1500 + 10 * i);
  }
  // Three sends after the first: not submissions of their own.
  metrics.resent(1, "ENDPOINT_LEFT_SHARD");
  metrics.resent(1, "ENDPOINT_LEFT_SHARD");
  metrics.resent(0, "TX_WRONG_SHARD");
  return metrics;
}

const RUN: RunInfo = {
  seed: "report <test>", mode: "open-loop", targetRate: 100, window: null, plannedDurationMs: 2000, transactions: 100, shardCount: 2,
  genesisHash: "00".repeat(32), endpoints: ["ws://127.0.0.1:1/v1/stream", "ws://127.0.0.1:2/v1/stream"], startedAt: new Date(0).toISOString(),
  consensus: ["pob/two-league", "solo"], routing: ["pob-assignee", "owner-byte"],
  epochs: { first: 2, last: 3, switches: [{ atMs: 700, endpoint: "ws://127.0.0.1:1/v1/stream", fromEpoch: 2, toEpoch: 3, fromShard: 0, toShard: 1 }], routeRebuilds: 1 },
};

/** Faults as the driver reports them; the second's endpoint carries markup that must stay text. */
const FAULTS: LoadFault[] = [
  { atMs: 800, endpoint: "ws://127.0.0.1:1/v1/stream", shard: 0, kind: "disconnected", detail: "close 1006" },
  { atMs: 1500, endpoint: "ws://<b>evil</b>/v1/stream", shard: 1, kind: "reconnected", detail: "epoch 0" },
];

interface RecordedChart {
  options: { title: string; series: unknown[]; plugins?: { hooks: { draw: ((u: unknown) => void)[] } }[] };
  data: (number | null)[][];
}

/** Runs the page's chart script against a recording uPlot (uPlot's constructor needs a DOM and a canvas; its `join` does not). */
function chartsOf(html: string): RecordedChart[] {
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  const data = scripts.find(([, attributes]) => attributes!.includes('id="report-data"'))![2]!;
  const chartScript = scripts.at(-1)![2]!;
  const uPlot = createRequire(import.meta.url)("uplot") as { join: (tables: unknown[]) => unknown };
  const charts: RecordedChart[] = [];
  function RecordingUPlot(options: RecordedChart["options"], chartData: (number | null)[][]): void {
    charts.push({ options, data: chartData });
  }
  RecordingUPlot.join = uPlot.join;
  const document = { body: { clientWidth: 1200 }, getElementById: (id: string) => (id === "report-data" ? { textContent: data } : { id }) };
  new Script(chartScript).runInNewContext({ uPlot: RecordingUPlot, document, JSON, Math, Array, String });
  for (const chart of charts) {
    assert.equal(chart.data.length, chart.options.series.length, "one data array per series, x first");
    assert.ok(chart.data.every((column) => column.length === chart.data[0]!.length), "columns are aligned");
  }
  return charts;
}

/** The x positions of the vertical lines the throughput chart's draw hooks stroke (1 s = 100 px). */
function faultLinesDrawn(chart: RecordedChart): number[] {
  const xs: number[] = [];
  const ctx = { save() {}, restore() {}, beginPath() {}, stroke() {}, setLineDash() {}, fillText() {}, lineTo() {}, moveTo: (x: number) => xs.push(x) };
  const u = { ctx, bbox: { top: 10, height: 200 }, valToPos: (seconds: number) => seconds * 100 };
  for (const plugin of chart.options.plugins ?? []) for (const draw of plugin.hooks.draw) draw(u);
  return xs;
}

describe("report", () => {
  let dir: string;
  let files: ReportFiles;
  let report: LoadReport;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ios-report-"));
    const cpu = new CpuSampler([{ pid: process.pid, label: "test process" }], 0);
    cpu.sample(1000);
    report = buildReport(RUN, runMetrics().summary(), cpu.summary(), { faults: FAULTS });
    files = await writeReport(report, join(dir, "out"), "run");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes JSON that parses, carries the schema and whose counts add up", async () => {
    const parsed = JSON.parse(await readFile(files.json, "utf8")) as LoadReport;
    assert.equal(parsed.schema, REPORT_SCHEMA);
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(report)));
    const t = parsed.metrics.totals;
    assert.equal(t.submitted, 100);
    assert.equal(t.submitted, t.accepted + t.rejectedAtSubmission + t.unacknowledged);
    assert.equal(t.accepted, t.final + t.rejectedAfterAcceptance + t.pending);
    assert.equal(t.rejected, Object.values(parsed.metrics.rejectedByCode).reduce((a, b) => a + b, 0));
    assert.equal(t.submitted, t.final + t.rejected + t.unsettled);
    assert.equal(t.unsettled, 4);
    assert.equal(t.resent, 3);
    assert.deepEqual(parsed.metrics.resentByCause, { ENDPOINT_LEFT_SHARD: 2, TX_WRONG_SHARD: 1 });
    assert.deepEqual(parsed.metrics.shards.map((s) => s.resent), [1, 2]);
    assert.equal(parsed.run.epochs.switches[0]!.toShard, 1);
    assert.equal(t.final, 93);
    for (const key of ["submitted", "accepted", "rejected", "optimistic", "final"] as const) {
      assert.equal(parsed.metrics.shards.reduce((sum, s) => sum + s[key], 0), t[key], `per-shard ${key} sums to the total`);
    }
    assert.equal(parsed.metrics.series.submitted.reduce((a, b) => a + b, 0), t.submitted);
    assert.equal(parsed.metrics.series.final.reduce((a, b) => a + b, 0), t.final);
    assert.equal(parsed.cpu[0]!.pid, process.pid);
  });

  it("writes a Markdown summary with the totals, throughput, latency, shard and rejection tables", async () => {
    const markdown = await readFile(files.markdown, "utf8");
    assert.match(markdown, /^# IOSChain load report/);
    assert.match(markdown, /\| 100 \| 98 \| 3 \| 58 \| 93 \| 4 \| 0 \| 4 \| 3 \|/);
    assert.match(markdown, /Epochs 2\.\.3: 1 endpoint switch\(es\) seen, routes rebuilt 1 time\(s\)\./);
    assert.match(markdown, /\| ENDPOINT_LEFT_SHARD \| 2 \|/);
    assert.match(markdown, /\| end-to-end \(final\) \| /);
    assert.match(markdown, /\| optimistic \| \d+(\.\d+)? \|\n/, "optimistic TPS is present");
    assert.match(markdown, /\| consensus \| \d+(\.\d+)? \|\n/, "consensus TPS is present");
    assert.match(markdown, /\| optimistic \| 58 \| \d+(\.\d+)? \| \d+(\.\d+)? \| \d+(\.\d+)? \| 1240 \|/, "optimistic latency p50/p90/p99/max");
    assert.match(markdown, /\| consensus \| 58 \| 200 \| 200 \| 200 \| 200 \|/, "consensus latency: 200 ms for every transaction");
    assert.match(markdown, /\| TX_TRUNCATED \| 2 \|/);
    assert.match(markdown, /\| 0 \| 60 \| 58 \| 2 \| 58 \| 58 \|/);
    assert.match(markdown, /\| 1 \| 40 \| 40 \| 1 \| 0 \| 35 \|/);
    assert.match(markdown, /Consensus per shard: 0: pob\/two-league \(sent to believable assignees\), 1: solo\./);
    assert.match(markdown, /\| test process \| \d+ \|/);
  });

  it("writes a self-contained HTML page: nothing external, uPlot inlined, data embedded, scripts that parse", async () => {
    const html = await readFile(files.html, "utf8");
    assert.doesNotMatch(html, /<(script|link|img|iframe|object|embed)\b[^>]*\s(src|href)\s*=/i, "no element loads a resource");
    assert.doesNotMatch(html, /<link\b/i);
    assert.doesNotMatch(html, /@import|url\(\s*['"]?(https?:)?\/\//i, "the styles fetch nothing");
    assert.match(html, /\.uplot/, "uPlot's stylesheet is inlined");
    assert.doesNotMatch(html, /report <test>/, "the seed is escaped in the markup");
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 3);
    const data = scripts.find(([, attributes]) => attributes!.includes('id="report-data"'))!;
    assert.deepEqual(JSON.parse(data[2]!), JSON.parse(JSON.stringify(report)), "the embedded data is the report");
    const code = scripts.filter(([, attributes]) => !attributes!.includes("application/json"));
    assert.match(code[0]![2]!, /uPlot/);
    for (const [, , body] of code) assert.doesNotThrow(() => new Script(body!), "inline script parses");
    assert.match(code[1]![2]!, /new uPlot\(/);
  });

  it("feeds uPlot aligned data: the page's chart script run against uPlot.join with a recording constructor", async () => {
    const charts = chartsOf(await readFile(files.html, "utf8"));
    assert.equal(charts.length, 2, "throughput and CDF, no knee chart without a knee search");
    const [throughput, cdf] = charts;
    const finalPerSecond = throughput!.data[3]!.reduce<number>((a, b) => a + (b ?? 0), 0);
    assert.equal(finalPerSecond, report.metrics.totals.final, "1 s buckets: the final series sums to the finals");
    assert.deepEqual(cdf!.data[0], [...new Set([...report.metrics.cdf.optimistic, ...report.metrics.cdf.final].map(([ms]) => ms))].sort((a, b) => a - b));
    assert.equal(cdf!.data[2]!.filter((y) => y !== null).at(-1), 1, "the final CDF reaches 1");
  });

  it("renders the summary as HTML tables with escaped values, not Markdown in a <pre>", async () => {
    const html = await readFile(files.html, "utf8");
    assert.doesNotMatch(html, /<pre\b/);
    assert.doesNotMatch(html, /\|---/, "no Markdown table rule");
    const body = html.slice(0, html.indexOf("<script"));
    assert.match(body, /<table>\n<thead><tr><th>submitted<\/th><th>accepted<\/th>/);
    assert.match(body, /<tr><td>100<\/td><td>98<\/td><td>3<\/td><td>58<\/td><td>93<\/td><td>4<\/td><td>0<\/td><td>4<\/td><td>3<\/td><\/tr>/);
    assert.match(body, /<tr><td>submit → accepted<\/td><td>93<\/td><td>[\d.]+<\/td>/, "stage rows are table rows");
    assert.match(body, /seed &#34;report &#60;test&#62;&#34;/, "the seed is escaped in the text");
    assert.doesNotMatch(body, /<b>evil<\/b>/, "a fault's endpoint stays text");
    assert.match(body, /<td>ws:\/\/&#60;b&#62;evil&#60;\/b&#62;\/v1\/stream<\/td>/);
    // Every table is well formed: as many opening as closing cells, a header per table.
    assert.equal((body.match(/<td>/g) ?? []).length, (body.match(/<\/td>/g) ?? []).length);
    assert.equal((body.match(/<table>/g) ?? []).length, (body.match(/<thead>/g) ?? []).length);
  });

  it("splits final latency by stage and by shard, in Markdown and on the console", async () => {
    const markdown = await readFile(files.markdown, "utf8");
    assert.match(markdown, /## Final latency by stage/);
    assert.match(markdown, /not observable from the client/, "the ordering stage is said to be unobservable");
    assert.match(markdown, /\| submit → accepted \| 93 \| 5(\.\d+)? \| \d+(\.\d+)? \| 40 \| 40 \| [\d.]+ \|/, "58 at 5 ms and 35 at 40 ms");
    assert.match(markdown, /\| accepted → optimistic \| 58 \| /);
    assert.match(markdown, /\| optimistic → ordered → final \| 58 \| 200 \| 200 \| 200 \| 200 \| 200 \|/);
    assert.match(markdown, /\| accepted → final \(no optimistic confirmation\) \| 35 \| /);
    assert.match(markdown, /\| shard \| submit → accepted p50 \/ p99 ms \| accepted → optimistic p50 \/ p99 ms \| optimistic → ordered → final p50 \/ p99 ms \| accepted → final \(no optimistic confirmation\) p50 \/ p99 ms \|/);
    assert.match(markdown, /\| 0 \| 5 \/ 5 \| [\d.]+ \/ [\d.]+ \| 200 \/ 200 \| n\/a \|/);
    assert.match(markdown, /\| 1 \| 40 \/ 40 \| n\/a \| n\/a \| [\d.]+ \/ [\d.]+ \|/);
    const lines = stageLines(report.metrics);
    assert.equal(lines.length, 3, "the run, then each shard");
    assert.match(lines[0]!, /^final latency by stage, p50 \/ p99 ms: submit → accepted 5(\.\d+)? \/ 40; accepted → optimistic [\d.]+ \/ [\d.]+; optimistic → ordered → final 200 \/ 200; accepted → final \(no optimistic confirmation\) [\d.]+ \/ [\d.]+$/);
    assert.match(lines[2]!, /^ {2}shard 1: final [\d.]+ \/ [\d.]+; submit → accepted 40 \/ 40; accepted → optimistic n\/a; /);
  });

  it("lists the faults and marks each on the throughput chart at its time", async () => {
    const markdown = await readFile(files.markdown, "utf8");
    assert.match(markdown, /## Faults\n\n\| at \(s\) \| endpoint \| shard \| kind \| detail \|\n\|---\|---\|---\|---\|---\|\n\| 0\.800 \| ws:\/\/127\.0\.0\.1:1\/v1\/stream \| 0 \| disconnected \| close 1006 \|\n\| 1\.500 \| ws:\/\/<b>evil<\/b>\/v1\/stream \| 1 \| reconnected \| epoch 0 \|/);
    const [throughput] = chartsOf(await readFile(files.html, "utf8"));
    assert.deepEqual(faultLinesDrawn(throughput!), [80, 150], "one line per fault at atMs / 1000 s");
  });

  it("works without faults (the field absent): no fault table, no marker, the same charts", () => {
    const plain = buildReport(RUN, runMetrics().summary(), []);
    assert.equal("faults" in plain, false);
    assert.doesNotMatch(renderMarkdown(plain), /Faults/);
    const charts = chartsOf(renderHtml(plain));
    assert.equal(charts.length, 2);
    assert.deepEqual(faultLinesDrawn(charts[0]!), []);
    // A report written before faults existed (schema /3) parses into a page all the same.
    const older = JSON.parse(JSON.stringify(plain)) as Record<string, unknown>;
    delete older.faults;
    assert.equal(chartsOf(renderHtml(older as unknown as LoadReport)).length, 2);
  });

  it("shows the knee search: a table of every step, the result, and a chart of the steps by offered rate", () => {
    const knee: KneeReport = {
      latencyCapMs: 500, followFraction: 0.9, stepMs: 5000, sustainedTps: 150, overTps: 200, end: "bracketed",
      steps: [
        { phase: "ramp", offeredTps: 100, finalTps: 99.5, p50Ms: 40, p99Ms: 120, submitted: 500, final: 500, unsettled: 0, over: [] },
        { phase: "ramp", offeredTps: 200, finalTps: 140, p50Ms: 700, p99Ms: 1900, submitted: 1000, final: 990, unsettled: 10, over: ["latency", "unsettled", "throughput"] },
        { phase: "bisect", offeredTps: 150, finalTps: 149, p50Ms: 60, p99Ms: 410, submitted: 750, final: 750, unsettled: 0, over: [] },
      ],
    };
    const withKnee = buildReport({ ...RUN, targetRate: 150 }, runMetrics().summary(), [], { knee });
    const markdown = renderMarkdown(withKnee);
    assert.match(markdown, /## Knee search\n\np99 final latency cap 500 ms, final TPS must follow ≥ 0\.900 × offered, steps of 5 s: 150 tx\/s sustained, 200 tx\/s over \(bracketed\)\./);
    assert.match(markdown, /\| 2 \| ramp \| 200 \| 140 \| 700 \| 1900 \| 1000 \| 990 \| 10 \| over: latency, unsettled, throughput \|/);
    assert.match(markdown, /\| 3 \| bisect \| 150 \| 149 \| 60 \| 410 \| 750 \| 750 \| 0 \| within \|/);
    assert.match(markdown, /## The step at 150 tx\/s/);
    const html = renderHtml(withKnee);
    assert.match(html, /<div id="knee"><\/div>/);
    const charts = chartsOf(html);
    assert.equal(charts.length, 3);
    const kneeChart = charts[2]!;
    assert.deepEqual([...kneeChart.data[0]!], [100, 150, 200], "steps sorted by offered rate");
    assert.deepEqual([...kneeChart.data[2]!], [99.5, 149, 140]);
    assert.deepEqual([...kneeChart.data[3]!], [120, 410, 1900]);
    assert.deepEqual([...kneeChart.data[4]!], [500, 500, 500], "the cap as a line");
  });
});

describe("progress display", () => {
  const snapshot: ProgressSnapshot = { elapsedMs: 1500, submitted: 10, accepted: 9, rejected: 1, optimistic: 0, final: 7, finalPerSecond: 5, inFlight: 2 };

  function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
    const stream = Object.assign(new PassThrough(), { isTTY });
    const chunks: string[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
    return { stream, text: () => chunks.join("") };
  }

  it("formats one line with the counters", () => {
    assert.equal(formatProgress(snapshot), "[1.5s] submitted 10 accepted 9 rejected 1 final 7 (5 tx/s) in flight 2");
    assert.equal(formatProgress({ ...snapshot, optimistic: 8 }), "[1.5s] submitted 10 accepted 9 rejected 1 optimistic 8 final 7 (5 tx/s) in flight 2");
  });

  it("prints plain lines when the stream is not a terminal", async () => {
    const { stream, text } = capture(false);
    const display = new ProgressDisplay(stream, 1000);
    display.start(() => snapshot);
    display.render();
    display.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(text(), `${formatProgress(snapshot)}\n${formatProgress(snapshot)}\n`);
  });

  it("rewrites one line in place on a terminal and ends on a new line", async () => {
    const { stream, text } = capture(true);
    const display = new ProgressDisplay(stream, 1000);
    display.start(() => snapshot);
    display.render();
    display.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(text(), `\r\x1b[2K${formatProgress(snapshot)}\r\x1b[2K${formatProgress(snapshot)}\n`);
    assert.throws(() => new ProgressDisplay(stream, 0), { code: "LOAD_BAD_OPTION" });
  });
});
