/**
 * Link catch-up (src/epoch/transition/catch-up.ts) over the simulator's network, against byzantine
 * archives: a validator B that knows only the genesis walks the identity chain of epochs 1..3
 * (real certificates, real DRP transcripts: test/support/identity-chain.ts) from an honest peer H
 * while a faster byzantine peer X answers every request first with a forged answer — a link of
 * another epoch, a link with one flipped byte of its collective signature, a transcript its
 * configuration does not name, a cut or garbled ARCHIVE_LINK — and then a second, genuine answer
 * to the same request. Each forgery is refused with its code (counted by B's transport as a
 * handler failure of the drp subsystem), nothing is applied from it, and B still ends with H's
 * links. Unsolicited answers are refused before any signature is checked; a peer asking again
 * within the interval gets no second answer.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryWriter } from "../../../src/codec/binary.js";
import type { EpochContext } from "../../../src/epoch/interface.js";
import { ARCHIVE_INSTANCE, LinkCatchUp, encodeArchiveLink } from "../../../src/epoch/transition/catch-up.js";
import type { ConfiguredEpoch } from "../../../src/epoch/transition/interface.js";
import { TRANSITION_MESSAGES, type LinkMessage } from "../../../src/epoch/transition/messages.js";
import { toHex } from "../../../src/hex.js";
import type { HandlerFailures } from "../../../src/log/handler-failures.js";
import type { Channel, PeerId } from "../../../src/net/interface.js";
import { Simulator } from "../../../src/sim/simulator.js";
import { buildArchive, verifier } from "../../support/identity-chain.js";

const archive = buildArchive(3);
const LAST = archive.links.length;
/** The catch-up's ask interval: long against the 1–5 ms links, so each request is answered before the next round. */
const INTERVAL_MS = 1_000;
/** More than any epoch here has validators: every peer is asked each round, the byzantine one and the honest one always. */
const ASK_PEERS = 16;
const [B, H, X, R] = archive.contexts[0]!.validators.map((validator) => toHex(validator.publicKey)) as [PeerId, PeerId, PeerId, PeerId];
const kept = (epoch: number): LinkMessage => ({ link: archive.links[epoch - 1]!, transcript: archive.transcripts[epoch - 1]! });
/** The u32 (little-endian) epoch an archive message opens with. */
const epochOf = (payload: Uint8Array): number => Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).readUInt32LE(0);
const request = (epoch: number): Uint8Array => BinaryWriter.ofSize(4).u32(epoch).finish();
const flipped = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[at]! ^= 0x01;
  return copy;
};

/** A validator running LinkCatchUp: it knows epochs 0..`knows` and keeps whatever its catch-up configures. */
interface Honest {
  readonly contexts: EpochContext[];
  readonly links: LinkMessage[];
  readonly configured: ConfiguredEpoch[];
  catchUp?: LinkCatchUp;
  failures?: HandlerFailures;
}

function honest(sim: Simulator, id: PeerId, knows: number): Honest {
  const node: Honest = { contexts: archive.contexts.slice(0, knows + 1), links: archive.links.slice(0, knows).map((_, i) => kept(i + 1)), configured: [] };
  sim.addNode(id, ({ transport, clock, rng, failures }) => {
    const channel = transport.open(ARCHIVE_INSTANCE);
    node.failures = failures;
    node.catchUp = new LinkCatchUp({ intervalMs: INTERVAL_MS, askPeers: ASK_PEERS }, {
      channel, clock, rng, verifier,
      latest: () => node.contexts.at(-1)!,
      archived: (epoch) => node.links[epoch - 1],
      onLink: (configured) => {
        node.configured.push(configured);
        node.contexts.push(configured.context);
        node.links.push({ link: configured.link, transcript: configured.transcript });
      },
    });
    node.catchUp.start();
    return node.catchUp;
  });
  return node;
}

