/**
 * The devnet launcher: a whole IOSChain network of validator processes on 127.0.0.1.
 *
 * Phases of `startDevnet`:
 *  1. files: the ports come first (below), then `writeDevnetFiles` (files.ts) writes genesis,
 *     validator keys and node configurations once, for M shards × K validators, with this
 *     devnet's pipeline settings and every peer's URL; the genesis's epoch context deals the
 *     validators out to the shards (K each). The genesis funds `accounts` workload accounts
 *     (`deriveTestAccounts(seed, accounts)`) and, after them, reserve accounts of which one per
 *     shard becomes that shard's "probe" (below), so the workload's balances are untouched.
 *  2. launch: one OS process per validator, `node --import parent-watch.js dist/src/cli/main.js
 *     node --config FILE`, stdout and stderr appended to logs/validator-<i>.log. The preloaded
 *     parent watch makes a validator stop itself when the launcher disappears (no orphans, even
 *     after SIGKILL); `stop()` and a SIGINT/SIGTERM of the CLI stop them explicitly.
 *  3. ready: GET /v1/status on every validator until it answers.
 *  4. finalize: a validator commits blocks only when it has transactions, so each shard's probe
 *     sends its genesis output back to itself (fee 0: supply unchanged) through every validator
 *     of the shard, and the launcher waits until every validator's tip is at height ≥ 1.
 *  5. agreement: per shard, the hashes of block 1 on all its validators are compared. With K > 1
 *     the configurations select BFT shard consensus, so equal hashes are expected; a difference
 *     is reported, never hidden (`consensus: false`), and callers refuse to measure such a run.
 *
 * Ports: each validator has a client port and a peer port. The launcher asks the OS for free
 * ports (binds 127.0.0.1:0 twice per validator at once, reads the ports, closes the sockets)
 * before writing the configurations, because every validator must know its peers' URLs before
 * it starts. Another program could take a port in between; the validator would then fail to
 * listen and `startDevnet` reports DEVNET_NODE_EXITED with its log. `basePort` instead uses
 * `portsFromBase` (files.ts): clients on basePort + i, peers on basePort + N + i.
 *
 * The run is described in DIR/devnet.json (`DevnetManifest`), which `ios load --devnet DIR` reads.
 *
 * API: `startDevnet(options): Promise<Devnet>`, `readDevnetManifest(dir)`, `streamEndpoints(manifest)`,
 * `validatorProcesses(manifest)`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../api/client.js";
import { MIN_NORMAL_LEAGUE } from "../consensus/pob/policy.js";
import { consensusModeOf, devnetPobPolicy, maxBelievableOf } from "./consensus-mode.js";
import { portsFromBase, writeDevnetFiles, type DevnetLayout } from "./files.js";
import { MAX_EPOCH_LENGTH, genesisTxid, type Genesis } from "../ledger/genesis.js";
import type { KeyPair } from "../ledger/keys.js";
import { shardOfOwner } from "../ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../ledger/transaction.js";
import type { CpuProcess } from "../load/metrics.js";
import { IosError, check } from "../errors.js";
import type { DevnetErrorCode } from "./errors.js";

export const MANIFEST_FILE = "devnet.json";
export const MANIFEST_SCHEMA = "ioschain.devnet/1";
const CLI_MAIN = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const PARENT_WATCH = new URL("./parent-watch.js", import.meta.url).href;

/** Reserve accounts after the workload's: with 16 per shard, a shard lacks a probe with probability ≈ M·e^-16. */
const RESERVE_ACCOUNTS_PER_SHARD = 16;
const DEFAULT_AMOUNT = 1_000_000n;
/** Short blocks keep final latency low; 50 ms stays well above timer granularity. */
const DEFAULT_BLOCK_INTERVAL_MS = 50;
const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 100;
const MAX_VALIDATORS = 256;

