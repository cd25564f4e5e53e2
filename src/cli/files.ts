/** File reads and writes of the CLI, with errors a person can act on. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { IosError } from "../errors.js";
import type { CliErrorCode } from "./command.js";

/**
 * Kernel pseudo-filesystems: no place for output, and Node's recursive mkdir under /proc never
 * returns (it spins at 100% CPU, deaf to signals), so such paths are refused before any mkdir.
 */
const SYSTEM_ROOTS = ["/proc", "/sys", "/dev"] as const;

/**
 * A user-given output path (`option` names it in the message), returned as given after
 * refusing one that is, or resolves through symbolic links to, a path under /proc, /sys or /dev
 * (CLI_BAD_PATH). Links are resolved on the nearest existing ancestor, asynchronously, so even
 * a slow file system leaves signal handling alive.
 */
export async function outputPath(path: string, option: string): Promise<string> {
  const absolute = resolve(path);
  let existing = absolute;
  let real: string | undefined;
  while (real === undefined) {
    try {
      real = join(await realpath(existing), relative(existing, absolute));
    } catch (error) {
      const parent = dirname(existing);
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === existing) real = absolute;
      else existing = parent;
    }
  }
  for (const root of SYSTEM_ROOTS) {
    for (const candidate of new Set([absolute, real])) {
      if (candidate === root || candidate.startsWith(`${root}/`)) {
        const via = candidate === absolute ? "" : ` (it resolves to ${candidate})`;
        throw new IosError<CliErrorCode>("CLI_BAD_PATH", `${option} ${path} is under ${root}${via}, a kernel pseudo-filesystem; choose a directory for files`);
      }
    }
  }
  return path;
}

/**
 * The bytes of a user-given input file of at most `maxBytes`: a device or a pipe (/dev/zero
 * never ends) or an oversized file is refused before reading (CLI_BAD_PATH), an unreadable one
 * is CLI_IO.
 */
export function readInputFile(file: string, maxBytes: number): Uint8Array {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new IosError<CliErrorCode>("CLI_BAD_PATH", `${file} is not a regular file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof IosError) throw error;
    throw new IosError<CliErrorCode>("CLI_IO", `cannot read ${file}: ${(error as Error).message}`);
  }
  if (size > maxBytes) throw new IosError<CliErrorCode>("CLI_BAD_PATH", `${file} has ${size} bytes, more than the ${maxBytes} this command reads`);
  try {
    return new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new IosError<CliErrorCode>("CLI_IO", `cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Writes `text` (or bytes) to `file`, creating its directory; refuses to overwrite unless `force`. */
export function writeNewFile(file: string, text: string | Uint8Array, force: boolean, mode = 0o644): void {
  if (!force && existsSync(file)) throw new IosError<CliErrorCode>("CLI_FILE_EXISTS", `${file} already exists; choose another path or pass --force`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode });
  } catch (error) {
    throw new IosError<CliErrorCode>("CLI_IO", `cannot write ${file}: ${(error as Error).message}`);
  }
}
