/**
 * Error codes of the Distributed Randomness Protocol (white paper §5): its cryptography (dleq.ts,
 * pvss.ts), its session (session.ts) and the transcript verifier (transcript.ts), which names the
 * first check of Algorithm 3 that failed. Every DRP error is an `IosError<DrpErrorCode>`.
 */
export type DrpErrorCode =
  /** An encoding is cut short, has trailing bytes, a non-canonical point, a scalar ≥ the group order or counts out of range. */
  | "DRP_MALFORMED"
  /** Fewer distinct decrypted shares than the threshold were given to recovery, or a group has fewer verified deals than its threshold. */
  | "DRP_TOO_FEW_SHARES"
  /** A caller's argument is out of range: a threshold, a share index, a key, a zero scalar from the Rng. */
  | "DRP_BAD_ARGUMENT"
  /** The session configuration breaks Algorithm 3 step 1: f ≠ ⌊(n − 1)/3⌋, a bad key or proof of possession, groups not the balanced seeded partition. */
  | "DRP_BAD_CONFIG"
  /** A recorded message's Ed25519 signature does not verify under its sender's key. */
  | "DRP_BAD_SIGNATURE"
  /** A client message carries another session id, or the announce another configuration. */
  | "DRP_BAD_SESSION_ID"
  /** A server response carries a hash other than that of the client message it answers. */
  | "DRP_BAD_RESPONSE_HASH"
  /** The choice T' is not t_l verified dealers per group, or forwards deals or commitments other than the recorded ones. */
  | "DRP_BAD_CHOICE"
  /** Fewer than 2f + 1 servers committed to or signed the choice, or the signers are not those whose responses are recorded. */
  | "DRP_TOO_FEW_SIGNERS"
  /** The collective Schnorr signature on T' does not verify. */
  | "DRP_BAD_COLLECTIVE_SIGNATURE"
  /** An encrypted share of a chosen deal fails its proof against the dealer's commitments. */
  | "DRP_BAD_SHARE"
  /** The recorded output Z is not the sum of the recovered secrets. */
  | "DRP_WRONG_OUTPUT"
  /** A session method was called out of order (e.g. the result before recovery). */
  | "DRP_WRONG_PHASE"
  /** A run over the network was stopped before it finished (network.ts). */
  | "DRP_CLOSED";
