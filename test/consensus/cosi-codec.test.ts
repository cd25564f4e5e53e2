/**
 * CoSi encodings and layouts (src/consensus/cosi/codec.ts, mask.ts, tree.ts): collective
 * signatures and protocol messages round-trip and decode strictly; the offline check enforces
 * the threshold, the mask and the message; tree layouts place every invited validator exactly
 * once under the leader with consistent parents, children and heights.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey, challengeScalar } from "../../src/crypto/schnorr.js";
import {
  cosiThreshold,
  decodeAnnounce,
  decodeCollectiveSignature,
  decodeMaskedValue,
  encodeAnnounce,
  encodeCollectiveSignature,
  encodeMaskedValue,
  sessionId,
  verifyCollectiveSignature,
  type CollectiveSignature,
} from "../../src/consensus/cosi/codec.js";
import { emptyMask, hasBit, isWellFormedMask, maskIndices, popcount, setBit } from "../../src/consensus/cosi/mask.js";
import { TreeLayout, fullTreeHeight } from "../../src/consensus/cosi/tree.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";

const seed = testSeed("cosi codec");
const verifier = new Ed25519Verifier();
const L_BYTES = Uint8Array.from(Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex"));


/** A collective signature by the signers of `mask`, made directly from the Schnorr primitives. */
function cosign(keys: SchnorrKey[], registryKeys: Uint8Array[], mask: Uint8Array, message: Uint8Array, rng: SeededRng): CollectiveSignature {
  const signers = maskIndices(mask, registryKeys.length).map((index) => keys.find((k) => Buffer.compare(k.publicKey, registryKeys[index]!) === 0)!);
  const commitments = signers.map((key) => key.commit(rng));
  const V = verifier.aggregatePoints(commitments.map((c) => c.point));
  const c = challengeScalar(V, verifier.aggregateKeys(registryKeys, mask), message);
  const signature = new Uint8Array(64);
  signature.set(V, 0);
  signature.set(verifier.sumScalars(signers.map((key, i) => key.respond(commitments[i]!, c))), 32);
  return { mask, signature };
}

describe("collective signatures", () => {
  const rng = SeededRng.fromSeed(`${seed}/cs`);
  const n = 10;
  const keys = Array.from({ length: n }, () => SchnorrKey.fromSeed(rng.bytes(32)));
  const registryKeys = keys.map((k) => k.publicKey).sort(Buffer.compare);
  const message = new TextEncoder().encode("header");

  it("verify offline with ≥ threshold signers and fail otherwise", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10, 16, 100].map(cosiThreshold), [1, 2, 3, 3, 4, 5, 5, 7, 11, 67]);
    const mask = emptyMask(n);
    for (let i = 0; i < n; i++) if (i !== 3 && i !== 8 && i !== 9) setBit(mask, i);
    assert.equal(popcount(mask), cosiThreshold(n));
    const cs = cosign(keys, registryKeys, mask, message, rng);
    assert.ok(verifyCollectiveSignature(registryKeys, message, cs));
    assert.ok(!verifyCollectiveSignature(registryKeys, message, cs, cosiThreshold(n) + 1), "threshold raised");
    assert.ok(!verifyCollectiveSignature(registryKeys, new Uint8Array(0), cs), "other message");
    const flipped = Uint8Array.from(mask);
    setBit(flipped, 3);
    assert.ok(!verifyCollectiveSignature(registryKeys, message, { mask: flipped, signature: cs.signature }), "claims an extra signer");
    assert.ok(!verifyCollectiveSignature([...registryKeys].reverse(), message, cs), "other registry order");
    const small = emptyMask(n);
    for (let i = 0; i < 6; i++) setBit(small, i);
    assert.ok(!verifyCollectiveSignature(registryKeys, message, cosign(keys, registryKeys, small, message, rng)), "6 of 10 is below 7");
    assert.ok(verifyCollectiveSignature(registryKeys, message, cosign(keys, registryKeys, small, message, rng), 6), "explicit lower threshold");
    assert.ok(!verifyCollectiveSignature(registryKeys, message, { mask: new Uint8Array(3), signature: cs.signature }), "mask of the wrong length");
    assert.ok(!verifyCollectiveSignature(registryKeys, message, { mask, signature: cs.signature.subarray(1) }), "short signature");
    assert.equal(codeOf(() => verifyCollectiveSignature([], message, cs)), "COSI_BAD_INPUT");
    assert.equal(codeOf(() => verifyCollectiveSignature(registryKeys, message, cs, 0)), "COSI_BAD_INPUT");
  });

  it("round-trip through the compact codec, which decodes strictly", () => {
    const mask = emptyMask(n);
    for (let i = 0; i < n; i++) setBit(mask, i);
    const cs = cosign(keys, registryKeys, mask, message, rng);
    const bytes = encodeCollectiveSignature(cs, n);
    assert.equal(bytes.length, 2 + 2 + 64);
    const decoded = decodeCollectiveSignature(bytes);
    assert.equal(decoded.count, n);
    assert.deepEqual(decoded.mask, cs.mask);
    assert.deepEqual(decoded.signature, cs.signature);
    assert.ok(verifyCollectiveSignature(registryKeys, message, decoded));
    assert.equal(codeOf(() => decodeCollectiveSignature(bytes.subarray(0, bytes.length - 1))), "COSI_BAD_SIGNATURE_ENCODING");
    assert.equal(codeOf(() => decodeCollectiveSignature(Uint8Array.of(...bytes, 0))), "COSI_BAD_SIGNATURE_ENCODING");
    assert.equal(codeOf(() => decodeCollectiveSignature(new Uint8Array(1))), "COSI_BAD_SIGNATURE_ENCODING");
    assert.equal(codeOf(() => decodeCollectiveSignature(new Uint8Array(66))), "COSI_BAD_SIGNATURE_ENCODING", "n = 0");
    const highBit = Uint8Array.from(bytes);
    highBit[3] = highBit[3]! | 0x80;
    assert.equal(codeOf(() => decodeCollectiveSignature(highBit)), "COSI_BAD_SIGNATURE_ENCODING", "bit past n");
    assert.equal(codeOf(() => encodeCollectiveSignature(cs, 9)), "COSI_BAD_INPUT");
  });
});

