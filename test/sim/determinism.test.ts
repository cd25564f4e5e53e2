import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import type { Seed } from "../../src/runtime/seeded-rng.js";
import { DATA, Pinger, Ponger, peerId, testChannel } from "./protocols.js";
import { faultyGossipScenario as scenario } from "./scenario.js";

describe("simulator determinism", () => {
  const seed = simSeed(20261124);

  it("the same seed gives the same trace hash, stats and end state", () => {
    const first = scenario(seed);
    const second = scenario(seed);
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(second.hash, first.hash);
    assert.deepEqual(second.stats, first.stats);
    assert.equal(second.sim.eventCount, first.sim.eventCount);
    // The scenario really exercised the network and its faults.
    assert.ok(first.stats.delivered > 100);
    assert.ok(first.stats.dropped.loss > 0);
    assert.ok(first.stats.dropped.partitioned > 0);
    assert.ok(first.stats.duplicated > 0);
    // Gossip converged after the heal and restart.
    for (const gossip of first.gossips.values()) assert.ok(gossip.known.has(7));
  });

  it("another process running the same seed gets the same trace hash", () => {
    const module = new URL("./scenario.js", import.meta.url).href;
    const child = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { faultyGossipScenario } = await import(${JSON.stringify(module)});` +
          `console.log(faultyGossipScenario(${JSON.stringify(seed)}).hash);`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), scenario(seed).hash);
  });

  it("the event log of two runs with one seed is identical line by line", () => {
    const lines: [string[], string[]] = [[], []];
    scenario(seed, (line) => lines[0].push(line));
    scenario(seed, (line) => lines[1].push(line));
    assert.ok(lines[0].length > 100);
    assert.deepEqual(lines[1], lines[0]);
  });

  it("different seeds give different traces", () => {
    const hashes = new Set([1, 2, 3, "a string seed"].map((s) => scenario(s).hash));
    assert.equal(hashes.size, 4);
  });

  it("the trace hash is a running hash: it changes as events happen and is stable between them", () => {
    const sim = new Simulator({ seed });
    sim.addNode(peerId(1), ({ transport, clock }) => new Pinger(testChannel(transport), clock, peerId(2), 3, 50));
    sim.addNode(peerId(2), ({ transport }) => new Ponger(testChannel(transport)));
    const empty = sim.traceHash();
    assert.equal(sim.traceHash(), empty);
    sim.run({ maxEvents: 2 });
    const afterTwo = sim.traceHash();
    assert.notEqual(afterTwo, empty);
    assert.equal(sim.traceHash(), afterTwo);
    sim.run();
    assert.notEqual(sim.traceHash(), afterTwo);
  });

  it("the trace covers payload bytes, large payloads included", () => {
    const run = (lastByte: number, size: number) => {
      const sim = new Simulator({ seed });
      sim.addNode(peerId(2), ({ transport }) => testChannel(transport).on(DATA, () => undefined));
      sim.addNode(peerId(1), ({ transport }) => {
        const payload = new Uint8Array(size);
        payload[size - 1] = lastByte;
        testChannel(transport).send(peerId(2), DATA, payload);
      });
      sim.run();
      assert.equal(sim.network.stats().delivered, 1);
      return sim.traceHash();
    };
    assert.equal(run(1, 100), run(1, 100));
    assert.notEqual(run(1, 100), run(2, 100));
    assert.equal(run(1, 200_000), run(1, 200_000));
    assert.notEqual(run(1, 200_000), run(2, 200_000));
  });

  it("a scenario that draws no randomness has one trace under every seed", () => {
    const run = (s: Seed) => {
      const sim = new Simulator({ seed: s });
      sim.addNode(peerId(1), ({ transport, clock }) => new Pinger(testChannel(transport), clock, peerId(2), 10, 50));
      sim.addNode(peerId(2), ({ transport }) => new Ponger(testChannel(transport)));
      sim.run();
      return sim.traceHash();
    };
    assert.equal(run(1), run(999));
  });
});
