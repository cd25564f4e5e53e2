/**
 * The end of an epoch's opening instance (TransEpoch stage 2, "no rest at the boundary"; design:
 * docs/TRANSEPOCH.md, "Heights, epochs and b"). At the boundary e·L a shard goes on
 * deciding epoch e's heights in batch 0 (`EpochContext.opening`: epoch e − 1's committee and
 * leagues) while the configuration of e is made. This rule is the PoB node's `SwapInRule` for that
 * instance:
 *
 *  1. *unconfigured*: no proposal may carry a swap-in (`check` throws TRANSEPOCH_WRONG_BATCH), and
 *     a leader proposes none: the instance decides ordinary heights;
 *  2. *configure()*: this member holds configuration e; from now on a leader proposes
 *     OPENING_END, the empty SWAP_IN, and a member accepts exactly it (TRANSEPOCH_MALFORMED
 *     otherwise). The certified height carrying it ends the instance (the BFT's `endsInstance`):
 *     the next height is decided by the configuration's own committee (batch B), which starts on
 *     the same state from that height;
 *  3. *overdue(h)*: true once this member has been configured for `patienceMs` (SWAP_PATIENCE,
 *     4Δ): it refuses proposals without the end, so a leader that omits it loses its view; and
 *     always at `lastHeight`, the last height the instance may decide (the epoch's last but one:
 *     the last is the epoch's own committee's, it makes the boundary): that height carries the
 *     end or is not decided, so a shard whose configuration is late rests there (views time out)
 *     until it is known.
 *
 * Stage 2 goes from batch 0 straight to batch B (the seats of the move are swapped at once at
 * that height, the joiners then syncing up to it); stage 3's `ShardSwaps` replaces this rule with
 * the schedule's batches and the joiners' signed requests.
 */
import { sameBytes } from "../../bytes.js";
import { check } from "../../errors.js";
import type { Clock } from "../../runtime/interface.js";
import type { SwapInRule } from "../../consensus/pob/protocol.js";
import type { TransEpochErrorCode } from "./interface.js";
import { encodeSwapIn } from "./swap.js";

/** The swap-in that ends an opening instance: the empty SWAP_IN (u8 count 0). */
export const OPENING_END: Uint8Array = encodeSwapIn([]);

export class OpeningEnd implements SwapInRule {
  /** When this member learned the configuration (its clock); undefined: not yet. */
  #configuredAt: number | undefined;

  constructor(private readonly options: { readonly clock: Clock; readonly patienceMs: number; readonly lastHeight: number }) {
    check<TransEpochErrorCode>(Number.isFinite(options.patienceMs) && options.patienceMs >= 0, "TRANSEPOCH_BAD_INPUT", `patience must be a non-negative number of ms, got ${options.patienceMs}`);
  }

  /** This member holds the next configuration: it proposes and accepts the end from now on (idempotent). */
  configure(): void {
    this.#configuredAt ??= this.options.clock.now();
  }

  get configured(): boolean {
    return this.#configuredAt !== undefined;
  }

  pending(): Uint8Array | undefined {
    return this.#configuredAt === undefined ? undefined : OPENING_END;
  }

  check(swapIn: Uint8Array): void {
    check<TransEpochErrorCode>(this.#configuredAt !== undefined, "TRANSEPOCH_WRONG_BATCH", "this member does not hold the next configuration: the opening instance cannot end yet");
    check<TransEpochErrorCode>(sameBytes(swapIn, OPENING_END), "TRANSEPOCH_MALFORMED", "an opening instance ends with the empty swap-in only");
  }

  overdue(height: number): boolean {
    if (height >= this.options.lastHeight) return true;
    return this.#configuredAt !== undefined && this.options.clock.now() - this.#configuredAt >= this.options.patienceMs;
  }
}
