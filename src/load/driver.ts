/**
 * The load driver: submits a generated set to running validators over the client WebSocket stream
 * (src/api/stream-codec.ts, route /v1/stream) and follows their confirmation events, across epoch
 * switches (issue 14: at each epoch boundary a validator may serve another shard, under a new league).
 *
 * Phases of a run:
 *  1. connect: one WebSocket per endpoint (the validators' stream URLs, whatever shard they serve),
 *     then GET /v1/status of each (same host, http) for its public key, shard, epoch and consensus
 *     (src/load/endpoints.ts); every shard with transactions must be served by one of them. Each
 *     connection sends {"op":"subscribe"} before anything is submitted, so no confirmation can be
 *     missed (every connection stays subscribed: any validator of a shard may announce its events);
 *     ATOMIX frames come from f + 1 validators of each shard only, at least two (`atomixSourceCount`:
 *     one is honest; every validator sends the same frame, which costs it a path cut per lock):
 *     the others subscribe with "atomix": false, and when a source's stream goes down or its
 *     endpoint leaves the shard, the next live connection of the shard takes its place;
 *  2. submit, for `durationMs` or until the set is exhausted (a transfer still held for its input
 *     when submission ends is never sent):
 *       open loop  — transaction k is due at start + k / rate (a fixed schedule, whatever the node
 *                    does), and its latency is measured from that due time, so time spent queued
 *                    behind a slow node counts (no coordinated omission);
 *       closed loop — at most `window` transactions unresolved (released, not final or rejected;
 *                    one held back because its input does not exist yet is not in flight);
 *                    a new one goes out as soon as one resolves; latency from the first send.
 *     Due transactions are framed in bulk (u32 count ‖ (u32 len ‖ tx)*), at most `frameTxs` per
 *     frame and MAX_FRAMES_IN_FLIGHT frames awaiting their ack per connection (the server's limit).
 *     A transaction goes to the endpoint its shard's route picks (src/load/endpoints.ts: the
 *     believable assignee of its first input's owner under two-league PoB, else by that key's first
 *     byte), so every chain of transfers keeps one connection and its order within an epoch.
 *     Acks: "accepted" counts as accepted; "duplicate" (the node already knew it: no new work) and
 *     "rejected" count as rejections at submission, under DUPLICATE or the node's code, but for
 *     the retryable cases of phase 3;
 *  3. follow the epochs, all along: every `statusPollMs` (and at once when an event's height
 *     reaches its endpoint's epoch's last height, or a retryable refusal arrives) every endpoint's
 *     status is read again; when an endpoint's shard, epoch or league changed, the routes are
 *     rebuilt and what waits in the connections' queues is routed again (in set order, so a chain
 *     keeps its order). Nothing is silently lost across a switch: a transaction is sent again to
 *     a current validator of its shard when
 *       - the endpoint it was last sent to now serves another shard, or skipped an epoch (the
 *         validator dropped what it held for the shard it left: ENDPOINT_LEFT_SHARD,
 *         ENDPOINT_SKIPPED_EPOCH), or
 *       - that endpoint refused it with a retryable code (RETRYABLE_CODES: not my shard, not
 *         assigned to me, relay unanswered or backlogged), once a status read started after the
 *         refusal has come back, at most MAX_RETRIES times (then the refusal counts as a rejection).
 *     A resend keeps the transaction's first due time, is counted in `totals.resent` by cause
 *     (metrics.ts), not again in `submitted`; an ack or refusal of an older send is stale and
 *     ignored; a "duplicate" answer to a resend means the node holds it (pending or final): the
 *     transaction stays open and its status is read from that node (GET /v1/tx), since a final
 *     block the node synced announces nothing. Settlement is by txid from any connection: the
 *     first final confirmation (or rejection) counts, later ones are ignored;
 *  4. drain: wait until every submitted transaction is final or rejected, or `drainTimeoutMs`;
 *  5. report: metrics, CPU samples (taken every second), run facts and the epochs seen as a LoadReport.
 * Heights and shards: an EVENTS or ATOMIX frame carries a height, not a shard. With `epochLength`
 * (L: epoch e holds heights e·L + 1 .. (e+1)·L), a frame's height names its epoch: a frame of an
 * epoch later than the one its endpoint last reported deciding (`decidingEpoch`: the next epoch's
 * during a TransEpoch opening, before that epoch's configuration) waits (with the frames after it)
 * until a status read shows that epoch, and the shard a frame speaks for is the one the endpoint served in that
 * epoch (unknown when the driver never saw it there: then its heights are not counted and its
 * unlock finals are left to the shard's other endpoints). Without `epochLength` the endpoint's
 * latest status names the shard.
 * The stream carries final confirmations (a committed block, white paper §5), rejections and,
 * under PoB, optimistic confirmations (white paper §7.2 phase 1). The first optimistic
 * confirmation of a transaction gives its optimistic latency; the time from it to the final one is
 * its consensus latency. Each validator of a shard announces the same optimistic block and the
 * same final events, so only the first of each counts (an optimistic block already seen, by hash,
 * is skipped whole). A transaction final without an optimistic confirmation (solo, BFT,
 * one-league PoB) counts as final only; optimistic and consensus figures stay empty (n/a) when no
 * optimistic confirmation arrived at all.
 * Cross-shard transfers (Atomix, white paper §6; `ios load --cross-shard R`) go to their input
 * shard like any transfer; once final there, the input shard's validators announce its proof in
 * an ATOMIX frame (the height's certificate once, each lock's path), the driver sends the
 * unlock-to-commit to every other shard the transfer touches over the same streams (batches of
 * the height's settled transfers, built from the certificate and the paths; a single unlock, its
 * proof rebuilt, only when needed), to the sender's shard too when its lock only locked (the workload's
 * transfers have one input shard, whose lock settles them), and counts the transfer final when
 * it is committed in all; an unlock sent to an endpoint that then leaves the target shard is sent
 * again like a transfer. A transfer spending a cross-shard transfer's change follows it at once
 * when the lock settles the transfer (every input in the sender's shard: the lock creates the
 * change, in its producer's view as in the final block, as an intra-shard transfer does); else it
 * is held until the commit is final in the sender's shard (the change exists only then); its
 * latency still runs from its due time.
 * Faults (issue 16): a stream that closes or fails (its validator died, was stopped or restarted)
 * is a fault of the network, not of the run: the endpoint leaves the routes at once, every
 * transaction it was last sent and that has not settled is sent again to another current
 * validator of its shard (cause ENDPOINT_DISCONNECTED; harmless if the dead validator had passed
 * it on: the node answers a known transaction "duplicate", after which its status is read, see
 * phase 3), its queue and unlocks are routed again, and the frames it never acknowledged are
 * forgotten (their acks would be stale). Every RECONNECT_MS the driver tries to open its stream
 * and read its status again; once both succeed it is routed to again. Each disconnection and
 * reconnection is a `LoadFault` of the report; `metrics.resubmitted` counts the transactions sent
 * again this way and their final latency. A transfer spending the output of a transaction so
 * resubmitted may reach a validator before its parent does and be refused MISSING_INPUT: that
 * refusal is retried like a retryable code (phase 3). An endpoint unreachable at the start is such a fault
 * (shard −1: unknown until it answers) as long as another endpoint answers. Events are settled by txid from any stream, so finals
 * announced while one stream is down still arrive through the shard's others.
 * A validator that stops answering without closing its stream (paused by SIGSTOP, hung, or its
 * host unreachable) is found by the WebSocket ping every PING_MS: no pong within `unresponsiveMs`
 * and its stream is treated as closed (the fault's detail says "unresponsive"). Each fault is
 * also written as a line through `progress` the moment it happens.
 * A protocol failure (an ERROR frame, an undecodable frame) ends the run with LOAD_STREAM_ERROR
 * rather than a report that would silently miss confirmations. A status read that fails while
 * running keeps the endpoint's last status (the next poll tries again).
 *
 * API: `runLoad(options): Promise<LoadRun>`, `checkEndpoints(urls)`, DISCONNECTED (RETRYABLE_CODES and MAX_RETRIES: src/api/errors.ts).
 */
