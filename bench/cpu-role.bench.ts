/**
 * CPU per finalized transaction, per role (issue 16), on the default devnet of `ios start`
 * (2 shards × 5 validators under Proof-of-Believability: 1 believable producer per shard verifies
 * every signature, a normal league of 4 finalizes by BFT and re-verifies a sample, p = 0.1).
 *
 * Phases of one run (a fresh devnet per load shape, a freshly signed workload, signing untimed):
 *  1. load: the H9 driver (src/load/driver.ts) drives the devnet, closed loop at a window that
 *     saturates it, or open loop at a rate well below saturation;
 *  2. measure: after WARMUP_MS of load, each validator process's CPU time (user + system, from
 *     /proc/<pid>/stat: every thread, the verifier workers included; its main thread's apart, from
 *     /proc/<pid>/task/<pid>/stat) and its
 *     `ios_pipeline_finalized_total` (GET /metrics: transactions final in its shard's committed
 *     blocks, as this replica applied them) are read; submission goes on for MEASURE_MS, and
 *     they are read again once the driver has drained (every submitted transaction final or
 *     rejected, or its 10 s drain timeout), so finality that comes in bursts is counted whole;
 *  3. report: µs of CPU per final transaction per validator, ΔCPU / Δfinal, and per role (the
 *     league each validator's /v1/status names at launch) the median over its validators.
 * Beside them, the cost the producer cannot avoid: Ed25519 verification per signature at the
 * producer's batch size (BATCH_TXS one-input transfers of this workload, so one signature per
 * transaction), in this process's CPU time, measured two ways:
 *  - kernel: `Ed25519Verifier.verifyBatch` in this thread, with the worker's key-cache size;
 *  - pool: the packed batch through a one-thread Piscina pool (`verifyPacked`), the worker hop
 *    included, as the producer pays it.
 * Goals of the issue: producer CPU per tx ≤ 1.5 × the signature cost (pool), normal ≤ 10 µs/tx.
 *
 * Environment:
 *   CPU_ROLE_RUNS       repeats of every shape, alternating (default 1);
 *   CPU_ROLE_SECONDS    seconds of submission after the warm-up (default 8);
 *   CPU_ROLE_WARMUP     seconds of load before the window opens (default 4);
 *   CPU_ROLE_SLICE      the window is also read every this many seconds (default 10): per-slice
 *                       µs/tx per role and final tx/s (`slices`), to show whether the cost per
 *                       transaction drifts as the chain and its state grow over a long run;
 *   CPU_ROLE_OUT        the results file (default bench/results/cpu-role.json);
 *   CPU_ROLE_OPEN_RATE  the open loop's tx/s (default 1000);
 *   CPU_ROLE_SHAPES     a comma-separated subset of the shape names (closed-4000, open-<rate>);
 *   CPU_ROLE_KEEP=1     keep the devnets' directories (logs, load reports);
 *   CPU_ROLE_NODE_ARGS  extra Node/V8 flags for every validator, space-separated (e.g.
 *                       "--max-semi-space-size=64"), written into the results;
 *   CPU_ROLE_ODD_NODE_ARGS  flags for the odd-indexed validators only: an A/B inside one devnet,
 *                       both halves under the same load, machine and heights (runs on this shared
 *                       machine swing ±15 %; these pairs do not). Leagues are drawn at random, so
 *                       a shard compares its normal members odd against even when it has both
 *                       (`oddOverEven` per sample, per slice, and its median in the summary);
 *   BENCH_V8_THREADS, BENCH_MIN_HEIGHT_INTERVAL_MS  devnet settings for an A/B (bench/devnet-overrides.ts;
 *                       default: the launcher's and the node's); each sample records whether its
 *                       validators ran V8's background threads (the devnet manifest's word);
 *   CPU_ROLE_LABEL      a name for the run, written into the results with the load average at
 *                       the start (the machine is shared: the figures mean little without it);
 *   CPU_ROLE_PROFILE=DIR  every validator i writes `--cpu-prof` profiles into DIR/<shape>-v<i>,
 *                       one file per thread, thread 0 the main thread (the profiler's own cost
 *                       inflates the figures of such a run).
 * Not benny: one sample is seconds of a whole network.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Ed25519Verifier, type SignatureItem } from "../src/crypto/ed25519.js";
import { packSignatureBatch } from "../src/crypto/signature-batch.js";
import { startDevnet, type Devnet, type League } from "../src/devnet/launcher.js";
import { IosError } from "../src/errors.js";
import { runDevnetLoad } from "../src/devnet/session.js";
import { packTransactions, validateStateless } from "../src/ledger/stateless.js";
import { clockTicksPerSecond, parseProcStat } from "../src/load/metrics.js";
import { generateLoad, type LoadSet } from "../src/load/workload.js";
import { BATCH_TXS } from "../src/node/pipeline.js";
import { WORKER_KEY_CACHE_SIZE } from "../src/node/pool/interface.js";
import { PiscinaVerifierPool } from "../src/node/pool/verify-pool.js";
import { median } from "./stats.js";
import { devnetOverridesFromEnv } from "./devnet-overrides.js";
import { DEFAULT_MIN_HEIGHT_INTERVAL_MS } from "../src/node/consensus/pob-consensus.js";

const RUNS = Number(process.env.CPU_ROLE_RUNS ?? 1);
const OVERRIDES = devnetOverridesFromEnv();
const MEASURE_MS = Number(process.env.CPU_ROLE_SECONDS ?? 8) * 1000;
const RESULTS_FILE = process.env.CPU_ROLE_OUT ?? "bench/results/cpu-role.json";
const PROFILE_DIR = process.env.CPU_ROLE_PROFILE;
/** Extra Node/V8 flags for every validator (A/B of runtime settings), space-separated. */
const NODE_ARGS = (process.env.CPU_ROLE_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
const ODD_NODE_ARGS = (process.env.CPU_ROLE_ODD_NODE_ARGS ?? "").split(" ").filter((arg) => arg !== "");
const LABEL = process.env.CPU_ROLE_LABEL;
/** The 1-minute load average before the first devnet starts. */
const LOAD_AT_START = Math.round(loadavg()[0]! * 100) / 100;
/** Load before the first reading: the devnet's first blocks, JIT warm-up and the key caches filling. */
const WARMUP_MS = Number(process.env.CPU_ROLE_WARMUP ?? 4) * 1000;
const SLICE_MS = Number(process.env.CPU_ROLE_SLICE ?? 10) * 1000;
for (const [name, ms] of [["CPU_ROLE_WARMUP", WARMUP_MS], ["CPU_ROLE_SLICE", SLICE_MS]] as const) {
  if (!(Number.isFinite(ms) && ms > 0)) throw new Error(`${name} must be a positive number of seconds`);
}
const ACCOUNTS = 2000;
/** The open loop's rate (CPU_ROLE_OPEN_RATE): well below what the devnet finalizes when saturated. */
const OPEN_RATE = Number(process.env.CPU_ROLE_OPEN_RATE ?? 1000);
/**
 * Shapes: closed loop at 4000 in flight (the devnet's saturating window, bench/results/devnet.json),
 * open loop at OPEN_RATE (default 1000 tx/s, about a fifth of the saturated rate on a quiet
 * machine). Transfers signed per second of load sit above the highest rate seen, so a run never
 * runs dry.
 */
const SHAPES = [
  { name: "closed-4000", mode: { kind: "closed-loop", window: 4000 }, txPerSecondBudget: 6000 },
  { name: `open-${OPEN_RATE}`, mode: { kind: "open-loop", rate: OPEN_RATE }, txPerSecondBudget: Math.ceil(OPEN_RATE * 1.1) },
] as const;
const GOAL_PRODUCER_RATIO = 1.5;
const GOAL_NORMAL_US = 10;
/** Signature batches timed for the signature cost (after one untimed pass filling the key cache). */
const SIGNATURE_PASSES = 3;

const root = mkdtempSync(join(tmpdir(), "ios-cpu-role-"));
// CPU_ROLE_KEEP=1 keeps the devnets' directories (configurations, logs) for a look afterwards.
if (process.env.CPU_ROLE_KEEP !== "1") process.on("exit", () => rmSync(root, { recursive: true, force: true }));
else console.log(`devnets under ${root}`);

interface Reading {
  readonly cpuMs: number;
  /** The main thread's share of it (/proc/<pid>/task/<pid>): the rest is V8's GC and compiler threads, the verifier workers, libuv. */
  readonly mainThreadMs: number;
  readonly finalized: number;
  /** Blocks committed (ios_pipeline_blocks_total): final heights, whose fixed costs the transactions share. */
  readonly blocks: number;
}

function cpuMsOf(pid: number, thread?: number): number {
  const stat = parseProcStat(readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, "utf8"));
  return ((stat.utimeTicks + stat.stimeTicks) * 1000) / clockTicksPerSecond();
}

