/**
 * The transition's BOUNDARY message (src/epoch/transition/messages.ts): certificate, the shard's
 * believability accounts, changes. It round-trips; a cut, trailing or out-of-order message is
 * TRANSITION_MALFORMED; and every single-byte change of the accounts is refused or changes their
 * hash, which the transition compares with the one the certificate commits to.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCOUNT_STATE_BYTES, accountsHash, type AccountState } from "../../../src/consensus/pob/believability.js";
import { decodeBoundary, encodeBoundary, type Boundary } from "../../../src/epoch/transition/messages.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { sameBytes } from "../../../src/bytes.js";
import { codeOf } from "../../support/errors.js";

const rng = SeededRng.fromSeed("transition messages");
const keys = [rng.bytes(32), rng.bytes(32)].sort((a, b) => Buffer.compare(a, b));
const accounts: AccountState[] = [
  { publicKey: keys[0]!, stake: 2_000n, servi: 4, reputation: 640, excluded: false },
  { publicKey: keys[1]!, stake: 0n, servi: 0, reputation: 0, excluded: true },
];
const boundary: Boundary = { certificate: rng.bytes(300), accounts, changes: [{ tx: rng.bytes(150), proof: rng.bytes(500) }] };

describe("BOUNDARY message", () => {
  it("round-trips; cut, trailing and unordered messages are TRANSITION_MALFORMED", () => {
    const bytes = encodeBoundary(boundary);
    assert.equal(bytes.length, 4 + 300 + 2 + 2 * ACCOUNT_STATE_BYTES + 2 + (4 + 150 + 2 + 500));
    assert.deepEqual(decodeBoundary(bytes), boundary);
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeBoundary(bytes.subarray(0, length))), "TRANSITION_MALFORMED", `cut at ${length}`);
    assert.equal(codeOf(() => decodeBoundary(Uint8Array.of(...bytes, 0))), "TRANSITION_MALFORMED");
    const unordered = encodeBoundary({ ...boundary, accounts: [accounts[1]!, accounts[0]!] });
    assert.equal(codeOf(() => decodeBoundary(unordered)), "TRANSITION_MALFORMED", "accounts out of key order");
  });

  it("every single-byte change of the accounts is refused or changes the hash the certificate must commit to", () => {
    const bytes = encodeBoundary(boundary);
    const hash = accountsHash(accounts);
    const from = 4 + 300;
    for (let at = from; at < from + 2 + 2 * ACCOUNT_STATE_BYTES; at++) {
      const flipped = Uint8Array.from(bytes);
      flipped[at]! ^= 0x01;
      let decoded: Boundary;
      try {
        decoded = decodeBoundary(flipped);
      } catch (error) {
        assert.equal((error as { code?: string }).code, "TRANSITION_MALFORMED", `byte ${at}`);
        continue;
      }
      assert.ok(!sameBytes(accountsHash(decoded.accounts), hash), `byte ${at} decodes to accounts of another hash`);
    }
  });
});
