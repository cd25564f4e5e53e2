/**
 * Single-validator pipeline throughput (issue 4), one run:
 *
 * Suite "pipeline" (benny, bench/results/pipeline.json), side by side: one batch of BATCH_TXS
 * signatures through the Ed25519 kernel's batch verify in this thread (the reference rate per
 * worker), against the same batch as transactions through the pool's `validateTransactions` task
 * on one worker (decode, hash, shard check, batch verify, both messages).
 * End to end (bench/results/pipeline-throughput.json): N pre-signed 1-input 2-output transfers
 * (signing is outside the timed region) submitted to a Pipeline with a SoloDriver over a
 * real LMDB shard state, with 1 and 2 workers; finalized (persisted) tx/s from the first
 * submission to the last final, the ratio to (batch-verify rate × workers), and the block commit
 * cost (apply + encode + seal + fsynced LMDB append) per block and per transaction.
 * PIPELINE_BENCH_TXS overrides N (default 40,000). Each run also reports the main thread's
 * event-loop utilisation and the process's CPU time / wall (2.0 saturates a 2-core machine).
 */
import b from "benny";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Ed25519Verifier } from "../src/crypto/ed25519.js";
import { genesisTxid, makeTestGenesis } from "../src/ledger/genesis.js";
import { packTransactions, validateStateless } from "../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../src/ledger/transaction.js";
import { SoloDriver } from "../src/node/consensus/solo-driver.js";
import { BATCH_TXS, Pipeline } from "../src/node/pipeline.js";
import { PiscinaVerifierPool } from "../src/node/pool/verify-pool.js";
import { ShardState } from "../src/node/shard-state.js";
import { SystemClock } from "../src/runtime/system.js";

const RESULTS_FOLDER = "bench/results";
const TXS = Number(process.env.PIPELINE_BENCH_TXS ?? 40_000);
const WORKER_COUNTS = [1, 2];
const BLOCK_TXS = 4096;
/** The node's default interval (src/node/config.ts); the last partial block of a run waits up to this long. PIPELINE_BENCH_INTERVAL_MS overrides it. */
const BLOCK_INTERVAL_MS = Number(process.env.PIPELINE_BENCH_INTERVAL_MS ?? 200);
const CASE_OPTIONS = { minSamples: 10, maxTime: 3 };

