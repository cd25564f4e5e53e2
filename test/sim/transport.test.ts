/**
 * SimTransport and its channels: delivery, copies, drops by reason (self, unknown peer, no
 * channel for the instance, no handler, closed channel or transport), coded refusals of bad
 * calls, and the instance rules shared with the real transport (src/net/channels.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";
import { Simulator } from "../../src/sim/simulator.js";
import type { Channel, InstanceId, MessageType, PeerId, Transport } from "../../src/net/interface.js";
import { instanceKey } from "../../src/net/channels.js";
import { messageType } from "../../src/net/message-types.js";
import { DATA, TEST_INSTANCE, peerId, word } from "./protocols.js";

const IDS = [peerId(1), peerId(2), peerId(3)];
const [A, B, C] = IDS as [PeerId, PeerId, PeerId];
const UNHANDLED = messageType("consensus", 5);

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

interface Inbox {
  transport: Transport;
  channel: Channel;
  inbox: { from: PeerId; type: MessageType; payload: Uint8Array }[];
}

function world() {
  const sim = new Simulator({ seed: "transport" });
  const nodes = IDS.map((id) =>
    sim.addNode<Inbox>(id, ({ transport }) => {
      const inbox: Inbox["inbox"] = [];
      const channel = transport.open(TEST_INSTANCE);
      channel.on(DATA, (from, type, payload) => inbox.push({ from, type, payload }));
      return { transport, channel, inbox };
    }),
  );
  sim.run();
  const [a, b, c] = nodes.map((node) => node.instance!) as [Inbox, Inbox, Inbox];
  return { sim, a, b, c };
}

describe("SimTransport", () => {
  it("delivers payload, type and sender; the payload is copied on send", () => {
    const { sim, a, b } = world();
    const buffer = Uint8Array.of(1, 2, 3);
    a.channel.send(B, DATA, buffer);
    buffer[0] = 99;
    sim.run();
    assert.equal(b.inbox.length, 1);
    assert.deepEqual(b.inbox[0], { from: A, type: DATA, payload: Uint8Array.of(1, 2, 3) });
    assert.equal(a.transport.self, A);
    assert.equal(a.channel.self, A);
    assert.deepEqual(a.channel.instance, TEST_INSTANCE);
  });

  it("broadcast reaches every other member once, each with its own copy", () => {
    const { sim, a, b, c } = world();
    const payload = Uint8Array.of(5, 6);
    a.channel.broadcast(IDS, DATA, payload);
    sim.run();
    assert.equal(a.inbox.length, 0);
    assert.equal(b.inbox.length, 1);
    assert.equal(c.inbox.length, 1);
    b.inbox[0]!.payload[0] = 0;
    assert.deepEqual(c.inbox[0]!.payload, Uint8Array.of(5, 6));
    assert.equal(sim.network.stats().sent, 2);
  });

  it("drops sends to self, to unknown peers, of unhandled types and to unopened instances, and counts them by reason", () => {
    const { sim, a, b } = world();
    a.channel.send(A, DATA, word(1));
    a.channel.send(peerId(0xee), DATA, word(2));
    a.channel.send(B, UNHANDLED, word(3));
    a.transport.open({ ...TEST_INSTANCE, epoch: 1 }).send(B, DATA, word(4));
    a.transport.open({ protocol: "client", shard: 0, epoch: 0 }).send(B, messageType("client", 0), word(5));
    sim.run();
    assert.equal(a.inbox.length + b.inbox.length, 0);
    const stats = sim.network.stats();
    assert.equal(stats.sent, 5);
    assert.equal(stats.delivered, 0);
    assert.equal(stats.dropped.self, 1);
    assert.equal(stats.dropped["unknown-peer"], 1);
    assert.equal(stats.dropped["no-handler"], 1);
    assert.equal(stats.dropped["no-instance"], 2);
  });

  it("refuses malformed calls with coded errors", () => {
    const { a } = world();
    assert.throws(() => a.channel.send(B, 256, word(1)), hasCode("CHANNEL_BAD_TYPE"));
    assert.throws(() => a.channel.send(B, -1, word(1)), hasCode("CHANNEL_BAD_TYPE"));
    assert.throws(() => a.channel.send(B, DATA + 0.5, word(1)), hasCode("CHANNEL_BAD_TYPE"));
    assert.throws(() => a.channel.send(B, messageType("client", 0), word(1)), hasCode("CHANNEL_BAD_TYPE"), "another protocol's type");
    assert.throws(() => a.channel.send(B, DATA, [1, 2] as unknown as Uint8Array), hasCode("CHANNEL_BAD_PAYLOAD"));
    assert.throws(() => a.channel.send(7 as unknown as PeerId, DATA, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.channel.broadcast("not a group" as unknown as PeerId[], DATA, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.channel.on(DATA, () => undefined), hasCode("CHANNEL_BAD_HANDLER"));
    assert.throws(() => a.channel.on(UNHANDLED, "no" as unknown as () => void), hasCode("CHANNEL_BAD_HANDLER"));
    assert.throws(() => a.channel.on(300, () => undefined), hasCode("CHANNEL_BAD_TYPE"));
    assert.throws(() => a.channel.on(1, () => undefined), hasCode("CHANNEL_BAD_TYPE"), "a control type");
  });

  it("opens one channel per instance: a second open is CHANNEL_IN_USE until the first closes", () => {
    const { sim, a, b } = world();
    assert.throws(() => b.transport.open(TEST_INSTANCE), hasCode("CHANNEL_IN_USE"));
    assert.throws(() => b.transport.open({ ...TEST_INSTANCE }), hasCode("CHANNEL_IN_USE"), "equal by value, not identity");
    const bad: unknown[] = [
      { protocol: "control", shard: 0, epoch: 0 },
      { protocol: "gossip", shard: 0, epoch: 0 },
      { protocol: "consensus", shard: -1, epoch: 0 },
      { protocol: "consensus", shard: 0, epoch: 2 ** 32 },
      { protocol: "consensus", shard: 1.5, epoch: 0 },
      { protocol: "consensus", shard: 0 },
      null,
    ];
    for (const instance of bad) assert.throws(() => b.transport.open(instance as InstanceId), hasCode("CHANNEL_BAD_INSTANCE"), JSON.stringify(instance));
    // Close unregisters every handler; it is idempotent; the instance can then be reopened.
    b.channel.close();
    b.channel.close();
    assert.equal(b.channel.isOpen, false);
    assert.throws(() => b.channel.on(UNHANDLED, () => undefined), hasCode("CHANNEL_CLOSED"));
    a.channel.send(B, DATA, word(1));
    sim.run();
    assert.equal(b.inbox.length, 0);
    assert.equal(sim.network.stats().dropped["no-instance"], 1);
    const reopened = b.transport.open(TEST_INSTANCE);
    const got: number[] = [];
    reopened.on(DATA, (_from, _type, payload) => got.push(payload[0]!));
    a.channel.send(B, DATA, word(2));
    // A closed channel sends nothing.
    b.channel.send(A, DATA, word(3));
    sim.run();
    assert.deepEqual(got, [2]);
    assert.equal(a.inbox.length, 0);
    assert.equal(sim.network.stats().dropped["sender-closed"], 1);
    assert.equal(instanceKey(reopened.instance), "consensus/0/0");
  });

  it("close stops sending and receiving on every channel, and connectedPeers lists live reachable peers", async () => {
    const { sim, a, b, c } = world();
    assert.deepEqual(a.transport.connectedPeers(), [B, C]);
    b.channel.send(A, DATA, word(1));
    await a.transport.close();
    assert.equal(a.channel.isOpen, false);
    assert.throws(() => a.transport.open({ ...TEST_INSTANCE, epoch: 9 }), hasCode("CHANNEL_CLOSED"));
    a.channel.send(B, DATA, word(2));
    sim.run();
    assert.equal(a.inbox.length, 0);
    assert.equal(b.inbox.length, 0);
    assert.deepEqual(a.transport.connectedPeers(), []);
    const stats = sim.network.stats();
    assert.equal(stats.dropped["sender-closed"], 1);
    assert.equal(stats.dropped["peer-down"], 1);
    sim.crash(C);
    assert.deepEqual(b.transport.connectedPeers(), [A]);
    assert.equal(c.transport.connectedPeers().length, 0);
  });

  it("partition and link settings refuse unknown nodes and bad values", () => {
    const { sim } = world();
    assert.throws(() => sim.network.partition([[A, peerId(0xee)]]), hasCode("SIM_UNKNOWN_NODE"));
    assert.throws(() => sim.network.partition([[A], [A, B]]), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.network.setLink(A, peerId(0xee), { loss: 0 }), hasCode("SIM_UNKNOWN_NODE"));
    assert.throws(() => sim.network.setLink(A, B, { duplication: -0.1 }), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.network.setDefaultLink({ reorder: { probability: 0.5, maxExtraMs: -1 } }), hasCode("SIM_BAD_CONFIG"));
  });
});
