/**
 * Wire formats of CoSi (src/consensus/cosi/protocol.ts) and of the collective signature it
 * produces. All integers are little-endian; every decoder is strict (exact lengths, masks with
 * no bit past n, canonical scalars) and throws IosError<CosiErrorCode>.
 *
 *   header      session id (32) ‖ attempt u8
 *   ANNOUNCE    header ‖ leader index u16 ‖ round u64 ‖ mode u8 (0 tree, 1 star) ‖ fanout u8 ‖
 *               n u16 ‖ invited mask ‖ message length u32 ‖ message
 *   COMMIT      header ‖ subtree mask ‖ aggregate commitment V (32)
 *   CHALLENGE   header ‖ final mask ‖ aggregate commitment V (32)
 *   RESPONSE    header ‖ responders' mask ‖ aggregate response r (32)
 *   CollectiveSignature   n u16 ‖ mask ‖ Ed25519 signature (V ‖ r, 64)
 *
 * Message types: offsets 0x20–0x23 of the consensus range of src/net/message-types.ts (0x30–0x33),
 * leaving 0x10–0x2f and 0x34–0x3f to BFT, PoB and evidence.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { IosError, check } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { isCanonicalScalar } from "../../crypto/schnorr.js";
import { messageType } from "../../net/message-types.js";
import { isWellFormedMask, maskBytes, popcount } from "./mask.js";
import type { CosiMode } from "./tree.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { HASH_BYTES, POINT_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";

export type CosiErrorCode =
  | "COSI_BAD_CONFIG"
  | "COSI_BAD_INPUT"
  | "COSI_BAD_MESSAGE"
  | "COSI_BAD_SIGNATURE_ENCODING"
  | "COSI_SESSION_OPEN";

export const COSI_MESSAGES = {
  ANNOUNCE: messageType("consensus", 0x20),
  COMMIT: messageType("consensus", 0x21),
  CHALLENGE: messageType("consensus", 0x22),
  RESPONSE: messageType("consensus", 0x23),
} as const;

export const SESSION_ID_BYTES = 32;
/** Every message starts with the session id and the attempt. */
const HEADER = layout({ session: SESSION_ID_BYTES, attempt: 1 });
/** ANNOUNCE's fixed fields after the header, before the invited mask. */
const ANNOUNCE_FIXED = layout({ leaderIndex: 2, round: 8, mode: 1, fanout: 1, count: 2 });
/** Attempts are numbered by one byte on the wire. */
export const MAX_ATTEMPTS = 255;
export const MAX_PARTICIPANTS = 0xffff;
const SESSION_DOMAIN = new TextEncoder().encode("IOSChain/cosi/session/v1");
const SESSION_INPUT = layout({ domain: SESSION_DOMAIN.length, leaderKey: PUBLIC_KEY_BYTES, round: 8, messageHash: HASH_BYTES });
const MESSAGE_CODES = singleCode<CosiErrorCode>("COSI_BAD_MESSAGE");
const SIGNATURE_ENCODING_CODES = singleCode<CosiErrorCode>("COSI_BAD_SIGNATURE_ENCODING");

function bad(message: string): IosError<CosiErrorCode> {
  return new IosError<CosiErrorCode>("COSI_BAD_MESSAGE", message);
}

/** Session id = SHA-256("IOSChain/cosi/session/v1" ‖ leader key ‖ round u64 ‖ SHA-256(message)). */
export function sessionId(leaderKey: Uint8Array, round: number, message: Uint8Array): Uint8Array {
  return sha256(BinaryWriter.ofSize(SESSION_INPUT.bytes).bytes(SESSION_DOMAIN).bytes(leaderKey).u64(round).bytes(sha256(message)).finish());
}

export interface Header {
  readonly session: Uint8Array;
  readonly attempt: number;
}

export interface Announce extends Header {
  readonly leaderIndex: number;
  readonly round: number;
  readonly mode: CosiMode;
  readonly fanout: number;
  readonly count: number;
  readonly invited: Uint8Array;
  readonly message: Uint8Array;
}

/** COMMIT, CHALLENGE and RESPONSE share one shape: a mask and a 32-byte value. */
export interface MaskedValue extends Header {
  readonly mask: Uint8Array;
  readonly value: Uint8Array;
}

