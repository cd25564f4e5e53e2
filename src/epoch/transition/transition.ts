/**
 * One validator's part in reconfiguring epoch e into e + 1 (white paper §4.1, §5.2; Algorithms
 * 1–3), over the transport, with every step checked by every validator:
 *
 *   1. boundaries   each validator hands in its shard's boundary (`provideBoundary`): the
 *                   final-height certificate of epoch e's last height, the shard's believability
 *                   accounts after it and its validator changes, and sends it to every
 *                   validator; a boundary counts once its certificate verifies against the
 *                   shard's committee of epoch e (src/atomix/proof.ts) and its accounts are the
 *                   ones that certificate commits to (their hash), one per member of the shard
 *                   (TRANSITION_BAD_ACCOUNTS). With one per shard the election begins, so every
 *                   honest validator begins within a message delay of the others. Each
 *                   validator sends its boundary again every 4Δ until the epoch is configured:
 *                   a boundary lost to a link down at that moment would otherwise stop every
 *                   shard for good (an identical copy is recognized by its hash, not verified
 *                   again).
 *   2. election     Algorithm 1 (src/epoch/election): the minimum VRF lottery over the hash of
 *                   configuration e leads; a leader that does not start within Δ_v is skipped.
 *   3. randomness   the leader runs DRP (Algorithms 2–3, src/epoch/drp) as its client, every
 *                   other validator of epoch e as a server with its validator key
 *                   (validator-keys.ts); the grouping seed is H(configuration e ‖ view), so the
 *                   leader does not choose the groups. Each DRP phase waits Δ_v for the silent
 *                   (Δ doubled per view, election.ts); a run that fails its thresholds makes the
 *                   leader resign (RESIGN), so the next view begins at once everywhere.
 *   4. proposal     the leader derives configuration e + 1 (src/epoch/identity) — the validators
 *                   (`#nextSet`), rnd from the transcript, the transcript's hash, its lottery, the
 *                   boundaries' state commitments, the departures — and sends it with the transcript. Each
 *                   validator derives the same configuration from what it verified itself (the
 *                   transcript by Algorithm 3, the lottery by the election, the boundaries by
 *                   their certificates) and accepts only that, only from its elected leader.
 *   5. certificate  the leader has the configuration's certificate message co-signed by CoSi
 *                   over all validators of e (≥ ⌊2n/3⌋ + 1 signers, the identity chain's rule).
 *                   An honest validator co-signs at most one configuration per epoch, so two
 *                   certificates of one epoch would need more than n/3 double signers. Having
 *                   agreed to sign one, it is locked on that proposal: it sends it (LOCK) to
 *                   every leader it elects later, and a leader that knows a lock proposes that
 *                   configuration again, unchanged (its lottery is the earlier view's), instead
 *                   of its own — so a leader that gathered agreement and then withheld the
 *                   certificate or the link cannot stop the epoch.
 *   6. link         the leader sends configuration, certificate and transcript; every validator
 *                   checks the link (`verifyEpochLink`) and that the transcript is the one it
 *                   names, relays it once and is configured. A leader that has not delivered
 *                   `deliveryTimeoutMs` (default the longer of 40Δ and 6Δ_v) after its election
 *                   is skipped: the next view elects another.
 *
 * The next validator set (`#nextSet`), from epoch e's and the proven changes:
 *   - slashed in e (its boundary account excluded, or its stake zeroed): out for good. Its bond is
 *     spent, so it has no stake left to lose; keeping it with stake 0 would seat a committee
 *     member with nothing at risk. It returns only by bonding anew, as a newcomer (a fresh key
 *     could do the same: the deterrent is the burned bond, not the identity);
 *   - a proven leave (the earliest in chain order per key): out, and its bond becomes a departure
 *     (bond, validator, the leave's payout, release epoch e + 2: a full epoch out of every
 *     committee in which evidence can still slash it). Leaves that would leave fewer validators
 *     than shards all wait an epoch (neither out nor departed);
 *   - everyone else stays, carrying its shard's end-of-epoch Servi and reputation;
 *   - a proven registration of a key that is not one of e's and does not leave joins with Servi 0
 *     and REPUTATION_INITIAL;
 *   - departures carry over until a proven release (final in e) spends their bond.
 *
 * Liveness limit (stated): locks are re-proposed, not reconciled. A byzantine leader that
 * shows different configurations to different validators (each a valid derivation: another
 * transcript of its own run, or other change sets) and gets more than n/3 of them to agree to
 * each can leave no configuration able to reach ⌊2n/3⌋ + 1 signers; a two-phase agreement on
 * the configuration (the shard BFT's prepare/commit) would lift it. A leader that only proposes
 * binds no one.
 */
