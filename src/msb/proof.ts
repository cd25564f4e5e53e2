/**
 * Proofs-of-existence against Micro State Blocks (white paper §8: "for an unspent output, its
 * Merkle proof against an MSB root"), checked offline.
 *
 * Phases: 1. prove (`proveUtxo`: the output's leaf and RFC 6962 audit path in a snapshot's tree);
 * 2. encode (one binary format below); 3. verify (`verifyUtxoProof`: strict decode, header trust,
 * audit path; the output or a coded MSB_* error). The same for a header path (`proveMsbHeaderPath`,
 * `verifyMsbHeaderPath`): from a trusted later header down to an earlier one through back-pointers.
 *
 * UTXO proof, version 1 (integers little-endian):
 *   u8 version ‖ u16 |header| ‖ header (./header.ts) ‖ leaf [76] (UTXO_ENTRY: txid ‖ u32 index ‖
 *   owner ‖ u64 amount) ‖ u32 position ‖ k × sibling [32]
 * The tree size is the header's count (not repeated), k = merklePathLength(position, count), and
 * the proof ends exactly after the k-th sibling; verification follows RFC 9162 §2.1.3.2 (position
 * and size both bind the path). Every byte is bound once the header is trusted: pass its hash
 * (from a co-signed MSB chain) as `trustedHeaderHash`. Without it the proof only shows the output
 * is in the tree of a header the caller must trust some other way.
 *
 * Header path, version 1: u8 version ‖ u8 n ‖ n × (u16 |header| ‖ header), newest first; header
 * k + 1 is the one back-pointer level i of header k names, with epoch(k + 1) = epoch(k) − 2^i, on
 * the same chain and shard. `skipPath` (./header.ts) chooses the levels: O(log) headers.
 */
import { BinaryReader, BinaryWriter } from "../codec/binary.js";
import { UTXO_ENTRY, HASH_BYTES } from "../codec/sizes.js";
import { merklePathLength, verifyMerkleProof, type MerkleTree } from "../crypto/merkle.js";
import { sameBytes } from "../bytes.js";
import { IosError, check } from "../errors.js";
import { unpackEntry } from "../ledger/utxo-table.js";
import {
  MAX_BACK_POINTER_LEVELS, MAX_MSB_HEADER_BYTES, MSB_CODEC, decodeMsbHeader, encodeMsbHeader, msbHeaderHashOfEncoding, skipPath,
} from "./header.js";
import { findOutpoint } from "./snapshot.js";
import type { MsbErrorCode, MsbHeader, MsbSnapshot, VerifiedUtxo } from "./interface.js";

export const UTXO_PROOF_VERSION = 1;
export const HEADER_PATH_VERSION = 1;
const ENTRY_BYTES = UTXO_ENTRY.bytes;
/** A path never needs more than one header per level, plus the trusted one. */
const MAX_PATH_HEADERS = MAX_BACK_POINTER_LEVELS + 1;

function fail(code: MsbErrorCode, message: string): never {
  throw new IosError<MsbErrorCode>(code, message);
}

/**
 * The proof that output (txid, index) is in `snapshot`, whose header is `header` and tree `tree`
 * (msbTree(snapshot), built once for many proofs). MSB_NOT_FOUND when the output is not there.
 */
export function proveUtxo(header: MsbHeader, snapshot: MsbSnapshot, tree: MerkleTree, txid: Uint8Array, index: number): Uint8Array {
  check<MsbErrorCode>(sameBytes(header.root, snapshot.root) && header.count === snapshot.count && tree.size === snapshot.count && sameBytes(tree.root, snapshot.root),
    "MSB_BAD_INPUT", "header, snapshot and tree describe different sets");
  const position = findOutpoint(snapshot, txid, index);
  if (position === undefined) fail("MSB_NOT_FOUND", `output ${Buffer.from(txid).toString("hex")}:${index} is not in the MSB of epoch ${header.epoch}`);
  const headerBytes = encodeMsbHeader(header);
  const { siblings } = tree.proof(position);
  const writer = BinaryWriter.ofSize(1 + 2 + headerBytes.length + ENTRY_BYTES + 4 + siblings.length * HASH_BYTES)
    .u8(UTXO_PROOF_VERSION).lengthPrefixed("u16", headerBytes)
    .bytes(snapshot.entries.subarray(position * ENTRY_BYTES, (position + 1) * ENTRY_BYTES)).u32(position);
  for (const sibling of siblings) writer.bytes(sibling);
  return writer.finish();
}

/** Reads a u16-prefixed header, and hashes its bytes as they came (the canonical encoding, since decoding is strict). */
function readHeader(reader: BinaryReader<MsbErrorCode>, what: string): { header: MsbHeader; hash: Uint8Array } {
  const bytes = reader.lengthPrefixed("u16", MAX_MSB_HEADER_BYTES, what);
  return { header: decodeMsbHeader(bytes), hash: msbHeaderHashOfEncoding(bytes) };
}

function readVersion(reader: BinaryReader<MsbErrorCode>, expected: number, what: string): void {
  const version = reader.u8(`${what} version`);
  if (version !== expected) reader.fail("MSB_BAD_VERSION", `${what} version ${version}, this program reads ${expected}`);
}

