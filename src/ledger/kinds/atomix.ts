/**
 * The cross-shard transfer (white paper §6, Algorithm 5; kind byte TxKind.AtomixLock): a client's
 * payment whose inputs and outputs live in two or more shards. Each input shard locks its inputs
 * with it (the UTXO kernel's lock: assembly/utxo/index.ts `applyLock`); once every input shard
 * accepted it, an unlock-to-commit consumes the locks and creates the outputs in their shards,
 * else an unlock-to-abort releases them. When all inputs live in one shard, that shard's lock
 * decides X by itself: it consumes the inputs and creates that shard's outputs at once (the
 * kernel's `settleLock`), and only the other shards need the unlock-to-commit. Encoding, little-endian:
 *
 *   version u8 ‖ kind u8 (1) ‖ inputCount u16 (1..MAX_INPUTS) ‖ outputCount u16 (1..MAX_OUTPUTS)
 *   ‖ inputCount  × INPUT  { txid[32], index u32, owner[32], amount u64 }   (76 bytes)
 *   ‖ outputCount × OUTPUT { owner[32], amount u64 }                        (40 bytes)
 *   ‖ inputCount  × Ed25519 signature[64]
 *
 * txid = SHA-256 of everything before the signatures; signature i is input i's owner signing it.
 * An input declares its amount: each input shard checks it against the output it locks
 * (AMOUNT_MISMATCH), so an output shard can check Σ outputs ≤ Σ declared inputs without seeing
 * the inputs (TX_OUTPUTS_EXCEED_INPUTS here, again by the kernel's commit). Amounts are > 0 and
 * their sums fit u64; inputs are distinct outpoints, none with the top index bit (a bond or a
 * locked key); it touches at least two shards (TX_NOT_CROSS_SHARD: one shard is a Transfer) and
 * a shard takes it only if it holds one of its inputs (TX_WRONG_SHARD).
 *
 * Apply record: the Atomix layout of ./atomix-record.ts with crossTxid = txid, this shard's
 * inputs marked; its effects: those inputs move to their locked keys (or, when they are all of
 * X's inputs, are spent, and this shard's outputs created).
 */
