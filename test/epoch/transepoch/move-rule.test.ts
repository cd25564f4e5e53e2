/**
 * The one swap rule of a move's instances before B (src/epoch/transepoch/move-rule.ts), with real
 * Ed25519 keys and the real schedule: nothing ends batch 0 before this member holds the next
 * configuration; then a swap-in is batch b + 1's (the joiners' signed requests; a removal-only
 * batch's is empty) except at the forced end (the epoch's last height but one), where only the
 * empty one is valid and it jumps to B from any batch, and in a shard that does not move (B = 0),
 * whose empty swap-in ends batch 0 at once. The height decides what an empty swap-in means, never
 * its bytes. What a byzantine leader could propose instead is refused with a code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { EMPTY_SWAP_IN, MoveSwapRule, batchAfterSwap, endsMove } from "../../../src/epoch/transepoch/move-rule.js";
import { transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import { encodeSwapIn, signSwapRequest } from "../../../src/epoch/transepoch/swap.js";
import { ShardSwaps } from "../../../src/epoch/transepoch/swaps.js";
import type { ShardSchedule } from "../../../src/epoch/transepoch/interface.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import { HandClock, twoByFourMove } from "./fixture.js";
import { NO_ERROR, codeOf } from "../../support/errors.js";

const encoder = new TextEncoder();
const chain = sha256(encoder.encode("transepoch move rule chain"));
const commitment = (height: number) => sha256(encoder.encode(`move rule commitment ${height}`));
const PATIENCE = 4_000;
const L = 40;
const EPOCH = 2;
/** The chain height before epoch EPOCH's first. */
const START = EPOCH * L;
/** The forced end: the epoch's last height but one. */
const FORCED = START + L - 1;

const { move, keyPairOf, joinerOf } = twoByFourMove("transepoch-move-rule", "move rule rnd");

/** A shard that only shrinks: shard 0 loses two of its six members, whose batches are removal-only. */
const shrinking: ShardSchedule = (() => {
  const keys = deriveTestAccounts("transepoch-move-rule-shrink", 10).map((k) => k.publicKey);
  return transEpochSchedule({ before: [keys.slice(0, 6), keys.slice(6)], after: [keys.slice(0, 4), keys.slice(4)], randomness: sha256(encoder.encode("shrink rnd")), shardCount: 2 }).shards[0]!;
})();

/** A shard that keeps its members (B = 0). */
const still: ShardSchedule = (() => {
  const keys = deriveTestAccounts("transepoch-move-rule-still", 8).map((k) => k.publicKey);
  return transEpochSchedule({ before: [keys.slice(0, 4), keys.slice(4)], after: [keys.slice(0, 4), keys.slice(4)], randomness: sha256(encoder.encode("still rnd")), shardCount: 2 }).shards[0]!;
})();

function swapsAt(schedule: ShardSchedule, batch: number, clock: HandClock): ShardSwaps {
  return new ShardSwaps({ chain, shard: 0, epoch: EPOCH, schedule, batch, clock, patienceMs: PATIENCE, commitmentAt: (h) => (h < FORCED + 1 ? commitment(h) : undefined) });
}

function ruleOf(clock: HandClock, swaps?: ShardSwaps): MoveSwapRule {
  return new MoveSwapRule({ clock, patienceMs: PATIENCE, epochStart: START, epochLength: L }, swaps);
}

/** Batch `batch`'s swap-in of the two-by-four move at `height`: its joiner's request synced to height − 1. */
function swapInAt(batch: number, height: number): Uint8Array {
  return encodeSwapIn([requestOf(batch, height - 1)]);
}

function requestOf(batch: number, synced: number): Uint8Array {
  const joiner = joinerOf(batch);
  return signSwapRequest(keyPairOf(joiner).secretKey, { chain, shard: 0, epoch: EPOCH, batch, syncedHeight: synced, commitment: commitment(synced), joiner });
}

