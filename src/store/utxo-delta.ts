/**
 * The UTXO changes not yet flushed to the store, accumulated block by block from the UtxoTable's
 * BlockDelta (created: packed 76-byte entries; spent: packed 36-byte outpoints).
 *
 * A transfer's outpoint is created once (its txid is unique), so an output created and spent
 * inside the same flush window cancels out and never touches LMDB; an outpoint spent that was not
 * created in the window is a delete of a flushed entry. Atomix moves entries back and forth (a
 * lock spends an outpoint and creates its locked key, an abort spends the key and creates the
 * outpoint again): a key deleted in the window may be created again, which makes it an upsert of
 * the flushed entry (`recreated`), and spending that again makes it a delete once more.
 * `parts()` packs the net writes as the flush logs them.
 *
 * Every replica adds each final block's delta here (an entry per input and output), so the keys
 * are the outpoints' own bytes in a ByteKeyMap — views into the block's delta lists, which nobody
 * modifies — not a latin1 string per outpoint; a created entry's value is a view as well.
 */
import { OUTPOINT_BYTES } from "../codec/sizes.js";
import { UTXO_ENTRY_BYTES } from "./schema.js";
import { IosError, check } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";
import { ByteKeyMap } from "../ledger/byte-key-map.js";

/** One outpoint's net write in the window. */
interface PendingWrite {
  /** The entry's value to upsert, or null to delete the flushed entry. */
  value: Uint8Array | null;
  /** Its flushed entry was deleted in this window and created again: the pending value overwrites LMDB's. */
  recreated: boolean;
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

  /**
   * The net changes as a flush logs them (schema.ts, "The UTXO log"): the flushed entries deleted
   * (spent, packed outpoints) and the entries added (created, packed entries), a re-created entry in
   * both, since its flushed value is deleted before the new one goes in.
   */
  parts(): { readonly spent: Uint8Array; readonly created: Uint8Array } {
    let spentCount = 0;
    let createdCount = 0;
    this.pending.forEach(({ value, recreated }) => {
      if (value === null || recreated) spentCount++;
      if (value !== null) createdCount++;
    });
    const spent = new Uint8Array(spentCount * OUTPOINT_BYTES);
    const created = new Uint8Array(createdCount * UTXO_ENTRY_BYTES);
    let spentAt = 0;
    let createdAt = 0;
    this.pending.forEach(({ value, recreated }, key) => {
      if (value === null || recreated) {
        spent.set(key, spentAt);
        spentAt += OUTPOINT_BYTES;
      }
      if (value !== null) {
        created.set(key, createdAt);
        created.set(value, createdAt + OUTPOINT_BYTES);
        createdAt += UTXO_ENTRY_BYTES;
      }
    });
    return { spent, created };
  }

  clear(): void {
    this.pending = new ByteKeyMap<PendingWrite>();
  }
}