export interface DevnetOptions {
  readonly shards: number;
  readonly validatorsPerShard: number;
  /**
   * Believable validators per shard (white paper §7.2). With K > 1 validators per shard, B ≥ 1
   * runs Proof-of-Believability (B producers, a normal league of K − B) and B = 0 the one-league
   * BFT fallback, where every validator verifies every transaction; a lone validator is solo.
   */
  readonly believable: number;
  /** PoB sampling probability p; default 0.1 (`ios genesis`'s). */
  readonly samplingProbability?: number;
  /** The genesis's epoch length L (final blocks per shard per epoch); default: one endless epoch. */
  readonly epochLength?: number;
  /** Directory for genesis, keys, configurations, data and logs: must be absent or empty. */
  readonly dir: string;
  /** Seed of every key (test keys). */
  readonly seed: string;
  /** Funded workload accounts, `deriveTestAccounts(seed, accounts)`. */
  readonly accounts: number;
  /** Funds per account; default 1,000,000. */
  readonly amount?: bigint;
  /** Of N validators, validator i serves clients on basePort + i and peers on basePort + N + i; default: free ports from the OS. */
  readonly basePort?: number;
  /** Verifier threads per validator; default max(1, ⌊cores / validators⌋). */
  readonly workers?: number;
  readonly blockIntervalMs?: number;
  readonly maxPendingTxs?: number;
  /** Extra Node flags for validator i (e.g. ["--cpu-prof", "--cpu-prof-dir", DIR]). */
  readonly nodeArgs?: (validator: number) => readonly string[];
  /** How long validators may take to answer and to finalize their first block; default 60 s. */
  readonly readyTimeoutMs?: number;
}

export interface ValidatorInfo {
  readonly index: number;
  readonly shard: number;
  readonly publicKey: string;
  /** Client port. */
  readonly port: number;
  /** Peer port (ws://127.0.0.1:PEERPORT/peer). */
  readonly peerPort: number;
  /** Client API base URL, http://127.0.0.1:PORT */
  readonly http: string;
  /** WebSocket stream URL, ws://127.0.0.1:PORT/v1/stream */
  readonly stream: string;
  readonly pid: number;
  readonly config: string;
  readonly dataDir: string;
  readonly log: string;
}

export interface ShardAgreement {
  readonly shard: number;
  /** Every validator of the shard holds the same block 1. */
  readonly agreed: boolean;
  /** Block 1's hash on each validator of the shard, in validator order. */
  readonly blockHashes: readonly string[];
}

export interface DevnetManifest {
  readonly schema: typeof MANIFEST_SCHEMA;
  readonly dir: string;
  readonly seed: string;
  readonly shards: number;
  readonly validatorsPerShard: number;
  readonly believable: number;
  readonly accounts: number;
  readonly amount: string;
  readonly genesis: string;
  readonly logs: string;
  readonly launcherPid: number;
  readonly validators: readonly ValidatorInfo[];
  readonly agreement: readonly ShardAgreement[];
}

export interface Devnet {
  readonly manifest: DevnetManifest;
  readonly genesis: Genesis;
  /** The workload accounts, `deriveTestAccounts(seed, accounts)`. */
  readonly accounts: readonly KeyPair[];
  /** Every validator's stream URL (the load driver's `endpoints`: it reads each one's shard as epochs switch). */
  readonly endpoints: readonly string[];
  /** True when every shard's validators agree (always true with one validator per shard). */
  readonly consensus: boolean;
  /** SIGTERM every validator, wait for a clean exit, SIGKILL what is left after `timeoutMs`. Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves when any validator exits by itself (not through `stop`), with its index and exit code. */
  readonly unexpectedExit: Promise<{ index: number; code: number | null; signal: NodeJS.Signals | null }>;
}

