/**
 * The epoch leader election, white paper §4.1 Algorithm 1 (epoch-design point 4), run by each of
 * the n validators of epoch e − 1 once every shard's boundary block is known (`begin()`). Each
 * view v = 0, 1, … has three phases:
 *
 *   1. draw     lottery = ECVRF_sk(conf_{e−1} hash ‖ u32le v) (lottery.ts); broadcast as LOTTERY
 *               (a validator already skipped draws none);
 *   2. gossip   for Δ: verify every LOTTERY (messages.ts), keep the valid ones of validators not
 *               skipped; a lottery that becomes this node's minimum is relayed to all validators
 *               once, so one honest receiver suffices to spread it;
 *   3. lock in  after Δ_v, the minimum valid lottery (smallest beta as bytes, then lowest index) is
 *               the view's leader, final for the view. The leader itself is told (`onLeading`)
 *               and must start DRP within another Δ_v (`startAsLeader()` signs and broadcasts
 *               START, which the DRP session carries as its first message); every other node
 *               accepts that leader's START only (`onElected`), relaying it once. No START in
 *               time: the leader is skipped for the rest of the epoch (`onSkipped`) and the view
 *               increments; skipped validators' messages are refused from then on (ELECTION_SKIPPED).
 *               An elected leader that cannot deliver (its DRP run failed) resigns (`resign()`,
 *               a signed RESIGN): every node that elected it skips it at once, as `abandon()`
 *               does at the caller's deadline.
 * Δ_v = Δ · 2^min(v, 4) (`viewDeltaMs`): each failed view doubles the windows, as a BFT view
 * change doubles its timeout, so a run whose delays exceed Δ (a loaded machine, a slow link)
 * still meets the bound below after a few views instead of failing every view in turn.
 * Messages of the next view are also kept while a leader is elected: a node that abandons that
 * leader later than a peer must still count the peer's lottery of the next view.
 * Messages of the next view are verified and kept (a faster peer may be there already); older
 * views, other epochs, forged proofs and signatures are refused with ELECTION_* codes, which the
 * transport counts per code (HandlerFailures, subsystem "drp"); duplicates and late lotteries are
 * only counted in `stats`.
 *
 * When do honest validators agree? Let honest validators begin within σ of each other and every
 * message between honest validators (a relay included) arrive within δ. If σ + δ < Δ:
 *   - every honest lottery reaches every honest validator before its lock-in (sent at s_j,
 *     arrives by s_j + δ < s_i + Δ), so when the minimum over validators not skipped is honest,
 *     all honest validators lock in that one;
 *   - the START of an honest leader (sent at its lock-in s_L + Δ) reaches every honest validator
 *     before its start deadline (by s_L + Δ + δ < s_i + 2Δ), so all agree on it and no honest
 *     leader is skipped; views keep the skew σ, as each ends by its own timers;
 *   - a byzantine lottery that reaches some honest validator at least σ + δ before that one's
 *     lock-in is relayed to all in time, so all lock it in; if it then starts to any honest
 *     validator σ + δ before that one's start deadline, the relay makes all accept it, and if it
 *     never starts, all skip it.
 * Outside that bound — a lottery delayed past lock-in, or a byzantine validator sending in the last
 * σ + δ before a deadline — lock-in being final means two validators may each believe they won:
 * each honest node accepts only the START of the validator it locked in, so the split is at most
 * the nodes whose messages broke the bound. That no two leaders complete DRP in one epoch is
 * DRP's quorum (its choice is co-signed by 2f + 1 of the n = 3f + 1 servers, each serving one
 * leader), and the identity chain's ≥ 2/3 certificate fixes which one counts: the election gives
 * unpredictability and, within the bound, agreement; not byzantine agreement on its own.
 */
