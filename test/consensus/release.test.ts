/**
 * Bond release (src/ledger/kinds/registration.ts, operation release) through a shard's real
 * execution (src/consensus/pob/finalization.ts) and UTXO kernel: a validator whose leave was final
 * in epoch 0 is a departure of epoch 1 with release epoch 2. Its release is refused before then
 * (TX_RELEASE_TOO_EARLY), as is a release of a serving validator's bond (TX_RELEASE_NOT_DEPARTED),
 * one signed by another key (TX_RELEASE_WRONG_KEY) or paying another owner than the leave named
 * (TX_RELEASE_WRONG_PAYOUT); from epoch 2 it is final, the payout holds the bond, and a second
 * release is BOND_GONE.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BelievabilityLedger } from "../../src/consensus/pob/believability.js";
import { PobValidator, type FinalOutcome } from "../../src/consensus/pob/finalization.js";
import { drawLeagues } from "../../src/consensus/pob/leagues.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import type { ProposalCore } from "../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import type { Departure } from "../../src/epoch/interface.js";
import { toHex } from "../../src/hex.js";
import { genesisEntries, makeTestGenesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signRelease } from "../../src/ledger/kinds/registration.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { UtxoTable } from "../../src/ledger/utxo-table.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { MemoryFinalChain } from "./final-chain.js";

/** Three members cannot spare a believable seat next to a normal league of 3: the shard runs one league, the leader's transactions in full. */
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 2048 };
const STAKE = 10_000n;
const verifier = new Ed25519Verifier();

function setup(seed: string, withDepartures = true) {
  const { genesis, validators, accounts } = makeTestGenesis({ seed, shardCount: 1, accounts: 2, amount: 1_000_000n, validators: 4, stake: STAKE });
  const genesisContext = genesisEpochContext(genesis);
  const [leaver, ...staying] = validators as [KeyPair, ...KeyPair[]];
  const payout = accounts[0]!.publicKey;
  const departure: Departure = { validator: leaver.publicKey, bond: genesisContext.bondOf(leaver.publicKey)!.outpoint, payout, releaseEpoch: 2 };
  const departures = new Map(withDepartures ? [[toHex(departure.bond), departure]] : []);
  const utxo = new UtxoTable({ initialCapacityLog2: 8 });
  utxo.insertEntries(genesisEntries(genesis, 0));
  utxo.insertEntries(genesisContext.bondEntries(0));
  const members = staying.map((k) => k.publicKey);
  const rng = SeededRng.fromSeed(seed);
  const accountsLedger = new BelievabilityLedger(members.map((publicKey) => ({ publicKey, stake: STAKE, servi: 0, reputation: 500 })), 1);
  const leaguesOf = (epoch: number) => drawLeagues({ epoch, seed: rng.bytes(32), members, accounts: accountsLedger, policy: POLICY });
  const validator = new PobValidator({
    shard: 0, shardCount: 1, utxo, accounts: accountsLedger, leagues: leaguesOf(1), chain: new MemoryFinalChain(genesis),
    bondOf: (publicKey) => genesisContext.bondOf(publicKey), departureOf: (bond) => departures.get(toHex(bond)), verifier,
  });
  let timestamp = 1_700_000_000_000;
  /** One final height of `txs`; each transaction's verdict: "final" or its exclusion code. */
  const finalize = (txs: readonly Uint8Array[]): string[] => {
    const leagues = validator.leagues;
    assert.equal(leagues.mode, "one-league");
    const core: ProposalCore = {
      mode: "one-league", epoch: leagues.epoch, height: validator.height + 1, timestamp: (timestamp += 1000), prevHash: validator.previousProposal,
      proposer: leagues.committee[0]!, blocks: [], transactions: txs, suspend: [], resume: [],
    };
    const outcome: FinalOutcome = validator.applyFinal(core, () => undefined, rng.bytes(32));
    const included = new Set(Array.from({ length: outcome.included.length / 32 }, (_, i) => toHex(outcome.included.subarray(i * 32, i * 32 + 32))));
    return txs.map((tx) => {
      const txid = toHex(transactionIdOfEncoding(tx));
      return included.has(txid) ? "final" : outcome.excluded.find((e) => toHex(e.txid) === txid)!.code;
    });
  };
  /** The kernel's permits as the epoch's context gives them (EpochContext `releasable()`: release epoch reached). */
  const permit = (epoch: number) => utxo.setReleases([...departures.values()].filter((d) => d.releaseEpoch <= epoch));
  permit(1);
  const nextEpoch = (epoch: number) => {
    accountsLedger.beginEpoch(epoch);
    validator.beginEpoch(leaguesOf(epoch));
    permit(epoch);
  };
  const release = (bond: Uint8Array, signer: KeyPair, options: { amount?: bigint; payout?: Uint8Array } = {}) => registrationKind.encode(signRelease({
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Release, validator: signer.publicKey, bond, amount: options.amount ?? STAKE, payout: options.payout ?? payout,
  }, signer).transaction);
  return { genesisContext, leaver, staying, payout, departure, utxo, finalize, nextEpoch, release, accounts };
}

describe("bond release through the shard's execution", () => {
  it("is refused before the release epoch, for a serving validator, under another key or to another payout; accepted from the release epoch, once", () => {
    const { genesisContext, leaver, staying, departure, utxo, finalize, nextEpoch, release, accounts } = setup("release/rule");
    const own = release(departure.bond, leaver);
    const serving = release(genesisContext.bondOf(staying[0]!.publicKey)!.outpoint, staying[0]!);
    const stolen = release(departure.bond, staying[0]!);
    assert.deepEqual(finalize([own, serving, stolen]), ["TX_RELEASE_TOO_EARLY", "TX_RELEASE_NOT_DEPARTED", "TX_RELEASE_WRONG_KEY"], "epoch 1: the leaver's first epoch out");
    assert.ok(utxo.has(departure.bond.subarray(0, 32), new DataView(departure.bond.buffer, departure.bond.byteOffset).getUint32(32, true)), "the bond stays through epoch 1");

    nextEpoch(2);
    const elsewhere = release(departure.bond, leaver, { payout: accounts[1]!.publicKey });
    assert.deepEqual(finalize([elsewhere, stolen, serving]), ["TX_RELEASE_WRONG_PAYOUT", "TX_RELEASE_WRONG_KEY", "TX_RELEASE_NOT_DEPARTED"]);
    const supply = utxo.supply;
    assert.deepEqual(finalize([own]), ["final"], "epoch 2: released");
    assert.deepEqual(utxo.get(transactionIdOfEncoding(own), 0), { owner: departure.payout, amount: STAKE }, "the leave's payout holds the bond");
    assert.equal(utxo.supply, supply, "nothing burned");
    assert.deepEqual(finalize([release(departure.bond, leaver, { amount: STAKE - 1n })]), ["BOND_GONE"], "released already");
  });

  it("a shard whose context lists no departure refuses every release (TX_RELEASE_NOT_DEPARTED)", () => {
    const { leaver, departure, finalize, nextEpoch, release } = setup("release/none", false);
    nextEpoch(2);
    assert.deepEqual(finalize([release(departure.bond, leaver)]), ["TX_RELEASE_NOT_DEPARTED"]);
  });

  it("the kernel holds the rule on its own: a release the execution would admit but the epoch's permits do not name is NOT_RELEASABLE", () => {
    const { leaver, departure, utxo, finalize, nextEpoch, release } = setup("release/kernel");
    nextEpoch(2);
    utxo.setReleases([]);
    assert.deepEqual(finalize([release(departure.bond, leaver)]), ["NOT_RELEASABLE"]);
  });
});
