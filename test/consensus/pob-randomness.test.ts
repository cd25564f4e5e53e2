// The sampling randomness of final proposals (src/consensus/pob/randomness.ts): RFC 9381 VRF
// shares of 2f + 1 normal-league members over the proposal core, real keys and proofs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { binomialInterval, undetectedProbability, undetectedWithChoices } from "../../src/consensus/pob/analysis.js";
import type { FinalProposal } from "../../src/consensus/pob/proposal.js";
import { leaderChoices, makeSeedShare, proposalRandomness, randomnessOfShares, shareQuorum, verifySeedShare } from "../../src/consensus/pob/randomness.js";
import { Sampler, sampleSeed } from "../../src/consensus/pob/sampling.js";
import { codeOf } from "../support/errors.js";

const CHAIN = new TextEncoder().encode("ioschain-randomness-test/shard-0");
const MEMBERS = deriveTestAccounts("pob randomness", 4);
const KEYS = MEMBERS.map((m) => m.publicKey);

function twoLeague(coreHash: Uint8Array, members: readonly number[]): FinalProposal {
  return {
    mode: "two-league", epoch: 0, height: 1, timestamp: 0, prevHash: new Uint8Array(32), proposer: KEYS[0]!, blocks: [new Uint8Array(32).fill(1)], transactions: [], suspend: [], resume: [],
    shares: members.map((m) => makeSeedShare(MEMBERS[m]!.secretKey, m, CHAIN, coreHash)), stateCommitment: new Uint8Array(32),
  };
}

