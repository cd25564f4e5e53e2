// Simulator pause and resume (SIGSTOP, SIGCONT): a paused node's due timers, the messages reaching
// it and the messages it sends all wait, in order, and move at its resume; nothing is dropped for
// the pause itself. A crash of a paused node drops what waited.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Simulator } from "../../src/sim/simulator.js";
import { DATA, peerId, recordingNode, word } from "./protocols.js";

const A = peerId(1);
const B = peerId(2);

function pair() {
  const sim = new Simulator({ seed: "pause", defaultLink: { latency: { kind: "constant", ms: 5 } } });
  const a = sim.addNode(A, ({ transport, clock }) => recordingNode(transport, clock));
  const b = sim.addNode(B, ({ transport, clock }) => recordingNode(transport, clock));
  sim.run({ until: 1 });
  return { sim, a: a.instance!, b: b.instance! };
}

describe("simulator: pausing a node", () => {
  it("holds what reaches it, its due timers and what it sends until its resume, then moves them in order", () => {
    const { sim, a, b } = pair();
    const fired: number[] = [];
    b.clock.setTimer(50, () => fired.push(sim.now()));
    sim.schedule(10, "pause B", () => sim.pause(B));
    for (let i = 0; i < 3; i++) sim.schedule(20 + i, `A sends ${i}`, () => a.channel.send(B, DATA, word(i)));
    sim.schedule(30, "B sends while paused", () => b.channel.send(A, DATA, word(7)));
    sim.schedule(200, "resume B", () => sim.resume(B));
    const seen = (node: typeof a) => node.recorder.received.map((r) => [r.value, r.at]);
    // pair() ran to t = 1: the schedule above is 1 ms later than its delays.
    sim.run({ until: 200 });
    assert.deepEqual(seen(b), [], "nothing delivered to a paused node");
    assert.deepEqual(seen(a), [], "nothing leaves a paused node");
    assert.deepEqual(fired, [], "a paused node's due timer waits");
    assert.ok(sim.network.isPaused(B));
    sim.run({ until: 300 });
    assert.deepEqual(fired, [201], "the stale timer fires at the resume");
    assert.deepEqual(seen(b), [[0, 201], [1, 201], [2, 201]], "queued messages arrive at the resume, in order");
    assert.deepEqual(seen(a), [[7, 206]], "what it sent leaves at the resume, over the link");
    assert.equal(sim.network.isPaused(B), false);
    assert.equal(sim.network.stats().dropped["peer-down"], 0);
  });

  it("refuses to pause a node that is not running or to resume one that is not paused; a crash drops what waited", () => {
    const { sim, a, b } = pair();
    assert.throws(() => sim.resume(B), { code: "SIM_NODE_STATE" });
    sim.pause(B);
    assert.throws(() => sim.pause(B), { code: "SIM_NODE_STATE" });
    a.channel.send(B, DATA, word(1));
    sim.run({ until: 20 });
    sim.crash(B);
    assert.throws(() => sim.pause(B), { code: "SIM_NODE_STATE" });
    assert.throws(() => sim.resume(B), { code: "SIM_NODE_STATE" });
    sim.run({ until: 100 });
    assert.deepEqual(b.recorder.received, []);
  });
});
