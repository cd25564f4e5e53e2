/**
 * Devnet launcher error codes: an `IosError<DevnetErrorCode>` names what went wrong (bad options,
 * a validator that exited or never became ready, a shard that did not finalize) so the CLI can
 * print it and tests can branch on it.
 */

export type DevnetErrorCode =
  | "DEVNET_BAD_OPTION"
  | "DEVNET_DIR_NOT_EMPTY"
  | "DEVNET_BAD_MANIFEST"
  | "DEVNET_NO_PORT"
  | "DEVNET_NODE_EXITED"
  | "DEVNET_NOT_READY"
  | "DEVNET_NOT_FINAL";
