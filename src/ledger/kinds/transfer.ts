/**
 * The Transfer kind (white paper §3, UTXO model; DESIGN.md §3): spend inputs, create outputs, all
 * in one shard. Encoding, little-endian:
 *
 *   version u8 ‖ kind u8 (0) ‖ inputCount u16 (1..MAX_INPUTS) ‖ outputCount u16 (1..MAX_OUTPUTS)
 *   ‖ inputCount  × INPUT  { txid[32], index u32, owner[32] }   (68 bytes)
 *   ‖ outputCount × OUTPUT { owner[32], amount u64 }            (40 bytes)
 *   ‖ inputCount  × Ed25519 signature[64]
 *
 * Everything before the signatures is the unsigned encoding; txid = SHA-256(unsigned encoding).
 * Signature i is input i's owner signing the txid. An input carries its owner's key so that
 * signatures verify statelessly; the UTXO kernel requires the spent output's owner to equal it.
 * Amounts are > 0 and their sum fits u64; inputs are distinct outpoints and none is a bond (an
 * output index with its top bit set, src/ledger/bond.ts); every owner lives in the
 * shard the transaction is submitted to (cross-shard moves are Atomix kinds).
 *
 * Apply record: RECORD_HEADER ‖ inputCount u16 ‖ outputCount u16 ‖ inputs ‖ outputs, the last
 * four copied verbatim from the unsigned encoding (INPUT is RECORD_INPUT, OUTPUT is RECORD_OUTPUT).
 * The kernel's `applySpend` (assembly/utxo/index.ts) reads it.
 */
