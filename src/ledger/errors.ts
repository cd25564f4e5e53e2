/**
 * Ledger error codes. Decoding, stateless validation and genesis parsing throw (or, for batches,
 * return per transaction) a `LedgerError` whose `code` is one of these; callers branch on it.
 */
import { IosError } from "../errors.js";

export type LedgerErrorCode =
  // transactions (canonical encoding, DESIGN.md §3)
  | "TX_TRUNCATED"
  | "TX_TRAILING_BYTES"
  | "TX_TOO_LARGE"
  | "TX_UNKNOWN_VERSION"
  | "TX_UNKNOWN_KIND"
  | "TX_NO_INPUTS"
  | "TX_NO_OUTPUTS"
  | "TX_TOO_MANY_INPUTS"
  | "TX_TOO_MANY_OUTPUTS"
  | "TX_ZERO_AMOUNT"
  | "TX_AMOUNT_OVERFLOW"
  | "TX_DUPLICATE_INPUT"
  | "TX_WRONG_SHARD"
  | "TX_BAD_FIELD"
  | "TX_SIGNER_MISSING"
  // apply records (src/ledger/records.ts)
  | "RECORD_MALFORMED"
  // packed batches of length-prefixed transactions
  | "BATCH_TRUNCATED"
  | "BATCH_TOO_LARGE"
  // blocks
  | "BLOCK_TRUNCATED"
  | "BLOCK_TRAILING_BYTES"
  | "BLOCK_TOO_LARGE"
  | "BLOCK_TOO_MANY_TXS"
  | "BLOCK_UNKNOWN_VERSION"
  | "BLOCK_UNKNOWN_KIND"
  | "BLOCK_BAD_BITMASK"
  | "BLOCK_BAD_TRANSACTION"
  | "BLOCK_TX_ROOT_MISMATCH"
  | "BLOCK_BAD_FIELD"
  // shard map
  | "SHARD_BAD_COUNT"
  | "SHARD_BAD_INDEX"
  // genesis file
  | "GENESIS_BAD_JSON"
  | "GENESIS_BAD_FIELD"
  | "GENESIS_MISSING_FIELD"
  | "GENESIS_UNKNOWN_FIELD"
  | "GENESIS_DUPLICATE_VALIDATOR"
  | "GENESIS_SUPPLY_OVERFLOW"
  // UTXO table
  | "UTXO_BAD_INPUT"
  | "UTXO_DUPLICATE_ENTRY"
  | "UTXO_SUPPLY_OVERFLOW"
  | "UTXO_OUT_OF_MEMORY";

export class LedgerError extends IosError<LedgerErrorCode> {
  constructor(code: LedgerErrorCode, message: string, detail?: Record<string, unknown>) {
    super(code, message, detail);
    this.name = "LedgerError";
  }
}

/** Throws a `LedgerError` unless `condition` holds. */
export function ledgerCheck(condition: unknown, code: LedgerErrorCode, message: string): asserts condition {
  if (!condition) throw new LedgerError(code, message);
}
