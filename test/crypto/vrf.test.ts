/**
 * ECVRF-EDWARDS25519-SHA512-TAI (src/crypto/vrf.ts) against RFC 9381: every Appendix B.3 example
 * (prove gives pi exactly, proof_to_hash gives beta, verify accepts); tampered proofs (a flipped bit
 * in Gamma, c or s, s ≥ q, a non-point or non-canonical Gamma), the wrong input or key, every
 * small-order public key (with a proof that satisfies §5.3's equation under the identity key, so
 * only validate_key stops it) and wrong lengths are refused; random keys and inputs round-trip and
 * re-prove to the identical proof. The verification equation is also recomputed here from §5.3
 * and §5.4 independently of the module, and the WASM kernel's curve part (strict decoding, H, U, V,
 * 8·Gamma) is checked against @noble/curves on random inputs. Random cases come from a seed printed at start;
 * IOS_TEST_SEED replays it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, concatBytes, numberToBytesLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { VRF_OUTPUT_BYTES, VRF_PROOF_BYTES } from "../../src/codec/sizes.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { vrfProofToHash, vrfProve, vrfVerify } from "../../src/crypto/vrf.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { codeOf } from "../support/errors.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

interface VrfVector {
  name: string;
  secretKey: string;
  publicKey: string;
  alpha: string;
  proof: string;
  output: string;
}

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
const toHex = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString("hex"));
const vectors = readVectorFile<{ vectors: VrfVector[] }>("rfc9381-ecvrf-edwards25519-sha512-tai.json").vectors;
const seed = testSeed("vrf");

const Point = ed25519.Point;
const q = Point.Fn.ORDER;
const p = Point.Fp.ORDER;
/** RFC 9381 §5.4.5: y of the order-8 points. */
const BAD_Y2 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const GAMMA = [0, 32] as const;
const CHALLENGE = [32, 48] as const;
const SCALAR = [48, 80] as const;

/** Encoding of y with the x sign bit (RFC 8032 §5.1.2), not necessarily a point or canonical. */
function encodeY(y: bigint, signBit: number): Uint8Array {
  const bytes = numberToBytesLE(y, 32);
  bytes[31] = bytes[31]! | (signBit << 7);
  return bytes;
}

function isPoint(bytes: Uint8Array): boolean {
  try {
    Point.fromBytes(bytes);
    return true;
  } catch {
    return false;
  }
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}

function withScalar(proof: Uint8Array, s: bigint): Uint8Array {
  const out = Uint8Array.from(proof);
  out.set(numberToBytesLE(s, 32), SCALAR[0]);
  return out;
}

/** RFC 9381 §5.4.1.1 with the suite's salt (the public key bytes), written from the RFC text. */
function referenceEncodeToCurve(publicKey: Uint8Array, alpha: Uint8Array) {
  for (let ctr = 0; ctr < 256; ctr++) {
    const digest = sha512(concatBytes(Uint8Array.of(0x03, 0x01), publicKey, alpha, Uint8Array.of(ctr, 0x00)));
    try {
      const H = Point.fromBytes(digest.slice(0, 32)).multiplyUnsafe(8n);
      if (!H.equals(Point.ZERO)) return H;
    } catch {
      // not a point: next counter
    }
  }
  throw new Error("no point");
}

/** RFC 9381 §5.4.3 over encoded points. */
function referenceChallenge(...points: Uint8Array[]): bigint {
  return bytesToNumberLE(sha512(concatBytes(Uint8Array.of(0x03, 0x02), ...points, Uint8Array.of(0x00))).slice(0, 16));
}

/** RFC 9381 §5.3 steps 7–10 without validate_key or any decoding check: c' for a proof. */
function referenceRecomputedChallenge(publicKey: Uint8Array, proof: Uint8Array, alpha: Uint8Array): bigint {
  const Y = Point.fromBytes(publicKey);
  const gamma = Point.fromBytes(proof.slice(...GAMMA));
  const c = bytesToNumberLE(proof.slice(...CHALLENGE));
  // B and H have order q, so s acts mod q: an s ≥ q satisfies the equation like s mod q.
  const s = bytesToNumberLE(proof.slice(...SCALAR)) % q;
  const H = referenceEncodeToCurve(publicKey, alpha);
  const U = Point.BASE.multiplyUnsafe(s).add(Y.multiplyUnsafe(c).negate());
  const V = H.multiplyUnsafe(s).add(gamma.multiplyUnsafe(c).negate());
  return referenceChallenge(publicKey, H.toBytes(), gamma.toBytes(), U.toBytes(), V.toBytes());
}

