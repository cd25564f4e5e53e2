/**
 * The real peer transport (DESIGN §8): a uWebSockets.js server takes inbound links, the `ws`
 * client makes outbound ones (uWebSockets.js has no client). Every link runs the handshake of
 * peer-auth.ts before anything else crosses it, then carries frames of frame.ts.
 *
 * Link policy
 * - One link per pair of validators. The side with the lower PeerId dials at once when it knows
 *   the other's URL, and then refuses an inbound link from the higher key (AUTH_WRONG_DIRECTION).
 *   The lower side may not know the higher's URL (a validator that joined at a later epoch, whose
 *   URL only its own address book has): then it accepts the higher key's link, and a higher side
 *   that knows the lower's URL dials it once it has had no link for `fallbackDialMs` (the lower
 *   side's own dial usually comes first, and its refusal of ours is then harmless). Which way the
 *   link goes is thus decided by the lower side alone, from whether it holds a URL: the pair
 *   never keeps two links. A newly authenticated link replaces an older one to the same peer (the
 *   peer restarted and the old one is stale).
 * - The peer set is the validators of the epochs around the current one: `setPeers` replaces it
 *   at an epoch switch (links to peers no longer in it close, PEER_REMOVED; new ones are dialed).
 * - The dialer redials a lost link with exponential backoff and jitter ("equal jitter": a delay
 *   uniform in [c/2, c], c = min(reconnectMaxMs, reconnectBaseMs · 2^attempt)).
 * - Inbound: per-link token buckets on messages/s and bytes/s. A frame over the budget is
 *   dropped (throttling); every throttled frame also spends one token of an abuse allowance
 *   that refills slowly, and a link that exhausts it is closed (RATE_LIMITED) and its peer is
 *   refused for abuseBanMs (AUTH_BANNED), so reconnecting does not buy a fresh budget.
 *   Malformed frames close their link and are counted; they never reach a handler and never
 *   stop the node. What a handler throws is logged and counted (guarded-handler.ts), and the
 *   link carries on. A well-formed frame for an instance this node has no channel open for (an
 *   old epoch's committee, a forged instance) is dropped and counted; its link stays up.
 * - Outbound: frames wait in a per-link queue bounded by `maxQueueBytes`; one flush per turn
 *   of the event loop moves them (corked into one write) into the socket library while its
 *   buffer is under `sendHighWaterBytes`, the rest on uWS `drain` / `ws` write completion.
 *   When the queue is full the newest frame is dropped (delivery is best effort and protocols
 *   retry; dropping at the tail keeps the queue FIFO and O(1)); a link whose queue stays full
 *   for `stallTimeoutMs` is closed (LINK_STALLED). Memory per link is therefore bounded by
 *   about sendHighWaterBytes + maxFrameBytes + maxQueueBytes, whatever the peer does.
 * - Liveness: uWS pings idle inbound links and closes dead ones after idleTimeoutSec; a dialer
 *   closes a link on which it heard nothing for peerSilenceMs (LINK_SILENT) and redials.
 *
 * Links close with WebSocket close codes 4001–4007 and the error code as the reason text.
 */
import { connect as netConnect, type NetConnectOpts, type Socket } from "node:net";
import uWS from "uWebSockets.js";
import type { ListenOptions, TemplatedApp, WebSocket as UwsWebSocket, us_listen_socket } from "uWebSockets.js";
import { sendBinary } from "./uws-send.js";
import WebSocket from "ws";
import { IosError, check } from "../errors.js";
import type { HandlerFailures } from "../log/handler-failures.js";
import type { Clock, Rng, TimerHandle } from "../runtime/interface.js";
import { ChannelTable } from "./channels.js";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, decodeFrame, encodeFrame, type Frame, type FrameErrorCode } from "./frame.js";
import { deliverToHandler } from "./guarded-handler.js";
import type { Channel, InstanceId, MessageType, PeerId, Transport } from "./interface.js";
import { CONTROL_MESSAGES } from "./message-types.js";
import { PeerHandshake, type AuthErrorCode, type LinkRole, type PeerIdentity } from "./peer-auth.js";

/** uWS `ListenOptions.LIBUS_LISTEN_EXCLUSIVE_PORT` (a type-only enum in its typings). */
const EXCLUSIVE_PORT = 1 as ListenOptions;

export type TransportErrorCode = "TRANSPORT_BAD_CONFIG" | "TRANSPORT_LISTEN_FAILED" | "TRANSPORT_CLOSED";

/** ws's mask generator for dialed links: the zero key (see `dial`). */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

/** The WebSocket route peers connect to. */
export const PEER_PATH = "/peer";

/** Application close codes (RFC 6455 §7.4.2 leaves 4000–4999 to applications). */
export const CLOSE_CODES = {
  AUTH_FAILED: 4001,
  BAD_FRAME: 4002,
  RATE_LIMITED: 4003,
  LINK_STALLED: 4004,
  LINK_REPLACED: 4005,
  PEER_REMOVED: 4006,
  LINK_SILENT: 4007,
  /** RFC 6455 §7.4.1 "going away": this node shuts down. */
  SHUTDOWN: 1001,
} as const;

