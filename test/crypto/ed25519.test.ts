/**
 * Ed25519 consensus-equivalence tests for src/crypto/ed25519.ts: RFC 8032 §7.1 vectors, the
 * ZIP-215 small-order set and edge cases (checked against @noble/curves in zip215 mode), a seeded
 * differential against node:crypto and noble, batch verdicts against single verification, and
 * bad input. Failing random cases print their seed; set IOS_TEST_SEED to replay one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier, verify, verifyBatch, type SignatureItem } from "../../src/crypto/ed25519.js";
import { defaultFlavor, type WasmFlavor } from "../../src/crypto/wasm.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

interface VectorFile<V> {
  vectors: V[];
}
interface RfcVector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
interface Zip215Vector {
  name: string;
  publicKey: string;
  signature: string;
  message: string;
  validZip215: boolean;
}

function loadVectors<V>(file: string): V[] {
  return readVectorFile<VectorFile<V>>(file).vectors;
}

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
const SPKI_ED25519_PREFIX = hex("302a300506032b6570032100");
const PKCS8_ED25519_PREFIX = hex("302e020100300506032b657004220420");
/** Group order L (RFC 8032 §5.1), little-endian: an S of exactly L. */
const L_BYTES = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

const primaryFlavor: WasmFlavor = defaultFlavor();
const secondaryFlavor: WasmFlavor = primaryFlavor === "simd" ? "scalar" : "simd";
const seed = testSeed("ed25519");

/** node:crypto KeyObjects by key hex: building one costs more than a verification. */
const nodeKeys = new Map<string, KeyObject | undefined>();

function nodeKey(publicKey: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(publicKey).toString("hex");
  if (!nodeKeys.has(id)) {
    try {
      nodeKeys.set(id, createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" }));
    } catch {
      nodeKeys.set(id, undefined);
    }
  }
  return nodeKeys.get(id);
}

function nodeVerdict(item: SignatureItem): boolean {
  const key = nodeKey(item.publicKey);
  if (key === undefined) return false;
  try {
    return nodeVerify(null, item.message, key, item.signature);
  } catch {
    return false;
  }
}

function nobleVerdict(item: SignatureItem): boolean {
  return ed25519.verify(item.signature, item.message, item.publicKey, { zip215: true });
}

type Corruption = "none" | "R" | "S" | "A" | "message";
interface GeneratedItem extends SignatureItem {
  corruption: Corruption;
}

function flipBit(bytes: Uint8Array, rng: SeededRng, from: number, to: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  const bit = from * 8 + (rng.nextU32() % ((to - from) * 8));
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

/**
 * Honest signatures from random keys over random messages (node:crypto signs), a fraction
 * `corruptFraction` of them then corrupted by one bit flip in R, S, A or the message.
 */
function generateItems(rng: SeededRng, count: number, corruptFraction: number, distinctKeys = count): GeneratedItem[] {
  const keys = Array.from({ length: distinctKeys }, () => {
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, rng.bytes(32)]), format: "der", type: "pkcs8" });
    const publicKey = Uint8Array.from(createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12));
    return { privateKey, publicKey };
  });
  const kinds: Corruption[] = ["R", "S", "A", "message"];
  return Array.from({ length: count }, (_, index) => {
    const key = keys[index % distinctKeys]!;
    let message = rng.bytes(rng.nextU32() % 200);
    let signature: Uint8Array = Uint8Array.from(nodeSign(null, message, key.privateKey));
    let publicKey: Uint8Array = key.publicKey;
    let corruption: Corruption = "none";
    if (rng.nextFloat() < corruptFraction) {
      corruption = kinds[rng.nextU32() % kinds.length]!;
      if (corruption === "R") signature = flipBit(signature, rng, 0, 32);
      if (corruption === "S") signature = flipBit(signature, rng, 32, 64);
      if (corruption === "A") publicKey = flipBit(publicKey, rng, 0, 32);
      if (corruption === "message") message = message.length === 0 ? Uint8Array.of(1) : flipBit(message, rng, 0, message.length);
    }
    return { publicKey, signature, message, corruption };
  });
}

