import assert from "node:assert/strict";
import { createHash, createPublicKey, verify as nodeVerify } from "node:crypto";
import { describe, it } from "node:test";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import {
  MAX_INPUTS, MAX_OUTPUTS, MAX_TX_BYTES, TxKind, decodeTransaction, encodeTransaction, encodeUnsignedTransaction,
  encodedLength, outpointKey, scanTransaction, transactionId, transactionIdOfEncoding, type TxInput, type TxOutput,
} from "../../src/ledger/transaction.js";
import { ACCOUNTS, TestRng, hex, signedTransfer } from "./helpers.js";
import { codeOf } from "../support/errors.js";
import { SIGNATURE_BYTES } from "../../src/codec/sizes.js";
import { MAX_ANY_TX_BYTES } from "../../src/ledger/kinds/interface.js";
import { hasCodeIn } from "../../src/errors.js";
import { LEDGER_ERROR_CODES } from "../../src/ledger/errors.js";

const rng = new TestRng(0x7a11);
const someTxid = () => rng.bytes(32);
const input = (owner = ACCOUNTS[0]!.publicKey, index = 0): TxInput => ({ txid: someTxid(), index, owner });
const output = (amount: bigint, owner = ACCOUNTS[1]!.publicKey): TxOutput => ({ owner, amount });


function spkiOf(publicKey: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), publicKey]), format: "der", type: "spki" });
}

const sample = signedTransfer([input(ACCOUNTS[0]!.publicKey, 3), input(ACCOUNTS[2]!.publicKey, 0)], [output(5n), output((1n << 64n) - 6n)]);

describe("transaction codec", () => {
  it("round-trips random transfers and re-encodes to the same bytes", () => {
    for (let round = 0; round < 50; round++) {
      const inputs = Array.from({ length: 1 + rng.below(5) }, (_, i) => input(ACCOUNTS[rng.below(8)]!.publicKey, i));
      const outputs = Array.from({ length: 1 + rng.below(5) }, () => output(1n + (rng.bigint64() >> 8n), ACCOUNTS[rng.below(8)]!.publicKey));
      const { bytes, txid } = signedTransfer(inputs, outputs);
      assert.equal(bytes.length, encodedLength(inputs.length, outputs.length));
      const decoded = decodeTransaction(bytes);
      assert.deepEqual(decoded.inputs.map((i) => [hex(i.txid), i.index, hex(i.owner)]), inputs.map((i) => [hex(i.txid), i.index, hex(i.owner)]));
      assert.deepEqual(decoded.outputs.map((o) => [hex(o.owner), o.amount]), outputs.map((o) => [hex(o.owner), o.amount]));
      assert.deepEqual(encodeTransaction(decoded), bytes);
      assert.equal(hex(transactionIdOfEncoding(bytes)), hex(txid));
    }
  });

  it("txid is SHA-256 of the encoding without signatures (checked against @noble/hashes)", () => {
    const decoded = decodeTransaction(sample.bytes);
    const unsigned = encodeUnsignedTransaction(decoded);
    assert.deepEqual(sample.bytes.subarray(0, unsigned.length), unsigned);
    assert.equal(hex(transactionId(decoded)), hex(nobleSha256(unsigned)));
    assert.equal(hex(sample.txid), hex(nobleSha256(unsigned)));
  });

  it("signature i is input i's owner signing the txid (verified by node:crypto)", () => {
    const decoded = decodeTransaction(sample.bytes);
    decoded.signatures.forEach((signature, i) => {
      assert.ok(nodeVerify(null, sample.txid, spkiOf(decoded.inputs[i]!.owner), signature));
      const other = decoded.inputs[1 - i]!.owner;
      assert.ok(!nodeVerify(null, sample.txid, spkiOf(other), signature));
    });
  });

  it("lays out fields little-endian at their documented offsets", () => {
    const bytes = sample.bytes;
    assert.equal(bytes[0], 1);
    assert.equal(bytes[1], TxKind.Transfer);
    const buffer = Buffer.from(bytes);
    assert.equal(buffer.readUInt16LE(2), 2);
    assert.equal(buffer.readUInt16LE(4), 2);
    assert.equal(buffer.readUInt32LE(6 + 32), 3);
    assert.equal(buffer.readBigUInt64LE(6 + 2 * 68 + 32), 5n);
    assert.equal(buffer.readBigUInt64LE(6 + 2 * 68 + 40 + 32), (1n << 64n) - 6n);
  });

  it("shard of an owner is u32le(SHA-256(owner)[0..4]) mod m", () => {
    for (let i = 0; i < 200; i++) {
      const owner = rng.bytes(32);
      const m = 1 + rng.below(64);
      const expected = createHash("sha256").update(owner).digest().readUInt32LE(0) % m;
      assert.equal(shardOfOwner(owner, m), expected);
    }
    assert.equal(codeOf(() => shardOfOwner(new Uint8Array(32), 0)), "SHARD_BAD_COUNT");
    assert.equal(codeOf(() => shardOfOwner(new Uint8Array(31), 2)), "TX_BAD_FIELD");
  });

  it("outpoint key is txid ‖ u32le(index)", () => {
    const txid = someTxid();
    const key = outpointKey(txid, 0x01020304);
    assert.deepEqual(key.subarray(0, 32), txid);
    assert.deepEqual([...key.subarray(32)], [4, 3, 2, 1]);
    assert.equal(codeOf(() => outpointKey(txid, -1)), "TX_BAD_FIELD");
  });
});

