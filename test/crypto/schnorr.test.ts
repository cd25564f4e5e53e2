/**
 * Schnorr multisignature signing side (src/crypto/schnorr.ts): the secret scalar and key of
 * RFC 8032 seeds, the challenge equals RFC 8032's k on the published vectors, aggregated
 * signatures of random signer sets verify under the sum of keys with node:crypto, @noble/curves
 * and the WASM verifier, partial checks name a bad response, nonces answer once. Random cases
 * come from a seed printed at start; IOS_TEST_SEED replays it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey, challengeScalar, checkPartial, isCanonicalScalar } from "../../src/crypto/schnorr.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import type { Rng } from "../../src/runtime/interface.js";
import { codeOf } from "../support/errors.js";
import { rfc8032Vectors } from "../support/rfc8032.js";
import { testSeed } from "../support/vectors.js";

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
const SPKI_ED25519_PREFIX = hex("302a300506032b6570032100");
const L_BYTES = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
const seed = testSeed("schnorr");

const vectors = rfc8032Vectors();
const verifier = new Ed25519Verifier();

function nodeVerifies(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
  return nodeVerify(null, message, key, signature);
}


function sumPoints(points: Uint8Array[]): Uint8Array {
  return points.map((p) => ed25519.Point.fromBytes(p)).reduce((a, b) => a.add(b)).toBytes();
}

function fullMask(count: number): Uint8Array {
  const mask = new Uint8Array(Math.ceil(count / 8));
  for (let i = 0; i < count; i++) mask[i >> 3] = mask[i >> 3]! | (1 << (i & 7));
  return mask;
}

/** One multisignature by `keys` over `message`; returns the parts and the signature. */
function multiSign(keys: SchnorrKey[], message: Uint8Array, rng: Rng) {
  const commitments = keys.map((key) => key.commit(rng));
  const V = verifier.aggregatePoints(commitments.map((c) => c.point));
  const A = verifier.aggregateKeys(keys.map((k) => k.publicKey), fullMask(keys.length));
  const c = challengeScalar(V, A, message);
  const responses = keys.map((key, i) => key.respond(commitments[i]!, c));
  const signature = new Uint8Array(64);
  signature.set(V, 0);
  signature.set(verifier.sumScalars(responses), 32);
  return { commitments, V, A, c, responses, signature };
}

describe("SchnorrKey from RFC 8032 seeds", () => {
  it("derives the published public keys and signs the published signatures", () => {
    assert.ok(vectors.length >= 3);
    for (const vector of vectors) {
      const key = SchnorrKey.fromSeed(hex(vector.secretKey));
      assert.equal(Buffer.from(key.publicKey).toString("hex"), vector.publicKey, vector.name);
      assert.equal(Buffer.from(key.sign(hex(vector.message))).toString("hex"), vector.signature, vector.name);
    }
  });

  it("computes RFC 8032's k as the challenge: S·B = R + c·A holds for every published signature", () => {
    for (const vector of vectors) {
      const signature = hex(vector.signature);
      const R = signature.subarray(0, 32);
      const S = signature.subarray(32);
      const c = challengeScalar(R, hex(vector.publicKey), hex(vector.message));
      assert.ok(checkPartial(S, R, c, hex(vector.publicKey)), vector.name);
      const wrong = challengeScalar(R, hex(vector.publicKey), new Uint8Array([1, 2, 3]));
      assert.ok(!checkPartial(S, R, wrong, hex(vector.publicKey)), vector.name);
    }
  });
});

