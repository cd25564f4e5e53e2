/**
 * What happens when a message handler throws, on both sides of `Transport.on`.
 *
 * Protocol side, `guardedHandler`: traffic arriving after the protocol closed is ignored, and a
 * coded rejection of a peer's message (an `IosError`: malformed, forged, out of place) is counted
 * in the protocol's own stats before it goes on to the transport.
 *
 * Transport side, `deliverToHandler` (the real and the simulated transport): whatever a handler
 * throws, or the promise it returns rejects with, is logged and counted by HandlerFailures under
 * the message type's protocol and the error's code, and the transport goes on delivering. A
 * hostile peer can never throw through the transport, and no failure passes unseen.
 */
import { IosError } from "../errors.js";
import type { HandlerFailures } from "../log/handler-failures.js";
import type { MessageHandler, MessageType, PeerId } from "./interface.js";
import { protocolOfType } from "./message-types.js";

export function guardedHandler(
  isClosed: () => boolean,
  onRejected: () => void,
  handler: (from: PeerId, payload: Uint8Array) => void,
): MessageHandler {
  return (from, _type, payload) => {
    if (isClosed()) return;
    try {
      handler(from, payload);
    } catch (error) {
      if (error instanceof IosError) onRejected();
      throw error;
    }
  };
}

/**
 * Calls `handler`; a throw or a rejected promise is recorded under the protocol owning `type`
 * ("unassigned" outside the ranges of message-types.ts, which only the simulator lets through).
 * Returns the code of a synchronous failure, undefined when the call returned.
 */
export function deliverToHandler(failures: HandlerFailures, handler: MessageHandler, from: PeerId, type: MessageType, payload: Uint8Array): string | undefined {
  try {
    const result: unknown = handler(from, type, payload);
    if (result instanceof Promise) result.catch((error: unknown) => recordFailure(failures, from, type, error));
    return undefined;
  } catch (error) {
    return recordFailure(failures, from, type, error);
  }
}

/** Built only on failure: delivery is per message, and the common path allocates nothing here. */
function recordFailure(failures: HandlerFailures, from: PeerId, type: MessageType, error: unknown): string {
  return failures.record(protocolOfType(type) ?? "unassigned", error, { peer: from, type });
}