export interface TransportLimits {
  /** Largest frame, header included (uWS maxPayloadLength, ws maxPayload, decodeFrame). */
  maxFrameBytes: number;
  /** Time for a link to authenticate, from dial or accept. */
  handshakeTimeoutMs: number;
  /** Unauthenticated inbound links at once; further upgrades get HTTP 503. */
  maxPendingInbound: number;
  /** Bytes the socket library may buffer for a link before frames wait in our queue. */
  sendHighWaterBytes: number;
  /** Bytes queued per link beyond the socket buffer; over it the newest frame is dropped. */
  maxQueueBytes: number;
  /** A link whose queue stays full this long is closed. */
  stallTimeoutMs: number;
  /** Inbound message budget per link (token bucket rate and capacity). */
  rateMessagesPerSec: number;
  rateMessageBurst: number;
  /** Inbound byte budget per link; the burst must hold one frame of maxFrameBytes. */
  rateBytesPerSec: number;
  rateByteBurst: number;
  /** Throttled frames a link may send before it is closed, and their refill per second. */
  abuseAllowance: number;
  abuseRefillPerSec: number;
  /** A peer disconnected for abuse is refused re-authentication this long (AUTH_BANNED). */
  abuseBanMs: number;
  /** Reconnect backoff of the dialing side. */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /**
   * A side with the higher key that knows the lower side's URL dials it after having no link
   * for this long: the lower side dials at once when it can, so this only links a pair whose
   * lower side has no URL for the higher (the registrant whose URL only its own address book has).
   */
  fallbackDialMs: number;
  /** Time a closing outbound link gets for the close handshake before it is terminated. */
  closeGraceMs: number;
  /** uWS idle timeout in seconds (pings are sent automatically; 4 s granularity). */
  idleTimeoutSec: number;
  /**
   * A dialer closes a link on which it heard nothing (frame or ping) for this long: the
   * acceptor's uWS pings an idle link every idleTimeoutSec, so silence means a dead peer.
   */
  peerSilenceMs: number;
}

/**
 * Defaults sized for the devnet target (DESIGN §10: ≥ 10k tx/s per shard, ~200-byte
 * transactions): honest traffic stays an order of magnitude under every rate limit.
 */
export const DEFAULT_LIMITS: Readonly<TransportLimits> = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  handshakeTimeoutMs: 5_000,
  maxPendingInbound: 64,
  sendHighWaterBytes: 1024 * 1024,
  maxQueueBytes: 16 * 1024 * 1024,
  stallTimeoutMs: 30_000,
  rateMessagesPerSec: 20_000,
  rateMessageBurst: 40_000,
  rateBytesPerSec: 64 * 1024 * 1024,
  rateByteBurst: 128 * 1024 * 1024,
  abuseAllowance: 1_000,
  abuseRefillPerSec: 10,
  abuseBanMs: 60_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 10_000,
  // Above the close grace and a loopback handshake: a lower side that can dial has done so by then.
  fallbackDialMs: 2_000,
  closeGraceMs: 1_000,
  idleTimeoutSec: 32,
  peerSilenceMs: 80_000,
};

export interface UwsTransportConfig {
  identity: PeerIdentity;
  /** Genesis / chain id the handshake binds links to (1–255 bytes). */
  chainId: Uint8Array;
  /** The peer port: uWS listens on host:port itself; port 0 picks an ephemeral port (see `start`). */
  host: string;
  port: number;
  /**
   * Also listen on this Unix socket: the validator's HTTP edge (src/api/edge.ts) relays its
   * client port's connections to it. Peers dialing the client port still reach `/peer` there.
   */
  unixPath?: string;
  /** The validator set: PeerId → ws:// URL of its peer endpoint, or undefined if not dialable. */
  peers: ReadonlyMap<PeerId, string | undefined>;
  clock: Clock;
  rng: Rng;
  /** Where exceptions of message handlers are logged and counted (the link and the node carry on). */
  failures: HandlerFailures;
  limits?: Partial<TransportLimits>;
}

/**
 * Why a frame was not delivered: `unreachable` no authenticated link to the peer, `self` sent
 * to ourselves (links join distinct peers), `queue_full` the slow-peer bound, `backpressure`
 * refused by the socket library, `rate_limited` over the sender's inbound budget, `no_instance`
 * no channel open for its instance (protocol of its type, shard, epoch), `no_handler` its
 * instance's channel has no handler for its type, `closed_channel` sent through a closed channel.
 */
export type DropReason = "unreachable" | "self" | "queue_full" | "backpressure" | "rate_limited" | "no_instance" | "no_handler" | "closed_channel";

export interface LinkStats {
  peer: PeerId;
  direction: LinkRole;
  queuedBytes: number;
  bufferedBytes: number;
}

export interface TransportStats {
  /** Application frames accepted from authenticated peers (within their rate limits). */
  framesIn: number;
  /** Frames handed to the socket libraries, handshake frames included. */
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  linksOpened: number;
  linksClosed: number;
  /** Redials scheduled after a lost or failed outbound link. */
  reconnects: number;
  /** Inbound upgrades refused because too many links were still authenticating. */
  refusedUpgrades: number;
  drops: Record<DropReason, number>;
  /** Malformed frames received, by code; each closed its link. */
  frameErrors: Record<FrameErrorCode, number>;
  /** Handshakes this node refused, by code. */
  authFailures: Record<AuthErrorCode, number>;
  /** Keys of the instances with an open channel (channels.ts `instanceKey`). */
  channels: string[];
  /** Authenticated links right now. */
  links: LinkStats[];
  /** Links still authenticating right now (inbound and outbound). */
  pendingLinks: number;
}

