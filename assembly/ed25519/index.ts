// Ed25519 signature verification with ZIP-215 rules (zips.z.cash/zip-0215; RFC 8032 §5.1.7
// with a cofactored equation): single verification, batch verification as one multi-scalar
// multiplication, point/scalar aggregation for collective signatures, and the curve part of
// ECVRF verification (RFC 9381 §5.3, with RFC 8032's strict decoding), and linear combinations
// of public points with ristretto255 encoding and decoding (RFC 9496 §4.3) for the DRP's proof
// checks. Secret data enters only the constant-time multiplications by a secret scalar (the
// curve part of ECVRF proving and of a CoSi commitment), which wipe their scalars; hashing and
// the scalar arithmetic of signing and proving stay in the host.
//
// Memory: fixed I/O buffers (exported pointers) plus a region above the heap base, sized by
// configure(): `slots` key entries (the public-key cache), then `batchItems` batch items, then as
// many key groups (a batch check merges the A terms of items that share a key: Σ z_i k_i over the
// group against one table, which is where repeated signers make a batch cheaper).
//
// Single verification splits S into 32-bit parts, S = Σ S_j 2^(32j), against precomputed tables
// of B_j = [2^(32j)]B. For a key verified more than once it splits k the same way against tables
// of A_j = [2^(32j)]A kept in its cache entry, so the Straus loop needs 32 doublings instead of
// 253 (measured: 8 parts beat 4 by 12%, for twice the table memory per key). The first verification
// with a key uses the whole k against A's table alone, which costs no more than building the
// extra tables would. A key entry holds A's odd multiples A, 3A, …, 31A (Cached, width-6 NAF),
// A itself (P3), a use counter and, once built, the odd multiples up to 15A_j of A₁…A₇. The tables of B_j are
// Affine (Z = 1), which saves one multiplication per addition.
//
// The SIMD and scalar builds compile the same code: the hot path is 64-bit multiply-accumulate
// on field limbs, and WebAssembly SIMD has no native 64-bit lane multiply on x64 (V8 emulates
// i64x2.mul), so both builds use scalar i64 products.
import { FE_BYTES, COMPACT_FE_BYTES, feCopy, feMul, feInvert, feFromBytes, feToBytes } from "./field";
import {
  POINT_BYTES, CACHED_BYTES, AFFINE_BYTES, initCurveConstants, p3Identity, p2Dbl, pointAdd, pointSub, p1p1ToP2, p1p1ToP3,
  zOf, p3ToCached, p3ToAffine, pointAddAffine, pointSubAffine, p3AddCached, p3Dbl, p3IsIdentity, decompress, compress, sqrtRatio,
  ristrettoEncode, ristrettoDecode,
} from "./point";
import { scReduce64, scMulAdd, scIsCanonical, scNaf } from "./scalar";
import { shaInit, shaUpdate, shaFinal } from "./sha512";

/**
 * NAF widths: 6 for a key's own table (16 odd multiples, for k or its lowest part), 5 for the
 * split tables of A₁…A₇ and for R (8 odd multiples), 8 for the base point (64 odd multiples).
 */
const KEY_WINDOW: i32 = 6;
const KEY_TABLE_ENTRIES: usize = 16;
const SMALL_WINDOW: i32 = 5;
const SMALL_TABLE_ENTRIES: usize = 8;
const SMALL_TABLE_BYTES: usize = SMALL_TABLE_ENTRIES * CACHED_BYTES;
const BASE_WINDOW: i32 = 8;
const BASE_TABLE_ENTRIES: usize = 64;
const KEY_TABLE_BYTES: usize = KEY_TABLE_ENTRIES * CACHED_BYTES;
const BASE_TABLE_BYTES: usize = BASE_TABLE_ENTRIES * AFFINE_BYTES;
/** Scalars split into SPLIT_PARTS parts of SPLIT_BITS bits (see above). */
const SPLIT_PARTS: i32 = 8;
const SPLIT_BITS: i32 = 32;
const SPLIT_BYTES: usize = <usize>SPLIT_BITS / 8;
/** Straus terms of a single verification: SPLIT_PARTS for S, at most SPLIT_PARTS for k. */
const MAX_TERMS: i32 = 2 * SPLIT_PARTS;

// Key entry layout: A's table first, so an entry pointer is also that table. Batch items keep
// a private entry of KEY_BASIC_BYTES (they never split k).
const KEY_TABLE: usize = 0;
const KEY_POINT: usize = KEY_TABLE + KEY_TABLE_BYTES;
const KEY_SPLIT_READY: usize = KEY_POINT + POINT_BYTES;
const KEY_USES: usize = KEY_SPLIT_READY + 4;
const KEY_GROUP_CHECK: usize = KEY_USES + 4;
const KEY_GROUP_INDEX: usize = KEY_GROUP_CHECK + 4;
const KEY_BASIC_BYTES: usize = (KEY_GROUP_INDEX + 4 + 63) & ~63;
const KEY_SPLIT_TABLES: usize = KEY_BASIC_BYTES;
const KEY_BYTES: usize = KEY_SPLIT_TABLES + <usize>(SPLIT_PARTS - 1) * SMALL_TABLE_BYTES;

