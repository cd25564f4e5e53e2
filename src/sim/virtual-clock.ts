/**
 * A node's `Clock` inside the simulator: virtual time, timers queued as simulator events. A
 * stopped clock (its node crashed) fires nothing and accepts no new timers, so the old
 * incarnation's protocol objects go silent.
 */
import type { Clock, TimerHandle } from "../runtime/interface.js";
import { checkTimerArguments } from "../runtime/system.js";
import { TraceKind, type TraceRecorder } from "./trace.js";

/** Wall time of virtual time 0: 2024-01-01T00:00:00Z, any fixed value would do. */
export const SIM_WALL_ORIGIN_MS = 1_704_067_200_000;

/** What a clock needs from the simulator. */
export interface ClockHost {
  now(): number;
  schedule(atMs: number, fire: () => boolean): void;
  /** Timer ids are unique across the simulation, so they can name timers in the trace. */
  allocateTimerId(): number;
  readonly trace: TraceRecorder;
}

export class VirtualClock implements Clock {
  private readonly pending = new Set<number>();
  private running = true;
  /** While paused: the timers that came due, fired in order at `thaw`. Undefined while running. */
  private due: { readonly id: number; readonly callback: () => void }[] | undefined;

  constructor(
    private readonly host: ClockHost,
    /** Node index written in trace records. */
    private readonly ownerIndex: number,
    /** Owner's name in log lines. */
    private readonly ownerName: string,
  ) {}

  now(): number {
    return this.host.now();
  }

  /**
   * Virtual time from a fixed origin, so block timestamps replay identically; whole milliseconds,
   * as `Date.now()` (latencies make virtual time fractional, and a block timestamp must be an
   * integer: the one-league BFT leader's blocks were refused BLOCK_BAD_FIELD in the simulator).
   */
  wallNow(): number {
    return Math.floor(SIM_WALL_ORIGIN_MS + this.host.now());
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    checkTimerArguments(delayMs, callback);
    const id = this.host.allocateTimerId();
    if (this.running) {
      this.pending.add(id);
      this.host.schedule(this.host.now() + delayMs, () => this.fire(id, callback));
    }
    return { id };
  }

  cancelTimer(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Drops every pending timer for good (the owner crashed). */
  stop(): void {
    this.running = false;
    this.pending.clear();
    this.due = undefined;
  }

  /** Holds every timer that comes due from now on (the owner is paused, SIGSTOP). */
  freeze(): void {
    this.due ??= [];
  }

  /** Fires, now and in order, the timers that came due while frozen (a resumed process's stale timers). */
  thaw(): void {
    const due = this.due ?? [];
    this.due = undefined;
    for (const { id, callback } of due) this.host.schedule(this.host.now(), () => this.fire(id, callback));
  }

  private fire(id: number, callback: () => void): boolean {
    if (!this.pending.has(id)) return false;
    if (this.due !== undefined) {
      this.due.push({ id, callback });
      return false;
    }
    this.pending.delete(id);
    const host = this.host;
    host.trace.record(TraceKind.timer, host.now(), [this.ownerIndex, id]);
    if (host.trace.logging) host.trace.log(`t=${host.now()} timer ${this.ownerName} #${id}`);
    callback();
    return true;
  }
}
