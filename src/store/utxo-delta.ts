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
 */
import { OUTPOINT_BYTES } from "../codec/sizes.js";
import { UTXO_ENTRY_BYTES } from "./schema.js";
import type { UtxoWrite } from "./interface.js";
import { IosError, check } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";

export class UtxoDelta {
  /** latin1 string of the outpoint (one char per byte, so string order = byte order) → value or delete. */
  private readonly pending = new Map<string, Uint8Array | null>();
  /** Keys whose flushed entry was deleted in this window and created again: their pending value overwrites LMDB's. */
  private readonly recreated = new Set<string>();

  /** Net writes waiting for the next flush. */
  get size(): number {
    return this.pending.size;
  }

  /** Records one block's changes: its spends first, then its (net) creations. */
  addBlock(created: Uint8Array, spent: Uint8Array): void {
    check<StoreErrorCode>(created.length % UTXO_ENTRY_BYTES === 0, "STORE_BAD_INPUT", `created must be a multiple of ${UTXO_ENTRY_BYTES} bytes`);
    check<StoreErrorCode>(spent.length % OUTPOINT_BYTES === 0, "STORE_BAD_INPUT", `spent must be a multiple of ${OUTPOINT_BYTES} bytes`);
    const spentKeys = Buffer.from(spent.buffer, spent.byteOffset, spent.byteLength);
    for (let at = 0; at < spentKeys.length; at += OUTPOINT_BYTES) {
      const key = spentKeys.toString("latin1", at, at + OUTPOINT_BYTES);
      const before = this.pending.get(key);
      if (before === null) throw new IosError<StoreErrorCode>("STORE_BAD_INPUT", "an outpoint is spent twice in one flush window");
      if (before === undefined || this.recreated.delete(key)) this.pending.set(key, null);
      else this.pending.delete(key);
    }
    const entries = Buffer.from(created.buffer, created.byteOffset, created.byteLength);
    for (let at = 0; at < entries.length; at += UTXO_ENTRY_BYTES) {
      const key = entries.toString("latin1", at, at + OUTPOINT_BYTES);
      const before = this.pending.get(key);
      check<StoreErrorCode>(before === undefined || before === null, "STORE_BAD_INPUT", "an outpoint is created twice in one flush window");
      if (before === null) this.recreated.add(key);
      this.pending.set(key, created.slice(at + OUTPOINT_BYTES, at + UTXO_ENTRY_BYTES));
    }
  }

  sortedWrites(): UtxoWrite[] {
    const keys = [...this.pending.keys()].sort();
    return keys.map((key) => ({ key: Buffer.from(key, "latin1"), value: this.pending.get(key)! }));
  }

  clear(): void {
    this.pending.clear();
    this.recreated.clear();
  }
}
