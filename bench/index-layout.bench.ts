/**
 * The tx index's layout on LMDB as the chain grows (issue 16, session 30; ARCHITECTURE, Storage).
 * Plain timings, one run, both layouts side by side on environments of their own, flushes
 * alternated between them:
 *  - random: the store's layout before schema version 13, txid → location in one B-tree: a flush
 *    puts its W entries, in txid order, into a tree of N;
 *  - runs: each flush appends its W entries, in txid order, as a key range of its own
 *    (u32 BE run number ‖ txid → location): the write side of the store's layout since version 13
 *    (its runs are heights, u64 BE).
 * For N = FILLS[i] entries already indexed, FLUSHES flushes of W = 13,000 entries each (16 heights
 * at saturation on the default devnet), each in one fsynced transaction as the store commits:
 * this process's CPU per flush (user + system) and the data file's growth. Then the read side
 * without the store's map of txid prefixes (src/store/tx-run-map.ts), which sends a lookup to its
 * run: a lookup in the random tree is one get, in bare runs one get per run until it is found (a
 * txid in none costs every run): µs per lookup of an absent txid.
 * Results: bench/results/index-layout.json.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";

const TXID_BYTES = 32;
const RUN_KEY_BYTES = 4 + TXID_BYTES;
/** A flush's index entries at saturation: 16 heights of ~800 transactions. */
const FLUSH_ENTRIES = 13_000;
const FILLS = (process.env.INDEX_LAYOUT_FILLS ?? "100000,1000000,3000000").split(",").map(Number);
const FLUSHES = Number(process.env.INDEX_LAYOUT_FLUSHES ?? 8);
const LOOKUPS = 2_000;
const RESULTS_FILE = process.env.INDEX_LAYOUT_OUT ?? "bench/results/index-layout.json";

const root = mkdtempSync(join(tmpdir(), "ios-index-layout-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

interface Layout {
  readonly env: RootDatabase;
  readonly table: Database<Uint8Array, Uint8Array>;
  readonly file: string;
  runs: number;
}

function openLayout(name: string): Layout {
  const path = join(root, name);
  const env = open({ path, overlappingSync: false });
  const table = env.openDB<Uint8Array, Uint8Array>({ name: "index", keyEncoding: "binary", encoding: "binary" });
  return { env, table, file: join(path, "data.mdb"), runs: 0 };
}

/** W random txids in ascending order, packed. */
function sortedTxids(count: number): Uint8Array[] {
  const arena = randomBytes(count * TXID_BYTES);
  const txids = Array.from({ length: count }, (_, i) => arena.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES));
  return txids.sort(Buffer.compare);
}

const LOCATION = new Uint8Array(8);

function runKey(run: number, txid: Uint8Array): Uint8Array {
  const key = new Uint8Array(RUN_KEY_BYTES);
  new DataView(key.buffer).setUint32(0, run);
  key.set(txid, 4);
  return key;
}

/** One flush of `txids` into `layout`, one fsynced transaction; µs of this process's CPU. */
function flush(layout: Layout, kind: "random" | "runs", txids: readonly Uint8Array[]): number {
  const before = process.cpuUsage();
  const run = layout.runs++;
  layout.env.transactionSync(() => {
    for (const txid of txids) layout.table.put(kind === "random" ? txid : runKey(run, txid), LOCATION);
  });
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** Fills `layout` to `entries` with flushes of FLUSH_ENTRIES (untimed). */
function fill(layout: Layout, kind: "random" | "runs", entries: number, already: number): void {
  for (let done = already; done < entries; done += FLUSH_ENTRIES) flush(layout, kind, sortedTxids(Math.min(FLUSH_ENTRIES, entries - done)));
}

/** µs per lookup of a txid the index does not hold (the costliest case of the runs layout). */
function lookupUs(layout: Layout, kind: "random" | "runs"): number {
  const probes = sortedTxids(LOOKUPS);
  const started = process.hrtime.bigint();
  let found = 0;
  for (const txid of probes) {
    if (kind === "random") found += layout.table.get(txid) === undefined ? 0 : 1;
    else for (let run = layout.runs - 1; run >= 0; run--) if (layout.table.get(runKey(run, txid)) !== undefined) found++;
  }
  if (found !== 0) throw new Error("a random txid was found");
  return Number(process.hrtime.bigint() - started) / 1000 / LOOKUPS;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const random = openLayout("random");
const runs = openLayout("runs");
const rows = [];
let filled = 0;
for (const entries of FILLS) {
  fill(random, "random", entries, filled);
  fill(runs, "runs", entries, filled);
  filled = entries;
  const cpu = { random: [] as number[], runs: [] as number[] };
  const growth = { random: 0, runs: 0 };
  for (let i = 0; i < FLUSHES; i++) {
    const txids = sortedTxids(FLUSH_ENTRIES);
    for (const kind of i % 2 === 0 ? (["random", "runs"] as const) : (["runs", "random"] as const)) {
      const layout = kind === "random" ? random : runs;
      const size = statSync(layout.file).size;
      cpu[kind].push(flush(layout, kind, txids));
      growth[kind] += statSync(layout.file).size - size;
    }
  }
  filled += FLUSHES * FLUSH_ENTRIES;
  const row = {
    indexedEntries: entries,
    flushEntries: FLUSH_ENTRIES,
    flushes: FLUSHES,
    cpuMsPerFlush: { random: Math.round(median(cpu.random) / 100) / 10, runs: Math.round(median(cpu.runs) / 100) / 10 },
    runsOverRandom: Math.round((median(cpu.runs) / median(cpu.random)) * 1000) / 1000,
    fileGrowthMiBPerFlush: { random: Math.round(growth.random / FLUSHES / 1024 / 102.4) / 10, runs: Math.round(growth.runs / FLUSHES / 1024 / 102.4) / 10 },
    runsHeld: runs.runs,
    absentLookupUs: { random: Math.round(lookupUs(random, "random") * 10) / 10, runs: Math.round(lookupUs(runs, "runs") * 10) / 10 },
  };
  rows.push(row);
  console.log(
    `${entries} indexed: a flush of ${FLUSH_ENTRIES} costs ${row.cpuMsPerFlush.random} ms of CPU into the one tree, ${row.cpuMsPerFlush.runs} ms as a run of its own (${row.runsOverRandom}×); ` +
      `file growth ${row.fileGrowthMiBPerFlush.random} and ${row.fileGrowthMiBPerFlush.runs} MiB per flush; an absent txid: ${row.absentLookupUs.random} µs, ${row.absentLookupUs.runs} µs over ${row.runsHeld} runs`,
  );
}
await random.env.close();
await runs.env.close();
writeFileSync(RESULTS_FILE, `${JSON.stringify({ benchmark: "index-layout", machine: { cores: availableParallelism(), node: process.version }, rows }, null, 2)}\n`);
console.log(`results: ${RESULTS_FILE}`);
