import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { decodePoint } from "../../../src/crypto/schnorr.js";
import { vrfProve, vrfVerify } from "../../../src/crypto/vrf.js";
import { lotteryInput } from "../../../src/epoch/election/lottery.js";
import { ELECTION_MESSAGES, decodeLottery, electionInstance, encodeLottery, signResign, signStart } from "../../../src/epoch/election/messages.js";
import type { ElectionErrorCode } from "../../../src/epoch/election/interface.js";
import { toHex } from "../../../src/hex.js";
import { keyPairFromSecret } from "../../../src/ledger/keys.js";
import type { Channel } from "../../../src/net/interface.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { simSeed } from "../../../src/sim/simulator.js";
import { EPOCH, leaders, makeValidators, ranking, runElection, type Validators } from "./harness.js";

const DELTA = 100;
const SEEDS = [simSeed(7), 8, "byzantine"];

function proofOf(validators: Validators, i: number, view: number): Uint8Array {
  return vrfProve(validators.secrets[i]!, lotteryInput(validators.confHash, view));
}

function lottery(validators: Validators, i: number, view: number, epoch = EPOCH): Uint8Array {
  return encodeLottery({ epoch, view, validator: i, proof: proofOf(validators, i, view) });
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => [...part]));
}

/**
 * A second valid ECVRF proof of the same lottery, made with another nonce k (RFC 9381 §5.1 with
 * k chosen instead of derived): what a byzantine prover can vary. Written here from the RFC, not
 * through src/crypto/vrf.ts, which always derives k.
 */
function proofWithNonce(secretKey: Uint8Array, alpha: Uint8Array, k: bigint): Uint8Array {
  const { scalar: x, pointBytes: Y } = ed25519.utils.getExtendedPublicKey(secretKey);
  let H: ReturnType<typeof ed25519.Point.fromBytes> | undefined;
  for (let ctr = 0; H === undefined; ctr++) {
    const candidate = decodePoint(sha512(concat([3, 1], Y, alpha, [ctr], [0])).subarray(0, 32))?.clearCofactor();
    if (candidate !== undefined && !candidate.is0()) H = candidate;
  }
  const Fn = ed25519.Point.Fn;
  const gamma = H.multiply(x).toBytes();
  const digest = sha512(concat([3, 2], Y, H.toBytes(), gamma, ed25519.Point.BASE.multiply(k).toBytes(), H.multiply(k).toBytes(), [0]));
  const c = bytesToNumberLE(digest.subarray(0, 16));
  return concat(gamma, Fn.toBytes(c).subarray(0, 16), Fn.toBytes(Fn.add(k, Fn.mul(c, x))));
}

