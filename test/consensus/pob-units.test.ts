// Unit tests of the Proof-of-Believability pieces (white paper §7.1–7.2): policy, believability
// accounts, league draw, assignment, the optimistic producer's checks, sampling, evidence,
// proposal codec, analysis.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { IosError } from "../../src/errors.js";
import { HEADER_BYTES, decodeBlock } from "../../src/ledger/block.js";
import { deriveTestAccounts, genesisEntries, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { UtxoTable } from "../../src/ledger/utxo-table.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import {
  binomialInterval, detectionProbability, expectedInvalidBeforeDetection, invalidForConfidence, undetectedProbability,
} from "../../src/consensus/pob/analysis.js";
import { assignee, assigneeIndex, spenderOf } from "../../src/consensus/pob/assignment.js";
import { BelievabilityLedger, REPUTATION_INITIAL, REPUTATION_MAX, believabilityScore, believabilityUnits, log2Fixed } from "../../src/consensus/pob/believability.js";
import { decodeEvidence, encodeEvidence, makeEvidence, verifyEvidence, verifyInclusion, makeInclusion } from "../../src/consensus/pob/evidence.js";
import { drawLeagues } from "../../src/consensus/pob/leagues.js";
import { OptimisticProducer, buildOptimisticBlock, type OfferResult } from "../../src/consensus/pob/optimistic.js";
import { DEFAULT_POLICY, MAX_LEAGUE, MIN_NORMAL_LEAGUE, validatePolicy, type ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { MAX_SWAP_IN_BYTES } from "../../src/epoch/transepoch/swap.js";
import { decodeProposal, encodeProposal, proposalBodyDigest, proposalCoreHash, proposalHash, proposalHashOfParts, type FinalProposal } from "../../src/consensus/pob/proposal.js";
import { Sampler, sampleSeed, samplingThreshold } from "../../src/consensus/pob/sampling.js";
import { ACCOUNTS, signedTransfer, hex } from "../ledger/helpers.js";
import { OUTPOINT_BYTES, TXID_BYTES } from "../../src/codec/sizes.js";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof IosError, `expected an IosError, got ${String(error)}`);
    return error.code;
  }
  assert.fail("expected a throw");
}

const KEYS = deriveTestAccounts("pob units", 12).map((k) => k.publicKey);

function ledgerOf(stakes: bigint[], extra: Partial<{ servi: number; reputation: number }>[] = []): BelievabilityLedger {
  return new BelievabilityLedger(stakes.map((stake, i) => ({ publicKey: KEYS[i]!, stake, servi: extra[i]?.servi ?? 0, reputation: extra[i]?.reputation ?? REPUTATION_INITIAL })));
}

describe("pob policy", () => {
  it("accepts the default and rejects each bad field with POB_BAD_POLICY", () => {
    assert.equal(validatePolicy(DEFAULT_POLICY), DEFAULT_POLICY);
    const bad: Partial<ShardingPolicy>[] = [
      { believableLeagueSize: 0 }, { believableLeagueSize: 1.5 }, { normalLeagueSize: MIN_NORMAL_LEAGUE - 1 }, { normalLeagueSize: MAX_LEAGUE + 1 }, { samplingProbability: 0 },
      { samplingProbability: 1.01 }, { samplingProbability: Number.NaN }, { minBelievableSize: 0 },
      { minBelievableSize: DEFAULT_POLICY.believableLeagueSize + 1 }, { optimisticIntervalMs: 0 }, { maxOptimisticBlockTxs: 5000 },
    ];
    for (const change of bad) assert.equal(code(() => validatePolicy({ ...DEFAULT_POLICY, ...change })), "POB_BAD_POLICY", JSON.stringify(change));
    assert.equal(validatePolicy({ ...DEFAULT_POLICY, samplingProbability: 1 }).samplingProbability, 1);
  });
});