describe("pob randomness shares", () => {
  it("needs 2f + 1 shares and leaves the leader C(n, 2f + 1) share sets per core", () => {
    assert.deepEqual([4, 5, 6, 7, 10].map(shareQuorum), [3, 4, 5, 5, 7]);
    assert.deepEqual([4, 5, 6, 7, 10].map(leaderChoices), [4, 5, 6, 21, 120]);
    // The stated bound: a colluding leader's choices multiply the escape probability, capped at 1.
    assert.equal(undetectedWithChoices(0.1, 30, 4), 4 * undetectedProbability(0.1, 30));
    assert.equal(undetectedWithChoices(0.1, 1, 21), 1);
  });

  it("a grinding leader, shown every member's share, picks the share set that hides k forgeries: it escapes within the stated bound", () => {
    // n = 4 members, quorum 3: C(4, 3) = 4 share sets per core. The leader colludes with a
    // producer whose block holds k = 4 forged transactions, sees all 4 shares and keeps a set
    // under which none is sampled, if there is one. An honest leader takes the first 3 that come.
    const p = 0.5;
    const k = 4;
    const trials = 300;
    const rng = SeededRng.fromSeed("grinding");
    const sets = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]];
    assert.equal(sets.length, leaderChoices(KEYS.length));
    let honestEscapes = 0;
    let grindingEscapes = 0;
    for (let t = 0; t < trials; t++) {
      const core = rng.bytes(32);
      const block = rng.bytes(32);
      const forged = Array.from({ length: k }, () => rng.bytes(32));
      const outputs = MEMBERS.map((m, i) => verifySeedShare(makeSeedShare(m.secretKey, i, CHAIN, core), KEYS, CHAIN, core)!);
      const escapes = sets.map((set) => {
        const sampler = new Sampler(p, sampleSeed(randomnessOfShares(core, set.map((i) => outputs[i]!)), block));
        return forged.every((txid) => !sampler.isSampled(txid));
      });
      if (escapes[0]) honestEscapes++;
      if (escapes.some(Boolean)) grindingEscapes++;
    }
    const honest = undetectedProbability(p, k);
    const honestBand = binomialInterval(trials, honest, 5);
    assert.ok(honestEscapes >= honestBand.low && honestEscapes <= honestBand.high, `honest leader: ${honestEscapes}/${trials} escapes, (1 − p)^k predicts ${honestBand.mean}`);
    // Independent share sets: 1 − (1 − q)^C, which the stated bound C·q dominates.
    const grinding = 1 - (1 - honest) ** sets.length;
    const grindingBand = binomialInterval(trials, grinding, 5);
    assert.ok(grindingEscapes >= grindingBand.low && grindingEscapes <= grindingBand.high, `grinding leader: ${grindingEscapes}/${trials} escapes, 1 − (1 − q)^C predicts ${grindingBand.mean}`);
    assert.ok(grindingEscapes <= binomialInterval(trials, undetectedWithChoices(p, k, sets.length), 5).high, "within the bound C(n, 2f + 1)·(1 − p)^k");
    assert.ok(grindingEscapes > honestBand.high, "and grinding does buy the leader something: the bound is not slack");
  });

  it("shares verify for their member and core only; the randomness is unique per share set", () => {
    const rng = SeededRng.fromSeed("shares");
    const core = rng.bytes(32);
    const proposal = twoLeague(core, [0, 1, 3]);
    const verified = proposalRandomness(proposal, core, KEYS, CHAIN, true);
    assert.deepEqual(proposalRandomness(proposal, core, KEYS, CHAIN, false), verified, "reading outputs from certified proofs gives the same randomness");
    assert.deepEqual(twoLeague(core, [0, 1, 3]).shares, proposal.shares, "a VRF share is unique: proving again gives the same proof");
    assert.notDeepEqual(proposalRandomness(twoLeague(core, [0, 1, 2]), core, KEYS, CHAIN, true), verified, "another share set, another randomness");
    const share = proposal.shares[0]!;
    assert.ok(verifySeedShare(share, KEYS, CHAIN, core) !== undefined);
    assert.equal(verifySeedShare(share, KEYS, CHAIN, rng.bytes(32)), undefined, "another core");
    assert.equal(verifySeedShare({ ...share, member: 1 }, KEYS, CHAIN, core), undefined, "another member");
    assert.equal(verifySeedShare(share, KEYS, new TextEncoder().encode("another chain"), core), undefined, "another chain");
    assert.equal(verifySeedShare({ ...share, member: 9 }, KEYS, CHAIN, core), undefined, "no such member");
  });

  it("refuses share sets of the wrong size, order or validity with POB_BAD_PROPOSAL", () => {
    const core = SeededRng.fromSeed("bad sets").bytes(32);
    const good = twoLeague(core, [0, 1, 3]);
    assert.equal(codeOf(() => proposalRandomness(twoLeague(core, [0, 1]), core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL");
    assert.equal(codeOf(() => proposalRandomness(twoLeague(core, [0, 1, 2, 3]), core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL");
    assert.equal(codeOf(() => proposalRandomness({ ...good, shares: [good.shares[1]!, good.shares[0]!, good.shares[2]!] }, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL");
    assert.equal(codeOf(() => proposalRandomness({ ...good, shares: [good.shares[0]!, good.shares[0]!, good.shares[2]!] }, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL");
    const flipped = Uint8Array.from(good.shares[2]!.proof);
    flipped[40]! ^= 1;
    assert.equal(codeOf(() => proposalRandomness({ ...good, shares: [good.shares[0]!, good.shares[1]!, { member: 3, proof: flipped }] }, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL");
    const one: FinalProposal = { ...good, mode: "one-league", blocks: [], transactions: [] };
    assert.equal(codeOf(() => proposalRandomness(one, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL", "a one-league proposal carries no shares");
    assert.equal(proposalRandomness({ ...one, shares: [] }, core, KEYS, CHAIN, true).length, 32);
    // A two-league proposal ordering no block samples nothing: no shares, and its randomness is the one-league kind's.
    const idle: FinalProposal = { ...good, blocks: [] };
    assert.equal(codeOf(() => proposalRandomness(idle, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL", "an idle height carries no shares");
    assert.deepEqual(proposalRandomness({ ...idle, shares: [] }, core, KEYS, CHAIN, true), proposalRandomness({ ...one, shares: [] }, core, KEYS, CHAIN, true));
    assert.equal(codeOf(() => proposalRandomness({ ...good, shares: [] }, core, KEYS, CHAIN, true)), "POB_BAD_PROPOSAL", "a height ordering blocks needs its shares");
  });

  it("samples a transaction at rate p over VRF-derived randomness (300 cores, 5σ)", () => {
    const p = 0.3;
    const cores = 300;
    const rng = SeededRng.fromSeed("sampling rate");
    const blockHash = rng.bytes(32);
    const txid = rng.bytes(32);
    let sampled = 0;
    for (let i = 0; i < cores; i++) {
      const core = rng.bytes(32);
      const outputs = [0, 1, 2].map((m) => verifySeedShare(makeSeedShare(MEMBERS[m]!.secretKey, m, CHAIN, core), KEYS, CHAIN, core)!);
      if (new Sampler(p, sampleSeed(randomnessOfShares(core, outputs), blockHash)).isSampled(txid)) sampled++;
    }
    const { low, high } = binomialInterval(cores, p, 5);
    assert.ok(sampled >= low && sampled <= high, `${sampled} of ${cores} sampled, expected ${low}..${high}`);
  });
});
