/**
 * Multiproof tests (src/crypto/merkle-multiproof.ts). The references are built on @noble/hashes.
 * A tree node is the RFC 6962 §2.1 MTH of the leaves below it. The proof nodes come from the
 * canonical form's definition: on each level, the siblings of the leaves' ancestors that are not
 * ancestors themselves, in ascending order. The root is computed from those positions.
 * Covered: the Certificate Transparency vectors (one index = the audit path, every subset gives
 * the vector's root); random trees of sizes 1..300 (proofs from the tree and from the paths, node
 * counts, roots, verification, encoding); a tree past the kernel's HASHES region; the edges of
 * batching a level's node hashes into one kernel call (levels of promoted nodes only, one pair,
 * pair counts around the 4 SIMD lanes, a level of more pairs than one call takes); sizes up to
 * 2^32 - 1 without a tree; every malformed form with its code; and tampered proofs. Set
 * IOS_TEST_SEED to replay a failing seed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ReferenceTree, concat, refLeafHash, refNodeHash, expectCode, flipBit } from "../support/reference-merkle.js";
import { Sha256Wasm } from "../../src/crypto/sha256.js";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import {
  MERKLE_MAX_LEAVES,
  encodeMerkleProof,
  merkleLeafHash,
  merklePathLength,
  merkleProof,
  merkleTree,
  merkleTreeOfPackedLeaves,
  readMerkleProof,
  verifyPackedMerkleProof,
  type MerkleTree,
  type PackedMerkleProof,
} from "../../src/crypto/merkle.js";
import {
  encodeMerkleMultiproof,
  merkleMultiproofNodeCount,
  merkleMultiproofOfPaths,
  merkleMultiproofOfTree,
  merkleRootOfMultiproof,
  readMerkleMultiproof,
  verifyMerkleMultiproof,
  type MerkleMultiproof,
} from "../../src/crypto/merkle-multiproof.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

const seed = testSeed("merkle-multiproof");
const rng = SeededRng.fromSeed(seed);
const below = (n: number): number => rng.nextU32() % n;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));


const hashAt = (packed: Uint8Array, i: number): Uint8Array => packed.subarray(i * 32, (i + 1) * 32);
const siblingOf = (position: number): number => (position % 2 === 0 ? position + 1 : position - 1);




/**
 * The canonical proof nodes' [level, position], from the definition: on each level, the siblings
 * of the leaves' ancestors that are on the level and are no ancestor themselves, ascending.
 */
function referenceNodePositions(size: number, indices: readonly number[]): [number, number][] {
  const positions: [number, number][] = [];
  for (let level = 0, width = size; width > 1; level++, width = Math.ceil(width / 2)) {
    const ancestors = new Set(indices.map((index) => Math.floor(index / 2 ** level)));
    const needed = new Set([...ancestors].map(siblingOf).filter((q) => q < width && !ancestors.has(q)));
    for (const q of [...needed].sort((a, b) => a - b)) positions.push([level, q]);
  }
  return positions;
}

/** The root from the leaf hashes and nodes placed at the reference positions, one level at a time. */
function referenceRoot(size: number, indices: readonly number[], leafHashes: Uint8Array, nodes: Uint8Array): Uint8Array {
  const placed = referenceNodePositions(size, indices);
  assert.equal(nodes.length, placed.length * 32);
  let known = new Map(indices.map((index, i) => [index, hashAt(leafHashes, i)]));
  for (let level = 0, width = size; width > 1; level++, width = Math.ceil(width / 2)) {
    placed.forEach(([l, q], i) => l === level && known.set(q, hashAt(nodes, i)));
    const parents = new Map<number, Uint8Array>();
    for (const p of [...known.keys()].sort((a, b) => a - b)) {
      const parent = Math.floor(p / 2);
      if (parents.has(parent)) continue;
      const left = known.get(2 * parent);
      const right = known.get(2 * parent + 1);
      assert.ok(left !== undefined && (right !== undefined || 2 * parent + 1 >= width), `level ${level}, node ${p}`);
      parents.set(parent, right === undefined ? left : refNodeHash(left, right));
    }
    known = parents;
  }
  return known.get(0)!;
}

/** Each path packed as `readMerkleProof` reads it from its encoding. */
const packedPaths = (tree: MerkleTree, indices: readonly number[]): PackedMerkleProof[] =>
  indices.map((index) => readMerkleProof(encodeMerkleProof(tree.proof(index))));

/** Strictly ascending random indices below `size`, each in with probability `density`, at least one. */
function randomIndices(size: number, density: number): number[] {
  const indices = Array.from({ length: size }, (_, i) => i).filter(() => rng.nextU32() / 2 ** 32 < density);
  return indices.length > 0 ? indices : [below(size)];
}