describe("pob believability", () => {
  it("scores 0 without stake, grows with each factor, log-damps stake", () => {
    const base = { stake: 1000n, servi: 0, reputation: 500 };
    assert.equal(believabilityScore({ ...base, stake: 0n }), 0);
    assert.ok(believabilityScore({ ...base, servi: 4 }) > believabilityScore(base));
    assert.ok(believabilityScore({ ...base, reputation: 900 }) > believabilityScore(base));
    assert.ok(believabilityScore({ ...base, stake: 2000n }) > believabilityScore(base));
    // 1000× the stake buys far less than 1000× the score (Servi exists against centralization, §7.1).
    const ratio = believabilityScore({ ...base, stake: 1_000_000n }) / believabilityScore(base);
    assert.ok(ratio > 1 && ratio < 1.5, `ratio ${ratio}`);
    const max = believabilityScore({ stake: (1n << 64n) - 1n, servi: 1e9, reputation: REPUTATION_MAX });
    assert.ok(max <= 1 && max > 0.99);
  });

  it("computes log2 and the score exactly in integers (the draw is consensus-critical)", () => {
    for (let k = 0n; k < 64n; k++) assert.equal(log2Fixed(1n << k), k << 16n);
    const rng = SeededRng.fromSeed("log2");
    for (let i = 0; i < 500; i++) {
      const x = (BigInt(rng.nextU32()) << 32n | BigInt(rng.nextU32())) + 1n;
      const exact = Math.log2(Number(x)) * 65536;
      const fixed = Number(log2Fixed(x));
      assert.ok(fixed <= exact + 1e-3 && exact - fixed < 1 + 1e-3, `log2Fixed(${x}) = ${fixed}, float ${exact}`);
    }
    assert.equal(code(() => log2Fixed(0n)), "POB_BAD_ARGUMENT");
    // Full marks: log2(2^64) = 64 → 2^31; Servi saturates below 2^30; reputation 1000/1000 → 2^30.
    assert.equal(believabilityUnits({ stake: (1n << 64n) - 1n, servi: 0, reputation: REPUTATION_MAX }), (log2Fixed(1n << 64n) << 9n) + (1n << 30n));
    assert.equal(believabilityUnits({ stake: 0n, servi: 50, reputation: 900 }), 0n);
  });

  it("issues Servi for contributions, clears it on validation, and has no transfer", () => {
    const ledger = ledgerOf([100n, 100n]);
    ledger.issueServi(KEYS[0]!, 3);
    ledger.issueServi(KEYS[0]!);
    assert.equal(ledger.get(KEYS[0]!).servi, 4);
    assert.ok(ledger.score(KEYS[0]!) > ledger.score(KEYS[1]!));
    ledger.clearServi(KEYS[0]!);
    assert.equal(ledger.get(KEYS[0]!).servi, 0);
    assert.equal(ledger.score(KEYS[0]!), ledger.score(KEYS[1]!));
    assert.equal("transferServi" in ledger || "transfer" in ledger, false);
    assert.equal(code(() => ledger.issueServi(KEYS[0]!, 0)), "POB_BAD_ARGUMENT");
    assert.equal(code(() => ledger.issueServi(KEYS[5]!)), "POB_UNKNOWN_VALIDATOR");
  });

  it("slashing burns stake, zeroes reputation and Servi, excludes for the epoch", () => {
    const ledger = ledgerOf([700n, 100n]);
    ledger.issueServi(KEYS[0]!, 5);
    const record = ledger.slash(KEYS[0]!);
    assert.equal(record.burned, 700n);
    assert.deepEqual({ ...ledger.get(KEYS[0]!), publicKey: undefined }, { publicKey: undefined, stake: 0n, servi: 0, reputation: 0 });
    assert.equal(ledger.score(KEYS[0]!), 0);
    assert.equal(ledger.isExcluded(KEYS[0]!), true);
    ledger.beginEpoch(1);
    assert.equal(ledger.isExcluded(KEYS[0]!), false);
    assert.equal(ledger.slashHistory().length, 1);
    assert.equal(code(() => ledger.beginEpoch(1)), "POB_BAD_ARGUMENT");
  });

  it("rejects bad accounts with codes", () => {
    assert.equal(code(() => ledgerOf([1n, 1n]).get(KEYS[3]!)), "POB_UNKNOWN_VALIDATOR");
    assert.equal(code(() => new BelievabilityLedger([{ publicKey: KEYS[0]!, stake: -1n, servi: 0, reputation: 0 }])), "POB_BAD_ACCOUNT");
    assert.equal(code(() => new BelievabilityLedger([{ publicKey: KEYS[0]!, stake: 1n, servi: 0, reputation: 1001 }])), "POB_BAD_ACCOUNT");
    assert.equal(code(() => new BelievabilityLedger([{ publicKey: new Uint8Array(31), stake: 1n, servi: 0, reputation: 0 }])), "POB_BAD_ACCOUNT");
    const dup = { publicKey: KEYS[0]!, stake: 1n, servi: 0, reputation: 0 };
    assert.equal(code(() => new BelievabilityLedger([dup, dup])), "POB_DUPLICATE_VALIDATOR");
  });
});

