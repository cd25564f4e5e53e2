/**
 * The knee search of `ios load --find-knee --latency-cap C`: the highest open-loop rate a network
 * sustains with p99 final latency ≤ C.
 *
 * Phases:
 *  1. ramp: steps at startTps, then ×growth each (rounded, at least +1 tx/s), capped at maxTps,
 *     until a step is over: its p99 final latency passes C, more than UNSETTLED_TOLERANCE of its
 *     transactions never settled (their latency is unknown and at least the drain time), or its
 *     steady final TPS falls below followFraction × the offered rate (the network stops
 *     following the offered load);
 *  2. bisect: between the last step within (good) and the first over (bad), at the integer
 *     midpoint, until bad − good ≤ max(1, resolution × good) or maxSteps steps ran;
 *  3. result: the good rate (`sustainedTps`), the bad one, why the search ended, and every step.
 * The search assumes that a rate over the knee stays over it (monotone); every step is kept in the
 * report, so a noisy, non-monotone run shows.
 *
 * How long a step lasts (`defaultStepMs`), so that it is steady: a network whose capacity c is
 * below the offered rate r builds a queue for the whole step, and with the open loop's latency
 * measured from each transaction's due time the last one waits about D·(r − c)/r. With
 * D ≥ STEP_PER_CAP·C = 10·C, an overload of 10 % (exactly where followFraction 0.9 draws the
 * line) already pushes the step's tail past C, so the two criteria agree instead of a short
 * step hiding a slowly growing queue; and at least MIN_STEP_MS. The steady final TPS is measured
 * from the step's 1 s buckets (metrics.ts) between ⌈C⌉ (a network within the cap has its finals
 * flowing by then: the warm-up) and the end of submission (the drain after it is not steady).
 *
 * The search runs against a `KneeSystem` (one step: drive a rate, measure it), so it is tested on a
 * deterministic model; `LoadKneeSystem` drives real validators with `runLoad`, each step on the
 * next slice of one generated set (its transfers chain on earlier ones' change, so the slices go
 * in order and a step drains before the next).
 *
 * API: `findKnee(system, options)`, `judgeStep`, `measureStep(report, stepMs, latencyCapMs)`,
 * `defaultStepMs(latencyCapMs)`, `sliceSet`, class `LoadKneeSystem`, `checkKneeOptions`.
 */
import { check } from "../errors.js";
import { TXID_BYTES } from "../codec/sizes.js";
import { runLoad, type DriverOptions, type LoadRun } from "./driver.js";
import type { LoadErrorCode } from "./errors.js";
import { BUCKET_MS } from "./metrics.js";
import type { LoadReport } from "./report.js";
import { LoadSet } from "./workload.js";

/** Step length per ms of latency cap: see the file comment (10 × C makes a 10 % overload pass C). */
export const STEP_PER_CAP = 10;
/** Shortest default step: 5 one-second buckets, enough for a steady TPS beside the warm-up. */
export const MIN_STEP_MS = 5000;
/**
 * Submission time a step may take beyond its schedule (as `ios load` gives an open loop): the
 * step's slice holds rate × step transactions, so submission ends when they are all due and sent,
 * and a scheduler running late (a busy event loop) still sends every one at its fixed due time.
 */
const STEP_SLACK_MS = 1000;
/** A step whose unsettled transactions exceed 1 % of those submitted has an unknown, too-high p99. */
export const UNSETTLED_TOLERANCE = 0.01;
const DEFAULT_GROWTH = 2;
const DEFAULT_FOLLOW_FRACTION = 0.9;
/** Bisection stops within 5 % of the good rate: finer than run-to-run noise is not worth a step. */
const DEFAULT_RESOLUTION = 0.05;
/** Enough for a ×2 ramp over 10 steps (1024×) and a few bisections; bounds the run's length. */
const DEFAULT_MAX_STEPS = 16;

export interface KneeOptions {
  readonly latencyCapMs: number;
  readonly startTps: number;
  readonly maxTps: number;
  /** Ramp factor between steps; default 2. */
  readonly growth?: number;
  /** A step follows the offered rate when its steady final TPS ≥ followFraction × offered; default 0.9. */
  readonly followFraction?: number;
  /** Bisection stops when bad − good ≤ resolution × good; default 0.05. */
  readonly resolution?: number;
  /** Steps at most, ramp and bisection together; default 16. */
  readonly maxSteps?: number;
}

/** What one step measured. */
export interface StepMeasurement {
  readonly offeredTps: number;
  /** Final TPS in the step's steady window (see the file comment). */
  readonly finalTps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly submitted: number;
  readonly final: number;
  /** Neither final nor rejected when the step's drain ended. */
  readonly unsettled: number;
}

export type StepOver = "latency" | "unsettled" | "throughput";

export interface KneeStep extends StepMeasurement {
  readonly phase: "ramp" | "bisect";
  /** Why the step is over the knee; empty when it is within. */
  readonly over: readonly StepOver[];
}

