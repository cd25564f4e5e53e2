/**
 * The simulated network: one `SimTransport` per live node incarnation, links with seeded latency,
 * loss, duplication and reordering, partitions that cut links until healed. Messages are queued
 * as simulator events at (now + sampled delay); nothing is delivered synchronously.
 *
 * A message is checked twice: when sent (sender and its channel open, peer known and up, not
 * partitioned, not lost) and when it arrives (the incarnation it was sent to is still up, the
 * link is still not partitioned, the receiver has a channel open for the message's instance and
 * a handler for its type, as the real transport routes it: src/net/channels.ts). So a crash drops what was in flight to the node, and a
 * partition cuts what was on the wire; what a node sent before crashing is already on the wire
 * and still arrives.
 *
 * A handler that throws is treated as the real transport treats it: the exception is logged and
 * counted by the receiving incarnation's HandlerFailures (guarded-handler.ts), recorded in the
 * trace, and delivery goes on. A scenario that must see no failure checks `failures.total`.
 */
import { IosError } from "../errors.js";
import type { HandlerFailures } from "../log/handler-failures.js";
import { deliverToHandler } from "../net/guarded-handler.js";
import { ChannelTable } from "../net/channels.js";
import type { Channel, InstanceId, MessageType, PeerId, Transport } from "../net/interface.js";
import type { Rng } from "../runtime/interface.js";
import type { SimErrorCode } from "./errors.js";
import { PERFECT_LINK, mergeLinkConfig, sampleDelay, type LinkConfig } from "./link.js";
import { TraceKind, type TraceRecorder } from "./trace.js";

/** What a byzantine node sends instead of `payload` to `to` (undefined: nothing). See `SimNetwork.intercept`. */
export type Interceptor = (to: PeerId, type: MessageType, payload: Uint8Array) => Uint8Array | undefined;

/** Why a message did not reach a handler. */
export type DropReason =
  /** Lost on the link (loss probability). */
  | "loss"
  /** Sender and receiver were in different partition groups at send or arrival time. */
  | "partitioned"
  /** The receiver was down at send time, crashed (and maybe restarted) while the message was in flight, or closed its transport. */
  | "peer-down"
  /** No node has that id. */
  | "unknown-peer"
  /** A node sent to itself: a transport links distinct peers only. */
  | "self"
  /** Sent through a transport or channel that was closed, or whose node had crashed. */
  | "sender-closed"
  /** The receiver's channel of the message's instance registered no handler for its type. */
  | "no-handler"
  /** The receiver has no channel open for the message's instance (protocol of its type, shard, epoch). */
  | "no-instance"
  /** The sender's interceptor (`intercept`) dropped it: a byzantine node that keeps quiet selectively. */
  | "intercepted";

const DROP_REASONS: readonly DropReason[] = [
  "loss",
  "partitioned",
  "peer-down",
  "unknown-peer",
  "self",
  "sender-closed",
  "no-handler",
  "no-instance",
  "intercepted",
];

export interface NetworkStats {
  /** send() calls, one per destination of a broadcast. */
  sent: number;
  /** Copies handed to a handler (a duplicated message counts twice). */
  delivered: number;
  /** Extra copies created by duplication. */
  duplicated: number;
  dropped: Record<DropReason, number>;
}

/** What the network needs from the simulator: time, the agenda, the trace. */
export interface NetworkHost {
  now(): number;
  /** Queues `fire` at virtual time `atMs` (≥ now). */
  schedule(atMs: number, fire: () => boolean): void;
  readonly trace: TraceRecorder;
}

/** Field value for "no such node" in trace records. */
const NO_INDEX = 0xffffffff;

interface Endpoint {
  readonly id: PeerId;
  /** Registration order: the node's name in trace records. */
  readonly index: number;
  up: boolean;
  /** Number of the current (or last, if down) incarnation; -1 before the first start. */
  incarnation: number;
  transport: SimTransport | undefined;
  /**
   * While the node is paused (`pause`): what reached it and what it sent, in order, handed over
   * at `resume` as a stopped process's socket buffers would be. Undefined while it runs.
   */
  held: (() => void)[] | undefined;
}

function shortId(id: PeerId): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

export class SimNetwork {
  private readonly endpoints = new Map<PeerId, Endpoint>();
  private readonly byIndex: Endpoint[] = [];
  private defaultLink: LinkConfig;
  /** Overrides keyed by `${fromIndex}>${toIndex}`. */
  private readonly links = new Map<string, LinkConfig>();
  /** Partition group per endpoint index; undefined when the network is whole. */
  private groups: Int32Array | undefined;
  /** What each node (by index) really sends: see `intercept`. */
  private readonly interceptors = new Map<number, Interceptor>();
  private readonly counters: NetworkStats = {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>,
  };