/** The counters `names` of a validator's GET /metrics. */
async function countersOf(http: string, names: readonly string[]): Promise<number[]> {
  const lines = (await (await fetch(`${http}/metrics`)).text()).split("\n");
  return names.map((name) => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new Error(`${http}/metrics has no ${name}`);
    return Number(line.split(" ")[1]);
  });
}

async function readAll(devnet: Devnet): Promise<Reading[]> {
  return Promise.all(
    devnet.manifest.validators.map(async (v) => {
      const [finalized, blocks] = await countersOf(v.http, ["ios_pipeline_finalized_total", "ios_pipeline_blocks_total"]);
      return { finalized: finalized!, blocks: blocks!, cpuMs: cpuMsOf(v.pid), mainThreadMs: cpuMsOf(v.pid, v.pid) };
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Devnet starts refused on a starved machine (a validator slower than the launcher's ready
 * timeout, or losing a free port to another engineer's process) before a second try.
 */
const LAUNCH_ATTEMPTS = 2;
const START_REFUSALS: ReadonlySet<string> = new Set(["DEVNET_NOT_READY", "DEVNET_NOT_FINAL", "DEVNET_NODE_EXITED"]);

/** The default devnet in `dir` (a fresh subdirectory per attempt), started again once if the launcher gives up on it. */
async function launch(dir: string, shape: string): Promise<Devnet> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevnet({
        shards: 2,
        validatorsPerShard: 5,
        believable: 1,
        dir: join(dir, `attempt-${attempt}`),
        seed: "cpu-role",
        accounts: ACCOUNTS,
        ...OVERRIDES,
        nodeArgs: (i) => [...NODE_ARGS, ...(i % 2 === 1 ? ODD_NODE_ARGS : []), ...(PROFILE_DIR !== undefined ? ["--cpu-prof", "--cpu-prof-dir", join(PROFILE_DIR!, `${shape}-v${i}`)] : [])],
      });
    } catch (error) {
      if (attempt >= LAUNCH_ATTEMPTS || !(error instanceof IosError) || !START_REFUSALS.has(error.code)) throw error;
      console.log(`${shape}: the devnet did not start (${error.code}); starting another`);
    }
  }
}

interface ValidatorRow {
  readonly index: number;
  readonly shard: number;
  readonly league: League;
  readonly cpuPercent: number;
  /** Its CPU while the workload was signed, before any load: timers, heartbeats, empty blocks. */
  readonly idleCpuPercent: number;
  readonly finalTxs: number;
  /** Final heights committed in the window. */
  readonly heights: number;
  readonly cpuUsPerFinalTx: number;
  /** The main thread's part of cpuUsPerFinalTx. */
  readonly mainThreadUsPerFinalTx: number;
  /** The same less its idle rate over the window: what the transactions themselves cost. */
  readonly aboveIdleUsPerFinalTx: number;
}

/** The load's latency over the whole run (warm-up included), p50 in ms: what the CPU figures came with. */
interface RunLatency {
  readonly finalP50Ms: number;
  readonly optimisticP50Ms: number;
}

/** One slice of the window (CPU_ROLE_SLICE): seconds since the window opened, per-role medians of µs/tx, final tx/s. */
interface Slice {
  readonly fromS: number;
  readonly toS: number;
  readonly producerUsPerTx: number;
  readonly normalUsPerTx: number;
  readonly finalTps: number;
  /** With CPU_ROLE_ODD_NODE_ARGS: the normal members' µs/tx, odd-indexed over even, per shard that has both. */
  readonly oddOverEven?: number[];
}

/**
 * Per shard with normal members of both parities: the mean µs/tx of its odd-indexed normal
 * members over its even-indexed ones (members of one shard finalize the same transactions).
 */
function oddOverEven(rows: readonly { readonly index: number; readonly shard: number; readonly league: League; readonly usPerTx: number }[]): number[] {
  const ratios: number[] = [];
  for (const shard of [...new Set(rows.map((r) => r.shard))].sort((a, b) => a - b)) {
    const mean = (parity: number) => {
      const figures = rows.filter((r) => r.shard === shard && r.league === "normal" && r.index % 2 === parity && Number.isFinite(r.usPerTx)).map((r) => r.usPerTx);
      return figures.length === 0 ? Number.NaN : figures.reduce((a, b) => a + b, 0) / figures.length;
    };
    const ratio = mean(1) / mean(0);
    if (Number.isFinite(ratio)) ratios.push(Math.round(ratio * 1000) / 1000);
  }
  return ratios;
}

function sliceOf(devnet: Devnet, from: { at: number; readings: Reading[] }, to: { at: number; readings: Reading[] }, windowStart: number): Slice {
  const rows = devnet.manifest.validators.map((v, i) => {
    const finalTxs = to.readings[i]!.finalized - from.readings[i]!.finalized;
    return { index: v.index, shard: v.shard, league: v.league, finalTxs, usPerTx: finalTxs === 0 ? Number.NaN : ((to.readings[i]!.cpuMs - from.readings[i]!.cpuMs) * 1000) / finalTxs };
  });
  const ofRole = (role: string) => Math.round(median(rows.filter((r) => roleOf(r.league) === role).map((r) => r.usPerTx).filter(Number.isFinite)) * 10) / 10;
  const shards = [...new Set(rows.map((r) => r.shard))];
  const finalTps = shards.reduce((sum, shard) => sum + median(rows.filter((r) => r.shard === shard).map((r) => r.finalTxs)), 0) / ((to.at - from.at) / 1000);
  const seconds = (at: number) => Math.round((at - windowStart) / 100) / 10;
  return {
    fromS: seconds(from.at),
    toS: seconds(to.at),
    producerUsPerTx: ofRole("producer"),
    normalUsPerTx: ofRole("normal"),
    finalTps: Math.round(finalTps),
    ...(ODD_NODE_ARGS.length === 0 ? {} : { oddOverEven: oddOverEven(rows) }),
  };
}

async function measureShape(shape: (typeof SHAPES)[number], run: number): Promise<{ validators: ValidatorRow[]; finalTps: number; latency: RunLatency; v8BackgroundThreads: boolean; set: LoadSet; monotonicUs: { start: number; end: number }; slices: Slice[] }> {
  const dir = join(root, `${shape.name}-${run}`);
  const devnet = await launch(dir, shape.name);
  try {
    if (!devnet.consensus) throw new Error("the validators of a shard did not agree on their first block: nothing to measure");
    const durationMs = WARMUP_MS + MEASURE_MS;
    // The validators idle while this process signs the workload: their CPU rate then is the idle cost.
    const idleBefore = devnet.manifest.validators.map((v) => cpuMsOf(v.pid));
    const idleStart = performance.now();
    const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts, count: Math.ceil((durationMs / 1000) * shape.txPerSecondBudget), seed: `cpu-role-${shape.name}-${run}` });
    const idleWallMs = performance.now() - idleStart;
    const idleMsPerSecond = devnet.manifest.validators.map((v, i) => ((cpuMsOf(v.pid) - idleBefore[i]!) * 1000) / idleWallMs);
    const load = runDevnetLoad(devnet, { set, mode: shape.mode, durationMs, reportDir: join(devnet.manifest.dir, "report") });
    await sleep(WARMUP_MS);
    const before = await readAll(devnet);
    const start = performance.now();
    const monotonicStartUs = Number(process.hrtime.bigint() / 1000n);
    // Submission ends MEASURE_MS later; the window closes when the driver has drained (every
    // submitted transaction final or rejected, or its drain timeout): a shard that finalizes in
    // bursts (a slow BFT view on a starved machine) has its burst counted with the work it took.
    const slices: Slice[] = [];
    let sliceStart = { at: start, readings: before };
    for (;;) {
      const done = await Promise.race([load.then(() => true), sleep(SLICE_MS).then(() => false)]);
      if (done) break;
      const readings = await readAll(devnet);
      const at = performance.now();
      slices.push(sliceOf(devnet, sliceStart, { at, readings }, start));
      sliceStart = { at, readings };
    }
    const { run: loadRun } = await load;
    const after = await readAll(devnet);
    const wallMs = performance.now() - start;
    // The window on the monotonic clock a .cpuprofile's startTime and endTime use (µs), to cut profiles to it.
    const monotonicUs = { start: monotonicStartUs, end: Number(process.hrtime.bigint() / 1000n) };
    const validators = devnet.manifest.validators.map((v, i) => {
      const cpuMs = after[i]!.cpuMs - before[i]!.cpuMs;
      const finalTxs = after[i]!.finalized - before[i]!.finalized;
      const heights = after[i]!.blocks - before[i]!.blocks;
      const loadMs = cpuMs - (idleMsPerSecond[i]! * wallMs) / 1000;
      // µs per final transaction, to a tenth; none without a final transaction.
      const perTx = (ms: number) => (finalTxs === 0 ? Number.NaN : Math.round((ms * 1000 * 10) / finalTxs) / 10);
      return {
        index: v.index,
        shard: v.shard,
        league: v.league,
        cpuPercent: Math.round((cpuMs / wallMs) * 1000) / 10,
        idleCpuPercent: Math.round(idleMsPerSecond[i]! * 10) / 100,
        finalTxs,
        heights,
        cpuUsPerFinalTx: perTx(cpuMs),
        mainThreadUsPerFinalTx: perTx(after[i]!.mainThreadMs - before[i]!.mainThreadMs),
        aboveIdleUsPerFinalTx: perTx(loadMs),
      };
    });
    const finalTps = [0, 1].reduce((sum, shard) => sum + median(validators.filter((v) => v.shard === shard).map((v) => v.finalTxs)), 0) / (wallMs / 1000);
    const { latency: measured } = loadRun.report.metrics;
    const latency = { finalP50Ms: Math.round(measured.final.p50Ms), optimisticP50Ms: Math.round(measured.optimistic.p50Ms) };
    return { validators, finalTps: Math.round(finalTps), latency, v8BackgroundThreads: devnet.manifest.v8BackgroundThreads, set, monotonicUs, slices };
  } finally {
    await devnet.stop();
  }
}

