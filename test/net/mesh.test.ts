/**
 * UwsTransport on real sockets (127.0.0.1, ephemeral ports): meshes of two and four validators
 * form, authenticate and exchange messages both ways; links are de-duplicated (the lower key
 * dials); a lost link is redialed with backoff after the peer restarts; bad configuration is
 * refused with a code.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { IosError } from "../../src/errors.js";
import { HandlerFailures } from "../../src/log/handler-failures.js";
import { MemoryLog } from "../../src/log/logger.js";
import type { PeerId } from "../../src/net/interface.js";
import { CONTROL_MESSAGES, messageType } from "../../src/net/message-types.js";
import { CLOSE_CODES, UwsTransport } from "../../src/net/uws-transport.js";
import type { TimerHandle } from "../../src/runtime/interface.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";
import { testFailures } from "../support/log.js";
import { CHAIN_ID, RawPeer, channelOf, closeAll, fullMesh, makeTransport, on, peerUrl, send, sortedIdentities, startMesh, waitFor } from "./helpers.js";

const PING = messageType("consensus", 0);
const PONG = messageType("drp", 3);

/** The system clock, recording every timer delay it is asked for. */
class RecordingClock extends SystemClock {
  readonly delays: number[] = [];

  override setTimer(delayMs: number, callback: () => void): TimerHandle {
    this.delays.push(delayMs);
    return super.setTimer(delayMs, callback);
  }
}

interface Received {
  from: PeerId;
  type: number;
  payload: Uint8Array;
}

function record(transport: UwsTransport, type: number): Received[] {
  const received: Received[] = [];
  on(transport, type, (from, t, payload) => received.push({ from, type: t, payload }));
  return received;
}

