/**
 * Proof-of-Believability on one validator of a shard, for one epoch (white paper §7.2;
 * DESIGN.md §4), over the injected Channel / Clock / Rng, so it runs unchanged on sockets or in
 * the deterministic simulator.
 *
 *   phase 1  a believable validator validates the transactions assigned to it (optimistic.ts)
 *            and every `optimisticIntervalMs` seals an optimistic block, broadcast to the shard
 *            (OPTIMISTIC_BLOCK); clients hold its confirmations;
 *   phase 2  the normal league runs ByzCoin BFT (src/consensus/bft) over final proposals
 *            (proposal.ts): the leader orders the optimistic blocks it received at least
 *            `orderDelayMs` ago; a member co-signs only a proposal that fits its replica
 *            (height, previous proposal, epoch, mode) and whose bodies it holds. On finality each
 *            member applies it (finalization.ts) with the sampling randomness derived from the
 *            prepare certificate — a collective signature over a digest that already contains the
 *            optimistic block hashes, so it exists only after the producers signed — and forwards
 *            the finality record to the believable validators (FINAL_RECORD), which verify it
 *            (`verifyFinality`) and apply it in height order.
 *   fallback with too few believable validators (at the epoch start or after a slashing), the
 *            normal league's leader proposes transactions itself (one-league proposals, every
 *            signature verified); submissions are relayed to the normal league (TRANSACTION).
 *
 * Heights: the BFT of an epoch counts from 1; final proposal height = `baseHeight` + BFT height,
 * where `baseHeight` is the replica's height when the epoch began.
 *
 * API: class `PobNode` (start, close, submit, validator, producer, bft, onOutcome, onConfirmation,
 * onAnnouncement, resumeRecords),
 * POB_MESSAGES,
 * `finalRandomnessOf(record, participants)`.
 */
import { IosError, check, hasCodeIn } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { SchnorrKey } from "../../crypto/schnorr.js";
import { sha256 } from "../../crypto/sha256.js";
import { HEADER_BYTES, MAX_BITMASK_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, decodeBlock, decodeBlockEnvelope, type DecodedBlock } from "../../ledger/block.js";
import type { KeyPair } from "../../ledger/keys.js";
import { transactionIdOfEncoding } from "../../ledger/transaction.js";
import type { Channel, PeerId } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import { encodeCollectiveSignature } from "../cosi/codec.js";
import { DEFAULT_MAX_PROPOSAL_BYTES, decodeFinalityRecord, encodeFinalityRecord, verifyFinality, type FinalityRecord } from "../bft/codec.js";
import { BftNode, type BftConfig } from "../bft/protocol.js";
import type { FinalityLog } from "../bft/log.js";
import type { BelievabilityLedger } from "./believability.js";
import { PobValidator, type FinalOutcome } from "./finalization.js";
import type { Leagues } from "./leagues.js";
import { OptimisticProducer, type OfferResult, type OptimisticBlock, type OptimisticConfirmation, type UtxoView } from "./optimistic.js";
import { MAX_PROPOSAL_BLOCKS, decodeProposal, encodeProposal, type FinalProposal } from "./proposal.js";
import { toHex } from "../../hex.js";
import { sameBytes } from "../../bytes.js";
import { HASH_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";
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
} as const;

const RANDOMNESS_DOMAIN = new TextEncoder().encode("IOSChain/pob/final-randomness/v1");
/** Optimistic blocks held before ordering: a few intervals of every producer. */
const MAX_HELD_BLOCKS = 4 * MAX_PROPOSAL_BLOCKS;
/** Finality records held ahead of the next height while a validator catches up. */
const MAX_FUTURE_RECORDS = 64;
/** Bodies of ordered blocks kept to answer FETCH_BLOCKS from validators that missed them. */
const MAX_RECENT_BLOCKS = MAX_HELD_BLOCKS;

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
  /**
   * A member co-signs an empty proposal only after this long (or once an optimistic block
   * arrives), so an idle shard does not spin through empty final heights; default 0.
   */
  readonly idleProposalMs?: number;
}

