/**
 * The MSB chunk protocol (white paper §8, "fast bootstrap"): a new node downloads the body of a
 * trusted MSB in chunks, each with a range proof (./range.ts) against the header's root, from any
 * node that keeps the body. Message types in the `msb` range (net/message-types.ts).
 *
 * An MSB has two sections, each its own RFC 6962 tree named by the header: 0 the UTXO entries
 * (76 B, `count`, `root`), 1 the decisions (33 B, `decisions`, `decisionsRoot`: ./decisions.ts).
 * Chunk k of a section of `count` entries holds entries [k·C, min((k + 1)·C, count)), C =
 * MSB_CHUNK_ENTRIES. C is a power of two, so every chunk is one subtree of the RFC 6962 tree (the
 * last one possibly cut short, still a subtree): its proof is the chunk root's audit path among
 * the chunk roots (≤ ⌈log2 ⌈count / C⌉⌉ hashes), and a server answers from the chunk roots alone.
 *
 * Encodings, version 2 (integers little-endian; version 2 added the section):
 *   request  u8 version ‖ u8 section ‖ u32 shard ‖ u32 epoch ‖ header hash [32] ‖ u32 chunk  (46 bytes)
 *   answer   u8 version ‖ u8 status ‖ u8 section ‖ u32 shard ‖ u32 epoch ‖ header hash [32] ‖ u32 chunk ‖
 *            status OK only: u32 n ‖ n × entry [76 or 33] (UTXO_ENTRY, ATOMIX_DECISION) ‖ u8 k ‖ k × hash [32]
 * The answer repeats the request's fields, so a receiver matches it to what it asked (and a chunk
 * of another MSB is told apart before any hashing). Status: OK, UNKNOWN_MSB (the server does not
 * keep that MSB), OUT_OF_RANGE (no such chunk). Decoding is strict: a known section, n ≤ C, k ≤
 * MAX_RANGE_PROOF_HASHES, nothing after the last field; anything else an MSB_* code. Whether n
 * and k are the right ones for the chunk is the fetcher's check (it knows the count).
 *
 * API: `MSB_CHUNK_ENTRIES`, `MSB_CHUNK_REQUEST`/`MSB_CHUNK_ANSWER`, `ChunkStatus`, `MsbSection`,
 * `sectionOf(header, section)`, `chunkCount`, `chunkRange`, `encode`/`decodeChunkRequest`, `encode`/`decodeChunkAnswer`.
 */
