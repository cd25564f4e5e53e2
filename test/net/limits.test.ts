/**
 * UwsTransport resource limits on real sockets: per-link inbound token buckets throttle and
 * then disconnect an abusive peer; a peer that stops reading cannot make the node buffer more
 * than its bounds, on the uWS (inbound) side and on the `ws` (outbound) side, while the node
 * keeps serving an honest validator; a link stuck full past the stall timeout is closed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { PeerId } from "../../src/net/interface.js";
import { messageType } from "../../src/net/message-types.js";
import type { PeerIdentity } from "../../src/net/peer-auth.js";
import { CLOSE_CODES, type UwsTransport } from "../../src/net/uws-transport.js";
import { ManualClock, RawAcceptor, RawPeer, arena, makeTransport, closeAll, send, sortedIdentities, tcpSocketOf, waitFor } from "./helpers.js";

const DATA = messageType("msb", 0);

function countFrom(received: readonly PeerId[], peer: PeerId): number {
  return received.filter((p) => p === peer).length;
}

describe("UwsTransport rate limits", () => {
  it("throttles a peer over its message budget, refills with time, disconnects and bans an abusive one", async () => {
    const clock = new ManualClock();
    const limits = { rateMessagesPerSec: 5, rateMessageBurst: 10, abuseAllowance: 20, abuseRefillPerSec: 0.001, abuseBanMs: 30_000 };
    const { low, node, nodes, url, received, stillServing } = await arena({ limits, clock });
    try {
      const raw = new RawPeer(url);
      await raw.authenticate(low, node.identity.id);
      await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
      const ping = messageType("consensus", 0);
      for (let i = 0; i < 15; i++) raw.sendFrame(ping, Uint8Array.of(i));
      await waitFor("burst consumed", () => node.transport.stats().drops.rate_limited === 5);
      assert.equal(countFrom(received, low.id), 10);

      clock.advance(1000); // +5 message tokens
      for (let i = 0; i < 5; i++) raw.sendFrame(ping, Uint8Array.of(i));
      await waitFor("refilled budget used", () => countFrom(received, low.id) === 15);
      assert.equal(node.transport.stats().drops.rate_limited, 5);

      // 15 more throttled frames use up the abuse allowance (20 − 5); the next one disconnects.
      for (let i = 0; i < 40; i++) raw.sendFrame(ping, Uint8Array.of(i));
      assert.deepEqual(await raw.closed, { code: CLOSE_CODES.RATE_LIMITED, reason: "RATE_LIMITED" });
      assert.equal(node.transport.stats().drops.rate_limited, 21);
      assert.equal(countFrom(received, low.id), 15);
      await stillServing();

      // Reconnecting does not buy a fresh budget: the peer is refused until its ban expires.
      const again = new RawPeer(url);
      await again.authenticate(low, node.identity.id);
      assert.deepEqual(await again.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_BANNED" });
      clock.advance(limits.abuseBanMs);
      const later = new RawPeer(url);
      await later.authenticate(low, node.identity.id);
      await waitFor("accepted after the ban", () => node.transport.connectedPeers().includes(low.id));
      await later.close();
    } finally {
      await closeAll(nodes);
    }
  });

  it("throttles a peer over its byte budget", async () => {
    const clock = new ManualClock();
    const limits = { maxFrameBytes: 1024, rateBytesPerSec: 100, rateByteBurst: 2048 };
    const { low, node, nodes, url, received } = await arena({ limits, clock });
    try {
      const raw = new RawPeer(url);
      await raw.authenticate(low, node.identity.id);
      await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
      const ping = messageType("consensus", 0);
      for (let i = 0; i < 3; i++) raw.sendFrame(ping, new Uint8Array(1000)); // 1010 bytes each
      await waitFor("third frame throttled", () => node.transport.stats().drops.rate_limited === 1);
      assert.equal(countFrom(received, low.id), 2);
      clock.advance(9_000); // 28 left + 900 refilled: still short of one 1010-byte frame
      raw.sendFrame(ping, new Uint8Array(1000));
      await waitFor("still throttled", () => node.transport.stats().drops.rate_limited === 2);
      clock.advance(1_000); // 1028
      raw.sendFrame(ping, new Uint8Array(1000));
      await waitFor("budget refilled", () => countFrom(received, low.id) === 3);
    } finally {
      await closeAll(nodes);
    }
  });
});

describe("UwsTransport under a slow reader", () => {
  const frameBytes = 32 * 1024;
  const limits = { sendHighWaterBytes: 64 * 1024, maxQueueBytes: 256 * 1024, maxFrameBytes: 64 * 1024, stallTimeoutMs: 60_000 };

  /**
   * Sends `frames` frames to `peer` in bursts, checking the link's buffers after each burst;
   * with `untilStuck`, stops early once the queue stays over half full across a turn (the
   * kernel's socket buffers are full too).
   */
  async function flood(transport: UwsTransport, peer: PeerId, frames: number, untilStuck = false): Promise<void> {
    const payload = new Uint8Array(frameBytes);
    for (let sent = 0; sent < frames; ) {
      for (let i = 0; i < 50; i++, sent++) send(transport, peer, DATA, payload);
      await nextTurn();
      const link = transport.stats().links.find((l) => l.peer === peer);
      assert.ok(link !== undefined, "the slow link stays up below the stall timeout");
      assert.ok(link.queuedBytes <= limits.maxQueueBytes, `queue ${link.queuedBytes} over its bound`);
      assert.ok(link.bufferedBytes <= limits.sendHighWaterBytes + limits.maxFrameBytes, `socket buffer ${link.bufferedBytes} over its bound`);
      if (untilStuck && link.queuedBytes > limits.maxQueueBytes / 2) return;
    }
    assert.ok(!untilStuck, `the link never filled up after ${frames} frames`);
  }

  it("inbound (uWS) link: buffers stay bounded, frames are dropped, honest peers are served, a stalled link is closed", async () => {
    const clock = new ManualClock();
    const { low, node, nodes, url, stillServing } = await arena({ limits, clock });
    try {
      const slow = new RawPeer(url);
      await slow.authenticate(low, node.identity.id);
      await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
      tcpSocketOf(slow.ws).pause();
      await flood(node.transport, low.id, 1500); // 48 MiB offered to a peer that reads nothing
      const drops = node.transport.stats().drops;
      assert.ok(drops.queue_full > 1000, `only ${drops.queue_full} frames dropped`);
      assert.equal(drops.backpressure, 0, "uWS itself never had to drop");
      await stillServing();

      // Reading again, the peer gets every frame that was not counted as dropped.
      tcpSocketOf(slow.ws).resume();
      const delivered = (): number => slow.frames.filter((f) => f.type === DATA).length;
      await waitFor("queue flushed on drain", () => delivered() === 1500 - drops.queue_full);
      assert.equal(node.transport.stats().links.find((l) => l.peer === low.id)?.queuedBytes, 0);

      // Stuck again, past the stall timeout: the link is closed.
      tcpSocketOf(slow.ws).pause();
      await flood(node.transport, low.id, 10_000, true);
      // Fill the queue to its first drop, which starts the stall clock.
      const dropsBefore = node.transport.stats().drops.queue_full;
      while (node.transport.stats().drops.queue_full === dropsBefore) send(node.transport, low.id, DATA, new Uint8Array(frameBytes));
      clock.advance(limits.stallTimeoutMs);
      send(node.transport, low.id, DATA, new Uint8Array(frameBytes));
      assert.ok(!node.transport.connectedPeers().includes(low.id), "stalled link closed");
      assert.equal(node.transport.stats().links.length, 1);
      await stillServing();
      await slow.close();
    } finally {
      await closeAll(nodes);
    }
  });

  it("outbound (ws) link: buffers stay bounded and frames are dropped when the acceptor stops reading", async () => {
    const [dialerId, acceptorId] = sortedIdentities(2) as [PeerIdentity, PeerIdentity];
    const acceptor = new RawAcceptor(acceptorId, dialerId.id);
    const node = makeTransport(dialerId, [dialerId, acceptorId], { limits });
    try {
      const port = await acceptor.listening;
      await node.start();
      node.setPeer(acceptorId.id, `ws://127.0.0.1:${port}/peer`);
      const serverSide = await acceptor.authenticated;
      tcpSocketOf(serverSide).pause();
      await waitFor("authenticated", () => node.connectedPeers().length === 1);
      await flood(node, acceptorId.id, 1500);
      const dropped = node.stats().drops.queue_full;
      assert.ok(dropped > 1000, `only ${dropped} frames dropped`);
      tcpSocketOf(serverSide).resume();
      await waitFor("queue flushed as writes complete", () => acceptor.applicationFrames === 1500 - dropped);
    } finally {
      await acceptor.close();
      await node.close();
    }
  });
});
