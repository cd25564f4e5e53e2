/**
 * Merkle trees of RFC 6962 §2.1 (Merkle Tree Hash, MTH) on the `sha256` WASM kernel; used for
 * block transaction roots, MSB UTXO roots and Atomix proofs-of-acceptance.
 *
 * The rule, everywhere in IOSChain:
 * - leaf hash = SHA-256(0x00 ‖ data), node hash = SHA-256(0x01 ‖ left ‖ right) (domain
 *   separation, so a node can never pass for a leaf);
 * - odd node: MTH splits n leaves at the largest power of two k < n. Computed level by level
 *   this is the same as promoting an unpaired last node unchanged to the next level. Nothing is
 *   ever duplicated, so two different leaf lists never share a root (no CVE-2012-2459);
 * - the root of 0 leaves is SHA-256("") (RFC 6962 §2.1);
 * - a proof is the RFC 6962 §2.1.1 audit path (siblings from the leaf level up; a level where
 *   the node is promoted contributes none) with the leaf index and the tree size; verification
 *   follows RFC 9162 §2.1.3.2, which uses both, so a path cannot be replayed at another index
 *   or size; a verifier that keeps nothing reads an encoded path with its siblings left packed in
 *   the encoding (`readMerkleProof`, `verifyPackedMerkleProof`: no copy per sibling, one copy of
 *   them all into the kernel);
 * - one proof for many leaves of a tree, sharing their paths' common nodes: merkle-multiproof.ts;
 * - trees hold at most 2^32 - 1 leaves (indexes are u32 in the kernel and in the encoding).
 *
 * Roots are computed inside WASM memory: leaf hashes go to the kernel's HASHES region and every
 * level is computed in place there, four nodes at a time on the SIMD build. A `MerkleTree` keeps
 * every level (the kernel writes them one after another, copied out at once), so audit paths
 * cost no hashing. Trees larger than HASHES are cut into aligned power-of-two chunks: level by
 * level, the chunk roots are exactly the nodes of the tree at that chunk's height, so the tree
 * of the chunk roots completes it, and a path is the path in its chunk then that chunk's path.
 */
import { IosError, invariant } from "../errors.js";
import { Sha256Wasm, defaultSha256Wasm } from "./sha256.js";
import { HASH_BYTES } from "../codec/sizes.js";

export type MerkleErrorCode =
  | "MERKLE_INDEX_OUT_OF_RANGE"
  | "MERKLE_TOO_MANY_LEAVES"
  | "MERKLE_BAD_LEAF_SIZE"
  | "MERKLE_BAD_INPUT"
  | "MERKLE_BAD_PROOF"
  | "MERKLE_BAD_PROOF_ENCODING";

/** Domain separation prefixes, RFC 6962 §2.1. */
export const MERKLE_LEAF_PREFIX = 0x00;
export const MERKLE_NODE_PREFIX = 0x01;
/** Largest tree: leaf indexes are u32. */
export const MERKLE_MAX_LEAVES = 0xffff_ffff;

/** An RFC 6962 audit path for leaf `index` of a tree of `size` leaves. */
export interface MerkleProof {
  readonly index: number;
  readonly size: number;
  /** Sibling hashes (32 bytes each), leaf level first. */
  readonly siblings: readonly Uint8Array[];
}

/**
 * The same path as it is encoded: siblings packed, 32 bytes each, leaf level first, a view of the
 * encoding (`readMerkleProof`), so a verifier that keeps nothing copies nothing.
 */
export interface PackedMerkleProof {
  readonly index: number;
  readonly size: number;
  readonly siblings: Uint8Array;
}

/** Throws `IosError<MerkleErrorCode>` (shared with merkle-multiproof.ts). */
export function fail(code: MerkleErrorCode, message: string): never {
  throw new IosError<MerkleErrorCode>(code, message);
}

function checkLeafCount(count: number): void {
  if (count > MERKLE_MAX_LEAVES) fail("MERKLE_TOO_MANY_LEAVES", `${count} leaves exceed the limit of ${MERKLE_MAX_LEAVES}`);
}

function checkIndex(index: number, size: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    fail("MERKLE_INDEX_OUT_OF_RANGE", `leaf index ${index} is not in [0, ${size})`);
  }
}

