import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { IosError } from "../../src/errors.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

describe("SystemClock", () => {
  it("fires timers in order of their delay and not before the clock has reached it", async () => {
    const clock = new SystemClock();
    const fired: string[] = [];
    const start = clock.now();
    let firstAt = -1;
    await new Promise<void>((resolve) => {
      clock.setTimer(25, () => {
        fired.push("25");
        resolve();
      });
      clock.setTimer(5, () => {
        fired.push("5");
        firstAt = clock.now();
      });
      clock.setTimer(0, () => fired.push("0"));
    });
    assert.deepEqual(fired, ["0", "5", "25"]);
    assert.ok(firstAt > start);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("a cancelled timer never fires; cancelling twice or a foreign handle is harmless", async () => {
    const clock = new SystemClock();
    let fired = false;
    const handle = clock.setTimer(5, () => {
      fired = true;
    });
    assert.equal(clock.pendingTimers(), 1);
    clock.cancelTimer(handle);
    clock.cancelTimer(handle);
    clock.cancelTimer({ id: 12345 });
    assert.equal(clock.pendingTimers(), 0);
    await sleep(30);
    assert.equal(fired, false);
  });

  it("a delay beyond Node's 2^31 - 1 ms limit waits instead of firing at once", async () => {
    const clock = new SystemClock({ unref: true });
    let fired = false;
    const handle = clock.setTimer(2 ** 32, () => {
      fired = true;
    });
    await sleep(20);
    assert.equal(fired, false);
    assert.equal(clock.pendingTimers(), 1);
    clock.cancelTimer(handle);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("cancelAll drops every pending timer", async () => {
    const clock = new SystemClock();
    let fired = 0;
    for (let i = 0; i < 5; i++) clock.setTimer(i, () => fired++);
    clock.cancelAll();
    assert.equal(clock.pendingTimers(), 0);
    await sleep(20);
    assert.equal(fired, 0);
  });

  it("now() starts near zero and never goes backwards", () => {
    const clock = new SystemClock();
    let previous = clock.now();
    assert.ok(previous >= 0);
    for (let i = 0; i < 10_000; i++) {
      const current = clock.now();
      assert.ok(current >= previous);
      previous = current;
    }
  });

  it("refuses negative, infinite and non-numeric delays and non-function callbacks", () => {
    const clock = new SystemClock();
    for (const delay of [-1, Number.NaN, Number.POSITIVE_INFINITY, "5" as unknown as number]) {
      assert.throws(() => clock.setTimer(delay, () => undefined), hasCode("CLOCK_BAD_DELAY"), String(delay));
    }
    assert.throws(() => clock.setTimer(1, "no" as unknown as () => void), hasCode("CLOCK_BAD_CALLBACK"));
    assert.equal(clock.pendingTimers(), 0);
  });
});

describe("CryptoRng", () => {
  it("nextU32 covers [0, 2^32) across pool refills, nextFloat stays in [0, 1)", () => {
    const rng = new CryptoRng();
    let high = 0;
    let low = 0;
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const value = rng.nextU32();
      assert.ok(Number.isInteger(value) && value >= 0 && value < 2 ** 32);
      if (value >= 2 ** 31) high++;
      else low++;
      seen.add(value);
      const f = rng.nextFloat();
      assert.ok(f >= 0 && f < 1);
    }
    // Both halves hit ~ Binomial(10000, 1/2): sd 50, bound 6 sd.
    assert.ok(Math.abs(high - low) < 2 * 6 * 50);
    assert.ok(seen.size > 9_990);
  });

  it("bytes returns fresh random bytes of the requested length", () => {
    const rng = new CryptoRng();
    assert.equal(rng.bytes(0).length, 0);
    const a = rng.bytes(33);
    const b = rng.bytes(33);
    assert.equal(a.length, 33);
    assert.notDeepEqual(a, b);
    for (const length of [-1, 2.5, Number.NaN, 2 ** 25]) {
      assert.throws(() => rng.bytes(length), hasCode("RNG_BAD_LENGTH"), String(length));
    }
  });

  it("two generators do not produce the same stream", () => {
    const a = new CryptoRng();
    const b = new CryptoRng();
    assert.notDeepEqual(
      Array.from({ length: 8 }, () => a.nextU32()),
      Array.from({ length: 8 }, () => b.nextU32()),
    );
  });
});
