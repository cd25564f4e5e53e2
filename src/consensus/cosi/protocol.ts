/**
 * CoSi collective signing (Syta et al., "Keeping Authorities Honest or Bust with Decentralized
 * Witness Cosigning", IEEE S&P 2016; used by ByzCoin, Kokoris-Kogias et al. 2016, and by the
 * white paper's §7.2 shard consensus). A leader and the validators of a registry produce one
 * Schnorr multisignature (src/crypto/schnorr.ts) that verifies as an ordinary Ed25519 signature
 * under the sum of the participants' keys. One attempt runs four phases over a tree of
 * configurable fan-out rooted at the leader (tree.ts):
 *
 *   1. announcement  down: session (leader, round, message), attempt, layout, invited mask;
 *                    each node's application approves M or not (BFT checks the block here);
 *   2. commitment    up: each node adds its fresh V_i to its children's aggregates (WASM
 *                    `aggregatePoints`) and ORs their masks; a child silent past its deadline
 *                    is an exception, missing from the mask;
 *   3. challenge     down: the leader fixes the mask, V and c = SHA-512(V ‖ A_mask ‖ M); every
 *                    signer recomputes c from the mask itself, so it only ever signs M;
 *   4. response      up: r_i = v_i + c·a_i, summed per subtree (WASM `sumScalars`).
 *
 * The leader checks (V, r) with the WASM verifier under `aggregateKeys(keys, mask)`. When an
 * attempt fails — fewer than the threshold n − ⌊(n−1)/3⌋ (2f + 1) committed, a responder went
 * missing, or the signature is invalid — it retries as a star (everyone talks to the leader,
 * which retransmits to the silent); in a star every commitment and response is individual, so an
 * invalid signature is traced to its bad partials (r_i·B ≠ V_i + c·A_i), whose signers are left
 * out of the next attempt. Every attempt uses fresh nonces: reusing v_i under a second challenge
 * would reveal a_i. A node is open in at most one session at a time (the concurrent-session
 * attack, Drijvers et al., eprint 2018/417): it refuses to commit to another session until it has
 * responded, its nonce timed out, the same session moved to a new attempt, or the same leader
 * started a new session (which drops the old nonce unused); a refusing node still relays for its
 * subtree.
 *
 * Patience. A leader may run a session with its waits stretched `patience` times (`sign`): its
 * caller (BFT) raises it while rounds keep failing, so a signer slower than the level timeout — a
 * busy event loop, a long link — is waited for once it is needed for the threshold (with one
 * signer dead, every live one is). A signer cannot know the leader's patience, so it keeps a
 * committed nonce MAX_PATIENCE times longer; the one-session rule then holds it against other
 * leaders that long, unless its caller releases it (`releaseExcept`: BFT moving to a view led by
 * someone else), which drops the unused nonce.
 */
import { IosError, check, invariant } from "../../errors.js";
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { SchnorrKey, challengeScalar, checkPartial, type Commitment } from "../../crypto/schnorr.js";
import type { Channel, PeerId } from "../../net/interface.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import {
  COSI_MESSAGES,
  MAX_ATTEMPTS,
  MAX_PARTICIPANTS,
  cosiThreshold,
  decodeAnnounce,
  decodeHeader,
  decodeMaskedValue,
  encodeAnnounce,
  encodeMaskedValue,
  sessionId,
  type Announce,
  type CollectiveSignature,
  type CosiErrorCode,
} from "./codec.js";
import { emptyMask, hasBit, isEmpty, isSubset, masksEqual, orInto, popcount, setBit } from "./mask.js";
import { TreeLayout, fullTreeHeight, type CosiMode } from "./tree.js";
import { guardedHandler } from "../../net/guarded-handler.js";
import { toHex } from "../../hex.js";
import { sameBytes } from "../../bytes.js";
import { POINT_BYTES } from "../../codec/sizes.js";

export interface CosiConfig {
  /** Registry public keys in participant order (ValidatorRegistry.publicKeys()). */
  readonly participants: readonly Uint8Array[];
  /** Children per inner node of the tree, 2..255. */
  readonly fanout: number;
  /** How long a node waits per tree level below it for its children's commitments or responses. */
  readonly levelTimeoutMs: number;
  /** Attempts per session (the first as a tree, the rest as stars), 1..255. Default 5. */
  readonly maxAttempts?: number;
  /** Largest message to sign. Default 64 KiB. */
  readonly maxMessageBytes?: number;
}

