/**
 * The channel table both transports share (interface.ts): opens and closes channels, and routes
 * an arriving message (type, shard, epoch) to its handler. The instance's protocol follows from
 * the type (the ranges of message-types.ts are disjoint), so routing reads three numbers off the
 * frame and builds no key: shard → epoch → channel by protocol slot → handler by type.
 *
 * Lanes: an epoch's instances run one after the other on a node, yet a late member of one still
 * asks its peers for that instance's records while they decide in the next. The opening instance
 * of epoch e (TransEpoch batch 0, run by epoch e − 1's committee) therefore has its own consensus
 * channel, `openingLane(e)`: the epoch field with its top bit set (epochs stay below 2^31), so its
 * FETCH and FINALIZED messages never reach the epoch's own instance and the other way round.
 * The instances after b = 1..B − 1 swaps of the move have lanes too, `batchLane(shard, e, b)`:
 * the opening lane's epoch field with b in the shard field's upper half (b · 2^16 + shard; shards
 * stay below MAX_SHARDS ≤ 2^16, batches below 2^16 as a swap request's u16 says), so no frame
 * change is needed and batch 0's lane is the opening's.
 */
import { check } from "../errors.js";
import type { Channel, InstanceId, MessageHandler, MessageType, PeerId } from "./interface.js";
import { APPLICATION_PROTOCOLS, MESSAGE_TYPE_RANGES } from "./message-types.js";

export type ChannelErrorCode =
  /** An instance whose protocol is not an application range, or whose shard or epoch is not a u32. */
  | "CHANNEL_BAD_INSTANCE"
  /** The instance already has an open channel on this transport. */
  | "CHANNEL_IN_USE"
  /** A message type outside the instance's range. */
  | "CHANNEL_BAD_TYPE"
  /** A payload that is not a Uint8Array. */
  | "CHANNEL_BAD_PAYLOAD"
  /** A second handler for one type of one instance, or a handler that is not a function. */
  | "CHANNEL_BAD_HANDLER"
  /** A handler registered on a closed channel, or a channel opened on a closed transport. */
  | "CHANNEL_CLOSED";

/** Why an arriving message reached no handler. */
export type RouteMiss = "no-instance" | "no-handler";

const U32_MAX = 0xffff_ffff;

/** Protocol slot (index into APPLICATION_PROTOCOLS) of every message type; NO_SLOT outside the application ranges. */
const NO_SLOT = 0xff;
const SLOT_OF_TYPE = new Uint8Array(256).fill(NO_SLOT);
APPLICATION_PROTOCOLS.forEach((protocol, slot) => {
  const { first, last } = MESSAGE_TYPE_RANGES[protocol];
  SLOT_OF_TYPE.fill(slot, first, last + 1);
});

function isU32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

/** Throws CHANNEL_BAD_INSTANCE unless `instance` names an application protocol, a u32 shard and a u32 epoch. */
export function checkInstance(instance: InstanceId): void {
  check(instance !== null && typeof instance === "object", "CHANNEL_BAD_INSTANCE", "an instance is { protocol, shard, epoch }");
  check(
    (APPLICATION_PROTOCOLS as readonly string[]).includes(instance.protocol),
    "CHANNEL_BAD_INSTANCE",
    `protocol must be one of ${APPLICATION_PROTOCOLS.join(", ")}, got ${String(instance.protocol)}`,
  );
  check(isU32(instance.shard), "CHANNEL_BAD_INSTANCE", `shard must be a u32, got ${String(instance.shard)}`);
  check(isU32(instance.epoch), "CHANNEL_BAD_INSTANCE", `epoch must be a u32, got ${String(instance.epoch)}`);
}

/** The top bit of a frame's epoch field: set on an epoch's opening lane (module doc). */
export const OPENING_LANE_BIT = 0x8000_0000;

/** The epoch field of epoch `epoch`'s opening instance's channel (module doc, "Lanes"). */
export function openingLane(epoch: number): number {
  check(Number.isInteger(epoch) && epoch >= 0 && epoch < OPENING_LANE_BIT, "CHANNEL_BAD_INSTANCE", `an opening lane needs an epoch below 2^31, got ${epoch}`);
  return epoch + OPENING_LANE_BIT;
}

/** Batches are numbered in a u16 (swap.ts SWAP_REQUEST), shards stay below MAX_SHARDS (1,024): each fits half of the shard field. */
const LANE_HALF = 0x1_0000;

/**
 * The shard and epoch fields of the channel of `shard`'s move instance into `epoch` after `batch`
 * swaps, 0..B − 1 (module doc, "Lanes"; batch B is the epoch's own instance, on the plain fields).
 */
export function batchLane(shard: number, epoch: number, batch: number): { readonly shard: number; readonly epoch: number } {
  check(Number.isInteger(shard) && shard >= 0 && shard < LANE_HALF, "CHANNEL_BAD_INSTANCE", `a batch lane needs a shard below 2^16, got ${shard}`);
  check(Number.isInteger(batch) && batch >= 0 && batch < LANE_HALF, "CHANNEL_BAD_INSTANCE", `a batch lane needs a batch below 2^16, got ${batch}`);
  return { shard: batch * LANE_HALF + shard, epoch: openingLane(epoch) };
}

/** The canonical key of an instance: "protocol/shard/epoch" in decimal, e.g. "consensus/3/7". */
export function instanceKey(instance: InstanceId): string {
  return `${instance.protocol}/${instance.shard}/${instance.epoch}`;
}