import WebSocket from "ws";
import { ApiClient, type TxStatusJson } from "../api/client.js";
import { MAX_RETRIES, RETRYABLE_CODES } from "../api/errors.js";
import { MAX_FRAMES_IN_FLIGHT, STREAM_PATH } from "../api/server.js";
import {
  FRAME_ACK,
  FRAME_ERROR,
  FRAME_EVENTS,
  FRAME_OPTIMISTIC,
  FRAME_ATOMIX,
  atomixFrameHeight,
  decodeAtomix,
  MAX_STREAM_TXS,
  SubmitOutcome,
  decodeAck,
  decodeError,
  decodeEvents,
  decodeOptimistic,
  encodeSubmission,
  type ConfirmationBatch,
} from "../api/stream-codec.js";
import { unlockBatchesOfHeight, unlockFor, type SettledPath } from "../atomix/client.js";
import { decisionProofOf, proofAccepts } from "../atomix/proof.js";
import { atomixUnlockTxid } from "../ledger/kinds/atomix-unlock.js";
import { LEDGER_ERROR_CODES } from "../ledger/errors.js";
import { encodeAtomixPhase } from "../atomix/phases.js";
import { crossShardInputShards, crossShardTransferShards } from "../ledger/kinds/atomix.js";
import { TX_PREFIX, TxKind } from "../ledger/kinds/interface.js";
import { scanTransaction, transactionIdOfEncoding } from "../ledger/kinds/registry.js";
import { toHex } from "../hex.js";
import { epochOfHeight } from "../node/sync/interface.js";
import { buildRoutes, fetchStatus, nodeUrlOf, statusKey, type EndpointStatus, type ShardRoute } from "./endpoints.js";
import { BUCKET_MS, CpuSampler, LoadMetrics, type CpuProcess } from "./metrics.js";
import type { ProgressDisplay } from "./progress.js";
import { buildReport, type EndpointSwitch, type LoadFault, type LoadReport } from "./report.js";
import { TxidPositions } from "./txid-positions.js";
import type { LoadSet } from "./workload.js";
import { TXID_BYTES } from "../codec/sizes.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import { LOAD_ERROR_CODES, type LoadErrorCode } from "./errors.js";

export type LoadMode = { readonly kind: "open-loop"; readonly rate: number } | { readonly kind: "closed-loop"; readonly window: number };

export interface DriverOptions {
  readonly set: LoadSet;
  /**
   * WebSocket stream URLs (ws://host:port/v1/stream) of the validators to submit through, in any
   * order and of any shard: each one's shard, epoch and league are read from its /v1/status and
   * followed while the run lasts.
   */
  readonly endpoints: readonly string[];
  /** L of the genesis (final blocks per shard per epoch) when it has one: places an event's height in its epoch (see the file comment). */
  readonly epochLength?: number;
  /** Every endpoint's status is read again this often; default 500 ms. */
  readonly statusPollMs?: number;
  readonly mode: LoadMode;
  /** Submission stops after this long (or when the set is exhausted). */
  readonly durationMs: number;
  /** Wait at most this long after submission for the outstanding confirmations; default 10 s. */
  readonly drainTimeoutMs?: number;
  /** Transactions per submission frame at most; default 2048 (about 450 KB of transfers, well under the 4 MiB frame limit). */
  readonly frameTxs?: number;
  /** C of "throughput at a latency cap" (metrics.ts); default 1000 ms. */
  readonly latencyCapMs?: number;
  /** Validator processes whose CPU use to sample. */
  readonly cpu?: readonly CpuProcess[];
  readonly progress?: ProgressDisplay;
  /** A stream whose ping has no pong for this long counts as disconnected; default UNRESPONSIVE_MS. */
  readonly unresponsiveMs?: number;
}

export interface LoadRun {
  readonly report: LoadReport;
  /** "settled": every submitted transaction final or rejected; "drain-timeout": some were not. */
  readonly end: "settled" | "drain-timeout";
  /** After a drain timeout: where the first UNSETTLED_TRACED transactions still open are (the driver's side and every endpoint's). */
  readonly unsettled?: readonly UnsettledTrace[];
}

/**
 * A transaction the drain gave up on, as the driver held it and as each endpoint answers for it
 * after the run: tells a confirmation the driver missed (final somewhere), a transaction still
 * in a mempool (pending) or held by a relay, and one no node holds (lost after acceptance if the
 * driver saw it accepted: a bug, since nothing accepted may be lost).
 */
export interface UnsettledTrace {
  readonly txid: string;
  readonly shard: number;
  readonly cross: boolean;
  /** The driver's state: "submitted" (sent, not acknowledged accepted) or "accepted". */
  readonly driverState: "submitted" | "accepted";
  /** Sends so far (1 = sent once) and resends after retryable refusals. */
  readonly sends: number;
  readonly retries: number;
  /** The endpoint its current send went to (−1: scheduled again, unsent). */
  readonly sentTo: number;
  /** When a node first acknowledged it accepted, in ms from the run's start (null: never). */
  readonly acceptedAtMs: number | null;
  /** Per endpoint, in `endpoints` order: its /v1/tx state, or the code of its refusal (TX_NOT_FOUND, API_UNREACHABLE, …). */
  readonly atEndpoints: readonly string[];
}

/** How many of the transactions still open after a drain timeout are traced (two HTTP reads per endpoint each at most). */
export const UNSETTLED_TRACED = 64;


const DEFAULT_FRAME_TXS = 2048;
const DEFAULT_DRAIN_MS = 10_000;
const DEFAULT_LATENCY_CAP_MS = 1000;
/** Status poll: 500 ms notices a switch within a fraction of an epoch (a devnet epoch lasts seconds) at two small HTTP reads per endpoint per second. */
const DEFAULT_STATUS_POLL_MS = 500;
/** Scheduler period: 5 ms keeps an open-loop schedule within a few ms of due without busy-waiting. */
const TICK_MS = 5;
const CONNECT_TIMEOUT_MS = 10_000;
/** A disconnected endpoint is tried again this often: a restarted devnet validator listens within a second or two. */
const RECONNECT_MS = 500;
/** Every open stream is pinged this often (the pong comes from the validator's event loop, so it shows the process runs). */
const PING_MS = 1000;
/**
 * Default wait for a pong before a stream counts as disconnected: far longer than a working
 * validator's event loop stalls, short next to the drain, so a paused validator's transactions
 * move on within seconds.
 */
export const UNRESPONSIVE_MS = 5000;
/** Resend cause of a transaction whose endpoint's stream closed or failed before it settled. */
export const DISCONNECTED = "ENDPOINT_DISCONNECTED";
/** The ledger's refusal of a transaction whose input does not exist (yet): retried when its parent was resubmitted. */
const MISSING_INPUT = "MISSING_INPUT";
/** Where either transfer kind keeps its first input's txid: after version, kind and the two u16 counts. */
const FIRST_INPUT_TXID_AT = TX_PREFIX.bytes + 4;
/** ATOMIX frames' phase bytes of a lock decision (src/atomix/phases.ts). */
const LOCKED_PHASE = encodeAtomixPhase("locked");
const COMMITTED_PHASE = encodeAtomixPhase("committed");
const STREAM_URL = /^wss?:\/\/[^/]+\/v1\/stream$/;
/** The status of an endpoint unreachable since the start: never routed to (it is not up) until a reconnection reads its own. */
const UNKNOWN_STATUS: EndpointStatus = { publicKey: "", shard: -1, epoch: 0, decidingEpoch: 0, consensus: "unknown", believable: undefined, height: 0 };

/** Records in `shardByEpoch` the shard `status` serves in its epoch and in the epoch of the heights it decides (the next one's, in an opening); returns the map. */
function shardsOf(shardByEpoch: Map<number, number>, status: EndpointStatus): Map<number, number> {
  shardByEpoch.set(status.epoch, status.shard);
  shardByEpoch.set(status.decidingEpoch, status.shard);
  return shardByEpoch;
}

const enum TxState {
  Queued = 0,
  Submitted = 1,
  Accepted = 2,
  Final = 3,
  Rejected = 4,
}

/** An unlock to send: its cross-shard transfer's position and the shard it goes to. */
interface Unlock {
  readonly position: number;
  readonly target: number;
  readonly bytes: Uint8Array;
  /** An unlock-to-commit batch: the positions of every transfer it commits (`position` is the first). */
  readonly batch?: readonly number[];
}

