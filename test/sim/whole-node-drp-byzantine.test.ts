// Whole PoB validators (src/sim/validator-cluster.ts) living through several epochs while the
// randomness of every epoch transition (src/epoch/transition, DRP of src/epoch/drp) is attacked:
//
//   leader   whoever leads a transition's first view (sends its START) is byzantine on the wire,
//            one way per epoch, rotating through the case's plan:
//              withhold-choice    runs DRP up to the deals, then never sends T' (l2)
//              withhold-reveal    sends T', gets it co-signed, never sends l3
//              short-choice       sends a T' with a group below its threshold (re-signed)
//              unverifiable-deal  sends a T' choosing a deal whose every share was moved
//              bad-transcript     proposes with a transcript that does not verify
//              bad-randomness     proposes a configuration whose rnd is not its transcript's
//            Honest servers refuse a bad T' (DRP_BAD_CHOICE), honest validators a bad proposal
//            (TRANSITION_BAD_TRANSCRIPT, TRANSITION_BAD_CONFIGURATION), each with its code in the
//            sim logs; every such leader is abandoned at its delivery deadline and a later view's
//            leader configures the epoch.
//   servers  two validators are faulty DRP servers throughout: one never answers a DRP client, one
//            deals shares that do not verify and decrypts shares with bad proofs. Algorithm 2
//            leaves them out (the silent one outside W, the bad dealer outside T', its decryptions
//            skipped) and every run still succeeds: 7 servers, f = 2.
//
// Under a light load of chained transfers (epoch-load.ts), every validator reaches the target
// epoch; all hold one identity chain verified from the genesis, hence one rnd_e, assignment and
// set of leagues per epoch; each epoch's transcript verifies, its rnd is the configuration's, and
// names the faulty servers only as Algorithm 2 allows; every transfer is final on every replica of
// its shard, the replicas hold the same blocks, and the supply is the genesis's less the fees.
// CI runs one seed per case; `WHOLE_NODE_SEEDS=N` adds N more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { decodeConfig } from "../../src/epoch/drp/config.js";
import { RistrettoPoint } from "../../src/epoch/drp/dleq.js";
import {
  CLIENT_SENDER,
  MessageKind,
  decodeAnnounce,
  decodeChoice,
  decodeDealMessage,
  decodeDecryption,
  decodeEnvelope,
  decodeReveal,
  encodeChoice,
  encodeDealMessage,
  encodeDecryption,
  signEnvelope,
  type SignedMessage,
} from "../../src/epoch/drp/messages.js";
import { DRP_MESSAGE } from "../../src/epoch/drp/network.js";
import { decodeDeal, encodeDeal } from "../../src/epoch/drp/pvss.js";
import { decodeTranscriptParts, verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { ELECTION_MESSAGES, decodeStart } from "../../src/epoch/election/messages.js";
import { decodeIdentityConfiguration, encodeIdentityConfiguration } from "../../src/epoch/identity/configuration.js";
import { TRANSITION_MESSAGES, decodeProposal, encodeProposal } from "../../src/epoch/transition/messages.js";
import { toHex } from "../../src/hex.js";
import type { MessageType, PeerId } from "../../src/net/interface.js";
import { simSeed } from "../../src/sim/simulator.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { checkIdentityChains, checkShardChains, payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster } from "./pob-cluster.js";

const L = 8;
const EPOCHS = 3;
const SHARDS = 2;
const PER_SHARD = 4;
const ROUNDS = 4;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.5, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
/** Every validator but the leader serves each DRP run: 7 servers, f = 2, in one group (transition.ts: about 16 per group). */
const SERVERS = SHARDS * PER_SHARD - 1;
const GROUPS = 1;

type LeaderFault = "withhold-choice" | "withhold-reveal" | "short-choice" | "unverifiable-deal" | "bad-transcript" | "bad-randomness";

/** What honest validators refuse each fault with (subsystem "drp": the transition's channel), if anything: withholding is only abandoned. */
const REFUSAL: Record<LeaderFault, string | undefined> = {
  "withhold-choice": undefined,
  "withhold-reveal": undefined,
  "short-choice": "DRP_BAD_CHOICE",
  "unverifiable-deal": "DRP_BAD_CHOICE",
  "bad-transcript": "TRANSITION_BAD_TRANSCRIPT",
  "bad-randomness": "TRANSITION_BAD_CONFIGURATION",
};

/** The byzantine leader of one epoch's transition: its id, its view and, once it announced, its DRP session. */
interface ByzantineLeader {
  readonly id: PeerId;
  readonly view: number;
  readonly fault: LeaderFault;
  sessionId?: string;
}

const PURPOSE = /^IOSChain epoch (\d+) view (\d+)$/;

/** A moved point: on the curve, not the one its proof or commitments speak for. */
const moved = (point: RistrettoPoint): RistrettoPoint => point.add(RistrettoPoint.BASE);

async function run(seed: string, plan: readonly LeaderFault[]) {
  const { sim, genesis, accounts, validators: keys, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-drp-byzantine", policy: POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: 8 * SHARDS, amount: AMOUNT, epochLength: L,
  });
  const ids = Array.from({ length: SHARDS }, (_, shard) => cluster.members(shard)).flat();
  const secretOf = new Map(keys.map((key) => [toHex(key.publicKey), key.secretKey]));
  const [silent, badDealer] = [ids[1]!, ids[PER_SHARD + 1]!];
  const leaders = new Map<number, ByzantineLeader>();
  const resign = (id: PeerId, message: SignedMessage, body: Uint8Array): Uint8Array => signEnvelope(message.kind, message.sender, body, secretOf.get(id)!).bytes;

  /** The faulty servers' replies: the silent one sends none, the bad dealer moves every share it deals and decrypts. */
  const asServer = (id: PeerId, message: SignedMessage, payload: Uint8Array): Uint8Array | undefined => {
    if (id === silent) return undefined;
    if (id !== badDealer) return payload;
    if (message.kind === MessageKind.deal) {
      const { replyTo, commitment, deal } = decodeDealMessage(message.body);
      return resign(id, message, encodeDealMessage(replyTo, commitment, encodeDeal({ ...deal, shares: deal.shares.map((share) => ({ ...share, point: moved(share.point) })) })));
    }
    if (message.kind === MessageKind.decryption) {
      const { replyTo, shares } = decodeDecryption(message.body, SERVERS);
      return resign(id, message, encodeDecryption({ replyTo, shares: shares.map(({ dealer, share }) => ({ dealer, share: { ...share, point: moved(share.point) } })) }));
    }
    return payload;
  };

  /** A byzantine leader's DRP client messages of its own view: withheld or a T' that breaks the rules, re-signed. */
  const asClient = (id: PeerId, message: SignedMessage, payload: Uint8Array): Uint8Array | undefined => {
    if (message.kind === MessageKind.announce) {
      const { sessionId, config } = decodeAnnounce(message.body);
      const [, epoch, view] = PURPOSE.exec(decodeConfig(config).purpose) ?? [];
      const leader = leaders.get(Number(epoch));
      if (leader?.id === id && leader.view === Number(view)) leader.sessionId = toHex(sessionId);
      return payload;
    }
    const sessionOf = (sessionId: Uint8Array) => [...leaders.values()].find((candidate) => candidate.id === id && candidate.sessionId === toHex(sessionId));
    if (message.kind === MessageKind.reveal) return sessionOf(decodeReveal(message.body, SERVERS).sessionId)?.fault === "withhold-reveal" ? undefined : payload;
    if (message.kind !== MessageKind.choice) return payload;
    const choice = decodeChoice(message.body, SERVERS, GROUPS);
    const leader = sessionOf(choice.sessionId);
    if (leader === undefined) return payload;
    if (leader.fault === "withhold-choice") return undefined;
    if (leader.fault === "short-choice") return resign(id, message, encodeChoice({ ...choice, chosen: [choice.chosen[0]!.slice(1)], deals: choice.deals.slice(1) }, SERVERS));
    if (leader.fault === "unverifiable-deal") {
      const [first, ...rest] = choice.deals;
      const deal = decodeDeal(first!);
      const spoiled = encodeDeal({ ...deal, shares: deal.shares.map((share) => ({ ...share, point: moved(share.point) })) });
      return resign(id, message, encodeChoice({ ...choice, deals: [spoiled, ...rest] }, SERVERS));
    }
    return payload;
  };

  /** A byzantine leader's proposal of its own view: another transcript, or another rnd. */
  const asProposer = (id: PeerId, payload: Uint8Array): Uint8Array => {
    const proposal = decodeProposal(payload);
    const configuration = decodeIdentityConfiguration(proposal.configuration);
    const leader = leaders.get(configuration.epoch);
    if (leader?.id !== id || leader.view !== configuration.lottery.view) return payload;
    if (leader.fault === "bad-transcript") {
      const transcript = Uint8Array.from(proposal.transcript);
      transcript[transcript.length - 1]! ^= 1;
      return encodeProposal({ ...proposal, transcript });
    }
    if (leader.fault === "bad-randomness") {
      const randomness = Uint8Array.from(configuration.randomness);
      randomness[0]! ^= 1;
      return encodeProposal({ ...proposal, configuration: encodeIdentityConfiguration({ ...configuration, randomness }) });
    }
    return payload;
  };

  for (const id of ids) {
    sim.network.intercept(id, (_to: PeerId, type: MessageType, payload: Uint8Array) => {
      if (type === ELECTION_MESSAGES.START) {
        // The first START of an epoch's transition that its own lottery winner sends makes that winner the epoch's byzantine leader.
        const start = decodeStart(payload);
        const previous = cluster.node(id)?.contexts[start.epoch - 1];
        const fault = plan[start.epoch - 1];
        if (fault !== undefined && !leaders.has(start.epoch) && previous !== undefined && toHex(previous.validators[start.validator]!.publicKey) === id) {
          leaders.set(start.epoch, { id, view: start.view, fault });
        }
        return payload;
      }
      if (type === DRP_MESSAGE) {
        const message = decodeEnvelope(payload);
        return message.sender === CLIENT_SENDER ? asClient(id, message, payload) : asServer(id, message, payload);
      }
      return type === TRANSITION_MESSAGES.PROPOSAL ? asProposer(id, payload) : payload;
    });
  }

  const load = payInRounds(cluster, accounts, positions, { rounds: ROUNDS, amount: AMOUNT, fee: FEE });
  const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
  const done = () => running().length === ids.length && running().every((node) => node.context.epoch >= EPOCHS) && load.allFinal();
  assert.ok(await cluster.advance(600_000, done),
    `${seed}: every validator reaches epoch ${EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, heights ${running().map((n) => n.state.tip.height).join()}, submitted ${load.txids.size}/${load.total}, leaders ${JSON.stringify([...leaders])}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);

  // Every node runs honest code (the faults are on the wire): all of them hold the one chain.
  const nodes = running();
  const contexts = checkIdentityChains(seed, genesis, nodes, EPOCHS);
  await cluster.advance(1_000);
  checkShardChains(seed, cluster, genesis, EPOCHS, L, FEE * BigInt(load.total));

  const expected = new Set<string>();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const leader = leaders.get(epoch);
    assert.ok(leader !== undefined, `${seed}: a byzantine leader ran epoch ${epoch}'s transition (${plan[epoch - 1]})`);
    const previous = contexts[epoch - 1]!;
    const indexOf = (id: PeerId) => previous.validators.findIndex((v) => toHex(v.publicKey) === id);
    const { lottery, transcriptHash, randomness } = decodeIdentityConfiguration(nodes[0]!.archive.epochLink(epoch)!.configuration);
    assert.ok(lottery.view > leader.view && lottery.leader !== indexOf(leader.id), `${seed}: epoch ${epoch} (${leader.fault}): the byzantine leader of view ${leader.view} was abandoned, view ${lottery.view}'s leader configured it`);
    if (leader.fault !== "withhold-choice" && leader.fault !== "bad-transcript" && leader.fault !== "bad-randomness") {
      assert.ok(leader.sessionId !== undefined, `${seed}: epoch ${epoch}'s byzantine leader ran DRP`);
    }

    // The transcript every node keeps is the configuration's, verifies, gives rnd_e and leaves the faulty servers out as Algorithm 2 prescribes.
    const transcript = nodes[0]!.archive.epochTranscript(epoch)!;
    for (const node of nodes) assert.equal(toHex(node.archive.epochTranscript(epoch)!), toHex(transcript), `${seed}: one transcript of epoch ${epoch}`);
    assert.equal(toHex(sha256(transcript)), toHex(transcriptHash));
    assert.equal(toHex(verifyTranscript(transcript).rnd), toHex(randomness), `${seed}: rnd_${epoch} is its transcript's output`);
    const parts = decodeTranscriptParts(transcript);
    const config = decodeConfig(parts.config);
    const serverOf = (id: PeerId) => config.servers.findIndex((server) => toHex(server.signingKey) === id);
    const choice = decodeChoice(decodeEnvelope(parts.choice).body, config.servers.length, config.groups.length);
    if (serverOf(silent) >= 0) assert.ok(!choice.committed.includes(serverOf(silent)), `${seed}: epoch ${epoch}: the silent server is outside W`);
    if (serverOf(badDealer) >= 0) {
      assert.ok(choice.committed.includes(serverOf(badDealer)), `${seed}: epoch ${epoch}: the bad dealer's deal was recorded`);
      assert.ok(!choice.chosen.flat().includes(serverOf(badDealer)), `${seed}: epoch ${epoch}: the bad dealer is outside T'`);
    }

    // Each honest validator refused the leader's misbehaviour with its code.
    const code = REFUSAL[leader.fault];
    if (code === undefined) continue;
    expected.add(code);
    const refusedBy = new Set(sim.logs.entries({ peer: leader.id, code }).map((entry) => entry["node"]));
    // A bad T' is checked by every DRP server in W: all but the leader and the silent server (which runs honest code, but its deal never reached W).
    const refusers = ids.filter((id) => id !== leader.id && (code !== "DRP_BAD_CHOICE" || id !== silent));
    for (const id of refusers) assert.ok(refusedBy.has(id), `${seed}: epoch ${epoch}: ${id.slice(0, 8)} refused the ${leader.fault} leader with ${code} (refused by ${[...refusedBy].map((r) => String(r).slice(0, 8)).join()})`);
  }
  // Nothing else was refused: every coded refusal is one the plan provokes.
  const unexpected = cluster.handlerFailureCodes.filter((entry) => ![...expected].some((code) => entry.startsWith(`drp:${code} `)));
  assert.deepEqual(unexpected, [], `${seed}: no other handler failure`);
  await cluster.stop();
}

describe("whole PoB validators across epochs with a byzantine DRP leader and faulty DRP servers", () => {
  for (const seed of caseSeeds("drp-byzantine", 1)) {
    it(`${seed}: leaders withhold T', send a T' below threshold, propose a transcript that does not verify; a silent and a bad-share server throughout`, async () => {
      await run(`${seed}/withhold-short-transcript`, ["withhold-choice", "short-choice", "bad-transcript"]);
    });
    it(`${seed}: leaders choose an unverifiable deal, propose another rnd, withhold l3; a silent and a bad-share server throughout`, async () => {
      await run(`${seed}/deal-randomness-reveal`, ["unverifiable-deal", "bad-randomness", "withhold-reveal"]);
    });
  }
});