type CloseReason =
  | AuthErrorCode
  | FrameErrorCode
  | "RATE_LIMITED"
  | "LINK_STALLED"
  | "LINK_REPLACED"
  | "PEER_REMOVED"
  | "LINK_SILENT"
  | "SHUTDOWN";

/** What a link needs from either socket library. */
interface LinkSocket {
  /**
   * Hands a frame to the library; false if the library dropped it. `onWritten`, when given,
   * runs once the frame has left the library's buffer (the `ws` side's drain signal).
   */
  write(frame: Uint8Array, onWritten: (() => void) | undefined): boolean;
  buffered(): number;
  batch(writes: () => void): void;
  end(code: number, reason: CloseReason): void;
}

class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  available(now: number): number {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    return this.tokens;
  }

  take(amount: number): void {
    this.tokens -= amount;
  }
}

interface UwsLinkData {
  link?: Link;
}

const UWS_MIN_IDLE_SEC = 8;
const UWS_MAX_IDLE_SEC = 960;

function positive(value: number): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

function checkLimits(limits: TransportLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    check(positive(value), "TRANSPORT_BAD_CONFIG", `limit ${name} must be a positive number, got ${String(value)}`);
  }
  check(Number.isInteger(limits.maxFrameBytes) && limits.maxFrameBytes > FRAME_HEADER_BYTES, "TRANSPORT_BAD_CONFIG", `maxFrameBytes must be an integer > ${FRAME_HEADER_BYTES}`);
  check(limits.rateByteBurst >= limits.maxFrameBytes, "TRANSPORT_BAD_CONFIG", "rateByteBurst must hold at least one frame of maxFrameBytes");
  check(limits.rateMessageBurst >= 1 && limits.abuseAllowance >= 1, "TRANSPORT_BAD_CONFIG", "bursts and allowances must be >= 1");
  check(limits.maxQueueBytes >= limits.maxFrameBytes, "TRANSPORT_BAD_CONFIG", "maxQueueBytes must hold at least one frame of maxFrameBytes");
  check(limits.reconnectMaxMs >= limits.reconnectBaseMs, "TRANSPORT_BAD_CONFIG", "reconnectMaxMs must be >= reconnectBaseMs");
  // uWS aborts the whole process on an idle timeout outside [8, 960] s.
  check(
    Number.isInteger(limits.idleTimeoutSec) && limits.idleTimeoutSec >= UWS_MIN_IDLE_SEC && limits.idleTimeoutSec <= UWS_MAX_IDLE_SEC,
    "TRANSPORT_BAD_CONFIG",
    `idleTimeoutSec must be an integer in [${UWS_MIN_IDLE_SEC}, ${UWS_MAX_IDLE_SEC}], got ${limits.idleTimeoutSec}`,
  );
}

function emptyCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** One WebSocket connection, from the first byte to close: handshake, then framed traffic. */
class Link {
  state: "handshaking" | "open" | "closed" = "handshaking";
  /** The authenticated peer. */
  peer: PeerId | undefined;
  queuedBytes = 0;
  private queue: (Uint8Array | undefined)[] = [];
  private head = 0;
  private fullSince: number | undefined;
  private flushScheduled = false;
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly flushAfterWrite = (): void => this.flush();
  private handshakeTimer: TimerHandle | undefined;
  private readonly messageBucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  private readonly abuseBucket: TokenBucket;
  readonly handshake: PeerHandshake;

  constructor(
    private readonly transport: UwsTransport,
    readonly direction: LinkRole,
    /** The peer a dialer dials. */
    readonly target: PeerId | undefined,
    readonly socket: LinkSocket,
  ) {
    const { limits, clock } = transport;
    const now = clock.now();
    this.messageBucket = new TokenBucket(limits.rateMessagesPerSec, limits.rateMessageBurst, now);
    this.byteBucket = new TokenBucket(limits.rateBytesPerSec, limits.rateByteBurst, now);
    this.abuseBucket = new TokenBucket(limits.abuseRefillPerSec, limits.abuseAllowance, now);
    this.handshake = transport.newHandshake(direction, target);
    this.handshakeTimer = clock.setTimer(limits.handshakeTimeoutMs, () => {
      this.handshakeTimer = undefined;
      if (this.state === "handshaking") this.refuse("AUTH_TIMEOUT", CLOSE_CODES.AUTH_FAILED);
    });
  }

  /** The socket is open: send our HELLO. */
  start(): void {
    this.writeNow(encodeFrame(CONTROL_MESSAGES.HELLO, this.handshake.hello(), this.transport.limits.maxFrameBytes));
  }

