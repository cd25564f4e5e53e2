/**
 * LMDB store costs (DESIGN.md §3), one run:
 *
 * Suite "store" (benny, bench/results/store.json), side by side on one environment:
 *  - appending a block of 1,000 transactions (250 KB body, its hash, 1,000 txid index entries, the
 *    tip) in one fsynced transaction, against the same append without the txid index and against
 *    a raw lmdb-js put of the block alone on a `noSync` environment (the floor);
 *  - a UTXO flush of 48,000 created entries (16 blocks × 3,000 net changes) logged with a block in
 *    one transaction (schema.ts, "The UTXO log"), against logging each block's 3,000 with its block
 *    (16 fsyncs); each case writes to its own environment. The log's cost against the outpoint-keyed
 *    tree it replaced, as the set grows: bench/utxo-layout.bench.ts.
 * Plain timings (bench/results/store-restart.json): a shard with 1,000,000 UTXOs — time to reopen
 * it in a fresh process (genesis id check, load of the flushed set into the WASM table) with no
 * tail and with a 15-block unflushed tail to replay, and the end-to-end `commitBlock` cost of
 * 1,000-transaction blocks on it (validate, apply, append; every 16th block also flushes).
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "lmdb";
import { FLUSH_INTERVAL_BLOCKS, ShardState } from "../src/node/shard-state.js";
import { LmdbChainStore } from "../src/store/chain-store.js";
import { ChainBuilder, makeWorkload } from "../test/store/workload.js";

const RESULTS_FOLDER = "bench/results";
const TXS_PER_BLOCK = 1000;
const BLOCK_BYTES = 250_000;
const FLUSH_WRITES = 48_000;
const PER_BLOCK_WRITES = 3_000;
const RESTART_UTXOS = 1_000_000;
const CASE_OPTIONS = { minSamples: 10, maxTime: 3 };

const root = mkdtempSync(join(tmpdir(), "ios-store-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

// ---- suite: commit and flush costs -------------------------------------------------------------
const store = LmdbChainStore.open(join(root, "commit"));
store.initialize({ shard: 0, genesisId: randomBytes(32) }, Buffer.alloc(0));
const blockBody = randomBytes(BLOCK_BYTES);
const positions = Array.from({ length: TXS_PER_BLOCK }, (_, i) => i);
const floorEnv = open({ path: join(root, "floor"), noSync: true });
const floorBlocks = floorEnv.openDB<Buffer, Buffer>({ name: "blocks", keyEncoding: "binary", encoding: "binary" });
let floorHeight = 0;

let utxoCount = 0;
const NO_BYTES = new Uint8Array(0);
/** `blocks` created entries' worth of a flush (76 bytes each), one arena as the delta's parts are. */
function createdEntries(count: number): Uint8Array {
  utxoCount += count;
  return randomBytes(76 * count);
}
/** Appends an index-less block to `target` carrying `created` as its flush. */
function appendWithFlush(target: LmdbChainStore, created: Uint8Array): void {
  target.appendBlock({ height: target.tip.height + 1, hash: randomBytes(32), bytes: blockBody, txids: NO_BYTES, positions: [] }, { spent: NO_BYTES, created, count: utxoCount, supply: 0n });
}
/** The per-block reference flushes into an environment of its own. */
const perBlockStore = LmdbChainStore.open(join(root, "per-block"));
perBlockStore.initialize({ shard: 0, genesisId: randomBytes(32) }, Buffer.alloc(0));

const timed: Record<string, number[]> = {};
function time(name: string, action: () => void): void {
  const start = performance.now();
  action();
  (timed[name] ??= []).push(performance.now() - start);
}