describe("protocol messages", () => {
  it("ANNOUNCE round-trips and rejects truncation, bad modes, oversize messages and stray mask bits", () => {
    const rng = SeededRng.fromSeed(`${seed}/announce`);
    const leaderKey = rng.bytes(32);
    const message = rng.bytes(100);
    const invited = emptyMask(12);
    for (const i of [0, 2, 3, 5, 7, 11]) setBit(invited, i);
    const announce = {
      session: sessionId(leaderKey, 42, message),
      attempt: 3,
      leaderIndex: 5,
      round: 42,
      mode: "star" as const,
      fanout: 3,
      count: 12,
      invited,
      message,
    };
    const bytes = encodeAnnounce(announce);
    assert.deepEqual(decodeAnnounce(bytes, 1000), announce);
    assert.equal(codeOf(() => decodeAnnounce(bytes, 99)), "COSI_BAD_MESSAGE", "message above the limit");
    assert.equal(codeOf(() => decodeAnnounce(bytes.subarray(0, bytes.length - 1), 1000)), "COSI_BAD_MESSAGE");
    assert.equal(codeOf(() => decodeAnnounce(Uint8Array.of(...bytes, 0), 1000)), "COSI_BAD_MESSAGE");
    const badMode = Uint8Array.from(bytes);
    badMode[33 + 10] = 2;
    assert.equal(codeOf(() => decodeAnnounce(badMode, 1000)), "COSI_BAD_MESSAGE");
    const stray = Uint8Array.from(bytes);
    stray[33 + 14 + 1] = stray[33 + 14 + 1]! | 0x80;
    assert.equal(codeOf(() => decodeAnnounce(stray, 1000)), "COSI_BAD_MESSAGE");
    assert.notDeepEqual(sessionId(leaderKey, 43, message), announce.session);
    assert.notDeepEqual(sessionId(leaderKey, 42, message.subarray(1)), announce.session);
  });

  it("COMMIT / CHALLENGE / RESPONSE round-trip; responses must be canonical scalars", () => {
    const header = { session: new Uint8Array(32).fill(7), attempt: 1 };
    const mask = emptyMask(9);
    setBit(mask, 8);
    const value = new Uint8Array(32).fill(3);
    const bytes = encodeMaskedValue(header, mask, value);
    assert.deepEqual(decodeMaskedValue(bytes, 9, "scalar"), { ...header, mask, value });
    assert.equal(codeOf(() => decodeMaskedValue(bytes, 17, "point")), "COSI_BAD_MESSAGE", "length for another n");
    assert.equal(codeOf(() => decodeMaskedValue(encodeMaskedValue(header, mask, L_BYTES), 9, "scalar")), "COSI_BAD_MESSAGE");
    assert.ok(decodeMaskedValue(encodeMaskedValue(header, mask, L_BYTES), 9, "point"));
    const stray = emptyMask(9);
    stray[1] = 0x02;
    assert.equal(codeOf(() => decodeMaskedValue(encodeMaskedValue(header, stray, value), 9, "point")), "COSI_BAD_MESSAGE");
  });
});

describe("tree layouts", () => {
  it("place every invited validator once, leader at the root, with consistent parents and heights", () => {
    for (const count of [1, 2, 4, 7, 10, 16, 33]) {
      for (const fanout of [2, 3, 4, 8]) {
        for (const mode of ["tree", "star"] as const) {
          const invited = emptyMask(count);
          for (let i = 0; i < count; i++) if (i % 5 !== 4 || i === count - 1) setBit(invited, i);
          const leader = count - 1;
          const layout = new TreeLayout(count, leader, invited, mode, fanout);
          const context = `n=${count} fanout=${fanout} ${mode}`;
          assert.equal(layout.order[0], leader, context);
          assert.deepEqual([...layout.order].sort((a, b) => a - b), maskIndices(invited, count), context);
          assert.equal(layout.subtree(0).length, layout.size, context);
          for (let position = 1; position < layout.size; position++) {
            const parent = layout.parentPosition(position);
            assert.ok(layout.childPositions(parent).includes(position), context);
            assert.ok(layout.height(parent) >= layout.height(position) + 1, context);
          }
          if (mode === "star") assert.ok(layout.height(0) <= 1, context);
          else assert.ok(layout.height(0) <= fullTreeHeight(count, fanout), context);
          assert.ok(isWellFormedMask(invited, count) && hasBit(invited, leader));
        }
      }
    }
    assert.deepEqual([1, 2, 3, 4, 7, 8, 15, 16].map((count) => fullTreeHeight(count, 2)), [0, 1, 1, 2, 2, 3, 3, 4]);
  });
});
