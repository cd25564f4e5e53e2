/**
 * Blocks: canonical little-endian encoding and strict decoding (DESIGN.md §3–4; white paper §8,
 * PoB: a leader's optimistic block, then the shard's collectively signed final block).
 *
 *   header (HEADER_BYTES = 162, hashed: block hash = SHA-256(header))
 *     0   version u8 (BLOCK_VERSION)      1   kind u8 (BlockKind)
 *     2   shard u32                       6   epoch u32
 *     10  height u64                      18  previous block hash [32]
 *     50  tx root [32]                    82  timestamp u64 (ms since the Unix epoch)
 *     90  producer public key [32]        122 tx count u32
 *     126 body bytes u32                 130 body root [32]
 *   seal (signs the block hash)
 *     optimistic: producer's Ed25519 signature [64]
 *     final:      u16 bitmask bytes (1..MAX_BITMASK_BYTES) ‖ participation bitmask ‖ CoSi signature [64]
 *   body: tx count × (u32 length ‖ encoded transaction); when unlocks carry decision proofs, the
 *         encoded body opens with a section of the final heights' certified parts the proofs
 *         share, and each proof cites its part (src/ledger/kinds/atomix-citations.ts): decoding
 *         gives the body back as submitted, and the header's body bytes count that form.
 *
 * tx root = Merkle root (RFC 6962 tree of src/crypto/merkle.ts) of the txids in body order.
 * body root = Merkle root of the transactions' full encodings (leaf i = the i-th transaction as
 * submitted, signatures and proofs included), in body order. A txid leaves out what authorizes a
 * transaction (signatures, an unlock's proofs): the tx root alone would let a relay hand some
 * members a copy whose signature or proof differs under the same block hash, and they would judge
 * it differently from the rest (issue 13; docs/ARCHITECTURE.md, Ledger, "Blocks", has the audit). The body
 * root binds every byte any member judges: the seal signs the block hash, the hash covers the
 * header, the header the full encodings; the encoded body's citation section is canonical
 * (atomix-citations.ts: one encoding per expanded body), so it is bound through the expansion. A
 * Merkle root rather than one SHA-256 of the body: one transaction's full bytes can be proven
 * against the header alone (PoB evidence, MSB proofs of an unlock as stored), for n − 1 more
 * 65-byte hashes per block.
 * Phases of decoding: the header; limits and the seal's framing; the body's section and citations
 * checked, the body expanded and its body root compared (BLOCK_BODY_ROOT_MISMATCH, before any
 * transaction is judged); for a whole block, each transaction's structure and the tx root.
 *
 * API: `makeBlockHeader(fields, transactions, txids?, roots?)`, `txidsOf(transactions)`, `bodyRootOf(transactions)`, `encodeBlockHeader(header)`, `blockHash(header)`,
 * `encodeBlock(header, seal, transactions)` (`encodeBlockWithBody` also gives the decoded body), `decodeBlock(bytes)`, `decodeBlockEnvelope(bytes)`
 * (header + seal + raw body, for handing the body to `validateStateless`), `decodeBlockHeader(bytes)`
 * (the header alone, e.g. inside PoB evidence), `txRootOf(txids)`,
 * `sealOptimistic(header, producer)`.
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { merkleRoot, merkleRootAndLeafHashes, merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { defaultSha256Wasm, sha256 } from "../crypto/sha256.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode, type TransactionFailureDetail } from "./errors.js";
import { signMessage, type KeyPair } from "./keys.js";
import { scanTransaction } from "./kinds/registry.js";
import { packTransactions, unpackTransactions } from "./stateless.js";
import { encodeBlockBody, readBlockBody, startsSection } from "./kinds/atomix-citations.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import { sameBytes } from "../bytes.js";

/** 2: the header gained the body root (a version-1 header binds no signature or proof). */
export const BLOCK_VERSION = 2;

export const BlockKind = {
  /** Proposed by the shard leader, signed by it alone (PoB optimistic phase). */
  Optimistic: 0,
  /** Agreed by the shard, with a collective signature over the block hash. */
  Final: 1,
} as const;
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

