/** Statistics and results files the benchmarks share (a helper module: run-bench.mjs runs only *.bench.js). */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Writes `fields` into the JSON results file `file`, keeping its other keys (several benchmarks share bootstrap.json). */
export function mergeResults(file: string, fields: Record<string, unknown>): void {
  const kept: Record<string, unknown> = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...kept, ...fields }, null, 2)}\n`);
}
