import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { applyRecordOf } from "../../src/ledger/kinds/registry.js";
import { RecordCursor, recordsWhere, recordsWhereAll } from "../../src/ledger/records.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { decodeTransaction, outpointKey } from "../../src/ledger/transaction.js";
import { codeOf } from "../support/errors.js";
import { ACCOUNTS, TestRng, hex, signedTransfer } from "./helpers.js";

describe("record walker", () => {
  const rng = new TestRng(0x4ec0);
  const transfers = Array.from({ length: 40 }, () => {
    const inputs = Array.from({ length: 1 + rng.below(5) }, (_, i) => ({ txid: rng.bytes(32), index: rng.below(1000) + i, owner: ACCOUNTS[rng.below(8)]!.publicKey }));
    const outputs = Array.from({ length: 1 + rng.below(5) }, () => ({ owner: ACCOUNTS[rng.below(8)]!.publicKey, amount: 1n + (rng.bigint64() >> 8n) }));
    return signedTransfer(inputs, outputs);
  });
  const result = validateStateless(packTransactions(transfers.map((t) => t.bytes)), 0, 1);

  it("reads every field of every record as the transaction's decoder does", () => {
    assert.equal(result.recordCount, transfers.length);
    let k = 0;
    for (const cursor = new RecordCursor(result.records); !cursor.done; cursor.next(), k++) {
      const tx = decodeTransaction(transfers[k]!.bytes);
      assert.equal(cursor.kind, TxKind.Transfer);
      assert.equal(hex(cursor.txid), hex(transfers[k]!.txid));
      assert.equal(cursor.inputCount, tx.inputs.length);
      tx.inputs.forEach((input, i) => {
        assert.equal(hex(cursor.outpoint(i)), hex(outpointKey(input.txid, input.index)));
        assert.equal(cursor.outpointIndex(i), input.index);
        assert.equal(hex(cursor.inputOwner(i)), hex(input.owner));
      });
      assert.equal(cursor.outputCount, tx.outputs.length);
      tx.outputs.forEach((output, j) => {
        assert.equal(hex(cursor.outputOwner(j)), hex(output.owner));
        assert.equal(cursor.outputAmount(j), output.amount);
      });
      assert.equal(hex(cursor.bytes), hex(applyRecordOf(transfers[k]!.bytes, transfers[k]!.txid, 0, 1)), "one record per transaction, whoever builds it");
    }
    assert.equal(k, transfers.length);
  });

  it("keeps the records a predicate selects, in order, and seeks back to any record", () => {
    const kept = recordsWhere(result.records, (k) => k % 3 === 1);
    assert.equal(kept.count, Math.floor((transfers.length + 1) / 3));
    const txids: string[] = [];
    for (const cursor = new RecordCursor(kept.records); !cursor.done; cursor.next()) txids.push(hex(cursor.txid));
    assert.deepEqual(txids, transfers.filter((_, k) => k % 3 === 1).map((t) => hex(t.txid)));
    const cursor = new RecordCursor(result.records);
    cursor.next();
    const second = cursor.offset;
    cursor.next();
    cursor.seek(second);
    assert.equal(hex(cursor.txid), hex(transfers[1]!.txid));
    assert.equal(recordsWhere(result.records, () => false).count, 0);
    // Several buffers at once: the same records as each one's selection, back to back.
    const odd = recordsWhere(result.records, (k) => k % 2 === 1);
    const both = recordsWhereAll([{ records: result.records, keep: (k) => k % 3 === 1 }, { records: result.records, keep: (k) => k % 2 === 1 }]);
    assert.equal(both.count, kept.count + odd.count);
    assert.equal(hex(both.records), hex(Buffer.concat([kept.records, odd.records])));
  });

  it("a record whose header does not fit is RECORD_MALFORMED", () => {
    assert.equal(codeOf(() => new RecordCursor(result.records.subarray(0, 10))), "RECORD_MALFORMED");
    const first = new RecordCursor(result.records).length;
    assert.equal(codeOf(() => new RecordCursor(result.records.subarray(0, first - 1))), "RECORD_MALFORMED");
    const zeroLength = Uint8Array.from(result.records);
    zeroLength.set([0, 0, 0, 0], 1);
    assert.equal(codeOf(() => new RecordCursor(zeroLength)), "RECORD_MALFORMED");
    assert.equal(codeOf(() => new RecordCursor(result.records).seek(result.records.length + 1)), "RECORD_MALFORMED");
    assert.ok(new RecordCursor(new Uint8Array(0)).done);
  });
});
