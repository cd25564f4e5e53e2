import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { IosError } from "../../src/errors.js";
import type { HandlerFailures } from "../../src/log/handler-failures.js";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import type { SimErrorCode, SimFailureDetail } from "../../src/sim/errors.js";
import { EventQueue, type ScheduledEvent } from "../../src/sim/event-queue.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import type { Clock } from "../../src/runtime/interface.js";
import type { Channel } from "../../src/net/interface.js";
import { protocolOfType } from "../../src/net/message-types.js";
import { DATA, Pinger, Ponger, Recorder, peerId, word, testChannel } from "./protocols.js";

const A = peerId(1);
const B = peerId(2);

function hasCode(code: string) {
  return (error: unknown): boolean => error instanceof IosError && error.code === code;
}

interface Handles {
  channel: Channel;
  clock: Clock;
}

describe("event queue", () => {
  it("pops in (time, sequence) order for random pushes and pops", () => {
    const rng = SeededRng.fromSeed("event-queue");
    const queue = new EventQueue();
    const reference: ScheduledEvent[] = [];
    const popped: ScheduledEvent[] = [];
    const expected: ScheduledEvent[] = [];
    const byOrder = (x: ScheduledEvent, y: ScheduledEvent) => x.time - y.time || x.seq - y.seq;
    for (let seq = 0; seq < 5_000; seq++) {
      // Few distinct times, so ties are common and the sequence number decides.
      const event = { time: rng.nextU32() % 50, seq, fire: () => true };
      queue.push(event);
      reference.push(event);
      if (rng.nextU32() % 3 === 0) {
        reference.sort(byOrder);
        expected.push(reference.shift()!);
        popped.push(queue.pop()!);
      }
    }
    reference.sort(byOrder);
    expected.push(...reference);
    for (let event = queue.pop(); event !== undefined; event = queue.pop()) popped.push(event);
    assert.deepEqual(popped.map((e) => e.seq), expected.map((e) => e.seq));
    assert.equal(queue.size, 0);
    assert.equal(queue.peek(), undefined);
  });
});