/** The canonical encodings of the 8 points of order 1, 2, 4, 8 (RFC 9381 §5.4.5's y list, both x signs). */
function smallOrderKeys(): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (const y of [0n, 1n, BAD_Y2, p - BAD_Y2, p - 1n]) {
    for (const sign of [0, 1]) {
      const encoding = encodeY(y, sign);
      // x = 0 with the sign bit set (y = 1, y = p − 1) is not a canonical encoding
      if (isPoint(encoding)) keys.push(encoding);
    }
  }
  return keys;
}

describe("ECVRF-EDWARDS25519-SHA512-TAI on RFC 9381 Appendix B.3", () => {
  it("proves pi exactly, hashes it to beta and verifies it, for every published example", () => {
    assert.equal(vectors.length, 3);
    for (const vector of vectors) {
      const proof = vrfProve(hex(vector.secretKey), hex(vector.alpha));
      assert.equal(proof.length, VRF_PROOF_BYTES);
      assert.equal(toHex(proof), vector.proof, vector.name);
      assert.equal(toHex(vrfProofToHash(hex(vector.proof))), vector.output, vector.name);
      assert.equal(vrfProofToHash(proof).length, VRF_OUTPUT_BYTES);
      assert.equal(toHex(vrfVerify(hex(vector.publicKey), hex(vector.proof), hex(vector.alpha))), vector.output, vector.name);
      assert.equal(toHex(ed25519.getPublicKey(hex(vector.secretKey))), vector.publicKey, `${vector.name}: RFC 8032 key`);
    }
  });

  it("agrees with the verification equation recomputed from the RFC text", () => {
    for (const vector of vectors) {
      const proof = hex(vector.proof);
      const recomputed = referenceRecomputedChallenge(hex(vector.publicKey), proof, hex(vector.alpha));
      assert.equal(recomputed, bytesToNumberLE(proof.slice(...CHALLENGE)), vector.name);
    }
  });
});

