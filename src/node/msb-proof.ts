/**
 * Proofs a validator serves about its shard's Micro State Blocks and final transactions (white
 * paper §8; the API routes GET /v1/msb/*, /v1/utxo/:outpoint/proof, /v1/tx/:id/proof and the CLI's
 * `ios proof get|verify`): one binary format with a leading type byte, checked offline.
 *
 * What certifies an MSB header: the final-height certificate of its epoch's last height (src/atomix/
 * proof.ts), whose commitment parts bind `msbHeaderHash` (src/consensus/pob/finalization.ts), signed
 * by the committee of (epoch, shard). A verifier trusts either those committee keys (the identity
 * chain or genesis it holds, as `ios epoch show`) or an MSB header hash it got elsewhere.
 *
 * Format (integers little-endian), version 1:
 *   u8 type ‖ u8 version ‖ body
 *   type 1, MSB header:  u16 |header| ‖ header (src/msb/header.ts) ‖ u32 |certificate| ‖ certificate
 *   type 2, UTXO:        u32 |utxo proof| ‖ utxo proof (src/msb/proof.ts: header, leaf, position,
 *                        audit path) ‖ u32 |certificate| ‖ certificate
 *   type 3, transaction: u32 |acceptance| ‖ decision proof of its final height (src/atomix/proof.ts,
 *                        accepted) ‖ u8 ended ‖ when 1: u32 |certificate| ‖ the epoch-end certificate
 *                        ‖ u16 |header| ‖ header ‖ u32 k ‖ k × commitment parts (finalization.ts
 *                        `writeCommitmentParts`) of the heights strictly between the transaction's
 *                        and the epoch's last, ascending
 * where "certificate" is the final-height certificate of the epoch's last height. Each ends exactly.
 *
 * Verification (`verifyIosProof`), the first failing check's code:
 *   1. the certificate, with committee keys, verifies (TX_PROOF_BAD_SIGNATURE, _UNKNOWN_COMMITTEE);
 *      it is of the header's epoch and shard and of its last height (the BFT height times epoch + 1
 *      is the header's height) and its MSB header hash is the header's (MSB_PROOF_MISMATCH);
 *   2. a trusted header hash, when given, is the header's (MSB_UNTRUSTED_HEADER);
 *   3. UTXO: the leaf and audit path lead to the header's root (src/msb/proof.ts codes);
 *   4. transaction: the decision proof verifies (src/atomix/proof.ts codes: its path to the included
 *      root and its own certificate); when its epoch ended, the commitments chain backwards from the
 *      certified epoch-end one: each part's `previous` is the state commitment of the parts before,
 *      down to the transaction's height's, k the heights between (MSB_PROOF_BROKEN_CHAIN), and the
 *      epoch-end parts bind the header (MSB_PROOF_MISMATCH).
 * Trust flows from a commitment to its parts, never forward: an MSB header hash does not name the
 * commitment that binds it, so a transaction proof needs committee keys (MSB_PROOF_NEEDS_COMMITTEE
 * without them: anyone could forge parts that bind a genuine header hash). Without keys, a UTXO or
 * header proof is checked against the trusted header hash, and its certificate only for its place
 * and binding, not its signature; with keys every byte is bound.
 *
 * API: `encodeMsbHeaderProof`, `encodeUtxoCertifiedProof`, `encodeTxProof`, `verifyIosProof`,
 * `MsbProver` (cuts the proofs from a shard state), `MSB_PROOF_ERROR_CODES`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../codec/binary.js";
import { HASH_BYTES, TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { sameBytes } from "../bytes.js";
import { IosError, check } from "../errors.js";
import {
  FinalHeightProver, MAX_DECISION_PROOF_BYTES, MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, decodeDecisionProof, decodeFinalHeightCertificate,
  verifyDecisionProof, verifyFinalHeightCertificate, type CommitteeDirectory, type FinalHeightCertificate,
} from "../atomix/proof.js";
import { COMMITMENT_PARTS_BYTES, readCommitmentParts, stateCommitmentOf, writeCommitmentParts, type CommitmentParts } from "../consensus/pob/finalization.js";
import type { Ed25519Verifier } from "../crypto/ed25519.js";
import { decodeBlock, decodeBlockHeader } from "../ledger/block.js";
import type { UtxoEntry } from "../ledger/utxo-table.js";
import { MAX_MSB_HEADER_BYTES, decodeMsbHeader, msbHeaderHashOfEncoding } from "../msb/header.js";
import { proveUtxo, verifyUtxoProof } from "../msb/proof.js";
import { msbTree, snapshotOfOrderedEntries } from "../msb/snapshot.js";
import type { MerkleTree } from "../crypto/merkle.js";
import type { MsbErrorCode, MsbHeader, MsbSnapshot } from "../msb/interface.js";
import type { StoredFinalHeight, KeptMsb, TxLocation } from "../store/schema.js";
import type { ApiErrorCode } from "../api/errors.js";
import type { MsbProofService } from "../api/interface.js";

export const MSB_PROOF_ERROR_CODES = [
  /** Not a proof of this format: truncated, trailing bytes, a length beyond its bound, an unknown version. */
  "MSB_PROOF_MALFORMED",
  /** A leading type byte this program does not define. */
  "MSB_PROOF_UNKNOWN_TYPE",
  /** The certificate is not the one of this header (other epoch, shard or height, or another MSB header hash). */
  "MSB_PROOF_MISMATCH",
  /** The commitment parts do not chain from the transaction's height to the certified epoch end. */
  "MSB_PROOF_BROKEN_CHAIN",
  /** Neither committee keys nor a trusted MSB header hash to check against. */
  "MSB_PROOF_NO_TRUST",
  /** A transaction proof checked without committee keys (module doc: a header hash alone does not anchor it). */
  "MSB_PROOF_NEEDS_COMMITTEE",
] as const;

