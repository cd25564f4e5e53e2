/**
 * Validator registry (src/consensus/registry.ts): keys enter only with a proof of possession for
 * this chain, in key order; bad, small-order, duplicate and rogue keys are refused with codes.
 * The rogue-key case shows why: with a key built as X·B − A_honest, the "collective signature"
 * of {honest, rogue} is forgeable by the rogue alone, and only the PoP keeps that key out.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { verifyCollectiveSignature } from "../../src/consensus/cosi/codec.js";
import {
  POP_DOMAIN,
  ValidatorRegistry,
  keyProblem,
  popMessage,
  proveKeyPossession,
  verifyKeyPossession,
} from "../../src/consensus/registry.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";

const seed = testSeed("registry");
const CHAIN = new TextEncoder().encode("ioschain-test");
const OTHER_CHAIN = new TextEncoder().encode("ioschain-other");
const SPKI_ED25519_PREFIX = Uint8Array.from(Buffer.from("302a300506032b6570032100", "hex"));
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");


describe("proofs of possession", () => {
  it("sign the domain-separated message, verify under node:crypto, and bind key and chain", () => {
    const rng = SeededRng.fromSeed(`${seed}/pop`);
    const key = SchnorrKey.fromSeed(rng.bytes(32));
    const other = SchnorrKey.fromSeed(rng.bytes(32));
    const message = popMessage(key.publicKey, CHAIN);
    assert.equal(Buffer.from(message.subarray(0, POP_DOMAIN.length)).toString("utf8"), "IOSChain/pop/v1");
    assert.deepEqual(message.subarray(POP_DOMAIN.length, POP_DOMAIN.length + 32), key.publicKey);
    assert.equal(message[POP_DOMAIN.length + 32], CHAIN.length);
    assert.deepEqual(message.subarray(POP_DOMAIN.length + 33), CHAIN);
    const proof = proveKeyPossession(key, CHAIN);
    const nodeKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, key.publicKey]), format: "der", type: "spki" });
    assert.ok(nodeVerify(null, message, nodeKey, proof));
    assert.ok(verifyKeyPossession(key.publicKey, proof, CHAIN));
    assert.ok(!verifyKeyPossession(key.publicKey, proof, OTHER_CHAIN), "replayed on another chain");
    assert.ok(!verifyKeyPossession(other.publicKey, proof, CHAIN), "another key's proof");
    assert.ok(!verifyKeyPossession(key.publicKey, key.sign(key.publicKey), CHAIN), "a signature without the domain");
    assert.ok(!verifyKeyPossession(key.publicKey, proof.subarray(1), CHAIN), "short proof");
  });
});

describe("ValidatorRegistry", () => {
  it("admits keys with valid proofs and orders them by encoding", () => {
    const rng = SeededRng.fromSeed(`${seed}/order`);
    const keys = Array.from({ length: 9 }, () => SchnorrKey.fromSeed(rng.bytes(32)));
    const registry = new ValidatorRegistry(CHAIN);
    for (const key of keys) assert.equal(registry.register(key.publicKey, proveKeyPossession(key, CHAIN)), hexOf(key.publicKey));
    assert.equal(registry.size, 9);
    const expected = keys.map((k) => hexOf(k.publicKey)).sort();
    assert.deepEqual(registry.publicKeys().map(hexOf), expected);
    expected.forEach((peer, index) => assert.equal(registry.indexOf(peer), index));
    assert.ok(registry.has(expected[3]!));
    assert.equal(codeOf(() => registry.indexOf("00".repeat(32))), "REGISTRY_UNKNOWN");
  });

  it("refuses bad proofs, duplicates, malformed and small-order keys, bad chain ids", () => {
    const rng = SeededRng.fromSeed(`${seed}/refuse`);
    const key = SchnorrKey.fromSeed(rng.bytes(32));
    const registry = new ValidatorRegistry(CHAIN);
    assert.equal(codeOf(() => registry.register(key.publicKey, proveKeyPossession(key, OTHER_CHAIN))), "REGISTRY_BAD_POP");
    assert.equal(codeOf(() => registry.register(key.publicKey, new Uint8Array(64))), "REGISTRY_BAD_POP");
    assert.equal(codeOf(() => registry.register(key.publicKey, new Uint8Array(63))), "REGISTRY_BAD_POP");
    registry.register(key.publicKey, proveKeyPossession(key, CHAIN));
    assert.equal(codeOf(() => registry.register(key.publicKey, proveKeyPossession(key, CHAIN))), "REGISTRY_DUPLICATE");
    assert.equal(codeOf(() => registry.register(new Uint8Array(31), new Uint8Array(64))), "REGISTRY_BAD_KEY");
    const identity = new Uint8Array(32);
    identity[0] = 1;
    assert.equal(codeOf(() => registry.register(identity, new Uint8Array(64))), "REGISTRY_BAD_KEY", "small order (identity)");
    const orderTwo = new Uint8Array(32).fill(0xff);
    orderTwo[0] = 0xec;
    orderTwo[31] = 0x7f;
    assert.equal(codeOf(() => registry.register(orderTwo, new Uint8Array(64))), "REGISTRY_BAD_KEY", "small order (−1)");
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[0] = 0xee;
    nonCanonical[31] = 0x7f;
    assert.equal(codeOf(() => registry.register(nonCanonical, new Uint8Array(64))), "REGISTRY_BAD_KEY", "y ≥ p");
    const mixedOrder = ed25519.Point.fromBytes(key.publicKey).add(ed25519.Point.fromBytes(orderTwo)).toBytes();
    assert.equal(keyProblem(mixedOrder), "public key has a small-order component");
    assert.equal(keyProblem(key.publicKey), undefined);
    assert.equal(registry.size, 1);
    assert.equal(codeOf(() => new ValidatorRegistry(new Uint8Array(0))), "REGISTRY_BAD_CHAIN_ID");
    assert.equal(codeOf(() => new ValidatorRegistry(new Uint8Array(65))), "REGISTRY_BAD_CHAIN_ID");
    assert.equal(codeOf(() => popMessage(key.publicKey, new Uint8Array(65))), "REGISTRY_BAD_CHAIN_ID");
  });

  it("remembers sound keys by their bytes only: a torsioned twin, or a key rewritten in place never changes an answer", () => {
    const rng = SeededRng.fromSeed(`${seed}/memory`);
    const torsion = ED25519_TORSION_SUBGROUP.map((hex) => ed25519.Point.fromHex(hex)).filter((t) => !t.is0());
    assert.equal(torsion.length, 7);
    for (let round = 0; round < 8; round++) {
      const sound = SchnorrKey.fromSeed(rng.bytes(32)).publicKey;
      assert.equal(keyProblem(sound), undefined);
      assert.equal(keyProblem(sound), undefined, "answered again from memory");
      for (const t of torsion) assert.equal(keyProblem(ed25519.Point.fromBytes(sound).add(t).toBytes()), "public key has a small-order component");
      // The same array, rewritten after it was found sound: the memory holds a copy of the bytes.
      const inPlace = Uint8Array.from(sound);
      assert.equal(keyProblem(inPlace), undefined);
      inPlace.set(ed25519.Point.fromBytes(sound).add(torsion[round % 7]!).toBytes());
      assert.equal(keyProblem(inPlace), "public key has a small-order component");
      // A view into a larger buffer is judged by its own 32 bytes.
      const framed = new Uint8Array(96);
      framed.set(sound, 32);
      framed.set(inPlace, 0);
      assert.equal(keyProblem(framed.subarray(32, 64)), undefined);
      assert.equal(keyProblem(framed.subarray(0, 32)), "public key has a small-order component");
    }
  });

  it("hands a later epoch exactly its validators: known keys with their checked proofs, new ones checked (successor)", () => {
    const rng = SeededRng.fromSeed(`${seed}/successor`);
    const keys = Array.from({ length: 5 }, () => SchnorrKey.fromSeed(rng.bytes(32)));
    const proofs = keys.map((key) => proveKeyPossession(key, CHAIN));
    const registry = new ValidatorRegistry(CHAIN);
    for (const i of [0, 1, 2]) registry.register(keys[i]!.publicKey, proofs[i]!);
    const entry = (i: number) => ({ publicKey: keys[i]!.publicKey, proof: proofs[i]! });
    const next = registry.successor([entry(1), entry(2), entry(3), entry(4)]);
    assert.deepEqual(next.chainId, CHAIN);
    assert.deepEqual(next.publicKeys().map(hexOf), [1, 2, 3, 4].map((i) => hexOf(keys[i]!.publicKey)).sort(), "the leaver 0 is gone, registrants 3 and 4 are in");
    assert.equal(registry.size, 3, "the earlier epoch's registry is unchanged");
    assert.equal(codeOf(() => registry.successor([entry(1), { publicKey: keys[3]!.publicKey, proof: proveKeyPossession(keys[3]!, OTHER_CHAIN) }])), "REGISTRY_BAD_POP", "a registrant's proof for another chain");
    assert.equal(codeOf(() => registry.successor([{ publicKey: keys[1]!.publicKey, proof: proveKeyPossession(keys[2]!, CHAIN) }])), "REGISTRY_BAD_POP", "a known key with another, invalid proof is checked");
    assert.equal(codeOf(() => registry.successor([entry(1), entry(1)])), "REGISTRY_DUPLICATE");
    assert.equal(codeOf(() => registry.successor([entry(3), entry(3)])), "REGISTRY_DUPLICATE");
    assert.equal(codeOf(() => registry.successor([{ publicKey: new Uint8Array(32), proof: proofs[0]! }])), "REGISTRY_BAD_KEY");
  });

  it("keeps out a rogue key that would let one validator forge a collective signature", () => {
    const rng = SeededRng.fromSeed(`${seed}/rogue`);
    const honest = SchnorrKey.fromSeed(rng.bytes(32));
    const attacker = SchnorrKey.fromSeed(rng.bytes(32));
    const rogueKey = ed25519.Point.fromBytes(attacker.publicKey).subtract(ed25519.Point.fromBytes(honest.publicKey)).toBytes();
    const keys = [honest.publicKey, rogueKey];
    const message = new TextEncoder().encode("block 7");
    const forged = { mask: Uint8Array.of(0b11), signature: attacker.sign(message) };
    assert.ok(verifyCollectiveSignature(keys, message, forged, 2), "without PoPs the attacker alone signs for both");
    const registry = new ValidatorRegistry(CHAIN);
    registry.register(honest.publicKey, proveKeyPossession(honest, CHAIN));
    const attempted = attacker.sign(popMessage(rogueKey, CHAIN));
    assert.equal(codeOf(() => registry.register(rogueKey, attempted)), "REGISTRY_BAD_POP");
    assert.equal(registry.size, 1);
  });
});
