/**
 * Micro State Blocks (white paper §8, Algorithm 6): the types and error codes of the subsystem.
 *
 * At the end of epoch e, shard j's UTXO set becomes msb_{j,e}: a body (every unspent output,
 * ordered by outpoint, each a leaf of an RFC 6962 Merkle tree) and a header (chain, shard, epoch,
 * the final height snapshotted, the root, the supply, the count and skip-list back-pointers to
 * earlier MSB headers). A proof-of-existence shows one unspent output against a header's root.
 *
 * Phases (1–3 offline; 5 the bootstrap building blocks, not wired into the node):
 *  1. snapshot (./snapshot.ts): the set at a final height, sorted by outpoint, its root, count and supply;
 *  2. header (./header.ts): canonical encoding, strict decoding, the header hash, back-pointer levels;
 *  3. proofs (./proof.ts): a UTXO proof-of-existence (version ‖ header ‖ leaf ‖ audit path) and a
 *     header path (a later header to an earlier one through back-pointers), both verified offline;
 *  4. (not here) consensus co-signing of the header, pruning, API, CLI;
 *  5. bootstrap: range proofs (./range.ts), the chunk protocol (./chunks.ts), its server
 *     (./chunk-server.ts) and the fetcher of a whole body against a trusted header (./bootstrap.ts).
 * An MSB commits a second, smaller body with the UTXO set: the shard's Atomix decisions
 * (./decisions.ts, header v2), fetched in the same chunks (section 1) by a node that joins.
 */
import type { UtxoEntry } from "../ledger/utxo-table.js";

export const MSB_ERROR_CODES = [
  /** An encoding ends before a field. */
  "MSB_TRUNCATED",
  /** Bytes remain after the last field. */
  "MSB_TRAILING",
  /** A length prefix exceeds its field's maximum. */
  "MSB_TOO_LARGE",
  /** An integer outside its field's range (a height beyond 2^53 − 1, a leaf index beyond the count). */
  "MSB_OUT_OF_RANGE",
  /** A format version this program does not read. */
  "MSB_BAD_VERSION",
  /** A field that contradicts the others (a root that is not the empty tree's for 0 outputs, supply below count, a zero amount). */
  "MSB_BAD_FIELD",
  /** The same outpoint twice in a snapshot's input. */
  "MSB_DUPLICATE_OUTPOINT",
  /** Entries said to be in outpoint order are not (a store's iteration). */
  "MSB_UNORDERED",
  /** The output is not in the snapshot (spent, or never created). */
  "MSB_NOT_FOUND",
  /** The header is not the one the verifier trusts (its hash differs). */
  "MSB_UNTRUSTED_HEADER",
  /** The audit path does not lead from the leaf to the header's root. */
  "MSB_BAD_PROOF",
  /** A header path link is not a back-pointer of the header before it (or changes chain or shard). */
  "MSB_BAD_PATH",
  /** Arguments a caller got wrong (not an encoding): a back-pointer count, a target epoch. */
  "MSB_BAD_INPUT",
  /** A leaf range that is not a non-empty [start, end) inside its tree (./range.ts). */
  "MSB_BAD_RANGE",
  /** A chunk answer that is not the asked chunk of the trusted MSB, or does not prove against its root (./bootstrap.ts; detail: source, cause). */
  "MSB_BAD_CHUNK",
  /** A source refused a chunk (it does not serve that MSB, or the index is beyond the body). */
  "MSB_CHUNK_REFUSED",
  /** A source did not answer a chunk request within its timeout. */
  "MSB_CHUNK_TIMEOUT",
  /** A source's transport failed the request (its own error in the detail). */
  "MSB_SOURCE_FAILED",
  /** A chunk request that does not decode, served by ./chunk-server.ts. */
  "MSB_BAD_REQUEST",
  /** Every source was marked bad before the body was complete (detail: the report). */
  "MSB_NO_SOURCE",
  /** The downloaded body's count or supply is not the header's. */
  "MSB_STATE_MISMATCH",
] as const;

export type MsbErrorCode = (typeof MSB_ERROR_CODES)[number];

/** The header of msb_{j,e} (./header.ts for its encoding). */
export interface MsbHeader {
  /** Encoding version (MSB_HEADER_VERSION). */
  readonly version: number;
  /** The chain id: the genesis txid (src/epoch/context.ts `chain`). */
  readonly chain: Uint8Array;
  readonly shard: number;
  /** The epoch whose end this MSB snapshots. */
  readonly epoch: number;
  /** The last final block of the epoch: the set is the one after it. */
  readonly height: number;
  /** Unspent outputs in the body (leaves of the tree). */
  readonly count: number;
  /** Σ amounts of the body (u64). */
  readonly supply: bigint;
  /** RFC 6962 root of the body's leaves (SHA-256("") for an empty set). */
  readonly root: Uint8Array;
  /**
   * Cross-shard transactions whose phase this shard's final chain holds after `height` (leaves of
   * the decisions tree, ./decisions.ts): the shard's Atomix replay guard, which a node joining at
   * this MSB restores with the UTXO set.
   */
  readonly decisions: number;
  /** RFC 6962 root of the decisions' 33-byte leaves (ATOMIX_DECISION) in cross txid order (SHA-256("") for none). */
  readonly decisionsRoot: Uint8Array;
  /**
   * Hashes of earlier MSB headers of the same shard: level i is msb_{j, e − 2^i}, for every i with
   * 2^i ≤ e (none for epoch 0). Level 0 is the previous MSB.
   */
  readonly backPointers: readonly Uint8Array[];
}

/** An MSB body: the set in outpoint order, with what its header states about it. */
export interface MsbSnapshot {
  /** Packed 76-byte UTXO entries (UTXO_ENTRY), strictly increasing by outpoint: the leaves. */
  readonly entries: Uint8Array;
  readonly count: number;
  readonly supply: bigint;
  readonly root: Uint8Array;
}

/** An MSB's decisions: the shard's Atomix phases after its height (./decisions.ts). */
export interface MsbDecisions {
  /** Packed 33-byte leaves (ATOMIX_DECISION: cross txid ‖ u8 phase), strictly increasing by cross txid. */
  readonly entries: Uint8Array;
  readonly count: number;
  readonly root: Uint8Array;
}

/** What a verified UTXO proof-of-existence establishes. */
export interface VerifiedUtxo {
  readonly header: MsbHeader;
  readonly headerHash: Uint8Array;
  /** Position of the leaf in the body. */
  readonly position: number;
  readonly entry: UtxoEntry;
}
