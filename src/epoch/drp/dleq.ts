/**
 * Chaum–Pedersen proofs of discrete-logarithm equality over ristretto255 (D. Chaum and T. P.
 * Pedersen, "Wallet Databases with Observers", CRYPTO 1992, §3.2), made non-interactive by
 * Fiat–Shamir with SHA-512: the prover shows that one secret x satisfies H1 = x·G1 and H2 = x·G2
 * without revealing x. Schoenmakers' PVSS (pvss.ts, white paper §5) proves every encrypted and
 * every decrypted share with one.
 *
 *   prove     w uniform nonzero mod ℓ from an injected Rng; A1 = w·G1, A2 = w·G2;
 *             c = challenge(context, G1, H1, G2, H2, A1, A2); r = w − c·x mod ℓ
 *   verify    A1 = r·G1 + c·H1, A2 = r·G2 + c·H2; valid iff challenge(…, A1, A2) = c
 *   challenge SHA-512(DOMAIN ‖ u32le(|context|) ‖ context ‖ G1 ‖ H1 ‖ G2 ‖ H2 ‖ A1 ‖ A2) mod ℓ,
 *             points in their 32-byte RFC 9496 encoding; the length prefix keeps the context
 *             from sliding into the points
 *
 * The proof (c, r) is encoded c ‖ r, two 32-byte little-endian scalars below ℓ. The module also
 * holds the group's shared codec pieces (canonical point and scalar reads, scalars from an Rng).
 * Secret-scalar multiplications use @noble/curves' constant-time `multiply`; verification works
 * on public values only and uses the variable-time `mulAddUnsafe`.
 */
