/**
 * The kernel's ristretto255 surface (src/crypto/ed25519.ts linearCombination, ristrettoDecode)
 * against @noble/curves on seeded random inputs: sums of up to 40 terms (past the kernel's
 * per-pass capacity), edge scalars, representatives that differ by torsion, the identity,
 * RFC 9496 §4.3.1 decoding of random and malformed strings, and bad input. Both WASM flavors.
 * Failing random cases print their seed; set IOS_TEST_SEED to replay one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519, ristretto255 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { defaultFlavor, type WasmFlavor } from "../../src/crypto/wasm.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { testSeed } from "../support/vectors.js";
import { codeOf } from "../support/errors.js";

type Ristretto = InstanceType<typeof ristretto255.Point>;
type Edwards = InstanceType<typeof ed25519.Point>;
const Point = ristretto255.Point;
const Fn = Point.Fn;
const Fp = Point.Fp;
const flavors: WasmFlavor[] = [defaultFlavor(), defaultFlavor() === "simd" ? "scalar" : "simd"];
const seed = testSeed("ed25519-ristretto");

/** X ‖ Y ‖ Z ‖ T of an edwards25519 point, scaled by `z` (another projective form of the same point). */
function coordinates(point: Edwards, z = 1n): Uint8Array {
  const { x, y } = point.toAffine();
  const out = new Uint8Array(128);
  [Fp.mul(x, z), Fp.mul(y, z), z, Fp.mul(Fp.mul(x, y), z)].forEach((c, i) => out.set(numberToBytesLE(c, 32), 32 * i));
  return out;
}

function representative(point: Ristretto): Edwards {
  const { x, y } = point.toAffine();
  return ed25519.Point.fromAffine({ x, y });
}

function edwardsOf(coords: Uint8Array): Edwards {
  const c = (i: number) => bytesToNumberLE(coords.subarray(32 * i, 32 * i + 32));
  return new ed25519.Point(c(0), c(1), c(2), c(3));
}

function randomScalar(rng: SeededRng): bigint {
  return Fn.create(bytesToNumberLE(rng.bytes(64)));
}

function randomPoint(rng: SeededRng): Ristretto {
  return Point.BASE.multiply(randomScalar(rng) || 1n);
}

/** Order-4 point (i, 0) with i = sqrt(−1), and order-2 point (0, −1): both are representatives of the identity. */
const SQRT_M1 = Fp.sqrt(Fp.neg(1n));
const TORSION_4 = ed25519.Point.fromAffine({ x: SQRT_M1, y: 0n });
const TORSION_2 = ed25519.Point.fromAffine({ x: 0n, y: Fp.neg(1n) });

