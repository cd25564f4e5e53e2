import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { describe, it } from "node:test";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { txidsOf } from "../../src/ledger/block.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, signatureItemsOf, unpackTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { TxKind, decodeTransaction } from "../../src/ledger/transaction.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { ACCOUNTS, TestRng, hex, signedTransfer } from "./helpers.js";
import { codeOf } from "../support/errors.js";

function spkiOf(publicKey: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), publicKey]), format: "der", type: "spki" });
}

const rng = new TestRng(0x57a7);
const owner = (i: number) => ACCOUNTS[i]!.publicKey;

describe("validateStateless", () => {
  const good1 = signedTransfer([{ txid: rng.bytes(32), index: 1, owner: owner(0) }], [{ owner: owner(1), amount: 7n }, { owner: owner(0), amount: 3n }]);
  const good2 = signedTransfer(
    [{ txid: rng.bytes(32), index: 0, owner: owner(2) }, { txid: rng.bytes(32), index: 4, owner: owner(3) }],
    [{ owner: owner(4), amount: 1n }],
  );
  const trailing = Uint8Array.from([...good1.bytes, 0]);
  const badKind = Uint8Array.from(good2.bytes);
  badKind[1] = 0xf1;

  it("rejects bad transactions one by one and passes the rest with their records and signatures", () => {
    const result = validateStateless(packTransactions([good1.bytes, trailing, good2.bytes, badKind, new Uint8Array(0)]), 0, 1);
    assert.equal(result.count, 5);
    assert.deepEqual(result.rejections.map((r) => r?.code ?? null), [null, "TX_TRAILING_BYTES", null, "TX_UNKNOWN_KIND", "TX_TRUNCATED"]);
    assert.equal(hex(result.txids.subarray(0, 32)), hex(good1.txid));
    assert.equal(hex(result.txids.subarray(64, 96)), hex(good2.txid));
    assert.deepEqual(result.txids.subarray(32, 64), new Uint8Array(32));
    assert.equal(result.recordCount, 2);
    assert.deepEqual([...result.recordTx], [0, 2]);

    // Record layout: kind ‖ u32 length ‖ txid ‖ nIn ‖ nOut ‖ inputs ‖ outputs, checked field by field.
    const expected: number[] = [];
    for (const { bytes, txid } of [good1, good2]) {
      const tx = decodeTransaction(bytes);
      const counts = Buffer.alloc(4);
      counts.writeUInt16LE(tx.inputs.length, 0);
      counts.writeUInt16LE(tx.outputs.length, 2);
      const body: number[] = [...counts];
      for (const input of tx.inputs) {
        const index = Buffer.alloc(4);
        index.writeUInt32LE(input.index);
        body.push(...input.txid, ...index, ...input.owner);
      }
      for (const output of tx.outputs) {
        const amount = Buffer.alloc(8);
        amount.writeBigUInt64LE(output.amount);
        body.push(...output.owner, ...amount);
      }
      const length = Buffer.alloc(4);
      length.writeUInt32LE(1 + 4 + 32 + body.length);
      expected.push(TxKind.Transfer, ...length, ...txid, ...body);
    }
    assert.deepEqual([...result.records], expected);

    assert.equal(result.signatures.length, 3);
    assert.deepEqual([...result.signatureTx], [0, 2, 2]);
    result.signatures.forEach((item, k) => {
      const tx = result.signatureTx[k]!;
      const source = tx === 0 ? good1 : good2;
      assert.equal(hex(item.message), hex(source.txid));
      assert.equal(hex(source.txid), hex(nobleSha256(source.bytes.subarray(0, source.bytes.length - 64 * decodeTransaction(source.bytes).inputs.length))));
      assert.ok(nodeVerify(null, item.message, spkiOf(item.publicKey), item.signature), `signature item ${k}`);
    });
    assert.deepEqual(structuredClone(result).rejections, result.rejections);
  });

  it("with the txids its caller computed from the same bytes (a decoded block's), the result is the same and they are not hashed again", () => {
    const packed = packTransactions([good1.bytes, good2.bytes]);
    const computed = validateStateless(packed, 0, 1);
    const known = txidsOf([good1.bytes, good2.bytes]);
    const reused = validateStateless(packed, 0, 1, "submitted", undefined, known);
    assert.equal(reused.txids, known, "the known txids are the result's, not a copy");
    assert.deepEqual({ ...reused, txids: [...reused.txids] }, { ...computed, txids: [...computed.txids] });
    // The records and signature messages carry the txids given: they are trusted as the caller's hash of these bytes.
    const other = Uint8Array.from(known).fill(7, 0, 32);
    assert.equal(hex(validateStateless(packed, 0, 1, "submitted", undefined, other).signatures[0]!.message), "07".repeat(32));
    assert.equal(codeOf(() => validateStateless(packed, 0, 1, "submitted", undefined, known.subarray(0, 32))), "BATCH_TRUNCATED");
  });

  it("without signature items, the rest is the same and signatureItemsOf gives each passing transaction's own, in order", () => {
    const batch = [good1.bytes, trailing, good2.bytes, badKind, good1.bytes];
    const all = validateStateless(packTransactions(batch), 0, 1);
    const none = validateStateless(packTransactions(batch), 0, 1, "submitted", undefined, undefined, "none");
    assert.deepEqual(none.signatures, []);
    assert.equal(none.signatureTx.length, 0);
    assert.deepEqual({ ...none, signatures: all.signatures, signatureTx: all.signatureTx }, all);
    const rebuilt = [...none.recordTx].flatMap((tx) => signatureItemsOf(batch[tx]!, none.txids.subarray(tx * 32, (tx + 1) * 32)));
    assert.equal(rebuilt.length, 4, "one item per input: 1 + 2 + 1");
    assert.deepEqual(rebuilt.map((item) => [hex(item.publicKey), hex(item.signature), hex(item.message)]), all.signatures.map((item) => [hex(item.publicKey), hex(item.signature), hex(item.message)]));
  });

  it("checks every input and output owner against the shard", () => {
    const accounts = deriveTestAccounts("stateless shards", 24);
    const byShard = [0, 1, 2].map((s) => accounts.filter((a) => shardOfOwner(a.publicKey, 3) === s));
    assert.ok(byShard.every((group) => group.length >= 2));
    const [a0, b0] = byShard[0]!;
    const [a1] = byShard[1]!;
    const make = (inputOwner: typeof a0, outputOwner: typeof a0) =>
      signedTransfer([{ txid: rng.bytes(32), index: 0, owner: inputOwner!.publicKey }], [{ owner: outputOwner!.publicKey, amount: 2n }], accounts).bytes;
    const result = validateStateless(packTransactions([make(a0, b0), make(a1, b0), make(a0, a1), make(a1, a1)]), 0, 3);
    assert.deepEqual(result.rejections.map((r) => r?.code ?? null), [null, "TX_WRONG_SHARD", "TX_WRONG_SHARD", "TX_WRONG_SHARD"]);
    assert.match(result.rejections[1]!.message, /input 0 belongs to shard 1/);
    assert.match(result.rejections[2]!.message, /output 0 belongs to shard 1/);
    assert.deepEqual(validateStateless(packTransactions([make(a1, a1)]), 1, 3).rejections, [null]);
  });

  it("broken framing and bad shard arguments throw coded errors", () => {
    const packed = packTransactions([good1.bytes, good2.bytes]);
    assert.equal(codeOf(() => validateStateless(packed.subarray(0, 3), 0, 1)), "BATCH_TRUNCATED");
    assert.equal(codeOf(() => validateStateless(packed.subarray(0, packed.length - 1), 0, 1)), "BATCH_TRUNCATED");
    assert.equal(codeOf(() => validateStateless(packed, 2, 2)), "SHARD_BAD_INDEX");
    assert.equal(codeOf(() => validateStateless(packed, 0, 0)), "SHARD_BAD_COUNT");
    assert.equal(validateStateless(new Uint8Array(0), 0, 1).count, 0);
    assert.deepEqual(unpackTransactions(packed).map((t) => t.length), [good1.bytes.length, good2.bytes.length]);
  });

  it("fuzz: mutated transactions inside a well-framed batch never throw, and passing records always apply cleanly", () => {
    const fuzz = new TestRng(0xbadf00d);
    const table = new UtxoTable();
    const seeds = [good1.bytes, good2.bytes];
    for (let round = 0; round < 300; round++) {
      const txs = Array.from({ length: 1 + fuzz.below(12) }, () => {
        const copy = Uint8Array.from(seeds[fuzz.below(2)]!);
        if (fuzz.below(3) > 0) copy[fuzz.below(copy.length)] ^= 1 << fuzz.below(8);
        return fuzz.below(10) === 0 ? copy.subarray(0, fuzz.below(copy.length)) : copy;
      });
      const result = validateStateless(packTransactions(txs), 0, 1);
      for (const rejection of result.rejections) if (rejection !== null) assert.match(rejection.code, /^TX_/);
      const delta = table.applyBlock(result.records, result.recordCount);
      assert.ok([...delta.statuses].every((s) => s === ApplyStatus.MissingInput), "records from validateStateless are well formed; the empty table has no inputs");
    }
  });
});
