/**
 * The signing side of Ed25519-compatible Schnorr multisignatures (CoSi, Syta et al. 2016; the
 * white paper's §7.2 collective signing). Each signer i holds the Ed25519 secret scalar a_i of
 * its seed (RFC 8032 §5.1.5: clamp(SHA-512(seed)[0..32])), so its public key A_i = a_i·B is its
 * ordinary Ed25519 key. One signing round:
 *
 *   commitment   v_i uniform mod L from an injected Rng, V_i = v_i·B
 *   challenge    c = SHA-512(V ‖ A ‖ M) mod L with V = ΣV_i, A = ΣA_i: exactly RFC 8032's k
 *   response     r_i = v_i + c·a_i mod L; the nonce is dropped and can never answer again
 *
 * so (V, Σr_i) is a plain Ed25519 signature of M under A. `checkPartial` tests one signer's
 * r_i·B = V_i + c·A_i, which names a signer whose response spoils the aggregate.
 *
 * Verification of aggregates is the WASM verifier's job (src/crypto/ed25519.ts), and so is V_i:
 * the kernel's multiplication by a secret scalar is constant time in v_i and wipes it (about
 * 2.6 times faster than @noble/curves' constant-time one, which derives the key here).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { IosError, check } from "../errors.js";
import type { Rng } from "../runtime/interface.js";
import { POINT_BYTES, SCALAR_BYTES, SECRET_KEY_BYTES } from "../codec/sizes.js";
import { sharedCurveKernel } from "./ed25519.js";

export type SchnorrErrorCode =
  | "SCHNORR_BAD_SEED"
  | "SCHNORR_BAD_LENGTH"
  | "SCHNORR_BAD_RANDOM"
  | "SCHNORR_NONCE_USED";

/**
 * A nonce is reduced from 64 random bytes: the bias of a 512-bit value mod L (≈ 2^252) is below
 * 2^-259, the same wide reduction RFC 8032 §5.1.6 uses for its deterministic nonce.
 */
const NONCE_SOURCE_BYTES = 64;

