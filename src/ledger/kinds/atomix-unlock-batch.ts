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
 * `atomixUnlockBatchFirstCross`, `atomixUnlockBatchSize`.
 */
import { BinaryReader, BinaryWriter, readU16 } from "../../codec/binary.js";
import { TXID_BYTES } from "../../codec/sizes.js";
import { IosError, check, invariant } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { atomixBatchItemOf, atomixBatchRecordLayout, atomixBatchRecordSize, writeAtomixBatchRecord, type AtomixBatchItem } from "./atomix-batch-record.js";
import { AtomixShape, checkAtomixSupported, crossShardTransferKind, scanUnsignedCrossShardTransfer } from "./atomix.js";
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

/** What the scan learned: X's views, where the proof lies, and per-X facts computed once (txids, owners' shards). */
export class AtomixBatchShape implements TxShape {
  readonly signatureCount = 0;
  #transfers: AtomixShape[] | undefined;
  #crossTxids: Uint8Array | undefined;
  #items: AtomixBatchItem[] | undefined;
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

  /** Each X's shape (its txid and owners' shards, each computed once). */
  get transfers(): readonly AtomixShape[] {
    return (this.#transfers ??= this.crosses.map((cross) => new AtomixShape(TxKind.AtomixLock, cross.length, 0, cross)));
  }

  /** txid(X_k) for every k, packed 32 bytes each. */
  get crossTxids(): Uint8Array {
    if (this.#crossTxids === undefined) {
      const txids = new Uint8Array(this.crosses.length * TXID_BYTES);
      this.transfers.forEach((transfer, k) => txids.set(transfer.crossTxid, k * TXID_BYTES));
      this.#crossTxids = txids;
    }
    return this.#crossTxids;
  }

  /** Each X as its record needs it, with `shardCount` shards. */
  items(shardCount: number): readonly AtomixBatchItem[] {
    if (this.#items === undefined || this.#itemsShardCount !== shardCount) {
      this.#items = this.transfers.map((transfer) => atomixBatchItemOf(transfer, shardCount));
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

/** The encoded size of a batch of these transfers with a certificate and multiproof of these sizes (what a client fits under MAX_TX_BYTES). */
export function atomixUnlockBatchSize(crosses: readonly Uint8Array[], certificateBytes: number, multiproofBytes: number): number {
  return unsignedSize(crosses) + 2 + certificateBytes + 2 + multiproofBytes;
}

/** The canonical encoding; checked as a decoder would (TX_* codes), the proof's contents aside. */
export function encodeAtomixUnlockBatch(batch: AtomixUnlockBatch): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(atomixUnlockBatchSize(batch.crosses, batch.certificate.length, batch.multiproof.length));
  writeUnsigned(batch, writer);
  const bytes = writer.lengthPrefixed("u16", batch.certificate).lengthPrefixed("u16", batch.multiproof).finish();
  scan(bytes);
  return bytes;
}

/** The first transfer of a batch that `scan` accepted (one a final block holds), a view: every X of a batch has the same input shard. */
export function atomixUnlockBatchFirstCross(tx: Uint8Array): Uint8Array {
  const at = TX_PREFIX.bytes + 4;
  return tx.subarray(at, at + readU16(tx, at - 2));
}

/** The input shard S of every X (module doc), else TX_BAD_FIELD; and TX_WRONG_SHARD unless each X has an output in `shard`. */
function settlingShardOf(transfers: readonly AtomixShape[], shard: number, shardCount: number): number {
  let source: number | undefined;
  transfers.forEach((transfer, k) => {
    const owners = transfer.owners(shardCount);
    const first = owners[0]!;
    if (owners.subarray(0, transfer.inputCount).some((s) => s !== first)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `transfer ${k} has inputs in several shards: its lock settles nothing, a single unlock with every input shard's proof commits it`);
    if (source !== undefined && first !== source) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `transfer ${k} was settled in shard ${first}, the batch's transfers in shard ${source}`);
    source = first;
    if (!owners.subarray(transfer.inputCount).includes(shard)) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `transfer ${k} creates nothing in shard ${shard}`);
  });
  if (source === shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `shard ${shard} settled these transfers by their locks: nothing is left to commit here`);
  return source!;
}

function checkStateless(_tx: Uint8Array, shape: TxShape, shard: number, shardCount: number, decisions: DecisionVerifier | undefined): void {
  checkAtomixSupported(decisions);
  const batch = batchShapeOf(shape);
  const source = settlingShardOf(batch.transfers, shard, shardCount);
  const proven = decisions.verifyIncluded(batch.certificate, batch.multiproof, batch.crossTxids);
  if (proven.shard !== source) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `the proof is shard ${proven.shard}'s, the transfers were settled in shard ${source}`);
}

/** Output shards every X of the batch has, but the shards holding their inputs: where the batch applies. */
function shards(tx: Uint8Array, shardCount: number): number[] {
  const transfers = scan(tx).transfers;
  const outputsOf = (transfer: AtomixShape) => transfer.owners(shardCount).subarray(transfer.inputCount);
  const common = new Set(outputsOf(transfers[0]!));
  for (const transfer of transfers) {
    const outputs = outputsOf(transfer);
    for (const s of [...common]) if (!outputs.includes(s)) common.delete(s);
    for (const s of transfer.owners(shardCount).subarray(0, transfer.inputCount)) common.delete(s);
  }
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
  spender: (tx) => (tx.length < TX_PREFIX.bytes + 4 ? undefined : crossShardTransferKind.spender(atomixUnlockBatchFirstCross(tx))),
  recordBytesIn: (_tx, shape, shard, shardCount) => batchShapeOf(shape).recordBytesIn(shard, shardCount),
  writeRecord: (_tx, shape, txid, out, at, shard, shardCount) => writeAtomixBatchRecord(txid, batchShapeOf(shape).items(shardCount), shard, out, at),
  record: atomixBatchRecordLayout,
};