describe("TransEpoch: one swap rule for a move's instances before B", () => {
  it("places: an empty swap-in ends the move at the forced end (L − 1) or with B = 0, nowhere else", () => {
    assert.equal(endsMove({ index: L - 1, epochLength: L, batchCount: 2 }), true);
    assert.equal(endsMove({ index: L - 2, epochLength: L, batchCount: 2 }), false);
    assert.equal(endsMove({ index: 1, epochLength: L, batchCount: 0 }), true);
    assert.equal(batchAfterSwap(0, { index: 5, epochLength: L, batchCount: 2 }), 1, "a swap-in mid-epoch moves one batch");
    assert.equal(batchAfterSwap(1, { index: L - 1, epochLength: L, batchCount: 3 }), 3, "the forced end jumps to B from any batch");
    assert.equal(batchAfterSwap(0, { index: 7, epochLength: L, batchCount: 0 }), 0, "a non-moving shard's end stays at B = 0");
  });

  it("unconfigured: no swap-in proposed, any refused (TRANSEPOCH_WRONG_BATCH), requests refused and counted, nothing overdue before the forced end", () => {
    const clock = new HandClock();
    const rule = ruleOf(clock);
    assert.equal(rule.configured, false);
    assert.equal(rule.lastHeight, FORCED);
    assert.equal(rule.pending(START + 3), undefined);
    assert.equal(rule.pending(FORCED), undefined, "not even the forced end: the schedule is not known here");
    assert.equal(codeOf(() => rule.check(EMPTY_SWAP_IN, START + 3)), "TRANSEPOCH_WRONG_BATCH");
    assert.equal(codeOf(() => rule.check(EMPTY_SWAP_IN, FORCED)), "TRANSEPOCH_WRONG_BATCH");
    assert.equal(rule.offer(requestOf(1, START + 2), "joiner"), false);
    assert.deepEqual(Object.fromEntries(rule.refused), { TRANSEPOCH_WRONG_BATCH: 1 });
    clock.at = 1_000_000;
    assert.equal(rule.overdue(FORCED - 1), false, "a shard without its next configuration goes on deciding");
    assert.equal(rule.overdue(FORCED), true, "the forced end's height carries the end or is not decided");
    assert.equal(codeOf(() => ruleOf(clock).configure(swapsAt(move, 0, clock))), NO_ERROR);
    assert.equal(codeOf(() => new MoveSwapRule({ clock, patienceMs: -1, epochStart: START, epochLength: L })), "TRANSEPOCH_BAD_INPUT");
    assert.equal(codeOf(() => new MoveSwapRule({ clock, patienceMs: PATIENCE, epochStart: START, epochLength: 1 })), "TRANSEPOCH_BAD_INPUT");
  });

  it("batch 0 of a moving shard: the empty swap-in is refused mid-epoch (batch 1 has a joiner), batch 1's signed swap-in moves to 1, and only the empty one ends at the forced end, to B", () => {
    const clock = new HandClock();
    const rule = ruleOf(clock);
    rule.configure(swapsAt(move, 0, clock));
    const B = move.batches.length;
    assert.equal(B, 2);
    assert.equal(rule.pending(START + 5), undefined, "no joiner asked yet: nothing to propose");
    assert.equal(codeOf(() => rule.check(EMPTY_SWAP_IN, START + 5)), "TRANSEPOCH_MISSING_JOINER", "the empty swap-in mid-epoch is batch 1's, which has a joiner");
    assert.equal(rule.check(swapInAt(1, START + 5), START + 5), 1);
    assert.equal(codeOf(() => rule.check(swapInAt(2, START + 5), START + 5)), "TRANSEPOCH_NOT_JOINER", "batch 2 before batch 1");
    // The forced end: the empty swap-in, proposed and accepted, to B; any other refused.
    assert.deepEqual(rule.pending(FORCED), EMPTY_SWAP_IN);
    assert.equal(rule.check(EMPTY_SWAP_IN, FORCED), B);
    assert.equal(codeOf(() => rule.check(swapInAt(1, FORCED), FORCED)), "TRANSEPOCH_WRONG_BATCH", "a batch's swap-in at the forced end");
    for (const junk of [Uint8Array.of(1), Uint8Array.of(0, 0), new Uint8Array(0)]) assert.equal(codeOf(() => rule.check(junk, FORCED)), "TRANSEPOCH_MALFORMED");
    assert.equal(rule.overdue(FORCED), true);
    // A joiner's request: kept, proposed once it fits, and overdue after the patience.
    assert.equal(rule.offer(requestOf(1, START + 4), "joiner"), true);
    assert.deepEqual(rule.pending(START + 5), swapInAt(1, START + 5));
    clock.at = 100;
    assert.equal(rule.overdue(START + 5), false, "the patience starts when the swap-in is complete");
    clock.at = 100 + PATIENCE;
    assert.equal(rule.overdue(START + 5), true, "a leader omitting the complete swap-in loses its view");
  });

  it("a removal-only batch's empty swap-in moves one batch mid-epoch and jumps to B only at the forced end", () => {
    const clock = new HandClock();
    const B = shrinking.batches.length;
    assert.ok(B >= 2 && shrinking.batches.every((b) => b.joining.length === 0), "the shrinking shard's batches are removal-only");
    const rule = ruleOf(clock);
    rule.configure(swapsAt(shrinking, 0, clock));
    assert.deepEqual(rule.pending(START + 3), EMPTY_SWAP_IN, "a removal-only batch is proposed at once");
    assert.equal(rule.check(EMPTY_SWAP_IN, START + 3), 1, "mid-epoch: batch 1, not B");
    assert.equal(rule.check(EMPTY_SWAP_IN, FORCED), B, "the same bytes at the forced end: B");
    const later = ruleOf(clock, swapsAt(shrinking, 1, clock));
    assert.equal(later.batch, 1);
    assert.equal(later.check(EMPTY_SWAP_IN, START + 9), 2);
  });

  it("a batch driver's rule (b ≥ 1) jumps to B at the forced end too", () => {
    const clock = new HandClock();
    const rule = ruleOf(clock, swapsAt(move, 1, clock));
    assert.equal(rule.configured, true);
    assert.equal(rule.batch, 1);
    assert.equal(rule.check(swapInAt(2, START + 20), START + 20), 2);
    assert.equal(codeOf(() => rule.check(EMPTY_SWAP_IN, START + 20)), "TRANSEPOCH_MISSING_JOINER");
    assert.equal(rule.check(EMPTY_SWAP_IN, FORCED), 2);
    assert.equal(codeOf(() => rule.check(swapInAt(2, FORCED), FORCED)), "TRANSEPOCH_WRONG_BATCH");
  });

  it("a shard that does not move (B = 0): the empty swap-in ends batch 0 at once; one with requests is refused; overdue after the patience", () => {
    const clock = new HandClock();
    assert.equal(still.batches.length, 0);
    const rule = ruleOf(clock);
    clock.at = 10_000;
    rule.configure(swapsAt(still, 0, clock));
    assert.deepEqual(rule.pending(START + 2), EMPTY_SWAP_IN);
    assert.equal(rule.check(EMPTY_SWAP_IN, START + 2), 0);
    assert.equal(codeOf(() => rule.check(swapInAt(1, START + 2), START + 2)), "TRANSEPOCH_WRONG_BATCH");
    clock.at = 10_000 + PATIENCE - 1;
    rule.configure(swapsAt(still, 0, clock));
    assert.equal(rule.overdue(START + 2), false, "within the patience");
    clock.at = 10_000 + PATIENCE;
    assert.equal(rule.overdue(START + 2), true, "the patience counts from the first configure");
  });
});
