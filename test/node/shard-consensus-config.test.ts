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
  shard: 0,
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
  });

  it("ios genesis --consensus bft writes it into every configuration; a bft validator must serve its own shard", async () => {
    const out = join(directory, "net");
    const made = await ios(["genesis", "--shards", "2", "--validators", "4", "--accounts", "4", "--seed", "consensus config", "--out", out, "--consensus", "bft"]);
    assert.equal(made.code, 0, made.stderr);
    for (let i = 0; i < 4; i++) {
      const setup = loadNodeSetup(join(out, `validator-${i}.config.json`));
      assert.equal(setup.config.consensus.mode, "bft");
      assert.equal(setup.config.shard, i % 2);
    }
    const file = join(out, "validator-1.config.json");
    const moved = JSON.parse(readFileSync(file, "utf8")) as { shard: number };
    moved.shard = 0;
    writeFileSync(file, JSON.stringify(moved));
    assert.throws(() => loadNodeSetup(file), { code: "CONFIG_BAD_FIELD", message: /not a validator of shard 0/ });
    const wrong = await ios(["genesis", "--shards", "1", "--validators", "1", "--accounts", "1", "--seed", "s", "--out", join(directory, "other"), "--consensus", "raft"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /--consensus must be solo, bft or pob/);
  });
});
