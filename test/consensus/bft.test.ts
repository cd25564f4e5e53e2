/**
 * The normal league's BFT (src/consensus/bft/protocol.ts) on the deterministic simulator with
 * real keys, real CoSi rounds and real signatures. Every scenario registers the safety invariant
 * — no two different values final at one height across the honest validators — checked after
 * every event, and checks liveness by the heights reached. Byzantine validators run the honest
 * code behind a rewriting channel (silent leader, equivocating leader, bad partial signatures,
 * a leader withholding its commit round, a new leader ignoring the value it must re-propose) or
 * do not run at all (silent). Every finalized record is checked offline. Each scenario names its
 * seed on failure; IOS_SIM_SEED replays one.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { COSI_MESSAGES, decodeMaskedValue, encodeMaskedValue } from "../../src/consensus/cosi/codec.js";
import { ValidatorRegistry, proveKeyPossession } from "../../src/consensus/registry.js";
import { BFT_MESSAGES, decodePropose, encodePropose, proposalHash, verifyFinality, type FinalityRecord } from "../../src/consensus/bft/codec.js";
import { MemoryFinalityLog } from "../../src/consensus/bft/log.js";
import { BftNode, type BftApplication, type BftConfig } from "../../src/consensus/bft/protocol.js";
import { IosError } from "../../src/errors.js";
import type { Channel, MessageHandler, MessageType, PeerId } from "../../src/net/interface.js";
import type { Rng } from "../../src/runtime/interface.js";
import { SeededRng, type Seed } from "../../src/runtime/seeded-rng.js";
import type { LinkConfig } from "../../src/sim/link.js";
import { Simulator, simSeed, type NodeContext } from "../../src/sim/simulator.js";
import { testChannel } from "../sim/protocols.js";

const CHAIN = new TextEncoder().encode("ioschain-bft-test/shard-0");
const verifier = new Ed25519Verifier();
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const fOf = (n: number): number => Math.floor((n - 1) / 3);

type Behaviour = "honest" | "silent" | "silent-leader" | "equivocating-leader" | "bad-partial" | "withholding-leader" | "lock-ignoring-leader";

interface Scenario {
  n: number;
  seed: Seed;
  /** Behaviour by registry index; unlisted validators are honest. */
  faulty?: ReadonlyMap<number, Behaviour>;
  link?: Partial<LinkConfig>;
  fanout?: number;
  levelTimeoutMs?: number;
  viewTimeoutMs?: number;
  /** Validation answers through a promise (the simulation then runs in slices, see `runAsync`). */
  asyncValidate?: boolean;
  /** propose answers with a promise; a leader whose index is in `silentProposers` answers undefined (no proposal). */
  asyncPropose?: boolean;
  silentProposers?: readonly number[];
  /** The height whose final record ends the instance (BftApplication `endsInstance`: a TransEpoch swap height). */
  endsAt?: number;
  /** propose and validate answer after this much virtual time (a leader's and a member's execution of a large proposal); run with `runAsync`. */
  proposeDelayMs?: number;
  validateDelayMs?: number;
}

/** A proposal: height u64 ‖ proposer u16 ‖ 16 random bytes; `validate` checks length and height. */
function makeProposal(height: number, proposer: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(26);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(height), true);
  view.setUint16(8, proposer, true);
  out.set(rng.bytes(16), 10);
  return out;
}

function isValidProposal(height: number, proposal: Uint8Array): boolean {
  return proposal.length === 26 && new DataView(proposal.buffer, proposal.byteOffset).getBigUint64(0, true) === BigInt(height);
}

/** Wraps a channel so that `handling[index]` says whether one of its message handlers is running. */
function markHandling(inner: Channel, handling: boolean[], index: number): Channel {
  return {
    self: inner.self,
    instance: inner.instance,
    get isOpen() {
      return inner.isOpen;
    },
    send: (to, type, payload) => inner.send(to, type, payload),
    broadcast: (group, type, payload) => inner.broadcast(group, type, payload),
    on: (type: MessageType, handler: MessageHandler) =>
      inner.on(type, (...args: Parameters<MessageHandler>) => {
        handling[index] = true;
        try {
          return handler(...args);
        } finally {
          handling[index] = false;
        }
      }),
    close: () => inner.close(),
  };
}

