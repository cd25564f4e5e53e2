/**
 * One shard's TransEpoch move, as a discrete model over heights (not whole nodes: the node wiring
 * is not built; design in docs/TRANSEPOCH.md). What is real: the schedule
 * (schedule.ts), the joiners' Ed25519-signed swap requests and the replica's `checkSwapIn`
 * (swap.ts). What is modelled, one tick at a time:
 *  - the shard decides height H + 1 when at least 2f + 1 live members of the committee in use are
 *    at H (up to date), f = ⌊(|committee| − 1)/3⌋; the leader is the first such member in
 *    rotation, so a down leader costs nothing here (the BFT's view change, abstracted);
 *  - a joiner of batch b starts from the boundary height (the MSB) (b − 1)·Δ ticks after the
 *    configuration and replays SYNC_RATE heights per tick, up to one height behind the tip (an
 *    outsider learns a height a sync round after it is decided); there it signs a request, which
 *    reaches the leader one tick later; the leader includes a batch's requests when it holds all
 *    of them (a byzantine leader omits them for as long as it leads); the height that carries
 *    them is the current committee's last, the next committee decides from the height after it;
 *  - swapped-out members stop; a swapped-in joiner learns its swap height a sync round (a tick)
 *    later, so it cannot vote on the first height after it: the seats in flight.
 * Asserted over many seeds: the move ends at configuration e + 1's committee; in the honest runs
 * the shard decides a height every tick ("keeps finalizing") and every committee in use has
 * ≥ 2f + 1 up-to-date members (what the one-third cap on a batch buys: the joiners it admits are
 * a height behind when they are admitted); a joiner crashing right after its swap height, or a
 * byzantine leader delaying swaps, costs ticks but never the move.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { assignShards } from "../../../src/epoch/assignment.js";
import { transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import { checkSwapIn, encodeSwapIn, signSwapRequest } from "../../../src/epoch/transepoch/swap.js";
import type { ShardSchedule } from "../../../src/epoch/transepoch/interface.js";
import { toHex } from "../../../src/hex.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import type { KeyPair } from "../../../src/ledger/keys.js";

const encoder = new TextEncoder();
const chain = sha256(encoder.encode("transepoch move chain"));
const commitment = (height: number) => sha256(encoder.encode(`move commitment ${height}`));
/** Heights a replaying joiner applies per tick: faster than the shard decides (one per tick), as a sync is (0.5–1.3 ms per height against a block interval of 200 ms). */
const SYNC_RATE = 4;
/** Ticks between batch starts (the paper's Δ). */
const DELTA_TICKS = 3;
const EPOCH = 5;
const L = 40;
const BOUNDARY = EPOCH * L;
/** A move that has not ended after this many ticks is stuck. */
const MAX_TICKS = 2000;

interface Faults {
  /** A joiner that goes down at the height that swaps it in and comes back `downTicks` later. */
  readonly crashJoinerOfBatch?: number;
  readonly downTicks?: number;
  /** A member that, while it leads, never includes a swap. */
  readonly byzantineLeader?: Uint8Array;
}

interface MoveRun {
  readonly ticks: number;
  readonly stalledTicks: number;
  readonly finalBatch: number;
  readonly decided: number;
  /** Per decided height: the committee's size and how many of its members were up to date. */
  readonly quorums: readonly { readonly height: number; readonly size: number; readonly upToDate: number; readonly batch: number }[];
}

function runMove(move: ShardSchedule, keyOf: (publicKey: Uint8Array) => KeyPair, faults: Faults = {}): MoveRun {
  const tip = new Map<string, number>();
  const downUntil = new Map<string, number>();
  /** The tick whose height swapped each joiner in. */
  const admittedAt = new Map<string, number>();
  for (const key of move.committee(0)) tip.set(toHex(key), BOUNDARY);
  const requests = new Map<string, { bytes: Uint8Array; arrives: number }>();
  let height = BOUNDARY;
  let batch = 0;
  let stalledTicks = 0;
  let decided = 0;
  const quorums: MoveRun["quorums"][number][] = [];
  const live = (key: string, tick: number) => (downUntil.get(key) ?? -1) <= tick;
  const third = (size: number) => Math.floor((size - 1) / 3);
  let tick = 0;
  for (; tick < MAX_TICKS && batch < move.batches.length; tick++) {
    // Replay: joiners that have started, and members behind the tip, move up to SYNC_RATE heights.
    move.batches.forEach((b) => {
      for (const key of b.joining) {
        const hex = toHex(key);
        if (tick >= (b.index - 1) * DELTA_TICKS && !tip.has(hex)) tip.set(hex, BOUNDARY);
      }
    });
    // A member holds every decided height; an outsider, and a joiner in the tick after its swap height, get the latest a sync round later.
    const members = new Set(move.committee(batch).map(toHex));
    const current = (hex: string) => members.has(hex) && tick - (admittedAt.get(hex) ?? -Infinity) >= 2;
    for (const [hex, at] of tip) if (live(hex, tick)) tip.set(hex, Math.min(current(hex) ? height : height - 1, at + SYNC_RATE));
    // The next batch's joiners as synced as an outsider gets sign their request; it reaches the leader next tick.
    const next = move.batches[batch]!;
    for (const key of next.joining) {
      const hex = toHex(key);
      if (tip.get(hex) === height - 1 && live(hex, tick) && !requests.has(hex)) {
        requests.set(hex, { bytes: signSwapRequest(keyOf(key).secretKey, { chain, shard: move.shard, epoch: EPOCH, batch: next.index, syncedHeight: height - 1, commitment: commitment(height - 1), joiner: key }), arrives: tick + 1 });
      }
    }
    // Decide H + 1: the leader is the first up-to-date live member of the committee in use, in rotation from H.
    const committee = move.committee(batch).map(toHex);
    const upToDate = committee.filter((hex) => live(hex, tick) && tip.get(hex) === height);
    const leader = committee.map((_, i) => committee[(height + i) % committee.length]!).find((hex) => upToDate.includes(hex));
    const held = next.joining.map((key) => requests.get(toHex(key))).filter((r) => r !== undefined && r.arrives <= tick);
    const byzantine = faults.byzantineLeader !== undefined && leader === toHex(faults.byzantineLeader);
    let batchAfter = batch;
    if (held.length === next.joining.length && !byzantine && tick >= (next.index - 1) * DELTA_TICKS) {
      batchAfter = checkSwapIn(encodeSwapIn(held.map((r) => r!.bytes)), { chain, shard: move.shard, epoch: EPOCH, schedule: move, batch, height: height + 1, commitmentAt: (h) => (h <= height ? commitment(h) : undefined) });
    }
    // Instance b decides the height that carries batch b + 1's swap; instance b + 1 the heights after it.
    const voting = upToDate;
    if (leader === undefined || voting.length < committee.length - third(committee.length)) {
      stalledTicks++;
      continue;
    }
    height++;
    decided++;
    quorums.push({ height, size: committee.length, upToDate: voting.length, batch });
    for (const hex of voting) tip.set(hex, height);
    if (batchAfter !== batch) {
      for (const key of move.batches[batchAfter - 1]!.leaving) tip.delete(toHex(key));
      for (const key of move.batches[batchAfter - 1]!.joining) admittedAt.set(toHex(key), tick);
      if (faults.crashJoinerOfBatch === batchAfter) for (const key of move.batches[batchAfter - 1]!.joining) downUntil.set(toHex(key), tick + (faults.downTicks ?? 0));
      batch = batchAfter;
    }
  }
  return { ticks: tick, stalledTicks, finalBatch: batch, decided, quorums };
}

