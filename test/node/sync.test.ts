// State sync's epoch arithmetic and message codec (src/node/sync): which epoch and BFT height a
// chain height belongs to, and strict decoding of requests and answers (every malformed input a
// SYNC_* code, nothing else). The protocol itself runs over a real PoB history in
// test/sim/state-sync.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import {
  SyncStatus, decodeSyncRequest, decodeSyncResponse, encodeSyncRequest, encodeSyncResponse, encodeSyncedHeight,
} from "../../src/node/sync/codec.js";
import { MAX_SYNC_HEIGHTS_PER_REQUEST, MAX_SYNC_RESPONSE_BYTES, bftHeightOf, epochOfHeight } from "../../src/node/sync/interface.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";

const rng = SeededRng.fromSeed("sync-codec");

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof IosError ? error.code : String(error);
  }
}

describe("state sync: epochs of chain heights", () => {
  it("epoch e holds heights e·L + 1 .. (e + 1)·L, at BFT heights 1..L", () => {
    const L = 20;
    const cases = [[1, 0, 1], [20, 0, 20], [21, 1, 1], [40, 1, 20], [41, 2, 1], [1_000_000, 49_999, 20]] as const;
    for (const [height, epoch, bft] of cases) {
      assert.equal(epochOfHeight(height, L), epoch, `height ${height}`);
      assert.equal(bftHeightOf(height, L), bft, `height ${height}`);
    }
  });

  it("without an epoch length every height is epoch 0 at its own BFT height; height 0 is no chain height", () => {
    assert.equal(epochOfHeight(57, undefined), 0);
    assert.equal(bftHeightOf(57, undefined), 57);
    assert.equal(codeOf(() => epochOfHeight(0, 20)), "SYNC_BAD_INPUT");
    assert.equal(codeOf(() => epochOfHeight(1.5, 20)), "SYNC_BAD_INPUT");
  });
});

describe("state sync: messages", () => {
  const height = () => ({
    block: rng.bytes(300),
    record: { certificate: rng.bytes(400), proposal: rng.bytes(200), rejections: [{ txid: rng.bytes(32), code: "MISSING_INPUT" }], atomix: [{ crossTxid: rng.bytes(32), phase: 2 }] },
  });

  it("a request round-trips; a count of 0 or above the bound, height 0 or trailing bytes are SYNC_MALFORMED", () => {
    const request = { id: 7, first: 41, count: MAX_SYNC_HEIGHTS_PER_REQUEST };
    assert.deepEqual(decodeSyncRequest(encodeSyncRequest(request)), request);
    for (const bad of [{ ...request, count: 0 }, { ...request, count: MAX_SYNC_HEIGHTS_PER_REQUEST + 1 }, { ...request, first: 0 }]) {
      assert.equal(codeOf(() => decodeSyncRequest(encodeSyncRequest(bad))), "SYNC_MALFORMED", JSON.stringify(bad));
    }
    const encoded = encodeSyncRequest(request);
    assert.equal(codeOf(() => decodeSyncRequest(Buffer.concat([encoded, new Uint8Array(1)]))), "SYNC_MALFORMED");
    assert.equal(codeOf(() => decodeSyncRequest(encoded.subarray(1))), "SYNC_MALFORMED");
  });

  it("an answer round-trips; every truncation, trailing bytes, a status it does not define, heights with a non-OK status or none with OK are SYNC_MALFORMED; too large is SYNC_OVERSIZE", () => {
    const heights = [height(), height()];
    const encoded = encodeSyncResponse({ id: 3, status: SyncStatus.Ok, first: 9 }, heights.map(encodeSyncedHeight));
    assert.deepEqual(decodeSyncResponse(encoded), { id: 3, status: SyncStatus.Ok, first: 9, heights });
    for (let cut = 0; cut < encoded.length; cut += 37) assert.equal(codeOf(() => decodeSyncResponse(encoded.subarray(0, cut))), "SYNC_MALFORMED", `cut at ${cut}`);
    assert.equal(codeOf(() => decodeSyncResponse(Buffer.concat([encoded, new Uint8Array(1)]))), "SYNC_MALFORMED");
    const unknown = Uint8Array.from(encoded);
    unknown[4] = 9;
    assert.equal(codeOf(() => decodeSyncResponse(unknown)), "SYNC_MALFORMED");
    assert.equal(codeOf(() => decodeSyncResponse(encodeSyncResponse({ id: 3, status: SyncStatus.Behind, first: 9 }, heights.map(encodeSyncedHeight)))), "SYNC_MALFORMED");
    assert.equal(codeOf(() => decodeSyncResponse(encodeSyncResponse({ id: 3, status: SyncStatus.Ok, first: 9 }, []))), "SYNC_MALFORMED");
    assert.deepEqual(decodeSyncResponse(encodeSyncResponse({ id: 3, status: SyncStatus.Busy, first: 9 }, [])).heights, []);
    // A pruned height (the server's store deleted it) answers no heights; with heights it is malformed.
    assert.equal(decodeSyncResponse(encodeSyncResponse({ id: 3, status: SyncStatus.Pruned, first: 9 }, [])).status, SyncStatus.Pruned);
    assert.equal(codeOf(() => decodeSyncResponse(encodeSyncResponse({ id: 3, status: SyncStatus.Pruned, first: 9 }, heights.map(encodeSyncedHeight)))), "SYNC_MALFORMED");
    const beyond = encodeSyncResponse({ id: 3, status: SyncStatus.Pruned, first: 9 }, []);
    beyond[4] = 4;
    assert.equal(codeOf(() => decodeSyncResponse(beyond)), "SYNC_MALFORMED", "status 4 is not defined");
    assert.equal(codeOf(() => decodeSyncResponse(new Uint8Array(MAX_SYNC_RESPONSE_BYTES + 1))), "SYNC_OVERSIZE");
  });
});
