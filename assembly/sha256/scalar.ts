// One-lane SHA-256 (FIPS 180-4 §6.2): the compression function, a streaming context, and the
// single-message helpers every path falls back on (the scalar build uses only these).
import { K, IV, BITS_64 } from "./constants";

/** Message schedule; after `scheduleWithK` it holds W[t] + K[t] for the 64 rounds. */
const W: usize = memory.data(64 * 4, 16);
/** W[t] + K[t] of the padding block that follows any 64-byte message (it is constant). */
const PAD64_KW: usize = memory.data(64 * 4, 16);
const STATE: usize = memory.data(32, 16);

@inline function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
@inline function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
@inline function smallSigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
@inline function smallSigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
@inline function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
@inline function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

/** Expands w[0..16] to the 64-word schedule (§6.2.2 step 1) and adds K in the same pass. */
function scheduleWithK(w: usize): void {
  for (let q = w, end = w + 192; q < end; q += 4) {
    // q points at W[t-16]; W[t-15], W[t-7], W[t-2], W[t] follow at 4, 36, 56, 64.
    const w16 = load<u32>(q);
    store<u32>(q, smallSigma1(load<u32>(q, 56)) + load<u32>(q, 36) + smallSigma0(load<u32>(q, 4)) + w16, 64);
    // W[t-16] is read for the last time above.
    store<u32>(q, w16 + load<u32>(K + (q - w)));
  }
  for (let t: usize = 192; t < 256; t += 4) store<u32>(w + t, load<u32>(w + t) + load<u32>(K + t));
}

/** The 64 rounds on `state` with precomputed W[t] + K[t], then the feed-forward (§6.2.2 steps 2-4). */
function rounds(state: usize, kw: usize): void {
  let a = load<u32>(state, 0), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  // Eight rounds per iteration with the variables' roles rotated, so nothing is moved.
  for (let p = kw, end = kw + 256; p < end; p += 32) {
    h += bigSigma1(e) + ch(e, f, g) + load<u32>(p, 0); d += h; h += bigSigma0(a) + maj(a, b, c);
    g += bigSigma1(d) + ch(d, e, f) + load<u32>(p, 4); c += g; g += bigSigma0(h) + maj(h, a, b);
    f += bigSigma1(c) + ch(c, d, e) + load<u32>(p, 8); b += f; f += bigSigma0(g) + maj(g, h, a);
    e += bigSigma1(b) + ch(b, c, d) + load<u32>(p, 12); a += e; e += bigSigma0(f) + maj(f, g, h);
    d += bigSigma1(a) + ch(a, b, c) + load<u32>(p, 16); h += d; d += bigSigma0(e) + maj(e, f, g);
    c += bigSigma1(h) + ch(h, a, b) + load<u32>(p, 20); g += c; c += bigSigma0(d) + maj(d, e, f);
    b += bigSigma1(g) + ch(g, h, a) + load<u32>(p, 24); f += b; b += bigSigma0(c) + maj(c, d, e);
    a += bigSigma1(f) + ch(f, g, h) + load<u32>(p, 28); e += a; a += bigSigma0(b) + maj(b, c, d);
  }
  store<u32>(state, load<u32>(state, 0) + a, 0);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
}

/** Compresses the 64-byte block at `block` (any alignment) into `state`. */
function compress(state: usize, block: usize): void {
  for (let t: usize = 0; t < 64; t += 4) store<u32>(W + t, bswap<u32>(load<u32>(block + t)));
  scheduleWithK(W);
  rounds(state, W);
}

function storeDigest(state: usize, out: usize): void {
  for (let t: usize = 0; t < 32; t += 4) store<u32>(out + t, bswap<u32>(load<u32>(state + t)));
}

/** Fills the padding block of a 64-byte message: 0x80, zeros, bit length 512 (§5.1.1). */
export function initScalarTables(): void {
  memory.fill(W, 0, 64);
  store<u32>(W, 0x80000000);
  store<u32>(W, BITS_64, 60);
  scheduleWithK(W);
  memory.copy(PAD64_KW, W, 256);
}

/** SHA-256 of the 64 bytes at `src` into `out`; the padding block's schedule is precomputed. */
export function hash64(src: usize, out: usize): void {
  memory.copy(STATE, IV, 32);
  compress(STATE, src);
  rounds(STATE, PAD64_KW);
  storeDigest(STATE, out);
}

// Streaming context: chaining state (32), partial block (64), bytes buffered (u32), total
// message bytes (u64). Two exist so the host's stream and internal hashing never share one.
const CTX_STATE: usize = 0;
const CTX_BLOCK: usize = 32;
const CTX_FILL: usize = 96;
const CTX_TOTAL: usize = 104;
const CTX_SIZE: i32 = 112;
export const HOST_CTX: usize = memory.data(CTX_SIZE, 16);
const LOCAL_CTX: usize = memory.data(CTX_SIZE, 16);

export function ctxInit(ctx: usize): void {
  memory.copy(ctx + CTX_STATE, IV, 32);
  store<u32>(ctx + CTX_FILL, 0);
  store<u64>(ctx + CTX_TOTAL, 0);
}

export function ctxUpdate(ctx: usize, src: usize, len: usize): void {
  store<u64>(ctx + CTX_TOTAL, load<u64>(ctx + CTX_TOTAL) + <u64>len);
  let fill = <usize>load<u32>(ctx + CTX_FILL);
  if (fill != 0) {
    const take = min<usize>(64 - fill, len);
    memory.copy(ctx + CTX_BLOCK + fill, src, take);
    fill += take;
    src += take;
    len -= take;
    if (fill < 64) {
      store<u32>(ctx + CTX_FILL, <u32>fill);
      return;
    }
    compress(ctx + CTX_STATE, ctx + CTX_BLOCK);
    fill = 0;
  }
  while (len >= 64) {
    compress(ctx + CTX_STATE, src);
    src += 64;
    len -= 64;
  }
  if (len != 0) memory.copy(ctx + CTX_BLOCK, src, len);
  store<u32>(ctx + CTX_FILL, <u32>len);
}

/** Pads (0x80, zeros, 64-bit big-endian bit length; §5.1.1) and writes the digest to `out`. */
export function ctxFinal(ctx: usize, out: usize): void {
  const block = ctx + CTX_BLOCK;
  let fill = <usize>load<u32>(ctx + CTX_FILL);
  store<u8>(block + fill, 0x80);
  fill++;
  if (fill > 56) {
    memory.fill(block + fill, 0, 64 - fill);
    compress(ctx + CTX_STATE, block);
    fill = 0;
  }
  memory.fill(block + fill, 0, 56 - fill);
  store<u64>(block, bswap<u64>(load<u64>(ctx + CTX_TOTAL) << 3), 56);
  compress(ctx + CTX_STATE, block);
  storeDigest(ctx + CTX_STATE, out);
}

/** SHA-256(prefix ‖ src[0..len)) into `out`. */
export function hashPrefixed(prefix: u8, src: usize, len: usize, out: usize): void {
  ctxInit(LOCAL_CTX);
  store<u8>(LOCAL_CTX + CTX_BLOCK, prefix);
  store<u32>(LOCAL_CTX + CTX_FILL, 1);
  store<u64>(LOCAL_CTX + CTX_TOTAL, 1);
  ctxUpdate(LOCAL_CTX, src, len);
  ctxFinal(LOCAL_CTX, out);
}
