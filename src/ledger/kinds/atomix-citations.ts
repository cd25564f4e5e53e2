/**
 * Unlocks that cite a shared certified part (issue 13): in an encoded block, the certified part
 * every decision proof of one final height repeats — its (epoch, shard, batch, height, view) and
 * the bytes from the proposal body digest to the MSB header hash, ~0.4 KB for a committee of 4 —
 * is written once, in a section before the transactions, and each unlock-to-commit or
 * unlock-to-abort (kinds 2, 3) carries in its place a citation: its decision and inclusion path.
 *
 * Phases:
 *   1. encode (`encodeBlockBody`, the block codec's encoder): every well-framed version-4 proof in
 *      an unlock is cited; its part joins the section at its first citation (parts in order of
 *      first citation, each once). A body with nothing to cite is the plain packed transactions.
 *   2. decode (`decodeBlockBody`, the block codec's decoder): the section is checked (each part
 *      well framed, distinct, cited, in order of first citation) and every citation expanded, so
 *      the decoded body holds each unlock exactly as it was submitted — self-contained, the same
 *      bytes its txid, its stateless checks, the API, MSB proofs and watchers have always seen.
 *      A body encodes one way: a proof that could cite but is inline is refused, as is a citation
 *      in a body without a section.
 *
 * Why a block section and not a transaction carrying the part: a transaction would take a txid, a
 * place in the included root, a record and an execution, and its unlocks would depend on another
 * transaction of the block in their stateless checks; the section is invisible above the codec.
 * Why unlocks are expanded on decode: validation, execution, the pipeline's workers, the API and
 * sync all read unlocks as submitted; carrying the citation above the codec is left for later
 * (docs: /work/notes/doc-atomix-unlock.md). The certified part of a height is still checked once
 * per process (proof.ts `VerifiedCertificates`): the expanded proofs of one part are byte-equal.
 *
 * Encoding of a body with a section, little-endian:
 *   u32 CITED_BODY_MARK (0xffffffff: no transaction is that long, so a plain body never starts so)
 *   ‖ u16 parts (≥ 1) ‖ parts × (u16 |part| ‖ u32 epoch ‖ u32 shard ‖ u16 batch ‖ u64 height ‖
 *   u32 view ‖ certified part) ‖ the transactions (u32 length ‖ encoding), each proof of each
 *   unlock a citation:
 *     u8 CITED_PROOF_VERSION ‖ u8 verdict ‖ u16 part ‖ txid [32] ‖ u8 |code| ‖ code ‖ u16 |path| ‖ path
 *   which expands to the proof (src/atomix/proof.ts module doc):
 *     u8 DECISION_PROOF_VERSION ‖ u8 verdict ‖ the part's head ‖ txid ‖ u8 |code| ‖ code ‖ the
 *     part's certified part ‖ u16 |path| ‖ path
 * Refusals (typed, the block is refused): BLOCK_BAD_PART (a part badly framed), BLOCK_BAD_CITATION
 * (a citation badly framed), BLOCK_CITATION_UNKNOWN (a part the block does not carry),
 * BLOCK_PART_REPEATED, BLOCK_PARTS_OUT_OF_ORDER, BLOCK_PART_UNCITED, BLOCK_PROOF_NOT_CITED; an
 * expansion longer than the header's body size is BLOCK_BAD_FIELD. A forged part, or a citation of
 * another height's part, decodes: the unlock's stateless check refuses it (TX_PROOF_BAD_SIGNATURE,
 * TX_PROOF_BAD_PATH), as it refuses an inline proof so forged.
 *
 * API: `encodeBlockBody`, `decodeBlockBody`; the proof frame's layout (`DECISION_PROOF_VERSION`,
 * `PROOF_HEAD`, `CERTIFIED_COMMITTEE_SIZE_AT`, `certifiedPartBytes`), shared with src/atomix/proof.ts.
 */
