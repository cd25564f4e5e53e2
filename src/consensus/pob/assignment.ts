/**
 * Which believable validator handles a transaction (white paper §7.2: "transactions will be
 * randomly distributed among these believable validators").
 *
 * The assignment key is the spender: the owner key of the transaction's first input
 * (`spenderOf`). DESIGN.md §4 said "by txid"; keying by the spender instead keeps every
 * transaction of one sender with one producer, whose view already holds the change output of the
 * sender's previous, not yet final transfer, so a chain of payments is confirmed optimistically
 * back to back instead of waiting a final round per link. Owner keys are as random as txids,
 * so the load still spreads evenly; a sender can pick its producer by picking its key, as it
 * could by grinding its txid.
 *
 * Rendezvous (highest-random-weight) hashing: the assignee of key k is the validator v with the
 * largest u64 read from SHA-256(domain ‖ v ‖ k). Compared with `k mod league size`, removing a
 * slashed validator moves only its own share, spread evenly over the others; everyone else's
 * assignments stay put, so their pending optimistic work is not reshuffled.
 *
 * API: `spenderOf(tx)`, `assignee(key, believable)`, `assigneeIndex(key, believable)`.
 */
import { sha256 } from "../../crypto/sha256.js";
import { PUBLIC_KEY_BYTES } from "../../codec/sizes.js";
import { readU64 } from "../../codec/binary.js";
import { check } from "../../errors.js";
import type { PobErrorCode } from "./errors.js";

/** The assignment key of an encoded transaction: its kind's spender (a transfer's first input owner), a view. */
export { spenderOf } from "../../ledger/kinds/registry.js";

const ASSIGN_DOMAIN = new TextEncoder().encode("IOSChain/pob/assign/v1");

function weight(validator: Uint8Array, key: Uint8Array): bigint {
  const input = new Uint8Array(ASSIGN_DOMAIN.length + validator.length + key.length);
  input.set(ASSIGN_DOMAIN);
  input.set(validator, ASSIGN_DOMAIN.length);
  input.set(key, ASSIGN_DOMAIN.length + validator.length);
  const digest = sha256(input);
  return readU64(digest, 0);
}

/** Index in `believable` of the validator that handles assignment key `key` (a spender, 32 bytes). */
export function assigneeIndex(key: Uint8Array, believable: readonly Uint8Array[]): number {
  check<PobErrorCode>(key instanceof Uint8Array && key.length === PUBLIC_KEY_BYTES, "POB_BAD_ARGUMENT", "an assignment key must be 32 bytes");
  check<PobErrorCode>(believable.length > 0, "POB_EMPTY_LEAGUE", "no believable validator to assign to (one-league mode?)");
  // A league of one takes everything: no weight to compare (a devnet's usual single producer).
  if (believable.length === 1) return 0;
  let best = 0;
  let bestWeight = -1n;
  believable.forEach((validator, i) => {
    const w = weight(validator, key);
    if (w > bestWeight || (w === bestWeight && Buffer.compare(validator, believable[best]!) < 0)) {
      best = i;
      bestWeight = w;
    }
  });
  return best;
}

export function assignee(key: Uint8Array, believable: readonly Uint8Array[]): Uint8Array {
  return believable[assigneeIndex(key, believable)]!;
}