import { BinaryReader, BinaryWriter, readU16, readU32 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import { IosError, check, invariant } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { shardOfOwner } from "../shard.js";
import { sha256 } from "../../crypto/sha256.js";
import { CROSS_INPUT, atomixRecordLayout, atomixRecordSize, writeAtomixRecord, type AtomixKind } from "./atomix-record.js";
import { MAX_TX_BYTES, RECORD_OUTPUT, TX_CODES, TX_PREFIX, TX_VERSION, TxKind, checkTxPrefix, type DecisionVerifier, type TxKindModule, type TxShape } from "./interface.js";
import { MAX_AMOUNT, checkDistinctOutpoints, checkSpendCounts, readOutputs, readSignatures, writeInputOutpoint, writeOutputs, writeSignatures, type TxOutput } from "./transfer.js";

const HEADER = layout({ version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, inputCount: 2, outputCount: 2 });
const INPUT = CROSS_INPUT;
const OUTPUT = RECORD_OUTPUT;

export interface CrossShardInput {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: Uint8Array;
  /** The spent output's amount, as the input's shard must find it. */
  readonly amount: bigint;
}

export interface UnsignedCrossShardTransfer {
  readonly kind: typeof TxKind.AtomixLock;
  readonly inputs: readonly CrossShardInput[];
  readonly outputs: readonly TxOutput[];
}

export interface CrossShardTransfer extends UnsignedCrossShardTransfer {
  readonly signatures: readonly Uint8Array[];
}

function unsignedLength(inputCount: number, outputCount: number): number {
  return HEADER.bytes + inputCount * INPUT.bytes + outputCount * OUTPUT.bytes;
}

function encodedLength(inputCount: number, outputCount: number): number {
  return unsignedLength(inputCount, outputCount) + inputCount * SIGNATURE_BYTES;
}

const inputAt = (i: number): number => HEADER.bytes + i * INPUT.bytes;
const outputAt = (inputCount: number, j: number): number => HEADER.bytes + inputCount * INPUT.bytes + j * OUTPUT.bytes;
const inputCountOf = (tx: Uint8Array): number => readU16(tx, HEADER.offset.inputCount);
const outputCountOf = (tx: Uint8Array): number => readU16(tx, HEADER.offset.outputCount);

function checkCounts(inputCount: number, outputCount: number): void {
  checkSpendCounts("a cross-shard transfer", inputCount, outputCount, encodedLength(inputCount, outputCount));
}

/** Σ of `count` amounts read by `amountOf`, each > 0, within u64 (`what` names them in errors). */
function sumAmounts(count: number, amountOf: (k: number) => bigint, what: string): bigint {
  let sum = 0n;
  for (let k = 0; k < count; k++) {
    const amount = amountOf(k);
    if (amount === 0n) throw new IosError<LedgerErrorCode>("TX_ZERO_AMOUNT", `${what} ${k}: amount must be > 0`);
    sum += amount;
    if (sum > MAX_AMOUNT) throw new IosError<LedgerErrorCode>("TX_AMOUNT_OVERFLOW", `sum of ${what} amounts exceeds u64`);
  }
  return sum;
}

/** The structure of a cross-shard transfer, signed (`signed`) or its unsigned encoding alone; its counts. */
function scanParts(tx: Uint8Array, signed: boolean): { inputCount: number; outputCount: number } {
  if (tx.length > MAX_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const inputCount = reader.u16("input count");
  const outputCount = reader.u16("output count");
  checkCounts(inputCount, outputCount);
  const length = signed ? encodedLength(inputCount, outputCount) : unsignedLength(inputCount, outputCount);
  reader.expectRemaining(length - HEADER.bytes, signed ? "the declared inputs, outputs and signatures" : "the declared inputs and outputs");
  for (let i = 0; i < inputCount; i++) {
    if ((readU32(tx, inputAt(i) + INPUT.offset.index) & 0x8000_0000) !== 0) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `input ${i} spends a bond or a locked output`);
  }
  const view = new DataView(tx.buffer, tx.byteOffset, tx.byteLength);
  const totalIn = sumAmounts(inputCount, (i) => view.getBigUint64(inputAt(i) + INPUT.offset.amount, true), "input");
  const totalOut = sumAmounts(outputCount, (j) => view.getBigUint64(outputAt(inputCount, j) + OUTPUT.offset.amount, true), "output");
  if (totalOut > totalIn) throw new IosError<LedgerErrorCode>("TX_OUTPUTS_EXCEED_INPUTS", `outputs ${totalOut} exceed the declared inputs ${totalIn}`);
  checkDistinctOutpoints(tx, inputCount, inputAt);
  return { inputCount, outputCount };
}

function scan(tx: Uint8Array): AtomixShape {
  const { inputCount, outputCount } = scanParts(tx, true);
  const unsignedEnd = unsignedLength(inputCount, outputCount);
  return new AtomixShape(TxKind.AtomixLock, unsignedEnd, inputCount, tx.subarray(0, unsignedEnd));
}

/**
 * The shape of an Atomix transaction (a cross-shard transfer, or an unlock carrying one): X, the
 * cross-shard transfer it is about, and what the steps after the scan (stateless rule, record
 * size, record) ask of X, computed once per transaction: its txid and its owners' shards (one
 * SHA-256 per owner). Every Atomix kind method takes the shape its scan returned.
 */
export class AtomixShape implements TxShape {
  #crossTxid: Uint8Array | undefined;
  #owners: Uint16Array | undefined;
  #ownersShardCount = 0;

  constructor(
    readonly kind: AtomixKind,
    readonly unsignedEnd: number,
    readonly signatureCount: number,
    /** X's unsigned encoding, a view. */
    readonly cross: Uint8Array,
  ) {
  }

  /** The record in a one-shard world (every part its own); `recordBytesIn` gives the size in a given shard. */
  get recordBytes(): number {
    return this.recordBytesIn(0, 1);
  }

  /** txid(X): the locks' crossTxid. */
  get crossTxid(): Uint8Array {
    return (this.#crossTxid ??= sha256(this.cross));
  }

  /** The shard of each of X's input owners, then of each output owner, when there are `shardCount`. */
  owners(shardCount: number): Uint16Array {
    if (this.#owners === undefined || this.#ownersShardCount !== shardCount) {
      this.#owners = ownerShardsOf(this.cross, shardCount);
      this.#ownersShardCount = shardCount;
    }
    return this.#owners;
  }

  get inputCount(): number {
    return inputCountOf(this.cross);
  }

  get outputCount(): number {
    return outputCountOf(this.cross);
  }

  /** X's inputs back to back (CROSS_INPUT each), a view. */
  get inputs(): Uint8Array {
    return this.cross.subarray(HEADER.bytes, inputAt(this.inputCount));
  }

  /** X's outputs back to back (RECORD_OUTPUT each), a view. */
  get outputs(): Uint8Array {
    const { inputCount } = this;
    return this.cross.subarray(inputAt(inputCount), outputAt(inputCount, this.outputCount));
  }

  /** The record of this transaction (`txid`) in `shard`: X's entries copied, this shard's marked (./atomix-record.ts). */
  recordBytesIn(shard: number, shardCount: number): number {
    return atomixRecordSize(this.kind, this.inputCount, this.outputCount, this.owners(shardCount), shard);
  }

  writeRecord(txid: Uint8Array, out: Uint8Array, at: number, shard: number, shardCount: number): void {
    writeAtomixRecord(this.kind, txid, this.kind === TxKind.AtomixLock ? txid : this.crossTxid, this.inputs, this.outputs, this.owners(shardCount), shard, out, at);
  }
}

/** The shape an Atomix kind's scan returned for `tx`. */
export function atomixShapeOf(shape: TxShape): AtomixShape {
  invariant(shape instanceof AtomixShape, "an Atomix kind's methods take the shape its scan returned");
  return shape;
}

/**
 * An Atomix transaction needs a shard whose final blocks prove their decisions (a DecisionVerifier
 * is what such a validator has): without proofs nobody could ever unlock what it locks.
 */
export function checkAtomixSupported(decisions: DecisionVerifier | undefined): asserts decisions is DecisionVerifier {
  if (decisions === undefined) throw new IosError<LedgerErrorCode>("TX_ATOMIX_UNSUPPORTED", "this shard's consensus does not prove its decisions: cross-shard transactions need Proof-of-Believability");
}

/** The strict checks of `decodeUnsignedCrossShardTransfer`, without building the object (an unlock's scan). */
export function scanUnsignedCrossShardTransfer(unsigned: Uint8Array): void {
  checkKind(checkTxPrefix(unsigned));
  scanParts(unsigned, false);
}

function checkKind(kind: number): void {
  check<LedgerErrorCode>(kind === TxKind.AtomixLock, "TX_UNKNOWN_KIND", `kind ${kind} is not a cross-shard transfer (${TxKind.AtomixLock})`);
}

function readUnsigned(reader: BinaryReader<LedgerErrorCode>): UnsignedCrossShardTransfer & { inputCount: number } {
  const inputCount = reader.u16();
  const outputCount = reader.u16();
  const inputs: CrossShardInput[] = [];
  for (let i = 0; i < inputCount; i++) {
    inputs.push({ txid: reader.bytes(TXID_BYTES).slice(), index: reader.u32(), owner: reader.bytes(PUBLIC_KEY_BYTES).slice(), amount: reader.u64() });
  }
  return { kind: TxKind.AtomixLock, inputs, outputs: readOutputs(reader, outputCount), inputCount };
}

function decode(tx: Uint8Array): CrossShardTransfer {
  checkKind(checkTxPrefix(tx));
  scan(tx);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const { inputs, outputs, inputCount } = readUnsigned(reader);
  return { kind: TxKind.AtomixLock, inputs, outputs, signatures: readSignatures(reader, inputCount) };
}

/**
 * Strict decode of a cross-shard transfer's unsigned encoding (what an unlock carries; its
 * SHA-256 is the transfer's txid): the same rules as a signed one, without the signatures.
 */
export function decodeUnsignedCrossShardTransfer(unsigned: Uint8Array): UnsignedCrossShardTransfer {
  scanUnsignedCrossShardTransfer(unsigned);
  const { inputs, outputs } = readUnsigned(new BinaryReader(unsigned, TX_CODES, TX_PREFIX.bytes));
  return { kind: TxKind.AtomixLock, inputs, outputs };
}

function writeUnsigned(tx: UnsignedCrossShardTransfer, writer: BinaryWriter): void {
  checkKind(tx.kind);
  checkCounts(tx.inputs.length, tx.outputs.length);
  writer.u8(TX_VERSION).u8(tx.kind).u16(tx.inputs.length).u16(tx.outputs.length);
  tx.inputs.forEach((input, i) => {
    writeInputOutpoint(writer, input, i);
    check<LedgerErrorCode>(typeof input.amount === "bigint" && input.amount >= 0n && input.amount <= MAX_AMOUNT, "TX_BAD_FIELD", `input ${i}: amount must be a u64`);
    writer.u64(input.amount);
  });
  writeOutputs(writer, tx.outputs);
}

export function encodeUnsignedCrossShardTransfer(tx: UnsignedCrossShardTransfer): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(unsignedLength(tx.inputs.length, tx.outputs.length));
  writeUnsigned(tx, writer);
  const bytes = writer.finish();
  // The amounts, sums and outpoints are checked as a decoder would.
  scanParts(bytes, false);
  return bytes;
}

function encode(tx: CrossShardTransfer): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(encodedLength(tx.inputs.length, tx.outputs.length));
  writer.bytes(encodeUnsignedCrossShardTransfer(tx));
  writeSignatures(writer, tx.signatures, tx.inputs.length);
  return writer.finish();
}

