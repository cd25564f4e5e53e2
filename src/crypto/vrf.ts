/**
 * The verifiable random function ECVRF-EDWARDS25519-SHA512-TAI of RFC 9381 (suite_string 0x03,
 * §5.5): the holder of an Ed25519 seed proves that beta is the one output of its key on input
 * alpha, and anyone with the public key checks it. Both do their curve arithmetic in the WASM
 * Ed25519 kernel: verification on public values (Ed25519Verifier `vrfPoints`: strict decoding, H,
 * U, V, 8·Gamma), proving with a constant-time multiplication by the secret x and nonce k
 * (`vrfProvePoints`), each about ten times faster than @noble/curves in JS, which here only
 * expands the key (once per key) and decodes proofs for proof_to_hash; hashing is SHA-512 here.
 *
 *   §5.1   prove         x, Y from the seed (RFC 8032 §5.1.5); H = encode_to_curve(Y, alpha);
 *                        Gamma = x·H; k = nonce(SK, H); c = challenge(Y, H, Gamma, k·B, k·H);
 *                        s = k + c·x mod q; pi = Gamma (32) ‖ c (16) ‖ s (32)
 *   §5.2   proof_to_hash beta = SHA-512(0x03 ‖ 0x03 ‖ 8·Gamma ‖ 0x00)
 *   §5.3   verify        decode Y (canonical) and refuse small-order keys (validate_key, §5.4.5);
 *                        decode pi (§5.4.4); U = s·B − c·Y, V = s·H − c·Gamma; valid iff
 *                        challenge(Y, H, Gamma, U, V) = c, and then beta = proof_to_hash(pi)
 *   §5.4.1.1 encode_to_curve, try-and-increment: the first ctr = 0, 1, … for which the first 32
 *                        bytes of SHA-512(0x03 ‖ 0x01 ‖ Y ‖ alpha ‖ ctr ‖ 0x00) decode to a point
 *                        whose 8-multiple is not the identity; that 8-multiple is H
 *   §5.4.2.2 nonce       k = SHA-512(SHA-512(SK)[32..64] ‖ H) mod q, RFC 8032 §5.1.6 steps 2–3
 *   §5.4.3 challenge     c = first 16 bytes of SHA-512(0x03 ‖ 0x02 ‖ P1 ‖ … ‖ P5 ‖ 0x00), little-endian
 *   §5.4.4 decode_proof  Gamma must decode (RFC 8032 §5.1.3, canonical), s must be < q
 *
 * Points are encoded and decoded as RFC 8032 §5.1.2–5.1.3 require (y < p, no x = 0 with the sign
 * bit set), integers are little-endian. Verification always validates the key (validate_key =
 * TRUE: §7.1.1 and §7.1.3 need it for full collision resistance and unpredictability when a key
 * may be made by an adversary, as a validator's registered key may be). encode_to_curve's running
 * time depends on alpha, so alpha must be public (§5.4.1.1): a slot, a round, a seed from the chain.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { IosError, check } from "../errors.js";
import { POINT_BYTES, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, VRF_CHALLENGE_BYTES as CHALLENGE_BYTES, VRF_PROOF_BYTES } from "../codec/sizes.js";
import { decodePoint } from "./schnorr.js";
import { sharedCurveKernel } from "./ed25519.js";
import { sameBytes } from "../bytes.js";

export type VrfErrorCode = "VRF_BAD_KEY" | "VRF_BAD_PROOF" | "VRF_BAD_INPUT";


/** §5.5: suite_string of ECVRF-EDWARDS25519-SHA512-TAI. */
const SUITE = 0x03;
/** §5.4.1.1 step 2: encode_to_curve domain separator. */
const ENCODE_FRONT = 0x01;
/** §5.4.3 step 1: challenge_generation domain separator. */
const CHALLENGE_FRONT = 0x02;
/** §5.2 step 4: proof_to_hash domain separator. */
const PROOF_TO_HASH_FRONT = 0x03;
/** §5.2 step 5, §5.4.1.1 step 3, §5.4.3 step 4: every back separator is 0x00. */
const DOMAIN_BACK = 0x00;
/** §5.4.1.1: ctr is one octet; each try succeeds with probability ≈ 1/2, so 256 failures ≈ 2^-256. */
const MAX_ENCODE_TRIES = 256;

type Point = InstanceType<typeof ed25519.Point>;
const Point = ed25519.Point;
const Fn = Point.Fn;

interface DecodedProof {
  gamma: Point;
  c: bigint;
  s: bigint;
}

/** SHA-512(suite ‖ front ‖ parts… ‖ 0x00): the framing of every hash in §5.2, §5.4.1.1 and §5.4.3. */
function suiteHash(front: number, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const input = new Uint8Array(2 + length + 1);
  input[0] = SUITE;
  input[1] = front;
  let offset = 2;
  for (const part of parts) {
    input.set(part, offset);
    offset += part.length;
  }
  input[offset] = DOMAIN_BACK;
  return sha512(input);
}

/** §5.4.4, or undefined when Gamma is not a point or s is not below q. */
function decodeProof(proof: Uint8Array): DecodedProof | undefined {
  if (!(proof instanceof Uint8Array) || proof.length !== VRF_PROOF_BYTES) return undefined;
  const gamma = decodePoint(proof.subarray(0, POINT_BYTES));
  if (gamma === undefined) return undefined;
  const c = bytesToNumberLE(proof.subarray(POINT_BYTES, POINT_BYTES + CHALLENGE_BYTES));
  const s = bytesToNumberLE(proof.subarray(POINT_BYTES + CHALLENGE_BYTES));
  if (!Fn.isValid(s)) return undefined;
  return { gamma, c, s };
}

