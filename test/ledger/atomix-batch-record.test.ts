// The unlock-to-commit batch's apply record (src/ledger/kinds/atomix-batch-record.ts) and its
// UTXO kernel case (assembly/utxo/index.ts applyBatchCommit): an output shard creates its outputs
// of many settled cross-shard transfers at (crossTxid, j), all or nothing. Shard 0 applies; an
// output not marked mine lives in shard 1.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { TxKind, type TxKindModule } from "../../src/ledger/kinds/interface.js";
import { encodeAtomixRecord } from "../../src/ledger/kinds/atomix-record.js";
import {
  atomixBatchCrossTxids, atomixBatchItemOf, atomixBatchRecordLayout, atomixBatchRecordSize, encodeAtomixBatchRecord, writeAtomixBatchRecord,
  type AtomixBatchObjectItem,
} from "../../src/ledger/kinds/atomix-batch-record.js";
import { AtomixShape, encodeUnsignedCrossShardTransfer } from "../../src/ledger/kinds/atomix.js";
import { encodeTransferRecord, transferKind } from "../../src/ledger/kinds/transfer.js";
import { registerTxKind, txKindModule } from "../../src/ledger/kinds/registry.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { readU16, readU32, readU64 } from "../../src/codec/binary.js";
import { codeOf } from "../support/errors.js";
import { TestRng, hex } from "./helpers.js";

const MAX_U64 = (1n << 64n) - 1n;
const rng = new TestRng(0xba7c4);
const owners = Array.from({ length: 6 }, () => rng.bytes(32));

type Item = AtomixBatchObjectItem;
interface Output { owner: Uint8Array; amount: bigint; mine: boolean }

/** An X with these outputs, declaring their sum plus `slack`. */
function x(outputs: readonly Output[], slack = 0n, crossTxid = rng.bytes(32)): Item {
  return { crossTxid, declared: outputs.reduce((sum, o) => sum + o.amount, 0n) + slack, outputs };
}

const out = (amount: bigint, mine: boolean, owner = owners[rng.below(owners.length)]!): Output => ({ owner, amount, mine });

/** A random X: 1–4 outputs, each this shard's with probability 1/2 (the first surely with `mine`), declaring a little more than it pays. */
function randomX(random: TestRng, mine = false): Item {
  const outputs = Array.from({ length: 1 + random.below(4) }, (_, j) => ({ owner: owners[random.below(owners.length)]!, amount: 1n + BigInt(random.below(1_000_000)), mine: (mine && j === 0) || random.below(2) === 0 }));
  return { crossTxid: random.bytes(32), declared: outputs.reduce((sum, o) => sum + o.amount, 0n) + BigInt(random.below(100)), outputs };
}

/** A batch record of `items` (txid random). */
const batch = (...items: Item[]): Uint8Array => encodeAtomixBatchRecord(rng.bytes(32), items);

/** The created entries a batch of `items` should make here: key hex → owner hex:amount, X by X, j ascending. */
function expectedEntries(items: readonly Item[]): [string, string][] {
  return items.flatMap((item) => item.outputs.flatMap((o, j) => (o.mine ? [[keyHex(item.crossTxid, j), `${hex(o.owner)}:${o.amount}`] as [string, string]] : [])));
}

function keyHex(txid: Uint8Array, index: number): string {
  return `${hex(txid)}:${index}`;
}

function contents(table: UtxoTable): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of table.entries()) map.set(keyHex(e.txid, e.index), `${hex(e.owner)}:${e.amount}`);
  return map;
}

function apply(table: UtxoTable, ...records: Uint8Array[]): number[] {
  return [...table.applyBlock(Buffer.concat(records), records.length).statuses];
}

/** The record with its u16 at `at` set to `value` (a field the size does not depend on). */
function patchU16(record: Uint8Array, at: number, value: number): Uint8Array {
  const copy = Buffer.from(record);
  copy.writeUInt16LE(value, at);
  return copy;
}

/** The record cut to `length` bytes, or with zeros appended, its length field following. */
function withLength(record: Uint8Array, length: number): Uint8Array {
  const copy = Buffer.alloc(length);
  copy.set(record.subarray(0, Math.min(record.length, copy.length)));
  copy.writeUInt32LE(copy.length, 1);
  return copy;
}

