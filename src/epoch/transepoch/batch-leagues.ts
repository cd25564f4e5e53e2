/**
 * The leagues a batch instance of a move runs with (TransEpoch stage B): instance (e + 1, j, b),
 * 1 ≤ b < B, decides epoch e + 1's heights between the swap of batch b and that of b + 1, with
 * epoch e's leagues and believability accounts (as the opening, batch 0, does) but the schedule's
 * committee(b) as its BFT committee. A joiner has no believability account in e's ledger, and gets
 * none here:
 *
 *  1. *committee*: committee(b) (schedule.ts: e's committee with batches 1..b's leavers swapped for
 *     their joiners), in key order: the BFT participants and the proposers PobValidator accepts;
 *  2. *believable league*: e's, unchanged: producers are drawn by believability, which only e's
 *     ledger holds; a joiner produces nothing until the epoch's own leagues (batch B);
 *  3. *normal league*: e's without the leavers already swapped out (they no longer verify, so
 *     they earn no Servi); joiners are not in it (no account to issue Servi to: they earn none in
 *     the move, which every replica computes alike from the chain);
 *  4. suspensions and slashings act on e's leagues as in any instance and keep committee(b).
 *
 * Why it is safe: every replica derives the same leagues from (e's leagues, committee(b)), both
 * fixed by the chain (configuration e + 1's schedule and the certified swap-ins), so accounts and
 * commitments agree; certificates need 2f + 1 of committee(b), the committee the walk
 * (walk.ts) checks height by height; producers remain bonded members of e's shard.
 */
import { sameBytes } from "../../bytes.js";
import type { LeagueMode, Leagues } from "../../consensus/pob/leagues.js";
import type { ShardingPolicy } from "../../consensus/pob/policy.js";

/** Epoch e's `leagues` with `committee` (committee(b) of the move) as the BFT committee (module doc). */
export function batchLeagues(leagues: Leagues, committee: readonly Uint8Array[]): Leagues {
  return new BatchLeagues(leagues, [...committee].sort(Buffer.compare));
}

class BatchLeagues implements Leagues {
  readonly normal: readonly Uint8Array[];

  constructor(private readonly inner: Leagues, readonly committee: readonly Uint8Array[]) {
    const swappedOut = inner.committee.filter((key) => !committee.some((seat) => sameBytes(seat, key)));
    this.normal = inner.normal.filter((key) => !swappedOut.some((gone) => sameBytes(gone, key)));
  }

  get epoch(): number {
    return this.inner.epoch;
  }

  get mode(): LeagueMode {
    return this.inner.mode;
  }

  get believable(): readonly Uint8Array[] {
    return this.inner.believable;
  }

  get suspended(): readonly Uint8Array[] {
    return this.inner.suspended;
  }

  get policy(): ShardingPolicy {
    return this.inner.policy;
  }

  isBelievable(publicKey: Uint8Array): boolean {
    return this.inner.isBelievable(publicKey);
  }

  isSuspended(publicKey: Uint8Array): boolean {
    return this.inner.isSuspended(publicKey);
  }

  withoutValidator(publicKey: Uint8Array): Leagues {
    return this.#with(this.inner.withoutValidator(publicKey));
  }

  suspend(publicKey: Uint8Array): Leagues {
    return this.#with(this.inner.suspend(publicKey));
  }

  resume(publicKey: Uint8Array): Leagues {
    return this.#with(this.inner.resume(publicKey));
  }

  #with(inner: Leagues): Leagues {
    return inner === this.inner ? this : new BatchLeagues(inner, this.committee);
  }
}