import { BinaryReader, BinaryWriter } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { ATOMIX_DECISION, HASH_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from "../net/frame.js";
import { messageType } from "../net/message-types.js";
import { check, invariant } from "../errors.js";
import { MSB_CODEC } from "./header.js";
import { MAX_RANGE_PROOF_HASHES } from "./range.js";
import type { MsbErrorCode, MsbHeader } from "./interface.js";

export const MSB_CHUNK_VERSION = 2;
/** 0x80–0x81 are state sync's (node/sync/codec.ts). */
export const MSB_CHUNK_REQUEST = messageType("msb", 2);
export const MSB_CHUNK_ANSWER = messageType("msb", 3);

/**
 * Entries per chunk (either section): the largest power of two whose UTXO answer fits one transport
 * frame (DEFAULT_MAX_FRAME_BYTES = 4 MiB: 2^15 × 76 B = 2.38 MiB fits, 2^16 × 76 B = 4.75 MiB does
 * not). A power of two keeps every chunk a subtree (short proofs, a server keeps chunk roots only).
 */
export const MSB_CHUNK_ENTRIES = 2 ** 15;

export const ChunkStatus = { Ok: 0, UnknownMsb: 1, OutOfRange: 2 } as const;
export type ChunkStatus = (typeof ChunkStatus)[keyof typeof ChunkStatus];

/** The trees of an MSB a chunk belongs to. */
export const MsbSection = { Utxos: 0, Decisions: 1 } as const;
export type MsbSection = (typeof MsbSection)[keyof typeof MsbSection];
const SECTIONS: readonly number[] = Object.values(MsbSection);
/** Bytes of one leaf of each section (index: the section). */
const LEAF_BYTES: readonly number[] = [UTXO_ENTRY.bytes, ATOMIX_DECISION.bytes];

/** What the header states about a section: its leaf size, leaf count and root. */
export function sectionOf(header: MsbHeader, section: MsbSection): { readonly entryBytes: number; readonly count: number; readonly root: Uint8Array } {
  return section === MsbSection.Utxos
    ? { entryBytes: UTXO_ENTRY.bytes, count: header.count, root: header.root }
    : { entryBytes: ATOMIX_DECISION.bytes, count: header.decisions, root: header.decisionsRoot };
}

const CHUNK_REQUEST = layout({ version: 1, section: 1, shard: 4, epoch: 4, headerHash: HASH_BYTES, chunk: 4 });
export const CHUNK_REQUEST_BYTES = CHUNK_REQUEST.bytes;
/** An answer's fields before its entries (also the whole of a refusal); a receiver reads the route at these offsets. */
export const CHUNK_ANSWER_HEAD = layout({ version: 1, status: 1, section: 1, shard: 4, epoch: 4, headerHash: HASH_BYTES, chunk: 4 });
export const CHUNK_ANSWER_HEAD_BYTES = CHUNK_ANSWER_HEAD.bytes;
/** The largest answer: a full chunk of the largest leaves with the most proof hashes any range can take. */
export const MAX_CHUNK_ANSWER_BYTES = CHUNK_ANSWER_HEAD_BYTES + 4 + MSB_CHUNK_ENTRIES * Math.max(...LEAF_BYTES) + 1 + MAX_RANGE_PROOF_HASHES * HASH_BYTES;
invariant(MAX_CHUNK_ANSWER_BYTES <= DEFAULT_MAX_FRAME_BYTES - FRAME_HEADER_BYTES, "a chunk answer fits one transport frame");

/** Which chunk of which section of which MSB: the header hash is the trusted one, shard and epoch let a server find it. */
export interface ChunkRequest {
  readonly section: MsbSection;
  readonly shard: number;
  readonly epoch: number;
  readonly headerHash: Uint8Array;
  readonly chunk: number;
}

export interface ChunkAnswer extends ChunkRequest {
  readonly status: ChunkStatus;
  /** Packed entries (status OK; empty otherwise): views into the decoded bytes. */
  readonly entries: Uint8Array;
  /** Range proof hashes, left to right (./range.ts). */
  readonly hashes: readonly Uint8Array[];
}

/** Chunks of a body of `count` entries. */
export function chunkCount(count: number): number {
  return Math.ceil(count / MSB_CHUNK_ENTRIES);
}

/** Leaf range [start, end) of chunk `chunk` of a body of `count` entries (the chunk must exist). */
export function chunkRange(count: number, chunk: number): { start: number; end: number } {
  invariant(Number.isInteger(chunk) && chunk >= 0 && chunk < chunkCount(count), `chunk ${chunk} of ${count} entries exists`);
  const start = chunk * MSB_CHUNK_ENTRIES;
  return { start, end: Math.min(count, start + MSB_CHUNK_ENTRIES) };
}

function checkRequestFields(request: ChunkRequest): void {
  check<MsbErrorCode>(SECTIONS.includes(request.section), "MSB_BAD_INPUT", `unknown MSB section ${request.section}`);
  const u32 = (value: number) => Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
  check<MsbErrorCode>(u32(request.shard) && u32(request.epoch) && u32(request.chunk), "MSB_BAD_INPUT", "shard, epoch and chunk are u32");
  check<MsbErrorCode>(request.headerHash instanceof Uint8Array && request.headerHash.length === HASH_BYTES, "MSB_BAD_INPUT", `a header hash is ${HASH_BYTES} bytes`);
}

export function encodeChunkRequest(request: ChunkRequest): Uint8Array {
  checkRequestFields(request);
  return BinaryWriter.ofSize(CHUNK_REQUEST_BYTES).u8(MSB_CHUNK_VERSION).u8(request.section).u32(request.shard).u32(request.epoch)
    .bytes(request.headerHash).u32(request.chunk).finish();
}

function readVersion(reader: BinaryReader<MsbErrorCode>, what: string): void {
  const version = reader.u8(`${what} version`);
  if (version !== MSB_CHUNK_VERSION) reader.fail("MSB_BAD_VERSION", `${what} version ${version}, this program reads ${MSB_CHUNK_VERSION}`);
}

function readSection(reader: BinaryReader<MsbErrorCode>): MsbSection {
  const section = reader.u8("section");
  if (!SECTIONS.includes(section)) reader.fail("MSB_OUT_OF_RANGE", `unknown MSB section ${section}`);
  return section as MsbSection;
}

function readRoute(reader: BinaryReader<MsbErrorCode>, section: MsbSection): ChunkRequest {
  return { section, shard: reader.u32("shard"), epoch: reader.u32("epoch"), headerHash: reader.bytes(HASH_BYTES, "header hash").slice(), chunk: reader.u32("chunk") };
}

export function decodeChunkRequest(bytes: Uint8Array): ChunkRequest {
  check<MsbErrorCode>(bytes instanceof Uint8Array, "MSB_BAD_INPUT", "a chunk request is a Uint8Array");
  const reader = new BinaryReader(bytes, MSB_CODEC);
  readVersion(reader, "chunk request");
  const request = readRoute(reader, readSection(reader));
  reader.expectEnd("the chunk request");
  return request;
}

/** An OK answer (entries and proof hashes), or a refusal when `status` is not OK (no entries, no hashes). */
export function encodeChunkAnswer(answer: ChunkAnswer): Uint8Array {
  checkRequestFields(answer);
  check<MsbErrorCode>(Object.values(ChunkStatus).includes(answer.status), "MSB_BAD_INPUT", `unknown chunk status ${answer.status}`);
  const ok = answer.status === ChunkStatus.Ok;
  const n = answer.entries.length / LEAF_BYTES[answer.section]!;
  check<MsbErrorCode>(Number.isInteger(n) && n <= MSB_CHUNK_ENTRIES && (ok || n === 0), "MSB_BAD_INPUT", `an answer holds whole entries, at most ${MSB_CHUNK_ENTRIES}, none in a refusal`);
  check<MsbErrorCode>(answer.hashes.length <= MAX_RANGE_PROOF_HASHES && (ok || answer.hashes.length === 0), "MSB_BAD_INPUT", `an answer holds at most ${MAX_RANGE_PROOF_HASHES} proof hashes, none in a refusal`);
  const size = CHUNK_ANSWER_HEAD_BYTES + (ok ? 4 + answer.entries.length + 1 + answer.hashes.length * HASH_BYTES : 0);
  const writer = BinaryWriter.ofSize(size).u8(MSB_CHUNK_VERSION).u8(answer.status).u8(answer.section).u32(answer.shard).u32(answer.epoch)
    .bytes(answer.headerHash).u32(answer.chunk);
  if (ok) {
    writer.u32(n).bytes(answer.entries).u8(answer.hashes.length);
    for (const hash of answer.hashes) writer.bytes(hash);
  }
  return writer.finish();
}

export function decodeChunkAnswer(bytes: Uint8Array): ChunkAnswer {
  check<MsbErrorCode>(bytes instanceof Uint8Array, "MSB_BAD_INPUT", "a chunk answer is a Uint8Array");
  const reader = new BinaryReader(bytes, MSB_CODEC);
  readVersion(reader, "chunk answer");
  const status = reader.u8("status");
  if (!(Object.values(ChunkStatus) as number[]).includes(status)) reader.fail("MSB_OUT_OF_RANGE", `unknown chunk status ${status}`);
  const route = readRoute(reader, readSection(reader));
  if (status !== ChunkStatus.Ok) {
    reader.expectEnd("the refusal");
    return { ...route, status: status as ChunkStatus, entries: new Uint8Array(0), hashes: [] };
  }
  const n = reader.u32("entry count");
  if (n > MSB_CHUNK_ENTRIES) reader.fail("MSB_TOO_LARGE", `${n} entries exceed a chunk's ${MSB_CHUNK_ENTRIES}`);
  const entries = reader.bytes(n * LEAF_BYTES[route.section]!, "entries");
  const k = reader.u8("proof hash count");
  if (k > MAX_RANGE_PROOF_HASHES) reader.fail("MSB_TOO_LARGE", `${k} proof hashes exceed ${MAX_RANGE_PROOF_HASHES}`);
  const hashes = Array.from({ length: k }, (_, i) => reader.bytes(HASH_BYTES, `proof hash ${i}`).slice());
  reader.expectEnd("the chunk answer");
  return { ...route, status: ChunkStatus.Ok, entries, hashes };
}
