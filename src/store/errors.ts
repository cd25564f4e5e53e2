/**
 * Store error codes. Every failure of the LMDB store, and every inconsistency found when a shard's
 * durable state is reopened, is an `IosError<StoreErrorCode>` whose `code` callers branch on.
 */

export type StoreErrorCode =
  /** The path cannot be opened as an LMDB environment (permissions, not a directory, ...). */
  | "STORE_OPEN_FAILED"
  /** A file or record does not have the layout this schema writes. */
  | "STORE_CORRUPT"
  /** An LMDB environment written by something other than IOSChain. */
  | "STORE_FOREIGN"
  /** An IOSChain store of another schema version. */
  | "STORE_SCHEMA_MISMATCH"
  /** An IOSChain store of another shard or another genesis. */
  | "STORE_IDENTITY_MISMATCH"
  /** A block height that does not follow the tip, or a missing block below the tip. */
  | "STORE_HEIGHT_GAP"
  | "STORE_NOT_INITIALIZED"
  | "STORE_ALREADY_INITIALIZED"
  /** An argument of the wrong size or range. */
  | "STORE_BAD_INPUT"
  | "STORE_CLOSED";
