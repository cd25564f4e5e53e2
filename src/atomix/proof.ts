/**
 * Proofs of a shard's final decision on a transaction (white paper §6, Algorithm 5: the
 * proof-of-acceptance and proof-of-rejection an input shard yields for a cross-shard lock). A
 * proof is checked offline against the BFT committee of its shard, epoch and TransEpoch batch (the
 * epoch context's `committee(shard, batch)`), with no other state:
 *
 *   1. the state commitment of the final height is rebuilt from its parts (PoB finalization.ts
 *      `stateCommitmentOf`): previous commitment, core hash, randomness, included root, body
 *      root, excluded root, supply, count, accounts hash, MSB header hash, previous block hash;
 *   2. the proposal hash from the digest of the proposal's body and that commitment (PoB
 *      proposal.ts `proposalHashOfParts`);
 *   3. the BFT commit statement of (instance key of (chain, shard, epoch, batch), height, view, proposal
 *      hash, prepare certificate hash), and the committee's collective signature on it with at
 *      least n − ⌊(n−1)/3⌋ signers (CoSi, one Ed25519 verification under the aggregate key);
 *   4. the transaction's RFC 6962 inclusion path: accepted, its txid is a leaf of the included
 *      root; rejected, its coded txid (txid ‖ u8 |code| ‖ code) is a leaf of the excluded root,
 *      with a code the UTXO kernel decided (`DECISIVE_CODES`: a refusal that holds forever, since
 *      a shard decides a cross-shard transaction once).
 *
 * Encoding (little-endian), version 5 (1 had no accounts hash, 2 no MSB header hash, 3 no batch, 4 no body root or previous block hash):
 *   u8 version ‖ u8 verdict (1 accepted, 0 rejected) ‖ u32 epoch ‖ u32 shard ‖ u16 batch (the
 *   TransEpoch batch whose instance decided the height: src/epoch/transepoch) ‖ u64 height (of
 *   the epoch's BFT instance) ‖ u32 view ‖ txid [32] ‖ u8 |code| ‖ code (Latin-1, empty when
 *   accepted) ‖ proposal body digest [32] ‖ prepare certificate hash [32] ‖ commit certificate
 *   (u16 n ‖ mask ⌈n/8⌉ ‖ signature [64]) ‖ previous, core hash, randomness [32 each] ‖ included
 *   root [32] ‖ u32 included count ‖ body root [32] ‖ excluded root [32] ‖ u32 excluded count ‖ u64 supply ‖ u64
 *   count ‖ accounts hash [32] ‖ MSB header hash [32] ‖ previous block hash [32] (the parts: finalization.ts
 *   `writeCommitmentParts`, their one encoder) ‖ u16 |path| ‖ Merkle proof (crypto/merkle.ts
 *   `encodeMerkleProof`), whose tree size must be the committed count.
 * Size: 473 + ⌈n/8⌉ + |code| + the path's size, index and 32 bytes per level; for a committee of 100 and a block
 * of 4,096 transactions 902 B (the white paper §6.3 compares one 80-byte collective
 * signature with 9 KB of individual ones).
 *
 * A **final-height certificate** is the same head and certified part without a decision or path:
 *   u8 version ‖ u32 epoch ‖ u32 shard ‖ u16 batch ‖ u64 height ‖ u32 view ‖ the certified part
 * and proves steps 1–3 alone: that the shard finalized that height with that state commitment,
 * supply, count, believability accounts and, at an epoch's last height, MSB header (what the identity chain records of every shard at an
 * epoch's boundary, and the accounts the next epoch carries over).
 *
 * API: `encodeDecisionProof`, `decodeDecisionProof`, `proofAccepts`, `acceptanceParts`, `encodeCertificate`, `verifyDecisionProof`, `verifyInclusionBatch`, `FinalHeightProver`
 * (proofs of one final height's decisions, their encoded paths alone, and its `certificate`; from a
 * replica's height or from its certificate), `decisionProofOf` (a proof rebuilt from its height's
 * certificate and its decision's path: an ATOMIX frame's parts), `readProofPath`, `verifyFinalHeightCertificate`, `decodeFinalHeightCertificate` (a stored
 * certificate, unverified), `certifiedProposalOf`, `CommitteeProofVerifier` (the ledger's
 * DecisionVerifier), `FINAL_CHAIN_DECISIONS` (replaying stored blocks), `committeesOfContext`, `DECISIVE_CODES`.
 */
import { BinaryReader, BinaryWriter, readU16, singleCode } from "../codec/binary.js";
import { codedTxidLeaf, MAX_CODE_BYTES } from "../codec/coded-txids.js";
import { layout } from "../codec/layout.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../codec/sizes.js";
import { commitDigestOfCertificateHash, prepareCertificateHash, type FinalityRecord } from "../consensus/bft/codec.js";
import { collectiveSignatureBytes, cosiThreshold, decodeCollectiveSignature, encodeCollectiveSignature, verifyCollectiveSignature, type CollectiveSignature } from "../consensus/cosi/codec.js";
import { COMMITMENT_PARTS_BYTES, readCommitmentParts, stateCommitmentOf, writeCommitmentParts, type CommitmentParts } from "../consensus/pob/finalization.js";
import { proposalBodyDigest, proposalHashOfParts } from "../consensus/pob/proposal.js";
import type { Ed25519Verifier } from "../crypto/ed25519.js";
import { readMerkleMultiproof, verifyMerkleMultiproof, type MerkleMultiproof } from "../crypto/merkle-multiproof.js";
import { encodeMerkleProof, merkleTree, merkleTreeOfPackedLeaves, readMerkleProof, unpackMerkleProof, verifyPackedMerkleProof, type MerkleProof, type MerkleTree, type PackedMerkleProof } from "../crypto/merkle.js";
import type { CodedTxid } from "../codec/coded-txids.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import type { EpochContext } from "../epoch/interface.js";
import type { LedgerErrorCode } from "../ledger/errors.js";
import type { DecisionVerifier, ProvenDecision, ProvenInclusion } from "../ledger/kinds/interface.js";
import { APPLY_STATUS_NAMES } from "../ledger/utxo-table.js";
import { sameBytes } from "../bytes.js";
import { CERTIFIED_COMMITTEE_SIZE_AT, DECISION_PROOF_VERSION, PROOF_HEAD, certifiedPartBytes } from "../ledger/kinds/atomix-citations.js";

