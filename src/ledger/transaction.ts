/**
 * Transactions: the one canonical little-endian binary encoding (DESIGN.md §3; white paper §3,
 * UTXO model) and its strict decoder.
 *
 *   offset 0   version      u8    TX_VERSION (1)
 *          1   kind         u8    TxKind (only Transfer is defined; the others are reserved)
 *          2   inputCount   u16   1..MAX_INPUTS
 *          4   outputCount  u16   1..MAX_OUTPUTS
 *          6   inputs       inputCount  × { txid[32], index u32, owner[32] }   (68 bytes each)
 *              outputs      outputCount × { owner[32], amount u64 }           (40 bytes each)
 *              signatures   inputCount  × 64-byte Ed25519 signature
 *
 * Everything before the signatures is the "unsigned encoding"; txid = SHA-256(unsigned encoding).
 * Signature i is input i's owner signing the 32-byte txid. An input carries its owner's key so
 * that signatures verify statelessly; the stateful check (UTXO table) requires the spent output's
 * owner to equal it. Amounts are > 0 and their sum must fit in u64.
 *
 * API: `encodeUnsignedTransaction(tx)`, `encodeTransaction(tx)`, `decodeTransaction(bytes)`,
 * `transactionId(tx)`, `transactionIdOfEncoding(bytes)`, `signTransaction(tx, signers)`,
 * `scanTransaction(bytes, start, end)` (allocation-free structural check used by batches),
 * `outpointKey(txid, index)`.
 */
import { sha256 } from "../crypto/sha256.js";
import { LedgerError, ledgerCheck } from "./errors.js";
import { SIGNATURE_BYTES, signMessage, type KeyPair } from "./keys.js";
import { PUBLIC_KEY_BYTES } from "./shard.js";

export const TX_VERSION = 1;

/**
 * Transaction kinds. Only Transfer is decoded today; the reserved values name what the white paper
 * needs next (Atomix §6 lock / unlock-to-commit / unlock-to-abort, validator registration and PoB
 * slashing evidence §8) and decode as TX_UNKNOWN_KIND until they are implemented.
 */
export const TxKind = {
  Transfer: 0,
  AtomixLock: 1,
  AtomixUnlockCommit: 2,
  AtomixUnlockAbort: 3,
  ValidatorRegistration: 4,
  SlashingEvidence: 5,
} as const;
export type TxKind = (typeof TxKind)[keyof typeof TxKind];

/** Inputs per transaction: bounds the signature work of one transaction (≤ 128 verifications). */
export const MAX_INPUTS = 128;
/** Outputs per transaction: bounds the UTXO inserts of one transaction. */
export const MAX_OUTPUTS = 128;
/**
 * Encoded size of one transaction. 16 KiB keeps a single transaction a small fraction of a block
 * and of a network frame; it binds before the count limits (128 inputs + 128 outputs = 22,022 B).
 */
export const MAX_TX_BYTES = 16 * 1024;

export const TXID_BYTES = 32;
export const TX_HEADER_BYTES = 6;
export const INPUT_BYTES = TXID_BYTES + 4 + PUBLIC_KEY_BYTES;
export const OUTPUT_BYTES = PUBLIC_KEY_BYTES + 8;
export const OUTPOINT_BYTES = TXID_BYTES + 4;
export const MAX_AMOUNT = (1n << 64n) - 1n;

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

export interface UnsignedTransaction {
  readonly kind: TxKind;
  readonly inputs: readonly TxInput[];
  readonly outputs: readonly TxOutput[];
}

export interface Transaction extends UnsignedTransaction {
  /** One 64-byte signature per input, in input order. */
  readonly signatures: readonly Uint8Array[];
}

/** Byte length of the unsigned encoding. */
function unsignedLength(inputCount: number, outputCount: number): number {
  return TX_HEADER_BYTES + inputCount * INPUT_BYTES + outputCount * OUTPUT_BYTES;
}

/** Byte length of the full (signed) encoding. */
export function encodedLength(inputCount: number, outputCount: number): number {
  return unsignedLength(inputCount, outputCount) + inputCount * SIGNATURE_BYTES;
}

