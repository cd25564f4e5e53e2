// The driver against a Proof-of-Believability shard (white paper §7.2): two entry validators A and
// B of one shard, each serving the client API on its own uWS port over the same real shard (LMDB
// state, worker pool, pipeline, solo block producer). Their /v1/status reports PoB with the league
// the test sets; each announces the transactions it accepts as an optimistic block of its own key,
// which both validators pass to their subscribers, so the driver sees every optimistic
// confirmation, and every final one, twice. As under PoB, where the normal league orders only
// optimistic blocks, a transaction is final only after its announcement: the test commits a block
// every 50 ms while no submission is being answered (the pipeline admits a frame's transactions
// batch by batch, so a free-running producer could finalize some before their frame is announced).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assignee, spenderOf } from "../../src/consensus/pob/assignment.js";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { runLoad } from "../../src/load/driver.js";
import { ApiClient } from "../../src/api/client.js";
import { unsettledLines } from "../../src/devnet/session.js";
import { generateLoad, type LoadSet } from "../../src/load/workload.js";
import type { SubmitResult } from "../../src/api/interface.js";
import { PobTestBackend, TestShard, hex, serveApi, until } from "../api/helpers.js";

const made = makeTestGenesis({ seed: "driver pob test", shardCount: 1, accounts: 84, amount: 1_000_000n, outputsPerAccount: 2, validators: 3 });
const [keyA, keyB, keyC] = made.validators.map((v) => v.publicKey) as [Uint8Array, Uint8Array, Uint8Array];

function pobStatus(leagueMode: "two-league" | "one-league", believable: readonly Uint8Array[]): Record<string, unknown> {
  return { mode: "pob", leagueMode, believable: believable.map(hex), normal: [], samplingProbability: 0.5, height: 3 };
}

/** A PoB test backend that counts the submissions it is answering (announcement included). */
class CountingBackend extends PobTestBackend {
  answering = 0;

  override async submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    this.answering++;
    try {
      return await super.submit(transactions);
    } finally {
      this.answering--;
    }
  }
}

/** Block production period of the test's producer. */
const BLOCK_INTERVAL_MS = 50;

function ownerOf(set: LoadSet, position: number): Uint8Array {
  return spenderOf(set.tx(position))!;
}

