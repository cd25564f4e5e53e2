/**
 * The ConsensusHost contract, on both hosts (the node's Pipeline and VerifiedTxQueue): verified
 * transactions are offered as candidates and left in place, `holds` recognises exactly the bytes
 * verified, and a final block committed elsewhere settles them.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlockKind, encodeBlock, makeBlockHeader } from "../../src/ledger/block.js";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { ConsensusHost, TxSink } from "../../src/node/consensus/interface.js";
import { VerifiedTxQueue } from "../../src/node/consensus/verified-queue.js";
import { Pipeline } from "../../src/node/pipeline.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { ShardState } from "../../src/node/shard-state.js";

const AMOUNT = 1_000_000n;
const { genesis, accounts, validators } = makeTestGenesis({ seed: "consensus host contract", shardCount: 1, accounts: 4, amount: AMOUNT, validators: 1 });
const GENESIS_ID = genesisTxid(genesis);

function spend(index: number): { bytes: Uint8Array; txid: Uint8Array } {
  const owner = accounts[index]!;
  const { transaction, txid } = signTransaction(
    { kind: TxKind.Transfer, inputs: [{ txid: GENESIS_ID, index, owner: owner.publicKey }], outputs: [{ owner: accounts[3]!.publicKey, amount: AMOUNT }] },
    [owner],
  );
  return { bytes: encodeTransaction(transaction), txid };
}

describe("ConsensusHost contract", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-consensus-host-"));
  const pool = new PiscinaVerifierPool({ threads: 1 });
  after(async () => {
    await pool.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const hosts: [string, (state: ShardState) => ConsensusHost & TxSink][] = [
    ["Pipeline", (state) => new Pipeline({ state, pool, producer: validators[0]!, batchAgeMs: 1 })],
    ["VerifiedTxQueue", (state) => new VerifiedTxQueue(state, pool)],
  ];
  for (const [name, make] of hosts) {
    it(`${name}: candidates stay until a committed final block settles them; holds matches bytes exactly`, async () => {
      const state = ShardState.open({ directory: join(directory, name), genesis, shard: 0 });
      try {
        const host = make(state);
        const a = spend(0);
        const b = spend(1);
        const results = await host.submit([a.bytes, b.bytes]);
        assert.deepEqual(results.map((r) => r.outcome), ["accepted", "accepted"]);
        assert.ok(host.holds(a.txid, a.bytes));
        const tampered = a.bytes.slice();
        tampered[tampered.length - 1]! ^= 1;
        assert.equal(host.holds(a.txid, tampered), false, "another signature under the same txid is not held");
        const both = host.candidates(10, 1 << 20);
        assert.deepEqual(both.transactions.map((tx) => Buffer.from(tx).toString("hex")), [a, b].map((t) => Buffer.from(t.bytes).toString("hex")));
        assert.equal(Buffer.from(both.txids).toString("hex"), [a, b].map((t) => Buffer.from(t.txid).toString("hex")).join(""), "their txids, packed in the same order");
        assert.equal(host.candidates(1, 1 << 20).transactions.length, 1);
        assert.equal(host.candidates(10, 4 + a.bytes.length).transactions.length, 1, "the body-bytes limit counts the 4-byte frame");

        const header = makeBlockHeader({ kind: BlockKind.Final, shard: 0, epoch: 0, height: 1, prevHash: state.tip.hash, timestamp: 1, producer: validators[0]!.publicKey }, [a.bytes]);
        const bytes = encodeBlock(header, { kind: "collective", participants: Uint8Array.of(1), signature: new Uint8Array(64) }, [a.bytes]);
        const committed = state.commitBlock(bytes);
        const cert = { mask: Uint8Array.of(1), signature: new Uint8Array(64) };
        host.settled({ height: committed.height, hash: committed.hash, bytes, txids: a.txid, statuses: committed.statuses, record: { height: 1, view: 0, proposal: bytes, prepareCert: cert, commitCert: cert } });
        assert.equal(host.holds(a.txid, a.bytes), false);
        assert.ok(host.holds(b.txid, b.bytes));
        assert.deepEqual(host.candidates(10, 1 << 20).transactions.map((tx) => Buffer.from(tx).toString("hex")), [Buffer.from(b.bytes).toString("hex")]);
        const [again] = await host.submit([a.bytes]);
        assert.equal(again!.outcome, "duplicate", "a settled final transaction is a duplicate");
        if (host instanceof Pipeline) {
          assert.deepEqual(host.status(a.txid), { state: "final", height: 1, index: 0 });
          await host.close();
        }
      } finally {
        await state.close();
      }
    });
  }
});
