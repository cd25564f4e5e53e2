/** Runs the built `ios` command as a child process, as a person would. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const IOS = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ios args...` to completion. */
/**
 * Runs `ios args` to its end. A child still running after `timeoutMs` (default IOS_TIMEOUT_MS) is
 * killed and the call fails with what it printed: a command that hangs (once seen: a child stuck
 * in a futex wait at exit) is a failure with a message, never a suite that stops moving.
 */
export function ios(args: readonly string[], cwd?: string, timeoutMs = IOS_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [IOS, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ios ${args.join(" ")} still ran after ${timeoutMs} ms; stdout: ${stdout.slice(-1000)}; stderr: ${stderr.slice(-1000)}`));
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** How long a one-shot `ios` command may run in a test: the slowest (a devnet's load or bench step) take well under it. */
export const IOS_TIMEOUT_MS = 300_000;
/** How long a stopped `ios node` gets to exit by itself (it flushes and closes its store first) before SIGKILL. */
const STOP_TIMEOUT_MS = 60_000;

/** A long-running `ios` child (e.g. `ios node`) whose output is collected as it comes. */
export class IosProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [IOS, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
  }

  /** Resolves the first match of `pattern` in stdout; rejects if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match !== null) return match;
      if (this.child.exitCode !== null) throw new Error(`ios exited (${this.child.exitCode}) before ${pattern}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout: ${this.stdout} stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * SIGTERM, then SIGKILL after STOP_TIMEOUT_MS: a validator's exit can hang joining a V8 compile
   * job (nodejs/node#54918, src/cli/main.ts), and a test stopping it should then fail on the exit
   * code (null), not stall until the runner's timeout.
   */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `ios genesis` of one shard and one validator into `dir` (`accounts` accounts of `amount`), with
 * validator 0 moved to ephemeral ports (a test cannot reserve one) and one fast worker; returns
 * its configuration file. Throws with ios's stderr if the genesis fails.
 */
export async function singleValidatorConfig(dir: string, seed: string, accounts: number, amount: number): Promise<string> {
  const generated = await ios(["genesis", "--shards", "1", "--validators", "1", "--accounts", String(accounts), "--seed", seed, "--out", dir, "--amount", String(amount)]);
  if (generated.code !== 0) throw new Error(`ios genesis failed: ${generated.stderr}`);
  const file = join(dir, "validator-0.config.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as { listen: { port: number; peerPort?: number }; pipeline?: unknown };
  config.listen.port = 0;
  // A validator without peers: its peer port is ephemeral too, so tests on a shared machine never collide on it.
  config.listen.peerPort = 0;
  config.pipeline = { workers: 1, blockIntervalMs: 50 };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** Starts `ios node --config config ...options` (stopped by the caller through `running`) and waits for its client URL. */
export async function startValidator(config: string, running: IosProcess[], options: readonly string[] = []): Promise<{ process: IosProcess; url: string }> {
  const node = new IosProcess(["node", "--config", config, ...options]);
  running.push(node);
  const match = await node.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { process: node, url: match[1]! };
}
