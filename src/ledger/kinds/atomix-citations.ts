/**
 * Unlocks that cite a shared certified part (issue 13): in an encoded block, the certified part
 * every decision proof of one final height repeats — its (epoch, shard, batch, height, view) and
 * the bytes from the proposal body digest to the previous block hash, ~0.4 KB for a committee of 4 —
 * is written once, in a section before the transactions, and each unlock-to-commit or
 * unlock-to-abort (kinds 2, 3) carries in its place a citation: its decision and inclusion path.
 *
 * Phases:
 *   1. encode (`encodeBlockBody`, the block codec's encoder): every well-framed version-5 proof in
 *      an unlock is cited; its part joins the section at its first citation (parts in order of
 *      first citation, each once). A body with nothing to cite is the plain packed transactions.
 *   2. decode (`readBlockBody`, the block codec's decoder): the section is checked (each part
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
 * (docs/ARCHITECTURE.md, Atomix, "Unlocks cite their heights' shared certified part"). The certified part of a height is still checked once
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
 * API: `encodeBlockBody`, `readBlockBody` (checks, sizes, and expands on demand), `startsSection`; the proof frame's layout (`DECISION_PROOF_VERSION`,
 * `PROOF_HEAD`, `CERTIFIED_COMMITTEE_SIZE_AT`, `certifiedPartBytes`), shared with src/atomix/proof.ts.
 */
import { BinaryReader, readU16, readU32, singleCode, writeU16, writeU32, type CodecCodes } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { COMMITMENT_PARTS_BYTES, HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { collectiveSignatureBytes } from "../../consensus/cosi/codec.js";
import { IosError, invariant } from "../../errors.js";
import { sameBytes } from "../../bytes.js";
import { toHex } from "../../hex.js";
import type { LedgerErrorCode } from "../errors.js";
import { packTransactions } from "../stateless.js";
import { atomixUnlockProofsAt } from "./atomix-unlock.js";
import { TX_VERSION, TxKind } from "./interface.js";

export const DECISION_PROOF_VERSION = 5;
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
 * Where a well-framed current-version proof's certified part lies (its head is always at HEAD_AT), or
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
  return tx.length >= 4 && tx[0] === TX_VERSION && (tx[1] === TxKind.AtomixUnlockCommit || tx[1] === TxKind.AtomixUnlockAbort);
}

/**
 * Where an unlock's proof list begins (its u8 count), if its proof entries (u16 length ‖ proof)
 * frame it to its end; else undefined: the block's transaction scan refuses it, and nothing in it
 * is cited or expanded. Visits each proof as (start, end) offsets in `tx`.
 */
function eachProof(tx: Uint8Array, visit?: (start: number, end: number) => void): number | undefined {
  if (!isUnlock(tx)) return undefined;
  const countAt = atomixUnlockProofsAt(tx);
  if (countAt >= tx.length) return undefined;
  let at = countAt + 1;
  for (let k = 0; k < tx[countAt]!; k++) {
    if (at + 2 > tx.length) return undefined;
    at += 2 + readU16(tx, at);
  }
  if (at !== tx.length) return undefined;
  if (visit !== undefined) {
    at = countAt + 1;
    for (let k = 0; k < tx[countAt]!; k++) {
      const end = at + 2 + readU16(tx, at);
      visit(at + 2, end);
      at = end;
    }
  }
  return countAt;
}

/** The parts of a body, found by head then compared whole (parts of one head rarely differ: another view's, a forgery). */
class PartIndex {
  readonly parts: Uint8Array[] = [];
  readonly #byHead = new Map<string, number[]>();

  /** The part found last: the unlocks of a block cite few heights, in runs. */
  #last = -1;

  /** The index of the part whose head is `head` and certified bytes `certified`, or undefined. */
  find(head: Uint8Array, certified: Uint8Array): number | undefined {
    if (this.#last >= 0 && this.#is(this.#last, head, certified)) return this.#last;
    const found = this.#byHead.get(toHex(head))?.find((k) => this.#is(k, head, certified));
    if (found !== undefined) this.#last = found;
    return found;
  }

  #is(k: number, head: Uint8Array, certified: Uint8Array): boolean {
    const part = this.parts[k]!;
    return part.length === HEAD_BYTES + certified.length && sameBytes(part.subarray(0, HEAD_BYTES), head) && sameBytes(part.subarray(HEAD_BYTES), certified);
  }

  /** Adds the part (head ‖ certified, copied); its index. */
  add(head: Uint8Array, certified: Uint8Array): number {
    const part = new Uint8Array(HEAD_BYTES + certified.length);
    part.set(head);
    part.set(certified, HEAD_BYTES);
    const key = toHex(head);
    this.#byHead.set(key, [...(this.#byHead.get(key) ?? []), this.parts.length]);
    this.parts.push(part);
    this.#last = this.parts.length - 1;
    return this.#last;
  }
}

