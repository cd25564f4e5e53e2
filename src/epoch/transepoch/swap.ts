/**
 * Swap-in requests (white paper §5.4 step 4: "when a validator is ready, it requests the shard's
 * leader to let itself swapped in") and the rule a replica applies to a proposal that moves its
 * shard's committee from batch b to b + 1 (design: docs/TRANSEPOCH.md). Pure: no
 * clock, no transport, no store; the node's wiring is not built yet.
 *
 *   SWAP_REQUEST  u8 version ‖ chain id (32) ‖ u32 shard ‖ u32 epoch ‖ u16 batch ‖ u64 synced height
 *                 ‖ state commitment at that height (32) ‖ joiner key (32) ‖ Ed25519 signature (64),
 *                 little-endian; the signature is over SWAP_DOMAIN ‖ every byte before it
 *   SWAP_IN       u8 count ‖ count × SWAP_REQUEST: one batch's requests, one per joiner
 *
 * Phases of `checkSwapIn` (a proposal at `height` carrying a SWAP_IN while the committee is at
 * `batch`), each failure a typed code:
 *  1. decode strictly (TRANSEPOCH_MALFORMED);
 *  2. the next batch exists (TRANSEPOCH_WRONG_BATCH);
 *  3. the requests are exactly its joiners, each once (TRANSEPOCH_NOT_JOINER,
 *     TRANSEPOCH_DUPLICATE_JOINER, TRANSEPOCH_MISSING_JOINER);
 *  4. each names this chain, shard, epoch and batch (TRANSEPOCH_WRONG_PLACE);
 *  5. each was synced below `height` and at most SWAP_MAX_LAG heights behind it
 *     (TRANSEPOCH_STALE_SYNC), to the chain's own commitment there (TRANSEPOCH_WRONG_COMMITMENT);
 *  6. each signature verifies under its joiner's key (TRANSEPOCH_BAD_SIGNATURE).
 * Signatures last: the cheap checks refuse a leader's junk before any curve work.
 *
 * The verifier's committees by (epoch, shard, batch) are the epoch context's (`committee`,
 * `instance`; src/atomix/proof.ts `committeesOfContext`).
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";
import { verify } from "../../crypto/ed25519.js";
import { sameBytes } from "../../bytes.js";
import { check } from "../../errors.js";
import { toHex } from "../../hex.js";
import { signMessage } from "../../ledger/keys.js";
import type { ShardSchedule, TransEpochErrorCode } from "./interface.js";

const SWAP_DOMAIN = new TextEncoder().encode("IOSChain/transepoch/swap-in/v1");
const SWAP_VERSION = 1;
/** Everything the signature covers. */
const SIGNED_BYTES = 1 + HASH_BYTES + 4 + 4 + 2 + 8 + HASH_BYTES + PUBLIC_KEY_BYTES;
export const SWAP_REQUEST_BYTES = SIGNED_BYTES + SIGNATURE_BYTES;
/** A batch has at most k ≤ ⌈log2(n/m)⌉ ≤ 32 joiners (schedule.ts, n a u32 count): a u8 count is ample. */
export const MAX_SWAP_REQUESTS = 0xff;
/** The largest SWAP_IN: its count and MAX_SWAP_REQUESTS requests (45,646 B, within a u16 length). */
export const MAX_SWAP_IN_BYTES = 1 + MAX_SWAP_REQUESTS * SWAP_REQUEST_BYTES;
/**
 * How far behind the swap height a joiner's synced height may be: one state-sync answer
 * (MAX_SYNC_HEIGHTS_PER_REQUEST in src/node/sync, 64 heights), so a swapped-in seat is at most one
 * sync round from voting.
 */
export const SWAP_MAX_LAG = 64;
/**
 * How far behind the swap height a request may be for a member to propose it, or to hold a leader to it (`ShardSwaps`
 * pending, overdue): a quarter of SWAP_MAX_LAG. A committee with f = 0 (3 members) decides nothing until the seat swapped
 * in holds the tip, so that seat should be a few heights from it, fetched in well under a view timeout (at 64 heights
 * behind, a loaded devnet's BFT went through view changes while it caught up); replicas still accept up to SWAP_MAX_LAG,
 * since a leader's view of the requests may be older than theirs.
 */
export const SWAP_PROPOSE_LAG = SWAP_MAX_LAG / 4;
/** A joiner sends its request with its newest synced height this many times per Δ: a kept request is at most Δ/4 of heights old. */
export const SWAP_ASKS_PER_DELTA = 4;

const CODES = singleCode<TransEpochErrorCode>("TRANSEPOCH_MALFORMED");