function headerWriter(size: number, header: Header): BinaryWriter {
  return BinaryWriter.ofSize(size).bytes(header.session).u8(header.attempt);
}

/** A reader past the header of `payload`, and the header (fields copied: sessions keep them). */
function readHeader(payload: Uint8Array): { reader: BinaryReader<CosiErrorCode>; header: Header } {
  if (!(payload instanceof Uint8Array)) throw bad("a CoSi message must be a Uint8Array");
  const reader = new BinaryReader(payload, MESSAGE_CODES);
  reader.need(HEADER.bytes, "the message header");
  return { reader, header: { session: reader.bytes(SESSION_ID_BYTES).slice(), attempt: reader.u8() } };
}

/** Session id and attempt of any CoSi message, without decoding the rest. */
export function decodeHeader(payload: Uint8Array): Header {
  return readHeader(payload).header;
}

export function encodeAnnounce(announce: Announce): Uint8Array {
  const size = HEADER.bytes + ANNOUNCE_FIXED.bytes + maskBytes(announce.count) + 4 + announce.message.length;
  return headerWriter(size, announce)
    .u16(announce.leaderIndex)
    .u64(announce.round)
    .u8(announce.mode === "tree" ? 0 : 1)
    .u8(announce.fanout)
    .u16(announce.count)
    .bytes(announce.invited)
    .lengthPrefixed("u32", announce.message)
    .finish();
}

export function decodeAnnounce(payload: Uint8Array, maxMessageBytes: number): Announce {
  const { reader, header } = readHeader(payload);
  reader.need(ANNOUNCE_FIXED.bytes, "ANNOUNCE");
  const leaderIndex = reader.u16("leader index");
  const round = reader.u53("ANNOUNCE round");
  const modeByte = reader.u8();
  if (modeByte > 1) throw bad(`ANNOUNCE mode ${modeByte} is neither tree (0) nor star (1)`);
  const fanout = reader.u8();
  const count = reader.u16();
  const invited = reader.bytes(maskBytes(count), "ANNOUNCE invited mask").slice();
  reader.need(4, "ANNOUNCE message length");
  if (!isWellFormedMask(invited, count)) throw bad("ANNOUNCE invited mask has bits past n");
  const message = reader.lengthPrefixed("u32", maxMessageBytes, "ANNOUNCE message").slice();
  reader.expectEnd("the ANNOUNCE message");
  return { ...header, leaderIndex, round, mode: modeByte === 0 ? "tree" : "star", fanout, count, invited, message };
}

export function encodeMaskedValue(header: Header, mask: Uint8Array, value: Uint8Array): Uint8Array {
  return headerWriter(HEADER.bytes + mask.length + POINT_BYTES, header).bytes(mask).bytes(value).finish();
}

/** COMMIT / CHALLENGE / RESPONSE for `count` participants; a RESPONSE value must be a canonical scalar. */
export function decodeMaskedValue(payload: Uint8Array, count: number, kind: "point" | "scalar"): MaskedValue {
  const { reader, header } = readHeader(payload);
  const maskLength = maskBytes(count);
  reader.expectRemaining(maskLength + POINT_BYTES, `a mask and a value for n = ${count}`);
  const mask = reader.bytes(maskLength).slice();
  if (!isWellFormedMask(mask, count)) throw bad("mask has bits past n");
  const value = reader.bytes(POINT_BYTES).slice();
  if (kind === "scalar" && !isCanonicalScalar(value)) throw bad("response scalar is not below L");
  return { ...header, mask, value };
}

/** The outcome of CoSi: who signed (bit i = registry index i) and the Ed25519 signature (V ‖ r). */
export interface CollectiveSignature {
  readonly mask: Uint8Array;
  readonly signature: Uint8Array;
}

/** Bytes of a collective signature for `count` participants: n u16 ‖ mask ‖ signature. */
export function collectiveSignatureBytes(count: number): number {
  return 2 + maskBytes(count) + SIGNATURE_BYTES;
}

