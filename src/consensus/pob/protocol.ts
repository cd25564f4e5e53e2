/**
 * Proof-of-Believability on one validator of a shard, for one epoch (white paper §7.2;
 * DESIGN.md §4), over the injected Channel / Clock / Rng, so it runs unchanged on sockets or in
 * the deterministic simulator.
 *
 *   phase 1  a believable validator validates the transactions assigned to it (optimistic.ts)
 *            and every `optimisticIntervalMs` seals an optimistic block, broadcast to the shard
 *            (OPTIMISTIC_BLOCK); a validator holds a block only with a valid seal and a body that
 *            decodes (one copy per block hash for every honest validator); clients hold its
 *            confirmations;
 *   phase 2  the normal league runs ByzCoin BFT (src/consensus/bft) over final proposals
 *            (proposal.ts):
 *              a. the leader forms the core — the optimistic blocks it received at least
 *                 `orderDelayMs` ago — and gathers 2f + 1 randomness shares over its hash
 *                 (SEED_REQUEST / SEED_SHARE; randomness.ts);
 *              b. it executes the core with that randomness on its replica (finalization.ts,
 *                 undoable) and proposes core ‖ shares ‖ the state commitment it reached;
 *              c. a member co-signs only a proposal led by the view's leader that fits its
 *                 replica (height, previous proposal, epoch, mode), whose shares verify, whose
 *                 bodies it holds, and whose execution on its own replica reaches the same state
 *                 commitment; the execution stays open until the height is final;
 *              d. on finality each member commits that execution (or, for another proposal,
 *                 undoes it and executes the decided one), and forwards the finality record to
 *                 the believable validators (FINAL_RECORD), which verify it (`verifyFinality`),
 *                 execute it in height order and compare the commitment.
 *            A replica whose own commitment differs from a decided proposal's stops (it has
 *            diverged: `onDivergence`) instead of carrying on silently.
 *   fallback with too few believable validators (at the epoch start or after a slashing), the
 *            normal league's leader proposes transactions itself (one-league proposals, every
 *            signature verified, no shares); submissions are relayed to the normal league
 *            (TRANSACTION).
 *
 * Heights: the BFT of an epoch counts from 1; final proposal height = `baseHeight` + BFT height,
 * where `baseHeight` is the replica's height when the epoch began.
 *
 * API: class `PobNode` (start, close, submit, validator, producer, bft, onOutcome, onConfirmation,
 * onAnnouncement, onDivergence, resumeRecords, stats), POB_MESSAGES.
 */
import { IosError, check, hasCodeIn } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { SchnorrKey } from "../../crypto/schnorr.js";
import { HEADER_BYTES, MAX_BITMASK_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, blockHash, decodeBlock, decodeBlockHeader, type DecodedBlock } from "../../ledger/block.js";
import type { KeyPair } from "../../ledger/keys.js";
import { transactionIdIfWellFormed, transactionIdOfEncoding } from "../../ledger/transaction.js";
import type { Channel, PeerId } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import { DEFAULT_MAX_PROPOSAL_BYTES, decodeFinalityRecord, encodeFinalityRecord, verifyFinality, type FinalityRecord } from "../bft/codec.js";
import { BftNode, type BftConfig } from "../bft/protocol.js";
import type { FinalityLog } from "../bft/log.js";
import type { BelievabilityLedger } from "./believability.js";
import { MAX_CLOCK_SKEW_MS, PobValidator, type Execution, type FinalOutcome } from "./finalization.js";
import type { Leagues } from "./leagues.js";
import { OptimisticProducer, type OfferResult, type OptimisticBlock, type OptimisticConfirmation, type OptimisticProducerOptions, type UtxoView } from "./optimistic.js";
import { MAX_PROPOSAL_BLOCKS, decodeProposal, encodeProposal, proposalCoreHash, proposalHash, type FinalProposal, type ProposalCore, type SeedShare } from "./proposal.js";
import { makeSeedShare, proposalRandomness, randomnessOfShares, samplesSignatures, shareQuorum, unsampledRandomness, verifySeedShare } from "./randomness.js";
import { vrfProofToHash } from "../../crypto/vrf.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { toHex } from "../../hex.js";
import { sameBytes } from "../../bytes.js";
import { HASH_BYTES, SIGNATURE_BYTES, TXID_BYTES, VRF_PROOF_BYTES } from "../../codec/sizes.js";
import { RecordCursor } from "../../ledger/records.js";
import type { PobErrorCode } from "./errors.js";
import { LEDGER_ERROR_CODES } from "../../ledger/errors.js";

export const POB_MESSAGES = {
  /** An encoded optimistic block (ledger block encoding, kind Optimistic). */
  OPTIMISTIC_BLOCK: messageType("consensus", 0x10),
  /** A BFT finality record (bft/codec.ts encoding), for validators outside the normal league. */
  FINAL_RECORD: messageType("consensus", 0x11),
  /** An encoded transaction relayed to the normal league in one-league mode. */
  TRANSACTION: messageType("consensus", 0x12),
  /** Optimistic block hashes (32 bytes each) a validator misses; answered with OPTIMISTIC_BLOCK. */
  FETCH_BLOCKS: messageType("consensus", 0x13),
  /** The leader asks a normal-league member for its randomness share: SEED_REQUEST layout. */
  SEED_REQUEST: messageType("consensus", 0x14),
  /** A member's share for the leader: SEED_SHARE layout. */
  SEED_SHARE: messageType("consensus", 0x15),
  /** A validator behind the final chain asks a normal-league member for records: FETCH_RECORDS layout, answered with FINAL_RECORD. */
  FETCH_RECORDS: messageType("consensus", 0x16),
  /** A drawn believable validator, caught up, tells the normal league it is up (empty payload). */
  PRODUCER_ALIVE: messageType("consensus", 0x17),
} as const;

/** How often a drawn believable validator says it is up: 10 optimistic intervals of the default policy. */
export const HEARTBEAT_MS = 500;
/**
 * A believable validator neither sealing nor heard from for this long is proposed for suspension
 * (white paper §7.2, temporary downtime): 6 heartbeats; a member agrees once it has not heard from
 * it for half of it.
 */
export const SUSPEND_AFTER_MS = 3_000;
/** A suspended validator heard from within this long is proposed for its seat back (a member agrees within twice it). */
export const RESUME_SEEN_MS = 2 * HEARTBEAT_MS;
/**
 * A producer that left a transaction this member relayed to it unsealed for SERVICE_OVERDUE_MS
 * is not "heard from" (its blocks and heartbeats do not count) for CENSORSHIP_MEMORY_MS: one that
 * says it is up but serves nothing is suspended like a silent one, by the members it fails, and
 * does not take its seat back at its next heartbeat. 3 s is 3× the optimistic p99 of a saturated
 * devnet (0.94 s, bench/results/devnet.json), so an honest producer under load is not suspended;
 * one that is (overload) gets its seat back 10 s after it serves again.
 */
export const SERVICE_OVERDUE_MS = 3_000;
export const CENSORSHIP_MEMORY_MS = 10_000;
/**
 * A leader whose proposal with a seat change (suspend, resume) was not decided — the others did not
 * vouch for it: they hear the producer it finds silent — proposes none for this long. A lone
 * member's view of a producer (its driver started before theirs at a switch, its relays lost while
 * the producer switched) then costs the shard one view, not one per height it leads (a committee
 * of 3 needs every member: a refused proposal is a lost view, issue 15's 2 × 4 devnet).
 */
export const SEAT_CHANGE_HOLD_MS = CENSORSHIP_MEMORY_MS;

const SEED_REQUEST = layout({ height: 8, view: 4, coreHash: HASH_BYTES });
const SEED_SHARE = layout({ height: 8, view: 4, coreHash: HASH_BYTES, proof: VRF_PROOF_BYTES });
const SEED_CODES = singleCode<PobErrorCode>("POB_BAD_MESSAGE");
const FETCH_RECORDS = layout({ fromHeight: 8, count: 4 });
/** Views ahead of its own for which a member answers a share request (bounds what it remembers). */
const MAX_SHARE_VIEWS_AHEAD = 64;

/** Optimistic blocks held before ordering: a few intervals of every producer. */
const MAX_HELD_BLOCKS = 4 * MAX_PROPOSAL_BLOCKS;
/** Finality records held ahead of the next height while a validator catches up. */
const MAX_FUTURE_RECORDS = 64;
/** How long a leader keeps a held block out of its proposals while the block's predecessor is neither ordered nor orderable (`orderableBlocks`). */
export const PREDECESSOR_WAIT_MS = 1_000;
/** Bodies of ordered blocks kept to answer FETCH_BLOCKS from validators that missed them. */
const MAX_RECENT_BLOCKS = MAX_HELD_BLOCKS;
/**
 * How long view 0 of a resting height (`SwapInRule.resting`) waits before it times out anyway: far
 * beyond a configuration's usual delay (seconds), so views do not escalate while every member waits
 * for it; `swapsChanged` cuts it to an ordinary timeout once it arrives.
 */
const RESTING_QUIET_MS = 300_000;

