/**
 * Evidence of a believable validator's fraud (white paper §7.2: "the validator who signed the
 * invalid block would be detected and held accountable"; DESIGN.md §4: "the signed optimistic
 * block is evidence").
 *
 * Evidence (version 2) = the optimistic block's header, the producer's seal (its Ed25519
 * signature over the block hash), one transaction's full encoding and its RFC 6962 audit path to
 * the header's body root (src/ledger/block.ts: leaf i is the i-th transaction's full encoding,
 * signatures and unlock proofs included). Anyone holding the producer's public key checks it
 * offline, without the rest of the block and without any state: the producer signed a header that
 * commits to these exact bytes, one of whose input signatures is invalid. Only signature fraud is
 * evidence: stateful conflicts (a double spend split across two producers) are not provable
 * without state and are not a fault of either.
 * Version 1 placed the transaction by its txid under the tx root. A txid leaves out the
 * signatures, so anyone holding an honest block could flip a signature byte of one of its
 * transactions and get evidence that verified — a forgery slashing an honest producer offline.
 * Version 1 is refused (POB_EVIDENCE_OBSOLETE) rather than kept verifiable: a verifying v1 proves
 * nothing, and none exists on a chain of this version (its 130-byte header no longer decodes, and
 * slashings are derived by the replicas, never submitted).
 * An optimistic confirmation (header + seal + the txid's path to the tx root) still places a txid:
 * a client asks whether its transaction, which it holds, was ordered.
 *
 * Encoding (little-endian): u8 EVIDENCE_VERSION ‖ header (HEADER_BYTES) ‖ seal (64 B) ‖ u32 tx
 * length ‖ tx ‖ encoded Merkle proof to the body root (src/crypto/merkle.ts, to the end).
 *
 * API: `makeInclusion(block, index)`, `verifyInclusion(inclusion, txid, producerKey, verifier?)`,
 * `makeEvidence(block, index)`, `verifyEvidence(evidence, producerKey, verifier?)`,
 * `encodeEvidence`, `decodeEvidence`, `encodeInclusion`, `decodeInclusion` (an optimistic
 * confirmation a client checks: header ‖ seal ‖ Merkle proof).
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { IosError, check, hasCodeIn } from "../../errors.js";
import { Ed25519Verifier, verify as verifySignature, type SignatureItem } from "../../crypto/ed25519.js";
import { decodeMerkleProof, encodeMerkleProof, merkleProof, merkleProofOfPackedLeaves, verifyMerkleProof, type MerkleProof } from "../../crypto/merkle.js";
import { BlockKind, HEADER_BYTES, blockHash, decodeBlockHeader, encodeBlockHeader, type BlockHeader, type DecodedBlock } from "../../ledger/block.js";
import { signatureItemsOf, transactionIdOfEncoding } from "../../ledger/kinds/registry.js";
import type { PobErrorCode } from "./errors.js";
import { sameBytes } from "../../bytes.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { LEDGER_ERROR_CODES } from "../../ledger/errors.js";

/** 2: the transaction's path leads to the header's body root (1 placed its txid only: module doc). */
export const EVIDENCE_VERSION = 2;
/** The version that proved a transaction by its txid: refused with its own code. */
const TXID_EVIDENCE_VERSION = 1;
const EVIDENCE_CODES = singleCode<PobErrorCode>("POB_BAD_EVIDENCE_ENCODING");

/** A signed optimistic header and the audit path of one transaction in it. */
export interface SignedInclusion {
  readonly header: BlockHeader;
  /** The producer's Ed25519 signature over the block hash. */
  readonly seal: Uint8Array;
  readonly proof: MerkleProof;
}

export interface Evidence {
  readonly header: BlockHeader;
  /** The producer's Ed25519 signature over the block hash. */
  readonly seal: Uint8Array;
  /** The offending transaction, full encoding. */
  readonly transaction: Uint8Array;
  /** The audit path of `transaction` (the leaf) to the header's body root. */
  readonly proof: MerkleProof;
}

export type EvidenceVerdict =
  | { readonly valid: true; readonly txid: Uint8Array; readonly blockHash: Uint8Array; readonly badInputs: readonly number[] }
  | { readonly valid: false; readonly code: PobErrorCode; readonly reason: string };

function verifier(given: Ed25519Verifier | undefined): (sig: Uint8Array, msg: Uint8Array, key: Uint8Array) => boolean {
  return given === undefined ? verifySignature : (sig, msg, key) => given.verify(sig, msg, key);
}


