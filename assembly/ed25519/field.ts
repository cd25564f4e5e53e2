// Arithmetic in GF(p), p = 2^255 - 19 (RFC 8032 §5.1), in the ref10 representation: ten signed
// limbs of alternately 26 and 25 bits (radix 2^25.5), one i64 each, products in i64. A field
// element is a pointer to 80 bytes of linear memory; every function accepts aliased arguments.

export const FE_BYTES: usize = 80;
/**
 * Compact form for precomputed tables: the same limbs as i32 (|limb| < 2^31 for carried values
 * and for sums of two of them), half the memory, so key tables stay in cache. Only ever the
 * second operand of feMulCompact.
 */
export const COMPACT_FE_BYTES: usize = 40;

/** Limb i starts at bit ceil(25.5 i) of the little-endian encoding. */
const LIMB_SHIFT: StaticArray<i32> = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];

const T0 = memory.data(80, 16);
const T1 = memory.data(80, 16);
const T2 = memory.data(80, 16);
const T3 = memory.data(80, 16);
const BYTES_SCRATCH = memory.data(40, 16);

@inline function ld(f: usize, i: i32): i64 {
  return load<i64>(f + (<usize>i << 3));
}

@inline function st(f: usize, i: i32, v: i64): void {
  store<i64>(f + (<usize>i << 3), v);
}

export function feZero(h: usize): void {
  memory.fill(h, 0, FE_BYTES);
}

export function feOne(h: usize): void {
  memory.fill(h, 0, FE_BYTES);
  store<i64>(h, 1);
}

export function feCopy(h: usize, f: usize): void {
  memory.copy(h, f, FE_BYTES);
}

@inline export function feAdd(h: usize, f: usize, g: usize): void {
  store<i64>(h, load<i64>(f) + load<i64>(g));
  store<i64>(h, load<i64>(f, 8) + load<i64>(g, 8), 8);
  store<i64>(h, load<i64>(f, 16) + load<i64>(g, 16), 16);
  store<i64>(h, load<i64>(f, 24) + load<i64>(g, 24), 24);
  store<i64>(h, load<i64>(f, 32) + load<i64>(g, 32), 32);
  store<i64>(h, load<i64>(f, 40) + load<i64>(g, 40), 40);
  store<i64>(h, load<i64>(f, 48) + load<i64>(g, 48), 48);
  store<i64>(h, load<i64>(f, 56) + load<i64>(g, 56), 56);
  store<i64>(h, load<i64>(f, 64) + load<i64>(g, 64), 64);
  store<i64>(h, load<i64>(f, 72) + load<i64>(g, 72), 72);
}

@inline export function feSub(h: usize, f: usize, g: usize): void {
  store<i64>(h, load<i64>(f) - load<i64>(g));
  store<i64>(h, load<i64>(f, 8) - load<i64>(g, 8), 8);
  store<i64>(h, load<i64>(f, 16) - load<i64>(g, 16), 16);
  store<i64>(h, load<i64>(f, 24) - load<i64>(g, 24), 24);
  store<i64>(h, load<i64>(f, 32) - load<i64>(g, 32), 32);
  store<i64>(h, load<i64>(f, 40) - load<i64>(g, 40), 40);
  store<i64>(h, load<i64>(f, 48) - load<i64>(g, 48), 48);
  store<i64>(h, load<i64>(f, 56) - load<i64>(g, 56), 56);
  store<i64>(h, load<i64>(f, 64) - load<i64>(g, 64), 64);
  store<i64>(h, load<i64>(f, 72) - load<i64>(g, 72), 72);
}

export function feNeg(h: usize, f: usize): void {
  for (let i = 0; i < 10; i++) st(h, i, -ld(f, i));
}

