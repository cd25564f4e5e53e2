// Metrics math on synthetic inputs whose results are worked out by hand below, and CPU sampling
// of real processes through /proc.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { CpuSampler, LoadMetrics, parseProcStat, clockTicksPerSecond } from "../../src/load/metrics.js";

/** hdr-histogram with 3 significant digits: values are exact to within 0.1 %. */
function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 1e-9, `${what}: ${actual} is not within 0.1 % of ${expected}`);
}

/**
 * Start 1000 ms. Shard 0: 100 txs submitted at 1000; tx i (1..100) is optimistic at 1000 + i/2 and
 * final at 1000 + i (final latency i ms, consensus latency i/2 ms), all in bucket 0. Shard 1: 10 txs
 * submitted at 2500 (bucket 1); 2 rejected in the ack (BAD_SIGNATURE), 8 accepted; of those, 1
 * rejected at 3000 (MISSING_INPUT, bucket 2), 5 final at 3500 (latency 1000 ms, bucket 3), 2 pending.
 */
function feed(metrics: LoadMetrics): void {
  metrics.submitted(0, 1000, 100);
  for (let i = 1; i <= 100; i++) {
    metrics.accepted(0);
    metrics.optimistic(0, 1000, 1000 + i / 2);
    metrics.final(0, 1000, 1000 + i, 1000 + i / 2);
  }
  metrics.submitted(1, 2500, 10);
  metrics.rejected(1, "BAD_SIGNATURE", 2500, false);
  metrics.rejected(1, "BAD_SIGNATURE", 2500, false);
  for (let k = 0; k < 8; k++) metrics.accepted(1);
  metrics.rejected(1, "MISSING_INPUT", 3000, true);
  for (let k = 0; k < 5; k++) metrics.final(1, 2500, 3500);
}

describe("LoadMetrics", () => {
  it("counts add up by stage, by code and by shard", () => {
    const metrics = new LoadMetrics(2, 1000, 99);
    feed(metrics);
    const s = metrics.summary();
    assert.deepEqual(s.totals, {
      submitted: 110, accepted: 108, rejected: 3, rejectedAtSubmission: 2, rejectedAfterAcceptance: 1,
      unacknowledged: 0, optimistic: 100, final: 105, pending: 2, unsettled: 2, resent: 0,
    });
    assert.deepEqual(s.resentByCause, {});
    assert.deepEqual(s.rejectedByCode, { BAD_SIGNATURE: 2, MISSING_INPUT: 1 });
    assert.equal(s.elapsedMs, 2500);
    assert.deepEqual(s.series, { bucketMs: 1000, submitted: [100, 10, 0], optimistic: [100, 0, 0], final: [100, 0, 5], rejected: [0, 2, 1] });
    assert.deepEqual(
      s.shards.map(({ shard, submitted, accepted, rejected, optimistic, final }) => ({ shard, submitted, accepted, rejected, optimistic, final })),
      [
        { shard: 0, submitted: 100, accepted: 100, rejected: 0, optimistic: 100, final: 100 },
        { shard: 1, submitted: 10, accepted: 8, rejected: 3, optimistic: 0, final: 5 },
      ],
    );
  });

  it("counts each final height once per shard, whichever validator announced it, and the transactions it carried", () => {
    const metrics = new LoadMetrics(2, 0, 1000);
    for (const announcer of [0, 1, 2]) {
      metrics.height(0, 7, 100);
      metrics.height(0, 8, 50 + announcer);
      if (announcer === 0) metrics.height(1, 7, 3);
    }
    assert.deepEqual(metrics.summary().shards.map(({ heights, txPerHeight }) => ({ heights, txPerHeight })), [{ heights: 2, txPerHeight: 75 }, { heights: 1, txPerHeight: 3 }]);
  });

  it("cross-shard transfers apart: their phases, their finals, the intra-shard rest", () => {
    const metrics = new LoadMetrics(2, 0, 1000);
    metrics.final(0, 0, 100);
    metrics.crossPhase("locked", 0, 300);
    metrics.crossPhase("proven", 0, 400);
    metrics.final(1, 0, 900, undefined, true);
    const { byKind, totals } = metrics.summary();
    assert.equal(totals.final, 2);
    assert.deepEqual([byKind.intra.final, byKind.cross.final], [1, 1]);
    assert.deepEqual([byKind.cross.phases.locked.p50Ms, byKind.cross.phases.proven.p50Ms, byKind.cross.phases.committed.p50Ms, byKind.intra.finalLatency.p50Ms], [300, 400, 900, 100]);
  });

  it("latency percentiles: nearest rank (⌈p·n⌉-th smallest) over the recorded values", () => {
    const s = new LoadMetrics(2, 1000, 99);
    feed(s);
    const { latency, shards } = s.summary();
    // Final: 1..100 ms and 5 × 1000 ms (n = 105): rank ⌈0.5·105⌉ = 53 → 53 ms; p90 rank ⌈94.5⌉ = 95 → 95 ms;
    // p99 rank ⌈103.95⌉ = 104 → 1000 ms; mean (5050 + 5000) / 105.
    assert.equal(latency.final.count, 105);
    near(latency.final.p50Ms, 53, "final p50");
    near(latency.final.p90Ms, 95, "final p90");
    near(latency.final.p99Ms, 1000, "final p99");
    near(latency.final.maxMs, 1000, "final max");
    near(latency.final.meanMs, 10050 / 105, "final mean");
    // Optimistic: 0.5..50 ms step 0.5 (n = 100): p50 = 25 ms, p90 = 45 ms, p99 = 49.5 ms, max 50 ms.
    near(latency.optimistic.p50Ms, 25, "optimistic p50");
    near(latency.optimistic.p90Ms, 45, "optimistic p90");
    near(latency.optimistic.p99Ms, 49.5, "optimistic p99");
    near(latency.optimistic.maxMs, 50, "optimistic max");
    // Consensus (final − optimistic) exists for shard 0's 100 txs: i/2 ms again.
    assert.equal(latency.consensus.count, 100);
    near(latency.consensus.p50Ms, 25, "consensus p50");
    // Shard 1 alone: 5 × 1000 ms.
    near(shards[1]!.finalLatency.p50Ms, 1000, "shard 1 p50");
    near(shards[0]!.finalLatency.maxMs, 100, "shard 0 max");
  });

  it("throughput figures follow their definitions", () => {
    const metrics = new LoadMetrics(2, 1000, 99);
    feed(metrics);
    const t = metrics.summary().throughput;
    // 105 finals between the first submission (1000) and the last final (3500): 2.5 s.
    assert.equal(t.endToEndTps, 42);
    // From the first optimistic confirmation (1000.5) to the last final: 2.4995 s.
    assert.notEqual(t.consensusTps, null);
    near(t.consensusTps!, (105 * 1000) / 2499.5, "consensus TPS");
    // 100 optimistic between 1000 and the last optimistic (1050).
    assert.equal(t.optimisticTps, 2000);
    // Cap 99 ms: 99 finals within it (latencies 1..99) over 2.5 s; bucket 0 has 100 finals of which 99 ≥ ⌈0.99·100⌉.
    assert.equal(t.latencyCapMs, 99);
    assert.equal(t.withinCapTps, 39.6);
    assert.equal(t.peakBucketTpsUnderCap, 100);
    const tighter = new LoadMetrics(2, 1000, 98);
    feed(tighter);
    // Cap 98 ms: bucket 0 has only 98 of 100 within, under ⌈99⌉, and bucket 3's 5 finals took 1000 ms.
    assert.equal(tighter.summary().throughput.withinCapTps, 39.2);
    assert.equal(tighter.summary().throughput.peakBucketTpsUnderCap, 0);
  });

  it("latency CDF rises monotonically from the smallest to the largest value", () => {
    const metrics = new LoadMetrics(2, 1000, 99);
    feed(metrics);
    const cdf = metrics.summary().cdf.final;
    assert.ok(cdf.length > 50);
    // The 1st percentile of the 105 final latencies is the ⌈1.05⌉ = 2nd smallest: 2 ms.
    near(cdf[0]![0], 2, "first CDF point");
    assert.deepEqual(cdf.at(-1), [metrics.summary().latency.final.maxMs, 1]);
    for (let k = 1; k < cdf.length; k++) {
      assert.ok(cdf[k]![0] >= cdf[k - 1]![0] && cdf[k]![1] > cdf[k - 1]![1]);
    }
  });

  it("reports zero rates and empty figures before any event, null consensus TPS without optimistic events", () => {
    const empty = new LoadMetrics(1, 0, 100).summary();
    assert.equal(empty.throughput.endToEndTps, 0);
    assert.equal(empty.throughput.consensusTps, null);
    assert.equal(empty.latency.final.count, 0);
    assert.deepEqual(empty.cdf.final, []);
  });

  it("rejects bad options and unknown shards with codes", () => {
    assert.throws(() => new LoadMetrics(0, 0, 100), { code: "LOAD_BAD_OPTION" });
    assert.throws(() => new LoadMetrics(1, 0, 0), { code: "LOAD_BAD_OPTION" });
    assert.throws(() => new LoadMetrics(2, 0, 100).submitted(2, 0), { code: "LOAD_BAD_OPTION" });
  });
});

