/**
 * UwsTransport against misbehaving peers, on real sockets: impostors (unknown key, a validator's
 * key without its secret, a replayed handshake, the wrong key behind a dialed address, the wrong
 * dialing direction, silence) are refused with coded close reasons; garbage, bad-version,
 * unknown-type, text and oversize frames close only their own link; the node stays up and keeps
 * serving an honest validator throughout.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { encodeFrame, FRAME_HEADER_BYTES, FRAME_VERSION } from "../../src/net/frame.js";
import { CONTROL_MESSAGES, messageType } from "../../src/net/message-types.js";
import { PeerIdentity, authTranscript, encodeHello } from "../../src/net/peer-auth.js";
import { CLOSE_CODES } from "../../src/net/uws-transport.js";
import { CHAIN_ID, RawAcceptor, RawPeer, arena, closeAll, makeTransport, peerUrl, send, sortedIdentities, waitFor } from "./helpers.js";

const PING = messageType("consensus", 0);

describe("UwsTransport refuses impostors", () => {
  it("an unknown key is refused (AUTH_UNKNOWN_PEER)", async () => {
    const { outsider, node, nodes, url, stillServing } = await arena();
    try {
      const raw = new RawPeer(url);
      await raw.authenticate(outsider, node.identity.id);
      assert.deepEqual(await raw.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_UNKNOWN_PEER" });
      assert.equal(node.transport.stats().authFailures.AUTH_UNKNOWN_PEER, 1);
      assert.ok(!node.transport.connectedPeers().includes(outsider.id));
      await stillServing();
    } finally {
      await closeAll(nodes);
    }
  });

  it("a validator's key signed with another key is refused (AUTH_BAD_SIGNATURE)", async () => {
    const { low, outsider, node, nodes, url, stillServing } = await arena();
    try {
      const raw = new RawPeer(url);
      await raw.opened;
      const nonce = randomBytes(32);
      raw.sendFrame(CONTROL_MESSAGES.HELLO, encodeHello(nonce, low.publicKey));
      const nodeHello = await raw.nodeHello();
      const transcript = authTranscript({
        chainId: CHAIN_ID,
        signer: "dialer",
        dialerNonce: nonce,
        acceptorNonce: nodeHello.subarray(0, 32),
        dialerKey: low.publicKey,
        acceptorKey: node.identity.publicKey,
      });
      raw.sendFrame(CONTROL_MESSAGES.AUTH, outsider.sign(transcript));
      raw.sendFrame(PING, Uint8Array.of(1));
      assert.deepEqual(await raw.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_BAD_SIGNATURE" });
      assert.equal(node.transport.stats().authFailures.AUTH_BAD_SIGNATURE, 1);
      assert.ok(!node.transport.connectedPeers().includes(low.id));
      await stillServing();
    } finally {
      await closeAll(nodes);
    }
  });

  it("a handshake recorded on one link and replayed on another is refused", async () => {
    const { low, node, nodes, url, received, stillServing } = await arena();
    try {
      const genuine = new RawPeer(url);
      await genuine.authenticate(low, node.identity.id);
      await waitFor("genuine link", () => node.transport.connectedPeers().includes(low.id));
      await genuine.close();
      await waitFor("genuine link closed", () => !node.transport.connectedPeers().includes(low.id));

      const replay = new RawPeer(url);
      await replay.opened;
      replay.sendFrame(CONTROL_MESSAGES.HELLO, genuine.sentHello!);
      await replay.nodeHello();
      replay.sendFrame(CONTROL_MESSAGES.AUTH, genuine.sentAuth!);
      replay.sendFrame(PING, Uint8Array.of(1));
      assert.deepEqual(await replay.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_BAD_SIGNATURE" });
      assert.ok(!received.includes(low.id));
      await stillServing();
    } finally {
      await closeAll(nodes);
    }
  });

  it("a higher key dialing in, silence, and frames before authentication are refused", async () => {
    const { honest, node, nodes, url, stillServing } = await arena({ limits: { handshakeTimeoutMs: 300 } });
    try {
      // node's key is higher than honest's, so only honest may dial: node's key dialing in is refused.
      const reversed = new RawPeer(peerUrl(honest.port));
      await reversed.authenticate(node.identity, honest.identity.id);
      assert.deepEqual(await reversed.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_WRONG_DIRECTION" });
      assert.equal(honest.transport.stats().authFailures.AUTH_WRONG_DIRECTION, 1);

      const silent = new RawPeer(url);
      assert.deepEqual(await silent.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_TIMEOUT" });

      const eager = new RawPeer(url);
      await eager.opened;
      eager.sendFrame(PING, Uint8Array.of(1));
      assert.deepEqual(await eager.closed, { code: CLOSE_CODES.AUTH_FAILED, reason: "AUTH_UNEXPECTED" });

      const stats = node.transport.stats();
      assert.equal(stats.authFailures.AUTH_TIMEOUT, 1);
      assert.equal(stats.authFailures.AUTH_UNEXPECTED, 1);
      await stillServing();
    } finally {
      await closeAll(nodes);
    }
  });

  it("unauthenticated connections beyond maxPendingInbound are refused at the upgrade", async () => {
    const { node, nodes, url, stillServing } = await arena({ limits: { maxPendingInbound: 2 } });
    try {
      const silent = [new RawPeer(url), new RawPeer(url)];
      await Promise.all(silent.map((p) => p.opened));
      const third = new RawPeer(url);
      await assert.rejects(third.opened, /503/);
      assert.equal(node.transport.stats().refusedUpgrades, 1);
      await stillServing();
      await Promise.all(silent.map((p) => p.close()));
      await waitFor("pending links released", () => node.transport.stats().pendingLinks === 0);
      const later = new RawPeer(url);
      await later.opened;
      await later.close();
    } finally {
      await closeAll(nodes);
    }
  });

  it("a dialer refuses a server that answers with another key (AUTH_WRONG_PEER)", async () => {
    const [dialer, expected, impostorId] = sortedIdentities(3) as [PeerIdentity, PeerIdentity, PeerIdentity];
    const impostor = makeTransport(impostorId, [dialer, impostorId]);
    const node = makeTransport(dialer, [dialer, expected], { limits: { reconnectBaseMs: 50, reconnectMaxMs: 100 } });
    try {
      const { port } = await impostor.start();
      await node.start();
      node.setPeer(expected.id, peerUrl(port));
      await waitFor("refusals", () => node.stats().authFailures.AUTH_WRONG_PEER >= 2);
      assert.deepEqual(node.connectedPeers(), []);
      assert.deepEqual(impostor.connectedPeers(), []);
    } finally {
      await node.close();
      await impostor.close();
    }
  });
});

describe("UwsTransport detects dead peers", () => {
  it("a dialer closes a link on which the acceptor has gone silent (LINK_SILENT)", async () => {
    const [dialerId, acceptorId] = sortedIdentities(2) as [PeerIdentity, PeerIdentity];
    const acceptor = new RawAcceptor(acceptorId, dialerId.id);
    const node = makeTransport(dialerId, [dialerId, acceptorId], { limits: { peerSilenceMs: 200, reconnectBaseMs: 60_000, reconnectMaxMs: 60_000 } });
    try {
      const port = await acceptor.listening;
      await node.start();
      node.setPeer(acceptorId.id, peerUrl(port));
      const serverSide = await acceptor.authenticated;
      const closed = new Promise<{ code: number; reason: string }>((resolve) => serverSide.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
      await waitFor("authenticated", () => node.connectedPeers().length === 1);
      assert.deepEqual(await closed, { code: CLOSE_CODES.LINK_SILENT, reason: "LINK_SILENT" });
      assert.deepEqual(node.connectedPeers(), []);
      assert.equal(node.stats().reconnects, 1);
    } finally {
      await acceptor.close();
      await node.close();
    }
  });
});

describe("UwsTransport survives bad frames", () => {
  it("garbage, bad-version, unknown-type, truncated, bad-instance, text and handshake-replay frames close only their link", async () => {
    const { low, node, nodes, url, stillServing } = await arena();
    try {
      const cases: { bytes: Uint8Array | string; binary: boolean; reason: string; closeCode: number }[] = [
        { bytes: Uint8Array.of(FRAME_VERSION + 1, PING, 1, 2, 3), binary: true, reason: "FRAME_BAD_VERSION", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: Uint8Array.of(FRAME_VERSION, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 1), binary: true, reason: "FRAME_UNKNOWN_TYPE", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: Uint8Array.of(FRAME_VERSION, PING, 0, 0, 0, 0), binary: true, reason: "FRAME_TRUNCATED", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: Uint8Array.of(FRAME_VERSION, CONTROL_MESSAGES.AUTH, 1, 0, 0, 0, 0, 0, 0, 0), binary: true, reason: "FRAME_BAD_INSTANCE", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: new Uint8Array(0), binary: true, reason: "FRAME_TRUNCATED", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: Uint8Array.of(0xff, ...randomBytes(200)), binary: true, reason: "FRAME_BAD_VERSION", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: "hello", binary: false, reason: "FRAME_NOT_BINARY", closeCode: CLOSE_CODES.BAD_FRAME },
        { bytes: encodeFrame(CONTROL_MESSAGES.HELLO, randomBytes(64)), binary: true, reason: "AUTH_UNEXPECTED", closeCode: CLOSE_CODES.AUTH_FAILED },
      ];
      for (const c of cases) {
        const raw = new RawPeer(url);
        await raw.authenticate(low, node.identity.id);
        await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
        raw.sendRaw(c.bytes, c.binary);
        assert.deepEqual(await raw.closed, { code: c.closeCode, reason: c.reason }, c.reason);
        await waitFor("link dropped", () => !node.transport.connectedPeers().includes(low.id));
        await stillServing();
      }
      const stats = node.transport.stats();
      assert.equal(stats.frameErrors.FRAME_BAD_VERSION, 2);
      assert.equal(stats.frameErrors.FRAME_UNKNOWN_TYPE, 1);
      assert.equal(stats.frameErrors.FRAME_TRUNCATED, 2);
      assert.equal(stats.frameErrors.FRAME_BAD_INSTANCE, 1);
      assert.equal(stats.frameErrors.FRAME_NOT_BINARY, 1);
    } finally {
      await closeAll(nodes);
    }
  });

  it("an oversize frame closes the link at the socket layer, on both the uWS and the ws side", async () => {
    const maxFrameBytes = 64 * 1024;
    const { low, node, nodes, url, stillServing } = await arena({ limits: { maxFrameBytes } });
    try {
      const raw = new RawPeer(url);
      await raw.authenticate(low, node.identity.id);
      await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
      raw.sendRaw(encodeFrame(PING, new Uint8Array(maxFrameBytes), maxFrameBytes + FRAME_HEADER_BYTES));
      const closed = await raw.closed;
      assert.notEqual(closed.code, 1000);
      await waitFor("counted", () => node.transport.stats().frameErrors.FRAME_TOO_LARGE === 1);
      await stillServing();
    } finally {
      await closeAll(nodes);
    }

    // A dialer with a small limit receiving from an acceptor that allows more: ws maxPayload.
    const [small, big] = sortedIdentities(2) as [PeerIdentity, PeerIdentity];
    const dialer = makeTransport(small, [small, big], { limits: { maxFrameBytes, reconnectBaseMs: 5_000, reconnectMaxMs: 5_000 } });
    const acceptor = makeTransport(big, [small, big]);
    try {
      await dialer.start();
      const { port } = await acceptor.start();
      dialer.setPeer(big.id, peerUrl(port));
      await waitFor("link", () => dialer.connectedPeers().length === 1);
      send(acceptor, small.id, PING, new Uint8Array(maxFrameBytes));
      await waitFor("dialer refused the frame", () => dialer.stats().frameErrors.FRAME_TOO_LARGE === 1);
      await waitFor("link closed", () => dialer.connectedPeers().length === 0);
    } finally {
      await dialer.close();
      await acceptor.close();
    }
  });

  it("raw TCP garbage and a non-WebSocket request do not disturb the node", async () => {
    const { node, nodes, stillServing } = await arena();
    try {
      await new Promise<void>((resolve) => {
        const socket = connect(node.port, "127.0.0.1", () => {
          socket.write(randomBytes(4096));
          socket.end();
        });
        socket.on("close", () => resolve());
        socket.on("error", () => undefined);
      });
      const status = await fetch(`http://127.0.0.1:${node.port}/peer`).then(
        (r) => r.status,
        () => 0,
      );
      assert.notEqual(status, 200);
      await stillServing();
    } finally {
      await closeAll(nodes);
    }
  });
});
