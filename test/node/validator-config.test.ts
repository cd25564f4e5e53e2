import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { genesisToJson, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { keyPairFromSecret } from "../../src/ledger/keys.js";
import { IosError } from "../../src/errors.js";
import {
  DEFAULT_API_LIMITS,
  keyFileJson,
  loadNodeSetup,
  nodeConfigJson,
  parseKeyFile,
  parseNodeConfig,
  pruneOf,
} from "../../src/node/config.js";

const dir = mkdtempSync(join(tmpdir(), "ios-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const { genesis, validators } = makeTestGenesis({ seed: "config-test", shardCount: 2, accounts: 4, amount: 100n, validators: 2 });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const file = join(dir, "node.json");

function valid(): Record<string, unknown> {
  return JSON.parse(
    nodeConfigJson({
      genesis: "genesis.json",
      key: "v0.key.json",
      dataDir: "data",
      listen: { host: "127.0.0.1", port: 0 },
      peers: [{ publicKey: hex(validators[1]!.publicKey), url: "ws://127.0.0.1:7001/peer" }],
    }),
  ) as Record<string, unknown>;
}

function refused(mutate: (c: Record<string, any>) => void, code: string, pattern: RegExp): void {
  const config = valid();
  mutate(config);
  assert.throws(
    () => parseNodeConfig(JSON.stringify(config), file),
    (error) => error instanceof IosError && error.code === code && pattern.test(error.message) && error.message.includes(file),
  );
}

describe("node configuration", () => {
  it("parses a valid file, resolving paths against its directory and filling defaults", () => {
    const config = parseNodeConfig(JSON.stringify(valid()), file);
    assert.equal(config.genesisFile, join(dir, "genesis.json"));
    assert.equal(config.keyFile, join(dir, "v0.key.json"));
    assert.equal(config.dataDir, join(dir, "data"));
    assert.equal("shard" in config, false, "the shard comes from the epoch context, not the file");
    assert.deepEqual(config.listen, { host: "127.0.0.1", port: 0, peerPort: 0 }, "no peerPort: an ephemeral one");
    assert.deepEqual(config.api, DEFAULT_API_LIMITS);
    const limits = { maxStreams: 64, maxStreamsPerAddress: 2, streamIdleMs: 5000, maxSubscriberQueueBytes: 1 << 26 };
    assert.deepEqual(parseNodeConfig(JSON.stringify({ ...valid(), api: limits }), file).api, { ...DEFAULT_API_LIMITS, ...limits });
    assert.equal(config.peers[0]!.url, "ws://127.0.0.1:7001/peer");
    assert.equal(config.logLevel, undefined);
    assert.equal(parseNodeConfig(JSON.stringify({ ...valid(), log: { level: "debug" } }), file).logLevel, "debug");
    assert.equal(parseNodeConfig(JSON.stringify(valid()), file).store, undefined, "no store settings");
    assert.equal(pruneOf(parseNodeConfig(JSON.stringify(valid()), file)), true, "no store settings: pruning on (the default)");
    assert.deepEqual(parseNodeConfig(JSON.stringify({ ...valid(), store: { prune: true } }), file).store, { prune: true });
    assert.deepEqual(parseNodeConfig(JSON.stringify({ ...valid(), store: {} }), file).store, { prune: true }, "no prune field: on");
    const keepAll = parseNodeConfig(JSON.stringify({ ...valid(), store: { prune: false } }), file);
    assert.deepEqual([keepAll.store, pruneOf(keepAll)], [{ prune: false }, false], "prune false keeps every block");
  });

  it("reads the peer port: an integer in [0, 65535], distinct from the client port unless ephemeral", () => {
    const listen = (fields: Record<string, unknown>) => parseNodeConfig(JSON.stringify({ ...valid(), listen: { host: "127.0.0.1", ...fields } }), file).listen;
    assert.deepEqual(listen({ port: 7000, peerPort: 7100 }), { host: "127.0.0.1", port: 7000, peerPort: 7100 });
    assert.deepEqual(listen({ port: 0, peerPort: 0 }), { host: "127.0.0.1", port: 0, peerPort: 0 });
    assert.equal(listen({ port: 7000, peerPort: 65535 }).peerPort, 65535);
    const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    for (const bad of [-1, 65536, 1.5, "7100", null, true]) {
      refused((c) => (c.listen.peerPort = bad), "CONFIG_BAD_FIELD", new RegExp(escaped(`$.listen.peerPort must be an integer in [0, 65535], got ${JSON.stringify(bad)}`)));
    }
    refused((c) => (c.listen = { host: "127.0.0.1", port: 7000, peerPort: 7000 }), "CONFIG_BAD_FIELD", /\$\.listen\.peerPort must differ from \$\.listen\.port \(7000\)/);
    refused((c) => (c.listen.peerport = 7100), "CONFIG_UNKNOWN_FIELD", /\$\.listen\.peerport is not a known field \(allowed: host, port, peerPort\)/);
  });

  it("names the exact field that is wrong", () => {
    assert.throws(() => parseNodeConfig("{ nope", file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_JSON");
    refused((c) => (c.extra = 1), "CONFIG_UNKNOWN_FIELD", /\$\.extra is not a known field/);
    refused((c) => delete c.dataDir, "CONFIG_MISSING_FIELD", /\$\.dataDir is missing/);
    refused((c) => (c.version = 2), "CONFIG_BAD_FIELD", /\$\.version must be 1/);
    refused((c) => (c.listen.port = 70000), "CONFIG_BAD_FIELD", /\$\.listen\.port must be an integer in \[0, 65535\], got 70000/);
    refused((c) => (c.listen.port = "80"), "CONFIG_BAD_FIELD", /\$\.listen\.port/);
    refused((c) => (c.peers[0].publicKey = "xyz"), "CONFIG_BAD_FIELD", /\$\.peers\[0\]\.publicKey must be 64 lowercase hex/);
    refused((c) => (c.peers[0].url = "http://x"), "CONFIG_BAD_FIELD", /\$\.peers\[0\]\.url must be a ws:\/\//);
    refused((c) => c.peers.push(c.peers[0]), "CONFIG_BAD_FIELD", /\$\.peers\[1\]\.publicKey repeats/);
    refused((c) => (c.peers = {}), "CONFIG_BAD_FIELD", /\$\.peers must be an array/);
    refused((c) => (c.pipeline = { workers: 0 }), "CONFIG_BAD_FIELD", /\$\.pipeline\.workers must be an integer in \[1, 256\]/);
    refused((c) => (c.pipeline = { threads: 2 }), "CONFIG_UNKNOWN_FIELD", /\$\.pipeline\.threads/);
    refused((c) => (c.api = { maxBodyBytes: 10 }), "CONFIG_BAD_FIELD", /\$\.api\.maxBodyBytes/);
    refused((c) => (c.shard = 0), "CONFIG_OBSOLETE_FIELD", /\$\.shard is no longer a configuration field: the shard now comes from the epoch assignment/);
    refused((c) => (c.log = { level: "loud" }), "CONFIG_BAD_FIELD", /\$\.log\.level must be one of fatal, error, warn, info, debug, trace, silent/);
    refused((c) => (c.log = { level: "info", file: "x" }), "CONFIG_UNKNOWN_FIELD", /\$\.log\.file/);
    refused((c) => (c.store = { prune: "yes" }), "CONFIG_BAD_FIELD", /\$\.store\.prune must be true or false/);
    refused((c) => (c.store = { prune: true, compact: 1 }), "CONFIG_UNKNOWN_FIELD", /\$\.store\.compact/);
    refused((c) => (c.api = { maxStreams: 8, maxStreamsPerAddress: 9 }), "CONFIG_BAD_FIELD", /\$\.api\.maxStreamsPerAddress must be an integer in \[1, 8\], got 9/);
    refused((c) => (c.api = { maxSubscriberBufferBytes: 1 << 20, maxSubscriberQueueBytes: 1 << 19 }), "CONFIG_BAD_FIELD", /\$\.api\.maxSubscriberQueueBytes must be an integer in \[1048576, /);
    refused((c) => (c.api = { streamIdleMs: 500 }), "CONFIG_BAD_FIELD", /\$\.api\.streamIdleMs must be an integer in \[1000, 3600000\]/);
    refused((c) => (c.api = { edge: false }), "CONFIG_UNKNOWN_FIELD", /\$\.api\.edge is not a known field/);
  });

  it("key files round-trip and a damaged one is refused", () => {
    const pair = keyPairFromSecret(new Uint8Array(32).fill(7));
    const parsed = parseKeyFile(keyFileJson(pair), "k.json");
    assert.deepEqual(parsed.publicKey, pair.publicKey);
    const damaged = JSON.parse(keyFileJson(pair)) as Record<string, string>;
    damaged.publicKey = hex(validators[0]!.publicKey);
    assert.throws(() => parseKeyFile(JSON.stringify(damaged), "k.json"), (e) => e instanceof IosError && e.code === "CONFIG_BAD_KEY_FILE" && /does not match/.test(e.message));
  });

  it("checks that the configuration, genesis and key fit together", () => {
    writeFileSync(join(dir, "genesis.json"), genesisToJson(genesis));
    writeFileSync(join(dir, "v0.key.json"), keyFileJson(validators[0]!));
    writeFileSync(file, JSON.stringify(valid()));
    const setup = loadNodeSetup(file);
    assert.equal(setup.genesis.shardCount, 2);
    assert.deepEqual(setup.key.publicKey, validators[0]!.publicKey);
    // Two validators, two shards: the epoch-0 permutation gives each shard one of them.
    assert.deepEqual(setup.context.chain, genesisTxid(genesis));
    assert.equal(setup.shard, setup.context.shardOf(validators[0]!.publicKey));
    assert.deepEqual(setup.context.members(setup.shard).map(hex), [hex(validators[0]!.publicKey)]);

    writeFileSync(join(dir, "stranger.key.json"), keyFileJson(keyPairFromSecret(new Uint8Array(32).fill(1))));
    writeFileSync(file, JSON.stringify({ ...valid(), key: "stranger.key.json" }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_NOT_A_VALIDATOR");
    // A solo validator is a genesis validator too: the solo mode does not lift the check.
    writeFileSync(file, JSON.stringify({ ...valid(), key: "stranger.key.json", consensus: { mode: "solo" } }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_NOT_A_VALIDATOR" && /is not among the 2 validators/.test(e.message));
    writeFileSync(file, JSON.stringify({ ...valid(), shard: 0 }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_OBSOLETE_FIELD");
    // Peers are an address book of genesis validators: a stranger's key is refused by name.
    const stranger = hex(keyPairFromSecret(new Uint8Array(32).fill(2)).publicKey);
    writeFileSync(file, JSON.stringify({ ...valid(), peers: [{ publicKey: stranger, url: "ws://127.0.0.1:1/peer" }] }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_FIELD" && e.message.includes(`$.peers[0].publicKey ${stranger} is not a validator`));
    // A validator of the other shard is a valid address-book entry; the node links only with its own shard's members.
    const other = hex(validators[1]!.publicKey);
    writeFileSync(file, JSON.stringify({ ...valid(), peers: [{ publicKey: other, url: "ws://127.0.0.1:1/peer" }] }));
    assert.equal(loadNodeSetup(file).config.peers.length, 1);
    // A genesis whose epoch context cannot be built (fewer validators than shards) is named as the culprit.
    const sparse = makeTestGenesis({ seed: "config-test", shardCount: 3, accounts: 1, amount: 1n, validators: 2 }).genesis;
    writeFileSync(join(dir, "sparse-genesis.json"), genesisToJson(sparse));
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "sparse-genesis.json" }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_GENESIS" && /EPOCH_TOO_FEW_VALIDATORS/.test(e.message) && e.message.includes("sparse-genesis.json"));
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "missing.json" }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_NOT_FOUND" && /missing\.json does not exist/.test(e.message));
    // A validator whose proof of possession does not verify keeps the node from starting.
    const forged = JSON.parse(genesisToJson(genesis)) as { validators: { pop: string }[] };
    forged.validators[1]!.pop = forged.validators[0]!.pop;
    writeFileSync(join(dir, "forged-genesis.json"), JSON.stringify(forged));
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "forged-genesis.json" }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_GENESIS" && /REGISTRY_BAD_POP/.test(e.message) && e.message.includes("forged-genesis.json"));
    writeFileSync(join(dir, "bad-genesis.json"), "{}");
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "bad-genesis.json" }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_GENESIS");
  });
  it("admits a key the genesis does not list only under PoB with a genesis epoch length (a registrant, home shard 0)", () => {
    const policy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.5, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
    const withEpochs = makeTestGenesis({ seed: "config-test-epochs", shardCount: 2, accounts: 4, amount: 100n, validators: 10, pob: policy, epochLength: 8 });
    const noEpochs = makeTestGenesis({ seed: "config-test-epochs", shardCount: 2, accounts: 4, amount: 100n, validators: 10, pob: policy });
    writeFileSync(join(dir, "epochs-genesis.json"), genesisToJson(withEpochs.genesis));
    writeFileSync(join(dir, "no-epochs-genesis.json"), genesisToJson(noEpochs.genesis));
    const registrant = keyPairFromSecret(new Uint8Array(32).fill(3));
    writeFileSync(join(dir, "registrant.key.json"), keyFileJson(registrant));
    // Its address book lists a genesis validator and another key that joined later.
    const later = hex(keyPairFromSecret(new Uint8Array(32).fill(4)).publicKey);
    const peers = [{ publicKey: hex(withEpochs.validators[0]!.publicKey), url: "ws://127.0.0.1:7001/peer" }, { publicKey: later, url: "ws://127.0.0.1:7002/peer" }];
    const config = (genesisFile: string, mode: string) => JSON.stringify({ ...valid(), genesis: genesisFile, key: "registrant.key.json", peers, consensus: { mode } });
    writeFileSync(file, config("epochs-genesis.json", "pob"));
    const setup = loadNodeSetup(file);
    assert.equal(setup.registrant, true);
    assert.equal(setup.shard, 0, "a registrant's home store is shard 0's");
    assert.equal(setup.context.shardOf(registrant.publicKey), undefined);
    assert.equal(setup.config.peers.length, 2);
    // A genesis validator is no registrant, and keeps its genesis shard.
    writeFileSync(join(dir, "v-epochs.key.json"), keyFileJson(withEpochs.validators[3]!));
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "epochs-genesis.json", key: "v-epochs.key.json", peers: [], consensus: { mode: "pob" } }));
    const member = loadNodeSetup(file);
    assert.equal(member.registrant, false);
    assert.equal(member.shard, member.context.shardOf(withEpochs.validators[3]!.publicKey));
    // Without epochs the validator set never changes: the key must be the genesis's, and so must the address book's.
    writeFileSync(file, config("no-epochs-genesis.json", "pob"));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_NOT_A_VALIDATOR" && /only PoB with an epoch length/.test(e.message));
    writeFileSync(file, config("epochs-genesis.json", "bft"));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_NOT_A_VALIDATOR");
    writeFileSync(file, JSON.stringify({ ...valid(), genesis: "no-epochs-genesis.json", key: "v-epochs.key.json", peers, consensus: { mode: "pob" } }));
    assert.throws(() => loadNodeSetup(file), (e) => e instanceof IosError && e.code === "CONFIG_BAD_FIELD" && e.message.includes(`${later} is not a validator`));
  });
});
