// A validator that falls behind its shard's final chain just before an epoch's end must not stay
// behind for good (src/node/validator.ts `#enterLatest`; found on the real-process devnet,
// devnet/registrant, about one run in thirty). Here it hears nothing of its shard's consensus from
// a few heights before the boundary until the shard runs its next opening: it still takes part in
// the transition and learns the next configuration from it, syncs up to the boundary, and starts
// the opening, whose committee ended it meanwhile and no longer serves its records. Before, it
// waited for that end forever, and every later switch queued behind it: the shard ran on without
// it. Now
//  - a producer (outside the normal league's BFT committee: it learns final heights only from the
//    records members forward) gives up its seat in an opening that decides nothing for
//    OPENING_STALL_DELTAS Δ, as one that learned the configuration from peers' archives does;
//  - a committee member does so once the epoch after the one it moves into is configured (from
//    its peers' archives): the shard finished that epoch, no quorum of the opening needs it;
//  - a switch whose sync then finds the shard pruned at every source, while a later epoch is
//    configured, gives way to the switch into the latest (NODE_SWITCH_SUPERSEDED), which joins at
//    an MSB.
// Whole validators in the simulator; IOS_SIM_SEED replays a seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 10;
/** What a validator hears of its shard's consensus: a producer only the forwarded records, a member the BFT messages and the blocks too. */
const HEARD = {
  producer: new Set<number>([POB_MESSAGES.FINAL_RECORD]),
  member: new Set<number>([...Object.values(BFT_MESSAGES), POB_MESSAGES.FINAL_RECORD, POB_MESSAGES.OPTIMISTIC_BLOCK]),
};

async function run(seed: string, role: keyof typeof HEARD) {
  const { sim, cluster } = pobCluster({ seed: simSeed(seed), genesisSeed: "whole-node-behind-at-boundary", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 8, amount: 1_000_000n, epochLength: L });
  const ids = cluster.members(0);
  const producer = toHex(cluster.context.leagues(0).believable[0]!);
  const behind = role === "producer" ? producer : ids.find((id) => id !== producer)!;
  const others = ids.filter((id) => id !== behind);
  const epochOf = (id: string) => cluster.node(id)?.context.epoch ?? 0;
  const tipOf = (id: string) => cluster.node(id)?.state.tip.height ?? 0;
  const starve = (on: boolean) => {
    for (const id of others) sim.network.intercept(id, on ? (to, type, payload) => (to === behind && HEARD[role].has(type) ? undefined : payload) : undefined);
  };
  // A few heights before the boundary, it stops hearing its shard's consensus.
  assert.ok(await cluster.advance(30_000, () => tipOf(behind) >= L - 3), `${seed}: the shard reaches height ${L - 3}`);
  starve(true);
  // Until the others run the opening after the next one (the one it missed no longer has a committee serving it).
  assert.ok(await cluster.advance(60_000, () => others.every((id) => epochOf(id) >= 2) && others.some((id) => cluster.node(id)?.opening === true)),
    `${seed}: the others reach epoch 2's end (epochs ${ids.map(epochOf).join()}, heights ${ids.map(tipOf).join()})`);
  assert.equal(epochOf(behind), 0, `the ${role} is still in epoch 0 then`);
  starve(false);
  const caughtUp = () => epochOf(behind) >= 3 && tipOf(behind) >= 3 * L;
  assert.ok(await cluster.advance(60_000, caughtUp),
    `${seed}: the ${role} enters the later epochs (epochs ${ids.map(epochOf).join()}, heights ${ids.map(tipOf).join()}, switches ${JSON.stringify(cluster.node(behind)!.recentSwitches)})`);
  // While it learns the later links, a switch may find its shard pruned everywhere and say so (SYNC_NO_SOURCE, retried):
  // epochs here last seconds, so its sources keep two MSBs for only that long. Nothing else may fail.
  const failures = cluster.failures.map((f) => (f.error instanceof IosError ? f.error.code : String(f.error)));
  assert.deepEqual(failures.filter((code) => code !== "SYNC_NO_SOURCE"), [], `${seed}: no driver failed`);
  assert.equal(cluster.agreement(0).firstDifference, undefined, `${seed}: one chain`);
  await cluster.stop();
}

describe("a validator behind its shard at an epoch's end", () => {
  for (const seed of caseSeeds("behind-at-boundary", 1)) {
    it(`${seed}: a producer cut off from final records from before the boundary until the next opening syncs past the opening it missed and serves the later epochs`, () => run(seed, "producer"));
    it(`${seed}: a committee member cut off from its shard's consensus the same way gives up the ended opening once a later epoch is configured, and serves the later epochs`, () => run(seed, "member"));
  }
});