describe("Merkle multiproofs: Certificate Transparency RFC 6962 vectors", () => {
  const file = readVectorFile<{ leaves: string[]; roots: { size: number; root: string }[] }>("merkle-rfc6962.json");
  const vectorLeaves = file.leaves.map(fromHex);
  const trees = file.roots.filter(({ size }) => size > 0);

  it("one index: the multiproof is the leaf's RFC 6962 §2.1.1 audit path, and gives the vector's root", () => {
    assert.equal(trees.length, 8);
    for (const { size, root } of trees) {
      const leaves = vectorLeaves.slice(0, size);
      const tree = merkleTree(leaves);
      const reference = new ReferenceTree(leaves);
      for (let index = 0; index < size; index++) {
        const label = `size ${size}, index ${index}`;
        const nodes = merkleMultiproofOfTree(tree, [index]);
        assert.equal(hex(nodes), hex(concat(...reference.path(index).map(([sibling]) => sibling))), label);
        assert.equal(hex(nodes), hex(concat(...merkleProof(leaves, index).siblings)), label);
        assert.equal(merkleMultiproofNodeCount(size, [index]), merklePathLength(index, size), label);
        assert.equal(hex(merkleMultiproofOfPaths(size, packedPaths(tree, [index]))), hex(nodes), label);
        assert.equal(hex(merkleRootOfMultiproof(size, [index], merkleLeafHash(leaves[index]!), nodes)), root, label);
        // The root of the next leaf at this index is another.
        const other = merkleLeafHash(vectorLeaves[(index + 1) % vectorLeaves.length]!);
        assert.notEqual(hex(merkleRootOfMultiproof(size, [index], other, nodes)), root, label);
      }
    }
  });

  it("every subset of the leaves of each vector tree gives the vector's root with the canonical nodes", () => {
    let subsets = 0;
    for (const { size, root } of trees) {
      const leaves = vectorLeaves.slice(0, size);
      const tree = merkleTree(leaves);
      const reference = new ReferenceTree(leaves);
      for (let mask = 1; mask < 2 ** size; mask++) {
        const indices = leaves.map((_, i) => i).filter((i) => (mask >> i) & 1);
        const label = `size ${size}, indices ${indices}`;
        const nodes = merkleMultiproofOfTree(tree, indices);
        const expected = referenceNodePositions(size, indices).map(([level, q]) => reference.node(level, q));
        assert.equal(hex(nodes), hex(concat(...expected)), label);
        assert.equal(merkleMultiproofNodeCount(size, indices), expected.length, label);
        assert.equal(hex(merkleMultiproofOfPaths(size, packedPaths(tree, indices))), hex(nodes), label);
        const leafHashes = concat(...indices.map((i) => merkleLeafHash(leaves[i]!)));
        assert.equal(hex(merkleRootOfMultiproof(size, indices, leafHashes, nodes)), root, label);
        subsets++;
      }
    }
    assert.equal(subsets, 2 ** 9 - 2 - 8);
  });
});

