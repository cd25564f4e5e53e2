/**
 * CoSi on the deterministic simulator with real keys and real signatures
 * (src/consensus/cosi/protocol.ts). Honest trees of every size and fan-out sign with a full mask;
 * f silent, f bad-partial and f equivocating validators are left out and the signature still
 * verifies; f + 1 silent ones stop it without a false signature; a crashed inner node sends the
 * leader to the star; loss, duplication and jitter are absorbed by retries. Every signature is
 * checked offline and, under the aggregate key, by node:crypto and @noble/curves. Each scenario
 * names its seed on failure; IOS_SIM_SEED replays one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey, challengeScalar, checkPartial } from "../../src/crypto/schnorr.js";
import {
  COSI_MESSAGES,
  cosiThreshold,
  decodeMaskedValue,
  encodeAnnounce,
  encodeMaskedValue,
  sessionId,
  verifyCollectiveSignature,
} from "../../src/consensus/cosi/codec.js";
import { hasBit, popcount } from "../../src/consensus/cosi/mask.js";
import { CosiNode, MAX_PATIENCE, type CosiResult, type LeaderSession } from "../../src/consensus/cosi/protocol.js";
import { TreeLayout } from "../../src/consensus/cosi/tree.js";
import { ValidatorRegistry, proveKeyPossession } from "../../src/consensus/registry.js";
import { IosError } from "../../src/errors.js";
import type { Channel, MessageHandler, MessageType, PeerId } from "../../src/net/interface.js";
import type { Rng } from "../../src/runtime/interface.js";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import { testChannel } from "../sim/protocols.js";
import type { LinkConfig } from "../../src/sim/link.js";
import { SeededRng, type Seed } from "../../src/runtime/seeded-rng.js";

const CHAIN = new TextEncoder().encode("ioschain-cosi-test");
const SPKI_ED25519_PREFIX = Uint8Array.from(Buffer.from("302a300506032b6570032100", "hex"));
const verifier = new Ed25519Verifier();
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

type Behaviour = "honest" | "silent" | "bad-partial" | "equivocate";

interface Scenario {
  n: number;
  fanout: number;
  seed: Seed;
  /** Behaviour by registry index; unlisted validators are honest. */
  faulty?: Map<number, Behaviour>;
  link?: Partial<LinkConfig>;
  levelTimeoutMs?: number;
  maxAttempts?: number;
  /** Registry indices whose application declines every message. */
  declining?: ReadonlySet<number>;
}

/** Wraps a node's channel so that what it sends is rewritten by `rewrite` (a byzantine node). */
function byzantineChannel(inner: Channel, rewrite: (to: PeerId, type: MessageType, payload: Uint8Array) => [PeerId, Uint8Array][]): Channel {
  return {
    self: inner.self,
    instance: inner.instance,
    get isOpen() {
      return inner.isOpen;
    },
    send: (to, type, payload) => {
      for (const [target, bytes] of rewrite(to, type, payload)) inner.send(target, type, bytes);
    },
    broadcast: (group, type, payload) => {
      for (const peer of group) if (peer !== inner.self) for (const [target, bytes] of rewrite(peer, type, payload)) inner.send(target, type, bytes);
    },
    on: (type: MessageType, handler: MessageHandler) => inner.on(type, handler),
    close: () => inner.close(),
  };
}

function randomPoint(rng: Rng): Uint8Array {
  return ed25519.Point.BASE.multiply(1n + BigInt(rng.nextU32())).toBytes();
}

/** A canonical scalar (top nibble clear keeps it below L) unrelated to the real response. */
function randomScalar(rng: Rng): Uint8Array {
  const bytes = rng.bytes(32);
  bytes[31] = bytes[31]! & 0x0f;
  return bytes;
}

function behaviourChannel(behaviour: Behaviour, inner: Channel, n: number, peers: readonly PeerId[], rng: Rng): Channel {
  if (behaviour === "bad-partial") {
    return byzantineChannel(inner, (to, type, payload) => {
      if (type !== COSI_MESSAGES.RESPONSE) return [[to, payload]];
      const response = decodeMaskedValue(payload, n, "scalar");
      return [[to, encodeMaskedValue(response, response.mask, randomScalar(rng))]];
    });
  }
  if (behaviour === "equivocate") {
    return byzantineChannel(inner, (to, type, payload) => {
      if (type !== COSI_MESSAGES.COMMIT) return [[to, payload]];
      const commit = decodeMaskedValue(payload, n, "point");
      const out: [PeerId, Uint8Array][] = [[to, payload]];
      for (const peer of peers) if (peer !== inner.self) out.push([peer, encodeMaskedValue(commit, commit.mask, randomPoint(rng))]);
      return out;
    });
  }
  return inner;
}