/** Carries limbs back to |h_i| ≤ 2^25 (even) / 2^24 (odd) magnitudes, as in ref10 fe_mul. */
@inline function carryStore(
  h: usize,
  h0: i64, h1: i64, h2: i64, h3: i64, h4: i64, h5: i64, h6: i64, h7: i64, h8: i64, h9: i64,
): void {
  let c: i64;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h1 + (1 << 24)) >> 25; h2 += c; h1 -= c << 25;
  c = (h5 + (1 << 24)) >> 25; h6 += c; h5 -= c << 25;
  c = (h2 + (1 << 25)) >> 26; h3 += c; h2 -= c << 26;
  c = (h6 + (1 << 25)) >> 26; h7 += c; h6 -= c << 26;
  c = (h3 + (1 << 24)) >> 25; h4 += c; h3 -= c << 25;
  c = (h7 + (1 << 24)) >> 25; h8 += c; h7 -= c << 25;
  c = (h4 + (1 << 25)) >> 26; h5 += c; h4 -= c << 26;
  c = (h8 + (1 << 25)) >> 26; h9 += c; h8 -= c << 26;
  c = (h9 + (1 << 24)) >> 25; h0 += c * 19; h9 -= c << 25;
  c = (h0 + (1 << 25)) >> 26; h1 += c; h0 -= c << 26;
  store<i64>(h, h0);
  store<i64>(h, h1, 8);
  store<i64>(h, h2, 16);
  store<i64>(h, h3, 24);
  store<i64>(h, h4, 32);
  store<i64>(h, h5, 40);
  store<i64>(h, h6, 48);
  store<i64>(h, h7, 56);
  store<i64>(h, h8, 64);
  store<i64>(h, h9, 72);
}

