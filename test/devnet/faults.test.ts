/**
 * Faults as a user sees them (issue 16), over real processes: `ios devnet` (one shard of 4
 * one-league BFT validators, which tolerates one fault) keeps running when a validator is
 * SIGKILLed and reports it; `ios devnet pause|resume|restart|stop|status N` reach its launcher
 * through D/control.json; `ios load` driven meanwhile ends with every transfer final and counts
 * the fault. One devnet serves every step, to keep the file short.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { readDevnetManifest } from "../../src/devnet/launcher.js";
import { deriveTestAccounts, genesisTxid } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { LoadReport } from "../../src/load/report.js";
import { loadGenesisFile } from "../../src/node/config.js";
import { socketDirectoryOf } from "../../src/node/socket-dir.js";
import { IosProcess, ios } from "../cli/helpers.js";

const root = mkdtempSync(join(tmpdir(), "ios-faults-test-"));
const processes: IosProcess[] = [];
after(async () => {
  for (const p of processes) await p.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Transfers at RATE tx/s: the validator is killed while they are submitted. */
const TRANSFERS = 400;
/** Funded workload accounts; the reserve accounts after them (src/devnet/launcher.ts) serve the pause step. */
const ACCOUNTS = 60;
const RATE = 100;

async function height(url: string): Promise<number> {
  return (await new ApiClient(url).status()).tip.height;
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(100);
  }
}

/**
 * A transfer of reserve account `index` (of the devnet's seed) paying its genesis output back to
 * itself: a transaction no load touches. Account ACCOUNTS is the launcher's probe.
 */
function selfTransfer(genesisFile: string, index: number): Uint8Array {
  const genesis = loadGenesisFile(genesisFile);
  const pair = deriveTestAccounts("faults", index + 1)[index]!;
  const output = genesis.outputs.findIndex((o) => Buffer.from(o.owner).equals(pair.publicKey));
  assert.ok(output >= 0);
  const { transaction } = signTransaction(
    { kind: TxKind.Transfer, inputs: [{ txid: genesisTxid(genesis), index: output, owner: pair.publicKey }], outputs: [{ owner: pair.publicKey, amount: genesis.outputs[output]!.amount }] },
    [pair],
  );
  return encodeTransaction(transaction);
}

/** The process state letter of /proc/PID/stat ("T": stopped by a signal). */
function processState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0]!;
}

