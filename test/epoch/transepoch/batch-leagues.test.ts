/**
 * The leagues of a batch instance of a move (src/epoch/transepoch/batch-leagues.ts) through a
 * shard's real execution (src/consensus/pob/finalization.ts) and UTXO kernel: epoch e's leagues
 * and accounts with committee(b) as the BFT committee. A joiner (no account in e's ledger) leads a
 * final height, one-league, and it executes (nothing to clear); a leaver already swapped out may
 * not propose (POB_BAD_PROPOSAL); Servi goes to the normal league without the swapped-out leaver;
 * suspensions and slashings act on e's believable league and keep committee(b).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BelievabilityLedger } from "../../../src/consensus/pob/believability.js";
import { PobValidator } from "../../../src/consensus/pob/finalization.js";
import { drawLeagues } from "../../../src/consensus/pob/leagues.js";
import type { ShardingPolicy } from "../../../src/consensus/pob/policy.js";
import type { ProposalCore } from "../../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../../src/crypto/ed25519.js";
import { genesisEpochContext } from "../../../src/epoch/context.js";
import { batchLeagues } from "../../../src/epoch/transepoch/batch-leagues.js";
import { toHex } from "../../../src/hex.js";
import { genesisEntries, makeTestGenesis } from "../../../src/ledger/genesis.js";
import { RegistrationOperation, registrationKind, signRelease } from "../../../src/ledger/kinds/registration.js";
import { TxKind } from "../../../src/ledger/kinds/interface.js";
import { UtxoTable } from "../../../src/ledger/utxo-table.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { codeOf } from "../../support/errors.js";
import { MemoryFinalChain } from "../../consensus/final-chain.js";

const STAKE = 10_000n;
const hexes = (keys: readonly Uint8Array[]) => keys.map(toHex);
const sorted = (keys: readonly Uint8Array[]) => hexes(keys).sort();

describe("a batch instance's leagues", () => {
  it("lets a joiner without an account lead a final height, refuses a swapped-out leaver as proposer, and issues Servi to the stayers only", () => {
    // Three members cannot spare a believable seat next to a normal league of 3: one league, the leader's transactions in full.
    const policy: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 2048 };
    const { genesis, validators, accounts } = makeTestGenesis({ seed: "batch-leagues one", shardCount: 1, accounts: 1, amount: 1_000_000n, validators: 4, stake: STAKE });
    const context = genesisEpochContext(genesis);
    const rng = SeededRng.fromSeed("batch-leagues one");
    const [a, b, leaver, joiner] = validators.map((v) => v.publicKey) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const ledger = new BelievabilityLedger([a, b, leaver].map((publicKey) => ({ publicKey, stake: STAKE, servi: 0, reputation: 500 })), 1);
    const epochLeagues = drawLeagues({ epoch: 1, seed: rng.bytes(32), members: [a, b, leaver], accounts: ledger, policy });
    assert.equal(epochLeagues.mode, "one-league");
    const leagues = batchLeagues(epochLeagues, [joiner, b, a]);
    assert.deepEqual(hexes(leagues.committee), sorted([a, b, joiner]), "committee(b), in key order");
    assert.deepEqual(hexes(leagues.normal), sorted([a, b]), "e's normal league without the leaver swapped out; the joiner has no account for Servi");
    assert.deepEqual([leagues.epoch, leagues.mode, leagues.believable.length], [1, "one-league", 0], "e's epoch, mode and believable league");

    const utxo = new UtxoTable({ initialCapacityLog2: 8 });
    utxo.insertEntries(genesisEntries(genesis, 0));
    utxo.insertEntries(context.bondEntries(0));
    const validator = new PobValidator({
      shard: 0, shardCount: 1, utxo, accounts: ledger, leagues, epoch: 2, chain: new MemoryFinalChain(genesis), bondOf: (key) => context.bondOf(key), verifier: new Ed25519Verifier(),
    });
    // A transaction the height refuses still makes it a height with content: Servi is issued, the one-league proposer's cleared.
    const content = registrationKind.encode(signRelease({
      kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Release, validator: a, bond: context.bondOf(a)!.outpoint, amount: STAKE, payout: accounts[0]!.publicKey,
    }, validators[0]!).transaction);
    let timestamp = 1_700_000_000_000;
    const core = (proposer: Uint8Array): ProposalCore => ({
      mode: "one-league", epoch: 2, height: validator.height + 1, timestamp: (timestamp += 1000), prevHash: validator.previousProposal,
      proposer, blocks: [], transactions: [content], suspend: [], resume: [],
    });
    assert.equal(codeOf(() => validator.applyFinal(core(leaver), () => undefined, rng.bytes(32))), "POB_BAD_PROPOSAL", "a leaver swapped out proposes no more");
    const outcome = validator.applyFinal(core(joiner), () => undefined, rng.bytes(32));
    assert.deepEqual(outcome.excluded.map((e) => e.code), ["TX_RELEASE_NOT_DEPARTED"]);
    assert.equal(validator.height, 1, "the joiner's height is final");
    assert.ok(ledger.get(a).servi > 0 && ledger.get(b).servi > 0, "the stayers verified it: Servi");
    assert.equal(ledger.get(leaver).servi, 0, "the swapped-out leaver verified nothing: no Servi");
    assert.equal(ledger.has(joiner), false, "the joiner gains no account in e's ledger");
    validator.applyFinal(core(a), () => undefined, rng.bytes(32));
    assert.equal(ledger.get(a).servi, 0, "a stayer leading clears its Servi, as in any one-league height");
  });

  it("keeps committee(b) through suspensions and slashings of e's believable league", () => {
    const policy: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 2048 };
    const { validators } = makeTestGenesis({ seed: "batch-leagues two", shardCount: 1, accounts: 1, amount: 1n, validators: 6, stake: STAKE });
    const keys = validators.map((v) => v.publicKey);
    const members = keys.slice(0, 5);
    const ledger = new BelievabilityLedger(members.map((publicKey) => ({ publicKey, stake: STAKE, servi: 0, reputation: 500 })), 1);
    const epochLeagues = drawLeagues({ epoch: 1, seed: SeededRng.fromSeed("batch-leagues two").bytes(32), members, accounts: ledger, policy });
    assert.equal(epochLeagues.mode, "two-league");
    const producer = epochLeagues.believable[0]!;
    const [leaver, ...stayers] = epochLeagues.committee as [Uint8Array, ...Uint8Array[]];
    const joiner = keys[5]!;
    const committee = sorted([...stayers, joiner]);
    const leagues = batchLeagues(epochLeagues, [joiner, ...stayers]);
    assert.deepEqual(hexes(leagues.believable), [toHex(producer)], "e's producer keeps producing");
    assert.equal(leagues.isBelievable(joiner), false);
    const suspended = leagues.suspend(producer);
    assert.deepEqual([hexes(suspended.committee), hexes(suspended.suspended), suspended.isSuspended(producer), suspended.mode], [committee, [toHex(producer)], true, "one-league"]);
    assert.deepEqual(hexes(suspended.resume(producer).committee), committee);
    assert.deepEqual(hexes(suspended.resume(producer).believable), [toHex(producer)]);
    const slashed = leagues.withoutValidator(producer);
    assert.deepEqual([hexes(slashed.committee), slashed.believable.length], [committee, 0]);
    assert.ok(!slashed.normal.some((key) => toHex(key) === toHex(leaver)), "the swapped-out leaver stays out of the normal league");
    assert.equal(leagues.suspend(joiner), leagues, "a key without a seat changes nothing");
  });
});