/** A shard's move between two random assignments of `n` validators into `m` shards (real keys). */
function randomMove(seed: number, n: number, m: number, keys: readonly KeyPair[]) {
  const split = (randomness: Uint8Array) => {
    const shards = assignShards(n, m, randomness);
    return Array.from({ length: m }, (_, s) => keys.slice(0, n).filter((_, i) => shards[i] === s).map((k) => k.publicKey));
  };
  const schedule = transEpochSchedule({ before: split(sha256(encoder.encode(`before ${seed}`))), after: split(sha256(encoder.encode(`after ${seed}`))), randomness: sha256(encoder.encode(`after ${seed}`)), shardCount: m });
  return schedule.shards;
}

describe("TransEpoch: one shard's move (model over heights, real schedule and swap checks)", () => {
  const keys = deriveTestAccounts("transepoch-move", 48);
  const keyOf = (publicKey: Uint8Array) => keys.find((k) => toHex(k.publicKey) === toHex(publicKey))!;
  // 48 in 12 shards of 4: the paper's k = ⌈log2 12⌉ = 4 is capped at f = 1.
  const shapes = [[8, 2], [10, 2], [16, 4], [24, 3], [48, 4], [48, 12]] as const;

  it("honest: every shard of 40 random moves keeps deciding a height every tick, ends at e + 1's committee, and every committee in use has ≥ 2f + 1 up-to-date members", () => {
    let moves = 0;
    for (let seed = 1; seed <= 8; seed++) {
      for (const [n, m] of shapes) {
        for (const move of randomMove(seed, n, m, keys)) {
          if (move.batches.length === 0) continue;
          moves++;
          const run = runMove(move, keyOf);
          const where = `seed ${seed}, ${n}/${m}, shard ${move.shard}`;
          assert.equal(run.finalBatch, move.batches.length, `${where}: the move ends`);
          assert.equal(run.stalledTicks, 0, `${where}: the shard decides every tick`);
          for (const q of run.quorums) assert.ok(q.upToDate >= q.size - Math.floor((q.size - 1) / 3), `${where}: height ${q.height} (batch ${q.batch}): ${q.upToDate} of ${q.size} up to date`);
        }
      }
    }
    assert.ok(moves >= 40, `${moves} moves`);
  });

  it("a joiner crashed at the height that swaps it in, down for 10 ticks: the shard still ends its move at e + 1's committee", () => {
    for (let seed = 1; seed <= 6; seed++) {
      for (const [n, m] of shapes) {
        for (const move of randomMove(seed, n, m, keys)) {
          const withJoiner = move.batches.find((b) => b.joining.length > 0);
          if (withJoiner === undefined) continue;
          const run = runMove(move, keyOf, { crashJoinerOfBatch: withJoiner.index, downTicks: 10 });
          assert.equal(run.finalBatch, move.batches.length, `seed ${seed}, ${n}/${m}, shard ${move.shard}: the move ends despite the crash`);
          // Decided heights only ever had a quorum of up-to-date voters.
          for (const q of run.quorums) assert.ok(q.upToDate >= q.size - Math.floor((q.size - 1) / 3));
        }
      }
    }
  });

  it("a byzantine member that omits every swap while it leads delays the move (the rotation moves the leader on) but does not stop it", () => {
    for (let seed = 1; seed <= 6; seed++) {
      for (const move of randomMove(seed, 16, 4, keys)) {
        if (move.batches.length === 0) continue;
        const stayer = move.committee(0).find((key) => move.committee(move.batches.length).some((k) => toHex(k) === toHex(key)))!;
        const honest = runMove(move, keyOf);
        const delayed = runMove(move, keyOf, { byzantineLeader: stayer });
        assert.equal(delayed.finalBatch, move.batches.length, `seed ${seed}, shard ${move.shard}: the move ends`);
        assert.ok(delayed.decided >= honest.decided, "omissions cost heights, never add a swap");
      }
    }
  });
});