/** What every validator announces to its clients: the transactions of an optimistic block it holds. */
export interface OptimisticAnnouncement {
  readonly hash: Uint8Array;
  readonly producer: Uint8Array;
  /** n × 32 bytes, body order. */
  readonly txids: Uint8Array;
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

/**
 * The sampling randomness of a final proposal: SHA-256(domain ‖ encoded prepare certificate).
 * The prepare CoSi signs a digest containing H(proposal), hence every ordered block hash.
 */
export function finalRandomnessOf(record: FinalityRecord, participantCount: number): Uint8Array {
  const cert = encodeCollectiveSignature(record.prepareCert, participantCount);
  const input = new Uint8Array(RANDOMNESS_DOMAIN.length + cert.length);
  input.set(RANDOMNESS_DOMAIN);
  input.set(cert, RANDOMNESS_DOMAIN.length);
  return sha256(input);
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

/** The txid of a well-formed encoding; undefined for a malformed one (phase 2 reports it). */
function txidOrUndefined(tx: Uint8Array): Uint8Array | undefined {
  try {
    return transactionIdOfEncoding(tx);
  } catch (error) {
    if (hasCodeIn(error, LEDGER_ERROR_CODES)) return undefined;
    throw error;
  }
}

export class PobNode {
  readonly validator: PobValidator;
  readonly producer: OptimisticProducer | undefined;
  readonly bft: BftNode | undefined;
  private readonly config: PobNodeConfig;
  private readonly deps: PobNodeDependencies;
  private readonly participants: readonly Uint8Array[];
  private readonly baseHeight: number;
  private readonly held = new Map<string, HeldBlock>();
  /** Bodies already ordered, oldest first, for FETCH_BLOCKS answers. */
  private readonly recent = new Map<string, Uint8Array>();
  private readonly mempool = new Map<string, Uint8Array>();
  /** Final records (by BFT height) waiting for their turn or for block bodies, each proposal decoded once. */
  private readonly pending = new Map<number, PendingRecord>();
  private readonly listeners: ((outcome: FinalOutcome, record: FinalityRecord, proposal: FinalProposal) => void)[] = [];
  private readonly confirmationListeners: ((confirmation: OptimisticConfirmation) => void)[] = [];
  private readonly announcementListeners = new Set<(announcement: OptimisticAnnouncement) => void>();
  /** Resolved when a block is held: `validate` waits on them for bodies or for an idle interval. */
  private blockWaiters: (() => void)[] = [];
  private producing: boolean;
  private timer: TimerHandle | undefined;
  private bodyRetry: TimerHandle | undefined;
  /** Index (among the other members) of the last validator asked for missing bodies. */
  private bodySource = 0;
  private closed = false;

  constructor(config: PobNodeConfig, deps: PobNodeDependencies) {
    check<PobErrorCode>(Number.isInteger(config.orderDelayMs) && config.orderDelayMs >= 0, "POB_BAD_ARGUMENT", "orderDelayMs must be a non-negative integer");
    this.config = config;
    this.deps = deps;
    this.validator = deps.validator;
    this.baseHeight = config.baseHeight ?? deps.validator.height;
    check<PobErrorCode>(Number.isSafeInteger(this.baseHeight) && this.baseHeight >= 0 && this.baseHeight <= deps.validator.height, "POB_BAD_ARGUMENT",
      `baseHeight ${String(config.baseHeight)} must be in 0..${deps.validator.height}`);
    const leagues = this.validator.leagues;
    const self = deps.keyPair.publicKey;
    // The BFT committee is the normal league drawn at the epoch start; it stays for the epoch.
    this.participants = leagues.normal;
    this.producing = leagues.isBelievable(self);
    this.producer = this.producing
      ? new OptimisticProducer({
        keyPair: deps.keyPair, shard: config.shard, shardCount: config.shardCount, epoch: leagues.epoch,
        policy: leagues.policy, league: leagues.believable, state: deps.utxo, verifier: deps.verifier,
      })
      : undefined;
    const inCommittee = this.participants.some((p) => Buffer.compare(p, self) === 0);
    this.bft = inCommittee
      ? new BftNode(
        { chainId: config.chainId, participants: this.participants, viewTimeoutMs: config.viewTimeoutMs, cosi: config.cosi },
        {
          channel: deps.channel, clock: deps.clock, rng: deps.rng, key: SchnorrKey.fromSeed(deps.keyPair.secretKey), verifier: deps.verifier,
          ...(deps.log === undefined ? {} : { log: deps.log }),
          app: {
            propose: (height) => this.propose(height),
            validate: (height, proposal) => this.validate(height, proposal),
            onFinal: (record) => this.onFinal(record),
          },
        },
      )
      : undefined;
    deps.channel.on(POB_MESSAGES.OPTIMISTIC_BLOCK, (_from, _type, payload) => this.receiveBlock(payload));
    deps.channel.on(POB_MESSAGES.FINAL_RECORD, (from, _type, payload) => this.receiveRecord(from, payload));
    deps.channel.on(POB_MESSAGES.FETCH_BLOCKS, (from, _type, payload) => this.answerFetch(from, payload));
    deps.channel.on(POB_MESSAGES.TRANSACTION, (_from, _type, payload) => this.holdTransaction(payload));
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

  start(): void {
    this.bft?.start();
    if (this.producing) this.scheduleProduction();
  }

  close(): void {
    this.closed = true;
    this.bft?.close();
    if (this.timer !== undefined) this.deps.clock.cancelTimer(this.timer);
    if (this.bodyRetry !== undefined) this.deps.clock.cancelTimer(this.bodyRetry);
    this.releaseBlockWaiters();
  }

  /**
   * A client's transaction. Two-league: this node must be its assigned believable validator
   * (the answer says POB_NOT_ASSIGNED otherwise). One-league: relayed to the normal league.
   */
  submit(tx: Uint8Array): OfferResult {
    if (this.leagues.mode === "one-league") {
      let txid: Uint8Array;
      try {
        txid = transactionIdOfEncoding(tx);
      } catch (error) {
        if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
        return { accepted: false, code: error.code, message: error.message };
      }
      this.holdTransaction(tx);
      this.deps.channel.broadcast(this.participants.map(this.deps.peerOf), POB_MESSAGES.TRANSACTION, tx);
      return { accepted: true, txid };
    }
    if (this.producer === undefined || !this.producing) {
      return { accepted: false, code: "POB_NOT_BELIEVABLE", message: "this validator does not produce optimistic blocks now" };
    }
    return this.producer.offer(tx);
  }

  private scheduleProduction(): void {
    this.timer = this.deps.clock.setTimer(this.leagues.policy.optimisticIntervalMs, () => {
      this.timer = undefined;
      if (this.closed || !this.producing) return;
      const block = this.producer!.produce(Math.floor(this.deps.clock.wallNow()));
      if (block !== undefined) this.publish(block);
      this.scheduleProduction();
    });
  }

  private publish(block: OptimisticBlock): void {
    this.hold(block.hash, block.bytes, block.block.header, block.block);
    const others = this.deps.members.filter((m) => Buffer.compare(m, this.deps.keyPair.publicKey) !== 0).map(this.deps.peerOf);
    this.deps.channel.broadcast(others, POB_MESSAGES.OPTIMISTIC_BLOCK, block.bytes);
    this.announce({ hash: block.hash, producer: block.block.header.producer, txids: block.block.txids });
    if (this.confirmationListeners.length > 0) {
      for (const confirmation of block.confirmations) for (const listener of this.confirmationListeners) listener(confirmation);
    }
  }

  private announce(announcement: OptimisticAnnouncement): void {
    for (const listener of this.announcementListeners) listener(announcement);
  }

  /** Holds a block body; false when it was already held or ordered, or the holding is full. */
  private hold(hash: Uint8Array, bytes: Uint8Array, header: { readonly txCount: number; readonly bodyBytes: number }, decoded: DecodedBlock): boolean {
    const key = toHex(hash);
    if (this.held.has(key) || this.recent.has(key) || this.held.size >= MAX_HELD_BLOCKS) return false;
    this.held.set(key, { hash, bytes, receivedAt: this.deps.clock.now(), txCount: header.txCount, bodyBytes: header.bodyBytes, decoded });
    this.releaseBlockWaiters();
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
   * in full (the header's tx root binds the body) and its seal verifies. The block hash covers the
   * header alone, so the held copy must be the one copy every honest validator can hold for that
   * hash: a bad-sealed or corrupted copy — from its producer, a relay, or a leader answering a
   * fetch — is refused here (its code goes to the transport, which counts it against the sender)
   * and can never reach phase 2 on some replicas while a good copy reaches it on others.
   */
  private receiveBlock(payload: Uint8Array): void {
    if (this.closed) return;
    const envelope = decodeBlockEnvelope(payload);
    const { header, seal } = envelope;
    if (header.shard !== this.config.shard || header.epoch !== this.leagues.epoch || !this.leagues.isBelievable(header.producer)) return;
    const key = toHex(envelope.hash);
    if (this.held.has(key) || this.recent.has(key)) return;
    if (seal.kind !== "producer" || !this.deps.verifier.verify(seal.signature, envelope.hash, header.producer)) {
      throw new IosError<PobErrorCode>("POB_BAD_SEAL", `optimistic block ${key} carries no valid seal of its producer`);
    }
    const bytes = Uint8Array.from(payload);
    const decoded = decodeBlock(bytes);
    if (!this.hold(envelope.hash, bytes, header, decoded)) return;
    this.announce({ hash: envelope.hash, producer: header.producer, txids: decoded.txids });
    this.applyReady();
  }

  private holdTransaction(tx: Uint8Array): void {
    if (this.closed || this.mempool.size >= MAX_BLOCK_TXS) return;
    const txid = txidOrUndefined(tx);
    if (txid !== undefined) this.mempool.set(toHex(txid), Uint8Array.from(tx));
  }

  private propose(bftHeight: number): Uint8Array {
    const leagues = this.leagues;
    const base = { epoch: leagues.epoch, height: this.baseHeight + bftHeight, prevHash: this.validator.previousProposal, proposer: this.deps.keyPair.publicKey };
    if (leagues.mode === "one-league") {
      const transactions: Uint8Array[] = [];
      const budget = { txs: 0, bytes: 0 };
      for (const tx of this.mempool.values()) {
        if (budget.bytes + 4 + tx.length > ONE_LEAGUE_PROPOSAL_BODY_BYTES || !withinFinalBlock(budget, { txCount: 1, bodyBytes: 4 + tx.length })) break;
        transactions.push(tx);
      }
      return encodeProposal({ ...base, mode: "one-league", blocks: [], transactions });
    }
    const cutoff = this.deps.clock.now() - this.config.orderDelayMs;
    const blocks: Uint8Array[] = [];
    const budget = { txs: 0, bytes: 0 };
    for (const held of this.held.values()) {
      if (held.receivedAt > cutoff) continue;
      if (blocks.length === MAX_PROPOSAL_BLOCKS || !withinFinalBlock(budget, held)) break;
      blocks.push(held.hash);
    }
    const proposal: FinalProposal = { ...base, mode: "two-league", blocks, transactions: [] };
    return encodeProposal(proposal);
  }

  /**
   * Co-signs a proposal that fits the replica once every block body it orders is held: missing
   * ones are fetched from the leader and awaited for up to half a view timeout. An empty proposal
   * is co-signed after `idleProposalMs` or as soon as a block arrives.
   */
  private async validate(bftHeight: number, encoded: Uint8Array): Promise<boolean> {
    let proposal: FinalProposal;
    try {
      proposal = this.validator.checkProposal(encoded);
    } catch (error) {
      if (error instanceof IosError) return false;
      throw error;
    }
    if (proposal.height !== this.baseHeight + bftHeight) return false;
    const idle = this.config.idleProposalMs ?? 0;
    if (proposal.blocks.length === 0 && proposal.transactions.length === 0 && idle > 0) {
      await this.nextBlockOrTimeout(idle);
      return !this.closed;
    }
    const deadline = this.deps.clock.now() + this.config.viewTimeoutMs / 2;
    let missing = this.missingBodies(proposal);
    if (missing.length > 0) this.fetchBodies(missing, this.deps.peerOf(proposal.proposer));
    while (missing.length > 0 && !this.closed && this.deps.clock.now() < deadline) {
      await this.nextBlockOrTimeout(deadline - this.deps.clock.now());
      missing = this.missingBodies(proposal);
    }
    if (missing.length > 0 || this.closed) return false;
    // Whatever the final block includes must fit one ledger block, or no validator could store it.
    const budget = { txs: 0, bytes: 0 };
    return proposal.blocks.every((hash) => withinFinalBlock(budget, this.held.get(toHex(hash))!));
  }

  private fetchBodies(missing: readonly Uint8Array[], source: PeerId): void {
    const request = new Uint8Array(missing.length * HASH_BYTES);
    missing.forEach((hash, i) => request.set(hash, i * HASH_BYTES));
    this.deps.channel.send(source, POB_MESSAGES.FETCH_BLOCKS, request);
  }

  /** BFT delivered a final height: forward it to the validators outside the committee, then apply it. */
  private onFinal(record: FinalityRecord): void {
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

  /** A validator outside the committee learns final proposals from it, verified offline. */
  private receiveRecord(from: PeerId, payload: Uint8Array): void {
    if (this.closed || this.bft !== undefined) return;
    // A malformed record's IosError goes to the transport, which logs and counts it.
    const record: FinalityRecord = decodeFinalityRecord(payload, this.participants.length, DEFAULT_MAX_PROPOSAL_BYTES);
    const next = this.nextHeight();
    if (record.height < next || record.height >= next + MAX_FUTURE_RECORDS) return;
    if (!this.pending.has(record.height) && !verifyFinality(this.participants, this.config.chainId, record, this.deps.verifier)) return;
    this.enqueue(this.pending.get(record.height) ?? pendingOf(record), from);
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

  private missingBodies(proposal: FinalProposal): Uint8Array[] {
    return proposal.blocks.filter((hash) => !this.held.has(toHex(hash)));
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
      if (missing.length === 0) return;
      const others = this.deps.members.filter((m) => !sameBytes(m, this.deps.keyPair.publicKey));
      if (others.length === 0) return;
      this.bodySource = (this.bodySource + 1) % others.length;
      this.fetchBodies(missing, this.deps.peerOf(others[this.bodySource]!));
      this.scheduleBodyRetry();
    });
  }

  private answerFetch(from: PeerId, payload: Uint8Array): void {
    if (this.closed || payload.length % HASH_BYTES !== 0 || payload.length > MAX_PROPOSAL_BLOCKS * HASH_BYTES) return;
    for (let at = 0; at < payload.length; at += HASH_BYTES) {
      const key = toHex(payload.subarray(at, at + HASH_BYTES));
      const bytes = this.held.get(key)?.bytes ?? this.recent.get(key);
      if (bytes !== undefined) this.deps.channel.send(from, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
    }
  }

  private apply({ record, proposal }: PendingRecord): void {
    const randomness = finalRandomnessOf(record, this.participants.length);
    const outcome = this.validator.applyFinal(proposal, (hash) => {
      return this.held.get(toHex(hash))?.decoded;
    }, randomness);
    for (const hash of proposal.blocks) {
      const key = toHex(hash);
      const body = this.held.get(key);
      this.held.delete(key);
      if (body !== undefined) this.recent.set(key, body.bytes);
      this.producer?.finalized(hash);
    }
    for (const key of this.recent.keys()) {
      if (this.recent.size <= MAX_RECENT_BLOCKS) break;
      this.recent.delete(key);
    }
    for (const tx of proposal.transactions) {
      const txid = txidOrUndefined(tx);
      if (txid !== undefined) this.mempool.delete(toHex(txid));
    }
    const leagues = this.leagues;
    if (this.producer !== undefined) {
      if (leagues.isBelievable(this.deps.keyPair.publicKey)) this.producer.setLeague(leagues.believable);
      else this.producing = false;
    }
    for (const listener of this.listeners) listener(outcome, record, proposal);
  }
}
