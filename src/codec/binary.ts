/**
 * The one strict little-endian reader and writer of the tree's binary formats.
 *
 * A format names its own error codes (`CodecCodes`), so a transaction that is cut short throws
 * TX_TRUNCATED and a block BLOCK_TRUNCATED, each an `IosError` with that code. Readers are views:
 * `bytes(n)` returns a subarray of the input, never a copy (callers that keep a field past the
 * input's life copy it themselves), and integer reads go byte by byte without a DataView, so a
 * reader costs one small object. Writers fill a buffer of the size the caller computed.
 *
 * API: `new BinaryReader(input, codes, start?, end?)` with `u8 u16 u32 u64 u53 f64 bytes advance
 * lengthPrefixed need expectRemaining expectEnd`; `BinaryWriter.ofSize(n)` or
 * `new BinaryWriter(out, at)` with `u8 u16 u32 u64 f64 bytes lengthPrefixed finish`; `readU16 readU32
 * readU64` and `writeU16 writeU32 writeU64 writeU64BE writeF64` for accessors and hot paths that
 * work at a known offset (a layout()'s) without allocating a reader or writer.
 */
import { IosError, invariant } from "../errors.js";

/** How a format reports each way its input can be wrong. */
export interface CodecCodes<Code extends string> {
  /** The input ends before a field. */
  readonly truncated: Code;
  /** Bytes remain after the last field. */
  readonly trailing: Code;
  /** A length prefix exceeds the maximum its field allows. */
  readonly tooLarge: Code;
  /** An integer is outside what its field allows (e.g. a u64 height beyond 2^53 − 1). */
  readonly outOfRange: Code;
}

/** The codes of a format that answers every malformed input with one code. */
export function singleCode<Code extends string>(code: Code): CodecCodes<Code> {
  return { truncated: code, trailing: code, tooLarge: code, outOfRange: code };
}

/** Length prefixes: u8 for short labels (chain ids, error codes), u16 for small fields, u32 for bodies. */
export type LengthPrefix = "u8" | "u16" | "u32";

export class BinaryReader<Code extends string> {
  /** Absolute position of the next read in `input`. */
  at: number;

  constructor(
    readonly input: Uint8Array,
    private readonly codes: CodecCodes<Code>,
    start = 0,
    readonly end = input.length,
  ) {
    invariant(start >= 0 && start <= end && end <= input.length, "reader bounds lie inside the input");
    this.at = start;
  }

  fail(code: Code, message: string): never {
    throw new IosError<Code>(code, message);
  }

  get remaining(): number {
    return this.end - this.at;
  }

  /** Throws `truncated` unless `count` more bytes are there. */
  need(count: number, what: string): void {
    if (count > this.end - this.at) this.fail(this.codes.truncated, `${what} is cut short: needs ${count} bytes at offset ${this.at}, ${this.end - this.at} remain`);
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.input[this.at++]!;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const at = this.at;
    this.at = at + 2;
    return readU16(this.input, at);
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const at = this.at;
    this.at = at + 4;
    return readU32(this.input, at);
  }

  u64(what = "u64"): bigint {
    this.need(8, what);
    const low = this.u32(what);
    const high = this.u32(what);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** A u64 that must fit a JavaScript safe integer (heights, timestamps): `outOfRange` beyond 2^53 − 1. */
  u53(what = "u64"): number {
    this.need(8, what);
    const low = this.u32(what);
    const high = this.u32(what);
    if (high > 0x1f_ffff) this.fail(this.codes.outOfRange, `${what} exceeds 2^53 - 1`);
    return high * 0x1_0000_0000 + low;
  }

  /** An IEEE 754 binary64, little-endian; the format checks its range (NaN decodes as NaN). */
  f64(what = "f64"): number {
    this.need(8, what);
    F64_SCRATCH.set(this.input.subarray(this.at, this.at + 8));
    this.at += 8;
    return F64_VIEW.getFloat64(0, true);
  }

  /** The next `count` bytes, as a view of the input. */
  bytes(count: number, what = "field"): Uint8Array {
    this.need(count, what);
    const at = this.at;
    this.at = at + count;
    return this.input.subarray(at, at + count);
  }

  advance(count: number, what = "field"): void {
    this.need(count, what);
    this.at += count;
  }

  /** A `prefix` length, at most `max`, then that many bytes (a view). */
  lengthPrefixed(prefix: LengthPrefix, max: number, what = "field"): Uint8Array {
    const length = prefix === "u8" ? this.u8(`${what} length`) : prefix === "u16" ? this.u16(`${what} length`) : this.u32(`${what} length`);
    if (length > max) this.fail(this.codes.tooLarge, `${what} of ${length} bytes exceeds its maximum of ${max}`);
    return this.bytes(length, what);
  }

  /** Exactly `count` bytes remain: `truncated` if fewer, `trailing` if more. */
  expectRemaining(count: number, what: string): void {
    const remaining = this.end - this.at;
    if (remaining < count) this.fail(this.codes.truncated, `${what} needs ${count} bytes, ${remaining} remain`);
    if (remaining > count) this.fail(this.codes.trailing, `${remaining - count} trailing byte(s) after ${what}`);
  }

  /** Nothing remains: `trailing` otherwise. */
  expectEnd(what = "the last field"): void {
    if (this.at !== this.end) this.fail(this.codes.trailing, `${this.end - this.at} trailing byte(s) after ${what}`);
  }
}

/** The u16le at `at` (random access for accessors; the caller has checked the bounds). */
export function readU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

/** The u32le at `at` (random access for accessors; the caller has checked the bounds). */
export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** The u64le at `at`. */
export function readU64(bytes: Uint8Array, at: number): bigint {
  return (BigInt(readU32(bytes, at + 4)) << 32n) | BigInt(readU32(bytes, at));
}

/** Writes the u16le `value` at `at` (the caller has checked bounds and range). */
export function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = value >>> 8;
}