describe("Merkle multiproofs on random trees, against the tree, the paths and the references", () => {
  /** Checks every way to build, count, verify and encode the multiproof of `indices`; returns its nodes. */
  function checkMultiproof(tree: MerkleTree, reference: ReferenceTree, data: Uint8Array, leafSize: number, indices: number[]): Uint8Array {
    const { size } = tree;
    const label = `size ${size}, indices ${indices.length > 12 ? `${indices.slice(0, 12)}… (${indices.length})` : indices}`;
    const nodes = merkleMultiproofOfTree(tree, indices);
    const expected = referenceNodePositions(size, indices).map(([level, q]) => reference.node(level, q));
    assert.equal(hex(nodes), hex(concat(...expected)), label);
    assert.equal(merkleMultiproofNodeCount(size, indices), expected.length, label);
    assert.equal(hex(merkleMultiproofOfPaths(size, packedPaths(tree, indices))), hex(nodes), label);
    if (indices.length === 1) assert.equal(hex(nodes), hex(concat(...tree.proof(indices[0]!).siblings)), label);

    const leafHashes = concat(...indices.map((i) => refLeafHash(reference.leaves[i]!)));
    assert.equal(hex(merkleRootOfMultiproof(size, indices, leafHashes, nodes)), hex(tree.root), label);
    assert.equal(hex(referenceRoot(size, indices, leafHashes, nodes)), hex(tree.root), label);
    const leaves = concat(...indices.map((i) => data.subarray(i * leafSize, (i + 1) * leafSize)));
    const proof: MerkleMultiproof = { size, indices, nodes };
    assert.equal(verifyMerkleMultiproof(leaves, leafSize, proof, tree.root), true, label);

    const encoded = encodeMerkleMultiproof(proof);
    const read = readMerkleMultiproof(encoded);
    assert.deepEqual({ ...read, nodes: hex(read.nodes) }, { ...proof, nodes: hex(nodes) }, label);
    assert.equal(read.nodes.buffer, encoded.buffer, `${label}: the nodes are a view of the encoding`);
    assert.equal(verifyMerkleMultiproof(leaves, leafSize, read, tree.root), true, label);
    return nodes;
  }

  /** The index sets each tree is checked with: one leaf, the first and last, all, random sets and runs. */
  function indexSets(size: number): number[][] {
    const run = below(size);
    const sets = [
      [0],
      [size - 1],
      [below(size)],
      [0, size - 1],
      Array.from({ length: size }, (_, i) => i),
      randomIndices(size, 0.05),
      randomIndices(size, 0.3),
      randomIndices(size, 0.8),
      Array.from({ length: Math.min(1 + below(9), size - run) }, (_, i) => run + i),
    ];
    return [...new Map(sets.map((set) => [`${set}`, set])).values()].filter((set) => set.every((i, k) => k === 0 || i > set[k - 1]!));
  }

  const sizes = [
    ...Array.from({ length: 40 }, (_, i) => i + 1),
    63, 64, 65, 127, 128, 129, 255, 256, 257,
    ...Array.from({ length: 12 }, () => 41 + below(260)),
  ];

  it("sizes 1..40, powers of two ± 1 and random sizes to 300, 32-byte leaves (txids)", () => {
    let checked = 0;
    for (const size of sizes) {
      const data = rng.bytes(size * 32);
      const reference = new ReferenceTree(Array.from({ length: size }, (_, i) => data.subarray(i * 32, (i + 1) * 32)));
      const tree = merkleTreeOfPackedLeaves(data, 32);
      for (const indices of indexSets(size)) {
        checkMultiproof(tree, reference, data, 32, indices);
        checked++;
      }
    }
    assert.ok(checked > 400, `${checked} multiproofs`);
  });

  it("leaves of other sizes (the proof depends on the leaf hashes only)", () => {
    for (const leafSize of [1, 33, 100]) {
      const size = 2 + below(120);
      const data = rng.bytes(size * leafSize);
      const reference = new ReferenceTree(Array.from({ length: size }, (_, i) => data.subarray(i * leafSize, (i + 1) * leafSize)));
      const tree = merkleTreeOfPackedLeaves(data, leafSize);
      for (const indices of indexSets(size)) checkMultiproof(tree, reference, data, leafSize, indices);
    }
  });

  it("shares every node the paths have in common: never more nodes than the paths, as many for one index", () => {
    for (const size of sizes) {
      for (const indices of indexSets(size)) {
        const pathNodes = indices.reduce((n, index) => n + merklePathLength(index, size), 0);
        const count = merkleMultiproofNodeCount(size, indices);
        assert.ok(count <= pathNodes, `size ${size}, ${indices.length} indices`);
        if (indices.length === 1) assert.equal(count, pathNodes);
        if (indices.length === size) assert.equal(count, 0, `all leaves of ${size}`);
      }
    }
  });

  it("is uleb128(size) ‖ uleb128(count) ‖ uleb128(first index) ‖ uleb128(gap - 1)… ‖ nodes", () => {
    const data = rng.bytes(130 * 32);
    const tree = merkleTreeOfPackedLeaves(data, 32);
    const indices = [5, 6, 100];
    const nodes = merkleMultiproofOfTree(tree, indices);
    const encoded = encodeMerkleMultiproof({ size: 130, indices, nodes });
    assert.deepEqual([...encoded.subarray(0, 6)], [0x82, 0x01, 0x03, 0x05, 0x00, 0x5d]);
    assert.equal(hex(encoded.subarray(6)), hex(nodes));
    assert.equal(nodes.length, 32 * merkleMultiproofNodeCount(130, indices));
    // One leaf of one: size 1, one index 0, no nodes.
    assert.deepEqual([...encodeMerkleMultiproof({ size: 1, indices: [0], nodes: new Uint8Array(0) })], [0x01, 0x01, 0x00]);
  });

  it("a multiproof inside a larger buffer (as in a message frame) is read from its view", () => {
    const data = rng.bytes(77 * 32);
    const tree = merkleTreeOfPackedLeaves(data, 32);
    const indices = [3, 40, 41, 76];
    const encoded = encodeMerkleMultiproof({ size: 77, indices, nodes: merkleMultiproofOfTree(tree, indices) });
    const frame = new Uint8Array(encoded.length + 11);
    frame.set(encoded, 7);
    const read = readMerkleMultiproof(frame.subarray(7, 7 + encoded.length));
    assert.equal(read.nodes.byteOffset, 7 + encoded.length - read.nodes.length);
    const leaves = concat(...indices.map((i) => hashAt(data, i)));
    assert.equal(verifyMerkleMultiproof(leaves, 32, read, tree.root), true);
  });

  it("trees past the kernel's HASHES region, kept in chunks: indices on both sides of chunk boundaries", () => {
    const count = new Sha256Wasm().hashCapacity + 3;
    const data = rng.bytes(count * 32);
    const tree = merkleTreeOfPackedLeaves(data, 32);
    const chunk = (count - 3) / 2;
    const sets = [
      [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk - 1, 2 * chunk, count - 1],
      [count - 1],
      [count - 3, count - 2, count - 1],
      [chunk - 1, chunk],
      randomIndices(count, 0.0005),
    ];
    for (const indices of sets) {
      const label = `size ${count}, indices ${indices}`;
      const nodes = merkleMultiproofOfTree(tree, indices);
      assert.equal(nodes.length, 32 * merkleMultiproofNodeCount(count, indices), label);
      assert.equal(hex(merkleMultiproofOfPaths(count, packedPaths(tree, indices))), hex(nodes), label);
      const leafHashes = concat(...indices.map((i) => refLeafHash(hashAt(data, i))));
      assert.equal(hex(merkleRootOfMultiproof(count, indices, leafHashes, nodes)), hex(tree.root), label);
      assert.equal(hex(referenceRoot(count, indices, leafHashes, nodes)), hex(tree.root), label);
      assert.equal(verifyMerkleMultiproof(concat(...indices.map((i) => hashAt(data, i))), 32, { size: count, indices, nodes }, tree.root), true, label);
    }
  });

  it("batching edges: levels of promoted nodes only, one pair, pair counts around the kernel's 4 lanes, a level past the HASHES region", () => {
    const check = (tree: MerkleTree, data: Uint8Array, indices: number[], reference = true) => {
      const { size } = tree;
      const label = `size ${size}, ${indices.length} indices from ${indices[0]}`;
      const nodes = merkleMultiproofOfTree(tree, indices);
      // Packed in a loop: a level past the HASHES region has too many leaves to spread.
      const leaves = new Uint8Array(indices.length * 32);
      const leafHashes = new Uint8Array(indices.length * 32);
      indices.forEach((index, k) => {
        leaves.set(hashAt(data, index), k * 32);
        leafHashes.set(refLeafHash(hashAt(data, index)), k * 32);
      });
      assert.equal(hex(merkleRootOfMultiproof(size, indices, leafHashes, nodes)), hex(tree.root), label);
      if (reference) assert.equal(hex(referenceRoot(size, indices, leafHashes, nodes)), hex(tree.root), label);
      assert.equal(verifyMerkleMultiproof(leaves, 32, { size, indices, nodes }, tree.root), true, label);
      if (nodes.length > 0) assert.equal(verifyMerkleMultiproof(leaves, 32, { size, indices, nodes: flipBit(nodes, rng.nextU32()) }, tree.root), false, label);
    };
    const treeOf = (size: number) => {
      const data = rng.bytes(size * 32);
      return { data, tree: merkleTreeOfPackedLeaves(data, 32) };
    };
    // The last leaf of 2^k + 1: promoted k times, then one proof node (the whole left subtree); a
    // tree of one leaf has no level at all.
    for (const size of [1, 3, 5, 9, 17, 33, 65, 1025]) {
      const { data, tree } = treeOf(size);
      check(tree, data, [size - 1]);
      if (size > 1) check(tree, data, [0, size - 1]);
    }
    // One pair: two known siblings, or one known node and its proof node on either side.
    for (const indices of [[0, 1], [0], [1]]) {
      const { data, tree } = treeOf(2);
      check(tree, data, indices);
    }
    // 1..13 pairs in the first level, all known, one side known (proof nodes left or right of
    // them) and mixed, with and without a promoted last leaf.
    for (let pairs = 1; pairs <= 13; pairs++) {
      for (const size of [2 * pairs, 2 * pairs + 1]) {
        const { data, tree } = treeOf(size);
        const all = Array.from({ length: size }, (_, i) => i);
        for (const indices of [all, all.filter((i) => i % 2 === 0), all.filter((i) => i % 2 === 1), all.filter((i) => i % 4 !== 3), randomIndices(size, 0.6)]) {
          check(tree, data, indices);
        }
      }
    }
    // A level of more pairs than the kernel's HASHES region holds (hashed in two calls): all the
    // leaves, and every even leaf (a proof node right of each).
    const pairsPerCall = new Sha256Wasm().hashCapacity / 2;
    const size = 2 * pairsPerCall + 5;
    const { data, tree } = treeOf(size);
    const all = Array.from({ length: size }, (_, i) => i);
    check(tree, data, all);
    check(tree, data, all.filter((i) => i % 2 === 0), false);
    check(tree, data, all.filter((i) => i !== 2 * pairsPerCall - 1), false);
  });

  it("sizes up to 2^32 - 1, without a tree: the reference root, and one index agrees with the RFC 9162 path verifier", () => {
    const cases: [number, number[]][] = [
      [MERKLE_MAX_LEAVES, [0, 0x7fff_ffff, 0x8000_0000, MERKLE_MAX_LEAVES - 1]],
      [MERKLE_MAX_LEAVES, [MERKLE_MAX_LEAVES - 2, MERKLE_MAX_LEAVES - 1]],
      [0x8000_0001, [0x7fff_ffff, 0x8000_0000]],
      [2 ** 31, [1, 2 ** 30, 2 ** 31 - 1]],
      [MERKLE_MAX_LEAVES - 1, [12345, 2 ** 32 - 3]],
    ];
    for (const size of [MERKLE_MAX_LEAVES, 0x8000_0001, 2 ** 31, 2 ** 32 - 2, 3_000_000_017]) {
      const indices = [...new Set(Array.from({ length: 6 }, () => rng.nextU32() % size))].sort((a, b) => a - b);
      cases.push([size, indices]);
      cases.push([size, [indices[0]!]]);
    }
    for (const [size, indices] of cases) {
      const label = `size ${size}, indices ${indices}`;
      const count = merkleMultiproofNodeCount(size, indices);
      assert.equal(count, referenceNodePositions(size, indices).length, label);
      const leaves = rng.bytes(indices.length * 32);
      const leafHashes = concat(...indices.map((_, i) => refLeafHash(hashAt(leaves, i))));
      const nodes = rng.bytes(count * 32);
      const root = merkleRootOfMultiproof(size, indices, leafHashes, nodes);
      assert.equal(hex(root), hex(referenceRoot(size, indices, leafHashes, nodes)), label);
      assert.equal(verifyMerkleMultiproof(leaves, 32, { size, indices, nodes }, root), true, label);
      if (indices.length === 1) {
        assert.equal(count, merklePathLength(indices[0]!, size), label);
        assert.equal(verifyPackedMerkleProof(leaves, { index: indices[0]!, size, siblings: nodes }, root), true, label);
      }
      const read = readMerkleMultiproof(encodeMerkleMultiproof({ size, indices, nodes }));
      assert.deepEqual([read.size, read.indices, hex(read.nodes)], [size, indices, hex(nodes)], label);
    }
  });
});