/** Frames sent and not acknowledged: set positions (−1 − position for an unlock) and the send number of each; the unlocks of an unlock frame. */
interface FrameInFlight {
  readonly positions: number[];
  readonly sends: number[];
  readonly unlocks?: readonly Unlock[];
}

interface Connection {
  readonly index: number;
  readonly url: string;
  status: EndpointStatus;
  /** The shard this endpoint served in each epoch the driver saw it in. */
  readonly shardByEpoch: Map<number, number>;
  /** The current stream; replaced when the endpoint comes back after a disconnection (none while unreachable since the start). */
  socket: WebSocket | undefined;
  /** The stream is open: the endpoint is routed to. False from its close or error until a reconnection. */
  up: boolean;
  /** A reconnection attempt is under way. */
  reconnecting: boolean;
  /** When the unanswered ping on the current stream was sent (undefined: none unanswered). */
  pingSentAt: number | undefined;
  /** When the next ping is due. */
  nextPingAt: number;
  /** Set positions routed to this connection and not yet framed, in set order. */
  queue: number[];
  queueHead: number;
  /** Unlocks to send, framed before the queue. */
  unlocks: Unlock[];
  readonly inFlight: Map<number, FrameInFlight>;
  nextSequence: number;
  /** EVENTS and ATOMIX frames of an epoch later than `status` (with those after them), in arrival order. */
  readonly deferred: { readonly height: number; readonly handle: () => void }[];
}

/** A cross-shard transfer past its lock: the shards that have not applied its unlock yet, and where each unlock went. */
interface CrossFlow {
  readonly pending: Set<number>;
  /** Its own unlock, built when first needed (a transfer settled by its lock goes in a batch first). */
  readonly unlock: () => Uint8Array;
  readonly sentTo: Map<number, number>;
}

/** Stream URLs (LOAD_BAD_OPTION otherwise): at least one, each like ws://host:port/v1/stream, none twice. Checked before any signing work. */
/**
 * ATOMIX sources per shard of `validators` endpoints: f + 1 with f = ⌊(n − 1)/3⌋ (one of them is
 * honest), at least two (one stream going down leaves another while its replacement subscribes),
 * never more than there are.
 */
export function atomixSourceCount(validators: number): number {
  return Math.min(validators, Math.max(2, Math.floor((validators - 1) / 3) + 1));
}

/**
 * The endpoints that send ATOMIX frames: per shard, `atomixSourceCount` of its endpoints (counted
 * live or not) among the live ones, those that already are sources first, then by index.
 */
export function atomixSourcesOf(endpoints: readonly { readonly index: number; readonly shard: number; readonly up: boolean }[], current: ReadonlySet<number>): Set<number> {
  const byShard = new Map<number, { index: number; up: boolean }[]>();
  for (const { index, shard, up } of endpoints) byShard.set(shard, [...(byShard.get(shard) ?? []), { index, up }]);
  const chosen = new Set<number>();
  for (const members of byShard.values()) {
    const live = members.filter((m) => m.up).sort((a, b) => Number(current.has(b.index)) - Number(current.has(a.index)) || a.index - b.index);
    for (const { index } of live.slice(0, atomixSourceCount(members.length))) chosen.add(index);
  }
  return chosen;
}

export function checkEndpoints(endpoints: readonly string[]): void {
  check<LoadErrorCode>(endpoints.length > 0, "LOAD_BAD_OPTION", "at least one endpoint is needed");
  for (const url of endpoints) check<LoadErrorCode>(typeof url === "string" && STREAM_URL.test(url), "LOAD_BAD_OPTION", `${JSON.stringify(url)} is not a stream URL like ws://127.0.0.1:7000${STREAM_PATH}`);
  check<LoadErrorCode>(new Set(endpoints).size === endpoints.length, "LOAD_BAD_OPTION", "an endpoint is listed twice");
}

function checkOptions(options: DriverOptions): void {
  const { endpoints, mode, durationMs, epochLength } = options;
  checkEndpoints(endpoints);
  if (mode.kind === "open-loop") check<LoadErrorCode>(Number.isFinite(mode.rate) && mode.rate > 0, "LOAD_BAD_OPTION", `rate must be a positive number of tx/s, got ${mode.rate}`);
  else check<LoadErrorCode>(Number.isInteger(mode.window) && mode.window >= 1, "LOAD_BAD_OPTION", `window must be a positive integer, got ${mode.window}`);
  check<LoadErrorCode>(Number.isFinite(durationMs) && durationMs > 0, "LOAD_BAD_OPTION", `duration must be a positive number of ms, got ${durationMs}`);
  const frameTxs = options.frameTxs ?? DEFAULT_FRAME_TXS;
  check<LoadErrorCode>(Number.isInteger(frameTxs) && frameTxs >= 1 && frameTxs <= MAX_STREAM_TXS, "LOAD_BAD_OPTION", `frameTxs must be an integer in 1..${MAX_STREAM_TXS}, got ${frameTxs}`);
  const drain = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
  check<LoadErrorCode>(Number.isFinite(drain) && drain >= 0, "LOAD_BAD_OPTION", `drain timeout must be ≥ 0 ms, got ${drain}`);
  const poll = options.statusPollMs ?? DEFAULT_STATUS_POLL_MS;
  check<LoadErrorCode>(Number.isFinite(poll) && poll >= 1, "LOAD_BAD_OPTION", `status poll must be ≥ 1 ms, got ${poll}`);
  const unresponsive = options.unresponsiveMs ?? UNRESPONSIVE_MS;
  check<LoadErrorCode>(Number.isFinite(unresponsive) && unresponsive >= PING_MS, "LOAD_BAD_OPTION", `unresponsive wait must be ≥ ${PING_MS} ms (the ping period), got ${unresponsive}`);
  check<LoadErrorCode>(epochLength === undefined || (Number.isInteger(epochLength) && epochLength >= 1), "LOAD_BAD_OPTION", `epoch length must be a positive integer, got ${epochLength}`);
}

/** Map key of a 32-byte value (a txid or a block hash): one char per byte, read in place. */
function key32(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: CONNECT_TIMEOUT_MS });
    const fail = (error: Error) => reject(new IosError<LoadErrorCode>("LOAD_CONNECT_FAILED", `cannot open ${url}: ${error.message}`));
    socket.once("error", fail);
    socket.once("open", () => {
      socket.off("error", fail);
      resolve(socket);
    });
  });
}