describe("Ed25519: RFC 8032 §7.1 vectors", () => {
  const vectors = loadVectors<RfcVector>("rfc8032-ed25519.json");

  it("has the five published Ed25519 vectors, reproduced by node:crypto", () => {
    assert.equal(vectors.length, 5);
    for (const v of vectors) {
      const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, hex(v.secretKey)]), format: "der", type: "pkcs8" });
      assert.equal(Buffer.from(nodeSign(null, hex(v.message), privateKey)).toString("hex"), v.signature, v.name);
    }
  });

  for (const flavor of [primaryFlavor, secondaryFlavor]) {
    it(`accepts every vector and rejects each with one bit flipped (${flavor})`, () => {
      const verifier = new Ed25519Verifier({ flavor });
      for (const v of vectors) {
        const [signature, message, publicKey] = [hex(v.signature), hex(v.message), hex(v.publicKey)];
        assert.equal(verifier.verify(signature, message, publicKey), true, v.name);
        assert.equal(verifier.verify(Uint8Array.from(signature, (b, i) => (i === 5 ? b ^ 0x10 : b)), message, publicKey), false, `${v.name} R`);
        assert.equal(verifier.verify(Uint8Array.from(signature, (b, i) => (i === 40 ? b ^ 0x01 : b)), message, publicKey), false, `${v.name} S`);
        assert.equal(verifier.verify(signature, Uint8Array.of(...message, 0), publicKey), false, `${v.name} message`);
        assert.equal(verifier.verify(signature, message, Uint8Array.from(publicKey, (b, i) => (i === 0 ? b ^ 0x02 : b))), false, `${v.name} A`);
      }
      const items = vectors.map((v) => ({ signature: hex(v.signature), message: hex(v.message), publicKey: hex(v.publicKey) }));
      assert.deepEqual(verifier.verifyBatch(items), [true, true, true, true, true]);
    });
  }

  it("module-level verify and verifyBatch agree with the verifier", () => {
    const items = vectors.map((v) => ({ signature: hex(v.signature), message: hex(v.message), publicKey: hex(v.publicKey) }));
    for (const item of items) assert.equal(verify(item.signature, item.message, item.publicKey), true);
    const swapped = items.map((item, i) => ({ ...item, message: items[(i + 1) % items.length]!.message }));
    assert.deepEqual(verifyBatch([...items, ...swapped]), [...items.map(() => true), ...swapped.map(() => false)]);
  });
});

describe("Ed25519: ZIP-215 vectors", () => {
  const pairings = loadVectors<Zip215Vector>("zip215.json");
  const edges = loadVectors<Zip215Vector>("zip215-edge.json");
  const toItem = (v: Zip215Vector): SignatureItem => ({ publicKey: hex(v.publicKey), signature: hex(v.signature), message: hex(v.message) });

  it("has all 196 pairings of the 14 small-order encodings, S = 0, and noble (zip215) accepts them all", () => {
    assert.equal(pairings.length, 196);
    const encodings = new Set(pairings.map((v) => v.publicKey));
    assert.equal(encodings.size, 14);
    assert.equal(new Set(pairings.map((v) => v.signature.slice(0, 64))).size, 14);
    assert.equal(new Set(pairings.map((v) => `${v.publicKey}/${v.signature}`)).size, 196);
    for (const v of pairings) {
      assert.equal(v.signature.slice(64), "0".repeat(64), v.name);
      assert.equal(ed25519.Point.fromBytes(hex(v.publicKey), true).isSmallOrder(), true, v.name);
      assert.equal(nobleVerdict(toItem(v)), true, v.name);
    }
    // node:crypto (OpenSSL: cofactorless equation, canonical encodings only) is not required to agree.
    const nodeAccepts = pairings.filter((v) => nodeVerdict(toItem(v))).length;
    const nodeDiffers = edges.filter((v) => nodeVerdict(toItem(v)) !== v.validZip215).length;
    console.log(`node:crypto accepts ${nodeAccepts}/196 small-order pairings and differs on ${nodeDiffers}/${edges.length} edge cases`);
  });

  it("noble (zip215) agrees with every edge-case verdict", () => {
    assert.ok(edges.some((v) => v.validZip215) && edges.some((v) => !v.validZip215));
    for (const v of edges) assert.equal(nobleVerdict(toItem(v)), v.validZip215, v.name);
  });

  for (const flavor of [primaryFlavor, secondaryFlavor]) {
    it(`accepts all 196 small-order pairings, singly and in a batch (${flavor})`, () => {
      const verifier = new Ed25519Verifier({ flavor });
      const items = pairings.map(toItem);
      for (const [i, item] of items.entries()) {
        assert.equal(verifier.verify(item.signature, item.message, item.publicKey), true, pairings[i]!.name);
      }
      assert.deepEqual(verifier.verifyBatch(items), items.map(() => true));
    });

    it(`matches noble (zip215) on S >= L and mixed-order points, singly and in a batch (${flavor})`, () => {
      const verifier = new Ed25519Verifier({ flavor });
      const items = edges.map(toItem);
      const expected = edges.map((v) => v.validZip215);
      assert.deepEqual(items.map((item) => verifier.verify(item.signature, item.message, item.publicKey)), expected);
      assert.deepEqual(verifier.verifyBatch(items), expected);
    });
  }

  it("rejects S = L, S = L + 1 and S = 2^256 - 1 on an otherwise valid signature", () => {
    const [item] = generateItems(SeededRng.fromSeed(`${seed}/s-range`), 1, 0);
    const { publicKey, signature, message } = item!;
    const verifier = new Ed25519Verifier();
    assert.equal(verifier.verify(signature, message, publicKey), true);
    const sPlusOne = Uint8Array.from(L_BYTES);
    sPlusOne[0] += 1;
    for (const s of [L_BYTES, sPlusOne, new Uint8Array(32).fill(0xff)]) {
      const bad = Uint8Array.of(...signature.subarray(0, 32), ...s);
      assert.equal(verifier.verify(bad, message, publicKey), false);
      assert.deepEqual(verifier.verifyBatch([item!, { publicKey, signature: bad, message }, item!]), [true, false, true]);
    }
  });
});

