import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";
import { Simulator } from "../../src/sim/simulator.js";
import type { MessageType, PeerId, Transport } from "../../src/net/interface.js";
import { DATA, peerId, word } from "./protocols.js";

const IDS = [peerId(1), peerId(2), peerId(3)];
const [A, B, C] = IDS as [PeerId, PeerId, PeerId];

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

interface Inbox {
  transport: Transport;
  inbox: { from: PeerId; type: MessageType; payload: Uint8Array }[];
}

function world() {
  const sim = new Simulator({ seed: "transport" });
  const nodes = IDS.map((id) =>
    sim.addNode<Inbox>(id, ({ transport }) => {
      const inbox: Inbox["inbox"] = [];
      transport.on(DATA, (from, type, payload) => inbox.push({ from, type, payload }));
      return { transport, inbox };
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
    a.transport.send(B, DATA, buffer);
    buffer[0] = 99;
    sim.run();
    assert.equal(b.inbox.length, 1);
    assert.deepEqual(b.inbox[0], { from: A, type: DATA, payload: Uint8Array.of(1, 2, 3) });
    assert.equal(a.transport.self, A);
  });

  it("broadcast reaches every other member once, each with its own copy", () => {
    const { sim, a, b, c } = world();
    const payload = Uint8Array.of(5, 6);
    a.transport.broadcast(IDS, DATA, payload);
    sim.run();
    assert.equal(a.inbox.length, 0);
    assert.equal(b.inbox.length, 1);
    assert.equal(c.inbox.length, 1);
    b.inbox[0]!.payload[0] = 0;
    assert.deepEqual(c.inbox[0]!.payload, Uint8Array.of(5, 6));
    assert.equal(sim.network.stats().sent, 2);
  });

  it("drops sends to self, to unknown peers and of unhandled types, and counts them by reason", () => {
    const { sim, a, b } = world();
    a.transport.send(A, DATA, word(1));
    a.transport.send(peerId(0xee), DATA, word(2));
    a.transport.send(B, 200, word(3));
    sim.run();
    assert.equal(a.inbox.length + b.inbox.length, 0);
    const stats = sim.network.stats();
    assert.equal(stats.sent, 3);
    assert.equal(stats.delivered, 0);
    assert.equal(stats.dropped.self, 1);
    assert.equal(stats.dropped["unknown-peer"], 1);
    assert.equal(stats.dropped["no-handler"], 1);
  });

  it("refuses malformed calls with SIM_BAD_MESSAGE and a second handler with SIM_HANDLER_EXISTS", () => {
    const { a } = world();
    assert.throws(() => a.transport.send(B, 256, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.transport.send(B, -1, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.transport.send(B, 1.5, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.transport.send(B, DATA, [1, 2] as unknown as Uint8Array), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.transport.broadcast("not a group" as unknown as PeerId[], DATA, word(1)), hasCode("SIM_BAD_MESSAGE"));
    assert.throws(() => a.transport.on(DATA, () => undefined), hasCode("SIM_HANDLER_EXISTS"));
    assert.throws(() => a.transport.on(300, () => undefined), hasCode("SIM_BAD_MESSAGE"));
  });

  it("close stops sending and receiving, and connectedPeers lists live reachable peers", async () => {
    const { sim, a, b, c } = world();
    assert.deepEqual(a.transport.connectedPeers(), [B, C]);
    b.transport.send(A, DATA, word(1));
    await a.transport.close();
    a.transport.send(B, DATA, word(2));
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
