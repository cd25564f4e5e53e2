/**
 * Structured logging (pino: one JSON object per line). A process makes one root logger in its
 * entry point (src/cli/node-command.ts) and hands it down through options; library code never
 * creates or finds a logger of its own. Each subsystem logs through a child carrying its name,
 * `logger.child({ subsystem: "bft" })`, so every line says where it comes from.
 *
 * The root writes to stderr, synchronously: stdout stays the CLI's output to its user, and the
 * lines before a crash are not lost in a buffer. Its level comes from the caller (a config) or
 * IOS_LOG_LEVEL, default "info". Tests and the simulator use a `MemoryLog`: the same pino logger,
 * whose lines are parsed into entries in memory for assertions instead of being written.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import { check } from "../errors.js";
import type { Clock } from "../runtime/interface.js";
import { LOG_LEVELS, type LogLevel } from "./levels.js";

export type Logger = PinoLogger;

export type LogErrorCode = "LOG_BAD_LEVEL" | "LOG_BAD_OPTIONS";

export { LOG_LEVELS, type LogLevel } from "./levels.js";
export const DEFAULT_LOG_LEVEL: LogLevel = "info";
/** Environment variable naming the root logger's level. */
export const LOG_LEVEL_ENV = "IOS_LOG_LEVEL";

/** Checks a level name from a config or the environment (`source` names it in the error). */
export function parseLogLevel(value: unknown, source: string): LogLevel {
  check(
    typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value),
    "LOG_BAD_LEVEL",
    `${source} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(value)}`,
  );
  return value as LogLevel;
}

/** IOS_LOG_LEVEL when set and not empty, else `fallback` (a config's level, or "info"); LOG_BAD_LEVEL for an unknown name. */
export function logLevelFromEnv(fallback: LogLevel = DEFAULT_LOG_LEVEL, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const value = env[LOG_LEVEL_ENV];
  return value === undefined || value === "" ? fallback : parseLogLevel(value, LOG_LEVEL_ENV);
}

/** Level names, not pino's numbers, in every line: readable without pino's table. */
const formatters = { level: (label: string) => ({ level: label }) };

export interface RootLoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; default stderr (fd 2), written synchronously. */
  readonly destination?: DestinationStream;
}

/** The process's root logger: JSON lines with time (ms since the epoch), pid and hostname. */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const level = options.level === undefined ? logLevelFromEnv() : parseLogLevel(options.level, "log level");
  return pino({ level, formatters }, options.destination ?? pino.destination({ dest: 2, sync: true }));
}

/** One logged line, parsed. */
export interface LogEntry {
  readonly level: Exclude<LogLevel, "silent">;
  readonly msg: string;
  /** Present when the MemoryLog has a clock (virtual time in the simulator). */
  readonly time?: number;
  readonly [field: string]: unknown;
}

export interface MemoryLogOptions {
  /** Default "debug": tests see what production would hide. */
  readonly level?: LogLevel;
  /** Stamps entries with `clock.now()` (the simulator's virtual time); without one, entries carry no time. */
  readonly clock?: Pick<Clock, "now">;
  /** Entries kept; past it the older half is dropped (default 100,000: a long simulation stays bounded). */
  readonly limit?: number;
}

/** A logger that records its entries in memory (tests, the simulator) and writes nothing. */
export class MemoryLog {
  readonly logger: Logger;
  readonly #entries: LogEntry[] = [];
  readonly #limit: number;
  /** Entries dropped past the limit. */
  dropped = 0;

  constructor(options: MemoryLogOptions = {}) {
    this.#limit = options.limit ?? 100_000;
    check(Number.isSafeInteger(this.#limit) && this.#limit > 1, "LOG_BAD_OPTIONS", `limit must be an integer > 1, got ${this.#limit}`);
    const clock = options.clock;
    const sink: DestinationStream = {
      write: (line: string) => {
        if (this.#entries.length === this.#limit) {
          // The older half at once: amortised O(1) per entry, where dropping one at a time is O(limit).
          const drop = this.#limit >> 1;
          this.#entries.splice(0, drop);
          this.dropped += drop;
        }
        this.#entries.push(JSON.parse(line) as LogEntry);
      },
    };
    this.logger = pino(
      {
        level: parseLogLevel(options.level ?? "debug", "log level"),
        formatters,
        base: undefined,
        timestamp: clock === undefined ? false : () => `,"time":${clock.now()}`,
      },
      sink,
    );
  }

  /** Entries so far, oldest first; with `match`, only those whose fields equal every field of it. */
  entries(match: Readonly<Record<string, unknown>> = {}): LogEntry[] {
    return this.#entries.filter((entry) => Object.entries(match).every(([key, value]) => entry[key] === value));
  }

  clear(): void {
    this.#entries.length = 0;
    this.dropped = 0;
  }
}
