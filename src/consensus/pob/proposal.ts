/**
 * The normal league's final proposal (white paper §7.2, phase 2): what its BFT (src/consensus/bft,
 * opaque proposals) decides per height. In two-league mode it is the ordered list of optimistic
 * block hashes of every believable validator ("the normal league's final block orders the
 * optimistic blocks", DESIGN.md §4), the bodies travelling separately; in one-league mode (the
 * §7.2 fallback) it carries the transactions themselves, proposed by the leader from its mempool.
 *
 * Encoding (little-endian): u8 PROPOSAL_VERSION ‖ u8 mode (0 two-league, 1 one-league) ‖
 * u32 epoch ‖ u64 height ‖ previous proposal hash [32] ‖ proposer key [32] ‖ u32 count ‖
 *   two-league: count × optimistic block hash [32]
 *   one-league: count × (u32 length ‖ encoded transaction)
 * Proposal hash = SHA-256(encoding).
 *
 * API: `encodeProposal`, `decodeProposal`, `proposalHash`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { sha256 } from "../../crypto/sha256.js";
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from "../../ledger/block.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import type { PobErrorCode } from "./errors.js";
import type { LeagueMode } from "./leagues.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES } from "../../codec/sizes.js";
import { check } from "../../errors.js";

export const PROPOSAL_VERSION = 1;
/** Optimistic blocks one final block orders: 1,024 producers' worth of 4 blocks each. */
export const MAX_PROPOSAL_BLOCKS = 4096;
const FIXED = layout({ version: 1, mode: 1, epoch: 4, height: 8, prevHash: HASH_BYTES, proposer: PUBLIC_KEY_BYTES, count: 4 });
const PROPOSAL_CODES = singleCode<PobErrorCode>("POB_BAD_PROPOSAL");

export interface FinalProposal {
  readonly mode: LeagueMode;
  readonly epoch: number;
  readonly height: number;
  readonly prevHash: Uint8Array;
  /** The normal-league leader that proposed it. */
  readonly proposer: Uint8Array;
  /** Two-league: optimistic block hashes in final order. */
  readonly blocks: readonly Uint8Array[];
  /** One-league: encoded transactions in final order. */
  readonly transactions: readonly Uint8Array[];
}

export function encodeProposal(proposal: FinalProposal): Uint8Array {
  const { mode, epoch, height, prevHash, proposer, blocks, transactions } = proposal;
  check<PobErrorCode>(mode === "two-league" || mode === "one-league", "POB_BAD_PROPOSAL", `unknown mode ${String(mode)}`);
  check<PobErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "POB_BAD_PROPOSAL", "epoch must be a u32");
  check<PobErrorCode>(Number.isSafeInteger(height) && height >= 0, "POB_BAD_PROPOSAL", "height must be a non-negative safe integer");
  check<PobErrorCode>(prevHash.length === HASH_BYTES && proposer.length === PUBLIC_KEY_BYTES, "POB_BAD_PROPOSAL", "prevHash and proposer must be 32 bytes");
  let payload: Uint8Array;
  let count: number;
  if (mode === "two-league") {
    check<PobErrorCode>(transactions.length === 0, "POB_BAD_PROPOSAL", "a two-league proposal orders blocks, not transactions");
    check<PobErrorCode>(blocks.length <= MAX_PROPOSAL_BLOCKS, "POB_BAD_PROPOSAL", `${blocks.length} blocks exceed MAX_PROPOSAL_BLOCKS = ${MAX_PROPOSAL_BLOCKS}`);
    payload = new Uint8Array(blocks.length * HASH_BYTES);
    blocks.forEach((hash, i) => {
      check<PobErrorCode>(hash.length === HASH_BYTES, "POB_BAD_PROPOSAL", `block hash ${i} must be ${HASH_BYTES} bytes`);
      payload.set(hash, i * HASH_BYTES);
    });
    count = blocks.length;
  } else {
    check<PobErrorCode>(blocks.length === 0, "POB_BAD_PROPOSAL", "a one-league proposal carries transactions, not blocks");
    check<PobErrorCode>(transactions.length <= MAX_BLOCK_TXS, "POB_BAD_PROPOSAL", `${transactions.length} transactions exceed MAX_BLOCK_TXS = ${MAX_BLOCK_TXS}`);
    payload = packTransactions(transactions);
    check<PobErrorCode>(payload.length <= MAX_BLOCK_BYTES, "POB_BAD_PROPOSAL", `${payload.length} bytes of transactions exceed MAX_BLOCK_BYTES`);
    count = transactions.length;
  }
  return BinaryWriter.ofSize(FIXED.bytes + payload.length)
    .u8(PROPOSAL_VERSION)
    .u8(mode === "two-league" ? 0 : 1)
    .u32(epoch)
    .u64(height)
    .bytes(prevHash)
    .bytes(proposer)
    .u32(count)
    .bytes(payload)
    .finish();
}

/** Strict inverse of `encodeProposal`; anything else is POB_BAD_PROPOSAL. */
export function decodeProposal(bytes: Uint8Array): FinalProposal {
  check<PobErrorCode>(bytes instanceof Uint8Array, "POB_BAD_PROPOSAL", "a proposal must be a Uint8Array");
  const reader = new BinaryReader(bytes, PROPOSAL_CODES);
  reader.need(FIXED.bytes, "the fixed part");
  const version = reader.u8();
  check<PobErrorCode>(version === PROPOSAL_VERSION, "POB_BAD_PROPOSAL", `version ${version} is not ${PROPOSAL_VERSION}`);
  const mode = reader.u8();
  check<PobErrorCode>(mode === 0 || mode === 1, "POB_BAD_PROPOSAL", `mode ${mode} is not defined`);
  const base = {
    mode: mode === 0 ? ("two-league" as const) : ("one-league" as const),
    epoch: reader.u32(),
    height: reader.u53("height"),
    prevHash: reader.bytes(HASH_BYTES).slice(),
    proposer: reader.bytes(PUBLIC_KEY_BYTES).slice(),
  };
  const count = reader.u32();
  if (base.mode === "two-league") {
    check<PobErrorCode>(count <= MAX_PROPOSAL_BLOCKS, "POB_BAD_PROPOSAL", `${count} blocks exceed MAX_PROPOSAL_BLOCKS = ${MAX_PROPOSAL_BLOCKS}`);
    reader.expectRemaining(count * HASH_BYTES, `${count} block hashes`);
    const blocks = Array.from({ length: count }, () => reader.bytes(HASH_BYTES).slice());
    return { ...base, blocks, transactions: [] };
  }
  check<PobErrorCode>(count <= MAX_BLOCK_TXS, "POB_BAD_PROPOSAL", `${count} transactions exceed MAX_BLOCK_TXS = ${MAX_BLOCK_TXS}`);
  const transactions = unpackTransactions(reader.bytes(reader.remaining), PROPOSAL_CODES, count);
  return { ...base, blocks: [], transactions: transactions.map((tx) => Uint8Array.from(tx)) };
}

export function proposalHash(encoded: Uint8Array): Uint8Array {
  return sha256(encoded);
}
