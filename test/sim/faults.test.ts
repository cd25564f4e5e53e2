import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import type { LinkConfig } from "../../src/sim/link.js";
import type { Channel, Transport } from "../../src/net/interface.js";
import type { Clock } from "../../src/runtime/interface.js";
import { DATA, PING, Pinger, Ponger, Recorder, peerId, word, recordingNode, testChannel } from "./protocols.js";

const A = peerId(1);
const B = peerId(2);
const C = peerId(3);
const D = peerId(4);
const SEED = simSeed(5);

interface Sender {
  transport: Transport;
  channel: Channel;
  clock: Clock;
}

/** A sender node that exposes its transport and channel, and a recording receiver. */
function pair(link: Partial<LinkConfig>) {
  const sim = new Simulator({ seed: SEED, defaultLink: link });
  const sender = sim.addNode<Sender>(A, ({ transport, clock }) => ({ transport, channel: testChannel(transport), clock }));
  const receiver = sim.addNode(B, ({ transport, clock }) => new Recorder(testChannel(transport), clock));
  sim.run();
  return { sim, sender: sender.instance!, receiver: receiver.instance! };
}

/** Sends DATA(0..count-1) from A to B, `spacingMs` apart. */
function stream(sim: Simulator, sender: Sender, count: number, spacingMs: number): void {
  for (let i = 0; i < count; i++) sim.schedule(i * spacingMs, `send ${i}`, () => sender.channel.send(B, DATA, word(i)));
  sim.run();
}

function inversions(values: number[]): number {
  let count = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) count++;
  return count;
}