export { DECISION_PROOF_VERSION };
/** The largest proof: a committee of 2^16 − 1 and a full path (64 levels would be 2^64 leaves; 32 covers any block). */
export const MAX_DECISION_PROOF_BYTES = 16 * 1024;
/** Verified commit certificates a CommitteeProofVerifier remembers: final heights cited by the unlocks of recent blocks. */
export const VERIFIED_CERTIFICATES_KEPT = 4096;
/**
 * Rejections a proof may show: the UTXO kernel's refusals (missing or locked input, wrong owner,
 * amount mismatch, ...). A refusal before the kernel (a sampled bad signature, an unassigned
 * producer, a rejected block) says nothing final about the transaction and proves nothing.
 */
export const DECISIVE_CODES: ReadonlySet<string> = new Set(APPLY_STATUS_NAMES.filter((name) => name !== "OK" && name !== "NOTHING_TO_UNDO"));

const PROOF_CODES = singleCode<LedgerErrorCode>("TX_PROOF_MALFORMED");
/** A final-height certificate's head (module doc); the certified part follows. */
const CERTIFICATE_HEAD = layout({ version: 1, epoch: 4, shard: 4, batch: 2, height: 8, view: 4 });
export const FINAL_HEIGHT_CERTIFICATE_VERSION = 5;
/** A certificate is a proof without its decision and path. */
export const MAX_FINAL_HEIGHT_CERTIFICATE_BYTES = MAX_DECISION_PROOF_BYTES;

/** One decision with everything that proves it. */
export interface DecisionProof {
  readonly accepted: boolean;
  readonly epoch: number;
  readonly shard: number;
  /** The TransEpoch batch whose committee decided the height (its instance key binds it). */
  readonly batch: number;
  /** Height in the epoch's BFT instance (what the commit statement signs). */
  readonly height: number;
  readonly view: number;
  readonly txid: Uint8Array;
  /** The kernel's refusal when rejected; "" when accepted. */
  readonly code: string;
  readonly bodyDigest: Uint8Array;
  readonly prepareCertificateHash: Uint8Array;
  readonly commitCertificate: CollectiveSignature;
  /** Size of the committee the certificate's mask ranges over. */
  readonly committeeSize: number;
  readonly commitment: CommitmentParts;
  readonly path: MerkleProof;
}

export function encodeDecisionProof(proof: DecisionProof): Uint8Array<ArrayBuffer> {
  check<LedgerErrorCode>(proof.accepted === (proof.code.length === 0), "TX_PROOF_MALFORMED", "an acceptance has no code, a rejection one");
  return assembleProof(proof, proof.txid, proof.code, certifiedPart(proof), encodeMerkleProof(proof.path));
}

/** The certified part of a proof (`readDecisionProof`): the same bytes in every proof of one final height. */
function certifiedPart(height: Pick<DecisionProof, "bodyDigest" | "prepareCertificateHash" | "commitCertificate" | "committeeSize" | "commitment">): Uint8Array<ArrayBuffer> {
  const certificate = encodeCollectiveSignature(height.commitCertificate, height.committeeSize);
  const writer = BinaryWriter.ofSize(2 * HASH_BYTES + certificate.length + COMMITMENT_PARTS_BYTES)
    .bytes(height.bodyDigest).bytes(height.prepareCertificateHash).bytes(certificate);
  return writeCommitmentParts(writer, height.commitment).finish();
}

/** A proof from its head fields, the decision (accepted: no code) and the encoded certified part and path. */
function assembleProof(head: ProofHead, txid: Uint8Array, code: string, certified: Uint8Array, path: Uint8Array): Uint8Array<ArrayBuffer> {
  const codeBytes = Buffer.from(code, "latin1");
  check<LedgerErrorCode>(txid.length === TXID_BYTES && codeBytes.length <= MAX_CODE_BYTES, "TX_PROOF_MALFORMED", "a txid of 32 bytes, a code of at most 255");
  return BinaryWriter.ofSize(PROOF_HEAD.bytes + TXID_BYTES + 1 + codeBytes.length + certified.length + 2 + path.length)
    .u8(DECISION_PROOF_VERSION).u8(codeBytes.length === 0 ? 1 : 0).u32(head.epoch).u32(head.shard).u16(head.batch).u64(head.height).u32(head.view)
    .bytes(txid).lengthPrefixed("u8", codeBytes)
    .bytes(certified)
    .lengthPrefixed("u16", path)
    .finish();
}

/** Strict inverse of `encodeDecisionProof`; anything else is TX_PROOF_MALFORMED. */
export function decodeDecisionProof(bytes: Uint8Array): DecisionProof {
  return readDecisionProof(bytes);
}

