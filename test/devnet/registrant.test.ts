// A validator joins a running network under load over real processes (issues 14 and 15): a one-shard
// PoB devnet of 4 validators with an epoch length of L, driven by the load harness (chained transfers
// at a steady rate) from before the registration until after the entry. A new key registers with
// `ios tx register` (bond and proof of possession) while epoch 0 runs; a new `ios node` process
// starts for it from an empty data directory, with the genesis, its key and the devnet's peers as its
// address book (the devnet's validators have no URL for it: it dials them). It reports itself a
// registrant in GET /v1/status, learns the link of the epoch that lists it from its peers' archives,
// bootstraps the shard from an MSB (certified header, body in chunks checked against the root, then
// the blocks after it: NODE_MSB_JOINED, never a replay from the genesis) and enters: its status then
// says validator of its shard in that epoch, and the shard finalizes heights past the epoch's start
// on it and on the devnet's validators alike. The load's counts add up: every transfer final, none
// rejected or unsettled, the supply less the fees on the registrant as on the others.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { decodeIdentityChain, verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { deriveTestAccounts, genesisSupply } from "../../src/ledger/genesis.js";
import { runDevnetLoad } from "../../src/devnet/session.js";
import { generateLoad } from "../../src/load/workload.js";
import { MIN_VALIDATOR_BOND } from "../../src/ledger/kinds/registration.js";
import { keyFileJson, nodeConfigJson, type ConsensusSettings, type PipelineSettings } from "../../src/node/config.js";
import { PEER_PATH } from "../../src/net/uws-transport.js";
import { ios, IosProcess } from "../cli/helpers.js";
import { keepingOnFailure } from "../support/artifacts.js";
import { until } from "../support/until.js";