/**
 * The body region of a block holding `transactions` (module doc, phase 1): the packed
 * transactions, or the section and the transactions with their unlocks' proofs cited. Two passes:
 * the parts and sizes, then one buffer written in place.
 */
export function encodeBlockBody(transactions: readonly Uint8Array[]): Uint8Array {
  const index = new PartIndex();
  /** Per transaction: its size in the body, and for an unlock with citations, each proof's part (−1: inline). */
  const citations: (number[] | undefined)[] = [];
  let txBytes = 0;
  for (const tx of transactions) {
    let size = tx.length;
    const cites: number[] = [];
    eachProof(tx, (start, end) => {
      const proof = tx.subarray(start, end);
      const extent = citableExtent(proof);
      if (extent === undefined) return void cites.push(-1);
      const head = proof.subarray(HEAD_AT, HEAD_AT + HEAD_BYTES);
      const certified = proof.subarray(extent.certifiedAt, extent.certifiedEnd);
      cites.push(index.find(head, certified) ?? index.add(head, certified));
      size -= PROOF_HEAD.bytes - CITATION_HEAD.bytes + certified.length;
    });
    citations.push(cites.some((k) => k >= 0) ? cites : undefined);
    txBytes += 4 + size;
  }
  const { parts } = index;
  if (parts.length === 0) return packTransactions(transactions);
  if (parts.length > MAX_PARTS) throw new IosError<LedgerErrorCode>("BLOCK_BAD_FIELD", `${parts.length} certified parts exceed ${MAX_PARTS}`);
  const body = new Uint8Array(4 + 2 + parts.reduce((n, part) => n + 2 + part.length, 0) + txBytes);
  writeU32(body, 0, CITED_BODY_MARK);
  writeU16(body, 4, parts.length);
  let at = 6;
  for (const part of parts) {
    writeU16(body, at, part.length);
    body.set(part, at + 2);
    at += 2 + part.length;
  }
  transactions.forEach((tx, i) => {
    const cites = citations[i];
    const lengthAt = at;
    at += 4;
    if (cites === undefined) {
      body.set(tx, at);
      at += tx.length;
    } else {
      const countAt = atomixUnlockProofsAt(tx);
      body.set(tx.subarray(0, countAt + 1), at);
      at += countAt + 1;
      let k = 0;
      eachProof(tx, (start, end) => {
        const proof = tx.subarray(start, end);
        const part = cites[k++]!;
        if (part < 0) {
          writeU16(body, at, proof.length);
          body.set(proof, at + 2);
          at += 2 + proof.length;
          return;
        }
        const { certifiedAt, certifiedEnd } = citableExtent(proof)!;
        const citationBytes = CITATION_HEAD.bytes + (certifiedAt - PROOF_HEAD.bytes) + (proof.length - certifiedEnd);
        writeU16(body, at, citationBytes);
        body[at + 2] = CITED_PROOF_VERSION;
        body[at + 3] = proof[PROOF_HEAD.offset.verdict]!;
        writeU16(body, at + 4, part);
        at += 2 + CITATION_HEAD.bytes;
        body.set(proof.subarray(PROOF_HEAD.bytes, certifiedAt), at);
        at += certifiedAt - PROOF_HEAD.bytes;
        body.set(proof.subarray(certifiedEnd), at);
        at += proof.length - certifiedEnd;
      });
    }
    writeU32(body, lengthAt, at - lengthAt - 4);
  });
  return body;
}

/** Whether a body region of `txCount` transactions opens with a section of certified parts. */
export function startsSection(region: Uint8Array, txCount: number): boolean {
  return txCount > 0 && region.length >= 4 && readU32(region, 0) === CITED_BODY_MARK;
}

/** A citation's decision end (after txid, code length and code), once its framing is checked (BLOCK_BAD_CITATION otherwise). */
function citationDecisionEnd(citation: Uint8Array): number {
  const reader = new BinaryReader(citation, CITATION_CODES, Math.min(CITATION_HEAD.bytes, citation.length));
  reader.need(CITATION_HEAD.bytes - reader.at, "citation head");
  reader.advance(TXID_BYTES, "txid");
  reader.advance(reader.u8("code length"), "code");
  const decisionEnd = reader.at;
  reader.advance(reader.u16("path length"), "path");
  reader.expectEnd("the path");
  return decisionEnd;
}

/**
 * Checks a body region of `txCount` transactions (module doc, phase 2), at most `maxBytes` once
 * expanded, and returns its size and how to expand it: the packed transactions (u32 length ‖
 * encoding, each unlock as submitted), built on first call (a plain region is returned as is, a
 * view). Every refusal is thrown here, none by the expansion. Framing errors of the transactions
 * themselves are left to the block's own decoding.
 */