for (const flavor of flavors) {
  describe(`ristretto255 on the kernel (${flavor})`, () => {
    const verifier = new Ed25519Verifier({ flavor });
    const combine = (points: readonly Edwards[], scalars: readonly bigint[], z?: bigint) =>
      verifier.linearCombination(points.map((p) => coordinates(p, z)), scalars.map((s) => Fn.toBytes(s)));

    it("sums of 0 to 40 random terms equal noble's, encoding and representative", () => {
      const rng = SeededRng.fromSeed(`${seed}/sums/${flavor}`);
      for (const count of [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 40]) {
        const points = Array.from({ length: count }, () => randomPoint(rng));
        const scalars = Array.from({ length: count }, () => randomScalar(rng));
        const expected = points.reduce((sum, p, i) => sum.add(p.multiplyUnsafe(scalars[i]!)), Point.ZERO);
        const z = Fp.create(bytesToNumberLE(rng.bytes(32))) || 1n;
        const sum = combine(points.map(representative), scalars, z);
        assert.deepEqual(sum.ristretto, expected.toBytes(), `${count} terms`);
        assert.ok(new Point(edwardsOf(sum.coordinates)).equals(expected), `${count} terms: coordinates`);
      }
    });

    it("multiplies by a secret scalar (multiplySecretPoint) as noble does: random and edge scalars, torsioned representatives, any Z", () => {
      const rng = SeededRng.fromSeed(`${seed}/secret/${flavor}`);
      const edges = [0n, 1n, 8n, Fn.ORDER - 1n, 2n ** 252n, 2n ** 252n - 1n, BigInt("0x08" + "88".repeat(31))];
      for (let trial = 0; trial < 24; trial++) {
        const p = trial === 0 ? Point.ZERO : randomPoint(rng);
        const s = trial < edges.length ? edges[trial]! : randomScalar(rng);
        const expected = s === 0n ? Point.ZERO : p.multiplyUnsafe(s);
        // Another representative of the same element (plus 2- or 4-torsion) in another projective form.
        const torsion = trial % 3 === 0 ? ed25519.Point.ZERO : trial % 3 === 1 ? TORSION_2 : TORSION_4;
        const z = Fp.create(bytesToNumberLE(rng.bytes(32))) || 1n;
        const product = verifier.multiplySecretPoint(coordinates(representative(p).add(torsion), z), Fn.toBytes(s));
        assert.deepEqual(product.ristretto, expected.toBytes(), `trial ${trial}: the encoding`);
        assert.ok(new Point(edwardsOf(product.coordinates)).equals(expected), `trial ${trial}: the coordinates`);
      }
      for (const bad of [new Uint8Array(31), numberToBytesLE(2n ** 253n, 32)]) assert.equal(codeOf(() => verifier.multiplySecretPoint(coordinates(ed25519.Point.BASE), bad)), "ED25519_BAD_LENGTH");
      assert.equal(codeOf(() => verifier.multiplySecretPoint(new Uint8Array(127), Fn.toBytes(1n))), "ED25519_BAD_LENGTH");
    });

    it("edge scalars 0, 1 and ℓ − 1, and the identity as a term", () => {
      const rng = SeededRng.fromSeed(`${seed}/edges/${flavor}`);
      const p = randomPoint(rng);
      const q = randomPoint(rng);
      const cases: [Ristretto[], bigint[], Ristretto][] = [
        [[p], [0n], Point.ZERO],
        [[p], [1n], p],
        [[p], [Fn.ORDER - 1n], p.negate()],
        [[p, p], [1n, Fn.ORDER - 1n], Point.ZERO],
        [[Point.ZERO, q], [randomScalar(rng), 5n], q.multiplyUnsafe(5n)],
      ];
      for (const [points, scalars, expected] of cases) {
        assert.deepEqual(combine(points.map(representative), scalars).ristretto, expected.toBytes());
      }
    });

    it("representatives that differ by 2- and 4-torsion encode as the same element", () => {
      const rng = SeededRng.fromSeed(`${seed}/torsion/${flavor}`);
      for (let round = 0; round < 16; round++) {
        const p = randomPoint(rng);
        const s = randomScalar(rng);
        const expected = p.multiplyUnsafe(s).toBytes();
        for (const torsion of [TORSION_2, TORSION_4, TORSION_4.negate(), TORSION_4.add(TORSION_2)]) {
          const shifted = representative(p).add(torsion);
          assert.deepEqual(combine([shifted], [s]).ristretto, expected);
          assert.deepEqual(combine([shifted], [1n]).ristretto, p.toBytes());
        }
      }
      for (const torsion of [TORSION_2, TORSION_4]) assert.deepEqual(combine([torsion], [1n]).ristretto, new Uint8Array(32));
    });

    it("decodes what noble decodes, to the same representative, and refuses what noble refuses", () => {
      const rng = SeededRng.fromSeed(`${seed}/decode/${flavor}`);
      let accepted = 0;
      let refused = 0;
      const check = (bytes: Uint8Array) => {
        let expected: Ristretto | undefined;
        try {
          expected = Point.fromBytes(bytes);
        } catch {
          expected = undefined;
        }
        const decoded = verifier.ristrettoDecode(bytes);
        if (expected === undefined) {
          assert.equal(decoded, undefined, Buffer.from(bytes).toString("hex"));
          refused++;
          return;
        }
        assert.ok(decoded !== undefined, Buffer.from(bytes).toString("hex"));
        assert.deepEqual(decoded.ristretto, bytes);
        assert.ok(edwardsOf(decoded.coordinates).equals(representative(expected)));
        accepted++;
      };
      for (let round = 0; round < 64; round++) check(randomPoint(rng).toBytes());
      for (let round = 0; round < 256; round++) {
        const bytes = rng.bytes(32);
        if (round % 2 === 0) bytes[0]! &= 0xfe;
        if (round % 4 < 3) bytes[31]! &= 0x7f;
        check(bytes);
      }
      check(new Uint8Array(32));
      // RFC 9496 §4.3.1 step 1–2 failures: s = p (non-canonical), s = 1 (negative), top bit set.
      check(numberToBytesLE(Fp.ORDER, 32));
      check(numberToBytesLE(1n, 32));
      const topBit = Point.BASE.toBytes();
      topBit[31]! |= 0x80;
      check(topBit);
      assert.ok(accepted >= 64 && refused >= 64, `${accepted} accepted, ${refused} refused`);
    });

    it("refuses malformed arguments with ED25519_BAD_LENGTH", () => {
      const point = coordinates(ed25519.Point.BASE);
      const one = Fn.toBytes(1n);
      const tooBig = new Uint8Array(32).fill(0xff);
      const cases: (() => unknown)[] = [
        () => verifier.linearCombination([point], []),
        () => verifier.linearCombination([point.subarray(0, 96)], [one]),
        () => verifier.linearCombination([point], [one.subarray(0, 31)]),
        () => verifier.linearCombination([point], [tooBig]),
        () => verifier.ristrettoDecode(new Uint8Array(31)),
      ];
      for (const call of cases) assert.equal(codeOf(call), "ED25519_BAD_LENGTH");
    });
  });
}
