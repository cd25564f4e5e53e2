/**
 * The Distributed Randomness Protocol (white paper §5, Algorithms 2–3; issue 14): whole DRP runs
 * through the in-process runner (src/epoch/drp/local.ts: real Ed25519 signatures, real PVSS, the
 * client and every server in this one process, so the CPU time is the sum over all parties and
 * the wall time what one machine doing everyone's work takes), then Algorithm 3 on the transcript
 * (verifyTranscript, what `ios drp verify` runs). Key generation is outside the timed region.
 * The runner also times each delivery round per party: Σ over the three rounds of (client +
 * slowest server) is the critical path, the run's length were every party on its own core and
 * the network free — the figure to set beside a deployment's (RandHound's over a WAN).
 *
 * Sizes n = 16, 31 and 64 (DRP_BENCH_SIZES, comma separated; any n works, f = ⌊(n − 1)/3⌋;
 * 31 was measured when n had to be 3f + 1). Groups hold about GROUP_SIZE = 16 servers (m = round(n / 16), at least 1). Each size runs DRP_BENCH_RUNS times (default 3) after one warm-up run, each
 * with its own keys; the median is recorded. Goal of the issue: n = 64 under 5 s of wall time
 * (RandHound: 240 s for 512 nodes over a WAN). Results: bench/results/drp.json (DRP_BENCH_OUT).
 * Not benny: one sample is a whole protocol run of seconds.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { makeParties, runTimedSession, type Parties } from "../src/epoch/drp/local.js";
import { SystemClock } from "../src/runtime/system.js";
import { verifyTranscript } from "../src/epoch/drp/transcript.js";
import { median } from "./stats.js";

const RESULTS_FILE = process.env.DRP_BENCH_OUT ?? "bench/results/drp.json";
const SIZES = (process.env.DRP_BENCH_SIZES ?? "16,31,64").split(",").map(Number);
const RUNS = Number(process.env.DRP_BENCH_RUNS ?? 3);
const GROUP_SIZE = 16;
const GOAL_SERVERS = 64;
const GOAL_SECONDS = 5;

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

/** Wall and CPU (user + system) time of `work`, in milliseconds. */
function timed<T>(work: () => T): { readonly result: T; readonly sample: Sample } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = work();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { result, sample: { wallMs, cpuMs: (used.user + used.system) / 1000 } };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

const clock = new SystemClock();

/** One run: the session, its transcript, and Algorithm 3 on it, which must give the client's Z. */
function measure(parties: Parties) {
  const { result, sample: session } = timed(() => runTimedSession(parties, clock));
  const { client, rounds } = result;
  const transcript = client.transcript();
  const { result: verified, sample: verify } = timed(() => verifyTranscript(transcript));
  if (!verified.z.equals(client.output().z)) throw new Error("the verifier's Z is not the client's");
  const clientMs = rounds.reduce((sum, round) => sum + round.clientMs, 0);
  const criticalPathMs = rounds.reduce((sum, round) => sum + round.clientMs + round.slowestServerMs, 0);
  return { session, verify, transcriptBytes: transcript.length, clientMs, criticalPathMs };
}

const rows = [];
for (const n of SIZES) {
  const groups = Math.max(1, Math.round(n / GROUP_SIZE));
  measure(makeParties(n, groups, `drp-bench-${n}-warm-up`));
  const samples = Array.from({ length: RUNS }, (_, run) => measure(makeParties(n, groups, `drp-bench-${n}-${run}`)));
  const row = {
    servers: n,
    faultTolerance: (n - 1) / 3,
    groups,
    runs: RUNS,
    sessionWallMs: round(median(samples.map((s) => s.session.wallMs))),
    sessionCpuMs: round(median(samples.map((s) => s.session.cpuMs))),
    verifyWallMs: round(median(samples.map((s) => s.verify.wallMs))),
    verifyCpuMs: round(median(samples.map((s) => s.verify.cpuMs))),
    clientMs: round(median(samples.map((s) => s.clientMs))),
    criticalPathMs: round(median(samples.map((s) => s.criticalPathMs))),
    transcriptBytes: median(samples.map((s) => s.transcriptBytes)),
  };
  rows.push(row);
  console.log(
    `n = ${n} (f = ${row.faultTolerance}, ${groups} group(s)): session ${row.sessionWallMs} ms wall, ${row.sessionCpuMs} ms CPU; ` +
      `critical path ${row.criticalPathMs} ms (client ${row.clientMs} ms); verify ${row.verifyWallMs} ms wall, ${row.verifyCpuMs} ms CPU; ` +
      `transcript ${row.transcriptBytes} bytes`,
  );
}
console.table(rows);

const goalRow = rows.find((row) => row.servers === GOAL_SERVERS);
const goal =
  goalRow === undefined
    ? undefined
    : {
        servers: GOAL_SERVERS,
        seconds: GOAL_SECONDS,
        sessionWallSeconds: goalRow.sessionWallMs / 1000,
        sessionCpuSeconds: goalRow.sessionCpuMs / 1000,
        criticalPathSeconds: goalRow.criticalPathMs / 1000,
        metInOneProcess: goalRow.sessionWallMs < GOAL_SECONDS * 1000,
      };
if (goal !== undefined) console.log(goal);
const loadAverage = loadavg().map((load) => round(load));
const output = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadAverage, groupSize: GROUP_SIZE, rows, goal };
writeFileSync(RESULTS_FILE, `${JSON.stringify(output, null, 2)}\n`);
console.log(`results: ${RESULTS_FILE}`);