/** §5.2 step 6 on a decoded Gamma. */
function gammaToHash(gamma: Point): Uint8Array {
  return suiteHash(PROOF_TO_HASH_FRONT, gamma.clearCofactor().toBytes());
}

/** A key as `vrfProve` uses it: x little-endian for the kernel, the nonce prefix, Y. */
interface ProvingKey {
  readonly x: bigint;
  readonly xBytes: Uint8Array;
  readonly prefix: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The last key `vrfProve` expanded: a validator proves with one key, one share per height. */
let lastExpanded: { readonly secretKey: Uint8Array; readonly key: ProvingKey } | undefined;

/**
 * RFC 8032 §5.1.5 expansion: scalar = clamp(SHA-512(SK)[0..32]) mod q, prefix = SHA-512(SK)[32..64],
 * and the public key (a base-point multiplication), kept for the next proof with the same key.
 */
function expandedKey(secretKey: Uint8Array): ProvingKey {
  if (lastExpanded === undefined || !sameBytes(lastExpanded.secretKey, secretKey)) {
    const { scalar, prefix, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
    lastExpanded = { secretKey: Uint8Array.from(secretKey), key: { x: scalar, xBytes: Fn.toBytes(scalar), prefix, publicKey: pointBytes } };
  }
  return lastExpanded.key;
}

/**
 * ECVRF_prove (§5.1) of `alpha` under the RFC 8032 seed `secretKey`: the 80-byte proof pi.
 * Deterministic: the same key and input always give the same proof. The curve arithmetic runs in
 * the WASM kernel (`vrfProvePoints`: H as verification finds it, then x·H, k·B and k·H constant
 * time in x and k); the nonce, the challenge and s = k + c·x mod q here.
 */
export function vrfProve(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  check<VrfErrorCode>(
    secretKey instanceof Uint8Array && secretKey.length === SECRET_KEY_BYTES,
    "VRF_BAD_KEY",
    `a VRF secret key is a ${SECRET_KEY_BYTES}-byte Ed25519 seed`,
  );
  check<VrfErrorCode>(alpha instanceof Uint8Array, "VRF_BAD_INPUT", "alpha must be a Uint8Array");
  const { x, xBytes, prefix, publicKey: Y } = expandedKey(secretKey);
  const ctr = new Uint8Array(1);
  let k = 0n;
  const points = sharedCurveKernel().vrfProvePoints(xBytes, (h) => {
    const nonceInput = new Uint8Array(prefix.length + POINT_BYTES);
    nonceInput.set(prefix, 0);
    nonceInput.set(h, prefix.length);
    k = Fn.create(bytesToNumberLE(sha512(nonceInput)));
    return Fn.toBytes(k);
  }, (tries) => {
    ctr[0] = tries;
    return suiteHash(ENCODE_FRONT, Y, alpha, ctr);
  }, MAX_ENCODE_TRIES);
  const digest = suiteHash(CHALLENGE_FRONT, Y, points.h, points.gamma, points.kB, points.kH);
  const c = bytesToNumberLE(digest.subarray(0, CHALLENGE_BYTES));
  const s = Fn.add(k, Fn.mul(c, x));
  const proof = new Uint8Array(VRF_PROOF_BYTES);
  proof.set(points.gamma, 0);
  proof.set(digest.subarray(0, CHALLENGE_BYTES), POINT_BYTES);
  proof.set(Fn.toBytes(s), POINT_BYTES + CHALLENGE_BYTES);
  return proof;
}

/**
 * ECVRF_proof_to_hash (§5.2): the 64-byte output beta of a proof. Only for proofs made by
 * `vrfProve` or already checked by `vrfVerify`; it does not verify. Throws VRF_BAD_PROOF when the
 * proof does not decode.
 */
export function vrfProofToHash(proof: Uint8Array): Uint8Array {
  const decoded = decodeProof(proof);
  if (decoded === undefined) {
    throw new IosError<VrfErrorCode>("VRF_BAD_PROOF", `a VRF proof is ${VRF_PROOF_BYTES} bytes: a canonical point, a challenge, a scalar below q`);
  }
  return gammaToHash(decoded.gamma);
}

/**
 * ECVRF_verify (§5.3) with validate_key = TRUE: beta when `proof` shows that it is the output of
 * `publicKey` on `alpha`, undefined otherwise. Malformed proofs, non-canonical or small-order keys
 * and wrong lengths are invalid, never an exception; only a non-Uint8Array alpha throws VRF_BAD_INPUT.
 */
export function vrfVerify(publicKey: Uint8Array, proof: Uint8Array, alpha: Uint8Array): Uint8Array | undefined {
  check<VrfErrorCode>(alpha instanceof Uint8Array, "VRF_BAD_INPUT", "alpha must be a Uint8Array");
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return undefined;
  if (!(proof instanceof Uint8Array) || proof.length !== VRF_PROOF_BYTES) return undefined;
  const gamma = proof.subarray(0, POINT_BYTES);
  const c = proof.subarray(POINT_BYTES, POINT_BYTES + CHALLENGE_BYTES);
  const ctr = new Uint8Array(1);
  const points = sharedCurveKernel().vrfPoints(publicKey, gamma, c, proof.subarray(POINT_BYTES + CHALLENGE_BYTES), (tries) => {
    ctr[0] = tries;
    return suiteHash(ENCODE_FRONT, publicKey, alpha, ctr);
  }, MAX_ENCODE_TRIES);
  if (points === undefined) return undefined;
  // c is the challenge's first 16 bytes read little-endian: equal values, equal bytes.
  const digest = suiteHash(CHALLENGE_FRONT, publicKey, points.h, gamma, points.u, points.v);
  if (!sameBytes(digest.subarray(0, CHALLENGE_BYTES), c)) return undefined;
  return suiteHash(PROOF_TO_HASH_FRONT, points.gamma8);
}
