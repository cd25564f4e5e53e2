/**
 * The rule that ends an epoch's opening instance (src/epoch/transepoch/opening.ts): nothing ends it
 * before this member holds the next configuration; then exactly the empty swap-in does, and a
 * member refuses proposals without it after the patience, and always at the opening's last height.
 * What a byzantine leader could put in a proposal instead is refused with a code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OPENING_END, OpeningEnd } from "../../../src/epoch/transepoch/opening.js";
import { encodeSwapIn, signSwapRequest } from "../../../src/epoch/transepoch/swap.js";
import { sha256 } from "../../../src/crypto/sha256.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import { HandClock } from "./fixture.js";
import { codeOf } from "../../support/errors.js";

const PATIENCE = 4_000;
const LAST = 2 * 40 - 1;

describe("TransEpoch: the end of an epoch's opening instance", () => {
  it("ends nothing before the configuration: no swap-in proposed, any refused (TRANSEPOCH_WRONG_BATCH), nothing overdue below the last height", () => {
    const clock = new HandClock();
    const rule = new OpeningEnd({ clock, patienceMs: PATIENCE, lastHeight: LAST });
    assert.equal(rule.pending(), undefined);
    assert.equal(codeOf(() => rule.check(OPENING_END)), "TRANSEPOCH_WRONG_BATCH");
    clock.at = 1_000_000;
    assert.equal(rule.overdue(LAST - 1), false, "a shard without its next configuration goes on deciding");
    assert.equal(rule.overdue(LAST), true, "the opening's last height carries the end or is not decided");
  });

  it("once configured: proposes and accepts the empty swap-in only; a forged or non-empty one is refused (TRANSEPOCH_MALFORMED)", () => {
    const clock = new HandClock();
    const rule = new OpeningEnd({ clock, patienceMs: PATIENCE, lastHeight: LAST });
    rule.configure();
    assert.deepEqual(rule.pending(), OPENING_END);
    assert.deepEqual(OPENING_END, Uint8Array.of(0), "the empty SWAP_IN: u8 count 0");
    assert.doesNotThrow(() => rule.check(OPENING_END));
    const [joiner] = deriveTestAccounts("opening-end", 1);
    const request = signSwapRequest(joiner!.secretKey, { chain: sha256(Uint8Array.of(1)), shard: 0, epoch: 1, batch: 1, syncedHeight: 40, commitment: sha256(Uint8Array.of(2)), joiner: joiner!.publicKey });
    for (const forged of [encodeSwapIn([request]), Uint8Array.of(1), Uint8Array.of(0, 0), new Uint8Array(0)]) {
      assert.equal(codeOf(() => rule.check(forged)), "TRANSEPOCH_MALFORMED", `refused: ${Buffer.from(forged).toString("hex").slice(0, 16)}`);
    }
  });

  it("a member configured for the patience refuses proposals without the end (a leader omitting it loses its view); configure is idempotent", () => {
    const clock = new HandClock();
    const rule = new OpeningEnd({ clock, patienceMs: PATIENCE, lastHeight: LAST });
    clock.at = 10_000;
    rule.configure();
    clock.at = 10_000 + PATIENCE - 1;
    rule.configure();
    assert.equal(rule.overdue(45), false, "within the patience");
    clock.at = 10_000 + PATIENCE;
    assert.equal(rule.overdue(45), true, "the patience counts from the first configure");
    assert.equal(codeOf(() => new OpeningEnd({ clock, patienceMs: -1, lastHeight: LAST })), "TRANSEPOCH_BAD_INPUT");
  });
});
