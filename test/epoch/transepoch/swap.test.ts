/**
 * Swap-in requests and the replica's rule for a proposal that moves a shard's committee to its
 * next batch (src/epoch/transepoch/swap.ts), with real Ed25519 keys: what a byzantine leader or
 * joiner may put in a SWAP_IN instead of the batch's signed requests, each refused with its code;
 * every flipped byte of a valid SWAP_IN refused (the committees by (epoch, shard, batch):
 * committees.test.ts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import {
  SWAP_MAX_LAG, SWAP_REQUEST_BYTES, checkSwapIn, decodeSwapIn, decodeSwapRequest, encodeSwapIn, signSwapRequest,
  type SwapInPlace, type UnsignedSwapRequest,
} from "../../../src/epoch/transepoch/swap.js";
import { IosError } from "../../../src/errors.js";
import { toHex } from "../../../src/hex.js";
import type { KeyPair } from "../../../src/ledger/keys.js";
import { twoByFourMove } from "./fixture.js";

const encoder = new TextEncoder();
const coded = (code: string) => (error: unknown) => error instanceof IosError && error.code === code;
const chain = sha256(encoder.encode("transepoch swap chain"));
/** The chain's state commitment at each height, as a replica holds it. */
const commitment = (height: number) => sha256(encoder.encode(`commitment ${height}`));
const EPOCH = 3;
const HEIGHT = 3 * 40 + 7;

const { keys, pk, schedule, move, keyPairOf, joinerOf } = twoByFourMove("transepoch-swap", "rnd");

const place = (overrides: Partial<SwapInPlace> = {}): SwapInPlace => ({
  chain, shard: 0, epoch: EPOCH, schedule: move, batch: 0, height: HEIGHT,
  commitmentAt: (height) => (height < HEIGHT ? commitment(height) : undefined),
  ...overrides,
});
/** A request as the joiner of `batch` signs it once synced to HEIGHT − 2; `overrides` change what it signs. */
function request(batch: number, overrides: Partial<UnsignedSwapRequest> = {}, signer?: KeyPair): Uint8Array {
  const joiner = overrides.joiner ?? joinerOf(batch);
  const unsigned: UnsignedSwapRequest = { chain, shard: 0, epoch: EPOCH, batch, syncedHeight: HEIGHT - 2, commitment: commitment(HEIGHT - 2), joiner, ...overrides };
  return signSwapRequest((signer ?? keyPairOf(joiner)).secretKey, unsigned);
}