import { mulAddUnsafe } from "@noble/curves/abstract/curve.js";
import { ristretto255 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { BinaryWriter, type BinaryReader } from "../../codec/binary.js";
import { POINT_BYTES, SCALAR_BYTES } from "../../codec/sizes.js";
import { IosError, check } from "../../errors.js";
import type { Rng } from "../../runtime/interface.js";
import type { DrpErrorCode } from "./errors.js";

export type RistrettoPoint = InstanceType<typeof ristretto255.Point>;
export const RistrettoPoint = ristretto255.Point;
/** The scalar field mod ℓ = 2^252 + 27742317777372353535851937790883648493 (RFC 9496 §4.1). */
export const Fn = RistrettoPoint.Fn;

/** Domain separation of the Fiat–Shamir challenge from every other SHA-512 use of the tree. */
const DLEQ_DOMAIN = new TextEncoder().encode("IOSChain/drp/dleq/v1");
/**
 * A scalar is reduced from 64 random bytes: the bias of a 512-bit value mod ℓ (≈ 2^252) is below
 * 2^-259, the wide reduction of RFC 8032 §5.1.6 and RFC 9496 §4.4.
 */
const SCALAR_SOURCE_BYTES = 64;
/** An encoded proof: challenge c ‖ response r. */
export const DLEQ_PROOF_BYTES = 2 * SCALAR_BYTES;

export interface DleqProof {
  readonly challenge: bigint;
  readonly response: bigint;
}

/** A uniform nonzero scalar from 64 bytes of `rng`; DRP_BAD_ARGUMENT if the Rng is broken enough to give zero. */
export function randomScalar(rng: Rng): bigint {
  const scalar = Fn.create(bytesToNumberLE(rng.bytes(SCALAR_SOURCE_BYTES)));
  check<DrpErrorCode>(scalar !== 0n, "DRP_BAD_ARGUMENT", "the rng produced a zero scalar");
  return scalar;
}

/**
 * k·P in constant time for a secret k; zero gives the identity (noble's `multiply` refuses 0,
 * and a polynomial may vanish at a share index, with probability about n/ℓ).
 */
export function multiplySecret(point: RistrettoPoint, scalar: bigint): RistrettoPoint {
  return scalar === 0n ? RistrettoPoint.ZERO : point.multiply(scalar);
}

/**
 * The encodings of points already encoded or decoded. Encoding costs an inverse square root; a
 * DRP run encodes the same keys, shares and generators in proof after proof (Fiat–Shamir hashes
 * every statement point) and again in its messages. Points are immutable, so the cache is exact.
 */
const encodings = new WeakMap<RistrettoPoint, Uint8Array>();

/** The 32-byte RFC 9496 encoding of `point`, shared: callers copy it, never write to it. */
export function pointBytes(point: RistrettoPoint): Uint8Array {
  let bytes = encodings.get(point);
  if (bytes === undefined) {
    bytes = point.toBytes();
    encodings.set(point, bytes);
  }
  return bytes;
}

/** Reads a 32-byte canonical ristretto255 encoding (RFC 9496 §4.3.1): DRP_MALFORMED otherwise. */
export function readPoint(reader: BinaryReader<DrpErrorCode>, what: string): RistrettoPoint {
  const bytes = reader.bytes(POINT_BYTES, what).slice();
  let point: RistrettoPoint;
  try {
    point = RistrettoPoint.fromBytes(bytes);
  } catch {
    throw new IosError<DrpErrorCode>("DRP_MALFORMED", `${what} is not a canonical ristretto255 encoding`);
  }
  encodings.set(point, bytes);
  return point;
}

/** Reads a 32-byte little-endian scalar, which must be below ℓ: DRP_MALFORMED otherwise. */
export function readScalar(reader: BinaryReader<DrpErrorCode>, what: string): bigint {
  const value = bytesToNumberLE(reader.bytes(SCALAR_BYTES, what));
  check<DrpErrorCode>(Fn.isValid(value), "DRP_MALFORMED", `${what} is not below the group order`);
  return value;
}

function challenge(context: Uint8Array, points: readonly RistrettoPoint[]): bigint {
  const writer = BinaryWriter.ofSize(DLEQ_DOMAIN.length + 4 + context.length + points.length * POINT_BYTES);
  writer.bytes(DLEQ_DOMAIN).u32(context.length).bytes(context);
  for (const point of points) writer.bytes(pointBytes(point));
  return Fn.create(bytesToNumberLE(sha512(writer.finish())));
}

/**
 * A proof that H1 = x·G1 and H2 = x·G2 for the secret `x`, bound to `context`. The caller passes
 * the statement it claims; a wrong one gives a proof that does not verify.
 */
export function proveDleq(
  x: bigint,
  g1: RistrettoPoint,
  h1: RistrettoPoint,
  g2: RistrettoPoint,
  h2: RistrettoPoint,
  rng: Rng,
  context: Uint8Array,
): DleqProof {
  check<DrpErrorCode>(Fn.isValid(x), "DRP_BAD_ARGUMENT", "the secret is not a scalar below the group order");
  const nonce = randomScalar(rng);
  const c = challenge(context, [g1, h1, g2, h2, g1.multiply(nonce), g2.multiply(nonce)]);
  return { challenge: c, response: Fn.sub(nonce, Fn.mul(c, x)) };
}

/** Whether `proof` shows log_G1(H1) = log_G2(H2) under `context`. */
export function verifyDleq(
  proof: DleqProof,
  g1: RistrettoPoint,
  h1: RistrettoPoint,
  g2: RistrettoPoint,
  h2: RistrettoPoint,
  context: Uint8Array,
): boolean {
  const { challenge: c, response: r } = proof;
  if (!Fn.isValid(c) || !Fn.isValid(r)) return false;
  // Strauss–Shamir: each r·G + c·H on one shared doubling chain, about half the doublings of two products.
  const a1 = mulAddUnsafe(RistrettoPoint, [g1, h1], [r, c]);
  const a2 = mulAddUnsafe(RistrettoPoint, [g2, h2], [r, c]);
  return challenge(context, [g1, h1, g2, h2, a1, a2]) === c;
}

/** Appends c ‖ r. */
export function writeDleqProof(writer: BinaryWriter, proof: DleqProof): void {
  writer.bytes(Fn.toBytes(proof.challenge)).bytes(Fn.toBytes(proof.response));
}

/** Reads c ‖ r, each strictly below ℓ. */
export function readDleqProof(reader: BinaryReader<DrpErrorCode>, what: string): DleqProof {
  const c = readScalar(reader, `${what} challenge`);
  return { challenge: c, response: readScalar(reader, `${what} response`) };
}
