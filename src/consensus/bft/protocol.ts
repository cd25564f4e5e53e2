/**
 * ByzCoin-style BFT of the normal league (white paper §7.2, Proof-of-Believability phase 2;
 * ByzCoin, Kokoris-Kogias et al., USENIX Security 2016; view change after PBFT, Castro & Liskov,
 * OSDI 1999). n = 3f + 1 validators decide one opaque proposal per height; a decision needs
 * two CoSi rounds (src/consensus/cosi/protocol.ts) of at least 2f + 1 signers each. Per height:
 *
 *   1. propose   the leader of (height, view) — participant (height + view) mod n — broadcasts
 *                PROPOSE with its proposal (in a view > 0, with the NEW-VIEW proof below);
 *                each validator accepts at most one proposal per view and runs the injected
 *                `validate` on it;
 *   2. prepare   CoSi over the prepare digest (chain, height, view, H(proposal)); a validator
 *                co-signs only the digest of the proposal it accepted, in its current view;
 *                the leader broadcasts the prepare certificate (PREPARED), and a validator
 *                holding it is locked on (view, proposal) — PBFT's "prepared";
 *   3. commit    CoSi over the commit digest, which also binds the prepare certificate; a
 *                validator co-signs only when locked on that proposal in its current view.
 *                The commit certificate finalizes the height: the leader broadcasts FINALIZED
 *                (proposal + both certificates), which anyone can check offline
 *                (`verifyFinality`), and every node delivers it through `onFinal`, in order;
 *                the leader delivers it in a later turn than its broadcast, so the record
 *                leaves (a transport sends at the end of a turn) before the leader's own
 *                `onFinal` work (storing the height) and the members store it alongside.
 *
 * View change: a validator whose view times out (base timeout, doubled each further view of the
 * same height, reset by progress; the view's own proposal from its leader, once per view, gives
 * its validation a whole timeout from its arrival, so an honest leader's large proposal is not
 * abandoned mid-validation — a leader can stretch its view to twice its timeout at most; a leader
 * this node last saw let a view expire without a proposal — dead, paused, cut off — gets a
 * quarter of the timeout until a proposal or record of its own shows it back, so a dead member
 * costs its shard a short wait, not a whole timeout, each time the rotation reaches it) moves to view + 1 and broadcasts an individually signed
 * VIEW-CHANGE carrying its highest prepare certificate; f + 1 view changes to later views pull a
 * validator along (PBFT §4.5.2). The new leader, with 2f + 1 view changes, re-proposes the value
 * of the highest prepare certificate among them, or a fresh value if there is none, and sends the
 * 2f + 1 messages as proof; validators check the proof before accepting. Once a validator has
 * sent a view change it never signs for an earlier view, so a commit certificate in view v means
 * f + 1 honest validators locked on its value before leaving v, one of them is in every later
 * NEW-VIEW quorum, and by induction every later view re-proposes that value: no two different
 * values are ever final at one height.
 *
 * CoSi patience: each round the leader's view has failed doubles the next round's CoSi waits (up
 * to cosi/protocol.ts MAX_PATIENCE) within the view, whose own timeout doubles per view. A level
 * timeout is a guess about how fast members answer, and with one member dead every live one is
 * needed: one slower than the guess (a loaded machine's event loop) stalled every round of every
 * view for good, whatever the view timeout (issue 16). A validator entering a view releases a
 * nonce it holds for another leader (`releaseExcept`).
 *
 * Catch-up: a validator that learns of a higher height (a message for it, or its own timeout)
 * sends FETCH(from height) and verifies the FINALIZED records it gets before delivering them in
 * order; validators answer a view change for a height they finalized with its record.
 *
 * End: an instance decides up to a static `lastHeight` (an epoch's last height) or up to the first
 * final record the application says ends it (`endsInstance`: a TransEpoch swap height, after which
 * the next batch's committee decides under its own instance key); then it rests, still serving its
 * log. A restart whose log ends with such a record rests at once.
 */
import { IosError, check } from "../../errors.js";
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { SchnorrKey } from "../../crypto/schnorr.js";
import type { Channel, PeerId } from "../../net/interface.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import { cosiThreshold, verifyCollectiveSignature, type CollectiveSignature } from "../cosi/codec.js";
import { CosiNode, MAX_PATIENCE, type CosiResult } from "../cosi/protocol.js";
import {
  BFT_MESSAGES,
  DEFAULT_MAX_PROPOSAL_BYTES,
  MAX_CHAIN_ID_BYTES,
  MAX_FETCH_COUNT,
  MAX_VIEW,
  commitDigest,
  decodeFetch,
  decodeFinalityRecord,
  decodePrepared,
  decodePropose,
  decodeViewChange,
  encodeFetch,
  encodeFinalityRecord,
  encodePrepared,
  encodePropose,
  encodeViewChange,
  prepareDigest,
  proposalHash,
  verifyFinality,
  verifyViewChange,
  type ProposalHasher,
  viewChangeStatement,
  type BftErrorCode,
  type FinalityRecord,
  type PreparedCertificate,
  type ViewChange,
} from "./codec.js";
import { MemoryFinalityLog, type FinalityLog } from "./log.js";
import { guardedHandler } from "../../net/guarded-handler.js";
import { toHex } from "../../hex.js";
import { sameBytes } from "../../bytes.js";