  constructor(
    private readonly host: NetworkHost,
    private readonly rng: Rng,
    defaultLink: Partial<LinkConfig> = {},
  ) {
    this.defaultLink = mergeLinkConfig(PERFECT_LINK, defaultLink);
  }

  /** Ids of every registered node, in registration order. */
  nodes(): PeerId[] {
    return this.byIndex.map((endpoint) => endpoint.id);
  }

  isUp(id: PeerId): boolean {
    return this.endpoint(id).up;
  }

  /** Changes the link used wherever no per-link override was set. */
  setDefaultLink(change: Partial<LinkConfig>): void {
    this.defaultLink = mergeLinkConfig(this.defaultLink, change);
  }

  /** Overrides the one-way link `from` → `to` (starting from its current configuration). */
  setLink(from: PeerId, to: PeerId, change: Partial<LinkConfig>): void {
    const key = this.linkKey(this.endpoint(from), this.endpoint(to));
    this.links.set(key, mergeLinkConfig(this.links.get(key) ?? this.defaultLink, change));
  }

  /** Overrides both directions between `a` and `b`. */
  setLinkBothWays(a: PeerId, b: PeerId, change: Partial<LinkConfig>): void {
    this.setLink(a, b, change);
    this.setLink(b, a, change);
  }

  /** The configuration in force on `from` → `to`. */
  link(from: PeerId, to: PeerId): LinkConfig {
    return this.links.get(this.linkKey(this.endpoint(from), this.endpoint(to))) ?? this.defaultLink;
  }

