/**
 * Multiproofs: one proof that the leaves at indices i_1 < … < i_m belong to one RFC 6962 §2.1 tree
 * (merkle.ts), with each node that their audit paths share included once. A batch of Atomix
 * unlocks uses one to prove that many txids are leaves of one block's included-txid tree.
 *
 * Canonical form: the node hashes that a verifier holding the m leaf hashes cannot compute, level
 * by level from the leaf level up, in ascending position within a level. Level L has w_L nodes
 * (w_0 = size, w_{L+1} = ceil(w_L / 2)). At each level the verifier walks its known nodes in
 * ascending position. For a known node at position p, with sibling q = p ^ 1:
 * - if q >= w_L, p is the last, unpaired node, and it is promoted unchanged;
 * - if q is also known, p and q combine;
 * - otherwise the next proof node is q's hash.
 * Their parents (positions floor(p / 2)) are the known nodes of level L + 1, and so on up to the
 * root. With one index, this is that leaf's RFC 6962 §2.1.1 audit path, with the same siblings in
 * the same order. As with a single path (RFC 9162 §2.1.3.2), the root does not commit to the size:
 * the size must come from what the root is trusted with (here, the block).
 *
 * Encoding (`encodeMerkleMultiproof`, strict `readMerkleMultiproof`):
 *   uleb128(size) ‖ uleb128(m) ‖ uleb128(i_1) ‖ uleb128(i_2 - i_1 - 1) ‖ … ‖ uleb128(i_m - i_{m-1} - 1)
 *   ‖ node_1 ‖ … ‖ node_k
 * The integers are merkle.ts's minimal uleb128 of at most 5 bytes. The rules are
 * 1 <= size <= 2^32 - 1, m >= 1 and i_m < size. Writing each index after the first as its gap
 * minus one makes the indices strictly ascending by construction. The encoding must end exactly
 * after the k = `merkleMultiproofNodeCount(size, indices)` nodes of 32 bytes each.
 *
 * Errors: an argument of the wrong type is MERKLE_BAD_INPUT. A size, indices, leaf hashes or
 * nodes that fit no multiproof are MERKLE_BAD_PROOF. `verifyMerkleMultiproof` works like
 * `verifyPackedMerkleProof`: it returns false whenever the proof does not fit (see there).
 *
 * The root is computed in one buffer that starts as a copy of the leaf hashes and is overwritten
 * level by level. Each level's node hashes are one batched kernel call (`merkleHashPairs`, four
 * pairs at a time on the SIMD build): its pairs are packed into the kernel's HASHES region, read
 * from the known hashes and from the proof nodes where they are.
 */
import { HASH_BYTES } from "../codec/sizes.js";
import {
  MERKLE_MAX_LEAVES,
  MerkleTree,
  badEncoding,
  fail,
  merkleLeafHashesOfPackedLeaves,
  merklePathLength,
  readUleb128,
  writeUleb128,
  type PackedMerkleProof,
} from "./merkle.js";
import { defaultSha256Wasm } from "./sha256.js";

/** A multiproof of leaves `indices` (strictly ascending) of a tree of `size` leaves. */
export interface MerkleMultiproof {
  readonly size: number;
  readonly indices: readonly number[];
  /** The proof nodes in canonical order, packed 32 bytes each. */
  readonly nodes: Uint8Array;
}

/**
 * What the canonical walk does at each known node of a level. `from` counts the level's known
 * nodes, `to` counts the known nodes of the level above, and known node `to` is the parent made here.
 */
interface MultiproofSteps {
  /** Known nodes `from` (left) and `from + 1` (right) are siblings and combine. */
  pair(from: number, to: number): void;
  /** Known node `from` is the unpaired last node of its level and is promoted unchanged. */
  promote(from: number, to: number): void;
  /** The sibling of known node `from` is unknown: it is proof node `node`, at position `sibling` of `level`. */
  prove(level: number, from: number, sibling: number, to: number, node: number): void;
  /** Every step of a level has been taken. */
  endLevel?(): void;
}

/** The canonical walk (module doc) over checked `size` and `indices`; returns the number of proof nodes. */
function walkMultiproof(size: number, indices: readonly number[], steps?: MultiproofSteps): number {
  const positions = indices.slice();
  let known = positions.length;
  let nodes = 0;
  for (let level = 0, width = size; width > 1; level++, width = Math.ceil(width / 2)) {
    let to = 0;
    for (let from = 0; from < known; from++, to++) {
      const position = positions[from]!;
      // Arithmetic rather than bit operators: positions reach 2^32 - 2, beyond int32.
      const sibling = position % 2 === 0 ? position + 1 : position - 1;
      if (sibling >= width) {
        steps?.promote(from, to);
      } else if (from + 1 < known && positions[from + 1] === sibling) {
        steps?.pair(from, to);
        from++;
      } else {
        steps?.prove(level, from, sibling, to, nodes);
        nodes++;
      }
      positions[to] = Math.floor(position / 2);
    }
    steps?.endLevel?.();
    known = to;
  }
  return nodes;
}

