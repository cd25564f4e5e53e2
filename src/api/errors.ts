/**
 * Client API errors: every refused request answers `{ "error": { "code", "message" } }` with the
 * HTTP status of its code (`statusOfCode`). The API's own refusals carry an `ApiErrorCode` (or,
 * for a refused submission, the rejection's code). Ledger and pipeline codes (TX_*, BATCH_*, ...)
 * pass through as 400; MEMPOOL_FULL and POB_HOLD_FULL are 503 with Retry-After, since the same
 * request succeeds later; PIPELINE_CLOSED and POB_CLOSED (the node is stopping) are 503 too.
 */

export const API_ERROR_CODES = [
  "API_NOT_FOUND",
  "API_NOT_ON_PEER_PORT",
  "API_METHOD_NOT_ALLOWED",
  "API_BODY_TOO_LARGE",
  "API_TOO_MANY_STREAMS",
  "API_NOT_HTTP",
  "API_BAD_CONTENT_LENGTH",
  "API_URL_TOO_LONG",
  "API_HEADERS_TOO_LARGE",
  "API_REQUEST_TIMEOUT",
  "API_HTTP_VERSION",
  "API_UNSUPPORTED_MEDIA_TYPE",
  "API_BAD_JSON",
  "API_BAD_REQUEST",
  "API_BAD_PARAMETER",
  "API_UNAVAILABLE",
  "API_INTERNAL",
  "TX_NOT_FOUND",
  "ATOMIX_NOT_FOUND",
  "BLOCK_NOT_FOUND",
  /** An epoch whose link and transcript this validator does not keep. */
  "EPOCH_UNKNOWN",
  "OWNER_OTHER_SHARD",
  "MEMPOOL_FULL",
  /** Proofs (src/node/msb-proof.ts): no epoch of the shard has ended on this node yet, or it runs no PoB with epochs. */
  "MSB_NONE",
  /** The epoch asked for has not ended on this node. */
  "MSB_EPOCH_NOT_ENDED",
  /** The node no longer keeps what the proof needs (an older MSB's body, a height's certificate). */
  "MSB_PRUNED",
  /** The output is not in the latest MSB (spent, never created, created after it, or another shard's). */
  "MSB_UTXO_NOT_FOUND",
  /** The transaction is in no final block of this shard. */
  "MSB_TX_NOT_FINAL",
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  API_NOT_FOUND: 404,
  API_NOT_ON_PEER_PORT: 404,
  TX_NOT_FOUND: 404,
  ATOMIX_NOT_FOUND: 404,
  BLOCK_NOT_FOUND: 404,
  EPOCH_UNKNOWN: 404,
  MSB_NONE: 404,
  MSB_EPOCH_NOT_ENDED: 404,
  MSB_PRUNED: 404,
  MSB_UTXO_NOT_FOUND: 404,
  MSB_TX_NOT_FINAL: 404,
  API_METHOD_NOT_ALLOWED: 405,
  API_REQUEST_TIMEOUT: 408,
  API_BODY_TOO_LARGE: 413,
  API_URL_TOO_LONG: 414,
  API_TOO_MANY_STREAMS: 429,
  API_HEADERS_TOO_LARGE: 431,
  API_HTTP_VERSION: 505,
  API_UNSUPPORTED_MEDIA_TYPE: 415,
  API_UNAVAILABLE: 503,
  MEMPOOL_FULL: 503,
  POB_HOLD_FULL: 503,
  PIPELINE_CLOSED: 503,
  POB_CLOSED: 503,
  API_INTERNAL: 500,
};

/** HTTP status of an error code: listed ones above, every other code is the client's fault (400). */
export function statusOfCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 400;
}

/** Seconds a client should wait before retrying a SATURATED_CODES refusal (about one block interval). */
export const RETRY_AFTER_SECONDS = 1;

/** A validator with no room for the transaction now (its mempool, or its one-league hold): the same request succeeds later. */
export const SATURATED_CODES: ReadonlySet<string> = new Set(["MEMPOOL_FULL", "POB_HOLD_FULL"]);

/**
 * Refusals that say where the transaction went, not what is wrong with it: the validator does
 * not serve its shard (any more: TX_WRONG_SHARD, the stateless shard check), is not (any more) its
 * believable assignee (POB_NOT_ASSIGNED, a relay's answer), or the relay to the assignee got no
 * answer or no room (RELAY_UNANSWERED, RELAY_BACKLOG_FULL: src/node/consensus/pob-consensus.ts).
 * Another current validator of the shard may take the same bytes: clients (the load driver,
 * `ios tx send`) send them again.
 */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(["TX_WRONG_SHARD", "POB_NOT_ASSIGNED", "RELAY_UNANSWERED", "RELAY_BACKLOG_FULL"]);
/**
 * Resends after retryable refusals, per transaction: each after a fresh status read, so 8
 * rides out several epoch switches in a row, while a transaction a shard's validators keep
 * refusing (a tampered set) still ends rejected by its code.
 */
export const MAX_RETRIES = 8;