const inputOwnerAt = (i: number): number => inputAt(i) + INPUT.offset.owner;
const ownerView = (tx: Uint8Array, at: number): Uint8Array => tx.subarray(at, at + PUBLIC_KEY_BYTES);

/** The shard of each input owner, then of each output owner (`inputsOnly`: none), of a cross-shard transfer (signed or unsigned encoding). */
function ownerShardsOf(x: Uint8Array, shardCount: number, inputsOnly = false): Uint16Array {
  const inputCount = inputCountOf(x);
  const outputCount = inputsOnly ? 0 : outputCountOf(x);
  const owners = new Uint16Array(inputCount + outputCount);
  for (let i = 0; i < inputCount; i++) owners[i] = shardOfOwner(ownerView(x, inputOwnerAt(i)), shardCount);
  for (let j = 0; j < outputCount; j++) owners[inputCount + j] = shardOfOwner(ownerView(x, outputAt(inputCount, j) + OUTPUT.offset.owner), shardCount);
  return owners;
}

/** Distinct shards among `owners` (`ownerShardsOf`), ascending. */
function distinctShards(owners: ArrayLike<number>): number[] {
  return [...new Set(Array.from(owners))].sort((a, b) => a - b);
}

/** Distinct shards a cross-shard transfer (signed or unsigned encoding) touches, ascending. */
export function crossShardTransferShards(tx: Uint8Array, shardCount: number): number[] {
  return distinctShards(ownerShardsOf(tx, shardCount));
}

