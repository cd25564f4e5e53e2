/**
 * The HTTP edge against hostile and careless requests (issue 17), over raw TCP sockets to a real
 * validator: every malformed head gets its 4xx and a JSON error code before the connection
 * closes, a refused body is answered rather than reset, HEAD answers like GET without a body,
 * and well-formed keep-alive traffic (pipelined, chunked) still flows through to uWS.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { HEAD_TIMEOUT_MS, MAX_HEADER_FIELDS, MAX_TARGET_BYTES } from "../../src/api/edge.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { genesisSpend, hex, makeNet, startNode } from "./helpers.js";

const net = makeNet("edge-api-test", 1, 8);
let node: ValidatorNode;

before(async () => {
  ({ node } = await startNode(net));
});
after(async () => {
  await node.stop();
  rmSync(net.dir, { recursive: true, force: true });
});

interface Exchange {
  /** Everything the server sent, as latin1 text. */
  readonly text: string;
  /** The server closed the connection (else the wait ended first). */
  readonly closed: boolean;
  readonly ms: number;
}

/** Sends `bytes` on a new connection and collects the answer until the server closes it or `waitMs` passes. */
function exchange(bytes: string | Buffer, waitMs = 2000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(node.port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("end", () => done(true));
    socket.write(bytes);
  });
}