/**
 * Whether a proof shows an acceptance, read from its frame (version, verdict, head, txid, code,
 * the certified part located by its committee size, the path) with the certified part left
 * encoded: TX_PROOF_MALFORMED for a malformed frame, as `decodeDecisionProof`. What the
 * certified part says is a verifier's to check (`verifyDecisionProof`); a client choosing its
 * unlock needs the verdict only, for every decision of a final height (the load driver: ~1,000
 * per ATOMIX frame at a 50 % mix, where decoding each whole proof was 40 % of building its unlock).
 */
export function proofAccepts(bytes: Uint8Array): boolean {
  return readProofFrame(bytes).accepted;
}

/**
 * A proof of acceptance split into what an unlock-to-commit batch carries: its height's head and
 * certified part (the same in every proof of the height; `encodeCertificate` makes them the
 * height's final-height certificate) and its Merkle path; the part and the path's siblings are
 * views of the proof. TX_PROOF_MALFORMED for a malformed proof, TX_PROOF_WRONG_VERDICT for a rejection.
 */
export function acceptanceParts(bytes: Uint8Array): { readonly head: ProofHead; readonly certified: Uint8Array; readonly path: PackedMerkleProof } {
  const { accepted, code, epoch, shard, batch, height, view, certified, path } = readProofFrame(bytes);
  if (!accepted) throw new IosError<LedgerErrorCode>("TX_PROOF_WRONG_VERDICT", `the proof shows a rejection (${code}), not an acceptance`);
  return { head: { epoch, shard, batch, height, view }, certified, path };
}

/** A final-height certificate (module doc) from its head and certified part. */
export function encodeCertificate({ epoch, shard, batch, height, view }: ProofHead, certified: Uint8Array): Uint8Array<ArrayBuffer> {
  return BinaryWriter.ofSize(CERTIFICATE_HEAD.bytes + certified.length)
    .u8(FINAL_HEIGHT_CERTIFICATE_VERSION).u32(epoch).u32(shard).u16(batch).u64(height).u32(view)
    .bytes(certified)
    .finish();
}

/** A decoded proof, every byte field a copy (its certified part: the bytes from the body digest to the MSB header hash, the same in every proof of one final height). */
function readDecisionProof(bytes: Uint8Array): DecisionProof {
  const { accepted, epoch, shard, batch, height, view, txid, code, certified, path } = readProofFrame(bytes);
  return { accepted, epoch, shard, batch, height, view, txid: txid.slice(), code, ...decodeCertifiedPart(certified, false), path: unpackMerkleProof(path) };
}

/** A proof read all but its certified part, which is located (its length follows from the committee size) and left encoded. */
interface ProofFrame extends Pick<DecisionProof, "accepted" | "epoch" | "shard" | "batch" | "height" | "view" | "code"> {
  /** The Merkle path, its siblings a view of the proof's bytes. */
  readonly path: PackedMerkleProof;
  /** A view of the proof's bytes. */
  readonly txid: Uint8Array;
  readonly certifiedAt: number;
  /** The certified part's bytes (`certifiedPart`'s layout), a view of the proof's. */
  readonly certified: Uint8Array;
}

function readProofFrame(bytes: Uint8Array): ProofFrame {
  check<LedgerErrorCode>(bytes instanceof Uint8Array && bytes.length <= MAX_DECISION_PROOF_BYTES, "TX_PROOF_MALFORMED", `a proof is at most ${MAX_DECISION_PROOF_BYTES} bytes`);
  const reader = new BinaryReader(bytes, PROOF_CODES);
  const version = reader.u8("version");
  check<LedgerErrorCode>(version === DECISION_PROOF_VERSION, "TX_PROOF_MALFORMED", `proof version ${version} is not ${DECISION_PROOF_VERSION}`);
  const verdict = reader.u8("verdict");
  check<LedgerErrorCode>(verdict <= 1, "TX_PROOF_MALFORMED", `verdict ${verdict} is neither 0 nor 1`);
  const epoch = reader.u32("epoch");
  const shard = reader.u32("shard");
  const batch = reader.u16("batch");
  const height = reader.u53("height");
  const view = reader.u32("view");
  const txid = reader.bytes(TXID_BYTES, "txid");
  const codeBytes = reader.lengthPrefixed("u8", MAX_CODE_BYTES, "code");
  const code = Buffer.from(codeBytes.buffer, codeBytes.byteOffset, codeBytes.length).toString("latin1");
  check<LedgerErrorCode>((verdict === 1) === (code.length === 0), "TX_PROOF_MALFORMED", "an acceptance has no code, a rejection one");
  const certifiedAt = reader.at;
  reader.need(CERTIFIED_COMMITTEE_SIZE_AT + 2, "commit certificate");
  const certified = reader.bytes(certifiedPartBytes(readU16(bytes, certifiedAt + CERTIFIED_COMMITTEE_SIZE_AT)), "certified part");
  const path = readProofPath(reader.lengthPrefixed("u16", MAX_DECISION_PROOF_BYTES, "Merkle path"));
  reader.expectEnd("the Merkle path");
  return { accepted: verdict === 1, epoch, shard, batch, height, view, txid, code, certifiedAt, certified, path };
}


/** Strict decoding of a certified part's bytes (its whole extent). */
function decodeCertifiedPart(bytes: Uint8Array, views: boolean): CertifiedPart {
  const reader = new BinaryReader(bytes, PROOF_CODES);
  const certified = readCertifiedPart(reader, (length, what) => (views ? reader.bytes(length, what) : reader.bytes(length, what).slice()));
  reader.expectEnd("the certified part");
  return certified;
}

