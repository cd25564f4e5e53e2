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
import { SIGNATURE_BYTES } from "../../codec/sizes.js";

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
const HEADER_BYTES = SESSION_ID_BYTES + 1;
/** Attempts are numbered by one byte on the wire. */
export const MAX_ATTEMPTS = 255;
export const MAX_PARTICIPANTS = 0xffff;
const SESSION_DOMAIN = new TextEncoder().encode("IOSChain/cosi/session/v1");

function bad(message: string): IosError<CosiErrorCode> {
  return new IosError<CosiErrorCode>("COSI_BAD_MESSAGE", message);
}

/** Session id = SHA-256("IOSChain/cosi/session/v1" ‖ leader key ‖ round u64 ‖ SHA-256(message)). */
export function sessionId(leaderKey: Uint8Array, round: number, message: Uint8Array): Uint8Array {
  const input = new Uint8Array(SESSION_DOMAIN.length + 32 + 8 + 32);
  input.set(SESSION_DOMAIN, 0);
  input.set(leaderKey, SESSION_DOMAIN.length);
  new DataView(input.buffer).setBigUint64(SESSION_DOMAIN.length + 32, BigInt(round), true);
  input.set(sha256(message), SESSION_DOMAIN.length + 40);
  return sha256(input);
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

function writeHeader(out: Uint8Array, header: Header): void {
  out.set(header.session, 0);
  out[SESSION_ID_BYTES] = header.attempt;
}

/** Session id and attempt of any CoSi message, without decoding the rest. */
export function decodeHeader(payload: Uint8Array): Header {
  if (!(payload instanceof Uint8Array) || payload.length < HEADER_BYTES) throw bad(`message shorter than its ${HEADER_BYTES}-byte header`);
  return { session: payload.slice(0, SESSION_ID_BYTES), attempt: payload[SESSION_ID_BYTES]! };
}

export function encodeAnnounce(announce: Announce): Uint8Array {
  const maskLength = maskBytes(announce.count);
  const out = new Uint8Array(HEADER_BYTES + 2 + 8 + 1 + 1 + 2 + maskLength + 4 + announce.message.length);
  const view = new DataView(out.buffer);
  writeHeader(out, announce);
  let offset = HEADER_BYTES;
  view.setUint16(offset, announce.leaderIndex, true);
  view.setBigUint64(offset + 2, BigInt(announce.round), true);
  out[offset + 10] = announce.mode === "tree" ? 0 : 1;
  out[offset + 11] = announce.fanout;
  view.setUint16(offset + 12, announce.count, true);
  offset += 14;
  out.set(announce.invited, offset);
  offset += maskLength;
  view.setUint32(offset, announce.message.length, true);
  out.set(announce.message, offset + 4);
  return out;
}

export function decodeAnnounce(payload: Uint8Array, maxMessageBytes: number): Announce {
  const { session, attempt } = decodeHeader(payload);
  const fixed = HEADER_BYTES + 14;
  if (payload.length < fixed) throw bad("ANNOUNCE truncated");
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const leaderIndex = view.getUint16(HEADER_BYTES, true);
  const round = view.getBigUint64(HEADER_BYTES + 2, true);
  if (round > BigInt(Number.MAX_SAFE_INTEGER)) throw bad("ANNOUNCE round exceeds 2^53 - 1");
  const modeByte = payload[HEADER_BYTES + 10]!;
  if (modeByte > 1) throw bad(`ANNOUNCE mode ${modeByte} is neither tree (0) nor star (1)`);
  const fanout = payload[HEADER_BYTES + 11]!;
  const count = view.getUint16(HEADER_BYTES + 12, true);
  const maskLength = maskBytes(count);
  if (payload.length < fixed + maskLength + 4) throw bad("ANNOUNCE truncated");
  const invited = payload.slice(fixed, fixed + maskLength);
  if (!isWellFormedMask(invited, count)) throw bad("ANNOUNCE invited mask has bits past n");
  const messageLength = view.getUint32(fixed + maskLength, true);
  if (messageLength > maxMessageBytes) throw bad(`ANNOUNCE message of ${messageLength} bytes exceeds ${maxMessageBytes}`);
  if (payload.length !== fixed + maskLength + 4 + messageLength) throw bad("ANNOUNCE length does not match its message length");
  const message = payload.slice(fixed + maskLength + 4);
  return { session, attempt, leaderIndex, round: Number(round), mode: modeByte === 0 ? "tree" : "star", fanout, count, invited, message };
}

export function encodeMaskedValue(header: Header, mask: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + mask.length + 32);
  writeHeader(out, header);
  out.set(mask, HEADER_BYTES);
  out.set(value, HEADER_BYTES + mask.length);
  return out;
}

/** COMMIT / CHALLENGE / RESPONSE for `count` participants; a RESPONSE value must be a canonical scalar. */
export function decodeMaskedValue(payload: Uint8Array, count: number, kind: "point" | "scalar"): MaskedValue {
  const { session, attempt } = decodeHeader(payload);
  const maskLength = maskBytes(count);
  if (payload.length !== HEADER_BYTES + maskLength + 32) throw bad(`message must be ${HEADER_BYTES + maskLength + 32} bytes for n = ${count}`);
  const mask = payload.slice(HEADER_BYTES, HEADER_BYTES + maskLength);
  if (!isWellFormedMask(mask, count)) throw bad("mask has bits past n");
  const value = payload.slice(HEADER_BYTES + maskLength);
  if (kind === "scalar" && !isCanonicalScalar(value)) throw bad("response scalar is not below L");
  return { session, attempt, mask, value };
}

/** The outcome of CoSi: who signed (bit i = registry index i) and the Ed25519 signature (V ‖ r). */
export interface CollectiveSignature {
  readonly mask: Uint8Array;
  readonly signature: Uint8Array;
}

export function encodeCollectiveSignature(cs: CollectiveSignature, count: number): Uint8Array {
  check(Number.isInteger(count) && count >= 1 && count <= MAX_PARTICIPANTS, "COSI_BAD_INPUT", `n must be in [1, ${MAX_PARTICIPANTS}]`);
  check(isWellFormedMask(cs.mask, count), "COSI_BAD_INPUT", `mask must be ${maskBytes(count)} bytes with no bit past n`);
  check(cs.signature instanceof Uint8Array && cs.signature.length === SIGNATURE_BYTES, "COSI_BAD_INPUT", `signature must be ${SIGNATURE_BYTES} bytes`);
  const out = new Uint8Array(2 + cs.mask.length + SIGNATURE_BYTES);
  new DataView(out.buffer).setUint16(0, count, true);
  out.set(cs.mask, 2);
  out.set(cs.signature, 2 + cs.mask.length);
  return out;
}

/** Decodes and returns the signature with the n it was made for. */
export function decodeCollectiveSignature(bytes: Uint8Array): CollectiveSignature & { count: number } {
  const fail = (why: string) => new IosError<CosiErrorCode>("COSI_BAD_SIGNATURE_ENCODING", why);
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw fail("collective signature shorter than its length field");
  const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(0, true);
  if (count === 0) throw fail("collective signature for zero participants");
  const maskLength = maskBytes(count);
  if (bytes.length !== 2 + maskLength + SIGNATURE_BYTES) throw fail(`collective signature for n = ${count} must be ${2 + maskLength + SIGNATURE_BYTES} bytes`);
  const mask = bytes.slice(2, 2 + maskLength);
  if (!isWellFormedMask(mask, count)) throw fail("mask has bits past n");
  return { count, mask, signature: bytes.slice(2 + maskLength) };
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
