import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareLotteries, drawLottery, lotteryInput, minimumLottery, verifyLeaderLottery, verifyLottery } from "../../../src/epoch/election/lottery.js";
import {
  ELECTION_MESSAGES,
  LOTTERY_MESSAGE_BYTES,
  START_MESSAGE_BYTES,
  decodeLottery,
  decodeStart,
  electionInstance,
  encodeLottery,
  isStartAuthentic,
  signStart,
} from "../../../src/epoch/election/messages.js";
import { LeaderElection } from "../../../src/epoch/election/election.js";
import { protocolOfType } from "../../../src/net/message-types.js";
import { Simulator } from "../../../src/sim/simulator.js";
import { EPOCH, betaOf, leaders, makeValidators, ranking, runElection } from "./harness.js";

const validators = makeValidators(5, "lottery-unit");

describe("election lotteries and the offline verifier", () => {
  it("alpha is conf hash ‖ u32le view; a drawn lottery verifies and its beta is the RFC 9381 output", () => {
    const alpha = lotteryInput(validators.confHash, 0x01020304);
    assert.deepEqual(alpha.subarray(0, 32), validators.confHash);
    assert.deepEqual([...alpha.subarray(32)], [4, 3, 2, 1]);
    const drawn = drawLottery(validators.secrets[2]!, 2, validators.confHash, 5);
    assert.deepEqual(drawn.beta, betaOf(validators, 2, 5));
    assert.deepEqual(verifyLottery(validators.keys, validators.confHash, 5, 2, drawn.proof)?.beta, drawn.beta);
    assert.throws(() => lotteryInput(validators.confHash.subarray(1), 0), { code: "ELECTION_BAD_CONFIG" });
    assert.throws(() => lotteryInput(validators.confHash, -1), { code: "ELECTION_BAD_CONFIG" });
  });

  it("verifyLeaderLottery accepts exactly the leader's proof for its configuration, view and index", () => {
    const proof = drawLottery(validators.secrets[3]!, 3, validators.confHash, 1).proof;
    assert.deepEqual(verifyLeaderLottery(validators.confHash, validators.keys, { view: 1, leader: 3, proof }), betaOf(validators, 3, 1));
    const otherConf = Uint8Array.from(validators.confHash, (byte, i) => (i === 0 ? byte ^ 1 : byte));
    assert.throws(() => verifyLeaderLottery(otherConf, validators.keys, { view: 1, leader: 3, proof }), { code: "ELECTION_BAD_PROOF" });
    assert.throws(() => verifyLeaderLottery(validators.confHash, validators.keys, { view: 2, leader: 3, proof }), { code: "ELECTION_BAD_PROOF" });
    assert.throws(() => verifyLeaderLottery(validators.confHash, validators.keys, { view: 1, leader: 4, proof }), { code: "ELECTION_BAD_PROOF" });
    assert.throws(() => verifyLeaderLottery(validators.confHash, validators.keys, { view: 1, leader: 5, proof }), { code: "ELECTION_BAD_VALIDATOR" });
    assert.throws(() => verifyLeaderLottery(validators.confHash, validators.keys, { view: 1, leader: 3, proof: proof.subarray(1) }), { code: "ELECTION_BAD_PROOF" });
    for (const at of [0, 31, 32, 47, 48, 79]) {
      const flipped = proof.slice();
      flipped[at]! ^= 0x10;
      assert.throws(() => verifyLeaderLottery(validators.confHash, validators.keys, { view: 1, leader: 3, proof: flipped }), { code: "ELECTION_BAD_PROOF" }, `byte ${at}`);
    }
  });

  it("the minimum is the smallest beta as bytes, ties to the lower index", () => {
    const lotteries = validators.secrets.map((secret, i) => drawLottery(secret, i, validators.confHash, 0));
    const expected = ranking(validators, 0)[0]!;
    assert.equal(minimumLottery(lotteries)!.validator, expected);
    assert.equal(minimumLottery(lotteries.slice().reverse())!.validator, expected);
    assert.equal(minimumLottery([]), undefined);
    const tie = { ...lotteries[4]!, beta: lotteries[1]!.beta };
    assert.ok(compareLotteries(lotteries[1]!, tie) < 0);
    assert.ok(compareLotteries(tie, lotteries[1]!) > 0);
    const low = { ...lotteries[0]!, beta: new Uint8Array(64) };
    assert.ok(compareLotteries(low, lotteries[1]!) < 0);
  });
});

