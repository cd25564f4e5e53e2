/**
 * Internals of the Ed25519 kernel (assembly/ed25519) and the aggregation surface of
 * src/crypto/ed25519.ts: SHA-512 against FIPS 180-4 examples and node:crypto, field and scalar
 * arithmetic against BigInt, point decoding against @noble/curves (zip215), key/point/scalar
 * aggregation against noble's point arithmetic, and a CoSi-style collective signature.
 * Random cases derive from a printed seed; set IOS_TEST_SEED to replay one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPublicKey, verify as nodeVerify } from "node:crypto";
import { ed25519, ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import { Ed25519Verifier, type SignatureItem } from "../../src/crypto/ed25519.js";
import { instantiateKernel, WASM_FLAVORS, type WasmFlavor } from "../../src/crypto/wasm.js";
import { IosError } from "../../src/errors.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { testSeed } from "../support/vectors.js";

const seed = testSeed("ed25519-kernel");

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const Point = ed25519.Point;

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
function leToBig(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}
function bigToLe(value: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}
const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

/** FIPS 180-4 SHA-512 examples (NIST CSRC "Examples with intermediate values", SHA512.pdf). */
const SHA512_EXAMPLES: { input: string; digest: string }[] = [
  {
    input: "abc",
    digest:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  },
  {
    input: "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    digest:
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
  },
  {
    input: "",
    digest:
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
  },
];

/** Raw kernel exports used by the arithmetic probes. */
interface KernelProbes {
  memory: WebAssembly.Memory;
  init(): void;
  configure(slots: number, batchItems: number): number;
  messagePtr(): number;
  outputPtr(): number;
  publicKeyPtr(): number;
  fieldInputPtr(): number;
  fieldInput2Ptr(): number;
  scalarReduceProbe(): void;
  scalarMulAddProbe(): void;
  fieldMulProbe(): void;
  fieldInvertProbe(): void;
  fieldSqrtRatioProbe(): number;
  pointNormalize(): number;
}

function probeKernel(flavor: WasmFlavor): { kernel: KernelProbes; heap: () => Uint8Array } {
  const kernel = instantiateKernel("ed25519", flavor).exports as unknown as KernelProbes;
  kernel.init();
  assert.equal(kernel.configure(1, 1), 1);
  return { kernel, heap: () => new Uint8Array(kernel.memory.buffer) };
}

function randomPoint(rng: SeededRng): InstanceType<typeof Point> {
  const scalar = mod(leToBig(rng.bytes(40)), L - 1n) + 1n;
  return Point.BASE.multiply(scalar);
}

