/**
 * Statements, finality proofs and wire formats of the normal league's BFT
 * (src/consensus/bft/protocol.ts). Integers are little-endian; every decoder is strict (exact
 * lengths, bounded counts, well-formed certificates) and throws IosError<BftErrorCode>.
 *
 * Signed statements (the CoSi message is the 32-byte digest; CoSi adds its own SHA-512 challenge):
 *   prepare digest   SHA-256("IOSChain/bft/prepare/v1" ‖ u8 |chain| ‖ chain ‖ height u64 ‖ view u32 ‖ H(proposal))
 *   commit digest    SHA-256("IOSChain/bft/commit/v1"  ‖ u8 |chain| ‖ chain ‖ height u64 ‖ view u32 ‖ H(proposal)
 *                            ‖ SHA-256(prepare certificate))
 *   view change      "IOSChain/bft/view-change/v1" ‖ u8 |chain| ‖ chain ‖ height u64 ‖ new view u32 ‖
 *                    u8 prepared (0/1) ‖ [prepared view u32 ‖ H(proposal)]   — Ed25519 by the sender
 * with H = SHA-256. A certificate is a CollectiveSignature in the encoding of cosi/codec.ts
 * (n u16 ‖ mask ‖ V ‖ r).
 *
 * Messages (consensus range offsets 0x00–0x04, i.e. types 0x10–0x14; CoSi holds 0x30–0x33):
 *   PROPOSE      height u64 ‖ view u32 ‖ u32 |proposal| ‖ proposal ‖ u16 k ‖ k × (u32 |vc| ‖ view change)
 *   PREPARED     height u64 ‖ view u32 ‖ H(proposal) ‖ prepare certificate
 *   FINALIZED    height u64 ‖ view u32 ‖ u32 |proposal| ‖ proposal ‖ prepare cert ‖ commit cert
 *   VIEW_CHANGE  height u64 ‖ new view u32 ‖ signer u16 ‖ u8 prepared ‖ [view u32 ‖ H(proposal) ‖
 *                prepare cert] ‖ signature (64) ‖ u8 carries proposal ‖ [u32 |proposal| ‖ proposal]
 *   FETCH        from height u64 ‖ count u16
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { IosError, check } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { messageType } from "../../net/message-types.js";
import {
  collectiveSignatureBytes,
  cosiThreshold,
  decodeCollectiveSignature,
  encodeCollectiveSignature,
  verifyCollectiveSignature,
  writeCollectiveSignature,
  type CollectiveSignature,
} from "../cosi/codec.js";
import { BinaryReader, BinaryWriter, readU16, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { sameBytes } from "../../bytes.js";
import { HASH_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";

export type BftErrorCode = "BFT_BAD_CONFIG" | "BFT_BAD_INPUT" | "BFT_BAD_MESSAGE";

export const BFT_MESSAGES = {
  PROPOSE: messageType("consensus", 0x00),
  PREPARED: messageType("consensus", 0x01),
  FINALIZED: messageType("consensus", 0x02),
  VIEW_CHANGE: messageType("consensus", 0x03),
  FETCH: messageType("consensus", 0x04),
} as const;

/** Chain ids follow the registry's limit (src/consensus/registry.ts). */
export const MAX_CHAIN_ID_BYTES = 64;
/** Views are numbered by a u32 on the wire. */
export const MAX_VIEW = 0xffff_ffff;
/**
 * Largest proposal: 3 MiB leaves room under the 4 MiB transport frame (src/net/frame.ts) for the
 * certificates and for a NEW-VIEW proof of 2f + 1 view changes of a 1,024-validator league.
 */
export const DEFAULT_MAX_PROPOSAL_BYTES = 3 * 1024 * 1024;
/** Records one FETCH may ask for. */
export const MAX_FETCH_COUNT = 64;

const encoder = new TextEncoder();
const PREPARE_DOMAIN = encoder.encode("IOSChain/bft/prepare/v1");
const COMMIT_DOMAIN = encoder.encode("IOSChain/bft/commit/v1");
const VIEW_CHANGE_DOMAIN = encoder.encode("IOSChain/bft/view-change/v1");

function bad(message: string): IosError<BftErrorCode> {
  return new IosError<BftErrorCode>("BFT_BAD_MESSAGE", message);
}