export interface CosiDependencies {
  /** The channel of this instance (consensus, shard, epoch); opened and closed by the owner. */
  readonly channel: Channel;
  readonly clock: Clock;
  /** Nonces: CryptoRng in production, a SeededRng in the simulator. */
  readonly rng: Rng;
  readonly key: SchnorrKey;
  /** WASM aggregation and verification; may be shared by the nodes of one process. */
  readonly verifier: Ed25519Verifier;
  /**
   * Whether this node will co-sign `message` proposed by the leader at registry index `leader`
   * for `round` (BFT checks the block here). Asked once per attempt before committing; a node
   * that declines only relays. Default: approve.
   */
  readonly approve?: (message: Uint8Array, leader: number, round: number) => boolean;
}

export type CosiFailure = "below-threshold" | "attempts-exhausted";

export type CosiResult =
  | { readonly ok: true; readonly signature: CollectiveSignature; readonly attempts: number; readonly mode: CosiMode }
  | { readonly ok: false; readonly reason: CosiFailure; readonly attempts: number };

export interface CosiStats {
  /** Announcements of a second session refused while one was open. */
  refusedSessions: number;
  /** Announcements whose message `approve` turned down. */
  declined: number;
  /** Messages dropped as malformed or out of place (wrong sender, bad values). */
  rejectedMessages: number;
  /** Commitments, challenges and responses for an attempt no longer held: late, not malformed. */
  stale: number;
  /** Children caught sending two different commitments or responses in one attempt. */
  equivocations: number;
  /** Signers named by a failed partial check. */
  badPartials: number;
}

export interface LeaderSession {
  readonly round: number;
  readonly message: Uint8Array;
  /** Undefined while running. */
  readonly result: CosiResult | undefined;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Sessions a node tracks at once (relaying included): bounds the state a flood can create. */
const MAX_TRACKED_SESSIONS = 64;
/** Closed sessions remembered to ignore their late announcements. */
const MAX_CLOSED_SESSIONS = 256;
/** A star phase waits this many levels, retransmitting to the silent every half level. */
const STAR_PHASE_LEVELS = 2;
/**
 * Largest `patience` of a session: 8 stretches the devnet's 40 ms level to 320 ms, beyond the
 * event-loop stalls of a loaded 2-core machine (0.1–0.3 s; issue 16), while a committed nonce is
 * kept 2 s at most (n = 4, fan-out 8).
 */
export const MAX_PATIENCE = 8;
/** The identity point, the aggregate of an empty subtree. */
const IDENTITY = (() => {
  const point = new Uint8Array(POINT_BYTES);
  point[0] = 1;
  return point;
})();

interface Contribution {
  readonly mask: Uint8Array;
  readonly value: Uint8Array;
  readonly payload: Uint8Array;
}

interface Challenge {
  readonly mask: Uint8Array;
  readonly point: Uint8Array;
  readonly aggregateKey: Uint8Array;
  readonly scalar: Uint8Array;
  readonly payload: Uint8Array;
}

type Phase = "committing" | "committed" | "responding" | "done";

/** One node's view of one attempt of one session. */
class Attempt {
  readonly sessionHex: string;
  readonly position: number;
  readonly parent: PeerId | undefined;
  readonly children: readonly PeerId[];
  /** Registry indices each child's subtree may speak for. */
  readonly childSubtrees = new Map<PeerId, Uint8Array>();
  readonly childCommits = new Map<PeerId, Contribution>();
  readonly childResponses = new Map<PeerId, Contribution>();
  /** Children caught equivocating: ignored for the rest of the attempt. */
  readonly banned = new Set<PeerId>();
  phase: Phase = "committing";
  /** This node's wait per tree level in this attempt: the leader's stretched by its patience. */
  levelMs = 0;
  commitment: Commitment | undefined;
  commitMask: Uint8Array | undefined;
  commitPayload: Uint8Array | undefined;
  challenge: Challenge | undefined;
  responders: PeerId[] = [];
  ownResponse: Uint8Array | undefined;
  responsePayload: Uint8Array | undefined;
  timer: TimerHandle | undefined;
  retransmitTimer: TimerHandle | undefined;

  constructor(
    readonly announce: Announce,
    readonly announcePayload: Uint8Array,
    readonly layout: TreeLayout,
    selfIndex: number,
    peers: readonly PeerId[],
  ) {
    this.sessionHex = toHex(announce.session);
    const position = layout.position(selfIndex);
    invariant(position !== undefined, "attempt built for a node outside its layout");
    this.position = position;
    this.parent = position === 0 ? undefined : peers[layout.order[layout.parentPosition(position)]!]!;
    const children: PeerId[] = [];
    for (const childPosition of layout.childPositions(position)) {
      const child = peers[layout.order[childPosition]!]!;
      children.push(child);
      const subtree = emptyMask(announce.count);
      for (const index of layout.subtree(childPosition)) setBit(subtree, index);
      this.childSubtrees.set(child, subtree);
    }
    this.children = children;
  }

