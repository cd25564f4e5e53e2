/**
 * A/B of the `ios` command's start-up (issue 16): each command as a person runs it, a new node
 * process per run, between this build and another built checkout, side by side in one run (rounds
 * alternate which side goes first, so the shared machine's drift lands on both). A run's CPU is
 * the child's own (user + system, all threads, read by a preload at its exit); its wall time is
 * from spawn to exit. Commands: `ios --help`, `ios tx send --help`, `ios tx send` up to its first
 * work (a key file that does not exist: every module it needs is loaded by then) and `ios status`
 * of a node that is not there.
 *
 *   AB_BASE=/path/to/other/checkout   required: a checkout of the commit to compare with, built
 *   AB_BASE_COMMIT                    that commit, recorded with the results (the path is not)
 *   AB_RUNS (default 20), AB_LABEL (default "cli-start-ab"): results go to bench/results/<label>.json,
 *   with the median of each side and the head/base ratios.
 * Without AB_BASE it says so and exits 0 (`npm run bench` runs every benchmark).
 * Not benny: one sample is a whole process.
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { median } from "./stats.js";

const base = process.env.AB_BASE;
if (base === undefined || base === "") {
  console.log("cli-start: set AB_BASE to a built checkout of the commit to compare with; skipped");
  process.exit(0);
}
const head = resolve(new URL("../..", import.meta.url).pathname);
const runs = Number(process.env.AB_RUNS ?? 20);
const label = process.env.AB_LABEL ?? "cli-start-ab";
const sides = { base: resolve(base), head } as const;
for (const [side, dir] of Object.entries(sides)) {
  if (!existsSync(join(dir, "dist/src/cli/main.js"))) throw new Error(`${side} (${dir}) is not built: run npm run build there`);
}

const COMMANDS: Record<string, { readonly args: readonly string[]; readonly exit: number }> = {
  "--help": { args: ["--help"], exit: 0 },
  "tx send --help": { args: ["tx", "send", "--help"], exit: 0 },
  "tx send (to its first work)": { args: ["tx", "send", "--from", "/nonexistent/key.json", "--to", "00".repeat(32), "--amount", "1"], exit: 1 },
  "status (no node)": { args: ["status", "--node", "http://127.0.0.1:9"], exit: 1 },
};
/** Prints the process's CPU (µs, user + system) on its last stderr line at exit; `ios` ends with process.exit, which runs exit listeners. */
const CPU_PROBE = `data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\ncpu-us "+(u.user+u.system)+"\\n")})`;

interface Sample {
  readonly cpuMs: number;
  readonly wallMs: number;
}

function runOnce(dir: string, command: string): Sample {
  const { args, exit } = COMMANDS[command]!;
  const started = performance.now();
  const result = spawnSync(process.execPath, ["--import", CPU_PROBE, join(dir, "dist/src/cli/main.js"), ...args], { cwd: dir, encoding: "utf8" });
  const wallMs = performance.now() - started;
  if (result.status !== exit) throw new Error(`${dir}: ios ${args.join(" ")} exited ${result.status}, not ${exit}: ${result.stderr.slice(-2000)}`);
  const cpu = /cpu-us (\d+)\n$/.exec(result.stderr);
  if (cpu === null) throw new Error(`${dir}: no CPU reading from ios ${args.join(" ")}`);
  return { cpuMs: Number(cpu[1]) / 1000, wallMs };
}

const results: Record<string, unknown> = {};
for (const command of Object.keys(COMMANDS)) {
  const samples: Record<keyof typeof sides, Sample[]> = { base: [], head: [] };
  for (let round = 0; round < runs; round++) {
    const order: (keyof typeof sides)[] = round % 2 === 0 ? ["base", "head"] : ["head", "base"];
    for (const side of order) samples[side].push(runOnce(sides[side], command));
  }
  const summary = (side: keyof typeof sides) => ({ cpuMs: median(samples[side].map((s) => s.cpuMs)), wallMs: median(samples[side].map((s) => s.wallMs)) });
  const medians = { base: summary("base"), head: summary("head") };
  const ratios = { cpuMs: medians.head.cpuMs / medians.base.cpuMs, wallMs: medians.head.wallMs / medians.base.wallMs };
  results[command] = { medians, ratios };
  console.log(`ios ${command}: CPU ${medians.base.cpuMs.toFixed(0)} → ${medians.head.cpuMs.toFixed(0)} ms (×${ratios.cpuMs.toFixed(2)}), wall ${medians.base.wallMs.toFixed(0)} → ${medians.head.wallMs.toFixed(0)} ms (×${ratios.wallMs.toFixed(2)})`);
}

const out = join(head, "bench/results", `${label}.json`);
writeFileSync(out, `${JSON.stringify({ bench: "cli-start", date: new Date().toISOString(), node: process.version, runs, baseCommit: process.env.AB_BASE_COMMIT ?? "unknown", commands: results }, null, 2)}\n`);
console.log(`wrote ${out}`);
