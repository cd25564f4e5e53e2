// The replicas of a shard flush their UTXO delta in turn (ShardState FlushTurn): spread over the
// flush interval in the shard's members' order, so no height waits for every replica's flush at
// once, and a committee member flushes after a height it led, as far as the rotation allows from
// the next it leads. Whole PoB validators under chained transfers: every member's flush follows a
// height it led (so no two flush after the same height), every replica flushes, every transfer is
// final and the replicas agree, before and after a restart of the whole shard (which replays each
// replica's own tail).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHex } from "../../src/hex.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { FLUSH_INTERVAL_BLOCKS } from "../../src/node/shard-state.js";
import { entryOf, pobCluster, sendChainedSelfTransfers, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

describe("whole-node simulation: replicas flush in turn", () => {
  it("each member flushes after a height it led, no two after the same height, and the shard agrees across a restart", async () => {
    const { sim, accounts, cluster: nodes, positions } = pobCluster({ seed: "flush-turns", genesisSeed: "flush-turns-2", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 4, amount: WHOLE_NODE.amount });
    const ids = nodes.members(0);
    /** Heights after which each replica flushed, from its flushed marker read every 5 ms of virtual time (flushes are heights apart). */
    const flushes = new Map(ids.map((id) => [id, new Set<number>()]));
    let watching = true;
    const watch = () => {
      for (const id of ids) {
        const height = nodes.node(id)?.state.flushedHeight;
        if (height !== undefined && height > 0) flushes.get(id)!.add(height);
      }
      if (watching) sim.schedule(5, "flush watch", watch);
    };
    watch();
    await nodes.advance(500);
    const sent = await sendChainedSelfTransfers(nodes, accounts, positions, entryOf(nodes, 0), 40, 60);
    const final = () => ids.every((id) => sent.every((txid) => nodes.status(id, txid)?.state === "final"));
    assert.ok(await nodes.advance(10_000, final), "every transfer final on every replica");
    // Idle heights (the simulation's heartbeat) flush in turn too.
    await nodes.advance(2_000);
    watching = false;
    const tip = Math.min(...nodes.replicas(0).map((node) => node.state.tip.height));
    assert.ok(tip >= 3 * FLUSH_INTERVAL_BLOCKS, `enough heights for three turns each (tip ${tip})`);

    const committee = ids.filter((id) => (nodes.node(id)!.driver as PobShardConsensus).node.bft !== undefined);
    assert.equal(committee.length, SIM_POLICY.normalLeagueSize);
    const byHeight = new Map<number, string[]>();
    for (const id of ids) {
      assert.ok(flushes.get(id)!.size >= 2, `${id.slice(0, 8)} flushed at its turns: ${[...flushes.get(id)!].join()}`);
      for (const height of flushes.get(id)!) byHeight.set(height, [...(byHeight.get(height) ?? []), id]);
    }
    for (const [height, flushed] of byHeight) {
      const members = flushed.filter((id) => committee.includes(id));
      assert.ok(members.length <= 1, `one committee member at most flushed after height ${height}: ${members.map((id) => id.slice(0, 8)).join()}`);
    }
    for (const id of committee) {
      const bft = (nodes.node(id)!.driver as PobShardConsensus).node.bft!;
      for (const height of flushes.get(id)!) assert.equal(bft.leaderOf(height, 0), bft.selfIndex, `${id.slice(0, 8)} flushed after height ${height}, which it led`);
    }

    const agree = () => {
      const { commonHeight, firstDifference } = nodes.agreement(0);
      assert.ok(commonHeight >= tip);
      assert.equal(firstDifference, undefined, "every replica holds the same blocks");
      const digests = new Set(nodes.replicas(0).map((node) => toHex((node.driver as PobShardConsensus).node.validator.tip)));
      assert.equal(digests.size, 1, "one state commitment");
    };
    agree();
    // Each replica's unflushed tail differs: a crash of all of them replays each one's own.
    for (const id of ids) nodes.crash(id);
    await nodes.advance(200);
    for (const id of ids) nodes.restart(id);
    const more = await sendChainedSelfTransfers(nodes, accounts.slice(0, 1), positions, entryOf(nodes, 0), 1, 60);
    assert.ok(await nodes.advance(10_000, () => ids.every((id) => more.every((txid) => nodes.status(id, txid)?.state === "final"))), "the restarted shard finalizes");
    await nodes.advance(300);
    agree();
    assert.deepEqual(nodes.failures, [], "no replica diverged");
    await nodes.stop();
  });
});
