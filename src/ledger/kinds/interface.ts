/**
 * What a transaction kind is (white paper §3, UTXO model; DESIGN.md §3). Every encoding starts
 * with version u8 ‖ kind u8 (`TX_PREFIX`); everything after belongs to the kind. Each kind is one
 * module implementing `TxKindModule`, registered once in ./registry.ts, plus one case in the WASM
 * kernel's `applyBlock` switch (assembly/utxo/index.ts) when its records change the UTXO set.
 *
 * Apply records (what stateless validation hands the UTXO kernel, src/ledger/records.ts walks
 * them) start with `RECORD_HEADER` = kind u8 ‖ record length u32 (header included) ‖ txid[32];
 * the kind's body follows. The length lets the kernel and the walker step over any record, so a
 * kind the kernel does not know is reported (UNKNOWN_KIND) without losing the records after it.
 * A record's UTXO effects are read through its kind's `RecordLayout`: inputs are
 * outpoint[36] ‖ owner[32], outputs owner[32] ‖ amount u64, wherever the kind puts them.
 */
import type { CodecCodes } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import type { LedgerErrorCode } from "../errors.js";
import { IosError } from "../../errors.js";

export const TX_VERSION = 1;

/**
 * Kind bytes, each with its module in ./registry.ts: Transfer, the Atomix kinds (§6 lock /
 * unlock-to-commit / unlock-to-abort, and the unlock-to-commit batch), ValidatorRegistration (registering and leaving,
 * ./registration.ts) and SlashingEvidence (PoB §7.2). Any other byte is TX_UNKNOWN_KIND.
 */
export const TxKind = {
  Transfer: 0,
  AtomixLock: 1,
  AtomixUnlockCommit: 2,
  AtomixUnlockAbort: 3,
  ValidatorRegistration: 4,
  SlashingEvidence: 5,
  /** Unlock-to-commit of many cross-shard transfers in one output shard (./atomix-unlock-batch.ts). */
  AtomixUnlockBatch: 6,
} as const;
export type TxKind = (typeof TxKind)[keyof typeof TxKind];

/**
 * Encoded size of one transaction a client submits, any submittable kind. 16 KiB keeps a single
 * transaction a small fraction of a block and of a network frame.
 */
export const MAX_TX_BYTES = 16 * 1024;
/**
 * Encoded size of any transaction, the derived kinds included (a slashing carries evidence and
 * the compensations of up to MAX_COMPENSATIONS victims, ./slashing.ts); each kind's `scan`
 * enforces its own limit within it (TX_TOO_LARGE).
 */
export const MAX_ANY_TX_BYTES = 64 * 1024;

/** The codec codes of every transaction decoder. */
export const TX_CODES: CodecCodes<LedgerErrorCode> = {
  truncated: "TX_TRUNCATED",
  trailing: "TX_TRAILING_BYTES",
  tooLarge: "TX_TOO_LARGE",
  outOfRange: "TX_BAD_FIELD",
};

export const TX_PREFIX = layout({ version: 1, kind: 1 });
export const RECORD_HEADER = layout({ kind: 1, length: 4, txid: TXID_BYTES });
/** A spent input in a record: the outpoint and the owner its transaction claims. */
export const RECORD_INPUT = layout({ outpoint: OUTPOINT_BYTES, owner: PUBLIC_KEY_BYTES });
/** A created output in a record; its outpoint is (record txid, position). */
export const RECORD_OUTPUT = layout({ owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES });

/**
 * The checks every kind shares, in order: the size limit, the prefix, the version. Returns the
 * kind byte; which kinds exist is the registry's to say.
 */
