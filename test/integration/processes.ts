/**
 * A one-shard network of `ios node` processes on 127.0.0.1 ephemeral ports, for the multi-process
 * tests and bench/shard.bench.ts. `ios genesis --consensus bft` (or `pob`) writes the genesis and keys; each
 * configuration is then rewritten with ports 0 and its peers' URLs (their peer ports) as they become known (ephemeral
 * ports: no port can be taken by another program between choosing and listening). The transport's lower public
 * key dials, so validators start from the highest key down, each knowing the URLs of those
 * already listening. Callers must `stopAll` (SIGKILL) in a finally/after hook: no orphans.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../../src/api/client.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { parseGenesis, type Genesis } from "../../src/ledger/genesis.js";
import { nodeConfigJson, type ConsensusSettings, type PipelineSettings } from "../../src/node/config.js";
import { releaseSocketDirectory } from "../../src/node/socket-dir.js";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface ValidatorProcess {
  readonly index: number;
  readonly publicKey: string;
  readonly config: string;
  readonly dataDir: string;
  child: ChildProcess | undefined;
  port: number;
  /** The peer port its peers dial (`listen.peerPort`). */
  peerPort: number;
  api: ApiClient | undefined;
}

export interface ShardNetwork {
  readonly genesis: Genesis;
  readonly validators: ValidatorProcess[];
}

export interface ShardNetworkOptions {
  readonly directory: string;
  readonly validators: number;
  readonly accounts: number;
  readonly seed: string;
  readonly pipeline: Partial<PipelineSettings>;
  readonly consensus: ConsensusSettings;
  /** With consensus mode "pob": believable validators and sampling probability of the genesis policy. */
  readonly pob?: { readonly believable: number; readonly samplingProbability: number };
  /** A validator the test plays itself (see `StandIn`), chosen once the genesis exists; `ios node` runs the others. */
  readonly standIn?: (genesis: Genesis) => StandIn;
}

/**
 * A validator the test process plays instead of `ios node` (a byzantine one speaking the real
 * peer protocol): `start` gets the peer URLs known when its turn comes (undefined: that peer dials
 * it) and resolves with the peer port it listens on.
 */
export interface StandIn {
  readonly publicKey: string;
  start(peers: ReadonlyMap<string, string | undefined>): Promise<number>;
}

/** Starts `ios node` and resolves once it prints its listen lines (with the client and peer ports). */
export function startProcess(validator: ValidatorProcess): Promise<void> {
  const child = spawn(process.execPath, [CLI, "node", "--config", validator.config], { stdio: ["ignore", "pipe", "pipe"] });
  validator.child = child;
  let output = "";
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`validator ${validator.index} exited (${code}) before listening:\n${output}`));
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\n.*peers on ws:\/\/127\.0\.0\.1:(\d+)\/peer/.exec(output);
      if (match === null) return;
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      child.stdout!.resume();
      validator.port = Number(match[1]);
      validator.peerPort = Number(match[2]);
      validator.api = new ApiClient(`http://127.0.0.1:${validator.port}`);
      resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", onExit);
  });
}

/** Sends `signal` and waits for the exit (at once if not running). */
export function stopProcess(validator: ValidatorProcess, signal: NodeJS.Signals): Promise<void> {
  const child = validator.child;
  validator.child = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => {
      // A SIGKILLed node leaves its socket directory (src/node/socket-dir.ts).
      if (child.pid !== undefined) releaseSocketDirectory(validator.dataDir, child.pid);
      resolve();
    });
    child.kill(signal);
  });
}

export async function stopAll(network: { readonly validators: readonly ValidatorProcess[] } | undefined, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (network !== undefined) await Promise.all(network.validators.map((v) => stopProcess(v, signal)));
}

/** Writes the devnet files and starts every validator of shard 0. */
export async function startShardNetwork(options: ShardNetworkOptions, into: { network?: ShardNetwork }): Promise<ShardNetwork> {
  const { directory } = options;
  const made = spawnSync(
    process.execPath,
    [
      CLI, "genesis", "--shards", "1", "--validators", String(options.validators), "--accounts", String(options.accounts), "--seed", options.seed, "--out", directory,
      ...(options.pob === undefined
        ? ["--consensus", "bft"]
        : ["--consensus", "pob", "--believable", String(options.pob.believable), "--sampling-p", String(options.pob.samplingProbability)]),
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`ios genesis failed: ${made.stderr}`);
  const genesis = parseGenesis(readFileSync(join(directory, "genesis.json"), "utf8"));
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
  // One shard: the epoch context puts every validator in it, in genesis order (validator-<i> files).
  const validators = genesisEpochContext(genesis).members(0).map(
    (key, index): ValidatorProcess => ({
      index,
      publicKey: hex(key),
      config: join(directory, `validator-${index}.config.json`),
      dataDir: join(directory, "data", `validator-${index}`),
      child: undefined,
      port: 0,
      peerPort: 0,
      api: undefined,
    }),
  );
  const network: ShardNetwork = { genesis, validators };
  into.network = network;
  await launchShardNetwork(network, { ...options, standIn: options.standIn?.(genesis) });
  return network;
}

/**
 * (Re)starts the validators of `network` from their data directories, highest key first, each
 * configured with the peer ports of those already listening (ports change at every start). The
 * stand-in, if any, takes its turn in that order; validators of `skip` stay down.
 */
export async function launchShardNetwork(
  network: ShardNetwork,
  options: Pick<ShardNetworkOptions, "pipeline" | "consensus"> & { readonly standIn?: StandIn | undefined },
  skip: ReadonlySet<string> = new Set(),
): Promise<void> {
  const { validators } = network;
  const standIn = options.standIn;
  const order = [...validators].sort((a, b) => (a.publicKey < b.publicKey ? 1 : -1)).filter((v) => !skip.has(v.publicKey));
  for (const [k, validator] of order.entries()) {
    const started = new Set(order.slice(0, k).map((v) => v.publicKey));
    const urlOf = (v: ValidatorProcess) => (started.has(v.publicKey) ? `ws://127.0.0.1:${v.peerPort}/peer` : undefined);
    if (validator.publicKey === standIn?.publicKey) {
      validator.peerPort = await standIn.start(new Map(validators.filter((v) => v !== validator).map((v) => [v.publicKey, urlOf(v)])));
      continue;
    }
    const peers = validators.filter((v) => v !== validator).map((v) => ({ publicKey: v.publicKey, url: urlOf(v) }));
    writeFileSync(
      validator.config,
      nodeConfigJson({
        genesis: "genesis.json",
        key: `validator-${validator.index}.key.json`,
        dataDir: `data/validator-${validator.index}`,
        listen: { host: "127.0.0.1", port: 0 },
        peers,
        pipeline: options.pipeline,
        consensus: options.consensus,
      }),
    );
    await startProcess(validator);
  }
  // Links form in the background; a test that submits before they are up measures reconnects, not consensus.
  for (const validator of order) {
    if (validator.publicKey === standIn?.publicKey) continue;
    await waitFor(async () => {
      const status = (await validator.api!.status()) as unknown as { peers: { connected: number } };
      return status.peers.connected === order.length - 1 ? true : undefined;
    }, `validator ${validator.index} linked to its ${order.length - 1} running peers`);
  }
}

/** Polls `probe` every 25 ms until it returns a value (not undefined), or fails after `limitMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, limitMs = 30_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
