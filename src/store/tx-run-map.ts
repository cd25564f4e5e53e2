/**
 * Where the tx index keeps a txid: the run (schema.ts `txIndex`: the height whose transaction
 * wrote the entry, a flush's or a block's own) of every indexed transaction, by the first 8 bytes
 * of its txid, in memory. The index is appended run by run (sequential keys: a flush copies the
 * few pages at the B-tree's end instead of a page per entry across a txid-ordered tree, whose cost
 * grew with the index: bench/index-layout.bench.ts), and this map sends a lookup to its run.
 *
 * Open addressing with linear probing over three typed arrays (prefix halves, run + 1; 0 = empty),
 * load ≤ 1/2, doubled when full; 12 bytes a slot. Two txids sharing a prefix keep a slot each: a
 * lookup yields every run its prefix maps to and the store's get by (run, txid) decides, so the map
 * never answers for a txid it does not hold. The slot comes from the prefix mixed with a key drawn
 * per process, so txids ground to share a slot cannot be aimed at a validator's probe chains.
 * Entries are only added; the store rebuilds the map from the table when it drops entries (pruning,
 * a restore), which is rare and touches a table of about two epochs.
 */
import { randomBytes } from "node:crypto";
import { IosError } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";

const MIN_CAPACITY = 1 << 10;
/** Run heights are stored + 1 in a u32: heights up to 2^32 − 2 (at five heights a second, 27 years). */
export const MAX_RUN_HEIGHT = 0xffff_fffe;
const [MIX_LO, MIX_HI] = Array.from(new Uint32Array(randomBytes(8).buffer));

export class TxRunMap {
  private lo = new Uint32Array(MIN_CAPACITY);
  private hi = new Uint32Array(MIN_CAPACITY);
  private runPlusOne = new Uint32Array(MIN_CAPACITY);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Remembers that the txid at `offset` in `bytes` (its first 8 bytes are read) is indexed in the run
   * of height `run`. An offset, not a view: the store adds every entry at open, where a view each
   * was most of the time.
   */
  add(bytes: Uint8Array, run: number, offset = 0): void {
    if (!(Number.isInteger(run) && run >= 0 && run <= MAX_RUN_HEIGHT)) {
      throw new IosError<StoreErrorCode>("STORE_BAD_INPUT", `a tx index run height must be 0..${MAX_RUN_HEIGHT}, got ${run}`);
    }
    if (2 * (this.count + 1) > this.runPlusOne.length) this.grow();
    this.place(prefixLo(bytes, offset), prefixHi(bytes, offset), run + 1);
    this.count++;
  }

  /** The runs of every indexed txid sharing `txid`'s 8-byte prefix. */
  runsOf(txid: Uint8Array): number[] {
    const lo = prefixLo(txid, 0);
    const hi = prefixHi(txid, 0);
    const mask = this.runPlusOne.length - 1;
    const runs: number[] = [];
    for (let slot = slotOf(lo, hi, mask); this.runPlusOne[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.lo[slot] === lo && this.hi[slot] === hi) runs.push(this.runPlusOne[slot]! - 1);
    }
    return runs;
  }

  clear(): void {
    this.lo = new Uint32Array(MIN_CAPACITY);
    this.hi = new Uint32Array(MIN_CAPACITY);
    this.runPlusOne = new Uint32Array(MIN_CAPACITY);
    this.count = 0;
  }

  private place(lo: number, hi: number, runPlusOne: number): void {
    const mask = this.runPlusOne.length - 1;
    let slot = slotOf(lo, hi, mask);
    while (this.runPlusOne[slot] !== 0) slot = (slot + 1) & mask;
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    this.runPlusOne[slot] = runPlusOne;
  }

  private grow(): void {
    const { lo, hi, runPlusOne } = this;
    const capacity = runPlusOne.length * 2;
    this.lo = new Uint32Array(capacity);
    this.hi = new Uint32Array(capacity);
    this.runPlusOne = new Uint32Array(capacity);
    for (let slot = 0; slot < runPlusOne.length; slot++) if (runPlusOne[slot] !== 0) this.place(lo[slot]!, hi[slot]!, runPlusOne[slot]!);
  }
}

const prefixLo = (bytes: Uint8Array, at: number) => (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
const prefixHi = (bytes: Uint8Array, at: number) => (bytes[at + 4]! | (bytes[at + 5]! << 8) | (bytes[at + 6]! << 16) | (bytes[at + 7]! << 24)) >>> 0;

/** The home slot of a prefix: both halves mixed with the process's key (a multiply-xorshift). */
function slotOf(lo: number, hi: number, mask: number): number {
  let h = Math.imul(lo ^ MIX_LO!, 0x9e37_79b1) ^ Math.imul(hi ^ MIX_HI!, 0x85eb_ca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2_ae3d);
  h ^= h >>> 13;
  return h & mask;
}
