// The UTXO kernel's Atomix cases (white paper §6, Algorithm 5; assembly/utxo/index.ts): lock,
// unlock to commit, unlock to abort, over records of src/ledger/kinds/atomix-record.ts.
// Each shard applies the same record with its own `mine` flags; the tests play two shards.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { encodeTransferRecord } from "../../src/ledger/kinds/transfer.js";
import { TestRng, hex } from "./helpers.js";
import { atomixLockOwner, atomixRecordLayout, encodeAtomixRecord, recordLockSettles, type AtomixKind } from "../../src/ledger/kinds/atomix-record.js";
import { registerTxKind, txKindModule } from "../../src/ledger/kinds/registry.js";
import type { TxKindModule } from "../../src/ledger/kinds/interface.js";
import { transferKind } from "../../src/ledger/kinds/transfer.js";

const LOCK_FLAG = 0x8000_0000;
/** A locked output's index: its own with the top bit set. */
const lockedIndex = (index: number): number => (index | LOCK_FLAG) >>> 0;
const rng = new TestRng(0xa70);
const owners = Array.from({ length: 6 }, () => rng.bytes(32));

interface AtomixInput { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint; mine: boolean }
interface AtomixOutput { owner: Uint8Array; amount: bigint; mine: boolean }

const lockOwnerOf = atomixLockOwner;

function atomixRecord(kind: number, txid: Uint8Array, crossTxid: Uint8Array, inputs: readonly AtomixInput[], outputs: readonly AtomixOutput[]): Uint8Array {
  return encodeAtomixRecord(kind as AtomixKind, txid, crossTxid, inputs, outputs);
}

/** A cross-shard payment: inputs `ins` (the first `mineInputs` in this shard) to outputs `outs` (the first `mineOutputs` here). */
function crossShard(ins: readonly { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[], mineInputs: number, outs: readonly AtomixOutput[]) {
  const crossTxid = rng.bytes(32);
  const inputs = ins.map((input, i) => ({ ...input, mine: i < mineInputs }));
  const record = (kind: number, txid = crossTxid) => atomixRecord(kind, txid, crossTxid, inputs, outs);
  return {
    crossTxid,
    lock: record(TxKind.AtomixLock),
    commit: record(TxKind.AtomixUnlockCommit, rng.bytes(32)),
    abort: record(TxKind.AtomixUnlockAbort, rng.bytes(32)),
    record,
    inputs,
  };
}

/** An input of another shard (this table never holds it): with one, a lock only locks. */
const foreign = (amount = 1n) => ({ txid: rng.bytes(32), index: 0, owner: owners[3]!, amount });

function contents(table: UtxoTable): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of table.entries()) map.set(`${hex(e.txid)}:${e.index}`, `${hex(e.owner)}:${e.amount}`);
  return map;
}

function apply(table: UtxoTable, ...records: Uint8Array[]): number[] {
  return [...table.applyBlock(Buffer.concat(records), records.length).statuses];
}

