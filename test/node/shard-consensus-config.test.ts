/** Consensus settings in node configurations and `ios genesis --consensus`. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadNodeSetup, parseNodeConfig } from "../../src/node/config.js";
import { ios } from "../cli/helpers.js";

const base = {
  version: 1,
  genesis: "genesis.json",
  key: "validator-0.key.json",
  dataDir: "data",
  listen: { host: "127.0.0.1", port: 0 },
  peers: [],
};
const parse = (extra: Record<string, unknown>) => parseNodeConfig(JSON.stringify({ ...base, ...extra }), "/tmp/node.json");

describe("consensus configuration", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-consensus-config-"));
  after(() => rmSync(directory, { recursive: true, force: true }));

  it("defaults to solo and parses the bft settings strictly", () => {
    assert.deepEqual(parse({}).consensus, { mode: "solo" });
    assert.deepEqual(parse({ consensus: { mode: "bft", viewTimeoutMs: 1500, idleBlockMs: 100, maxBlockTxs: 2048 } }).consensus, {
      mode: "bft",
      viewTimeoutMs: 1500,
      idleBlockMs: 100,
      maxBlockTxs: 2048,
    });
    assert.throws(() => parse({ consensus: { mode: "pow" } }), { code: "CONFIG_BAD_FIELD", message: /\$\.consensus\.mode/ });
    assert.throws(() => parse({ consensus: {} }), { code: "CONFIG_MISSING_FIELD", message: /\$\.consensus\.mode/ });
    assert.throws(() => parse({ consensus: { mode: "bft", leader: 1 } }), { code: "CONFIG_UNKNOWN_FIELD", message: /\$\.consensus\.leader/ });
    assert.throws(() => parse({ consensus: { mode: "bft", viewTimeoutMs: 5 } }), { code: "CONFIG_BAD_FIELD", message: /viewTimeoutMs/ });
    assert.throws(() => parse({ consensus: { mode: "bft", maxBlockTxs: 100_000 } }), { code: "CONFIG_BAD_FIELD", message: /maxBlockTxs/ });
    assert.deepEqual(parse({ consensus: { mode: "pob", epochDeltaMs: 750 } }).consensus, { mode: "pob", epochDeltaMs: 750 });
    for (const epochDeltaMs of [5, 60_001, 1.5]) assert.throws(() => parse({ consensus: { mode: "pob", epochDeltaMs } }), { code: "CONFIG_BAD_FIELD", message: /epochDeltaMs/ });
    for (const minHeightIntervalMs of [0, 150, 60_000]) assert.deepEqual(parse({ consensus: { mode: "pob", minHeightIntervalMs } }).consensus, { mode: "pob", minHeightIntervalMs });
    for (const minHeightIntervalMs of [-1, 60_001, 1.5, "150"]) assert.throws(() => parse({ consensus: { mode: "pob", minHeightIntervalMs } }), { code: "CONFIG_BAD_FIELD", message: /minHeightIntervalMs/ });
    assert.throws(() => parse({ consensus: { mode: "bft", minHeightIntervalMs: 150 } }), { code: "CONFIG_BAD_FIELD", message: /minHeightIntervalMs applies to "pob" consensus only/ });
  });

  it("ios genesis --consensus bft writes it into every configuration; each validator's address book lists every other validator", async () => {
    const out = join(directory, "net");
    const made = await ios(["genesis", "--shards", "2", "--validators", "4", "--accounts", "4", "--seed", "consensus config", "--out", out, "--consensus", "bft"]);
    assert.equal(made.code, 0, made.stderr);
    for (let i = 0; i < 4; i++) {
      const setup = loadNodeSetup(join(out, `validator-${i}.config.json`));
      assert.equal(setup.config.consensus.mode, "bft");
      const self = Buffer.from(setup.key.publicKey).toString("hex");
      const shardMates = setup.context.members(setup.shard).map((k) => Buffer.from(k).toString("hex")).filter((k) => k !== self);
      assert.equal(shardMates.length, 1, "4 validators over 2 shards: 2 per shard");
      const everyOther = setup.context.validators.map((v) => Buffer.from(v.publicKey).toString("hex")).filter((k) => k !== self);
      assert.deepEqual(setup.config.peers.map((p) => p.publicKey).sort(), everyOther.sort());
    }
    // A configuration that still names its shard is refused: the epoch context decides it.
    const file = join(out, "validator-1.config.json");
    const stale = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...stale, shard: 0 }));
    assert.throws(() => loadNodeSetup(file), { code: "CONFIG_OBSOLETE_FIELD", message: /epoch assignment/ });
    writeFileSync(file, JSON.stringify(stale));
    const wrong = await ios(["genesis", "--shards", "1", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", join(directory, "other"), "--consensus", "raft"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /--consensus must be solo, bft or pob/);
  });

  it("ios genesis --consensus pob writes the sharding policy into the genesis; a pob validator needs one", async () => {
    const out = join(directory, "pob");
    const made = await ios(["genesis", "--shards", "1", "--validators", "7", "--accounts", "4", "--seed", "pob config", "--out", out, "--consensus", "pob", "--believable", "2", "--sampling-p", "0.25"]);
    assert.equal(made.code, 0, made.stderr);
    const setup = loadNodeSetup(join(out, "validator-0.config.json"));
    assert.equal(setup.config.consensus.mode, "pob");
    assert.deepEqual(
      [setup.genesis.pob?.believableLeagueSize, setup.genesis.pob?.normalLeagueSize, setup.genesis.pob?.samplingProbability, setup.genesis.pob?.minBelievableSize],
      [2, 5, 0.25, 1],
    );
    const tooMany = await ios(["genesis", "--shards", "1", "--validators", "4", "--accounts", "1", "--seed", "s", "--out", join(directory, "pob2"), "--consensus", "pob", "--believable", "2"]);
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.stderr, /--believable must be an integer in \[0, 1\]/);
    const badP = await ios(["genesis", "--shards", "1", "--validators", "4", "--accounts", "1", "--seed", "s", "--out", join(directory, "pob3"), "--consensus", "pob", "--sampling-p", "1.5"]);
    assert.equal(badP.code, 2);
    assert.match(badP.stderr, /--sampling-p must be a number in \(0, 1\]/);
    // A pob configuration over a genesis without a policy is refused with the file named.
    const plain = join(directory, "net");
    const file = join(plain, "validator-0.config.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as { consensus?: { mode: string } };
    config.consensus = { mode: "pob" };
    writeFileSync(file, JSON.stringify(config));
    assert.throws(() => loadNodeSetup(file), { code: "CONFIG_BAD_FIELD", message: /has no "pob" policy/ });
  });
});