export interface BftConfig {
  /** Shard or chain id bound into every signed statement (1..64 bytes). */
  readonly chainId: Uint8Array;
  /** Normal-league keys in registry order (ValidatorRegistry.publicKeys()). */
  readonly participants: readonly Uint8Array[];
  /** View 0's timeout at each height; view v waits min(base · 2^v, maxViewTimeoutMs). */
  readonly viewTimeoutMs: number;
  /** Cap of the doubling. Default 32 × viewTimeoutMs. */
  readonly maxViewTimeoutMs?: number;
  /** The two CoSi rounds' tree fan-out, per-level timeout and attempts (CosiConfig). */
  readonly cosi: { readonly fanout: number; readonly levelTimeoutMs: number; readonly maxAttempts?: number };
  /** Largest proposal. Default DEFAULT_MAX_PROPOSAL_BYTES. */
  readonly maxProposalBytes?: number;
  /**
   * The hash signed statements name a proposal by. Default SHA-256 of the bytes; PoB hashes its
   * parts so that a transaction's final proof stays small (src/consensus/pob/proposal.ts).
   */
  readonly hashProposal?: ProposalHasher;
  /**
   * The last height this instance decides (an epoch's last height): once it is final the node
   * rests — no view, no proposal, no view change — while it still serves its log. Default: none.
   */
  readonly lastHeight?: number;
}

/** The agreed value's owner: the PoB layer plugs in its block codec and checks here. */
export interface BftApplication {
  /**
   * The leader's fresh proposal for (`height`, `view`) (a view with no prepared value to
   * re-propose); it may take a round of its own (PoB gathers randomness shares first). Undefined:
   * no proposal in this view, which then times out.
   */
  propose(height: number, view: number): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Whether this validator will co-sign `proposal` at `height` in `view`. `proposedIn` is the view
   * whose leader proposed it: `view` for a fresh proposal, the prepare certificate's view for a
   * value a later leader re-proposes.
   */
  validate(height: number, proposal: Uint8Array, view: number, proposedIn: number): boolean | Promise<boolean>;
  /** A finalized height, delivered once, in height order, after it is in the log. */
  onFinal(record: FinalityRecord): void;
  /**
   * Whether this final record is the instance's last (its proposal hands the shard to the next
   * committee: a TransEpoch swap, src/epoch/transepoch): the node rests after it as after
   * `lastHeight`. A pure function of the record, so every member ends at the same height. Default: never.
   */
  endsInstance?(record: FinalityRecord): boolean;
  /**
   * Extra time view 0 of `height` may take because the application expects its leader to wait
   * for work (an idle shard's heartbeat): added to the view timeout, so idle is not mistaken for
   * a failed leader. `hurry()` takes it back once work arrives. Default 0.
   */
  quietMs?(height: number): number;
}

export interface BftDependencies {
  /** The channel of this instance (consensus, shard, epoch); opened and closed by the owner. */
  readonly channel: Channel;
  readonly clock: Clock;
  /** CoSi nonces and session rounds: CryptoRng in production, SeededRng in the simulator. */
  readonly rng: Rng;
  readonly key: SchnorrKey;
  readonly verifier: Ed25519Verifier;
  readonly app: BftApplication;
  /** Finalized records; survives restarts when persistent. Default: a fresh in-memory log. */
  readonly log?: FinalityLog;
}

export interface BftStats {
  /** Views this node entered after view 0, by timeout or by following others. */
  viewChanges: number;
  /** A leader's second, different proposal in one view. */
  equivocations: number;
  /** Proposals refused: bad NEW-VIEW proof, not the re-proposal it requires, or `validate` said no. */
  rejectedProposals: number;
  /** Malformed or unverifiable messages. */
  rejectedMessages: number;
  /** Records delivered that came from FINALIZED sent by others (incl. catch-up). */
  recordsReceived: number;
  /** FINALIZED records sent in answer to FETCH or to a lagging view change. */
  recordsServed: number;
}

/** Verified records kept ahead of the next height while catching up. */
const MAX_FUTURE_RECORDS = 2 * MAX_FETCH_COUNT;
/** Proposals of the next height held until this one is final (one per view, a few views). */
const MAX_EARLY_PROPOSALS = 4;
/**
 * A silent leader's view (see `silentLeaders`) lasts this share of the view timeout. A quarter of
 * the devnet's 2 s is 0.5 s: an honest PoB leader's proposal (shares, execution) reached its
 * members within 0.05–0.5 s of entering a view under load (issue 16's traces), and a proposal
 * that arrives extends the view to the whole timeout anyway. Doubling per view keeps it growing.
 */
const SILENT_LEADER_TIMEOUT_SHARE = 0.25;


/** What the leader of the current (height, view) is doing. */
interface LeaderTask {
  readonly height: number;
  readonly view: number;
  readonly proposal: Uint8Array;
  readonly hash: Uint8Array;
  /** The PROPOSE message as broadcast: sent again once if the first prepare round fails. */
  readonly message: Uint8Array;
  phase: "prepare" | "commit";
  prepareCert: CollectiveSignature | undefined;
  proposeResent: boolean;
}

interface Accepted {
  readonly view: number;
  readonly proposal: Uint8Array;
  readonly hash: Uint8Array;
}

interface Lock extends PreparedCertificate {
  readonly proposal: Uint8Array;
}