describe("CPU sampling", () => {
  it("parses /proc stat lines whose command holds spaces and parentheses", () => {
    const line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 567 0 0 20 0 3 0 100 1000000 300 18446744073709551615";
    assert.deepEqual(parseProcStat(line), { utimeTicks: 1234, stimeTicks: 567 });
    assert.throws(() => parseProcStat("garbage"), { code: "LOAD_CPU_UNAVAILABLE" });
    assert.ok(clockTicksPerSecond() > 0);
  });

  it("measures the busy time of a real process and notices when one exits", async () => {
    const child = spawn(process.execPath, ["-e", "const end = Date.now() + 400; while (Date.now() < end);"], { stdio: "ignore" });
    const start = performance.now();
    const sampler = new CpuSampler([{ pid: process.pid, label: "this test" }, { pid: child.pid!, label: "busy child" }], start);
    const busyUntil = Date.now() + 200;
    while (Date.now() < busyUntil);
    sampler.sample(performance.now());
    await once(child, "exit");
    sampler.sample(performance.now());
    const [self, busy] = sampler.summary();
    assert.equal(self!.label, "this test");
    assert.equal(self!.samples.length, 2);
    assert.ok(self!.meanPercent > 0 && self!.maxPercent >= self!.samples[0]![1]);
    assert.equal(busy!.exited, true);
    assert.equal(busy!.samples.length, 1);
    assert.ok(busy!.samples[0]![1] > 0, "the busy child used CPU in the first interval");
  });

  it("refuses a process that does not exist", () => {
    assert.throws(() => new CpuSampler([{ pid: 0x7fffffff, label: "nobody" }], 0), { code: "LOAD_CPU_UNAVAILABLE" });
    assert.throws(() => new CpuSampler([{ pid: -1, label: "bad" }], 0), { code: "LOAD_BAD_OPTION" });
  });
});