function setup(scenario: Scenario) {
  const seed = simSeed(scenario.seed);
  const sim = new Simulator({ seed, ...(scenario.link === undefined ? {} : { defaultLink: scenario.link }) });
  const keyRng = sim.rng("keys");
  const keys = Array.from({ length: scenario.n }, () => SchnorrKey.fromSeed(keyRng.bytes(32)));
  const registry = new ValidatorRegistry(CHAIN);
  for (const key of keys) registry.register(key.publicKey, proveKeyPossession(key, CHAIN));
  const participants = registry.publicKeys();
  const peers = participants.map(hexOf);
  const keyByPeer = new Map(keys.map((key) => [hexOf(key.publicKey), key]));
  const behaviourOf = (index: number): Behaviour => scenario.faulty?.get(index) ?? "honest";
  const config = {
    participants,
    fanout: scenario.fanout,
    levelTimeoutMs: scenario.levelTimeoutMs ?? 20,
    ...(scenario.maxAttempts === undefined ? {} : { maxAttempts: scenario.maxAttempts }),
  };
  peers.forEach((peer, index) => {
    const behaviour = behaviourOf(index);
    sim.addNode(peer, ({ transport, clock, rng }) => {
      if (behaviour === "silent") return undefined;
      const wire = behaviourChannel(behaviour, testChannel(transport), scenario.n, peers, sim.rng(`byzantine/${peer}`));
      const approve = scenario.declining?.has(index) === true ? () => false : undefined;
      return new CosiNode(config, { channel: wire, clock, rng, key: keyByPeer.get(peer)!, verifier, ...(approve === undefined ? {} : { approve }) });
    });
  });
  sim.run({ until: 0 });
  const node = (index: number): CosiNode => {
    const instance = sim.node<CosiNode | undefined>(peers[index]!).instance;
    assert.ok(instance !== undefined, `node ${index} is not running`);
    return instance;
  };
  return { sim, seed, participants, peers, node, config };
}

/** Runs one session led by `leader` to its end and returns its result. */
function runSession(s: ReturnType<typeof setup>, leader: number, round: number, message: Uint8Array): CosiResult {
  let session: LeaderSession | undefined;
  s.sim.schedule(0, `sign round ${round}`, () => {
    session = s.node(leader).sign(round, message);
  });
  s.sim.runUntil(() => session?.result !== undefined, { until: s.sim.now() + 60_000 });
  assert.ok(session?.result !== undefined, `session did not finish (seed ${JSON.stringify(s.seed)})`);
  return session.result;
}

function nodeVerifies(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
  return nodeVerify(null, message, key, signature);
}

/** The signature verifies offline, and as plain Ed25519 under the aggregate key with node:crypto and noble. */
function assertValid(s: ReturnType<typeof setup>, result: CosiResult, message: Uint8Array, context: string): Uint8Array {
  assert.ok(result.ok, `${context}: ${JSON.stringify(result)}`);
  const { mask, signature } = result.signature;
  assert.ok(popcount(mask) >= cosiThreshold(s.participants.length), context);
  assert.ok(verifyCollectiveSignature(s.participants, message, result.signature), context);
  const aggregate = verifier.aggregateKeys(s.participants, mask);
  assert.ok(nodeVerifies(signature, message, aggregate), `${context}: node:crypto`);
  assert.ok(ed25519.verify(signature, message, aggregate), `${context}: noble`);
  const other = Uint8Array.from([...message, 1]);
  assert.ok(!verifyCollectiveSignature(s.participants, other, result.signature), `${context}: other message`);
  return mask;
}

/** f registry indices other than the leader, drawn from the scenario's seed. */
function pickFaulty(seed: Seed, n: number, count: number, leader: number, behaviour: Behaviour): Map<number, Behaviour> {
  const rng = SeededRng.fromSeed(`${String(simSeed(seed))}/faulty`);
  const faulty = new Map<number, Behaviour>();
  while (faulty.size < count) {
    const index = rng.nextU32() % n;
    if (index !== leader) faulty.set(index, behaviour);
  }
  return faulty;
}

