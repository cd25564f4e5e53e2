/**
 * Validator configuration files (`ios node --config FILE`) and key files, parsed strictly:
 * unknown or missing fields, wrong types and out-of-range values are refused with the JSON path
 * of the offending field and the file it is in, so a person can fix the file from the message.
 *
 * Node configuration (paths are relative to the configuration file's directory):
 *   { "version": 1,
 *     "genesis": "genesis.json",            genesis file (src/ledger/genesis.ts)
 *     "key": "validator-0.key.json",        this validator's key file (below)
 *     "dataDir": "data/validator-0",        LMDB directory of the shard state
 *     "listen": { "host": "127.0.0.1", "port": 7000, "peerPort": 7100 },
 *                                           port: clients, through the HTTP edge (src/api/edge.ts);
 *                                           peerPort (optional, default 0): peer links on /peer, served by
 *                                           uWS without the edge; 0: ephemeral. Distinct when not 0.
 *     "peers": [ { "publicKey": "<64 hex>", "url": "ws://127.0.0.1:7001/peer" } ],
 *     "pipeline": { "workers": 2, "blockIntervalMs": 200, "maxPendingTxs": 200000 },   optional
 *     "api": { "maxBodyBytes": 65536, "maxStreamFrameBytes": 4194304, "maxSubscriberBufferBytes": 16777216,
 *              "maxSubscriberQueueBytes": 268435456, "maxStreams": 256, "maxStreamsPerAddress": 16,
 *              "streamIdleMs": 30000 },                                  optional (ApiLimits below)
 *     "consensus": { "mode": "bft", "viewTimeoutMs": 2000, "idleBlockMs": 250, "maxBlockTxs": 4096 },  optional;
 *                                           PoB also takes "minHeightIntervalMs" (heights' spacing, default 150)
 *     "log": { "level": "info" },           optional; IOS_LOG_LEVEL overrides it (src/log/logger.ts)
 *     "store": { "prune": true } }          optional; prune: delete the blocks of epochs ≤ e − 1 (but their
 *                                           last) when the MSB of epoch e is stored (src/store/schema.ts
 *                                           "Pruning"), default on; false keeps every block
 *
 * The configuration names no shard: the epoch context built from the genesis (src/epoch) says
 * which shard a genesis validator serves; a file that still has "shard" is refused
 * (CONFIG_OBSOLETE_FIELD), so a stale number can never disagree with the assignment. The key must
 * be a validator of the genesis (CONFIG_NOT_A_VALIDATOR), except under PoB with a genesis epoch
 * length: there validators join by a registration transaction and enter at a later epoch, so any
 * key may run a node, which waits until an epoch lists it (a registrant; src/node/validator.ts),
 * and the address book may list keys the genesis does not (validators that joined later). Consensus mode "solo" (the default) commits blocks alone; "bft" agrees on every
 * block with the shard's other members (src/node/consensus/shard-consensus.ts); "pob" runs
 * Proof-of-Believability (src/node/consensus/pob-consensus.ts) with the genesis's "pob" policy.
 *
 * Key file: { "version": 1, "type": "ed25519", "publicKey": "<64 hex>", "secretKey": "<64 hex>" }
 * (secretKey is the RFC 8032 §5.1.5 32-byte seed; the public key is re-derived and must match).
 */
import { genesisEpochContext } from "../epoch/context.js";
import type { EpochContext } from "../epoch/interface.js";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { IosError } from "../errors.js";
import { parseGenesis, type Genesis } from "../ledger/genesis.js";
import { MAX_BLOCK_TXS } from "../ledger/block.js";
import { keyPairFromSecret, type KeyPair } from "../ledger/keys.js";
import { toHex } from "../hex.js";
import { SECRET_KEY_BYTES } from "../codec/sizes.js";
import { LOG_LEVELS, type LogLevel } from "../log/levels.js";

export type ConfigErrorCode =
  | "CONFIG_NOT_FOUND"
  | "CONFIG_BAD_JSON"
  | "CONFIG_MISSING_FIELD"
  | "CONFIG_UNKNOWN_FIELD"
  | "CONFIG_BAD_FIELD"
  | "CONFIG_BAD_KEY_FILE"
  | "CONFIG_BAD_GENESIS"
  | "CONFIG_NOT_A_VALIDATOR"
  | "CONFIG_OBSOLETE_FIELD";

export const CONFIG_VERSION = 1;
export const KEY_FILE_VERSION = 1;