/** Every malformed message is BFT_BAD_MESSAGE. */
const MESSAGE_CODES = singleCode<BftErrorCode>("BFT_BAD_MESSAGE");
/** The slot every message starts with. */
const SLOT = layout({ height: 8, view: 4 });
const U32_LENGTH_BYTES = 4;

/** A strict reader of a `what` message; fields it returns are copies (protocol state keeps them). */
function messageReader(payload: Uint8Array, what: string): BinaryReader<BftErrorCode> {
  if (!(payload instanceof Uint8Array)) throw bad(`${what} must be bytes`);
  return new BinaryReader(payload, MESSAGE_CODES);
}

/** A certificate for exactly `count` validators (a CollectiveSignature, cosi/codec.ts). */
function readCertificate(reader: BinaryReader<BftErrorCode>, count: number, what: string): CollectiveSignature {
  reader.need(2, `${what} certificate`);
  if (readU16(reader.input, reader.at) !== count) throw bad(`${what} certificate is not for n = ${count}`);
  const decoded = decodeCollectiveSignature(reader.bytes(collectiveSignatureBytes(count), `${what} certificate`));
  return { mask: decoded.mask, signature: decoded.signature };
}

/** How an application names its proposals in signed statements (BftConfig `hashProposal`). */
export type ProposalHasher = (proposal: Uint8Array) => Uint8Array;

/** The default proposal hash: SHA-256 of the bytes. */
export function proposalHash(proposal: Uint8Array): Uint8Array {
  return sha256(proposal);
}

function checkChainId(chainId: Uint8Array): void {
  check(
    chainId instanceof Uint8Array && chainId.length >= 1 && chainId.length <= MAX_CHAIN_ID_BYTES,
    "BFT_BAD_INPUT",
    `chain id must be 1..${MAX_CHAIN_ID_BYTES} bytes`,
  );
}

function checkSlot(height: number, view: number): void {
  check(Number.isSafeInteger(height) && height >= 0, "BFT_BAD_INPUT", `height must be a non-negative safe integer, got ${String(height)}`);
  check(Number.isInteger(view) && view >= 0 && view <= MAX_VIEW, "BFT_BAD_INPUT", `view must be an integer in [0, 2^32 - 1], got ${String(view)}`);
}

/** A writer of `domain ‖ u8 |chain| ‖ chain ‖ height u64 ‖ view u32` with room for `tailBytes` more. */
function statementHead(domain: Uint8Array, chainId: Uint8Array, height: number, view: number, tailBytes: number): BinaryWriter {
  checkChainId(chainId);
  checkSlot(height, view);
  return BinaryWriter.ofSize(domain.length + 1 + chainId.length + SLOT.bytes + tailBytes).bytes(domain).lengthPrefixed("u8", chainId).u64(height).u32(view);
}

/** The message of the prepare CoSi round of (height, view) for a proposal with this hash. */
export function prepareDigest(chainId: Uint8Array, height: number, view: number, hash: Uint8Array): Uint8Array {
  check(hash instanceof Uint8Array && hash.length === HASH_BYTES, "BFT_BAD_INPUT", `proposal hash must be ${HASH_BYTES} bytes`);
  return sha256(statementHead(PREPARE_DOMAIN, chainId, height, view, HASH_BYTES).bytes(hash).finish());
}

/** What the commit statement binds of the prepare certificate: SHA-256 of its encoding for n = `count`. */
export function prepareCertificateHash(prepareCert: CollectiveSignature, count: number): Uint8Array {
  return sha256(encodeCollectiveSignature(prepareCert, count));
}

/** The message of the commit CoSi round: binds the prepare certificate it follows. */
export function commitDigest(chainId: Uint8Array, height: number, view: number, hash: Uint8Array, prepareCert: CollectiveSignature, count: number): Uint8Array {
  return commitDigestOfCertificateHash(chainId, height, view, hash, prepareCertificateHash(prepareCert, count));
}

