/**
 * Measurements of a load run: counters, latency histograms, a 1-second time series and validator
 * CPU use. Times are milliseconds on one monotonic clock (the driver uses `performance.now()`).
 *
 * Definitions (what the report's numbers mean):
 *  - optimistic latency: submission → the first optimistic confirmation of the transaction (a
 *    believable validator sealed it into an optimistic block, white paper §7.2 phase 1), seen by
 *    the client;
 *  - final latency (end to end): submission → the final confirmation seen by the client;
 *  - consensus latency: optimistic → final confirmation of the same transaction (time spent in
 *    agreement once a block holds it; needs both events);
 *  - stages of a final transaction's latency, each recorded when both of its ends were seen:
 *      submitToAccepted (due time → the node's "accepted" ack), acceptedToOptimistic (→ the first
 *      optimistic confirmation), optimisticToFinal (→ the final confirmation), and
 *      acceptedToFinal for transactions final without an optimistic confirmation (solo, BFT,
 *      one-league PoB). The ordering of an optimistic block (the normal league's proposal that
 *      includes it, white paper §7.2 phase 2) has no stream event: it lies inside optimisticToFinal.
 *      A validator acks a submission frame once it admitted all of it, in frame order, so the
 *      first confirmation (optimistic, else final) can overtake the ack: such a transaction has
 *      no accepted stage and counts in the later stages only (final − submitToAccepted.count
 *      says how many);
 *  - resent: a transaction sent again, to a validator that currently serves its shard, after the
 *    one it went to refused it with a retryable code (not my shard, relay unanswered, ...) or left
 *    its shard (epoch switching, issue 14); it stays one submitted transaction, settled once;
 *  - resubmitted (faults): a transaction sent again because the validator it went to closed its
 *    stream (died, was stopped or restarted) before the transaction settled; counted once per
 *    transaction, with the final latency of those that became final (from their first due time:
 *    the fault's cost to them);
 *  - end-to-end TPS: finals ÷ (last final − first submission);
 *  - consensus TPS: finals ÷ (last final − first optimistic confirmation), i.e. without the time
 *    transactions spend queued before any block holds them (null without optimistic events);
 *  - optimistic TPS: optimistic confirmations ÷ (last optimistic − first submission);
 *  - throughput at a latency cap C, two figures:
 *      withinCapTps: finals whose final latency ≤ C, ÷ (last final − first submission);
 *      peakBucketTpsUnderCap: the largest count of finals in one 1-second bucket among the buckets
 *        whose p99 final latency is ≤ C (nearest rank: at least ⌈0.99·n⌉ of the bucket's n finals
 *        have latency ≤ C). Buckets are [start + k·1000, start + (k+1)·1000) by finalization time.
 * Latencies are recorded in microseconds in HdrHistograms (3 significant digits), reported in ms.
 *
 * API: class `LoadMetrics`, class `CpuSampler`, `parseProcStat(text)`, `clockTicksPerSecond()`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as hdr from "hdr-histogram-js";
import { IosError, check } from "../errors.js";
import type { LoadErrorCode } from "./errors.js";

export const BUCKET_MS = 1000;
/** Histograms start able to hold 60 s (in µs) and grow on demand. */
const INITIAL_HIGHEST_US = 60_000_000;
/** Percentiles of the latency CDF in the report: dense in the body, finer in the tail. */
const CDF_PERCENTILES = [
  ...Array.from({ length: 99 }, (_, i) => i + 1),
  99.5, 99.9, 99.95, 99.99, 100,
];

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** The stages of final latency (see the file comment), each over the final transactions where both ends were seen. */
export interface StageSummary {
  readonly submitToAccepted: LatencySummary;
  readonly acceptedToOptimistic: LatencySummary;
  readonly optimisticToFinal: LatencySummary;
  readonly acceptedToFinal: LatencySummary;
}

