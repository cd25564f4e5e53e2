/**
 * One validator process (DESIGN §1): configuration → shard state (LMDB) → verifier pool →
 * pipeline → one shard driver (solo, bft or pob; consensus/interface.ts) → client API → peer
 * transport, all on one uWebSockets.js app with two ports: clients connect to `listen.port`, where
 * the HTTP edge (src/api/edge.ts) checks every request and relays it to the app's Unix socket;
 * peers connect to `listen.peerPort`, where the app listens itself (their frames are authenticated
 * and rate-limited by the transport, and skip the edge's relay hop). Client routes on the peer
 * port answer 404 API_NOT_ON_PEER_PORT; `/peer` through the edge still works (a peer configured
 * with the client port links, at the relay's cost).
 *
 * Phases:
 *  1. start: open the shard state (replaying stored blocks) and the worker pool, wire the pipeline
 *     and the driver (`ValidatorNode.wire`, which the simulator calls with its own clock, network,
 *     store and pool), mount the client API on the transport's app, listen, start the driver.
 *  2. run: clients submit over HTTP / WebSocket to the driver, which admits through the pipeline
 *     and decides blocks alone (solo) or with the shard (bft, pob); peers connect over the
 *     authenticated transport.
 *  3. stop: refuse new requests, stop the driver (solo commits what it accepted; bft and pob
 *     leave unfinal transactions to the shard), drain the pipeline, then close the transport,
 *     the pool and the state (flushing the UTXO set).
 */
import { encodeEpochCommittees, epochCommittees } from "../atomix/proof.js";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { HttpEdge } from "../api/edge.js";
import type { ChainView, ClientBackend, MetricFamily, SubmitResult, TxStatus } from "../api/interface.js";
import { ClientApi } from "../api/server.js";
import type { AtomixBatch, ConfirmationBatch, OptimisticBatch } from "../api/stream-codec.js";
import type { WasmFlavor } from "../crypto/wasm.js";
import { toHex } from "../hex.js";
import { HandlerFailures } from "../log/handler-failures.js";
import type { Logger } from "../log/logger.js";
import type { Transport } from "../net/interface.js";
import { PeerIdentity } from "../net/peer-auth.js";
import { UwsTransport } from "../net/uws-transport.js";
import type { Clock, Rng } from "../runtime/interface.js";
import { CryptoRng, SystemClock } from "../runtime/system.js";
import type { NodeSetup } from "./config.js";
import type { FinalityLogOpener } from "../consensus/bft/log.js";
import { fileFinalityLogs } from "./consensus/finality-log.js";
import type { ShardDriver } from "./consensus/interface.js";
import { PobShardConsensus } from "./consensus/pob-consensus.js";
import { ShardConsensus } from "./consensus/shard-consensus.js";
import { SoloDriver } from "./consensus/solo-driver.js";
import { Pipeline } from "./pipeline.js";
import type { VerifierPool } from "./pool/interface.js";
import { PiscinaVerifierPool } from "./pool/verify-pool.js";
import { ShardState } from "./shard-state.js";
import { Ed25519Verifier } from "../crypto/ed25519.js";
import { transitionInstances } from "../epoch/transition/messages.js";
import { EpochTransition } from "../epoch/transition/transition.js";
import { DEFAULT_FANOUT } from "./consensus/shard-consensus.js";

export interface ValidatorOptions {
  /** WASM build of the UTXO table (the pool's workers choose their own by default). */
  readonly flavor?: WasmFlavor;
  /** The process's root logger (src/log): subsystems log through its children. */
  readonly logger: Logger;
}

