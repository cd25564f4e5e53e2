/**
 * The Atomix unlock-to-commit batch (white paper §6, Algorithm 5, step 3, for many transfers at
 * once; kind byte TxKind.AtomixUnlockBatch): one transaction commits, in one output shard, the
 * cross-shard transfers X_1..X_n that one final height of their only input shard S settled by
 * their locks (./atomix.ts: a lock whose inputs are all its shard's decides X there). Its
 * authority is one proof for all of them: that height's final-height certificate
 * (src/atomix/proof.ts) and one RFC 6962 multiproof (src/crypto/merkle-multiproof.ts) that every
 * txid(X_k) is a leaf of the height's included root. A single unlock-to-commit (./atomix-unlock.ts)
 * carries ~0.3 KB of proof per X and is a transaction of its own through every stage of every
 * member; the batch shares the certificate and the upper Merkle nodes, and is one transaction.
 *
 * Encoding, little-endian:
 *   version u8 ‖ kind u8 (6) ‖ u16 n (≥ 1) ‖ n × (u16 |X| ‖ X, the unsigned
 *   encoding of a cross-shard transfer) ‖ u16 |certificate| ‖ certificate ‖ u16 |multiproof| ‖
 *   multiproof (its indices: each X's position among the height's included txids, in X order)
 * txid = SHA-256 of everything before the certificate (the same transfers batched again are the
 * same transaction, whatever proof carries them). A client submits it: at most MAX_TX_BYTES, so
 * about 70 transfers of one input and two outputs with their multiproof.
 *
 * Rules (stateless, in shard `shard`): every X has all its inputs in one shard S, the same for
 * every X, and S ≠ shard (TX_BAD_FIELD: a transfer with inputs in two shards, or one that S
 * only locked, needs a single unlock with a proof per input shard); every X has an output in
 * `shard` (TX_WRONG_SHARD); the proof verifies (TX_PROOF_*) and is S's (TX_BAD_FIELD).
 * Each X is decided once per shard as for a single unlock (src/atomix/phases.ts): a batch holding
 * an X this shard committed already is excluded whole (TX_ATOMIX_DECIDED).
 *
 * Apply record: ./atomix-batch-record.ts, this shard's outputs of each X at (txid(X), j).
 *
 * API: `atomixUnlockBatchKind`, `encodeAtomixUnlockBatch`, `decodeAtomixUnlockBatch`,
 * `atomixUnlockBatchCrosses`.
 */
import { BinaryReader, BinaryWriter, readU16 } from "../../codec/binary.js";
import { TXID_BYTES } from "../../codec/sizes.js";
import { sha256 } from "../../crypto/sha256.js";
import { IosError, check, invariant } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { atomixBatchRecordLayout, atomixBatchRecordSize, writeAtomixBatchRecord, type AtomixBatchItem } from "./atomix-batch-record.js";
import { checkAtomixSupported, crossShardTransferKind, crossShardTransferParts, scanUnsignedCrossShardTransfer, type CrossShardTransferParts } from "./atomix.js";
import { MAX_TX_BYTES, TX_CODES, TX_PREFIX, TX_VERSION, TxKind, checkTxPrefix, type DecisionVerifier, type TxKindModule, type TxShape } from "./interface.js";

export interface AtomixUnlockBatch {
  readonly kind: typeof TxKind.AtomixUnlockBatch;
  /** The unsigned encodings of the cross-shard transfers, in the multiproof's index order. */
  readonly crosses: readonly Uint8Array[];
  /** The final-height certificate of the input shard's height that settled them (src/atomix/proof.ts). */
  readonly certificate: Uint8Array;
  /** Their txids' inclusion in that height's included root (src/crypto/merkle-multiproof.ts encoding). */
  readonly multiproof: Uint8Array;
}

/** One X of a batch: what its record needs and its input shards. */
type BatchTransfer = AtomixBatchItem & CrossShardTransferParts;

/** What the scan learned: X's views, where the proof lies, and per-X facts computed once (txids, owners' shards). */
export class AtomixBatchShape implements TxShape {
  readonly signatureCount = 0;
  #crossTxids: Uint8Array | undefined;
  #items: BatchTransfer[] | undefined;
  #itemsShardCount = 0;