describe("pob leagues", () => {
  const policy: ShardingPolicy = { ...DEFAULT_POLICY, believableLeagueSize: 3, normalLeagueSize: 4, minBelievableSize: 2 };
  const seed = (n: number) => SeededRng.fromSeed(`league ${n}`).bytes(32);

  it("is deterministic in the seed, disjoint, and covers the shard", () => {
    const accounts = ledgerOf(KEYS.slice(0, 10).map(() => 1000n));
    const members = KEYS.slice(0, 10);
    const a = drawLeagues({ epoch: 1, seed: seed(1), members, accounts, policy });
    const b = drawLeagues({ epoch: 1, seed: seed(1), members, accounts, policy });
    assert.equal(a.mode, "two-league");
    assert.deepEqual(a.believable.map(hex), b.believable.map(hex));
    assert.equal(a.believable.length, 3);
    assert.equal(a.normal.length, 7);
    assert.deepEqual([...a.believable, ...a.normal].map(hex).sort(), members.map(hex).sort());
    const draws = new Set(Array.from({ length: 12 }, (_, n) => drawLeagues({ epoch: 1, seed: seed(n), members, accounts, policy }).believable.map(hex).sort().join()));
    assert.ok(draws.size > 3, "different seeds draw different leagues");
  });

  it("draws each seat with probability proportional to score", () => {
    // Validator 0 has reputation 1000 and much Servi, validator 1 reputation 0; the rest equal.
    const extra = KEYS.slice(0, 8).map((_, i) => (i === 0 ? { servi: 64, reputation: 1000 } : i === 1 ? { servi: 0, reputation: 0 } : {}));
    const accounts = ledgerOf(KEYS.slice(0, 8).map(() => 1000n), extra);
    const members = KEYS.slice(0, 8);
    const counts = [0, 0];
    const runs = 300;
    for (let n = 0; n < runs; n++) {
      const leagues = drawLeagues({ epoch: 2, seed: seed(100 + n), members, accounts, policy: { ...policy, believableLeagueSize: 1, minBelievableSize: 1 } });
      if (leagues.isBelievable(members[0]!)) counts[0]!++;
      if (leagues.isBelievable(members[1]!)) counts[1]!++;
    }
    // One seat: P(v) = w_v / Σw. Scores: w0 ≈ 0.528, w1 ≈ 0.078, six others ≈ 0.203 each: P0 ≈ 0.29, P1 ≈ 0.04.
    const total = members.reduce((sum, m) => sum + accounts.score(m), 0);
    const p0 = accounts.score(members[0]!) / total;
    const p1 = accounts.score(members[1]!) / total;
    for (const [count, p] of [[counts[0]!, p0], [counts[1]!, p1]] as const) {
      const bound = binomialInterval(runs, p, 5);
      assert.ok(count >= bound.low && count <= bound.high, `count ${count} outside ${bound.low}..${bound.high} (p ${p})`);
    }
  });

  it("falls back to one league below the minimum, and after a slashing mid-epoch", () => {
    const accounts = ledgerOf(KEYS.slice(0, 7).map((_, i) => (i < 2 ? 1000n : 0n)));
    const members = KEYS.slice(0, 7);
    const few = drawLeagues({ epoch: 0, seed: seed(5), members, accounts, policy });
    assert.equal(few.mode, "two-league");
    assert.equal(few.believable.length, 2);
    const after = few.withoutValidator(few.believable[0]!);
    assert.equal(after.mode, "one-league");
    assert.equal(after.believable.length, 0);
    assert.equal(after.normal.length, 7);
    const offline = drawLeagues({ epoch: 0, seed: seed(5), members, accounts, policy, online: members.slice(1) });
    assert.equal(offline.mode, "one-league");
    // The normal league keeps normalLeagueSize members: 5 validators leave room for 1 believable.
    const small = drawLeagues({ epoch: 0, seed: seed(5), members: members.slice(0, 5), accounts, policy });
    assert.equal(small.mode, "one-league");
  });

  it("suspends a seat and gives it back in its draw order; a slashed validator never returns", () => {
    const accounts = ledgerOf(KEYS.slice(0, 10).map(() => 1000n));
    const members = KEYS.slice(0, 10);
    const drawn = drawLeagues({ epoch: 1, seed: seed(7), members, accounts, policy });
    const [a, b, c] = drawn.believable;
    const down = drawn.suspend(b!);
    assert.deepEqual(down.believable.map(hex), [a!, c!].map(hex));
    assert.deepEqual(down.suspended.map(hex), [hex(b!)]);
    assert.ok(down.isSuspended(b!) && !down.isBelievable(b!) && down.normal.some((k) => hex(k) === hex(b!)));
    assert.deepEqual(down.resume(b!).believable.map(hex), drawn.believable.map(hex), "back in its seat");
    const fallback = down.suspend(a!);
    assert.equal(fallback.mode, "one-league", "below the minimum of 2");
    assert.deepEqual(fallback.suspended.map(hex), [a!, b!].map(hex).sort((x, y) => drawn.believable.map(hex).indexOf(x) - drawn.believable.map(hex).indexOf(y)));
    assert.equal(fallback.resume(a!).mode, "two-league");
    const slashed = down.withoutValidator(b!);
    assert.equal(slashed.isSuspended(b!), false);
    assert.equal(slashed.resume(b!), slashed, "a slashed validator has no seat to take back");
    assert.equal(drawn.suspend(drawn.normal[0]!), drawn, "only a seat is suspended");
    assert.equal(drawn.resume(a!), drawn, "only a suspended seat resumes");
  });

  it("keeps the epoch's committee, the normal league as drawn, through suspensions, slashings and the fallback", () => {
    const accounts = ledgerOf(KEYS.slice(0, 10).map(() => 1000n));
    const members = KEYS.slice(0, 10);
    const drawn = drawLeagues({ epoch: 1, seed: seed(7), members, accounts, policy });
    assert.deepEqual(drawn.committee.map(hex), drawn.normal.map(hex), "at the draw the committee is the normal league");
    const [a, b] = drawn.believable;
    const later = [drawn.suspend(b!), drawn.suspend(b!).suspend(a!), drawn.withoutValidator(a!), drawn.suspend(b!).withoutValidator(a!).resume(b!)];
    assert.ok(later.some((leagues) => leagues.normal.length !== drawn.normal.length), "the normal league itself changes");
    for (const leagues of later) assert.deepEqual(leagues.committee.map(hex), drawn.committee.map(hex));
    const fallback = drawLeagues({ epoch: 0, seed: seed(5), members: members.slice(0, 5), accounts, policy });
    assert.equal(fallback.mode, "one-league");
    assert.deepEqual(fallback.committee.map(hex), members.slice(0, 5).map(hex).sort(), "a draw that falls back gives every member a vote");
  });

  it("rejects bad input with codes", () => {
    const accounts = ledgerOf([1n]);
    assert.equal(code(() => drawLeagues({ epoch: 0, seed: new Uint8Array(31), members: [KEYS[0]!], accounts, policy })), "POB_BAD_SEED");
    assert.equal(code(() => drawLeagues({ epoch: 0, seed: seed(0), members: [], accounts, policy })), "POB_EMPTY_LEAGUE");
    assert.equal(code(() => drawLeagues({ epoch: 0, seed: seed(0), members: [KEYS[0]!, KEYS[0]!], accounts, policy })), "POB_DUPLICATE_VALIDATOR");
    assert.equal(code(() => drawLeagues({ epoch: 0, seed: seed(0), members: [KEYS[1]!], accounts, policy })), "POB_UNKNOWN_VALIDATOR");
    assert.equal(code(() => drawLeagues({ epoch: 0, seed: seed(0), members: [KEYS[0]!], accounts, policy: { ...policy, normalLeagueSize: MIN_NORMAL_LEAGUE - 1 } })), "POB_BAD_POLICY");
  });
});

