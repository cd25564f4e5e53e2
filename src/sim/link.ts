/**
 * Per-link behaviour of the simulated network: a latency distribution, loss, duplication and
 * optional explicit reordering. Every random draw comes from the network's seeded `Rng`.
 */
import { IosError } from "../errors.js";
import type { Rng } from "../runtime/interface.js";
import type { SimErrorCode } from "./errors.js";

/** One-way delay of a message, in virtual milliseconds. */
export type LatencyDistribution =
  | { readonly kind: "constant"; readonly ms: number }
  | { readonly kind: "uniform"; readonly minMs: number; readonly maxMs: number }
  /** mean + stdDev·z, never below floorMs. */
  | { readonly kind: "normal"; readonly meanMs: number; readonly stdDevMs: number; readonly floorMs: number }
  /** median·e^(sigma·z): the long right tail of real WAN links; never below floorMs. */
  | { readonly kind: "lognormal"; readonly medianMs: number; readonly sigma: number; readonly floorMs: number };

export interface LinkConfig {
  readonly latency: LatencyDistribution;
  /** Probability that a message is lost, in [0, 1]. */
  readonly loss: number;
  /** Probability that a delivered message arrives twice (the copy has its own latency), in [0, 1]. */
  readonly duplication: number;
  /**
   * Explicit reordering: with `probability` a message is held back by an extra delay uniform in
   * [0, maxExtraMs]. Without it, reordering still arises from latency jitter.
   */
  readonly reorder: { readonly probability: number; readonly maxExtraMs: number };
}

/** A link with no faults and a fixed 1 ms delay: messages arrive in the order sent. */
export const PERFECT_LINK: LinkConfig = {
  latency: { kind: "constant", ms: 1 },
  loss: 0,
  duplication: 0,
  reorder: { probability: 0, maxExtraMs: 0 },
};

function badConfig(message: string): IosError<SimErrorCode> {
  return new IosError<SimErrorCode>("SIM_BAD_CONFIG", message);
}

function checkMs(value: unknown, name: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw badConfig(`${name} must be a finite number of milliseconds >= 0, got ${String(value)}`);
  }
}

function checkProbability(value: unknown, name: string): void {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw badConfig(`${name} must be a probability in [0, 1], got ${String(value)}`);
  }
}

export function checkLatency(latency: LatencyDistribution): void {
  if (typeof latency !== "object" || latency === null) throw badConfig("latency must be an object");
  switch (latency.kind) {
    case "constant":
      checkMs(latency.ms, "latency.ms");
      return;
    case "uniform":
      checkMs(latency.minMs, "latency.minMs");
      checkMs(latency.maxMs, "latency.maxMs");
      if (latency.maxMs < latency.minMs) throw badConfig("latency.maxMs must be >= latency.minMs");
      return;
    case "normal":
      checkMs(latency.meanMs, "latency.meanMs");
      checkMs(latency.stdDevMs, "latency.stdDevMs");
      checkMs(latency.floorMs, "latency.floorMs");
      return;
    case "lognormal":
      checkMs(latency.medianMs, "latency.medianMs");
      checkMs(latency.floorMs, "latency.floorMs");
      if (typeof latency.sigma !== "number" || !Number.isFinite(latency.sigma) || latency.sigma < 0) {
        throw badConfig(`latency.sigma must be a finite number >= 0, got ${String(latency.sigma)}`);
      }
      return;
    default:
      throw badConfig(`unknown latency kind ${JSON.stringify((latency as { kind: unknown }).kind)}`);
  }
}

/** `base` with the fields of `change` replaced, validated as a whole. */
export function mergeLinkConfig(base: LinkConfig, change: Partial<LinkConfig>): LinkConfig {
  if (typeof change !== "object" || change === null) throw badConfig("a link config must be an object");
  const merged: LinkConfig = {
    latency: change.latency ?? base.latency,
    loss: change.loss ?? base.loss,
    duplication: change.duplication ?? base.duplication,
    reorder: change.reorder ?? base.reorder,
  };
  checkLatency(merged.latency);
  checkProbability(merged.loss, "loss");
  checkProbability(merged.duplication, "duplication");
  if (typeof merged.reorder !== "object" || merged.reorder === null) throw badConfig("reorder must be an object");
  checkProbability(merged.reorder.probability, "reorder.probability");
  checkMs(merged.reorder.maxExtraMs, "reorder.maxExtraMs");
  return merged;
}

/**
 * A standard normal draw (Box–Muller; 1 - u keeps the logarithm finite). V8 computes log, cos
 * and exp with its fdlibm port, not the platform libm, so samples — and trace hashes — agree
 * across machines running the same Node version.
 */
function standardNormal(rng: Rng): number {
  const u = 1 - rng.nextFloat();
  const v = rng.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function sampleLatency(latency: LatencyDistribution, rng: Rng): number {
  switch (latency.kind) {
    case "constant":
      return latency.ms;
    case "uniform":
      return latency.minMs + (latency.maxMs - latency.minMs) * rng.nextFloat();
    case "normal":
      return Math.max(latency.floorMs, latency.meanMs + latency.stdDevMs * standardNormal(rng));
    case "lognormal":
      return Math.max(latency.floorMs, latency.medianMs * Math.exp(latency.sigma * standardNormal(rng)));
  }
}

/** Delay of one copy of a message: latency plus any explicit reordering hold-back. */
export function sampleDelay(link: LinkConfig, rng: Rng): number {
  let delay = sampleLatency(link.latency, rng);
  if (link.reorder.probability > 0 && rng.nextFloat() < link.reorder.probability) {
    delay += link.reorder.maxExtraMs * rng.nextFloat();
  }
  return delay;
}
