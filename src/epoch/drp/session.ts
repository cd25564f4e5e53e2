/**
 * The two roles of a DRP run (white paper §5.2, Algorithm 2), pure and message-driven: no timers
 * and no sockets. A role takes one received message and returns the messages to send; all its
 * randomness comes from an injected Rng. The driver delivers messages and, when a phase's
 * deadline passes, calls `DrpClient.closePhase` so the client proceeds without the silent.
 *
 *   client  start        step 1     l1 to all servers
 *           deals        steps 3a–e record authentic R1_i; choose T' among dealers whose whole
 *                                   deal verifies, verifying in a random order until t_l pass
 *                                   per group; l2 to all
 *           responses    step 5     record R2_i whose partial Schnorr response verifies, r, l3
 *           decryptions  step 7     record R3_i, recover the chosen secrets, Z, rnd and L
 *   server  announce     step 2     check C (its parties must be the known X, byte for byte) and
 *                                   the node's SessionGuard (one session per client and purpose,
 *                                   w fresh), deal to its group, commit V_i: R1_i
 *           choice       step 4     check T' and its forwarded shares, respond r_i: R2_i
 *           reveal       step 6     check the collective signature, decrypt the chosen shares: R3_i
 *
 * Messages that fail to decode, are not authentic, answer another message (wrong response hash
 * or session id), come twice or out of phase are ignored (§5.1). A server refuses, throwing an
 * IosError its port's transport records, an authentic l2 or l3 of its session that breaks the
 * rules: DRP_BAD_CHOICE for a T' that is not t_l of each group (step 4a), forwards another V_i
 * than this server committed, or chooses a deal whose share for this server does not verify
 * (Algorithm 3 step 5 would reject such a transcript: signing it could only waste the run);
 * DRP_TOO_FEW_SIGNERS or DRP_BAD_COLLECTIVE_SIGNATURE for an l3 failing step 6a. A T' that leaves
 * this server out of W is no fault (its deal came late) and is ignored. A client phase ends when every
 * expected server has answered or at `closePhase`; it fails with an IosError if a threshold no
 * longer holds: DRP_TOO_FEW_SIGNERS (fewer than 2f + 1 committed or signed) or
 * DRP_TOO_FEW_SHARES (a group without t_l verified deals, a secret without t_l valid shares).
 */
import { SchnorrKey, checkPartial, type Commitment } from "../../crypto/schnorr.js";
import { sameBytes } from "../../bytes.js";
import { IosError, check } from "../../errors.js";
import type { Rng } from "../../runtime/interface.js";
import {
  checkConfig,
  checkSession,
  dealContext,
  decodeConfig,
  encodeConfig,
  groupOf,
  groupThreshold,
  randomnessOf,
  sessionIdOf,
  signerQuorum,
  type DrpConfig,
  type KnownParties,
} from "./config.js";
import type { SessionGuard } from "./guard.js";
import { choiceChallenge, sumPoints, sumScalars, verifyAggregate } from "./cosign.js";
import type { RistrettoPoint } from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";
import {
  CLIENT_SENDER,
  MessageKind,
  decodeAnnounce,
  decodeChoice,
  decodeDealMessage,
  decodeDecryption,
  decodeEnvelope,
  decodeResponse,
  decodeReveal,
  encodeAnnounce,
  encodeChoice,
  encodeChoiceList,
  encodeDealMessage,
  encodeDecryption,
  encodeResponse,
  encodeReveal,
  isAuthentic,
  messageHash,
  signEnvelope,
  type Choice,
  type DealMessage,
  type DealerShare,
  type Decryption,
  type SchnorrResponse,
  type SignedMessage,
} from "./messages.js";
import { deal, decodeDealShare, decryptShare, encodeDeal, verifyEncryptedShare, verifyEncryptedShares } from "./pvss.js";
import { chooseVerified, choiceProblem, dealFitsGroup, groupKeys, recoverOutput } from "./rules.js";
import { encodeTranscript } from "./transcript.js";

export interface DrpOutput {
  /** Z = Σ S_j0 over the chosen dealers. */
  readonly z: RistrettoPoint;
  /** SHA-256(domain ‖ Z). */
  readonly rnd: Uint8Array;
}

export type ClientPhase = "ready" | "dealing" | "signing" | "decrypting" | "done" | "failed";

