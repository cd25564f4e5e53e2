/**
 * Byte-array equality, shared by every module that compares keys, hashes and encodings: one
 * native comparison (Buffer.compare on views, no copy) instead of a per-byte loop in JS.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