const fOf = (n: number): number => Math.floor((n - 1) / 3);
const message = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("CoSi with honest validators", () => {
  for (const n of [4, 7, 10, 16]) {
    for (const fanout of [2, 3, 4]) {
      it(`n = ${n}, fan-out ${fanout}: one tree attempt, full mask`, () => {
        const s = setup({ n, fanout, seed: `honest-${n}-${fanout}` });
        const leader = n - 1;
        const m = message(`block n=${n} fanout=${fanout}`);
        const result = runSession(s, leader, 1, m);
        const mask = assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
        assert.equal(popcount(mask), n);
        assert.ok(result.ok && result.mode === "tree" && result.attempts === 1);
        for (let i = 0; i < n; i++) assert.ok(!s.node(i).hasOpenSession, `node ${i} closed its session`);
      });
    }
  }

  it("signs consecutive rounds under rotating leaders", () => {
    const s = setup({ n: 7, fanout: 2, seed: "rotating" });
    for (let round = 0; round < 7; round++) {
      const m = message(`round ${round}`);
      const mask = assertValid(s, runSession(s, round, round, m), m, `seed ${JSON.stringify(s.seed)} round ${round}`);
      assert.equal(popcount(mask), 7);
    }
  });
});

describe("CoSi with f faulty validators", () => {
  for (const [n, seed] of [[7, "silent-a"], [10, "silent-b"], [16, "silent-c"], [16, "silent-d"]] as const) {
    it(`n = ${n}: f silent validators are exceptions in the mask (${seed})`, () => {
      const faulty = pickFaulty(seed, n, fOf(n), 0, "silent");
      const s = setup({ n, fanout: 3, seed, faulty });
      const m = message("silent");
      const result = runSession(s, 0, 1, m);
      const mask = assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
      for (const index of faulty.keys()) assert.ok(!hasBit(mask, index), `silent ${index} excluded`);
    });
  }

  for (const [n, fanout, seed] of [[4, 2, "bad-a"], [7, 3, "bad-b"], [10, 2, "bad-c"], [16, 4, "bad-d"]] as const) {
    it(`n = ${n}: f bad partial responses are detected, excluded, and the signature is still valid (${seed})`, () => {
      const faulty = pickFaulty(seed, n, fOf(n), 0, "bad-partial");
      const s = setup({ n, fanout, seed, faulty });
      const m = message("bad partials");
      const result = runSession(s, 0, 1, m);
      const mask = assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
      for (const index of faulty.keys()) assert.ok(!hasBit(mask, index), `bad signer ${index} excluded`);
      assert.equal(popcount(mask), n - faulty.size, "every honest validator signed");
      assert.equal(s.node(0).stats.badPartials, faulty.size, "each bad signer named once");
      assert.ok(result.ok && result.mode === "star");
    });
  }

  for (const [n, fanout, seed] of [[7, 2, "equivocate-a"], [10, 3, "equivocate-b"], [16, 2, "equivocate-c"]] as const) {
    it(`n = ${n}: equivocating commitments are caught and cannot spoil the signature (${seed})`, () => {
      const faulty = pickFaulty(seed, n, fOf(n), 0, "equivocate");
      const s = setup({ n, fanout, seed, faulty });
      const m = message("equivocation");
      const result = runSession(s, 0, 1, m);
      assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
      const caught = s.peers.reduce((sum, _peer, i) => sum + (faulty.has(i) ? 0 : s.node(i).stats.equivocations), 0);
      assert.ok(caught >= 1, "some parent saw two commitments");
      const rejected = s.peers.reduce((sum, _peer, i) => sum + (faulty.has(i) ? 0 : s.node(i).stats.rejectedMessages), 0);
      assert.ok(rejected >= 1, "commitments sent to non-parents are rejected");
    });
  }

  it("a mix of silent, bad-partial and equivocating validators (f = 5 of 16) cannot stop or forge", () => {
    const seed = "mixed";
    const behaviours: Behaviour[] = ["silent", "bad-partial", "equivocate", "bad-partial", "silent"];
    const picked = pickFaulty(seed, 16, 5, 2, "silent");
    const faulty = new Map([...picked.keys()].map((index, i) => [index, behaviours[i]!] as const));
    const s = setup({ n: 16, fanout: 3, seed, faulty });
    const m = message("mixed");
    const mask = assertValid(s, runSession(s, 2, 9, m), m, `seed ${JSON.stringify(s.seed)}`);
    for (const [index, behaviour] of faulty) if (behaviour !== "equivocate") assert.ok(!hasBit(mask, index), `${behaviour} ${index} excluded`);
  });
});