describe("ECVRF verification refuses", () => {
  const [first, second] = vectors as [VrfVector, VrfVector];
  const publicKey = hex(first.publicKey);
  const proof = hex(first.proof);
  const alpha = hex(first.alpha);

  it("a proof with any one bit flipped in Gamma, c or s", () => {
    for (const [name, [from, to]] of Object.entries({ Gamma: GAMMA, c: CHALLENGE, s: SCALAR })) {
      for (let bit = from * 8; bit < to * 8; bit++) {
        assert.equal(vrfVerify(publicKey, flipBit(proof, bit), alpha), undefined, `${name}, proof bit ${bit}`);
      }
    }
  });

  it("a non-canonical s (s + q, q, 2^256 − 1): decode_proof requires s < q", () => {
    const s = bytesToNumberLE(proof.slice(...SCALAR));
    for (const bad of [s + q, q, (1n << 256n) - 1n]) {
      const tampered = withScalar(proof, bad);
      assert.equal(vrfVerify(publicKey, tampered, alpha), undefined, `s = ${bad}`);
      assert.equal(codeOf(() => vrfProofToHash(tampered)), "VRF_BAD_PROOF", `s = ${bad}`);
    }
    // s + q passes the equation itself (s·B is unchanged), so only the range check refuses it.
    assert.equal(referenceRecomputedChallenge(publicKey, withScalar(proof, s + q), alpha), bytesToNumberLE(proof.slice(...CHALLENGE)));
  });

  it("a Gamma that is not a point, or not canonically encoded", () => {
    let notAPoint = 2n;
    while (isPoint(encodeY(notAPoint, 0))) notAPoint++;
    // y = p + 1 is the identity written non-canonically; the identity with x sign bit 1 is another.
    for (const gamma of [encodeY(notAPoint, 0), encodeY(p + 1n, 0), encodeY(1n, 1)]) {
      const tampered = Uint8Array.from(proof);
      tampered.set(gamma, GAMMA[0]);
      assert.equal(vrfVerify(publicKey, tampered, alpha), undefined, toHex(gamma));
      assert.equal(codeOf(() => vrfProofToHash(tampered)), "VRF_BAD_PROOF", toHex(gamma));
    }
  });

  it("the wrong input and the wrong key", () => {
    assert.equal(vrfVerify(publicKey, proof, Uint8Array.of(0)), undefined);
    assert.equal(vrfVerify(publicKey, proof, hex(second.alpha)), undefined);
    assert.equal(vrfVerify(hex(second.publicKey), proof, alpha), undefined);
    assert.equal(vrfVerify(hex(second.publicKey), hex(second.proof), alpha), undefined);
  });

  it("every small-order public key, even with a proof that satisfies the equation under the identity", () => {
    const keys = smallOrderKeys();
    assert.equal(new Set(keys.map((key) => toHex(key))).size, 8);
    for (const key of keys) {
      assert.ok(Point.fromBytes(key).multiplyUnsafe(8n).equals(Point.ZERO), toHex(key));
      assert.equal(vrfVerify(key, proof, alpha), undefined, toHex(key));
    }
    // Under Y = identity with Gamma = identity, U = s·B and V = s·H for any c, so c can be
    // computed after s: this proof passes steps 4–11 of §5.3 and only validate_key refuses it.
    const identity = encodeY(1n, 0);
    const s = 12345n;
    const H = referenceEncodeToCurve(identity, alpha);
    const c = referenceChallenge(identity, H.toBytes(), identity, Point.BASE.multiplyUnsafe(s).toBytes(), H.multiplyUnsafe(s).toBytes());
    const forged = concatBytes(identity, numberToBytesLE(c, 16), numberToBytesLE(s, 32));
    assert.equal(referenceRecomputedChallenge(identity, forged, alpha), c);
    assert.equal(vrfVerify(identity, forged, alpha), undefined);
    // Non-canonical encodings of small-order points fail decoding already.
    for (const key of [encodeY(p, 0), encodeY(p + 1n, 0), encodeY(1n, 1), encodeY(p - 1n, 1)]) {
      assert.equal(vrfVerify(key, proof, alpha), undefined, toHex(key));
    }
  });

  it("wrong lengths and types without throwing; programmer errors with codes", () => {
    for (const length of [0, VRF_PROOF_BYTES - 1, VRF_PROOF_BYTES + 1]) {
      const resized = new Uint8Array(length);
      resized.set(proof.subarray(0, Math.min(length, VRF_PROOF_BYTES)));
      assert.equal(vrfVerify(publicKey, resized, alpha), undefined, `proof of ${length} bytes`);
      assert.equal(codeOf(() => vrfProofToHash(resized)), "VRF_BAD_PROOF", `proof of ${length} bytes`);
    }
    for (const length of [0, 31, 33]) {
      const resized = new Uint8Array(length);
      resized.set(publicKey.subarray(0, Math.min(length, 32)));
      assert.equal(vrfVerify(resized, proof, alpha), undefined, `key of ${length} bytes`);
    }
    assert.equal(vrfVerify("key" as unknown as Uint8Array, proof, alpha), undefined);
    assert.equal(vrfVerify(publicKey, Array.from(proof) as unknown as Uint8Array, alpha), undefined);
    assert.equal(codeOf(() => vrfVerify(publicKey, proof, "alpha" as unknown as Uint8Array)), "VRF_BAD_INPUT");
    assert.equal(codeOf(() => vrfProofToHash("pi" as unknown as Uint8Array)), "VRF_BAD_PROOF");
    assert.equal(codeOf(() => vrfProve(new Uint8Array(31), alpha)), "VRF_BAD_KEY");
    assert.equal(codeOf(() => vrfProve(new Uint8Array(64), alpha)), "VRF_BAD_KEY");
    assert.equal(codeOf(() => vrfProve(hex(first.secretKey), "alpha" as unknown as Uint8Array)), "VRF_BAD_INPUT");
  });
});

describe("ECVRF on random keys and inputs", () => {
  it("round-trips, outputs proof_to_hash, re-proves identically and binds key and input", () => {
    const rng = SeededRng.fromSeed(`${seed}/random`);
    for (let trial = 0; trial < 24; trial++) {
      const context = `seed ${seed} trial ${trial}`;
      const secretKey = rng.bytes(32);
      const publicKey = ed25519.getPublicKey(secretKey);
      const alpha = rng.bytes(rng.nextU32() % 100);
      const proof = vrfProve(secretKey, alpha);
      const output = vrfVerify(publicKey, proof, alpha);
      assert.ok(output !== undefined, context);
      assert.deepEqual(output, vrfProofToHash(proof), context);
      assert.deepEqual(vrfProve(secretKey, alpha), proof, `${context}: uniqueness`);
      assert.equal(referenceRecomputedChallenge(publicKey, proof, alpha), bytesToNumberLE(proof.slice(...CHALLENGE)), context);
      const otherAlpha = concatBytes(alpha, Uint8Array.of(trial));
      assert.equal(vrfVerify(publicKey, proof, otherAlpha), undefined, context);
      assert.notDeepEqual(vrfProofToHash(vrfProve(secretKey, otherAlpha)), output, context);
      const otherKey = ed25519.getPublicKey(rng.bytes(32));
      assert.equal(vrfVerify(otherKey, proof, alpha), undefined, context);
    }
  });
});

