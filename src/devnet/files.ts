/**
 * A devnet's files, written once: genesis.json, one key file and one node configuration per
 * validator, and key files of the first funded accounts. `ios genesis` and the devnet launcher
 * both call `writeDevnetFiles`; every port is known before anything is written, so no file is
 * rewritten afterwards.
 *
 * Everything is derived from the seed (test keys: anyone with the seed holds them). The genesis
 * and its epoch context (src/epoch) are built before the first file is written, so a devnet the
 * context refuses (fewer validators than shards, a bad policy) leaves no file behind. Validator
 * i's configuration lists every other validator as a peer, with the URL of its peer port
 * (`ws://host:peerPort/peer`): the address book. A validator links with its shard's members, and
 * under PoB with every validator (Atomix watchers talk across shards, src/atomix/watcher.ts).
 * Each validator has two ports: one for clients (behind the HTTP edge) and one for peers.
 *
 * Layout of DIR: genesis.json, validator-<i>.key.json, validator-<i>.config.json (data in
 * data/validator-<i>), account-<j>.key.json.
 *
 * API: `writeDevnetFiles(options): DevnetLayout`, `portsFromBase(basePort, validators)`.
 */
import { join } from "node:path";
import type { ShardingPolicy } from "../consensus/pob/policy.js";
import { writeNewFile } from "../cli/files.js";
import { genesisEpochContext } from "../epoch/context.js";
import type { EpochContext } from "../epoch/interface.js";
import { toHex } from "../hex.js";
import { genesisToJson, makeTestGenesis, type Genesis } from "../ledger/genesis.js";
import type { KeyPair } from "../ledger/keys.js";
import { keyFileJson, nodeConfigJson, type ConsensusSettings, type PipelineSettings } from "../node/config.js";
import { check } from "../errors.js";
import type { DevnetErrorCode } from "./errors.js";

export const GENESIS_FILE = "genesis.json";

export interface DevnetFilesOptions {
  /** Output directory (created when absent). */
  readonly dir: string;
  /** Seed of every key. */
  readonly seed: string;
  readonly shards: number;
  readonly validators: number;
  /** Funded accounts `deriveTestAccounts(seed, accounts)`, one output of `amount` each. */
  readonly accounts: number;
  readonly amount: bigint;
  /** Genesis timestamp (ms since the Unix epoch). */
  readonly timestamp: number;
  /** Listen host of every validator, and the host of its peers' URLs. */
  readonly host: string;
  /** Client port of validator i, one per validator. */
  readonly ports: readonly number[];
  /** Peer port of validator i, one per validator: its peers' URLs name it. */
  readonly peerPorts: readonly number[];
  readonly consensus: ConsensusSettings["mode"];
  /** The genesis's Proof-of-Believability policy (needed by consensus "pob"). */
  readonly pob?: ShardingPolicy;
  /** The genesis's epoch length (final blocks per shard per epoch); absent: one endless epoch. */
  readonly epochLength?: number;
  /** Pipeline settings of every validator; the node's defaults when absent. */
  readonly pipeline?: Partial<PipelineSettings>;
  /** Every validator's idle heartbeat (`consensus.idleBlockMs`); the node's default when absent. */
  readonly idleBlockMs?: number;
  /** PoB: every validator's heights' spacing (`consensus.minHeightIntervalMs`); the node's default when absent. */
  readonly minHeightIntervalMs?: number;
  /** Key files are written for the first `accountKeyFiles` accounts (default 0). */
  readonly accountKeyFiles?: number;
  /** Overwrite existing files instead of refusing (CLI_FILE_EXISTS). */
  readonly force?: boolean;
}

export interface DevnetValidatorFiles {
  readonly index: number;
  /** The shard the epoch context assigns this validator. */
  readonly shard: number;
  /** Hex public key. */
  readonly publicKey: string;
  /** Client port (HTTP API, stream). */
  readonly port: number;
  /** Peer port (`/peer`). */
  readonly peerPort: number;
  readonly keyFile: string;
  readonly configFile: string;
  readonly dataDir: string;
}

export interface DevnetLayout {
  readonly genesisFile: string;
  readonly genesis: Genesis;
  /** Epoch 0 of the genesis: who serves which shard. */
  readonly context: EpochContext;
  /** `deriveTestAccounts(seed, accounts)`: the funded accounts, in genesis output order. */
  readonly accounts: readonly KeyPair[];
  readonly validators: readonly DevnetValidatorFiles[];
  readonly accountKeyFiles: readonly string[];
}

