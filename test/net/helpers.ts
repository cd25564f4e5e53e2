/**
 * Shared fixtures of the transport tests: identities ordered by PeerId (the lower key dials),
 * meshes of real UwsTransports on 127.0.0.1 ephemeral ports, a raw `ws` peer that runs the real
 * handshake and then sends whatever a test wants, and polling for conditions reached over the
 * network.
 */
import assert from "node:assert/strict";
import type { AddressInfo, Socket } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import type { Channel, MessageHandler, MessageType, PeerId, Transport } from "../../src/net/interface.js";
import { CONTROL_ROUTE, encodeFrame, decodeFrame, type FrameRoute } from "../../src/net/frame.js";
import { CONTROL_MESSAGES, messageType, protocolOfType, type ApplicationProtocol } from "../../src/net/message-types.js";
import { PeerHandshake, PeerIdentity } from "../../src/net/peer-auth.js";
import { PEER_PATH, UwsTransport, type TransportLimits } from "../../src/net/uws-transport.js";
import type { Clock, TimerHandle } from "../../src/runtime/interface.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";
import { testFailures } from "../support/log.js";
import type { HandlerFailures } from "../../src/log/handler-failures.js";

export const CHAIN_ID = new TextEncoder().encode("ioschain-test-net");

const openedChannels = new WeakMap<Transport, Map<string, Channel>>();

/**
 * The channel of instance (protocol of `type`, shard 0, epoch 0) on `transport`, opened on first
 * use: the transport tests that are not about instances speak in that one.
 */
export function channelOf(transport: Transport, type: MessageType): Channel {
  const protocol = protocolOfType(type) as ApplicationProtocol;
  let byProtocol = openedChannels.get(transport);
  if (byProtocol === undefined) openedChannels.set(transport, (byProtocol = new Map()));
  let channel = byProtocol.get(protocol);
  if (channel === undefined) byProtocol.set(protocol, (channel = transport.open({ protocol, shard: 0, epoch: 0 })));
  return channel;
}

/** Sends `type` in instance (its protocol, 0, 0). */
export function send(transport: Transport, to: PeerId, type: MessageType, payload: Uint8Array): void {
  channelOf(transport, type).send(to, type, payload);
}

/** Handles `type` in instance (its protocol, 0, 0). */
export function on(transport: Transport, type: MessageType, handler: MessageHandler): void {
  channelOf(transport, type).on(type, handler);
}

