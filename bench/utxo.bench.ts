/**
 * UTXO validation (stateful apply) rate, one run, side by side: the WASM table (SIMD and scalar
 * builds, through UtxoTable.applyBlock) against a JavaScript `Map` implementing the same rules
 * over the same packed apply records (string keys, bigint amounts).
 *
 * Suite 1 ("growth"): per op, a fresh table loaded with 2,000 genesis outputs applies 50 blocks of
 * 2,000 one-input two-output transfers, each spending the previous block's change output, so the
 * table grows from 2k to 102k entries inside the op (WASM: through incremental doublings); the
 * SIMD build runs it also with the undo journal a PoB execution keeps.
 * Suite 2 ("steady, 1M entries"): both tables hold 1,000,000 background entries; per op, a block
 * of 2,000 one-input two-output splits and a block of 2,000 two-input one-output merges that
 * recreate the original outpoints (the records reuse the spent txids), so the state is identical
 * after every op and the tables stay at 1M entries. Half of suite 2's transactions are merges.
 * Both implementations' statuses are checked equal (all OK) before timing.
 * Output: bench/results/utxo.json, bench/results/utxo-steady.json (benny) and
 * bench/results/utxo-rates.json (transactions per second and ratios against the Map).
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { encodeTransferRecord } from "../src/ledger/kinds/transfer.js";
import { RecordCursor } from "../src/ledger/records.js";
import { ApplyStatus, ENTRY_BYTES, UtxoTable, packEntry } from "../src/ledger/utxo-table.js";

const RESULTS_FOLDER = "bench/results";
const OWNERS = Array.from({ length: 256 }, () => Uint8Array.from(randomBytes(32)));
const BLOCK_TXS = 2000;
const GROWTH_BLOCKS = 50;
const BACKGROUND_ENTRIES = 1_000_000;

interface RecordIn { txid: Uint8Array; index: number; owner: Uint8Array }
interface RecordOut { owner: Uint8Array; amount: bigint }
interface Rec { txid: Uint8Array; inputs: RecordIn[]; outputs: RecordOut[] }

function packRecords(records: readonly Rec[]): Uint8Array {
  return Buffer.concat(records.map((r) => encodeTransferRecord(r.txid, r.inputs, r.outputs)));
}

/** The reference: the same rules as assembly/utxo applyBlock, on a Map, reading the same records. */
class MapUtxoSet {
  private readonly map = new Map<string, { owner: string; amount: bigint }>();
  supply = 0n;

