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
 *         [‖ header[162] ‖ seal[64] ‖ u32 m ‖ m × txid[32]]
 *     (producer: the believable validator's public key; block: the optimistic block's hash; the n
 *     txids are the ones this validator confirms; the optional signed part is the block's header,
 *     the producer's seal over its hash and every txid of its body, from which a client checks the
 *     seal, recomputes the tx root and so proves each confirmed txid in the block). Every
 *     validator of the shard announces the blocks it receives, so a client subscribed to several
 *     sees each block once per connection. The EVENTS frame follows once the normal league has
 *     decided (§7.2 phase 2): an optimistic confirmation is not final, and a transaction the
 *     league excludes can still arrive there as rejected.
 *     Under PoB the subscription also carries one ATOMIX frame per final height that moved
 *     cross-shard transfers (white paper §6, src/atomix/phases.ts), with what proves each lock
 *     decision (src/atomix/proof.ts), so a client unlocks without asking for proofs:
 *       u8 0x04 ‖ u64 height ‖ u16 |certificate| ‖ certificate ‖ u32 n
 *         ‖ n × (txid[32] ‖ u8 phase ‖ u8 |code| ‖ code ASCII ‖ u16 |path| ‖ path)
 *     (phase: 0 locked, 1 refused, 2 committed, 3 aborted). The certificate is the height's
 *     final-height certificate, once for every decision (empty when no decision has a path);
 *     a lock decision carries its verdict (code empty: accepted, else the kernel's refusal) and
 *     its RFC 6962 audit path in the height's included or excluded tree (crypto/merkle.ts
 *     `encodeMerkleProof`); any other decision carries neither. A decision's proof is the
 *     certificate's head, the txid and verdict, the certificate's certified part and the path
 *     (`decisionProofOf`): a frame of 500 locks carries the ~0.4 KB certified part once, not
 *     500 times.
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
import { BinaryReader, BinaryWriter, singleCode, writeU32 } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { MAX_CODE_BYTES, codedTxidsSize, readCodedTxids, writeCodedTxids } from "../codec/coded-txids.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { HEADER_BYTES, encodeBlockHeader, type DecodedBlock } from "../ledger/block.js";
import { MAX_DECISION_PROOF_BYTES, MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, type CertifiedDecision } from "../atomix/proof.js";

export type StreamCodecErrorCode = "STREAM_BAD_FRAME" | "STREAM_TOO_MANY_TXS";

export const FRAME_ACK = 0x01;
export const FRAME_EVENTS = 0x02;
export const FRAME_OPTIMISTIC = 0x03;
export const FRAME_ATOMIX = 0x04;
export const FRAME_ERROR = 0xff;

/** Largest path in an ATOMIX frame: a path is part of a decision proof. */
const MAX_FRAME_PATH_BYTES = MAX_DECISION_PROOF_BYTES;

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
  /** n × 32 bytes of txids: the confirmed ones, body order. */
  readonly txids: Uint8Array;
  /** The signed block behind the confirmation: encoded header, the producer's seal, every txid of its body. */
  readonly signed?: { readonly header: Uint8Array; readonly seal: Uint8Array; readonly txids: Uint8Array };
}

/** A submission frame's transaction count. */
const SUBMISSION_HEADER = layout({ count: 4 });
const ACK_HEADER = layout({ tag: 1, sequence: 4, count: 4 });
/** One ack before its code's bytes. */
const ACK_ENTRY = layout({ outcome: 1, txid: TXID_BYTES, codeLength: 1 });
const EVENTS_HEADER = layout({ tag: 1, height: 8, finalCount: 4, rejectedCount: 4 });
const OPTIMISTIC_HEADER = layout({ tag: 1, producer: PUBLIC_KEY_BYTES, block: HASH_BYTES, count: 4 });
/** Every malformed frame is STREAM_BAD_FRAME. */
const FRAME_CODES = singleCode<StreamCodecErrorCode>("STREAM_BAD_FRAME");

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
  const out = packTransactions(transactions, SUBMISSION_HEADER.bytes);
  writeU32(out, SUBMISSION_HEADER.offset.count, transactions.length);
  return out;
}

/**
 * Splits a submission frame into its transactions (views into `frame`). Checks the count against
 * the limit and that the frame ends exactly after the last transaction.
 */
