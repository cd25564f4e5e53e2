/**
 * The DRP transcript and its offline verifier (src/epoch/drp/transcript.ts, white paper §5.2
 * Algorithm 3): every single-byte change of an n = 4 transcript (a deterministic sample of every
 * section) is refused with a DRP code; a message signed by another server and a response
 * carrying the wrong hash or replayed from another session are ignored by the client and refused
 * by the verifier; transcripts re-signed after a deliberate fault are refused with the code of
 * that check (configuration, session id, choice, signers, collective signature, shares, output).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeConfig, encodeConfig } from "../../../src/epoch/drp/config.js";
import { RistrettoPoint } from "../../../src/epoch/drp/dleq.js";
import {
  CLIENT_SENDER,
  MessageKind,
  decodeAnnounce,
  decodeChoice,
  decodeDealMessage,
  decodeEnvelope,
  decodeResponse,
  decodeReveal,
  encodeAnnounce,
  encodeChoice,
  encodeDealMessage,
  encodeResponse,
  encodeReveal,
  messageHash,
  signEnvelope,
  type Choice,
} from "../../../src/epoch/drp/messages.js";
import { encodeDeal } from "../../../src/epoch/drp/pvss.js";
import { decodeTranscriptParts, encodeTranscript, verifyTranscript, type TranscriptParts } from "../../../src/epoch/drp/transcript.js";
import { codeOf, NO_ERROR } from "../../support/errors.js";
import { makeParties, resign, runSession, type Parties } from "./harness.js";

const parties = makeParties(4, 1, "transcript-4");
const honest = runSession(parties);
const transcript = honest.transcript();
const parts = decodeTranscriptParts(transcript);
const n = parties.config.servers.length;

function signByClient(kind: MessageKind, body: Uint8Array): Uint8Array {
  return signEnvelope(kind, CLIENT_SENDER, body, parties.clientSecret).bytes;
}

function senderOf(message: Uint8Array): number {
  return decodeEnvelope(message).sender;
}

function choiceOf(l2: Uint8Array): Choice {
  return decodeChoice(decodeEnvelope(l2).body, n, parties.config.groups.length);
}

/** The parts with l2 replaced by `choice` (signed by the client) and every R2 re-signed to answer it. */
function withChoice(base: TranscriptParts, choice: Choice): TranscriptParts {
  const l2 = signByClient(MessageKind.choice, encodeChoice(choice, n));
  const hash = messageHash(decodeEnvelope(l2));
  const responses = base.responses.map((r2) => {
    const { response } = decodeResponse(decodeEnvelope(r2).body);
    return resign(parties, senderOf(r2), MessageKind.response, encodeResponse({ replyTo: hash, response }));
  });
  return { ...base, choice: l2, responses };
}

function verifyCode(edited: TranscriptParts): string {
  return codeOf(() => verifyTranscript(encodeTranscript(edited)));
}

