// A believable producer that falls behind its shard's final chain just before an epoch's end must
// not stay behind for good (src/node/validator.ts `#enterLatest`; found on the real-process devnet,
// devnet/registrant, about one run in thirty): the producer is outside the normal league's BFT
// committee, so it learns final heights only from the records its members forward. Here it hears
// none from before the boundary until its shard's next opening has started: it still takes part
// in the transition and learns the next configuration from it, syncs up to the boundary, and
// starts the opening, whose committee ended it meanwhile and no longer serves its records. Before,
// it waited for that end forever, so every later switch queued behind it: its shard ran on
// without it, one producer short. Now a validator outside the opening's committee gives up its
// seat in an opening that decides nothing for OPENING_STALL_DELTAS Δ, as one that learned the
// configuration from its peers' archives does; and a switch whose sync then finds the shard pruned
// at every source, while a later epoch is configured, gives way to the switch into the latest
// (NODE_SWITCH_SUPERSEDED), which joins at an MSB. Whole validators in the simulator; IOS_SIM_SEED
// replays a seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 10;

describe("a producer behind its shard at an epoch's end", () => {
  for (const seed of caseSeeds("late-outsider", 1)) {
    it(`${seed}: cut off from final records from before the boundary until the next opening, it syncs past the opening it missed and serves the later epochs`, async () => {
      const { sim, cluster } = pobCluster({ seed: simSeed(seed), genesisSeed: "whole-node-late-outsider", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 8, amount: 1_000_000n, epochLength: L });
      const ids = cluster.members(0);
      const producer = toHex(cluster.context.leagues(0).believable[0]!);
      const others = ids.filter((id) => id !== producer);
      const epochOf = (id: string) => cluster.node(id)?.context.epoch ?? 0;
      const tipOf = (id: string) => cluster.node(id)?.state.tip.height ?? 0;
      const starve = (on: boolean) => {
        for (const id of others) sim.network.intercept(id, on ? (to, type, payload) => (to === producer && type === POB_MESSAGES.FINAL_RECORD ? undefined : payload) : undefined);
      };
      // A few heights before the boundary, the producer stops hearing final records.
      assert.ok(await cluster.advance(30_000, () => tipOf(producer) >= L - 3), `${seed}: the shard reaches height ${L - 3}`);
      starve(true);
      // Until the others run the opening after the next one (the one it missed no longer has a committee serving it).
      assert.ok(await cluster.advance(60_000, () => others.every((id) => epochOf(id) >= 2) && others.some((id) => cluster.node(id)?.opening === true)),
        `${seed}: the others reach epoch 2's end (epochs ${ids.map(epochOf).join()}, heights ${ids.map(tipOf).join()})`);
      assert.equal(epochOf(producer), 0, "the producer is still in epoch 0 then");
      starve(false);
      const caughtUp = () => epochOf(producer) >= 3 && tipOf(producer) >= 3 * L;
      assert.ok(await cluster.advance(60_000, caughtUp),
        `${seed}: the producer enters the later epochs (epochs ${ids.map(epochOf).join()}, heights ${ids.map(tipOf).join()}, switches ${JSON.stringify(cluster.node(producer)!.recentSwitches)})`);
      // While it learns the later links, a switch may find its shard pruned everywhere and say so (SYNC_NO_SOURCE, retried):
      // epochs here last seconds, so its sources keep two MSBs for only that long. Nothing else may fail.
      const failures = cluster.failures.map((f) => (f.error instanceof IosError ? f.error.code : String(f.error)));
      assert.deepEqual(failures.filter((code) => code !== "SYNC_NO_SOURCE"), [], `${seed}: no driver failed`);
      assert.equal(cluster.agreement(0).firstDifference, undefined, `${seed}: one chain`);
      await cluster.stop();
    });
  }
});
