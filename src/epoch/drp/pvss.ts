/**
 * Publicly verifiable secret sharing over ristretto255: B. Schoenmakers, "A Simple Publicly
 * Verifiable Secret Sharing Scheme and its Application to Electronic Voting", CRYPTO 1999, §3,
 * the sharing under the white paper's Distributed Randomness Protocol (§5, Algorithms 2–3,
 * after RandHound: Syta et al., "Scalable Bias-Resistant Distributed Randomness", IEEE S&P 2017).
 * Pure functions: no networking and no protocol state.
 *
 * Two generators, as in Schoenmakers §3 (his g and G) and the DEDIS kyber design RandHound was
 * built on (share/pvss/pvss.go: commitments on a second point H, keys and the secret on the base):
 *   G  the ristretto255 base point: participants' keys y_i = x_i·G, shares and the secret s·G;
 *   H  COMMITMENT_GENERATOR, hashed to the group (RFC 9380 hash_to_ristretto255) from a fixed
 *      string, so no one knows log_G(H); with one generator C_0 = s·G would publish the secret.
 *
 *   deal      p(z) = a_0 + a_1·z + … + a_{t−1}·z^{t−1} with a_j uniform from the dealer's Rng;
 *             commitments C_j = a_j·H; encrypted shares Y_i = p(i)·y_i for i = 1..n, each with a
 *             DLEQ proof (dleq.ts) that log_H(X_i) = log_{y_i}(Y_i), X_i = Σ_j i^j·C_j = p(i)·H.
 *             The dealer's secret is S = a_0·G.
 *   verify    anyone recomputes every X_i from the commitments and checks the proofs; Algorithm 2
 *             drops the failing shares rather than the whole deal, so the failures are returned.
 *   decrypt   participant i publishes S_i = x_i^{-1}·Y_i = p(i)·G with a DLEQ proof that
 *             log_G(y_i) = log_{S_i}(Y_i), which anyone checks against y_i and Y_i.
 *   recover   Lagrange interpolation in the exponent at 0 over t shares with distinct indexes:
 *             Σ λ_i·S_i = p(0)·G = S, λ_i = Π_{j≠i} j/(j − i) mod ℓ.
 *
 * Encodings (little-endian, strict: DRP_MALFORMED for truncation, trailing bytes, non-canonical
 * points, scalars ≥ ℓ and counts out of range):
 *   deal             u16 n ‖ u16 t ‖ C_0 … C_{t−1} ‖ n × (Y_i ‖ c_i ‖ r_i)   4 + 32·t + 96·n bytes
 *   decrypted share  u16 i ‖ S_i ‖ c ‖ r                                       98 bytes
 * with 1 ≤ t ≤ n and 1 ≤ i ≤ MAX_SHARES.
 */
import { ristretto255_hasher } from "@noble/curves/ed25519.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { POINT_BYTES } from "../../codec/sizes.js";
import { check } from "../../errors.js";
import type { Rng } from "../../runtime/interface.js";
import {
  DLEQ_PROOF_BYTES,
  Fn,
  RistrettoPoint,
  combinationPoint,
  combinePublic,
  multiplySecret,
  pointBytes,
  proveDleq,
  randomScalar,
  readDleqProof,
  readPoint,
  verifyDleq,
  writeDleqProof,
  type DleqProof,
} from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";

/** The base point G: keys, decrypted shares and the secret. */
export const SHARE_GENERATOR: RistrettoPoint = RistrettoPoint.BASE;
/** H: the polynomial commitments; RFC 9380 hash_to_ristretto255 with this DST, so log_G(H) is unknown. */
export const COMMITMENT_GENERATOR: RistrettoPoint = ristretto255_hasher.hashToCurve(new Uint8Array(0), {
  DST: "IOSChain/drp/pvss/commitment-generator/v1",
});
/**
 * Every deal multiplies H by t coefficients and by each share value and nonce: a cached table of
 * its multiples, like noble's for the base point, spares those products their doublings.
 */
const PRECOMPUTE_WINDOW_BITS = 8;
COMMITMENT_GENERATOR.precompute(PRECOMPUTE_WINDOW_BITS);
/** Share indexes and counts are u16 in the encodings. */
export const MAX_SHARES = 0xffff;
/** u16 n ‖ u16 t. */
const DEAL_HEADER_BYTES = 4;
/** Y_i ‖ c_i ‖ r_i. */
const ENCRYPTED_SHARE_BYTES = POINT_BYTES + DLEQ_PROOF_BYTES;
/** u16 i ‖ S_i ‖ c ‖ r. */
export const DECRYPTED_SHARE_BYTES = 2 + POINT_BYTES + DLEQ_PROOF_BYTES;

