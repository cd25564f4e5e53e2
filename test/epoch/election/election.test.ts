import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { verifyLeaderLottery } from "../../../src/epoch/election/lottery.js";
import { decodeStart } from "../../../src/epoch/election/messages.js";
import { simSeed } from "../../../src/sim/simulator.js";
import { betaOf, leaders, makeValidators, ranking, runElection, type ElectionNode } from "./harness.js";

/** Δ, and the bound of the honest runs: latency ≤ δ, begin skew ≤ σ, σ + δ < Δ. */
const DELTA = 100;
const DELTA_NET = 40;
const SKEW = 40;
const JITTERY = { latency: { kind: "uniform", minMs: 1, maxMs: DELTA_NET } } as const;
const SEEDS = [simSeed(1), 2, 3, "election"];

function assertNoFailures(nodes: Map<number, ElectionNode>): void {
  for (const node of nodes.values()) assert.equal(node.failures.total, 0, `node ${node.index} counted handler failures`);
}

describe("leader election in the simulator (Algorithm 1)", () => {
  for (const n of [4, 7, 10, 16]) {
    it(`honest lotteries, n = ${n}: every validator agrees on the argmin of view 0, over several seeds`, () => {
      for (const seed of SEEDS) {
        const run = runElection({ n, seed, deltaMs: DELTA, skewMs: SKEW, link: JITTERY, label: `honest/${n}/${seed}` });
        const expected = ranking(run.validators, 0)[0]!;
        assert.deepEqual(leaders(run.nodes), Array(n).fill(expected), `seed ${seed}`);
        for (const node of run.nodes.values()) {
          const outcome = node.election.outcome!;
          assert.equal(outcome.view, 0);
          assert.equal(outcome.epoch, 3);
          assert.deepEqual(outcome.beta, betaOf(run.validators, expected, 0));
          assert.deepEqual(verifyLeaderLottery(run.validators.confHash, run.validators.keys, outcome), outcome.beta);
          const start = decodeStart(outcome.start);
          assert.equal(start.validator, expected);
          assert.deepEqual(start.proof, outcome.proof);
          assert.deepEqual(node.skips, []);
          assert.deepEqual(node.leading, node.index === expected ? [0] : []);
        }
        assertNoFailures(run.nodes);
      }
    });
  }

  for (const n of [4, 9, 16]) {
    it(`a silent winner, n = ${n}: skipped by all, view 1 elects the minimum of the others`, () => {
      for (const seed of SEEDS) {
        const label = `silent/${n}/${seed}`;
        const winner = ranking(makeValidators(n, label), 0)[0]!;
        const run = runElection({ n, seed, deltaMs: DELTA, skewMs: SKEW, link: JITTERY, label, behaviour: (i) => ({ kind: i === winner ? "silent" : "honest" }) });
        const next = ranking(run.validators, 1, [winner])[0]!;
        assert.deepEqual(leaders(run.nodes), Array(n).fill(next), `seed ${seed}`);
        for (const node of run.nodes.values()) {
          assert.equal(node.election.outcome!.view, 1);
          assert.deepEqual(node.skips, [{ view: 0, validator: winner }]);
          assert.deepEqual(node.election.skipped, [winner]);
        }
        assert.deepEqual(run.nodes.get(winner)!.leading, [0]);
        assertNoFailures(run.nodes);
      }
    });
  }
});
