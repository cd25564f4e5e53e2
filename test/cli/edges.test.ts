/**
 * The CLI against careless input (issue 17), run as a child process: coded errors and exit
 * codes, validation before any work or output, and no output path under /proc, /sys or /dev.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseGenesis } from "../../src/ledger/genesis.js";
import { ios, type RunResult } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "ios-cli-edges-"));
const net = join(dir, "net");
before(async () => {
  const made = await ios(["genesis", "--shards", "2", "--validators-per-shard", "2", "--accounts", "8", "--seed", "edges", "--out", net]);
  assert.equal(made.code, 0, made.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A refusal: exit 2, one coded error line, nothing on stdout. */
function assertUsage(run: RunResult, code: string, pattern: RegExp): void {
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, new RegExp(`^error ${code}: `));
  assert.match(run.stderr, pattern);
  assert.equal(run.stdout, "");
}

describe("ios against careless input", { timeout: 60_000 }, () => {
  it("refuses output paths under /proc, /sys and /dev, also through a symbolic link, before any mkdir", async () => {
    const link = join(dir, "to-proc");
    symlinkSync("/proc", link);
    const cases: [string[], RegExp][] = [
      [["genesis", "--shards", "1", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", "/proc/ios-test/net"], /--out \/proc\/ios-test\/net is under \/proc/],
      [["keys", "new", "--out", "/sys/ios-test/key.json"], /--out \/sys\/ios-test\/key\.json is under \/sys/],
      [["keys", "new", "--out", join(link, "ios-test", "key.json")], /is under \/proc \(it resolves to \/proc\/ios-test\/key\.json\)/],
      [["devnet", "--shards", "1", "--validators-per-shard", "1", "--believable", "0", "--dir", "/proc/self/ios-devnet"], /--dir \/proc\/self\/ios-devnet is under \/proc/],
      [["load", "--devnet", "/nonexistent", "--tx", "1", "--rate", "1", "--report", "/dev/ios-report"], /--report \/dev\/ios-report is under \/dev/],
      [["load", "--devnet", "/nonexistent", "--tx", "1", "--rate", "1", "--save", "/dev/null"], /--save \/dev\/null is under \/dev/],
      [["start", "--report", "/proc/ios-report"], /--report \/proc\/ios-report is under \/proc/],
    ];
    for (const [args, pattern] of cases) assertUsage(await ios(args), "CLI_BAD_PATH", pattern);
  });

  it("a missing --replay file is a coded error without a stack trace", async () => {
    const run = await ios(["load", "--endpoints", "ws://127.0.0.1:9/v1/stream", "--endpoints", "ws://127.0.0.1:10/v1/stream", "--genesis", join(net, "genesis.json"), "--replay", join(dir, "missing.bin"), "--rate", "10"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^error LOAD_FILE_UNREADABLE: load file .*missing\.bin does not exist\n$/);
  });

  it("a negative number is refused for its value, not as an ambiguous argument", async () => {
    const run = await ios(["genesis", "--shards", "-3", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", join(dir, "neg")]);
    assertUsage(run, "CLI_USAGE", /--shards must be an integer in \[1, 1024\], got "-3"/);
    assert.doesNotMatch(run.stderr, /ambiguous/);
  });

  it("keys show validates --shards before printing the key", async () => {
    assertUsage(await ios(["keys", "show", join(net, "validator-0.key.json"), "--shards", "0"]), "CLI_USAGE", /--shards must be an integer in \[1, 1024\], got "0"/);
  });

  it("a repeated option is refused rather than silently taking its last value", async () => {
    const run = await ios(["genesis", "--shards", "1", "--shards", "2", "--validators", "2", "--accounts", "1", "--seed", "s", "--out", join(dir, "twice")]);
    assertUsage(run, "CLI_USAGE", /--shards is given more than once \("1" and "2"\); give it once/);
    assert.equal(existsSync(join(dir, "twice")), false);
    assertUsage(await ios(["keys", "new", "--force", "--force", "--out", join(dir, "k.json")]), "CLI_USAGE", /--force is given more than once; give it once/);
  });

  it("load checks --endpoints before signing anything, and exits 2", async () => {
    const started = Date.now();
    const run = await ios(["load", "--endpoints", "ws://127.0.0.1:9/v1/stream,ws://127.0.0.1:10/v1/stream", "--endpoints", "ws://127.0.0.1:9/v1/stream", "--genesis", join(net, "genesis.json"), "--account-seed", "edges", "--accounts", "8", "--tx", "200000", "--rate", "100"]);
    assertUsage(run, "CLI_USAGE", /--endpoints: an endpoint is listed twice/);
    assert.ok(Date.now() - started < 10_000, "refused before signing 200,000 transfers");
    assertUsage(await ios(["load", "--endpoints", "http://127.0.0.1:9/", "--endpoints", "ws://127.0.0.1:9/v1/stream", "--genesis", join(net, "genesis.json"), "--account-seed", "edges", "--accounts", "8", "--tx", "1", "--rate", "1"]), "CLI_USAGE", /"http:\/\/127\.0\.0\.1:9\/" is not a stream URL/);
  });

  it("genesis and devnet take --epoch-length L into the genesis, and refuse a length outside 1..2^32 − 1 before any work", async () => {
    const out = join(dir, "epochs");
    const run = await ios(["genesis", "--shards", "2", "--validators", "2", "--accounts", "1", "--seed", "s", "--epoch-length", "50", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^epochs: 50 final block\(s\) per shard each$/m);
    const { readFileSync } = await import("node:fs");
    assert.equal(parseGenesis(readFileSync(join(out, "genesis.json"), "utf8")).epochLength, 50);
    const endless = await ios(["genesis", "--shards", "1", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", join(dir, "endless")]);
    assert.match(endless.stdout, /^epochs: one endless epoch$/m);
    assert.equal("epochLength" in parseGenesis(readFileSync(join(dir, "endless", "genesis.json"), "utf8")), false);
    for (const bad of ["0", "-1", "1.5", "ten", "4294967296"]) {
      const refused = join(dir, `bad-epochs-${bad}`);
      assertUsage(await ios(["genesis", "--shards", "1", "--validators", "1", "--accounts", "1", "--seed", "s", "--epoch-length", bad, "--out", refused]), "CLI_USAGE", /--epoch-length must be an integer in \[1, 4294967295\]/);
      assert.equal(existsSync(refused), false, `nothing written for --epoch-length ${bad}`);
      const devnetDir = join(dir, `bad-devnet-${bad}`);
      assertUsage(await ios(["devnet", "--shards", "1", "--validators-per-shard", "1", "--believable", "0", "--epoch-length", bad, "--dir", devnetDir]), "CLI_USAGE", /--epoch-length must be an integer in \[1, 4294967295\]/);
      assert.equal(existsSync(devnetDir), false, `no devnet started for --epoch-length ${bad}`);
    }
  });

  it("genesis and devnet size a network with the same two options", async () => {
    const perShard = await ios(["genesis", "--shards", "2", "--validators-per-shard", "3", "--accounts", "1", "--seed", "s", "--out", join(dir, "k3")]);
    assert.equal(perShard.code, 0, perShard.stderr);
    const { readFileSync } = await import("node:fs");
    assert.equal(parseGenesis(readFileSync(join(dir, "k3", "genesis.json"), "utf8")).validators.length, 6);
    assertUsage(await ios(["genesis", "--shards", "2", "--validators", "4", "--validators-per-shard", "2", "--accounts", "1", "--seed", "s", "--out", join(dir, "both")]), "CLI_USAGE", /give exactly one of --validators N \(all validators\) and --validators-per-shard K/);
    assertUsage(await ios(["devnet", "--shards", "2", "--validators", "3", "--believable", "0"]), "CLI_USAGE", /--validators 3 does not split evenly over 2 shards/);
    assertUsage(await ios(["devnet", "--shards", "2", "--believable", "0"]), "CLI_USAGE", /give exactly one of --validators N/);
  });
});