describe("CoSi liveness limits and fallbacks", () => {
  for (const [n, seed] of [[4, "stall-a"], [7, "stall-b"], [10, "stall-c"]] as const) {
    it(`n = ${n}: f + 1 silent validators stop progress without a false signature (${seed})`, () => {
      const faulty = pickFaulty(seed, n, fOf(n) + 1, 0, "silent");
      const s = setup({ n, fanout: 2, seed, faulty, maxAttempts: 3 });
      const result = runSession(s, 0, 1, message("stalled"));
      assert.deepEqual(result, { ok: false, reason: "attempts-exhausted", attempts: 3 }, `seed ${JSON.stringify(s.seed)}`);
      s.sim.run({ until: s.sim.now() + 10_000 });
      for (let i = 0; i < n; i++) if (!faulty.has(i)) assert.ok(!s.node(i).hasOpenSession, `node ${i} dropped its nonce`);
    });
  }

  it("a crashed inner node sends the leader to the star, which succeeds", () => {
    const n = 16;
    const s = setup({ n, fanout: 2, seed: "crash" });
    const leader = 5;
    const full = new Uint8Array(2).fill(0xff);
    const layout = new TreeLayout(n, leader, full, "tree", 2);
    const inner = layout.order[1]!;
    assert.ok(layout.subtree(1).length > fOf(n), "the crashed node's subtree alone exceeds f");
    s.sim.crash(s.peers[inner]!);
    const m = message("crash");
    const result = runSession(s, leader, 3, m);
    const mask = assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
    assert.ok(result.ok && result.mode === "star" && result.attempts === 2);
    assert.equal(popcount(mask), n - 1);
    assert.ok(!hasBit(mask, inner));
  });

  for (const seed of ["lossy-a", "lossy-b", "lossy-c"]) {
    it(`message loss, duplication and latency jitter are absorbed (${seed})`, () => {
      const s = setup({
        n: 10,
        fanout: 3,
        seed,
        levelTimeoutMs: 80,
        maxAttempts: 8,
        link: {
          latency: { kind: "lognormal", medianMs: 6, sigma: 0.6, floorMs: 1 },
          loss: 0.03,
          duplication: 0.05,
          reorder: { probability: 0.1, maxExtraMs: 10 },
        },
      });
      for (let round = 0; round < 3; round++) {
        const m = message(`lossy ${round}`);
        assertValid(s, runSession(s, round, round, m), m, `seed ${JSON.stringify(s.seed)} round ${round}`);
        s.sim.run({ until: s.sim.now() + 2_000 });
      }
    });
  }
});