/** What a validator runs on: everything nondeterministic or external, injected. */
export interface ValidatorDeps {
  readonly clock: Clock;
  readonly rng: Rng;
  /** The peer transport; the driver talks to its shard through it. */
  readonly transport: Transport;
  /** The shard state (opened and replayed), closed by the node's `stop`. */
  readonly state: ShardState;
  /** The verifier pool, closed by the node's `stop`. */
  readonly pool: VerifierPool;
  /** Opens the driver's finality log: files in the data directory, or the simulator's memory. */
  readonly openLog: FinalityLogOpener;
  /** Where the driver reports a fatal commit failure (it stops after one). */
  readonly onError: (error: unknown) => void;
}

/** The driver the configuration selects. */
function makeDriver(setup: NodeSetup, deps: ValidatorDeps, pipeline: Pipeline): ShardDriver {
  const { config, context, shard, key } = setup;
  const { clock, rng, transport, state, pool, openLog, onError } = deps;
  const settings = config.consensus;
  switch (settings.mode) {
    case "pob": {
      const { viewTimeoutMs, idleBlockMs } = settings;
      return new PobShardConsensus({
        context, shard, key, transport, pipeline, state, clock, rng, onError, openLog,
        ...(viewTimeoutMs === undefined ? {} : { viewTimeoutMs }),
        ...(idleBlockMs === undefined ? {} : { idleProposalMs: idleBlockMs }),
      });
    }
    case "bft": {
      const { viewTimeoutMs, idleBlockMs, maxBlockTxs } = settings;
      return new ShardConsensus({
        context, shard, key, transport, pipeline, state, pool, clock, rng, onError, openLog,
        ...(viewTimeoutMs === undefined ? {} : { viewTimeoutMs }),
        ...(idleBlockMs === undefined ? {} : { idleBlockMs }),
        ...(maxBlockTxs === undefined ? {} : { maxBlockTxs }),
      });
    }
    case "solo": {
      const { blockIntervalMs } = config.pipeline;
      return new SoloDriver({ state, pipeline, key, epoch: context.epoch, clock, onError, ...(blockIntervalMs === undefined ? {} : { blockIntervalMs }) });
    }
  }
}

/**
 * Δ of the epoch transition when the configuration names none (`consensus.epochDeltaMs`). Not the
 * network's delay alone: a DRP phase waits for every server's PVSS work, which takes a few
 * hundred milliseconds per validator when a devnet's processes share two cores.
 */
export const DEFAULT_EPOCH_DELTA_MS = 1000;

/**
 * The transition out of the node's epoch (src/epoch/transition), under PoB with an epoch length,
 * unless the archive already holds the next epoch: it gets the shard's boundary when the epoch's
 * last height is final here and keeps what it yields in the epoch archive. Validators do not
 * switch into the next epoch yet (the epochs issue's next step): the shard rests at the epoch's
 * end with the next epoch configured, its link and transcript served by the client API.
 */
function wireTransition(setup: NodeSetup, deps: ValidatorDeps, driver: ShardDriver): { readonly transition: EpochTransition; close(): void } | undefined {
  const { context, key, config } = setup;
  if (!(driver instanceof PobShardConsensus) || context.epochLength === undefined || deps.state.lastEpoch > context.epoch) return undefined;
  const next = context.epoch + 1;
  const instances = transitionInstances(next);
  const channel = deps.transport.open(instances.drp);
  const cosiChannel = deps.transport.open(instances.cosi);
  const deltaMs = config.consensus.epochDeltaMs ?? DEFAULT_EPOCH_DELTA_MS;
  // A CoSi level waits Δ: a member first checks the proposal's transcript (Algorithm 3), hundreds of milliseconds of CPU.
  const transition = new EpochTransition(
    { previous: context, deltaMs, cosi: { fanout: DEFAULT_FANOUT, levelTimeoutMs: deltaMs } },
    {
      channel, cosiChannel, clock: deps.clock, rng: deps.rng, secretKey: key.secretKey, verifier: new Ed25519Verifier(),
      onConfigured: ({ link, transcript }) => {
        try {
          deps.state.keepEpoch(next, link, transcript);
        } catch (error) {
          deps.onError(error);
        }
      },
    },
  );
  driver.onBoundary((boundary) => transition.provideBoundary(boundary));
  return {
    transition,
    close: () => {
      transition.close();
      channel.close();
      cosiChannel.close();
    },
  };
}