export type MsbProofErrorCode = (typeof MSB_PROOF_ERROR_CODES)[number];

export const IOS_PROOF_VERSION = 1;
export const ProofType = { MsbHeader: 1, Utxo: 2, Tx: 3 } as const;
/** A UTXO proof of src/msb/proof.ts: version, u16-prefixed header, leaf, position, one sibling per level. */
const MAX_UTXO_PROOF_BYTES = 1 + 2 + MAX_MSB_HEADER_BYTES + UTXO_ENTRY.bytes + 4 + 32 * HASH_BYTES;
/** Heights between a transaction and its epoch's end: an epoch of at most 2^20 heights (a 270 MB proof would be the worst). */
const MAX_CHAIN_PARTS = 1 << 20;
const CODES = singleCode<MsbProofErrorCode>("MSB_PROOF_MALFORMED");

function fail(code: MsbProofErrorCode, message: string): never {
  throw new IosError<MsbProofErrorCode>(code, message);
}

/** A request the serving side cannot answer: the client API's own codes (src/api/errors.ts). */
function refuse(code: ApiErrorCode, message: string): never {
  throw new IosError<ApiErrorCode>(code, message);
}

/** Type 1: an MSB header and the certificate of its epoch's last height. */
export function encodeMsbHeaderProof(header: Uint8Array, certificate: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(2 + 2 + header.length + 4 + certificate.length)
    .u8(ProofType.MsbHeader).u8(IOS_PROOF_VERSION).lengthPrefixed("u16", header).lengthPrefixed("u32", certificate).finish();
}

/** Type 2: a UTXO proof (src/msb/proof.ts) and the certificate of its MSB's epoch's last height. */
export function encodeUtxoCertifiedProof(utxoProof: Uint8Array, certificate: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(2 + 4 + utxoProof.length + 4 + certificate.length)
    .u8(ProofType.Utxo).u8(IOS_PROOF_VERSION).lengthPrefixed("u32", utxoProof).lengthPrefixed("u32", certificate).finish();
}