describe("pob assignment", () => {
  const league = KEYS.slice(0, 4);
  // A transfer: version, kind, two u16 counts (6 bytes), then input 0 = outpoint ‖ owner.
  const SPENDER_OFFSET = 6 + OUTPOINT_BYTES;
  /** A two-input transfer whose first input is owned by ACCOUNTS[first]; `variant` changes its txid. */
  const transferFrom = (first: number, variant: number) => signedTransfer(
    [
      { txid: SeededRng.fromSeed(`spent ${first} ${variant}`).bytes(32), index: variant, owner: ACCOUNTS[first]!.publicKey },
      { txid: SeededRng.fromSeed(`other ${variant}`).bytes(32), index: 0, owner: ACCOUNTS[(first + 1 + variant) % ACCOUNTS.length]!.publicKey },
    ],
    [{ owner: ACCOUNTS[variant % ACCOUNTS.length]!.publicKey, amount: BigInt(variant + 1) }],
  );

  it("spenderOf is the first input's owner, read in place, and undefined for bytes too short to hold it", () => {
    const { bytes } = transferFrom(2, 0);
    const spender = spenderOf(bytes)!;
    assert.equal(hex(spender), hex(ACCOUNTS[2]!.publicKey));
    assert.equal(spender.buffer, bytes.buffer, "a view, not a copy");
    assert.equal(spender.byteOffset, bytes.byteOffset + SPENDER_OFFSET);
    bytes[SPENDER_OFFSET]! ^= 0xff;
    assert.equal(spender[0], bytes[SPENDER_OFFSET]);
    bytes[SPENDER_OFFSET]! ^= 0xff;
    assert.equal(hex(spenderOf(bytes.subarray(0, SPENDER_OFFSET + 32))!), hex(ACCOUNTS[2]!.publicKey));
    assert.equal(spenderOf(bytes.subarray(0, SPENDER_OFFSET + 31)), undefined);
    assert.equal(spenderOf(new Uint8Array(0)), undefined);
  });

  it("assigns every transaction of one spender to the same validator whatever its txid", () => {
    for (const first of ACCOUNTS.keys()) {
      const txs = Array.from({ length: 8 }, (_, variant) => transferFrom(first, variant));
      assert.equal(new Set(txs.map((t) => hex(t.txid))).size, txs.length, "distinct txids");
      const bySpender = new Set(txs.map((t) => assigneeIndex(spenderOf(t.bytes)!, league)));
      assert.deepEqual([...bySpender], [assigneeIndex(ACCOUNTS[first]!.publicKey, league)]);
      // Keyed by txid the same transactions would scatter: the check above is not vacuous.
      assert.ok(new Set(txs.map((t) => assigneeIndex(t.txid, league))).size > 1);
    }
  });

  it("spreads spenders evenly and moves only the removed validator's share", () => {
    const spenders = deriveTestAccounts("pob spenders", 1000).map((k) => k.publicKey);
    const counts = [0, 0, 0, 0];
    const before = spenders.map((key) => assigneeIndex(key, league));
    for (const i of before) counts[i]!++;
    const bound = binomialInterval(spenders.length, 0.25, 5);
    for (const c of counts) assert.ok(c >= bound.low && c <= bound.high, `share ${c}`);
    const smaller = [league[0]!, league[2]!, league[3]!];
    const moved = [0, 0, 0];
    spenders.forEach((key, k) => {
      const now = assigneeIndex(key, smaller);
      if (before[k] !== 1) assert.equal(hex(smaller[now]!), hex(league[before[k]!]!), "a surviving validator keeps its spenders");
      else moved[now]!++;
    });
    // The removed share spreads over the three others.
    const share = binomialInterval(counts[1]!, 1 / 3, 5);
    for (const c of moved) assert.ok(c >= share.low && c <= share.high, `moved ${c} of ${counts[1]}`);
  });

  it("rejects an empty league and a bad key", () => {
    assert.equal(code(() => assignee(KEYS[0]!, [])), "POB_EMPTY_LEAGUE");
    assert.equal(code(() => assignee(new Uint8Array(31), league)), "POB_BAD_ARGUMENT");
  });
});

