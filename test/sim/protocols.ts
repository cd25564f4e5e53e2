/**
 * Small protocols written only against Channel, Clock and Rng, as real protocols are: the
 * simulator tests drive them. Nothing here knows it runs in a simulator.
 */
import type { Channel, InstanceId, MessageType, PeerId, Transport } from "../../src/net/interface.js";
import { messageType } from "../../src/net/message-types.js";
import type { Clock, Rng } from "../../src/runtime/interface.js";

export const GOSSIP: MessageType = messageType("consensus", 1);
export const PING: MessageType = messageType("consensus", 2);
export const PONG: MessageType = messageType("consensus", 3);
export const DATA: MessageType = messageType("consensus", 4);

/** The instance the test protocols run in. */
export const TEST_INSTANCE: InstanceId = { protocol: "consensus", shard: 0, epoch: 0 };

/** Opens the test instance's channel on a node's transport. */
export function testChannel(transport: Transport): Channel {
  return transport.open(TEST_INSTANCE);
}

/** A readable peer id for tests: 64 hex characters like a real Ed25519 public key. */
export function peerId(n: number): PeerId {
  return n.toString(16).padStart(2, "0").repeat(32);
}

/**
 * Push gossip of rumours (small integers): every `periodMs` plus up to `jitterMs` of random
 * jitter, send everything known to one peer chosen at random.
 */
export class Gossip {
  readonly known = new Set<number>();
  ticks = 0;

  constructor(
    private readonly channel: Channel,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly peers: readonly PeerId[],
    private readonly periodMs: number,
    private readonly jitterMs: number,
  ) {
    channel.on(GOSSIP, (_from, _type, payload) => {
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      for (let i = 0; i + 4 <= payload.length; i += 4) this.known.add(view.getUint32(i, true));
    });
    this.schedule();
  }

  learn(rumour: number): void {
    this.known.add(rumour);
  }

  private schedule(): void {
    this.clock.setTimer(this.periodMs + this.jitterMs * this.rng.nextFloat(), () => {
      this.ticks++;
      const others = this.peers.filter((peer) => peer !== this.channel.self);
      const target = others[this.rng.nextU32() % others.length]!;
      const rumours = [...this.known].sort((a, b) => a - b);
      const payload = new Uint8Array(4 * rumours.length);
      const view = new DataView(payload.buffer);
      rumours.forEach((rumour, i) => view.setUint32(4 * i, rumour, true));
      this.channel.send(target, GOSSIP, payload);
      this.schedule();
    });
  }
}

/**
 * Ping with retransmission: sends PING(n) to `peer` until PONG(n) comes back, retrying every
 * `timeoutMs`, then moves to n + 1, up to `count` pings. The responder side answers any PING.
 */
export class Pinger {
  next = 0;
  retransmissions = 0;
  private timer: ReturnType<Clock["setTimer"]> | undefined;

  constructor(
    private readonly channel: Channel,
    private readonly clock: Clock,
    private readonly peer: PeerId,
    private readonly count: number,
    private readonly timeoutMs: number,
  ) {
    channel.on(PONG, (from, _type, payload) => {
      if (from !== this.peer || payload.length !== 4) return;
      if (new DataView(payload.buffer, payload.byteOffset).getUint32(0, true) !== this.next) return;
      if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
      this.next++;
      this.ping();
    });
    this.ping();
  }

  get done(): boolean {
    return this.next >= this.count;
  }

  private ping(): void {
    if (this.done) return;
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, this.next, true);
    this.channel.send(this.peer, PING, payload);
    this.timer = this.clock.setTimer(this.timeoutMs, () => {
      this.retransmissions++;
      this.ping();
    });
  }
}

export class Ponger {
  answered = 0;

  constructor(channel: Channel) {
    channel.on(PING, (from, _type, payload) => {
      this.answered++;
      channel.send(from, PONG, payload);
    });
  }
}

/** Records every DATA message as (from, first payload word) in arrival order. */
export class Recorder {
  readonly received: { from: PeerId; value: number; at: number }[] = [];

  constructor(channel: Channel, clock: Clock) {
    channel.on(DATA, (from, _type, payload) => {
      const value = payload.length >= 4 ? new DataView(payload.buffer, payload.byteOffset).getUint32(0, true) : -1;
      this.received.push({ from, value, at: clock.now() });
    });
  }
}

export function word(value: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, value, true);
  return payload;
}

/** A node that records DATA on the test instance and exposes its transport and channel. */
export function recordingNode(transport: Transport, clock: Clock) {
  const channel = testChannel(transport);
  return { transport, channel, clock, recorder: new Recorder(channel, clock) };
}