import { BinaryReader, BinaryWriter, readU16, readU32, singleCode, type CodecCodes } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { COMMITMENT_PARTS_BYTES, HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { collectiveSignatureBytes } from "../../consensus/cosi/codec.js";
import { IosError } from "../../errors.js";
import { sameBytes } from "../../bytes.js";
import { toHex } from "../../hex.js";
import type { LedgerErrorCode } from "../errors.js";
import { packTransactions } from "../stateless.js";
import { atomixUnlockProofsAt } from "./atomix-unlock.js";
import { TX_VERSION, TxKind } from "./interface.js";

export const DECISION_PROOF_VERSION = 4;
/** A citation's first byte; never a submitted proof's (those are DECISION_PROOF_VERSION). */
export const CITED_PROOF_VERSION = 0x80 | DECISION_PROOF_VERSION;
/** A decision proof's fixed head; its (epoch, shard, batch, height, view) open the certified part. */
export const PROOF_HEAD = layout({ version: 1, verdict: 1, epoch: 4, shard: 4, batch: 2, height: 8, view: 4 });
/** Where the certified part's commit certificate, and its u16 committee size, begins: after the body digest and prepare certificate hash. */
export const CERTIFIED_COMMITTEE_SIZE_AT = 2 * HASH_BYTES;
/** A body with a section opens with this in place of a first transaction's u32 length. */
export const CITED_BODY_MARK = 0xffffffff;
/** Parts in one block: a u16 count (a block cites at most one part per final height it unlocks from). */
const MAX_PARTS = 0xffff;

/** The certified part's size for a committee of `committeeSize`. */
export function certifiedPartBytes(committeeSize: number): number {
  return CERTIFIED_COMMITTEE_SIZE_AT + collectiveSignatureBytes(committeeSize) + COMMITMENT_PARTS_BYTES;
}

/** A part's head in a proof: epoch through view. */
const HEAD_AT = PROOF_HEAD.offset.epoch;
const HEAD_BYTES = PROOF_HEAD.bytes - HEAD_AT;
/** A citation's fixed head: version, verdict, part index. */
const CITATION_HEAD = layout({ version: 1, verdict: 1, part: 2 });

const PART_CODES = singleCode<LedgerErrorCode>("BLOCK_BAD_PART");
const CITATION_CODES = singleCode<LedgerErrorCode>("BLOCK_BAD_CITATION");

/**
 * Where a well-framed version-4 proof's certified part lies (its head is always at HEAD_AT), or
 * undefined: the proof is cited exactly when this is defined, by the encoder and the decoder alike.
 * Framing only: what the part says is the stateless check's to verify.
 */
function citableExtent(proof: Uint8Array): { readonly certifiedAt: number; readonly certifiedEnd: number } | undefined {
  const codeAt = PROOF_HEAD.bytes + TXID_BYTES;
  if (proof.length <= codeAt || proof[0] !== DECISION_PROOF_VERSION) return undefined;
  const certifiedAt = codeAt + 1 + proof[codeAt]!;
  if (proof.length < certifiedAt + CERTIFIED_COMMITTEE_SIZE_AT + 2) return undefined;
  const certifiedEnd = certifiedAt + certifiedPartBytes(readU16(proof, certifiedAt + CERTIFIED_COMMITTEE_SIZE_AT));
  if (proof.length < certifiedEnd + 2 || readU16(proof, certifiedEnd) !== proof.length - certifiedEnd - 2) return undefined;
  return { certifiedAt, certifiedEnd };
}

/** Whether `tx` is framed as an unlock (version, kind 2 or 3): the only transactions whose proofs are cited. */
function isUnlock(tx: Uint8Array): boolean {
  return tx.length >= 2 && tx[0] === TX_VERSION && (tx[1] === TxKind.AtomixUnlockCommit || tx[1] === TxKind.AtomixUnlockAbort);
}

/**
 * The proofs of an unlock as views, with where its proof list begins; undefined when its framing
 * breaks (the block's transaction scan refuses it: nothing is cited in it, nothing expanded).
 */
function proofsOfUnlock(tx: Uint8Array): { readonly countAt: number; readonly proofs: Uint8Array[] } | undefined {
  if (!isUnlock(tx) || tx.length < 4) return undefined;
  const countAt = atomixUnlockProofsAt(tx);
  if (countAt >= tx.length) return undefined;
  const proofs: Uint8Array[] = [];
  let at = countAt + 1;
  for (let k = 0; k < tx[countAt]!; k++) {
    if (at + 2 > tx.length) return undefined;
    const end = at + 2 + readU16(tx, at);
    if (end > tx.length) return undefined;
    proofs.push(tx.subarray(at + 2, end));
    at = end;
  }
  return at === tx.length ? { countAt, proofs } : undefined;
}

/** The parts of a body, found by head then compared whole (parts of one head rarely differ: another view's, a forgery). */
class PartIndex {
  readonly parts: Uint8Array[] = [];
  readonly #byHead = new Map<string, number[]>();

  /** The index of `part`, or undefined. */
  find(part: Uint8Array): number | undefined {
    return this.#byHead.get(toHex(part.subarray(0, HEAD_BYTES)))?.find((k) => sameBytes(this.parts[k]!, part));
  }

  add(part: Uint8Array): number {
    const key = toHex(part.subarray(0, HEAD_BYTES));
    const list = this.#byHead.get(key) ?? [];
    list.push(this.parts.length);
    this.#byHead.set(key, list);
    this.parts.push(part);
    return this.parts.length - 1;
  }
}

/** The part a citable proof shares: its head ‖ its certified part. */
function partOf(proof: Uint8Array, certifiedAt: number, certifiedEnd: number): Uint8Array {
  const part = new Uint8Array(HEAD_BYTES + certifiedEnd - certifiedAt);
  part.set(proof.subarray(HEAD_AT, HEAD_AT + HEAD_BYTES));
  part.set(proof.subarray(certifiedAt, certifiedEnd), HEAD_BYTES);
  return part;
}

/** `proof` (citable) as a citation of part `index`. */
function citationOf(proof: Uint8Array, index: number, certifiedAt: number, certifiedEnd: number): Uint8Array {
  const decision = proof.subarray(PROOF_HEAD.bytes, certifiedAt);
  const path = proof.subarray(certifiedEnd);
  return BinaryWriter.ofSize(CITATION_HEAD.bytes + decision.length + path.length)
    .u8(CITED_PROOF_VERSION).u8(proof[PROOF_HEAD.offset.verdict]!).u16(index).bytes(decision).bytes(path).finish();
}

/** An unlock with each proof replaced by `rewrite(proof)`, or `tx` itself when none changed. */
function rewriteProofs(tx: Uint8Array, countAt: number, proofs: readonly Uint8Array[], rewrite: (proof: Uint8Array) => Uint8Array): Uint8Array {
  const rewritten = proofs.map(rewrite);
  if (rewritten.every((proof, k) => proof === proofs[k])) return tx;
  const writer = BinaryWriter.ofSize(countAt + 1 + rewritten.reduce((n, proof) => n + 2 + proof.length, 0)).bytes(tx.subarray(0, countAt + 1));
  for (const proof of rewritten) writer.lengthPrefixed("u16", proof);
  return writer.finish();
}

/**
 * The body region of a block holding `transactions` (module doc, phase 1): the packed
 * transactions, or the section and the transactions with their unlocks' proofs cited.
 */
export function encodeBlockBody(transactions: readonly Uint8Array[]): Uint8Array {
  const index = new PartIndex();
  const cited = transactions.map((tx) => {
    const unlock = proofsOfUnlock(tx);
    if (unlock === undefined) return tx;
    return rewriteProofs(tx, unlock.countAt, unlock.proofs, (proof) => {
      const extent = citableExtent(proof);
      if (extent === undefined) return proof;
      const part = partOf(proof, extent.certifiedAt, extent.certifiedEnd);
      return citationOf(proof, index.find(part) ?? index.add(part), extent.certifiedAt, extent.certifiedEnd);
    });
  });
  const { parts } = index;
  if (parts.length === 0) return packTransactions(transactions);
  if (parts.length > MAX_PARTS) throw new IosError<LedgerErrorCode>("BLOCK_BAD_FIELD", `${parts.length} certified parts exceed ${MAX_PARTS}`);
  const sectionBytes = 4 + 2 + parts.reduce((n, part) => n + 2 + part.length, 0);
  const body = packTransactions(cited, sectionBytes);
  const writer = new BinaryWriter(body, 0).u32(CITED_BODY_MARK).u16(parts.length);
  for (const part of parts) writer.lengthPrefixed("u16", part);
  return body;
}

/** Whether a body region of `txCount` transactions opens with a section of certified parts. */
export function startsSection(region: Uint8Array, txCount: number): boolean {
  return txCount > 0 && region.length >= 4 && readU32(region, 0) === CITED_BODY_MARK;
}

/**
 * The packed transactions (u32 length ‖ encoding, each unlock as submitted) of a body region
 * (module doc, phase 2), `txCount` of them and at most `maxBytes` in all. A plain region is
 * returned as is (a view) once checked to cite nothing and to carry no citable proof inline.
 * Framing errors of the transactions themselves are left to the block's own decoding.
 */
export function decodeBlockBody(region: Uint8Array, txCount: number, maxBytes: number, codes: CodecCodes<LedgerErrorCode>): Uint8Array {
  const sectioned = startsSection(region, txCount);
  const parts: Uint8Array[] = [];
  const reader = new BinaryReader(region, codes);
  if (sectioned) {
    const section = new BinaryReader(region, PART_CODES, 4);
    const count = section.u16("part count");
    if (count === 0) throw new IosError<LedgerErrorCode>("BLOCK_BAD_PART", "a section carries at least one part");
    const index = new PartIndex();
    for (let k = 0; k < count; k++) {
      const part = section.lengthPrefixed("u16", 0xffff, `part ${k}`);
      if (part.length < HEAD_BYTES + CERTIFIED_COMMITTEE_SIZE_AT + 2 || part.length !== HEAD_BYTES + certifiedPartBytes(readU16(part, HEAD_BYTES + CERTIFIED_COMMITTEE_SIZE_AT))) {
        throw new IosError<LedgerErrorCode>("BLOCK_BAD_PART", `part ${k} is not a head and a certified part`);
      }
      if (index.find(part) !== undefined) throw new IosError<LedgerErrorCode>("BLOCK_PART_REPEATED", `part ${k} repeats an earlier one`);
      index.add(part);
      parts.push(part);
    }
    reader.at = section.at;
  }
  const transactions: Uint8Array[] = [];
  let cited = 0;
  let size = 0;
  const expand = (proof: Uint8Array): Uint8Array => {
    if (proof[0] !== CITED_PROOF_VERSION) {
      if (citableExtent(proof) !== undefined) throw new IosError<LedgerErrorCode>("BLOCK_PROOF_NOT_CITED", "an unlock carries inline a proof whose certified part it must cite");
      return proof;
    }
    if (proof.length < CITATION_HEAD.bytes) throw new IosError<LedgerErrorCode>("BLOCK_BAD_CITATION", "a citation is shorter than its head");
    const citation = new BinaryReader(proof, CITATION_CODES, CITATION_HEAD.bytes);
    const k = readU16(proof, CITATION_HEAD.offset.part);
    if (k >= parts.length) throw new IosError<LedgerErrorCode>("BLOCK_CITATION_UNKNOWN", `a citation of part ${k}; the block carries ${parts.length}`);
    if (k > cited) throw new IosError<LedgerErrorCode>("BLOCK_PARTS_OUT_OF_ORDER", `part ${k} is cited before part ${cited}`);
    if (k === cited) cited++;
    citation.advance(TXID_BYTES, "txid");
    citation.advance(citation.u8("code length"), "code");
    const decisionEnd = citation.at;
    citation.advance(citation.u16("path length"), "path");
    citation.expectEnd("the path");
    const part = parts[k]!;
    return BinaryWriter.ofSize(proof.length - CITATION_HEAD.bytes + PROOF_HEAD.bytes + part.length - HEAD_BYTES)
      .u8(DECISION_PROOF_VERSION).u8(proof[CITATION_HEAD.offset.verdict]!).bytes(part.subarray(0, HEAD_BYTES))
      .bytes(proof.subarray(CITATION_HEAD.bytes, decisionEnd)).bytes(part.subarray(HEAD_BYTES)).bytes(proof.subarray(decisionEnd))
      .finish();
  };
  while (transactions.length < txCount) {
    let tx = reader.lengthPrefixed("u32", maxBytes, `transaction ${transactions.length}`);
    const unlock = proofsOfUnlock(tx);
    if (unlock !== undefined) tx = rewriteProofs(tx, unlock.countAt, unlock.proofs, expand);
    size += 4 + tx.length;
    if (size > maxBytes) throw new IosError<LedgerErrorCode>("BLOCK_BAD_FIELD", `the body expands beyond the header's ${maxBytes} bytes`);
    transactions.push(tx);
  }
  reader.expectEnd(`transaction ${transactions.length - 1}`);
  if (cited < parts.length) throw new IosError<LedgerErrorCode>("BLOCK_PART_UNCITED", `part ${cited} of ${parts.length} is cited by no unlock`);
  return sectioned ? packTransactions(transactions) : region;
}