/** The client API's view of the node: the driver for transactions, the state for reads. */
class NodeBackend implements ClientBackend {
  readonly shard: number;
  readonly epoch: number;
  readonly shardCount: number;
  readonly chain: ChainView;
  readonly #startedAt: number;
  readonly #submissions = { accepted: 0, duplicate: 0, rejected: 0 };

  constructor(
    private readonly node: ValidatorNode,
    private readonly peerCount: () => number,
    /** The transport's and the handler failures' families. */
    private readonly transportMetrics: () => MetricFamily[],
  ) {
    this.shard = node.setup.shard;
    this.epoch = node.setup.context.epoch;
    this.shardCount = node.setup.context.shardCount;
    this.chain = node.state;
    this.#startedAt = node.clock.wallNow();
  }

  async submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const results = await this.node.driver.submit(transactions);
    for (const result of results) this.#submissions[result.outcome]++;
    return [...results];
  }

  status(txid: Uint8Array): TxStatus {
    return this.node.driver.status(txid);
  }

  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void {
    return this.node.driver.onConfirmations(listener);
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    return this.node.driver.onOptimistic?.(listener) ?? (() => undefined);
  }

  onAtomix(listener: (batch: AtomixBatch) => void): () => void {
    return this.node.driver.onAtomix?.(listener) ?? (() => undefined);
  }

  nodeStatus(): Record<string, unknown> {
    const { setup, pipeline, pool, state, driver, clock } = this.node;
    return {
      publicKey: toHex(setup.key.publicKey),
      epoch: setup.context.epoch,
      uptimeSeconds: Math.round((clock.wallNow() - this.#startedAt) / 1000),
      mempool: { pending: pipeline.pendingCount, pendingBytes: pipeline.pendingBytes, ready: pipeline.mempoolCount },
      workers: pool.threads,
      peers: { configured: setup.context.members(setup.shard).length - 1, connected: this.peerCount(), port: this.node.peerPort },
      utxos: state.utxoCount,
      supply: state.supply.toString(),
      consensus: driver.describe(),
    };
  }

  metrics(): MetricFamily[] {
    const { pipeline, pool, state, driver } = this.node;
    const m = pipeline.metrics();
    const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "gauge", samples: [{ value }] });
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "counter", samples: [{ value }] });
    return [
      {
        name: "ios_submissions_total",
        help: "Transactions submitted through the client API, by outcome",
        type: "counter",
        samples: Object.entries(this.#submissions).map(([outcome, value]) => ({ labels: { outcome }, value })),
      },
      counter("ios_pipeline_submitted_total", "Transactions the pipeline received", m.submitted),
      counter("ios_pipeline_finalized_total", "Transactions final in a committed block", m.finalized),
      counter("ios_pipeline_blocks_total", "Blocks committed by this node", m.blocks),
      {
        name: "ios_pipeline_rejections_total",
        help: "Transactions rejected, by code",
        type: "counter",
        samples: Object.entries(m.rejected).map(([code, value]) => ({ labels: { code }, value })),
      },
      gauge("ios_pipeline_batches_in_flight", "Validation batches in the worker pool", m.batchesInFlight),
      gauge("ios_mempool_pending_txs", "Transactions accepted or being validated, not yet in a block", pipeline.pendingCount),
      gauge("ios_mempool_pending_bytes", "Bytes of those transactions", pipeline.pendingBytes),
      gauge("ios_tip_height", "Height of the last committed block", state.tip.height),
      gauge("ios_utxo_count", "Unspent outputs of the shard", state.utxoCount),
      gauge("ios_pool_threads", "Verifier worker threads", pool.threads),
      ...this.transportMetrics(),
      ...driver.metrics(),
    ];
  }
}