describe("CoSi crash, restart and replay", () => {
  it("an inner node crashing between its commitment and the challenge costs one attempt", () => {
    const n = 16;
    const s = setup({ n, fanout: 2, seed: "crash-mid" });
    const leader = 0;
    const layout = new TreeLayout(n, leader, new Uint8Array(2).fill(0xff), "tree", 2);
    const inner = layout.order[1]!;
    // 1 ms links: announcements reach depth 4 at t = 4, commitments are back at the root at
    // t = 8, the challenge reaches depth 1 at t = 9; the crash falls in between.
    s.sim.schedule(8.5, "crash inner node", () => s.sim.crash(s.peers[inner]!));
    const m = message("crash mid-session");
    const result = runSession(s, leader, 1, m);
    const mask = assertValid(s, result, m, `seed ${JSON.stringify(s.seed)}`);
    assert.ok(result.ok && result.mode === "star" && result.attempts === 2, JSON.stringify(result));
    assert.equal(popcount(mask), n - 1);
    assert.ok(!hasBit(mask, inner));
  });

  it("a restarted validator signs again with a fresh node", () => {
    const s = setup({ n: 7, fanout: 2, seed: "restart" });
    const victim = 4;
    s.sim.crash(s.peers[victim]!);
    const before = message("while down");
    assert.ok(!hasBit(assertValid(s, runSession(s, 0, 1, before), before, "while down"), victim));
    s.sim.restart(s.peers[victim]!);
    s.sim.run({ until: s.sim.now() + 1 });
    const after = message("after restart");
    assert.equal(popcount(assertValid(s, runSession(s, 0, 2, after), after, "after restart")), 7);
  });

  it("a run is a pure function of its seed: same trace, same signature", () => {
    const run = () => {
      const s = setup({
        n: 10,
        fanout: 3,
        seed: "replay",
        levelTimeoutMs: 80,
        link: { latency: { kind: "lognormal", medianMs: 6, sigma: 0.6, floorMs: 1 }, loss: 0.05, duplication: 0.05, reorder: { probability: 0, maxExtraMs: 0 } },
      });
      const result = runSession(s, 3, 1, message("replay"));
      assert.ok(result.ok);
      return { hash: s.sim.traceHash(), signature: hexOf(result.signature.signature), mask: hexOf(result.signature.mask) };
    };
    assert.deepEqual(run(), run());
  });
});

describe("a byzantine leader", () => {
  it("gets one response per nonce, bound to the announced message", () => {
    const n = 4;
    const seed = simSeed("byzantine-leader");
    const sim = new Simulator({ seed });
    const keyRng = sim.rng("keys");
    const keys = Array.from({ length: n }, () => SchnorrKey.fromSeed(keyRng.bytes(32)));
    const participants = keys.map((k) => k.publicKey).sort(Buffer.compare);
    const peers = participants.map(hexOf);
    const keyOf = (index: number) => keys.find((k) => hexOf(k.publicKey) === peers[index])!;
    const config = { participants, fanout: 2, levelTimeoutMs: 20 };
    const [evil, target] = [0, 1];
    const received: { type: number; payload: Uint8Array }[] = [];
    let evilChannel: Channel | undefined;
    peers.forEach((peer, index) => {
      sim.addNode(peer, ({ transport, clock, rng }) => {
        if (index !== evil) return new CosiNode(config, { channel: testChannel(transport), clock, rng, key: keyOf(index), verifier });
        evilChannel = testChannel(transport);
        for (const type of [COSI_MESSAGES.COMMIT, COSI_MESSAGES.RESPONSE]) evilChannel.on(type, (_from, t, payload) => received.push({ type: t, payload }));
        return undefined;
      });
    });
    sim.run({ until: 0 });
    const m = message("the announced block");
    const invited = new Uint8Array(1).fill(0b1111);
    const announce = { session: sessionId(participants[evil]!, 5, m), attempt: 0, leaderIndex: evil, round: 5, mode: "star" as const, fanout: 2, count: n, invited, message: m };
    evilChannel!.send(peers[target]!, COSI_MESSAGES.ANNOUNCE, encodeAnnounce(announce));
    sim.run({ until: sim.now() + 5 });
    assert.equal(received.length, 1);
    const commit = decodeMaskedValue(received[0]!.payload, n, "point");
    const mask = new Uint8Array(1).fill((1 << evil) | (1 << target));
    const evilCommitment = keyOf(evil).commit(sim.rng("evil"));
    const V = verifier.aggregatePoints([commit.value, evilCommitment.point]);
    const challenges = [V, verifier.aggregatePoints([V, V])].map((point) => encodeMaskedValue(announce, mask, point));
    for (const challenge of challenges) evilChannel!.send(peers[target]!, COSI_MESSAGES.CHALLENGE, challenge);
    evilChannel!.send(peers[target]!, COSI_MESSAGES.CHALLENGE, challenges[0]!);
    sim.run({ until: sim.now() + 5 });
    const responses = received.filter((r) => r.type === COSI_MESSAGES.RESPONSE).map((r) => hexOf(decodeMaskedValue(r.payload, n, "scalar").value));
    assert.equal(responses.length, 2, "the first challenge answered, and its retransmission answered identically");
    assert.equal(new Set(responses).size, 1, "the conflicting challenge got no second response from the same nonce");
    const target1 = sim.node<CosiNode>(peers[target]!).instance!;
    assert.equal(target1.stats.rejectedMessages, 1);
    const aggregateKey = verifier.aggregateKeys(participants, mask);
    const r = Uint8Array.from(Buffer.from(responses[0]!, "hex"));
    assert.ok(checkPartial(r, commit.value, challengeScalar(V, aggregateKey, m), participants[target]!));
    assert.ok(!checkPartial(r, commit.value, challengeScalar(V, aggregateKey, message("another block")), participants[target]!));
    const signature = new Uint8Array(64);
    signature.set(V, 0);
    signature.set(verifier.sumScalars([r, keyOf(evil).respond(evilCommitment, challengeScalar(V, aggregateKey, m))]), 32);
    assert.ok(verifyCollectiveSignature(participants, m, { mask, signature }, 2), "a real 2-of-4 signature of the announced message");
    assert.ok(!verifyCollectiveSignature(participants, m, { mask, signature }), "but below the 3-of-4 threshold");
  });
});