const CODES = singleCode<DrpErrorCode>("DRP_MALFORMED");

export interface EncryptedShare {
  /** Y_i = p(i)·y_i. */
  readonly point: RistrettoPoint;
  /** log_H(X_i) = log_{y_i}(Y_i). */
  readonly proof: DleqProof;
}

/** What a dealer publishes: share i (1-based) is `shares[i − 1]`, for the i-th public key. */
export interface Deal {
  readonly threshold: number;
  /** C_j = a_j·H, j = 0..t−1. */
  readonly commitments: readonly RistrettoPoint[];
  readonly shares: readonly EncryptedShare[];
}

export interface DecryptedShare {
  /** i, 1-based. */
  readonly index: number;
  /** S_i = p(i)·G. */
  readonly point: RistrettoPoint;
  /** log_G(y_i) = log_{S_i}(Y_i). */
  readonly proof: DleqProof;
}

function checkCounts(shareCount: number, threshold: number, code: DrpErrorCode): void {
  check<DrpErrorCode>(
    Number.isInteger(shareCount) && shareCount >= 1 && shareCount <= MAX_SHARES,
    code,
    `the number of shares must be in [1, ${MAX_SHARES}], got ${shareCount}`,
  );
  check<DrpErrorCode>(
    Number.isInteger(threshold) && threshold >= 1 && threshold <= shareCount,
    code,
    `the threshold must be in [1, ${shareCount}], got ${threshold}`,
  );
}

function checkIndex(index: number, code: DrpErrorCode): void {
  check<DrpErrorCode>(Number.isInteger(index) && index >= 1 && index <= MAX_SHARES, code, `a share index must be in [1, ${MAX_SHARES}], got ${index}`);
}

/** Keys of the identity would make a share's proof say nothing about its Y_i. */
function checkPublicKeys(publicKeys: readonly RistrettoPoint[]): void {
  publicKeys.forEach((key, i) => check<DrpErrorCode>(!key.is0(), "DRP_BAD_ARGUMENT", `public key ${i + 1} is the identity`));
}

/** X_i = Σ_j i^j·C_j from the public commitments, one kernel multi-scalar sum. */
export function shareCommitment(commitments: readonly RistrettoPoint[], index: number): RistrettoPoint {
  const i = BigInt(index);
  const powers: bigint[] = [];
  for (let j = 0, power = 1n; j < commitments.length; j++, power = Fn.mul(power, i)) powers.push(power);
  return combinationPoint(combinePublic(commitments, powers));
}

/**
 * A fresh deal of threshold `threshold` for `publicKeys` (share i for key i − 1), with every
 * coefficient drawn from `secretRng`, and the dealer's secret point S = a_0·G.
 */
export function deal(
  secretRng: Rng,
  publicKeys: readonly RistrettoPoint[],
  threshold: number,
  context: Uint8Array,
): { readonly deal: Deal; readonly secret: RistrettoPoint } {
  checkCounts(publicKeys.length, threshold, "DRP_BAD_ARGUMENT");
  checkPublicKeys(publicKeys);
  const coefficients = Array.from({ length: threshold }, () => randomScalar(secretRng));
  const commitments = coefficients.map((a) => multiplySecret(COMMITMENT_GENERATOR, a));
  const shares = publicKeys.map((publicKey, position): EncryptedShare => {
    const i = BigInt(position + 1);
    const value = coefficients.reduceRight((sum, a) => Fn.add(Fn.mul(sum, i), a), 0n);
    const point = multiplySecret(publicKey, value);
    const proof = proveDleq(value, COMMITMENT_GENERATOR, multiplySecret(COMMITMENT_GENERATOR, value), publicKey, point, secretRng, context);
    return { point, proof };
  });
  return { deal: { threshold, commitments, shares }, secret: multiplySecret(SHARE_GENERATOR, coefficients[0]!) };
}

function checkDealShape(theDeal: Pick<Deal, "threshold" | "commitments">, shareCount: number): void {
  checkCounts(shareCount, theDeal.threshold, "DRP_BAD_ARGUMENT");
  check<DrpErrorCode>(
    theDeal.commitments.length === theDeal.threshold,
    "DRP_BAD_ARGUMENT",
    `the deal has ${theDeal.commitments.length} commitments for threshold ${theDeal.threshold}`,
  );
}

