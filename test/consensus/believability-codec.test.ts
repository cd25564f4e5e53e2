/**
 * Believability accounts as bytes (src/consensus/pob/believability.ts): the list a replica
 * record stores, a shard's epoch boundary carries and the state commitment binds by hash. The
 * encoding round-trips and is canonical, every single-byte change is refused or changes the hash
 * a certificate commits to, and the state commitment changes with the accounts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ACCOUNT_STATE_BYTES, BelievabilityLedger, REPUTATION_MAX, accountsHash, decodeAccountStates, encodeAccountStates, type AccountState,
} from "../../src/consensus/pob/believability.js";
import { stateCommitmentOf, type CommitmentParts } from "../../src/consensus/pob/finalization.js";
import { sameBytes } from "../../src/bytes.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { codeOf } from "../support/errors.js";

const rng = SeededRng.fromSeed("believability codec");

/** Three accounts in key order: one slashed, one with Servi, one fresh. */
function accounts(): AccountState[] {
  const keys = [rng.bytes(32), rng.bytes(32), rng.bytes(32)].sort((a, b) => Buffer.compare(a, b));
  return [
    { publicKey: keys[0]!, stake: 0n, servi: 0, reputation: 0, excluded: true },
    { publicKey: keys[1]!, stake: 12_345n, servi: 17, reputation: REPUTATION_MAX, excluded: false },
    { publicKey: keys[2]!, stake: 1_000n, servi: 0, reputation: 500, excluded: false },
  ];
}

describe("believability account states: encoding and hash", () => {
  it("round-trips, is laid out as documented and has one encoding per list", () => {
    const states = accounts();
    const bytes = encodeAccountStates(states);
    assert.equal(bytes.length, 2 + 3 * ACCOUNT_STATE_BYTES);
    assert.equal(ACCOUNT_STATE_BYTES, 32 + 8 + 4 + 2 + 1);
    assert.deepEqual(decodeAccountStates(bytes), states);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const second = 2 + ACCOUNT_STATE_BYTES;
    assert.deepEqual([view.getUint16(0, true), view.getBigUint64(second + 32, true), view.getUint32(second + 40, true), view.getUint16(second + 44, true), bytes[second + 46]], [3, 12_345n, 17, REPUTATION_MAX, 0]);
    assert.equal(bytes[2 + 46], 1, "the slashed account's excluded flag");
    assert.equal(codeOf(() => encodeAccountStates([states[1]!, states[0]!, states[2]!])), "POB_BAD_ACCOUNT", "keys out of order");
    assert.equal(codeOf(() => encodeAccountStates([states[0]!, states[0]!])), "POB_BAD_ACCOUNT", "a key twice");
    assert.deepEqual(decodeAccountStates(encodeAccountStates([])), []);
  });

  it("refuses truncation, trailing bytes, out-of-range fields and unordered keys", () => {
    const bytes = encodeAccountStates(accounts());
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeAccountStates(bytes.subarray(0, length))), "POB_BAD_ACCOUNT", `cut at ${length}`);
    assert.equal(codeOf(() => decodeAccountStates(Uint8Array.of(...bytes, 0))), "POB_BAD_ACCOUNT");
    const reputation = Uint8Array.from(bytes);
    new DataView(reputation.buffer).setUint16(2 + 44, REPUTATION_MAX + 1, true);
    assert.equal(codeOf(() => decodeAccountStates(reputation)), "POB_BAD_ACCOUNT", "reputation past its maximum");
    const flag = Uint8Array.from(bytes);
    flag[2 + 46] = 2;
    assert.equal(codeOf(() => decodeAccountStates(flag)), "POB_BAD_ACCOUNT", "excluded flag 2");
    const swapped = Uint8Array.from(bytes);
    swapped.set(bytes.subarray(2 + ACCOUNT_STATE_BYTES, 2 + 2 * ACCOUNT_STATE_BYTES), 2);
    swapped.set(bytes.subarray(2, 2 + ACCOUNT_STATE_BYTES), 2 + ACCOUNT_STATE_BYTES);
    assert.equal(codeOf(() => decodeAccountStates(swapped)), "POB_BAD_ACCOUNT", "keys out of order");
  });

  it("every single-byte change is refused or changes the accounts hash a certificate commits to", () => {
    const states = accounts();
    const bytes = encodeAccountStates(states);
    const hash = accountsHash(states);
    for (let at = 0; at < bytes.length; at++) {
      for (const mask of [0x01, 0x80]) {
        const flipped = Uint8Array.from(bytes);
        flipped[at]! ^= mask;
        let decoded: AccountState[];
        try {
          decoded = decodeAccountStates(flipped);
        } catch (error) {
          assert.equal((error as { code?: string }).code, "POB_BAD_ACCOUNT", `byte ${at} ^ ${mask}`);
          continue;
        }
        assert.ok(!sameBytes(accountsHash(decoded), hash), `byte ${at} ^ ${mask} decodes to accounts of another hash`);
      }
    }
  });

  it("the state commitment changes with the accounts hash, and a ledger's copy is independent of it", () => {
    const parts: CommitmentParts = {
      previous: rng.bytes(32), coreHash: rng.bytes(32), randomness: rng.bytes(32), includedRoot: rng.bytes(32), includedCount: 1, bodyRoot: new Uint8Array(32).fill(0xb0), previousBlock: new Uint8Array(32).fill(0xb1),
      excludedRoot: rng.bytes(32), excludedCount: 0, supply: 10n, count: 1n, accountsHash: accountsHash(accounts()), msbHeaderHash: rng.bytes(32),
    };
    const other = Uint8Array.from(parts.accountsHash);
    other[0]! ^= 1;
    assert.notDeepEqual(stateCommitmentOf({ ...parts, accountsHash: other }), stateCommitmentOf(parts));
    // The MSB header hash is bound too (an epoch's last height certifies its Micro State Block).
    const otherMsb = Uint8Array.from(parts.msbHeaderHash);
    otherMsb[31]! ^= 1;
    assert.notDeepEqual(stateCommitmentOf({ ...parts, msbHeaderHash: otherMsb }), stateCommitmentOf(parts));

    const states = accounts();
    const ledger = new BelievabilityLedger(states.map(({ excluded: _excluded, ...account }) => account), 3);
    ledger.slash(states[1]!.publicKey);
    const copy = ledger.copy();
    assert.deepEqual(copy.snapshot(), ledger.snapshot(), "same accounts and exclusions");
    assert.equal(copy.isExcluded(states[1]!.publicKey), true);
    assert.equal(copy.epoch, 3);
    copy.issueServi(states[2]!.publicKey, 5);
    assert.equal(ledger.get(states[2]!.publicKey).servi, 0, "the copy's changes stay in the copy");
  });
});