describe("a leader that gives up a session", () => {
  it("moves its signers to its new session at once; the abandoned nonce answers no challenge", () => {
    const n = 4;
    const sim = new Simulator({ seed: simSeed("leader-retry") });
    const keyRng = sim.rng("keys");
    const keys = Array.from({ length: n }, () => SchnorrKey.fromSeed(keyRng.bytes(32)));
    const participants = keys.map((k) => k.publicKey).sort(Buffer.compare);
    const peers = participants.map(hexOf);
    const keyOf = (index: number) => keys.find((k) => hexOf(k.publicKey) === peers[index])!;
    const config = { participants, fanout: 2, levelTimeoutMs: 1000 };
    const [leader, target] = [0, 1];
    const received: { type: number; payload: Uint8Array }[] = [];
    let leaderChannel: Channel | undefined;
    peers.forEach((peer, index) => {
      sim.addNode(peer, ({ transport, clock, rng }) => {
        if (index !== leader) return new CosiNode(config, { channel: testChannel(transport), clock, rng, key: keyOf(index), verifier });
        leaderChannel = testChannel(transport);
        for (const type of [COSI_MESSAGES.COMMIT, COSI_MESSAGES.RESPONSE]) leaderChannel.on(type, (_from, t, payload) => received.push({ type: t, payload }));
        return undefined;
      });
    });
    sim.run({ until: 0 });
    const invited = new Uint8Array(1).fill(0b1111);
    const announceOf = (round: number, m: Uint8Array) =>
      ({ session: sessionId(participants[leader]!, round, m), attempt: 0, leaderIndex: leader, round, mode: "star" as const, fanout: 2, count: n, invited, message: m });
    const first = announceOf(5, message("first try"));
    const second = announceOf(6, message("second try"));
    leaderChannel!.send(peers[target]!, COSI_MESSAGES.ANNOUNCE, encodeAnnounce(first));
    sim.run({ until: sim.now() + 5 });
    // Well inside the signer's nonce timeout (level timeout 1 s), the same leader starts over.
    leaderChannel!.send(peers[target]!, COSI_MESSAGES.ANNOUNCE, encodeAnnounce(second));
    sim.run({ until: sim.now() + 5 });
    const commits = received.filter((r) => r.type === COSI_MESSAGES.COMMIT);
    assert.equal(commits.length, 2, "the signer committed to the new session instead of refusing it");
    const node = sim.node<CosiNode>(peers[target]!).instance!;
    assert.equal(node.stats.refusedSessions, 0);
    // A challenge of the abandoned session finds no nonce: no response, counted as stale (a late leader, not a malformed message).
    const mask = new Uint8Array(1).fill((1 << leader) | (1 << target));
    const stale = decodeMaskedValue(commits[0]!.payload, n, "point");
    leaderChannel!.send(peers[target]!, COSI_MESSAGES.CHALLENGE, encodeMaskedValue(first, mask, stale.value));
    sim.run({ until: sim.now() + 5 });
    assert.equal(received.filter((r) => r.type === COSI_MESSAGES.RESPONSE).length, 0);
    assert.equal(node.stats.stale, 1);
    assert.equal(node.stats.rejectedMessages, 0);
  });
});

