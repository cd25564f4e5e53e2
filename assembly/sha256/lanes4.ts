// Four-lane SHA-256 with v128: lane i of every vector belongs to message i, so one pass of the
// compression function hashes four messages. Only the SIMD build reaches this file (callers
// branch on ASC_FEATURE_SIMD). Padding that is constant for a message shape is precomputed or
// written straight into the schedule instead of being copied and parsed.
import { K, IV, BITS_64, BITS_LEAF32, BITS_NODE } from "./constants";

/** Schedule for four lanes; after `schedule4WithK` it holds W[t] + K[t]. */
const W4: usize = memory.data(64 * 16, 16);
/** K[t] splatted across the four lanes. */
const K4: usize = memory.data(64 * 16, 16);
/** W[t] + K[t] of the padding block after a 64-byte message, splatted. */
const PAD64_KW4: usize = memory.data(64 * 16, 16);
const STATE4: usize = memory.data(8 * 16, 16);
/** One 64-byte block per lane for messages whose blocks are assembled byte by byte. */
const STAGE4: usize = memory.data(4 * 64, 16);

// Byte order reversal within each u32 lane (a function, not a global, so the scalar build never
// compiles a v128 value).
@inline function bswap32x4(x: v128): v128 {
  return i8x16.swizzle(x, i8x16(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
}

@inline function rotr4(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
@inline function bigSigma0(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 2), rotr4(x, 13)), rotr4(x, 22)); }
@inline function bigSigma1(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 6), rotr4(x, 11)), rotr4(x, 25)); }
@inline function smallSigma0(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3));
}
@inline function smallSigma1(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10));
}
@inline function ch(e: v128, f: v128, g: v128): v128 { return v128.bitselect(f, g, e); }
// Where a and c differ the majority is b, elsewhere it is c.
@inline function maj(a: v128, b: v128, c: v128): v128 { return v128.bitselect(b, c, v128.xor(a, c)); }
@inline function add3(x: v128, y: v128, z: v128): v128 { return i32x4.add(i32x4.add(x, y), z); }

function schedule4WithK(w: usize): void {
  for (let q = w, end = w + 48 * 16; q < end; q += 16) {
    // q points at W[t-16]; W[t-15], W[t-7], W[t-2], W[t] follow at 16, 144, 224, 256.
    const w16 = v128.load(q);
    const wt = i32x4.add(
      add3(smallSigma1(v128.load(q, 224)), v128.load(q, 144), smallSigma0(v128.load(q, 16))),
      w16,
    );
    v128.store(q, wt, 256);
    v128.store(q, i32x4.add(w16, v128.load(K4 + (q - w))));
  }
  for (let t: usize = 48 * 16; t < 64 * 16; t += 16) {
    v128.store(w + t, i32x4.add(v128.load(w + t), v128.load(K4 + t)));
  }
}

function rounds4(state: usize, kw: usize): void {
  let a = v128.load(state, 0), b = v128.load(state, 16), c = v128.load(state, 32), d = v128.load(state, 48);
  let e = v128.load(state, 64), f = v128.load(state, 80), g = v128.load(state, 96), h = v128.load(state, 112);
  // Eight rounds per iteration with the variables' roles rotated, as in the scalar code.
  for (let p = kw, end = kw + 64 * 16; p < end; p += 128) {
    h = add3(h, bigSigma1(e), i32x4.add(ch(e, f, g), v128.load(p, 0)));
    d = i32x4.add(d, h);
    h = add3(h, bigSigma0(a), maj(a, b, c));
    g = add3(g, bigSigma1(d), i32x4.add(ch(d, e, f), v128.load(p, 16)));
    c = i32x4.add(c, g);
    g = add3(g, bigSigma0(h), maj(h, a, b));
    f = add3(f, bigSigma1(c), i32x4.add(ch(c, d, e), v128.load(p, 32)));
    b = i32x4.add(b, f);
    f = add3(f, bigSigma0(g), maj(g, h, a));
    e = add3(e, bigSigma1(b), i32x4.add(ch(b, c, d), v128.load(p, 48)));
    a = i32x4.add(a, e);
    e = add3(e, bigSigma0(f), maj(f, g, h));
    d = add3(d, bigSigma1(a), i32x4.add(ch(a, b, c), v128.load(p, 64)));
    h = i32x4.add(h, d);
    d = add3(d, bigSigma0(e), maj(e, f, g));
    c = add3(c, bigSigma1(h), i32x4.add(ch(h, a, b), v128.load(p, 80)));
    g = i32x4.add(g, c);
    c = add3(c, bigSigma0(d), maj(d, e, f));
    b = add3(b, bigSigma1(g), i32x4.add(ch(g, h, a), v128.load(p, 96)));
    f = i32x4.add(f, b);
    b = add3(b, bigSigma0(c), maj(c, d, e));
    a = add3(a, bigSigma1(f), i32x4.add(ch(f, g, h), v128.load(p, 112)));
    e = i32x4.add(e, a);
    a = add3(a, bigSigma0(b), maj(b, c, d));
  }
  v128.store(state, i32x4.add(v128.load(state, 0), a), 0);
  v128.store(state, i32x4.add(v128.load(state, 16), b), 16);
  v128.store(state, i32x4.add(v128.load(state, 32), c), 32);
  v128.store(state, i32x4.add(v128.load(state, 48), d), 48);
  v128.store(state, i32x4.add(v128.load(state, 64), e), 64);
  v128.store(state, i32x4.add(v128.load(state, 80), f), 80);
  v128.store(state, i32x4.add(v128.load(state, 96), g), 96);
  v128.store(state, i32x4.add(v128.load(state, 112), h), 112);
}