/** Inclusion of transaction `index` of a decoded optimistic block. */
export function makeInclusion(block: DecodedBlock, index: number): SignedInclusion {
  check<PobErrorCode>(block.seal.kind === "producer", "POB_BAD_ARGUMENT", "only an optimistic block (producer seal) gives a signed inclusion");
  check<PobErrorCode>(Number.isInteger(index) && index >= 0 && index < block.header.txCount, "POB_BAD_ARGUMENT",
    `transaction index ${index} is not in 0..${block.header.txCount - 1}`);
  return { header: block.header, seal: block.seal.signature, proof: merkleProofOfPackedLeaves(block.txids, TXID_BYTES, index) };
}

/** Evidence against transaction `index` of a decoded optimistic block: its full encoding and path to the body root. */
export function makeEvidence(block: DecodedBlock, index: number): Evidence {
  const { header, seal } = makeInclusion(block, index);
  return { header, seal, transaction: Uint8Array.from(block.transactions[index]!), proof: merkleProof(block.transactions, index) };
}

type Check = { ok: true; hash: Uint8Array } | { ok: false; code: PobErrorCode; reason: string };

/** Where a signed header places a leaf: the txid under the tx root (a confirmation), or the full encoding under the body root (evidence). */
interface Placement {
  readonly leaf: Uint8Array;
  readonly proof: MerkleProof;
  readonly root: (header: BlockHeader) => Uint8Array;
  readonly what: string;
}

function checkSignedHeader(signed: { readonly header: BlockHeader; readonly seal: Uint8Array }, placement: Placement, producerKey: Uint8Array, verify: ReturnType<typeof verifier>): Check {
  const { header, seal } = signed;
  const { leaf, proof } = placement;
  if (header.kind !== BlockKind.Optimistic) return { ok: false, code: "POB_EVIDENCE_NOT_OPTIMISTIC", reason: "the header is not an optimistic block's" };
  if (!sameBytes(header.producer, producerKey)) return { ok: false, code: "POB_EVIDENCE_WRONG_PRODUCER", reason: "the header names another producer" };
  let hash: Uint8Array;
  try {
    hash = blockHash(header);
  } catch (error) {
    if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
    return { ok: false, code: "POB_EVIDENCE_NOT_OPTIMISTIC", reason: `bad header: ${error.message}` };
  }
  if (seal.length !== SIGNATURE_BYTES || !verify(seal, hash, producerKey)) {
    return { ok: false, code: "POB_EVIDENCE_BAD_SEAL", reason: "the seal is not the producer's signature of the block hash" };
  }
  if (proof.size !== header.txCount || !verifyMerkleProof(leaf, proof, placement.root(header))) {
    return { ok: false, code: "POB_EVIDENCE_NOT_INCLUDED", reason: `the proof does not place the ${placement.what}` };
  }
  return { ok: true, hash };
}

/**
 * Checks an optimistic confirmation: `txid` is in a block whose header `producerKey` signed.
 * Returns the block hash, or throws an IosError<PobErrorCode> naming what failed.
 */
export function verifyInclusion(inclusion: SignedInclusion, txid: Uint8Array, producerKey: Uint8Array, given?: Ed25519Verifier): Uint8Array {
  check<PobErrorCode>(txid instanceof Uint8Array && txid.length === TXID_BYTES, "POB_BAD_ARGUMENT", `txid must be ${TXID_BYTES} bytes`);
  const result = checkSignedHeader(inclusion, { leaf: txid, proof: inclusion.proof, root: (header) => header.txRoot, what: "txid under the signed tx root" }, producerKey, verifier(given));
  if (!result.ok) throw new IosError<PobErrorCode>(result.code, result.reason);
  return result.hash;
}

/** Verifies evidence offline with the producer's key. Never throws on bad evidence: it says why. */
export function verifyEvidence(evidence: Evidence, producerKey: Uint8Array, given?: Ed25519Verifier): EvidenceVerdict {
  check<PobErrorCode>(producerKey instanceof Uint8Array && producerKey.length === PUBLIC_KEY_BYTES, "POB_BAD_ARGUMENT", `producer key must be ${PUBLIC_KEY_BYTES} bytes`);
  const tx = evidence.transaction;
  let txid: Uint8Array;
  let items: SignatureItem[];
  try {
    txid = transactionIdOfEncoding(tx);
    items = signatureItemsOf(tx, txid);
  } catch (error) {
    if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
    return { valid: false, code: "POB_EVIDENCE_BAD_TX", reason: `the transaction is malformed: ${error.message}` };
  }
  const verify = verifier(given);
  const header = checkSignedHeader(evidence, { leaf: tx, proof: evidence.proof, root: (signed) => signed.bodyRoot, what: "transaction's bytes under the signed body root" }, producerKey, verify);
  if (!header.ok) return { valid: false, code: header.code, reason: header.reason };
  const badInputs: number[] = [];
  items.forEach((item, i) => {
    if (!verify(item.signature, item.message, item.publicKey)) badInputs.push(i);
  });
  if (badInputs.length === 0) return { valid: false, code: "POB_EVIDENCE_TX_VALID", reason: "every signature of the transaction is valid: no offence" };
  return { valid: true, txid, blockHash: header.hash, badInputs };
}