/**
 * The ports of `validators` validators laid out from `basePort` (`--base-port`): validator i
 * serves clients on basePort + i and peers on basePort + validators + i, so the client ports
 * stay the contiguous block they were before peers had a port of their own.
 */
export function portsFromBase(basePort: number, validators: number): { ports: number[]; peerPorts: number[] } {
  const ports = Array.from({ length: validators }, (_, i) => basePort + i);
  return { ports, peerPorts: ports.map((port) => port + validators) };
}

/** Writes the devnet described by `options` into `options.dir` (file comment) and says what is where. */
export function writeDevnetFiles(options: DevnetFilesOptions): DevnetLayout {
  const { dir, host, ports, peerPorts, consensus } = options;
  check<DevnetErrorCode>(ports.length === options.validators && peerPorts.length === options.validators, "DEVNET_BAD_OPTION",
    `${options.validators} validator(s) need as many client and peer ports, got ${ports.length} and ${peerPorts.length}`);
  check<DevnetErrorCode>(new Set([...ports, ...peerPorts]).size === 2 * options.validators, "DEVNET_BAD_OPTION", "every client and peer port must be distinct");
  check<DevnetErrorCode>(consensus !== "pob" || options.pob !== undefined, "DEVNET_BAD_OPTION", "consensus pob needs a PoB policy in the genesis");
  const accountKeyFiles = options.accountKeyFiles ?? 0;
  check<DevnetErrorCode>(Number.isInteger(accountKeyFiles) && accountKeyFiles >= 0 && accountKeyFiles <= options.accounts, "DEVNET_BAD_OPTION",
    `account key files must be an integer in 0..${options.accounts}, got ${accountKeyFiles}`);
  const { genesis, accounts, validators: keys } = makeTestGenesis({
    seed: options.seed,
    shardCount: options.shards,
    accounts: options.accounts,
    amount: options.amount,
    validators: options.validators,
    timestamp: options.timestamp,
    ...(options.pob === undefined ? {} : { pob: options.pob }),
    ...(options.epochLength === undefined ? {} : { epochLength: options.epochLength }),
  });
  const context = genesisEpochContext(genesis);
  const force = options.force === true;
  const urlOf = new Map(keys.map((pair, i) => [toHex(pair.publicKey), `ws://${host}:${peerPorts[i]}/peer`]));

  const genesisFile = join(dir, GENESIS_FILE);
  writeNewFile(genesisFile, `${genesisToJson(genesis)}\n`, force);
  const validators = keys.map((pair, index): DevnetValidatorFiles => {
    const publicKey = toHex(pair.publicKey);
    const shard = context.shardOf(pair.publicKey)!;
    const keyFile = join(dir, `validator-${index}.key.json`);
    const configFile = join(dir, `validator-${index}.config.json`);
    const dataDir = `data/validator-${index}`;
    const peers = keys.map((other) => toHex(other.publicKey)).filter((peer) => peer !== publicKey).map((peer) => ({ publicKey: peer, url: urlOf.get(peer) }));
    writeNewFile(keyFile, keyFileJson(pair), force, 0o600);
    const config = nodeConfigJson({
      genesis: GENESIS_FILE,
      key: `validator-${index}.key.json`,
      dataDir,
      listen: { host, port: ports[index]!, peerPort: peerPorts[index]! },
      peers,
      ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
      ...(consensus === "solo" ? {} : {
        consensus: {
          mode: consensus,
          ...(options.idleBlockMs === undefined ? {} : { idleBlockMs: options.idleBlockMs }),
          ...(options.minHeightIntervalMs === undefined ? {} : { minHeightIntervalMs: options.minHeightIntervalMs }),
        },
      }),
    });
    writeNewFile(configFile, config, force);
    return { index, shard, publicKey, port: ports[index]!, peerPort: peerPorts[index]!, keyFile, configFile, dataDir: join(dir, dataDir) };
  });
  const accountFiles = accounts.slice(0, accountKeyFiles).map((pair, j) => {
    const file = join(dir, `account-${j}.key.json`);
    writeNewFile(file, keyFileJson(pair), force, 0o600);
    return file;
  });
  return { genesisFile, genesis, context, accounts, validators, accountKeyFiles: accountFiles };
}