  get attempt(): number {
    return this.announce.attempt;
  }
}

/** State the leader keeps across the attempts of its session. */
class LeaderState implements LeaderSession {
  result: CosiResult | undefined;
  /** Registry indices named by a failed partial check or caught equivocating: not invited again. */
  readonly excluded = new Set<number>();
  attemptsUsed = 0;
  current: Attempt | undefined;

  constructor(
    readonly round: number,
    readonly message: Uint8Array,
    readonly session: Uint8Array,
    readonly onDone: ((result: CosiResult) => void) | undefined,
    /** How many level timeouts the leader waits per level in this session (1..MAX_PATIENCE). */
    readonly patience: number,
  ) {}
}

export class CosiNode {
  readonly stats: CosiStats = { refusedSessions: 0, declined: 0, rejectedMessages: 0, equivocations: 0, badPartials: 0, stale: 0 };
  readonly threshold: number;
  readonly selfIndex: number;
  private readonly participants: readonly Uint8Array[];
  private readonly peers: readonly PeerId[];
  private readonly indexOfPeer = new Map<PeerId, number>();
  private readonly fanout: number;
  private readonly levelMs: number;
  private readonly maxAttempts: number;
  private readonly maxMessageBytes: number;
  /** A committed nonce waits this long for its challenge before it is dropped. */
  private readonly openTimeoutMs: number;
  private readonly attempts = new Map<string, Attempt>();
  /** Last attempt number of recently closed sessions: a delayed older announcement opens nothing. */
  private readonly closedAttempts = new Map<string, number>();
  /** The attempt holding this node's live nonce, if any. */
  private open: Attempt | undefined;
  private leading: LeaderState | undefined;
  private closed = false;

  constructor(
    config: CosiConfig,
    private readonly deps: CosiDependencies,
  ) {
    check(typeof config === "object" && config !== null, "COSI_BAD_CONFIG", "config must be an object");
    const { participants } = config;
    check(
      Array.isArray(participants) && participants.length >= 1 && participants.length <= MAX_PARTICIPANTS,
      "COSI_BAD_CONFIG",
      `participants must be 1..${MAX_PARTICIPANTS} public keys`,
    );
    participants.forEach((key, i) =>
      check(key instanceof Uint8Array && key.length === POINT_BYTES, "COSI_BAD_CONFIG", `participant ${i} must be a ${POINT_BYTES}-byte key`),
    );
    check(Number.isInteger(config.fanout) && config.fanout >= 2 && config.fanout <= 255, "COSI_BAD_CONFIG", `fanout must be an integer in [2, 255], got ${String(config.fanout)}`);
    check(
      typeof config.levelTimeoutMs === "number" && Number.isFinite(config.levelTimeoutMs) && config.levelTimeoutMs > 0,
      "COSI_BAD_CONFIG",
      `levelTimeoutMs must be a positive number, got ${String(config.levelTimeoutMs)}`,
    );
    const maxAttempts = config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    check(Number.isInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= MAX_ATTEMPTS, "COSI_BAD_CONFIG", `maxAttempts must be in [1, ${MAX_ATTEMPTS}]`);
    const maxMessageBytes = config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    check(Number.isSafeInteger(maxMessageBytes) && maxMessageBytes >= 0, "COSI_BAD_CONFIG", "maxMessageBytes must be a non-negative integer");
    check(deps.key instanceof SchnorrKey, "COSI_BAD_CONFIG", "key must be a SchnorrKey");
    check(deps.approve === undefined || typeof deps.approve === "function", "COSI_BAD_CONFIG", "approve must be a function");
    this.participants = participants.map((key) => Uint8Array.from(key));
    this.peers = this.participants.map(toHex);
    this.peers.forEach((peer, index) => this.indexOfPeer.set(peer, index));
    check(this.indexOfPeer.size === this.peers.length, "COSI_BAD_CONFIG", "participants contain a duplicate key");
    const selfIndex = this.indexOfPeer.get(toHex(deps.key.publicKey));
    check(selfIndex !== undefined, "COSI_BAD_CONFIG", "this node's key is not among the participants");
    check(deps.channel.self === this.peers[selfIndex], "COSI_BAD_CONFIG", "channel.self must be the hex of this node's key");
    this.selfIndex = selfIndex;
    this.threshold = cosiThreshold(participants.length);
    this.fanout = config.fanout;
    this.levelMs = config.levelTimeoutMs;
    this.maxAttempts = maxAttempts;
    this.maxMessageBytes = maxMessageBytes;
    this.openTimeoutMs = 2 * (fullTreeHeight(participants.length, config.fanout) + STAR_PHASE_LEVELS) * config.levelTimeoutMs * MAX_PATIENCE;
    const guard = (handler: (from: PeerId, payload: Uint8Array) => void) =>
      guardedHandler(
        () => this.closed,
        () => this.stats.rejectedMessages++,
        handler,
      );
    deps.channel.on(COSI_MESSAGES.ANNOUNCE, guard((from, payload) => this.onAnnounce(from, payload)));
    deps.channel.on(COSI_MESSAGES.COMMIT, guard((from, payload) => this.onCommit(from, payload)));
    deps.channel.on(COSI_MESSAGES.CHALLENGE, guard((from, payload) => this.onChallenge(from, payload)));
    deps.channel.on(COSI_MESSAGES.RESPONSE, guard((from, payload) => this.onResponse(from, payload)));
  }