export interface PobNodeConfig {
  readonly chainId: Uint8Array;
  readonly shard: number;
  readonly shardCount: number;
  /** The normal league's BFT timing (see BftConfig). */
  readonly viewTimeoutMs: number;
  readonly cosi: BftConfig["cosi"];
  /** The leader orders an optimistic block only this long after receiving it, so its peers hold it too. */
  readonly orderDelayMs: number;
  /**
   * Final height of the replica when this epoch's BFT began (its heights count from 1 on top);
   * default: the validator's height at construction. A restarted process passes the epoch's.
   */
  readonly baseHeight?: number;
  /** The epoch's last BFT height (its length L; BftConfig `lastHeight`): the BFT rests after it. Default: none. */
  readonly lastHeight?: number;
  /**
   * The idle heartbeat: with nothing to order (no held block, no one-league transaction, no seat
   * to change) the leader proposes an empty height only this long after the previous final
   * height, members co-sign one no sooner than ¾ of it (so a byzantine leader cannot spin the
   * shard through empty heights), and view 0 allows it on top of the view timeout. Work arriving
   * ends the wait at once. Default 0: no heartbeat, empty heights back to back.
   */
  readonly idleProposalMs?: number;
  /**
   * Heights' spacing: in view 0 a leader proposes no sooner than this after the previous height's
   * proposal first reached it (or it made it), on its own clock: no proposal's timestamp, which a
   * byzantine leader sets within the clock skew, enters the wait. A height that took longer waits
   * for nothing, so a saturated shard is unaffected; at moderate load a height carries more
   * transactions and its fixed costs (CoSi rounds, shares, the commit) are shared. Members do not
   * enforce it: it saves work and decides nothing. Default 0: heights back to back.
   */
  readonly minHeightIntervalMs?: number;
}

/** What every validator announces to its clients: the transactions of an optimistic block it holds. */
export interface OptimisticAnnouncement {
  readonly hash: Uint8Array;
  readonly producer: Uint8Array;
  /** The confirmed transactions, n × 32 bytes, body order (the block's, less any this node knows spent). */
  readonly txids: Uint8Array;
  /** The sealed block, from which a confirmation's proof (evidence.ts `makeInclusion`) is made. */
  readonly block: DecodedBlock;
}

export interface PobNodeDependencies {
  /** The channel of this instance (consensus, shard, epoch); opened and closed by the owner. */
  readonly channel: Channel;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly keyPair: KeyPair;
  readonly verifier: Ed25519Verifier;
  /** This validator's replica of the final shard state, read by its optimistic producer. */
  readonly utxo: UtxoView;
  readonly accounts: BelievabilityLedger;
  /** The validator driving the replica (kept across epochs); its leagues are this epoch's. */
  readonly validator: PobValidator;
  /** Every validator of the shard, and the transport address of each. */
  readonly members: readonly Uint8Array[];
  readonly peerOf: (publicKey: Uint8Array) => PeerId;
  /** The normal league's durable BFT log (default: in memory). */
  readonly log?: FinalityLog;
  /** Whether a transaction this validator relayed to `producer` has waited unsealed longer than `ms` (default: never). */
  readonly owesService?: (producer: PeerId, ms: number) => boolean;
  /** A sign of life from a drawn believable validator (a sealed block, a heartbeat), before `owesService` is asked. */
  readonly onHeard?: (producer: PeerId) => void;
  /**
   * The sealed optimistic blocks of this replica's stored final heights, by hash: what it serves
   * peers catching up once its memory no longer holds them (after a restart, or long after).
   */
  readonly storedBlock?: (hash: Uint8Array) => Uint8Array | undefined;
  /**
   * Makes sealed blocks durable where `storedBlock` finds them; resolved once they are. A member
   * keeps the bodies a proposal orders before co-signing it: the value a quorum prepared may be
   * re-proposed after every replica restarted, and only what some co-signer kept is left of it.
   */
  readonly keepBlocks?: (blocks: readonly { readonly hash: Uint8Array; readonly bytes: Uint8Array }[]) => Promise<void>;
  /** Cross-shard transactions at the producer's intake (OptimisticProducerOptions `atomix`); the validator has its own. */
  readonly atomix?: OptimisticProducerOptions["atomix"];
  /**
   * TransEpoch swaps (src/epoch/transepoch): what a leader proposes and a member accepts as the
   * SWAP_IN that ends this BFT instance. Absent: no proposal may carry one (a member refuses it),
   * so no leader can end the instance.
   */
  readonly swaps?: SwapInRule;
}

/** The node's side of TransEpoch swaps for one BFT instance (src/epoch/transepoch/swap.ts). */
export interface SwapInRule {
  /** The SWAP_IN this validator, leading, puts in its proposal of chain height `height` (undefined: none yet). */
  pending(height: number): Uint8Array | undefined;
  /** Throws a coded error unless `swapIn` may end the instance at chain height `height` (`checkSwapIn` and the node's own knowledge). */
  check(swapIn: Uint8Array, height: number): unknown;
  /**
   * Whether this member refuses a proposal of chain height `height` that carries no swap-in: it
   * has held a complete one long enough (SWAP_PATIENCE), so a leader omitting it loses its view.
   */
  overdue(height: number): boolean;
  /**
   * Whether `height` waits for something no leader can supply (TransEpoch: the next configuration at
   * the forced end): the leader proposes nothing and members' views do not time out until
   * `PobNode.swapsChanged`. Default: never.
   */
  resting?(height: number): boolean;
}

interface HeldBlock {
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly receivedAt: number;
  /** From its header: what ordering it adds to the final block (see FINAL_BODY_LIMIT). */
  readonly txCount: number;
  readonly bodyBytes: number;
  /** The block decoded on arrival: phase 2 does not hash it again. */
  readonly decoded: DecodedBlock;
}

/** A replica's execution of a decided proposal that reached another state commitment. */
export interface Divergence {
  readonly height: number;
  readonly proposalHash: Uint8Array;
  /** The commitment the decided proposal carries. */
  readonly decided: Uint8Array;
  /** Undefined when this replica could not execute the proposal at all. */
  readonly reached: Uint8Array | undefined;
}

export interface PobStats {
  /** Proposals this member refused: their state commitment differs from its own execution. */
  commitmentMismatches: number;
  /** Proposals refused for their randomness shares. */
  badShares: number;
  /** Proposals whose speculative execution was undone (another value became final). */
  abortedExecutions: number;
  /** Every proposal this member refused to co-sign, by reason (`ProposalRefusal`): what an operator reads when views change. */
  readonly refused: Map<ProposalRefusal, number>;
  /** Signs of life from a producer this member did not count: a transaction it relayed there was overdue (SERVICE_OVERDUE_MS). */
  overdueService: number;
}

/**
 * Why a member refused a proposal: a code a check threw (POB_*, TRANSEPOCH_*, …) or one of these for
 * the checks that only compare. A shard whose views keep changing shows here which check fails.
 */
export type ProposalRefusal =
  | "PROPOSAL_WRONG_HEIGHT"
  | "PROPOSAL_WRONG_PROPOSER"
  | "PROPOSAL_TIME_BEFORE_PARENT"
  | "PROPOSAL_CLOCK_SKEW"
  | "PROPOSAL_UNVOUCHED_SUSPENSION"
  | "PROPOSAL_UNVOUCHED_RESUMPTION"
  | "PROPOSAL_SWAP_UNEXPECTED"
  | "PROPOSAL_SWAP_OVERDUE"
  | "PROPOSAL_BODIES_MISSING"
  | "PROPOSAL_OVER_BLOCK_LIMIT"
  | "PROPOSAL_BLOCK_BEFORE_PREDECESSOR"
  | "PROPOSAL_MOVED_ON"
  | "PROPOSAL_COMMITMENT_MISMATCH"
  | string;

/** The leader's share collection for one core. */
interface ShareCollection {
  readonly bftHeight: number;
  readonly view: number;
  readonly coreHash: Uint8Array;
  readonly outputs: Map<number, { readonly share: SeedShare; readonly output: Uint8Array }>;
  readonly done: (shares: { shares: SeedShare[]; outputs: Uint8Array[] } | undefined) => void;
}

interface PendingRecord {
  readonly record: FinalityRecord;
  readonly proposal: FinalProposal;
}

function pendingOf(record: FinalityRecord): PendingRecord {
  return { record, proposal: decodeProposal(record.proposal) };
}

/**
 * The body a final block may hold: the ledger's block limit less its header and collective seal.
 * A proposal orders optimistic blocks only while their transactions and bytes fit, since the final
 * block stores every included transaction (a validator process persists it in one LMDB transaction).
 */
const FINAL_BODY_LIMIT = { txs: MAX_BLOCK_TXS, bytes: MAX_BLOCK_BYTES - HEADER_BYTES - 2 - MAX_BITMASK_BYTES - SIGNATURE_BYTES };

/** A one-league proposal carries its transactions: they must fit the BFT proposal limit with room for its own fields. */
const ONE_LEAGUE_PROPOSAL_BODY_BYTES = DEFAULT_MAX_PROPOSAL_BYTES - 64 * 1024;

/** Adds `block` to `budget` when it still fits FINAL_BODY_LIMIT; false (budget unchanged) otherwise. */
function withinFinalBlock(budget: { txs: number; bytes: number }, block: { readonly txCount: number; readonly bodyBytes: number }): boolean {
  if (budget.txs + block.txCount > FINAL_BODY_LIMIT.txs || budget.bytes + block.bodyBytes > FINAL_BODY_LIMIT.bytes) return false;
  budget.txs += block.txCount;
  budget.bytes += block.bodyBytes;
  return true;
}