describe("runLoad against a PoB shard", () => {
  let dir: string;
  let shard: TestShard;
  let backends: [CountingBackend, CountingBackend];
  let producer: NodeJS.Timeout;
  /** Whether the producer commits blocks (a test stops the chain to leave accepted transactions pending). */
  let producing = true;
  const servers: Awaited<ReturnType<typeof serveApi>>[] = [];
  let endpoints: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ios-driver-pob-"));
    shard = TestShard.open(made.genesis, 0, made.validators[0]!, join(dir, "data"));
    backends = [keyA, keyB].map((key) => new CountingBackend(shard, key, { consensus: pobStatus("two-league", [keyA, keyB]), sealOnAccept: true })) as [CountingBackend, CountingBackend];
    producer = setInterval(() => {
      if (producing && backends.every((backend) => backend.answering === 0)) shard.solo.commitNextBlock();
    }, BLOCK_INTERVAL_MS);
    for (const backend of backends) servers.push(await serveApi(backend));
    endpoints = servers.map((server) => `ws://127.0.0.1:${server.port}/v1/stream`);
  });

  after(async () => {
    clearInterval(producer);
    for (const server of servers) server.close();
    await shard.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Which endpoint (0 = A, 1 = B) accepted each transaction of `set`; all must have been accepted by exactly one. */
  function receivers(set: LoadSet): number[] {
    const at = backends.map((backend) => new Set(backend.accepted));
    return Array.from({ length: set.count }, (_, position) => {
      const txid = hex(set.txids().subarray(position * 32, position * 32 + 32));
      const where = [0, 1].filter((i) => at[i]!.has(txid));
      assert.equal(where.length, 1, `transaction ${position} was accepted by ${where.length} endpoints`);
      return where[0]!;
    });
  }

  it("counts each optimistic and final confirmation once although both validators announce it", async () => {
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 16), count: 400, seed: "pob optimistic", fee: 1n, threads: 2 });
    const { report, end } = await runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 100 }, durationMs: 60_000, drainTimeoutMs: 30_000, frameTxs: 50 });
    const m = report.metrics;
    assert.equal(end, "settled");
    assert.deepEqual(m.rejectedByCode, {});
    assert.equal(m.totals.submitted, 400);
    assert.equal(m.totals.accepted, 400);
    assert.equal(m.totals.optimistic, 400);
    assert.equal(m.totals.final, 400);
    assert.equal(m.shards[0]!.optimistic, 400);
    assert.equal(m.latency.optimistic.count, 400);
    assert.equal(m.latency.final.count, 400);
    assert.equal(m.latency.consensus.count, 400, "every final had an optimistic confirmation before it");
    assert.equal(m.series.optimistic.reduce((a, b) => a + b, 0), 400);
    assert.ok(m.throughput.optimisticTps !== null && m.throughput.optimisticTps > 0);
    assert.ok(m.throughput.consensusTps !== null && m.throughput.consensusTps > 0);
    assert.equal(m.cdf.optimistic.at(-1)![1], 1);
    assert.deepEqual(report.run.consensus, ["pob/two-league"]);
    assert.deepEqual(report.run.routing, ["pob-assignee"]);
    // Both validators streamed every optimistic block: the driver received each one twice.
    const sent = await Promise.all(servers.map(async (server) => {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      return Number(/ios_api_stream_frames_total\{kind="optimistic"\} (\d+)/.exec(text)?.[1]);
    }));
    assert.ok(sent[0]! > 0);
    assert.equal(sent[0], sent[1]);
  });

  it("sends each transaction to the believable assignee of its sender, falling back to the owner byte for an assignee without an endpoint", async () => {
    for (const backend of backends) backend.accepted.length = 0;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(16, 32), count: 200, seed: "pob routing", fee: 1n, threads: 2 });
    await runLoad({ set, endpoints, mode: { kind: "open-loop", rate: 1000 }, durationMs: 10_000, drainTimeoutMs: 30_000 });
    const got = receivers(set);
    got.forEach((endpoint, position) => assert.equal(hex(assignee(ownerOf(set, position), [keyA, keyB])), hex([keyA, keyB][endpoint]!), `transaction ${position}`));
    assert.ok(got.includes(0) && got.includes(1), "both believable validators were assigned senders");

    // The league is A and C, and C serves no endpoint: C's senders go by the first byte of their key.
    for (const backend of backends) {
      backend.accepted.length = 0;
      backend.consensus = pobStatus("two-league", [keyA, keyC]);
    }
    const next = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(32, 48), count: 200, seed: "pob fallback", fee: 1n, threads: 2 });
    const { report } = await runLoad({ set: next, endpoints, mode: { kind: "closed-loop", window: 100 }, durationMs: 10_000, drainTimeoutMs: 30_000 });
    assert.equal(report.metrics.totals.final, 200);
    const fallback = receivers(next);
    let toC = 0;
    fallback.forEach((endpoint, position) => {
      const owner = ownerOf(next, position);
      if (hex(assignee(owner, [keyA, keyC])) === hex(keyA)) assert.equal(endpoint, 0, `transaction ${position} belongs to A`);
      else {
        toC++;
        assert.equal(endpoint, owner[0]! % 2, `transaction ${position}: C has no endpoint, so the owner byte decides`);
      }
    });
    assert.ok(toC > 0 && toC < 200, "the league split the senders between A and C");
  });

  it("routes by the new league once an endpoint's status reports it, while running", async () => {
    for (const backend of backends) {
      backend.accepted.length = 0;
      backend.consensus = pobStatus("two-league", [keyA, keyC]);
    }
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(64, 80), count: 200, seed: "pob league change", fee: 1n, threads: 2 });
    const running = runLoad({ set, endpoints, mode: { kind: "open-loop", rate: 400 }, durationMs: 10_000, drainTimeoutMs: 30_000, statusPollMs: 50 });
    await until(() => (backends[0].accepted.length + backends[1].accepted.length >= 50 ? true : undefined), "50 transactions accepted under the first league");
    for (const backend of backends) backend.consensus = pobStatus("two-league", [keyA, keyB]);
    const { report } = await running;
    assert.equal(report.metrics.totals.final, 200);
    assert.ok(report.run.epochs.routeRebuilds >= 1);
    const got = receivers(set);
    let byNewLeague = 0;
    got.forEach((endpoint, position) => {
      const owner = ownerOf(set, position);
      const first = hex(assignee(owner, [keyA, keyC])) === hex(keyA) ? 0 : owner[0]! % 2;
      const second = hex(assignee(owner, [keyA, keyB])) === hex(keyA) ? 0 : 1;
      assert.ok(endpoint === first || endpoint === second, `transaction ${position} went where neither league sends it`);
      if (endpoint !== first) byNewLeague++;
    });
    assert.ok(byNewLeague > 0, "transactions sent after the change went to B as the new league's assignee");
    for (const backend of backends) backend.consensus = pobStatus("two-league", [keyA, keyB]);
  });

  it("traces, after a drain timeout, every transaction still open: accepted by the driver's account, pending at both validators while the chain stands still", async () => {
    for (const backend of backends) {
      backend.consensus = pobStatus("two-league", [keyA, keyB]);
      backend.sealOnAccept = false;
    }
    producing = false;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(80, 84), count: 4, seed: "pob unsettled", fee: 1n, threads: 1 });
    try {
      const run = await runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 4 }, durationMs: 10_000, drainTimeoutMs: 1000 });
      assert.equal(run.end, "drain-timeout");
      assert.equal(run.report.metrics.totals.final, 0);
      assert.deepEqual(run.unsettled?.map((trace) => trace.txid), Array.from({ length: 4 }, (_, position) => hex(set.txid(position))), "every open transaction, in set order");
      const got = receivers(set);
      run.unsettled!.forEach((trace, position) => assert.ok(trace.acceptedAtMs !== null && trace.acceptedAtMs >= 0 && trace.acceptedAtMs < run.report.run.plannedDurationMs, `transaction ${position} accepted at ${trace.acceptedAtMs} ms`));
      run.unsettled!.forEach((trace, position) => assert.deepEqual(
        { shard: trace.shard, cross: trace.cross, driverState: trace.driverState, sends: trace.sends, retries: trace.retries, sentTo: trace.sentTo, atEndpoints: trace.atEndpoints },
        { shard: 0, cross: false, driverState: "accepted", sends: 1, retries: 0, sentTo: got[position], atEndpoints: ["pending", "pending"] }, `transaction ${position}`));
      const lines = unsettledLines(run);
      assert.equal(lines[0], "unsettled, the first 4 traced:");
      assert.match(lines[1]!, /^ {2}4 × accepted \(shard 0\); pending at 2 \(e\.g\. [0-9a-f]{64}\)$/);
      assert.equal(lines.length, 2);
    } finally {
      producing = true;
      for (const backend of backends) backend.sealOnAccept = true;
    }
    // The chain goes on: what was pending becomes final (nothing accepted is lost).
    const client = new ApiClient(`http://127.0.0.1:${servers[0]!.port}`);
    await until(async () => ((await Promise.all(Array.from({ length: 4 }, (_, position) => client.transaction(hex(set.txid(position)))))).every((status) => status.state === "final") ? true : undefined), "the 4 pending transactions final");
  });

  it("refuses, with LOAD_CONNECT_FAILED, an endpoint whose status claims two leagues without a usable believable list", async () => {
    for (const backend of backends) backend.accepted.length = 0;
    const valid = backends[1].consensus;
    backends[1].consensus = { ...pobStatus("two-league", [keyA]), believable: [hex(keyA), "not a key"] };
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(48, 52), count: 4, seed: "pob bad status", fee: 1n, threads: 1 });
    await assert.rejects(runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 4 }, durationMs: 1000 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "LOAD_CONNECT_FAILED");
      assert.match(error.message, new RegExp(`http://127\\.0\\.0\\.1:${servers[1]!.port}/v1/status .*consensus\\.believable`));
      return true;
    });
    assert.equal(backends[0].accepted.length + backends[1].accepted.length, 0, "nothing was submitted");
    backends[1].consensus = valid;
  });

  it("keeps the owner-byte rule under one-league PoB and reports finals without optimistic confirmations", async () => {
    for (const backend of backends) {
      backend.accepted.length = 0;
      backend.consensus = pobStatus("one-league", []);
      backend.sealOnAccept = false;
    }
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(48, 64), count: 50, seed: "pob one league", fee: 1n, threads: 1 });
    const { report } = await runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 25 }, durationMs: 10_000, drainTimeoutMs: 30_000 });
    const m = report.metrics;
    receivers(set).forEach((endpoint, position) => assert.equal(endpoint, ownerOf(set, position)[0]! % 2, `transaction ${position}`));
    assert.deepEqual(report.run.routing, ["owner-byte"]);
    assert.deepEqual(report.run.consensus, ["pob/one-league"]);
    assert.equal(m.totals.final, 50);
    assert.equal(m.totals.optimistic, 0);
    assert.equal(m.latency.consensus.count, 0);
    assert.equal(m.throughput.optimisticTps, null);
    assert.equal(m.throughput.consensusTps, null);
  });
});