/** The header's fields in order (the diagram above; encode and decode go through them in this order); the block hash is SHA-256 of these bytes. */
const HEADER = layout({
  version: 1,
  kind: 1,
  shard: 4,
  epoch: 4,
  height: 8,
  prevHash: HASH_BYTES,
  txRoot: HASH_BYTES,
  timestamp: 8,
  producer: PUBLIC_KEY_BYTES,
  txCount: 4,
  bodyBytes: 4,
  bodyRoot: HASH_BYTES,
});
export const HEADER_BYTES = HEADER.bytes;
/**
 * Transactions per block. 16,384 is well above one second of the devnet target (10k tx/s over two
 * shards) and keeps one block's apply and signature work bounded.
 */
export const MAX_BLOCK_TXS = 16_384;
/** Encoded block size: 4 MiB holds MAX_BLOCK_TXS one-input two-output transfers (222 B framed). */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024;
/** Participation bitmask: 128 bytes = up to 1,024 validators per shard. */
export const MAX_BITMASK_BYTES = 128;

export interface BlockHeaderFields {
  readonly kind: BlockKind;
  readonly shard: number;
  readonly epoch: number;
  readonly height: number;
  readonly prevHash: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly producer: Uint8Array;
}

export interface BlockHeader extends BlockHeaderFields {
  readonly txRoot: Uint8Array;
  readonly txCount: number;
  readonly bodyBytes: number;
  /** Merkle root of the full encodings (module doc). */
  readonly bodyRoot: Uint8Array;
}

export type BlockSeal =
  | { readonly kind: "producer"; readonly signature: Uint8Array }
  | { readonly kind: "collective"; readonly participants: Uint8Array; readonly signature: Uint8Array };

export interface BlockEnvelope {
  readonly header: BlockHeader;
  readonly seal: BlockSeal;
  readonly hash: Uint8Array;
  /** The framed transactions (u32 length ‖ encoding, repeated): input of `validateStateless`. */
  readonly body: Uint8Array;
}

export interface DecodedBlock extends BlockEnvelope {
  /** Encoded transactions, views into the decoded bytes. */
  readonly transactions: Uint8Array[];
  /** txCount × 32 bytes of txids in body order. */
  readonly txids: Uint8Array;
  /**
   * txCount × 32 bytes: the body root's leaf hashes (`merkleLeafHash` of each transaction), in
   * body order, kept from the root's check so a tree over some of these transactions (a PoB
   * final block's body) hashes none of them again.
   */
  readonly leafHashes: Uint8Array;
}

