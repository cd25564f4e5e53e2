/**
 * The normal league's final proposal (white paper §7.2, phase 2): what its BFT (src/consensus/bft,
 * opaque proposals) decides per height. In two-league mode it is the ordered list of optimistic
 * block hashes of every believable validator ("the normal league's final block orders the
 * optimistic blocks", DESIGN.md §4), the bodies travelling separately; in one-league mode (the
 * §7.2 fallback) it carries the transactions themselves, proposed by the leader from its mempool.
 *
 * A proposal is its core — what is ordered — followed by what the leader fixed after the core:
 * the randomness shares of the sampling (two-league: exactly `shareQuorum` RFC 9381 VRF proofs of
 * distinct normal-league members over the core, ascending by member index; see randomness.ts) and
 * the state commitment the leader reached by applying the core with that randomness (see
 * finalization.ts). Since BFT decides the whole proposal, the randomness and the post-state are
 * unique per final height, across view changes.
 *
 * Encoding (little-endian), version 3 (2 had no swap-in):
 *   core:  u8 PROPOSAL_VERSION ‖ u8 mode (0 two-league, 1 one-league) ‖ u32 epoch ‖ u64 height ‖
 *          u64 timestamp (the leader's clock, ms since the Unix epoch) ‖
 *          previous proposal hash [32] ‖ proposer key [32] ‖ u32 count ‖
 *            two-league: count × optimistic block hash [32]
 *            one-league: count × (u32 length ‖ encoded transaction)
 *          u16 n ‖ n × key [32] (believable validators suspended after this height) ‖
 *          u16 m ‖ m × key [32] (suspended ones resumed after it) ‖
 *          u16 s ‖ s bytes: a TransEpoch SWAP_IN (src/epoch/transepoch/swap.ts; s = 0: none), which
 *            makes this height the last of its BFT instance: the next batch's committee decides on
 *   then:  u16 share count ‖ share count × (u16 member index ‖ VRF proof [80]) ‖ state commitment [32]
 * Core hash = SHA-256(core). Proposal hash (what BFT signs, BftConfig `hashProposal`) =
 * SHA-256("IOSChain/pob/proposal/v1" ‖ SHA-256(encoding without the commitment) ‖ state
 * commitment): a proof that a final block decided a transaction (src/atomix/proof.ts) carries one
 * digest and the commitment's preimage, not the whole proposal.
 *
 * API: `encodeProposal`, `encodeProposalCore`, `decodeProposal`, `proposalHash`, `proposalHashOfParts`, `proposalCoreHash`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { sha256 } from "../../crypto/sha256.js";
import { MAX_BLOCK_BYTES, MAX_BLOCK_TXS } from "../../ledger/block.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import type { PobErrorCode } from "./errors.js";
import type { LeagueMode } from "./leagues.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, VRF_PROOF_BYTES } from "../../codec/sizes.js";
import { check } from "../../errors.js";
import { MAX_LEAGUE } from "./policy.js";
import { MAX_SWAP_IN_BYTES } from "../../epoch/transepoch/swap.js";

export const PROPOSAL_VERSION = 3;
/** Optimistic blocks one final block orders: 1,024 producers' worth of 4 blocks each. */
export const MAX_PROPOSAL_BLOCKS = 4096;
const FIXED = layout({ version: 1, mode: 1, epoch: 4, height: 8, timestamp: 8, prevHash: HASH_BYTES, proposer: PUBLIC_KEY_BYTES, count: 4 });
const SHARE = layout({ member: 2, proof: VRF_PROOF_BYTES });
const TRAILER_FIXED = 2 + HASH_BYTES;
const PROPOSAL_CODES = singleCode<PobErrorCode>("POB_BAD_PROPOSAL");

/** One normal-league member's randomness share: its VRF proof over the proposal core. */
export interface SeedShare {
  /** Index of the member in the normal league. */
  readonly member: number;
  readonly proof: Uint8Array;
}

/** What a proposal orders. */
export interface ProposalCore {
  readonly mode: LeagueMode;
  readonly epoch: number;
  readonly height: number;
  /**
   * The leader's clock when it proposed (ms since the Unix epoch): the final block's timestamp.
   * Members co-sign only within MAX_CLOCK_SKEW_MS of their own clock and never below the previous
   * final proposal's; the optimistic blocks it orders must fall in its window (finalization.ts).
   */
  readonly timestamp: number;
  readonly prevHash: Uint8Array;
  /** The normal-league leader that proposed it. */
  readonly proposer: Uint8Array;
  /** Two-league: optimistic block hashes in final order. */
  readonly blocks: readonly Uint8Array[];
  /** One-league: encoded transactions in final order. */
  readonly transactions: readonly Uint8Array[];
  /**
   * Believable validators the leader found down (no block or heartbeat for a while) and ones
   * found back: they leave or retake their seat once this height is applied (white paper §7.2,
   * temporary downtime). Empty when nothing changes.
   */
  readonly suspend: readonly Uint8Array[];
  readonly resume: readonly Uint8Array[];
  /**
   * A TransEpoch SWAP_IN (src/epoch/transepoch/swap.ts: the next batch's signed swap requests;
   * one byte for a removal-only batch): this height is the last its committee decides. Absent: none.
   */
  readonly swapIn?: Uint8Array;
}

