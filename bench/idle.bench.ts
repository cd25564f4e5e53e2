/**
 * Idle cost of a devnet (issue 16, "Idle"): the default devnet of `ios start` (2 shards × 5
 * validators, 1 believable producer and a normal league of 4 per shard) with no load at all. After
 * a settling period, samples every validator's process CPU (/proc, `CpuSampler`) and counts the
 * final heights each decided: an idle shard decides one empty height per heartbeat
 * (`DEFAULT_IDLE_PROPOSAL_MS`, PoB `idleProposalMs`).
 * Target: at most 1% of a core per validator.
 * Results: bench/results/idle.json. IDLE_BENCH_SECONDS sets the measurement (default 30).
 * Not benny: one sample is half a minute of a whole network.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDevnet, validatorProcesses } from "../src/devnet/launcher.js";
import { CpuSampler } from "../src/load/metrics.js";
import { DEFAULT_IDLE_PROPOSAL_MS } from "../src/node/consensus/pob-consensus.js";

const RESULTS_FILE = "bench/results/idle.json";
const SECONDS = Number(process.env.IDLE_BENCH_SECONDS ?? 30);
/** Startup (module loading, genesis checks, the first heights) is not idle: measured after it. */
const SETTLE_MS = 5_000;
const TARGET_PERCENT_PER_VALIDATOR = 1;

const root = mkdtempSync(join(tmpdir(), "ios-idle-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function statusOf(url: string): Promise<{ height: number; role: string | undefined }> {
  const status = (await (await fetch(`${url}/v1/status`)).json()) as { tip: { height: number }; consensus?: { role?: string } };
  return { height: status.tip.height, role: status.consensus?.role };
}

const devnet = await startDevnet({ shards: 2, validatorsPerShard: 5, believable: 1, dir: join(root, "devnet"), seed: "idle-bench", accounts: 100 });
let result;
try {
  if (!devnet.consensus) throw new Error("the validators of a shard did not agree on their first block: nothing to measure");
  await sleep(SETTLE_MS);
  const { validators } = devnet.manifest;
  const before = await Promise.all(validators.map((v) => statusOf(v.http)));
  const sampler = new CpuSampler(validatorProcesses(devnet.manifest), Date.now());
  await sleep(SECONDS * 1000);
  sampler.sample(Date.now());
  const after = await Promise.all(validators.map((v) => statusOf(v.http)));
  const perValidator = sampler.summary().map((c, i) => ({
    validator: i, shard: validators[i]!.shard, role: after[i]!.role ?? null, percentOfCore: c.meanPercent,
    heightsPerMinute: Math.round(((after[i]!.height - before[i]!.height) * 60) / SECONDS),
  }));
  const percents = perValidator.map((v) => v.percentOfCore);
  result = {
    benchmark: "idle devnet (2 shards x 5 validators, PoB, no load)",
    date: new Date().toISOString(),
    machine: { cores: (await import("node:os")).availableParallelism(), node: process.version },
    seconds: SECONDS, heartbeatMs: DEFAULT_IDLE_PROPOSAL_MS,
    targetPercentPerValidator: TARGET_PERCENT_PER_VALIDATOR,
    maxPercentPerValidator: Math.max(...percents),
    meanPercentPerValidator: Math.round((100 * percents.reduce((a, b) => a + b, 0)) / percents.length) / 100,
    totalPercent: Math.round(100 * percents.reduce((a, b) => a + b, 0)) / 100,
    perValidator,
  };
} finally {
  await devnet.stop();
}
for (const v of result.perValidator) console.log(`validator ${v.validator} (shard ${v.shard}, ${v.role}): ${v.percentOfCore.toFixed(2)}% of a core, ${v.heightsPerMinute} heights/min`);
console.log(`idle devnet: mean ${result.meanPercentPerValidator}% of a core per validator, max ${result.maxPercentPerValidator}%, total ${result.totalPercent}% (target <= ${TARGET_PERCENT_PER_VALIDATOR}% each)`);
writeFileSync(RESULTS_FILE, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${RESULTS_FILE}`);
