/**
 * How a devnet's shards decide blocks, from its shape (kept apart from the launcher so the CLI
 * can describe a devnet without loading the launcher's imports).
 */

import { MIN_NORMAL_LEAGUE } from "../consensus/pob/policy.js";

/** The most believable producers a shard of `validatorsPerShard` can have (1 for a lone, solo validator: recorded only). */
export function maxBelievableOf(validatorsPerShard: number): number {
  return validatorsPerShard === 1 ? 1 : Math.max(0, validatorsPerShard - MIN_NORMAL_LEAGUE);
}

/** Solo for a lone validator; Proof-of-Believability with B ≥ 1 believable producers; one-league BFT with B = 0. */
export function consensusModeOf(options: { readonly validatorsPerShard: number; readonly believable: number }): "solo" | "bft" | "pob" {
  if (options.validatorsPerShard === 1) return "solo";
  return options.believable === 0 ? "bft" : "pob";
}
