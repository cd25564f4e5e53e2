// Points of edwards25519 (RFC 8032 §5.1) in the ref10 representations:
//   P3 extended (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z   (Hisil–Wong–Carter–Dawson 2008)
//   P1P1 completed ((X:Z),(Y:T)), the output of an addition or doubling before normalisation
//   P2 projective (X:Y:Z) — a P3 whose T is not maintained
//   Cached (Y+X, Y−X, Z, 2dT), the second operand of an addition
//   Affine (y+x, y−x, 2dxy), a Cached point with Z = 1 (one multiplication less per addition)
// P3, P1P1 and P2 are four consecutive field elements (320 bytes; a P2 ignores the fourth).
// Cached and Affine, which fill the precomputed tables, are four and three compact field
// elements (160 and 120 bytes).
import {
  FE_BYTES, COMPACT_FE_BYTES, feMulCompact, feStoreCompact, feAdd, feSub, feMul, feSq, feSq2, feNeg, feZero, feOne, feFromBytes, feToBytes,
  feIsZero, feIsNegative, feInvert, fePow22523, feCopy,
} from "./field";

export const POINT_BYTES: usize = 4 * FE_BYTES;
export const CACHED_BYTES: usize = 4 * COMPACT_FE_BYTES;
export const AFFINE_BYTES: usize = 3 * COMPACT_FE_BYTES;

@inline function X(p: usize): usize { return p; }
@inline function Y(p: usize): usize { return p + FE_BYTES; }
@inline function Z(p: usize): usize { return p + 2 * FE_BYTES; }
@inline function T(p: usize): usize { return p + 3 * FE_BYTES; }
/** Coordinates of a Cached (Y+X, Y−X, Z, 2dT) or Affine (y+x, y−x, 2dxy) point. */
@inline function C0(q: usize): usize { return q; }
@inline function C1(q: usize): usize { return q + COMPACT_FE_BYTES; }
@inline function C2(q: usize): usize { return q + 2 * COMPACT_FE_BYTES; }
@inline function C3(q: usize): usize { return q + 3 * COMPACT_FE_BYTES; }

/** d = −121665/121666 (RFC 8032 §5.1), little-endian. */
const D_BYTES = memory.data<u8>([
  163, 120, 89, 19, 202, 77, 235, 117, 171, 216, 65, 65, 77, 10, 112, 0,
  152, 232, 121, 119, 121, 64, 199, 140, 115, 254, 111, 43, 238, 108, 3, 82,
]);
/** sqrt(−1) = 2^((p−1)/4) mod p (RFC 8032 §5.1.3), little-endian. */
const SQRTM1_BYTES = memory.data<u8>([
  176, 160, 14, 74, 39, 27, 238, 196, 120, 228, 47, 173, 6, 24, 67, 47,
  167, 215, 251, 61, 153, 0, 77, 43, 11, 223, 193, 79, 128, 36, 131, 43,
]);

/** 1/sqrt(a − d) (RFC 9496 §4.1 INVSQRT_A_MINUS_D), little-endian. */
const INVSQRT_A_MINUS_D_BYTES = memory.data<u8>([
  234, 64, 93, 128, 170, 253, 200, 153, 190, 114, 65, 90, 23, 22, 47, 157,
  64, 216, 1, 254, 145, 123, 194, 22, 162, 252, 175, 207, 5, 137, 108, 120,
]);

const D = memory.data(80, 16);
const INVSQRT_A_MINUS_D = memory.data(80, 16);
const E_ONE = memory.data(80, 16);
const E_U1 = memory.data(80, 16);
const E_U2 = memory.data(80, 16);
const E_INV = memory.data(80, 16);
const E_DEN1 = memory.data(80, 16);
const E_DEN2 = memory.data(80, 16);
const E_ZINV = memory.data(80, 16);
const E_X = memory.data(80, 16);
const E_Y = memory.data(80, 16);
const E_DEN = memory.data(80, 16);
const E_T = memory.data(80, 16);
const E_CANONICAL = memory.data(32, 16);
const D2 = memory.data(80, 16);
const SQRTM1 = memory.data(80, 16);
const A0 = memory.data(80, 16);
const A1 = memory.data(80, 16);
const A2 = memory.data(80, 16);
const A3 = memory.data(80, 16);
const P1P1_SCRATCH = memory.data(320, 16);