export interface SwapRequest {
  readonly chain: Uint8Array;
  readonly shard: number;
  readonly epoch: number;
  /** The batch (1..B) whose seat the joiner asks for. */
  readonly batch: number;
  /** The height whose state the joiner holds. */
  readonly syncedHeight: number;
  /** The state commitment of that height (the joiner vouches it replayed to it). */
  readonly commitment: Uint8Array;
  readonly joiner: Uint8Array;
  readonly signature: Uint8Array;
}

export type UnsignedSwapRequest = Omit<SwapRequest, "signature">;

function signedPart(request: UnsignedSwapRequest): Uint8Array {
  check<TransEpochErrorCode>(request.chain.length === HASH_BYTES && request.commitment.length === HASH_BYTES && request.joiner.length === PUBLIC_KEY_BYTES,
    "TRANSEPOCH_MALFORMED", "chain id, commitment and joiner key are 32 bytes each");
  check<TransEpochErrorCode>(Number.isInteger(request.batch) && request.batch >= 1 && request.batch <= 0xffff, "TRANSEPOCH_MALFORMED", `batch must be 1..65535, got ${request.batch}`);
  return BinaryWriter.ofSize(SIGNED_BYTES).u8(SWAP_VERSION).bytes(request.chain).u32(request.shard).u32(request.epoch).u16(request.batch)
    .u64(request.syncedHeight).bytes(request.commitment).bytes(request.joiner).finish();
}

function signingInput(signed: Uint8Array): Uint8Array {
  const input = new Uint8Array(SWAP_DOMAIN.length + signed.length);
  input.set(SWAP_DOMAIN);
  input.set(signed, SWAP_DOMAIN.length);
  return input;
}

/** The joiner's request, signed with its Ed25519 seed `secretKey` (its key must be `request.joiner`). */
export function signSwapRequest(secretKey: Uint8Array, request: UnsignedSwapRequest): Uint8Array {
  const signed = signedPart(request);
  return BinaryWriter.ofSize(SWAP_REQUEST_BYTES).bytes(signed).bytes(signMessage(secretKey, signingInput(signed))).finish();
}

function readRequest(reader: BinaryReader<TransEpochErrorCode>): SwapRequest {
  const version = reader.u8("version");
  if (version !== SWAP_VERSION) reader.fail("TRANSEPOCH_MALFORMED", `unknown swap request version ${version}`);
  const chain = reader.bytes(HASH_BYTES, "chain id").slice();
  const shard = reader.u32("shard");
  const epoch = reader.u32("epoch");
  const batch = reader.u16("batch");
  if (batch === 0) reader.fail("TRANSEPOCH_MALFORMED", "batch 0 is no swap");
  const syncedHeight = reader.u53("synced height");
  const commitment = reader.bytes(HASH_BYTES, "commitment").slice();
  const joiner = reader.bytes(PUBLIC_KEY_BYTES, "joiner").slice();
  const signature = reader.bytes(SIGNATURE_BYTES, "signature").slice();
  return { chain, shard, epoch, batch, syncedHeight, commitment, joiner, signature };
}

export function decodeSwapRequest(bytes: Uint8Array): SwapRequest {
  const reader = new BinaryReader<TransEpochErrorCode>(bytes, CODES);
  const request = readRequest(reader);
  reader.expectEnd("the swap request");
  return request;
}

/** A batch's requests (each a SWAP_REQUEST's bytes) as one SWAP_IN; a removal-only batch has none. */
export function encodeSwapIn(requests: readonly Uint8Array[]): Uint8Array {
  check<TransEpochErrorCode>(requests.length <= MAX_SWAP_REQUESTS, "TRANSEPOCH_MALFORMED", `at most ${MAX_SWAP_REQUESTS} requests per swap`);
  const writer = BinaryWriter.ofSize(1 + requests.length * SWAP_REQUEST_BYTES).u8(requests.length);
  for (const request of requests) {
    check<TransEpochErrorCode>(request.length === SWAP_REQUEST_BYTES, "TRANSEPOCH_MALFORMED", `a swap request is ${SWAP_REQUEST_BYTES} bytes, got ${request.length}`);
    writer.bytes(request);
  }
  return writer.finish();
}

export function decodeSwapIn(bytes: Uint8Array): SwapRequest[] {
  const reader = new BinaryReader<TransEpochErrorCode>(bytes, CODES);
  const requests = Array.from({ length: reader.u8("request count") }, () => readRequest(reader));
  reader.expectEnd("the swap-in");
  return requests;
}

/** What a replica knows when a proposal at `height` moves its shard's committee past `batch`. */
export interface SwapInPlace {
  readonly chain: Uint8Array;
  readonly shard: number;
  readonly epoch: number;
  readonly schedule: ShardSchedule;
  /** The batch the committee is at: b_{h−1}. */
  readonly batch: number;
  /** The proposal's height h. */
  readonly height: number;
  /** The state commitment this replica holds for a final height below h (undefined: not held). */
  commitmentAt(height: number): Uint8Array | undefined;
}

