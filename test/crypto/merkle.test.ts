/**
 * Merkle tests (src/crypto/merkle.ts) on both WASM builds, against a straightforward recursive
 * RFC 6962 §2.1 reference built on @noble/hashes: the Certificate Transparency root vectors, roots
 * and audit paths for every leaf of every size 1..130 (variable-size and packed leaves), trees
 * larger than the kernel's HASHES region and leaves larger than its INPUT region, tampered proofs,
 * the binary proof encoding, paths verified from views of their encoding against the copying
 * decoder (random trees, tampered paths and encodings, the RFC 6962 vectors), and bad input. Set
 * IOS_TEST_SEED to replay a failing seed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { ReferenceTree, concat, refLeafHash, refNodeHash, splitPoint, expectCode, flipBit } from "../support/reference-merkle.js";
import { IosError } from "../../src/errors.js";
import { Sha256Wasm } from "../../src/crypto/sha256.js";
import {
  MerkleWasm,
  decodeMerkleProof,
  encodeMerkleProof,
  merkleLeafHash,
  merklePathLength,
  merkleProof,
  merkleProofOfPackedLeaves,
  merkleRoot,
  merkleRootOfPackedLeaves,
  merkleTree,
  merkleTreeOfPackedLeaves,
  readMerkleProof,
  unpackMerkleProof,
  verifyMerkleProof,
  verifyPackedMerkleProof,
  type MerkleProof,
} from "../../src/crypto/merkle.js";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

const seed = testSeed("merkle");

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));





/** Sides of the siblings (true = left) of leaf m in a tree of n leaves: the shape of its path. */
function pathShape(m: number, n: number): boolean[] {
  if (n === 1) return [];
  const k = splitPoint(n);
  return m < k ? [...pathShape(m, k), false] : [...pathShape(m - k, n - k), true];
}

