// Nothing a validator accepted for a client is lost at an epoch switch, in one league either (the node layer's contract,
// src/node/consensus/pob-consensus.ts `submit`). A one-league PoB shard (every member in the normal league, no producer)
// takes a client's transaction into the accepting member's hold and sends it to the others; a leader orders what it
// holds. Before, a switch dropped the hold with the driver: a transfer accepted by a member that had not shared it yet,
// or not led since, was then unknown everywhere (seen once over real processes: one accepted transfer TX_NOT_FOUND on
// every validator after a 2 × 5 epoch-dip run's switch, its 90 chained children unsettled). Whole PoB validators, 2
// shards × 4, one league, L = 10: the accepting member's shares and proposals are dropped on the wire until it has
// passed a boundary; its status says pending meanwhile, and the transfer must end final on every replica of the shard
// without being sent again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { caseSeeds, entryOf, genesisSelfTransfer, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 10;
const SHARDS = 2;
const PER_SHARD = 4;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const ONE_LEAGUE_SWITCH_SEEDS = 2;

describe("a one-league transaction held at an epoch switch", () => {
  for (const seed of caseSeeds("one-league-switch", ONE_LEAGUE_SWITCH_SEEDS)) {
    it(`${seed}: the transfer a member accepted and kept to itself until its driver stopped at a boundary ends final without being sent again`, async () => {
      const { sim, accounts, cluster, positions } = pobCluster({
        seed: simSeed(seed), genesisSeed: "one-league switch", policy: { ...SIM_POLICY, normalLeagueSize: PER_SHARD }, shards: SHARDS, perShard: PER_SHARD, accounts: 8, amount: AMOUNT, epochLength: L,
      });
      await cluster.advance(600);
      const modes = new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode));
      assert.deepEqual([...modes], ["one-league"], "every member of shard 0 in one league");
      const member = entryOf(cluster, 0);
      const node = cluster.node(member)!;
      const { bytes, txid } = genesisSelfTransfer(cluster, accounts, positions, 0, AMOUNT, FEE);
      // Until its driver stops at a boundary, the member neither shares what it holds nor gets a proposal through when it leads.
      let dropped = 0;
      sim.network.intercept(member, (_to, type, payload) => (type === POB_MESSAGES.TRANSACTION || type === BFT_MESSAGES.PROPOSE ? (dropped++, undefined) : payload));
      const epochAtSubmission = node.decidingEpoch;
      const [answer] = await cluster.submitAndWait(0, [bytes], member);
      assert.equal(answer?.outcome, "accepted", JSON.stringify(answer));
      assert.equal(cluster.status(member, txid)?.state, "pending", "held: pending where it was accepted");
      assert.ok(await cluster.advance(8_000, () => node.decidingEpoch > epochAtSubmission), `${seed}: the member passed a boundary`);
      assert.ok(dropped >= 1, "the member's share was dropped");
      assert.ok(cluster.serving(0).every((replica) => replica.driver.status(txid).state !== "final"), `${seed}: not final before the switch`);
      sim.network.intercept(member, undefined);
      const finalEverywhere = () => cluster.serving(0).every((replica) => replica.driver.status(txid).state === "final");
      assert.ok(await cluster.advance(20_000, finalEverywhere, SETTLED_CHECK_MS),
        `${seed}: final on every replica of shard 0: ${cluster.serving(0).map((replica) => replica.driver.status(txid).state).join(", ")}`);
      await cluster.stop();
    });
  }
});