/** Writes `cs` (already checked by encodeCollectiveSignature's rules) for `count` participants. */
export function writeCollectiveSignature(writer: BinaryWriter, cs: CollectiveSignature, count: number): BinaryWriter {
  check(Number.isInteger(count) && count >= 1 && count <= MAX_PARTICIPANTS, "COSI_BAD_INPUT", `n must be in [1, ${MAX_PARTICIPANTS}]`);
  check(isWellFormedMask(cs.mask, count), "COSI_BAD_INPUT", `mask must be ${maskBytes(count)} bytes with no bit past n`);
  check(cs.signature instanceof Uint8Array && cs.signature.length === SIGNATURE_BYTES, "COSI_BAD_INPUT", `signature must be ${SIGNATURE_BYTES} bytes`);
  return writer.u16(count).bytes(cs.mask).bytes(cs.signature);
}

export function encodeCollectiveSignature(cs: CollectiveSignature, count: number): Uint8Array {
  check(Number.isInteger(count) && count >= 1 && count <= MAX_PARTICIPANTS, "COSI_BAD_INPUT", `n must be in [1, ${MAX_PARTICIPANTS}]`);
  return writeCollectiveSignature(BinaryWriter.ofSize(collectiveSignatureBytes(count)), cs, count).finish();
}

/** Decodes and returns the signature with the n it was made for. */
export function decodeCollectiveSignature(bytes: Uint8Array): CollectiveSignature & { count: number } {
  if (!(bytes instanceof Uint8Array)) throw new IosError<CosiErrorCode>("COSI_BAD_SIGNATURE_ENCODING", "a collective signature must be a Uint8Array");
  const reader = new BinaryReader(bytes, SIGNATURE_ENCODING_CODES);
  const count = reader.u16("collective signature length field");
  if (count === 0) reader.fail("COSI_BAD_SIGNATURE_ENCODING", "collective signature for zero participants");
  reader.expectRemaining(maskBytes(count) + SIGNATURE_BYTES, `the mask and signature for n = ${count}`);
  const mask = reader.bytes(maskBytes(count)).slice();
  if (!isWellFormedMask(mask, count)) reader.fail("COSI_BAD_SIGNATURE_ENCODING", "mask has bits past n");
  return { count, mask, signature: reader.bytes(SIGNATURE_BYTES).slice() };
}

/** n − ⌊(n−1)/3⌋: 2f + 1 for n = 3f + 1, and in general the smallest quorum two of which share an honest member. */
export function cosiThreshold(count: number): number {
  check(Number.isInteger(count) && count >= 1, "COSI_BAD_INPUT", `n must be a positive integer, got ${String(count)}`);
  return count - Math.floor((count - 1) / 3);
}

let offlineVerifier: Ed25519Verifier | undefined;

/**
 * Offline check of a collective signature: the mask has ≥ `threshold` signers and the signature
 * is a valid Ed25519 signature (ZIP-215, WASM) of `message` under the sum of their registered
 * keys. False for a well-typed but wrong signature; IosError for malformed arguments.
 */
export function verifyCollectiveSignature(
  registryKeys: readonly Uint8Array[],
  message: Uint8Array,
  cs: CollectiveSignature,
  threshold: number = cosiThreshold(registryKeys.length),
  verifier?: Ed25519Verifier,
): boolean {
  check(Array.isArray(registryKeys) && registryKeys.length >= 1, "COSI_BAD_INPUT", "registryKeys must be a non-empty array");
  check(message instanceof Uint8Array, "COSI_BAD_INPUT", "message must be a Uint8Array");
  check(typeof cs === "object" && cs !== null, "COSI_BAD_INPUT", "cs must be a CollectiveSignature");
  check(Number.isInteger(threshold) && threshold >= 1, "COSI_BAD_INPUT", `threshold must be a positive integer, got ${String(threshold)}`);
  if (!(cs.mask instanceof Uint8Array) || !isWellFormedMask(cs.mask, registryKeys.length)) return false;
  if (!(cs.signature instanceof Uint8Array) || cs.signature.length !== SIGNATURE_BYTES) return false;
  if (popcount(cs.mask) < threshold) return false;
  const v = verifier ?? (offlineVerifier ??= new Ed25519Verifier());
  return v.verify(cs.signature, message, v.aggregateKeys(registryKeys, cs.mask));
}