function checkLeaves(leaves: readonly Uint8Array[]): void {
  if (!Array.isArray(leaves)) fail("MERKLE_BAD_INPUT", "leaves must be an array of Uint8Array");
  checkLeafCount(leaves.length);
  for (let i = 0; i < leaves.length; i++) {
    if (!(leaves[i] instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", `leaf ${i} is not a Uint8Array`);
  }
}

/** Leaf count of `data` cut into leaves of `leafSize` bytes. */
function packedLeafCount(data: Uint8Array, leafSize: number): number {
  if (!(data instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "packed leaves must be a Uint8Array");
  if (!Number.isSafeInteger(leafSize) || leafSize < 1) {
    fail("MERKLE_BAD_LEAF_SIZE", `leaf size must be a positive integer, got ${leafSize}`);
  }
  if (data.length % leafSize !== 0) {
    fail("MERKLE_BAD_LEAF_SIZE", `${data.length} bytes are not a whole number of ${leafSize}-byte leaves`);
  }
  const count = data.length / leafSize;
  checkLeafCount(count);
  return count;
}

/** Number of siblings in the audit path of leaf `index` of a tree of `size` leaves. */
export function merklePathLength(index: number, size: number): number {
  checkIndex(index, size);
  let length = 0;
  // Arithmetic rather than bit operators: sizes reach 2^32 - 1, beyond int32.
  for (let k = index, m = size; m > 1; k = Math.floor(k / 2), m = Math.ceil(m / 2)) {
    const sibling = k % 2 === 0 ? k + 1 : k - 1;
    if (sibling < m) length++;
  }
  return length;
}

/** Number of nodes on `level` (0: the leaves) of a tree of `size` leaves; 0 above its root. */
function levelWidth(size: number, level: number): number {
  let width = size;
  for (let l = 0; l < level; l++) {
    if (width <= 1) return 0;
    width = Math.ceil(width / 2);
  }
  return width;
}

/** Writes the leaf hashes of leaves [first, first + count) into HASHES[0..count). */
type LeafHasher = (first: number, count: number) => void;

/** Merkle trees on one kernel instance (its flavor decides SIMD or scalar). */
export class MerkleWasm {
  readonly sha: Sha256Wasm;

  constructor(sha: Sha256Wasm = defaultSha256Wasm()) {
    this.sha = sha;
  }

  /** SHA-256(0x00 ‖ data). */
  leafHash(data: Uint8Array): Uint8Array {
    if (!(data instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "leaf data must be a Uint8Array");
    this.sha.digestToOut(data, MERKLE_LEAF_PREFIX);
    return this.sha.out.slice();
  }

  /** MTH of `leaves` (RFC 6962 §2.1). */
  root(leaves: readonly Uint8Array[]): Uint8Array {
    checkLeaves(leaves);
    return this.rootWith(leaves.length, this.variableLeafHasher(leaves));
  }

  /** MTH of the leaves of `leafSize` bytes packed in `data` (e.g. 32-byte txids). */
  rootOfPackedLeaves(data: Uint8Array, leafSize: number): Uint8Array {
    const count = packedLeafCount(data, leafSize);
    return this.rootWith(count, this.packedLeafHasher(data, leafSize));
  }

  /**
   * MTH of `leaves` with their leaf hashes, packed 32 bytes each in leaf order: a caller that
   * hashes the same leaves into another tree later (`rootOfLeafHashes`) hashes none of them again.
   */
  rootAndLeafHashes(leaves: readonly Uint8Array[]): { readonly root: Uint8Array; readonly leafHashes: Uint8Array } {
    checkLeaves(leaves);
    const leafHashes = new Uint8Array(leaves.length * HASH_BYTES);
    const hashLeaves = this.variableLeafHasher(leaves);
    const root = this.rootWith(leaves.length, (first, count) => {
      hashLeaves(first, count);
      leafHashes.set(this.sha.hashes.subarray(0, count * HASH_BYTES), first * HASH_BYTES);
    });
    return { root, leafHashes };
  }

  /** MTH of the leaves whose leaf hashes (SHA-256(0x00 ‖ data), 32 bytes each) are packed in `leafHashes`. */
  rootOfLeafHashes(leafHashes: Uint8Array): Uint8Array {
    const count = packedLeafCount(leafHashes, HASH_BYTES);
    return this.rootWith(count, (first, n) => this.sha.hashes.set(leafHashes.subarray(first * HASH_BYTES, (first + n) * HASH_BYTES)));
  }

  /**
   * Leaf hashes of the leaves of `leafSize` bytes packed in `data`, packed 32 bytes each in leaf
   * order: the kernel hashes as many at a time as HASHES holds (four per pass on the SIMD build).
   */
  leafHashesOfPackedLeaves(data: Uint8Array, leafSize: number): Uint8Array {
    const count = packedLeafCount(data, leafSize);
    const hashLeaves = this.packedLeafHasher(data, leafSize);
    const leafHashes = new Uint8Array(count * HASH_BYTES);
    for (let first = 0; first < count; first += this.sha.hashCapacity) {
      const n = Math.min(this.sha.hashCapacity, count - first);
      hashLeaves(first, n);
      leafHashes.set(this.sha.hashes.subarray(0, n * HASH_BYTES), first * HASH_BYTES);
    }
    return leafHashes;
  }

  /** The tree of `leaves` with every level kept, for many audit paths without rehashing. */
  tree(leaves: readonly Uint8Array[]): MerkleTree {
    checkLeaves(leaves);
    return this.treeWith(leaves.length, this.variableLeafHasher(leaves));
  }

  /** The tree of the leaves of `leafSize` bytes packed in `data`, every level kept. */
  treeOfPackedLeaves(data: Uint8Array, leafSize: number): MerkleTree {
    const count = packedLeafCount(data, leafSize);
    return this.treeWith(count, this.packedLeafHasher(data, leafSize));
  }

  /** Audit path of leaf `index` of `leaves` (builds the tree; use `tree` for several paths). */
  proof(leaves: readonly Uint8Array[], index: number): MerkleProof {
    checkLeaves(leaves);
    checkIndex(index, leaves.length);
    return this.tree(leaves).proof(index);
  }

  /** Audit path of leaf `index` of the leaves of `leafSize` bytes packed in `data`. */
  proofOfPackedLeaves(data: Uint8Array, leafSize: number, index: number): MerkleProof {
    const count = packedLeafCount(data, leafSize);
    checkIndex(index, count);
    return this.treeOfPackedLeaves(data, leafSize).proof(index);
  }

  /**
   * Whether `proof` shows `leafData` at `proof.index` of a tree of `proof.size` leaves with
   * `root` (RFC 9162 §2.1.3.2). A proof inconsistent with its index and size is false; only
   * malformed arguments (wrong types, siblings or root not 32 bytes) throw.
   */
  verify(leafData: Uint8Array, proof: MerkleProof, root: Uint8Array): boolean {
    if (!(leafData instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "leaf data must be a Uint8Array");
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) {
      fail("MERKLE_BAD_INPUT", "root must be a 32-byte Uint8Array");
    }
    checkProofShape(proof);
    const { index, size, siblings } = proof;
    if (size > MERKLE_MAX_LEAVES || index >= size || siblings.length > this.sha.pathCapacity) return false;
    siblings.forEach((sibling, i) => this.sha.path.set(sibling, i * HASH_BYTES));
    return this.#pathLeadsTo(leafData, index, size, siblings.length, root);
  }

  /** `verify` of a path read with `readMerkleProof`: its packed siblings go to the kernel in one copy. */
  verifyPacked(leafData: Uint8Array, proof: PackedMerkleProof, root: Uint8Array): boolean {
    if (!(leafData instanceof Uint8Array)) fail("MERKLE_BAD_INPUT", "leaf data must be a Uint8Array");
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) {
      fail("MERKLE_BAD_INPUT", "root must be a 32-byte Uint8Array");
    }
    const { index, size, siblings } = proof;
    if (!Number.isSafeInteger(index) || index < 0) fail("MERKLE_BAD_INPUT", `proof index ${index} is not a non-negative integer`);
    if (!Number.isSafeInteger(size) || size < 1) fail("MERKLE_BAD_INPUT", `proof size ${size} is not a positive integer`);
    if (!(siblings instanceof Uint8Array) || siblings.length % HASH_BYTES !== 0) fail("MERKLE_BAD_INPUT", "packed siblings must be whole 32-byte hashes");
    const count = siblings.length / HASH_BYTES;
    if (size > MERKLE_MAX_LEAVES || index >= size || count > this.sha.pathCapacity) return false;
    this.sha.path.set(siblings);
    return this.#pathLeadsTo(leafData, index, size, count, root);
  }

  /** The kernel's RFC 9162 walk from `leafData` up the `count` siblings already in its PATH region, compared with `root`. */
  #pathLeadsTo(leafData: Uint8Array, index: number, size: number, count: number, root: Uint8Array): boolean {
    this.sha.digestToOut(leafData, MERKLE_LEAF_PREFIX);
    if (this.sha.kernel.merkleRootFromPath(index, size, count) !== 1) return false;
    const computed = this.sha.out;
    for (let i = 0; i < HASH_BYTES; i++) if (computed[i] !== root[i]) return false;
    return true;
  }

  private packedLeafHasher(data: Uint8Array, leafSize: number): LeafHasher {
    const { kernel, input } = this.sha;
    const perCall = Math.floor(input.length / leafSize);
    if (perCall === 0) {
      // Each leaf is longer than INPUT: stream it.
      return (first, count) => {
        for (let i = 0; i < count; i++) {
          const at = (first + i) * leafSize;
          this.sha.digestToOut(data.subarray(at, at + leafSize), MERKLE_LEAF_PREFIX);
          this.sha.hashes.set(this.sha.out, i * HASH_BYTES);
        }
      };
    }
    return (first, count) => {
      for (let done = 0; done < count; done += perCall) {
        const n = Math.min(perCall, count - done);
        const at = (first + done) * leafSize;
        input.set(data.subarray(at, at + n * leafSize));
        kernel.merkleHashLeavesFixed(n, leafSize, done);
      }
    };
  }

  private variableLeafHasher(leaves: readonly Uint8Array[]): LeafHasher {
    const { kernel, input, lengths, hashes } = this.sha;
    return (first, count) => {
      // A batch is a run of leaves packed in INPUT whose hashes go to HASHES[batchStart..].
      let batchStart = 0;
      let batchCount = 0;
      let bytes = 0;
      const flush = () => {
        if (batchCount > 0) kernel.merkleHashLeavesVariable(batchCount, batchStart);
        batchCount = 0;
        bytes = 0;
      };
      for (let i = 0; i < count; i++) {
        const leaf = leaves[first + i]!;
        if (leaf.length > input.length) {
          flush();
          this.sha.digestToOut(leaf, MERKLE_LEAF_PREFIX);
          hashes.set(this.sha.out, i * HASH_BYTES);
          continue;
        }
        if (bytes + leaf.length > input.length) flush();
        if (batchCount === 0) batchStart = i;
        input.set(leaf, bytes);
        lengths[batchCount++] = leaf.length;
        bytes += leaf.length;
      }
      flush();
    };
  }

  /** Chunk of a root computation: the largest power of two of hashes HASHES holds. */
  private get rootChunkLeaves(): number {
    return 2 ** Math.floor(Math.log2(this.sha.hashCapacity));
  }

  /**
   * Chunk of a tree kept whole: the largest power of two P whose 2P - 1 hashes on all levels fit
   * in HASHES (a smaller, last chunk has no more).
   */
  private get treeChunkLeaves(): number {
    return 2 ** Math.floor(Math.log2((this.sha.hashCapacity + 1) / 2));
  }

  private rootWith(count: number, hashLeaves: LeafHasher): Uint8Array {
    const { kernel } = this.sha;
    if (count === 0) return this.sha.sha256(new Uint8Array(0));
    const chunk = this.rootChunkLeaves;
    if (count <= chunk) {
      hashLeaves(0, count);
      kernel.merkleReduce(count);
      return this.sha.out.slice();
    }
    const roots: Uint8Array[] = [];
    for (let first = 0; first < count; first += chunk) {
      const n = Math.min(chunk, count - first);
      hashLeaves(first, n);
      kernel.merkleReduce(n);
      roots.push(this.sha.out.slice());
    }
    roots.forEach((r, i) => this.sha.hashes.set(r, i * HASH_BYTES));
    kernel.merkleReduce(roots.length);
    return this.sha.out.slice();
  }

  private treeWith(count: number, hashLeaves: LeafHasher): MerkleTree {
    if (count === 0) return new MerkleTree(0, this.sha.sha256(new Uint8Array(0)), 1, [], undefined);
    const chunk = this.treeChunkLeaves;
    const parts: TreeLevels[] = [];
    for (let first = 0; first < count; first += chunk) {
      const n = Math.min(chunk, count - first);
      hashLeaves(first, n);
      parts.push(this.levelsOfHashes(n));
    }
    if (parts.length === 1) return new MerkleTree(count, parts[0]!.root(), chunk, parts, undefined);
    parts.forEach((part, i) => this.sha.hashes.set(part.root(), i * HASH_BYTES));
    const top = this.levelsOfHashes(parts.length);
    return new MerkleTree(count, top.root(), chunk, parts, top);
  }

  /** Every level over the n hashes in HASHES, computed in the kernel and copied out at once. */
  private levelsOfHashes(n: number): TreeLevels {
    const total = this.sha.kernel.merkleLevels(n);
    invariant(total * HASH_BYTES <= this.sha.hashes.length, "tree levels overflow HASHES");
    return new TreeLevels(this.sha.hashes.slice(0, total * HASH_BYTES), n);
  }
}

/** All levels of one (sub)tree, leaves first, as the kernel lays them out one after another. */
class TreeLevels {
  /** Hash offset and count of each level, leaves first, root last. */
  private readonly offsets: number[] = [];
  private readonly counts: number[] = [];

  constructor(
    private readonly hashes: Uint8Array,
    leafCount: number,
  ) {
    for (let offset = 0, m = leafCount; ; offset += m, m = Math.ceil(m / 2)) {
      this.offsets.push(offset);
      this.counts.push(m);
      if (m === 1) break;
    }
  }

  private hashAt(level: number, position: number): Uint8Array {
    const at = (this.offsets[level]! + position) * HASH_BYTES;
    return this.hashes.slice(at, at + HASH_BYTES);
  }

  root(): Uint8Array {
    return this.hashAt(this.counts.length - 1, 0);
  }

  /** Node `position` of `level`; above this (sub)tree's root, that root (promoted there). */
  node(level: number, position: number): Uint8Array {
    return level < this.counts.length ? this.hashAt(level, position) : this.root();
  }

  /** Siblings of leaf `index` from the leaf level up; a promoted node has none on its level. */
  path(index: number): Uint8Array[] {
    const siblings: Uint8Array[] = [];
    for (let level = 0, k = index; level < this.counts.length - 1; level++, k >>= 1) {
      const sibling = k ^ 1;
      if (sibling < this.counts[level]!) siblings.push(this.hashAt(level, sibling));
    }
    return siblings;
  }
}

/**
 * A Merkle tree with every level kept (about 64 bytes per leaf), so any number of audit paths
 * come without rehashing. Trees beyond one kernel chunk keep each chunk's levels and the tree
 * of the chunk roots; a path is the path in its chunk followed by the chunk's path in that tree.
 */
export class MerkleTree {
  constructor(
    readonly size: number,
    readonly root: Uint8Array,
    private readonly chunkLeaves: number,
    private readonly chunks: readonly TreeLevels[],
    private readonly top: TreeLevels | undefined,
  ) {}

  /** RFC 6962 audit path of leaf `index`. */
  proof(index: number): MerkleProof {
    checkIndex(index, this.size);
    const home = Math.floor(index / this.chunkLeaves);
    const inner = this.chunks[home]!.path(index - home * this.chunkLeaves);
    const siblings = this.top === undefined ? inner : [...inner, ...this.top.path(home)];
    return { index, size: this.size, siblings };
  }

  /**
   * Node `position` of `level` (0: the leaf hashes) of the tree computed level by level, where
   * an unpaired last node appears unchanged on the level above; a copy. Level h of a chunked
   * tree is level h of its chunk below the chunks' height, level h - height of the chunk roots'
   * tree from there.
   */
  node(level: number, position: number): Uint8Array {
    const inRange = Number.isSafeInteger(level) && level >= 0 && Number.isSafeInteger(position) && position >= 0;
    if (!inRange || position >= levelWidth(this.size, level)) {
      fail("MERKLE_INDEX_OUT_OF_RANGE", `no node ${position} on level ${level} of a tree of ${this.size} leaves`);
    }
    const chunkHeight = Math.log2(this.chunkLeaves);
    if (this.top !== undefined && level >= chunkHeight) return this.top.node(level - chunkHeight, position);
    const perChunk = 2 ** (chunkHeight - level);
    const home = Math.floor(position / perChunk);
    return this.chunks[home]!.node(level, position - home * perChunk);
  }
}

function checkProofShape(proof: MerkleProof): void {
  if (typeof proof !== "object" || proof === null) fail("MERKLE_BAD_INPUT", "proof must be an object");
  const { index, size, siblings } = proof;
  if (!Number.isSafeInteger(index) || index < 0) fail("MERKLE_BAD_INPUT", `proof index ${index} is not a non-negative integer`);
  if (!Number.isSafeInteger(size) || size < 1) fail("MERKLE_BAD_INPUT", `proof size ${size} is not a positive integer`);
  if (!Array.isArray(siblings)) fail("MERKLE_BAD_INPUT", "proof siblings must be an array");
  siblings.forEach((s, i) => {
    if (!(s instanceof Uint8Array) || s.length !== HASH_BYTES) {
      fail("MERKLE_BAD_INPUT", `proof sibling ${i} is not a 32-byte Uint8Array`);
    }
  });
}

// Binary encoding of a MerkleProof (it travels inside Atomix proofs-of-acceptance):
//   uleb128(size) ‖ uleb128(index) ‖ sibling_0 ‖ … ‖ sibling_{k-1}   (32 bytes each)
// Integers are minimal unsigned LEB128 of at most 5 bytes with 1 <= size <= 2^32 - 1 and
// index < size. The sibling count k is not written: it is merklePathLength(index, size), and the
// encoding must end exactly after the k-th sibling.

const LEB128_MAX_BYTES = 5;

/** Appends the minimal uleb128 of `value` (0 ..= 2^32 - 1) to `out`. */
export function writeUleb128(value: number, out: number[]): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Throws MERKLE_BAD_PROOF_ENCODING: how every strict reader of a proof refuses its bytes. */
export function badEncoding(message: string): never {
  fail("MERKLE_BAD_PROOF_ENCODING", message);
}

/** Reads a minimal uleb128 <= 2^32 - 1 at `offset`; returns [value, next offset]. */
export function readUleb128(bytes: Uint8Array, offset: number, what: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < LEB128_MAX_BYTES; i++) {
    const at = offset + i;
    if (at >= bytes.length) badEncoding(`${what} is truncated at byte ${at}`);
    const byte = bytes[at]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) badEncoding(`${what} is not minimally encoded`);
      if (value > MERKLE_MAX_LEAVES) badEncoding(`${what} ${value} exceeds ${MERKLE_MAX_LEAVES}`);
      return [value, at + 1];
    }
    scale *= 0x80;
  }
  badEncoding(`${what} is longer than ${LEB128_MAX_BYTES} bytes`);
}