/** A peer that speaks the archive protocol by hand: `onRequest` answers each ARCHIVE_REQUEST as it likes; it keeps what it is sent. */
function byzantine(sim: Simulator, id: PeerId, onRequest: (channel: Channel, from: PeerId, epoch: number) => void = () => undefined) {
  const peer = { channel: undefined as Channel | undefined, requests: [] as [PeerId, number][], answers: [] as Uint8Array[] };
  sim.addNode(id, ({ transport }) => {
    const channel = transport.open(ARCHIVE_INSTANCE);
    peer.channel = channel;
    channel.on(TRANSITION_MESSAGES.ARCHIVE_REQUEST, (from, _type, payload) => {
      const epoch = epochOf(payload);
      peer.requests.push([from, epoch]);
      onRequest(channel, from, epoch);
    });
    channel.on(TRANSITION_MESSAGES.ARCHIVE_LINK, (_from, _type, payload) => peer.answers.push(payload));
    return channel;
  });
  return peer;
}

/** B behind at epoch 0, H honest with epochs 1..3, X byzantine answering B's request for an epoch of 1..3 with `forge(epoch)` 1 ms after it, H 5 ms after. */
function race(seed: string, forge: (epoch: number) => readonly Uint8Array[]) {
  const sim = new Simulator({ seed: `catch-up/${seed}`, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 5 } } });
  const behind = honest(sim, B, 0);
  const archiveHolder = honest(sim, H, LAST);
  const liar = byzantine(sim, X, (channel, from, epoch) => {
    if (from === B && epoch <= LAST) for (const answer of forge(epoch)) channel.send(from, TRANSITION_MESSAGES.ARCHIVE_LINK, answer);
  });
  sim.network.setLink(X, B, { latency: { kind: "constant", ms: 1 } });
  sim.network.setLink(H, B, { latency: { kind: "constant", ms: 5 } });
  return { sim, behind, archiveHolder, liar };
}

/** B walked to epoch 3 with exactly H's links, one configured epoch at a time. */
function assertCaughtUp(behind: Honest): void {
  assert.deepEqual(behind.configured.map((configured) => configured.context.epoch), [1, 2, 3], "each epoch configured once, in order");
  behind.configured.forEach((configured, i) => {
    assert.deepEqual(configured.link, archive.links[i], `epoch ${i + 1}: the honest link`);
    assert.deepEqual(configured.transcript, archive.transcripts[i], `epoch ${i + 1}: the honest transcript`);
    assert.deepEqual(configured.context.configurationHash, archive.contexts[i + 1]!.configurationHash);
  });
}

/** Each forged answer for an epoch of 1..3, and the code B refuses it with. */
const FORGERIES: readonly (readonly [string, (epoch: number) => Uint8Array, string])[] = [
  ["a link of another epoch under the asked epoch's number", (epoch) => encodeArchiveLink(epoch, kept((epoch % LAST) + 1)), "IDENTITY_WRONG_EPOCH"],
  ["the asked link with one flipped byte of its collective signature", (epoch) => {
    const { link, transcript } = kept(epoch);
    return encodeArchiveLink(epoch, { link: { ...link, certificate: flipped(link.certificate, link.certificate.length - 32) }, transcript });
  }, "IDENTITY_BAD_SIGNATURE"],
  ["the asked link with a transcript its configuration does not name (another epoch's)", (epoch) => encodeArchiveLink(epoch, { link: kept(epoch).link, transcript: kept((epoch % LAST) + 1).transcript }), "TRANSITION_BAD_LINK"],
  ["the asked link cut short by one byte", (epoch) => encodeArchiveLink(epoch, kept(epoch)).subarray(0, -1), "TRANSITION_MALFORMED"],
  ["the asked epoch's number followed by garbage", (epoch) => BinaryWriter.ofSize(4 + 64).u32(epoch).bytes(new Uint8Array(64).fill(0xff)).finish(), "TRANSITION_MALFORMED"],
  ["three bytes, not even an epoch number", () => new Uint8Array(3), "TRANSITION_MALFORMED"],
];

