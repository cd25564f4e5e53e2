// Optimistic confirmations through the client API (white paper §7.2 phase 1): the OPTIMISTIC
// stream frame reaches exactly the subscribed clients, the HTTP status of a transaction shows its
// optimistic block until the block commits, and a subscriber that stops reading is dropped; ATOMIX
// frames reach the subscribers that did not leave them out ({"op":"subscribe","atomix":false}). Real
// LMDB state, worker pool and pipeline, uWS on 127.0.0.1:0, ws clients, signed transfers.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { ApiClient, type TxStatusJson } from "../../src/api/client.js";
import { verifyOptimistic, verifyOptimisticBatch } from "../../src/api/optimistic.js";
import { HEADER_BYTES } from "../../src/ledger/block.js";
import { codeOf } from "../support/errors.js";
import { CLOSE_SLOW_CONSUMER, STREAM_PATH } from "../../src/api/server.js";
import { FRAME_ATOMIX, FRAME_ERROR, FRAME_EVENTS, FRAME_OPTIMISTIC, decodeEvents, decodeOptimistic, encodeAtomix, encodeOptimistic } from "../../src/api/stream-codec.js";
import { atomixSourceCount, atomixSourcesOf } from "../../src/load/driver.js";
import { DEFAULT_API_LIMITS } from "../../src/node/config.js";
import { PobTestBackend, StreamClient, TestShard, genesisSpend, getJson, hex, makeNet, postJson, serveApi, until } from "./helpers.js";

const SUBSCRIBER_BUFFER_BYTES = 64 * 1024;
const net = makeNet("optimistic-api-test", 1, 16);
const producer = net.validators[0]!;
let shard: TestShard;
let backend: PobTestBackend;
let server: Awaited<ReturnType<typeof serveApi>>;
let base: string;

before(async () => {
  shard = TestShard.open(net.genesis, 0, producer, join(net.dir, "data"));
  backend = new PobTestBackend(shard, producer.publicKey, {
    consensus: { mode: "pob", leagueMode: "two-league", believable: [hex(producer.publicKey)], normal: [], samplingProbability: 0.25, height: 0 },
    sealOnAccept: true,
    sealer: producer,
  });
  server = await serveApi(backend, { ...DEFAULT_API_LIMITS, maxSubscriberBufferBytes: SUBSCRIBER_BUFFER_BYTES });
  base = `http://127.0.0.1:${server.port}`;
});
after(async () => {
  server.close();
  await shard.close();
  rmSync(net.dir, { recursive: true, force: true });
});

/** A stream client that can wait until the server has handled everything it sent (an unknown text op answers an ERROR frame). */
class Client extends StreamClient {
  constructor() {
    super(`ws://127.0.0.1:${server.port}${STREAM_PATH}`);
  }

  async sync(): Promise<void> {
    const errors = this.of(FRAME_ERROR).length;
    this.ws.send("sync");
    await until(() => (this.of(FRAME_ERROR).length > errors ? true : undefined), "the sync error frame");
  }
}

async function openClient(ops: readonly ("subscribe" | "unsubscribe" | Record<string, unknown>)[]): Promise<Client> {
  const client = new Client();
  await client.opened;
  for (const op of ops) client.ws.send(JSON.stringify(typeof op === "string" ? { op } : op));
  await client.sync();
  return client;
}

function randomBatch(txids: number): { producer: Uint8Array; block: Uint8Array; txids: Uint8Array } {
  return { producer: new Uint8Array(randomBytes(32)), block: new Uint8Array(randomBytes(32)), txids: new Uint8Array(randomBytes(32 * txids)) };
}