  constructor(
    /** Each X's unsigned encoding, a view of the transaction. */
    readonly crosses: readonly Uint8Array[],
    readonly unsignedEnd: number,
    readonly certificate: Uint8Array,
    readonly multiproof: Uint8Array,
  ) {}

  /** The record in a one-shard world; `recordBytesIn` gives the size in a given shard. */
  get recordBytes(): number {
    return this.recordBytesIn(0, 1);
  }

  /** txid(X_k) for every k, packed 32 bytes each. */
  get crossTxids(): Uint8Array {
    if (this.#crossTxids === undefined) {
      const txids = new Uint8Array(this.crosses.length * TXID_BYTES);
      this.crosses.forEach((cross, k) => txids.set(sha256(cross), k * TXID_BYTES));
      this.#crossTxids = txids;
    }
    return this.#crossTxids;
  }

  /** Each X as its record needs it: txid, declared inputs, outputs and their owners' shards, with `shardCount` shards (owners hashed once). */
  items(shardCount: number): readonly BatchTransfer[] {
    if (this.#items === undefined || this.#itemsShardCount !== shardCount) {
      const txids = this.crossTxids;
      this.#items = this.crosses.map((cross, k) => ({ crossTxid: txids.subarray(k * TXID_BYTES, (k + 1) * TXID_BYTES), ...crossShardTransferParts(cross, shardCount) }));
      this.#itemsShardCount = shardCount;
    }
    return this.#items;
  }

  recordBytesIn(shard: number, shardCount: number): number {
    return atomixBatchRecordSize(this.items(shardCount), shard);
  }
}

function batchShapeOf(shape: TxShape): AtomixBatchShape {
  invariant(shape instanceof AtomixBatchShape, "the batch kind's methods take the shape its scan returned");
  return shape;
}

function scan(tx: Uint8Array): AtomixBatchShape {
  if (tx.length > MAX_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const count = reader.u16("transfer count");
  check<LedgerErrorCode>(count >= 1, "TX_BAD_FIELD", "a batch commits at least one transfer");
  const crosses: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const cross = reader.lengthPrefixed("u16", MAX_TX_BYTES, `transfer ${k}`);
    scanUnsignedCrossShardTransfer(cross);
    crosses.push(cross);
  }
  const unsignedEnd = reader.at;
  const certificate = reader.lengthPrefixed("u16", MAX_TX_BYTES, "certificate");
  const multiproof = reader.lengthPrefixed("u16", MAX_TX_BYTES, "multiproof");
  reader.expectEnd("the multiproof");
  return new AtomixBatchShape(crosses, unsignedEnd, certificate, multiproof);
}

function checkKind(kind: number): void {
  check<LedgerErrorCode>(kind === TxKind.AtomixUnlockBatch, "TX_UNKNOWN_KIND", `kind ${kind} is not an unlock-to-commit batch (${TxKind.AtomixUnlockBatch})`);
}

/** Strict decode; the transfers, certificate and multiproof are copies. */
export function decodeAtomixUnlockBatch(tx: Uint8Array): AtomixUnlockBatch {
  checkKind(checkTxPrefix(tx));
  const { crosses, certificate, multiproof } = scan(tx);
  return { kind: TxKind.AtomixUnlockBatch, crosses: crosses.map((cross) => cross.slice()), certificate: certificate.slice(), multiproof: multiproof.slice() };
}

function unsignedSize(crosses: readonly Uint8Array[]): number {
  return TX_PREFIX.bytes + 2 + crosses.reduce((size, cross) => size + 2 + cross.length, 0);
}

function writeUnsigned(batch: Pick<AtomixUnlockBatch, "kind" | "crosses">, writer: BinaryWriter): void {
  checkKind(batch.kind);
  check<LedgerErrorCode>(batch.crosses.length >= 1 && batch.crosses.length <= 0xffff, "TX_BAD_FIELD", `a batch commits at least one transfer, at most 65,535, not ${batch.crosses.length}`);
  writer.u8(TX_VERSION).u8(batch.kind).u16(batch.crosses.length);
  for (const cross of batch.crosses) writer.lengthPrefixed("u16", cross);
}