describe("ECVRF verification's curve part in the WASM kernel (Ed25519Verifier.vrfPoints)", () => {
  const kernel = new Ed25519Verifier({ keyCacheSize: 0 });
  const validPoint = (rng: SeededRng) => Point.BASE.multiply(Point.Fn.create(bytesToNumberLE(rng.bytes(32)) || 1n));
  const enc = (point: InstanceType<typeof Point>) => point.toBytes();

  it("equals the noble computation of H, U = s·B − c·Y, V = s·H − c·Gamma and 8·Gamma on random inputs, proofs valid or not", () => {
    const rng = SeededRng.fromSeed(`${seed}/kernel`);
    for (let trial = 0; trial < 40; trial++) {
      const context = `seed ${seed} trial ${trial}`;
      const secretKey = rng.bytes(32);
      const publicKey = ed25519.getPublicKey(secretKey);
      const alpha = rng.bytes(rng.nextU32() % 64);
      // Half the trials take a real proof, half an arbitrary Gamma, c and s: the arithmetic must agree either way.
      const proof = trial % 2 === 0 ? vrfProve(secretKey, alpha) : concatBytes(enc(validPoint(rng)), rng.bytes(16), numberToBytesLE(bytesToNumberLE(rng.bytes(32)) % q, 32));
      const candidate = (ctr: number) => sha512(concatBytes(Uint8Array.of(0x03, 0x01), publicKey, alpha, Uint8Array.of(ctr, 0x00)));
      const points = kernel.vrfPoints(publicKey, proof.subarray(...GAMMA), proof.subarray(...CHALLENGE), proof.subarray(...SCALAR), candidate, 256);
      assert.ok(points !== undefined, context);
      const Y = Point.fromBytes(publicKey);
      const gamma = Point.fromBytes(proof.slice(...GAMMA));
      const c = bytesToNumberLE(proof.slice(...CHALLENGE));
      const s = bytesToNumberLE(proof.slice(...SCALAR));
      const H = referenceEncodeToCurve(publicKey, alpha);
      assert.equal(toHex(points.h), toHex(enc(H)), `${context}: H`);
      assert.equal(toHex(points.u), toHex(enc(Point.BASE.multiplyUnsafe(s).add(Y.multiplyUnsafe(c).negate()))), `${context}: U`);
      assert.equal(toHex(points.v), toHex(enc(H.multiplyUnsafe(s).add(gamma.multiplyUnsafe(c).negate()))), `${context}: V`);
      assert.equal(toHex(points.gamma8), toHex(enc(gamma.multiplyUnsafe(8n))), `${context}: 8·Gamma`);
    }
  });

  it("decodes strictly as RFC 8032 (not ZIP-215): y ≥ p and x = 0 with the sign bit are refused, for the key, Gamma and every encode_to_curve candidate", () => {
    const rng = SeededRng.fromSeed(`${seed}/strict`);
    // The large-order points whose y has a second, non-canonical encoding y + p (y < 19).
    const lowY = Array.from({ length: 17 }, (_, k) => BigInt(k + 2)).filter((y) => isPoint(encodeY(y, 0)) && !Point.fromBytes(encodeY(y, 0)).isSmallOrder());
    assert.ok(lowY.length > 0, "some y < 19 is a point of large order");
    const y = lowY[0]!;
    const canonical = encodeY(y, 0);
    const nonCanonical = encodeY(y + p, 0);
    const identityWithSign = encodeY(1n, 1);
    const key = ed25519.getPublicKey(rng.bytes(32));
    const gamma = enc(validPoint(rng));
    const c = rng.bytes(16);
    const s = numberToBytesLE(bytesToNumberLE(rng.bytes(32)) % q, 32);
    const fixed = (encoding: Uint8Array) => () => encoding;
    assert.ok(kernel.vrfPoints(canonical, gamma, c, s, fixed(canonical), 1) !== undefined, "the canonical key decodes");
    assert.equal(kernel.vrfPoints(nonCanonical, gamma, c, s, fixed(canonical), 1), undefined, "y + p as the key");
    assert.equal(kernel.vrfPoints(key, nonCanonical, c, s, fixed(canonical), 1), undefined, "y + p as Gamma");
    assert.equal(kernel.vrfPoints(key, identityWithSign, c, s, fixed(canonical), 1), undefined, "x = 0 with the sign bit as Gamma");
    assert.equal(kernel.vrfPoints(key, gamma, c, numberToBytesLE(q, 32), fixed(canonical), 1), undefined, "s = q");
    // A non-canonical candidate is skipped: H comes from the next one.
    const points = kernel.vrfPoints(key, gamma, c, s, (ctr) => (ctr === 0 ? nonCanonical : canonical), 2);
    assert.equal(toHex(points?.h), toHex(enc(Point.fromBytes(canonical).multiplyUnsafe(8n))), "H from the second candidate");
    // A candidate of small order (8·P = identity) is skipped too.
    const afterSmall = kernel.vrfPoints(key, gamma, c, s, (ctr) => (ctr === 0 ? encodeY(0n, 0) : canonical), 2);
    assert.equal(toHex(afterSmall?.h), toHex(enc(Point.fromBytes(canonical).multiplyUnsafe(8n))), "a small-order candidate is skipped");
    assert.throws(() => kernel.vrfPoints(key, gamma, c, s, fixed(nonCanonical), 3), /encode_to_curve found no point/);
  });
});

