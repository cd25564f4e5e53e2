import { layout } from "./layout.js";

/**
 * Byte sizes shared by every format of the tree, defined once (DESIGN.md §2: Ed25519 keys and
 * signatures, SHA-256 ids; §3: outpoints and u64 amounts). Import these; never restate 32 or 64.
 */

/** RFC 8032 §5.1.5: an Ed25519 public key is the 32-byte encoding of a point. */
export const PUBLIC_KEY_BYTES = 32;
/** RFC 8032 §5.1.5: an Ed25519 private key is a 32-byte seed. */
export const SECRET_KEY_BYTES = 32;
/** RFC 8032 §5.1.6: an Ed25519 signature is R (32 bytes) ‖ S (32 bytes). */
export const SIGNATURE_BYTES = 64;
/** RFC 8032 §5.1.2: an encoded Edwards point (R, a public key, a CoSi commitment). */
export const POINT_BYTES = 32;
/** RFC 8032 §5.1.6: a scalar mod L, little-endian (S, a CoSi response). */
export const SCALAR_BYTES = 32;
/** RFC 8032 §5.1.4: a point in extended coordinates X ‖ Y ‖ Z ‖ T, each a field element below p, little-endian. */
export const EXTENDED_POINT_BYTES = 4 * 32;
/** RFC 9381 §5.5 (ECVRF-EDWARDS25519-SHA512-TAI): cLen = 16, a challenge is half a scalar. */
export const VRF_CHALLENGE_BYTES = 16;
/** RFC 9381 §5.1 step 8: pi = Gamma (ptLen = 32) ‖ c (cLen = 16) ‖ s (qLen = 32). */
export const VRF_PROOF_BYTES = POINT_BYTES + VRF_CHALLENGE_BYTES + SCALAR_BYTES;
/** RFC 9381 §5.2 with §5.5: beta is one SHA-512 digest, hLen = 64. */
export const VRF_OUTPUT_BYTES = 64;
/** FIPS 180-4: a SHA-256 digest; block hashes, Merkle nodes and ids are digests. */
export const HASH_BYTES = 32;
/** A transaction id is the SHA-256 of its unsigned encoding (DESIGN.md §3). */
export const TXID_BYTES = HASH_BYTES;
/** A PoB state commitment's parts as encoded (consensus/pob/finalization.ts `writeCommitmentParts`): nine hashes, two u32 counts, supply and count. */
export const COMMITMENT_PARTS_BYTES = 9 * HASH_BYTES + 2 * 4 + 2 * 8;
/** An output's position in its transaction: u32. */
export const OUTPUT_INDEX_BYTES = 4;
/** An outpoint, the UTXO table's key: txid ‖ u32le(index). */
export const OUTPOINT_BYTES = TXID_BYTES + OUTPUT_INDEX_BYTES;
/** Amounts are u64 (DESIGN.md §3). */
export const AMOUNT_BYTES = 8;
/**
 * A packed UTXO entry, the unit of the UTXO table (src/ledger/utxo-table.ts), of the store's utxo
 * sub-database (key = the outpoint, value = owner ‖ amount; src/store/schema.ts) and of snapshots.
 */
export const UTXO_ENTRY = layout({ txid: TXID_BYTES, index: OUTPUT_INDEX_BYTES, owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES });
/**
 * One decision of a shard about a cross-shard transaction, as an MSB commits it (src/msb/decisions.ts):
 * the cross txid ‖ u8 phase (src/atomix/phases.ts `encodeAtomixPhase`); 33 bytes, a leaf of the
 * MSB's decisions tree, ordered by cross txid (the store's atomix key order).
 */
export const ATOMIX_DECISION = layout({ crossTxid: TXID_BYTES, phase: 1 });