import { sameBytes } from "../../bytes.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES } from "../../codec/sizes.js";
import { check, invariant } from "../../errors.js";
import { toHex } from "../../hex.js";
import { keyPairFromSecret } from "../../ledger/keys.js";
import { guardedHandler } from "../../net/guarded-handler.js";
import type { PeerId } from "../../net/interface.js";
import type { TimerHandle } from "../../runtime/interface.js";
import type { ElectionConfig, ElectionDependencies, ElectionErrorCode, ElectionOutcome, ElectionPhase, ElectionStats, Lottery } from "./interface.js";
import { compareLotteries, drawLottery, minimumLottery, verifyLottery } from "./lottery.js";
import {
  ELECTION_MESSAGES,
  MAX_VALIDATORS,
  decodeLottery,
  decodeStart,
  encodeLottery,
  isStartAuthentic,
  signResign,
  signStart,
  isResignAuthentic,
  type LotteryMessage,
  type StartMessage,
} from "./messages.js";

/** Doublings of Δ at most: views 4 and later use 16Δ. */
const MAX_VIEW_DOUBLINGS = 4;

/** Δ_v, the windows of view `view` (module doc): Δ doubled per view, up to 2^MAX_VIEW_DOUBLINGS Δ. */
export function viewDeltaMs(deltaMs: number, view: number): number {
  return deltaMs * 2 ** Math.min(view, MAX_VIEW_DOUBLINGS);
}

export class LeaderElection {
  readonly stats: ElectionStats = { lotteries: 0, duplicates: 0, late: 0, relayed: 0, rejected: 0, afterEnd: 0 };
  readonly #config: ElectionConfig;
  readonly #deps: ElectionDependencies;
  readonly #peers: readonly PeerId[];
  readonly #indexOfPeer = new Map<PeerId, number>();
  readonly #self: number;
  readonly #maxViews: number;
  readonly #skipped = new Set<number>();
  /** Verified lotteries by view (the current and the next), by validator. */
  readonly #lotteries = new Map<number, Map<number, Lottery>>();
  /** Verified STARTs by view (the current and the next), by leader: decided at lock-in. */
  readonly #starts = new Map<number, Map<number, { readonly message: StartMessage; readonly lottery: Lottery }>>();
  /** Validators that resigned the current view before this node locked in (it skips them at lock-in). */
  readonly #resigned = new Set<number>();
  #phase: ElectionPhase = "idle";
  #view = 0;
  #locked: Lottery | undefined;
  #timer: TimerHandle | undefined;
  #outcome: ElectionOutcome | undefined;
  #closed = false;

