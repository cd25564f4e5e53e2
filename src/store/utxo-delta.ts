/**
 * The UTXO changes not yet flushed to LMDB, accumulated block by block from the UtxoTable's
 * BlockDelta (created: packed 76-byte entries; spent: packed 36-byte outpoints).
 *
 * A transfer's outpoint is created once (its txid is unique), so an output created and spent
 * inside the same flush window cancels out and never touches LMDB; an outpoint spent that was not
 * created in the window is a delete of a flushed entry. Atomix moves entries back and forth (a
 * lock spends an outpoint and creates its locked key, an abort spends the key and creates the
 * outpoint again): a key deleted in the window may be created again, which makes it an upsert of
 * the flushed entry (`recreated`), and spending that again makes it a delete once more.
 * `sortedWrites()` yields the net writes in LMDB key order (byte order of the outpoint), which is
 * what keeps the flush's B-tree writes local.
 *
 * Every replica adds each final block's delta here (an entry per input and output), so the keys
 * are the outpoints' own bytes in a ByteKeyMap — views into the block's delta lists, which nobody
 * modifies — not a latin1 string per outpoint; a created entry's value is a view as well.
 */
import { OUTPOINT_BYTES } from "../codec/sizes.js";
import { UTXO_ENTRY_BYTES } from "./schema.js";
import type { UtxoWrite } from "./interface.js";
import { IosError, check, invariant } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";
import { ByteKeyMap } from "../ledger/byte-key-map.js";

/** One outpoint's net write in the window. */
interface PendingWrite {
  /** The entry's value to upsert, or null to delete the flushed entry. */
  value: Uint8Array | null;
  /** Its flushed entry was deleted in this window and created again: the pending value overwrites LMDB's. */
  recreated: boolean;
}

/**
 * `sortedWrites` orders writes by a number per write: the big-endian u32 of the key's first four
 * bytes × SORT_INDEX_SPAN + the write's index, exact in a double (2^32 × 2^21 = 2^53), sorted
 * natively; runs sharing those four bytes (a transaction's outputs share its txid) are then
 * ordered by their whole keys. 2^21 writes: shard-state flushes at 2^18 pending writes
 * (MAX_PENDING_UTXO_WRITES) plus one block's, far below.
 */
const SORT_INDEX_SPAN = 2 ** 21;

/** The big-endian u32 of a key's first four bytes. */
function headOf(key: Uint8Array): number {
  return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
}

export class UtxoDelta {
  private pending = new ByteKeyMap<PendingWrite>();

  /** Net writes waiting for the next flush. */
  get size(): number {
    return this.pending.size;
  }

  /** Records one block's changes: its spends first, then its (net) creations. */
  addBlock(created: Uint8Array, spent: Uint8Array): void {
    check<StoreErrorCode>(created.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `created must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
    check<StoreErrorCode>(spent.length % OUTPOINT_BYTES === 0, "STORE_BAD_INPUT", `spent must be a multiple of ${OUTPOINT_BYTES} bytes`);
    for (let at = 0; at < spent.length; at += OUTPOINT_BYTES) {
      const key = spent.subarray(at, at + OUTPOINT_BYTES);
      const before = this.pending.get(key);
      if (before === undefined) this.pending.set(key, { value: null, recreated: false });
      else if (before.value === null) throw new IosError<StoreErrorCode>("STORE_BAD_INPUT", "an outpoint is spent twice in one flush window");
      else if (before.recreated) {
        before.value = null;
        before.recreated = false;
      } else this.pending.delete(key);
    }
    for (let at = 0; at < created.length; at += UTXO_ENTRY_BYTES) {
      const key = created.subarray(at, at + OUTPOINT_BYTES);
      const value = created.subarray(at + OUTPOINT_BYTES, at + UTXO_ENTRY_BYTES);
      const before = this.pending.get(key);
      check<StoreErrorCode>(before === undefined || before.value === null, "STORE_BAD_INPUT", "an outpoint is created twice in one flush window");
      if (before === undefined) this.pending.set(key, { value, recreated: false });
      else {
        before.value = value;
        before.recreated = true;
      }
    }
  }

  sortedWrites(): UtxoWrite[] {
    const keys: Uint8Array[] = [];
    const values: (Uint8Array | null)[] = [];
    this.pending.forEach(({ value }, key) => {
      keys.push(key);
      values.push(value);
    });
    const n = keys.length;
    invariant(n <= SORT_INDEX_SPAN, `${n} pending UTXO writes exceed the sort's index span`);
    const order = new Float64Array(n);
    for (let i = 0; i < n; i++) order[i] = headOf(keys[i]!) * SORT_INDEX_SPAN + i;
    order.sort();
    const writes: UtxoWrite[] = new Array(n);
    for (let start = 0; start < n; ) {
      const head = Math.floor(order[start]! / SORT_INDEX_SPAN);
      let end = start + 1;
      while (end < n && Math.floor(order[end]! / SORT_INDEX_SPAN) === head) end++;
      if (end - start === 1) {
        const i = order[start]! % SORT_INDEX_SPAN;
        writes[start] = { key: keys[i]!, value: values[i]! };
      } else {
        const run: number[] = [];
        for (let at = start; at < end; at++) run.push(order[at]! % SORT_INDEX_SPAN);
        run.sort((a, b) => Buffer.compare(keys[a]!, keys[b]!));
        run.forEach((i, k) => (writes[start + k] = { key: keys[i]!, value: values[i]! }));
      }
      start = end;
    }
    return writes;
  }

  clear(): void {
    this.pending = new ByteKeyMap<PendingWrite>();
  }
}
