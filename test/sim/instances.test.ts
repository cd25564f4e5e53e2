/**
 * Consensus instances in the simulator: the committees of epochs E and E + 1 of one shard run
 * side by side on the same four validators, each seeing only its own messages; three validators
 * close epoch E while the fourth keeps talking in it, and those messages are dropped as
 * "no-instance" while E + 1 goes on; an intruder's messages for forged instances, for a type
 * outside the open instance's range and for a type nobody handles are dropped and counted by
 * reason. Names its seed on failure; IOS_SIM_SEED replays it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";
import type { Transport } from "../../src/net/interface.js";
import { messageType } from "../../src/net/message-types.js";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import { committeeMember, epochInstance, epochOf, type CommitteeMember } from "../consensus/epoch-committees.js";

const E = 7;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

interface Validator {
  readonly transport: Transport;
  readonly old: CommitteeMember;
  readonly next: CommitteeMember;
}

describe("consensus instances in the simulator", () => {
  it("runs epochs E and E + 1 side by side, closes E, and drops what no open instance takes", () => {
    const seed = simSeed("instances");
    const context = `seed ${JSON.stringify(seed)}`;
    const sim = new Simulator({ seed });
    const keyRng = sim.rng("keys");
    const keys = Array.from({ length: 4 }, () => SchnorrKey.fromSeed(keyRng.bytes(32)));
    const participants = keys.map((k) => k.publicKey).sort(Buffer.compare);
    const peers = participants.map(hex);
    const handles = peers.map((peer, index) =>
      sim.addNode<Validator>(peer, ({ transport, clock, rng }) => {
        const key = keys.find((k) => hex(k.publicKey) === peer)!;
        const [old, next] = [E, E + 1].map((epoch) =>
          committeeMember({ epoch, channel: transport.open(epochInstance(epoch)), participants, index, key, clock, rng, viewTimeoutMs: 400 }),
        ) as [CommitteeMember, CommitteeMember];
        // Started once every validator is attached, so the first proposals are not lost.
        clock.setTimer(0, () => {
          old.bft.start();
          next.bft.start();
        });
        return { transport, old, next };
      }),
    );
    sim.run({ until: 0 });
    const validators = handles.map((handle) => handle.instance!);
    const height = (committee: "old" | "next", among = validators): number => Math.min(...among.map((v) => v[committee].finals.length));
    const runTo = (what: string, done: () => boolean): void => {
      assert.ok(sim.runUntil(done, { until: sim.now() + 60_000 }), `${context}: ${what}`);
    };

    // 1. Both committees decide, each only its own values, and nothing crossed between them.
    runTo("both committees at height 3", () => height("old") >= 3 && height("next") >= 3);
    for (const v of validators) {
      for (const m of [v.old, v.next]) {
        assert.ok(m.finals.every((record) => epochOf(record) === m.epoch), `${context}: epoch ${m.epoch} decided only its own values`);
        assert.equal(m.bft.stats.rejectedMessages, 0, `${context}: no message of the other committee arrived`);
      }
    }

    // 2. Validators 1–3 leave epoch E; validator 0 stays and keeps talking in it.
    for (const v of validators.slice(1)) {
      v.old.bft.close();
      v.old.channel.close();
    }
    const reached = height("next");
    runTo("epoch E + 1 goes on", () => height("next") >= reached + 3);
    assert.ok(sim.network.stats().dropped["no-instance"] > 0, `${context}: validator 0's epoch-E messages were dropped as no-instance`);
    validators[0]!.old.bft.close();
    validators[0]!.old.channel.close();
    sim.run({ until: sim.now() + 10 }); // past the 1 ms links: nothing of epoch E left in flight

    // 3. An intruder's messages that no open instance takes are dropped by reason.
    const before = sim.network.stats().dropped;
    const junk = Uint8Array.of(1, 2, 3);
    sim.addNode("ee".repeat(32), ({ transport }) => {
      transport.open({ protocol: "consensus", shard: 7, epoch: E + 1 }).broadcast(peers, BFT_MESSAGES.PROPOSE, junk);
      transport.open({ protocol: "consensus", shard: 0, epoch: 0xffff_fff0 }).broadcast(peers, BFT_MESSAGES.PROPOSE, junk);
      transport.open({ protocol: "client", shard: 0, epoch: E + 1 }).broadcast(peers, messageType("client", 0), junk);
      transport.open(epochInstance(E + 1)).broadcast(peers, messageType("consensus", 0x08), junk);
      return undefined;
    });
    sim.run({ until: sim.now() + 10 });
    const after = sim.network.stats().dropped;
    assert.equal(after["no-instance"] - before["no-instance"], 3 * peers.length, context);
    assert.equal(after["no-handler"] - before["no-handler"], peers.length, context);
    const resumed = height("next");
    runTo("epoch E + 1 still deciding", () => height("next") >= resumed + 2);
    for (const v of validators) {
      assert.ok(v.next.finals.every((record) => epochOf(record) === E + 1), context);
      assert.equal(v.next.bft.stats.rejectedMessages, 0, context);
    }
  });
});