/** One shard's signatures from a generated set, in batches of the producer's size. */
function signatureBatches(set: LoadSet, shardCount: number): SignatureItem[][] {
  const indexes = set.indexesOfShard(0);
  const batches: SignatureItem[][] = [];
  for (let from = 0; from + BATCH_TXS <= indexes.length; from += BATCH_TXS) {
    const framed = packTransactions(indexes.slice(from, from + BATCH_TXS).map((i) => set.tx(i)));
    batches.push(validateStateless(framed, 0, shardCount).signatures);
  }
  return batches;
}

/** CPU µs of this process per signature verified by `verify` over every batch, after one untimed pass. */
async function cpuPerSignature(batches: readonly SignatureItem[][], verify: (batch: readonly SignatureItem[]) => Promise<unknown>): Promise<number> {
  for (const batch of batches) await verify(batch);
  const before = process.cpuUsage();
  let signatures = 0;
  for (let pass = 0; pass < SIGNATURE_PASSES; pass++) {
    for (const batch of batches) {
      await verify(batch);
      signatures += batch.length;
    }
  }
  const used = process.cpuUsage(before);
  return Math.round(((used.user + used.system) / signatures) * 100) / 100;
}

async function signatureCost(set: LoadSet): Promise<{ batchSize: number; signatures: number; kernelUs: number; poolUs: number }> {
  const batches = signatureBatches(set, set.header.shardCount);
  const kernel = new Ed25519Verifier({ keyCacheSize: WORKER_KEY_CACHE_SIZE });
  const kernelUs = await cpuPerSignature(batches, async (batch) => kernel.verifyBatch(batch));
  const pool = new PiscinaVerifierPool({ threads: 1 });
  const packed = new Map(batches.map((batch) => [batch, packSignatureBatch(batch)]));
  try {
    const poolUs = await cpuPerSignature(batches, (batch) => pool.verifyPacked(packed.get(batch as SignatureItem[])!));
    return { batchSize: BATCH_TXS, signatures: batches.reduce((n, b) => n + b.length, 0), kernelUs, poolUs };
  } finally {
    await pool.close();
  }
}

