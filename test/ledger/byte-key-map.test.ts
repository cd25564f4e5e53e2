import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteKeyMap, bucketOf } from "../../src/ledger/byte-key-map.js";
import { TestRng, hex } from "./helpers.js";

describe("byte-key map", () => {
  const rng = new TestRng(0xb17e);
  /** 36-byte outpoint-like keys sharing their first and last four bytes: one bucket for all of them. */
  const colliding = (count: number): Uint8Array[] => {
    const head = rng.bytes(4);
    const tail = rng.bytes(4);
    return Array.from({ length: count }, () => {
      const key = rng.bytes(36);
      key.set(head, 0);
      key.set(tail, 32);
      return key;
    });
  };

  it("answers every key with its own value, also when keys share a bucket, as a Map of hex strings does", () => {
    const keys = [...colliding(12), ...colliding(12), ...Array.from({ length: 40 }, () => rng.bytes(rng.below(2) === 0 ? 32 : 36))];
    assert.equal(new Set(keys.slice(0, 12).map(bucketOf)).size, 1, "the crafted keys do share one bucket");
    const map = new ByteKeyMap<number>();
    const model = new Map<string, number>();
    for (let step = 0; step < 4000; step++) {
      // A fresh copy of the key's bytes each time: lookups go by content, never by identity.
      const key = Uint8Array.from(keys[rng.below(keys.length)]!);
      const op = rng.below(5);
      if (op === 0 || op === 1) {
        map.set(key, step);
        model.set(hex(key), step);
      } else if (op === 2) {
        assert.equal(map.delete(key), model.delete(hex(key)), `step ${step}`);
      } else {
        assert.equal(map.get(key), model.get(hex(key)), `step ${step}`);
        assert.equal(map.has(key), model.has(hex(key)), `step ${step}`);
      }
      assert.equal(map.size, model.size, `step ${step}`);
    }
    for (const key of keys) assert.equal(map.get(key), model.get(hex(key)));
    const visited = new Map<string, number>();
    map.forEach((value, key) => {
      assert.equal(visited.has(hex(key)), false, "each entry is visited once");
      visited.set(hex(key), value);
    });
    assert.deepEqual([...visited].sort(), [...model].sort(), "forEach visits exactly the entries, chained ones included");
  });

  it("deleteIf removes a key only while it maps to that very value", () => {
    const [a, b] = colliding(2) as [Uint8Array, Uint8Array];
    const first = { holder: 1 };
    const second = { holder: 2 };
    const map = new ByteKeyMap<{ holder: number }>();
    map.set(a, first);
    map.set(b, first);
    map.set(a, second);
    assert.equal(map.deleteIf(a, first), false, "a later holder of the key is kept");
    assert.equal(map.get(a), second);
    assert.equal(map.deleteIf(b, second), false);
    assert.equal(map.deleteIf(b, first), true);
    assert.equal(map.has(b), false);
    assert.equal(map.get(a), second, "its bucket neighbour is untouched");
    assert.equal(map.deleteIf(a, second), true);
    assert.equal(map.size, 0);
    assert.equal(map.deleteIf(a, second), false);
  });
});
