/**
 * The peer port (`listen.peerPort`): validators link there, served by uWS directly, so no peer
 * byte crosses the HTTP edge's relay; the client API is refused there (a client could otherwise
 * skip the edge's checks), while the client port keeps the edge's coded answers. A peer that
 * dials the client port, as configurations from before the peer port do, still links through
 * the edge. Real validators, real sockets on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { hex, makeNet, setupOf, until, type TestNet } from "../api/helpers.js";
import { ValidatorNode } from "../../src/node/validator.js";
import { testLogger } from "../support/log.js";

/** Validators 0 and 1 of one shard; the lower key dials (uws-transport.ts), so it starts second, knowing the other's URL. */
const net: TestNet = makeNet("peer-port-test", 1, 4, 2);
const keys = net.validators.map((v) => hex(v.publicKey));
const [acceptorIndex, dialerIndex] = keys[0]! > keys[1]! ? [0, 1] : [1, 0];
const started: ValidatorNode[] = [];

async function startPair(dialerUrl: (acceptor: ValidatorNode) => string, tag: string): Promise<{ acceptor: ValidatorNode; dialer: ValidatorNode }> {
  const acceptor = await ValidatorNode.start(
    setupOf(net, { dataDir: `data-${tag}-acceptor`, peers: [{ publicKey: keys[dialerIndex] }] }, acceptorIndex),
    { logger: testLogger() },
  );
  started.push(acceptor);
  const dialer = await ValidatorNode.start(
    setupOf(net, { dataDir: `data-${tag}-dialer`, peers: [{ publicKey: keys[acceptorIndex], url: dialerUrl(acceptor) }] }, dialerIndex),
    { logger: testLogger() },
  );
  started.push(dialer);
  for (const node of [acceptor, dialer]) {
    await until(async () => ((await status(node)).peers.connected === 1 ? true : undefined), `${tag}: the pair linked`);
  }
  return { acceptor, dialer };
}

async function status(node: ValidatorNode): Promise<any> {
  return (await fetch(`http://127.0.0.1:${node.port}/v1/status`)).json();
}

/** A sample of the node's Prometheus text (client port). */
async function metric(node: ValidatorNode, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `metric ${name} is exported`);
  return Number(line.split(" ")[1]);
}

/** Sends `bytes` on a raw connection to `port` and reads until the server closes it or 2 s pass. */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const timer = setTimeout(done, 2000);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      // uWS keeps the connection alive: one complete JSON answer is enough.
      const text = Buffer.concat(chunks).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text);
      if (end > 0 && length !== null && text.length >= end + 4 + Number(length[1])) done();
    });
    socket.on("error", reject);
    socket.on("end", done);
    socket.write(bytes);
  });
}

function parsed(text: string): { status: number; body: any } {
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end > 0, `a complete answer, got ${JSON.stringify(text.slice(0, 200))}`);
  return { status: Number(text.slice(9, 12)), body: JSON.parse(text.slice(end + 4)) };
}

/** A PROXY protocol v2 header (haproxy proxy-protocol.txt §2.2) claiming the client is 203.0.113.9. */
function forgedProxyHeader(): Buffer {
  const header = Buffer.alloc(28);
  header.set([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  header[12] = 0x21;
  header[13] = 0x11;
  header.writeUInt16BE(12, 14);
  header.set([203, 0, 113, 9], 16);
  header.set([127, 0, 0, 1], 20);
  header.writeUInt16BE(40_000, 24);
  header.writeUInt16BE(80, 26);
  return header;
}

after(async () => {
  for (const node of started) await node.stop();
  rmSync(net.dir, { recursive: true, force: true });
});

describe("peer port", () => {
  let pair: { acceptor: ValidatorNode; dialer: ValidatorNode };
  before(async () => {
    pair = await startPair((acceptor) => `ws://127.0.0.1:${acceptor.peerPort}/peer`, "direct");
  });

  it("links validators on the peer port, with no peer connection through the edge", async () => {
    const { acceptor, dialer } = pair;
    for (const node of [acceptor, dialer]) {
      assert.ok(node.peerPort > 0 && node.peerPort !== node.port, "a peer port of its own");
      const body = await status(node);
      assert.deepEqual(body.peers, { configured: 1, connected: 1, port: node.peerPort }, "GET /v1/status reports the peer port");
      assert.equal(await metric(node, "ios_api_edge_tunnels_total"), 0, "the edge relayed no WebSocket");
      assert.equal(await metric(node, "ios_transport_links_opened_total"), 1);
      assert.equal(await metric(node, "ios_transport_links_closed_total"), 0);
      assert.equal(await metric(node, 'ios_transport_frame_errors_total{reason="FRAME_TOO_LARGE"}'), 0, "frame errors are exported by code");
      assert.equal(await metric(node, 'ios_transport_drops_total{reason="queue_full"}'), 0, "drops are exported by reason");
    }
  });

  it("answers every client request on the peer port 404 API_NOT_ON_PEER_PORT, a forged PROXY header included", async () => {
    const { acceptor } = pair;
    const peerBase = `http://127.0.0.1:${acceptor.peerPort}`;
    for (const [method, path] of [["GET", "/v1/status"], ["POST", "/v1/tx"], ["DELETE", "/v1/status"], ["GET", "/metrics"], ["GET", "/no/such/route"]] as const) {
      const response = await fetch(`${peerBase}${path}`, { method, ...(method === "POST" ? { body: "{}", headers: { "content-type": "application/json" } } : {}) });
      assert.equal(response.status, 404, `${method} ${path}`);
      const body = (await response.json()) as any;
      assert.equal(body.error.code, "API_NOT_ON_PEER_PORT", `${method} ${path}`);
      assert.match(body.error.message, /use the client port/);
    }
    const head = await fetch(`${peerBase}/v1/status`, { method: "HEAD" });
    assert.equal(head.status, 404);
    // uWS reads a PROXY v2 header on any connection: the refusal rests on the socket, not on it.
    const forged = parsed(await raw(acceptor.peerPort, Buffer.concat([forgedProxyHeader(), Buffer.from("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")])));
    assert.deepEqual([forged.status, forged.body.error.code], [404, "API_NOT_ON_PEER_PORT"]);
    const stream = new WebSocket(`ws://127.0.0.1:${acceptor.peerPort}/v1/stream`);
    const refusedWith = await new Promise<number>((resolve, reject) => {
      stream.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      stream.on("open", () => reject(new Error("the stream opened on the peer port")));
      stream.on("error", () => undefined);
    });
    stream.terminate();
    assert.equal(refusedWith, 404, "the client stream is not served on the peer port");
    assert.equal((await status(acceptor)).peers.connected, 1, "the peer link is untouched");
  });

  it("keeps the edge's coded answers on the client port", async () => {
    const { acceptor } = pair;
    const answer = parsed(await raw(acceptor.port, "GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"));
    assert.deepEqual([answer.status, answer.body.error.code], [400, "API_BAD_CONTENT_LENGTH"]);
    const notHttp = parsed(await raw(acceptor.port, "hello\r\n\r\n"));
    assert.deepEqual([notHttp.status, notHttp.body.error.code], [400, "API_NOT_HTTP"]);
    const ok = parsed(await raw(acceptor.port, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(ok.status, 200, "well-formed requests reach the API through the edge");
  });

  it("still links a peer that dials the client port, through the edge", async () => {
    const { acceptor } = await startPair((node) => `ws://127.0.0.1:${node.port}/peer`, "edge");
    assert.equal(await metric(acceptor, "ios_api_edge_tunnels_total"), 1, "that link is the one WebSocket the edge relays");
  });
});
