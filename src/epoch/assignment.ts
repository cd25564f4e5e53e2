/**
 * Shard assignment (white paper §4.1; DESIGN.md §5): the epoch randomness rnd_e seeds a random
 * permutation of all n validators, which is cut into m buckets of ⌊n/m⌋ or ⌈n/m⌉ validators;
 * bucket j serves shard j. Anyone holding rnd_e and the epoch's validator list recomputes it.
 *
 * The permutation is Fisher–Yates driven by a deterministic stream of SHA-256 blocks,
 * SHA-256(domain ‖ rnd_e ‖ u32le counter), read as u32 words; each draw of an index below k uses
 * rejection sampling (words ≥ the largest multiple of k are skipped), so the permutation is
 * uniform and identical on every platform.
 *
 * API: `assignShards(validatorCount, shardCount, randomness): Uint32Array` (shard of validator i);
 * `seededPermutation(count, seed, domain)`, the same permutation under another domain (the DRP
 * grouping, src/epoch/drp/config.ts).
 */
import { check } from "../errors.js";
import { HASH_BYTES } from "../codec/sizes.js";
import { readU32, writeU32 } from "../codec/binary.js";
import { sha256 } from "../crypto/sha256.js";
import { checkShardCount } from "../ledger/shard.js";
import type { EpochErrorCode } from "./interface.js";

const ASSIGNMENT_DOMAIN = new TextEncoder().encode("IOSChain/epoch/assignment/v1");
const WORDS_PER_BLOCK = HASH_BYTES / 4;

/** Uniform integers below a bound, from SHA-256(domain ‖ seed ‖ u32le counter) blocks. */
class HashStream {
  readonly #input: Uint8Array;
  #counter = 0;
  #block: Uint8Array | undefined;
  #word = WORDS_PER_BLOCK;

  constructor(domain: Uint8Array, seed: Uint8Array) {
    this.#input = new Uint8Array(domain.length + seed.length + 4);
    this.#input.set(domain);
    this.#input.set(seed, domain.length);
  }

  #nextWord(): number {
    if (this.#word === WORDS_PER_BLOCK) {
      writeU32(this.#input, this.#input.length - 4, this.#counter++);
      this.#block = sha256(this.#input);
      this.#word = 0;
    }
    return readU32(this.#block!, 4 * this.#word++);
  }

  /** Uniform in [0, bound), bound in 1..2^32. */
  below(bound: number): number {
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const word = this.#nextWord();
      if (word < limit) return word % bound;
    }
  }
}

/** A uniform permutation of 0..count−1: Fisher–Yates over the hash stream of `domain` ‖ `seed`. */
export function seededPermutation(count: number, seed: Uint8Array, domain: Uint8Array): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const stream = new HashStream(domain, seed);
  for (let i = count - 1; i > 0; i--) {
    const j = stream.below(i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/**
 * The shard of each of `validatorCount` validators (index = position in the epoch's validator
 * list): a seeded permutation cut into `shardCount` near-equal buckets. Needs n ≥ m, so that no
 * shard is left without a validator.
 */
export function assignShards(validatorCount: number, shardCount: number, randomness: Uint8Array): Uint32Array {
  checkShardCount(shardCount);
  check<EpochErrorCode>(Number.isSafeInteger(validatorCount) && validatorCount >= shardCount, "EPOCH_TOO_FEW_VALIDATORS",
    `${validatorCount} validator(s) cannot serve ${shardCount} shard(s): every shard needs at least one`);
  check<EpochErrorCode>(randomness.length === HASH_BYTES, "EPOCH_BAD_RANDOMNESS", `epoch randomness must be ${HASH_BYTES} bytes, got ${randomness.length}`);
  const order = seededPermutation(validatorCount, randomness, ASSIGNMENT_DOMAIN);
  // Position p of the permutation falls in bucket ⌊p·m/n⌋: sizes ⌊n/m⌋ or ⌈n/m⌉.
  const shards = new Uint32Array(validatorCount);
  order.forEach((validator, position) => (shards[validator] = Math.floor((position * shardCount) / validatorCount)));
  return shards;
}
