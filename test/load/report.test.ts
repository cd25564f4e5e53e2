// Report files: JSON that parses and whose counts add up, a Markdown summary, and an HTML page that
// is self-contained (uPlot and the data inlined, nothing fetched) with scripts that parse. Progress
// lines on a terminal and on a plain stream.
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
import { REPORT_SCHEMA, buildReport, writeReport, type LoadReport, type ReportFiles } from "../../src/load/report.js";

function runMetrics(): LoadMetrics {
  const metrics = new LoadMetrics(2, 0, 500);
  metrics.submitted(0, 0, 60);
  metrics.submitted(1, 10, 40);
  for (let i = 0; i < 58; i++) {
    metrics.accepted(0);
    metrics.optimistic(0, 0, 100 + 20 * i);
    metrics.final(0, 0, 300 + 20 * i, 100 + 20 * i);
  }
  metrics.rejected(0, "TX_TRUNCATED", 5, false);
  metrics.rejected(0, "TX_TRUNCATED", 5, false);
  for (let i = 0; i < 40; i++) metrics.accepted(1);
  metrics.rejected(1, "MISSING_INPUT", 900, true);
  for (let i = 0; i < 35; i++) metrics.final(1, 10, 1500 + 10 * i);
  // Three sends after the first: not submissions of their own.
  metrics.resent(1, "ENDPOINT_LEFT_SHARD");
  metrics.resent(1, "ENDPOINT_LEFT_SHARD");
  metrics.resent(0, "TX_WRONG_SHARD");
  return metrics;
}

describe("report", () => {
  let dir: string;
  let files: ReportFiles;
  let report: LoadReport;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ios-report-"));
    const cpu = new CpuSampler([{ pid: process.pid, label: "test process" }], 0);
    cpu.sample(1000);
    report = buildReport(
      {
        seed: "report <test>", mode: "open-loop", targetRate: 100, window: null, plannedDurationMs: 2000, transactions: 100, shardCount: 2,
        genesisHash: "00".repeat(32), endpoints: ["ws://127.0.0.1:1/v1/stream", "ws://127.0.0.1:2/v1/stream"], startedAt: new Date(0).toISOString(),
        consensus: ["pob/two-league", "solo"], routing: ["pob-assignee", "owner-byte"],
        epochs: { first: 2, last: 3, switches: [{ atMs: 700, endpoint: "ws://127.0.0.1:1/v1/stream", fromEpoch: 2, toEpoch: 3, fromShard: 0, toShard: 1 }], routeRebuilds: 1 },
      },
      runMetrics().summary(),
      cpu.summary(),
    );
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
    const html = await readFile(files.html, "utf8");
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    const data = scripts.find(([, attributes]) => attributes!.includes('id="report-data"'))![2]!;
    const chartScript = scripts.at(-1)![2]!;
    // uPlot's constructor needs a DOM and a canvas; its `join` (used to align the CDFs) does not.
    const uPlot = createRequire(import.meta.url)("uplot") as { join: (tables: unknown[]) => unknown };
    const charts: { options: { series: unknown[] }; data: (number | null)[][] }[] = [];
    function RecordingUPlot(options: { series: unknown[] }, chartData: (number | null)[][]): void {
      charts.push({ options, data: chartData });
    }
    RecordingUPlot.join = uPlot.join;
    const document = { body: { clientWidth: 1200 }, getElementById: (id: string) => (id === "report-data" ? { textContent: data } : { id }) };
    new Script(chartScript).runInNewContext({ uPlot: RecordingUPlot, document, JSON, Math });
    assert.equal(charts.length, 2);
    for (const chart of charts) {
      assert.equal(chart.data.length, chart.options.series.length, "one data array per series, x first");
      assert.ok(chart.data.every((column) => column.length === chart.data[0]!.length), "columns are aligned");
    }
    const [throughput, cdf] = charts;
    const finalPerSecond = throughput!.data[3]!.reduce<number>((a, b) => a + (b ?? 0), 0);
    assert.equal(finalPerSecond, report.metrics.totals.final, "1 s buckets: the final series sums to the finals");
    assert.deepEqual(cdf!.data[0], [...new Set([...report.metrics.cdf.optimistic, ...report.metrics.cdf.final].map(([ms]) => ms))].sort((a, b) => a - b));
    assert.equal(cdf!.data[2]!.filter((y) => y !== null).at(-1), 1, "the final CDF reaches 1");
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