import { CommitteeProofVerifier, committeesOfContext, decodeDecisionProof, verifyFinalHeightCertificate, type CommitteeDirectory } from "../../atomix/proof.js";
import { TX_PREFIX, TxKind } from "../../ledger/kinds/interface.js";
import { transactionIdOfEncoding } from "../../ledger/kinds/registry.js";
import { validatorChangeOf, type ValidatorChange } from "../../ledger/validator-changes.js";
import { sameBytes } from "../../bytes.js";
import { BinaryWriter } from "../../codec/binary.js";
import { HASH_BYTES } from "../../codec/sizes.js";
import { encodeCollectiveSignature } from "../../consensus/cosi/codec.js";
import { CosiNode } from "../../consensus/cosi/protocol.js";
import { SchnorrKey } from "../../crypto/schnorr.js";
import { sha256 } from "../../crypto/sha256.js";
import { IosError, check } from "../../errors.js";
import { toHex } from "../../hex.js";
import { keyPairFromSecret } from "../../ledger/keys.js";
import { guardedHandler } from "../../net/guarded-handler.js";
import type { PeerId } from "../../net/interface.js";
import type { TimerHandle } from "../../runtime/interface.js";
import { decodeConfig, knownParties, makeConfig, type DrpConfig, type DrpParties, type ServerKeys } from "../drp/config.js";
import { SessionGuard } from "../drp/guard.js";
import { DrpPort } from "../drp/network.js";
import { DrpClient, DrpServer } from "../drp/session.js";
import { decodeTranscriptParts, verifyTranscript } from "../drp/transcript.js";
import { validatorServerKeys, validatorServerSecrets } from "../drp/validator-keys.js";
import { LeaderElection, viewDeltaMs } from "../election/election.js";
import type { ElectionOutcome, LeaderLottery } from "../election/interface.js";
import { verifyLottery } from "../election/lottery.js";
import { decodeIdentityConfiguration, encodeIdentityConfiguration, identityConfigurationHash, nextIdentityConfiguration, type EpochOutcome } from "../identity/configuration.js";
import { REPUTATION_INITIAL, accountsHash, type AccountState } from "../../consensus/pob/believability.js";
import type { IdentityValidator, ShardBoundary } from "../identity/interface.js";
import { identityCertificateMessage, verifyEpochLink } from "../identity/link.js";
import type { Departure, EpochContext } from "../interface.js";
import type { ConfiguredEpoch, ProvenChange, TransitionConfig, TransitionDependencies, TransitionErrorCode, TransitionPhase, TransitionStats } from "./interface.js";
import { TRANSITION_MESSAGES, decodeBoundary, decodeLink, decodeProposal, encodeBoundary, encodeLink, encodeProposal, type Boundary } from "./messages.js";

/** A transcript that passed Algorithm 3 here, its output and its session's configuration. */
interface CheckedTranscript {
  readonly transcript: Uint8Array;
  readonly rnd: Uint8Array;
  readonly config: DrpConfig;
}

const GROUPING_DOMAIN = new TextEncoder().encode("IOSChain/epoch/drp-grouping-seed/v1");
/** DRP servers per group (RandHound's groups of a few dozen; white paper §5.2 input 8): about 16. */
const SERVERS_PER_GROUP = 16;
/** Default delivery time of an elected leader, in Δ (TransitionConfig `deliveryTimeoutMs`). */
const DELIVERY_DELTAS = 40;
/** ... and at least this many Δ_v: DRP's four phases and the configuration's CoSi, in a view whose windows doubled. */
const DELIVERY_VIEW_DELTAS = 6;
/** A validator sends its boundary again this often (in Δ) until the epoch is configured. */
const BOUNDARY_RESEND_DELTAS = 4;

