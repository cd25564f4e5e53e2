// Scalars modulo the group order L = 2^252 + 27742317777372353535851937790883648493
// (RFC 8032 §5.1). Reduction works on 24 signed limbs of 21 bits (ref10 sc_reduce): since
// 2^252 ≡ −c (mod L), a limb at position i ≥ 12 folds into positions i−12 … i−7 with the
// signed radix-2^21 digits of −c.

/** L little-endian, for the S < L check of RFC 8032 §5.1.7 step 1. */
const L_BYTES = memory.data<u8>([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

const LIMBS = memory.data(24 * 8, 16);
const A_LIMBS = memory.data(12 * 8, 16);
const B_LIMBS = memory.data(12 * 8, 16);
const WIDE = memory.data(72, 16);
const PADDED = memory.data(48, 16);

@inline function limb(i: i32): i64 {
  return load<i64>(LIMBS + (<usize>i << 3));
}

@inline function setLimb(i: i32, v: i64): void {
  store<i64>(LIMBS + (<usize>i << 3), v);
}

/** s[i] (i ≥ 12) times 2^(21 i) ≡ s[i] · (−c) · 2^(21 (i−12)). */
@inline function fold(i: i32): void {
  const v = limb(i);
  setLimb(i - 12, limb(i - 12) + v * 666643);
  setLimb(i - 11, limb(i - 11) + v * 470296);
  setLimb(i - 10, limb(i - 10) + v * 654183);
  setLimb(i - 9, limb(i - 9) - v * 997805);
  setLimb(i - 8, limb(i - 8) + v * 136657);
  setLimb(i - 7, limb(i - 7) - v * 683901);
  setLimb(i, 0);
}

/** Signed (rounding) carry from limb i into limb i+1. */
@inline function carryRound(i: i32): void {
  const c = (limb(i) + (1 << 20)) >> 21;
  setLimb(i + 1, limb(i + 1) + c);
  setLimb(i, limb(i) - (c << 21));
}

/** Floor carry from limb i into limb i+1 (leaves limb i in [0, 2^21)). */
@inline function carryFloor(i: i32): void {
  const c = limb(i) >> 21;
  setLimb(i + 1, limb(i + 1) + c);
  setLimb(i, limb(i) - (c << 21));
}

/** Reduces the 24-limb value in LIMBS mod L and writes 32 canonical bytes to out. */
function reduceLimbs(out: usize): void {
  for (let i = 23; i >= 18; i--) fold(i);
  for (let i = 6; i <= 16; i++) carryRound(i);
  for (let i = 17; i >= 12; i--) fold(i);
  for (let i = 0; i <= 11; i++) carryRound(i);
  fold(12);
  for (let i = 0; i <= 11; i++) carryFloor(i);
  fold(12);
  for (let i = 0; i <= 10; i++) carryFloor(i);
  let acc: u64 = 0;
  let bits: i32 = 0;
  let o: usize = 0;
  for (let i = 0; i < 12; i++) {
    acc |= <u64>limb(i) << <u64>bits;
    bits += 21;
    while (bits >= 8 && o < 32) {
      store<u8>(out + o, <u8>acc);
      o++;
      acc >>= 8;
      bits -= 8;
    }
  }
  while (o < 32) {
    store<u8>(out + o, <u8>acc);
    o++;
    acc >>= 8;
  }
}

/** The 21-bit limb starting at bit 21 i of a zero-padded little-endian buffer. */
@inline function loadLimb(buf: usize, i: i32): i64 {
  const bit = 21 * i;
  return <i64>((load<u64>(buf + <usize>(bit >> 3)) >> <u64>(bit & 7)) & 0x1fffff);
}

/** out = (64-byte little-endian integer at s) mod L. */
export function scReduce64(out: usize, s: usize): void {
  memory.copy(WIDE, s, 64);
  store<u64>(WIDE, 0, 64);
  for (let i = 0; i < 23; i++) setLimb(i, loadLimb(WIDE, i));
  setLimb(23, <i64>(load<u64>(WIDE, 56) >> 35)); // bits 483..511
  reduceLimbs(out);
}

function load12(dst: usize, s: usize): void {
  memory.copy(PADDED, s, 32);
  store<u64>(PADDED, 0, 32);
  for (let i = 0; i < 11; i++) store<i64>(dst + (<usize>i << 3), loadLimb(PADDED, i));
  store<i64>(dst + 88, <i64>(load<u64>(PADDED, 24) >> 39)); // bits 231..255
}

/** out = (a · b + c) mod L for 32-byte little-endian a, b, c (any values < 2^256). */
export function scMulAdd(out: usize, a: usize, b: usize, c: usize): void {
  load12(A_LIMBS, a);
  load12(B_LIMBS, b);
  load12(LIMBS, c);
  for (let i = 12; i < 24; i++) setLimb(i, 0);
  for (let i = 0; i < 12; i++) {
    const ai = load<i64>(A_LIMBS + (<usize>i << 3));
    for (let j = 0; j < 12; j++) {
      const k = i + j;
      setLimb(k, limb(k) + ai * load<i64>(B_LIMBS + (<usize>j << 3)));
    }
  }
  for (let i = 0; i <= 22; i++) carryRound(i);
  reduceLimbs(out);
}

/** True when the 32-byte little-endian s is < L (canonical). */
export function scIsCanonical(s: usize): bool {
  for (let i = 31; i >= 0; i--) {
    const a = load<u8>(s + <usize>i);
    const b = load<u8>(L_BYTES + <usize>i);
    if (a != b) return a < b;
  }
  return false;
}

/**
 * Width-w non-adjacent form of a 32-byte scalar < 2^255 into 256 signed bytes at naf: every
 * non-zero digit is odd with |digit| < 2^(w−1), and any w consecutive digits hold at most one
 * non-zero digit. Returns the index of the highest non-zero digit plus one (0 for zero).
 */
export function scNaf(naf: usize, s: usize, w: i32): i32 {
  memory.copy(PADDED, s, 32);
  store<u64>(PADDED, 0, 32);
  memory.fill(naf, 0, 256);
  const width: u64 = <u64>1 << <u64>w;
  const mask: u64 = width - 1;
  let words: i32 = 4;
  while (words > 0 && load<u64>(PADDED + (<usize>(words - 1) << 3)) == 0) words--;
  const bits = words << 6;
  let carry: u64 = 0;
  let top: i32 = 0;
  let pos: i32 = 0;
  while (pos < 256) {
    if (pos >= bits && carry == 0) break; // only zero digits remain
    const word = pos >> 6;
    const bit = <u64>(pos & 63);
    let buf = load<u64>(PADDED + (<usize>word << 3)) >> bit;
    if (bit > 0) buf |= load<u64>(PADDED + (<usize>(word + 1) << 3)) << (64 - bit);
    const window = carry + (buf & mask);
    if ((window & 1) == 0) {
      pos++;
      continue;
    }
    if (window < (width >> 1)) {
      carry = 0;
      store<i8>(naf + <usize>pos, <i8>window);
    } else {
      carry = 1;
      store<i8>(naf + <usize>pos, <i8>(<i64>window - <i64>width));
    }
    top = pos + 1;
    pos += w;
  }
  return top;
}