/** Encoding of the base point B (RFC 8032 §5.1: y = 4/5, x even). */
const BASE_BYTES = memory.data<u8>([
  0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
]);
const ONE_SCALAR = memory.data<u8>([
  1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

const MESSAGE_CAPACITY: usize = 16384;
const SIG = memory.data(64, 16);
const PK = memory.data(32, 16);
const MSG = memory.data(<i32>MESSAGE_CAPACITY, 16);
const OUT = memory.data(64, 16);
const SCALAR_IN = memory.data(32, 16);
const FIELD_IN_A = memory.data(32, 16);
const FIELD_IN_B = memory.data(32, 16);

/** Odd multiples of B_j = [2^(32j)]B (Affine), j = 0 … SPLIT_PARTS − 1; table 0 serves the batch. */
const BASE_TABLES = memory.data(<i32>(<usize>SPLIT_PARTS * BASE_TABLE_BYTES), 16);
const SCALAR_PART = memory.data(32, 16);
const TERM_NAFS = memory.data(MAX_TERMS * 256, 16);
const TERM_TABLES = memory.data(MAX_TERMS * 4, 16);
const TERM_SIGNS = memory.data(MAX_TERMS * 4, 16);
const TERM_AFFINE = memory.data(MAX_TERMS * 4, 16);
const AFFINE_POINTS = memory.data(<i32>(BASE_TABLE_ENTRIES * POINT_BYTES), 16);
const AFFINE_PREFIX = memory.data(<i32>(BASE_TABLE_ENTRIES * FE_BYTES), 16);
const SPLIT_POINT = memory.data(<i32>POINT_BYTES, 16);
const SPLIT_NEXT = memory.data(<i32>POINT_BYTES, 16);
const DIGEST = memory.data(64, 16);
const K_SCALAR = memory.data(32, 16);
const SUM_SCALAR = memory.data(32, 16);
const SUM_ZERO = memory.data(32, 16);
const NAF_B = memory.data(256, 16);
const ACC = memory.data(<i32>POINT_BYTES, 16);
const STEP = memory.data(<i32>POINT_BYTES, 16);
const POINT_TMP = memory.data(<i32>POINT_BYTES, 16);
const CACHED_TMP = memory.data(<i32>CACHED_BYTES, 16);
const R_TMP = memory.data(<i32>POINT_BYTES, 16);
const R_CACHED = memory.data(<i32>CACHED_BYTES, 16);
const FE_A = memory.data(<i32>FE_BYTES, 16);
const FE_B = memory.data(<i32>FE_BYTES, 16);
const FE_C = memory.data(<i32>FE_BYTES, 16);

// Batch item layout.
const ITEM_R_TABLE: usize = 0;
const ITEM_A_KEY: usize = ITEM_R_TABLE + SMALL_TABLE_BYTES;
const ITEM_NAF_R: usize = ITEM_A_KEY + KEY_BASIC_BYTES;
const ITEM_K: usize = ITEM_NAF_R + 256;
const ITEM_S: usize = ITEM_K + 32;
const ITEM_ZS: usize = ITEM_S + 32;
const ITEM_ZK: usize = ITEM_ZS + 32;
const ITEM_A_PTR: usize = ITEM_ZK + 32;
const ITEM_TOP_R: usize = ITEM_A_PTR + 4;
const ITEM_VALID: usize = ITEM_TOP_R + 4;
const ITEM_BYTES: usize = (ITEM_VALID + 4 + 63) & ~63;

// Key group layout (scratch of one batch check).
const GROUP_NAF: usize = 0;
const GROUP_SCALAR: usize = GROUP_NAF + 256;
const GROUP_KEY: usize = GROUP_SCALAR + 32;
const GROUP_BYTES: usize = (GROUP_KEY + 4 + 63) & ~63;

let regionBase: usize = 0;
let slotCount: usize = 0;
let batchItemCount: usize = 0;
/** Numbers batch checks, so a key entry's group fields from an earlier check read as stale. */
let groupCheck: u32 = 0;

// ---- host interface: buffers ------------------------------------------------------------

export function signaturePtr(): usize { return SIG; }
export function publicKeyPtr(): usize { return PK; }
export function messagePtr(): usize { return MSG; }
export function messageCapacity(): usize { return MESSAGE_CAPACITY; }
export function outputPtr(): usize { return OUT; }
export function scalarPtr(): usize { return SCALAR_IN; }
export function fieldInputPtr(): usize { return FIELD_IN_A; }
export function fieldInput2Ptr(): usize { return FIELD_IN_B; }

/**
 * table ← p, p + d, p + 2d, … (`entries` points, Cached) for a P3 point p and a Cached step d,
 * with `scratch` (P3) as the running sum. d may be the table's first entry (consecutive multiples).
 */
function buildProgression(table: usize, p: usize, step: usize, entries: usize, scratch: usize): void {
  p3ToCached(table, p);
  memory.copy(scratch, p, POINT_BYTES);
  for (let i: usize = 1; i < entries; i++) {
    p3AddCached(scratch, scratch, step);
    p3ToCached(table + i * CACHED_BYTES, scratch);
  }
}

/** table ← P, 3P, …, (2·entries − 1)P in Cached form, for a P3 point p. */
function buildOddMultiples(table: usize, p: usize, entries: usize): void {
  p3Dbl(STEP, p);
  p3ToCached(CACHED_TMP, STEP);
  buildProgression(table, p, CACHED_TMP, entries, POINT_TMP);
}

/**
 * table ← B, 3B, …, (2·BASE_TABLE_ENTRIES − 1)B in Affine form for a P3 point b, normalised
 * with one inversion for the whole table (Montgomery's simultaneous inversion).
 */
function buildAffineOddMultiples(table: usize, b: usize): void {
  p3Dbl(STEP, b);
  p3ToCached(CACHED_TMP, STEP);
  memory.copy(AFFINE_POINTS, b, POINT_BYTES);
  feCopy(AFFINE_PREFIX, zOf(b));
  for (let i: usize = 1; i < BASE_TABLE_ENTRIES; i++) {
    const point = AFFINE_POINTS + i * POINT_BYTES;
    p3AddCached(point, point - POINT_BYTES, CACHED_TMP);
    feMul(AFFINE_PREFIX + i * FE_BYTES, AFFINE_PREFIX + (i - 1) * FE_BYTES, zOf(point));
  }
  feInvert(FE_A, AFFINE_PREFIX + (BASE_TABLE_ENTRIES - 1) * FE_BYTES); // 1 / (Z₀ ⋯ Z_last)
  for (let i = BASE_TABLE_ENTRIES - 1; i > 0; i--) {
    const point = AFFINE_POINTS + i * POINT_BYTES;
    feMul(FE_B, FE_A, AFFINE_PREFIX + (i - 1) * FE_BYTES); // 1 / Z_i
    feMul(FE_A, FE_A, zOf(point));                        // 1 / (Z₀ ⋯ Z_{i−1})
    p3ToAffine(table + i * AFFINE_BYTES, point, FE_B);
  }
  p3ToAffine(table, AFFINE_POINTS, FE_A);
}

/** p (P3) ← [2^SPLIT_BITS]p. */
function timesSplitRadix(p: usize): void {
  for (let i = 0; i < SPLIT_BITS - 1; i++) {
    p2Dbl(STEP, p);
    p1p1ToP2(p, STEP);
  }
  p2Dbl(STEP, p);
  p1p1ToP3(p, STEP);
}

/** tables[j − 1] ← odd multiples of [2^(32j)]p for j = 1 … SPLIT_PARTS − 1, stride bytes apart. */
function buildSplitTables(tables: usize, stride: usize, p: usize, affine: bool): void {
  memory.copy(SPLIT_POINT, p, POINT_BYTES);
  for (let j = 1; j < SPLIT_PARTS; j++) {
    timesSplitRadix(SPLIT_POINT);
    memory.copy(SPLIT_NEXT, SPLIT_POINT, POINT_BYTES);
    const table = tables + <usize>(j - 1) * stride;
    if (affine) buildAffineOddMultiples(table, SPLIT_NEXT);
    else buildOddMultiples(table, SPLIT_NEXT, SMALL_TABLE_ENTRIES);
  }
}

/** Builds constants and the base-point tables: odd multiples of B_j = [2^(32j)]B. */
export function init(): void {
  initCurveConstants();
  decompress(R_TMP, BASE_BYTES);
  memory.copy(SECRET_BASE, R_TMP, POINT_BYTES);
  buildAffineOddMultiples(BASE_TABLES, R_TMP);
  buildSplitTables(BASE_TABLES + BASE_TABLE_BYTES, BASE_TABLE_BYTES, R_TMP, true);
}

/** Sizes the key cache (slots) and the batch arena; returns false if memory cannot grow. */
export function configure(slots: i32, batchItems: i32): bool {
  regionBase = (__heap_base + 63) & ~(<usize>63);
  const end = regionBase + <usize>slots * KEY_BYTES + <usize>batchItems * (ITEM_BYTES + GROUP_BYTES);
  const have = <usize>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return false;
  }
  slotCount = <usize>slots;
  batchItemCount = <usize>batchItems;
  return true;
}

@inline function slotEntry(slot: i32): usize {
  return regionBase + <usize>slot * KEY_BYTES;
}

@inline function itemPtr(i: i32): usize {
  return regionBase + slotCount * KEY_BYTES + <usize>i * ITEM_BYTES;
}

@inline function groupPtr(g: i32): usize {
  return regionBase + slotCount * KEY_BYTES + batchItemCount * ITEM_BYTES + <usize>g * GROUP_BYTES;
}

/** Decodes the public-key buffer into key entry `entry`; false if it is not a point. */
function decodeKey(entry: usize): bool {
  if (!decompress(entry + KEY_POINT, PK)) return false;
  buildOddMultiples(entry + KEY_TABLE, entry + KEY_POINT, KEY_TABLE_ENTRIES);
  store<u32>(entry + KEY_SPLIT_READY, 0);
  store<u32>(entry + KEY_USES, 0);
  store<u32>(entry + KEY_GROUP_CHECK, 0);
  return true;
}

/** Table of A_j for a full key entry (j = 0 is A's own table). */
@inline function keyPartTable(entry: usize, j: i32): usize {
  return j == 0 ? entry + KEY_TABLE : entry + KEY_SPLIT_TABLES + <usize>(j - 1) * SMALL_TABLE_BYTES;
}

/** Decodes the public-key buffer into cache slot `slot`; false if it is not a point. */
export function prepareKey(slot: i32): bool {
  return decodeKey(slotEntry(slot));
}

// ---- hashing ------------------------------------------------------------------------------

/** Starts k = SHA-512(R ‖ A ‖ M) over the original encodings in the signature/key buffers. */
export function challengeStart(): void {
  shaInit();
  shaUpdate(SIG, 32);
  shaUpdate(PK, 32);
}

/** Absorbs `length` message bytes from the message buffer. */
export function hashUpdate(length: usize): void {
  shaUpdate(MSG, length);
}

/** Plain SHA-512: hashReset, hashUpdate*, hashDigest → 64 bytes at the output buffer. */
export function hashReset(): void {
  shaInit();
}

export function hashDigest(): void {
  shaFinal(OUT);
}

// ---- single verification ----------------------------------------------------------------

@inline function addDigit(r: usize, p: usize, table: usize, digit: i32): void {
  if (digit > 0) pointAdd(r, p, table + <usize>(digit >> 1) * CACHED_BYTES);
  else pointSub(r, p, table + <usize>((-digit) >> 1) * CACHED_BYTES);
}

@inline function addAffineDigit(r: usize, p: usize, table: usize, digit: i32): void {
  if (digit > 0) pointAddAffine(r, p, table + <usize>(digit >> 1) * AFFINE_BYTES);
  else pointSubAffine(r, p, table + <usize>((-digit) >> 1) * AFFINE_BYTES);
}

let termCount: i32 = 0;
let termTop: i32 = 0;

/** Adds the Straus term [scalar]P (negated if `negate`) for P with the given odd-multiples table. */
function addTerm(scalar: usize, table: usize, window: i32, negate: bool, affine: bool): void {
  const naf = TERM_NAFS + <usize>termCount * 256;
  const top = scNaf(naf, scalar, window);
  if (top == 0) return;
  store<u32>(TERM_TABLES + <usize>termCount * 4, <u32>table);
  store<i32>(TERM_SIGNS + <usize>termCount * 4, negate ? -1 : 1);
  store<u32>(TERM_AFFINE + <usize>termCount * 4, affine ? 1 : 0);
  termCount++;
  termTop = max(termTop, top);
}

/** Adds the terms [s_j]B_j (negated if `negate`) for the 32-bit parts s_j of the 32-byte scalar s. */
function addBaseTerms(s: usize, negate: bool): void {
  for (let j = 0; j < SPLIT_PARTS; j++) {
    memory.copy(SCALAR_PART, s + <usize>j * SPLIT_BYTES, SPLIT_BYTES);
    memory.fill(SCALAR_PART + SPLIT_BYTES, 0, 32 - SPLIT_BYTES);
    addTerm(SCALAR_PART, BASE_TABLES + <usize>j * BASE_TABLE_BYTES, BASE_WINDOW, negate, true);
  }
}

/** ACC (P3) ← the sum of the terms added since termCount and termTop were reset, by Straus's method. */
function strausSum(): void {
  p3Identity(ACC);
  for (let i = termTop - 1; i >= 0; i--) {
    p2Dbl(STEP, ACC);
    for (let t = 0; t < termCount; t++) {
      const digit = <i32>load<i8>(TERM_NAFS + <usize>t * 256 + <usize>i);
      if (digit == 0) continue;
      p1p1ToP3(ACC, STEP);
      const table = <usize>load<u32>(TERM_TABLES + <usize>t * 4);
      const signed = digit * load<i32>(TERM_SIGNS + <usize>t * 4);
      if (load<u32>(TERM_AFFINE + <usize>t * 4) != 0) addAffineDigit(STEP, ACC, table, signed);
      else addDigit(STEP, ACC, table, signed);
    }
    if (i == 0) p1p1ToP3(ACC, STEP);
    else p1p1ToP2(ACC, STEP);
  }
}

/**
 * True iff [8]([k]A + R − [S]B) is the identity: the cofactored RFC 8032 §5.1.7 equation
 * [8][S]B = [8]R + [8][k]A, by Straus's method over width-w NAFs of the parts of S and of k
 * (whole, or split in 32-bit parts against the key's split tables when `splitKey`).
 */
function cofactoredCheck(key: usize, rCached: usize, k: usize, s: usize, splitKey: bool): bool {
  termCount = 0;
  termTop = 0;
  addBaseTerms(s, true);
  if (splitKey) {
    if (load<u32>(key + KEY_SPLIT_READY) == 0) {
      buildSplitTables(key + KEY_SPLIT_TABLES, SMALL_TABLE_BYTES, key + KEY_POINT, false);
      store<u32>(key + KEY_SPLIT_READY, 1);
    }
    for (let j = 0; j < SPLIT_PARTS; j++) {
      memory.copy(SCALAR_PART, k + <usize>j * SPLIT_BYTES, SPLIT_BYTES);
      memory.fill(SCALAR_PART + SPLIT_BYTES, 0, 32 - SPLIT_BYTES);
      addTerm(SCALAR_PART, keyPartTable(key, j), j == 0 ? KEY_WINDOW : SMALL_WINDOW, false, false);
    }
  } else {
    addTerm(k, key + KEY_TABLE, KEY_WINDOW, false, false);
  }
  strausSum();
  p3AddCached(ACC, ACC, rCached);
  return isSmallOrder(ACC);
}

/** [8]P = identity, for a P3/P2 point (three doublings). */
function isSmallOrder(p: usize): bool {
  p2Dbl(STEP, p);
  p1p1ToP2(p, STEP);
  p2Dbl(STEP, p);
  p1p1ToP2(p, STEP);
  p2Dbl(STEP, p);
  p1p1ToP2(p, STEP);
  return p3IsIdentity(p);
}

/**
 * Completes a single verification started with challengeStart/hashUpdate. The key must be in
 * table `slot` (prepareKey). Returns false for S ≥ L, an undecodable R or a failed equation.
 */
export function verifyFinish(slot: i32): bool {
  shaFinal(DIGEST);
  if (!scIsCanonical(SIG + 32)) return false;
  if (!decompress(R_TMP, SIG)) return false;
  scReduce64(K_SCALAR, DIGEST);
  p3ToCached(R_CACHED, R_TMP);
  const key = slotEntry(slot);
  const uses = load<u32>(key + KEY_USES);
  store<u32>(key + KEY_USES, uses + 1);
  const splitKey = uses > 0 || load<u32>(key + KEY_SPLIT_READY) != 0;
  return cofactoredCheck(key, R_CACHED, K_SCALAR, SIG + 32, splitKey);
}

/** Single verification of a message that fits the message buffer. */
export function verify(slot: i32, messageLength: usize): bool {
  challengeStart();
  shaUpdate(MSG, messageLength);
  return verifyFinish(slot);
}

// ---- ECVRF verification (RFC 9381 §5.3, ECVRF-EDWARDS25519-SHA512-TAI) --------------------
// The host hashes (encode_to_curve's candidates, the challenge, proof_to_hash); the kernel
// decodes strictly, clears cofactors and computes U = [s]B − [c]Y and V = [s]H − [c]Gamma.
// Input  VRF_IN:  Y (32) ‖ Gamma (32) ‖ c (16, zero-padded to 32) ‖ s (32)
// Output VRF_OUT: H (32) ‖ U (32) ‖ V (32) ‖ [8]Gamma (32), encoded (RFC 8032 §5.1.2)

const VRF_IN = memory.data(128, 16);
const VRF_OUT = memory.data(128, 16);
const VRF_Y = memory.data(<i32>POINT_BYTES, 16);
const VRF_H = memory.data(<i32>POINT_BYTES, 16);
const VRF_GAMMA = memory.data(<i32>POINT_BYTES, 16);
const VRF_Y_TABLE = memory.data(<i32>SMALL_TABLE_BYTES, 16);
const VRF_H_TABLE = memory.data(<i32>SMALL_TABLE_BYTES, 16);
const VRF_GAMMA_TABLE = memory.data(<i32>SMALL_TABLE_BYTES, 16);
const CANONICAL = memory.data(32, 16);

export function vrfInputPtr(): usize { return VRF_IN; }
export function vrfOutputPtr(): usize { return VRF_OUT; }

/**
 * RFC 8032 §5.1.3 decoding, which RFC 9381 uses (§5.5 string_to_point): unlike ZIP-215, y ≥ p
 * and x = 0 with the sign bit set are refused. A point's canonical encoding is its compression,
 * so an encoding decodes strictly iff it decodes and compresses back to itself.
 */
function decodeStrict(p: usize, s: usize): bool {
  if (!decompress(p, s)) return false;
  compress(CANONICAL, p);
  return memory.compare(CANONICAL, s, 32) == 0;
}

/** p (P3) ← [8]p: cofactor clearing (RFC 9381 §5.4.1.1 step 5, §5.2 step 6). */
function timesCofactor(p: usize): void {
  p3Dbl(p, p);
  p3Dbl(p, p);
  p3Dbl(p, p);
}

/** Decodes Y strictly and refuses a small-order key (validate_key, §5.4.5). */
export function vrfDecodeKey(): bool {
  if (!decodeStrict(VRF_Y, VRF_IN)) return false;
  memory.copy(POINT_TMP, VRF_Y, POINT_BYTES);
  timesCofactor(POINT_TMP);
  if (p3IsIdentity(POINT_TMP)) return false;
  buildOddMultiples(VRF_Y_TABLE, VRF_Y, SMALL_TABLE_ENTRIES);
  return true;
}

/**
 * One try of encode_to_curve (§5.4.1.1 steps 4–6) on the 32-byte candidate in the field input
 * buffer: true (H set, encoded at VRF_OUT) when it decodes strictly and its 8-multiple is not
 * the identity.
 */
export function vrfTryHash(): bool {
  if (!decodeStrict(VRF_H, FIELD_IN_A)) return false;
  timesCofactor(VRF_H);
  if (p3IsIdentity(VRF_H)) return false;
  compress(VRF_OUT, VRF_H);
  buildOddMultiples(VRF_H_TABLE, VRF_H, SMALL_TABLE_ENTRIES);
  return true;
}

/**
 * Decodes the proof (§5.4.4: Gamma strictly, s < L) and computes U, V and [8]Gamma into
 * VRF_OUT, after vrfDecodeKey and a successful vrfTryHash; false when the proof does not decode.
 */
export function vrfFinish(): bool {
  const c = VRF_IN + 64;
  const s = VRF_IN + 96;
  if (!scIsCanonical(s)) return false;
  if (!decodeStrict(VRF_GAMMA, VRF_IN + 32)) return false;
  termCount = 0;
  termTop = 0;
  addBaseTerms(s, false);
  addTerm(c, VRF_Y_TABLE, SMALL_WINDOW, true, false);
  strausSum();
  compress(VRF_OUT + 32, ACC);
  buildOddMultiples(VRF_GAMMA_TABLE, VRF_GAMMA, SMALL_TABLE_ENTRIES);
  termCount = 0;
  termTop = 0;
  addTerm(s, VRF_H_TABLE, SMALL_WINDOW, false, false);
  addTerm(c, VRF_GAMMA_TABLE, SMALL_WINDOW, true, false);
  strausSum();
  compress(VRF_OUT + 64, ACC);
  memory.copy(POINT_TMP, VRF_GAMMA, POINT_BYTES);
  timesCofactor(POINT_TMP);
  compress(VRF_OUT + 96, POINT_TMP);
  return true;
}

// ---- multiplication by secret scalars (VRF proving, CoSi commitments) --------------------
// Constant time in the scalar, as ref10's ge_scalarmult: the scalar (below 2^255) as 64 signed
// radix-16 digits in [−8, 8]; a table of P, 2P, …, 8P; per digit four doublings, then the entry of
// its magnitude picked by a masked pass over the whole table, negated by a masked swap, and added
// (the identity for digit 0). No branch and no memory address depends on the scalar, and the
// scalar buffer and digits are wiped after use. The points multiplied (H, B) are public.

const SECRET_TABLE_ENTRIES: usize = 8;
const SECRET_DIGITS_COUNT: usize = 64;
const CACHED_WORDS: usize = CACHED_BYTES >> 2;
const COMPACT_WORDS: usize = COMPACT_FE_BYTES >> 2;
/** Two secret scalars, 32 bytes little-endian each: the VRF's x and k, or a CoSi nonce first. */
const SECRET_SCALARS = memory.data(64, 16);
const SECRET_DIGITS = memory.data(<i32>SECRET_DIGITS_COUNT, 16);
const SECRET_TABLE = memory.data(<i32>(SECRET_TABLE_ENTRIES * CACHED_BYTES), 16);
const SECRET_PICK = memory.data(<i32>CACHED_BYTES, 16);
const SECRET_STEP = memory.data(<i32>POINT_BYTES, 16);
const SECRET_RESULT = memory.data(<i32>POINT_BYTES, 16);
const SECRET_BASE = memory.data(<i32>POINT_BYTES, 16);

export function secretScalarsPtr(): usize { return SECRET_SCALARS; }

/** digits ← the scalar's 64 signed radix-16 digits e_i in [−8, 8], scalar = Σ e_i 16^i. */
function recodeRadix16(digits: usize, scalar: usize): void {
  for (let i: usize = 0; i < 32; i++) {
    const byte = <i32>load<u8>(scalar + i);
    store<i8>(digits + 2 * i, <i8>(byte & 15));
    store<i8>(digits + 2 * i + 1, <i8>(byte >> 4));
  }
  let carry: i32 = 0;
  for (let i: usize = 0; i < SECRET_DIGITS_COUNT - 1; i++) {
    const e = <i32>load<i8>(digits + i) + carry;
    carry = (e + 8) >> 4;
    store<i8>(digits + i, <i8>(e - (carry << 4)));
  }
  store<i8>(digits + SECRET_DIGITS_COUNT - 1, <i8>(<i32>load<i8>(digits + SECRET_DIGITS_COUNT - 1) + carry));
}

/** SECRET_PICK ← digit·P from SECRET_TABLE (Cached), reading every entry whatever the digit. */
function pickSecretEntry(digit: i32): void {
  const negative = <i32>(<u32>digit >> 31);
  const magnitude = digit - ((-negative & digit) << 1);
  memory.fill(SECRET_PICK, 0, CACHED_BYTES);
  store<i32>(SECRET_PICK, 1);
  store<i32>(SECRET_PICK + COMPACT_FE_BYTES, 1);
  store<i32>(SECRET_PICK + 2 * COMPACT_FE_BYTES, 1);
  for (let j: usize = 0; j < SECRET_TABLE_ENTRIES; j++) {
    const mask = -<i32>((<u32>(magnitude ^ <i32>(j + 1)) - 1) >> 31);
    const entry = SECRET_TABLE + j * CACHED_BYTES;
    for (let w: usize = 0; w < CACHED_WORDS; w++) {
      const at = w << 2;
      const current = load<i32>(SECRET_PICK + at);
      store<i32>(SECRET_PICK + at, current ^ ((current ^ load<i32>(entry + at)) & mask));
    }
  }
  // −(Y+X, Y−X, Z, 2dT) = (Y−X, Y+X, Z, −2dT)
  const negate = -negative;
  for (let w: usize = 0; w < COMPACT_WORDS; w++) {
    const at = w << 2;
    const plus = load<i32>(SECRET_PICK + at);
    const minus = load<i32>(SECRET_PICK + COMPACT_FE_BYTES + at);
    const swap = (plus ^ minus) & negate;
    store<i32>(SECRET_PICK + at, plus ^ swap);
    store<i32>(SECRET_PICK + COMPACT_FE_BYTES + at, minus ^ swap);
    const t = load<i32>(SECRET_PICK + 3 * COMPACT_FE_BYTES + at);
    store<i32>(SECRET_PICK + 3 * COMPACT_FE_BYTES + at, t ^ ((t ^ -t) & negate));
  }
}

/** r (P3) = [scalar]p for a P3 p (r must not alias p) and a scalar below 2^255, constant time in the scalar. */
function multiplySecret(r: usize, p: usize, scalar: usize): void {
  recodeRadix16(SECRET_DIGITS, scalar);
  buildProgression(SECRET_TABLE, p, SECRET_TABLE, SECRET_TABLE_ENTRIES, SECRET_STEP);
  p3Identity(r);
  for (let i = <i32>SECRET_DIGITS_COUNT - 1; i >= 0; i--) {
    if (i < <i32>SECRET_DIGITS_COUNT - 1) {
      p3Dbl(r, r);
      p3Dbl(r, r);
      p3Dbl(r, r);
      p3Dbl(r, r);
    }
    pickSecretEntry(<i32>load<i8>(SECRET_DIGITS + <usize>i));
    p3AddCached(r, r, SECRET_PICK);
  }
  memory.fill(SECRET_DIGITS, 0, SECRET_DIGITS_COUNT);
  memory.fill(SECRET_PICK, 0, CACHED_BYTES);
}

/**
 * The curve part of ECVRF proving (RFC 9381 §5.1 steps 4–7), after a successful vrfTryHash (H
 * set), with x and k in the secret-scalar buffer: VRF_OUT ← H ‖ [x]H (Gamma) ‖ [k]B ‖ [k]H.
 * The scalars are wiped.
 */
export function vrfProvePoints(): void {
  multiplySecret(SECRET_RESULT, VRF_H, SECRET_SCALARS);
  compress(VRF_OUT + 32, SECRET_RESULT);
  multiplySecret(SECRET_RESULT, SECRET_BASE, SECRET_SCALARS + 32);
  compress(VRF_OUT + 64, SECRET_RESULT);
  multiplySecret(SECRET_RESULT, VRF_H, SECRET_SCALARS + 32);
  compress(VRF_OUT + 96, SECRET_RESULT);
  memory.fill(SECRET_SCALARS, 0, 64);
}

/** OUT ← the encoding of [v]B for the secret scalar v first in the secret-scalar buffer, wiped after. */
export function baseMultiplySecret(): void {
  multiplySecret(SECRET_RESULT, SECRET_BASE, SECRET_SCALARS);
  compress(OUT, SECRET_RESULT);
  memory.fill(SECRET_SCALARS, 0, 64);
}

// ---- linear combinations of public points (ristretto255 verification, RFC 9496) ----------
// Σ s_i P_i over up to COMBINATION_TERMS points given in extended coordinates, each coordinate
// 32 bytes little-endian below p, X ‖ Y ‖ Z ‖ T; scalars 32 bytes little-endian below 2^253.
// Output COMBINATION_OUT: the sum's ristretto255 encoding (32) ‖ its extended coordinates (128).
// Variable time: public points and scalars only (proof checks, interpolation of public shares).

const COMBINATION_TERMS: i32 = MAX_TERMS;
const COORDINATES_BYTES: usize = 128;
const COMBINATION_POINTS = memory.data(COMBINATION_TERMS * <i32>COORDINATES_BYTES, 16);
const COMBINATION_SCALARS = memory.data(COMBINATION_TERMS * 32, 16);
const COMBINATION_TABLES = memory.data(COMBINATION_TERMS * <i32>SMALL_TABLE_BYTES, 16);
const COMBINATION_OUT = memory.data(32 + <i32>COORDINATES_BYTES, 16);

export function combinationPointsPtr(): usize { return COMBINATION_POINTS; }
export function combinationScalarsPtr(): usize { return COMBINATION_SCALARS; }
export function combinationOutputPtr(): usize { return COMBINATION_OUT; }
export function combinationCapacity(): i32 { return COMBINATION_TERMS; }

/** Coordinates of p (P3) into the output's coordinate part. */
function storeExtended(p: usize): void {
  for (let c: usize = 0; c < 4; c++) feToBytes(COMBINATION_OUT + 32 + c * 32, p + c * FE_BYTES);
}

/**
 * Decodes the ristretto255 encoding in the public-key buffer (RFC 9496 §4.3.1) into the
 * output's coordinate part, copying the encoding before it; false if it is not canonical.
 */
export function ristrettoDecodeInput(): bool {
  if (!ristrettoDecode(R_TMP, PK)) return false;
  memory.copy(COMBINATION_OUT, PK, 32);
  storeExtended(R_TMP);
  return true;
}

/** P3 p ← the four 32-byte coordinates at `coordinates`. */
function loadExtended(p: usize, coordinates: usize): void {
  for (let c: usize = 0; c < 4; c++) feFromBytes(p + c * FE_BYTES, coordinates + c * 32);
}

/** COMBINATION_OUT ← Σ s_i P_i for i < count (count ≤ COMBINATION_TERMS), by Straus's method. */
/**
 * COMBINATION_OUT ← [s]P for the first combination point P (extended coordinates) and the secret
 * scalar s first in the secret-scalar buffer (below 2^255): constant time in s, which is wiped
 * after. The DRP's dealing, decryption and proofs (their outputs are published).
 */
export function multiplySecretCombination(): void {
  loadExtended(R_TMP, COMBINATION_POINTS);
  multiplySecret(SECRET_RESULT, R_TMP, SECRET_SCALARS);
  memory.fill(SECRET_SCALARS, 0, 64);
  ristrettoEncode(COMBINATION_OUT, SECRET_RESULT);
  storeExtended(SECRET_RESULT);
}

export function linearCombination(count: i32): void {
  termCount = 0;
  termTop = 0;
  for (let i = 0; i < count; i++) {
    const table = COMBINATION_TABLES + <usize>i * SMALL_TABLE_BYTES;
    loadExtended(R_TMP, COMBINATION_POINTS + <usize>i * COORDINATES_BYTES);
    buildOddMultiples(table, R_TMP, SMALL_TABLE_ENTRIES);
    addTerm(COMBINATION_SCALARS + <usize>i * 32, table, SMALL_WINDOW, false, false);
  }
  strausSum();
  ristrettoEncode(COMBINATION_OUT, ACC);
  storeExtended(ACC);
}

// ---- batch verification -----------------------------------------------------------------

/**
 * Completes batch item i after challengeStart/hashUpdate. The 16-byte coefficient z (non-zero)
 * is at the scalar buffer; `slot` names the key table, or −1 to decode the key into the item.
 * Precomputes R's table, k, z·S and z·k mod L and their NAFs. Returns false (and marks the item
 * invalid) for S ≥ L, an undecodable R or an undecodable A.
 */
export function batchItemFinish(i: i32, slot: i32): bool {
  const item = itemPtr(i);
  shaFinal(DIGEST);
  store<i32>(item + ITEM_VALID, 0);
  if (!scIsCanonical(SIG + 32)) return false;
  if (!decompress(R_TMP, SIG)) return false;
  let key: usize;
  if (slot >= 0) {
    key = slotEntry(slot);
  } else {
    key = item + ITEM_A_KEY;
    if (!decodeKey(key)) return false;
  }
  buildOddMultiples(item + ITEM_R_TABLE, R_TMP, SMALL_TABLE_ENTRIES);
  store<u32>(item + ITEM_A_PTR, <u32>key);
  scReduce64(item + ITEM_K, DIGEST);
  memory.copy(item + ITEM_S, SIG + 32, 32);
  memory.fill(SCALAR_IN + 16, 0, 16);
  scMulAdd(item + ITEM_ZS, SCALAR_IN, item + ITEM_S, SUM_ZERO);
  scMulAdd(item + ITEM_ZK, SCALAR_IN, item + ITEM_K, SUM_ZERO);
  store<i32>(item + ITEM_TOP_R, scNaf(item + ITEM_NAF_R, SCALAR_IN, SMALL_WINDOW));
  store<i32>(item + ITEM_VALID, 1);
  return true;
}

/** After 2^32 checks the stamp wraps: clear every key entry's stamp so none reads as current. */
function restartGroupStamps(): void {
  for (let slot: usize = 0; slot < slotCount; slot++) store<u32>(slotEntry(<i32>slot) + KEY_GROUP_CHECK, 0);
  for (let i: usize = 0; i < batchItemCount; i++) store<u32>(itemPtr(<i32>i) + ITEM_A_KEY + KEY_GROUP_CHECK, 0);
  groupCheck = 1;
}

/**
 * The batch equation over the valid items in [start, start + count):
 * [8](−(Σ z_i S_i mod L) B + Σ z_i R_i + Σ (z_i k_i mod L) A_i) = identity,
 * as one Straus multi-scalar multiplication sharing the doublings, with the A terms of items
 * that share a key merged into one term per key.
 */
export function batchCheck(start: i32, count: i32): bool {
  groupCheck++;
  if (groupCheck == 0) restartGroupStamps();
  memory.fill(SUM_SCALAR, 0, 32);
  let groups: i32 = 0;
  let top: i32 = 0;
  for (let j = start; j < start + count; j++) {
    const item = itemPtr(j);
    if (load<i32>(item + ITEM_VALID) == 0) continue;
    scMulAdd(SUM_SCALAR, ONE_SCALAR, item + ITEM_ZS, SUM_SCALAR);
    top = max(top, load<i32>(item + ITEM_TOP_R));
    const key = <usize>load<u32>(item + ITEM_A_PTR);
    let group: usize;
    if (load<u32>(key + KEY_GROUP_CHECK) != groupCheck) {
      store<u32>(key + KEY_GROUP_CHECK, groupCheck);
      store<i32>(key + KEY_GROUP_INDEX, groups);
      group = groupPtr(groups++);
      store<u32>(group + GROUP_KEY, <u32>key);
      memory.copy(group + GROUP_SCALAR, item + ITEM_ZK, 32);
    } else {
      group = groupPtr(load<i32>(key + KEY_GROUP_INDEX));
      scMulAdd(group + GROUP_SCALAR, ONE_SCALAR, item + ITEM_ZK, group + GROUP_SCALAR);
    }
  }
  for (let g = 0; g < groups; g++) {
    const group = groupPtr(g);
    top = max(top, scNaf(group + GROUP_NAF, group + GROUP_SCALAR, KEY_WINDOW));
  }
  top = max(top, scNaf(NAF_B, SUM_SCALAR, BASE_WINDOW));
  p3Identity(ACC);
  for (let i = top - 1; i >= 0; i--) {
    p2Dbl(STEP, ACC);
    for (let j = start; j < start + count; j++) {
      const item = itemPtr(j);
      if (load<i32>(item + ITEM_VALID) == 0) continue;
      const dr = <i32>load<i8>(item + ITEM_NAF_R + <usize>i);
      if (dr != 0) {
        p1p1ToP3(ACC, STEP);
        addDigit(STEP, ACC, item + ITEM_R_TABLE, dr);
      }
    }
    for (let g = 0; g < groups; g++) {
      const group = groupPtr(g);
      const da = <i32>load<i8>(group + GROUP_NAF + <usize>i);
      if (da != 0) {
        p1p1ToP3(ACC, STEP);
        addDigit(STEP, ACC, <usize>load<u32>(group + GROUP_KEY) + KEY_TABLE, da);
      }
    }
    const db = <i32>load<i8>(NAF_B + <usize>i);
    if (db != 0) {
      p1p1ToP3(ACC, STEP);
      addAffineDigit(STEP, ACC, BASE_TABLES, -db);
    }
    p1p1ToP2(ACC, STEP);
  }
  return isSmallOrder(ACC);
}

/** Marks batch item i invalid (a malformed item the host rejected before hashing). */
export function batchItemInvalidate(i: i32): void {
  store<i32>(itemPtr(i) + ITEM_VALID, 0);
}

/** Single (cofactored) verification of batch item i from its stored R, A, k and S. */
export function batchItemCheck(i: i32): bool {
  const item = itemPtr(i);
  if (load<i32>(item + ITEM_VALID) == 0) return false;
  const key = <usize>load<u32>(item + ITEM_A_PTR);
  return cofactoredCheck(key, item + ITEM_R_TABLE, item + ITEM_K, item + ITEM_S, load<u32>(key + KEY_SPLIT_READY) != 0);
}

// ---- aggregation --------------------------------------------------------------------------

export function pointSumReset(): void {
  p3Identity(ACC);
}

/** ACC += A for key table `slot` (its first entry is A in Cached form). */
export function pointSumAddKey(slot: i32): void {
  p3AddCached(ACC, ACC, slotEntry(slot) + KEY_TABLE);
}

/** ACC += the point encoded in the public-key buffer; false if it is not a point. */
export function pointSumAddEncoded(): bool {
  if (!decompress(R_TMP, PK)) return false;
  p3ToCached(CACHED_TMP, R_TMP);
  p3AddCached(ACC, ACC, CACHED_TMP);
  return true;
}

/** Encodes ACC into the output buffer. */
export function pointSumFinish(): void {
  compress(OUT, ACC);
}

/** Decodes the public-key buffer and re-encodes it canonically into the output buffer. */
export function pointNormalize(): bool {
  if (!decompress(R_TMP, PK)) return false;
  compress(OUT, R_TMP);
  return true;
}

export function scalarSumReset(): void {
  memory.fill(SUM_SCALAR, 0, 32);
}

/** Running sum += the 32-byte scalar buffer (mod L); the sum is copied to the output buffer. */
export function scalarSumAdd(): void {
  scMulAdd(SUM_SCALAR, ONE_SCALAR, SCALAR_IN, SUM_SCALAR);
  memory.copy(OUT, SUM_SCALAR, 32);
}

// ---- arithmetic probes for the kernel's own tests ---------------------------------------

/** Output ← (64-byte input at the message buffer) mod L. */
export function scalarReduceProbe(): void {
  scReduce64(OUT, MSG);
}

/** Output ← (a · b + c) mod L with a, b, c the first 96 bytes of the message buffer. */
export function scalarMulAddProbe(): void {
  scMulAdd(OUT, MSG, MSG + 32, MSG + 64);
}

/** Output ← a · b mod p (canonical) for the two field input buffers. */
export function fieldMulProbe(): void {
  feFromBytes(FE_A, FIELD_IN_A);
  feFromBytes(FE_B, FIELD_IN_B);
  feMul(FE_C, FE_A, FE_B);
  feToBytes(OUT, FE_C);
}

/** Output ← 1 / a mod p (0 for 0). */
export function fieldInvertProbe(): void {
  feFromBytes(FE_A, FIELD_IN_A);
  feInvert(FE_C, FE_A);
  feToBytes(OUT, FE_C);
}

/** Output ← sqrt(a / b) when it exists (returns true), by the decoding square root. */
export function fieldSqrtRatioProbe(): bool {
  feFromBytes(FE_A, FIELD_IN_A);
  feFromBytes(FE_B, FIELD_IN_B);
  if (!sqrtRatio(FE_C, FE_A, FE_B)) return false;
  feToBytes(OUT, FE_C);
  return true;
}