  receive(bytes: Uint8Array, isBinary: boolean): void {
    if (this.state === "closed") return;
    const transport = this.transport;
    if (!isBinary) return this.refuse("FRAME_NOT_BINARY", CLOSE_CODES.BAD_FRAME);
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, transport.limits.maxFrameBytes);
    } catch (error) {
      return this.refuse((error as IosError<FrameErrorCode>).code, CLOSE_CODES.BAD_FRAME);
    }
    if (this.state === "handshaking") return this.receiveHandshake(frame.type, frame.payload);
    if (frame.type === CONTROL_MESSAGES.HELLO || frame.type === CONTROL_MESSAGES.AUTH) {
      return this.refuse("AUTH_UNEXPECTED", CLOSE_CODES.AUTH_FAILED);
    }
    if (!this.withinRate(bytes.length)) return;
    transport.deliver(this.peer!, frame, bytes.length);
  }

  private receiveHandshake(type: MessageType, payload: Uint8Array): void {
    try {
      if (type === CONTROL_MESSAGES.HELLO) {
        const signature = this.handshake.receiveHello(payload);
        this.writeNow(encodeFrame(CONTROL_MESSAGES.AUTH, signature, this.transport.limits.maxFrameBytes));
      } else if (type === CONTROL_MESSAGES.AUTH) {
        this.peer = this.handshake.receiveAuth(payload);
        this.cancelHandshakeTimer();
        this.state = "open";
        this.transport.linkAuthenticated(this);
      } else {
        throw new IosError<AuthErrorCode>("AUTH_UNEXPECTED", `message type ${type} before authentication`);
      }
    } catch (error) {
      if (!(error instanceof IosError)) throw error;
      this.refuse(error.code as AuthErrorCode, CLOSE_CODES.AUTH_FAILED);
    }
  }

  private withinRate(size: number): boolean {
    const now = this.transport.clock.now();
    if (this.messageBucket.available(now) >= 1 && this.byteBucket.available(now) >= size) {
      this.messageBucket.take(1);
      this.byteBucket.take(size);
      return true;
    }
    this.transport.counters.drops.rate_limited++;
    if (this.abuseBucket.available(now) >= 1) {
      this.abuseBucket.take(1);
    } else {
      this.transport.ban(this.peer!);
      this.close(CLOSE_CODES.RATE_LIMITED, "RATE_LIMITED");
    }
    return false;
  }

  /**
   * Queues an application frame (the link is open) and schedules one flush for the current
   * turn, so a burst of sends reaches the socket as one corked write rather than one syscall each.
   */
  enqueue(frame: Uint8Array): void {
    const { limits, counters, clock } = this.transport;
    if (this.queuedBytes + frame.length <= limits.maxQueueBytes) {
      this.queue.push(frame);
      this.queuedBytes += frame.length;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.scheduledFlush);
      }
      return;
    }
    counters.drops.queue_full++;
    const now = clock.now();
    if (this.fullSince === undefined) this.fullSince = now;
    else if (now - this.fullSince >= limits.stallTimeoutMs) this.close(CLOSE_CODES.LINK_STALLED, "LINK_STALLED");
  }

  /** Moves queued frames into the socket while its buffer is under the high-water mark. */
  flush(): void {
    if (this.state !== "open" || this.queuedBytes === 0) return;
    const { limits } = this.transport;
    const socket = this.socket;
    socket.batch(() => {
      let buffered = socket.buffered();
      while (this.head < this.queue.length && this.state === "open" && buffered < limits.sendHighWaterBytes) {
        const frame = this.queue[this.head]!;
        this.queue[this.head++] = undefined;
        this.queuedBytes -= frame.length;
        // Only the frame that fills the buffer asks to be told when it is written: one
        // callback per flush instead of one per frame.
        this.writeNow(frame, buffered + frame.length >= limits.sendHighWaterBytes ? this.flushAfterWrite : undefined);
        buffered = socket.buffered();
      }
    });
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.queuedBytes <= limits.maxQueueBytes / 2) this.fullSince = undefined;
  }

  private writeNow(frame: Uint8Array, onWritten?: () => void): void {
    const counters = this.transport.counters;
    if (this.socket.write(frame, onWritten)) {
      counters.framesOut++;
      counters.bytesOut += frame.length;
    } else {
      counters.drops.backpressure++;
    }
  }

  private refuse(code: AuthErrorCode | FrameErrorCode, closeCode: number): void {
    const counters = this.transport.counters;
    if (code.startsWith("AUTH_")) counters.authFailures[code as AuthErrorCode]++;
    else counters.frameErrors[code as FrameErrorCode]++;
    this.close(closeCode, code);
  }

  /** Closes from our side, sending `code` and `reason` when the socket is up. */
  close(code: number, reason: CloseReason): void {
    if (this.state === "closed") return;
    this.closed();
    this.socket.end(code, reason);
  }

  /** The link is gone (either side): release its memory and tell the transport. */
  closed(): void {
    if (this.state === "closed") return;
    const wasOpen = this.state === "open";
    this.state = "closed";
    this.cancelHandshakeTimer();
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.transport.linkClosed(this, wasOpen);
  }

  private cancelHandshakeTimer(): void {
    if (this.handshakeTimer === undefined) return;
    this.transport.clock.cancelTimer(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }
}