/** Type 3: an acceptance proof, and when its epoch ended the epoch-end certificate, the MSB header and the parts between. */
export function encodeTxProof(acceptance: Uint8Array, ended?: { readonly certificate: Uint8Array; readonly header: Uint8Array; readonly between: readonly CommitmentParts[] }): Uint8Array {
  const size = 2 + 4 + acceptance.length + 1 + (ended === undefined ? 0 : 4 + ended.certificate.length + 2 + ended.header.length + 4 + ended.between.length * COMMITMENT_PARTS_BYTES);
  const writer = BinaryWriter.ofSize(size).u8(ProofType.Tx).u8(IOS_PROOF_VERSION).lengthPrefixed("u32", acceptance).u8(ended === undefined ? 0 : 1);
  if (ended !== undefined) {
    writer.lengthPrefixed("u32", ended.certificate).lengthPrefixed("u16", ended.header).u32(ended.between.length);
    for (const parts of ended.between) writeCommitmentParts(writer, parts);
  }
  return writer.finish();
}

/** What a verifier trusts: committee keys by (epoch, shard), a header hash, or both. */
export interface ProofTrust {
  readonly committees?: CommitteeDirectory;
  readonly trustedMsbHeader?: Uint8Array;
  readonly verifier?: Ed25519Verifier;
}

/** What a verified proof shows. */
export type VerifiedIosProof =
  | { readonly type: "msb-header"; readonly header: MsbHeader; readonly headerHash: Uint8Array }
  | { readonly type: "utxo"; readonly header: MsbHeader; readonly headerHash: Uint8Array; readonly position: number; readonly entry: UtxoEntry }
  | {
    readonly type: "tx"; readonly txid: Uint8Array; readonly epoch: number; readonly shard: number;
    /** Height of the transaction's block in its epoch's BFT instance. */
    readonly height: number;
    /** The MSB of the epoch's end the transaction's height chains to, when the epoch ended. */
    readonly msb?: { readonly header: MsbHeader; readonly headerHash: Uint8Array };
  };

/** Step 1 for a header's certificate: its place and binding always, its signature with keys. */
function checkCertificate(certificateBytes: Uint8Array, header: MsbHeader, headerHash: Uint8Array, trust: ProofTrust): FinalHeightCertificate {
  const certificate = decodeFinalHeightCertificate(certificateBytes);
  if (trust.committees !== undefined) verifyFinalHeightCertificate(certificateBytes, trust.committees, trust.verifier);
  if (certificate.epoch !== header.epoch || certificate.shard !== header.shard || certificate.height * (header.epoch + 1) !== header.height) {
    fail("MSB_PROOF_MISMATCH", `the certificate is of epoch ${certificate.epoch}, shard ${certificate.shard}, BFT height ${certificate.height}; the MSB of epoch ${header.epoch}, shard ${header.shard} ends height ${header.height}`);
  }
  if (!sameBytes(certificate.commitment.msbHeaderHash, headerHash)) fail("MSB_PROOF_MISMATCH", "the certificate's commitment binds another MSB header");
  return certificate;
}

function checkTrustedHeader(headerHash: Uint8Array, trust: ProofTrust): void {
  if (trust.trustedMsbHeader !== undefined && !sameBytes(headerHash, trust.trustedMsbHeader)) {
    throw new IosError<MsbErrorCode>("MSB_UNTRUSTED_HEADER", "the proof's MSB header is not the trusted one");
  }
}