/** `commitDigest` from the prepare certificate's hash: what a compact proof of finality carries (src/atomix/proof.ts). */
export function commitDigestOfCertificateHash(chainId: Uint8Array, height: number, view: number, hash: Uint8Array, certHash: Uint8Array): Uint8Array {
  check(hash instanceof Uint8Array && hash.length === HASH_BYTES, "BFT_BAD_INPUT", `proposal hash must be ${HASH_BYTES} bytes`);
  check(certHash instanceof Uint8Array && certHash.length === HASH_BYTES, "BFT_BAD_INPUT", `prepare certificate hash must be ${HASH_BYTES} bytes`);
  return sha256(statementHead(COMMIT_DOMAIN, chainId, height, view, 2 * HASH_BYTES).bytes(hash).bytes(certHash).finish());
}

/** A prepare certificate with what it certifies: the PBFT "prepared" state a node is locked on. */
export interface PreparedCertificate {
  readonly view: number;
  readonly hash: Uint8Array;
  readonly cert: CollectiveSignature;
}

/** The bytes a VIEW-CHANGE signer signs. */
export function viewChangeStatement(chainId: Uint8Array, height: number, newView: number, prepared: { view: number; hash: Uint8Array } | undefined): Uint8Array {
  if (prepared === undefined) return statementHead(VIEW_CHANGE_DOMAIN, chainId, height, newView, 1).u8(0).finish();
  checkSlot(height, prepared.view);
  return statementHead(VIEW_CHANGE_DOMAIN, chainId, height, newView, 1 + 4 + HASH_BYTES).u8(1).u32(prepared.view).bytes(prepared.hash).finish();
}

/** A finalized height: the proposal and the two certificates that finalized it. */
export interface FinalityRecord {
  readonly height: number;
  readonly view: number;
  readonly proposal: Uint8Array;
  readonly prepareCert: CollectiveSignature;
  readonly commitCert: CollectiveSignature;
}

let offlineVerifier: Ed25519Verifier | undefined;

/**
 * Offline finality check: the prepare certificate signs the prepare digest and the commit
 * certificate the commit digest of (chain, height, view, H(proposal)), each by at least
 * n − ⌊(n−1)/3⌋ of `participants` (registry order). False for a wrong proof; IosError for
 * malformed arguments.
 */
export function verifyFinality(participants: readonly Uint8Array[], chainId: Uint8Array, record: FinalityRecord, verifier?: Ed25519Verifier, hashProposal: ProposalHasher = proposalHash): boolean {
  check(Array.isArray(participants) && participants.length >= 1, "BFT_BAD_INPUT", "participants must be a non-empty array of keys");
  check(typeof record === "object" && record !== null, "BFT_BAD_INPUT", "record must be a FinalityRecord");
  check(record.proposal instanceof Uint8Array, "BFT_BAD_INPUT", "record.proposal must be bytes");
  checkSlot(record.height, record.view);
  const v = verifier ?? (offlineVerifier ??= new Ed25519Verifier());
  const threshold = cosiThreshold(participants.length);
  const hash = hashProposal(record.proposal);
  if (!verifyCollectiveSignature(participants, prepareDigest(chainId, record.height, record.view, hash), record.prepareCert, threshold, v)) return false;
  const commit = commitDigest(chainId, record.height, record.view, hash, record.prepareCert, participants.length);
  return verifyCollectiveSignature(participants, commit, record.commitCert, threshold, v);
}

/** A signed VIEW-CHANGE; `proposal` travels only to the new leader, never inside a NEW-VIEW proof. */
export interface ViewChange {
  readonly height: number;
  readonly newView: number;
  readonly signer: number;
  readonly prepared: PreparedCertificate | undefined;
  readonly signature: Uint8Array;
  readonly proposal: Uint8Array | undefined;
}

/** Checks the signer's signature and, if present, the prepare certificate (from an earlier view). */
export function verifyViewChange(participants: readonly Uint8Array[], chainId: Uint8Array, vc: ViewChange, verifier: Ed25519Verifier, hashProposal: ProposalHasher = proposalHash): boolean {
  if (vc.signer >= participants.length) return false;
  const statement = viewChangeStatement(chainId, vc.height, vc.newView, vc.prepared);
  if (!verifier.verify(vc.signature, statement, participants[vc.signer]!)) return false;
  if (vc.prepared === undefined) return vc.proposal === undefined;
  if (vc.prepared.view >= vc.newView) return false;
  if (vc.proposal !== undefined && !sameBytes(hashProposal(vc.proposal), vc.prepared.hash)) return false;
  const digest = prepareDigest(chainId, vc.height, vc.prepared.view, vc.prepared.hash);
  return verifyCollectiveSignature(participants, digest, vc.prepared.cert, cosiThreshold(participants.length), verifier);
}

