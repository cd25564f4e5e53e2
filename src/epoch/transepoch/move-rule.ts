/**
 * The one swap rule of every instance of a shard's move into epoch e + 1 before the epoch's own
 * committee's (batches 0..B − 1; design: docs/TRANSEPOCH.md, "Heights, epochs and b"): the
 * schedule's swaps (`ShardSwaps`: batch b + 1's SWAP_IN, the joiners' signed requests) composed
 * with the *forced end*. What an empty SWAP_IN means depends on the height, never on its bytes (a
 * removal-only batch's swap-in is empty too):
 *
 *  - at the *forced end*, the epoch's last height but one (index L − 1; the last makes the
 *    boundary and is batch B's), the only swap-in is the empty one and it jumps to B from
 *    whatever batch the shard is at (`endsMove`): a shard cannot end an epoch half moved, and the
 *    joiners still missing sync up to that height as movers do;
 *  - in a shard that does not move (B = 0), the empty swap-in ends batch 0 at once (to B = 0);
 *  - anywhere else a swap-in is batch b + 1's, checked by `checkSwapIn` (one batch per swap).
 *
 * `MoveSwapRule` is the PoB node's `SwapInRule` for one such instance (batch 0, the *opening*, or
 * a batch driver's b ≥ 1):
 *
 *  1. *unconfigured* (batch 0 only: configuration e + 1 is not known here, so neither is the
 *     schedule): no swap-in proposed, any refused (TRANSEPOCH_WRONG_BATCH), requests refused and
 *     counted (TRANSEPOCH_WRONG_BATCH); the instance decides ordinary heights;
 *  2. *configure(swaps)*: the schedule's `ShardSwaps` at the instance's batch; a batch driver's rule
 *     is configured from the start;
 *  3. *pending(h)*: the empty swap-in at the forced end or when B = 0, else `ShardSwaps.pending`;
 *  4. *check(swapIn, h)*: `checkMoveSwapIn`, returning the batch it moves to;
 *  5. *overdue(h)*: always at the forced end (a shard whose configuration is late rests there
 *     until it is known: *resting(h)*, so its views do not run out meanwhile and no leader is
 *     blamed for the wait; `onConfigured` wakes the node); with B = 0 once configured for `patienceMs`
 *     (SWAP_PATIENCE, 4Δ); else `ShardSwaps.overdue` (a complete swap-in held for the patience);
 *  6. *offer(request)*: a joiner's SWAP_REQUEST for `ShardSwaps`, refusals counted by code;
 *  7. *next(b')*: the rule of batch b' once this instance's end moved there: the same swaps,
 *     advanced (requests kept for later batches carry over).
 */
import { check } from "../../errors.js";
import type { Clock } from "../../runtime/interface.js";
import type { SwapInRule } from "../../consensus/pob/protocol.js";
import type { TransEpochErrorCode } from "./interface.js";
import { decodeSwapIn, encodeSwapIn } from "./swap.js";
import type { ShardSwaps } from "./swaps.js";

/** The empty SWAP_IN (u8 count 0): the forced end, a non-moving shard's end, or a removal-only batch (the height tells which). */
export const EMPTY_SWAP_IN: Uint8Array = encodeSwapIn([]);

/** Where a swap-in sits in its epoch's move. */
export interface MovePlace {
  /** The height's place in its epoch: 1..L. */
  readonly index: number;
  readonly epochLength: number;
  /** B: the move's batch count (0: the shard keeps its committee). */
  readonly batchCount: number;
}

/** Whether a swap-in at `place` ends the move (to B, empty only): the forced end at the epoch's last height but one, or a shard with no batch. */
export function endsMove(place: MovePlace): boolean {
  return place.index === place.epochLength - 1 || place.batchCount === 0;
}

/** The batch a swap-in (already checked) at `place` moves the committee to from `batch`. */
export function batchAfterSwap(batch: number, place: MovePlace): number {
  return endsMove(place) ? place.batchCount : batch + 1;
}

/**
 * Checks a swap-in at `place`: where it ends the move, the empty one only (TRANSEPOCH_MALFORMED for
 * bytes that are no SWAP_IN, TRANSEPOCH_WRONG_BATCH for one carrying requests), returning B; else
 * `checkNext` (`checkSwapIn` at the current batch), returning what it returns.
 */
export function checkMoveSwapIn(swapIn: Uint8Array, place: MovePlace, checkNext: () => number): number {
  if (!endsMove(place)) return checkNext();
  const requests = decodeSwapIn(swapIn).length;
  check<TransEpochErrorCode>(requests === 0, "TRANSEPOCH_WRONG_BATCH",
    `height ${place.index} of the epoch ends the move (to batch ${place.batchCount}) with the empty swap-in only, not ${requests} request(s)`);
  return place.batchCount;
}

export interface MoveSwapRuleOptions {
  readonly clock: Clock;
  /** SWAP_PATIENCE: SWAP_PATIENCE_DELTAS × the node's Δ. */
  readonly patienceMs: number;
  /** The chain height before epoch e + 1's first: (e + 1)·L. */
  readonly epochStart: number;
  readonly epochLength: number;
}

