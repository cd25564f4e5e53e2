// Merkle trees of RFC 6962 §2.1 computed level by level in the HASHES region.
// leaf = H(0x00 ‖ data), node = H(0x01 ‖ left ‖ right). An unpaired last node is promoted
// unchanged to the next level, which yields exactly MTH (split at the largest power of two
// below n) and never duplicates a node.
import { HASHES, INPUT, LENGTHS, OUT, PATH } from "./layout";
import { hashPrefixed } from "./scalar";
import { hashPrefixedx4, leafHash32x4, nodeHashx4 } from "./lanes4";

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;
/** Left ‖ right of one node hash assembled for path verification. */
const PAIR: usize = memory.data(64, 16);

/** Four leaf hashes of equal-length leaves on the SIMD build; spare lanes repeat p0. */
@inline function leafHashes4(len: usize, p0: usize, p1: usize, p2: usize, p3: usize, o0: usize, lanes: u32): void {
  if (len == 32) leafHash32x4(p0, p1, p2, p3, o0, o0 + 32, o0 + 64, o0 + 96, lanes);
  else hashPrefixedx4(LEAF_PREFIX, len, p0, p1, p2, p3, o0, o0 + 32, o0 + 64, o0 + 96, lanes);
}

/** Leaf hashes of n leaves of `leafSize` bytes packed in INPUT, into HASHES[first..first+n). */
export function hashLeavesFixed(n: u32, leafSize: usize, first: u32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i: u32 = 0; i < n; i += 4) {
      const lanes = min<u32>(4, n - i);
      const p0 = INPUT + <usize>i * leafSize;
      const p1 = lanes > 1 ? p0 + leafSize : p0;
      const p2 = lanes > 2 ? p0 + 2 * leafSize : p0;
      const p3 = lanes > 3 ? p0 + 3 * leafSize : p0;
      leafHashes4(leafSize, p0, p1, p2, p3, HASHES + (<usize>(first + i) << 5), lanes);
    }
  } else {
    for (let i: u32 = 0; i < n; i++) {
      hashPrefixed(LEAF_PREFIX, INPUT + <usize>i * leafSize, leafSize, HASHES + (<usize>(first + i) << 5));
    }
  }
}

/**
 * Leaf hashes of n leaves packed back to back in INPUT with lengths in LENGTHS, into
 * HASHES[first..first+n). On the SIMD build, four consecutive leaves of one length share a pass.
 */
export function hashLeavesVariable(n: u32, first: u32): void {
  let src = INPUT;
  let i: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    while (i + 4 <= n) {
      const at = LENGTHS + (<usize>i << 2);
      const len = load<u32>(at);
      if (load<u32>(at, 4) == len && load<u32>(at, 8) == len && load<u32>(at, 12) == len) {
        const step = <usize>len;
        leafHashes4(step, src, src + step, src + 2 * step, src + 3 * step, HASHES + (<usize>(first + i) << 5), 4);
        src += 4 * step;
        i += 4;
      } else {
        hashPrefixed(LEAF_PREFIX, src, len, HASHES + (<usize>(first + i) << 5));
        src += len;
        i++;
      }
    }
  }
  for (; i < n; i++) {
    const len = <usize>load<u32>(LENGTHS + (<usize>i << 2));
    hashPrefixed(LEAF_PREFIX, src, len, HASHES + (<usize>(first + i) << 5));
    src += len;
  }
}

/**
 * Writes the level above the m nodes at `src` to `dst`; returns its size, ceil(m / 2). `dst` may
 * be `src`: group g reads pairs 4g..4g+3 (bytes from 256g) and writes nodes 4g..4g+3 (bytes from
 * 128g), and every node hash reads its inputs before storing, so writing never overtakes reading.
 */
function nextLevel(src: usize, m: u32, dst: usize): u32 {
  const pairs = m >> 1;
  if (ASC_FEATURE_SIMD) {
    for (let i: u32 = 0; i < pairs; i += 4) {
      const lanes = min<u32>(4, pairs - i);
      const p0 = src + (<usize>i << 6);
      const o0 = dst + (<usize>i << 5);
      nodeHashx4(
        p0, lanes > 1 ? p0 + 64 : p0, lanes > 2 ? p0 + 128 : p0, lanes > 3 ? p0 + 192 : p0,
        o0, o0 + 32, o0 + 64, o0 + 96, lanes,
      );
    }
  } else {
    for (let i: u32 = 0; i < pairs; i++) hashPrefixed(NODE_PREFIX, src + (<usize>i << 6), 64, dst + (<usize>i << 5));
  }
  if (m & 1) memory.copy(dst + (<usize>pairs << 5), src + (<usize>(m - 1) << 5), 32);
  return pairs + (m & 1);
}

/**
 * Node hashes of the n (left ‖ right) pairs packed 64 bytes each in HASHES, into HASHES[0..n)
 * (nextLevel in place over 2n hashes): a caller hashing unrelated pairs, such as a multiproof's
 * level, packs them and hashes them in one call.
 */
export function hashPairs(n: u32): void {
  nextLevel(HASHES, n << 1, HASHES);
}

/** Root of the n >= 1 leaf hashes in HASHES into OUT, computing every level in place. */
export function reduce(n: u32): void {
  let m = n;
  while (m > 1) m = nextLevel(HASHES, m, HASHES);
  memory.copy(OUT, HASHES, 32);
}

/**
 * Every level of the tree over the n >= 1 leaf hashes in HASHES, stored one after another
 * (leaves, their parents, ..., the root), the root also into OUT. Returns the number of hashes
 * stored, at most 2n - 1 + log2(n); the host keeps n small enough for HASHES.
 */
export function levels(n: u32): u32 {
  let src = HASHES;
  let m = n;
  let total = n;
  while (m > 1) {
    const dst = src + (<usize>m << 5);
    m = nextLevel(src, m, dst);
    src = dst;
    total += m;
  }
  memory.copy(OUT, src, 32);
  return total;
}

@inline function hashNode(left: usize, right: usize, out: usize): void {
  memory.copy(PAIR, left, 32);
  memory.copy(PAIR + 32, right, 32);
  hashPrefixed(NODE_PREFIX, PAIR, 64, out);
}

/**
 * RFC 9162 §2.1.3.2: the root implied by the leaf hash in OUT, leaf `index` of a tree of `size`
 * leaves and the `count` siblings in PATH. The root replaces the leaf hash in OUT. Returns 0 when
 * the path cannot belong to such a tree (index out of range, too many or too few siblings).
 */
export function rootFromPath(index: u32, size: u32, count: u32): u32 {
  if (index >= size) return 0;
  let fn = index;
  let sn = size - 1;
  for (let i: u32 = 0; i < count; i++) {
    if (sn == 0) return 0;
    const sibling = PATH + (<usize>i << 5);
    if ((fn & 1) != 0 || fn == sn) {
      hashNode(sibling, OUT, OUT);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      hashNode(OUT, sibling, OUT);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 ? 1 : 0;
}
