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
 *     node --config FILE` (with `--single-threaded` when the validators are at least as many as
 *     the cores: `v8BackgroundThreadsByDefault`; always with `--no-flush-bytecode`, so rarely run
 *     functions keep their bytecode and feedback: normal member ×0.91, median of 5 alternated
 *     cpu-role pairs, `cpu-role-s29-keep-bytecode-ab.json`), stdout and stderr appended to
 *     logs/validator-<i>.log. The preloaded
 *     parent watch makes a validator stop itself when the launcher disappears (no orphans, even
 *     after SIGKILL); `stop()` and a SIGINT/SIGTERM of the CLI stop them explicitly.
 *  3. ready: GET /v1/status on every validator until it answers.
 *  4. finalize: a validator commits blocks only when it has transactions, so each shard's probe
 *     sends its genesis output back to itself (fee 0: supply unchanged) through every validator
 *     of the shard, and the launcher waits until every validator's tip is at height ≥ 1.
 *  5. agreement: per shard, the hashes of block 1 on all its validators are compared. With K > 1
 *     the configurations select BFT shard consensus, so equal hashes are expected; a difference
 *     is reported, never hidden (`consensus: false`), and callers refuse to measure such a run.
 *     Each validator's league at launch (believable, normal, bft, solo) is read from its status.
 *  6. run: a validator that exits by itself (crash, SIGKILL from outside) is reported to the
 *     `onExit` listeners (index, shard, league, pid, code or signal, log) and the others keep
 *     running. `stopValidator`, `restartValidator` (same data directory and configuration; the
 *     manifest is rewritten with the new pid), `pauseValidator` (SIGSTOP) and `resumeValidator`
 *     (SIGCONT) act on one validator; commands on one validator run one after another, and an exit
 *     they cause is no fault. `ios devnet` exposes them to other terminals (src/devnet/control.ts).
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
 * API: `startDevnet(options): Promise<Devnet>` (with `validators()`, `onExit`, `stopValidator`,
 * `restartValidator`, `pauseValidator`, `resumeValidator`), `readDevnetManifest(dir)`,
 * `streamEndpoints(manifest)`, `validatorProcesses(manifest)`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ApiClient, type StatusJson } from "../api/client.js";
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
import { KEEP_BYTECODE_V8, SINGLE_THREADED_V8 } from "../runtime/worker-exec-argv.js";
import { MAX_BLOCK_INTERVAL_MS } from "../node/config.js";
import { releaseSocketDirectory } from "../node/socket-dir.js";

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
  /**
   * Every validator's idle heartbeat: an idle shard decides an empty height this often
   * (`consensus.idleBlockMs`; default the node's, 5 s). Tests passing epochs while idle shorten it.
   */
  readonly idleHeartbeatMs?: number;
  /** PoB: every validator's heights' spacing (`consensus.minHeightIntervalMs`; default the node's, 150 ms). */
  readonly minHeightIntervalMs?: number;
  readonly maxPendingTxs?: number;
  /** Extra Node flags for validator i (e.g. ["--cpu-prof", "--cpu-prof-dir", DIR]). */
  readonly nodeArgs?: (validator: number) => readonly string[];
  /**
   * Whether each validator's V8 runs its background threads (concurrent compilation, parallel and
   * concurrent GC); false starts every validator with `--single-threaded`. Default
   * `v8BackgroundThreadsByDefault(validators)`: off when the validators are at least as many as
   * the machine's cores.
   */
  readonly v8BackgroundThreads?: boolean;
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
  /** Its league at launch, from its GET /v1/status: "believable" or "normal" (PoB), "bft", "solo". */
  readonly league: League;
}

export type League = "believable" | "normal" | "bft" | "solo";

/**
 * A validator process as the launcher sees it: running, paused (SIGSTOP), stopped (by a stop or
 * restart command, or the devnet's stop) or exited (by itself: crashed or killed from outside).
 */
export type ValidatorState = "running" | "paused" | "stopped" | "exited";

export interface ValidatorView {
  readonly index: number;
  readonly shard: number;
  readonly league: League;
  /** The pid of its current (or last) process. */
  readonly pid: number;
  readonly state: ValidatorState;
  readonly http: string;
  readonly log: string;
  /** Processes started after the first (restart commands). */
  readonly restarts: number;
  /** How its last process ended, once it did. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | null;
}

/** A validator that exited by itself (not through a stop or restart command, nor the devnet's stop). */
export interface ValidatorExit {
  readonly index: number;
  readonly shard: number;
  readonly league: League;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
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
  /** Whether the validators run V8's background threads (false: `--single-threaded`; DevnetOptions `v8BackgroundThreads`). */
  readonly v8BackgroundThreads: boolean;
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
  /** Resolves when any validator first exits by itself (not through `stop` or a command): what exited, how. */
  readonly unexpectedExit: Promise<ValidatorExit>;
  /** Calls `listener` each time a validator exits by itself; the others keep running. Returns the unsubscribe. */
  onExit(listener: (exit: ValidatorExit) => void): () => void;
  /** Every validator's pid, state, shard and URL, in validator order. */
  validators(): ValidatorView[];
  /**
   * Starts validator `index` again, with its data directory and configuration, after stopping it
   * when it runs (or is paused); resolves once it answers GET /v1/status. DEVNET_NO_VALIDATOR for a
   * bad index, DEVNET_NODE_EXITED when the new process exits before answering.
   */
  restartValidator(index: number): Promise<ValidatorView>;
  /** SIGTERM validator `index` (SIGKILL after the stop timeout); its state becomes "stopped". Idempotent. */
  stopValidator(index: number): Promise<ValidatorView>;
  /** SIGSTOP validator `index`: it stays alive but answers nothing. DEVNET_BAD_STATE unless it runs. */
  pauseValidator(index: number): ValidatorView;
  /** SIGCONT a paused validator `index`. DEVNET_BAD_STATE unless it is paused. */
  resumeValidator(index: number): ValidatorView;
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
  const spacing = options.minHeightIntervalMs;
  if (spacing !== undefined) {
    check<DevnetErrorCode>(consensusModeOf(options) === "pob", "DEVNET_BAD_OPTION", "the heights' spacing (minHeightIntervalMs) applies to Proof-of-Believability devnets only");
    check<DevnetErrorCode>(Number.isInteger(spacing) && spacing >= 0 && spacing <= MAX_BLOCK_INTERVAL_MS, "DEVNET_BAD_OPTION", `minHeightIntervalMs must be an integer in 0..${MAX_BLOCK_INTERVAL_MS}, got ${spacing}`);
  }
}

/**
 * Whether a devnet of `validators` processes leaves V8's background threads on. A devnet packs
 * its validators onto one machine: with at least one per core, each process's background threads
 * (four per process by default) take cores from the other validators rather than idle ones, and
 * cost more than the same work does on the main thread. Measured on the default 2 × 5 on 2 cores
 * (bench/cpu-role, `cpu-role-s27-v8-threads-ab.json`, medians of 8 and 12 interleaved pairs) with
 * `--single-threaded`: a normal validator's CPU per final transaction ×0.90 and ×0.93, the
 * producer's ×0.96, final throughput ×1.08 and ×1.06, final and optimistic p50 ×0.95. A
 * validator with cores to spare keeps them.
 */
export function v8BackgroundThreadsByDefault(validators: number, cores = availableParallelism()): boolean {
  return validators < cores;
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

/** A validator slot: its current process, how that ended, and what the launcher made of it. */
interface Child {
  readonly info: Omit<ValidatorInfo, "pid" | "league">;
  league: League;
  process: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
  /** Paused by SIGSTOP (still alive). */
  paused: boolean;
  /** The launcher ended this process (stop or restart command, or the devnet's stop): its exit is no fault. */
  stopRequested: boolean;
  restarts: number;
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
    ...(options.idleHeartbeatMs === undefined ? {} : { idleBlockMs: options.idleHeartbeatMs }),
    ...(options.minHeightIntervalMs === undefined ? {} : { minHeightIntervalMs: options.minHeightIntervalMs }),
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
  const infos = layout.validators.map((v): Omit<ValidatorInfo, "pid" | "league"> => ({
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
  const v8BackgroundThreads = options.v8BackgroundThreads ?? v8BackgroundThreadsByDefault(validatorCount);
  const v8Args = [KEEP_BYTECODE_V8, ...(v8BackgroundThreads ? [] : [SINGLE_THREADED_V8])];
  const spawnValidator = (info: Child["info"]): Pick<Child, "process" | "exited"> & { readonly settle: (child: Child) => void } => {
    const fd = openSync(info.log, "a");
    const args = [...v8Args, ...(options.nodeArgs?.(info.index) ?? []), "--import", PARENT_WATCH, CLI_MAIN, "node", "--config", info.config];
    const child = spawn(process.execPath, args, { stdio: ["ignore", fd, fd], cwd: dir });
    closeSync(fd);
    let settle = (_: Child): void => undefined;
    const exited = new Promise<void>((done) => {
      settle = (entry: Child) => {
        child.once("exit", (code, signal) => {
          entry.exit = { code, signal };
          // A validator killed without its stop leaves its socket directory: nobody else would remove it.
          if (child.pid !== undefined) releaseSocketDirectory(info.dataDir, child.pid);
          done();
        });
        child.once("error", () => {
          entry.exit ??= { code: null, signal: null };
          done();
        });
      };
    });
    return { process: child, exited, settle };
  };
  const exitListeners = new Set<(exit: ValidatorExit) => void>();
  /** Reports the end of `child`'s current process unless the launcher asked for it. */
  const watch = (child: Child, spawned: ReturnType<typeof spawnValidator>): void => {
    child.process = spawned.process;
    child.exit = undefined;
    child.paused = false;
    child.stopRequested = false;
    child.exited = spawned.exited;
    spawned.settle(child);
    const pid = spawned.process.pid ?? -1;
    void spawned.exited.then(() => {
      if (child.stopRequested || stopping !== undefined || child.process !== spawned.process) return;
      const exit: ValidatorExit = { index: child.info.index, shard: child.info.shard, league: child.league, pid, ...child.exit!, log: child.info.log };
      for (const listener of exitListeners) listener(exit);
    });
  };
  const children: Child[] = infos.map((info) => {
    const spawned = spawnValidator(info);
    const child: Child = { info, league: "solo", process: spawned.process, exit: undefined, exited: spawned.exited, paused: false, stopRequested: false, restarts: 0 };
    watch(child, spawned);
    return child;
  });
  let stopping: Promise<void> | undefined;
  const killAll = () => {
    for (const child of children) if (child.exit === undefined) child.process.kill("SIGKILL");
  };
  // Last resort if the launcher exits without stop(): the children must not outlive it.
  process.once("exit", killAll);
  /** SIGTERM one process (SIGCONT first: a stopped process handles no signal but SIGKILL), SIGKILL it after `timeoutMs`. */
  const terminate = async (child: Child, timeoutMs: number): Promise<void> => {
    child.stopRequested = true;
    if (child.exit === undefined) {
      if (child.paused) child.process.kill("SIGCONT");
      child.paused = false;
      child.process.kill("SIGTERM");
    }
    const timer = sleep(timeoutMs).then(() => "timeout" as const);
    if ((await Promise.race([child.exited, timer])) === "timeout" && child.exit === undefined) child.process.kill("SIGKILL");
    await child.exited;
  };
  const stop = (timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(children.map((child) => terminate(child, timeoutMs)));
      process.off("exit", killAll);
    })();
    return stopping;
  };
  const unexpectedExit = new Promise<ValidatorExit>((report) => {
    const once = (exit: ValidatorExit) => {
      exitListeners.delete(once);
      report(exit);
    };
    exitListeners.add(once);
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
    // The league each validator serves at launch (its status's consensus facts): what a fault report names.
    await Promise.all(
      children.map(async (child) => {
        child.league = leagueOf(await clients[child.info.index]!.status(), child.info.publicKey);
      }),
    );
    let manifest: DevnetManifest = {
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
      v8BackgroundThreads,
      validators: children.map((child) => ({ ...child.info, league: child.league, pid: child.process.pid! })),
      agreement,
    };
    /** Rewrites devnet.json with every validator's current pid (after a restart), for `ios load --devnet`'s CPU sampling. */
    const writeManifest = (): void => {
      manifest = { ...manifest, validators: children.map((child) => ({ ...child.info, league: child.league, pid: child.process.pid! })) };
      writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    };
    writeManifest();
    const view = (child: Child): ValidatorView => ({
      index: child.info.index,
      shard: child.info.shard,
      league: child.league,
      pid: child.process.pid ?? -1,
      state: child.exit === undefined ? (child.paused ? "paused" : "running") : child.stopRequested ? "stopped" : "exited",
      http: child.info.http,
      log: child.info.log,
      restarts: child.restarts,
      exit: child.exit ?? null,
    });
    const childAt = (index: number): Child => {
      check<DevnetErrorCode>(Number.isInteger(index) && index >= 0 && index < children.length, "DEVNET_NO_VALIDATOR", `the devnet has validators 0..${children.length - 1}, not ${index}`);
      check<DevnetErrorCode>(stopping === undefined, "DEVNET_BAD_STATE", "the devnet is stopping");
      return children[index]!;
    };
    /** Restarts and stops of one validator run one after another. */
    const busy = new Map<number, Promise<unknown>>();
    const serially = <T>(index: number, action: () => Promise<T>): Promise<T> => {
      const next = (busy.get(index) ?? Promise.resolve()).then(action, action);
      busy.set(index, next.catch(() => undefined));
      return next;
    };
    return {
      get manifest() {
        return manifest;
      },
      genesis,
      accounts: layout.accounts.slice(0, options.accounts),
      endpoints: streamEndpoints(manifest),
      consensus: agreement.every((a) => a.agreed),
      stop,
      unexpectedExit,
      onExit(listener) {
        exitListeners.add(listener);
        return () => exitListeners.delete(listener);
      },
      validators: () => children.map(view),
      stopValidator(index) {
        const child = childAt(index);
        return serially(index, async () => {
          await terminate(child, DEFAULT_STOP_TIMEOUT_MS);
          return view(child);
        });
      },
      restartValidator(index) {
        const child = childAt(index);
        return serially(index, async () => {
          await terminate(child, DEFAULT_STOP_TIMEOUT_MS);
          check<DevnetErrorCode>(stopping === undefined, "DEVNET_BAD_STATE", "the devnet is stopping");
          watch(child, spawnValidator(child.info));
          child.restarts++;
          writeManifest();
          const readyBy = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
          for (;;) {
            if (child.exit !== undefined) {
              throw new IosError<DevnetErrorCode>("DEVNET_NODE_EXITED", `validator ${index} exited again (code ${child.exit.code}, signal ${child.exit.signal}) while restarting; its log ${child.info.log} ends with:\n${logTail(child.info.log)}`);
            }
            try {
              await clients[index]!.status();
              return view(child);
            } catch {
              // Not listening yet: polled again until the deadline.
              if (Date.now() > readyBy) throw new IosError<DevnetErrorCode>("DEVNET_NOT_READY", `validator ${index} did not answer GET /v1/status at ${child.info.http} after its restart; see ${child.info.log}`);
              await sleep(POLL_MS);
            }
          }
        });
      },
      pauseValidator(index) {
        const child = childAt(index);
        check<DevnetErrorCode>(child.exit === undefined && !child.paused, "DEVNET_BAD_STATE", `validator ${index} is ${view(child).state}; only a running validator can be paused`);
        child.process.kill("SIGSTOP");
        child.paused = true;
        return view(child);
      },
      resumeValidator(index) {
        const child = childAt(index);
        check<DevnetErrorCode>(child.exit === undefined && child.paused, "DEVNET_BAD_STATE", `validator ${index} is ${view(child).state}; only a paused validator can be resumed`);
        child.process.kill("SIGCONT");
        child.paused = false;
        return view(child);
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A validator's league from its GET /v1/status consensus facts (`consensus.mode`, `consensus.believable`). */
function leagueOf(status: StatusJson, publicKey: string): League {
  const facts = typeof status.consensus === "object" && status.consensus !== null ? (status.consensus as Record<string, unknown>) : {};
  if (facts.mode === "pob") return Array.isArray(facts.believable) && facts.believable.includes(publicKey) ? "believable" : "normal";
  return facts.mode === "bft" ? "bft" : "solo";
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
