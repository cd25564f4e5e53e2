/**
 * TransEpoch (white paper §5.4, Algorithm 4): how each shard's committee moves from configuration
 * e's members to configuration e + 1's a few seats at a time instead of all at once, so that at
 * every moment at least two thirds of the committee in use is up to date and the shard keeps
 * finalizing (§5.5, Security Theorem 2).
 *
 * Phases of one shard j's move (schedule.ts computes the first two, as a pure function):
 *  1. *order*: the members leaving j (in e, not in e + 1) ordered by a permutation seeded
 *     H(j ‖ rnd_{e+1}); every validator joining some shard (in e + 1, not in that shard in e: a
 *     mover or a newcomer) ordered by one permutation seeded H(0 ‖ rnd_{e+1}), and j's joiners
 *     taken in that order.
 *  2. *batches*: batch b (1..B) pairs the b-th k leavers with the b-th k joiners; k is
 *     max(1, ⌈log2(n/m)⌉) capped so that no more than a third of the shard's seats are in flight;
 *     committee(0) is configuration e's members of j, committee(b) the one after b swaps,
 *     committee(B) configuration e + 1's.
 *  3. *bootstrap*: batch b's joiners start Δ·(b − 1) after configuration e + 1 is known, download
 *     the shard's latest MSB (src/msb) and replay the heights since.
 *  4. *swap-in*: a synced joiner asks the shard's leader to swap it in; the leader's certified
 *     proposal carries the batch's requests and moves the committee from b − 1 to b (design:
 *     docs/TRANSEPOCH.md).
 *
 * Error codes: TRANSEPOCH_BAD_INPUT (the two assignments, the randomness or the shard count do not
 * describe two configurations of one chain), TRANSEPOCH_BAD_BATCH (a batch number outside 0..B);
 * a swap-in's refusals (swap.ts `checkSwapIn`): TRANSEPOCH_MALFORMED, _WRONG_BATCH, _NOT_JOINER,
 * _DUPLICATE_JOINER, _MISSING_JOINER, _WRONG_PLACE, _STALE_SYNC, _WRONG_COMMITMENT, _BAD_SIGNATURE; a member's
 * intake of requests (swaps.ts): TRANSEPOCH_REPLAYED, TRANSEPOCH_TOO_SOON.
 */

export type TransEpochErrorCode =
  | "TRANSEPOCH_BAD_INPUT"
  | "TRANSEPOCH_BAD_BATCH"
  | "TRANSEPOCH_MALFORMED"
  | "TRANSEPOCH_WRONG_BATCH"
  | "TRANSEPOCH_NOT_JOINER"
  | "TRANSEPOCH_DUPLICATE_JOINER"
  | "TRANSEPOCH_MISSING_JOINER"
  | "TRANSEPOCH_WRONG_PLACE"
  | "TRANSEPOCH_STALE_SYNC"
  | "TRANSEPOCH_WRONG_COMMITMENT"
  | "TRANSEPOCH_BAD_SIGNATURE"
  /** A joiner's request not newer than the one a member keeps for it (swaps.ts): a replay, or a joiner whose tip has not moved. */
  | "TRANSEPOCH_REPLAYED"
  /** A request from a peer whose last checked one is under SWAP_SENDER_SPACING of Δ old (swaps.ts): refused before its signature. */
  | "TRANSEPOCH_TOO_SOON";

/** What a schedule is computed from: two configurations' shard assignments and the later one's randomness. */
export interface TransEpochInput {
  /** Configuration e's members of each shard (any order: the schedule sorts them by key). */
  readonly before: readonly (readonly Uint8Array[])[];
  /** Configuration e + 1's members of each shard. */
  readonly after: readonly (readonly Uint8Array[])[];
  /** rnd_{e+1}: the randomness of configuration e + 1 (32 bytes), which seeds both permutations. */
  readonly randomness: Uint8Array;
  readonly shardCount: number;
}

/** One swap: the committee drops `leaving` and takes `joining` (either may be shorter than k, or empty, when the shard changes size). */
export interface SwapBatch {
  /** 1..B: the committee after this batch is committee(index). */
  readonly index: number;
  readonly leaving: readonly Uint8Array[];
  readonly joining: readonly Uint8Array[];
}

/** The move of one shard from configuration e's committee to configuration e + 1's. */
export interface ShardSchedule {
  readonly shard: number;
  /** k: seats swapped per batch. */
  readonly batchSize: number;
  /** Members of e that leave this shard, in the order of the H(j ‖ rnd) permutation. */
  readonly leaving: readonly Uint8Array[];
  /** Members of e + 1 that join this shard, in the order of the H(0 ‖ rnd) permutation. */
  readonly joining: readonly Uint8Array[];
  /** Batches 1..B in order (B = 0 when the shard keeps its members). */
  readonly batches: readonly SwapBatch[];
  /** The committee after `b` swaps (0..B), in key order: committee(0) is e's members, committee(B) e + 1's. */
  committee(b: number): readonly Uint8Array[];
}

export interface TransEpochSchedule {
  readonly shards: readonly ShardSchedule[];
  /** The shard and batch in which `publicKey` joins (undefined: it joins no shard: it stays, leaves the set, or is unknown). */
  joiningBatchOf(publicKey: Uint8Array): { readonly shard: number; readonly batch: number } | undefined;
  /** The shard and batch in which `publicKey` is swapped out (undefined: it leaves no shard). */
  leavingBatchOf(publicKey: Uint8Array): { readonly shard: number; readonly batch: number } | undefined;
}
