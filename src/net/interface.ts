/**
 * The one transport every protocol uses. Peers are validators, named by the hex of their Ed25519
 * public key. Two implementations: the real one (uWebSockets.js server inbound, `ws` client
 * outbound, authenticated links) and the simulated one (virtual time, seeded faults).
 *
 * Delivery is best effort and unordered across peers, like the network: a protocol that needs
 * reliability gets it from its own retries and timeouts. Payloads are opaque bytes; the protocol
 * owns its message codec, the transport owns framing (version, type, size limit).
 */

/** Hex (lowercase) of a validator's 32-byte Ed25519 public key. */
export type PeerId = string;

/** Application message type: one byte on the wire, assigned per protocol in `message-types.ts`. */
export type MessageType = number;

export type MessageHandler = (from: PeerId, type: MessageType, payload: Uint8Array) => void;

export interface Transport {
  readonly self: PeerId;
  /** Sends to one peer; silently dropped if the peer is unknown or unreachable. */
  send(to: PeerId, type: MessageType, payload: Uint8Array): void;
  /** Sends to every peer of `group` except self. */
  broadcast(group: readonly PeerId[], type: MessageType, payload: Uint8Array): void;
  /** Registers the handler of one message type (one handler per type). */
  on(type: MessageType, handler: MessageHandler): void;
  /** Peers with an authenticated link right now. */
  connectedPeers(): PeerId[];
  close(): Promise<void>;
}
