import type { Seed } from "../runtime/seeded-rng.js";

/** Error codes of the deterministic simulator; every simulator error is an `IosError<SimErrorCode>`. */
export type SimErrorCode =
  /** A link, latency or run option is out of range. */
  | "SIM_BAD_CONFIG"
  /** A node id that was never added. */
  | "SIM_UNKNOWN_NODE"
  /** A node id added twice. */
  | "SIM_DUPLICATE_NODE"
  /** crash of a crashed node, restart of a running one. */
  | "SIM_NODE_STATE"
  /** A channel send with a bad destination or group (bad types, payloads and handlers are the channel's CHANNEL_* errors). */
  | "SIM_BAD_MESSAGE"
  /** A protocol callback (handler, timer, factory, scripted action) threw; `cause` holds the error. */
  | "SIM_EVENT_FAILED"
  /** An invariant registered with `addInvariant` returned false or threw. */
  | "SIM_INVARIANT_VIOLATED"
  /** `run`/`runUntil` called while the simulator is already running (from inside an event). */
  | "SIM_REENTRANT_RUN"
  /** A cluster submission got no answer within the virtual time allowed. */
  | "SIM_TIMEOUT";

/** Detail of SIM_EVENT_FAILED and SIM_INVARIANT_VIOLATED: what a replay needs to reach the failure. */
export interface SimFailureDetail extends Record<string, unknown> {
  readonly seed: Seed;
  /** The failing event's number (SIM_EVENT_FAILED) or the last event before the violation. */
  readonly event: number;
  /** Virtual time, ms. */
  readonly time: number;
  /** The violated invariant's name (SIM_INVARIANT_VIOLATED). */
  readonly invariant?: string;
}
