import assert from "node:assert/strict";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { describe, it } from "node:test";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import {
  BlockKind, HEADER_BYTES, MAX_BITMASK_BYTES, MAX_BLOCK_TXS, blockHash, decodeBlock, decodeBlockEnvelope, encodeBlock,
  encodeBlockHeader, makeBlockHeader, sealOptimistic, txRootOf, type BlockHeader, type BlockSeal,
} from "../../src/ledger/block.js";
import { validateStateless } from "../../src/ledger/stateless.js";
import { sameBytes } from "../../src/bytes.js";
import { ACCOUNTS, TestRng, hex, signedTransfer } from "./helpers.js";
import { codeOf } from "../support/errors.js";
import { IosError, hasCodeIn } from "../../src/errors.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode, type TransactionFailureDetail } from "../../src/ledger/errors.js";

/** RFC 6962 §2.1 Merkle tree hash, written directly from the RFC with @noble/hashes. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return nobleSha256(new Uint8Array(0));
  if (leaves.length === 1) return nobleSha256(Uint8Array.from([0, ...leaves[0]!]));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nobleSha256(Uint8Array.from([1, ...referenceRoot(leaves.slice(0, k)), ...referenceRoot(leaves.slice(k))]));
}


const rng = new TestRng(0xb10c);
const producer = ACCOUNTS[5]!;
const txs = Array.from({ length: 7 }, (_, i) =>
  signedTransfer([{ txid: rng.bytes(32), index: i, owner: ACCOUNTS[i % 4]!.publicKey }], [{ owner: ACCOUNTS[6]!.publicKey, amount: BigInt(i + 1) }]),
);
const encodedTxs = txs.map((t) => t.bytes);
const fields = { kind: BlockKind.Optimistic, shard: 3, epoch: 9, height: 1234, prevHash: rng.bytes(32), timestamp: 1_700_000_000_000, producer: producer.publicKey };

function optimisticBlock(transactions = encodedTxs): { header: BlockHeader; seal: BlockSeal; bytes: Uint8Array } {
  const header = makeBlockHeader(fields, transactions);
  const seal = sealOptimistic(header, producer);
  return { header, seal, bytes: encodeBlock(header, seal, transactions) };
}

describe("block codec", () => {
  it("round-trips an optimistic block; hash, signature and tx root check out against references", () => {
    const { header, bytes } = optimisticBlock();
    const block = decodeBlock(bytes);
    assert.deepEqual(block.header, header);
    assert.equal(hex(block.hash), hex(nobleSha256(bytes.subarray(0, HEADER_BYTES))));
    assert.equal(hex(blockHash(header)), hex(block.hash));
    assert.equal(block.seal.kind, "producer");
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), producer.publicKey]), format: "der", type: "spki" });
    assert.ok(nodeVerify(null, block.hash, spki, block.seal.signature));
    assert.deepEqual(block.transactions, encodedTxs);
    assert.equal(hex(block.txids), hex(Buffer.concat(txs.map((t) => t.txid))));
    assert.equal(hex(header.txRoot), hex(referenceRoot(txs.map((t) => t.txid))));
    assert.deepEqual(encodeBlock(block.header, block.seal, block.transactions), bytes);
  });

  it("round-trips a final block with a participation bitmask, and an empty block", () => {
    const header = makeBlockHeader({ ...fields, kind: BlockKind.Final }, encodedTxs.slice(0, 3));
    const seal: BlockSeal = { kind: "collective", participants: Uint8Array.from([0b1011, 0x80]), signature: rng.bytes(64) };
    const bytes = encodeBlock(header, seal, encodedTxs.slice(0, 3));
    const block = decodeBlock(bytes);
    assert.deepEqual(block.seal, seal);
    assert.equal(block.header.kind, BlockKind.Final);
    const empty = makeBlockHeader(fields, []);
    assert.equal(hex(empty.txRoot), hex(nobleSha256(new Uint8Array(0))));
    assert.equal(decodeBlock(encodeBlock(empty, sealOptimistic(empty, producer), [])).transactions.length, 0);
  });

  it("tx root matches the RFC 6962 reference for every size 0..40", () => {
    for (let n = 0; n <= 40; n++) {
      const txids = Array.from({ length: n }, () => rng.bytes(32));
      const packed = new Uint8Array(n * 32);
      txids.forEach((t, i) => packed.set(t, i * 32));
      assert.equal(hex(txRootOf(packed)), hex(referenceRoot(txids)), `n = ${n}`);
    }
  });

  it("the envelope's body is what validateStateless takes, giving the same txids", () => {
    const { bytes } = optimisticBlock();
    const envelope = decodeBlockEnvelope(bytes);
    const result = validateStateless(envelope.body, 0, 1);
    assert.equal(hex(result.txids), hex(decodeBlock(bytes).txids));
  });

  it("header fields sit at their documented offsets", () => {
    const { header } = optimisticBlock();
    const encoded = Buffer.from(encodeBlockHeader(header));
    assert.equal(encoded.length, HEADER_BYTES);
    assert.deepEqual([encoded[0], encoded[1], encoded.readUInt32LE(2), encoded.readUInt32LE(6)], [2, 0, 3, 9]);
    assert.equal(encoded.readBigUInt64LE(10), 1234n);
    assert.equal(encoded.readBigUInt64LE(82), 1_700_000_000_000n);
    assert.deepEqual([encoded.readUInt32LE(122), encoded.readUInt32LE(126)], [7, header.bodyBytes]);
    assert.equal(hex(encoded.subarray(130, 162)), hex(referenceRoot(encodedTxs)), "the body root: RFC 6962 over the full encodings");
  });
});

describe("strict block decoding", () => {
  const { bytes } = optimisticBlock(encodedTxs.slice(0, 2));
  const patched = (at: number, values: number[], source = bytes) => {
    const copy = Uint8Array.from(source);
    copy.set(values, at);
    return copy;
  };
  const u32 = (value: number) => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];

  it("every strict prefix is BLOCK_TRUNCATED, any extra byte BLOCK_TRAILING_BYTES", () => {
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeBlock(bytes.subarray(0, length))), "BLOCK_TRUNCATED", `length ${length}`);
    assert.equal(codeOf(() => decodeBlock(Uint8Array.from([...bytes, 1]))), "BLOCK_TRAILING_BYTES");
  });

  it("rejects each malformed field with its code", () => {
    const txCount = 2;
    const bodyBytes = Buffer.from(bytes).readUInt32LE(126);
    const final = encodeBlock(makeBlockHeader({ ...fields, kind: BlockKind.Final }, []), { kind: "collective", participants: Uint8Array.of(1), signature: new Uint8Array(64) }, []);
    // A header binding a malformed transaction (txids given, so makeBlockHeader does not scan it).
    const malformed = Uint8Array.from(encodedTxs[0]!);
    malformed[0] = 9;
    const badHeader = makeBlockHeader(fields, [malformed, encodedTxs[1]!], new Uint8Array(64));
    const badTransaction = encodeBlock(badHeader, sealOptimistic(badHeader, producer), [malformed, encodedTxs[1]!]);
    const cases: [string, Uint8Array, string?][] = [
      ["BLOCK_UNKNOWN_VERSION", patched(0, [1])],
      ["BLOCK_UNKNOWN_KIND", patched(1, [2])],
      ["BLOCK_BAD_FIELD", patched(10, [0, 0, 0, 0, 0, 0, 0x20, 0])],
      ["BLOCK_BAD_FIELD", patched(82, [0, 0, 0, 0, 0, 0, 0, 1])],
      ["BLOCK_TOO_MANY_TXS", patched(122, u32(MAX_BLOCK_TXS + 1))],
      ["BLOCK_TOO_LARGE", patched(126, u32(0xffffffff))],
      ["BLOCK_TRUNCATED", patched(122, u32(txCount + 1))],
      ["BLOCK_TRAILING_BYTES", patched(122, u32(txCount - 1))],
      ["BLOCK_TRUNCATED", patched(126, u32(bodyBytes + 1))],
      ["BLOCK_TX_ROOT_MISMATCH", patched(50, [bytes[50]! ^ 1])],
      ["BLOCK_BODY_ROOT_MISMATCH", patched(HEADER_BYTES + 64 + 4 + 40, [bytes[HEADER_BYTES + 64 + 4 + 40]! ^ 1])],
      ["BLOCK_BODY_ROOT_MISMATCH", patched(130, [bytes[130]! ^ 1])],
      ["BLOCK_BODY_ROOT_MISMATCH", patched(bytes.length - 1, [bytes[bytes.length - 1]! ^ 1]), "a signature byte, outside every txid"],
      ["BLOCK_BAD_TRANSACTION", badTransaction],
      ["BLOCK_BAD_BITMASK", patched(HEADER_BYTES, [0, 0], final)],
      ["BLOCK_BAD_BITMASK", patched(HEADER_BYTES, [MAX_BITMASK_BYTES + 1, 0], final)],
      ["BLOCK_TRUNCATED", patched(HEADER_BYTES, [2, 0], final)],
    ];
    for (const [code, block, why] of cases) assert.equal(codeOf(() => decodeBlock(block)), code, why);
    assert.throws(() => decodeBlock(badTransaction), (error: IosError<LedgerErrorCode, TransactionFailureDetail>) => error.detail?.code === "TX_UNKNOWN_VERSION" && error.detail?.index === 0);
  });

  it("the encoder refuses inconsistent blocks", () => {
    const { header, seal } = optimisticBlock(encodedTxs.slice(0, 2));
    assert.equal(codeOf(() => encodeBlock(header, seal, encodedTxs.slice(0, 1))), "BLOCK_BAD_FIELD");
    assert.equal(codeOf(() => encodeBlock(header, { kind: "collective", participants: Uint8Array.of(1), signature: new Uint8Array(64) }, encodedTxs.slice(0, 2))), "BLOCK_BAD_FIELD");
    const finalHeader = makeBlockHeader({ ...fields, kind: BlockKind.Final }, []);
    assert.equal(codeOf(() => encodeBlock(finalHeader, { kind: "collective", participants: new Uint8Array(0), signature: new Uint8Array(64) }, [])), "BLOCK_BAD_BITMASK");
    assert.equal(codeOf(() => makeBlockHeader({ ...fields, prevHash: new Uint8Array(31) }, [])), "BLOCK_BAD_FIELD");
    assert.equal(codeOf(() => makeBlockHeader({ ...fields, height: -1 }, [])), "BLOCK_BAD_FIELD");
    assert.equal(codeOf(() => makeBlockHeader({ ...fields, kind: 7 as BlockKind }, [])), "BLOCK_UNKNOWN_KIND");
    assert.equal(codeOf(() => makeBlockHeader(fields, [new Uint8Array(3)])), "BLOCK_BAD_TRANSACTION");
  });

  it("fuzz: random and mutated blocks give a coded error or a canonical block, never a crash", () => {
    const fuzz = new TestRng(0xf0f0);
    const original = decodeBlock(bytes);
    const codes = new Set<string>();
    for (let i = 0; i < 2500; i++) {
      let candidate: Uint8Array;
      if (i % 5 === 0) {
        candidate = fuzz.bytes(fuzz.below(600));
      } else {
        const copy = Uint8Array.from(bytes);
        for (let k = 0, n = 1 + fuzz.below(3); k < n; k++) copy[fuzz.below(copy.length)] ^= 1 << fuzz.below(8);
        candidate = fuzz.below(4) === 0 ? copy.subarray(0, fuzz.below(copy.length)) : copy;
      }
      try {
        const block = decodeBlock(candidate);
        assert.deepEqual(encodeBlock(block.header, block.seal, block.transactions), candidate);
        // One hash, one body (issue 13): a mutation that keeps the block hash changed the seal at most.
        if (sameBytes(block.hash, original.hash)) assert.deepEqual(block.transactions, original.transactions);
        codes.add("ok");
      } catch (error) {
        assert.ok(hasCodeIn(error, LEDGER_ERROR_CODES), `non-coded error: ${String(error)}`);
        assert.match(error.code, /^BLOCK_/);
        codes.add(error.code);
      }
    }
    for (const code of ["ok", "BLOCK_TRUNCATED", "BLOCK_TX_ROOT_MISMATCH", "BLOCK_BODY_ROOT_MISMATCH"]) assert.ok(codes.has(code), `never saw ${code}`);
  });
});