export interface FinalProposal extends ProposalCore {
  /** Two-league: the sampling randomness shares, ascending by member; one-league: none. */
  readonly shares: readonly SeedShare[];
  /** The state commitment after applying the core (finalization.ts `FinalOutcome.tip`). */
  readonly stateCommitment: Uint8Array;
}

/** The core's encoding: what the shares sign and the core hash covers. */
export function encodeProposalCore(core: ProposalCore): Uint8Array {
  const { mode, epoch, height, timestamp, prevHash, proposer, blocks, transactions } = core;
  check<PobErrorCode>(mode === "two-league" || mode === "one-league", "POB_BAD_PROPOSAL", `unknown mode ${String(mode)}`);
  check<PobErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "POB_BAD_PROPOSAL", "epoch must be a u32");
  check<PobErrorCode>(Number.isSafeInteger(height) && height >= 0, "POB_BAD_PROPOSAL", "height must be a non-negative safe integer");
  check<PobErrorCode>(Number.isSafeInteger(timestamp) && timestamp >= 0, "POB_BAD_PROPOSAL", "timestamp must be a non-negative safe integer");
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
  const { suspend, resume, swapIn } = core;
  for (const keys of [suspend, resume]) {
    check<PobErrorCode>(keys.length <= MAX_LEAGUE && keys.every((k) => k.length === PUBLIC_KEY_BYTES), "POB_BAD_PROPOSAL", `suspensions and resumptions are at most ${MAX_LEAGUE} keys of ${PUBLIC_KEY_BYTES} bytes`);
  }
  check<PobErrorCode>(swapIn === undefined || (swapIn.length >= 1 && swapIn.length <= MAX_SWAP_IN_BYTES), "POB_BAD_PROPOSAL", `a swap-in is 1..${MAX_SWAP_IN_BYTES} bytes`);
  const writer = BinaryWriter.ofSize(FIXED.bytes + payload.length + 4 + (suspend.length + resume.length) * PUBLIC_KEY_BYTES + 2 + (swapIn?.length ?? 0))
    .u8(PROPOSAL_VERSION)
    .u8(mode === "two-league" ? 0 : 1)
    .u32(epoch)
    .u64(height)
    .u64(timestamp)
    .bytes(prevHash)
    .bytes(proposer)
    .u32(count)
    .bytes(payload);
  for (const keys of [suspend, resume]) {
    writer.u16(keys.length);
    for (const key of keys) writer.bytes(key);
  }
  return writer.lengthPrefixed("u16", swapIn ?? new Uint8Array(0)).finish();
}

function readKeys(reader: BinaryReader<PobErrorCode>, what: string): Uint8Array[] {
  const count = reader.u16(`${what} count`);
  check<PobErrorCode>(count <= MAX_LEAGUE, "POB_BAD_PROPOSAL", `${count} ${what} exceed MAX_LEAGUE = ${MAX_LEAGUE}`);
  reader.need(count * PUBLIC_KEY_BYTES, what);
  return Array.from({ length: count }, () => reader.bytes(PUBLIC_KEY_BYTES).slice());
}

