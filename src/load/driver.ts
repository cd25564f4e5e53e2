/**
 * The load driver: submits a generated set to running validators over the client WebSocket stream
 * (src/api/stream-codec.ts, route /v1/stream) and follows their confirmation events.
 *
 * Phases of a run:
 *  1. connect: one WebSocket per entry validator (endpoints[shard] lists a shard's), then GET
 *     /v1/status of each (same host, http) for its public key, shard and consensus; each
 *     connection sends {"op":"subscribe"} before anything is submitted, so no confirmation can be
 *     missed (every connection stays subscribed: any validator of a shard may announce its events);
 *  2. submit, for `durationMs` or until the set is exhausted (a transfer still held for its input
 *     when submission ends is never sent):
 *       open loop  — transaction k is due at start + k / rate (a fixed schedule, whatever the node
 *                    does), and its latency is measured from that due time, so time spent queued
 *                    behind a slow node counts (no coordinated omission);
 *       closed loop — at most `window` transactions unresolved (submitted, not final or rejected;
 *                    one held back because its input does not exist yet is not in flight);
 *                    a new one goes out as soon as one resolves; latency from the actual send.
 *     Due transactions are framed in bulk (u32 count ‖ (u32 len ‖ tx)*), at most `frameTxs` per
 *     frame and MAX_FRAMES_IN_FLIGHT frames awaiting their ack per connection (the server's limit).
 *     Within a shard, a transaction goes to the entry validator chosen by its first input's owner
 *     key, so every chain of transfers keeps one connection and its order: under Proof-of-
 *     Believability with two leagues (white paper §7.2) the believable validator the protocol
 *     assigns that key to (`assignee` of `spenderOf`, src/consensus/pob/assignment.ts), since
 *     only it seals the transaction into an optimistic block; otherwise, or when that validator
 *     is not among the shard's endpoints, the endpoint at (first byte of the key) mod (number of
 *     endpoints).
 *     Acks: "accepted" counts as accepted; "duplicate" (the node already knew it: no new work) and
 *     "rejected" count as rejections at submission, under DUPLICATE or the node's code;
 *  3. drain: wait until every submitted transaction is final or rejected, or `drainTimeoutMs`;
 *  4. report: metrics, CPU samples (taken every second) and run facts as a LoadReport.
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
 * an ATOMIX frame, the driver sends the unlock-to-commit to every other shard the transfer touches
 * over the same streams (to the sender's shard too when its lock only locked: the workload's
 * transfers have one input shard, whose lock settles them), and counts the transfer final when
 * it is committed in all. A transfer spending a cross-shard transfer's change follows it at once
 * when the lock settles the transfer (every input in the sender's shard: the lock creates the
 * change, in its producer's view as in the final block, as an intra-shard transfer does); else it
 * is held until the commit is final in the sender's shard (the change exists only then); its latency still runs
 * from its due time.
 * A stream failure (an ERROR frame, an unexpected close, an undecodable frame) ends the run with
 * LOAD_STREAM_ERROR rather than a report that would silently miss confirmations.
 *
 * API: `runLoad(options): Promise<LoadRun>`.
 */