/** Where a certificate's statement was made: the instance (epoch, shard, batch), its height and view. */
export type ProofHead = Pick<DecisionProof, "epoch" | "shard" | "batch" | "height" | "view">;

/** What a commit certificate vouches for beyond (epoch, shard, batch, height, view). */
export type CertifiedPart = Pick<DecisionProof, "bodyDigest" | "prepareCertificateHash" | "commitCertificate" | "committeeSize" | "commitment">;

/** Reads the certified part (`certifiedPart`'s layout) at the reader's position. */
function readCertifiedPart(reader: BinaryReader<LedgerErrorCode>, take: (length: number, what: string) => Uint8Array): CertifiedPart {
  const bodyDigest = take(HASH_BYTES, "proposal body digest");
  const prepareCertificateHash = take(HASH_BYTES, "prepare certificate hash");
  reader.need(2, "commit certificate");
  const committeeSize = readU16(reader.input, reader.at);
  check<LedgerErrorCode>(committeeSize >= 1, "TX_PROOF_MALFORMED", "the commit certificate ranges over no committee");
  const commitCertificate = decodeCertificate(reader.bytes(collectiveSignatureBytes(committeeSize), "commit certificate"));
  const commitment = readCommitmentParts(reader, take);
  return { bodyDigest, prepareCertificateHash, commitCertificate, committeeSize, commitment };
}

function decodeCertificate(bytes: Uint8Array): CollectiveSignature {
  try {
    const { mask, signature } = decodeCollectiveSignature(bytes);
    return { mask, signature };
  } catch (error) {
    if (!(error instanceof IosError)) throw error;
    throw new IosError<LedgerErrorCode>("TX_PROOF_MALFORMED", `commit certificate: ${error.message}`);
  }
}

/** An encoded Merkle path read in place (`readMerkleProof`'s rules); TX_PROOF_MALFORMED otherwise. */
export function readProofPath(bytes: Uint8Array): PackedMerkleProof {
  return malformedAs("Merkle path", () => readMerkleProof(bytes));
}

/** `read`'s result; a part's own codec error (merkle's) becomes TX_PROOF_MALFORMED naming `what`. */
function malformedAs<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof IosError)) throw error;
    throw new IosError<LedgerErrorCode>("TX_PROOF_MALFORMED", `${what}: ${error.message}`);
  }
}

/** One final height as its replica committed it: what proofs of its decisions are cut from. */
export interface FinalHeight {
  readonly epoch: number;
  readonly shard: number;
  /** The TransEpoch batch whose instance decided the height. */
  readonly batch: number;
  /** The BFT's record of the height (its proposal and certificates). */
  readonly record: FinalityRecord;
  readonly committeeSize: number;
  readonly commitment: CommitmentParts;
  /** Included txids in final order, packed 32 bytes each. */
  readonly included: Uint8Array;
  readonly excluded: readonly CodedTxid[];
}

/**
 * A final height as a stored (or received) final-height certificate and the height's included and
 * excluded lists give it back: what a replica that synced the height cuts the same proofs from.
 */
export interface CertifiedFinalHeight {
  readonly certificate: Uint8Array;
  /** Included txids in final order, packed 32 bytes each. */
  readonly included: Uint8Array;
  readonly excluded: readonly CodedTxid[];
}

/** Proofs of the decisions of one final height; the Merkle trees are built once, on first use. */
export class FinalHeightProver {
  #included: MerkleTree | undefined;
  #excluded: MerkleTree | undefined;
  readonly #head: ProofHead;
  /** The certified part every proof of this height carries, encoded once. */
  readonly #certified: Uint8Array;
  readonly #includedTxids: Uint8Array;
  readonly #excludedList: readonly CodedTxid[];