export function encodeEvidence(evidence: Evidence): Uint8Array {
  const header = encodeBlockHeader(evidence.header);
  check<PobErrorCode>(evidence.seal.length === SIGNATURE_BYTES, "POB_BAD_ARGUMENT", `seal must be ${SIGNATURE_BYTES} bytes`);
  const proof = encodeMerkleProof(evidence.proof);
  return BinaryWriter.ofSize(1 + HEADER_BYTES + SIGNATURE_BYTES + 4 + evidence.transaction.length + proof.length)
    .u8(EVIDENCE_VERSION)
    .bytes(header)
    .bytes(evidence.seal)
    .lengthPrefixed("u32", evidence.transaction)
    .bytes(proof)
    .finish();
}

function decodeHeader(bytes: Uint8Array): BlockHeader {
  try {
    return decodeBlockHeader(bytes);
  } catch (error) {
    if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
    throw new IosError<PobErrorCode>("POB_BAD_EVIDENCE_ENCODING", `bad header: ${error.message}`);
  }
}

function decodeProof(bytes: Uint8Array): MerkleProof {
  try {
    return decodeMerkleProof(bytes);
  } catch (error) {
    if (!(error instanceof IosError)) throw error;
    throw new IosError<PobErrorCode>("POB_BAD_EVIDENCE_ENCODING", `bad inclusion proof: ${error.message}`);
  }
}

/** Strict inverse of `encodeEvidence`; version 1 is POB_EVIDENCE_OBSOLETE, anything else POB_BAD_EVIDENCE_ENCODING. */
export function decodeEvidence(bytes: Uint8Array): Evidence {
  check<PobErrorCode>(bytes instanceof Uint8Array, "POB_BAD_EVIDENCE_ENCODING", "evidence must be a Uint8Array");
  const reader = new BinaryReader(bytes, EVIDENCE_CODES);
  reader.need(1 + HEADER_BYTES + SIGNATURE_BYTES + 4, "the fixed part");
  const version = reader.u8();
  check<PobErrorCode>(version !== TXID_EVIDENCE_VERSION, "POB_EVIDENCE_OBSOLETE", `version ${TXID_EVIDENCE_VERSION} evidence places a txid, not the transaction's bytes: anyone could build it from an honest block (version ${EVIDENCE_VERSION} is needed)`);
  check<PobErrorCode>(version === EVIDENCE_VERSION, "POB_BAD_EVIDENCE_ENCODING", `version ${version} is not ${EVIDENCE_VERSION}`);
  const header = decodeHeader(reader.bytes(HEADER_BYTES));
  const seal = reader.bytes(SIGNATURE_BYTES).slice();
  const transaction = reader.lengthPrefixed("u32", 0xffffffff, "transaction").slice();
  return { header, seal, transaction, proof: decodeProof(reader.bytes(reader.remaining)) };
}

/** An optimistic confirmation on the wire: header [HEADER_BYTES] ‖ seal [64] ‖ encoded Merkle proof. */
export function encodeInclusion(inclusion: SignedInclusion): Uint8Array {
  check<PobErrorCode>(inclusion.seal.length === SIGNATURE_BYTES, "POB_BAD_ARGUMENT", `seal must be ${SIGNATURE_BYTES} bytes`);
  const proof = encodeMerkleProof(inclusion.proof);
  return BinaryWriter.ofSize(HEADER_BYTES + SIGNATURE_BYTES + proof.length).bytes(encodeBlockHeader(inclusion.header)).bytes(inclusion.seal).bytes(proof).finish();
}

/** Strict inverse of `encodeInclusion`; anything else is POB_BAD_EVIDENCE_ENCODING. */
export function decodeInclusion(bytes: Uint8Array): SignedInclusion {
  check<PobErrorCode>(bytes instanceof Uint8Array, "POB_BAD_EVIDENCE_ENCODING", "an inclusion must be a Uint8Array");
  const reader = new BinaryReader(bytes, EVIDENCE_CODES);
  reader.need(HEADER_BYTES + SIGNATURE_BYTES, "the header and seal");
  const header = decodeHeader(reader.bytes(HEADER_BYTES));
  const seal = reader.bytes(SIGNATURE_BYTES).slice();
  return { header, seal, proof: decodeProof(reader.bytes(reader.remaining)) };
}
