/**
 * The production `Clock` and `Rng`: monotonic wall time with Node timers, and the operating
 * system's CSPRNG. The simulator supplies the deterministic counterparts (src/sim/).
 */
import { randomFillSync } from "node:crypto";
import { performance } from "node:perf_hooks";
import { IosError, check } from "../errors.js";
import { checkLength, floatOf53Bits } from "./seeded-rng.js";
import type { Clock, Rng, TimerHandle } from "./interface.js";

export type ClockErrorCode = "CLOCK_BAD_DELAY" | "CLOCK_BAD_CALLBACK";

/** Node clamps larger setTimeout delays to 1 ms; longer timers are chained instead. */
const MAX_NODE_TIMEOUT_MS = 2 ** 31 - 1;

/** Shared by every Clock implementation. The message is built only on failure: timers are a hot path. */
export function checkTimerArguments(delayMs: number, callback: () => void): void {
  if (!(typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0)) {
    throw new IosError<ClockErrorCode>(
      "CLOCK_BAD_DELAY",
      `timer delay must be a finite number of milliseconds >= 0, got ${String(delayMs)}`,
    );
  }
  check(typeof callback === "function", "CLOCK_BAD_CALLBACK", "timer callback must be a function");
}

export interface SystemClockOptions {
  /** Unreferenced timers do not keep the process alive (default false). */
  unref?: boolean;
}

/** Monotonic time (performance.now) from the clock's creation; timers on setTimeout. */
export class SystemClock implements Clock {
  private readonly origin = performance.now();
  private readonly pending = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  constructor(private readonly options: SystemClockOptions = {}) {}

  now(): number {
    return performance.now() - this.origin;
  }

  wallNow(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    checkTimerArguments(delayMs, callback);
    const id = this.nextId++;
    this.arm(id, this.now() + delayMs, callback);
    return { id };
  }

  cancelTimer(handle: TimerHandle): void {
    const timeout = this.pending.get(handle.id);
    if (timeout === undefined) return;
    clearTimeout(timeout);
    this.pending.delete(handle.id);
  }

  /** Timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.pending.size;
  }

  /** Cancels every pending timer (node shutdown). */
  cancelAll(): void {
    for (const timeout of this.pending.values()) clearTimeout(timeout);
    this.pending.clear();
  }

  private arm(id: number, dueAt: number, callback: () => void): void {
    const remaining = Math.max(0, dueAt - this.now());
    const timeout = setTimeout(() => {
      if (dueAt - this.now() > 0 && remaining >= MAX_NODE_TIMEOUT_MS) {
        this.arm(id, dueAt, callback);
        return;
      }
      this.pending.delete(id);
      callback();
    }, Math.min(remaining, MAX_NODE_TIMEOUT_MS));
    if (this.options.unref === true) timeout.unref();
    this.pending.set(id, timeout);
  }
}

/** Bytes fetched from the OS per refill: amortises the syscall over many `nextU32` calls. */
const POOL_BYTES = 4096;

/** The OS CSPRNG (node:crypto randomFillSync), buffered for small draws. */
export class CryptoRng implements Rng {
  private readonly pool = new Uint8Array(POOL_BYTES);
  private readonly words = new Uint32Array(this.pool.buffer);
  /** Next unread word of the pool. */
  private cursor = POOL_BYTES / 4;

  nextU32(): number {
    if (this.cursor === this.words.length) {
      randomFillSync(this.pool);
      this.cursor = 0;
    }
    return this.words[this.cursor++]!;
  }

  nextFloat(): number {
    return floatOf53Bits(this);
  }

  bytes(length: number): Uint8Array {
    checkLength(length);
    return randomFillSync(new Uint8Array(length));
  }
}