describe("pob optimistic producer", () => {
  const AMOUNT = 1000n;
  const { genesis, accounts, validators } = makeTestGenesis({ seed: "pob offer", shardCount: 1, accounts: 16, amount: AMOUNT, validators: 3 });
  const gtx = genesisTxid(genesis);
  const league = validators.map((v) => v.publicKey);
  // The producer is the validator assigned the most accounts: at least ⌈16 / 3⌉ = 6 (pigeonhole).
  const shares = league.map((key) => accounts.filter((account) => hex(assignee(account.publicKey, league)) === hex(key)).length);
  const self = validators[shares.indexOf(Math.max(...shares))]!;
  const producerOver = () => {
    const state = new UtxoTable({ initialCapacityLog2: 6 });
    state.insertEntries(genesisEntries(genesis, 0));
    return new OptimisticProducer({ keyPair: self, shard: 0, shardCount: 1, epoch: 0, policy: DEFAULT_POLICY, league, state });
  };
  const isMine = (i: number) => hex(assignee(accounts[i]!.publicKey, league)) === hex(self.publicKey);
  const mine = accounts.flatMap((_, i) => (isMine(i) ? [i] : []));
  const foreign = accounts.flatMap((_, i) => (isMine(i) ? [] : [i]));
  const spend = (owner: number, inputs: { txid: Uint8Array; index: number }[], to: number, amount: bigint) => signedTransfer(
    inputs.map((input) => ({ ...input, owner: accounts[owner]!.publicKey })), [{ owner: accounts[to]!.publicKey, amount }], accounts,
  );
  const verdict = (result: OfferResult) => (result.accepted ? `accepted ${hex(result.txid)}` : result.code);

  it("offerVerified gives offer's verdicts for transactions whose structure and signatures were checked", () => {
    assert.ok(mine.length >= 3 && foreign.length >= 1, `${mine.length} of 16 spenders are this producer's`);
    const [a, b, c] = mine as [number, number, number];
    const valid = spend(a, [{ txid: gtx, index: a }], b, AMOUNT - 10n);
    const cases: [string, { bytes: Uint8Array; txid: Uint8Array }, string][] = [
      ["valid", valid, `accepted ${hex(valid.txid)}`],
      ["not assigned", spend(foreign[0]!, [{ txid: gtx, index: foreign[0]! }], a, AMOUNT), "POB_NOT_ASSIGNED"],
      ["double spend pending", spend(a, [{ txid: gtx, index: a }], c, AMOUNT - 20n), "POB_DOUBLE_SPEND_PENDING"],
      ["missing input", spend(b, [{ txid: gtx, index: accounts.length }], a, 1n), "MISSING_INPUT"],
      ["owner mismatch", spend(b, [{ txid: gtx, index: c }], a, 1n), "OWNER_MISMATCH"],
      ["insufficient funds", spend(c, [{ txid: gtx, index: c }], a, AMOUNT + 1n), "INSUFFICIENT_FUNDS"],
    ];
    // A pending output is spendable by its owner at the same producer: b's change from `valid`.
    const chained = spend(b, [{ txid: valid.txid, index: 0 }], c, AMOUNT - 30n);
    cases.push(["spends a pending output", chained, `accepted ${hex(chained.txid)}`]);

    const full = producerOver();
    const preverified = producerOver();
    for (const [name, tx, expected] of cases) {
      const checked = validateStateless(packTransactions([tx.bytes]), 0, 1);
      assert.equal(checked.rejections[0], null, name);
      const byOffer = verdict(full.offer(tx.bytes));
      const byOfferVerified = verdict(preverified.offerVerified(tx.bytes, checked.txids.slice(0, TXID_BYTES), checked.records));
      assert.equal(byOffer, expected, name);
      assert.equal(byOfferVerified, byOffer, name);
    }
    assert.equal(preverified.pending, 2);
    assert.equal(full.pending, 2);
    // Same queue, same key, same timestamp: both seal the identical block.
    assert.equal(hex(preverified.produce(1)!.bytes), hex(full.produce(1)!.bytes));
    assert.equal(full.isAssigned(new Uint8Array(4)), false, "bytes without a first input are nobody's");
  });

  it("holds a transaction's overlay entries until its block is final or it is drained, and releases only its own", () => {
    const [a, b, c, d] = mine as [number, number, number, number];
    const producer = producerOver();
    const offer = (tx: { bytes: Uint8Array }) => verdict(producer.offer(tx.bytes));
    const parent = spend(a, [{ txid: gtx, index: a }], b, AMOUNT - 10n);
    const child = spend(b, [{ txid: parent.txid, index: 0 }], c, AMOUNT - 20n);
    assert.equal(offer(parent), `accepted ${hex(parent.txid)}`);
    assert.equal(offer(child), `accepted ${hex(child.txid)}`);
    const first = producer.produce(1)!;
    // Sealed, not final: its spends and outputs still bind the view.
    assert.equal(offer(spend(a, [{ txid: gtx, index: a }], d, AMOUNT - 30n)), "POB_DOUBLE_SPEND_PENDING");
    assert.equal(offer(spend(b, [{ txid: parent.txid, index: 0 }], d, AMOUNT - 40n)), "POB_DOUBLE_SPEND_PENDING");
    const grandchild = spend(c, [{ txid: child.txid, index: 0 }], a, AMOUNT - 50n);
    const other = spend(d, [{ txid: gtx, index: d }], a, AMOUNT - 60n);
    assert.equal(offer(grandchild), `accepted ${hex(grandchild.txid)}`);
    assert.equal(offer(other), `accepted ${hex(other.txid)}`);
    // Draining hands on the unsealed ones and frees what they held, not what the sealed block holds.
    assert.deepEqual(producer.drain().map(hex), [grandchild, other].map((t) => hex(t.bytes)));
    assert.equal(producer.pending, 0);
    assert.equal(offer(other), `accepted ${hex(other.txid)}`, "the drained spend of d is free again");
    assert.equal(offer(grandchild), `accepted ${hex(grandchild.txid)}`, "the sealed child's output is still pending");
    assert.equal(offer(spend(a, [{ txid: gtx, index: a }], d, AMOUNT - 30n)), "POB_DOUBLE_SPEND_PENDING");
    const second = producer.produce(2)!;
    // The first block final (this test's final state does not move): its entries go, the second block's stay.
    producer.finalized(first.hash);
    producer.finalized(first.hash);
    assert.equal(offer(spend(b, [{ txid: parent.txid, index: 0 }], d, AMOUNT - 40n)), "MISSING_INPUT", "the parent's pending output is gone");
    assert.equal(offer(spend(c, [{ txid: child.txid, index: 0 }], d, AMOUNT - 70n)), "POB_DOUBLE_SPEND_PENDING", "the second block still spends the child's output");
    assert.equal(offer(spend(d, [{ txid: gtx, index: d }], c, AMOUNT - 80n)), "POB_DOUBLE_SPEND_PENDING");
    const again = spend(a, [{ txid: gtx, index: a }], d, AMOUNT - 30n);
    assert.equal(offer(again), `accepted ${hex(again.txid)}`, "the final state decides a's genesis output again");
    producer.finalized(second.hash);
    assert.equal(offer(spend(d, [{ txid: gtx, index: d }], c, AMOUNT - 80n)).startsWith("accepted"), true);
    assert.equal(producer.pending, 2);
  });
});