  /** True while this node holds a live nonce or leads a session. */
  get hasOpenSession(): boolean {
    return this.open !== undefined || this.leading !== undefined;
  }

  /**
   * Leads a session signing `message` for `round`, waiting `patience` level timeouts per level
   * (1..MAX_PATIENCE). Throws COSI_SESSION_OPEN if this node is already open in a session; the
   * result arrives through `onDone` and `session.result`.
   */
  sign(round: number, message: Uint8Array, onDone?: (result: CosiResult) => void, patience = 1): LeaderSession {
    check(!this.closed, "COSI_BAD_INPUT", "node is closed");
    check(Number.isSafeInteger(round) && round >= 0, "COSI_BAD_INPUT", `round must be a non-negative safe integer, got ${String(round)}`);
    check(message instanceof Uint8Array, "COSI_BAD_INPUT", "message must be a Uint8Array");
    check(message.length <= this.maxMessageBytes, "COSI_BAD_INPUT", `message of ${message.length} bytes exceeds ${this.maxMessageBytes}`);
    check(onDone === undefined || typeof onDone === "function", "COSI_BAD_INPUT", "onDone must be a function");
    check(Number.isInteger(patience) && patience >= 1 && patience <= MAX_PATIENCE, "COSI_BAD_INPUT", `patience must be an integer in [1, ${MAX_PATIENCE}], got ${String(patience)}`);
    if (this.hasOpenSession) {
      throw new IosError<CosiErrorCode>("COSI_SESSION_OPEN", "this node is already open in a CoSi session");
    }
    const copy = Uint8Array.from(message);
    const leader = new LeaderState(round, copy, sessionId(this.deps.key.publicKey, round, copy), onDone, patience);
    this.leading = leader;
    this.startAttempt(leader, "tree");
    return leader;
  }

  /**
   * Drops this node's live nonce if a leader other than `leaderIndex` holds it (the caller knows
   * that session is abandoned: BFT entered a view led by `leaderIndex`). Dropping an unused nonce
   * is always safe; only reusing one is not.
   */
  releaseExcept(leaderIndex: number): void {
    const open = this.open;
    if (open !== undefined && open.announce.leaderIndex !== leaderIndex) this.dropAttempt(open);
  }

  /** Stops every timer and ignores further messages (the channel is its owner's to close). */
  close(): void {
    this.closed = true;
    for (const attempt of this.attempts.values()) this.dropAttempt(attempt);
    if (this.leading?.current !== undefined) this.dropAttempt(this.leading.current);
    this.open = undefined;
    this.leading = undefined;
  }

  // ——— leader ———

  private startAttempt(leader: LeaderState, mode: CosiMode): void {
    const invited = emptyMask(this.participants.length);
    for (let index = 0; index < this.participants.length; index++) if (!leader.excluded.has(index)) setBit(invited, index);
    if (popcount(invited) < this.threshold) {
      this.finishLeading(leader, { ok: false, reason: "below-threshold", attempts: leader.attemptsUsed });
      return;
    }
    const announce: Announce = {
      session: leader.session,
      attempt: leader.attemptsUsed,
      leaderIndex: this.selfIndex,
      round: leader.round,
      mode,
      fanout: this.fanout,
      count: this.participants.length,
      invited,
      message: leader.message,
    };
    leader.attemptsUsed++;
    const payload = encodeAnnounce(announce);
    const attempt = new Attempt(announce, payload, new TreeLayout(announce.count, this.selfIndex, invited, mode, this.fanout), this.selfIndex, this.peers);
    attempt.levelMs = this.levelMs * leader.patience;
    leader.current = attempt;
    attempt.commitment = this.deps.key.commit(this.deps.rng);
    for (const child of attempt.children) this.deps.channel.send(child, COSI_MESSAGES.ANNOUNCE, payload);
    this.awaitChildren(attempt, () => this.finishCommit(attempt));
    if (mode === "star") this.retransmitLoop(attempt);
  }

