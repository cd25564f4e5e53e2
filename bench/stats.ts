/** Statistics and results files the benchmarks share (a helper module: run-bench.mjs runs only *.bench.js). */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The q-quantile (0 ≤ q ≤ 1) of `values` by nearest rank: the smallest value with at least q of them at or below it. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Steadiness of a run (issue 16: at saturation the 10th percentile of per-second final throughput
 * should be ≥ 0.8× its median): over the whole seconds [fromS, toS) of a 1-second series.
 */
export function steadiness(perSecond: readonly number[], fromS: number, toS: number): { readonly seconds: number; readonly p10: number; readonly median: number; readonly p10ToMedian: number | null } {
  const window = perSecond.slice(fromS, toS);
  if (window.length === 0) return { seconds: 0, p10: 0, median: 0, p10ToMedian: null };
  const mid = median(window);
  const p10 = quantile(window, 0.1);
  return { seconds: window.length, p10, median: mid, p10ToMedian: mid === 0 ? null : Math.round((p10 / mid) * 1000) / 1000 };
}

/** Writes `fields` into the JSON results file `file`, keeping its other keys (several benchmarks share bootstrap.json). */
export function mergeResults(file: string, fields: Record<string, unknown>): void {
  const kept: Record<string, unknown> = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...kept, ...fields }, null, 2)}\n`);
}
