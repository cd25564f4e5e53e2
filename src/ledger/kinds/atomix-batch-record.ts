/**
 * The apply record of an unlock-to-commit batch (TxKind.AtomixUnlockBatch; white paper §6): one
 * transaction commits, in one output shard, many cross-shard transfers X_1..X_n whose locks
 * settled them in their single input shard, so the output shard has nothing to consume: it only
 * creates its outputs of each X at (txid(X), j), j counted over all of X's outputs, as an
 * unlock-to-commit (./atomix-record.ts) does there. Little-endian:
 *
 *   RECORD_HEADER (kind 6, length, txid = the batch's)
 *   ‖ nSpent u16 (0) ‖ nCreated u16 ‖ nCreated × { key[36] = crossTxid ‖ u32 j, RECORD_OUTPUT }
 *   ‖ nX u16 ‖ nX × { crossTxid[32] ‖ declared u64 (Σ X's declared inputs) ‖ nOut u16
 *                     ‖ nOut × { owner[32], amount u64, mine u8 } }
 *
 * The effects section comes first, so readers (src/ledger/records.ts) index it in O(1): the
 * entries an OK apply creates, X by X, j ascending — exactly X's outputs marked `mine` (owned in
 * the shard applying the record). The UTXO kernel (assembly/utxo/index.ts `applyBatchCommit`)
 * applies the X section and checks the record's size, the effects section counted only.
 *
 * An item is X as the writer copies it: its txid, its declared Σ inputs, its outputs (packed
 * RECORD_OUTPUT, X's own output layout) and their owners' shards. Not X's encoding: a txid and a
 * shard per owner cost a SHA-256 each, which the kind computes once per X (an `AtomixShape`
 * caches them) for both `atomixBatchRecordSize` and `writeAtomixBatchRecord`; `atomixBatchItemOf`
 * gives the item of a shape, every part a view.
 *
 * API: `AtomixBatchItem`, `atomixBatchItemOf(shape, shardCount)`, `atomixBatchRecordSize(items, shard)`,
 * `writeAtomixBatchRecord(txid, items, shard, out, at)`, `encodeAtomixBatchRecord(txid, items)` (from objects),
 * `atomixBatchRecordLayout`, `atomixBatchCrossTxids(record)`.
 */
