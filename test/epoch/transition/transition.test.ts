/**
 * The reconfiguration of epoch 0 into epoch 1 (src/epoch/transition) by whole-protocol instances
 * over the simulator's network: each validator hands in its shard's boundary certificate (built
 * here with the shard committee's real collective signature), they elect a leader by VRF lottery,
 * the leader runs DRP among the others, proposes configuration 1 and has it co-signed by CoSi.
 * Every honest validator must end with the same link, which verifies from the genesis alone
 * (verifyIdentityChain), whose transcript verifies offline (Algorithm 3) and gives rnd_1; the new
 * context reassigns the shards from it. Byzantine cases: a silent winner, a leader that
 * disappears after its election, a forged boundary, a leader proposing another configuration.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FinalHeightProver } from "../../../src/atomix/proof.js";
import { commitDigest, prepareDigest, type FinalityRecord } from "../../../src/consensus/bft/codec.js";
import { DEFAULT_POLICY } from "../../../src/consensus/pob/policy.js";
import { stateCommitmentOf, type CommitmentParts } from "../../../src/consensus/pob/finalization.js";
import { REPUTATION_INITIAL, accountsHash, type AccountState } from "../../../src/consensus/pob/believability.js";
import { proposalHash } from "../../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../../src/crypto/schnorr.js";
import { sha256 } from "../../../src/crypto/sha256.js";
import { EpochContextValue, genesisEpochContext } from "../../../src/epoch/context.js";
import { verifyTranscript } from "../../../src/epoch/drp/transcript.js";
import { decodeIdentityConfiguration } from "../../../src/epoch/identity/configuration.js";
import { verifyIdentityChain } from "../../../src/epoch/identity/link.js";
import type { EpochContext } from "../../../src/epoch/interface.js";
import type { ConfiguredEpoch } from "../../../src/epoch/transition/interface.js";
import { TRANSITION_MESSAGES, decodeBoundary, decodeLink, decodeProposal, encodeBoundary, encodeLink, encodeProposal, transitionInstances, type Boundary } from "../../../src/epoch/transition/messages.js";
import { EpochTransition } from "../../../src/epoch/transition/transition.js";
import { ELECTION_MESSAGES } from "../../../src/epoch/election/messages.js";
import { DRP_MESSAGE } from "../../../src/epoch/drp/network.js";
import { drawLottery, minimumLottery } from "../../../src/epoch/election/lottery.js";
import { toHex } from "../../../src/hex.js";
import { makeTestGenesis } from "../../../src/ledger/genesis.js";
import type { PeerId } from "../../../src/net/interface.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { merkleRootOfPackedLeaves } from "../../../src/crypto/merkle.js";
import { proveKeyPossession } from "../../../src/consensus/registry.js";
import { TxKind } from "../../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signLeave, signRegistration, signRelease } from "../../../src/ledger/kinds/registration.js";
import { transactionIdOfEncoding } from "../../../src/ledger/kinds/registry.js";
import { deriveTestAccounts } from "../../../src/ledger/genesis.js";
import type { KeyPair } from "../../../src/ledger/keys.js";
import { Simulator } from "../../../src/sim/simulator.js";
import { cosign } from "../../support/cosign.js";

const L = 4;
const { LOTTERY, START } = ELECTION_MESSAGES;
const DELTA_MS = 100;
const verifier = new Ed25519Verifier();
const sameKey = (a: Uint8Array, b: Uint8Array): boolean => toHex(a) === toHex(b);
const [newcomer, funder] = deriveTestAccounts("transition/registrant", 2) as [KeyPair, KeyPair];

/** The newcomer's registration (a bond of 5,000 paid by the funder) for `context`'s chain. */
function registrationOf(context: EpochContext, registrant: KeyPair = newcomer): Uint8Array {
  const chain = context.registry.chainId;
  return registrationKind.encode(signRegistration({
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: registrant.publicKey, bond: 5_000n, chain,
    pop: proveKeyPossession(SchnorrKey.fromSeed(registrant.secretKey), chain), inputs: [{ txid: new Uint8Array(32).fill(7), index: 0, owner: funder.publicKey }], outputs: [],
  }, [funder], registrant).transaction);
}

interface World {
  readonly sim: Simulator;
  readonly context: EpochContext;
  readonly genesis: ReturnType<typeof makeTestGenesis>["genesis"];
  readonly configured: Map<PeerId, ConfiguredEpoch>;
  readonly transitions: Map<PeerId, EpochTransition>;
  /** Each shard's boundary as its honest members hand it in. */
  readonly boundaries: readonly Boundary[];
  /** Each validator's Ed25519 seed, by peer id. */
  readonly secretOf: ReadonlyMap<PeerId, Uint8Array>;
}