/** Checks a proof of this format (module doc) against `trust`; returns what it shows, or throws the first failing check's code. */
export function verifyIosProof(bytes: Uint8Array, trust: ProofTrust): VerifiedIosProof {
  check<MsbProofErrorCode>(bytes instanceof Uint8Array, "MSB_PROOF_MALFORMED", "a proof is bytes");
  check<MsbProofErrorCode>(trust.trustedMsbHeader === undefined || trust.trustedMsbHeader.length === HASH_BYTES, "MSB_PROOF_NO_TRUST", `a trusted MSB header hash is ${HASH_BYTES} bytes`);
  if (trust.committees === undefined && trust.trustedMsbHeader === undefined) fail("MSB_PROOF_NO_TRUST", "give committee keys (an identity chain or genesis) or a trusted MSB header hash");
  const reader = new BinaryReader(bytes, CODES);
  const type = reader.u8("type");
  const version = reader.u8("version");
  if (type !== ProofType.MsbHeader && type !== ProofType.Utxo && type !== ProofType.Tx) fail("MSB_PROOF_UNKNOWN_TYPE", `proof type ${type} is not 1 (MSB header), 2 (UTXO) or 3 (transaction)`);
  if (version !== IOS_PROOF_VERSION) fail("MSB_PROOF_MALFORMED", `proof version ${version}, this program reads ${IOS_PROOF_VERSION}`);
  if (type === ProofType.MsbHeader) {
    const headerBytes = reader.lengthPrefixed("u16", MAX_MSB_HEADER_BYTES, "MSB header");
    const certificate = reader.lengthPrefixed("u32", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "certificate");
    reader.expectEnd("the MSB header proof");
    const header = decodeMsbHeader(headerBytes);
    const headerHash = msbHeaderHashOfEncoding(headerBytes);
    checkTrustedHeader(headerHash, trust);
    checkCertificate(certificate, header, headerHash, trust);
    return { type: "msb-header", header, headerHash };
  }
  if (type === ProofType.Utxo) {
    const utxoProof = reader.lengthPrefixed("u32", MAX_UTXO_PROOF_BYTES, "UTXO proof");
    const certificate = reader.lengthPrefixed("u32", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "certificate");
    reader.expectEnd("the UTXO proof");
    const verified = verifyUtxoProof(utxoProof, trust.trustedMsbHeader);
    checkCertificate(certificate, verified.header, verified.headerHash, trust);
    return { type: "utxo", ...verified };
  }
  if (trust.committees === undefined) fail("MSB_PROOF_NEEDS_COMMITTEE", "a transaction proof is checked against committee keys: an MSB header hash does not name the commitment that binds it");
  const acceptance = reader.lengthPrefixed("u32", MAX_DECISION_PROOF_BYTES, "acceptance proof");
  const ended = reader.u8("ended");
  if (ended > 1) fail("MSB_PROOF_MALFORMED", `ended is ${ended}, not 0 or 1`);
  const decision = decodeDecisionProof(acceptance);
  if (!decision.accepted) fail("MSB_PROOF_MALFORMED", "a transaction proof carries an acceptance");
  verifyDecisionProof(acceptance, decision.txid, trust.committees, trust.verifier);
  const proven = { type: "tx" as const, txid: decision.txid, epoch: decision.epoch, shard: decision.shard, height: decision.height };
  if (ended === 0) {
    reader.expectEnd("the transaction proof");
    if (trust.trustedMsbHeader !== undefined) fail("MSB_PROOF_MISMATCH", "the proof names no MSB to compare with the trusted one: its epoch had not ended");
    return proven;
  }
  const certificateBytes = reader.lengthPrefixed("u32", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "epoch-end certificate");
  const headerBytes = reader.lengthPrefixed("u16", MAX_MSB_HEADER_BYTES, "MSB header");
  const k = reader.u32("commitment parts");
  if (k > MAX_CHAIN_PARTS) fail("MSB_PROOF_MALFORMED", `${k} commitment parts exceed ${MAX_CHAIN_PARTS}`);
  reader.expectRemaining(k * COMMITMENT_PARTS_BYTES, "the commitment parts");
  const between = Array.from({ length: k }, () => readCommitmentParts(reader, (length, what) => reader.bytes(length, what)));
  const header = decodeMsbHeader(headerBytes);
  const headerHash = msbHeaderHashOfEncoding(headerBytes);
  checkTrustedHeader(headerHash, trust);
  const end = checkCertificate(certificateBytes, header, headerHash, trust);
  if (end.epoch !== decision.epoch || end.shard !== decision.shard || end.height - decision.height !== k + (end.height === decision.height ? 0 : 1)) {
    fail("MSB_PROOF_BROKEN_CHAIN", `the transaction's height ${decision.height} (epoch ${decision.epoch}, shard ${decision.shard}) is not ${k} heights before the epoch's end`);
  }
  // Backwards from the certified end: each part's `previous` is the commitment of the one before.
  const chain = [decision.commitment, ...between];
  if (end.height === decision.height) {
    if (!sameBytes(stateCommitmentOf(decision.commitment), stateCommitmentOf(end.commitment))) fail("MSB_PROOF_BROKEN_CHAIN", "the epoch's last height is the transaction's, with another commitment");
  } else {
    for (let i = chain.length - 1, next = end.commitment; i >= 0; next = chain[i]!, i--) {
      if (!sameBytes(next.previous, stateCommitmentOf(chain[i]!))) fail("MSB_PROOF_BROKEN_CHAIN", `commitment parts ${i} are not the ones the next height continues`);
    }
  }
  return { ...proven, msb: { header, headerHash } };
}

