/**
 * The code a call fails with, for tests that walk every rejection path: "no error" when `fn`
 * returns, the `IosError` code when it throws one; any other exception fails the test, since
 * every refusal of bad input must carry a code.
 */
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";

export const NO_ERROR = "no error";

export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof IosError, `expected a coded IosError, got ${String(error)}`);
    return error.code;
  }
  return NO_ERROR;
}

export async function codeOfAsync(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof IosError, `expected a coded IosError, got ${String(error)}`);
    return error.code;
  }
  return NO_ERROR;
}
