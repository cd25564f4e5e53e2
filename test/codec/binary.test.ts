import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryReader, BinaryWriter, readU16, readU32, readU64, singleCode, writeF64, writeU16, writeU32, writeU64, writeU64BE, type CodecCodes } from "../../src/codec/binary.js";
import { layout } from "../../src/codec/layout.js";
import { IosError, hasCodeIn } from "../../src/errors.js";
import { TX_CODES } from "../../src/ledger/kinds/interface.js";
import { codeOf } from "../support/errors.js";
import { LEDGER_ERROR_CODES } from "../../src/ledger/errors.js";

type TestCode = "T_TRUNCATED" | "T_TRAILING" | "T_TOO_LARGE" | "T_RANGE";
const CODES: CodecCodes<TestCode> = { truncated: "T_TRUNCATED", trailing: "T_TRAILING", tooLarge: "T_TOO_LARGE", outOfRange: "T_RANGE" };

const reader = (bytes: number[], start?: number, end?: number) => new BinaryReader(Uint8Array.from(bytes), CODES, start, end);

describe("BinaryReader", () => {
  it("reads little-endian integers and fixed fields in order, then ends", () => {
    const r = reader([0x01, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 1, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]);
    assert.equal(r.u8(), 1);
    assert.equal(r.u16(), 0x1234);
    assert.equal(r.u32(), 0x12345678);
    assert.equal(r.u64(), (2n << 32n) | 1n);
    assert.deepEqual([...r.bytes(2)], [0xaa, 0xbb]);
    assert.equal(r.remaining, 0);
    r.expectEnd();
  });

  it("u32 and u64 cover their whole range", () => {
    assert.equal(reader([0xff, 0xff, 0xff, 0xff]).u32(), 0xffffffff);
    assert.equal(reader(new Array(8).fill(0xff)).u64(), (1n << 64n) - 1n);
    assert.equal(reader(new Array(8).fill(0)).u64(), 0n);
  });

  it("u53 takes 2^53 - 1 and refuses 2^53 with the format's out-of-range code", () => {
    const max = Buffer.alloc(8);
    max.writeBigUInt64LE(BigInt(Number.MAX_SAFE_INTEGER));
    assert.equal(reader([...max]).u53(), Number.MAX_SAFE_INTEGER);
    const over = Buffer.alloc(8);
    over.writeBigUInt64LE(1n << 53n);
    assert.equal(codeOf(() => reader([...over]).u53("height")), "T_RANGE");
    assert.equal(codeOf(() => reader(new Array(8).fill(0xff)).u53()), "T_RANGE");
  });

  it("every read past the end is the format's truncated code, and moves nothing", () => {
    for (const read of [(r: BinaryReader<TestCode>) => r.u16(), (r: BinaryReader<TestCode>) => r.u32(), (r: BinaryReader<TestCode>) => r.u64(), (r: BinaryReader<TestCode>) => r.bytes(2), (r: BinaryReader<TestCode>) => r.advance(2)]) {
      const r = reader([7]);
      assert.equal(codeOf(() => read(r)), "T_TRUNCATED");
      assert.equal(r.at, 0);
    }
    assert.equal(codeOf(() => reader([]).u8()), "T_TRUNCATED");
  });

  it("expectEnd refuses trailing bytes; expectRemaining tells truncated from trailing", () => {
    const r = reader([1, 2, 3]);
    r.u8();
    assert.equal(codeOf(() => r.expectEnd()), "T_TRAILING");
    assert.equal(codeOf(() => r.expectRemaining(3, "the rest")), "T_TRUNCATED");
    assert.equal(codeOf(() => r.expectRemaining(1, "the rest")), "T_TRAILING");
    r.expectRemaining(2, "the rest");
  });

  it("length-prefixed fields: up to the maximum, tooLarge beyond, truncated when the bytes are missing", () => {
    assert.deepEqual([...reader([3, 0, 9, 8, 7]).lengthPrefixed("u16", 3)], [9, 8, 7]);
    assert.deepEqual([...reader([2, 0, 0, 0, 5, 6]).lengthPrefixed("u32", 2)], [5, 6]);
    assert.equal(codeOf(() => reader([4, 0, 9, 8, 7, 6]).lengthPrefixed("u16", 3)), "T_TOO_LARGE");
    assert.equal(codeOf(() => reader([3, 0, 9, 8]).lengthPrefixed("u16", 3)), "T_TRUNCATED");
    assert.equal(codeOf(() => reader([1]).lengthPrefixed("u16", 3)), "T_TRUNCATED");
  });

  it("fields are views of the input, not copies, and a window never reads outside [start, end)", () => {
    const input = Uint8Array.from([0xee, 1, 2, 3, 0xee]);
    const r = new BinaryReader(input, CODES, 1, 4);
    const field = r.bytes(3);
    assert.equal(field.buffer, input.buffer);
    assert.equal(field.byteOffset, 1);
    assert.equal(codeOf(() => r.u8()), "T_TRUNCATED");
    assert.throws(() => new BinaryReader(input, CODES, 3, 6), /invariant/);
  });

  it("a format with one code answers every failure with it", () => {
    const codes = singleCode("T_BAD");
    assert.equal(codeOf(() => new BinaryReader(new Uint8Array(1), codes).u16()), "T_BAD");
    assert.equal(codeOf(() => new BinaryReader(new Uint8Array(1), codes).expectEnd()), "T_BAD");
    assert.equal(codeOf(() => new BinaryReader(Uint8Array.of(9, 0), codes).lengthPrefixed("u16", 8)), "T_BAD");
    assert.equal(codeOf(() => new BinaryReader(new Uint8Array(8).fill(0xff), codes).u53()), "T_BAD");
  });

  it("throws through the format's error constructor: a transaction's codes arrive as LedgerErrors", () => {
    const plain = (() => { try { reader([]).u8(); } catch (error) { return error; } })();
    assert.ok(plain instanceof IosError && plain.code === "T_TRUNCATED");
    const ledger = (() => { try { new BinaryReader(new Uint8Array(1), TX_CODES).u16(); } catch (error) { return error; } })();
    assert.ok(hasCodeIn(ledger, LEDGER_ERROR_CODES) && ledger.code === "TX_TRUNCATED");
  });
});