/** Writes the u32le `value` at `at` (the caller has checked bounds and range). */
export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = value >>> 24;
}

/** Scratch for writeF64 and BinaryReader.f64: one DataView for the process, so a float costs no allocation. */
const F64_SCRATCH = new Uint8Array(8);
const F64_VIEW = new DataView(F64_SCRATCH.buffer);

/** Writes the IEEE 754 binary64 `value` little-endian at `at` (the caller has checked bounds). */
export function writeF64(bytes: Uint8Array, at: number, value: number): void {
  F64_VIEW.setFloat64(0, value, true);
  bytes.set(F64_SCRATCH, at);
}

/** The two u32 halves of a u64 given as a safe non-negative integer or a bigint below 2^64. */
function u64Halves(value: bigint | number): readonly [high: number, low: number] {
  if (typeof value === "number") {
    invariant(Number.isSafeInteger(value) && value >= 0, "u64 value is a non-negative safe integer");
    return [Math.floor(value / 0x1_0000_0000), value >>> 0];
  }
  invariant(value >= 0n && value < 1n << 64n, "u64 value in range");
  return [Number(value >> 32n), Number(value & 0xffffffffn)];
}

/** Writes the u64le `value` at `at`; numbers take no BigInt detour. */
export function writeU64(bytes: Uint8Array, at: number, value: bigint | number): void {
  const [high, low] = u64Halves(value);
  writeU32(bytes, at, low);
  writeU32(bytes, at + 4, high);
}

/** Writes the u64 big-endian `value` at `at` (LMDB height keys). */
export function writeU64BE(bytes: Uint8Array, at: number, value: bigint | number): void {
  const [high, low] = u64Halves(value);
  for (let i = 0; i < 4; i++) {
    bytes[at + 3 - i] = (high >>> (8 * i)) & 0xff;
    bytes[at + 7 - i] = (low >>> (8 * i)) & 0xff;
  }
}

/** Writes into a buffer of exactly the size the caller computed; values are checked by the caller's format first. */
export class BinaryWriter<Buffer extends ArrayBufferLike = ArrayBuffer> {
  at: number;

  constructor(
    readonly output: Uint8Array<Buffer>,
    start = 0,
  ) {
    this.at = start;
  }

  /** A writer over a fresh zeroed buffer of `size` bytes. */
  static ofSize(size: number): BinaryWriter<ArrayBuffer> {
    return new BinaryWriter(new Uint8Array(size));
  }

  private room(count: number): number {
    const at = this.at;
    // The message is built only on failure: this runs for every field of every record.
    if (at + count > this.output.length) invariant(false, `a write of ${count} bytes at ${at} fits the ${this.output.length}-byte output`);
    this.at = at + count;
    return at;
  }

  u8(value: number): this {
    invariant(Number.isInteger(value) && value >= 0 && value <= 0xff, "u8 value in range");
    this.output[this.room(1)] = value;
    return this;
  }

  u16(value: number): this {
    invariant(Number.isInteger(value) && value >= 0 && value <= 0xffff, "u16 value in range");
    writeU16(this.output, this.room(2), value);
    return this;
  }

  u32(value: number): this {
    invariant(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, "u32 value in range");
    writeU32(this.output, this.room(4), value);
    return this;
  }

  /** A u64 from a bigint or a safe non-negative integer. */
  u64(value: bigint | number): this {
    writeU64(this.output, this.room(8), value);
    return this;
  }

  /** An IEEE 754 binary64, little-endian (probabilities in a genesis policy). */
  f64(value: number): this {
    writeF64(this.output, this.room(8), value);
    return this;
  }

  bytes(value: Uint8Array): this {
    this.output.set(value, this.room(value.length));
    return this;
  }

  lengthPrefixed(prefix: LengthPrefix, value: Uint8Array): this {
    const length = value.length;
    return (prefix === "u8" ? this.u8(length) : prefix === "u16" ? this.u16(length) : this.u32(length)).bytes(value);
  }

  /** The output, which every write must have filled exactly. */
  finish(): Uint8Array<Buffer> {
    if (this.at !== this.output.length) invariant(false, `the writer filled its ${this.output.length}-byte output (at ${this.at})`);
    return this.output;
  }
}
