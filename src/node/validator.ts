/**
 * One validator process (DESIGN §1): configuration → shard state (LMDB) → verifier pool →
 * pipeline → one shard driver per epoch (solo, bft or pob; consensus/interface.ts) → client API → peer
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
 *  3. switch (PoB with an epoch length): no rest at the boundary (TransEpoch stage 2). When the
 *     epoch's last height is final here, the driver hands over to the next epoch's *opening*
 *     (batch 0: this epoch's committee and leagues under the next epoch's heights, `#open`), which
 *     goes on deciding while the transition makes the next configuration. When the next epoch is
 *     configured — by this validator's transition, or a link from a peer's archive
 *     (src/epoch/transition/catch-up.ts) — the opening's rule (src/epoch/transepoch/move-rule.ts)
 *     takes the schedule: each certified swap-in moves the shard one batch, whose driver goes on on
 *     the same state, until the last batch's swap-in or the forced end reaches B; there the new
 *     epoch's own driver starts with the unsettled transactions carried over. A validator the move
 *     has join another shard's committee (`#joinShard`) syncs that shard up to its batch while it
 *     asks for its seat every Δ/4, decides in that shard's batches beside its old shard's, and starts
 *     there; one behind syncs up to the move's end (src/node/sync; `#enterLatest`;
 *     docs/ARCHITECTURE.md, "Switching epochs", "TransEpoch, stage B, steps 4–5").
 *     A validator the new epoch does not list (it left, src/ledger/kinds/registration.ts) stops
 *     its driver after the epoch it co-signed the transition of, logs NODE_LEFT and stays up as
 *     an observer (below).
 *  Waiting (PoB with an epoch length): a node whose key no epoch it knows lists yet (a
 *     registrant, whose home store is shard 0's: NodeSetup.shard) or lists no longer (an
 *     observer) runs a WaitingDriver: transport, link catch-up and client API up, no shard
 *     driver. When catch-up configures an epoch that lists it, it enters as a mover does (sync
 *     the assigned shard to the epoch's start, then its driver). A restart in any phase starts
 *     from the archive: waiting, syncing again, or in the epoch it entered.
 *  Membership: the transport admits and dials the validators of the previous, current and every
 *     later known epoch (`membershipOf`; the previous one's still sync and prove Atomix locks),
 *     replaced at each configuration and switch, URLs from the address book.
 *  4. stop: refuse new requests, stop the driver (solo commits what it accepted; bft and pob
 *     leave unfinal transactions to the shard), drain the pipelines, then close the transport,
 *     the pool and the states (flushing the UTXO sets).
 */
import { decodeFinalHeightCertificate, encodeEpochCommittees, trustedCommittees, type Committee } from "../atomix/proof.js";
import { rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { HttpEdge } from "../api/edge.js";
import type { ChainView, ClientBackend, EpochArchiveView, MetricFamily, MsbProofService, SubmitResult, TxStatus } from "../api/interface.js";
import { MsbProver } from "./msb-proof.js";
import { ClientApi } from "../api/server.js";
import type { AtomixBatch, ConfirmationBatch, OptimisticBatch } from "../api/stream-codec.js";
import type { WasmFlavor } from "../crypto/wasm.js";
import { toHex } from "../hex.js";
import { claimSocketDirectory, SOCKET_FILE } from "./socket-dir.js";
import { HandlerFailures } from "../log/handler-failures.js";
import type { Logger } from "../log/logger.js";
import type { Transport } from "../net/interface.js";
import { PeerIdentity } from "../net/peer-auth.js";
import { UwsTransport } from "../net/uws-transport.js";
import type { Clock, Rng, TimerHandle } from "../runtime/interface.js";
import { CryptoRng, SystemClock } from "../runtime/system.js";
import { pruneOf, type NodeSetup } from "./config.js";
import type { FinalityLogOpener } from "../consensus/bft/log.js";
import { fileFinalityLogs } from "./consensus/finality-log.js";
import type { ShardDriver } from "./consensus/interface.js";
import { PobShardConsensus, SWAP_REQUEST, TX_RELAY } from "./consensus/pob-consensus.js";
import { batchLane } from "../net/channels.js";
import { SWAP_ASKS_PER_DELTA, signSwapRequest } from "../epoch/transepoch/swap.js";
import { batchStartDelayMs } from "../epoch/transepoch/schedule.js";
import { sameBytes } from "../bytes.js";
import { assignee, spenderOf } from "../consensus/pob/assignment.js";
import { packTransactions } from "../ledger/stateless.js";
import { ShardSync } from "./sync/shard-sync.js";
import type { SyncReport } from "./sync/interface.js";
import { ShardConsensus } from "./consensus/shard-consensus.js";
import { SoloDriver } from "./consensus/solo-driver.js";
import { Pipeline } from "./pipeline.js";
import { WORKER_KEY_CACHE_SIZE, type VerifierPool } from "./pool/interface.js";
import { PiscinaVerifierPool } from "./pool/verify-pool.js";
import { ShardState } from "./shard-state.js";
import { Ed25519Verifier } from "../crypto/ed25519.js";
import { transitionInstances } from "../epoch/transition/messages.js";
import { EpochTransition } from "../epoch/transition/transition.js";
import type { ConfiguredEpoch } from "../epoch/transition/interface.js";
import { ARCHIVE_INSTANCE, LinkCatchUp } from "../epoch/transition/catch-up.js";
import { verifyIdentityChain } from "../epoch/identity/link.js";
import type { EpochContext } from "../epoch/interface.js";
import { IosError, check, invariant } from "../errors.js";
import { DEFAULT_FANOUT } from "./consensus/shard-consensus.js";
import { WaitingDriver, type WaitingRole } from "./consensus/waiting-driver.js";
import { MoveSwapRule, type MoveSwapRuleOptions } from "../epoch/transepoch/move-rule.js";
import { SWAP_PATIENCE_DELTAS, ShardSwaps } from "../epoch/transepoch/swaps.js";
import { batchAfter, moveIn, type EpochMove } from "../epoch/transepoch/walk.js";
import { decodeProposal } from "../consensus/pob/proposal.js";
import type { PeerId } from "../net/interface.js";

export type NodeErrorCode =
  /** This validator's key is not in the epoch's configuration (an internal check: only listed epochs get a driver). */
  | "NODE_NOT_A_VALIDATOR"
  /** A submission to a node that serves no shard (a registrant or an observer: WaitingDriver). */
  | "NODE_NOT_SERVING"
  /** The shard's state is below the epoch's start height and could not be synced. */
  | "NODE_STATE_BEHIND"
  /**
   * A switch's sync found no source holding the heights it needs (pruned past them) while a later
   * epoch is configured here: the switch is given up for the one queued to the latest epoch.
   */
  | "NODE_SWITCH_SUPERSEDED"
  /** Another validator runs on this data directory: its client socket answers (node/socket-dir.ts). */
  | "NODE_DATA_DIR_IN_USE"
  /** The data directory's socket path in the temporary directory is not this user's directory (node/socket-dir.ts). */
  | "NODE_SOCKET_DIR_UNSAFE"
  /** The socket directory cannot be made for another reason than a rival start (the temporary directory unwritable, missing, full). */
  | "NODE_SOCKET_DIR_FAILED";

/** Info lines of the validator set's changes at this node (their `code` field). */
export type NodeNoticeCode =
  /** It waits: no epoch it knows lists its key (`role` says whether it never served or left). */
  | "NODE_WAITING"
  /** It entered an epoch after waiting (a registrant's first, or a returning validator's). */
  | "NODE_ENTERED"
  /** Its key is not in the next epoch: its driver stopped at the switch, it stays up as an observer. */
  | "NODE_LEFT"
  /** It joined a shard at the shard's latest MSB (node/sync/msb-join.ts) instead of replaying the heights below it. */
  | "NODE_MSB_JOINED"
  /** A join at an MSB failed (the code says why: every source refused or bad): the shard is replayed instead. */
  | "NODE_MSB_JOIN_FAILED"
  /** Its shard's epoch ended here: the next epoch's opening (batch 0, this epoch's committee) took over, no rest. */
  | "NODE_OPENING"
  /** A certified swap-in moved its shard to batch 1..B − 1 of the move: that batch's committee decides from there. */
  | "NODE_BATCH"
  /** The move ended at a certified height (the last batch's swap-in or the forced end): the epoch's own committee decides from there. */
  | "NODE_OPENING_ENDED"
  /** A switch behind its shard gave way to the switch into the latest epoch (NODE_SWITCH_SUPERSEDED): it waits for that one meanwhile. */
  | "NODE_SWITCH_SUPERSEDED";

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
  /** The peer transport; the drivers talk to their shard through it. */
  readonly transport: Transport;
  /**
   * Opens (creating from the genesis, replaying what is stored) this validator's state of `shard`;
   * the node closes every state it opened. The home shard's (the one the genesis assigns) also
   * keeps the epoch archive.
   */
  readonly openState: (shard: number) => ShardState;
  /** The verifier pool, closed by the node's `stop`. */
  readonly pool: VerifierPool;
  /** Opens the finality log of the driver of `shard` in `epoch` (the epoch's own instance, or its opening): files in the data directory, or the simulator's memory. */
  readonly openLog: (shard: number, epoch: number, instance: LogInstance) => FinalityLogOpener;
  /** Where a driver reports a fatal commit failure (it stops after one), and the node an epoch it cannot enter. */
  readonly onError: (error: unknown) => void;
  /** Info lines about the validator set's changes at this node (NodeNoticeCode). */
  readonly logger: Logger;
  /**
   * Makes `peers` the validators the transport links with (`membershipOf`, at each configuration
   * and switch under PoB with an epoch length); absent where the network needs no peer set (the simulator's).
   */
  readonly linkWith?: (peers: readonly PeerId[]) => void;
  /**
   * Tests only: a shard's driver rests at its epoch's last height instead of handing over to the
   * next epoch's opening before the configuration is known (the opening then starts with it): a
   * shard whose next configuration never comes keeps a fixed history (state-sync tests).
   */
  readonly restAtBoundary?: boolean;
}

/**
 * Which of an epoch's instances a finality log belongs to: the epoch's own committee's (batch B), its opening (batch 0, the
 * epoch before's committee), or the instance after `batch` swaps of the move into it (a number, 1..B − 1).
 */
export type LogInstance = "own" | "opening" | number;