/** What `MsbProver` reads of a shard state (ShardState satisfies it). */
export interface MsbSource {
  readonly shard: number;
  readonly tip: { readonly height: number };
  readonly latestMsb: KeptMsb | undefined;
  msbHeader(epoch: number): Uint8Array | undefined;
  msbBody(epoch: number): Iterable<Uint8Array> | undefined;
  certificateAt(height: number): Uint8Array | undefined;
  finalHeightRecord(height: number): StoredFinalHeight | undefined;
  getBlock(height: number): Uint8Array | undefined;
  getTransactionLocation(txid: Uint8Array): TxLocation | undefined;
  /** Heights below it are pruned (src/store/schema.ts "Pruning"): no block, index entry or certificate but the epoch ends'. */
  readonly prunedBelow: number;
}

/**
 * Proofs cut from a shard state (serving side): the latest MSB's body and tree are built once per
 * MSB (about 64 bytes per output) and kept until the next one.
 */
export class MsbProver implements MsbProofService {
  #latest: { readonly shard: number; readonly epoch: number; readonly header: MsbHeader; readonly snapshot: MsbSnapshot; readonly tree: MerkleTree } | undefined;

  /** `source`: the state of the shard served now (a validator that changes shard serves the new one's). */
  constructor(private readonly source: () => MsbSource) {}

  /** The latest MSB's header facts (GET /v1/status), if any. */
  latestSummary(): { readonly epoch: number; readonly height: number; readonly root: Uint8Array; readonly count: number; readonly supply: bigint } | undefined {
    const state = this.source();
    const latest = state.latestMsb;
    if (latest === undefined) return undefined;
    const header = decodeMsbHeader(state.msbHeader(latest.epoch)!);
    return { epoch: header.epoch, height: header.height, root: header.root, count: header.count, supply: header.supply };
  }

