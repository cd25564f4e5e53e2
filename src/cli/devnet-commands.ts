/**
 * `ios devnet`, `ios load` and `ios start` (issue 7): launch a local network of validator
 * processes (src/devnet/launcher.ts), drive a generated load through it (src/load), and the
 * embedded default run of `npm start` that does both and cleans up.
 */
import { IosError } from "../errors.js";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { LoadMode } from "../load/driver.js";
import type { LoadReport } from "../load/report.js";
import type { LoadSet } from "../load/workload.js";
import { MAX_EPOCH_LENGTH, deriveTestAccounts, genesisTxid } from "../ledger/genesis.js";
import { loadGenesisFile } from "../node/config.js";
import type { Devnet, DevnetOptions, ValidatorExit } from "../devnet/launcher.js";
import { consensusModeOf, maxBelievableOf } from "../devnet/consensus-mode.js";
import { kindLines } from "../devnet/session.js";
import { EXIT_OK, EXIT_RUNTIME, epochsLine, integerOption, probabilityOption, required, validatorCountOption, type CommandBody, type Output, type Values, type CliErrorCode } from "./command.js";
import { outputPath } from "./files.js";

const DEFAULT_ACCOUNTS = 2000;
/** Validators of one devnet shard at most: 256 processes already exceed what one host runs. */
const MAX_VALIDATORS_PER_SHARD = 256;
const DEFAULT_SEED = "devnet";
const PROGRESS_MS = 1000;

/** Resolves on the first SIGINT or SIGTERM (Ctrl-C), and removes its handlers. */
function interrupted(): { promise: Promise<NodeJS.Signals>; dispose(): void } {
  let dispose = () => undefined as void;
  const promise = new Promise<NodeJS.Signals>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals) => resolveSignal(signal);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    dispose = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  });
  return { promise, dispose };
}

function stringOption(values: Values, name: string, fallback: string): string {
  const value = values[name];
  return typeof value === "string" && value !== "" ? value : fallback;
}

async function launch(options: DevnetOptions): Promise<Devnet> {
  // Loaded on demand: the other commands should not pay for the launcher's imports.
  const { startDevnet } = await import("../devnet/launcher.js");
  return startDevnet(options);
}

function describeDevnet(devnet: Devnet, io: Output): void {
  const m = devnet.manifest;
  io.out(`devnet: ${m.shards} shard(s) × ${m.validatorsPerShard} validator(s), ${m.accounts} funded accounts (seed ${JSON.stringify(m.seed)})`);
  for (const v of m.validators) io.out(`  validator ${v.index}  shard ${v.shard}  ${v.league}  pid ${v.pid}  ${v.http}  log ${v.log}`);
  io.out(`data: ${m.dir} (genesis ${m.genesis}, manifest ${join(m.dir, "devnet.json")})`);
  io.out(`logs: ${m.logs}`);
  io.out(
    m.v8BackgroundThreads
      ? "V8 background threads: on"
      : `V8 background threads: off (--single-threaded: ${m.validators.length} validator(s) on ${availableParallelism()} core(s), where they would only compete for the cores)`,
  );
  const mode = consensusModeOf(m);
  if (mode === "pob") {
    const normal = m.validatorsPerShard - m.believable;
    io.out(`consensus: Proof-of-Believability, ${m.believable} believable producer(s) and a normal league of ${normal} per shard (tolerates ${faultyTolerated(normal)} faulty normal validator(s) per shard)`);
  }
  else io.out(`consensus: ${mode === "bft" ? "one-league BFT (every validator verifies every transaction)" : "solo"}`);
  for (const a of m.agreement) {
    if (!a.agreed) io.out(`WARNING: the ${a.blockHashes.length} validators of shard ${a.shard} hold different blocks at height 1: they did not reach consensus (see their logs)`);
  }
  io.out(epochsLine(devnet.genesis.epochLength));
  if (devnet.genesis.epochLength !== undefined && mode === "pob") {
    io.out("  at each epoch's end the validators configure the next one and switch into it, syncing the shard the epoch moves them to (GET /v1/epochs, GET /v1/status lastSwitch)");
  }
  io.out(`every shard finalized its first block`);
}

