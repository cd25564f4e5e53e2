/**
 * RFC 6962 §2.1 Merkle trees written from the RFC with @noble/hashes, independent of the WASM
 * kernel: the reference the merkle and multiproof tests compare the kernel's trees, paths and
 * multiproofs with.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { IosError } from "../../src/errors.js";

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** SHA-256(0x00 ‖ data) and SHA-256(0x01 ‖ left ‖ right), RFC 6962 §2.1. */
export const refLeafHash = (data: Uint8Array): Uint8Array => nobleSha256(concat(Uint8Array.of(0), data));
export const refNodeHash = (left: Uint8Array, right: Uint8Array): Uint8Array => nobleSha256(concat(Uint8Array.of(1), left, right));

/** Largest power of two strictly below n (n >= 2), RFC 6962 §2.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 6962 §2.1 MTH and §2.1.1 PATH, written recursively as in the RFC, subtree hashes memoized. */
export class ReferenceTree {
  private readonly memo = new Map<string, Uint8Array>();
  constructor(readonly leaves: readonly Uint8Array[]) {}

  get size(): number {
    return this.leaves.length;
  }

  root(): Uint8Array {
    return this.leaves.length === 0 ? nobleSha256(new Uint8Array(0)) : this.mth(0, this.leaves.length);
  }

  /** Node `position` of `level` computed level by level: the MTH of the leaves below it. */
  node(level: number, position: number): Uint8Array {
    return this.mth(position * 2 ** level, Math.min((position + 1) * 2 ** level, this.leaves.length));
  }

  /** PATH(m, D[lo:hi]) as [sibling, siblingIsLeft] pairs, leaf level first. */
  path(m: number, lo = 0, hi = this.leaves.length): [Uint8Array, boolean][] {
    if (hi - lo === 1) return [];
    const k = splitPoint(hi - lo);
    if (m < k) return [...this.path(m, lo, lo + k), [this.mth(lo + k, hi), false]];
    return [...this.path(m - k, lo + k, hi), [this.mth(lo, lo + k), true]];
  }

  private mth(lo: number, hi: number): Uint8Array {
    const key = `${lo}:${hi}`;
    let hash = this.memo.get(key);
    if (hash === undefined) {
      const k = splitPoint(hi - lo);
      hash = hi - lo === 1 ? refLeafHash(this.leaves[lo]!) : refNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
      this.memo.set(key, hash);
    }
    return hash;
  }
}

/** An assert.throws predicate: the error is an IosError with `code`. */
export function expectCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof IosError && error.code === code;
}

/** A copy of `bytes` with bit `bit` (mod its length in bits) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[(bit >>> 3) % copy.length]! ^= 1 << (bit & 7);
  return copy;
}
