// The driver against real validators: one ValidatorNode per shard (LMDB in a temp dir, worker pool,
// solo block producer, client API over uWebSockets.js on 127.0.0.1:0), real signed load over the
// WebSocket stream, confirmations followed until every transaction is final or rejected.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { runLoad } from "../../src/load/driver.js";
import { readLoadFile, saveLoadFile } from "../../src/load/load-file.js";
import { ProgressDisplay } from "../../src/load/progress.js";
import { writeReport } from "../../src/load/report.js";
import { LoadSet, generateLoad } from "../../src/load/workload.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { startSoloShards, type SoloShards } from "./solo-shards.js";

const SHARDS = 2;
const FEE = 1n;
const made = makeTestGenesis({ seed: "driver test", shardCount: SHARDS, accounts: 40, amount: 1_000_000n, outputsPerAccount: 4, validators: SHARDS });

function genesisSupplyOfShard(shard: number): bigint {
  return made.genesis.outputs.reduce((sum, o) => (shardOfOwner(o.owner, SHARDS) === shard ? sum + o.amount : sum), 0n);
}

describe("runLoad against real validators", () => {
  let shards: SoloShards;
  let dir: string;
  let nodes: ValidatorNode[];
  let endpoints: string[];

  // Two validators over two shards: the epoch context gives each shard one; nodes[s] serves shard s.
  before(async () => {
    shards = await startSoloShards(made, "ios-driver-");
    ({ dir, nodes, endpoints } = shards);
  });

  after(async () => {
    await shards.stop();
  });

  it("closed loop, replayed from a saved set: every transfer becomes final, counts add up, each shard's supply falls by its fees", async () => {
    const generated = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 20), count: 600, seed: "closed", fee: FEE, threads: 2 });
    await saveLoadFile(join(dir, "closed.iosload"), generated);
    const set = await readLoadFile(join(dir, "closed.iosload"), genesisTxid(made.genesis));
    const out = Object.assign(new PassThrough(), { isTTY: false });
    const lines: string[] = [];
    out.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8")));
    const { report, end } = await runLoad({
      set, endpoints, mode: { kind: "closed-loop", window: 150 }, durationMs: 60_000, drainTimeoutMs: 30_000, frameTxs: 64,
      cpu: [{ pid: process.pid, label: "test process (both validators)" }], progress: new ProgressDisplay(out, 200),
    });
    const m = report.metrics;
    assert.equal(end, "settled");
    assert.deepEqual(m.rejectedByCode, {});
    assert.equal(m.totals.submitted, 600);
    assert.equal(m.totals.accepted, 600);
    assert.equal(m.totals.final, 600);
    assert.equal(m.totals.pending, 0);
    assert.equal(m.latency.final.count, 600);
    assert.ok(m.throughput.endToEndTps > 0);
    for (let shard = 0; shard < SHARDS; shard++) {
      const planned = set.indexesOfShard(shard).length;
      assert.equal(m.shards[shard]!.final, planned);
      assert.equal(nodes[shard]!.state.supply, genesisSupplyOfShard(shard) - BigInt(planned) * FEE);
    }
    assert.equal(report.run.seed, "closed");
    assert.equal(report.cpu[0]!.pid, process.pid);
    assert.ok(report.cpu[0]!.samples.length >= 1);
    assert.ok(lines.length >= 1 && lines.every((line) => line.endsWith("\n")));
    assert.match(lines.at(-1)!, /final 600 /);
    const files = await writeReport(report, join(dir, "report"));
    assert.equal(JSON.parse(await readFile(files.json, "utf8")).metrics.totals.final, 600);
  });

  it("refuses, before submitting, a set with transactions of a shard no endpoint serves", async () => {
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 8), count: 8, seed: "unserved", fee: FEE, threads: 1 });
    assert.ok(set.indexesOfShard(1).length > 0, "the set has transactions of shard 1");
    const submittedBefore = nodes.map((node) => node.pipeline.metrics().submitted);
    await assert.rejects(runLoad({ set, endpoints: [endpoints[0]!], mode: { kind: "closed-loop", window: 8 }, durationMs: 1000 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "LOAD_BAD_OPTION");
      assert.match(error.message, /^LOAD_BAD_OPTION: no endpoint serves shard 1, which has transactions \(endpoints serve shard 0 in epoch 0\)$/);
      return true;
    });
    assert.deepEqual(nodes.map((node) => node.pipeline.metrics().submitted), submittedBefore, "nothing was submitted");
  });

  it("open loop with a bad signature: the tampered transfer and the ones spending its change are rejected by code, the rest final", async () => {
    const clean = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(20), count: 300, seed: "open", fee: FEE, threads: 2 });
    const bytes = clean.bytes.slice();
    const firstTx = clean.tx(0);
    bytes[clean.offsets[0]! + firstTx.length - 1]! ^= 0x01;
    const set = new LoadSet(clean.header, bytes, clean.offsets, clean.shards, clean.txids().slice());
    const { report, end } = await runLoad({ set, endpoints, mode: { kind: "open-loop", rate: 600 }, durationMs: 10_000, drainTimeoutMs: 30_000 });
    const m = report.metrics;
    assert.equal(end, "settled");
    assert.equal(report.run.mode, "open-loop");
    assert.equal(m.totals.submitted, 300);
    assert.equal(m.totals.final + m.totals.rejected, 300);
    assert.equal(m.totals.rejected, Object.values(m.rejectedByCode).reduce((a, b) => a + b, 0));
    assert.ok(m.totals.rejected >= 2, "the tampered transfer and at least its lane's next transfer");
    assert.ok(Object.keys(m.rejectedByCode).length >= 2, `codes: ${JSON.stringify(m.rejectedByCode)}`);
    assert.ok(m.totals.final >= 300 - 20, "only the tampered lane fails");
  });
});