/** Offsets of the batch record fields these tests patch (the layout of the file under test, spelled out). */
const EFFECTS_AT = 37;
const xSectionAt = (record: Uint8Array): number => EFFECTS_AT + 4 + readU16(record, EFFECTS_AT + 2) * 76;
/** Offset of X k's output j's mine byte. */
function mineByteAt(record: Uint8Array, k: number, j: number): number {
  let at = xSectionAt(record) + 2;
  for (let i = 0; i < k; i++) at += 42 + readU16(record, at + 40) * 41;
  return at + 42 + j * 41 + 40;
}

for (const flavor of WASM_FLAVORS) {
  describe(`UTXO kernel, Atomix unlock-to-commit batch (${flavor})`, () => {
    function fresh(capacityLog2?: number): UtxoTable {
      const table = new UtxoTable({ flavor, initialCapacityLog2: capacityLog2 });
      for (let i = 0; i < 8; i++) table.insert({ txid: rng.bytes(32), index: i, owner: owners[i % owners.length]!, amount: 1_000n * BigInt(i + 1) });
      return table;
    }

    it("creates exactly this shard's outputs of every X at (crossTxid, j); supply rises by their sum; the others are not created", () => {
      const table = fresh();
      const items = [
        x([out(100n, false), out(250n, true, owners[1]), out(7n, true, owners[2])], 10n),
        x([out(40n, true, owners[3])]),
        x([out(5n, false), out(6n, false), out(9n, true, owners[4])], 1n),
      ];
      const [supply, count] = [table.supply, table.count];
      assert.deepEqual(apply(table, batch(...items)), [ApplyStatus.Ok]);
      assert.equal(table.supply, supply + 250n + 7n + 40n + 9n);
      assert.equal(table.count, count + 4);
      items.forEach((item, k) => item.outputs.forEach((o, j) => {
        const entry = table.get(item.crossTxid, j);
        if (o.mine) assert.deepEqual(entry && [hex(entry.owner), entry.amount], [hex(o.owner), o.amount], `X ${k} output ${j}`);
        else assert.equal(entry, undefined, `X ${k} output ${j} lives in another shard`);
      }));
      assert.deepEqual(apply(table, batch(...items)), [ApplyStatus.OutputExists], "a replay finds its outputs there");
    });

    it("equals the single unlock-to-commit records of its X, one by one (random batches)", () => {
      const random = new TestRng(0xd1ff);
      const batched = fresh();
      const single = new UtxoTable({ flavor });
      for (const e of batched.entries()) single.insert(e);
      let created = 0;
      for (let round = 0; round < 40; round++) {
        const items = Array.from({ length: 1 + random.below(8) }, (_, k) => randomX(random, k === 0));
        // A commit with its inputs in the other shard (none mine), declaring X's Σ inputs in two parts.
        const commits = items.map((item) => {
          const half = item.declared / 2n;
          const inputs = [half, item.declared - half].filter((amount) => amount > 0n).map((amount) => ({ txid: random.bytes(32), index: random.below(4), owner: owners[random.below(owners.length)]!, amount, mine: false }));
          return encodeAtomixRecord(TxKind.AtomixUnlockCommit, random.bytes(32), item.crossTxid, inputs, item.outputs);
        });
        const supply = batched.supply;
        assert.deepEqual(apply(batched, batch(...items)), [ApplyStatus.Ok]);
        // A single commit with nothing of this shard is MALFORMED and changes nothing, as that X does in the batch.
        const statuses = apply(single, ...commits);
        statuses.forEach((status, k) => assert.equal(status, items[k]!.outputs.some((o) => o.mine) ? ApplyStatus.Ok : ApplyStatus.Malformed));
        const mineSum = items.reduce((sum, item) => sum + item.outputs.reduce((s, o) => s + (o.mine ? o.amount : 0n), 0n), 0n);
        assert.equal(batched.supply, supply + mineSum);
        assert.equal(batched.supply, single.supply);
        created += expectedEntries(items).length;
      }
      assert.deepEqual(contents(batched), contents(single));
      assert.ok(created > 100, `the rounds created ${created} entries`);
    });

    it("refuses bad batches with the right status and changes nothing; the good record after one still applies", () => {
      const table = fresh();
      const clash = x([out(3n, false), out(4n, true)]);
      const beforeClash = x([out(9n, true)]);
      table.insert({ txid: clash.crossTxid, index: 1, owner: owners[5]!, amount: 77n });
      const good = x([out(10n, true), out(20n, false)]);
      const ok = batch(good);
      const first = x([out(11n, true), out(12n, true)]);
      const dupe = x([out(5n, true)]);
      const shared = rng.bytes(32);
      const wrongCreated = Buffer.from(batch(x([out(1n, true), out(2n, false)])));
      wrongCreated[mineByteAt(wrongCreated, 0, 1)] = 1;
      const fewerCreated = Buffer.from(batch(x([out(1n, true), out(2n, true)])));
      fewerCreated[mineByteAt(fewerCreated, 0, 1)] = 0;
      const grown = Buffer.from(batch(x([out(1n, true)])));
      const overOutputs = patchU16(grown, xSectionAt(grown) + 2 + 40, 2);
      const twoX = batch(x([out(5n, true)]), x([out(6n, true)]));
      const noCreated = batch(x([out(5n, false)]));
      const cases: [string, Uint8Array, number][] = [
        ["an output key that exists", batch(beforeClash, clash), ApplyStatus.OutputExists],
        ["the same X twice", batch(first, dupe, first), ApplyStatus.OutputExists],
        ["one crossTxid twice, the second creating a new key before the clash", batch(x([out(1n, false), out(2n, true)], 0n, shared), x([out(1n, true), out(2n, true)], 0n, shared)), ApplyStatus.OutputExists],
        ["an output of 0", batch(x([out(5n, true)]), x([out(1n, false), out(0n, true)])), ApplyStatus.Malformed],
        ["an output of 0 in another shard", batch(x([out(5n, true)]), x([out(0n, false)])), ApplyStatus.Malformed],
        ["Σ outputs > declared", batch(x([out(5n, true)]), x([out(50n, true), out(51n, false)], -1n)), ApplyStatus.InsufficientFunds],
        ["Σ outputs > declared, the excess in another shard", batch(x([out(6n, false), out(1n, true)], -6n)), ApplyStatus.InsufficientFunds],
        ["Σ outputs overflows u64", batch(x([out(MAX_U64, true), out(1n, false)], -1n)), ApplyStatus.OutputOverflow],
        ["Σ of this shard's outputs over the batch overflows u64", batch(x([out(MAX_U64, true)]), x([out(1n, true)])), ApplyStatus.OutputOverflow],
        ["no X", batch(), ApplyStatus.Malformed],
        ["nothing created here", batch(x([out(5n, false)]), x([out(6n, false)])), ApplyStatus.Malformed],
        ["nCreated below the mine outputs", wrongCreated, ApplyStatus.Malformed],
        ["nCreated above the mine outputs", fewerCreated, ApplyStatus.Malformed],
        ["nSpent ≠ 0", patchU16(batch(x([out(5n, true)])), EFFECTS_AT, 1), ApplyStatus.Malformed],
        ["a byte short", withLength(twoX, twoX.length - 1), ApplyStatus.Malformed],
        ["a byte too many", withLength(twoX, twoX.length + 1), ApplyStatus.Malformed],
        ["an X's output count past the end", overOutputs, ApplyStatus.Malformed],
        ["the header and the effects' counts, its entry cut", withLength(twoX, 41), ApplyStatus.Malformed],
        ["nX = 1 and no X", withLength(noCreated, 43), ApplyStatus.Malformed],
        ["an X cut inside its fixed part", withLength(noCreated, 43 + 41), ApplyStatus.Malformed],
        ["the header alone", withLength(twoX, 37), ApplyStatus.Malformed],
      ];
      for (const [what, record, status] of cases) {
        const [before, supply, count] = [contents(table), table.supply, table.count];
        assert.deepEqual(apply(table, record), [status], what);
        assert.deepEqual([table.supply, table.count], [supply, count], what);
        assert.deepEqual(contents(table), before, what);
      }
      assert.equal(table.get(beforeClash.crossTxid, 0), undefined, "the X before the clash placed nothing");
      assert.equal(table.get(first.crossTxid, 0), undefined, "the duplicated X placed nothing");
      assert.equal(table.get(dupe.crossTxid, 0), undefined, "nor did the X between its copies");
      assert.deepEqual([table.get(shared, 0), table.get(shared, 1)], [undefined, undefined], "nor the X sharing a crossTxid");
      assert.equal(table.get(clash.crossTxid, 1)?.amount, 77n, "the existing entry stays as it was");
      const supply = table.supply;
      assert.deepEqual(apply(table, ...cases.map(([, record]) => record), ok), [...cases.map(([, , status]) => status), ApplyStatus.Ok]);
      assert.equal(table.get(good.crossTxid, 0)?.amount, 10n);
      assert.equal(table.supply, supply + 10n);
    });

    it("a refused duplicate leaves no journal entry: the block after it is undone exactly, its good records included", () => {
      // A small table, so that placements grow it and drain the old one.
      const table = fresh(4);
      const before = contents(table);
      const supply = table.supply;
      const first = x(Array.from({ length: 12 }, (_, j) => out(BigInt(j + 1), j % 3 !== 0)));
      const records = [batch(x([out(1n, true)]), first, x([out(2n, true)]), first), batch(...Array.from({ length: 6 }, () => randomX(rng)), x([out(3n, true)]))];
      const coin = [...table.entries()][0]!;
      const transfer = encodeTransferRecord(rng.bytes(32), [{ txid: coin.txid, index: coin.index, owner: coin.owner }], [{ owner: owners[0]!, amount: 1n }]);
      assert.deepEqual(apply(table, records[0]!, transfer, records[1]!), [ApplyStatus.OutputExists, ApplyStatus.Ok, ApplyStatus.Ok]);
      assert.equal(table.get(first.crossTxid, 1), undefined);
      table.undoLastBlock();
      assert.deepEqual(contents(table), before);
      assert.equal(table.supply, supply);
    });

    it("a block of batches applied with the undo journal and undone restores the table and supply exactly", () => {
      const random = new TestRng(0x0d0);
      for (const capacityLog2 of [4, 16]) {
        const table = fresh(capacityLog2);
        const before = contents(table);
        const [supply, count] = [table.supply, table.count];
        const items = Array.from({ length: 30 }, () => randomX(random, true));
        const records = [batch(...items.slice(0, 10)), batch(...items.slice(10)), batch(items[3]!)];
        assert.deepEqual(apply(table, ...records), [ApplyStatus.Ok, ApplyStatus.Ok, ApplyStatus.OutputExists]);
        assert.ok(table.count > count + 20, "the block created entries");
        table.undoLastBlock();
        assert.deepEqual(contents(table), before, `capacity 2^${capacityLog2}`);
        assert.deepEqual([table.supply, table.count], [supply, count]);
      }
    });
  });
}

