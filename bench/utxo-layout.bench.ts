/**
 * The UTXO set's layout on LMDB as the set grows (issue 16, session 31; ARCHITECTURE, Storage).
 * Plain timings, one run, the layouts side by side on environments of their own, flushes
 * alternated between them:
 *  - tree: the store's layout before schema version 14, outpoint → owner ‖ amount in one B-tree:
 *    a flush deletes its spent outpoints and puts its created entries, in outpoint order, into a
 *    set of N;
 *  - log: a flush appends its spent outpoints and created entries as chunks under keys of their own
 *    (u64 BE height ‖ part ‖ u32 BE chunk), and once the chunks logged since the last base reach the
 *    base's size, a flush writes the whole set as the new base and deletes everything older: the
 *    store's layout since version 14 (src/store/schema.ts, "utxo"). Its figure is the total CPU of
 *    its flushes, compactions included, per flush.
 * For N = FILLS[i] entries already in the set, FLUSHES flushes of 13,000 spends of entries in the
 * set and 26,000 created entries (16 heights at saturation on the default devnet, 1-input 2-output
 * transfers), each in one fsynced transaction as the store commits: this process's CPU per flush
 * (user + system) and the data file's size. Results: bench/results/utxo-layout.json.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";

const OUTPOINT_BYTES = 36;
const ENTRY_BYTES = 76;
const SPENDS = 13_000;
const CREATES = 26_000;
const FILLS = (process.env.UTXO_LAYOUT_FILLS ?? "100000,1000000,3000000").split(",").map(Number);
const FLUSHES = Number(process.env.UTXO_LAYOUT_FLUSHES ?? 24);
/** Chunk sizes tried for the log: one 4 KiB overflow page, and the MSB body's 8,192 entries. */
const CHUNK_ENTRIES = (process.env.UTXO_LAYOUT_CHUNKS ?? "53,8192").split(",").map(Number);
const RESULTS_FILE = process.env.UTXO_LAYOUT_OUT ?? "bench/results/utxo-layout.json";