  /** Phase 3 at the root: fix the mask and challenge, or give up on this attempt. */
  private leaderChallenge(attempt: Attempt, mask: Uint8Array, point: Uint8Array): void {
    const leader = this.leading!;
    if (popcount(mask) < this.threshold) {
      this.nextAttempt(leader, attempt);
      return;
    }
    const challenge = this.makeChallenge(attempt, mask, point, encodeMaskedValue(attempt.announce, mask, point));
    attempt.challenge = challenge;
    attempt.phase = "responding";
    attempt.ownResponse = this.deps.key.respond(attempt.commitment!, challenge.scalar);
    attempt.commitment = undefined;
    this.sendChallengeDown(attempt);
    this.awaitChildren(attempt, () => this.finishResponse(attempt));
  }

  /** After phase 4 at the root: the signature, or the next attempt. */
  private leaderVerdict(attempt: Attempt, mask: Uint8Array, scalar: Uint8Array): void {
    const leader = this.leading!;
    const challenge = attempt.challenge!;
    if (!masksEqual(mask, challenge.mask)) {
      this.nextAttempt(leader, attempt);
      return;
    }
    const signature = new Uint8Array(64);
    signature.set(challenge.point, 0);
    signature.set(scalar, 32);
    if (this.deps.verifier.verify(signature, leader.message, challenge.aggregateKey)) {
      this.dropAttempt(attempt);
      this.finishLeading(leader, {
        ok: true,
        signature: { mask: Uint8Array.from(challenge.mask), signature },
        attempts: leader.attemptsUsed,
        mode: attempt.announce.mode,
      });
      return;
    }
    if (attempt.announce.mode === "star") this.blameBadPartials(leader, attempt);
    this.nextAttempt(leader, attempt);
  }

  /** In a star every contribution is one signer's: name those failing r_i·B = V_i + c·A_i. */
  private blameBadPartials(leader: LeaderState, attempt: Attempt): void {
    const challenge = attempt.challenge!;
    for (const [child, response] of attempt.childResponses) {
      const index = this.indexOfPeer.get(child)!;
      const commit = attempt.childCommits.get(child)!;
      if (!checkPartial(response.value, commit.value, challenge.scalar, this.participants[index]!)) {
        leader.excluded.add(index);
        this.stats.badPartials++;
      }
    }
  }

  /** Equivocating children of the leader sent two different messages themselves: never invited again. */
  private nextAttempt(leader: LeaderState, attempt: Attempt): void {
    for (const child of attempt.banned) leader.excluded.add(this.indexOfPeer.get(child)!);
    this.dropAttempt(attempt);
    if (leader.attemptsUsed >= this.maxAttempts) {
      this.finishLeading(leader, { ok: false, reason: "attempts-exhausted", attempts: leader.attemptsUsed });
      return;
    }
    this.startAttempt(leader, "star");
  }

  private finishLeading(leader: LeaderState, result: CosiResult): void {
    leader.result = result;
    leader.current = undefined;
    if (this.leading === leader) this.leading = undefined;
    leader.onDone?.(result);
  }

  // ——— every node ———