export class BftNode {
  readonly stats: BftStats = { viewChanges: 0, equivocations: 0, rejectedProposals: 0, rejectedMessages: 0, recordsReceived: 0, recordsServed: 0 };
  readonly selfIndex: number;
  readonly cosi: CosiNode;
  readonly log: FinalityLog;
  private readonly chainId: Uint8Array;
  private readonly participants: readonly Uint8Array[];
  private readonly peers: readonly PeerId[];
  private readonly quorum: number;
  private readonly faulty: number;
  private readonly baseTimeoutMs: number;
  private readonly maxTimeoutMs: number;
  private readonly maxProposalBytes: number;
  private readonly hashProposal: ProposalHasher;
  private readonly retryMs: number;
  /** BftConfig `lastHeight`, or the height of the record that ended the instance (`endsInstance`). */
  private lastHeight: number | undefined;
  private currentHeight: number;
  private currentView = 0;
  private viewTimer: TimerHandle | undefined;
  private resendTimer: TimerHandle | undefined;
  /** The proposal accepted in the current view, once `validate` said yes. */
  private accepted: Accepted | undefined;
  /** A proposal for the current view waiting on an asynchronous `validate`. */
  private validating: Accepted | undefined;
  /** Hex of the CoSi messages this node will co-sign now (current height and view only). */
  private readonly approvable = new Set<string>();
  private lock: Lock | undefined;
  /** Each signer's latest verified view change at the current height (n entries at most). */
  private viewChanges = new Map<number, ViewChange>();
  private ownViewChange: ViewChange | undefined;
  private leaderTask: LeaderTask | undefined;
  /** When the current view's timer fires (clock time). */
  private viewDeadline = 0;
  /** Whether the current view's timer was re-armed for its proposal's validation (once per view). */
  private viewExtended = false;
  /** Whether a proposal from the current view's leader reached this node in this view. */
  private leaderHeard = false;
  /**
   * CoSi rounds this leader's current view has seen fail: the next runs with 2^failedRounds
   * patience. Not the view's index too: every wait of a round includes a dead member's full wait,
   * so a view past 0 would pay it doubled at every height it decides (measured: +0.25 s each).
   */
  private failedRounds = 0;
  /**
   * Participants whose last view as leader ended here by timeout with no proposal from them, until
   * a proposal of theirs or a record they decided arrives: their views get SILENT_LEADER_TIMEOUT_SHARE
   * of the timeout. Local and never signed: it moves timeouts only, which safety does not rest on.
   */
  private readonly silentLeaders = new Set<number>();
  /** The (height, view) whose fresh proposal the application is still preparing. */
  private proposing: { readonly height: number; readonly view: number } | undefined;
  private readonly futureRecords = new Map<number, FinalityRecord>();
  private earlyProposals: { from: PeerId; payload: Uint8Array }[] = [];
  private lastFetchAt = -Infinity;
  private started = false;
  private closed = false;

  constructor(
    config: BftConfig,
    private readonly deps: BftDependencies,
  ) {
    check(typeof config === "object" && config !== null, "BFT_BAD_CONFIG", "config must be an object");
    check(
      config.chainId instanceof Uint8Array && config.chainId.length >= 1 && config.chainId.length <= MAX_CHAIN_ID_BYTES,
      "BFT_BAD_CONFIG",
      `chainId must be 1..${MAX_CHAIN_ID_BYTES} bytes`,
    );
    check(Array.isArray(config.participants) && config.participants.length >= 1, "BFT_BAD_CONFIG", "participants must be a non-empty array of keys");
    check(
      typeof config.viewTimeoutMs === "number" && Number.isFinite(config.viewTimeoutMs) && config.viewTimeoutMs > 0,
      "BFT_BAD_CONFIG",
      `viewTimeoutMs must be a positive number, got ${String(config.viewTimeoutMs)}`,
    );
    const maxTimeoutMs = config.maxViewTimeoutMs ?? 32 * config.viewTimeoutMs;
    check(
      typeof maxTimeoutMs === "number" && Number.isFinite(maxTimeoutMs) && maxTimeoutMs >= config.viewTimeoutMs,
      "BFT_BAD_CONFIG",
      "maxViewTimeoutMs must be a finite number >= viewTimeoutMs",
    );
    const maxProposalBytes = config.maxProposalBytes ?? DEFAULT_MAX_PROPOSAL_BYTES;
    check(
      Number.isSafeInteger(maxProposalBytes) && maxProposalBytes >= 0 && maxProposalBytes <= DEFAULT_MAX_PROPOSAL_BYTES,
      "BFT_BAD_CONFIG",
      `maxProposalBytes must be an integer in [0, ${DEFAULT_MAX_PROPOSAL_BYTES}]`,
    );
    check(typeof config.cosi === "object" && config.cosi !== null, "BFT_BAD_CONFIG", "cosi must be an object");
    check(deps.key instanceof SchnorrKey, "BFT_BAD_CONFIG", "key must be a SchnorrKey");
    const app = deps.app;
    check(
      typeof app === "object" && app !== null && typeof app.propose === "function" && typeof app.validate === "function" && typeof app.onFinal === "function",
      "BFT_BAD_CONFIG",
      "app must provide propose, validate and onFinal",
    );
    // CosiNode checks the keys (length, duplicates, this node among them) and the CoSi settings.
    this.cosi = new CosiNode(
      { participants: config.participants, fanout: config.cosi.fanout, levelTimeoutMs: config.cosi.levelTimeoutMs, ...(config.cosi.maxAttempts === undefined ? {} : { maxAttempts: config.cosi.maxAttempts }) },
      { channel: deps.channel, clock: deps.clock, rng: deps.rng, key: deps.key, verifier: deps.verifier, approve: (message, leader) => this.approve(message, leader) },
    );
    this.chainId = Uint8Array.from(config.chainId);
    this.hashProposal = config.hashProposal ?? proposalHash;
    this.participants = config.participants.map((key) => Uint8Array.from(key));
    this.peers = this.participants.map(toHex);
    this.selfIndex = this.cosi.selfIndex;
    this.quorum = cosiThreshold(this.participants.length);
    this.faulty = this.participants.length - this.quorum;
    this.baseTimeoutMs = config.viewTimeoutMs;
    this.maxTimeoutMs = maxTimeoutMs;
    this.maxProposalBytes = maxProposalBytes;
    this.retryMs = config.cosi.levelTimeoutMs;
    check(config.lastHeight === undefined || (Number.isSafeInteger(config.lastHeight) && config.lastHeight >= 1), "BFT_BAD_INPUT", `lastHeight must be a positive integer, got ${String(config.lastHeight)}`);
    this.lastHeight = config.lastHeight;
    this.log = deps.log ?? new MemoryFinalityLog();
    this.currentHeight = this.log.lastHeight + 1;
    const logged = this.log.lastHeight >= 1 ? this.log.get(this.log.lastHeight) : undefined;
    if (logged !== undefined && app.endsInstance?.(logged) === true) this.lastHeight = Math.min(this.lastHeight ?? logged.height, logged.height);

    const guard = (handler: (from: PeerId, payload: Uint8Array) => void) =>
      guardedHandler(
        () => this.closed,
        () => this.stats.rejectedMessages++,
        handler,
      );
    deps.channel.on(BFT_MESSAGES.PROPOSE, guard((from, payload) => this.onPropose(from, payload)));
    deps.channel.on(BFT_MESSAGES.PREPARED, guard((from, payload) => this.onPrepared(from, payload)));
    deps.channel.on(BFT_MESSAGES.FINALIZED, guard((from, payload) => this.onFinalized(from, payload)));
    deps.channel.on(BFT_MESSAGES.VIEW_CHANGE, guard((from, payload) => this.onViewChange(from, payload)));
    deps.channel.on(BFT_MESSAGES.FETCH, guard((from, payload) => this.onFetch(from, payload)));
  }