const roleOf = (league: League) => (league === "believable" ? "producer" : "normal");
const samples: {
  shape: string;
  run: number;
  finalTps: number;
  latency: RunLatency;
  v8BackgroundThreads: boolean;
  validators: ValidatorRow[];
  signature: Awaited<ReturnType<typeof signatureCost>>;
  monotonicUs: { start: number; end: number };
  slices: Slice[];
  oddOverEven?: number[];
}[] = [];
if (PROFILE_DIR !== undefined) mkdirSync(PROFILE_DIR, { recursive: true });
const SHAPE_FILTER = process.env.CPU_ROLE_SHAPES?.split(",");
const shapes = SHAPES.filter((s) => SHAPE_FILTER === undefined || SHAPE_FILTER.includes(s.name));
for (let run = 0; run < RUNS; run++) {
  for (const shape of shapes) {
    const { validators, finalTps, latency, v8BackgroundThreads, set, monotonicUs, slices } = await measureShape(shape, run);
    // Measured right after the devnet stopped, so the machine's state is the run's.
    const signature = await signatureCost(set);
    const paired = ODD_NODE_ARGS.length === 0 ? undefined : oddOverEven(validators.map((v) => ({ ...v, usPerTx: v.cpuUsPerFinalTx })));
    samples.push({ shape: shape.name, run, finalTps, latency, v8BackgroundThreads, validators, signature, monotonicUs, slices, ...(paired === undefined ? {} : { oddOverEven: paired }) });
    const perRole = (role: string) => median(validators.filter((v) => roleOf(v.league) === role).map((v) => v.cpuUsPerFinalTx).filter(Number.isFinite));
    console.log(
      `${shape.name} run ${run}: ${finalTps} final tx/s (p50 final ${latency.finalP50Ms} ms, optimistic ${latency.optimisticP50Ms} ms); µs CPU per final tx: producer ${perRole("producer").toFixed(1)}, normal ${perRole("normal").toFixed(1)}; ` +
        `signature ${signature.poolUs} µs (pool), ${signature.kernelUs} µs (kernel)`,
    );
    for (const slice of slices) {
      const pairs = slice.oddOverEven === undefined ? "" : `; normal odd/even ${slice.oddOverEven.join(", ")}`;
      console.log(`  ${slice.fromS}–${slice.toS} s: producer ${slice.producerUsPerTx} µs/tx, normal ${slice.normalUsPerTx} µs/tx, ${slice.finalTps} final tx/s${pairs}`);
    }
    if (paired !== undefined) console.log(`  normal members, odd-indexed (${ODD_NODE_ARGS.join(" ")}) over even, per shard with both: ${paired.join(", ") || "none"}`);
    for (const v of validators) {
      console.log(`  validator ${v.index} (shard ${v.shard}, ${v.league}): ${v.cpuPercent}% CPU (idle ${v.idleCpuPercent}%), ${v.finalTxs} final in ${v.heights} heights, ${v.cpuUsPerFinalTx} µs/tx (${v.aboveIdleUsPerFinalTx} above idle, ${v.mainThreadUsPerFinalTx} on the main thread)`);
    }
  }
}