const DROP_REASONS: readonly DropReason[] = ["unreachable", "self", "queue_full", "backpressure", "rate_limited", "no_instance", "no_handler", "closed_channel"];
const FRAME_ERRORS: readonly FrameErrorCode[] = [
  "FRAME_TRUNCATED",
  "FRAME_BAD_VERSION",
  "FRAME_TOO_LARGE",
  "FRAME_UNKNOWN_TYPE",
  "FRAME_BAD_INSTANCE",
  "FRAME_NOT_BINARY",
  "FRAME_BAD_PAYLOAD",
  "FRAME_BAD_LIMIT",
];
const AUTH_ERRORS: readonly AuthErrorCode[] = [
  "AUTH_BAD_CONFIG",
  "AUTH_BAD_MESSAGE",
  "AUTH_UNEXPECTED",
  "AUTH_SELF",
  "AUTH_WRONG_PEER",
  "AUTH_UNKNOWN_PEER",
  "AUTH_WRONG_DIRECTION",
  "AUTH_BANNED",
  "AUTH_BAD_SIGNATURE",
  "AUTH_TIMEOUT",
];

/** uWS reports a message over maxPayloadLength only as the close message of code 1006. */
const UWS_TOO_BIG = "Received too big message";

export class UwsTransport implements Transport {
  readonly self: PeerId;
  readonly limits: TransportLimits;
  readonly clock: Clock;
  /** The uWS app: other routes (client API) may be added before `start`. */
  readonly app: TemplatedApp;
  /** Running totals, updated by the links; read them through `stats()`. */
  readonly counters: Omit<TransportStats, "channels" | "links" | "pendingLinks">;

  private readonly config: UwsTransportConfig;
  private readonly peers: Map<PeerId, string | undefined>;
  private readonly channels: ChannelTable;
  /** Authenticated links by peer. */
  private readonly links = new Map<PeerId, Link>();
  /** Every live link, authenticated or not. */
  private readonly allLinks = new Set<Link>();
  /** Outbound links being dialed or authenticated, by peer. */
  private readonly dialing = new Map<PeerId, Link>();
  private readonly reconnectTimers = new Map<PeerId, TimerHandle>();
  private readonly reconnectAttempts = new Map<PeerId, number>();
  /** Peers disconnected for abuse, and until when (clock time) they are refused. */
  private readonly bannedUntil = new Map<PeerId, number>();
  private readonly clientsClosed = new Map<WebSocket, Promise<void>>();
  private pendingInbound = 0;
  /** The peer port's listen socket, and the Unix socket's when `unixPath` is set. */
  private readonly listenSockets: us_listen_socket[] = [];
  private started = false;
  private closing = false;

  constructor(config: UwsTransportConfig) {
    check(config !== null && typeof config === "object", "TRANSPORT_BAD_CONFIG", "config must be an object");
    check(typeof config.host === "string" && config.host.length > 0, "TRANSPORT_BAD_CONFIG", "host must be a non-empty string");
    check(
      Number.isInteger(config.port) && config.port >= 0 && config.port <= 65535,
      "TRANSPORT_BAD_CONFIG",
      `port must be an integer in [0, 65535], got ${config.port}`,
    );
    check(config.peers instanceof Map, "TRANSPORT_BAD_CONFIG", "peers must be a Map of PeerId to URL");
    this.limits = { ...DEFAULT_LIMITS, ...config.limits };
    checkLimits(this.limits);
    this.config = config;
    this.self = config.identity.id;
    this.clock = config.clock;
    this.channels = new ChannelTable({
      self: this.self,
      send: (channel, to, type, payload) => this.sendOn(channel, to, type, payload),
      broadcast: (channel, group, type, payload) => this.broadcastOn(channel, group, type, payload),
    });
    this.peers = new Map();
    for (const [peer, url] of config.peers) this.checkPeer(peer, url);
    for (const [peer, url] of config.peers) if (peer !== this.self) this.peers.set(peer, url);
    // Validates the chain id and identity up front rather than on the first link.
    this.newHandshake("acceptor", undefined);
    this.counters = {
      framesIn: 0,
      framesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      linksOpened: 0,
      linksClosed: 0,
      reconnects: 0,
      refusedUpgrades: 0,
      drops: emptyCounts(DROP_REASONS),
      frameErrors: emptyCounts(FRAME_ERRORS),
      authFailures: emptyCounts(AUTH_ERRORS),
    };
    this.app = uWS.App().ws<UwsLinkData>(PEER_PATH, {
      maxPayloadLength: this.limits.maxFrameBytes,
      // Our queue keeps uWS's buffer under sendHighWaterBytes, so uWS itself never drops.
      maxBackpressure: this.limits.sendHighWaterBytes + 2 * this.limits.maxFrameBytes,
      closeOnBackpressureLimit: 0,
      idleTimeout: this.limits.idleTimeoutSec,
      sendPingsAutomatically: true,
      // sendBinary's compress hint relies on it.
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => {
        if (this.closing || this.pendingInbound >= this.limits.maxPendingInbound) {
          this.counters.refusedUpgrades++;
          res.writeStatus("503 Service Unavailable").end();
          return;
        }
        const data: UwsLinkData = {};
        res.upgrade(
          data,
          req.getHeader("sec-websocket-key"),
          req.getHeader("sec-websocket-protocol"),
          req.getHeader("sec-websocket-extensions"),
          context,
        );
      },
      open: (ws) => this.acceptInbound(ws),
      message: (ws, message, isBinary) => ws.getUserData().link?.receive(new Uint8Array(message), isBinary),
      drain: (ws) => ws.getUserData().link?.flush(),
      close: (ws, code, message) => {
        const link = ws.getUserData().link;
        if (link === undefined) return;
        if (code === 1006 && link.state !== "closed" && Buffer.from(message).toString() === UWS_TOO_BIG) {
          this.counters.frameErrors.FRAME_TOO_LARGE++;
        }
        link.closed();
      },
    });
  }