/**
 * bracketed: good and bad within the resolution; max-rate: the ramp reached maxTps within the cap
 * (the knee is higher); below-start: the first step was over already; set-exhausted: the load ran
 * out before the search ended; max-steps: maxSteps ran first.
 */
export type KneeEnd = "bracketed" | "max-rate" | "below-start" | "set-exhausted" | "max-steps";

export interface KneeReport {
  readonly latencyCapMs: number;
  readonly followFraction: number;
  /** Length of a step's submission (null when the system does not say: a model). */
  readonly stepMs: number | null;
  readonly steps: readonly KneeStep[];
  /** The highest offered rate found within the cap, or null (below-start, or nothing ran). */
  readonly sustainedTps: number | null;
  /** The lowest offered rate found over it, or null (max-rate, or nothing was over). */
  readonly overTps: number | null;
  readonly end: KneeEnd;
}

/** One step of load at a rate; undefined when there is no load left for it. */
export interface KneeSystem {
  readonly stepMs?: number;
  measure(offeredTps: number): Promise<StepMeasurement | undefined>;
}

export function checkKneeOptions(options: KneeOptions): Required<KneeOptions> {
  const resolved = {
    latencyCapMs: options.latencyCapMs,
    startTps: options.startTps,
    maxTps: options.maxTps,
    growth: options.growth ?? DEFAULT_GROWTH,
    followFraction: options.followFraction ?? DEFAULT_FOLLOW_FRACTION,
    resolution: options.resolution ?? DEFAULT_RESOLUTION,
    maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
  };
  const { latencyCapMs, startTps, maxTps, growth, followFraction, resolution, maxSteps } = resolved;
  check<LoadErrorCode>(Number.isFinite(latencyCapMs) && latencyCapMs > 0, "LOAD_BAD_OPTION", `latency cap must be a positive number of ms, got ${latencyCapMs}`);
  check<LoadErrorCode>(Number.isInteger(startTps) && startTps >= 1, "LOAD_BAD_OPTION", `start rate must be a positive integer tx/s, got ${startTps}`);
  check<LoadErrorCode>(Number.isInteger(maxTps) && maxTps >= startTps, "LOAD_BAD_OPTION", `max rate must be an integer ≥ the start rate ${startTps}, got ${maxTps}`);
  check<LoadErrorCode>(Number.isFinite(growth) && growth > 1, "LOAD_BAD_OPTION", `growth must be > 1, got ${growth}`);
  check<LoadErrorCode>(followFraction > 0 && followFraction <= 1, "LOAD_BAD_OPTION", `follow fraction must be in (0, 1], got ${followFraction}`);
  check<LoadErrorCode>(resolution >= 0 && resolution < 1, "LOAD_BAD_OPTION", `resolution must be in [0, 1), got ${resolution}`);
  check<LoadErrorCode>(Number.isInteger(maxSteps) && maxSteps >= 1, "LOAD_BAD_OPTION", `max steps must be a positive integer, got ${maxSteps}`);
  return resolved;
}

/** Why a measured step is over the knee (empty: within). */
export function judgeStep(step: StepMeasurement, latencyCapMs: number, followFraction: number): StepOver[] {
  const over: StepOver[] = [];
  if (step.final > 0 && step.p99Ms > latencyCapMs) over.push("latency");
  if (step.unsettled > UNSETTLED_TOLERANCE * step.submitted) over.push("unsettled");
  if (step.finalTps < followFraction * step.offeredTps) over.push("throughput");
  return over;
}

export async function findKnee(system: KneeSystem, options: KneeOptions): Promise<KneeReport> {
  const { latencyCapMs, startTps, maxTps, growth, followFraction, resolution, maxSteps } = checkKneeOptions(options);
  const steps: KneeStep[] = [];
  let good: number | null = null;
  let bad: number | null = null;
  let end: KneeEnd | undefined;
  /** Runs one step; undefined when the load ran out. */
  const step = async (offeredTps: number, phase: KneeStep["phase"]): Promise<KneeStep | undefined> => {
    const measured = await system.measure(offeredTps);
    if (measured === undefined) return undefined;
    const judged: KneeStep = { ...measured, phase, over: judgeStep(measured, latencyCapMs, followFraction) };
    steps.push(judged);
    return judged;
  };

  for (let rate = startTps; end === undefined; rate = Math.min(maxTps, Math.max(rate + 1, Math.round(rate * growth)))) {
    if (steps.length >= maxSteps) end = "max-steps";
    else {
      const ran = await step(rate, "ramp");
      if (ran === undefined) end = "set-exhausted";
      else if (ran.over.length > 0) {
        bad = rate;
        break;
      } else {
        good = rate;
        if (rate >= maxTps) end = "max-rate";
      }
    }
  }
  if (bad !== null && good === null) end = "below-start";
  while (end === undefined && good !== null && bad !== null) {
    if (bad - good <= Math.max(1, resolution * good)) end = "bracketed";
    else if (steps.length >= maxSteps) end = "max-steps";
    else {
      const middle = Math.round((good + bad) / 2);
      const ran = await step(middle, "bisect");
      if (ran === undefined) end = "set-exhausted";
      else if (ran.over.length > 0) bad = middle;
      else good = middle;
    }
  }
  return { latencyCapMs, followFraction, stepMs: system.stepMs ?? null, steps, sustainedTps: good, overTps: bad, end: end! };
}

