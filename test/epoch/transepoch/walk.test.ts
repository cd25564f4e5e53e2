/**
 * The batch walk a chain walker applies (src/epoch/transepoch/walk.ts) over the 2 × 4 move of the
 * fixture (two batches per shard, one seat each), with real signed requests: an honest epoch
 * walked height by height; every height certified by a batch the walk does not allow refused
 * (an old committee past its swap, a later batch before its swap, a skipped batch, the boundary
 * before B); a swap-in the walker's commitments refute refused at its own height; the forced end
 * (the empty swap-in at the epoch's last height but one) jumps to B from any batch, and an empty
 * swap-in anywhere else is a batch's (the height decides, never the bytes).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { EMPTY_SWAP_IN } from "../../../src/epoch/transepoch/move-rule.js";
import { encodeSwapIn, signSwapRequest } from "../../../src/epoch/transepoch/swap.js";
import { batchAfter, checkBatchWalk, checkWalkedSwapIn, type EpochMove, type MoveDirectory, type WalkedHeight } from "../../../src/epoch/transepoch/walk.js";
import { NO_ERROR, codeOf } from "../../support/errors.js";
import { twoByFourMove } from "./fixture.js";

const encoder = new TextEncoder();
const chain = sha256(encoder.encode("transepoch walk chain"));
const commitment = (height: number) => sha256(encoder.encode(`walk commitment ${height}`));
const L = 20;
const EPOCH = 2;
const START = EPOCH * L;
const { move, keyPairOf, joinerOf } = twoByFourMove("transepoch-walk", "walk rnd");
const epochMove: EpochMove = { chain, epoch: EPOCH, shard: 0, schedule: move };
const moves: MoveDirectory = (epoch, shard) => (epoch === EPOCH && shard === 0 ? epochMove : epoch === 0 ? { chain, epoch, shard, schedule: undefined } : undefined);
const held = (below: number) => (height: number) => (height < below ? commitment(height) : undefined);

/** Batch `batch`'s swap-in at `height`: its joiner's request synced to height − 1. */
function swapInAt(batch: number, height: number, syncedCommitment = commitment(height - 1)): Uint8Array {
  const joiner = joinerOf(batch);
  return encodeSwapIn([signSwapRequest(keyPairOf(joiner).secretKey, { chain, shard: 0, epoch: EPOCH, batch, syncedHeight: height - 1, commitment: syncedCommitment, joiner })]);
}

const walked = (index: number, batch: number, swapIn?: Uint8Array): WalkedHeight => ({ epoch: EPOCH, shard: 0, height: START + index, index, epochLength: L, batch, swapIn });

/** Walks an epoch whose heights have these batches and swap-ins (by index 1..L); returns the first refusal's code and index. */
function walk(batches: readonly number[], swapIns: ReadonlyMap<number, Uint8Array>): { code: string; index: number } | undefined {
  let previous: WalkedHeight | undefined;
  for (let index = 1; index <= L; index++) {
    const height = walked(index, batches[index - 1]!, swapIns.get(index));
    const code = codeOf(() => {
      checkBatchWalk(height, previous, moves);
      if (height.swapIn !== undefined) checkWalkedSwapIn(height, moves, held(height.height));
    });
    if (code !== NO_ERROR) return { code, index };
    previous = height;
  }
  return undefined;
}

/** Batches by index for swaps at indices `at` (batch b + 1 from the height after the b-th swap). */
function batchesFor(at: readonly number[]): number[] {
  return Array.from({ length: L }, (_, i) => at.filter((swap) => swap < i + 1).length);
}

