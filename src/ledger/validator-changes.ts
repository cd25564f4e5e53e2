/**
 * The validator changes a shard's final chain holds (epoch decisions point 3: a registration or
 * leave final in epoch e−1 takes effect in epoch e): what the identity chain's configuration of
 * epoch e adds to and removes from the set of e−1, read from the shard's final blocks of e−1.
 * A pure function of the blocks' transactions and of which of them the shard applied (a
 * transaction the kernel refused stays in its block unapplied: src/node/shard-state.ts), so every
 * replica of the shard lists the same changes in the same order.
 *
 * Every applied registration or leave is listed, in chain order (height, then position in the
 * block), for the transition to replay against the set of e−1:
 *  - `register`: key, bond amount (the stake), bond outpoint, PoP — for the chain the shard's
 *    kernel was given, the only one it applies registrations of (WRONG_CHAIN otherwise);
 *  - `leave`: key, bond outpoint, payout owner;
 *  - `release`: key, bond outpoint, payout owner — a departed validator's bond spent, which the
 *    next configuration no longer lists among its departures.
 *
 * API: `validatorChanges(blocks, isApplied)`, `validatorChangeOf(tx, at)` (one transaction's).
 */
import { TX_PREFIX, TxKind } from "./kinds/interface.js";
import { RegistrationOperation, registrationKind } from "./kinds/registration.js";
import { transactionIdOfEncoding } from "./kinds/registry.js";
import { registrationBond } from "./bond.js";

/** Where a change became final. */
export interface ChangeLocation {
  readonly height: number;
  /** Position of its transaction in the block body. */
  readonly position: number;
  readonly txid: Uint8Array;
}

export interface ValidatorRegistrationChange extends ChangeLocation {
  readonly operation: "register";
  readonly publicKey: Uint8Array;
  /** The bond amount: the validator's stake. */
  readonly stake: bigint;
  readonly bond: Uint8Array;
  /** Proof of possession for the chain's genesisPopChainId. */
  readonly pop: Uint8Array;
}

export interface ValidatorLeaveChange extends ChangeLocation {
  readonly operation: "leave";
  readonly publicKey: Uint8Array;
  readonly bond: Uint8Array;
  readonly payout: Uint8Array;
}

export interface ValidatorReleaseChange extends ChangeLocation {
  readonly operation: "release";
  readonly publicKey: Uint8Array;
  readonly bond: Uint8Array;
  readonly payout: Uint8Array;
}

export type ValidatorChange = ValidatorRegistrationChange | ValidatorLeaveChange | ValidatorReleaseChange;

/** One final block's transactions, body order. */
export interface FinalTransactions {
  readonly height: number;
  readonly transactions: readonly Uint8Array[];
}

/**
 * The changes of `blocks` (ascending heights), in chain order; `isApplied(txid, height, position)`
 * says whether the shard applied that transaction there.
 */
export function validatorChanges(
  blocks: readonly FinalTransactions[],
  isApplied: (txid: Uint8Array, height: number, position: number) => boolean,
): ValidatorChange[] {
  const changes: ValidatorChange[] = [];
  for (const { height, transactions } of blocks) {
    transactions.forEach((tx, position) => {
      if (tx[TX_PREFIX.offset.kind] !== TxKind.ValidatorRegistration) return;
      const txid = transactionIdOfEncoding(tx);
      if (isApplied(txid, height, position)) changes.push(validatorChangeOf(tx, { height, position, txid }));
    });
  }
  return changes;
}

/** The change a registration, leave or release `tx` (its kind is the registration kind: the caller checked) makes, final at `at`. */
export function validatorChangeOf(tx: Uint8Array, at: ChangeLocation): ValidatorChange {
  const decoded = registrationKind.decode(tx);
  const located = { ...at, publicKey: decoded.validator };
  if (decoded.operation === RegistrationOperation.Leave) return { ...located, operation: "leave", bond: decoded.bond, payout: decoded.payout };
  if (decoded.operation === RegistrationOperation.Release) return { ...located, operation: "release", bond: decoded.bond, payout: decoded.payout };
  return { ...located, operation: "register", stake: decoded.bond, bond: registrationBond(decoded.validator), pop: decoded.pop };
}