// ——— wire formats ———

/** Encoded size of a view change; `withProposal` false inside a NEW-VIEW proof. */
function viewChangeBytes(vc: ViewChange, count: number, withProposal: boolean): number {
  const prepared = vc.prepared === undefined ? 0 : 4 + HASH_BYTES + collectiveSignatureBytes(count);
  const proposal = withProposal && vc.proposal !== undefined ? U32_LENGTH_BYTES + vc.proposal.length : 0;
  return SLOT.bytes + 2 + 1 + prepared + SIGNATURE_BYTES + 1 + proposal;
}

function writeViewChange(writer: BinaryWriter, vc: ViewChange, count: number, withProposal: boolean): BinaryWriter {
  writer.u64(vc.height).u32(vc.newView).u16(vc.signer);
  if (vc.prepared === undefined) writer.u8(0);
  else writeCollectiveSignature(writer.u8(1).u32(vc.prepared.view).bytes(vc.prepared.hash), vc.prepared.cert, count);
  writer.bytes(vc.signature);
  return withProposal && vc.proposal !== undefined ? writer.u8(1).lengthPrefixed("u32", vc.proposal) : writer.u8(0);
}

/** `maxProposalBytes` undefined: the view change may not carry a proposal (inside a NEW-VIEW proof). */
function readViewChange(reader: BinaryReader<BftErrorCode>, count: number, maxProposalBytes: number | undefined): ViewChange {
  const height = reader.u53("VIEW_CHANGE height");
  const newView = reader.u32("VIEW_CHANGE view");
  const signer = reader.u16("VIEW_CHANGE signer");
  if (signer >= count) throw bad(`VIEW_CHANGE signer ${signer} outside a registry of ${count}`);
  const flag = reader.u8("VIEW_CHANGE prepared flag");
  if (flag > 1) throw bad(`VIEW_CHANGE prepared flag ${flag} is neither 0 nor 1`);
  const prepared =
    flag === 1 ? { view: reader.u32("VIEW_CHANGE prepared view"), hash: reader.bytes(HASH_BYTES, "VIEW_CHANGE hash").slice(), cert: readCertificate(reader, count, "VIEW_CHANGE") } : undefined;
  const signature = reader.bytes(SIGNATURE_BYTES, "VIEW_CHANGE signature").slice();
  const carries = reader.u8("VIEW_CHANGE proposal flag");
  if (carries > 1) throw bad(`VIEW_CHANGE proposal flag ${carries} is neither 0 nor 1`);
  if (carries === 1 && prepared === undefined) throw bad("VIEW_CHANGE carries a proposal without a prepare certificate");
  if (carries === 1 && maxProposalBytes === undefined) throw bad("a view change inside a NEW-VIEW proof carries a proposal");
  const proposal = carries === 1 ? reader.lengthPrefixed("u32", maxProposalBytes!, "VIEW_CHANGE proposal").slice() : undefined;
  return { height, newView, signer, prepared, signature, proposal };
}

export function encodeViewChange(vc: ViewChange, count: number): Uint8Array {
  return writeViewChange(BinaryWriter.ofSize(viewChangeBytes(vc, count, true)), vc, count, true).finish();
}

export function decodeViewChange(payload: Uint8Array, count: number, maxProposalBytes: number): ViewChange {
  const reader = messageReader(payload, "VIEW_CHANGE");
  const vc = readViewChange(reader, count, maxProposalBytes);
  reader.expectEnd("VIEW_CHANGE");
  return vc;
}

export interface Propose {
  readonly height: number;
  readonly view: number;
  readonly proposal: Uint8Array;
  /** The NEW-VIEW proof: 2f + 1 signed view changes to `view` (empty in view 0). */
  readonly justification: readonly ViewChange[];
}

