/**
 * One validator process (DESIGN §1): configuration → shard state (LMDB) → verifier pool →
 * pipeline with its block driver → client API → peer transport, all on one uWebSockets.js app
 * and port. The block driver is the solo producer, in consensus mode "bft" the shard's BFT
 * (src/node/consensus/shard-consensus.ts) with transaction gossip among the shard's validators,
 * or in mode "pob" Proof-of-Believability (src/node/consensus/pob-consensus.ts).
 *
 * Phases:
 *  1. start: open the shard state (replaying stored blocks), start the worker pool and the
 *     pipeline, mount the client API on the transport's app, listen, then start producing blocks.
 *  2. run: clients submit over HTTP / WebSocket; the solo producer commits blocks, or the shard
 *     agrees on them (bft: accepted transactions are gossiped to the shard's other validators);
 *     peers connect over the authenticated transport.
 *  3. stop: refuse new requests, stop producing, drain the pipeline; solo commits what it
 *     accepted (accepted transactions are never dropped by a clean stop), while a bft or pob
 *     validator leaves its unfinal transactions to the shard (it cannot decide blocks alone); then close
 *     the transport, the pool and the state (flushing the UTXO set).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { HttpEdge } from "../api/edge.js";
import type { ChainView, ClientBackend, MetricFamily, SubmitResult as ApiSubmitResult, TxStatus as ApiTxStatus } from "../api/interface.js";
import { ClientApi } from "../api/server.js";
import { SubmitOutcome, type ConfirmationBatch, type OptimisticBatch } from "../api/stream-codec.js";
import type { WasmFlavor } from "../crypto/wasm.js";
import { genesisTxid } from "../ledger/genesis.js";
import type { PeerId } from "../net/interface.js";
import { PeerIdentity } from "../net/peer-auth.js";
import { UwsTransport } from "../net/uws-transport.js";
import { CryptoRng, SystemClock } from "../runtime/system.js";
import type { NodeSetup } from "./config.js";
import { PobShardConsensus } from "./consensus/pob-consensus.js";
import { ShardConsensus } from "./consensus/shard-consensus.js";
import type { TxSink } from "./consensus/interface.js";
import { Pipeline, SoloBlockProducer, type BlockDriver, type SubmitResult } from "./pipeline.js";
import { VerifierPool } from "./pool/verify-pool.js";
import { ShardState } from "./shard-state.js";
import { TxGossip } from "./tx-gossip.js";
import { toHex } from "../hex.js";

/** Solo block interval when the configuration names none: short blocks keep client latency low. */
export const DEFAULT_BLOCK_INTERVAL_MS = 200;

export interface ValidatorOptions {
  /** WASM build of the UTXO table (the pool's workers choose their own by default). */
  readonly flavor?: WasmFlavor;
}

const OUTCOMES: Readonly<Record<SubmitResult["outcome"], SubmitOutcome>> = {
  accepted: SubmitOutcome.Accepted,
  duplicate: SubmitOutcome.Duplicate,
  rejected: SubmitOutcome.Rejected,
};

/** The client API's view of the pipeline and the shard state. */
class PipelineBackend implements ClientBackend {
  readonly shard: number;
  readonly shardCount: number;
  readonly chain: ChainView;
  private readonly startedAt = Date.now();
  private readonly submissions = new Map<SubmitOutcome, number>();

  constructor(
    private readonly setup: NodeSetup,
    private readonly state: ShardState,
    private readonly pipeline: Pipeline,
    private readonly pool: VerifierPool,
    private readonly transport: UwsTransport,
    /** Where client transactions go: the pipeline, or the gossip in front of it (bft). */
    private readonly sink: TxSink,
    private readonly consensus: ShardConsensus | undefined,
    private readonly pob: PobShardConsensus | undefined,
    private readonly edge: HttpEdge,
  ) {
    this.shard = state.shard;
    this.shardCount = state.shardCount;
    this.chain = state;
  }

  async submit(transactions: readonly Uint8Array[]): Promise<ApiSubmitResult[]> {
    const results = await this.sink.submit(transactions);
    return results.map((r) => {
      const outcome = OUTCOMES[r.outcome];
      this.submissions.set(outcome, (this.submissions.get(outcome) ?? 0) + 1);
      return { outcome, txid: r.txid, ...(r.code === undefined ? {} : { code: r.code }), ...(r.message === undefined ? {} : { message: r.message }) };
    });
  }