/** `n` fresh identities sorted by PeerId, so index order is dialing order. */
export function sortedIdentities(n: number): PeerIdentity[] {
  return Array.from({ length: n }, () => PeerIdentity.generate()).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export function peerUrl(port: number): string {
  return `ws://127.0.0.1:${port}${PEER_PATH}`;
}

export interface NodeOptions {
  limits?: Partial<TransportLimits>;
  clock?: Clock;
  port?: number;
  failures?: HandlerFailures;
}

export function makeTransport(identity: PeerIdentity, validators: readonly PeerIdentity[], options: NodeOptions = {}): UwsTransport {
  return new UwsTransport({
    identity,
    chainId: CHAIN_ID,
    host: "127.0.0.1",
    port: options.port ?? 0,
    peers: new Map(validators.map((v) => [v.id, undefined])),
    clock: options.clock ?? new SystemClock(),
    rng: new CryptoRng(),
    failures: options.failures ?? testFailures(),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}

export interface MeshNode {
  identity: PeerIdentity;
  transport: UwsTransport;
  port: number;
}

/** Starts one transport per identity, then tells each the others' URLs so the mesh forms. */
export async function startMesh(identities: readonly PeerIdentity[], options: NodeOptions = {}): Promise<MeshNode[]> {
  const nodes: MeshNode[] = [];
  for (const identity of identities) {
    const transport = makeTransport(identity, identities, options);
    const { port } = await transport.start();
    nodes.push({ identity, transport, port });
  }
  for (const node of nodes) {
    for (const other of nodes) if (other !== node) node.transport.setPeer(other.identity.id, peerUrl(other.port));
  }
  return nodes;
}

export async function closeAll(nodes: readonly { transport: UwsTransport }[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.close()));
}

/** Polls `condition` until it holds; fails with `what` after `limitMs` (a liveness bound, not a timing assertion). */
export async function waitFor(what: string, condition: () => boolean, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function fullMesh(nodes: readonly MeshNode[]): boolean {
  return nodes.every((n) => n.transport.connectedPeers().length === nodes.length - 1);
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/**
 * A hand-driven dialer: opens a WebSocket to a node, optionally runs the real handshake as
 * `identity`, and records what comes back. Tests use it to misbehave on purpose.
 */
export class RawPeer {
  readonly ws: WebSocket;
  readonly frames: { type: number; shard: number; epoch: number; payload: Uint8Array }[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  private readonly helloReceived: Promise<Uint8Array>;
  /** The HELLO and AUTH payloads this peer sent in its last `authenticate`. */
  sentHello: Uint8Array | undefined;
  sentAuth: Uint8Array | undefined;

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.helloReceived = new Promise((resolve) => {
      this.ws.on("message", (data: Buffer) => {
        const frame = decodeFrame(new Uint8Array(data));
        if (frame.type === CONTROL_MESSAGES.HELLO) resolve(frame.payload.slice());
        this.frames.push({ type: frame.type, shard: frame.shard, epoch: frame.epoch, payload: frame.payload.slice() });
      });
    });
    this.ws.on("error", () => undefined);
  }

  /** The node's HELLO payload (nonce ‖ key). */
  nodeHello(): Promise<Uint8Array> {
    return this.helloReceived;
  }

  /** Runs the honest handshake as `identity` against the node `nodeId`. */
  async authenticate(identity: PeerIdentity, nodeId: PeerId): Promise<void> {
    await this.opened;
    const handshake = new PeerHandshake({
      role: "dialer",
      identity,
      chainId: CHAIN_ID,
      rng: new CryptoRng(),
      expectedPeer: nodeId,
      admit: () => undefined,
    });
    this.sentHello = handshake.hello();
    this.sendFrame(CONTROL_MESSAGES.HELLO, this.sentHello);
    this.sentAuth = handshake.receiveHello(await this.nodeHello());
    this.sendFrame(CONTROL_MESSAGES.AUTH, this.sentAuth);
  }

  /** Sends one well-formed frame, by default in instance shard 0, epoch 0. */
  sendFrame(type: number, payload: Uint8Array, route: FrameRoute = CONTROL_ROUTE): void {
    this.ws.send(encodeFrame(type, payload, undefined, route), { binary: true });
  }

  sendRaw(bytes: Uint8Array | string, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  close(): Promise<CloseEvent> {
    this.ws.terminate();
    return this.closed;
  }
}

/** The message type the arena's honest validator uses to show the node still serves it. */
export const ARENA_PING = messageType("consensus", 0);

/**
 * Validators [low, honest, node]: `node` (highest key) is under attack, `honest` keeps a real
 * link to it, `low` is a validator whose key the attackers borrow (lower than node's, so node
 * accepts it as a dialer). `outsider` is not a validator.
 */
export async function arena(options: NodeOptions = {}) {
  const [low, honestId, nodeId] = sortedIdentities(3) as [PeerIdentity, PeerIdentity, PeerIdentity];
  const outsider = sortedIdentities(1)[0]!;
  const nodes = await startMesh([honestId, nodeId], options);
  const [honest, node] = nodes as [MeshNode, MeshNode];
  node.transport.setPeer(low.id, undefined);
  const received: PeerId[] = [];
  on(node.transport, ARENA_PING, (from) => received.push(from));
  await waitFor("honest link", () => fullMesh(nodes));
  /** The node still serves the honest validator: a PING goes through. */
  const stillServing = async (): Promise<void> => {
    const before = received.filter((p) => p === honest.identity.id).length;
    send(honest.transport, node.identity.id, ARENA_PING, Uint8Array.of(1));
    await waitFor("honest PING delivered", () => received.filter((p) => p === honest.identity.id).length === before + 1);
    assert.ok(node.transport.connectedPeers().includes(honest.identity.id));
  };
  return { low, outsider, honest, node, nodes, received, stillServing, url: peerUrl(node.port) };
}

/** Wall-clock timers, but `now()` only moves when the test says so (token buckets, stall timer). */
export class ManualClock implements Clock {
  private readonly timers = new SystemClock();
  private time = 0;

  now(): number {
    return this.time;
  }

  wallNow(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    return this.timers.setTimer(delayMs, callback);
  }

  cancelTimer(handle: TimerHandle): void {
    this.timers.cancelTimer(handle);
  }
}

/**
 * A hand-driven acceptor on a `ws` server: answers one dialer's handshake honestly as
 * `identity`, then lets the test do as it likes with the socket (e.g. stop reading).
 */
export class RawAcceptor {
  readonly server: WebSocketServer;
  readonly listening: Promise<number>;
  /** The server-side socket once the dialer is authenticated. */
  readonly authenticated: Promise<WebSocket>;
  /** Application frames received after authentication. */
  applicationFrames = 0;

  constructor(identity: PeerIdentity, dialer: PeerId) {
    this.server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    this.listening = new Promise((resolve) => this.server.once("listening", () => resolve((this.server.address() as AddressInfo).port)));
    this.authenticated = new Promise((resolve) => {
      this.server.once("connection", (ws) => {
        const handshake = new PeerHandshake({
          role: "acceptor",
          identity,
          chainId: CHAIN_ID,
          rng: new CryptoRng(),
          admit: (peer) => (peer === dialer ? undefined : "AUTH_UNKNOWN_PEER"),
        });
        ws.send(encodeFrame(CONTROL_MESSAGES.HELLO, handshake.hello()));
        ws.on("message", (data: Buffer) => {
          const frame = decodeFrame(new Uint8Array(data));
          if (frame.type === CONTROL_MESSAGES.HELLO) ws.send(encodeFrame(CONTROL_MESSAGES.AUTH, handshake.receiveHello(frame.payload)));
          else if (frame.type === CONTROL_MESSAGES.AUTH) {
            handshake.receiveAuth(frame.payload);
            resolve(ws);
          } else this.applicationFrames++;
        });
      });
    });
  }

  close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The TCP socket under a `ws` WebSocket (to pause reading). */
export function tcpSocketOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}
