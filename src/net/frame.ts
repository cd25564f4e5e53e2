/**
 * Binary framing of peer links. One WebSocket binary message carries exactly one frame:
 *
 *   version (u8) ‖ type (u8) ‖ shard (u32le) ‖ epoch (u32le) ‖ payload (0 … maxFrameBytes − 10 bytes)
 *
 * Version 2 added shard and epoch: with the type's protocol range they name the consensus
 * instance the message belongs to (interface.ts), so a receiver routes it to that instance's
 * channel. Control frames (the handshake, peer-auth.ts) have the same header and carry the zero
 * instance; a control frame naming another instance is malformed (FRAME_BAD_INSTANCE).
 *
 * The WebSocket layer already delimits messages, so no length field is needed; the size limit,
 * header included, is enforced three times: by uWebSockets.js (`maxPayloadLength`) and `ws`
 * (`maxPayload`) before a message is buffered, and again here. Decoding is strict: every
 * malformed frame is an `IosError<FrameErrorCode>` that closes the link it came from. A
 * well-formed frame for an instance the receiver has not opened is not malformed: the
 * transport drops and counts it and the link stays up.
 */
import { readU32, writeU32 } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { IosError, check } from "../errors.js";
import type { MessageType } from "./interface.js";
import { isApplicationType, isControlType } from "./message-types.js";

export type FrameErrorCode =
  | "FRAME_TRUNCATED"
  | "FRAME_BAD_VERSION"
  | "FRAME_TOO_LARGE"
  | "FRAME_UNKNOWN_TYPE"
  | "FRAME_BAD_INSTANCE"
  | "FRAME_NOT_BINARY"
  | "FRAME_BAD_PAYLOAD"
  | "FRAME_BAD_LIMIT";

/** Wire version of the framing; a peer speaking another version is refused. */
export const FRAME_VERSION = 2;
/**
 * The header, read at fixed offsets with the toolkit's readU32/writeU32: byte by byte, so a frame
 * costs no reader and no DataView on the hot path.
 */
const HEADER = layout({ version: 1, type: 1, shard: 4, epoch: 4 });
export const FRAME_HEADER_BYTES = HEADER.bytes;
/**
 * Default largest frame, header included: a block of ~10k transactions at ~200 bytes each
 * (DESIGN §3) plus its certificate fits with room to spare.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Where a frame goes: shard and epoch of its instance (an `InstanceId` is one). */
export interface FrameRoute {
  readonly shard: number;
  readonly epoch: number;
}

/** The route of control frames. */
export const CONTROL_ROUTE: FrameRoute = Object.freeze({ shard: 0, epoch: 0 });

export interface Frame extends FrameRoute {
  readonly type: MessageType;
  /** A view into the decoded bytes (not a copy). */
  readonly payload: Uint8Array;
}

function checkLimit(maxFrameBytes: number): void {
  check(
    Number.isInteger(maxFrameBytes) && maxFrameBytes >= FRAME_HEADER_BYTES,
    "FRAME_BAD_LIMIT",
    `maxFrameBytes must be an integer >= ${FRAME_HEADER_BYTES}, got ${maxFrameBytes}`,
  );
}

function isKnownType(type: number): boolean {
  return isControlType(type) || isApplicationType(type);
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/** Encodes one frame; throws on an unknown type, a bad route or a payload over the limit. */
export function encodeFrame(
  type: MessageType,
  payload: Uint8Array,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
  route: FrameRoute = CONTROL_ROUTE,
): Uint8Array<ArrayBuffer> {
  checkLimit(maxFrameBytes);
  check(isKnownType(type), "FRAME_UNKNOWN_TYPE", `message type ${String(type)} is not assigned (see message-types.ts)`);
  check(isU32(route.shard) && isU32(route.epoch), "FRAME_BAD_INSTANCE", `shard and epoch must be u32, got ${route.shard}/${route.epoch}`);
  check(!isControlType(type) || (route.shard === 0 && route.epoch === 0), "FRAME_BAD_INSTANCE", "control frames carry the zero instance");
  check(payload instanceof Uint8Array, "FRAME_BAD_PAYLOAD", "payload must be a Uint8Array");
  const size = FRAME_HEADER_BYTES + payload.length;
  check(size <= maxFrameBytes, "FRAME_TOO_LARGE", `frame of ${size} bytes exceeds the limit of ${maxFrameBytes}`);
  const frame = new Uint8Array(size);
  frame[HEADER.offset.version] = FRAME_VERSION;
  frame[HEADER.offset.type] = type;
  writeU32(frame, HEADER.offset.shard, route.shard);
  writeU32(frame, HEADER.offset.epoch, route.epoch);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Decodes one frame strictly; the payload is a view into `bytes`. */
export function decodeFrame(bytes: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Frame {
  checkLimit(maxFrameBytes);
  if (bytes.length > maxFrameBytes) {
    throw new IosError<FrameErrorCode>("FRAME_TOO_LARGE", `frame of ${bytes.length} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  // The version first: a peer speaking version 1 (2-byte header) is told so, not "truncated".
  if (bytes.length >= 1 && bytes[HEADER.offset.version] !== FRAME_VERSION) {
    throw new IosError<FrameErrorCode>("FRAME_BAD_VERSION", `frame version ${bytes[HEADER.offset.version]!}, expected ${FRAME_VERSION}`);
  }
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw new IosError<FrameErrorCode>("FRAME_TRUNCATED", `frame of ${bytes.length} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  }
  const type = bytes[HEADER.offset.type]!;
  if (!isKnownType(type)) {
    throw new IosError<FrameErrorCode>("FRAME_UNKNOWN_TYPE", `message type 0x${type.toString(16).padStart(2, "0")} is not assigned`);
  }
  const shard = readU32(bytes, HEADER.offset.shard);
  const epoch = readU32(bytes, HEADER.offset.epoch);
  if (isControlType(type) && (shard !== 0 || epoch !== 0)) {
    throw new IosError<FrameErrorCode>("FRAME_BAD_INSTANCE", `control message 0x${type.toString(16).padStart(2, "0")} names instance ${shard}/${epoch}`);
  }
  return { type, shard, epoch, payload: bytes.subarray(FRAME_HEADER_BYTES) };
}