describe("Ed25519: differential against node:crypto and @noble/curves (zip215)", () => {
  /** Signatures per random key: keys repeat as a block's signers do (exercising the key cache). */
  const SIGNATURES_PER_KEY = 10;

  const differential = (flavor: WasmFlavor, count: number, keyCacheSize?: number) => () => {
    const caseSeed = `${seed}/differential/${flavor}`;
    const items = generateItems(SeededRng.fromSeed(caseSeed), count, 0.25, count / SIGNATURES_PER_KEY);
    const verifier = new Ed25519Verifier(keyCacheSize === undefined ? { flavor } : { flavor, keyCacheSize });
    let rejected = 0;
    const corrupted = new Map<Corruption, number>();
    for (const [index, item] of items.entries()) {
      const ours = verifier.verify(item.signature, item.message, item.publicKey);
      const context = `item ${index} (${item.corruption}), seed ${caseSeed}`;
      assert.equal(ours, nodeVerdict(item), `node:crypto disagrees on ${context}`);
      assert.equal(ours, nobleVerdict(item), `noble disagrees on ${context}`);
      if (item.corruption === "none") assert.equal(ours, true, `honest signature rejected: ${context}`);
      else if (!ours) rejected++;
      corrupted.set(item.corruption, (corrupted.get(item.corruption) ?? 0) + 1);
    }
    for (const kind of ["R", "S", "A", "message"] as const) assert.ok((corrupted.get(kind) ?? 0) > 0, `no ${kind} corruption generated`);
    assert.ok(rejected > count / 10, "corrupted signatures are rejected");
  };

  it(`4,000 random signatures, a quarter corrupted: each vs node:crypto and noble (${primaryFlavor}, key cache on)`, differential(primaryFlavor, 4_000));
  it(`2,000 random signatures, a quarter corrupted: each vs node:crypto and noble (${secondaryFlavor}, key cache off)`, differential(secondaryFlavor, 2_000, 0));
});

