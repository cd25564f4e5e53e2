// The block delta (src/ledger/utxo-table.ts `blockDelta`: a BlockDelta's `created` and `spent`)
// on random blocks mixing transfers with every Atomix record (lock, settling lock, commit, abort,
// unlock-to-commit batch), against a reference written from what each record was built to do:
// outputs of Atomix records spent later in the same block, keys created, spent and created again
// (an abort gives a lock's input back, a lock takes it again), failing records between and after
// the applied ones. The reference fixes the bytes, order included: outputs at their creator's
// txid first, in record order, then the Atomix records' entries in order of (last) creation. Each
// delta also carries the table from its state before the block to its state after.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { ApplyStatus, ENTRY_BYTES, UtxoTable } from "../../src/ledger/utxo-table.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { encodeTransferRecord } from "../../src/ledger/kinds/transfer.js";
import { LOCK_INDEX_FLAG, atomixLockOwner, encodeAtomixRecord, type AtomixKind, type AtomixRecordInput, type AtomixRecordOutput } from "../../src/ledger/kinds/atomix-record.js";
import { encodeAtomixBatchRecord, type AtomixBatchObjectItem } from "../../src/ledger/kinds/atomix-batch-record.js";
import { BinaryWriter } from "../../src/codec/binary.js";
import { TestRng, hex } from "./helpers.js";

interface Coin {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: Uint8Array;
  readonly amount: bigint;
}

/** A record as built, with the keys it spends and the entries it creates if it applies. */
interface Built {
  readonly bytes: Uint8Array;
  readonly applies: boolean;
  readonly spends: readonly Uint8Array[];
  /** `own`: at (record txid, j), as every transfer output; otherwise an Atomix record's entry. */
  readonly creates: readonly { readonly coin: Coin; readonly own: boolean }[];
}

/** A lock this shard applied (or will, earlier in the block) whose X is not yet decided here. */
interface Lock {
  readonly crossTxid: Uint8Array;
  readonly inputs: readonly AtomixRecordInput[];
  readonly outputs: readonly AtomixRecordOutput[];
}

const keyOf = (txid: Uint8Array, index: number): Uint8Array => BinaryWriter.ofSize(36).bytes(txid).u32(index).finish();
const entryOf = (coin: Coin): Uint8Array => BinaryWriter.ofSize(ENTRY_BYTES).bytes(keyOf(coin.txid, coin.index)).bytes(coin.owner).u64(coin.amount).finish();

/** The reference delta: a map per group of the entries created in the block and not spent in it (insertion order), and the spent keys of entries from before it. */
function referenceDelta(built: readonly Built[], statuses: Uint8Array): { created: string; spent: string } {
  const own = new Map<string, string>();
  const elsewhere = new Map<string, string>();
  const spent: string[] = [];
  built.forEach((record, t) => {
    if (statuses[t] !== ApplyStatus.Ok) return;
    for (const key of record.spends) {
      const k = hex(key);
      if (!elsewhere.delete(k) && !own.delete(k)) spent.push(k);
    }
    for (const { coin, own: atOwnTxid } of record.creates) (atOwnTxid ? own : elsewhere).set(hex(keyOf(coin.txid, coin.index)), hex(entryOf(coin)));
  });
  return { created: [...own.values(), ...elsewhere.values()].join(""), spent: spent.join("") };
}

function tableContents(table: UtxoTable): Map<string, string> {
  const map = new Map<string, string>();
  for (const coin of table.entries()) map.set(hex(keyOf(coin.txid, coin.index)), hex(entryOf(coin)));
  return map;
}