  /** Listens (host:port, then `unixPath`), dials the peers this node should dial, and resolves with the bound peer port. */
  async start(): Promise<{ port: number }> {
    if (this.closing) throw new IosError<TransportErrorCode>("TRANSPORT_CLOSED", "transport is closed");
    check(!this.started, "TRANSPORT_BAD_CONFIG", "start() was already called");
    this.started = true;
    // uWS listens with SO_REUSEPORT by default, so a second node on a taken port would start
    // silently and share connections with the first; an exclusive port makes the clash an error.
    const listen = this.app.listen as unknown as (
      host: string,
      port: number,
      options: ListenOptions,
      callback: (listenSocket: us_listen_socket | false) => void,
    ) => void;
    const peerSocket = await this.listening(`${this.config.host}:${this.config.port}`, (done) => listen.call(this.app, this.config.host, this.config.port, EXCLUSIVE_PORT, done));
    const unixPath = this.config.unixPath;
    if (unixPath !== undefined) await this.listening(unixPath, (done) => this.app.listen_unix(done, unixPath));
    for (const peer of this.peers.keys()) this.dialIfDue(peer);
    return { port: uWS.us_socket_local_port(peerSocket as never) };
  }

  /** One listen of the app: its socket is kept for `close`; a failure is TRANSPORT_LISTEN_FAILED. */
  private listening(where: string, listen: (done: (listenSocket: us_listen_socket | false) => void) => void): Promise<us_listen_socket> {
    return new Promise((resolve, reject) => {
      listen((listenSocket) => {
        if (listenSocket === false) {
          reject(new IosError<TransportErrorCode>("TRANSPORT_LISTEN_FAILED", `cannot listen on ${where}`));
          return;
        }
        this.listenSockets.push(listenSocket);
        resolve(listenSocket);
      });
    });
  }

  open(instance: InstanceId): Channel {
    return this.channels.open(instance);
  }

  connectedPeers(): PeerId[] {
    return [...this.links.keys()];
  }

  /**
   * Adds a validator or changes its URL (a new epoch's validator set) and dials it if it is ours
   * to dial and not connected (see the link policy); an open link is kept.
   */
  setPeer(peer: PeerId, url: string | undefined): void {
    this.checkPeer(peer, url);
    if (peer === this.self) return;
    this.peers.set(peer, url);
    if (this.started && !this.closing) this.dialIfDue(peer);
  }

  /**
   * Makes `peers` the whole peer set (an epoch switch): the ones not in it are removed as by
   * `removePeer`, the others set as by `setPeer`. Checked whole before anything changes.
   */
  setPeers(peers: ReadonlyMap<PeerId, string | undefined>): void {
    for (const [peer, url] of peers) this.checkPeer(peer, url);
    for (const peer of [...this.peers.keys()]) if (!peers.has(peer)) this.removePeer(peer);
    for (const [peer, url] of peers) if (this.peers.get(peer) !== url || !this.peers.has(peer)) this.setPeer(peer, url);
  }

  /** The peers this transport admits, with the URLs it dials (undefined: it waits to be dialed). */
  peerSet(): ReadonlyMap<PeerId, string | undefined> {
    return new Map(this.peers);
  }

  /** Removes a validator: its link is closed and no longer redialed. */
  removePeer(peer: PeerId): void {
    this.peers.delete(peer);
    this.cancelReconnect(peer);
    this.reconnectAttempts.delete(peer);
    this.dialing.get(peer)?.close(CLOSE_CODES.PEER_REMOVED, "PEER_REMOVED");
    this.links.get(peer)?.close(CLOSE_CODES.PEER_REMOVED, "PEER_REMOVED");
  }

  stats(): TransportStats {
    const c = this.counters;
    return {
      ...c,
      drops: { ...c.drops },
      frameErrors: { ...c.frameErrors },
      authFailures: { ...c.authFailures },
      channels: this.channels.openInstances(),
      links: [...this.links.values()].map((link) => ({
        peer: link.peer!,
        direction: link.direction,
        queuedBytes: link.queuedBytes,
        bufferedBytes: link.socket.buffered(),
      })),
      pendingLinks: this.allLinks.size - this.links.size,
    };
  }