describe("The kernel's batched node hash (merkleHashPairs)", () => {
  for (const flavor of WASM_FLAVORS) {
    it(`hashes n packed pairs into HASHES[0..n): H(0x01 ‖ left ‖ right), 1..9 pairs and a full region (${flavor})`, () => {
      const sha = new Sha256Wasm(flavor);
      const capacity = sha.hashCapacity / 2;
      for (const n of [1, 2, 3, 4, 5, 7, 8, 9, capacity]) {
        const pairs = rng.bytes(n * 64);
        sha.hashes.set(pairs);
        sha.kernel.merkleHashPairs(n);
        const checked = n === capacity ? [0, 1, 2, 3, n - 5, n - 4, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
        for (const i of checked) {
          assert.equal(hex(hashAt(sha.hashes, i)), hex(refNodeHash(pairs.subarray(i * 64, i * 64 + 32), pairs.subarray(i * 64 + 32, i * 64 + 64))), `pair ${i} of ${n}`);
        }
      }
    });
  }
});

describe("Malformed multiproofs are refused with their code", () => {
  const data = rng.bytes(13 * 32);
  const tree = merkleTreeOfPackedLeaves(data, 32);
  const indices = [2, 3, 9];
  const nodes = merkleMultiproofOfTree(tree, indices);
  const leaves = concat(...indices.map((i) => hashAt(data, i)));
  const leafHashes = concat(...indices.map((i) => refLeafHash(hashAt(data, i))));
  const proof: MerkleMultiproof = { size: 13, indices, nodes };

  /** Shapes that fit no multiproof of `nodes`' tree, with what each breaks. */
  const badShapes: [string, number, number[]][] = [
    ["size 0", 0, [0]],
    ["size above 2^32 - 1", 2 ** 32, [2, 3, 9]],
    ["size not an integer", 13.5, [2, 3, 9]],
    ["no index", 13, []],
    ["a repeated index", 13, [2, 3, 3, 9]],
    ["descending indices", 13, [3, 2, 9]],
    ["an index equal to size", 13, [2, 3, 13]],
    ["an index above size", 13, [2, 3, 20]],
    ["a negative index", 13, [-1, 3, 9]],
    ["an index not an integer", 13, [2, 3.5, 9]],
  ];

  it("the node count, the proof of a tree and of paths, the root and the encoder: MERKLE_BAD_PROOF", () => {
    for (const [what, size, badIndices] of badShapes) {
      assert.throws(() => merkleMultiproofNodeCount(size, badIndices), expectCode("MERKLE_BAD_PROOF"), what);
      assert.throws(() => merkleRootOfMultiproof(size, badIndices, leafHashes, nodes), expectCode("MERKLE_BAD_PROOF"), what);
      assert.throws(() => encodeMerkleMultiproof({ size, indices: badIndices, nodes }), expectCode("MERKLE_BAD_PROOF"), what);
      if (size === 13) assert.throws(() => merkleMultiproofOfTree(tree, badIndices), expectCode("MERKLE_BAD_PROOF"), what);
    }
    const badNodes: [string, Uint8Array][] = [
      ["a node too few", nodes.subarray(32)],
      ["a node left over", concat(nodes, tree.root)],
      ["no nodes", new Uint8Array(0)],
      ["nodes not whole hashes", nodes.subarray(1)],
    ];
    for (const [what, bad] of badNodes) {
      assert.throws(() => merkleRootOfMultiproof(13, indices, leafHashes, bad), expectCode("MERKLE_BAD_PROOF"), what);
      assert.throws(() => encodeMerkleMultiproof({ ...proof, nodes: bad }), expectCode("MERKLE_BAD_PROOF"), what);
    }
    assert.throws(() => merkleRootOfMultiproof(13, indices, leafHashes.subarray(32), nodes), expectCode("MERKLE_BAD_PROOF"), "a leaf hash too few");
    assert.throws(() => merkleRootOfMultiproof(13, indices, concat(leafHashes, tree.root), nodes), expectCode("MERKLE_BAD_PROOF"), "a leaf hash left over");
    assert.throws(() => merkleRootOfMultiproof(13, indices, leafHashes.subarray(1), nodes), expectCode("MERKLE_BAD_PROOF"), "leaf hashes not whole");
    assert.throws(() => merkleMultiproofOfTree(merkleTree([]), [0]), expectCode("MERKLE_BAD_PROOF"), "an empty tree");
  });

  it("paths that do not make one multiproof: MERKLE_BAD_PROOF", () => {
    const paths = packedPaths(tree, indices);
    const otherSize = readMerkleProof(encodeMerkleProof(merkleTreeOfPackedLeaves(data.subarray(0, 12 * 32), 32).proof(9)));
    const bad: [string, PackedMerkleProof[]][] = [
      ["no path", []],
      ["paths out of order", [paths[1]!, paths[0]!, paths[2]!]],
      ["the same path twice", [paths[0]!, paths[0]!, paths[2]!]],
      ["a path of another size", [paths[0]!, paths[1]!, otherSize]],
      ["a sibling too few", [paths[0]!, { ...paths[1]!, siblings: paths[1]!.siblings.subarray(32) }, paths[2]!]],
      ["a sibling left over", [paths[0]!, paths[1]!, { ...paths[2]!, siblings: concat(paths[2]!.siblings, tree.root) }]],
      ["siblings not whole hashes", [{ ...paths[0]!, siblings: paths[0]!.siblings.subarray(1) }, paths[1]!, paths[2]!]],
    ];
    for (const [what, badPaths] of bad) assert.throws(() => merkleMultiproofOfPaths(13, badPaths), expectCode("MERKLE_BAD_PROOF"), what);
    assert.throws(() => merkleMultiproofOfPaths(12, paths), expectCode("MERKLE_BAD_PROOF"), "paths of another size than asked");
    // Leaves 2 and 3 have paths of four siblings in trees of 13 and of 14 leaves: only the size tells them apart.
    const larger = merkleTreeOfPackedLeaves(concat(data, hashAt(data, 0)), 32);
    const largerPaths = packedPaths(larger, [2, 3]);
    assert.deepEqual([2, 3].map((i) => [merklePathLength(i, 13), merklePathLength(i, 14)]), [[4, 4], [4, 4]]);
    assert.throws(() => merkleMultiproofOfPaths(13, largerPaths), expectCode("MERKLE_BAD_PROOF"), "paths of 14 leaves, as many siblings");
    assert.throws(() => merkleMultiproofOfPaths(13, [paths[0]!, largerPaths[1]!]), expectCode("MERKLE_BAD_PROOF"), "one path of 14 leaves");
  });

  it("arguments of the wrong type: MERKLE_BAD_INPUT", () => {
    const notArray = "2,3,9" as unknown as number[];
    const notBytes = [...nodes] as unknown as Uint8Array;
    assert.throws(() => merkleMultiproofNodeCount(13, notArray), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => merkleRootOfMultiproof(13, indices, notBytes, nodes), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => merkleRootOfMultiproof(13, indices, leafHashes, notBytes), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => merkleMultiproofOfTree({ size: 13 } as unknown as MerkleTree, indices), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => merkleMultiproofOfPaths(13, "paths" as unknown as PackedMerkleProof[]), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => merkleMultiproofOfPaths(13, [null as unknown as PackedMerkleProof]), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => encodeMerkleMultiproof(null as unknown as MerkleMultiproof), expectCode("MERKLE_BAD_INPUT"));
    assert.throws(() => encodeMerkleMultiproof({ ...proof, nodes: notBytes }), expectCode("MERKLE_BAD_INPUT"));
  });

  it("verification, like verifyPackedMerkleProof: false for a proof that does not fit, MERKLE_BAD_INPUT for what no read proof has", () => {
    assert.equal(verifyMerkleMultiproof(leaves, 32, proof, tree.root), true);
    const doesNotFit: [string, MerkleMultiproof][] = [
      ["size above 2^32 - 1", { ...proof, size: 2 ** 32 }],
      ["no index", { ...proof, indices: [] }],
      ["a repeated index", { ...proof, indices: [2, 2, 9] }],
      ["descending indices", { ...proof, indices: [3, 2, 9] }],
      ["an index equal to size", { ...proof, indices: [2, 3, 13] }],
      ["one index more than leaves", { ...proof, indices: [2, 3, 9, 10] }],
      ["one index fewer than leaves", { ...proof, indices: [2, 3] }],
      ["a node too few", { ...proof, nodes: nodes.subarray(32) }],
      ["a node left over", { ...proof, nodes: concat(nodes, tree.root) }],
    ];
    for (const [what, bad] of doesNotFit) assert.equal(verifyMerkleMultiproof(leaves, 32, bad, tree.root), false, what);
    assert.equal(verifyMerkleMultiproof(leaves.subarray(32), 32, proof, tree.root), false, "a leaf too few");
    assert.equal(verifyMerkleMultiproof(concat(leaves, hashAt(data, 10)), 32, proof, tree.root), false, "a leaf left over");
    const malformed: [string, () => boolean][] = [
      ["root of 31 bytes", () => verifyMerkleMultiproof(leaves, 32, proof, tree.root.subarray(1))],
      ["no proof", () => verifyMerkleMultiproof(leaves, 32, null as unknown as MerkleMultiproof, tree.root)],
      ["size 0", () => verifyMerkleMultiproof(leaves, 32, { ...proof, size: 0 }, tree.root)],
      ["size not an integer", () => verifyMerkleMultiproof(leaves, 32, { ...proof, size: 13.5 }, tree.root)],
      ["a negative index", () => verifyMerkleMultiproof(leaves, 32, { ...proof, indices: [-1, 3, 9] }, tree.root)],
      ["an index not an integer", () => verifyMerkleMultiproof(leaves, 32, { ...proof, indices: [2, 3.5, 9] }, tree.root)],
      ["indices not an array", () => verifyMerkleMultiproof(leaves, 32, { ...proof, indices: "2,3,9" as unknown as number[] }, tree.root)],
      ["nodes not whole hashes", () => verifyMerkleMultiproof(leaves, 32, { ...proof, nodes: nodes.subarray(1) }, tree.root)],
      ["leaves not bytes", () => verifyMerkleMultiproof([...leaves] as unknown as Uint8Array, 32, proof, tree.root)],
    ];
    for (const [what, call] of malformed) assert.throws(call, expectCode("MERKLE_BAD_INPUT"), what);
    assert.throws(() => verifyMerkleMultiproof(leaves.subarray(1), 32, proof, tree.root), expectCode("MERKLE_BAD_LEAF_SIZE"));
    assert.throws(() => verifyMerkleMultiproof(leaves, 0, proof, tree.root), expectCode("MERKLE_BAD_LEAF_SIZE"));
  });

  it("any encoding but the canonical one: MERKLE_BAD_PROOF_ENCODING", () => {
    const encoded = encodeMerkleMultiproof(proof);
    assert.deepEqual([...encoded.subarray(0, 5)], [13, 3, 2, 0, 5]);
    const body = encoded.subarray(5);
    const bad: [string, Uint8Array][] = [
      ["empty", new Uint8Array(0)],
      ["truncated size", Uint8Array.of(0x8d)],
      ["size 0", concat(Uint8Array.of(0, 3, 2, 0, 5), body)],
      ["size 2^32", concat(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10, 3, 2, 0, 5), body)],
      ["a six-byte size", concat(Uint8Array.of(0x8d, 0x80, 0x80, 0x80, 0x80, 0x00, 3, 2, 0, 5), body)],
      ["a non-minimal size", concat(Uint8Array.of(0x8d, 0x00, 3, 2, 0, 5), body)],
      ["no count", Uint8Array.of(13)],
      ["count 0", concat(Uint8Array.of(13, 0), body)],
      ["count 0, nothing after it", Uint8Array.of(13, 0)],
      ["a non-minimal count", concat(Uint8Array.of(13, 0x83, 0x00, 2, 0, 5), body)],
      ["a count above size", concat(Uint8Array.of(13, 14, 2, 0, 5), body)],
      ["a count beyond the bytes left", Uint8Array.of(13, 3, 2, 0)],
      ["a truncated index", Uint8Array.of(13, 3, 2, 0, 0x85)],
      ["a non-minimal index gap", concat(Uint8Array.of(13, 3, 2, 0, 0x85, 0x00), body)],
      ["a first index equal to size", concat(Uint8Array.of(13, 1, 13), body)],
      ["a gap past size", concat(Uint8Array.of(13, 3, 2, 0, 9), body)],
      ["another index count, the nodes unchanged", concat(Uint8Array.of(13, 2, 2, 0), body)],
      ["a node too few", encoded.subarray(0, encoded.length - 32)],
      ["a truncated node", encoded.subarray(0, encoded.length - 1)],
      ["a node left over", concat(encoded, tree.root)],
      ["a trailing byte", concat(encoded, Uint8Array.of(0))],
    ];
    for (const [what, bytes] of bad) assert.throws(() => readMerkleMultiproof(bytes), expectCode("MERKLE_BAD_PROOF_ENCODING"), what);
    assert.throws(() => readMerkleMultiproof([...encoded] as unknown as Uint8Array), expectCode("MERKLE_BAD_PROOF_ENCODING"), "not bytes");
    // A forged count costs no more than its bytes: 2^32 - 1 indices announced, one byte of them.
    assert.throws(() => readMerkleMultiproof(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0)), expectCode("MERKLE_BAD_PROOF_ENCODING"));
    assert.deepEqual(readMerkleMultiproof(Uint8Array.of(1, 1, 0)), { size: 1, indices: [0], nodes: new Uint8Array(0) });
  });
});

