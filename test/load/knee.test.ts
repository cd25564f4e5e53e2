// The knee search (src/load/knee.ts): on deterministic models of a network (a fake KneeSystem whose
// p99 and final TPS follow from the offered rate by a formula, no timing), the ramp, the bisection,
// and every way the search ends, worked out by hand; the step measurement from a report's buckets;
// set slices; then short searches against two real in-process validators (solo, 2 shards), each
// step on the next slice of one generated set: through LoadKneeSystem, and through `ios load
// --find-knee` (its option checks, its report).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import {
  LoadKneeSystem, defaultStepMs, findKnee, judgeStep, measureStep, sliceSet,
  type KneeSystem, type StepMeasurement,
} from "../../src/load/knee.js";
import { LoadMetrics } from "../../src/load/metrics.js";
import { REPORT_SCHEMA, buildReport, type LoadReport, type RunInfo } from "../../src/load/report.js";
import { LoadSet, generateLoad } from "../../src/load/workload.js";
import { startSoloShards, type SoloShards } from "./solo-shards.js";
import { ios } from "../cli/helpers.js";
import { loadCommand } from "../../src/cli/devnet-commands.js";

const STEP_MS = 10_000;

/**
 * A queueing model: capacity `capacity` tx/s, p99 `baseMs` × (1 + r / capacity) while the offered
 * rate r keeps up; beyond, final TPS stays at the capacity and the queue built over a step delays
 * its last transactions by STEP_MS × (r − capacity) / r more.
 */
function queueModel(capacity: number, baseMs: number): KneeSystem & { offered: number[] } {
  const offered: number[] = [];
  return {
    offered,
    stepMs: STEP_MS,
    async measure(r: number): Promise<StepMeasurement> {
      offered.push(r);
      const within = r <= capacity;
      const p99Ms = within ? baseMs * (1 + r / capacity) : baseMs * 2 + (STEP_MS * (r - capacity)) / r;
      const submitted = (r * STEP_MS) / 1000;
      return { offeredTps: r, finalTps: Math.min(r, capacity), p50Ms: baseMs, p99Ms, submitted, final: submitted, unsettled: 0 };
    },
  };
}