export function initCurveConstants(): void {
  feFromBytes(D, D_BYTES);
  feAdd(D2, D, D);
  feFromBytes(SQRTM1, SQRTM1_BYTES);
  feFromBytes(INVSQRT_A_MINUS_D, INVSQRT_A_MINUS_D_BYTES);
  feOne(E_ONE);
}

/** The Z coordinate of a point. */
export function zOf(p: usize): usize {
  return Z(p);
}

export function p3Identity(p: usize): void {
  feZero(X(p));
  feOne(Y(p));
  feOne(Z(p));
  feZero(T(p));
}

/** r (P1P1) = 2p, p a P2 or P3 (ref10 ge_p2_dbl; "dbl-2008-hwcd"). */
export function p2Dbl(r: usize, p: usize): void {
  feSq(X(r), X(p));
  feSq(Z(r), Y(p));
  feSq2(T(r), Z(p));
  feAdd(Y(r), X(p), Y(p));
  feSq(A0, Y(r));
  feAdd(Y(r), Z(r), X(r));
  feSub(Z(r), Z(r), X(r));
  feSub(X(r), A0, Y(r));
  feSub(T(r), T(r), Z(r));
}

/** r (P1P1) = p (P3) + q (Cached) (ref10 ge_add; "add-2008-hwcd-3"). */
export function pointAdd(r: usize, p: usize, q: usize): void {
  feAdd(X(r), Y(p), X(p));
  feSub(Y(r), Y(p), X(p));
  feMulCompact(Z(r), X(r), C0(q));
  feMulCompact(Y(r), Y(r), C1(q));
  feMulCompact(T(r), T(p), C3(q));
  feMulCompact(X(r), Z(p), C2(q));
  feAdd(A0, X(r), X(r));
  feSub(X(r), Z(r), Y(r));
  feAdd(Y(r), Z(r), Y(r));
  feAdd(Z(r), A0, T(r));
  feSub(T(r), A0, T(r));
}

/** r (P1P1) = p (P3) − q (Cached) (ref10 ge_sub). */
export function pointSub(r: usize, p: usize, q: usize): void {
  feAdd(X(r), Y(p), X(p));
  feSub(Y(r), Y(p), X(p));
  feMulCompact(Z(r), X(r), C1(q));
  feMulCompact(Y(r), Y(r), C0(q));
  feMulCompact(T(r), T(p), C3(q));
  feMulCompact(X(r), Z(p), C2(q));
  feAdd(A0, X(r), X(r));
  feSub(X(r), Z(r), Y(r));
  feAdd(Y(r), Z(r), Y(r));
  feSub(Z(r), A0, T(r));
  feAdd(T(r), A0, T(r));
}

/** r (P1P1) = p (P3) + q (Affine) (ref10 ge_madd). */
export function pointAddAffine(r: usize, p: usize, q: usize): void {
  feAdd(X(r), Y(p), X(p));
  feSub(Y(r), Y(p), X(p));
  feMulCompact(Z(r), X(r), C0(q));
  feMulCompact(Y(r), Y(r), C1(q));
  feMulCompact(T(r), T(p), C2(q));
  feAdd(A0, Z(p), Z(p));
  feSub(X(r), Z(r), Y(r));
  feAdd(Y(r), Z(r), Y(r));
  feAdd(Z(r), A0, T(r));
  feSub(T(r), A0, T(r));
}

/** r (P1P1) = p (P3) − q (Affine) (ref10 ge_msub). */
export function pointSubAffine(r: usize, p: usize, q: usize): void {
  feAdd(X(r), Y(p), X(p));
  feSub(Y(r), Y(p), X(p));
  feMulCompact(Z(r), X(r), C1(q));
  feMulCompact(Y(r), Y(r), C0(q));
  feMulCompact(T(r), T(p), C2(q));
  feAdd(A0, Z(p), Z(p));
  feSub(X(r), Z(r), Y(r));
  feAdd(Y(r), Z(r), Y(r));
  feSub(Z(r), A0, T(r));
  feAdd(T(r), A0, T(r));
}

