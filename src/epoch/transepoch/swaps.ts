/**
 * One shard's swaps through one epoch's move, as a committee member holds them (white paper §5.4
 * step 4; design: docs/TRANSEPOCH.md, "The swap-in request", "The byzantine leader").
 * It is the PoB node's `SwapInRule` for the instance of the current batch b:
 *
 *  1. *receive*: a joiner's SWAP_REQUEST (`checkSwapRequest`: place, a later batch's joiner, its
 *     signature; TRANSEPOCH_* codes), kept per joiner, the newest synced height winning (one not
 *     newer than the kept one: TRANSEPOCH_REPLAYED), at most one checked per sending peer every
 *     SWAP_SENDER_SPACING of Δ (TRANSEPOCH_TOO_SOON), both before the signature; *offer* is
 *     `receive` for the transport (the PoB driver's SWAP_REQUEST handler): refusals counted by
 *     code (`refused`), never thrown;
 *  2. *pending(h)*: the SWAP_IN of batch b + 1 a leader proposes at height h: every joiner of
 *     b + 1 with a kept request synced in h − SWAP_PROPOSE_LAG .. h − 1 to the chain's own commitment
 *     there, in the batch's order (a removal-only batch: the empty SWAP_IN, at once); else none;
 *  3. *check(swapIn, h)*: `checkSwapIn` at batch b with this member's commitments;
 *  4. *overdue(h)*: true once this member could have proposed batch b + 1's SWAP_IN for
 *     `patienceMs` (SWAP_PATIENCE: 4Δ) of its clock: it then refuses a proposal without it, so
 *     a leader omitting valid requests loses its view (the BFT's view change picks the next);
 *  5. *advance(b')*: the swap height is final, the committee is at b' = b + 1; requests of
 *     batches up to b' are forgotten.
 * No transport, no store: the node feeds requests in and reads commitments from its final heights.
 */
import { sameBytes } from "../../bytes.js";
import { IosError, check } from "../../errors.js";
import { toHex } from "../../hex.js";
import type { Clock } from "../../runtime/interface.js";
import type { SwapInRule } from "../../consensus/pob/protocol.js";
import type { ShardSchedule, TransEpochErrorCode } from "./interface.js";
import { SWAP_ASKS_PER_DELTA, SWAP_PROPOSE_LAG, checkSwapIn, checkSwapRequest, encodeSwapIn, type SwapRequest } from "./swap.js";

/** How long a member holds a complete swap-in before it refuses proposals without it: 4Δ (the design's SWAP_PATIENCE). */
export const SWAP_PATIENCE_DELTAS = 4;
/** The least time, in Δ, between two requests of one sending peer that a member checks: half a joiner's asking period (SWAP_ASKS_PER_DELTA). */
export const SWAP_SENDER_SPACING = 1 / (2 * SWAP_ASKS_PER_DELTA);

export interface ShardSwapsOptions {
  readonly chain: Uint8Array;
  readonly shard: number;
  readonly epoch: number;
  readonly schedule: ShardSchedule;
  /** The batch the committee is at (0 when the move starts; a restarted member: its last final height's). */
  readonly batch: number;
  readonly clock: Clock;
  /** SWAP_PATIENCE: SWAP_PATIENCE_DELTAS × the node's Δ. */
  readonly patienceMs: number;
  /** The state commitment of a final height this member holds (undefined: not held). */
  commitmentAt(height: number): Uint8Array | undefined;
}

export class ShardSwaps implements SwapInRule {
  #batch: number;
  /** Per joiner (hex): its newest request's bytes and fields. */
  readonly #requests = new Map<string, { readonly bytes: Uint8Array; readonly request: SwapRequest }>();
  /** When this member first could have proposed the next batch's swap-in (its clock); undefined: it cannot. */
  #readySince: number | undefined;
  readonly #refused = new Map<TransEpochErrorCode, number>();
  /** When each sending peer's last request reached the signature check (this member's clock); cleared at each batch. */
  readonly #checkedAt = new Map<string, number>();
  readonly #senderSpacingMs: number;

  constructor(private readonly options: ShardSwapsOptions) {
    check<TransEpochErrorCode>(Number.isInteger(options.batch) && options.batch >= 0 && options.batch <= options.schedule.batches.length, "TRANSEPOCH_BAD_BATCH",
      `shard ${options.shard} moves in ${options.schedule.batches.length} batch(es), not from ${options.batch}`);
    check<TransEpochErrorCode>(Number.isFinite(options.patienceMs) && options.patienceMs >= 0, "TRANSEPOCH_BAD_INPUT", `patience must be a non-negative number of ms, got ${options.patienceMs}`);
    this.#batch = options.batch;
    this.#senderSpacingMs = (options.patienceMs / SWAP_PATIENCE_DELTAS) * SWAP_SENDER_SPACING;
  }

  /** The batch the committee is at. */
  get batch(): number {
    return this.#batch;
  }