const root = mkdtempSync(join(tmpdir(), "ios-utxo-layout-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

/** The set as the benchmark knows it: packed entries, swap-removed when spent. */
class Model {
  entries = new Uint8Array(0);
  count = 0;
  add(packed: Uint8Array): void {
    const needed = (this.count * ENTRY_BYTES) + packed.length;
    if (needed > this.entries.length) {
      const grown = new Uint8Array(Math.max(needed, this.entries.length * 2));
      grown.set(this.entries.subarray(0, this.count * ENTRY_BYTES));
      this.entries = grown;
    }
    this.entries.set(packed, this.count * ENTRY_BYTES);
    this.count += packed.length / ENTRY_BYTES;
  }
  /** Removes `n` random entries; their outpoints, packed. */
  spend(n: number): Uint8Array {
    const out = new Uint8Array(n * OUTPOINT_BYTES);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(Math.random() * this.count) * ENTRY_BYTES;
      out.set(this.entries.subarray(at, at + OUTPOINT_BYTES), i * OUTPOINT_BYTES);
      const last = (this.count - 1) * ENTRY_BYTES;
      this.entries.copyWithin(at, last, last + ENTRY_BYTES);
      this.count--;
    }
    return out;
  }
  snapshot(): Uint8Array {
    return this.entries.subarray(0, this.count * ENTRY_BYTES);
  }
}

interface Layout {
  readonly name: string;
  readonly env: RootDatabase;
  readonly table: Database<Uint8Array, Uint8Array>;
  readonly file: string;
  /** log only: entries per chunk, the next height, bytes logged since the base and the base's. */
  readonly chunkEntries: number;
  height: number;
  logged: number;
  baseBytes: number;
  compactions: number;
}

function openLayout(name: string, chunkEntries = 0): Layout {
  const path = join(root, name);
  const env = open({ path, overlappingSync: false });
  const table = env.openDB<Uint8Array, Uint8Array>({ name: "utxo", keyEncoding: "binary", encoding: "binary" });
  return { name, env, table, file: join(path, "data.mdb"), chunkEntries, height: 1, logged: 0, baseBytes: 0, compactions: 0 };
}

function logKey(height: number, part: number, chunk: number): Uint8Array {
  const key = new Uint8Array(13);
  const view = new DataView(key.buffer);
  view.setBigUint64(0, BigInt(height));
  key[8] = part;
  view.setUint32(9, chunk);
  return key;
}

function byOutpoint(packed: Uint8Array, stride: number): Uint8Array[] {
  const items = [];
  for (let at = 0; at < packed.length; at += stride) items.push(packed.subarray(at, at + stride));
  return items.sort((a, b) => Buffer.compare(a.subarray(0, OUTPOINT_BYTES), b.subarray(0, OUTPOINT_BYTES)));
}

function appendChunks(layout: Layout, part: number, packed: Uint8Array, stride: number): void {
  const bytes = layout.chunkEntries * stride;
  for (let at = 0, chunk = 0; at < packed.length; at += bytes, chunk++) layout.table.put(logKey(layout.height, part, chunk), packed.subarray(at, at + bytes));
}

/** One flush, one fsynced transaction; µs of this process's CPU. */
function flush(layout: Layout, spent: Uint8Array, created: Uint8Array, set: Model): number {
  const before = process.cpuUsage();
  if (layout.chunkEntries === 0) {
    const deletes = byOutpoint(spent, OUTPOINT_BYTES);
    const puts = byOutpoint(created, ENTRY_BYTES);
    layout.env.transactionSync(() => {
      for (const key of deletes) layout.table.remove(key);
      for (const entry of puts) layout.table.put(entry.subarray(0, OUTPOINT_BYTES), entry.subarray(OUTPOINT_BYTES));
    });
  } else {
    const compact = layout.logged + spent.length + created.length >= layout.baseBytes;
    layout.env.transactionSync(() => {
      if (compact) {
        for (const key of layout.table.getKeys({ end: logKey(layout.height, 0, 0) })) layout.table.remove(key);
        appendChunks(layout, 0, set.snapshot(), ENTRY_BYTES);
      } else {
        appendChunks(layout, 1, spent, OUTPOINT_BYTES);
        appendChunks(layout, 2, created, ENTRY_BYTES);
      }
    });
    if (compact) {
      layout.baseBytes = set.count * ENTRY_BYTES;
      layout.logged = 0;
      layout.compactions++;
    } else layout.logged += spent.length + created.length;
    layout.height++;
  }
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const round1 = (value: number) => Math.round(value * 10) / 10;
const layouts = [openLayout("tree"), ...CHUNK_ENTRIES.map((n) => openLayout(`log-${n}`, n))];
const set = new Model();
const rows = [];
for (const entries of FILLS) {
  // Untimed fill: the same created entries into every layout (each log compacts as it goes).
  while (set.count < entries) {
    const created = randomBytes(Math.min(CREATES, entries - set.count) * ENTRY_BYTES);
    set.add(created);
    for (const layout of layouts) flush(layout, new Uint8Array(0), created, set);
  }
  const cpu = new Map(layouts.map((layout) => [layout.name, [] as number[]]));
  const compactionsBefore = new Map(layouts.map((layout) => [layout.name, layout.compactions]));
  for (let i = 0; i < FLUSHES; i++) {
    const spent = set.spend(SPENDS);
    const created = randomBytes(CREATES * ENTRY_BYTES);
    set.add(created);
    const order = i % 2 === 0 ? layouts : [...layouts].reverse();
    for (const layout of order) cpu.get(layout.name)!.push(flush(layout, spent, created, set));
  }
  const row = {
    entriesBefore: entries,
    flushes: FLUSHES,
    spendsPerFlush: SPENDS,
    createdPerFlush: CREATES,
    layouts: layouts.map((layout) => ({
      layout: layout.name,
      cpuMsPerFlush: { median: round1(median(cpu.get(layout.name)!) / 1000), mean: round1(mean(cpu.get(layout.name)!) / 1000) },
      compactions: layout.compactions - compactionsBefore.get(layout.name)!,
      fileMiB: round1(statSync(layout.file).size / 1024 / 1024),
    })),
  };
  rows.push(row);
  console.log(`${entries} entries: ${row.layouts.map((l) => `${l.layout} ${l.cpuMsPerFlush.median} ms median, ${l.cpuMsPerFlush.mean} ms mean (${l.compactions} compactions), ${l.fileMiB} MiB`).join("; ")}`);
}
for (const layout of layouts) await layout.env.close();
writeFileSync(RESULTS_FILE, `${JSON.stringify({ benchmark: "utxo-layout", machine: { cores: availableParallelism(), node: process.version }, rows }, null, 2)}\n`);
console.log(`results: ${RESULTS_FILE}`);
