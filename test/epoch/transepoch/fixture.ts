// The move the swap tests run through: 2 shards × 4 with real Ed25519 keys, two seats moving each
// way (shard 0 {v0..v3} → {v0, v1, v4, v5}, shard 1 {v4..v7} → {v2, v3, v6, v7}), one seat per
// batch and two batches per shard, under the real schedule.
import { sha256 } from "../../../src/crypto/sha256.js";
import { transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import { toHex } from "../../../src/hex.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import type { KeyPair } from "../../../src/ledger/keys.js";
import type { Clock } from "../../../src/runtime/interface.js";

/** The keys are derived from `accountSeed`, the schedule's randomness is SHA-256 of `randomnessLabel`. */
export function twoByFourMove(accountSeed: string, randomnessLabel: string) {
  const keys: KeyPair[] = deriveTestAccounts(accountSeed, 8);
  const pk = (i: number) => keys[i]!.publicKey;
  const schedule = transEpochSchedule({
    before: [[0, 1, 2, 3].map(pk), [4, 5, 6, 7].map(pk)],
    after: [[0, 1, 4, 5].map(pk), [2, 3, 6, 7].map(pk)],
    randomness: sha256(new TextEncoder().encode(randomnessLabel)),
    shardCount: 2,
  });
  const move = schedule.shards[0]!;
  return {
    keys,
    pk,
    schedule,
    /** Shard 0's move. */
    move,
    keyPairOf: (publicKey: Uint8Array) => keys.find((k) => toHex(k.publicKey) === toHex(publicKey))!,
    /** Shard 0's joiner of `batch` (1-based). */
    joinerOf: (batch: number) => move.batches[batch - 1]!.joining[0]!,
  };
}

/** A clock the test moves by hand: the swap rules under test set no timer. */
export class HandClock implements Clock {
  at = 0;
  now(): number {
    return this.at;
  }
  wallNow(): number {
    return this.at;
  }
  setTimer(): never {
    throw new Error("a swap rule sets no timer");
  }
  cancelTimer(): void {}
  advance(ms: number): void {
    this.at += ms;
  }
}