/** Why `size` and `indices` fit no multiproof, or undefined when they fit one. */
function indicesFault(size: number, indices: readonly number[]): string | undefined {
  if (!Number.isSafeInteger(size) || size < 1 || size > MERKLE_MAX_LEAVES) return `size ${size} is not in [1, ${MERKLE_MAX_LEAVES}]`;
  if (indices.length === 0) return "there are no leaf indices: a multiproof proves at least one leaf";
  let previous = -1;
  for (const index of indices) {
    if (!Number.isSafeInteger(index) || index <= previous) {
      return previous < 0
        ? `leaf index ${index} is not a non-negative integer`
        : `leaf index ${index} does not follow ${previous} in strictly ascending order`;
    }
    previous = index;
  }
  if (previous >= size) return `leaf index ${previous} is not below size ${size}`;
  return undefined;
}

function checkIndices(size: number, indices: readonly number[]): void {
  if (!Array.isArray(indices)) fail("MERKLE_BAD_INPUT", "leaf indices must be an array of numbers");
  const fault = indicesFault(size, indices);
  if (fault !== undefined) fail("MERKLE_BAD_PROOF", fault);
}

/** Checks that `nodes` are exactly the proof nodes that checked `size` and `indices` need. */
function checkNodes(size: number, indices: readonly number[], nodes: Uint8Array): void {
  if (!(nodes instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "proof nodes must be a Uint8Array");
  if (nodes.length % HASH_BYTES !== 0) fail("MERKLE_BAD_PROOF", `${nodes.length} bytes of proof nodes are not whole 32-byte hashes`);
  const needed = walkMultiproof(size, indices);
  const count = nodes.length / HASH_BYTES;
  if (count !== needed) {
    fail("MERKLE_BAD_PROOF", `${indices.length} leaves of ${size} need ${needed} proof nodes, got ${count} (${count < needed ? "too few" : "left over"})`);
  }
}

/** Number of nodes in the multiproof of leaves `indices` of a tree of `size` leaves (no hashing). */
export function merkleMultiproofNodeCount(size: number, indices: readonly number[]): number {
  checkIndices(size, indices);
  return walkMultiproof(size, indices);
}

/** The packed proof nodes of leaves `indices` of `tree`, read from its kept levels. */
export function merkleMultiproofOfTree(tree: MerkleTree, indices: readonly number[]): Uint8Array {
  if (!(tree instanceof MerkleTree)) fail("MERKLE_BAD_INPUT", "tree must be a MerkleTree");
  checkIndices(tree.size, indices);
  const nodes = new Uint8Array(walkMultiproof(tree.size, indices) * HASH_BYTES);
  walkMultiproof(tree.size, indices, {
    pair() {},
    promote() {},
    prove: (level, _from, sibling, _to, node) => nodes.set(tree.node(level, sibling), node * HASH_BYTES),
  });
  return nodes;
}

/**
 * The packed proof nodes that combine the audit paths `paths` of one tree of `size` leaves (in
 * strictly ascending leaf order). No hashing is needed. Each proof node is a sibling in a path
 * of a leaf below it: the leaf's k-th sibling is on the k-th level where its ancestor is not promoted.
 * The paths are not checked against each other: only verifying the result does that.
 */
export function merkleMultiproofOfPaths(size: number, paths: readonly PackedMerkleProof[]): Uint8Array {
  if (!Array.isArray(paths)) fail("MERKLE_BAD_INPUT", "paths must be an array of packed audit paths");
  const indices = paths.map((path, i) => {
    if (typeof path !== "object" || path === null || !(path.siblings instanceof Uint8Array)) {
      fail("MERKLE_BAD_INPUT", `path ${i} is not a packed audit path`);
    }
    if (path.size !== size) fail("MERKLE_BAD_PROOF", `path ${i} is for a tree of ${path.size} leaves, not ${size}`);
    return path.index;
  });
  checkIndices(size, indices);
  paths.forEach(({ index, siblings }, i) => {
    const expected = merklePathLength(index, size);
    if (siblings.length !== expected * HASH_BYTES) {
      fail("MERKLE_BAD_PROOF", `path ${i} (leaf ${index} of ${size}) needs ${expected} siblings, got ${siblings.length / HASH_BYTES}`);
    }
  });
  // For each known node: the path of the first leaf below it, and how many of that path's siblings are below it.
  const leafOf = indices.map((_, i) => i);
  const siblingsBelow = indices.map(() => 0);
  const nodes = new Uint8Array(walkMultiproof(size, indices) * HASH_BYTES);
  walkMultiproof(size, indices, {
    pair(from, to) {
      leafOf[to] = leafOf[from]!;
      siblingsBelow[to] = siblingsBelow[from]! + 1;
    },
    promote(from, to) {
      leafOf[to] = leafOf[from]!;
      siblingsBelow[to] = siblingsBelow[from]!;
    },
    prove(_level, from, _sibling, to, node) {
      const at = siblingsBelow[from]! * HASH_BYTES;
      nodes.set(paths[leafOf[from]!]!.siblings.subarray(at, at + HASH_BYTES), node * HASH_BYTES);
      leafOf[to] = leafOf[from]!;
      siblingsBelow[to] = siblingsBelow[from]! + 1;
    },
  });
  return nodes;
}

/**
 * The root implied by the leaf hashes `leafHashes` (SHA-256(0x00 ‖ data), packed 32 bytes each,
 * in index order) at leaves `indices` of a tree of `size` leaves, and the proof nodes `nodes`.
 * Anything that fits no multiproof throws MERKLE_BAD_PROOF, including a node count other than
 * the one needed.
 */
export function merkleRootOfMultiproof(size: number, indices: readonly number[], leafHashes: Uint8Array, nodes: Uint8Array): Uint8Array {
  checkIndices(size, indices);
  if (!(leafHashes instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "leaf hashes must be a Uint8Array");
  if (leafHashes.length !== indices.length * HASH_BYTES) {
    fail("MERKLE_BAD_PROOF", `${indices.length} leaf indices need ${indices.length * HASH_BYTES} bytes of leaf hashes, got ${leafHashes.length}`);
  }
  checkNodes(size, indices, nodes);
  return rootOfCheckedMultiproof(size, indices, leafHashes.slice(), nodes);
}

/**
 * Whether `proof` shows the leaves of `leafSize` bytes packed in `leaves` (e.g. 32-byte txids, in
 * index order) at `proof.indices` of a tree of `proof.size` leaves with `root`. This mirrors
 * `verifyPackedMerkleProof`. A proof that does not fit its size and indices is false: size above
 * 2^32 - 1, no index, indices not strictly ascending or not below size, a leaf count other than
 * the index count, or a node count other than the one needed. So a proof read by
 * `readMerkleMultiproof` never throws here. Only arguments that no read proof could have throw
 * MERKLE_BAD_INPUT: wrong types, a size that is not a positive integer, an index that is not a
 * non-negative integer, nodes that are not whole 32-byte hashes, or a root that is not 32 bytes.
 * Bad `leaves` or `leafSize` throw as they do for `merkleRootOfPackedLeaves`.
 */
export function verifyMerkleMultiproof(leaves: Uint8Array, leafSize: number, proof: MerkleMultiproof, root: Uint8Array): boolean {
  if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) fail("MERKLE_BAD_INPUT", "root must be a 32-byte Uint8Array");
  if (typeof proof !== "object" || proof === null) fail("MERKLE_BAD_INPUT", "proof must be an object");
  const { size, indices, nodes } = proof;
  if (!Number.isSafeInteger(size) || size < 1) fail("MERKLE_BAD_INPUT", `proof size ${size} is not a positive integer`);
  if (!Array.isArray(indices)) fail("MERKLE_BAD_INPUT", "proof indices must be an array of numbers");
  indices.forEach((index) => {
    if (!Number.isSafeInteger(index) || index < 0) fail("MERKLE_BAD_INPUT", `proof index ${index} is not a non-negative integer`);
  });
  if (!(nodes instanceof Uint8Array) || nodes.length % HASH_BYTES !== 0) fail("MERKLE_BAD_INPUT", "proof nodes must be whole 32-byte hashes");
  const leafHashes = merkleLeafHashesOfPackedLeaves(leaves, leafSize);
  if (indicesFault(size, indices) !== undefined || leafHashes.length !== indices.length * HASH_BYTES) return false;
  if (nodes.length !== walkMultiproof(size, indices) * HASH_BYTES) return false;
  const computed = rootOfCheckedMultiproof(size, indices, leafHashes, nodes);
  for (let i = 0; i < HASH_BYTES; i++) if (computed[i] !== root[i]) return false;
  return true;
}

/**
 * The root of a checked multiproof, computed in `known`, which starts as the leaf hashes and is
 * overwritten level by level: known node `to` of the level above is never past `from`, so each
 * parent overwrites only nodes that have already been read. A level's (left, right) pairs are
 * packed into the kernel's HASHES region as the walk meets them and hashed in one call
 * (`merkleHashPairs`) at the level's end, or sooner when the region is full. Their parents are
 * consecutive known nodes (only the level's last node can be promoted), so they go back in one
 * copy.
 */
function rootOfCheckedMultiproof(size: number, indices: readonly number[], known: Uint8Array, nodes: Uint8Array): Uint8Array {
  const sha = defaultSha256Wasm();
  const packed = sha.hashes;
  const capacity = Math.floor(sha.hashCapacity / 2);
  /** Pairs packed in HASHES, and the known node of the level above that the first of them makes. */
  let pairs = 0;
  let firstParent = 0;
  const flush = () => {
    if (pairs === 0) return;
    sha.kernel.merkleHashPairs(pairs);
    known.set(packed.subarray(0, pairs * HASH_BYTES), firstParent * HASH_BYTES);
    pairs = 0;
  };
  /** Packs known node `to`'s pair: `left` ‖ `right`, each a 32-byte hash at its offset in its buffer. */
  const pack = (to: number, left: Uint8Array, leftAt: number, right: Uint8Array, rightAt: number) => {
    if (pairs === capacity) flush();
    if (pairs === 0) firstParent = to;
    const at = pairs * 2 * HASH_BYTES;
    packed.set(left.subarray(leftAt, leftAt + HASH_BYTES), at);
    packed.set(right.subarray(rightAt, rightAt + HASH_BYTES), at + HASH_BYTES);
    pairs++;
  };
  walkMultiproof(size, indices, {
    pair: (from, to) => pack(to, known, from * HASH_BYTES, known, (from + 1) * HASH_BYTES),
    promote: (from, to) => known.copyWithin(to * HASH_BYTES, from * HASH_BYTES, (from + 1) * HASH_BYTES),
    prove: (_level, from, sibling, to, node) =>
      sibling % 2 === 0
        ? pack(to, nodes, node * HASH_BYTES, known, from * HASH_BYTES)
        : pack(to, known, from * HASH_BYTES, nodes, node * HASH_BYTES),
    endLevel: flush,
  });
  return known.slice(0, HASH_BYTES);
}

/** The compact binary form (module doc) of a multiproof whose nodes fit its size and indices. */
export function encodeMerkleMultiproof(proof: MerkleMultiproof): Uint8Array {
  if (typeof proof !== "object" || proof === null) fail("MERKLE_BAD_INPUT", "proof must be an object");
  const { size, indices, nodes } = proof;
  checkIndices(size, indices);
  checkNodes(size, indices, nodes);
  const header: number[] = [];
  writeUleb128(size, header);
  writeUleb128(indices.length, header);
  indices.forEach((index, i) => writeUleb128(i === 0 ? index : index - indices[i - 1]! - 1, header));
  const bytes = new Uint8Array(header.length + nodes.length);
  bytes.set(header);
  bytes.set(nodes, header.length);
  return bytes;
}

/**
 * The strict inverse of `encodeMerkleMultiproof`: every other byte string is
 * MERKLE_BAD_PROOF_ENCODING. The nodes are a view of `bytes`; nothing is copied.
 */
export function readMerkleMultiproof(bytes: Uint8Array): MerkleMultiproof {
  if (!(bytes instanceof Uint8Array)) badEncoding("an encoded multiproof must be a Uint8Array");
  const [size, afterSize] = readUleb128(bytes, 0, "size");
  if (size === 0) badEncoding("size is 0: an empty tree has no leaves to prove");
  const [count, afterCount] = readUleb128(bytes, afterSize, "index count");
  if (count === 0) badEncoding("index count is 0: a multiproof proves at least one leaf");
  // Indices are kept only as their bytes are read, so a forged count costs no more than the bytes.
  const indices: number[] = [];
  let at = afterCount;
  for (let i = 0, previous = -1; i < count; i++) {
    const [gap, next] = readUleb128(bytes, at, `index ${i}`);
    const index = previous + 1 + gap;
    if (index >= size) badEncoding(`index ${index} is not below size ${size}`);
    indices.push(index);
    previous = index;
    at = next;
  }
  const needed = walkMultiproof(size, indices);
  const length = at + needed * HASH_BYTES;
  if (bytes.length !== length) {
    badEncoding(`${count} leaves of ${size} need ${needed} proof nodes (${length} bytes in all), got ${bytes.length} bytes`);
  }
  return { size, indices, nodes: bytes.subarray(at, length) };
}
