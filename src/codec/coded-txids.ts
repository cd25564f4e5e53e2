/**
 * Coded transaction ids — n × (txid[32] ‖ u8 |code| ‖ code, Latin-1) — the one form in which
 * rejections travel (the client stream's EVENTS frames, PoB's TX_REFUSED) and are hashed (each
 * entry is one leaf of the excluded set's Merkle root in a PoB state commitment, so a rejection
 * has an inclusion proof). Callers count the entries in their own framing.
 *
 * API: `CODED_TXID`, `MAX_CODE_BYTES`, `codeBytesOf(list)`, `codedTxidsSize(codes)`,
 * `writeCodedTxids(writer, list, codes)`, `readCodedTxids(reader, count)`, `codedTxidLeaf(entry)`.
 */
import { BinaryWriter, type BinaryReader } from "./binary.js";
import { layout } from "./layout.js";
import { TXID_BYTES } from "./sizes.js";

/** One entry before its code's bytes. */
export const CODED_TXID = layout({ txid: TXID_BYTES, codeLength: 1 });
/** A code's length is a u8. */
export const MAX_CODE_BYTES = 255;

export interface CodedTxid {
  readonly txid: Uint8Array;
  readonly code: string;
}

/** Each entry's code as bytes (Latin-1), for sizing and writing; the caller checks MAX_CODE_BYTES as its format requires. */
export function codeBytesOf(list: readonly CodedTxid[]): Buffer[] {
  return list.map((entry) => Buffer.from(entry.code, "latin1"));
}

/** Encoded size of the entries whose codes are `codes`. */
export function codedTxidsSize(codes: readonly Uint8Array[]): number {
  return codes.reduce((sum, code) => sum + CODED_TXID.bytes + code.length, 0);
}

export function writeCodedTxids(writer: BinaryWriter, list: readonly CodedTxid[], codes: readonly Uint8Array[]): BinaryWriter {
  list.forEach((entry, i) => writer.bytes(entry.txid).lengthPrefixed("u8", codes[i]!));
  return writer;
}

/** `count` entries from `reader` (its codes name the format's errors); txids are copies. */
export function readCodedTxids<Code extends string>(reader: BinaryReader<Code>, count: number): CodedTxid[] {
  const list: CodedTxid[] = [];
  for (let i = 0; i < count; i++) {
    const txid = reader.bytes(TXID_BYTES, "txid").slice();
    const code = reader.lengthPrefixed("u8", MAX_CODE_BYTES, "code");
    list.push({ txid, code: Buffer.from(code.buffer, code.byteOffset, code.length).toString("latin1") });
  }
  return list;
}

/** One entry's encoding on its own: a Merkle leaf of an excluded set. */
export function codedTxidLeaf(entry: CodedTxid): Uint8Array<ArrayBuffer> {
  const codes = codeBytesOf([entry]);
  return writeCodedTxids(BinaryWriter.ofSize(codedTxidsSize(codes)), [entry], codes).finish();
}
