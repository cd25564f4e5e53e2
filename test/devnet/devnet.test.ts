import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { readDevnetManifest, startDevnet, v8BackgroundThreadsByDefault, type Devnet } from "../../src/devnet/launcher.js";
import { runDevnetLoad } from "../../src/devnet/session.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { decodeTransaction } from "../../src/ledger/transaction.js";
import { REPORT_SCHEMA, type LoadReport } from "../../src/load/report.js";
import { IosProcess, ios } from "../cli/helpers.js";

const root = mkdtempSync(join(tmpdir(), "ios-devnet-test-"));
const devnets: Devnet[] = [];
const processes: IosProcess[] = [];
after(async () => {
  for (const devnet of devnets) await devnet.stop();
  for (const p of processes) await p.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Gone: no such process, or a zombie (exited, waiting for its new parent to reap it). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return true;
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter((pid) => !gone(pid));
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await sleep(100);
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const FEE = 1n;
const TRANSFERS = 400;

describe("devnet: V8 background threads", () => {
  it("are off by default when the validators are at least as many as the cores, on otherwise", () => {
    assert.deepEqual([[10, 2], [2, 2], [1, 2], [10, 16], [16, 16]].map(([validators, cores]) => v8BackgroundThreadsByDefault(validators!, cores)), [false, false, true, true, false]);
  });
});

describe("devnet: launcher + load driver, counts add up", () => {
  it("finalizes every accepted transfer exactly once, balances and supply match the workload, reports parse, no process is left", async () => {
    // Without V8's background threads: each validator's verifier workers still start and check every signature.
    const devnet = await startDevnet({ shards: 2, validatorsPerShard: 1, believable: 1, dir: join(root, "lib"), seed: "devnet-test", accounts: 40, amount: 100_000n, v8BackgroundThreads: false });
    devnets.push(devnet);
    assert.equal(devnet.consensus, true);
    for (const v of devnet.manifest.validators) {
      const argv = readFileSync(`/proc/${v.pid}/cmdline`, "utf8").split("\0");
      assert.ok(argv.includes("--single-threaded") && argv.includes("--no-flush-bytecode"), `validator ${v.index} runs --single-threaded --no-flush-bytecode: ${argv.join(" ")}`);
    }
    assert.deepEqual(readDevnetManifest(devnet.manifest.dir).validators.map((v) => v.pid), devnet.manifest.validators.map((v) => v.pid));
    const { set, run, files } = await runDevnetLoad(devnet, { count: TRANSFERS, seed: "counts", mode: { kind: "closed-loop", window: 100 }, durationMs: 30_000, reportDir: join(root, "report") });

    const totals = run.report.metrics.totals;
    assert.equal(run.end, "settled");
    assert.deepEqual([totals.submitted, totals.accepted, totals.final, totals.rejected, totals.pending], [TRANSFERS, TRANSFERS, TRANSFERS, 0, 0]);
    assert.equal(run.report.metrics.shards.reduce((sum, s) => sum + s.final, 0), TRANSFERS);

    const clients = devnet.manifest.validators.map((v) => new ApiClient(v.http));
    const shardOfValidator = devnet.manifest.validators.map((v) => v.shard);
    const clientOf = (shard: number) => clients[shardOfValidator.indexOf(shard)]!;

    // Every block of every shard, from height 1 to the tip: each workload txid appears exactly once, in its own shard.
    const seen = new Map<string, number>();
    for (let shard = 0; shard < 2; shard++) {
      const { tip } = await clientOf(shard).status();
      for (let height = 1; height <= tip.height; height++) {
        const block = await clientOf(shard).request<{ txids: string[]; shard: number }>("GET", `/v1/block/${height}`);
        assert.equal(block.shard, shard);
        for (const txid of block.txids) seen.set(`${shard}:${txid}`, (seen.get(`${shard}:${txid}`) ?? 0) + 1);
      }
    }
    const finalPerShard = [0, 0];
    for (let i = 0; i < set.count; i++) {
      const txid = hex(set.txid(i));
      const shard = set.shard(i);
      assert.equal(seen.get(`${shard}:${txid}`), 1, `transfer ${i} in shard ${shard}'s chain`);
      assert.equal(seen.get(`${1 - shard}:${txid}`), undefined, `transfer ${i} not in the other shard`);
      const status = await clientOf(shard).transaction(txid);
      assert.equal(status.state, "final");
      finalPerShard[shard]!++;
    }

    // Balances: genesis, minus what each transfer's sender paid (outputs + fee), plus what each output's owner got.
    const expected = new Map<string, bigint>();
    for (const output of devnet.genesis.outputs) expected.set(hex(output.owner), (expected.get(hex(output.owner)) ?? 0n) + output.amount);
    for (let i = 0; i < set.count; i++) {
      const tx = decodeTransaction(set.tx(i));
      const sender = hex(tx.inputs[0]!.owner);
      const paid = tx.outputs.reduce((sum, o) => sum + o.amount, 0n) + FEE;
      expected.set(sender, expected.get(sender)! - paid);
      for (const o of tx.outputs) expected.set(hex(o.owner), expected.get(hex(o.owner))! + o.amount);
    }
    for (const account of devnet.accounts) {
      const owner = hex(account.publicKey);
      const balance = await clientOf(shardOfOwner(account.publicKey, 2)).balance(owner);
      assert.equal(BigInt(balance.balance), expected.get(owner), `balance of ${owner}`);
    }
    let genesisTotal = 0n;
    for (let shard = 0; shard < 2; shard++) {
      const shardGenesis = devnet.genesis.outputs.filter((o) => shardOfOwner(o.owner, 2) === shard).reduce((sum, o) => sum + o.amount, 0n);
      genesisTotal += shardGenesis;
      const status = await clientOf(shard).status();
      assert.equal(BigInt(status.supply as string), shardGenesis - FEE * BigInt(finalPerShard[shard]!), `supply of shard ${shard}`);
    }
    assert.equal(genesisTotal, genesisSupply(devnet.genesis));

    const json = JSON.parse(readFileSync(files.json, "utf8")) as LoadReport;
    assert.equal(json.schema, REPORT_SCHEMA);
    assert.equal(json.metrics.totals.final, TRANSFERS);
    assert.equal(json.cpu.length, 2);
    assert.match(readFileSync(files.markdown, "utf8"), new RegExp(`^# IOSChain load report[\\s\\S]*\\| ${TRANSFERS} \\| ${TRANSFERS} \\| 0 \\|`));
    const html = readFileSync(files.html, "utf8");
    const data = html.match(/<script id="report-data" type="application\/json">([\s\S]*?)<\/script>/);
    assert.ok(data !== null);
    assert.equal((JSON.parse(data[1]!) as LoadReport).metrics.totals.final, TRANSFERS);

    const pids = devnet.manifest.validators.map((v) => v.pid);
    await devnet.stop();
    assert.deepEqual(await waitGone(pids, 5000), []);
    for (const v of devnet.manifest.validators) assert.match(readFileSync(v.log, "utf8"), /listening on http:\/\/127\.0\.0\.1:\d+[\s\S]*stopped/);
  });

  it("ios devnet runs until SIGINT, serves ios load (with --save), then stops every validator and exits 0", async () => {
    const dir = join(root, "cli");
    const launcher = new IosProcess(["devnet", "--shards", "2", "--validators-per-shard", "1", "--believable", "1", "--dir", dir, "--accounts", "20", "--seed", "cli"]);
    processes.push(launcher);
    await launcher.waitFor(/every shard finalized its first block/, 30_000);
    assert.match(launcher.stdout, new RegExp(`logs: ${join(dir, "logs")}`));
    const pids = readDevnetManifest(dir).validators.map((v) => v.pid);
    const saved = join(root, "cli.load");
    const load = await ios(["load", "--devnet", dir, "--tx", "150", "--closed", "--window", "40", "--seed", "cli-load", "--save", saved, "--report", join(root, "cli-report")]);
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, /150 final of 150 submitted \(0 rejected, 0 pending; settled\)/);
    assert.ok(existsSync(saved));
    assert.equal((JSON.parse(readFileSync(join(root, "cli-report", "load-report.json"), "utf8")) as LoadReport).metrics.totals.final, 150);

    // The same set again: every transfer is already final, so the node refuses each one and nothing new is final.
    // Replayed through --endpoints (one flag per shard) and --genesis, as against a network not launched here.
    const manifest = readDevnetManifest(dir);
    const endpoints = [0, 1].flatMap((shard) => ["--endpoints", manifest.validators.filter((v) => v.shard === shard).map((v) => v.stream).join(",")]);
    const replay = await ios(["load", ...endpoints, "--genesis", manifest.genesis, "--replay", saved, "--rate", "1000", "--report", join(root, "cli-replay")]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /0 final of 150 submitted \(150 rejected, 0 pending; settled\)/);

    launcher.child.kill("SIGINT");
    assert.equal(await launcher.exited, 0);
    assert.match(launcher.stdout, /SIGINT: stopping 2 validator\(s\)[\s\S]*stopped; data and logs stay in/);
    assert.deepEqual(await waitGone(pids, 5000), []);
  });

  it("leaves no orphan when the launcher is SIGKILLed", async () => {
    const dir = join(root, "orphans");
    const launcher = new IosProcess(["devnet", "--shards", "1", "--validators-per-shard", "2", "--believable", "0", "--dir", dir, "--accounts", "4", "--seed", "orphans"]);
    processes.push(launcher);
    await launcher.waitFor(/every shard finalized its first block/, 30_000);
    const pids = readDevnetManifest(dir).validators.map((v) => v.pid);
    assert.equal(pids.length, 2);
    assert.ok(pids.every((pid) => !gone(pid)));
    launcher.child.kill("SIGKILL");
    await launcher.exited;
    assert.deepEqual(await waitGone(pids, 8000), []);
  });

  it("ios start runs the default devnet (2 shards × 5 PoB validators, a normal league of 4), prints the summary, then stops and cleans; a normal validator killed meanwhile is reported and tolerated", async () => {
    const report = join(root, "start-report");
    const start = new IosProcess(["start", "--duration", "4", "--window", "500", "--report", report]);
    processes.push(start);
    const normal = await start.waitFor(/^ {2}validator (\d+) {2}shard \d {2}normal {2}pid (\d+) /m, 60_000);
    await start.waitFor(/submitted [1-9]/, 60_000);
    process.kill(Number(normal[2]), "SIGKILL");
    const run = { code: await start.exited, stdout: start.stdout, stderr: start.stderr };
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`validator ${normal[1]} \\(shard \\d, normal league, pid ${normal[2]}\\) exited by itself \\(code null, signal SIGKILL\\); the others keep running`));
    const shape = run.stdout.match(/^devnet: 2 shard\(s\) × (\d) validator\(s\)/m);
    assert.ok(shape !== null, run.stdout);
    assert.equal(shape[1], "5");
    assert.match(run.stdout, /a normal league of 4 per shard \(tolerates 1 faulty normal validator\(s\) per shard\)/);
    assert.doesNotMatch(run.stdout, /WARNING/);
    const summary = run.stdout.match(/transactions: (\d+) submitted, (\d+) accepted, (\d+) final, 0 rejected, 0 pending \(settled\)/);
    assert.ok(summary !== null, run.stdout);
    assert.ok(Number(summary[1]) > 0);
    assert.equal(summary[2], summary[1]);
    assert.equal(summary[3], summary[1]);
    assert.match(run.stdout, /throughput: \d+ final tx\/s end to end[\s\S]*final latency: p50 [\d.]+ ms/);
    assert.match(run.stdout, /devnet stopped and cleaned\n$/);
    assert.equal((JSON.parse(readFileSync(join(report, "load-report.json"), "utf8")) as LoadReport).metrics.totals.final, Number(summary[3]));
    const data = run.stdout.match(/^data: (\S+)\/k\d /m);
    assert.ok(data !== null);
    assert.equal(existsSync(data[1]!), false, "the devnet directory is removed");
    const pids = [...run.stdout.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1]));
    assert.ok(pids.length >= 2);
    assert.deepEqual(await waitGone(pids, 5000), []);
  });

  it("refuses bad options with a usage error and a non-empty directory with DEVNET_DIR_NOT_EMPTY", async () => {
    const believable = await ios(["devnet", "--shards", "1", "--validators-per-shard", "2", "--believable", "3"]);
    assert.equal(believable.code, 2);
    assert.match(believable.stderr, /--believable must be an integer in \[0, 0\]/);
    const neither = await ios(["load", "--tx", "10", "--rate", "5"]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /exactly one of --devnet DIR and --endpoints URLS/);
    const both = await ios(["load", "--devnet", root, "--tx", "10", "--rate", "5", "--closed"]);
    assert.equal(both.code, 2);
    const missing = await ios(["load", "--devnet", join(root, "absent"), "--tx", "10", "--rate", "5"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error DEVNET_BAD_MANIFEST/);
    await assert.rejects(
      startDevnet({ shards: 1, validatorsPerShard: 1, believable: 1, dir: join(root, "cli"), seed: "x", accounts: 1 }),
      (error: Error & { code?: string }) => error.code === "DEVNET_DIR_NOT_EMPTY",
    );
  });
});
