/**
 * A committee member's swaps through one shard's move (src/epoch/transepoch/swaps.ts), with real
 * Ed25519 keys and the real schedule: requests received and kept, the swap-in a leader proposes
 * once every joiner of the next batch has synced close enough, what a byzantine joiner or relay
 * sends instead (each refused with its code), the patience after which a member refuses proposals
 * omitting a swap-in, and the batches advancing to the epoch's own committee.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256 } from "../../../src/crypto/sha256.js";
import { SWAP_ASKS_PER_DELTA, SWAP_MAX_LAG, SWAP_PROPOSE_LAG, checkSwapIn, decodeSwapIn, encodeSwapIn, signSwapRequest, type UnsignedSwapRequest } from "../../../src/epoch/transepoch/swap.js";
import { SWAP_PATIENCE_DELTAS, SWAP_SENDER_SPACING, ShardSwaps } from "../../../src/epoch/transepoch/swaps.js";
import { toHex } from "../../../src/hex.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import type { KeyPair } from "../../../src/ledger/keys.js";
import { HandClock, twoByFourMove } from "./fixture.js";
import { codeOf } from "../../support/errors.js";

const encoder = new TextEncoder();
const chain = sha256(encoder.encode("transepoch swaps chain"));
const commitment = (height: number) => sha256(encoder.encode(`commitment ${height}`));
const EPOCH = 5;
const TIP = 5 * 40 + 9;
const PATIENCE = 4_000;

const { move, keyPairOf, joinerOf } = twoByFourMove("transepoch-swaps", "rnd swaps");

function request(batch: number, synced: number, overrides: Partial<UnsignedSwapRequest> = {}, signer?: KeyPair): Uint8Array {
  const joiner = overrides.joiner ?? joinerOf(batch);
  return signSwapRequest((signer ?? keyPairOf(joiner)).secretKey, { chain, shard: 0, epoch: EPOCH, batch, syncedHeight: synced, commitment: commitment(synced), joiner, ...overrides });
}

function member(clock = new HandClock()) {
  const swaps = new ShardSwaps({ chain, shard: 0, epoch: EPOCH, schedule: move, batch: 0, clock, patienceMs: PATIENCE, commitmentAt: (h) => (h <= TIP ? commitment(h) : undefined) });
  return { swaps, clock };
}

describe("TransEpoch swaps held by a committee member", () => {
  it("proposes batch b + 1 once its joiner's request fits the height, checks it like checkSwapIn, and advances batch by batch to the epoch's committee", () => {
    const { swaps } = member();
    assert.deepEqual(move.batches.map((b) => [b.leaving.length, b.joining.length]), [[1, 1], [1, 1]]);
    assert.equal(swaps.pending(TIP + 1), undefined, "no request yet");
    swaps.receive(request(1, TIP - 3));
    const swapIn = swaps.pending(TIP + 1)!;
    assert.deepEqual(decodeSwapIn(swapIn).map((r) => toHex(r.joiner)), [toHex(joinerOf(1))]);
    assert.equal(swaps.check(swapIn, TIP + 1), 1);
    assert.equal(checkSwapIn(swapIn, { chain, shard: 0, epoch: EPOCH, schedule: move, batch: 0, height: TIP + 1, commitmentAt: commitment }), 1, "what any replica's checkSwapIn accepts");
    assert.equal(swaps.pending(TIP - 3), undefined, "not at or below the synced height");
    assert.ok(swaps.pending(TIP - 3 + SWAP_PROPOSE_LAG) !== undefined, "proposed up to SWAP_PROPOSE_LAG behind");
    assert.equal(swaps.pending(TIP - 3 + SWAP_PROPOSE_LAG + 1), undefined, "not once the joiner lags more than SWAP_PROPOSE_LAG");
    // Yet a leader's older view of it is accepted up to SWAP_MAX_LAG, as by any replica.
    const laggard = encodeSwapIn([request(1, TIP - SWAP_MAX_LAG + 1)]);
    assert.equal(swaps.check(laggard, TIP + 1), 1, "accepted SWAP_MAX_LAG behind");
    // A newer request replaces an older one; an older one after it, or the same again, does not (TRANSEPOCH_REPLAYED).
    swaps.receive(request(1, TIP));
    assert.equal(codeOf(() => swaps.receive(request(1, TIP - 10))), "TRANSEPOCH_REPLAYED");
    assert.equal(codeOf(() => swaps.receive(request(1, TIP))), "TRANSEPOCH_REPLAYED");
    assert.equal(decodeSwapIn(swaps.pending(TIP + 1)!)[0]!.syncedHeight, TIP);
    // Batch 2's joiner may ask early; its seat comes after batch 1's swap only.
    swaps.receive(request(2, TIP - 1));
    swaps.advance(1);
    assert.equal(swaps.batch, 1);
    assert.equal(codeOf(() => swaps.check(swapIn, TIP + 2)), "TRANSEPOCH_NOT_JOINER", "batch 1's swap-in again");
    const second = swaps.pending(TIP + 2)!;
    assert.deepEqual(decodeSwapIn(second).map((r) => toHex(r.joiner)), [toHex(joinerOf(2))]);
    assert.equal(swaps.check(second, TIP + 2), 2);
    swaps.advance(2);
    assert.equal(swaps.done, true);
    assert.equal(swaps.pending(TIP + 3), undefined, "nothing after the last batch");
    assert.equal(codeOf(() => swaps.advance(3)), "TRANSEPOCH_WRONG_BATCH");
  });

  it("refuses what a byzantine joiner or relay sends instead of a request, with its code, and keeps nothing of it", () => {
    const { swaps } = member();
    const stranger = deriveTestAccounts("transepoch-swaps stranger", 1)[0]!;
    const stayer = move.committee(0).find((key) => !move.leaving.some((l) => toHex(l) === toHex(key)))!;
    const forged = request(1, TIP - 1);
    forged[forged.length - 1]! ^= 0x01;
    const cases: [string, Uint8Array, string][] = [
      ["another shard's", request(1, TIP - 1, { shard: 1 }), "TRANSEPOCH_WRONG_PLACE"],
      ["another epoch's", request(1, TIP - 1, { epoch: EPOCH + 1 }), "TRANSEPOCH_WRONG_PLACE"],
      ["another chain's", request(1, TIP - 1, { chain: sha256(encoder.encode("elsewhere")) }), "TRANSEPOCH_WRONG_PLACE"],
      ["a batch past the last", request(3, TIP - 1, { joiner: joinerOf(1) }), "TRANSEPOCH_WRONG_BATCH"],
      ["batch 1's joiner asking for batch 2", request(2, TIP - 1, { joiner: joinerOf(1) }), "TRANSEPOCH_NOT_JOINER"],
      ["a stayer", request(1, TIP - 1, { joiner: stayer }), "TRANSEPOCH_NOT_JOINER"],
      ["a stranger", request(1, TIP - 1, { joiner: stranger.publicKey }, stranger), "TRANSEPOCH_NOT_JOINER"],
      ["signed by someone else", request(1, TIP - 1, {}, stranger), "TRANSEPOCH_BAD_SIGNATURE"],
      ["a flipped signature bit", forged, "TRANSEPOCH_BAD_SIGNATURE"],
      ["truncated", request(1, TIP - 1).subarray(0, 100), "TRANSEPOCH_MALFORMED"],
    ];
    for (const [what, bytes, code] of cases) assert.equal(codeOf(() => swaps.receive(bytes)), code, what);
    assert.equal(swaps.pending(TIP + 1), undefined, "nothing refused was kept");
    // A request for another state at its height is kept (its signature holds) but never proposed: the chain's commitment differs.
    swaps.receive(request(1, TIP - 1, { commitment: commitment(TIP - 2) }));
    assert.equal(swaps.pending(TIP + 1), undefined);
    swaps.advance(1);
    assert.equal(codeOf(() => swaps.receive(request(1, TIP))), "TRANSEPOCH_WRONG_BATCH", "a batch already in");
  });

  it("offers what the transport delivers: keeps a joiner's newest request, counts each refusal by its code and throws none", () => {
    const { swaps } = member();
    const stranger = deriveTestAccounts("transepoch-swaps offer stranger", 1)[0]!;
    const forged = request(1, TIP - 1);
    forged[60]! ^= 0x01; // in the commitment: only the signature refutes it
    const offered: [string, Uint8Array, boolean][] = [
      ["batch 1's joiner", request(1, TIP - 2), true],
      ["a forged one (a signed byte flipped)", forged, false],
      ["another shard's", request(1, TIP - 1, { shard: 1 }), false],
      ["another epoch's", request(1, TIP - 1, { epoch: EPOCH - 1 }), false],
      ["a non-joiner's", request(1, TIP - 1, { joiner: stranger.publicKey }, stranger), false],
      ["the first one replayed", request(1, TIP - 2), false],
      ["an older one", request(1, TIP - 3), false],
      ["a newer one", request(1, TIP - 1), true],
      ["garbage", new Uint8Array(7), false],
    ];
    // Each from its own peer: a sender's pace is the next case's.
    offered.forEach(([what, bytes, kept], i) => assert.equal(swaps.offer(bytes, `peer ${i}`), kept, what));
    assert.deepEqual(Object.fromEntries(swaps.refused), {
      TRANSEPOCH_BAD_SIGNATURE: 1, TRANSEPOCH_WRONG_PLACE: 2, TRANSEPOCH_NOT_JOINER: 1, TRANSEPOCH_REPLAYED: 2, TRANSEPOCH_MALFORMED: 1,
    });
    assert.equal(decodeSwapIn(swaps.pending(TIP + 1)!)[0]!.syncedHeight, TIP - 1, "the newest kept request is the one proposed");
    swaps.advance(1);
    assert.equal(swaps.offer(request(1, TIP), "peer 0"), false, "a batch already in");
    assert.equal(swaps.refused.get("TRANSEPOCH_WRONG_BATCH"), 1);
  });

  it("checks no signature of a replay, and at most one request per sending peer every SWAP_SENDER_SPACING of Δ", () => {
    const { swaps, clock } = member();
    const spacingMs = (PATIENCE / SWAP_PATIENCE_DELTAS) * SWAP_SENDER_SPACING;
    assert.ok(spacingMs > 0 && spacingMs * 2 * SWAP_ASKS_PER_DELTA === PATIENCE / SWAP_PATIENCE_DELTAS, "half a joiner's asking period");
    const joiner = toHex(joinerOf(1));
    assert.equal(swaps.offer(request(1, TIP - 2), joiner), true);
    // The same height again with a broken signature: refused as a replay, so before any curve work.
    const replayedForgery = request(1, TIP - 2);
    replayedForgery[replayedForgery.length - 1]! ^= 0x01;
    assert.equal(codeOf(() => swaps.receive(replayedForgery, "relay")), "TRANSEPOCH_REPLAYED");
    // A relay forging ever newer heights: its first forgery costs a verification, the next ones within the spacing none.
    const forgedAt = (height: number) => {
      const forged = request(1, height);
      forged[forged.length - 1]! ^= 0x01;
      return forged;
    };
    assert.equal(codeOf(() => swaps.receive(forgedAt(TIP - 1), "relay")), "TRANSEPOCH_BAD_SIGNATURE");
    assert.equal(codeOf(() => swaps.receive(forgedAt(TIP), "relay")), "TRANSEPOCH_TOO_SOON");
    assert.equal(codeOf(() => swaps.receive(request(1, TIP), "relay")), "TRANSEPOCH_TOO_SOON", "even a valid one, from that peer");
    // The relay's pace is its own: the joiner's newer request, sent after the spacing of its own last one, is kept.
    clock.advance(spacingMs - 1);
    assert.equal(codeOf(() => swaps.receive(request(1, TIP - 1), joiner)), "TRANSEPOCH_TOO_SOON", "the joiner's own pace");
    clock.advance(1);
    assert.equal(swaps.offer(request(1, TIP - 1), joiner), true);
    assert.equal(decodeSwapIn(swaps.pending(TIP + 1)!)[0]!.syncedHeight, TIP - 1);
    // One spacing after its last checked request, the relay's next one is checked again.
    assert.equal(codeOf(() => swaps.receive(forgedAt(TIP), "relay")), "TRANSEPOCH_BAD_SIGNATURE");
    // An honest joiner asking every Δ / SWAP_ASKS_PER_DELTA is never refused for its pace.
    for (let ask = 1; ask <= 8; ask++) {
      clock.advance(PATIENCE / SWAP_PATIENCE_DELTAS / SWAP_ASKS_PER_DELTA);
      assert.equal(swaps.offer(request(1, TIP + ask), joiner), true, `ask ${ask}`);
    }
    assert.equal(swaps.offer(request(1, TIP + 9), joiner), false, "at once after the last ask");
    assert.equal(swaps.refused.get("TRANSEPOCH_TOO_SOON"), 1, "counted by its code");
  });

  it("after holding a complete swap-in for the patience, a member refuses proposals without it; not before, and not when it holds none", () => {
    const { swaps, clock } = member();
    assert.equal(swaps.overdue(TIP + 1), false, "nothing to swap yet");
    clock.advance(PATIENCE * 2);
    assert.equal(swaps.overdue(TIP + 1), false, "waiting without a request is no omission");
    swaps.receive(request(1, TIP - 1));
    assert.equal(swaps.overdue(TIP + 1), false, "the patience starts now");
    clock.advance(PATIENCE - 1);
    assert.equal(swaps.overdue(TIP + 2), false);
    clock.advance(1);
    assert.equal(swaps.overdue(TIP + 2), true, "held for the patience: a proposal omitting it is refused");
    assert.equal(swaps.overdue(TIP - 1 + SWAP_PROPOSE_LAG + 1), false, "a request too far behind to propose resets it");
    swaps.advance(1);
    assert.equal(swaps.overdue(TIP + 3), false, "the next batch's patience starts afresh");
  });
});
