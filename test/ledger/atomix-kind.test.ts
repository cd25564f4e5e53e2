// The cross-shard transfer kind (src/ledger/kinds/atomix.ts; white paper §6): its codec and every
// refusal code, real signatures through stateless validation, and the record each input shard
// writes — its own inputs marked — applied by the UTXO kernel of two tables playing two shards.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { signMessage, type KeyPair } from "../../src/ledger/keys.js";
import { atomixShapeOf, crossShardTransferKind, encodeUnsignedCrossShardTransfer, type CrossShardInput, type UnsignedCrossShardTransfer } from "../../src/ledger/kinds/atomix.js";
import { atomixLockOwner, lockedKeyOf } from "../../src/ledger/kinds/atomix-record.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { applyRecordOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { RecordCursor } from "../../src/ledger/records.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { codeOf } from "../support/errors.js";
import { CommitteeProofVerifier } from "../../src/atomix/proof.js";
import { TestRng, hex } from "./helpers.js";

const SHARDS = 2;
/** A verifier that knows no committee: the lock carries no proof, so it only has to exist (else TX_ATOMIX_UNSUPPORTED). */
const DECISIONS = new CommitteeProofVerifier(() => undefined);
const accounts = deriveTestAccounts("atomix kind", 16);
const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
const [alice, carol] = inShard(0);
const [bob, dave] = inShard(1);
const rng = new TestRng(0xa7);

function sign(tx: UnsignedCrossShardTransfer, signers: readonly KeyPair[]): { bytes: Uint8Array; txid: Uint8Array } {
  const txid = sha256(encodeUnsignedCrossShardTransfer(tx));
  const signatures = tx.inputs.map((input) => signMessage(signers.find((s) => hex(s.publicKey) === hex(input.owner))!.secretKey, txid));
  return { bytes: crossShardTransferKind.encode({ ...tx, signatures }), txid };
}

const coin = (owner: KeyPair, amount: bigint): CrossShardInput => ({ txid: rng.bytes(32), index: rng.below(8), owner: owner.publicKey, amount });

/** Alice (shard 0) and Bob (shard 1) pay Carol (shard 0) and Dave (shard 1). */
function payment() {
  const inputs = [coin(alice!, 700n), coin(bob!, 500n)];
  const tx: UnsignedCrossShardTransfer = { kind: TxKind.AtomixLock, inputs, outputs: [{ owner: carol!.publicKey, amount: 600n }, { owner: dave!.publicKey, amount: 590n }] };
  return { tx, inputs, ...sign(tx, accounts) };
}

