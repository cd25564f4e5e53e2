// Proof-of-Believability end to end (white paper §7.2) with real Ed25519 signatures, real WASM
// UTXO tables per validator and seeded randomness. Phase 2 is composed here with a deterministic
// single-leader finalizer (leader = normal-league member height mod n; the final randomness is
// drawn from the seeded stream after the optimistic blocks are signed): the normal league's BFT
// (src/consensus/bft) decides the same proposals in the node; this file tests what every
// validator does with a decided proposal.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { genesisEntries, genesisTxid, makeTestGenesis, type Genesis } from "../../src/ledger/genesis.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { MemoryFinalChain } from "./final-chain.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction, transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import { UtxoTable } from "../../src/ledger/utxo-table.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { binomialInterval, detectionProbability } from "../../src/consensus/pob/analysis.js";
import { assignee, assigneeIndex, spenderOf } from "../../src/consensus/pob/assignment.js";
import { BelievabilityLedger, REPUTATION_INITIAL } from "../../src/consensus/pob/believability.js";
import { decodeEvidence, encodeEvidence, verifyEvidence, verifyInclusion } from "../../src/consensus/pob/evidence.js";
import { verifySlashing } from "../../src/consensus/pob/slashing.js";
import { slashingKind } from "../../src/ledger/kinds/slashing.js";
import { readU32 } from "../../src/codec/binary.js";
import { PobValidator, type FinalOutcome } from "../../src/consensus/pob/finalization.js";
import { drawLeagues, type Leagues } from "../../src/consensus/pob/leagues.js";
import { OptimisticProducer, buildOptimisticBlock, type OptimisticConfirmation } from "../../src/consensus/pob/optimistic.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { encodeProposal, type FinalProposal } from "../../src/consensus/pob/proposal.js";
import { Sampler, sampleSeed } from "../../src/consensus/pob/sampling.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const POLICY: ShardingPolicy = {
  believableLeagueSize: 3, normalLeagueSize: 4, samplingProbability: 0.3, minBelievableSize: 2, optimisticIntervalMs: 20, maxOptimisticBlockTxs: 64,
};
/** One verifier for every replica: it holds no per-validator state beyond a key cache. */
const VERIFIER = new Ed25519Verifier();
const AMOUNT = 1_000_000n;

interface Replica {
  readonly key: KeyPair;
  readonly utxo: UtxoTable;
  readonly chain: MemoryFinalChain;
  readonly accounts: BelievabilityLedger;
  validator: PobValidator | undefined;
}

interface RoundResult {
  readonly outcomes: FinalOutcome[];
  readonly proposal: FinalProposal;
  readonly confirmations: OptimisticConfirmation[];
  readonly randomness: Uint8Array;
}

/** A shard of `validators` validators; the first `replicas` of them keep a full replica. */
class TestShard {
  readonly genesis: Genesis;
  readonly accounts: KeyPair[];
  readonly validators: KeyPair[];
  readonly replicas: Replica[];
  readonly gtx: Uint8Array;
  readonly rng: SeededRng;
  readonly producers = new Map<string, OptimisticProducer>();
  readonly bodies = new Map<string, Uint8Array>();
  private mempool: Uint8Array[] = [];
  /** Genesis outputs already handed out (output i belongs to account i). */
  private readonly used = new Set<number>();
  private timestamp = 1_700_000_000_000;

  constructor(seed: string, options: { validators: number; replicas: number; accounts: number; policy?: ShardingPolicy }) {
    const made = makeTestGenesis({ seed, shardCount: 1, accounts: options.accounts, amount: AMOUNT, validators: options.validators, stake: 10_000n });
    this.genesis = made.genesis;
    this.accounts = made.accounts;
    this.validators = made.validators;
    this.gtx = genesisTxid(this.genesis);
    this.rng = SeededRng.fromSeed(seed);
    this.replicas = this.validators.slice(0, options.replicas).map((key) => {
      const utxo = new UtxoTable({ initialCapacityLog2: 8 });
      // The tests' genesis has no policy (each test brings its own): the bonds go in by hand.
      utxo.insertEntries(genesisEntries(this.genesis, 0));
      utxo.insertEntries(genesisEpochContext(this.genesis).bondEntries(0));
      return { key, utxo, chain: new MemoryFinalChain(this.genesis), accounts: BelievabilityLedger.fromGenesis(this.genesis.validators), validator: undefined };
    });
    this.policy = options.policy ?? POLICY;
  }

  readonly policy: ShardingPolicy;

  get leagues(): Leagues {
    return this.replicas[0]!.validator!.leagues;
  }

  keyPairOf(publicKey: Uint8Array): KeyPair {
    return this.validators.find((v) => hex(v.publicKey) === hex(publicKey))!;
  }