for (const flavor of WASM_FLAVORS) {
  describe(`UTXO kernel, Atomix cases (${flavor})`, () => {
    function fresh() {
      const table = new UtxoTable({ flavor });
      const coins = owners.map((owner, i) => ({ txid: rng.bytes(32), index: i, owner, amount: 1_000n * BigInt(i + 1) }));
      for (const coin of coins) table.insert(coin);
      return { table, coins };
    }

    it("a lock moves this shard's inputs to their locked keys, owned by the lock owner; supply and count stay", () => {
      const { table, coins } = fresh();
      const tx = crossShard([coins[0]!, coins[1]!, { ...coins[2]!, txid: rng.bytes(32) }], 2, [{ owner: owners[5]!, amount: 2_500n, mine: false }]);
      const [supply, count] = [table.supply, table.count];
      assert.deepEqual(apply(table, tx.lock), [ApplyStatus.Ok]);
      assert.deepEqual([table.supply, table.count], [supply, count]);
      for (const coin of [coins[0]!, coins[1]!]) {
        assert.equal(table.get(coin.txid, coin.index), undefined, "the output is no longer spendable");
        const locked = table.get(coin.txid, lockedIndex(coin.index));
        assert.deepEqual(locked && [hex(locked.owner), locked.amount], [hex(lockOwnerOf(tx.crossTxid)), coin.amount]);
      }
      // A transfer may not spend the output, nor its locked key.
      const spend = (index: number, owner: Uint8Array) => encodeTransferRecord(rng.bytes(32), [{ txid: coins[0]!.txid, index, owner }], [{ owner: owners[4]!, amount: 1n }]);
      assert.deepEqual(apply(table, spend(coins[0]!.index, coins[0]!.owner), spend(lockedIndex(coins[0]!.index), lockOwnerOf(tx.crossTxid))), [ApplyStatus.MissingInput, ApplyStatus.Malformed]);
    });

    it("a lock that fails changes nothing and says why; two locks racing for an output: the first wins", () => {
      const { table, coins } = fresh();
      const before = contents(table);
      const cases: [ReturnType<typeof crossShard>, number][] = [
        [crossShard([{ ...coins[0]!, txid: rng.bytes(32) }], 1, []), ApplyStatus.MissingInput],
        [crossShard([coins[1]!, { ...coins[0]!, owner: owners[5]! }], 2, []), ApplyStatus.OwnerMismatch],
        [crossShard([coins[1]!, { ...coins[0]!, amount: coins[0]!.amount + 1n }], 2, []), ApplyStatus.AmountMismatch],
        [crossShard([coins[1]!, coins[1]!], 2, []), ApplyStatus.DuplicateInput],
        [crossShard([coins[1]!], 0, []), ApplyStatus.Malformed],
        [crossShard([{ ...coins[1]!, index: lockedIndex(coins[1]!.index) }], 1, []), ApplyStatus.Malformed],
      ];
      for (const [tx, status] of cases) assert.deepEqual(apply(table, tx.lock), [status]);
      assert.deepEqual(apply(table, tx0Truncated(coins)), [ApplyStatus.Malformed]);
      assert.deepEqual(contents(table), before);
      const first = crossShard([coins[3]!], 1, []);
      const second = crossShard([coins[3]!], 1, []);
      assert.deepEqual(apply(table, first.lock, second.lock), [ApplyStatus.Ok, ApplyStatus.MissingInput]);
    });

    it("commit consumes this shard's locked inputs and creates its outputs at (cross txid, j); repeated, it changes nothing", () => {
      const input = fresh();
      const output = fresh();
      const outs = [{ owner: owners[4]!, amount: 1_200n, mine: false }, { owner: owners[5]!, amount: 1_700n, mine: true }];
      const tx = crossShard([input.coins[0]!, input.coins[1]!, foreign()], 2, outs);
      assert.deepEqual(apply(input.table, tx.lock), [ApplyStatus.Ok]);
      const supplyBefore = input.table.supply;
      // The input shard: no output of its own here; the output shard: no input of its own.
      const inShard = tx.record(TxKind.AtomixUnlockCommit, tx.crossTxid.map((b) => b ^ 1));
      const atOutput = atomixRecord(TxKind.AtomixUnlockCommit, rng.bytes(32), tx.crossTxid, tx.inputs.map((i) => ({ ...i, mine: false })), outs);
      const inputOnly = atomixRecord(TxKind.AtomixUnlockCommit, rng.bytes(32), tx.crossTxid, tx.inputs, outs.map((o) => ({ ...o, mine: false })));
      assert.deepEqual(apply(input.table, inputOnly), [ApplyStatus.Ok]);
      assert.equal(input.table.supply, supplyBefore - 3_000n, "the locked value leaves the input shard");
      for (const coin of [input.coins[0]!, input.coins[1]!]) assert.equal(input.table.get(coin.txid, lockedIndex(coin.index)), undefined);
      assert.deepEqual(apply(input.table, inShard), [ApplyStatus.NotLocked], "a second commit finds nothing locked");
      const outputSupply = output.table.supply;
      assert.deepEqual(apply(output.table, atOutput, atOutput), [ApplyStatus.Ok, ApplyStatus.OutputExists]);
      const created = output.table.get(tx.crossTxid, 1);
      assert.deepEqual(created && [hex(created.owner), created.amount], [hex(owners[5]!), 1_700n]);
      assert.equal(output.table.get(tx.crossTxid, 0), undefined, "output 0 belongs to another shard");
      assert.equal(output.table.supply, outputSupply + 1_700n);
      const greedy = atomixRecord(TxKind.AtomixUnlockCommit, rng.bytes(32), tx.crossTxid, tx.inputs.map((i) => ({ ...i, mine: false })), [{ owner: owners[5]!, amount: 3_002n, mine: true }]);
      assert.deepEqual(apply(output.table, greedy), [ApplyStatus.InsufficientFunds], "outputs beyond the declared inputs");
    });

    it("the lock of a transfer's only input shard settles it: inputs consumed, this shard's outputs created at (cross txid, j); nothing is left to commit or abort", () => {
      const { table, coins } = fresh();
      const outs = [{ owner: owners[4]!, amount: 1_200n, mine: false }, { owner: owners[5]!, amount: 1_700n, mine: true }];
      const tx = crossShard([coins[0]!, coins[1]!], 2, outs);
      const [supply, count] = [table.supply, table.count];
      assert.deepEqual(apply(table, tx.lock), [ApplyStatus.Ok]);
      assert.equal(table.supply, supply - 3_000n + 1_700n, "what goes to the other shard leaves this one");
      assert.equal(table.count, count - 1);
      for (const coin of [coins[0]!, coins[1]!]) {
        assert.equal(table.get(coin.txid, coin.index), undefined);
        assert.equal(table.get(coin.txid, lockedIndex(coin.index)), undefined, "nothing is locked");
      }
      const created = table.get(tx.crossTxid, 1);
      assert.deepEqual(created && [hex(created.owner), created.amount], [hex(owners[5]!), 1_700n]);
      assert.equal(table.get(tx.crossTxid, 0), undefined, "output 0 belongs to another shard");
      const after = contents(table);
      assert.deepEqual(apply(table, tx.commit, tx.abort, tx.lock), [ApplyStatus.NotLocked, ApplyStatus.NotLocked, ApplyStatus.MissingInput]);
      assert.deepEqual(contents(table), after, "replays change nothing");
      // Outputs beyond the declared inputs, or onto an existing key, refuse the whole lock.
      const greedy = crossShard([coins[2]!], 1, [{ owner: owners[5]!, amount: coins[2]!.amount + 1n, mine: false }]);
      assert.deepEqual(apply(table, greedy.lock), [ApplyStatus.InsufficientFunds]);
      const clash = crossShard([coins[2]!], 1, [{ owner: owners[5]!, amount: 1n, mine: true }]);
      table.insert({ txid: clash.crossTxid, index: 0, owner: owners[0]!, amount: 5n });
      assert.deepEqual(apply(table, clash.lock), [ApplyStatus.OutputExists]);
      assert.deepEqual(apply(table, crossShard([coins[2]!], 1, [{ owner: owners[5]!, amount: 0n, mine: true }]).lock), [ApplyStatus.Malformed], "a zero output");
      assert.ok(table.get(coins[2]!.txid, coins[2]!.index) !== undefined, "refused locks leave the input spendable");
    });

    it("abort puts this shard's locked inputs back exactly; a shard that never locked, a repeat, or another lock's abort: NOT_LOCKED", () => {
      const { table, coins } = fresh();
      const before = contents(table);
      const tx = crossShard([coins[0]!, coins[1]!, foreign()], 2, [{ owner: owners[5]!, amount: 10n, mine: false }]);
      const other = crossShard([coins[0]!, coins[1]!, foreign()], 2, []);
      assert.deepEqual(apply(table, other.abort), [ApplyStatus.NotLocked], "nothing locked yet");
      assert.deepEqual(apply(table, tx.lock, other.abort), [ApplyStatus.Ok, ApplyStatus.NotLocked], "another transaction's abort cannot release this lock");
      assert.deepEqual(apply(table, tx.abort, tx.abort), [ApplyStatus.Ok, ApplyStatus.NotLocked]);
      assert.deepEqual(contents(table), before, "the outputs are back, owners and amounts");
      assert.deepEqual(apply(table, tx.commit), [ApplyStatus.NotLocked], "after an abort nothing can commit here");
    });

    it("lock, settling lock, commit and abort are undone exactly", () => {
      const { table, coins } = fresh();
      const tx = crossShard([coins[0]!, coins[1]!, foreign()], 2, [{ owner: owners[5]!, amount: 10n, mine: true }]);
      const settling = crossShard([coins[0]!, coins[1]!], 2, [{ owner: owners[5]!, amount: 10n, mine: true }, { owner: owners[4]!, amount: 20n, mine: false }]);
      for (const [setup, step] of [[[], tx.lock], [[], settling.lock], [[tx.lock], tx.commit], [[tx.lock], tx.abort]] as const) {
        const copy = new UtxoTable({ flavor });
        for (const e of table.entries()) copy.insert(e);
        if (setup.length > 0) apply(copy, ...setup);
        const expected = contents(copy);
        const supply = copy.supply;
        assert.deepEqual(apply(copy, step), [ApplyStatus.Ok]);
        copy.undoLastBlock();
        assert.deepEqual(contents(copy), expected);
        assert.equal(copy.supply, supply);
      }
    });
  });
}

