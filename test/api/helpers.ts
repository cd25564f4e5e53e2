/**
 * Fixtures of the client API tests: a real validator (LMDB in a temp dir, worker pool, uWS on an
 * ephemeral 127.0.0.1 port) over a deterministic genesis, signed transfers of its funded
 * accounts, and polling of conditions reached through the API. For optimistic confirmations
 * (white paper §7.2 phase 1), `TestShard` and `PobTestBackend` serve the client API over the real
 * shard state, pool and pipeline, with the optimistic announcements of a believable validator
 * driven by the test.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import uWS, { type us_listen_socket } from "uWebSockets.js";
import WebSocket from "ws";
import type { ChainView, ClientBackend, MetricFamily, SubmitResult, TxStatus } from "../../src/api/interface.js";
import { ClientApi } from "../../src/api/server.js";
import { optimisticBatchOf, type AtomixBatch, type ConfirmationBatch, type OptimisticBatch } from "../../src/api/stream-codec.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { toHex } from "../../src/hex.js";
import { genesisTxid, makeTestGenesis, type Genesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TXID_BYTES } from "../../src/codec/sizes.js";
import { TxKind, encodeTransaction, signTransaction, type TxInput, type TxOutput } from "../../src/ledger/transaction.js";
import { DEFAULT_API_LIMITS, nodeConfigJson, nodeSetupOf, parseNodeConfig, type ApiLimits, type NodeSetup } from "../../src/node/config.js";
import { SoloDriver } from "../../src/node/consensus/solo-driver.js";
import { Pipeline } from "../../src/node/pipeline.js";
import type { VerifierPool } from "../../src/node/pool/interface.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { ShardState } from "../../src/node/shard-state.js";
import { ValidatorNode } from "../../src/node/validator.js";
import type { HandlerFailures } from "../../src/log/handler-failures.js";
import { testFailures, testLogger } from "../support/log.js";
import { SystemClock } from "../../src/runtime/system.js";
import { buildOptimisticBlock } from "../../src/consensus/pob/optimistic.js";
import { encodeInclusion, makeInclusion } from "../../src/consensus/pob/evidence.js";

export const AMOUNT = 1_000n;

export interface TestNet {
  genesis: Genesis;
  accounts: KeyPair[];
  validators: KeyPair[];
  dir: string;
}

export function makeNet(seed: string, shards = 1, accounts = 32, validatorCount = shards): TestNet {
  const { genesis, accounts: keys, validators } = makeTestGenesis({ seed, shardCount: shards, accounts, amount: AMOUNT, validators: validatorCount });
  return { genesis, accounts: keys, validators, dir: mkdtempSync(join(tmpdir(), "ios-api-")) };
}

/** The setup of validator `index` of `net` (its shard is the epoch context's choice: `setup.shard`), listening on port 0. */
export function setupOf(net: TestNet, extra: Record<string, unknown> = {}, index = 0): NodeSetup {
  const file = join(net.dir, `validator-${index}.json`);
  const json = JSON.parse(
    nodeConfigJson({
      genesis: "genesis.json",
      key: "key.json",
      dataDir: `data-${index}`,
      listen: { host: "127.0.0.1", port: 0 },
      peers: [],
    }),
  ) as Record<string, unknown>;
  const config = parseNodeConfig(JSON.stringify({ ...json, pipeline: { workers: 1, blockIntervalMs: 50 }, ...extra }), file);
  return nodeSetupOf(config, net.genesis, net.validators[index]!);
}

export async function startNode(net: TestNet, extra: Record<string, unknown> = {}, index = 0): Promise<{ node: ValidatorNode; base: string }> {
  const node = await ValidatorNode.start(setupOf(net, extra, index), { logger: testLogger() });
  return { node, base: `http://127.0.0.1:${node.port}` };
}

/** Account `i` pays `amount` of its genesis output to `to`, change back to itself. */
export function genesisSpend(net: TestNet, i: number, to: Uint8Array, amount: bigint): { bytes: Uint8Array; txid: Uint8Array } {
  const payer = net.accounts[i]!;
  const inputs: TxInput[] = [{ txid: genesisTxid(net.genesis), index: i, owner: payer.publicKey }];
  const outputs: TxOutput[] = [{ owner: to, amount }];
  if (amount < AMOUNT) outputs.push({ owner: payer.publicKey, amount: AMOUNT - amount });
  const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs, outputs }, [payer]);
  return { bytes: encodeTransaction(transaction), txid };
}

/** The project's hex encoding under the short name the tests use. */
export { toHex as hex };

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