export function decodeSubmission(frame: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(frame, FRAME_CODES);
  const count = reader.u32("a submission frame's u32 count");
  if (count === 0) fail("STREAM_BAD_FRAME", "a submission frame must hold at least one transaction");
  if (count > MAX_STREAM_TXS) fail("STREAM_TOO_MANY_TXS", `count ${count} exceeds ${MAX_STREAM_TXS} transactions per frame`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.u32(`transaction ${i}: length prefix`);
    if (length > reader.remaining) fail("STREAM_BAD_FRAME", `transaction ${i} declares ${length} bytes, ${reader.remaining} remain`);
    out.push(reader.bytes(length));
  }
  if (reader.remaining !== 0) fail("STREAM_BAD_FRAME", `${reader.remaining} byte(s) follow the last of ${count} transactions`);
  return out;
}

export function encodeAck(sequence: number, acks: readonly AckSource[]): Uint8Array<ArrayBuffer> {
  const codes = acks.map((ack) => (ack.code ? codeBytes(ack.code) : NO_CODE));
  const total = codes.reduce((sum, code) => sum + ACK_ENTRY.bytes + code.length, ACK_HEADER.bytes);
  const writer = BinaryWriter.ofSize(total).u8(FRAME_ACK).u32(sequence).u32(acks.length);
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i]!;
    writer.u8(SUBMIT_OUTCOME_CODES[ack.outcome]).bytes(ack.txid?.length === TXID_BYTES ? ack.txid : ZERO_TXID).lengthPrefixed("u8", codes[i]!);
  }
  return writer.finish();
}

/** A reader of a `tag` frame, past its checked tag byte. */
function frameReader(frame: Uint8Array, tag: number, name: string): BinaryReader<StreamCodecErrorCode> {
  const reader = new BinaryReader(frame, FRAME_CODES);
  if (reader.u8("frame type") !== tag) fail("STREAM_BAD_FRAME", `not an ${name} frame`);
  return reader;
}

/** A u8-prefixed ASCII code. */
function readCode(reader: BinaryReader<StreamCodecErrorCode>): string {
  const code = reader.lengthPrefixed("u8", MAX_CODE_BYTES, "code");
  return Buffer.from(code.buffer, code.byteOffset, code.length).toString("latin1");
}

export function decodeAck(frame: Uint8Array): { sequence: number; acks: TxAck[] } {
  const reader = frameReader(frame, FRAME_ACK, "ACK");
  const sequence = reader.u32("sequence");
  const count = reader.u32("count");
  const acks: TxAck[] = [];
  for (let i = 0; i < count; i++) {
    const outcome = reader.u8("outcome");
    if (outcome > SubmitOutcome.Rejected) fail("STREAM_BAD_FRAME", `ack ${i}: unknown outcome ${outcome}`);
    const txid = reader.bytes(TXID_BYTES, "txid").slice();
    acks.push({ outcome: outcome as SubmitOutcome, txid, code: readCode(reader) });
  }
  reader.expectEnd(`ack ${count - 1}`);
  return { sequence, acks };
}

export function encodeEvents(batch: ConfirmationBatch): Uint8Array<ArrayBuffer> {
  if (batch.final.length % TXID_BYTES !== 0) fail("STREAM_BAD_FRAME", "final txids must be a multiple of 32 bytes");
  const codes = batch.rejected.map((r) => codeBytes(r.code));
  const writer = BinaryWriter.ofSize(EVENTS_HEADER.bytes + batch.final.length + codedTxidsSize(codes))
    .u8(FRAME_EVENTS).u64(batch.height).u32(batch.final.length / TXID_BYTES).u32(batch.rejected.length).bytes(batch.final);
  return writeCodedTxids(writer, batch.rejected, codes).finish();
}

export function decodeEvents(frame: Uint8Array): ConfirmationBatch {
  const reader = frameReader(frame, FRAME_EVENTS, "EVENTS");
  const height = reader.u53("height");
  const nFinal = reader.u32("final count");
  const nRejected = reader.u32("rejected count");
  const final = reader.bytes(nFinal * TXID_BYTES, "final txids").slice();
  const rejected: TxRejection[] = readCodedTxids(reader, nRejected);
  reader.expectEnd("the last rejection");
  return { height, final, rejected };
}

/** The OPTIMISTIC batch of a sealed block whose `confirmed` txids (default: all) a validator announces, with the signed block. */
export function optimisticBatchOf(block: DecodedBlock, confirmed: Uint8Array = block.txids): OptimisticBatch {
  return {
    producer: block.header.producer, block: block.hash, txids: confirmed,
    signed: { header: encodeBlockHeader(block.header), seal: block.seal.signature, txids: block.txids },
  };
}