describe("Ed25519: batch verdicts equal single verdicts", () => {
  /**
   * Items are drawn from a fixed set of signatures whose single verdicts are computed once;
   * half the batches are all valid, the rest hold 1 to 4 bad items at random positions, among
   * them wrong-length fields and non-points.
   */
  const batchCheck = (flavor: WasmFlavor, sizes: readonly number[]) => () => {
    const caseSeed = `${seed}/batch/${flavor}`;
    const rng = SeededRng.fromSeed(caseSeed);
    const good = generateItems(rng, 300, 0, 60);
    const notAPoint = hex("0200000000000000000000000000000000000000000000000000000000000000");
    const bad: SignatureItem[] = [
      ...generateItems(rng, 40, 1, 40),
      { ...good[0]!, signature: good[0]!.signature.subarray(0, 63) },
      { ...good[1]!, publicKey: Uint8Array.of(...good[1]!.publicKey, 0) },
      { ...good[2]!, publicKey: notAPoint },
      { ...good[3]!, signature: Uint8Array.of(...notAPoint, ...good[3]!.signature.subarray(32)) },
      { ...good[4]!, signature: new Uint8Array(0), publicKey: new Uint8Array(0) },
    ];
    const verifier = new Ed25519Verifier({ flavor });
    const single = new Map<SignatureItem, boolean>();
    for (const item of [...good, ...bad]) single.set(item, verifier.verify(item.signature, item.message, item.publicKey));
    assert.ok(good.every((item) => single.get(item)));
    assert.ok(bad.every((item) => !single.get(item)));

    for (const size of sizes) {
      const batch: SignatureItem[] = Array.from({ length: size }, () => good[rng.nextU32() % good.length]!);
      if (rng.nextFloat() < 0.5) {
        const badCount = 1 + (rng.nextU32() % Math.min(4, size));
        for (let i = 0; i < badCount; i++) batch[rng.nextU32() % size] = bad[rng.nextU32() % bad.length]!;
      }
      assert.deepEqual(
        verifier.verifyBatch(batch),
        batch.map((item) => single.get(item)),
        `batch of ${size}, seed ${caseSeed}`,
      );
    }
  };

  const allSizes = Array.from({ length: 300 }, (_, i) => i + 1);
  it(`every size 1..300 (${primaryFlavor})`, batchCheck(primaryFlavor, allSizes));
  it(`sizes around the kernel's boundaries (${secondaryFlavor})`, batchCheck(secondaryFlavor, [1, 2, 3, 4, 7, 8, 9, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300]));
});

describe("Ed25519: bad input is invalid, never an exception", () => {
  it("wrong lengths and non-points return false singly and inside a batch", () => {
    const [item] = generateItems(SeededRng.fromSeed(`${seed}/bad-input`), 1, 0);
    const { publicKey, signature, message } = item!;
    const verifier = new Ed25519Verifier();
    const notAPoint = hex("0200000000000000000000000000000000000000000000000000000000000000");
    const yAboveField = hex("f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    const cases: [string, SignatureItem][] = [
      ["31-byte key", { publicKey: publicKey.subarray(0, 31), signature, message }],
      ["33-byte key", { publicKey: Uint8Array.of(...publicKey, 0), signature, message }],
      ["empty key", { publicKey: new Uint8Array(0), signature, message }],
      ["63-byte signature", { publicKey, signature: signature.subarray(0, 63), message }],
      ["65-byte signature", { publicKey, signature: Uint8Array.of(...signature, 0), message }],
      ["empty signature", { publicKey, signature: new Uint8Array(0), message }],
      ["key not on the curve", { publicKey: notAPoint, signature, message }],
      ["R not on the curve", { publicKey, signature: Uint8Array.of(...notAPoint, ...signature.subarray(32)), message }],
      ["non-canonical y that is no point", { publicKey: yAboveField, signature, message }],
      ["all-zero signature", { publicKey, signature: new Uint8Array(64), message }],
    ];
    for (const [name, bad] of cases) {
      assert.equal(nobleSafe(bad), false, `noble accepts ${name}`);
      assert.equal(verifier.verify(bad.signature, bad.message, bad.publicKey), false, name);
    }
    const batch: SignatureItem[] = cases.flatMap(([, bad]) => [item!, bad]);
    assert.deepEqual(verifier.verifyBatch(batch), batch.map((_, i) => i % 2 === 0));
    assert.deepEqual(verifyBatch(batch), batch.map((_, i) => i % 2 === 0));
  });
});

/** noble throws on wrong lengths instead of answering; a throw counts as a rejection. */
function nobleSafe(item: SignatureItem): boolean {
  try {
    return nobleVerdict(item);
  } catch {
    return false;
  }
}
