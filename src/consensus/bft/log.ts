/**
 * Where a BFT node keeps its finalized heights and its votes. The node appends each record once,
 * in height order, before delivering it; on restart it resumes after `lastHeight` and serves
 * catch-up requests from the log. The vote state is PBFT's stable storage (Castro & Liskov 1999,
 * §4.1): saved before the node can sign in a view, so that a restarted node never signs again in
 * a view it may already have signed in, and still reports its lock. The PoB layer backs this with
 * the block store; tests and the simulator use `MemoryFinalityLog`, shared across a node's
 * incarnations when its "disk" survives a crash.
 */
import { check } from "../../errors.js";
import type { FinalityRecord, PreparedCertificate } from "./codec.js";

/** The last view a node entered at an unfinished height, and the value it is locked on there. */
export interface VoteState {
  readonly height: number;
  readonly view: number;
  readonly lock: (PreparedCertificate & { readonly proposal: Uint8Array }) | undefined;
}

export interface FinalityLog {
  /** The last saved vote state, if any. */
  readonly votes: VoteState | undefined;
  /** Replaces the vote state; must be durable when it returns. */
  saveVotes(state: VoteState): void;
  /** Height of the last record, or `firstHeight - 1` when empty. */
  readonly lastHeight: number;
  get(height: number): FinalityRecord | undefined;
  /** Appends the record of `lastHeight + 1`. */
  append(record: FinalityRecord): void;
  /** Releases what the log holds open (a file); the log is not used afterwards by its owner. */
  close(): void;
}

/**
 * Opens a driver's finality log for a committee of `participants` whose next height is
 * `firstHeight`: a file in production (src/node/consensus/finality-log.ts), memory in tests, the
 * same memory object across a node's incarnations in the simulator.
 */
export type FinalityLogOpener = (firstHeight: number, participants: number) => FinalityLog;

/** A fresh log in memory for every opening (a node without durable votes). */
export const memoryFinalityLogs: FinalityLogOpener = (firstHeight) => new MemoryFinalityLog(firstHeight);

export class MemoryFinalityLog implements FinalityLog {
  private readonly records: FinalityRecord[] = [];
  votes: VoteState | undefined;

  constructor(readonly firstHeight = 1) {
    check(Number.isSafeInteger(firstHeight) && firstHeight >= 0, "BFT_BAD_INPUT", `firstHeight must be a non-negative safe integer, got ${String(firstHeight)}`);
  }

  get lastHeight(): number {
    return this.firstHeight + this.records.length - 1;
  }

  get(height: number): FinalityRecord | undefined {
    return this.records[height - this.firstHeight];
  }

  append(record: FinalityRecord): void {
    check(record.height === this.lastHeight + 1, "BFT_BAD_INPUT", `expected the record of height ${this.lastHeight + 1}, got ${record.height}`);
    this.records.push(record);
  }

  saveVotes(state: VoteState): void {
    this.votes = state;
  }

  /** Nothing to release: the records stay readable (a simulated disk outlives its node). */
  close(): void {}

  /** Every record, oldest first. */
  all(): readonly FinalityRecord[] {
    return this.records;
  }
}
