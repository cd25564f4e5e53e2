// Epochs under load over real processes (issue 14): a 2-shard PoB devnet (8 `ios node` processes)
// with an epoch length of 8 driven by the load harness at a steady rate for long enough to pass
// several epoch switches, during which validators change shard (syncing the new one) and leagues
// are redrawn. The harness follows the switches (src/load: routes rebuilt from each validator's
// status, transactions left behind sent again); the counts must add up — every transfer final,
// none rejected or unsettled — and the chain must keep its supply less the fees, as read from a
// validator serving each shard at the end.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { runDevnetLoad } from "../../src/devnet/session.js";
import { genesisSupply } from "../../src/ledger/genesis.js";

const root = mkdtempSync(join(tmpdir(), "ios-epochs-load-"));
let devnet: Devnet | undefined;
after(async () => {
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

const L = 8;
const TRANSFERS = 400;
/** Transfers per second: 400 take about 20 s, several epochs of this devnet (each: L heights and a transition of a few seconds). */
const RATE = 20;

describe("epochs under load over real processes", () => {
  it("a PoB devnet with an epoch length passes several epochs under a steady load: the harness follows the switches and the counts add up", async () => {
    devnet = await startDevnet({ shards: 2, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "epochs load", accounts: 24, amount: 1_000_000n, workers: 1, epochLength: L });
    const { run } = await runDevnetLoad(devnet, { count: TRANSFERS, seed: "epochs", mode: { kind: "open-loop", rate: RATE }, durationMs: 120_000, drainTimeoutMs: 60_000, reportDir: join(root, "report") });
    const m = run.report.metrics;
    const { epochs } = run.report.run;
    const summary = JSON.stringify({ end: run.end, totals: m.totals, rejected: m.rejectedByCode, resent: m.resentByCause, epochs: { first: epochs.first, last: epochs.last, switches: epochs.switches.length } });
    assert.equal(run.end, "settled", summary);
    assert.deepEqual([m.totals.submitted, m.totals.final, m.totals.rejected, m.totals.unsettled], [TRANSFERS, TRANSFERS, 0, 0], summary);
    assert.ok(epochs.last - epochs.first >= 2, `the load spans at least two switches: ${summary}`);
    assert.ok(epochs.switches.length > 0, `the harness saw validators switch: ${summary}`);

    // Every validator serves the shard its latest epoch assigns; the shards' supplies add up to the genesis's less one fee per transfer.
    const statuses = await Promise.all(devnet.manifest.validators.map(async (v) => (await new ApiClient(v.http).status()) as unknown as { epoch: number; shard: number; supply: string; tip: { height: number } }));
    const servingEach = [0, 1].map((shard) => statuses.filter((status) => status.shard === shard));
    assert.ok(servingEach.every((list) => list.length > 0), "each shard has validators");
    let supply = 0n;
    for (const list of servingEach) {
      // Validators of one shard agree on its supply once at the same height; the quiet end of the run leaves only empty heights.
      supply += BigInt(list[0]!.supply);
      assert.equal(new Set(list.map((status) => status.supply)).size, 1, "a shard's validators agree on its supply");
    }
    assert.equal(supply, genesisSupply(devnet.genesis) - BigInt(TRANSFERS), "the chain keeps its supply less the fees");
  });
});