describe("pob sampling", () => {
  it("samples each txid with probability p, deterministically, and depends on the final randomness", () => {
    const block = SeededRng.fromSeed("block").bytes(32);
    const txids = Array.from({ length: 4000 }, (_, i) => SeededRng.fromSeed(`sampled ${i}`).bytes(32));
    const a = new Sampler(0.3, sampleSeed(SeededRng.fromSeed("r1").bytes(32), block));
    const b = new Sampler(0.3, sampleSeed(SeededRng.fromSeed("r1").bytes(32), block));
    const c = new Sampler(0.3, sampleSeed(SeededRng.fromSeed("r2").bytes(32), block));
    const sa = txids.map((t) => a.isSampled(t));
    assert.deepEqual(txids.map((t) => b.isSampled(t)), sa);
    const sc = txids.map((t) => c.isSampled(t));
    const count = sa.filter(Boolean).length;
    const bound = binomialInterval(txids.length, 0.3, 5);
    assert.ok(count >= bound.low && count <= bound.high, `sampled ${count}`);
    const agree = sa.filter((x, i) => x === sc[i]).length;
    // Independent samples agree with probability 0.3² + 0.7² = 0.58.
    const agreement = binomialInterval(txids.length, 0.58, 5);
    assert.ok(agree >= agreement.low && agree <= agreement.high, `agreement ${agree}`);
    const all = new Sampler(1, sampleSeed(new Uint8Array(32), block));
    assert.ok(txids.every((t) => all.isSampled(t)));
    assert.equal(samplingThreshold(1), 2 ** 32);
    assert.equal(code(() => samplingThreshold(-0.1)), "POB_BAD_PROBABILITY");
    assert.equal(code(() => sampleSeed(new Uint8Array(5), block)), "POB_BAD_SEED");
  });
});

describe("pob analysis", () => {
  it("computes (1 - p)^k and its consequences", () => {
    assert.equal(undetectedProbability(0.3, 0), 1);
    assert.ok(Math.abs(undetectedProbability(0.3, 2) - 0.49) < 1e-12);
    assert.ok(Math.abs(detectionProbability(0.3, 3) - 0.657) < 1e-12);
    assert.ok(Math.abs(expectedInvalidBeforeDetection(0.25) - 3) < 1e-12);
    const k = invalidForConfidence(0.3, 0.999);
    assert.ok(detectionProbability(0.3, k) >= 0.999 && detectionProbability(0.3, k - 1) < 0.999);
    assert.equal(invalidForConfidence(1, 0.5), 1);
    const interval = binomialInterval(200, 0.3, 5);
    assert.equal(interval.mean, 60);
    assert.ok(Math.abs(interval.sd - Math.sqrt(42)) < 1e-12);
    assert.equal(code(() => undetectedProbability(2, 1)), "POB_BAD_PROBABILITY");
    assert.equal(code(() => undetectedProbability(0.5, -1)), "POB_BAD_ARGUMENT");
    assert.equal(code(() => expectedInvalidBeforeDetection(0)), "POB_BAD_PROBABILITY");
  });
});

