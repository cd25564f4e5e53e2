/**
 * A scenario exercising every fault of the simulated network, shared by the determinism tests
 * (in this process and in a child process).
 */
import { Simulator } from "../../src/sim/simulator.js";
import type { Seed } from "../../src/runtime/seeded-rng.js";
import { Gossip, Pinger, Ponger, peerId, testChannel } from "./protocols.js";

const NODES = Array.from({ length: 8 }, (_, i) => peerId(i + 1));

/**
 * Gossip among 8 nodes over jittery, lossy, duplicating links with explicit reordering, a
 * partition that heals, a crash and a restart, plus a ping-pong pair: every random choice of
 * the network, of the protocol and of the fault schedule comes from the seed.
 */
export function faultyGossipScenario(seed: Seed, log?: (line: string) => void) {
  const sim = new Simulator({
    seed,
    defaultLink: {
      latency: { kind: "lognormal", medianMs: 20, sigma: 0.5, floorMs: 2 },
      loss: 0.05,
      duplication: 0.05,
      reorder: { probability: 0.1, maxExtraMs: 30 },
    },
    ...(log === undefined ? {} : { log }),
  });
  const gossips = new Map<string, Gossip>();
  for (const id of NODES) {
    sim.addNode(id, ({ transport, clock, rng }) => {
      const gossip = new Gossip(testChannel(transport), clock, rng, NODES, 25, 10);
      gossips.set(id, gossip);
      return gossip;
    });
  }
  sim.addNode(peerId(0xa0), ({ transport, clock }) => new Pinger(testChannel(transport), clock, peerId(0xb0), 20, 60));
  sim.addNode(peerId(0xb0), ({ transport }) => new Ponger(testChannel(transport)));
  const faults = sim.rng("faults");
  const victim = NODES[1 + (faults.nextU32() % (NODES.length - 1))]!;
  sim.schedule(0, "rumour", () => gossips.get(NODES[0]!)!.learn(7));
  sim.schedule(100, "partition", () => sim.network.partition([NODES.slice(0, 4), NODES.slice(4)]));
  sim.schedule(300, "heal", () => sim.network.heal());
  sim.schedule(150 + (faults.nextU32() % 100), "crash", () => sim.crash(victim));
  sim.schedule(400, "restart", () => sim.restart(victim));
  const result = sim.run({ until: 2_000 });
  return { sim, result, hash: sim.traceHash(), stats: sim.network.stats(), gossips };
}