describe("Tampered multiproofs give another root and verify false, without a throw", () => {
  it("a flipped bit in a node, a leaf or a leaf hash; another index; leaves out of order; another root", () => {
    let sameCountIndexChanges = 0;
    let otherCountIndexChanges = 0;
    for (let round = 0; round < 80; round++) {
      const size = 2 + below(299);
      const data = rng.bytes(size * 32);
      const tree = merkleTreeOfPackedLeaves(data, 32);
      const indices = randomIndices(size, [0.02, 0.2, 0.6][round % 3]!);
      const nodes = merkleMultiproofOfTree(tree, indices);
      const leaves = concat(...indices.map((i) => hashAt(data, i)));
      const leafHashes = concat(...indices.map((i) => refLeafHash(hashAt(data, i))));
      const proof: MerkleMultiproof = { size, indices, nodes };
      const root = hex(tree.root);
      const label = `size ${size}, ${indices.length} indices`;
      assert.equal(verifyMerkleMultiproof(leaves, 32, proof, tree.root), true, label);

      if (nodes.length > 0) {
        const tamperedNodes = flipBit(nodes, rng.nextU32());
        assert.notEqual(hex(merkleRootOfMultiproof(size, indices, leafHashes, tamperedNodes)), root, `a node, ${label}`);
        assert.equal(verifyMerkleMultiproof(leaves, 32, { ...proof, nodes: tamperedNodes }, tree.root), false, `a node, ${label}`);
      }
      assert.notEqual(hex(merkleRootOfMultiproof(size, indices, flipBit(leafHashes, rng.nextU32()), nodes)), root, `a leaf hash, ${label}`);
      assert.equal(verifyMerkleMultiproof(flipBit(leaves, rng.nextU32()), 32, proof, tree.root), false, `a leaf, ${label}`);
      assert.equal(verifyMerkleMultiproof(leaves, 32, proof, flipBit(tree.root, rng.nextU32())), false, `the root, ${label}`);
      if (indices.length > 1) {
        const swapped = concat(leaves.subarray(32, 64), leaves.subarray(0, 32), leaves.subarray(64));
        assert.equal(verifyMerkleMultiproof(swapped, 32, proof, tree.root), false, `leaves out of order, ${label}`);
      }

      // Move one index to a free position between its neighbours, keeping the indices ascending.
      const k = below(indices.length);
      const low = k === 0 ? 0 : indices[k - 1]! + 1;
      const high = k === indices.length - 1 ? size - 1 : indices[k + 1]! - 1;
      if (high > low) {
        let moved = low + below(high - low);
        if (moved >= indices[k]!) moved++;
        const movedIndices = indices.map((index, i) => (i === k ? moved : index));
        const what = `index ${indices[k]} -> ${moved}, ${label}`;
        if (merkleMultiproofNodeCount(size, movedIndices) === merkleMultiproofNodeCount(size, indices)) {
          assert.notEqual(hex(merkleRootOfMultiproof(size, movedIndices, leafHashes, nodes)), root, what);
          sameCountIndexChanges++;
        } else {
          assert.throws(() => merkleRootOfMultiproof(size, movedIndices, leafHashes, nodes), expectCode("MERKLE_BAD_PROOF"), what);
          otherCountIndexChanges++;
        }
        assert.equal(verifyMerkleMultiproof(leaves, 32, { ...proof, indices: movedIndices }, tree.root), false, what);
      }
    }
    assert.ok(sameCountIndexChanges >= 10, `${sameCountIndexChanges} index changes kept the node count`);
    assert.ok(otherCountIndexChanges >= 5, `${otherCountIndexChanges} index changes changed the node count`);
  });

  it("a flipped bit past the size in an encoding is refused when read, or verifies false", () => {
    // The size is left alone: like a single path's, the root does not commit to it (module doc).
    let refusedWhenRead = 0;
    let verifiedFalse = 0;
    for (let round = 0; round < 150; round++) {
      const size = 2 + below(200);
      const data = rng.bytes(size * 32);
      const tree = merkleTreeOfPackedLeaves(data, 32);
      const indices = randomIndices(size, [0.02, 0.2][round % 2]!);
      const encoded = encodeMerkleMultiproof({ size, indices, nodes: merkleMultiproofOfTree(tree, indices) });
      const sizeBytes = size < 128 ? 1 : 2;
      const tampered = encoded.slice();
      // Half the flips hit the header (count and indices), half anywhere after the size.
      const headerEnd = encoded.length - 32 * merkleMultiproofNodeCount(size, indices);
      const at = sizeBytes + (round % 2 === 0 ? below(headerEnd - sizeBytes) : below(encoded.length - sizeBytes));
      tampered[at]! ^= 1 << below(8);
      let read: MerkleMultiproof;
      try {
        read = readMerkleMultiproof(tampered);
      } catch (error) {
        assert.ok(expectCode("MERKLE_BAD_PROOF_ENCODING")(error), `byte ${at}: ${String(error)}`);
        refusedWhenRead++;
        continue;
      }
      const leaves = concat(...indices.map((i) => hashAt(data, i)));
      assert.equal(verifyMerkleMultiproof(leaves, 32, read, tree.root), false, `byte ${at} of ${encoded.length}, size ${size}`);
      verifiedFalse++;
    }
    assert.ok(refusedWhenRead >= 10 && verifiedFalse >= 10, `${refusedWhenRead} refused when read, ${verifiedFalse} verified false`);
  });
});