import { BinaryReader, BinaryWriter, readU16 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { OUTPOINT_BYTES, OUTPUT_INDEX_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import { shardOfOwner } from "../shard.js";
import {
  MAX_TX_BYTES,
  RECORD_HEADER,
  RECORD_OUTPUT,
  TX_CODES,
  TX_PREFIX,
  TX_VERSION,
  TxKind,
  checkTxPrefix,
  type RecordLayout,
  type TxKindModule,
  type TxShape,
} from "./interface.js";
import { IosError, check } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";

/** Inputs per transfer: bounds the signature work of one transaction (≤ 128 verifications). */
export const MAX_INPUTS = 128;
/** Outputs per transfer: bounds the UTXO inserts of one transaction. */
export const MAX_OUTPUTS = 128;
export const MAX_AMOUNT = (1n << 64n) - 1n;

/**
 * The spend section: inputCount u16 ‖ outputCount u16 ‖ inputs ‖ outputs. A transfer is the
 * version and kind, its spend section, its signatures; a registration (./registration.ts) embeds
 * one after its own fields. The helpers below take `start`, the section's offset in the encoding.
 */
const SPEND_COUNTS = layout({ inputCount: 2, outputCount: 2 });
const INPUT = layout({ txid: TXID_BYTES, index: OUTPUT_INDEX_BYTES, owner: PUBLIC_KEY_BYTES });
const OUTPUT = RECORD_OUTPUT;
/** Where a transfer's spend section starts: right after the version and kind. */
const TRANSFER_SPEND_AT = TX_PREFIX.bytes;

export interface TxInput {
  /** Transaction that created the spent output. */
  readonly txid: Uint8Array;
  /** Position of the spent output in that transaction. */
  readonly index: number;
  /** Owner public key of the spent output; signs this input. */
  readonly owner: Uint8Array;
}

export interface TxOutput {
  readonly owner: Uint8Array;
  readonly amount: bigint;
}

export interface UnsignedTransfer {
  readonly kind: TxKind;
  readonly inputs: readonly TxInput[];
  readonly outputs: readonly TxOutput[];
}

export interface Transfer extends UnsignedTransfer {
  /** One 64-byte signature per input, in input order. */
  readonly signatures: readonly Uint8Array[];
}

/** Byte length of a spend section with these counts. */
export function spendSectionLength(inputCount: number, outputCount: number): number {
  return SPEND_COUNTS.bytes + inputCount * INPUT.bytes + outputCount * OUTPUT.bytes;
}

/** Byte length of a signed transfer's encoding. */
export function transferLength(inputCount: number, outputCount: number): number {
  return TRANSFER_SPEND_AT + spendSectionLength(inputCount, outputCount) + inputCount * SIGNATURE_BYTES;
}

/** Offset of input i of the spend section at `start`. */
export function spendInputAt(start: number, i: number): number {
  return start + SPEND_COUNTS.bytes + i * INPUT.bytes;
}

function spendOutputAt(start: number, inputCount: number, j: number): number {
  return start + SPEND_COUNTS.bytes + inputCount * INPUT.bytes + j * OUTPUT.bytes;
}

/** The input count of the spend section at `start`. */
export function spendInputCount(tx: Uint8Array, start: number): number {
  return readU16(tx, start + SPEND_COUNTS.offset.inputCount);
}

/** The output count of the spend section at `start`. */
export function spendOutputCount(tx: Uint8Array, start: number): number {
  return readU16(tx, start + SPEND_COUNTS.offset.outputCount);
}

/**
 * The counts of a kind that spends inputs into outputs (transfers, cross-shard transfers,
 * registrations): at least one input and `minOutputs` outputs, at most MAX_INPUTS / MAX_OUTPUTS,
 * an encoding of `size` bytes within MAX_TX_BYTES. Runs for every scanned transaction: messages
 * are built only on failure.
 */
export function checkSpendCounts(what: string, inputCount: number, outputCount: number, size: number, minOutputs = 1): void {
  if (inputCount === 0) throw new IosError<LedgerErrorCode>("TX_NO_INPUTS", `${what} needs at least one input`);
  if (outputCount < minOutputs) throw new IosError<LedgerErrorCode>("TX_NO_OUTPUTS", `${what} needs at least ${minOutputs} output(s)`);
  if (inputCount > MAX_INPUTS) throw new IosError<LedgerErrorCode>("TX_TOO_MANY_INPUTS", `${inputCount} inputs exceed MAX_INPUTS = ${MAX_INPUTS}`);
  if (outputCount > MAX_OUTPUTS) throw new IosError<LedgerErrorCode>("TX_TOO_MANY_OUTPUTS", `${outputCount} outputs exceed MAX_OUTPUTS = ${MAX_OUTPUTS}`);
  if (size > MAX_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${inputCount} inputs and ${outputCount} outputs need ${size} bytes, over MAX_TX_BYTES = ${MAX_TX_BYTES}`);
}

function sameRange(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

/**
 * The `count` outpoints at `outpointAt(i)` in `tx` are distinct (TX_DUPLICATE_INPUT): pairwise for
 * small counts, a set of keys beyond. Shared by the kinds that spend outpoints.
 */
export function checkDistinctOutpoints(tx: Uint8Array, count: number, outpointAt: (i: number) => number): void {
  if (count <= 8) {
    for (let i = 1; i < count; i++) {
      for (let j = 0; j < i; j++) {
        if (sameRange(tx, outpointAt(i), outpointAt(j), OUTPOINT_BYTES)) throw new IosError<LedgerErrorCode>("TX_DUPLICATE_INPUT", `inputs ${j} and ${i} spend the same outpoint`);
      }
    }
    return;
  }
  const seen = new Map<string, number>();
  const buffer = Buffer.from(tx.buffer, tx.byteOffset, tx.byteLength);
  for (let i = 0; i < count; i++) {
    const key = buffer.toString("latin1", outpointAt(i), outpointAt(i) + OUTPOINT_BYTES);
    const previous = seen.get(key);
    if (previous !== undefined) throw new IosError<LedgerErrorCode>("TX_DUPLICATE_INPUT", `inputs ${previous} and ${i} spend the same outpoint`);
    seen.set(key, i);
  }
}

/**
 * Scans the spend section at `reader.at` of an encoding that must be `encodedSize(inputCount,
 * outputCount)` bytes in all: the counts (`checkSpendCounts`), no input spending a bond, output
 * amounts > 0 with Σ within u64, distinct inputs. Leaves the reader after the outputs.
 */
export function scanSpendSection(tx: Uint8Array, reader: BinaryReader<LedgerErrorCode>, what: string, minOutputs: number, encodedSize: (inputCount: number, outputCount: number) => number): { inputCount: number; outputCount: number } {
  const start = reader.at;
  const inputCount = reader.u16("input count");
  const outputCount = reader.u16("output count");
  const size = encodedSize(inputCount, outputCount);
  checkSpendCounts(what, inputCount, outputCount, size, minOutputs);
  reader.expectRemaining(size - reader.at, "the declared inputs, outputs and signatures");
  for (let i = 0; i < inputCount; i++) {
    // The index's top bit marks a bond (src/ledger/bond.ts BOND_INDEX_FLAG): only a slashing spends one.
    if ((tx[spendInputAt(start, i) + INPUT.offset.index + 3]! & 0x80) !== 0) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `input ${i} spends a bond, which ${what} may not`);
  }
  reader.advance(inputCount * INPUT.bytes);
  let sumLow = 0;
  let sumHigh = 0;
  for (let j = 0; j < outputCount; j++) {
    reader.advance(OUTPUT.size.owner);
    const low = reader.u32();
    const high = reader.u32();
    if (low === 0 && high === 0) throw new IosError<LedgerErrorCode>("TX_ZERO_AMOUNT", `output ${j}: amount must be > 0`);
    sumLow += low;
    sumHigh += high;
  }
  // Both partial sums stay below 2^53 (≤ 128 terms < 2^32), so this carry arithmetic is exact.
  check<LedgerErrorCode>(sumHigh + Math.floor(sumLow / 0x1_0000_0000) <= 0xffffffff, "TX_AMOUNT_OVERFLOW", "sum of output amounts exceeds u64");
  checkDistinctOutpoints(tx, inputCount, (i) => spendInputAt(start, i));
  return { inputCount, outputCount };
}

function scan(tx: Uint8Array): TxShape {
  if (tx.length > MAX_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  const reader = new BinaryReader(tx, TX_CODES, TRANSFER_SPEND_AT);
  scanSpendSection(tx, reader, "a transfer", 1, transferLength);
  const unsignedEnd = reader.at;
  return { unsignedEnd, signatureCount: spendInputCount(tx, TRANSFER_SPEND_AT), recordBytes: RECORD_HEADER.bytes + unsignedEnd - TRANSFER_SPEND_AT };
}

function checkKind(kind: number): void {
  check<LedgerErrorCode>(kind === TxKind.Transfer, "TX_UNKNOWN_KIND", `kind ${kind} is not a Transfer (${TxKind.Transfer})`);
}

function decode(tx: Uint8Array): Transfer {
  checkKind(checkTxPrefix(tx));
  scan(tx);
  const reader = new BinaryReader(tx, TX_CODES, TRANSFER_SPEND_AT);
  const { inputs, outputs } = readSpendSection(reader);
  const signatures = readSignatures(reader, inputs.length);
  return { kind: TxKind.Transfer, inputs, outputs, signatures };
}

/** The inputs and outputs of a scanned spend section at `reader.at`; leaves the reader after them. */
export function readSpendSection(reader: BinaryReader<LedgerErrorCode>): { inputs: TxInput[]; outputs: TxOutput[] } {
  const inputCount = reader.u16();
  const outputCount = reader.u16();
  const inputs: TxInput[] = [];
  for (let i = 0; i < inputCount; i++) {
    inputs.push({ txid: reader.bytes(TXID_BYTES).slice(), index: reader.u32(), owner: reader.bytes(PUBLIC_KEY_BYTES).slice() });
  }
  return { inputs, outputs: readOutputs(reader, outputCount) };
}

/** `count` outputs (owner[32] ‖ amount u64) from `reader`. */
export function readOutputs(reader: BinaryReader<LedgerErrorCode>, count: number): TxOutput[] {
  return Array.from({ length: count }, () => ({ owner: reader.bytes(PUBLIC_KEY_BYTES).slice(), amount: reader.u64() }));
}

/** The `count` signatures that end an encoding (one per input), and its end. */
export function readSignatures(reader: BinaryReader<LedgerErrorCode>, count: number): Uint8Array[] {
  const signatures = Array.from({ length: count }, () => reader.bytes(SIGNATURE_BYTES).slice());
  reader.expectEnd("the last signature");
  return signatures;
}

/** Checks an input's outpoint and owner fields and writes them (txid ‖ u32 index ‖ owner). */
export function writeInputOutpoint(writer: BinaryWriter, input: TxInput, i: number): void {
  check<LedgerErrorCode>(input.txid.length === TXID_BYTES, "TX_BAD_FIELD", `input ${i}: txid must be ${TXID_BYTES} bytes`);
  check<LedgerErrorCode>(Number.isInteger(input.index) && input.index >= 0 && input.index <= 0xffffffff, "TX_BAD_FIELD", `input ${i}: index must be a u32`);
  check<LedgerErrorCode>(input.owner.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `input ${i}: owner must be ${PUBLIC_KEY_BYTES} bytes`);
  writer.bytes(input.txid).u32(input.index).bytes(input.owner);
}

/** Checks outputs about to be encoded (owner size, amounts > 0, Σ within u64) and writes them. */
export function writeOutputs(writer: BinaryWriter, outputs: readonly TxOutput[]): void {
  let total = 0n;
  outputs.forEach((output, j) => {
    check<LedgerErrorCode>(output.owner.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `output ${j}: owner must be ${PUBLIC_KEY_BYTES} bytes`);
    check<LedgerErrorCode>(typeof output.amount === "bigint", "TX_BAD_FIELD", `output ${j}: amount must be a bigint`);
    check<LedgerErrorCode>(output.amount > 0n, "TX_ZERO_AMOUNT", `output ${j}: amount must be > 0`);
    check<LedgerErrorCode>(output.amount <= MAX_AMOUNT, "TX_AMOUNT_OVERFLOW", `output ${j}: amount exceeds u64`);
    total += output.amount;
    check<LedgerErrorCode>(total <= MAX_AMOUNT, "TX_AMOUNT_OVERFLOW", "sum of output amounts exceeds u64");
    writer.bytes(output.owner).u64(output.amount);
  });
}

/** Writes one signature per input, each of the right size. */
export function writeSignatures(writer: BinaryWriter, signatures: readonly Uint8Array[], inputCount: number): void {
  check<LedgerErrorCode>(signatures.length === inputCount, "TX_BAD_FIELD", `expected ${inputCount} signatures (one per input), got ${signatures.length}`);
  signatures.forEach((signature, i) => {
    check<LedgerErrorCode>(signature.length === SIGNATURE_BYTES, "TX_BAD_FIELD", `signature ${i} must be ${SIGNATURE_BYTES} bytes`);
    writer.bytes(signature);
  });
}

/** Checks the inputs and outputs about to be encoded (counts as `what` allows, fields, distinct inputs) and writes their spend section. */
export function writeSpendSection(writer: BinaryWriter, what: string, minOutputs: number, size: number, inputs: readonly TxInput[], outputs: readonly TxOutput[]): void {
  checkSpendCounts(what, inputs.length, outputs.length, size, minOutputs);
  const start = writer.at;
  writer.u16(inputs.length).u16(outputs.length);
  inputs.forEach((input, i) => writeInputOutpoint(writer, input, i));
  writeOutputs(writer, outputs);
  checkDistinctOutpoints(writer.output, inputs.length, (i) => spendInputAt(start, i));
}

/** Checks the fields of a transfer about to be encoded and writes its unsigned part. */
function writeUnsigned(tx: UnsignedTransfer, writer: BinaryWriter): void {
  checkKind(tx.kind);
  writer.u8(TX_VERSION).u8(tx.kind);
  writeSpendSection(writer, "a transfer", 1, transferLength(tx.inputs.length, tx.outputs.length), tx.inputs, tx.outputs);
}

export function encodeUnsignedTransfer(tx: UnsignedTransfer): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(TRANSFER_SPEND_AT + spendSectionLength(tx.inputs.length, tx.outputs.length));
  writeUnsigned(tx, writer);
  return writer.finish();
}

function encode(tx: Transfer): Uint8Array<ArrayBuffer> {
  const writer = BinaryWriter.ofSize(transferLength(tx.inputs.length, tx.outputs.length));
  writeUnsigned(tx, writer);
  writeSignatures(writer, tx.signatures, tx.inputs.length);
  return writer.finish();
}

/** Calls `visit` with every owner key of the spend section at `start` (inputs, then outputs) until it returns false. */
export function everySpendOwner(tx: Uint8Array, start: number, visit: (owner: Uint8Array, role: "input" | "output", index: number) => boolean): void {
  const inputCount = spendInputCount(tx, start);
  const outputCount = spendOutputCount(tx, start);
  for (let i = 0; i < inputCount; i++) {
    const at = spendInputAt(start, i) + INPUT.offset.owner;
    if (!visit(tx.subarray(at, at + PUBLIC_KEY_BYTES), "input", i)) return;
  }
  for (let j = 0; j < outputCount; j++) {
    const at = spendOutputAt(start, inputCount, j) + OUTPUT.offset.owner;
    if (!visit(tx.subarray(at, at + PUBLIC_KEY_BYTES), "output", j)) return;
  }
}

/** TX_WRONG_SHARD unless `owner` (named `role` `index` in errors) maps to `shard`. */
export function checkOwnerShard(owner: Uint8Array, role: string, index: number, shard: number, shardCount: number): boolean {
  const actual = shardOfOwner(owner, shardCount);
  if (actual !== shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `${role} ${index} belongs to shard ${actual}, not ${shard}`);
  return true;
}

function shards(tx: Uint8Array, shardCount: number): number[] {
  const touched = new Set<number>();
  everySpendOwner(tx, TRANSFER_SPEND_AT, (owner) => touched.add(shardOfOwner(owner, shardCount)) !== undefined);
  return [...touched].sort((a, b) => a - b);
}

/** A transfer is intra-shard: every owner maps to the shard it was submitted to. */
function checkStateless(tx: Uint8Array, _shape: TxShape, shard: number, shardCount: number): void {
  if (shardCount === 1) return;
  everySpendOwner(tx, TRANSFER_SPEND_AT, (owner, role, index) => checkOwnerShard(owner, role, index, shard, shardCount));
}

/** Appends one item per input of the spend section at `start`: its owner's signature (the `i`-th at `signaturesAt`) over `txid`. */
export function pushInputSignatureItems(tx: Uint8Array, start: number, signaturesAt: number, txid: Uint8Array, out: SignatureItem[]): void {
  const inputCount = spendInputCount(tx, start);
  for (let i = 0; i < inputCount; i++) {
    const owner = spendInputAt(start, i) + INPUT.offset.owner;
    const signature = signaturesAt + i * SIGNATURE_BYTES;
    out.push({ signature: tx.subarray(signature, signature + SIGNATURE_BYTES), message: txid, publicKey: tx.subarray(owner, owner + PUBLIC_KEY_BYTES) });
  }
}

function signatureItems(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: SignatureItem[]): void {
  pushInputSignatureItems(tx, TRANSFER_SPEND_AT, shape.unsignedEnd, txid, out);
}

/** The first input's owner of the spend section at `start` (a view), or undefined when `tx` is too short. */
export function firstInputOwner(tx: Uint8Array, start: number): Uint8Array | undefined {
  const at = spendInputAt(start, 0) + INPUT.offset.owner;
  return tx.length < at + PUBLIC_KEY_BYTES ? undefined : tx.subarray(at, at + PUBLIC_KEY_BYTES);
}

/** The first input's owner: all of a sender's transfers reach one producer (ARCHITECTURE.md, PoB assignment). */
function spender(tx: Uint8Array): Uint8Array | undefined {
  return firstInputOwner(tx, TRANSFER_SPEND_AT);
}

function writeRecord(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: Uint8Array, at: number): void {
  new BinaryWriter(out, at)
    .u8(TxKind.Transfer)
    .u32(shape.recordBytes)
    .bytes(txid)
    .bytes(tx.subarray(TRANSFER_SPEND_AT, shape.unsignedEnd));
}

/**
 * A transfer's apply record from its parts, unchecked: tests, benchmarks and differential checks
 * build records the kernel must judge, bad ones included (stateless validation never writes those).
 */
export function encodeTransferRecord(txid: Uint8Array, inputs: readonly TxInput[], outputs: readonly TxOutput[]): Uint8Array<ArrayBuffer> {
  const size = RECORD_HEADER.bytes + spendSectionLength(inputs.length, outputs.length);
  const writer = BinaryWriter.ofSize(size).u8(TxKind.Transfer).u32(size).bytes(txid).u16(inputs.length).u16(outputs.length);
  for (const input of inputs) writer.bytes(input.txid).u32(input.index).bytes(input.owner);
  for (const output of outputs) writer.bytes(output.owner).u64(output.amount);
  return writer.finish();
}

/**
 * The layout of a record whose body holds a spend section at `bodyAt` (relative to the record's
 * end of header): its inputs and outputs are the section's (INPUT is RECORD_INPUT, OUTPUT is
 * RECORD_OUTPUT). A transfer's body is the section itself (`bodyAt` 0).
 */
export function spendRecordLayout(bodyAt: number): RecordLayout {
  const start = (at: number): number => at + RECORD_HEADER.bytes + bodyAt;
  return {
    balanced: true,
    inputCount: (records, at) => spendInputCount(records, start(at)),
    inputAt: (_records, at, i) => spendInputAt(start(at), i),
    outputCount: (records, at) => spendOutputCount(records, start(at)),
    outputAt: (records, at, j) => spendOutputAt(start(at), spendInputCount(records, start(at)), j),
  };
}

export const transferKind: TxKindModule<Transfer> = {
  kind: TxKind.Transfer,
  name: "Transfer",
  submittable: true,
  scan,
  decode,
  encode,
  encodeUnsigned: encodeUnsignedTransfer,
  shards,
  checkStateless,
  signatureItems,
  spender,
  writeRecord,
  record: spendRecordLayout(0),
};