  /** B: the move's batch count. */
  get batchCount(): number {
    return this.options.schedule.batches.length;
  }

  /** Whether every batch is in: the committee is the epoch's own. */
  get done(): boolean {
    return this.#batch === this.options.schedule.batches.length;
  }

  /**
   * Phase 1: keeps a joiner's request (the newest synced height per joiner); a coded error for one
   * no member should keep. A replay is refused before its signature is checked; so is a request
   * from a `sender` (the peer it came from) whose last checked one is under SWAP_SENDER_SPACING of
   * Δ old (TRANSEPOCH_TOO_SOON): a byzantine relay's forgeries or a joiner's flood cost a member at
   * most 2 × SWAP_ASKS_PER_DELTA verifications per Δ and sender, twice what an honest joiner asks.
   */
  receive(bytes: Uint8Array, sender?: string): void {
    const now = this.options.clock.now();
    const request = checkSwapRequest(bytes, { ...this.options, batch: this.#batch }, (unverified) => {
      const kept = this.#requests.get(toHex(unverified.joiner));
      check<TransEpochErrorCode>(kept === undefined || kept.request.syncedHeight < unverified.syncedHeight, "TRANSEPOCH_REPLAYED",
        `${toHex(unverified.joiner)} already asked with height ${kept?.request.syncedHeight}: a request synced to ${unverified.syncedHeight} adds nothing`);
      if (sender === undefined) return;
      const last = this.#checkedAt.get(sender);
      if (last !== undefined && now - last < this.#senderSpacingMs) {
        throw new IosError<TransEpochErrorCode>("TRANSEPOCH_TOO_SOON", `${sender} sent a request ${now - last} ms after its last one; one per ${this.#senderSpacingMs} ms is checked`);
      }
      this.#checkedAt.set(sender, now);
    });
    this.#requests.set(toHex(request.joiner), { bytes: Uint8Array.from(bytes), request });
  }

  /** Phase 1 for the transport: `receive` from the peer `sender`, its coded refusal counted instead of thrown; whether the request was kept. */
  offer(bytes: Uint8Array, sender: string): boolean {
    try {
      this.receive(bytes, sender);
      return true;
    } catch (error) {
      if (!(error instanceof IosError)) throw error;
      const code = error.code as TransEpochErrorCode;
      this.#refused.set(code, (this.#refused.get(code) ?? 0) + 1);
      return false;
    }
  }

  /** Requests `offer` refused, by code (for ios_transepoch_swap_requests_refused_total). */
  get refused(): ReadonlyMap<TransEpochErrorCode, number> {
    return this.#refused;
  }

  /** Phase 2 (SwapInRule): the next batch's swap-in at `height`, once every joiner's request fits it. */
  pending(height: number): Uint8Array | undefined {
    const next = this.options.schedule.batches[this.#batch];
    if (next === undefined) return undefined;
    const requests: Uint8Array[] = [];
    for (const joiner of next.joining) {
      const kept = this.#requests.get(toHex(joiner));
      if (kept === undefined || !this.#fits(kept.request, next.index, height)) return undefined;
      requests.push(kept.bytes);
    }
    return encodeSwapIn(requests);
  }

  /** Phase 3 (SwapInRule): `checkSwapIn` at the current batch; returns the batch it moves to. */
  check(swapIn: Uint8Array, height: number): number {
    return checkSwapIn(swapIn, { ...this.options, batch: this.#batch, height, commitmentAt: (h) => this.options.commitmentAt(h) });
  }

  /** Phase 4 (SwapInRule): whether a proposal at `height` without a swap-in is refused: this member has been able to propose one for the patience. */
  overdue(height: number): boolean {
    if (this.pending(height) === undefined) {
      this.#readySince = undefined;
      return false;
    }
    const now = this.options.clock.now();
    this.#readySince ??= now;
    return now - this.#readySince >= this.options.patienceMs;
  }

  /** Phase 5: the swap height to `batch` is final. */
  advance(batch: number): void {
    check<TransEpochErrorCode>(batch === this.#batch + 1 && batch <= this.options.schedule.batches.length, "TRANSEPOCH_WRONG_BATCH", `shard ${this.options.shard} is at batch ${this.#batch}: it cannot move to ${batch}`);
    this.#batch = batch;
    this.#readySince = undefined;
    this.#checkedAt.clear();
    for (const [key, { request }] of this.#requests) if (request.batch <= batch) this.#requests.delete(key);
  }

  /** A kept request fits a swap of batch `index` at `height`: that batch's, synced within SWAP_PROPOSE_LAG, to the chain's commitment. */
  #fits(request: SwapRequest, index: number, height: number): boolean {
    if (request.batch !== index || request.syncedHeight >= height || height - request.syncedHeight > SWAP_PROPOSE_LAG) return false;
    const commitment = this.options.commitmentAt(request.syncedHeight);
    return commitment !== undefined && sameBytes(commitment, request.commitment);
  }
}