/** Compact binary form of a proof whose sibling count matches its index and size. */
export function encodeMerkleProof(proof: MerkleProof): Uint8Array {
  checkProofShape(proof);
  const { index, size, siblings } = proof;
  if (size > MERKLE_MAX_LEAVES) fail("MERKLE_BAD_PROOF", `proof size ${size} exceeds ${MERKLE_MAX_LEAVES}`);
  if (index >= size) fail("MERKLE_BAD_PROOF", `proof index ${index} is not below its size ${size}`);
  const expected = merklePathLength(index, size);
  if (siblings.length !== expected) {
    fail("MERKLE_BAD_PROOF", `a proof for leaf ${index} of ${size} has ${expected} siblings, got ${siblings.length}`);
  }
  const header: number[] = [];
  writeUleb128(size, header);
  writeUleb128(index, header);
  const bytes = new Uint8Array(header.length + expected * HASH_BYTES);
  bytes.set(header);
  siblings.forEach((s, i) => bytes.set(s, header.length + i * HASH_BYTES));
  return bytes;
}

/** Strict inverse of `encodeMerkleProof`: any other byte string is MERKLE_BAD_PROOF_ENCODING. Siblings are copies. */
export function decodeMerkleProof(bytes: Uint8Array): MerkleProof {
  return unpackMerkleProof(readMerkleProof(bytes));
}