/** Writes the 4×4 transpose of rows r0..r3 (u32 lanes) as four vectors at dst. */
@inline function transposeStore(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(t0, t2, 0, 2), 0);
  v128.store(dst, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(dst, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(dst, i64x2.shuffle(t1, t3, 1, 3), 48);
}

/** Big-endian words of `bytes` (16, 32, 48 or 64) bytes at p0..p3 (any alignment) into W4. */
function loadBlocks4(p0: usize, p1: usize, p2: usize, p3: usize, bytes: usize = 64): void {
  for (let j: usize = 0; j < bytes; j += 16) {
    transposeStore(
      bswap32x4(v128.load(p0 + j)),
      bswap32x4(v128.load(p1 + j)),
      bswap32x4(v128.load(p2 + j)),
      bswap32x4(v128.load(p3 + j)),
      W4 + (j << 2),
    );
  }
}

function initState4(): void {
  for (let i: usize = 0; i < 8; i++) v128.store(STATE4 + (i << 4), v128.load32_splat(IV + (i << 2)));
}

/** Writes the digests of lanes 0..lanes-1 to o0..o3. */
function storeDigests4(o0: usize, o1: usize, o2: usize, o3: usize, lanes: u32): void {
  const rows = STAGE4;
  transposeStore(
    v128.load(STATE4, 0), v128.load(STATE4, 16), v128.load(STATE4, 32), v128.load(STATE4, 48), rows,
  );
  transposeStore(
    v128.load(STATE4, 64), v128.load(STATE4, 80), v128.load(STATE4, 96), v128.load(STATE4, 112), rows + 64,
  );
  v128.store(o0, bswap32x4(v128.load(rows, 0)));
  v128.store(o0, bswap32x4(v128.load(rows, 64)), 16);
  if (lanes < 2) return;
  v128.store(o1, bswap32x4(v128.load(rows, 16)));
  v128.store(o1, bswap32x4(v128.load(rows, 80)), 16);
  if (lanes < 3) return;
  v128.store(o2, bswap32x4(v128.load(rows, 32)));
  v128.store(o2, bswap32x4(v128.load(rows, 96)), 16);
  if (lanes < 4) return;
  v128.store(o3, bswap32x4(v128.load(rows, 48)));
  v128.store(o3, bswap32x4(v128.load(rows, 112)), 16);
}

export function initLaneTables(): void {
  for (let t: usize = 0; t < 64; t++) v128.store(K4 + (t << 4), v128.load32_splat(K + (t << 2)));
  memory.fill(W4, 0, 16 * 16);
  v128.store(W4, i32x4.splat(0x80000000), 0);
  v128.store(W4, i32x4.splat(BITS_64), 15 * 16);
  schedule4WithK(W4);
  memory.copy(PAD64_KW4, W4, 64 * 16);
}

/** SHA-256 of four 64-byte messages at p0..p3; the padding block uses PAD64_KW4. */
export function hash64x4(
  p0: usize, p1: usize, p2: usize, p3: usize, o0: usize, o1: usize, o2: usize, o3: usize, lanes: u32,
): void {
  initState4();
  loadBlocks4(p0, p1, p2, p3);
  schedule4WithK(W4);
  rounds4(STATE4, W4);
  rounds4(STATE4, PAD64_KW4);
  storeDigests4(o0, o1, o2, o3, lanes);
}

/**
 * Merkle node hashes H(0x01 ‖ left ‖ right) of the four 64-byte pairs at p0..p3 (RFC 6962 §2.1).
 * Block 1 is loaded from one byte before each pair, whose top byte in W[0] becomes 0x01. Block 2
 * is the last byte of `right`, 0x80, zeros and the bit length 520: written directly into W.
 * Every input byte is read before any digest is stored, so outputs may overlap the inputs.
 */
export function nodeHashx4(
  p0: usize, p1: usize, p2: usize, p3: usize, o0: usize, o1: usize, o2: usize, o3: usize, lanes: u32,
): void {
  initState4();
  loadBlocks4(p0 - 1, p1 - 1, p2 - 1, p3 - 1);
  v128.store(W4, v128.or(v128.and(v128.load(W4), i32x4.splat(0x00ffffff)), i32x4.splat(0x01000000)));
  let last = i32x4.splat(0);
  last = i32x4.replace_lane(last, 0, <i32>load<u8>(p0, 63));
  last = i32x4.replace_lane(last, 1, <i32>load<u8>(p1, 63));
  last = i32x4.replace_lane(last, 2, <i32>load<u8>(p2, 63));
  last = i32x4.replace_lane(last, 3, <i32>load<u8>(p3, 63));
  schedule4WithK(W4);
  rounds4(STATE4, W4);
  v128.store(W4, v128.or(i32x4.shl(last, 24), i32x4.splat(0x00800000)));
  memory.fill(W4 + 16, 0, 14 * 16);
  v128.store(W4, i32x4.splat(BITS_NODE), 15 * 16);
  schedule4WithK(W4);
  rounds4(STATE4, W4);
  storeDigests4(o0, o1, o2, o3, lanes);
}

/**
 * Merkle leaf hashes H(0x00 ‖ data) of four 32-byte leaves at p0..p3 (RFC 6962 §2.1): one block.
 * W[0..8) is loaded from one byte before each leaf with the top byte of W[0] cleared to 0x00;
 * W[8] is the last data byte and 0x80; W[9..15) are zero and W[15] is the bit length 264.
 */
export function leafHash32x4(
  p0: usize, p1: usize, p2: usize, p3: usize, o0: usize, o1: usize, o2: usize, o3: usize, lanes: u32,
): void {
  initState4();
  loadBlocks4(p0 - 1, p1 - 1, p2 - 1, p3 - 1, 32);
  v128.store(W4, v128.and(v128.load(W4), i32x4.splat(0x00ffffff)));
  let last = i32x4.splat(0);
  last = i32x4.replace_lane(last, 0, <i32>load<u8>(p0, 31));
  last = i32x4.replace_lane(last, 1, <i32>load<u8>(p1, 31));
  last = i32x4.replace_lane(last, 2, <i32>load<u8>(p2, 31));
  last = i32x4.replace_lane(last, 3, <i32>load<u8>(p3, 31));
  v128.store(W4, v128.or(i32x4.shl(last, 24), i32x4.splat(0x00800000)), 8 * 16);
  memory.fill(W4 + 9 * 16, 0, 6 * 16);
  v128.store(W4, i32x4.splat(BITS_LEAF32), 15 * 16);
  schedule4WithK(W4);
  rounds4(STATE4, W4);
  storeDigests4(o0, o1, o2, o3, lanes);
}

/**
 * Block `block` (of `blocks`) of the padded message prefix ‖ src[0..len) (FIPS 180-4 §5.1.1),
 * written to the 64 bytes at dst.
 */
@inline function fillBlock(dst: usize, prefix: u8, src: usize, len: usize, block: usize, blocks: usize): void {
  const total = len + 1;
  const start = block << 6;
  memory.fill(dst, 0, 64);
  if (block == 0) store<u8>(dst, prefix);
  const from = max<usize>(start, 1);
  const to = min<usize>(start + 64, total);
  if (to > from) memory.copy(dst + (from - start), src + (from - 1), to - from);
  if (total >= start && total < start + 64) store<u8>(dst + (total - start), 0x80);
  if (block == blocks - 1) store<u64>(dst, bswap<u64>(<u64>total << 3), 56);
}

/** SHA-256(prefix ‖ message) for four messages of the same length `len` at p0..p3. */
export function hashPrefixedx4(
  prefix: u8, len: usize,
  p0: usize, p1: usize, p2: usize, p3: usize, o0: usize, o1: usize, o2: usize, o3: usize, lanes: u32,
): void {
  const blocks: usize = (len + 1 + 9 + 63) >> 6;
  initState4();
  for (let block: usize = 0; block < blocks; block++) {
    fillBlock(STAGE4, prefix, p0, len, block, blocks);
    fillBlock(STAGE4 + 64, prefix, p1, len, block, blocks);
    fillBlock(STAGE4 + 128, prefix, p2, len, block, blocks);
    fillBlock(STAGE4 + 192, prefix, p3, len, block, blocks);
    loadBlocks4(STAGE4, STAGE4 + 64, STAGE4 + 128, STAGE4 + 192);
    schedule4WithK(W4);
    rounds4(STATE4, W4);
  }
  storeDigests4(o0, o1, o2, o3, lanes);
}
