/**
 * The batch walk: which batch's committee must have certified each height of an epoch, for a
 * verifier that walks a shard's chain (state sync; design: docs/TRANSEPOCH.md, "What a
 * verifier accepts"). A certificate names its batch b_h and verifies against committee(b_h) (its
 * instance key binds b_h), so without this walk a committee of *any* batch of the epoch — the old
 * one of batch 0 included, long after it was swapped out — could certify any height. Per height
 * h of epoch E (heights E·L + 1 .. (E + 1)·L), phases of `checkBatchWalk`:
 *
 *  1. *first height* (E·L + 1): b = 0 (the opening: epoch E − 1's committee);
 *  2. *continuation*: b_h = b_{h−1}, unless height h − 1's certified proposal carried a SWAP_IN:
 *     then b_h is the batch that swap-in moved to (`batchAfter`, the swap-in checked when h − 1
 *     was verified);
 *  3. *swap-in*: a height carrying a SWAP_IN must pass `checkSwapIn` at its own batch with the
 *     walker's commitments (`checkWalkedSwapIn`), so a walker never follows a swap the committee
 *     in use could not have accepted;
 *  4. *last height* ((E + 1)·L, the epoch's boundary): b = B, and no swap-in (no batch follows B).
 *
 * What an empty SWAP_IN means is the height's, as for the members (move-rule.ts): at the
 * epoch's last height but one (the *forced end*), or in a shard with no batch (B = 0), it jumps to
 * B from whatever batch the walk is at; anywhere else a swap-in moves one batch and must pass
 * `checkSwapIn` (a removal-only batch's swap-in is empty too).
 *
 * Errors: TRANSEPOCH_WRONG_BATCH (a height certified by another batch than the walk's, or a move
 * this verifier does not know); a swap-in's `checkSwapIn` codes.
 *
 * API: `checkBatchWalk`, `checkWalkedSwapIn`, `batchAfter`, `moveIn`, `movesOfContext`, types `EpochMove`,
 * `MoveDirectory`, `WalkedHeight`.
 */
import { check } from "../../errors.js";
import type { EpochContext } from "../interface.js";
import type { ShardSchedule, TransEpochErrorCode } from "./interface.js";
import { batchAfterSwap, checkMoveSwapIn, type MovePlace } from "./move-rule.js";
import { checkSwapIn } from "./swap.js";

/** One shard's move into one epoch, as a walker knows it. */
export interface EpochMove {
  readonly chain: Uint8Array;
  readonly epoch: number;
  readonly shard: number;
  /** The schedule (`EpochContext.move`); undefined: the epoch has no move (epoch 0): one batch, 0, and no swap-in. */
  readonly schedule: ShardSchedule | undefined;
}

/** The move of (epoch, shard); undefined when this verifier does not know the epoch's configuration. */
export type MoveDirectory = (epoch: number, shard: number) => EpochMove | undefined;

/** The move of `shard` into `context`'s epoch; undefined for an unknown context or a shard it does not have. */
export function moveIn(context: EpochContext | undefined, shard: number): EpochMove | undefined {
  if (context === undefined || !Number.isInteger(shard) || shard < 0 || shard >= context.shardCount) return undefined;
  return { chain: context.chain, epoch: context.epoch, shard, schedule: context.move(shard) };
}

/** The moves of the epochs of `contexts` (the identity chain a verifier holds). */
export function movesOfContext(...contexts: readonly EpochContext[]): MoveDirectory {
  const byEpoch = new Map(contexts.map((context) => [context.epoch, context]));
  return (epoch, shard) => moveIn(byEpoch.get(epoch), shard);
}

/** A height as the walk sees it. */
export interface WalkedHeight {
  readonly epoch: number;
  readonly shard: number;
  /** Its chain height h. */
  readonly height: number;
  /** Its place in its epoch: 1 (the first) .. L (the boundary). */
  readonly index: number;
  readonly epochLength: number;
  /** The batch its certificate names. */
  readonly batch: number;
  /** Its certified proposal's swap-in, if any. */
  readonly swapIn: Uint8Array | undefined;
}