/**
 * The output a UTXO proof shows in its header's body, or a coded error: MSB_UNTRUSTED_HEADER when
 * `trustedHeaderHash` is given and the header is another, MSB_BAD_PROOF when the path does not
 * reach the root, MSB_TRUNCATED / MSB_TRAILING / MSB_OUT_OF_RANGE / MSB_BAD_VERSION / MSB_BAD_FIELD
 * for a malformed encoding.
 */
export function verifyUtxoProof(bytes: Uint8Array, trustedHeaderHash?: Uint8Array): VerifiedUtxo {
  check<MsbErrorCode>(bytes instanceof Uint8Array, "MSB_BAD_INPUT", "a proof is a Uint8Array");
  check<MsbErrorCode>(trustedHeaderHash === undefined || (trustedHeaderHash instanceof Uint8Array && trustedHeaderHash.length === HASH_BYTES),
    "MSB_BAD_INPUT", `a trusted header hash is ${HASH_BYTES} bytes`);
  const reader = new BinaryReader(bytes, MSB_CODEC);
  readVersion(reader, UTXO_PROOF_VERSION, "UTXO proof");
  const { header, hash } = readHeader(reader, "MSB header");
  if (trustedHeaderHash !== undefined && !sameBytes(hash, trustedHeaderHash)) fail("MSB_UNTRUSTED_HEADER", "the proof's header is not the trusted MSB header");
  const leaf = reader.bytes(ENTRY_BYTES, "leaf").slice();
  const entry = unpackEntry(leaf);
  if (entry.amount === 0n) reader.fail("MSB_BAD_FIELD", "a leaf's amount is at least 1");
  const position = reader.u32("position");
  if (position >= header.count) reader.fail("MSB_OUT_OF_RANGE", `position ${position} is not below the count ${header.count}`);
  const length = merklePathLength(position, header.count);
  reader.expectRemaining(length * HASH_BYTES, "the audit path");
  const siblings = Array.from({ length }, (_, i) => reader.bytes(HASH_BYTES, `sibling ${i}`).slice());
  if (!verifyMerkleProof(leaf, { index: position, size: header.count, siblings }, header.root)) {
    fail("MSB_BAD_PROOF", `the audit path of position ${position} does not lead to the header's root`);
  }
  return { header, headerHash: hash, position, entry };
}

/**
 * The header path from msb_{from} down to msb_{to}: `headerOf(epoch)` gives the shard's MSB headers
 * (the MSB chain keeps every one). The first header is the newest, the one the verifier trusts.
 */
export function proveMsbHeaderPath(from: number, to: number, headerOf: (epoch: number) => MsbHeader): Uint8Array {
  const { epochs } = skipPath(from, to);
  const encodings = epochs.map((epoch) => {
    const header = headerOf(epoch);
    check<MsbErrorCode>(header.epoch === epoch, "MSB_BAD_INPUT", `the header given for epoch ${epoch} is epoch ${header.epoch}'s`);
    return encodeMsbHeader(header);
  });
  const writer = BinaryWriter.ofSize(2 + encodings.reduce((n, e) => n + 2 + e.length, 0)).u8(HEADER_PATH_VERSION).u8(encodings.length);
  for (const encoding of encodings) writer.lengthPrefixed("u16", encoding);
  return writer.finish();
}

/**
 * The oldest header of a header path whose first header has hash `trustedHeaderHash`, each next
 * header named by a back-pointer of the one before: MSB_UNTRUSTED_HEADER, MSB_BAD_PATH or a
 * decoding code otherwise. Returns every header of the path, newest first.
 */
export function verifyMsbHeaderPath(bytes: Uint8Array, trustedHeaderHash: Uint8Array): MsbHeader[] {
  check<MsbErrorCode>(bytes instanceof Uint8Array, "MSB_BAD_INPUT", "a header path is a Uint8Array");
  check<MsbErrorCode>(trustedHeaderHash instanceof Uint8Array && trustedHeaderHash.length === HASH_BYTES, "MSB_BAD_INPUT", `a trusted header hash is ${HASH_BYTES} bytes`);
  const reader = new BinaryReader(bytes, MSB_CODEC);
  readVersion(reader, HEADER_PATH_VERSION, "header path");
  const count = reader.u8("header count");
  if (count < 1 || count > MAX_PATH_HEADERS) reader.fail("MSB_OUT_OF_RANGE", `a header path holds 1..${MAX_PATH_HEADERS} headers, not ${count}`);
  const first = readHeader(reader, "header 0");
  if (!sameBytes(first.hash, trustedHeaderHash)) fail("MSB_UNTRUSTED_HEADER", "the path's first header is not the trusted MSB header");
  const headers = [first.header];
  for (let k = 1; k < count; k++) {
    const newer = headers[k - 1]!;
    const { header, hash } = readHeader(reader, `header ${k}`);
    const distance = newer.epoch - header.epoch;
    const level = Math.log2(distance);
    if (!(distance > 0 && Number.isInteger(level) && level < newer.backPointers.length)) {
      fail("MSB_BAD_PATH", `header ${k} (epoch ${header.epoch}) is not a power of two below epoch ${newer.epoch}`);
    }
    if (!sameBytes(newer.backPointers[level]!, hash)) fail("MSB_BAD_PATH", `header ${k} is not the one back-pointer ${level} of epoch ${newer.epoch} names`);
    if (!sameBytes(header.chain, newer.chain) || header.shard !== newer.shard) fail("MSB_BAD_PATH", `header ${k} is of another chain or shard`);
    headers.push(header);
  }
  reader.expectEnd("the header path");
  return headers;
}
