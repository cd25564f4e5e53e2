import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { verifyLeaderLottery } from "../../../src/epoch/election/lottery.js";
import { decodeStart } from "../../../src/epoch/election/messages.js";
import { viewDeltaMs } from "../../../src/epoch/election/election.js";
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

  it("a winner that starts late (after its Δ) is skipped, and its START is refused as a stale view", () => {
    for (const n of [4, 13]) {
      const label = `late/${n}`;
      const winner = ranking(makeValidators(n, label), 0)[0]!;
      const late = { kind: "late", afterMs: DELTA + DELTA / 2 } as const;
      // Perfect links, no skew: the late START lands in everyone's view-1 gossip phase.
      const exact = runElection({ n, seed: SEEDS[0]!, deltaMs: DELTA, label, behaviour: (i) => (i === winner ? late : { kind: "honest" }) });
      const next = ranking(exact.validators, 1, [winner])[0]!;
      assert.deepEqual(leaders(exact.nodes), Array(n).fill(next));
      for (const node of exact.nodes.values()) {
        assert.deepEqual(node.election.skipped, [winner]);
        assert.equal(node.failures.count("drp", "ELECTION_STALE_VIEW"), node.index === winner ? 0 : 1, `node ${node.index}`);
        assert.equal(node.failures.total, node.index === winner ? 0 : 1);
      }
      // The late winner's own election refuses a start out of its window.
      assert.throws(() => exact.nodes.get(winner)!.election.startAsLeader(), { code: "ELECTION_WRONG_PHASE" });
      for (const seed of SEEDS) {
        const run = runElection({ n, seed, deltaMs: DELTA, skewMs: SKEW, link: JITTERY, label, behaviour: (i) => (i === winner ? late : { kind: "honest" }) });
        assert.deepEqual(leaders(run.nodes), Array(n).fill(next), `seed ${seed}`);
        for (const node of run.nodes.values()) assert.deepEqual(node.election.skipped, [winner]);
      }
    }
  });

  it("a leader that resigns (signed RESIGN) is skipped at once by every node that elected it; view 1 elects the minimum of the others", () => {
    for (const seed of SEEDS) {
      const n = 7;
      const label = `resign/${seed}`;
      const winner = ranking(makeValidators(n, label), 0)[0]!;
      const resignedAt: number[] = [];
      const run = runElection({
        n, seed, deltaMs: DELTA, skewMs: SKEW, link: JITTERY, label,
        afterElected: (node, outcome) => {
          if (outcome.view === 0 && node.index === winner) {
            node.clock.setTimer(DELTA, () => {
              resignedAt.push(node.clock.now());
              node.election.resign();
            });
          }
        },
      });
      const next = ranking(run.validators, 1, [winner])[0]!;
      // Nobody abandons in this run: only the RESIGN can end view 0 anywhere.
      assert.deepEqual(leaders(run.nodes), Array(n).fill(next), `seed ${seed}`);
      assert.equal(resignedAt.length, 1);
      for (const node of run.nodes.values()) {
        assert.deepEqual(node.skips, [{ view: 0, validator: winner }]);
        assert.equal(node.election.outcome!.view, 1);
      }
      assertNoFailures(run.nodes);
    }
  });

  it("resign() is the elected leader's alone: ELECTION_WRONG_PHASE for any other node", () => {
    const n = 4;
    const label = "resign-wrong";
    const winner = ranking(makeValidators(n, label), 0)[0]!;
    const codes: string[] = [];
    runElection({
      n, seed: 1, deltaMs: DELTA, link: JITTERY, label,
      afterElected: (node) => {
        if (node.index === winner) return;
        try {
          node.election.resign();
        } catch (error) {
          codes.push((error as { code: string }).code);
        }
      },
    });
    assert.deepEqual(codes, Array(n - 1).fill("ELECTION_WRONG_PHASE"));
  });

  it("Δ doubles per view up to 16Δ", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((view) => viewDeltaMs(100, view)), [100, 200, 400, 800, 1600, 1600, 1600]);
  });

  it("two silent winners in a row: views 0 and 1 skipped, view 2 elects the minimum of the rest", () => {
    const n = 10;
    const label = "silent-twice";
    const validators = makeValidators(n, label);
    const first = ranking(validators, 0)[0]!;
    const second = ranking(validators, 1, [first])[0]!;
    const run = runElection({ n, seed: SEEDS[0]!, deltaMs: DELTA, skewMs: SKEW, link: JITTERY, label, behaviour: (i) => ({ kind: i === first || i === second ? "silent" : "honest" }) });
    const third = ranking(validators, 2, [first, second])[0]!;
    assert.deepEqual(leaders(run.nodes), Array(n).fill(third));
    for (const node of run.nodes.values()) {
      assert.equal(node.election.outcome!.view, 2);
      assert.deepEqual(node.skips, [{ view: 0, validator: first }, { view: 1, validator: second }]);
    }
    assertNoFailures(run.nodes);
  });

  it("every validator silent: each view skips its leader and the election fails after n views", () => {
    const n = 4;
    const run = runElection({ n, seed: SEEDS[0]!, deltaMs: DELTA, label: "all-silent", behaviour: () => ({ kind: "silent" }) });
    for (const node of run.nodes.values()) {
      assert.equal(node.election.phase, "failed");
      assert.equal(node.election.outcome, undefined);
      assert.equal(node.skips.length, n);
      assert.deepEqual(node.election.skipped, [0, 1, 2, 3]);
    }
    assertNoFailures(run.nodes);
  });

  it("determinism: the same seed gives the same trace and outcome, other seeds other traces", () => {
    const scenario = (seed: number | string) => {
      const label = "determinism";
      const winner = ranking(makeValidators(8, label), 0)[0]!;
      return runElection({ n: 8, seed, deltaMs: DELTA, skewMs: SKEW, link: { ...JITTERY, loss: 0, duplication: 0.1 }, label, behaviour: (i) => ({ kind: i === winner ? "silent" : "honest" }) });
    };
    const first = scenario(SEEDS[0]!);
    const again = scenario(SEEDS[0]!);
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(again.hash, first.hash);
    assert.equal(again.sim.eventCount, first.sim.eventCount);
    assert.deepEqual(leaders(again.nodes), leaders(first.nodes));
    assert.deepEqual(again.sim.network.stats(), first.sim.network.stats());
    assert.ok(first.sim.network.stats().duplicated > 0);
    const hashes = new Set([first.hash, ...[11, 12, "other"].map((seed) => scenario(seed).hash)]);
    assert.equal(hashes.size, 4);
  });
});
