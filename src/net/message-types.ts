/**
 * Registry of message types: the one byte after the version byte of every transport frame
 * (frame.ts). Each protocol owns a contiguous range and numbers its own messages inside it with
 * `messageType(protocol, offset)`, so two subsystems can never collide on a number and a frame's
 * type alone tells which subsystem it belongs to. A range's name is also the `protocol` of a
 * consensus instance (interface.ts `InstanceId`): the frame carries shard and epoch, the type
 * supplies the protocol, and a channel accepts only the types of its own range.
 *
 *   0x00–0x0f  control    transport-internal: the peer handshake (peer-auth.ts); never handed
 *                         to protocol handlers
 *   0x10–0x3f  consensus  Proof-of-Believability: optimistic blocks, BFT leader/prepare/commit
 *                         CoSi rounds, view change, evidence (white paper §7.2). Allocated:
 *                         0x10–0x14 BFT (consensus/bft/codec.ts), 0x20–0x27 PoB
 *                         (consensus/pob/protocol.ts), 0x28 TransEpoch SWAP_REQUEST
 *                         (node/consensus/pob-consensus.ts), 0x30–0x33 CoSi (consensus/cosi/codec.ts)
 *   0x40–0x5f  drp        leader election lotteries, distributed randomness, TransEpoch, identity
 *                         chain (white paper §4.1, §5.2, §5.4). Allocated: 0x40–0x41 leader
 *                         election LOTTERY and START (epoch/election/messages.ts; 0x40–0x47
 *                         kept for it), 0x48 DRP envelopes (epoch/drp/network.ts), 0x50–0x54
 *                         epoch transition BOUNDARY, PROPOSAL, LINK, ARCHIVE_REQUEST, ARCHIVE_LINK
 *                         (epoch/transition/messages.ts)
 *   0x60–0x7f  atomix     lock / unlock-to-commit / unlock-to-abort and their proofs (§6.1)
 *   0x80–0x9f  msb        Micro State Blocks, bootstrap and state sync (§8.1). Allocated: 0x80–0x81
 *                         state sync REQUEST and RESPONSE (node/sync/codec.ts), 0x82–0x83 MSB
 *                         chunk REQUEST and ANSWER (msb/chunks.ts)
 *   0xa0–0xbf  client     transactions and queries relayed between validators for clients
 *   0xc0–0xff  reserved   unassigned: a frame carrying one is refused (FRAME_UNKNOWN_TYPE)
 */
import { check } from "../errors.js";
import type { MessageType } from "./interface.js";

export type MessageTypeErrorCode = "MESSAGE_TYPE_INVALID" | "MESSAGE_TYPE_OUT_OF_RANGE";

export interface MessageTypeRange {
  readonly first: number;
  readonly last: number;
}

export const MESSAGE_TYPE_RANGES = {
  control: { first: 0x00, last: 0x0f },
  consensus: { first: 0x10, last: 0x3f },
  drp: { first: 0x40, last: 0x5f },
  atomix: { first: 0x60, last: 0x7f },
  msb: { first: 0x80, last: 0x9f },
  client: { first: 0xa0, last: 0xbf },
} as const satisfies Record<string, MessageTypeRange>;

export type ProtocolName = keyof typeof MESSAGE_TYPE_RANGES;
/** Protocols whose messages are delivered to handlers registered on a `Channel` of their instance. */
export type ApplicationProtocol = Exclude<ProtocolName, "control">;

/** Control messages of the peer handshake (peer-auth.ts). */
export const CONTROL_MESSAGES = {
  /** nonce (32) ‖ sender's public key (32) */
  HELLO: 0x01,
  /** Ed25519 signature (64) over the handshake transcript */
  AUTH: 0x02,
} as const;

const PROTOCOLS = Object.keys(MESSAGE_TYPE_RANGES) as ProtocolName[];

/** The application protocols in range order. */
export const APPLICATION_PROTOCOLS: readonly ApplicationProtocol[] = PROTOCOLS.filter((p): p is ApplicationProtocol => p !== "control");

/** The `offset`-th message type of `protocol`'s range. */
export function messageType(protocol: ApplicationProtocol, offset: number): MessageType {
  const range = MESSAGE_TYPE_RANGES[protocol];
  check(range !== undefined && protocol !== ("control" as string), "MESSAGE_TYPE_INVALID", `unknown protocol ${String(protocol)}`);
  const size = range.last - range.first + 1;
  check(
    Number.isInteger(offset) && offset >= 0 && offset < size,
    "MESSAGE_TYPE_OUT_OF_RANGE",
    `${protocol} owns ${size} message types; offset must be an integer in [0, ${size - 1}], got ${offset}`,
  );
  return range.first + offset;
}

/** The protocol owning `type`, or undefined for a reserved or invalid number. */
export function protocolOfType(type: number): ProtocolName | undefined {
  if (!Number.isInteger(type)) return undefined;
  return PROTOCOLS.find((p) => type >= MESSAGE_TYPE_RANGES[p].first && type <= MESSAGE_TYPE_RANGES[p].last);
}

/** A defined control message (handshake). */
export function isControlType(type: number): boolean {
  return type === CONTROL_MESSAGES.HELLO || type === CONTROL_MESSAGES.AUTH;
}

/** A type in an application protocol's range: may be registered and sent by protocols. */
export function isApplicationType(type: number): boolean {
  const protocol = protocolOfType(type);
  return protocol !== undefined && protocol !== "control";
}