interface Recorded<Body> {
  readonly message: SignedMessage;
  readonly body: Body;
}

/** A decoded message, or undefined for anything §5.1 says to ignore. */
function tryDecode<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error instanceof IosError) return undefined;
    throw error;
  }
}

export class DrpClient {
  readonly sessionId: Uint8Array;
  readonly #config: DrpConfig;
  readonly #configBytes: Uint8Array;
  readonly #secretKey: Uint8Array;
  readonly #rng: Rng;
  #phase: ClientPhase = "ready";
  /** The hash of the client message the current phase's responses must answer. */
  #awaitedHash: Uint8Array | undefined;
  readonly #sent: SignedMessage[] = [];
  readonly #deals = new Map<number, Recorded<DealMessage>>();
  #choice: Choice | undefined;
  #challenge: Uint8Array | undefined;
  readonly #responses = new Map<number, Recorded<SchnorrResponse>>();
  readonly #decryptions = new Map<number, Recorded<Decryption>>();
  #output: DrpOutput | undefined;

  /** `secretKey` is the Ed25519 seed of `config.clientKey`; `rng` chooses T'. */
  constructor(config: DrpConfig, secretKey: Uint8Array, rng: Rng) {
    checkConfig(config);
    this.#config = config;
    this.#configBytes = encodeConfig(config);
    this.sessionId = sessionIdOf(this.#configBytes);
    this.#secretKey = secretKey;
    this.#rng = rng;
  }

  get phase(): ClientPhase {
    return this.#phase;
  }

  /** Step 1: the announce l1, to broadcast. */
  start(): Uint8Array[] {
    this.#expectPhase("ready");
    return this.#send(MessageKind.announce, encodeAnnounce({ sessionId: this.sessionId, config: this.#configBytes }), "dealing");
  }

  /** One server message; returns the client messages to broadcast (empty until a phase ends). */
  receive(bytes: Uint8Array): Uint8Array[] {
    const message = tryDecode(() => decodeEnvelope(bytes));
    const answered = this.#awaitedHash;
    if (message === undefined || answered === undefined || message.sender >= this.#config.servers.length) return [];
    if (!isAuthentic(message, this.#config.servers[message.sender]!.signingKey)) return [];
    if (this.#phase === "dealing" && message.kind === MessageKind.deal) return this.#receiveDeal(message, answered);
    if (this.#phase === "signing" && message.kind === MessageKind.response) return this.#receiveResponse(message, answered);
    if (this.#phase === "decrypting" && message.kind === MessageKind.decryption) return this.#receiveDecryption(message, answered);
    return [];
  }

  /** The phase's deadline passed: proceed with the answers at hand (or fail with a code). */
  closePhase(): Uint8Array[] {
    if (this.#phase === "dealing") return this.#commit();
    if (this.#phase === "signing") return this.#reveal();
    if (this.#phase === "decrypting") return this.#recover();
    return [];
  }

  output(): DrpOutput {
    this.#expectPhase("done");
    return this.#output!;
  }

  /** L: C and every message sent and recorded, with Z (transcript.ts). */
  transcript(): Uint8Array {
    this.#expectPhase("done");
    const [announce, choice, reveal] = this.#sent;
    const messages = <Body>(recorded: ReadonlyMap<number, Recorded<Body>>): SignedMessage[] =>
      [...recorded.keys()].sort((a, b) => a - b).map((server) => recorded.get(server)!.message);
    return encodeTranscript({
      config: this.#configBytes,
      announce: announce!.bytes,
      deals: messages(this.#deals).map((m) => m.bytes),
      choice: choice!.bytes,
      responses: messages(this.#responses).map((m) => m.bytes),
      reveal: reveal!.bytes,
      decryptions: messages(this.#decryptions).map((m) => m.bytes),
      z: this.#output!.z,
    });
  }

  #expectPhase(phase: ClientPhase): void {
    check<DrpErrorCode>(this.#phase === phase, "DRP_WRONG_PHASE", `the client is ${this.#phase}, not ${phase}`);
  }

  #send(kind: MessageKind, body: Uint8Array, next: ClientPhase): Uint8Array[] {
    const message = signEnvelope(kind, CLIENT_SENDER, body, this.#secretKey);
    this.#sent.push(message);
    this.#awaitedHash = messageHash(message);
    this.#phase = next;
    return [message.bytes];
  }

  /** Runs a phase transition; a coded failure ends the run. */
  #advance(step: () => Uint8Array[]): Uint8Array[] {
    try {
      return step();
    } catch (error) {
      this.#phase = "failed";
      throw error;
    }
  }

  #receiveDeal(message: SignedMessage, answered: Uint8Array): Uint8Array[] {
    const body = tryDecode(() => decodeDealMessage(message.body));
    if (body === undefined || this.#deals.has(message.sender) || !sameBytes(body.replyTo, answered)) return [];
    this.#deals.set(message.sender, { message, body });
    return this.#deals.size === this.#config.servers.length ? this.#commit() : [];
  }

  /** Steps 3c–e: T', V, c and l2. */
  #commit(): Uint8Array[] {
    return this.#advance(() => {
      const committed = [...this.#deals.keys()].sort((a, b) => a - b);
      check<DrpErrorCode>(
        committed.length >= signerQuorum(this.#config),
        "DRP_TOO_FEW_SIGNERS",
        `${committed.length} servers committed, the collective signature needs ${signerQuorum(this.#config)}`,
      );
      const chosen = this.#config.groups.map((group, l) => {
        const threshold = groupThreshold(group.length);
        const keys = groupKeys(this.#config, l);
        const picked = chooseVerified(
          group.filter((server) => this.#deals.has(server)),
          threshold,
          this.#rng,
          (dealer) => this.#dealVerifies(dealer, keys),
        );
        check<DrpErrorCode>(picked.length === threshold, "DRP_TOO_FEW_SHARES", `group ${l} has ${picked.length} verified deals, t = ${threshold}`);
        return picked;
      });
      const commitments = committed.map((server) => this.#deals.get(server)!.body.commitment);
      const deals = chosen.flat().map((dealer) => this.#deals.get(dealer)!.body.dealBytes);
      this.#choice = { sessionId: this.sessionId, chosen, committed, commitments, deals };
      this.#challenge = choiceChallenge(sumPoints(commitments), this.sessionId, encodeChoiceList(chosen));
      return this.#send(MessageKind.choice, encodeChoice(this.#choice, this.#config.servers.length), "signing");
    });
  }

  /** Step 3b for one recorded deal: it fits its group and every encrypted share verifies. */
  #dealVerifies(dealer: number, groupPvssKeys: readonly RistrettoPoint[]): boolean {
    const { deal: theDeal } = this.#deals.get(dealer)!.body;
    return (
      dealFitsGroup(this.#config, dealer, theDeal.shares.length, theDeal.threshold) &&
      verifyEncryptedShares(theDeal, groupPvssKeys, dealContext(this.sessionId, dealer)).length === 0
    );
  }

  #receiveResponse(message: SignedMessage, answered: Uint8Array): Uint8Array[] {
    const body = tryDecode(() => decodeResponse(message.body));
    if (body === undefined || this.#responses.has(message.sender) || !sameBytes(body.replyTo, answered)) return [];
    const position = this.#choice!.committed.indexOf(message.sender);
    if (position < 0) return [];
    const signingKey = this.#config.servers[message.sender]!.signingKey;
    if (!checkPartial(body.response, this.#choice!.commitments[position]!, this.#challenge!, signingKey)) return [];
    this.#responses.set(message.sender, { message, body });
    return this.#responses.size === this.#choice!.committed.length ? this.#reveal() : [];
  }

  /** Step 5: r = Σ r_i over the signers, E the committed non-signers, l3. */
  #reveal(): Uint8Array[] {
    return this.#advance(() => {
      const signers = [...this.#responses.keys()].sort((a, b) => a - b);
      check<DrpErrorCode>(
        signers.length >= signerQuorum(this.#config),
        "DRP_TOO_FEW_SIGNERS",
        `${signers.length} servers signed T', at least ${signerQuorum(this.#config)} must`,
      );
      const response = sumScalars(signers.map((server) => this.#responses.get(server)!.body.response));
      return this.#send(MessageKind.reveal, encodeReveal({ sessionId: this.sessionId, signers, response }, this.#config.servers.length), "decrypting");
    });
  }

  #receiveDecryption(message: SignedMessage, answered: Uint8Array): Uint8Array[] {
    const body = tryDecode(() => decodeDecryption(message.body, this.#config.servers.length));
    if (body === undefined || this.#decryptions.has(message.sender) || !sameBytes(body.replyTo, answered)) return [];
    this.#decryptions.set(message.sender, { message, body });
    return this.#decryptions.size === this.#config.servers.length ? this.#recover() : [];
  }

  /** Step 7: verify the decrypted shares, recover each chosen S_j0, Z = Σ S_j0. */
  #recover(): Uint8Array[] {
    return this.#advance(() => {
      const chosen = this.#choice!.chosen;
      const deals = new Map(chosen.flat().map((dealer) => [dealer, this.#deals.get(dealer)!.body.deal]));
      const decryptions = new Map([...this.#decryptions].map(([server, { body }]) => [server, body]));
      const z = recoverOutput(this.#config, this.sessionId, chosen, deals, decryptions);
      this.#output = { z, rnd: randomnessOf(z) };
      this.#phase = "done";
      return [];
    });
  }
}

/** A server's secrets: the Ed25519 seed of its signing key and x_i of its PVSS key y_i = x_i·G. */
export interface ServerSecrets {
  readonly signingSeed: Uint8Array;
  readonly pvssSecret: bigint;
}

interface ServerSession {
  readonly config: DrpConfig;
  readonly sessionId: Uint8Array;
  readonly group: number;
  readonly shareIndex: number;
  readonly commitment: Commitment;
  readonly commitmentPoint: Uint8Array;
  /** After l2: what the reveal is checked against, and the shares to decrypt. */
  choice?: {
    readonly choice: Choice;
    readonly challenge: Uint8Array;
    /** The chosen dealers of the group, each with its share Y_i for this server (verified before signing). */
    readonly shares: ReadonlyMap<number, RistrettoPoint>;
  };
  revealed?: true;
}

export class DrpServer {
  readonly #index: number;
  readonly #known: KnownParties;
  readonly #secrets: ServerSecrets;
  readonly #schnorrKey: SchnorrKey;
  readonly #rng: Rng;
  readonly #guard: SessionGuard;
  #session: ServerSession | undefined;

  /** Server `index` of the known parties (X and the client), with its node's guard across runs. */
  constructor(index: number, known: KnownParties, secrets: ServerSecrets, rng: Rng, guard: SessionGuard) {
    const { servers } = known.parties;
    check<DrpErrorCode>(Number.isInteger(index) && index >= 0 && index < servers.length, "DRP_BAD_ARGUMENT", `server index ${index} is not among ${servers.length}`);
    this.#index = index;
    this.#known = known;
    this.#secrets = secrets;
    this.#schnorrKey = SchnorrKey.fromSeed(secrets.signingSeed);
    check<DrpErrorCode>(sameBytes(this.#schnorrKey.publicKey, servers[index]!.signingKey), "DRP_BAD_ARGUMENT", "the signing seed is not this server's key");
    this.#rng = rng;
    this.#guard = guard;
  }

  /** One client message; returns this server's answers (empty when the message is ignored). */
  receive(bytes: Uint8Array): Uint8Array[] {
    const message = tryDecode(() => decodeEnvelope(bytes));
    if (message === undefined || message.sender !== CLIENT_SENDER || !isAuthentic(message, this.#known.parties.clientKey)) return [];
    let answer: Uint8Array | undefined;
    if (message.kind === MessageKind.announce && this.#session === undefined) answer = tryDecode(() => this.#deal(message));
    else if (message.kind === MessageKind.choice && this.#session !== undefined && this.#session.choice === undefined) answer = this.#respond(message);
    else if (message.kind === MessageKind.reveal && this.#session?.choice !== undefined && this.#session.revealed === undefined) answer = this.#decrypt(message);
    return answer === undefined ? [] : [answer];
  }

  #reply(kind: MessageKind, body: Uint8Array): Uint8Array {
    return signEnvelope(kind, this.#index, body, this.#secrets.signingSeed).bytes;
  }

  /** Step 2: check C against the known parties and the guard, deal to the group, commit V_i. */
  #deal(message: SignedMessage): Uint8Array | undefined {
    const announce = decodeAnnounce(message.body);
    const sessionId = sessionIdOf(announce.config);
    if (!sameBytes(sessionId, announce.sessionId)) return undefined;
    const config = decodeConfig(announce.config, this.#known);
    checkSession(config);
    if (this.#guard.join(config, sessionId) !== undefined) return undefined;
    const { group, shareIndex } = groupOf(config, this.#index);
    const dealt = deal(this.#rng, groupKeys(config, group), groupThreshold(config.groups[group]!.length), dealContext(sessionId, this.#index));
    const commitment = this.#schnorrKey.commit(this.#rng);
    this.#session = { config, sessionId, group, shareIndex, commitment, commitmentPoint: commitment.point };
    return this.#reply(MessageKind.deal, encodeDealMessage(messageHash(message), commitment.point, encodeDeal(dealt.deal)));
  }

  /**
   * Step 4 (with 6b's share checks moved before signing): check T' and the chosen deals' shares for
   * this server, keep those shares, respond; a T' that breaks the rules is refused with a code.
   */
  #respond(message: SignedMessage): Uint8Array | undefined {
    const session = this.#session!;
    const { config, sessionId } = session;
    const choice = tryDecode(() => decodeChoice(message.body, config.servers.length, config.groups.length));
    if (choice === undefined || !sameBytes(choice.sessionId, sessionId)) return undefined;
    const problem = choiceProblem(config, choice.chosen);
    check<DrpErrorCode>(problem === undefined, "DRP_BAD_CHOICE", problem ?? "");
    const position = choice.committed.indexOf(this.#index);
    if (position < 0) return undefined;
    check<DrpErrorCode>(sameBytes(choice.commitments[position]!, session.commitmentPoint), "DRP_BAD_CHOICE", `l2 forwards another V_${this.#index} than server ${this.#index} committed`);
    const shares = new Map<number, RistrettoPoint>();
    const ownKey = config.servers[this.#index]!.pvssKey;
    choice.chosen.flat().forEach((dealer, k) => {
      if (!choice.chosen[session.group]!.includes(dealer)) return;
      // A share that does not decode or fit is as invalid as one whose proof fails.
      const part = tryDecode(() => decodeDealShare(choice.deals[k]!, session.shareIndex));
      const verifies = part !== undefined && dealFitsGroup(config, dealer, part.shareCount, part.threshold) && verifyEncryptedShare(part, ownKey, dealContext(sessionId, dealer));
      check<DrpErrorCode>(verifies, "DRP_BAD_CHOICE", `T' chooses dealer ${dealer}, whose share for server ${this.#index} does not verify`);
      shares.set(dealer, part!.share.point);
    });
    const challenge = choiceChallenge(sumPoints(choice.commitments), sessionId, encodeChoiceList(choice.chosen));
    session.choice = { choice, challenge, shares };
    const response = this.#schnorrKey.respond(session.commitment, challenge);
    return this.#reply(MessageKind.response, encodeResponse({ replyTo: messageHash(message), response }));
  }

  /** Step 6: check the collective signature with ≥ 2f + 1 signers, decrypt the chosen shares. */
  #decrypt(message: SignedMessage): Uint8Array | undefined {
    const session = this.#session!;
    const { config, sessionId } = session;
    const { choice, challenge, shares: chosenShares } = session.choice!;
    const reveal = tryDecode(() => decodeReveal(message.body, config.servers.length));
    if (reveal === undefined || !sameBytes(reveal.sessionId, sessionId)) return undefined;
    check<DrpErrorCode>(reveal.signers.length >= signerQuorum(config), "DRP_TOO_FEW_SIGNERS", `l3 names ${reveal.signers.length} signers, at least ${signerQuorum(config)} must sign`);
    const positions = reveal.signers.map((server) => choice.committed.indexOf(server));
    check<DrpErrorCode>(!positions.includes(-1), "DRP_BAD_COLLECTIVE_SIGNATURE", "l3 names a signer that did not commit in l2");
    const signerCommitments = positions.map((position) => choice.commitments[position]!);
    const signerKeys = reveal.signers.map((server) => config.servers[server]!.signingKey);
    check<DrpErrorCode>(verifyAggregate(reveal.response, challenge, signerCommitments, signerKeys), "DRP_BAD_COLLECTIVE_SIGNATURE", "the collective signature on T' does not verify");
    session.revealed = true;
    const shares = [...chosenShares].map(([dealer, encrypted]): DealerShare => ({
      dealer,
      share: decryptShare(this.#secrets.pvssSecret, session.shareIndex, encrypted, this.#rng, dealContext(sessionId, dealer)),
    }));
    return this.#reply(MessageKind.decryption, encodeDecryption({ replyTo: messageHash(message), shares }));
  }
}