/** A shard this validator holds a state of, with the pipeline in front of it (kept across the epochs it serves the shard). */
interface ShardHold {
  readonly state: ShardState;
  readonly pipeline: Pipeline;
  /** Serves the shard's certified final blocks to peers and syncs the state from them (PoB with an epoch length). */
  readonly sync: ShardSync | undefined;
}

/**
 * What serves one epoch: its context, this validator's shard in it, and the driver deciding that
 * shard's blocks; or, when the epoch does not list this node, a WaitingDriver over the state the
 * API reads (the shard it served last, or the home store).
 */
interface EpochRun {
  readonly context: EpochContext;
  readonly shard: number;
  readonly hold: ShardHold;
  readonly driver: ShardDriver;
  /** "validator" while the epoch lists this node, else why it waits. */
  readonly role: "validator" | WaitingRole;
  /** Unsubscribes the node's client-event fan-out from the driver. */
  readonly detach: () => void;
  /**
   * Set when the driver runs an instance of the move into the next epoch before that epoch's own committee's (`context` is
   * still this epoch's): batch 0 (the opening) or a batch 1..B − 1; the rule that ends it.
   */
  readonly move?: MoveSwapRule;
}

/** What joining a shard (`#joinShard`) leaves: how its state was synced, and what its batch drivers held unsettled. */
interface JoinedShard {
  readonly report: SyncReport | undefined;
  readonly carried: readonly Uint8Array[];
}

/** The epoch transition in progress or just done, with the channels it runs on. */
interface TransitionRun {
  readonly transition: EpochTransition;
  close(): void;
}