function encryptedShareVerifies(
  commitments: readonly RistrettoPoint[],
  index: number,
  { point, proof }: EncryptedShare,
  publicKey: RistrettoPoint,
  context: Uint8Array,
): boolean {
  return verifyDleq(proof, COMMITMENT_GENERATOR, shareCommitment(commitments, index), publicKey, point, context);
}

/**
 * The 1-based indexes of the shares of `theDeal` whose proof fails against its commitments and
 * `publicKeys` (empty when all verify). A deal whose shape does not fit the keys is the caller's
 * error: DRP_BAD_ARGUMENT.
 */
export function verifyEncryptedShares(theDeal: Deal, publicKeys: readonly RistrettoPoint[], context: Uint8Array): number[] {
  const n = theDeal.shares.length;
  check<DrpErrorCode>(publicKeys.length === n, "DRP_BAD_ARGUMENT", `the deal has ${n} shares for ${publicKeys.length} public keys`);
  checkDealShape(theDeal, n);
  checkPublicKeys(publicKeys);
  const failing: number[] = [];
  for (let index = 1; index <= n; index++) {
    if (!encryptedShareVerifies(theDeal.commitments, index, theDeal.shares[index - 1]!, publicKeys[index - 1]!, context)) failing.push(index);
  }
  return failing;
}

/** One trustee's part of a deal: the commitments and its own encrypted share. */
export interface DealShare {
  readonly shareCount: number;
  readonly threshold: number;
  readonly commitments: readonly RistrettoPoint[];
  /** i, 1-based. */
  readonly index: number;
  readonly share: EncryptedShare;
}

/**
 * Whether the trustee's share verifies for its `publicKey`: what it checks of a chosen deal
 * (Algorithm 2 step 6b), one proof instead of the deal's n.
 */
export function verifyEncryptedShare(part: DealShare, publicKey: RistrettoPoint, context: Uint8Array): boolean {
  checkDealShape(part, part.shareCount);
  check<DrpErrorCode>(
    Number.isInteger(part.index) && part.index >= 1 && part.index <= part.shareCount,
    "DRP_BAD_ARGUMENT",
    `the deal has no share ${part.index}`,
  );
  checkPublicKeys([publicKey]);
  return encryptedShareVerifies(part.commitments, part.index, part.share, publicKey, context);
}

/** Participant `index`'s decryption S_i = x_i^{-1}·Y_i of its encrypted share, with its proof. */
export function decryptShare(
  secretKey: bigint,
  index: number,
  encryptedShare: RistrettoPoint,
  rng: Rng,
  context: Uint8Array,
): DecryptedShare {
  checkIndex(index, "DRP_BAD_ARGUMENT");
  check<DrpErrorCode>(Fn.isValid(secretKey) && secretKey !== 0n, "DRP_BAD_ARGUMENT", "a secret key is a nonzero scalar below the group order");
  const point = multiplySecret(encryptedShare, Fn.inv(secretKey));
  const proof = proveDleq(secretKey, SHARE_GENERATOR, multiplySecret(SHARE_GENERATOR, secretKey), point, encryptedShare, rng, context);
  return { index, point, proof };
}

/** Whether `share` is the decryption of `encryptedShare` by the holder of `publicKey`. */
export function verifyDecryptedShare(
  share: DecryptedShare,
  publicKey: RistrettoPoint,
  encryptedShare: RistrettoPoint,
  context: Uint8Array,
): boolean {
  return verifyDleq(share.proof, SHARE_GENERATOR, publicKey, share.point, encryptedShare, context);
}

/**
 * The secret p(0)·G from the first `threshold` shares (distinct indexes, already verified by
 * the caller). DRP_TOO_FEW_SHARES below the threshold, DRP_BAD_ARGUMENT on a repeated index.
 */
export function recoverSecret(shares: readonly Pick<DecryptedShare, "index" | "point">[], threshold: number): RistrettoPoint {
  check<DrpErrorCode>(Number.isInteger(threshold) && threshold >= 1, "DRP_BAD_ARGUMENT", `the threshold must be a positive integer, got ${threshold}`);
  const seen = new Set<number>();
  for (const { index } of shares) {
    checkIndex(index, "DRP_BAD_ARGUMENT");
    check<DrpErrorCode>(!seen.has(index), "DRP_BAD_ARGUMENT", `share index ${index} appears twice`);
    seen.add(index);
  }
  check<DrpErrorCode>(shares.length >= threshold, "DRP_TOO_FEW_SHARES", `recovery needs ${threshold} shares, got ${shares.length}`);
  const used = shares.slice(0, threshold);
  const coefficients = used.map(({ index }) => {
    const i = BigInt(index);
    let numerator = 1n;
    let denominator = 1n;
    for (const { index: other } of used) {
      if (other === index) continue;
      const j = BigInt(other);
      numerator = Fn.mul(numerator, j);
      denominator = Fn.mul(denominator, Fn.sub(j, i));
    }
    return Fn.mul(numerator, Fn.inv(denominator));
  });
  return combinationPoint(combinePublic(used.map(({ point }) => point), coefficients));
}