/** A packed path with each sibling copied out (what a caller keeping the path holds). */
export function unpackMerkleProof({ index, size, siblings: packed }: PackedMerkleProof): MerkleProof {
  const siblings: Uint8Array[] = [];
  for (let at = 0; at < packed.length; at += HASH_BYTES) siblings.push(packed.slice(at, at + HASH_BYTES));
  return { index, size, siblings };
}

/** `decodeMerkleProof`'s rules, the siblings left packed as a view of `bytes` (nothing copied). */
export function readMerkleProof(bytes: Uint8Array): PackedMerkleProof {
  if (!(bytes instanceof Uint8Array)) badEncoding("an encoded proof must be a Uint8Array");
  const [size, afterSize] = readUleb128(bytes, 0, "size");
  if (size === 0) badEncoding("size is 0: an empty tree has no leaves to prove");
  const [index, afterIndex] = readUleb128(bytes, afterSize, "index");
  if (index >= size) badEncoding(`index ${index} is not below size ${size}`);
  const expected = merklePathLength(index, size);
  const length = afterIndex + expected * HASH_BYTES;
  if (bytes.length !== length) {
    badEncoding(`leaf ${index} of ${size} needs ${expected} siblings (${length} bytes in all), got ${bytes.length} bytes`);
  }
  return { index, size, siblings: bytes.subarray(afterIndex, length) };
}

