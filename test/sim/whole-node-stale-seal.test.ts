// A sealed double spend is never announced (PobNode `announce`, the node's `spent` screen over
// its final state): a producer — stale, or colluding with a payer who signs twice — seals
// transfers spending outputs the final chain already spent, beside an honest one. Every member
// holds the block (its seal and signatures are valid) and tells its clients of the honest
// transfer only: the double spends can only be excluded in phase 2, so no validator may confirm
// them optimistically. Both kinds of spent output are screened: a genesis output (created by the
// chain id) and an output of a final transaction. Phase 2 then rejects both double spends alike on
// every member, and the honest transfer is final.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import { buildOptimisticBlock } from "../../src/consensus/pob/optimistic.js";
import { toHex } from "../../src/hex.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { SIM_WALL_ORIGIN_MS } from "../../src/sim/virtual-clock.js";
import { entryOf, pobCluster, SIM_POLICY, WHOLE_NODE } from "./pob-cluster.js";

const ATTACKER = "ee".repeat(32);

describe("whole-node simulation: a sealed double spend is never announced", () => {
  it("members announce the honest transfer of a stale producer's block, not its spends of outputs the final chain spent, and phase 2 rejects those alike everywhere", async () => {
    const { sim, accounts, validators, cluster: nodes, positions } = pobCluster({ seed: "stale-seal", genesisSeed: "stale-seal", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 4, amount: WHOLE_NODE.amount });
    const producerKey = validators.find((v) => toHex(v.publicKey) === toHex(nodes.context.leagues(0).believable[0]!))!;
    const members = nodes.members(0).filter((id) => id !== toHex(producerKey.publicKey));
    const transfer = (payer: KeyPair, input: { txid: Uint8Array; index: number }, amount: bigint) => {
      const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ ...input, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: amount - WHOLE_NODE.fee }] }, [payer]);
      return { bytes: encodeTransaction(transaction), txid, hex: toHex(txid) };
    };
    const [payer, other] = accounts as [KeyPair, KeyPair];
    const genesisOutput = { txid: nodes.context.chain, index: positions.get(toHex(payer.publicKey))! };
    await nodes.advance(500);

    // Final: the payer's genesis output spent by `first`, whose output is spent by `second`.
    const first = transfer(payer, genesisOutput, WHOLE_NODE.amount);
    const second = transfer(payer, { txid: first.txid, index: 0 }, WHOLE_NODE.amount - WHOLE_NODE.fee);
    for (const tx of [first, second]) {
      await nodes.submitAndWait(0, [tx.bytes], entryOf(nodes, 0));
      assert.ok(await nodes.advance(5_000, () => members.every((id) => nodes.status(id, tx.txid)?.state === "final")), `${tx.hex.slice(0, 8)} final on every member`);
    }

    // Signed again by the payer, amounts changed so the txids differ: each spends an output the final chain spent.
    const spendsGenesisAgain = transfer(payer, genesisOutput, WHOLE_NODE.amount - 1n);
    const spendsFinalAgain = transfer(payer, { txid: first.txid, index: 0 }, WHOLE_NODE.amount - WHOLE_NODE.fee - 1n);
    const honest = transfer(other, { txid: nodes.context.chain, index: positions.get(toHex(other.publicKey))! }, WHOLE_NODE.amount);
    const doubleSpends = [spendsGenesisAgain, spendsFinalAgain];

    const announced = new Map(members.map((id) => [id, new Set<string>()]));
    for (const id of members) {
      nodes.node(id)!.events.optimistic.add((batch) => {
        for (let i = 0; i < batch.txids.length; i += 32) announced.get(id)!.add(toHex(batch.txids.subarray(i, i + 32)));
      });
    }
    sim.addNode(ATTACKER, ({ transport, clock }) => {
      const channel = transport.open({ protocol: "consensus", shard: 0, epoch: 0 });
      clock.setTimer(10, () => {
        const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 1_000, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + clock.now() }, [spendsGenesisAgain.bytes, honest.bytes, spendsFinalAgain.bytes], producerKey);
        for (const id of members) channel.send(id, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
      });
      return channel;
    });

    const settled = () => members.every((id) => [honest, ...doubleSpends].every((tx) => ["final", "rejected"].includes(nodes.status(id, tx.txid)?.state ?? "")));
    assert.ok(await nodes.advance(10_000, settled), `every transfer of the block settled on every member: ${members.map((id) => [honest, ...doubleSpends].map((tx) => nodes.status(id, tx.txid)?.state).join("/")).join(" ")}`);
    for (const id of members) {
      const seen = announced.get(id)!;
      assert.ok(seen.has(honest.hex), `${id.slice(0, 8)} announced the honest transfer`);
      for (const tx of doubleSpends) assert.ok(!seen.has(tx.hex), `${id.slice(0, 8)} did not announce the double spend ${tx.hex.slice(0, 8)}`);
      assert.equal(nodes.status(id, honest.txid)?.state, "final");
    }
    for (const tx of doubleSpends) {
      const answers = new Set(members.map((id) => JSON.stringify(nodes.status(id, tx.txid))));
      assert.equal(answers.size, 1, `the double spend ${tx.hex.slice(0, 8)} settled alike on every member: ${[...answers].join(" ")}`);
      assert.equal(nodes.status(members[0]!, tx.txid)?.state, "rejected");
    }
    assert.deepEqual(nodes.failures, [], "no replica diverged");
    await nodes.stop();
  });
});
