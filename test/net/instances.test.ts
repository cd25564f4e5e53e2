/**
 * Consensus instances on the real transport (127.0.0.1, ephemeral ports): the outgoing and the
 * incoming committee of one shard (epochs E and E + 1) run side by side on the same pair of
 * UwsTransports, each seeing only its own messages; closing the old one leaves the new one
 * running, and frames still sent to the closed instance are dropped and counted; a byzantine
 * validator sending well-formed frames for forged instances, or types outside the open
 * instance's range, gets them dropped and counted while its link stays up for valid traffic.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";
import { messageType } from "../../src/net/message-types.js";
import { PeerIdentity } from "../../src/net/peer-auth.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";
import { committeeMember, epochInstance, epochOf, type CommitteeMember } from "../consensus/epoch-committees.js";
import { RawPeer, closeAll, fullMesh, peerUrl, startMesh, waitFor } from "./helpers.js";

const E = 41;
/** A message of another protocol, used to show a link still carries valid traffic. */
const PROBE = messageType("drp", 0);
/** In the consensus range but registered by none of BFT and CoSi. */
const UNASSIGNED_CONSENSUS = messageType("consensus", 0x08);

describe("consensus instances on UwsTransport", () => {
  it("runs epochs E and E + 1 side by side, closes E alone, and drops forged instances without closing the link", async () => {
    // Seeds, so each validator's transport identity and CoSi key are one key; sorted so `low` dials.
    const seeds = Array.from({ length: 3 }, () => new Uint8Array(randomBytes(32)));
    const [low, ...validators] = seeds.map((seed) => ({ seed, identity: PeerIdentity.fromSeed(seed) })).sort((x, y) => (x.identity.id < y.identity.id ? -1 : 1));
    const nodes = await startMesh(validators.map((v) => v.identity));
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    b.transport.setPeer(low!.identity.id, undefined);
    const participants = validators.map((v) => v.identity.publicKey);
    const clock = new SystemClock();
    const member = (node: number, epoch: number): CommitteeMember =>
      committeeMember({
        epoch,
        channel: nodes[node]!.transport.open(epochInstance(epoch)),
        participants,
        index: node,
        key: SchnorrKey.fromSeed(validators[node]!.seed),
        clock,
        rng: new CryptoRng(),
        viewTimeoutMs: 300,
      });
    try {
      const old = [member(0, E), member(1, E)];
      const next = [member(0, E + 1), member(1, E + 1)];
      const members = [...old, ...next];
      assert.throws(() => a.transport.open(epochInstance(E)), { code: "CHANNEL_IN_USE" });
      assert.deepEqual(b.transport.stats().channels, [`consensus/0/${E}`, `consensus/0/${E + 1}`]);
      await waitFor("mesh", () => fullMesh(nodes));
      for (const m of members) m.bft.start();
      const height = (committee: CommitteeMember[]): number => Math.min(...committee.map((m) => m.finals.length));

      // 1. Both committees decide, each only its own values, and nothing crossed between them.
      await waitFor("both committees at height 3", () => height(old) >= 3 && height(next) >= 3);
      for (const m of members) {
        assert.ok(m.finals.every((record) => epochOf(record) === m.epoch), `epoch ${m.epoch} decided only its own values`);
        assert.equal(m.bft.stats.rejectedMessages, 0, `epoch ${m.epoch}: no message of the other committee arrived`);
      }

      // 2. B leaves epoch E: A's E member keeps talking (view changes, retries) to a closed instance.
      old[1]!.bft.close();
      old[1]!.channel.close();
      old[1]!.channel.close();
      assert.deepEqual(b.transport.stats().channels, [`consensus/0/${E + 1}`]);
      const reached = height(next);
      await waitFor("frames to B's closed instance counted", () => b.transport.stats().drops.no_instance > 0);
      await waitFor("epoch E + 1 goes on", () => height(next) >= reached + 3);
      old[0]!.bft.close();
      old[0]!.channel.close();
      // A link is FIFO: once A's probe arrives, none of A's epoch-E frames is still on the way.
      const probes: string[] = [];
      b.transport.open({ protocol: "drp", shard: 0, epoch: E + 1 }).on(PROBE, (from) => probes.push(from));
      a.transport.open({ protocol: "drp", shard: 0, epoch: E + 1 }).send(b.identity.id, PROBE, Uint8Array.of(1));
      await waitFor("A's probe", () => probes.length === 1);

      // 3. A byzantine validator's well-formed frames for instances B has not opened, and for a
      //    type nobody registered in the open one, are dropped and counted; its link stays up.
      const before = b.transport.stats();
      const raw = new RawPeer(peerUrl(b.port));
      await raw.authenticate(low!.identity, b.identity.id);
      await waitFor("byzantine link", () => b.transport.connectedPeers().includes(low!.identity.id));
      const junk = Uint8Array.of(1, 2, 3);
      raw.sendFrame(BFT_MESSAGES.PROPOSE, junk, { shard: 7, epoch: E + 1 }); // another shard
      raw.sendFrame(BFT_MESSAGES.PROPOSE, junk, { shard: 0, epoch: 0xffff_fff0 }); // an unknown epoch
      raw.sendFrame(BFT_MESSAGES.PROPOSE, junk, { shard: 0, epoch: E }); // the closed epoch
      raw.sendFrame(messageType("client", 0), junk, { shard: 0, epoch: E + 1 }); // outside the open instance's range
      raw.sendFrame(UNASSIGNED_CONSENSUS, junk, { shard: 0, epoch: E + 1 }); // in range, no handler
      raw.sendFrame(PROBE, Uint8Array.of(2), { shard: 0, epoch: E + 1 });
      await waitFor("the byzantine probe after its junk", () => probes.length === 2);
      const after = b.transport.stats();
      assert.equal(after.drops.no_instance - before.drops.no_instance, 4);
      assert.equal(after.drops.no_handler - before.drops.no_handler, 1);
      assert.deepEqual(after.frameErrors, before.frameErrors, "well-formed frames are not malformed");
      assert.equal(probes[1], low!.identity.id);
      assert.ok(b.transport.connectedPeers().includes(low!.identity.id), "the link stays up");
      const resumed = height(next);
      await waitFor("epoch E + 1 still deciding", () => height(next) >= resumed + 2);
      for (const m of next) {
        assert.ok(m.finals.every((record) => epochOf(record) === E + 1));
        assert.equal(m.bft.stats.rejectedMessages, 0);
      }
      // The closed instance can be opened again (a restarted committee).
      b.transport.open(epochInstance(E)).close();
      await raw.close();
      for (const m of next) m.bft.close();
    } finally {
      await closeAll(nodes);
    }
  });
});