function encodeUnsigned(batch: AtomixUnlockBatch): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(unsignedSize(batch.crosses));
  writeUnsigned(batch, writer);
  return writer.finish();
}

/** The canonical encoding; checked as a decoder would (TX_* codes), the proof's contents aside. */
export function encodeAtomixUnlockBatch(batch: AtomixUnlockBatch): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(unsignedSize(batch.crosses) + 2 + batch.certificate.length + 2 + batch.multiproof.length);
  writeUnsigned(batch, writer);
  const bytes = writer.lengthPrefixed("u16", batch.certificate).lengthPrefixed("u16", batch.multiproof).finish();
  scan(bytes);
  return bytes;
}

/** The transfers of a batch that `scan` accepted (one a final block holds), views in order. */
export function atomixUnlockBatchCrosses(tx: Uint8Array): Uint8Array[] {
  const crosses: Uint8Array[] = [];
  let at = TX_PREFIX.bytes + 2;
  for (let k = readU16(tx, TX_PREFIX.bytes); k > 0; k--) {
    const length = readU16(tx, at);
    crosses.push(tx.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return crosses;
}

/** The input shard S of every X (module doc), else TX_BAD_FIELD; and TX_WRONG_SHARD unless each X has an output in `shard`. */
function settlingShardOf(items: readonly BatchTransfer[], shard: number): number {
  let source: number | undefined;
  items.forEach(({ inputShards, outputShards }, k) => {
    const first = inputShards[0]!;
    if (inputShards.some((s) => s !== first)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `transfer ${k} has inputs in several shards: its lock settles nothing, a single unlock with every input shard's proof commits it`);
    if (source !== undefined && first !== source) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `transfer ${k} was settled in shard ${first}, the batch's transfers in shard ${source}`);
    source = first;
    if (!outputShards.includes(shard)) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `transfer ${k} creates nothing in shard ${shard}`);
  });
  if (source === shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `shard ${shard} settled these transfers by their locks: nothing is left to commit here`);
  return source!;
}

function checkStateless(_tx: Uint8Array, shape: TxShape, shard: number, shardCount: number, decisions: DecisionVerifier | undefined): void {
  checkAtomixSupported(decisions);
  const batch = batchShapeOf(shape);
  const source = settlingShardOf(batch.items(shardCount), shard);
  const proven = decisions.verifyIncluded(batch.certificate, batch.multiproof, batch.crossTxids);
  if (proven.shard !== source) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `the proof is shard ${proven.shard}'s, the transfers were settled in shard ${source}`);
}

/** Output shards every X of the batch has, but the shard that settled them: where the batch applies. */
function shards(tx: Uint8Array, shardCount: number): number[] {
  const parts = atomixUnlockBatchCrosses(tx).map((cross) => crossShardTransferParts(cross, shardCount));
  const common = new Set(Array.from(parts[0]!.outputShards));
  for (const { outputShards } of parts) for (const s of [...common]) if (!outputShards.includes(s)) common.delete(s);
  for (const { inputShards } of parts) for (const s of inputShards) common.delete(s);
  return [...common].sort((a, b) => a - b);
}

export const atomixUnlockBatchKind: TxKindModule<AtomixUnlockBatch> = {
  kind: TxKind.AtomixUnlockBatch,
  name: "AtomixUnlockBatch",
  submittable: true,
  scan,
  decode: decodeAtomixUnlockBatch,
  encode: encodeAtomixUnlockBatch,
  encodeUnsigned,
  shards,
  checkStateless,
  signatureItems: () => {},
  // The first transfer's spender: a batch goes to the producer that shard assigns it.
  spender: (tx) => {
    if (tx.length < TX_PREFIX.bytes + 4) return undefined;
    const length = readU16(tx, TX_PREFIX.bytes + 2);
    const at = TX_PREFIX.bytes + 4;
    return at + length > tx.length ? undefined : crossShardTransferKind.spender(tx.subarray(at, at + length));
  },
  recordBytesIn: (_tx, shape, shard, shardCount) => batchShapeOf(shape).recordBytesIn(shard, shardCount),
  writeRecord: (_tx, shape, txid, out, at, shard, shardCount) => writeAtomixBatchRecord(txid, batchShapeOf(shape).items(shardCount), shard, out, at),
  record: atomixBatchRecordLayout,
};