/** FRAME_OPTIMISTIC ‖ producer ‖ block ‖ u32 n ‖ txids [‖ header ‖ seal ‖ u32 m ‖ block txids]. */
export function encodeOptimistic(batch: OptimisticBatch): Uint8Array<ArrayBuffer> {
  if (batch.producer.length !== PUBLIC_KEY_BYTES) fail("STREAM_BAD_FRAME", `producer must be a ${PUBLIC_KEY_BYTES}-byte public key, got ${batch.producer.length} bytes`);
  if (batch.block.length !== HASH_BYTES) fail("STREAM_BAD_FRAME", `block must be a ${HASH_BYTES}-byte hash, got ${batch.block.length} bytes`);
  if (batch.txids.length % TXID_BYTES !== 0) fail("STREAM_BAD_FRAME", "optimistic txids must be a multiple of 32 bytes");
  const { signed } = batch;
  if (signed !== undefined && (signed.header.length !== HEADER_BYTES || signed.seal.length !== SIGNATURE_BYTES || signed.txids.length % TXID_BYTES !== 0)) {
    fail("STREAM_BAD_FRAME", `the signed block needs a ${HEADER_BYTES}-byte header, a ${SIGNATURE_BYTES}-byte seal and whole txids`);
  }
  const trailer = signed === undefined ? 0 : HEADER_BYTES + SIGNATURE_BYTES + 4 + signed.txids.length;
  const writer = BinaryWriter.ofSize(OPTIMISTIC_HEADER.bytes + batch.txids.length + trailer)
    .u8(FRAME_OPTIMISTIC)
    .bytes(batch.producer)
    .bytes(batch.block)
    .u32(batch.txids.length / TXID_BYTES)
    .bytes(batch.txids);
  if (signed !== undefined) writer.bytes(signed.header).bytes(signed.seal).u32(signed.txids.length / TXID_BYTES).bytes(signed.txids);
  return writer.finish();
}

/** Strict: the tag, both keys, the count and exactly `n` txids, then nothing or exactly one signed block. */
export function decodeOptimistic(frame: Uint8Array): OptimisticBatch {
  const reader = frameReader(frame, FRAME_OPTIMISTIC, "OPTIMISTIC");
  const producer = reader.bytes(PUBLIC_KEY_BYTES, "producer key").slice();
  const block = reader.bytes(HASH_BYTES, "block hash").slice();
  const count = reader.u32("txid count");
  reader.need(count * TXID_BYTES, `${count} optimistic txids`);
  const txids = reader.bytes(count * TXID_BYTES).slice();
  if (reader.remaining === 0) return { producer, block, txids };
  const header = reader.bytes(HEADER_BYTES, "signed header").slice();
  const seal = reader.bytes(SIGNATURE_BYTES, "seal").slice();
  const blockCount = reader.u32("block txid count");
  reader.expectRemaining(blockCount * TXID_BYTES, `${blockCount} block txids`);
  return { producer, block, txids, signed: { header, seal, txids: reader.bytes(blockCount * TXID_BYTES).slice() } };
}

/** One decision of an ATOMIX frame: a lock decision carries its verdict and Merkle path, any other neither. */
export interface AtomixFrameDecision extends CertifiedDecision {
  /** src/atomix/phases.ts `encodeAtomixPhase`. */
  readonly phase: number;
  /** A lock decision's verdict: "" accepted, else the kernel's refusal code; "" for any other decision. */
  readonly code: string;
  /**
   * A lock decision's encoded RFC 6962 audit path (crypto/merkle.ts `encodeMerkleProof`) in the
   * height's included (accepted) or excluded (refused) tree; empty for any other decision.
   */
  readonly path: Uint8Array;
}

/**
 * Cross-shard transfers one final height moved (FRAME_ATOMIX): the height's final-height
 * certificate once and each decision's own parts; `decisionProofOf(certificate, decision)`
 * (src/atomix/proof.ts) rebuilds a lock decision's whole proof.
 */
export interface AtomixBatch {
  readonly height: number;
  /** The height's final-height certificate (src/atomix/proof.ts); empty when no decision has a path. */
  readonly certificate: Uint8Array;
  readonly decisions: readonly AtomixFrameDecision[];
}

/** An ATOMIX frame before its certificate and decisions; then the decisions' count. */
const ATOMIX_HEADER = layout({ tag: 1, height: 8 });
/** The least a decision takes: txid, phase, an empty code and an empty path. */
const ATOMIX_DECISION_MIN = layout({ txid: TXID_BYTES, phase: 1, codeLength: 1, pathLength: 2 });

