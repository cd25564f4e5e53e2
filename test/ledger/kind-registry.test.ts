/**
 * The registry's extension contract: a kind is added through the public registry API alone and
 * goes through decode, stateless validation (shards, signatures), record writing, the record
 * walker and the UTXO kernel without any other module knowing it. The throwaway kind below lives
 * only in this file.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryReader, BinaryWriter } from "../../src/codec/binary.js";
import { layout } from "../../src/codec/layout.js";
import { OUTPOINT_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../../src/codec/sizes.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { genesisEntries, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { signMessage } from "../../src/ledger/keys.js";
import { RECORD_HEADER, TX_CODES, TX_PREFIX, TX_VERSION, checkTxPrefix, type TxKindModule, type TxShape } from "../../src/ledger/kinds/interface.js";
import { registerTxKind, scanTransaction, spenderOf, transactionIdOfEncoding, txKindModule } from "../../src/ledger/kinds/registry.js";
import { transferKind } from "../../src/ledger/kinds/transfer.js";
import { RecordCursor } from "../../src/ledger/records.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { TxKind, outpointKey } from "../../src/ledger/transaction.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { codeOf } from "../support/errors.js";
import { hex, signedTransfer } from "./helpers.js";
import { IosError } from "../../src/errors.js";
import type { LedgerErrorCode } from "../../src/ledger/errors.js";

/** A kind byte no real kind will take. */
const NOTE_KIND = 0xf0;
const MAX_MEMO_BYTES = 64;

/** "Note": its owner signs a memo about one of its outputs (spending it, were the kernel to know the kind). */
interface Note {
  readonly kind: number;
  readonly outpoint: Uint8Array;
  readonly owner: Uint8Array;
  readonly memo: Uint8Array;
  readonly signature: Uint8Array;
}

const NOTE_FIXED = layout({ version: 1, kind: 1, outpoint: OUTPOINT_BYTES, owner: PUBLIC_KEY_BYTES });

function scanNote(tx: Uint8Array): TxShape {
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  reader.advance(OUTPOINT_BYTES + PUBLIC_KEY_BYTES, "outpoint and owner");
  reader.lengthPrefixed("u16", MAX_MEMO_BYTES, "memo");
  const unsignedEnd = reader.at;
  reader.expectRemaining(SIGNATURE_BYTES, "the signature");
  return { unsignedEnd, signatureCount: 1, recordBytes: RECORD_HEADER.bytes + OUTPOINT_BYTES + PUBLIC_KEY_BYTES };
}

function ownerOf(tx: Uint8Array): Uint8Array {
  return tx.subarray(NOTE_FIXED.offset.owner, NOTE_FIXED.offset.owner + PUBLIC_KEY_BYTES);
}

function unsignedNote(note: Omit<Note, "signature">): BinaryWriter {
  const size = NOTE_FIXED.bytes + 2 + note.memo.length + SIGNATURE_BYTES;
  return BinaryWriter.ofSize(size).u8(TX_VERSION).u8(NOTE_KIND).bytes(note.outpoint).bytes(note.owner).lengthPrefixed("u16", note.memo);
}

const noteKind: TxKindModule<Note> = {
  kind: NOTE_KIND,
  name: "TestNote",
  submittable: true,
  scan: scanNote,
  decode(tx) {
    assert.equal(checkTxPrefix(tx), NOTE_KIND);
    scanNote(tx);
    const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
    const outpoint = reader.bytes(OUTPOINT_BYTES).slice();
    const owner = reader.bytes(PUBLIC_KEY_BYTES).slice();
    const memo = reader.lengthPrefixed("u16", MAX_MEMO_BYTES).slice();
    const signature = reader.bytes(SIGNATURE_BYTES).slice();
    reader.expectEnd();
    return { kind: NOTE_KIND, outpoint, owner, memo, signature };
  },
  encode: (note) => unsignedNote(note).bytes(note.signature).finish(),
  encodeUnsigned: (note) => {
    const writer = unsignedNote(note);
    return writer.output.slice(0, writer.at);
  },
  shards: (tx, shardCount) => [shardOfOwner(ownerOf(tx), shardCount)],
  checkStateless(tx, _shape, shard, shardCount) {
    const actual = shardOfOwner(ownerOf(tx), shardCount);
    if (actual !== shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `the owner lives in shard ${actual}, not ${shard}`);
  },
  signatureItems(tx, shape, txid, out) {
    out.push({ signature: tx.subarray(shape.unsignedEnd, shape.unsignedEnd + SIGNATURE_BYTES), message: txid, publicKey: ownerOf(tx) });
  },
  spender: (tx) => (tx.length < NOTE_FIXED.bytes ? undefined : ownerOf(tx)),
  writeRecord(tx, shape, txid, out, at) {
    new BinaryWriter(out, at).u8(NOTE_KIND).u32(shape.recordBytes).bytes(txid).bytes(tx.subarray(NOTE_FIXED.offset.outpoint, NOTE_FIXED.bytes));
  },
  record: {
    balanced: true,
    inputCount: () => 1,
    inputAt: (_records, at) => at + RECORD_HEADER.bytes,
    outputCount: () => 0,
    outputAt: () => assert.fail("a note creates no outputs"),
  },
};

