// Heights' spacing (PobNodeConfig `minHeightIntervalMs`, the node's default 150 ms): at moderate
// load a leader proposes no sooner than the spacing after the previous final proposal's
// timestamp, so a height carries more transactions and its fixed costs are shared. The same
// workload decides heights closer together without it; with it, every pair of consecutive final
// heights is at least the spacing apart, every transfer is final and the replicas agree.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBlockHeader } from "../../src/ledger/block.js";
import { DEFAULT_MIN_HEIGHT_INTERVAL_MS } from "../../src/node/consensus/pob-consensus.js";
import { entryOf, pobCluster, sendChainedSelfTransfers, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const ROUNDS = 20;
const ROUND_MS = 40;

/** Final heights' timestamps on the first replica, and how many transfers each height carried, after chains of self-transfers every ROUND_MS. */
async function run(minHeightIntervalMs: number): Promise<{ timestamps: number[]; txCounts: number[] }> {
  const { accounts, cluster: nodes, positions } = pobCluster({ seed: `height-spacing-${minHeightIntervalMs}`, genesisSeed: "height-spacing", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 4, amount: WHOLE_NODE.amount, minHeightIntervalMs, idleBlockMs: 5_000 });
  await nodes.advance(500);
  const start = nodes.replicas(0)[0]!.state.tip.height;
  const sent = await sendChainedSelfTransfers(nodes, accounts, positions, entryOf(nodes, 0), ROUNDS, ROUND_MS);
  const settled = () => nodes.members(0).every((id) => sent.every((txid) => nodes.status(id, txid)?.state === "final"));
  await nodes.advance(20_000, settled);
  assert.ok(settled(), `every transfer final on every validator (spacing ${minHeightIntervalMs} ms)`);
  assert.equal(nodes.agreement(0).firstDifference, undefined);
  assert.deepEqual(nodes.failures, []);
  const replica = nodes.replicas(0)[0]!;
  const timestamps: number[] = [];
  const txCounts: number[] = [];
  for (let height = start + 1; height <= replica.state.tip.height; height++) {
    const header = decodeBlockHeader(replica.state.getBlock(height)!);
    timestamps.push(header.timestamp);
    txCounts.push(header.txCount);
  }
  await nodes.stop();
  return { timestamps, txCounts };
}

const gaps = (timestamps: readonly number[]) => timestamps.slice(1).map((t, i) => t - timestamps[i]!);

describe("heights' spacing", () => {
  it(`a leader proposes no sooner than ${DEFAULT_MIN_HEIGHT_INTERVAL_MS} ms after the previous final height: fewer, fuller heights than back to back, every transfer final`, async () => {
    const backToBack = await run(0);
    const spaced = await run(DEFAULT_MIN_HEIGHT_INTERVAL_MS);
    // The workload decides heights closer together than the spacing when nothing holds them back.
    assert.ok(gaps(backToBack.timestamps).some((gap) => gap < DEFAULT_MIN_HEIGHT_INTERVAL_MS), `back to back: gaps ${gaps(backToBack.timestamps).join(", ")}`);
    const spacedGaps = gaps(spaced.timestamps);
    assert.ok(spacedGaps.length >= 3, `spaced: ${spaced.timestamps.length} heights`);
    assert.ok(spacedGaps.every((gap) => gap >= DEFAULT_MIN_HEIGHT_INTERVAL_MS), `spaced: gaps ${spacedGaps.join(", ")}`);
    const carried = (r: { txCounts: number[] }) => r.txCounts.reduce((a, b) => a + b, 0) / r.txCounts.filter((n) => n > 0).length;
    assert.ok(spaced.timestamps.length < backToBack.timestamps.length, `${spaced.timestamps.length} spaced heights, ${backToBack.timestamps.length} back to back`);
    assert.ok(carried(spaced) > carried(backToBack), `transfers per non-empty height: spaced ${carried(spaced)}, back to back ${carried(backToBack)}`);
  });
});