describe("UwsTransport mesh", () => {
  it("two validators connect over one link and exchange messages both ways", async () => {
    const ids = sortedIdentities(2);
    const nodes = await startMesh(ids);
    try {
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const atA = record(a.transport, PONG);
      const atB = record(b.transport, PING);
      await waitFor("mesh of 2", () => fullMesh(nodes));
      assert.deepEqual(a.transport.connectedPeers(), [b.identity.id]);
      assert.deepEqual(b.transport.connectedPeers(), [a.identity.id]);
      // One link, dialed by the lower key.
      assert.deepEqual(a.transport.stats().links.map((l) => l.direction), ["dialer"]);
      assert.deepEqual(b.transport.stats().links.map((l) => l.direction), ["acceptor"]);

      const toB = randomBytes(1000);
      const toA = randomBytes(70_000);
      send(a.transport, b.identity.id, PING, toB);
      send(b.transport, a.identity.id, PONG, toA);
      send(b.transport, a.identity.id, PONG, new Uint8Array(0));
      await waitFor("both deliveries", () => atB.length === 1 && atA.length === 2);
      assert.deepEqual(atB[0], { from: a.identity.id, type: PING, payload: new Uint8Array(toB) });
      assert.deepEqual(atA[0], { from: b.identity.id, type: PONG, payload: new Uint8Array(toA) });
      assert.equal(atA[1]!.payload.length, 0);

      const statsA = a.transport.stats();
      assert.equal(statsA.framesIn, 2);
      assert.equal(statsA.framesOut, 3, "HELLO, AUTH, PING");
      assert.equal(statsA.linksOpened, 1);
      assert.equal(Object.values(statsA.authFailures).reduce((x, y) => x + y), 0);
    } finally {
      await closeAll(nodes);
    }
  });

  it("four validators form a full mesh; broadcasts reach every other validator once", async () => {
    const ids = sortedIdentities(4);
    const nodes = await startMesh(ids);
    try {
      const inboxes = nodes.map((n) => record(n.transport, PING));
      await waitFor("mesh of 4", () => fullMesh(nodes));
      for (const node of nodes) {
        assert.deepEqual(new Set(node.transport.connectedPeers()), new Set(ids.filter((i) => i !== node.identity).map((i) => i.id)));
        // Node i dials the 3 - i higher keys and accepts the i lower ones.
        const index = nodes.indexOf(node);
        const directions = node.transport.stats().links.map((l) => l.direction);
        assert.equal(directions.filter((d) => d === "dialer").length, 3 - index);
        assert.equal(directions.filter((d) => d === "acceptor").length, index);
      }
      const group = ids.map((i) => i.id);
      nodes.forEach((node, i) => channelOf(node.transport, PING).broadcast(group, PING, Uint8Array.of(i)));
      await waitFor("12 deliveries", () => inboxes.every((inbox) => inbox.length === 3));
      nodes.forEach((node, i) => {
        const got = inboxes[i]!.map((m) => [m.from, m.payload[0]]).sort();
        const expected = nodes.filter((n) => n !== node).map((n) => [n.identity.id, nodes.indexOf(n)]).sort();
        assert.deepEqual(got, expected);
        assert.equal(node.transport.stats().drops.unreachable, 0);
      });
    } finally {
      await closeAll(nodes);
    }
  });

  it("handlers get their own copy; a throwing handler is logged with its code and counted, and delivery goes on; unhandled types and instances are counted", async () => {
    const ids = sortedIdentities(2);
    const log = new MemoryLog();
    const failures = new HandlerFailures(log.logger);
    const nodes = await startMesh(ids, { failures });
    try {
      const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const THROWS = messageType("atomix", 1);
      const REJECTS = messageType("atomix", 2);
      const FAILS_LATER = messageType("drp", 3);
      const UNHANDLED = messageType("consensus", 7);
      const NO_INSTANCE = messageType("msb", 2);
      on(b.transport, THROWS, () => {
        throw new Error("protocol bug");
      });
      on(b.transport, REJECTS, () => {
        throw new IosError("ATOMIX_BAD_LOCK", "lock proof does not verify");
      });
      on(b.transport, FAILS_LATER, () => Promise.reject(new IosError("DRP_LATE", "round already closed")));
      const atB = record(b.transport, PING);
      await waitFor("mesh", () => fullMesh(nodes));
      const payload = Uint8Array.of(1, 2, 3);
      send(a.transport, b.identity.id, THROWS, payload);
      send(a.transport, b.identity.id, UNHANDLED, payload);
      send(a.transport, b.identity.id, NO_INSTANCE, payload);
      send(a.transport, b.identity.id, PING, payload);
      payload[0] = 9;
      await waitFor("PING after the throwing handler", () => atB.length === 1);
      assert.deepEqual(atB[0]!.payload, Uint8Array.of(1, 2, 3));
      for (let i = 0; i < 3; i++) send(a.transport, b.identity.id, REJECTS, payload);
      send(a.transport, b.identity.id, FAILS_LATER, payload);
      send(a.transport, b.identity.id, PING, payload);
      await waitFor("PING after the rejections", () => atB.length === 2 && failures.count("drp", "DRP_LATE") === 1);

      assert.equal(failures.count("atomix", "INTERNAL"), 1);
      assert.equal(failures.count("atomix", "ATOMIX_BAD_LOCK"), 3);
      assert.equal(failures.total, 5);
      const [bug] = log.entries({ code: "INTERNAL" });
      assert.equal(bug!.level, "error");
      assert.equal(bug!["subsystem"], "atomix");
      assert.equal(bug!["peer"], a.identity.id);
      assert.match(String((bug!["err"] as { stack: string }).stack), /protocol bug/);
      const rejections = log.entries({ code: "ATOMIX_BAD_LOCK" });
      assert.deepEqual(rejections.map((entry) => [entry.level, entry["count"]]), [["warn", 1], ["warn", 2]], "the 1st and 2nd are logged, not the 3rd");
      assert.equal(log.entries({ code: "DRP_LATE", subsystem: "drp" }).length, 1, "a rejected promise is recorded too");
      const sample = failures.metrics()[0]!.samples.find((s) => s.labels?.["code"] === "ATOMIX_BAD_LOCK");
      assert.deepEqual(sample, { labels: { subsystem: "atomix", code: "ATOMIX_BAD_LOCK" }, value: 3 });

      const stats = b.transport.stats();
      assert.equal(stats.drops.no_handler, 1, "a consensus type without a handler in the open consensus instance");
      assert.equal(stats.drops.no_instance, 1, "an msb type: b has no msb channel open");
      assert.deepEqual(b.transport.connectedPeers(), [a.identity.id]);
    } finally {
      await closeAll(nodes);
    }
  });

  it("sends to unknown or unconnected peers are dropped and counted; bad types are refused", async () => {
    const [a, stranger] = sortedIdentities(2) as [ReturnType<typeof sortedIdentities>[0], ReturnType<typeof sortedIdentities>[0]];
    const transport = makeTransport(a, [a]);
    try {
      await transport.start();
      const channel = channelOf(transport, PING);
      channel.send(stranger.id, PING, new Uint8Array(1));
      channel.broadcast([a.id, stranger.id], PING, new Uint8Array(1));
      channel.send(a.id, PING, new Uint8Array(1));
      assert.equal(transport.stats().drops.unreachable, 2);
      assert.equal(transport.stats().drops.self, 1);
      assert.throws(() => channel.send(stranger.id, CONTROL_MESSAGES.HELLO, new Uint8Array(1)), { code: "CHANNEL_BAD_TYPE" });
      assert.throws(() => channel.send(stranger.id, PONG, new Uint8Array(1)), { code: "CHANNEL_BAD_TYPE" }, "a drp type on a consensus channel");
      assert.throws(() => channel.on(0xc0, () => undefined), { code: "CHANNEL_BAD_TYPE" });
      assert.throws(() => channel.send(stranger.id, PING, "text" as unknown as Uint8Array), { code: "CHANNEL_BAD_PAYLOAD" });
      channel.on(PING, () => undefined);
      assert.throws(() => channel.on(PING, () => undefined), { code: "CHANNEL_BAD_HANDLER" });
      assert.throws(() => transport.setPeer("not-hex", undefined), { code: "TRANSPORT_BAD_CONFIG" });
      assert.throws(() => transport.setPeer(stranger.id, "http://127.0.0.1:1/"), { code: "TRANSPORT_BAD_CONFIG" });
    } finally {
      await transport.close();
    }
    assert.equal(channelOf(transport, PING).isOpen, false, "closing the transport closes its channels");
    assert.throws(() => transport.open({ protocol: "drp", shard: 0, epoch: 0 }), { code: "CHANNEL_CLOSED" });
  });

  it("a newer authenticated link from the same validator replaces the older one", async () => {
    const [low, high] = sortedIdentities(2) as [ReturnType<typeof sortedIdentities>[0], ReturnType<typeof sortedIdentities>[0]];
    const node = makeTransport(high, [low, high]);
    try {
      const { port } = await node.start();
      const first = new RawPeer(peerUrl(port));
      await first.authenticate(low, high.id);
      await waitFor("first link", () => node.connectedPeers().length === 1);
      const second = new RawPeer(peerUrl(port));
      await second.authenticate(low, high.id);
      assert.deepEqual(await first.closed, { code: CLOSE_CODES.LINK_REPLACED, reason: "LINK_REPLACED" });
      await waitFor("second link", () => node.stats().linksOpened === 2);
      assert.deepEqual(node.connectedPeers(), [low.id]);
      await second.close();
      await waitFor("link gone", () => node.connectedPeers().length === 0);
    } finally {
      await node.close();
    }
  });

  it("the dialer redials a refused peer with exponential backoff and jitter, up to the cap", async () => {
    const ids = sortedIdentities(2);
    const limits = { reconnectBaseMs: 20, reconnectMaxMs: 160 };
    const clock = new RecordingClock();
    const nodes = await startMesh(ids, { limits, clock });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    try {
      await waitFor("mesh", () => fullMesh(nodes));
      clock.delays.length = 0;
      // B drops A from its validator set: the link closes and B refuses A's redials.
      b.transport.removePeer(a.identity.id);
      await waitFor("A sees the link drop", () => a.transport.connectedPeers().length === 0);
      await waitFor("six redials refused", () => a.transport.stats().reconnects >= 6);
      assert.ok(b.transport.stats().authFailures.AUTH_UNKNOWN_PEER >= 5);
      // Backoff delays (below the 1 s close grace and 5 s handshake timers): uniform in [c/2, c].
      const backoff = clock.delays.filter((d) => d < 1000).slice(0, 6);
      [20, 40, 80, 160, 160, 160].forEach((ceiling, i) => {
        assert.ok(backoff[i]! >= ceiling / 2 && backoff[i]! <= ceiling, `delay ${i} = ${backoff[i]} outside [${ceiling / 2}, ${ceiling}]`);
      });
      const atB = record(b.transport, PING);
      b.transport.setPeer(a.identity.id, undefined);
      await waitFor("a later redial succeeds", () => a.transport.connectedPeers().length === 1 && b.transport.connectedPeers().length === 1);
      send(a.transport, b.identity.id, PING, Uint8Array.of(7));
      await waitFor("delivery", () => atB.length === 1);
      assert.equal(a.transport.stats().linksOpened, 2);
    } finally {
      await closeAll(nodes);
    }
  });

  it("after a peer restarts (on a new port), the dialer reconnects and traffic resumes", async () => {
    const ids = sortedIdentities(2);
    const limits = { reconnectBaseMs: 20, reconnectMaxMs: 200 };
    const nodes = await startMesh(ids, { limits });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    let restarted: UwsTransport | undefined;
    try {
      await waitFor("mesh", () => fullMesh(nodes));
      await b.transport.close();
      await waitFor("A sees the link drop", () => a.transport.connectedPeers().length === 0);
      // Connection refused while B is down: redials keep being scheduled.
      await waitFor("failed redials", () => a.transport.stats().reconnects >= 3);
      // B's closed connections hold its old port in TIME_WAIT (on this machine even node:net
      // cannot rebind it then), so the restarted B announces a new address, as a validator
      // re-registering would.
      restarted = makeTransport(b.identity, ids, { limits });
      const atB = record(restarted, PING);
      const { port } = await restarted.start();
      a.transport.setPeer(b.identity.id, peerUrl(port));
      await waitFor("link re-established", () => a.transport.connectedPeers().length === 1 && restarted!.connectedPeers().length === 1);
      send(a.transport, b.identity.id, PING, Uint8Array.of(42));
      await waitFor("delivery after restart", () => atB.length === 1);
      assert.equal(atB[0]!.from, a.identity.id);
      assert.equal(a.transport.stats().linksOpened, 2);
    } finally {
      await closeAll(nodes);
      await restarted?.close();
    }
  });

  it("a second transport on a port already taken fails to start instead of sharing it", async () => {
    const [a, b] = sortedIdentities(2) as [ReturnType<typeof sortedIdentities>[0], ReturnType<typeof sortedIdentities>[0]];
    const first = makeTransport(a, [a, b]);
    const { port } = await first.start();
    const second = makeTransport(b, [a, b], { port });
    try {
      await assert.rejects(second.start(), { code: "TRANSPORT_LISTEN_FAILED" });
    } finally {
      await closeAll([{ transport: first }, { transport: second }]);
    }
  });

  it("refuses bad configuration with coded errors", () => {
    const [a] = sortedIdentities(1) as [ReturnType<typeof sortedIdentities>[0]];
    const base = { identity: a, chainId: CHAIN_ID, host: "127.0.0.1", port: 0, peers: new Map(), clock: new SystemClock(), rng: new CryptoRng(), failures: testFailures() };
    assert.throws(() => new UwsTransport({ ...base, port: 70_000 }), { code: "TRANSPORT_BAD_CONFIG" });
    assert.throws(() => new UwsTransport({ ...base, chainId: new Uint8Array(0) }), { code: "AUTH_BAD_CONFIG" });
    assert.throws(() => new UwsTransport({ ...base, limits: { maxFrameBytes: 1 } }), { code: "TRANSPORT_BAD_CONFIG" });
    assert.throws(() => new UwsTransport({ ...base, limits: { rateByteBurst: 10 } }), { code: "TRANSPORT_BAD_CONFIG" });
    assert.throws(() => new UwsTransport({ ...base, limits: { reconnectBaseMs: -1 } }), { code: "TRANSPORT_BAD_CONFIG" });
    for (const idleTimeoutSec of [4, 12.5, 1000]) {
      assert.throws(() => new UwsTransport({ ...base, limits: { idleTimeoutSec } }), { code: "TRANSPORT_BAD_CONFIG" });
    }
    assert.throws(() => new UwsTransport({ ...base, peers: new Map([["xyz", undefined]]) }), { code: "TRANSPORT_BAD_CONFIG" });
  });
});