describe("application approval", () => {
  it("validators whose application declines the message do not sign it; more than f stop it", () => {
    const n = 10;
    const f = fOf(n);
    const few = new Set(pickFaulty("decline-few", n, f, 0, "honest").keys());
    const s = setup({ n, fanout: 3, seed: "decline-few", declining: few });
    const m = message("proposal");
    const mask = assertValid(s, runSession(s, 0, 4, m), m, `seed ${JSON.stringify(s.seed)}`);
    for (const index of few) {
      assert.ok(!hasBit(mask, index), `declining ${index} excluded`);
      assert.ok(s.node(index).stats.declined >= 1);
    }
    const many = new Set(pickFaulty("decline-many", n, f + 1, 0, "honest").keys());
    const t = setup({ n, fanout: 3, seed: "decline-many", declining: many, maxAttempts: 2 });
    assert.deepEqual(runSession(t, 0, 4, m), { ok: false, reason: "attempts-exhausted", attempts: 2 });
  });
});

describe("one open session per signer", () => {
  it("a signer asked to join two sessions at once refuses the second", () => {
    const n = 7;
    const s = setup({ n, fanout: 6, seed: "two-sessions" });
    let first: LeaderSession | undefined;
    let second: LeaderSession | undefined;
    s.sim.schedule(0, "two leaders", () => {
      first = s.node(0).sign(1, message("first"));
      second = s.node(1).sign(1, message("second"));
    });
    s.sim.runUntil(() => first?.result !== undefined && second?.result !== undefined, { until: 60_000 });
    const refusals = Array.from({ length: n }, (_, i) => s.node(i).stats.refusedSessions);
    assert.ok(refusals.every((count, i) => i <= 1 || count >= 1), `every other signer refused one session: ${refusals}`);
    const firstMask = assertValid(s, first!.result!, message("first"), "first session");
    assert.ok(!hasBit(firstMask, 1), "the second leader did not sign the first session");
    if (second!.result!.ok) {
      const secondMask = assertValid(s, second!.result!, message("second"), "second session");
      assert.ok(!hasBit(secondMask, 0) || second!.result!.attempts > 1, "only after the first leader finished");
    }
  });

  it("a node leading or holding a nonce refuses to lead another session", () => {
    const s = setup({ n: 4, fanout: 2, seed: "lead-twice" });
    let code: string | undefined;
    let session: LeaderSession | undefined;
    s.sim.schedule(0, "lead twice", () => {
      session = s.node(0).sign(1, message("one"));
      try {
        s.node(0).sign(2, message("two"));
      } catch (error) {
        code = error instanceof IosError ? error.code : String(error);
      }
    });
    s.sim.runUntil(() => session?.result !== undefined);
    assert.equal(code, "COSI_SESSION_OPEN");
    assertValid(s, session!.result!, message("one"), "first session");
    assert.ok(!s.node(0).hasOpenSession);
    assertValid(s, runSession(s, 0, 2, message("two")), message("two"), "after closing");
  });
});

describe("patience and releasing a nonce (issue 16)", () => {
  it("a session with more patience waits for signers slower than the level timeout", () => {
    // 30 ms each way: a commitment comes back 60 ms after the announcement, past a tree level (20 ms) and a star phase (40 ms).
    const s = setup({ n: 4, fanout: 3, seed: "patience", link: { latency: { kind: "constant", ms: 30 } } });
    const hasty = runSession(s, 0, 1, message("hasty"));
    assert.equal(hasty.ok, false, "at patience 1 no attempt hears the threshold in time");
    let patient: LeaderSession | undefined;
    s.sim.schedule(0, "sign with patience 2", () => {
      patient = s.node(0).sign(2, message("patient"), undefined, 2);
    });
    s.sim.runUntil(() => patient?.result !== undefined, { until: s.sim.now() + 60_000 });
    const mask = assertValid(s, patient!.result!, message("patient"), "patience 2");
    assert.equal(popcount(mask), 4, "every slow signer is in");
    for (const bad of [0, MAX_PATIENCE + 1, 1.5]) assert.throws(() => s.node(1).sign(9, message("x"), undefined, bad), { code: "COSI_BAD_INPUT" });
  });

  it("a signer holding a nonce for a leader that went silent joins another leader's session once released", () => {
    const s = setup({ n: 4, fanout: 3, seed: "release" });
    s.sim.schedule(0, "leader 0 announces", () => void s.node(0).sign(1, message("abandoned")));
    // The announcement and the commitments travel; leader 0 dies before its challenge.
    s.sim.schedule(2, "leader 0 dies", () => s.sim.crash(s.peers[0]!));
    s.sim.run({ until: s.sim.now() + 3 });
    assert.ok([1, 2, 3].every((i) => s.node(i).hasOpenSession), "every signer holds its nonce for leader 0");
    assert.throws(() => s.node(1).sign(2, message("next view")), { code: "COSI_SESSION_OPEN" }, "its own nonce for leader 0 keeps leader 1 from leading");
    s.node(1).releaseExcept(1);
    const refused = runSession(s, 1, 2, message("next view"));
    assert.equal(refused.ok, false, "signers open with leader 0 refuse leader 1");
    assert.ok(s.node(2).stats.refusedSessions >= 1 && s.node(3).stats.refusedSessions >= 1);
    s.node(2).releaseExcept(0);
    assert.ok(s.node(2).hasOpenSession, "a nonce held for the named leader stays");
    for (const i of [2, 3]) s.node(i).releaseExcept(1);
    assert.ok([2, 3].every((i) => !s.node(i).hasOpenSession), "released");
    const mask = assertValid(s, runSession(s, 1, 3, message("next view")), message("next view"), "after the release");
    assert.equal(popcount(mask), 3);
  });
});