/** The step length the file comment argues for: max(MIN_STEP_MS, STEP_PER_CAP × C), in whole seconds. */
export function defaultStepMs(latencyCapMs: number): number {
  return Math.max(MIN_STEP_MS, Math.ceil((STEP_PER_CAP * latencyCapMs) / 1000) * 1000);
}

/** The steady window's buckets: [⌈C / bucket⌉, ⌊step / bucket⌋); LOAD_BAD_OPTION when it is empty. */
function steadyBuckets(stepMs: number, latencyCapMs: number): { from: number; to: number } {
  const from = Math.ceil(latencyCapMs / BUCKET_MS);
  const to = Math.floor(stepMs / BUCKET_MS);
  check<LoadErrorCode>(to > from, "LOAD_BAD_OPTION", `a step of ${stepMs} ms leaves no steady second after the ${latencyCapMs} ms warm-up: make it at least ${(from + 1) * BUCKET_MS} ms`);
  return { from, to };
}

/** A step's measurement from its run's report (see the file comment for the steady window). */
export function measureStep(report: LoadReport, stepMs: number, latencyCapMs: number): StepMeasurement {
  const { from, to } = steadyBuckets(stepMs, latencyCapMs);
  const m = report.metrics;
  let finals = 0;
  for (let k = from; k < to; k++) finals += m.series.final[k] ?? 0;
  return {
    offeredTps: report.run.targetRate ?? 0,
    finalTps: Math.round((finals * 1000 * 1000) / ((to - from) * BUCKET_MS)) / 1000,
    p50Ms: m.latency.final.p50Ms,
    p99Ms: m.latency.final.p99Ms,
    submitted: m.totals.submitted,
    final: m.totals.final,
    unsettled: m.totals.unsettled,
  };
}

/** Transactions [from, to) of `set` as a set of their own (views, no copies). */
export function sliceSet(set: LoadSet, from: number, to: number): LoadSet {
  check<LoadErrorCode>(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= set.count, "LOAD_BAD_OPTION", `slice ${from}..${to} is not within the set's ${set.count} transactions`);
  // offsets index `bytes` absolutely, so the slice keeps the whole buffer and a window of offsets.
  return new LoadSet(set.header, set.bytes, set.offsets.subarray(from, to + 1), set.shards.subarray(from, to), set.txids().subarray(from * TXID_BYTES, to * TXID_BYTES));
}

/** Driver options a knee step takes from the caller: everything but the set, the mode, the duration and the cap. */
export type KneeDriverOptions = Omit<DriverOptions, "set" | "mode" | "durationMs" | "latencyCapMs">;

/**
 * Steps against real validators: step i drives the next ⌈rate × step⌉ transactions of `set` in the
 * open loop for `stepMs`, then drains (DriverOptions.drainTimeoutMs) before the next step.
 */
export class LoadKneeSystem implements KneeSystem {
  #next = 0;
  readonly #runs: { offeredTps: number; run: LoadRun }[] = [];

  constructor(
    readonly set: LoadSet,
    readonly driver: KneeDriverOptions,
    readonly stepMs: number,
    readonly latencyCapMs: number,
  ) {
    steadyBuckets(stepMs, latencyCapMs);
  }

  async measure(offeredTps: number): Promise<StepMeasurement | undefined> {
    const count = Math.ceil((offeredTps * this.stepMs) / 1000);
    if (this.#next + count > this.set.count) return undefined;
    const slice = sliceSet(this.set, this.#next, this.#next + count);
    this.#next += count;
    const run = await runLoad({ ...this.driver, set: slice, mode: { kind: "open-loop", rate: offeredTps }, durationMs: this.stepMs + STEP_SLACK_MS, latencyCapMs: this.latencyCapMs });
    this.#runs.push({ offeredTps, run });
    return measureStep(run.report, this.stepMs, this.latencyCapMs);
  }

  /** Transactions the steps have taken so far. */
  get used(): number {
    return this.#next;
  }

  /** The run of the step at `offeredTps` (the last one at that rate), else the last step's; undefined before any step. */
  runAt(offeredTps: number | null): LoadRun | undefined {
    return this.#runs.filter((step) => step.offeredTps === offeredTps).at(-1)?.run ?? this.#runs.at(-1)?.run;
  }
}
