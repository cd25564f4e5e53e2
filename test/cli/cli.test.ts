import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseGenesis } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { loadKeyFile, loadNodeSetup } from "../../src/node/config.js";
import { IOS, IOS_TIMEOUT_MS, ios } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "ios-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("ios command", () => {
  it("prints help for every command and exits 0", async () => {
    for (const args of [["--help"], ["keys", "--help"], ["keys", "new", "--help"], ["keys", "show", "--help"], ["genesis", "--help"], ["node", "--help"], ["tx", "send", "--help"], ["balance", "--help"], ["status", "--help"], ["start", "--help"]]) {
      const run = await ios(args);
      assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stdout, /^usage: ios/);
    }
  });

  it("exits 2 with an actionable message on usage errors", async () => {
    const none = await ios([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: ios <command>/);
    const unknown = await ios(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /error CLI_USAGE: unknown command "frobnicate" for ios\nhint: run `ios --help`/);
    const missing = await ios(["keys", "new"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error CLI_USAGE: --out is required/);
    const badOption = await ios(["genesis", "--shards", "2", "--bogus"]);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /error CLI_USAGE: Unknown option '--bogus'/);
    const badNumber = await ios(["genesis", "--shards", "0", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", dir]);
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.stderr, /--shards must be an integer in \[1, 1024\], got "0"/);
    const badKey = await ios(["balance", "abc"]);
    assert.equal(badKey.code, 2);
    assert.match(badKey.stderr, /PK must be a public key of 64 hex digits/);
  });

  it("keys new writes a private key file that keys show reads back", async () => {
    const file = join(dir, "alice.key.json");
    const created = await ios(["keys", "new", "--out", file]);
    assert.equal(created.code, 0, created.stderr);
    const publicKey = /public key ([0-9a-f]{64})/.exec(created.stdout)![1]!;
    assert.equal(Buffer.from(loadKeyFile(file).publicKey).toString("hex"), publicKey);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const shown = await ios(["keys", "show", file, "--shards", "4"]);
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, new RegExp(`public key ${publicKey}\\nshard ${shardOfOwner(Buffer.from(publicKey, "hex"), 4)} of 4`));
    const again = await ios(["keys", "new", "--out", file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error CLI_FILE_EXISTS: .* already exists; choose another path or pass --force/);
    const missing = await ios(["keys", "show", join(dir, "nope.json")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error CONFIG_NOT_FOUND: key file .*nope\.json does not exist/);
  });

  it("genesis writes a consistent set of genesis, keys and node configurations", async () => {
    const out = join(dir, "net");
    const run = await ios(["genesis", "--shards", "2", "--validators", "3", "--accounts", "5", "--seed", "cli-test", "--out", out, "--amount", "500", "--base-port", "9100"]);
    assert.equal(run.code, 0, run.stderr);
    const genesis = parseGenesis(readFileSync(join(out, "genesis.json"), "utf8"));
    assert.equal(genesis.shardCount, 2);
    assert.equal(genesis.validators.length, 3);
    assert.equal(genesis.outputs.length, 5);
    assert.ok(genesis.outputs.every((o) => o.amount === 500n));
    const keys = genesis.validators.map((v) => Buffer.from(v.publicKey).toString("hex"));
    const sizes = [0, 0];
    for (let i = 0; i < 3; i++) {
      const setup = loadNodeSetup(join(out, `validator-${i}.config.json`));
      sizes[setup.shard]!++;
      // Of 3 validators, validator i serves clients on 9100 + i and peers on 9100 + 3 + i.
      assert.deepEqual(setup.config.listen, { host: "127.0.0.1", port: 9100 + i, peerPort: 9103 + i });
      assert.match(run.stdout, new RegExp(`validator ${i}: shard ${setup.shard}, port ${9100 + i}, peer port ${9103 + i}, key ${keys[i]}`));
      // Peers: an address book of every other validator, each at its peer port.
      const others = keys.filter((k) => k !== keys[i]);
      assert.deepEqual(setup.config.peers, others.map((k) => ({ publicKey: k, url: `ws://127.0.0.1:${9103 + keys.indexOf(k)}/peer` })));
    }
    assert.deepEqual(sizes.sort(), [1, 2], "3 validators over 2 shards: buckets of ⌊3/2⌋ and ⌈3/2⌉");
    const account = loadKeyFile(join(out, "account-0.key.json"));
    assert.deepEqual(account.publicKey, genesis.outputs[0]!.owner);
    const refused = await ios(["genesis", "--shards", "3", "--validators", "2", "--accounts", "1", "--seed", "x", "--out", join(dir, "n2")]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--validators \(2\) must be at least --shards \(3\)/);
  });

  it("queues no optimizing compile job in a one-shot command, whose exit could hang joining it; a long-running command still optimizes", () => {
    // V8's --trace-opt prints a line for every function it hands to an optimizing compiler.
    const optimizingJobs = (args: readonly string[], exit: number): number => {
      const run = spawnSync(process.execPath, ["--trace-opt", IOS, ...args], { encoding: "utf8", timeout: IOS_TIMEOUT_MS });
      assert.equal(run.status, exit, run.stderr);
      return run.stdout.split("\n").filter((line) => /^\[compiling method .*\(target TURBOFAN\)/.test(line)).length;
    };
    const key = join(dir, "one-shot.key.json");
    assert.equal(optimizingJobs(["keys", "new", "--out", key], 0), 0);
    assert.equal(optimizingJobs(["vrf", "prove", "--key", key, "--alpha", "72"], 0), 0);
    assert.equal(optimizingJobs(["genesis", "--shards", "1", "--validators", "1", "--accounts", "200", "--seed", "one-shot", "--out", join(dir, "one-shot")], 0), 0);
    assert.ok(optimizingJobs(["node", "--config", join(dir, "absent.json")], 1) > 0);
  });

  it("node refuses a bad configuration with a precise message and exit 1", async () => {
    const out = join(dir, "net");
    const bad = join(dir, "bad.config.json");
    const text = readFileSync(join(out, "validator-0.config.json"), "utf8").replace('"port": 9100', '"port": "9100"');
    (await import("node:fs")).writeFileSync(bad, text.replace('"genesis": "genesis.json"', `"genesis": "${join(out, "genesis.json")}"`));
    const run = await ios(["node", "--config", bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /error CONFIG_BAD_FIELD: .*bad\.config\.json: \$\.listen\.port must be an integer in \[0, 65535\], got "9100"/);
    assert.match(run.stderr, /hint: fix the file named above/);
  });

  it("client commands report an unreachable node with exit 1", async () => {
    const run = await ios(["status", "--node", "http://127.0.0.1:9"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /error API_UNREACHABLE: cannot reach the node at http:\/\/127\.0\.0\.1:9/);
  });
});