  status(txid: Uint8Array): ApiTxStatus {
    const status = this.pipeline.status(txid);
    if (status.state !== "pending" && status.state !== "unknown") return status;
    const optimistic = this.pob?.optimisticStatus(txid);
    return optimistic === undefined ? status : { state: "optimistic", block: optimistic.block, producer: optimistic.producer };
  }

  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void {
    return this.pipeline.onBlock((event) => listener({ height: event.height, final: event.final, rejected: event.rejected }));
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    if (this.pob === undefined) return () => undefined;
    const unsubscribe = this.pob.onAnnouncement(({ hash, producer, txids }) => listener({ producer, block: hash, txids }));
    return () => void unsubscribe();
  }

  nodeStatus(): Record<string, unknown> {
    return {
      publicKey: toHex(this.setup.key.publicKey),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      mempool: { pending: this.pipeline.pendingCount, pendingBytes: this.pipeline.pendingBytes, ready: this.pipeline.mempoolCount },
      workers: this.pool.threads,
      peers: { configured: this.setup.config.peers.length, connected: this.transport.connectedPeers().length },
      utxos: this.state.utxoCount,
      supply: this.state.supply.toString(),
      consensus:
        this.pob?.describe() ??
        (this.consensus === undefined
          ? { mode: "solo" }
          : { mode: "bft", validators: this.consensus.participants.length, height: this.consensus.bft.height, view: this.consensus.bft.view, viewChanges: this.consensus.bft.stats.viewChanges }),
    };
  }

  metrics(): MetricFamily[] {
    const m = this.pipeline.metrics();
    const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "gauge", samples: [{ value }] });
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: "counter", samples: [{ value }] });
    const transport = this.transport.stats();
    return [
      {
        name: "ios_submissions_total",
        help: "Transactions submitted through the client API, by outcome",
        type: "counter",
        samples: Object.entries(OUTCOMES).map(([name, outcome]) => ({ labels: { outcome: name }, value: this.submissions.get(outcome) ?? 0 })),
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
      gauge("ios_mempool_pending_txs", "Transactions accepted or being validated, not yet in a block", this.pipeline.pendingCount),
      gauge("ios_mempool_pending_bytes", "Bytes of those transactions", this.pipeline.pendingBytes),
      gauge("ios_tip_height", "Height of the last committed block", this.state.tip.height),
      gauge("ios_utxo_count", "Unspent outputs of the shard", this.state.utxoCount),
      gauge("ios_pool_threads", "Verifier worker threads", this.pool.threads),
      gauge("ios_peers_connected", "Peers with an authenticated link", transport.links.length),
      counter("ios_transport_frames_in_total", "Peer frames received", transport.framesIn),
      counter("ios_transport_frames_out_total", "Peer frames sent", transport.framesOut),
      {
        name: "ios_api_edge_refused_total",
        help: "Requests the HTTP edge answered itself (malformed or over a limit), by code",
        type: "counter",
        samples: [...this.edge.refusals].map(([code, value]) => ({ labels: { code }, value })),
      },
      ...(this.consensus === undefined
        ? []
        : [
            gauge("ios_consensus_view", "BFT view at the height being decided", this.consensus.bft.view),
            counter("ios_consensus_view_changes_total", "BFT views entered after view 0", this.consensus.bft.stats.viewChanges),
          ]),
    ];
  }
}