/**
 * Shard `shard`'s certificate of epoch 0's last height, signed by its committee, committing to
 * `accounts` (default: its members' accounts as the epoch began), and the acceptance proofs of
 * `changes` (transactions that height included).
 */
function boundaryOf(context: EpochContext, secretOf: Map<string, Uint8Array>, shard: number, rng: SeededRng, changes: readonly Uint8Array[], accounts = context.believability(shard).snapshot()): Boundary {
  const committee = context.leagues(shard).committee.map((key) => SchnorrKey.fromSeed(secretOf.get(toHex(key))!));
  const commitment: CommitmentParts = {
    previous: rng.bytes(32), coreHash: rng.bytes(32), randomness: rng.bytes(32),
    includedRoot: rng.bytes(32), includedCount: 0, bodyRoot: new Uint8Array(32).fill(0xb0), previousBlock: new Uint8Array(32).fill(0xb1), excludedRoot: rng.bytes(32), excludedCount: 0, supply: 1_000_000n, count: 10n,
    accountsHash: accountsHash(accounts), msbHeaderHash: rng.bytes(32),
  };
  const included = Buffer.concat([rng.bytes(32), ...changes.map(transactionIdOfEncoding)]);
  Object.assign(commitment, { includedRoot: merkleRootOfPackedLeaves(included, 32), includedCount: included.length / 32 });
  const proposal = Buffer.concat([rng.bytes(100), stateCommitmentOf(commitment)]);
  const chainId = context.instance(shard).key;
  const view = 0;
  const hash = proposalHash(proposal);
  const signers = committee.map((_, i) => i);
  const prepareCert = cosign(committee, signers, prepareDigest(chainId, L, view, hash), rng, verifier);
  const commitCert = cosign(committee, signers, commitDigest(chainId, L, view, hash, prepareCert, committee.length), rng, verifier);
  const record: FinalityRecord = { height: L, view, proposal, prepareCert, commitCert };
  const prover = new FinalHeightProver({ epoch: context.epoch, shard, batch: context.instance(shard).batch, record, committeeSize: committee.length, commitment, included, excluded: [] });
  return { certificate: prover.certificate(), accounts, changes: changes.map((tx, i) => ({ tx, proof: prover.acceptance(i + 1) })) };
}

interface Options {
  /** Validators (by index) that never run the transition. */
  readonly absent?: readonly number[];
  /** Registrations and leaves shard `shard` finalized in epoch 0. */
  readonly changes?: (shard: number, context: EpochContext, keys: readonly KeyPair[]) => Uint8Array[];
  /** The epoch to reconfigure, from the genesis's epoch 0 (default: epoch 0 itself). */
  readonly previous?: (genesisContext: EpochContext) => EpochContext;
  /** Shard `shard`'s accounts at the end of epoch 0 (default: as the epoch began). */
  readonly accounts?: (shard: number, context: EpochContext) => AccountState[];
  /** Rewrites what validator `index` sends (undefined drops it). */
  readonly byzantine?: (index: number) => ((to: PeerId, type: number, payload: Uint8Array) => Uint8Array | undefined) | undefined;
}

function world(seed: string, validators: number, options: Options = {}): World {
  const { genesis, validators: keys } = makeTestGenesis({ seed: `transition/${seed}`, shardCount: 2, accounts: 2, amount: 10n, validators, stake: 1000n, epochLength: L, pob: DEFAULT_POLICY });
  const context = options.previous?.(genesisEpochContext(genesis)) ?? genesisEpochContext(genesis);
  const secretOf = new Map(keys.map((k) => [toHex(k.publicKey), k.secretKey]));
  const rng = SeededRng.fromSeed(`transition/${seed}/boundaries`);
  const boundaries = Array.from({ length: context.shardCount }, (_, shard) =>
    boundaryOf(context, secretOf, shard, rng, options.changes?.(shard, context, keys) ?? [], options.accounts?.(shard, context)));
  const sim = new Simulator({ seed, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 10 } } });
  const configured = new Map<PeerId, ConfiguredEpoch>();
  const transitions = new Map<PeerId, EpochTransition>();
  const instances = transitionInstances(context.epoch + 1);
  context.validators.forEach((validator, index) => {
    const id = toHex(validator.publicKey);
    sim.addNode(id, ({ transport, clock, rng: nodeRng }) => {
      if (options.absent?.includes(index) === true) return undefined;
      const channel = transport.open(instances.drp);
      const cosiChannel = transport.open(instances.cosi);
      const transition = new EpochTransition(
        { previous: context, deltaMs: DELTA_MS, cosi: { fanout: 4, levelTimeoutMs: 50 } },
        { channel, cosiChannel, clock, rng: nodeRng, secretKey: secretOf.get(id)!, verifier, onConfigured: (result) => configured.set(id, result) },
      );
      transitions.set(id, transition);
      // Each validator hands in its own shard's boundary once its shard is done (shards end at different times).
      const shard = context.shardOf(validator.publicKey)!;
      clock.setTimer(5 + 40 * shard, () => transition.provideBoundary(boundaries[shard]!));
      return transition;
    });
    const interceptor = options.byzantine?.(index);
    if (interceptor !== undefined) sim.network.intercept(id, interceptor);
  });
  return { sim, context, genesis, configured, transitions, boundaries, secretOf };
}