describe("CoSi input handling", () => {
  it("malformed and misplaced messages are counted and dropped, never thrown", () => {
    const s = setup({ n: 4, fanout: 2, seed: "garbage" });
    const junk = [new Uint8Array(0), new Uint8Array(10), new Uint8Array(33), new Uint8Array(200).fill(0xff)];
    s.sim.addNode("ee".repeat(32), ({ transport }) => {
      const channel = testChannel(transport);
      for (const type of Object.values(COSI_MESSAGES)) for (const payload of junk) channel.broadcast(s.peers, type, payload);
      return channel;
    });
    s.sim.run({ until: s.sim.now() + 100 });
    // Junk that parses as a header of no session this node holds is indistinguishable from a late message: stale.
    for (let i = 0; i < 4; i++) {
      const { rejectedMessages, stale } = s.node(i).stats;
      assert.equal(rejectedMessages + stale, junk.length * Object.keys(COSI_MESSAGES).length);
      assert.ok(rejectedMessages >= 2 * Object.keys(COSI_MESSAGES).length, `junk shorter than a header (0 and 10 bytes) is malformed, not stale (${rejectedMessages} rejected, ${stale} stale)`);
    }
    const m = message("after junk");
    assertValid(s, runSession(s, 0, 1, m), m, "still signs");
  });

  it("bad configuration and arguments get coded errors", () => {
    const s = setup({ n: 4, fanout: 2, seed: "config" });
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return error instanceof IosError ? error.code : `uncoded: ${String(error)}`;
      }
      return undefined;
    };
    const node = s.node(0);
    assert.equal(codeOf(() => node.sign(-1, message("x"))), "COSI_BAD_INPUT");
    assert.equal(codeOf(() => node.sign(1, "x" as unknown as Uint8Array)), "COSI_BAD_INPUT");
    assert.equal(codeOf(() => node.sign(1, new Uint8Array(64 * 1024 + 1))), "COSI_BAD_INPUT");
    const fresh = new Simulator({ seed: 1 });
    const key = SchnorrKey.fromSeed(new Uint8Array(32).fill(9));
    fresh.addNode(hexOf(key.publicKey), ({ transport, clock, rng }) => {
      const deps = { channel: testChannel(transport), clock, rng, key, verifier };
      assert.equal(codeOf(() => new CosiNode({ ...s.config, fanout: 1 }, deps)), "COSI_BAD_CONFIG");
      assert.equal(codeOf(() => new CosiNode({ ...s.config, levelTimeoutMs: 0 }, deps)), "COSI_BAD_CONFIG");
      assert.equal(codeOf(() => new CosiNode(s.config, deps)), "COSI_BAD_CONFIG", "key not among the participants");
      assert.equal(codeOf(() => new CosiNode({ ...s.config, participants: [key.publicKey, key.publicKey] }, deps)), "COSI_BAD_CONFIG");
      return undefined;
    });
    fresh.run();
  });
});