  /**
   * Starts the first height after the log (asking peers for anything missed), once. A node that
   * restarts in the middle of a height resumes with its lock one view past the last it entered.
   */
  start(): void {
    check(!this.started && !this.closed, "BFT_BAD_INPUT", "a BFT node starts once, before close");
    this.started = true;
    this.requestCatchUp(undefined);
    const votes = this.log.votes;
    if (votes !== undefined && votes.height === this.currentHeight) {
      this.lock = votes.lock;
      this.changeView(votes.view + 1);
    } else {
      this.enterView(0);
    }
  }

  /** The next height to finalize. */
  get height(): number {
    return this.currentHeight;
  }

  get view(): number {
    return this.currentView;
  }

  /** Registry index of the leader of (height, view). */
  leaderOf(height: number, view: number): number {
    return (height + view) % this.participants.length;
  }

  /** Stops timers and CoSi, and ignores further messages (the channel is its owner's to close). */
  close(): void {
    this.closed = true;
    this.cancelViewTimers();
    this.cosi.close();
  }

  // ——— views ———

  private timeoutOf(view: number): number {
    return Math.min(this.baseTimeoutMs * 2 ** Math.min(view, 52), this.maxTimeoutMs);
  }

  /**
   * The whole timeout of `view` (base · 2^view, capped): what the application's own waits inside a
   * view scale with (PoB's share gathering and body fetching), so they grow as views fail.
   */
  viewTimeoutOf(view: number): number {
    return this.timeoutOf(view);
  }

  /** How long this node waits for the proposal of (current height, `view`): shorter for a silent leader. */
  private waitFor(view: number): number {
    const full = this.timeoutOf(view);
    return this.silentLeaders.has(this.leaderOf(this.currentHeight, view)) ? full * SILENT_LEADER_TIMEOUT_SHARE : full;
  }

  /** Participants this node now treats as silent leaders (see `silentLeaders`), ascending. */
  get silentLeaderIndices(): number[] {
    return [...this.silentLeaders].sort((a, b) => a - b);
  }

  /** Enters `view` of the current height: forgets what was agreed to sign in earlier views. */
  /** Past `lastHeight`: the instance decided everything it was opened for. */
  get rested(): boolean {
    return this.lastHeight !== undefined && this.currentHeight > this.lastHeight;
  }

