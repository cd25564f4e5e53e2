/**
 * Proof-of-Believability in a validator process (white paper §7.2; issue 6): the protocol of
 * src/consensus/pob (PobNode) over the real transport, with the pipeline's worker pool doing the
 * believable validator's verification and the shard state (LMDB) holding every final block.
 *
 *   setup    the shard's members (genesis order), their believability accounts (genesis stake),
 *            the sharding policy (genesis "pob") and the league draw of epoch 0, seeded by
 *            SHA-256(domain ‖ genesis txid ‖ shard) until DRP provides epoch randomness;
 *   intake   a client's transaction goes to its assignee (`assignee(spenderOf(tx), believable)`):
 *            kept when that is this validator, else relayed to it (TX_RELAY, one hop); in the
 *            one-league fallback it goes to the normal league as PobNode relays it;
 *   phase 1  a believable validator's pipeline verifies what it receives in the worker pool; the
 *            verified transactions pass the producer's view checks (`offerVerified`) and are
 *            sealed every `optimisticIntervalMs`; every validator that holds an optimistic block
 *            with a valid seal announces its transactions to its clients (optimistic events);
 *   phase 2  the normal league's BFT orders optimistic blocks; each validator applies the final
 *            proposal through `PobValidator`, whose writes go to the shard state staged, then
 *            commits ONE final block for it in ONE LMDB transaction: kind Final, the included
 *            transactions in final order, sealed with the commit certificate, with the proposal
 *            hash and outcome tip stored beside it (what a restart resumes from); the pipeline
 *            then publishes the block's final and excluded transactions to clients.
 *
 * Heights: final proposal h is stored block h (epoch 0 starts at height 0), so the BFT height,
 * the PoB height and the store's tip agree, and a restarted normal validator resumes from its
 * finality log, re-applying logged records once their block bodies are fetched again.
 *
 * Left out (documented in docs/ARCHITECTURE.md): believability accounts and the slashing history
 * live in memory, so a validator restarted after a slashing in the same epoch no longer excludes
 * the offender; a restarted believable validator (outside the BFT log) does not catch up on
 * records it missed; epochs other than 0 need DRP (issue: Efficient Distributed Sharding).
 *
 * API: class `PobShardConsensus` (start, stop, submit, onAnnouncement, optimisticStatus,
 * describe, node), `pobEpochSeed(genesis, shard)`.
 */
import { IosError, invariant } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { sha256 } from "../../crypto/sha256.js";
import type { FinalityRecord } from "../../consensus/bft/codec.js";
import { DEFAULT_MAX_PROPOSAL_BYTES } from "../../consensus/bft/codec.js";
import { assignee, spenderOf } from "../../consensus/pob/assignment.js";
import { BelievabilityLedger } from "../../consensus/pob/believability.js";
import { PobValidator, type FinalOutcome } from "../../consensus/pob/finalization.js";
import { drawLeagues, type Leagues } from "../../consensus/pob/leagues.js";
import { validatePolicy } from "../../consensus/pob/policy.js";
import type { FinalProposal } from "../../consensus/pob/proposal.js";
import { PobNode, type OptimisticAnnouncement } from "../../consensus/pob/protocol.js";
import { BlockKind, blockHash, encodeBlock, makeBlockHeader } from "../../ledger/block.js";
import { genesisTxid, type Genesis } from "../../ledger/genesis.js";
import type { KeyPair } from "../../ledger/keys.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import { TXID_BYTES, transactionIdOfEncoding } from "../../ledger/transaction.js";
import { LedgerError } from "../../ledger/errors.js";
import type { PeerId, Transport } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { Clock, Rng } from "../../runtime/interface.js";
import { CryptoRng, SystemClock } from "../../runtime/system.js";
import { toHex } from "../../hex.js";
import type { BlockDriver, Pipeline } from "../pipeline.js";
import type { MempoolEntry } from "../mempool.js";
import { FileFinalityLog } from "./finality-log.js";
import type { TxSink, TxSubmitResult } from "./interface.js";
import { DEFAULT_FANOUT, DEFAULT_LEVEL_TIMEOUT_MS, DEFAULT_VIEW_TIMEOUT_MS, shardChainId, shardValidators } from "./shard-consensus.js";
import { MemoryFinalityLog, type FinalityLog } from "../../consensus/bft/log.js";
import { sameBytes } from "../../bytes.js";

