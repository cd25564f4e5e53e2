/**
 * The one way this project sends a binary WebSocket message through uWebSockets.js.
 *
 * uWS 20.30 (the newest build this machine's glibc 2.36 runs) has a fast path in
 * `WebSocket::send` for messages of 16 KiB or more, taken when nothing is buffered and the message
 * is not compressed. When the kernel's send buffer takes fewer bytes than the frame header (a
 * reader that fell behind: a load driver, a busy peer), that path keeps the rest of the header as
 * backpressure and drops the payload. The reader then stalls, or reads the next frame's header as
 * payload ("unknown frame type 130"/"138": 0x82 binary, 0x8a pong). Fixed upstream in uWebSockets
 * v20.47 (uNetworking/uWebSockets#1662).
 *
 * Passing the compress hint keeps every message off that path. Every behaviour that uses this
 * helper sets `compression: DISABLED`, so uWS drops the hint and frames the message uncompressed
 * through its ordinary buffered path (one copy into its send buffer).
 */
import type { WebSocket } from "uWebSockets.js";

/** uWS's send status: 0 success, 1 backpressure, 2 dropped (past maxBackpressure). */
export type UwsSendStatus = number;

export function sendBinary<T>(ws: WebSocket<T>, message: Uint8Array): UwsSendStatus {
  return ws.send(message, true, true);
}