export function p1p1ToP2(r: usize, p: usize): void {
  feMul(X(r), X(p), T(p));
  feMul(Y(r), Y(p), Z(p));
  feMul(Z(r), Z(p), T(p));
}

export function p1p1ToP3(r: usize, p: usize): void {
  feMul(X(r), X(p), T(p));
  feMul(Y(r), Y(p), Z(p));
  feMul(Z(r), Z(p), T(p));
  feMul(T(r), X(p), Y(p));
}

export function p3ToCached(r: usize, p: usize): void {
  feAdd(A0, Y(p), X(p));
  feStoreCompact(C0(r), A0);
  feSub(A0, Y(p), X(p));
  feStoreCompact(C1(r), A0);
  feStoreCompact(C2(r), Z(p));
  feMul(A0, T(p), D2);
  feStoreCompact(C3(r), A0);
}

/** r (Affine) ← p (P3), given zInverse = 1/Z(p). */
export function p3ToAffine(r: usize, p: usize, zInverse: usize): void {
  feMul(A1, X(p), zInverse);
  feMul(A2, Y(p), zInverse);
  feAdd(A0, A2, A1);
  feStoreCompact(C0(r), A0);
  feSub(A0, A2, A1);
  feStoreCompact(C1(r), A0);
  feMul(A3, A1, A2);
  feMul(A0, A3, D2);
  feStoreCompact(C2(r), A0);
}

/** r (P3) = p (P3) + q (Cached). r may alias p. */
export function p3AddCached(r: usize, p: usize, q: usize): void {
  pointAdd(P1P1_SCRATCH, p, q);
  p1p1ToP3(r, P1P1_SCRATCH);
}

/** r (P3) = 2p. r may alias p. */
export function p3Dbl(r: usize, p: usize): void {
  p2Dbl(P1P1_SCRATCH, p);
  p1p1ToP3(r, P1P1_SCRATCH);
}

/** The neutral element test for a P2/P3: X = 0 and Y = Z. */
export function p3IsIdentity(p: usize): bool {
  if (!feIsZero(X(p))) return false;
  feSub(A0, Y(p), Z(p));
  return feIsZero(A0);
}

/**
 * x = sqrt(u / v) by RFC 8032 §5.1.3 step 2–3: x = u v³ (u v⁷)^((p−5)/8), corrected by sqrt(−1)
 * when v x² = −u. Returns false when u / v is not a square. x must not alias u or v.
 */
export function sqrtRatio(x: usize, u: usize, v: usize): bool {
  feSq(A2, v);
  feMul(A2, A2, v);         // v³
  feSq(x, A2);
  feMul(x, x, v);
  feMul(x, x, u);           // u v⁷
  fePow22523(x, x);         // (u v⁷)^((p−5)/8)
  feMul(x, x, A2);
  feMul(x, x, u);           // u v³ (u v⁷)^((p−5)/8)
  feSq(A3, x);
  feMul(A3, A3, v);         // v x²
  feSub(A2, A3, u);
  if (feIsZero(A2)) return true;
  feAdd(A2, A3, u);
  if (!feIsZero(A2)) return false;
  feMul(x, x, SQRTM1);
  return true;
}

/**
 * ZIP-215 decoding (zips.z.cash/zip-0215): y is the low 255 bits reduced mod p (values ≥ p are
 * accepted), x = sqrt((y²−1)/(dy²+1)), rejected only when no square root exists; x = 0 with the
 * sign bit set is accepted. Returns false for a non-point.
 */
export function decompress(p: usize, s: usize): bool {
  feFromBytes(Y(p), s);
  feOne(Z(p));
  feSq(A0, Y(p));
  feMul(A1, A0, D);
  feSub(A0, A0, Z(p));      // u = y² − 1
  feAdd(A1, A1, Z(p));      // v = d y² + 1
  if (!sqrtRatio(X(p), A0, A1)) return false;
  if (feIsNegative(X(p)) != ((load<u8>(s, 31) >> 7) != 0)) feNeg(X(p), X(p));
  feMul(T(p), X(p), Y(p));
  return true;
}

