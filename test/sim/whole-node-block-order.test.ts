// A producer's optimistic blocks reaching the normal league out of order (white paper §7.2,
// phase 1 → phase 2): each block names its predecessor, and a transaction in one may spend an
// output created in the one before. A leader orders each producer's blocks in their chain's
// order (PobNode `orderableBlocks`), so no such spend is refused MISSING_INPUT because its block
// overtook its predecessor on the way (found on the devnet: devnet/cross-shard-load lost 18 of
// 300 transfers so, their locks refused for good); and members refuse a proposal that orders a
// block before its own predecessor (PROPOSAL_BLOCK_BEFORE_PREDECESSOR).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHex } from "../../src/hex.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { caseSeeds, pobCluster, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const CHAIN_LENGTH = 12;

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
      const heads = accounts.map((account) => ({ account, txid: nodes.context.chain, index: positions.get(toHex(account.publicKey))!, amount: WHOLE_NODE.amount }));
      const sent: Uint8Array[] = [];
      for (let k = 0; k < CHAIN_LENGTH; k++) {
        for (const head of heads) {
          const amount = head.amount - WHOLE_NODE.fee;
          const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: head.txid, index: head.index, owner: head.account.publicKey }], outputs: [{ owner: head.account.publicKey, amount }] }, [head.account]);
          void nodes.submit(0, [encodeTransaction(transaction)], producer);
          Object.assign(head, { txid, index: 0, amount });
          sent.push(txid);
        }
        await nodes.advance(60);
      }
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
});
