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
 *  - `register`: key, bond amount (the stake), bond outpoint, PoP, for a PoP naming `popChainId`;
 *  - `foreign`: a register whose PoP names another chain: its key proved possession elsewhere
 *    only, so it is never admitted, and its bond is to be released as a leave's (to be decided by
 *    the transition: it carries no payout owner, see the epoch notes);
 *  - `leave`: key, bond outpoint, payout owner.
 *
 * API: `validatorChanges(blocks, popChainId, isApplied)`.
 */
import { TX_PREFIX, TxKind } from "./kinds/interface.js";
import { RegistrationOperation, registrationKind } from "./kinds/registration.js";
import { transactionIdOfEncoding } from "./kinds/registry.js";
import { registrationBond } from "./bond.js";
import { sameBytes } from "../bytes.js";

/** Where a change became final. */
export interface ChangeLocation {
  readonly height: number;
  /** Position of its transaction in the block body. */
  readonly position: number;
  readonly txid: Uint8Array;
}

export interface ValidatorRegistrationChange extends ChangeLocation {
  readonly operation: "register" | "foreign";
  readonly publicKey: Uint8Array;
  /** The bond amount: the validator's stake. */
  readonly stake: bigint;
  readonly bond: Uint8Array;
  /** Proof of possession for `chain`. */
  readonly pop: Uint8Array;
  readonly chain: Uint8Array;
}

export interface ValidatorLeaveChange extends ChangeLocation {
  readonly operation: "leave";
  readonly publicKey: Uint8Array;
  readonly bond: Uint8Array;
  readonly payout: Uint8Array;
}

export type ValidatorChange = ValidatorRegistrationChange | ValidatorLeaveChange;

/** One final block's transactions, body order. */
export interface FinalTransactions {
  readonly height: number;
  readonly transactions: readonly Uint8Array[];
}

/**
 * The changes of `blocks` (ascending heights) for a chain whose PoPs name `popChainId`
 * (genesisPopChainId), in chain order; `isApplied(txid, height, position)` says whether the shard
 * applied that transaction there.
 */
export function validatorChanges(
  blocks: readonly FinalTransactions[],
  popChainId: Uint8Array,
  isApplied: (txid: Uint8Array, height: number, position: number) => boolean,
): ValidatorChange[] {
  const changes: ValidatorChange[] = [];
  for (const { height, transactions } of blocks) {
    transactions.forEach((tx, position) => {
      if (tx[TX_PREFIX.offset.kind] !== TxKind.ValidatorRegistration) return;
      const txid = transactionIdOfEncoding(tx);
      if (!isApplied(txid, height, position)) return;
      const decoded = registrationKind.decode(tx);
      const at = { height, position, txid, publicKey: decoded.validator };
      if (decoded.operation === RegistrationOperation.Leave) {
        changes.push({ ...at, operation: "leave", bond: decoded.bond, payout: decoded.payout });
        return;
      }
      const operation = sameBytes(decoded.chain, popChainId) ? "register" : "foreign";
      changes.push({ ...at, operation, stake: decoded.bond, bond: registrationBond(decoded.validator), pop: decoded.pop, chain: decoded.chain });
    });
  }
  return changes;
}