export const devnetCommand: CommandBody = {
  usage: "--shards M (--validators-per-shard K | --validators N) --believable B [--dir D] [options]\n       ios devnet (status | stop N | restart N | pause N | resume N) --dir D",
  positionals: 2,
  help: [
    "options:",
    "  --shards M                 shards (1..64)",
    "  --validators-per-shard K   validators of each shard",
    "  --validators N             or N validators in all (N = K × M), as in `ios genesis`",
    "  --believable B             believable producers per shard (0..K-3): B >= 1 runs",
    "                             Proof-of-Believability with a normal league of K - B,",
    "                             0 the one-league BFT fallback (ignored when K = 1: solo)",
    "  --sampling-p P             PoB: probability a normal validator re-verifies a signature",
    "                             (default 0.1)",
    `  --epoch-length L           final blocks per shard per epoch (1..${MAX_EPOCH_LENGTH});`,
    "                             default: one endless epoch",
    "  --dir D                    new or empty directory for genesis, keys, data and logs",
    "                             (default: a new directory under the system temp dir)",
    `  --accounts A               funded test accounts (default ${DEFAULT_ACCOUNTS})`,
    `  --seed S                   seed of every key (default ${JSON.stringify(DEFAULT_SEED)})`,
    "  --base-port P              of N validators, validator i serves clients on P + i and peers",
    "                             on P + N + i (default: free ports from the OS)",
    "  --workers W                verifier threads per validator (default: cores / validators)",
    "  --block-interval MS        block interval of each validator (default 50)",
    "  --idle-heartbeat MS        an idle shard decides an empty height this often (default 5000)",
    "",
    "Generates keys and genesis, starts the validators, waits until every shard has finalized a",
    "block, prints where logs and data are, and runs until Ctrl-C (SIGINT) or SIGTERM, then stops",
    "every validator. Drive it from another terminal with `ios load --devnet D`.",
    "A validator that exits by itself is reported (index, shard, league, exit code or signal, log)",
    "and the others keep running.",
    "",
    "control, from another terminal (reaches the launcher of D through D/control.json):",
    "  status      every validator's pid, state (running, paused, stopped, exited), shard, URL",
    "  stop N      stop validator N (SIGTERM)",
    "  restart N   start validator N again, same data directory and configuration",
    "  pause N     freeze validator N (SIGSTOP); resume N continues it (SIGCONT)",
  ].join("\n"),
  options: {
    shards: { type: "string" },
    "validators-per-shard": { type: "string" },
    validators: { type: "string" },
    believable: { type: "string" },
    "sampling-p": { type: "string" },
    "epoch-length": { type: "string" },
    dir: { type: "string" },
    accounts: { type: "string" },
    seed: { type: "string" },
    "base-port": { type: "string" },
    workers: { type: "string" },
    "block-interval": { type: "string" },
    "idle-heartbeat": { type: "string" },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) return controlCommand(values, positionals, io);
    const shards = integerOption(values, "shards", 1, 64);
    const validators = validatorCountOption(values, shards, shards * MAX_VALIDATORS_PER_SHARD);
    if (validators.perShard === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", `--validators ${validators.total} does not split evenly over ${shards} shards; a devnet runs the same number in every shard`);
    const validatorsPerShard = validators.perShard;
    const believable = integerOption(values, "believable", 0, maxBelievableOf(validatorsPerShard));
    const samplingProbability = values["sampling-p"] === undefined ? undefined : probabilityOption(values, "sampling-p");
    const epochLength = values["epoch-length"] === undefined ? undefined : integerOption(values, "epoch-length", 1, MAX_EPOCH_LENGTH);
    const dir = typeof values.dir === "string" ? resolve(await outputPath(values.dir, "--dir")) : mkdtempSync(join(tmpdir(), "ios-devnet-"));
    const signal = interrupted();
    try {
      const devnet = await launch({
        shards,
        validatorsPerShard,
        believable: validatorsPerShard === 1 ? 0 : believable,
        ...(samplingProbability === undefined ? {} : { samplingProbability }),
        ...(epochLength === undefined ? {} : { epochLength }),
        dir,
        seed: stringOption(values, "seed", DEFAULT_SEED),
        accounts: integerOption(values, "accounts", 1, 1 << 20, DEFAULT_ACCOUNTS),
        ...(values["base-port"] === undefined ? {} : { basePort: integerOption(values, "base-port", 1024, 65_535) }),
        ...(values.workers === undefined ? {} : { workers: integerOption(values, "workers", 1, 64) }),
        ...(values["block-interval"] === undefined ? {} : { blockIntervalMs: integerOption(values, "block-interval", 10, 60_000) }),
        ...(values["idle-heartbeat"] === undefined ? {} : { idleHeartbeatMs: integerOption(values, "idle-heartbeat", 10, 60_000) }),
      });
      describeDevnet(devnet, io);
      const { serveControl } = await import("../devnet/control.js");
      const control = await serveControl(devnet, dir);
      // A validator that exits by itself is reported; the others keep running (a fault to observe, not a reason to stop).
      const unsubscribe = devnet.onExit((exit) => {
        io.err(`${describeExit(exit)}; \`ios devnet restart ${exit.index} --dir ${dir}\` starts it again`);
      });
      io.out(`control: \`ios devnet status|stop N|restart N|pause N|resume N --dir ${dir}\` (${control.file})`);
      io.out(`running; load it with \`ios load --devnet ${dir} --closed --window 4000 --duration 10 --tx 100000\`; Ctrl-C stops`);
      const ended = await signal.promise;
      unsubscribe();
      await control.close();
      io.out(`${ended}: stopping ${devnet.manifest.validators.length} validator(s)`);
      await devnet.stop();
      io.out(`stopped; data and logs stay in ${dir}`);
      return EXIT_OK;
    } finally {
      signal.dispose();
    }
  },
};