  /** Stops listening, closes every link and timer; resolves when outbound sockets are closed. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.channels.closeAll();
    for (const peer of [...this.reconnectTimers.keys()]) this.cancelReconnect(peer);
    for (const link of [...this.allLinks]) link.close(CLOSE_CODES.SHUTDOWN, "SHUTDOWN");
    for (const listenSocket of this.listenSockets.splice(0)) uWS.us_listen_socket_close(listenSocket);
    await Promise.all(this.clientsClosed.values());
  }

  // --- called by Link -------------------------------------------------------------------------

  newHandshake(role: LinkRole, expectedPeer: PeerId | undefined): PeerHandshake {
    return new PeerHandshake({
      role,
      identity: this.config.identity,
      chainId: this.config.chainId,
      rng: this.config.rng,
      ...(expectedPeer === undefined ? {} : { expectedPeer }),
      admit: (peer) => {
        if (!this.peers.has(peer)) return "AUTH_UNKNOWN_PEER";
        // A higher key may dial in only when this side cannot dial it (no URL): the lower side decides the direction.
        if (role === "acceptor" && !(peer < this.self) && this.peers.get(peer) !== undefined) return "AUTH_WRONG_DIRECTION";
        const bannedUntil = this.bannedUntil.get(peer);
        if (bannedUntil !== undefined) {
          if (this.clock.now() < bannedUntil) return "AUTH_BANNED";
          this.bannedUntil.delete(peer);
        }
        return undefined;
      },
    });
  }

  ban(peer: PeerId): void {
    this.bannedUntil.set(peer, this.clock.now() + this.limits.abuseBanMs);
  }

  deliver(from: PeerId, frame: Frame, frameBytes: number): void {
    const counters = this.counters;
    counters.framesIn++;
    counters.bytesIn += frameBytes;
    const handler = this.channels.route(frame.type, frame.shard, frame.epoch);
    if (handler === "no-instance") {
      counters.drops.no_instance++;
      return;
    }
    if (handler === "no-handler") {
      counters.drops.no_handler++;
      return;
    }
    // A copy: the socket libraries reuse or neuter the receive buffer after this call.
    deliverToHandler(this.config.failures, handler, from, frame.type, frame.payload.slice());
  }

  linkAuthenticated(link: Link): void {
    const peer = link.peer!;
    if (link.direction === "acceptor") this.pendingInbound--;
    else this.dialing.delete(peer);
    const previous = this.links.get(peer);
    if (previous !== undefined && previous !== link) previous.close(CLOSE_CODES.LINK_REPLACED, "LINK_REPLACED");
    this.links.set(peer, link);
    this.reconnectAttempts.delete(peer);
    this.counters.linksOpened++;
  }

  linkClosed(link: Link, wasOpen: boolean): void {
    this.allLinks.delete(link);
    if (link.direction === "acceptor" && !wasOpen) this.pendingInbound--;
    if (wasOpen) this.counters.linksClosed++;
    const peer = link.peer ?? link.target;
    if (peer === undefined) return;
    if (this.links.get(peer) === link) this.links.delete(peer);
    if (this.dialing.get(peer) === link) this.dialing.delete(peer);
    if (link.direction === "dialer") this.scheduleReconnect(peer);
    // A lost inbound link from a peer this side can dial (it dialed in as the fallback, or we got its URL since): ours to restore.
    else if (wasOpen && !this.closing && this.peers.has(peer)) this.dialIfDue(peer);
  }

  // --- channels -------------------------------------------------------------------------------

  private sendOn(channel: Channel, to: PeerId, type: MessageType, payload: Uint8Array): void {
    if (!channel.isOpen) {
      this.counters.drops.closed_channel++;
      return;
    }
    if (to === this.self) {
      this.counters.drops.self++;
      return;
    }
    const link = this.links.get(to);
    if (link === undefined) {
      this.counters.drops.unreachable++;
      return;
    }
    link.enqueue(encodeFrame(type, payload, this.limits.maxFrameBytes, channel.instance));
  }

  private broadcastOn(channel: Channel, group: readonly PeerId[], type: MessageType, payload: Uint8Array): void {
    if (!channel.isOpen) {
      this.counters.drops.closed_channel++;
      return;
    }
    const frame = encodeFrame(type, payload, this.limits.maxFrameBytes, channel.instance);
    for (const peer of group) {
      if (peer === this.self) continue;
      const link = this.links.get(peer);
      if (link === undefined) this.counters.drops.unreachable++;
      else link.enqueue(frame);
    }
  }

  // --- links ----------------------------------------------------------------------------------

  private acceptInbound(ws: UwsWebSocket<UwsLinkData>): void {
    const link = new Link(this, "acceptor", undefined, {
      write: (frame) => sendBinary(ws, frame) !== 2,
      buffered: () => ws.getBufferedAmount(),
      batch: (writes) => void ws.cork(writes),
      end: (code, reason) => ws.end(code, reason),
    });
    ws.getUserData().link = link;
    this.allLinks.add(link);
    this.pendingInbound++;
    link.start();
  }

  /** Dials `peer` now if this side has the lower key, else after `fallbackDialMs` without a link (the link policy); needs its URL. */
  private dialIfDue(peer: PeerId): void {
    if (this.peers.get(peer) === undefined || this.links.has(peer) || this.dialing.has(peer)) return;
    if (this.self < peer) {
      this.cancelReconnect(peer);
      this.dial(peer);
    } else if (!this.reconnectTimers.has(peer)) {
      this.reconnectTimers.set(peer, this.clock.setTimer(this.limits.fallbackDialMs, () => {
        this.reconnectTimers.delete(peer);
        this.dialNow(peer);
      }));
    }
  }