describe("TransEpoch batch walk", () => {
  it("walks an honest epoch: batch 0 first, one batch after each certified swap-in, B at the boundary", () => {
    const swaps = new Map([[5, swapInAt(1, START + 5)], [9, swapInAt(2, START + 9)]]);
    assert.equal(walk(batchesFor([5, 9]), swaps), undefined);
    assert.equal(checkWalkedSwapIn(walked(5, 0, swaps.get(5)), moves, held(START + 5)), 1);
    assert.equal(batchAfter(1, 9, L, epochMove), 2);
    // An MSB anchor (the boundary, no predecessor held) must be B's.
    assert.equal(codeOf(() => checkBatchWalk(walked(L, 2), undefined, moves)), NO_ERROR);
    assert.equal(codeOf(() => checkBatchWalk(walked(L, 0), undefined, moves)), "TRANSEPOCH_WRONG_BATCH");
  });

  it("refuses a height certified by a batch the walk does not reach there", () => {
    const swaps = new Map([[5, swapInAt(1, START + 5)], [9, swapInAt(2, START + 9)]]);
    const honest = batchesFor([5, 9]);
    const with_ = (index: number, batch: number) => honest.map((b, i) => (i === index - 1 ? batch : b));
    const cases: [string, number[], Map<number, Uint8Array>, number][] = [
      ["the epoch's first height by the epoch's own committee (a stage-1 chain, or a forged opening)", with_(1, 2), swaps, 1],
      ["batch 0's old committee past its swap", with_(6, 0), swaps, 6],
      ["batch 2 before batch 1's swap", with_(3, 2), swaps, 3],
      ["batch 1 with no swap-in before it", with_(4, 1), swaps, 4],
      ["a batch skipped after a swap-in", with_(6, 2), swaps, 6],
      ["the boundary certified before B", batchesFor([5]), new Map([[5, swaps.get(5)!]]), L],
      ["the boundary carrying a swap-in", honest, new Map([...swaps, [L, swapInAt(2, START + L)]]), L],
    ];
    for (const [what, batches, at, index] of cases) assert.deepEqual(walk(batches, at), { code: "TRANSEPOCH_WRONG_BATCH", index }, what);
  });

  it("refuses a swap-in the walker's own chain refutes, at the height carrying it", () => {
    const cases: [string, Uint8Array, string][] = [
      ["synced to another state", swapInAt(2, START + 9, commitment(1)), "TRANSEPOCH_WRONG_COMMITMENT"],
      ["batch 1's joiner again", swapInAt(1, START + 9), "TRANSEPOCH_NOT_JOINER"],
      ["no request for a batch with a joiner", encodeSwapIn([]), "TRANSEPOCH_MISSING_JOINER"],
    ];
    for (const [what, swapIn, code] of cases) assert.deepEqual(walk(batchesFor([5, 9]), new Map([[5, swapInAt(1, START + 5)], [9, swapIn]])), { code, index: 9 }, what);
    assert.deepEqual(walk(batchesFor([5]), new Map([[5, swapInAt(2, START + 5)]])), { code: "TRANSEPOCH_NOT_JOINER", index: 5 }, "the later batch's joiner first");
    // Epoch 0 moves nothing: no swap-in there, not even the opening's end.
    assert.equal(codeOf(() => checkWalkedSwapIn({ ...walked(3, 0, EMPTY_SWAP_IN), epoch: 0, height: 3 }, moves, held(3))), "TRANSEPOCH_WRONG_BATCH");
    // An epoch this walker knows no configuration of: nothing to check a swap against.
    assert.equal(codeOf(() => checkWalkedSwapIn({ ...walked(3, 0, EMPTY_SWAP_IN), epoch: EPOCH + 1 }, moves, held(3))), "TRANSEPOCH_WRONG_BATCH");
  });

  it("jumps to B only at the forced end (the empty swap-in at the last height but one), from any batch", () => {
    const B = move.batches.length;
    const FORCED = L - 1;
    assert.equal(batchAfter(0, FORCED, L, epochMove), B);
    assert.equal(batchAfter(1, FORCED, L, epochMove), B);
    assert.equal(batchAfter(0, 4, L, epochMove), 1, "a swap-in mid-epoch moves one batch, whatever its bytes");
    // From batch 0 and from batch 1.
    assert.equal(walk(batchesFor([FORCED]).map((b) => (b > 0 ? B : 0)), new Map([[FORCED, EMPTY_SWAP_IN]])), undefined);
    const fromOne = batchesFor([5, FORCED]).map((b) => (b > 1 ? B : b));
    assert.equal(walk(fromOne, new Map([[5, swapInAt(1, START + 5)], [FORCED, EMPTY_SWAP_IN]])), undefined);
    assert.equal(checkWalkedSwapIn(walked(FORCED, 1, EMPTY_SWAP_IN), moves, held(START + FORCED)), B);
    // 2A's early end is gone: an empty swap-in mid-epoch is batch 1's, which has a joiner.
    assert.deepEqual(walk(batchesFor([4, 4]).map((b) => (b > 0 ? B : 0)), new Map([[4, EMPTY_SWAP_IN]])), { code: "TRANSEPOCH_MISSING_JOINER", index: 4 });
    // At the forced end only the empty swap-in: a batch's own swap-in there is refused, and the jump lands on B, not the next batch.
    assert.deepEqual(walk(batchesFor([5, FORCED]).map((b) => (b > 1 ? B : b)), new Map([[5, swapInAt(1, START + 5)], [FORCED, swapInAt(2, START + FORCED)]])), { code: "TRANSEPOCH_WRONG_BATCH", index: FORCED });
    assert.deepEqual(walk(batchesFor([FORCED]), new Map([[FORCED, EMPTY_SWAP_IN]])), { code: "TRANSEPOCH_WRONG_BATCH", index: L });
    // A batch short of B that reaches the last height but one without the forced end leaves the boundary unreachable.
    assert.deepEqual(walk(batchesFor([5]).map((b, i) => (i === L - 1 ? B : b)), new Map([[5, swapInAt(1, START + 5)]])), { code: "TRANSEPOCH_WRONG_BATCH", index: L });
  });
});
