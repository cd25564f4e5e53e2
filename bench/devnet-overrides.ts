/**
 * Devnet settings a bench run may override from the environment, so one build can run both sides
 * of an A/B; unset, the launcher's and the node's defaults apply:
 *   BENCH_V8_THREADS=on|off          V8 background threads in each validator
 *                                    (`v8BackgroundThreadsByDefault`: off when the validators are
 *                                    at least as many as the cores);
 *   BENCH_MIN_HEIGHT_INTERVAL_MS=N   PoB heights' spacing (`consensus.minHeightIntervalMs`; 0: back to back).
 */
import type { DevnetOptions } from "../src/devnet/launcher.js";

export function devnetOverridesFromEnv(): Pick<DevnetOptions, "v8BackgroundThreads" | "minHeightIntervalMs"> {
  const threads = process.env.BENCH_V8_THREADS;
  const spacing = process.env.BENCH_MIN_HEIGHT_INTERVAL_MS;
  if (threads !== undefined && threads !== "" && threads !== "on" && threads !== "off") throw new Error(`BENCH_V8_THREADS must be "on" or "off", got ${JSON.stringify(threads)}`);
  if (spacing !== undefined && spacing !== "" && !/^\d+$/.test(spacing)) throw new Error(`BENCH_MIN_HEIGHT_INTERVAL_MS must be a whole number of ms, got ${JSON.stringify(spacing)}`);
  return {
    ...(threads === undefined || threads === "" ? {} : { v8BackgroundThreads: threads === "on" }),
    ...(spacing === undefined || spacing === "" ? {} : { minHeightIntervalMs: Number(spacing) }),
  };
}