describe("leader election against byzantine validators", () => {
  it("forged, misattributed, wrong-epoch, out-of-view, replayed, skipped and malformed messages are refused with their codes", () => {
    const n = 7;
    const label = "refusals";
    const validators = makeValidators(n, label);
    const silent = ranking(validators, 0)[0]!;
    const next = ranking(validators, 1, [silent])[0]!;
    const byzantine = ranking(validators, 1, [silent]).at(-1)!;
    const outsiderSecret = SeededRng.fromSeed("outsider").bytes(32);
    let outsider: Channel | undefined;
    const run = runElection({
      n,
      seed: SEEDS[0]!,
      deltaMs: DELTA,
      label,
      behaviour: (i) => ({ kind: i === silent ? "silent" : "honest" }),
      setup: (sim, nodes) => {
        sim.addNode(toHex(keyPairFromSecret(outsiderSecret).publicKey), ({ transport }) => (outsider = transport.open(electionInstance(EPOCH))));
        const send = (type: number, payload: Uint8Array) => nodes.get(byzantine)!.channel.broadcast(validators.peers, type, payload);
        const own = proofOf(validators, byzantine, 0);
        sim.schedule(10, "view-0 forgeries", () => {
          send(ELECTION_MESSAGES.LOTTERY, lottery(validators, byzantine, 0).subarray(1));
          send(ELECTION_MESSAGES.LOTTERY, lottery(validators, byzantine, 0, EPOCH + 1));
          send(ELECTION_MESSAGES.LOTTERY, lottery(validators, byzantine, 2));
          send(ELECTION_MESSAGES.LOTTERY, encodeLottery({ epoch: EPOCH, view: 0, validator: n, proof: own }));
          send(ELECTION_MESSAGES.LOTTERY, encodeLottery({ epoch: EPOCH, view: 0, validator: byzantine, proof: SeededRng.fromSeed("forged").bytes(80) }));
          send(ELECTION_MESSAGES.LOTTERY, encodeLottery({ epoch: EPOCH, view: 0, validator: next, proof: own }));
          send(ELECTION_MESSAGES.START, signStart(validators.secrets[byzantine]!, validators.confHash, { epoch: EPOCH, view: 0, validator: silent, proof: proofOf(validators, silent, 0) }));
          outsider!.broadcast(validators.peers, ELECTION_MESSAGES.LOTTERY, lottery(validators, byzantine, 0));
        });
        sim.schedule(150, "a START from a validator not locked in", () =>
          send(ELECTION_MESSAGES.START, signStart(validators.secrets[byzantine]!, validators.confHash, { epoch: EPOCH, view: 0, validator: byzantine, proof: own })),
        );
        sim.schedule(250, "view-1 replays", () => {
          send(ELECTION_MESSAGES.LOTTERY, lottery(validators, silent, 0));
          send(ELECTION_MESSAGES.LOTTERY, lottery(validators, silent, 1));
        });
      },
    });
    assert.deepEqual(leaders(run.nodes), Array(n).fill(next));
    const expected: Record<ElectionErrorCode, number> = {
      ELECTION_MALFORMED: 1,
      ELECTION_WRONG_EPOCH: 1,
      ELECTION_FUTURE_VIEW: 1,
      ELECTION_BAD_VALIDATOR: 1,
      ELECTION_BAD_PROOF: 2,
      ELECTION_BAD_SIGNATURE: 1,
      ELECTION_UNKNOWN_PEER: 1,
      ELECTION_NOT_LEADER: 1,
      ELECTION_STALE_VIEW: 1,
      ELECTION_SKIPPED: 1,
      ELECTION_BAD_CONFIG: 0,
      ELECTION_WRONG_PHASE: 0,
    };
    for (const node of run.nodes.values()) {
      if (node.index === byzantine) continue;
      for (const [code, count] of Object.entries(expected)) assert.equal(node.failures.count("drp", code), count, `node ${node.index}, ${code}`);
      const total = Object.values(expected).reduce((sum, count) => sum + count, 0);
      assert.equal(node.failures.total, total);
      assert.equal(node.election.stats.rejected, total);
    }
  });

  it("a next-view lottery that reaches a node still holding its elected leader is kept: abandoning later, the node locks that lottery in, not its own", () => {
    const n = 5;
    const label = "kept-while-elected";
    const validators = makeValidators(n, label);
    const first = ranking(validators, 0)[0]!;
    const second = ranking(validators, 1, [first])[0]!;
    // The node that abandons view 0 alone, and is not view 1's winner.
    const late = ranking(validators, 1, [first]).at(-1)!;
    const run = runElection({
      n, seed: SEEDS[0]!, deltaMs: DELTA, label,
      afterElected: (node, outcome) => {
        if (outcome.view === 0 && node.index === late) node.clock.setTimer(5 * DELTA, () => node.election.abandon());
      },
      setup: (sim, nodes) => {
        // While `late` still holds view 0's leader, view 1's winner shows it its view-1 lottery (as an early abandoner would).
        sim.schedule(3 * DELTA, "view-1 lottery to a node still elected", () =>
          nodes.get(second)!.channel.broadcast([validators.peers[late]!], ELECTION_MESSAGES.LOTTERY, lottery(validators, second, 1)));
      },
    });
    const node = run.nodes.get(late)!;
    // Alone in view 1, it locked in the lottery it kept since view 0 (and skipped it when no START came), never its own.
    assert.deepEqual(node.skips.slice(0, 2), [{ view: 0, validator: first }, { view: 1, validator: second }]);
    assert.ok(!node.leading.includes(1), "it never believed it won view 1");
  });

  it("a RESIGN that the elected leader did not sign, or from a validator that does not lead, skips no one", () => {
    const n = 7;
    const label = "resign-forgeries";
    const validators = makeValidators(n, label);
    const leader = ranking(validators, 0)[0]!;
    const byzantine = ranking(validators, 0).at(-1)!;
    const run = runElection({
      n, seed: SEEDS[0]!, deltaMs: DELTA, label,
      setup: (sim, nodes) => {
        const send = (payload: Uint8Array) => nodes.get(byzantine)!.channel.broadcast(validators.peers, ELECTION_MESSAGES.RESIGN, payload);
        const statement = (validator: number, epoch = EPOCH) => ({ epoch, view: 0, validator, proof: proofOf(validators, validator, 0) });
        sim.schedule(4 * DELTA, "forged resignations of the elected leader", () => {
          // Its own key over the leader's index; the leader's START offered as a RESIGN; another epoch's; then its own, valid but of no leader.
          send(signResign(validators.secrets[byzantine]!, validators.confHash, statement(leader)));
          send(signStart(validators.secrets[leader]!, validators.confHash, statement(leader)));
          send(signResign(validators.secrets[leader]!, validators.confHash, statement(leader, EPOCH + 1)));
          send(signResign(validators.secrets[byzantine]!, validators.confHash, statement(byzantine)));
        });
      },
    });
    assert.deepEqual(leaders(run.nodes), Array(n).fill(leader), "view 0's leader stands everywhere");
    for (const node of run.nodes.values()) {
      assert.deepEqual(node.skips, []);
      if (node.index === byzantine) continue;
      assert.equal(node.failures.count("drp", "ELECTION_BAD_SIGNATURE"), 2, `node ${node.index}`);
      assert.equal(node.failures.count("drp", "ELECTION_WRONG_EPOCH"), 1, `node ${node.index}`);
      assert.equal(node.failures.total, 3);
    }
  });

  it("a VRF is unique: a winner showing different proofs to different peers shows them one lottery, and all agree", () => {
    for (const n of [4, 10]) {
      const label = `equivocation/${n}`;
      const validators = makeValidators(n, label);
      const winner = ranking(validators, 0)[0]!;
      const alpha = lotteryInput(validators.confHash, 0);
      const honestProof = vrfProve(validators.secrets[winner]!, alpha);
      const otherProof = proofWithNonce(validators.secrets[winner]!, alpha, 123456789n);
      assert.notDeepEqual(otherProof, honestProof);
      assert.deepEqual(vrfVerify(validators.keys[winner]!, otherProof, alpha), vrfVerify(validators.keys[winner]!, honestProof, alpha));
      for (const seed of SEEDS) {
        const run = runElection({
          n,
          seed,
          deltaMs: DELTA,
          skewMs: 30,
          link: { latency: { kind: "uniform", minMs: 1, maxMs: 30 } },
          label,
          setup: (sim) =>
            sim.network.intercept(validators.peers[winner]!, (to, type, payload) => {
              if (type !== ELECTION_MESSAGES.LOTTERY || validators.peers.indexOf(to) % 2 === 0) return payload;
              return encodeLottery({ ...decodeLottery(payload), proof: otherProof });
            }),
        });
        assert.deepEqual(leaders(run.nodes), Array(n).fill(winner), `seed ${seed}`);
        const proofs = new Set([...run.nodes.values()].map((node) => toHex(node.election.outcome!.proof)));
        assert.deepEqual([...proofs], [toHex(honestProof)], "every node records the proof its leader signed");
        // Each node ends up holding both proofs (one directly, one relayed): the second is a duplicate, never a second lottery.
        assert.ok([...run.nodes.values()].some((node) => node.election.stats.duplicates > 0));
        for (const node of run.nodes.values()) assert.equal(node.failures.total, 0);
      }
    }
  });

  it("a winner showing another view's proof to half the peers only loses those copies: the relays of the other half carry its lottery", () => {
    const n = 8;
    const label = "wrong-view-proof";
    const validators = makeValidators(n, label);
    const winner = ranking(validators, 0)[0]!;
    const wrong = proofOf(validators, winner, 1);
    const run = runElection({
      n,
      seed: SEEDS[1]!,
      deltaMs: DELTA,
      label,
      setup: (sim) =>
        sim.network.intercept(validators.peers[winner]!, (to, type, payload) =>
          type === ELECTION_MESSAGES.LOTTERY && validators.peers.indexOf(to) % 2 === 0 ? encodeLottery({ ...decodeLottery(payload), proof: wrong }) : payload,
        ),
    });
    assert.deepEqual(leaders(run.nodes), Array(n).fill(winner));
    for (const node of run.nodes.values()) {
      if (node.index === winner) continue;
      assert.equal(node.failures.count("drp", "ELECTION_BAD_PROOF"), node.index % 2 === 0 ? 1 : 0, `node ${node.index}`);
    }
  });

  it("gossip: a winner that sends its lottery and START to one honest validator only is still agreed on by all", () => {
    for (const n of [4, 16]) {
      const label = `relay/${n}`;
      const validators = makeValidators(n, label);
      const winner = ranking(validators, 0)[0]!;
      const confidant = (winner + 1) % n;
      const run = runElection({
        n,
        seed: SEEDS[0]!,
        deltaMs: DELTA,
        skewMs: 20,
        link: { latency: { kind: "uniform", minMs: 1, maxMs: 20 } },
        label,
        setup: (sim) => sim.network.intercept(validators.peers[winner]!, (to, _type, payload) => (to === validators.peers[confidant] ? payload : undefined)),
      });
      assert.deepEqual(leaders(run.nodes), Array(n).fill(winner));
      assert.ok(run.nodes.get(confidant)!.election.stats.relayed >= 2, "the confidant relayed the lottery and the START");
      assert.ok(run.sim.network.stats().dropped.intercepted >= 2 * (n - 2));
    }
  });

  it("gossip: a lottery shown only to a validator that had not begun yet is relayed when it begins", () => {
    const n = 6;
    const label = "early-lottery";
    const validators = makeValidators(n, label);
    const winner = ranking(validators, 0)[0]!;
    const confidant = (winner + 2) % n;
    const run = runElection({
      n,
      seed: SEEDS[0]!,
      deltaMs: DELTA,
      label,
      beginAfterMs: (i) => (i === confidant ? 30 : 0),
      setup: (sim) => sim.network.intercept(validators.peers[winner]!, (to, _type, payload) => (to === validators.peers[confidant] ? payload : undefined)),
    });
    assert.deepEqual(leaders(run.nodes), Array(n).fill(winner));
    assert.equal(run.nodes.get(confidant)!.election.stats.relayed, 2, "the early lottery on begin, then the START");
  });
});

