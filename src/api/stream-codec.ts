/**
 * Wire format of the client WebSocket stream `/v1/stream` (DESIGN §8: binary bulk submission and
 * confirmation events). All integers little-endian.
 *
 * Phases of a connection:
 *  1. open: the client connects to ws://HOST:PORT/v1/stream.
 *  2. submit (any time, repeatable): a binary frame
 *       u32 count ‖ count × (u32 length ‖ encoded transaction)      (the block-body framing)
 *     is answered, in order of arrival, by exactly one ACK frame
 *       u8 0x01 ‖ u32 sequence ‖ u32 count ‖ count × (u8 outcome ‖ txid[32] ‖ u8 n ‖ code[n] ASCII)
 *     `sequence` numbers the submission frames of this connection from 0; `outcome` is
 *     SubmitOutcome (0 accepted, 1 duplicate, 2 rejected); code is empty when accepted and the
 *     txid is zeros when the transaction could not be parsed.
 *  3. subscribe: the text frame {"op":"subscribe"} (and {"op":"unsubscribe"}) starts (stops) the
 *     confirmation events, one EVENTS frame per committed block:
 *       u8 0x02 ‖ u64 height ‖ u32 nFinal ‖ u32 nRejected ‖ nFinal × txid[32]
 *         ‖ nRejected × (txid[32] ‖ u8 n ‖ code[n] ASCII)
 *     Transactions rejected before a block (e.g. by the signature check) arrive in an EVENTS frame
 *     with the current tip height and nFinal = 0.
 *     Under Proof-of-Believability (white paper §7.2, phase 1) the same subscription also carries
 *     one OPTIMISTIC frame per optimistic block a believable validator of the shard sealed:
 *       u8 0x03 ‖ producer[32] ‖ block[32] ‖ u32 n ‖ n × txid[32]
 *     (producer: the believable validator's public key; block: the optimistic block's hash). Every
 *     validator of the shard announces the blocks it receives, so a client subscribed to several
 *     sees each block once per connection. The EVENTS frame follows once the normal league has
 *     decided (§7.2 phase 2): an optimistic confirmation is not final, and a transaction the
 *     league excludes can still arrive there as rejected.
 *  4. errors: a request the server cannot serve gets an ERROR frame u8 0xff ‖ UTF-8 JSON
 *     {"code","message"}; the connection stays open unless the frame was over the size limit
 *     (uWS drops the connection: the client sees 1006) or the subscriber fell behind on its
 *     EVENTS and OPTIMISTIC frames (closed, code 4008 SLOW_CONSUMER). Malformed or refused
 *     submission frames (STREAM_BAD_FRAME, STREAM_TOO_MANY_TXS, STREAM_BUSY) take their sequence
 *     number and get an ERROR frame "frame N: ..." in place of their ACK, so acks and errors
 *     together stay in frame order.
 */
import { IosError } from "../errors.js";
import { packTransactions } from "../ledger/stateless.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../codec/sizes.js";

export type StreamCodecErrorCode = "STREAM_BAD_FRAME" | "STREAM_TOO_MANY_TXS";

export const FRAME_ACK = 0x01;
export const FRAME_EVENTS = 0x02;
export const FRAME_OPTIMISTIC = 0x03;
export const FRAME_ERROR = 0xff;

/** A submission frame holds at most a block's worth of transactions (MAX_BLOCK_TXS). */
export const MAX_STREAM_TXS = 16_384;

export const SubmitOutcome = { Accepted: 0, Duplicate: 1, Rejected: 2 } as const;
export type SubmitOutcome = (typeof SubmitOutcome)[keyof typeof SubmitOutcome];
export const SUBMIT_OUTCOME_NAMES = ["accepted", "duplicate", "rejected"] as const;
export type SubmitOutcomeName = (typeof SUBMIT_OUTCOME_NAMES)[number];
const SUBMIT_OUTCOME_CODES: Readonly<Record<SubmitOutcomeName, SubmitOutcome>> = { accepted: SubmitOutcome.Accepted, duplicate: SubmitOutcome.Duplicate, rejected: SubmitOutcome.Rejected };

export interface TxAck {
  readonly outcome: SubmitOutcome;
  /** 32 bytes; zeros when the transaction could not be parsed. */
  readonly txid: Uint8Array;
  /** Empty when accepted. */
  readonly code: string;
}

/** What encodeAck needs of one result: a submit result, whose txid and code may be absent. */
export interface AckSource {
  readonly outcome: SubmitOutcomeName;
  /** Sent as zeros unless 32 bytes. */
  readonly txid?: Uint8Array;
  /** Sent empty when absent. */
  readonly code?: string;
}

export interface TxRejection {
  readonly txid: Uint8Array;
  readonly code: string;
}

export interface ConfirmationBatch {
  readonly height: number;
  /** nFinal × 32 bytes of txids. */
  readonly final: Uint8Array;
  readonly rejected: readonly TxRejection[];
}