function fieldCheck(condition: unknown, message: string): asserts condition {
  ledgerCheck(condition, "TX_BAD_FIELD", message);
}

/** Kind, counts and size of a transaction about to be encoded. */
function checkShape(tx: UnsignedTransaction): void {
  ledgerCheck(tx.kind === TxKind.Transfer, "TX_UNKNOWN_KIND", `kind ${tx.kind} has no encoding yet; only Transfer (0) does`);
  const nIn = tx.inputs.length;
  const nOut = tx.outputs.length;
  ledgerCheck(nIn > 0, "TX_NO_INPUTS", "a transfer needs at least one input");
  ledgerCheck(nOut > 0, "TX_NO_OUTPUTS", "a transfer needs at least one output");
  ledgerCheck(nIn <= MAX_INPUTS, "TX_TOO_MANY_INPUTS", `${nIn} inputs exceed MAX_INPUTS = ${MAX_INPUTS}`);
  ledgerCheck(nOut <= MAX_OUTPUTS, "TX_TOO_MANY_OUTPUTS", `${nOut} outputs exceed MAX_OUTPUTS = ${MAX_OUTPUTS}`);
  const size = encodedLength(nIn, nOut);
  ledgerCheck(size <= MAX_TX_BYTES, "TX_TOO_LARGE", `encoding needs ${size} bytes, over MAX_TX_BYTES = ${MAX_TX_BYTES}`);
}

function writeUnsigned(tx: UnsignedTransaction, out: Uint8Array): number {
  const nIn = tx.inputs.length;
  const nOut = tx.outputs.length;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = TX_VERSION;
  out[1] = tx.kind;
  view.setUint16(2, nIn, true);
  view.setUint16(4, nOut, true);
  let at = TX_HEADER_BYTES;
  for (const [i, input] of tx.inputs.entries()) {
    fieldCheck(input.txid.length === TXID_BYTES, `input ${i}: txid must be ${TXID_BYTES} bytes`);
    fieldCheck(Number.isInteger(input.index) && input.index >= 0 && input.index <= 0xffffffff, `input ${i}: index must be a u32`);
    fieldCheck(input.owner.length === PUBLIC_KEY_BYTES, `input ${i}: owner must be ${PUBLIC_KEY_BYTES} bytes`);
    out.set(input.txid, at);
    view.setUint32(at + TXID_BYTES, input.index, true);
    out.set(input.owner, at + OUTPOINT_BYTES);
    at += INPUT_BYTES;
  }
  let total = 0n;
  for (const [i, output] of tx.outputs.entries()) {
    fieldCheck(output.owner.length === PUBLIC_KEY_BYTES, `output ${i}: owner must be ${PUBLIC_KEY_BYTES} bytes`);
    fieldCheck(typeof output.amount === "bigint", `output ${i}: amount must be a bigint`);
    ledgerCheck(output.amount > 0n, "TX_ZERO_AMOUNT", `output ${i}: amount must be > 0`);
    ledgerCheck(output.amount <= MAX_AMOUNT, "TX_AMOUNT_OVERFLOW", `output ${i}: amount exceeds u64`);
    total += output.amount;
    ledgerCheck(total <= MAX_AMOUNT, "TX_AMOUNT_OVERFLOW", "sum of output amounts exceeds u64");
    out.set(output.owner, at);
    view.setBigUint64(at + PUBLIC_KEY_BYTES, output.amount, true);
    at += OUTPUT_BYTES;
  }
  return at;
}

/** The unsigned encoding (what the txid hashes). Throws a LedgerError on an invalid transaction. */
export function encodeUnsignedTransaction(tx: UnsignedTransaction): Uint8Array {
  checkShape(tx);
  const out = new Uint8Array(unsignedLength(tx.inputs.length, tx.outputs.length));
  writeUnsigned(tx, out);
  checkNoDuplicateInputs(out, 0, tx.inputs.length);
  return out;
}