export class ValidatorNode {
  #api: ClientApi | undefined;
  /**
   * A started node's listeners: the edge on the client port (uWS listens on a Unix socket in
   * `socketDir` behind it) and the peer port uWS listens on itself.
   */
  #listeners: { readonly edge: HttpEdge; readonly socketDir: string; peerPort: number } | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(
    readonly setup: NodeSetup,
    readonly clock: Clock,
    readonly state: ShardState,
    readonly pool: VerifierPool,
    readonly pipeline: Pipeline,
    readonly driver: ShardDriver,
    readonly transport: Transport,
    private readonly onError: (error: unknown) => void,
    /** The transition to the next epoch, when this node runs one (`wireTransition`). */
    private readonly epochTransition: { readonly transition: EpochTransition; close(): void } | undefined,
  ) {}

  /** The transition out of this node's epoch, if it runs one (PoB with an epoch length). */
  get transition(): EpochTransition | undefined {
    return this.epochTransition?.transition;
  }

  /** The port clients connect to (0 when the node has no listening socket: the simulator). */
  get port(): number {
    return this.#listeners?.edge.port ?? 0;
  }

  /** The port peers connect to (0 when the node has no listening socket, or before it listens). */
  get peerPort(): number {
    return this.#listeners?.peerPort ?? 0;
  }


  /**
   * Wires the pipeline and the configured driver on top of `deps` (nothing is started): the
   * simulator builds whole nodes this way, over its virtual clock, network, store and pool.
   */
  static wire(setup: NodeSetup, deps: ValidatorDeps): ValidatorNode {
    const { maxPendingTxs } = setup.config.pipeline;
    // Only PoB final blocks prove their decisions (src/atomix/proof.ts): Atomix transactions are admitted there alone.
    const committees = setup.config.consensus.mode === "pob" ? encodeEpochCommittees(epochCommittees(setup.context)) : undefined;
    const pipeline = new Pipeline({
      state: deps.state, pool: deps.pool, clock: deps.clock, ...(maxPendingTxs === undefined ? {} : { maxPendingTxs }), ...(committees === undefined ? {} : { committees }),
    });
    const driver = makeDriver(setup, deps, pipeline);
    return new ValidatorNode(setup, deps.clock, deps.state, deps.pool, pipeline, driver, deps.transport, deps.onError, wireTransition(setup, deps, driver));
  }

  /** Phase 1 over real parts: LMDB, Piscina, uWebSockets.js; on failure, closes what it opened. */
  static async start(setup: NodeSetup, options: ValidatorOptions): Promise<ValidatorNode> {
    const { config, genesis, key, shard } = setup;
    const state = ShardState.open({ directory: config.dataDir, genesis, shard, ...(options.flavor === undefined ? {} : { flavor: options.flavor }) });
    const opened: (() => Promise<void> | void)[] = [() => state.close()];
    try {
      const pool = new PiscinaVerifierPool({ threads: config.pipeline.workers ?? availableParallelism() });
      opened.unshift(() => pool.close());
      const clock = new SystemClock();
      const failures = new HandlerFailures(options.logger);
      // The client port is the HTTP edge's; uWS serves it from a private Unix socket behind the edge.
      const socketDir = mkdtempSync(join(tmpdir(), "ios-uws-"));
      opened.push(() => rmSync(socketDir, { recursive: true, force: true }));
      const edge = await HttpEdge.listen({ host: config.listen.host, port: config.listen.port, upstreamPath: join(socketDir, "uws.sock"), maxBodyBytes: config.api.maxBodyBytes }, options.logger.child({ subsystem: "api" }));
      opened.unshift(() => edge.close());
      const transport = new UwsTransport({
        identity: PeerIdentity.fromSeed(key.secretKey),
        chainId: setup.context.chain,
        host: config.listen.host,
        port: config.listen.peerPort,
        unixPath: edge.options.upstreamPath,
        peers: linkedPeers(setup),
        clock,
        rng: new CryptoRng(),
        failures,
      });
      opened.unshift(() => transport.close());
      const log = options.logger.child({ subsystem: "consensus" });
      const onError = (error: unknown): void => log.error({ err: error }, "shard driver stopped");
      const openLog = fileFinalityLogs(join(config.dataDir, "finality"));
      const node = ValidatorNode.wire(setup, { clock, rng: new CryptoRng(), transport, state, pool, openLog, onError });
      const backend = new NodeBackend(node, () => transport.connectedPeers().length, () => [...transportMetrics(transport), ...edgeMetrics(edge), ...failures.metrics()]);
      const api = new ClientApi(transport.app, backend, config.api, failures, true);
      node.#api = api;
      const listeners = { edge, socketDir, peerPort: 0 };
      node.#listeners = listeners;
      opened.unshift(() => api.stop());
      listeners.peerPort = (await transport.start()).port;
      node.run();
      return node;
    } catch (error) {
      for (const close of opened) await close();
      throw error;
    }
  }

  get tipHeight(): number {
    return this.state.tip.height;
  }

  /** The client API (a node started with `start`). */
  get api(): ClientApi | undefined {
    return this.#api;
  }

  /** Starts the driver of a node made by `wire` (`start` does it for a real one). */
  run(): void {
    this.driver.start();
    // What this validator answered "accepted" before a stop or crash and never settled goes round again.
    void this.pipeline.recoverAccepted((transactions) => this.driver.submit(transactions)).catch(this.onError);
  }

  /** Phase 3 (idempotent). */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#api?.stop();
    this.epochTransition?.close();
    await this.driver.stop();
    await this.pipeline.close();
    await this.#listeners?.edge.close();
    await this.transport.close();
    if (this.#listeners !== undefined) rmSync(this.#listeners.socketDir, { recursive: true, force: true });
    await this.pool.close();
    await this.state.close();
  }
}

