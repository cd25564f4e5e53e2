/**
 * The collective Schnorr signature on the client's choice T' (white paper §5.2, Algorithm 2
 * steps 2c, 3d, 4b, 5b, 6a; Algorithm 3 step 4), over Ed25519 keys, with exceptions:
 *
 *   commit     server i: V_i = v_i·B (SchnorrKey.commit, src/crypto/schnorr.ts), sent in R1_i
 *   challenge  c = SHA-512("IOSChain/drp/cosign/v1" ‖ V ‖ H(C) ‖ T') mod L, V = Σ V_i over the
 *              committed servers W (those whose R1 the client recorded)
 *   respond    r_i = v_i + c·a_i (SchnorrKey.respond: the Ed25519 sign convention, the paper's
 *              r_i = v_i − c·x_i with x negated); the client checks each with checkPartial
 *   aggregate  r = Σ r_i over the signers S ⊆ W; E = W \ S are the exceptions
 *   verify     |S| ≥ 2f + 1 and r·B = Σ_{i∈S} V_i + c·Σ_{i∈S} A_i
 *
 * The exceptions' V_e stay in V, which c binds before anyone responds, so the signers' part of V
 * is fixed before c as in plain Schnorr; the sum is checked on every committed V_i, never on an
 * aggregate the client could pick after c. This is CoSi's exception handling (Syta et al. 2016);
 * the plain CoSi of src/consensus/cosi signs RFC 8032's challenge with A = Σ A_i and has no room
 * for exceptions, hence this module.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { BinaryWriter } from "../../codec/binary.js";
import { POINT_BYTES } from "../../codec/sizes.js";

const Point = ed25519.Point;
const Fn = Point.Fn;
const COSIGN_DOMAIN = new TextEncoder().encode("IOSChain/drp/cosign/v1");

type EdwardsPoint = InstanceType<typeof Point>;

/**
 * Decoded points by encoding. Every server and the verifier sum the same n commitments and
 * signer keys, each decoding a square root; the decoders (messages.ts) fill the cache as they
 * check a point. Keyed by content, so a caller's later write to its array cannot alias another
 * point; bounded, emptied when full (a run needs about 2n entries).
 */
const decodedPoints = new Map<string, EdwardsPoint>();
const DECODED_POINTS_MAX = 1 << 16;

/** The point of a canonical Ed25519 encoding; throws as `Point.fromBytes` on any other. */
export function edwardsPoint(bytes: Uint8Array): EdwardsPoint {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  let point = decodedPoints.get(key);
  if (point === undefined) {
    point = Point.fromBytes(bytes);
    if (decodedPoints.size === DECODED_POINTS_MAX) decodedPoints.clear();
    decodedPoints.set(key, point);
  }
  return point;
}

function sum(points: readonly Uint8Array[]): EdwardsPoint {
  return points.reduce((total, point) => total.add(edwardsPoint(point)), Point.ZERO);
}

/** Σ of canonical Ed25519 point encodings (checked by the message decoders and keyProblem). */
export function sumPoints(points: readonly Uint8Array[]): Uint8Array {
  return sum(points).toBytes();
}

/** c = SHA-512(domain ‖ V ‖ H(C) ‖ T') mod L, as 32 little-endian bytes. */
export function choiceChallenge(aggregateCommitment: Uint8Array, sessionId: Uint8Array, choiceList: Uint8Array): Uint8Array {
  const input = BinaryWriter.ofSize(COSIGN_DOMAIN.length + POINT_BYTES + sessionId.length + choiceList.length)
    .bytes(COSIGN_DOMAIN)
    .bytes(aggregateCommitment)
    .bytes(sessionId)
    .bytes(choiceList)
    .finish();
  return Fn.toBytes(Fn.create(bytesToNumberLE(sha512(input))));
}

/** Σ r_i mod L of canonical scalars. */
export function sumScalars(scalars: readonly Uint8Array[]): Uint8Array {
  return Fn.toBytes(scalars.reduce((sum, scalar) => Fn.add(sum, bytesToNumberLE(scalar)), 0n));
}

/** Whether r·B = Σ V_i + c·Σ A_i over the signers (their commitments and keys, aligned). */
export function verifyAggregate(
  response: Uint8Array,
  challenge: Uint8Array,
  signerCommitments: readonly Uint8Array[],
  signerKeys: readonly Uint8Array[],
): boolean {
  const r = bytesToNumberLE(response);
  const c = bytesToNumberLE(challenge);
  const left = r === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(r);
  const key = sum(signerKeys);
  const right = sum(signerCommitments).add(c === 0n ? Point.ZERO : key.multiplyUnsafe(c));
  return left.equals(right);
}
