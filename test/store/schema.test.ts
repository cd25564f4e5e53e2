/**
 * LMDB record layouts (src/store/schema.ts): byte vectors for each key and value, round trips,
 * and STORE_CORRUPT for every record of the wrong size or a height beyond 2^53 − 1.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SCHEMA_VERSION,
  UtxoLogPart,
  decodeUtxoLogKey,
  utxoLogKey,
  STORE_MAGIC,
  decodeEpoch,
  decodeFlushMarker,
  decodeHeightKey,
  decodeHeightValue,
  decodeIdentity,
  decodeTip,
  decodeTxLocation,
  encodeEpoch,
  encodeFlushMarker,
  encodeHeightValue,
  encodeIdentity,
  encodeTip,
  encodeTxLocation,
  heightKey,
} from "../../src/store/schema.js";
import { codeOf } from "../support/errors.js";

const hash = Uint8Array.from({ length: 32 }, (_, i) => i);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const u32le = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return hex(bytes);
};

describe("store schema", () => {
  it("encodes each record in its documented layout", () => {
    assert.equal(hex(heightKey(0x0102030405)), "0000000102030405", "height keys are big-endian");
    assert.equal(hex(encodeHeightValue(0x0102030405)), "0504030201000000");
    assert.equal(hex(encodeTxLocation(0x0102, 0x03040506)), "020100000000000006050403");
    assert.equal(hex(encodeEpoch(0x01020304)), "04030201");
    assert.equal(hex(encodeTip({ height: 9, hash })), `0900000000000000${hex(hash)}`);
    assert.equal(hex(encodeFlushMarker({ height: 1, count: 2, supply: (1n << 64n) - 1n, baseHeight: 3, baseCount: 4, logged: 5 })),
      `01000000000000000200000000000000${"ff".repeat(8)}030000000000000004000000000000000500000000000000`);
    assert.equal(hex(utxoLogKey(0x0102030405, UtxoLogPart.created, 0x06070809)), "00000001020304050206070809", "utxo log keys: u64be height, the part, u32be chunk");
    assert.equal(hex(encodeIdentity({ shard: 5, genesisId: hash })), `${hex(STORE_MAGIC)}${u32le(SCHEMA_VERSION)}${u32le(5)}${hex(hash)}`);
  });

  it("round-trips every record, heights up to 2^53 − 1", () => {
    const max = Number.MAX_SAFE_INTEGER;
    assert.equal(decodeHeightKey(heightKey(max)), max);
    assert.equal(decodeHeightValue(encodeHeightValue(max)), max);
    assert.deepEqual(decodeTxLocation(encodeTxLocation(max, 0xffffffff)), { height: max, position: 0xffffffff });
    assert.equal(decodeEpoch(encodeEpoch(0xffffffff)), 0xffffffff);
    assert.deepEqual(decodeTip(encodeTip({ height: max, hash })), { height: max, hash });
    const marker = { height: max, count: max, supply: 1n << 63n, baseHeight: max, baseCount: max, logged: max };
    assert.deepEqual(decodeFlushMarker(encodeFlushMarker(marker)), marker);
    assert.deepEqual(decodeUtxoLogKey(utxoLogKey(max, UtxoLogPart.spent, 0xffffffff)), { height: max, part: UtxoLogPart.spent, chunk: 0xffffffff });
    assert.deepEqual(decodeIdentity(encodeIdentity({ shard: 0xffffffff, genesisId: hash })), { shard: 0xffffffff, genesisId: hash });
  });

  it("a record cut short or padded is STORE_CORRUPT; a foreign or other-version identity says so", () => {
    const records: [Buffer, (value: Buffer) => unknown][] = [
      [heightKey(3), decodeHeightKey],
      [encodeHeightValue(3), decodeHeightValue],
      [encodeTxLocation(3, 4), decodeTxLocation],
      [encodeEpoch(3), decodeEpoch],
      [encodeTip({ height: 3, hash }), decodeTip],
      [encodeFlushMarker({ height: 3, count: 4, supply: 5n, baseHeight: 1, baseCount: 2, logged: 6 }), decodeFlushMarker],
      [utxoLogKey(3, UtxoLogPart.base, 1), decodeUtxoLogKey],
    ];
    for (const [value, decode] of records) {
      for (let cut = 0; cut < value.length; cut++) assert.equal(codeOf(() => decode(value.subarray(0, cut))), "STORE_CORRUPT", `${decode.name} cut to ${cut}`);
      assert.equal(codeOf(() => decode(Buffer.concat([value, Buffer.of(0)]))), "STORE_CORRUPT", `${decode.name} padded`);
    }
    const identity = encodeIdentity({ shard: 1, genesisId: hash });
    assert.equal(codeOf(() => decodeIdentity(identity.subarray(0, identity.length - 1))), "STORE_CORRUPT");
    assert.equal(codeOf(() => decodeIdentity(Buffer.concat([identity, Buffer.of(0)]))), "STORE_CORRUPT");
    assert.equal(codeOf(() => decodeIdentity(identity.subarray(0, 11))), "STORE_FOREIGN");
    assert.equal(codeOf(() => decodeIdentity(Buffer.from(identity).fill(0, 0, 1))), "STORE_FOREIGN");
    const otherVersion = Buffer.from(identity);
    otherVersion[8] = SCHEMA_VERSION + 1;
    assert.equal(codeOf(() => decodeIdentity(otherVersion)), "STORE_SCHEMA_MISMATCH");
  });

  it("heights beyond 2^53 − 1 are STORE_CORRUPT", () => {
    const over = Buffer.alloc(8, 0xff);
    assert.equal(codeOf(() => decodeHeightKey(over)), "STORE_CORRUPT");
    assert.equal(codeOf(() => decodeHeightValue(over)), "STORE_CORRUPT");
    assert.equal(codeOf(() => decodeTip(Buffer.concat([over, Buffer.from(hash)]))), "STORE_CORRUPT");
    const marker = encodeFlushMarker({ height: 1, count: 2, supply: 3n, baseHeight: 1, baseCount: 2, logged: 4 });
    for (const [field, at] of [["count", 8], ["base height", 24], ["base count", 32], ["bytes logged", 40]] as const) {
      assert.equal(codeOf(() => decodeFlushMarker(Buffer.concat([marker.subarray(0, at), over, marker.subarray(at + 8)]))), "STORE_CORRUPT", field);
    }
    assert.equal(codeOf(() => decodeUtxoLogKey(Buffer.concat([over, Buffer.alloc(5)]))), "STORE_CORRUPT", "a utxo log key's height");
    assert.equal(codeOf(() => decodeUtxoLogKey(Buffer.concat([Buffer.alloc(8), Buffer.of(3), Buffer.alloc(4)]))), "STORE_CORRUPT", "a utxo log key of no part");
  });
});