  /** From the replica's own final height, or from its certificate (decoded here, not verified: the caller did). */
  constructor(height: FinalHeight | CertifiedFinalHeight) {
    this.#includedTxids = height.included;
    this.#excludedList = height.excluded;
    if ("certificate" in height) {
      const { epoch, shard, batch, height: bftHeight, view } = decodeFinalHeightCertificate(height.certificate);
      this.#head = { epoch, shard, batch, height: bftHeight, view };
      this.#certified = height.certificate.slice(CERTIFICATE_HEAD.bytes);
      return;
    }
    const { epoch, shard, batch, record } = height;
    this.#head = { epoch, shard, batch, height: record.height, view: record.view };
    this.#certified = certifiedPart({
      bodyDigest: proposalBodyDigest(record.proposal), prepareCertificateHash: prepareCertificateHash(record.prepareCert, height.committeeSize),
      commitCertificate: record.commitCert, committeeSize: height.committeeSize, commitment: height.commitment,
    });
  }

  /** The proof that this height included the transaction at `index` of `included`. */
  acceptance(index: number): Uint8Array<ArrayBuffer> {
    return assembleProof(this.#head, this.#includedTxids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES), "", this.#certified, this.acceptancePath(index));
  }

  /** The proof that this height excluded entry `index` of `excluded` (a decisive code, or the proof proves nothing). */
  rejection(index: number): Uint8Array<ArrayBuffer> {
    const entry = this.#excludedList[index]!;
    return assembleProof(this.#head, entry.txid, entry.code, this.#certified, this.rejectionPath(index));
  }

  /** The encoded path (crypto/merkle.ts `encodeMerkleProof`) `acceptance(index)` carries: what an ATOMIX frame sends beside the height's certificate. */
  acceptancePath(index: number): Uint8Array {
    this.#included ??= merkleTreeOfPackedLeaves(this.#includedTxids, TXID_BYTES);
    return encodeMerkleProof(this.#included.proof(index));
  }

  /** The encoded path `rejection(index)` carries. */
  rejectionPath(index: number): Uint8Array {
    this.#excluded ??= merkleTree(this.#excludedList.map(codedTxidLeaf));
    return encodeMerkleProof(this.#excluded.proof(index));
  }

  /** The height's final-height certificate (module doc). */
  certificate(): Uint8Array<ArrayBuffer> {
    return encodeCertificate(this.#head, this.#certified);
  }
}

/** A decision as an ATOMIX frame carries it beside its height's certificate: no head, no certified part. */
export interface CertifiedDecision {
  readonly txid: Uint8Array;
  /** "" accepted, else the kernel's refusal code. */
  readonly code: string;
  /** The encoded Merkle path (`FinalHeightProver.acceptancePath` / `rejectionPath`). */
  readonly path: Uint8Array;
}

/**
 * The proof of `decision` rebuilt from its height's final-height certificate: byte for byte what
 * `FinalHeightProver.acceptance` / `rejection` cut (the same head, certified part and path).
 * Nothing is verified (`verifyDecisionProof` does); TX_PROOF_MALFORMED for a malformed
 * certificate, a txid not of 32 bytes or a code over 255 bytes.
 */
export function decisionProofOf(certificate: Uint8Array, decision: CertifiedDecision): Uint8Array<ArrayBuffer> {
  const { certified, ...head } = readCertificateHead(certificate);
  return assembleProof(head, decision.txid, decision.code, certified, decision.path);
}

/** What a final-height certificate proves. */
export interface CertifiedHeight {
  readonly epoch: number;
  readonly shard: number;
  /** The TransEpoch batch whose committee certified the height. */
  readonly batch: number;
  /** Height in the epoch's BFT instance (the chain's height less the epoch's start height). */
  readonly height: number;
  readonly view: number;
  /** The state commitment the shard reached at that height (PoB finalization.ts `stateCommitmentOf`). */
  readonly stateCommitment: Uint8Array;
  readonly supply: bigint;
  readonly count: bigint;
  /** The commitment's parts: previous commitment, included and excluded roots and counts, ... */
  readonly commitment: CommitmentParts;
  /** `accountsHash` of the shard's believability accounts after that height (PoB believability.ts). */
  readonly accountsHash: Uint8Array;
}

/** A final-height certificate's fields, decoded and not verified (`decodeFinalHeightCertificate`). */
export interface FinalHeightCertificate extends CertifiedPart {
  readonly epoch: number;
  readonly shard: number;
  readonly batch: number;
  readonly height: number;
  readonly view: number;
}

/**
 * Strict decoding of a final-height certificate (module doc), nothing verified: for a certificate
 * this validator verified before (its own store), TX_PROOF_MALFORMED otherwise.
 */
export function decodeFinalHeightCertificate(bytes: Uint8Array): FinalHeightCertificate {
  const { certified, ...head } = readCertificateHead(bytes);
  return { ...head, ...decodeCertifiedPart(certified, false) };
}

/** The state commitment and proposal hash a decoded certificate names (what the committee signed; module doc steps 1–2). */
export function certifiedProposalOf(certificate: Pick<CertifiedPart, "bodyDigest" | "commitment">): { readonly stateCommitment: Uint8Array; readonly proposalHash: Uint8Array } {
  const stateCommitment = stateCommitmentOf(certificate.commitment);
  return { stateCommitment, proposalHash: proposalHashOfParts(certificate.bodyDigest, stateCommitment) };
}

/**
 * Checks a final-height certificate (module doc, steps 1–3) against the committee the directory
 * gives for its (epoch, shard, batch): TX_PROOF_MALFORMED, TX_PROOF_UNKNOWN_COMMITTEE or
 * TX_PROOF_BAD_SIGNATURE, the first that applies.
 */
export function verifyFinalHeightCertificate(bytes: Uint8Array, committees: CommitteeDirectory, verifier?: Ed25519Verifier): CertifiedHeight {
  const certificate = decodeFinalHeightCertificate(bytes);
  const stateCommitment = checkCommitCertificate(certificate, certificate, committees, verifier);
  const { epoch, shard, batch, height, view, commitment } = certificate;
  return { epoch, shard, batch, height, view, stateCommitment, supply: commitment.supply, count: commitment.count, accountsHash: commitment.accountsHash, commitment };
}

/** Steps 1–3 of the module doc: the committee's collective signature on the height's commit statement; returns the state commitment. */
function checkCommitCertificate(head: ProofHead, certified: CertifiedPart, committees: CommitteeDirectory, verifier?: Ed25519Verifier): Uint8Array {
  const committee = committees(head.epoch, head.shard, head.batch);
  if (committee === undefined) throw new IosError<LedgerErrorCode>("TX_PROOF_UNKNOWN_COMMITTEE", `no committee is known for shard ${head.shard} in epoch ${head.epoch}, batch ${head.batch}`);
  if (committee.keys.length !== certified.committeeSize) throw new IosError<LedgerErrorCode>("TX_PROOF_BAD_SIGNATURE", `the certificate is for ${certified.committeeSize} members, the committee has ${committee.keys.length}`);
  const { stateCommitment, proposalHash } = certifiedProposalOf(certified);
  const statement = commitDigestOfCertificateHash(committee.chainId, head.height, head.view, proposalHash, certified.prepareCertificateHash);
  if (!verifyCollectiveSignature(committee.keys, statement, certified.commitCertificate, cosiThreshold(committee.keys.length), verifier)) {
    throw new IosError<LedgerErrorCode>("TX_PROOF_BAD_SIGNATURE", `the commit certificate of shard ${head.shard}, epoch ${head.epoch}, batch ${head.batch}, height ${head.height} does not verify`);
  }
  return stateCommitment;
}

/** The BFT committee that finalizes a shard in an epoch's batch, and the instance key its statements bind. */
export interface Committee {
  readonly chainId: Uint8Array;
  readonly keys: readonly Uint8Array[];
}

/** Committees by (epoch, shard, TransEpoch batch): what a verifier trusts. */
export type CommitteeDirectory = (epoch: number, shard: number, batch: number) => Committee | undefined;

/** An epoch's committees, shard by shard and batch by batch: what a verifier of its proofs trusts. */
export interface EpochCommittees {
  readonly epoch: number;
  /** `shards[j][b]`: shard j's committee after b swaps (0..B, src/epoch/transepoch). */
  readonly shards: readonly (readonly Committee[])[];
}

/** The committees of an epoch context's shards, every batch of each (`EpochContext.committee`, instance keys). */
export function epochCommittees(context: EpochContext): EpochCommittees {
  return {
    epoch: context.epoch,
    shards: Array.from({ length: context.shardCount }, (_, shard) =>
      Array.from({ length: context.batchCount(shard) + 1 }, (_, batch): Committee => ({ chainId: context.instance(shard, batch).key, keys: context.committee(shard, batch) }))),
  };
}

/** A directory knowing the committees of the epochs listed; other epochs and batches unknown. */
export function directoryOf(list: readonly EpochCommittees[]): CommitteeDirectory {
  const byEpoch = new Map(list.map((committees) => [committees.epoch, committees.shards]));
  return (epoch, shard, batch) => byEpoch.get(epoch)?.[shard]?.[batch];
}

/**
 * The committees a verifier holding `contexts` trusts: every batch of each listed epoch and, unless
 * the next epoch is listed too, the next epoch's batch 0 (`EpochContext.opening`: the newest epoch's
 * own committee under the next epoch's instance key, which decides the next epoch's first heights
 * before its configuration exists).
 */
export function trustedCommittees(contexts: readonly EpochContext[]): EpochCommittees[] {
  const list = contexts.map(epochCommittees);
  const newest = contexts.reduce<EpochContext | undefined>((top, context) => (top === undefined || context.epoch > top.epoch ? context : top), undefined);
  if (newest !== undefined && newest.epoch < 0xffffffff) {
    list.push({ epoch: newest.epoch + 1, shards: Array.from({ length: newest.shardCount }, (_, shard) => {
      const { instance, committee } = newest.opening(shard);
      return [{ chainId: instance.key, keys: committee }];
    }) });
  }
  return list;
}

/** A directory of the contexts' epochs (a validator trusts its current epoch's and the one before, whose proofs may still arrive), with `trustedCommittees`' opening of the next. */
export function committeesOfContext(...contexts: readonly EpochContext[]): CommitteeDirectory {
  return directoryOf(trustedCommittees(contexts));
}

/**
 * Committees of several epochs as bytes, for a worker thread (the pipeline's validation request):
 * u8 epochs ‖ per epoch (u32 epoch ‖ u16 shards ‖ per shard (u16 batches ‖ per batch (u8 |chain id| ‖
 * chain id ‖ u16 n ‖ n × key [32]))).
 */
export function encodeEpochCommittees(list: readonly EpochCommittees[]): Uint8Array<ArrayBuffer> {
  check<LedgerErrorCode>(list.length <= 0xff, "TX_PROOF_MALFORMED", `at most 255 epochs of committees, got ${list.length}`);
  const committeeBytes = (c: Committee) => 1 + c.chainId.length + 2 + c.keys.length * PUBLIC_KEY_BYTES;
  const size = 1 + list.reduce((sum, committees) => sum + 6 + committees.shards.reduce((n, batches) => n + 2 + batches.reduce((m, c) => m + committeeBytes(c), 0), 0), 0);
  const writer = BinaryWriter.ofSize(size).u8(list.length);
  for (const committees of list) {
    writer.u32(committees.epoch).u16(committees.shards.length);
    for (const batches of committees.shards) {
      writer.u16(batches.length);
      for (const { chainId, keys } of batches) {
        writer.lengthPrefixed("u8", chainId).u16(keys.length);
        for (const key of keys) writer.bytes(key);
      }
    }
  }
  return writer.finish();
}

export function decodeEpochCommittees(bytes: Uint8Array): EpochCommittees[] {
  const reader = new BinaryReader(bytes, PROOF_CODES);
  const list = Array.from({ length: reader.u8("epoch count") }, (): EpochCommittees => {
    const epoch = reader.u32("epoch");
    const shards = Array.from({ length: reader.u16("shard count") }, () => Array.from({ length: reader.u16("batch count") }, (): Committee => {
      const chainId = reader.lengthPrefixed("u8", 0xff, "chain id").slice();
      const count = reader.u16("committee size");
      return { chainId, keys: Array.from({ length: count }, () => reader.bytes(PUBLIC_KEY_BYTES, "committee key").slice()) };
    }));
    return { epoch, shards };
  });
  reader.expectEnd("the committees");
  return list;
}

/**
 * Checks `bytes` as a proof of the decision on `txid` (module doc, steps 1–4). Returns what it
 * proves; throws TX_PROOF_MALFORMED, TX_PROOF_WRONG_TX, TX_PROOF_NOT_DECISIVE,
 * TX_PROOF_UNKNOWN_COMMITTEE, TX_PROOF_BAD_PATH or TX_PROOF_BAD_SIGNATURE, the first that applies.
 * With `verified`, a certified part it remembers (same bytes, same committee) is neither decoded
 * nor checked again: only the decision and its path are.
 */
export function verifyDecisionProof(bytes: Uint8Array, txid: Uint8Array, committees: CommitteeDirectory, verifier?: Ed25519Verifier, verified?: VerifiedCertificates): ProvenDecision {
  const frame = readProofFrame(bytes);
  const committee = committees(frame.epoch, frame.shard, frame.batch);
  const remembered = committee === undefined ? undefined : verified?.commitmentOf(frame, committee);
  const certified = remembered === undefined ? decodeCertifiedPart(frame.certified, true) : undefined;
  if (!sameBytes(frame.txid, txid)) throw new IosError<LedgerErrorCode>("TX_PROOF_WRONG_TX", "the proof is about another transaction");
  if (!frame.accepted && !DECISIVE_CODES.has(frame.code)) throw new IosError<LedgerErrorCode>("TX_PROOF_NOT_DECISIVE", `${frame.code} is not a refusal that decides a transaction`);
  if (committee === undefined) throw new IosError<LedgerErrorCode>("TX_PROOF_UNKNOWN_COMMITTEE", `no committee is known for shard ${frame.shard} in epoch ${frame.epoch}, batch ${frame.batch}`);
  const commitment = remembered ?? certified!.commitment;
  const leaf = frame.accepted ? frame.txid : codedTxidLeaf({ txid: frame.txid, code: frame.code });
  if (frame.path.size !== (frame.accepted ? commitment.includedCount : commitment.excludedCount) || !verifyPackedMerkleProof(leaf, frame.path, frame.accepted ? commitment.includedRoot : commitment.excludedRoot)) {
    throw new IosError<LedgerErrorCode>("TX_PROOF_BAD_PATH", `the path does not lead to the ${frame.accepted ? "included" : "excluded"} root`);
  }
  if (certified !== undefined) {
    checkCommitCertificate(frame, certified, committees, verifier);
    verified?.remember(frame, committee);
  }
  return provenDecisionOf(frame);
}

/**
 * Checks an unlock-to-commit batch's proof (src/ledger/kinds/atomix-unlock-batch.ts): the
 * final-height certificate (steps 1–3 of the module doc, or remembered in `verified`) and the
 * multiproof of `txids` (packed, in its index order) against the height's included root and count.
 * Throws TX_PROOF_MALFORMED, TX_PROOF_UNKNOWN_COMMITTEE, TX_PROOF_BAD_PATH or TX_PROOF_BAD_SIGNATURE.
 */
export function verifyInclusionBatch(certificate: Uint8Array, multiproof: Uint8Array, txids: Uint8Array, committees: CommitteeDirectory, verifier?: Ed25519Verifier, verified?: VerifiedCertificates): ProvenInclusion {
  const head = readCertificateHead(certificate);
  const committee = committees(head.epoch, head.shard, head.batch);
  if (committee === undefined) throw new IosError<LedgerErrorCode>("TX_PROOF_UNKNOWN_COMMITTEE", `no committee is known for shard ${head.shard} in epoch ${head.epoch}, batch ${head.batch}`);
  const remembered = verified?.commitmentOf(head, committee);
  const certified = remembered === undefined ? decodeCertifiedPart(head.certified, true) : undefined;
  const commitment = remembered ?? certified!.commitment;
  const proof = decodeMultiproof(multiproof);
  if (proof.size !== commitment.includedCount || !verifyMerkleMultiproof(txids, TXID_BYTES, proof, commitment.includedRoot)) {
    throw new IosError<LedgerErrorCode>("TX_PROOF_BAD_PATH", "the multiproof does not lead to the included root");
  }
  if (certified !== undefined) {
    checkCommitCertificate(head, certified, committees, verifier);
    verified?.remember(head, committee);
  }
  return { epoch: head.epoch, shard: head.shard };
}

/** A final-height certificate's head, its certified part a view (located, not decoded). */
function readCertificateHead(bytes: Uint8Array): ProofHead & { readonly certified: Uint8Array } {
  check<LedgerErrorCode>(bytes instanceof Uint8Array && bytes.length <= MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "TX_PROOF_MALFORMED", `a certificate is at most ${MAX_FINAL_HEIGHT_CERTIFICATE_BYTES} bytes`);
  const reader = new BinaryReader(bytes, PROOF_CODES);
  const version = reader.u8("version");
  check<LedgerErrorCode>(version === FINAL_HEIGHT_CERTIFICATE_VERSION, "TX_PROOF_MALFORMED", `certificate version ${version} is not ${FINAL_HEIGHT_CERTIFICATE_VERSION}`);
  const head = { epoch: reader.u32("epoch"), shard: reader.u32("shard"), batch: reader.u16("batch"), height: reader.u53("height"), view: reader.u32("view") };
  reader.need(CERTIFIED_COMMITTEE_SIZE_AT + 2, "commit certificate");
  const certified = reader.bytes(certifiedPartBytes(readU16(bytes, reader.at + CERTIFIED_COMMITTEE_SIZE_AT)), "certified part");
  reader.expectEnd("the certificate");
  return { ...head, certified };
}

function decodeMultiproof(bytes: Uint8Array): MerkleMultiproof {
  return malformedAs("multiproof", () => readMerkleMultiproof(bytes));
}

function provenDecisionOf(proof: Pick<DecisionProof, "epoch" | "shard" | "accepted" | "code">): ProvenDecision {
  return { epoch: proof.epoch, shard: proof.shard, accepted: proof.accepted, code: proof.accepted ? undefined : proof.code };
}

/**
 * Final heights whose commit certificate verified, by their (epoch, shard, batch, height, view): the
 * certified part's bytes (body digest through the MSB header hash), the committee it verified
 * against and its decoded commitment. Every proof of one final height carries the same bytes, so
 * a block of unlocks costs one decoding, statement and signature check per height it cites
 * instead of one per proof; each proof still has its decision and path checked against the
 * remembered roots. A proof is taken as remembered only if its certified bytes equal the
 * remembered ones and the directory still gives the same committee for its (epoch, shard, batch):
 * verification is a pure function of these, so remembering a success changes no verdict.
 * Bounded: at most `capacity` heights, the oldest forgotten first.
 */
export class VerifiedCertificates {
  readonly #heights = new Map<string, { readonly certified: Uint8Array; readonly committee: Committee; readonly commitment: CommitmentParts }>();

  constructor(private readonly capacity = VERIFIED_CERTIFICATES_KEPT) {
    check<LedgerErrorCode>(Number.isInteger(capacity) && capacity >= 1, "TX_PROOF_MALFORMED", `remembers at least one height, got ${capacity}`);
  }

  /** Heights remembered. */
  get size(): number {
    return this.#heights.size;
  }

  /** The commitment of a height remembered with these certified bytes and this committee; undefined otherwise. */
  commitmentOf(proof: Pick<ProofFrame, "epoch" | "shard" | "batch" | "height" | "view" | "certified">, committee: Committee): CommitmentParts | undefined {
    const known = this.#heights.get(heightKey(proof));
    return known !== undefined && known.committee === committee && sameBytes(known.certified, proof.certified) ? known.commitment : undefined;
  }

  /** Remembers a height whose certified part verified against `committee`: a copy of its bytes, and the commitment read from that copy (not views of the proof's). */
  remember(proof: Pick<ProofFrame, "epoch" | "shard" | "batch" | "height" | "view" | "certified">, committee: Committee): void {
    const key = heightKey(proof);
    this.#heights.delete(key);
    if (this.#heights.size >= this.capacity) this.#heights.delete(this.#heights.keys().next().value!);
    const certified = proof.certified.slice();
    this.#heights.set(key, { certified, committee, commitment: decodeCertifiedPart(certified, true).commitment });
  }
}

function heightKey(head: ProofHead): string {
  return `${head.epoch}/${head.shard}/${head.batch}/${head.height}/${head.view}`;
}

/**
 * The decisions that proofs in the own final chain's blocks state, read without checking their
 * certificates and paths: the committee of the height that holds them checked them when it
 * finalized it. What a replica replays its stored blocks with (src/node/shard-state.ts), whatever
 * the committees of past epochs; only the statement's txid is checked.
 */
export const FINAL_CHAIN_DECISIONS: DecisionVerifier = {
  verify(bytes: Uint8Array, txid: Uint8Array): ProvenDecision {
    const proof = readProofFrame(bytes);
    decodeCertifiedPart(proof.certified, true);
    if (!sameBytes(proof.txid, txid)) throw new IosError<LedgerErrorCode>("TX_PROOF_WRONG_TX", "the proof is about another transaction");
    return provenDecisionOf(proof);
  },
  verifyIncluded(certificate: Uint8Array): ProvenInclusion {
    const { epoch, shard, certified } = readCertificateHead(certificate);
    decodeCertifiedPart(certified, true);
    return { epoch, shard };
  },
};

/** The ledger's DecisionVerifier over a committee directory. */
export class CommitteeProofVerifier implements DecisionVerifier {
  readonly #verified = new VerifiedCertificates();

  constructor(
    private readonly committees: CommitteeDirectory,
    private readonly verifier?: Ed25519Verifier,
  ) {}

  verify(proof: Uint8Array, txid: Uint8Array): ProvenDecision {
    return proofCodesOnly(() => verifyDecisionProof(proof, txid, this.committees, this.verifier, this.#verified));
  }

  verifyIncluded(certificate: Uint8Array, multiproof: Uint8Array, txids: Uint8Array): ProvenInclusion {
    return proofCodesOnly(() => verifyInclusionBatch(certificate, multiproof, txids, this.committees, this.verifier, this.#verified));
  }
}

/** `check`'s result; a malformed part's own codec code (merkle, cosi) becomes the ledger's TX_PROOF_MALFORMED. */
function proofCodesOnly<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof IosError && !hasCodeIn<LedgerErrorCode>(error, ["TX_PROOF_MALFORMED", "TX_PROOF_WRONG_TX", "TX_PROOF_NOT_DECISIVE", "TX_PROOF_UNKNOWN_COMMITTEE", "TX_PROOF_BAD_PATH", "TX_PROOF_BAD_SIGNATURE"])) {
      throw new IosError<LedgerErrorCode>("TX_PROOF_MALFORMED", error.message);
    }
    throw error;
  }
}