describe("optimistic confirmations on the client API", () => {
  it("sends each announced batch as one exact OPTIMISTIC frame to subscribers only", async () => {
    const subscribed = await openClient(["subscribe"]);
    const never = await openClient([]);
    const left = await openClient(["subscribe", "unsubscribe"]);
    const first = randomBatch(3);
    const second = randomBatch(1);
    shard.announce(first);
    shard.announce(randomBatch(0));
    shard.announce(second);
    await subscribed.sync();
    assert.deepEqual(subscribed.of(FRAME_OPTIMISTIC), [encodeOptimistic(first), encodeOptimistic(second)], "both batches, in order, byte for byte; the empty one is not sent");
    assert.deepEqual(decodeOptimistic(subscribed.of(FRAME_OPTIMISTIC)[0]!), first);
    for (const client of [never, left]) {
      await client.sync();
      assert.equal(client.of(FRAME_OPTIMISTIC).length, 0);
    }
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /ios_api_stream_frames_total\{kind="optimistic"\} 2\n/);
    await Promise.all([subscribed.close(), never.close(), left.close()]);
  });

  it("shows a submitted transfer as optimistic, with its block, producer and a proof the client checks, until its block commits", async () => {
    const watcher = await openClient(["subscribe"]);
    const tx = genesisSpend(net, 0, net.accounts[1]!.publicKey, 10n);
    const submitted = await postJson(`${base}/v1/tx`, { tx: hex(tx.bytes) });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal(submitted.body.status.state, "optimistic");
    const block = submitted.body.status.block as string;

    const optimistic = await getJson(`${base}/v1/tx/${hex(tx.txid)}`);
    assert.equal(optimistic.status, 200);
    assert.deepEqual(Object.keys(optimistic.body).sort(), ["block", "inclusion", "producer", "state", "txid"]);
    assert.deepEqual({ ...optimistic.body, inclusion: undefined }, { txid: hex(tx.txid), state: "optimistic", block, producer: hex(producer.publicKey), inclusion: undefined });
    const viaClient = await new ApiClient(base).transaction(hex(tx.txid));
    assert.equal(viaClient.state, "optimistic");
    assert.equal(viaClient.block, block);
    assert.equal(viaClient.producer, hex(producer.publicKey));
    // The client trusts the producer's key and the proof, not the validator it asked.
    const status = optimistic.body as TxStatusJson;
    verifyOptimistic(hex(tx.txid), status, [hex(producer.publicKey)]);
    const flip = (at: number) => {
      const bytes = Buffer.from(status.inclusion!, "hex");
      bytes[at]! ^= 1;
      return { ...status, inclusion: bytes.toString("hex") };
    };
    for (const [what, forged] of [
      ["a changed header (its tx root)", flip(50)],
      ["a changed seal", flip(HEADER_BYTES + 3)],
      ["a changed proof", flip(Buffer.from(status.inclusion!, "hex").length - 1)],
      ["another block hash", { ...status, block: "00".repeat(32) }],
      ["another producer", { ...status, producer: hex(net.accounts[3]!.publicKey) }],
      ["no proof", { ...status, inclusion: undefined }],
    ] as const) assert.equal(codeOf(() => verifyOptimistic(hex(tx.txid), forged)), "API_BAD_PROOF", what);
    assert.equal(codeOf(() => verifyOptimistic(hex(genesisSpend(net, 1, net.accounts[2]!.publicKey, 10n).txid), status)), "API_BAD_PROOF", "another transaction");
    assert.equal(codeOf(() => verifyOptimistic(hex(tx.txid), status, [hex(net.accounts[3]!.publicKey)])), "API_BAD_PROOF", "a producer outside the believable league");

    await watcher.sync();
    const frames = watcher.of(FRAME_OPTIMISTIC).map(decodeOptimistic);
    assert.equal(frames.length, 1);
    const frame = frames[0]!;
    assert.deepEqual({ ...frame, signed: undefined }, { producer: producer.publicKey, block: Uint8Array.from(Buffer.from(block, "hex")), txids: tx.txid, signed: undefined });
    // The frame's signed block proves the confirmed txid to a stream client, against the league.
    verifyOptimisticBatch(frame, [producer.publicKey]);
    const signed = frame.signed!;
    const flipped = (bytes: Uint8Array, at: number) => {
      const copy = Uint8Array.from(bytes);
      copy[at]! ^= 1;
      return copy;
    };
    for (const [what, forged] of [
      ["no signed block", { ...frame, signed: undefined }],
      ["a changed header", { ...frame, signed: { ...signed, header: flipped(signed.header, 50) } }],
      ["a changed seal", { ...frame, signed: { ...signed, seal: flipped(signed.seal, 5) } }],
      ["another block txid", { ...frame, signed: { ...signed, txids: flipped(signed.txids, 0) } }],
      ["a confirmed txid outside the block", { ...frame, txids: flipped(frame.txids, 3) }],
      ["another producer", { ...frame, producer: net.accounts[3]!.publicKey }],
    ] as const) assert.equal(codeOf(() => verifyOptimisticBatch(forged)), "API_BAD_PROOF", what);
    assert.equal(codeOf(() => verifyOptimisticBatch(frame, [net.accounts[3]!.publicKey])), "API_BAD_PROOF", "a producer outside the league");

    const committed = shard.solo.commitNextBlock();
    assert.ok(committed !== undefined);
    const final = await getJson(`${base}/v1/tx/${hex(tx.txid)}`);
    assert.equal(final.body.state, "final");
    assert.equal(final.body.height, committed.height);
    assert.equal(final.body.index, 0);
    assert.equal(final.body.blockHash, hex(committed.hash));
    await watcher.sync();
    assert.deepEqual(watcher.of(FRAME_EVENTS).map((f) => hex(decodeEvents(f).final)), [hex(tx.txid)], "the final event follows the optimistic one");
    await watcher.close();
  });

  it("drops a subscriber that stops reading optimistic frames with SLOW_CONSUMER and keeps serving the others", async () => {
    const stalled = await openClient(["subscribe"]);
    const reader = await openClient(["subscribe"]);
    const socket = (stalled.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const batch = randomBatch(1024);
    const dropped = async () => /ios_api_stream_dropped_subscribers_total 1\n/.test(await (await fetch(`${base}/metrics`)).text());
    let sent = 0;
    // The kernel's socket buffers take a few MB before uWS holds any: one 32 KiB batch at a time (so
    // the reading subscriber keeps up) until the stalled one is dropped.
    while (!(await dropped())) {
      assert.ok(sent < 1024, "the stalled subscriber was never dropped");
      shard.announce(batch);
      sent++;
    }
    socket.resume();
    await until(() => stalled.closeCode, "the stalled subscriber's close");
    assert.equal(stalled.closeCode, CLOSE_SLOW_CONSUMER);
    assert.ok(stalled.of(FRAME_OPTIMISTIC).length < sent);
    shard.announce(randomBatch(2));
    await until(() => (reader.of(FRAME_OPTIMISTIC).length === sent + 1 ? true : undefined), "every batch at the reading subscriber");
    assert.ok(reader.of(FRAME_OPTIMISTIC).every((frame) => decodeOptimistic(frame).txids.length > 0));
    assert.equal(reader.ws.readyState, WebSocket.OPEN);
    await reader.close();
  });
});