export class PobNode {
  readonly validator: PobValidator;
  readonly producer: OptimisticProducer | undefined;
  readonly bft: BftNode | undefined;
  private readonly config: PobNodeConfig;
  private readonly deps: PobNodeDependencies;
  private readonly participants: readonly Uint8Array[];
  /** The participants' peer ids: who may share a one-league transaction. */
  private readonly participantPeers: ReadonlySet<string>;
  private readonly baseHeight: number;
  private readonly held = new Map<string, HeldBlock>();
  /** Bodies already ordered, oldest first, for FETCH_BLOCKS answers. */
  private readonly recent = new Map<string, Uint8Array>();
  /** One-league transactions held for the leaders, by txid (hex), each with the member that shared it (undefined: this node's client). */
  private readonly mempool = new Map<string, { readonly tx: Uint8Array; readonly sharedBy: string | undefined }>();
  /** How many of `mempool`'s transactions each member shared: at most ⌈MAX_BLOCK_TXS / n⌉ each (`holdTransaction`). */
  private readonly heldBy = new Map<string, number>();
  /** Final records (by BFT height) waiting for their turn or for block bodies, each proposal decoded once. */
  private readonly pending = new Map<number, PendingRecord>();
  private readonly listeners: ((outcome: FinalOutcome, record: FinalityRecord, proposal: FinalProposal) => void)[] = [];
  private readonly confirmationListeners: ((confirmation: OptimisticConfirmation) => void)[] = [];
  private readonly announcementListeners = new Set<(announcement: OptimisticAnnouncement) => void>();
  /** Resolved when a block (or a one-league transaction) is held: the leader's idle wait and `validate` wait on them. */
  private blockWaiters: (() => void)[] = [];
  /** When the last final height was delivered here (clock time; −∞ before any): the idle heartbeat counts from it. */
  private lastFinalAt: number;
  /** The latest BFT height a proposal was made or first received for here, and when (clock time): the heights' spacing counts from it. */
  private heightBegan: { readonly bftHeight: number; readonly at: number } | undefined;
  private producing: boolean;
  private timer: TimerHandle | undefined;
  private bodyRetry: TimerHandle | undefined;
  readonly stats: PobStats = { commitmentMismatches: 0, badShares: 0, abortedExecutions: 0, refused: new Map(), overdueService: 0 };
  /** The open execution of a proposal this node proposed or co-signed, by proposal hash (hex). */
  private speculation: { readonly hash: string; readonly execution: Execution } | undefined;
  private collecting: ShareCollection | undefined;
  /**
   * The share this member gave, per "bftHeight:view" of the current height: the core hash (hex)
   * it answered and the SEED_SHARE message, sent again as is when the leader asks again (a proof
   * costs two scalar multiplications; the same request always has the same answer).
   */
  private readonly answered = new Map<string, { readonly coreHash: string; readonly message: Uint8Array }>();
  private readonly divergenceListeners: ((divergence: Divergence) => void)[] = [];
  private readonly orphanListeners: ((transactions: readonly Uint8Array[]) => void)[] = [];
  /** The highest final height this node knows of from a verified record (its replica may lag). */
  private knownHeight: number;
  /** Whether it heard a verified final record since it started (a restarted producer may be behind). */
  private heardFinal: boolean;
  private lastRecordFetchAt = -Infinity;
  /** Outside the committee: when a final record last came, the timer that asks for them after a quiet spell, and whom it asks next. */
  private lastRecordAt = -Infinity;
  private recordPoll: TimerHandle | undefined;
  private recordSource = 0;
  /** When each drawn believable validator was last heard from (a sealed block or PRODUCER_ALIVE), by hex key. */
  private readonly lastSeen = new Map<string, number>();
  /** This leader's latest proposal carrying a seat change, until its height is final (SEAT_CHANGE_HOLD_MS). */
  private seatChangeProposed: { readonly bftHeight: number; readonly hash: Uint8Array } | undefined;
  private seatChangesHeldUntil = -Infinity;
  /** When each of them was last found owing this member service (see CENSORSHIP_MEMORY_MS), by hex key. */
  private readonly owedAt = new Map<string, number>();
  private heartbeat: TimerHandle | undefined;
  private divergence: Divergence | undefined;
  /** Index (among the other members) of the last validator asked for missing bodies. */
  private bodySource = 0;
  /** Held blocks made durable by `keepBlocks` (hex hashes), until they are ordered or dropped. */
  private readonly keptBlocks = new Set<string>();
  private closed = false;

  constructor(config: PobNodeConfig, deps: PobNodeDependencies) {
    check<PobErrorCode>(Number.isInteger(config.orderDelayMs) && config.orderDelayMs >= 0, "POB_BAD_ARGUMENT", "orderDelayMs must be a non-negative integer");
    check<PobErrorCode>(config.minHeightIntervalMs === undefined || (Number.isInteger(config.minHeightIntervalMs) && config.minHeightIntervalMs >= 0), "POB_BAD_ARGUMENT", "minHeightIntervalMs must be a non-negative integer");
    this.config = config;
    this.deps = deps;
    this.validator = deps.validator;
    this.baseHeight = config.baseHeight ?? deps.validator.height;
    this.knownHeight = deps.validator.height;
    // The instance's first height (a start, a restart, a new epoch) is proposed at once.
    this.lastFinalAt = -Infinity;
    // A validator that has applied nothing yet starts with the shard; one that has may have missed heights.
    this.heardFinal = deps.validator.height === 0;
    check<PobErrorCode>(Number.isSafeInteger(this.baseHeight) && this.baseHeight >= 0 && this.baseHeight <= deps.validator.height, "POB_BAD_ARGUMENT",
      `baseHeight ${String(config.baseHeight)} must be in 0..${deps.validator.height}`);
    const leagues = this.validator.leagues;
    const self = deps.keyPair.publicKey;
    // The BFT committee is the epoch's (Leagues.committee): it stays for the epoch.
    this.participants = leagues.committee;
    this.participantPeers = new Set(this.participants.map((member) => deps.peerOf(member)));
    this.producing = leagues.isBelievable(self);
    this.producer = this.producing
      ? new OptimisticProducer({
        keyPair: deps.keyPair, shard: config.shard, shardCount: config.shardCount, epoch: leagues.epoch,
        policy: leagues.policy, league: leagues.believable, state: deps.utxo, verifier: deps.verifier,
        ...(deps.atomix === undefined ? {} : { atomix: deps.atomix }),
        onQueued: () => this.wakeProduction(),
      })
      : undefined;
    const inCommittee = this.participants.some((p) => Buffer.compare(p, self) === 0);
    this.bft = inCommittee
      ? new BftNode(
        {
          chainId: config.chainId, participants: this.participants, viewTimeoutMs: config.viewTimeoutMs, cosi: config.cosi, hashProposal: proposalHash,
          ...(config.lastHeight === undefined ? {} : { lastHeight: config.lastHeight }),
        },
        {
          channel: deps.channel, clock: deps.clock, rng: deps.rng, key: SchnorrKey.fromSeed(deps.keyPair.secretKey), verifier: deps.verifier,
          ...(deps.log === undefined ? {} : { log: deps.log }),
          app: {
            propose: (height, view) => this.propose(height, view),
            validate: (height, proposal, view, proposedIn) => this.validate(height, proposal, view, proposedIn),
            onFinal: (record) => this.onFinal(record),
            endsInstance: (record) => decodeProposal(record.proposal).swapIn !== undefined,
            quietMs: (height) => (this.restingAt(this.baseHeight + height) ? RESTING_QUIET_MS : this.hasWork() ? 0 : this.config.idleProposalMs ?? 0),
          },
        },
      )
      : undefined;
    deps.channel.on(POB_MESSAGES.OPTIMISTIC_BLOCK, (_from, _type, payload) => this.receiveBlock(payload));
    deps.channel.on(POB_MESSAGES.FINAL_RECORD, (from, _type, payload) => this.receiveRecord(from, payload));
    deps.channel.on(POB_MESSAGES.FETCH_BLOCKS, (from, _type, payload) => this.answerFetch(from, payload));
    deps.channel.on(POB_MESSAGES.TRANSACTION, (from, _type, payload) => {
      if (this.closed || !this.participantPeers.has(from)) return;
      const txid = transactionIdIfWellFormed(payload);
      if (txid !== undefined) this.holdTransaction(payload, toHex(txid), from);
    });
    deps.channel.on(POB_MESSAGES.SEED_REQUEST, (from, _type, payload) => this.answerShareRequest(from, payload));
    deps.channel.on(POB_MESSAGES.SEED_SHARE, (from, _type, payload) => this.receiveShare(from, payload));
    deps.channel.on(POB_MESSAGES.FETCH_RECORDS, (from, _type, payload) => this.answerRecords(from, payload));
    deps.channel.on(POB_MESSAGES.PRODUCER_ALIVE, (from, _type, payload) => this.heardAlive(from, payload));
    for (const seat of [...leagues.believable, ...leagues.suspended]) this.lastSeen.set(toHex(seat), deps.clock.now());
  }

  get leagues(): Leagues {
    return this.validator.leagues;
  }