describe("knee search on a deterministic model", () => {
  it("ramps ×2 until a step passes the cap, then bisects to within 5 % of the good rate", async () => {
    // Capacity 1000 tx/s, base 100 ms, cap 500 ms: over 1000 tx/s the p99 is 200 + 10 000 (r − 1000) / r,
    // within 500 ms up to r = 1030 (491.3 ms), past it from 1031 (500.7 ms).
    const model = queueModel(1000, 100);
    const knee = await findKnee(model, { latencyCapMs: 500, startTps: 100, maxTps: 100_000 });
    // Ramp 100, 200, 400, 800 within, 1600 over; bisect 1200 over, 1000 within, 1100 over, 1050 over; 1050 − 1000 ≤ 5 % of 1000.
    assert.deepEqual(model.offered, [100, 200, 400, 800, 1600, 1200, 1000, 1100, 1050]);
    assert.deepEqual(knee.steps.map((s) => s.phase), ["ramp", "ramp", "ramp", "ramp", "ramp", "bisect", "bisect", "bisect", "bisect"]);
    assert.deepEqual(knee.steps.map((s) => s.over.length === 0), [true, true, true, true, false, false, true, false, false]);
    assert.deepEqual(knee.steps[4]!.over, ["latency", "throughput"], "1600: p99 3950 ms and 1000 < 0.9 × 1600 tx/s");
    assert.deepEqual(knee.steps[8]!.over, ["latency"], "1050: only the p99 (676 ms) is over; 1000 ≥ 0.9 × 1050 tx/s");
    assert.equal(knee.sustainedTps, 1000);
    assert.equal(knee.overTps, 1050);
    assert.equal(knee.end, "bracketed");
    assert.equal(knee.stepMs, STEP_MS);
    assert.equal(knee.latencyCapMs, 500);
  });

  it("lands on the model's exact knee with resolution 0: the last integer rate whose p99 is within the cap", async () => {
    const knee = await findKnee(queueModel(1000, 100), { latencyCapMs: 500, startTps: 100, maxTps: 100_000, resolution: 0, maxSteps: 64 });
    assert.equal(knee.sustainedTps, 1030);
    assert.equal(knee.overTps, 1031);
    assert.equal(knee.end, "bracketed");
  });

  it("stops at the throughput criterion when the latency stays low but final TPS stops following", async () => {
    // A network that sheds load: 500 tx/s at most, p99 always 50 ms. Over once 500 < 0.9 r, i.e. r ≥ 556.
    const shedding: KneeSystem = {
      async measure(r) {
        return { offeredTps: r, finalTps: Math.min(r, 500), p50Ms: 20, p99Ms: 50, submitted: r, final: Math.min(r, 500), unsettled: 0 };
      },
    };
    const knee = await findKnee(shedding, { latencyCapMs: 1000, startTps: 64, maxTps: 10_000, resolution: 0, maxSteps: 64 });
    assert.equal(knee.sustainedTps, 555);
    assert.equal(knee.overTps, 556);
    assert.ok(knee.steps.every((s) => s.over.every((why) => why === "throughput")));
    assert.equal(knee.stepMs, null, "a model that does not say its step length");
  });

  it("ends below-start when the first step is already over, and max-rate when the ramp never passes the cap", async () => {
    const below = await findKnee(queueModel(50, 100), { latencyCapMs: 500, startTps: 100, maxTps: 1000 });
    assert.equal(below.end, "below-start");
    assert.equal(below.sustainedTps, null);
    assert.equal(below.overTps, 100);
    assert.equal(below.steps.length, 1);

    const model = queueModel(1000, 100);
    const fast = await findKnee(model, { latencyCapMs: 500, startTps: 100, maxTps: 300 });
    assert.deepEqual(model.offered, [100, 200, 300], "the ramp is capped at maxTps");
    assert.equal(fast.end, "max-rate");
    assert.equal(fast.sustainedTps, 300);
    assert.equal(fast.overTps, null);
  });

  it("ends set-exhausted when the load runs out, and max-steps after maxSteps steps, keeping what it found", async () => {
    const model = queueModel(1000, 100);
    let left = 6;
    const finite: KneeSystem = { measure: async (r) => (left-- > 0 ? model.measure(r) : undefined) };
    const exhausted = await findKnee(finite, { latencyCapMs: 500, startTps: 100, maxTps: 100_000 });
    assert.equal(exhausted.end, "set-exhausted");
    assert.equal(exhausted.steps.length, 6);
    assert.equal(exhausted.sustainedTps, 800);
    assert.equal(exhausted.overTps, 1200);

    const capped = await findKnee(queueModel(1000, 100), { latencyCapMs: 500, startTps: 100, maxTps: 100_000, maxSteps: 3 });
    assert.equal(capped.end, "max-steps");
    assert.equal(capped.steps.length, 3);
    assert.equal(capped.sustainedTps, 400);
    assert.equal(capped.overTps, null);
  });

  it("judges a step over for its p99, for unsettled transactions beyond 1 %, and for a final TPS behind the offered rate", () => {
    const step: StepMeasurement = { offeredTps: 100, finalTps: 95, p50Ms: 10, p99Ms: 400, submitted: 1000, final: 1000, unsettled: 0 };
    assert.deepEqual(judgeStep(step, 500, 0.9), []);
    assert.deepEqual(judgeStep({ ...step, p99Ms: 500.5 }, 500, 0.9), ["latency"]);
    assert.deepEqual(judgeStep({ ...step, unsettled: 10 }, 500, 0.9), [], "1 % unsettled is tolerated");
    assert.deepEqual(judgeStep({ ...step, unsettled: 11 }, 500, 0.9), ["unsettled"]);
    assert.deepEqual(judgeStep({ ...step, finalTps: 89.9 }, 500, 0.9), ["throughput"]);
    assert.deepEqual(judgeStep({ ...step, final: 0, p99Ms: 0, finalTps: 0, unsettled: 1000 }, 500, 0.9), ["unsettled", "throughput"], "nothing final: no p99 to judge");
  });

  it("refuses bad options with LOAD_BAD_OPTION before any step", async () => {
    const model = queueModel(1000, 100);
    const ok = { latencyCapMs: 500, startTps: 100, maxTps: 1000 };
    for (const bad of [
      { ...ok, latencyCapMs: 0 }, { ...ok, startTps: 0 }, { ...ok, startTps: 1.5 }, { ...ok, maxTps: 99 },
      { ...ok, growth: 1 }, { ...ok, followFraction: 0 }, { ...ok, followFraction: 1.1 }, { ...ok, resolution: 1 }, { ...ok, maxSteps: 0 },
    ]) {
      await assert.rejects(findKnee(model, bad), { code: "LOAD_BAD_OPTION" });
    }
    assert.deepEqual(model.offered, []);
  });
});

