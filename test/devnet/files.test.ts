/** `writeDevnetFiles`: one write of a devnet's genesis, keys and configurations, shards from the epoch context. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { devnetPobPolicy } from "../../src/devnet/consensus-mode.js";
import { portsFromBase, writeDevnetFiles, type DevnetFilesOptions } from "../../src/devnet/files.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { deriveTestAccounts, genesisTxid, parseGenesis } from "../../src/ledger/genesis.js";
import { startDevnet } from "../../src/devnet/launcher.js";
import { loadKeyFile, loadNodeSetup } from "../../src/node/config.js";

const root = mkdtempSync(join(tmpdir(), "ios-devnet-files-"));
after(() => rmSync(root, { recursive: true, force: true }));

function options(dir: string, extra: Partial<DevnetFilesOptions> = {}): DevnetFilesOptions {
  const validators = extra.validators ?? 6;
  return {
    dir,
    seed: "devnet files",
    shards: 2,
    validators,
    accounts: 5,
    amount: 700n,
    timestamp: 1_700_000_000_000,
    host: "127.0.0.1",
    ports: Array.from({ length: validators }, (_, i) => 20_000 + 3 * i),
    peerPorts: Array.from({ length: validators }, (_, i) => 21_000 + 3 * i),
    consensus: "bft",
    ...extra,
  };
}

const coded = (code: string) => (error: unknown) => error instanceof IosError && error.code === code;

describe("writeDevnetFiles", () => {
  it("writes a genesis, keys and configurations that load into setups on the shards the epoch context deals", () => {
    const dir = join(root, "bft");
    const layout = writeDevnetFiles(options(dir, { pipeline: { workers: 2, blockIntervalMs: 40 }, accountKeyFiles: 2 }));
    assert.deepEqual(layout.context.chain, genesisTxid(layout.genesis));
    assert.deepEqual(layout.accounts.map((a) => toHex(a.publicKey)), deriveTestAccounts("devnet files", 5).map((a) => toHex(a.publicKey)));
    assert.deepEqual(layout.accountKeyFiles, [join(dir, "account-0.key.json"), join(dir, "account-1.key.json")]);
    const perShard = [0, 0];
    for (const v of layout.validators) {
      const setup = loadNodeSetup(v.configFile);
      assert.equal(setup.shard, v.shard, `validator ${v.index}: the layout names the shard the node will serve`);
      assert.equal(toHex(setup.key.publicKey), v.publicKey);
      assert.equal(toHex(loadKeyFile(v.keyFile).publicKey), v.publicKey);
      assert.deepEqual(setup.config.listen, { host: "127.0.0.1", port: 20_000 + 3 * v.index, peerPort: 21_000 + 3 * v.index });
      assert.deepEqual([v.port, v.peerPort], [20_000 + 3 * v.index, 21_000 + 3 * v.index]);
      assert.deepEqual(setup.config.pipeline, { workers: 2, blockIntervalMs: 40 });
      assert.equal(setup.config.consensus.mode, "bft");
      assert.equal(setup.config.dataDir, v.dataDir);
      // Peers: the address book of every other validator, each at the peer port it listens on.
      const others = layout.validators.map((w) => w.publicKey).filter((k) => k !== v.publicKey);
      assert.deepEqual(setup.config.peers, others.map((k) => {
        const peer = layout.validators.find((w) => w.publicKey === k)!;
        return { publicKey: k, url: `ws://127.0.0.1:${peer.peerPort}/peer` };
      }));
      perShard[v.shard]!++;
    }
    assert.deepEqual(perShard, [3, 3], "6 validators over 2 shards: 3 each");
    assert.ok(!("shard" in JSON.parse(readFileSync(layout.validators[0]!.configFile, "utf8"))), "configurations name no shard");
    assert.deepEqual(genesisEpochContext(layout.genesis).members(0), layout.context.members(0), "a node rebuilding the context from the file agrees");
  });

  it("writes the PoB policy into the genesis and mode pob into every configuration", () => {
    const pob = devnetPobPolicy({ validatorsPerShard: 4, believable: 1 });
    const layout = writeDevnetFiles(options(join(root, "pob"), { validators: 8, consensus: "pob", pob }));
    assert.deepEqual(layout.genesis.pob, pob);
    for (let shard = 0; shard < 2; shard++) {
      const leagues = layout.context.leagues(shard);
      assert.deepEqual([leagues.mode, leagues.believable.length, leagues.normal.length], ["two-league", 1, 3]);
    }
    for (const v of layout.validators) assert.equal(loadNodeSetup(v.configFile).config.consensus.mode, "pob");
    const spaced = writeDevnetFiles(options(join(root, "pob-spaced"), { validators: 8, consensus: "pob", pob, minHeightIntervalMs: 0 }));
    for (const v of spaced.validators) assert.deepEqual(loadNodeSetup(v.configFile).config.consensus, { mode: "pob", minHeightIntervalMs: 0 });
    assert.throws(() => writeDevnetFiles(options(join(root, "pob-without"), { consensus: "pob" })), coded("DEVNET_BAD_OPTION"));
  });

  it("writes the epoch length into the genesis, where the epoch context reads it; the launcher refuses a bad one first", async () => {
    const layout = writeDevnetFiles(options(join(root, "epochs"), { epochLength: 7 }));
    assert.equal(layout.genesis.epochLength, 7);
    assert.equal(layout.context.epochLength, 7);
    assert.equal(parseGenesis(readFileSync(layout.genesisFile, "utf8")).epochLength, 7);
    assert.equal(writeDevnetFiles(options(join(root, "endless"))).context.epochLength, undefined);
    assert.throws(() => writeDevnetFiles(options(join(root, "epochs-zero"), { epochLength: 0 })), coded("GENESIS_BAD_FIELD"));
    assert.equal(existsSync(join(root, "epochs-zero")), false);
    for (const epochLength of [0, 2.5, 2 ** 32]) {
      const dir = join(root, `launch-${epochLength}`);
      await assert.rejects(startDevnet({ shards: 1, validatorsPerShard: 1, believable: 0, dir, seed: "x", accounts: 1, epochLength }), coded("DEVNET_BAD_OPTION"));
      assert.equal(existsSync(dir), false);
    }
    // The heights' spacing: PoB devnets only, 0..MAX_BLOCK_INTERVAL_MS; refused before anything is written.
    const spacings = [
      { validatorsPerShard: 4, believable: 0, minHeightIntervalMs: 150 },
      { validatorsPerShard: 1, believable: 1, minHeightIntervalMs: 150 },
      { validatorsPerShard: 5, believable: 1, minHeightIntervalMs: -1 },
      { validatorsPerShard: 5, believable: 1, minHeightIntervalMs: 1.5 },
      { validatorsPerShard: 5, believable: 1, minHeightIntervalMs: 60_001 },
    ];
    for (const [i, spacing] of spacings.entries()) {
      const dir = join(root, `spacing-${i}`);
      await assert.rejects(startDevnet({ shards: 1, dir, seed: "x", accounts: 1, ...spacing }), (error: IosError) => error.code === "DEVNET_BAD_OPTION" && /minHeightIntervalMs/.test(error.message));
      assert.equal(existsSync(dir), false);
    }
  });

  it("refuses what it cannot write before writing anything", () => {
    const few = join(root, "few");
    assert.throws(() => writeDevnetFiles(options(few, { shards: 3, validators: 2 })), coded("EPOCH_TOO_FEW_VALIDATORS"));
    assert.equal(existsSync(few), false, "no file of a refused devnet");
    const ports = join(root, "ports");
    assert.throws(() => writeDevnetFiles({ ...options(ports), ports: [1, 2] }), coded("DEVNET_BAD_OPTION"));
    assert.throws(() => writeDevnetFiles({ ...options(ports), peerPorts: [1, 2] }), coded("DEVNET_BAD_OPTION"));
    const clash = options(ports);
    assert.throws(() => writeDevnetFiles({ ...clash, peerPorts: [clash.ports[0]!, ...clash.peerPorts.slice(1)] }), coded("DEVNET_BAD_OPTION"), "a peer port equal to a client port");
    assert.equal(existsSync(ports), false);
  });

  it("lays ports out from a base: clients on base + i, peers on base + N + i", () => {
    assert.deepEqual(portsFromBase(7000, 3), { ports: [7000, 7001, 7002], peerPorts: [7003, 7004, 7005] });
  });

  it("never overwrites a devnet unless forced", () => {
    const dir = join(root, "again");
    const first = writeDevnetFiles(options(dir));
    const files = readdirSync(dir).sort();
    assert.throws(() => writeDevnetFiles(options(dir, { timestamp: 1 })), coded("CLI_FILE_EXISTS"));
    assert.equal(readFileSync(first.genesisFile, "utf8").includes('"timestamp": 1700000000000'), true, "the genesis is untouched");
    const second = writeDevnetFiles(options(dir, { timestamp: 1, force: true }));
    assert.notDeepEqual(second.context.chain, first.context.chain, "a forced rewrite is a new chain");
    assert.deepEqual(readdirSync(dir).sort(), files);
  });
});