describe("BinaryWriter", () => {
  it("writes what the reader reads back, filling its buffer exactly", () => {
    const out = BinaryWriter.ofSize(1 + 2 + 4 + 8 + 8 + 2 + 3 + 4 + 1)
      .u8(0xfe).u16(0xbeef).u32(0xdeadbeef).u64((1n << 64n) - 1n).u64(12345).bytes(Uint8Array.of(1, 2)).lengthPrefixed("u16", Uint8Array.of(9))
      .lengthPrefixed("u32", Uint8Array.of(7))
      .finish();
    const r = new BinaryReader(out, CODES);
    assert.deepEqual([r.u8(), r.u16(), r.u32(), r.u64(), r.u64()], [0xfe, 0xbeef, 0xdeadbeef, (1n << 64n) - 1n, 12345n]);
    assert.deepEqual([...r.bytes(2)], [1, 2]);
    assert.deepEqual([...r.lengthPrefixed("u16", 1)], [9]);
    assert.deepEqual([...r.lengthPrefixed("u32", 1)], [7]);
    r.expectEnd();
    assert.equal(readU16(out, 1), 0xbeef);
    assert.equal(readU32(out, 3), 0xdeadbeef);
    assert.equal(readU64(out, 7), (1n << 64n) - 1n);
  });

  it("writes at an offset of a caller's buffer", () => {
    const buffer = new Uint8Array(6).fill(0xaa);
    new BinaryWriter(buffer, 2).u16(0x0102);
    assert.deepEqual([...buffer], [0xaa, 0xaa, 0x02, 0x01, 0xaa, 0xaa]);
  });

  it("out-of-range values, overruns and an unfilled output are bugs, not input errors", () => {
    assert.throws(() => BinaryWriter.ofSize(2).u16(0x10000), /invariant/);
    assert.throws(() => BinaryWriter.ofSize(8).u64(1n << 64n), /invariant/);
    assert.throws(() => BinaryWriter.ofSize(8).u64(-1n), /invariant/);
    assert.throws(() => BinaryWriter.ofSize(1).u16(1), /invariant/);
    assert.throws(() => BinaryWriter.ofSize(2).u8(1).finish(), /invariant/);
  });
});

