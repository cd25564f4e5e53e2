/**
 * The stream's slots against one greedy client (issue 17), with real WebSocket clients from
 * several loopback source addresses (127.0.0.1–4): a limit per client address, a share of slots
 * kept for addresses that hold none, idle streams closed, and a node-wide bound on the bytes the
 * subscribers can leave unread.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { CLOSE_IDLE, CLOSE_SLOW_CONSUMER, RESERVED_STREAM_SHARE, STREAM_PATH } from "../../src/api/server.js";
import { FRAME_ERROR, FRAME_OPTIMISTIC } from "../../src/api/stream-codec.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { DEFAULT_API_LIMITS, type ApiLimits } from "../../src/node/config.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { PobTestBackend, StreamClient, TestShard, makeNet, serveApi, startNode, until } from "./helpers.js";

const MAX_STREAMS = 8;
const PER_ADDRESS = 4;
const IDLE_MS = 2000;

/** Opens a stream from `localAddress`: the open socket, or the refusal's status and error code. */
function connect(port: number, localAddress: string): Promise<{ ws: WebSocket; closed: Promise<number> } | { status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${STREAM_PATH}`, { localAddress });
    const closed = new Promise<number>((done) => ws.once("close", (code) => done(code)));
    ws.once("open", () => resolve({ ws, closed }));
    ws.once("unexpected-response", (_request, response: IncomingMessage) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode!, code: (JSON.parse(text) as { error: { code: string } }).error.code }));
    });
    ws.once("error", (error) => (error.message.startsWith("Unexpected server response") ? undefined : reject(error)));
  });
}

async function open(port: number, localAddress: string): Promise<WebSocket> {
  const result = await connect(port, localAddress);
  assert.ok("ws" in result, `a stream from ${localAddress} was refused: ${JSON.stringify(result)}`);
  return result.ws;
}

async function refused(port: number, localAddress: string): Promise<{ status: number; code: string }> {
  const result = await connect(port, localAddress);
  assert.ok(!("ws" in result), `a stream from ${localAddress} was let in`);
  return result;
}

describe("stream slots", () => {
  const net = makeNet("stream-limits-test", 1, 8);
  let node: ValidatorNode;
  const sockets: WebSocket[] = [];

  before(async () => {
    ({ node } = await startNode(net, { api: { maxStreams: MAX_STREAMS, maxStreamsPerAddress: PER_ADDRESS, streamIdleMs: IDLE_MS } }));
  });
  after(async () => {
    for (const ws of sockets) ws.terminate();
    await node.stop();
    rmSync(net.dir, { recursive: true, force: true });
  });

  it("limits one address, keeps a share of the slots for new addresses, and refuses past the total", async () => {
    const port = node.port;
    for (let i = 0; i < PER_ADDRESS; i++) sockets.push(await open(port, "127.0.0.1"));
    assert.deepEqual(await refused(port, "127.0.0.1"), { status: 429, code: "API_TOO_MANY_STREAMS" });
    const reserved = Math.ceil(MAX_STREAMS * RESERVED_STREAM_SHARE);
    // A second address fills up to the reserved share, then only addresses without a stream get in.
    while (MAX_STREAMS - sockets.length > reserved) sockets.push(await open(port, "127.0.0.2"));
    assert.deepEqual(await refused(port, "127.0.0.2"), { status: 503, code: "API_UNAVAILABLE" });
    for (let i = 0; i < reserved; i++) sockets.push(await open(port, `127.0.0.${3 + i}`));
    assert.equal(sockets.length, MAX_STREAMS);
    assert.deepEqual(await refused(port, "127.0.0.9"), { status: 503, code: "API_UNAVAILABLE" });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /ios_api_stream_refused_total\{reason="API_TOO_MANY_STREAMS"\} 1\n/);
  });

  it("closes streams that neither subscribe nor submit within the idle limit, and the slots come back", async () => {
    const closes = await Promise.all(sockets.map((ws) => new Promise<number>((done) => (ws.readyState === WebSocket.CLOSED ? done(ws.CLOSED) : ws.once("close", (code) => done(code))))));
    assert.ok(closes.every((code) => code === CLOSE_IDLE), `close codes ${closes}`);
    sockets.length = 0;
    const started = Date.now();
    const subscriber = await open(node.port, "127.0.0.1");
    subscriber.send(JSON.stringify({ op: "subscribe" }));
    const submitter = await open(node.port, "127.0.0.1");
    const idle = await open(node.port, "127.0.0.1");
    sockets.push(subscriber, submitter, idle);
    const idleClosed = new Promise<number>((done) => idle.once("close", (code) => done(code)));
    // The submitter stays active: one (malformed, refused) submission frame every 200 ms.
    const timer = setInterval(() => submitter.send(new Uint8Array([1, 0, 1])), 200);
    try {
      assert.equal(await idleClosed, CLOSE_IDLE);
      const after = Date.now() - started;
      assert.ok(after >= IDLE_MS && after < IDLE_MS * 2 + 500, `closed after ${after} ms`);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      assert.equal(subscriber.readyState, WebSocket.OPEN, "a subscriber is not idle");
      assert.equal(submitter.readyState, WebSocket.OPEN, "a submitter is not idle");
    } finally {
      clearInterval(timer);
    }
  });
});

describe("subscriber queue budget", () => {
  const net = makeNet("stream-queue-test", 1, 4);
  const producer = net.validators[0]!;
  /** Each subscriber alone may fall 4 MiB behind, but all of them together only 1 MiB. */
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, maxSubscriberBufferBytes: 4 * 1024 * 1024, maxSubscriberQueueBytes: 1024 * 1024 };
  let shard: TestShard;
  let server: Awaited<ReturnType<typeof serveApi>>;

  before(async () => {
    shard = TestShard.open(net.genesis, 0, producer, join(net.dir, "data"));
    const backend = new PobTestBackend(shard, producer.publicKey, { consensus: { mode: "pob" }, sealOnAccept: false });
    server = await serveApi(backend, limits);
  });
  after(async () => {
    server.close();
    await shard.close();
    rmSync(net.dir, { recursive: true, force: true });
  });

  it("drops the subscribers furthest behind once all together hold more than the node's budget", async () => {
    const url = `ws://127.0.0.1:${server.port}${STREAM_PATH}`;
    const subscribe = async (): Promise<StreamClient> => {
      const client = new StreamClient(url);
      await client.opened;
      client.ws.send(JSON.stringify({ op: "subscribe" }));
      client.ws.send("sync");
      await until(() => (client.of(FRAME_ERROR).length > 0 ? true : undefined), "the subscription");
      return client;
    };
    const stalled = await Promise.all([subscribe(), subscribe(), subscribe(), subscribe()]);
    const reader = await subscribe();
    for (const client of stalled) (client.ws as unknown as { _socket: Socket })._socket.pause();
    const txids = randomBytes(32 * 1024);
    const batch = { producer: producer.publicKey, block: sha256(txids), txids };
    let most = 0;
    let sent = 0;
    while (stalled.some((client) => client.closeCode === undefined && client.ws.readyState === WebSocket.OPEN) && sent < 4096) {
      shard.announce(batch);
      sent++;
      most = Math.max(most, server.api.subscriberQueueBytes);
      assert.ok(server.api.subscriberQueueBytes <= limits.maxSubscriberQueueBytes, `${server.api.subscriberQueueBytes} bytes queued after batch ${sent}`);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      if (/ios_api_stream_dropped_subscribers_total 4\n/.test(metrics)) break;
    }
    assert.ok(most > 0, "the stalled subscribers did hold a queue");
    for (const client of stalled) (client.ws as unknown as { _socket: Socket })._socket.resume();
    for (const client of stalled) await until(() => client.closeCode, "the stalled subscriber's close");
    assert.ok(stalled.every((client) => client.closeCode === CLOSE_SLOW_CONSUMER), `close codes ${stalled.map((c) => c.closeCode)}`);
    await until(() => (reader.of(FRAME_OPTIMISTIC).length === sent ? true : undefined), "every batch at the reading subscriber");
    assert.equal(reader.ws.readyState, WebSocket.OPEN);
    await reader.close();
  });
});