describe("multiplication by a secret scalar in the WASM kernel (vrfProvePoints, multiplyBaseSecret)", () => {
  const kernel = new Ed25519Verifier({ keyCacheSize: 0 });
  const enc = (point: InstanceType<typeof Point>) => point.toBytes();
  /** Scalars whose radix-16 recoding takes every carry path: 0, 1, all digits 8 (carries all the way), q − 1, 2^255 − 1, 2^252. */
  const edges = [0n, 1n, 8n, BigInt("0x08" + "88".repeat(31)), q - 1n, 2n ** 255n - 1n, 2n ** 252n, 2n ** 252n - 1n];
  const scalarBytes = (value: bigint) => numberToBytesLE(value, 32);
  const reference = (point: InstanceType<typeof Point>, scalar: bigint) => (scalar % q === 0n ? Point.ZERO : point.multiplyUnsafe(scalar % q));

  it("gives H, x·H, k·B and k·H as noble computes them, for random and edge scalars", () => {
    const rng = SeededRng.fromSeed(`${seed}/prove-kernel`);
    for (let trial = 0; trial < 24; trial++) {
      const context = `seed ${seed} trial ${trial}`;
      const publicKey = ed25519.getPublicKey(rng.bytes(32));
      const alpha = rng.bytes(rng.nextU32() % 64);
      const x = trial < edges.length ? edges[trial]! : bytesToNumberLE(rng.bytes(32)) >> 1n;
      const k = trial < edges.length ? edges[edges.length - 1 - trial]! : bytesToNumberLE(rng.bytes(32)) % q;
      const candidate = (ctr: number) => sha512(concatBytes(Uint8Array.of(0x03, 0x01), publicKey, alpha, Uint8Array.of(ctr, 0x00)));
      let nonceInput: Uint8Array | undefined;
      const points = kernel.vrfProvePoints(scalarBytes(x), (h) => {
        nonceInput = h;
        return scalarBytes(k);
      }, candidate, 256);
      const H = referenceEncodeToCurve(publicKey, alpha);
      assert.equal(toHex(nonceInput), toHex(enc(H)), `${context}: the nonce is asked of H's encoding`);
      assert.equal(toHex(points.h), toHex(enc(H)), `${context}: H`);
      assert.equal(toHex(points.gamma), toHex(enc(reference(H, x))), `${context}: x·H`);
      assert.equal(toHex(points.kB), toHex(enc(reference(Point.BASE, k))), `${context}: k·B`);
      assert.equal(toHex(points.kH), toHex(enc(reference(H, k))), `${context}: k·H`);
      assert.equal(toHex(kernel.multiplyBaseSecret(scalarBytes(x))), toHex(enc(reference(Point.BASE, x))), `${context}: x·B`);
    }
  });

  it("refuses scalars of the wrong length or at or above 2^255 with ED25519_BAD_LENGTH", () => {
    const candidate = () => enc(Point.BASE);
    const good = scalarBytes(5n);
    for (const bad of [new Uint8Array(31), new Uint8Array(33), scalarBytes(2n ** 255n)]) {
      assert.equal(codeOf(() => kernel.multiplyBaseSecret(bad)), "ED25519_BAD_LENGTH");
      assert.equal(codeOf(() => kernel.vrfProvePoints(bad, () => good, candidate, 1)), "ED25519_BAD_LENGTH");
      assert.equal(codeOf(() => kernel.vrfProvePoints(good, () => bad, candidate, 1)), "ED25519_BAD_LENGTH");
    }
  });
});