export function encodeProposal(proposal: FinalProposal): Uint8Array {
  const core = encodeProposalCore(proposal);
  const { shares, stateCommitment } = proposal;
  check<PobErrorCode>(shares.length <= MAX_LEAGUE, "POB_BAD_PROPOSAL", `${shares.length} shares exceed MAX_LEAGUE = ${MAX_LEAGUE}`);
  check<PobErrorCode>(stateCommitment.length === HASH_BYTES, "POB_BAD_PROPOSAL", `the state commitment must be ${HASH_BYTES} bytes`);
  const writer = BinaryWriter.ofSize(core.length + TRAILER_FIXED + shares.length * SHARE.bytes).bytes(core).u16(shares.length);
  shares.forEach((share, i) => {
    check<PobErrorCode>(Number.isInteger(share.member) && share.member >= 0 && share.member < MAX_LEAGUE && share.proof.length === VRF_PROOF_BYTES,
      "POB_BAD_PROPOSAL", `share ${i} must name a member index below ${MAX_LEAGUE} and carry a ${VRF_PROOF_BYTES}-byte proof`);
    writer.u16(share.member).bytes(share.proof);
  });
  return writer.bytes(stateCommitment).finish();
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
    timestamp: reader.u53("timestamp"),
    prevHash: reader.bytes(HASH_BYTES).slice(),
    proposer: reader.bytes(PUBLIC_KEY_BYTES).slice(),
  };
  const count = reader.u32();
  let blocks: Uint8Array[] = [];
  let transactions: Uint8Array[] = [];
  if (base.mode === "two-league") {
    check<PobErrorCode>(count <= MAX_PROPOSAL_BLOCKS, "POB_BAD_PROPOSAL", `${count} blocks exceed MAX_PROPOSAL_BLOCKS = ${MAX_PROPOSAL_BLOCKS}`);
    reader.need(count * HASH_BYTES, `${count} block hashes`);
    blocks = Array.from({ length: count }, () => reader.bytes(HASH_BYTES).slice());
  } else {
    check<PobErrorCode>(count <= MAX_BLOCK_TXS, "POB_BAD_PROPOSAL", `${count} transactions exceed MAX_BLOCK_TXS = ${MAX_BLOCK_TXS}`);
    // The body runs up to the trailer, whose length its share count gives: walk the framing.
    const bodyStart = reader.at;
    for (let i = 0; i < count; i++) reader.advance(reader.u32("transaction length"), "transaction");
    transactions = unpackTransactions(bytes.subarray(bodyStart, reader.at), PROPOSAL_CODES, count).map((tx) => Uint8Array.from(tx));
  }
  const suspend = readKeys(reader, "suspensions");
  const resume = readKeys(reader, "resumptions");
  const swapIn = reader.lengthPrefixed("u16", MAX_SWAP_IN_BYTES, "swap-in").slice();
  const shareCount = reader.u16("share count");
  check<PobErrorCode>(shareCount <= MAX_LEAGUE, "POB_BAD_PROPOSAL", `${shareCount} shares exceed MAX_LEAGUE = ${MAX_LEAGUE}`);
  reader.expectRemaining(shareCount * SHARE.bytes + HASH_BYTES, `${shareCount} shares and the state commitment`);
  const shares = Array.from({ length: shareCount }, (): SeedShare => ({ member: reader.u16("member index"), proof: reader.bytes(VRF_PROOF_BYTES).slice() }));
  const stateCommitment = reader.bytes(HASH_BYTES).slice();
  return { ...base, blocks, transactions, suspend, resume, ...(swapIn.length === 0 ? {} : { swapIn }), shares, stateCommitment };
}

const PROPOSAL_HASH_DOMAIN = new TextEncoder().encode("IOSChain/pob/proposal/v1");

/** The proposal hash from its parts: SHA-256 of the encoding up to the commitment, and the commitment. */
export function proposalHashOfParts(bodyDigest: Uint8Array, stateCommitment: Uint8Array): Uint8Array {
  check<PobErrorCode>(bodyDigest.length === HASH_BYTES && stateCommitment.length === HASH_BYTES, "POB_BAD_ARGUMENT", `proposal hash parts are ${HASH_BYTES} bytes each`);
  return sha256(BinaryWriter.ofSize(PROPOSAL_HASH_DOMAIN.length + 2 * HASH_BYTES).bytes(PROPOSAL_HASH_DOMAIN).bytes(bodyDigest).bytes(stateCommitment).finish());
}

/** SHA-256 of an encoded proposal's bytes before its state commitment (the last HASH_BYTES). */
export function proposalBodyDigest(encoded: Uint8Array): Uint8Array {
  check<PobErrorCode>(encoded.length >= HASH_BYTES, "POB_BAD_PROPOSAL", "a proposal ends with its state commitment");
  return sha256(encoded.subarray(0, encoded.length - HASH_BYTES));
}

/**
 * The hash BFT signs a proposal by (see the header). Total, since a byzantine leader's bytes are
 * hashed before they are decoded: bytes too short to end with a commitment hash plainly (no
 * proposal is that short, and the two preimages differ in length, so they never collide).
 */
export function proposalHash(encoded: Uint8Array): Uint8Array {
  if (encoded.length < HASH_BYTES) return sha256(encoded);
  return proposalHashOfParts(proposalBodyDigest(encoded), encoded.subarray(encoded.length - HASH_BYTES));
}

/** SHA-256 of the core: what the randomness shares and the state commitment build on. */
export function proposalCoreHash(core: ProposalCore): Uint8Array {
  return sha256(encodeProposalCore(core));
}
