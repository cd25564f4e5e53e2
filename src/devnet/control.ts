/**
 * The control path of a running devnet: `ios devnet status|stop|restart|pause|resume N --dir D`
 * from another terminal reaches the launcher of D.
 *
 * Transport: the launcher listens on 127.0.0.1, on a port the OS picks, and writes where into
 * D/control.json (`ControlFile`: host, port, a random token and its pid; mode 0600). A client
 * opens one TCP connection per request, sends one JSON line and reads one JSON line back.
 * Why TCP on loopback, not a unix socket or request files: a unix socket's path is limited to
 * 108 bytes (a deep --dir breaks it), and watched request files race and poll; an ephemeral
 * loopback port works for any directory and answers at once. The token keeps other local users
 * (who cannot read D/control.json) from driving the devnet; a launcher that is gone leaves
 * either no file (a clean stop removes it) or a port nobody listens on (connection refused):
 * both are DEVNET_LAUNCHER_GONE.
 *
 * Phases of a request:
 *  1. client: `controlDevnet(dir, op, validator?)` reads D/control.json, connects, sends
 *     `encodeControlRequest({ token, op, validator })`;
 *  2. server: `serveControl(devnet, dir)` reads one line (at most MAX_REQUEST_BYTES), decodes it
 *     with `decodeControlRequest` (DEVNET_BAD_CONTROL for anything else, a wrong token included),
 *     runs the command on the launcher (src/devnet/launcher.ts: stopValidator, restartValidator,
 *     pauseValidator, resumeValidator, validators) and answers `encodeControlReply`: the
 *     validators' views, or the command's coded error;
 *  3. client: `decodeControlReply` (DEVNET_BAD_CONTROL when malformed) gives the views, or throws
 *     the launcher's coded error as an IosError of the same code.
 *
 * API: `serveControl`, `controlDevnet`, `encodeControlRequest`, `decodeControlRequest`,
 * `encodeControlReply`, `decodeControlReply`, CONTROL_FILE, CONTROL_OPS.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { IosError, check } from "../errors.js";
import type { DevnetErrorCode } from "./errors.js";
import type { Devnet, ValidatorView } from "./launcher.js";

export const CONTROL_FILE = "control.json";
export const CONTROL_SCHEMA = "ioschain.devnet-control/1";
export const CONTROL_OPS = ["status", "stop", "restart", "pause", "resume"] as const;
export type ControlOp = (typeof CONTROL_OPS)[number];

/** A request line: a token (64 hex digits), an op and a validator index: 4 KiB is ample and bounds what a stray client makes the launcher buffer. */
const MAX_REQUEST_BYTES = 4096;
/** A reply lists every validator (≤ 256, a few hundred bytes each). */
const MAX_REPLY_BYTES = 1 << 20;
/** A restart waits for the validator to answer (the launcher's ready timeout, 60 s): the client waits a little longer. */
const DEFAULT_CLIENT_TIMEOUT_MS = 90_000;
const TOKEN_BYTES = 32;
const TOKEN = /^[0-9a-f]{64}$/;

export interface ControlFile {
  readonly schema: typeof CONTROL_SCHEMA;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly launcherPid: number;
}

export interface ControlRequest {
  readonly token: string;
  readonly op: ControlOp;
  /** The validator index; absent for "status". */
  readonly validator?: number;
}

export type ControlReply = { readonly ok: true; readonly validators: readonly ValidatorView[] } | { readonly ok: false; readonly code: string; readonly message: string };

function badControl(message: string): IosError<DevnetErrorCode> {
  return new IosError<DevnetErrorCode>("DEVNET_BAD_CONTROL", message);
}

