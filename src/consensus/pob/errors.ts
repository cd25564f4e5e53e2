/**
 * Proof-of-Believability error codes (white paper §7.2). Policy and input checks throw an
 * `IosError<PobErrorCode>`; per-transaction and per-block verdicts of phase 2 carry the same
 * codes as data.
 */

export type PobErrorCode =
  // sharding policy
  | "POB_BAD_POLICY"
  // believability accounts
  | "POB_BAD_ACCOUNT"
  | "POB_UNKNOWN_VALIDATOR"
  | "POB_DUPLICATE_VALIDATOR"
  // league draw and assignment
  | "POB_BAD_SEED"
  | "POB_EMPTY_LEAGUE"
  // sampling and analysis arguments
  | "POB_BAD_PROBABILITY"
  | "POB_BAD_ARGUMENT"
  // optimistic phase
  | "POB_NOT_ASSIGNED"
  | "POB_DOUBLE_SPEND_PENDING"
  | "POB_NOT_CAUGHT_UP"
  | "POB_BAD_SIGNATURE"
  // one-league holds and a stopped driver (refusals of the moment, not of the transaction)
  | "POB_HOLD_FULL"
  | "POB_CLOSED"
  // final proposals and blocks ordered by them
  | "POB_BAD_PROPOSAL"
  | "POB_BAD_MESSAGE"
  | "POB_STATE_DIVERGED"
  | "POB_BLOCK_UNAVAILABLE"
  | "POB_BLOCK_MALFORMED"
  | "POB_BLOCK_WRONG_CONTEXT"
  | "POB_BLOCK_DUPLICATE"
  | "POB_NOT_BELIEVABLE"
  | "POB_PRODUCER_SLASHED"
  | "POB_BAD_SEAL"
  | "POB_BLOCK_BAD_TIMESTAMP"
  // evidence
  | "POB_BAD_EVIDENCE_ENCODING"
  /** Evidence of version 1 (a txid under the tx root: forgeable from an honest block, evidence.ts). */
  | "POB_EVIDENCE_OBSOLETE"
  | "POB_BAD_REPLICA_RECORD"
  | "POB_EVIDENCE_NOT_OPTIMISTIC"
  | "POB_EVIDENCE_WRONG_PRODUCER"
  | "POB_EVIDENCE_BAD_SEAL"
  | "POB_EVIDENCE_BAD_TX"
  | "POB_EVIDENCE_NOT_INCLUDED"
  | "POB_EVIDENCE_TX_VALID";