describe("cross-shard transfer kind", () => {
  it("round-trips, has one txid whoever computes it, and passes stateless validation with real signatures in each input shard", () => {
    const { tx, bytes, txid } = payment();
    assert.deepEqual(crossShardTransferKind.decode(bytes), { ...tx, signatures: crossShardTransferKind.decode(bytes).signatures });
    assert.equal(hex(crossShardTransferKind.encode(crossShardTransferKind.decode(bytes))), hex(bytes));
    assert.equal(hex(transactionIdOfEncoding(bytes)), hex(txid));
    assert.deepEqual(crossShardTransferKind.shards(bytes, SHARDS), [0, 1]);
    const verifier = new Ed25519Verifier();
    for (const shard of [0, 1]) {
      const checked = validateStateless(packTransactions([bytes]), shard, SHARDS, "submitted", DECISIONS);
      assert.equal(checked.rejections[0], null, `accepted in input shard ${shard}`);
      assert.deepEqual(verifier.verifyBatch(checked.signatures), [true, true], "both owners signed");
      const cursor = new RecordCursor(checked.records);
      assert.equal(cursor.inputCount, 1, `shard ${shard} spends only its own input`);
      assert.equal(hex(cursor.outpoint(0).subarray(0, 32)), hex(tx.inputs[shard]!.txid));
      assert.equal(hex(cursor.createdKey(0)), hex(lockedKeyOf(tx.inputs[shard]!.txid, tx.inputs[shard]!.index)));
      assert.equal(hex(cursor.outputOwner(0)), hex(atomixLockOwner(txid)));
    }
    const forged = Uint8Array.from(bytes);
    forged[forged.length - 1]! ^= 1;
    assert.deepEqual(verifier.verifyBatch(validateStateless(packTransactions([forged]), 0, SHARDS, "submitted", DECISIONS).signatures), [true, false]);
  });

  it("each input shard's kernel locks its own input; a wrong declared amount is AMOUNT_MISMATCH", () => {
    const { tx, bytes } = payment();
    for (const shard of [0, 1]) {
      const table = new UtxoTable();
      for (const input of tx.inputs) table.insert(input);
      const checked = validateStateless(packTransactions([bytes]), shard, SHARDS, "submitted", DECISIONS);
      assert.deepEqual([...table.applyBlock(checked.records, checked.recordCount).statuses], [ApplyStatus.Ok]);
      const own = tx.inputs[shard]!;
      const other = tx.inputs[1 - shard]!;
      assert.equal(table.get(own.txid, own.index), undefined, "its own input is locked");
      assert.ok(table.get(other.txid, other.index) !== undefined, "the other shard's is not its to lock");
    }
    const lying = sign({ ...tx, inputs: [{ ...tx.inputs[0]!, amount: 800n }, tx.inputs[1]!] }, accounts);
    const table = new UtxoTable();
    for (const input of tx.inputs) table.insert(input);
    const checked = validateStateless(packTransactions([lying.bytes]), 0, SHARDS, "submitted", DECISIONS);
    assert.deepEqual([...table.applyBlock(checked.records, checked.recordCount).statuses], [ApplyStatus.AmountMismatch]);
  });

  it("refuses what is not a sound cross-shard transfer, with its code", () => {
    const { tx, bytes } = payment();
    const codeIn = (encoding: Uint8Array, shard = 0) => validateStateless(packTransactions([encoding]), shard, SHARDS, "submitted", DECISIONS).rejections[0]?.code;
    const oneShard = sign({ ...tx, inputs: [tx.inputs[0]!], outputs: [{ owner: carol!.publicKey, amount: 1n }] }, accounts).bytes;
    assert.equal(codeIn(oneShard), "TX_NOT_CROSS_SHARD");
    const outputOnly = sign({ ...tx, inputs: [tx.inputs[0]!, coin(carol!, 1n)], outputs: [{ owner: dave!.publicKey, amount: 100n }] }, accounts).bytes;
    assert.equal(codeIn(outputOnly, 1), "TX_WRONG_SHARD", "a shard holding only outputs does not lock");
    assert.equal(codeOf(() => sign({ ...tx, outputs: [{ owner: dave!.publicKey, amount: 1_201n }] }, accounts)), "TX_OUTPUTS_EXCEED_INPUTS");
    assert.equal(codeOf(() => sign({ ...tx, outputs: [{ owner: dave!.publicKey, amount: 0n }] }, accounts)), "TX_ZERO_AMOUNT");
    assert.equal(codeOf(() => sign({ ...tx, inputs: [tx.inputs[0]!, { ...tx.inputs[1]!, amount: 0n }] }, accounts)), "TX_ZERO_AMOUNT");
    assert.equal(codeOf(() => sign({ ...tx, inputs: [tx.inputs[0]!, tx.inputs[0]!] }, accounts)), "TX_DUPLICATE_INPUT");
    assert.equal(codeOf(() => sign({ ...tx, inputs: [tx.inputs[0]!, { ...tx.inputs[1]!, index: 0x8000_0001 }] }, accounts)), "TX_BAD_FIELD");
    assert.equal(codeOf(() => sign({ ...tx, inputs: [tx.inputs[0]!, { ...tx.inputs[1]!, amount: 1n << 64n }] }, accounts)), "TX_BAD_FIELD");
    assert.equal(codeOf(() => sign({ ...tx, inputs: [] }, accounts)), "TX_NO_INPUTS");
    assert.equal(codeIn(bytes.subarray(0, bytes.length - 1)), "TX_TRUNCATED");
    assert.equal(codeIn(Buffer.concat([bytes, new Uint8Array(1)])), "TX_TRAILING_BYTES");
    const huge = Uint8Array.from(bytes);
    huge.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 6 + 32 + 4 + 32);
    assert.equal(codeIn(huge), "TX_AMOUNT_OVERFLOW");
    // A validator whose shard cannot prove its decisions (solo, BFT) locks nothing it could never unlock.
    assert.equal(validateStateless(packTransactions([bytes]), 0, SHARDS).rejections[0]?.code, "TX_ATOMIX_UNSUPPORTED");
  });

  it("remembers its owners' shards per scan, for whichever shard count it is asked about", () => {
    const { tx, bytes, txid } = payment();
    const shape = atomixShapeOf(crossShardTransferKind.scan(bytes));
    const owners = [...tx.inputs.map((input) => input.owner), ...tx.outputs.map((output) => output.owner)];
    for (const shardCount of [2, 3, 2, 1, 3]) {
      assert.deepEqual([...shape.owners(shardCount)], owners.map((owner) => shardOfOwner(owner, shardCount)), `${shardCount} shards`);
      for (let shard = 0; shard < shardCount; shard++) {
        const record = new Uint8Array(shape.recordBytesIn(shard, shardCount));
        shape.writeRecord(txid, record, 0, shard, shardCount);
        assert.equal(hex(record), hex(applyRecordOf(bytes, txid, shard, shardCount)), `the record in shard ${shard} of ${shardCount} is a fresh scan's`);
      }
    }
    const foreignShape = { unsignedEnd: shape.unsignedEnd, signatureCount: 2, recordBytes: shape.recordBytes };
    assert.throws(() => crossShardTransferKind.writeRecord(bytes, foreignShape, txid, new Uint8Array(shape.recordBytes), 0, 0, 2), /the shape its scan returned/);
  });
});
