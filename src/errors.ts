/**
 * Typed errors with stable string codes. Every subsystem names its codes as a string union and
 * throws `IosError<ThatUnion>`, so callers (the HTTP API, the CLI, tests) branch on `code`
 * rather than on message text, and a code can travel over the wire unchanged.
 */
export class IosError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(`${code}: ${message}`);
    this.name = "IosError";
  }
}

/** Throws an `IosError` with `code` unless `condition` holds: input checks up front. */
export function check<Code extends string>(condition: unknown, code: Code, message: string): asserts condition {
  if (!condition) throw new IosError(code, message);
}

/** Invariant assertion: a failure is a bug in this program, never bad input. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}
