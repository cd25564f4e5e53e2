/**
 * The six messages of the DRP run (white paper §5.2, Algorithm 2), each signed by its sender with
 * Ed25519; client messages carry the session id H(C), server responses the hash of the client
 * message they answer (§5.1: non-authentic or replayed messages are ignored).
 *
 *   announce   l1    client → all   step 1c  H(C) ‖ C (the servers learn T, u, w from C)
 *   deal       R1_i  server → client step 2d  H(l1) ‖ V_i ‖ PVSS deal for its group (pvss.ts)
 *   choice     l2    client → all   step 3e  H(C) ‖ T' ‖ committed mask ‖ their V_i ‖ chosen deals
 *   response   R2_i  server → client step 4c  H(l2) ‖ r_i
 *   reveal     l3    client → all   step 5c  H(C) ‖ signer mask ‖ r
 *   decryption R3_i  server → client step 6d  H(l3) ‖ decrypted shares of the chosen deals
 *
 * l2 is one broadcast rather than one message per trustee: it forwards each chosen dealer's whole
 * deal (commitments and encrypted shares), from which a trustee recomputes its H^{s_ji} itself,
 * and the Schnorr commitments V_i, so that every server can check the collective signature of l3.
 *
 * Envelope (little-endian, strict, DRP_MALFORMED on any structural fault):
 *   u8 kind ‖ u16 sender ‖ u32 |body| ‖ body ‖ Ed25519 signature 64
 * sender 0xffff is the client, otherwise the server index; the signature covers
 * "IOSChain/drp/message/v1" ‖ everything before it; a message's hash, the response identifier,
 * is SHA-256("IOSChain/drp/message-hash/v1" ‖ the whole envelope). Masks are ⌈n/8⌉ bytes, bit i
 * (LSB first in byte i >> 3) for server i, no bit at or past n. Lists of servers are strictly
 * ascending, so each message has one encoding.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { HASH_BYTES, POINT_BYTES, SCALAR_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { isCanonicalScalar } from "../../crypto/schnorr.js";
import { sha256 } from "../../crypto/sha256.js";
import { check } from "../../errors.js";
import { signMessage } from "../../ledger/keys.js";
import { SESSION_ID_BYTES } from "./config.js";
import { edwardsPoint } from "./cosign.js";
import type { DrpErrorCode } from "./errors.js";
import { DECRYPTED_SHARE_BYTES, checkDealFraming, decodeDeal, decodeDecryptedShare, encodeDecryptedShare, type Deal, type DecryptedShare } from "./pvss.js";

export const MessageKind = { announce: 1, deal: 2, choice: 3, response: 4, reveal: 5, decryption: 6 } as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];
/** The sender field of client messages; server indexes are below it. */
export const CLIENT_SENDER = 0xffff;
/** u8 kind ‖ u16 sender ‖ u32 body length. */
const ENVELOPE_HEADER_BYTES = 7;

const SIGNING_DOMAIN = new TextEncoder().encode("IOSChain/drp/message/v1");
const HASH_DOMAIN = new TextEncoder().encode("IOSChain/drp/message-hash/v1");
const CODES = singleCode<DrpErrorCode>("DRP_MALFORMED");

export interface SignedMessage {
  readonly kind: MessageKind;
  readonly sender: number;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
  /** The whole envelope, as sent and recorded. */
  readonly bytes: Uint8Array;
}