/** FRAME_ATOMIX ‖ height ‖ u16 |certificate| ‖ certificate ‖ u32 n ‖ n × (txid ‖ phase ‖ u8 |code| ‖ code ‖ u16 |path| ‖ path). */
export function encodeAtomix(batch: AtomixBatch): Uint8Array<ArrayBuffer> {
  const { certificate, decisions } = batch;
  let size = ATOMIX_HEADER.bytes + 2 + certificate.length + 4 + decisions.length * ATOMIX_DECISION_MIN.bytes;
  let proven = false;
  const codes = decisions.map(({ txid, code, path }, i) => {
    if (txid.length !== TXID_BYTES) fail("STREAM_BAD_FRAME", `decision ${i}: a txid is ${TXID_BYTES} bytes, got ${txid.length}`);
    if (path.length > MAX_FRAME_PATH_BYTES || (code !== "" && path.length === 0)) fail("STREAM_BAD_FRAME", `decision ${i}: a verdict comes with a path of at most ${MAX_FRAME_PATH_BYTES} bytes`);
    proven ||= path.length > 0;
    const bytes = code === "" ? NO_CODE : codeBytes(code);
    size += bytes.length + path.length;
    return bytes;
  });
  if (proven !== certificate.length > 0 || certificate.length > MAX_FINAL_HEIGHT_CERTIFICATE_BYTES) {
    fail("STREAM_BAD_FRAME", `a certificate of at most ${MAX_FINAL_HEIGHT_CERTIFICATE_BYTES} bytes goes with the paths, and only with them`);
  }
  const writer = BinaryWriter.ofSize(size).u8(FRAME_ATOMIX).u64(batch.height).lengthPrefixed("u16", certificate).u32(decisions.length);
  decisions.forEach(({ txid, phase, path }, i) => writer.bytes(txid).u8(phase).lengthPrefixed("u8", codes[i]!).lengthPrefixed("u16", path));
  return writer.finish();
}

/** The height an ATOMIX frame is about, read alone: a client that has read that height's decisions from another validator drops the frame undecoded. */
export function atomixFrameHeight(frame: Uint8Array): number {
  return frameReader(frame, FRAME_ATOMIX, "ATOMIX").u53("height");
}

/**
 * Strict inverse of `encodeAtomix`, STREAM_BAD_FRAME for anything else (a truncated or trailing
 * frame, a length over its bound, a code without a path, paths without a certificate or a
 * certificate without paths). The certificate is a copy; each decision's txid and path are views
 * of `frame`.
 */
export function decodeAtomix(frame: Uint8Array): AtomixBatch {
  const reader = frameReader(frame, FRAME_ATOMIX, "ATOMIX");
  const height = reader.u53("height");
  const certificate = reader.lengthPrefixed("u16", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "certificate").slice();
  const count = reader.u32("decision count");
  reader.need(count * ATOMIX_DECISION_MIN.bytes, `${count} decisions`);
  let proven = false;
  const decisions: AtomixFrameDecision[] = [];
  for (let i = 0; i < count; i++) {
    const txid = reader.bytes(TXID_BYTES, "txid");
    const phase = reader.u8("phase");
    const code = readCode(reader);
    const path = reader.lengthPrefixed("u16", MAX_FRAME_PATH_BYTES, "path");
    if (code !== "" && path.length === 0) fail("STREAM_BAD_FRAME", `decision ${i}: a verdict without a path`);
    proven ||= path.length > 0;
    decisions.push({ txid, phase, code, path });
  }
  reader.expectEnd("the last decision");
  if (proven !== certificate.length > 0) fail("STREAM_BAD_FRAME", proven ? "paths without their height's certificate" : "a certificate without a path");
  return { height, certificate, decisions };
}

export function encodeError(code: string, message: string): Uint8Array<ArrayBuffer> {
  const json = Buffer.from(JSON.stringify({ code, message }), "utf8");
  return BinaryWriter.ofSize(1 + json.length).u8(FRAME_ERROR).bytes(json).finish();
}

export function decodeError(frame: Uint8Array): { code: string; message: string } {
  if (frame[0] !== FRAME_ERROR) fail("STREAM_BAD_FRAME", "not an ERROR frame");
  const value: unknown = JSON.parse(Buffer.from(frame.subarray(1)).toString("utf8"));
  if (typeof value !== "object" || value === null) fail("STREAM_BAD_FRAME", "ERROR frame body is not an object");
  const { code, message } = value as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") fail("STREAM_BAD_FRAME", "ERROR frame needs string code and message");
  return { code, message };
}