/** The single response of `text`: status, lower-cased headers and JSON body. */
function response(text: string): { status: number; headers: Record<string, string>; body: any } {
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end > 0, `no complete response in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...fields] = text.slice(0, end).split("\r\n");
  const headers = Object.fromEntries(fields.map((f) => [f.slice(0, f.indexOf(":")).toLowerCase(), f.slice(f.indexOf(":") + 1).trim()]));
  const rest = text.slice(end + 4);
  return { status: Number(statusLine!.split(" ")[1]), headers, body: rest === "" ? undefined : JSON.parse(rest) };
}

async function assertRefused(bytes: string | Buffer, status: number, code: string, pattern?: RegExp): Promise<Exchange> {
  const answer = await exchange(bytes);
  assert.ok(answer.closed, "the connection is closed after the refusal");
  const { status: got, headers, body } = response(answer.text);
  assert.equal(got, status, answer.text.slice(0, 300));
  assert.equal(headers["content-type"], "application/json");
  assert.equal(headers.connection, "close");
  assert.equal(body.error.code, code);
  if (pattern !== undefined) assert.match(body.error.message, pattern);
  return answer;
}

const post = (headers: string, body = "") => `POST /v1/tx HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

describe("HTTP edge", () => {
  it("answers a malformed Content-Length with 400 API_BAD_CONTENT_LENGTH", async () => {
    for (const length of ["-1", "abc", "1e3", "1180591620717411303424"]) {
      await assertRefused(post(`Content-Length: ${length}\r\n`), 400, "API_BAD_CONTENT_LENGTH", new RegExp(`Content-Length "${length}" is not a byte count`));
    }
    await assertRefused(post("Content-Length: 5\r\nContent-Length: 6\r\n", "abcdef"), 400, "API_BAD_CONTENT_LENGTH", /given 2 times/);
    await assertRefused(post("Content-Length: 6\r\nContent-Length: 6\r\n", "abcdef"), 400, "API_BAD_CONTENT_LENGTH");
    await assertRefused(post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "abcdef"), 400, "API_BAD_REQUEST", /both Transfer-Encoding and Content-Length/);
  });

  it("answers too many or too large header fields with 431 and a long URL with 414", async () => {
    const fields = (n: number, value = "v") => Array.from({ length: n }, (_, i) => `X-Field-${i}: ${value}\r\n`).join("");
    await assertRefused(`GET /v1/status HTTP/1.1\r\nHost: edge\r\n${fields(5000)}\r\n`, 431, "API_HEADERS_TOO_LARGE");
    await assertRefused(`GET /v1/status HTTP/1.1\r\nHost: edge\r\n${fields(MAX_HEADER_FIELDS)}\r\n`, 431, "API_HEADERS_TOO_LARGE", /header fields exceed the limit of 40/);
    const fine = response((await exchange(`GET /v1/status HTTP/1.1\r\nHost: edge\r\n${fields(MAX_HEADER_FIELDS - 1)}\r\n`, 500)).text);
    assert.equal(fine.status, 200);
    await assertRefused(`GET /v1/${"a".repeat(1 << 20)} HTTP/1.1\r\nHost: edge\r\n\r\n`, 414, "API_URL_TOO_LONG");
    await assertRefused(`GET /${"a".repeat(MAX_TARGET_BYTES)} HTTP/1.1\r\nHost: edge\r\n\r\n`, 414, "API_URL_TOO_LONG");
  });

  it("refuses what is not an HTTP/1.1 request at once, and times out a head that never completes", async () => {
    for (const line of ["HELLO THERE\r\n\r\n", "garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "get /v1/status HTTP/1.1\r\nHost: edge\r\n\r\n", "GET /v1/status HTTP/1.1\nHost: edge\n\n"]) {
      const answer = await assertRefused(line, 400, "API_NOT_HTTP");
      assert.ok(answer.ms < 1000, `answered after ${answer.ms} ms`);
    }
    await assertRefused("GET /v1/status HTTP/1.0\r\n\r\n", 505, "API_HTTP_VERSION");
    await assertRefused("GET /v1/status HTTP/1.1\r\n\r\n", 400, "API_BAD_REQUEST", /needs a Host header/);
    await assertRefused("GET http://edge/v1/status HTTP/1.1\r\nHost: edge\r\n\r\n", 400, "API_BAD_REQUEST", /must be a path/);
    const slow = await exchange("GET /v1/status HTTP/1.1\r\nHost: edge\r\n", HEAD_TIMEOUT_MS + 3000);
    assert.ok(slow.closed && slow.ms >= HEAD_TIMEOUT_MS - 100, `closed ${slow.closed} after ${slow.ms} ms`);
    assert.equal(response(slow.text).body.error.code, "API_REQUEST_TIMEOUT");
    assert.equal(response(slow.text).status, 408);
  });

  it("a client still sending a 10 MB body reads the 413 instead of a reset", async () => {
    const body = Buffer.alloc(4 << 20, 0x61);
    for (const [framing, prefix] of [["Content-Length: 10485760", ""], ["Transfer-Encoding: chunked", `${(10 << 20).toString(16)}\r\n`]] as const) {
      // The client reads only after it has written 4 MB: a server that closes with its body unread resets the connection, and the answer is lost.
      const answer = await new Promise<{ text: string; error: string | undefined }>((resolve) => {
        const socket = connect(node.port, "127.0.0.1");
        socket.pause();
        let text = "";
        let error: string | undefined;
        socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
        socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code));
        socket.on("close", () => resolve({ text, error }));
        socket.write(`POST /v1/tx HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n${framing}\r\n\r\n${prefix}`);
        socket.write(body);
        setTimeout(() => socket.resume(), 300);
      });
      assert.equal(answer.error, undefined, `${framing}: ${answer.error}`);
      const { status, body: json } = response(answer.text);
      assert.equal(status, 413, framing);
      assert.equal(json.error.code, "API_BODY_TOO_LARGE");
    }
  });

  it("HEAD answers like GET without a body, on a kept-alive connection", async () => {
    const both = await exchange("HEAD /v1/status HTTP/1.1\r\nHost: edge\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: edge\r\n\r\nHEAD /v1/tx HTTP/1.1\r\nHost: edge\r\n\r\nHEAD /nowhere HTTP/1.1\r\nHost: edge\r\n\r\n", 500);
    const responses = both.text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(responses.length, 4, both.text);
    const [head, get, notAllowed, missing] = responses.map((r) => r.split("\r\n\r\n"));
    assert.match(head![0]!, /^HTTP\/1\.1 200 OK/);
    assert.equal(head![1], "", "HEAD has no body");
    assert.match(get![0]!, /^HTTP\/1\.1 200 OK/);
    const length = /content-length: (\d+)/i;
    assert.equal(length.exec(head![0]!)![1], String(Buffer.byteLength(get![1]!)), "HEAD reports the GET body's length");
    assert.match(notAllowed![0]!, /^HTTP\/1\.1 405 /);
    assert.match(notAllowed![0]!, /allow: POST/);
    assert.equal(notAllowed![1], "");
    assert.match(missing![0]!, /^HTTP\/1\.1 404 /);
    assert.equal(missing![1], "");
    const fetched = await fetch(`http://127.0.0.1:${node.port}/v1/status`, { method: "HEAD" });
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), "");
  });

  it("relays well-formed pipelined and chunked requests to the API unchanged", async () => {
    const tx = genesisSpend(net, 0, net.accounts[1]!.publicKey, 10n);
    const body = JSON.stringify({ tx: hex(tx.bytes) });
    const submitted = await exchange(post(`Content-Length: ${body.length}\r\n`, body), 500);
    assert.equal(response(submitted.text).status, 202, submitted.text);
    // (uWS itself closes a connection that pipelines a request behind a POST still being answered, so the POST goes first, alone.)
    const chunked = `${(body.length - 10).toString(16)}\r\n${body.slice(0, -10)}\r\na\r\n${body.slice(-10)}\r\n0\r\n\r\n`;
    const get = `GET /v1/tx/${hex(tx.txid)} HTTP/1.1\r\nHost: edge\r\n\r\n`;
    const answer = await exchange(`${get}${get}POST /v1/tx HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`, 1000);
    assert.equal(answer.closed, false, "the connection stays open");
    const responses = answer.text.split(/(?=HTTP\/1\.1 )/).map(response);
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200], answer.text);
    assert.equal(responses[0]!.body.txid, hex(tx.txid));
    assert.equal(responses[1]!.body.txid, hex(tx.txid));
    assert.equal(responses[2]!.body.outcome, "duplicate");
    await assertRefused(`POST /v1/tx HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nabcde\r\n0\r\n\r\n`, 400, "API_BAD_REQUEST", /chunk extensions/);
  });
});