/**
 * One joiner's request as a committee member receives it before any proposal carries it: decoded
 * strictly, for this chain, shard and epoch (TRANSEPOCH_WRONG_PLACE), from a joiner of a batch the
 * committee has not reached (TRANSEPOCH_WRONG_BATCH, TRANSEPOCH_NOT_JOINER), signed by it
 * (TRANSEPOCH_BAD_SIGNATURE). Its height and commitment are checked when a swap-in carries it.
 * `beforeSignature` runs the caller's own cheap checks (a replay, a sender's pace) before the
 * curve work, so what they refuse costs no verification.
 */
export function checkSwapRequest(
  bytes: Uint8Array,
  place: Pick<SwapInPlace, "chain" | "shard" | "epoch" | "schedule" | "batch">,
  beforeSignature?: (request: SwapRequest) => void,
): SwapRequest {
  const request = decodeSwapRequest(bytes);
  check<TransEpochErrorCode>(sameBytes(request.chain, place.chain) && request.shard === place.shard && request.epoch === place.epoch, "TRANSEPOCH_WRONG_PLACE",
    `a request for shard ${request.shard}, epoch ${request.epoch} reached shard ${place.shard}, epoch ${place.epoch}`);
  const batch = place.schedule.batches[request.batch - 1];
  check<TransEpochErrorCode>(request.batch > place.batch && batch !== undefined, "TRANSEPOCH_WRONG_BATCH", `shard ${place.shard} is at batch ${place.batch} of ${place.schedule.batches.length}: no seat in batch ${request.batch} to ask for`);
  check<TransEpochErrorCode>(batch.joining.some((joiner) => sameBytes(joiner, request.joiner)), "TRANSEPOCH_NOT_JOINER", `${toHex(request.joiner)} does not join shard ${place.shard} in batch ${request.batch}`);
  beforeSignature?.(request);
  check<TransEpochErrorCode>(verify(request.signature, signingInput(signedPart(request)), request.joiner), "TRANSEPOCH_BAD_SIGNATURE", `${toHex(request.joiner)}'s request is not signed by it`);
  return request;
}

/** Checks a proposal's SWAP_IN (the module doc's phases 1–6); returns the batch it moves the committee to. */
export function checkSwapIn(swapIn: Uint8Array, place: SwapInPlace): number {
  const requests = decodeSwapIn(swapIn);
  const next = place.batch + 1;
  const batch = place.schedule.batches[next - 1];
  check<TransEpochErrorCode>(batch !== undefined && batch.index === next, "TRANSEPOCH_WRONG_BATCH",
    `shard ${place.shard} is at batch ${place.batch} of ${place.schedule.batches.length}: no batch ${next} to swap in`);
  const seen = new Set<string>();
  for (const request of requests) {
    const key = toHex(request.joiner);
    check<TransEpochErrorCode>(batch.joining.some((joiner) => sameBytes(joiner, request.joiner)), "TRANSEPOCH_NOT_JOINER", `${key} does not join shard ${place.shard} in batch ${next}`);
    check<TransEpochErrorCode>(!seen.has(key), "TRANSEPOCH_DUPLICATE_JOINER", `${key} asks twice`);
    seen.add(key);
  }
  check<TransEpochErrorCode>(requests.length === batch.joining.length, "TRANSEPOCH_MISSING_JOINER",
    `batch ${next} has ${batch.joining.length} joiner(s), the swap carries ${requests.length} request(s)`);
  for (const request of requests) {
    check<TransEpochErrorCode>(sameBytes(request.chain, place.chain) && request.shard === place.shard && request.epoch === place.epoch && request.batch === next, "TRANSEPOCH_WRONG_PLACE",
      `${toHex(request.joiner)}'s request is for shard ${request.shard}, epoch ${request.epoch}, batch ${request.batch}`);
    check<TransEpochErrorCode>(request.syncedHeight < place.height && place.height - request.syncedHeight <= SWAP_MAX_LAG, "TRANSEPOCH_STALE_SYNC",
      `${toHex(request.joiner)} synced to height ${request.syncedHeight}: a swap at ${place.height} takes ${place.height - SWAP_MAX_LAG}..${place.height - 1}`);
    const commitment = place.commitmentAt(request.syncedHeight);
    check<TransEpochErrorCode>(commitment !== undefined && sameBytes(commitment, request.commitment), "TRANSEPOCH_WRONG_COMMITMENT",
      `${toHex(request.joiner)}'s commitment at height ${request.syncedHeight} is not the chain's`);
  }
  for (const request of requests) {
    const signed = signedPart(request);
    check<TransEpochErrorCode>(verify(request.signature, signingInput(signed), request.joiner), "TRANSEPOCH_BAD_SIGNATURE", `${toHex(request.joiner)}'s request is not signed by it`);
  }
  return next;
}