await b.suite(
  "store",
  b.add("append block, 1000 txids indexed, fsync", () => {
    store.appendBlock({ height: store.tip.height + 1, hash: randomBytes(32), bytes: blockBody, txids: randomBytes(32 * TXS_PER_BLOCK), positions });
  }, CASE_OPTIONS),
  b.add("append block, no tx index, fsync", () => {
    store.appendBlock({ height: store.tip.height + 1, hash: randomBytes(32), bytes: blockBody, txids: new Uint8Array(0), positions: [] });
  }, CASE_OPTIONS),
  b.add("reference: raw put of the block alone, noSync", () => {
    floorBlocks.putSync(Buffer.from(String(++floorHeight).padStart(12, "0")), blockBody);
  }, CASE_OPTIONS),
  b.add("flush 16 blocks' UTXO delta at once: 48k entries logged with a block, 1 fsync", () => {
    const created = createdEntries(FLUSH_WRITES);
    time("batched", () => appendWithFlush(store, created));
  }, CASE_OPTIONS),
  b.add("flush every block: 16 x 3k entries logged with their blocks, 16 fsyncs", () => {
    const created = createdEntries(FLUSH_WRITES);
    time("perBlock", () => {
      for (let k = 0; k < FLUSH_WRITES; k += PER_BLOCK_WRITES) appendWithFlush(perBlockStore, created.subarray(k * 76, (k + PER_BLOCK_WRITES) * 76));
    });
  }, CASE_OPTIONS),
  b.cycle(),
  b.complete((summary) => {
    const ops = Object.fromEntries(summary.results.map((r) => [r.name, r.ops]));
    const indexed = ops["append block, 1000 txids indexed, fsync"]!;
    console.log(`append: with index ${(1000 / indexed).toFixed(2)} ms/block; without index ${(ops["append block, no tx index, fsync"]! / indexed).toFixed(2)}x faster; noSync raw put ${(ops["reference: raw put of the block alone, noSync"]! / indexed).toFixed(1)}x faster`);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const batched = mean(timed.batched!);
    console.log(`48k UTXO entries: one logged flush ${batched.toFixed(1)} ms; one per block ${mean(timed.perBlock!).toFixed(1)} ms (${(mean(timed.perBlock!) / batched).toFixed(2)}x)`);
  }),
  b.save({ file: "store", folder: RESULTS_FOLDER, format: "json" }),
);
await store.close();
await floorEnv.close();
await perBlockStore.close();

// ---- restart with 1M UTXOs, and end-to-end commits on it --------------------------------------
const WORKLOAD_ARGS = ["store bench", 1000, RESTART_UTXOS / 1000] as const;
/** 2^40 per output keeps the 1M-output genesis supply within u64. */
const OUTPUT_AMOUNT = 1n << 40n;
const workload = makeWorkload(...WORKLOAD_ARGS, OUTPUT_AMOUNT);

/**
 * Reopens `directory` in a fresh process, as a restarting validator would: this process's heap
 * (a million-entry builder) would otherwise slow the measured load through GC.
 */
function restartInChild(directory: string): { ms: number; height: number; flushed: number; count: number } {
  const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    import { ShardState } from ${module("../src/node/shard-state.js")};
    import { makeWorkload } from ${module("../test/store/workload.js")};
    const workload = makeWorkload(${WORKLOAD_ARGS.map((a) => JSON.stringify(a)).join(", ")}, ${OUTPUT_AMOUNT}n);
    const start = performance.now();
    const state = ShardState.open({ directory: ${JSON.stringify(directory)}, genesis: workload.genesis, shard: 0 });
    const ms = performance.now() - start;
    console.log(JSON.stringify({ ms, height: state.tip.height, flushed: state.flushedHeight, count: state.utxoCount }));`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`restart child failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { ms: number; height: number; flushed: number; count: number };
}

const directory = join(root, "restart");
let start = performance.now();
let state = ShardState.open({ directory, genesis: workload.genesis, shard: 0 });
const initializeMs = performance.now() - start;
await state.close();
const restart = restartInChild(directory);

state = ShardState.open({ directory, genesis: workload.genesis, shard: 0 });
const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
const commitMs: number[] = [];
const flushCommitMs: number[] = [];
for (let i = 0; i < 2 * FLUSH_INTERVAL_BLOCKS - 1; i++) {
  const block = builder.nextBlock(TXS_PER_BLOCK);
  start = performance.now();
  const result = state.commitBlock(block.bytes);
  (result.flushed ? flushCommitMs : commitMs).push(performance.now() - start);
}
// Copy the store with its 15-block unflushed tail, as a crash would leave it, before close flushes.
const tailDirectory = join(root, "restart-tail");
cpSync(directory, tailDirectory, { recursive: true });
await state.close();
const restartWithTail = restartInChild(tailDirectory);

const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
const figures = {
  utxos: restart.count,
  initializeGenesisMs: Math.round(initializeMs),
  restartNoTailMs: Math.round(restart.ms),
  restartWithTailMs: Math.round(restartWithTail.ms),
  tailBlocks: restartWithTail.height - restartWithTail.flushed,
  tailTxs: (restartWithTail.height - restartWithTail.flushed) * TXS_PER_BLOCK,
  commitBlockMs: Number(mean(commitMs).toFixed(2)),
  commitBlockWithFlushMs: Number(mean(flushCommitMs).toFixed(2)),
  txsPerBlock: TXS_PER_BLOCK,
  flushIntervalBlocks: FLUSH_INTERVAL_BLOCKS,
};
console.log(figures);
writeFileSync(join(RESULTS_FOLDER, "store-restart.json"), JSON.stringify(figures, null, 2) + "\n");