  /** Epoch randomness (the genesis seed stands in for DRP), the leagues, the producers. */
  startEpoch(epoch: number, online?: readonly Uint8Array[]): Leagues {
    const seed = this.rng.bytes(32);
    for (const replica of this.replicas) {
      if (replica.validator !== undefined) replica.accounts.beginEpoch(epoch);
      const leagues = drawLeagues({
        epoch, seed, members: this.validators.map((v) => v.publicKey), accounts: replica.accounts, policy: this.policy, ...(online === undefined ? {} : { online }),
      });
      if (replica.validator === undefined) {
        const context = genesisEpochContext(this.genesis);
        replica.validator = new PobValidator({
          shard: 0, shardCount: 1, utxo: replica.utxo, accounts: replica.accounts, leagues, chain: replica.chain, bondOf: (key) => context.bondOf(key), verifier: VERIFIER,
        });
      } else {
        replica.validator.beginEpoch(leagues);
      }
    }
    this.producers.clear();
    this.mempool = [];
    const leagues = this.leagues;
    for (const member of leagues.believable) {
      // A believable validator's view is its own replica when it keeps one, else replica 0's state.
      const own = this.replicas.find((r) => hex(r.key.publicKey) === hex(member)) ?? this.replicas[0]!;
      this.producers.set(hex(member), new OptimisticProducer({
        keyPair: this.keyPairOf(member), shard: 0, shardCount: 1, epoch, policy: this.policy, league: leagues.believable, state: own.utxo, verifier: VERIFIER,
      }));
    }
    return leagues;
  }

  /** The next genesis output not handed out yet. */
  takeOutput(): number {
    return this.claim(this.accounts.findIndex((_, index) => !this.used.has(index)), "no genesis output left");
  }

  /**
   * The next genesis output not handed out yet whose owner is assigned to `producer` in `league`:
   * a transfer of it, its owner being the spender, is that producer's (assignment.ts).
   */
  outputAssignedTo(producer: Uint8Array, league: readonly Uint8Array[] = this.leagues.believable): number {
    const index = this.accounts.findIndex((account, i) => !this.used.has(i) && hex(assignee(account.publicKey, league)) === hex(producer));
    return this.claim(index, `no genesis output left assigned to ${hex(producer)}: raise accounts`);
  }

  /**
   * The believable validator assigned the most genesis outputs not handed out yet (first in
   * league order on a tie). With n outputs over b validators it holds at least ⌈n / b⌉.
   */
  busiestProducer(): Uint8Array {
    const believable = this.leagues.believable;
    const counts = believable.map(() => 0);
    this.accounts.forEach((account, i) => {
      if (!this.used.has(i)) counts[assigneeIndex(account.publicKey, believable)]! += 1;
    });
    return believable[counts.indexOf(Math.max(...counts))]!;
  }

  private claim(index: number, exhausted: string): number {
    assert.ok(index >= 0, exhausted);
    this.used.add(index);
    return index;
  }

