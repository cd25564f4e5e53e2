/**
 * Transactions (DESIGN.md §3; white paper §3, UTXO model): every encoding is version u8 ‖ kind u8
 * ‖ the kind's body, one module per kind under ./kinds/ (the registry maps the kind byte to it).
 * This module is the entry point for callers: the kind-independent operations on encodings, and
 * the object form of Transfer, the kind clients build (its layout is in ./kinds/transfer.ts).
 *
 * API: `scanTransaction(tx)`, `transactionIdOfEncoding(tx)` (any kind); `encodeUnsignedTransaction`,
 * `encodeTransaction`, `decodeTransaction`, `transactionId`, `signTransaction`, `encodedLength`
 * (Transfer); `outpointKey(txid, index)`.
 */
import { sameBytes } from "../bytes.js";
import { BinaryWriter } from "../codec/binary.js";
import { OUTPOINT_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { sha256 } from "../crypto/sha256.js";
import { signMessage, type KeyPair } from "./keys.js";
import { encodeUnsignedTransfer, transferKind, transferLength, type Transfer, type UnsignedTransfer } from "./kinds/transfer.js";
import { IosError, check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

export { MAX_TX_BYTES, TX_VERSION, TxKind } from "./kinds/interface.js";
export { scanTransaction, transactionIdIfWellFormed, transactionIdOfEncoding } from "./kinds/registry.js";
export { MAX_AMOUNT, MAX_INPUTS, MAX_OUTPUTS, type TxInput, type TxOutput } from "./kinds/transfer.js";

export type UnsignedTransaction = UnsignedTransfer;
export type Transaction = Transfer;

/** Byte length of a signed transfer with these counts. */
export const encodedLength = transferLength;

/** The unsigned encoding of a transfer (what the txid hashes). Throws a ledger-coded IosError on an invalid one. */
export function encodeUnsignedTransaction(tx: UnsignedTransaction): Uint8Array<ArrayBuffer> {
  return encodeUnsignedTransfer(tx);
}

/** The full canonical encoding of a transfer, signatures included. */
export function encodeTransaction(tx: Transaction): Uint8Array<ArrayBuffer> {
  return transferKind.encode(tx);
}

/** Strictly decodes one encoded transfer (structure only; signatures are not verified here). */
export function decodeTransaction(bytes: Uint8Array): Transaction {
  return transferKind.decode(bytes);
}

export function transactionId(tx: UnsignedTransaction): Uint8Array {
  return sha256(encodeUnsignedTransaction(tx));
}

/**
 * Signs every input with the key pair of its owner (found among `signers` by public key) over the
 * txid. Returns the signed transaction and its txid.
 */
export function signTransaction(tx: UnsignedTransaction, signers: readonly KeyPair[]): { transaction: Transaction; txid: Uint8Array } {
  const txid = transactionId(tx);
  const signatures = tx.inputs.map((input, i) => {
    const signer = signers.find((pair) => sameBytes(pair.publicKey, input.owner));
    if (signer === undefined) throw new IosError<LedgerErrorCode>("TX_SIGNER_MISSING", `no key pair given for the owner of input ${i}`);
    return signMessage(signer.secretKey, txid);
  });
  return { transaction: { ...tx, signatures }, txid };
}

/** The 36-byte table key of an outpoint: txid ‖ u32le(index). */
export function outpointKey(txid: Uint8Array, index: number): Uint8Array {
  check<LedgerErrorCode>(txid.length === TXID_BYTES, "TX_BAD_FIELD", `txid must be ${TXID_BYTES} bytes`);
  check<LedgerErrorCode>(Number.isInteger(index) && index >= 0 && index <= 0xffffffff, "TX_BAD_FIELD", "index must be a u32");
  return new BinaryWriter(new Uint8Array(OUTPOINT_BYTES)).bytes(txid).u32(index).finish();
}