/**
 * Client API limits. A body holds one transaction (MAX_TX_BYTES = 16 KiB, hex doubles it, JSON
 * adds a little): 64 KiB. A stream frame holds a batch as big as a block body (MAX_BLOCK_BYTES).
 */
export interface ApiLimits {
  readonly maxBodyBytes: number;
  readonly maxStreamFrameBytes: number;
  /** Bytes a subscriber may leave unread before it is dropped (slow consumer). */
  readonly maxSubscriberBufferBytes: number;
  /** Bytes all subscribers together may leave unread: past it the furthest behind are dropped. */
  readonly maxSubscriberQueueBytes: number;
  /** Stream connections at once; further upgrades get 503. */
  readonly maxStreams: number;
  /** Stream connections of one client address at once; further upgrades from it get 429. */
  readonly maxStreamsPerAddress: number;
  /** A stream that neither subscribes nor submits for this long is closed (STREAM_IDLE). */
  readonly streamIdleMs: number;
}

export const DEFAULT_API_LIMITS: Readonly<ApiLimits> = {
  maxBodyBytes: 64 * 1024,
  maxStreamFrameBytes: 4 * 1024 * 1024,
  maxSubscriberBufferBytes: 16 * 1024 * 1024,
  // 256 subscribers × 16 MiB could queue 4 GiB; 256 MiB lets 16 of them fall fully behind at once.
  maxSubscriberQueueBytes: 256 * 1024 * 1024,
  maxStreams: 256,
  // `ios load` opens one stream per entry validator per process; 16 leaves room for several tools behind one NAT.
  maxStreamsPerAddress: 16,
  // Ten of uWS's 3 s automatic pings: a client that only keeps the socket open gives its slot back.
  streamIdleMs: 30_000,
};

export interface PipelineSettings {
  /** Verifier worker threads (DESIGN §1: default = available cores). */
  readonly workers: number;
  /** Solo block production interval. */
  readonly blockIntervalMs: number;
  /** Cap on transactions accepted but not yet in a block (pipeline default when absent). */
  readonly maxPendingTxs: number;
}

export interface PeerEntry {
  readonly publicKey: string;
  readonly url: string | undefined;
}

export interface NodeConfig {
  /** Absolute path of the file the configuration came from. */
  readonly file: string;
  readonly genesisFile: string;
  readonly keyFile: string;
  readonly dataDir: string;
  /** `port` serves clients (through the HTTP edge), `peerPort` the peer links (WebSocket `/peer`, no edge). */
  readonly listen: { readonly host: string; readonly port: number; readonly peerPort: number };
  readonly peers: readonly PeerEntry[];
  readonly pipeline: Partial<PipelineSettings>;
  readonly api: ApiLimits;
  readonly consensus: ConsensusSettings;
  /** The root logger's level when IOS_LOG_LEVEL does not set one. */
  readonly logLevel?: LogLevel;
  /** Store settings; absent: the defaults (no pruning). */
  readonly store?: StoreSettings;
}

/**
 * Pruning is on by default (`pruneOf`): a validator that moves to another shard joins it at an MSB
 * (node/sync), whose body its peers keep, and replays one epoch, whose blocks they keep; the
 * transactions of the last two epochs stay provable (schema.ts "Pruning").
 */
export interface StoreSettings {
  readonly prune: boolean;
}

/** Whether a node of `config` prunes its stores: `store.prune`, true when absent. */
export function pruneOf(config: { readonly store?: StoreSettings }): boolean {
  return config.store?.prune ?? true;
}

/** How blocks are decided: alone, or by the shard's BFT (with its optional tuning). */
export interface ConsensusSettings {
  readonly mode: "solo" | "bft" | "pob";
  readonly viewTimeoutMs?: number;
  readonly idleBlockMs?: number;
  /** PoB: heights at least this far apart (PobNodeConfig `minHeightIntervalMs`); default DEFAULT_MIN_HEIGHT_INTERVAL_MS, 0 back to back. */
  readonly minHeightIntervalMs?: number;
  readonly maxBlockTxs?: number;
  /** Δ of the epoch transition (leader election windows, DRP phase deadlines); PoB with an epoch length only. */
  readonly epochDeltaMs?: number;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Field checks that name the file and the JSON path of what is wrong. */
class Reader {
  constructor(private readonly file: string) {}

  fail(code: ConfigErrorCode, path: string, message: string): never {
    throw new IosError<ConfigErrorCode>(code, `${this.file}: ${path} ${message}`);
  }

