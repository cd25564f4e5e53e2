/**
 * A seeded, reproducible `Rng`: the ChaCha20 keystream (RFC 8439 §2.3) read as little-endian
 * 32-bit words. ChaCha20 is chosen over a small-state generator because its output is checkable
 * against published vectors and node:crypto, and because deriving independent streams is a
 * matter of choosing another key (`fork`), with no statistical caveats.
 *
 * This is for simulation and tests only: consensus code that needs unpredictability takes a
 * `CryptoRng` (src/runtime/system.ts) through the same `Rng` interface.
 */
import { createHash } from "node:crypto";
import { IosError, check } from "../errors.js";
import type { Rng } from "./interface.js";
import { readU32, writeU64BE } from "../codec/binary.js";

export type RngErrorCode = "RNG_BAD_SEED" | "RNG_BAD_KEY" | "RNG_BAD_LENGTH" | "RNG_BAD_LABEL";

/** A simulation seed: a non-negative safe integer or a non-empty string. */
export type Seed = number | string;

/** RFC 8439 §2.3: the constant words "expand 32-byte k". */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;
/** RFC 8439 §2.3: 20 rounds, i.e. 10 double rounds (column + diagonal). */
const DOUBLE_ROUNDS = 10;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const BLOCK_WORDS = 16;
/** Largest `bytes(length)` request; far above any simulation need, it bounds a typo'd length. */
const MAX_BYTES_PER_CALL = 1 << 24;

const SEED_DOMAIN = "ioschain/seeded-rng/seed/v1";
const FORK_DOMAIN = "ioschain/seeded-rng/fork/v1";

/** The `bytes(length)` argument check shared by every Rng; the message is built only on failure. */
/**
 * A uniform double in [0, 1) from 53 random bits (27 from one word, 26 from the next), so every
 * k·2^-53 is equally likely: `Rng.nextFloat` of every generator.
 */
export function floatOf53Bits(rng: Pick<Rng, "nextU32">): number {
  const high = rng.nextU32() >>> 5;
  const low = rng.nextU32() >>> 6;
  return (high * 67108864 + low) / 9007199254740992;
}

export function checkLength(length: number): void {
  if (!(Number.isInteger(length) && length >= 0 && length <= MAX_BYTES_PER_CALL)) {
    throw new IosError<RngErrorCode>(
      "RNG_BAD_LENGTH",
      `length must be an integer in [0, ${MAX_BYTES_PER_CALL}], got ${String(length)}`,
    );
  }
}

export class SeededRng implements Rng {
  /** Input words 0..15: constants, key, counter, nonce (RFC 8439 §2.3). */
  private readonly state = new Uint32Array(BLOCK_WORDS);
  private readonly block = new Uint32Array(BLOCK_WORDS);
  /** Next unread word of `block`; BLOCK_WORDS means the block is used up. */
  private cursor = BLOCK_WORDS;

  private constructor(
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
    counter: number,
  ) {
    this.state.set(SIGMA, 0);
    for (let i = 0; i < 8; i++) this.state[4 + i] = readU32(key, 4 * i);
    this.state[12] = counter;
    for (let i = 0; i < 3; i++) this.state[13 + i] = readU32(nonce, 4 * i);
  }

  /**
   * The raw ChaCha20 keystream for `key` (32 bytes), `nonce` (12 bytes) and the initial block
   * `counter`, exactly as RFC 8439 defines it (used to check against its vectors). Past block
   * 2^32 - 1 the counter carries into the first nonce word, where the RFC would stop.
   */
  static fromKey(key: Uint8Array, nonce: Uint8Array = new Uint8Array(NONCE_BYTES), counter = 0): SeededRng {
    check(key instanceof Uint8Array && key.length === KEY_BYTES, "RNG_BAD_KEY", `key must be ${KEY_BYTES} bytes`);
    check(
      nonce instanceof Uint8Array && nonce.length === NONCE_BYTES,
      "RNG_BAD_KEY",
      `nonce must be ${NONCE_BYTES} bytes`,
    );
    check(
      Number.isInteger(counter) && counter >= 0 && counter <= 0xffffffff,
      "RNG_BAD_KEY",
      `counter must be an integer in [0, 2^32), got ${counter}`,
    );
    return new SeededRng(Uint8Array.from(key), Uint8Array.from(nonce), counter);
  }