describe("pob evidence", () => {
  const { genesis, accounts, validators } = makeTestGenesis({ seed: "pob evidence", shardCount: 1, accounts: 4, amount: 1000n, validators: 2 });
  const gtx = genesisTxid(genesis);
  const producer = validators[0]!;
  const good = accounts.map((acct, i) => signedTransfer([{ txid: gtx, index: i, owner: acct.publicKey }], [{ owner: accounts[(i + 1) % 4]!.publicKey, amount: 900n }], accounts).bytes);
  const forged = Uint8Array.from(good[2]!);
  forged[forged.length - 1]! ^= 0x01;
  const txs = [good[0]!, good[1]!, forged, good[3]!];
  const { block } = buildOptimisticBlock({ shard: 0, epoch: 3, height: 0, prevHash: new Uint8Array(32), timestamp: 1 }, txs, producer);
  const verifier = new Ed25519Verifier();

  it("verifies offline for the offending transaction and survives encoding", () => {
    const evidence = makeEvidence(block, 2);
    const verdict = verifyEvidence(evidence, producer.publicKey, verifier);
    assert.equal(verdict.valid, true);
    assert.ok(verdict.valid && verdict.badInputs.length === 1 && verdict.badInputs[0] === 0);
    const decoded = decodeEvidence(encodeEvidence(evidence));
    assert.deepEqual(encodeEvidence(decoded), encodeEvidence(evidence));
    assert.equal(verifyEvidence(decoded, producer.publicKey).valid, true);
  });

  it("says why bad evidence fails", () => {
    const expect = (evidence: Parameters<typeof verifyEvidence>[0], key: Uint8Array, want: string) => {
      const verdict = verifyEvidence(evidence, key, verifier);
      assert.equal(verdict.valid, false);
      assert.ok(!verdict.valid && verdict.code === want, `${!verdict.valid ? verdict.code : "valid"} ≠ ${want}`);
    };
    expect(makeEvidence(block, 1), producer.publicKey, "POB_EVIDENCE_TX_VALID");
    expect(makeEvidence(block, 2), validators[1]!.publicKey, "POB_EVIDENCE_WRONG_PRODUCER");
    const evidence = makeEvidence(block, 2);
    const badSeal = Uint8Array.from(evidence.seal);
    badSeal[0]! ^= 1;
    expect({ ...evidence, seal: badSeal }, producer.publicKey, "POB_EVIDENCE_BAD_SEAL");
    expect({ ...evidence, proof: makeEvidence(block, 1).proof }, producer.publicKey, "POB_EVIDENCE_NOT_INCLUDED");
    expect({ ...evidence, header: { ...evidence.header, timestamp: 2 } }, producer.publicKey, "POB_EVIDENCE_BAD_SEAL");
    expect({ ...evidence, transaction: evidence.transaction.subarray(1) }, producer.publicKey, "POB_EVIDENCE_BAD_TX");
    expect({ ...evidence, header: { ...evidence.header, kind: 1 } }, producer.publicKey, "POB_EVIDENCE_NOT_OPTIMISTIC");
  });

  it("rejects malformed encodings with POB_BAD_EVIDENCE_ENCODING", () => {
    const bytes = encodeEvidence(makeEvidence(block, 2));
    assert.equal(code(() => decodeEvidence(bytes.subarray(0, 100))), "POB_BAD_EVIDENCE_ENCODING");
    assert.equal(code(() => decodeEvidence(Uint8Array.of(...bytes, 0))), "POB_BAD_EVIDENCE_ENCODING");
    const version = Uint8Array.from(bytes);
    version[0] = 9;
    assert.equal(code(() => decodeEvidence(version)), "POB_BAD_EVIDENCE_ENCODING");
    const length = Uint8Array.from(bytes);
    new DataView(length.buffer).setUint32(1 + HEADER_BYTES + 64, 1 << 30, true);
    assert.equal(code(() => decodeEvidence(length)), "POB_BAD_EVIDENCE_ENCODING");
    const kind = Uint8Array.from(bytes);
    kind[2] = 7;
    assert.equal(code(() => decodeEvidence(kind)), "POB_BAD_EVIDENCE_ENCODING");
  });

  it("refuses version 1 (a txid under the tx root) with POB_EVIDENCE_OBSOLETE", () => {
    const bytes = encodeEvidence(makeEvidence(block, 2));
    bytes[0] = 1;
    assert.equal(code(() => decodeEvidence(bytes)), "POB_EVIDENCE_OBSOLETE");
  });

  it("binds the transaction's bytes: a signature flipped in an honest block's transaction, with the honest path, is no evidence (POB_EVIDENCE_NOT_INCLUDED)", () => {
    // Every signature of `honest` is valid: its producer did nothing wrong. Flipping one keeps the txid (what version 1 placed) but not the leaf.
    const { block: honest } = buildOptimisticBlock({ shard: 0, epoch: 3, height: 2, prevHash: block.hash, timestamp: 3 }, good, producer);
    const flipped = Uint8Array.from(honest.transactions[2]!);
    flipped[flipped.length - 1]! ^= 0x01;
    const forgery = { ...makeEvidence(honest, 2), transaction: flipped };
    const verdict = verifyEvidence(forgery, producer.publicKey, verifier);
    assert.ok(!verdict.valid && verdict.code === "POB_EVIDENCE_NOT_INCLUDED", JSON.stringify(verdict));
    assert.ok(verifyEvidence(decodeEvidence(encodeEvidence(forgery)), producer.publicKey, verifier).valid === false);
  });

  it("every flipped byte of an encoded evidence fails with a code: it does not decode, or it does not verify", () => {
    const bytes = encodeEvidence(makeEvidence(block, 2));
    assert.equal(verifyEvidence(decodeEvidence(bytes), producer.publicKey, verifier).valid, true);
    const codes = new Map<string, number>();
    for (let i = 0; i < bytes.length; i++) {
      const flipped = Uint8Array.from(bytes);
      flipped[i]! ^= 0x01;
      let got: string;
      try {
        const verdict = verifyEvidence(decodeEvidence(flipped), producer.publicKey, verifier);
        got = verdict.valid ? "valid" : verdict.code;
      } catch (error) {
        assert.ok(error instanceof IosError, `byte ${i}: ${String(error)}`);
        got = error.code;
      }
      assert.notEqual(got, "valid", `byte ${i} flipped still verifies`);
      codes.set(got, (codes.get(got) ?? 0) + 1);
    }
    // The header and seal fail the seal, the transaction and its path the placement under the body root.
    assert.ok(["POB_EVIDENCE_BAD_SEAL", "POB_EVIDENCE_NOT_INCLUDED", "POB_BAD_EVIDENCE_ENCODING"].every((want) => codes.has(want)), JSON.stringify([...codes]));
  });

  it("an optimistic confirmation verifies with the producer's key alone", () => {
    const inclusion = makeInclusion(decodeBlock(buildOptimisticBlock({ shard: 0, epoch: 3, height: 1, prevHash: block.hash, timestamp: 2 }, good, producer).bytes), 3);
    const txid = block.txids.slice(3 * 32, 4 * 32);
    assert.equal(verifyInclusion(inclusion, txid, producer.publicKey).length, 32);
    assert.equal(code(() => verifyInclusion(inclusion, block.txids.slice(0, 32), producer.publicKey)), "POB_EVIDENCE_NOT_INCLUDED");
    assert.equal(code(() => verifyInclusion(inclusion, txid, validators[1]!.publicKey)), "POB_EVIDENCE_WRONG_PRODUCER");
  });
});

