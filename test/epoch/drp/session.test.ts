/**
 * DRP runs (src/epoch/drp/session.ts, white paper §5.2 Algorithm 2) between one client and n
 * servers in process: honest runs for n = 4, 7, 16 give the Z recomputed directly from the chosen
 * dealers' secrets and a transcript that verifyTranscript accepts; runs with f silent servers, a
 * deal with a bad share or a bad proof, a wrong Schnorr response and bad decrypted shares still succeed and verify; more
 * faults than tolerated fail with a code; a trustee refuses a T' or l3 that breaks the rules with a code. Deterministic (SeededRng).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { Fn, RistrettoPoint } from "../../../src/epoch/drp/dleq.js";
import {
  CLIENT_SENDER,
  MessageKind,
  decodeChoice,
  encodeChoice,
  signEnvelope,
  decodeDealMessage,
  decodeDecryption,
  decodeEnvelope,
  decodeResponse,
  decodeReveal,
  encodeDealMessage,
  encodeDecryption,
  encodeResponse,
  encodeReveal,
  type Choice,
} from "../../../src/epoch/drp/messages.js";
import { groupOf, knownParties } from "../../../src/epoch/drp/config.js";
import { SessionGuard } from "../../../src/epoch/drp/guard.js";
import { localClock } from "../../../src/epoch/drp/local.js";
import { decodeDeal, encodeDeal } from "../../../src/epoch/drp/pvss.js";
import { DrpClient, DrpServer } from "../../../src/epoch/drp/session.js";
import { decodeTranscriptParts, verifyTranscript } from "../../../src/epoch/drp/transcript.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { codeOf } from "../../support/errors.js";
import { chosenOf, directOutput, makeParties, resign, runSession, type Parties } from "./harness.js";

/** A run, its output checked against the direct recomputation and the verifier. */
function runAndCheck(parties: Parties, faults: Parameters<typeof runSession>[1] = {}): { transcript: Uint8Array; z: RistrettoPoint } {
  const client = runSession(parties, faults);
  const { z, rnd } = client.output();
  const transcript = client.transcript();
  assert.ok(z.equals(directOutput(parties, client.sessionId, chosenOf(parties, transcript))), "Z is the sum of the chosen dealers' secrets");
  const verified = verifyTranscript(transcript);
  assert.ok(verified.z.equals(z), "the verifier returns the client's Z");
  assert.deepEqual(verified.rnd, rnd);
  return { transcript, z };
}

/** Server `target`'s deal with encrypted share `share` (1-based) changed, or its proof. */
function badDeal(parties: Parties, target: number, part: "share" | "proof") {
  return (server: number, message: Uint8Array): Uint8Array => {
    const envelope = decodeEnvelope(message);
    if (server !== target || envelope.kind !== MessageKind.deal) return message;
    const body = decodeDealMessage(envelope.body);
    const shares = body.deal.shares.map((share, k) => {
      if (k !== 0) return share;
      return part === "share"
        ? { ...share, point: share.point.add(RistrettoPoint.BASE) }
        : { ...share, proof: { ...share.proof, response: Fn.add(share.proof.response, 1n) } };
    });
    const dealBytes = encodeDeal({ ...body.deal, shares });
    return resign(parties, server, MessageKind.deal, encodeDealMessage(body.replyTo, body.commitment, dealBytes));
  };
}

/** The servers in `targets` send every decrypted share with S_ji moved. */
function badDecryptions(parties: Parties, targets: ReadonlySet<number>) {
  return (server: number, message: Uint8Array): Uint8Array => {
    const envelope = decodeEnvelope(message);
    if (!targets.has(server) || envelope.kind !== MessageKind.decryption) return message;
    const body = decodeDecryption(envelope.body, parties.config.servers.length);
    const shares = body.shares.map(({ dealer, share }) => ({ dealer, share: { ...share, point: share.point.add(RistrettoPoint.BASE) } }));
    return resign(parties, server, MessageKind.decryption, encodeDecryption({ replyTo: body.replyTo, shares }));
  };
}

describe("DRP honest runs", () => {
  for (const [n, groups] of [
    [4, 1],
    [7, 2],
    [16, 4],
  ] as const) {
    it(`n = ${n} in ${groups} group(s): Z as recomputed directly, the transcript verifies, runs repeat exactly`, () => {
      const parties = makeParties(n, groups, `honest-${n}`);
      const first = runAndCheck(parties);
      const again = runSession(parties);
      assert.deepEqual(again.transcript(), first.transcript);
      const chosen = chosenOf(parties, first.transcript);
      assert.equal(chosen.flat().length, parties.config.groups.reduce((sum, g) => sum + Math.floor(g.length / 3) + 1, 0));
    });
  }
});