/** Client transactions relayed to their assignee: block-body framing (u32le length ‖ tx)*. */
export const TX_RELAY = messageType("client", 1);
/** A leader orders an optimistic block 5 ms after receiving it: loopback delivery to its peers takes well under that. */
export const DEFAULT_ORDER_DELAY_MS = 5;
/** An idle shard decides an empty final height every 250 ms (the BFT mode's heartbeat). */
export const DEFAULT_IDLE_PROPOSAL_MS = 250;
/** Optimistic announcements remembered for `optimisticStatus`: ~10 s at 20k tx/s. */
export const OPTIMISTIC_STATUS_ENTRIES = 200_000;
/** Relayed transactions per message: 1,024 transfers ≈ 230 KB (TxGossip's batch). */
const RELAY_BATCH_TXS = 1024;
const SEED_DOMAIN = new TextEncoder().encode("IOSChain/pob/genesis-epoch-seed/v1");
/** The consensus state stored with each final block: proposal hash ‖ outcome tip. */
const CONSENSUS_STATE_BYTES = 64;

export interface PobConsensusOptions {
  readonly genesis: Genesis;
  readonly shard: number;
  readonly key: KeyPair;
  readonly transport: Transport;
  /** This validator's pipeline (its state is the shard state final blocks are committed to). */
  readonly pipeline: Pipeline;
  readonly viewTimeoutMs?: number;
  readonly levelTimeoutMs?: number;
  readonly fanout?: number;
  readonly idleProposalMs?: number;
  readonly orderDelayMs?: number;
  /** Directory of the durable finality log; without it the log lives in memory (tests). */
  readonly finalityDirectory?: string;
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly verifier?: Ed25519Verifier;
  /** Called when committing a final block fails (the shard state is then unusable); consensus stops. */
  readonly onError?: (error: unknown) => void;
}

/** Epoch 0's league randomness until DRP exists: SHA-256(domain ‖ genesis txid ‖ u32le shard). */
export function pobEpochSeed(genesis: Genesis, shard: number): Uint8Array {
  const input = new Uint8Array(SEED_DOMAIN.length + 36);
  input.set(SEED_DOMAIN);
  input.set(genesisTxid(genesis), SEED_DOMAIN.length);
  new DataView(input.buffer).setUint32(SEED_DOMAIN.length + 32, shard, true);
  return sha256(input);
}

export class PobShardConsensus implements TxSink, BlockDriver {
  readonly node: PobNode;
  readonly members: readonly Uint8Array[];
  readonly #pipeline: Pipeline;
  readonly #transport: Transport;
  readonly #self: Uint8Array;
  readonly #log: FinalityLog | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #optimistic = new Map<string, { readonly block: Uint8Array; readonly producer: Uint8Array }>();
  readonly #relayQueues = new Map<PeerId, Uint8Array[]>();
  #relayTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #failed = false;
  #stopped = false;

