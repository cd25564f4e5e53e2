// The final latency split by stage (LoadMetrics.stages): each stage from the events that bound it,
// worked out by hand below, over the run and per shard; a stage without both events (or with an
// ack that came after the transaction's first confirmation) stays empty.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoadMetrics } from "../../src/load/metrics.js";

/** hdr-histogram with 3 significant digits: values are exact to within 0.1 %. */
function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.001 + 1e-9, `${what}: ${actual} is not within 0.1 % of ${expected}`);
}

describe("final latency by stage", () => {
  it("splits each final transaction at its accepted and optimistic events, per shard and over the run", () => {
    const metrics = new LoadMetrics(2, 0, 1000);
    // Shard 0, PoB: due at 0, accepted at 10, optimistic at 110, final at 610 (10 / 100 / 500 ms), 4 times.
    for (let i = 0; i < 4; i++) metrics.stages(0, 0, 10, 110, 610);
    // Shard 1, solo: due at 100, accepted at 130, final at 330, no optimistic confirmation (30 / 200 ms).
    for (let i = 0; i < 2; i++) metrics.stages(1, 100, 130, undefined, 330);
    // Shard 1: accepted by a resend's "duplicate" (no accepted ack): only its later stages count.
    metrics.stages(1, 0, undefined, 50, 90);
    metrics.stages(1, 0, undefined, undefined, 90);
    // Shard 1: acks overtaken by the first confirmation (the frame's ack came late): no accepted stage.
    metrics.stages(1, 0, 60, 50, 90);
    metrics.stages(1, 0, 95, undefined, 90);
    const s = metrics.summary();
    assert.equal(s.stages.submitToAccepted.count, 6);
    near(s.stages.submitToAccepted.meanMs, (4 * 10 + 2 * 30) / 6, "submit → accepted mean");
    assert.equal(s.stages.acceptedToOptimistic.count, 4);
    near(s.stages.acceptedToOptimistic.p99Ms, 100, "accepted → optimistic");
    assert.equal(s.stages.optimisticToFinal.count, 6);
    near(s.stages.optimisticToFinal.maxMs, 500, "optimistic → final max");
    near(s.stages.optimisticToFinal.p50Ms, 500, "optimistic → final p50");
    assert.equal(s.stages.acceptedToFinal.count, 2);
    near(s.stages.acceptedToFinal.p50Ms, 200, "accepted → final");
    const [zero, one] = s.shards;
    near(zero!.stages.submitToAccepted.p50Ms, 10, "shard 0 submit → accepted");
    near(zero!.stages.optimisticToFinal.p50Ms, 500, "shard 0 optimistic → final");
    assert.equal(zero!.stages.acceptedToFinal.count, 0, "shard 0 had an optimistic confirmation for each");
    near(one!.stages.submitToAccepted.p50Ms, 30, "shard 1 submit → accepted");
    assert.equal(one!.stages.acceptedToOptimistic.count, 0);
    assert.equal(one!.stages.optimisticToFinal.count, 2);
    near(one!.stages.optimisticToFinal.p50Ms, 40, "shard 1 optimistic → final");
    assert.equal(one!.stages.acceptedToFinal.count, 2);
  });

  it("records nothing until a transaction is final, and refuses a shard beyond the count", () => {
    const metrics = new LoadMetrics(1, 0, 1000);
    for (const stage of Object.values(metrics.summary().stages)) assert.equal(stage.count, 0);
    assert.throws(() => metrics.stages(1, 0, 1, 2, 3), { code: "LOAD_BAD_OPTION" });
  });
});