  /** Dials `peer` unless it is linked or being dialed, whatever the key order (a redial, or the higher side's fallback). */
  private dialNow(peer: PeerId): void {
    if (this.closing || this.peers.get(peer) === undefined || this.links.has(peer) || this.dialing.has(peer)) return;
    this.dial(peer);
  }

  private dial(peer: PeerId): void {
    const url = this.peers.get(peer)!;
    // Our own TCP socket for ws:// links, so a flush can cork it: one writev per burst of frames
    // instead of one per frame (ws does not cork across messages). wss:// keeps ws's TLS default.
    let tcp: Socket | undefined;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: this.limits.maxFrameBytes,
      // An all-zero mask: frames leave as they are, neither XORed byte by byte nor copied (ws skips
      // both for a zero key). Masking protects browser intermediaries from script-chosen bytes
      // (RFC 6455 §10.3); a validator's own authenticated link to a peer has neither.
      generateMask: zeroMask,
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      ...(url.startsWith("ws:")
        ? {
            createConnection: ((options: NetConnectOpts & { socketPath?: string }) =>
              // http's `path` is the request path; net.connect would read it as an IPC path.
              (tcp = netConnect({ ...options, path: options.socketPath } as NetConnectOpts))) as typeof netConnect,
          }
        : {}),
    });
    let graceTimer: TimerHandle | undefined;
    let silenceTimer: TimerHandle | undefined;
    let lastHeard = this.clock.now();
    const heard = (): void => {
      lastHeard = this.clock.now();
    };
    const watchSilence = (): void => {
      silenceTimer = this.clock.setTimer(this.limits.peerSilenceMs / 4, () => {
        if (this.clock.now() - lastHeard >= this.limits.peerSilenceMs) link.close(CLOSE_CODES.LINK_SILENT, "LINK_SILENT");
        else watchSilence();
      });
    };
    const link = new Link(this, "dialer", peer, {
      write: (frame, onWritten) => {
        ws.send(frame, { binary: true }, onWritten);
        return true;
      },
      buffered: () => ws.bufferedAmount,
      batch: (writes) => {
        tcp?.cork();
        writes();
        tcp?.uncork();
      },
      end: (code, reason) => {
        if (ws.readyState === WebSocket.CONNECTING) {
          ws.terminate();
          return;
        }
        ws.close(code, reason);
        graceTimer = this.clock.setTimer(this.limits.closeGraceMs, () => ws.terminate());
      },
    });
    this.allLinks.add(link);
    this.dialing.set(peer, link);
    this.clientsClosed.set(
      ws,
      new Promise((resolve) => {
        ws.on("close", () => {
          if (graceTimer !== undefined) this.clock.cancelTimer(graceTimer);
          if (silenceTimer !== undefined) this.clock.cancelTimer(silenceTimer);
          this.clientsClosed.delete(ws);
          link.closed();
          resolve();
        });
      }),
    );
    ws.on("error", (error: Error & { code?: string }) => {
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" && link.state !== "closed") this.counters.frameErrors.FRAME_TOO_LARGE++;
    });
    ws.on("open", () => {
      if (link.state === "closed") return;
      heard();
      watchSilence();
      link.start();
    });
    ws.on("ping", heard);
    ws.on("pong", heard);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      heard();
      link.receive(new Uint8Array(data.buffer, data.byteOffset, data.length), isBinary);
    });
  }

  private scheduleReconnect(peer: PeerId): void {
    if (this.closing || this.reconnectTimers.has(peer) || this.peers.get(peer) === undefined) return;
    const attempt = this.reconnectAttempts.get(peer) ?? 0;
    this.reconnectAttempts.set(peer, attempt + 1);
    const ceiling = Math.min(this.limits.reconnectMaxMs, this.limits.reconnectBaseMs * 2 ** Math.min(attempt, 30));
    const delay = ceiling / 2 + (this.config.rng.nextFloat() * ceiling) / 2;
    this.counters.reconnects++;
    this.reconnectTimers.set(
      peer,
      this.clock.setTimer(delay, () => {
        this.reconnectTimers.delete(peer);
        this.dialNow(peer);
      }),
    );
  }

  private cancelReconnect(peer: PeerId): void {
    const timer = this.reconnectTimers.get(peer);
    if (timer === undefined) return;
    this.clock.cancelTimer(timer);
    this.reconnectTimers.delete(peer);
  }

  private checkPeer(peer: PeerId, url: string | undefined): void {
    check(
      typeof peer === "string" && /^[0-9a-f]{64}$/.test(peer),
      "TRANSPORT_BAD_CONFIG",
      `peer id must be 64 lowercase hex characters, got ${String(peer)}`,
    );
    if (url === undefined) return;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // Not a URL at all: the check below refuses it with TRANSPORT_BAD_CONFIG.
      parsed = undefined;
    }
    check(
      parsed !== undefined && (parsed.protocol === "ws:" || parsed.protocol === "wss:"),
      "TRANSPORT_BAD_CONFIG",
      `peer URL must be ws:// or wss://, got ${url}`,
    );
  }
}