  constructor(options: PobConsensusOptions) {
    const { genesis, shard, key, pipeline, transport } = options;
    invariant(genesis.pob !== undefined, "PoB consensus needs the genesis policy (checked by the configuration)");
    const state = pipeline.state;
    this.#pipeline = pipeline;
    this.#transport = transport;
    this.#self = key.publicKey;
    this.#onError = options.onError ?? (() => undefined);
    this.members = shardValidators(genesis, shard);
    const memberKeys = new Set(this.members.map(toHex));
    const accounts = BelievabilityLedger.fromGenesis(genesis.validators.filter((v) => memberKeys.has(toHex(v.publicKey))));
    const leagues = drawLeagues({ epoch: 0, seed: pobEpochSeed(genesis, shard), members: this.members, accounts, policy: validatePolicy(genesis.pob) });
    const verifier = options.verifier ?? new Ed25519Verifier();
    const validator = new PobValidator({
      shard, shardCount: genesis.shardCount, accounts, leagues, verifier,
      utxo: { applyBlock: (records, count) => ({ statuses: state.stageRecords(records, count) }) },
    });
    const tip = state.tip.height;
    if (tip > 0) {
      const stored = state.consensusState;
      invariant(stored !== undefined && stored.length === CONSENSUS_STATE_BYTES, "a PoB shard state stores its consensus state with every final block");
      validator.resume(tip, stored.subarray(0, 32), stored.subarray(32, 64));
    }
    const inCommittee = leagues.normal.some((p) => sameBytes(p, key.publicKey));
    this.#log = inCommittee ? this.#openLog(options, leagues, tip) : undefined;
    const viewTimeoutMs = options.viewTimeoutMs ?? DEFAULT_VIEW_TIMEOUT_MS;
    this.node = new PobNode(
      {
        chainId: shardChainId(genesis, shard), shard, shardCount: genesis.shardCount, viewTimeoutMs,
        cosi: { fanout: options.fanout ?? DEFAULT_FANOUT, levelTimeoutMs: options.levelTimeoutMs ?? DEFAULT_LEVEL_TIMEOUT_MS },
        orderDelayMs: options.orderDelayMs ?? DEFAULT_ORDER_DELAY_MS,
        idleProposalMs: options.idleProposalMs ?? DEFAULT_IDLE_PROPOSAL_MS,
        baseHeight: 0,
      },
      {
        transport, clock: options.clock ?? new SystemClock(), rng: options.rng ?? new CryptoRng(), keyPair: key, verifier,
        utxo: { get: (txid, index) => state.getUtxo(txid, index) }, accounts, validator, members: this.members, peerOf: toHex, timestamp: Date.now,
        ...(this.#log === undefined ? {} : { log: this.#log }),
      },
    );
    this.node.onOutcome((outcome, record, proposal) => this.#commit(outcome, record, proposal));
    this.node.onAnnouncement((announcement) => this.#remember(announcement));
    transport.on(TX_RELAY, (_from, _type, payload) => this.#receiveRelay(payload));
  }

  #openLog(options: PobConsensusOptions, leagues: Leagues, tip: number): FinalityLog {
    if (options.finalityDirectory === undefined) return new MemoryFinalityLog(tip + 1);
    return new FileFinalityLog(options.finalityDirectory, { firstHeight: tip + 1, participants: leagues.normal.length, maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES });
  }

  get leagues(): Leagues {
    return this.node.leagues;
  }

  /** Joins the shard: re-applies logged records beyond the state, starts BFT and production. */
  start(): void {
    const log = this.#log;
    const tip = this.#pipeline.state.tip.height;
    if (log !== undefined && log.lastHeight > tip) {
      const records: FinalityRecord[] = [];
      for (let height = tip + 1; height <= log.lastHeight; height++) records.push(log.get(height)!);
      this.node.resumeRecords(records);
    }
    if (this.node.producer !== undefined) this.#unsubscribe = this.#pipeline.onAdmitted(() => this.#feedProducer());
    this.node.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.node.close();
    if (this.#relayTimer !== undefined) clearTimeout(this.#relayTimer);
    if (this.#log instanceof FileFinalityLog) this.#log.close();
  }

  /** Where the API's submissions go: kept for the local producer, relayed to the assignee, or handed to the one-league relay. */
  async submit(transactions: readonly Uint8Array[]): Promise<readonly TxSubmitResult[]> {
    const leagues = this.leagues;
    if (leagues.mode === "one-league") return transactions.map((tx) => this.#offerOneLeague(tx));
    const results = new Array<TxSubmitResult>(transactions.length);
    const local: Uint8Array[] = [];
    const localSlots: number[] = [];
    transactions.forEach((tx, i) => {
      const spender = spenderOf(tx);
      const target = spender === undefined ? this.#self : assignee(spender, leagues.believable);
      if (sameBytes(target, this.#self)) {
        local.push(tx);
        localSlots.push(i);
        return;
      }
      results[i] = this.#relay(tx, toHex(target));
    });
    if (local.length > 0) {
      const verified = await this.#pipeline.submit(local);
      verified.forEach((result, k) => (results[localSlots[k]!] = result));
    }
    return results;
  }

  #offerOneLeague(tx: Uint8Array): TxSubmitResult {
    const offer = this.node.submit(tx);
    return offer.accepted ? { outcome: "accepted", txid: offer.txid } : { outcome: "rejected", code: offer.code, message: offer.message };
  }

  /** Queues `tx` for its assignee; the answer is "accepted" for relay (its fate follows on the stream). */
  #relay(tx: Uint8Array, peer: PeerId): TxSubmitResult {
    let txid: Uint8Array;
    try {
      txid = transactionIdOfEncoding(tx);
    } catch (error) {
      if (error instanceof LedgerError) return { outcome: "rejected", code: error.code, message: error.message };
      throw error;
    }
    let queue = this.#relayQueues.get(peer);
    if (queue === undefined) this.#relayQueues.set(peer, (queue = []));
    // Packed into the relay message at the flush; the API's frames are copies that outlive this call.
    queue.push(tx);
    if (queue.length >= RELAY_BATCH_TXS) this.#flushRelays();
    else this.#relayTimer ??= setTimeout(() => this.#flushRelays(), 1);
    return { outcome: "accepted", txid };
  }

  #flushRelays(): void {
    if (this.#relayTimer !== undefined) clearTimeout(this.#relayTimer);
    this.#relayTimer = undefined;
    for (const [peer, queue] of this.#relayQueues) if (queue.length > 0) this.#transport.send(peer, TX_RELAY, packTransactions(queue));
    this.#relayQueues.clear();
  }

  /** Relayed transactions: admitted when assigned here (one hop; others are dropped, the client follows up). */
  #receiveRelay(payload: Uint8Array): void {
    if (this.#stopped) return;
    let transactions: Uint8Array[];
    try {
      transactions = unpackTransactions(payload);
    } catch (error) {
      if (error instanceof IosError) return;
      throw error;
    }
    const leagues = this.leagues;
    if (leagues.mode === "one-league") {
      for (const tx of transactions) this.#offerOneLeague(tx);
      return;
    }
    const mine = transactions.filter((tx) => {
      const spender = spenderOf(tx);
      return spender !== undefined && sameBytes(assignee(spender, leagues.believable), this.#self);
    });
    // The pipeline copies what it admits: views into the message are enough.
    if (mine.length > 0) void this.#pipeline.submit(mine);
  }

  /** Phase 1 intake: verified transactions leave the mempool for the producer's view checks. */
  #feedProducer(): void {
    const producer = this.node.producer;
    if (producer === undefined || this.#stopped) return;
    const refused: { entry: MempoolEntry; code: string }[] = [];
    for (const entry of this.#pipeline.takeVerified()) {
      const offer = producer.offerVerified(entry.tx, entry.txid, entry.record);
      if (!offer.accepted) refused.push({ entry, code: offer.code });
    }
    this.#pipeline.rejectTaken(refused);
  }

  #remember(announcement: OptimisticAnnouncement): void {
    const { hash, producer, txids } = announcement;
    for (let at = 0; at < txids.length; at += TXID_BYTES) {
      this.#optimistic.set(toHex(txids.subarray(at, at + TXID_BYTES)), { block: hash, producer });
    }
    for (const key of this.#optimistic.keys()) {
      if (this.#optimistic.size <= OPTIMISTIC_STATUS_ENTRIES) break;
      this.#optimistic.delete(key);
    }
  }

  /** Called with every optimistic block this validator holds with a valid seal. */
  onAnnouncement(listener: (announcement: OptimisticAnnouncement) => void): () => void {
    return this.node.onAnnouncement(listener);
  }

  /** The optimistic block that confirmed `txid`, while remembered and not yet final. */
  optimisticStatus(txid: Uint8Array): { readonly block: Uint8Array; readonly producer: Uint8Array } | undefined {
    return this.#optimistic.get(toHex(txid));
  }

  /** For GET /v1/status. */
  describe(): Record<string, unknown> {
    const leagues = this.leagues;
    return {
      mode: "pob",
      leagueMode: leagues.mode,
      believable: leagues.believable.map(toHex),
      normal: leagues.normal.map(toHex),
      samplingProbability: leagues.policy.samplingProbability,
      height: this.node.validator.height,
      role: leagues.isBelievable(this.#self) ? "believable" : "normal",
      ...(this.node.bft === undefined ? {} : { view: this.node.bft.view, viewChanges: this.node.bft.stats.viewChanges }),
    };
  }

  /** Phase 2 persistence: the outcome's final block, in one LMDB transaction, then the client events. */
  #commit(outcome: FinalOutcome, record: FinalityRecord, proposal: FinalProposal): void {
    if (this.#failed) return;
    const state = this.#pipeline.state;
    try {
      invariant(outcome.height === state.tip.height + 1, "a final outcome extends the stored chain by one block");
      const transactions = outcome.includedTransactions;
      const consensusState = new Uint8Array(CONSENSUS_STATE_BYTES);
      consensusState.set(outcome.proposalHash);
      consensusState.set(outcome.tip, 32);
      const committed = state.commitStaged(transactions.length, (slot) => {
        const fields = { kind: BlockKind.Final, shard: state.shard, epoch: proposal.epoch, height: slot.height, prevHash: slot.prevHash, timestamp: Math.max(outcome.latestTimestamp, state.tipTimestamp), producer: proposal.proposer };
        // The outcome's txids are the included transactions' own: the final block does not hash them again.
        const header = makeBlockHeader(fields, transactions, outcome.included);
        const bytes = encodeBlock(header, { kind: "collective", participants: record.commitCert.mask, signature: record.commitCert.signature }, transactions);
        return { bytes, hash: blockHash(header), txids: outcome.included, consensusState };
      });
      for (let at = 0; at < outcome.included.length; at += TXID_BYTES) this.#optimistic.delete(toHex(outcome.included.subarray(at, at + TXID_BYTES)));
      const rejected = outcome.excluded.map((e) => ({ txid: e.txid, code: e.code }));
      for (const { txid } of rejected) this.#optimistic.delete(toHex(txid));
      this.#pipeline.settledEvent({ height: committed.height, hash: committed.hash, final: outcome.included, rejected });
    } catch (error) {
      this.#failed = true;
      void this.stop();
      this.#onError(error);
    }
  }
}
