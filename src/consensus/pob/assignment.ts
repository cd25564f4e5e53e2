/**
 * Which believable validator handles a transaction (white paper §7.2: "transactions will be
 * randomly distributed among these believable validators"; DESIGN.md §4: by txid).
 *
 * Rendezvous (highest-random-weight) hashing: the assignee of txid t is the validator v with the
 * largest u64 read from SHA-256(domain ‖ v ‖ t). Compared with `t mod league size`, removing a
 * slashed validator moves only its own share, spread evenly over the others; everyone else's
 * assignments stay put, so their pending optimistic work is not reshuffled.
 *
 * API: `assignee(txid, believable)`, `assigneeIndex(txid, believable)`.
 */
import { sha256 } from "../../crypto/sha256.js";
import { pobCheck } from "./errors.js";

const ASSIGN_DOMAIN = new TextEncoder().encode("IOSChain/pob/assign/v1");

function weight(validator: Uint8Array, txid: Uint8Array): bigint {
  const input = new Uint8Array(ASSIGN_DOMAIN.length + validator.length + txid.length);
  input.set(ASSIGN_DOMAIN);
  input.set(validator, ASSIGN_DOMAIN.length);
  input.set(txid, ASSIGN_DOMAIN.length + validator.length);
  const digest = sha256(input);
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, true);
}

/** Index in `believable` of the validator that handles `txid`. */
export function assigneeIndex(txid: Uint8Array, believable: readonly Uint8Array[]): number {
  pobCheck(txid instanceof Uint8Array && txid.length === 32, "POB_BAD_ARGUMENT", "txid must be 32 bytes");
  pobCheck(believable.length > 0, "POB_EMPTY_LEAGUE", "no believable validator to assign to (one-league mode?)");
  let best = 0;
  let bestWeight = -1n;
  believable.forEach((validator, i) => {
    const w = weight(validator, txid);
    if (w > bestWeight || (w === bestWeight && Buffer.compare(validator, believable[best]!) < 0)) {
      best = i;
      bestWeight = w;
    }
  });
  return best;
}

export function assignee(txid: Uint8Array, believable: readonly Uint8Array[]): Uint8Array {
  return believable[assigneeIndex(txid, believable)]!;
}
