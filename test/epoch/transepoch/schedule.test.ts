/**
 * The TransEpoch schedule (src/epoch/transepoch/schedule.ts, white paper §5.4): per shard, the
 * leavers ordered by H(j ‖ rnd), the joiners by H(0 ‖ rnd), batches of k seats never more than a
 * third of the committee, committee(0) = configuration e's members and committee(B) = e + 1's.
 * The tiny case's orders are derived here from the permutation's definition with node:crypto
 * (SHA-256(domain ‖ u32le j ‖ rnd ‖ u32le counter) words, Fisher–Yates), not from the project's
 * own hash stream; the random cases compare every committee(b) with a set model of the swaps.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { assignShards, seededPermutation } from "../../../src/epoch/assignment.js";
import { EpochContextValue, genesisEpochContext, genesisEpochValidators } from "../../../src/epoch/context.js";
import { batchSize, batchStartDelayMs, scheduleBetween, transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import type { TransEpochInput, TransEpochSchedule } from "../../../src/epoch/transepoch/interface.js";
import { IosError } from "../../../src/errors.js";
import { toHex } from "../../../src/hex.js";
import { genesisRegistry, makeTestGenesis } from "../../../src/ledger/genesis.js";

const encoder = new TextEncoder();
const hex = (keys: readonly Uint8Array[]) => keys.map(toHex);
const coded = (code: string) => (error: unknown) => error instanceof IosError && error.code === code;

/** A 32-byte stand-in key whose bytes are all `i` (key order = numeric order). */
const key = (i: number) => new Uint8Array(32).fill(i);
/** The k-th test randomness. */
const rnd = (k: number) => sha256(encoder.encode(`transepoch rnd ${k}`));

/** A small deterministic PRNG (mulberry32) for the random cases: reproducible from the printed seed. */
function prng(seed: number): (bound: number) => number {
  let a = seed >>> 0;
  return (bound) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * bound);
  };
}

/** u32 words of SHA-256(domain ‖ u32le j ‖ rnd ‖ u32le 0), from node:crypto. */
function firstWords(domain: string, j: number, randomness: Uint8Array): number[] {
  const index = Buffer.alloc(4);
  index.writeUInt32LE(j);
  const digest = createHash("sha256").update(Buffer.concat([Buffer.from(domain), index, Buffer.from(randomness), Buffer.alloc(4)])).digest();
  return Array.from({ length: 8 }, (_, w) => digest.readUInt32LE(4 * w));
}