describe("DRP transcript verification", () => {
  it("accepts the honest transcript, which re-encodes byte for byte", () => {
    assert.equal(verifyCode(parts), NO_ERROR);
    assert.deepEqual(encodeTranscript(parts), transcript);
    const verified = verifyTranscript(transcript);
    assert.ok(verified.z.equals(honest.output().z));
    assert.deepEqual(verified.sessionId, honest.sessionId);
    assert.deepEqual(encodeConfig(verified.config), encodeConfig(parties.config));
  });

  it("refuses every sampled single-byte change, covering every section, with a DRP code", () => {
    const sections = [parts.config, parts.announce, ...parts.deals, parts.choice, ...parts.responses, parts.reveal, ...parts.decryptions];
    const positions = new Set<number>();
    // Each section's first and last 8 bytes (its length prefix is just before it), and a stride.
    for (const section of sections) {
      const start = section.byteOffset - transcript.byteOffset;
      for (let k = -4; k < 8; k++) positions.add(start + k);
      for (let k = 1; k <= 8; k++) positions.add(start + section.length - k);
    }
    for (let p = 0; p < transcript.length; p += 17) positions.add(p);
    for (let p = transcript.length - 40; p < transcript.length; p++) positions.add(p);
    positions.add(0);
    assert.ok(positions.size >= 300, `${positions.size} positions`);
    const codes = new Map<string, number>();
    for (const position of positions) {
      const flipped = Uint8Array.from(transcript);
      flipped[position]! ^= 0xff;
      const code = codeOf(() => verifyTranscript(flipped));
      assert.match(code, /^DRP_/, `a flip at ${position} of ${transcript.length} gives ${code}`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    for (const expected of ["DRP_MALFORMED", "DRP_BAD_SIGNATURE", "DRP_WRONG_OUTPUT"]) assert.ok(codes.has(expected), `${expected} among ${[...codes.keys()]}`);
  });

  it("a deal signed by another server is ignored by the client and refused by the verifier", () => {
    const forge = (server: number, message: Uint8Array): Uint8Array => {
      const envelope = decodeEnvelope(message);
      return server === 1 && envelope.kind === MessageKind.deal
        ? signEnvelope(MessageKind.deal, 1, envelope.body, parties.serverSecrets[2]!.signingSeed).bytes
        : message;
    };
    const run = decodeTranscriptParts(runSession(parties, { rewrite: forge }).transcript());
    assert.deepEqual(run.deals.map(senderOf), [0, 2, 3]);
    assert.ok(!choiceOf(run.choice).committed.includes(1));
    const forged = forge(1, parts.deals[1]!);
    assert.equal(verifyCode({ ...parts, deals: parts.deals.map((deal, k) => (k === 1 ? forged : deal)) }), "DRP_BAD_SIGNATURE");
  });

  it("a response carrying the hash of another message is ignored by the client and refused by the verifier", () => {
    const wrongHash = messageHash(decodeEnvelope(parts.announce));
    const misdirect = (server: number, message: Uint8Array): Uint8Array => {
      const envelope = decodeEnvelope(message);
      if (server !== 3 || envelope.kind !== MessageKind.response) return message;
      const { response } = decodeResponse(envelope.body);
      return resign(parties, 3, MessageKind.response, encodeResponse({ replyTo: wrongHash, response }));
    };
    const run = decodeTranscriptParts(runSession(parties, { rewrite: misdirect }).transcript());
    assert.deepEqual(run.responses.map(senderOf), [0, 1, 2]);
    assert.deepEqual(decodeReveal(decodeEnvelope(run.reveal).body, n).signers, [0, 1, 2]);
    const responses = parts.responses.map((r2) => misdirect(senderOf(r2), r2));
    assert.equal(verifyCode({ ...parts, responses }), "DRP_BAD_RESPONSE_HASH");
  });

  it("a deal replayed from another session is ignored by the client and refused by the verifier", () => {
    const other = makeParties(4, 1, "transcript-4");
    const otherParties: Parties = { ...other, config: { ...other.config, timestamp: other.config.timestamp + 1 } };
    const replayed = decodeTranscriptParts(runSession(otherParties).transcript()).deals[0]!;
    const replay = (server: number, message: Uint8Array): Uint8Array =>
      server === 0 && decodeEnvelope(message).kind === MessageKind.deal ? replayed : message;
    const run = decodeTranscriptParts(runSession(parties, { rewrite: replay }).transcript());
    assert.deepEqual(run.deals.map(senderOf), [1, 2, 3]);
    assert.equal(verifyCode({ ...parts, deals: [replayed, ...parts.deals.slice(1)] }), "DRP_BAD_RESPONSE_HASH");
  });

  it("names the failed check of deliberately faulty, re-signed transcripts", () => {
    const config = decodeConfig(parts.config);
    assert.equal(verifyCode({ ...parts, config: encodeConfig({ ...config, faultTolerance: 2 }) }), "DRP_BAD_CONFIG");
    assert.equal(verifyCode({ ...parts, config: encodeConfig({ ...config, groups: [[3, 2, 1, 0]] }) }), "DRP_BAD_CONFIG");

    const announce = decodeAnnounce(decodeEnvelope(parts.announce).body);
    const wrongId = Uint8Array.from(announce.sessionId);
    wrongId[0]! ^= 1;
    const l1 = signByClient(MessageKind.announce, encodeAnnounce({ ...announce, sessionId: wrongId }));
    assert.equal(verifyCode({ ...parts, announce: l1 }), "DRP_BAD_SESSION_ID");

    const choice = choiceOf(parts.choice);
    assert.equal(verifyCode(withChoice(parts, choice)), NO_ERROR, "re-signing alone keeps the transcript valid");
    const [chosen] = choice.chosen;
    const unchosen = [0, 1, 2, 3].find((server) => !chosen!.includes(server))!;
    const otherDeal = decodeDealMessage(decodeEnvelope(parts.deals[unchosen]!).body).dealBytes;
    const moreDealers = { ...choice, chosen: [[...chosen!, unchosen].sort()], deals: [...choice.deals, otherDeal] };
    assert.equal(verifyCode(withChoice(parts, moreDealers)), "DRP_BAD_CHOICE");
    assert.equal(verifyCode(withChoice(parts, { ...choice, deals: [otherDeal, ...choice.deals.slice(1)] })), "DRP_BAD_CHOICE");

    assert.equal(verifyCode({ ...parts, responses: parts.responses.slice(1) }), "DRP_TOO_FEW_SIGNERS");
    const reveal = decodeReveal(decodeEnvelope(parts.reveal).body, n);
    const fewer = signByClient(MessageKind.reveal, encodeReveal({ ...reveal, signers: reveal.signers.slice(1) }, n));
    // No R3 then, as none answers this l3.
    assert.equal(verifyCode({ ...parts, reveal: fewer, decryptions: [] }), "DRP_TOO_FEW_SIGNERS");

    const badResponse = Uint8Array.from(reveal.response);
    badResponse[0]! ^= 1;
    const wrongSum = signByClient(MessageKind.reveal, encodeReveal({ ...reveal, response: badResponse }, n));
    assert.equal(verifyCode({ ...parts, reveal: wrongSum, decryptions: [] }), "DRP_BAD_COLLECTIVE_SIGNATURE");

    // A chosen dealer's deal with a moved share, consistently signed in R1 and forwarded in l2.
    const dealer = chosen![0]!;
    const r1 = decodeDealMessage(decodeEnvelope(parts.deals[dealer]!).body);
    const shares = r1.deal.shares.map((share, k) => (k === 1 ? { ...share, point: share.point.add(RistrettoPoint.BASE) } : share));
    const movedDeal = encodeDeal({ ...r1.deal, shares });
    const movedR1 = resign(parties, dealer, MessageKind.deal, encodeDealMessage(r1.replyTo, r1.commitment, movedDeal));
    const withMoved = withChoice({ ...parts, deals: parts.deals.map((deal, k) => (k === dealer ? movedR1 : deal)) }, {
      ...choice,
      deals: choice.deals.map((deal, k) => (k === 0 ? movedDeal : deal)),
    });
    assert.equal(verifyCode(withMoved), "DRP_BAD_SHARE");

    assert.equal(verifyCode({ ...parts, decryptions: parts.decryptions.slice(0, 1) }), "DRP_TOO_FEW_SHARES");
    assert.equal(verifyCode({ ...parts, z: parts.z.add(RistrettoPoint.BASE) }), "DRP_WRONG_OUTPUT");
  });
});