export class MoveSwapRule implements SwapInRule {
  #swaps: ShardSwaps | undefined;
  /** When this member learned the schedule (its clock); undefined: not yet. */
  #configuredAt: number | undefined;
  /** Requests refused before the schedule was known (TRANSEPOCH_WRONG_BATCH). */
  #refusedUnconfigured = 0;
  readonly #configuredListeners: (() => void)[] = [];

  /** `swaps`: the schedule's swaps at the instance's batch, when known from the start (a batch driver's). */
  constructor(private readonly options: MoveSwapRuleOptions, swaps?: ShardSwaps) {
    check<TransEpochErrorCode>(Number.isFinite(options.patienceMs) && options.patienceMs >= 0, "TRANSEPOCH_BAD_INPUT", `patience must be a non-negative number of ms, got ${options.patienceMs}`);
    check<TransEpochErrorCode>(Number.isInteger(options.epochLength) && options.epochLength >= 2 && Number.isInteger(options.epochStart) && options.epochStart >= 0,
      "TRANSEPOCH_BAD_INPUT", `an epoch of length ${options.epochLength} from height ${options.epochStart} has no move`);
    if (swaps !== undefined) this.configure(swaps);
  }

  /** This member holds configuration e + 1: the schedule's swaps at the instance's batch (idempotent: the first stays). */
  configure(swaps: ShardSwaps): void {
    if (this.#swaps !== undefined) return;
    this.#swaps = swaps;
    this.#configuredAt = this.options.clock.now();
    for (const listener of this.#configuredListeners.splice(0)) listener();
  }

  /** Calls `listener` once when the schedule becomes known (at once if it is). */
  onConfigured(listener: () => void): void {
    if (this.#swaps !== undefined) listener();
    else this.#configuredListeners.push(listener);
  }

  get configured(): boolean {
    return this.#swaps !== undefined;
  }

  /** The batch the committee is at (0 while unconfigured: only batch 0 runs unconfigured). */
  get batch(): number {
    return this.#swaps?.batch ?? 0;
  }

  /**
   * The rule of the instance of batch `batch`, whose swap-in this instance's certified end moved to: the same swaps
   * advanced there, so requests kept for later batches (joiners ask early) carry over.
   */
  next(batch: number): MoveSwapRule {
    const swaps = this.#swaps;
    check<TransEpochErrorCode>(swaps !== undefined, "TRANSEPOCH_WRONG_BATCH", "an unconfigured instance moves to no batch");
    swaps.advance(batch);
    return new MoveSwapRule(this.options, swaps);
  }

  /** The chain height of the forced end: epoch e + 1's last but one. */
  get lastHeight(): number {
    return this.options.epochStart + this.options.epochLength - 1;
  }

  #place(height: number, swaps: ShardSwaps): MovePlace {
    return { index: height - this.options.epochStart, epochLength: this.options.epochLength, batchCount: swaps.batchCount };
  }

  pending(height: number): Uint8Array | undefined {
    const swaps = this.#swaps;
    if (swaps === undefined) return undefined;
    return endsMove(this.#place(height, swaps)) ? EMPTY_SWAP_IN : swaps.pending(height);
  }

  /** Returns the batch the swap-in moves the committee to. */
  check(swapIn: Uint8Array, height: number): number {
    const swaps = this.#swaps;
    check<TransEpochErrorCode>(swaps !== undefined, "TRANSEPOCH_WRONG_BATCH", "this member does not hold the next configuration: the instance cannot end yet");
    return checkMoveSwapIn(swapIn, this.#place(height, swaps), () => swaps.check(swapIn, height));
  }

  overdue(height: number): boolean {
    if (height >= this.lastHeight) return true;
    const swaps = this.#swaps;
    if (swaps === undefined) return false;
    if (swaps.batchCount === 0) return this.options.clock.now() - this.#configuredAt! >= this.options.patienceMs;
    return swaps.overdue(height);
  }

  /** At the forced end without the schedule: nothing can be proposed or accepted here until `configure`. */
  resting(height: number): boolean {
    return height >= this.lastHeight && this.#swaps === undefined;
  }

  /** A joiner's request from the peer `sender`: kept by the schedule's swaps, or refused and counted by code; whether it was kept. */
  offer(bytes: Uint8Array, sender: string): boolean {
    if (this.#swaps !== undefined) return this.#swaps.offer(bytes, sender);
    this.#refusedUnconfigured++;
    return false;
  }

  /** Requests `offer` refused, by code (for ios_transepoch_swap_requests_refused_total). */
  get refused(): ReadonlyMap<TransEpochErrorCode, number> {
    const refused = new Map(this.#swaps?.refused ?? []);
    if (this.#refusedUnconfigured > 0) refused.set("TRANSEPOCH_WRONG_BATCH", (refused.get("TRANSEPOCH_WRONG_BATCH") ?? 0) + this.#refusedUnconfigured);
    return refused;
  }
}