  object(value: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Json {
    if (!isRecord(value)) this.fail("CONFIG_BAD_FIELD", path, "must be a JSON object");
    for (const key of Object.keys(value)) {
      if (!required.includes(key) && !optional.includes(key)) {
        this.fail("CONFIG_UNKNOWN_FIELD", `${path}.${key}`, `is not a known field (allowed: ${[...required, ...optional].join(", ")})`);
      }
    }
    for (const key of required) if (!(key in value)) this.fail("CONFIG_MISSING_FIELD", `${path}.${key}`, "is missing");
    return value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== "string" || value.length === 0) this.fail("CONFIG_BAD_FIELD", path, "must be a non-empty string");
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail("CONFIG_BAD_FIELD", path, `must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    return value;
  }

  hexKey(value: unknown, path: string): string {
    if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) this.fail("CONFIG_BAD_FIELD", path, "must be 64 lowercase hex digits (a 32-byte key)");
    return value;
  }

  parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new IosError<ConfigErrorCode>("CONFIG_BAD_JSON", `${this.file}: not valid JSON (${(error as Error).message})`);
    }
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(error as Error).message})`;
    throw new IosError<ConfigErrorCode>("CONFIG_NOT_FOUND", `${what} ${file} ${reason}`);
  }
}

const MAX_PORT = 65_535;
const MAX_WORKERS = 256;
/** Pending-transaction cap: 2^24 keeps the mempool's memory within a few GiB at most. */
const MAX_PENDING_TXS_LIMIT = 1 << 24;
/** Block interval bounds: 10 ms keeps blocks above timer granularity, 60 s keeps latency sane. */
const MIN_BLOCK_INTERVAL_MS = 10;
export const MAX_BLOCK_INTERVAL_MS = 60_000;
/** Smallest API limits that still hold one maximal transaction (MAX_TX_BYTES, hex-encoded). */
const MIN_BODY_BYTES = 40 * 1024;
const MIN_STREAM_FRAME_BYTES = 64 * 1024;
const MAX_LIMIT_BYTES = 256 * 1024 * 1024;
/** The subscribers' shared queue: at most 4 GiB, what 256 × 16 MiB allowed before it was bounded. */
const MAX_SUBSCRIBER_QUEUE_BYTES = 4 * 1024 * 1024 * 1024;
/** Stream connections: 65,536 is about what one process's file descriptors allow. */
const MAX_STREAMS = 65_536;
/** Idle stream close: 1 s keeps it above a client's connect-then-subscribe round trip, 1 h is a parked connection. */
const MIN_STREAM_IDLE_MS = 1000;
const MAX_STREAM_IDLE_MS = 3_600_000;
/** BFT view timeout bounds: 100 ms is a few loopback CoSi rounds, 10 min is a stuck shard. */
const MIN_VIEW_TIMEOUT_MS = 100;
/** Δ bounds: a loopback message takes well under 10 ms; a WAN's Δ is seconds. */
const MIN_EPOCH_DELTA_MS = 10;
const MAX_EPOCH_DELTA_MS = 60_000;
const MAX_VIEW_TIMEOUT_MS = 600_000;

/** Parses the text of a node configuration; relative paths resolve against `file`'s directory. */
export function parseNodeConfig(text: string, file: string): NodeConfig {
  const r: Reader = new Reader(file);
  const parsed = r.parse(text);
  if (isRecord(parsed) && "shard" in parsed) {
    r.fail("CONFIG_OBSOLETE_FIELD", "$.shard", "is no longer a configuration field: the shard now comes from the epoch assignment of the genesis (`ios genesis` prints it); remove the field");
  }
  const root = r.object(parsed, "$", ["version", "genesis", "key", "dataDir", "listen", "peers"], ["pipeline", "api", "consensus", "log", "store"]);
  if (root.version !== CONFIG_VERSION) r.fail("CONFIG_BAD_FIELD", "$.version", `must be ${CONFIG_VERSION}, got ${JSON.stringify(root.version)}`);
  const base = dirname(resolve(file));
  const listen = r.object(root.listen, "$.listen", ["host", "port"], ["peerPort"]);
  const port = r.integer(listen.port, "$.listen.port", 0, MAX_PORT);
  const peerPort = listen.peerPort === undefined ? 0 : r.integer(listen.peerPort, "$.listen.peerPort", 0, MAX_PORT);
  if (peerPort !== 0 && peerPort === port) r.fail("CONFIG_BAD_FIELD", "$.listen.peerPort", `must differ from $.listen.port (${port}): clients and peers have a port each`);
  const peerList = root.peers;
  if (!Array.isArray(peerList)) r.fail("CONFIG_BAD_FIELD", "$.peers", "must be an array (possibly empty)");
  const seen = new Set<string>();
  const peers = peerList.map((entry: unknown, i: number): PeerEntry => {
    const path = `$.peers[${i}]`;
    const peer = r.object(entry, path, ["publicKey"], ["url"]);
    const publicKey = r.hexKey(peer.publicKey, `${path}.publicKey`);
    if (seen.has(publicKey)) r.fail("CONFIG_BAD_FIELD", `${path}.publicKey`, "repeats an earlier peer");
    seen.add(publicKey);
    let url: string | undefined;
    if (peer.url !== undefined) {
      url = r.string(peer.url, `${path}.url`);
      if (!/^wss?:\/\/[^\s/]+(\/\S*)?$/.test(url)) r.fail("CONFIG_BAD_FIELD", `${path}.url`, `must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
    }
    return { publicKey, url };
  });
  const pipeline: { workers?: number; blockIntervalMs?: number; maxPendingTxs?: number } = {};
  if (root.pipeline !== undefined) {
    const p = r.object(root.pipeline, "$.pipeline", [], ["workers", "blockIntervalMs", "maxPendingTxs"]);
    if (p.maxPendingTxs !== undefined) pipeline.maxPendingTxs = r.integer(p.maxPendingTxs, "$.pipeline.maxPendingTxs", 1, MAX_PENDING_TXS_LIMIT);
    if (p.workers !== undefined) pipeline.workers = r.integer(p.workers, "$.pipeline.workers", 1, MAX_WORKERS);
    if (p.blockIntervalMs !== undefined) {
      pipeline.blockIntervalMs = r.integer(p.blockIntervalMs, "$.pipeline.blockIntervalMs", MIN_BLOCK_INTERVAL_MS, MAX_BLOCK_INTERVAL_MS);
    }
  }
  const api = { ...DEFAULT_API_LIMITS };
  if (root.api !== undefined) {
    const a = r.object(root.api, "$.api", [], ["maxBodyBytes", "maxStreamFrameBytes", "maxSubscriberBufferBytes", "maxSubscriberQueueBytes", "maxStreams", "maxStreamsPerAddress", "streamIdleMs"]);
    if (a.maxBodyBytes !== undefined) api.maxBodyBytes = r.integer(a.maxBodyBytes, "$.api.maxBodyBytes", MIN_BODY_BYTES, MAX_LIMIT_BYTES);
    if (a.maxStreamFrameBytes !== undefined) {
      api.maxStreamFrameBytes = r.integer(a.maxStreamFrameBytes, "$.api.maxStreamFrameBytes", MIN_STREAM_FRAME_BYTES, MAX_LIMIT_BYTES);
    }
    if (a.maxSubscriberBufferBytes !== undefined) {
      api.maxSubscriberBufferBytes = r.integer(a.maxSubscriberBufferBytes, "$.api.maxSubscriberBufferBytes", MIN_STREAM_FRAME_BYTES, MAX_LIMIT_BYTES);
    }
    if (a.maxSubscriberQueueBytes !== undefined) {
      api.maxSubscriberQueueBytes = r.integer(a.maxSubscriberQueueBytes, "$.api.maxSubscriberQueueBytes", api.maxSubscriberBufferBytes, MAX_SUBSCRIBER_QUEUE_BYTES);
    }
    if (a.maxStreams !== undefined) api.maxStreams = r.integer(a.maxStreams, "$.api.maxStreams", 1, MAX_STREAMS);
    if (a.maxStreamsPerAddress !== undefined) api.maxStreamsPerAddress = r.integer(a.maxStreamsPerAddress, "$.api.maxStreamsPerAddress", 1, api.maxStreams);
    if (a.streamIdleMs !== undefined) api.streamIdleMs = r.integer(a.streamIdleMs, "$.api.streamIdleMs", MIN_STREAM_IDLE_MS, MAX_STREAM_IDLE_MS);
  }
  let consensus: ConsensusSettings = { mode: "solo" };
  if (root.consensus !== undefined) {
    const c = r.object(root.consensus, "$.consensus", ["mode"], ["viewTimeoutMs", "idleBlockMs", "minHeightIntervalMs", "maxBlockTxs", "epochDeltaMs"]);
    if (c.mode !== "solo" && c.mode !== "bft" && c.mode !== "pob") r.fail("CONFIG_BAD_FIELD", "$.consensus.mode", `must be "solo", "bft" or "pob", got ${JSON.stringify(c.mode)}`);
    consensus = {
      mode: c.mode,
      ...(c.viewTimeoutMs === undefined ? {} : { viewTimeoutMs: r.integer(c.viewTimeoutMs, "$.consensus.viewTimeoutMs", MIN_VIEW_TIMEOUT_MS, MAX_VIEW_TIMEOUT_MS) }),
      ...(c.idleBlockMs === undefined ? {} : { idleBlockMs: r.integer(c.idleBlockMs, "$.consensus.idleBlockMs", MIN_BLOCK_INTERVAL_MS, MAX_BLOCK_INTERVAL_MS) }),
      ...(c.minHeightIntervalMs === undefined ? {} : { minHeightIntervalMs: c.mode !== "pob" ? r.fail("CONFIG_BAD_FIELD", "$.consensus.minHeightIntervalMs", 'applies to "pob" consensus only') : r.integer(c.minHeightIntervalMs, "$.consensus.minHeightIntervalMs", 0, MAX_BLOCK_INTERVAL_MS) }),
      ...(c.maxBlockTxs === undefined ? {} : { maxBlockTxs: r.integer(c.maxBlockTxs, "$.consensus.maxBlockTxs", 1, MAX_BLOCK_TXS) }),
      ...(c.epochDeltaMs === undefined ? {} : { epochDeltaMs: r.integer(c.epochDeltaMs, "$.consensus.epochDeltaMs", MIN_EPOCH_DELTA_MS, MAX_EPOCH_DELTA_MS) }),
    };
  }
  let logLevel: LogLevel | undefined;
  if (root.log !== undefined) {
    const level = r.object(root.log, "$.log", ["level"]).level;
    if (!(LOG_LEVELS as readonly unknown[]).includes(level)) r.fail("CONFIG_BAD_FIELD", "$.log.level", `must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
    logLevel = level as LogLevel;
  }
  let store: StoreSettings | undefined;
  if (root.store !== undefined) {
    const prune = r.object(root.store, "$.store", [], ["prune"]).prune ?? true;
    if (typeof prune !== "boolean") r.fail("CONFIG_BAD_FIELD", "$.store.prune", `must be true or false, got ${JSON.stringify(prune)}`);
    store = { prune };
  }
  return {
    file: resolve(file),
    genesisFile: resolve(base, r.string(root.genesis, "$.genesis")),
    keyFile: resolve(base, r.string(root.key, "$.key")),
    dataDir: resolve(base, r.string(root.dataDir, "$.dataDir")),
    listen: { host: r.string(listen.host, "$.listen.host"), port, peerPort },
    peers,
    pipeline,
    api,
    consensus,
    ...(logLevel === undefined ? {} : { logLevel }),
    ...(store === undefined ? {} : { store }),
  };
}

export function loadNodeConfig(file: string): NodeConfig {
  return parseNodeConfig(readText(file, "configuration file"), file);
}

/** The JSON of a configuration; paths are written as given (relative to the file's directory). */
export function nodeConfigJson(fields: {
  genesis: string;
  key: string;
  dataDir: string;
  listen: { host: string; port: number; peerPort?: number };
  peers: readonly PeerEntry[];
  pipeline?: Partial<PipelineSettings>;
  consensus?: ConsensusSettings;
}): string {
  const peers = fields.peers.map((p) => (p.url === undefined ? { publicKey: p.publicKey } : { publicKey: p.publicKey, url: p.url }));
  return `${JSON.stringify({ version: CONFIG_VERSION, ...fields, peers }, null, 2)}\n`;
}

export function parseKeyFile(text: string, file: string): KeyPair {
  const r: Reader = new Reader(file);
  const root = r.object(r.parse(text), "$", ["version", "type", "publicKey", "secretKey"]);
  if (root.version !== KEY_FILE_VERSION) r.fail("CONFIG_BAD_KEY_FILE", "$.version", `must be ${KEY_FILE_VERSION}`);
  if (root.type !== "ed25519") r.fail("CONFIG_BAD_KEY_FILE", "$.type", `must be "ed25519"`);
  const publicKey = r.hexKey(root.publicKey, "$.publicKey");
  const secretKey = r.hexKey(root.secretKey, "$.secretKey");
  const pair = keyPairFromSecret(Buffer.from(secretKey, "hex"));
  if (Buffer.from(pair.publicKey).toString("hex") !== publicKey) {
    r.fail("CONFIG_BAD_KEY_FILE", "$.publicKey", "does not match the secret key (the file is damaged or was edited)");
  }
  return pair;
}

export function loadKeyFile(file: string): KeyPair {
  return parseKeyFile(readText(file, "key file"), file);
}

export function keyFileJson(pair: KeyPair): string {
  if (pair.secretKey.length !== SECRET_KEY_BYTES) throw new IosError<ConfigErrorCode>("CONFIG_BAD_KEY_FILE", `secret key must be ${SECRET_KEY_BYTES} bytes`);
  return `${JSON.stringify({ version: KEY_FILE_VERSION, type: "ed25519", publicKey: toHex(pair.publicKey), secretKey: toHex(pair.secretKey) }, null, 2)}\n`;
}

export function loadGenesisFile(file: string): Genesis {
  const text = readText(file, "genesis file");
  try {
    return parseGenesis(text);
  } catch (error) {
    if (error instanceof IosError) throw new IosError<ConfigErrorCode>("CONFIG_BAD_GENESIS", `${file}: ${error.message}`);
    throw error;
  }
}

/** Everything a validator starts from, checked against each other. */
export interface NodeSetup {
  readonly config: NodeConfig;
  readonly genesis: Genesis;
  readonly key: KeyPair;
  /** Epoch 0, built from the genesis: shard members, leagues, consensus instances. */
  readonly context: EpochContext;
  /**
   * The home shard: the one `context` assigns a genesis validator, shard 0 for a registrant. Its
   * store, in the data directory itself, also keeps the epoch archive.
   */
  readonly shard: number;
  /** The key is not a validator of the genesis: it serves only once a later epoch lists it (PoB with an epoch length). */
  readonly registrant: boolean;
}

/** A registrant's home shard: its store in the data directory keeps the epoch archive (any shard would do; 0 always exists). */
export const REGISTRANT_HOME_SHARD = 0;

/** Checks that a parsed configuration, its genesis and its key fit together, and finds the key's shard. */
export function nodeSetupOf(config: NodeConfig, genesis: Genesis, key: KeyPair): NodeSetup {
  let context: EpochContext;
  try {
    context = genesisEpochContext(genesis);
  } catch (error) {
    if (error instanceof IosError) throw new IosError<ConfigErrorCode>("CONFIG_BAD_GENESIS", `${config.genesisFile}: ${error.message}`);
    throw error;
  }
  const self = toHex(key.publicKey);
  if (config.consensus.mode === "pob" && genesis.pob === undefined) {
    throw new IosError<ConfigErrorCode>("CONFIG_BAD_FIELD", `${config.file}: $.consensus.mode is "pob" but ${config.genesisFile} has no "pob" policy`);
  }
  // Only PoB epochs change the validator set (registrations enter at the next epoch): elsewhere the genesis's is the only one.
  const epochsChangeValidators = config.consensus.mode === "pob" && genesis.epochLength !== undefined;
  const genesisShard = context.shardOf(key.publicKey);
  if (genesisShard === undefined && !epochsChangeValidators) {
    throw new IosError<ConfigErrorCode>("CONFIG_NOT_A_VALIDATOR", `${config.keyFile}: public key ${self} is not among the ${genesis.validators.length} validators of ${config.genesisFile} (only PoB with an epoch length admits registrants)`);
  }
  config.peers.forEach((peer, i) => {
    if (peer.publicKey === self) throw new IosError<ConfigErrorCode>("CONFIG_BAD_FIELD", `${config.file}: $.peers[${i}].publicKey is this validator's own key`);
    // The peers are an address book; whom to link with is the epochs' (src/node/validator.ts `membershipOf`).
    if (!epochsChangeValidators && context.shardOf(Buffer.from(peer.publicKey, "hex")) === undefined) {
      throw new IosError<ConfigErrorCode>("CONFIG_BAD_FIELD", `${config.file}: $.peers[${i}].publicKey ${peer.publicKey} is not a validator of ${config.genesisFile}`);
    }
  });
  return { config, genesis, key, context, shard: genesisShard ?? REGISTRANT_HOME_SHARD, registrant: genesisShard === undefined };
}

/** Loads the configuration, its genesis and key file, and checks they fit together. */
export function loadNodeSetup(configFile: string): NodeSetup {
  const config = loadNodeConfig(configFile);
  return nodeSetupOf(config, loadGenesisFile(config.genesisFile), loadKeyFile(config.keyFile));
}