/** `ios devnet OP [N] --dir D`: one control request to the launcher of D (src/devnet/control.ts). */
async function controlCommand(values: Values, positionals: string[], io: Output): Promise<number> {
  const [op, index] = positionals;
  const { CONTROL_OPS, controlDevnet } = await import("../devnet/control.js");
  if (!(CONTROL_OPS as readonly string[]).includes(op!)) throw new IosError<CliErrorCode>("CLI_USAGE", `unknown devnet command ${JSON.stringify(op)}; one of ${CONTROL_OPS.join(", ")}`);
  const launchOptions = Object.keys(values).filter((name) => name !== "dir");
  if (launchOptions.length > 0) throw new IosError<CliErrorCode>("CLI_USAGE", `--${launchOptions[0]} configures a new devnet; \`ios devnet ${op}\` takes only --dir D`);
  const dir = resolve(await outputPath(required(values, "dir"), "--dir"));
  if (op === "status") {
    if (index !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "status takes no validator index");
  } else if (index === undefined || !/^[0-9]{1,6}$/.test(index)) {
    throw new IosError<CliErrorCode>("CLI_USAGE", `${op} needs a validator index N (a non-negative integer), got ${JSON.stringify(index ?? "nothing")}`);
  }
  const views = await controlDevnet(dir, op as (typeof CONTROL_OPS)[number], op === "status" ? undefined : Number(index));
  if (op === "status") io.out("validator  shard  league      pid      state    url");
  for (const v of views) {
    const ended = v.exit === null ? "" : `  (last exit: code ${v.exit.code}, signal ${v.exit.signal})`;
    io.out(`${String(v.index).padEnd(9)}  ${String(v.shard).padEnd(5)}  ${v.league.padEnd(10)}  ${String(v.pid).padEnd(7)}  ${v.state.padEnd(7)}  ${v.http}${ended}`);
  }
  return EXIT_OK;
}