  private onAnnounce(from: PeerId, payload: Uint8Array): void {
    const announce = decodeAnnounce(payload, this.maxMessageBytes);
    const count = this.participants.length;
    const reject = (why: string) => new IosError<CosiErrorCode>("COSI_BAD_MESSAGE", `ANNOUNCE ${why}`);
    if (announce.count !== count) throw reject(`for n = ${announce.count}, this registry has ${count}`);
    if (announce.leaderIndex >= count) throw reject("names a leader outside the registry");
    if (announce.leaderIndex === this.selfIndex) throw reject("names this node as leader");
    if (announce.mode === "tree" && announce.fanout < 2) throw reject("tree with fanout below 2");
    if (!hasBit(announce.invited, announce.leaderIndex) || !hasBit(announce.invited, this.selfIndex)) throw reject("does not invite the leader and this node");
    if (!sameBytes(announce.session, sessionId(this.participants[announce.leaderIndex]!, announce.round, announce.message))) {
      throw reject("session id does not match its leader, round and message");
    }
    const layout = new TreeLayout(count, announce.leaderIndex, announce.invited, announce.mode, announce.fanout);
    const attempt = new Attempt(announce, payload, layout, this.selfIndex, this.peers);
    attempt.levelMs = this.levelMs;
    if (attempt.parent !== from) throw reject("not from this node's parent in the attempt's tree");
    const sessionHex = attempt.sessionHex;
    const closedAt = this.closedAttempts.get(sessionHex);
    if (closedAt !== undefined && closedAt >= announce.attempt) return;
    const known = this.attempts.get(sessionHex);
    if (known !== undefined) {
      if (known.attempt > announce.attempt) return;
      if (known.attempt === announce.attempt) {
        if (!sameBytes(known.announcePayload, payload)) throw reject("conflicts with the announcement of the same attempt");
        if (known.commitPayload !== undefined) this.deps.channel.send(from, COSI_MESSAGES.COMMIT, known.commitPayload);
        return;
      }
      this.dropAttempt(known);
    } else if (this.attempts.size >= MAX_TRACKED_SESSIONS) {
      throw reject(`exceeds the ${MAX_TRACKED_SESSIONS} sessions a node tracks`);
    }
    this.attempts.set(sessionHex, attempt);
    // A leader leads one session at a time (`sign`), so its new session means it gave up the one
    // this node is open in: that nonce is dropped unused, and at most one stays live. Waiting for
    // it to time out instead made a node refuse every retry of a busy leader for openTimeoutMs.
    if (this.open !== undefined && this.open.sessionHex !== sessionHex && this.open.announce.leaderIndex === announce.leaderIndex) this.dropAttempt(this.open);
    if (this.leading !== undefined || (this.open !== undefined && this.open.sessionHex !== sessionHex)) {
      this.stats.refusedSessions++;
    } else if (this.deps.approve !== undefined && !this.deps.approve(announce.message, announce.leaderIndex, announce.round)) {
      this.stats.declined++;
    } else {
      attempt.commitment = this.deps.key.commit(this.deps.rng);
      this.open = attempt;
    }
    for (const child of attempt.children) this.deps.channel.send(child, COSI_MESSAGES.ANNOUNCE, payload);
    this.awaitChildren(attempt, () => this.finishCommit(attempt));
  }

  /** Phase 2 at any node: aggregate own and children's commitments; the root moves to phase 3. */
  private finishCommit(attempt: Attempt): void {
    if (attempt.phase !== "committing") return;
    this.cancelTimer(attempt);
    const mask = emptyMask(this.participants.length);
    const points: Uint8Array[] = [];
    if (attempt.commitment !== undefined) {
      setBit(mask, this.selfIndex);
      points.push(attempt.commitment.point);
    }
    for (const [child, commit] of attempt.childCommits) {
      if (attempt.banned.has(child) || isEmpty(commit.mask)) continue;
      orInto(mask, commit.mask);
      points.push(commit.value);
    }
    const point = points.length === 0 ? IDENTITY : this.deps.verifier.aggregatePoints(points);
    attempt.commitMask = mask;
    if (attempt.parent === undefined) {
      this.leaderChallenge(attempt, mask, point);
      return;
    }
    attempt.phase = "committed";
    attempt.commitPayload = encodeMaskedValue(attempt.announce, mask, point);
    this.deps.channel.send(attempt.parent, COSI_MESSAGES.COMMIT, attempt.commitPayload);
    attempt.timer = this.deps.clock.setTimer(this.openTimeoutMs, () => this.expire(attempt));
  }

  private onCommit(from: PeerId, payload: Uint8Array): void {
    const attempt = this.attemptFor(payload);
    if (attempt === undefined) return this.stale();
    if (!attempt.childSubtrees.has(from)) throw this.outOfPlace("COMMIT");
    // Too late: the aggregate has gone up without it, and a late child must not get the challenge.
    if (attempt.phase !== "committing" && !attempt.childCommits.has(from)) return;
    const commit = decodeMaskedValue(payload, this.participants.length, "point");
    if (!isSubset(commit.mask, attempt.childSubtrees.get(from)!)) throw this.outOfPlace("COMMIT mask outside the child's subtree");
    if (isEmpty(commit.mask) ? !sameBytes(commit.value, IDENTITY) : !this.isPoint(commit.value)) {
      throw this.outOfPlace("COMMIT value is not a point");
    }
    if (!this.record(attempt, attempt.childCommits, from, { mask: commit.mask, value: commit.value, payload })) return;
    if (attempt.phase === "committing" && attempt.children.every((child) => attempt.childCommits.has(child) || attempt.banned.has(child))) {
      this.finishCommit(attempt);
    }
  }