export class EpochTransition {
  readonly stats: TransitionStats = { rejected: 0, abandoned: 0, resigned: 0 };
  readonly #previous: EpochContext;
  readonly #config: TransitionConfig;
  readonly #deps: TransitionDependencies;
  readonly #keys: readonly Uint8Array[];
  /** Epoch e's validators with the proofs of possession its registry holds, in configuration order. */
  readonly #current: readonly IdentityValidator[];
  /** Their DRP keys (validator-keys.ts), index-aligned: each key decoded and checked once, whatever the runs and proposals. */
  readonly #serverKeys: readonly ServerKeys[];
  readonly #peers: readonly PeerId[];
  readonly #indexOfPeer = new Map<PeerId, number>();
  readonly #self: number;
  readonly #committees: CommitteeDirectory;
  /** Decision proofs of validator changes: a height's commit certificate is checked once, however many changes cite it. */
  readonly #decisions: CommitteeProofVerifier;
  readonly #election: LeaderElection;
  readonly #port: DrpPort;
  /** One session per leader and purpose, w near this clock: kept across the runs of this transition (guard.ts). */
  readonly #guard: SessionGuard;
  readonly #cosi: CosiNode;
  /** Each shard's verified boundary. */
  readonly #boundaries: (ShardBoundary | undefined)[];
  /** Every validator's account at epoch e's end, by key (hex), from the verified boundaries. */
  readonly #accounts = new Map<string, AccountState>();
  /** Every verified validator change of epoch e this validator knows, by txid (hex). */
  readonly #changes = new Map<string, { readonly proven: ProvenChange; readonly change: ValidatorChange }>();
  #phase: TransitionPhase = "boundaries";
  #elected: ElectionOutcome | undefined;
  #deliveryTimer: TimerHandle | undefined;
  #boundaryTimer: TimerHandle | undefined;
  /** SHA-256 (hex) of every boundary message accepted here: a resent copy is not verified twice. */
  readonly #acceptedBoundaries = new Set<string>();
  #stopDrp: (() => void) | undefined;
  /** Certificate messages of the configurations each leader proposed that this validator derived too, with the proposal. */
  readonly #proposed = new Map<number, { readonly message: Uint8Array; readonly proposal: Uint8Array }>();
  /** The proposal (encoded) of another leader's configuration this validator agreed to sign: what it re-proposes as leader, or reports to the leaders it elects (LOCK). */
  #lock: Uint8Array | undefined;
  /** A lock another validator reported to this one while it leads, verified: proposed instead of its own configuration. */
  #reportedLock: Uint8Array | undefined;
  /** Validators whose LOCK this leader examined in its view: one each (each costs a transcript check). */
  readonly #lockReporters = new Set<number>();
  /** Transcripts that passed Algorithm 3 here, by SHA-256 (hex). */
  readonly #transcripts = new Map<string, CheckedTranscript>();
  /** Leaders whose proposal this validator examined. */
  readonly #examined = new Set<number>();
  /** The one certificate message this validator co-signs this epoch, once it agreed to sign. */
  #signed: Uint8Array | undefined;
  #closed = false;

