/**
 * Devnet launcher error codes: a `DevnetError` names what went wrong (bad options, a validator
 * that exited or never became ready, a shard that did not finalize) so the CLI can print it and
 * tests can branch on it.
 */
import { IosError } from "../errors.js";

export type DevnetErrorCode =
  | "DEVNET_BAD_OPTION"
  | "DEVNET_DIR_NOT_EMPTY"
  | "DEVNET_BAD_MANIFEST"
  | "DEVNET_NO_PORT"
  | "DEVNET_NODE_EXITED"
  | "DEVNET_NOT_READY"
  | "DEVNET_NOT_FINAL";

export class DevnetError extends IosError<DevnetErrorCode> {
  constructor(code: DevnetErrorCode, message: string, detail?: Record<string, unknown>) {
    super(code, message, detail);
    this.name = "DevnetError";
  }
}

/** Throws a `DevnetError` unless `condition` holds. */
export function devnetCheck(condition: unknown, code: DevnetErrorCode, message: string): asserts condition {
  if (!condition) throw new DevnetError(code, message);
}
