/**
 * Large WebSocket messages from uWebSockets.js to a reader that falls behind arrive whole and in
 * order (src/net/uws-send.ts). uWS 20.30's fast path for messages of 16 KiB or more loses the
 * payload when the kernel takes fewer bytes than the frame header. The first case reproduces
 * that: it sends each message the moment uWS buffers nothing, to a reader pausing its socket, so
 * the kernel's buffer is often full at that moment; with the plain send the reader stalls within
 * a few hundred messages (or reads a frame header as payload). The second drives the transport's
 * inbound link, which sends consensus frames through the helper, with 60 MiB of large frames to
 * a slow reader. Real sockets on 127.0.0.1.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import uWS from "uWebSockets.js";
import WebSocket from "ws";
import { messageType } from "../../src/net/message-types.js";
import { sendBinary } from "../../src/net/uws-send.js";
import { RawPeer, arena, closeAll, send, tcpSocketOf, waitFor } from "./helpers.js";

/** Past uWS's 16 KiB fast-path threshold, of varied sizes so the kernel's buffer fills at every offset. */
function message(sequence: number): Uint8Array {
  const bytes = new Uint8Array(16 * 1024 + ((sequence * 7919) % (48 * 1024)));
  bytes.fill(sequence & 0xff);
  new DataView(bytes.buffer).setUint32(0, sequence, true);
  return bytes;
}

/** Whether `received` is message(sequence) byte for byte. */
function isMessage(received: Uint8Array, sequence: number): boolean {
  return Buffer.from(received).equals(Buffer.from(message(sequence)));
}

/** Pauses the socket 3 ms out of every 7: the reader keeps falling behind and catching up. */
function readSlowly(ws: WebSocket): NodeJS.Timeout {
  const socket = tcpSocketOf(ws);
  return setInterval(() => {
    socket.pause();
    setTimeout(() => socket.resume(), 3);
  }, 7);
}

describe("large messages to a slow reader", () => {
  it("sendBinary: 1,500 messages of 16–64 KiB, each sent when uWS buffers nothing, all arrive intact and in order", async () => {
    const total = 1500;
    let sent = 0;
    const pump = (ws: uWS.WebSocket<unknown>): void => {
      // Exactly the faulty path's condition: nothing buffered in uWS, the kernel possibly full.
      while (sent < total && ws.getBufferedAmount() === 0) sendBinary(ws, message(sent++));
    };
    const app = uWS.App().ws("/stream", { compression: uWS.DISABLED, maxPayloadLength: 1 << 20, maxBackpressure: 64 << 20, open: pump, drain: pump });
    const listen = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      app.listen("127.0.0.1", 0, (token) => (token === false ? reject(new Error("listen failed")) : resolve(token)));
    });
    const client = new WebSocket(`ws://127.0.0.1:${uWS.us_socket_local_port(listen)}/stream`, { perMessageDeflate: false });
    let received = 0;
    let wrong: string | undefined;
    client.on("message", (data: Buffer) => {
      if (wrong === undefined && !isMessage(data, received)) wrong = `message ${received} arrived as ${data.length} bytes starting ${data.subarray(0, 8).toString("hex")}`;
      received++;
    });
    let slow: NodeJS.Timeout | undefined;
    client.once("open", () => (slow = readSlowly(client)));
    try {
      await waitFor(`${total} messages`, () => received >= total || wrong !== undefined, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}: ${received} of ${sent} sent arrived`);
      });
      assert.equal(wrong, undefined);
      assert.equal(received, total);
    } finally {
      clearInterval(slow);
      client.terminate();
      uWS.us_listen_socket_close(listen);
    }
  });

  it("the transport's inbound link: 1,500 frames of 16–64 KiB to a peer reading slowly arrive intact and in order", async () => {
    const total = 1500;
    const data = messageType("msb", 0);
    // A queue that holds all of them (60 MiB): the kernel's buffers fill, the link's queue does not.
    const { low, node, nodes, url } = await arena({ limits: { maxQueueBytes: 128 * 1024 * 1024 } });
    const raw = new RawPeer(url);
    let slow: NodeJS.Timeout | undefined;
    try {
      await raw.authenticate(low, node.identity.id);
      await waitFor("authenticated", () => node.transport.connectedPeers().includes(low.id));
      slow = readSlowly(raw.ws);
      const delivered = () => raw.frames.filter((frame) => frame.type === data);
      for (let i = 0; i < total; i++) send(node.transport, low.id, data, message(i));
      await waitFor(`${total} frames (${delivered().length} so far)`, () => delivered().length >= total, 60_000);
      assert.equal(node.transport.stats().drops.queue_full, 0);
      delivered().forEach((frame, i) => assert.ok(isMessage(frame.payload, i), `frame ${i} arrived whole`));
    } finally {
      clearInterval(slow);
      await raw.close();
      await closeAll(nodes);
    }
  });
});