describe("simulator", () => {
  it("virtual clocks: timers fire at their time, in order, and cancelled ones never", () => {
    const sim = new Simulator({ seed: 1 });
    const fired: [string, number][] = [];
    sim.addNode(A, ({ clock }) => {
      clock.setTimer(30, () => fired.push(["30", clock.now()]));
      clock.setTimer(10, () => fired.push(["10", clock.now()]));
      clock.setTimer(10, () => fired.push(["10 again", clock.now()]));
      const cancelled = clock.setTimer(20, () => fired.push(["cancelled", clock.now()]));
      clock.setTimer(0, () => {
        fired.push(["0", clock.now()]);
        clock.cancelTimer(cancelled);
      });
      return clock;
    });
    const result = sim.run();
    assert.deepEqual(fired, [
      ["0", 0],
      ["10", 10],
      ["10 again", 10],
      ["30", 30],
    ]);
    assert.deepEqual(result, { reason: "idle", events: 5, now: 30 });
    assert.equal(sim.pendingEvents, 0);
  });

  it("run stops at `until` (and moves time to it) and at `maxEvents`", () => {
    const sim = new Simulator({ seed: 1 });
    let ticks = 0;
    sim.addNode(A, ({ clock }) => {
      const tick = (): void => {
        ticks++;
        clock.setTimer(10, tick);
      };
      clock.setTimer(10, tick);
    });
    assert.deepEqual(sim.run({ until: 55 }), { reason: "until", events: 6, now: 55 });
    assert.equal(ticks, 5);
    assert.deepEqual(sim.run({ maxEvents: 3 }), { reason: "max-events", events: 3, now: 80 });
    assert.equal(ticks, 8);
    const idle = new Simulator({ seed: 1 });
    assert.deepEqual(idle.run({ until: 1_000 }), { reason: "idle", events: 0, now: 1_000 });
  });

  it("runUntil returns true once the predicate holds and false when the run ends first", () => {
    const sim = new Simulator({ seed: 1 });
    const pinger = sim.addNode(A, ({ transport, clock }) => new Pinger(testChannel(transport), clock, B, 5, 100));
    sim.addNode(B, ({ transport }) => new Ponger(testChannel(transport)));
    assert.equal(sim.runUntil(() => pinger.instance?.next === 2), true);
    assert.equal(pinger.instance!.next, 2);
    assert.equal(sim.runUntil(() => pinger.instance!.next === 99), false);
    assert.equal(pinger.instance!.done, true);
  });

  it("an invariant violation names the invariant, the seed and the event, and replays from the seed", () => {
    const build = () => {
      const sim = new Simulator({ seed: "replay-me", defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 9 } } });
      const recorder = sim.addNode(B, ({ transport, clock }) => new Recorder(testChannel(transport), clock));
      const sender = sim.addNode<Handles>(A, ({ transport, clock }) => {
        const channel = testChannel(transport);
        for (let i = 0; i < 20; i++) channel.send(B, DATA, word(i));
        return { channel, clock };
      });
      return { sim, recorder, sender };
    };
    const { sim, recorder } = build();
    sim.addInvariant("fewer than 12 deliveries", () => (recorder.instance?.received.length ?? 0) < 12);
    let failure: IosError<SimErrorCode, SimFailureDetail> | undefined;
    assert.throws(
      () => sim.run(),
      (error: unknown) => {
        failure = error as IosError<SimErrorCode, SimFailureDetail>;
        return hasCode("SIM_INVARIANT_VIOLATED")(error);
      },
    );
    assert.match(failure!.message, /fewer than 12 deliveries/);
    assert.match(failure!.message, /"replay-me"/);
    const event = failure!.detail!.event;
    assert.equal(failure!.detail!.seed, "replay-me");
    assert.equal(event, sim.eventCount);
    // Replay: the same seed reaches the same state one event before the failure.
    const replay = build();
    assert.ok(replay.sim.runUntil(() => replay.sim.eventCount === event - 1));
    assert.equal(replay.recorder.instance!.received.length, 11);
    assert.deepEqual(
      replay.recorder.instance!.received.map((r) => r.value),
      recorder.instance!.received.slice(0, 11).map((r) => r.value),
    );
  });

  it("invariants run every N events when asked, and a throwing invariant is a violation", () => {
    const sim = new Simulator({ seed: 1 });
    let checks = 0;
    sim.addNode(A, ({ clock }) => {
      for (let i = 1; i <= 9; i++) clock.setTimer(i, () => undefined);
    });
    sim.addInvariant("counted", () => {
      checks++;
    }, { every: 3 });
    sim.run();
    assert.equal(sim.eventCount, 10);
    assert.equal(checks, 3);
    const throwing = new Simulator({ seed: 2 });
    throwing.addNode(A, () => undefined);
    throwing.addInvariant("explodes", () => {
      throw new Error("ledger diverged");
    });
    assert.throws(() => throwing.run(), (error: unknown) => {
      assert.ok(hasCode("SIM_INVARIANT_VIOLATED")(error));
      assert.match((error as Error).message, /ledger diverged/);
      assert.equal(((error as Error).cause as Error).message, "ledger diverged");
      return true;
    });
  });

  it("a throwing handler is logged with its code and counted by its incarnation, traced, and delivery goes on", () => {
    const run = (seed: number) => {
      const sim = new Simulator({ seed });
      const received: number[] = [];
      let failures: HandlerFailures | undefined;
      sim.addNode(B, (context) => {
        failures = context.failures;
        testChannel(context.transport).on(DATA, (_from, _type, payload) => {
          const value = payload[0]!;
          if (value === 2) throw new RangeError("bad vote");
          if (value === 3) throw new IosError("VOTE_FORGED", "signature does not verify");
          received.push(value);
        });
      });
      sim.addNode(A, ({ transport }) => {
        const channel = testChannel(transport);
        for (const value of [1, 2, 3, 3, 4]) channel.send(B, DATA, word(value));
      });
      assert.equal(sim.run().reason, "idle");
      return { sim, received, failures: failures!, hash: sim.traceHash() };
    };
    const { sim, received, failures, hash } = run(77);
    assert.deepEqual(received, [1, 4], "messages after the failures are still delivered");
    const subsystem = protocolOfType(DATA) ?? "unassigned";
    assert.equal(failures.count(subsystem, "INTERNAL"), 1);
    assert.equal(failures.count(subsystem, "VOTE_FORGED"), 2);
    const [bug] = sim.logs.entries({ code: "INTERNAL" });
    assert.equal(bug!["node"], B);
    assert.equal(bug!["incarnation"], 0);
    assert.equal(bug!.time, sim.now(), "stamped with virtual time");
    assert.match(String((bug!["err"] as { stack: string }).stack), /RangeError: bad vote/);
    assert.equal(sim.logs.entries({ code: "VOTE_FORGED" }).length, 2);
    assert.equal(run(77).hash, hash, "the failures are part of a reproducible trace");
  });

  it("run cannot be re-entered from inside an event", () => {
    const sim = new Simulator({ seed: 1 });
    sim.schedule(1, "nested", () => sim.run());
    assert.throws(() => sim.run(), (error: unknown) => {
      assert.ok(hasCode("SIM_EVENT_FAILED")(error));
      assert.ok(hasCode("SIM_REENTRANT_RUN")((error as Error).cause));
      return true;
    });
  });

  it("node lifecycle: pending, up, crashed; illegal transitions are refused", () => {
    const sim = new Simulator({ seed: 1 });
    const node = sim.addNode(A, ({ incarnation }) => ({ incarnation }));
    assert.equal(node.state, "pending");
    assert.throws(() => sim.crash(A), hasCode("SIM_NODE_STATE"));
    sim.run();
    assert.equal(node.state, "up");
    assert.deepEqual(node.instance, { incarnation: 0 });
    assert.throws(() => sim.restart(A), hasCode("SIM_NODE_STATE"));
    sim.crash(A);
    assert.throws(() => sim.crash(A), hasCode("SIM_NODE_STATE"));
    const restarted = sim.restart(A, ({ incarnation }) => ({ incarnation, replaced: true }));
    assert.deepEqual(restarted.instance, { incarnation: 1, replaced: true });
    assert.equal(sim.node(A), node);
    assert.deepEqual(sim.nodeIds(), [A]);
    assert.throws(() => sim.addNode(A, () => undefined), hasCode("SIM_DUPLICATE_NODE"));
    assert.throws(() => sim.crash(B), hasCode("SIM_UNKNOWN_NODE"));
    assert.throws(() => sim.node(B), hasCode("SIM_UNKNOWN_NODE"));
  });

  it("each node incarnation gets its own rng stream, reproducible from the seed", () => {
    const draws = (seed: number) => {
      const sim = new Simulator({ seed });
      const seen: Record<string, number[]> = {};
      const factory = ({ id, incarnation, rng }: { id: string; incarnation: number; rng: { nextU32(): number } }) => {
        seen[`${id.slice(0, 2)}/${incarnation}`] = [rng.nextU32(), rng.nextU32()];
      };
      sim.addNode(A, factory);
      sim.addNode(B, factory);
      sim.run();
      sim.crash(A);
      sim.restart(A);
      return { seen, scenario: sim.rng("workload").nextU32() };
    };
    const first = draws(9);
    assert.deepEqual(draws(9), first);
    const streams = Object.values(first.seen).map((pair) => pair.join());
    assert.equal(new Set(streams).size, 3);
    assert.notDeepEqual(draws(10), first);
  });

  it("bad options and limits are refused with SIM_BAD_CONFIG or RNG_BAD_SEED", () => {
    assert.throws(() => new Simulator({ seed: -1 }), hasCode("RNG_BAD_SEED"));
    assert.throws(() => new Simulator({ seed: 1.5 }), hasCode("RNG_BAD_SEED"));
    assert.throws(() => new Simulator({ seed: "" }), hasCode("RNG_BAD_SEED"));
    assert.throws(() => new Simulator({ seed: 1, defaultLink: { loss: 2 } }), hasCode("SIM_BAD_CONFIG"));
    const sim = new Simulator({ seed: 1 });
    sim.schedule(5, "later", () => undefined);
    sim.run();
    assert.throws(() => sim.run({ until: 1 }), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.run({ until: Number.NaN }), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.run({ maxEvents: -1 }), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.schedule(-1, "past", () => undefined), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.addInvariant("x", () => true, { every: 0 }), hasCode("SIM_BAD_CONFIG"));
    assert.throws(() => sim.addNode("", () => undefined), hasCode("SIM_BAD_CONFIG"));
    sim.addNode(A, ({ clock }) => clock);
    sim.run();
    const clock = sim.node<Clock>(A).instance!;
    assert.throws(() => clock.setTimer(-5, () => undefined), hasCode("CLOCK_BAD_DELAY"));
    assert.throws(() => clock.setTimer(Number.POSITIVE_INFINITY, () => undefined), hasCode("CLOCK_BAD_DELAY"));
  });

  describe("simSeed", () => {
    const saved = process.env["IOS_SIM_SEED"];
    afterEach(() => {
      if (saved === undefined) delete process.env["IOS_SIM_SEED"];
      else process.env["IOS_SIM_SEED"] = saved;
    });

    it("takes IOS_SIM_SEED when set (numbers as numbers) and the fallback otherwise", () => {
      delete process.env["IOS_SIM_SEED"];
      assert.equal(simSeed(3), 3);
      process.env["IOS_SIM_SEED"] = "12345";
      assert.equal(simSeed(3), 12345);
      process.env["IOS_SIM_SEED"] = "nightly-7";
      assert.equal(simSeed(3), "nightly-7");
    });
  });
});
