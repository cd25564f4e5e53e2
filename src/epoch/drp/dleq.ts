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
 * Secret-scalar multiplications run on the kernel's constant-time multiplication (`multiplySecret`); verification works
 * on public values only and runs on the WASM kernel's variable-time linear combinations
 * (`combinePublic`, src/crypto/ed25519.ts): a ristretto255 element is an edwards25519 point
 * (RFC 9496 §4), so the kernel sums noble's representatives and encodes the sum itself.
 */
import { ed25519, ristretto255 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { BinaryWriter, type BinaryReader } from "../../codec/binary.js";
import { EXTENDED_POINT_BYTES, POINT_BYTES, SCALAR_BYTES } from "../../codec/sizes.js";
import { linearCombination, multiplySecretPoint, ristrettoDecode, type KernelPoint } from "../../crypto/ed25519.js";
import { check } from "../../errors.js";
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
 * k·P in constant time for a secret k, on the Ed25519 kernel (its multiplication by a secret
 * scalar: src/crypto/ed25519.ts `multiplySecretPoint`, about 7× noble's constant-time one); the
 * product comes back with its encoding and coordinates cached. Zero gives the identity (a
 * polynomial may vanish at a share index, with probability about n/ℓ).
 */
export function multiplySecret(point: RistrettoPoint, scalar: bigint): RistrettoPoint {
  return scalar === 0n ? RistrettoPoint.ZERO : combinationPoint(multiplySecretPoint(extendedCoordinates(point), Fn.toBytes(scalar)));
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

/** Kernel inputs (extended coordinates of the point's edwards25519 representative), made once per point like its encoding. */
const kernelCoordinates = new WeakMap<RistrettoPoint, Uint8Array>();
const COORDINATE_BYTES = EXTENDED_POINT_BYTES / 4;

function extendedCoordinates(point: RistrettoPoint): Uint8Array {
  let bytes = kernelCoordinates.get(point);
  if (bytes === undefined) {
    // The representative in affine form (Z = 1): noble keeps its extended coordinates private.
    const { x, y } = point.toAffine();
    bytes = new Uint8Array(EXTENDED_POINT_BYTES);
    [x, y, 1n, RistrettoPoint.Fp.mul(x, y)].forEach((coordinate, i) => bytes!.set(numberToBytesLE(coordinate, COORDINATE_BYTES), i * COORDINATE_BYTES));
    kernelCoordinates.set(point, bytes);
  }
  return bytes;
}

/** Σ scalars_i·points_i of public points and scalars (below ℓ), on the kernel in variable time. */
export function combinePublic(points: readonly RistrettoPoint[], scalars: readonly bigint[]): KernelPoint {
  return linearCombination(points.map(extendedCoordinates), scalars.map((scalar) => Fn.toBytes(scalar)));
}

/** The noble point of a kernel point, with its encoding and coordinates cached (both come with it). */
export function combinationPoint(sum: KernelPoint): RistrettoPoint {
  const coordinate = (i: number) => bytesToNumberLE(sum.coordinates.subarray(i * COORDINATE_BYTES, (i + 1) * COORDINATE_BYTES));
  const point = new RistrettoPoint(new ed25519.Point(coordinate(0), coordinate(1), coordinate(2), coordinate(3)));
  encodings.set(point, sum.ristretto);
  kernelCoordinates.set(point, sum.coordinates);
  return point;
}

/** Reads a 32-byte canonical ristretto255 encoding (RFC 9496 §4.3.1): DRP_MALFORMED otherwise. */
export function readPoint(reader: BinaryReader<DrpErrorCode>, what: string): RistrettoPoint {
  const decoded = ristrettoDecode(reader.bytes(POINT_BYTES, what));
  check<DrpErrorCode>(decoded !== undefined, "DRP_MALFORMED", `${what} is not a canonical ristretto255 encoding`);
  return combinationPoint(decoded);
}

/** Reads a 32-byte little-endian scalar, which must be below ℓ: DRP_MALFORMED otherwise. */
export function readScalar(reader: BinaryReader<DrpErrorCode>, what: string): bigint {
  const value = bytesToNumberLE(reader.bytes(SCALAR_BYTES, what));
  check<DrpErrorCode>(Fn.isValid(value), "DRP_MALFORMED", `${what} is not below the group order`);
  return value;
}

/** The Fiat–Shamir challenge over the statement and commitment points, given encoded. */
function challenge(context: Uint8Array, encodedPoints: readonly Uint8Array[]): bigint {
  const writer = BinaryWriter.ofSize(DLEQ_DOMAIN.length + 4 + context.length + encodedPoints.length * POINT_BYTES);
  writer.bytes(DLEQ_DOMAIN).u32(context.length).bytes(context);
  for (const encoded of encodedPoints) writer.bytes(encoded);
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
  const c = challenge(context, [g1, h1, g2, h2, multiplySecret(g1, nonce), multiplySecret(g2, nonce)].map(pointBytes));
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
  // Each r·G + c·H on one shared doubling chain; only the encodings enter the challenge.
  const a1 = combinePublic([g1, h1], [r, c]).ristretto;
  const a2 = combinePublic([g2, h2], [r, c]).ristretto;
  return challenge(context, [...[g1, h1, g2, h2].map(pointBytes), a1, a2]) === c;
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