describe("transaction-kind registry", () => {
  const { genesis, accounts } = makeTestGenesis({ seed: "kind registry", shardCount: 1, accounts: 2, amount: 100n, validators: 1 });
  const g = genesisTxid(genesis);
  const indexOf = (owner: Uint8Array) => genesis.outputs.findIndex((o) => hex(o.owner) === hex(owner));
  const [alice, bob] = [accounts[0]!, accounts[1]!];

  it("an unregistered kind is TX_UNKNOWN_KIND; a taken kind byte cannot be registered twice", () => {
    const transfer = signedTransfer([{ txid: g, index: indexOf(bob.publicKey), owner: bob.publicKey }], [{ owner: alice.publicKey, amount: 100n }], [bob]).bytes;
    for (const kind of [0xf1, 0xff]) {
      const other = Uint8Array.from(transfer);
      other[TX_PREFIX.offset.kind] = kind;
      assert.equal(codeOf(() => scanTransaction(other)), "TX_UNKNOWN_KIND", `kind ${kind}`);
      assert.equal(codeOf(() => txKindModule(kind)), "TX_UNKNOWN_KIND");
      assert.equal(spenderOf(other), undefined);
    }
    assert.equal(codeOf(() => registerTxKind({ ...noteKind, kind: TxKind.Transfer })), "TX_BAD_FIELD");
    assert.equal(codeOf(() => registerTxKind({ ...noteKind, kind: 256 })), "TX_BAD_FIELD");
    assert.equal(txKindModule(TxKind.Transfer), transferKind);
  });

  it("a kind registered from outside goes through decode, stateless validation, the record walker and the kernel", () => {
    registerTxKind(noteKind);
    assert.equal(codeOf(() => registerTxKind(noteKind)), "TX_BAD_FIELD");

    const noteInput = indexOf(alice.publicKey);
    const fields = { kind: NOTE_KIND, outpoint: outpointKey(g, noteInput), owner: alice.publicKey, memo: new TextEncoder().encode("paid in full") };
    const txid = sha256(noteKind.encodeUnsigned({ ...fields, signature: new Uint8Array(SIGNATURE_BYTES) }));
    const signature = signMessage(alice.secretKey, txid);
    const note = noteKind.encode({ ...fields, signature });

    // decode, through the registry and the module
    assert.equal(hex(transactionIdOfEncoding(note)), hex(txid));
    assert.deepEqual(txKindModule(NOTE_KIND).decode(note), { ...fields, signature });
    assert.equal(hex(spenderOf(note)!), hex(alice.publicKey));
    assert.equal(codeOf(() => scanTransaction(note.subarray(0, note.length - 1))), "TX_TRUNCATED");
    assert.equal(codeOf(() => scanTransaction(Uint8Array.from([...note, 0]))), "TX_TRAILING_BYTES");
    const longMemo = Uint8Array.from(note);
    longMemo[NOTE_FIXED.bytes] = MAX_MEMO_BYTES + 1;
    assert.equal(codeOf(() => scanTransaction(longMemo)), "TX_TOO_LARGE");

    // the kind's shards and its stateless rule
    const home = shardOfOwner(alice.publicKey, 2);
    assert.deepEqual(noteKind.shards(note, 2), [home]);
    assert.equal(validateStateless(packTransactions([note]), 1 - home, 2).rejections[0]?.code, "TX_WRONG_SHARD");

    // stateless validation of a batch mixing the new kind with transfers
    const forged = Uint8Array.from(note);
    forged[forged.length - 1]! ^= 1;
    const transfer = signedTransfer([{ txid: g, index: indexOf(bob.publicKey), owner: bob.publicKey }], [{ owner: alice.publicKey, amount: 90n }], [bob]);
    const result = validateStateless(packTransactions([note, transfer.bytes, forged, Uint8Array.from([...note, 0])]), 0, 1);
    assert.deepEqual(result.rejections.map((r) => r?.code ?? null), [null, null, null, "TX_TRAILING_BYTES"]);
    assert.deepEqual([...result.signatureTx], [0, 1, 2]);
    assert.deepEqual(new Ed25519Verifier().verifyBatch(result.signatures), [true, true, false], "the forged note's signature fails");

    // the record walker reads the new kind's record through its own layout
    const cursor = new RecordCursor(result.records);
    assert.equal(cursor.kind, NOTE_KIND);
    assert.equal(hex(cursor.txid), hex(txid));
    assert.equal(cursor.inputCount, 1);
    assert.equal(hex(cursor.outpoint(0)), hex(outpointKey(g, noteInput)));
    assert.equal(cursor.outpointIndex(0), noteInput);
    assert.equal(hex(cursor.inputOwner(0)), hex(alice.publicKey));
    assert.equal(cursor.outputCount, 0);
    cursor.next();
    assert.equal(cursor.kind, TxKind.Transfer);
    assert.equal(hex(cursor.txid), hex(transfer.txid));
    cursor.next();
    cursor.next();
    assert.ok(cursor.done);

    // the kernel has no case for the note: a status, not a trap, and the transfer beside it applies
    const table = new UtxoTable();
    table.insertEntries(genesisEntries(genesis, 0));
    const delta = table.applyBlock(result.records, result.recordCount);
    assert.deepEqual([...delta.statuses], [ApplyStatus.UnknownKind, ApplyStatus.Ok, ApplyStatus.UnknownKind]);
    assert.ok(table.has(g, noteInput), "the note changed nothing");
    assert.ok(!table.has(g, indexOf(bob.publicKey)));
    assert.equal(table.get(transfer.txid, 0)?.amount, 90n);
  });
});
