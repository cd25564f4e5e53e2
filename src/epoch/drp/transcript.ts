/**
 * The DRP transcript L (white paper §5.2, Algorithm 2 step 7d) and its offline verification,
 * Algorithm 3. L holds C, every message the client sent and recorded, and the output Z:
 *
 *   u8 version ‖ u32 |C| ‖ C ‖ u32 |l1| ‖ l1 ‖ u16 k ‖ k × (u32 |R1_i| ‖ R1_i) ‖ u32 |l2| ‖ l2 ‖
 *   u16 k ‖ k × R2_i ‖ u32 |l3| ‖ l3 ‖ u16 k ‖ k × R3_i ‖ Z (32, ristretto255)
 *
 * with server messages in strictly ascending sender order (one encoding per transcript).
 * `verifyTranscript` runs the checks below in order and throws an IosError whose code names the
 * first that fails; the client records authentic answers only, so unlike Algorithm 3 step 2 an
 * inauthentic or misdirected message is a fault of L, not a message to skip.
 *
 *   structure                                    DRP_MALFORMED
 *   1  C: f = ⌊(n − 1)/3⌋, keys and their PoPs,
 *      balanced seeded T                         DRP_BAD_CONFIG
 *   2  every signature                           DRP_BAD_SIGNATURE
 *   1  H(C) in l1, l2, l3; l1 announces C        DRP_BAD_SESSION_ID
 *   3  H(l1), H(l2), H(l3) in the responses      DRP_BAD_RESPONSE_HASH
 *   4  T': t_l per group, Σ t_l ≥ f + 1, dealers
 *      recorded, forwarded deals and V_i as in R1 DRP_BAD_CHOICE
 *   4  ≥ 2f + 1 signers, each with a recorded R2  DRP_TOO_FEW_SIGNERS
 *   4  r = Σ r_i, r·B = Σ V_i + c·Σ A_i           DRP_BAD_COLLECTIVE_SIGNATURE
 *   5  chosen deals' encrypted shares             DRP_BAD_SHARE
 *   5  t_l valid decrypted shares per secret      DRP_TOO_FEW_SHARES
 *   6  Z' = Σ S_j0 equals Z                       DRP_WRONG_OUTPUT
 *
 * The client chooses only dealers whose every share verified, so any failing share of a chosen
 * deal rejects L (Algorithm 3 step 5 would accept a deal with t_l good shares).
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { POINT_BYTES } from "../../codec/sizes.js";
import { sameBytes } from "../../bytes.js";
import { check } from "../../errors.js";
import {
  checkConfig,
  dealContext,
  decodeConfig,
  groupOf,
  randomnessOf,
  sessionIdOf,
  signerQuorum,
  type DrpConfig,
} from "./config.js";
import { choiceChallenge, sumPoints, sumScalars, verifyAggregate } from "./cosign.js";
import { RistrettoPoint, pointBytes, readPoint } from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";
import {
  MessageKind,
  decodeAnnounce,
  decodeChoice,
  decodeDealMessage,
  decodeDecryption,
  decodeEnvelope,
  decodeResponse,
  decodeReveal,
  encodeChoiceList,
  isAuthentic,
  messageHash,
  type Announce,
  type Choice,
  type DealMessage,
  type Decryption,
  type Reveal,
  type SchnorrResponse,
  type SignedMessage,
} from "./messages.js";
import { verifyEncryptedShares } from "./pvss.js";
import { choiceProblem, dealFitsGroup, groupKeys, recoverOutput } from "./rules.js";
import type { DrpOutput } from "./session.js";

/** 2: C carries the chain id and the servers' proofs of possession. */
export const TRANSCRIPT_VERSION = 2;
const CODES = singleCode<DrpErrorCode>("DRP_MALFORMED");
/** The largest transcript read or kept: n = 3f + 1 servers in the thousands stay well below it (235 KB at n = 64 in groups of 16). */
export const MAX_TRANSCRIPT_BYTES = 256 * 1024 * 1024;

/** The raw parts of L, messages as signed envelopes. */
export interface TranscriptParts {
  readonly config: Uint8Array;
  readonly announce: Uint8Array;
  readonly deals: readonly Uint8Array[];
  readonly choice: Uint8Array;
  readonly responses: readonly Uint8Array[];
  readonly reveal: Uint8Array;
  readonly decryptions: readonly Uint8Array[];
  readonly z: RistrettoPoint;
}