function isClientKind(kind: MessageKind): boolean {
  return kind === MessageKind.announce || kind === MessageKind.choice || kind === MessageKind.reveal;
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Signs `body` as a `kind` message of `sender` under the Ed25519 seed `secretKey`. */
export function signEnvelope(kind: MessageKind, sender: number, body: Uint8Array, secretKey: Uint8Array): SignedMessage {
  const unsigned = BinaryWriter.ofSize(ENVELOPE_HEADER_BYTES + body.length).u8(kind).u16(sender).u32(body.length).bytes(body).finish();
  const signature = signMessage(secretKey, concat(SIGNING_DOMAIN, unsigned));
  return { kind, sender, body, signature, bytes: concat(unsigned, signature) };
}

/** The envelope's structure: a known kind, a sender that fits the kind, exact length. */
export function decodeEnvelope(bytes: Uint8Array): SignedMessage {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  const kind = reader.u8("message kind");
  check<DrpErrorCode>(kind >= MessageKind.announce && kind <= MessageKind.decryption, "DRP_MALFORMED", `unknown message kind ${kind}`);
  const sender = reader.u16("sender");
  check<DrpErrorCode>(
    isClientKind(kind as MessageKind) === (sender === CLIENT_SENDER),
    "DRP_MALFORMED",
    `a kind ${kind} message cannot come from sender ${sender}`,
  );
  const body = reader.lengthPrefixed("u32", bytes.length, "message body");
  const signature = reader.bytes(SIGNATURE_BYTES, "signature");
  reader.expectEnd("the message");
  return { kind: kind as MessageKind, sender, body, signature, bytes };
}

let signatureVerifier: Ed25519Verifier | undefined;

/** Whether the message's signature verifies under `publicKey` (ZIP-215, WASM). */
export function isAuthentic(message: SignedMessage, publicKey: Uint8Array): boolean {
  const unsigned = message.bytes.subarray(0, message.bytes.length - SIGNATURE_BYTES);
  return (signatureVerifier ??= new Ed25519Verifier()).verify(message.signature, concat(SIGNING_DOMAIN, unsigned), publicKey);
}

/** The response identifier of a client message: the hash its answers carry. */
export function messageHash(message: SignedMessage): Uint8Array {
  return sha256(concat(HASH_DOMAIN, message.bytes));
}

function maskBytes(serverCount: number): number {
  return Math.ceil(serverCount / 8);
}

function writeMask(writer: BinaryWriter, members: readonly number[], serverCount: number): void {
  const mask = new Uint8Array(maskBytes(serverCount));
  for (const member of members) mask[member >> 3]! |= 1 << (member & 7);
  writer.bytes(mask);
}

function readMask(reader: BinaryReader<DrpErrorCode>, serverCount: number, what: string): number[] {
  const mask = reader.bytes(maskBytes(serverCount), what);
  const members: number[] = [];
  for (let bit = 0; bit < mask.length * 8; bit++) {
    if ((mask[bit >> 3]! & (1 << (bit & 7))) === 0) continue;
    check<DrpErrorCode>(bit < serverCount, "DRP_MALFORMED", `${what} has bit ${bit} past n = ${serverCount}`);
    members.push(bit);
  }
  return members;
}

function readEd25519Point(reader: BinaryReader<DrpErrorCode>, what: string): Uint8Array {
  const bytes = reader.bytes(POINT_BYTES, what).slice();
  try {
    edwardsPoint(bytes);
  } catch {
    reader.fail("DRP_MALFORMED", `${what} is not a canonical Ed25519 point`);
  }
  return bytes;
}

function readServerList(reader: BinaryReader<DrpErrorCode>, serverCount: number, what: string): number[] {
  const count = reader.u16(`${what} count`);
  const list = Array.from({ length: count }, () => reader.u16(what));
  list.forEach((server, k) =>
    check<DrpErrorCode>(server < serverCount && (k === 0 || list[k - 1]! < server), "DRP_MALFORMED", `${what} is not an ascending list of servers`),
  );
  return list;
}

export interface Announce {
  readonly sessionId: Uint8Array;
  /** The encoded configuration C. */
  readonly config: Uint8Array;
}

export function encodeAnnounce(announce: Announce): Uint8Array {
  return BinaryWriter.ofSize(SESSION_ID_BYTES + announce.config.length).bytes(announce.sessionId).bytes(announce.config).finish();
}

export function decodeAnnounce(body: Uint8Array): Announce {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  return { sessionId: reader.bytes(SESSION_ID_BYTES, "session id"), config: reader.bytes(reader.remaining, "configuration") };
}

export interface DealMessage {
  readonly replyTo: Uint8Array;
  /** V_i, the Schnorr commitment (Ed25519 point). */
  readonly commitment: Uint8Array;
  /** The encoded deal, as forwarded in l2. */
  readonly dealBytes: Uint8Array;
  readonly deal: Deal;
}

export function encodeDealMessage(replyTo: Uint8Array, commitment: Uint8Array, dealBytes: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(HASH_BYTES + POINT_BYTES + dealBytes.length).bytes(replyTo).bytes(commitment).bytes(dealBytes).finish();
}

export function decodeDealMessage(body: Uint8Array): DealMessage {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  const replyTo = reader.bytes(HASH_BYTES, "response hash");
  const commitment = readEd25519Point(reader, "Schnorr commitment");
  const dealBytes = reader.bytes(reader.remaining, "deal");
  return { replyTo, commitment, dealBytes, deal: decodeDeal(dealBytes) };
}

export interface Choice {
  readonly sessionId: Uint8Array;
  /** T'_l per group: chosen dealers, ascending. */
  readonly chosen: readonly (readonly number[])[];
  /** The servers whose commitments V_i enter V, ascending. */
  readonly committed: readonly number[];
  /** V_i of each committed server, in that order. */
  readonly commitments: readonly Uint8Array[];
  /** The encoded deal of each chosen dealer, in the order of `chosen` flattened. */
  readonly deals: readonly Uint8Array[];
}

/** The encoding of T' alone: what the collective signature signs (with V and H(C)). */
export function encodeChoiceList(chosen: readonly (readonly number[])[]): Uint8Array {
  const writer = BinaryWriter.ofSize(chosen.reduce((sum, group) => sum + 2 + 2 * group.length, 0));
  for (const group of chosen) {
    writer.u16(group.length);
    for (const dealer of group) writer.u16(dealer);
  }
  return writer.finish();
}

export function encodeChoice(choice: Choice, serverCount: number): Uint8Array {
  const list = encodeChoiceList(choice.chosen);
  const dealBytes = choice.deals.reduce((sum, deal) => sum + 4 + deal.length, 0);
  const writer = BinaryWriter.ofSize(SESSION_ID_BYTES + list.length + maskBytes(serverCount) + POINT_BYTES * choice.commitments.length + dealBytes);
  writer.bytes(choice.sessionId).bytes(list);
  writeMask(writer, choice.committed, serverCount);
  for (const commitment of choice.commitments) writer.bytes(commitment);
  for (const deal of choice.deals) writer.lengthPrefixed("u32", deal);
  return writer.finish();
}

/** Decodes l2 for `serverCount` servers in `groupCount` groups. */
export function decodeChoice(body: Uint8Array, serverCount: number, groupCount: number): Choice {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  const sessionId = reader.bytes(SESSION_ID_BYTES, "session id");
  const chosen = Array.from({ length: groupCount }, (_, l) => readServerList(reader, serverCount, `chosen dealer of group ${l}`));
  const committed = readMask(reader, serverCount, "committed mask");
  const commitments = committed.map((server) => readEd25519Point(reader, `commitment of server ${server}`));
  const deals = chosen.flat().map((dealer) => {
    const bytes = reader.lengthPrefixed("u32", body.length, `deal of dealer ${dealer}`);
    // Framing only: a trustee decodes just its group's deals, and the verifier compares every
    // forwarded deal byte for byte with the recorded R1, whose points decodeDealMessage checked.
    checkDealFraming(bytes);
    return bytes;
  });
  reader.expectEnd("the choice");
  return { sessionId, chosen, committed, commitments, deals };
}

export interface SchnorrResponse {
  readonly replyTo: Uint8Array;
  /** r_i = v_i + c·a_i mod L (Ed25519 sign convention). */
  readonly response: Uint8Array;
}

export function encodeResponse(response: SchnorrResponse): Uint8Array {
  return BinaryWriter.ofSize(HASH_BYTES + SCALAR_BYTES).bytes(response.replyTo).bytes(response.response).finish();
}

export function decodeResponse(body: Uint8Array): SchnorrResponse {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  reader.expectRemaining(HASH_BYTES + SCALAR_BYTES, "a Schnorr response");
  const replyTo = reader.bytes(HASH_BYTES, "response hash");
  const response = reader.bytes(SCALAR_BYTES, "response").slice();
  check<DrpErrorCode>(isCanonicalScalar(response), "DRP_MALFORMED", "the response is not below L");
  return { replyTo, response };
}

export interface Reveal {
  readonly sessionId: Uint8Array;
  /** The servers whose responses make r, ascending; the committed others are the exceptions E. */
  readonly signers: readonly number[];
  /** r = Σ r_i over the signers. */
  readonly response: Uint8Array;
}

export function encodeReveal(reveal: Reveal, serverCount: number): Uint8Array {
  const writer = BinaryWriter.ofSize(SESSION_ID_BYTES + maskBytes(serverCount) + SCALAR_BYTES).bytes(reveal.sessionId);
  writeMask(writer, reveal.signers, serverCount);
  return writer.bytes(reveal.response).finish();
}

export function decodeReveal(body: Uint8Array, serverCount: number): Reveal {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  reader.expectRemaining(SESSION_ID_BYTES + maskBytes(serverCount) + SCALAR_BYTES, "a reveal");
  const sessionId = reader.bytes(SESSION_ID_BYTES, "session id");
  const signers = readMask(reader, serverCount, "signer mask");
  const response = reader.bytes(SCALAR_BYTES, "aggregate response").slice();
  check<DrpErrorCode>(isCanonicalScalar(response), "DRP_MALFORMED", "the aggregate response is not below L");
  return { sessionId, signers, response };
}

export interface DealerShare {
  /** The chosen dealer j whose share S_ji this is. */
  readonly dealer: number;
  readonly share: DecryptedShare;
}

export interface Decryption {
  readonly replyTo: Uint8Array;
  /** Dealers ascending. */
  readonly shares: readonly DealerShare[];
}

export function encodeDecryption(decryption: Decryption): Uint8Array {
  const writer = BinaryWriter.ofSize(HASH_BYTES + 2 + decryption.shares.length * (2 + DECRYPTED_SHARE_BYTES));
  writer.bytes(decryption.replyTo).u16(decryption.shares.length);
  for (const { dealer, share } of decryption.shares) writer.u16(dealer).bytes(encodeDecryptedShare(share));
  return writer.finish();
}

export function decodeDecryption(body: Uint8Array, serverCount: number): Decryption {
  const reader = new BinaryReader<DrpErrorCode>(body, CODES);
  const replyTo = reader.bytes(HASH_BYTES, "response hash");
  const count = reader.u16("share count");
  reader.expectRemaining(count * (2 + DECRYPTED_SHARE_BYTES), "the decrypted shares");
  const shares = Array.from({ length: count }, (): DealerShare => {
    const dealer = reader.u16("dealer");
    return { dealer, share: decodeDecryptedShare(reader.bytes(DECRYPTED_SHARE_BYTES, "decrypted share")) };
  });
  shares.forEach(({ dealer }, k) =>
    check<DrpErrorCode>(dealer < serverCount && (k === 0 || shares[k - 1]!.dealer < dealer), "DRP_MALFORMED", "the dealers are not ascending servers"),
  );
  return { replyTo, shares };
}
