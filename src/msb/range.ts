/**
 * Range proofs: a contiguous run of leaves [start, end) of an RFC 6962 tree of `size` leaves,
 * shown against the tree's root with the fewest subtree hashes (what an MSB chunk carries, so a
 * bootstrapping node checks each chunk on arrival instead of after the whole body).
 *
 * The tree is RFC 6962 §2.1's Merkle Tree Hash: MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖
 * MTH(D[k:n])) with k the largest power of two strictly less than n, a leaf SHA-256(0x00 ‖ d)
 * (src/crypto/merkle.ts computes the same tree level by level). The proof walks that recursion
 * from [0, size): a subtree wholly outside the range is one proof hash (its MTH), a subtree
 * wholly inside is recomputed from the range's leaves, a subtree the boundary cuts is split
 * again. So the proof holds exactly the maximal subtrees left of `start` and right of `end` —
 * at most one per level on each side, ≤ 2⌈log2 size⌉ hashes — and none can be dropped: each
 * covers leaves the verifier does not have.
 *
 * Phases: 1. shape (`checkRange`, `rangeProofLength`: how many hashes (size, start, end) takes);
 * 2. prove (`proveRange` with any source of subtree roots; `proveRangeOfPackedLeaves` from the
 * whole body); 3. verify (`rootOfRange`, `verifyRange`: the same walk, proof hashes consumed left
 * to right, leaves hashed in the WASM kernel one whole inner subtree at a time).
 *
 * Strictness: a range that is not non-empty inside [0, size) is MSB_BAD_RANGE; a proof with more
 * or fewer hashes than the walk takes, or whose recomputed root is not the root, is MSB_BAD_PROOF.
 * A proof made in a tree of another size or for another position fails (its outside hashes or
 * their number differ). The verifier takes the size from the trusted header: two sizes whose
 * walks coincide (only the last outside subtree is longer) recompute the same root from the same
 * hashes, so the proof alone does not pin the size.
 */
import { BinaryWriter } from "../codec/binary.js";
import { HASH_BYTES } from "../codec/sizes.js";
import { MERKLE_MAX_LEAVES, MERKLE_NODE_PREFIX, merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { sha256 } from "../crypto/sha256.js";
import { sameBytes } from "../bytes.js";
import { IosError, check } from "../errors.js";
import type { MsbErrorCode } from "./interface.js";

/** Proof hashes of any range of a tree of at most 2^32 − 1 leaves: one per level (32) on each side. */
export const MAX_RANGE_PROOF_HASHES = 2 * 32;

/** MTH(D[from:to]) of the tree being proven (the caller's source of subtree roots). */
export type SubtreeRoot = (from: number, to: number) => Uint8Array;

function fail(code: MsbErrorCode, message: string): never {
  throw new IosError<MsbErrorCode>(code, message);
}

/** RFC 6962 §2.1: the split of n > 1 leaves, the largest power of two strictly less than n. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MSB_BAD_RANGE unless 0 ≤ start < end ≤ size ≤ 2^32 − 1, all integers. */
export function checkRange(size: number, start: number, end: number): void {
  check<MsbErrorCode>(Number.isInteger(size) && size >= 1 && size <= MERKLE_MAX_LEAVES, "MSB_BAD_RANGE", `tree size ${size} is not in [1, ${MERKLE_MAX_LEAVES}]`);
  check<MsbErrorCode>(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= size,
    "MSB_BAD_RANGE", `range [${start}, ${end}) is not a non-empty range of [0, ${size})`);
}

/**
 * The walk over MTH's recursion: `outside(from, to)` for each maximal subtree disjoint from the
 * range, `inside(from, to)` for each maximal subtree within it, both left to right; returns the
 * root as `combine` folds them.
 */
function walk<T>(size: number, start: number, end: number, visit: {
  outside: (from: number, to: number) => T; inside: (from: number, to: number) => T; combine: (left: T, right: T) => T;
}): T {
  const node = (from: number, to: number): T => {
    if (to <= start || from >= end) return visit.outside(from, to);
    if (start <= from && to <= end) return visit.inside(from, to);
    const k = splitPoint(to - from);
    const left = node(from, from + k);
    return visit.combine(left, node(from + k, to));
  };
  return node(0, size);
}

/** Hashes a proof of [start, end) in a tree of `size` leaves holds. */
export function rangeProofLength(size: number, start: number, end: number): number {
  checkRange(size, start, end);
  return walk(size, start, end, { outside: () => 1, inside: () => 0, combine: (a, b) => a + b });
}

/** The proof hashes of [start, end), left to right, each MTH of a subtree outside the range. */
export function proveRange(size: number, start: number, end: number, subtreeRoot: SubtreeRoot): Uint8Array[] {
  checkRange(size, start, end);
  const hashes: Uint8Array[] = [];
  walk(size, start, end, { outside: (from, to) => void hashes.push(subtreeRoot(from, to)), inside: () => undefined, combine: () => undefined });
  return hashes;
}

/** The proof of [start, end) over the `leafSize`-byte leaves packed in `data` (hashes every leaf outside the range once). */
export function proveRangeOfPackedLeaves(data: Uint8Array, leafSize: number, start: number, end: number): Uint8Array[] {
  check<MsbErrorCode>(data instanceof Uint8Array && Number.isInteger(leafSize) && leafSize >= 1 && data.length % leafSize === 0,
    "MSB_BAD_INPUT", `packed leaves are a whole number of ${leafSize}-byte leaves`);
  return proveRange(data.length / leafSize, start, end, (from, to) => merkleRootOfPackedLeaves(data.subarray(from * leafSize, to * leafSize), leafSize));
}

/** SHA-256(0x01 ‖ left ‖ right): an RFC 6962 §2.1 interior node. */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(BinaryWriter.ofSize(1 + 2 * HASH_BYTES).u8(MERKLE_NODE_PREFIX).bytes(left).bytes(right).finish());
}

