import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { OwnerIndex } from "../../src/api/owner-index.js";
import { genesisTxid } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction, type TxInput } from "../../src/ledger/transaction.js";
import { ENTRY_BYTES, unpackEntry } from "../../src/ledger/utxo-table.js";
import { TestRng } from "../ledger/helpers.js";
import { AMOUNT, hex, makeNet, startNode, until } from "./helpers.js";

/** Per owner: Σ amounts and outpoints, scanned from the shard's whole UTXO set. */
function scan(snapshot: Uint8Array): Map<string, { balance: bigint; outpoints: Set<string> }> {
  const owners = new Map<string, { balance: bigint; outpoints: Set<string> }>();
  for (let at = 0; at < snapshot.length; at += ENTRY_BYTES) {
    const entry = unpackEntry(snapshot, at);
    const owner = hex(entry.owner);
    const record = owners.get(owner) ?? { balance: 0n, outpoints: new Set<string>() };
    record.balance += entry.amount;
    record.outpoints.add(`${hex(entry.txid)}:${entry.index}`);
    owners.set(owner, record);
  }
  return owners;
}

describe("owner index", () => {
  it("matches a scan of the UTXO set after random transfers, live and rebuilt on restart", async () => {
    const net = makeNet("owner-index", 1, 40);
    const rng = new TestRng(8);
    try {
      let { node } = await startNode(net);
      // Three rounds of random transfers, each spending outputs created by the previous round.
      let spendable = net.accounts.map((account, i) => ({ owner: account, txid: genesisTxid(net.genesis), index: i, amount: AMOUNT }));
      for (let round = 0; round < 3; round++) {
        const next: typeof spendable = [];
        const txs: Uint8Array[] = [];
        for (let k = 0; k + 1 < spendable.length; k += 2) {
          const a = spendable[k]!;
          const b = spendable[k + 1]!;
          const inputs: TxInput[] = [a, b].map((s) => ({ txid: s.txid, index: s.index, owner: s.owner.publicKey }));
          const total = a.amount + b.amount;
          const pay = 1n + BigInt(rng.below(Number(total - 1n)));
          const payee = net.accounts[rng.below(net.accounts.length)]!;
          const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs, outputs: [{ owner: payee.publicKey, amount: pay }, { owner: a.owner.publicKey, amount: total - pay }] }, [a.owner, b.owner]);
          txs.push(encodeTransaction(transaction));
          next.push({ owner: payee, txid, index: 0, amount: pay }, { owner: a.owner, txid, index: 1, amount: total - pay });
        }
        const results = await node.pipeline.submit(txs);
        assert.ok(results.every((r) => r.outcome === "accepted"));
        await until(() => (results.every((r) => node.pipeline.status(r.txid!).state === "final") ? true : undefined), `round ${round} final`);
        spendable = next;
      }

      const check = (index: OwnerIndex, snapshot: Uint8Array) => {
        const truth = scan(snapshot);
        for (const account of net.accounts) {
          const expected = truth.get(hex(account.publicKey)) ?? { balance: 0n, outpoints: new Set<string>() };
          assert.deepEqual(index.balanceOf(account.publicKey), { balance: expected.balance, outputs: expected.outpoints.size });
          assert.deepEqual(new Set(index.outputsOf(account.publicKey).map((o) => `${hex(o.txid)}:${o.index}`)), expected.outpoints);
        }
        assert.equal(index.ownerCount, truth.size);
      };
      check(node.api!.owners, node.state.utxoSnapshot());
      await node.stop();
      ({ node } = await startNode(net));
      check(node.api!.owners, node.state.utxoSnapshot());
      await node.stop();
    } finally {
      rmSync(net.dir, { recursive: true, force: true });
    }
  });
});