function checkOptions(options: DevnetOptions): void {
  const { shards, validatorsPerShard, believable, accounts, seed } = options;
  check<DevnetErrorCode>(Number.isInteger(shards) && shards >= 1 && shards <= 64, "DEVNET_BAD_OPTION", `shards must be an integer in 1..64, got ${shards}`);
  check<DevnetErrorCode>(Number.isInteger(validatorsPerShard) && validatorsPerShard >= 1, "DEVNET_BAD_OPTION", `validators per shard must be a positive integer, got ${validatorsPerShard}`);
  check<DevnetErrorCode>(shards * validatorsPerShard <= MAX_VALIDATORS, "DEVNET_BAD_OPTION", `shards × validators per shard must be at most ${MAX_VALIDATORS} processes, got ${shards * validatorsPerShard}`);
  const maxBelievable = maxBelievableOf(validatorsPerShard);
  check<DevnetErrorCode>(Number.isInteger(believable) && believable >= 0 && believable <= maxBelievable, "DEVNET_BAD_OPTION",
    `believable must be an integer in 0..${maxBelievable} (a normal league keeps at least ${MIN_NORMAL_LEAGUE} of the ${validatorsPerShard} validators per shard), got ${believable}`);
  const p = options.samplingProbability;
  if (p !== undefined) check<DevnetErrorCode>(typeof p === "number" && p > 0 && p <= 1, "DEVNET_BAD_OPTION", `sampling probability must be in (0, 1], got ${p}`);
  const { epochLength } = options;
  if (epochLength !== undefined) {
    check<DevnetErrorCode>(Number.isInteger(epochLength) && epochLength >= 1 && epochLength <= MAX_EPOCH_LENGTH, "DEVNET_BAD_OPTION", `epoch length must be an integer in 1..${MAX_EPOCH_LENGTH}, got ${epochLength}`);
  }
  check<DevnetErrorCode>(Number.isInteger(accounts) && accounts >= 1 && accounts <= 1 << 20, "DEVNET_BAD_OPTION", `accounts must be an integer in 1..${1 << 20}, got ${accounts}`);
  check<DevnetErrorCode>(typeof seed === "string" && seed.length > 0, "DEVNET_BAD_OPTION", "seed must be a non-empty string");
  const amount = options.amount ?? DEFAULT_AMOUNT;
  check<DevnetErrorCode>(typeof amount === "bigint" && amount >= 1n, "DEVNET_BAD_OPTION", "amount must be a positive bigint");
  if (options.basePort !== undefined) {
    check<DevnetErrorCode>(Number.isInteger(options.basePort) && options.basePort >= 1024 && options.basePort + 2 * shards * validatorsPerShard <= 65_536, "DEVNET_BAD_OPTION", `base port must leave room for every validator's client and peer port below 65536, got ${options.basePort}`);
  }
  if (options.workers !== undefined) check<DevnetErrorCode>(Number.isInteger(options.workers) && options.workers >= 1 && options.workers <= 64, "DEVNET_BAD_OPTION", `workers must be an integer in 1..64, got ${options.workers}`);
}

/** `count` distinct free TCP ports on 127.0.0.1 (held together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((ok, fail) => {
        server.once("error", fail);
        server.listen(0, "127.0.0.1", () => ok());
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === "string") throw new IosError<DevnetErrorCode>("DEVNET_NO_PORT", "the OS gave no TCP port for 127.0.0.1:0");
      return address.port;
    });
  } catch (error) {
    if (error instanceof IosError) throw error;
    throw new IosError<DevnetErrorCode>("DEVNET_NO_PORT", `cannot bind 127.0.0.1:0: ${(error as Error).message}`);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((ok) => (server.listening ? server.close(() => ok()) : ok()))));
  }
}

/** Free ports for N validators, 2N of them: the first half for clients, the second for peers. */
function splitPorts(free: readonly number[]): { ports: number[]; peerPorts: number[] } {
  const half = free.length / 2;
  return { ports: free.slice(0, half), peerPorts: free.slice(half) };
}

/** The funded reserve account of each shard (the accounts after the workload's `accounts`): its key and genesis output index. */
function probesOf(layout: DevnetLayout, seed: string, accounts: number): { pair: KeyPair; output: number }[] {
  const { genesis } = layout;
  const reserved = layout.accounts.slice(accounts);
  return Array.from({ length: genesis.shardCount }, (_, shard) => {
    const pair = reserved.find((p) => shardOfOwner(p.publicKey, genesis.shardCount) === shard);
    check<DevnetErrorCode>(pair !== undefined, "DEVNET_BAD_OPTION", `none of the ${reserved.length} reserve accounts of seed ${JSON.stringify(seed)} falls in shard ${shard}; choose another seed`);
    const output = genesis.outputs.findIndex((o) => Buffer.from(o.owner).equals(pair.publicKey));
    check<DevnetErrorCode>(output >= 0, "DEVNET_BAD_OPTION", `the genesis does not fund the probe account of shard ${shard}`);
    return { pair, output };
  });
}

function logTail(file: string, bytes = 2000): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.slice(-bytes).trim();
  } catch {
    // The validator never got as far as writing its log; the caller's error says what failed.
    return "(no log)";
  }
}

/** A validator child and how it ended. */
interface Child {
  readonly info: Omit<ValidatorInfo, "pid">;
  readonly process: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
}