  private onChallenge(from: PeerId, payload: Uint8Array): void {
    const attempt = this.attemptFor(payload);
    if (attempt === undefined) return this.stale();
    if (attempt.parent !== from || attempt.phase === "committing") throw this.outOfPlace("CHALLENGE");
    if (attempt.challenge !== undefined) {
      if (!sameBytes(attempt.challenge.payload, payload)) throw this.outOfPlace("CHALLENGE conflicting with the attempt's challenge");
      if (attempt.responsePayload !== undefined) this.deps.channel.send(from, COSI_MESSAGES.RESPONSE, attempt.responsePayload);
      return;
    }
    const message = decodeMaskedValue(payload, this.participants.length, "point");
    if (!isSubset(message.mask, attempt.announce.invited) || !isSubset(attempt.commitMask!, message.mask)) {
      throw this.outOfPlace("CHALLENGE mask does not cover this subtree's commitments");
    }
    if (!this.isPoint(message.value)) throw this.outOfPlace("CHALLENGE value is not a point");
    attempt.challenge = this.makeChallenge(attempt, message.mask, message.value, payload);
    this.cancelTimer(attempt);
    attempt.phase = "responding";
    if (attempt.commitment !== undefined) {
      attempt.ownResponse = this.deps.key.respond(attempt.commitment, attempt.challenge.scalar);
      attempt.commitment = undefined;
      if (this.open === attempt) this.open = undefined;
    }
    this.sendChallengeDown(attempt);
    this.awaitChildren(attempt, () => this.finishResponse(attempt));
  }

  private onResponse(from: PeerId, payload: Uint8Array): void {
    const attempt = this.attemptFor(payload);
    if (attempt === undefined || (attempt.phase !== "responding" && attempt.responders.includes(from))) return this.stale();
    if (attempt.phase !== "responding" || !attempt.responders.includes(from)) throw this.outOfPlace("RESPONSE");
    const response = decodeMaskedValue(payload, this.participants.length, "scalar");
    if (!isSubset(response.mask, attempt.childCommits.get(from)!.mask)) throw this.outOfPlace("RESPONSE mask outside the child's commitments");
    if (!this.record(attempt, attempt.childResponses, from, { mask: response.mask, value: response.value, payload })) return;
    if (attempt.responders.every((child) => attempt.childResponses.has(child) || attempt.banned.has(child))) this.finishResponse(attempt);
  }

  /** Phase 4 at any node: sum own and children's responses; the root checks the signature. */
  private finishResponse(attempt: Attempt): void {
    if (attempt.phase !== "responding") return;
    this.cancelTimer(attempt);
    attempt.phase = "done";
    const mask = emptyMask(this.participants.length);
    const scalars: Uint8Array[] = [];
    if (attempt.ownResponse !== undefined) {
      setBit(mask, this.selfIndex);
      scalars.push(attempt.ownResponse);
    }
    for (const [child, response] of attempt.childResponses) {
      if (attempt.banned.has(child)) continue;
      orInto(mask, response.mask);
      scalars.push(response.value);
    }
    const scalar = this.deps.verifier.sumScalars(scalars);
    if (attempt.parent === undefined) {
      this.leaderVerdict(attempt, mask, scalar);
      return;
    }
    attempt.responsePayload = encodeMaskedValue(attempt.announce, mask, scalar);
    this.deps.channel.send(attempt.parent, COSI_MESSAGES.RESPONSE, attempt.responsePayload);
    // Kept a while to answer a retransmitted challenge with the same response.
    attempt.timer = this.deps.clock.setTimer(this.openTimeoutMs, () => this.expire(attempt));
  }

  // ——— helpers ———

  private makeChallenge(attempt: Attempt, mask: Uint8Array, point: Uint8Array, payload: Uint8Array): Challenge {
    const aggregateKey = this.deps.verifier.aggregateKeys(this.participants, mask);
    return { mask, point, aggregateKey, scalar: challengeScalar(point, aggregateKey, attempt.announce.message), payload };
  }

  /** Forwards the challenge to the children whose commitments it includes. */
  private sendChallengeDown(attempt: Attempt): void {
    attempt.responders = attempt.children.filter((child) => {
      const commit = attempt.childCommits.get(child);
      return commit !== undefined && !attempt.banned.has(child) && !isEmpty(commit.mask);
    });
    for (const child of attempt.responders) this.deps.channel.send(child, COSI_MESSAGES.CHALLENGE, attempt.challenge!.payload);
  }

