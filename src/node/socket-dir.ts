/**
 * The private directory of a validator's Unix socket: the client API's uWS listener behind the
 * HTTP edge (src/api/edge.ts, `upstreamPath`).
 *
 * One directory per data directory, `<tmpdir>/ios-uws-<first 16 hex digits of SHA-256(the data
 * directory's real path)>`, mode 0700, so that
 *  - a validator killed without its stop (SIGKILL, a crash) leaves one directory, which its next
 *    start takes back, instead of a new one per start;
 *  - a socket there that still answers is another validator running on the same data directory:
 *    the start is refused (NODE_DATA_DIR_IN_USE) before anything is opened, since two processes
 *    appending to one store would each overwrite what the other acknowledged.
 * A socket's path is limited to 107 bytes (sun_path), which a data directory's path may exceed:
 * hence the temporary directory, not the data directory.
 * A path there that is not a directory of this user (a symbolic link, another user's) is refused
 * (NODE_SOCKET_DIR_UNSAFE), never followed or removed.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sha256 } from "../crypto/sha256.js";
import { IosError } from "../errors.js";
import { toHex } from "../hex.js";
import type { NodeErrorCode } from "./validator.js";

export const SOCKET_FILE = "uws.sock";
/** The claiming process's pid, for `releaseSocketDirectory`. */
const OWNER_FILE = "pid";
const DIRECTORY_PREFIX = "ios-uws-";
/** Hex digits of the data directory's digest in the name: 64 bits, no two data directories of one machine alike. */
const NAME_HEX_DIGITS = 16;
/** How long a socket left there gets to answer before it counts as a dead validator's. */
const PROBE_TIMEOUT_MS = 1000;

/** The socket directory of the validator whose data directory is `dataDir` (resolved through symbolic links when it exists). */
export function socketDirectoryOf(dataDir: string): string {
  const absolute = resolve(dataDir);
  const real = existsSync(absolute) ? realpathSync(absolute) : absolute;
  return join(tmpdir(), DIRECTORY_PREFIX + toHex(sha256(new TextEncoder().encode(real))).slice(0, NAME_HEX_DIGITS));
}

/** Whether something accepts connections on the Unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ path });
    const finish = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      done(answered);
    };
    // A listener that accepts but stalls is alive too; one that never accepts within the timeout is not.
    const timer = setTimeout(() => finish(false), PROBE_TIMEOUT_MS);
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

/**
 * Makes `dataDir`'s socket directory afresh and returns it: removes one a killed validator left,
 * refuses (NODE_DATA_DIR_IN_USE) while its socket answers or when another start made it meanwhile,
 * (NODE_SOCKET_DIR_UNSAFE) a path there that is not this user's directory, and
 * (NODE_SOCKET_DIR_FAILED) a directory it cannot make (the temporary directory unusable).
 */
export async function claimSocketDirectory(dataDir: string): Promise<string> {
  const directory = socketDirectoryOf(dataDir);
  let found: ReturnType<typeof lstatSync> | undefined;
  try {
    found = lstatSync(directory);
  } catch {
    found = undefined;
  }
  if (found !== undefined) {
    const own = found.isDirectory() && (process.getuid === undefined || found.uid === process.getuid());
    if (!own) throw new IosError<NodeErrorCode>("NODE_SOCKET_DIR_UNSAFE", `${directory} (the socket directory of ${dataDir}) is not a directory of this user; remove it`);
    if (await answers(join(directory, SOCKET_FILE))) {
      throw new IosError<NodeErrorCode>("NODE_DATA_DIR_IN_USE", `another validator runs on the data directory ${dataDir} (its socket ${join(directory, SOCKET_FILE)} answers)`);
    }
    rmSync(directory, { recursive: true, force: true });
  }
  try {
    // Not recursive: a directory made meanwhile by another start is an error, not shared.
    mkdirSync(directory, { mode: 0o700 });
  } catch (error) {
    // Absent a moment ago: another start on the same data directory made it meanwhile.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new IosError<NodeErrorCode>("NODE_DATA_DIR_IN_USE", `another validator is starting on the data directory ${dataDir} (it made ${directory} meanwhile)`);
    }
    throw new IosError<NodeErrorCode>("NODE_SOCKET_DIR_FAILED", `cannot make the socket directory ${directory} of ${dataDir}: ${(error as Error).message}`);
  }
  writeFileSync(join(directory, OWNER_FILE), String(process.pid));
  return directory;
}

/**
 * Removes the socket directory of the validator on `dataDir` once its process `pid` has exited (a
 * supervisor's cleanup after a kill), only if that process claimed it: a start refused because
 * another validator runs there leaves that validator's directory alone.
 */
export function releaseSocketDirectory(dataDir: string, pid: number): void {
  const directory = socketDirectoryOf(dataDir);
  let owner: string;
  try {
    owner = readFileSync(join(directory, OWNER_FILE), "utf8");
  } catch {
    return;
  }
  if (owner === String(pid)) rmSync(directory, { recursive: true, force: true });
}
