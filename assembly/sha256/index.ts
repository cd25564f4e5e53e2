// SHA-256 (FIPS 180-4) and RFC 6962 Merkle kernel. The host writes inputs into the static
// regions below through long-lived views and passes only counts and lengths; results land in
// OUT or HASHES. The host validates every count against the capacities before calling.
import { HASHES, HASH_CAPACITY, INPUT, INPUT_CAPACITY, LENGTHS, MAX_PATH, OUT, PATH } from "./layout";
import { HOST_CTX, ctxFinal, ctxInit, ctxUpdate, hash64, initScalarTables } from "./scalar";
import { hash64x4, initLaneTables } from "./lanes4";
import { hashLeavesFixed, hashLeavesVariable, hashPairs, levels, reduce, rootFromPath } from "./merkle";

initScalarTables();
if (ASC_FEATURE_SIMD) initLaneTables();

export function inputPtr(): usize { return INPUT; }
export function inputCapacity(): u32 { return INPUT_CAPACITY; }
export function hashesPtr(): usize { return HASHES; }
export function hashCapacity(): u32 { return HASH_CAPACITY; }
export function lengthsPtr(): usize { return LENGTHS; }
export function pathPtr(): usize { return PATH; }
export function pathCapacity(): u32 { return MAX_PATH; }
export function outPtr(): usize { return OUT; }

/** Starts a streamed message (for messages longer than INPUT). */
export function sha256Init(): void { ctxInit(HOST_CTX); }
/** Appends INPUT[0..len) to the streamed message. */
export function sha256Update(len: u32): void { ctxUpdate(HOST_CTX, INPUT, len); }
/** Finishes the streamed message; the digest goes to OUT. */
export function sha256Final(): void { ctxFinal(HOST_CTX, OUT); }

/** SHA-256 of INPUT[0..len) into OUT; a 64-byte message takes the precomputed-padding path. */
export function sha256(len: u32): void {
  if (len == 64) {
    hash64(INPUT, OUT);
    return;
  }
  ctxInit(HOST_CTX);
  ctxUpdate(HOST_CTX, INPUT, len);
  ctxFinal(HOST_CTX, OUT);
}

/** SHA-256 of the n 64-byte messages packed in INPUT into HASHES[0..n). */
export function sha256Batch64(n: u32): void {
  let i: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i < n; i += 4) {
      const lanes = min<u32>(4, n - i);
      const p0 = INPUT + (<usize>i << 6);
      const o0 = HASHES + (<usize>i << 5);
      hash64x4(
        p0, lanes > 1 ? p0 + 64 : p0, lanes > 2 ? p0 + 128 : p0, lanes > 3 ? p0 + 192 : p0,
        o0, o0 + 32, o0 + 64, o0 + 96, lanes,
      );
    }
  } else {
    for (; i < n; i++) hash64(INPUT + (<usize>i << 6), HASHES + (<usize>i << 5));
  }
}

/** Leaf hashes of n leaves of `leafSize` bytes packed in INPUT into HASHES[first..first+n). */
export function merkleHashLeavesFixed(n: u32, leafSize: u32, first: u32): void { hashLeavesFixed(n, leafSize, first); }
/** Leaf hashes of n leaves packed in INPUT with byte lengths in LENGTHS into HASHES[first..first+n). */
export function merkleHashLeavesVariable(n: u32, first: u32): void { hashLeavesVariable(n, first); }
/** Node hashes H(0x01 ‖ left ‖ right) of the n pairs packed 64 bytes each in HASHES, into HASHES[0..n). */
export function merkleHashPairs(n: u32): void { hashPairs(n); }
/** Root of the n >= 1 hashes in HASHES (overwritten by the upper levels) into OUT. */
export function merkleReduce(n: u32): void { reduce(n); }
/** Every level of the tree over the n >= 1 hashes in HASHES, stored consecutively from HASHES; returns the count. */
export function merkleLevels(n: u32): u32 { return levels(n); }
/** Root implied by the leaf hash in OUT and `count` siblings in PATH, into OUT; 0 if malformed. */
export function merkleRootFromPath(index: u32, size: u32, count: u32): u32 { return rootFromPath(index, size, count); }