describe("competing lotteries: the synchrony bound σ + δ < Δ", () => {
  it("within the bound, a winner whose messages are slow (but in time) is agreed on by all", () => {
    for (const n of [4, 11]) {
      const label = `slow-winner/${n}`;
      const validators = makeValidators(n, label);
      const winner = ranking(validators, 0)[0]!;
      const skew = 40;
      for (const seed of SEEDS) {
        const run = runElection({
          n,
          seed,
          deltaMs: DELTA,
          skewMs: skew,
          link: { latency: { kind: "uniform", minMs: 1, maxMs: 40 } },
          label,
          setup: (sim) => {
            for (const peer of validators.peers) if (peer !== validators.peers[winner]) sim.network.setLink(validators.peers[winner]!, peer, { latency: { kind: "constant", ms: DELTA - skew - 1 } });
          },
        });
        assert.deepEqual(leaders(run.nodes), Array(n).fill(winner), `seed ${seed}`);
      }
    }
  });

  it("beyond the bound, two validators believe they won; lock-in is final, so all others agree on one and the slow one is alone", () => {
    const n = 7;
    const label = "beyond-bound";
    const validators = makeValidators(n, label);
    const slow = ranking(validators, 0)[0]!;
    const runnerUp = ranking(validators, 0, [slow])[0]!;
    const run = runElection({
      n,
      seed: SEEDS[0]!,
      deltaMs: DELTA,
      label,
      setup: (sim) => {
        for (const peer of validators.peers) if (peer !== validators.peers[slow]) sim.network.setLink(validators.peers[slow]!, peer, { latency: { kind: "constant", ms: 1.5 * DELTA } });
      },
    });
    assert.deepEqual(run.nodes.get(slow)!.leading, [0]);
    assert.deepEqual(run.nodes.get(runnerUp)!.leading, [0]);
    assert.deepEqual(
      leaders(run.nodes),
      validators.keys.map((_, i) => (i === slow ? slow : runnerUp)),
    );
    // Each started at its lock-in, so each one's rival START arrived after its election ended.
    for (const node of run.nodes.values()) assert.ok(node.election.stats.afterEnd >= (node.index === slow ? 1 : 2), `node ${node.index}`);
  });

  it("the bound is tight: a byzantine lottery reaching one honest validator δ before its lock-in spreads, one arriving later splits", () => {
    const n = 7;
    const label = "boundary";
    const validators = makeValidators(n, label);
    const byzantine = ranking(validators, 0)[0]!;
    const runnerUp = ranking(validators, 0, [byzantine])[0]!;
    const confidant = [...validators.keys.keys()].find((i) => i !== byzantine && i !== runnerUp)!;
    // Perfect 1 ms links (δ = 1, σ = 0); the byzantine validator talks only to its confidant, over a link of `arrival` ms.
    const scenario = (arrival: number) =>
      runElection({
        n,
        seed: SEEDS[0]!,
        deltaMs: DELTA,
        label,
        setup: (sim) => {
          sim.network.setLink(validators.peers[byzantine]!, validators.peers[confidant]!, { latency: { kind: "constant", ms: arrival } });
          sim.network.intercept(validators.peers[byzantine]!, (to, _type, payload) => (to === validators.peers[confidant] ? payload : undefined));
        },
      });
    assert.deepEqual(leaders(scenario(DELTA - 1.5).nodes), Array(n).fill(byzantine));
    const split = scenario(DELTA - 0.5);
    assert.deepEqual(
      leaders(split.nodes),
      validators.keys.map((_, i) => (i === confidant || i === byzantine ? byzantine : runnerUp)),
    );
    // The confidant refuses the runner-up's START, sent by it and relayed by the n − 3 others.
    assert.equal(split.nodes.get(confidant)!.failures.count("drp", "ELECTION_NOT_LEADER"), n - 2);
    // The confidant's relay reached the others 0.5 ms after their lock-in: valid, counted late, not counted in.
    for (const node of split.nodes.values()) assert.equal(node.election.stats.late, [byzantine, confidant, runnerUp].includes(node.index) ? 0 : 1, `node ${node.index}`);
  });
});
