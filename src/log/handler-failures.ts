/**
 * Loud failures. Every exception a message or request handler throws — a peer message the
 * transport hands to a protocol, a simulated delivery, a client API route — ends here: it is
 * counted by (subsystem, code), `ios_handler_errors_total` in /metrics, and logged through the
 * subsystem's child logger. The code is the IosError's; anything else is a bug, code "INTERNAL",
 * logged with its stack.
 *
 * Log volume. A coded rejection (a malformed or forged message) is the peer's doing and can come
 * at the peer's rate, so for each (subsystem, code) only the 1st, 2nd, 4th, 8th, ... are logged
 * (at warn, with the running count): the first is always seen, a flood costs log2(n) lines, and
 * the counter has every one. INTERNAL failures are logged every time, at error: each is a bug.
 */
import { IosError } from "../errors.js";
import type { MetricFamily } from "../api/interface.js";
import { LabeledCounter } from "../api/metrics.js";
import type { Logger } from "./logger.js";

/** The code counted for an exception that is not an IosError. */
export const INTERNAL_CODE = "INTERNAL";

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export class HandlerFailures {
  readonly #counter = new LabeledCounter("ios_handler_errors_total", "Exceptions thrown by message and request handlers, by subsystem and code", ["subsystem", "code"]);
  readonly #loggers = new Map<string, Logger>();
  #total = 0;

  /** `logger`: the process's (or node's) logger, without a subsystem binding; each subsystem gets a child. */
  constructor(private readonly logger: Logger) {}

  /** Counts and logs one exception of a `subsystem` handler; `context` (peer, type, route, ...) goes into the log line. Returns its code. */
  record(subsystem: string, error: unknown, context: Readonly<Record<string, unknown>> = {}): string {
    const code = error instanceof IosError ? error.code : INTERNAL_CODE;
    this.#counter.inc([subsystem, code]);
    this.#total++;
    const count = this.#counter.get([subsystem, code]);
    const log = this.#loggerOf(subsystem);
    if (code === INTERNAL_CODE) log.error({ ...context, code, count, err: error }, "handler failed");
    else if (isPowerOfTwo(count)) log.warn({ ...context, code, count, reason: (error as IosError).message }, "handler rejected a message");
    return code;
  }

  /** Failures counted for one subsystem and code. */
  count(subsystem: string, code: string): number {
    return this.#counter.get([subsystem, code]);
  }

  /** Failures counted in all. */
  get total(): number {
    return this.#total;
  }

  /** For the node's /metrics: one counter family, `ios_handler_errors_total{subsystem,code}`. */
  metrics(): MetricFamily[] {
    return [this.#counter.family()];
  }

  #loggerOf(subsystem: string): Logger {
    let logger = this.#loggers.get(subsystem);
    if (logger === undefined) this.#loggers.set(subsystem, (logger = this.logger.child({ subsystem })));
    return logger;
  }
}
