import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import {
  FRAME_ACK,
  FRAME_ERROR,
  FRAME_EVENTS,
  MAX_STREAM_TXS,
  SubmitOutcome,
  decodeAck,
  decodeError,
  decodeEvents,
  encodeSubmission,
} from "../../src/api/stream-codec.js";
import { MAX_FRAMES_IN_FLIGHT, STREAM_PATH } from "../../src/api/server.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { StreamClient, genesisSpend, hex, makeNet, startNode, until } from "./helpers.js";

const net = makeNet("stream-api-test", 1, 64);
let node: ValidatorNode;
let url: string;

before(async () => {
  ({ node } = await startNode(net, { api: { maxStreamFrameBytes: 64 * 1024 } }));
  url = `ws://127.0.0.1:${node.port}${STREAM_PATH}`;
});
after(async () => {
  await node.stop();
  rmSync(net.dir, { recursive: true, force: true });
});

describe("client WebSocket stream", () => {
  it("bulk submission gets per-transaction acks and the subscriber sees every confirmation", async () => {
    const client = new StreamClient(url);
    await client.opened;
    client.ws.send(JSON.stringify({ op: "subscribe" }));
    const txs = Array.from({ length: 40 }, (_, i) => genesisSpend(net, i, net.accounts[(i + 1) % 40]!.publicKey, 7n));
    const malformed = new Uint8Array([1, 0, 1]);
    client.ws.send(encodeSubmission([...txs.slice(0, 20).map((t) => t.bytes), malformed]));
    client.ws.send(encodeSubmission(txs.slice(20).map((t) => t.bytes)));

    const acks = await until(() => (client.of(FRAME_ACK).length === 2 ? client.of(FRAME_ACK).map(decodeAck) : undefined), "two acks");
    assert.deepEqual(acks.map((a) => a.sequence), [0, 1]);
    assert.equal(acks[0]!.acks.length, 21);
    assert.equal(acks[1]!.acks.length, 20);
    const flat = [...acks[0]!.acks.slice(0, 20), ...acks[1]!.acks];
    flat.forEach((ack, i) => {
      assert.equal(ack.outcome, SubmitOutcome.Accepted, `tx ${i}: ${ack.code}`);
      assert.equal(hex(ack.txid), hex(txs[i]!.txid));
    });
    assert.equal(acks[0]!.acks[20]!.outcome, SubmitOutcome.Rejected);
    assert.equal(acks[0]!.acks[20]!.code, "TX_TRUNCATED");

    const wanted = new Set(txs.map((t) => hex(t.txid)));
    const seen = new Set<string>();
    await until(() => {
      for (const frame of client.of(FRAME_EVENTS)) {
        const batch = decodeEvents(frame);
        for (let k = 0; k < batch.final.length; k += 32) seen.add(hex(batch.final.subarray(k, k + 32)));
      }
      return [...wanted].every((t) => seen.has(t)) ? true : undefined;
    }, "confirmation events for every transaction");

    // A double spend: both pass the stateless checks, the block applies the first only.
    const winner = genesisSpend(net, 45, net.accounts[0]!.publicKey, 1n);
    const loser = genesisSpend(net, 45, net.accounts[1]!.publicKey, 2n);
    client.ws.send(encodeSubmission([winner.bytes, loser.bytes]));
    const rejection = await until(() => {
      for (const frame of client.of(FRAME_EVENTS)) {
        const batch = decodeEvents(frame);
        const found = batch.rejected.find((r) => hex(r.txid) === hex(loser.txid));
        if (found !== undefined) return { found };
      }
      return undefined;
    }, "the loser's rejection event");
    assert.equal(rejection.found.code, "MISSING_INPUT");
    const finals = client.of(FRAME_EVENTS).flatMap((frame) => {
      const batch = decodeEvents(frame);
      return Array.from({ length: batch.final.length / 32 }, (_, k) => hex(batch.final.subarray(k * 32, k * 32 + 32)));
    });
    assert.ok(finals.includes(hex(winner.txid)));

    // Resubmitting is idempotent: the same transactions come back as duplicates.
    client.ws.send(encodeSubmission(txs.slice(0, 3).map((t) => t.bytes)));
    const dup = await until(() => (client.of(FRAME_ACK).length === 4 ? decodeAck(client.of(FRAME_ACK)[3]!) : undefined), "fourth ack");
    assert.equal(dup.sequence, 3);
    assert.ok(dup.acks.every((a) => a.outcome === SubmitOutcome.Duplicate));
    await client.close();
  });

  it("answers malformed frames and control messages with error frames and keeps the connection", async () => {
    const client = new StreamClient(url);
    await client.opened;
    client.ws.send(new Uint8Array([5, 0, 0, 0, 1]));
    client.ws.send("hello");
    const tooMany = new Uint8Array(4);
    new DataView(tooMany.buffer).setUint32(0, MAX_STREAM_TXS + 1, true);
    client.ws.send(tooMany);
    const errors = await until(() => (client.of(FRAME_ERROR).length === 3 ? client.of(FRAME_ERROR).map(decodeError) : undefined), "three error frames");
    assert.equal(errors[0]!.code, "STREAM_BAD_FRAME");
    assert.match(errors[0]!.message, /^frame 0: /);
    assert.equal(errors[1]!.code, "STREAM_BAD_CONTROL");
    assert.equal(errors[2]!.code, "STREAM_TOO_MANY_TXS");
    assert.equal(client.ws.readyState, WebSocket.OPEN);
    await client.close();
  });

  it("refuses frames past the in-flight limit with STREAM_BUSY and acks the others", async () => {
    const client = new StreamClient(url);
    await client.opened;
    const txs = Array.from({ length: MAX_FRAMES_IN_FLIGHT + 1 }, (_, i) => genesisSpend(net, 48 + i, net.accounts[0]!.publicKey, 1n));
    // One TCP write: the server reads every frame before any ack can be ready.
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    for (const tx of txs) client.ws.send(encodeSubmission([tx.bytes]));
    socket.uncork();
    const acks = await until(() => (client.of(FRAME_ACK).length === MAX_FRAMES_IN_FLIGHT ? client.of(FRAME_ACK).map(decodeAck) : undefined), "acks");
    assert.deepEqual(acks.map((a) => a.sequence), Array.from({ length: MAX_FRAMES_IN_FLIGHT }, (_, i) => i));
    assert.ok(acks.every((a) => a.acks[0]!.outcome === SubmitOutcome.Accepted));
    const busy = await until(() => client.of(FRAME_ERROR).map(decodeError)[0], "busy error");
    assert.equal(busy.code, "STREAM_BUSY");
    assert.match(busy.message, new RegExp(`^frame ${MAX_FRAMES_IN_FLIGHT}: `));
    await client.close();
  });

  it("closes a connection that sends a frame over the size limit, and the node carries on", async () => {
    const client = new StreamClient(url);
    await client.opened;
    client.ws.send(new Uint8Array(64 * 1024 + 1));
    await until(() => client.closeCode, "close");
    assert.equal(client.closeCode, 1006);
    const status = await fetch(`http://127.0.0.1:${node.port}/v1/status`);
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { streams: number }).streams, 0);
  });
});