/** Wraps a channel so that what the node sends is rewritten (a byzantine node running honest code). */
function rewritingChannel(inner: Channel, rewrite: (to: PeerId, type: MessageType, payload: Uint8Array) => Uint8Array | undefined): Channel {
  const sendOne = (to: PeerId, type: MessageType, payload: Uint8Array) => {
    const out = rewrite(to, type, payload);
    if (out !== undefined) inner.send(to, type, out);
  };
  return {
    self: inner.self,
    instance: inner.instance,
    get isOpen() {
      return inner.isOpen;
    },
    send: sendOne,
    broadcast: (group, type, payload) => {
      for (const peer of group) if (peer !== inner.self) sendOne(peer, type, payload);
    },
    on: (type: MessageType, handler: MessageHandler) => inner.on(type, handler),
    close: () => inner.close(),
  };
}

function behaviourChannel(behaviour: Behaviour, inner: Channel, n: number, peers: readonly PeerId[], rng: Rng): Channel {
  switch (behaviour) {
    case "silent-leader":
      // Follows honestly, but never sends its proposals: its views stall until a view change.
      return rewritingChannel(inner, (_to, type, payload) => (type === BFT_MESSAGES.PROPOSE ? undefined : payload));
    case "equivocating-leader":
      // Sends a different (valid) proposal to every other peer in registry order.
      return rewritingChannel(inner, (to, type, payload) => {
        if (type !== BFT_MESSAGES.PROPOSE || peers.indexOf(to) % 2 === 0) return payload;
        const message = decodePropose(payload, n, 1 << 20);
        return encodePropose({ ...message, proposal: makeProposal(message.height, peers.indexOf(inner.self), rng) }, n);
      });
    case "bad-partial":
      return rewritingChannel(inner, (_to, type, payload) => {
        if (type !== COSI_MESSAGES.RESPONSE) return payload;
        const response = decodeMaskedValue(payload, n, "scalar");
        const scalar = rng.bytes(32);
        scalar[31] = scalar[31]! & 0x0f;
        return encodeMaskedValue(response, response.mask, scalar);
      });
    case "withholding-leader": {
      // Leads the prepare round and publishes its certificate, then never announces the commit
      // round: honest validators are left locked on its value.
      let withholding = false;
      return rewritingChannel(inner, (_to, type, payload) => {
        if (type === BFT_MESSAGES.PROPOSE) withholding = false;
        if (type === BFT_MESSAGES.PREPARED) withholding = true;
        return withholding && type === COSI_MESSAGES.ANNOUNCE ? undefined : payload;
      });
    }
    case "lock-ignoring-leader":
      // In a view change it proposes a fresh value instead of the prepared one its NEW-VIEW proof requires.
      return rewritingChannel(inner, (_to, type, payload) => {
        if (type !== BFT_MESSAGES.PROPOSE) return payload;
        const message = decodePropose(payload, n, 1 << 20);
        if (!message.justification.some((vc) => vc.prepared !== undefined)) return payload;
        return encodePropose({ ...message, proposal: makeProposal(message.height, peers.indexOf(inner.self), rng) }, n);
      });
    default:
      return inner;
  }
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
  const honest = peers.map((_, i) => i).filter((i) => behaviourOf(i) === "honest");
  const config: BftConfig = {
    chainId: CHAIN,
    participants,
    viewTimeoutMs: scenario.viewTimeoutMs ?? 400,
    cosi: { fanout: scenario.fanout ?? 2, levelTimeoutMs: scenario.levelTimeoutMs ?? 20 },
  };
  /** Each validator's "disk": survives crashes unless a test wipes it. */
  const logs = peers.map(() => new MemoryFinalityLog());
  /** The first value any honest validator finalized at each height, and every disagreement. */
  const finalAt = new Map<number, string>();
  const conflicts: string[] = [];
  const delivered = peers.map(() => 0);
  /** Whether each validator is inside a message handler now, and, for every height a validator finalized as its leader, whether it delivered it there. */
  const handling = peers.map(() => false);
  const leaderDeliveries: { index: number; height: number; inHandler: boolean }[] = [];
  const factory = (index: number) => {
    const peer = peers[index]!;
    const behaviour = behaviourOf(index);
    return ({ transport, clock, rng, incarnation }: NodeContext): BftNode | undefined => {
      if (behaviour === "silent") return undefined;
      const proposals = sim.rng(`proposals/${peer}/${incarnation}`);
      const after = <T>(ms: number, value: () => T): Promise<T> => new Promise((resolve) => clock.setTimer(ms, () => resolve(value())));
      const app: BftApplication = {
        propose: (height) => {
          if (scenario.proposeDelayMs !== undefined) return after(scenario.proposeDelayMs, () => makeProposal(height, index, proposals));
          if (scenario.silentProposers?.includes(index) === true) return scenario.asyncPropose === true ? Promise.resolve(undefined) : undefined;
          return scenario.asyncPropose === true ? Promise.resolve(makeProposal(height, index, proposals)) : makeProposal(height, index, proposals);
        },
        validate: (height, proposal) => {
          if (scenario.validateDelayMs !== undefined) return after(scenario.validateDelayMs, () => isValidProposal(height, proposal));
          return scenario.asyncValidate === true ? Promise.resolve(isValidProposal(height, proposal)) : isValidProposal(height, proposal);
        },
        ...(scenario.endsAt === undefined ? {} : { endsInstance: (record: { height: number }) => record.height === scenario.endsAt }),
        onFinal: (record) => {
          delivered[index]!++;
          if ((record.height + record.view) % scenario.n === index) leaderDeliveries.push({ index, height: record.height, inHandler: handling[index]! });
          if (behaviour !== "honest") return;
          const hash = hexOf(proposalHash(record.proposal));
          const first = finalAt.get(record.height);
          if (first === undefined) finalAt.set(record.height, hash);
          else if (first !== hash) conflicts.push(`height ${record.height}: ${first} vs ${hash} at validator ${index}`);
        },
      };
      const wire = behaviourChannel(behaviour, markHandling(testChannel(transport), handling, index), scenario.n, peers, sim.rng(`byzantine/${peer}`));
      const node = new BftNode(config, { channel: wire, clock, rng, key: keyByPeer.get(peer)!, verifier, app, log: logs[index]! });
      // Started once every validator of the simulation is attached, so the first proposal is not lost.
      clock.setTimer(0, () => node.start());
      return node;
    };
  };
  peers.forEach((peer, index) => sim.addNode(peer, factory(index)));
  sim.addInvariant("no two values final at one height", () => conflicts.length === 0);
  const node = (index: number): BftNode => {
    const instance = sim.node<BftNode | undefined>(peers[index]!).instance;
    assert.ok(instance !== undefined, `validator ${index} is not running`);
    return instance;
  };
  const context = `seed ${JSON.stringify(seed)}`;
  /** Lowest next-height among the given running validators. */
  const minHeight = (indices: readonly number[]) => Math.min(...indices.map((i) => logs[i]!.lastHeight + 1));
  /** Runs until every listed validator has finalized `height`; fails naming the seed otherwise. */
  const runTo = (height: number, indices: readonly number[] = honest, budgetMs = 120_000) => {
    const reached = sim.runUntil(() => minHeight(indices) > height, { until: sim.now() + budgetMs });
    assert.ok(reached, `${context}: validators ${indices.join(",")} stuck at ${indices.map((i) => logs[i]!.lastHeight).join(",")} (wanted ${height})`);
  };
  /** Runs until every listed validator has finalized `height`, letting promise callbacks run between slices of virtual time (as between I/O events). */
  const runAsync = async (height: number, indices: readonly number[] = honest, slices = 20_000): Promise<void> => {
    for (let slice = 0; slice < slices && minHeight(indices) <= height; slice++) {
      sim.run({ until: sim.now() + 2 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(minHeight(indices) > height, `${context}: reached ${minHeight(indices) - 1} (wanted ${height})`);
  };
  return { sim, seed, context, participants, peers, honest, logs, conflicts, delivered, leaderDeliveries, node, factory, runTo, runAsync, minHeight };
}

type Setup = ReturnType<typeof setup>;

/** Honest validators hold the same chain (up to the shortest), every record proves its finality, and nothing conflicted. */
function assertSafeChains(s: Setup, indices: readonly number[] = s.honest): void {
  assert.deepEqual(s.conflicts, [], s.context);
  const shortest = Math.min(...indices.map((i) => s.logs[i]!.lastHeight));
  const reference = s.logs[indices[0]!]!;
  for (let height = 1; height <= shortest; height++) {
    const record = reference.get(height)!;
    assert.ok(verifyFinality(s.participants, CHAIN, record, verifier), `${s.context}: proof of height ${height}`);
    assert.ok(isValidProposal(height, record.proposal), `${s.context}: height ${height} holds a valid proposal`);
    for (const i of indices) assert.deepEqual(s.logs[i]!.get(height)!.proposal, record.proposal, `${s.context}: validator ${i} at height ${height}`);
  }
}

/** `count` registry indices drawn from the seed, avoiding `avoid`. */
function pick(seed: Seed, n: number, count: number, avoid: readonly number[] = []): number[] {
  const rng = SeededRng.fromSeed(`${String(simSeed(seed))}/faulty`);
  const picked = new Set<number>();
  while (picked.size < count) {
    const index = rng.nextU32() % n;
    if (!avoid.includes(index)) picked.add(index);
  }
  return [...picked].sort((a, b) => a - b);
}

describe("BFT with an honest league", () => {
  for (const [n, fanout, seed] of [[4, 2, "honest-4"], [7, 2, "honest-7"], [7, 3, "honest-7b"]] as const) {
    it(`n = ${n}, fan-out ${fanout}: finalizes 20 heights, identical chains, checkable offline (${seed})`, () => {
      const s = setup({ n, seed, fanout });
      s.runTo(20);
      assertSafeChains(s);
      for (const i of s.honest) {
        assert.equal(s.node(i).stats.viewChanges, 0, `${s.context}: no view change without faults`);
        assert.equal(s.delivered[i], s.logs[i]!.lastHeight, "each height delivered once");
      }
      const leaders = new Set(Array.from({ length: 20 }, (_, h) => hexOf(s.logs[0]!.get(h + 1)!.proposal.subarray(8, 10))));
      assert.equal(leaders.size, n, "the leader rotates through the whole league");
    });
  }

  it("finality proofs fail for any other height, view, proposal, chain or certificate", () => {
    const s = setup({ n: 4, seed: "proofs" });
    s.runTo(2);
    const record = s.logs[0]!.get(1)!;
    const other = s.logs[0]!.get(2)!;
    assert.ok(verifyFinality(s.participants, CHAIN, record, verifier));
    const variants: [string, FinalityRecord][] = [
      ["height", { ...record, height: 2 }],
      ["view", { ...record, view: record.view + 1 }],
      ["proposal", { ...record, proposal: other.proposal }],
      ["prepare certificate", { ...record, prepareCert: other.prepareCert }],
      ["commit certificate", { ...record, commitCert: other.commitCert }],
      ["swapped certificates", { ...record, prepareCert: record.commitCert, commitCert: record.prepareCert }],
    ];
    for (const [what, variant] of variants) assert.ok(!verifyFinality(s.participants, CHAIN, variant, verifier), `a changed ${what} fails`);
    assert.ok(!verifyFinality(s.participants, new TextEncoder().encode("another-chain"), record, verifier), "another chain id fails");
  });

  it("asynchronous validation (a promise) finalizes too", async () => {
    const s = setup({ n: 4, seed: "async", asyncValidate: true });
    // Promise callbacks run between slices of virtual time, as they would between I/O events.
    for (let slice = 0; slice < 2_000 && s.minHeight(s.honest) <= 8; slice++) {
      s.sim.run({ until: s.sim.now() + 2 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(s.minHeight(s.honest) > 8, `${s.context}: reached ${s.minHeight(s.honest) - 1}`);
    assertSafeChains(s);
  });
});

describe("BFT with a proposal that takes a round of its own", () => {
  it("an asynchronous propose (a promise) finalizes, and a leader with nothing to propose only costs its view", async () => {
    const s = setup({ n: 4, seed: "async-propose", asyncPropose: true, asyncValidate: true, silentProposers: [1] });
    for (let slice = 0; slice < 5_000 && s.minHeight(s.honest) <= 8; slice++) {
      s.sim.run({ until: s.sim.now() + 2 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(s.minHeight(s.honest) > 8, `${s.context}: reached ${s.minHeight(s.honest) - 1}`);
    assertSafeChains(s);
    assert.ok(s.honest.some((i) => s.node(i).stats.viewChanges > 0), `${s.context}: the silent proposer's views timed out`);
  });
});

describe("BFT with proposals that take time to make and to validate (issue 13)", () => {
  it("a proposal whose validation outlasts what is left of its view is decided in that view: its arrival gives it a whole timeout", async () => {
    // The leader takes 300 of the view's 400 ms to propose; each member then validates for 250 ms.
    const s = setup({ n: 4, seed: "slow-validation", viewTimeoutMs: 400, proposeDelayMs: 300, validateDelayMs: 250 });
    await s.runAsync(6);
    assertSafeChains(s);
    for (const i of s.honest) assert.equal(s.node(i).stats.viewChanges, 0, `${s.context}: validator ${i} left no view`);
    for (let height = 1; height <= 6; height++) assert.equal(s.logs[0]!.get(height)!.view, 0, `${s.context}: height ${height} decided in view 0`);
  });

  it("the extension is one timeout from the proposal's arrival, once: a validation longer than that still costs the view", async () => {
    const s = setup({ n: 4, seed: "slower-validation", viewTimeoutMs: 400, proposeDelayMs: 100, validateDelayMs: 450 });
    await s.runAsync(3);
    assertSafeChains(s);
    assert.ok(s.honest.every((i) => s.node(i).stats.viewChanges > 0), `${s.context}: every validator left view 0`);
    assert.ok(s.logs[0]!.get(1)!.view > 0, `${s.context}: height 1 was decided in a later (longer) view`);
  });

  it("a leader delivers a height it finalized in a later turn than the commit round that finished it, so FINALIZED leaves first", () => {
    const s = setup({ n: 4, seed: "finalized-first" });
    s.runTo(8);
    assertSafeChains(s);
    const leaders = s.leaderDeliveries.filter((d) => d.height <= 8);
    assert.ok(leaders.length >= 8, `${s.context}: every height's leader delivered it (${leaders.length})`);
    assert.deepEqual(leaders.filter((d) => d.inHandler), [], `${s.context}: no leader delivered inside the message handler that completed its commit round`);
    for (const i of s.honest) assert.equal(s.delivered[i], s.logs[i]!.lastHeight, "each height delivered once");
  });
});

describe("BFT view change", () => {
  for (const [n, seed] of [[4, "crash-4"], [7, "crash-7"], [7, "crash-7b"]] as const) {
    it(`n = ${n}: a crashed leader is replaced and progress resumes (${seed})`, () => {
      const s = setup({ n, seed });
      s.runTo(4);
      const height = s.minHeight(s.honest);
      const leader = s.node(0).leaderOf(height, 0);
      s.sim.crash(s.peers[leader]!);
      const alive = s.honest.filter((i) => i !== leader);
      s.runTo(height + 8, alive);
      assertSafeChains(s, alive);
      assert.ok(alive.some((i) => s.node(i).stats.viewChanges > 0), `${s.context}: a view change happened`);
      const views = alive.map((i) => s.logs[i]!.get(height)!.view);
      assert.ok(views.every((view) => view > 0), `${s.context}: height ${height} was finalized in a later view`);
    });
  }

  it("a value prepared before a view change is the one finalized after it, and a leader ignoring the lock is refused", () => {
    const seed = "locked";
    const n = 7;
    const [withholder] = pick(seed, n, 1, [n - 1]);
    const ignorer = withholder! + 1;
    const faulty = new Map<number, Behaviour>([[withholder!, "withholding-leader"], [ignorer, "lock-ignoring-leader"]]);
    const s = setup({ n, seed, faulty });
    s.runTo(16);
    assertSafeChains(s);
    const withheld = Array.from({ length: 16 }, (_, h) => h + 1).filter((height) => s.node(s.honest[0]!).leaderOf(height, 0) === withholder);
    assert.ok(withheld.length >= 2, "the withholding validator led view 0 of some heights");
    for (const height of withheld) {
      const record = s.logs[s.honest[0]!]!.get(height)!;
      const proposer = new DataView(record.proposal.buffer, record.proposal.byteOffset).getUint16(8, true);
      assert.equal(proposer, withholder, `${s.context}: height ${height} finalized the value prepared in view 0`);
      assert.equal(record.view, 2, `${s.context}: height ${height}: view 1's leader was refused, view 2 re-proposed`);
    }
    assert.ok(s.honest.every((i) => s.node(i).stats.rejectedProposals >= withheld.length), `${s.context}: every honest validator refused the fresh value`);
  });

  it("view timeouts double while a height stalls and reset on progress", () => {
    const s = setup({ n: 4, seed: "timeouts", viewTimeoutMs: 100 });
    const [a, b] = pick("timeouts", 4, 2);
    s.runTo(2);
    s.sim.crash(s.peers[a!]!);
    s.sim.crash(s.peers[b!]!);
    const alive = s.honest.filter((i) => i !== a && i !== b);
    // Two live validators of four: no f + 1 view changes pull them along, only their own timeouts.
    const entered = new Map<number, number>();
    s.sim.runUntil(() => {
      const view = s.node(alive[0]!).view;
      if (!entered.has(view)) entered.set(view, s.sim.now());
      return false;
    }, { until: s.sim.now() + 3_200 });
    assert.ok(entered.has(4), `${s.context}: reached views ${[...entered.keys()]}`);
    for (let view = 1; entered.has(view + 1); view++) {
      assert.equal(entered.get(view + 1)! - entered.get(view)!, 100 * 2 ** view, `${s.context}: view ${view} lasted base · 2^${view}`);
    }
    s.sim.restart(s.peers[a!]!);
    s.sim.restart(s.peers[b!]!);
    const stalled = s.minHeight(alive);
    s.runTo(stalled + 1, s.honest);
    s.runTo(stalled + 3, s.honest);
    assert.equal(s.node(alive[0]!).view, 0, "a new height starts again at view 0");
    assertSafeChains(s);
  });
});

describe("BFT with a member that missed the proposal (n = 3, f = 0: every member needed)", () => {
  it("the leader sends its proposal again after its first prepare round fails, and the height is decided in view 0", () => {
    const s = setup({ n: 3, seed: "late-member", viewTimeoutMs: 400 });
    s.runTo(2);
    // A later height's leader (height + view mod n) loses its first view-0 PROPOSE to one member, as to a member whose instance starts late.
    const height = Math.max(...s.honest.map((i) => s.logs[i]!.lastHeight)) + 3;
    const leader = height % 3;
    const late = s.peers[(leader + 1) % 3]!;
    let dropped = 0;
    s.sim.network.intercept(s.peers[leader]!, (to, type, payload) => {
      if (to !== late || type !== BFT_MESSAGES.PROPOSE || decodePropose(payload, 3, 1 << 20).height !== height) return payload;
      return dropped++ === 0 ? undefined : payload;
    });
    const before = s.honest.map((i) => s.node(i).stats.viewChanges);
    s.runTo(height);
    assert.equal(dropped, 2, `${s.context}: the proposal went to the late member twice`);
    assert.equal(s.logs[0]!.get(height)!.view, 0, `${s.context}: height ${height} decided in view 0`);
    assert.deepEqual(s.honest.map((i) => s.node(i).stats.viewChanges), before, `${s.context}: no view change`);
    assertSafeChains(s);
  });
});

describe("BFT with f byzantine validators", () => {
  const kinds: Behaviour[] = ["silent", "silent-leader", "equivocating-leader", "bad-partial"];
  for (const n of [4, 7]) {
    for (const kind of kinds) {
      const seed = `${kind}-${n}`;
      it(`n = ${n}: f ${kind} validators break neither safety nor liveness (${seed})`, () => {
        const faulty = new Map(pick(seed, n, fOf(n)).map((i) => [i, kind] as const));
        const s = setup({ n, seed, faulty });
        s.runTo(12);
        assertSafeChains(s);
        const honestStats = s.honest.map((i) => s.node(i).stats);
        if (kind === "silent" || kind === "silent-leader") {
          assert.ok(honestStats.some((stats) => stats.viewChanges > 0), `${s.context}: the silent leaders' views were changed`);
        }
        if (kind === "equivocating-leader") {
          const refused = s.honest.reduce((sum, i) => sum + s.node(i).cosi.stats.declined, 0);
          assert.ok(refused > 0, `${s.context}: validators fed the other proposal refused to co-sign the leader's`);
        }
        if (kind === "bad-partial") {
          const named = s.honest.reduce((sum, i) => sum + s.node(i).cosi.stats.badPartials, 0);
          assert.ok(named > 0, `${s.context}: leaders named the bad partial signatures`);
        }
      });
    }
  }

  it("n = 7: a mix of a silent leader and an equivocating leader", () => {
    const seed = "mixed-7";
    const [x, y] = pick(seed, 7, 2);
    const s = setup({ n: 7, seed, faulty: new Map<number, Behaviour>([[x!, "silent-leader"], [y!, "equivocating-leader"]]) });
    s.runTo(14);
    assertSafeChains(s);
  });
});

describe("BFT under byzantine leaders on a faulty network", () => {
  for (const seed of ["soak-a", "soak-b", "soak-c"]) {
    it(`n = 7: a withholding and an equivocating leader over lossy, jittery links (${seed})`, () => {
      const [x, y] = pick(seed, 7, 2);
      const s = setup({
        n: 7,
        seed,
        faulty: new Map<number, Behaviour>([[x!, "withholding-leader"], [y!, "equivocating-leader"]]),
        levelTimeoutMs: 60,
        viewTimeoutMs: 1_500,
        link: { latency: { kind: "lognormal", medianMs: 5, sigma: 0.6, floorMs: 1 }, loss: 0.02, duplication: 0.05, reorder: { probability: 0.05, maxExtraMs: 20 } },
      });
      s.runTo(12, s.honest, 600_000);
      assertSafeChains(s);
    });
  }
});

describe("BFT beyond f faults", () => {
  it("n = 4: f + 1 silent validators: no height is finalized, nothing conflicts", () => {
    const seed = "stall-4";
    const s = setup({ n: 4, seed, faulty: new Map(pick(seed, 4, 2).map((i) => [i, "silent"] as const)) });
    s.sim.run({ until: 15_000 });
    for (const i of s.honest) assert.equal(s.logs[i]!.lastHeight, 0, `${s.context}: validator ${i} finalized nothing`);
    assert.ok(s.honest.every((i) => s.node(i).view >= 3), `${s.context}: views kept changing`);
    assert.deepEqual(s.conflicts, []);
  });

  it("n = 7: f + 1 crashes stop progress; restarting them resumes it and they catch up", () => {
    const seed = "stall-7";
    const s = setup({ n: 7, seed, viewTimeoutMs: 200 });
    s.runTo(5);
    const down = pick(seed, 7, fOf(7) + 1);
    for (const i of down) s.sim.crash(s.peers[i]!);
    const alive = s.honest.filter((i) => !down.includes(i));
    // A height whose commit round was under way may still complete; nothing after it can.
    s.sim.run({ until: s.sim.now() + 500 });
    const frozen = alive.map((i) => s.logs[i]!.lastHeight);
    s.sim.run({ until: s.sim.now() + 10_000 });
    assert.deepEqual(alive.map((i) => s.logs[i]!.lastHeight), frozen, `${s.context}: no progress without a quorum`);
    assert.ok(alive.every((i) => s.node(i).view >= 3), `${s.context}: views kept changing`);
    const stuck = Math.max(...frozen);
    for (const i of down) s.sim.restart(s.peers[i]!);
    s.runTo(stuck + 4);
    assertSafeChains(s);
  });
});

describe("BFT catch-up", () => {
  for (const wipe of [false, true]) {
    it(`a validator restarted ${wipe ? "with an empty log" : "with its log"} fetches the heights it missed, verified, in order`, () => {
      const seed = wipe ? "catch-up-wiped" : "catch-up";
      const s = setup({ n: 7, seed });
      s.runTo(3);
      const [victim] = pick(seed, 7, 1);
      s.sim.crash(s.peers[victim!]!);
      const others = s.honest.filter((i) => i !== victim);
      s.runTo(15, others);
      const before = s.logs[victim!]!.lastHeight;
      assert.ok(before < 10, "the victim missed heights");
      if (wipe) s.logs[victim!] = new MemoryFinalityLog();
      s.sim.restart(s.peers[victim!]!);
      s.runTo(20);
      assert.equal(s.node(victim!).log, s.logs[victim!]);
      assertSafeChains(s);
      assert.ok(s.node(victim!).stats.recordsReceived >= 15 - (wipe ? 0 : before), `${s.context}: records fetched`);
    });
  }
});

describe("BFT instance ended by a final record (TransEpoch swap height)", () => {
  it("every member rests after the record that ends the instance; one that missed it catches up to it and rests; a restart from a log ending with it rests at once", () => {
    const seed = "ends-instance";
    const s = setup({ n: 7, seed, endsAt: 6 });
    const [victim] = pick(seed, 7, 1);
    s.runTo(2);
    s.sim.crash(s.peers[victim!]!);
    const others = s.honest.filter((i) => i !== victim);
    s.runTo(6, others);
    s.sim.runUntil(() => false, { until: s.sim.now() + 30_000 });
    for (const i of others) {
      assert.equal(s.logs[i]!.lastHeight, 6, `${s.context}: validator ${i} decides nothing after the instance's last height`);
      assert.equal(s.node(i).rested, true);
    }
    s.sim.restart(s.peers[victim!]!);
    s.runTo(6);
    s.sim.runUntil(() => false, { until: s.sim.now() + 30_000 });
    assert.equal(s.logs[victim!]!.lastHeight, 6, "the late member fetched up to the end and no further");
    assert.equal(s.node(victim!).rested, true);
    s.sim.crash(s.peers[others[0]!]!);
    s.sim.restart(s.peers[others[0]!]!);
    assert.equal(s.node(others[0]!).rested, true, "its log ends with the instance's last record");
    assertSafeChains(s);
  });
});

describe("BFT restart in the middle of a height", () => {
  it("a validator restarted while locked resumes past its last view, with its lock, and the locked value is finalized", () => {
    const seed = "resume-locked";
    const n = 4;
    const [withholder] = pick(seed, n, 1);
    const s = setup({ n, seed, faulty: new Map<number, Behaviour>([[withholder!, "withholding-leader"]]) });
    const height = withholder === 0 ? n : withholder!;
    const victim = s.honest[0]!;
    const locked = s.sim.runUntil(() => s.logs[victim]!.votes?.height === height && s.logs[victim]!.votes?.lock !== undefined, { until: 60_000 });
    assert.ok(locked, `${s.context}: validator ${victim} locked at height ${height}`);
    const saved = s.logs[victim]!.votes!;
    assert.equal(saved.view, 0);
    s.sim.crash(s.peers[victim]!);
    s.sim.restart(s.peers[victim]!);
    s.sim.run({ until: s.sim.now() });
    assert.equal(s.node(victim).height, height, "still at the unfinished height");
    assert.equal(s.node(victim).view, saved.view + 1, "resumed one view past the last it entered");
    assert.deepEqual(s.logs[victim]!.votes!.lock, saved.lock, "with its lock");
    s.runTo(height + 2);
    assertSafeChains(s);
    const record = s.logs[victim]!.get(height)!;
    assert.deepEqual(record.proposal, saved.lock!.proposal, `${s.context}: the value locked before the restart was finalized`);
  });
});

describe("BFT over a faulty network", () => {
  for (const seed of ["lossy-a", "lossy-b"]) {
    it(`message loss, duplication, reordering and jitter (n = 7, ${seed})`, () => {
      const s = setup({
        n: 7,
        seed,
        levelTimeoutMs: 60,
        viewTimeoutMs: 2_000,
        link: {
          latency: { kind: "lognormal", medianMs: 5, sigma: 0.6, floorMs: 1 },
          loss: 0.03,
          duplication: 0.05,
          reorder: { probability: 0.05, maxExtraMs: 20 },
        },
      });
      s.runTo(15, s.honest, 600_000);
      assertSafeChains(s);
    });
  }
});

describe("BFT input handling", () => {
  it("malformed, misplaced and forged messages are counted and dropped, never thrown", () => {
    const s = setup({ n: 4, seed: "garbage" });
    s.runTo(2);
    const junk = [new Uint8Array(0), new Uint8Array(13), new Uint8Array(300).fill(0xff)];
    const intruder = "ee".repeat(32);
    s.sim.addNode(intruder, ({ transport }) => {
      const channel = testChannel(transport);
      for (const type of Object.values(BFT_MESSAGES)) for (const payload of junk) channel.broadcast(s.peers, type, payload);
      // A well-formed proposal for the next height from someone who is not its leader.
      const height = s.minHeight(s.honest);
      channel.broadcast(s.peers, BFT_MESSAGES.PROPOSE, encodePropose({ height, view: 0, proposal: makeProposal(height, 9, s.sim.rng("intruder")), justification: [] }, 4));
      return channel;
    });
    s.sim.run({ until: s.sim.now() + 50 });
    const expected = junk.length * Object.keys(BFT_MESSAGES).length;
    for (const i of s.honest) assert.ok(s.node(i).stats.rejectedMessages >= expected, `validator ${i}: ${s.node(i).stats.rejectedMessages} < ${expected}`);
    const height = s.minHeight(s.honest);
    s.runTo(height + 3);
    assertSafeChains(s);
  });

  it("bad configuration gets coded errors", () => {
    const sim = new Simulator({ seed: 1 });
    const key = SchnorrKey.fromSeed(new Uint8Array(32).fill(3));
    const other = SchnorrKey.fromSeed(new Uint8Array(32).fill(4));
    const codes: (string | undefined)[] = [];
    sim.addNode(hexOf(key.publicKey), ({ transport, clock, rng }) => {
      const channel = testChannel(transport);
      const app: BftApplication = { propose: () => new Uint8Array(1), validate: () => true, onFinal: () => undefined };
      const base: BftConfig = { chainId: CHAIN, participants: [key.publicKey, other.publicKey], viewTimeoutMs: 100, cosi: { fanout: 2, levelTimeoutMs: 10 } };
      const codeOf = (config: BftConfig, application: BftApplication = app): string | undefined => {
        try {
          new BftNode(config, { channel, clock, rng, key, verifier, app: application });
        } catch (error) {
          return error instanceof IosError ? error.code : `uncoded: ${String(error)}`;
        }
        return undefined;
      };
      codes.push(
        codeOf({ ...base, chainId: new Uint8Array(0) }),
        codeOf({ ...base, viewTimeoutMs: 0 }),
        codeOf({ ...base, maxViewTimeoutMs: 50 }),
        codeOf({ ...base, maxProposalBytes: -1 }),
        codeOf(base, { propose: () => new Uint8Array(0) } as unknown as BftApplication),
        codeOf({ ...base, participants: [other.publicKey] }),
      );
      return undefined;
    });
    sim.run();
    assert.deepEqual(codes, ["BFT_BAD_CONFIG", "BFT_BAD_CONFIG", "BFT_BAD_CONFIG", "BFT_BAD_CONFIG", "BFT_BAD_CONFIG", "COSI_BAD_CONFIG"]);
  });
});
