/**
 * The `ios` dispatcher: commands (and sub-commands) with their own options and `--help`, strict
 * option parsing, and one exit code convention — 0 success, 1 runtime error, 2 usage error.
 * Errors print as `error CODE: message` on stderr, followed by what to do when there is a hint.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { IosError, hasCodeIn } from "../errors.js";
import { SATURATED_CODES } from "../api/errors.js";

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export type CliErrorCode = "CLI_USAGE" | "CLI_BAD_PATH" | "CLI_FILE_EXISTS" | "CLI_IO" | "CLI_INSUFFICIENT_FUNDS" | "CLI_TIMEOUT" | "CLI_TX_REJECTED"
  /** `ios epoch show`: the chain holds no such epoch. */
  | "CLI_NO_EPOCH"
  /** `ios epoch show --transcript`: a transcript that verifies but is not the one the configuration names, or gives another rnd. */
  | "CLI_WRONG_TRANSCRIPT"
  /** `ios tx release`: the node's UTXO set holds no such bond (released already, slashed, or in another shard). */
  | "CLI_NO_BOND"
  /** `ios tx send`: no --node serves the payer's shard now (none is listed for it, or all left it at a switch and refused). */
  | "CLI_NO_SHARD_NODE";

/** Usage errors: wrong or missing options (CLI_USAGE) or an unusable path (CLI_BAD_PATH); they exit 2 after pointing at `--help`. */
export const USAGE_ERROR_CODES = ["CLI_USAGE", "CLI_BAD_PATH"] as const satisfies readonly CliErrorCode[];

/** The exit code of a coded failure: EXIT_USAGE for a usage error, EXIT_RUNTIME for any other. */
export function exitCodeOf(code: string): number {
  return (USAGE_ERROR_CODES as readonly string[]).includes(code) ? EXIT_USAGE : EXIT_RUNTIME;
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

/** What a command's module defines; its name and summary stay in the index that lists it. */
export type CommandBody = Omit<Command, "name" | "summary">;

/**
 * A command of the index: listed by name and summary, its module imported only once it is chosen,
 * so `ios --help` and a light command load none of the other commands' modules (the node, LMDB,
 * WASM kernels, consensus, the load harness).
 */
export interface LazyCommand {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandBody>;
  /** Runs for long (a validator, a devnet, a load run), so it keeps V8's optimizing compilers (main.ts). */
  readonly longRunning?: true;
}

/** The `ios` command itself: its help and its lazily loaded commands. */
export interface CommandIndex {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly subcommands: readonly LazyCommand[];
}

/** What help shows of a command: a summary, a usage line, help text, and its sub-commands' names and summaries. */
interface HelpSource<Sub extends { readonly name: string; readonly summary: string }> {
  readonly summary: string;
  readonly usage: string;
  readonly help?: string;
  readonly subcommands?: readonly Sub[];
}

function helpText(path: string, command: HelpSource<{ readonly name: string; readonly summary: string }>): string {
  const lines = [`usage: ${path} ${command.usage}`.trimEnd(), "", command.summary];
  if (command.help !== undefined && command.help !== "") lines.push("", command.help);
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
  if (code === "CLI_NO_SHARD_NODE") return "give --node URLs of validators serving the payer's shard (`ios status --node URL` shows a node's shard and epoch); with epochs, give several, or all";
  if (SATURATED_CODES.has(code)) return "the node is saturated; retry in a second";
  if (code === "TRANSPORT_LISTEN_FAILED") return "another process may hold the port, or the host is not local; change $.listen in the configuration";
  return undefined;
}

export function reportError(error: unknown, io: Output): number {
  if (error instanceof IosError) {
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    io.err(`error ${error.code}: ${message}`);
    const hint = hintFor(error.code);
    if (hint !== undefined) io.err(`hint: ${hint}`);
    return exitCodeOf(error.code);
  }
  io.err(`error INTERNAL: ${(error as Error)?.stack ?? String(error)}`);
  return EXIT_RUNTIME;
}

/**
 * `--shards -3` joined into `--shards=-3`: parseArgs takes a value that starts with "-" for an
 * option ("ambiguous"), so a negative number would never reach the option's own range check.
 */
function withNegativeValues(args: readonly string[], options: Options): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-[0-9.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** A repeated option would silently keep its last value: refused unless the option is `multiple`. */
function refuseRepeatedOptions(tokens: ReturnType<typeof parseArgs>["tokens"], options: Options): void {
  const seen = new Map<string, string | undefined>();
  for (const token of tokens ?? []) {
    if (token.kind !== "option" || options[token.name]?.multiple === true) continue;
    if (seen.has(token.name)) {
      const earlier = seen.get(token.name);
      const values = earlier === undefined ? "" : ` (${JSON.stringify(earlier)} and ${JSON.stringify(token.value)})`;
      throw new IosError<CliErrorCode>("CLI_USAGE", `--${token.name} is given more than once${values}; give it once`);
    }
    seen.set(token.name, token.value);
  }
}

/**
 * The sub-command `first` names among `command`'s, or the exit code after printing help (no
 * `first`: exit 2; `--help`, `-h`, `help`: exit 0) or a CLI_USAGE error for an unknown one.
 */
function subcommandOf<Sub extends { readonly name: string; readonly summary: string }>(path: string, command: HelpSource<Sub> & { readonly subcommands: readonly Sub[] }, first: string | undefined, io: Output): Sub | number {
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
  return next;
}

/** Runs `argv` (without node and script) against `index`, importing only the chosen command's module; resolves the exit code. */
export async function dispatch(index: CommandIndex, argv: readonly string[], io: Output): Promise<number> {
  const [first, ...rest] = argv;
  const chosen = subcommandOf(index.name, index, first, io);
  if (typeof chosen === "number") return chosen;
  return dispatchCommand({ name: chosen.name, summary: chosen.summary, ...(await chosen.load()) }, `${index.name} ${chosen.name}`, rest, io);
}

/** Runs `argv` against `root`, reached as `rootPath`: down its sub-commands, then its options and its run. */
async function dispatchCommand(root: Command, rootPath: string, argv: readonly string[], io: Output): Promise<number> {
  let command = root;
  let path = rootPath;
  let rest = [...argv];
  while (command.subcommands !== undefined) {
    const [first, ...tail] = rest;
    const next = subcommandOf(path, { ...command, subcommands: command.subcommands }, first, io);
    if (typeof next === "number") return next;
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
    const options = command.options ?? {};
    const parsed = parseArgs({ args: withNegativeValues(rest, options), options, allowPositionals: true, strict: true, tokens: true });
    ({ values, positionals } = parsed as unknown as { values: Values; positionals: string[] });
    refuseRepeatedOptions(parsed.tokens, options);
    const allowed = command.positionals ?? 0;
    if (positionals.length > allowed) throw new IosError<CliErrorCode>("CLI_USAGE", `unexpected argument ${JSON.stringify(positionals[allowed])}`);
  } catch (error) {
    const message = hasCodeIn(error, USAGE_ERROR_CODES) ? error.message.replace(/^CLI_USAGE: /, "") : (error as Error).message;
    io.err(`error CLI_USAGE: ${message}`);
    io.err(`hint: run \`${path} --help\``);
    return EXIT_USAGE;
  }
  try {
    return await command.run!(values, positionals, io);
  } catch (error) {
    const code = reportError(error, io);
    if (hasCodeIn(error, USAGE_ERROR_CODES)) io.err(`hint: run \`${path} --help\``);
    return code;
  }
}

/** A required string option, or a CLI_USAGE error naming it. */
export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} is required`);
  return value;
}

/** An integer option within [min, max]. */
export function integerOption(values: Values, name: string, min: number, max: number, fallback?: number): number {
  const text = values[name];
  if (text === undefined) {
    if (fallback === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} is required`);
    return fallback;
  }
  const value = typeof text === "string" && /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
  return value;
}