let defaultMerkle: MerkleWasm | undefined;

function merkle(): MerkleWasm {
  defaultMerkle ??= new MerkleWasm();
  return defaultMerkle;
}

/** SHA-256(0x00 ‖ data), RFC 6962 §2.1. */
export function merkleLeafHash(data: Uint8Array): Uint8Array {
  return merkle().leafHash(data);
}

/** MTH(leaves), RFC 6962 §2.1; SHA-256("") for no leaves. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return merkle().root(leaves);
}

/** MTH(leaves) and their leaf hashes, packed (`MerkleWasm.rootAndLeafHashes`). */
export function merkleRootAndLeafHashes(leaves: readonly Uint8Array[]): { readonly root: Uint8Array; readonly leafHashes: Uint8Array } {
  return merkle().rootAndLeafHashes(leaves);
}

/** MTH of the leaves whose leaf hashes are packed in `leafHashes`, 32 bytes each. */
export function merkleRootOfLeafHashes(leafHashes: Uint8Array): Uint8Array {
  return merkle().rootOfLeafHashes(leafHashes);
}

/** MTH of the `leafSize`-byte leaves packed in `data` (the fast path for fixed-size leaves). */
export function merkleRootOfPackedLeaves(data: Uint8Array, leafSize: number): Uint8Array {
  return merkle().rootOfPackedLeaves(data, leafSize);
}