  /**
   * Splits the network: messages pass only between nodes of the same group, including messages
   * already in flight. A node listed in no group is isolated. Replaces any previous partition.
   */
  partition(groups: readonly (readonly PeerId[])[]): void {
    if (!Array.isArray(groups)) throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "partition takes an array of groups of node ids");
    const assignment = new Int32Array(this.byIndex.length);
    for (let i = 0; i < assignment.length; i++) assignment[i] = -1 - i;
    groups.forEach((group, groupNumber) => {
      if (!Array.isArray(group)) throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `partition group ${groupNumber} is not an array`);
      for (const id of group) {
        const endpoint = this.endpoint(id);
        if (assignment[endpoint.index]! >= 0) {
          throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", `node ${id} is listed in two partition groups`);
        }
        assignment[endpoint.index] = groupNumber;
      }
    });
    this.groups = assignment;
    const host = this.host;
    host.trace.record(TraceKind.partition, host.now(), [], new Uint8Array(assignment.buffer));
    if (host.trace.logging) {
      host.trace.log(`t=${host.now()} partition ${JSON.stringify(groups.map((group) => group.map(shortId)))}`);
    }
  }

  /**
   * Makes `id` byzantine on the wire from now on (all its incarnations): each message it sends
   * goes through `interceptor`, which returns the payload to send instead — the same, a rewritten
   * one (an equivocating leader) — or undefined to drop it (a node that answers heartbeats but
   * never serves). `intercept(id, undefined)` restores it.
   */
  intercept(id: PeerId, interceptor: Interceptor | undefined): void {
    const index = this.endpoint(id).index;
    if (interceptor === undefined) this.interceptors.delete(index);
    else this.interceptors.set(index, interceptor);
  }

  /** Ends the partition: every link carries messages again. */
  heal(): void {
    this.groups = undefined;
    this.host.trace.record(TraceKind.heal, this.host.now(), []);
    if (this.host.trace.logging) this.host.trace.log(`t=${this.host.now()} heal`);
  }

  /** Whether a message from `a` can reach `b` under the current partition (ignoring crashes). */
  reachable(a: PeerId, b: PeerId): boolean {
    return this.sameSide(this.endpoint(a), this.endpoint(b));
  }

  /** A snapshot of the message counters. */
  stats(): NetworkStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /** Adds a node that is down until `attach` (used by the Simulator). */
  register(id: PeerId): void {
    if (typeof id !== "string" || id.length === 0) throw new IosError<SimErrorCode>("SIM_BAD_CONFIG", "a node id must be a non-empty string");
    if (this.endpoints.has(id)) throw new IosError<SimErrorCode>("SIM_DUPLICATE_NODE", `node ${id} is already registered`);
    const endpoint: Endpoint = { id, index: this.byIndex.length, up: false, incarnation: -1, transport: undefined, held: undefined };
    this.endpoints.set(id, endpoint);
    this.byIndex.push(endpoint);
    if (this.groups !== undefined) {
      const grown = new Int32Array(this.byIndex.length);
      grown.set(this.groups);
      grown[endpoint.index] = -1 - endpoint.index;
      this.groups = grown;
    }
  }

  /**
   * Brings a node up as a new incarnation with a fresh transport, whose handlers' exceptions go
   * to `failures` (used by the Simulator).
   */
  attach(id: PeerId, failures: HandlerFailures): SimTransport {
    const endpoint = this.endpoint(id);
    if (endpoint.up) throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is already up`);
    endpoint.incarnation++;
    endpoint.up = true;
    endpoint.transport = new SimTransport(this, id, endpoint.incarnation, failures);
    return endpoint.transport;
  }

  /** Takes a node down: its transport closes, messages in flight to it will be dropped (used by the Simulator). */
  detach(id: PeerId): void {
    const endpoint = this.endpoint(id);
    if (!endpoint.up) throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is already down`);
    endpoint.up = false;
    endpoint.held = undefined;
    endpoint.transport?.shut();
    endpoint.transport = undefined;
  }

  /**
   * Freezes a running node's side of the wire (SIGSTOP; used by the Simulator): messages reaching
   * it and messages it sends wait, in order, until `resume`; its links stay open, so nothing is
   * dropped for the pause itself.
   */
  pause(id: PeerId): void {
    const endpoint = this.endpoint(id);
    if (!endpoint.up || endpoint.held !== undefined) throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is not running`);
    endpoint.held = [];
  }

  /** Thaws a paused node: what it sent goes out and what reached it is delivered, in order, now. */
  resume(id: PeerId): void {
    const endpoint = this.endpoint(id);
    const held = endpoint.held;
    if (held === undefined) throw new IosError<SimErrorCode>("SIM_NODE_STATE", `node ${id} is not paused`);
    endpoint.held = undefined;
    const now = this.host.now();
    for (const step of held) this.host.schedule(now, () => (step(), true));
  }

  isPaused(id: PeerId): boolean {
    return this.endpoint(id).held !== undefined;
  }

  /** Index of a node in trace records. */
  indexOf(id: PeerId): number {
    return this.endpoint(id).index;
  }

  /** @internal The body of `Channel.send` (the channel checked type and payload). */
  transmit(sender: SimTransport, channel: Channel, to: PeerId, type: MessageType, payload: Uint8Array): void {
    if (typeof to !== "string") throw new IosError<SimErrorCode>("SIM_BAD_MESSAGE", "destination must be a peer id string");
    this.counters.sent++;
    const { shard, epoch } = channel.instance;
    const from = this.endpoint(sender.self);
    const target = this.endpoints.get(to);
    const refusal = this.refusal(sender, channel, from, target);
    if (refusal !== undefined || target === undefined) {
      this.drop(from, target, type, shard, epoch, refusal ?? "unknown-peer");
      return;
    }
    if (from.held !== undefined) {
      // A paused sender's message leaves at its resume (the channel has copied nothing yet).
      const copy = payload.slice();
      from.held.push(() => this.transmit(sender, channel, to, type, copy));
      return;
    }
    const interceptor = this.interceptors.get(from.index);
    const sent = interceptor === undefined ? payload : interceptor(to, type, payload);
    if (sent === undefined) {
      this.drop(from, target, type, shard, epoch, "intercepted");
      return;
    }
    const link = this.links.get(this.linkKey(from, target)) ?? this.defaultLink;
    if (link.loss > 0 && this.rng.nextFloat() < link.loss) {
      this.drop(from, target, type, shard, epoch, "loss");
      return;
    }
    const copies = link.duplication > 0 && this.rng.nextFloat() < link.duplication ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    const incarnation = target.incarnation;
    for (let copy = 0; copy < copies; copy++) {
      const bytes = sent.slice();
      const arrival = this.host.now() + sampleDelay(link, this.rng);
      this.host.schedule(arrival, () => this.arrive(from, target, incarnation, type, shard, epoch, bytes));
    }
  }

  /** Why a message cannot leave `from` for `target` at all, or undefined when it may. */
  private refusal(sender: SimTransport, channel: Channel, from: Endpoint, target: Endpoint | undefined): DropReason | undefined {
    if (!sender.isOpen || !channel.isOpen) return "sender-closed";
    if (target === from) return "self";
    if (target === undefined) return "unknown-peer";
    if (!target.up) return "peer-down";
    if (!this.sameSide(from, target)) return "partitioned";
    return undefined;
  }


  private arrive(from: Endpoint, target: Endpoint, incarnation: number, type: MessageType, shard: number, epoch: number, payload: Uint8Array): boolean {
    if (!target.up || target.incarnation !== incarnation) return this.drop(from, target, type, shard, epoch, "peer-down");
    if (!this.sameSide(from, target)) return this.drop(from, target, type, shard, epoch, "partitioned");
    if (target.held !== undefined) {
      target.held.push(() => this.arrive(from, target, incarnation, type, shard, epoch, payload));
      return true;
    }
    const transport = target.transport!;
    if (!transport.isOpen) return this.drop(from, target, type, shard, epoch, "peer-down");
    const handler = transport.route(type, shard, epoch);
    if (typeof handler === "string") return this.drop(from, target, type, shard, epoch, handler);
    this.counters.delivered++;
    const host = this.host;
    host.trace.record(TraceKind.deliver, host.now(), [from.index, target.index, type, shard, epoch], payload);
    if (host.trace.logging) {
      host.trace.log(`t=${host.now()} deliver ${shortId(from.id)}→${shortId(target.id)} type=${type} instance=${shard}/${epoch} bytes=${payload.length}`);
    }
    const failure = deliverToHandler(transport.failures, handler, from.id, type, payload);
    if (failure !== undefined) {
      host.trace.record(TraceKind.handlerError, host.now(), [from.index, target.index, type], new TextEncoder().encode(failure));
      if (host.trace.logging) host.trace.log(`t=${host.now()} handler-error ${shortId(from.id)}→${shortId(target.id)} type=${type} code=${failure}`);
    }
    return true;
  }

  private drop(from: Endpoint, target: Endpoint | undefined, type: MessageType, shard: number, epoch: number, reason: DropReason): true {
    this.counters.dropped[reason]++;
    const host = this.host;
    host.trace.record(TraceKind.drop, host.now(), [
      from.index,
      target?.index ?? NO_INDEX,
      type,
      DROP_REASONS.indexOf(reason),
      shard,
      epoch,
    ]);
    if (host.trace.logging) {
      const to = target === undefined ? "?" : shortId(target.id);
      host.trace.log(`t=${host.now()} drop ${shortId(from.id)}→${to} type=${type} instance=${shard}/${epoch} reason=${reason}`);
    }
    return true;
  }

  private sameSide(a: Endpoint, b: Endpoint): boolean {
    return this.groups === undefined || this.groups[a.index] === this.groups[b.index];
  }

  private linkKey(from: Endpoint, to: Endpoint): string {
    return `${from.index}>${to.index}`;
  }

  private endpoint(id: PeerId): Endpoint {
    const endpoint = this.endpoints.get(id);
    if (endpoint === undefined) throw new IosError<SimErrorCode>("SIM_UNKNOWN_NODE", `no node ${String(id)} in the simulation`);
    return endpoint;
  }

  /** @internal Peers `self` can reach now, in registration order. */
  reachablePeers(self: PeerId): PeerId[] {
    const me = this.endpoint(self);
    return this.byIndex
      .filter((other) => other !== me && other.up && this.sameSide(me, other))
      .map((other) => other.id);
  }
}

/**
 * One node incarnation's view of the simulated network. Payloads are copied on send, so a
 * sender reusing its buffer cannot change what arrives, and each receiver gets its own bytes.
 */
export class SimTransport implements Transport {
  private readonly channels: ChannelTable;
  private up = true;

  constructor(
    private readonly network: SimNetwork,
    readonly self: PeerId,
    /** 0 for the first start, +1 on every restart. */
    readonly incarnation: number,
    /** @internal Where the network records what this incarnation's handlers throw. */
    readonly failures: HandlerFailures,
  ) {
    this.channels = new ChannelTable({
      self,
      send: (channel, to, type, payload) => network.transmit(this, channel, to, type, payload),
      broadcast: (channel, group, type, payload) => {
        if (!Array.isArray(group)) throw new IosError<SimErrorCode>("SIM_BAD_MESSAGE", "broadcast group must be an array of peer ids");
        for (const peer of group) if (peer !== self) network.transmit(this, channel, peer, type, payload);
      },
    });
  }

  get isOpen(): boolean {
    return this.up;
  }

  open(instance: InstanceId): Channel {
    return this.channels.open(instance);
  }

  connectedPeers(): PeerId[] {
    return this.up ? this.network.reachablePeers(this.self) : [];
  }

  /** Stops sending and receiving; the node stays up (its other objects may still run). */
  close(): Promise<void> {
    this.shut();
    return Promise.resolve();
  }

  /** @internal The handler of an arriving message, or why there is none. */
  route(type: MessageType, shard: number, epoch: number): ReturnType<ChannelTable["route"]> {
    return this.channels.route(type, shard, epoch);
  }

  /** @internal Closes without a promise (crash). */
  shut(): void {
    this.up = false;
    this.channels.closeAll();
  }
}