import { BinaryWriter, readU16, readU64, writeU16, writeU32, writeU64 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { check, invariant } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { ATOMIX_CREATED, ATOMIX_EFFECTS, ATOMIX_OUTPUT, CROSS_INPUT } from "./atomix-record.js";
import type { AtomixShape } from "./atomix.js";
import { RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, TxKind, type RecordLayout } from "./interface.js";

const X_COUNT = layout({ xCount: 2 });
const X = layout({ crossTxid: TXID_BYTES, declared: AMOUNT_BYTES, outputCount: 2 });

/** One X of a batch, as the record copies it; every part may be a view of X's encoding. */
export interface AtomixBatchItem {
  /** txid(X). */
  readonly crossTxid: Uint8Array;
  /** Σ of X's declared input amounts. */
  readonly declared: bigint;
  /** X's outputs back to back, RECORD_OUTPUT (owner[32] ‖ amount u64) each. */
  readonly outputs: Uint8Array;
  /** The shard of each output's owner. */
  readonly outputShards: ArrayLike<number>;
}

/** An X of a batch as objects (`encodeAtomixBatchRecord`): `mine` outputs are the applying shard's. */
export interface AtomixBatchObjectItem {
  readonly crossTxid: Uint8Array;
  readonly declared: bigint;
  readonly outputs: readonly { readonly owner: Uint8Array; readonly amount: bigint; readonly mine: boolean }[];
}

/** The item of the X an Atomix shape holds, with `shardCount` shards: views of X's encoding and of the shape's cached owners. */
export function atomixBatchItemOf(shape: AtomixShape, shardCount: number): AtomixBatchItem {
  const { inputs } = shape;
  let declared = 0n;
  for (let at = CROSS_INPUT.offset.amount; at < inputs.length; at += CROSS_INPUT.bytes) declared += readU64(inputs, at);
  return { crossTxid: shape.crossTxid, declared, outputs: shape.outputs, outputShards: shape.owners(shardCount).subarray(shape.inputCount) };
}

function mineOutputs(item: AtomixBatchItem, shard: number): number {
  let mine = 0;
  const count = item.outputs.length / RECORD_OUTPUT.bytes;
  for (let j = 0; j < count; j++) if (item.outputShards[j] === shard) mine++;
  return mine;
}

/** The batch record's created entries (this shard's outputs) and its size, header included, for `items` in `shard`. */
function recordCounts(items: readonly AtomixBatchItem[], shard: number): { readonly created: number; readonly size: number } {
  let created = 0;
  let xBytes = 0;
  for (const item of items) {
    created += mineOutputs(item, shard);
    xBytes += X.bytes + (item.outputs.length / RECORD_OUTPUT.bytes) * ATOMIX_OUTPUT.bytes;
  }
  return { created, size: RECORD_HEADER.bytes + ATOMIX_EFFECTS.bytes + created * ATOMIX_CREATED.bytes + X_COUNT.bytes + xBytes };
}

/** Size of the batch record of `items` in `shard`, header included. */
export function atomixBatchRecordSize(items: readonly AtomixBatchItem[], shard: number): number {
  return recordCounts(items, shard).size;
}

/**
 * Writes the batch record (txid `txid`) of `items` in `shard` at out[at], X's parts copied as they
 * are, its outputs of `shard` marked mine. Unchecked, as `writeAtomixRecord`: the kind writes
 * records of what its scan accepted, and tests build records the kernel must judge, bad ones
 * included. Returns the record's size (`atomixBatchRecordSize`).
 */
export function writeAtomixBatchRecord(txid: Uint8Array, items: readonly AtomixBatchItem[], shard: number, out: Uint8Array, at: number): number {
  const { created: createdCount, size } = recordCounts(items, shard);
  out[at + RECORD_HEADER.offset.kind] = TxKind.AtomixUnlockBatch;
  writeU32(out, at + RECORD_HEADER.offset.length, size);
  out.set(txid, at + RECORD_HEADER.offset.txid);
  const effects = at + RECORD_HEADER.bytes;
  let created = effects + ATOMIX_EFFECTS.bytes;
  let w = created;
  writeU16(out, effects + ATOMIX_EFFECTS.offset.spentCount, 0);
  writeU16(out, effects + ATOMIX_EFFECTS.offset.createdCount, createdCount);
  w += createdCount * ATOMIX_CREATED.bytes;
  writeU16(out, w + X_COUNT.offset.xCount, items.length);
  w += X_COUNT.bytes;
  for (const { crossTxid, declared, outputs, outputShards } of items) {
    const outputCount = outputs.length / RECORD_OUTPUT.bytes;
    out.set(crossTxid, w + X.offset.crossTxid);
    writeU64(out, w + X.offset.declared, declared);
    writeU16(out, w + X.offset.outputCount, outputCount);
    w += X.bytes;
    for (let j = 0; j < outputCount; j++, w += ATOMIX_OUTPUT.bytes) {
      const output = outputs.subarray(j * RECORD_OUTPUT.bytes, (j + 1) * RECORD_OUTPUT.bytes);
      const mine = outputShards[j] === shard;
      out.set(output, w);
      out[w + ATOMIX_OUTPUT.offset.mine] = mine ? 1 : 0;
      if (!mine) continue;
      out.set(crossTxid, created + ATOMIX_CREATED.offset.key);
      writeU32(out, created + ATOMIX_CREATED.offset.key + TXID_BYTES, j);
      out.set(output, created + ATOMIX_CREATED.offset.value);
      created += ATOMIX_CREATED.bytes;
    }
  }
  invariant(created === effects + ATOMIX_EFFECTS.bytes + createdCount * ATOMIX_CREATED.bytes && w === at + size, "a batch record fills the size its items give");
  return size;
}

/**
 * A batch record from its X as objects, unchecked (tests build records the kernel must judge, bad
 * ones included): shard 0 applies it, an output marked mine lives there, any other in shard 1.
 */
export function encodeAtomixBatchRecord(txid: Uint8Array, items: readonly AtomixBatchObjectItem[]): Uint8Array<ArrayBuffer> {
  const packed = items.map(({ crossTxid, declared, outputs }): AtomixBatchItem => {
    const writer = BinaryWriter.ofSize(outputs.length * RECORD_OUTPUT.bytes);
    for (const output of outputs) writer.bytes(output.owner).u64(output.amount);
    return { crossTxid, declared, outputs: writer.finish(), outputShards: outputs.map((output) => (output.mine ? 0 : 1)) };
  });
  const record = new Uint8Array(atomixBatchRecordSize(packed, 0));
  writeAtomixBatchRecord(txid, packed, 0, record, 0);
  return record;
}

const createdCountOf = (records: Uint8Array, at: number): number => readU16(records, at + RECORD_HEADER.bytes + ATOMIX_EFFECTS.offset.createdCount);
const createdAt = (at: number, j: number): number => at + RECORD_HEADER.bytes + ATOMIX_EFFECTS.bytes + j * ATOMIX_CREATED.bytes;

/** The batch record's effects: no input, its created entries at (crossTxid, j); not balanced (X's inputs were in other shards). */
export const atomixBatchRecordLayout: RecordLayout = {
  balanced: false,
  inputCount: () => 0,
  inputAt: (_records, at, i) => createdAt(at, 0) + i * RECORD_INPUT.bytes,
  outputCount: createdCountOf,
  outputAt: (_records, at, j) => createdAt(at, j) + ATOMIX_CREATED.offset.value,
  createdKeyAt: (_records, at, j) => createdAt(at, j) + ATOMIX_CREATED.offset.key,
};

/** The txid of each X of the batch record (its bytes, header first), in order: views. RECORD_MALFORMED if the X section does not fill the record. */
export function atomixBatchCrossTxids(record: Uint8Array): Uint8Array[] {
  let at = createdAt(0, createdCountOf(record, 0));
  const count = readU16(record, at + X_COUNT.offset.xCount);
  at += X_COUNT.bytes;
  const txids: Uint8Array[] = [];
  for (let k = 0; k < count && at + X.bytes <= record.length; k++) {
    txids.push(record.subarray(at + X.offset.crossTxid, at + X.offset.crossTxid + TXID_BYTES));
    at += X.bytes + readU16(record, at + X.offset.outputCount) * ATOMIX_OUTPUT.bytes;
  }
  check<LedgerErrorCode>(txids.length === count && at === record.length, "RECORD_MALFORMED", `a batch record of ${record.length} bytes does not hold its ${count} cross-shard transfers`);
  return txids;
}
