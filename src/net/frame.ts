/**
 * Binary framing of peer links. One WebSocket binary message carries exactly one frame:
 *
 *   version (u8) ‖ type (u8) ‖ payload (0 … maxFrameBytes − 2 bytes)
 *
 * The WebSocket layer already delimits messages, so no length field is needed; the size limit is
 * enforced three times: by uWebSockets.js (`maxPayloadLength`) and `ws` (`maxPayload`) before a
 * message is buffered, and again here. Decoding is strict: every malformed frame is an
 * `IosError<FrameErrorCode>` that closes the link it came from.
 */
import { IosError, check } from "../errors.js";
import type { MessageType } from "./interface.js";
import { isApplicationType, isControlType } from "./message-types.js";

export type FrameErrorCode =
  | "FRAME_TRUNCATED"
  | "FRAME_BAD_VERSION"
  | "FRAME_TOO_LARGE"
  | "FRAME_UNKNOWN_TYPE"
  | "FRAME_NOT_BINARY"
  | "FRAME_BAD_PAYLOAD"
  | "FRAME_BAD_LIMIT";

/** Wire version of the framing; a peer speaking another version is refused. */
export const FRAME_VERSION = 1;
/** version byte + type byte */
export const FRAME_HEADER_BYTES = 2;
/**
 * Default largest frame, header included: a block of ~10k transactions at ~200 bytes each
 * (DESIGN §3) plus its certificate fits with room to spare.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

export interface Frame {
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

/** Encodes one frame; throws on an unknown type or a payload over the limit. */
export function encodeFrame(
  type: MessageType,
  payload: Uint8Array,
  maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array<ArrayBuffer> {
  checkLimit(maxFrameBytes);
  check(isKnownType(type), "FRAME_UNKNOWN_TYPE", `message type ${String(type)} is not assigned (see message-types.ts)`);
  check(payload instanceof Uint8Array, "FRAME_BAD_PAYLOAD", "payload must be a Uint8Array");
  const size = FRAME_HEADER_BYTES + payload.length;
  check(size <= maxFrameBytes, "FRAME_TOO_LARGE", `frame of ${size} bytes exceeds the limit of ${maxFrameBytes}`);
  const frame = new Uint8Array(size);
  frame[0] = FRAME_VERSION;
  frame[1] = type;
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Decodes one frame strictly; the payload is a view into `bytes`. */
export function decodeFrame(bytes: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Frame {
  checkLimit(maxFrameBytes);
  if (bytes.length > maxFrameBytes) {
    throw new IosError<FrameErrorCode>("FRAME_TOO_LARGE", `frame of ${bytes.length} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw new IosError<FrameErrorCode>("FRAME_TRUNCATED", `frame of ${bytes.length} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  }
  const version = bytes[0]!;
  if (version !== FRAME_VERSION) {
    throw new IosError<FrameErrorCode>("FRAME_BAD_VERSION", `frame version ${version}, expected ${FRAME_VERSION}`);
  }
  const type = bytes[1]!;
  if (!isKnownType(type)) {
    throw new IosError<FrameErrorCode>("FRAME_UNKNOWN_TYPE", `message type 0x${type.toString(16).padStart(2, "0")} is not assigned`);
  }
  return { type, payload: bytes.subarray(FRAME_HEADER_BYTES) };
}