const root = mkdtempSync(join(tmpdir(), "ios-registrant-"));
let devnet: Devnet | undefined;
let registrantNode: IosProcess | undefined;
after(async () => {
  await registrantNode?.stop();
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Epochs long enough that a bootstrap from an empty disk finishes while its sources still keep the MSB it joins at (they keep two). */
const L = 16;
/** Chained transfers at RATE per second: a load that lasts from before the registration until well after the entry. */
const TRANSFERS = 240;
const RATE = 8;
/** Heights the shard decides past the registrant's epoch start, on the registrant and on the others. */
const AFTER_ENTRY = 3;

interface NodeStatus {
  readonly role: string;
  readonly epoch: number;
  readonly shard: number;
  readonly publicKey: string;
  readonly tip: { readonly height: number };
  readonly lastSwitch?: { readonly epoch: number; readonly shard: number; readonly sync?: { readonly heights: number; readonly msbHeight: number; readonly msbFailure?: string } };
}

const registrantLogs = (): Record<string, string> => (registrantNode === undefined ? {} : { "registrant.stdout.log": registrantNode.stdout, "registrant.stderr.log": registrantNode.stderr });

const statusOf = async (url: string) => (await (await fetch(`${url}/v1/status`)).json()) as NodeStatus;

describe("a registrant joins a devnet", () => {
  it("registered by ios tx register, a new ios node process enters at the next epoch and its shard finalizes with it", () => keepingOnFailure(root, registrantLogs, async () => {
    devnet = await startDevnet({ shards: 1, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "registrant", accounts: 41, amount: 1_000_000n, workers: 1, epochLength: L, idleHeartbeatMs: 250 });
    const { manifest } = devnet;
    const entry = manifest.validators[0]!;
    const files = join(root, "registrant");
    rmSync(files, { recursive: true, force: true });
    const [registrant] = deriveTestAccounts("devnet registrant", 1);
    const keyFile = `${files}-key.json`;
    writeFileSync(keyFile, keyFileJson(registrant!));
    const payerFile = `${files}-payer.json`;
    writeFileSync(payerFile, keyFileJson(devnet.accounts[0]!));
    // The load: every account but the registration's payer, from now until after the entry (awaited at the end).
    const set = await generateLoad({ genesis: devnet.genesis, accounts: devnet.accounts.slice(1), count: TRANSFERS, seed: "registrant load", threads: 1 });
    const loading = runDevnetLoad(devnet, { set, mode: { kind: "open-loop", rate: RATE }, durationMs: 120_000, drainTimeoutMs: 60_000, reportDir: join(root, "report") });

    // The registration: while epoch 0 runs, so that epoch 1 lists the key (a later one if it becomes final after epoch 0's end).
    const registered = await ios(["tx", "register", "--from", payerFile, "--validator", keyFile, "--bond", String(MIN_VALIDATOR_BOND), "--genesis", manifest.genesis, "--node", entry.http, "--wait"]);
    assert.equal(registered.code, 0, registered.stderr);

    // Its node: the devnet's consensus settings, the devnet's validators as its address book, an empty data directory.
    const template = JSON.parse(readFileSync(entry.config, "utf8")) as { consensus: ConsensusSettings; pipeline: Partial<PipelineSettings> };
    const configFile = `${files}-config.json`;
    writeFileSync(configFile, nodeConfigJson({
      genesis: manifest.genesis,
      key: keyFile,
      dataDir: join(files, "data"),
      listen: { host: "127.0.0.1", port: 0, peerPort: 0 },
      peers: manifest.validators.map((v) => ({ publicKey: v.publicKey, url: `ws://127.0.0.1:${v.peerPort}${PEER_PATH}` })),
      pipeline: template.pipeline,
      consensus: template.consensus,
    }));
    registrantNode = new IosProcess(["node", "--config", configFile]);
    const url = (await registrantNode.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const first = await statusOf(url);
    const self = Buffer.from(registrant!.publicKey).toString("hex");
    assert.equal(first.publicKey, self);
    // It waits unless the epoch that lists it is configured already (then it may be entering by now).
    assert.ok(first.role === "registrant" || first.role === "validator", `a new key starts waiting: ${JSON.stringify(first)}`);

    assert.ok(await until(async () => (await statusOf(url)).role === "validator", 50_000),
      `the registrant enters an epoch: ${JSON.stringify(await statusOf(url))}; its log: ${registrantNode.stderr.slice(-2000)}`);
    const entered = await statusOf(url);
    assert.ok(entered.epoch >= 1);
    const chain = await new ApiClient(url).identityChain();
    const contexts = verifyIdentityChain(devnet.genesis, decodeIdentityChain(chain));
    const context = contexts[entered.epoch]!;
    assert.equal(entered.shard, context.shardOf(registrant!.publicKey), "it serves the shard its epoch assigns");
    // The epoch it entered, from its NODE_ENTERED notice: epochs of 8 heights pass every few seconds, so its status may be later.
    const notice = /"code":"NODE_ENTERED","epoch":(\d+)/.exec(registrantNode.stdout + registrantNode.stderr);
    assert.ok(notice !== null, `it logs NODE_ENTERED: ${registrantNode.stderr.slice(-2000)}`);
    const enteredAt = Number(notice[1]);
    // The first epoch that lists it, or a later one: with no rest at epoch ends, epochs of 8 heights may pass before its process
    // catches up, and a node enters the latest configured epoch (a seat of an epoch that ended meanwhile is not taken back).
    const firstListing = contexts.findIndex((c) => c.shardOf(registrant!.publicKey) !== undefined);
    assert.ok(firstListing >= 1 && enteredAt >= firstListing && contexts[enteredAt]!.shardOf(registrant!.publicKey) !== undefined,
      `it entered an epoch that lists it, none before the first one that does (entered ${enteredAt}, first listing ${firstListing})`);
    // From its empty data directory it joined the shard at an MSB (msb-join): a certified header, its body by chunks, then the
    // blocks after it. Its log, not its status: epochs pass every few seconds, so its status may already show a later switch.
    const log = registrantNode.stdout + registrantNode.stderr;
    const joined = /"code":"NODE_MSB_JOINED","shard":0,"epoch":(\d+),"height":(\d+),"bytes":(\d+),"outputs":(\d+)/.exec(log);
    assert.ok(joined !== null, `it bootstrapped the shard from an MSB: ${JSON.stringify(entered.lastSwitch)}; its log: ${log.slice(-2000)}`);
    const [msbEpoch, msbHeight, , outputs] = joined.slice(1).map(Number) as [number, number, number, number];
    assert.equal(msbHeight, (msbEpoch + 1) * L, "the MSB of an epoch sits at that epoch's last height");
    assert.ok(outputs > 0, "the MSB body held the shard's outputs");
    assert.doesNotMatch(log, /"code":"NODE_MSB_JOIN_FAILED"/, "no bootstrap attempt failed");
    assert.match(registrantNode.stderr, /"code":"NODE_WAITING"/, "it logged that it waits");
    assert.match(registrantNode.stderr, /"code":"NODE_ENTERED"/, "it logged its entry");

    // The shard finalizes with it: heights past the epoch's start on it and on a devnet validator, the same blocks.
    const target = context.startHeight + AFTER_ENTRY;
    const tips = async () => [await statusOf(url), await statusOf(entry.http)].map((s) => s.tip.height);
    assert.ok(await until(async () => (await tips()).every((tip) => tip >= target), 30_000), `the shard passes height ${target}: ${JSON.stringify(await tips())}`);
    const blockAt = async (node: string) => (await (await fetch(`${node}/v1/block/${target}`)).json()) as { hash: string };
    assert.equal((await blockAt(url)).hash, (await blockAt(entry.http)).hash, "one chain");
    assert.equal(registrantNode.child.exitCode, null, "the registrant's node runs");

    // The load ran through the registration and the entry: every transfer final, none lost; the supply less one fee each.
    const { run } = await loading;
    const m = run.report.metrics;
    // A failure's message: the first transfers left open, where each devnet validator and the registrant (no endpoint of the load) see them.
    const atRegistrant = await Promise.all((run.unsettled ?? []).slice(0, 4).map((t) => new ApiClient(url).transaction(t.txid).then((s) => s.state, (e: Error) => e.message)));
    const summary = JSON.stringify({ end: run.end, totals: m.totals, rejected: m.rejectedByCode, resent: m.resentByCause, unsettled: run.unsettled?.slice(0, 4), atRegistrant });
    assert.equal(run.end, "settled", summary);
    assert.deepEqual([m.totals.submitted, m.totals.final, m.totals.rejected, m.totals.unsettled], [TRANSFERS, TRANSFERS, 0, 0], summary);
    const supplies = async () => (await Promise.all([url, entry.http].map(async (node) => (await new ApiClient(node).status()) as unknown as { supply: string; tip: { height: number } })));
    // The quiet end of the run leaves only empty heights: both reach one supply once at the same height.
    assert.ok(await until(async () => new Set((await supplies()).map((s) => s.supply)).size === 1, 30_000), `one supply: ${JSON.stringify(await supplies())}`);
    assert.equal(BigInt((await supplies())[0]!.supply), genesisSupply(devnet.genesis) - BigInt(TRANSFERS),
      "the chain keeps its supply less the load's fees (a registration pays no fee; its bond stays an output)");
  }));
});
