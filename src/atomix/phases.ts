/**
 * Each shard decides a cross-shard transaction X once (white paper §6 safety: no shard may both
 * accept and reject X, and no lock may outlive X's unlock). A shard's phase of X moves only
 * forward; every execution path applies this rule before the UTXO kernel sees a record
 * (PoB finalization `applyRecords`), so every replica reaches the same phases:
 *
 *   record        admitted when the phase is        phase after: applied     | refused by the kernel
 *   lock X        (none)                            locked (committed when   | refused
 *                                                   X's inputs are all here)
 *   commit of X   (none: output shard) or locked    committed                | unchanged
 *   (single, or in a batch: the batch is admitted only if every X in it is, and decides each)
 *   abort of X    (none), locked or refused         aborted                  | aborted
 *
 * A record not admitted is excluded with TX_ATOMIX_DECIDED and changes nothing: a duplicate or a
 * replayed unlock, a lock that arrives after X was aborted here (it would lock forever), a second
 * lock of X in one height. A kernel refusal of a lock is final (the proof of rejection's
 * DECISIVE_CODES); refusals before the kernel (a bad signature, an unassigned producer) decide
 * nothing, so the client's genuine X can still be decided.
 *
 * API: `SETTLED_REWATCH_HEIGHTS`, `AtomixPhase`, `isAtomixKind`, `crossTxidsOfRecord`, `AtomixPhases` (what a validator looks phases up in), `AtomixDecision`, `isLockDecision`,
 * `admits(kind, phase)`, `phaseAfter(kind, applied, settles)`, `encodeAtomixPhase`/`decodeAtomixPhase`.
 */
import { sameBytes } from "../bytes.js";
import { TxKind } from "../ledger/kinds/interface.js";
import { atomixCrossTxidOf } from "../ledger/kinds/atomix-record.js";
import { atomixBatchCrossTxids } from "../ledger/kinds/atomix-batch-record.js";
import { IosError } from "../errors.js";
import type { LedgerErrorCode } from "../ledger/errors.js";

export const ATOMIX_PHASES = ["locked", "refused", "committed", "aborted"] as const;

/**
 * After a restart, the transfers that their lock settled here (X's only input shard) within this
 * many final heights are watched again (watcher.ts): their other shards may still lack the commit.
 * Also how long such a lock's proof outlives the pruning of its height (stored-proofs.ts).
 */
export const SETTLED_REWATCH_HEIGHTS = 1_000;
export type AtomixPhase = (typeof ATOMIX_PHASES)[number];

export type AtomixRecordKind = typeof TxKind.AtomixLock | typeof TxKind.AtomixUnlockCommit | typeof TxKind.AtomixUnlockAbort | typeof TxKind.AtomixUnlockBatch;

export function isAtomixKind(kind: number): kind is AtomixRecordKind {
  return kind === TxKind.AtomixLock || kind === TxKind.AtomixUnlockCommit || kind === TxKind.AtomixUnlockAbort || kind === TxKind.AtomixUnlockBatch;
}

/** The cross-shard transfers an Atomix record (its bytes, header first) decides: one, or every X of an unlock-to-commit batch; views. */
export function crossTxidsOfRecord(kind: AtomixRecordKind, record: Uint8Array): Uint8Array[] {
  return kind === TxKind.AtomixUnlockBatch ? atomixBatchCrossTxids(record) : [atomixCrossTxidOf(record)];
}

/** Where a validator finds the phase its shard's final chain reached for a cross-shard transaction. */
export interface AtomixPhases {
  phaseOf(crossTxid: Uint8Array): AtomixPhase | undefined;
}

/** What one final height decided about a cross-shard transaction. */
export interface AtomixDecision {
  readonly crossTxid: Uint8Array;
  /** The deciding transaction: X itself for a lock, the unlock's txid otherwise. */
  readonly txid: Uint8Array;
  readonly phase: AtomixPhase;
  /** Where the deciding transaction is among the height's included ones; absent when it was refused (excluded). */
  readonly position?: number;
  /**
   * The shard's stored phases held nothing for X when this height looked it up: the store writes
   * the new phase without reading X's entry back (StoredBlock `atomix`). False or absent: not
   * known to be fresh, so read.
   */
  readonly fresh?: boolean;
}

/** Whether X's own lock made the decision (locked, refused, or committed by the lock of X's only input shard), not an unlock. */
export function isLockDecision(decision: AtomixDecision): boolean {
  // An unlock's txid differs from X's in its first byte but about once in 256: no native call for those.
  return decision.txid[0] === decision.crossTxid[0] && sameBytes(decision.txid, decision.crossTxid);
}

/** Whether a record of `kind` applies when the shard's phase of its X is `phase` (module table). */
export function admits(kind: AtomixRecordKind, phase: AtomixPhase | undefined): boolean {
  switch (kind) {
    case TxKind.AtomixLock:
      return phase === undefined;
    case TxKind.AtomixUnlockCommit:
    case TxKind.AtomixUnlockBatch:
      return phase === undefined || phase === "locked";
    case TxKind.AtomixUnlockAbort:
      return phase !== "committed" && phase !== "aborted";
  }
}

/**
 * The phase after an admitted record of `kind` was applied (`applied`) or refused by the kernel;
 * undefined: unchanged. `settles`: the lock is X's only input shard's, which decides X (its lock
 * is its commit: ledger/kinds/atomix-record.ts `recordLockSettles`).
 */
export function phaseAfter(kind: AtomixRecordKind, applied: boolean, settles: boolean): AtomixPhase | undefined {
  switch (kind) {
    case TxKind.AtomixLock:
      return applied ? (settles ? "committed" : "locked") : "refused";
    case TxKind.AtomixUnlockCommit:
    case TxKind.AtomixUnlockBatch:
      return applied ? "committed" : undefined;
    case TxKind.AtomixUnlockAbort:
      return "aborted";
  }
}

/** One byte per phase, as the store keeps it. */
export function encodeAtomixPhase(phase: AtomixPhase): number {
  return ATOMIX_PHASES.indexOf(phase);
}

export function decodeAtomixPhase(byte: number): AtomixPhase {
  const phase = ATOMIX_PHASES[byte];
  if (phase === undefined) throw new IosError<LedgerErrorCode>("RECORD_MALFORMED", `${byte} is not an Atomix phase`);
  return phase;
}
