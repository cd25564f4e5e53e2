/**
 * Live progress of a load run: on a terminal, one line rewritten in place; otherwise (a pipe, a
 * CI log) a plain line per period, so logs stay readable.
 *
 * API: class `ProgressDisplay` (`start(sample)`, `render()`, `note(line)`, `stop()`), `formatProgress(snapshot)`.
 */
import type { Writable } from "node:stream";
import { check } from "../errors.js";
import type { LoadErrorCode } from "./errors.js";

export interface ProgressSnapshot {
  readonly elapsedMs: number;
  readonly submitted: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Transactions with an optimistic confirmation (PoB); left out of the line while 0. */
  readonly optimistic: number;
  readonly final: number;
  /** Finals in the last complete second. */
  readonly finalPerSecond: number;
  /** Transactions submitted and not yet final or rejected. */
  readonly inFlight: number;
}

export function formatProgress(s: ProgressSnapshot): string {
  const optimistic = s.optimistic > 0 ? ` optimistic ${s.optimistic}` : "";
  return `[${(s.elapsedMs / 1000).toFixed(1)}s] submitted ${s.submitted} accepted ${s.accepted} rejected ${s.rejected}${optimistic} final ${s.final} (${s.finalPerSecond} tx/s) in flight ${s.inFlight}`;
}

/** "Clear the line" (ECMA-48 EL, erase entire line) after a carriage return. */
const REWRITE = "\r\x1b[2K";

export class ProgressDisplay {
  readonly #out: Writable & { isTTY?: boolean };
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sample: (() => ProgressSnapshot) | undefined;
  #wroteInPlace = false;

  constructor(out: Writable & { isTTY?: boolean }, intervalMs: number) {
    check<LoadErrorCode>(Number.isFinite(intervalMs) && intervalMs >= 50, "LOAD_BAD_OPTION", `progress interval must be ≥ 50 ms, got ${intervalMs}`);
    this.#out = out;
    this.#intervalMs = intervalMs;
  }

  get isTTY(): boolean {
    return this.#out.isTTY === true;
  }

  /** Renders every interval from `sample()` until `stop()`. */
  start(sample: () => ProgressSnapshot): void {
    this.#sample = sample;
    this.#timer = setInterval(() => this.render(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Writes the current line now. */
  render(): void {
    if (this.#sample === undefined) return;
    const line = formatProgress(this.#sample());
    if (this.isTTY) {
      this.#out.write(`${REWRITE}${line}`);
      this.#wroteInPlace = true;
    } else {
      this.#out.write(`${line}\n`);
    }
  }

  /** Writes `line` at once on a line of its own (an event, e.g. a fault); the progress line goes on below it. */
  note(line: string): void {
    this.#out.write(this.#wroteInPlace ? `${REWRITE}${line}\n` : `${line}\n`);
    this.#wroteInPlace = false;
  }

  /** Writes a last line and stops; a terminal's cursor ends on a fresh line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.render();
    if (this.#wroteInPlace) this.#out.write("\n");
    this.#sample = undefined;
  }
}
