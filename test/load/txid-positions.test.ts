// The driver's txid → set position index, differential against a Map keyed by the txid's bytes.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { TxidPositions } from "../../src/load/txid-positions.js";

function mapOf(txids: Uint8Array): Map<string, number> {
  const map = new Map<string, number>();
  for (let at = 0, position = 0; at < txids.length; at += 32, position++) map.set(Buffer.from(txids.subarray(at, at + 32)).toString("hex"), position);
  return map;
}

describe("TxidPositions", () => {
  it("finds every txid of the set, at any offset of any buffer, and nothing else", () => {
    for (const count of [0, 1, 2, 3, 100, 5000]) {
      const txids = new Uint8Array(randomBytes(32 * count));
      const index = new TxidPositions(txids);
      // The same txids at an odd offset of another buffer, as they arrive inside a stream frame.
      const frame = new Uint8Array(7 + txids.length);
      frame.set(txids, 7);
      for (let position = 0; position < count; position++) {
        assert.equal(index.get(frame, 7 + position * 32), position);
        assert.equal(index.get(txids.slice(position * 32, position * 32 + 32)), position);
      }
      const absent = new Uint8Array(randomBytes(32 * 200));
      const expected = mapOf(txids);
      for (let at = 0; at < absent.length; at += 32) {
        assert.equal(index.get(absent, at), expected.get(Buffer.from(absent.subarray(at, at + 32)).toString("hex")));
      }
    }
  });

  it("tells apart txids that share their first four bytes (the probe key)", () => {
    const txids = new Uint8Array(randomBytes(32 * 64));
    for (let position = 1; position < 64; position++) txids.copyWithin(position * 32, 0, 4);
    const index = new TxidPositions(txids);
    for (let position = 0; position < 64; position++) assert.equal(index.get(txids, position * 32), position);
    const stranger = txids.slice(0, 32);
    stranger[31]! ^= 0xff;
    assert.equal(index.get(stranger), undefined);
  });

  it("maps a repeated txid to its last position, as a Map would", () => {
    const txids = new Uint8Array(randomBytes(32 * 10));
    txids.copyWithin(7 * 32, 2 * 32, 3 * 32);
    const index = new TxidPositions(txids);
    const expected = mapOf(txids);
    for (let position = 0; position < 10; position++) {
      assert.equal(index.get(txids, position * 32), expected.get(Buffer.from(txids.subarray(position * 32, position * 32 + 32)).toString("hex")));
    }
    assert.equal(index.get(txids, 2 * 32), 7);
  });
});