describe("devnet faults: the launcher keeps the rest, control commands, the load survives", () => {
  it("pause, kill, restart and stop one validator while ios load runs: every transfer final, the faults reported", async () => {
    const dir = join(root, "net");
    const launcher = new IosProcess(["devnet", "--shards", "1", "--validators-per-shard", "4", "--believable", "0", "--dir", dir, "--accounts", String(ACCOUNTS), "--seed", "faults"]);
    processes.push(launcher);
    await launcher.waitFor(/running; load it/, 60_000);
    const manifest = readDevnetManifest(dir);
    const [v0, v1, v2] = manifest.validators;
    const control = (...args: string[]) => ios(["devnet", ...args, "--dir", dir]);

    const status = await control("status");
    assert.equal(status.code, 0, status.stderr);
    assert.equal([...status.stdout.matchAll(/^\d+ +0 +bft +\d+ +running +http:\/\/127\.0\.0\.1:\d+$/gm)].length, 4, status.stdout);

    // Pause: validator 2 answers nothing while the other three keep finalizing (transfers of the
    // devnet's unused reserve accounts, not the load's); resumed, it catches up.
    const paused = await control("pause", "2");
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /^2 +0 +bft +\d+ +paused /m);
    assert.equal(processState(v2!.pid), "T");
    await assert.rejects(fetch(`${v2!.http}/v1/status`, { signal: AbortSignal.timeout(500) }), "a paused validator does not answer");
    const before = await height(v0!.http);
    for (const reserve of [ACCOUNTS + 1, ACCOUNTS + 2]) {
      await new ApiClient(v0!.http).submitTransaction(selfTransfer(manifest.genesis, reserve));
      await until("the shard finalizes without validator 2", async () => (await height(v0!.http)) > before + reserve - ACCOUNTS - 1);
    }
    const resumed = await control("resume", "2");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^2 +0 +bft +\d+ +running /m);
    const resumedAt = await height(v0!.http);
    assert.ok(resumedAt >= before + 2);
    await until("validator 2 catches up", async () => (await height(v2!.http)) >= resumedAt);
    assert.equal((await control("resume", "2")).code, 1, "resuming a running validator is DEVNET_BAD_STATE");

    // Kill while ios load submits: the launcher reports it and keeps the others; restart brings it back with its data.
    const reportDir = join(root, "report");
    const load = new IosProcess(["load", "--devnet", dir, "--tx", String(TRANSFERS), "--rate", String(RATE), "--drain", "120", "--seed", "faults-load", "--report", reportDir]);
    processes.push(load);
    await load.waitFor(/submitted [1-9]/, 60_000);
    assert.ok(existsSync(socketDirectoryOf(v1!.dataDir)), "a running validator has its socket directory");
    process.kill(v1!.pid, "SIGKILL");
    await until("the launcher reports the exit", async () => /validator 1 \(shard 0, bft league, pid \d+\) exited by itself \(code null, signal SIGKILL\); the others keep running/.test(launcher.stderr));
    assert.ok(!existsSync(socketDirectoryOf(v1!.dataDir)), "the launcher removed the killed validator's socket directory");
    assert.match(launcher.stderr, new RegExp(`its last lines are in ${join(dir, "logs", "validator-1.log")}`));
    assert.match((await control("status")).stdout, /^1 +0 +bft +\d+ +exited +.*\(last exit: code null, signal SIGKILL\)$/m);
    const killedAt = await height(v0!.http);
    const restarted = await control("restart", "1");
    assert.equal(restarted.code, 0, restarted.stderr);
    const newPid = Number(restarted.stdout.match(/^1 +0 +bft +(\d+) +running /m)?.[1]);
    assert.ok(newPid > 0 && newPid !== v1!.pid, restarted.stdout);
    assert.equal(readDevnetManifest(dir).validators[1]!.pid, newPid, "devnet.json names the new process");
    await until("validator 1 catches up", async () => (await height(v1!.http)) > killedAt);

    assert.equal(await load.exited, 0, load.stderr);
    assert.match(load.stdout, new RegExp(`${TRANSFERS} final of ${TRANSFERS} submitted \\(0 rejected, 0 pending; settled\\)`));
    assert.match(load.stdout, /faults: 1 disconnection\(s\), [01] reconnection\(s\)/);
    const report = JSON.parse(readFileSync(join(reportDir, "load-report.json"), "utf8")) as LoadReport;
    assert.ok(report.faults !== undefined, "the driver's report lists its faults");
    const faults = report.faults.filter((f) => f.endpoint === v1!.stream);
    assert.equal(faults[0]?.kind, "disconnected");
    assert.equal(faults[0]?.shard, 0);
    assert.equal(report.faults.length, faults.length, "only validator 1's stream failed");
    assert.equal(report.metrics.resubmitted.count, report.metrics.resentByCause.ENDPOINT_DISCONNECTED ?? 0);
    assert.equal(report.metrics.resubmitted.finalLatency.count, report.metrics.resubmitted.count, "every resubmitted transfer became final");

    // Stop: the validator ends cleanly and stays stopped; bad commands are coded errors.
    const stopped = await control("stop", "3");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /^3 +0 +bft +\d+ +stopped +.*\(last exit: code 0, signal null\)$/m);
    assert.doesNotMatch(launcher.stderr, /validator 3 .*exited by itself/);
    const bad = await control("stop", "9");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error DEVNET_NO_VALIDATOR: the devnet has validators 0\.\.3, not 9/);
    const usage = await control("pause");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /pause needs a validator index N/);
    assert.equal((await control("stop", "0", "--shards", "2")).code, 2, "launch options are refused with a control command");
    const proc = await ios(["devnet", "status", "--dir", "/proc/self"]);
    assert.equal(proc.code, 2);
    assert.match(proc.stderr, /CLI_BAD_PATH/);

    launcher.child.kill("SIGINT");
    assert.equal(await launcher.exited, 0);
    const gone = await control("status");
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /error DEVNET_LAUNCHER_GONE: .*control\.json is absent/);
  });
});