function loadMode(values: Values): { mode: LoadMode; durationMs: number | undefined } {
  const closed = values.closed === true;
  if (closed && values.rate !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--rate (open loop) and --closed (closed loop) exclude each other");
  if (!closed && values.window !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--window applies to the closed loop: add --closed");
  const durationMs = values.duration === undefined ? undefined : integerOption(values, "duration", 1, 86_400) * 1000;
  if (closed) return { mode: { kind: "closed-loop", window: integerOption(values, "window", 1, 1 << 22, 4000) }, durationMs };
  return { mode: { kind: "open-loop", rate: integerOption(values, "rate", 1, 10_000_000) }, durationMs };
}

/** Knee search's default start rate when --rate is not given: low enough for any devnet. */
const KNEE_START_TPS = 100;
/** Highest rate the search ramps to by default (the open loop's own limit, see loadMode). */
const KNEE_MAX_TPS = 10_000_000;

/**
 * `--find-knee` options: open loop from --rate, steps of --step S (default: knee.ts's argument;
 * at least ⌈C⌉ + 1 s, so a steady second follows the warm-up), up to --max-rate.
 */
function kneeOptions(values: Values, latencyCapMs: number): { startTps: number; maxTps: number; stepMs: number | undefined } {
  if (values.closed === true || values.window !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--find-knee ramps the open loop: drop --closed and --window");
  if (values.duration !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--find-knee runs steps of --step S seconds: drop --duration");
  if (values["latency-cap"] === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--find-knee needs --latency-cap MS");
  const startTps = integerOption(values, "rate", 1, KNEE_MAX_TPS, KNEE_START_TPS);
  const maxTps = integerOption(values, "max-rate", startTps, KNEE_MAX_TPS, KNEE_MAX_TPS);
  const stepMs = values.step === undefined ? undefined : integerOption(values, "step", Math.ceil(latencyCapMs / 1000) + 1, 3600) * 1000;
  return { startTps, maxTps, stepMs };
}

export const loadCommand: CommandBody = {
  usage: "(--devnet DIR | --endpoints URLS... --genesis FILE [--account-seed S --accounts A])  (--tx N | --replay FILE)  (--rate R | --closed --window W) [options]",
  help: [
    "target (one of):",
    "  --devnet DIR          a running `ios devnet --dir DIR` (endpoints, genesis and accounts from DIR/devnet.json)",
    "  --endpoints URLS      validators' stream URLs, comma-separated (ws://HOST:PORT/v1/stream),",
    "                        repeatable, any shard and order: each one's shard, epoch and league",
    "                        are read from its /v1/status and followed as epochs switch; then also:",
    "    --genesis FILE      the network's genesis.json",
    "    --account-seed S    with --tx: seed of the funded test accounts (`ios genesis --seed S`)",
    "    --accounts A        with --tx: how many of them send",
    "workload:",
    "  --tx N                transfers to generate (1 input, 2 outputs each)",
    "  --cross-shard R       fraction 0..1 of them paying an account of another shard (Atomix:",
    "                        lock, proof, unlock-to-commit; the report splits intra- and cross-shard)",
    "  --seed X              workload seed: who sends when and to whom (default \"load\")",
    "  --save FILE           also save the generated set (replay it later with --replay)",
    "  --replay FILE         drive a saved set instead of generating one (must match the genesis)",
    "  --threads T           signing threads (default: all cores)",
    "mode (one of):",
    "  --rate R              open loop: transaction k is due at k / R seconds",
    "  --closed              closed loop: at most --window W unresolved (default 4000)",
    "run:",
    "  --duration S          stop submitting after S seconds (default: when the set is exhausted)",
    "  --drain S             wait at most S seconds for the last confirmations (default 10)",
    "  --report DIR          where load-report.{json,md,html} go (default ./load-report)",
    "  --latency-cap MS      C of \"throughput within C\" in the report (default 1000)",
    "knee search (open loop):",
    "  --find-knee           ramp the rate from --rate R (default 100) ×2 per step until p99 final",
    "                        latency passes --latency-cap or final tx/s falls below 0.9 × offered,",
    "                        then bisect; reports the highest rate sustained under the cap",
    "                        (give --tx enough for every step: rate × step each)",
    "  --step S              seconds per step (default max(5, 10 × cap): see src/load/knee.ts)",
    "  --max-rate R          stop ramping at R tx/s",
  ].join("\n"),
  options: {
    devnet: { type: "string" },
    endpoints: { type: "string", multiple: true },
    genesis: { type: "string" },
    "account-seed": { type: "string" },
    accounts: { type: "string" },
    tx: { type: "string" },
    "cross-shard": { type: "string" },
    seed: { type: "string" },
    save: { type: "string" },
    replay: { type: "string" },
    threads: { type: "string" },
    rate: { type: "string" },
    closed: { type: "boolean" },
    window: { type: "string" },
    duration: { type: "string" },
    drain: { type: "string" },
    report: { type: "string" },
    "latency-cap": { type: "string" },
    "find-knee": { type: "boolean" },
    step: { type: "string" },
    "max-rate": { type: "string" },
  },
  async run(values, _positionals, io) {
    const endpointsOption = values.endpoints as unknown as string[] | undefined;
    if ((values.devnet === undefined) === (endpointsOption === undefined)) throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --devnet DIR and --endpoints URLS");
    if ((values.tx === undefined) === (values.replay === undefined)) throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --tx N and --replay FILE");
    const findKnee = values["find-knee"] === true;
    if (!findKnee && (values.step !== undefined || values["max-rate"] !== undefined)) throw new IosError<CliErrorCode>("CLI_USAGE", "--step and --max-rate apply to --find-knee");
    /** Latency caps up to an hour: a cap is a latency goal, and a knee step lasts 10 × it. */
    const latencyCapMs = values["latency-cap"] === undefined ? undefined : integerOption(values, "latency-cap", 1, 3_600_000);
    const knee = findKnee ? kneeOptions(values, latencyCapMs!) : undefined;
    // Checked before any work; a knee search sets its own rate per step.
    const single = knee === undefined ? loadMode(values) : undefined;
    const seed = stringOption(values, "seed", "load");
    const save = typeof values.save === "string" ? await outputPath(values.save, "--save") : undefined;
    const reportDir = await outputPath(stringOption(values, "report", "load-report"), "--report");
    // Loaded on demand (workers, WebSocket client, report assets): `ios node` does not need them.
    const [{ readLoadFile, saveLoadFile }, { checkEndpoints, runLoad }, { ProgressDisplay }, { writeReport, stageLines, buildReport }, { generateLoad }, kneeModule] = await Promise.all([
      import("../load/load-file.js"),
      import("../load/driver.js"),
      import("../load/progress.js"),
      import("../load/report.js"),
      import("../load/workload.js"),
      import("../load/knee.js"),
    ]);
    let genesisFile: string;
    /** Seed and count of the sending accounts (only needed to generate). */
    let accounts: () => { seed: string; count: number };
    let endpoints: string[];
    let cpu: { pid: number; label: string }[] = [];
    if (typeof values.devnet === "string") {
      const { readDevnetManifest, streamEndpoints, validatorProcesses } = await import("../devnet/launcher.js");
      const manifest = readDevnetManifest(values.devnet);
      genesisFile = manifest.genesis;
      accounts = () => ({ seed: manifest.seed, count: manifest.accounts });
      endpoints = streamEndpoints(manifest);
      cpu = validatorProcesses(manifest);
    } else {
      genesisFile = required(values, "genesis");
      accounts = () => ({ seed: required(values, "account-seed"), count: integerOption(values, "accounts", 1, 1 << 20) });
      endpoints = endpointsOption!.flatMap((list) => list.split(",").filter((url) => url !== ""));
    }
    const genesis = loadGenesisFile(genesisFile);
    try {
      checkEndpoints(endpoints);
    } catch (error) {
      throw new IosError<CliErrorCode>("CLI_USAGE", `--endpoints: ${(error as Error).message.replace(/^LOAD_BAD_OPTION: /, "")}`);
    }
    let set: LoadSet;
    if (typeof values.replay === "string") {
      set = await readLoadFile(values.replay, genesisTxid(genesis));
      io.out(`replaying ${set.count} transactions from ${values.replay} (seed ${JSON.stringify(set.header.seed)})`);
    } else {
      const count = integerOption(values, "tx", 1, 1 << 26);
      const senders = accounts();
      const started = performance.now();
      set = await generateLoad({
        genesis,
        accounts: deriveTestAccounts(senders.seed, senders.count),
        count,
        seed,
        crossShard: fractionOption(values, "cross-shard", 0),
        ...(values.threads === undefined ? {} : { threads: integerOption(values, "threads", 1, 256) }),
      });
      io.out(`generated ${count} signed transfers in ${((performance.now() - started) / 1000).toFixed(1)} s (seed ${JSON.stringify(seed)})`);
    }
    if (save !== undefined) {
      await saveLoadFile(save, set);
      io.out(`saved the set to ${save}`);
    }
    const progress = new ProgressDisplay(process.stdout, PROGRESS_MS);
    const driver = {
      endpoints,
      ...(genesis.epochLength === undefined ? {} : { epochLength: genesis.epochLength }),
      ...(values.drain === undefined ? {} : { drainTimeoutMs: integerOption(values, "drain", 0, 3600) * 1000 }),
      cpu: cpu.filter((p) => processExists(p.pid)),
      progress,
    };
    let report: LoadReport;
    let end: "settled" | "drain-timeout";
    if (knee !== undefined) {
      const stepMs = knee.stepMs ?? kneeModule.defaultStepMs(latencyCapMs!);
      const system = new kneeModule.LoadKneeSystem(set, driver, stepMs, latencyCapMs!);
      const steps = {
        stepMs,
        measure: async (offeredTps: number) => {
          io.out(`knee: step at ${offeredTps} tx/s for ${stepMs / 1000} s`);
          const step = await system.measure(offeredTps);
          if (step === undefined) io.out(`knee: the set has ${set.count - system.used} transactions left, too few for this step (give more --tx)`);
          else io.out(`knee: ${offeredTps} tx/s offered → ${step.finalTps} final tx/s, p99 ${step.p99Ms} ms`);
          return step;
        },
      };
      const found = await kneeModule.findKnee(steps, { latencyCapMs: latencyCapMs!, startTps: knee.startTps, maxTps: knee.maxTps });
      const chosen = system.runAt(found.sustainedTps);
      if (chosen === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", `--tx ${set.count} is too few for one step of ${knee.startTps} tx/s × ${stepMs / 1000} s`);
      report = buildReport(chosen.report.run, chosen.report.metrics, chosen.report.cpu, { knee: found });
      // The steps over the knee may well end unsettled: the exit status speaks for the step the report shows.
      end = chosen.end;
      io.out(`knee: ${found.sustainedTps === null ? "no rate" : `${found.sustainedTps} tx/s`} sustained with p99 final latency ≤ ${latencyCapMs} ms (${found.end}; ${found.steps.length} steps, ${system.used} of ${set.count} transactions used)`);
    } else {
      const { mode, durationMs } = single!;
      // Without --duration, submission lasts until the set is exhausted: the open loop's schedule plus a second of slack for the scheduler's ticks.
      const plannedMs = durationMs ?? (mode.kind === "open-loop" ? Math.ceil((set.count * 1000) / mode.rate) + 1000 : 86_400_000);
      ({ report, end } = await runLoad({ ...driver, set, mode, durationMs: plannedMs, ...(latencyCapMs === undefined ? {} : { latencyCapMs }) }));
    }
    const files = await writeReport(report, reportDir);
    const m = report.metrics;
    io.out(`${m.totals.final} final of ${m.totals.submitted} submitted (${m.totals.rejected} rejected, ${m.totals.pending} pending; ${end})`);
    const { epochs } = report.run;
    if (epochs.switches.length > 0 || m.totals.resent > 0) {
      io.out(`epochs ${epochs.first}..${epochs.last}: ${epochs.switches.length} endpoint switch(es); ${m.totals.resent} resent (${Object.entries(m.resentByCause).map(([cause, n]) => `${cause} ${n}`).join(", ") || "none"})`);
    }
    const faults = report.faults ?? [];
    if (faults.length > 0) {
      const down = faults.filter((f) => f.kind === "disconnected").length;
      const r = m.resubmitted;
      io.out(`faults: ${down} disconnection(s), ${faults.length - down} reconnection(s); ${r.count} transaction(s) resubmitted to another validator${r.finalLatency.count === 0 ? "" : ` (final latency p50 ${r.finalLatency.p50Ms} ms, max ${r.finalLatency.maxMs} ms)`}`);
    }
    io.out(`throughput ${m.throughput.endToEndTps.toFixed(0)} final tx/s; final latency p50 ${m.latency.final.p50Ms} ms, p99 ${m.latency.final.p99Ms} ms`);
    for (const line of kindLines(m)) io.out(line);
    for (const line of stageLines(m)) io.out(line);
    io.out(`report: ${files.html} (also ${files.json}, ${files.markdown})`);
    return end === "settled" ? EXIT_OK : EXIT_RUNTIME;
  },
};

/** A number in 0..1 (CLI_USAGE otherwise). */
function fractionOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (typeof text !== "string" || !/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(text) || !(value >= 0 && value <= 1)) {
    throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} must be a number in 0..1, got ${JSON.stringify(text)}`);
  }
  return value;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // Signal 0 only probes: it throws when no such process exists (or it is not ours to signal).
    return false;
  }
}

/** BFT over n validators tolerates f = ⌊(n − 1)/3⌋ faulty ones (n ≥ 3f + 1). */
function faultyTolerated(n: number): number {
  return Math.floor((n - 1) / 3);
}

const START_SHARDS = 2;
/** One believable producer and a normal league of 4, the smallest that tolerates a fault (f = 1). */
const START_VALIDATORS_PER_SHARD = 5;
const START_DURATION_S = 30;
/**
 * In flight at most. Under PoB the default devnet is bound by latency, not CPU (each validator
 * used 15–35% of a core): a window of 1,000 over two shards measured 1.8k final tx/s at p50
 * 230 ms, 4,000 measured 5.0k tx/s at p50 0.74 s, still under the 1 s final target.
 */
const START_WINDOW = 4000;
/**
 * Transfers signed ahead of the run, per second of load: 9,000, above what 2 shards × 5 PoB
 * validators finalize on 2 cores (bench/devnet.bench.ts: 5.6–6.5k tx/s); signing costs about
 * 1.5 s per 40,000. A faster network exhausts the set early and the summary says how long the
 * load actually ran.
 */
const START_TX_PER_SECOND = 9_000;

/** What `ios devnet` and `ios start` say when a validator exits by itself. */
function describeExit(exit: ValidatorExit): string {
  return `validator ${exit.index} (shard ${exit.shard}, ${exit.league} league, pid ${exit.pid}) exited by itself (code ${exit.code}, signal ${exit.signal}); the others keep running; its last lines are in ${exit.log}`;
}

export const startCommand: CommandBody = {
  usage: "[--duration S] [--window W] [--report DIR] [--keep]",
  help: [
    "options:",
    `  --duration S   seconds of closed-loop load (default ${START_DURATION_S})`,
    `  --window W     transactions in flight at most (default ${START_WINDOW})`,
    "  --report DIR   where load-report.{json,md,html} go (default ./ios-start-report)",
    "  --keep         keep the devnet's data and logs instead of deleting them",
    "",
    `Launches ${START_SHARDS} shards × ${START_VALIDATORS_PER_SHARD} validators on 127.0.0.1 (each shard runs Proof-of-Believability:`,
    "one believable producer confirms at once, a normal league of 4 finalizes by BFT sampling p = 0.1",
    "and tolerates one faulty normal validator per shard),",
    "signs the workload, runs the load, prints TPS, latencies and the report path, stops every",
    "validator and removes the devnet directory. A validator that exits by itself meanwhile is",
    "reported and the load goes on (each shard tolerates one faulty normal validator).",
  ].join("\n"),
  options: { duration: { type: "string" }, window: { type: "string" }, report: { type: "string" }, keep: { type: "boolean" } },
  async run(values, _positionals, io) {
    const durationS = integerOption(values, "duration", 1, 3600, START_DURATION_S);
    const window = integerOption(values, "window", 1, 1 << 22, START_WINDOW);
    const reportDir = resolve(await outputPath(stringOption(values, "report", "ios-start-report"), "--report"));
    const root = mkdtempSync(join(tmpdir(), "ios-start-"));
    const signal = interrupted();
    let devnet: Devnet | undefined;
    try {
      const base = { shards: START_SHARDS, believable: 1, seed: DEFAULT_SEED, accounts: DEFAULT_ACCOUNTS };
      io.out(`starting ${START_SHARDS} shards × ${START_VALIDATORS_PER_SHARD} validators on 127.0.0.1 ...`);
      devnet = await launch({ ...base, validatorsPerShard: START_VALIDATORS_PER_SHARD, dir: join(root, `k${START_VALIDATORS_PER_SHARD}`) });
      describeDevnet(devnet, io);
      if (!devnet.consensus) {
        io.err(`the validators of a shard did not agree on their first block; nothing to measure (logs: ${devnet.manifest.logs})`);
        return EXIT_RUNTIME;
      }
      const [{ runDevnetLoad, summaryLines }, { ProgressDisplay }] = await Promise.all([import("../devnet/session.js"), import("../load/progress.js")]);
      const count = durationS * START_TX_PER_SECOND;
      io.out(`signing ${count} transfers ...`);
      const running = runDevnetLoad(devnet, {
        count,
        seed: "start",
        mode: { kind: "closed-loop", window },
        durationMs: durationS * 1000,
        reportDir,
        progress: new ProgressDisplay(process.stdout, PROGRESS_MS),
      });
      // A validator that dies is a fault the shard tolerates: reported, and the load goes on (it resends what that validator held).
      const unsubscribe = devnet.onExit((exit) => io.err(describeExit(exit)));
      const outcome = await Promise.race([running.then((result) => ({ result })), signal.promise.then((s) => ({ signal: s }))]).finally(unsubscribe);
      if ("signal" in outcome) {
        io.out(`${outcome.signal}: stopping`);
        return EXIT_RUNTIME;
      }
      const ranS = outcome.result.run.report.metrics.elapsedMs / 1000;
      io.out(`signed in ${(outcome.result.generateMs / 1000).toFixed(1)} s; load ran ${ranS.toFixed(1)} s of the planned ${durationS} s, closed loop (window ${window})`);
      for (const line of summaryLines(outcome.result)) io.out(line);
      return EXIT_OK;
    } finally {
      signal.dispose();
      if (devnet !== undefined) await devnet.stop();
      if (values.keep === true) io.out(`kept devnet data and logs in ${root}`);
      else rmSync(root, { recursive: true, force: true });
      io.out("devnet stopped and cleaned");
    }
  },
};