describe("Schnorr multisignatures", () => {
  it("aggregates of 1..12 random signers verify as Ed25519 under the sum of keys (node:crypto, noble, WASM)", () => {
    const rng = SeededRng.fromSeed(`${seed}/aggregate`);
    for (let trial = 0; trial < 12; trial++) {
      const keys = Array.from({ length: trial + 1 }, () => SchnorrKey.fromSeed(rng.bytes(32)));
      const message = rng.bytes(rng.nextU32() % 200);
      const { V, A, commitments, signature, c, responses } = multiSign(keys, message, rng);
      const context = `seed ${seed} trial ${trial}`;
      assert.deepEqual(V, sumPoints(commitments.map((x) => x.point)), context);
      assert.deepEqual(A, sumPoints(keys.map((k) => k.publicKey)), context);
      assert.ok(nodeVerifies(signature, message, A), context);
      assert.ok(ed25519.verify(signature, message, A), context);
      assert.ok(verifier.verify(signature, message, A), context);
      responses.forEach((r, i) => assert.ok(checkPartial(r, commitments[i]!.point, c, keys[i]!.publicKey), context));
      const otherMessage = Uint8Array.from([...message, 0]);
      assert.ok(!nodeVerifies(signature, otherMessage, A), context);
      assert.ok(!verifier.verify(signature, otherMessage, A), context);
    }
  });

  it("partial checks name exactly the signer whose response is wrong", () => {
    const rng = SeededRng.fromSeed(`${seed}/partial`);
    const keys = Array.from({ length: 5 }, () => SchnorrKey.fromSeed(rng.bytes(32)));
    const message = rng.bytes(40);
    const { commitments, c, responses, signature, A } = multiSign(keys, message, rng);
    const bad = rng.nextU32() % keys.length;
    const tampered = responses.map((r) => Uint8Array.from(r));
    tampered[bad]![0] = tampered[bad]![0]! ^ 1;
    const forged = Uint8Array.from(signature);
    forged.set(verifier.sumScalars(tampered), 32);
    assert.ok(!verifier.verify(forged, message, A));
    const named = tampered.map((r, i) => !checkPartial(r, commitments[i]!.point, c, keys[i]!.publicKey));
    assert.deepEqual(named, keys.map((_, i) => i === bad));
    assert.ok(!checkPartial(responses[0]!, commitments[0]!.point, c, keys[1]!.publicKey), "another signer's key");
    assert.ok(!checkPartial(L_BYTES, commitments[0]!.point, c, keys[0]!.publicKey), "S = L is not canonical");
    assert.ok(!checkPartial(responses[0]!, new Uint8Array(31), c, keys[0]!.publicKey), "short commitment");
  });

  it("a commitment answers once; nonces are fresh and uniform below L", () => {
    const rng = SeededRng.fromSeed(`${seed}/nonce`);
    const key = SchnorrKey.fromSeed(rng.bytes(32));
    const commitment = key.commit(rng);
    const c = challengeScalar(commitment.point, key.publicKey, new Uint8Array(0));
    assert.ok(!commitment.used);
    key.respond(commitment, c);
    assert.ok(commitment.used);
    assert.equal(codeOf(() => key.respond(commitment, c)), "SCHNORR_NONCE_USED");
    const discarded = key.commit(rng);
    discarded.discard();
    assert.equal(codeOf(() => key.respond(discarded, c)), "SCHNORR_NONCE_USED");
    const points = new Set(Array.from({ length: 50 }, () => Buffer.from(key.commit(rng).point).toString("hex")));
    assert.equal(points.size, 50);
    assert.ok(isCanonicalScalar(c));
  });

  it("rejects bad input with codes", () => {
    const rng = SeededRng.fromSeed(`${seed}/bad`);
    const key = SchnorrKey.fromSeed(rng.bytes(32));
    assert.equal(codeOf(() => SchnorrKey.fromSeed(new Uint8Array(31))), "SCHNORR_BAD_SEED");
    assert.equal(codeOf(() => SchnorrKey.fromSeed("seed" as unknown as Uint8Array)), "SCHNORR_BAD_SEED");
    assert.equal(codeOf(() => key.respond(key.commit(rng), L_BYTES)), "SCHNORR_BAD_LENGTH");
    assert.equal(codeOf(() => key.respond(key.commit(rng), new Uint8Array(31))), "SCHNORR_BAD_LENGTH");
    const shortRng: Rng = { nextU32: () => 0, nextFloat: () => 0, bytes: (n) => new Uint8Array(n - 1) };
    assert.equal(codeOf(() => key.commit(shortRng)), "SCHNORR_BAD_RANDOM");
    const zeroRng: Rng = { nextU32: () => 0, nextFloat: () => 0, bytes: (n) => new Uint8Array(n) };
    assert.equal(codeOf(() => key.commit(zeroRng)), "SCHNORR_BAD_RANDOM");
    assert.equal(codeOf(() => challengeScalar(new Uint8Array(32), new Uint8Array(33), new Uint8Array(0))), "SCHNORR_BAD_LENGTH");
  });
});
