/**
 * How a devnet's shards decide blocks, from its shape (kept apart from the launcher so the CLI
 * can describe a devnet without loading the launcher's imports): the consensus mode and the
 * Proof-of-Believability policy that `ios genesis` and the launcher write into the genesis.
 */

import { MIN_NORMAL_LEAGUE, type ShardingPolicy } from "../consensus/pob/policy.js";

/** One believable producer per shard: the smallest two-league shard (4 validators) keeps 3 in its normal league. */
export const DEFAULT_BELIEVABLE = 1;
/** p = 0.1: a cheating producer is caught with probability 1 − 0.9^k after k forged transactions (white paper §7.2). */
export const DEFAULT_SAMPLING_P = 0.1;
/** A believable validator seals an optimistic block every 50 ms: half the optimistic-latency target (DESIGN.md §10). */
const OPTIMISTIC_INTERVAL_MS = 50;
/** Up to 2,048 transactions per optimistic block: 50 ms of a producer at 40k tx/s. */
const OPTIMISTIC_BLOCK_TXS = 2048;

/** The most believable producers a shard of `validatorsPerShard` can have (1 for a lone, solo validator: recorded only). */
export function maxBelievableOf(validatorsPerShard: number): number {
  return validatorsPerShard === 1 ? 1 : Math.max(0, validatorsPerShard - MIN_NORMAL_LEAGUE);
}

/** Solo for a lone validator; Proof-of-Believability with B ≥ 1 believable producers; one-league BFT with B = 0. */
export function consensusModeOf(options: { readonly validatorsPerShard: number; readonly believable: number }): "solo" | "bft" | "pob" {
  if (options.validatorsPerShard === 1) return "solo";
  return options.believable === 0 ? "bft" : "pob";
}

/**
 * The PoB policy of shards of `validatorsPerShard` (≥ MIN_NORMAL_LEAGUE) with `believable`
 * producers (0..validatorsPerShard − MIN_NORMAL_LEAGUE); the rest form the normal league.
 */
export function devnetPobPolicy(options: { readonly validatorsPerShard: number; readonly believable: number; readonly samplingProbability?: number }): ShardingPolicy {
  const { validatorsPerShard, believable } = options;
  return {
    believableLeagueSize: Math.max(1, believable),
    normalLeagueSize: validatorsPerShard - believable,
    samplingProbability: options.samplingProbability ?? DEFAULT_SAMPLING_P,
    // Believable 0 asks for the one-league fallback: a league of one can never reach a minimum of 2.
    minBelievableSize: believable === 0 ? 2 : 1,
    optimisticIntervalMs: OPTIMISTIC_INTERVAL_MS,
    maxOptimisticBlockTxs: OPTIMISTIC_BLOCK_TXS,
  };
}
