/** File writes of the CLI, with errors a person can act on. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { IosError } from "../errors.js";
import type { CliErrorCode } from "./command.js";

/** Writes `text` to `file`, creating its directory; refuses to overwrite unless `force`. */
export function writeNewFile(file: string, text: string, force: boolean, mode = 0o644): void {
  if (!force && existsSync(file)) throw new IosError<CliErrorCode>("CLI_FILE_EXISTS", `${file} already exists; choose another path or pass --force`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text, { mode });
  } catch (error) {
    throw new IosError<CliErrorCode>("CLI_IO", `cannot write ${file}: ${(error as Error).message}`);
  }
}
