import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { genesisEntries, genesisSupply, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { ApplyStatus, ENTRY_BYTES, UtxoTable, packEntry, unpackEntry } from "../../src/ledger/utxo-table.js";
import { RECORD_HEADER } from "../../src/ledger/kinds/interface.js";
import { encodeTransferRecord } from "../../src/ledger/kinds/transfer.js";
import { RecordCursor } from "../../src/ledger/records.js";
import { ACCOUNTS, TestRng, hex, signedTransfer } from "./helpers.js";
import { hasCodeIn } from "../../src/errors.js";
import { codeOf } from "../support/errors.js";
import { LEDGER_ERROR_CODES } from "../../src/ledger/errors.js";

/** A record input/output as the tests build them. */
interface In { key: Uint8Array; owner: Uint8Array }
interface Out { owner: Uint8Array; amount: bigint }
interface Rec { txid: Uint8Array; inputs: In[]; outputs: Out[] }

function key(txid: Uint8Array, index: number): Uint8Array {
  const k = new Uint8Array(36);
  k.set(txid);
  new DataView(k.buffer).setUint32(32, index, true);
  return k;
}

/** Packs records in the Transfer apply-record layout, through the kind's own record encoder. */
function packRecords(records: readonly Rec[]): Uint8Array {
  return Buffer.concat(records.map((r) => encodeTransferRecord(
    r.txid,
    r.inputs.map((i) => ({ txid: i.key.subarray(0, 32), index: Buffer.from(i.key).readUInt32LE(32), owner: i.owner })),
    r.outputs,
  )));
}

/**
 * The plain TypeScript model of the same rules, in the same order of checks, reading the packed
 * records through the record walker: comparing it with the kernel checks both readers of the
 * record layout against each other (the differential test of walker and WASM apply).
 */
class ModelTable {
  readonly map = new Map<string, { owner: string; amount: bigint }>();
  supply = 0n;
  insert(k: Uint8Array, owner: Uint8Array, amount: bigint): void {
    this.map.set(hex(k), { owner: hex(owner), amount });
    this.supply += amount;
  }
  /** One status per record of `records`, applying those that pass. */
  applyAll(records: Uint8Array): number[] {
    const statuses: number[] = [];
    for (const cursor = new RecordCursor(records); !cursor.done; cursor.next()) statuses.push(this.apply(cursor));
    return statuses;
  }
  private apply(r: RecordCursor): number {
    const keys = Array.from({ length: r.inputCount }, (_, i) => hex(r.outpoint(i)));
    if (new Set(keys).size !== keys.length) return ApplyStatus.DuplicateInput;
    let sumIn = 0n;
    for (let i = 0; i < r.inputCount; i++) {
      const entry = this.map.get(keys[i]!);
      if (entry === undefined) return ApplyStatus.MissingInput;
      if (entry.owner !== hex(r.inputOwner(i))) return ApplyStatus.OwnerMismatch;
      sumIn += entry.amount;
    }
    let sumOut = 0n;
    for (let j = 0; j < r.outputCount; j++) {
      const amount = r.outputAmount(j);
      if (amount === 0n) return ApplyStatus.Malformed;
      sumOut += amount;
      if (sumOut >= 1n << 64n) return ApplyStatus.OutputOverflow;
    }
    if (sumIn < sumOut) return ApplyStatus.InsufficientFunds;
    const outputKeys = Array.from({ length: r.outputCount }, (_, j) => hex(key(r.txid, j)));
    if (outputKeys.some((k) => this.map.has(k))) return ApplyStatus.OutputExists;
    for (const k of keys) this.map.delete(k);
    outputKeys.forEach((k, j) => this.map.set(k, { owner: hex(r.outputOwner(j)), amount: r.outputAmount(j) }));
    this.supply += sumOut - sumIn;
    return ApplyStatus.Ok;
  }
}

function contents(table: UtxoTable): Map<string, { owner: string; amount: bigint }> {
  const map = new Map<string, { owner: string; amount: bigint }>();
  for (const e of table.entries()) map.set(hex(key(e.txid, e.index)), { owner: hex(e.owner), amount: e.amount });
  return map;
}

/** A persisted copy maintained only from BlockDeltas, as the LMDB flush will. */
function applyDelta(persisted: Map<string, string>, created: Uint8Array, spent: Uint8Array): void {
  for (let at = 0; at < spent.length; at += 36) {
    const k = hex(spent.subarray(at, at + 36));
    assert.ok(persisted.delete(k), "a spent key must have been persisted before");
  }
  for (let at = 0; at < created.length; at += ENTRY_BYTES) {
    const k = hex(created.subarray(at, at + 36));
    assert.ok(!persisted.has(k), "a created key must be new");
    persisted.set(k, hex(created.subarray(at + 36, at + ENTRY_BYTES)));
  }
}

function snapshotMap(table: UtxoTable): Map<string, string> {
  const packed = table.snapshot();
  const map = new Map<string, string>();
  for (let at = 0; at < packed.length; at += ENTRY_BYTES) map.set(hex(packed.subarray(at, at + 36)), hex(packed.subarray(at + 36, at + ENTRY_BYTES)));
  return map;
}

const owners = ACCOUNTS.map((a) => a.publicKey);

for (const flavor of WASM_FLAVORS) {
  describe(`UTXO table (${flavor})`, () => {
    it("loads entries, looks them up and tracks count and supply", () => {
      const table = new UtxoTable({ flavor });
      const txid = new TestRng(1).bytes(32);
      table.insertEntries(Uint8Array.from([...packEntry({ txid, index: 0, owner: owners[0]!, amount: 10n }), ...packEntry({ txid, index: 1, owner: owners[1]!, amount: (1n << 63n) })]));
      assert.equal(table.count, 2);
      assert.equal(table.supply, (1n << 63n) + 10n);
      assert.deepEqual(table.get(txid, 1), { owner: owners[1], amount: 1n << 63n });
      assert.equal(table.get(txid, 2), undefined);
      assert.equal(table.has(txid, 0), true);
      assert.equal(table.has(txid, 2), false);
      assert.deepEqual(table.get(txid.subarray(0), 0), { owner: owners[0], amount: 10n }, "the owner and amount are the entry's, not a neighbour's");
      for (const [badTxid, badIndex] of [[txid.subarray(1), 0], [txid, -1], [txid, 2 ** 32], [txid, 0.5]] as const) {
        assert.throws(() => table.get(badTxid, badIndex), (error) => hasCodeIn(error, LEDGER_ERROR_CODES) && error.code === "TX_BAD_FIELD");
        assert.throws(() => table.has(badTxid, badIndex), (error) => hasCodeIn(error, LEDGER_ERROR_CODES) && error.code === "TX_BAD_FIELD");
      }
      const codes = [
        () => table.insert({ txid, index: 0, owner: owners[2]!, amount: 1n }),
        () => table.insert({ txid, index: 5, owner: owners[2]!, amount: 1n << 63n }),
        () => table.insertEntries(new Uint8Array(75)),
        () => table.insert({ txid, index: 5, owner: owners[2]!, amount: 0n }),
      ].map((fn) => {
        try {
          fn();
          return "no error";
        } catch (error) {
          assert.ok(hasCodeIn(error, LEDGER_ERROR_CODES));
          return error.code;
        }
      });
      assert.deepEqual(codes, ["UTXO_DUPLICATE_ENTRY", "UTXO_SUPPLY_OVERFLOW", "UTXO_BAD_INPUT", "UTXO_BAD_INPUT"]);
      assert.equal(table.count, 2);
    });

    it("removes entries by outpoint (a flushed set's logged spends), from a draining table too; stops at one it does not hold", () => {
      const table = new UtxoTable({ flavor, initialCapacityLog2: 4 });
      const rng = new TestRng(21);
      const entries: Uint8Array[] = [];
      // Insert until a growth is under way with enough entries behind it: the oldest are still in the draining table.
      while (entries.length < 100 || !table.growing) {
        const entry = packEntry({ txid: rng.bytes(32), index: rng.below(4), owner: owners[rng.below(8)]!, amount: BigInt(rng.below(1_000) + 1) });
        table.insertEntries(entry);
        entries.push(entry);
      }
      const outpoints = (chosen: readonly Uint8Array[]) => Uint8Array.from(chosen.flatMap((entry) => [...entry.subarray(0, 36)]));
      const removed = entries.filter((_, i) => i % 3 === 0);
      table.removeEntries(outpoints(removed));
      assert.ok(table.growing, "the removals ran while the table was still draining");
      const kept = entries.filter((_, i) => i % 3 !== 0);
      assert.deepEqual(snapshotMap(table), new Map(kept.map((entry) => [hex(entry.subarray(0, 36)), hex(entry.subarray(36))])));
      assert.equal(table.supply, kept.reduce((sum, entry) => sum + unpackEntry(entry).amount, 0n));
      const [first, second] = [kept[0]!, kept[1]!];
      assert.equal(codeOf(() => table.removeEntries(outpoints([first, removed[0]!, second]))), "UTXO_MISSING_ENTRY");
      assert.deepEqual([table.has(unpackEntry(first).txid, unpackEntry(first).index), table.has(unpackEntry(second).txid, unpackEntry(second).index)], [false, true],
        "the outpoints before the absent one are removed, those after it are not");
      assert.equal(codeOf(() => table.removeEntries(new Uint8Array(35))), "UTXO_BAD_INPUT");
      assert.equal(table.count, kept.length - 1);
    });

    it("double spends inside one block and across blocks: only the first spend applies", () => {
      const { genesis, accounts } = makeTestGenesis({ seed: "double spend", shardCount: 1, accounts: 2, amount: 100n, validators: 1 });
      const table = new UtxoTable({ flavor });
      table.insertEntries(genesisEntries(genesis, 0));
      const g = genesisTxid(genesis);
      const [alice, bob] = accounts as [typeof accounts[0], typeof accounts[0]];
      const spend = (to: Uint8Array, amount: bigint) =>
        signedTransfer([{ txid: g, index: 0, owner: alice.publicKey }], [{ owner: to, amount }], accounts).bytes;
      const first = spend(bob.publicKey, 100n);
      const second = spend(alice.publicKey, 99n);
      const block1 = validateStateless(packTransactions([first, second]), 0, 1);
      assert.deepEqual(block1.rejections, [null, null]);
      const delta1 = table.applyBlock(block1.records, block1.recordCount);
      assert.deepEqual([...delta1.statuses], [ApplyStatus.Ok, ApplyStatus.MissingInput]);
      assert.equal(delta1.applied, 1);
      const again = validateStateless(packTransactions([second, first]), 0, 1);
      const delta2 = table.applyBlock(again.records, again.recordCount);
      assert.deepEqual([...delta2.statuses], [ApplyStatus.MissingInput, ApplyStatus.MissingInput]);
      assert.equal(delta2.created.length + delta2.spent.length, 0);
      assert.equal(table.supply, 200n);
      assert.equal(table.count, 2);
    });

    it("a transaction may spend an output created earlier in the same block; the delta cancels it", () => {
      const rng = new TestRng(7);
      const g = rng.bytes(32);
      const table = new UtxoTable({ flavor });
      table.insert({ txid: g, index: 0, owner: owners[0]!, amount: 50n });
      const t1 = rng.bytes(32);
      const t2 = rng.bytes(32);
      const delta = table.applyBlock(packRecords([
        { txid: t1, inputs: [{ key: key(g, 0), owner: owners[0]! }], outputs: [{ owner: owners[1]!, amount: 30n }, { owner: owners[0]!, amount: 20n }] },
        { txid: t2, inputs: [{ key: key(t1, 0), owner: owners[1]! }], outputs: [{ owner: owners[2]!, amount: 29n }] },
      ]), 2);
      assert.deepEqual([...delta.statuses], [0, 0]);
      assert.equal(table.supply, 49n);
      assert.deepEqual(table.get(t2, 0), { owner: owners[2], amount: 29n });
      assert.equal(table.get(t1, 0), undefined);
      assert.deepEqual(delta.spent, key(g, 0));
      const created = [];
      for (let at = 0; at < delta.created.length; at += ENTRY_BYTES) created.push(unpackEntry(delta.created, at));
      assert.deepEqual(created.map((e) => [hex(e.txid), e.index, e.amount]), [[hex(t1), 1, 20n], [hex(t2), 0, 29n]]);
    });

    it("the delta cancels exactly the outputs spent in the block, whichever earlier record created them", () => {
      const rng = new TestRng(8);
      const g = rng.bytes(32);
      const table = new UtxoTable({ flavor });
      table.insertEntries(Uint8Array.from([...packEntry({ txid: g, index: 0, owner: owners[0]!, amount: 50n }), ...packEntry({ txid: g, index: 1, owner: owners[1]!, amount: 40n })]));
      const [a, b, c, d] = [rng.bytes(32), rng.bytes(32), rng.bytes(32), rng.bytes(32)];
      const delta = table.applyBlock(packRecords([
        { txid: a, inputs: [{ key: key(g, 0), owner: owners[0]! }], outputs: [{ owner: owners[2]!, amount: 30n }, { owner: owners[0]!, amount: 20n }] },
        { txid: b, inputs: [{ key: key(g, 1), owner: owners[1]! }], outputs: [{ owner: owners[3]!, amount: 25n }, { owner: owners[1]!, amount: 15n }] },
        // Spends b's second output and a's first: the later creator, then the earlier one.
        { txid: c, inputs: [{ key: key(b, 1), owner: owners[1]! }], outputs: [{ owner: owners[4]!, amount: 15n }] },
        { txid: d, inputs: [{ key: key(a, 0), owner: owners[2]! }], outputs: [{ owner: owners[5]!, amount: 30n }] },
      ]), 4);
      assert.deepEqual([...delta.statuses], [0, 0, 0, 0]);
      assert.deepEqual(hex(delta.spent), hex(Uint8Array.from([...key(g, 0), ...key(g, 1)])));
      const created = [];
      for (let at = 0; at < delta.created.length; at += ENTRY_BYTES) created.push(unpackEntry(delta.created, at));
      assert.deepEqual(created.map((e) => [hex(e.txid), e.index, e.amount]), [[hex(a), 1, 20n], [hex(b), 0, 25n], [hex(c), 0, 15n], [hex(d), 0, 30n]]);
    });

    it("each failure leaves the table untouched and reports its status", () => {
      const rng = new TestRng(8);
      const g = rng.bytes(32);
      const table = new UtxoTable({ flavor });
      table.insert({ txid: g, index: 0, owner: owners[0]!, amount: 50n });
      table.insert({ txid: g, index: 1, owner: owners[1]!, amount: 60n });
      const a = { key: key(g, 0), owner: owners[0]! };
      const b = { key: key(g, 1), owner: owners[1]! };
      const records: Rec[] = [
        { txid: rng.bytes(32), inputs: [a, { key: key(g, 9), owner: owners[0]! }], outputs: [{ owner: owners[2]!, amount: 1n }] },
        { txid: rng.bytes(32), inputs: [a, { ...b, owner: owners[0]! }], outputs: [{ owner: owners[2]!, amount: 1n }] },
        { txid: rng.bytes(32), inputs: [a, b], outputs: [{ owner: owners[2]!, amount: 100n }, { owner: owners[2]!, amount: 11n }] },
        { txid: rng.bytes(32), inputs: [a], outputs: [{ owner: owners[2]!, amount: (1n << 64n) - 1n }, { owner: owners[2]!, amount: 1n }] },
        { txid: rng.bytes(32), inputs: [a, b, a], outputs: [{ owner: owners[2]!, amount: 1n }] },
        { txid: g, inputs: [b], outputs: [{ owner: owners[2]!, amount: 1n }, { owner: owners[2]!, amount: 1n }] },
        { txid: rng.bytes(32), inputs: [a], outputs: [{ owner: owners[2]!, amount: 0n }] },
      ];
      const before = snapshotMap(table);
      const delta = table.applyBlock(packRecords(records), records.length);
      assert.deepEqual([...delta.statuses], [
        ApplyStatus.MissingInput, ApplyStatus.OwnerMismatch, ApplyStatus.InsufficientFunds, ApplyStatus.OutputOverflow,
        ApplyStatus.DuplicateInput, ApplyStatus.OutputExists, ApplyStatus.Malformed,
      ]);
      assert.equal(delta.applied, 0);
      assert.deepEqual(snapshotMap(table), before);
      assert.equal(table.supply, 110n);
    });

    it("records that do not fit the buffer are Malformed, with every later one", () => {
      const table = new UtxoTable({ flavor });
      const g = new TestRng(9).bytes(32);
      table.insert({ txid: g, index: 0, owner: owners[0]!, amount: 5n });
      const good = packRecords([{ txid: new TestRng(10).bytes(32), inputs: [{ key: key(g, 0), owner: owners[0]! }], outputs: [{ owner: owners[1]!, amount: 5n }] }]);
      const delta = table.applyBlock(good.subarray(0, good.length - 1), 3);
      assert.deepEqual([...delta.statuses], [ApplyStatus.Malformed, ApplyStatus.Malformed, ApplyStatus.Malformed]);
      assert.equal(table.count, 1);
      const noInputs = Uint8Array.from(good);
      noInputs.set([0, 0], RECORD_HEADER.bytes);
      assert.deepEqual([...table.applyBlock(noInputs, 1).statuses], [ApplyStatus.Malformed]);
      const lengthDisagrees = Uint8Array.from([...good, 0]);
      lengthDisagrees.set([good.length + 1], RECORD_HEADER.offset.length);
      assert.deepEqual([...table.applyBlock(lengthDisagrees, 1).statuses], [ApplyStatus.Malformed], "the declared length must match the counts");
    });

    it("a record of a kind the kernel has no case for is UNKNOWN_KIND, and the records after it still apply", () => {
      const table = new UtxoTable({ flavor });
      const g = new TestRng(12).bytes(32);
      table.insert({ txid: g, index: 0, owner: owners[0]!, amount: 5n });
      const spend = packRecords([{ txid: new TestRng(13).bytes(32), inputs: [{ key: key(g, 0), owner: owners[0]! }], outputs: [{ owner: owners[1]!, amount: 5n }] }]);
      const foreign = Uint8Array.from(spend);
      foreign[RECORD_HEADER.offset.kind] = 0xee;
      const delta = table.applyBlock(Buffer.concat([foreign, spend]), 2);
      assert.deepEqual([...delta.statuses], [ApplyStatus.UnknownKind, ApplyStatus.Ok]);
      assert.equal(delta.created.length, ENTRY_BYTES);
      assert.equal(hex(delta.spent), hex(key(g, 0)));
    });

    it("grows across several doublings while applying and keeps every entry", () => {
      const table = new UtxoTable({ flavor, initialCapacityLog2: 4 });
      const rng = new TestRng(11);
      const model = new ModelTable();
      const g = rng.bytes(32);
      table.insert({ txid: g, index: 0, owner: owners[0]!, amount: 1n << 40n });
      model.insert(key(g, 0), owners[0]!, 1n << 40n);
      let spendable: In = { key: key(g, 0), owner: owners[0]! };
      let balance = 1n << 40n;
      let sawGrowing = false;
      // Small blocks (one transaction, nine new entries) so that a drain, which moves 64 buckets
      // per insert, spans several blocks and is visible from outside.
      for (let block = 0; block < 1000; block++) {
        const records: Rec[] = [];
        for (let t = 0; t < 1; t++) {
          const txid = rng.bytes(32);
          const outputs: Out[] = Array.from({ length: 9 }, () => ({ owner: owners[rng.below(8)]!, amount: 1n }));
          balance -= 9n;
          outputs.push({ owner: owners[0]!, amount: balance });
          records.push({ txid, inputs: [spendable], outputs });
          spendable = { key: key(txid, 9), owner: owners[0]! };
        }
        const delta = table.applyBlock(packRecords(records), records.length);
        assert.deepEqual([...delta.statuses], model.applyAll(packRecords(records)));
        sawGrowing ||= table.growing;
      }
      assert.equal(table.count, 1 + 1000 * 9);
      assert.ok(table.capacity >= 16384, `capacity ${table.capacity}`);
      assert.ok(sawGrowing, "growth should be observable between blocks");
      assert.deepEqual(contents(table), model.map);
      assert.equal(table.supply, model.supply);
    });

    it("spends and looks up entries still in the draining table during a growth", () => {
      const table = new UtxoTable({ flavor, initialCapacityLog2: 10 });
      const model = new ModelTable();
      const rng = new TestRng(12);
      const entries: In[] = [];
      while (!table.growing) {
        const txid = rng.bytes(32);
        const owner = owners[rng.below(8)]!;
        table.insert({ txid, index: 0, owner, amount: 10n });
        model.insert(key(txid, 0), owner, 10n);
        entries.push({ key: key(txid, 0), owner });
      }
      assert.equal(table.capacity, 2048);
      // Spend the earliest entries: most of them still sit in the old table's undrained buckets.
      const records: Rec[] = entries.slice(0, 300).map((input) => ({ txid: rng.bytes(32), inputs: [input], outputs: [{ owner: input.owner, amount: 9n }] }));
      records.push({ txid: rng.bytes(32), inputs: [entries[0]!], outputs: [{ owner: entries[0]!.owner, amount: 1n }] });
      const delta = table.applyBlock(packRecords(records), records.length);
      assert.deepEqual([...delta.statuses], model.applyAll(packRecords(records)));
      assert.equal(delta.statuses.at(-1), ApplyStatus.MissingInput);
      assert.equal(table.growing, false);
      assert.deepEqual(contents(table), model.map);
      for (const input of entries.slice(300, 320)) assert.equal(table.get(input.key.subarray(0, 32), 0)?.amount, 10n);
    });

    it("long random workload matches the TypeScript model: statuses, contents, supply, deltas", () => {
      const rng = new TestRng(flavor === "simd" ? 0x5eed : 0x5eee);
      const table = new UtxoTable({ flavor, initialCapacityLog2: 6 });
      const model = new ModelTable();
      const persisted = new Map<string, string>();
      const live: { key: Uint8Array; owner: Uint8Array; txid: Uint8Array }[] = [];
      const spentKeys: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const txid = rng.bytes(32);
        const amount = 1n + (rng.bigint64() >> 12n);
        const owner = owners[rng.below(8)]!;
        table.insert({ txid, index: 0, owner, amount });
        model.insert(key(txid, 0), owner, amount);
        persisted.set(hex(key(txid, 0)), hex(packEntry({ txid, index: 0, owner, amount }).subarray(36)));
        live.push({ key: key(txid, 0), owner, txid });
      }
      const initialSupply = model.supply;
      let fees = 0n;
      let transactions = 0;
      const seen = new Set<number>();
      for (let block = 0; block < 60; block++) {
        const records: Rec[] = [];
        const txCount = 1 + rng.below(80);
        for (let t = 0; t < txCount; t++) {
          const nIn = 1 + rng.below(3);
          const inputs: In[] = [];
          for (let k = 0; k < nIn; k++) {
            const dice = rng.below(100);
            if (dice < 4 && spentKeys.length > 0) inputs.push({ key: spentKeys[rng.below(spentKeys.length)]!, owner: owners[0]! });
            else if (dice < 6) inputs.push({ key: key(rng.bytes(32), 0), owner: owners[0]! });
            else if (live.length > 0) {
              const pick = live[rng.below(live.length)]!;
              inputs.push({ key: pick.key, owner: dice < 8 ? owners[(owners.indexOf(pick.owner) + 1) % 8]! : pick.owner });
            }
          }
          if (inputs.length === 0) continue;
          if (rng.below(100) < 3) inputs.push(inputs[0]!);
          const available = inputs.reduce((s, i) => s + (model.map.get(hex(i.key))?.amount ?? 0n), 0n);
          const nOut = 1 + rng.below(4);
          const outputs: Out[] = [];
          let budget = rng.below(100) < 5 ? available + 1n + BigInt(rng.below(1000)) : available - BigInt(rng.below(3));
          for (let j = 0; j < nOut; j++) {
            const share = j === nOut - 1 ? budget : budget / BigInt(nOut);
            outputs.push({ owner: owners[rng.below(8)]!, amount: share > 0n ? share : 1n });
            budget -= share;
          }
          const reuse = rng.below(100) < 2 && live.length > 0;
          const txid = reuse ? live[rng.below(live.length)]!.txid : rng.bytes(32);
          records.push({ txid, inputs, outputs });
        }
        const supplyBefore = model.supply;
        const expected = model.applyAll(packRecords(records));
        const delta = table.applyBlock(packRecords(records), records.length);
        assert.deepEqual([...delta.statuses], expected, `block ${block}`);
        assert.equal(delta.applied, expected.filter((s) => s === ApplyStatus.Ok).length);
        expected.forEach((status, t) => {
          seen.add(status);
          if (status !== ApplyStatus.Ok) return;
          const r = records[t]!;
          for (const i of r.inputs) {
            spentKeys.push(i.key);
            const at = live.findIndex((l) => hex(l.key) === hex(i.key));
            if (at >= 0) live.splice(at, 1);
          }
          r.outputs.forEach((o, j) => live.push({ key: key(r.txid, j), owner: o.owner, txid: r.txid }));
        });
        fees += supplyBefore - model.supply;
        transactions += records.length;
        applyDelta(persisted, delta.created, delta.spent);
        assert.equal(table.supply, model.supply);
        assert.equal(table.count, model.map.size);
      }
      assert.ok(transactions > 2000, `${transactions} transactions`);
      assert.equal(table.supply + fees, initialSupply, "supply is conserved up to fees");
      assert.deepEqual(contents(table), model.map);
      assert.deepEqual(snapshotMap(table), persisted, "deltas replayed onto a copy give the same set");
      for (const status of [ApplyStatus.Ok, ApplyStatus.MissingInput, ApplyStatus.OwnerMismatch, ApplyStatus.InsufficientFunds, ApplyStatus.DuplicateInput]) {
        assert.ok(seen.has(status), `workload never produced status ${status}`);
      }
    });

    it("undoes the last applied block exactly, across growth, and only that block", () => {
      const rng = new TestRng(flavor === "simd" ? 0xd0 : 0xd1);
      const table = new UtxoTable({ flavor, initialCapacityLog2: 4 });
      const live: { key: Uint8Array; owner: Uint8Array; amount: bigint }[] = [];
      for (let i = 0; i < 12; i++) {
        const txid = rng.bytes(32);
        const owner = owners[rng.below(8)]!;
        table.insert({ txid, index: 0, owner, amount: 1_000_000n });
        live.push({ key: key(txid, 0), owner, amount: 1_000_000n });
      }
      assert.equal(codeOf(() => table.undoLastBlock()), "UTXO_NOTHING_TO_UNDO", "nothing applied yet");
      let grew = false;
      for (let block = 0; block < 40; block++) {
        const records: Rec[] = [];
        const created: { key: Uint8Array; owner: Uint8Array; amount: bigint }[] = [];
        for (let t = 0; t < 1 + rng.below(12); t++) {
          const dice = rng.below(100);
          const pool = dice < 20 && created.length > 0 ? created : live;
          const pick = pool[rng.below(pool.length)]!;
          const input: In = dice >= 20 && dice < 25 ? { key: key(rng.bytes(32), 0), owner: pick.owner } : { key: pick.key, owner: dice < 30 ? owners[(owners.indexOf(pick.owner) + 1) % 8]! : pick.owner };
          const nOut = 1 + rng.below(5);
          const amount = dice < 33 ? (1n << 63n) : pick.amount / BigInt(nOut + 1);
          const txid = rng.bytes(32);
          const outputs: Out[] = Array.from({ length: nOut }, () => ({ owner: owners[rng.below(8)]!, amount: amount > 0n ? amount : 1n }));
          records.push({ txid, inputs: [input], outputs });
          outputs.forEach((o, j) => created.push({ key: key(txid, j), owner: o.owner, amount: o.amount }));
        }
        const before = { set: snapshotMap(table), count: table.count, supply: table.supply, capacity: table.capacity };
        const packed = packRecords(records);
        const first = [...table.applyBlock(packed, records.length).statuses];
        grew ||= table.capacity > before.capacity;
        table.undoLastBlock();
        assert.deepEqual(snapshotMap(table), before.set, `block ${block}: the set is back`);
        assert.equal(table.count, before.count);
        assert.equal(table.supply, before.supply);
        assert.equal(codeOf(() => table.undoLastBlock()), "UTXO_NOTHING_TO_UNDO", "one undo per block");
        const again = table.applyBlock(packed, records.length);
        assert.deepEqual([...again.statuses], first, `block ${block}: applying again gives the same statuses`);
        records.forEach((r, t) => {
          if (first[t] !== ApplyStatus.Ok) return;
          const spent = live.findIndex((l) => hex(l.key) === hex(r.inputs[0]!.key));
          if (spent >= 0) live.splice(spent, 1);
          r.outputs.forEach((o, j) => live.push({ key: key(r.txid, j), owner: o.owner, amount: o.amount }));
        });
        for (const l of [...live]) if (!table.has(l.key.subarray(0, 32), Buffer.from(l.key).readUInt32LE(32))) live.splice(live.indexOf(l), 1);
        if (block % 3 === 0) {
          table.forgetUndo();
          assert.equal(codeOf(() => table.undoLastBlock()), "UTXO_NOTHING_TO_UNDO", "a forgotten block stays");
        }
      }
      assert.ok(grew, "some applied block grew the table before it was undone");
      table.applyBlock(packRecords([]), 0, false);
      assert.equal(codeOf(() => table.undoLastBlock()), "UTXO_NOTHING_TO_UNDO", "a block applied without its journal cannot be undone");
      assert.ok(table.count > 12);
    });

    it("applies signed transfers from a test genesis end to end", () => {
      const { genesis, accounts } = makeTestGenesis({ seed: "e2e", shardCount: 2, accounts: 16, amount: 1000n, validators: 2 });
      for (const shard of [0, 1]) {
        const table = new UtxoTable({ flavor });
        table.insertEntries(genesisEntries(genesis, shard));
        const g = genesisTxid(genesis);
        const mine = genesis.outputs.flatMap((o, index) => (shardOfOwner(o.owner, 2) === shard ? [index] : []));
        assert.equal(table.count, mine.length);
        const txs = mine.map((index) => {
          const owner = genesis.outputs[index]!.owner;
          return signedTransfer([{ txid: g, index, owner }], [{ owner, amount: 400n }, { owner, amount: 599n }], accounts).bytes;
        });
        const result = validateStateless(packTransactions(txs), shard, 2);
        assert.ok(result.rejections.every((r) => r === null));
        const delta = table.applyBlock(result.records, result.recordCount);
        assert.equal(delta.applied, mine.length);
        assert.equal(table.supply, BigInt(mine.length) * 999n);
        assert.equal(table.count, 2 * mine.length);
      }
      assert.equal(genesisSupply(genesis), 16000n);
    });
  });
}