/** Runs the load described by `options` (see the file comment) and returns its report. */
export async function runLoad(options: DriverOptions): Promise<LoadRun> {
  checkOptions(options);
  const { set, endpoints, mode, durationMs, progress, epochLength } = options;
  const frameTxs = options.frameTxs ?? DEFAULT_FRAME_TXS;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
  const statusPollMs = options.statusPollMs ?? DEFAULT_STATUS_POLL_MS;
  const unresponsiveMs = options.unresponsiveMs ?? UNRESPONSIVE_MS;
  const shardCount = set.header.shardCount;
  const count = set.count;
  const state = new Uint8Array(count);
  const dueAt = new Float64Array(count);
  /** When the first optimistic confirmation arrived; NaN until then. */
  const optimisticAt = new Float64Array(count).fill(Number.NaN);
  /** When the node first acknowledged each transaction "accepted" (NaN until then): the first stage of its latency. */
  const acceptedAt = new Float64Array(count).fill(Number.NaN);
  /**
   * The send a transaction is at: 1 from its first send, one more each time it is scheduled to be
   * sent again (so an ack of an older send is stale at once); the connection its current send went
   * to (−1 while unsent or scheduled again); resends after retryable refusals.
   */
  const sends = new Uint32Array(count);
  const sentTo = new Int32Array(count).fill(-1);
  const retries = new Uint8Array(count);
  /** 1 once a node accepted the transaction (an accepted ack, a duplicate answer to a resend, or its final confirmation). */
  const everAccepted = new Uint8Array(count);
  /** 1 once the transaction was sent again because its endpoint disconnected (its final latency is the fault's cost). */
  const faultResent = new Uint8Array(count);
  const faults: LoadFault[] = [];
  /** Records a fault for the report and tells the user at once. */
  const fault = (entry: LoadFault): void => {
    faults.push(entry);
    progress?.note(`fault at ${(entry.atMs / 1000).toFixed(1)}s: ${entry.endpoint} (shard ${entry.shard}) ${entry.kind}: ${entry.detail}`);
  };
  const positionOfTxid = new TxidPositions(set.txids());
  /** Optimistic blocks already counted: every validator of the shard announces each one. */
  const seenOptimisticBlocks = new Set<string>();

  // An endpoint unreachable at the start (its validator is down) is a disconnected one: the run needs one per shard.
  const settled = await Promise.allSettled(
    endpoints.map(async (url): Promise<{ readonly socket: WebSocket; readonly status: EndpointStatus } | { readonly error: Error }> => {
      let socket: WebSocket;
      try {
        socket = await connect(url);
      } catch (error) {
        return { error: error as Error };
      }
      // A stream that opens with a status that is unreadable or malformed is no fault but a bad endpoint: the run is refused.
      try {
        return { socket, status: await fetchStatus(url) };
      } catch (error) {
        socket.terminate();
        throw error;
      }
    }),
  );
  const opened = settled.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
  const closeAll = (): void => {
    for (const o of opened) if ("socket" in o) o.socket.terminate();
  };
  const badEndpoint = settled.find((o) => o.status === "rejected");
  if (badEndpoint !== undefined) {
    closeAll();
    throw (badEndpoint as PromiseRejectedResult).reason;
  }
  const reachable = opened.filter((o): o is { readonly socket: WebSocket; readonly status: EndpointStatus } => "socket" in o);
  if (reachable.length === 0) throw (opened[0] as { error: Error }).error;
  const statuses = reachable.map((o) => o.status);
  const connections: Connection[] = endpoints.map((url, index) => {
    const o = opened[index]!;
    const common = { index, url, reconnecting: false, pingSentAt: undefined, nextPingAt: 0, queue: [], queueHead: 0, unlocks: [], inFlight: new Map(), nextSequence: 0, deferred: [] };
    if ("socket" in o) return { ...common, status: o.status, shardByEpoch: shardsOf(new Map(), o.status), socket: o.socket, up: true };
    fault({ atMs: 0, endpoint: url, shard: -1, kind: "disconnected", detail: `unreachable at the start: ${o.error.message}` });
    return { ...common, status: UNKNOWN_STATUS, shardByEpoch: new Map(), socket: undefined, up: false };
  });
  /** Routes over the endpoints whose stream is open (a disconnected validator takes nothing until it is back). */
  const buildLiveRoutes = (): ShardRoute[] => buildRoutes(connections.filter((c) => c.up), shardCount);
  let routes: ShardRoute[] = buildLiveRoutes();
  /** Connections whose current stream was told to send ATOMIX frames. */
  const atomixSources = new Set<number>();
  /**
   * Keeps `atomixSourceCount` live ATOMIX sources per shard (the current ones first), telling each
   * live stream whose role changed; called whenever the routes are rebuilt (a stream down or back,
   * an endpoint's shard or epoch changed).
   */
  const chooseAtomixSources = (): void => {
    const chosen = atomixSourcesOf(connections.map((c) => ({ index: c.index, shard: c.status.shard, up: c.up && c.socket !== undefined })), atomixSources);
    for (const connection of connections) {
      const wanted = chosen.has(connection.index);
      if (wanted !== atomixSources.has(connection.index) && connection.up && connection.socket !== undefined) connection.socket.send(JSON.stringify({ op: "subscribe", atomix: wanted }));
    }
    atomixSources.clear();
    for (const index of chosen) atomixSources.add(index);
  };
  const rebuildRoutes = (): void => {
    routes = buildLiveRoutes();
    chooseAtomixSources();
  };
  const unserved = [...new Set(set.shards)].filter((shard) => routes[shard]!.consensus === "none").sort((a, b) => a - b);
  if (unserved.length > 0) {
    closeAll();
    throw new IosError<LoadErrorCode>("LOAD_BAD_OPTION", `no endpoint serves shard ${unserved.join(", ")}, which has transactions (endpoints serve ${[...new Set(statuses.map((s) => `shard ${s.shard} in epoch ${s.epoch}`))].join(", ")})`);
  }
  const epochs = { first: Math.min(...statuses.map((s) => s.epoch)), last: Math.max(...statuses.map((s) => s.epoch)), switches: [] as EndpointSwitch[], routeRebuilds: 0 };
  /** Positions and unlocks no endpoint serves the shard of, in set order: routed at the next rebuild. */
  let parked: number[] = [];
  let parkedUnlocks: Unlock[] = [];

  const isCross = (position: number): boolean => set.tx(position)[TX_PREFIX.offset.kind] === TxKind.AtomixLock;
  /** Submitted (acknowledged or not) and neither final nor rejected yet. */
  const isOpen = (position: number | undefined): position is number => position !== undefined && (state[position] === TxState.Submitted || state[position] === TxState.Accepted);
  /** Routes `position` to the connection its shard's route picks, or parks it. */
  const route = (position: number): void => {
    const index = routes[set.shard(position)]!.endpointFor(set.tx(position));
    if (index === undefined) parked.push(position);
    else connections[index]!.queue.push(position);
  };
  const routeUnlock = (unlock: Unlock): void => {
    const index = routes[unlock.target]!.endpointFor(unlock.bytes);
    if (index === undefined) parkedUnlocks.push(unlock);
    else connections[index]!.unlocks.push(unlock);
  };
  /**
   * Whether a cross-shard transfer's lock settles it in the sender's shard (every input there):
   * that lock creates the change, in its producer's view as in the final block, so what spends
   * the change may follow the lock at once, as after an intra-shard transfer.
   */
  const settlesAtLock = (position: number): boolean => new Set(crossShardInputShards(set.tx(position), shardCount)).size === 1;
  /** Cross-shard transfers past their lock, by position; their unlocks' txids (latin1 key) → position; unlock batches' txids → positions. */
  const flows = new Map<number, CrossFlow>();
  const unlockPositions = new Map<string, number>();
  const batchPositions = new Map<string, readonly number[]>();
  /** A batch refused (at intake or by a final block): each transfer it held gets its own unlock to that shard, if it still needs one there. */
  const unbatch = (positions: readonly number[], target: number): void => {
    for (const position of positions) {
      const flow = flows.get(position);
      if (flow !== undefined && flow.pending.has(target)) routeUnlock({ position, target, bytes: flow.unlock() });
    }
  };
  /**
   * Positions held, by the position whose output they spend: a cross-shard transfer not yet
   * committed in the sender's shard, or a transfer held itself (chains keep their order).
   */
  const held = new Map<number, number[]>();
  const heldPositions = new Set<number>();
  /** Cross-shard transfers committed in their sender's shard: their change exists. */
  const changeReady = new Set<number>();
  const queue = (position: number): void => {
    heldPositions.delete(position);
    route(position);
    unresolved++;
    // What spends an intra-shard transfer's output, or a settling lock's change, may follow it on the same connection at once.
    if (!isCross(position) || settlesAtLock(position)) releaseHeld(position);
  };
  const releaseHeld = (parent: number): void => {
    const waiting = held.get(parent);
    if (waiting === undefined) return;
    held.delete(parent);
    for (const position of waiting) queue(position);
  };
  /** The position of the transfer whose output `position` spends first, if the set has it. */
  const parentOf = (position: number): number | undefined => positionOfTxid.get(set.tx(position), FIRST_INPUT_TXID_AT);
  /** Sends `position` now, or holds it behind the output it spends. */
  const release = (position: number): void => {
    const parent = parentOf(position);
    const blocked = parent !== undefined && parent < position && ((isCross(parent) && !settlesAtLock(parent) && !changeReady.has(parent)) || heldPositions.has(parent));
    if (!blocked) return queue(position);
    heldPositions.add(position);
    held.set(parent, [...(held.get(parent) ?? []), position]);
  };

  const startMs = performance.now();
  const startedAt = new Date().toISOString();
  const metrics = new LoadMetrics(shardCount, startMs, options.latencyCapMs ?? DEFAULT_LATENCY_CAP_MS);
  const cpu = options.cpu !== undefined && options.cpu.length > 0 ? new CpuSampler(options.cpu, startMs) : undefined;
  let released = 0;
  let unresolved = 0;
  let accepted = 0;
  let rejected = 0;
  let streamFailure: IosError<LoadErrorCode> | undefined;
  /** Set once the run is over, so the closes it causes are not taken for failures. */
  let finished = false;

  const markAccepted = (position: number): void => {
    if (everAccepted[position] === 1) return;
    everAccepted[position] = 1;
    accepted++;
    metrics.accepted(set.shard(position));
  };
  const resolveTx = (position: number, to: TxState.Final | TxState.Rejected): void => {
    if (isOpen(position)) unresolved--;
    state[position] = to;
    resendAfterParent(position);
  };
  const finalize = (position: number, now: number, cross = false): void => {
    markAccepted(position);
    if (faultResent[position] === 1) metrics.resubmittedFinal(dueAt[position]!, now);
    const optimisticAtMs = optimisticAt[position]!;
    metrics.final(set.shard(position), dueAt[position]!, now, Number.isNaN(optimisticAtMs) ? undefined : optimisticAtMs, cross);
    const acceptedAtMs = acceptedAt[position]!;
    metrics.stages(set.shard(position), dueAt[position]!, Number.isNaN(acceptedAtMs) ? undefined : acceptedAtMs, Number.isNaN(optimisticAtMs) ? undefined : optimisticAtMs, now);
    resolveTx(position, TxState.Final);
  };
  const reject = (position: number, code: string, now: number): void => {
    rejected++;
    metrics.rejected(set.shard(position), code, now, everAccepted[position] === 1);
    resolveTx(position, TxState.Rejected);
    // What spends a refused transfer's change is sent all the same: its shard answers it.
    releaseHeld(position);
  };

  // Phase 3: status reads, route rebuilds and resends.
  /** Status reads started so far; a retryable refusal waits for one started after it. */
  let readsStarted = 0;
  let reading = false;
  let readAgain = false;
  /** Positions refused with a retryable code: the cause and the status read they wait for. */
  const awaitingResend = new Map<number, { readonly cause: string; readonly afterRead: number }>();
  /**
   * Shards whose routes a retryable refusal put in doubt, with the status read that clears them:
   * until then their transactions are not framed but parked, so a chain's transfers sent after its
   * refused parent cannot overtake the parent's resend (they are routed again with it, in set order).
   */
  const staleShards = new Map<number, number>();
  /** Positions to send again at the next rebuild (their endpoint switched), with the cause. */
  const switchedAway: { readonly position: number; readonly cause: string }[] = [];

  const requestStatusRead = (): void => {
    if (finished) return;
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    const serial = ++readsStarted;
    void Promise.allSettled(connections.map((c) => fetchStatus(c.url))).then((results) => {
      reading = false;
      if (finished) return;
      try {
        applyStatuses(results.map((r) => (r.status === "fulfilled" ? r.value : undefined)), serial);
      } catch (error) {
        streamFailure ??= hasCodeIn(error, LOAD_ERROR_CODES) ? error : new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `following the endpoints' statuses: ${(error as Error).message}`);
      }
      if (readAgain) {
        readAgain = false;
        requestStatusRead();
      }
    });
  };

  /** A connection's endpoint now serves another shard, or skipped an epoch: what it held of its old shard may be gone. */
  const leftBehind = (connection: Connection, cause: string): void => {
    for (let position = 0; position < count; position++) {
      if (sentTo[position] === connection.index && isOpen(position) && !awaitingResend.has(position)) switchedAway.push({ position, cause });
    }
    for (const [position, flow] of flows) {
      for (const [target, index] of flow.sentTo) {
        if (index !== connection.index || !flow.pending.has(target)) continue;
        flow.sentTo.delete(target);
        parkedUnlocks.push({ position, target, bytes: flow.unlock() });
      }
    }
  };

  /**
   * New statuses (undefined: unread), from status read `serial` (0: none, as after a disconnection);
   * `reroute` routes what waits again even when nothing changed (a connection's queue lost its route).
   */
  const applyStatuses = (read: readonly (EndpointStatus | undefined)[], serial: number, rerouteAll = false): void => {
    const now = performance.now();
    let changed = false;
    const left: { readonly connection: Connection; readonly cause: string }[] = [];
    for (const connection of connections) {
      const next = read[connection.index];
      // A disconnected endpoint's status is taken when its stream is back (`reconnect`).
      if (next === undefined || !connection.up) continue;
      const before = connection.status;
      connection.status = next;
      shardsOf(connection.shardByEpoch, next);
      epochs.first = Math.min(epochs.first, next.epoch);
      epochs.last = Math.max(epochs.last, next.epoch);
      if (statusKey(next) === statusKey(before)) continue;
      changed = true;
      if (next.epoch !== before.epoch || next.shard !== before.shard) {
        epochs.switches.push({ atMs: Math.round(now - startMs), endpoint: connection.url, fromEpoch: before.epoch, toEpoch: next.epoch, fromShard: before.shard, toShard: next.shard });
      }
      if (next.shard !== before.shard) left.push({ connection, cause: "ENDPOINT_LEFT_SHARD" });
      else if (next.epoch > before.epoch + 1) left.push({ connection, cause: "ENDPOINT_SKIPPED_EPOCH" });
    }
    if (changed) {
      rebuildRoutes();
      epochs.routeRebuilds++;
    }
    // Confirmations held for this read first: what they settle needs no resend.
    for (const connection of connections) replayDeferred(connection);
    for (const { connection, cause } of left) leftBehind(connection, cause);
    const resends: number[] = [];
    const resend = (position: number, cause: string): void => {
      if (!isOpen(position)) return;
      markResent(position, cause);
      resends.push(position);
    };
    for (const { position, cause } of switchedAway.splice(0)) resend(position, cause);
    for (const [position, { cause, afterRead }] of awaitingResend) {
      if (afterRead > serial) continue;
      awaitingResend.delete(position);
      resend(position, cause);
    }
    for (const [shard, afterRead] of staleShards) if (afterRead <= serial) staleShards.delete(shard);
    if (rerouteAll || changed || resends.length > 0 || parked.length > 0 || parkedUnlocks.length > 0) reroute(resends);
    pump();
  };

  /** Routes again, in set order, everything waiting to be framed, and `resends`; unlocks likewise. */
  const reroute = (resends: readonly number[]): void => {
    const waiting = new Set<number>([...parked, ...resends]);
    const unlocks = [...parkedUnlocks];
    for (const connection of connections) {
      for (let at = connection.queueHead; at < connection.queue.length; at++) waiting.add(connection.queue[at]!);
      unlocks.push(...connection.unlocks);
      connection.queue = [];
      connection.queueHead = 0;
      connection.unlocks = [];
    }
    parked = [];
    parkedUnlocks = [];
    for (const position of [...waiting].sort((a, b) => a - b)) route(position);
    for (const unlock of unlocks) routeUnlock(unlock);
  };

  /** Counts a send of `position` again for `cause`; what answers its earlier sends is stale from now on. */
  const markResent = (position: number, cause: string): void => {
    metrics.resent(set.shard(position), cause);
    if (cause === DISCONNECTED && faultResent[position] === 0) {
      faultResent[position] = 1;
      metrics.resubmitted(set.shard(position));
    }
    sends[position]!++;
    sentTo[position] = -1;
  };

  /**
   * Transfers refused MISSING_INPUT while the transfer creating that input was still open here, by
   * that parent: they went ahead of it (it was held by a validator that left the shard, or sent
   * again), and go again once it settles. A parent rejected makes their next answer a rejection.
   */
  const afterParent = new Map<number, number[]>();
  const waitingForParent = new Set<number>();
  function resendAfterParent(parent: number): void {
    const children = afterParent.get(parent);
    if (children === undefined) return;
    afterParent.delete(parent);
    for (const child of children) {
      waitingForParent.delete(child);
      if (!isOpen(child)) continue;
      markResent(child, MISSING_INPUT);
      route(child);
    }
  }

  /**
   * Whether a refusal says where the transaction went rather than what is wrong with it: a
   * retryable code, or MISSING_INPUT for a transfer whose parent (the transaction whose output it
   * spends) is still open or was sent again after a disconnection: the parent reaches the shard
   * late, not never.
   */
  const retryable = (position: number, code: string): boolean => {
    if (RETRYABLE_CODES.has(code)) return true;
    if (code !== MISSING_INPUT) return false;
    const parent = parentOf(position);
    return parent !== undefined && (faultResent[parent] === 1 || isOpen(parent));
  };

  /** A refusal of `position`'s latest send: retried when its code says where it went, else a rejection. */
  const refused = (position: number, code: string, now: number): void => {
    if (retryable(position, code) && retries[position]! < MAX_RETRIES) {
      retries[position]!++;
      const parent = parentOf(position);
      if (code === MISSING_INPUT && isOpen(parent)) {
        waitingForParent.add(position);
        afterParent.set(parent, [...(afterParent.get(parent) ?? []), position]);
        return;
      }
      awaitingResend.set(position, { cause: code, afterRead: readsStarted + 1 });
      staleShards.set(set.shard(position), readsStarted + 1);
      requestStatusRead();
      return;
    }
    reject(position, code, now);
  };

  /**
   * A resend answered "duplicate": the node holds the transaction, pending or final. A final block
   * it synced announces nothing, so its status is read: final or rejected there settles it.
   */
  const askStatus = (connection: Connection, position: number): void => {
    const send = sends[position];
    const txid = toHex(set.txid(position));
    const client = new ApiClient(nodeUrlOf(connection.url));
    const current = (): boolean => !finished && isOpen(position) && sends[position] === send;
    const settle = (action: () => void): void => {
      try {
        action();
      } catch (error) {
        streamFailure ??= hasCodeIn(error, LOAD_ERROR_CODES) ? error : new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ${(error as Error).message}`);
      }
      pump();
    };
    // Unreadable: the transaction stays open; its final event or a later switch settles it.
    const ignore = (): undefined => undefined;
    void client.request<TxStatusJson>("GET", `/v1/tx/${txid}`).then((status) => {
      if (!current()) return;
      if (status.state === "rejected") return settle(() => refused(position, status.code ?? "REJECTED", performance.now()));
      if (status.state !== "final") return;
      if (!isCross(position)) return settle(() => finalize(position, performance.now()));
      // A cross-shard transfer's lock final in its input shard: its proof, which the missed ATOMIX frame carried, starts the unlocks.
      if (flows.has(position)) return;
      void client.atomix(txid).then((atomix) => {
        if (!current() || flows.has(position) || atomix.shard !== set.shard(position) || atomix.proof === undefined) return;
        if (atomix.phase !== "locked" && atomix.phase !== "committed") return;
        const proof = new Uint8Array(Buffer.from(atomix.proof, "hex"));
        settle(() => startUnlock(position, { accepted: proofAccepts(proof), proof: () => proof }, atomix.phase === "committed"));
      }, ignore);
    }, ignore);
  };

  const onAck = (connection: Connection, frame: Uint8Array): void => {
    const { sequence, acks } = decodeAck(frame);
    const sent = connection.inFlight.get(sequence);
    if (sent === undefined || sent.positions.length !== acks.length) throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ack ${sequence} matches no frame in flight`);
    connection.inFlight.delete(sequence);
    const now = performance.now();
    acks.forEach((ack, i) => {
      const position = sent.positions[i]!;
      if (position < 0) {
        // A batch refused at intake (one of its transfers committed there already: a watcher's unlock) leaves each to its own unlock.
        const unlock = sent.unlocks?.[i];
        if (unlock?.batch !== undefined && ack.outcome !== SubmitOutcome.Accepted && ack.outcome !== SubmitOutcome.Duplicate) {
          batchPositions.delete(key32(transactionIdOfEncoding(unlock.bytes)));
          unbatch(unlock.batch, unlock.target);
        }
        // A single unlock's refusal (a duplicate: a watcher or another stream got there first) changes nothing: its finality is watched.
        return;
      }
      // The answer to an older send (the transaction went elsewhere since) or to a settled one.
      if (sent.sends[i] !== sends[position] || !isOpen(position)) return;
      if (ack.outcome === SubmitOutcome.Accepted) {
        if (Number.isNaN(acceptedAt[position]!)) acceptedAt[position] = now;
        markAccepted(position);
        state[position] = TxState.Accepted;
      } else if (ack.outcome === SubmitOutcome.Duplicate && sends[position]! > 1) {
        markAccepted(position);
        state[position] = TxState.Accepted;
        askStatus(connection, position);
      } else {
        refused(position, ack.outcome === SubmitOutcome.Duplicate ? "DUPLICATE" : ack.code, now);
      }
    });
  };

  const onOptimistic = (frame: Uint8Array): void => {
    const { block, txids: announced } = decodeOptimistic(frame);
    const blockKey = key32(block);
    if (seenOptimisticBlocks.has(blockKey)) return;
    seenOptimisticBlocks.add(blockKey);
    const now = performance.now();
    for (let at = 0; at < announced.length; at += TXID_BYTES) {
      const position = positionOfTxid.get(announced, at);
      if (!isOpen(position) || !Number.isNaN(optimisticAt[position])) continue;
      optimisticAt[position] = now;
      metrics.optimistic(set.shard(position), dueAt[position]!, now);
    }
  };

  /**
   * X decided in its input shard, as an ATOMIX frame of one of its validators says with the proof
   * (built when first needed): send the unlock to every shard X touches that needs one — all of
   * them after a lock, the others when the lock settled X there (its only input shard: the change
   * exists already). With `batch`, X settled by its lock goes to it (its height's batches) instead.
   */
  const startUnlock = (position: number, lock: { readonly accepted: boolean; readonly proof: () => Uint8Array }, settled: boolean, batch?: (unsigned: Uint8Array) => void): void => {
    const now = performance.now();
    metrics.crossPhase("locked", dueAt[position]!, now);
    const tx = set.tx(position);
    const unsigned = tx.subarray(0, scanTransaction(tx).unsignedEnd);
    const sender = set.shard(position);
    if (!lock.accepted) throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `shard ${sender}'s proof for ${toHex(set.txid(position))} does not commit it`);
    metrics.crossPhase("proven", dueAt[position]!, now);
    let single: Uint8Array | undefined;
    const flow: CrossFlow = { pending: new Set(crossShardTransferShards(unsigned, shardCount)), unlock: () => (single ??= unlockFor(unsigned, new Map([[sender, lock.proof()]]), shardCount)!.bytes), sentTo: new Map() };
    flows.set(position, flow);
    // Its own unlock's txid whether or not it is sent: a watcher's unlock of X is that transaction.
    unlockPositions.set(key32(atomixUnlockTxid(TxKind.AtomixUnlockCommit, unsigned)), position);
    if (settled) unlockFinal(position, sender, now);
    if (settled && batch !== undefined) batch(unsigned);
    else for (const target of flow.pending) routeUnlock({ position, target, bytes: flow.unlock() });
  };

  /** Sends the unlock batches of transfers one final height settled (its certificate, their paths), one set per shard that still needs their commit. */
  const sendBatches = (positions: readonly number[], certificate: Uint8Array, settled: readonly SettledPath[]): void => {
    const byTarget = new Map<number, number[]>();
    positions.forEach((position, i) => {
      for (const target of flows.get(position)?.pending ?? []) {
        const list = byTarget.get(target);
        if (list === undefined) byTarget.set(target, [i]);
        else list.push(i);
      }
    });
    for (const [target, members] of byTarget) {
      let batches: ReturnType<typeof unlockBatchesOfHeight>;
      try {
        batches = unlockBatchesOfHeight(certificate, members.map((i) => settled[i]!));
      } catch (error) {
        // Paths that do not make one multiproof (a frame no honest validator sends): each transfer's own unlock goes.
        if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
        unbatch(members.map((i) => positions[i]!), target);
        continue;
      }
      for (const { bytes, members: inBatch } of batches) {
        const batch = inBatch.map((k) => positions[members[k]!]!);
        batchPositions.set(key32(transactionIdOfEncoding(bytes)), batch);
        routeUnlock({ position: batch[0]!, target, bytes, batch });
      }
    }
  };

  /**
   * (shard, height) of the ATOMIX frames read: every validator of a shard sends the same frame for
   * a final height (its decisions and paths are the height's), so the first is read and the
   * others are dropped unread (at a 50 % mix a frame holds ~1,000 decisions, five times over).
   */
  const atomixHeightsRead = new Set<string>();
  const onAtomix = (shard: number | undefined, height: number, frame: Uint8Array): void => {
    if (shard === undefined) return;
    const heightKey = `${shard}:${height}`;
    if (atomixHeightsRead.has(heightKey)) return;
    atomixHeightsRead.add(heightKey);
    const { certificate, decisions } = decodeAtomix(frame);
    // Transfers this height settled by their locks: committed elsewhere by batches of its certificate and their paths, not one unlock each.
    const settledPositions: number[] = [];
    const settled: SettledPath[] = [];
    for (const decision of decisions) {
      const { txid, phase, code, path } = decision;
      const position = positionOfTxid.get(txid);
      // The sender's shard's lock decision (it carries the path): locked, or committed by the lock itself.
      if ((phase !== LOCKED_PHASE && phase !== COMMITTED_PHASE) || path.length === 0 || !isOpen(position) || !isCross(position) || flows.has(position)) continue;
      if (shard !== set.shard(position)) continue;
      // The whole proof only for a single unlock: the lock's own, or a batch's fallback.
      const lock = { accepted: code === "", proof: () => decisionProofOf(certificate, decision) };
      if (phase !== COMMITTED_PHASE) {
        startUnlock(position, lock, false);
        continue;
      }
      startUnlock(position, lock, true, (unsigned) => settled.push({ unsigned, path }));
      settledPositions.push(position);
    }
    sendBatches(settledPositions, certificate, settled);
  };

  /** An unlock final in `shard`: the sender's shard releases the held spends of the change; all shards make X final. */
  const unlockFinal = (position: number, shard: number, now: number): void => {
    const flow = flows.get(position);
    if (flow === undefined || !flow.pending.delete(shard)) return;
    if (shard === set.shard(position)) {
      changeReady.add(position);
      releaseHeld(position);
    }
    if (flow.pending.size > 0 || !isOpen(position)) return;
    flows.delete(position);
    finalize(position, now, true);
  };

  const onEvents = (connection: Connection, shard: number | undefined, batch: ConfirmationBatch): void => {
    const { height, final, rejected: refusals } = batch;
    const now = performance.now();
    if (final.length > 0 && shard !== undefined) metrics.height(shard, height, final.length / TXID_BYTES);
    for (let at = 0; at < final.length; at += TXID_BYTES) {
      const position = positionOfTxid.get(final, at);
      if (position === undefined && unlockPositions.size > 0) {
        const key = key32(final.subarray(at, at + TXID_BYTES));
        const crossPosition = unlockPositions.get(key);
        if (crossPosition !== undefined && shard !== undefined) unlockFinal(crossPosition, shard, now);
        const batch = batchPositions.get(key);
        if (batch !== undefined && shard !== undefined) {
          batchPositions.delete(key);
          for (const member of batch) unlockFinal(member, shard, now);
        }
        continue;
      }
      if (!isOpen(position)) continue;
      // A cross-shard transfer's lock is final here: its ATOMIX frame carries the proof, its unlocks make it final.
      if (isCross(position)) continue;
      finalize(position, now);
    }
    for (const refusal of refusals) {
      const position = positionOfTxid.get(refusal.txid);
      if (position === undefined && batchPositions.size > 0 && shard !== undefined) {
        const key = key32(refusal.txid);
        const batch = batchPositions.get(key);
        batchPositions.delete(key);
        if (batch !== undefined) unbatch(batch, shard);
        continue;
      }
      if (!isOpen(position)) continue;
      // A retryable refusal speaks for the send it answers (its validator's relay): only the latest send's connection's counts, once.
      if (retryable(position, refusal.code) && (sentTo[position] !== connection.index || awaitingResend.has(position) || waitingForParent.has(position))) continue;
      refused(position, refusal.code, now);
    }
  };

  /** The shard `connection` served at `height` (see the file comment); "later" when its status has not reached that epoch yet. */
  const shardAtHeight = (connection: Connection, height: number): number | undefined | "later" => {
    if (epochLength === undefined) return connection.status.shard;
    const epoch = epochOfHeight(Math.max(height, 1), epochLength);
    if (epoch > connection.status.decidingEpoch) return "later";
    // The epoch's last height is final: its validators switch next.
    if (height === (epoch + 1) * epochLength) requestStatusRead();
    return connection.shardByEpoch.get(epoch);
  };

  /** Handles an EVENTS or ATOMIX frame, or defers it (and what follows it) until the status reaches its epoch. */
  const onHeightFrame = (connection: Connection, height: number, handle: (shard: number | undefined) => void): void => {
    if (connection.deferred.length === 0) {
      const shard = shardAtHeight(connection, height);
      if (shard !== "later") return handle(shard);
      requestStatusRead();
    }
    connection.deferred.push({ height, handle: () => handle(shardAtHeight(connection, height) as number | undefined) });
  };
  const replayDeferred = (connection: Connection): void => {
    while (connection.deferred.length > 0 && shardAtHeight(connection, connection.deferred[0]!.height) !== "later") {
      connection.deferred.shift()!.handle();
    }
  };

  /**
   * `socket` of `connection` closed or failed: unless the run is over (or that stream was already
   * replaced), the endpoint leaves the routes, its unresolved transactions are sent again to the
   * shard's other validators and its queue is routed again; reconnection is tried every
   * RECONNECT_MS (`reconnect`).
   */
  const disconnected = (connection: Connection, socket: WebSocket, why: string): void => {
    if (finished || socket !== connection.socket || !connection.up) return;
    connection.up = false;
    socket.terminate();
    fault({ atMs: Math.round(performance.now() - startMs), endpoint: connection.url, shard: connection.status.shard, kind: "disconnected", detail: why });
    // Frames in flight are answered by no one: what they carried is sent again below.
    connection.inFlight.clear();
    leftBehind(connection, DISCONNECTED);
    rebuildRoutes();
    epochs.routeRebuilds++;
    applyStatuses([], 0, true);
  };

  /** Listens on `connection`'s current socket and subscribes, before anything is sent on it. */
  const attach = (connection: Connection): void => {
    const socket = connection.socket!;
    connection.pingSentAt = undefined;
    connection.nextPingAt = performance.now() + PING_MS;
    socket.on("pong", () => {
      if (socket === connection.socket) connection.pingSentAt = undefined;
    });
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (socket !== connection.socket || !connection.up) return;
      try {
        const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        if (!isBinary || frame.length === 0) throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: unexpected ${isBinary ? "empty" : "text"} frame`);
        if (frame[0] === FRAME_ACK) onAck(connection, frame);
        else if (frame[0] === FRAME_EVENTS) {
          const batch = decodeEvents(frame);
          onHeightFrame(connection, batch.height, (shard) => onEvents(connection, shard, batch));
        } else if (frame[0] === FRAME_OPTIMISTIC) onOptimistic(frame);
        else if (frame[0] === FRAME_ATOMIX) {
          // Decoded only if it is the first of its (shard, height): the other validators' copies are dropped unread.
          const height = atomixFrameHeight(frame);
          onHeightFrame(connection, height, (shard) => onAtomix(shard, height, frame));
        } else if (frame[0] === FRAME_ERROR) {
          const { code, message } = decodeError(frame);
          throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url} answered ${code}: ${message}`);
        } else throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: unknown frame type ${frame[0]}`);
      } catch (error) {
        streamFailure ??= hasCodeIn(error, LOAD_ERROR_CODES) ? error : new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ${(error as Error).message}`);
      }
      pump();
    });
    // A validator that dies (or restarts) closes its stream: a fault of the network, not of the run.
    socket.on("close", (code: number, reason: Buffer) => disconnected(connection, socket, `closed (${code}${reason.length > 0 ? ` ${reason.toString("utf8")}` : ""})`));
    socket.on("error", (error: Error) => disconnected(connection, socket, error.message));
    // Without ATOMIX frames until chosen as a source (`chooseAtomixSources`, which runs next).
    atomixSources.delete(connection.index);
    socket.send(JSON.stringify({ op: "subscribe", atomix: false }));
  };
  for (const connection of connections) if (connection.up) attach(connection);
  chooseAtomixSources();

  /**
   * One reconnection attempt to a disconnected endpoint: open its stream, read its status, and
   * route to it again (its status may name another shard or epoch by now: the routes follow).
   */
  const reconnect = (connection: Connection): void => {
    connection.reconnecting = true;
    void connect(connection.url)
      .then(async (socket) => {
        // Until `attach` listens, an error must not go unhandled; a close is seen by readyState below.
        socket.on("error", () => undefined);
        try {
          const status = await fetchStatus(connection.url);
          if (finished || socket.readyState !== WebSocket.OPEN) throw new Error("the run is over, or the stream closed again");
          connection.socket = socket;
          connection.up = true;
          // A new stream numbers its acknowledgements from 0 again (the server counts frames per stream).
          connection.inFlight.clear();
          connection.nextSequence = 0;
          attach(connection);
          fault({ atMs: Math.round(performance.now() - startMs), endpoint: connection.url, shard: status.shard, kind: "reconnected", detail: `epoch ${status.epoch}` });
          // Everything it held was sent elsewhere at its disconnection: its new status is taken as is, no switch to follow.
          connection.status = status;
          shardsOf(connection.shardByEpoch, status);
          epochs.first = Math.min(epochs.first, status.epoch);
          epochs.last = Math.max(epochs.last, status.epoch);
          rebuildRoutes();
          epochs.routeRebuilds++;
          applyStatuses([], 0, true);
        } catch {
          // Its status is unreadable yet (still starting): closed, tried again at the next period.
          socket.terminate();
        }
      }, () => undefined)
      .finally(() => {
        connection.reconnecting = false;
      });
  };

  const submitEndMs = startMs + durationMs;
  /** Releases due transactions to their connections and sends whatever frames the in-flight limits allow. */
  function pump(): void {
    if (streamFailure !== undefined) return;
    const now = performance.now();
    if (now < submitEndMs) {
      while (released < count) {
        if (mode.kind === "open-loop") {
          const due = startMs + (released * 1000) / mode.rate;
          if (due > now) break;
          dueAt[released] = due;
        } else if (unresolved >= mode.window) {
          break;
        }
        release(released);
        released++;
      }
    }
    for (const connection of connections) {
      const socket = connection.socket;
      if (!connection.up || socket === undefined) continue;
      if (connection.unlocks.length > 0 && connection.inFlight.size < MAX_FRAMES_IN_FLIGHT) {
        const unlocks = connection.unlocks.splice(0, frameTxs);
        for (const unlock of unlocks) for (const position of unlock.batch ?? [unlock.position]) flows.get(position)?.sentTo.set(unlock.target, connection.index);
        connection.inFlight.set(connection.nextSequence++, { positions: unlocks.map((u) => -1 - u.position), sends: unlocks.map(() => 0), unlocks });
        socket.send(encodeSubmission(unlocks.map((u) => u.bytes)));
      }
      while (connection.inFlight.size < MAX_FRAMES_IN_FLIGHT && connection.queueHead < connection.queue.length) {
        const taken = connection.queue.slice(connection.queueHead, connection.queueHead + frameTxs);
        connection.queueHead += taken.length;
        if (connection.queueHead === connection.queue.length) {
          connection.queue = [];
          connection.queueHead = 0;
        }
        // A resend settled meanwhile (its first send's final confirmation came) is not sent again.
        let positions = taken.filter((position) => state[position] === TxState.Queued || isOpen(position));
        if (staleShards.size > 0) {
          parked.push(...positions.filter((position) => staleShards.has(set.shard(position))));
          positions = positions.filter((position) => !staleShards.has(set.shard(position)));
        }
        if (positions.length === 0) continue;
        const sentAt = performance.now();
        for (const position of positions) {
          if (sends[position] === 0) {
            state[position] = TxState.Submitted;
            if (mode.kind === "closed-loop") dueAt[position] = sentAt;
            metrics.submitted(set.shard(position), sentAt);
            sends[position] = 1;
          }
          sentTo[position] = connection.index;
        }
        connection.inFlight.set(connection.nextSequence++, { positions, sends: positions.map((p) => sends[p]!) });
        socket.send(encodeSubmission(positions.map((p) => set.tx(p))));
      }
    }
  }

  progress?.start(() => {
    const now = performance.now();
    return { elapsedMs: now - startMs, submitted: metrics.totalSubmitted, accepted, rejected, optimistic: metrics.totalOptimistic, final: metrics.totalFinal, finalPerSecond: metrics.finalRateAt(now), inFlight: unresolved };
  });

  const end = await new Promise<LoadRun["end"]>((resolve) => {
    let nextCpuSample = startMs + BUCKET_MS;
    let nextStatusRead = startMs + statusPollMs;
    let nextReconnect = startMs + RECONNECT_MS;
    let submissionEndedAt: number | undefined;
    const timer = setInterval(() => {
      pump();
      const now = performance.now();
      if (cpu !== undefined && now >= nextCpuSample) {
        cpu.sample(now);
        nextCpuSample += BUCKET_MS;
      }
      if (now >= nextStatusRead) {
        requestStatusRead();
        nextStatusRead = now + statusPollMs;
      }
      for (const connection of connections) {
        const socket = connection.socket;
        if (!connection.up || socket === undefined) continue;
        if (connection.pingSentAt !== undefined) {
          if (now - connection.pingSentAt >= unresponsiveMs) disconnected(connection, socket, `unresponsive: no answer to a ping in ${Math.round(now - connection.pingSentAt)} ms`);
        } else if (now >= connection.nextPingAt) {
          connection.pingSentAt = now;
          connection.nextPingAt = now + PING_MS;
          socket.ping();
        }
      }
      if (now >= nextReconnect) {
        for (const connection of connections) if (!connection.up && !connection.reconnecting) reconnect(connection);
        nextReconnect = now + RECONNECT_MS;
      }
      if (submissionEndedAt === undefined && (now >= submitEndMs || (released === count && heldPositions.size === 0))) {
        submissionEndedAt = now;
        // What still waits for a cross-shard commit is never sent: the run submits for `durationMs`.
        held.clear();
        heldPositions.clear();
      }
      const draining = submissionEndedAt !== undefined;
      if (streamFailure !== undefined || (draining && unresolved === 0)) {
        clearInterval(timer);
        resolve("settled");
      } else if (draining && now - submissionEndedAt! >= drainTimeoutMs) {
        clearInterval(timer);
        resolve("drain-timeout");
      }
    }, TICK_MS);
    pump();
  });
  finished = true;
  cpu?.sample(performance.now());
  progress?.stop();
  for (const connection of connections) if (connection.up) connection.socket?.close(1000, "done");
  if (streamFailure !== undefined) throw streamFailure;
  const traced: number[] = [];
  for (let position = 0; position < count && traced.length < UNSETTLED_TRACED; position++) if (isOpen(position)) traced.push(position);
  const unsettled = end === "drain-timeout" ? await Promise.all(traced.map(async (position): Promise<UnsettledTrace> => {
    const txid = toHex(set.txid(position));
    const atEndpoints = await Promise.all(endpoints.map((url) => new ApiClient(nodeUrlOf(url)).transaction(txid).then(
      (status) => status.state === "rejected" ? `rejected ${status.code ?? ""}`.trimEnd() : status.state,
      (error: unknown) => (error as { code?: string }).code ?? (error as Error).message)));
    return {
      txid, shard: set.shard(position), cross: isCross(position), driverState: state[position] === TxState.Accepted ? "accepted" : "submitted",
      sends: sends[position]!, retries: retries[position]!, sentTo: sentTo[position]!,
      acceptedAtMs: Number.isNaN(acceptedAt[position]!) ? null : Math.round(acceptedAt[position]! - startMs), atEndpoints,
    };
  })) : undefined;

  const summary = metrics.summary();
  const report = buildReport(
    {
      seed: set.header.seed,
      mode: mode.kind,
      targetRate: mode.kind === "open-loop" ? mode.rate : null,
      window: mode.kind === "closed-loop" ? mode.window : null,
      plannedDurationMs: durationMs,
      transactions: count,
      shardCount,
      genesisHash: Buffer.from(set.header.genesisHash).toString("hex"),
      endpoints: [...endpoints],
      consensus: routes.map((r) => r.consensus),
      routing: routes.map((r) => (r.usesAssignee ? "pob-assignee" : "owner-byte")),
      epochs,
      startedAt,
    },
    summary,
    cpu?.summary() ?? [],
    { faults },
  );
  return unsettled === undefined ? { report, end } : { report, end, unsettled };
}
