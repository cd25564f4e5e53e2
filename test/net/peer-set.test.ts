/**
 * UwsTransport's peer set as the epochs change it (src/node/validator.ts `membershipOf`): a
 * validator that joined later is known by URL only to itself, so the lower key of a pair may have
 * no URL for the higher one. Then the higher key dials after `fallbackDialMs` and the lower side
 * accepts it; when the lower side has the URL it dials at once and refuses the higher's link
 * (AUTH_WRONG_DIRECTION), so either way the pair keeps one link. `setPeers` replaces the set:
 * removed peers' links close and are not redialed, new peers link, kept links stay up.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { messageType } from "../../src/net/message-types.js";
import type { PeerId } from "../../src/net/interface.js";
import type { UwsTransport } from "../../src/net/uws-transport.js";
import { RawPeer, closeAll, makeTransport, on, peerUrl, send, sortedIdentities, waitFor } from "./helpers.js";
import type { PeerIdentity } from "../../src/net/peer-auth.js";

const PING = messageType("consensus", 0);
const limits = { fallbackDialMs: 50, reconnectBaseMs: 20, reconnectMaxMs: 200 };

async function started(identity: PeerIdentity, peers: readonly PeerIdentity[]): Promise<{ transport: UwsTransport; port: number; got: PeerId[] }> {
  const transport = makeTransport(identity, peers, { limits });
  const got: PeerId[] = [];
  on(transport, PING, (from) => got.push(from));
  const { port } = await transport.start();
  return { transport, port, got };
}

describe("UwsTransport peer set", () => {
  it("a higher key that alone knows the other's URL dials it after the fallback delay: one link, both ways", async () => {
    const [lowId, highId] = sortedIdentities(2) as [PeerIdentity, PeerIdentity];
    const low = await started(lowId, [highId]);
    const high = await started(highId, [lowId]);
    try {
      // The lower side knows the higher key (an epoch lists it) but has no URL for it: it waits to be dialed.
      high.transport.setPeer(lowId.id, peerUrl(low.port));
      await waitFor("link", () => low.transport.connectedPeers().length === 1 && high.transport.connectedPeers().length === 1);
      assert.deepEqual(high.transport.stats().links.map((l) => l.direction), ["dialer"]);
      assert.deepEqual(low.transport.stats().links.map((l) => l.direction), ["acceptor"]);
      send(low.transport, highId.id, PING, Uint8Array.of(1));
      send(high.transport, lowId.id, PING, Uint8Array.of(2));
      await waitFor("both deliveries", () => low.got.length === 1 && high.got.length === 1);
      assert.equal(low.transport.stats().authFailures.AUTH_WRONG_DIRECTION, 0);

      // The lower side restarts its end of the link: the higher side, which dialed, dials again.
      await low.transport.close();
      const again = await started(lowId, [highId]);
      try {
        high.transport.setPeer(lowId.id, peerUrl(again.port));
        await waitFor("relinked", () => again.transport.connectedPeers().length === 1 && high.transport.connectedPeers().includes(lowId.id));
      } finally {
        await again.transport.close();
      }
    } finally {
      await closeAll([low, high]);
    }
  });

  it("when the lower key knows the higher's URL it dials and refuses the higher's link: the pair keeps one link", async () => {
    const [lowId, highId] = sortedIdentities(2) as [PeerIdentity, PeerIdentity];
    const low = await started(lowId, [highId]);
    const high = await started(highId, [lowId]);
    try {
      high.transport.setPeer(lowId.id, peerUrl(low.port));
      low.transport.setPeer(highId.id, peerUrl(high.port));
      await waitFor("link", () => low.transport.connectedPeers().length === 1 && high.transport.connectedPeers().length === 1);
      // Well past the fallback delay: still the one link the lower key dialed.
      await new Promise((resolve) => setTimeout(resolve, 4 * limits.fallbackDialMs));
      assert.deepEqual(low.transport.stats().links.map((l) => l.direction), ["dialer"]);
      assert.deepEqual(high.transport.stats().links.map((l) => l.direction), ["acceptor"]);
      // A higher key dialing in while the lower side holds its URL is refused.
      const reversed = new RawPeer(peerUrl(low.port));
      await reversed.authenticate(highId, lowId.id);
      assert.deepEqual((await reversed.closed).reason, "AUTH_WRONG_DIRECTION");
      assert.deepEqual(low.transport.connectedPeers(), [highId.id], "the refused link did not replace the real one");
    } finally {
      await closeAll([low, high]);
    }
  });

  it("setPeers replaces the set: a removed peer's link closes for good, a new peer links, a kept link stays", async () => {
    const [aId, bId, cId] = sortedIdentities(3) as [PeerIdentity, PeerIdentity, PeerIdentity];
    const a = await started(aId, [bId]);
    const b = await started(bId, [aId, cId]);
    const c = await started(cId, [aId, bId]);
    try {
      a.transport.setPeers(new Map([[bId.id, peerUrl(b.port)]]));
      b.transport.setPeer(aId.id, peerUrl(a.port));
      await waitFor("a–b", () => a.transport.connectedPeers().length === 1);
      const opened = a.transport.stats().linksOpened;
      // The next epoch: c joins (a has no URL for it: c dials in, having a's), b is kept, and then b leaves.
      a.transport.setPeers(new Map([[bId.id, peerUrl(b.port)], [cId.id, undefined]]));
      c.transport.setPeers(new Map([[aId.id, peerUrl(a.port)], [bId.id, peerUrl(b.port)]]));
      await waitFor("a–c", () => a.transport.connectedPeers().includes(cId.id));
      assert.equal(a.transport.stats().linksOpened, opened + 1, "the kept link to b was not redialed");
      assert.deepEqual([...a.transport.peerSet().keys()].sort(), [bId.id, cId.id].sort());
      a.transport.setPeers(new Map([[cId.id, undefined]]));
      await waitFor("b's link closes", () => !a.transport.connectedPeers().includes(bId.id) && !b.transport.connectedPeers().includes(aId.id));
      // b still knows a and redials: a refuses it as unknown, and never dials b again.
      await waitFor("b refused", () => a.transport.stats().authFailures.AUTH_UNKNOWN_PEER >= 1);
      assert.deepEqual(a.transport.connectedPeers(), [cId.id]);
      assert.throws(() => a.transport.setPeers(new Map([[cId.id, undefined], ["not-hex", undefined]])), { code: "TRANSPORT_BAD_CONFIG" });
      assert.deepEqual([...a.transport.peerSet().keys()], [cId.id], "a refused set changes nothing");
    } finally {
      await closeAll([a, b, c]);
    }
  });
});