describe("pob proposal codec", () => {
  const base = { epoch: 4, height: 9, timestamp: 1_700_000_000_000, prevHash: new Uint8Array(32).fill(7), proposer: KEYS[0]!, suspend: [], resume: [] };
  it("round-trips both modes and rejects malformed encodings", () => {
    const shares = [{ member: 0, proof: new Uint8Array(80).fill(3) }, { member: 2, proof: new Uint8Array(80).fill(4) }];
    const two: FinalProposal = { ...base, mode: "two-league", blocks: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)], transactions: [], shares, stateCommitment: new Uint8Array(32).fill(9) };
    assert.deepEqual(decodeProposal(encodeProposal(two)), two);
    const tx = signedTransfer([{ txid: new Uint8Array(32), index: 0, owner: deriveTestAccounts("ledger tests", 1)[0]!.publicKey }], [{ owner: KEYS[1]!, amount: 5n }]).bytes;
    const one: FinalProposal = { ...base, mode: "one-league", blocks: [], transactions: [tx], shares: [], stateCommitment: new Uint8Array(32).fill(8) };
    assert.deepEqual(decodeProposal(encodeProposal(one)), one);
    // The core excludes the shares and the commitment: they are fixed after it.
    const bare: FinalProposal = { ...two, shares: [], stateCommitment: new Uint8Array(32) };
    const withChanges: FinalProposal = { ...two, suspend: [KEYS[1]!], resume: [KEYS[2]!, KEYS[3]!] };
    assert.deepEqual(decodeProposal(encodeProposal(withChanges)), withChanges);
    assert.notDeepEqual(proposalCoreHash(withChanges), proposalCoreHash(two), "suspensions belong to the core");
    assert.deepEqual(proposalCoreHash(two), proposalCoreHash(bare));
    assert.notDeepEqual(proposalCoreHash(two), proposalCoreHash({ ...two, blocks: two.blocks.slice(1) }));
    const bytes = encodeProposal(two);
    assert.equal(code(() => decodeProposal(bytes.subarray(0, bytes.length - 1))), "POB_BAD_PROPOSAL");
    assert.equal(code(() => decodeProposal(Uint8Array.of(...bytes, 0))), "POB_BAD_PROPOSAL");
    const mode = Uint8Array.from(bytes);
    mode[1] = 2;
    assert.equal(code(() => decodeProposal(mode)), "POB_BAD_PROPOSAL");
    const version = Uint8Array.from(bytes);
    version[0] = 1;
    assert.equal(code(() => decodeProposal(version)), "POB_BAD_PROPOSAL");
    assert.equal(code(() => decodeProposal(encodeProposal(one).subarray(0, 90))), "POB_BAD_PROPOSAL");
    assert.equal(code(() => encodeProposal({ ...two, stateCommitment: new Uint8Array(31) })), "POB_BAD_PROPOSAL");
    assert.equal(code(() => encodeProposal({ ...two, shares: [{ member: 0, proof: new Uint8Array(79) }] })), "POB_BAD_PROPOSAL");
    assert.equal(code(() => encodeProposal({ ...two, transactions: [tx] })), "POB_BAD_PROPOSAL");
  });

  it("carries a TransEpoch swap-in in the core, absent as a zero length, and refuses an empty or oversized one", () => {
    const two: FinalProposal = { ...base, mode: "two-league", blocks: [new Uint8Array(32).fill(1)], transactions: [], shares: [], stateCommitment: new Uint8Array(32).fill(9) };
    const swapIn = Uint8Array.of(0);
    const swapping: FinalProposal = { ...two, swapIn };
    assert.deepEqual(decodeProposal(encodeProposal(swapping)), swapping);
    assert.equal(decodeProposal(encodeProposal(two)).swapIn, undefined, "no swap-in: none decoded");
    assert.equal(encodeProposal(swapping).length, encodeProposal(two).length + 1);
    assert.notDeepEqual(proposalCoreHash(swapping), proposalCoreHash(two), "the swap-in belongs to the core");
    assert.equal(code(() => encodeProposal({ ...two, swapIn: new Uint8Array(0) })), "POB_BAD_PROPOSAL", "an empty swap-in would read back as none");
    assert.equal(code(() => encodeProposal({ ...two, swapIn: new Uint8Array(MAX_SWAP_IN_BYTES + 1) })), "POB_BAD_PROPOSAL");
    // The u16 length sits just before the shares' count: a length over the bound is refused.
    const bytes = encodeProposal(swapping);
    const lengthAt = bytes.length - 32 - 2 - 1 - 2;
    assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getUint16(lengthAt, true), 1);
    const oversized = Uint8Array.from(bytes);
    new DataView(oversized.buffer).setUint16(lengthAt, MAX_SWAP_IN_BYTES + 1, true);
    assert.equal(code(() => decodeProposal(oversized)), "POB_BAD_PROPOSAL");
  });

  it("hashes a proposal by its body digest and state commitment (what a decision proof carries), and any bytes a leader sends", () => {
    const two: FinalProposal = { ...base, mode: "two-league", blocks: [new Uint8Array(32).fill(1)], transactions: [], shares: [], stateCommitment: new Uint8Array(32).fill(9) };
    const bytes = encodeProposal(two);
    assert.deepEqual(proposalHash(bytes), proposalHashOfParts(sha256(bytes.subarray(0, bytes.length - 32)), two.stateCommitment));
    assert.deepEqual(proposalBodyDigest(bytes), sha256(bytes.subarray(0, bytes.length - 32)));
    assert.notDeepEqual(proposalHash(bytes), sha256(bytes), "not the plain hash of the bytes");
    const other = encodeProposal({ ...two, stateCommitment: new Uint8Array(32).fill(8) });
    assert.notDeepEqual(proposalHash(other), proposalHash(bytes), "the commitment is bound");
    for (const length of [0, 1, 31]) assert.equal(proposalHash(new Uint8Array(length)).length, 32, `${length} bytes hash without an exception`);
    assert.equal(code(() => proposalHashOfParts(new Uint8Array(31), two.stateCommitment)), "POB_BAD_ARGUMENT");
  });
});
