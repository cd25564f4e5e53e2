// Nothing a validator accepted for a client is lost at an epoch switch (the node layer's contract,
// src/node/consensus/pob-consensus.ts `submit`). A normal validator relays its clients'
// transactions to their believable assignee and answers "accepted"; an assignee that is switching
// or still syncing drops relays until its driver runs. The relayer follows each relay until it is
// sealed, final or refused, and settles it RELAY_UNANSWERED after RELAY_ANSWER_MS so the client
// sends it again — but that sweep belongs to the relayer's driver, which an epoch's boundary stops
// well before then (epochs of L heights pass every second or so here). Whole PoB validators, 2
// shards × 5, L = 10: the relayer's relays to its shard's producer are dropped on the wire until
// the relayer's driver has stopped at a boundary; the transfer it accepted must still end final on
// every replica of the shard, although the client never sends it again. Found by the load harness
// over real processes (test/devnet/registrant: 353 of 480 accepted transfers lost while the
// registrant, the new epoch's producer, was syncing).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHex } from "../../src/hex.js";
import { TX_RELAY } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { caseSeeds, entryOf, genesisSelfTransfer, pobCluster, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const L = 10;
const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT, fee: FEE } = WHOLE_NODE;
const RELAY_SWITCH_SEEDS = 2;

describe("a relay left unanswered at an epoch switch", () => {
  for (const seed of caseSeeds("relay-switch", RELAY_SWITCH_SEEDS)) {
    it(`${seed}: the transfer a normal validator accepted and relayed, dropped on the wire until the relayer's driver stopped at a boundary, ends final without being sent again`, async () => {
      const { sim, accounts, cluster, positions } = pobCluster({ seed: simSeed(seed), genesisSeed: "relay switch", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: 8, amount: AMOUNT, epochLength: L });
      await cluster.advance(600);
      const producer = toHex(cluster.context.leagues(0).believable[0]!);
      const relayer = entryOf(cluster, 0);
      const node = cluster.node(relayer)!;
      const { bytes, txid } = genesisSelfTransfer(cluster, accounts, positions, 0, AMOUNT, FEE);
      let dropped = 0;
      sim.network.intercept(relayer, (to, type, payload) => (to === producer && type === TX_RELAY ? (dropped++, undefined) : payload));
      const epochAtSubmission = node.decidingEpoch;
      const [answer] = await cluster.submitAndWait(0, [bytes], relayer);
      assert.equal(answer?.outcome, "accepted", JSON.stringify(answer));
      assert.equal(cluster.status(relayer, txid)?.state, "pending");
      // The relayer's driver stops at the next boundary (its shard's opening takes over) long before RELAY_ANSWER_MS.
      assert.ok(await cluster.advance(8_000, () => node.decidingEpoch > epochAtSubmission), `${seed}: the relayer passed a boundary`);
      assert.ok(dropped >= 1, "the relay was sent and dropped");
      sim.network.intercept(relayer, undefined);
      const finalEverywhere = () => cluster.serving(0).every((replica) => replica.driver.status(txid).state === "final");
      assert.ok(await cluster.advance(20_000, finalEverywhere, SETTLED_CHECK_MS),
        `${seed}: final on every replica of shard 0: ${cluster.serving(0).map((replica) => replica.driver.status(txid).state).join(", ")}`);
      await cluster.stop();
    });
  }
});