describe("election messages", () => {
  it("LOTTERY and START are the drp range's first types and round-trip strictly", () => {
    assert.equal(protocolOfType(ELECTION_MESSAGES.LOTTERY), "drp");
    assert.equal(protocolOfType(ELECTION_MESSAGES.START), "drp");
    assert.deepEqual(electionInstance(9), { protocol: "drp", shard: 0, epoch: 9 });
    const proof = drawLottery(validators.secrets[1]!, 1, validators.confHash, 2).proof;
    const lottery = { epoch: EPOCH, view: 2, validator: 1, proof };
    const bytes = encodeLottery(lottery);
    assert.equal(bytes.length, LOTTERY_MESSAGE_BYTES);
    assert.deepEqual(decodeLottery(bytes), lottery);
    assert.throws(() => decodeLottery(bytes.subarray(1)), { code: "ELECTION_MALFORMED" });
    assert.throws(() => decodeLottery(Uint8Array.of(...bytes, 0)), { code: "ELECTION_MALFORMED" });
    const start = signStart(validators.secrets[1]!, validators.confHash, lottery);
    assert.equal(start.length, START_MESSAGE_BYTES);
    const decoded = decodeStart(start);
    assert.deepEqual({ epoch: decoded.epoch, view: decoded.view, validator: decoded.validator, proof: decoded.proof }, lottery);
    assert.throws(() => decodeStart(start.subarray(0, START_MESSAGE_BYTES - 1)), { code: "ELECTION_MALFORMED" });
    assert.throws(() => decodeStart(Uint8Array.of(...start, 0)), { code: "ELECTION_MALFORMED" });
  });

  it("a START's signature binds its author, its configuration and every field", () => {
    const lottery = { epoch: EPOCH, view: 0, validator: 2, proof: drawLottery(validators.secrets[2]!, 2, validators.confHash, 0).proof };
    const start = signStart(validators.secrets[2]!, validators.confHash, lottery);
    assert.ok(isStartAuthentic(decodeStart(start), validators.confHash, validators.keys[2]!));
    assert.ok(!isStartAuthentic(decodeStart(start), validators.confHash, validators.keys[3]!));
    assert.ok(!isStartAuthentic(decodeStart(start), new Uint8Array(32), validators.keys[2]!));
    for (let at = 0; at < START_MESSAGE_BYTES; at += 7) {
      const flipped = start.slice();
      flipped[at]! ^= 1;
      assert.ok(!isStartAuthentic(decodeStart(flipped), validators.confHash, validators.keys[2]!), `byte ${at}`);
    }
  });
});

describe("LeaderElection's interface", () => {
  it("refuses a bad configuration up front", () => {
    const sim = new Simulator({ seed: 1 });
    sim.addNode(validators.peers[0]!, ({ transport, clock }) => {
      const channel = transport.open(electionInstance(EPOCH));
      const config = { epoch: EPOCH, confHash: validators.confHash, validators: validators.keys, deltaMs: 100 };
      const deps = { channel, clock, secretKey: validators.secrets[0]! };
      const cases: [string, () => unknown][] = [
        ["epoch 0", () => new LeaderElection({ ...config, epoch: 0 }, deps)],
        ["short conf hash", () => new LeaderElection({ ...config, confHash: validators.confHash.subarray(1) }, deps)],
        ["no validators", () => new LeaderElection({ ...config, validators: [] }, deps)],
        ["a short key", () => new LeaderElection({ ...config, validators: [...validators.keys, new Uint8Array(31)] }, deps)],
        ["duplicate key", () => new LeaderElection({ ...config, validators: [...validators.keys, validators.keys[1]!] }, deps)],
        ["Δ of 0", () => new LeaderElection({ ...config, deltaMs: 0 }, deps)],
        ["maxViews 0", () => new LeaderElection({ ...config, maxViews: 0 }, deps)],
        ["a key that is no validator's", () => new LeaderElection(config, { ...deps, secretKey: new Uint8Array(32).fill(9) })],
        ["another validator's channel", () => new LeaderElection(config, { ...deps, secretKey: validators.secrets[1]! })],
      ];
      for (const [what, make] of cases) assert.throws(make, { code: "ELECTION_BAD_CONFIG" }, what);
      const election = new LeaderElection(config, deps);
      assert.throws(() => election.startAsLeader(), { code: "ELECTION_WRONG_PHASE" });
      election.begin();
      assert.throws(() => election.begin(), { code: "ELECTION_WRONG_PHASE" });
      assert.equal(election.phase, "gossip");
      election.close();
    });
    sim.run();
  });

  it("a START handed in by the caller (carried by DRP) elects like one on the channel; a forged one throws its code", () => {
    const n = 6;
    const label = "observe-start";
    const local = makeValidators(n, label);
    const winner = ranking(local, 0)[0]!;
    const forger = (winner + 1) % n;
    let handed: Uint8Array | undefined;
    const run = runElection({
      n,
      seed: 3,
      deltaMs: 100,
      label,
      setup: (sim, nodes) => {
        // START never travels on the election's channel: the test plays the DRP layer carrying it.
        sim.network.intercept(local.peers[winner]!, (_to, type, payload) => {
          if (type === ELECTION_MESSAGES.START) handed = payload;
          return type === ELECTION_MESSAGES.START ? undefined : payload;
        });
        sim.schedule(150, "DRP hands in the START", () => {
          for (const node of nodes.values()) {
            if (node.index === winner) continue;
            const forged = signStart(local.secrets[forger]!, local.confHash, { epoch: EPOCH, view: 0, validator: winner, proof: node.election.locked!.proof });
            assert.throws(() => node.election.observeStart(forged), { code: "ELECTION_BAD_SIGNATURE" });
            node.election.observeStart(handed!);
          }
        });
      },
    });
    assert.deepEqual(leaders(run.nodes), Array(n).fill(winner));
    assert.ok(run.sim.network.stats().dropped.intercepted >= n - 1);
  });
});