for (const flavor of WASM_FLAVORS) {
  describe(`Block delta on random blocks of transfers and Atomix records (${flavor})`, () => {
    it("created and spent equal the reference byte for byte, and carry the table across each block", () => {
      const rng = new TestRng(flavor === "simd" ? 0xde17a : 0xde17b);
      const owners = Array.from({ length: 6 }, () => rng.bytes(32));
      const owner = () => owners[rng.below(owners.length)]!;
      const table = new UtxoTable({ flavor, initialCapacityLog2: 8 });
      /** Spendable coins by key hex (what the model expects in the table), and pending locks. */
      const live = new Map<string, Coin>();
      let locks: Lock[] = [];
      const spentBefore: Uint8Array[] = [];
      for (let i = 0; i < 150; i++) {
        const coin = { txid: rng.bytes(32), index: rng.below(3), owner: owner(), amount: 1_000n + BigInt(rng.below(1_000_000)) };
        table.insert(coin);
        live.set(hex(keyOf(coin.txid, coin.index)), coin);
      }
      /** Takes a random live coin out of the model. */
      const take = (): Coin | undefined => {
        if (live.size === 0) return undefined;
        const k = [...live.keys()][rng.below(live.size)]!;
        const coin = live.get(k)!;
        live.delete(k);
        return coin;
      };
      const give = (coin: Coin) => live.set(hex(keyOf(coin.txid, coin.index)), coin);
      /** Outputs paying at most `budget` (>= 1) in all, 1–3 of them, `mine` as `mineOf(j)`. */
      const outputsWithin = (budget: bigint, mineOf: (j: number) => boolean): AtomixRecordOutput[] => {
        const n = budget < 3n ? 1 : 1 + rng.below(3);
        const share = budget / BigInt(n);
        return Array.from({ length: n }, (_, j) => ({ owner: owner(), amount: share > 1n && rng.below(2) === 0 ? share - 1n : share, mine: mineOf(j) }));
      };
      const atomixInput = (coin: Coin, mine = true): AtomixRecordInput => ({ ...coin, mine });
      const foreignInput = (): AtomixRecordInput => ({ txid: rng.bytes(32), index: rng.below(4), owner: owner(), amount: 1n + BigInt(rng.below(1_000_000)), mine: false });
      /** The entries of the mine outputs of X at (crossTxid, j). */
      const outputsAt = (crossTxid: Uint8Array, outputs: readonly AtomixRecordOutput[]) =>
        outputs.flatMap((o, j) => (o.mine ? [{ coin: { txid: crossTxid, index: j, owner: o.owner, amount: o.amount }, own: false }] : []));
      const lockedKey = (input: AtomixRecordInput) => keyOf(input.txid, (input.index | LOCK_INDEX_FLAG) >>> 0);
      const sum = (parts: readonly { amount: bigint }[]) => parts.reduce((s, p) => s + p.amount, 0n);

      const builders: ((pendingLocks: Lock[]) => Built | undefined)[] = [
        // A transfer of 1–2 live coins (perhaps created earlier in the block, by any record).
        () => {
          const ins = [take(), rng.below(2) === 0 ? take() : undefined].filter((c): c is Coin => c !== undefined);
          if (ins.length === 0) return undefined;
          const txid = rng.bytes(32);
          const outputs = outputsWithin(sum(ins), () => true);
          const creates = outputs.map((o, j) => ({ coin: { txid, index: j, owner: o.owner, amount: o.amount }, own: true }));
          creates.forEach(({ coin }) => give(coin));
          return { bytes: encodeTransferRecord(txid, ins, outputs), applies: true, spends: ins.map((c) => keyOf(c.txid, c.index)), creates };
        },
        // A lock with an input of another shard: this shard's inputs move to their locked keys.
        (pendingLocks) => {
          const coin = take();
          if (coin === undefined) return undefined;
          const crossTxid = rng.bytes(32);
          const inputs = [atomixInput(coin), foreignInput()];
          const outputs = outputsWithin(sum(inputs), () => rng.below(2) === 0);
          pendingLocks.push({ crossTxid, inputs, outputs });
          const lockOwner = atomixLockOwner(crossTxid);
          return {
            bytes: encodeAtomixRecord(TxKind.AtomixLock as AtomixKind, crossTxid, crossTxid, inputs, outputs), applies: true,
            spends: [keyOf(coin.txid, coin.index)],
            creates: [{ coin: { txid: coin.txid, index: (coin.index | LOCK_INDEX_FLAG) >>> 0, owner: lockOwner, amount: coin.amount }, own: false }],
          };
        },
        // A lock of this shard's inputs only: it settles X, creating this shard's outputs at (crossTxid, j).
        () => {
          const coin = take();
          if (coin === undefined) return undefined;
          const crossTxid = rng.bytes(32);
          const outputs = outputsWithin(coin.amount, (j) => j === 0 || rng.below(2) === 0);
          const creates = outputsAt(crossTxid, outputs);
          creates.forEach(({ coin: created }) => give(created));
          return { bytes: encodeAtomixRecord(TxKind.AtomixLock as AtomixKind, crossTxid, crossTxid, [atomixInput(coin)], outputs), applies: true, spends: [keyOf(coin.txid, coin.index)], creates };
        },
        // Unlock to commit or to abort a pending lock (this block's or an earlier one's).
        (pendingLocks) => {
          if (pendingLocks.length === 0) return undefined;
          const lock = pendingLocks.splice(rng.below(pendingLocks.length), 1)[0]!;
          const mineInputs = lock.inputs.filter((input) => input.mine);
          const commit = rng.below(2) === 0 && lock.outputs.some((o) => o.mine);
          const creates = commit ? outputsAt(lock.crossTxid, lock.outputs) : mineInputs.map((input) => ({ coin: { txid: input.txid, index: input.index, owner: input.owner, amount: input.amount }, own: false }));
          creates.forEach(({ coin }) => give(coin));
          const kind = (commit ? TxKind.AtomixUnlockCommit : TxKind.AtomixUnlockAbort) as AtomixKind;
          return { bytes: encodeAtomixRecord(kind, rng.bytes(32), lock.crossTxid, lock.inputs, lock.outputs), applies: true, spends: mineInputs.map(lockedKey), creates };
        },
        // A commit of X whose inputs are all in another shard: it only creates.
        () => {
          const crossTxid = rng.bytes(32);
          const inputs = [foreignInput(), foreignInput()];
          const outputs = outputsWithin(sum(inputs), (j) => j === 0 || rng.below(2) === 0);
          const creates = outputsAt(crossTxid, outputs);
          creates.forEach(({ coin }) => give(coin));
          return { bytes: encodeAtomixRecord(TxKind.AtomixUnlockCommit as AtomixKind, rng.bytes(32), crossTxid, inputs, outputs), applies: true, spends: [], creates };
        },
        // An unlock-to-commit batch of 1–5 X.
        () => {
          const items: AtomixBatchObjectItem[] = Array.from({ length: 1 + rng.below(5) }, () => {
            const declared = 1n + BigInt(rng.below(1_000_000));
            return { crossTxid: rng.bytes(32), declared, outputs: outputsWithin(declared, (j) => j === 0 || rng.below(2) === 0) };
          });
          const creates = items.flatMap((item) => outputsAt(item.crossTxid, item.outputs));
          creates.forEach(({ coin }) => give(coin));
          return { bytes: encodeAtomixBatchRecord(rng.bytes(32), items), applies: true, spends: [], creates };
        },
        // Records that fail: a transfer of a key spent before, or of one never created.
        () => {
          const key = spentBefore.length > 0 && rng.below(2) === 0 ? spentBefore[rng.below(spentBefore.length)]! : keyOf(rng.bytes(32), 0);
          // An owner nobody has: refused even where an abort gave the key back.
          const input = { txid: key.subarray(0, 32), index: Buffer.from(key).readUInt32LE(32), owner: rng.bytes(32) };
          return { bytes: encodeTransferRecord(rng.bytes(32), [input], [{ owner: owner(), amount: 1n }]), applies: false, spends: [], creates: [] };
        },
      ];
      const weights = [30, 14, 6, 14, 6, 8, 4];
      const pick = () => {
        let roll = rng.below(weights.reduce((a, b) => a + b, 0));
        return weights.findIndex((w) => (roll -= w) < 0);
      };

      let elsewhereSpentInBlock = 0;
      let recreated = 0;
      let records = 0;
      for (let block = 0; block < 50; block++) {
        const before = tableContents(table);
        const pendingLocks = [...locks];
        const built: Built[] = [];
        const count = block % 10 === 9 ? 3 : 5 + rng.below(60);
        while (built.length < count) {
          const record = builders[pick()]!(pendingLocks);
          if (record !== undefined) built.push(record);
        }
        if (block % 7 === 3) built.push(builders[6]!(pendingLocks)!); // failing records after the last applied one
        const delta = table.applyBlock(Buffer.concat(built.map((b) => b.bytes)), built.length);
        assert.deepEqual([...delta.statuses].map((s) => s === ApplyStatus.Ok), built.map((b) => b.applies), `block ${block}: every record applies as built`);
        const expected = referenceDelta(built, delta.statuses);
        assert.equal(hex(delta.created), expected.created, `block ${block}: created`);
        assert.equal(hex(delta.spent), expected.spent, `block ${block}: spent`);
        // The delta takes the table from before the block to after it.
        const carried = new Map(before);
        for (let at = 0; at < delta.spent.length; at += 36) assert.ok(carried.delete(hex(delta.spent.subarray(at, at + 36))), `block ${block}: a spent key was in the table`);
        for (let at = 0; at < delta.created.length; at += ENTRY_BYTES) {
          const k = hex(delta.created.subarray(at, at + 36));
          assert.ok(!carried.has(k), `block ${block}: a created key is new`);
          carried.set(k, hex(delta.created.subarray(at, at + ENTRY_BYTES)));
        }
        assert.deepEqual(carried, tableContents(table), `block ${block}: before − spent + created = after`);
        // What the block exercised: an Atomix entry spent later in it, a key created again.
        const createdKeys = new Set<string>();
        built.forEach((record) => {
          for (const key of record.spends) if (createdKeys.has(hex(key))) elsewhereSpentInBlock++;
          for (const { coin, own } of record.creates) if (!own) createdKeys.add(hex(keyOf(coin.txid, coin.index)));
        });
        const spentKeys = new Set(Array.from({ length: delta.spent.length / 36 }, (_, k) => hex(delta.spent.subarray(k * 36, (k + 1) * 36))));
        for (let at = 0; at < delta.created.length; at += ENTRY_BYTES) if (spentKeys.has(hex(delta.created.subarray(at, at + 36)))) recreated++;
        for (const record of built) if (record.applies) spentBefore.push(...record.spends);
        locks = pendingLocks;
        records += built.length;
      }
      assert.ok(records > 1_000, `${records} records`);
      assert.ok(elsewhereSpentInBlock > 50, `${elsewhereSpentInBlock} Atomix entries spent in the block that created them`);
      assert.ok(recreated > 3, `${recreated} keys spent and created again in one block`);
    });
  });
}