const Point = ed25519.Point;
const Fn = Point.Fn;
const L = Fn.ORDER;

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function bytesToScalarLE(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

function scalarToBytesLE(value: bigint): Uint8Array {
  const out = new Uint8Array(SCALAR_BYTES);
  let rest = value;
  for (let i = 0; i < SCALAR_BYTES; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/** Decodes a canonical point, or undefined (non-canonical encodings and non-points are refused). */
export function decodePoint(bytes: Uint8Array): ReturnType<typeof Point.fromBytes> | undefined {
  try {
    return Point.fromBytes(bytes);
  } catch {
    return undefined;
  }
}

/** The CoSi challenge c = SHA-512(V ‖ A ‖ M) mod L as 32 little-endian bytes (RFC 8032 §5.1.7's k). */
export function challengeScalar(aggregateCommitment: Uint8Array, aggregateKey: Uint8Array, message: Uint8Array): Uint8Array {
  check(isBytes(aggregateCommitment, POINT_BYTES), "SCHNORR_BAD_LENGTH", `aggregate commitment must be ${POINT_BYTES} bytes`);
  check(isBytes(aggregateKey, POINT_BYTES), "SCHNORR_BAD_LENGTH", `aggregate key must be ${POINT_BYTES} bytes`);
  check(message instanceof Uint8Array, "SCHNORR_BAD_LENGTH", "message must be a Uint8Array");
  const input = new Uint8Array(2 * POINT_BYTES + message.length);
  input.set(aggregateCommitment, 0);
  input.set(aggregateKey, POINT_BYTES);
  input.set(message, 2 * POINT_BYTES);
  return scalarToBytesLE(bytesToScalarLE(sha512(input)) % L);
}

/** A scalar encoding is canonical when its value is below L (RFC 8032 §5.1.7 requires S < L). */
export function isCanonicalScalar(scalar: Uint8Array): boolean {
  return isBytes(scalar, SCALAR_BYTES) && bytesToScalarLE(scalar) < L;
}

/**
 * One signer's partial check r·B = V + c·A. False for any malformed or non-canonical input, so
 * a caller can blame the signer without catching.
 */
export function checkPartial(response: Uint8Array, commitment: Uint8Array, challenge: Uint8Array, publicKey: Uint8Array): boolean {
  if (!isCanonicalScalar(response) || !isCanonicalScalar(challenge)) return false;
  if (!isBytes(commitment, POINT_BYTES) || !isBytes(publicKey, POINT_BYTES)) return false;
  const V = decodePoint(commitment);
  const A = decodePoint(publicKey);
  if (V === undefined || A === undefined) return false;
  const r = bytesToScalarLE(response);
  const c = bytesToScalarLE(challenge);
  const left = r === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(r);
  const right = c === 0n ? V : V.add(A.multiplyUnsafe(c));
  return left.equals(right);
}

/**
 * A single-use commitment: the public V = v·B and, until `SchnorrKey.respond` consumes it, the
 * secret nonce v. JavaScript cannot wipe a bigint from memory; dropping the only reference is the
 * erasure available, and the `used` flag makes a second response impossible.
 */
export class Commitment {
  #nonce: bigint | undefined;

  constructor(
    nonce: bigint,
    readonly point: Uint8Array,
  ) {
    this.#nonce = nonce;
  }

  get used(): boolean {
    return this.#nonce === undefined;
  }

  /** Drops the nonce without responding (the session was abandoned). */
  discard(): void {
    this.#nonce = undefined;
  }

  /** Takes the nonce out exactly once. */
  take(): bigint {
    const nonce = this.#nonce;
    if (nonce === undefined) throw new IosError<SchnorrErrorCode>("SCHNORR_NONCE_USED", "this commitment has already answered or was discarded");
    this.#nonce = undefined;
    return nonce;
  }
}

/** A signer's Ed25519 key as a Schnorr multisignature participant. */
export class SchnorrKey {
  readonly #scalar: bigint;
  readonly #seed: Uint8Array;
  readonly publicKey: Uint8Array;

  private constructor(seed: Uint8Array, scalar: bigint, publicKey: Uint8Array) {
    this.#seed = seed;
    this.#scalar = scalar;
    this.publicKey = publicKey;
  }

  /** The key of an RFC 8032 seed: a = clamp(SHA-512(seed)[0..32]) mod L, A = a·B. */
  static fromSeed(seed: Uint8Array): SchnorrKey {
    check(isBytes(seed, SECRET_KEY_BYTES), "SCHNORR_BAD_SEED", `an Ed25519 seed must be ${SECRET_KEY_BYTES} bytes`);
    const extended = ed25519.utils.getExtendedPublicKey(seed);
    return new SchnorrKey(Uint8Array.from(seed), Fn.create(extended.scalar), extended.pointBytes);
  }

  /** A fresh commitment with v uniform in [1, L) drawn from `rng`. */
  commit(rng: Rng): Commitment {
    const source = rng.bytes(NONCE_SOURCE_BYTES);
    check(isBytes(source, NONCE_SOURCE_BYTES), "SCHNORR_BAD_RANDOM", `rng.bytes(${NONCE_SOURCE_BYTES}) returned the wrong length`);
    const nonce = bytesToScalarLE(source) % L;
    check(nonce !== 0n, "SCHNORR_BAD_RANDOM", "rng produced a zero nonce");
    return new Commitment(nonce, sharedCurveKernel().multiplyBaseSecret(scalarToBytesLE(nonce)));
  }

  /** r = v + c·a mod L for a commitment of this key; consumes the commitment's nonce. */
  respond(commitment: Commitment, challenge: Uint8Array): Uint8Array {
    check(commitment instanceof Commitment, "SCHNORR_NONCE_USED", "respond takes a Commitment made by commit()");
    check(isCanonicalScalar(challenge), "SCHNORR_BAD_LENGTH", `challenge must be a ${SCALAR_BYTES}-byte scalar below L`);
    const nonce = commitment.take();
    return scalarToBytesLE(Fn.add(nonce, Fn.mul(bytesToScalarLE(challenge), this.#scalar)));
  }

  /** An ordinary RFC 8032 signature by this key (proofs of possession, evidence). */
  sign(message: Uint8Array): Uint8Array {
    check(message instanceof Uint8Array, "SCHNORR_BAD_LENGTH", "message must be a Uint8Array");
    return ed25519.sign(message, this.#seed);
  }
}
