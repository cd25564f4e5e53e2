/**
 * The sharding policy of Proof-of-Believability (white paper §7.2: "the sharding policy file
 * specifies the sizes of the believable and normal league, respectively, and the sampling
 * probability p"; the fallback of §7.2 adds the minimum believable size). Part of the genesis /
 * epoch configuration (DESIGN.md §4), so every validator of a shard applies the same one.
 *
 * Binary form (in the canonical genesis and in every epoch configuration of the identity chain,
 * src/epoch/identity), little-endian: u32 believableLeagueSize ‖ u32 normalLeagueSize ‖
 * f64 samplingProbability ‖ u32 minBelievableSize ‖ u32 optimisticIntervalMs ‖
 * u32 maxOptimisticBlockTxs (POLICY_BYTES).
 *
 * API: `validatePolicy(policy): ShardingPolicy`, `DEFAULT_POLICY`, `writePolicy`, `readPolicy`, `POLICY_BYTES`.
 */
import { check } from "../../errors.js";
import type { BinaryReader, BinaryWriter } from "../../codec/binary.js";
import type { PobErrorCode } from "./errors.js";

export interface ShardingPolicy {
  /** Target size of the believable league (one optimistic producer per member, §7.2). */
  readonly believableLeagueSize: number;
  /**
   * Minimum size of the normal league; the believable league is cut so that this many remain.
   * It runs ByzCoin (§7.2) and tolerates f = ⌊(n − 1)/3⌋ faulty members: a league of 4 or more
   * tolerates one; a league of 3 (a 4-validator devnet with one believable producer) tolerates
   * none and is for local networks only.
   */
  readonly normalLeagueSize: number;
  /** Probability p that a normal validator re-verifies one transaction's signatures (§7.2). */
  readonly samplingProbability: number;
  /** Below this many eligible believable validators the shard runs one-league BFT (§7.2 fallback). */
  readonly minBelievableSize: number;
  /** Interval between two optimistic blocks of one believable validator, ms ("short interval", §7.2). */
  readonly optimisticIntervalMs: number;
  /** Transactions per optimistic block ("smaller blocks with extremely low latency", §7.2). */
  readonly maxOptimisticBlockTxs: number;
}

/**
 * Three members at least: a committee of 3 tolerates no fault (f = ⌊(n − 1)/3⌋ = 0) but every
 * final block still carries three signatures; fault tolerance starts at 4 (n = 3f + 1, f = 1).
 */
export const MIN_NORMAL_LEAGUE = 3;
/** Upper bound on either league: the participation bitmask of a final block covers 1,024 validators. */
export const MAX_LEAGUE = 1024;
/** An optimistic block at most once a minute, at least once per millisecond tick. */
export const MAX_OPTIMISTIC_INTERVAL_MS = 60_000;
/** Optimistic blocks are a fraction of a final block (ledger MAX_BLOCK_TXS = 16,384). */
export const MAX_OPTIMISTIC_BLOCK_TXS = 4096;

/** A devnet default: 4 believable producers, a 7-member normal league (f = 2), p = 0.3. */
export const DEFAULT_POLICY: ShardingPolicy = {
  believableLeagueSize: 4,
  normalLeagueSize: 7,
  samplingProbability: 0.3,
  minBelievableSize: 2,
  optimisticIntervalMs: 50,
  maxOptimisticBlockTxs: 512,
};

function isIntegerIn(value: unknown, low: number, high: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= low && value <= high;
}

/** Checks every field and returns the policy; each failure is POB_BAD_POLICY naming the field. */
export function validatePolicy(policy: ShardingPolicy): ShardingPolicy {
  check<PobErrorCode>(typeof policy === "object" && policy !== null, "POB_BAD_POLICY", "policy must be an object");
  const p = policy.samplingProbability;
  check<PobErrorCode>(isIntegerIn(policy.believableLeagueSize, 1, MAX_LEAGUE), "POB_BAD_POLICY",
    `believableLeagueSize must be an integer in 1..${MAX_LEAGUE}, got ${String(policy.believableLeagueSize)}`);
  check<PobErrorCode>(isIntegerIn(policy.normalLeagueSize, MIN_NORMAL_LEAGUE, MAX_LEAGUE), "POB_BAD_POLICY",
    `normalLeagueSize must be an integer in ${MIN_NORMAL_LEAGUE}..${MAX_LEAGUE}, got ${String(policy.normalLeagueSize)}`);
  check<PobErrorCode>(typeof p === "number" && p > 0 && p <= 1, "POB_BAD_POLICY",
    `samplingProbability must be a number in (0, 1], got ${String(p)}`);
  check<PobErrorCode>(isIntegerIn(policy.minBelievableSize, 1, policy.believableLeagueSize), "POB_BAD_POLICY",
    `minBelievableSize must be an integer in 1..believableLeagueSize (${policy.believableLeagueSize}), got ${String(policy.minBelievableSize)}`);
  check<PobErrorCode>(isIntegerIn(policy.optimisticIntervalMs, 1, MAX_OPTIMISTIC_INTERVAL_MS), "POB_BAD_POLICY",
    `optimisticIntervalMs must be an integer in 1..${MAX_OPTIMISTIC_INTERVAL_MS}, got ${String(policy.optimisticIntervalMs)}`);
  check<PobErrorCode>(isIntegerIn(policy.maxOptimisticBlockTxs, 1, MAX_OPTIMISTIC_BLOCK_TXS), "POB_BAD_POLICY",
    `maxOptimisticBlockTxs must be an integer in 1..${MAX_OPTIMISTIC_BLOCK_TXS}, got ${String(policy.maxOptimisticBlockTxs)}`);
  return policy;
}

/** The binary policy: five u32 and one f64. */
export const POLICY_BYTES = 5 * 4 + 8;

/** Appends the binary policy (file comment) to `writer`; the caller has checked it. */
export function writePolicy(writer: BinaryWriter, policy: ShardingPolicy): BinaryWriter {
  return writer.u32(policy.believableLeagueSize).u32(policy.normalLeagueSize).f64(policy.samplingProbability)
    .u32(policy.minBelievableSize).u32(policy.optimisticIntervalMs).u32(policy.maxOptimisticBlockTxs);
}

/**
 * Reads a binary policy and checks it (POB_BAD_POLICY out of range): a valid policy has one
 * encoding, since every accepted probability is a finite non-zero binary64.
 */
export function readPolicy<Code extends string>(reader: BinaryReader<Code>): ShardingPolicy {
  reader.need(POLICY_BYTES, "the sharding policy");
  const believableLeagueSize = reader.u32();
  const normalLeagueSize = reader.u32();
  const samplingProbability = reader.f64();
  return validatePolicy({ believableLeagueSize, normalLeagueSize, samplingProbability, minBelievableSize: reader.u32(), optimisticIntervalMs: reader.u32(), maxOptimisticBlockTxs: reader.u32() });
}