/** The driver the configuration selects, for `context`'s `shard`. */
function makeDriver(setup: NodeSetup, deps: ValidatorDeps, run: { context: EpochContext; previous: EpochContext | undefined; shard: number; hold: ShardHold; verifier: Ed25519Verifier; takeover?: number; move?: { rule: MoveSwapRule; next?: EpochContext; joining?: boolean } }): ShardDriver {
  const { config, key } = setup;
  const { context, previous, shard, hold: { state, pipeline }, verifier, takeover, move } = run;
  const { clock, rng, transport, pool, onError } = deps;
  // A batch b ≥ 1 of the move (its rule is past batch 0), the opening, or the epoch's own instance.
  const batch = move === undefined || move.rule.batch === 0 ? undefined : { next: move.next!, index: move.rule.batch, swaps: move.rule };
  const openLog = move === undefined ? deps.openLog(shard, context.epoch, "own") : deps.openLog(shard, context.epoch + 1, batch === undefined ? "opening" : batch.index);
  const settings = config.consensus;
  switch (settings.mode) {
    case "pob": {
      const { viewTimeoutMs, idleBlockMs, minHeightIntervalMs } = settings;
      return new PobShardConsensus({
        context, shard, key, transport, pipeline, state, clock, rng, onError, openLog, verifier,
        ...(previous === undefined ? {} : { previous }),
        ...(takeover === undefined ? {} : { takeover }),
        ...(move === undefined ? {} : batch === undefined ? { opening: move.rule } : { batch }),
        ...(move?.joining === true ? { watchAtomix: false } : {}),
        ...(viewTimeoutMs === undefined ? {} : { viewTimeoutMs }),
        ...(idleBlockMs === undefined ? {} : { idleProposalMs: idleBlockMs }),
        ...(minHeightIntervalMs === undefined ? {} : { minHeightIntervalMs }),
      });
    }
    case "bft": {
      const { viewTimeoutMs, idleBlockMs, maxBlockTxs } = settings;
      return new ShardConsensus({
        context, shard, key, transport, pipeline, state, pool, clock, rng, onError, openLog, verifier,
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
/** A validator whose next epoch is not configured asks its peers' archives every this many Δ: longer than a transition takes. */
export const LINK_CATCH_UP_DELTAS = 10;
/**
 * Δ a link learned by catch-up waits for the next before its epoch is entered (#caughtUpTimer): each
 * link takes one round trip to a peer's archive, far below Δ, so one Δ lets a validator behind learn
 * them all; a validator one epoch behind pays it once.
 */
export const CAUGHT_UP_SETTLE_DELTAS = 1;
/**
 * A validator that learned the next configuration from its peers' archives (it was behind) gives up its seat in the opening
 * once its state decided nothing for this many Δ, and syncs past the opening's end instead: its peers may have left the opening
 * long ago (a current validator's opening decides a height every idle heartbeat). As long as the link catch-up's wait.
 */
export const OPENING_STALL_DELTAS = LINK_CATCH_UP_DELTAS;
/** A sync round that found no honest source is tried again this much later (sources come back, or catch up themselves). */
export const SYNC_RETRY_MS = 2_000;

/**
 * The transition out of `context` (src/epoch/transition): it takes the shard's boundary when the
 * epoch's last height is final here and, configured, hands epoch e + 1 to `onConfigured`.
 */
function startTransition(setup: NodeSetup, deps: ValidatorDeps, verifier: Ed25519Verifier, context: EpochContext, onConfigured: (configured: ConfiguredEpoch) => void): TransitionRun {
  const instances = transitionInstances(context.epoch + 1);
  const channel = deps.transport.open(instances.drp);
  const cosiChannel = deps.transport.open(instances.cosi);
  const deltaMs = setup.config.consensus.epochDeltaMs ?? DEFAULT_EPOCH_DELTA_MS;
  // A CoSi level waits Δ: a member first checks the proposal's transcript (Algorithm 3), hundreds of milliseconds of CPU.
  const transition = new EpochTransition(
    { previous: context, deltaMs, cosi: { fanout: DEFAULT_FANOUT, levelTimeoutMs: deltaMs } },
    { channel, cosiChannel, clock: deps.clock, rng: deps.rng, secretKey: setup.key.secretKey, verifier, onConfigured },
  );
  return {
    transition,
    close: () => {
      transition.close();
      channel.close();
      cosiChannel.close();
    },
  };
}

/** The client API's view of the node: the current epoch's driver for transactions, its shard's state for reads. */
class NodeBackend implements ClientBackend {
  readonly shardCount: number;
  readonly #startedAt: number;
  readonly #submissions = { accepted: 0, duplicate: 0, rejected: 0 };

  constructor(
    private readonly node: ValidatorNode,
    private readonly peerCount: () => number,
    /** The transport's and the handler failures' families. */
    private readonly transportMetrics: () => MetricFamily[],
  ) {
    this.shardCount = node.setup.context.shardCount;
    this.#startedAt = node.clock.wallNow();
    this.msb = node.setup.config.consensus.mode === "pob" && node.setup.context.epochLength !== undefined ? new MsbProver(() => this.node.state) : undefined;
  }

  get shard(): number {
    return this.node.shard;
  }

  get epoch(): number {
    return this.node.context.epoch;
  }

  get chain(): ChainView {
    return this.node.state;
  }

  get archive(): EpochArchiveView {
    return this.node.archive;
  }

  /** Proofs of the served shard's MSBs and final transactions (PoB with an epoch length makes MSBs). */
  readonly msb: MsbProofService | undefined;

  async submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    const results = await this.node.submit(transactions);
    for (const result of results) this.#submissions[result.outcome]++;
    return [...results];
  }

  status(txid: Uint8Array): TxStatus {
    return this.node.driver.status(txid);
  }

  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void {
    return this.node.events.confirmations.add(listener);
  }

  onOptimistic(listener: (batch: OptimisticBatch) => void): () => void {
    return this.node.events.optimistic.add(listener);
  }

  onAtomix(listener: (batch: AtomixBatch) => void): () => void {
    return this.node.events.atomix.add(listener);
  }

  nodeStatus(): Record<string, unknown> {
    const { setup, pipeline, pool, state, driver, clock, context, shard, role } = this.node;
    return {
      publicKey: toHex(setup.key.publicKey),
      role,
      // `epoch` (the API adds it) names the configuration that assigns `shard`; a confirmation's height belongs to this epoch:
      // the next one's during its opening (clients map heights to epochs, then to the shard served).
      decidingEpoch: this.node.decidingEpoch,
      ...(this.node.opening ? { opening: true } : {}),
      shard,
      uptimeSeconds: Math.round((clock.wallNow() - this.#startedAt) / 1000),
      mempool: { pending: pipeline.pendingCount, pendingBytes: pipeline.pendingBytes, ready: pipeline.mempoolCount },
      workers: pool.threads,
      peers: { configured: role === "validator" ? context.members(shard).length - 1 : 0, connected: this.peerCount(), port: this.node.peerPort },
      utxos: state.utxoCount,
      supply: state.supply.toString(),
      consensus: driver.describe(),
      ...(this.node.lastSwitch === undefined ? {} : { lastSwitch: this.node.lastSwitch }),
    };
  }

  metrics(): MetricFamily[] {
    const { pipeline, pool, state, driver, context } = this.node;
    const m = pipeline.metrics();
    return [
      {
        name: "ios_submissions_total",
        help: "Transactions submitted through the client API, by outcome",
        type: "counter",
        samples: Object.entries(this.#submissions).map(([outcome, value]) => ({ labels: { outcome }, value })),
      },
      counter("ios_pipeline_submitted_total", "Transactions the current shard's pipeline received", m.submitted),
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
      gauge("ios_msb_count", "Unspent outputs in the shard's latest Micro State Block (0: none yet)", state.latestMsb?.count ?? 0),
      gauge("ios_msb_build_ms", "Wall time of this driver's last MSB build: sort, supply, root, header (0: none yet)", driver instanceof PobShardConsensus ? driver.msbBuildMs : 0),
      gauge("ios_pool_threads", "Verifier worker threads", pool.threads),
      gauge("ios_epoch", "The epoch this validator serves", context.epoch),
      counter("ios_epoch_switches_total", "Epochs this validator entered since it started", this.node.switches),
      gauge("ios_epoch_switch_pause_ms", "The last switch: from the next epoch's configuration here to its driver starting", this.node.lastSwitch?.pauseMs ?? 0),
      gauge("ios_epoch_switch_synced_heights", "The last switch: final heights synced from the shard's validators first (0: the state was there)", this.node.lastSwitch?.sync?.heights ?? 0),
      ...this.epochMetrics(),
      ...this.transportMetrics(),
      ...driver.metrics(),
    ];
  }

  /** The transition out of the current epoch and the link catch-up (PoB with an epoch length). */
  private epochMetrics(): MetricFamily[] {
    const transition = this.node.transition?.stats;
    const catchUp = this.node.linkCatchUpStats;
    // Epochs run (PoB with an epoch length) whenever the catch-up does: the transition's gauges stay
    // exported, at 0 while no transition runs (during a switch), so a scraper sees one stable series.
    const epochs = transition !== undefined || catchUp !== undefined;
    return [
      ...(!epochs ? [] : [
        gauge("ios_epoch_transition_leaders_left", "The transition out of this epoch: elected leaders skipped so far (abandoned at the delivery deadline or resigned; 0 while none runs)", transition?.abandoned ?? 0),
        gauge("ios_epoch_transition_resignations", "The transition out of this epoch: times this validator resigned as leader (its DRP run or CoSi session failed; 0 while none runs)", transition?.resigned ?? 0),
      ]),
      ...(catchUp === undefined ? [] : [
        counter("ios_epoch_links_served_total", "Identity links this validator's archive sent to peers catching up", catchUp.served),
        {
          name: "ios_epoch_link_catch_up_ignored_total",
          help: "Catch-up requests and answers ignored without fault, by code (late answers, epochs not kept, requests over a peer's budget)",
          type: "counter" as const,
          samples: Object.entries(catchUp.ignored).map(([code, value]) => ({ labels: { code }, value })),
        },
      ]),
    ];
  }
}

/** Listeners of one kind of client event, kept across drivers: each new epoch's driver feeds them. */
class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();

  add(listener: (value: T) => void): () => void {
    this.#set.add(listener);
    return () => void this.#set.delete(listener);
  }

  readonly emit = (value: T): void => {
    for (const listener of this.#set) listener(value);
  };
}

/** Switches a node remembers (`recentSwitches`). */
export const RECENT_SWITCHES = 16;

/** How the node entered an epoch: GET /v1/status's `lastSwitch`. */
export interface EpochSwitch {
  readonly epoch: number;
  readonly shard: number;
  /** The sync of the shard's final blocks first, when this validator changed shard or was behind: heights, bytes, ms, sources dropped. */
  readonly sync: {
    readonly heights: number; readonly bytes: number; readonly ms: number; readonly dropped: number;
    /** The MSB height the state was restored at before replaying (0: replayed from its tip). */
    readonly msbHeight: number;
    /** Why joining at the MSB failed, when it was tried and the sync replayed instead (the NODE_MSB_JOIN_FAILED cause). */
    readonly msbFailure?: string;
  } | undefined;
  /** From the epoch's configuration here (or the node's start) to its driver starting. */
  readonly pauseMs: number;
}

export class ValidatorNode {
  #api: ClientApi | undefined;
  /**
   * A started node's listeners: the edge on the client port (uWS listens on a Unix socket in
   * `socketDir` behind it) and the peer port uWS listens on itself.
   */
  #listeners: { readonly edge: HttpEdge; readonly socketDir: string; peerPort: number } | undefined;
  #stopping: Promise<void> | undefined;
  readonly #deps: ValidatorDeps;
  /**
   * The main thread's Ed25519 verifier, shared by every driver, transition and catch-up this node
   * runs: its WASM instance reserves the decoded-key cache (WORKER_KEY_CACHE_SIZE keys) once per
   * process instead of once per epoch and opening, and keeps the keys it decoded across them.
   */
  readonly #verifier = new Ed25519Verifier({ keyCacheSize: WORKER_KEY_CACHE_SIZE });
  /** Epochs 0..latest: the genesis's context, then one per archived link. */
  readonly #contexts: EpochContext[];
  readonly #holds = new Map<number, ShardHold>();
  #run: EpochRun;
  /** The transition out of the current epoch, and the one into it (kept for peers that ask for its link late). */
  #transition: TransitionRun | undefined;
  #previousTransition: TransitionRun | undefined;
  /** Switching into the next epoch or its opening: the old driver stops, the shard syncs if needed, the new one starts. */
  #switching: Promise<void> | undefined;
  /** While no driver takes submissions (one stopped, the next not started yet): `submit` waits for it. */
  #handover: Promise<void> | undefined;
  /** Called once when the node starts stopping: waits on the shard (an opening's end) give up. */
  readonly #onStopping = new Set<() => void>();
  /** Runs whose driver started (an opening a restart found configured past is not). */
  readonly #started = new WeakSet<EpochRun>();
  /** A batch run of the shard this validator joins (`#joinShard`) while its own run still serves the shard it leaves. */
  #joining: EpochRun | undefined;
  /** Ended openings' drivers still serving their records (`#stopRun`), stopped when the next opening starts. */
  readonly #retired: PobShardConsensus[] = [];
  /** Runs `#stopRun` stopped: stopping one again hands over nothing twice. */
  readonly #stoppedRuns = new WeakSet<EpochRun>();
  /** What a superseded switch's stopped runs held unsettled (NODE_SWITCH_SUPERSEDED), for the next run, oldest first. */
  readonly #carriedAcross: Uint8Array[] = [];
  #switches = 0;
  /**
   * A link learned from a peer's archive (catch-up) enters its epoch only after CAUGHT_UP_SETTLE_DELTAS Δ
   * without another: a validator several epochs behind walks the links (one round trip each) and
   * switches once, into the latest, whose shard it can join at the MSB its peers keep (they keep
   * the latest body only), instead of syncing every epoch in between.
   */
  #caughtUpTimer: TimerHandle | undefined;
  /** Asks peers' archives for links this validator missed, and answers theirs (PoB with an epoch length). */
  #catchUp: { readonly catchUp: LinkCatchUp; close(): void } | undefined;
  readonly #recentSwitches: EpochSwitch[] = [];
  /** When (this node's clock) the last two epochs' configurations reached it, and its shard began their heights (`#open`). */
  readonly #configuredAt = new Map<number, number>();
  readonly #openedAt = new Map<number, number>();
  readonly events = {
    confirmations: new Listeners<ConfirmationBatch>(),
    optimistic: new Listeners<OptimisticBatch>(),
    atomix: new Listeners<AtomixBatch>(),
  };

  private constructor(
    readonly setup: NodeSetup,
    deps: ValidatorDeps,
  ) {
    this.#deps = deps;
    const home = this.#hold(setup.shard).state;
    const links = Array.from({ length: home.lastEpoch }, (_, i) => home.epochLink(i + 1)!);
    this.#contexts = verifyIdentityChain(setup.genesis, links);
    // The latest epoch whose shard state reached its start height (epoch 0's always has): a validator that stopped while
    // syncing into a later epoch starts from the one before and syncs again when it runs. Walking down reaches an epoch
    // that does not list it (a registrant's epoch 0, an observer's latest): it waits there, and enters the latest if that lists it.
    const { publicKey } = setup.key;
    // An epoch is reached once its opening instance ended in the state (TransEpoch: its own committee takes over there).
    let epoch = this.#contexts.length - 1;
    for (;;) {
      const context = this.#contexts[epoch]!;
      const shard = context.shardOf(publicKey);
      if (shard === undefined || epoch === 0) break;
      const { state } = this.#hold(shard);
      if (state.tip.height >= context.startHeight && this.#takeoverOf(state, context) !== undefined) break;
      epoch--;
    }
    const context = this.#contexts[epoch]!;
    const shard = context.shardOf(publicKey);
    // A state past the epoch's last height ran the next epoch's opening: it resumes there.
    this.#run = shard === undefined ? this.#waitingRun(epoch, undefined)
      : this.#opens(context) && this.#hold(shard).state.tip.height >= context.startHeight + context.epochLength! ? this.#openingRun(epoch)
        : this.#wireEpoch(epoch);
    if (setup.config.consensus.mode === "pob" && setup.context.epochLength !== undefined) {
      const channel = deps.transport.open(ARCHIVE_INSTANCE);
      const catchUp = new LinkCatchUp({ intervalMs: LINK_CATCH_UP_DELTAS * this.#epochDeltaMs }, {
        channel, clock: deps.clock, rng: deps.rng, verifier: this.#verifier,
        latest: () => this.#contexts.at(-1)!,
        archived: (epoch) => {
          const link = home.epochLink(epoch);
          return link === undefined ? undefined : { link, transcript: home.epochTranscript(epoch)! };
        },
        onLink: (configured) => this.#configured(configured, "catch-up"),
      });
      this.#catchUp = {
        catchUp,
        close: () => {
          catchUp.close();
          channel.close();
        },
      };
    }
  }

  get clock(): Clock {
    return this.#deps.clock;
  }

  /** Δ of this validator's epoch transitions (`consensus.epochDeltaMs`). */
  get #epochDeltaMs(): number {
    return this.setup.config.consensus.epochDeltaMs ?? DEFAULT_EPOCH_DELTA_MS;
  }

  get pool(): VerifierPool {
    return this.#deps.pool;
  }

  get transport(): Transport {
    return this.#deps.transport;
  }

  /** The epoch this validator serves (the latest it knows), or waits in. */
  get context(): EpochContext {
    return this.#run.context;
  }

  /** The epoch of the heights its driver decides: the configured one's, or the next one's during that epoch's opening. */
  get decidingEpoch(): number {
    return this.opening ? this.#run.context.epoch + 1 : this.#run.context.epoch;
  }

  /** Whether its driver runs the next epoch's opening (batch 0, this epoch's committee) while that epoch's configuration is made. */
  get opening(): boolean {
    return this.#run.move !== undefined;
  }

  /** Its shard in that epoch; while it waits, the shard of the state the API reads (the one it served last, or the home shard). */
  get shard(): number {
    return this.#run.shard;
  }

  /** "validator" while the current epoch lists it; "registrant" or "observer" while it waits (WaitingDriver). */
  get role(): "validator" | WaitingRole {
    return this.#run.role;
  }

  /** It decides blocks of its shard in its epoch (not waiting). */
  get serving(): boolean {
    return this.#run.role === "validator";
  }

  get driver(): ShardDriver {
    return this.#run.driver;
  }

  get state(): ShardState {
    return this.#run.hold.state;
  }

  get pipeline(): Pipeline {
    return this.#run.hold.pipeline;
  }

  /** This validator's state of `shard`, if it ever opened one (a mover keeps the shard it left; tests read it). */
  stateOf(shard: number): ShardState | undefined {
    return this.#holds.get(shard)?.state;
  }

  /** The epoch archive: the home shard's store keeps it, whichever shard this validator serves now. */
  get archive(): ShardState {
    return this.#hold(this.setup.shard).state;
  }

  /** The epoch contexts this validator knows, 0..current. */
  get contexts(): readonly EpochContext[] {
    return this.#contexts;
  }

  /** The transition out of the current epoch, if this node runs one (PoB with an epoch length). */
  get transition(): EpochTransition | undefined {
    return this.#transition?.transition;
  }

  /** The link catch-up's counts (PoB with an epoch length): answers served, answers and requests ignored by code. */
  get linkCatchUpStats(): LinkCatchUp["stats"] | undefined {
    return this.#catchUp?.catchUp.stats;
  }

  /** Epochs entered since this incarnation started. */
  get switches(): number {
    return this.#switches;
  }

  get lastSwitch(): EpochSwitch | undefined {
    return this.#recentSwitches.at(-1);
  }

  /** The last RECENT_SWITCHES switches, oldest first. */
  get recentSwitches(): readonly EpochSwitch[] {
    return this.#recentSwitches;
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
   * Wires the pipeline and the driver of the latest epoch this validator's archive holds, on top
   * of `deps` (nothing is started): the simulator builds whole nodes this way, over its virtual
   * clock, network, stores and pool.
   */
  static wire(setup: NodeSetup, deps: ValidatorDeps): ValidatorNode {
    return new ValidatorNode(setup, deps);
  }

  /** Phase 1 over real parts: LMDB, Piscina, uWebSockets.js; on failure, closes what it opened. */
  static async start(setup: NodeSetup, options: ValidatorOptions): Promise<ValidatorNode> {
    const { config, genesis, key } = setup;
    const states: ShardState[] = [];
    const openState = (shard: number): ShardState => {
      const state = ShardState.open({ directory: shardDirectory(config.dataDir, setup.shard, shard), genesis, shard, prune: pruneOf(config), ...(options.flavor === undefined ? {} : { flavor: options.flavor }) });
      states.push(state);
      return state;
    };
    const opened: (() => Promise<void> | void)[] = [async () => {
      for (const state of states) await state.close();
    }];
    try {
      // The client port is the HTTP edge's; uWS serves it from a private Unix socket behind the edge,
      // in the data directory's socket directory: claimed first, so a second validator on this data directory opens nothing.
      const socketDir = await claimSocketDirectory(config.dataDir);
      opened.push(() => rmSync(socketDir, { recursive: true, force: true }));
      const pool = new PiscinaVerifierPool({ threads: config.pipeline.workers ?? availableParallelism() });
      opened.unshift(() => pool.close());
      const clock = new SystemClock();
      const failures = new HandlerFailures(options.logger);
      const edge = await HttpEdge.listen({ host: config.listen.host, port: config.listen.port, upstreamPath: join(socketDir, SOCKET_FILE), maxBodyBytes: config.api.maxBodyBytes }, options.logger.child({ subsystem: "api" }));
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
      const openLog = (shard: number, epoch: number, instance: LogInstance): FinalityLogOpener => fileFinalityLogs(finalityDirectory(config.dataDir, setup.shard, shard, epoch, instance));
      const addressBook = new Map(config.peers.map((peer) => [peer.publicKey, peer.url]));
      const linkWith = (peers: readonly PeerId[]): void => transport.setPeers(new Map(peers.map((peer) => [peer, addressBook.get(peer)])));
      const node = ValidatorNode.wire(setup, { clock, rng: new CryptoRng(), transport, openState, pool, openLog, onError, logger: options.logger.child({ subsystem: "node" }), linkWith });
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

  /** Where clients' transactions go: the current epoch's driver (during a switch, the next epoch's, once it runs). */
  async submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    while (this.#handover !== undefined) await this.#handover;
    return this.driver.submit(transactions);
  }

  /** Starts the driver of a node made by `wire` (`start` does it for a real one). */
  run(): void {
    // An opening whose next epoch is configured already (a restart there) is not run: the switch syncs past its end instead,
    // since its peers may have stopped serving it.
    if (this.#run.move === undefined || this.#run.context.epoch === this.#contexts.length - 1) this.#startRun(this.#run);
    this.#linkMembers();
    if (this.#run.role !== "validator") this.#noticeWaiting();
    this.#catchUp?.catchUp.start();
    if (this.#run.context.epoch < this.#contexts.length - 1) this.#scheduleSwitch(this.clock.now());
  }

  /** Phase 3 (idempotent). */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#api?.stop();
    for (const stopping of this.#onStopping) stopping();
    this.#catchUp?.close();
    if (this.#caughtUpTimer !== undefined) this.clock.cancelTimer(this.#caughtUpTimer);
    this.#transition?.close();
    this.#previousTransition?.close();
    // A switch syncing its shard up to an opening's end gives up (the shard's next heights may never come now).
    for (const { sync } of this.#holds.values()) sync?.close();
    await this.#joining?.driver.stop();
    await this.#switching;
    for (const retired of this.#retired.splice(0)) await retired.stop();
    await this.driver.stop();
    this.#run.detach();
    for (const { pipeline } of this.#holds.values()) await pipeline.close();
    await this.#listeners?.edge.close();
    await this.transport.close();
    if (this.#listeners !== undefined) rmSync(this.#listeners.socketDir, { recursive: true, force: true });
    await this.pool.close();
    for (const { state } of this.#holds.values()) await state.close();
  }

  /** This validator's state of `shard` and its pipeline, opened on first use. */
  #hold(shard: number): ShardHold {
    let hold = this.#holds.get(shard);
    if (hold === undefined) {
      const { maxPendingTxs } = this.setup.config.pipeline;
      const state = this.#deps.openState(shard);
      const pipeline = new Pipeline({ state, pool: this.#deps.pool, clock: this.#deps.clock, ...(maxPendingTxs === undefined ? {} : { maxPendingTxs }) });
      const { epochLength } = this.setup.context;
      const sync = this.setup.config.consensus.mode === "pob" && epochLength !== undefined
        ? new ShardSync({ state, transport: this.#deps.transport, clock: this.#deps.clock, committees: (epoch, of, batch) => this.#committee(epoch, of, batch), moves: (epoch, of) => this.#move(epoch, of), epochLength })
        : undefined;
      this.#holds.set(shard, (hold = { state, pipeline, sync }));
    }
    return hold;
  }

  /** The run of `epoch` (nothing started): its shard's hold, with the epoch's trusted committees, and its driver, from where the epoch's opening ended. */
  #wireEpoch(epoch: number): EpochRun {
    const { context, previous, shard, hold } = this.#servedIn(epoch);
    const state = hold.state;
    const takeover = state.tip.height >= context.startHeight ? this.#takeoverOf(state, context) : undefined;
    check<NodeErrorCode>(takeover !== undefined, "NODE_STATE_BEHIND",
      `shard ${shard}'s state is at height ${state.tip.height}, before the end of epoch ${epoch}'s opening (the epoch starts at ${context.startHeight})`);
    return this.#runOf(context, shard, hold, makeDriver(this.setup, this.#deps, { context, previous, shard, hold, verifier: this.#verifier, takeover }));
  }

  /**
   * The run of the opening of `epoch + 1` (nothing started): `epoch`'s committee and leagues
   * decide the next epoch's heights in its batch 0 from `epoch`'s boundary on, until the
   * configuration of `epoch + 1` is known here and a certified swap-in ends the instance
   * (src/epoch/transepoch/move-rule.ts).
   */
  #openingRun(epoch: number): EpochRun {
    const { context, previous, shard, hold } = this.#servedIn(epoch);
    // The opening may decide up to the next epoch's last height but one (the forced end; the last makes the boundary: B's).
    const rule = new MoveSwapRule(this.#moveRuleOptions(context));
    const driver = makeDriver(this.setup, this.#deps, { context, previous, shard, hold, verifier: this.#verifier, takeover: context.startHeight + context.epochLength!, move: { rule } });
    return { ...this.#runOf(context, shard, hold, driver), move: rule };
  }

  /**
   * The run of batch `rule.batch` (1..B − 1) of the move of `shard` into `epoch + 1` (nothing started): committee(batch)
   * decides from `takeover`, the certified height whose swap-in moved the shard there, on the same state (`PobShardConsensus`
   * `batch`), until batch + 1's swap-in or the forced end. `joining`: this validator leaves another shard meanwhile.
   */
  #batchRun(epoch: number, shard: number, rule: MoveSwapRule, takeover: number, joining = false): EpochRun {
    const context = this.#contexts[epoch]!;
    const previous = epoch === 0 ? undefined : this.#contexts[epoch - 1];
    const hold = this.#hold(shard);
    this.#prepareHold(hold, context, previous);
    const next = this.#contexts[epoch + 1]!;
    const driver = makeDriver(this.setup, this.#deps, { context, previous, shard, hold, verifier: this.#verifier, takeover, move: { rule, next, joining } });
    return { ...this.#runOf(context, shard, hold, driver), move: rule };
  }

  /** The move rule's place for an instance run under `context` (the move into the next epoch). */
  #moveRuleOptions(context: EpochContext): MoveSwapRuleOptions {
    return { clock: this.clock, patienceMs: SWAP_PATIENCE_DELTAS * this.#epochDeltaMs, epochStart: context.startHeight + context.epochLength!, epochLength: context.epochLength! };
  }

  /** The schedule's swaps of `shard` into `next` at `batch`, with the commitments of `hold`'s final heights. */
  #swapsOf(next: EpochContext, shard: number, batch: number, hold: ShardHold): ShardSwaps {
    return new ShardSwaps({
      chain: next.chain, shard, epoch: next.epoch, schedule: next.move(shard)!, batch, clock: this.clock, patienceMs: SWAP_PATIENCE_DELTAS * this.#epochDeltaMs,
      commitmentAt: (height) => hold.state.finalHeightAt(height)?.stateCommitment,
    });
  }

  /** What this node serves in `epoch` (NODE_NOT_A_VALIDATOR if nothing): the context, its predecessor, its shard and that shard's hold, prepared for the epoch. */
  #servedIn(epoch: number): { readonly context: EpochContext; readonly previous: EpochContext | undefined; readonly shard: number; readonly hold: ShardHold } {
    const context = this.#contexts[epoch]!;
    const previous = epoch === 0 ? undefined : this.#contexts[epoch - 1];
    const shard = context.shardOf(this.setup.key.publicKey);
    check<NodeErrorCode>(shard !== undefined, "NODE_NOT_A_VALIDATOR", `${toHex(this.setup.key.publicKey)} is not a validator of epoch ${epoch}`);
    const hold = this.#hold(shard);
    this.#prepareHold(hold, context, previous);
    return { context, previous, shard, hold };
  }

  #runOf(context: EpochContext, shard: number, hold: ShardHold, driver: ShardDriver): EpochRun {
    const { events } = this;
    const unsubscribe = [
      driver.onConfirmations(events.confirmations.emit),
      driver.onOptimistic?.(events.optimistic.emit),
      driver.onAtomix?.(events.atomix.emit),
    ];
    return { context, shard, hold, driver, role: "validator", detach: () => unsubscribe.forEach((u) => u?.()) };
  }

  /** A hold about to serve `context`: its pipeline trusts the committees of the epoch before, the epoch and its opening; releases follow the epoch. */
  #prepareHold(hold: ShardHold, context: EpochContext, previous: EpochContext | undefined): void {
    if (this.setup.config.consensus.mode !== "pob") return;
    // Only PoB final blocks prove their decisions (src/atomix/proof.ts): Atomix transactions are admitted there alone.
    hold.pipeline.useCommittees(encodeEpochCommittees(trustedCommittees([...(previous === undefined ? [] : [previous]), context])));
    // The bonds of validators that left long enough ago may be released in this epoch (src/ledger/kinds/registration.ts).
    hold.state.setReleases(context.releasable());
  }

  /** Whether epochs open (PoB with an epoch length): an epoch's boundary hands over to the next epoch's opening. */
  #opens(context: EpochContext): boolean {
    return this.setup.config.consensus.mode === "pob" && context.epochLength !== undefined;
  }

  /**
   * Where `context`'s own committee took over in `state`: the height whose certified proposal
   * ended the epoch's opening (a swap-in), or the epoch's start when epochs do not open (epoch 0,
   * no epoch length); undefined while the state holds no such height.
   */
  #takeoverOf(state: ShardState, context: EpochContext): number | undefined {
    return !this.#opens(context) || context.epoch === 0 ? context.startHeight : moveEndOf(state, context);
  }

  /**
   * The run of `epoch` for a node it does not list: a WaitingDriver over the state of the shard
   * it served last (`left`, a leaver's), else of the latest epoch before that listed it, else the home store.
   */
  #waitingRun(epoch: number, left: number | undefined): EpochRun {
    const { publicKey } = this.setup.key;
    const served = this.#contexts.slice(0, epoch + 1).map((context) => context.shardOf(publicKey)).filter((shard) => shard !== undefined);
    const shard = left ?? served.at(-1) ?? this.setup.shard;
    const hold = this.#hold(shard);
    const role: WaitingRole = served.length > 0 ? "observer" : "registrant";
    return { context: this.#contexts[epoch]!, shard, hold, driver: new WaitingDriver(hold.state, role, epoch), role, detach: () => undefined };
  }

  #noticeWaiting(): void {
    const { epoch } = this.#run.context;
    this.#deps.logger.info({ code: "NODE_WAITING" satisfies NodeNoticeCode, epoch, role: this.#run.role, publicKey: toHex(this.setup.key.publicKey) },
      `not a validator of epoch ${epoch}, the latest known: waiting for an epoch that lists this key (a registration final in epoch e enters at e + 1)`);
  }

  /**
   * Hands the transport the validators to link with (`membershipOf`) around the epoch this node
   * is in: under PoB with an epoch length, where epochs change the validator set.
   */
  #linkMembers(): void {
    if (this.#catchUp === undefined || this.#deps.linkWith === undefined) return;
    this.#deps.linkWith(membershipOf(this.#contexts, this.#run.context.epoch, toHex(this.setup.key.publicKey)));
  }

  /** Starts a wired run: its driver, the transition out of its epoch (PoB with an epoch length), and what was accepted and never settled. */
  #startRun(run: EpochRun): void {
    const { context, driver, hold } = run;
    if (run.role !== "validator") return;
    this.#started.add(run);
    if (driver instanceof PobShardConsensus && context.epochLength !== undefined) {
      // The transition out of the epoch, unless the next one is configured already (a restart into an epoch still to sync); it
      // may run already (started with the switch into the epoch, or the opening follows the epoch's own driver).
      if (context.epoch === this.#contexts.length - 1) {
        const started = this.#transition === undefined;
        const { transition } = (this.#transition ??= startTransition(this.setup, this.#deps, this.#verifier, context, (configured) => this.#configured(configured)));
        if (run.move === undefined) driver.onBoundary((boundary) => transition.provideBoundary(boundary));
        // An opening's boundary is the stored one (a restart there): the epoch's own driver handed it over already otherwise.
        if (driver.boundary !== undefined && (run.move === undefined || started)) transition.provideBoundary(driver.boundary);
      }
      // No rest at the boundary: the next epoch's opening takes over there.
      if (run.move === undefined && this.#deps.restAtBoundary !== true) driver.onBoundary(() => this.#queue(() => this.#open(run)));
    }
    driver.start();
    // What this validator answered "accepted" before a stop, crash or switch and never settled goes round again.
    void hold.pipeline.recoverAccepted((transactions) => driver.submit(transactions)).catch(this.#deps.onError);
  }

  /**
   * Epoch e + 1 is configured (by this validator's transition, or a link its peers' archives sent,
   * src/epoch/transition/catch-up.ts): archived in the home store, then entered once any switch
   * in progress is done.
   */
  #configured({ context, link, transcript }: ConfiguredEpoch, by: "transition" | "catch-up" = "transition"): void {
    if (context.epoch !== this.#contexts.length || this.#stopping !== undefined) return;
    try {
      this.#hold(this.setup.shard).state.keepEpoch(context.epoch, link, transcript);
    } catch (error) {
      this.#deps.onError(error);
      return;
    }
    this.#contexts.push(context);
    // The next epoch's validators link now: a registrant syncs from them and they take its links before the switch.
    this.#linkMembers();
    // Its committees' certificates (other shards' heights past their openings) prove Atomix locks here from now on.
    if (this.#run.role === "validator") this.#prepareHold(this.#run.hold, context, this.#contexts[context.epoch - 1]);
    const configuredAt = this.clock.now();
    keepLatestTwo(this.#configuredAt, context.epoch, configuredAt);
    if (this.#caughtUpTimer !== undefined) this.clock.cancelTimer(this.#caughtUpTimer);
    this.#caughtUpTimer = undefined;
    if (by === "transition") {
      this.#scheduleSwitch(configuredAt, by);
      return;
    }
    this.#caughtUpTimer = this.clock.setTimer(CAUGHT_UP_SETTLE_DELTAS * this.#epochDeltaMs, () => {
      this.#caughtUpTimer = undefined;
      this.#scheduleSwitch(configuredAt, by);
    });
  }

  /** Enters the latest epoch once any switch in progress is done. */
  #scheduleSwitch(configuredAt: number, by: "transition" | "catch-up" | "restart" = "restart"): void {
    this.#queue(() => this.#enterLatest(configuredAt, by));
  }

  /** Runs `step` once every switch queued before it is done. */
  #queue(step: () => Promise<void>): void {
    const switching = (this.#switching ?? Promise.resolve()).then(step).catch(this.#deps.onError);
    this.#switching = switching;
    void switching.finally(() => {
      if (this.#switching === switching) this.#switching = undefined;
    });
  }

  /** Submissions wait from now until the returned function is called (idempotent): no driver takes them meanwhile. */
  #pauseSubmissions(): () => void {
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    this.#handover = paused;
    return () => {
      if (this.#handover === paused) this.#handover = undefined;
      resume();
    };
  }

  /**
   * Stops `old`'s driver (or retires an ended opening's: its BFT serves the instance's records to
   * late members until the next opening starts) and returns what it held unsettled: its relays
   * still unanswered, then the queue (batches still in the workers land in it first).
   */
  async #stopRun(old: EpochRun, retire = false): Promise<readonly Uint8Array[]> {
    if (this.#stoppedRuns.has(old)) return [];
    this.#stoppedRuns.add(old);
    // Accepted for clients and not settled here (relayed and unanswered, or held for a one-league leader; submissions are
    // paused, those under way get their answers first): the next driver relays, holds or produces them.
    const unsettled = old.driver instanceof PobShardConsensus ? await old.driver.acceptedUnsettled() : [];
    if (retire && old.driver instanceof PobShardConsensus) {
      old.driver.retire();
      this.#retired.push(old.driver);
    } else {
      await old.driver.stop();
    }
    old.detach();
    await old.hold.pipeline.drain();
    return [...unsettled, ...old.hold.pipeline.drainQueued()];
  }

  /**
   * The epoch's last height is final here (`run`'s boundary): the next epoch's opening takes over
   * on the same state, with what the epoch's driver held unsettled, while the transition runs.
   * Nothing happens when the node moved on meanwhile (a configuration entered first).
   */
  async #open(run: EpochRun): Promise<void> {
    if (this.#run !== run || this.#stopping !== undefined) return;
    const resume = this.#pauseSubmissions();
    try {
      const carried = await this.#stopRun(run);
      // The previous opening's late members are long past it.
      for (const retired of this.#retired.splice(0)) await retired.stop();
      if (this.#stopping !== undefined) return;
      const opening = this.#openingRun(run.context.epoch);
      this.#run = opening;
      this.#startRun(opening);
      if (carried.length > 0) void opening.driver.submit(carried).catch(this.#deps.onError);
      const epoch = run.context.epoch + 1;
      keepLatestTwo(this.#openedAt, epoch, this.clock.now());
      this.#deps.logger.info({ code: "NODE_OPENING" satisfies NodeNoticeCode, epoch, shard: run.shard, height: run.hold.state.tip.height, carried: carried.length },
        `shard ${run.shard} reached epoch ${epoch}'s start: epoch ${run.context.epoch}'s committee goes on in epoch ${epoch}'s opening while the configuration is made`);
    } finally {
      resume();
    }
  }

  /** Whether an epoch after `epoch` is configured here: the shard finished `epoch`, whatever this node still waits for in it. */
  #configuredPast(epoch: number): boolean {
    return this.#contexts.length - 1 > epoch;
  }

  /**
   * Resolves with the height `run`'s opening (or batch) ended at, once final here; undefined if the
   * node stops first; "stalled" once its state decided nothing for OPENING_STALL_DELTAS Δ, when
   * `giveUp` says so: "stall" at once; "superseded" only while an epoch after the one `run` moves
   * into is configured here (the shard finished that epoch: no quorum of this opening can need this
   * node any more); "never" not at all.
   */
  #instanceEnd(run: EpochRun, giveUp: "stall" | "superseded" | "never"): Promise<number | "stalled" | undefined> {
    const driver = run.driver as PobShardConsensus;
    return new Promise((resolve) => {
      if (driver.instanceEnd !== undefined || this.#stopping !== undefined) {
        resolve(this.#stopping === undefined ? driver.instanceEnd : undefined);
        return;
      }
      let timer: TimerHandle | undefined;
      const finish = (outcome: number | "stalled" | undefined): void => {
        off();
        this.#onStopping.delete(stopping);
        if (timer !== undefined) this.clock.cancelTimer(timer);
        resolve(outcome);
      };
      const stopping = (): void => finish(undefined);
      const off = driver.onInstanceEnd((height) => finish(height));
      this.#onStopping.add(stopping);
      if (giveUp === "never") return;
      let seen = run.hold.state.tip.height;
      const watch = (): void => {
        timer = this.clock.setTimer(OPENING_STALL_DELTAS * this.#epochDeltaMs, () => {
          const tip = run.hold.state.tip.height;
          if (tip === seen && (giveUp === "stall" || this.#configuredPast(run.context.epoch + 1))) finish("stalled");
          else {
            seen = tip;
            watch();
          }
        });
      };
      watch();
    });
  }

  /**
   * Enters the latest epoch (`E`). From the opening of E (the usual case: this validator's shard
   * decided past E's start under E − 1's committee): the opening's rule learns the configuration,
   * and once the certified height ending the opening is final here its driver stops; a validator
   * E keeps in the shard starts E's driver on the same state from that height, one E moves syncs
   * its new shard up to that shard's opening end meanwhile and starts there, one E does not list
   * waits. A member of E − 1 whose epoch-(E − 1) driver had not reached the boundary reaches it
   * (syncing if behind) and takes its seat in the opening first. Any other node (behind by
   * epochs, or waiting, or one that learned E from its peers' archives: it is behind, and its
   * opening's peers may no longer serve it) syncs E's shard up to its opening end.
   */
  async #enterLatest(configuredAt: number, by: "transition" | "catch-up" | "restart"): Promise<void> {
    const epoch = this.#contexts.length - 1;
    let old = this.#run;
    if (old.context.epoch === epoch || this.#stopping !== undefined) return;
    this.#previousTransition?.close();
    this.#previousTransition = this.#transition;
    this.#transition = undefined;
    const context = this.#contexts[epoch]!;
    const shard = context.shardOf(this.setup.key.publicKey);
    // The transition out of the new epoch runs from now on: its members elect and draw while this one's opening ends and movers sync.
    if (shard !== undefined && this.#opens(context)) this.#transition = startTransition(this.setup, this.#deps, this.#verifier, context, (configured) => this.#configured(configured));
    let resume = this.#pauseSubmissions();
    let pauseFrom = configuredAt;
    let carried: readonly Uint8Array[] = [];
    try {
      let report: SyncReport | undefined;
      let joined: JoinedShard | undefined;
      if (old.role === "validator" && old.move === undefined && old.context.epoch === epoch - 1 && this.#opens(old.context)) {
        carried = await this.#stopRun(old);
        if (old.hold.state.tip.height < context.startHeight) report = await this.#sync(old.shard, context, context.startHeight);
        if (this.#stopping !== undefined) return;
        const opening = this.#openingRun(epoch - 1);
        this.#run = opening;
        this.#startRun(opening);
        if (carried.length > 0) void opening.driver.submit(carried).catch(this.#deps.onError);
        carried = [];
        old = opening;
      }
      if (old.move !== undefined && old.context.epoch === epoch - 1 && this.#started.has(old)) {
        old.move.configure(this.#swapsOf(context, old.shard, 0, old.hold));
        // The opening keeps deciding (and taking submissions) until its end is final here.
        resume();
        // A producer of the shard that joins its committee asks for its seat like any joiner (its state follows the shard already).
        const seat = shard !== undefined && shard === old.shard ? this.#joiningBatch(shard, context) : undefined;
        // Its driver holds the shard's lane: the request goes out on it.
        const stopAsking = seat === undefined ? undefined
          : this.#askForSeat(old.shard, context, seat, old.hold, (peers, request) => (this.#run.driver as PobShardConsensus).sendSwapRequest(peers, request),
            this.#batchStartsIn(context, old.shard, seat));
        const following = shard !== undefined && shard !== old.shard ? this.#joinShard(shard, context) : undefined;
        // Awaited below: a failure meanwhile is reported there, not as an unhandled rejection.
        following?.catch(() => undefined);
        // A configuration learned from peers' archives may find this node behind, its opening's peers past it: it gives up
        // its seat once its opening stalls. So does a validator outside the opening's committee (a producer): no quorum needs
        // it, and it learns the opening's heights only from records its committee may have stopped serving. A member stays
        // while its opening may still need it (its transition may just be slow, and its seat may be what a stalled committee
        // lacks for a quorum once a peer comes back), and gives up once the epoch after this one is configured: the shard
        // finished the epoch without it, and the ended opening's peers may no longer serve its records.
        const behind = by === "catch-up" || !(old.driver as PobShardConsensus).inCommittee;
        let ended = await this.#instanceEnd(old, behind ? "stall" : "superseded");
        // Batch by batch: each certified swap-in short of B hands the shard to the next batch's driver on the same state.
        for (;;) {
          if (ended === undefined || this.#stopping !== undefined) return;
          if (ended === "stalled") break;
          const reached = batchReachedAt(old.hold.state, context, ended);
          if (reached === context.batchCount(old.shard)) break;
          resume = this.#pauseSubmissions();
          carried = await this.#stopRun(old, true);
          if (this.#stopping !== undefined) return;
          const next = this.#batchRun(epoch - 1, old.shard, old.move!.next(reached), ended);
          this.#run = next;
          this.#startRun(next);
          if (carried.length > 0) void next.driver.submit(carried).catch(this.#deps.onError);
          carried = [];
          resume();
          this.#deps.logger.info({ code: "NODE_BATCH" satisfies NodeNoticeCode, epoch, shard: old.shard, batch: reached, height: ended },
            `shard ${old.shard}'s move into epoch ${epoch} reached batch ${reached} at height ${ended}: committee(${reached}) decides from there`);
          old = next;
          ended = await this.#instanceEnd(old, "superseded");
        }
        stopAsking?.();
        resume = this.#pauseSubmissions();
        if (ended === "stalled") {
          carried = await this.#stopRun(old);
          joined = following !== undefined ? await following : shard === undefined ? undefined : await this.#joinShard(shard, context);
        } else {
          pauseFrom = Math.max(configuredAt, this.clock.now());
          this.#deps.logger.info({ code: "NODE_OPENING_ENDED" satisfies NodeNoticeCode, epoch, shard: old.shard, height: ended, sinceConfiguredMs: pauseFrom - configuredAt, next: shard ?? null },
            `shard ${old.shard}'s opening of epoch ${epoch} ended at height ${ended}; this validator goes on ${shard === undefined ? "as an observer" : `in shard ${shard}`}`);
          carried = await this.#stopRun(old, true);
          if (following !== undefined) joined = await following;
        }
      } else {
        carried = await this.#stopRun(old);
        if (shard !== undefined) joined = await this.#joinShard(shard, context);
      }
      if (joined !== undefined) report = joined.report;
      if (this.#stopping !== undefined) return;
      if (shard === undefined) {
        this.#wait(epoch, old, carried);
        return;
      }
      const sync: EpochSwitch["sync"] = report === undefined ? undefined : {
        heights: report.applied, bytes: report.bytes, ms: report.elapsedMs, dropped: report.dropped.length, msbHeight: report.bootstrap?.restored === true ? report.bootstrap.height : 0,
        ...(report.bootstrap?.failure === undefined ? {} : { msbFailure: report.bootstrap.failure.code }),
      };
      const run = this.#wireEpoch(epoch);
      this.#run = run;
      this.#switches++;
      this.#startRun(run);
      this.#linkMembers();
      if (old.role !== "validator") {
        this.#deps.logger.info({ code: "NODE_ENTERED" satisfies NodeNoticeCode, epoch, shard, syncedHeights: sync?.heights ?? 0 }, `entered epoch ${epoch} as a validator of shard ${shard}`);
      }
      // What the last driver held unsettled goes to the next one, in its order (parents before the transfers spending them),
      // or, when this validator left the shard, to the shard's producers of the new epoch.
      carried = [...this.#carriedAcross.splice(0), ...carried];
      if (carried.length > 0) {
        if (shard === old.shard) void run.driver.submit(carried).catch(this.#deps.onError);
        else this.#handOff(context, old.shard, carried);
      }
      // What the joined shard's batch drivers held unsettled goes on in its own driver.
      if (joined !== undefined && joined.carried.length > 0) void run.driver.submit(joined.carried).catch(this.#deps.onError);
      this.#recentSwitches.push({ epoch, shard, sync, pauseMs: this.clock.now() - pauseFrom });
      if (this.#recentSwitches.length > RECENT_SWITCHES) this.#recentSwitches.shift();
    } catch (error) {
      if (!(error instanceof IosError) || error.code !== "NODE_SWITCH_SUPERSEDED") throw error;
      // Its shard moved on past what its peers keep: whatever run this switch left is stopped, and a waiting run holds the
      // place until the queued switch into the latest epoch, which syncs the shard from an MSB, as a restart would.
      const stale = this.#run;
      this.#carriedAcross.push(...carried, ...(await this.#stopRun(stale)));
      this.#run = this.#waitingRun(epoch, stale.role === "validator" ? stale.shard : undefined);
      this.#deps.logger.info({ code: "NODE_SWITCH_SUPERSEDED" satisfies NodeNoticeCode, epoch, latest: this.#contexts.length - 1, carried: this.#carriedAcross.length },
        `the switch into epoch ${epoch} found its shard's heights pruned at every source: it gives way to the switch into epoch ${this.#contexts.length - 1}`);
    } finally {
      resume();
    }
  }

  /**
   * Brings this validator's state of `shard` up to where `context`'s own committee took over (the
   * end of the move, src/node/sync `untilBatch` B); undefined when the state holds it already.
   */
  async #syncToMoveEnd(shard: number, context: EpochContext): Promise<SyncReport | undefined> {
    const { state } = this.#hold(shard);
    if (state.tip.height >= context.startHeight && this.#takeoverOf(state, context) !== undefined) return undefined;
    if (!this.#opens(context) || context.epoch === 0) return this.#sync(shard, context, context.startHeight);
    return this.#sync(shard, context, context.startHeight + context.epochLength! - 1, { untilBatch: context.batchCount(shard) });
  }

  /**
   * Takes this validator's seat in `shard`, which `context`'s move has it join in batch c (docs/TRANSEPOCH.md, "The swap-in
   * request"): syncs the shard up to the height whose certified swap-in reaches c, sending its signed SWAP_REQUEST for its
   * newest synced height every Δ/4 meanwhile (`#askForSeat`), then decides in the shard's batches c..B − 1 (a batch driver each,
   * on the same state) until the move's end, where the epoch's own driver starts. A validator joining no batch of the shard
   * (a stayer, restarted or behind) just syncs up to the move's end, as does one the forced end reached first.
   */
  async #joinShard(shard: number, context: EpochContext): Promise<JoinedShard> {
    const joinsIn = this.#joiningBatch(shard, context);
    if (joinsIn === undefined) return { report: await this.#syncToMoveEnd(shard, context), carried: [] };
    const hold = this.#hold(shard);
    await this.#pause(this.#batchStartsIn(context, shard, joinsIn));
    if (this.#stopping !== undefined) return { report: undefined, carried: [] };
    const stopAsking = this.#askForSeat(shard, context, joinsIn, hold);
    let report: SyncReport | undefined;
    try {
      if (!(hold.state.tip.height > context.startHeight && batchAtTip(hold.state, context) >= joinsIn)) {
        report = await this.#sync(shard, context, context.startHeight + context.epochLength! - 1, { untilBatch: joinsIn });
      }
    } finally {
      stopAsking();
    }
    // A batch driver starts where its batch did, on the swap height (every replica's instance continues from there): a state
    // restarted past it holds no replica records of the heights it synced, so it syncs on to the move's end instead.
    const { state } = hold;
    const atSwap = state.tip.height > context.startHeight && decodeProposal(state.finalHeightRecord(state.tip.height)!.proposal).swapIn !== undefined;
    if (!atSwap) return { report: joinedReports(report, await this.#syncToMoveEnd(shard, context)), carried: [] };
    // Batch by batch from the seat's, on the same state, up to the move's end.
    let carried: readonly Uint8Array[] = [];
    let rule: MoveSwapRule | undefined;
    while (this.#stopping === undefined && hold.state.tip.height > context.startHeight) {
      const at = batchAtTip(hold.state, context);
      if (at >= context.batchCount(shard)) break;
      const takeover = hold.state.tip.height;
      rule = rule === undefined ? new MoveSwapRule(this.#moveRuleOptions(this.#contexts[context.epoch - 1]!), this.#swapsOf(context, shard, at, hold)) : rule.next(at);
      const run = this.#batchRun(context.epoch - 1, shard, rule, takeover, true);
      this.#joining = run;
      run.driver.start();
      if (carried.length > 0) void run.driver.submit(carried).catch(this.#deps.onError);
      this.#deps.logger.info({ code: "NODE_BATCH" satisfies NodeNoticeCode, epoch: context.epoch, shard, batch: at, height: takeover },
        `joined shard ${shard}'s batch ${at} of the move into epoch ${context.epoch} at height ${takeover}: committee(${at}) decides from there`);
      const ended = await this.#instanceEnd(run, "never");
      // Stopping: `#shutdown` stops the joining driver.
      if (ended === undefined || ended === "stalled" || this.#stopping !== undefined) return { report, carried: [] };
      this.#joining = undefined;
      carried = await this.#stopRun(run, true);
    }
    return { report, carried };
  }

  /** The batch in which `context`'s move has this validator join `shard`'s committee; undefined: none (it stays, or leaves). */
  #joiningBatch(shard: number, context: EpochContext): number | undefined {
    if (!this.#opens(context) || context.epoch === 0) return undefined;
    const { publicKey } = this.setup.key;
    return context.move(shard)?.batches.find((batch) => batch.joining.some((key) => sameBytes(key, publicKey)))?.index;
  }

  /**
   * How long from now until batch `batch` of `shard`'s move into `context`'s epoch starts: `batchStartDelayMs` after
   * configuration e + 1 reached this node, over what was left of the epoch then as this node saw it (the last epoch's
   * length, between its shard's last two openings, less the time from this opening to the configuration). A node that saw
   * no whole epoch (just started, a registrant) starts at once. A local schedule: no replica checks it, a joiner early or
   * late only moves its own swap.
   */
  #batchStartsIn(context: EpochContext, shard: number, batch: number): number {
    const configuredAt = this.#configuredAt.get(context.epoch);
    const openedAt = this.#openedAt.get(context.epoch);
    const openedBefore = this.#openedAt.get(context.epoch - 1);
    if (configuredAt === undefined || openedAt === undefined || openedBefore === undefined) return 0;
    const leftMs = Math.max(0, openedAt - openedBefore - (configuredAt - openedAt));
    return Math.max(0, configuredAt + batchStartDelayMs(batch, context.batchCount(shard), this.#epochDeltaMs, leftMs) - this.clock.now());
  }

  /** Waits `ms` on the node's clock, or less if the node starts stopping. */
  #pause(ms: number): Promise<void> {
    if (ms <= 0 || this.#stopping !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(ms, () => {
        this.#onStopping.delete(stopping);
        resolve();
      });
      const stopping = (): void => {
        this.clock.cancelTimer(timer);
        resolve();
      };
      this.#onStopping.add(stopping);
    });
  }

  /**
   * Sends this validator's SWAP_REQUEST for batch `batch` of `shard`'s move into `context`'s epoch every Δ/4 (SWAP_ASKS_PER_DELTA), signed for the
   * newest height its state of the shard holds (when that moved), to the committee in use at that height on its batch's
   * lane (`send`: on the lane of this validator's own driver of the shard, when it runs one); returns the function that stops it.
   */
  #askForSeat(shard: number, context: EpochContext, batch: number, hold: ShardHold, send?: (peers: readonly PeerId[], request: Uint8Array) => void, startInMs = 0): () => void {
    let asked = -1;
    let timer: TimerHandle | undefined;
    const self = toHex(this.setup.key.publicKey);
    const ask = (): void => {
      timer = this.clock.setTimer(this.#epochDeltaMs / SWAP_ASKS_PER_DELTA, ask);
      const { state } = hold;
      const tip = state.tip.height;
      const commitment = state.finalHeightAt(tip)?.stateCommitment;
      if (tip <= asked || tip <= context.startHeight || commitment === undefined) return;
      const at = batchAtTip(state, context);
      if (at >= batch) return;
      asked = tip;
      const request = signSwapRequest(this.setup.key.secretKey, { chain: context.chain, shard, epoch: context.epoch, batch, syncedHeight: tip, commitment, joiner: this.setup.key.publicKey });
      const peers = context.committee(shard, at).map(toHex).filter((peer) => peer !== self);
      if (send !== undefined) {
        send(peers, request);
        return;
      }
      const channel = this.transport.open({ protocol: "consensus", ...batchLane(shard, context.epoch, at) });
      channel.broadcast(peers, SWAP_REQUEST, request);
      channel.close();
    };
    timer = this.clock.setTimer(startInMs, ask);
    return () => {
      if (timer !== undefined) this.clock.cancelTimer(timer);
    };
  }

  /**
   * The switch into an epoch that does not list this node: it left (its driver stopped after
   * co-signing the transition into `epoch`; what it held unsettled goes to the shard's producers)
   * or it still waits. Either way it stays up without a driver, catching up links.
   */
  #wait(epoch: number, old: EpochRun, carried: readonly Uint8Array[]): void {
    const left = old.role === "validator" ? old.shard : undefined;
    this.#run = this.#waitingRun(epoch, left);
    this.#linkMembers();
    if (left === undefined) return;
    if (carried.length > 0) this.#handOff(this.#contexts[epoch]!, left, carried);
    this.#deps.logger.info({ code: "NODE_LEFT" satisfies NodeNoticeCode, epoch, shard: left, handedOff: carried.length },
      `epoch ${epoch}'s configuration does not list this validator: its shard ${left} driver stopped after epoch ${epoch - 1}; it stays up as an observer`);
  }

  /**
   * Best effort for the transactions a validator held for the shard it leaves: each goes, in its
   * order, to its sender's believable assignee of the new epoch as a relay (TX_RELAY); refusals
   * are not followed (nobody here serves the shard any more) and the one-league fallback gets
   * none. A client follows its transaction at a validator of its shard and resends it there.
   */
  #handOff(context: EpochContext, shard: number, transactions: readonly Uint8Array[]): void {
    if (this.setup.config.consensus.mode !== "pob") return;
    const leagues = context.leagues(shard);
    if (leagues.mode !== "two-league") return;
    const byAssignee = new Map<string, Uint8Array[]>();
    for (const tx of transactions) {
      const spender = spenderOf(tx);
      if (spender === undefined) continue;
      const peer = toHex(assignee(spender, leagues.believable));
      let list = byAssignee.get(peer);
      if (list === undefined) byAssignee.set(peer, (list = []));
      list.push(tx);
    }
    const channel = this.transport.open({ protocol: "client", shard, epoch: context.epoch });
    for (const [peer, list] of byAssignee) channel.send(peer, TX_RELAY, packTransactions(list));
    channel.close();
  }

  /** The BFT committee of `shard` in `epoch` after `batch` swaps, for any epoch this validator knows (its final blocks' certificates verify against it). */
  #committee(epoch: number, shard: number, batch: number): Committee | undefined {
    const context = this.#contexts[epoch];
    if (context === undefined) {
      // The next epoch's opening (batch 0) is known before its configuration: the latest epoch's committee decides it.
      const latest = this.#contexts.at(-1)!;
      if (epoch !== latest.epoch + 1 || batch !== 0 || shard >= latest.shardCount || latest.epochLength === undefined) return undefined;
      const { instance, committee } = latest.opening(shard);
      return { chainId: instance.key, keys: committee };
    }
    if (shard >= context.shardCount || !Number.isInteger(batch) || batch < 0 || batch > context.batchCount(shard)) return undefined;
    return { chainId: context.instance(shard, batch).key, keys: context.committee(shard, batch) };
  }

  /** The TransEpoch move of `shard` into `epoch`, for an epoch this validator knows (its synced heights' batches walk along it). */
  #move(epoch: number, shard: number): EpochMove | undefined {
    return moveIn(this.#contexts[epoch], shard);
  }

  /** Logs how a sync's join at an MSB went (joined, or failed and replayed instead). */
  #logBootstrap(shard: number, { bootstrap }: SyncReport): void {
    if (bootstrap === undefined) return;
    const { epoch, height, bytes, count, failure } = bootstrap;
    if (failure === undefined) {
      this.#deps.logger.info({ code: "NODE_MSB_JOINED" satisfies NodeNoticeCode, shard, epoch, height, bytes, outputs: count }, `joined shard ${shard} at its MSB of epoch ${epoch} (height ${height}, ${count} outputs, ${bytes} bytes)`);
    } else {
      this.#deps.logger.warn({ code: "NODE_MSB_JOIN_FAILED" satisfies NodeNoticeCode, shard, epoch, height, cause: failure.code }, `joining shard ${shard} at its MSB of epoch ${epoch} failed (${failure.code}: ${failure.message}); replaying instead`);
    }
  }

  /**
   * Brings this validator's state of `shard` to `target` (src/node/sync), or to the end of the opening below it (`mode`): from the
   * validators that served the shard in the epoch before and serve it now, every height verified
   * against its epoch's committee; a round that finds no honest source is tried again after
   * SYNC_RETRY_MS, until the node stops.
   */
  async #sync(shard: number, context: EpochContext, target: number, mode: { readonly untilBatch?: number } = {}): Promise<SyncReport | undefined> {
    const { sync } = this.#hold(shard);
    check<NodeErrorCode>(sync !== undefined, "NODE_STATE_BEHIND", `shard ${shard}'s state is below epoch ${context.epoch}'s start height ${context.startHeight}, and only PoB with an epoch length syncs`);
    const self = toHex(this.setup.key.publicKey);
    const previous = this.#contexts[context.epoch - 1];
    const sources = [...new Set([...(previous?.members(shard) ?? []), ...context.members(shard)].map(toHex))].filter((peer) => peer !== self);
    for (;;) {
      try {
        const report = await sync.sync(target, sources, mode);
        this.#logBootstrap(shard, report);
        return report;
      } catch (error) {
        if (this.#stopping !== undefined) return undefined;
        if (!(error instanceof IosError) || error.code !== "SYNC_NO_SOURCE") throw error;
        // Its sources pruned past it: while no later epoch is known, they may come back or catch up; once one is, the
        // switch into it syncs from an MSB instead.
        if (this.#configuredPast(context.epoch)) {
          throw new IosError<NodeErrorCode>("NODE_SWITCH_SUPERSEDED", `shard ${shard}'s sync to height ${target} of epoch ${context.epoch} found no source (${error.message}); epoch ${this.#contexts.length - 1} is configured`);
        }
        this.#deps.onError(error);
        await this.#pause(SYNC_RETRY_MS);
        if (this.#stopping !== undefined) return undefined;
      }
    }
  }
}

/**
 * The batch the committee of `state`'s shard is at after `height` of `context`'s epoch, whose
 * certified proposal carries a swap-in (the walk's `batchAfter`: its certificate's batch + 1, or B
 * at the forced end).
 */
export function batchReachedAt(state: ShardState, context: EpochContext, height: number): number {
  const record = state.finalHeightRecord(height);
  invariant(record !== undefined && decodeProposal(record.proposal).swapIn !== undefined, "an instance ends at a final height carrying a swap-in");
  return batchAfter(decodeFinalHeightCertificate(record.certificate).batch, height - context.startHeight, context.epochLength!, moveIn(context, state.shard)!);
}

/** Sets `epoch`'s time and forgets every epoch before the one before it (`#batchStartsIn` reads two). */
function keepLatestTwo(times: Map<number, number>, epoch: number, at: number): void {
  times.set(epoch, at);
  for (const earlier of times.keys()) if (earlier < epoch - 1) times.delete(earlier);
}

/** Two syncs of one shard in turn as one report (the first's join at an MSB, if any, kept); either may be absent. */
function joinedReports(first: SyncReport | undefined, second: SyncReport | undefined): SyncReport | undefined {
  if (first === undefined || second === undefined) return first ?? second;
  return {
    from: first.from, to: second.to, applied: first.applied + second.applied, bytes: first.bytes + second.bytes, used: [...new Set([...first.used, ...second.used])],
    dropped: [...first.dropped, ...second.dropped], ignored: first.ignored + second.ignored, elapsedMs: first.elapsedMs + second.elapsedMs,
    ...(first.bootstrap ?? second.bootstrap) === undefined ? {} : { bootstrap: (first.bootstrap ?? second.bootstrap)! },
  };
}

/**
 * The batch the committee of `state`'s shard is at after its tip, a height of `context`'s epoch
 * (its certificate's batch, or the batch its swap-in moved to).
 */
function batchAtTip(state: ShardState, context: EpochContext): number {
  const tip = state.tip.height;
  const record = state.finalHeightRecord(tip);
  invariant(record !== undefined && tip > context.startHeight, "a state past the epoch's start holds its tip's final-height record");
  return decodeProposal(record.proposal).swapIn !== undefined ? batchReachedAt(state, context, tip) : decodeFinalHeightCertificate(record.certificate).batch;
}

/**
 * The height that ended the move of `state`'s shard into `context`'s epoch (its certified swap-in
 * moved the committee to B: src/epoch/transepoch/move-rule.ts), where the epoch's own committee
 * took over; undefined while the state holds none (an epoch with a length, from 1 on).
 */
export function moveEndOf(state: ShardState, context: EpochContext): number | undefined {
  const { epochLength, startHeight } = context;
  if (epochLength === undefined) return undefined;
  const last = Math.min(state.tip.height, startHeight + epochLength - 1);
  const batchCount = context.batchCount(state.shard);
  for (let height = startHeight + 1; height <= last; height++) {
    const record = state.finalHeightRecord(height);
    if (record !== undefined && decodeProposal(record.proposal).swapIn !== undefined && batchReachedAt(state, context, height) === batchCount) return height;
  }
  return undefined;
}

/**
 * Whom a node links with under PoB with an epoch length, while in (or waiting at) `epoch`: every
 * validator of the epoch before it (their final blocks are still synced from them and their
 * certificates prove Atomix locks), of `epoch`, and of every later epoch it already knows (the
 * next epoch's take its links before the switch; a registrant syncs from them), itself excepted.
 */
export function membershipOf(contexts: readonly EpochContext[], epoch: number, self: PeerId): PeerId[] {
  const keys = new Set<PeerId>();
  for (const context of contexts.slice(Math.max(0, epoch - 1))) for (const validator of context.validators) keys.add(toHex(validator.publicKey));
  keys.delete(self);
  return [...keys];
}

/**
 * Whom the transport links with at the start, URLs from the address book: the shard's other members; under PoB
 * every validator of the epoch, since Atomix watchers talk to the other shards (src/atomix/watcher.ts).
 */
function linkedPeers(setup: NodeSetup): Map<string, string | undefined> {
  const self = toHex(setup.key.publicKey);
  const addressBook = new Map(setup.config.peers.map((peer) => [peer.publicKey, peer.url]));
  const { context } = setup;
  const keys = setup.config.consensus.mode === "pob" ? context.validators.map((v) => v.publicKey) : context.members(setup.shard);
  return new Map(keys.map(toHex).filter((id) => id !== self).map((id) => [id, addressBook.get(id)]));
}

/**
 * Where this validator keeps its state of `shard`: the data directory itself for its home shard
 * (the genesis's assignment; that store also keeps the epoch archive), `shards/<shard>` for a
 * shard a later epoch assigned it.
 */
export function shardDirectory(dataDir: string, home: number, shard: number): string {
  return shard === home ? dataDir : join(dataDir, "shards", String(shard));
}

/**
 * The finality log of the driver of `shard` in `epoch`: `finality` for the home shard's epoch 0, `finality/<shard>-<epoch>` else;
 * the epoch's opening instance (batch 0, the epoch before's committee): `finality/<shard>-<epoch>-opening`; batch b of the move
 * (1..B − 1): `finality/<shard>-<epoch>-b<b>`.
 */
export function finalityDirectory(dataDir: string, home: number, shard: number, epoch: number, instance: LogInstance = "own"): string {
  if (instance === "opening") return join(dataDir, "finality", `${shard}-${epoch}-opening`);
  if (typeof instance === "number") {
    invariant(Number.isInteger(instance) && instance >= 1, "a batch's finality log names batch 1..B − 1");
    return join(dataDir, "finality", `${shard}-${epoch}-b${instance}`);
  }
  return shard === home && epoch === 0 ? join(dataDir, "finality") : join(dataDir, "finality", `${shard}-${epoch}`);
}

function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "gauge", samples: [{ value }] };
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "counter", samples: [{ value }] };
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
    { name: "ios_transport_links_opened_total", help: "Peer links authenticated", type: "counter", samples: [{ value: stats.linksOpened }] },
    { name: "ios_transport_links_closed_total", help: "Authenticated peer links closed", type: "counter", samples: [{ value: stats.linksClosed }] },
    { name: "ios_transport_reconnects_total", help: "Redials after a lost or failed outbound link", type: "counter", samples: [{ value: stats.reconnects }] },
    byReason("ios_transport_frame_errors_total", "Malformed peer frames received (each closed its link), by code", stats.frameErrors),
    byReason("ios_transport_auth_failures_total", "Peer handshakes refused, by code", stats.authFailures),
    byReason("ios_transport_drops_total", "Peer frames not sent or not delivered, by reason", stats.drops),
  ];
}

function byReason(name: string, help: string, counts: Readonly<Record<string, number>>): MetricFamily {
  return { name, help, type: "counter", samples: Object.entries(counts).map(([reason, value]) => ({ labels: { reason }, value })) };
}
