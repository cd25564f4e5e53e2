/**
 * The sources of nondeterminism every protocol is written against. Real code gets wall time and
 * a CSPRNG; the deterministic simulator gets virtual time and a seeded generator, so any
 * simulated run is replayed exactly from its seed.
 */

export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch fixed for the clock's lifetime (monotonic). */
  now(): number;
  /** Milliseconds since the Unix epoch: block timestamps and uptime, never timeouts. */
  wallNow(): number;
  /** Runs `callback` once after `delayMs` (≥ 0). */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  cancelTimer(handle: TimerHandle): void;
}

export interface Rng {
  /** Uniform integer in [0, 2^32). */
  nextU32(): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
  /** `length` uniform random bytes. */
  bytes(length: number): Uint8Array;
}
