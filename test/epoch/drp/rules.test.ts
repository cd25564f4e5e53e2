/**
 * The client's draw of T'_l (src/epoch/drp/rules.ts chooseVerified, white paper §5.2 Algorithm 2
 * step 3c): only candidates whose deal verifies, `count` of them when that many do; a uniform
 * subset of those (every pair of 5 passing candidates equally often over 12,000 seeded draws);
 * the same picks from the same Rng state; and, when all pass, exactly `count` verifications.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chooseVerified } from "../../../src/epoch/drp/rules.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";

const CANDIDATES = [0, 1, 2, 3, 4, 5];
const FAILING = 4;
const passes = (dealer: number): boolean => dealer !== FAILING;

describe("DRP choice of T'", () => {
  it("picks only verified candidates, count of them, or all that verify when fewer do", () => {
    const rng = SeededRng.fromSeed("choice/only-verified");
    for (let draw = 0; draw < 200; draw++) {
      const picked = chooseVerified(CANDIDATES, 3, rng, passes);
      assert.equal(picked.length, 3);
      assert.ok(!picked.includes(FAILING));
      assert.deepEqual(picked, [...new Set(picked)].sort((a, b) => a - b), "distinct and ascending");
    }
    assert.deepEqual(chooseVerified(CANDIDATES, 3, rng, (dealer) => dealer < 2), [0, 1]);
    assert.deepEqual(chooseVerified([], 2, rng, passes), []);
  });

  it("is a uniform subset of the verified candidates", () => {
    const rng = SeededRng.fromSeed("choice/uniform");
    const draws = 12_000;
    const pairs = new Map<string, number>();
    for (let draw = 0; draw < draws; draw++) {
      const key = chooseVerified(CANDIDATES, 2, rng, passes).join(",");
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
    }
    // 5 verified candidates: C(5, 2) = 10 pairs, each with probability 1/10 (σ ≈ 0.0027 here).
    assert.equal(pairs.size, 10, `pairs seen: ${[...pairs.keys()]}`);
    for (const [pair, count] of pairs) assert.ok(Math.abs(count / draws - 0.1) < 0.015, `pair ${pair}: ${count} of ${draws}`);
  });

  it("repeats from the same Rng state and verifies only count deals when all verify", () => {
    const first = Array.from({ length: 50 }, (_, k) => chooseVerified(CANDIDATES, 3, SeededRng.fromSeed(`choice/${k}`), passes));
    const again = Array.from({ length: 50 }, (_, k) => chooseVerified(CANDIDATES, 3, SeededRng.fromSeed(`choice/${k}`), passes));
    assert.deepEqual(again, first);
    assert.ok(new Set(first.map((picked) => picked.join(","))).size > 1, "different seeds, different picks");
    let verified = 0;
    chooseVerified(CANDIDATES, 3, SeededRng.fromSeed("choice/count"), () => {
      verified++;
      return true;
    });
    assert.equal(verified, 3);
  });
});