/** What a transport does for the channels of its table. */
export interface ChannelCarrier {
  readonly self: PeerId;
  /** Sends one message of `channel` (type and payload already checked); counts a drop if the channel is closed. */
  send(channel: Channel, to: PeerId, type: MessageType, payload: Uint8Array): void;
  broadcast(channel: Channel, group: readonly PeerId[], type: MessageType, payload: Uint8Array): void;
}

class OpenChannel implements Channel {
  readonly self: PeerId;
  readonly instance: InstanceId;
  readonly key: string;
  readonly slot: number;
  private readonly first: number;
  private readonly last: number;
  private readonly handlers: (MessageHandler | undefined)[];
  private open = true;

  constructor(
    private readonly table: ChannelTable,
    private readonly carrier: ChannelCarrier,
    instance: InstanceId,
  ) {
    this.self = carrier.self;
    // A frozen copy: the caller's object may change, the routing must not.
    this.instance = Object.freeze({ protocol: instance.protocol, shard: instance.shard, epoch: instance.epoch });
    this.key = instanceKey(this.instance);
    this.slot = APPLICATION_PROTOCOLS.indexOf(instance.protocol);
    ({ first: this.first, last: this.last } = MESSAGE_TYPE_RANGES[instance.protocol]);
    this.handlers = new Array<MessageHandler | undefined>(this.last - this.first + 1).fill(undefined);
  }

  get isOpen(): boolean {
    return this.open;
  }

  send(to: PeerId, type: MessageType, payload: Uint8Array): void {
    this.checkMessage(type, payload);
    this.carrier.send(this, to, type, payload);
  }

  broadcast(group: readonly PeerId[], type: MessageType, payload: Uint8Array): void {
    this.checkMessage(type, payload);
    this.carrier.broadcast(this, group, type, payload);
  }

  on(type: MessageType, handler: MessageHandler): void {
    this.checkType(type);
    check(this.open, "CHANNEL_CLOSED", `channel ${this.key} is closed`);
    check(typeof handler === "function", "CHANNEL_BAD_HANDLER", "handler must be a function");
    check(this.handlers[type - this.first] === undefined, "CHANNEL_BAD_HANDLER", `message type ${type} of ${this.key} already has a handler`);
    this.handlers[type - this.first] = handler;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.handlers.fill(undefined);
    this.table.release(this);
  }

  /** The handler of `type` (a type of this channel's range). */
  handlerOf(type: MessageType): MessageHandler | undefined {
    return this.handlers[type - this.first];
  }

  private checkMessage(type: MessageType, payload: Uint8Array): void {
    this.checkType(type);
    check(payload instanceof Uint8Array, "CHANNEL_BAD_PAYLOAD", "payload must be a Uint8Array");
  }

  private checkType(type: MessageType): void {
    check(
      Number.isInteger(type) && type >= this.first && type <= this.last,
      "CHANNEL_BAD_TYPE",
      `message type ${String(type)} is outside the ${this.instance.protocol} range 0x${this.first.toString(16)}–0x${this.last.toString(16)}`,
    );
  }
}

/** The open channels of one transport. */
export class ChannelTable {
  private readonly byKey = new Map<string, OpenChannel>();
  /** shard → epoch → open channel by protocol slot. */
  private readonly routes = new Map<number, Map<number, (OpenChannel | undefined)[]>>();
  private closed = false;

  constructor(private readonly carrier: ChannelCarrier) {}

  open(instance: InstanceId): Channel {
    check(!this.closed, "CHANNEL_CLOSED", "the transport is closed");
    checkInstance(instance);
    const channel = new OpenChannel(this, this.carrier, instance);
    check(!this.byKey.has(channel.key), "CHANNEL_IN_USE", `instance ${channel.key} already has an open channel on this transport`);
    this.byKey.set(channel.key, channel);
    const { shard, epoch } = channel.instance;
    let epochs = this.routes.get(shard);
    if (epochs === undefined) this.routes.set(shard, (epochs = new Map()));
    let slots = epochs.get(epoch);
    if (slots === undefined) epochs.set(epoch, (slots = new Array<OpenChannel | undefined>(APPLICATION_PROTOCOLS.length).fill(undefined)));
    slots[channel.slot] = channel;
    return channel;
  }

  /** The handler of an arriving message, or why there is none. Allocates nothing. */
  route(type: MessageType, shard: number, epoch: number): MessageHandler | RouteMiss {
    const slot = SLOT_OF_TYPE[type] ?? NO_SLOT;
    if (slot === NO_SLOT) return "no-instance";
    const channel = this.routes.get(shard)?.get(epoch)?.[slot];
    if (channel === undefined) return "no-instance";
    return channel.handlerOf(type) ?? "no-handler";
  }

  /** Keys of the open instances, sorted (for stats and status). */
  openInstances(): string[] {
    return [...this.byKey.keys()].sort();
  }

  /** Closes every channel; further opens fail (the transport closed). */
  closeAll(): void {
    this.closed = true;
    for (const channel of [...this.byKey.values()]) channel.close();
  }

  /** @internal Called by a closing channel. */
  release(channel: OpenChannel): void {
    this.byKey.delete(channel.key);
    const { shard, epoch } = channel.instance;
    const epochs = this.routes.get(shard)!;
    const slots = epochs.get(epoch)!;
    slots[channel.slot] = undefined;
    if (slots.every((c) => c === undefined)) epochs.delete(epoch);
    if (epochs.size === 0) this.routes.delete(shard);
  }
}
