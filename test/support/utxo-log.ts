// The flushed UTXO set a store's log adds up to (src/store/schema.ts, "The UTXO log"), composed in
// a Map the way ShardState composes it in its table: base entries, then each flush's spent
// outpoints removed and created entries added. Strict, as the table is: a spend of an absent
// outpoint or a second creation throws.
import { OUTPOINT_BYTES } from "../../src/codec/sizes.js";
import type { ChainStore } from "../../src/store/interface.js";
import { UTXO_ENTRY_BYTES, UtxoLogPart } from "../../src/store/schema.js";

/** Outpoint hex → value (owner ‖ u64le amount) hex. */
export function flushedSet(store: Pick<ChainStore, "utxoLog">): Map<string, string> {
  const set = new Map<string, string>();
  for (const { part, bytes } of store.utxoLog()) {
    const buffer = Buffer.from(bytes);
    if (part === UtxoLogPart.spent) {
      for (let at = 0; at < buffer.length; at += OUTPOINT_BYTES) {
        const key = buffer.toString("hex", at, at + OUTPOINT_BYTES);
        if (!set.delete(key)) throw new Error(`the log spends ${key}, which it does not hold`);
      }
      continue;
    }
    for (let at = 0; at < buffer.length; at += UTXO_ENTRY_BYTES) {
      const key = buffer.toString("hex", at, at + OUTPOINT_BYTES);
      if (set.has(key)) throw new Error(`the log creates ${key} twice`);
      set.set(key, buffer.toString("hex", at + OUTPOINT_BYTES, at + UTXO_ENTRY_BYTES));
    }
  }
  return set;
}

/** The flushed set as packed 76-byte entries in outpoint order. */
export function flushedEntries(store: Pick<ChainStore, "utxoLog">): Buffer {
  return Buffer.concat([...flushedSet(store)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => Buffer.from(key + value, "hex")));
}
