import { TXID_BYTES } from "../codec/sizes.js";
import { readU32 } from "../codec/binary.js";
/**
 * Position in a load set of each of its txids, looked up without allocating. The driver looks up
 * every txid of every OPTIMISTIC and EVENTS frame, and every validator of a shard announces the
 * same ones, so a string key per lookup (a Map keyed by the txid's bytes) would be paid several
 * times per transaction. Open addressing keyed by a txid's first four bytes (SHA-256 output, so
 * uniform), linear probing at load factor ≤ 1/2; entries compare in place against the packed txids.
 */

const EMPTY = -1;

export class TxidPositions {
  readonly #txids: Uint8Array;
  /** Position of the txid in each slot, or EMPTY. */
  readonly #slots: Int32Array;
  readonly #mask: number;

  /** @param txids n × 32 bytes, position i at i × 32; a repeated txid maps to its last position. */
  constructor(txids: Uint8Array) {
    const count = Math.floor(txids.length / TXID_BYTES);
    let capacity = 2;
    while (capacity < 2 * count) capacity *= 2;
    this.#txids = txids;
    this.#slots = new Int32Array(capacity).fill(EMPTY);
    this.#mask = capacity - 1;
    for (let position = 0; position < count; position++) this.#slots[this.#slotOf(txids, position * TXID_BYTES)] = position;
  }

  /** Position of the txid at `bytes[at .. at+32)`, or undefined when the set does not hold it. */
  get(bytes: Uint8Array, at = 0): number | undefined {
    const position = this.#slots[this.#slotOf(bytes, at)]!;
    return position === EMPTY ? undefined : position;
  }

  /** The slot holding the txid at `bytes[at ..)`, or the empty slot where it would go. */
  #slotOf(bytes: Uint8Array, at: number): number {
    let slot = readU32(bytes, at) & this.#mask;
    for (;;) {
      const position = this.#slots[slot]!;
      if (position === EMPTY || this.#holds(position, bytes, at)) return slot;
      slot = (slot + 1) & this.#mask;
    }
  }

  #holds(position: number, bytes: Uint8Array, at: number): boolean {
    const base = position * TXID_BYTES;
    for (let i = 0; i < TXID_BYTES; i++) if (this.#txids[base + i] !== bytes[at + i]) return false;
    return true;
  }
}