function parseObject(line: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw badControl(`${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw badControl(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function encodeControlRequest(request: ControlRequest): string {
  return `${JSON.stringify(request)}\n`;
}

/** A request line, checked field by field (DEVNET_BAD_CONTROL); the token's value is the server's to compare. */
export function decodeControlRequest(line: string): ControlRequest {
  check<DevnetErrorCode>(Buffer.byteLength(line) <= MAX_REQUEST_BYTES, "DEVNET_BAD_CONTROL", `a request has at most ${MAX_REQUEST_BYTES} bytes`);
  const { token, op, validator, ...rest } = parseObject(line, "the request");
  check<DevnetErrorCode>(Object.keys(rest).length === 0, "DEVNET_BAD_CONTROL", `unknown request field ${JSON.stringify(Object.keys(rest)[0])}`);
  check<DevnetErrorCode>(typeof token === "string" && TOKEN.test(token), "DEVNET_BAD_CONTROL", "the request has no token of 64 hex digits");
  check<DevnetErrorCode>(typeof op === "string" && (CONTROL_OPS as readonly string[]).includes(op), "DEVNET_BAD_CONTROL", `op must be one of ${CONTROL_OPS.join(", ")}, got ${JSON.stringify(op)}`);
  if (op === "status") {
    check<DevnetErrorCode>(validator === undefined, "DEVNET_BAD_CONTROL", "status takes no validator");
    return { token, op };
  }
  // The range is the launcher's to check (DEVNET_NO_VALIDATOR): the codec knows no devnet.
  check<DevnetErrorCode>(Number.isSafeInteger(validator), "DEVNET_BAD_CONTROL", `${op} needs a validator index (an integer), got ${JSON.stringify(validator)}`);
  return { token, op: op as ControlOp, validator: validator as number };
}

export function encodeControlReply(reply: ControlReply): string {
  return `${JSON.stringify(reply)}\n`;
}

const STATES = new Set(["running", "paused", "stopped", "exited"]);

/** A reply line (DEVNET_BAD_CONTROL when it is not one). */
export function decodeControlReply(line: string): ControlReply {
  const value = parseObject(line, "the launcher's reply");
  if (value.ok === false) {
    check<DevnetErrorCode>(typeof value.code === "string" && /^[A-Z][A-Z0-9_]*$/.test(value.code) && typeof value.message === "string", "DEVNET_BAD_CONTROL", "the launcher's refusal has no code and message");
    return { ok: false, code: value.code, message: value.message };
  }
  check<DevnetErrorCode>(value.ok === true && Array.isArray(value.validators), "DEVNET_BAD_CONTROL", "the launcher's reply has neither ok: true with validators nor ok: false");
  for (const v of value.validators as unknown[]) {
    const view = v as Record<string, unknown>;
    check<DevnetErrorCode>(
      typeof view === "object" && view !== null && Number.isInteger(view.index) && Number.isInteger(view.shard) && Number.isInteger(view.pid) && typeof view.state === "string" && STATES.has(view.state) && typeof view.http === "string",
      "DEVNET_BAD_CONTROL",
      "the launcher's reply lists a validator without index, shard, pid, state and http",
    );
  }
  return { ok: true, validators: value.validators as ValidatorView[] };
}

/** Runs one decoded request on the launcher. */
async function execute(devnet: Devnet, request: ControlRequest): Promise<readonly ValidatorView[]> {
  const index = request.validator!;
  switch (request.op) {
    case "status":
      return devnet.validators();
    case "stop":
      return [await devnet.stopValidator(index)];
    case "restart":
      return [await devnet.restartValidator(index)];
    case "pause":
      return [devnet.pauseValidator(index)];
    case "resume":
      return [devnet.resumeValidator(index)];
  }
}

/** Reads one line of at most `max` bytes from `socket`. */
function readLine(socket: Socket, max: number, what: string): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      const newline = chunk.indexOf(0x0a);
      chunks.push(newline < 0 ? chunk : chunk.subarray(0, newline));
      size += chunk.length;
      if (newline >= 0) {
        socket.off("data", onData);
        done(Buffer.concat(chunks).toString("utf8"));
      } else if (size > max) {
        socket.off("data", onData);
        fail(badControl(`${what} exceeds ${max} bytes`));
      }
    };
    socket.on("data", onData);
    socket.once("end", () => fail(badControl(`${what} ended before its newline`)));
    socket.once("error", (error) => fail(error));
  });
}

export interface ControlServer {
  readonly file: string;
  readonly port: number;
  /** Stops listening and removes D/control.json. */
  close(): Promise<void>;
}

/** Listens for control requests to `devnet` and writes D/control.json (see the file comment). */
export async function serveControl(devnet: Devnet, dir: string): Promise<ControlServer> {
  const token = randomBytes(TOKEN_BYTES);
  const server = createServer((socket) => {
    socket.on("error", () => undefined); // a client gone mid-request is no launcher fault
    void readLine(socket, MAX_REQUEST_BYTES, "the request")
      .then(async (line) => {
        const request = decodeControlRequest(line);
        check<DevnetErrorCode>(timingSafeEqual(Buffer.from(request.token, "hex"), token), "DEVNET_BAD_CONTROL", `the token is not the one in ${CONTROL_FILE}`);
        return { ok: true as const, validators: await execute(devnet, request) };
      })
      .catch((error: unknown): ControlReply => {
        if (error instanceof IosError) return { ok: false, code: error.code, message: error.message.replace(`${error.code}: `, "") };
        return { ok: false, code: "DEVNET_BAD_CONTROL", message: (error as Error).message };
      })
      .then((reply) => socket.end(encodeControlReply(reply)));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new IosError<DevnetErrorCode>("DEVNET_NO_PORT", "the control server has no TCP port");
  const file = join(resolve(dir), CONTROL_FILE);
  const contents: ControlFile = { schema: CONTROL_SCHEMA, host: "127.0.0.1", port: address.port, token: token.toString("hex"), launcherPid: process.pid };
  writeFileSync(file, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  return {
    file,
    port: address.port,
    close: () =>
      new Promise<void>((done) => {
        rmSync(file, { force: true });
        server.close(() => done());
      }),
  };
}

function readControlFile(dir: string): ControlFile {
  const file = join(resolve(dir), CONTROL_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new IosError<DevnetErrorCode>("DEVNET_LAUNCHER_GONE", `${file} is absent: no \`ios devnet --dir ${dir}\` is running`);
  }
  const value = parseObject(text, file);
  check<DevnetErrorCode>(value.schema === CONTROL_SCHEMA && typeof value.host === "string" && Number.isInteger(value.port) && typeof value.token === "string" && TOKEN.test(value.token), "DEVNET_BAD_CONTROL", `${file} is not a ${CONTROL_SCHEMA} file`);
  return value as unknown as ControlFile;
}

