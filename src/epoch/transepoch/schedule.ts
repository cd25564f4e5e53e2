/**
 * The TransEpoch schedule (white paper §5.4, Algorithm 4; the phases in ./interface.ts): a pure,
 * deterministic function of configuration e's and e + 1's shard assignments and rnd_{e+1}, so every
 * validator, state-sync client and proof checker holding the identity chain derives the same
 * committee(shard, b) for every b.
 *
 *  1. *members*: per shard j, before_j and after_j in key order (the input's order is irrelevant);
 *     leaving_j = before_j \ after_j, joining_j = after_j \ before_j.
 *  2. *leaving order*: leaving_j permuted by the project's one seeded Fisher–Yates
 *     (`seededPermutation`, ../assignment.ts) over seed u32le j ‖ rnd, i.e. the stream H(j ‖ rnd).
 *  3. *joining order*: every joiner of every shard, in key order, permuted once over seed
 *     u32le 0 ‖ rnd (H(0 ‖ rnd)); joining_j is that order restricted to shard j. Each permutation
 *     has its own domain, so shard 0's leaving order and the joining order, whose seeds the paper
 *     writes alike, are independent.
 *  4. *batch size*: k_j = max(1, ⌈log2(n/m_j)⌉) (n: validators of e + 1, m_j: |after_j|; the
 *     paper's k = log(n/m)), capped at max(1, ⌊(s − 1)/3⌋) for s = min(|before_j|, |after_j|),
 *     the smallest committee the move passes through: a swapped-in seat lags its committee until
 *     it replays the heights decided since it synced, and no more than a third of a committee may
 *     lag if it is to keep finalizing. A shard of 3 or fewer tolerates no lagging seat; it swaps
 *     one at a time and may wait that seat's catch-up (§5.5: liveness lost only temporarily).
 *  5. *batches*: batch b takes leaving_j[(b−1)k, bk) and joining_j[(b−1)k, bk); B = ⌈max(|leaving_j|,
 *     |joining_j|)/k⌉. With equal counts each batch swaps k seats and the committee keeps its size;
 *     a shrinking shard's last batches only remove, a growing shard's only add, so the sizes along
 *     the way lie between |before_j| and |after_j|.
 *
 * API: `transEpochSchedule(input)`, `scheduleBetween(previous, next)` (two epoch contexts).
 */
import { check } from "../../errors.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES } from "../../codec/sizes.js";
import { BinaryWriter } from "../../codec/binary.js";
import { toHex } from "../../hex.js";
import { seededPermutation } from "../assignment.js";
import type { EpochContext } from "../interface.js";
import type { ShardSchedule, SwapBatch, TransEpochErrorCode, TransEpochInput, TransEpochSchedule } from "./interface.js";

const LEAVING_DOMAIN = new TextEncoder().encode("IOSChain/epoch/transepoch/leaving/v1");
const JOINING_DOMAIN = new TextEncoder().encode("IOSChain/epoch/transepoch/joining/v1");
/** The paper's H(0 ‖ rnd): the joiners' permutation is seeded with shard number 0. */
const JOINING_SEED_INDEX = 0;

const byKey = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

/** u32le j ‖ rnd: the seed of H(j ‖ rnd). */
function seedOf(index: number, randomness: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(4 + HASH_BYTES).u32(index).bytes(randomness).finish();
}

/** `items` (key order) in the order of the permutation seeded by `seed` under `domain`. */
function permuted(items: readonly Uint8Array[], seed: Uint8Array, domain: Uint8Array): Uint8Array[] {
  return Array.from(seededPermutation(items.length, seed, domain), (i) => items[i]!);
}

/** The smallest k ≥ 0 with m·2^k ≥ n: ⌈log2(n/m)⌉ in integers (no floating-point edge at powers of two). */
function ceilLog2Ratio(n: number, m: number): number {
  let k = 0;
  while (m * 2 ** k < n) k++;
  return k;
}

/** Seats per batch for a shard moving from `before` to `after` members among `total` validators of e + 1. */
export function batchSize(total: number, before: number, after: number): number {
  const paper = Math.max(1, ceilLog2Ratio(total, after));
  const third = Math.floor((Math.min(before, after) - 1) / 3);
  return Math.min(paper, Math.max(1, third));
}

/** Sorted copies of every shard's keys; refuses an empty shard, a key that is not 32 bytes and a key listed twice. */
function membersByShard(shards: readonly (readonly Uint8Array[])[], shardCount: number, which: string): { sorted: Uint8Array[][]; shardOf: Map<string, number>; keys: Uint8Array[] } {
  check<TransEpochErrorCode>(shards.length === shardCount, "TRANSEPOCH_BAD_INPUT", `${which}: ${shards.length} shard(s) listed for a shard count of ${shardCount}`);
  const shardOf = new Map<string, number>();
  const keys: Uint8Array[] = [];
  const sorted = shards.map((members, shard) => {
    check<TransEpochErrorCode>(members.length > 0, "TRANSEPOCH_BAD_INPUT", `${which}: shard ${shard} has no member`);
    for (const key of members) {
      check<TransEpochErrorCode>(key.length === PUBLIC_KEY_BYTES, "TRANSEPOCH_BAD_INPUT", `${which}: a key of ${key.length} bytes in shard ${shard}`);
      const hex = toHex(key);
      check<TransEpochErrorCode>(!shardOf.has(hex), "TRANSEPOCH_BAD_INPUT", `${which}: validator ${hex} is listed twice`);
      shardOf.set(hex, shard);
      keys.push(key);
    }
    return [...members].sort(byKey);
  });
  return { sorted, shardOf, keys };
}