export function readBlockBody(region: Uint8Array, txCount: number, maxBytes: number, codes: CodecCodes<LedgerErrorCode>): { readonly bytes: number; readonly expand: () => Uint8Array } {
  const sectioned = startsSection(region, txCount);
  const parts: Uint8Array[] = [];
  let start = 0;
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
      const head = part.subarray(0, HEAD_BYTES);
      if (index.find(head, part.subarray(HEAD_BYTES)) !== undefined) throw new IosError<LedgerErrorCode>("BLOCK_PART_REPEATED", `part ${k} repeats an earlier one`);
      index.add(head, part.subarray(HEAD_BYTES));
      parts.push(part);
    }
    start = section.at;
  }
  // Pass 1: every citation and inline proof checked, the expansion sized.
  const reader = new BinaryReader(region, codes, start);
  let cited = 0;
  let size = 0;
  for (let i = 0; i < txCount; i++) {
    const tx = reader.lengthPrefixed("u32", maxBytes, `transaction ${i}`);
    size += 4 + tx.length;
    eachProof(tx, (at, end) => {
      const proof = tx.subarray(at, end);
      if (proof[0] !== CITED_PROOF_VERSION) {
        if (citableExtent(proof) !== undefined) throw new IosError<LedgerErrorCode>("BLOCK_PROOF_NOT_CITED", `transaction ${i} carries inline a proof whose certified part it must cite`);
        return;
      }
      citationDecisionEnd(proof);
      const k = readU16(proof, CITATION_HEAD.offset.part);
      if (k >= parts.length) throw new IosError<LedgerErrorCode>("BLOCK_CITATION_UNKNOWN", `transaction ${i} cites part ${k}; the block carries ${parts.length}`);
      if (k > cited) throw new IosError<LedgerErrorCode>("BLOCK_PARTS_OUT_OF_ORDER", `transaction ${i} cites part ${k} before part ${cited}`);
      if (k === cited) cited++;
      const expanded = expandedBytes(proof, parts[k]!);
      if (expanded > 0xffff) throw new IosError<LedgerErrorCode>("BLOCK_BAD_CITATION", `transaction ${i}: a proof of ${expanded} bytes`);
      size += expanded - proof.length;
    });
    if (size > maxBytes) throw new IosError<LedgerErrorCode>("BLOCK_BAD_FIELD", `the body expands beyond the header's ${maxBytes} bytes`);
  }
  reader.expectEnd(`transaction ${txCount - 1}`);
  if (cited < parts.length) throw new IosError<LedgerErrorCode>("BLOCK_PART_UNCITED", `part ${cited} of ${parts.length} is cited by no unlock`);
  if (!sectioned) return { bytes: size, expand: () => region };
  let body: Uint8Array | undefined;
  return { bytes: size, expand: () => (body ??= expandBody(region, start, txCount, parts, size)) };
}

/** A citation's size once expanded: its part's head and certified part in place of its part index. */
function expandedBytes(citation: Uint8Array, part: Uint8Array): number {
  return citation.length - CITATION_HEAD.bytes + PROOF_HEAD.bytes + part.length - HEAD_BYTES;
}

/** Pass 2 of `readBlockBody`: the packed transactions of a checked sectioned region, written in place. */
function expandBody(region: Uint8Array, start: number, txCount: number, parts: readonly Uint8Array[], size: number): Uint8Array {
  const body = new Uint8Array(size);
  let from = start;
  let at = 0;
  for (let i = 0; i < txCount; i++) {
    const length = readU32(region, from);
    const tx = region.subarray(from + 4, from + 4 + length);
    from += 4 + length;
    const lengthAt = at;
    at += 4;
    const countAt = eachProof(tx);
    if (countAt === undefined) {
      body.set(tx, at);
      at += tx.length;
    } else {
      body.set(tx.subarray(0, countAt + 1), at);
      at += countAt + 1;
      eachProof(tx, (proofAt, end) => {
        const proof = tx.subarray(proofAt, end);
        if (proof[0] !== CITED_PROOF_VERSION) {
          writeU16(body, at, proof.length);
          body.set(proof, at + 2);
          at += 2 + proof.length;
          return;
        }
        const part = parts[readU16(proof, CITATION_HEAD.offset.part)]!;
        const decisionEnd = CITATION_HEAD.bytes + TXID_BYTES + 1 + proof[CITATION_HEAD.bytes + TXID_BYTES]!;
        writeU16(body, at, expandedBytes(proof, part));
        body[at + 2] = DECISION_PROOF_VERSION;
        body[at + 3] = proof[CITATION_HEAD.offset.verdict]!;
        at += 2 + PROOF_HEAD.offset.epoch;
        body.set(part.subarray(0, HEAD_BYTES), at);
        at += HEAD_BYTES;
        body.set(proof.subarray(CITATION_HEAD.bytes, decisionEnd), at);
        at += decisionEnd - CITATION_HEAD.bytes;
        body.set(part.subarray(HEAD_BYTES), at);
        at += part.length - HEAD_BYTES;
        body.set(proof.subarray(decisionEnd), at);
        at += proof.length - decisionEnd;
      });
    }
    writeU32(body, lengthAt, at - lengthAt - 4);
  }
  invariant(at === size, "the expansion fills the size pass 1 computed");
  return body;
}
