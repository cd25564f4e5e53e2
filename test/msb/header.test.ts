/**
 * MSB header tests (src/msb/header.ts): canonical encoding round trips at epochs with 0..32
 * back-pointer levels, strict decoding (every truncation, trailing bytes, version, out-of-range
 * height, fields that contradict each other), the domain-separated hash, the back-pointer levels
 * and the skip path's O(log) hops.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { writeU32, writeU64 } from "../../src/codec/binary.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import {
  MSB_HEADER_DOMAIN, MSB_HEADER_FIXED, backPointerEpochs, backPointerLevels, decodeMsbHeader, encodeMsbHeader, makeMsbHeader, msbHeaderHash, skipPath,
} from "../../src/msb/header.js";
import { snapshotOfEntries } from "../../src/msb/snapshot.js";
import type { MsbHeader } from "../../src/msb/interface.js";
import { NO_ERROR, codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";
import { NO_DECISIONS, randomDecisions, randomEntries } from "./fixtures.js";

const seed = testSeed("msb header");
const rng = SeededRng.fromSeed(seed);
const snapshot = snapshotOfEntries(randomEntries(rng, 10));
const decisions = randomDecisions(rng, 7);
const U32_MAX = 0xffff_ffff;

function headerAt(epoch: number, fields: Partial<{ height: number; shard: number }> = {}): MsbHeader {
  return makeMsbHeader({
    chain: rng.bytes(32), shard: fields.shard ?? 3, epoch, height: fields.height ?? 1234, snapshot, decisions,
    backPointers: Array.from({ length: backPointerLevels(epoch) }, () => rng.bytes(32)),
  });
}

describe("MSB header", () => {
  it("counts back-pointer levels: one per power of two up to the epoch", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 7, 8, 1023, 1024].map(backPointerLevels), [0, 1, 2, 2, 3, 3, 3, 4, 10, 11]);
    assert.equal(backPointerLevels(U32_MAX), 32);
    assert.deepEqual(backPointerEpochs(0), []);
    assert.deepEqual(backPointerEpochs(6), [5, 4, 2]);
    assert.deepEqual(backPointerEpochs(8), [7, 6, 4, 0]);
    assert.equal(codeOf(() => backPointerLevels(-1)), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => backPointerLevels(U32_MAX + 1)), "MSB_BAD_INPUT");
  });

  it("reaches any earlier epoch in popcount(distance) ≤ ⌊log2 d⌋ + 1 hops, each along an existing back-pointer", () => {
    for (let from = 0; from <= 80; from++) {
      for (let to = 0; to <= from; to++) {
        const { epochs, levels } = skipPath(from, to);
        assert.equal(epochs[0], from);
        assert.equal(epochs.at(-1), to);
        const distance = from - to;
        const popcount = distance.toString(2).split("").filter((b) => b === "1").length;
        assert.equal(levels.length, popcount);
        if (distance > 0) assert.ok(levels.length <= Math.floor(Math.log2(distance)) + 1);
        levels.forEach((level, hop) => {
          assert.ok(level < backPointerLevels(epochs[hop]!), `level ${level} exists at epoch ${epochs[hop]}`);
          assert.equal(epochs[hop + 1], backPointerEpochs(epochs[hop]!)[level]);
        });
      }
    }
    const far = skipPath(U32_MAX, 0);
    assert.equal(far.levels.length, 32);
    assert.equal(codeOf(() => skipPath(3, 4)), "MSB_BAD_INPUT");
  });

  it("round-trips its canonical encoding at every number of levels", () => {
    for (const epoch of [0, 1, 2, 3, 4, 7, 8, 1000, 2 ** 31, U32_MAX]) {
      const header = headerAt(epoch, { height: Number.MAX_SAFE_INTEGER, shard: U32_MAX });
      const bytes = encodeMsbHeader(header);
      assert.equal(bytes.length, MSB_HEADER_FIXED.bytes + 32 * backPointerLevels(epoch));
      assert.deepEqual(decodeMsbHeader(bytes), header);
      assert.deepEqual(encodeMsbHeader(decodeMsbHeader(bytes)), bytes);
    }
  });

  it("decodes strictly: every truncation, trailing bytes, version, height range, inconsistent fields", () => {
    const bytes = encodeMsbHeader(headerAt(5));
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeMsbHeader(bytes.subarray(0, length))), "MSB_TRUNCATED", `cut at ${length}`);
    assert.equal(codeOf(() => decodeMsbHeader(Uint8Array.from([...bytes, 0]))), "MSB_TRAILING");
    const mutate = (edit: (copy: Uint8Array) => void): string => {
      const copy = bytes.slice();
      edit(copy);
      return codeOf(() => decodeMsbHeader(copy));
    };
    assert.equal(mutate((c) => (c[0] = 1)), "MSB_BAD_VERSION", "version 1 (no decisions) is no longer read");
    assert.equal(mutate((c) => (c[0] = 3)), "MSB_BAD_VERSION");
    assert.equal(mutate((c) => writeU64(c, MSB_HEADER_FIXED.offset.height, 2n ** 53n)), "MSB_OUT_OF_RANGE");
    assert.equal(mutate((c) => writeU64(c, MSB_HEADER_FIXED.offset.supply, 9n)), "MSB_BAD_FIELD", "supply below the count of 10");
    assert.equal(mutate((c) => writeU32(c, MSB_HEADER_FIXED.offset.count, 0)), "MSB_BAD_FIELD", "no outputs but a non-empty root");
    assert.equal(mutate((c) => writeU32(c, MSB_HEADER_FIXED.offset.decisions, 0)), "MSB_BAD_FIELD", "no decisions but a non-empty decisions root");
    // Changing the epoch changes how many back-pointers must follow.
    assert.equal(mutate((c) => writeU32(c, MSB_HEADER_FIXED.offset.epoch, 8)), "MSB_TRUNCATED");
    assert.equal(mutate((c) => writeU32(c, MSB_HEADER_FIXED.offset.epoch, 2)), "MSB_TRAILING");
    const empty = makeMsbHeader({ chain: rng.bytes(32), shard: 0, epoch: 0, height: 0, snapshot: snapshotOfEntries(new Uint8Array(0)), decisions: NO_DECISIONS, backPointers: [] });
    assert.deepEqual(decodeMsbHeader(encodeMsbHeader(empty)), empty);
    assert.equal(codeOf(() => decodeMsbHeader("header" as never)), "MSB_BAD_INPUT");
  });

  it("refuses to make a header with the wrong back-pointers or fields", () => {
    const base = { chain: rng.bytes(32), shard: 0, epoch: 4, height: 10, snapshot, decisions, backPointers: [rng.bytes(32), rng.bytes(32), rng.bytes(32)] };
    assert.equal(codeOf(() => makeMsbHeader(base)), NO_ERROR);
    assert.equal(codeOf(() => makeMsbHeader({ ...base, backPointers: base.backPointers.slice(1) })), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => makeMsbHeader({ ...base, backPointers: [...base.backPointers.slice(1), new Uint8Array(31)] })), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => makeMsbHeader({ ...base, chain: new Uint8Array(31) })), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => makeMsbHeader({ ...base, height: -1 })), "MSB_BAD_INPUT");
    assert.equal(codeOf(() => makeMsbHeader({ ...base, shard: U32_MAX + 1 })), "MSB_BAD_INPUT");
  });

  it("hashes its encoding under its own domain, and every field changes the hash", () => {
    const header = headerAt(6);
    const bytes = encodeMsbHeader(header);
    assert.deepEqual(msbHeaderHash(header), nobleSha256(Uint8Array.from([...MSB_HEADER_DOMAIN, ...bytes])));
    assert.notDeepEqual(msbHeaderHash(header), nobleSha256(bytes));
    const variants: MsbHeader[] = [
      { ...header, chain: rng.bytes(32) }, { ...header, shard: 4 }, { ...header, height: 1235 }, { ...header, count: 11 },
      { ...header, supply: header.supply + 1n }, { ...header, root: rng.bytes(32) }, { ...header, decisions: header.decisions + 1 }, { ...header, decisionsRoot: rng.bytes(32) }, { ...header, backPointers: [header.backPointers[0]!, header.backPointers[1]!, rng.bytes(32)] },
    ];
    const hashes = new Set([header, ...variants].map((h) => Buffer.from(msbHeaderHash(h)).toString("hex")));
    assert.equal(hashes.size, variants.length + 1);
  });
});