/** Transactions a believable validator sealed into one optimistic block (white paper §7.2 phase 1). */
export interface OptimisticBatch {
  /** 32-byte public key of the believable validator. */
  readonly producer: Uint8Array;
  /** 32-byte optimistic block hash. */
  readonly block: Uint8Array;
  /** n × 32 bytes of txids. */
  readonly txids: Uint8Array;
}

/** An OPTIMISTIC frame's tag, producer key, block hash and txid count. */
const OPTIMISTIC_HEADER_BYTES = 1 + PUBLIC_KEY_BYTES + HASH_BYTES + 4;

const MAX_CODE_BYTES = 255;
const ZERO_TXID = new Uint8Array(TXID_BYTES);
const NO_CODE = Buffer.alloc(0);

function fail(code: StreamCodecErrorCode, message: string): never {
  throw new IosError<StreamCodecErrorCode>(code, message);
}

function codeBytes(code: string): Buffer {
  const bytes = Buffer.from(code, "latin1");
  if (bytes.length > MAX_CODE_BYTES) fail("STREAM_BAD_FRAME", `code ${code.slice(0, 32)}… exceeds ${MAX_CODE_BYTES} bytes`);
  return bytes;
}

/** Frames transactions for submission: u32 count ‖ (u32 length ‖ tx)*. */
export function encodeSubmission(transactions: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (transactions.length > MAX_STREAM_TXS) fail("STREAM_TOO_MANY_TXS", `${transactions.length} transactions exceed ${MAX_STREAM_TXS} per frame`);
  const out = packTransactions(transactions, 4);
  new DataView(out.buffer).setUint32(0, transactions.length, true);
  return out;
}

/**
 * Splits a submission frame into its transactions (views into `frame`). Checks the count against
 * the limit and that the frame ends exactly after the last transaction.
 */
export function decodeSubmission(frame: Uint8Array): Uint8Array[] {
  if (frame.length < 4) fail("STREAM_BAD_FRAME", `a submission frame starts with a u32 count; got ${frame.length} byte(s)`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(0, true);
  if (count === 0) fail("STREAM_BAD_FRAME", "a submission frame must hold at least one transaction");
  if (count > MAX_STREAM_TXS) fail("STREAM_TOO_MANY_TXS", `count ${count} exceeds ${MAX_STREAM_TXS} transactions per frame`);
  const out: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > frame.length) fail("STREAM_BAD_FRAME", `transaction ${i}: length prefix at byte ${at} is cut short`);
    const length = view.getUint32(at, true);
    if (at + 4 + length > frame.length) fail("STREAM_BAD_FRAME", `transaction ${i} declares ${length} bytes, ${frame.length - at - 4} remain`);
    out.push(frame.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== frame.length) fail("STREAM_BAD_FRAME", `${frame.length - at} byte(s) follow the last of ${count} transactions`);
  return out;
}

