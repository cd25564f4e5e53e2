/**
 * A map keyed by byte strings whose first and last four bytes are hash output or an index: txids
 * (32 bytes) and outpoints (txid ‖ u32le index, 36 bytes). Hot per-transaction paths (the PoB
 * producer's pending overlay) used hex strings as Map keys: one string allocation and a 64–72
 * character hash per operation. Here a key costs no allocation: its bucket is a small integer
 * mixed from those eight bytes, and the key is confirmed byte for byte, so two keys in one bucket
 * never answer for each other.
 *
 * Phases of an operation: bucket (`bucketOf`: u32 of the first four bytes XOR a multiplicative mix
 * of the last four, kept to 30 bits so V8 stores it as a small integer) → walk the bucket's chain
 * comparing whole keys → read, insert or unlink.
 *
 * Adversarial keys: a txid is SHA-256 output, so placing k keys into one bucket costs about
 * k × 2^30 hash evaluations of grinding; the chain they make only slows lookups of that bucket
 * (linear in k), never changes an answer.
 *
 * Keys are kept as given (views are fine): the caller must not modify a key's bytes while it is
 * in the map.
 *
 * API: `new ByteKeyMap<V>()`, `get(key)`, `has(key)`, `set(key, value)`, `delete(key)`,
 * `deleteIf(key, value)`, `forEach(visit)` (every entry once, in no particular order), `size`,
 * `bucketOf(key)` (exported for tests).
 */
import { sameBytes } from "../bytes.js";

interface Slot<V> {
  readonly key: Uint8Array;
  value: V;
  next: Slot<V> | undefined;
}

/** Golden-ratio multiplier (2^32 / φ): spreads an index's low bits over the whole word. */
const MIX = 0x9e3779b1;
/** 30 bits: a small integer (Smi) on every V8 build, so bucket keys are never boxed. */
const BUCKET_MASK = 0x3fffffff;

/** The bucket of a key of at least four bytes. */
export function bucketOf(key: Uint8Array): number {
  const n = key.length;
  const head = key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24);
  const tail = key[n - 4]! | (key[n - 3]! << 8) | (key[n - 2]! << 16) | (key[n - 1]! << 24);
  return (head ^ Math.imul(tail, MIX)) & BUCKET_MASK;
}

export class ByteKeyMap<V> {
  readonly #buckets = new Map<number, Slot<V>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: Uint8Array): V | undefined {
    for (let slot = this.#buckets.get(bucketOf(key)); slot !== undefined; slot = slot.next) if (sameBytes(slot.key, key)) return slot.value;
    return undefined;
  }

  has(key: Uint8Array): boolean {
    for (let slot = this.#buckets.get(bucketOf(key)); slot !== undefined; slot = slot.next) if (sameBytes(slot.key, key)) return true;
    return false;
  }

  set(key: Uint8Array, value: V): void {
    const bucket = bucketOf(key);
    const head = this.#buckets.get(bucket);
    for (let slot = head; slot !== undefined; slot = slot.next) {
      if (sameBytes(slot.key, key)) {
        slot.value = value;
        return;
      }
    }
    this.#buckets.set(bucket, { key, value, next: head });
    this.#size++;
  }

  /** Removes `key`; true if it was there. */
  delete(key: Uint8Array): boolean {
    return this.#unlink(key, undefined, false);
  }

  /** Removes `key` only while it maps to `value` (identity): an owner releases what it reserved and nothing a later owner holds. */
  deleteIf(key: Uint8Array, value: V): boolean {
    return this.#unlink(key, value, true);
  }

  /** Calls `visit` once per entry, in no particular order; the map must not change meanwhile. */
  forEach(visit: (value: V, key: Uint8Array) => void): void {
    for (const head of this.#buckets.values()) for (let slot: Slot<V> | undefined = head; slot !== undefined; slot = slot.next) visit(slot.value, slot.key);
  }

  #unlink(key: Uint8Array, value: V | undefined, onlyValue: boolean): boolean {
    const bucket = bucketOf(key);
    let previous: Slot<V> | undefined;
    for (let slot = this.#buckets.get(bucket); slot !== undefined; previous = slot, slot = slot.next) {
      if (!sameBytes(slot.key, key)) continue;
      if (onlyValue && slot.value !== value) return false;
      if (previous !== undefined) previous.next = slot.next;
      else if (slot.next !== undefined) this.#buckets.set(bucket, slot.next);
      else this.#buckets.delete(bucket);
      this.#size--;
      return true;
    }
    return false;
  }
}