export function encodeTranscript(parts: TranscriptParts): Uint8Array {
  const single = [parts.config, parts.announce, parts.choice, parts.reveal];
  const lists = [parts.deals, parts.responses, parts.decryptions];
  const size =
    1 + single.reduce((sum, m) => sum + 4 + m.length, 0) + lists.reduce((sum, list) => sum + 2 + list.reduce((s, m) => s + 4 + m.length, 0), 0) + POINT_BYTES;
  const writer = BinaryWriter.ofSize(size).u8(TRANSCRIPT_VERSION).lengthPrefixed("u32", parts.config).lengthPrefixed("u32", parts.announce);
  const writeList = (list: readonly Uint8Array[]): void => {
    writer.u16(list.length);
    for (const message of list) writer.lengthPrefixed("u32", message);
  };
  writeList(parts.deals);
  writer.lengthPrefixed("u32", parts.choice);
  writeList(parts.responses);
  writer.lengthPrefixed("u32", parts.reveal);
  writeList(parts.decryptions);
  return writer.bytes(pointBytes(parts.z)).finish();
}

export function decodeTranscriptParts(bytes: Uint8Array): TranscriptParts {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  const version = reader.u8("version");
  check<DrpErrorCode>(version === TRANSCRIPT_VERSION, "DRP_MALFORMED", `transcript version ${version} is not ${TRANSCRIPT_VERSION}`);
  const one = (what: string): Uint8Array => reader.lengthPrefixed("u32", bytes.length, what);
  const list = (what: string): Uint8Array[] => Array.from({ length: reader.u16(`${what} count`) }, () => one(what));
  const config = one("configuration");
  const announce = one("announce");
  const deals = list("deal");
  const choice = one("choice");
  const responses = list("response");
  const reveal = one("reveal");
  const decryptions = list("decryption");
  const z = readPoint(reader, "Z");
  reader.expectEnd("the transcript");
  return { config, announce, deals, choice, responses, reveal, decryptions, z };
}

interface Entry<Body> {
  readonly message: SignedMessage;
  readonly body: Body;
}

/** L decoded: every message's envelope and body, server messages keyed by ascending sender. */
interface Transcript {
  readonly configBytes: Uint8Array;
  readonly config: DrpConfig;
  readonly announce: Entry<Announce>;
  readonly deals: ReadonlyMap<number, Entry<DealMessage>>;
  readonly choice: Entry<Choice>;
  readonly responses: ReadonlyMap<number, Entry<SchnorrResponse>>;
  readonly reveal: Entry<Reveal>;
  readonly decryptions: ReadonlyMap<number, Entry<Decryption>>;
  readonly z: RistrettoPoint;
}

function entry<Body>(bytes: Uint8Array, kind: MessageKind, decodeBody: (body: Uint8Array) => Body): Entry<Body> {
  const message = decodeEnvelope(bytes);
  check<DrpErrorCode>(message.kind === kind, "DRP_MALFORMED", `a kind ${message.kind} message stands where kind ${kind} belongs`);
  return { message, body: decodeBody(message.body) };
}

function entries<Body>(list: readonly Uint8Array[], serverCount: number, kind: MessageKind, decodeBody: (body: Uint8Array) => Body): Map<number, Entry<Body>> {
  const map = new Map<number, Entry<Body>>();
  let previous = -1;
  for (const bytes of list) {
    const decoded = entry(bytes, kind, decodeBody);
    const sender = decoded.message.sender;
    check<DrpErrorCode>(sender > previous && sender < serverCount, "DRP_MALFORMED", `kind ${kind} senders are not ascending servers`);
    previous = sender;
    map.set(sender, decoded);
  }
  return map;
}