/** Starts the devnet described by `options` (phases in the file comment). */
export async function startDevnet(options: DevnetOptions): Promise<Devnet> {
  checkOptions(options);
  const dir = resolve(options.dir);
  check<DevnetErrorCode>(!existsSync(dir) || readdirSync(dir).length === 0, "DEVNET_DIR_NOT_EMPTY", `${dir} is not empty; give a new or empty directory`);
  mkdirSync(dir, { recursive: true });
  const validatorCount = options.shards * options.validatorsPerShard;
  const reserve = RESERVE_ACCOUNTS_PER_SHARD * options.shards;
  const amount = options.amount ?? DEFAULT_AMOUNT;
  const mode = consensusModeOf(options);
  const ports = options.basePort === undefined ? splitPorts(await freePorts(2 * validatorCount)) : portsFromBase(options.basePort, validatorCount);
  const layout = writeDevnetFiles({
    dir,
    seed: options.seed,
    shards: options.shards,
    validators: validatorCount,
    accounts: options.accounts + reserve,
    amount,
    timestamp: Date.now(),
    host: "127.0.0.1",
    ...ports,
    // A lone validator commits alone; several agree by PoB with believable producers, or by one-league BFT.
    consensus: mode,
    ...(mode === "pob" ? { pob: devnetPobPolicy(options) } : {}),
    ...(options.epochLength === undefined ? {} : { epochLength: options.epochLength }),
    pipeline: {
      workers: options.workers ?? Math.max(1, Math.floor(availableParallelism() / validatorCount)),
      blockIntervalMs: options.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS,
      ...(options.maxPendingTxs === undefined ? {} : { maxPendingTxs: options.maxPendingTxs }),
    },
  });
  const { genesis, genesisFile } = layout;
  const probes = probesOf(layout, options.seed, options.accounts);
  const logs = join(dir, "logs");
  mkdirSync(logs, { recursive: true });
  const infos = layout.validators.map((v): Omit<ValidatorInfo, "pid"> => ({
    index: v.index,
    shard: v.shard,
    publicKey: v.publicKey,
    port: v.port,
    peerPort: v.peerPort,
    http: `http://127.0.0.1:${v.port}`,
    stream: `ws://127.0.0.1:${v.port}/v1/stream`,
    config: v.configFile,
    dataDir: v.dataDir,
    log: join(logs, `validator-${v.index}.log`),
  }));

  // Phase 2.
  const children: Child[] = infos.map((info) => {
    const fd = openSync(info.log, "a");
    const args = [...(options.nodeArgs?.(info.index) ?? []), "--import", PARENT_WATCH, CLI_MAIN, "node", "--config", info.config];
    const child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd], cwd: dir });
    closeSync(fd);
    const entry: Child = {
      info,
      process: child,
      exit: undefined,
      exited: new Promise<void>((done) => {
        child.once("exit", (code, signal) => {
          entry.exit = { code, signal };
          done();
        });
        child.once("error", () => {
          entry.exit ??= { code: null, signal: null };
          done();
        });
      }),
    };
    return entry;
  });
  let stopping: Promise<void> | undefined;
  const killAll = () => {
    for (const child of children) if (child.exit === undefined) child.process.kill("SIGKILL");
  };
  // Last resort if the launcher exits without stop(): the children must not outlive it.
  process.once("exit", killAll);
  const stop = (timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> => {
    stopping ??= (async () => {
      for (const child of children) if (child.exit === undefined) child.process.kill("SIGTERM");
      const all = Promise.all(children.map((c) => c.exited));
      const timer = sleep(timeoutMs).then(() => "timeout" as const);
      if ((await Promise.race([all, timer])) === "timeout") killAll();
      await all;
      process.off("exit", killAll);
    })();
    return stopping;
  };
  const unexpectedExit = new Promise<{ index: number; code: number | null; signal: NodeJS.Signals | null }>((report) => {
    for (const child of children) {
      void child.exited.then(() => {
        if (stopping === undefined) report({ index: child.info.index, ...child.exit! });
      });
    }
  });

  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    const clients = infos.map((info) => new ApiClient(info.http));
    const alive = () => {
      for (const child of children) {
        if (child.exit !== undefined) {
          throw new IosError<DevnetErrorCode>("DEVNET_NODE_EXITED", `validator ${child.info.index} exited (code ${child.exit.code}, signal ${child.exit.signal}) while starting; its log ${child.info.log} ends with:\n${logTail(child.info.log)}`);
        }
      }
    };
    // Phase 3.
    await Promise.all(
      clients.map(async (client, i) => {
        for (;;) {
          alive();
          try {
            await client.status();
            return;
          } catch {
            // Not listening yet: polled again until the deadline, which fails loudly.
            if (Date.now() > deadline) throw new IosError<DevnetErrorCode>("DEVNET_NOT_READY", `validator ${i} did not answer GET /v1/status at ${infos[i]!.http} in time; see ${infos[i]!.log}`);
            await sleep(POLL_MS);
          }
        }
      }),
    );
    // Phase 4.
    const genesisId = genesisTxid(genesis);
    await Promise.all(
      probes.map(async ({ pair, output }, shard) => {
        const { transaction } = signTransaction(
          { kind: TxKind.Transfer, inputs: [{ txid: genesisId, index: output, owner: pair.publicKey }], outputs: [{ owner: pair.publicKey, amount: genesis.outputs[output]!.amount }] },
          [pair],
        );
        const bytes = encodeTransaction(transaction);
        const members = infos.filter((info) => info.shard === shard);
        // Every member gets the probe (a solo validator only commits what it received); with shard
        // consensus a member may already hold it and refuse it, which is fine while one accepted.
        const submissions = await Promise.allSettled(members.map((member) => clients[member.index]!.submitTransaction(bytes)));
        if (submissions.every((s) => s.status === "rejected")) {
          throw new IosError<DevnetErrorCode>("DEVNET_NOT_FINAL", `no validator of shard ${shard} accepted the probe transfer: ${((submissions[0] as PromiseRejectedResult).reason as Error).message}`);
        }
        for (const member of members) {
          for (;;) {
            alive();
            if ((await clients[member.index]!.status()).tip.height >= 1) break;
            if (Date.now() > deadline) throw new IosError<DevnetErrorCode>("DEVNET_NOT_FINAL", `validator ${member.index} (shard ${shard}) finalized no block in time; see ${member.log}`);
            await sleep(POLL_MS);
          }
        }
      }),
    );
    // Phase 5.
    const agreement = await Promise.all(
      Array.from({ length: options.shards }, async (_, shard): Promise<ShardAgreement> => {
        const members = infos.filter((info) => info.shard === shard);
        const blockHashes = await Promise.all(members.map(async (m) => (await clients[m.index]!.request<{ hash: string }>("GET", "/v1/block/1")).hash));
        return { shard, agreed: blockHashes.every((h) => h === blockHashes[0]), blockHashes };
      }),
    );
    alive();
    const manifest: DevnetManifest = {
      schema: MANIFEST_SCHEMA,
      dir,
      seed: options.seed,
      shards: options.shards,
      validatorsPerShard: options.validatorsPerShard,
      believable: options.believable,
      accounts: options.accounts,
      amount: amount.toString(),
      genesis: genesisFile,
      logs,
      launcherPid: process.pid,
      validators: infos.map((info, i) => ({ ...info, pid: children[i]!.process.pid! })),
      agreement,
    };
    writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return {
      manifest,
      genesis,
      accounts: layout.accounts.slice(0, options.accounts),
      endpoints: streamEndpoints(manifest),
      consensus: agreement.every((a) => a.agreed),
      stop,
      unexpectedExit,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every validator's stream URL, in validator order (the shard each serves is its status's, which changes with the epochs). */
export function streamEndpoints(manifest: DevnetManifest): string[] {
  return manifest.validators.map((v) => v.stream);
}

/** The validator processes of a manifest, labelled for the load driver's CPU sampling. */
export function validatorProcesses(manifest: DevnetManifest): CpuProcess[] {
  return manifest.validators.map((v) => ({ pid: v.pid, label: `validator ${v.index} (shard ${v.shard})` }));
}

/** Reads DIR/devnet.json, written by a running (or past) devnet. */
export function readDevnetManifest(dir: string): DevnetManifest {
  const file = join(resolve(dir), MANIFEST_FILE);
  let manifest: DevnetManifest;
  try {
    manifest = JSON.parse(readFileSync(file, "utf8")) as DevnetManifest;
  } catch (error) {
    throw new IosError<DevnetErrorCode>("DEVNET_BAD_MANIFEST", `cannot read ${file} (${(error as Error).message}); is DIR the --dir of a running \`ios devnet\`?`);
  }
  check<DevnetErrorCode>(manifest.schema === MANIFEST_SCHEMA, "DEVNET_BAD_MANIFEST", `${file}: schema is ${JSON.stringify(manifest.schema)}, not ${MANIFEST_SCHEMA}`);
  check<DevnetErrorCode>(Array.isArray(manifest.validators) && manifest.validators.length > 0, "DEVNET_BAD_MANIFEST", `${file}: lists no validators`);
  return manifest;
}