describe("DRP runs with faulty servers", () => {
  it("n = 4 with f = 1 silent server", () => {
    const parties = makeParties(4, 1, "silent-4");
    const { transcript } = runAndCheck(parties, { silent: new Set([2]) });
    assert.ok(!chosenOf(parties, transcript).flat().includes(2));
  });

  it("n = 16 with f = 5 silent servers spread over the groups", () => {
    const parties = makeParties(16, 4, "silent-16");
    const groups = parties.config.groups;
    const silent = new Set([groups[0]![0]!, groups[0]![1]!, groups[1]![0]!, groups[2]![0]!, groups[3]![0]!]);
    const { transcript } = runAndCheck(parties, { silent });
    assert.ok(chosenOf(parties, transcript).flat().every((dealer) => !silent.has(dealer)));
  });

  for (const part of ["share", "proof"] as const) {
    it(`a deal with a bad encrypted ${part} is never chosen, the run succeeds`, () => {
      const parties = makeParties(4, 1, `bad-${part}`);
      const { transcript } = runAndCheck(parties, { rewrite: badDeal(parties, 1, part) });
      assert.ok(!chosenOf(parties, transcript).flat().includes(1));
    });
  }

  it("a wrong Schnorr response is left out of the signers (an exception), the run succeeds", () => {
    const parties = makeParties(4, 1, "bad-response-4");
    const wrongResponse = (server: number, message: Uint8Array): Uint8Array => {
      const envelope = decodeEnvelope(message);
      if (server !== 0 || envelope.kind !== MessageKind.response) return message;
      const body = decodeResponse(envelope.body);
      const response = ed25519.Point.Fn.toBytes(ed25519.Point.Fn.add(bytesToNumberLE(body.response), 1n));
      return resign(parties, 0, MessageKind.response, encodeResponse({ replyTo: body.replyTo, response }));
    };
    const { transcript } = runAndCheck(parties, { rewrite: wrongResponse });
    const reveal = decodeReveal(decodeEnvelope(decodeTranscriptParts(transcript).reveal).body, 4);
    assert.deepEqual(reveal.signers, [1, 2, 3]);
  });

  it("f = 2 servers of n = 7 sending bad decrypted shares: skipped, the run succeeds", () => {
    const parties = makeParties(7, 1, "bad-decryption-7");
    runAndCheck(parties, { rewrite: badDecryptions(parties, new Set([0, 5])) });
  });

  it("a silent server and a bad decryptor at once (n = 7, f = 2)", () => {
    const parties = makeParties(7, 1, "mixed-7");
    runAndCheck(parties, { silent: new Set([3]), rewrite: badDecryptions(parties, new Set([4])) });
  });

  it("more faults than tolerated fail with a code", () => {
    const four = makeParties(4, 1, "too-many-4");
    assert.equal(codeOf(() => runSession(four, { silent: new Set([0, 3]) })), "DRP_TOO_FEW_SIGNERS");
    const allButOneBad = (server: number, message: Uint8Array): Uint8Array =>
      [0, 1, 2].reduce((bytes, target) => badDeal(four, target, "share")(server, bytes), message);
    assert.equal(codeOf(() => runSession(four, { rewrite: allButOneBad })), "DRP_TOO_FEW_SHARES");
    assert.equal(codeOf(() => runSession(four, { rewrite: badDecryptions(four, new Set([0, 1, 2])) })), "DRP_TOO_FEW_SHARES");
  });

  it("a trustee refuses to co-sign a T' that breaks the rules (DRP_BAD_CHOICE), an l3 whose signature fails, and ignores a T' leaving it out", () => {
    const parties = makeParties(4, 1, "bad-choice-4");
    const { config } = parties;
    const client = new DrpClient(config, parties.clientSecret, SeededRng.fromSeed("bad-choice-4/client"));
    const known = knownParties(config);
    const servers = config.servers.map(
      (_, i) => new DrpServer(i, known, parties.serverSecrets[i]!, SeededRng.fromSeed(`bad-choice-4/${i}`), new SessionGuard(localClock(parties))),
    );
    const [l1] = client.start();
    const [l2] = servers.flatMap((server) => server.receive(l1!)).flatMap((deal) => client.receive(deal));
    const choice = decodeChoice(decodeEnvelope(l2!).body, 4, 1);
    const signed = (changed: Choice): Uint8Array => signEnvelope(MessageKind.choice, CLIENT_SENDER, encodeChoice(changed, 4), parties.clientSecret).bytes;
    const [altered, malformed] = choice.chosen[0]!;
    const { shareIndex } = groupOf(config, 0);
    // Server 0's share of one chosen deal moved, of the other replaced by a non-canonical encoding.
    const withShare = (target: number): Uint8Array[] => choice.deals.map((bytes, k) => {
      const dealer = choice.chosen.flat()[k]!;
      const theDeal = decodeDeal(bytes);
      if (dealer !== target) return bytes;
      if (dealer === altered) {
        const shares = theDeal.shares.map((share, position) => (position === shareIndex - 1 ? { ...share, point: share.point.add(RistrettoPoint.BASE) } : share));
        return encodeDeal({ ...theDeal, shares });
      }
      const bad = Uint8Array.from(bytes);
      bad.fill(0xff, 4 + 32 * theDeal.threshold + 96 * (shareIndex - 1), 4 + 32 * theDeal.threshold + 96 * (shareIndex - 1) + 32);
      return bad;
    });
    const short = { ...choice, chosen: [choice.chosen[0]!.slice(1)], deals: choice.deals.slice(1) };
    const otherCommitment = { ...choice, commitments: choice.commitments.map((point, k) => (k === choice.committed.indexOf(0) ? choice.commitments[(k + 1) % choice.commitments.length]! : point)) };
    for (const [what, bad] of [
      ["a deal whose share for it was moved", signed({ ...choice, deals: withShare(altered!) })],
      ["a deal whose share for it does not decode", signed({ ...choice, deals: withShare(malformed!) })],
      ["a group below its threshold", signed(short)],
      ["another V_0 than it committed", signed(otherCommitment)],
    ] as const) {
      assert.equal(codeOf(() => servers[0]!.receive(bad)), "DRP_BAD_CHOICE", what);
    }
    // A T' whose W leaves server 0 out (its deal came late) is no fault: ignored.
    const late = choice.committed.indexOf(0);
    const without = { ...choice, committed: choice.committed.filter((server) => server !== 0), commitments: choice.commitments.filter((_, k) => k !== late) };
    assert.deepEqual(servers[0]!.receive(signed(without)), []);
    // Each refusal left the server waiting for T': the client's own l2 is answered.
    const responses = servers.flatMap((server) => server.receive(l2!));
    assert.equal(responses.length, 4, "control: the honest T' is co-signed by all");
    const [l3] = responses.flatMap((response) => client.receive(response));
    const reveal = decodeReveal(decodeEnvelope(l3!).body, 4);
    const forged = signEnvelope(MessageKind.reveal, CLIENT_SENDER, encodeReveal({ ...reveal, response: ed25519.Point.Fn.toBytes(ed25519.Point.Fn.add(bytesToNumberLE(reveal.response), 1n)) }, 4), parties.clientSecret).bytes;
    assert.equal(codeOf(() => servers[1]!.receive(forged)), "DRP_BAD_COLLECTIVE_SIGNATURE");
    const fewer = signEnvelope(MessageKind.reveal, CLIENT_SENDER, encodeReveal({ ...reveal, signers: reveal.signers.slice(0, 2) }, 4), parties.clientSecret).bytes;
    assert.equal(codeOf(() => servers[1]!.receive(fewer)), "DRP_TOO_FEW_SIGNERS");
    const dealersOf = (i: number): number[] => decodeDecryption(decodeEnvelope(servers[i]!.receive(l3!)[0]!).body, 4).shares.map(({ dealer }) => dealer);
    assert.deepEqual(dealersOf(1), choice.chosen[0], "control: after the refusals, the honest l3 is answered with every chosen share");
  });

  it("the client refuses output and transcript before the run is done, and a second start", () => {
    const parties = makeParties(4, 1, "phase-4");
    const client = new DrpClient(parties.config, parties.clientSecret, SeededRng.fromSeed("phase-4/client"));
    assert.equal(codeOf(() => client.output()), "DRP_WRONG_PHASE");
    assert.equal(codeOf(() => client.transcript()), "DRP_WRONG_PHASE");
    client.start();
    assert.equal(codeOf(() => client.start()), "DRP_WRONG_PHASE");
  });
});