  /** Called with every final outcome this node applies, in height order, with the BFT record that decided it and its proposal. */
  onOutcome(listener: (outcome: FinalOutcome, record: FinalityRecord, proposal: FinalProposal) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Called once per optimistic block this node seals or receives with a valid seal of a current
   * believable producer: what its clients may treat as optimistically confirmed (phase 1).
   */
  onAnnouncement(listener: (announcement: OptimisticAnnouncement) => void): () => void {
    this.announcementListeners.add(listener);
    return () => this.announcementListeners.delete(listener);
  }

  /**
   * Called with the transactions no final block can take any more from where they wait: held
   * blocks of a producer no longer believable (slashed or suspended; no leader orders them, and a
   * one-league shard orders none) and, on a producer leaving the league, what it had not sealed.
   * The listener offers them again, so their clients get them final or rejected, not stuck.
   */
  onOrphaned(listener: (transactions: readonly Uint8Array[]) => void): void {
    this.orphanListeners.push(listener);
  }

  /**
   * Final records this node's log holds beyond its replica (a restarted process): applied in
   * order once their block bodies are here, fetched from each record's leader.
   */
  resumeRecords(records: readonly FinalityRecord[]): void {
    for (const record of records) this.enqueue(pendingOf(record), this.leaderPeerOf(record));
  }

  /** Called with the optimistic confirmation of every transaction this node seals (phase 1), for its clients. */
  onConfirmation(listener: (confirmation: OptimisticConfirmation) => void): void {
    this.confirmationListeners.push(listener);
  }

  /** Called once if this replica's execution of a decided proposal disagrees with it; the node has stopped. */
  onDivergence(listener: (divergence: Divergence) => void): void {
    this.divergenceListeners.push(listener);
  }

  /** The divergence that stopped this node, if any. */
  get diverged(): Divergence | undefined {
    return this.divergence;
  }

  /**
   * Whether this replica holds every final height it knows of, having heard one since it started:
   * a producer seals and accepts transactions only then (a stale view would confirm spends the
   * final chain already settled).
   */
  get caughtUp(): boolean {
    return this.heardFinal && this.validator.height >= this.knownHeight;
  }

  start(): void {
    this.bft?.start();
    if (this.bft === undefined) {
      // Its instance may have decided heights, or ended, before this driver started (a late start, a switch after a sync):
      // no record would come to make it ask.
      this.requestRecords(this.nextRecordSource());
      this.scheduleRecordPoll();
    }
    if (this.producing) this.scheduleProduction();
    if (this.producer !== undefined) this.scheduleHeartbeat();
  }

  /**
   * A validator outside the committee learns final heights from the records members forward as
   * they decide them (`onFinal`), and fetches a gap when a record shows one. An instance that
   * decides nothing more (an opening that ended while this validator synced up to it, a committee
   * that lost its quorum) sends none, so after `recordQuietMs` without a record it asks a member
   * itself, each time the next one (a silent or byzantine member does not keep it behind). A live
   * shard sends one every idle heartbeat, so this costs nothing there.
   */
  private scheduleRecordPoll(): void {
    this.recordPoll = this.deps.clock.setTimer(this.recordQuietMs, () => {
      this.recordPoll = undefined;
      if (this.closed) return;
      if (this.deps.clock.now() - this.lastRecordAt >= this.recordQuietMs) this.requestRecords(this.nextRecordSource());
      this.scheduleRecordPoll();
    });
  }

  /** Twice the longest a live committee goes without deciding: its idle heartbeat, or a view timeout. */
  private get recordQuietMs(): number {
    return 2 * Math.max(this.config.idleProposalMs ?? 0, this.config.viewTimeoutMs);
  }

  /** The committee member to ask for records next, in turn. */
  private nextRecordSource(): PeerId {
    return this.deps.peerOf(this.participants[this.recordSource++ % this.participants.length]!);
  }

  /** A drawn believable validator, caught up and not slashed, says it is up every HEARTBEAT_MS. */
  private scheduleHeartbeat(): void {
    this.heartbeat = this.deps.clock.setTimer(HEARTBEAT_MS, () => {
      this.heartbeat = undefined;
      if (this.closed) return;
      const self = this.deps.keyPair.publicKey;
      if (this.caughtUp && (this.leagues.isBelievable(self) || this.leagues.isSuspended(self))) {
        this.deps.channel.broadcast(this.participants.map(this.deps.peerOf), POB_MESSAGES.PRODUCER_ALIVE, new Uint8Array(0));
      }
      this.scheduleHeartbeat();
    });
  }

  private heardAlive(from: PeerId, payload: Uint8Array): void {
    if (this.closed) return;
    if (payload.length !== 0) throw new IosError<PobErrorCode>("POB_BAD_MESSAGE", "PRODUCER_ALIVE carries no payload");
    this.heardFrom(from);
  }

  /** A sign of life from a drawn believable validator (a sealed block or a heartbeat), unless it withholds service from this member. */
  private heardFrom(key: string): void {
    if (!this.lastSeen.has(key)) return;
    this.deps.onHeard?.(key);
    const now = this.deps.clock.now();
    if (this.deps.owesService?.(key, SERVICE_OVERDUE_MS) === true) {
      this.owedAt.set(key, now);
      this.stats.overdueService++;
    }
    if (now - (this.owedAt.get(key) ?? -Infinity) < CENSORSHIP_MEMORY_MS) return;
    this.lastSeen.set(key, now);
  }

  /** Milliseconds since a drawn believable validator was last heard from. */
  private silentFor(publicKey: Uint8Array): number {
    return this.deps.clock.now() - (this.lastSeen.get(toHex(publicKey)) ?? -Infinity);
  }

  close(): void {
    this.closed = true;
    this.bft?.close();
    if (this.timer !== undefined) this.deps.clock.cancelTimer(this.timer);
    if (this.bodyRetry !== undefined) this.deps.clock.cancelTimer(this.bodyRetry);
    if (this.heartbeat !== undefined) this.deps.clock.cancelTimer(this.heartbeat);
    if (this.recordPoll !== undefined) this.deps.clock.cancelTimer(this.recordPoll);
    this.collecting?.done(undefined);
    this.releaseBlockWaiters();
  }

  /**
   * A client's transaction. Two-league: this node must be its assigned believable validator
   * (the answer says POB_NOT_ASSIGNED otherwise). One-league: relayed to the normal league.
   */
  submit(tx: Uint8Array): OfferResult {
    if (this.closed) return { accepted: false, code: "POB_CLOSED", message: "this validator's shard driver has stopped; retry shortly" };
    if (this.leagues.mode === "one-league") {
      let txid: Uint8Array;
      try {
        txid = transactionIdOfEncoding(tx);
      } catch (error) {
        if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
        return { accepted: false, code: error.code, message: error.message };
      }
      if (!this.holdTransaction(tx, toHex(txid))) {
        return { accepted: false, code: "POB_HOLD_FULL", message: `this validator holds ${this.mempool.size} transactions for the one-league leaders (MAX_BLOCK_TXS); retry later` };
      }
      this.deps.channel.broadcast(this.participants.map(this.deps.peerOf), POB_MESSAGES.TRANSACTION, tx);
      return { accepted: true, txid };
    }
    if (this.producer === undefined || !this.producing) {
      return { accepted: false, code: "POB_NOT_BELIEVABLE", message: "this validator does not produce optimistic blocks now" };
    }
    if (!this.caughtUp) return { accepted: false, code: "POB_NOT_CAUGHT_UP", message: `this validator is at final height ${this.validator.height} of ${this.knownHeight}; try again shortly` };
    return this.producer.offer(tx);
  }

  /**
   * Phase 1's sealing loop: one block every `optimisticIntervalMs` while transactions are queued;
   * it sleeps with an empty queue (no timer: an idle producer does nothing) and the producer's
   * `onQueued` wakes it.
   */
  private scheduleProduction(): void {
    this.timer = this.deps.clock.setTimer(this.leagues.policy.optimisticIntervalMs, () => {
      this.timer = undefined;
      if (this.closed || !this.producing) return;
      const block = this.caughtUp ? this.producer!.produce(Math.floor(this.deps.clock.wallNow())) : undefined;
      if (block !== undefined) this.publish(block);
      if (this.producer!.pending > 0) this.scheduleProduction();
    });
  }

  private wakeProduction(): void {
    if (this.producing && this.timer === undefined && !this.closed) this.scheduleProduction();
  }

  private publish(block: OptimisticBlock): void {
    this.hold(block.hash, block.bytes, block.block.header, block.block);
    const others = this.deps.members.filter((m) => Buffer.compare(m, this.deps.keyPair.publicKey) !== 0).map(this.deps.peerOf);
    this.deps.channel.broadcast(others, POB_MESSAGES.OPTIMISTIC_BLOCK, block.bytes);
    this.announce(block.hash, block.block);
    if (this.confirmationListeners.length > 0) {
      for (const confirmation of block.confirmations) for (const listener of this.confirmationListeners) listener(confirmation);
    }
  }

  /**
   * Tells this node's clients of an optimistic block's transactions, except those that fail the
   * stateless checks or spend an output its own final state shows spent: such a transaction can
   * only be excluded in phase 2, and no validator confirms it optimistically (a stale or lying
   * producer sealed it). The block's checks are the ones its screening in phase 2 reuses
   * (PobValidator.statelessOf).
   */
  private announce(hash: Uint8Array, block: DecodedBlock): void {
    if (this.announcementListeners.size === 0) return;
    const { spent } = this.deps.utxo;
    const kept: Uint8Array[] = [];
    for (let cursor = new RecordCursor(this.validator.statelessOf(block).records); !cursor.done; cursor.next()) {
      let unspent = true;
      for (let i = 0; i < cursor.inputCount && unspent && spent !== undefined; i++) unspent = !spent.call(this.deps.utxo, cursor.outpoint(i).subarray(0, TXID_BYTES), cursor.outpointIndex(i));
      if (unspent) kept.push(cursor.txid);
    }
    if (kept.length === 0) return;
    const txids = kept.length === block.header.txCount ? block.txids : Buffer.concat(kept);
    const announcement: OptimisticAnnouncement = { hash, producer: block.header.producer, txids, block };
    for (const listener of this.announcementListeners) listener(announcement);
  }

  /**
   * The held blocks a leader orders: those past the order delay, in arrival order, each producer's
   * in its chain's order. A block whose predecessor (its header's prevHash) is neither ordered
   * already nor earlier in this proposal waits for it — blocks can arrive out of order, and one
   * ordered before its predecessor would see the predecessor's outputs missing (its transactions
   * spending them refused MISSING_INPUT, which is final and, for an Atomix lock, decisive) — but
   * at most PREDECESSOR_WAIT_MS while the predecessor is not held here: one lost on the way holds
   * back nothing for longer. A held predecessor is always waited for: a block taken before its own
   * held predecessor would make every leader's proposal one that members refuse (a producer
   * sending the predecessor just as the wait ends would stall the shard). A producer's first
   * block (after a start or restart) has no predecessor.
   */
  private orderableBlocks(): Uint8Array[] {
    const now = this.deps.clock.now();
    const cutoff = now - this.config.orderDelayMs;
    const blocks: Uint8Array[] = [];
    const chosen = new Set<string>();
    const budget = { txs: 0, bytes: 0 };
    /** Blocks waiting for their predecessor, by the predecessor's hash. */
    const waiting = new Map<string, HeldBlock>();
    const take = (held: HeldBlock): boolean => {
      if (blocks.length === MAX_PROPOSAL_BLOCKS || !withinFinalBlock(budget, held)) return false;
      blocks.push(held.hash);
      const key = toHex(held.hash);
      chosen.add(key);
      const next = waiting.get(key);
      waiting.delete(key);
      return next === undefined || take(next);
    };
    for (const held of this.held.values()) {
      if (held.receivedAt > cutoff) continue;
      const previous = held.decoded.header.prevHash;
      const previousKey = toHex(previous);
      // The wait ends early for a predecessor never received: one that is held is ordered first (the waiting map releases this block right after it).
      const ready = previous.every((byte) => byte === 0) || chosen.has(previousKey) || this.recent.has(previousKey)
        || (now - held.receivedAt >= PREDECESSOR_WAIT_MS && !this.held.has(previousKey));
      if (!ready) {
        waiting.set(previousKey, held);
        continue;
      }
      if (!take(held)) break;
    }
    return blocks;
  }

  /** Holds a block body; false when it was already held or ordered, or the holding is full. */
  private hold(hash: Uint8Array, bytes: Uint8Array, header: { readonly txCount: number; readonly bodyBytes: number }, decoded: DecodedBlock): boolean {
    const key = toHex(hash);
    if (this.held.has(key) || this.recent.has(key) || this.held.size >= MAX_HELD_BLOCKS) return false;
    this.held.set(key, { hash, bytes, receivedAt: this.deps.clock.now(), txCount: header.txCount, bodyBytes: header.bodyBytes, decoded });
    this.workArrived();
    return true;
  }

  private releaseBlockWaiters(): void {
    const waiters = this.blockWaiters;
    this.blockWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Resolves at the next held block, or after `ms`, or at close. */
  private nextBlockOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimer(ms, () => done());
      const done = (): void => {
        this.deps.clock.cancelTimer(timer);
        resolve();
      };
      this.blockWaiters.push(done);
    });
  }

  /**
   * Keeps a block of a current believable producer of this shard and epoch, only once it decodes
   * in full (the header's tx root and body root bind the body) and its seal verifies. The held
   * copy must be the one copy every honest validator can hold for its hash: a bad-sealed or
   * corrupted copy — from its producer, a relay, or a leader answering a fetch — is refused here
   * (its code goes to the transport, which counts it against the sender) and can never reach
   * phase 2 on some replicas while a good copy reaches it on others. The header alone answers
   * the cheap questions first (shard, epoch, producer, already held); the body is decoded, and
   * its roots computed, once.
   */
  private receiveBlock(payload: Uint8Array): void {
    if (this.closed) return;
    const header = decodeBlockHeader(payload);
    if (header.shard !== this.config.shard || header.epoch !== this.leagues.epoch || !this.leagues.isBelievable(header.producer)) return;
    const hash = blockHash(header);
    const key = toHex(hash);
    if (this.held.has(key) || this.recent.has(key)) return;
    const bytes = Uint8Array.from(payload);
    const decoded = decodeBlock(bytes);
    const { seal } = decoded;
    if (seal.kind !== "producer" || !this.deps.verifier.verify(seal.signature, hash, header.producer)) {
      throw new IosError<PobErrorCode>("POB_BAD_SEAL", `optimistic block ${key} carries no valid seal of its producer`);
    }
    this.heardFrom(toHex(header.producer));
    if (!this.hold(hash, bytes, decoded.header, decoded)) return;
    this.announce(hash, decoded);
    this.applyReady();
  }

  /** One-league transactions this validator holds, not yet final: its driver hands them to the next at a switch. */
  heldTransactions(): Uint8Array[] {
    return Array.from(this.mempool.values(), ({ tx }) => tx);
  }

  /** Whether this validator holds `txid` as a one-league transaction not yet final. */
  holdsTransaction(txid: Uint8Array): boolean {
    return this.mempool.has(toHex(txid));
  }

  /**
   * Holds a well-formed one-league transaction (`key`: its txid in hex) for the leaders: a client's
   * (`sharedBy` undefined, checked by the driver) or one a member shared (unchecked: the final block
   * excludes what fails). False when the hold is full (MAX_BLOCK_TXS: one final block's worth) or
   * the member sharing it holds its share already (⌈MAX_BLOCK_TXS / n⌉): a byzantine member's junk
   * cannot fill the hold and shut out this node's clients.
   */
  private holdTransaction(tx: Uint8Array, key: string, sharedBy?: string): boolean {
    if (this.mempool.has(key)) return true;
    if (this.mempool.size >= MAX_BLOCK_TXS) return false;
    if (sharedBy !== undefined) {
      const held = this.heldBy.get(sharedBy) ?? 0;
      if (held >= Math.ceil(MAX_BLOCK_TXS / this.participants.length)) return false;
      this.heldBy.set(sharedBy, held + 1);
    }
    this.mempool.set(key, { tx: Uint8Array.from(tx), sharedBy });
    this.workArrived();
    return true;
  }

  /** A held transaction was ordered: it leaves the hold and its sharer's count. */
  private releaseHeld(key: string): void {
    const entry = this.mempool.get(key);
    if (entry === undefined) return;
    this.mempool.delete(key);
    if (entry.sharedBy === undefined) return;
    const held = this.heldBy.get(entry.sharedBy)! - 1;
    if (held === 0) this.heldBy.delete(entry.sharedBy);
    else this.heldBy.set(entry.sharedBy, held);
  }

  /** Wakes a leader waiting for work, and ends a view's quiet allowance — unless the height rests, where work changes nothing. */
  private workArrived(): void {
    this.releaseBlockWaiters();
    const bft = this.bft;
    if (bft !== undefined && !this.restingAt(this.baseHeight + bft.height)) bft.hurry();
  }

  private restingAt(height: number): boolean {
    return this.deps.swaps?.resting?.(height) === true;
  }

  /**
   * The swap rule learned what it waited for (`SwapInRule.resting`): a leader waiting to propose
   * goes on, and every view runs out as a busy one would from now.
   */
  swapsChanged(): void {
    this.releaseBlockWaiters();
    this.bft?.hurry();
  }

  /** The seats this leader would change now: producers silent too long, suspended ones heard again; none while held (SEAT_CHANGE_HOLD_MS). */
  private seatChanges(): { readonly suspend: Uint8Array[]; readonly resume: Uint8Array[] } {
    if (this.deps.clock.now() < this.seatChangesHeldUntil) return { suspend: [], resume: [] };
    const leagues = this.leagues;
    return {
      suspend: leagues.believable.filter((key) => this.silentFor(key) > SUSPEND_AFTER_MS),
      resume: leagues.suspended.filter((key) => this.silentFor(key) < RESUME_SEEN_MS),
    };
  }

  /** Whether there is something to finalize: a held block, a one-league transaction, a seat to change. */
  private hasWork(): boolean {
    const leagues = this.leagues;
    if (leagues.mode === "one-league" ? this.mempool.size > 0 : this.held.size > 0) return true;
    const { suspend, resume } = this.seatChanges();
    return suspend.length + resume.length > 0;
  }

  /** Marks BFT height `bftHeight` begun here now, unless it or a later one already was. */
  private noteHeightBegan(bftHeight: number): void {
    if (this.heightBegan === undefined || this.heightBegan.bftHeight < bftHeight) this.heightBegan = { bftHeight, at: this.deps.clock.now() };
  }

  /**
   * In view 0: the heights' spacing (`minHeightIntervalMs`, from when the previous height began
   * here) first; then the leader's idle heartbeat (`idleProposalMs`): with nothing to finalize,
   * waits until work arrives or the heartbeat is due; then until the oldest held block is
   * `orderDelayMs` old, so the work that ended the wait is in the proposal.
   */
  private async awaitWork(bftHeight: number, view: number): Promise<void> {
    if (view !== 0) return;
    const began = this.heightBegan;
    const spaced = began !== undefined && began.bftHeight === bftHeight - 1 ? began.at + (this.config.minHeightIntervalMs ?? 0) - this.deps.clock.now() : 0;
    if (spaced > 0 && !this.closed) await new Promise<void>((resolve) => this.deps.clock.setTimer(spaced, resolve));
    const idle = this.config.idleProposalMs ?? 0;
    if (idle === 0) return;
    while (!this.closed && !this.hasWork()) {
      const wait = this.lastFinalAt + idle - this.deps.clock.now();
      if (wait <= 0) return;
      await this.nextBlockOrTimeout(wait);
    }
    // The oldest held block ages past the order delay first. Work without one (a seat to change) waits for the heartbeat, as
    // an empty height would: it settles no transaction, and a seat that changes back and forth must not make every height.
    let oldest = Infinity;
    for (const held of this.held.values()) oldest = Math.min(oldest, held.receivedAt);
    const ready = oldest === Infinity ? this.lastFinalAt + idle - this.deps.clock.now() : oldest + this.config.orderDelayMs - this.deps.clock.now();
    if (ready > 0 && !this.closed) await new Promise<void>((resolve) => this.deps.clock.setTimer(ready, resolve));
  }

  /** Whether the BFT is still at (bftHeight, view): an answer that took time may be stale. */
  private stillAt(bftHeight: number, view: number): boolean {
    return !this.closed && this.bft !== undefined && this.bft.height === bftHeight && this.bft.view === view;
  }

  /** Steps a and b: the core, its randomness, its execution; undefined leaves the view to time out. */
  private async propose(bftHeight: number, view: number): Promise<Uint8Array | undefined> {
    const height = this.baseHeight + bftHeight;
    // A replica still waiting for bodies of an earlier final height cannot execute this one.
    if (this.validator.height !== height - 1) return undefined;
    while (this.restingAt(height) && this.stillAt(bftHeight, view)) await this.nextBlockOrTimeout(RESTING_QUIET_MS);
    await this.awaitWork(bftHeight, view);
    if (!this.stillAt(bftHeight, view) || this.validator.height !== height - 1) return undefined;
    this.noteHeightBegan(bftHeight);
    const leagues = this.leagues;
    const timestamp = Math.max(Math.floor(this.deps.clock.wallNow()), this.validator.previousTimestamp);
    const base = {
      epoch: this.validator.proposalEpoch, height, timestamp, prevHash: this.validator.previousProposal, proposer: this.deps.keyPair.publicKey,
      ...this.seatChanges(),
    };
    const swapIn = this.deps.swaps?.pending(height);
    let core: ProposalCore;
    if (leagues.mode === "one-league") {
      const transactions: Uint8Array[] = [];
      const budget = { txs: 0, bytes: 0 };
      for (const { tx } of this.mempool.values()) {
        if (budget.bytes + 4 + tx.length > ONE_LEAGUE_PROPOSAL_BODY_BYTES || !withinFinalBlock(budget, { txCount: 1, bodyBytes: 4 + tx.length })) break;
        transactions.push(tx);
      }
      core = { ...base, mode: "one-league", blocks: [], transactions, ...(swapIn === undefined ? {} : { swapIn }) };
    } else {
      core = { ...base, mode: "two-league", blocks: this.orderableBlocks(), transactions: [], ...(swapIn === undefined ? {} : { swapIn }) };
    }
    const coreHash = proposalCoreHash(core);
    let shares: SeedShare[] = [];
    let randomness: Uint8Array;
    if (samplesSignatures(core)) {
      const gathered = await this.gatherShares(bftHeight, view, coreHash);
      if (gathered === undefined || !this.stillAt(bftHeight, view) || this.validator.height !== height - 1) return undefined;
      shares = gathered.shares;
      randomness = randomnessOfShares(coreHash, gathered.outputs);
    } else {
      randomness = unsampledRandomness(coreHash);
    }
    this.abortSpeculation();
    const execution = this.validator.execute(core, (hash) => this.held.get(toHex(hash))?.decoded, randomness, coreHash);
    const proposal = encodeProposal({ ...core, shares, stateCommitment: execution.commitment });
    const hash = proposalHash(proposal);
    this.speculation = { hash: toHex(hash), execution };
    if (core.suspend.length + core.resume.length > 0) this.seatChangeProposed = { bftHeight, hash };
    return proposal;
  }

  /**
   * Resolves with `shareQuorum` shares over `coreHash` (this leader's own first), ascending by
   * member; undefined after half the view's timeout (it doubles per view, as the view timeout: a
   * fixed wait would fail in every view once a member needed for the quorum answers slower).
   */
  private gatherShares(bftHeight: number, view: number, coreHash: Uint8Array): Promise<{ shares: SeedShare[]; outputs: Uint8Array[] } | undefined> {
    this.collecting?.done(undefined);
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimer(this.bft!.viewTimeoutOf(view) / 2, () => collection.done(undefined));
      const collection: ShareCollection = {
        bftHeight, view, coreHash, outputs: new Map(),
        done: (result) => {
          if (this.collecting !== collection) return;
          this.collecting = undefined;
          this.deps.clock.cancelTimer(timer);
          resolve(result);
        },
      };
      this.collecting = collection;
      const self = this.bft!.selfIndex;
      const own = makeSeedShare(this.deps.keyPair.secretKey, self, this.config.chainId, coreHash);
      this.addShare(collection, own, vrfProofToHash(own.proof));
      const request = BinaryWriter.ofSize(SEED_REQUEST.bytes).u64(bftHeight).u32(view).bytes(coreHash).finish();
      // Asked again, every CoSi level timeout, of the members that have not answered: a member
      // still finishing the previous height ignores a request for this one.
      const ask = (): void => {
        if (this.collecting !== collection) return;
        const missing = this.participants.flatMap((key, i) => (collection.outputs.has(i) ? [] : [this.deps.peerOf(key)]));
        this.deps.channel.broadcast(missing, POB_MESSAGES.SEED_REQUEST, request);
        this.deps.clock.setTimer(this.config.cosi.levelTimeoutMs, ask);
      };
      ask();
    });
  }

  private addShare(collection: ShareCollection, share: SeedShare, output: Uint8Array): void {
    collection.outputs.set(share.member, { share, output });
    if (collection.outputs.size < shareQuorum(this.participants.length)) return;
    const chosen = [...collection.outputs.values()].sort((a, b) => a.share.member - b.share.member);
    collection.done({ shares: chosen.map((c) => c.share), outputs: chosen.map((c) => c.output) });
  }

  /**
   * A member's side of step a: one share per (height, view), only for that view's leader, at this
   * member's current height and at most MAX_SHARE_VIEWS_AHEAD views ahead.
   */
  private answerShareRequest(from: PeerId, payload: Uint8Array): void {
    if (this.closed || this.bft === undefined) return;
    const reader = new BinaryReader(payload, SEED_CODES);
    const bftHeight = reader.u53("height");
    const view = reader.u32("view");
    const coreHash = reader.bytes(HASH_BYTES).slice();
    reader.expectEnd();
    const bft = this.bft;
    if (bftHeight !== bft.height || view < bft.view || view > bft.view + MAX_SHARE_VIEWS_AHEAD) return;
    if (this.deps.peerOf(this.participants[bft.leaderOf(bftHeight, view)]!) !== from) {
      throw new IosError<PobErrorCode>("POB_BAD_MESSAGE", `SEED_REQUEST for view ${view} from a peer that does not lead it`);
    }
    for (const key of this.answered.keys()) if (!key.startsWith(`${bftHeight}:`)) this.answered.delete(key);
    const key = `${bftHeight}:${view}`;
    const given = this.answered.get(key);
    if (given !== undefined && given.coreHash !== toHex(coreHash)) return;
    let message = given?.message;
    if (message === undefined) {
      const share = makeSeedShare(this.deps.keyPair.secretKey, bft.selfIndex, this.config.chainId, coreHash);
      message = BinaryWriter.ofSize(SEED_SHARE.bytes).u64(bftHeight).u32(view).bytes(coreHash).bytes(share.proof).finish();
      this.answered.set(key, { coreHash: toHex(coreHash), message });
    }
    this.deps.channel.send(from, POB_MESSAGES.SEED_SHARE, message);
  }

  private receiveShare(from: PeerId, payload: Uint8Array): void {
    const collection = this.collecting;
    if (this.closed || collection === undefined) return;
    const reader = new BinaryReader(payload, SEED_CODES);
    const bftHeight = reader.u53("height");
    const view = reader.u32("view");
    const coreHash = reader.bytes(HASH_BYTES);
    const proof = reader.bytes(VRF_PROOF_BYTES).slice();
    reader.expectEnd();
    if (bftHeight !== collection.bftHeight || view !== collection.view || !sameBytes(coreHash, collection.coreHash)) return;
    const member = this.participants.findIndex((p) => this.deps.peerOf(p) === from);
    if (member < 0 || collection.outputs.has(member)) return;
    const share: SeedShare = { member, proof };
    const output = verifySeedShare(share, this.participants, this.config.chainId, collection.coreHash);
    if (output === undefined) throw new IosError<PobErrorCode>("POB_BAD_MESSAGE", `the randomness share of member ${member} does not verify`);
    this.addShare(collection, share, output);
  }

  /** Undoes the open speculative execution, if any. */
  private abortSpeculation(): void {
    const speculation = this.speculation;
    if (speculation === undefined) return;
    this.speculation = undefined;
    speculation.execution.abort();
    this.stats.abortedExecutions++;
  }

  /**
   * Step c: co-signs a proposal that fits the replica once every block body it orders is held
   * (missing ones are fetched from the leader and awaited for up to half the view's timeout) and its
   * execution here reaches the commitment it carries. An empty proposal is co-signed after
   * `idleProposalMs` or as soon as a block arrives.
   */
  private async validate(bftHeight: number, encoded: Uint8Array, view: number, proposedIn: number): Promise<boolean> {
    this.noteHeightBegan(bftHeight);
    let proposal: FinalProposal;
    let coreHash: Uint8Array;
    let randomness: Uint8Array;
    try {
      proposal = this.validator.checkProposal(encoded);
      if (proposal.height !== this.baseHeight + bftHeight) return this.refuse("PROPOSAL_WRONG_HEIGHT");
      // The proposer named in the proposal is the leader that proposed it (a re-proposed value keeps its first leader).
      if (!sameBytes(proposal.proposer, this.participants[this.bft!.leaderOf(bftHeight, proposedIn)]!)) return this.refuse("PROPOSAL_WRONG_PROPOSER");
      // Its time: never before the previous final proposal's, and, when fresh, within the clock
      // skew of ours (a re-proposed value was checked by the quorum that prepared it, maybe long ago).
      if (proposal.timestamp < this.validator.previousTimestamp) return this.refuse("PROPOSAL_TIME_BEFORE_PARENT");
      if (proposedIn === view && Math.abs(proposal.timestamp - this.deps.clock.wallNow()) > MAX_CLOCK_SKEW_MS) return this.refuse("PROPOSAL_CLOCK_SKEW");
      // Seat changes this member can vouch for: silence for half the suspension delay, word within twice the resumption window.
      const leagues = this.leagues;
      if (!proposal.suspend.every((key) => leagues.isBelievable(key) && (proposedIn !== view || this.silentFor(key) >= SUSPEND_AFTER_MS / 2))) return this.refuse("PROPOSAL_UNVOUCHED_SUSPENSION");
      if (!proposal.resume.every((key) => leagues.isSuspended(key) && (proposedIn !== view || this.silentFor(key) <= 2 * RESUME_SEEN_MS))) return this.refuse("PROPOSAL_UNVOUCHED_RESUMPTION");
      // A swap-in ends the instance: only one this member can check itself (TRANSEPOCH_* codes otherwise).
      if (proposal.swapIn !== undefined) {
        if (this.deps.swaps === undefined) return this.refuse("PROPOSAL_SWAP_UNEXPECTED");
        this.deps.swaps.check(proposal.swapIn, proposal.height);
      } else if (this.deps.swaps?.overdue(proposal.height) === true) {
        return this.refuse("PROPOSAL_SWAP_OVERDUE");
      }
      try {
        coreHash = proposalCoreHash(proposal);
        randomness = proposalRandomness(proposal, coreHash, this.participants, this.config.chainId, true);
      } catch (error) {
        if (error instanceof IosError) this.stats.badShares++;
        throw error;
      }
    } catch (error) {
      if (error instanceof IosError) return this.refuse(error.code);
      throw error;
    }
    const idle = this.config.idleProposalMs ?? 0;
    const empty = proposal.blocks.length === 0 && proposal.transactions.length === 0 && proposal.suspend.length === 0 && proposal.resume.length === 0 && proposal.swapIn === undefined;
    if (empty && idle > 0) {
      const due = this.lastFinalAt + (idle * 3) / 4 - this.deps.clock.now();
      if (due > 0 && !this.hasWork()) await this.nextBlockOrTimeout(due);
    } else {
      // The proposer first, then another member every CoSi level timeout: a re-proposed value's
      // proposer may hold none of it after a restart, while every co-signer that prepared it kept it.
      const deadline = this.deps.clock.now() + this.bft!.viewTimeoutOf(view) / 2;
      let missing = this.missingBodies(proposal);
      if (missing.length > 0) this.fetchBodies(missing, this.deps.peerOf(proposal.proposer));
      let nextSourceAt = this.deps.clock.now() + this.config.cosi.levelTimeoutMs;
      while (missing.length > 0 && !this.closed && this.deps.clock.now() < deadline) {
        await this.nextBlockOrTimeout(Math.min(deadline, nextSourceAt) - this.deps.clock.now());
        missing = this.missingBodies(proposal);
        if (missing.length > 0 && this.deps.clock.now() >= nextSourceAt) {
          this.fetchFromNextMember(missing);
          nextSourceAt = this.deps.clock.now() + this.config.cosi.levelTimeoutMs;
        }
      }
      if (missing.length > 0) return this.refuse("PROPOSAL_BODIES_MISSING");
      // Whatever the final block includes must fit one ledger block, or no validator could store it.
      const budget = { txs: 0, bytes: 0 };
      if (!proposal.blocks.every((hash) => withinFinalBlock(budget, this.held.get(toHex(hash))!))) return this.refuse("PROPOSAL_OVER_BLOCK_LIMIT");
      // No block before its own predecessor: its transactions spending the predecessor's outputs would be refused for nothing.
      const later = new Set(proposal.blocks.map(toHex));
      for (const hash of proposal.blocks) {
        const key = toHex(hash);
        later.delete(key);
        if (later.has(toHex(this.held.get(key)!.decoded.header.prevHash))) return this.refuse("PROPOSAL_BLOCK_BEFORE_PREDECESSOR");
      }
    }
    if (!this.stillAt(bftHeight, view) || this.validator.height !== proposal.height - 1) return this.refuse("PROPOSAL_MOVED_ON");
    const hash = toHex(proposalHash(encoded));
    // The same bytes re-proposed in a later view were executed already.
    if (this.speculation?.hash === hash) return true;
    this.abortSpeculation();
    const execution = this.validator.execute(proposal, (h) => this.held.get(toHex(h))?.decoded, randomness, coreHash);
    if (!sameBytes(execution.commitment, proposal.stateCommitment)) {
      execution.abort();
      this.stats.commitmentMismatches++;
      return this.refuse("PROPOSAL_COMMITMENT_MISMATCH");
    }
    this.speculation = { hash, execution };
    await this.keepBodies(proposal.blocks);
    return this.stillAt(bftHeight, view);
  }

  /** Counts a refusal by its reason (`stats.refused`); always false, for `validate` to return. */
  private refuse(reason: ProposalRefusal): false {
    this.stats.refused.set(reason, (this.stats.refused.get(reason) ?? 0) + 1);
    return false;
  }

  /** Makes the held bodies of `blocks` durable (deps `keepBlocks`), each once. */
  private async keepBodies(blocks: readonly Uint8Array[]): Promise<void> {
    const keep = this.deps.keepBlocks;
    if (keep === undefined) return;
    const fresh = blocks.map((hash) => this.held.get(toHex(hash))!).filter((body) => !this.keptBlocks.has(toHex(body.hash)));
    if (fresh.length === 0) return;
    await keep(fresh.map(({ hash, bytes }) => ({ hash, bytes })));
    for (const { hash } of fresh) this.keptBlocks.add(toHex(hash));
  }

  /** Whether the block `hash` was made durable before this node co-signed a proposal ordering it (deps `keepBlocks`). */
  blockKept(hash: Uint8Array): boolean {
    return this.keptBlocks.has(toHex(hash));
  }

  private fetchBodies(missing: readonly Uint8Array[], source: PeerId): void {
    const request = new Uint8Array(missing.length * HASH_BYTES);
    missing.forEach((hash, i) => request.set(hash, i * HASH_BYTES));
    this.deps.channel.send(source, POB_MESSAGES.FETCH_BLOCKS, request);
  }

  /** BFT delivered a final height: forward it to the validators outside the committee, then apply it. */
  private onFinal(record: FinalityRecord): void {
    this.lastFinalAt = this.deps.clock.now();
    const proposed = this.seatChangeProposed;
    if (proposed !== undefined && record.height >= proposed.bftHeight) {
      this.seatChangeProposed = undefined;
      if (record.height === proposed.bftHeight && !sameBytes(proposalHash(record.proposal), proposed.hash)) this.seatChangesHeldUntil = this.lastFinalAt + SEAT_CHANGE_HOLD_MS;
    }
    this.heardFinal = true;
    this.knownHeight = Math.max(this.knownHeight, this.baseHeight + record.height);
    const outsiders = this.deps.members.filter((m) => !this.participants.some((p) => Buffer.compare(p, m) === 0)).map(this.deps.peerOf);
    if (outsiders.length > 0) {
      this.deps.channel.broadcast(outsiders, POB_MESSAGES.FINAL_RECORD, encodeFinalityRecord(record, this.participants.length));
    }
    this.enqueue(pendingOf(record), this.leaderPeerOf(record));
  }

  /** The peer that led the view deciding `record`: it holds every block body the record orders. */
  private leaderPeerOf(record: FinalityRecord): PeerId {
    return this.deps.peerOf(this.participants[this.bft!.leaderOf(record.height, record.view)]!);
  }

  /**
   * A validator outside the committee learns final proposals from it, verified offline. Records
   * beyond what it may hold ahead, or a gap before them, make it fetch the missing ones from the
   * sender (a committee member's log).
   */
  private receiveRecord(from: PeerId, payload: Uint8Array): void {
    if (this.closed || this.bft !== undefined) return;
    // A malformed record's IosError goes to the transport, which logs and counts it.
    const record: FinalityRecord = decodeFinalityRecord(payload, this.participants.length, DEFAULT_MAX_PROPOSAL_BYTES);
    const next = this.nextHeight();
    if (record.height < next) return;
    if (!this.pending.has(record.height) && !verifyFinality(this.participants, this.config.chainId, record, this.deps.verifier, proposalHash)) return;
    // Only news counts: a member replaying old records does not keep this validator from asking.
    this.lastRecordAt = this.deps.clock.now();
    this.heardFinal = true;
    this.knownHeight = Math.max(this.knownHeight, this.baseHeight + record.height);
    if (record.height < next + MAX_FUTURE_RECORDS) this.enqueue(this.pending.get(record.height) ?? pendingOf(record), from);
    if (!this.pending.has(this.nextHeight())) this.requestRecords(from);
  }

  /**
   * A peer says `height` is final (a producer answering a relay of a transaction final there): a
   * validator below it fetches the records it lacks now instead of at the next height's messages,
   * which an idle shard sends seconds later. Until then it found the producer overdue for what it had
   * served (SERVICE_OVERDUE_MS) and took it for a censor. Only a hint: the records are verified, and
   * the requests are rate-limited, so a false one costs a peer's look at its log.
   */
  heardAhead(height: number): void {
    if (this.closed || height <= this.validator.height) return;
    if (this.bft !== undefined) this.bft.catchUp();
    // Outside the committee, records come from a committee member's log (`answerRecords`).
    else this.requestRecords(this.nextRecordSource());
  }

  /** Asks `peer` for the records from the next height on, at most once per CoSi level timeout. */
  private requestRecords(peer: PeerId): void {
    const now = this.deps.clock.now();
    if (now - this.lastRecordFetchAt < this.config.cosi.levelTimeoutMs) return;
    this.lastRecordFetchAt = now;
    this.deps.channel.send(peer, POB_MESSAGES.FETCH_RECORDS, BinaryWriter.ofSize(FETCH_RECORDS.bytes).u64(this.nextHeight()).u32(MAX_FUTURE_RECORDS).finish());
  }

  /** A committee member serves the records of its log a lagging validator asks for. */
  private answerRecords(from: PeerId, payload: Uint8Array): void {
    const bft = this.bft;
    if (this.closed || bft === undefined) return;
    const reader = new BinaryReader(payload, SEED_CODES);
    const fromHeight = reader.u53("from height");
    const count = Math.min(reader.u32("count"), MAX_FUTURE_RECORDS);
    reader.expectEnd();
    const last = Math.min(bft.log.lastHeight, fromHeight + count - 1);
    for (let height = Math.max(fromHeight, 1); height <= last; height++) {
      const record = bft.log.get(height);
      if (record !== undefined) this.deps.channel.send(from, POB_MESSAGES.FINAL_RECORD, encodeFinalityRecord(record, this.participants.length));
    }
  }

  private nextHeight(): number {
    return this.validator.height - this.baseHeight + 1;
  }

  /** Holds a final record until the bodies it orders are here; asks `source` for the missing ones. */
  private enqueue(entry: PendingRecord, source: PeerId): void {
    this.pending.set(entry.record.height, entry);
    const missing = this.missingBodies(entry.proposal);
    if (missing.length > 0) this.fetchBodies(missing, source);
    this.applyReady();
  }

  /** The bodies `proposal` orders that are neither held nor stored here (a stored one is held again). */
  private missingBodies(proposal: FinalProposal): Uint8Array[] {
    return proposal.blocks.filter((hash) => !this.held.has(toHex(hash)) && !this.holdStored(hash));
  }

  /**
   * Holds again a body this node kept before co-signing (deps `keepBlocks`), as after a restart:
   * it was verified when first held, and its copy is the one its co-signature vouched for.
   */
  private holdStored(hash: Uint8Array): boolean {
    const bytes = this.deps.storedBlock?.(hash);
    if (bytes === undefined) return false;
    const decoded = decodeBlock(bytes);
    if (!this.hold(hash, bytes, decoded.header, decoded)) return false;
    this.keptBlocks.add(toHex(hash));
    return true;
  }

  /** Asks the next other member of the shard for `missing` bodies. */
  private fetchFromNextMember(missing: readonly Uint8Array[]): void {
    const others = this.deps.members.filter((m) => !sameBytes(m, this.deps.keyPair.publicKey));
    if (others.length === 0) return;
    this.bodySource = (this.bodySource + 1) % others.length;
    this.fetchBodies(missing, this.deps.peerOf(others[this.bodySource]!));
  }

  /** Applies held records in height order while their bodies are all here. */
  private applyReady(): void {
    for (;;) {
      const entry = this.pending.get(this.nextHeight());
      if (entry === undefined) return;
      if (this.missingBodies(entry.proposal).length > 0) {
        this.scheduleBodyRetry();
        return;
      }
      this.pending.delete(entry.record.height);
      this.apply(entry);
    }
  }

  /**
   * While the next final record waits for bodies, asks one other validator after another: the
   * first source (the deciding leader, or the record's sender) may withhold them or answer with
   * copies `receiveBlock` refuses, while every co-signer of the record held them.
   */
  private scheduleBodyRetry(): void {
    if (this.bodyRetry !== undefined || this.closed) return;
    this.bodyRetry = this.deps.clock.setTimer(this.config.cosi.levelTimeoutMs, () => {
      this.bodyRetry = undefined;
      const entry = this.pending.get(this.nextHeight());
      if (entry === undefined || this.closed) return;
      const missing = this.missingBodies(entry.proposal);
      if (missing.length === 0) {
        this.applyReady();
        return;
      }
      this.fetchFromNextMember(missing);
      this.scheduleBodyRetry();
    });
  }

  /** Stops this node for good: its replica disagrees with what the shard decided. */
  private diverge(divergence: Divergence): void {
    this.divergence = divergence;
    this.close();
    for (const listener of this.divergenceListeners) listener(divergence);
  }

  /**
   * Sends `to` the block `hash` if it is held here, not yet ordered: a producer answering a relay of
   * a transaction that block seals, since the relayer cannot have seen it (its status would be
   * optimistic). Its broadcast missed that member (a link not up yet at a start, a drop), and a block
   * no leader holds is never ordered.
   */
  resendBlock(to: PeerId, hash: Uint8Array): void {
    const bytes = this.held.get(toHex(hash))?.bytes;
    if (!this.closed && bytes !== undefined) this.deps.channel.send(to, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
  }

  /** The sealed bytes of a block held or recently ordered here (every block of a proposal it applies). */
  blockBytes(hash: Uint8Array): Uint8Array | undefined {
    const key = toHex(hash);
    return this.held.get(key)?.bytes ?? this.recent.get(key);
  }

  private answerFetch(from: PeerId, payload: Uint8Array): void {
    if (this.closed || payload.length % HASH_BYTES !== 0 || payload.length > MAX_PROPOSAL_BLOCKS * HASH_BYTES) return;
    for (let at = 0; at < payload.length; at += HASH_BYTES) {
      const hash = payload.subarray(at, at + HASH_BYTES);
      const bytes = this.blockBytes(hash) ?? this.deps.storedBlock?.(hash);
      if (bytes !== undefined) this.deps.channel.send(from, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
    }
  }

  /** Step d: commits the decided proposal's execution (this node's own, or a fresh one) if it reaches the decided commitment. */
  private apply({ record, proposal }: PendingRecord): void {
    const decidedHash = proposalHash(record.proposal);
    let execution: Execution | undefined;
    if (this.speculation?.hash === toHex(decidedHash)) {
      execution = this.speculation.execution;
      this.speculation = undefined;
    } else {
      this.abortSpeculation();
      try {
        const coreHash = proposalCoreHash(proposal);
        const randomness = proposalRandomness(proposal, coreHash, this.participants, this.config.chainId, false);
        execution = this.validator.execute(proposal, (hash) => this.held.get(toHex(hash))?.decoded, randomness, coreHash);
      } catch (error) {
        if (!(error instanceof IosError)) throw error;
      }
    }
    if (execution === undefined || !sameBytes(execution.commitment, proposal.stateCommitment)) {
      execution?.abort();
      this.diverge({ height: proposal.height, proposalHash: decidedHash, decided: proposal.stateCommitment, reached: execution?.commitment });
      return;
    }
    const outcome = execution.commit(decidedHash);
    for (const hash of proposal.blocks) {
      const key = toHex(hash);
      const body = this.held.get(key);
      this.held.delete(key);
      this.keptBlocks.delete(key);
      if (body !== undefined) this.recent.set(key, body.bytes);
      this.producer?.finalized(hash);
    }
    for (const key of this.recent.keys()) {
      if (this.recent.size <= MAX_RECENT_BLOCKS) break;
      this.recent.delete(key);
    }
    for (const tx of proposal.transactions) {
      const txid = transactionIdIfWellFormed(tx);
      if (txid !== undefined) this.releaseHeld(toHex(txid));
    }
    const leagues = this.leagues;
    if (this.producer !== undefined) {
      if (leagues.isBelievable(this.deps.keyPair.publicKey)) {
        this.producer.setLeague(leagues.believable);
        // Back from a suspension: production resumes (its timer stopped while suspended).
        if (!this.producing) {
          this.producing = true;
          if (this.timer === undefined) this.scheduleProduction();
        }
      } else {
        this.producing = false;
      }
    }
    for (const listener of this.listeners) listener(outcome, record, proposal);
    this.releaseOrphans();
  }

  /** After a height: drops held blocks whose producer left the believable league and reports their transactions (see onOrphaned). */
  private releaseOrphans(): void {
    const leagues = this.leagues;
    // Concatenated, not spread into push: a drained queue may hold more transactions than a call takes arguments.
    const parts: (readonly Uint8Array[])[] = [];
    for (const [key, held] of this.held) {
      if (leagues.isBelievable(held.decoded.header.producer)) continue;
      this.held.delete(key);
      this.keptBlocks.delete(key);
      parts.push(held.decoded.transactions);
    }
    if (this.producer !== undefined && !this.producing) parts.push(this.producer.drain());
    const orphaned = parts.flat();
    if (orphaned.length > 0) for (const listener of this.orphanListeners) listener(orphaned);
  }
}
