/**
 * Which transactions of an optimistic block get their signatures re-verified in phase 2
 * (white paper §7.2: normal validators "sample and verify the transactions" with probability p).
 *
 * Each transaction is sampled independently with probability p:
 *   blockSeed = SHA-256("IOSChain/pob/sample-seed/v1" ‖ finalRandomness ‖ optimistic block hash)
 *   sampled(t) ⇔ u32le(SHA-256("IOSChain/pob/sample/v1" ‖ blockSeed ‖ txid)[0..4]) < ⌊p · 2^32⌋
 * (p = 1 samples everything).
 *
 * Why the producer cannot know the sample when it signs. `finalRandomness` is fixed only by the
 * final proposal that orders the optimistic block: it combines 2f + 1 normal-league members' VRF
 * outputs over the proposal core, which contains this block's hash (randomness.ts), so it comes
 * into existence after the producer's signature and no choice of block content, order or
 * timestamp lets the producer steer which transactions get checked: with an honest leader the
 * only way to pass is to be lucky, with probability (1 − p)^k for k invalid transactions
 * (analysis.ts); randomness.ts bounds what a colluding leader can choose. The block hash is mixed
 * in so that two blocks ordered by the same final block get independent samples.
 *
 * API: `sampleSeed(finalRandomness, blockHash)`, `Sampler` (threshold precomputed),
 * `samplingThreshold(p)`.
 */
import { defaultSha256Wasm, sha256 } from "../../crypto/sha256.js";
import { HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { readU32 } from "../../codec/binary.js";
import { check } from "../../errors.js";
import type { PobErrorCode } from "./errors.js";

const SEED_DOMAIN = new TextEncoder().encode("IOSChain/pob/sample-seed/v1");
const SAMPLE_DOMAIN = new TextEncoder().encode("IOSChain/pob/sample/v1");
export const FINAL_RANDOMNESS_BYTES = 32;

/** ⌊p · 2^32⌋: a u32 below it means "sampled". */
export function samplingThreshold(p: number): number {
  check<PobErrorCode>(typeof p === "number" && p >= 0 && p <= 1, "POB_BAD_PROBABILITY", `sampling probability must be in [0, 1], got ${String(p)}`);
  return Math.floor(p * 2 ** 32);
}

/** Per-block seed binding the post-signature randomness to one optimistic block. */
export function sampleSeed(finalRandomness: Uint8Array, blockHash: Uint8Array): Uint8Array {
  check<PobErrorCode>(finalRandomness instanceof Uint8Array && finalRandomness.length === FINAL_RANDOMNESS_BYTES, "POB_BAD_SEED",
    `final randomness must be ${FINAL_RANDOMNESS_BYTES} bytes`);
  check<PobErrorCode>(blockHash instanceof Uint8Array && blockHash.length === HASH_BYTES, "POB_BAD_ARGUMENT", `block hash must be ${HASH_BYTES} bytes`);
  const input = new Uint8Array(SEED_DOMAIN.length + FINAL_RANDOMNESS_BYTES + HASH_BYTES);
  input.set(SEED_DOMAIN);
  input.set(finalRandomness, SEED_DOMAIN.length);
  input.set(blockHash, SEED_DOMAIN.length + FINAL_RANDOMNESS_BYTES);
  return sha256(input);
}

/** Sampling decisions for the transactions of one block. */
export class Sampler {
  private readonly threshold: number;
  private readonly input = new Uint8Array(SAMPLE_DOMAIN.length + HASH_BYTES + TXID_BYTES);

  constructor(p: number, blockSeed: Uint8Array) {
    this.threshold = samplingThreshold(p);
    check<PobErrorCode>(blockSeed instanceof Uint8Array && blockSeed.length === HASH_BYTES, "POB_BAD_SEED", `block seed must be ${HASH_BYTES} bytes`);
    this.input.set(SAMPLE_DOMAIN);
    this.input.set(blockSeed, SAMPLE_DOMAIN.length);
  }

  isSampled(txid: Uint8Array): boolean {
    check<PobErrorCode>(txid instanceof Uint8Array && txid.length === TXID_BYTES, "POB_BAD_ARGUMENT", `txid must be ${TXID_BYTES} bytes`);
    this.input.set(txid, SAMPLE_DOMAIN.length + HASH_BYTES);
    // Read in the kernel's output: no digest copied per transaction.
    const kernel = defaultSha256Wasm();
    kernel.digestToOut(this.input);
    return readU32(kernel.out, 0) < this.threshold;
  }
}
