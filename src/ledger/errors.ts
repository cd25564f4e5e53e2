/**
 * Ledger error codes. Decoding, stateless validation and genesis parsing throw (or, for batches,
 * return per transaction) an `IosError<LedgerErrorCode>`; callers branch on the code, and tell a
 * ledger rejection from other failures with `hasCodeIn(error, LEDGER_ERROR_CODES)`.
 */

export const LEDGER_ERROR_CODES = [
  // transactions (canonical encoding, DESIGN.md §3)
  "TX_TRUNCATED",
  "TX_TRAILING_BYTES",
  "TX_TOO_LARGE",
  "TX_UNKNOWN_VERSION",
  "TX_UNKNOWN_KIND",
  "TX_NO_INPUTS",
  "TX_NO_OUTPUTS",
  "TX_TOO_MANY_INPUTS",
  "TX_TOO_MANY_OUTPUTS",
  "TX_ZERO_AMOUNT",
  "TX_AMOUNT_OVERFLOW",
  "TX_DUPLICATE_INPUT",
  "TX_WRONG_SHARD",
  "TX_BAD_FIELD",
  "TX_SIGNER_MISSING",
  "TX_NOT_SUBMITTABLE",
  // Atomix (white paper §6)
  "TX_NOT_CROSS_SHARD",
  "TX_OUTPUTS_EXCEED_INPUTS",
  "TX_ATOMIX_UNSUPPORTED",
  "TX_ATOMIX_DECIDED",
  "TX_PROOF_MALFORMED",
  "TX_PROOF_UNKNOWN_COMMITTEE",
  "TX_PROOF_WRONG_TX",
  "TX_PROOF_BAD_PATH",
  "TX_PROOF_BAD_SIGNATURE",
  "TX_PROOF_NOT_DECISIVE",
  "TX_PROOF_WRONG_VERDICT",
  "TX_PROOF_MISSING",
  // validator registration (src/ledger/kinds/registration.ts)
  "TX_BAD_VALIDATOR_KEY",
  "TX_BAD_POP",
  "TX_BOND_TOO_SMALL",
  // bond release (the epoch rule the shard's execution checks: src/consensus/pob/finalization.ts)
  "TX_RELEASE_NOT_DEPARTED",
  "TX_RELEASE_TOO_EARLY",
  "TX_RELEASE_WRONG_KEY",
  "TX_RELEASE_WRONG_PAYOUT",
  // apply records (src/ledger/records.ts)
  "RECORD_MALFORMED",
  // packed batches of length-prefixed transactions
  "BATCH_TRUNCATED",
  "BATCH_TOO_LARGE",
  // blocks
  "BLOCK_TRUNCATED",
  "BLOCK_TRAILING_BYTES",
  "BLOCK_TOO_LARGE",
  "BLOCK_TOO_MANY_TXS",
  "BLOCK_UNKNOWN_VERSION",
  "BLOCK_UNKNOWN_KIND",
  "BLOCK_BAD_BITMASK",
  "BLOCK_BAD_TRANSACTION",
  "BLOCK_TX_ROOT_MISMATCH",
  // the header's body root does not match the full encodings (src/ledger/block.ts)
  "BLOCK_BODY_ROOT_MISMATCH",
  "BLOCK_BAD_FIELD",
  // a block body's certified parts and the unlocks' citations of them (src/ledger/kinds/atomix-citations.ts)
  "BLOCK_BAD_PART",
  "BLOCK_BAD_CITATION",
  "BLOCK_CITATION_UNKNOWN",
  "BLOCK_PART_REPEATED",
  "BLOCK_PARTS_OUT_OF_ORDER",
  "BLOCK_PART_UNCITED",
  "BLOCK_PROOF_NOT_CITED",
  // shard map
  "SHARD_BAD_COUNT",
  "SHARD_BAD_INDEX",
  // genesis file
  "GENESIS_BAD_JSON",
  "GENESIS_BAD_FIELD",
  "GENESIS_MISSING_FIELD",
  "GENESIS_UNKNOWN_FIELD",
  "GENESIS_DUPLICATE_VALIDATOR",
  "GENESIS_SUPPLY_OVERFLOW",
  "GENESIS_MISSING_KEY",
  // UTXO table
  "UTXO_BAD_INPUT",
  "UTXO_DUPLICATE_ENTRY",
  "UTXO_SUPPLY_OVERFLOW",
  "UTXO_OUT_OF_MEMORY",
  "UTXO_NOTHING_TO_UNDO",
  "UTXO_MISSING_ENTRY",
] as const;

export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];

/** Detail of an error about one transaction of a block (BLOCK_BAD_TRANSACTION, STATE_INVALID_TX): which one, and its own code. */
export interface TransactionFailureDetail extends Record<string, unknown> {
  /** Position of the transaction in the block body. */
  readonly index: number;
  readonly code: LedgerErrorCode;
}