  /**
   * A transfer of genesis outputs `inputs`, signed by their owners, to the account after the first
   * input's, all but `fee` (a different fee, a different txid). The first input's owner is the
   * spender and so picks the producer. `forge` corrupts the last signature.
   */
  transfer(inputs: number | readonly number[], options: { forge?: boolean; fee?: number } = {}): { bytes: Uint8Array; txid: Uint8Array; inputs: readonly number[] } {
    const indexes = typeof inputs === "number" ? [inputs] : inputs;
    const owners = indexes.map((index) => this.accounts[index]!);
    const recipient = this.accounts[(indexes[0]! + 1) % this.accounts.length]!;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer,
      inputs: indexes.map((index, k) => ({ txid: this.gtx, index, owner: owners[k]!.publicKey })),
      outputs: [{ owner: recipient.publicKey, amount: AMOUNT * BigInt(indexes.length) - BigInt(options.fee ?? 1) }],
    }, owners);
    const bytes = encodeTransaction(transaction);
    if (options.forge === true) bytes[bytes.length - 64]! ^= 0x40;
    return { bytes, txid, inputs: indexes };
  }

  /** The believable validator a transaction belongs to: its spender's assignee. */
  producerOf(tx: Uint8Array, league: readonly Uint8Array[] = this.leagues.believable): Uint8Array {
    const spender = spenderOf(tx);
    assert.ok(spender !== undefined, "a submitted transaction has a first input");
    return assignee(spender, league);
  }

  /** Client submission: to the assigned believable validator, or to the mempool in one-league mode. */
  submit(tx: Uint8Array): ReturnType<OptimisticProducer["offer"]> | { accepted: true; txid: Uint8Array } {
    if (this.leagues.mode === "one-league") {
      this.mempool.push(tx);
      return { accepted: true, txid: transactionIdOfEncoding(tx) };
    }
    return this.producers.get(hex(this.producerOf(tx)))!.offer(tx);
  }

  /** A block signed by `producer` holding exactly `transactions` (a cheater skips validation). */
  injectBlock(producer: Uint8Array, transactions: readonly Uint8Array[], height: number): Uint8Array {
    const { bytes, block } = buildOptimisticBlock({ shard: 0, epoch: this.leagues.epoch, height, prevHash: new Uint8Array(32), timestamp: this.timestamp }, transactions, this.keyPairOf(producer));
    this.bodies.set(hex(block.hash), bytes);
    return block.hash;
  }

  /**
   * One interval: every producer seals its queue; the leader orders `before` (injected blocks),
   * then the producers' blocks in league order; the final randomness is drawn afterwards (or
   * chosen by `randomness`, standing for a prepare certificate the test wants); every replica
   * applies the decided proposal.
   */
  round(options: { before?: Uint8Array[]; after?: Uint8Array[]; randomness?: (hashes: Uint8Array[]) => Uint8Array } = {}): RoundResult {
    this.timestamp += this.policy.optimisticIntervalMs;
    const leagues = this.leagues;
    const hashes: Uint8Array[] = [...(options.before ?? [])];
    const confirmations: OptimisticConfirmation[] = [];
    for (const member of leagues.believable) {
      const block = this.producers.get(hex(member))?.produce(this.timestamp);
      if (block === undefined) continue;
      this.bodies.set(hex(block.hash), block.bytes);
      hashes.push(block.hash);
      confirmations.push(...block.confirmations);
    }
    hashes.push(...(options.after ?? []));
    const validator = this.replicas[0]!.validator!;
    const height = validator.height + 1;
    const decided = { timestamp: this.timestamp, suspend: [], resume: [], shares: [], stateCommitment: new Uint8Array(32) };
    const proposal: FinalProposal = leagues.mode === "two-league"
      ? { mode: "two-league", epoch: leagues.epoch, height, prevHash: validator.previousProposal, proposer: leagues.normal[height % leagues.normal.length]!, blocks: hashes, transactions: [], ...decided }
      : { mode: "one-league", epoch: leagues.epoch, height, prevHash: validator.previousProposal, proposer: leagues.normal[height % leagues.normal.length]!, blocks: [], transactions: this.mempool.splice(0), ...decided };
    for (const replica of this.replicas) replica.validator!.checkProposal(encodeProposal(proposal));
    const randomness = options.randomness?.(hashes) ?? this.rng.bytes(32);
    const outcomes = this.replicas.map((r) => {
      const outcome = r.validator!.applyFinal(proposal, (h) => this.bodies.get(hex(h)), randomness);
      r.chain.record(outcome);
      return outcome;
    });
    for (const producer of this.producers.values()) for (const h of hashes) producer.finalized(h);
    const after = this.leagues;
    for (const [key, producer] of this.producers) {
      if (!after.isBelievable(producer.publicKey)) this.producers.delete(key);
      else producer.setLeague(after.believable);
    }
    return { outcomes, proposal, confirmations, randomness };
  }
}

const txidsOf = (outcome: FinalOutcome) => Array.from({ length: outcome.included.length / 32 }, (_, i) => hex(outcome.included.subarray(i * 32, i * 32 + 32)));
const sortedSnapshot = (utxo: UtxoTable) => {
  const packed = utxo.snapshot();
  return Array.from({ length: packed.length / 76 }, (_, i) => hex(packed.subarray(i * 76, i * 76 + 76))).sort();
};

/** Final randomness for which `txid` in block `blockHash` is (or is not) sampled. */
function randomnessWhere(rng: SeededRng, blockHash: Uint8Array, txid: Uint8Array, sampled: boolean, p: number): Uint8Array {
  for (;;) {
    const candidate = rng.bytes(32);
    if (new Sampler(p, sampleSeed(candidate, blockHash)).isSampled(txid) === sampled) return candidate;
  }
}

