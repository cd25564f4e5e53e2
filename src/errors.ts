/**
 * Typed errors with stable string codes. Every subsystem names its codes as a string union in its
 * errors module and throws `IosError<ThatUnion>` (or `check<ThatUnion>(...)`), so callers (the HTTP
 * API, the CLI, tests) branch on `code` rather than on message text, and a code can travel over the
 * wire unchanged. A code may carry a typed `detail` (e.g. which transaction of a block failed, and why).
 */
export class IosError<Code extends string = string, Detail extends Record<string, unknown> = Record<string, unknown>> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly detail?: Detail,
  ) {
    // `${code}: ${message}` is a contract: the worker pool revives the code from a cloned message.
    super(`${code}: ${message}`);
    this.name = "IosError";
  }
}

/** Throws an `IosError` with `code` (and `detail`) unless `condition` holds: input checks up front. */
export function check<Code extends string, Detail extends Record<string, unknown> = Record<string, unknown>>(
  condition: unknown,
  code: Code,
  message: string,
  detail?: Detail,
): asserts condition {
  if (!condition) throw new IosError<Code, Detail>(code, message, detail);
}

/**
 * Whether `error` is an `IosError` whose code is one of `codes`: how a catch site tells one family
 * of codes (a subsystem's catalogue, e.g. `LEDGER_ERROR_CODES`) from every other coded error.
 */
export function hasCodeIn<Code extends string>(error: unknown, codes: readonly Code[]): error is IosError<Code> {
  return error instanceof IosError && (codes as readonly string[]).includes(error.code);
}

/** Invariant assertion: a failure is a bug in this program, never bad input. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}