/**
 * The root the leaves of [start, start + |leaves|) and the proof hashes give for a tree of `size`
 * leaves; MSB_BAD_PROOF when the proof has more or fewer hashes than the walk takes.
 */
export function rootOfRange(size: number, start: number, leaves: Uint8Array, leafSize: number, hashes: readonly Uint8Array[]): Uint8Array {
  check<MsbErrorCode>(leaves instanceof Uint8Array && Number.isInteger(leafSize) && leafSize >= 1 && leaves.length % leafSize === 0,
    "MSB_BAD_INPUT", `range leaves are a whole number of ${leafSize}-byte leaves`);
  const end = start + leaves.length / leafSize;
  checkRange(size, start, end);
  check<MsbErrorCode>(Array.isArray(hashes) && hashes.every((h) => h instanceof Uint8Array && h.length === HASH_BYTES),
    "MSB_BAD_INPUT", `proof hashes are ${HASH_BYTES}-byte arrays`);
  const expected = rangeProofLength(size, start, end);
  if (hashes.length !== expected) fail("MSB_BAD_PROOF", `range [${start}, ${end}) of ${size} leaves takes ${expected} proof hashes, got ${hashes.length}`);
  let next = 0;
  return walk(size, start, end, {
    outside: () => hashes[next++]!,
    inside: (from, to) => merkleRootOfPackedLeaves(leaves.subarray((from - start) * leafSize, (to - start) * leafSize), leafSize),
    combine: merkleNodeHash,
  });
}

/** MSB_BAD_PROOF unless the leaves at [start, …) and the proof hashes lead to `root`. */
export function verifyRange(root: Uint8Array, size: number, start: number, leaves: Uint8Array, leafSize: number, hashes: readonly Uint8Array[]): void {
  check<MsbErrorCode>(root instanceof Uint8Array && root.length === HASH_BYTES, "MSB_BAD_INPUT", `a root is ${HASH_BYTES} bytes`);
  if (!sameBytes(rootOfRange(size, start, leaves, leafSize, hashes), root)) {
    fail("MSB_BAD_PROOF", `leaves [${start}, ${start + leaves.length / leafSize}) and their proof do not lead to the root of ${size} leaves`);
  }
}