export function encodeDeal(theDeal: Deal): Uint8Array {
  const n = theDeal.shares.length;
  checkCounts(n, theDeal.threshold, "DRP_BAD_ARGUMENT");
  check<DrpErrorCode>(theDeal.commitments.length === theDeal.threshold, "DRP_BAD_ARGUMENT", "a deal has one commitment per threshold unit");
  const writer = BinaryWriter.ofSize(DEAL_HEADER_BYTES + theDeal.threshold * POINT_BYTES + n * ENCRYPTED_SHARE_BYTES);
  writer.u16(n).u16(theDeal.threshold);
  for (const commitment of theDeal.commitments) writer.bytes(pointBytes(commitment));
  for (const { point, proof } of theDeal.shares) {
    writer.bytes(pointBytes(point));
    writeDleqProof(writer, proof);
  }
  return writer.finish();
}

/** A deal's counts, with the exact length they imply checked. */
function readDealHeader(reader: BinaryReader<DrpErrorCode>): { readonly n: number; readonly threshold: number } {
  const n = reader.u16("share count");
  const threshold = reader.u16("threshold");
  checkCounts(n, threshold, "DRP_MALFORMED");
  reader.expectRemaining(threshold * POINT_BYTES + n * ENCRYPTED_SHARE_BYTES, "a deal's commitments and shares");
  return { n, threshold };
}

/**
 * A deal's framing (counts in range, exact length), DRP_MALFORMED otherwise, without decoding its
 * n + t points: for deals a reader only passes on (decodeDeal checks the points where used).
 */
export function checkDealFraming(bytes: Uint8Array): void {
  readDealHeader(new BinaryReader<DrpErrorCode>(bytes, CODES));
}

/**
 * Share `index` (1-based) of an encoded deal with its commitments, decoding t + 1 points instead
 * of t + n; the other shares' points are left unchecked. DRP_MALFORMED as decodeDeal, or if the
 * deal has no share `index`.
 */
export function decodeDealShare(bytes: Uint8Array, index: number): DealShare {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  const { n, threshold } = readDealHeader(reader);
  check<DrpErrorCode>(Number.isInteger(index) && index >= 1 && index <= n, "DRP_MALFORMED", `the deal of ${n} shares has no share ${index}`);
  const commitments = Array.from({ length: threshold }, (_, j) => readPoint(reader, `commitment ${j}`));
  reader.bytes((index - 1) * ENCRYPTED_SHARE_BYTES, "the shares before it");
  const point = readPoint(reader, `encrypted share ${index}`);
  const share = { point, proof: readDleqProof(reader, `encrypted share ${index} proof`) };
  return { shareCount: n, threshold, commitments, index, share };
}

export function decodeDeal(bytes: Uint8Array): Deal {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  const { n, threshold } = readDealHeader(reader);
  const commitments = Array.from({ length: threshold }, (_, j) => readPoint(reader, `commitment ${j}`));
  const shares = Array.from({ length: n }, (_, position): EncryptedShare => {
    const point = readPoint(reader, `encrypted share ${position + 1}`);
    return { point, proof: readDleqProof(reader, `encrypted share ${position + 1} proof`) };
  });
  return { threshold, commitments, shares };
}

export function encodeDecryptedShare(share: DecryptedShare): Uint8Array {
  checkIndex(share.index, "DRP_BAD_ARGUMENT");
  const writer = BinaryWriter.ofSize(DECRYPTED_SHARE_BYTES);
  writer.u16(share.index).bytes(pointBytes(share.point));
  writeDleqProof(writer, share.proof);
  return writer.finish();
}

export function decodeDecryptedShare(bytes: Uint8Array): DecryptedShare {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  reader.expectRemaining(DECRYPTED_SHARE_BYTES, "a decrypted share");
  const index = reader.u16("share index");
  checkIndex(index, "DRP_MALFORMED");
  const point = readPoint(reader, "decrypted share");
  return { index, point, proof: readDleqProof(reader, "decrypted share proof") };
}