export function encodeAck(sequence: number, acks: readonly AckSource[]): Uint8Array<ArrayBuffer> {
  const codes = acks.map((ack) => (ack.code ? codeBytes(ack.code) : NO_CODE));
  const total = 9 + codes.reduce((sum, code) => sum + 1 + TXID_BYTES + 1 + code.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = FRAME_ACK;
  view.setUint32(1, sequence, true);
  view.setUint32(5, acks.length, true);
  let at = 9;
  acks.forEach((ack, i) => {
    out[at] = SUBMIT_OUTCOME_CODES[ack.outcome];
    out.set(ack.txid?.length === TXID_BYTES ? ack.txid : ZERO_TXID, at + 1);
    out[at + 1 + TXID_BYTES] = codes[i]!.length;
    out.set(codes[i]!, at + 2 + TXID_BYTES);
    at += 2 + TXID_BYTES + codes[i]!.length;
  });
  return out;
}

class Cursor {
  at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) fail("STREAM_BAD_FRAME", `${what} is cut short at byte ${this.at}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  u64(what: string): number {
    this.need(8, what);
    const value = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail("STREAM_BAD_FRAME", `${what} exceeds 2^53`);
    return Number(value);
  }
  bytesOf(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
  end(): void {
    if (this.at !== this.bytes.length) fail("STREAM_BAD_FRAME", `${this.bytes.length - this.at} trailing byte(s)`);
  }
}

export function decodeAck(frame: Uint8Array): { sequence: number; acks: TxAck[] } {
  const c = new Cursor(frame);
  if (c.u8("frame type") !== FRAME_ACK) fail("STREAM_BAD_FRAME", "not an ACK frame");
  const sequence = c.u32("sequence");
  const count = c.u32("count");
  const acks: TxAck[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = c.u8("outcome");
    if (outcome > SubmitOutcome.Rejected) fail("STREAM_BAD_FRAME", `ack ${i}: unknown outcome ${outcome}`);
    const txid = c.bytesOf(TXID_BYTES, "txid");
    const code = Buffer.from(c.bytesOf(c.u8("code length"), "code")).toString("latin1");
    acks.push({ outcome: outcome as SubmitOutcome, txid, code });
  }
  c.end();
  return { sequence, acks };
}

export function encodeEvents(batch: ConfirmationBatch): Uint8Array<ArrayBuffer> {
  if (batch.final.length % TXID_BYTES !== 0) fail("STREAM_BAD_FRAME", "final txids must be a multiple of 32 bytes");
  const codes = batch.rejected.map((r) => codeBytes(r.code));
  const total = 17 + batch.final.length + codes.reduce((sum, code) => sum + TXID_BYTES + 1 + code.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out[0] = FRAME_EVENTS;
  view.setBigUint64(1, BigInt(batch.height), true);
  view.setUint32(9, batch.final.length / TXID_BYTES, true);
  view.setUint32(13, batch.rejected.length, true);
  out.set(batch.final, 17);
  let at = 17 + batch.final.length;
  batch.rejected.forEach((rejection, i) => {
    out.set(rejection.txid, at);
    out[at + TXID_BYTES] = codes[i]!.length;
    out.set(codes[i]!, at + TXID_BYTES + 1);
    at += TXID_BYTES + 1 + codes[i]!.length;
  });
  return out;
}

export function decodeEvents(frame: Uint8Array): ConfirmationBatch {
  const c = new Cursor(frame);
  if (c.u8("frame type") !== FRAME_EVENTS) fail("STREAM_BAD_FRAME", "not an EVENTS frame");
  const height = c.u64("height");
  const nFinal = c.u32("final count");
  const nRejected = c.u32("rejected count");
  const final = c.bytesOf(nFinal * TXID_BYTES, "final txids");
  const rejected: TxRejection[] = [];
  for (let i = 0; i < nRejected; i++) {
    const txid = c.bytesOf(TXID_BYTES, "rejected txid");
    rejected.push({ txid, code: Buffer.from(c.bytesOf(c.u8("code length"), "code")).toString("latin1") });
  }
  c.end();
  return { height, final, rejected };
}

/** FRAME_OPTIMISTIC ‖ producer ‖ block ‖ u32 n ‖ txids. */
export function encodeOptimistic(batch: OptimisticBatch): Uint8Array<ArrayBuffer> {
  if (batch.producer.length !== PUBLIC_KEY_BYTES) fail("STREAM_BAD_FRAME", `producer must be a ${PUBLIC_KEY_BYTES}-byte public key, got ${batch.producer.length} bytes`);
  if (batch.block.length !== HASH_BYTES) fail("STREAM_BAD_FRAME", `block must be a ${HASH_BYTES}-byte hash, got ${batch.block.length} bytes`);
  if (batch.txids.length % TXID_BYTES !== 0) fail("STREAM_BAD_FRAME", "optimistic txids must be a multiple of 32 bytes");
  const out = new Uint8Array(OPTIMISTIC_HEADER_BYTES + batch.txids.length);
  out[0] = FRAME_OPTIMISTIC;
  out.set(batch.producer, 1);
  out.set(batch.block, 1 + PUBLIC_KEY_BYTES);
  new DataView(out.buffer).setUint32(1 + PUBLIC_KEY_BYTES + HASH_BYTES, batch.txids.length / TXID_BYTES, true);
  out.set(batch.txids, OPTIMISTIC_HEADER_BYTES);
  return out;
}

/** Strict: the tag, both keys, the count and exactly `n` txids, nothing after. */
export function decodeOptimistic(frame: Uint8Array): OptimisticBatch {
  const c = new Cursor(frame);
  if (c.u8("frame type") !== FRAME_OPTIMISTIC) fail("STREAM_BAD_FRAME", "not an OPTIMISTIC frame");
  const producer = c.bytesOf(PUBLIC_KEY_BYTES, "producer key");
  const block = c.bytesOf(HASH_BYTES, "block hash");
  const count = c.u32("txid count");
  const txids = c.bytesOf(count * TXID_BYTES, "optimistic txids");
  c.end();
  return { producer, block, txids };
}

export function encodeError(code: string, message: string): Uint8Array<ArrayBuffer> {
  const json = Buffer.from(JSON.stringify({ code, message }), "utf8");
  const out = new Uint8Array(1 + json.length);
  out[0] = FRAME_ERROR;
  out.set(json, 1);
  return out;
}

export function decodeError(frame: Uint8Array): { code: string; message: string } {
  if (frame[0] !== FRAME_ERROR) fail("STREAM_BAD_FRAME", "not an ERROR frame");
  const value: unknown = JSON.parse(Buffer.from(frame.subarray(1)).toString("utf8"));
  if (typeof value !== "object" || value === null) fail("STREAM_BAD_FRAME", "ERROR frame body is not an object");
  const { code, message } = value as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") fail("STREAM_BAD_FRAME", "ERROR frame needs string code and message");
  return { code, message };
}