/** The full canonical encoding, signatures included. */
export function encodeTransaction(tx: Transaction): Uint8Array {
  const nIn = tx.inputs.length;
  checkShape(tx);
  fieldCheck(tx.signatures.length === nIn, `expected ${nIn} signatures (one per input), got ${tx.signatures.length}`);
  const out = new Uint8Array(encodedLength(nIn, tx.outputs.length));
  let at = writeUnsigned(tx, out);
  checkNoDuplicateInputs(out, 0, nIn);
  for (const [i, signature] of tx.signatures.entries()) {
    fieldCheck(signature.length === SIGNATURE_BYTES, `signature ${i} must be ${SIGNATURE_BYTES} bytes`);
    out.set(signature, at);
    at += SIGNATURE_BYTES;
  }
  return out;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

/** Inputs are distinct outpoints. Pairwise for small counts, a set of keys beyond. */
function checkNoDuplicateInputs(bytes: Uint8Array, start: number, inputCount: number): void {
  const first = start + TX_HEADER_BYTES;
  if (inputCount <= 8) {
    for (let i = 1; i < inputCount; i++) {
      for (let j = 0; j < i; j++) {
        if (sameBytes(bytes, first + i * INPUT_BYTES, first + j * INPUT_BYTES, OUTPOINT_BYTES)) {
          throw new LedgerError("TX_DUPLICATE_INPUT", `inputs ${j} and ${i} spend the same outpoint`);
        }
      }
    }
    return;
  }
  const seen = new Map<string, number>();
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < inputCount; i++) {
    const at = first + i * INPUT_BYTES;
    const key = buffer.toString("latin1", at, at + OUTPOINT_BYTES);
    const previous = seen.get(key);
    if (previous !== undefined) throw new LedgerError("TX_DUPLICATE_INPUT", `inputs ${previous} and ${i} spend the same outpoint`);
    seen.set(key, i);
  }
}

/** Shape of one encoded transaction, as found by `scanTransaction`. */
export interface TxShape {
  readonly inputCount: number;
  readonly outputCount: number;
  /** Offset (absolute, in the scanned buffer) where the signatures start. */
  readonly unsignedEnd: number;
}

/**
 * Strict structural check of the encoding in `bytes[start..end)`: version, kind, counts, exact
 * length, amounts > 0, Σ outputs within u64, distinct inputs. Throws a LedgerError; allocates
 * nothing on success beyond the returned shape.
 */