for (const flavor of WASM_FLAVORS) {
  describe(`Ed25519 kernel internals (${flavor})`, () => {
    const rng = SeededRng.fromSeed(`${seed}/${flavor}`);
    const verifier = new Ed25519Verifier({ flavor });
    const { kernel, heap } = probeKernel(flavor);
    const output = (length: number): Uint8Array => heap().slice(kernel.outputPtr(), kernel.outputPtr() + length);

    it("reproduces the FIPS 180-4 SHA-512 examples, including one million 'a'", () => {
      for (const { input, digest } of SHA512_EXAMPLES) {
        assert.equal(toHex(verifier.sha512(new TextEncoder().encode(input))), digest, `SHA-512("${input}")`);
      }
      const million = new Uint8Array(1_000_000).fill(0x61);
      assert.equal(
        toHex(verifier.sha512(million)),
        "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
      );
    });

    it("matches node:crypto SHA-512 on every length 0..300 and across the streaming buffer", () => {
      for (let length = 0; length <= 300; length++) {
        const data = rng.bytes(length);
        assert.equal(toHex(verifier.sha512(data)), createHash("sha512").update(data).digest("hex"), `length ${length}`);
      }
      for (const length of [16383, 16384, 16385, 40_000]) {
        const data = rng.bytes(length);
        assert.equal(toHex(verifier.sha512(data)), createHash("sha512").update(data).digest("hex"), `length ${length}`);
      }
    });

    it("multiplies, inverts and takes square roots in GF(2^255 - 19) like BigInt", () => {
      const field = (value: bigint, at: number): void => heap().set(bigToLe(value), at);
      for (let i = 0; i < 200; i++) {
        // Inputs are any 255-bit values, canonical or not (the kernel reduces them mod p).
        const a = leToBig(rng.bytes(32)) & ((1n << 255n) - 1n);
        const b = leToBig(rng.bytes(32)) & ((1n << 255n) - 1n);
        field(a, kernel.fieldInputPtr());
        field(b, kernel.fieldInput2Ptr());
        kernel.fieldMulProbe();
        assert.equal(leToBig(output(32)), (a * b) % P, "a * b");
        kernel.fieldInvertProbe();
        const inverse = leToBig(output(32));
        assert.equal(a % P === 0n ? inverse : (inverse * a) % P, a % P === 0n ? 0n : 1n, "a * (1/a) = 1");
        const hasRoot = kernel.fieldSqrtRatioProbe() !== 0;
        const ratio = mod(a * modPow(b, P - 2n, P), P);
        const isSquare = ratio === 0n || modPow(ratio, (P - 1n) / 2n, P) === 1n;
        assert.equal(hasRoot, isSquare, "a/b is a square exactly when the kernel finds a root");
        if (hasRoot) {
          const root = leToBig(output(32));
          assert.equal(mod(root * root * b, P), a % P, "root² · b = a");
        }
      }
      field(0n, kernel.fieldInputPtr());
      kernel.fieldInvertProbe();
      assert.equal(leToBig(output(32)), 0n, "1/0 is 0 by the p−2 exponent");
      field(P + 5n, kernel.fieldInputPtr());
      field(1n, kernel.fieldInput2Ptr());
      kernel.fieldMulProbe();
      assert.equal(leToBig(output(32)), 5n, "a non-canonical input (p + 5) reduces to 5");
    });

    it("reduces 512-bit values and computes a·b + c mod L like BigInt", () => {
      const edge = [0n, L - 1n, L, L + 1n, 2n * L, (1n << 512n) - 1n, (1n << 256n) * L - 1n];
      const wide = [...edge, ...Array.from({ length: 300 }, () => leToBig(rng.bytes(64)))];
      for (const value of wide) {
        heap().set(bigToLe(value, 64), kernel.messagePtr());
        kernel.scalarReduceProbe();
        assert.equal(leToBig(output(32)), value % L, `reduce ${value.toString(16)}`);
      }
      const narrow = [0n, 1n, L - 1n, L, (1n << 256n) - 1n];
      for (let i = 0; i < 300; i++) {
        const [a, b, c] = i < 125 ? [narrow[i % 5]!, narrow[Math.floor(i / 5) % 5]!, narrow[Math.floor(i / 25)]!]
          : [leToBig(rng.bytes(32)), leToBig(rng.bytes(32)), leToBig(rng.bytes(32))];
        const input = new Uint8Array(96);
        input.set(bigToLe(a), 0);
        input.set(bigToLe(b), 32);
        input.set(bigToLe(c), 64);
        heap().set(input, kernel.messagePtr());
        kernel.scalarMulAddProbe();
        assert.equal(leToBig(output(32)), (a * b + c) % L, `${a} * ${b} + ${c}`);
      }
    });

    it("decodes and re-encodes random points like @noble/curves, canonical and not", () => {
      for (let i = 0; i < 100; i++) {
        const point = randomPoint(rng);
        const encoded = point.toBytes();
        heap().set(encoded, kernel.publicKeyPtr());
        assert.equal(kernel.pointNormalize(), 1);
        assert.equal(toHex(output(32)), toHex(encoded), "round trip of a canonical encoding");
      }
      // y ≥ p (y = p + y' for y' < 19) is accepted under ZIP-215 and means y'.
      for (let small = 0n; small < 19n; small++) {
        for (const sign of [0n, 1n]) {
          const encoded = bigToLe(P + small + (sign << 255n));
          let expected: string | undefined;
          try {
            expected = toHex(Point.fromBytes(encoded, true).toBytes());
          } catch {
            expected = undefined;
          }
          heap().set(encoded, kernel.publicKeyPtr());
          const decoded = kernel.pointNormalize() !== 0;
          assert.equal(decoded, expected !== undefined, `y = p + ${small}, sign ${sign}`);
          if (expected !== undefined) assert.equal(toHex(output(32)), expected, `y = p + ${small}, sign ${sign}`);
        }
      }
      // Random 32-byte strings: the kernel decodes exactly when noble (zip215) does.
      for (let i = 0; i < 200; i++) {
        const encoded = rng.bytes(32);
        let expected: string | undefined;
        try {
          expected = toHex(Point.fromBytes(encoded, true).toBytes());
        } catch {
          expected = undefined;
        }
        heap().set(encoded, kernel.publicKeyPtr());
        assert.equal(kernel.pointNormalize() !== 0, expected !== undefined, toHex(encoded));
        if (expected !== undefined) assert.equal(toHex(output(32)), expected);
      }
    });

    it("aggregates masked keys, points and scalars like noble's point arithmetic", () => {
      const small = new Ed25519Verifier({ flavor, keyCacheSize: 3 });
      for (let round = 0; round < 20; round++) {
        const count = 1 + (rng.nextU32() % 40);
        const points = Array.from({ length: count }, () => randomPoint(rng));
        const keys = points.map((point) => point.toBytes());
        const mask = rng.bytes(Math.ceil(count / 8));
        if (count % 8 !== 0) mask[mask.length - 1]! &= (1 << (count % 8)) - 1;
        let expected = Point.ZERO;
        points.forEach((point, index) => {
          if ((mask[index >> 3]! >> (index & 7)) & 1) expected = expected.add(point);
        });
        assert.equal(toHex(verifier.aggregateKeys(keys, mask)), toHex(expected.toBytes()), "aggregateKeys");
        assert.equal(toHex(small.aggregateKeys(keys, mask)), toHex(expected.toBytes()), "aggregateKeys, 3-entry cache");
        const all = points.reduce((sum, point) => sum.add(point), Point.ZERO);
        assert.equal(toHex(verifier.aggregatePoints(keys)), toHex(all.toBytes()), "aggregatePoints");
        const scalars = Array.from({ length: count }, () => rng.bytes(32));
        const sum = scalars.reduce((acc, scalar) => acc + leToBig(scalar), 0n) % L;
        assert.equal(leToBig(verifier.sumScalars(scalars)), sum, "sumScalars");
      }
      assert.equal(toHex(verifier.aggregateKeys([], new Uint8Array(0))), toHex(Point.ZERO.toBytes()), "empty sum is the identity");
      assert.equal(leToBig(verifier.sumScalars([])), 0n);
    });

    it("verifies a CoSi-style collective signature built from aggregated keys, commitments and responses", () => {
      const message = rng.bytes(77);
      const signers = 7;
      const secrets = Array.from({ length: signers }, () => mod(leToBig(rng.bytes(40)), L));
      const nonces = Array.from({ length: signers }, () => mod(leToBig(rng.bytes(40)), L));
      const keys = secrets.map((a) => Point.BASE.multiply(a).toBytes());
      const commitments = nonces.map((r) => Point.BASE.multiply(r).toBytes());
      const mask = Uint8Array.of(0b0011_0111); // signers 0, 1, 2, 4 and 5 take part
      const selected = [0, 1, 2, 4, 5];
      const aggregateKey = verifier.aggregateKeys(keys, mask);
      const aggregateCommitment = verifier.aggregatePoints(selected.map((i) => commitments[i]!));
      const challenge = leToBig(
        createHash("sha512").update(aggregateCommitment).update(aggregateKey).update(message).digest(),
      ) % L;
      const responses = selected.map((i) => bigToLe(mod(nonces[i]! + challenge * secrets[i]!, L)));
      const signature = new Uint8Array(64);
      signature.set(aggregateCommitment, 0);
      signature.set(verifier.sumScalars(responses), 32);
      assert.equal(verifier.verify(signature, message, aggregateKey), true, "kernel accepts the collective signature");
      assert.equal(ed25519.verify(signature, message, aggregateKey), true, "noble accepts it");
      const spki = Buffer.concat([fromHex("302a300506032b6570032100"), aggregateKey]);
      assert.equal(nodeVerify(null, message, createPublicKey({ key: spki, format: "der", type: "spki" }), signature), true);
      const missingSigner = verifier.sumScalars(responses.slice(1));
      signature.set(missingSigner, 32);
      assert.equal(verifier.verify(signature, message, aggregateKey), false, "a missing response is rejected");
    });

    it("keeps verdicts when the key cache is smaller than the working set", () => {
      const secrets = Array.from({ length: 9 }, () => ed25519.utils.randomSecretKey(rng.bytes(32)));
      const items: SignatureItem[] = secrets.flatMap((secret, index) =>
        [0, 1, 2].map((round) => {
          const message = rng.bytes(10 + round);
          const signature = ed25519.sign(message, secret);
          if ((index + round) % 4 === 0) signature[40]! ^= 4;
          return { signature, message, publicKey: ed25519.getPublicKey(secret) };
        }),
      );
      const expected = items.map((item) => ed25519.verify(item.signature, item.message, item.publicKey, { zip215: true }));
      for (const keyCacheSize of [0, 1, 2, 64]) {
        const bounded = new Ed25519Verifier({ flavor, keyCacheSize });
        assert.deepEqual(items.map((item) => bounded.verify(item.signature, item.message, item.publicKey)), expected, `single, cache ${keyCacheSize}`);
        assert.deepEqual(bounded.verifyBatch(items), expected, `batch, cache ${keyCacheSize}`);
      }
    });

    it("gives the same verdict on a key's first use (whole k) and later uses (k split in 32-bit parts)", () => {
      // Signatures by keys with a torsion component (A = aB + T, T of order 1…8) and with a
      // torsion component in R: valid under the cofactored ZIP-215 equation, often not without it.
      const torsion = ED25519_TORSION_SUBGROUP.map((encoded) => Point.fromBytes(fromHex(encoded), true));
      const cases: { signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array }[] = [];
      for (let i = 0; i < 24; i++) {
        const a = mod(leToBig(rng.bytes(40)), L - 1n) + 1n;
        const r = mod(leToBig(rng.bytes(40)), L - 1n) + 1n;
        const publicKey = Point.BASE.multiply(a).add(torsion[i % 8]!).toBytes();
        const commitment = Point.BASE.multiply(r).add(torsion[(i * 3) % 8]!).toBytes();
        const message = rng.bytes(i);
        const k = leToBig(createHash("sha512").update(commitment).update(publicKey).update(message).digest()) % L;
        const signature = new Uint8Array(64);
        signature.set(commitment, 0);
        signature.set(bigToLe(mod(r + k * a + BigInt(i % 3 === 2 ? 1 : 0), L)), 32); // every third is wrong
        cases.push({ signature, message, publicKey });
      }
      const expected = cases.map((c) => ed25519.verify(c.signature, c.message, c.publicKey, { zip215: true }));
      assert.ok(expected.includes(true) && expected.includes(false), "the cases mix valid and invalid signatures");
      const fresh = new Ed25519Verifier({ flavor });
      for (let use = 0; use < 3; use++) {
        assert.deepEqual(cases.map((c) => fresh.verify(c.signature, c.message, c.publicKey)), expected, `use ${use + 1}`);
      }
      assert.deepEqual(fresh.verifyBatch(cases), expected, "batch after the split tables exist");
    });

    it("names every bad item of a batch whose items share keys (merged A terms)", () => {
      const secrets = Array.from({ length: 3 }, () => ed25519.utils.randomSecretKey(rng.bytes(32)));
      const items: SignatureItem[] = Array.from({ length: 40 }, (_, index) => {
        const secret = secrets[index % 3]!;
        const message = rng.bytes(16);
        return { signature: ed25519.sign(message, secret), message, publicKey: ed25519.getPublicKey(secret) };
      });
      items.push({ ...items[7]! }); // the same signature twice
      const bad = new Set([0, 5, 6, 21, 39]);
      for (const index of bad) {
        const corrupted = Uint8Array.from(items[index]!.signature);
        corrupted[index % 2 === 0 ? 3 : 35]! ^= 0x10;
        items[index] = { ...items[index]!, signature: corrupted };
      }
      const expected = items.map((_, index) => !bad.has(index));
      for (const keyCacheSize of [0, 16]) {
        const batcher = new Ed25519Verifier({ flavor, keyCacheSize });
        assert.deepEqual(batcher.verifyBatch(items), expected, `cache ${keyCacheSize}`);
        assert.deepEqual(batcher.verifyBatch(items.filter((_, index) => !bad.has(index))).every(Boolean), true);
      }
    });

    it("verifies messages longer than the kernel's message buffer, singly and in a batch", () => {
      const secret = ed25519.utils.randomSecretKey(rng.bytes(32));
      const publicKey = ed25519.getPublicKey(secret);
      const items: SignatureItem[] = [16384, 16385, 50_000].map((length) => {
        const message = rng.bytes(length);
        return { signature: ed25519.sign(message, secret), message, publicKey };
      });
      const wrongMessage = Uint8Array.from(items[2]!.message);
      wrongMessage[40_000]! ^= 1;
      items.push({ ...items[2]!, message: wrongMessage });
      const expected = [true, true, true, false];
      assert.deepEqual(items.map((item) => verifier.verify(item.signature, item.message, item.publicKey)), expected);
      assert.deepEqual(verifier.verifyBatch(items), expected);
    });

    it("throws coded errors from aggregation on bad input", () => {
      const key = Point.BASE.toBytes();
      const notAPoint = bigToLe(2n); // y = 2: (y² − 1)/(d y² + 1) is not a square
      assert.throws(() => verifier.aggregatePoints([notAPoint]), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_POINT");
      assert.throws(() => verifier.aggregateKeys([key, notAPoint], Uint8Array.of(3)), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_POINT");
      assert.throws(() => verifier.aggregateKeys([key.subarray(1)], Uint8Array.of(1)), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_LENGTH");
      assert.throws(() => verifier.aggregateKeys([key], Uint8Array.of(2)), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_MASK");
      assert.throws(() => verifier.aggregateKeys([key], new Uint8Array(0)), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_MASK");
      assert.throws(() => verifier.sumScalars([new Uint8Array(31)]), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_LENGTH");
      assert.throws(() => new Ed25519Verifier({ flavor, keyCacheSize: -1 }), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_OPTION");
      const item = { signature: new Uint8Array(64), message: new Uint8Array(0), publicKey: key };
      assert.throws(() => verifier.verifyBatch([item], () => new Uint8Array(8)), (e: unknown) => e instanceof IosError && e.code === "ED25519_BAD_RANDOM");
      // A non-point key skipped by the mask is not an error.
      assert.equal(toHex(verifier.aggregateKeys([key, notAPoint], Uint8Array.of(1))), toHex(key));
    });
  });
}