describe("transaction encoder rejects invalid transactions", () => {
  const base = { kind: TxKind.Transfer, inputs: [input()], outputs: [output(1n)] };
  const cases: [string, () => unknown][] = [
    ["TX_NO_INPUTS", () => encodeUnsignedTransaction({ ...base, inputs: [] })],
    ["TX_NO_OUTPUTS", () => encodeUnsignedTransaction({ ...base, outputs: [] })],
    ["TX_TOO_MANY_INPUTS", () => encodeUnsignedTransaction({ ...base, inputs: Array.from({ length: MAX_INPUTS + 1 }, (_, i) => input(undefined, i)) })],
    ["TX_TOO_MANY_OUTPUTS", () => encodeUnsignedTransaction({ ...base, outputs: Array.from({ length: MAX_OUTPUTS + 1 }, () => output(1n)) })],
    ["TX_TOO_LARGE", () => encodeUnsignedTransaction({ ...base, inputs: Array.from({ length: MAX_INPUTS }, (_, i) => input(undefined, i)) })],
    ["TX_ZERO_AMOUNT", () => encodeUnsignedTransaction({ ...base, outputs: [output(0n)] })],
    ["TX_AMOUNT_OVERFLOW", () => encodeUnsignedTransaction({ ...base, outputs: [output(1n << 64n)] })],
    ["TX_AMOUNT_OVERFLOW", () => encodeUnsignedTransaction({ ...base, outputs: [output((1n << 64n) - 1n), output(1n)] })],
    ["TX_DUPLICATE_INPUT", () => { const i = input(); return encodeUnsignedTransaction({ ...base, inputs: [i, { ...i, owner: ACCOUNTS[3]!.publicKey }] }); }],
    ["TX_UNKNOWN_KIND", () => encodeUnsignedTransaction({ ...base, kind: TxKind.AtomixLock })],
    ["TX_BAD_FIELD", () => encodeUnsignedTransaction({ ...base, inputs: [{ ...input(), txid: new Uint8Array(31) }] })],
    ["TX_BAD_FIELD", () => encodeUnsignedTransaction({ ...base, inputs: [{ ...input(), index: 2 ** 32 }] })],
    ["TX_BAD_FIELD", () => encodeUnsignedTransaction({ ...base, outputs: [{ owner: new Uint8Array(33), amount: 1n }] })],
    ["TX_BAD_FIELD", () => encodeTransaction({ ...base, signatures: [] })],
    ["TX_BAD_FIELD", () => encodeTransaction({ ...base, signatures: [new Uint8Array(63)] })],
    ["TX_SIGNER_MISSING", () => signedTransfer([input(new Uint8Array(32))], [output(1n)])],
  ];
  for (const [code, fn] of cases) it(`${code}: ${fn.toString().slice(6, 90)}`, () => assert.equal(codeOf(fn), code));
});

