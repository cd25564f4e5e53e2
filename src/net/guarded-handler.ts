/**
 * A protocol's message handler as the transport should call it: traffic arriving after the
 * protocol closed is ignored, and a coded rejection of a peer's message (an `IosError`: malformed,
 * forged, out of place) is counted instead of thrown, so a hostile peer can never throw through
 * the transport. Any other error is a bug in this program and propagates.
 */
import { IosError } from "../errors.js";
import type { MessageHandler, PeerId } from "./interface.js";

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
      if (!(error instanceof IosError)) throw error;
      onRejected();
    }
  };
}