const root = mkdtempSync(join(tmpdir(), "ios-pipeline-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

// ---- workload: one genesis output per account, each spent by one pre-signed transfer -----------
const setupStart = performance.now();
const { genesis, accounts, validators } = makeTestGenesis({ seed: "pipeline bench", shardCount: 1, accounts: TXS, amount: 1_000_000n, validators: 1 });
const genesisId = genesisTxid(genesis);
const transfers = accounts.map((account, i) => {
  const to = accounts[(i + 1) % accounts.length]!;
  const { transaction } = signTransaction(
    {
      kind: TxKind.Transfer,
      inputs: [{ txid: genesisId, index: i, owner: account.publicKey }],
      outputs: [
        { owner: to.publicKey, amount: 400_000n },
        { owner: account.publicKey, amount: 600_000n },
      ],
    },
    [account],
  );
  return encodeTransaction(transaction);
});
console.log(`workload: ${TXS} signed transfers (${transfers[0]!.length} B each) in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

// ---- suite: per-worker rates ---------------------------------------------------------------------
// Both cases cycle through the workload's batches, so keys are as fresh to the kernel's key cache
// as in the pipeline (every transfer has its own signer).
const batches = Array.from({ length: Math.ceil(TXS / BATCH_TXS) }, (_, k) => packTransactions(transfers.slice(k * BATCH_TXS, (k + 1) * BATCH_TXS)));
const signatureBatches = batches.map((batch) => validateStateless(batch, 0, 1).signatures);
const firstBatch = batches[0]!;
const verifier = new Ed25519Verifier();
const singleWorker = new PiscinaVerifierPool({ threads: 1 });
await singleWorker.validateTransactions(firstBatch, 0, 1);
let kernelTurn = 0;
let taskTurn = 0;

const perWorker: Record<string, number> = {};
await b.suite(
  "pipeline",
  b.add(`kernel batch verify, ${BATCH_TXS} signatures, this thread`, () => {
    verifier.verifyBatch(signatureBatches[kernelTurn++ % signatureBatches.length]!);
  }, CASE_OPTIONS),
  b.add(`validateTransactions task, ${BATCH_TXS} transfers, 1 worker`, async () => {
    await singleWorker.validateTransactions(batches[taskTurn++ % batches.length]!, 0, 1);
  }, CASE_OPTIONS),
  b.cycle(),
  b.complete((summary) => {
    const [kernel, task] = summary.results.map((result) => result.ops * BATCH_TXS);
    for (const result of summary.results) perWorker[result.name] = Math.round(result.ops * BATCH_TXS);
    console.log(`per worker: kernel ${Math.round(kernel!)} sig/s, task ${Math.round(task!)} tx/s, task / kernel = ${(task! / kernel!).toFixed(2)}`);
  }),
  b.save({ file: "pipeline", folder: RESULTS_FOLDER, format: "json" }),
);
await singleWorker.close();
const kernelRate = Object.values(perWorker)[0]!;

// ---- end to end ----------------------------------------------------------------------------------
interface RunResult {
  workers: number;
  txs: number;
  seconds: number;
  finalizedPerSecond: number;
  ratioToKernelTimesWorkers: number;
  blocks: number;
  commitMsPerBlock: number;
  commitUsPerTx: number;
  commitShareOfWall: number;
  /** Main-thread event-loop utilisation over the run (busy share of wall time). */
  mainThreadBusy: number;
  /** CPU time of all threads / wall time: 2.0 saturates this 2-core machine. */
  coresUsed: number;
}

async function runPipeline(workers: number): Promise<RunResult> {
  const state = ShardState.open({ directory: join(root, `state-${workers}`), genesis, shard: 0 });
  const pool = new PiscinaVerifierPool({ threads: workers });
  await Promise.all(Array.from({ length: workers }, () => pool.validateTransactions(firstBatch, 0, 1)));
  const clock = new SystemClock();
  const pipeline = new Pipeline({ state, pool, clock });
  const producer = new SoloDriver({ state, pipeline, key: validators[0]!, epoch: 0, clock, blockIntervalMs: BLOCK_INTERVAL_MS, maxBlockTxs: BLOCK_TXS });
  const commitTimes: number[] = [];
  const commitNextBlock = producer.commitNextBlock.bind(producer);
  producer.commitNextBlock = () => {
    const started = performance.now();
    const event = commitNextBlock();
    if (event !== undefined) commitTimes.push(performance.now() - started);
    return event;
  };
  let finalized = 0;
  const allFinal = new Promise<void>((resolve) => {
    pipeline.onSettled((event) => {
      finalized += event.final.length / 32;
      if (finalized + event.rejected.length >= TXS) resolve();
    });
  });
  producer.start();
  const started = performance.now();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const submissions: Promise<unknown>[] = [];
  for (let at = 0; at < TXS; at += BATCH_TXS) submissions.push(pipeline.submitFramed(packTransactions(transfers.slice(at, at + BATCH_TXS))));
  await Promise.all(submissions);
  await allFinal;
  const seconds = (performance.now() - started) / 1000;
  const mainThreadBusy = performance.eventLoopUtilization(elu).utilization;
  const cpuUsed = process.cpuUsage(cpu);
  await producer.stop();
  await pipeline.close();
  await pool.close();
  await state.close();
  if (finalized !== TXS) throw new Error(`only ${finalized} of ${TXS} transactions became final`);
  const commitMs = commitTimes.reduce((sum, t) => sum + t, 0);
  return {
    workers,
    txs: TXS,
    seconds: Number(seconds.toFixed(3)),
    finalizedPerSecond: Math.round(TXS / seconds),
    ratioToKernelTimesWorkers: Number((TXS / seconds / (kernelRate * workers)).toFixed(3)),
    blocks: commitTimes.length,
    commitMsPerBlock: Number((commitMs / commitTimes.length).toFixed(2)),
    commitUsPerTx: Number(((commitMs * 1000) / TXS).toFixed(2)),
    commitShareOfWall: Number((commitMs / 1000 / seconds).toFixed(3)),
    mainThreadBusy: Number(mainThreadBusy.toFixed(3)),
    coresUsed: Number(((cpuUsed.user + cpuUsed.system) / 1e6 / seconds).toFixed(2)),
  };
}

const runs: RunResult[] = [];
for (const workers of WORKER_COUNTS) runs.push(await runPipeline(workers));
console.table(runs);
console.log(`kernel batch-verify rate per worker (this run): ${Math.round(kernelRate)} sig/s; target: pipeline ≥ 0.8 × rate × workers`);
writeFileSync(
  join(RESULTS_FOLDER, "pipeline-throughput.json"),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, txs: TXS, blockTxs: BLOCK_TXS, blockIntervalMs: BLOCK_INTERVAL_MS, batchTxs: BATCH_TXS, perWorker, runs }, null, 2),
);
