/** Error codes of the Distributed Randomness Protocol's cryptography; every DRP error is an `IosError<DrpErrorCode>`. */
export type DrpErrorCode =
  /** An encoding is cut short, has trailing bytes, a non-canonical point, a scalar ≥ the group order or counts out of range. */
  | "DRP_MALFORMED"
  /** Fewer distinct decrypted shares than the threshold were given to recovery. */
  | "DRP_TOO_FEW_SHARES"
  /** A caller's argument is out of range: a threshold, a share index, a key, a zero scalar from the Rng. */
  | "DRP_BAD_ARGUMENT";