function moveOf(moves: MoveDirectory, epoch: number, shard: number): EpochMove {
  const move = moves(epoch, shard);
  check<TransEpochErrorCode>(move !== undefined, "TRANSEPOCH_WRONG_BATCH", `the move of shard ${shard} into epoch ${epoch} is not known here: its batches cannot be walked`);
  return move;
}

/** B: the batches of the move (0 without one). */
function batchCountOf(move: EpochMove): number {
  return move.schedule?.batches.length ?? 0;
}

function placeOf(index: number, epochLength: number, move: EpochMove): MovePlace {
  return { index, epochLength, batchCount: batchCountOf(move) };
}

/**
 * Phase 2: the batch after the height at `index` of the epoch, which carried a swap-in the walk
 * already checked (`checkWalkedSwapIn`) at `batch`: B at the forced end or without a batch, else
 * the next batch.
 */
export function batchAfter(batch: number, index: number, epochLength: number, move: EpochMove): number {
  return batchAfterSwap(batch, placeOf(index, epochLength, move));
}

/**
 * Phase 3: a height carrying a swap-in, at its own batch: the empty swap-in where it ends the move
 * (move-rule.ts `checkMoveSwapIn`), else `checkSwapIn` with the walker's commitments (heights
 * below it). Returns the batch it moves to.
 */
export function checkWalkedSwapIn(walked: WalkedHeight, moves: MoveDirectory, commitmentAt: (height: number) => Uint8Array | undefined): number {
  const move = moveOf(moves, walked.epoch, walked.shard);
  const { schedule } = move;
  check<TransEpochErrorCode>(schedule !== undefined, "TRANSEPOCH_WRONG_BATCH", `shard ${walked.shard} does not move into epoch ${walked.epoch}: height ${walked.height} carries a swap-in`);
  check<TransEpochErrorCode>(walked.index < walked.epochLength, "TRANSEPOCH_WRONG_BATCH", `height ${walked.height} is epoch ${walked.epoch}'s last: no batch follows B = ${schedule.batches.length}`);
  const swapIn = walked.swapIn!;
  return checkMoveSwapIn(swapIn, placeOf(walked.index, walked.epochLength, move),
    () => checkSwapIn(swapIn, { chain: move.chain, shard: walked.shard, epoch: walked.epoch, schedule, batch: walked.batch, height: walked.height, commitmentAt }));
}

/**
 * Phases 1, 2 and 4 for `walked`, given the height before it when that is in the same epoch
 * (`previous`, already walked; undefined for an epoch's first height, or an MSB anchor, which is
 * an epoch's last).
 */
export function checkBatchWalk(walked: WalkedHeight, previous: Pick<WalkedHeight, "batch" | "swapIn"> | undefined, moves: MoveDirectory): void {
  const { epoch, shard, height, index, batch, epochLength } = walked;
  const after = (before: Pick<WalkedHeight, "batch" | "swapIn">): number =>
    before.swapIn === undefined ? before.batch : batchAfter(before.batch, index - 1, epochLength, moveOf(moves, epoch, shard));
  const expected = index === 1 ? 0
    : index === epochLength ? batchCountOf(moveOf(moves, epoch, shard))
      : previous === undefined ? undefined : after(previous);
  check<TransEpochErrorCode>(expected === undefined || batch === expected, "TRANSEPOCH_WRONG_BATCH",
    `height ${height} (${index} of epoch ${epoch}) must be certified by batch ${expected}, not ${batch}`);
  if (index === epochLength && previous !== undefined) {
    // The boundary continues the walk too: the batch before it reached B (phase 2), or it carried the last swap.
    const before = after(previous);
    check<TransEpochErrorCode>(before === batch, "TRANSEPOCH_WRONG_BATCH", `height ${height} is epoch ${epoch}'s last, certified by batch ${batch}, but the walk is at batch ${before}`);
  }
  check<TransEpochErrorCode>(index !== epochLength || walked.swapIn === undefined, "TRANSEPOCH_WRONG_BATCH", `height ${height} is epoch ${epoch}'s last: it carries no swap-in`);
}