const tenth = (x: number) => Math.round(x * 10) / 10;
const summary = shapes.map(({ name }) => {
  const runs = samples.filter((s) => s.shape === name);
  // A validator that finalized nothing in a window (its shard stalled throughout) has no figure.
  const ofRole = (role: string, figure: (v: ValidatorRow) => number) =>
    tenth(median(runs.flatMap((s) => s.validators.filter((v) => roleOf(v.league) === role).map(figure).filter(Number.isFinite))));
  const producerUs = ofRole("producer", (v) => v.cpuUsPerFinalTx);
  const normalUs = ofRole("normal", (v) => v.cpuUsPerFinalTx);
  const aboveIdle = (role: string) => ofRole(role, (v) => v.aboveIdleUsPerFinalTx);
  const poolUs = Math.round(median(runs.map((s) => s.signature.poolUs)) * 100) / 100;
  const kernelUs = Math.round(median(runs.map((s) => s.signature.kernelUs)) * 100) / 100;
  return {
    shape: name,
    finalTps: median(runs.map((s) => s.finalTps)),
    finalP50Ms: median(runs.map((s) => s.latency.finalP50Ms)),
    optimisticP50Ms: median(runs.map((s) => s.latency.optimisticP50Ms)),
    txPerHeight: ofRole("normal", (v) => (v.heights === 0 ? Number.NaN : v.finalTxs / v.heights)),
    producerUsPerTx: producerUs,
    normalUsPerTx: normalUs,
    mainThreadUsPerTx: { producer: ofRole("producer", (v) => v.mainThreadUsPerFinalTx), normal: ofRole("normal", (v) => v.mainThreadUsPerFinalTx) },
    aboveIdleUsPerTx: { producer: aboveIdle("producer"), normal: aboveIdle("normal") },
    signatureUs: { pool: poolUs, kernel: kernelUs },
    producerToSignature: { pool: Math.round((producerUs / poolUs) * 100) / 100, kernel: Math.round((producerUs / kernelUs) * 100) / 100 },
    ...(ODD_NODE_ARGS.length === 0 ? {} : { normalOddOverEven: median(runs.flatMap((s) => s.oddOverEven ?? [])) }),
    goals: { producerToSignature: GOAL_PRODUCER_RATIO, normalUsPerTx: GOAL_NORMAL_US },
  };
});
for (const s of summary) {
  console.log(
    `${s.shape}: producer ${s.producerUsPerTx} µs/tx = ${s.producerToSignature.pool}× the signature (${s.signatureUs.pool} µs with the hop; goal ≤ ${GOAL_PRODUCER_RATIO}×), ` +
      `normal ${s.normalUsPerTx} µs/tx (goal ≤ ${GOAL_NORMAL_US}); on the main thread ${s.mainThreadUsPerTx.producer} and ${s.mainThreadUsPerTx.normal}; ${s.finalTps} final tx/s (p50 final ${s.finalP50Ms} ms, optimistic ${s.optimisticP50Ms} ms), ${s.txPerHeight} tx per height` +
        (s.normalOddOverEven === undefined ? "" : `; normal members odd/even ${s.normalOddOverEven} (median over shards and runs)`),
  );
}
writeFileSync(
  RESULTS_FILE,
  `${JSON.stringify(
    {
      benchmark: "cpu-role",
      ...(LABEL === undefined ? {} : { label: LABEL }),
      ...(NODE_ARGS.length === 0 ? {} : { nodeArgs: NODE_ARGS }),
      ...(ODD_NODE_ARGS.length === 0 ? {} : { oddNodeArgs: ODD_NODE_ARGS }),
      minHeightIntervalMs: OVERRIDES.minHeightIntervalMs ?? DEFAULT_MIN_HEIGHT_INTERVAL_MS,
      machine: { cores: availableParallelism(), node: process.version, loadAverageAtStart: LOAD_AT_START },
      devnet: { shards: 2, validatorsPerShard: 5, believable: 1, samplingProbability: 0.1, accounts: ACCOUNTS },
      window: { warmupMs: WARMUP_MS, measureMs: MEASURE_MS, sliceMs: SLICE_MS, runs: RUNS },
      summary,
      samples,
    },
    null,
    2,
  )}\n`,
);
console.log(`results: ${RESULTS_FILE}`);
