// The driver against a validator that stops answering with its connection open (a paused or hung
// process): one real solo validator reached through two endpoints, directly and through a TCP relay
// on 127.0.0.1 that the test freezes (it keeps every connection open and forwards nothing, as a
// SIGSTOPped process's kernel does). The frozen endpoint answers no ping, so the driver counts it
// disconnected ("unresponsive"), sends what it held through the other endpoint, and reconnects
// once the relay thaws; every transfer ends final.
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { runLoad } from "../../src/load/driver.js";
import { ProgressDisplay } from "../../src/load/progress.js";
import { generateLoad } from "../../src/load/workload.js";
import { startSoloShards, type SoloShards } from "./solo-shards.js";

const made = makeTestGenesis({ seed: "driver unresponsive", shardCount: 1, accounts: 20, amount: 1_000_000n, outputsPerAccount: 2, validators: 1 });
const UNRESPONSIVE_MS = 1500;

/** A byte relay to `port` that can stop forwarding (both ways, every connection, new ones too) and start again. */
class FreezableRelay {
  readonly #server: Server;
  readonly #pairs: [Socket, Socket][] = [];
  #frozen = false;

  constructor(port: number) {
    this.#server = createServer((client) => {
      const upstream = connect(port, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.push(pair);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      if (!this.#frozen) this.#link(pair);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve((this.#server.address() as { port: number }).port)));
  }

  #link([client, upstream]: [Socket, Socket]): void {
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
    upstream.resume();
  }

  freeze(): void {
    this.#frozen = true;
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  thaw(): void {
    this.#frozen = false;
    for (const pair of this.#pairs) if (!pair[0].destroyed) this.#link(pair);
  }

  close(): Promise<void> {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe("runLoad with a validator that stops answering", () => {
  let shards: SoloShards;
  let relay: FreezableRelay;
  let relayed: string;

  before(async () => {
    shards = await startSoloShards(made, "ios-driver-unresponsive-");
    relay = new FreezableRelay(shards.nodes[0]!.port);
    relayed = `ws://127.0.0.1:${await relay.listen()}/v1/stream`;
  });

  after(async () => {
    await relay.close();
    await shards.stop();
  });

  it("counts the silent endpoint disconnected after the ping goes unanswered, sends its transactions elsewhere, reconnects it when it answers again", async () => {
    // 6 s of load: the stream is frozen at 0.3 s, found silent by ~2.5 s, and must be back (a reconnection every 500 ms) before the run settles.
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: 600, seed: "unresponsive", fee: 1n, threads: 1 });
    const out = Object.assign(new PassThrough(), { isTTY: false });
    const notes: string[] = [];
    out.on("data", (chunk: Buffer) => notes.push(...chunk.toString("utf8").split("\n").filter((line) => line.startsWith("fault at "))));
    // Frozen shortly after the start, thawed once the driver has said so.
    const frozen = setTimeout(() => relay.freeze(), 300);
    const thaw = setInterval(() => {
      if (notes.some((line) => / disconnected: unresponsive/.test(line))) {
        relay.thaw();
        clearInterval(thaw);
      }
    }, 50);
    try {
      const { report, end } = await runLoad({
        set, endpoints: [relayed, shards.endpoints[0]!], mode: { kind: "open-loop", rate: 100 }, durationMs: 10_000, drainTimeoutMs: 30_000,
        unresponsiveMs: UNRESPONSIVE_MS, progress: new ProgressDisplay(out, 10_000),
      });
      assert.equal(end, "settled");
      assert.deepEqual([report.metrics.totals.final, report.metrics.totals.rejected], [600, 0], JSON.stringify(report.metrics.rejectedByCode));
      const faults = report.faults ?? [];
      assert.deepEqual(faults.map((f) => [f.endpoint, f.kind]), [[relayed, "disconnected"], [relayed, "reconnected"]]);
      const silence = Number(/^unresponsive: no answer to a ping in (\d+) ms$/.exec(faults[0]!.detail)?.[1]);
      assert.ok(silence >= UNRESPONSIVE_MS, faults[0]!.detail);
      assert.ok(report.metrics.resubmitted.count > 0, "what the frozen endpoint held went through the other one");
      assert.equal(notes.length, 2, "each fault is told as it happens");
      assert.match(notes[0]!, new RegExp(`^fault at [\\d.]+s: ${relayed.replace(/[.]/g, "\\.")} \\(shard 0\\) disconnected: unresponsive`));
    } finally {
      clearTimeout(frozen);
      clearInterval(thaw);
    }
  });

  it("refuses an unresponsive wait shorter than the ping period", async () => {
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 2), count: 2, seed: "short wait", fee: 1n, threads: 1 });
    await assert.rejects(runLoad({ set, endpoints: shards.endpoints, mode: { kind: "closed-loop", window: 2 }, durationMs: 1000, unresponsiveMs: 999 }), /LOAD_BAD_OPTION: unresponsive wait must be ≥ 1000 ms/);
  });
});
