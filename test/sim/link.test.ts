import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import {
  PERFECT_LINK,
  mergeLinkConfig,
  sampleDelay,
  sampleLatency,
  type LatencyDistribution,
} from "../../src/sim/link.js";

const N = 20_000;

function samples(latency: LatencyDistribution, label: string): number[] {
  const rng = SeededRng.fromSeed(`latency/${label}`);
  return Array.from({ length: N }, () => sampleLatency(latency, rng));
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

describe("link latency distributions", () => {
  it("constant is constant", () => {
    assert.ok(samples({ kind: "constant", ms: 3.5 }, "c").every((v) => v === 3.5));
  });

  it("uniform stays in [min, max] with the right mean (bound: 6 standard errors)", () => {
    const values = samples({ kind: "uniform", minMs: 2, maxMs: 12 }, "u");
    assert.ok(values.every((v) => v >= 2 && v < 12));
    // sd of U(2,12) = 10/√12 ≈ 2.89; standard error of the mean over N ≈ 0.02.
    assert.ok(Math.abs(mean(values) - 7) < (6 * 10) / Math.sqrt(12 * N));
  });

  it("normal has its mean and standard deviation, and never goes below the floor", () => {
    const values = samples({ kind: "normal", meanMs: 50, stdDevMs: 5, floorMs: 0 }, "n");
    const m = mean(values);
    const sd = Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
    assert.ok(Math.abs(m - 50) < (6 * 5) / Math.sqrt(N));
    // The sample sd of a normal has standard error ≈ σ/√(2N) ≈ 0.025.
    assert.ok(Math.abs(sd - 5) < (6 * 5) / Math.sqrt(2 * N));
    const floored = samples({ kind: "normal", meanMs: 5, stdDevMs: 5, floorMs: 4 }, "nf");
    assert.ok(floored.every((v) => v >= 4));
    assert.ok(floored.some((v) => v === 4));
  });

  it("lognormal has its median, a right tail, and respects the floor", () => {
    const values = samples({ kind: "lognormal", medianMs: 20, sigma: 0.8, floorMs: 1 }, "l");
    const below = values.filter((v) => v < 20).length;
    // Count below the median ~ Binomial(N, 1/2): sd ≈ 70.7; bound 6 sd.
    assert.ok(Math.abs(below - N / 2) < 6 * Math.sqrt(N / 4));
    assert.ok(mean(values) > 20);
    assert.ok(values.every((v) => v >= 1));
  });

  it("explicit reordering adds at most maxExtraMs, to about `probability` of the messages", () => {
    const rng = SeededRng.fromSeed("reorder");
    const link = mergeLinkConfig(PERFECT_LINK, { reorder: { probability: 0.25, maxExtraMs: 8 } });
    const delays = Array.from({ length: N }, () => sampleDelay(link, rng));
    assert.ok(delays.every((d) => d >= 1 && d <= 9));
    const held = delays.filter((d) => d > 1).length;
    assert.ok(Math.abs(held - N * 0.25) < 6 * Math.sqrt(N * 0.25 * 0.75));
  });

  it("merging validates the whole configuration", () => {
    assert.deepEqual(mergeLinkConfig(PERFECT_LINK, { loss: 0.5 }), { ...PERFECT_LINK, loss: 0.5 });
    const bad: unknown[] = [
      { loss: 1.5 },
      { loss: Number.NaN },
      { duplication: -1 },
      { latency: { kind: "constant", ms: -1 } },
      { latency: { kind: "uniform", minMs: 5, maxMs: 4 } },
      { latency: { kind: "normal", meanMs: 5, stdDevMs: Number.POSITIVE_INFINITY, floorMs: 0 } },
      { latency: { kind: "lognormal", medianMs: 5, sigma: -1, floorMs: 0 } },
      { latency: { kind: "pareto" } },
      { reorder: { probability: 2, maxExtraMs: 1 } },
    ];
    for (const change of bad) {
      assert.throws(() => mergeLinkConfig(PERFECT_LINK, change as never), hasCode("SIM_BAD_CONFIG"), JSON.stringify(change));
    }
  });
});