describe("strict decoding", () => {
  const bytes = sample.bytes;
  const patched = (at: number, values: number[]) => {
    const copy = Uint8Array.from(bytes);
    copy.set(values, at);
    return copy;
  };
  const amountAt = (output: number) => 6 + 2 * 68 + output * 40 + 32;

  it("every strict prefix is TX_TRUNCATED", () => {
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeTransaction(bytes.subarray(0, length))), "TX_TRUNCATED", `length ${length}`);
  });
  it("any extra byte is TX_TRAILING_BYTES", () => {
    assert.equal(codeOf(() => decodeTransaction(Uint8Array.from([...bytes, 0]))), "TX_TRAILING_BYTES");
  });
  it("rejects each malformed header and body field with its code", () => {
    assert.equal(codeOf(() => decodeTransaction(patched(0, [2]))), "TX_UNKNOWN_VERSION");
    assert.equal(codeOf(() => decodeTransaction(patched(1, [1]))), "TX_UNKNOWN_KIND");
    assert.equal(codeOf(() => decodeTransaction(patched(1, [255]))), "TX_UNKNOWN_KIND");
    assert.equal(codeOf(() => decodeTransaction(patched(2, [0, 0]))), "TX_NO_INPUTS");
    assert.equal(codeOf(() => decodeTransaction(patched(4, [0, 0]))), "TX_NO_OUTPUTS");
    assert.equal(codeOf(() => decodeTransaction(patched(2, [MAX_INPUTS + 1, 0]))), "TX_TOO_MANY_INPUTS");
    assert.equal(codeOf(() => decodeTransaction(patched(4, [0xff, 0xff]))), "TX_TOO_MANY_OUTPUTS");
    assert.equal(codeOf(() => decodeTransaction(patched(2, [MAX_INPUTS, 0]))), "TX_TOO_LARGE");
    const oversize = new Uint8Array(MAX_TX_BYTES + 1);
    oversize.set(bytes.subarray(0, 2));
    assert.equal(codeOf(() => decodeTransaction(oversize)), "TX_TOO_LARGE", "a transfer beyond MAX_TX_BYTES");
    assert.equal(codeOf(() => decodeTransaction(new Uint8Array(MAX_ANY_TX_BYTES + 1))), "TX_TOO_LARGE", "anything beyond MAX_ANY_TX_BYTES");
    assert.equal(codeOf(() => decodeTransaction(patched(amountAt(0), [0, 0, 0, 0, 0, 0, 0, 0]))), "TX_ZERO_AMOUNT");
    assert.equal(codeOf(() => decodeTransaction(patched(amountAt(0), [6, 0, 0, 0, 0, 0, 0, 0]))), "TX_AMOUNT_OVERFLOW");
    assert.equal(codeOf(() => decodeTransaction(patched(6 + 68, [...bytes.subarray(6, 6 + 36)]))), "TX_DUPLICATE_INPUT");
  });
  it("detects duplicate inputs among many (set path) at any distance", () => {
    const inputs = Array.from({ length: 20 }, (_, i) => input(ACCOUNTS[0]!.publicKey, i));
    const { bytes: many } = signedTransfer(inputs, [output(1n)]);
    assert.equal(decodeTransaction(many).inputs.length, 20);
    const copy = Uint8Array.from(many);
    copy.set(many.subarray(6 + 3 * 68, 6 + 3 * 68 + 36), 6 + 17 * 68);
    assert.equal(codeOf(() => decodeTransaction(copy)), "TX_DUPLICATE_INPUT");
  });
  it("scans a transaction viewed inside a larger buffer without reading outside the view", () => {
    const framed = new Uint8Array(bytes.length + 10).fill(0xee);
    framed.set(bytes, 5);
    assert.equal(scanTransaction(framed.subarray(5, 5 + bytes.length)).unsignedEnd, bytes.length - 2 * SIGNATURE_BYTES);
    assert.equal(codeOf(() => scanTransaction(framed.subarray(5, 6 + bytes.length))), "TX_TRAILING_BYTES");
  });
});

describe("decoder fuzz (seeded)", () => {
  const fuzz = new TestRng(0xf022);
  const seeds = [sample.bytes, signedTransfer([input()], [output(1n)]).bytes, signedTransfer(Array.from({ length: 12 }, (_, i) => input(undefined, i)), [output(7n), output(9n)]).bytes];
  function outcome(bytes: Uint8Array): string {
    try {
      const tx = decodeTransaction(bytes);
      assert.deepEqual(encodeTransaction(tx), bytes, "an accepted input must be canonical");
      return "ok";
    } catch (error) {
      assert.ok(hasCodeIn(error, LEDGER_ERROR_CODES), `non-coded error: ${String(error)}`);
      assert.match(error.code, /^TX_/);
      return error.code;
    }
  }
  it("random bytes: always a coded error, never a crash", () => {
    const codes = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const bytes = fuzz.bytes(fuzz.below(400));
      if (i % 3 === 0 && bytes.length > 6) bytes.set([1, 0], 0);
      codes.add(outcome(bytes));
    }
    assert.ok(codes.size >= 4, `saw ${[...codes].join(",")}`);
  });
  it("mutated valid encodings: accepted only if canonical, else coded", () => {
    const codes = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const copy = Uint8Array.from(seeds[i % seeds.length]!);
      let bytes: Uint8Array = copy;
      switch (fuzz.below(4)) {
        case 0: for (let k = 0, n = 1 + fuzz.below(4); k < n; k++) copy[fuzz.below(copy.length)] ^= 1 << fuzz.below(8); break;
        case 1: bytes = copy.subarray(0, fuzz.below(copy.length)); break;
        case 2: bytes = Uint8Array.from([...copy, ...fuzz.bytes(1 + fuzz.below(70))]); break;
        default: copy[2 + fuzz.below(4)] = fuzz.below(256); break;
      }
      codes.add(outcome(bytes));
    }
    for (const code of ["ok", "TX_TRUNCATED", "TX_TRAILING_BYTES", "TX_UNKNOWN_VERSION", "TX_UNKNOWN_KIND"]) assert.ok(codes.has(code), `never saw ${code}`);
  });
});