export interface ShardSummary {
  readonly shard: number;
  readonly submitted: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly optimistic: number;
  readonly final: number;
  /** Sends after the first (see `totals.resent`). */
  readonly resent: number;
  readonly endToEndTps: number;
  readonly finalLatency: LatencySummary;
  /** Final heights the shard announced during the run, and the transactions each carried on average (all of them, the workload's or not). */
  readonly heights: number;
  readonly txPerHeight: number;
  readonly stages: StageSummary;
}

export interface TimeSeries {
  readonly bucketMs: number;
  /** Per bucket (index k covers [k·bucketMs, (k+1)·bucketMs) from the start). */
  readonly submitted: number[];
  readonly optimistic: number[];
  readonly final: number[];
  readonly rejected: number[];
}

export interface MetricsSummary {
  readonly elapsedMs: number;
  readonly totals: {
    readonly submitted: number;
    readonly accepted: number;
    /** Rejected when submitted (in the acknowledgement) plus rejected later (confirmation event). */
    readonly rejected: number;
    readonly rejectedAtSubmission: number;
    readonly rejectedAfterAcceptance: number;
    /** Submitted but neither accepted nor rejected by an acknowledgement. */
    readonly unacknowledged: number;
    readonly optimistic: number;
    readonly final: number;
    /** Accepted, not rejected later and not final when the run ended. */
    readonly pending: number;
    /** Neither final nor rejected when the run ended: submitted = final + rejected + unsettled. */
    readonly unsettled: number;
    /** Sends after a transaction's first (not in `submitted`): Σ resentByCause. */
    readonly resent: number;
  };
  readonly rejectedByCode: Record<string, number>;
  /** Why transactions were sent again: the retryable refusal's code, ENDPOINT_LEFT_SHARD, ENDPOINT_SKIPPED_EPOCH or ENDPOINT_DISCONNECTED. */
  readonly resentByCause: Record<string, number>;
  readonly throughput: {
    readonly endToEndTps: number;
    readonly consensusTps: number | null;
    readonly optimisticTps: number | null;
    readonly latencyCapMs: number;
    readonly withinCapTps: number;
    readonly peakBucketTpsUnderCap: number;
  };
  readonly latency: {
    readonly optimistic: LatencySummary;
    readonly final: LatencySummary;
    readonly consensus: LatencySummary;
  };
  /** [latency ms, cumulative fraction] points, empty without samples. */
  readonly cdf: { readonly optimistic: [number, number][]; readonly final: [number, number][] };
  /**
   * Intra-shard transfers and cross-shard ones (Atomix, white paper §6) apart: each kind's final
   * count, rate and latency; for cross-shard ones, the latency of each phase from submission:
   * locked (final in the input shard), proven (its proof read), committed (final in every shard).
   */
  readonly byKind: {
    readonly intra: { readonly final: number; readonly endToEndTps: number; readonly finalLatency: LatencySummary };
    readonly cross: {
      readonly final: number;
      readonly endToEndTps: number;
      readonly finalLatency: LatencySummary;
      readonly phases: { readonly locked: LatencySummary; readonly proven: LatencySummary; readonly committed: LatencySummary };
    };
  };
  readonly shards: ShardSummary[];
  readonly series: TimeSeries;
  readonly stages: StageSummary;
  /** Transactions sent again because their validator disconnected (see the file comment), and the final latency of those final. */
  readonly resubmitted: { readonly count: number; readonly finalLatency: LatencySummary };
}

type Histogram = ReturnType<typeof hdr.build>;

function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: INITIAL_HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: true });
}

