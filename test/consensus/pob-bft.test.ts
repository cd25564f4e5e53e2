// Proof-of-Believability composed with the normal league's ByzCoin BFT (src/consensus/bft) on the
// deterministic simulator: real Ed25519 keys and signatures, real CoSi rounds, a WASM UTXO
// replica per validator, messages over a simulated network with jittered latency. Optimistic
// blocks travel as messages, final proposals are decided by BFT, believable validators learn them
// from forwarded finality records verified offline. IOS_SIM_SEED replays a failing seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ed25519Verifier, type SignatureItem } from "../../src/crypto/ed25519.js";
import { HEADER_BYTES, MAX_BLOCK_TXS } from "../../src/ledger/block.js";
import { genesisEntries, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { MemoryFinalChain } from "./final-chain.js";
import { TxKind, decodeTransaction, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { UtxoTable } from "../../src/ledger/utxo-table.js";
import type { Channel } from "../../src/net/interface.js";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import { SIM_WALL_ORIGIN_MS } from "../../src/sim/virtual-clock.js";
import { testChannel } from "../sim/protocols.js";
import { assignee, spenderOf } from "../../src/consensus/pob/assignment.js";
import { BelievabilityLedger } from "../../src/consensus/pob/believability.js";
import { verifyEvidence, verifyInclusion } from "../../src/consensus/pob/evidence.js";
import { PobValidator, type FinalOutcome } from "../../src/consensus/pob/finalization.js";
import { drawLeagues } from "../../src/consensus/pob/leagues.js";
import { buildOptimisticBlock, type OptimisticConfirmation } from "../../src/consensus/pob/optimistic.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { POB_MESSAGES, PobNode, SUSPEND_AFTER_MS, type SwapInRule } from "../../src/consensus/pob/protocol.js";
import { decodeProposal } from "../../src/consensus/pob/proposal.js";
import { IosError } from "../../src/errors.js";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const CHAIN = new TextEncoder().encode("ioschain-pob-test/shard-0");
const VERIFIER = new Ed25519Verifier();
const AMOUNT = 1_000_000n;

/** A byzantine or faulty node's outgoing traffic: false drops the message. */
type Outgoing = (from: string, to: string, type: number, payload: Uint8Array) => boolean;

/** Wraps `channel` so that `outgoing` sees (and may drop) what its node sends. */
function filtered(channel: Channel, outgoing: Outgoing): Channel {
  return {
    get self() {
      return channel.self;
    },
    get instance() {
      return channel.instance;
    },
    get isOpen() {
      return channel.isOpen;
    },
    send: (to, type, payload) => {
      if (outgoing(channel.self, to, type, payload)) channel.send(to, type, payload);
    },
    broadcast: (group, type, payload) => {
      for (const to of group) if (to !== channel.self && outgoing(channel.self, to, type, payload)) channel.send(to, type, payload);
    },
    on: (type, handler) => channel.on(type, handler),
    close: () => channel.close(),
  };
}

/** `configOf(i)`: the idle heartbeat of validator i (default none). */
/**
 * `replicaOptions`: `sealedHere` gives each replica's PobValidator its node's producer's sealed
 * blocks (as the validator does), `verifierOf(i)` the verifier of replica i's PobValidator
 * (default the shared one).
 */
function setup(
  seedLabel: string,
  policy: ShardingPolicy,
  validatorCount = 9,
  outgoing?: Outgoing,
  configOf?: (index: number) => { readonly idleProposalMs?: number; readonly viewTimeoutMs?: number },
  replicaOptions: { readonly sealedHere?: boolean; readonly verifierOf?: (index: number) => Ed25519Verifier; readonly swapsOf?: (index: number) => SwapInRule | undefined } = {},
) {
  const seed = simSeed(seedLabel);
  const sim = new Simulator({
    seed,
    defaultLink: { latency: { kind: "uniform", minMs: 2, maxMs: 8 }, loss: 0, duplication: 0, reorder: { probability: 0, maxExtraMs: 0 } },
  });
  const { genesis, accounts, validators } = makeTestGenesis({ seed: `pob-bft ${String(seed)}`, shardCount: 1, accounts: 48, amount: AMOUNT, validators: validatorCount, stake: 10_000n });
  const gtx = genesisTxid(genesis);
  const members = validators.map((v) => v.publicKey);
  const epochSeed = sim.rng("epoch").bytes(32);
  const context = genesisEpochContext(genesis);
  const replicas = validators.map((keyPair, index) => {
    const utxo = new UtxoTable({ initialCapacityLog2: 8 });
    // The tests' genesis has no policy (each test brings its own): the bonds go in by hand.
    utxo.insertEntries(genesisEntries(genesis, 0));
    utxo.insertEntries(context.bondEntries(0));
    const ledger = BelievabilityLedger.fromGenesis(genesis.validators);
    const leagues = drawLeagues({ epoch: 0, seed: epochSeed, members, accounts: ledger, policy });
    const chain = new MemoryFinalChain(genesis);
    const validator = new PobValidator({
      shard: 0, shardCount: 1, utxo, accounts: ledger, leagues, chain, bondOf: (key) => context.bondOf(key),
      verifier: replicaOptions.verifierOf?.(index) ?? VERIFIER,
      ...(replicaOptions.sealedHere === true ? { sealedHere: (hash: Uint8Array) => sim.node<PobNode>(hex(keyPair.publicKey)).instance?.producer?.sealedHere(hash) === true } : {}),
    });
    return { keyPair, utxo, ledger, validator, chain, outcomes: [] as FinalOutcome[], decidedAt: [] as number[], finalAt: new Map<string, number>() };
  });
  const leagues = replicas[0]!.validator.leagues;
  const channels = new Map<string, Channel>();
  const confirmations: (OptimisticConfirmation & { at: number })[] = [];
  replicas.forEach((replica, index) => {
    const peer = hex(replica.keyPair.publicKey);
    sim.addNode(peer, ({ transport, clock, rng }) => {
      const raw = testChannel(transport);
      channels.set(peer, raw);
      const channel = outgoing === undefined ? raw : filtered(raw, outgoing);
      const node = new PobNode(
        { chainId: CHAIN, shard: 0, shardCount: 1, viewTimeoutMs: 400, cosi: { fanout: 3, levelTimeoutMs: 40 }, orderDelayMs: 20, ...configOf?.(index) },
        {
          channel, clock, rng, keyPair: replica.keyPair, verifier: VERIFIER, utxo: replica.utxo, accounts: replica.ledger, validator: replica.validator, members, peerOf: hex,
          ...optionalSwaps(replicaOptions.swapsOf?.(index)),
        },
      );
      node.onOutcome((outcome) => {
        replica.chain.record(outcome);
        replica.outcomes.push(outcome);
        replica.decidedAt.push(clock.now());
        for (let i = 0; i < outcome.included.length; i += 32) replica.finalAt.set(hex(outcome.included.subarray(i, i + 32)), clock.now());
      });
      node.onConfirmation((confirmation) => confirmations.push({ ...confirmation, at: clock.now() }));
      clock.setTimer(0, () => node.start());
      return node;
    });
  });
  const nodeOf = (publicKey: Uint8Array) => sim.node<PobNode>(hex(publicKey)).instance!;
  /** Genesis outputs already spent by `transfer` (output i belongs to account i). */
  const used = new Set<number>();
  /**
   * A transfer of the next unused genesis output; with `assignedTo`, of the next one whose owner
   * (the transfer's spender) is assigned to that producer.
   */
  const transfer = (options: { assignedTo?: Uint8Array; forge?: boolean } = {}) => {
    const wanted = options.assignedTo;
    const index = accounts.findIndex((account, i) => !used.has(i) && (wanted === undefined || hex(assignee(account.publicKey, leagues.believable)) === hex(wanted)));
    assert.ok(index >= 0, `seed ${String(seed)}: no unused genesis output left${wanted === undefined ? "" : ` assigned to ${hex(wanted)}`}`);
    used.add(index);
    const owner = accounts[index]!;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: gtx, index, owner: owner.publicKey }], outputs: [{ owner: accounts[(index + 7) % accounts.length]!.publicKey, amount: AMOUNT - 1n }],
    }, [owner]);
    const bytes = encodeTransaction(transaction);
    if (options.forge === true) bytes[bytes.length - 64]! ^= 0x40;
    return { bytes, txid };
  };
  /**
   * Runs the simulator until `predicate` holds (false if virtual time `until` comes first) in
   * 2 ms slices: PobNode validates proposals asynchronously, and promise callbacks run between
   * slices, as they would between I/O events.
   */
  const runUntil = async (predicate: () => boolean, until: number): Promise<boolean> => {
    while (!predicate()) {
      if (sim.now() >= until) return false;
      sim.run({ until: Math.min(until, sim.now() + 2) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    return true;
  };
  const includedBy = (replica: (typeof replicas)[number]) => new Set(replica.outcomes.flatMap((o) => Array.from({ length: o.included.length / 32 }, (_, i) => hex(o.included.subarray(i * 32, i * 32 + 32)))));
  /** Every replica (of `among`) applied the same outcomes at every height both reached. */
  const assertSameChain = (among = replicas) => {
    const shortest = Math.min(...among.map((r) => r.outcomes.length));
    assert.ok(shortest > 0, "every validator applied final proposals");
    for (let h = 0; h < shortest; h++) {
      const tips = new Set(among.map((r) => hex(r.outcomes[h]!.tip)));
      assert.equal(tips.size, 1, `seed ${String(seed)}: validators disagree at final height ${h + 1}`);
    }
  };
  /**
   * A client submitting `tx` to `producer` from virtual time `at`, again every 20 ms while the
   * producer answers POB_NOT_CAUGHT_UP (it is fetching the body of a final height); any other
   * refusal fails the run.
   */
  const submitWhenCaughtUp = (at: number, producer: Uint8Array, tx: Uint8Array): void => {
    sim.schedule(Math.max(0, at - sim.now()), "client submits", () => {
      const offer = nodeOf(producer).submit(tx);
      if (!offer.accepted && offer.code === "POB_NOT_CAUGHT_UP") submitWhenCaughtUp(sim.now() + 20, producer, tx);
      else assert.equal(offer.accepted, true, JSON.stringify(offer));
    });
  };
  const keyPairOf = (publicKey: Uint8Array) => validators.find((v) => hex(v.publicKey) === hex(publicKey))!;
  return { sim, seed, replicas, leagues, channels, nodeOf, transfer, runUntil, includedBy, assertSameChain, validators, confirmations, submitWhenCaughtUp, keyPairOf, accounts, gtx };
}

const optionalSwaps = (swaps: SwapInRule | undefined) => (swaps === undefined ? {} : { swaps });

const POLICY: ShardingPolicy = { believableLeagueSize: 3, normalLeagueSize: 4, samplingProbability: 0.3, minBelievableSize: 2, optimisticIntervalMs: 20, maxOptimisticBlockTxs: 64 };

describe("pob over BFT in the simulator", () => {
  it("honest shard: optimistic confirmations, BFT-final proposals, identical replicas on all 9 validators", async () => {
    const s = setup("pob-bft honest", POLICY);
    assert.equal(s.leagues.mode, "two-league");
    assert.equal(s.leagues.believable.length, 3);
    const submitted: string[] = [];
    const sent = new Map<string, Uint8Array>();
    for (let k = 0; k < 12; k++) {
      const producer = s.leagues.believable[k % 3]!;
      const tx = s.transfer({ assignedTo: producer });
      submitted.push(hex(tx.txid));
      sent.set(hex(tx.txid), tx.bytes);
      s.submitWhenCaughtUp(10 + k * 15, producer, tx.bytes);
    }
    const done = await s.runUntil(() => submitted.length === 12 && s.replicas.every((r) => submitted.every((t) => s.includedBy(r).has(t))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: not every transaction became final everywhere`);
    s.assertSameChain();
    const snapshots = s.replicas.map((r) => {
      const packed = r.utxo.snapshot();
      return Array.from({ length: packed.length / 76 }, (_, i) => hex(packed.subarray(i * 76, i * 76 + 76))).sort().join();
    });
    assert.equal(new Set(snapshots).size, 1, "every validator holds the same UTXO set");
    for (const r of s.replicas) {
      const excluded = r.outcomes.flatMap((o) => o.excluded);
      assert.deepEqual(excluded, []);
      assert.equal(r.outcomes.flatMap((o) => o.slashed).length, 0);
    }
    // Every transaction got an optimistic confirmation, verifiable with its producer's key alone,
    // before it was final on any validator.
    assert.deepEqual(s.confirmations.map((c) => hex(c.txid)).sort(), [...submitted].sort());
    for (const confirmation of s.confirmations) {
      const spender = spenderOf(sent.get(hex(confirmation.txid))!);
      assert.ok(spender !== undefined);
      assert.equal(hex(assignee(spender, s.leagues.believable)), hex(confirmation.header.producer), "the producer is the spender's assignee");
      verifyInclusion(confirmation, confirmation.txid, confirmation.header.producer, VERIFIER);
      for (const r of s.replicas) assert.ok(confirmation.at < r.finalAt.get(hex(confirmation.txid))!, "optimistic confirmation precedes finality");
    }
    const blocks = s.replicas[0]!.outcomes.flatMap((o) => o.blocks).filter((b) => b.rejected === undefined);
    assert.ok(blocks.length >= 3);
    for (const b of blocks) assert.ok(s.leagues.isBelievable(b.producer!));
  });

  it("a producer's replica counts the sampled signatures of the blocks it sealed without verifying them again (p = 1); every replica decides alike", async () => {
    /** A real verifier that records the message (the txid) of every signature it batch-verifies. */
    class RecordingVerifier extends Ed25519Verifier {
      readonly verified = new Set<string>();
      override verifyBatch(items: readonly SignatureItem[]): boolean[] {
        for (const item of items) this.verified.add(hex(item.message));
        return super.verifyBatch(items);
      }
    }
    const verifiers = Array.from({ length: 9 }, () => new RecordingVerifier());
    const s = setup("pob-bft own blocks", { ...POLICY, samplingProbability: 1 }, 9, undefined, undefined, { sealedHere: true, verifierOf: (i) => verifiers[i]! });
    const byProducer = new Map<string, string[]>();
    for (let k = 0; k < 9; k++) {
      const producer = s.leagues.believable[k % 3]!;
      const tx = s.transfer({ assignedTo: producer });
      byProducer.set(hex(producer), [...(byProducer.get(hex(producer)) ?? []), hex(tx.txid)]);
      s.submitWhenCaughtUp(10 + k * 15, producer, tx.bytes);
    }
    const all = [...byProducer.values()].flat();
    const done = await s.runUntil(() => s.replicas.every((r) => all.every((t) => s.includedBy(r).has(t))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: not every transaction became final everywhere`);
    s.assertSameChain();
    const heights = Math.min(...s.replicas.map((r) => r.outcomes.length));
    for (let h = 0; h < heights; h++) {
      assert.equal(new Set(s.replicas.map((r) => r.outcomes[h]!.verifiedSignatures)).size, 1, `every replica counts the same verified signatures at height ${h + 1}`);
    }
    s.replicas.forEach((replica, i) => {
      const own = byProducer.get(hex(replica.keyPair.publicKey)) ?? [];
      const others = all.filter((t) => !own.includes(t));
      for (const txid of own) assert.ok(!verifiers[i]!.verified.has(txid), "a block sealed here is not verified again");
      for (const txid of others) assert.ok(verifiers[i]!.verified.has(txid), "every other producer's sampled signature is verified (p = 1)");
    });
  });

  it("a cheater's forged transaction is caught (p = 1), slashed on every validator, its production stops", async () => {
    const s = setup("pob-bft cheater", { ...POLICY, samplingProbability: 1 });
    const cheater = s.leagues.believable[0]!;
    const cheaterKey = s.keyPairOf(cheater);
    const honestProducer = s.leagues.believable[1]!;
    const forged = s.transfer({ assignedTo: cheater, forge: true });
    const valid = s.transfer({ assignedTo: cheater });
    const later = s.transfer({ assignedTo: honestProducer });
    let forgedHash: Uint8Array | undefined;
    s.sim.schedule(30, "cheater broadcasts a forged block", () => {
      const { bytes, block } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 100, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + s.sim.now() }, [valid.bytes, forged.bytes], cheaterKey);
      forgedHash = block.hash;
      const others = s.validators.filter((v) => hex(v.publicKey) !== hex(cheater)).map((v) => hex(v.publicKey));
      s.channels.get(hex(cheater))!.broadcast(others, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
    });
    s.submitWhenCaughtUp(60, honestProducer, later.bytes);
    const done = await s.runUntil(() => s.replicas.every((r) => r.outcomes.some((o) => o.slashed.length > 0) && s.includedBy(r).has(hex(later.txid))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the cheater was not slashed everywhere`);
    s.assertSameChain();
    const heights = new Set<number>();
    for (const r of s.replicas) {
      const outcome = r.outcomes.find((o) => o.slashed.length > 0)!;
      heights.add(outcome.height);
      assert.equal(hex(outcome.slashed[0]!.publicKey), hex(cheater));
      assert.equal(hex(outcome.evidence[0]!.header.producer), hex(cheater));
      const verdict = verifyEvidence(outcome.evidence[0]!, cheater);
      assert.ok(verdict.valid && hex(verdict.txid) === hex(forged.txid) && hex(verdict.blockHash) === hex(forgedHash!));
      assert.ok(outcome.excluded.some((e) => hex(e.txid) === hex(forged.txid) && e.code === "POB_BAD_SIGNATURE"));
      assert.ok(s.includedBy(r).has(hex(valid.txid)), "the valid transfer in the offending block is kept");
      assert.equal(r.ledger.get(cheater).stake, 0n);
      assert.equal(r.validator.leagues.isBelievable(cheater), false);
    }
    assert.equal(heights.size, 1, "every validator slashed at the same final height");
    // The cheater stops producing: its node refuses submissions from now on.
    const refused = s.nodeOf(cheater).submit(s.transfer({ assignedTo: cheater }).bytes);
    assert.ok(!refused.accepted && refused.code === "POB_NOT_BELIEVABLE");
    // The honest producer's confirmation verifies against its key.
    const confirmed = s.replicas[0]!.outcomes.flatMap((o) => o.blocks).find((b) => b.producer !== undefined && hex(b.producer) === hex(honestProducer) && b.included > 0);
    assert.ok(confirmed !== undefined);
    const confirmation = s.confirmations.find((c) => hex(c.txid) === hex(later.txid))!;
    assert.equal(hex(verifyInclusion(confirmation, later.txid, honestProducer)), hex(confirmed.hash));
  });

  it("a producer sending good and bad-sealed copies of one block does not split the replicas (seal split)", async () => {
    const s = setup("pob-bft seal split", POLICY);
    const cheater = s.leagues.believable[0]!;
    const cheaterKey = s.keyPairOf(cheater);
    const honestProducer = s.leagues.believable[1]!;
    const split = s.transfer({ assignedTo: cheater });
    const later = s.transfer({ assignedTo: honestProducer });
    const others = s.validators.filter((v) => hex(v.publicKey) !== hex(cheater)).map((v) => hex(v.publicKey));
    s.sim.schedule(30, "cheater sends a good copy to half the shard and a bad-sealed copy to the rest", () => {
      const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 100, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + s.sim.now() }, [split.bytes], cheaterKey);
      const badSeal = Uint8Array.from(bytes);
      badSeal[HEADER_BYTES + 5]! ^= 0x01;
      others.forEach((peer, i) => s.channels.get(hex(cheater))!.send(peer, POB_MESSAGES.OPTIMISTIC_BLOCK, i % 2 === 0 ? bytes : badSeal));
    });
    s.submitWhenCaughtUp(200, honestProducer, later.bytes);
    const done = await s.runUntil(() => s.replicas.every((r) => s.includedBy(r).has(hex(later.txid))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the shard stopped finalizing`);
    s.assertSameChain();
    const included = s.replicas.map((r) => s.includedBy(r).has(hex(split.txid)));
    assert.ok(included.every(Boolean), `seed ${String(s.seed)}: the well-sealed block's transfer is final on every replica, got ${included.join()}`);
    for (const r of s.replicas) assert.ok(r.outcomes.flatMap((o) => o.blocks).every((b) => b.rejected !== "POB_BAD_SEAL"), "no replica ever orders a bad-sealed copy");
  });

  it("a relay's corrupted and bad-sealed copies arriving first do not split the replicas", async () => {
    const s = setup("pob-bft corrupting relay", POLICY);
    const producer = s.leagues.believable[0]!;
    const producerKey = s.keyPairOf(producer);
    const relay = s.leagues.normal[0]!;
    const tx = s.transfer({ assignedTo: producer });
    const later = s.transfer({ assignedTo: s.leagues.believable[1]! });
    const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 100, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + s.sim.now() }, [tx.bytes], producerKey);
    const corruptBody = Uint8Array.from(bytes);
    corruptBody[corruptBody.length - 1]! ^= 0x01;
    const badSeal = Uint8Array.from(bytes);
    badSeal[HEADER_BYTES]! ^= 0x80;
    const others = (from: Uint8Array) => s.validators.filter((v) => hex(v.publicKey) !== hex(from)).map((v) => hex(v.publicKey));
    s.sim.schedule(30, "the relay sends corrupted copies first", () => {
      others(relay).forEach((peer, i) => s.channels.get(hex(relay))!.send(peer, POB_MESSAGES.OPTIMISTIC_BLOCK, i % 2 === 0 ? corruptBody : badSeal));
    });
    s.sim.schedule(60, "the producer's genuine copy follows", () => s.channels.get(hex(producer))!.broadcast(others(producer), POB_MESSAGES.OPTIMISTIC_BLOCK, bytes));
    s.submitWhenCaughtUp(200, s.leagues.believable[1]!, later.bytes);
    const done = await s.runUntil(() => s.replicas.every((r) => s.includedBy(r).has(hex(later.txid)) && s.includedBy(r).has(hex(tx.txid))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the genuine block did not become final on every replica`);
    s.assertSameChain();
    for (const r of s.replicas) assert.ok(r.outcomes.flatMap((o) => o.blocks).every((b) => b.rejected === undefined), "no replica ordered a corrupted copy");
  });

  it("replicas whose state differs refuse to co-sign and stop instead of diverging silently (state commitment)", async () => {
    const s = setup("pob-bft commitment", POLICY);
    const member = s.leagues.normal[1]!;
    const outsider = s.leagues.believable[2]!;
    const tampered = [member, outsider].map((key) => s.replicas.find((r) => hex(r.keyPair.publicKey) === hex(key))!);
    // One extra unspent output on each: their supply, hence every commitment they reach, differs.
    for (const replica of tampered) replica.utxo.insert({ txid: new Uint8Array(32).fill(0xee), index: 0, owner: replica.keyPair.publicKey, amount: 5n });
    const honest = s.replicas.filter((r) => !tampered.includes(r));
    const txs = [0, 1].map((k) => s.transfer({ assignedTo: s.leagues.believable[k]! }));
    txs.forEach((tx, k) => s.submitWhenCaughtUp(20, s.leagues.believable[k]!, tx.bytes));
    const done = await s.runUntil(() => honest.every((r) => txs.every((tx) => s.includedBy(r).has(hex(tx.txid)))) && tampered.every((r) => s.nodeOf(r.keyPair.publicKey).diverged !== undefined), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the shard did not finalize around the two diverged replicas, or they did not stop`);
    s.assertSameChain(honest);
    for (const replica of tampered) {
      const divergence = s.nodeOf(replica.keyPair.publicKey).diverged!;
      assert.equal(replica.outcomes.length, 0, "a diverged replica applied nothing");
      assert.equal(divergence.height, 1);
      assert.equal(hex(divergence.decided), hex(honest[0]!.outcomes[0]!.tip), "it names the commitment the shard decided");
      assert.notEqual(hex(divergence.reached!), hex(divergence.decided));
    }
    assert.ok(s.nodeOf(member).stats.commitmentMismatches > 0, "the diverged normal member refused to co-sign");
  });

  it("a leader withholding FINALIZED: the view change decides the same proposal, shares and all, and every replica samples alike", async () => {
    let withholder: string | undefined;
    const s = setup("pob-bft withheld finalized", { ...POLICY, samplingProbability: 0.5 }, 9, (from, _to, type) => !(from === withholder && type === BFT_MESSAGES.FINALIZED));
    withholder = hex(s.leagues.normal[1]!);
    const txs = [0, 1, 2, 3, 4, 5].map((k) => s.transfer({ assignedTo: s.leagues.believable[k % 3]! }));
    txs.forEach((tx, k) => s.submitWhenCaughtUp(20, s.leagues.believable[k % 3]!, tx.bytes));
    const done = await s.runUntil(() => s.replicas.every((r) => txs.every((tx) => s.includedBy(r).has(hex(tx.txid)))), 10_000);
    assert.ok(done, `seed ${String(s.seed)}: the shard did not finalize past the withholding leader`);
    s.assertSameChain();
    assert.ok(s.leagues.normal.some((key) => s.nodeOf(key).bft!.stats.viewChanges > 0), "the withheld record cost a view change");
    const shortest = Math.min(...s.replicas.map((r) => r.outcomes.length));
    for (let h = 0; h < shortest; h++) {
      const samples = new Set(s.replicas.map((r) => JSON.stringify(r.outcomes[h]!.blocks.map((b) => [hex(b.hash), b.sampled]))));
      assert.equal(samples.size, 1, `seed ${String(s.seed)}: replicas sampled differently at final height ${h + 1}`);
    }
  });

  it("a member gives one randomness share per height and view, only to that view's leader", async () => {
    const shares: { from: string; to: string; payload: Uint8Array }[] = [];
    const s = setup("pob-bft one share per view", POLICY, 9, (from, to, type, payload) => {
      if (type === POB_MESSAGES.SEED_SHARE) shares.push({ from, to, payload });
      return true;
    });
    const member = hex(s.leagues.normal[0]!);
    await s.runUntil(() => false, 50);
    const bft = s.nodeOf(s.leagues.normal[0]!).bft!;
    const height = bft.height;
    const view = bft.view + 3;
    const leader = hex(s.leagues.normal[bft.leaderOf(bft.height, view)]!);
    const bystander = s.leagues.normal.map(hex).find((key) => key !== leader && key !== member)!;
    const request = (core: number) => {
      const bytes = new Uint8Array(8 + 4 + 32);
      const data = new DataView(bytes.buffer);
      data.setUint32(0, height, true);
      data.setUint32(8, view, true);
      bytes.fill(core, 12);
      return bytes;
    };
    const before = shares.length;
    s.channels.get(leader)!.send(member, POB_MESSAGES.SEED_REQUEST, request(0xa1));
    s.channels.get(leader)!.send(member, POB_MESSAGES.SEED_REQUEST, request(0xb2));
    s.channels.get(bystander)!.send(member, POB_MESSAGES.SEED_REQUEST, request(0xc3));
    await s.runUntil(() => false, s.sim.now() + 30);
    const data = (payload: Uint8Array) => new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const answered = shares.slice(before).filter((share) => share.from === member && data(share.payload).getUint32(0, true) === height && data(share.payload).getUint32(8, true) === view);
    assert.equal(answered.length, 1, "exactly one share for the view");
    assert.equal(answered[0]!.to, leader, "sent to the view's leader");
    // The links may reorder the two requests: whichever arrived first is the one answered.
    const core = answered[0]!.payload[12]!;
    assert.ok((core === 0xa1 || core === 0xb2) && answered[0]!.payload.subarray(12, 44).every((b) => b === core), "for one of the leader's cores, never the bystander's");
  });

  it("optimistic blocks outside the proposal's time window are rejected alike on every replica", async () => {
    const s = setup("pob-bft timestamps", POLICY);
    const producer = s.leagues.believable[0]!;
    const producerKey = s.keyPairOf(producer);
    const future = s.transfer({ assignedTo: producer });
    const stale = s.transfer({ assignedTo: producer });
    const later = s.transfer({ assignedTo: s.leagues.believable[1]! });
    const hashes: string[] = [];
    s.sim.schedule(30, "the producer seals a block a minute ahead and one three minutes old", () => {
      const others = s.validators.filter((v) => hex(v.publicKey) !== hex(producer)).map((v) => hex(v.publicKey));
      for (const [tx, shift] of [[future, 60_000], [stale, -180_000]] as const) {
        const { bytes, block } = buildOptimisticBlock({ shard: 0, epoch: 0, height: shift > 0 ? 101 : 102, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + s.sim.now() + shift }, [tx.bytes], producerKey);
        hashes.push(hex(block.hash));
        s.channels.get(hex(producer))!.broadcast(others, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
      }
    });
    s.submitWhenCaughtUp(100, s.leagues.believable[1]!, later.bytes);
    const done = await s.runUntil(() => s.replicas.every((r) => s.includedBy(r).has(hex(later.txid)) && hashes.every((h) => r.outcomes.some((o) => o.blocks.some((b) => hex(b.hash) === h)))), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the shard did not order both blocks and the later transfer`);
    s.assertSameChain();
    for (const r of s.replicas) {
      const verdicts = r.outcomes.flatMap((o) => o.blocks).filter((b) => hashes.includes(hex(b.hash)));
      assert.deepEqual(verdicts.map((b) => b.rejected), ["POB_BLOCK_BAD_TIMESTAMP", "POB_BLOCK_BAD_TIMESTAMP"]);
      assert.ok(!s.includedBy(r).has(hex(future.txid)) && !s.includedBy(r).has(hex(stale.txid)));
      // Their transactions are answered, not left pending: excluded with the block's code.
      const excluded = r.outcomes.flatMap((o) => o.excluded).filter((e) => [future.txid, stale.txid].some((t) => hex(t) === hex(e.txid)));
      assert.deepEqual(excluded.map((e) => e.code), ["POB_BLOCK_BAD_TIMESTAMP", "POB_BLOCK_BAD_TIMESTAMP"]);
    }
  });

  it("a leader that cannot hear a live producer proposes to suspend it, and the members who hear it refuse", async () => {
    const s = setup("pob-bft wrongful suspension", POLICY);
    const producer = s.leagues.believable[0]!;
    const deaf = s.leagues.normal[1]!;
    s.sim.network.setLink(hex(producer), hex(deaf), { loss: 1 });
    const heights = () => Math.min(...s.replicas.map((r) => r.outcomes.length));
    await s.runUntil(() => false, SUSPEND_AFTER_MS + 3_000);
    const decided = heights();
    assert.ok(decided > 10, `seed ${String(s.seed)}: the shard kept deciding heights (${decided})`);
    s.assertSameChain();
    for (const r of s.replicas) assert.ok(r.validator.leagues.isBelievable(producer), "the producer keeps its seat on every replica");
    const refused = s.leagues.normal.filter((key) => hex(key) !== hex(deaf)).reduce((n, key) => n + s.nodeOf(key).bft!.stats.rejectedProposals, 0);
    assert.ok(refused > 0, "the deaf leader's suspensions were refused");
  });

  it("a member's corrupted randomness shares are refused and logged against it, and the shard keeps deciding", async () => {
    let corrupter: string | undefined;
    const s = setup("pob-bft bad shares", POLICY, 9, (from, _to, type, payload) => {
      if (from === corrupter && type === POB_MESSAGES.SEED_SHARE) payload[payload.length - 40]! ^= 0x01;
      return true;
    });
    corrupter = hex(s.leagues.normal[2]!);
    // Only heights that order blocks gather shares: one transfer every 150 ms, each in a block of its own.
    const txs = Array.from({ length: 8 }, () => s.transfer({ assignedTo: s.leagues.believable[0]! }));
    txs.forEach((tx, i) => s.submitWhenCaughtUp(20 + 150 * i, s.leagues.believable[0]!, tx.bytes));
    const done = await s.runUntil(() => s.replicas.every((r) => txs.every((tx) => s.includedBy(r).has(hex(tx.txid)))) && Math.min(...s.replicas.map((r) => r.outcomes.length)) >= 8, 8_000);
    assert.ok(done, `seed ${String(s.seed)}: the shard stopped deciding`);
    s.assertSameChain();
    const logged = s.sim.logs.entries({ code: "POB_BAD_MESSAGE" });
    assert.ok(logged.length > 0 && logged.every((entry) => entry["peer"] === corrupter), "each bad share is logged against its sender");
  });

  it("with too few validators for a believable league, the normal league runs one-league BFT and verifies everything", async () => {
    // 5 validators, 4 kept for the normal league: room for 1 believable < minimum 2.
    const s = setup("pob-bft fallback", POLICY, 5);
    assert.equal(s.leagues.mode, "one-league");
    assert.equal(s.leagues.normal.length, 5);
    const good = [s.transfer(), s.transfer(), s.transfer()];
    const forged = s.transfer({ forge: true });
    s.sim.schedule(10, "clients submit to any validator", () => {
      good.forEach((tx, i) => assert.equal(s.nodeOf(s.validators[i]!.publicKey).submit(tx.bytes).accepted, true));
      s.nodeOf(s.validators[4]!.publicKey).submit(forged.bytes);
    });
    const done = await s.runUntil(() => s.replicas.every((r) => good.every((t) => s.includedBy(r).has(hex(t.txid))) && r.outcomes.some((o) => o.excluded.length > 0)), 5_000);
    assert.ok(done, `seed ${String(s.seed)}: the one-league shard did not finalize the transfers`);
    s.assertSameChain();
    for (const r of s.replicas) {
      assert.ok(r.outcomes.every((o) => o.mode === "one-league" && o.blocks.length === 0));
      const excluded = r.outcomes.flatMap((o) => o.excluded);
      assert.deepEqual(excluded.map((e) => [hex(e.txid), e.code]), [[hex(forged.txid), "POB_BAD_SIGNATURE"]]);
      // Every signature of every proposed transaction was verified (no sampling in one league).
      const proposedTxs = r.outcomes.reduce((n, o) => n + o.included.length / 32 + o.excluded.length, 0);
      assert.equal(r.outcomes.reduce((n, o) => n + o.verifiedSignatures, 0), proposedTxs);
    }
    assert.equal(s.confirmations.length, 0, "no optimistic phase without a believable league");
  });

  it("a byzantine member sharing junk one-league transactions fills at most its share of a member's hold, whose clients keep being served", async () => {
    // No proposal until the hold is measured: nothing drains it meanwhile.
    let proposing = false;
    const s = setup("pob-bft hold share", POLICY, 5, (_from, _to, type) => proposing || type !== BFT_MESSAGES.PROPOSE);
    assert.equal(s.leagues.mode, "one-league");
    const [victim, , , , byzantine] = s.validators.map((v) => hex(v.publicKey));
    const share = Math.ceil(MAX_BLOCK_TXS / s.validators.length);
    // Well-formed transfers nobody signed (each a distinct txid): the hold checks only the encoding, the final block the rest.
    const template = decodeTransaction(s.transfer().bytes);
    const junk = Array.from({ length: MAX_BLOCK_TXS }, (_, i) =>
      encodeTransaction({ ...template, outputs: [{ ...template.outputs[0]!, amount: BigInt(i + 1) }] }));
    // A peer outside the committee sends the same junk: none of it is held.
    let outsider: Channel | undefined;
    s.sim.addNode("outsider", ({ transport }) => (outsider = testChannel(transport)));
    s.sim.schedule(10, "the byzantine member and the outsider share their junk", () => {
      const channel = s.channels.get(byzantine!)!;
      for (const tx of junk) {
        outsider!.send(victim!, POB_MESSAGES.TRANSACTION, tx);
        channel.send(victim!, POB_MESSAGES.TRANSACTION, tx);
      }
    });
    // Every link's latency is at most 8 ms: by 100 ms all of it arrived.
    await s.runUntil(() => false, 100);
    const victimNode = s.nodeOf(s.validators[0]!.publicKey);
    assert.equal(victimNode.heldTransactions().length, share, `the byzantine member's share of the hold, ${share}, and no more`);
    const client = s.transfer();
    const answer = victimNode.submit(client.bytes);
    assert.equal(answer.accepted, true, `the victim's client is served: ${JSON.stringify(answer)}`);
    proposing = true;
    const done = await s.runUntil(() => s.replicas.every((r) => s.includedBy(r).has(hex(client.txid))), 20_000);
    assert.ok(done, `seed ${String(s.seed)}: the client's transfer is final on every replica`);
    s.assertSameChain();
  });
});

describe("pob idle heartbeat (idleProposalMs)", () => {
  const IDLE_MS = 1_000;

  it("an idle shard decides one empty height per heartbeat, gathering no randomness shares, and a transfer ends the wait at once", async () => {
    const sent = { seedRequests: 0, proposals: 0 };
    const s = setup("pob-bft idle heartbeat", POLICY, 9, (_from, _to, type) => {
      if (type === POB_MESSAGES.SEED_REQUEST) sent.seedRequests++;
      if (type === BFT_MESSAGES.PROPOSE) sent.proposals++;
      return true;
    }, () => ({ idleProposalMs: IDLE_MS }));
    await s.runUntil(() => false, 10_500);
    const idleHeights = Math.min(...s.replicas.map((r) => r.outcomes.length));
    // One height per heartbeat: 10 in 10.5 s (a leader spinning would decide one every few ms).
    assert.ok(idleHeights >= 9 && idleHeights <= 11, `seed ${String(s.seed)}: ${idleHeights} idle heights in 10.5 s`);
    assert.ok(s.replicas.every((r) => r.outcomes.every((o) => o.blocks.length === 0)));
    assert.equal(sent.seedRequests, 0, "an idle height samples nothing and asks for no share");
    assert.ok(sent.proposals <= 11 * 8, `one proposal per idle height (${sent.proposals} PROPOSE messages)`);
    s.assertSameChain();
    // Mid-heartbeat, a transfer: its block is ordered at once, not at the next heartbeat.
    const tx = s.transfer({ assignedTo: s.leagues.believable[0]! });
    const submittedAt = 10_600;
    s.submitWhenCaughtUp(submittedAt, s.leagues.believable[0]!, tx.bytes);
    assert.ok(await s.runUntil(() => s.replicas.every((r) => r.finalAt.has(hex(tx.txid))), 12_000), `seed ${String(s.seed)}: the transfer was not final`);
    const latest = Math.max(...s.replicas.map((r) => r.finalAt.get(hex(tx.txid))!));
    assert.ok(latest - submittedAt < IDLE_MS / 2, `final ${latest - submittedAt} ms after submission: the heartbeat held it`);
    assert.ok(sent.seedRequests > 0, "the height ordering its block gathered shares");
    s.assertSameChain();
  });

  it("a leader proposing empty heights back to back is co-signed no sooner than ¾ of a heartbeat after the last final height", async () => {
    // Validator 0 has no heartbeat: whenever it leads, it proposes an empty height at once.
    const s = setup("pob-bft eager leader", POLICY, 9, undefined, (index) => ({ idleProposalMs: index === 0 ? 0 : IDLE_MS }));
    const eager = s.replicas[0]!.keyPair.publicKey;
    assert.ok(s.leagues.committee.some((key) => hex(key) === hex(eager)), "validator 0 sits in the normal league");
    await s.runUntil(() => false, 12_000);
    const heights = Math.min(...s.replicas.map((r) => r.outcomes.length));
    assert.ok(heights >= 10, `seed ${String(s.seed)}: ${heights} heights in 12 s`);
    // Every replica decided each empty height at least ¾ of a heartbeat after the one before (less the links' latency), the eager leader's too.
    for (const r of s.replicas) {
      const gaps = r.decidedAt.slice(1).map((at, h) => at - r.decidedAt[h]!);
      assert.ok(Math.min(...gaps) >= IDLE_MS * 0.75 - 50, `seed ${String(s.seed)}: two empty heights ${Math.min(...gaps)} ms apart`);
    }
    s.assertSameChain();
  });

  it("a leader that goes silent while the shard idles is left a view timeout after work arrives, not a heartbeat later", async () => {
    const LONG_IDLE_MS = 5_000;
    const s = setup("pob-bft silent idle leader", POLICY, 9, undefined, () => ({ idleProposalMs: LONG_IDLE_MS }));
    assert.ok(await s.runUntil(() => s.replicas.every((r) => r.outcomes.length >= 1), 6_000), "the first idle height is final");
    // The leader of the next height's view 0 goes silent; the others wait out the heartbeat's allowance.
    const member = s.nodeOf(s.leagues.committee[0]!).bft!;
    const next = member.height;
    const silent = hex(s.leagues.committee[member.leaderOf(next, 0)]!);
    s.sim.crash(silent);
    const producer = s.leagues.believable.find((key) => hex(key) !== silent)!;
    const tx = s.transfer({ assignedTo: producer });
    const submittedAt = s.sim.now() + 500;
    s.submitWhenCaughtUp(submittedAt, producer, tx.bytes);
    const live = s.replicas.filter((r) => hex(r.keyPair.publicKey) !== silent);
    assert.ok(await s.runUntil(() => live.every((r) => r.finalAt.has(hex(tx.txid))), submittedAt + LONG_IDLE_MS), `seed ${String(s.seed)}: the transfer waited for the heartbeat`);
    const latest = Math.max(...live.map((r) => r.finalAt.get(hex(tx.txid))!));
    // A view timeout (400 ms) and the next view's round, well inside the 5 s heartbeat.
    assert.ok(latest - submittedAt < 2_000, `final ${latest - submittedAt} ms after submission`);
    s.assertSameChain(live);
  });
});

describe("pob: a TransEpoch swap-in ends the BFT instance", () => {
  /** A removal-only batch's SWAP_IN (src/epoch/transepoch/swap.ts): no request, so it stands for any swap here. */
  const SWAP_IN = Uint8Array.of(0);
  const SWAP_HEIGHT = 6;
  /** Swaps from `SWAP_HEIGHT` on, as a node holding the next configuration would see them. */
  const rule: SwapInRule = {
    pending: (height) => (height >= SWAP_HEIGHT ? SWAP_IN : undefined),
    check: (swapIn, height) => {
      if (height < SWAP_HEIGHT || swapIn.length !== 1) throw new IosError("TRANSEPOCH_WRONG_BATCH", `no swap before height ${SWAP_HEIGHT}`);
    },
    overdue: () => false,
  };

  it("the height carrying a checked swap-in is the last the committee decides, on every replica", async () => {
    const s = setup("pob-bft swap ends the instance", POLICY, 9, undefined, undefined, { swapsOf: () => rule });
    const committee = s.leagues.committee;
    const ended = await s.runUntil(() => committee.every((key) => s.sim.node<PobNode>(hex(key)).instance?.bft?.rested === true), 20_000);
    assert.ok(ended, `seed ${String(s.seed)}: the committee did not end its instance`);
    await s.runUntil(() => false, s.sim.now() + 3_000);
    s.assertSameChain();
    for (const r of s.replicas) assert.equal(r.outcomes.length, SWAP_HEIGHT, "nothing is decided after the swap height, outside the committee either");
    const last = s.nodeOf(committee[0]!).bft!.log.get(SWAP_HEIGHT)!;
    assert.deepEqual(decodeProposal(last.proposal).swapIn, SWAP_IN);
    for (let h = 1; h < SWAP_HEIGHT; h++) assert.equal(decodeProposal(s.nodeOf(committee[0]!).bft!.log.get(h)!.proposal).swapIn, undefined);
  });

  it("validators outside the committee reach an instance's end that no record announces any more: one asks at its start, one after a quiet spell", async () => {
    let released = false;
    let late = "";
    let blind = "";
    // Until the committee rests, `blind` hears no final record (forwarded or fetched) and `late` is down.
    const s = setup("pob-bft outsiders reach the end", POLICY, 9, (_from, to, type) => released || to !== blind || type !== POB_MESSAGES.FINAL_RECORD, undefined, { swapsOf: () => rule });
    const committee = s.leagues.committee;
    [late, blind] = s.leagues.believable.map(hex);
    s.sim.schedule(1, "the late outsider goes down", () => s.sim.crash(late));
    const replicaOf = (id: string) => s.replicas.find((r) => hex(r.keyPair.publicKey) === id)!;
    const ended = await s.runUntil(() => committee.every((key) => s.sim.node<PobNode>(hex(key)).instance?.bft?.rested === true), 20_000);
    assert.ok(ended, `seed ${String(s.seed)}: the committee did not end its instance`);
    await s.runUntil(() => false, s.sim.now() + 1_000);
    assert.deepEqual([late, blind].map((id) => replicaOf(id).outcomes.length), [0, 0], "neither knows a final height");
    released = true;
    s.sim.restart(late);
    const quietMs = 2 * 400;
    const start = s.sim.now();
    assert.ok(await s.runUntil(() => replicaOf(late).outcomes.length === SWAP_HEIGHT, start + quietMs / 2), `seed ${String(s.seed)}: the late one asks at its start`);
    assert.ok(await s.runUntil(() => replicaOf(blind).outcomes.length === SWAP_HEIGHT, start + 3 * quietMs), `seed ${String(s.seed)}: the blind one asks after a quiet spell`);
    s.assertSameChain();
  });

  it("a byzantine leader ordering a producer's block before its own predecessor is refused (PROPOSAL_BLOCK_BEFORE_PREDECESSOR), and every chained transfer ends final", async () => {
    const s = setup("pob-bft block order", POLICY, 9);
    const committee = s.leagues.committee;
    await s.runUntil(() => false, 100);
    // The byzantine leader proposes what an honest one would, each proposal's blocks in reverse.
    const byzantine = s.nodeOf(committee[0]!) as unknown as { orderableBlocks(): Uint8Array[] };
    const honestOrder = byzantine.orderableBlocks.bind(byzantine);
    byzantine.orderableBlocks = () => honestOrder().reverse();
    // One account pays itself 40 times, each transfer spending the one before, one every 30 ms: consecutive blocks of one producer.
    const owner = s.accounts[0]!;
    const producer = assignee(owner.publicKey, s.leagues.believable);
    let head = { txid: s.gtx, index: 0, amount: AMOUNT };
    const txids: string[] = [];
    for (let k = 0; k < 40; k++) {
      const amount = head.amount - 1n;
      const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: head.txid, index: head.index, owner: owner.publicKey }], outputs: [{ owner: owner.publicKey, amount }] }, [owner]);
      s.submitWhenCaughtUp(s.sim.now() + 30 * k, producer, encodeTransaction(transaction));
      head = { txid, index: 0, amount };
      txids.push(hex(txid));
    }
    const honest = committee.slice(1).map((key) => s.nodeOf(key));
    const finalEverywhere = () => s.replicas.every((replica) => txids.every((txid) => replica.finalAt.has(txid)));
    assert.ok(await s.runUntil(finalEverywhere, s.sim.now() + 15_000), `seed ${String(s.seed)}: every chained transfer is final on every replica`);
    const refused = honest.reduce((n, node) => n + (node.stats.refused.get("PROPOSAL_BLOCK_BEFORE_PREDECESSOR") ?? 0), 0);
    assert.ok(refused > 0, `seed ${String(s.seed)}: the reversed proposals were refused (${refused})`);
    s.assertSameChain();
  });

  it("a byzantine leader's swap-in is refused by members without a swap rule or whose rule refuses it, and the shard keeps deciding", async () => {
    let byzantineIndex = -1;
    const refusing: SwapInRule = { pending: () => undefined, check: () => { throw new IosError("TRANSEPOCH_WRONG_BATCH", "not a swap this member can check"); }, overdue: () => false };
    const s = setup("pob-bft forged swap", POLICY, 9, undefined, undefined, {
      // Factories run once the simulation does: the byzantine member is known by then.
      swapsOf: (index) => (index === byzantineIndex ? { pending: () => SWAP_IN, check: () => undefined, overdue: () => false } : index % 2 === 0 ? undefined : refusing),
    });
    const committee = s.leagues.committee;
    byzantineIndex = s.validators.findIndex((v) => hex(v.publicKey) === hex(committee[0]!));
    await s.runUntil(() => false, 6_000);
    s.assertSameChain();
    const decided = Math.min(...s.replicas.map((r) => r.outcomes.length));
    assert.ok(decided > 3 * committee.length, `seed ${String(s.seed)}: the shard kept deciding (${decided} heights)`);
    const honest = committee.slice(1);
    for (const key of honest) assert.equal(s.nodeOf(key).bft!.rested, false);
    const log = s.nodeOf(honest[0]!).bft!.log;
    for (let h = 1; h <= log.lastHeight; h++) assert.equal(decodeProposal(log.get(h)!.proposal).swapIn, undefined, `height ${h} carries no swap-in`);
    const refused = honest.reduce((n, key) => n + s.nodeOf(key).bft!.stats.rejectedProposals, 0);
    assert.ok(refused >= honest.length, `the byzantine leader's swap-ins were refused (${refused})`);
  });

  it("a leader omitting a swap-in its members have held for the patience loses its view, and the next leader swaps", async () => {
    let byzantineIndex = -1;
    const s = setup("pob-bft omitted swap", POLICY, 9, undefined, undefined, {
      // From SWAP_HEIGHT on every honest member holds the swap-in and its patience is spent; the byzantine leader never proposes it.
      swapsOf: (index) => (index === byzantineIndex ? { ...rule, pending: () => undefined } : { ...rule, overdue: (height) => height >= SWAP_HEIGHT }),
    });
    const committee = s.leagues.committee;
    // The leader of (SWAP_HEIGHT, view 0): BFT heights count from 1 on the genesis here.
    byzantineIndex = s.validators.findIndex((v) => hex(v.publicKey) === hex(committee[SWAP_HEIGHT % committee.length]!));
    const ended = await s.runUntil(() => committee.every((key) => s.sim.node<PobNode>(hex(key)).instance?.bft?.rested === true), 20_000);
    assert.ok(ended, `seed ${String(s.seed)}: the committee did not end its instance`);
    s.assertSameChain();
    const log = s.nodeOf(committee[0]!).bft!.log;
    assert.equal(log.lastHeight, SWAP_HEIGHT);
    const last = log.get(SWAP_HEIGHT)!;
    assert.ok(last.view >= 1, "the omitting leader's view was left");
    assert.deepEqual(decodeProposal(last.proposal).swapIn, SWAP_IN);
    const refused = committee.filter((_, i) => i !== SWAP_HEIGHT % committee.length).reduce((n, key) => n + s.nodeOf(key).bft!.stats.rejectedProposals, 0);
    assert.ok(refused > 0, "the proposal without the swap-in was refused");
  });
});