/** A lock record cut one byte short. */
function tx0Truncated(coins: readonly { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[]): Uint8Array {
  const whole = crossShard([coins[0]!], 1, []).lock;
  const cut = Buffer.from(whole.subarray(0, whole.length - 1));
  cut.writeUInt32LE(cut.length, 1);
  return cut;
}

/**
 * The unlock kinds (2, 3) have no registered module until their proofs exist: the record walker
 * needs only their layout, which these stand-ins give it.
 */
function registerRecordLayouts(): void {
  for (const [kind, balanced] of [[TxKind.AtomixUnlockCommit, false], [TxKind.AtomixUnlockAbort, true]] as const) {
    try {
      txKindModule(kind);
    } catch {
      registerTxKind({ ...transferKind, kind, name: `atomix-${kind}`, record: atomixRecordLayout(balanced) } as TxKindModule);
    }
  }
}

/** The workload's tally key of a lock that settles its transfer (no kind byte has it). */
const SETTLING_LOCK = 0x100;

for (const flavor of WASM_FLAVORS) {
  describe(`UTXO table delta with Atomix records (${flavor})`, () => {
    it("the delta of random blocks mixing locks, commits, aborts and transfers rebuilds the table from the store's view", () => {
      registerRecordLayouts();
      const random = new TestRng(0xde17a);
      const table = new UtxoTable({ flavor });
      const persisted = new Map<string, string>();
      const keyHex = (txid: Uint8Array, index: number) => hex(Buffer.concat([txid, Buffer.from(new Uint32Array([index]).buffer)]));
      const coins: { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[] = [];
      for (let i = 0; i < 40; i++) {
        const coin = { txid: random.bytes(32), index: random.below(4), owner: owners[random.below(owners.length)]!, amount: BigInt(1 + random.below(1_000_000)) };
        table.insert(coin);
        persisted.set(keyHex(coin.txid, coin.index), `${hex(coin.owner)}${Buffer.from(new BigUint64Array([coin.amount]).buffer).toString("hex")}`);
        coins.push(coin);
      }
      const locks: ReturnType<typeof crossShard>[] = [];
      const appliedByKind = new Map<number, number>();
      for (let block = 0; block < 150; block++) {
        const records: Uint8Array[] = [];
        for (let r = 0; r < 6; r++) {
          const choice = random.below(4);
          if (choice === 0 && coins.length > 1) {
            // A third of the locks settle their transfer (one or two inputs, all this shard's); the others
            // lock one or two of three inputs.
            const settles = random.below(3) === 0;
            const picked = Array.from({ length: settles ? 1 + random.below(2) : 3 }, () => coins[random.below(coins.length)]!);
            const tx = crossShard(picked, settles ? picked.length : 1 + random.below(2), [{ owner: owners[0]!, amount: 1n, mine: random.below(2) === 0 }, { owner: owners[1]!, amount: 2n, mine: true }]);
            if (!settles) locks.push(tx);
            records.push(tx.lock);
          } else if (choice === 1 && locks.length > 0) {
            records.push(locks[random.below(locks.length)]!.commit);
          } else if (choice === 2 && locks.length > 0) {
            records.push(locks[random.below(locks.length)]!.abort);
          } else if (coins.length > 0) {
            const coin = coins[random.below(coins.length)]!;
            const txid = random.bytes(32);
            records.push(encodeTransferRecord(txid, [{ txid: coin.txid, index: coin.index, owner: coin.owner }], [{ owner: owners[2]!, amount: 1n }]));
            coins.push({ txid, index: 0, owner: owners[2]!, amount: 1n });
          }
        }
        const delta = table.applyBlock(Buffer.concat(records), records.length);
        records.forEach((record, k) => {
          if (delta.statuses[k] !== ApplyStatus.Ok) return;
          const kind = record[0] === TxKind.AtomixLock && recordLockSettles(record) ? SETTLING_LOCK : record[0]!;
          appliedByKind.set(kind, (appliedByKind.get(kind) ?? 0) + 1);
        });
        for (let at = 0; at < delta.spent.length; at += 36) assert.ok(persisted.delete(hex(delta.spent.subarray(at, at + 36))), "a spent key was stored before");
        for (let at = 0; at < delta.created.length; at += 76) {
          const key = hex(delta.created.subarray(at, at + 36));
          assert.ok(!persisted.has(key), "a created key is new");
          persisted.set(key, hex(delta.created.subarray(at + 36, at + 76)));
        }
        table.forgetUndo();
      }
      for (const kind of [TxKind.Transfer, TxKind.AtomixLock, SETTLING_LOCK, TxKind.AtomixUnlockCommit, TxKind.AtomixUnlockAbort]) {
        assert.ok((appliedByKind.get(kind) ?? 0) >= 5, `kind ${kind} applied in the workload (${JSON.stringify([...appliedByKind])})`);
      }
      const snapshot = table.snapshot();
      const fromTable = new Map<string, string>();
      for (let at = 0; at < snapshot.length; at += 76) fromTable.set(hex(snapshot.subarray(at, at + 36)), hex(snapshot.subarray(at + 36, at + 76)));
      assert.deepEqual(new Map([...persisted].sort()), new Map([...fromTable].sort()), "applying the deltas to the stored set gives the table");
    });
  });
}