const RUN: RunInfo = {
  seed: "knee", mode: "open-loop", targetRate: 100, window: null, plannedDurationMs: 5000, transactions: 500, shardCount: 1,
  genesisHash: "00".repeat(32), endpoints: ["ws://127.0.0.1:1/v1/stream"], startedAt: new Date(0).toISOString(),
  consensus: ["solo"], routing: ["owner-byte"], epochs: { first: 0, last: 0, switches: [], routeRebuilds: 0 },
};

describe("knee step measurement", () => {
  it("takes the final TPS from the steady buckets: after the cap's warm-up, before submission ends", () => {
    // Step 5 s, cap 1000 ms: buckets 1..4 are steady. Finals: 30 in bucket 0 (warm-up), 100 in each of
    // 1..4, 300 in bucket 5 (the drain): 100 tx/s, not (30 + 400 + 300) / 6.
    const metrics = new LoadMetrics(1, 0, 1000);
    metrics.submitted(0, 0, 730);
    const finalsAt = (bucket: number, n: number) => {
      for (let i = 0; i < n; i++) metrics.final(0, bucket * 1000, bucket * 1000 + 500);
    };
    finalsAt(0, 30);
    for (let bucket = 1; bucket <= 4; bucket++) finalsAt(bucket, 100);
    finalsAt(5, 300);
    const step = measureStep(buildReport(RUN, metrics.summary(), []), 5000, 1000);
    assert.equal(step.finalTps, 100);
    assert.equal(step.offeredTps, 100);
    assert.equal(step.submitted, 730);
    assert.equal(step.final, 730);
    assert.equal(step.unsettled, 0);
    assert.equal(step.p99Ms, 500);
    assert.throws(() => measureStep(buildReport(RUN, metrics.summary(), []), 2000, 1500), { code: "LOAD_BAD_OPTION" }, "a 2 s step leaves no steady second after a 1.5 s warm-up");
  });

  it("makes steps of max(5 s, 10 × the cap), in whole seconds", () => {
    assert.equal(defaultStepMs(100), 5000);
    assert.equal(defaultStepMs(1000), 10_000);
    assert.equal(defaultStepMs(1234), 13_000);
  });

  it("slices a set into consecutive views: the same encodings, shards and txids", () => {
    const bytes = Uint8Array.from({ length: 10 }, (_, i) => i);
    const txids = Uint8Array.from({ length: 4 * 32 }, (_, i) => i >> 5);
    const set = new LoadSet({ genesisHash: new Uint8Array(32), seed: "s", shardCount: 2 }, bytes, Uint32Array.of(0, 1, 3, 6, 10), Uint16Array.of(0, 1, 1, 0), txids);
    const slice = sliceSet(set, 1, 3);
    assert.equal(slice.count, 2);
    assert.deepEqual([...slice.tx(0)], [1, 2]);
    assert.deepEqual([...slice.tx(1)], [3, 4, 5]);
    assert.deepEqual([slice.shard(0), slice.shard(1)], [1, 1]);
    assert.deepEqual([...slice.txid(1)], new Array(32).fill(2));
    assert.equal(sliceSet(set, 4, 4).count, 0);
    assert.throws(() => sliceSet(set, 2, 5), { code: "LOAD_BAD_OPTION" });
    assert.throws(() => sliceSet(set, 3, 2), { code: "LOAD_BAD_OPTION" });
  });
});

