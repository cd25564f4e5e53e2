import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { IosError } from "../../src/errors.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

/** ChaCha20 keystream from OpenSSL: encrypting zeros. The 16-byte IV is counter (LE) ‖ nonce. */
function opensslKeystream(key: Uint8Array, nonce: Uint8Array, counter: number, length: number): Uint8Array {
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(counter, 0);
  iv.set(nonce, 4);
  return new Uint8Array(createCipheriv("chacha20", key, iv).update(Buffer.alloc(length)));
}

describe("SeededRng (ChaCha20)", () => {
  it("matches RFC 8439 §2.3.2, the block function test vector", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const rng = SeededRng.fromKey(key, hex("000000090000004a00000000"), 1);
    const expected = hex(`
      10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4 c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e
      d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2 b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e`);
    assert.deepEqual(rng.bytes(64), expected);
  });

  it("matches RFC 8439 appendix A.1, test vectors #1 and #2 (zero key and nonce, blocks 0 and 1)", () => {
    const rng = SeededRng.fromKey(new Uint8Array(32));
    assert.deepEqual(
      rng.bytes(64),
      hex(`76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28 bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7
           da 41 59 7c 51 57 48 8d 77 24 e0 3f b8 d8 4a 37 6a 43 b8 f4 15 18 a1 1c c3 87 b6 69 b2 ee 65 86`),
    );
    assert.deepEqual(
      rng.bytes(64),
      hex(`9f 07 e7 be 55 51 38 7a 98 ba 97 7c 73 2d 08 0d cb 0f 29 a0 48 e3 65 69 12 c6 53 3e 32 ee 7a ed
           29 b7 21 76 9c e6 4e 43 d5 71 33 b0 74 d8 39 d5 31 ed 1f 28 51 0a fb 45 ac e1 0a 1f 4b 79 4d 6f`),
    );
  });

  it("equals OpenSSL's ChaCha20 keystream on random keys, nonces and counters, across the counter carry", () => {
    for (let trial = 0; trial < 50; trial++) {
      const key = new Uint8Array(randomBytes(32));
      const nonce = new Uint8Array(randomBytes(12));
      const counter = trial === 0 ? 0xffffffff : trial === 1 ? 0xfffffffe : randomBytes(4).readUInt32LE(0);
      const length = 64 * (1 + (trial % 5));
      const rng = SeededRng.fromKey(key, nonce, counter);
      assert.deepEqual(rng.bytes(length), opensslKeystream(key, nonce, counter, length), `trial ${trial}`);
    }
  });

  it("nextU32 reads the keystream as little-endian words, and nextFloat uses 27 + 26 bits of two words", () => {
    const key = new Uint8Array(randomBytes(32));
    const stream = Buffer.from(opensslKeystream(key, new Uint8Array(12), 0, 256));
    const rng = SeededRng.fromKey(key);
    for (let i = 0; i < 32; i++) assert.equal(rng.nextU32(), stream.readUInt32LE(4 * i));
    for (let i = 32; i < 64; i += 2) {
      const expected = ((stream.readUInt32LE(4 * i) >>> 5) * 2 ** 26 + (stream.readUInt32LE(4 * i + 4) >>> 6)) / 2 ** 53;
      assert.equal(rng.nextFloat(), expected);
    }
  });

  it("bytes() of a length that is not a multiple of 4 consumes whole words", () => {
    const key = new Uint8Array(randomBytes(32));
    const stream = opensslKeystream(key, new Uint8Array(12), 0, 64);
    const rng = SeededRng.fromKey(key);
    assert.deepEqual(rng.bytes(5), stream.subarray(0, 5));
    assert.deepEqual(rng.bytes(3), stream.subarray(8, 11));
    assert.deepEqual(rng.bytes(0), new Uint8Array(0));
    assert.deepEqual(rng.bytes(4), stream.subarray(12, 16));
  });

  it("fromSeed keys ChaCha20 with SHA-256(domain ‖ kind ‖ seed)", () => {
    const numeric = createHash("sha256").update("ioschain/seeded-rng/seed/v1").update("n");
    const eight = Buffer.alloc(8);
    eight.writeBigUInt64BE(20261124n);
    const numericKey = new Uint8Array(numeric.update(eight).digest());
    assert.deepEqual(SeededRng.fromSeed(20261124).bytes(128), opensslKeystream(numericKey, new Uint8Array(12), 0, 128));
    const textKey = new Uint8Array(createHash("sha256").update("ioschain/seeded-rng/seed/v1").update("s").update("épée").digest());
    assert.deepEqual(SeededRng.fromSeed("épée").bytes(128), opensslKeystream(textKey, new Uint8Array(12), 0, 128));
  });

  it("is reproducible: one seed, one sequence; other seeds, other sequences", () => {
    const draw = (seed: number | string) => {
      const rng = SeededRng.fromSeed(seed);
      return [rng.nextU32(), rng.nextFloat(), ...rng.bytes(9)];
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(1), draw("1"));
    assert.notDeepEqual(draw(0), draw(Number.MAX_SAFE_INTEGER));
  });

  it("fork gives independent streams that depend on the label, not on draws made before", () => {
    const parent = SeededRng.fromSeed(7);
    const before = parent.fork("network").bytes(32);
    parent.bytes(1000);
    assert.deepEqual(parent.fork("network").bytes(32), before);
    assert.notDeepEqual(parent.fork("node/1").bytes(32), before);
    assert.notDeepEqual(SeededRng.fromSeed(8).fork("network").bytes(32), before);
    assert.notDeepEqual(parent.fork("network").fork("network").bytes(32), before);
    const fresh = SeededRng.fromSeed(7);
    assert.notDeepEqual(fresh.bytes(32), before);
  });

  it("draws are uniform: chi-square over 16 buckets stays below 55 (p = 1.8e-6)", () => {
    const rng = SeededRng.fromSeed("uniformity");
    const draws = 160_000;
    const u32 = new Array<number>(16).fill(0);
    const floats = new Array<number>(16).fill(0);
    let min = 1;
    let max = 0;
    for (let i = 0; i < draws; i++) {
      u32[rng.nextU32() >>> 28]!++;
      const f = rng.nextFloat();
      min = Math.min(min, f);
      max = Math.max(max, f);
      floats[Math.floor(f * 16)]!++;
    }
    const expected = draws / 16;
    const chi2 = (counts: number[]) => counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    // χ² with 15 degrees of freedom exceeds 55 with probability 1.8e-6 for a uniform source.
    assert.ok(chi2(u32) < 55, `u32 chi2 ${chi2(u32)}`);
    assert.ok(chi2(floats) < 55, `float chi2 ${chi2(floats)}`);
    assert.ok(min >= 0 && max < 1);
  });

  it("refuses bad seeds, keys, nonces, counters, labels and lengths with coded errors", () => {
    for (const seed of [-1, 0.5, Number.NaN, 2 ** 53, ""]) {
      assert.throws(() => SeededRng.fromSeed(seed), hasCode("RNG_BAD_SEED"), String(seed));
    }
    assert.throws(() => SeededRng.fromSeed({} as unknown as string), hasCode("RNG_BAD_SEED"));
    assert.throws(() => SeededRng.fromKey(new Uint8Array(31)), hasCode("RNG_BAD_KEY"));
    assert.throws(() => SeededRng.fromKey(new Uint8Array(32), new Uint8Array(8)), hasCode("RNG_BAD_KEY"));
    assert.throws(() => SeededRng.fromKey(new Uint8Array(32), new Uint8Array(12), 2 ** 32), hasCode("RNG_BAD_KEY"));
    assert.throws(() => SeededRng.fromSeed(1).fork(""), hasCode("RNG_BAD_LABEL"));
    for (const length of [-1, 1.5, Number.NaN, 2 ** 25]) {
      assert.throws(() => SeededRng.fromSeed(1).bytes(length), hasCode("RNG_BAD_LENGTH"), String(length));
    }
  });
});