/** The tree of `leaves` with every level kept, for many audit paths. */
export function merkleTree(leaves: readonly Uint8Array[]): MerkleTree {
  return merkle().tree(leaves);
}

/** The tree of the `leafSize`-byte leaves packed in `data`, every level kept. */
export function merkleTreeOfPackedLeaves(data: Uint8Array, leafSize: number): MerkleTree {
  return merkle().treeOfPackedLeaves(data, leafSize);
}

/** Leaf hashes of the `leafSize`-byte leaves packed in `data`, packed 32 bytes each. */
export function merkleLeafHashesOfPackedLeaves(data: Uint8Array, leafSize: number): Uint8Array {
  return merkle().leafHashesOfPackedLeaves(data, leafSize);
}

/** RFC 6962 audit path of leaf `index`. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  return merkle().proof(leaves, index);
}

/** RFC 6962 audit path of leaf `index` of the `leafSize`-byte leaves packed in `data`. */
export function merkleProofOfPackedLeaves(data: Uint8Array, leafSize: number, index: number): MerkleProof {
  return merkle().proofOfPackedLeaves(data, leafSize, index);
}

/** RFC 9162 §2.1.3.2 verification of `proof` for `leafData` against `root`. */
export function verifyMerkleProof(leafData: Uint8Array, proof: MerkleProof, root: Uint8Array): boolean {
  return merkle().verify(leafData, proof, root);
}

/** `verifyMerkleProof` of a path read with `readMerkleProof` (siblings packed). */
export function verifyPackedMerkleProof(leafData: Uint8Array, proof: PackedMerkleProof, root: Uint8Array): boolean {
  return merkle().verifyPacked(leafData, proof, root);
}