/** h = f * g. Odd-by-odd limb products carry a factor 2, wrapped ones 19 (2^255 ≡ 19). */
@inline function mulLimbs(
  h: usize, f: usize,
  g0: i64, g1: i64, g2: i64, g3: i64, g4: i64, g5: i64, g6: i64, g7: i64, g8: i64, g9: i64,
): void {
  const f0 = load<i64>(f), f1 = load<i64>(f, 8), f2 = load<i64>(f, 16), f3 = load<i64>(f, 24), f4 = load<i64>(f, 32);
  const f5 = load<i64>(f, 40), f6 = load<i64>(f, 48), f7 = load<i64>(f, 56), f8 = load<i64>(f, 64), f9 = load<i64>(f, 72);
  const g1_19 = g1 * 19, g2_19 = g2 * 19, g3_19 = g3 * 19, g4_19 = g4 * 19, g5_19 = g5 * 19;
  const g6_19 = g6 * 19, g7_19 = g7 * 19, g8_19 = g8 * 19, g9_19 = g9 * 19;
  const f1_2 = f1 * 2, f3_2 = f3 * 2, f5_2 = f5 * 2, f7_2 = f7 * 2, f9_2 = f9 * 2;
  const h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19 + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  const h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19 + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  const h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19 + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  const h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19 + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  const h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0 + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  const h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1 + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  const h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2 + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  const h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3 + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  const h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4 + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  const h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5 + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

export function feMul(h: usize, f: usize, g: usize): void {
  mulLimbs(
    h, f,
    load<i64>(g), load<i64>(g, 8), load<i64>(g, 16), load<i64>(g, 24), load<i64>(g, 32),
    load<i64>(g, 40), load<i64>(g, 48), load<i64>(g, 56), load<i64>(g, 64), load<i64>(g, 72),
  );
}

/** h = f * g for g in compact form. */
export function feMulCompact(h: usize, f: usize, g: usize): void {
  mulLimbs(
    h, f,
    <i64>load<i32>(g), <i64>load<i32>(g, 4), <i64>load<i32>(g, 8), <i64>load<i32>(g, 12), <i64>load<i32>(g, 16),
    <i64>load<i32>(g, 20), <i64>load<i32>(g, 24), <i64>load<i32>(g, 28), <i64>load<i32>(g, 32), <i64>load<i32>(g, 36),
  );
}

/** c (compact) ← f. */
export function feStoreCompact(c: usize, f: usize): void {
  for (let i = 0; i < 10; i++) store<i32>(c + (<usize>i << 2), <i32>ld(f, i));
}

/** h = f^2 (doubled = false) or 2 f^2 (doubled = true), with the symmetric products merged. */
@inline function squareInto(h: usize, f: usize, doubled: bool): void {
  const f0 = load<i64>(f), f1 = load<i64>(f, 8), f2 = load<i64>(f, 16), f3 = load<i64>(f, 24), f4 = load<i64>(f, 32);
  const f5 = load<i64>(f, 40), f6 = load<i64>(f, 48), f7 = load<i64>(f, 56), f8 = load<i64>(f, 64), f9 = load<i64>(f, 72);
  const f0_2 = f0 * 2, f1_2 = f1 * 2, f1_4 = f1 * 4, f2_2 = f2 * 2, f3_2 = f3 * 2, f3_4 = f3 * 4, f4_2 = f4 * 2;
  const f5_2 = f5 * 2, f5_4 = f5 * 4, f6_2 = f6 * 2, f7_2 = f7 * 2, f7_4 = f7 * 4, f8_2 = f8 * 2, f9_2 = f9 * 2;
  const f5_19 = f5 * 19, f6_19 = f6 * 19, f7_19 = f7 * 19, f8_19 = f8 * 19, f9_19 = f9 * 19;
  let h0 = f0 * f0 + f1_4 * f9_19 + f2_2 * f8_19 + f3_4 * f7_19 + f4_2 * f6_19 + f5_2 * f5_19;
  let h1 = f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19;
  let h2 = f0_2 * f2 + f1_2 * f1 + f3_4 * f9_19 + f4_2 * f8_19 + f5_4 * f7_19 + f6 * f6_19;
  let h3 = f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19;
  let h4 = f0_2 * f4 + f1_4 * f3 + f2 * f2 + f5_4 * f9_19 + f6_2 * f8_19 + f7_2 * f7_19;
  let h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19;
  let h6 = f0_2 * f6 + f1_4 * f5 + f2_2 * f4 + f3_2 * f3 + f7_4 * f9_19 + f8 * f8_19;
  let h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19;
  let h8 = f0_2 * f8 + f1_4 * f7 + f2_2 * f6 + f3_4 * f5 + f4 * f4 + f9_2 * f9_19;
  let h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  if (doubled) {
    h0 += h0; h1 += h1; h2 += h2; h3 += h3; h4 += h4;
    h5 += h5; h6 += h6; h7 += h7; h8 += h8; h9 += h9;
  }
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

export function feSq(h: usize, f: usize): void {
  squareInto(h, f, false);
}

export function feSq2(h: usize, f: usize): void {
  squareInto(h, f, true);
}

/** h = f^(2^n), n ≥ 1. */
function feSqN(h: usize, f: usize, n: i32): void {
  feSq(h, f);
  for (let i = 1; i < n; i++) feSq(h, h);
}

/** Loads the low 255 bits of 32 little-endian bytes; values ≥ p are kept as is (ZIP-215 decoding). */
export function feFromBytes(h: usize, s: usize): void {
  memory.copy(BYTES_SCRATCH, s, 32);
  store<u64>(BYTES_SCRATCH, 0, 32);
  for (let i = 0; i < 10; i++) {
    const shift = unchecked(LIMB_SHIFT[i]);
    const width: i32 = (i & 1) == 0 ? 26 : 25;
    const word = load<u64>(BYTES_SCRATCH + <usize>(shift >> 3));
    st(h, i, <i64>((word >> <u64>(shift & 7)) & ((<u64>1 << <u64>width) - 1)));
  }
}

/** Writes the canonical encoding (value mod p, 32 bytes little-endian; bit 255 clear). */
export function feToBytes(s: usize, f: usize): void {
  let h0 = ld(f, 0), h1 = ld(f, 1), h2 = ld(f, 2), h3 = ld(f, 3), h4 = ld(f, 4);
  let h5 = ld(f, 5), h6 = ld(f, 6), h7 = ld(f, 7), h8 = ld(f, 8), h9 = ld(f, 9);
  // q = floor(h / p) ∈ {0, 1} for a carried h; then h - q p is canonical (ref10 fe_tobytes).
  let q: i64 = (19 * h9 + (1 << 24)) >> 25;
  q = (h0 + q) >> 26; q = (h1 + q) >> 25; q = (h2 + q) >> 26; q = (h3 + q) >> 25; q = (h4 + q) >> 26;
  q = (h5 + q) >> 25; q = (h6 + q) >> 26; q = (h7 + q) >> 25; q = (h8 + q) >> 26; q = (h9 + q) >> 25;
  h0 += 19 * q;
  let c: i64;
  c = h0 >> 26; h1 += c; h0 -= c << 26;
  c = h1 >> 25; h2 += c; h1 -= c << 25;
  c = h2 >> 26; h3 += c; h2 -= c << 26;
  c = h3 >> 25; h4 += c; h3 -= c << 25;
  c = h4 >> 26; h5 += c; h4 -= c << 26;
  c = h5 >> 25; h6 += c; h5 -= c << 25;
  c = h6 >> 26; h7 += c; h6 -= c << 26;
  c = h7 >> 25; h8 += c; h7 -= c << 25;
  c = h8 >> 26; h9 += c; h8 -= c << 26;
  c = h9 >> 25; h9 -= c << 25;
  st(T3, 0, h0); st(T3, 1, h1); st(T3, 2, h2); st(T3, 3, h3); st(T3, 4, h4);
  st(T3, 5, h5); st(T3, 6, h6); st(T3, 7, h7); st(T3, 8, h8); st(T3, 9, h9);
  let acc: u64 = 0;
  let bits: i32 = 0;
  let out: usize = 0;
  for (let i = 0; i < 10; i++) {
    acc |= <u64>ld(T3, i) << <u64>bits;
    bits += (i & 1) == 0 ? 26 : 25;
    while (bits >= 8) {
      store<u8>(s + out, <u8>acc);
      out++;
      acc >>= 8;
      bits -= 8;
    }
  }
  store<u8>(s + out, <u8>acc);
}

const BYTES_CHECK = memory.data(32, 16);

export function feIsZero(f: usize): bool {
  feToBytes(BYTES_CHECK, f);
  return (load<u64>(BYTES_CHECK) | load<u64>(BYTES_CHECK, 8) | load<u64>(BYTES_CHECK, 16) | load<u64>(BYTES_CHECK, 24)) == 0;
}

/** "Negative" in RFC 8032 §5.1.2: the canonical value is odd. */
export function feIsNegative(f: usize): bool {
  feToBytes(BYTES_CHECK, f);
  return (load<u8>(BYTES_CHECK) & 1) != 0;
}

/** T1 = z^(2^250 - 1), T0 = z^11 (ref10 addition chain shared by invert and pow22523). */
function pow2_250_1(z: usize): void {
  feSq(T0, z);            // z^2
  feSqN(T1, T0, 2);       // z^8
  feMul(T1, z, T1);       // z^9
  feMul(T0, T0, T1);      // z^11
  feSq(T2, T0);           // z^22
  feMul(T1, T1, T2);      // z^(2^5 - 1)
  feSqN(T2, T1, 5);
  feMul(T1, T2, T1);      // 2^10 - 1
  feSqN(T2, T1, 10);
  feMul(T2, T2, T1);      // 2^20 - 1
  feSqN(T3, T2, 20);
  feMul(T2, T3, T2);      // 2^40 - 1
  feSqN(T2, T2, 10);
  feMul(T1, T2, T1);      // 2^50 - 1
  feSqN(T2, T1, 50);
  feMul(T2, T2, T1);      // 2^100 - 1
  feSqN(T3, T2, 100);
  feMul(T2, T3, T2);      // 2^200 - 1
  feSqN(T2, T2, 50);
  feMul(T1, T2, T1);      // 2^250 - 1
}

/** h = z^(p - 2) = 1/z (0 for z = 0). */
export function feInvert(h: usize, z: usize): void {
  pow2_250_1(z);
  feSqN(T1, T1, 5);       // 2^255 - 32
  feMul(h, T1, T0);       // 2^255 - 21 = p - 2
}

/** h = z^((p - 5) / 8) = z^(2^252 - 3), the exponent of the RFC 8032 §5.1.3 square root. */
export function fePow22523(h: usize, z: usize): void {
  pow2_250_1(z);
  feSqN(T1, T1, 2);       // 2^252 - 4
  feMul(h, T1, z);        // 2^252 - 3
}