export function checkTxPrefix(tx: Uint8Array): number {
  // Runs for every transaction: messages are built only on failure.
  if (tx.length > MAX_ANY_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_ANY_TX_BYTES = ${MAX_ANY_TX_BYTES}`);
  if (tx.length < TX_PREFIX.bytes) throw new IosError<LedgerErrorCode>("TX_TRUNCATED", `${tx.length} bytes is shorter than the ${TX_PREFIX.bytes}-byte version and kind`);
  const version = tx[TX_PREFIX.offset.version]!;
  if (version !== TX_VERSION) throw new IosError<LedgerErrorCode>("TX_UNKNOWN_VERSION", `version ${version} is not ${TX_VERSION}`);
  return tx[TX_PREFIX.offset.kind]!;
}

/** What a kind's `scan` learned of one encoding: enough to hash, verify and record it. */
export interface TxShape {
  /** End of the unsigned encoding (relative to the transaction): txid = SHA-256(tx[0, unsignedEnd)). */
  readonly unsignedEnd: number;
  /** Signature items the transaction needs verified. */
  readonly signatureCount: number;
  /** Size of its apply record, header included. */
  readonly recordBytes: number;
}

/**
 * Where a kind's record keeps the UTXO entries it spends and creates when it applies: every
 * reader of records (the table's delta, the producer's view, the owner index) sees a record's
 * effect through this, whatever the kind.
 */
export interface RecordLayout {
  inputCount(records: Uint8Array, at: number): number;
  /** Absolute offset of input `i` (a RECORD_INPUT: the key it spends and the owner it claims) of the record at `at`. */
  inputAt(records: Uint8Array, at: number, i: number): number;
  outputCount(records: Uint8Array, at: number): number;
  /** Absolute offset of output `j` (a RECORD_OUTPUT: the created entry's value) of the record at `at`. */
  outputAt(records: Uint8Array, at: number, j: number): number;
  /**
   * Absolute offset of output `j`'s key (outpoint[36]) when the kind creates it elsewhere than at
   * (record txid, j) — Atomix outputs land at (cross txid, j) or back at a locked outpoint, a
   * registration's bond at its bond outpoint; undefined for an output at (record txid, j), and
   * every output is there when the method is absent.
   */
  createdKeyAt?(records: Uint8Array, at: number, j: number): number | undefined;
  /** Whether Σ created ≤ Σ spent holds within the record (false: Atomix commits in an output shard, checked across shards). */
  readonly balanced: boolean;
}

/** What a proof of a shard's final decision on a transaction shows (src/atomix/proof.ts). */
export interface ProvenDecision {
  readonly epoch: number;
  readonly shard: number;
  /** True: the shard's final block applied it; false: the UTXO kernel refused it there, with `code`. */
  readonly accepted: boolean;
  readonly code: string | undefined;
}

/**
 * Checks proofs that a shard decided a transaction (white paper §6: proofs of acceptance and of
 * rejection); the Atomix unlocks carry them. Implemented over the epochs' committees
 * (src/atomix/proof.ts `CommitteeProofVerifier`); a validator without one refuses every Atomix
 * kind (TX_ATOMIX_UNSUPPORTED): its shard's consensus does not prove what it decides.
 */
export interface DecisionVerifier {
  /** The decision `proof` shows for `txid`; throws TX_PROOF_* when it shows none. */
  verify(proof: Uint8Array, txid: Uint8Array): ProvenDecision;
  /**
   * Where a final-height certificate and a multiproof show that height including every txid of
   * `txids` (packed, in the multiproof's index order): an unlock-to-commit batch's proof.
   * Throws TX_PROOF_* when they show less.
   */
  verifyIncluded(certificate: Uint8Array, multiproof: Uint8Array, txids: Uint8Array): ProvenInclusion;
}

/** What a batch's proof shows: that shard's final height in that epoch included the transactions. */
export interface ProvenInclusion {
  readonly epoch: number;
  readonly shard: number;
}

/**
 * One transaction kind. Methods taking `tx` get the whole encoding (tx[0] is the version byte);
 * all but `scan`, `decode` and `spender` require that `scan` accepted it. Errors are LedgerErrors
 * with TX_* codes.
 */
export interface TxKindModule<Tx extends { readonly kind: number } = { readonly kind: number }> {
  /** The kind byte. */
  readonly kind: number;
  readonly name: string;
  /**
   * Whether clients submit it. A kind that is not (a slashing, derived by the shard's execution)
   * is refused with TX_NOT_SUBMITTABLE wherever a transaction comes from someone else: client
   * intake, a producer's or leader's block (src/ledger/stateless.ts `validateStateless`).
   */
  readonly submittable: boolean;
  /** Strict structural check, the kind's own size limit included (MAX_ANY_TX_BYTES, version and kind already checked by the registry); allocates nothing but the shape. */
  scan(tx: Uint8Array): TxShape;
  /** Strict decode into the kind's object form. */
  decode(tx: Uint8Array): Tx;
  /** The full canonical encoding. */
  encode(tx: Tx): Uint8Array<ArrayBuffer>;
  /** The unsigned encoding, the txid's preimage. */
  encodeUnsigned(tx: Tx): Uint8Array<ArrayBuffer>;
  /** Distinct shards the transaction touches when there are `shardCount`, ascending. */
  shards(tx: Uint8Array, shardCount: number): number[];
  /**
   * The kind's stateless rule for a transaction submitted to `shard` (e.g. a transfer is
   * intra-shard): throws TX_WRONG_SHARD and the like. `decisions` checks the proofs an Atomix
   * unlock carries; undefined where this validator cannot.
   */
  checkStateless(tx: Uint8Array, shape: TxShape, shard: number, shardCount: number, decisions: DecisionVerifier | undefined): void;
  /** Appends the `shape.signatureCount` items to verify, each signing `txid`; key and signature are views of `tx`. */
  signatureItems(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: SignatureItem[]): void;
  /** The key whose transactions one producer handles (PoB assignment, load routing), a view; undefined when `tx` is too short to hold one. */
  spender(tx: Uint8Array): Uint8Array | undefined;
  /**
   * Size of its apply record in shard `shard` of `shardCount`, when it depends on the shard (an
   * Atomix record spells out the shard's own effects); absent: `shape.recordBytes`.
   */
  recordBytesIn?(tx: Uint8Array, shape: TxShape, shard: number, shardCount: number): number;
  /** Writes the apply record (header included, its `recordBytesIn` or `shape.recordBytes` long) at `out[at]`, for shard `shard` of `shardCount` (which of its parts are that shard's). */
  writeRecord(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: Uint8Array, at: number, shard: number, shardCount: number): void;
  readonly record: RecordLayout;
}