function decodeTranscript(bytes: Uint8Array): Transcript {
  const parts = decodeTranscriptParts(bytes);
  const config = decodeConfig(parts.config);
  const n = config.servers.length;
  return {
    configBytes: parts.config,
    config,
    announce: entry(parts.announce, MessageKind.announce, decodeAnnounce),
    deals: entries(parts.deals, n, MessageKind.deal, decodeDealMessage),
    choice: entry(parts.choice, MessageKind.choice, (body) => decodeChoice(body, n, config.groups.length)),
    responses: entries(parts.responses, n, MessageKind.response, decodeResponse),
    reveal: entry(parts.reveal, MessageKind.reveal, (body) => decodeReveal(body, n)),
    decryptions: entries(parts.decryptions, n, MessageKind.decryption, (body) => decodeDecryption(body, n)),
    z: parts.z,
  };
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * What L proves. L is checked for consistency with its own C; whether C is the intended session
 * (the servers' keys X from the identity chain, u and w: Algorithm 3 step 1) is the caller's check.
 */
export interface VerifiedTranscript extends DrpOutput {
  readonly config: DrpConfig;
  readonly sessionId: Uint8Array;
}

/** Algorithm 3: Z, rnd and C if L proves them, otherwise an IosError naming the first failed check. */
export function verifyTranscript(bytes: Uint8Array): VerifiedTranscript {
  const L = decodeTranscript(bytes);
  const { config } = L;
  checkConfig(config);

  const serverMessages = [L.deals, L.responses, L.decryptions].flatMap((map) => [...map.values()].map(({ message }) => message));
  for (const message of [L.announce.message, L.choice.message, L.reveal.message]) {
    check<DrpErrorCode>(isAuthentic(message, config.clientKey), "DRP_BAD_SIGNATURE", `the client's kind ${message.kind} message is not signed by the client`);
  }
  for (const message of serverMessages) {
    const key = config.servers[message.sender]!.signingKey;
    check<DrpErrorCode>(isAuthentic(message, key), "DRP_BAD_SIGNATURE", `the kind ${message.kind} message of server ${message.sender} is not signed by it`);
  }

  const sessionId = sessionIdOf(L.configBytes);
  check<DrpErrorCode>(sameBytes(L.announce.body.config, L.configBytes), "DRP_BAD_SESSION_ID", "l1 announces another configuration");
  for (const { sessionId: carried } of [L.announce.body, L.choice.body, L.reveal.body]) {
    check<DrpErrorCode>(sameBytes(carried, sessionId), "DRP_BAD_SESSION_ID", "a client message carries another session id");
  }

  const answers: readonly [ReadonlyMap<number, Entry<{ readonly replyTo: Uint8Array }>>, SignedMessage][] = [
    [L.deals, L.announce.message],
    [L.responses, L.choice.message],
    [L.decryptions, L.reveal.message],
  ];
  for (const [responses, question] of answers) {
    const expected = messageHash(question);
    for (const [server, { body }] of responses) {
      check<DrpErrorCode>(sameBytes(body.replyTo, expected), "DRP_BAD_RESPONSE_HASH", `server ${server}'s kind ${question.kind + 1} message answers another message`);
    }
  }

  const choice = L.choice.body;
  const problem = choiceProblem(config, choice.chosen);
  check<DrpErrorCode>(problem === undefined, "DRP_BAD_CHOICE", problem ?? "");
  const chosenDealers = choice.chosen.flat();
  chosenDealers.forEach((dealer, k) => {
    const recorded = L.deals.get(dealer);
    check<DrpErrorCode>(recorded !== undefined, "DRP_BAD_CHOICE", `chosen dealer ${dealer} has no recorded deal`);
    check<DrpErrorCode>(sameBytes(choice.deals[k]!, recorded.body.dealBytes), "DRP_BAD_CHOICE", `l2 forwards another deal than dealer ${dealer}'s`);
  });
  check<DrpErrorCode>(sameList(choice.committed, [...L.deals.keys()]), "DRP_BAD_CHOICE", "the committed servers are not those whose deals are recorded");
  choice.committed.forEach((server, k) =>
    check<DrpErrorCode>(sameBytes(choice.commitments[k]!, L.deals.get(server)!.body.commitment), "DRP_BAD_CHOICE", `l2 forwards another V_${server}`),
  );

  const signers = L.reveal.body.signers;
  check<DrpErrorCode>(signers.length >= signerQuorum(config), "DRP_TOO_FEW_SIGNERS", `${signers.length} signers, ${signerQuorum(config)} needed`);
  check<DrpErrorCode>(sameList(signers, [...L.responses.keys()]), "DRP_TOO_FEW_SIGNERS", "the signers are not the servers whose responses are recorded");
  check<DrpErrorCode>(signers.every((server) => L.deals.has(server)), "DRP_TOO_FEW_SIGNERS", "a signer did not commit");
  const response = L.reveal.body.response;
  check<DrpErrorCode>(
    sameBytes(response, sumScalars(signers.map((server) => L.responses.get(server)!.body.response))),
    "DRP_BAD_COLLECTIVE_SIGNATURE",
    "r is not the sum of the recorded responses",
  );
  const challenge = choiceChallenge(sumPoints(choice.commitments), sessionId, encodeChoiceList(choice.chosen));
  check<DrpErrorCode>(
    verifyAggregate(
      response,
      challenge,
      signers.map((server) => L.deals.get(server)!.body.commitment),
      signers.map((server) => config.servers[server]!.signingKey),
    ),
    "DRP_BAD_COLLECTIVE_SIGNATURE",
    "the collective signature on T' does not verify",
  );

  const deals = new Map(chosenDealers.map((dealer) => [dealer, L.deals.get(dealer)!.body.deal]));
  for (const [dealer, deal] of deals) {
    const { group } = groupOf(config, dealer);
    check<DrpErrorCode>(
      dealFitsGroup(config, dealer, deal.shares.length, deal.threshold) && verifyEncryptedShares(deal, groupKeys(config, group), dealContext(sessionId, dealer)).length === 0,
      "DRP_BAD_SHARE",
      `chosen dealer ${dealer}'s deal has a share that fails its proof`,
    );
  }
  const decryptions = new Map([...L.decryptions].map(([server, { body }]) => [server, body]));
  const z = recoverOutput(config, sessionId, choice.chosen, deals, decryptions);
  check<DrpErrorCode>(z.equals(L.z), "DRP_WRONG_OUTPUT", "Z is not the sum of the recovered secrets");
  return { z, rnd: randomnessOf(z), config, sessionId };
}