export async function postJson(url: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body) });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/**
 * One shard's validator machinery without the node around it: LMDB state in `directory`, a
 * one-thread verifier pool, the pipeline, and a solo driver committing every `blockIntervalMs`
 * (not started when undefined: the test commits with `solo.commitNextBlock()`). `announce` plays
 * the shard's believable league: every validator of the shard passes an optimistic block it
 * receives to its stream subscribers, so every backend over this shard sees each announcement.
 */
export class TestShard {
  /** Hex txid → the optimistic block that holds it (and its proof, when sealed for real). */
  readonly #optimistic = new Map<string, { readonly block: Uint8Array; readonly producer: Uint8Array; readonly inclusion?: Uint8Array }>();
  #sealedHeight = 0;
  readonly #listeners = new Set<(batch: OptimisticBatch) => void>();

  private constructor(
    readonly state: ShardState,
    readonly pool: VerifierPool,
    readonly pipeline: Pipeline,
    readonly solo: SoloDriver,
    private readonly producing: boolean,
  ) {}

  static open(genesis: Genesis, shard: number, key: KeyPair, directory: string, blockIntervalMs?: number): TestShard {
    const state = ShardState.open({ directory, genesis, shard });
    const pool = new PiscinaVerifierPool({ threads: 1 });
    const clock = new SystemClock();
    const pipeline = new Pipeline({ state, pool, clock });
    const solo = new SoloDriver({ state, pipeline, key, epoch: 0, clock, ...(blockIntervalMs === undefined ? {} : { blockIntervalMs }) });
    if (blockIntervalMs !== undefined) solo.start();
    return new TestShard(state, pool, pipeline, solo, blockIntervalMs !== undefined);
  }

