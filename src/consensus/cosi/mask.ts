/**
 * Participation bitmasks: bit i (LSB-first in byte i >> 3) stands for the validator at registry
 * index i, the layout `Ed25519Verifier.aggregateKeys` reads. A mask for n validators is exactly
 * ⌈n/8⌉ bytes with the bits past n clear.
 */

export function maskBytes(count: number): number {
  return Math.ceil(count / 8);
}

export function emptyMask(count: number): Uint8Array {
  return new Uint8Array(maskBytes(count));
}

export function hasBit(mask: Uint8Array, index: number): boolean {
  return (mask[index >> 3]! & (1 << (index & 7))) !== 0;
}

export function setBit(mask: Uint8Array, index: number): void {
  mask[index >> 3] = mask[index >> 3]! | (1 << (index & 7));
}

export function popcount(mask: Uint8Array): number {
  let count = 0;
  for (const byte of mask) {
    let rest = byte;
    while (rest !== 0) {
      rest &= rest - 1;
      count++;
    }
  }
  return count;
}

/** `into |= from`, bytewise (same length). */
export function orInto(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < into.length; i++) into[i] = into[i]! | from[i]!;
}

export function isSubset(inner: Uint8Array, outer: Uint8Array): boolean {
  for (let i = 0; i < inner.length; i++) if ((inner[i]! & ~outer[i]!) !== 0) return false;
  return true;
}

export function isEmpty(mask: Uint8Array): boolean {
  return mask.every((byte) => byte === 0);
}

export function masksEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A mask of the right length for `count` validators, with no bit set past `count`. */
export function isWellFormedMask(mask: Uint8Array, count: number): boolean {
  if (mask.length !== maskBytes(count)) return false;
  for (let bit = count; bit < mask.length * 8; bit++) if (hasBit(mask, bit)) return false;
  return true;
}

/** Indices of the set bits, ascending. */
export function maskIndices(mask: Uint8Array, count: number): number[] {
  const indices: number[] = [];
  for (let i = 0; i < count; i++) if (hasBit(mask, i)) indices.push(i);
  return indices;
}