  private enterView(view: number): void {
    if (this.rested) {
      this.cancelViewTimers();
      return;
    }
    this.currentView = view;
    // View 0 of a height, unlocked, is where a restart from the log resumes anyway: saving it would
    // cost an fsync per height and change nothing a restart does (a stale height's votes are ignored).
    if (view > 0 || this.lock !== undefined) this.saveVotes();
    this.accepted = undefined;
    this.validating = undefined;
    this.approvable.clear();
    this.leaderTask = undefined;
    this.viewExtended = false;
    this.leaderHeard = false;
    this.failedRounds = 0;
    this.cancelViewTimers();
    const height = this.currentHeight;
    this.cosi.releaseExcept(this.leaderOf(height, view));
    this.armViewTimer(height, view, this.waitFor(view) + (view === 0 ? this.deps.app.quietMs?.(height) ?? 0 : 0));
    if (view > 0) {
      // One retransmission of the view change mid-view: a lost message should not cost a whole view.
      this.resendTimer = this.deps.clock.setTimer(this.timeoutOf(view) / 2, () => {
        this.resendTimer = undefined;
        if (this.accepted === undefined && this.ownViewChange?.newView === view) this.broadcastViewChange(this.ownViewChange);
      });
    }
    if (this.leaderOf(height, view) === this.selfIndex) this.tryLead();
  }

  private armViewTimer(height: number, view: number, ms: number): void {
    this.viewDeadline = this.deps.clock.now() + ms;
    this.viewTimer = this.deps.clock.setTimer(ms, () => {
      this.viewTimer = undefined;
      if (this.currentHeight !== height || this.currentView !== view) return;
      const leader = this.leaderOf(height, view);
      if (!this.leaderHeard && leader !== this.selfIndex) this.silentLeaders.add(leader);
      this.changeView(view + 1);
    });
  }

  /**
   * Work arrived while the view still counts a quiet allowance (`quietMs`): from now on the view
   * times out as a busy one would, so a leader that stays silent with work pending is left as
   * soon as without the allowance.
   */
  hurry(): void {
    if (this.viewTimer === undefined || this.closed || this.rested) return;
    const busy = this.waitFor(this.currentView);
    if (this.viewDeadline - this.deps.clock.now() <= busy) return;
    this.deps.clock.cancelTimer(this.viewTimer);
    this.armViewTimer(this.currentHeight, this.currentView, busy);
  }

  /**
   * The view's proposal from its leader is here (received, or made by this leader): its
   * validation and CoSi rounds get a whole timeout from now if less is left, once per view.
   * Execution of a large proposal on a loaded machine (seconds for thousands of cross-shard
   * transactions) otherwise outlasted the view its leader spent preparing it, and every member
   * left the view mid-validation, discarding the work (issue 13: about one view change per
   * height at a 50 % cross-shard mix). A leader proposing just before the timeout stretches its
   * view to twice the timeout at most; a silent one is left as before.
   */
  private extendViewForProposal(): void {
    if (this.viewExtended || this.viewTimer === undefined || this.closed || this.rested) return;
    this.viewExtended = true;
    const full = this.timeoutOf(this.currentView);
    if (this.viewDeadline - this.deps.clock.now() >= full) return;
    this.deps.clock.cancelTimer(this.viewTimer);
    this.armViewTimer(this.currentHeight, this.currentView, full);
  }

  private cancelViewTimers(): void {
    if (this.viewTimer !== undefined) this.deps.clock.cancelTimer(this.viewTimer);
    if (this.resendTimer !== undefined) this.deps.clock.cancelTimer(this.resendTimer);
    this.viewTimer = undefined;
    this.resendTimer = undefined;
  }

  /** Leaves the current view for `newView` with a signed VIEW-CHANGE carrying the lock. */
  private changeView(newView: number): void {
    if (newView > MAX_VIEW || this.rested) return;
    this.stats.viewChanges++;
    const height = this.currentHeight;
    const prepared = this.lock === undefined ? undefined : { view: this.lock.view, hash: this.lock.hash, cert: this.lock.cert };
    const signature = this.deps.key.sign(viewChangeStatement(this.chainId, height, newView, prepared));
    const vc: ViewChange = { height, newView, signer: this.selfIndex, prepared, signature, proposal: this.lock?.proposal };
    this.ownViewChange = vc;
    this.viewChanges.set(this.selfIndex, vc);
    this.broadcastViewChange(vc);
    this.requestCatchUp(undefined);
    this.enterView(newView);
  }

  private broadcastViewChange(vc: ViewChange): void {
    this.deps.channel.broadcast(this.peers, BFT_MESSAGES.VIEW_CHANGE, encodeViewChange(vc, this.participants.length));
  }