  constructor(config: TransitionConfig, deps: TransitionDependencies) {
    const { previous } = config;
    check<TransitionErrorCode>(previous.epochLength !== undefined, "TRANSITION_BAD_CONFIG", `epoch ${previous.epoch} has no length: no epoch follows it`);
    check<TransitionErrorCode>(previous.policy !== undefined, "TRANSITION_BAD_CONFIG", "boundaries are certified by PoB committees: the epoch needs a PoB policy");
    check<TransitionErrorCode>(Number.isFinite(config.deltaMs) && config.deltaMs > 0, "TRANSITION_BAD_CONFIG", `Δ must be positive, got ${config.deltaMs}`);
    this.#previous = previous;
    this.#config = config;
    this.#deps = deps;
    this.#keys = previous.validators.map((validator) => validator.publicKey);
    const possessionOf = new Map(previous.registry.validators().map((entry) => [entry.peerId, entry.proof]));
    this.#current = previous.validators.map((validator) => ({
      ...validator, pop: possessionOf.get(toHex(validator.publicKey))!, servi: validator.servi ?? 0, reputation: validator.reputation ?? REPUTATION_INITIAL,
    }));
    this.#serverKeys = this.#current.map((validator) => validatorServerKeys(validator.publicKey, validator.pop));
    this.#peers = this.#keys.map(toHex);
    this.#peers.forEach((peer, index) => this.#indexOfPeer.set(peer, index));
    const self = this.#indexOfPeer.get(toHex(keyPairFromSecret(deps.secretKey).publicKey));
    check<TransitionErrorCode>(self !== undefined, "TRANSITION_BAD_CONFIG", `the key is not a validator of epoch ${previous.epoch}`);
    this.#self = self;
    this.#committees = committeesOfContext(previous);
    this.#decisions = new CommitteeProofVerifier(this.#committees, deps.verifier);
    this.#boundaries = new Array<ShardBoundary | undefined>(previous.shardCount).fill(undefined);
    const epoch = previous.epoch + 1;
    this.#election = new LeaderElection(
      { epoch, confHash: previous.configurationHash, validators: this.#keys, deltaMs: config.deltaMs },
      {
        channel: deps.channel, clock: deps.clock, secretKey: deps.secretKey,
        onLeading: (lottery) => this.#lead(lottery),
        onElected: (outcome) => this.#onElected(outcome),
        onResigned: () => this.#leaveLeader(),
        onFailed: () => (this.#phase = "failed"),
      },
    );
    this.#port = new DrpPort(deps.channel, deps.clock);
    this.#guard = new SessionGuard(deps.clock);
    this.#cosi = new CosiNode(
      { participants: this.#keys, fanout: config.cosi.fanout, levelTimeoutMs: config.cosi.levelTimeoutMs },
      { channel: deps.cosiChannel, clock: deps.clock, rng: deps.rng, key: SchnorrKey.fromSeed(deps.secretKey), verifier: deps.verifier, approve: (message, leader) => this.#approves(message, leader) },
    );
    const guard = (handler: (from: PeerId, payload: Uint8Array) => void) =>
      guardedHandler(() => this.#closed || this.#phase === "configured", () => this.stats.rejected++, (from, payload) => {
        check<TransitionErrorCode>(this.#indexOfPeer.has(from), "TRANSITION_UNKNOWN_PEER", `peer ${from} is not a validator of epoch ${previous.epoch}`);
        handler(from, payload);
      });
    deps.channel.on(TRANSITION_MESSAGES.BOUNDARY, guard((_from, payload) => {
      const hash = toHex(sha256(payload));
      if (this.#acceptedBoundaries.has(hash)) return;
      this.#acceptBoundary(decodeBoundary(payload));
      this.#acceptedBoundaries.add(hash);
    }));
    deps.channel.on(TRANSITION_MESSAGES.PROPOSAL, guard((from, payload) => this.#onProposal(from, payload)));
    deps.channel.on(TRANSITION_MESSAGES.LINK, guard((_from, payload) => this.#onLink(payload)));
    deps.channel.on(TRANSITION_MESSAGES.LOCK, guard((from, payload) => this.#onLock(from, payload)));
  }

  get phase(): TransitionPhase {
    return this.#phase;
  }

  /** The leader elected here, once elected (the view's, until it is abandoned). */
  get elected(): ElectionOutcome | undefined {
    return this.#elected;
  }

  /**
   * This validator's shard finalized epoch e's last height: its certificate, the shard's accounts
   * after it and its validator changes of epoch e, each with its acceptance proof, go to every
   * validator (the PoB driver's `boundary`, src/node/consensus/pob-consensus.ts).
   */
  provideBoundary(boundary: Boundary): void {
    this.#acceptBoundary(boundary);
    const encoded = encodeBoundary(boundary);
    this.#acceptedBoundaries.add(toHex(sha256(encoded)));
    const send = (): void => {
      this.#boundaryTimer = undefined;
      if (this.#closed || this.#phase === "configured") return;
      this.#deps.channel.broadcast(this.#peers, TRANSITION_MESSAGES.BOUNDARY, encoded);
      this.#boundaryTimer = this.#deps.clock.setTimer(BOUNDARY_RESEND_DELTAS * this.#config.deltaMs, send);
    };
    send();
  }

  /** Stops timers, the election, DRP and CoSi; the channels stay their owner's. */
  close(): void {
    this.#closed = true;
    this.#cancelDelivery();
    if (this.#boundaryTimer !== undefined) this.#deps.clock.cancelTimer(this.#boundaryTimer);
    this.#boundaryTimer = undefined;
    this.#stopDrp?.();
    this.#election.close();
    this.#cosi.close();
  }

  // ——— 1. boundaries ———

  #acceptBoundary({ certificate, accounts, changes }: Boundary): void {
    const certified = verifyFinalHeightCertificate(certificate, this.#committees, this.#deps.verifier);
    const previous = this.#previous;
    check<TransitionErrorCode>(certified.epoch === previous.epoch && certified.height === previous.epochLength, "TRANSITION_WRONG_BOUNDARY",
      `a boundary is epoch ${previous.epoch}'s height ${previous.epochLength}, not epoch ${certified.epoch}'s height ${certified.height}`);
    // An epoch ends moved: its last height is decided by the last batch's committee (TransEpoch), the one configuration e + 1 follows.
    check<TransitionErrorCode>(certified.batch === previous.batchCount(certified.shard), "TRANSITION_WRONG_BOUNDARY",
      `shard ${certified.shard}'s boundary is certified in batch ${certified.batch}, epoch ${previous.epoch} ends in batch ${previous.batchCount(certified.shard)}`);
    this.#checkAccounts(accounts, certified.shard, certified.accountsHash);
    for (const proven of changes) this.#acceptChange(proven, certified.shard);
    const known = this.#boundaries[certified.shard];
    if (known !== undefined) {
      check<TransitionErrorCode>(sameBytes(known.stateCommitment, certified.stateCommitment), "TRANSITION_CONFLICTING_BOUNDARY",
        `shard ${certified.shard} has two certified states at height ${known.height}`);
      return;
    }
    this.#boundaries[certified.shard] = { height: previous.startHeight + certified.height, stateCommitment: certified.stateCommitment };
    for (const account of accounts) this.#accounts.set(toHex(account.publicKey), account);
    if (this.#phase === "boundaries" && this.#boundaries.every((boundary) => boundary !== undefined)) {
      this.#phase = "election";
      this.#election.begin();
    }
  }

  /**
   * TRANSITION_BAD_ACCOUNTS unless `accounts` hash to the certified `hash` and are one per member
   * of `shard` in epoch e (a certified list is the shard's own; the second check keeps a shard
   * whose committee certified something else from speaking for another's members).
   */
  #checkAccounts(accounts: readonly AccountState[], shard: number, hash: Uint8Array): void {
    let matches: boolean;
    try {
      matches = sameBytes(accountsHash(accounts), hash);
    } catch (error) {
      if (error instanceof IosError) throw new IosError<TransitionErrorCode>("TRANSITION_BAD_ACCOUNTS", `shard ${shard}'s boundary accounts do not encode: ${error.message}`);
      throw error;
    }
    check<TransitionErrorCode>(matches, "TRANSITION_BAD_ACCOUNTS", `shard ${shard}'s boundary accounts are not the ones its certificate commits to`);
    const members = [...this.#previous.members(shard)].sort((a, b) => Buffer.compare(a, b));
    check<TransitionErrorCode>(members.length === accounts.length && members.every((key, i) => sameBytes(key, accounts[i]!.publicKey)), "TRANSITION_BAD_ACCOUNTS",
      `shard ${shard}'s boundary accounts are not one per member of the shard`);
  }

  /**
   * Verifies a validator change: a registration, leave or release its shard accepted in epoch e — `shard`'s,
   * when a boundary of `shard` carries it (TRANSITION_BAD_CHANGE otherwise); returns its txid (hex).
   */
  #acceptChange(proven: ProvenChange, shard?: number): string {
    let txid: Uint8Array;
    try {
      check<TransitionErrorCode>(proven.tx[TX_PREFIX.offset.kind] === TxKind.ValidatorRegistration, "TRANSITION_BAD_CHANGE", "a validator change is a registration or a leave");
      txid = transactionIdOfEncoding(proven.tx);
      const decision = this.#decisions.verify(proven.proof, txid);
      check<TransitionErrorCode>(decision.accepted && decision.epoch === this.#previous.epoch && (shard === undefined || decision.shard === shard), "TRANSITION_BAD_CHANGE",
        `a change must be accepted in epoch ${this.#previous.epoch}${shard === undefined ? "" : ` by the shard whose boundary carries it (${shard})`}`);
    } catch (error) {
      if (error instanceof IosError && error.code !== "TRANSITION_BAD_CHANGE") throw new IosError<TransitionErrorCode>("TRANSITION_BAD_CHANGE", `a validator change does not verify: ${error.message}`);
      throw error;
    }
    const key = toHex(txid);
    if (!this.#changes.has(key)) {
      const { height, path } = decodeDecisionProof(proven.proof);
      this.#changes.set(key, { proven, change: validatorChangeOf(proven.tx, { height: this.#previous.startHeight + height, position: path.index, txid }) });
    }
    return key;
  }

  /**
   * The validators and departures of e + 1 from epoch e's, its end-of-epoch accounts and the
   * proven `changes` (the rules in the file comment); the identity chain sorts both lists.
   */
  #nextSet(changes: readonly ValidatorChange[]): Pick<EpochOutcome, "validators" | "departures"> {
    const previous = this.#previous;
    const accountOf = (publicKey: Uint8Array): AccountState => this.#accounts.get(toHex(publicKey))!;
    const eligible = this.#current.filter((validator) => {
      const account = accountOf(validator.publicKey);
      return !account.excluded && account.stake > 0n;
    });
    const leaveOf = new Map<string, ValidatorChange & { readonly operation: "leave" }>();
    const byChainOrder = [...changes].sort((a, b) => a.height - b.height || a.position - b.position);
    for (const change of byChainOrder) if (change.operation === "leave" && !leaveOf.has(toHex(change.publicKey))) leaveOf.set(toHex(change.publicKey), change);
    const staying = eligible.filter((validator) => !leaveOf.has(toHex(validator.publicKey)));
    const leavesApply = staying.length >= previous.shardCount;
    const kept = (leavesApply ? staying : eligible).map((validator): IdentityValidator => {
      const { servi, reputation } = accountOf(validator.publicKey);
      return { ...validator, servi, reputation };
    });
    const present = new Set(this.#current.map((validator) => toHex(validator.publicKey)));
    const joining = new Map<string, IdentityValidator>();
    for (const change of changes) {
      const key = toHex(change.publicKey);
      if (change.operation !== "register" || present.has(key) || leaveOf.has(key)) continue;
      joining.set(key, { publicKey: change.publicKey, stake: change.stake, bond: change.bond, pop: change.pop, servi: 0, reputation: REPUTATION_INITIAL });
    }
    const released = new Set(changes.flatMap((change) => (change.operation === "release" ? [toHex(change.bond)] : [])));
    const departed = leavesApply
      ? eligible.flatMap((validator): Departure[] => {
        const leave = leaveOf.get(toHex(validator.publicKey));
        return leave === undefined ? [] : [{ validator: validator.publicKey, bond: validator.bond, payout: leave.payout, releaseEpoch: previous.epoch + 2 }];
      })
      : [];
    return {
      validators: [...kept, ...joining.values()],
      departures: [...previous.departures.filter((departure) => !released.has(toHex(departure.bond))), ...departed],
    };
  }

  // ——— 2–3. election and randomness ———

  /** X of a run led by `leader` over `servers`: validator keys with the proofs of possession epoch e's registry holds. */
  #drpParties(leader: number, servers: readonly number[]): DrpParties {
    return { chainId: this.#previous.registry.chainId, servers: servers.map((i) => this.#serverKeys[i]!), clientKey: this.#keys[leader]! };
  }

  /** The servers of a DRP run led by `leader`: every other validator, in configuration order. */
  #serverIndexes(leader: number): number[] {
    return this.#keys.map((_, i) => i).filter((i) => i !== leader);
  }

  #drpParameters(lottery: LeaderLottery): Pick<DrpConfig, "groupingSeed" | "purpose"> & { readonly servers: number[] } {
    const groupingSeed = sha256(BinaryWriter.ofSize(GROUPING_DOMAIN.length + HASH_BYTES + 4).bytes(GROUPING_DOMAIN).bytes(this.#previous.configurationHash).u32(lottery.view).finish());
    return { groupingSeed, purpose: `IOSChain epoch ${this.#previous.epoch + 1} view ${lottery.view}`, servers: this.#serverIndexes(lottery.leader) };
  }

  /** This validator won the lottery: START, then DRP as its client, then the proposal. */
  #lead(lottery: LeaderLottery): void {
    if (this.#closed) return;
    this.#election.startAsLeader();
    this.#lockReporters.clear();
    this.#reportedLock = undefined;
    // Locked on an earlier leader's configuration: that is what this leader proposes, no new randomness is needed. It
    // waits Δ_v, the time its START takes to reach everyone (election.ts), as a DRP run would have: a proposal that
    // arrives before a validator elected its sender is refused, and so would the CoSi asking to sign it be.
    if (this.#lock !== undefined) {
      this.#deps.clock.setTimer(viewDeltaMs(this.#config.deltaMs, lottery.view), () => this.#propose(lottery, undefined));
      return;
    }
    const { groupingSeed, purpose, servers } = this.#drpParameters(lottery);
    const config = makeConfig({
      ...this.#drpParties(lottery.leader, servers),
      groupCount: Math.max(1, Math.round(servers.length / SERVERS_PER_GROUP)),
      groupingSeed, purpose, timestamp: Math.floor(this.#deps.clock.wallNow()),
    });
    const client = new DrpClient(config, this.#deps.secretKey, this.#deps.rng);
    const run = this.#port.lead(client, servers.map((i) => this.#peers[i]!), viewDeltaMs(this.#config.deltaMs, lottery.view));
    this.#stopDrp = run.stop;
    run.result.then((result) => this.#propose(lottery, result.transcript), () => this.#resign());
  }

  #onElected(outcome: ElectionOutcome): void {
    this.#elected = outcome;
    this.#phase = "configuring";
    const deliveryMs = this.#config.deliveryTimeoutMs ?? Math.max(DELIVERY_DELTAS * this.#config.deltaMs, DELIVERY_VIEW_DELTAS * viewDeltaMs(this.#config.deltaMs, outcome.view));
    this.#deliveryTimer = this.#deps.clock.setTimer(deliveryMs, () => this.#abandon());
    if (outcome.leader === this.#self) return;
    if (this.#lock !== undefined) this.#deps.channel.send(this.#peers[outcome.leader]!, TRANSITION_MESSAGES.LOCK, this.#lock);
    const { servers } = this.#drpParameters(outcome);
    const index = servers.indexOf(this.#self);
    const server = new DrpServer(index, knownParties(this.#drpParties(outcome.leader, servers)), validatorServerSecrets(this.#deps.secretKey), this.#deps.rng, this.#guard);
    this.#port.serve(server, this.#peers[outcome.leader]!);
  }

  /** The elected leader did not deliver by the deadline: skipped here (the election's next view). */
  #abandon(): void {
    this.#deliveryTimer = undefined;
    if (this.#closed || this.#phase !== "configuring") return;
    this.#leaveLeader();
    this.#election.abandon();
  }

  /** This validator leads and cannot deliver (its DRP run or its CoSi session failed): it resigns rather than keep everyone waiting for the deadline. */
  #resign(): void {
    if (this.#closed || this.#phase !== "configuring" || this.#elected?.leader !== this.#self) return;
    this.#leaveLeader();
    this.stats.resigned++;
    this.#election.resign();
  }

  /** Forgets the elected leader (abandoned, resigned, or this validator resigning): back to the election. */
  #leaveLeader(): void {
    this.#cancelDelivery();
    this.stats.abandoned++;
    this.#stopDrp?.();
    this.#stopDrp = undefined;
    this.#elected = undefined;
    this.#phase = "election";
  }

  #cancelDelivery(): void {
    if (this.#deliveryTimer !== undefined) this.#deps.clock.cancelTimer(this.#deliveryTimer);
    this.#deliveryTimer = undefined;
  }

  // ——— 4–5. proposal and certificate ———

  /**
   * Configuration e + 1 as this validator derives it from the leader's lottery and transcript and
   * the validator changes `changes` (txids, hex; each verified); TRANSITION_BAD_TRANSCRIPT if the
   * transcript is not that leader's run.
   */
  #derive(lottery: LeaderLottery, transcript: Uint8Array, changes: readonly string[]): Uint8Array {
    const { groupingSeed, purpose, servers } = this.#drpParameters(lottery);
    const run = this.#checkTranscript(transcript, "TRANSITION_BAD_TRANSCRIPT");
    const { config } = run;
    check<TransitionErrorCode>(
      sameBytes(config.clientKey, this.#keys[lottery.leader]!) && sameBytes(config.groupingSeed, groupingSeed) && config.purpose === purpose &&
        config.servers.length === servers.length && config.servers.every((server, k) => sameBytes(server.signingKey, this.#keys[servers[k]!]!)),
      "TRANSITION_BAD_TRANSCRIPT",
      `the transcript is not the run of leader ${lottery.leader} in view ${lottery.view} over the other validators of epoch ${this.#previous.epoch}`,
    );
    return encodeIdentityConfiguration(nextIdentityConfiguration(this.#previous, {
      ...this.#nextSet(changes.map((key) => this.#changes.get(key)!.change)),
      randomness: run.rnd,
      transcriptHash: sha256(transcript),
      lottery: { leader: lottery.leader, proof: lottery.proof, view: lottery.view },
      boundaries: this.#boundaries.map((boundary) => boundary!),
    }));
  }

  /** Runs Algorithm 3 on `transcript` (a failure is `code`) and keeps it by hash, with rnd and its session's configuration. */
  #checkTranscript(transcript: Uint8Array, code: TransitionErrorCode): CheckedTranscript {
    const hash = toHex(sha256(transcript));
    const known = this.#transcripts.get(hash);
    if (known !== undefined) return known;
    let checked: CheckedTranscript;
    try {
      checked = { transcript, rnd: verifyTranscript(transcript).rnd, config: decodeConfig(decodeTranscriptParts(transcript).config) };
    } catch (error) {
      if (error instanceof IosError) throw new IosError<TransitionErrorCode>(code, `the transcript does not verify: ${error.message}`);
      throw error;
    }
    this.#transcripts.set(hash, checked);
    return checked;
  }

  /** Proposes the configuration this leader is locked on or was told of (LOCK), else its own from `ownTranscript`, its DRP run. */
  #propose(lottery: LeaderLottery, ownTranscript: Uint8Array | undefined): void {
    if (this.#closed || this.#phase !== "configuring" || this.#elected?.leader !== this.#self) return;
    const locked = this.#lock ?? this.#reportedLock;
    // Agreeing to an earlier leader's configuration (reported to it) locks this one on it too; its own fresh one does not:
    // a leader reports only what others proposed (its own, if nobody else agreed, binds no one).
    this.#lock = locked;
    let proposal: Uint8Array;
    let configuration: Uint8Array;
    let transcript: Uint8Array;
    if (locked !== undefined) {
      proposal = locked;
      ({ configuration, transcript } = decodeProposal(locked));
    } else {
      const changes = [...this.#changes.keys()];
      transcript = ownTranscript!;
      configuration = this.#derive(lottery, transcript, changes);
      proposal = encodeProposal({ configuration, transcript, changes: changes.map((key) => this.#changes.get(key)!.proven) });
    }
    const message = this.#certificateMessage(configuration);
    // Locked on another configuration than this one (it cannot be: the lock is proposed first): it resigns rather than sign two.
    if (this.#signed !== undefined && !sameBytes(this.#signed, message)) {
      this.#resign();
      return;
    }
    this.#signed = message;
    this.#deps.channel.broadcast(this.#peers, TRANSITION_MESSAGES.PROPOSAL, proposal);
    this.#cosi.sign(lottery.view, message, (result) => {
      if (!result.ok) this.#resign();
      if (!result.ok || this.#closed || this.#phase !== "configuring") return;
      const certificate = encodeCollectiveSignature(result.signature, this.#keys.length);
      const link = encodeLink({ link: { configuration, certificate }, transcript });
      this.#onLink(link);
    });
  }

  #certificateMessage(configuration: Uint8Array): Uint8Array {
    return identityCertificateMessage(this.#previous.chain, this.#previous.epoch + 1, identityConfigurationHash(configuration));
  }

  /**
   * CoSi asks whether to co-sign `message` for `leader`: only the configuration the leader elected
   * here proposed and this validator derived too, and only one configuration per epoch — agreeing
   * once is signing it.
   */
  #approves(message: Uint8Array, leader: number): boolean {
    const proposed = this.#proposed.get(leader);
    if (this.#elected?.leader !== leader || proposed === undefined || !sameBytes(proposed.message, message)) return false;
    if (this.#signed !== undefined) return sameBytes(this.#signed, message);
    this.#signed = message;
    this.#lock = proposed.proposal;
    return true;
  }

  #onProposal(from: PeerId, payload: Uint8Array): void {
    const elected = this.#elected;
    check<TransitionErrorCode>(elected !== undefined && this.#indexOfPeer.get(from) === elected.leader, "TRANSITION_NOT_LEADER", `a proposal from ${from}, not from the leader elected here`);
    // One proposal per leader, good or bad: each costs a transcript check (Algorithm 3), which a second one must not buy again.
    if (elected.leader === this.#self || this.#examined.has(elected.leader)) return;
    this.#examined.add(elected.leader);
    const message = this.#checkProposal(payload, elected);
    this.#proposed.set(elected.leader, { message, proposal: payload });
  }

  /**
   * The certificate message of a proposal that this validator derives too, or its TRANSITION_*
   * code. Either the elected leader's own (its lottery, every proven change this validator knows),
   * or a re-proposal of a locked configuration: an earlier view's leader's, whose lottery must
   * verify and whose transcript must be that leader's run (its changes are the ones it was
   * derived with, checked by the validators that agreed to it then).
   */
  #checkProposal(payload: Uint8Array, elected: ElectionOutcome): Uint8Array {
    const proposal = decodeProposal(payload);
    const named = decodeIdentityConfiguration(proposal.configuration).lottery;
    const own = named.leader === elected.leader && named.view === elected.view;
    if (!own) {
      check<TransitionErrorCode>(named.view < elected.view && named.leader < this.#keys.length && verifyLottery(this.#keys, this.#previous.configurationHash, named.view, named.leader, named.proof) !== undefined,
        "TRANSITION_BAD_CONFIGURATION", `a re-proposed configuration must carry an earlier view's verifying lottery (view ${named.view}, leader ${named.leader}; this is view ${elected.view})`);
    }
    const proposed = new Set(proposal.changes.map((proven) => this.#acceptChange(proven)));
    if (own) {
      const missing = [...this.#changes.keys()].filter((key) => !proposed.has(key));
      check<TransitionErrorCode>(missing.length === 0, "TRANSITION_MISSING_CHANGE", `the proposal leaves out ${missing.length} proven validator change(s), e.g. ${missing[0]}`);
    }
    const derived = this.#derive(own ? elected : named, proposal.transcript, [...proposed]);
    check<TransitionErrorCode>(sameBytes(derived, proposal.configuration), "TRANSITION_BAD_CONFIGURATION", "the proposed configuration is not the one its transcript, lottery and the boundaries give");
    return this.#certificateMessage(derived);
  }

  /**
   * A validator locked on an earlier leader's configuration reports it to this one, elected: once
   * verified (as a re-proposal), it is what this leader proposes unless it proposed already.
   */
  #onLock(from: PeerId, payload: Uint8Array): void {
    const elected = this.#elected;
    const reporter = this.#indexOfPeer.get(from)!;
    if (elected?.leader !== this.#self || this.#lock !== undefined || this.#reportedLock !== undefined || this.#lockReporters.has(reporter)) return;
    this.#lockReporters.add(reporter);
    this.#checkProposal(payload, elected);
    this.#reportedLock = payload;
  }

  // ——— 6. link ———

  /**
   * A certified link configures the epoch. Its transcript must be the one the configuration names;
   * when the sender put another there, the one this validator checked with the leader's proposal
   * stands in (a leader that spoils the transcript of a link it had signed cannot block the epoch
   * that way), and the relay carries it.
   */
  #onLink(payload: Uint8Array): void {
    if (this.#phase === "configured") return;
    const sent = decodeLink(payload);
    const { link } = sent;
    const context = verifyEpochLink(this.#previous, link.configuration, link.certificate, this.#deps.verifier);
    const named = toHex(decodeIdentityConfiguration(link.configuration).transcriptHash);
    const sentHash = toHex(sha256(sent.transcript));
    const checked = this.#transcripts.get(named) ?? (sentHash === named ? this.#checkTranscript(sent.transcript, "TRANSITION_BAD_LINK") : undefined);
    check<TransitionErrorCode>(checked !== undefined, "TRANSITION_BAD_LINK", "the link's transcript is not the one its configuration names, and this validator holds no other");
    check<TransitionErrorCode>(sameBytes(checked.rnd, context.randomness), "TRANSITION_BAD_LINK", "the configuration's randomness is not its transcript's output");
    const { transcript } = checked;
    this.#phase = "configured";
    this.#cancelDelivery();
    this.#stopDrp?.();
    this.#election.close();
    this.#cosi.close();
    this.#deps.channel.broadcast(this.#peers, TRANSITION_MESSAGES.LINK, sentHash === named ? payload : encodeLink({ link, transcript }));
    const configured: ConfiguredEpoch = { context, link, transcript };
    this.#deps.onConfigured(configured);
  }
}