  constructor(config: ElectionConfig, deps: ElectionDependencies) {
    const { validators } = config;
    check<ElectionErrorCode>(Number.isInteger(config.epoch) && config.epoch >= 1 && config.epoch <= 0xffffffff, "ELECTION_BAD_CONFIG", `epoch must be a u32 ≥ 1, got ${String(config.epoch)}`);
    check<ElectionErrorCode>(config.confHash instanceof Uint8Array && config.confHash.length === HASH_BYTES, "ELECTION_BAD_CONFIG", `the configuration hash is ${HASH_BYTES} bytes`);
    check<ElectionErrorCode>(
      Array.isArray(validators) && validators.length >= 1 && validators.length <= MAX_VALIDATORS && validators.every((key) => key instanceof Uint8Array && key.length === PUBLIC_KEY_BYTES),
      "ELECTION_BAD_CONFIG",
      `1 to ${MAX_VALIDATORS} validators, each a ${PUBLIC_KEY_BYTES}-byte Ed25519 public key`,
    );
    check<ElectionErrorCode>(typeof config.deltaMs === "number" && Number.isFinite(config.deltaMs) && config.deltaMs > 0, "ELECTION_BAD_CONFIG", `Δ must be a positive number of milliseconds, got ${String(config.deltaMs)}`);
    const maxViews = config.maxViews ?? validators.length;
    check<ElectionErrorCode>(Number.isInteger(maxViews) && maxViews >= 1 && maxViews <= 0xffffffff, "ELECTION_BAD_CONFIG", `maxViews must be a u32 ≥ 1, got ${String(maxViews)}`);
    check<ElectionErrorCode>(deps.secretKey instanceof Uint8Array && deps.secretKey.length === SECRET_KEY_BYTES, "ELECTION_BAD_CONFIG", `the secret key is a ${SECRET_KEY_BYTES}-byte Ed25519 seed`);
    this.#peers = validators.map(toHex);
    this.#peers.forEach((peer, index) => this.#indexOfPeer.set(peer, index));
    check<ElectionErrorCode>(this.#indexOfPeer.size === validators.length, "ELECTION_BAD_CONFIG", "the validators contain a duplicate key");
    const self = this.#indexOfPeer.get(toHex(keyPairFromSecret(deps.secretKey).publicKey));
    check<ElectionErrorCode>(self !== undefined, "ELECTION_BAD_CONFIG", "the secret key is not a validator's");
    check<ElectionErrorCode>(deps.channel.self === this.#peers[self], "ELECTION_BAD_CONFIG", "channel.self must be the hex of this validator's key");
    this.#config = { ...config, confHash: config.confHash.slice(), validators: validators.map((key) => key.slice()) };
    this.#deps = deps;
    this.#self = self;
    this.#maxViews = maxViews;
    // Any validator may deliver any validator's message (gossip): authenticity is in the message itself.
    const guard = (handler: (payload: Uint8Array) => void) =>
      guardedHandler(() => this.#closed, () => this.stats.rejected++, (from, payload) => {
        if (this.#phase === "failed") {
          this.stats.afterEnd++;
          return;
        }
        check<ElectionErrorCode>(this.#indexOfPeer.has(from), "ELECTION_UNKNOWN_PEER", `peer ${from} is not a validator of the election`);
        handler(payload);
      });
    deps.channel.on(ELECTION_MESSAGES.LOTTERY, guard((payload) => this.#onLottery(decodeLottery(payload))));
    deps.channel.on(ELECTION_MESSAGES.START, guard((payload) => this.#onStart(decodeStart(payload))));
    deps.channel.on(ELECTION_MESSAGES.RESIGN, guard((payload) => this.#onResign(decodeStart(payload))));
  }

  get phase(): ElectionPhase {
    return this.#phase;
  }

  /** The current view (the last one tried once the election ended). */
  get view(): number {
    return this.#view;
  }

  /** This node's validator index. */
  get self(): number {
    return this.#self;
  }

  /** The agreed leader, once elected. */
  get outcome(): ElectionOutcome | undefined {
    return this.#outcome;
  }

  /** The validator locked in for the current view, once the gossip phase ended. */
  get locked(): Lottery | undefined {
    return this.#locked;
  }

  /** Validators skipped so far this epoch, ascending. */
  get skipped(): number[] {
    return [...this.#skipped].sort((a, b) => a - b);
  }

  /** Starts view 0: every shard's boundary block of epoch e − 1 is known. */
  begin(): void {
    check<ElectionErrorCode>(this.#phase === "idle" && !this.#closed, "ELECTION_WRONG_PHASE", `begin() in phase ${this.#phase}`);
    this.#enterView(0);
  }

  /**
   * The locked-in leader starts DRP: signs its START, broadcasts it and returns it (the DRP
   * session's first message carries it). ELECTION_WRONG_PHASE unless this node is the current
   * view's locked-in leader within its Δ.
   */
  startAsLeader(): Uint8Array {
    check<ElectionErrorCode>(
      !this.#closed && this.#phase === "awaiting-start" && this.#locked?.validator === this.#self,
      "ELECTION_WRONG_PHASE",
      `this node is not the locked-in leader awaiting its start (phase ${this.#phase}, view ${this.#view})`,
    );
    const start = signStart(this.#deps.secretKey, this.#config.confHash, this.#lotteryMessage(this.#locked));
    this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.START, start);
    this.#elect(decodeStart(start), this.#locked, false);
    return start;
  }

  /**
   * A START handed in by the caller (e.g. carried by the DRP session's first message), checked
   * and acted on as if it had arrived on the channel; throws its ELECTION_* code when refused.
   */
  observeStart(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#phase === "failed") {
      this.stats.afterEnd++;
      return;
    }
    this.#onStart(decodeStart(bytes));
  }

  /**
   * This node, the elected leader, cannot deliver (its DRP run failed): signs and broadcasts
   * RESIGN and skips itself, and the next view begins here as it does at every node the RESIGN
   * reaches. ELECTION_WRONG_PHASE unless this node is the elected leader.
   */
  resign(): void {
    check<ElectionErrorCode>(!this.#closed && this.#phase === "elected" && this.#outcome?.leader === this.#self, "ELECTION_WRONG_PHASE",
      `resign() by a node that is not the elected leader (phase ${this.#phase}, view ${this.#view})`);
    const resign = signResign(this.#deps.secretKey, this.#config.confHash, this.#lotteryMessage(this.#locked!));
    this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.RESIGN, resign);
    this.#outcome = undefined;
    this.#endView(this.#self);
  }

  /**
   * The elected leader did not deliver what it was elected for (the DRP run or the signed
   * configuration) in the caller's time: it is skipped like a silent winner and the next view
   * begins. ELECTION_WRONG_PHASE unless a leader is elected here.
   */
  abandon(): void {
    check<ElectionErrorCode>(!this.#closed && this.#phase === "elected", "ELECTION_WRONG_PHASE", `abandon() in phase ${this.#phase}`);
    const { leader } = this.#outcome!;
    this.#outcome = undefined;
    this.#endView(leader);
  }

  /** Stops the timers and ignores further messages; the channel stays its owner's. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer();
  }

  /** The current view's messages once its leader is elected: nothing left to decide with them. */
  #afterElection(view: number): boolean {
    if (this.#phase !== "elected" || view > this.#view) return false;
    this.stats.afterEnd++;
    return true;
  }

  #enterView(view: number): void {
    this.#view = view;
    this.#locked = undefined;
    this.#resigned.clear();
    this.#phase = "gossip";
    for (const kept of [this.#lotteries, this.#starts]) for (const old of kept.keys()) if (old < view) kept.delete(old);
    if (!this.#skipped.has(this.#self)) {
      const own = drawLottery(this.#deps.secretKey, this.#self, this.#config.confHash, view);
      this.#record(view, own);
      this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.LOTTERY, encodeLottery(this.#lotteryMessage(own)));
    }
    // A lottery of this view that arrived before it began, from a faster peer, is spread as any other.
    const best = this.#minimum(view);
    if (best !== undefined && best.validator !== this.#self) this.#relayLottery(best);
    this.#timer = this.#deps.clock.setTimer(viewDeltaMs(this.#config.deltaMs, view), () => this.#lockIn());
  }

  #lockIn(): void {
    const view = this.#view;
    const leader = this.#minimum(view);
    if (leader === undefined) {
      // Only a skipped node that heard no one gets here: nobody to wait for in this view.
      this.#endView(undefined);
      return;
    }
    if (this.#resigned.has(leader.validator)) {
      // It was elected elsewhere and resigned before this node locked in: skipped as those nodes skipped it.
      this.#endView(leader.validator);
      return;
    }
    this.#locked = leader;
    this.#phase = "awaiting-start";
    this.#timer = this.#deps.clock.setTimer(viewDeltaMs(this.#config.deltaMs, view), () => this.#endView(leader.validator));
    if (leader.validator === this.#self) {
      this.#deps.onLeading?.({ epoch: this.#config.epoch, view, leader: this.#self, proof: leader.proof });
      return;
    }
    const start = this.#starts.get(view)?.get(leader.validator);
    if (start !== undefined) this.#elect(start.message, start.lottery, true);
  }

  #endView(skip: number | undefined): void {
    this.#timer = undefined;
    if (skip !== undefined) {
      this.#skipped.add(skip);
      this.#deps.onSkipped?.(this.#view, skip);
    }
    if (this.#view + 1 >= this.#maxViews) {
      this.#phase = "failed";
      this.#deps.onFailed?.(this.#view + 1);
      return;
    }
    this.#enterView(this.#view + 1);
  }

  /** `started`: the lottery the START carries, verified. */
  #elect(start: StartMessage, started: Lottery, relay: boolean): void {
    this.#cancelTimer();
    const lottery = this.#locked!;
    // Several valid proofs of one lottery may circulate (lottery.ts); every node records the one its leader signed.
    invariant(sameBytes(started.beta, lottery.beta), "one key and one alpha have one ECVRF output");
    this.#phase = "elected";
    this.#outcome = { epoch: this.#config.epoch, view: this.#view, leader: lottery.validator, proof: start.proof, beta: lottery.beta, start: start.bytes };
    if (relay) {
      this.stats.relayed++;
      this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.START, start.bytes);
    }
    this.#deps.onElected?.(this.#outcome);
  }

  /** The checks every message passes before its proof is looked at: epoch, validator, view, skip. */
  #checkHeader(message: LotteryMessage): void {
    check<ElectionErrorCode>(message.epoch === this.#config.epoch, "ELECTION_WRONG_EPOCH", `message for epoch ${message.epoch}, this election configures ${this.#config.epoch}`);
    check<ElectionErrorCode>(message.validator < this.#peers.length, "ELECTION_BAD_VALIDATOR", `validator ${message.validator} of ${this.#peers.length}`);
    check<ElectionErrorCode>(message.view >= this.#view, "ELECTION_STALE_VIEW", `view ${message.view}, this node is at view ${this.#view}`);
    check<ElectionErrorCode>(message.view <= this.#view + 1, "ELECTION_FUTURE_VIEW", `view ${message.view}, this node is at view ${this.#view}`);
    check<ElectionErrorCode>(!this.#skipped.has(message.validator), "ELECTION_SKIPPED", `validator ${message.validator} was skipped in this epoch`);
  }

  /** The message's lottery, verified (ELECTION_BAD_PROOF: forged, or not the named validator's). */
  #verified(message: LotteryMessage): Lottery {
    const lottery = verifyLottery(this.#config.validators, this.#config.confHash, message.view, message.validator, message.proof);
    check<ElectionErrorCode>(lottery !== undefined, "ELECTION_BAD_PROOF", `the lottery of validator ${message.validator} in view ${message.view} does not verify`);
    return lottery;
  }

  #onLottery(message: LotteryMessage): void {
    if (this.#afterElection(message.view)) return;
    this.#checkHeader(message);
    const held = this.#lotteries.get(message.view)?.get(message.validator);
    if (held !== undefined && sameBytes(held.proof, message.proof)) {
      this.stats.duplicates++;
      return;
    }
    this.#consider(message.view, this.#verified(message));
  }

  /** A verified lottery: kept if it still counts, relayed if it is the new minimum of the view being gossiped. */
  #consider(view: number, lottery: Lottery): void {
    const held = this.#lotteries.get(view)?.get(lottery.validator);
    if (held !== undefined) {
      // Another valid proof of a lottery already held: a VRF output is unique per key and input.
      invariant(sameBytes(held.beta, lottery.beta), "one key and one alpha have one ECVRF output");
      this.stats.duplicates++;
      return;
    }
    if (view === this.#view && this.#phase === "awaiting-start") {
      this.stats.late++;
      return;
    }
    const before = this.#minimum(view);
    this.#record(view, lottery);
    if (view === this.#view && this.#phase === "gossip" && (before === undefined || compareLotteries(lottery, before) < 0)) this.#relayLottery(lottery);
  }

  #onStart(start: StartMessage): void {
    if (this.#afterElection(start.view)) return;
    this.#checkHeader(start);
    const key = this.#config.validators[start.validator]!;
    check<ElectionErrorCode>(isStartAuthentic(start, this.#config.confHash, key), "ELECTION_BAD_SIGNATURE", `the START of validator ${start.validator} in view ${start.view} is not signed by it`);
    const lottery = this.#verified(start);
    const locked = this.#locked;
    if (start.view === this.#view && locked !== undefined) {
      check<ElectionErrorCode>(start.validator === locked.validator, "ELECTION_NOT_LEADER", `START of validator ${start.validator}, the leader of view ${start.view} is ${locked.validator}`);
      this.#elect(start, lottery, true);
      return;
    }
    // Before lock-in (this node is behind): its lottery counts like any other, the START waits for lock-in.
    this.#consider(start.view, lottery);
    let starts = this.#starts.get(start.view);
    if (starts === undefined) this.#starts.set(start.view, (starts = new Map()));
    starts.set(start.validator, { message: start, lottery });
  }

  /**
   * A RESIGN of the current view: its author is skipped here if this node elected or locked it in,
   * or at lock-in if this node is still gossiping. Relayed once by the nodes it makes skip.
   */
  #onResign(resign: StartMessage): void {
    check<ElectionErrorCode>(resign.epoch === this.#config.epoch, "ELECTION_WRONG_EPOCH", `message for epoch ${resign.epoch}, this election configures ${this.#config.epoch}`);
    check<ElectionErrorCode>(resign.validator < this.#peers.length, "ELECTION_BAD_VALIDATOR", `validator ${resign.validator} of ${this.#peers.length}`);
    if (resign.view !== this.#view || this.#skipped.has(resign.validator)) {
      this.stats.afterEnd++;
      return;
    }
    check<ElectionErrorCode>(isResignAuthentic(resign, this.#config.confHash, this.#config.validators[resign.validator]!), "ELECTION_BAD_SIGNATURE",
      `the RESIGN of validator ${resign.validator} in view ${resign.view} is not signed by it`);
    const elected = this.#phase === "elected" && this.#outcome?.leader === resign.validator;
    const locked = this.#phase === "awaiting-start" && this.#locked?.validator === resign.validator;
    if (!elected && !locked) {
      if (this.#phase === "gossip") this.#resigned.add(resign.validator);
      return;
    }
    this.#cancelTimer();
    this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.RESIGN, resign.bytes);
    if (elected) {
      this.#outcome = undefined;
      this.#deps.onResigned?.(resign.view, resign.validator);
    }
    this.#endView(resign.validator);
  }

  #record(view: number, lottery: Lottery): void {
    let lotteries = this.#lotteries.get(view);
    if (lotteries === undefined) this.#lotteries.set(view, (lotteries = new Map()));
    lotteries.set(lottery.validator, lottery);
    this.stats.lotteries++;
  }

  /** The minimum lottery held for `view` among validators not skipped. */
  #minimum(view: number): Lottery | undefined {
    const lotteries = this.#lotteries.get(view);
    if (lotteries === undefined) return undefined;
    return minimumLottery([...lotteries.values()].filter((lottery) => !this.#skipped.has(lottery.validator)));
  }

  #relayLottery(lottery: Lottery): void {
    this.stats.relayed++;
    this.#deps.channel.broadcast(this.#peers, ELECTION_MESSAGES.LOTTERY, encodeLottery(this.#lotteryMessage(lottery)));
  }

  #lotteryMessage(lottery: Lottery): LotteryMessage {
    return { epoch: this.#config.epoch, view: this.#view, validator: lottery.validator, proof: lottery.proof };
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#deps.clock.cancelTimer(this.#timer);
    this.#timer = undefined;
  }
}