  /**
   * Stores a child's contribution once. A repeat with the same bytes is a network duplicate; a
   * different one is equivocation, and the child is ignored for the rest of the attempt: its
   * subtree becomes an exception (commitments) or leaves the responses short of the mask, which
   * sends the leader to its next attempt.
   */
  private record(attempt: Attempt, store: Map<PeerId, Contribution>, from: PeerId, contribution: Contribution): boolean {
    if (attempt.banned.has(from)) return false;
    const previous = store.get(from);
    if (previous === undefined) {
      store.set(from, contribution);
      return true;
    }
    if (sameBytes(previous.payload, contribution.payload)) return false;
    this.stats.equivocations++;
    attempt.banned.add(from);
    return true;
  }

  /** The deadline of a phase: the levels below this node, or a star's fixed wait. */
  private awaitChildren(attempt: Attempt, done: () => void): void {
    if (attempt.children.length === 0 || (attempt.phase === "responding" && attempt.responders.length === 0)) {
      done();
      return;
    }
    const levels = attempt.announce.mode === "star" ? STAR_PHASE_LEVELS : attempt.layout.height(attempt.position);
    this.cancelTimer(attempt);
    attempt.timer = this.deps.clock.setTimer(levels * attempt.levelMs, done);
  }

  /** In a star the leader resends the current phase's message to children not yet heard from. */
  private retransmitLoop(attempt: Attempt): void {
    attempt.retransmitTimer = this.deps.clock.setTimer(attempt.levelMs / 2, () => {
      attempt.retransmitTimer = undefined;
      if (attempt.phase === "committing") {
        for (const child of attempt.children) {
          if (!attempt.childCommits.has(child)) this.deps.channel.send(child, COSI_MESSAGES.ANNOUNCE, attempt.announcePayload);
        }
      } else if (attempt.phase === "responding") {
        for (const child of attempt.responders) {
          if (!attempt.childResponses.has(child)) this.deps.channel.send(child, COSI_MESSAGES.CHALLENGE, attempt.challenge!.payload);
        }
      } else {
        return;
      }
      this.retransmitLoop(attempt);
    });
  }

  /** A member's attempt ran out: the nonce (if unused) is dropped and the session closes. */
  private expire(attempt: Attempt): void {
    attempt.timer = undefined;
    this.dropAttempt(attempt);
  }

  private dropAttempt(attempt: Attempt): void {
    this.cancelTimer(attempt);
    if (attempt.retransmitTimer !== undefined) this.deps.clock.cancelTimer(attempt.retransmitTimer);
    attempt.retransmitTimer = undefined;
    attempt.commitment?.discard();
    attempt.commitment = undefined;
    attempt.phase = "done";
    if (this.open === attempt) this.open = undefined;
    if (this.attempts.get(attempt.sessionHex) === attempt) {
      this.attempts.delete(attempt.sessionHex);
      this.closedAttempts.delete(attempt.sessionHex);
      this.closedAttempts.set(attempt.sessionHex, attempt.attempt);
      if (this.closedAttempts.size > MAX_CLOSED_SESSIONS) this.closedAttempts.delete(this.closedAttempts.keys().next().value!);
    }
  }

  private cancelTimer(attempt: Attempt): void {
    if (attempt.timer !== undefined) this.deps.clock.cancelTimer(attempt.timer);
    attempt.timer = undefined;
  }

  /** The attempt a COMMIT/CHALLENGE/RESPONSE belongs to, if this node is in it. */
  private attemptFor(payload: Uint8Array): Attempt | undefined {
    const header = decodeHeader(payload);
    const sessionHex = toHex(header.session);
    const leader = this.leading;
    const attempt =
      leader?.current !== undefined && leader.current.sessionHex === sessionHex ? leader.current : this.attempts.get(sessionHex);
    return attempt !== undefined && attempt.attempt === header.attempt ? attempt : undefined;
  }

  private isPoint(bytes: Uint8Array): boolean {
    try {
      this.deps.verifier.aggregatePoints([bytes]);
      return true;
    } catch (error) {
      if (error instanceof IosError) return false;
      throw error;
    }
  }

  /**
   * A message for an attempt this node no longer holds (abandoned, expired, finished): an honest
   * peer answering late after a retry or a crash. Counted, not an error.
   */
  private stale(): void {
    this.stats.stale++;
  }

  private outOfPlace(what: string): IosError<CosiErrorCode> {
    return new IosError<CosiErrorCode>("COSI_BAD_MESSAGE", `${what} not expected here`);
  }
}
