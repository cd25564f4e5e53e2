// Heights' spacing (PobNodeConfig `minHeightIntervalMs`, the node's default 150 ms): at moderate
// load a leader proposes no sooner than the spacing after the previous final proposal's
// timestamp, so a height carries more transactions and its fixed costs are shared. The same
// workload decides heights closer together without it; with it, every pair of consecutive final
// heights is at least the spacing apart, every transfer is final and the replicas agree. A
// member whose clock runs ahead (within the skew members accept, MAX_CLOCK_SKEW_MS) stamps its
// proposals in the future: the spacing counts on each leader's own clock from when the previous
// height's proposal reached it, so no leader waits for that time (into a view change).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeBlockHeader } from "../../src/ledger/block.js";
import { DEFAULT_MIN_HEIGHT_INTERVAL_MS, type PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { entryOf, pobCluster, sendChainedSelfTransfers, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const ROUNDS = 20;
const ROUND_MS = 40;
/** Within MAX_CLOCK_SKEW_MS (10 s): members accept its proposals' times. */
const AHEAD_MS = 5_000;

/**
 * Final heights' timestamps on the first replica, how many transfers each height carried, and the
 * virtual ms from the last submission until every transfer was final everywhere, after chains of
 * self-transfers every ROUND_MS; with `aheadMs`, one normal member's wall clock runs that far ahead.
 */
async function run(minHeightIntervalMs: number, aheadMs = 0): Promise<{ timestamps: number[]; txCounts: number[]; settleMs: number; viewChanges: number }> {
  const { sim, accounts, cluster: nodes, positions } = pobCluster({ seed: `height-spacing-${minHeightIntervalMs}`, genesisSeed: "height-spacing", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 4, amount: WHOLE_NODE.amount, minHeightIntervalMs, idleBlockMs: 5_000 });
  await nodes.advance(500);
  if (aheadMs !== 0) {
    const clock = nodes.node(entryOf(nodes, 0))!.clock;
    const wallNow = clock.wallNow.bind(clock);
    clock.wallNow = () => wallNow() + aheadMs;
  }
  const start = nodes.replicas(0)[0]!.state.tip.height;
  const sent = await sendChainedSelfTransfers(nodes, accounts, positions, entryOf(nodes, 0), ROUNDS, ROUND_MS);
  const settled = () => nodes.members(0).every((id) => sent.every((txid) => nodes.status(id, txid)?.state === "final"));
  const lastSent = sim.now();
  await nodes.advance(20_000, settled);
  const settleMs = sim.now() - lastSent;
  const viewChanges = nodes.members(0).reduce((sum, id) => sum + ((nodes.node(id)!.driver as PobShardConsensus).node.bft?.stats.viewChanges ?? 0), 0);
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
  return { timestamps, txCounts, settleMs, viewChanges };
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

  it(`a member whose clock runs ${AHEAD_MS / 1000} s ahead holds no height back longer than the spacing: the transfers settle as fast as with honest clocks`, async () => {
    const honest = await run(DEFAULT_MIN_HEIGHT_INTERVAL_MS);
    const ahead = await run(DEFAULT_MIN_HEIGHT_INTERVAL_MS, AHEAD_MS);
    // Its proposals are stamped in the future, and every later one no earlier (a height's time never runs backwards).
    assert.ok(ahead.timestamps.some((t, i) => t - honest.timestamps[0]! >= AHEAD_MS / 2 && i > 0), `timestamps ${ahead.timestamps.join(", ")}`);
    // No leader waits out the future time into a view change (view 0's timeout here is 400 ms).
    assert.deepEqual([honest.viewChanges, ahead.viewChanges], [0, 0], "no view change");
    assert.ok(ahead.settleMs <= honest.settleMs + 4 * DEFAULT_MIN_HEIGHT_INTERVAL_MS, `settled ${ahead.settleMs} ms after the last submission, ${honest.settleMs} ms with honest clocks`);
  });
});