function toMicros(ms: number): number {
  return Math.max(0, Math.round(ms * 1000));
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The nearest-rank percentile, capped at the recorded maximum: the histogram answers with the top of
 * the value's bucket (within 0.1 %), which may exceed the largest value actually recorded.
 */
function percentileUs(histogram: Histogram, percentile: number): number {
  return Math.min(histogram.getValueAtPercentile(percentile), histogram.maxValue);
}

function summarize(histogram: Histogram): LatencySummary {
  const count = histogram.totalCount;
  if (count === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
  const at = (p: number) => round3(percentileUs(histogram, p) / 1000);
  return { count, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: round3(histogram.maxValue / 1000), meanMs: round3(histogram.mean / 1000) };
}

function cdfOf(histogram: Histogram): [number, number][] {
  if (histogram.totalCount === 0) return [];
  return CDF_PERCENTILES.map((p) => [round3(percentileUs(histogram, p) / 1000), p / 100]);
}

/** A code → count map as a JSON object, codes in order. */
function byCode(counts: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function rate(count: number, fromMs: number, toMs: number): number {
  return toMs > fromMs ? round3((count * 1000) / (toMs - fromMs)) : 0;
}

class StageHistograms {
  readonly submitToAccepted = newHistogram();
  readonly acceptedToOptimistic = newHistogram();
  readonly optimisticToFinal = newHistogram();
  readonly acceptedToFinal = newHistogram();

  record(submittedAtMs: number, ackAtMs: number | undefined, optimisticAtMs: number | undefined, finalAtMs: number): void {
    // An ack overtaken by the transaction's first confirmation bounds no stage (see the file comment).
    const acceptedAtMs = ackAtMs !== undefined && ackAtMs <= (optimisticAtMs ?? finalAtMs) ? ackAtMs : undefined;
    if (acceptedAtMs !== undefined) this.submitToAccepted.recordValue(toMicros(acceptedAtMs - submittedAtMs));
    if (optimisticAtMs !== undefined) {
      if (acceptedAtMs !== undefined) this.acceptedToOptimistic.recordValue(toMicros(optimisticAtMs - acceptedAtMs));
      this.optimisticToFinal.recordValue(toMicros(finalAtMs - optimisticAtMs));
    } else if (acceptedAtMs !== undefined) {
      this.acceptedToFinal.recordValue(toMicros(finalAtMs - acceptedAtMs));
    }
  }

  summary(): StageSummary {
    return {
      submitToAccepted: summarize(this.submitToAccepted),
      acceptedToOptimistic: summarize(this.acceptedToOptimistic),
      optimisticToFinal: summarize(this.optimisticToFinal),
      acceptedToFinal: summarize(this.acceptedToFinal),
    };
  }
}

class ShardCounters {
  submitted = 0;
  accepted = 0;
  rejected = 0;
  optimistic = 0;
  final = 0;
  resent = 0;
  readonly finalLatency = newHistogram();
  /** Final heights seen (each validator announces every height: counted once) and their transactions. */
  readonly heights = new Set<number>();
  heightTxs = 0;
  readonly stages = new StageHistograms();
}

/** Grows `series` so index `bucket` exists and adds `count` there. */
function bump(series: number[], bucket: number, count = 1): void {
  while (series.length <= bucket) series.push(0);
  series[bucket]! += count;
}

export class LoadMetrics {
  readonly #shards: ShardCounters[] = [];
  readonly #rejectedByCode = new Map<string, number>();
  readonly #resentByCause = new Map<string, number>();
  readonly #optimistic = newHistogram();
  readonly #final = newHistogram();
  readonly #consensus = newHistogram();
  readonly #crossPhases = { locked: newHistogram(), proven: newHistogram(), committed: newHistogram() };
  readonly #intraFinal = newHistogram();
  readonly #resubmittedFinal = newHistogram();
  #resubmitted = 0;
  #crossFinal = 0;
  readonly #stages = new StageHistograms();
  readonly #series = { submitted: [] as number[], optimistic: [] as number[], final: [] as number[], rejected: [] as number[], finalWithinCap: [] as number[] };
  #rejectedAtSubmission = 0;
  #rejectedAfterAcceptance = 0;
  #withinCap = 0;
  #firstSubmitMs = Number.POSITIVE_INFINITY;
  #firstOptimisticMs = Number.POSITIVE_INFINITY;
  #lastOptimisticMs = Number.NEGATIVE_INFINITY;
  #lastFinalMs = Number.NEGATIVE_INFINITY;
  #lastEventMs: number;

  /**
   * @param startMs origin of the time series buckets (the run's start on the driver's clock)
   * @param latencyCapMs C in "throughput at a latency cap" (see the file comment)
   */
  constructor(
    readonly shardCount: number,
    readonly startMs: number,
    readonly latencyCapMs: number,
  ) {
    check<LoadErrorCode>(Number.isInteger(shardCount) && shardCount >= 1 && shardCount <= 1024, "LOAD_BAD_OPTION", `shard count must be an integer in 1..1024, got ${shardCount}`);
    check<LoadErrorCode>(Number.isFinite(startMs), "LOAD_BAD_OPTION", "start time must be a finite number of ms");
    check<LoadErrorCode>(Number.isFinite(latencyCapMs) && latencyCapMs > 0, "LOAD_BAD_OPTION", `latency cap must be a positive number of ms, got ${latencyCapMs}`);
    for (let shard = 0; shard < shardCount; shard++) this.#shards.push(new ShardCounters());
    this.#lastEventMs = startMs;
  }

  #shard(shard: number): ShardCounters {
    const counters = this.#shards[shard];
    check<LoadErrorCode>(counters !== undefined, "LOAD_BAD_OPTION", `shard ${shard} is not below the shard count ${this.shardCount}`);
    return counters;
  }

  #bucket(atMs: number): number {
    this.#lastEventMs = Math.max(this.#lastEventMs, atMs);
    return Math.max(0, Math.floor((atMs - this.startMs) / BUCKET_MS));
  }

  submitted(shard: number, atMs: number, count = 1): void {
    this.#shard(shard).submitted += count;
    this.#firstSubmitMs = Math.min(this.#firstSubmitMs, atMs);
    bump(this.#series.submitted, this.#bucket(atMs), count);
  }

  accepted(shard: number): void {
    this.#shard(shard).accepted++;
  }

  /** A rejection with its code; `afterAcceptance` when it came in a confirmation event rather than the acknowledgement. */
  rejected(shard: number, code: string, atMs: number, afterAcceptance: boolean): void {
    this.#shard(shard).rejected++;
    this.#rejectedByCode.set(code, (this.#rejectedByCode.get(code) ?? 0) + 1);
    if (afterAcceptance) this.#rejectedAfterAcceptance++;
    else this.#rejectedAtSubmission++;
    bump(this.#series.rejected, this.#bucket(atMs));
  }

  /** A transaction of `shard` sent again (see the file comment), because of `cause`; its submission counted once already. */
  resent(shard: number, cause: string): void {
    this.#shard(shard).resent++;
    this.#resentByCause.set(cause, (this.#resentByCause.get(cause) ?? 0) + 1);
  }

  /** A transaction of `shard` sent again because its validator disconnected (once per transaction). */
  resubmitted(shard: number): void {
    this.#shard(shard);
    this.#resubmitted++;
  }

  /** A resubmitted transaction became final (it is counted by `final` too). */
  resubmittedFinal(submittedAtMs: number, atMs: number): void {
    this.#resubmittedFinal.recordValue(toMicros(atMs - submittedAtMs));
  }

  optimistic(shard: number, submittedAtMs: number, atMs: number): void {
    this.#shard(shard).optimistic++;
    this.#optimistic.recordValue(toMicros(atMs - submittedAtMs));
    this.#firstOptimisticMs = Math.min(this.#firstOptimisticMs, atMs);
    this.#lastOptimisticMs = Math.max(this.#lastOptimisticMs, atMs);
    bump(this.#series.optimistic, this.#bucket(atMs));
  }

  /** A final height of `shard` carrying `transactions` (its EVENTS frame); each height counts once, whichever validator announced it. */
  height(shard: number, height: number, transactions: number): void {
    const counters = this.#shard(shard);
    if (counters.heights.has(height)) return;
    counters.heights.add(height);
    counters.heightTxs += transactions;
  }

  /** A cross-shard transfer reached `phase`; its commit is its final confirmation (`final` with `cross`). */
  crossPhase(phase: "locked" | "proven", submittedAtMs: number, atMs: number): void {
    this.#crossPhases[phase].recordValue(toMicros(atMs - submittedAtMs));
  }

  /** A final confirmation; `optimisticAtMs` when the optimistic one was seen (gives the consensus latency). */
  final(shard: number, submittedAtMs: number, atMs: number, optimisticAtMs?: number, cross = false): void {
    const counters = this.#shard(shard);
    const latencyMs = atMs - submittedAtMs;
    counters.final++;
    if (cross) {
      this.#crossFinal++;
      this.#crossPhases.committed.recordValue(toMicros(latencyMs));
    } else {
      this.#intraFinal.recordValue(toMicros(latencyMs));
    }
    counters.finalLatency.recordValue(toMicros(latencyMs));
    this.#final.recordValue(toMicros(latencyMs));
    if (optimisticAtMs !== undefined) this.#consensus.recordValue(toMicros(atMs - optimisticAtMs));
    this.#lastFinalMs = Math.max(this.#lastFinalMs, atMs);
    const bucket = this.#bucket(atMs);
    bump(this.#series.final, bucket);
    if (latencyMs <= this.latencyCapMs) {
      this.#withinCap++;
      bump(this.#series.finalWithinCap, bucket);
    }
  }

  /**
   * The stages of a final transaction (see the file comment), called with its final confirmation;
   * `acceptedAtMs` / `optimisticAtMs` undefined when that event was not seen.
   */
  stages(shard: number, submittedAtMs: number, acceptedAtMs: number | undefined, optimisticAtMs: number | undefined, finalAtMs: number): void {
    this.#shard(shard).stages.record(submittedAtMs, acceptedAtMs, optimisticAtMs, finalAtMs);
    this.#stages.record(submittedAtMs, acceptedAtMs, optimisticAtMs, finalAtMs);
  }

  get totalSubmitted(): number {
    return this.#shards.reduce((sum, s) => sum + s.submitted, 0);
  }

  get totalOptimistic(): number {
    return this.#shards.reduce((sum, s) => sum + s.optimistic, 0);
  }

  get totalFinal(): number {
    return this.#shards.reduce((sum, s) => sum + s.final, 0);
  }

  /** Finals in the last complete bucket before `nowMs` (for the progress line). */
  finalRateAt(nowMs: number): number {
    const bucket = Math.floor((nowMs - this.startMs) / BUCKET_MS) - 1;
    return bucket >= 0 ? (this.#series.final[bucket] ?? 0) : 0;
  }

  summary(): MetricsSummary {
    const sum = (pick: (s: ShardCounters) => number) => this.#shards.reduce((total, s) => total + pick(s), 0);
    const submitted = sum((s) => s.submitted);
    const accepted = sum((s) => s.accepted);
    const optimistic = sum((s) => s.optimistic);
    const final = sum((s) => s.final);
    const rejected = this.#rejectedAtSubmission + this.#rejectedAfterAcceptance;
    const resent = sum((s) => s.resent);
    const first = this.#firstSubmitMs;
    const finalWithin = this.#series.finalWithinCap;
    let peak = 0;
    this.#series.final.forEach((n, k) => {
      if (n > 0 && (finalWithin[k] ?? 0) >= Math.ceil(0.99 * n)) peak = Math.max(peak, n);
    });
    const hasOptimistic = this.#optimistic.totalCount > 0;
    const length = Math.max(this.#series.submitted.length, this.#series.final.length, this.#series.optimistic.length, this.#series.rejected.length);
    const padded = (series: number[]) => Array.from({ length }, (_, k) => series[k] ?? 0);
    return {
      elapsedMs: round3(this.#lastEventMs - this.startMs),
      totals: {
        submitted,
        accepted,
        rejected,
        rejectedAtSubmission: this.#rejectedAtSubmission,
        rejectedAfterAcceptance: this.#rejectedAfterAcceptance,
        unacknowledged: submitted - accepted - this.#rejectedAtSubmission,
        optimistic,
        final,
        pending: accepted - final - this.#rejectedAfterAcceptance,
        unsettled: submitted - final - rejected,
        resent,
      },
      rejectedByCode: byCode(this.#rejectedByCode),
      resentByCause: byCode(this.#resentByCause),
      throughput: {
        endToEndTps: rate(final, first, this.#lastFinalMs),
        consensusTps: hasOptimistic ? rate(final, this.#firstOptimisticMs, this.#lastFinalMs) : null,
        optimisticTps: hasOptimistic ? rate(optimistic, first, this.#lastOptimisticMs) : null,
        latencyCapMs: this.latencyCapMs,
        withinCapTps: rate(this.#withinCap, first, this.#lastFinalMs),
        peakBucketTpsUnderCap: round3((peak * 1000) / BUCKET_MS),
      },
      latency: { optimistic: summarize(this.#optimistic), final: summarize(this.#final), consensus: summarize(this.#consensus) },
      cdf: { optimistic: cdfOf(this.#optimistic), final: cdfOf(this.#final) },
      byKind: {
        intra: { final: final - this.#crossFinal, endToEndTps: rate(final - this.#crossFinal, first, this.#lastFinalMs), finalLatency: summarize(this.#intraFinal) },
        cross: {
          final: this.#crossFinal, endToEndTps: rate(this.#crossFinal, first, this.#lastFinalMs), finalLatency: summarize(this.#crossPhases.committed),
          phases: { locked: summarize(this.#crossPhases.locked), proven: summarize(this.#crossPhases.proven), committed: summarize(this.#crossPhases.committed) },
        },
      },
      shards: this.#shards.map((s, shard) => ({
        shard,
        submitted: s.submitted,
        accepted: s.accepted,
        rejected: s.rejected,
        optimistic: s.optimistic,
        final: s.final,
        resent: s.resent,
        endToEndTps: rate(s.final, first, this.#lastFinalMs),
        finalLatency: summarize(s.finalLatency),
        heights: s.heights.size,
        txPerHeight: s.heights.size === 0 ? 0 : round3(s.heightTxs / s.heights.size),
        stages: s.stages.summary(),
      })),
      series: { bucketMs: BUCKET_MS, submitted: padded(this.#series.submitted), optimistic: padded(this.#series.optimistic), final: padded(this.#series.final), rejected: padded(this.#series.rejected) },
      stages: this.#stages.summary(),
      resubmitted: { count: this.#resubmitted, finalLatency: summarize(this.#resubmittedFinal) },
    };
  }
}

/** CPU time fields of /proc/<pid>/stat (proc(5)): utime and stime, in clock ticks. */
export interface ProcStat {
  readonly utimeTicks: number;
  readonly stimeTicks: number;
}

/**
 * Parses a /proc/<pid>/stat line. Field 2 (comm) is parenthesised and may hold spaces and ')', so
 * the fields are counted from the last ')': utime and stime are fields 14 and 15 (proc(5)).
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  check<LoadErrorCode>(close > 0, "LOAD_CPU_UNAVAILABLE", "a /proc stat line must hold the command name in parentheses");
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utimeTicks = Number(fields[14 - 3]);
  const stimeTicks = Number(fields[15 - 3]);
  check<LoadErrorCode>(Number.isSafeInteger(utimeTicks) && Number.isSafeInteger(stimeTicks), "LOAD_CPU_UNAVAILABLE", "the stat line has no numeric utime/stime fields");
  return { utimeTicks, stimeTicks };
}

let ticksPerSecond: number | undefined;

/** sysconf(_SC_CLK_TCK), the unit of /proc times (proc(5)), asked of `getconf` once. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let output: string;
    try {
      output = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    } catch (error) {
      throw new IosError<LoadErrorCode>("LOAD_CPU_UNAVAILABLE", `cannot read the clock tick rate with getconf CLK_TCK: ${(error as Error).message}`);
    }
    const ticks = Number(output.trim());
    check<LoadErrorCode>(Number.isInteger(ticks) && ticks > 0, "LOAD_CPU_UNAVAILABLE", `getconf CLK_TCK printed ${JSON.stringify(output)}`);
    ticksPerSecond = ticks;
  }
  return ticksPerSecond;
}

export interface CpuProcess {
  readonly pid: number;
  /** What the process is, e.g. "validator 0 (shard 1)". */
  readonly label: string;
}

export interface CpuSummary {
  readonly pid: number;
  readonly label: string;
  /** Per sampling interval: [ms since the sampler's start, % of one core]. */
  readonly samples: [number, number][];
  /** Busy time over wall time across all intervals, in % of one core. */
  readonly meanPercent: number;
  readonly maxPercent: number;
  /** True when the process was gone at some sample (its later intervals are missing). */
  readonly exited: boolean;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ESRCH") return undefined;
    throw error;
  }
}

/**
 * CPU use of given processes (Linux /proc), sampled when `sample(nowMs)` is called: for each
 * interval, (Δutime + Δstime) / CLK_TCK ÷ Δwall, as a percentage of one core (so a process busy on
 * two cores shows 200 %).
 */
export class CpuSampler {
  readonly #ticks: number;
  readonly #state: { process: CpuProcess; last: ProcStat | undefined; samples: [number, number][]; busySeconds: number; wallSeconds: number; exited: boolean }[];
  #lastMs: number;

  constructor(processes: readonly CpuProcess[], readonly startMs: number) {
    this.#ticks = clockTicksPerSecond();
    this.#state = processes.map((process) => {
      check<LoadErrorCode>(Number.isInteger(process.pid) && process.pid > 0, "LOAD_BAD_OPTION", `pid must be a positive integer, got ${process.pid}`);
      const last = readProcStat(process.pid);
      check<LoadErrorCode>(last !== undefined, "LOAD_CPU_UNAVAILABLE", `no process ${process.pid} (${process.label}) to sample: /proc/${process.pid}/stat is missing`);
      return { process, last, samples: [], busySeconds: 0, wallSeconds: 0, exited: false };
    });
    this.#lastMs = startMs;
  }

  sample(nowMs: number): void {
    const wallSeconds = (nowMs - this.#lastMs) / 1000;
    if (wallSeconds <= 0) return;
    for (const state of this.#state) {
      if (state.exited) continue;
      const now = readProcStat(state.process.pid);
      if (now === undefined || state.last === undefined) {
        state.exited = true;
        continue;
      }
      const busySeconds = (now.utimeTicks + now.stimeTicks - state.last.utimeTicks - state.last.stimeTicks) / this.#ticks;
      state.samples.push([round3(nowMs - this.startMs), round3((100 * busySeconds) / wallSeconds)]);
      state.busySeconds += busySeconds;
      state.wallSeconds += wallSeconds;
      state.last = now;
    }
    this.#lastMs = nowMs;
  }

  summary(): CpuSummary[] {
    return this.#state.map(({ process, samples, busySeconds, wallSeconds, exited }) => {
      const mean = wallSeconds > 0 ? (100 * busySeconds) / wallSeconds : 0;
      const maxPercent = samples.reduce((max, [, percent]) => Math.max(max, percent), 0);
      return { pid: process.pid, label: process.label, samples, meanPercent: round3(mean), maxPercent, exited };
    });
  }
}