/**
 * The peers a validator links with: the other members of its shard in its epoch (the epoch
 * context's), with the URLs the configuration's address book knows (none: wait to be dialed).
 */
/**
 * Whom the transport links with, URLs from the address book: the shard's other members; under PoB
 * every validator of the epoch, since Atomix watchers talk to the other shards (src/atomix/watcher.ts).
 */
function linkedPeers(setup: NodeSetup): Map<string, string | undefined> {
  const self = toHex(setup.key.publicKey);
  const addressBook = new Map(setup.config.peers.map((peer) => [peer.publicKey, peer.url]));
  const { context } = setup;
  const keys = setup.config.consensus.mode === "pob" ? context.validators.map((v) => v.publicKey) : context.members(setup.shard);
  return new Map(keys.map(toHex).filter((id) => id !== self).map((id) => [id, addressBook.get(id)]));
}

function edgeMetrics(edge: HttpEdge): MetricFamily[] {
  return [
    {
      name: "ios_api_edge_refused_total",
      help: "Requests the HTTP edge answered itself (malformed or over a limit), by code",
      type: "counter",
      samples: [...edge.refusals].map(([code, value]) => ({ labels: { code }, value })),
    },
    {
      name: "ios_api_edge_tunnels_total",
      help: "WebSocket connections relayed by the HTTP edge (client streams; peer links dialed to the client port instead of the peer port)",
      type: "counter",
      samples: [{ value: edge.tunnels }],
    },
  ];
}

function transportMetrics(transport: UwsTransport): MetricFamily[] {
  const stats = transport.stats();
  return [
    { name: "ios_peers_connected", help: "Peers with an authenticated link", type: "gauge", samples: [{ value: stats.links.length }] },
    { name: "ios_transport_frames_in_total", help: "Peer frames received", type: "counter", samples: [{ value: stats.framesIn }] },
    { name: "ios_transport_frames_out_total", help: "Peer frames sent", type: "counter", samples: [{ value: stats.framesOut }] },
  ];
}