import WebSocket from "ws";
import { ApiClient } from "../api/client.js";
import { MAX_FRAMES_IN_FLIGHT, STREAM_PATH } from "../api/server.js";
import {
  FRAME_ACK,
  FRAME_ERROR,
  FRAME_EVENTS,
  FRAME_OPTIMISTIC,
  FRAME_ATOMIX,
  decodeAtomix,
  MAX_STREAM_TXS,
  SubmitOutcome,
  decodeAck,
  decodeError,
  decodeEvents,
  decodeOptimistic,
  encodeSubmission,
} from "../api/stream-codec.js";
import { assignee, spenderOf } from "../consensus/pob/assignment.js";
import { unlockFor } from "../atomix/client.js";
import { encodeAtomixPhase } from "../atomix/phases.js";
import { crossShardInputShards, crossShardTransferShards } from "../ledger/kinds/atomix.js";
import { TX_PREFIX, TxKind } from "../ledger/kinds/interface.js";
import { scanTransaction, transactionIdOfEncoding } from "../ledger/kinds/registry.js";
import { toHex } from "../hex.js";
import { BUCKET_MS, CpuSampler, LoadMetrics, type CpuProcess } from "./metrics.js";
import type { ProgressDisplay } from "./progress.js";
import { buildReport, type LoadReport } from "./report.js";
import { TxidPositions } from "./txid-positions.js";
import type { LoadSet } from "./workload.js";
import { TXID_BYTES } from "../codec/sizes.js";
import { IosError, check, hasCodeIn } from "../errors.js";
import { LOAD_ERROR_CODES, type LoadErrorCode } from "./errors.js";

export type LoadMode = { readonly kind: "open-loop"; readonly rate: number } | { readonly kind: "closed-loop"; readonly window: number };

export interface DriverOptions {
  readonly set: LoadSet;
  /** endpoints[shard]: WebSocket stream URLs (ws://host:port/v1/stream) of that shard's entry validators. */
  readonly endpoints: readonly (readonly string[])[];
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
}

export interface LoadRun {
  readonly report: LoadReport;
  /** "settled": every submitted transaction final or rejected; "drain-timeout": some were not. */
  readonly end: "settled" | "drain-timeout";
}

const DEFAULT_FRAME_TXS = 2048;
const DEFAULT_DRAIN_MS = 10_000;
const DEFAULT_LATENCY_CAP_MS = 1000;
/** Scheduler period: 5 ms keeps an open-loop schedule within a few ms of due without busy-waiting. */
const TICK_MS = 5;
const CONNECT_TIMEOUT_MS = 10_000;
/** Where either transfer kind keeps its first input's txid: after version, kind and the two u16 counts. */
const FIRST_INPUT_TXID_AT = TX_PREFIX.bytes + 4;
/** ATOMIX frames' phase bytes of a lock decision (src/atomix/phases.ts). */
const LOCKED_PHASE = encodeAtomixPhase("locked");
const COMMITTED_PHASE = encodeAtomixPhase("committed");
const HEX_KEY = /^[0-9a-f]{64}$/;

const enum TxState {
  Queued = 0,
  Submitted = 1,
  Accepted = 2,
  Final = 3,
  Rejected = 4,
}

/** What an endpoint's GET /v1/status says, as far as routing needs it. */
interface EndpointStatus {
  /** Hex public key of the validator. */
  readonly publicKey: string;
  readonly shard: number;
  /** "solo", "bft", "pob/two-league", "pob/one-league", ... as reported. */
  readonly consensus: string;
  /** The believable league (two-league PoB only) and the consensus height it was read at. */
  readonly believable: readonly Uint8Array[] | undefined;
  readonly height: number;
}

interface Connection {
  readonly url: string;
  readonly status: EndpointStatus;
  readonly socket: WebSocket;
  /** Set positions released to this connection and not yet framed, in set order. */
  readonly queue: number[];
  queueHead: number;
  /** Unlocks to send (their cross-shard transfer's position), framed before the queue. */
  readonly unlocks: { readonly position: number; readonly bytes: Uint8Array }[];
  /** Frames sent and not acknowledged, by sequence number: set positions, or −1 − position for an unlock. */
  readonly inFlight: Map<number, number[]>;
  nextSequence: number;
}

/** A cross-shard transfer past its lock: the shards that have not applied its unlock yet. */
interface CrossFlow {
  readonly pending: Set<number>;
}