const BLOCK_CODES: CodecCodes<LedgerErrorCode> = {
  truncated: "BLOCK_TRUNCATED",
  trailing: "BLOCK_TRAILING_BYTES",
  tooLarge: "BLOCK_TOO_LARGE",
  outOfRange: "BLOCK_BAD_FIELD",
};

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isU53(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function checkFields(fields: BlockHeaderFields): void {
  check<LedgerErrorCode>(fields.kind === BlockKind.Optimistic || fields.kind === BlockKind.Final, "BLOCK_UNKNOWN_KIND", `kind ${fields.kind} is not defined`);
  check<LedgerErrorCode>(isU32(fields.shard), "BLOCK_BAD_FIELD", "shard must be a u32");
  check<LedgerErrorCode>(isU32(fields.epoch), "BLOCK_BAD_FIELD", "epoch must be a u32");
  check<LedgerErrorCode>(isU53(fields.height), "BLOCK_BAD_FIELD", "height must be a non-negative safe integer");
  check<LedgerErrorCode>(isU53(fields.timestamp), "BLOCK_BAD_FIELD", "timestamp must be a non-negative safe integer");
  check<LedgerErrorCode>(fields.prevHash.length === HASH_BYTES, "BLOCK_BAD_FIELD", `prevHash must be ${HASH_BYTES} bytes`);
  check<LedgerErrorCode>(fields.producer.length === PUBLIC_KEY_BYTES, "BLOCK_BAD_FIELD", `producer must be ${PUBLIC_KEY_BYTES} bytes`);
}

/** RFC 6962 Merkle root of the full encodings of `transactions`, in order: the header's body root. */
export function bodyRootOf(transactions: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(transactions);
}

/** RFC 6962 Merkle root of packed 32-byte txids. */
export function txRootOf(txids: Uint8Array): Uint8Array {
  return merkleRootOfPackedLeaves(txids, TXID_BYTES);
}

/** txids of encoded transactions, packed; throws BLOCK_BAD_TRANSACTION on a malformed one. */
export function txidsOf(transactions: readonly Uint8Array[]): Uint8Array {
  const txids = new Uint8Array(transactions.length * TXID_BYTES);
  const sha = defaultSha256Wasm();
  transactions.forEach((tx, i) => {
    let unsignedEnd: number;
    try {
      unsignedEnd = scanTransaction(tx).unsignedEnd;
    } catch (error) {
      if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
      throw new IosError<LedgerErrorCode, TransactionFailureDetail>("BLOCK_BAD_TRANSACTION", `transaction ${i}: ${error.message}`, { index: i, code: error.code });
    }
    sha.digestToOut(tx.subarray(0, unsignedEnd));
    txids.set(sha.out, i * TXID_BYTES);
  });
  return txids;
}

/** A block's two roots as a caller already holds them: a PoB final block's certified commitment carries both. */
export interface BlockRoots {
  /** `txRootOf` the body's txids. */
  readonly txRoot: Uint8Array;
  /** `bodyRootOf` the body's transactions. */
  readonly bodyRoot: Uint8Array;
}

/**
 * The full header of a block holding `transactions` (encoded), computing roots, count and size.
 * A caller that already holds their txids (packed, body order, e.g. from the worker pool's
 * validation) passes them, which spares hashing every transaction again; one that holds both
 * roots (`roots`) hashes nothing. It vouches they match.
 */
export function makeBlockHeader(fields: BlockHeaderFields, transactions: readonly Uint8Array[], txids?: Uint8Array, roots?: BlockRoots): BlockHeader {
  checkFields(fields);
  check<LedgerErrorCode>(transactions.length <= MAX_BLOCK_TXS, "BLOCK_TOO_MANY_TXS", `${transactions.length} transactions exceed MAX_BLOCK_TXS = ${MAX_BLOCK_TXS}`);
  check<LedgerErrorCode>(txids === undefined || txids.length === transactions.length * TXID_BYTES, "BLOCK_BAD_FIELD", `${transactions.length} transactions need ${transactions.length * TXID_BYTES} bytes of txids`);
  check<LedgerErrorCode>(roots === undefined || (roots.txRoot.length === HASH_BYTES && roots.bodyRoot.length === HASH_BYTES), "BLOCK_BAD_FIELD", `a root is ${HASH_BYTES} bytes`);
  const bodyBytes = transactions.reduce((sum, tx) => sum + 4 + tx.length, 0);
  check<LedgerErrorCode>(bodyBytes <= MAX_BLOCK_BYTES, "BLOCK_TOO_LARGE", `body of ${bodyBytes} bytes exceeds MAX_BLOCK_BYTES = ${MAX_BLOCK_BYTES}`);
  return {
    ...fields,
    txRoot: roots?.txRoot ?? txRootOf(txids ?? txidsOf(transactions)),
    txCount: transactions.length,
    bodyBytes,
    bodyRoot: roots?.bodyRoot ?? bodyRootOf(transactions),
  };
}

export function encodeBlockHeader(header: BlockHeader): Uint8Array {
  checkFields(header);
  check<LedgerErrorCode>(header.txRoot.length === HASH_BYTES && header.bodyRoot.length === HASH_BYTES, "BLOCK_BAD_FIELD", `txRoot and bodyRoot must be ${HASH_BYTES} bytes`);
  check<LedgerErrorCode>(isU32(header.txCount) && isU32(header.bodyBytes), "BLOCK_BAD_FIELD", "txCount and bodyBytes must be u32");
  return BinaryWriter.ofSize(HEADER_BYTES)
    .u8(BLOCK_VERSION)
    .u8(header.kind)
    .u32(header.shard)
    .u32(header.epoch)
    .u64(header.height)
    .bytes(header.prevHash)
    .bytes(header.txRoot)
    .u64(header.timestamp)
    .bytes(header.producer)
    .u32(header.txCount)
    .u32(header.bodyBytes)
    .bytes(header.bodyRoot)
    .finish();
}

export function blockHash(header: BlockHeader): Uint8Array {
  return sha256(encodeBlockHeader(header));
}

/** The producer's seal of an optimistic block: its signature over the block hash. */
export function sealOptimistic(header: BlockHeader, producer: KeyPair): BlockSeal {
  return { kind: "producer", signature: signMessage(producer.secretKey, blockHash(header)) };
}

function sealBytes(seal: BlockSeal): number {
  return seal.kind === "producer" ? SIGNATURE_BYTES : 2 + seal.participants.length + SIGNATURE_BYTES;
}

export function encodeBlock(header: BlockHeader, seal: BlockSeal, transactions: readonly Uint8Array[]): Uint8Array {
  return encodeBlockWithBody(header, seal, transactions).bytes;
}

/** `encodeBlock`, with the block's body as decoding gives it back (packed, unlocks as submitted): a view of the bytes unless unlocks cite. */
export function encodeBlockWithBody(header: BlockHeader, seal: BlockSeal, transactions: readonly Uint8Array[]): { readonly bytes: Uint8Array; readonly body: Uint8Array } {
  const encodedHeader = encodeBlockHeader(header);
  const expectedSeal = header.kind === BlockKind.Optimistic ? "producer" : "collective";
  check<LedgerErrorCode>(seal.kind === expectedSeal, "BLOCK_BAD_FIELD", `a ${expectedSeal === "producer" ? "optimistic" : "final"} block needs a ${expectedSeal} seal`);
  check<LedgerErrorCode>(seal.signature.length === SIGNATURE_BYTES, "BLOCK_BAD_FIELD", `seal signature must be ${SIGNATURE_BYTES} bytes`);
  if (seal.kind === "collective") {
    check<LedgerErrorCode>(seal.participants.length >= 1 && seal.participants.length <= MAX_BITMASK_BYTES, "BLOCK_BAD_BITMASK",
      `bitmask must be 1..${MAX_BITMASK_BYTES} bytes, got ${seal.participants.length}`);
  }
  const bodyBytes = transactions.reduce((sum, tx) => sum + 4 + tx.length, 0);
  check<LedgerErrorCode>(transactions.length === header.txCount && bodyBytes === header.bodyBytes, "BLOCK_BAD_FIELD", "header txCount/bodyBytes do not match the transactions");
  const region = encodeBlockBody(transactions);
  const size = HEADER_BYTES + sealBytes(seal) + region.length;
  check<LedgerErrorCode>(size <= MAX_BLOCK_BYTES, "BLOCK_TOO_LARGE", `${size} bytes exceed MAX_BLOCK_BYTES = ${MAX_BLOCK_BYTES}`);
  const writer = BinaryWriter.ofSize(size).bytes(encodedHeader);
  if (seal.kind === "collective") writer.lengthPrefixed("u16", seal.participants);
  const bytes = writer.bytes(seal.signature).bytes(region).finish();
  return { bytes, body: region.length === bodyBytes ? bytes.subarray(size - bodyBytes) : packTransactions(transactions) };
}

/**
 * Decodes the first HEADER_BYTES of `bytes` as a header: version, kind and the 2^53 - 1 bound on
 * height and timestamp. Block limits (tx count, body size) are the envelope's to check.
 */
export function decodeBlockHeader(bytes: Uint8Array): BlockHeader {
  const reader = new BinaryReader(bytes, BLOCK_CODES);
  reader.need(HEADER_BYTES, "the header");
  const version = reader.u8();
  check<LedgerErrorCode>(version === BLOCK_VERSION, "BLOCK_UNKNOWN_VERSION", `version ${version} is not ${BLOCK_VERSION}`);
  const kind = reader.u8();
  check<LedgerErrorCode>(kind === BlockKind.Optimistic || kind === BlockKind.Final, "BLOCK_UNKNOWN_KIND", `kind ${kind} is not defined`);
  return {
    kind: kind as BlockKind,
    shard: reader.u32(),
    epoch: reader.u32(),
    height: reader.u53("height"),
    prevHash: reader.bytes(HASH_BYTES).slice(),
    txRoot: reader.bytes(HASH_BYTES).slice(),
    timestamp: reader.u53("timestamp"),
    producer: reader.bytes(PUBLIC_KEY_BYTES).slice(),
    txCount: reader.u32(),
    bodyBytes: reader.u32(),
    bodyRoot: reader.bytes(HASH_BYTES).slice(),
  };
}

/**
 * Decodes header and seal and the body, checking all lengths and the body root, without
 * decoding transactions: every byte a member judges is then the one its block hash binds.
 */
export function decodeBlockEnvelope(bytes: Uint8Array): BlockEnvelope {
  return readEnvelope(bytes).envelope;
}

/** `decodeBlockEnvelope`, with the body's transactions (views) it split to check the body root, and their leaf hashes. */
function readEnvelope(bytes: Uint8Array): { readonly envelope: BlockEnvelope; readonly transactions: Uint8Array[]; readonly leafHashes: Uint8Array } {
  check<LedgerErrorCode>(bytes.length <= MAX_BLOCK_BYTES, "BLOCK_TOO_LARGE", `${bytes.length} bytes exceed MAX_BLOCK_BYTES = ${MAX_BLOCK_BYTES}`);
  const header = decodeBlockHeader(bytes);
  const { kind, txCount, bodyBytes } = header;
  check<LedgerErrorCode>(txCount <= MAX_BLOCK_TXS, "BLOCK_TOO_MANY_TXS", `${txCount} transactions exceed MAX_BLOCK_TXS = ${MAX_BLOCK_TXS}`);
  check<LedgerErrorCode>(bodyBytes <= MAX_BLOCK_BYTES, "BLOCK_TOO_LARGE", `body of ${bodyBytes} bytes exceeds MAX_BLOCK_BYTES = ${MAX_BLOCK_BYTES}`);
  const reader = new BinaryReader(bytes, BLOCK_CODES, HEADER_BYTES);
  let seal: BlockSeal;
  if (kind === BlockKind.Optimistic) {
    seal = { kind: "producer", signature: reader.bytes(SIGNATURE_BYTES, "producer signature").slice() };
  } else {
    const bitmaskBytes = reader.u16("bitmask length");
    check<LedgerErrorCode>(bitmaskBytes >= 1 && bitmaskBytes <= MAX_BITMASK_BYTES, "BLOCK_BAD_BITMASK", `bitmask must be 1..${MAX_BITMASK_BYTES} bytes, got ${bitmaskBytes}`);
    const participants = reader.bytes(bitmaskBytes, "bitmask").slice();
    seal = { kind: "collective", participants, signature: reader.bytes(SIGNATURE_BYTES, "collective signature").slice() };
  }
  const region = bytes.subarray(reader.at);
  // A region of the header's body size is plain packed transactions (a sectioned one of that size expands beyond it: refused below).
  if (region.length !== bodyBytes && !startsSection(region, txCount)) reader.expectRemaining(bodyBytes, "the body");
  const { bytes: expandedBytes, expand } = readBlockBody(region, txCount, bodyBytes, BLOCK_CODES);
  check<LedgerErrorCode>(expandedBytes === bodyBytes, "BLOCK_BAD_FIELD", `the body expands to ${expandedBytes} bytes, the header says ${bodyBytes}`);
  // The body root is over the unlocks as submitted: the expansion is what every member judges.
  const body = expand();
  const transactions = unpackTransactions(body, BLOCK_CODES, txCount);
  const { root, leafHashes } = merkleRootAndLeafHashes(transactions);
  check<LedgerErrorCode>(sameBytes(root, header.bodyRoot), "BLOCK_BODY_ROOT_MISMATCH", "the body's transactions do not give the header's body root");
  return { envelope: { header, seal, hash: sha256(bytes.subarray(0, HEADER_BYTES)), body }, transactions, leafHashes };
}

/** Strict decode of a whole block: envelope (body root included), framing, every transaction's structure, the tx root. */
export function decodeBlock(bytes: Uint8Array): DecodedBlock {
  const { envelope, transactions, leafHashes } = readEnvelope(bytes);
  const { header } = envelope;
  const txids = txidsOf(transactions);
  const root = txRootOf(txids);
  check<LedgerErrorCode>(Buffer.compare(root, header.txRoot) === 0, "BLOCK_TX_ROOT_MISMATCH", "tx root does not match the transactions");
  return { ...envelope, transactions, txids, leafHashes };
}
