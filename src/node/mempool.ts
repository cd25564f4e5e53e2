/**
 * The validator's bounded mempool (DESIGN.md §3, issue 4): insertion-ordered transactions that
 * passed stateless validation and signature verification, each with its apply record, waiting for
 * a block. Double spends between entries are let in: the block's apply decides (first in block
 * order wins, the loser gets its ApplyStatus).
 *
 * Capacity is reserved at submission, before the transaction is even validated, and covers
 * everything admitted and not yet settled: waiting in intake, in a worker, resident here, or being
 * committed. A submission that does not fit is refused up front (MEMPOOL_FULL); an admitted one is
 * never dropped, since it already holds its reservation.
 */
import { check } from "../errors.js";

export interface MempoolEntry {
  /** Hex txid: the map key, also used by the pipeline's status lookups. */
  readonly key: string;
  readonly txid: Uint8Array;
  /** The encoded transaction. */
  readonly tx: Uint8Array;
  /** Its apply record (layout of src/ledger/stateless.ts). */
  readonly record: Uint8Array;
}

export interface MempoolLimits {
  /** Admitted and unsettled transactions, at most. */
  readonly maxTxs: number;
  /** Σ encoded sizes of admitted and unsettled transactions, at most. */
  readonly maxBytes: number;
}

export class Mempool {
  readonly #entries = new Map<string, MempoolEntry>();
  #reservedTxs = 0;
  #reservedBytes = 0;

  constructor(readonly limits: MempoolLimits) {
    check(Number.isSafeInteger(limits.maxTxs) && limits.maxTxs >= 1, "PIPELINE_OPTIONS", `maxTxs must be a positive integer, got ${limits.maxTxs}`);
    check(Number.isSafeInteger(limits.maxBytes) && limits.maxBytes >= 1, "PIPELINE_OPTIONS", `maxBytes must be a positive integer, got ${limits.maxBytes}`);
  }

  /** Reserves room for one transaction of `bytes`; false (nothing reserved) when it does not fit. */
  tryReserve(bytes: number): boolean {
    if (this.#reservedTxs + 1 > this.limits.maxTxs || this.#reservedBytes + bytes > this.limits.maxBytes) return false;
    this.#reservedTxs++;
    this.#reservedBytes += bytes;
    return true;
  }

  /** Returns the reservation of a transaction that settled (final, rejected or a duplicate). */
  release(bytes: number): void {
    check(this.#reservedTxs >= 1 && this.#reservedBytes >= bytes, "MEMPOOL_ACCOUNTING", "released more than was reserved");
    this.#reservedTxs--;
    this.#reservedBytes -= bytes;
  }

  /** Adds a validated transaction whose room is already reserved; false if its txid is already here. */
  add(entry: MempoolEntry): boolean {
    if (this.#entries.has(entry.key)) return false;
    this.#entries.set(entry.key, entry);
    return true;
  }

  /** The entry waiting under `key`, if any. */
  get(key: string): MempoolEntry | undefined {
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The oldest entries within the same limits as `take`, left in place (a consensus proposal). */
  peek(maxTxs: number, maxFramedBytes: number): MempoolEntry[] {
    const oldest: MempoolEntry[] = [];
    let bytes = 0;
    for (const entry of this.#entries.values()) {
      if (oldest.length >= maxTxs || bytes + 4 + entry.tx.length > maxFramedBytes) break;
      oldest.push(entry);
      bytes += 4 + entry.tx.length;
    }
    return oldest;
  }

  /** Removes one entry (settled by a block this mempool did not build); its reservation stays until `release`. */
  remove(key: string): MempoolEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    return entry;
  }

  /**
   * Removes and returns the oldest entries, at most `maxTxs` of them and at most `maxFramedBytes`
   * of block body (4-byte frame + encoding each). Their reservations stay until `release`.
   */
  take(maxTxs: number, maxFramedBytes: number): MempoolEntry[] {
    const taken = this.peek(maxTxs, maxFramedBytes);
    for (const entry of taken) this.remove(entry.key);
    return taken;
  }

  /** Puts entries taken for a block that could not be committed back in front, in their order. */
  restore(taken: readonly MempoolEntry[]): void {
    const rest = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of [...taken, ...rest]) this.add(entry);
  }

  /** Validated transactions waiting for a block. */
  get size(): number {
    return this.#entries.size;
  }

  /** Admitted and unsettled transactions (intake + workers + resident + committing). */
  get reservedTxs(): number {
    return this.#reservedTxs;
  }

  get reservedBytes(): number {
    return this.#reservedBytes;
  }
}
