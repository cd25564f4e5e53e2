// A producer's optimistic blocks reaching the normal league out of order (white paper §7.2,
// phase 1 → phase 2): each block names its predecessor, and a transaction in one may spend an
// output created in the one before. A leader orders each producer's blocks in their chain's
// order (PobNode `orderableBlocks`), so no such spend is refused MISSING_INPUT because its block
// overtook its predecessor on the way (found on the devnet: devnet/cross-shard-load lost 18 of
// 300 transfers so, their locks refused for good); and members refuse a proposal that orders a
// block before its own predecessor (PROPOSAL_BLOCK_BEFORE_PREDECESSOR). A block waits for a
// predecessor never received at most PREDECESSOR_WAIT_MS, but always for one that is held: a
// byzantine producer sending a predecessor just as that wait ends cannot make every leader propose
// what the members refuse.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KeyPair } from "../../src/ledger/keys.js";
import { decodeBlockHeader } from "../../src/ledger/block.js";
import type { Channel, PeerId } from "../../src/net/interface.js";
import { POB_MESSAGES, PREDECESSOR_WAIT_MS } from "../../src/consensus/pob/protocol.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { caseSeeds, pobCluster, sendChainedSelfTransfers, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const CHAIN_LENGTH = 12;

/** Each account pays itself CHAIN_LENGTH times, each transfer spending the one before, one every 60 ms: past the producer's 50 ms sealing interval, so each lands in a block after its parent's. The txids. */
const sendChains = (nodes: ReturnType<typeof pobCluster>["cluster"], accounts: readonly KeyPair[], positions: ReadonlyMap<string, number>, producer: PeerId) =>
  sendChainedSelfTransfers(nodes, accounts, positions, producer, CHAIN_LENGTH, 60);

describe("optimistic blocks out of order", () => {
  for (const seed of caseSeeds("block-order", 2)) {
    it(`chains of transfers sealed in consecutive blocks that overtake one another on the way: every transfer final, none refused (${seed})`, async () => {
      const { sim, accounts, cluster: nodes, positions } = pobCluster({ seed, genesisSeed: "block-order", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 3, amount: WHOLE_NODE.amount });
      const producer = nodes.members(0).find((id) => nodes.context.leagues(0).isBelievable(Buffer.from(id, "hex")))!;
      // Half the producer's messages are held back by up to 300 ms: its blocks overtake one another.
      for (const id of nodes.members(0)) if (id !== producer) sim.network.setLink(producer, id, { reorder: { probability: 0.5, maxExtraMs: 300 } });
      await nodes.advance(500);
      // Each account pays itself CHAIN_LENGTH times, each transfer spending the one before, one every 60 ms: past the
      // producer's 50 ms sealing interval, so each lands in a block after its parent's.
      const sent = await sendChains(nodes, accounts, positions, producer);
      const statuses = () => nodes.members(0).flatMap((id) => sent.map((txid) => nodes.status(id, txid)));
      await nodes.advance(15_000, () => statuses().every((status) => status?.state === "final" || status?.state === "rejected"));
      const refused = statuses().filter((status) => status?.state === "rejected").map((status) => (status?.state === "rejected" ? status.code : ""));
      assert.deepEqual(refused, [], "no transfer refused");
      assert.ok(statuses().every((status) => status?.state === "final"), "every transfer final on every member");
      assert.equal(nodes.agreement(0).firstDifference, undefined);
      assert.deepEqual(nodes.failures, []);
      await nodes.stop();
    });
  }

  it("a byzantine producer sends a block's predecessor only as the successor's wait ends: no leader orders the successor first, the shard keeps finalizing", async () => {
    const { sim, accounts, cluster: nodes, positions } = pobCluster({ seed: "block-order-late", genesisSeed: "block-order", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 3, amount: WHOLE_NODE.amount });
    const producer = nodes.members(0).find((id) => nodes.context.leagues(0).isBelievable(Buffer.from(id, "hex")))!;
    const members = nodes.members(0).filter((id) => id !== producer);
    // The producer withholds its block #2, and sends it to everyone so that it arrives as #3's wait for it ends.
    let withheld: Uint8Array | undefined;
    sim.network.intercept(producer, (_to, type, payload) => {
      if (type !== POB_MESSAGES.OPTIMISTIC_BLOCK) return payload;
      const { height } = decodeBlockHeader(payload);
      if (height === 2) {
        withheld ??= payload.slice();
        return undefined;
      }
      if (height === 3 && withheld !== undefined) {
        sim.network.intercept(producer, undefined);
        sim.schedule(PREDECESSOR_WAIT_MS - 3, "the withheld block goes out", () => {
          const channel = ((nodes.node(producer)!.driver as PobShardConsensus).node as unknown as { deps: { channel: Channel } }).deps.channel;
          channel.broadcast(members, POB_MESSAGES.OPTIMISTIC_BLOCK, withheld!);
        });
      }
      return payload;
    });
    await nodes.advance(500);
    const sent = await sendChains(nodes, accounts, positions, producer);
    const settled = () => members.every((id) => sent.every((txid) => ["final", "rejected"].includes(nodes.status(id, txid)?.state ?? "")));
    assert.ok(await nodes.advance(15_000, settled), "every transfer settled on every member");
    assert.ok(withheld !== undefined, "block #2 was withheld");
    const refused = members.reduce((n, id) => n + ((nodes.node(id)!.driver as PobShardConsensus).node.stats.refused.get("PROPOSAL_BLOCK_BEFORE_PREDECESSOR") ?? 0), 0);
    assert.equal(refused, 0, "no leader proposed a block before its held predecessor");
    assert.ok(sent.every((txid) => nodes.status(members[0]!, txid)?.state === "final"), "the withheld block's successors waited for it: every transfer final");
    assert.equal(nodes.agreement(0).firstDifference, undefined);
    assert.deepEqual(nodes.failures, []);
    await nodes.stop();
  });
});