describe("knee search against real validators", () => {
  const SHARDS = 2;
  const made = makeTestGenesis({ seed: "knee test", shardCount: SHARDS, accounts: 40, amount: 1_000_000n, outputsPerAccount: 4, validators: SHARDS });
  let shards: SoloShards;
  let dir: string;
  let endpoints: string[];

  before(async () => {
    shards = await startSoloShards(made, "ios-knee-");
    ({ dir, endpoints } = shards);
  });

  after(async () => {
    await shards.stop();
  });

  it("runs each step on the next slice of one set (the later steps spend the earlier ones' change), measures it and keeps its report", async () => {
    // Two 2 s steps, 40 then 80 tx/s (the ramp stops at maxTps): 80 + 160 transfers of one chained set.
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: 260, seed: "knee", fee: 1n, threads: 2 });
    const system = new LoadKneeSystem(set, { endpoints, drainTimeoutMs: 20_000 }, 2000, 1000);
    const knee = await findKnee(system, { latencyCapMs: 1000, startTps: 40, maxTps: 80 });
    assert.deepEqual(knee.steps.map((s) => s.offeredTps), knee.steps[0]!.over.length === 0 ? [40, 80] : [40]);
    assert.equal(system.used, knee.steps.reduce((sum, s) => sum + s.submitted, 0));
    assert.equal(knee.stepMs, 2000);
    for (const step of knee.steps) {
      const { report } = system.runAt(step.offeredTps)!;
      const m = report.metrics;
      assert.equal(step.submitted, (step.offeredTps * 2000) / 1000, "rate × step transactions");
      assert.equal(report.run.targetRate, step.offeredTps);
      assert.deepEqual(m.rejectedByCode, {}, "a later slice finds its inputs: nothing MISSING_INPUT");
      assert.equal(step.final + step.unsettled, step.submitted);
      assert.deepEqual(step.over, judgeStep(step, 1000, 0.9));
      // Solo validators: no optimistic confirmation, so every final acked "accepted" before it has
      // exactly the two stages (a final may overtake its frame's ack: those have none).
      assert.ok(m.stages.submitToAccepted.count > 0 && m.stages.submitToAccepted.count <= m.totals.final);
      assert.equal(m.stages.acceptedToFinal.count, m.stages.submitToAccepted.count);
      assert.equal(m.stages.optimisticToFinal.count, 0);
      assert.equal(m.shards.reduce((sum, s) => sum + s.stages.acceptedToFinal.count, 0), m.stages.acceptedToFinal.count);
    }
    assert.equal(knee.sustainedTps, knee.steps.filter((s) => s.over.length === 0).at(-1)?.offeredTps ?? null);
  });

  it("ios load --find-knee: refuses options that do not fit the search, then runs one and writes the knee into the report", async () => {
    const target = ["load", "--endpoints", endpoints.join(","), "--genesis", join(dir, "genesis.json"), "--account-seed", "knee test", "--accounts", "40"];
    // The option checks, in process (a child process each would cost a second): CLI_USAGE before any work.
    const values = { endpoints: [endpoints.join(",")], genesis: join(dir, "genesis.json"), "account-seed": "knee test", accounts: "40", tx: "10" };
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ "find-knee": true, "latency-cap": "500", closed: true }, /--find-knee ramps the open loop/],
      [{ "find-knee": true, "latency-cap": "500", duration: "5" }, /drop --duration/],
      [{ "find-knee": true }, /--find-knee needs --latency-cap MS/],
      [{ rate: "5", step: "3" }, /--step and --max-rate apply to --find-knee/],
      [{ "find-knee": true, "latency-cap": "2500", step: "3" }, /--step must be an integer in \[4, 3600\]/],
      [{ "find-knee": true, "latency-cap": "500", rate: "50", "max-rate": "40" }, /--max-rate must be an integer in \[50, /],
    ];
    const silent = { out: () => assert.fail("no output before the checks pass"), err: () => undefined };
    for (const [options, message] of refused) {
      await assert.rejects(loadCommand.run!({ ...values, ...options } as never, [], silent), (error: Error & { code?: string }) => {
        assert.equal(error.code, "CLI_USAGE");
        assert.match(error.message, message);
        return true;
      });
    }
    const reportDir = join(dir, "knee-report");
    // Steps of 2 s from 30 tx/s to at most 60: 60 + 120 transfers of the 180.
    const run = await ios([...target, "--tx", "180", "--seed", "knee cli", "--find-knee", "--latency-cap", "1000", "--step", "2", "--rate", "30", "--max-rate", "60", "--report", reportDir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^knee: step at 30 tx\/s for 2 s$/m);
    assert.match(run.stdout, /^knee: (30|60) tx\/s offered → [\d.]+ final tx\/s, p99 [\d.]+ ms$/m);
    assert.match(run.stdout, /^knee: (\d+ tx\/s|no rate) sustained with p99 final latency ≤ 1000 ms \((bracketed|max-rate|below-start); [12] steps, (60|180) of 180 transactions used\)$/m);
    const report = JSON.parse(await readFile(join(reportDir, "load-report.json"), "utf8")) as LoadReport;
    assert.equal(report.schema, REPORT_SCHEMA);
    const knee = report.knee!;
    assert.equal(knee.latencyCapMs, 1000);
    assert.equal(knee.stepMs, 2000);
    assert.equal(knee.steps[0]!.offeredTps, 30);
    assert.equal(report.run.targetRate, knee.sustainedTps ?? knee.steps.at(-1)!.offeredTps, "the report's run is the sustained step's");
    assert.equal(report.metrics.totals.submitted, report.run.targetRate! * 2);
    const html = await readFile(join(reportDir, "load-report.html"), "utf8");
    assert.match(html, /<h2>Knee search<\/h2>/);
    assert.match(html, /<div id="knee"><\/div>/);
  });
});