/** RFC 8032 §5.1.2 encoding of a P3/P2. */
export function compress(s: usize, p: usize): void {
  feInvert(A0, Z(p));
  feMul(A1, X(p), A0);
  feMul(A2, Y(p), A0);
  feToBytes(s, A2);
  if (feIsNegative(A1)) store<u8>(s, load<u8>(s, 31) | 0x80, 31);
}

/**
 * RFC 9496 §4.3.2 ristretto255 encoding of a P3 representative. u1·u2² is a square for every
 * curve point, or zero for the identity's representatives (u2 = 0), where sqrtRatio leaves the
 * root 0 and the encoding is 0 as the RFC's. The root's sign is not normalised: it flips den1 and
 * den2 together, so z_inv and the final absolute value do not see it.
 */
export function ristrettoEncode(s: usize, p: usize): void {
  feAdd(E_U1, Z(p), Y(p));
  feSub(E_T, Z(p), Y(p));
  feMul(E_U1, E_U1, E_T);             // u1 = (Z + Y)(Z − Y)
  feMul(E_U2, X(p), Y(p));            // u2 = X Y
  feSq(E_T, E_U2);
  feMul(E_T, E_T, E_U1);
  sqrtRatio(E_INV, E_ONE, E_T);       // invsqrt = 1 / sqrt(u1 u2²)
  feMul(E_DEN1, E_INV, E_U1);
  feMul(E_DEN2, E_INV, E_U2);
  feMul(E_ZINV, E_DEN1, E_DEN2);
  feMul(E_ZINV, E_ZINV, T(p));
  feMul(E_T, T(p), E_ZINV);
  if (feIsNegative(E_T)) {            // rotate by sqrt(−1)
    feMul(E_X, Y(p), SQRTM1);
    feMul(E_Y, X(p), SQRTM1);
    feMul(E_DEN, E_DEN1, INVSQRT_A_MINUS_D);
  } else {
    feCopy(E_X, X(p));
    feCopy(E_Y, Y(p));
    feCopy(E_DEN, E_DEN2);
  }
  feMul(E_T, E_X, E_ZINV);
  if (feIsNegative(E_T)) feNeg(E_Y, E_Y);
  feSub(E_T, Z(p), E_Y);
  feMul(E_T, E_DEN, E_T);
  if (feIsNegative(E_T)) feNeg(E_T, E_T);
  feToBytes(s, E_T);
}

/**
 * RFC 9496 §4.3.1 ristretto255 decoding into a P3 (Z = 1): false unless s is a canonical,
 * non-negative field element whose point exists, with t non-negative and y ≠ 0. The root's
 * sign is not normalised: den_y has it squared and x is taken absolute.
 */
export function ristrettoDecode(p: usize, s: usize): bool {
  feFromBytes(E_X, s);
  feToBytes(E_CANONICAL, E_X);
  if (memory.compare(E_CANONICAL, s, 32) != 0 || (load<u8>(s) & 1) != 0) return false;
  feSq(E_T, E_X);                     // s²
  feSub(E_U1, E_ONE, E_T);            // u1 = 1 + a s², a = −1
  feAdd(E_U2, E_ONE, E_T);            // u2 = 1 − a s²
  feSq(E_DEN2, E_U2);                 // u2²
  feSq(E_T, E_U1);
  feMul(E_T, E_T, D);
  feNeg(E_T, E_T);
  feSub(E_DEN, E_T, E_DEN2);          // v = −d u1² − u2²
  feMul(E_T, E_DEN, E_DEN2);
  if (!sqrtRatio(E_INV, E_ONE, E_T)) return false;
  feMul(E_DEN1, E_INV, E_U2);         // den_x
  feMul(E_T, E_INV, E_DEN1);
  feMul(E_T, E_T, E_DEN);             // den_y
  feAdd(X(p), E_X, E_X);
  feMul(X(p), X(p), E_DEN1);
  if (feIsNegative(X(p))) feNeg(X(p), X(p));
  feMul(Y(p), E_U1, E_T);
  feOne(Z(p));
  feMul(T(p), X(p), Y(p));
  return !feIsNegative(T(p)) && !feIsZero(Y(p));
}
