/**
 * Slashing as a ledger fact (white paper §7.2: "the validator who signed the invalid block would
 * be detected and held accountable … all its previous blocks … re-checked"; issue 12 defect 4).
 *
 * When a sampled signature of a believable producer's optimistic block is invalid, the shard's
 * execution (finalization.ts) derives, identically on every replica, one SlashingEvidence
 * transaction (src/ledger/kinds/slashing.ts) and puts it last in that height's final block:
 *   1. the evidence: the offender's seal over a block holding the forged transaction;
 *   2. the bond (src/ledger/bond.ts) is spent in full;
 *   3. compensation: every owner whose input an earlier forgery of the offender spent without a
 *      valid signature, in a block that became final this epoch, lost that input's amount; the
 *      bond pays each loss in full when it covers their sum, otherwise pro rata (⌊loss × bond /
 *      Σ losses⌋, so the shortfall is shared in proportion and recorded as `unpaid`); at most
 *      MAX_COMPENSATIONS victims are paid, the largest losses first (a forger escapes sampling
 *      about (1 − p)/p times on average, so this bound binds only a forger that is both lucky and
 *      prolific);
 *   4. the rest of the bond is burned: the UTXO supply falls by exactly that amount.
 * The believability account (stake, Servi, reputation zeroed, excluded) changes at commit.
 *
 * API: `compensate(losses, bond)`, `makeSlashing(input)`, `verifySlashing(tx, offender, verifier?)`.
 */
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { IosError, check } from "../../errors.js";
import { toHex } from "../../hex.js";
import { MAX_COMPENSATIONS, slashingKind, type Slashing } from "../../ledger/kinds/slashing.js";
import { TxKind } from "../../ledger/kinds/interface.js";
import type { TxOutput } from "../../ledger/kinds/transfer.js";
import type { Bond } from "../../ledger/bond.js";
import type { PobErrorCode } from "./errors.js";
import { decodeEvidence, encodeEvidence, verifyEvidence, type Evidence } from "./evidence.js";
import { sameBytes } from "../../bytes.js";

/** One victim's loss: the owner and the amount forged away from it. */
export interface Loss {
  readonly owner: Uint8Array;
  readonly amount: bigint;
}

export interface Compensation {
  /** Payments, owners ascending (the encoding's order). */
  readonly payments: readonly TxOutput[];
  /** What stays of the bond after the payments: burned. */
  readonly burned: bigint;
  /** Losses left unpaid (the bond fell short, or beyond MAX_COMPENSATIONS victims). */
  readonly unpaid: bigint;
}

/** Merges losses per owner and pays them from `bond` (module doc, step 3). */
export function compensate(losses: readonly Loss[], bond: bigint): Compensation {
  const byOwner = new Map<string, Loss>();
  for (const { owner, amount } of losses) {
    const key = toHex(owner);
    byOwner.set(key, { owner, amount: (byOwner.get(key)?.amount ?? 0n) + amount });
  }
  const total = [...byOwner.values()].reduce((sum, loss) => sum + loss.amount, 0n);
  // The largest losses first, ties by owner: a deterministic choice of whom the cap leaves out.
  const paid = [...byOwner.values()]
    .sort((a, b) => (a.amount === b.amount ? Buffer.compare(a.owner, b.owner) : a.amount > b.amount ? -1 : 1))
    .slice(0, MAX_COMPENSATIONS);
  const payable = paid.reduce((sum, loss) => sum + loss.amount, 0n);
  const payments = paid
    .map(({ owner, amount }) => ({ owner, amount: payable <= bond ? amount : (amount * bond) / payable }))
    .filter((payment) => payment.amount > 0n)
    .sort((a, b) => Buffer.compare(a.owner, b.owner));
  const spent = payments.reduce((sum, payment) => sum + payment.amount, 0n);
  return { payments, burned: bond - spent, unpaid: total - spent };
}

export interface SlashingInput {
  readonly epoch: number;
  readonly shard: number;
  readonly height: number;
  readonly evidence: Evidence;
  readonly bond: Bond;
  readonly losses: readonly Loss[];
}

/** The slashing transaction of `input` and what it pays and burns. */
export function makeSlashing(input: SlashingInput): { readonly transaction: Uint8Array; readonly compensation: Compensation } {
  const { bond } = input;
  check<PobErrorCode>(sameBytes(bond.validator, input.evidence.header.producer), "POB_BAD_ARGUMENT", "the bond is not the evidence's producer's");
  const compensation = compensate(input.losses, bond.amount);
  const transaction = slashingKind.encode({
    kind: TxKind.SlashingEvidence, epoch: input.epoch, shard: input.shard, height: input.height, offender: bond.validator,
    bond: bond.outpoint, bondAmount: bond.amount, compensations: compensation.payments, evidence: encodeEvidence(input.evidence),
  });
  return { transaction, compensation };
}

/**
 * Checks a slashing transaction offline against its offender's key: it decodes, and its evidence
 * proves the offender sealed a block holding a transaction with an invalid signature. Throws
 * TX_* for a malformed transaction, POB_* (the evidence's verdict code) otherwise.
 */
export function verifySlashing(tx: Uint8Array, offender: Uint8Array, verifier?: Ed25519Verifier): Slashing {
  const slashing = slashingKind.decode(tx);
  check<PobErrorCode>(sameBytes(slashing.offender, offender), "POB_EVIDENCE_WRONG_PRODUCER", "the slashing names another offender");
  const verdict = verifyEvidence(decodeEvidence(slashing.evidence), offender, verifier);
  if (!verdict.valid) throw new IosError<PobErrorCode>(verdict.code, verdict.reason);
  return slashing;
}
