/**
 * Devnet launcher error codes: an `IosError<DevnetErrorCode>` names what went wrong (bad options,
 * a validator that exited or never became ready, a shard that did not finalize, a control command
 * that names no validator or reaches no launcher) so the CLI can print it and tests can branch on it.
 */

export type DevnetErrorCode =
  | "DEVNET_BAD_OPTION"
  | "DEVNET_DIR_NOT_EMPTY"
  | "DEVNET_BAD_MANIFEST"
  | "DEVNET_NO_PORT"
  | "DEVNET_NODE_EXITED"
  | "DEVNET_NOT_READY"
  | "DEVNET_NOT_FINAL"
  /** A control command names no validator of the devnet (`ios devnet stop N` with N out of range). */
  | "DEVNET_NO_VALIDATOR"
  /** A control command that does not apply to the validator's state (pause a stopped validator, resume a running one). */
  | "DEVNET_BAD_STATE"
  /** No launcher answers for the devnet directory (never started, stopped, or killed). */
  | "DEVNET_LAUNCHER_GONE"
  /** A control request or reply that is not the control protocol (src/devnet/control.ts), or a wrong token. */
  | "DEVNET_BAD_CONTROL";