  /** The generator of a simulation seed: key = SHA-256(domain ‖ kind ‖ seed), nonce 0. */
  static fromSeed(seed: Seed): SeededRng {
    const hash = createHash("sha256").update(SEED_DOMAIN);
    if (typeof seed === "number") {
      check(
        Number.isSafeInteger(seed) && seed >= 0,
        "RNG_BAD_SEED",
        `a numeric seed must be a non-negative safe integer, got ${seed}`,
      );
      const encoded = Buffer.alloc(8);
      writeU64BE(encoded, 0, seed);
      hash.update("n").update(encoded);
    } else {
      check(typeof seed === "string" && seed.length > 0, "RNG_BAD_SEED", "a seed must be a number or a non-empty string");
      hash.update("s").update(seed, "utf8");
    }
    return new SeededRng(new Uint8Array(hash.digest()), new Uint8Array(NONCE_BYTES), 0);
  }

  /**
   * An independent stream named `label`. It depends only on this generator's key, nonce and the
   * label — not on how much has been drawn — so adding draws to one purpose never shifts the
   * stream of another. The same label always gives the same stream.
   */
  fork(label: string): SeededRng {
    check(typeof label === "string" && label.length > 0, "RNG_BAD_LABEL", "a fork label must be a non-empty string");
    const digest = createHash("sha256")
      .update(FORK_DOMAIN)
      .update(this.key)
      .update(this.nonce)
      .update(label, "utf8")
      .digest();
    return new SeededRng(new Uint8Array(digest), new Uint8Array(NONCE_BYTES), 0);
  }

  nextU32(): number {
    if (this.cursor === BLOCK_WORDS) this.refill();
    return this.block[this.cursor++]!;
  }

  nextFloat(): number {
    return floatOf53Bits(this);
  }

  /**
   * The next `length` keystream bytes. Draws whole words: a length that is not a multiple of 4
   * discards the rest of its last word, so the stream position stays word-aligned.
   */
  bytes(length: number): Uint8Array {
    checkLength(length);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.nextU32();
      out[i] = word & 0xff;
      if (i + 1 < length) out[i + 1] = (word >>> 8) & 0xff;
      if (i + 2 < length) out[i + 2] = (word >>> 16) & 0xff;
      if (i + 3 < length) out[i + 3] = word >>> 24;
    }
    return out;
  }

  /** Computes the block for the current counter (RFC 8439 §2.3.1), then advances the counter. */
  private refill(): void {
    const s = this.state;
    let x0 = s[0]!, x1 = s[1]!, x2 = s[2]!, x3 = s[3]!;
    let x4 = s[4]!, x5 = s[5]!, x6 = s[6]!, x7 = s[7]!;
    let x8 = s[8]!, x9 = s[9]!, x10 = s[10]!, x11 = s[11]!;
    let x12 = s[12]!, x13 = s[13]!, x14 = s[14]!, x15 = s[15]!;
    for (let round = 0; round < DOUBLE_ROUNDS; round++) {
      // Column round: quarter rounds on (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15).
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
      x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
      x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
      x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
      x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
      x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
      x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
      x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
      x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);
      // Diagonal round: (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14).
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
      x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
      x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
      x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
      x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
      x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
      x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
      x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
      x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
    }
    const b = this.block;
    b[0] = x0 + s[0]!; b[1] = x1 + s[1]!; b[2] = x2 + s[2]!; b[3] = x3 + s[3]!;
    b[4] = x4 + s[4]!; b[5] = x5 + s[5]!; b[6] = x6 + s[6]!; b[7] = x7 + s[7]!;
    b[8] = x8 + s[8]!; b[9] = x9 + s[9]!; b[10] = x10 + s[10]!; b[11] = x11 + s[11]!;
    b[12] = x12 + s[12]!; b[13] = x13 + s[13]!; b[14] = x14 + s[14]!; b[15] = x15 + s[15]!;
    this.cursor = 0;
    s[12] = s[12]! + 1;
    if (s[12] === 0) s[13] = s[13]! + 1;
  }
}