export function scanTransaction(bytes: Uint8Array, start: number, end: number): TxShape {
  const length = end - start;
  ledgerCheck(length <= MAX_TX_BYTES, "TX_TOO_LARGE", `${length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  ledgerCheck(length >= TX_HEADER_BYTES, "TX_TRUNCATED", `${length} bytes is shorter than the ${TX_HEADER_BYTES}-byte header`);
  ledgerCheck(bytes[start] === TX_VERSION, "TX_UNKNOWN_VERSION", `version ${bytes[start]} is not ${TX_VERSION}`);
  ledgerCheck(bytes[start + 1] === TxKind.Transfer, "TX_UNKNOWN_KIND", `kind ${bytes[start + 1]} is not defined`);
  const inputCount = bytes[start + 2]! | (bytes[start + 3]! << 8);
  const outputCount = bytes[start + 4]! | (bytes[start + 5]! << 8);
  ledgerCheck(inputCount > 0, "TX_NO_INPUTS", "a transfer needs at least one input");
  ledgerCheck(outputCount > 0, "TX_NO_OUTPUTS", "a transfer needs at least one output");
  ledgerCheck(inputCount <= MAX_INPUTS, "TX_TOO_MANY_INPUTS", `${inputCount} inputs exceed MAX_INPUTS = ${MAX_INPUTS}`);
  ledgerCheck(outputCount <= MAX_OUTPUTS, "TX_TOO_MANY_OUTPUTS", `${outputCount} outputs exceed MAX_OUTPUTS = ${MAX_OUTPUTS}`);
  const expected = encodedLength(inputCount, outputCount);
  ledgerCheck(expected <= MAX_TX_BYTES, "TX_TOO_LARGE", `declared counts need ${expected} bytes, over MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  ledgerCheck(length >= expected, "TX_TRUNCATED", `declared counts need ${expected} bytes, got ${length}`);
  ledgerCheck(length === expected, "TX_TRAILING_BYTES", `${length - expected} bytes after the last signature`);
  const outputsStart = start + TX_HEADER_BYTES + inputCount * INPUT_BYTES;
  let sumLow = 0;
  let sumHigh = 0;
  for (let i = 0; i < outputCount; i++) {
    const at = outputsStart + i * OUTPUT_BYTES + PUBLIC_KEY_BYTES;
    const low = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
    const high = (bytes[at + 4]! | (bytes[at + 5]! << 8) | (bytes[at + 6]! << 16) | (bytes[at + 7]! << 24)) >>> 0;
    ledgerCheck(low !== 0 || high !== 0, "TX_ZERO_AMOUNT", `output ${i}: amount must be > 0`);
    sumLow += low;
    sumHigh += high;
  }
  // Both partial sums stay below 2^53 (≤ 128 terms < 2^32), so this carry arithmetic is exact.
  ledgerCheck(sumHigh + Math.floor(sumLow / 0x1_0000_0000) <= 0xffffffff, "TX_AMOUNT_OVERFLOW", "sum of output amounts exceeds u64");
  checkNoDuplicateInputs(bytes, start, inputCount);
  return { inputCount, outputCount, unsignedEnd: start + unsignedLength(inputCount, outputCount) };
}

/** Strictly decodes one encoded transaction (structure only; signatures are not verified here). */
export function decodeTransaction(bytes: Uint8Array): Transaction {
  const shape = scanTransaction(bytes, 0, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inputs: TxInput[] = [];
  let at = TX_HEADER_BYTES;
  for (let i = 0; i < shape.inputCount; i++, at += INPUT_BYTES) {
    inputs.push({
      txid: bytes.slice(at, at + TXID_BYTES),
      index: view.getUint32(at + TXID_BYTES, true),
      owner: bytes.slice(at + OUTPOINT_BYTES, at + INPUT_BYTES),
    });
  }
  const outputs: TxOutput[] = [];
  for (let i = 0; i < shape.outputCount; i++, at += OUTPUT_BYTES) {
    outputs.push({ owner: bytes.slice(at, at + PUBLIC_KEY_BYTES), amount: view.getBigUint64(at + PUBLIC_KEY_BYTES, true) });
  }
  const signatures: Uint8Array[] = [];
  for (let i = 0; i < shape.inputCount; i++, at += SIGNATURE_BYTES) signatures.push(bytes.slice(at, at + SIGNATURE_BYTES));
  return { kind: TxKind.Transfer, inputs, outputs, signatures };
}

export function transactionId(tx: UnsignedTransaction): Uint8Array {
  return sha256(encodeUnsignedTransaction(tx));
}

/** txid of a full encoding: SHA-256 over its unsigned prefix. Checks the structure first. */
export function transactionIdOfEncoding(bytes: Uint8Array): Uint8Array {
  const shape = scanTransaction(bytes, 0, bytes.length);
  return sha256(bytes.subarray(0, shape.unsignedEnd));
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Signs every input with the key pair of its owner (found among `signers` by public key) over the
 * txid. Returns the signed transaction and its txid.
 */
export function signTransaction(tx: UnsignedTransaction, signers: readonly KeyPair[]): { transaction: Transaction; txid: Uint8Array } {
  const txid = transactionId(tx);
  const signatures = tx.inputs.map((input, i) => {
    const signer = signers.find((pair) => sameKey(pair.publicKey, input.owner));
    if (signer === undefined) throw new LedgerError("TX_SIGNER_MISSING", `no key pair given for the owner of input ${i}`);
    return signMessage(signer.secretKey, txid);
  });
  return { transaction: { ...tx, signatures }, txid };
}

/** The 36-byte table key of an outpoint: txid ‖ u32le(index). */
export function outpointKey(txid: Uint8Array, index: number): Uint8Array {
  fieldCheck(txid.length === TXID_BYTES, `txid must be ${TXID_BYTES} bytes`);
  fieldCheck(Number.isInteger(index) && index >= 0 && index <= 0xffffffff, "index must be a u32");
  const key = new Uint8Array(OUTPOINT_BYTES);
  key.set(txid);
  new DataView(key.buffer).setUint32(TXID_BYTES, index, true);
  return key;
}