/** RFC 9162 §2.1.3.2 root computation, independent of the kernel, for the large-index test. */
function referenceRootFromPath(leafHash: Uint8Array, index: number, size: number, siblings: Uint8Array[]): Uint8Array {
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of siblings) {
    assert.notEqual(sn, 0);
    if (fn % 2 === 1 || fn === sn) {
      r = refNodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = refNodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  assert.equal(sn, 0);
  return r;
}


/** Distinct leaves (a swapped pair of equal leaves would verify at either index). */
function randomLeaves(rng: SeededRng, count: number, maxLength: number): Uint8Array[] {
  const seen = new Set<string>();
  const leaves: Uint8Array[] = [];
  while (leaves.length < count) {
    const leaf = rng.bytes(rng.nextU32() % (maxLength + 1));
    if (seen.has(hex(leaf))) continue;
    seen.add(hex(leaf));
    leaves.push(leaf);
  }
  return leaves;
}

function packed(leaves: readonly Uint8Array[]): Uint8Array {
  return concat(...leaves);
}

const MAX_SIZE = 130;
const rng = SeededRng.fromSeed(seed);
const variableTrees = Array.from({ length: MAX_SIZE }, (_, i) => new ReferenceTree(randomLeaves(rng, i + 1, 70)));
const txidTrees = Array.from(
  { length: MAX_SIZE },
  (_, i) => new ReferenceTree(Array.from({ length: i + 1 }, () => rng.bytes(32))),
);

/** Computes a fixture once, on first use, so both builds share its reference results. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** More leaves than HASHES holds (the capacity is the same for both builds). */
const chunkedFixture = once(() => {
  const chunk = new Sha256Wasm().hashCapacity;
  const count = chunk + 3;
  const data = rng.bytes(count * 32);
  const leaves = Array.from({ length: count }, (_, i) => data.subarray(i * 32, (i + 1) * 32));
  const reference = new ReferenceTree(leaves);
  // Roots are reduced in chunks of `chunk` leaves, kept trees in chunks of chunk / 2.
  const indexes = [0, 1, chunk / 2 - 1, chunk / 2, chunk - 1, chunk, chunk + 2];
  const paths = indexes.map((index) => reference.path(index).map(([s]) => hex(s)));
  // Nodes on both sides of the kept tree's chunk boundaries (chunk / 2 leaves), on every level.
  const nodes: { level: number; position: number; hash: string }[] = [];
  for (let level = 0, width = count; ; level++, width = Math.ceil(width / 2)) {
    const perChunk = Math.max(chunk / 2 / 2 ** level, 1);
    for (const position of new Set([0, perChunk - 1, perChunk, 2 * perChunk - 1, 2 * perChunk, width - 1])) {
      if (position < width) nodes.push({ level, position, hash: hex(reference.node(level, position)) });
    }
    if (width === 1) break;
  }
  return { chunk, data, leaves, root: hex(reference.root()), indexes, paths, nodes };
});

/** Leaves longer than INPUT (the capacity is the same for both builds). */
const longLeavesFixture = once(() => {
  const capacity = new Sha256Wasm().input.length;
  const leaves = [5, capacity + 3, 0, capacity / 2, capacity / 2 + 1, 7].map((length) => {
    const leaf = new Uint8Array(length);
    leaf.set(rng.bytes(Math.min(length, 4096)));
    if (length > 4096) leaf.set(rng.bytes(4096), length - 4096);
    return leaf;
  });
  const reference = new ReferenceTree(leaves);
  const packedLong = new Uint8Array(2 * (capacity + 1));
  packedLong.set(rng.bytes(4096), capacity - 100);
  const packedLeaves = [0, 1].map((i) => packedLong.subarray(i * (capacity + 1), (i + 1) * (capacity + 1)));
  return {
    capacity,
    leaves,
    root: hex(reference.root()),
    paths: leaves.map((_, index) => reference.path(index).map(([s]) => hex(s))),
    packedLong,
    packedRoot: hex(new ReferenceTree(packedLeaves).root()),
  };
});

function assertProofMatches(proof: MerkleProof, reference: ReferenceTree, index: number, label: string): void {
  assert.equal(proof.index, index, label);
  assert.equal(proof.size, reference.size, label);
  assert.deepEqual(proof.siblings.map(hex), reference.path(index).map(([s]) => hex(s)), label);
}

describe("Merkle: Certificate Transparency RFC 6962 vectors", () => {
  const file = readVectorFile<{ leaves: string[]; roots: { size: number; root: string }[] }>("merkle-rfc6962.json");
  const leaves = file.leaves.map(fromHex);
  for (const flavor of WASM_FLAVORS) {
    it(`roots of 0..8 leaves match (${flavor} build)`, () => {
      const merkle = new MerkleWasm(new Sha256Wasm(flavor));
      assert.equal(file.roots.length, 9);
      for (const { size, root } of file.roots) {
        assert.equal(hex(merkle.root(leaves.slice(0, size))), root, `size ${size}`);
        assert.equal(hex(new ReferenceTree(leaves.slice(0, size)).root()), root, `reference, size ${size}`);
      }
    });
  }
});

for (const flavor of WASM_FLAVORS) {
  describe(`Merkle kernel (${flavor} build)`, () => {
    const merkle = new MerkleWasm(new Sha256Wasm(flavor));
    const local = SeededRng.fromSeed(`${seed}/${flavor}`);
    // Proofs of variableTrees[n - 1], computed (and checked) by the first test that needs them.
    const proofCache = new Map<ReferenceTree, MerkleProof[]>();
    const proofsOf = (reference: ReferenceTree): MerkleProof[] => {
      let proofs = proofCache.get(reference);
      if (proofs === undefined) {
        proofs = reference.leaves.map((_, index) => merkle.proof(reference.leaves, index));
        proofs.forEach((proof, index) => assertProofMatches(proof, reference, index, `size ${reference.size}, index ${index}`));
        proofCache.set(reference, proofs);
      }
      return proofs;
    };

    it("leaf hash is SHA-256(0x00 ‖ data)", () => {
      for (const length of [0, 1, 31, 32, 55, 56, 63, 64, 65, 1000]) {
        const data = local.bytes(length);
        assert.equal(hex(merkle.leafHash(data)), hex(refLeafHash(data)));
      }
    });

    it("roots and audit paths of every leaf of every size 1..130 (variable-size leaves)", () => {
      for (const reference of variableTrees) {
        const leaves = reference.leaves;
        const root = merkle.root(leaves);
        assert.equal(hex(root), hex(reference.root()), `size ${reference.size}`);
        const proofs = proofsOf(reference);
        for (let index = 0; index < reference.size; index++) {
          const proof = proofs[index]!;
          assert.equal(proof.siblings.length, merklePathLength(index, reference.size));
          assert.ok(merkle.verify(leaves[index]!, proof, root), `verify size ${reference.size}, index ${index}`);
        }
      }
    });

    it("roots and audit paths of every leaf of every size 1..130 (packed 32-byte leaves)", () => {
      for (const reference of txidTrees) {
        const leaves = reference.leaves;
        const data = packed(leaves);
        const root = merkle.rootOfPackedLeaves(data, 32);
        assert.equal(hex(root), hex(reference.root()), `size ${reference.size}`);
        assert.equal(hex(merkle.root(leaves)), hex(root));
        for (let index = 0; index < reference.size; index++) {
          const proof = merkle.proofOfPackedLeaves(data, 32, index);
          assertProofMatches(proof, reference, index, `size ${reference.size}, index ${index}`);
          assert.ok(merkle.verify(leaves[index]!, proof, root));
        }
      }
    });

    it("a kept tree gives every audit path of sizes 1..130 without rehashing", () => {
      for (const reference of [...variableTrees, ...txidTrees]) {
        const tree = merkle.tree(reference.leaves);
        assert.equal(tree.size, reference.size);
        assert.equal(hex(tree.root), hex(reference.root()));
        for (let index = 0; index < reference.size; index++) {
          assertProofMatches(tree.proof(index), reference, index, `size ${reference.size}, index ${index}`);
        }
        assert.throws(() => tree.proof(reference.size), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      }
      const empty = merkle.tree([]);
      assert.equal(empty.size, 0);
      assert.equal(hex(empty.root), hex(nobleSha256(new Uint8Array(0))));
      assert.throws(() => empty.proof(0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
    });

    it("packed leaves of other sizes, across SHA-256 block boundaries", () => {
      for (const leafSize of [1, 31, 54, 55, 56, 63, 64, 118, 119, 120, 200]) {
        for (const count of [1, 2, 3, 4, 5, 7, 8, 9, 17, 33]) {
          const leaves = Array.from({ length: count }, () => local.bytes(leafSize));
          const reference = new ReferenceTree(leaves);
          const data = packed(leaves);
          const label = `${count} leaves of ${leafSize} bytes`;
          assert.equal(hex(merkle.rootOfPackedLeaves(data, leafSize)), hex(reference.root()), label);
          assert.equal(hex(merkle.root(leaves)), hex(reference.root()), `${label}, as a list`);
          const index = local.nextU32() % count;
          assertProofMatches(merkle.proofOfPackedLeaves(data, leafSize, index), reference, index, label);
        }
      }
    });

    it("leaf lists mixing runs of equal lengths with other lengths", () => {
      for (let round = 0; round < 40; round++) {
        const leaves: Uint8Array[] = [];
        while (leaves.length < 40 + (round % 13)) {
          const length = [0, 31, 32, 33, 64, 100][local.nextU32() % 6]!;
          const run = 1 + (local.nextU32() % 9);
          for (let i = 0; i < run; i++) leaves.push(local.bytes(length));
        }
        const reference = new ReferenceTree(leaves);
        assert.equal(hex(merkle.root(leaves)), hex(reference.root()), `round ${round}`);
        const index = local.nextU32() % leaves.length;
        assertProofMatches(merkle.proof(leaves, index), reference, index, `round ${round}`);
      }
    });

    it("rejects tampered proofs: leaf, sibling, index, sibling count", () => {
      for (const reference of variableTrees) {
        const leaves = reference.leaves;
        const n = reference.size;
        const root = reference.root();
        const proofs = proofsOf(reference);
        for (let index = 0; index < n; index++) {
          const proof = proofs[index]!;
          const leaf = leaves[index]!;
          const label = `size ${n}, index ${index}`;
          const tamperedLeaf = leaf.length === 0 ? Uint8Array.of(0) : flipBit(leaf, local.nextU32());
          assert.equal(merkle.verify(tamperedLeaf, proof, root), false, `leaf, ${label}`);
          assert.equal(merkle.verify(leaf, proof, flipBit(root, local.nextU32())), false, `root, ${label}`);
          if (proof.siblings.length > 0) {
            const which = local.nextU32() % proof.siblings.length;
            const siblings = proof.siblings.map((s, i) => (i === which ? flipBit(s, local.nextU32()) : s));
            assert.equal(merkle.verify(leaf, { ...proof, siblings }, root), false, `sibling ${which}, ${label}`);
            assert.equal(merkle.verify(leaf, { ...proof, siblings: proof.siblings.slice(1) }, root), false);
            assert.equal(merkle.verify(leaf, { ...proof, siblings: proof.siblings.slice(0, -1) }, root), false);
          }
          assert.equal(merkle.verify(leaf, { ...proof, siblings: [...proof.siblings, root] }, root), false);
          for (const other of [index - 1, index + 1]) {
            if (other < 0 || other >= n) continue;
            assert.equal(merkle.verify(leaf, { ...proof, index: other }, root), false, `index ${other}, ${label}`);
          }
          assert.equal(merkle.verify(leaf, { ...proof, index: n }, root), false, `index = size, ${label}`);
        }
      }
    });

    it("a changed size is rejected exactly when it changes the path's shape", () => {
      // The root alone does not commit to the size (RFC 9162 §2.1.3.2 takes it from the signed
      // tree head): a size with the same path shape yields the same root, any other is rejected.
      let rejected = 0;
      for (const reference of variableTrees) {
        const leaves = reference.leaves;
        const n = reference.size;
        const root = reference.root();
        const proofs = proofsOf(reference);
        for (let index = 0; index < n; index++) {
          const proof = proofs[index]!;
          for (const size of [n - 1, n + 1, 2 * n, n + 5]) {
            if (size <= index) continue;
            const sameShape = hex(Uint8Array.from(pathShape(index, size).map(Number))) ===
              hex(Uint8Array.from(pathShape(index, n).map(Number)));
            const accepted = merkle.verify(leaves[index]!, { ...proof, size }, root);
            assert.equal(accepted, sameShape, `size ${n} -> ${size}, index ${index}`);
            if (!accepted) rejected++;
          }
        }
      }
      assert.ok(rejected > 0);
    });

    it("trees larger than the kernel's hash region are computed in aligned chunks", () => {
      const fixture = chunkedFixture();
      assert.equal(fixture.chunk, merkle.sha.hashCapacity);
      const root = merkle.rootOfPackedLeaves(fixture.data, 32);
      assert.equal(hex(root), fixture.root);
      const tree = merkle.treeOfPackedLeaves(fixture.data, 32);
      assert.equal(hex(tree.root), fixture.root);
      assert.equal(tree.size, fixture.leaves.length);
      fixture.indexes.forEach((index, i) => {
        const proof = tree.proof(index);
        assert.deepEqual(proof.siblings.map(hex), fixture.paths[i], `index ${index}`);
        assert.ok(merkle.verify(fixture.leaves[index]!, proof, root));
      });
      const single = merkle.proofOfPackedLeaves(fixture.data, 32, fixture.indexes[3]!);
      assert.deepEqual(single.siblings.map(hex), fixture.paths[3]);
      assert.ok(fixture.nodes.length > 40);
      for (const { level, position, hash } of fixture.nodes) {
        assert.equal(hex(tree.node(level, position)), hash, `node ${position} of level ${level}`);
      }
    });

    it("a kept tree gives every node of every level, the MTH of the leaves below it (sizes 1..130)", () => {
      for (const reference of txidTrees) {
        const tree = merkle.treeOfPackedLeaves(packed(reference.leaves), 32);
        for (let level = 0, width = reference.size; ; level++, width = Math.ceil(width / 2)) {
          const label = `size ${reference.size}, level ${level}`;
          for (let position = 0; position < width; position++) {
            assert.equal(hex(tree.node(level, position)), hex(reference.node(level, position)), `${label}, node ${position}`);
          }
          assert.throws(() => tree.node(level, width), expectCode("MERKLE_INDEX_OUT_OF_RANGE"), label);
          if (width === 1) {
            assert.equal(hex(tree.node(level, 0)), hex(tree.root), label);
            assert.throws(() => tree.node(level + 1, 0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"), `above the root, ${label}`);
            break;
          }
        }
        assert.throws(() => tree.node(-1, 0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
        assert.throws(() => tree.node(0, -1), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
        assert.throws(() => tree.node(0.5, 0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      }
      assert.throws(() => merkle.tree([]).node(0, 0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
    });

    it("leaf hashes of packed leaves, in batches of at most what HASHES holds, and of leaves longer than INPUT", () => {
      for (const leafSize of [1, 32, 33, 100]) {
        for (const count of [0, 1, 4, 5, 9]) {
          const leaves = Array.from({ length: count }, () => local.bytes(leafSize));
          const expected = concat(...leaves.map(refLeafHash));
          assert.equal(hex(merkle.leafHashesOfPackedLeaves(packed(leaves), leafSize)), hex(expected), `${count} leaves of ${leafSize} bytes`);
        }
      }
      const chunked = chunkedFixture();
      const leafHashes = merkle.leafHashesOfPackedLeaves(chunked.data, 32);
      assert.equal(hex(leafHashes), hex(merkle.rootAndLeafHashes(chunked.leaves).leafHashes));
      for (const index of [0, chunked.chunk - 1, chunked.chunk, chunked.leaves.length - 1]) {
        assert.equal(hex(leafHashes.subarray(index * 32, (index + 1) * 32)), hex(refLeafHash(chunked.leaves[index]!)), `leaf ${index}`);
      }
      const long = longLeavesFixture();
      const size = long.capacity + 1;
      const longHashes = merkle.leafHashesOfPackedLeaves(long.packedLong, size);
      assert.equal(hex(longHashes), hex(concat(refLeafHash(long.packedLong.subarray(0, size)), refLeafHash(long.packedLong.subarray(size)))));
      assert.throws(() => merkle.leafHashesOfPackedLeaves(new Uint8Array(33), 32), expectCode("MERKLE_BAD_LEAF_SIZE"));
    });

    it("leaf hashes kept from a root give the roots of subsets and reorderings without the leaves (sizes 0..130 and past HASHES)", () => {
      const chunked = chunkedFixture();
      for (const leaves of [[], ...variableTrees.map((t) => t.leaves), chunked.leaves, longLeavesFixture().leaves]) {
        const { root, leafHashes } = merkle.rootAndLeafHashes(leaves);
        assert.equal(hex(root), hex(new ReferenceTree(leaves).root()), `size ${leaves.length}`);
        assert.equal(leafHashes.length, leaves.length * 32);
        leaves.forEach((leaf, i) => assert.equal(hex(leafHashes.subarray(i * 32, (i + 1) * 32)), hex(refLeafHash(leaf)), `leaf ${i} of ${leaves.length}`));
        assert.equal(hex(merkle.rootOfLeafHashes(leafHashes)), hex(root));
        // A final block's body: some of the leaves, in another order.
        const picked = leaves.map((_, i) => i).filter((i) => i % 3 !== 1).reverse();
        const packed = new Uint8Array(picked.length * 32);
        picked.forEach((i, k) => packed.set(leafHashes.subarray(i * 32, (i + 1) * 32), k * 32));
        assert.equal(hex(merkle.rootOfLeafHashes(packed)), hex(new ReferenceTree(picked.map((i) => leaves[i]!)).root()), `subset of ${leaves.length}`);
      }
      assert.throws(() => merkle.rootOfLeafHashes(new Uint8Array(33)), expectCode("MERKLE_BAD_LEAF_SIZE"));
    });

    it("leaves larger than the kernel's input region are streamed", () => {
      const fixture = longLeavesFixture();
      assert.equal(fixture.capacity, merkle.sha.input.length);
      const root = merkle.root(fixture.leaves);
      assert.equal(hex(root), fixture.root);
      fixture.leaves.forEach((leaf, index) => {
        const proof = merkle.proof(fixture.leaves, index);
        assert.deepEqual(proof.siblings.map(hex), fixture.paths[index], `index ${index}`);
        assert.ok(merkle.verify(leaf, proof, root));
      });
      assert.equal(hex(merkle.rootOfPackedLeaves(fixture.packedLong, fixture.capacity + 1)), fixture.packedRoot);
    });

    it("verifies paths in trees of up to 2^32 - 1 leaves", () => {
      for (const [index, size] of [
        [0xffff_fffe, 0xffff_ffff],
        [0x8000_0000, 0xffff_ffff],
        [0x7fff_ffff, 0x8000_0001],
        [0, 0xffff_ffff],
        [0xffff_fffd, 0xffff_fffe],
      ] as const) {
        const leaf = local.bytes(40);
        const siblings = Array.from({ length: merklePathLength(index, size) }, () => local.bytes(32));
        const root = referenceRootFromPath(refLeafHash(leaf), index, size, siblings);
        const proof = { index, size, siblings };
        assert.ok(merkle.verify(leaf, proof, root), `index ${index}, size ${size}`);
        assert.deepEqual(decodeMerkleProof(encodeMerkleProof(proof)), proof);
        assert.equal(merkle.verify(leaf, { ...proof, siblings: siblings.slice(1) }, root), false);
      }
    });

    it("rejects bad input with a code", () => {
      const leaves = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)];
      assert.throws(() => merkle.proof(leaves, 3), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      assert.throws(() => merkle.proof(leaves, -1), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      assert.throws(() => merkle.proof(leaves, 1.5), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      assert.throws(() => merkle.proof([], 0), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      assert.throws(() => merkle.proofOfPackedLeaves(new Uint8Array(64), 32, 2), expectCode("MERKLE_INDEX_OUT_OF_RANGE"));
      assert.throws(() => merkle.rootOfPackedLeaves(new Uint8Array(33), 32), expectCode("MERKLE_BAD_LEAF_SIZE"));
      assert.throws(() => merkle.rootOfPackedLeaves(new Uint8Array(32), 0), expectCode("MERKLE_BAD_LEAF_SIZE"));
      assert.throws(() => merkle.rootOfPackedLeaves(new Uint8Array(32), 2.5), expectCode("MERKLE_BAD_LEAF_SIZE"));
      assert.throws(() => merkle.root([Uint8Array.of(1), "x" as unknown as Uint8Array]), expectCode("MERKLE_BAD_INPUT"));
      assert.throws(() => merkle.root("abc" as unknown as Uint8Array[]), expectCode("MERKLE_BAD_INPUT"));
      assert.throws(() => merkle.leafHash(null as unknown as Uint8Array), expectCode("MERKLE_BAD_INPUT"));
      const root = merkle.root(leaves);
      const proof = merkle.proof(leaves, 1);
      assert.throws(() => merkle.verify(leaves[1]!, proof, root.subarray(1)), expectCode("MERKLE_BAD_INPUT"));
      const shortSibling = { ...proof, siblings: [proof.siblings[0]!.subarray(1), ...proof.siblings.slice(1)] };
      assert.throws(() => merkle.verify(leaves[1]!, shortSibling, root), expectCode("MERKLE_BAD_INPUT"));
      assert.throws(() => merkle.verify(leaves[1]!, { ...proof, index: -1 }, root), expectCode("MERKLE_BAD_INPUT"));
      assert.throws(() => merkle.verify(leaves[1]!, { ...proof, size: 0 }, root), expectCode("MERKLE_BAD_INPUT"));
      assert.equal(merkle.verify(leaves[1]!, { ...proof, size: 2 ** 32 }, root), false);
      assert.equal(hex(merkle.root([])), hex(nobleSha256(new Uint8Array(0))));
      assert.equal(hex(merkle.rootOfPackedLeaves(new Uint8Array(0), 32)), hex(nobleSha256(new Uint8Array(0))));
    });
  });
}

describe("Merkle proof encoding", () => {
  const reference = variableTrees[129]!;
  const leaves = reference.leaves;

  it("round-trips every proof of a 130-leaf tree, and the decoded proof verifies", () => {
    const root = merkleRoot(leaves);
    for (let index = 0; index < leaves.length; index++) {
      const proof = merkleProof(leaves, index);
      const decoded = decodeMerkleProof(encodeMerkleProof(proof));
      assert.deepEqual(decoded, proof);
      assert.ok(verifyMerkleProof(leaves[index]!, decoded, root));
    }
  });

  it("is uleb128(size) ‖ uleb128(index) ‖ siblings", () => {
    const proof = merkleProof(leaves, 5);
    const bytes = encodeMerkleProof(proof);
    assert.deepEqual([...bytes.subarray(0, 3)], [0x82, 0x01, 0x05]);
    assert.equal(bytes.length, 3 + 32 * proof.siblings.length);
    assert.deepEqual(bytes.subarray(3), concat(...proof.siblings));
  });

  it("decodes strictly", () => {
    const proof = merkleProof(leaves, 5);
    const bytes = encodeMerkleProof(proof);
    const bad = (input: Uint8Array, what: string) =>
      assert.throws(() => decodeMerkleProof(input), expectCode("MERKLE_BAD_PROOF_ENCODING"), what);
    bad(new Uint8Array(0), "empty");
    bad(Uint8Array.of(0x82), "truncated size");
    bad(Uint8Array.of(0x82, 0x01), "missing index");
    bad(Uint8Array.of(0x00), "size 0");
    bad(Uint8Array.of(0x81, 0x00, 0x00), "non-minimal size");
    bad(concat(Uint8Array.of(0x82, 0x01, 0x85, 0x00), bytes.subarray(3)), "non-minimal index");
    bad(Uint8Array.of(0x82, 0x01, 0x82, 0x01), "index = size");
    bad(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10, 0x00), "size 2^32");
    bad(Uint8Array.of(0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00), "six-byte size");
    bad(concat(bytes, Uint8Array.of(0)), "trailing byte");
    bad(bytes.subarray(0, bytes.length - 1), "truncated sibling");
    bad(bytes.subarray(0, bytes.length - 32), "missing sibling");
    bad([1, 0] as unknown as Uint8Array, "not bytes");
    assert.deepEqual(decodeMerkleProof(Uint8Array.of(0x01, 0x00)), { index: 0, size: 1, siblings: [] });
  });

  it("refuses to encode an inconsistent proof", () => {
    const proof = merkleProof(leaves, 5);
    assert.throws(() => encodeMerkleProof({ ...proof, siblings: proof.siblings.slice(1) }), expectCode("MERKLE_BAD_PROOF"));
    assert.throws(() => encodeMerkleProof({ ...proof, index: 130 }), expectCode("MERKLE_BAD_PROOF"));
    assert.throws(() => encodeMerkleProof({ ...proof, size: 2 ** 32 }), expectCode("MERKLE_BAD_PROOF"));
    assert.throws(
      () => encodeMerkleProof({ ...proof, siblings: [new Uint8Array(31), ...proof.siblings.slice(1)] }),
      expectCode("MERKLE_BAD_INPUT"),
    );
  });
});

describe("Merkle module-level functions", () => {
  it("agree with the reference on the default instance", () => {
    const reference = txidTrees[99]!;
    const leaves = reference.leaves;
    const data = packed(leaves);
    assert.equal(hex(merkleRoot(leaves)), hex(reference.root()));
    assert.equal(hex(merkleRootOfPackedLeaves(data, 32)), hex(reference.root()));
    assert.equal(hex(merkleLeafHash(leaves[3]!)), hex(refLeafHash(leaves[3]!)));
    const proof = merkleProofOfPackedLeaves(data, 32, 42);
    assertProofMatches(proof, reference, 42, "index 42");
    assertProofMatches(merkleTree(leaves).proof(42), reference, 42, "tree, index 42");
    assertProofMatches(merkleTreeOfPackedLeaves(data, 32).proof(7), reference, 7, "packed tree, index 7");
    assert.ok(verifyMerkleProof(leaves[42]!, proof, reference.root()));
  });
});

describe("Merkle paths verified from views (readMerkleProof, verifyPackedMerkleProof) against the copying decoder", () => {
  const rng = SeededRng.fromSeed(`${seed}/packed`);
  const below = (n: number): number => rng.nextU32() % n;
  /** Both readings of one encoding: the same verdict on the same leaf and root, or the same code. */
  const agree = (encoding: Uint8Array, leaf: Uint8Array, root: Uint8Array, label: string): boolean => {
    let copied: MerkleProof | undefined;
    let copiedCode: string | undefined;
    try {
      copied = decodeMerkleProof(encoding);
    } catch (error) {
      copiedCode = (error as IosError<string>).code;
    }
    if (copied === undefined) {
      assert.throws(() => readMerkleProof(encoding), (error: unknown) => (error as IosError<string>).code === copiedCode, label);
      return false;
    }
    const packed = readMerkleProof(encoding);
    assert.equal(packed.siblings.buffer, encoding.buffer, `${label}: siblings are a view of the encoding`);
    assert.deepEqual(unpackMerkleProof(packed), copied, label);
    const verdict = verifyMerkleProof(leaf, copied, root);
    assert.equal(verifyPackedMerkleProof(leaf, packed, root), verdict, label);
    return verdict;
  };

  it("agree on every path of random trees, and on tampered paths, leaves, roots and encodings", () => {
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < 60; round++) {
      const size = 1 + below(300);
      const leaves = Array.from({ length: size }, () => rng.bytes(below(80)));
      const root = merkleRoot(leaves);
      const index = below(size);
      const encoding = encodeMerkleProof(merkleProof(leaves, index));
      if (agree(encoding, leaves[index]!, root, `size ${size}, index ${index}`)) accepted++;
      const tampered = encoding.slice();
      tampered[below(tampered.length)]! ^= 1 << below(8);
      if (!agree(tampered, leaves[index]!, root, `size ${size}, index ${index}, a flipped bit`)) refused++;
      if (!agree(encoding, leaves[(index + 1) % size]!.length === leaves[index]!.length && size > 1 ? rng.bytes(7) : leaves[(index + 1) % size]!, root, "another leaf") || size === 1) refused++;
      if (!agree(encoding, leaves[index]!, rng.bytes(32), "another root")) refused++;
      agree(encoding.subarray(0, below(encoding.length)), leaves[index]!, root, "a truncated encoding");
      agree(Uint8Array.from([...encoding, below(256)]), leaves[index]!, root, "a trailing byte");
      // A path inside a larger buffer (as in a proof's frame): the view starts past offset 0.
      const framed = new Uint8Array(encoding.length + 9);
      framed.set(encoding, 5);
      assert.equal(agree(framed.subarray(5, 5 + encoding.length), leaves[index]!, root, "a framed encoding"), true);
    }
    assert.equal(accepted, 60);
    assert.ok(refused >= 150, `${refused} tampered cases refused`);
  });

  it("agree on every path of the RFC 6962 vectors' trees", () => {
    const file = readVectorFile<{ leaves: string[]; roots: { size: number; root: string }[] }>("merkle-rfc6962.json");
    const leaves = file.leaves.map(fromHex);
    for (const { size, root } of file.roots) {
      for (let index = 0; index < size; index++) {
        const encoding = encodeMerkleProof(merkleProof(leaves.slice(0, size), index));
        assert.equal(agree(encoding, leaves[index]!, fromHex(root), `size ${size}, index ${index}`), true);
        assert.equal(agree(encoding, leaves[(index + 1) % leaves.length]!, fromHex(root), `size ${size}, index ${index}, the next leaf`), false);
      }
    }
  });

  it("refuse malformed packed paths with a code", () => {
    const leaves = [Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)];
    const root = merkleRoot(leaves);
    const packed = readMerkleProof(encodeMerkleProof(merkleProof(leaves, 1)));
    assert.throws(() => verifyPackedMerkleProof(leaves[1]!, { ...packed, siblings: packed.siblings.subarray(1) }, root), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => verifyPackedMerkleProof(leaves[1]!, { ...packed, index: -1 }, root), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => verifyPackedMerkleProof(leaves[1]!, { ...packed, size: 0 }, root), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => verifyPackedMerkleProof(leaves[1]!, packed, root.subarray(1)), expectCode("MERKLE_BAD_INPUT"));
    assert.equal(verifyPackedMerkleProof(leaves[1]!, { ...packed, size: 2 ** 32 }, root), false);
    assert.equal(verifyPackedMerkleProof(leaves[1]!, { ...packed, siblings: packed.siblings.subarray(32) }, root), false);
  });
});
