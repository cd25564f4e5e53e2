import assert from "node:assert/strict";
import { request } from "node:http";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { shardOfOwner } from "../../src/ledger/shard.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { AMOUNT, genesisSpend, getJson, hex, makeNet, postJson, setupOf, startNode, until } from "./helpers.js";

const net = makeNet("http-api-test", 2, 48);
/** The shard of validator 0, the node under test, as the genesis's epoch context assigns it. */
const shard = setupOf(net).shard;
/** Accounts of the node's shard and one of the other shard. */
const mine = net.accounts.map((a, i) => ({ a, i })).filter(({ a }) => shardOfOwner(a.publicKey, 2) === shard);
const foreign = net.accounts.find((a) => shardOfOwner(a.publicKey, 2) !== shard)!;

let node: ValidatorNode;
let base: string;

before(async () => {
  ({ node, base } = await startNode(net));
});
after(async () => {
  await node.stop();
  rmSync(net.dir, { recursive: true, force: true });
});

/** A raw HTTP exchange, for what fetch will not send (no Content-Length, lying lengths). */
function raw(method: string, path: string, headers: Record<string, string>, chunks: readonly Buffer[]): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: node.port, method, path, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text), headers: res.headers }));
    });
    req.on("error", (error) => ((error as NodeJS.ErrnoException).code === "ECONNRESET" || (error as NodeJS.ErrnoException).code === "EPIPE" ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

function assertError(response: { status: number; body: any }, status: number, code: string, pattern?: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.error.code, code);
  assert.equal(typeof response.body.error.message, "string");
  if (pattern !== undefined) assert.match(response.body.error.message, pattern);
}

describe("client HTTP API", () => {
  it("status reports the shard and the tip", async () => {
    const { status, body } = await getJson(`${base}/v1/status`);
    assert.equal(status, 200);
    assert.equal(body.shard, shard);
    assert.equal(body.shardCount, 2);
    assert.equal(body.epoch, 0);
    assert.equal(typeof body.tip.height, "number");
    assert.match(body.tip.hash, /^[0-9a-f]{64}$/);
  });

  it("a submitted transfer becomes final, with its block, balances and UTXOs", async () => {
    const payer = mine[0]!;
    const payee = mine[1]!;
    const tx = genesisSpend(net, payer.i, payee.a.publicKey, 300n);
    const submitted = await postJson(`${base}/v1/tx`, { tx: hex(tx.bytes) });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal(submitted.body.txid, hex(tx.txid));
    assert.equal(submitted.body.outcome, "accepted");

    const final = await until(async () => {
      const { body } = await getJson(`${base}/v1/tx/${hex(tx.txid)}`);
      return body.state === "final" ? body : undefined;
    }, "finality");
    assert.equal(typeof final.height, "number");
    assert.equal(final.index, 0);
    const block = await getJson(`${base}/v1/block/${final.height}`);
    assert.equal(block.status, 200);
    assert.equal(block.body.hash, final.blockHash);
    assert.ok(block.body.txids.includes(hex(tx.txid)));
    assert.equal(block.body.seal.kind, "producer");
    const byHash = await getJson(`${base}/v1/block/hash/${final.blockHash}?bytes=1`);
    assert.equal(byHash.status, 200);
    assert.equal(byHash.body.height, final.height);
    assert.match(byHash.body.bytes, /^[0-9a-f]+$/);

    const payerBalance = await getJson(`${base}/v1/owner/${hex(payer.a.publicKey)}/balance`);
    assert.equal(payerBalance.body.balance, String(AMOUNT - 300n));
    const payeeBalance = await getJson(`${base}/v1/owner/${hex(payee.a.publicKey)}/balance`);
    assert.equal(payeeBalance.body.balance, String(AMOUNT + 300n));
    assert.equal(payeeBalance.body.outputs, 2);
    const utxos = await getJson(`${base}/v1/owner/${hex(payee.a.publicKey)}/utxos`);
    assert.deepEqual(utxos.body.utxos.map((u: any) => u.amount).sort(), ["1000", "300"]);
    assert.ok(utxos.body.utxos.some((u: any) => u.txid === hex(tx.txid) && u.index === 0));
    const page = await getJson(`${base}/v1/owner/${hex(payee.a.publicKey)}/utxos?limit=1`);
    assert.equal(page.body.utxos.length, 1);
    assert.equal(page.body.truncated, true);

    const again = await postJson(`${base}/v1/tx`, { txBase64: Buffer.from(tx.bytes).toString("base64") });
    assert.equal(again.status, 200);
    assert.equal(again.body.outcome, "duplicate");
    assert.equal(again.body.status.state, "final");
  });

  it("accepts the raw encoding as application/octet-stream", async () => {
    const tx = genesisSpend(net, mine[2]!.i, mine[3]!.a.publicKey, 10n);
    const response = await fetch(`${base}/v1/tx`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array(tx.bytes) });
    assert.equal(response.status, 202);
    assert.equal(((await response.json()) as { txid: string }).txid, hex(tx.txid));
  });

  it("a double spend is rejected with the apply code", async () => {
    const payer = mine[4]!;
    const first = genesisSpend(net, payer.i, mine[5]!.a.publicKey, 1n);
    const second = genesisSpend(net, payer.i, mine[6]!.a.publicKey, 2n);
    assert.equal((await postJson(`${base}/v1/tx`, { tx: hex(first.bytes) })).status, 202);
    await until(async () => ((await getJson(`${base}/v1/tx/${hex(first.txid)}`)).body.state === "final" ? true : undefined), "first final");
    // Stateless checks pass (the input exists nowhere they look); the apply step refuses it.
    assert.equal((await postJson(`${base}/v1/tx`, { tx: hex(second.bytes) })).status, 202);
    const rejected = await until(async () => {
      const { body } = await getJson(`${base}/v1/tx/${hex(second.txid)}`);
      return body.state === "rejected" ? body : undefined;
    }, "rejection");
    assert.equal(rejected.code, "MISSING_INPUT");
  });

  it("a bad signature is refused with TX_BAD_SIGNATURE and remembered as rejected", async () => {
    const tx = genesisSpend(net, mine[7]!.i, mine[8]!.a.publicKey, 5n);
    const forged = Uint8Array.from(tx.bytes);
    forged[forged.length - 1]! ^= 0x01;
    assertError(await postJson(`${base}/v1/tx`, { tx: hex(forged) }), 400, "TX_BAD_SIGNATURE");
    const { body } = await getJson(`${base}/v1/tx/${hex(tx.txid)}`);
    assert.deepEqual({ state: body.state, code: body.code }, { state: "rejected", code: "TX_BAD_SIGNATURE" });
  });

  it("refuses malformed submissions with 4xx and a code", async () => {
    assertError(await postJson(`${base}/v1/tx`, "{ not json"), 400, "API_BAD_JSON");
    assertError(await postJson(`${base}/v1/tx`, [1, 2]), 400, "API_BAD_REQUEST", /JSON object/);
    assertError(await postJson(`${base}/v1/tx`, { tx: "abc" }), 400, "API_BAD_REQUEST", /even number of hex digits/);
    assertError(await postJson(`${base}/v1/tx`, { tx: "00", more: 1 }), 400, "API_BAD_REQUEST", /exactly one field/);
    assertError(await postJson(`${base}/v1/tx`, { txBase64: "***" }), 400, "API_BAD_REQUEST", /base64/);
    assertError(await postJson(`${base}/v1/tx`, { tx: "0100" }), 400, "TX_TRUNCATED");
    assertError(await postJson(`${base}/v1/tx`, { tx: "01f1" }), 400, "TX_UNKNOWN_KIND");
    assertError(await postJson(`${base}/v1/tx`, "0102", "text/plain"), 415, "API_UNSUPPORTED_MEDIA_TYPE");
    assertError(await postJson(`${base}/v1/tx`, new Uint8Array(0), "application/octet-stream"), 400, "API_BAD_REQUEST", /empty/);
    const wrongShard = genesisSpend(net, net.accounts.indexOf(foreign), foreign.publicKey, 1n);
    assertError(await postJson(`${base}/v1/tx`, { tx: hex(wrongShard.bytes) }), 400, "TX_WRONG_SHARD");
  });

  it("limits request bodies, declared or streamed", async () => {
    const limit = 64 * 1024;
    assertError(await raw("POST", "/v1/tx", { "content-type": "application/json", "content-length": String(limit + 1) }, [Buffer.alloc(16)]), 413, "API_BODY_TOO_LARGE", /exceeds the limit/);
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    assertError(await raw("POST", "/v1/tx", { "content-type": "application/json", "transfer-encoding": "chunked" }, [chunk, chunk, chunk, chunk, chunk]), 413, "API_BODY_TOO_LARGE");
    assertError(await postJson(`${base}/v1/tx`, { tx: "00".repeat(limit) }), 413, "API_BODY_TOO_LARGE");
    // The node still serves after refusing oversized bodies.
    assert.equal((await getJson(`${base}/v1/status`)).status, 200);
  });

  it("answers bad parameters, unknown resources, routes and methods", async () => {
    assertError(await getJson(`${base}/v1/tx/xyz`), 400, "API_BAD_PARAMETER", /txid must be 64 hex digits/);
    assertError(await getJson(`${base}/v1/tx/${"ab".repeat(32)}`), 404, "TX_NOT_FOUND");
    assertError(await getJson(`${base}/v1/block/99999`), 404, "BLOCK_NOT_FOUND", /tip is/);
    assertError(await getJson(`${base}/v1/block/-1`), 400, "API_BAD_PARAMETER");
    assertError(await getJson(`${base}/v1/block/hash/${"00".repeat(32)}`), 404, "BLOCK_NOT_FOUND");
    assertError(await getJson(`${base}/v1/block/hash/00`), 400, "API_BAD_PARAMETER");
    assertError(await getJson(`${base}/v1/owner/1234/balance`), 400, "API_BAD_PARAMETER");
    assertError(await getJson(`${base}/v1/owner/${hex(foreign.publicKey)}/balance`), 400, "OWNER_OTHER_SHARD", new RegExp(`ask a validator of shard ${1 - shard}`));
    assertError(await getJson(`${base}/v1/owner/${hex(mine[0]!.a.publicKey)}/utxos?limit=0`), 400, "API_BAD_PARAMETER", /limit/);
    assertError(await getJson(`${base}/v1/nothing`), 404, "API_NOT_FOUND");
    const del = await fetch(`${base}/v1/tx`, { method: "DELETE" });
    assertError({ status: del.status, body: await del.json() }, 405, "API_METHOD_NOT_ALLOWED", /use POST/);
    const post = await fetch(`${base}/v1/status`, { method: "POST", body: "{}" });
    assertError({ status: post.status, body: await post.json() }, 405, "API_METHOD_NOT_ALLOWED");
  });

  it("exposes Prometheus metrics", async () => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /# TYPE ios_api_http_requests_total counter/);
    assert.match(text, /ios_api_http_requests_total\{route="submit",status="202"\} [1-9]/);
    assert.match(text, /ios_api_edge_refused_total\{code="API_BODY_TOO_LARGE"\} [1-9]/);
    assert.match(text, /ios_tip_height [1-9]/);
    assert.match(text, /ios_submissions_total\{outcome="accepted"\} [1-9]/);
    assert.match(text, /process_resident_memory_bytes [1-9]/);
  });
});

describe("client HTTP API backpressure", () => {
  it("refuses submissions past the pending cap with 503 MEMPOOL_FULL and Retry-After", async () => {
    const small = makeNet("http-api-full", 1, 4);
    const { node: full, base: fullBase } = await startNode(small, { pipeline: { workers: 1, blockIntervalMs: 60_000, maxPendingTxs: 1 } });
    try {
      const first = genesisSpend(small, 0, small.accounts[1]!.publicKey, 1n);
      const second = genesisSpend(small, 1, small.accounts[2]!.publicKey, 1n);
      assert.equal((await postJson(`${fullBase}/v1/tx`, { tx: hex(first.bytes) })).status, 202);
      const refused = await postJson(`${fullBase}/v1/tx`, { tx: hex(second.bytes) });
      assertError(refused, 503, "MEMPOOL_FULL");
      assert.equal(refused.headers.get("retry-after"), "1");
      // The accepted one is kept: it is still pending, not dropped.
      assert.equal((await getJson(`${fullBase}/v1/tx/${hex(first.txid)}`)).body.state, "pending");
    } finally {
      await full.stop();
      rmSync(small.dir, { recursive: true, force: true });
    }
  });
});