  insertEntries(packed: Uint8Array): void {
    const buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let at = 0; at < packed.length; at += ENTRY_BYTES) {
      const amount = buffer.readBigUInt64LE(at + 68);
      this.map.set(buffer.toString("latin1", at, at + 36), { owner: buffer.toString("latin1", at + 36, at + 68), amount });
      this.supply += amount;
    }
  }

  applyBlock(records: Uint8Array, count: number): Uint8Array {
    const statuses = new Uint8Array(count);
    const keys: string[] = [];
    const cursor = new RecordCursor(records);
    for (let t = 0; t < count; t++, cursor.next()) statuses[t] = this.applyOne(cursor, keys);
    return statuses;
  }

  private applyOne(record: RecordCursor, keys: string[]): number {
    keys.length = 0;
    let sumIn = 0n;
    for (let i = 0; i < record.inputCount; i++) {
      const key = latin1(record.outpoint(i));
      if (keys.includes(key)) return ApplyStatus.DuplicateInput;
      keys.push(key);
      const entry = this.map.get(key);
      if (entry === undefined) return ApplyStatus.MissingInput;
      if (entry.owner !== latin1(record.inputOwner(i))) return ApplyStatus.OwnerMismatch;
      sumIn += entry.amount;
    }
    let sumOut = 0n;
    for (let j = 0; j < record.outputCount; j++) {
      const amount = record.outputAmount(j);
      if (amount === 0n) return ApplyStatus.Malformed;
      sumOut += amount;
    }
    if (sumOut >= 1n << 64n) return ApplyStatus.OutputOverflow;
    if (sumIn < sumOut) return ApplyStatus.InsufficientFunds;
    const txid = latin1(record.txid);
    const outputKeys: string[] = [];
    for (let j = 0; j < record.outputCount; j++) {
      const key = txid + String.fromCharCode(j & 0xff, (j >>> 8) & 0xff, 0, 0);
      if (this.map.has(key)) return ApplyStatus.OutputExists;
      outputKeys.push(key);
    }
    for (const key of keys) this.map.delete(key);
    for (let j = 0; j < record.outputCount; j++) {
      this.map.set(outputKeys[j]!, { owner: latin1(record.outputOwner(j)), amount: record.outputAmount(j) });
    }
    this.supply += sumOut - sumIn;
    return ApplyStatus.Ok;
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function packedEntries(entries: { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[]): Uint8Array {
  const packed = new Uint8Array(entries.length * ENTRY_BYTES);
  entries.forEach((entry, k) => packEntry(entry, packed, k * ENTRY_BYTES));
  return packed;
}

// Suite 1 workload: a chain of change outputs per genesis output.
const START_AMOUNT = 1_000_000_000_000n;
const growthGenesis = Array.from({ length: BLOCK_TXS }, (_, i) => ({ txid: Uint8Array.from(randomBytes(32)), index: 0, owner: OWNERS[i % OWNERS.length]!, amount: START_AMOUNT }));
const growthGenesisPacked = packedEntries(growthGenesis);
const growthBlocks: Uint8Array[] = [];
{
  let spendable: { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[] = growthGenesis;
  for (let block = 0; block < GROWTH_BLOCKS; block++) {
    const records: Rec[] = spendable.map((input, i) => ({
      txid: Uint8Array.from(randomBytes(32)),
      inputs: [{ txid: input.txid, index: input.index, owner: input.owner }],
      outputs: [{ owner: OWNERS[(i + block) % OWNERS.length]!, amount: 1000n }, { owner: input.owner, amount: input.amount - 1001n }],
    }));
    spendable = records.map((r) => ({ txid: r.txid, index: 1, owner: r.outputs[1]!.owner, amount: r.outputs[1]!.amount }));
    growthBlocks.push(packRecords(records));
  }
}

/** `undoable`: with the undo journal a PoB execution keeps (about 5% of the rate); without it, as replay and commits apply. */
function growthRunWasm(flavor: "simd" | "scalar", undoable = false): number {
  const table = new UtxoTable({ flavor });
  table.insertEntries(growthGenesisPacked);
  let applied = 0;
  for (const block of growthBlocks) applied += table.applyBlock(block, BLOCK_TXS, undoable).applied;
  return applied;
}

function growthRunMap(): number {
  const set = new MapUtxoSet();
  set.insertEntries(growthGenesisPacked);
  let applied = 0;
  for (const block of growthBlocks) applied += set.applyBlock(block, BLOCK_TXS).filter((s) => s === ApplyStatus.Ok).length;
  return applied;
}

/** Every implementation applies every transaction before its speed means anything. */
function checkGrowthAgreement(): void {
  const total = GROWTH_BLOCKS * BLOCK_TXS;
  const applied = { simd: growthRunWasm("simd"), scalar: growthRunWasm("scalar"), map: growthRunMap() };
  for (const [name, count] of Object.entries(applied)) if (count !== total) throw new Error(`growth: ${name} applied ${count} of ${total}`);
}
checkGrowthAgreement();

const perOp = new Map<string, number>();
function add(name: string, transactions: number, run: () => unknown) {
  perOp.set(name, transactions);
  return b.add(name, run);
}

interface Rate { name: string; txPerSecond: number; marginPercent: number }
const allRates: Record<string, Rate[]> = {};
const MAP = "JS Map (same rules)";

function report(suite: string) {
  return b.complete((summary) => {
    const rates: Rate[] = summary.results.map((result) => ({
      name: result.name,
      txPerSecond: Math.round(perOp.get(result.name)! / result.details.mean),
      marginPercent: result.margin,
    }));
    allRates[suite] = rates;
    const reference = rates.find((rate) => rate.name === MAP)!.txPerSecond;
    console.table(rates.map((rate) => ({ case: rate.name, "k tx/s": Math.round(rate.txPerSecond / 1000), "±%": rate.marginPercent, [`× ${MAP}`]: +(rate.txPerSecond / reference).toFixed(2) })));
  });
}

const options = b.configure({ cases: { minTime: 1, maxTime: 4 } });
const growthTxs = GROWTH_BLOCKS * BLOCK_TXS;

await b.suite(
  `UTXO apply, growth: fresh table, ${GROWTH_BLOCKS} blocks × ${BLOCK_TXS} 1-in-2-out transfers per op`,
  options,
  add("WASM table (simd)", growthTxs, () => growthRunWasm("simd")),
  add("WASM table (simd, undo journal)", growthTxs, () => growthRunWasm("simd", true)),
  add("WASM table (scalar)", growthTxs, () => growthRunWasm("scalar")),
  add(MAP, growthTxs, growthRunMap),
  b.cycle(),
  report("growth"),
  b.save({ file: "utxo", folder: RESULTS_FOLDER, format: "json" }),
);

/**
 * Suite 2's state and workload, built only after suite 1 so that suite 1 runs on a small heap:
 * 1M background entries in each table, and split/merge blocks that bring the state back.
 */
function steadyWorkload() {
  const background = packedEntries(Array.from({ length: BACKGROUND_ENTRIES }, (_, i) => ({ txid: Uint8Array.from(randomBytes(32)), index: 0, owner: OWNERS[i % OWNERS.length]!, amount: 1000n })));
  const steadyEntries = background.subarray(0, BLOCK_TXS * ENTRY_BYTES);
  const splits: Rec[] = [];
  const merges: Rec[] = [];
  for (let k = 0; k < BLOCK_TXS; k++) {
    const at = k * ENTRY_BYTES;
    const txid = steadyEntries.slice(at, at + 32);
    const owner = steadyEntries.slice(at + 36, at + 68);
    const splitTxid = Uint8Array.from(randomBytes(32));
    splits.push({ txid: splitTxid, inputs: [{ txid, index: 0, owner }], outputs: [{ owner: OWNERS[k % OWNERS.length]!, amount: 400n }, { owner, amount: 600n }] });
    // The merge reuses the spent entry's txid, so its output 0 is the original outpoint (txid, 0).
    merges.push({ txid, inputs: [{ txid: splitTxid, index: 0, owner: OWNERS[k % OWNERS.length]! }, { txid: splitTxid, index: 1, owner }], outputs: [{ owner, amount: 1000n }] });
  }
  const splitRecords = packRecords(splits);
  const mergeRecords = packRecords(merges);

  const steadyTables = {
    simd: new UtxoTable({ flavor: "simd", initialCapacityLog2: 21 }),
    scalar: new UtxoTable({ flavor: "scalar", initialCapacityLog2: 21 }),
  };
  steadyTables.simd.insertEntries(background);
  steadyTables.scalar.insertEntries(background);
  const steadyMap = new MapUtxoSet();
  steadyMap.insertEntries(background);

  const runWasm = (table: UtxoTable) => table.applyBlock(splitRecords, BLOCK_TXS, false).applied + table.applyBlock(mergeRecords, BLOCK_TXS, false).applied;
  const ok = (statuses: Uint8Array) => statuses.filter((s) => s === ApplyStatus.Ok).length;
  const runMap = () => ok(steadyMap.applyBlock(splitRecords, BLOCK_TXS)) + ok(steadyMap.applyBlock(mergeRecords, BLOCK_TXS));
  const runs = { simd: () => runWasm(steadyTables.simd), scalar: () => runWasm(steadyTables.scalar), map: runMap };
  for (const [name, run] of Object.entries(runs)) {
    const applied = run();
    if (applied !== 2 * BLOCK_TXS) throw new Error(`steady: ${name} applied ${applied} of ${2 * BLOCK_TXS}`);
  }
  for (const table of Object.values(steadyTables)) {
    if (table.count !== BACKGROUND_ENTRIES || table.supply !== 1000n * BigInt(BACKGROUND_ENTRIES)) throw new Error("steady state drifted");
  }
  return runs;
}


const steady = steadyWorkload();

await b.suite(
  `UTXO apply, steady at ${BACKGROUND_ENTRIES} entries: ${BLOCK_TXS} splits + ${BLOCK_TXS} merges per op`,
  options,
  add("WASM table (simd)", 2 * BLOCK_TXS, steady.simd),
  add("WASM table (scalar)", 2 * BLOCK_TXS, steady.scalar),
  add(MAP, 2 * BLOCK_TXS, steady.map),
  b.cycle(),
  report("steady"),
  b.save({ file: "utxo-steady", folder: RESULTS_FOLDER, format: "json" }),
);

writeFileSync(`${RESULTS_FOLDER}/utxo-rates.json`, JSON.stringify(allRates, null, 2) + "\n");
