/**
 * Which optimistic block confirmed a transaction, for its status (`optimistic`, with the block for
 * the inclusion proof), on every PoB validator (src/node/consensus/pob-consensus.ts): each
 * transaction is remembered when its block is announced and forgotten when it is final, rejected or
 * offered again. Keyed by the txid's own bytes (a view into the block's txids, ByteKeyMap): a hex
 * string per transaction cost every replica an allocation and a 64-character hash twice per
 * transaction (bench/results/optimistic-index-ab.json).
 *
 * Bounded: past `capacity` entries the oldest block's entries go first. Blocks are queued oldest
 * first with a count of their entries still held; a block left with none is dropped when it
 * reaches the head, and the queue is compacted whenever it doubles, so a block whose transaction
 * never settles holds only itself, not the blocks after it.
 *
 * API: `new OptimisticIndex(capacity)`, `remember(hash, block, confirmed?)`, `forget(txid)`,
 * `get(txid)`, `has(txid)`, `size`, `blocks` (queued, for tests).
 */
import { TXID_BYTES } from "../../codec/sizes.js";
import type { DecodedBlock } from "../../ledger/block.js";
import { ByteKeyMap } from "../../ledger/byte-key-map.js";

/** An optimistic block the index holds entries of, and how many of them are still there. */
export interface RememberedBlock {
  readonly hash: Uint8Array;
  readonly block: DecodedBlock;
  live: number;
}

/** A transaction's place in the optimistic block that confirmed it. */
export interface OptimisticEntry {
  readonly of: RememberedBlock;
  readonly index: number;
}

/** The queue is compacted from this length on (a block's transactions usually go final together, well before). */
const MIN_COMPACTION = 64;

export class OptimisticIndex {
  readonly #entries = new ByteKeyMap<OptimisticEntry>();
  /** Blocks holding entries, oldest first (and blocks left with none, until dropped). */
  #queue: RememberedBlock[] = [];
  #compactAt = MIN_COMPACTION;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Blocks queued (held entries, or not yet dropped). */
  get blocks(): number {
    return this.#queue.length;
  }

  get(txid: Uint8Array): OptimisticEntry | undefined {
    return this.#entries.get(txid);
  }

  has(txid: Uint8Array): boolean {
    return this.#entries.has(txid);
  }

  /**
   * Remembers the transactions of optimistic block `block` (hash `hash`), or only those among
   * `confirmed` (n × 32 bytes) when given; a transaction an earlier block confirmed moves to this one.
   * Calls `each` with every txid remembered (a view into the block's txids).
   */
  remember(hash: Uint8Array, block: DecodedBlock, confirmed?: Uint8Array, each?: (txid: Uint8Array) => void): void {
    let only: ByteKeyMap<true> | undefined;
    if (confirmed !== undefined && confirmed.length !== block.txids.length) {
      only = new ByteKeyMap<true>();
      for (let at = 0; at < confirmed.length; at += TXID_BYTES) only.set(confirmed.subarray(at, at + TXID_BYTES), true);
    }
    const remembered: RememberedBlock = { hash, block, live: 0 };
    for (let index = 0; index < block.header.txCount; index++) {
      const txid = block.txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES);
      if (only !== undefined && !only.has(txid)) continue;
      this.forget(txid);
      this.#entries.set(txid, { of: remembered, index });
      remembered.live++;
      each?.(txid);
    }
    if (remembered.live > 0) this.#queue.push(remembered);
    while (this.#queue.length > 0 && (this.#queue[0]!.live === 0 || this.#entries.size > this.capacity)) {
      const oldest = this.#queue.shift()!;
      for (let at = 0; oldest.live > 0 && at < oldest.block.txids.length; at += TXID_BYTES) {
        const txid = oldest.block.txids.subarray(at, at + TXID_BYTES);
        if (this.#entries.get(txid)?.of === oldest) this.forget(txid);
      }
    }
    if (this.#queue.length >= this.#compactAt) {
      this.#queue = this.#queue.filter((kept) => kept.live > 0);
      this.#compactAt = 2 * Math.max(this.#queue.length, MIN_COMPACTION);
    }
  }

  /** Forgets `txid` (final, rejected or offered again); nothing when it is not held. */
  forget(txid: Uint8Array): void {
    const entry = this.#entries.get(txid);
    if (entry === undefined) return;
    this.#entries.delete(txid);
    entry.of.live--;
  }
}