describe("TransEpoch swap-in requests", () => {
  it("a batch's signed requests move the committee one batch on, batch after batch, and decode to what was signed", () => {
    assert.deepEqual(move.batches.map((b) => [b.leaving.length, b.joining.length]), [[1, 1], [1, 1]]);
    const first = request(1);
    assert.equal(first.length, SWAP_REQUEST_BYTES);
    const decoded = decodeSwapRequest(first);
    assert.deepEqual({ shard: decoded.shard, epoch: decoded.epoch, batch: decoded.batch, syncedHeight: decoded.syncedHeight, joiner: toHex(decoded.joiner) },
      { shard: 0, epoch: EPOCH, batch: 1, syncedHeight: HEIGHT - 2, joiner: toHex(joinerOf(1)) });
    assert.deepEqual(decodeSwapIn(encodeSwapIn([first])).map((r) => toHex(r.signature)), [toHex(decoded.signature)]);
    assert.equal(checkSwapIn(encodeSwapIn([first]), place()), 1);
    assert.equal(checkSwapIn(encodeSwapIn([request(2, { syncedHeight: HEIGHT - 1, commitment: commitment(HEIGHT - 1) })]), place({ batch: 1 })), 2);
    // The oldest synced height a swap at HEIGHT takes.
    assert.equal(checkSwapIn(encodeSwapIn([request(1, { syncedHeight: HEIGHT - SWAP_MAX_LAG, commitment: commitment(HEIGHT - SWAP_MAX_LAG) })]), place()), 1);
  });

  it("refuses what a byzantine leader or joiner puts in instead, each with its code", () => {
    const swap = (...requests: Uint8Array[]) => encodeSwapIn(requests);
    const cases: [string, Uint8Array, SwapInPlace, string][] = [
      ["no batch after B", swap(request(2)), place({ batch: 2 }), "TRANSEPOCH_WRONG_BATCH"],
      ["a later batch's joiner first (batches go one at a time)", swap(request(2)), place(), "TRANSEPOCH_NOT_JOINER"],
      ["a stayer", swap(request(1, { joiner: pk(0) })), place(), "TRANSEPOCH_NOT_JOINER"],
      ["a joiner of the other shard", swap(request(1, { joiner: schedule.shards[1]!.joining[0]!, shard: 0 })), place(), "TRANSEPOCH_NOT_JOINER"],
      ["the joiner twice", swap(request(1), request(1)), place(), "TRANSEPOCH_DUPLICATE_JOINER"],
      ["no request for a batch with a joiner", swap(), place(), "TRANSEPOCH_MISSING_JOINER"],
      ["signed for another shard", swap(request(1, { shard: 1 })), place(), "TRANSEPOCH_WRONG_PLACE"],
      ["signed for another epoch", swap(request(1, { epoch: EPOCH + 1 })), place(), "TRANSEPOCH_WRONG_PLACE"],
      ["signed for another chain", swap(request(1, { chain: sha256(encoder.encode("another chain")) })), place(), "TRANSEPOCH_WRONG_PLACE"],
      ["signed for another batch (replayed from a later swap)", swap(request(1, { batch: 2 })), place(), "TRANSEPOCH_WRONG_PLACE"],
      ["synced to the swap height itself", swap(request(1, { syncedHeight: HEIGHT, commitment: commitment(HEIGHT) })), place(), "TRANSEPOCH_STALE_SYNC"],
      ["synced too long ago", swap(request(1, { syncedHeight: HEIGHT - SWAP_MAX_LAG - 1, commitment: commitment(HEIGHT - SWAP_MAX_LAG - 1) })), place(), "TRANSEPOCH_STALE_SYNC"],
      ["synced to another state", swap(request(1, { commitment: commitment(HEIGHT - 3) })), place(), "TRANSEPOCH_WRONG_COMMITMENT"],
      ["synced to a height the replica does not hold", swap(request(1)), place({ commitmentAt: () => undefined }), "TRANSEPOCH_WRONG_COMMITMENT"],
      ["signed by someone else (the leader)", swap(request(1, {}, keys[0])), place(), "TRANSEPOCH_BAD_SIGNATURE"],
      ["a removal-only batch smuggling a joiner", swap(request(1)), place({ schedule: transEpochSchedule({ before: [[0, 1, 2, 3, 4].map(pk), [5, 6, 7].map(pk)], after: [[0, 1, 2, 3].map(pk), [4, 5, 6, 7].map(pk)], randomness: sha256(encoder.encode("rnd")), shardCount: 2 }).shards[0]! }), "TRANSEPOCH_NOT_JOINER"],
    ];
    for (const [what, bytes, at, code] of cases) assert.throws(() => checkSwapIn(bytes, at), coded(code), what);
  });

  it("a shrinking shard's removal-only batch takes an empty swap-in", () => {
    const shrinking = transEpochSchedule({ before: [[0, 1, 2, 3, 4].map(pk), [5, 6, 7].map(pk)], after: [[0, 1, 2, 3].map(pk), [4, 5, 6, 7].map(pk)], randomness: sha256(encoder.encode("rnd")), shardCount: 2 }).shards[0]!;
    assert.deepEqual(shrinking.batches.map((b) => [hexes(b.leaving), b.joining.length]), [[[toHex(pk(4))], 0]]);
    assert.equal(checkSwapIn(encodeSwapIn([]), place({ schedule: shrinking })), 1);
  });

  it("refuses every malformed encoding (TRANSEPOCH_MALFORMED) and every flipped byte of a valid swap-in", () => {
    const valid = encodeSwapIn([request(1)]);
    for (let cut = 0; cut < valid.length; cut++) assert.throws(() => checkSwapIn(valid.subarray(0, cut), place()), coded("TRANSEPOCH_MALFORMED"), `cut at ${cut}`);
    assert.throws(() => checkSwapIn(Uint8Array.from([...valid, 0]), place()), coded("TRANSEPOCH_MALFORMED"), "a trailing byte");
    const versioned = Uint8Array.from(valid);
    versioned[1] = 2;
    assert.throws(() => checkSwapIn(versioned, place()), coded("TRANSEPOCH_MALFORMED"), "an unknown version");
    assert.throws(() => signSwapRequest(keys[4]!.secretKey, { chain, shard: 0, epoch: EPOCH, batch: 0, syncedHeight: 1, commitment: commitment(1), joiner: pk(4) }), coded("TRANSEPOCH_MALFORMED"), "batch 0");
    assert.throws(() => encodeSwapIn([request(1).subarray(1)]), coded("TRANSEPOCH_MALFORMED"));
    for (let at = 0; at < valid.length; at++) {
      for (const mask of [0x01, 0x80]) {
        const flipped = Uint8Array.from(valid);
        flipped[at]! ^= mask;
        assert.throws(() => checkSwapIn(flipped, place()), (error: unknown) => error instanceof IosError && error.code.startsWith("TRANSEPOCH_"), `byte ${at} ^ ${mask}`);
      }
    }
  });
});

function hexes(list: readonly Uint8Array[]): string[] {
  return list.map(toHex);
}