export function encodePropose(message: Propose, count: number): Uint8Array {
  const proofBytes = message.justification.reduce((sum, vc) => sum + U32_LENGTH_BYTES + viewChangeBytes(vc, count, false), 0);
  const writer = BinaryWriter.ofSize(SLOT.bytes + U32_LENGTH_BYTES + message.proposal.length + 2 + proofBytes)
    .u64(message.height)
    .u32(message.view)
    .lengthPrefixed("u32", message.proposal)
    .u16(message.justification.length);
  for (const vc of message.justification) writeViewChange(writer.u32(viewChangeBytes(vc, count, false)), vc, count, false);
  return writer.finish();
}

export function decodePropose(payload: Uint8Array, count: number, maxProposalBytes: number): Propose {
  const reader = messageReader(payload, "PROPOSE");
  const height = reader.u53("PROPOSE height");
  const view = reader.u32("PROPOSE view");
  const proposal = reader.lengthPrefixed("u32", maxProposalBytes, "PROPOSE proposal").slice();
  const k = reader.u16("PROPOSE view change count");
  if (k > count) throw bad(`PROPOSE carries ${k} view changes for a registry of ${count}`);
  const justification: ViewChange[] = [];
  for (let i = 0; i < k; i++) {
    const entry = reader.lengthPrefixed("u32", payload.length, "PROPOSE view change");
    const inner = new BinaryReader(entry, MESSAGE_CODES);
    justification.push(readViewChange(inner, count, undefined));
    inner.expectEnd("a PROPOSE view change");
  }
  reader.expectEnd("PROPOSE");
  return { height, view, proposal, justification };
}

export interface Prepared {
  readonly height: number;
  readonly view: number;
  readonly hash: Uint8Array;
  readonly cert: CollectiveSignature;
}

export function encodePrepared(message: Prepared, count: number): Uint8Array {
  const writer = BinaryWriter.ofSize(SLOT.bytes + HASH_BYTES + collectiveSignatureBytes(count)).u64(message.height).u32(message.view).bytes(message.hash);
  return writeCollectiveSignature(writer, message.cert, count).finish();
}

export function decodePrepared(payload: Uint8Array, count: number): Prepared {
  const reader = messageReader(payload, "PREPARED");
  const message = {
    height: reader.u53("PREPARED height"),
    view: reader.u32("PREPARED view"),
    hash: reader.bytes(HASH_BYTES, "PREPARED hash").slice(),
    cert: readCertificate(reader, count, "PREPARED"),
  };
  reader.expectEnd("PREPARED");
  return message;
}

/** The FINALIZED message, and the storable form of a finality proof. */
export function encodeFinalityRecord(record: FinalityRecord, count: number): Uint8Array {
  const writer = BinaryWriter.ofSize(SLOT.bytes + U32_LENGTH_BYTES + record.proposal.length + 2 * collectiveSignatureBytes(count))
    .u64(record.height)
    .u32(record.view)
    .lengthPrefixed("u32", record.proposal);
  return writeCollectiveSignature(writeCollectiveSignature(writer, record.prepareCert, count), record.commitCert, count).finish();
}

export function decodeFinalityRecord(payload: Uint8Array, count: number, maxProposalBytes: number): FinalityRecord {
  const reader = messageReader(payload, "FINALIZED");
  const record = {
    height: reader.u53("FINALIZED height"),
    view: reader.u32("FINALIZED view"),
    proposal: reader.lengthPrefixed("u32", maxProposalBytes, "FINALIZED proposal").slice(),
    prepareCert: readCertificate(reader, count, "FINALIZED prepare"),
    commitCert: readCertificate(reader, count, "FINALIZED commit"),
  };
  reader.expectEnd("FINALIZED");
  return record;
}

export interface Fetch {
  readonly fromHeight: number;
  readonly count: number;
}

const FETCH = layout({ fromHeight: 8, count: 2 });

export function encodeFetch(message: Fetch): Uint8Array {
  return BinaryWriter.ofSize(FETCH.bytes).u64(message.fromHeight).u16(message.count).finish();
}

export function decodeFetch(payload: Uint8Array): Fetch {
  const reader = messageReader(payload, "FETCH");
  reader.expectRemaining(FETCH.bytes, "FETCH");
  const message = { fromHeight: reader.u53("FETCH height"), count: reader.u16("FETCH count") };
  if (message.count < 1 || message.count > MAX_FETCH_COUNT) throw bad(`FETCH count must be in [1, ${MAX_FETCH_COUNT}], got ${message.count}`);
  return message;
}