describe("pob protocol", () => {
  it("honest run: optimistic confirmations, then identical final chains on every validator", () => {
    const shard = new TestShard("pob honest", { validators: 9, replicas: 4, accounts: 40 });
    const leagues = shard.startEpoch(0);
    assert.equal(leagues.mode, "two-league");
    assert.equal(leagues.believable.length, 3);
    const submitted: string[] = [];
    let confirmed = 0;
    let final: RoundResult | undefined;
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 10; k++) {
        const { bytes, txid } = shard.transfer(shard.takeOutput());
        const offer = shard.submit(bytes);
        assert.equal(offer.accepted, true);
        submitted.push(hex(txid));
      }
      final = shard.round();
      // Every accepted transaction got a confirmation that verifies with the producer's key alone.
      for (const confirmation of final.confirmations) {
        verifyInclusion(confirmation, confirmation.txid, confirmation.header.producer, VERIFIER);
        confirmed++;
      }
      const tips = final.outcomes.map((o) => hex(o.tip));
      assert.equal(new Set(tips).size, 1, "all replicas reach the same tip");
      assert.deepEqual(final.outcomes[0]!.excluded, []);
      assert.equal(final.outcomes[0]!.slashed.length, 0);
      assert.deepEqual(txidsOf(final.outcomes[0]!).sort(), final.confirmations.map((c) => hex(c.txid)).sort());
      // Only the sample is re-verified: one seal per block plus one signature per sampled transfer.
      const verdicts = final.outcomes[0]!.blocks;
      assert.equal(final.outcomes[0]!.verifiedSignatures, verdicts.length + verdicts.reduce((n, b) => n + b.sampled, 0));
    }
    assert.equal(confirmed, submitted.length);
    const snapshots = shard.replicas.map((r) => sortedSnapshot(r.utxo).join());
    assert.equal(new Set(snapshots).size, 1, "every replica holds the same UTXO set");
    for (const replica of shard.replicas) assert.equal(replica.validator!.height, 3);
    // Servi: every normal member verified 3 final blocks; producers validated blocks, so theirs is cleared.
    const accounts = shard.replicas[0]!.accounts;
    for (const member of leagues.normal) assert.equal(accounts.get(member).servi, 3);
    for (const member of leagues.believable) {
      assert.equal(accounts.get(member).servi, 0);
      assert.ok(accounts.get(member).reputation > REPUTATION_INITIAL);
    }
  });

  it("a double spend split across two believable validators ends with exactly one winner", () => {
    // One owner's spends all meet at its assigned producer, which refuses the second (below). A
    // split needs two-input transfers: a = [x, y] and b = [z, y] both spend y, but their spenders
    // (owners of x and z) are assigned to different producers.
    const shard = new TestShard("pob double spend", { validators: 9, replicas: 3, accounts: 16 });
    const leagues = shard.startEpoch(0);
    const [first, second] = leagues.believable;
    const x = shard.outputAssignedTo(first!);
    const z = shard.outputAssignedTo(second!);
    const y = shard.takeOutput();
    const a = shard.transfer([x, y]);
    const b = shard.transfer([z, y]);
    assert.equal(hex(shard.producerOf(a.bytes)), hex(first!));
    assert.equal(hex(shard.producerOf(b.bytes)), hex(second!));
    // Each believable validator's view is consistent on its own: both are confirmed optimistically.
    assert.equal(shard.submit(a.bytes).accepted, true);
    assert.equal(shard.submit(b.bytes).accepted, true);
    // The same producer refuses a second spend of an outpoint it already holds pending, whether the
    // same owner spends x again or another of its spenders reuses y.
    const again = shard.transfer(x, { fee: 7 });
    const refused = shard.submit(again.bytes);
    assert.ok(!refused.accepted && refused.code === "POB_DOUBLE_SPEND_PENDING", JSON.stringify(refused));
    const x2 = shard.outputAssignedTo(first!);
    const reuse = shard.transfer([x2, y]);
    const refusedReuse = shard.submit(reuse.bytes);
    assert.ok(!refusedReuse.accepted && refusedReuse.code === "POB_DOUBLE_SPEND_PENDING", JSON.stringify(refusedReuse));
    const result = shard.round();
    assert.deepEqual(result.confirmations.map((c) => hex(c.txid)), [hex(a.txid), hex(b.txid)]);
    for (const outcome of result.outcomes) {
      const included = txidsOf(outcome);
      assert.deepEqual(included, [hex(a.txid)], "the first in final order wins");
      assert.equal(outcome.excluded.length, 1);
      assert.equal(hex(outcome.excluded[0]!.txid), hex(b.txid));
      assert.equal(outcome.excluded[0]!.code, "MISSING_INPUT");
      assert.equal(outcome.slashed.length, 0, "a stateful conflict is nobody's fraud");
    }
    for (const replica of shard.replicas) {
      assert.equal(replica.utxo.has(a.txid, 0), true);
      assert.equal(replica.utxo.has(b.txid, 0), false);
      assert.equal(replica.utxo.has(shard.gtx, x), false);
      assert.equal(replica.utxo.has(shard.gtx, y), false);
      assert.equal(replica.utxo.has(shard.gtx, z), true, "the loser is excluded whole: its other input stays unspent");
      assert.equal(replica.utxo.has(shard.gtx, x2), true);
    }
    // Reversing the final order reverses the winner.
    const other = new TestShard("pob double spend", { validators: 9, replicas: 1, accounts: 16 });
    other.startEpoch(0);
    const hashA = other.injectBlock(first!, [a.bytes], 0);
    const hashB = other.injectBlock(second!, [b.bytes], 0);
    const reversed = other.round({ before: [hashB, hashA] }).outcomes[0]!;
    assert.deepEqual(txidsOf(reversed), [hex(b.txid)]);
    assert.deepEqual(reversed.excluded.map((e) => [hex(e.txid), e.code]), [[hex(a.txid), "MISSING_INPUT"]]);
    const utxo = other.replicas[0]!.utxo;
    assert.deepEqual([utxo.has(b.txid, 0), utxo.has(other.gtx, z), utxo.has(other.gtx, y), utxo.has(other.gtx, x)], [true, false, false, true]);
  });

  it("a cheater slipping one invalid signature is caught at the rate p predicts (200 seeds, 5σ bound)", () => {
    // Each run: a fresh shard and epoch seed, one believable validator signs a block with two
    // valid transfers and one whose signature is forged; the final randomness comes afterwards.
    // Detections ~ Binomial(200, p = 0.3): mean 60, σ = √42 ≈ 6.48; we require 60 ± 5σ.
    const runs = 200;
    const p = POLICY.samplingProbability;
    let detected = 0;
    for (let seed = 0; seed < runs; seed++) {
      // 7 outputs over 3 believable validators: the busiest is assigned at least 3.
      const shard = new TestShard(`pob detection ${seed}`, { validators: 7, replicas: 1, accounts: 7 });
      shard.startEpoch(0);
      const cheater = shard.busiestProducer();
      const txs = [0, 1, 2].map((k) => shard.transfer(shard.outputAssignedTo(cheater), { forge: k === 1 }));
      const hash = shard.injectBlock(cheater, txs.map((t) => t.bytes), 0);
      const outcome = shard.round({ before: [hash] }).outcomes[0]!;
      const caught = outcome.slashed.length === 1;
      if (caught) {
        detected++;
        assert.equal(hex(outcome.slashed[0]!.publicKey), hex(cheater));
        assert.equal(verifyEvidence(outcome.evidence[0]!, cheater).valid, true);
        assert.ok(outcome.excluded.some((e) => hex(e.txid) === hex(txs[1]!.txid) && e.code === "POB_BAD_SIGNATURE"));
        assert.equal(outcome.slashings.length, 1);
        assert.deepEqual(txidsOf(outcome), [hex(txs[0]!.txid), hex(txs[2]!.txid), hex(outcome.slashings[0]!.txid)],
          "the valid transfers of the block still go through, the slashing last");
      } else {
        assert.equal(outcome.included.length / 32, 3, "undetected, the forged transfer is final (the risk p bounds)");
      }
    }
    const bound = binomialInterval(runs, detectionProbability(p, 1), 5);
    console.log(`pob detection, k = 1, p = ${p}: ${detected}/${runs} detected (expected ${bound.mean.toFixed(1)}, 5σ ${bound.low.toFixed(1)}..${bound.high.toFixed(1)})`);
    assert.ok(detected >= bound.low && detected <= bound.high, `detected ${detected} of ${runs}, expected ${bound.low.toFixed(1)}..${bound.high.toFixed(1)}`);
  });

  it("three invalid transactions in one block are caught with probability 1 - (1 - p)^3 (100 seeds, 5σ)", () => {
    const runs = 100;
    let detected = 0;
    for (let seed = 0; seed < runs; seed++) {
      const shard = new TestShard(`pob detection k3 ${seed}`, { validators: 7, replicas: 1, accounts: 7 });
      shard.startEpoch(0);
      const cheater = shard.busiestProducer();
      const txs = [0, 1, 2].map(() => shard.transfer(shard.outputAssignedTo(cheater), { forge: true }));
      const outcome = shard.round({ before: [shard.injectBlock(cheater, txs.map((t) => t.bytes), 0)] }).outcomes[0]!;
      if (outcome.slashed.length === 1) {
        detected++;
        // Once caught, the rest of the block is verified in full: no forged transfer survives; the slashing alone is final.
        assert.deepEqual(txidsOf(outcome), [hex(outcome.slashings[0]!.txid)]);
      }
    }
    const bound = binomialInterval(runs, detectionProbability(POLICY.samplingProbability, 3), 5);
    console.log(`pob detection, k = 3, p = ${POLICY.samplingProbability}: ${detected}/${runs} detected (expected ${bound.mean.toFixed(1)}, 5σ ${bound.low.toFixed(1)}..${bound.high.toFixed(1)})`);
    assert.ok(detected >= bound.low && detected <= bound.high, `detected ${detected} of ${runs}, expected ${bound.low.toFixed(1)}..${bound.high.toFixed(1)}`);
  });

  it("a caught cheater is slashed, its earlier blocks are re-checked and its share moves to the others", () => {
    const shard = new TestShard("pob slashing", { validators: 9, replicas: 3, accounts: 36 });
    const leagues = shard.startEpoch(0);
    const cheater = leagues.believable[0]!;
    const stakeBefore = shard.replicas[0]!.accounts.get(cheater).stake;
    // Round 1: a forged transfer that the final randomness does not sample: it becomes final.
    const early = shard.transfer(shard.outputAssignedTo(cheater), { forge: true });
    const earlyHonest = shard.transfer(shard.outputAssignedTo(cheater));
    const block1 = shard.injectBlock(cheater, [earlyHonest.bytes, early.bytes], 0);
    const round1 = shard.round({ before: [block1], randomness: () => randomnessWhere(shard.rng, block1, early.txid, false, POLICY.samplingProbability) });
    assert.deepEqual(txidsOf(round1.outcomes[0]!).sort(), [hex(early.txid), hex(earlyHonest.txid)].sort());
    assert.equal(round1.outcomes[0]!.slashed.length, 0);
    // Round 2: another forged transfer, sampled this time; a further block of the cheater follows.
    const late = shard.transfer(shard.outputAssignedTo(cheater), { forge: true });
    const lateHonest = shard.transfer(shard.outputAssignedTo(cheater));
    const block2 = shard.injectBlock(cheater, [lateHonest.bytes, late.bytes], 1);
    const block3 = shard.injectBlock(cheater, [shard.transfer(shard.outputAssignedTo(cheater)).bytes], 2);
    const supplyBefore = shard.replicas.map((r) => r.utxo.supply);
    const victim = shard.accounts[early.inputs[0]!]!.publicKey;
    const round2 = shard.round({ before: [block2], after: [block3], randomness: () => randomnessWhere(shard.rng, block2, late.txid, true, POLICY.samplingProbability) });
    for (const [r, outcome] of round2.outcomes.entries()) {
      assert.equal(outcome.slashed.length, 1);
      assert.equal(outcome.slashed[0]!.burned, stakeBefore);
      // The ledger fact: one slashing, last in the final block, spends the bond, repays the owner
      // whose output the early forgery took, and burns the rest.
      assert.equal(outcome.slashings.length, 1);
      const fact = outcome.slashings[0]!;
      assert.equal(txidsOf(outcome).at(-1), hex(fact.txid));
      const slashing = verifySlashing(fact.transaction, cheater);
      // The bond (10,000) is short of the loss (1,000,000): the one victim gets all of it, the rest stays unpaid.
      assert.ok(stakeBefore < AMOUNT);
      assert.deepEqual(slashing.compensations.map((c) => [hex(c.owner), c.amount]), [[hex(victim), stakeBefore]]);
      assert.deepEqual([fact.compensation.burned, fact.compensation.unpaid], [0n, AMOUNT - stakeBefore]);
      const utxo = shard.replicas[r]!.utxo;
      assert.deepEqual(utxo.get(fact.txid, 0), { owner: victim, amount: stakeBefore }, "the victim holds its compensation");
      const bond = genesisEpochContext(shard.genesis).bondOf(cheater)!;
      assert.equal(utxo.has(bond.outpoint.subarray(0, 32), readU32(bond.outpoint, 32)), false, "the bond is spent");
      // Transfers of this height burn their fees (1 per transfer); the slashing burns the rest of the bond.
      const fees = BigInt(txidsOf(outcome).length - 1);
      assert.equal(utxo.supply, supplyBefore[r]! - fees - fact.compensation.burned);
      assert.ok(outcome.excluded.some((e) => hex(e.txid) === hex(late.txid) && e.code === "POB_BAD_SIGNATURE"));
      assert.ok(txidsOf(outcome).includes(hex(lateHonest.txid)), "valid transfers of the offending block are kept");
      // The re-check of round 1 finds the forged transfer that slipped through (already final, reported).
      assert.equal(outcome.rechecked.length, 1);
      assert.equal(hex(outcome.rechecked[0]!.txid), hex(early.txid));
      assert.equal(hex(outcome.rechecked[0]!.block), hex(block1));
      assert.equal(outcome.rechecked[0]!.finalHeight, 1);
      const later = outcome.blocks.find((b) => hex(b.hash) === hex(block3))!;
      assert.equal(later.rejected, "POB_PRODUCER_SLASHED");
      const accounts = shard.replicas[r]!.accounts;
      assert.deepEqual([accounts.get(cheater).stake, accounts.get(cheater).reputation, accounts.get(cheater).servi], [0n, 0, 0]);
      assert.equal(accounts.isExcluded(cheater), true);
    }
    // Anyone verifies the evidence offline from its bytes and the cheater's key.
    const evidence = decodeEvidence(encodeEvidence(round2.outcomes[0]!.evidence[0]!));
    const verdict = verifyEvidence(evidence, cheater);
    assert.ok(verdict.valid && hex(verdict.txid) === hex(late.txid) && hex(verdict.blockHash) === hex(block2));
    assert.equal(new Set(round2.outcomes.map((o) => hex(o.tip))).size, 1);
    // The cheater is out of the believable league for the epoch; two remain, so the shard stays two-league.
    const after = shard.leagues;
    assert.equal(after.mode, "two-league");
    assert.equal(after.isBelievable(cheater), false);
    assert.equal(shard.producers.has(hex(cheater)), false);
    // Its share moves to the others; every other spender keeps its producer (rendezvous hashing).
    for (const account of shard.accounts) {
      const before = hex(assignee(account.publicKey, leagues.believable));
      if (before !== hex(cheater)) assert.equal(hex(assignee(account.publicKey, after.believable)), before);
    }
    // A transfer whose spender was the cheater's is accepted by another producer.
    const moved = shard.transfer(shard.outputAssignedTo(cheater, leagues.believable));
    const heir = shard.producerOf(moved.bytes);
    assert.notEqual(hex(heir), hex(cheater));
    const offer = shard.submit(moved.bytes);
    assert.equal(offer.accepted, true);
    const round3 = shard.round();
    assert.deepEqual(txidsOf(round3.outcomes[0]!), [hex(moved.txid)]);
    assert.equal(hex(round3.outcomes[0]!.blocks[0]!.producer!), hex(heir));
  });

  it("a slashing a producer seals itself is excluded (TX_NOT_SUBMITTABLE): no bond moves, no one is slashed", () => {
    const shard = new TestShard("pob forged slashing", { validators: 9, replicas: 3, accounts: 16 });
    const leagues = shard.startEpoch(0);
    const [cheater, target] = leagues.believable;
    const bond = genesisEpochContext(shard.genesis).bondOf(target!)!;
    // A byzantine producer's claim that `target` was caught, paying the target's bond to itself.
    const fake = slashingKind.encode({
      kind: TxKind.SlashingEvidence, epoch: 0, shard: 0, height: 1, offender: target!, bond: bond.outpoint, bondAmount: bond.amount,
      compensations: [{ owner: cheater!, amount: bond.amount }], evidence: new Uint8Array([1]),
    });
    const honest = shard.transfer(shard.outputAssignedTo(cheater!));
    const { outcomes } = shard.round({ before: [shard.injectBlock(cheater!, [honest.bytes, fake], 0)] });
    for (const [r, outcome] of outcomes.entries()) {
      assert.deepEqual(txidsOf(outcome), [hex(honest.txid)]);
      assert.deepEqual(outcome.excluded.map((e) => [hex(e.txid), e.code]), [[hex(transactionIdOfEncoding(fake)), "TX_NOT_SUBMITTABLE"]]);
      assert.deepEqual([outcome.slashed.length, outcome.slashings.length], [0, 0], "no one is slashed on a producer's say-so");
      assert.equal(shard.replicas[r]!.utxo.has(bond.outpoint.subarray(0, 32), readU32(bond.outpoint, 32)), true, "the bond stays");
    }
  });

  it("a slashing that leaves too few believable validators engages the fallback for the rest of the epoch", () => {
    const policy: ShardingPolicy = { ...POLICY, believableLeagueSize: 2, samplingProbability: 1 };
    const shard = new TestShard("pob fallback slash", { validators: 8, replicas: 2, accounts: 10, policy });
    const leagues = shard.startEpoch(0);
    assert.equal(leagues.mode, "two-league");
    const cheater = leagues.believable[0]!;
    const forged = shard.transfer(shard.outputAssignedTo(cheater), { forge: true });
    const result = shard.round({ before: [shard.injectBlock(cheater, [forged.bytes], 0)] });
    assert.equal(result.outcomes[0]!.slashed.length, 1);
    assert.equal(shard.leagues.mode, "one-league");
    for (const replica of shard.replicas) {
      assert.throws(() => replica.validator!.checkProposal(encodeProposal({ ...result.proposal, height: result.proposal.height + 1, prevHash: replica.validator!.previousProposal })),
        (error: Error & { code?: string }) => error.code === "POB_BAD_PROPOSAL");
    }
    // One league: the leader proposes from the mempool and every validator verifies every signature.
    const good = shard.transfer(shard.takeOutput());
    const bad = shard.transfer(shard.takeOutput(), { forge: true });
    shard.submit(good.bytes);
    shard.submit(bad.bytes);
    const fallback = shard.round();
    for (const outcome of fallback.outcomes) {
      assert.equal(outcome.mode, "one-league");
      assert.deepEqual(txidsOf(outcome), [hex(good.txid)]);
      assert.deepEqual(outcome.excluded.map((e) => [hex(e.txid), e.code]), [[hex(bad.txid), "POB_BAD_SIGNATURE"]]);
      assert.equal(outcome.verifiedSignatures, 2);
    }
  });

  it("the fallback engages and disengages with the believable league size across epochs", () => {
    const shard = new TestShard("pob fallback epochs", { validators: 9, replicas: 3, accounts: 20 });
    const members = shard.validators.map((v) => v.publicKey);
    const modes: string[] = [];
    const runEpoch = (epoch: number, online?: Uint8Array[]) => {
      const leagues = shard.startEpoch(epoch, online);
      modes.push(leagues.mode);
      const txs = [0, 1, 2].map(() => shard.transfer(shard.takeOutput()));
      for (const tx of txs) assert.equal(shard.submit(tx.bytes).accepted, true);
      const result = shard.round();
      for (const outcome of result.outcomes) {
        assert.equal(outcome.mode, leagues.mode);
        assert.deepEqual(txidsOf(outcome).sort(), txs.map((t) => hex(t.txid)).sort());
      }
      assert.equal(new Set(result.outcomes.map((o) => hex(o.tip))).size, 1);
      // One league verifies every signature; two leagues only a sample.
      if (leagues.mode === "one-league") assert.equal(result.outcomes[0]!.verifiedSignatures, 3);
      return leagues;
    };
    const e0 = runEpoch(0);
    assert.equal(e0.believable.length, 3);
    // Epoch 1: only 5 validators online; keeping 4 for the normal league leaves room for 1 < minimum 2.
    const e1 = runEpoch(1, members.slice(0, 5));
    assert.equal(e1.believable.length, 0);
    // Epoch 2: 6 online: room for exactly the minimum, 2 believable validators.
    const e2 = runEpoch(2, members.slice(0, 6));
    assert.equal(e2.believable.length, 2);
    const e3 = runEpoch(3);
    assert.equal(e3.believable.length, 3);
    assert.deepEqual(modes, ["two-league", "one-league", "two-league", "two-league"]);
  });

  it("rejects blocks out of context, unassigned transactions and unknown bodies with codes", () => {
    const shard = new TestShard("pob context", { validators: 9, replicas: 1, accounts: 20 });
    const leagues = shard.startEpoch(0);
    const [producer, other] = leagues.believable;
    const normal = leagues.normal[0]!;
    const strangerTx = shard.transfer(shard.takeOutput());
    const stranger = shard.injectBlock(normal, [strangerTx.bytes], 0);
    const misassigned = shard.transfer(shard.outputAssignedTo(other!));
    const wrongShare = shard.injectBlock(producer!, [misassigned.bytes], 0);
    const validOutput = shard.outputAssignedTo(producer!);
    const valid = shard.injectBlock(producer!, [shard.transfer(validOutput).bytes], 1);
    const missing = new Uint8Array(32).fill(9);
    const outcome = shard.round({ before: [stranger, wrongShare, valid, valid, missing] }).outcomes[0]!;
    const verdicts = outcome.blocks.map((b) => b.rejected ?? "ok");
    assert.deepEqual(verdicts, ["POB_NOT_BELIEVABLE", "ok", "ok", "POB_BLOCK_DUPLICATE", "POB_BLOCK_UNAVAILABLE"]);
    // A block rejected whole settles its transactions with its code; a duplicate's were settled already.
    assert.deepEqual(outcome.excluded.map((e) => [hex(e.txid), e.code]), [[hex(strangerTx.txid), "POB_NOT_BELIEVABLE"], [hex(misassigned.txid), "POB_NOT_ASSIGNED"]]);
    assert.equal(outcome.included.length / 32, 1);
    // Optimistic phase input checks.
    const offered = shard.producers.get(hex(producer!))!.offer(shard.transfer(shard.outputAssignedTo(other!)).bytes);
    assert.ok(!offered.accepted && offered.code === "POB_NOT_ASSIGNED");
    const forged = shard.producers.get(hex(producer!))!.offer(shard.transfer(shard.outputAssignedTo(producer!), { forge: true }).bytes);
    assert.ok(!forged.accepted && forged.code === "POB_BAD_SIGNATURE");
    const garbage = shard.producers.get(hex(producer!))!.offer(new Uint8Array(4));
    assert.ok(!garbage.accepted && garbage.code === "TX_UNKNOWN_VERSION", JSON.stringify(garbage));
    const spent = shard.producers.get(hex(producer!))!.offer(shard.transfer(validOutput, { fee: 500 }).bytes);
    assert.ok(!spent.accepted && spent.code === "MISSING_INPUT");
  });
});