async function runUntil(w: World, done: () => boolean, limitMs = 60_000): Promise<boolean> {
  for (let at = 0; at < limitMs && !done(); at += 20) {
    w.sim.run({ until: w.sim.now() + 20 });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return done();
}

/** Every honest validator is configured with one and the same link, which verifies from the genesis and whose transcript gives its randomness. */
function checkAgreement(w: World, honest: readonly PeerId[]): ConfiguredEpoch {
  const results = honest.map((id) => w.configured.get(id));
  assert.ok(results.every((r) => r !== undefined), `configured: ${results.filter((r) => r !== undefined).length} of ${honest.length}`);
  const first = results[0]!;
  for (const result of results) {
    assert.deepEqual(result!.link, first.link, "one link everywhere");
    assert.deepEqual(result!.transcript, first.transcript);
  }
  const [, epoch1] = verifyIdentityChain(w.genesis, [first.link], verifier);
  assert.equal(epoch1!.epoch, 1);
  const configuration = decodeIdentityConfiguration(first.link.configuration);
  assert.deepEqual(configuration.transcriptHash, sha256(first.transcript));
  assert.deepEqual(verifyTranscript(first.transcript).rnd, epoch1!.randomness, "rnd_1 is the transcript's output");
  assert.deepEqual(configuration.boundaries.map((b) => b.height), [L, L]);
  for (let shard = 0; shard < w.context.shardCount; shard++) {
    assert.deepEqual(epoch1!.members(shard), first.context.members(shard), "the assignment anyone recomputes from the chain");
  }
  return first;
}

describe("epoch transition 0 → 1 (simulator)", () => {
  it("10 honest validators (9 DRP servers, not 3f + 1): one leader, one DRP run, one co-signed configuration, the same link everywhere", async () => {
    const w = world("honest", 10);
    const honest = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => w.configured.size === honest.length), `configured ${w.configured.size} of ${honest.length}`);
    const result = checkAgreement(w, honest);
    assert.notDeepEqual(result.context.randomness, w.context.randomness, "a new randomness");
    for (const transition of w.transitions.values()) assert.equal(transition.stats.rejected, 0);
  });

  it("a registration and a leave final in epoch 0 change the validator set of epoch 1; a leader leaving one out is refused", async () => {
    const leaver = 2;
    const changes = (shard: number, context: EpochContext, keys: readonly KeyPair[]): Uint8Array[] => {
      const leaving = keys.find((k) => sameKey(k.publicKey, context.validators[leaver]!.publicKey))!;
      const leave = registrationKind.encode(signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: leaving.publicKey, bond: context.validators[leaver]!.bond, payout: funder.publicKey }, leaving).transaction);
      return shard === 0 ? [registrationOf(context)] : [leave];
    };
    let omitter: number | undefined;
    const w = world("changes", 10, {
      changes,
      byzantine: (index) => (_to, type, payload) => {
        if (type === START) omitter ??= index;
        if (type !== TRANSITION_MESSAGES.PROPOSAL || omitter !== index) return payload;
        return encodeProposal({ ...decodeProposal(payload), changes: [] });
      },
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => omitter !== undefined && all.filter((_, i) => i !== omitter).every((id) => w.configured.has(id))));
    const honest = all.filter((_, i) => i !== omitter);
    const refusals = new Set(w.sim.logs.entries({ code: "TRANSITION_MISSING_CHANGE" }).map((entry) => entry["node"]));
    assert.deepEqual([...refusals].sort(), [...honest].sort(), "every honest validator refused the proposal without the changes");
    const { context } = checkAgreement(w, honest);
    const keys = context.validators.map((v) => toHex(v.publicKey));
    assert.equal(keys.length, 10, "one joined, one left");
    assert.ok(keys.includes(toHex(newcomer.publicKey)), "the registrant is a validator of epoch 1");
    assert.ok(!keys.includes(all[leaver]!), "the leaver is not");
    assert.equal(context.stakeOf(newcomer.publicKey), 5_000n, "its stake is its bond");
    assert.ok(context.shardOf(newcomer.publicKey) !== undefined, "and it is assigned a shard");
  });

  it("a leader whose link carries another transcript than its configuration names cannot block the epoch: each validator puts back the one it checked", async () => {
    let leader: number | undefined;
    const w = world("bad-link", 8, {
      byzantine: (index) => (_to, type, payload) => {
        if (type === START) leader ??= index;
        if (type !== TRANSITION_MESSAGES.LINK || leader !== index) return payload;
        const { link, transcript } = decodeLink(payload);
        const spoiled = Uint8Array.from(transcript);
        spoiled[spoiled.length - 1]! ^= 1;
        return encodeLink({ link, transcript: spoiled });
      },
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))), "every validator configured the epoch");
    const lottery = decodeIdentityConfiguration(checkAgreement(w, all).link.configuration).lottery;
    assert.equal(lottery.leader, leader, "with the spoiling leader's own configuration: its certificate stands");
    assert.ok([...w.transitions.values()].every((t) => t.stats.abandoned === 0), "no leader was abandoned");
  });

  it("a boundary carrying another shard's change is refused (TRANSITION_BAD_CHANGE); the change still enters by its own shard's boundaries", async () => {
    const probe = world("foreign-change", 8, { changes: (shard, context) => (shard === 0 ? [registrationOf(context)] : []) });
    const foreign = probe.boundaries[0]!.changes;
    const injector = probe.context.validators.findIndex((v) => probe.context.shardOf(v.publicKey) === 1);
    const w = world("foreign-change", 8, {
      changes: (shard, context) => (shard === 0 ? [registrationOf(context)] : []),
      byzantine: (index) => (index !== injector ? undefined : (_to, type, payload) => {
        if (type !== TRANSITION_MESSAGES.BOUNDARY) return payload;
        return encodeBoundary({ ...decodeBoundary(payload), changes: foreign });
      }),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    const { context } = checkAgreement(w, all);
    assert.ok(context.validators.some((v) => sameKey(v.publicKey, newcomer.publicKey)), "the registrant joins through shard 0's boundaries");
    const refusedBy = new Set(w.sim.logs.entries({ peer: all[injector], code: "TRANSITION_BAD_CHANGE" }).map((entry) => entry["node"]));
    assert.equal(refusedBy.size, all.length - 1, "every other validator refused the boundary carrying shard 0's change");
  });

  it("an absent validator's lottery is never seen: the minimum of the others leads view 0", async () => {
    const probe = world("absent", 8);
    const everyone = probe.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(probe, () => probe.configured.size === everyone.length));
    const winner = decodeIdentityConfiguration(checkAgreement(probe, everyone).link.configuration).lottery.leader;
    const w = world("absent", 8, { absent: [winner] });
    const honest = everyone.filter((_, i) => i !== winner);
    assert.ok(await runUntil(w, () => honest.every((id) => w.configured.has(id))));
    const lottery = decodeIdentityConfiguration(checkAgreement(w, honest).link.configuration).lottery;
    assert.notEqual(lottery.leader, winner);
    assert.equal(lottery.view, 0);
  });

  it("the winner of view 0 sends its lottery and nothing more: it is skipped, view 1's winner leads and everyone else agrees", async () => {
    const probe = world("silent-winner", 8);
    const honestProbe = probe.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(probe, () => probe.configured.size === honestProbe.length));
    const winner = decodeIdentityConfiguration(checkAgreement(probe, honestProbe).link.configuration).lottery.leader;
    const w = world("silent-winner", 8, { byzantine: (index) => (index === winner ? (_to, type, payload) => (type === LOTTERY ? payload : undefined) : undefined) });
    const honest = w.context.validators.map((v) => toHex(v.publicKey)).filter((_, i) => i !== winner);
    assert.ok(await runUntil(w, () => honest.every((id) => w.configured.has(id))));
    const lottery = decodeIdentityConfiguration(checkAgreement(w, honest).link.configuration).lottery;
    assert.notEqual(lottery.leader, winner);
    assert.equal(lottery.view, 1, "view 0's winner was skipped");
  });

  it("a leader that falls silent after its election is abandoned at the delivery deadline; the next view's leader configures the epoch", async () => {
    let silenced: number | undefined;
    const w = world("vanishing-leader", 8, {
      byzantine: (index) => (_to, type, payload) => {
        // Whoever sends the first START leads view 0: from then on it says nothing more.
        if (silenced === undefined && type === START) silenced = index;
        return silenced === index && type !== START ? undefined : payload;
      },
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => silenced !== undefined && all.filter((_, i) => i !== silenced).every((id) => w.configured.has(id))));
    const honest = all.filter((_, i) => i !== silenced);
    const lottery = decodeIdentityConfiguration(checkAgreement(w, honest).link.configuration).lottery;
    assert.notEqual(lottery.leader, silenced);
    assert.ok(lottery.view >= 1);
    assert.ok([...w.transitions.values()].some((t) => t.stats.abandoned > 0), "the silent leader was abandoned");
  });

  it("a leader whose DRP run fails (no server's deal reaches it) resigns: everyone skips it at once, long before the delivery deadline, and view 1's leader configures the epoch", async () => {
    let starved: number | undefined;
    let ids: PeerId[] = [];
    const w = world("resigning-leader", 8, {
      byzantine: (index) => (to, type, payload) => {
        // Whoever sends the first START leads view 0: every DRP answer to it is lost.
        if (type === START) starved ??= index;
        return type === DRP_MESSAGE && starved !== undefined && to === ids[starved] ? undefined : payload;
      },
    });
    const all = (ids = w.context.validators.map((v) => toHex(v.publicKey)));
    const starvedId = (): PeerId => all[starved!]!;
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))), "every validator configured the epoch, the starved leader too");
    const configuredAt = w.sim.now();
    const lottery = decodeIdentityConfiguration(checkAgreement(w, all).link.configuration).lottery;
    assert.equal(lottery.view, 1, "view 0's leader was skipped");
    assert.notEqual(lottery.leader, starved);
    assert.equal(w.transitions.get(starvedId())!.stats.resigned, 1, "the starved leader resigned");
    assert.ok([...w.transitions.values()].every((t) => t.stats.abandoned === 1), "everyone left it once");
    assert.ok(configuredAt < 40 * DELTA_MS, `configured at ${configuredAt} virtual ms: the resignation, not the ${40 * DELTA_MS} ms delivery deadline, ended view 0`);
  });

  it("boundaries lost while the links between the shards are down are sent again: once the links heal, every validator configures the epoch", async () => {
    const healAt = 20 * DELTA_MS;
    let lost = 0;
    let shardOfPeer = new Map<PeerId, number>();
    const w = world("lost-boundaries", 8, {
      byzantine: (index) => (to, type, payload) => {
        const from = [...shardOfPeer.keys()][index]!;
        if (type !== TRANSITION_MESSAGES.BOUNDARY || w.sim.now() >= healAt || shardOfPeer.get(to) === shardOfPeer.get(from)) return payload;
        lost++;
        return undefined;
      },
    });
    shardOfPeer = new Map(w.context.validators.map((v) => [toHex(v.publicKey), w.context.shardOf(v.publicKey)!]));
    const all = [...shardOfPeer.keys()];
    assert.ok(await runUntil(w, () => w.sim.now() >= healAt));
    assert.ok(lost > 0, "boundaries were lost");
    assert.equal(w.configured.size, 0, "nobody could begin the election without the other shard's boundary");
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))), "every validator configured the epoch after the links healed");
    checkAgreement(w, all);
  });

  it("a leader that gathers every signature and then withholds the link cannot stop the epoch: the validators locked on its configuration report it, and the next leader re-proposes it", async () => {
    let withholder: number | undefined;
    const w = world("withheld-link", 8, {
      byzantine: (index) => (_to, type, payload) => {
        if (type === START) withholder ??= index;
        return withholder === index && type === TRANSITION_MESSAGES.LINK ? undefined : payload;
      },
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => withholder !== undefined && all.every((id) => w.configured.has(id))), "every validator configured the epoch");
    const honest = all.filter((_, i) => i !== withholder);
    const { link } = checkAgreement(w, honest);
    const lottery = decodeIdentityConfiguration(link.configuration).lottery;
    assert.deepEqual([lottery.view, lottery.leader], [0, withholder], "the withholder's own configuration, certified by the next leader's CoSi");
    assert.deepEqual(w.configured.get(all[withholder!]!)!.link.configuration, link.configuration, "the one the withholder certified alone (another certificate, the same epoch)");
    assert.ok(honest.every((id) => w.transitions.get(id)!.stats.abandoned === 1), "each honest validator abandoned the withholder, and only it");
  });

  it("a leader that is not locked learns the lock from the validators that are (LOCK) and re-proposes it in its view; a forged LOCK is refused", async () => {
    let ids: PeerId[] = [];
    let withholder = -1;
    let next = -1;
    let reporter = -1;
    const w = world("reported-lock", 8, {
      byzantine: (index) => (to, type, payload) => {
        // View 0's winner keeps its proposal from view 1's winner (so that one never agrees to it) and withholds its link.
        if (index === withholder) return type === TRANSITION_MESSAGES.LINK || (type === TRANSITION_MESSAGES.PROPOSAL && to === ids[next]) ? undefined : payload;
        // Every other validator but one honest reporter forges the lock it reports.
        if (index === reporter || index === next || type !== TRANSITION_MESSAGES.LOCK) return payload;
        const proposal = decodeProposal(payload);
        const configuration = Uint8Array.from(proposal.configuration);
        configuration[configuration.length - 4 - (4 + 2 * 40) - (4 + 80 + 4) - 32 - 1]! ^= 1;
        return encodeProposal({ ...proposal, configuration });
      },
    });
    ids = w.context.validators.map((v) => toHex(v.publicKey));
    // The winners of views 0 and 1 (the lotteries are VRF outputs: known from the keys); the honest reporter is any third validator.
    const winner = (view: number, excluded: readonly number[]): number =>
      minimumLottery(ids.map((id, i) => drawLottery(w.secretOf.get(id)!, i, w.context.configurationHash, view)).filter((l) => !excluded.includes(l.validator)))!.validator;
    withholder = winner(0, []);
    next = winner(1, [withholder]);
    reporter = ids.findIndex((_, i) => i !== withholder && i !== next);
    assert.ok(await runUntil(w, () => ids.every((id) => w.configured.has(id))), "every validator configured the epoch");
    const honest = ids.filter((_, i) => i !== withholder);
    const lottery = decodeIdentityConfiguration(checkAgreement(w, honest).link.configuration).lottery;
    assert.deepEqual([lottery.view, lottery.leader], [0, withholder], "the withholder's configuration, re-proposed");
    const leader = w.transitions.get(ids[next]!)!;
    assert.equal(leader.stats.resigned, 0, "view 1's leader got it co-signed in its own view: it learned the lock");
    assert.ok(honest.every((id) => w.transitions.get(id)!.stats.abandoned === 1), "one view skipped, no more");
    const forgers = ids.filter((_, i) => i !== withholder && i !== next && i !== reporter);
    const refused = w.sim.logs.entries({ node: ids[next], code: "TRANSITION_BAD_CONFIGURATION" }).map((entry) => entry["peer"]);
    assert.ok(refused.length > 0 && refused.every((peer) => forgers.includes(peer as PeerId)), "the forged LOCKs it examined were refused, the honest one adopted");
  });

  it("a forged boundary (one flipped byte of the commit certificate) is refused everywhere; the honest members' certificates carry the epoch on", async () => {
    const forger = 0;
    const w = world("forged-boundary", 8, {
      byzantine: (index) => (index !== forger ? undefined : (_to, type, payload) => {
        if (type !== TRANSITION_MESSAGES.BOUNDARY) return payload;
        const boundary = decodeBoundary(payload);
        const certificate = Uint8Array.from(boundary.certificate);
        // The commit certificate's last signature byte: the commitment parts (6 hashes, two u32, two u64) follow it.
        certificate[certificate.length - (6 * 32 + 8 + 16) - 1]! ^= 1;
        return encodeBoundary({ ...boundary, certificate });
      }),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    checkAgreement(w, all);
    const refusedBy = new Set(w.sim.logs.entries({ peer: all[forger] }).filter((entry) => String(entry["code"]).startsWith("TX_PROOF_")).map((entry) => entry["node"]));
    assert.equal(refusedBy.size, all.length - 1, "every other validator refused the forged certificate");
  });

  it("a leader proposing a randomness other than its transcript's is refused by everyone, abandoned, and an honest leader configures the epoch", async () => {
    let liar: number | undefined;
    let lied = false;
    const w = world("lying-leader", 8, {
      byzantine: (index) => (_to, type, payload) => {
        if (type === START) liar ??= index;
        if (type !== TRANSITION_MESSAGES.PROPOSAL || liar !== index) return payload;
        const proposal = decodeProposal(payload);
        const configuration = Uint8Array.from(proposal.configuration);
        // The configuration ends with rnd [32] ‖ transcript hash [32] ‖ lottery (u32 ‖ proof [80] ‖ u32) ‖ u32 m ‖ m × (u64 ‖ [32]) ‖ u32 d (no departure).
        configuration[configuration.length - 4 - (4 + 2 * 40) - (4 + 80 + 4) - 32 - 1]! ^= 1;
        lied = true;
        return encodeProposal({ ...proposal, configuration });
      },
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => liar !== undefined && all.filter((_, i) => i !== liar).every((id) => w.configured.has(id))));
    const honest = all.filter((_, i) => i !== liar);
    const refusals = new Set(w.sim.logs.entries({ code: "TRANSITION_BAD_CONFIGURATION" }).map((entry) => entry["node"]));
    assert.deepEqual([...refusals].sort(), [...honest].sort(), "every honest validator refused the lie");
    const lottery = decodeIdentityConfiguration(checkAgreement(w, honest).link.configuration).lottery;
    assert.ok(lied, "the liar sent its lie");
    assert.notEqual(lottery.leader, liar, "the liar's configuration was never signed");
    assert.ok([...w.transitions.values()].some((t) => t.stats.abandoned > 0));
  });
  it("every validator carries its shard's certified end-of-epoch Servi and reputation into the next configuration; a newcomer starts at the initial values", async () => {
    const scoreOf = (publicKey: Uint8Array) => ({ servi: publicKey[0]! % 40, reputation: 300 + (publicKey[1]! % 700) });
    const w = world("carried-scores", 8, {
      changes: (shard, context) => (shard === 0 ? [registrationOf(context)] : []),
      accounts: (shard, context) => context.believability(shard).snapshot().map((account) => ({ ...account, ...scoreOf(account.publicKey) })),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    const { context, link } = checkAgreement(w, all);
    const [, epoch1] = verifyIdentityChain(w.genesis, [link], verifier);
    for (const next of [context, epoch1!]) {
      for (const validator of next.validators) {
        const expected = sameKey(validator.publicKey, newcomer.publicKey) ? { servi: 0, reputation: REPUTATION_INITIAL } : scoreOf(validator.publicKey);
        assert.deepEqual({ servi: validator.servi, reputation: validator.reputation }, expected, `${toHex(validator.publicKey).slice(0, 8)}'s carried score`);
        const account = next.believability(next.shardOf(validator.publicKey)!).get(validator.publicKey);
        assert.deepEqual({ servi: account.servi, reputation: account.reputation, stake: account.stake }, { ...expected, stake: validator.stake }, "epoch 1's accounts start from it");
      }
    }
    const configuration = decodeIdentityConfiguration(link.configuration);
    assert.deepEqual(configuration.validators.map((v) => [toHex(v.publicKey), v.servi, v.reputation]), context.validators.map((v) => [toHex(v.publicKey), v.servi, v.reputation]), "the configuration states every score");
    for (let shard = 0; shard < context.shardCount; shard++) {
      assert.deepEqual(epoch1!.leagues(shard).believable.map(toHex), context.leagues(shard).believable.map(toHex), "a third party holding the link draws the members' leagues");
    }
  });

  it("a boundary whose accounts are not the certified ones is refused everywhere (TRANSITION_BAD_ACCOUNTS); the honest members' boundaries carry the certified scores", async () => {
    const probe = world("forged-accounts", 8);
    const forger = probe.context.validators.findIndex((v) => probe.context.shardOf(v.publicKey) === 0);
    const forgerKey = probe.context.validators[forger]!.publicKey;
    const w = world("forged-accounts", 8, {
      byzantine: (index) => (index !== forger ? undefined : (_to, type, payload) => {
        if (type !== TRANSITION_MESSAGES.BOUNDARY) return payload;
        const boundary = decodeBoundary(payload);
        // The forger raises its own score: the certificate stays the shard's real one.
        const accounts = boundary.accounts.map((a) => (sameKey(a.publicKey, forgerKey) ? { ...a, servi: 1_000_000, reputation: 1000 } : a));
        return encodeBoundary({ ...boundary, accounts });
      }),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    const { context } = checkAgreement(w, all);
    const refusedBy = new Set(w.sim.logs.entries({ peer: all[forger], code: "TRANSITION_BAD_ACCOUNTS" }).map((entry) => entry["node"]));
    assert.equal(refusedBy.size, all.length - 1, "every other validator refused the forged accounts");
    const forged = context.validators.find((v) => sameKey(v.publicKey, forgerKey))!;
    assert.deepEqual({ servi: forged.servi, reputation: forged.reputation }, { servi: 0, reputation: REPUTATION_INITIAL }, "its score is the certified one");
  });

  it("a validator slashed in epoch 0 is out of epoch 1 for good: no seat, no departure, its re-registration ignored; a leaver departs with its payout and release epoch 2", async () => {
    const genesisContext = world("slashed-out", 8).context;
    const slashedKey = genesisContext.validators[1]!.publicKey;
    const leaverKey = genesisContext.validators[2]!.publicKey;
    const w = world("slashed-out", 8, {
      changes: (shard, context, keys) => {
        const keyOf = (publicKey: Uint8Array) => keys.find((k) => sameKey(k.publicKey, publicKey))!;
        const txs: Uint8Array[] = [];
        if (shard === context.shardOf(slashedKey)) txs.push(registrationOf(context, keyOf(slashedKey)));
        if (shard === context.shardOf(leaverKey)) {
          const bond = context.bondOf(leaverKey)!.outpoint;
          txs.push(registrationKind.encode(signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: leaverKey, bond, payout: funder.publicKey }, keyOf(leaverKey)).transaction));
        }
        return txs;
      },
      // What a slashing leaves in the accounts (believability.ts `slash`): stake, Servi and reputation zeroed, excluded.
      accounts: (shard, context) => context.believability(shard).snapshot().map((a) => (sameKey(a.publicKey, slashedKey) ? { ...a, stake: 0n, servi: 0, reputation: 0, excluded: true } : a)),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    const { context } = checkAgreement(w, all);
    assert.equal(context.validators.length, 6, "8 less the slashed one and the leaver");
    assert.equal(context.shardOf(slashedKey), undefined, "the slashed validator has no seat, not even in a normal league");
    assert.equal(context.shardOf(leaverKey), undefined);
    assert.deepEqual(context.departures.map((d) => [toHex(d.validator), toHex(d.bond), toHex(d.payout), d.releaseEpoch]),
      [[toHex(leaverKey), toHex(w.context.bondOf(leaverKey)!.outpoint), toHex(funder.publicKey), 2]], "only the leaver's bond awaits release (the slashed bond is spent)");
    assert.deepEqual(context.departureOf(w.context.bondOf(leaverKey)!.outpoint)?.releaseEpoch, 2);
    for (let shard = 0; shard < context.shardCount; shard++) assert.ok(!context.leagues(shard).believable.some((key) => sameKey(key, slashedKey)));
  });

  it("departures carry over until a release final in the epoch spends their bond", async () => {
    const [gone, kept] = deriveTestAccounts("transition/departed", 2) as [KeyPair, KeyPair];
    const departures = [gone, kept].map((pair, i) => ({ validator: pair.publicKey, bond: Uint8Array.from({ length: 36 }, (_, j) => (j === 35 ? 0x80 : i + 1)), payout: funder.publicKey, releaseEpoch: 1 }));
    const release = registrationKind.encode(signRelease({
      kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Release, validator: gone.publicKey, bond: departures[0]!.bond, amount: 1_000n, payout: funder.publicKey,
    }, gone).transaction);
    const w = world("departures", 8, {
      previous: (genesisContext) => new EpochContextValue({
        chain: genesisContext.chain, epoch: 1, randomness: genesisContext.randomness, shardCount: genesisContext.shardCount, startHeight: L, epochLength: L,
        validators: genesisContext.validators, registry: genesisContext.registry, policy: genesisContext.policy!, configurationHash: sha256(genesisContext.chain), departures,
      }),
      changes: (shard) => (shard === 0 ? [release] : []),
    });
    const all = w.context.validators.map((v) => toHex(v.publicKey));
    assert.ok(await runUntil(w, () => all.every((id) => w.configured.has(id))));
    const links = new Set([...w.configured.values()].map((result) => toHex(result.link.configuration)));
    assert.equal(links.size, 1, "one configuration everywhere");
    const { context } = [...w.configured.values()][0]!;
    assert.equal(context.epoch, 2);
    assert.deepEqual(context.departures.map((d) => toHex(d.validator)), [toHex(kept.publicKey)], "the released bond is gone from the list, the other stays");
  });
});