/** One list of stream URLs per shard (LOAD_BAD_OPTION otherwise): checked before any signing work. */
export function checkEndpoints(endpoints: readonly (readonly string[])[], shardCount: number): void {
  check<LoadErrorCode>(endpoints.length === shardCount, "LOAD_BAD_OPTION", `endpoints must list one entry per shard (${shardCount}), got ${endpoints.length}`);
  for (const url of endpoints.flat()) check<LoadErrorCode>(/^wss?:\/\/[^/]+\/v1\/stream$/.test(url), "LOAD_BAD_OPTION", `${JSON.stringify(url)} is not a stream URL like ws://127.0.0.1:7000${STREAM_PATH}`);
}

function checkOptions(options: DriverOptions): void {
  const { set, endpoints, mode, durationMs } = options;
  checkEndpoints(endpoints, set.header.shardCount);
  endpoints.forEach((urls, shard) => check<LoadErrorCode>(urls.length > 0 || !set.shards.includes(shard), "LOAD_BAD_OPTION", `shard ${shard} has transactions but no entry validator`));
  if (mode.kind === "open-loop") check<LoadErrorCode>(Number.isFinite(mode.rate) && mode.rate > 0, "LOAD_BAD_OPTION", `rate must be a positive number of tx/s, got ${mode.rate}`);
  else check<LoadErrorCode>(Number.isInteger(mode.window) && mode.window >= 1, "LOAD_BAD_OPTION", `window must be a positive integer, got ${mode.window}`);
  check<LoadErrorCode>(Number.isFinite(durationMs) && durationMs > 0, "LOAD_BAD_OPTION", `duration must be a positive number of ms, got ${durationMs}`);
  const frameTxs = options.frameTxs ?? DEFAULT_FRAME_TXS;
  check<LoadErrorCode>(Number.isInteger(frameTxs) && frameTxs >= 1 && frameTxs <= MAX_STREAM_TXS, "LOAD_BAD_OPTION", `frameTxs must be an integer in 1..${MAX_STREAM_TXS}, got ${frameTxs}`);
  const drain = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
  check<LoadErrorCode>(Number.isFinite(drain) && drain >= 0, "LOAD_BAD_OPTION", `drain timeout must be ≥ 0 ms, got ${drain}`);
}