  /** Type 1 for `epoch` (the latest when undefined); MSB_NONE / MSB_EPOCH_NOT_ENDED when there is none. */
  header(epoch?: number): { readonly proof: Uint8Array; readonly header: MsbHeader; readonly headerHash: Uint8Array } {
    const state = this.source();
    const chosen = epoch ?? state.latestMsb?.epoch;
    if (chosen === undefined) refuse("MSB_NONE", `no epoch of shard ${state.shard} has ended on this node`);
    const bytes = state.msbHeader(chosen);
    if (bytes === undefined) refuse("MSB_EPOCH_NOT_ENDED", `epoch ${chosen} of shard ${state.shard} has not ended on this node (latest MSB: ${state.latestMsb?.epoch ?? "none"})`);
    const header = decodeMsbHeader(bytes);
    return { proof: encodeMsbHeaderProof(bytes, this.#certificate(state, header.height)), header, headerHash: msbHeaderHashOfEncoding(bytes) };
  }

  /** Type 2 for output (txid, index) of the latest MSB; MSB_NONE, MSB_UTXO_NOT_FOUND. */
  utxo(txid: Uint8Array, index: number): Uint8Array {
    const state = this.source();
    const latest = state.latestMsb;
    if (latest === undefined) refuse("MSB_NONE", `no epoch of shard ${state.shard} has ended on this node`);
    if (this.#latest?.epoch !== latest.epoch || this.#latest.shard !== state.shard) {
      const header = decodeMsbHeader(state.msbHeader(latest.epoch)!);
      const snapshot = snapshotOfOrderedEntries(state.msbBody(latest.epoch)!);
      this.#latest = { shard: state.shard, epoch: latest.epoch, header, snapshot, tree: msbTree(snapshot) };
    }
    const { header, snapshot, tree } = this.#latest;
    let proof: Uint8Array;
    try {
      proof = proveUtxo(header, snapshot, tree, txid, index);
    } catch (error) {
      if (error instanceof IosError && error.code === "MSB_NOT_FOUND") refuse("MSB_UTXO_NOT_FOUND", `${Buffer.from(txid).toString("hex")}:${index} is not in shard ${state.shard}'s MSB of epoch ${latest.epoch}`);
      throw error;
    }
    return encodeUtxoCertifiedProof(proof, this.#certificate(state, header.height));
  }

  /** Type 3 for a final transaction of this shard: MSB_TX_NOT_FINAL, MSB_PRUNED. */
  tx(txid: Uint8Array): Uint8Array {
    check<ApiErrorCode>(txid.length === TXID_BYTES, "MSB_TX_NOT_FINAL", `a txid is ${TXID_BYTES} bytes`);
    const state = this.source();
    const location = state.getTransactionLocation(txid);
    // Below the horizon the index entries went with the blocks: an unknown txid may be a pruned one.
    if (location === undefined && state.prunedBelow > 1) {
      refuse("MSB_PRUNED", `transaction ${Buffer.from(txid).toString("hex")} is in no final block of shard ${state.shard} this node keeps (heights below ${state.prunedBelow} are pruned)`);
    }
    if (location === undefined) refuse("MSB_TX_NOT_FINAL", `transaction ${Buffer.from(txid).toString("hex")} is in no final block of shard ${state.shard}`);
    const { height, position } = location;
    if (height < state.prunedBelow) refuse("MSB_PRUNED", `height ${height} is pruned (this node keeps heights from ${state.prunedBelow})`);
    const certificate = this.#certificate(state, height);
    const block = decodeBlock(state.getBlock(height)!);
    const record = state.finalHeightRecord(height)!;
    const acceptance = new FinalHeightProver({ certificate, included: block.txids, excluded: record.rejections }).acceptance(position);
    const headerBytes = state.msbHeader(decodeBlockHeader(state.getBlock(height)!).epoch);
    if (headerBytes === undefined) return encodeTxProof(acceptance);
    const end = decodeMsbHeader(headerBytes).height;
    const between = Array.from({ length: Math.max(0, end - height - 1) }, (_, i) => decodeFinalHeightCertificate(this.#certificate(state, height + 1 + i)).commitment);
    return encodeTxProof(acceptance, { certificate: this.#certificate(state, end), header: headerBytes, between });
  }

  #certificate(state: MsbSource, height: number): Uint8Array {
    const certificate = state.certificateAt(height);
    if (certificate === undefined) refuse("MSB_PRUNED", `this node keeps no final-height certificate of height ${height}`);
    return certificate;
  }
}