/**
 * The distinct shards a cross-shard transfer (signed or unsigned encoding) touches, ascending, and
 * its distinct input shards in input order: each owner hashed once for both.
 */
export function crossShardTransferShardSets(tx: Uint8Array, shardCount: number): { readonly shards: number[]; readonly inputShards: number[] } {
  const owners = ownerShardsOf(tx, shardCount);
  return { shards: distinctShards(owners), inputShards: [...new Set(owners.subarray(0, inputCountOf(tx)))] };
}

/** The unsigned encoding of a signed cross-shard transfer its scan accepted (one a final block holds), a view. */
export function crossShardTransferUnsigned(tx: Uint8Array): Uint8Array {
  return tx.subarray(0, unsignedLength(inputCountOf(tx), outputCountOf(tx)));
}

/** The shard of each input of a cross-shard transfer (signed or unsigned encoding), in input order. */
export function crossShardInputShards(tx: Uint8Array, shardCount: number): number[] {
  return Array.from(ownerShardsOf(tx, shardCount, true));
}

/** X's owners' shards, once X is found to touch two shards or more (TX_NOT_CROSS_SHARD): a rule every Atomix kind has. */
export function crossShardOwners(shape: AtomixShape, shardCount: number): Uint16Array {
  const owners = shape.owners(shardCount);
  if (!owners.some((s) => s !== owners[0])) throw new IosError<LedgerErrorCode>("TX_NOT_CROSS_SHARD", shape.kind === TxKind.AtomixLock ? "every owner is in one shard: that is a Transfer" : "every owner is in one shard: nothing to unlock");
  return owners;
}

function checkStateless(_tx: Uint8Array, shape: TxShape, shard: number, shardCount: number, decisions: DecisionVerifier | undefined): void {
  checkAtomixSupported(decisions);
  const atomix = atomixShapeOf(shape);
  const owners = crossShardOwners(atomix, shardCount);
  if (!owners.subarray(0, atomix.inputCount).includes(shard)) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `no input lives in shard ${shard}: only input shards lock`);
}

function signatureItems(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: SignatureItem[]): void {
  for (let i = 0; i < shape.signatureCount; i++) {
    const signature = shape.unsignedEnd + i * SIGNATURE_BYTES;
    out.push({ signature: tx.subarray(signature, signature + SIGNATURE_BYTES), message: txid, publicKey: ownerView(tx, inputOwnerAt(i)) });
  }
}

/**
 * The first input's owner. (The first input owner of the applying shard would keep a sender's
 * transfers and cross-shard transfers with one PoB producer there; the key has no shard here.)
 */
function spender(tx: Uint8Array): Uint8Array | undefined {
  const at = inputOwnerAt(0);
  return tx.length < at + PUBLIC_KEY_BYTES ? undefined : ownerView(tx, at);
}

function recordBytesIn(_tx: Uint8Array, shape: TxShape, shard: number, shardCount: number): number {
  return atomixShapeOf(shape).recordBytesIn(shard, shardCount);
}

function writeRecord(_tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: Uint8Array, at: number, shard: number, shardCount: number): void {
  atomixShapeOf(shape).writeRecord(txid, out, at, shard, shardCount);
}

export const crossShardTransferKind: TxKindModule<CrossShardTransfer> = {
  kind: TxKind.AtomixLock,
  name: "CrossShardTransfer",
  submittable: true,
  scan,
  decode,
  encode,
  encodeUnsigned: encodeUnsignedCrossShardTransfer,
  shards: crossShardTransferShards,
  checkStateless,
  signatureItems,
  spender,
  recordBytesIn,
  writeRecord,
  record: atomixRecordLayout(true),
};
