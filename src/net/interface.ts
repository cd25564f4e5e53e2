/**
 * The one transport every protocol uses. Peers are validators, named by the hex of their Ed25519
 * public key. Two implementations: the real one (uWebSockets.js server inbound, `ws` client
 * outbound, authenticated links) and the simulated one (virtual time, seeded faults).
 *
 * Protocols never speak on the transport itself: they speak through a `Channel`, opened for one
 * consensus instance (protocol range, shard, epoch). Every message carries its instance, and the
 * receiver hands it to the handler the channel of that instance registered, so the outgoing and
 * the incoming committee of one shard (epochs e and e + 1) run side by side in one process
 * without seeing each other's messages. A message for an instance with no open channel is
 * dropped and counted, never thrown.
 *
 * Ownership: whoever opens a channel closes it. An owner that runs several sub-protocols of one
 * range in one instance (PoB over BFT over CoSi, all "consensus") opens one channel and hands it
 * down; their message types differ, so their handlers sit side by side on it, and the
 * sub-protocols' own `close` leaves the channel to its owner.
 *
 * Delivery is best effort and unordered across peers, like the network: a protocol that needs
 * reliability gets it from its own retries and timeouts. Payloads are opaque bytes; the protocol
 * owns its message codec, the transport owns framing (version, type, instance, size limit).
 */
import type { ApplicationProtocol } from "./message-types.js";

/** Hex (lowercase) of a validator's 32-byte Ed25519 public key. */
export type PeerId = string;

/** Application message type: one byte on the wire, assigned per protocol in `message-types.ts`. */
export type MessageType = number;

export type MessageHandler = (from: PeerId, type: MessageType, payload: Uint8Array) => void;

/**
 * One run of one protocol: its message-type range, the shard and the epoch (each u32). The
 * protocol is implied on the wire by the message type, so frames carry only shard and epoch.
 */
export interface InstanceId {
  readonly protocol: ApplicationProtocol;
  readonly shard: number;
  readonly epoch: number;
}

/** A protocol instance's view of the transport (see the header). */
export interface Channel {
  readonly self: PeerId;
  readonly instance: InstanceId;
  /** False once closed (by its owner or with the transport). */
  readonly isOpen: boolean;
  /**
   * Sends to one peer; silently dropped if the peer is unknown or unreachable, or the channel
   * closed. `type` must lie in the instance's range (CHANNEL_BAD_TYPE otherwise).
   */
  send(to: PeerId, type: MessageType, payload: Uint8Array): void;
  /** Sends to every peer of `group` except self. */
  broadcast(group: readonly PeerId[], type: MessageType, payload: Uint8Array): void;
  /** Registers the handler of one message type of the instance's range (one handler per type). */
  on(type: MessageType, handler: MessageHandler): void;
  /** Unregisters every handler of the channel and frees its instance for reopening (idempotent). */
  close(): void;
}

export interface Transport {
  readonly self: PeerId;
  /** Opens the channel of `instance`; CHANNEL_IN_USE while another channel holds it open. */
  open(instance: InstanceId): Channel;
  /** Peers with an authenticated link right now. */
  connectedPeers(): PeerId[];
  /** Closes every channel and link. */
  close(): Promise<void>;
}
