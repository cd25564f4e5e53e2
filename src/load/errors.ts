/**
 * Load-generator error codes. Bad options, unusable genesis accounts and malformed load files
 * throw an `IosError<LoadErrorCode>` whose `code` names the problem, so the CLI can print it and
 * tests can branch on it.
 */

export const LOAD_ERROR_CODES = [
  // workload planning and signing
  "LOAD_BAD_OPTION",
  "LOAD_NO_ACCOUNTS",
  "LOAD_INSUFFICIENT_FUNDS",
  "LOAD_SIGNING_FAILED",
  // saved load files
  "LOAD_FILE_UNREADABLE",
  "LOAD_FILE_BAD_MAGIC",
  "LOAD_FILE_BAD_VERSION",
  "LOAD_FILE_TRUNCATED",
  "LOAD_FILE_TRAILING_BYTES",
  "LOAD_FILE_BAD_HEADER",
  "LOAD_FILE_BAD_TX",
  "LOAD_FILE_GENESIS_MISMATCH",
  // driving a node
  "LOAD_CONNECT_FAILED",
  "LOAD_STREAM_ERROR",
  // metrics and reports
  "LOAD_CPU_UNAVAILABLE",
  "LOAD_REPORT_ASSET_MISSING",
] as const;

export type LoadErrorCode = (typeof LOAD_ERROR_CODES)[number];
