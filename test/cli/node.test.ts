import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadKeyFile } from "../../src/node/config.js";
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
});