/** Map key of a 32-byte value (a public key or a block hash): one char per byte, read in place. */
function key32(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** http(s)://host:port of the node behind a ws(s)://host:port/v1/stream URL. */
function nodeUrlOf(streamUrl: string): string {
  const url = new URL(streamUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

/** Reads GET /v1/status of the node behind `streamUrl` (see the API's status route and the PoB status fields). */
async function fetchStatus(streamUrl: string): Promise<EndpointStatus> {
  const nodeUrl = nodeUrlOf(streamUrl);
  const unusable = (why: string) => new IosError<LoadErrorCode>("LOAD_CONNECT_FAILED", `${nodeUrl}/v1/status (status of ${streamUrl}) ${why}`);
  let body: unknown;
  try {
    body = await new ApiClient(nodeUrl).status();
  } catch (error) {
    throw unusable(`cannot be read: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null) throw unusable("is not a JSON object");
  const { publicKey, shard, consensus } = body as Record<string, unknown>;
  if (typeof publicKey !== "string" || !HEX_KEY.test(publicKey)) throw unusable("has no publicKey of 64 lowercase hex digits");
  if (!Number.isInteger(shard)) throw unusable("has no integer shard");
  const facts = typeof consensus === "object" && consensus !== null ? (consensus as Record<string, unknown>) : {};
  const mode = typeof facts.mode === "string" ? facts.mode : "unknown";
  const leagueMode = typeof facts.leagueMode === "string" ? facts.leagueMode : undefined;
  const height = typeof facts.height === "number" && Number.isFinite(facts.height) ? facts.height : 0;
  const described = leagueMode === undefined ? mode : `${mode}/${leagueMode}`;
  if (mode !== "pob" || leagueMode !== "two-league") return { publicKey, shard: shard as number, consensus: described, believable: undefined, height };
  const believable = facts.believable;
  if (!Array.isArray(believable) || believable.length === 0 || !believable.every((key) => typeof key === "string" && HEX_KEY.test(key))) {
    throw unusable("reports two-league PoB without a non-empty consensus.believable list of 64-hex-digit keys");
  }
  return { publicKey, shard: shard as number, consensus: described, believable: believable.map((key: string) => new Uint8Array(Buffer.from(key, "hex"))), height };
}

/**
 * The entry-validator choice of a shard (see the file comment): by the PoB assignee of the first
 * input's owner when the shard runs two leagues, by that key's first byte otherwise. Assignments
 * are remembered per owner key, so each sender costs one `assignee` call.
 */
class ShardRoute {
  readonly #connections: readonly Connection[];
  readonly #believable: readonly Uint8Array[] | undefined;
  readonly #byPublicKey = new Map<string, Connection>();
  readonly #byOwner = new Map<string, Connection>();

  constructor(connections: readonly Connection[]) {
    this.#connections = connections;
    // Every endpoint of the shard should report the same league; the latest view (highest height) wins.
    const pob = connections.filter((c) => c.status.believable !== undefined).sort((a, b) => b.status.height - a.status.height)[0];
    this.#believable = pob?.status.believable;
    for (const connection of connections) this.#byPublicKey.set(connection.status.publicKey, connection);
  }

  get usesAssignee(): boolean {
    return this.#believable !== undefined;
  }

  connectionFor(tx: Uint8Array): Connection {
    const spender = spenderOf(tx);
    const byByte = this.#connections[(spender?.[0] ?? 0) % this.#connections.length]!;
    if (this.#believable === undefined || spender === undefined) return byByte;
    const key = key32(spender);
    let connection = this.#byOwner.get(key);
    if (connection === undefined) {
      connection = this.#byPublicKey.get(toHex(assignee(spender, this.#believable))) ?? byByte;
      this.#byOwner.set(key, connection);
    }
    return connection;
  }
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
  const { set, endpoints, mode, durationMs, progress } = options;
  const frameTxs = options.frameTxs ?? DEFAULT_FRAME_TXS;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_MS;
  const count = set.count;
  const state = new Uint8Array(count);
  const dueAt = new Float64Array(count);
  /** When the first optimistic confirmation arrived; NaN until then. */
  const optimisticAt = new Float64Array(count).fill(Number.NaN);
  const positionOfTxid = new TxidPositions(set.txids());
  /** Optimistic blocks already counted: every validator of the shard announces each one. */
  const seenOptimisticBlocks = new Set<string>();

  const sockets = await Promise.allSettled(endpoints.flatMap((urls) => urls.map((url) => connect(url))));
  const failed = sockets.find((s) => s.status === "rejected");
  if (failed !== undefined) {
    for (const s of sockets) if (s.status === "fulfilled") s.value.terminate();
    throw (failed as PromiseRejectedResult).reason;
  }
  const opened = sockets.map((s) => (s as PromiseFulfilledResult<WebSocket>).value);
  const statusOf = async (url: string, shard: number): Promise<EndpointStatus> => {
    const status = await fetchStatus(url);
    check<LoadErrorCode>(status.shard === shard, "LOAD_BAD_OPTION", `${url} serves shard ${status.shard} but is listed as an entry validator of shard ${shard}`);
    return status;
  };
  let statuses: EndpointStatus[];
  try {
    statuses = await Promise.all(endpoints.flatMap((urls, shard) => urls.map((url) => statusOf(url, shard))));
  } catch (error) {
    for (const socket of opened) socket.terminate();
    throw error;
  }
  const connections: Connection[] = [];
  const byShard: Connection[][] = endpoints.map(() => []);
  let k = 0;
  endpoints.forEach((urls, shard) => {
    for (const url of urls) {
      const connection: Connection = { url, status: statuses[k]!, socket: opened[k++]!, queue: [], queueHead: 0, unlocks: [], inFlight: new Map(), nextSequence: 0 };
      connections.push(connection);
      byShard[shard]!.push(connection);
    }
  });
  const routes = byShard.map((list) => new ShardRoute(list));
  const connectionOf = (position: number): Connection => routes[set.shard(position)]!.connectionFor(set.tx(position));
  const isCross = (position: number): boolean => set.tx(position)[TX_PREFIX.offset.kind] === TxKind.AtomixLock;
  /**
   * Whether a cross-shard transfer's lock settles it in the sender's shard (every input there):
   * that lock creates the change, in its producer's view as in the final block, so what spends
   * the change may follow the lock at once, as after an intra-shard transfer.
   */
  const settlesAtLock = (position: number): boolean => new Set(crossShardInputShards(set.tx(position), set.header.shardCount)).size === 1;
  /** Cross-shard transfers past their lock, by position; their unlocks' txids (latin1 key) → position. */
  const flows = new Map<number, CrossFlow>();
  const unlockPositions = new Map<string, number>();
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
    connectionOf(position).queue.push(position);
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
  /** Sends `position` now, or holds it behind the output it spends. */
  const release = (position: number): void => {
    const parent = positionOfTxid.get(set.tx(position), FIRST_INPUT_TXID_AT);
    const blocked = parent !== undefined && parent < position && ((isCross(parent) && !settlesAtLock(parent) && !changeReady.has(parent)) || heldPositions.has(parent));
    if (!blocked) return queue(position);
    heldPositions.add(position);
    held.set(parent, [...(held.get(parent) ?? []), position]);
  };

  const startMs = performance.now();
  const startedAt = new Date().toISOString();
  const metrics = new LoadMetrics(set.header.shardCount, startMs, options.latencyCapMs ?? DEFAULT_LATENCY_CAP_MS);
  const cpu = options.cpu !== undefined && options.cpu.length > 0 ? new CpuSampler(options.cpu, startMs) : undefined;
  let released = 0;
  let unresolved = 0;
  let accepted = 0;
  let rejected = 0;
  let streamFailure: IosError<LoadErrorCode> | undefined;
  /** Set once the run is over, so the closes it causes are not taken for failures. */
  let finished = false;

  const resolveTx = (position: number, to: TxState.Final | TxState.Rejected): void => {
    if (state[position] === TxState.Submitted || state[position] === TxState.Accepted) unresolved--;
    state[position] = to;
  };

  const onAck = (connection: Connection, frame: Uint8Array): void => {
    const { sequence, acks } = decodeAck(frame);
    const positions = connection.inFlight.get(sequence);
    if (positions === undefined || positions.length !== acks.length) throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ack ${sequence} matches no frame in flight`);
    connection.inFlight.delete(sequence);
    const now = performance.now();
    acks.forEach((ack, i) => {
      const position = positions[i]!;
      // An unlock's refusal (a duplicate: a watcher or another stream got there first) changes nothing: its finality is watched.
      if (position < 0) return;
      if (ack.outcome === SubmitOutcome.Accepted) {
        accepted++;
        metrics.accepted(set.shard(position));
        if (state[position] === TxState.Submitted) state[position] = TxState.Accepted;
      } else if (state[position] === TxState.Submitted) {
        rejected++;
        metrics.rejected(set.shard(position), ack.outcome === SubmitOutcome.Duplicate ? "DUPLICATE" : ack.code, now, false);
        resolveTx(position, TxState.Rejected);
      }
    });
  };

  /** Submitted (acknowledged or not) and neither final nor rejected yet. */
  const isOpen = (position: number | undefined): position is number => position !== undefined && (state[position] === TxState.Submitted || state[position] === TxState.Accepted);

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
   * X decided in its input shard, as an ATOMIX frame of one of its validators says with the proof:
   * send the unlock to every shard X touches that needs one — all of them after a lock, the
   * others when the lock settled X there (its only input shard: the change exists already).
   */
  const startUnlock = (position: number, proof: Uint8Array, settled: boolean): void => {
    const now = performance.now();
    metrics.crossPhase("locked", dueAt[position]!, now);
    const tx = set.tx(position);
    const unsigned = tx.subarray(0, scanTransaction(tx).unsignedEnd);
    const sender = set.shard(position);
    const unlock = unlockFor(unsigned, new Map([[sender, proof]]), set.header.shardCount);
    if (unlock?.kind !== "commit") throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `shard ${sender}'s proof for ${toHex(set.txid(position))} does not commit it`);
    metrics.crossPhase("proven", dueAt[position]!, now);
    const flow: CrossFlow = { pending: new Set(crossShardTransferShards(unsigned, set.header.shardCount)) };
    flows.set(position, flow);
    unlockPositions.set(key32(transactionIdOfEncoding(unlock.bytes)), position);
    if (settled) unlockFinal(position, sender, now);
    for (const target of flow.pending) routes[target]!.connectionFor(unlock.bytes).unlocks.push({ position, bytes: unlock.bytes });
  };

  const onAtomix = (connection: Connection, frame: Uint8Array): void => {
    for (const { txid, phase, proof } of decodeAtomix(frame).decisions) {
      const position = positionOfTxid.get(txid);
      // The sender's shard's lock decision (it carries the proof): locked, or committed by the lock itself.
      if ((phase !== LOCKED_PHASE && phase !== COMMITTED_PHASE) || proof.length === 0 || !isOpen(position) || !isCross(position) || flows.has(position)) continue;
      if (connection.status.shard !== set.shard(position)) continue;
      startUnlock(position, proof, phase === COMMITTED_PHASE);
    }
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
    const optimisticAtMs = optimisticAt[position]!;
    metrics.final(set.shard(position), dueAt[position]!, now, Number.isNaN(optimisticAtMs) ? undefined : optimisticAtMs, true);
    resolveTx(position, TxState.Final);
  };

  const onEvents = (connection: Connection, frame: Uint8Array): void => {
    const { height, final, rejected: refusals } = decodeEvents(frame);
    const now = performance.now();
    if (final.length > 0) metrics.height(connection.status.shard, height, final.length / TXID_BYTES);
    for (let at = 0; at < final.length; at += TXID_BYTES) {
      const position = positionOfTxid.get(final, at);
      if (position === undefined && unlockPositions.size > 0) {
        const crossPosition = unlockPositions.get(key32(final.subarray(at, at + TXID_BYTES)));
        if (crossPosition !== undefined) unlockFinal(crossPosition, connection.status.shard, now);
        continue;
      }
      if (!isOpen(position)) continue;
      // A cross-shard transfer's lock is final here: its ATOMIX frame carries the proof, its unlocks make it final.
      if (isCross(position)) continue;
      const optimisticAtMs = optimisticAt[position]!;
      metrics.final(set.shard(position), dueAt[position]!, now, Number.isNaN(optimisticAtMs) ? undefined : optimisticAtMs);
      resolveTx(position, TxState.Final);
    }
    for (const refusal of refusals) {
      const position = positionOfTxid.get(refusal.txid);
      if (!isOpen(position)) continue;
      rejected++;
      metrics.rejected(set.shard(position), refusal.code, now, true);
      resolveTx(position, TxState.Rejected);
      // What spends a refused transfer's change is sent all the same: its shard answers it.
      releaseHeld(position);
    }
  };

  for (const connection of connections) {
    connection.socket.on("message", (data: Buffer, isBinary: boolean) => {
      try {
        const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        if (!isBinary || frame.length === 0) throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: unexpected ${isBinary ? "empty" : "text"} frame`);
        if (frame[0] === FRAME_ACK) onAck(connection, frame);
        else if (frame[0] === FRAME_EVENTS) onEvents(connection, frame);
        else if (frame[0] === FRAME_OPTIMISTIC) onOptimistic(frame);
        else if (frame[0] === FRAME_ATOMIX) onAtomix(connection, frame);
        else if (frame[0] === FRAME_ERROR) {
          const { code, message } = decodeError(frame);
          throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url} answered ${code}: ${message}`);
        } else throw new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: unknown frame type ${frame[0]}`);
      } catch (error) {
        streamFailure ??= hasCodeIn(error, LOAD_ERROR_CODES) ? error : new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ${(error as Error).message}`);
      }
      pump();
    });
    connection.socket.on("close", (code: number, reason: Buffer) => {
      if (!finished) streamFailure ??= new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url} closed the stream (${code} ${reason.toString("utf8")})`);
    });
    connection.socket.on("error", (error: Error) => {
      streamFailure ??= new IosError<LoadErrorCode>("LOAD_STREAM_ERROR", `${connection.url}: ${error.message}`);
    });
    connection.socket.send(JSON.stringify({ op: "subscribe" }));
  }

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
      if (connection.unlocks.length > 0 && connection.inFlight.size < MAX_FRAMES_IN_FLIGHT) {
        const unlocks = connection.unlocks.splice(0, frameTxs);
        connection.inFlight.set(connection.nextSequence++, unlocks.map((u) => -1 - u.position));
        connection.socket.send(encodeSubmission(unlocks.map((u) => u.bytes)));
      }
      while (connection.inFlight.size < MAX_FRAMES_IN_FLIGHT && connection.queueHead < connection.queue.length) {
        const positions = connection.queue.slice(connection.queueHead, connection.queueHead + frameTxs);
        connection.queueHead += positions.length;
        if (connection.queueHead === connection.queue.length) {
          connection.queue.length = 0;
          connection.queueHead = 0;
        }
        const sentAt = performance.now();
        for (const position of positions) {
          state[position] = TxState.Submitted;
          if (mode.kind === "closed-loop") dueAt[position] = sentAt;
          metrics.submitted(set.shard(position), sentAt);
        }
        connection.inFlight.set(connection.nextSequence++, positions);
        connection.socket.send(encodeSubmission(positions.map((p) => set.tx(p))));
      }
    }
  }

  progress?.start(() => {
    const now = performance.now();
    return { elapsedMs: now - startMs, submitted: metrics.totalSubmitted, accepted, rejected, optimistic: metrics.totalOptimistic, final: metrics.totalFinal, finalPerSecond: metrics.finalRateAt(now), inFlight: unresolved };
  });

  const end = await new Promise<LoadRun["end"]>((resolve) => {
    let nextCpuSample = startMs + BUCKET_MS;
    let submissionEndedAt: number | undefined;
    const timer = setInterval(() => {
      pump();
      const now = performance.now();
      if (cpu !== undefined && now >= nextCpuSample) {
        cpu.sample(now);
        nextCpuSample += BUCKET_MS;
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
  for (const connection of connections) connection.socket.close(1000, "done");
  if (streamFailure !== undefined) throw streamFailure;

  const summary = metrics.summary();
  const report = buildReport(
    {
      seed: set.header.seed,
      mode: mode.kind,
      targetRate: mode.kind === "open-loop" ? mode.rate : null,
      window: mode.kind === "closed-loop" ? mode.window : null,
      plannedDurationMs: durationMs,
      transactions: count,
      shardCount: set.header.shardCount,
      genesisHash: Buffer.from(set.header.genesisHash).toString("hex"),
      endpoints: endpoints.flat(),
      consensus: byShard.map((list) => list[0]?.status.consensus ?? "none"),
      routing: routes.map((route) => (route.usesAssignee ? "pob-assignee" : "owner-byte")),
      startedAt,
    },
    summary,
    cpu?.summary() ?? [],
  );
  return { report, end };
}
