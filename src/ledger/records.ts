/**
 * The one walker over packed apply records (layout: src/ledger/kinds/interface.ts, RECORD_HEADER
 * then the kind's body). Every reader of records goes through it: the UTXO table's block delta,
 * the worker's and PoB's record filters, the pipeline, the optimistic producer's view check.
 * Nothing else reads a record's offsets.
 *
 * A cursor sits on one record at a time; `next()` steps to the following one. The header is
 * checked when the cursor lands (RECORD_MALFORMED if the record does not fit); inputs and outputs
 * are read through the kind's `RecordLayout`, so the cursor needs the kind registered.
 *
 * API: `new RecordCursor(records)` with `done kind length txid bytes inputCount outpoint(i)
 * outpointIndex(i) inputOwner(i) outputCount outputOwner(j) outputAmount(j) createdKey(j) createsAtOwnTxid balanced
 * next() seek(offset)`;
 * `recordsWhere(records, keep)`, `recordsWhereAll(parts)`, `createdOutputOf(tx, txid, index, shard, shardCount)`.
 */
import { readU32, readU64, writeU32 } from "../codec/binary.js";
import { OUTPOINT_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, type RecordLayout } from "./kinds/interface.js";
import { applyRecordOf, txKindModule } from "./kinds/registry.js";
import { check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

export class RecordCursor {
  /** Offset of the current record. */
  private at = 0;
  private size = 0;
  private layout: RecordLayout | undefined;

  constructor(readonly records: Uint8Array) {
    this.land();
  }

  private land(): void {
    this.layout = undefined;
    if (this.at === this.records.length) return;
    const remaining = this.records.length - this.at;
    check<LedgerErrorCode>(remaining >= RECORD_HEADER.bytes, "RECORD_MALFORMED", `record at ${this.at}: ${remaining} bytes cannot hold a ${RECORD_HEADER.bytes}-byte header`);
    this.size = readU32(this.records, this.at + RECORD_HEADER.offset.length);
    check<LedgerErrorCode>(this.size >= RECORD_HEADER.bytes && this.size <= remaining, "RECORD_MALFORMED", `record at ${this.at} declares ${this.size} bytes, ${remaining} remain`);
  }

  /** True past the last record. */
  get done(): boolean {
    return this.at === this.records.length;
  }

  /** Offset of the current record in `records`. */
  get offset(): number {
    return this.at;
  }

  get kind(): number {
    return this.records[this.at + RECORD_HEADER.offset.kind]!;
  }

  /** Whole record size, header included. */
  get length(): number {
    return this.size;
  }

  /** The current record's bytes (a view). */
  get bytes(): Uint8Array {
    return this.records.subarray(this.at, this.at + this.size);
  }

  /** The transaction id (a view). */
  get txid(): Uint8Array {
    const at = this.at + RECORD_HEADER.offset.txid;
    return this.records.subarray(at, at + TXID_BYTES);
  }

  private kindLayout(): RecordLayout {
    this.layout ??= txKindModule(this.kind).record;
    return this.layout;
  }

  get inputCount(): number {
    return this.kindLayout().inputCount(this.records, this.at);
  }

  /** Input i's outpoint, txid ‖ u32le index (a view: the UTXO table's key). */
  outpoint(i: number): Uint8Array {
    const at = this.kindLayout().inputAt(this.records, this.at, i) + RECORD_INPUT.offset.outpoint;
    return this.records.subarray(at, at + OUTPOINT_BYTES);
  }

  /** The output index of input i's outpoint. */
  outpointIndex(i: number): number {
    return readU32(this.records, this.kindLayout().inputAt(this.records, this.at, i) + TXID_BYTES);
  }

  /** The owner input i claims (a view). */
  inputOwner(i: number): Uint8Array {
    const at = this.kindLayout().inputAt(this.records, this.at, i) + RECORD_INPUT.offset.owner;
    return this.records.subarray(at, at + PUBLIC_KEY_BYTES);
  }

  get outputCount(): number {
    return this.kindLayout().outputCount(this.records, this.at);
  }

  /** Output j, owner[32] ‖ amount u64 (a view: the value half of a UTXO entry). */
  output(j: number): Uint8Array {
    const at = this.kindLayout().outputAt(this.records, this.at, j);
    return this.records.subarray(at, at + RECORD_OUTPUT.bytes);
  }

  outputOwner(j: number): Uint8Array {
    return this.output(j).subarray(RECORD_OUTPUT.offset.owner, RECORD_OUTPUT.offset.owner + PUBLIC_KEY_BYTES);
  }

  outputAmount(j: number): bigint {
    return readU64(this.records, this.kindLayout().outputAt(this.records, this.at, j) + RECORD_OUTPUT.offset.amount);
  }

  /** Whether every output j lands at (record txid, j), as for every kind but Atomix's and a registration's (its bond). */
  get createsAtOwnTxid(): boolean {
    return this.kindLayout().createdKeyAt === undefined;
  }

  /** Output j's outpoint, the key the table gets (a view when the record holds it, else a fresh txid ‖ u32le j). */
  createdKey(j: number): Uint8Array {
    const at = this.kindLayout().createdKeyAt?.(this.records, this.at, j);
    if (at !== undefined) return this.records.subarray(at, at + OUTPOINT_BYTES);
    const key = new Uint8Array(OUTPOINT_BYTES);
    key.set(this.txid);
    writeU32(key, TXID_BYTES, j);
    return key;
  }

  /** Whether the record's outputs are bounded by its own inputs (see RecordLayout.balanced). */
  get balanced(): boolean {
    return this.kindLayout().balanced;
  }

  next(): void {
    this.at += this.size;
    this.land();
  }

  /** Moves to the record starting at `offset` (an offset this cursor reported earlier). */
  seek(offset: number): void {
    check<LedgerErrorCode>(Number.isInteger(offset) && offset >= 0 && offset <= this.records.length, "RECORD_MALFORMED", `offset ${offset} is outside the records`);
    this.at = offset;
    this.land();
  }
}

/** The records whose flag in `keep` is set, in order, packed; `count` is how many. */
export function recordsWhere(records: Uint8Array, keep: (index: number) => boolean): { records: Uint8Array; count: number } {
  return recordsWhereAll([{ records, keep }]);
}

/** The kept records of several packed buffers, in order, in one buffer (each copied once). */
export function recordsWhereAll(parts: readonly { readonly records: Uint8Array; readonly keep: (index: number) => boolean }[]): { records: Uint8Array; count: number } {
  const kept = new Uint8Array(parts.reduce((n, part) => n + part.records.length, 0));
  let written = 0;
  let count = 0;
  for (const { records, keep } of parts) {
    for (let cursor = new RecordCursor(records), index = 0; !cursor.done; cursor.next(), index++) {
      if (!keep(index)) continue;
      kept.set(cursor.bytes, written);
      written += cursor.length;
      count++;
    }
  }
  return { records: kept.subarray(0, written), count };
}

/**
 * The entry the valid encoding `tx` (txid `txid`) creates at outpoint (txid, index) when it applies
 * in shard `shard` of `shardCount`; undefined when it creates none there (an Atomix transaction's
 * outputs land in other shards, or at (cross txid, j) by its commit).
 */
export function createdOutputOf(tx: Uint8Array, txid: Uint8Array, index: number, shard: number, shardCount: number): { owner: Uint8Array; amount: bigint } | undefined {
  const cursor = new RecordCursor(applyRecordOf(tx, txid, shard, shardCount));
  for (let j = 0; j < cursor.outputCount; j++) {
    const key = cursor.createdKey(j);
    if (readU32(key, TXID_BYTES) !== index || !key.subarray(0, TXID_BYTES).every((byte, k) => byte === txid[k])) continue;
    return { owner: Uint8Array.from(cursor.outputOwner(j)), amount: cursor.outputAmount(j) };
  }
  return undefined;
}