describe("ATOMIX frames on the client API", () => {
  it("go to every subscriber unless it subscribed with atomix: false, and a subscribe can turn them on again; a bad atomix value is STREAM_BAD_CONTROL", async () => {
    const all = await openClient(["subscribe"]);
    const without = await openClient([{ op: "subscribe", atomix: false }]);
    const turned = await openClient([{ op: "subscribe", atomix: false }, { op: "subscribe", atomix: true }]);
    const bad = await openClient([{ op: "subscribe", atomix: "no" }, { op: "unsubscribe", atomix: false }]);
    const batch = { height: 9, certificate: new Uint8Array(randomBytes(60)), decisions: [{ txid: new Uint8Array(randomBytes(32)), phase: 1, code: "MISSING_INPUT", path: new Uint8Array(randomBytes(40)) }] };
    backend.announceAtomix(batch);
    for (const client of [all, without, turned, bad]) await client.sync();
    assert.deepEqual(all.of(FRAME_ATOMIX), [encodeAtomix(batch)]);
    assert.deepEqual(turned.of(FRAME_ATOMIX), [encodeAtomix(batch)]);
    assert.equal(without.of(FRAME_ATOMIX).length, 0);
    assert.equal(bad.of(FRAME_ATOMIX).length, 0, "never subscribed");
    assert.equal(bad.of(FRAME_ERROR).length, 4, "two bad controls and two syncs");
    // Still subscribed to everything else.
    shard.announce(randomBatch(1));
    await without.sync();
    assert.equal(without.of(FRAME_OPTIMISTIC).length, 1);
    await Promise.all([all.close(), without.close(), turned.close(), bad.close()]);
  });

  it("the load driver takes them from f + 1 validators per shard, at least two, at most all; a source down or gone to another shard is replaced, the others kept", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 7, 10, 100].map(atomixSourceCount), [1, 2, 2, 2, 2, 3, 4, 34]);
    // Two shards of 5 endpoints: 0–4 in shard 0, 5–9 in shard 1.
    const endpoints = Array.from({ length: 10 }, (_, index) => ({ index, shard: index < 5 ? 0 : 1, up: true }));
    const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);
    const first = atomixSourcesOf(endpoints, new Set());
    assert.deepEqual(sorted(first), [0, 1, 5, 6]);
    const down = endpoints.map((e) => (e.index === 0 ? { ...e, up: false } : e));
    assert.deepEqual(sorted(atomixSourcesOf(down, first)), [1, 2, 5, 6], "0 down: 2 takes its place, 1 stays");
    assert.deepEqual(sorted(atomixSourcesOf(endpoints, new Set([1, 2, 5, 6]))), [1, 2, 5, 6], "0 back: the current sources stay");
    const moved = endpoints.map((e) => (e.index === 6 ? { ...e, shard: 0 } : e));
    assert.deepEqual(sorted(atomixSourcesOf(moved, new Set([1, 2, 5, 6]))), [1, 2, 5, 7], "6 moved to shard 0 (now 6 endpoints, 2 sources kept): shard 1 takes 7");
    assert.deepEqual(sorted(atomixSourcesOf(endpoints.map((e) => ({ ...e, up: e.index === 3 || e.index > 4 })), first)), [3, 5, 6], "one live endpoint left in shard 0: it alone");
  });
});