  announce(batch: OptimisticBatch): void {
    for (let at = 0; at < batch.txids.length; at += TXID_BYTES) this.#optimistic.set(toHex(batch.txids.subarray(at, at + TXID_BYTES)), { block: batch.block, producer: batch.producer });
    for (const listener of this.#listeners) listener(batch);
  }

  /** Seals `transactions` in a real optimistic block of `producer` and announces it; its hash. */
  seal(producer: KeyPair, transactions: readonly Uint8Array[]): Uint8Array {
    const { block } = buildOptimisticBlock({ shard: this.state.shard, epoch: 0, height: ++this.#sealedHeight, prevHash: new Uint8Array(32), timestamp: Date.now() }, transactions, producer);
    transactions.forEach((_tx, i) => {
      const key = toHex(block.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES));
      this.#optimistic.set(key, { block: block.hash, producer: producer.publicKey, inclusion: encodeInclusion(makeInclusion(block, i)) });
    });
    const batch = optimisticBatchOf(block);
    for (const listener of this.#listeners) listener(batch);
    return block.hash;
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The pipeline's status, shown as optimistic while pending in an announced block. */
  status(txid: Uint8Array): TxStatus {
    const status = this.pipeline.status(txid);
    const optimistic = status.state === "pending" ? this.#optimistic.get(toHex(txid)) : undefined;
    return optimistic === undefined ? status : { state: "optimistic", ...optimistic };
  }

  async close(): Promise<void> {
    if (this.producing) await this.solo.stop();
    await this.pipeline.close();
    await this.pool.close();
    await this.state.close();
  }
}

/**
 * The client backend of one validator of a PoB shard over a `TestShard`. `/v1/status` reports
 * `publicKey` and the `consensus` object the test sets. With `sealOnAccept`, the transactions a
 * submission gets accepted are at once announced as one optimistic block sealed by this
 * validator (block hash: SHA-256 of their txids), as the believable validator they were routed
 * to would seal them, before the acknowledgement goes out.
 */
export class PobTestBackend implements ClientBackend {
  readonly shard: number;
  readonly epoch: number;
  readonly shardCount: number;
  readonly chain: ChainView;
  /** Hex txids of the transactions this validator accepted, in order. */
  readonly accepted: string[] = [];
  consensus: Record<string, unknown>;
  sealOnAccept: boolean;
  /** With it, accepted transactions are sealed in real optimistic blocks (signed, with proofs). */
  readonly sealer: KeyPair | undefined;

  constructor(
    readonly testShard: TestShard,
    readonly publicKey: Uint8Array,
    options: { readonly consensus: Record<string, unknown>; readonly sealOnAccept: boolean; readonly sealer?: KeyPair },
  ) {
    this.sealer = options.sealer;
    this.shard = testShard.state.shard;
    this.epoch = testShard.state.epoch;
    this.shardCount = testShard.state.shardCount;
    this.chain = testShard.state;
    this.consensus = options.consensus;
    this.sealOnAccept = options.sealOnAccept;
  }

  async submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const results = await this.testShard.pipeline.submit(transactions);
    const sealed: Uint8Array[] = [];
    const sealedTxs: Uint8Array[] = [];
    results.forEach((r, i) => {
      if (r.outcome === "accepted" && r.txid !== undefined) {
        this.accepted.push(toHex(r.txid));
        sealed.push(r.txid);
        sealedTxs.push(transactions[i]!);
      }
    });
    if (this.sealOnAccept && this.sealer !== undefined && sealed.length > 0) {
      this.testShard.seal(this.sealer, sealedTxs);
    } else if (this.sealOnAccept && sealed.length > 0) {
      const txids = Buffer.concat(sealed);
      this.testShard.announce({ producer: this.publicKey, block: sha256(txids), txids });
    }
    return results;
  }

  status(txid: Uint8Array): TxStatus {
    return this.testShard.status(txid);
  }

  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void {
    return this.testShard.pipeline.onSettled(listener);
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    return this.testShard.onOptimistic(listener);
  }

  readonly #atomixListeners = new Set<(batch: AtomixBatch) => void>();

  onAtomix(listener: (batch: AtomixBatch) => void): () => void {
    this.#atomixListeners.add(listener);
    return () => this.#atomixListeners.delete(listener);
  }

  /** Hands `batch` to the API server as a final height's Atomix decisions (what PoB consensus does at commit). */
  announceAtomix(batch: AtomixBatch): void {
    for (const listener of this.#atomixListeners) listener(batch);
  }

  nodeStatus(): Record<string, unknown> {
    return { publicKey: toHex(this.publicKey), consensus: this.consensus };
  }

  metrics(): MetricFamily[] {
    return [];
  }
}

/** The client API over `backend` on its own uWS app, listening on an ephemeral 127.0.0.1 port. */
export async function serveApi(
  backend: ClientBackend,
  limits: ApiLimits = DEFAULT_API_LIMITS,
  failures: HandlerFailures = testFailures(),
): Promise<{ api: ClientApi; port: number; close: () => void }> {
  const app = uWS.App();
  const api = new ClientApi(app, backend, limits, failures);
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen("127.0.0.1", 0, (socket) => (socket === false ? reject(new Error("cannot listen on 127.0.0.1:0")) : resolve(socket)));
  });
  return {
    api,
    port: uWS.us_socket_local_port(listenSocket as never),
    close: () => {
      api.stop();
      uWS.us_listen_socket_close(listenSocket);
    },
  };
}

/** A client of the WebSocket stream (`url` is ws://host:port/v1/stream) that keeps every frame it receives. */
export class StreamClient {
  readonly ws: WebSocket;
  readonly frames: Uint8Array[] = [];
  closeCode: number | undefined;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on("message", (data: Buffer) => this.frames.push(new Uint8Array(data)));
    this.ws.on("close", (code) => (this.closeCode = code));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }

  /** The frames received of one kind (first byte: FRAME_ACK, FRAME_EVENTS, ...). */
  of(kind: number): Uint8Array[] {
    return this.frames.filter((f) => f[0] === kind);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.ws.once("close", resolve));
    this.ws.close();
    await closed;
  }
}

/**
 * A client backend with no chain behind it (one shard, height `tip`, nothing found), for API tests
 * that exercise one route's edge; `chain` and the rest override its parts.
 */
export function stubBackend(overrides: { readonly epoch?: number; readonly chain?: Partial<ClientBackend["chain"]> } & Partial<Omit<ClientBackend, "chain">> = {}): ClientBackend {
  const { chain, ...rest } = overrides;
  return {
    shard: 0,
    epoch: 0,
    shardCount: 1,
    chain: {
      shard: 0,
      shardCount: 1,
      tip: { height: 3, hash: new Uint8Array(32) },
      prunedBelow: 1,
      prunes: true,
      utxoSnapshot: () => new Uint8Array(0),
      getBlock: () => undefined,
      getBlockByHash: () => undefined,
      atomix: () => undefined,
      getTransactionLocation: () => undefined,
      lastEpoch: 0,
      epochLink: () => undefined,
      epochTranscript: () => undefined,
      ...chain,
    },
    submit: async () => [],
    status: () => ({ state: "unknown" }),
    onConfirmations: () => () => undefined,
    onOptimistic: () => () => undefined,
    nodeStatus: () => ({}),
    metrics: () => [],
    ...rest,
  };
}