/**
 * The validators of `--validators N` (all of them) or `--validators-per-shard K` (K in every
 * shard, N = K × shards): one name for one quantity in every command that sizes a network.
 * `perShard` is undefined when N does not split evenly over the shards.
 */
export function validatorCountOption(values: Values, shards: number, maxTotal: number): { total: number; perShard: number | undefined } {
  if ((values.validators === undefined) === (values["validators-per-shard"] === undefined)) {
    throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --validators N (all validators) and --validators-per-shard K (K per shard, N = K × shards)");
  }
  if (values.validators !== undefined) {
    const total = integerOption(values, "validators", 1, maxTotal);
    if (total < shards) throw new IosError<CliErrorCode>("CLI_USAGE", `--validators (${total}) must be at least --shards (${shards}): every shard needs a validator`);
    return { total, perShard: total % shards === 0 ? total / shards : undefined };
  }
  const perShard = integerOption(values, "validators-per-shard", 1, Math.floor(maxTotal / shards));
  return { total: perShard * shards, perShard };
}

/** `--name` as a probability in (0, 1] (a decimal like 0.1); `fallback` when absent, else required. */
export function probabilityOption(values: Values, name: string, fallback?: number): number {
  const text = values[name];
  if (text === undefined) {
    if (fallback === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} is required`);
    return fallback;
  }
  const value = typeof text === "string" && /^[0-9.]+$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 1)) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} must be a number in (0, 1], got ${JSON.stringify(text)}`);
  return value;
}

/** A 32-byte key given as 64 hex digits. */
export function hexKeyArgument(text: string | undefined, what: string): Uint8Array {
  if (text === undefined || !/^[0-9a-fA-F]{64}$/.test(text)) throw new IosError<CliErrorCode>("CLI_USAGE", `${what} must be a public key of 64 hex digits, got ${JSON.stringify(text ?? "")}`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** What `genesis` and `devnet` print of the genesis's epoch length. */
export function epochsLine(epochLength: number | undefined): string {
  return epochLength === undefined ? "epochs: one endless epoch" : `epochs: ${epochLength} final block(s) per shard each`;
}
