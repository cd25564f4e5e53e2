/**
 * The pipeline's verified queue as the shard drivers use it: verified transactions are offered
 * by `peek` and left in place, `holds` recognises exactly the bytes verified, `take` moves them
 * out (still pending and reserved), `restore` puts taken ones back in front, `refuse` settles taken
 * ones as rejected, and a final block committed elsewhere settles them (`settle`).
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlockKind, encodeBlock, makeBlockHeader } from "../../src/ledger/block.js";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { BlockEvent } from "../../src/node/consensus/interface.js";
import { Pipeline } from "../../src/node/pipeline.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { ShardState } from "../../src/node/shard-state.js";
import { SystemClock } from "../../src/runtime/system.js";

const AMOUNT = 1_000_000n;
const { genesis, accounts, validators } = makeTestGenesis({ seed: "consensus host contract", shardCount: 1, accounts: 4, amount: AMOUNT, validators: 1 });
const GENESIS_ID = genesisTxid(genesis);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

function spend(index: number): { bytes: Uint8Array; txid: Uint8Array } {
  const owner = accounts[index]!;
  const { transaction, txid } = signTransaction(
    { kind: TxKind.Transfer, inputs: [{ txid: GENESIS_ID, index, owner: owner.publicKey }], outputs: [{ owner: accounts[3]!.publicKey, amount: AMOUNT }] },
    [owner],
  );
  return { bytes: encodeTransaction(transaction), txid };
}

describe("the pipeline's verified queue", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-pipeline-queue-"));
  const pool = new PiscinaVerifierPool({ threads: 1 });
  after(async () => {
    await pool.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** A state and pipeline in their own subdirectory; `run` gets them and two accepted spends. */
  async function withPipeline(name: string, run: (pipeline: Pipeline, state: ShardState, a: ReturnType<typeof spend>, b: ReturnType<typeof spend>) => Promise<void>): Promise<void> {
    const state = ShardState.open({ directory: join(directory, name), genesis, shard: 0 });
    const pipeline = new Pipeline({ state, pool, clock: new SystemClock(), batchAgeMs: 1 });
    try {
      const a = spend(0);
      const b = spend(1);
      const results = await pipeline.submit([a.bytes, b.bytes]);
      assert.deepEqual(results.map((r) => r.outcome), ["accepted", "accepted"]);
      await run(pipeline, state, a, b);
    } finally {
      await pipeline.close();
      await state.close();
    }
  }

  it("peeked candidates stay until a committed final block settles them; holds matches bytes exactly", async () => {
    await withPipeline("peek", async (pipeline, state, a, b) => {
      assert.ok(pipeline.holds(a.txid, a.bytes));
      const tampered = a.bytes.slice();
      tampered[tampered.length - 1]! ^= 1;
      assert.equal(pipeline.holds(a.txid, tampered), false, "another signature under the same txid is not held");
      const both = pipeline.peek(10, 1 << 20);
      assert.deepEqual(both.map((entry) => hex(entry.tx)), [a, b].map((t) => hex(t.bytes)));
      assert.deepEqual(both.map((entry) => hex(entry.txid)), [a, b].map((t) => hex(t.txid)), "with their txids, in the same order");
      assert.equal(pipeline.peek(1, 1 << 20).length, 1);
      assert.equal(pipeline.peek(10, 4 + a.bytes.length).length, 1, "the body-bytes limit counts the 4-byte frame");
      assert.equal(pipeline.mempoolCount, 2, "peeking removes nothing");

      const header = makeBlockHeader({ kind: BlockKind.Final, shard: 0, epoch: 0, height: 1, prevHash: state.tip.hash, timestamp: 1, producer: validators[0]!.publicKey }, [a.bytes]);
      const bytes = encodeBlock(header, { kind: "collective", participants: Uint8Array.of(1), signature: new Uint8Array(64) }, [a.bytes]);
      const committed = state.commitBlock(bytes);
      const events: BlockEvent[] = [];
      pipeline.onSettled((event) => events.push(event));
      pipeline.settle({ height: committed.height, hash: committed.hash, final: a.txid, rejected: [] });
      assert.equal(events.length, 1, "listeners get the settlement");
      assert.equal(pipeline.holds(a.txid, a.bytes), false);
      assert.ok(pipeline.holds(b.txid, b.bytes));
      assert.deepEqual(pipeline.peek(10, 1 << 20).map((entry) => hex(entry.tx)), [hex(b.bytes)]);
      const [again] = await pipeline.submit([a.bytes]);
      assert.equal(again!.outcome, "duplicate", "a settled final transaction is a duplicate");
      assert.deepEqual(pipeline.status(a.txid), { state: "final", height: 1, index: 0 });
      assert.equal(pipeline.pendingCount, 1, "the settled transaction's reservation is released");
    });
  });

  it("take moves transactions out in order within its limits; restore puts them back in front", async () => {
    await withPipeline("take", async (pipeline, _state, a, b) => {
      const bytes = pipeline.pendingBytes;
      assert.equal(pipeline.take(10, 4 + a.bytes.length - 1).length, 0, "nothing fits under the body-bytes limit");
      const first = pipeline.take(1, 1 << 20);
      assert.deepEqual(first.map((entry) => hex(entry.txid)), [hex(a.txid)]);
      assert.equal(pipeline.mempoolCount, 1);
      assert.equal(pipeline.holds(a.txid, a.bytes), false, "a taken transaction is no longer in the queue");
      assert.deepEqual(pipeline.status(a.txid), { state: "pending" }, "but still pending");
      assert.equal(pipeline.pendingCount, 2);
      assert.equal(pipeline.pendingBytes, bytes, "and still reserved");
      const [duplicate] = await pipeline.submit([a.bytes]);
      assert.equal(duplicate!.outcome, "duplicate");
      pipeline.restore(first);
      assert.equal(pipeline.mempoolCount, 2);
      assert.deepEqual(pipeline.peek(10, 1 << 20).map((entry) => hex(entry.txid)), [hex(a.txid), hex(b.txid)], "restored in front, in the original order");
      pipeline.restore(first);
      assert.equal(pipeline.mempoolCount, 2, "restoring what is not taken does nothing");
      assert.equal(pipeline.pendingCount, 2);
    });
  });

  it("refuse settles taken transactions as rejected at the tip; what is not taken is left alone", async () => {
    await withPipeline("refuse", async (pipeline, state, a, b) => {
      const events: BlockEvent[] = [];
      pipeline.onSettled((event) => events.push(event));
      pipeline.refuse([]);
      assert.equal(events.length, 0, "no refusals, no event");
      const [taken] = pipeline.take(1, 1 << 20);
      const queued = pipeline.peek(1, 1 << 20)[0]!;
      pipeline.refuse([{ entry: taken!, code: "POB_DOUBLE_SPEND_PENDING" }, { entry: queued, code: "NOT_TAKEN" }]);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.height, state.tip.height);
      assert.equal(hex(events[0]!.hash), hex(state.tip.hash));
      assert.equal(events[0]!.final.length, 0);
      assert.deepEqual(events[0]!.rejected.map((r) => [hex(r.txid), r.code]), [[hex(a.txid), "POB_DOUBLE_SPEND_PENDING"]]);
      assert.deepEqual(pipeline.status(a.txid), { state: "rejected", code: "POB_DOUBLE_SPEND_PENDING" });
      assert.deepEqual(pipeline.status(b.txid), { state: "pending" });
      assert.ok(pipeline.holds(b.txid, b.bytes), "a queued transaction is not refused");
      assert.equal(pipeline.pendingCount, 1);
      assert.deepEqual(pipeline.metrics().rejected, { POB_DOUBLE_SPEND_PENDING: 1 });
    });
  });
});