  private onViewChange(from: PeerId, payload: Uint8Array): void {
    if (!this.started || this.rested) return;
    const vc = decodeViewChange(payload, this.participants.length, this.maxProposalBytes);
    if (this.peers[vc.signer] !== from) throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "VIEW_CHANGE signer is not its sender");
    if (vc.height < this.currentHeight) {
      this.serveRecords(from, vc.height, 1);
      return;
    }
    if (vc.height > this.currentHeight) {
      this.requestCatchUp(from);
      return;
    }
    const known = this.viewChanges.get(vc.signer);
    if (vc.newView < this.currentView || (known !== undefined && known.newView >= vc.newView)) return;
    if (!verifyViewChange(this.participants, this.chainId, vc, this.deps.verifier, this.hashProposal)) {
      throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "VIEW_CHANGE signature or certificate does not verify");
    }
    this.viewChanges.set(vc.signer, vc);
    if (!this.followLaterViews() && this.leaderOf(this.currentHeight, this.currentView) === this.selfIndex) this.tryLead();
  }

  /**
   * PBFT's catch-up rule: f + 1 validators asking for views past ours include an honest one, so
   * we move to the smallest of those views. True if this node changed view.
   */
  private followLaterViews(): boolean {
    const later = [...this.viewChanges.values()].filter((vc) => vc.signer !== this.selfIndex && vc.newView > this.currentView);
    if (later.length < this.faulty + 1) return false;
    this.changeView(Math.min(...later.map((vc) => vc.newView)));
    return true;
  }

  // ——— leader ———

  /** Proposes in the current view if this node leads it and, past view 0, holds 2f + 1 view changes. */
  private tryLead(): void {
    if (this.leaderTask !== undefined || this.accepted !== undefined) return;
    if (this.proposing !== undefined && this.proposing.height === this.currentHeight && this.proposing.view === this.currentView) return;
    const height = this.currentHeight;
    const view = this.currentView;
    let justification: ViewChange[] = [];
    let proposal: Uint8Array | undefined;
    if (view > 0) {
      const forView = [...this.viewChanges.values()].filter((vc) => vc.newView === view);
      if (forView.length < this.quorum) return;
      justification = forView.sort((a, b) => a.signer - b.signer).slice(0, this.quorum);
      const highest = highestPrepared(justification);
      if (highest !== undefined) {
        proposal = this.bytesOf(highest, forView);
        // Without the bytes of the value it must re-propose, this leader lets the view time out.
        if (proposal === undefined) return;
      }
    }
    if (proposal !== undefined) return this.lead(height, view, proposal, justification);
    const fresh = this.deps.app.propose(height, view);
    if (!(fresh instanceof Promise)) {
      if (fresh !== undefined) this.lead(height, view, fresh, justification);
      return;
    }
    this.proposing = { height, view };
    fresh.then(
      (value) => {
        if (this.proposing?.height !== height || this.proposing.view !== view) return;
        this.proposing = undefined;
        if (value !== undefined && !this.closed && this.currentHeight === height && this.currentView === view && this.accepted === undefined) this.lead(height, view, value, justification);
      },
      () => {
        if (this.proposing?.height === height && this.proposing.view === view) this.proposing = undefined;
      },
    );
  }

  /** Broadcasts this leader's proposal for (height, view) and runs its prepare round. */
  private lead(height: number, view: number, proposal: Uint8Array, justification: ViewChange[]): void {
    check(proposal instanceof Uint8Array && proposal.length <= this.maxProposalBytes, "BFT_BAD_INPUT", `propose(${height}) must return at most ${this.maxProposalBytes} bytes`);
    const copy = Uint8Array.from(proposal);
    const hash = this.hashProposal(copy);
    this.accepted = { view, proposal: copy, hash };
    const message = encodePropose({ height, view, proposal: copy, justification }, this.participants.length);
    this.leaderTask = { height, view, proposal: copy, hash, message, phase: "prepare", prepareCert: undefined, proposeResent: false };
    this.extendViewForProposal();
    this.deps.channel.broadcast(this.peers, BFT_MESSAGES.PROPOSE, message);
    this.runRound(this.leaderTask);
  }

  /** The proposal bytes of a prepared certificate, from this node's lock or a view change carrying them. */
  private bytesOf(prepared: PreparedCertificate, viewChanges: readonly ViewChange[]): Uint8Array | undefined {
    if (this.lock !== undefined && sameBytes(this.lock.hash, prepared.hash)) return this.lock.proposal;
    for (const vc of viewChanges) {
      if (vc.proposal !== undefined && vc.prepared !== undefined && sameBytes(vc.prepared.hash, prepared.hash)) return vc.proposal;
    }
    return undefined;
  }

  /** Runs the task's current CoSi round; retries while the task is current. */
  private runRound(task: LeaderTask): void {
    if (this.leaderTask !== task || this.closed) return;
    const message =
      task.phase === "prepare"
        ? prepareDigest(this.chainId, task.height, task.view, task.hash)
        : commitDigest(this.chainId, task.height, task.view, task.hash, task.prepareCert!, this.participants.length);
    try {
      // A fresh round per try gives a fresh session id: peers ignore a session they closed.
      this.cosi.sign(this.deps.rng.nextU32(), message, (result) => this.onRoundDone(task, result), Math.min(2 ** this.failedRounds, MAX_PATIENCE));
    } catch (error) {
      if (!(error instanceof IosError) || error.code !== "COSI_SESSION_OPEN") throw error;
      this.deps.clock.setTimer(this.retryMs, () => this.runRound(task));
    }
  }

  private onRoundDone(task: LeaderTask, result: CosiResult): void {
    if (this.closed || this.currentHeight !== task.height) return;
    if (!result.ok) {
      if (this.leaderTask !== task) return;
      this.failedRounds++;
      // A member may have missed the proposal (its instance started after the broadcast: a mover at an epoch's switch):
      // once per view, it goes again, so the view is not lost for one late member (a committee of 3 needs them all).
      if (task.phase === "prepare" && !task.proposeResent) {
        task.proposeResent = true;
        this.deps.channel.broadcast(this.peers, BFT_MESSAGES.PROPOSE, task.message);
      }
      this.deps.clock.setTimer(this.retryMs, () => this.runRound(task));
      return;
    }
    if (task.phase === "prepare") {
      if (this.leaderTask !== task) return;
      task.prepareCert = result.signature;
      task.phase = "commit";
      this.lockOn({ view: task.view, hash: task.hash, cert: result.signature, proposal: task.proposal });
      this.deps.channel.broadcast(
        this.peers,
        BFT_MESSAGES.PREPARED,
        encodePrepared({ height: task.height, view: task.view, hash: task.hash, cert: result.signature }, this.participants.length),
      );
      this.runRound(task);
      return;
    }
    // A commit certificate is final whatever view this node has moved to since.
    const record: FinalityRecord = { height: task.height, view: task.view, proposal: task.proposal, prepareCert: task.prepareCert!, commitCert: result.signature };
    this.deps.channel.broadcast(this.peers, BFT_MESSAGES.FINALIZED, encodeFinalityRecord(record, this.participants.length));
    // Delivered in a later turn: the transport sends FINALIZED at the end of this one, so the
    // members store the height while this leader does, not after (storing a height of thousands
    // of transactions took 0.4–1.5 s per validator in issue 13's runs, and every member waited
    // it out before starting its own). Unless the height was delivered meanwhile (a record fetched).
    this.deps.clock.setTimer(0, () => {
      if (!this.closed && this.currentHeight === task.height) this.deliver(record);
    });
  }

  // ——— validators ———

  /** CoSi's hook: co-sign only what this node agreed to in its current view, led by that view's leader. */
  private approve(message: Uint8Array, leader: number): boolean {
    return leader === this.leaderOf(this.currentHeight, this.currentView) && this.approvable.has(toHex(message));
  }

  private onPropose(from: PeerId, payload: Uint8Array): void {
    if (!this.started || this.rested) return;
    const message = decodePropose(payload, this.participants.length, this.maxProposalBytes);
    if (message.height < this.currentHeight) return;
    if (message.height > this.currentHeight) {
      if (message.height === this.currentHeight + 1 && this.earlyProposals.length < MAX_EARLY_PROPOSALS) this.earlyProposals.push({ from, payload });
      this.requestCatchUp(from);
      return;
    }
    const leader = this.leaderOf(message.height, message.view);
    if (from !== this.peers[leader]) {
      throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "PROPOSE not from the leader of its view");
    }
    // It proposes, even late: it is back (an authenticated link says the leader itself sent it).
    this.silentLeaders.delete(leader);
    if (message.view < this.currentView) return;
    if (message.view === this.currentView && (this.accepted !== undefined || this.validating !== undefined)) {
      const known = this.accepted ?? this.validating!;
      if (!sameBytes(known.hash, this.hashProposal(message.proposal))) this.stats.equivocations++;
      return;
    }
    const proposedIn = this.justified(message.height, message.view, message.proposal, message.justification);
    if (proposedIn === undefined) {
      this.stats.rejectedProposals++;
      return;
    }
    // A valid NEW-VIEW proof holds 2f + 1 view changes to this view: follow it there.
    if (message.view > this.currentView) {
      this.stats.viewChanges++;
      this.enterView(message.view);
    }
    const candidate: Accepted = { view: message.view, proposal: message.proposal, hash: this.hashProposal(message.proposal) };
    this.validating = candidate;
    this.leaderHeard = true;
    this.extendViewForProposal();
    const verdict = this.deps.app.validate(message.height, message.proposal, message.view, proposedIn);
    if (typeof verdict === "boolean") this.onValidated(message.height, candidate, verdict);
    else Promise.resolve(verdict).then((ok) => this.onValidated(message.height, candidate, ok === true), () => this.onValidated(message.height, candidate, false));
  }

  /**
   * The NEW-VIEW proof of a proposal in a view past 0: 2f + 1 distinct valid view changes, and the
   * required value. Returns the view whose leader proposed the value (`view` itself for a fresh
   * one), or undefined when the proof fails.
   */
  private justified(height: number, view: number, proposal: Uint8Array, justification: readonly ViewChange[]): number | undefined {
    if (view === 0) return justification.length === 0 ? 0 : undefined;
    const signers = new Set<number>();
    for (const vc of justification) {
      if (vc.height !== height || vc.newView !== view || signers.has(vc.signer)) return undefined;
      signers.add(vc.signer);
    }
    if (signers.size < this.quorum) return undefined;
    if (!justification.every((vc) => verifyViewChange(this.participants, this.chainId, vc, this.deps.verifier, this.hashProposal))) return undefined;
    const highest = highestPrepared(justification);
    if (highest === undefined) return view;
    return sameBytes(highest.hash, this.hashProposal(proposal)) ? highest.view : undefined;
  }

  private onValidated(height: number, candidate: Accepted, ok: boolean): void {
    if (this.closed || this.validating !== candidate || this.currentHeight !== height || this.currentView !== candidate.view) return;
    this.validating = undefined;
    if (!ok) {
      this.stats.rejectedProposals++;
      return;
    }
    this.accepted = candidate;
    this.approvable.add(toHex(prepareDigest(this.chainId, height, candidate.view, candidate.hash)));
  }

  private onPrepared(_from: PeerId, payload: Uint8Array): void {
    if (!this.started) return;
    const message = decodePrepared(payload, this.participants.length);
    if (message.height !== this.currentHeight || message.view > this.currentView) return;
    if (this.lock !== undefined && this.lock.view >= message.view) return;
    const digest = prepareDigest(this.chainId, message.height, message.view, message.hash);
    if (!verifyCollectiveSignature(this.participants, digest, message.cert, this.quorum, this.deps.verifier)) {
      throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "PREPARED certificate does not verify");
    }
    // A lock needs the bytes, to hand them to the next leader; a node that missed the proposal stays unlocked.
    if (this.accepted === undefined || this.accepted.view !== message.view || !sameBytes(this.accepted.hash, message.hash)) return;
    this.lockOn({ view: message.view, hash: message.hash, cert: message.cert, proposal: this.accepted.proposal });
    this.approveCommit();
  }

  private lockOn(lock: Lock): void {
    if (this.lock !== undefined && lock.view <= this.lock.view) return;
    this.lock = lock;
    this.saveVotes();
  }

  /** Stable storage before any signature of this view: the view entered and the lock. */
  private saveVotes(): void {
    this.log.saveVotes({ height: this.currentHeight, view: this.currentView, lock: this.lock });
  }

  /** Locked on the proposal accepted in the current view: agree to co-sign its commit digest. */
  private approveCommit(): void {
    const lock = this.lock!;
    if (lock.view !== this.currentView) return;
    this.approvable.add(toHex(commitDigest(this.chainId, this.currentHeight, lock.view, lock.hash, lock.cert, this.participants.length)));
  }

  // ——— finality and catch-up ———

  private onFinalized(from: PeerId, payload: Uint8Array): void {
    if (!this.started || this.rested) return;
    const record = decodeFinalityRecord(payload, this.participants.length, this.maxProposalBytes);
    if (record.height < this.currentHeight || this.futureRecords.has(record.height)) return;
    if (record.height >= this.currentHeight + MAX_FUTURE_RECORDS) return;
    if (!verifyFinality(this.participants, this.chainId, record, this.deps.verifier, this.hashProposal)) {
      throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "FINALIZED proof does not verify");
    }
    if (record.height > this.currentHeight) {
      this.futureRecords.set(record.height, record);
      this.requestCatchUp(from);
      return;
    }
    this.stats.recordsReceived++;
    this.deliver(record);
  }

  /** Appends, delivers, moves to the next height, then drains verified records that were waiting. */
  private deliver(record: FinalityRecord): void {
    let next: FinalityRecord | undefined = record;
    while (next !== undefined && !this.closed) {
      this.log.append(next);
      // Its leader decided it: whatever this node missed of it, that leader is not silent.
      this.silentLeaders.delete(this.leaderOf(next.height, next.view));
      this.currentHeight = next.height + 1;
      this.lock = undefined;
      this.ownViewChange = undefined;
      this.viewChanges = new Map();
      this.deps.app.onFinal(next);
      this.futureRecords.delete(next.height);
      if (this.deps.app.endsInstance?.(next) === true) {
        // The instance's last height: nothing after it is this committee's to decide.
        this.lastHeight = next.height;
        this.futureRecords.clear();
        break;
      }
      next = this.futureRecords.get(this.currentHeight);
      if (next !== undefined) this.stats.recordsReceived++;
    }
    for (const height of [...this.futureRecords.keys()]) if (height < this.currentHeight) this.futureRecords.delete(height);
    this.enterView(0);
    const early = this.earlyProposals;
    this.earlyProposals = [];
    for (const { from, payload } of early) {
      try {
        this.onPropose(from, payload);
      } catch (error) {
        if (!(error instanceof IosError)) throw error;
        this.stats.rejectedMessages++;
      }
    }
  }

  /**
   * Another part of the node learned that heights past this one are final (a producer's answer to a
   * relay, src/node/consensus/pob-consensus.ts): asks the league for the records from the next height
   * on, as a record from the future would. What comes back is verified; the request is rate-limited.
   */
  catchUp(): void {
    if (!this.started || this.rested || this.closed) return;
    this.requestCatchUp(undefined);
  }

  /** Asks `peer` (or everyone) for the records from the next height on, at most once per retry interval. */
  private requestCatchUp(peer: PeerId | undefined): void {
    const now = this.deps.clock.now();
    if (now - this.lastFetchAt < this.retryMs) return;
    this.lastFetchAt = now;
    const payload = encodeFetch({ fromHeight: this.currentHeight, count: MAX_FETCH_COUNT });
    if (peer === undefined) this.deps.channel.broadcast(this.peers, BFT_MESSAGES.FETCH, payload);
    else this.deps.channel.send(peer, BFT_MESSAGES.FETCH, payload);
  }

  private onFetch(from: PeerId, payload: Uint8Array): void {
    if (!this.peers.includes(from)) throw new IosError<BftErrorCode>("BFT_BAD_MESSAGE", "FETCH from outside the league");
    const request = decodeFetch(payload);
    this.serveRecords(from, request.fromHeight, request.count);
  }

  private serveRecords(to: PeerId, fromHeight: number, count: number): void {
    const last = Math.min(this.log.lastHeight, fromHeight + count - 1);
    for (let height = fromHeight; height <= last; height++) {
      const record = this.log.get(height);
      if (record === undefined) continue;
      this.stats.recordsServed++;
      this.deps.channel.send(to, BFT_MESSAGES.FINALIZED, encodeFinalityRecord(record, this.participants.length));
    }
  }
}

/** The prepare certificate of the highest view among view changes, if any carries one. */
function highestPrepared(viewChanges: readonly ViewChange[]): PreparedCertificate | undefined {
  let highest: PreparedCertificate | undefined;
  for (const vc of viewChanges) if (vc.prepared !== undefined && (highest === undefined || vc.prepared.view > highest.view)) highest = vc.prepared;
  return highest;
}
