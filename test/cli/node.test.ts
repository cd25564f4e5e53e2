import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { loadKeyFile } from "../../src/node/config.js";
import { SOCKET_FILE, socketDirectoryOf } from "../../src/node/socket-dir.js";
import { ios, IosProcess, singleValidatorConfig, startValidator } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "ios-cli-node-"));
const running: IosProcess[] = [];
after(async () => {
  for (const p of running) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

const makeDevnet = (): Promise<string> => singleValidatorConfig(dir, "cli-node", 4, 1000);
const startNode = (config: string, options: readonly string[] = []): Promise<{ process: IosProcess; url: string }> => startValidator(config, running, options);

describe("ios node with the client commands", () => {
  it("sends a payment, shows balances and status, stops cleanly and keeps state across a restart (with --no-prune, shown in its status)", async () => {
    const config = await makeDevnet();
    const alice = join(dir, "account-0.key.json");
    const bob = Buffer.from(loadKeyFile(join(dir, "account-1.key.json")).publicKey).toString("hex");
    const aliceKey = Buffer.from(loadKeyFile(alice).publicKey).toString("hex");

    let node = await startNode(config);
    const status = await ios(["status", "--node", node.url]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).shard, 0);
    assert.equal(JSON.parse(status.stdout).prunes, true, "pruning is on by default");

    const sent = await ios(["tx", "send", "--from", alice, "--to", bob, "--amount", "250", "--node", node.url, "--wait"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /txid [0-9a-f]{64} accepted\nfinal at height \d+ index 0 block [0-9a-f]{64}/);
    assert.match((await ios(["balance", bob, "--node", node.url])).stdout, /^1250 in 2 output\(s\) \(shard 0, height \d+\)/);
    assert.match((await ios(["balance", aliceKey, "--node", node.url])).stdout, /^750 in 1 output\(s\)/);

    const poor = await ios(["tx", "send", "--from", alice, "--to", bob, "--amount", "100000", "--node", node.url]);
    assert.equal(poor.code, 1);
    assert.match(poor.stderr, /error CLI_INSUFFICIENT_FUNDS: .* can gather 750 from 1 output\(s\), short of 100000/);

    assert.equal(await node.process.stop(), 0);
    assert.match(node.process.stdout, /stopped/);

    node = await startNode(config, ["--no-prune"]);
    assert.match((await ios(["balance", bob, "--node", node.url])).stdout, /^1250 in 2 output\(s\)/);
    assert.equal(JSON.parse((await ios(["status", "--node", node.url])).stdout).prunes, false, "--no-prune keeps every height");
    assert.equal(await node.process.stop(), 0);
  });

  it("takes back the socket directory a SIGKILLed validator left, refuses a second validator on its data directory (NODE_DATA_DIR_IN_USE) and removes the directory when it stops", async () => {
    const home = join(dir, "socket");
    mkdirSync(home);
    const config = await singleValidatorConfig(home, "cli-node-socket", 2, 1000);
    const settings = JSON.parse(readFileSync(config, "utf8")) as { dataDir: string };
    const socketDir = socketDirectoryOf(resolve(dirname(config), settings.dataDir));

    const killed = await startNode(config);
    assert.ok(existsSync(join(socketDir, SOCKET_FILE)), `the client socket lies in ${socketDir}`);
    killed.process.child.kill("SIGKILL");
    await killed.process.exited;
    assert.ok(existsSync(socketDir), "a validator killed without its stop leaves its socket directory");

    const node = await startNode(config);
    assert.equal((await ios(["status", "--node", node.url])).code, 0, "the restarted validator serves its clients through the directory it took back");

    // Same data directory, its own (ephemeral) ports: refused before it opens anything.
    const rivalConfig = join(home, "rival.config.json");
    writeFileSync(rivalConfig, readFileSync(config));
    const rival = new IosProcess(["node", "--config", rivalConfig]);
    running.push(rival);
    const listened = await rival.waitFor(/listening on/).then(() => true, () => false);
    assert.equal(listened, false, "a second validator on the data directory does not start");
    assert.equal(await rival.exited, 1, rival.stdout);
    assert.match(rival.stderr, /NODE_DATA_DIR_IN_USE: another validator runs on the data directory/);
    const status = await ios(["status", "--node", node.url]);
    assert.equal(status.code, 0, `the running validator keeps serving: ${status.stderr}`);
    assert.ok(existsSync(join(socketDir, SOCKET_FILE)), "the refused start left the running validator's socket alone");

    assert.equal(await node.process.stop(), 0);
    assert.ok(!existsSync(socketDir), "a stop removes the socket directory");
  });
});