describe("random access", () => {
  it("writeU16/32/64 write what readU16/32/64 read, at any offset, numbers and bigints alike", () => {
    const out = new Uint8Array(1 + 2 + 4 + 8 + 8).fill(0xaa);
    writeU16(out, 1, 0xbeef);
    writeU32(out, 3, 0xdeadbeef);
    writeU64(out, 7, Number.MAX_SAFE_INTEGER);
    writeU64(out, 15, (1n << 64n) - 2n);
    assert.equal(out[0], 0xaa, "nothing before the first field");
    assert.equal(readU16(out, 1), 0xbeef);
    assert.equal(readU32(out, 3), 0xdeadbeef);
    assert.equal(readU64(out, 7), BigInt(Number.MAX_SAFE_INTEGER));
    assert.equal(readU64(out, 15), (1n << 64n) - 2n);
    assert.deepEqual([...out.subarray(1, 3)], [0xef, 0xbe], "little-endian");
  });

  it("writeU64BE is big-endian, so byte order is numeric order", () => {
    const values = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
    const keys = values.map((value) => {
      const key = Buffer.alloc(8);
      writeU64BE(key, 0, value);
      assert.equal(key.readBigUInt64BE(0), BigInt(value));
      return key;
    });
    for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0, `${values[i - 1]} sorts before ${values[i]}`);
    const reference = Buffer.alloc(8);
    reference.writeBigUInt64BE(0x0102030405060708n);
    const key = new Uint8Array(8);
    writeU64BE(key, 0, 0x0102030405060708n);
    assert.deepEqual([...key], [...reference]);
  });

  it("writeF64 and BinaryWriter.f64 write IEEE 754 binary64 little-endian", () => {
    for (const value of [0, -0, 1.5, Math.PI, -1e300, Number.MIN_VALUE, Infinity]) {
      const reference = Buffer.alloc(9);
      reference.writeDoubleLE(value, 1);
      const out = new Uint8Array(9);
      writeF64(out, 1, value);
      assert.deepEqual([...out], [...reference], String(value));
      assert.deepEqual([...BinaryWriter.ofSize(8).f64(value).finish()], [...reference.subarray(1)]);
    }
  });

  it("a u64 that is negative, fractional, unsafe or 2^64 is a bug", () => {
    for (const value of [-1, 1.5, 2 ** 53, -1n, 1n << 64n]) assert.throws(() => writeU64(new Uint8Array(8), 0, value), /invariant/, String(value));
  });
});

describe("u8 length prefixes", () => {
  it("carry up to 255 bytes and read back; the reader's maximum applies", () => {
    const label = new Uint8Array(255).fill(7);
    const out = BinaryWriter.ofSize(256).lengthPrefixed("u8", label).finish();
    assert.equal(out[0], 255);
    assert.deepEqual(new BinaryReader(out, CODES).lengthPrefixed("u8", 255), label);
    assert.equal(codeOf(() => new BinaryReader(out, CODES).lengthPrefixed("u8", 254)), "T_TOO_LARGE");
    assert.equal(codeOf(() => new BinaryReader(out.subarray(0, 100), CODES).lengthPrefixed("u8", 255)), "T_TRUNCATED");
    assert.throws(() => BinaryWriter.ofSize(257).lengthPrefixed("u8", new Uint8Array(256)), /invariant/);
  });

  it("say what was cut short and what trails, in words formats' tests look for", () => {
    assert.throws(() => reader([1]).u16("the count"), /the count is cut short/);
    assert.throws(() => reader([1, 2]).expectEnd("the header"), /2 trailing byte\(s\) after the header/);
  });
});

describe("layout", () => {
  it("gives each field its offset and size in declaration order, and the total", () => {
    const header = layout({ version: 1, kind: 1, count: 2, owner: 32 });
    assert.deepEqual(header.offset, { version: 0, kind: 1, count: 2, owner: 4 });
    assert.deepEqual(header.size, { version: 1, kind: 1, count: 2, owner: 32 });
    assert.equal(header.bytes, 36);
  });
  it("refuses empty and fractional fields", () => {
    assert.throws(() => layout({ a: 0 }), /positive integer/);
    assert.throws(() => layout({ a: 1.5 }), /positive integer/);
  });
});