class ShardMove implements ShardSchedule {
  readonly batches: readonly SwapBatch[];
  /** committee(b) for every b, computed once: B + 1 lists of at most max(|before|, |after|) keys. */
  readonly #committees: (readonly Uint8Array[])[];

  constructor(
    readonly shard: number,
    before: readonly Uint8Array[],
    readonly batchSize: number,
    readonly leaving: readonly Uint8Array[],
    readonly joining: readonly Uint8Array[],
  ) {
    const count = Math.ceil(Math.max(leaving.length, joining.length) / batchSize);
    this.batches = Array.from({ length: count }, (_, i): SwapBatch => ({
      index: i + 1,
      leaving: leaving.slice(i * batchSize, (i + 1) * batchSize),
      joining: joining.slice(i * batchSize, (i + 1) * batchSize),
    }));
    this.#committees = [before];
    for (const batch of this.batches) {
      const out = new Set(batch.leaving.map(toHex));
      const previous = this.#committees.at(-1)!;
      this.#committees.push([...previous.filter((key) => !out.has(toHex(key))), ...batch.joining].sort(byKey));
    }
  }

  committee(b: number): readonly Uint8Array[] {
    check<TransEpochErrorCode>(Number.isInteger(b) && b >= 0 && b <= this.batches.length, "TRANSEPOCH_BAD_BATCH",
      `shard ${this.shard} moves in ${this.batches.length} batch(es): no committee after ${b}`);
    return this.#committees[b]!;
  }
}

export function transEpochSchedule(input: TransEpochInput): TransEpochSchedule {
  const { randomness, shardCount } = input;
  check<TransEpochErrorCode>(Number.isInteger(shardCount) && shardCount >= 1, "TRANSEPOCH_BAD_INPUT", `shard count must be a positive integer, got ${shardCount}`);
  check<TransEpochErrorCode>(randomness.length === HASH_BYTES, "TRANSEPOCH_BAD_INPUT", `rnd must be ${HASH_BYTES} bytes, got ${randomness.length}`);
  const before = membersByShard(input.before, shardCount, "configuration e");
  const after = membersByShard(input.after, shardCount, "configuration e + 1");
  const total = after.shardOf.size;

  // Every joiner of every shard, in key order, then the one H(0 ‖ rnd) permutation.
  const joiners = after.keys.filter((key) => before.shardOf.get(toHex(key)) !== after.shardOf.get(toHex(key))).sort(byKey);
  const joiningOrder = permuted(joiners, seedOf(JOINING_SEED_INDEX, randomness), JOINING_DOMAIN);

  const shards = before.sorted.map((members, shard) => {
    const leaving = members.filter((key) => after.shardOf.get(toHex(key)) !== shard);
    const joining = joiningOrder.filter((key) => after.shardOf.get(toHex(key)) === shard);
    const k = batchSize(total, members.length, after.sorted[shard]!.length);
    return new ShardMove(shard, members, k, permuted(leaving, seedOf(shard, randomness), LEAVING_DOMAIN), joining);
  });

  const batchOf = (lists: (move: ShardSchedule, batch: SwapBatch) => readonly Uint8Array[]) => {
    const index = new Map<string, { shard: number; batch: number }>();
    for (const move of shards) for (const batch of move.batches) for (const key of lists(move, batch)) index.set(toHex(key), { shard: move.shard, batch: batch.index });
    return (publicKey: Uint8Array) => index.get(toHex(publicKey));
  };
  return {
    shards,
    joiningBatchOf: batchOf((_, batch) => batch.joining),
    leavingBatchOf: batchOf((_, batch) => batch.leaving),
  };
}

/** The schedule from epoch `previous` (e) to `next` (e + 1): their members of every shard and rnd_{e+1}. */
export function scheduleBetween(previous: EpochContext, next: EpochContext): TransEpochSchedule {
  check<TransEpochErrorCode>(next.epoch === previous.epoch + 1 && next.shardCount === previous.shardCount, "TRANSEPOCH_BAD_INPUT",
    `epoch ${next.epoch} (${next.shardCount} shards) does not follow epoch ${previous.epoch} (${previous.shardCount} shards)`);
  const members = (context: EpochContext) => Array.from({ length: context.shardCount }, (_, shard) => context.members(shard));
  return transEpochSchedule({ before: members(previous), after: members(next), randomness: next.randomness, shardCount: next.shardCount });
}

/**
 * When batch `batch` (1..B) of a move starts after the next configuration is known, in ms: white paper §5.4, "batches
 * start Δ apart", with Δ' = min(Δ, leftMs / 2B) for Δ, `leftMs` what is left of the epoch when the configuration comes
 * (the caller's estimate), so the last batch starts within the first half of it however short epochs are. Batch 1 starts
 * at once.
 */
export function batchStartDelayMs(batch: number, batchCount: number, deltaMs: number, leftMs: number): number {
  check<TransEpochErrorCode>(Number.isInteger(batch) && batch >= 1 && batch <= batchCount, "TRANSEPOCH_BAD_BATCH", `batch ${batch} is not one of 1..${batchCount}`);
  check<TransEpochErrorCode>(deltaMs >= 0 && leftMs >= 0, "TRANSEPOCH_BAD_INPUT", `Δ ${deltaMs} ms and the epoch's ${leftMs} ms left must be non-negative`);
  return (batch - 1) * Math.min(deltaMs, leftMs / (2 * batchCount));
}