describe("simulated network faults", () => {
  it("loses messages at the configured rate (within 6 standard deviations)", () => {
    const n = 20_000;
    const p = 0.2;
    const { sim, sender, receiver } = pair({ loss: p });
    stream(sim, sender, n, 0.01);
    const lost = n - receiver.received.length;
    // Lost ~ Binomial(n, p): mean 4000, sd = sqrt(n p (1-p)) ≈ 56.6; ±6 sd ≈ ±340 holds with
    // probability > 1 - 2e-9 for a fair generator.
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(lost - n * p) < 6 * sd, `lost ${lost} of ${n}`);
    assert.equal(sim.network.stats().dropped.loss, lost);
    assert.equal(sim.network.stats().sent, n);
  });

  it("a loss of 1 drops everything and a loss of 0 nothing", () => {
    const none = pair({ loss: 0 });
    stream(none.sim, none.sender, 500, 0.1);
    assert.equal(none.receiver.received.length, 500);
    const all = pair({ loss: 1 });
    stream(all.sim, all.sender, 500, 0.1);
    assert.equal(all.receiver.received.length, 0);
  });

  it("duplicates arrive twice, at the configured rate", () => {
    const n = 10_000;
    const p = 0.1;
    const { sim, sender, receiver } = pair({ duplication: p });
    stream(sim, sender, n, 0.01);
    const seen = new Map<number, number>();
    for (const { value } of receiver.received) seen.set(value, (seen.get(value) ?? 0) + 1);
    const twice = [...seen.values()].filter((count) => count === 2).length;
    assert.equal(seen.size, n);
    assert.ok([...seen.values()].every((count) => count === 1 || count === 2));
    assert.equal(twice, sim.network.stats().duplicated);
    assert.equal(receiver.received.length, n + twice);
    // Duplicates ~ Binomial(n, p): sd = 30, bound ±6 sd.
    assert.ok(Math.abs(twice - n * p) < 6 * Math.sqrt(n * p * (1 - p)), `duplicated ${twice} of ${n}`);
  });

  it("keeps send order on a constant-latency link, even for messages sent at one instant", () => {
    const { sim, sender, receiver } = pair({ latency: { kind: "constant", ms: 7 } });
    sim.schedule(0, "burst", () => {
      for (let i = 0; i < 200; i++) sender.channel.send(B, DATA, word(i));
    });
    sim.run();
    stream(sim, sender, 200, 0.5);
    const values = receiver.received.map((r) => r.value);
    assert.equal(values.length, 400);
    assert.equal(inversions(values.slice(0, 200)), 0);
    assert.equal(inversions(values.slice(200)), 0);
    assert.ok(receiver.received.every((r, i) => i === 0 || r.at >= receiver.received[i - 1]!.at));
  });

  for (const latency of [
    { kind: "uniform", minMs: 1, maxMs: 20 },
    { kind: "normal", meanMs: 10, stdDevMs: 4, floorMs: 1 },
    { kind: "lognormal", medianMs: 10, sigma: 0.6, floorMs: 1 },
  ] as const) {
    it(`reorders messages under ${latency.kind} latency jitter`, () => {
      const { sim, sender, receiver } = pair({ latency });
      stream(sim, sender, 500, 1);
      assert.equal(receiver.received.length, 500);
      assert.ok(inversions(receiver.received.map((r) => r.value)) > 0);
      assert.ok(receiver.received.every((r) => r.at >= 1));
    });
  }

  it("reorders messages on a constant-latency link with explicit reordering", () => {
    const { sim, sender, receiver } = pair({
      latency: { kind: "constant", ms: 5 },
      reorder: { probability: 0.2, maxExtraMs: 10 },
    });
    stream(sim, sender, 500, 1);
    assert.equal(receiver.received.length, 500);
    assert.ok(inversions(receiver.received.map((r) => r.value)) > 0);
  });

  it("applies per-link configuration to one direction only", () => {
    const sim = new Simulator({ seed: SEED });
    const a = sim.addNode(A, ({ transport, clock }) => recordingNode(transport, clock));
    const b = sim.addNode(B, ({ transport, clock }) => recordingNode(transport, clock));
    sim.run();
    sim.network.setLink(A, B, { loss: 1 });
    assert.equal(sim.network.link(A, B).loss, 1);
    assert.equal(sim.network.link(B, A).loss, 0);
    a.instance!.channel.send(B, DATA, word(1));
    b.instance!.channel.send(A, DATA, word(2));
    sim.run();
    assert.equal(b.instance!.recorder.received.length, 0);
    assert.deepEqual(a.instance!.recorder.received.map((r) => r.value), [2]);
    sim.network.setLinkBothWays(A, B, { latency: { kind: "constant", ms: 40 }, loss: 0 });
    const sentAt = sim.now();
    a.instance!.channel.send(B, DATA, word(3));
    sim.run();
    assert.deepEqual(b.instance!.recorder.received.map((r) => [r.value, r.at - sentAt]), [[3, 40]]);
  });

  it("an intercepted node's messages are dropped or rewritten, across restarts, until released; others' pass", () => {
    const sim = new Simulator({ seed: SEED });
    const a = sim.addNode(A, ({ transport, clock }) => recordingNode(transport, clock));
    const b = sim.addNode(B, ({ transport, clock }) => recordingNode(transport, clock));
    sim.run();
    sim.network.intercept(A, (_to, type, payload) => (type === PING ? undefined : payload));
    a.instance!.channel.send(B, DATA, word(1));
    sim.network.intercept(A, (_to, type, payload) => (type === DATA ? undefined : payload));
    a.instance!.channel.send(B, DATA, word(2));
    b.instance!.channel.send(A, DATA, word(3));
    sim.run();
    assert.deepEqual(b.instance!.recorder.received.map((r) => r.value), [1], "only what the interceptor drops is dropped, and only from its node");
    assert.deepEqual(a.instance!.recorder.received.map((r) => r.value), [3]);
    assert.equal(sim.network.stats().dropped.intercepted, 1);
    sim.crash(A);
    sim.restart(A);
    sim.run();
    a.instance!.channel.send(B, DATA, word(4));
    sim.run();
    assert.equal(sim.network.stats().dropped.intercepted, 2, "the interceptor outlives the incarnation");
    sim.network.intercept(A, () => word(6));
    a.instance!.channel.send(B, DATA, word(5));
    sim.network.intercept(A, undefined);
    a.instance!.channel.send(B, DATA, word(7));
    sim.run();
    assert.deepEqual(b.instance!.recorder.received.map((r) => r.value), [1, 6, 7], "rewritten, then released");
  });

  it("a partition blocks traffic between groups, cuts messages in flight, and heal restores it", () => {
    const sim = new Simulator({ seed: SEED, defaultLink: { latency: { kind: "constant", ms: 10 } } });
    const nodes = [A, B, C, D].map((id) =>
      sim.addNode(id, ({ transport, clock }) => recordingNode(transport, clock)),
    );
    sim.run();
    const [a, b, c, d] = nodes.map((node) => node.instance!);
    // In flight when the partition starts: cut.
    a!.channel.send(C, DATA, word(1));
    sim.schedule(5, "partition", () => sim.network.partition([[A, B], [C]]));
    sim.run();
    assert.equal(c!.recorder.received.length, 0);
    assert.equal(sim.network.stats().dropped.partitioned, 1);
    // During the partition: within a group passes, across groups and to the unlisted D does not.
    a!.channel.broadcast([A, B, C, D], DATA, word(2));
    c!.channel.send(A, DATA, word(3));
    sim.run();
    assert.deepEqual(b!.recorder.received.map((r) => r.value), [2]);
    assert.equal(c!.recorder.received.length, 0);
    assert.equal(d!.recorder.received.length, 0);
    assert.equal(a!.recorder.received.length, 0);
    assert.equal(sim.network.stats().dropped.partitioned, 4);
    assert.deepEqual(a!.transport.connectedPeers(), [B]);
    assert.deepEqual(d!.transport.connectedPeers(), []);
    assert.equal(sim.network.reachable(A, B), true);
    assert.equal(sim.network.reachable(A, D), false);
    sim.network.heal();
    a!.channel.broadcast([A, B, C, D], DATA, word(4));
    sim.run();
    for (const node of [b, c, d]) assert.deepEqual(node!.recorder.received.map((r) => r.value).slice(-1), [4]);
    assert.deepEqual(a!.transport.connectedPeers(), [B, C, D]);
  });

  it("a crash stops the node's timers and deliveries; restart resumes with the same identity", () => {
    const sim = new Simulator({ seed: SEED, defaultLink: { latency: { kind: "constant", ms: 10 } } });
    /** State that survives a crash: what the node would have on disk. */
    const disk = { incarnations: [] as number[] };
    let oldTicks = 0;
    const node = sim.addNode(B, ({ transport, clock, incarnation }) => {
      disk.incarnations.push(incarnation);
      const recording = recordingNode(transport, clock);
      const tick = (): void => {
        if (incarnation === 0) oldTicks++;
        clock.setTimer(5, tick);
      };
      tick();
      return recording;
    });
    const peer = sim.addNode(A, ({ transport, clock }) => recordingNode(transport, clock));
    sim.run({ until: 50 });
    const first = node.instance!;
    const sender = peer.instance!;
    assert.equal(first.transport.self, B);
    assert.ok(oldTicks >= 9);
    // A message in flight when the node crashes is dropped, as is anything sent while it is down.
    sender.channel.send(B, DATA, word(1));
    sim.schedule(2, "crash", () => sim.crash(B));
    sim.run({ until: 100 });
    const ticksAtCrash = oldTicks;
    assert.equal(node.state, "crashed");
    assert.equal(node.instance, undefined);
    assert.equal(sim.network.isUp(B), false);
    sender.channel.send(B, DATA, word(2));
    first.channel.send(A, DATA, word(3));
    first.clock.setTimer(1, () => assert.fail("a crashed node's clock must not fire"));
    sim.run({ until: 200 });
    assert.equal(oldTicks, ticksAtCrash);
    assert.equal(first.recorder.received.length, 0);
    assert.equal(sender.recorder.received.length, 0);
    assert.deepEqual(sender.transport.connectedPeers(), []);
    const dropped = sim.network.stats().dropped;
    assert.equal(dropped["peer-down"], 2);
    assert.equal(dropped["sender-closed"], 1);
    // In flight across the restart: sent to the old incarnation, never delivered to the new one.
    sim.restart(B);
    assert.equal(node.state, "up");
    assert.equal(sim.network.isUp(B), true);
    assert.equal(node.incarnation, 1);
    const second = node.instance!;
    assert.notEqual(second, first);
    assert.equal(second.transport.self, B);
    assert.deepEqual(disk.incarnations, [0, 1]);
    sender.channel.send(B, DATA, word(4));
    sim.run({ until: 300 });
    assert.deepEqual(second.recorder.received.map((r) => r.value), [4]);
    assert.equal(oldTicks, ticksAtCrash);
    assert.deepEqual(sender.transport.connectedPeers(), [B]);
    second.channel.send(A, DATA, word(5));
    sim.run({ until: 400 });
    assert.deepEqual(sender.recorder.received.map((r) => r.value), [5]);
  });

  it("a message in flight to a node that crashes and restarts before it lands is dropped", () => {
    const sim = new Simulator({ seed: SEED, defaultLink: { latency: { kind: "constant", ms: 50 } } });
    const receiver = sim.addNode(B, ({ transport, clock }) => new Recorder(testChannel(transport), clock));
    const sender = sim.addNode<Sender>(A, ({ transport, clock }) => ({ transport, channel: testChannel(transport), clock }));
    sim.run();
    sender.instance!.channel.send(B, DATA, word(1));
    sim.schedule(10, "crash", () => sim.crash(B));
    sim.schedule(20, "restart", () => sim.restart(B));
    sim.run();
    assert.equal(receiver.instance!.received.length, 0);
    assert.equal(sim.network.stats().dropped["peer-down"], 1);
  });

  it("ping-pong with retransmission completes over a lossy link and survives a responder crash", () => {
    const sim = new Simulator({
      seed: SEED,
      defaultLink: { latency: { kind: "uniform", minMs: 2, maxMs: 8 }, loss: 0.3 },
    });
    const pinger = sim.addNode(A, ({ transport, clock }) => new Pinger(testChannel(transport), clock, B, 50, 30));
    sim.addNode(B, ({ transport }) => new Ponger(testChannel(transport)));
    sim.schedule(100, "crash", () => sim.crash(B));
    sim.schedule(400, "restart", () => sim.restart(B));
    assert.ok(sim.runUntil(() => pinger.instance?.done === true, { until: 60_000 }));
    assert.ok(pinger.instance!.retransmissions > 0);
    assert.equal(sim.node(B).incarnation, 1);
  });
});