describe("link catch-up against byzantine archives (simulator)", () => {
  for (const [what, forge, code] of FORGERIES) {
    it(`refuses ${what} with ${code}, and still walks to epoch ${LAST} from an honest peer`, () => {
      const { sim, behind, archiveHolder, liar } = race(what, (epoch) => [forge(epoch)]);
      sim.run({ until: INTERVAL_MS + 100 });
      assert.deepEqual(liar.requests.filter(([from]) => from === B).map(([, epoch]) => epoch), [1, 2, 3, 4], "B asked the liar for each epoch, and then for the next");
      assert.equal(behind.failures!.count("drp", code), LAST, `each of the ${LAST} forgeries refused with ${code}`);
      assert.equal(behind.failures!.total, LAST, "nothing else refused");
      assertCaughtUp(behind);
      assert.equal(archiveHolder.catchUp!.stats.served, LAST, "H answered each request once");
    });
  }

  it("one request gets one checked answer: a forged answer followed by a genuine one from the same peer refuses both; the honest peer's answer configures", () => {
    const { sim, behind } = race("second answer", (epoch) => [FORGERIES[1]![1](epoch), encodeArchiveLink(epoch, kept(epoch))]);
    sim.run({ until: INTERVAL_MS + 100 });
    assert.equal(behind.failures!.count("drp", "IDENTITY_BAD_SIGNATURE"), LAST);
    assert.equal(behind.failures!.count("drp", "TRANSITION_UNASKED_LINK"), LAST, "the second answer to each request is not checked");
    assertCaughtUp(behind);
  });

  it("refuses unsolicited answers before checking them, a genuine link included; answers arriving after their epoch is known are ignored as stale", () => {
    const sim = new Simulator({ seed: "catch-up/unsolicited", defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 5 } } });
    const behind = honest(sim, B, 0);
    const liar = byzantine(sim, X);
    honest(sim, H, LAST);
    // Before B asks anyone: the genuine link of epoch 1, and one of epoch 2 (never the one asked for).
    sim.schedule(100, "unsolicited", () => {
      liar.channel!.send(B, TRANSITION_MESSAGES.ARCHIVE_LINK, encodeArchiveLink(1, kept(1)));
      liar.channel!.send(B, TRANSITION_MESSAGES.ARCHIVE_LINK, encodeArchiveLink(2, kept(2)));
    });
    sim.run({ until: INTERVAL_MS - 1 });
    assert.equal(behind.failures!.count("drp", "TRANSITION_UNASKED_LINK"), 2);
    assert.deepEqual(behind.configured, [], "nothing unsolicited is applied");
    // The liar answers nothing; H does, and B walks the chain. Late, then, the liar sends epoch 1's link again: stale.
    sim.run({ until: INTERVAL_MS + 100 });
    assertCaughtUp(behind);
    liar.channel!.send(B, TRANSITION_MESSAGES.ARCHIVE_LINK, encodeArchiveLink(1, kept(1)));
    sim.run({ until: INTERVAL_MS + 200 });
    assert.equal(behind.catchUp!.stats.ignored.ARCHIVE_STALE, 1);
    assert.equal(behind.failures!.total, 2, "a late answer is not refused: honest peers send them");
  });

  it("answers a peer once per epoch and interval: repeated requests are ignored ARCHIVE_OVER_BUDGET, epochs it lacks ARCHIVE_NOT_KEPT, a cut request TRANSITION_MALFORMED", () => {
    const sim = new Simulator({ seed: "catch-up/budget", defaultLink: { latency: { kind: "constant", ms: 1 } } });
    const holder = honest(sim, H, LAST);
    const asker = byzantine(sim, R);
    sim.schedule(10, "requests", () => {
      for (let i = 0; i < 5; i++) asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(1));
      asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(2));
      asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(0));
      asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(LAST + 1));
      asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, new Uint8Array(3));
    });
    sim.run({ until: 100 });
    assert.deepEqual(asker.answers.map((answer) => epochOf(answer)), [1, 2], "one answer per epoch asked");
    assert.deepEqual(asker.answers[0], encodeArchiveLink(1, kept(1)), "the archived link, as kept");
    assert.deepEqual(holder.catchUp!.stats, { served: 2, ignored: { ARCHIVE_STALE: 0, ARCHIVE_NOT_KEPT: 2, ARCHIVE_OVER_BUDGET: 4 } });
    assert.equal(holder.failures!.count("drp", "TRANSITION_MALFORMED"), 1);
    // Within the interval still nothing more; once it has passed, the next request is answered again.
    sim.schedule(INTERVAL_MS - 100, "too soon", () => asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(1)));
    sim.schedule(INTERVAL_MS + 100, "after the interval", () => asker.channel!.send(H, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request(1)));
    sim.run({ until: 2 * INTERVAL_MS + 100 });
    assert.equal(asker.answers.length, 3);
    assert.equal(holder.catchUp!.stats.ignored.ARCHIVE_OVER_BUDGET, 5);
  });
});