export class ValidatorNode {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly setup: NodeSetup,
    readonly state: ShardState,
    readonly pool: VerifierPool,
    readonly pipeline: Pipeline,
    private readonly producer: BlockDriver,
    /** The shard's BFT (consensus mode "bft"), with the gossip feeding its pipeline. */
    readonly consensus: ShardConsensus | undefined,
    /** Proof-of-Believability (consensus mode "pob"). */
    readonly pob: PobShardConsensus | undefined,
    private readonly gossip: TxGossip | undefined,
    readonly transport: UwsTransport,
    readonly api: ClientApi,
    /** The public listener of the port; uWS listens on a Unix socket in `socketDir` behind it. */
    readonly edge: HttpEdge,
    private readonly socketDir: string,
  ) {}

  /** The port peers and clients connect to (the configured one, or the ephemeral one picked). */
  get port(): number {
    return this.edge.port;
  }

  /** Phase 1: opens everything and starts serving; on failure, closes what it opened. */
  static async start(setup: NodeSetup, options: ValidatorOptions = {}): Promise<ValidatorNode> {
    const { config, genesis, key } = setup;
    const state = ShardState.open({ directory: config.dataDir, genesis, shard: config.shard, ...(options.flavor === undefined ? {} : { flavor: options.flavor }) });
    const opened: (() => Promise<void> | void)[] = [() => state.close()];
    try {
      const pool = new VerifierPool({ threads: config.pipeline.workers ?? availableParallelism() });
      opened.unshift(() => pool.close());
      const { maxPendingTxs } = config.pipeline;
      const pipeline = new Pipeline({ state, pool, producer: key, ...(maxPendingTxs === undefined ? {} : { maxPendingTxs }) });
      opened.unshift(() => pipeline.close());
      const peers = new Map<PeerId, string | undefined>(config.peers.map((p) => [p.publicKey, p.url]));
      // The port is the HTTP edge's; uWS serves it from a private Unix socket behind the edge.
      const socketDir = mkdtempSync(join(tmpdir(), "ios-uws-"));
      opened.push(() => rmSync(socketDir, { recursive: true, force: true }));
      const edge = await HttpEdge.listen({ host: config.listen.host, port: config.listen.port, upstreamPath: join(socketDir, "uws.sock"), maxBodyBytes: config.api.maxBodyBytes });
      opened.unshift(() => edge.close());
      const transport = new UwsTransport({
        identity: PeerIdentity.fromSeed(key.secretKey),
        chainId: genesisTxid(genesis),
        host: config.listen.host,
        port: config.listen.port,
        unixPath: edge.options.upstreamPath,
        peers,
        clock: new SystemClock(),
        rng: new CryptoRng(),
      });
      opened.unshift(() => transport.close());
      let producer: BlockDriver;
      let consensus: ShardConsensus | undefined;
      let pob: PobShardConsensus | undefined;
      let gossip: TxGossip | undefined;
      if (config.consensus.mode === "pob") {
        const { viewTimeoutMs, idleBlockMs } = config.consensus;
        pob = new PobShardConsensus({
          genesis,
          shard: config.shard,
          key,
          transport,
          pipeline,
          finalityDirectory: join(config.dataDir, "finality"),
          ...(viewTimeoutMs === undefined ? {} : { viewTimeoutMs }),
          ...(idleBlockMs === undefined ? {} : { idleProposalMs: idleBlockMs }),
          onError: (error) => console.error(`shard consensus stopped: ${error instanceof Error ? error.message : String(error)}`),
        });
        const started = pob;
        opened.unshift(() => started.stop());
        producer = pob;
      } else if (config.consensus.mode === "bft") {
        const { viewTimeoutMs, idleBlockMs, maxBlockTxs } = config.consensus;
        consensus = new ShardConsensus({
          genesis,
          shard: config.shard,
          key,
          transport,
          host: pipeline,
          finalityDirectory: join(config.dataDir, "finality"),
          ...(viewTimeoutMs === undefined ? {} : { viewTimeoutMs }),
          ...(idleBlockMs === undefined ? {} : { idleBlockMs }),
          ...(maxBlockTxs === undefined ? {} : { maxBlockTxs }),
          onError: (error) => console.error(`shard consensus stopped: ${error instanceof Error ? error.message : String(error)}`),
        });
        const started = consensus;
        opened.unshift(() => started.stop());
        gossip = new TxGossip({ transport, peers: consensus.participants.map((p) => Buffer.from(p).toString("hex")), sink: pipeline });
        producer = consensus;
      } else {
        producer = new SoloBlockProducer(pipeline, { blockIntervalMs: config.pipeline.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS });
      }
      const backend = new PipelineBackend(setup, state, pipeline, pool, transport, pob ?? gossip ?? pipeline, consensus, pob, edge);
      const api = new ClientApi(transport.app, backend, config.api);
      opened.unshift(() => api.stop());
      await transport.start();
      producer.start();
      return new ValidatorNode(setup, state, pool, pipeline, producer, consensus, pob, gossip, transport, api, edge, socketDir);
    } catch (error) {
      for (const close of opened) await close();
      throw error;
    }
  }

  get tipHeight(): number {
    return this.state.tip.height;
  }

  /** Phase 3 (idempotent). */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.api.stop();
    await this.producer.stop();
    this.gossip?.close();
    await this.pipeline.close();
    if (this.setup.config.consensus.mode === "solo") while (this.pipeline.commitNextBlock() !== undefined);
    await this.edge.close();
    await this.transport.close();
    rmSync(this.socketDir, { recursive: true, force: true });
    await this.pool.close();
    await this.state.close();
  }
}
