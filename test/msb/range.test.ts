/**
 * Range proofs (src/msb/range.ts) against an independent RFC 6962 reference (fixtures.ts, on
 * @noble/hashes) and the kernel's full tree: for random sizes 1..2000 and random ranges, the proof
 * holds exactly the maximal subtrees outside the range (each the reference MTH of its leaves, a
 * single leaf's the same set as its audit path), recomputes the full tree's root, and every
 * mutation fails with a code: a flipped bit in any hash or leaf, a missing or extra hash, another
 * size or start, and malformed ranges. Set IOS_TEST_SEED to replay.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { UTXO_ENTRY } from "../../src/codec/sizes.js";
import { merkleRootOfPackedLeaves, merkleTreeOfPackedLeaves } from "../../src/crypto/merkle.js";
import { toHex } from "../../src/hex.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { checkRange, proveRange, proveRangeOfPackedLeaves, rangeProofLength, rootOfRange, verifyRange } from "../../src/msb/range.js";
import { NO_ERROR, codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";
import { entriesOf, randomEntries, referenceRoot } from "./fixtures.js";

const seed = testSeed("msb range");
const ENTRY = UTXO_ENTRY.bytes;

function randomRange(rng: SeededRng, size: number): [number, number] {
  const start = Math.floor(rng.nextFloat() * size);
  const end = start + 1 + Math.floor(rng.nextFloat() * (size - start));
  return [start, end];
}

describe("MSB range proofs", () => {
  it("prove the maximal outside subtrees and recompute the full tree's root (random sizes 1..2000, random ranges)", () => {
    const rng = SeededRng.fromSeed(`${seed}/differential`);
    for (let round = 0; round < 40; round++) {
      const size = 1 + Math.floor(rng.nextFloat() * 2000);
      const data = randomEntries(rng, size);
      const leaves = entriesOf(data);
      const root = referenceRoot(leaves);
      assert.deepEqual(merkleRootOfPackedLeaves(data, ENTRY), root, `kernel root of ${size}`);
      for (let r = 0; r < 5; r++) {
        const [start, end] = randomRange(rng, size);
        const seen: Array<[number, number]> = [];
        const hashes = proveRange(size, start, end, (from, to) => {
          seen.push([from, to]);
          return referenceRoot(leaves.slice(from, to));
        });
        assert.deepEqual(proveRangeOfPackedLeaves(data, ENTRY, start, end), hashes, `kernel and reference proofs of [${start}, ${end}) of ${size}`);
        // The subtrees cover exactly the leaves outside the range, left to right, without overlap.
        const covered = seen.flatMap(([from, to]) => Array.from({ length: to - from }, (_, i) => from + i));
        const outside = Array.from({ length: size }, (_, i) => i).filter((i) => i < start || i >= end);
        assert.deepEqual(covered, outside, `[${start}, ${end}) of ${size}`);
        assert.ok(hashes.length <= 2 * Math.ceil(Math.log2(size)), `at most two hashes per level (${hashes.length} for ${size})`);
        assert.equal(rangeProofLength(size, start, end), hashes.length);
        assert.deepEqual(rootOfRange(size, start, data.subarray(start * ENTRY, end * ENTRY), ENTRY, hashes), root);
        assert.equal(codeOf(() => verifyRange(root, size, start, data.subarray(start * ENTRY, end * ENTRY), ENTRY, hashes)), NO_ERROR);
      }
    }
  });

  it("for one leaf, hold the same hashes as the kernel tree's audit path; the whole tree needs none", () => {
    const rng = SeededRng.fromSeed(`${seed}/single`);
    for (const size of [1, 2, 3, 7, 8, 9, 100, 1023, 1025]) {
      const data = randomEntries(rng, size);
      const tree = merkleTreeOfPackedLeaves(data, ENTRY);
      for (const index of new Set([0, size - 1, Math.floor(size / 2), Math.floor(rng.nextFloat() * size)])) {
        const hashes = proveRangeOfPackedLeaves(data, ENTRY, index, index + 1);
        assert.deepEqual(hashes.map(toHex).sort(), tree.proof(index).siblings.map(toHex).sort(), `leaf ${index} of ${size}`);
      }
      assert.deepEqual(proveRangeOfPackedLeaves(data, ENTRY, 0, size), []);
      assert.deepEqual(rootOfRange(size, 0, data, ENTRY, []), tree.root);
    }
  });

  it("fail with a code for every flipped bit, a missing or extra hash, another size or start", () => {
    const rng = SeededRng.fromSeed(`${seed}/mutations`);
    for (const size of [2, 5, 64, 333, 1000]) {
      const data = randomEntries(rng, size);
      const root = merkleRootOfPackedLeaves(data, ENTRY);
      const [start, end] = size === 2 ? [1, 2] : [Math.floor(size / 3), Math.floor(size / 3) + Math.max(1, Math.floor(size / 5))];
      const leaves = data.slice(start * ENTRY, end * ENTRY);
      const hashes = proveRangeOfPackedLeaves(data, ENTRY, start, end);
      const verify = (l: Uint8Array, h: readonly Uint8Array[], n = size, s = start) => codeOf(() => verifyRange(root, n, s, l, ENTRY, h));
      assert.equal(verify(leaves, hashes), NO_ERROR);
      hashes.forEach((hash, i) => {
        for (let bit = 0; bit < 256; bit += 7) {
          const flipped = hash.slice();
          flipped[bit >> 3] ^= 1 << (bit & 7);
          assert.equal(verify(leaves, hashes.map((h, j) => (j === i ? flipped : h))), "MSB_BAD_PROOF", `hash ${i} bit ${bit}`);
        }
      });
      for (let bit = 0; bit < leaves.length * 8; bit += 97) {
        const flipped = leaves.slice();
        flipped[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(verify(flipped, hashes), "MSB_BAD_PROOF", `leaf bit ${bit}`);
      }
      if (hashes.length > 0) {
        assert.equal(verify(leaves, hashes.slice(1)), "MSB_BAD_PROOF", "a missing hash");
        if (hashes.length > 1) assert.equal(verify(leaves, [...hashes].reverse()), "MSB_BAD_PROOF", "hashes out of order");
      }
      assert.equal(verify(leaves, [...hashes, root]), "MSB_BAD_PROOF", "an extra hash");
      const longer = new Uint8Array([...data, ...randomEntries(rng, 1)]);
      assert.equal(verify(leaves, proveRangeOfPackedLeaves(longer, ENTRY, start, end)), "MSB_BAD_PROOF", "the proof of a tree one leaf longer");
      for (let other = end; other <= 2 * size; other += 1 + (other % 5)) {
        if (other !== size && rangeProofLength(other, start, end) !== hashes.length) assert.equal(verify(leaves, hashes, other), "MSB_BAD_PROOF", `size ${other}`);
      }
      if (start > 0) assert.equal(verify(leaves, hashes, size, start - 1), "MSB_BAD_PROOF", "another start");
      if (end - start > 1) assert.equal(verify(leaves.subarray(ENTRY), hashes, size, start + 1), "MSB_BAD_PROOF", "a leaf dropped from the front");
    }
  });

  it("refuse empty, reversed and out-of-tree ranges with MSB_BAD_RANGE", () => {
    for (const [size, start, end] of [[10, 3, 3], [10, 4, 3], [10, -1, 2], [10, 0, 11], [10, 10, 11], [0, 0, 1], [10, 0.5, 2], [2 ** 32, 0, 1]] as const) {
      assert.equal(codeOf(() => checkRange(size, start, end)), "MSB_BAD_RANGE", `[${start}, ${end}) of ${size}`);
      assert.equal(codeOf(() => proveRange(size, start, end, () => new Uint8Array(32))), "MSB_BAD_RANGE");
    }
    const data = randomEntries(SeededRng.fromSeed(`${seed}/bad`), 4);
    assert.equal(codeOf(() => rootOfRange(4, 3, data.subarray(0, 2 * ENTRY), ENTRY, [])), "MSB_BAD_RANGE", "leaves past the tree's end");
    assert.equal(codeOf(() => rootOfRange(4, 0, new Uint8Array(0), ENTRY, [])), "MSB_BAD_RANGE", "no leaves");
    assert.equal(codeOf(() => rootOfRange(4, 0, data.subarray(0, ENTRY + 1), ENTRY, [])), "MSB_BAD_INPUT", "a partial leaf");
  });
});