/**
 * Sends `op` (for `validator`) to the launcher of `dir` and returns the validators' views it
 * answers. DEVNET_LAUNCHER_GONE when no launcher answers; the launcher's own coded errors
 * (DEVNET_NO_VALIDATOR, DEVNET_BAD_STATE, ...) are thrown with their code.
 */
export async function controlDevnet(dir: string, op: ControlOp, validator?: number, timeoutMs = DEFAULT_CLIENT_TIMEOUT_MS): Promise<readonly ValidatorView[]> {
  const control = readControlFile(dir);
  const line = await new Promise<string>((done, fail) => {
    const socket = connect(control.port, control.host);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      fail(new IosError<DevnetErrorCode>("DEVNET_LAUNCHER_GONE", `the launcher at ${control.host}:${control.port} (pid ${control.launcherPid}) did not answer in ${timeoutMs} ms`));
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      fail(new IosError<DevnetErrorCode>("DEVNET_LAUNCHER_GONE", `no launcher answers at ${control.host}:${control.port} (pid ${control.launcherPid}): ${error.code ?? error.message}`));
    });
    socket.once("connect", () => {
      socket.write(encodeControlRequest({ token: control.token, op, ...(validator === undefined ? {} : { validator }) }));
      readLine(socket, MAX_REPLY_BYTES, "the launcher's reply").then(done, fail).finally(() => socket.destroy());
    });
  });
  const reply = decodeControlReply(line);
  if (!reply.ok) throw new IosError(reply.code, reply.message);
  return reply.validators;
}