/** The batch kind's record layout for the record walker, until its module is registered. */
function registerBatchLayout(): void {
  try {
    txKindModule(TxKind.AtomixUnlockBatch);
  } catch {
    registerTxKind({ ...transferKind, kind: TxKind.AtomixUnlockBatch, name: "atomix-batch", record: atomixBatchRecordLayout } as TxKindModule);
  }
}

describe("Atomix unlock-to-commit batch record", () => {
  it("its layout reads back exactly the created entries (keys, owners, amounts), wherever the record sits", () => {
    const random = new TestRng(0x1a7);
    for (let round = 0; round < 20; round++) {
      const items = Array.from({ length: 1 + random.below(6) }, () => randomX(random));
      const record = encodeAtomixBatchRecord(random.bytes(32), items);
      const at = 1 + random.below(50);
      const records = new Uint8Array(at + record.length + 7);
      records.set(record, at);
      const layout = atomixBatchRecordLayout;
      assert.equal(layout.inputCount(records, at), 0);
      assert.equal(layout.balanced, false);
      const read: [string, string][] = [];
      for (let j = 0; j < layout.outputCount(records, at); j++) {
        const key = layout.createdKeyAt!(records, at, j)!;
        const value = layout.outputAt(records, at, j);
        read.push([keyHex(records.subarray(key, key + 32), readU32(records, key + 32)), `${hex(records.subarray(value, value + 32))}:${readU64(records, value + 32)}`]);
      }
      assert.deepEqual(read, expectedEntries(items));
    }
  });

  it("the table's block delta, read through the layout, lists the entries a batch created", () => {
    registerBatchLayout();
    const table = new UtxoTable();
    const items = [x([out(5n, true), out(6n, false), out(7n, true)]), x([out(8n, true)])];
    const delta = table.applyBlock(batch(...items), 1);
    assert.deepEqual([...delta.statuses], [ApplyStatus.Ok]);
    const created = new Map<string, string>();
    for (let at = 0; at < delta.created.length; at += 76) {
      created.set(keyHex(delta.created.subarray(at, at + 32), readU32(delta.created, at + 32)), `${hex(delta.created.subarray(at + 36, at + 68))}:${readU64(delta.created, at + 68)}`);
    }
    assert.deepEqual(created, new Map(expectedEntries(items)));
    assert.deepEqual(contents(table), created);
    assert.equal(delta.spent.length, 0);
  });

  it("lists each X's crossTxid in order, as views of the record; a cut record is RECORD_MALFORMED", () => {
    const items = Array.from({ length: 5 }, () => randomX(rng));
    const record = encodeAtomixBatchRecord(rng.bytes(32), items);
    const txids = atomixBatchCrossTxids(record);
    assert.deepEqual(txids.map(hex), items.map((item) => hex(item.crossTxid)));
    assert.ok(txids.every((txid) => txid.buffer === record.buffer), "views, not copies");
    assert.deepEqual(atomixBatchCrossTxids(encodeAtomixBatchRecord(rng.bytes(32), [])), []);
    assert.equal(codeOf(() => atomixBatchCrossTxids(record.subarray(0, record.length - 1))), "RECORD_MALFORMED");
    assert.equal(codeOf(() => atomixBatchCrossTxids(Buffer.concat([record, new Uint8Array(1)]))), "RECORD_MALFORMED");
  });

  it("an item from X's shape: views of X's outputs and owners' shards; the record marks that shard's outputs and writes the size it computes", () => {
    const shardCount = 4;
    const cross = encodeUnsignedCrossShardTransfer({
      kind: TxKind.AtomixLock,
      inputs: [{ txid: rng.bytes(32), index: 3, owner: owners[0]!, amount: 500n }, { txid: rng.bytes(32), index: 0, owner: owners[1]!, amount: 700n }],
      outputs: owners.map((owner, j) => ({ owner, amount: BigInt(100 + j) })),
    });
    const shape = new AtomixShape(TxKind.AtomixLock, cross.length, 0, cross);
    const item = atomixBatchItemOf(shape, shardCount);
    assert.equal(hex(item.crossTxid), hex(sha256(cross)));
    assert.equal(item.declared, 1_200n);
    assert.equal(item.outputs.buffer, cross.buffer, "X's outputs are a view");
    assert.deepEqual(Array.from(item.outputShards), owners.map((owner) => shardOfOwner(owner, shardCount)));
    const txid = rng.bytes(32);
    for (let shard = 0; shard < shardCount; shard++) {
      const size = atomixBatchRecordSize([item, item], shard);
      const buffer = new Uint8Array(size + 9);
      assert.equal(writeAtomixBatchRecord(txid, [item, item], shard, buffer, 9), size);
      const objects = [0, 1].map(() => ({ crossTxid: item.crossTxid, declared: 1_200n, outputs: owners.map((owner, j) => ({ owner, amount: BigInt(100 + j), mine: item.outputShards[j] === shard })) }));
      // encodeAtomixBatchRecord applies in shard 0: the same bytes when this shard's outputs are marked mine.
      assert.equal(hex(buffer.subarray(9)), hex(encodeAtomixBatchRecord(txid, objects)), `shard ${shard}`);
      assert.equal(buffer[9], TxKind.AtomixUnlockBatch);
    }
  });
});