/** Fisher–Yates over `items` with draws word % (i + 1) (no word here reaches a rejection limit: asserted). */
function shuffleByHand(items: readonly Uint8Array[], words: readonly number[]): Uint8Array[] {
  const order = [...items];
  let w = 0;
  for (let i = order.length - 1; i > 0; i--) {
    const bound = i + 1;
    const word = words[w++]!;
    assert.ok(word < 2 ** 32 - (2 ** 32 % bound), "this hand computation assumes no rejected word");
    const j = word % bound;
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The committees a schedule passes through, replayed on sets of hex keys from its batches. */
function modelCommittees(before: readonly Uint8Array[], schedule: TransEpochSchedule["shards"][number]): string[][] {
  let current = new Set(hex(before));
  const committees = [[...current].sort()];
  for (const batch of schedule.batches) {
    for (const k of hex(batch.leaving)) assert.ok(current.delete(k), `batch ${batch.index} removes a member`);
    for (const k of hex(batch.joining)) {
      assert.ok(!current.has(k), `batch ${batch.index} adds a non-member`);
      current.add(k);
    }
    committees.push([...current].sort());
    current = new Set(current);
  }
  return committees;
}

/** Two configurations of `n` then `n2` validators in `m` shards: keys 1..n, of which `leave` leave and keys n+1..n2+leave join. */
function configurations(n: number, m: number, leave: number, join: number, seed: number): TransEpochInput {
  const before = Array.from({ length: n }, (_, i) => key(i + 1));
  const after = [...before.slice(leave), ...Array.from({ length: join }, (_, i) => key(n + 1 + i))];
  const split = (keys: Uint8Array[], randomness: Uint8Array) => {
    const shards = assignShards(keys.length, m, randomness);
    return Array.from({ length: m }, (_, s) => keys.filter((_, i) => shards[i] === s));
  };
  return { before: split(before, rnd(2 * seed)), after: split(after, rnd(2 * seed + 1)), randomness: rnd(2 * seed + 1), shardCount: m };
}

describe("TransEpoch schedule (white paper §5.4)", () => {
  it("orders a tiny case as derived by hand: shard j's leavers by H(j ‖ rnd), the joiners by H(0 ‖ rnd) restricted to the shard, one seat per batch", () => {
    // 2 shards × 4: shard 0 = {1, 2, 3, 4} → {1, 2, 5, 6}, shard 1 = {5, 6, 7, 8} → {3, 4, 7, 8}.
    const randomness = rnd(7);
    const input: TransEpochInput = { before: [[1, 2, 3, 4].map(key), [5, 6, 7, 8].map(key)], after: [[1, 2, 5, 6].map(key), [3, 4, 7, 8].map(key)], randomness, shardCount: 2 };
    const schedule = transEpochSchedule(input);
    // k = max(1, ⌈log2(8/4)⌉) = 1, and ⌊(4 − 1)/3⌋ = 1 seat may lag.
    assert.deepEqual(schedule.shards.map((s) => s.batchSize), [1, 1]);
    const leaving0 = shuffleByHand([3, 4].map(key), firstWords("IOSChain/epoch/transepoch/leaving/v1", 0, randomness));
    const leaving1 = shuffleByHand([5, 6].map(key), firstWords("IOSChain/epoch/transepoch/leaving/v1", 1, randomness));
    const joiners = shuffleByHand([3, 4, 5, 6].map(key), firstWords("IOSChain/epoch/transepoch/joining/v1", 0, randomness));
    const joining0 = joiners.filter((k) => k[0] === 5 || k[0] === 6);
    const joining1 = joiners.filter((k) => k[0] === 3 || k[0] === 4);
    assert.deepEqual(hex(schedule.shards[0]!.leaving), hex(leaving0));
    assert.deepEqual(hex(schedule.shards[1]!.leaving), hex(leaving1));
    assert.deepEqual(hex(schedule.shards[0]!.joining), hex(joining0));
    assert.deepEqual(hex(schedule.shards[1]!.joining), hex(joining1));
    for (const [shard, leaving, joining] of [[0, leaving0, joining0], [1, leaving1, joining1]] as const) {
      const move = schedule.shards[shard]!;
      assert.deepEqual(move.batches.map((b) => ({ index: b.index, leaving: hex(b.leaving), joining: hex(b.joining) })),
        [0, 1].map((i) => ({ index: i + 1, leaving: [toHex(leaving[i]!)], joining: [toHex(joining[i]!)] })));
      // committee(1) = committee(0) less the first leaver plus the first joiner, in key order.
      const first = hex(input.before[shard]!).filter((k) => k !== toHex(leaving[0]!)).concat(toHex(joining[0]!)).sort();
      assert.deepEqual(hex(move.committee(1)), first);
    }
    assert.deepEqual(schedule.joiningBatchOf(joining1[1]!), { shard: 1, batch: 2 });
    assert.deepEqual(schedule.leavingBatchOf(leaving0[0]!), { shard: 0, batch: 1 });
    assert.equal(schedule.joiningBatchOf(key(1)), undefined, "a stayer joins nothing");
    assert.equal(schedule.leavingBatchOf(key(1)), undefined, "a stayer leaves nothing");
  });

  it("is a function of its input: the same schedule whatever the order the members are listed in, another one for another rnd", () => {
    const input = configurations(40, 4, 3, 5, 11);
    const reversed = { ...input, before: input.before.map((s) => [...s].reverse()), after: input.after.map((s) => [...s].reverse()) };
    const summary = (schedule: TransEpochSchedule) => schedule.shards.map((s) => ({ k: s.batchSize, leaving: hex(s.leaving), joining: hex(s.joining), committees: s.batches.map((b) => hex(s.committee(b.index))) }));
    assert.deepEqual(summary(transEpochSchedule(input)), summary(transEpochSchedule(input)));
    assert.deepEqual(summary(transEpochSchedule(input)), summary(transEpochSchedule(reversed)));
    assert.notDeepEqual(summary(transEpochSchedule(input)), summary(transEpochSchedule({ ...input, randomness: rnd(999) })));
  });

  it("sizes batches as max(1, ⌈log2(n/m)⌉) capped at a third of the smallest committee on the way", () => {
    assert.equal(batchSize(8, 4, 4), 1);
    assert.equal(batchSize(64, 16, 16), 2, "⌈log2 4⌉ = 2, ⌊15/3⌋ = 5");
    assert.equal(batchSize(1024, 16, 16), 5, "⌈log2 64⌉ = 6, capped at ⌊15/3⌋ = 5");
    assert.equal(batchSize(1000, 100, 100), 4, "⌈log2 10⌉ = 4");
    assert.equal(batchSize(1024, 128, 128), 3, "an exact power of two: log2 8 = 3");
    assert.equal(batchSize(1025, 128, 128), 4);
    assert.equal(batchSize(64, 64, 64), 1, "one shard: log2 1 = 0, at least 1");
    assert.equal(batchSize(30, 3, 3), 1, "a shard of 3 tolerates no lagging seat: one at a time");
    assert.equal(batchSize(1024, 16, 7), 2, "the smaller end of the move caps it: ⌊6/3⌋ = 2");
  });

  it("over 300 random configurations: committee(0) is e's, committee(B) is e + 1's, each batch swaps at most a third, every member moves once, in the seeded orders", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const draw = prng(seed);
      const m = 1 + draw(6);
      const n = m * (1 + draw(12)) + draw(m);
      const leave = draw(Math.max(1, n - m));
      const join = draw(n);
      if (n - leave + join < m) continue;
      const input = configurations(n, m, leave, join, seed);
      const schedule = transEpochSchedule(input);
      const total = input.after.reduce((sum, s) => sum + s.length, 0);
      const where = `seed ${seed}: n = ${n}, m = ${m}, leave ${leave}, join ${join}`;
      // The joiners' one order: every validator that joins a shard, in key order, permuted by H(0 ‖ rnd).
      const before = new Map(input.before.flatMap((s, shard) => s.map((k) => [toHex(k), shard] as const)));
      const after = new Map(input.after.flatMap((s, shard) => s.map((k) => [toHex(k), shard] as const)));
      const joiners = [...after].filter(([k, shard]) => before.get(k) !== shard).map(([k]) => k).sort();
      const seed0 = new Uint8Array(36);
      seed0.set(input.randomness, 4);
      const globalOrder = Array.from(seededPermutation(joiners.length, seed0, encoder.encode("IOSChain/epoch/transepoch/joining/v1")), (i) => joiners[i]!);
      for (const move of schedule.shards) {
        const j = move.shard;
        const from = input.before[j]!;
        const to = input.after[j]!;
        assert.deepEqual(hex(move.committee(0)), hex(from).sort(), `${where}: committee(0) of shard ${j}`);
        assert.deepEqual(hex(move.committee(move.batches.length)), hex(to).sort(), `${where}: committee(B) of shard ${j}`);
        assert.deepEqual([...hex(move.leaving)].sort(), hex(from).filter((k) => after.get(k) !== j).sort(), `${where}: leavers of ${j}`);
        assert.deepEqual(hex(move.joining), globalOrder.filter((k) => after.get(k) === j), `${where}: joiners of ${j} in the H(0 ‖ rnd) order`);
        const seedJ = new Uint8Array(36);
        new DataView(seedJ.buffer).setUint32(0, j, true);
        seedJ.set(input.randomness, 4);
        const sortedLeavers = hex(from).filter((k) => after.get(k) !== j).sort();
        assert.deepEqual(hex(move.leaving), Array.from(seededPermutation(sortedLeavers.length, seedJ, encoder.encode("IOSChain/epoch/transepoch/leaving/v1")), (i) => sortedLeavers[i]!), `${where}: leavers of ${j} in the H(j ‖ rnd) order`);
        const k = move.batchSize;
        assert.equal(k, batchSize(total, from.length, to.length));
        assert.equal(move.batches.length, Math.ceil(Math.max(move.leaving.length, move.joining.length) / k), `${where}: B of ${j}`);
        const model = modelCommittees(from, move);
        const third = Math.max(1, Math.floor((Math.min(from.length, to.length) - 1) / 3));
        for (const batch of move.batches) {
          assert.ok(batch.joining.length <= third && batch.leaving.length <= third, `${where}: batch ${batch.index} of shard ${j} moves at most a third`);
          const committee = move.committee(batch.index);
          assert.deepEqual(hex(committee), model[batch.index], `${where}: committee(${batch.index}) of shard ${j}`);
          // The seats in flight (this batch's joiners, still replaying) are at most a third of the committee they enter, when it has a third.
          if (committee.length >= 4) assert.ok(batch.joining.length <= Math.floor((committee.length - 1) / 3), `${where}: ${batch.joining.length} lagging of ${committee.length}`);
          const sizes = [from.length, to.length];
          assert.ok(committee.length >= Math.min(...sizes) && committee.length <= Math.max(...sizes), `${where}: committee(${batch.index}) size between the two ends`);
        }
        assert.throws(() => move.committee(move.batches.length + 1), coded("TRANSEPOCH_BAD_BATCH"));
      }
    }
  });

  it("refuses inputs that are not two configurations of one chain (TRANSEPOCH_BAD_INPUT) and batches outside 0..B (TRANSEPOCH_BAD_BATCH)", () => {
    const good = configurations(8, 2, 0, 0, 3);
    assert.throws(() => transEpochSchedule({ ...good, randomness: new Uint8Array(31) }), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => transEpochSchedule({ ...good, shardCount: 3 }), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => transEpochSchedule({ ...good, shardCount: 0, before: [], after: [] }), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => transEpochSchedule({ ...good, after: [good.after[0]!, []] }), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => transEpochSchedule({ ...good, before: [good.before[0]!, [...good.before[1]!, good.before[0]![0]!]] }), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => transEpochSchedule({ ...good, after: [good.after[0]!, [...good.after[1]!, new Uint8Array(31)]] }), coded("TRANSEPOCH_BAD_INPUT"), "a 31-byte key");
    const move = transEpochSchedule(good).shards[0]!;
    for (const b of [-1, 0.5, move.batches.length + 1, Number.NaN]) assert.throws(() => move.committee(b), coded("TRANSEPOCH_BAD_BATCH"), `committee(${b})`);
  });

  it("starts batches Δ apart, the step cut to a 2B-th of the epoch time left so the last starts within half of it; refuses other batches", () => {
    // Long epochs: Δ apart (white paper §5.4), batch 1 at once.
    assert.deepEqual([1, 2, 3, 4].map((b) => batchStartDelayMs(b, 4, 1_000, 60_000)), [0, 1_000, 2_000, 3_000]);
    // 4 seconds left and 4 batches: a step of 500 ms, the last batch starting at 1.5 s (< 2 s, half of what is left).
    assert.deepEqual([1, 2, 3, 4].map((b) => batchStartDelayMs(b, 4, 1_000, 4_000)), [0, 500, 1_000, 1_500]);
    for (let batchCount = 1; batchCount <= 8; batchCount++) {
      for (const leftMs of [0, 100, 3_999, 40_000]) {
        const last = batchStartDelayMs(batchCount, batchCount, 1_000, leftMs);
        assert.ok(last < leftMs / 2 || last === 0, `B = ${batchCount}, ${leftMs} ms left: the last batch starts at ${last} ms, within half of it`);
        assert.ok(last <= (batchCount - 1) * 1_000, "never more than Δ apart");
      }
    }
    for (const b of [0, 5, 1.5, Number.NaN]) assert.throws(() => batchStartDelayMs(b, 4, 1_000, 4_000), coded("TRANSEPOCH_BAD_BATCH"), `batch ${b}`);
    assert.throws(() => batchStartDelayMs(1, 4, -1, 4_000), coded("TRANSEPOCH_BAD_INPUT"));
    assert.throws(() => batchStartDelayMs(1, 4, 1_000, Number.NaN), coded("TRANSEPOCH_BAD_INPUT"));
  });

  it("between two epoch contexts: the members of every shard and the later one's rnd", () => {
    const { genesis } = makeTestGenesis({ seed: "transepoch-contexts", shardCount: 3, accounts: 1, amount: 1n, validators: 13 });
    const epoch0 = genesisEpochContext(genesis);
    const epoch1 = new EpochContextValue({ chain: epoch0.chain, epoch: 1, randomness: rnd(1), shardCount: 3, startHeight: 0, validators: genesisEpochValidators(genesis), registry: genesisRegistry(genesis), configurationHash: rnd(2) });
    const members = (context: typeof epoch0) => [0, 1, 2].map((s) => context.members(s));
    const direct = transEpochSchedule({ before: members(epoch0), after: members(epoch1), randomness: epoch1.randomness, shardCount: 3 });
    const between = scheduleBetween(epoch0, epoch1);
    assert.deepEqual(between.shards.map((s) => hex(s.committee(s.batches.length))), direct.shards.map((s) => hex(s.committee(s.batches.length))));
    assert.deepEqual(between.shards.map((s) => hex(s.joining)), direct.shards.map((s) => hex(s.joining)));
    assert.ok(between.shards.some((s) => s.batches.length > 0), "a reassignment moves someone");
    assert.throws(() => scheduleBetween(epoch1, epoch0), coded("TRANSEPOCH_BAD_INPUT"), "not the next epoch");
  });
});
