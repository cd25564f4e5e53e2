/**
 * The `ios` dispatcher: commands (and sub-commands) with their own options and `--help`, strict
 * option parsing, and one exit code convention — 0 success, 1 runtime error, 2 usage error.
 * Errors print as `error CODE: message` on stderr, followed by what to do when there is a hint.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { IosError } from "../errors.js";

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export type CliErrorCode = "CLI_USAGE" | "CLI_FILE_EXISTS" | "CLI_IO" | "CLI_INSUFFICIENT_FUNDS" | "CLI_TIMEOUT" | "CLI_TX_REJECTED";

/** A usage error: wrong or missing options; exits 2 after pointing at `--help`. */
export class UsageError extends IosError<"CLI_USAGE"> {
  constructor(message: string) {
    super("CLI_USAGE", message);
    this.name = "UsageError";
  }
}

export type Options = ParseArgsConfig["options"] & object;
export type Values = Record<string, string | boolean | undefined>;

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full help text after the usage line. */
  readonly help: string;
  readonly usage: string;
  readonly options?: Options;
  /** Positional arguments allowed (default 0). */
  readonly positionals?: number;
  readonly subcommands?: readonly Command[];
  run?(values: Values, positionals: string[], io: Output): Promise<number>;
}

function helpText(path: string, command: Command): string {
  const lines = [`usage: ${path} ${command.usage}`.trimEnd(), "", command.summary];
  if (command.help !== "") lines.push("", command.help);
  if (command.subcommands !== undefined) {
    lines.push("", "commands:");
    for (const sub of command.subcommands) lines.push(`  ${sub.name.padEnd(10)} ${sub.summary}`);
    lines.push("", `Run \`${path} <command> --help\` for a command's options.`);
  }
  return lines.join("\n");
}

/** Message of a failure plus, for known codes, what the person can do about it. */
function hintFor(code: string): string | undefined {
  if (code === "API_UNREACHABLE") return "start a node with `ios node --config FILE` or pass the right --node URL";
  if (code.startsWith("CONFIG_")) return "fix the file named above; `ios genesis --help` shows how to generate a valid set";
  if (code === "MEMPOOL_FULL") return "the node is saturated; retry in a second";
  if (code === "TRANSPORT_LISTEN_FAILED") return "another process may hold the port, or the host is not local; change $.listen in the configuration";
  return undefined;
}

export function reportError(error: unknown, io: Output): number {
  if (error instanceof IosError) {
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    io.err(`error ${error.code}: ${message}`);
    const hint = hintFor(error.code);
    if (hint !== undefined) io.err(`hint: ${hint}`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_RUNTIME;
  }
  io.err(`error INTERNAL: ${(error as Error)?.stack ?? String(error)}`);
  return EXIT_RUNTIME;
}

/** Runs `argv` (without node and script) against `root`; resolves the exit code. */
export async function dispatch(root: Command, argv: readonly string[], io: Output): Promise<number> {
  let command = root;
  let path = root.name;
  let rest = [...argv];
  while (command.subcommands !== undefined) {
    const [first, ...tail] = rest;
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      (first === undefined ? io.err : io.out)(helpText(path, command));
      return first === undefined ? EXIT_USAGE : EXIT_OK;
    }
    const next = command.subcommands.find((c) => c.name === first);
    if (next === undefined) {
      io.err(`error CLI_USAGE: unknown command ${JSON.stringify(first)} for ${path}`);
      io.err(`hint: run \`${path} --help\` for the list of commands`);
      return EXIT_USAGE;
    }
    command = next;
    path = `${path} ${next.name}`;
    rest = tail;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(helpText(path, command));
    return EXIT_OK;
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true }) as {
      values: Values;
      positionals: string[];
    });
    const allowed = command.positionals ?? 0;
    if (positionals.length > allowed) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[allowed])}`);
  } catch (error) {
    const message = error instanceof UsageError ? error.message.replace(/^CLI_USAGE: /, "") : (error as Error).message;
    io.err(`error CLI_USAGE: ${message}`);
    io.err(`hint: run \`${path} --help\``);
    return EXIT_USAGE;
  }
  try {
    return await command.run!(values, positionals, io);
  } catch (error) {
    const code = reportError(error, io);
    if (error instanceof UsageError) io.err(`hint: run \`${path} --help\``);
    return code;
  }
}

/** A required string option, or a UsageError naming it. */
export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** An integer option within [min, max]. */
export function integerOption(values: Values, name: string, min: number, max: number, fallback?: number): number {
  const text = values[name];
  if (text === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const value = typeof text === "string" && /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
  return value;
}

/** `--name` as a probability in (0, 1] (a decimal like 0.1); `fallback` when absent, else required. */
export function probabilityOption(values: Values, name: string, fallback?: number): number {
  const text = values[name];
  if (text === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const value = typeof text === "string" && /^[0-9.]+$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 1)) throw new UsageError(`--${name} must be a number in (0, 1], got ${JSON.stringify(text)}`);
  return value;
}

/** A 32-byte key given as 64 hex digits. */
export function hexKeyArgument(text: string | undefined, what: string): Uint8Array {
  if (text === undefined || !/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError(`${what} must be a public key of 64 hex digits, got ${JSON.stringify(text ?? "")}`);
  return new Uint8Array(Buffer.from(text, "hex"));
}
