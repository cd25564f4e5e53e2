/**
 * Shard consensus: the validators of one shard agree on every block with the ByzCoin-style BFT
 * (src/consensus/bft/protocol.ts; white paper §7.2, the normal league's phase 2), one-league mode:
 * every validator checks every transaction of every proposal (the paper's fallback when PoB's
 * believable league is not in use). Phases of one height h:
 *
 *   1. propose   the BFT leader of (h, view) builds a candidate block from its waiting
 *                transactions WITHOUT applying it, leaving out for ORPHAN_PROPOSAL_WAIT_MS those
 *                whose input neither exists nor comes from one before them (a parent still on
 *                its way): header (kind Optimistic, prev = tip hash,
 *                height = tip + 1, tx root, producer = leader) sealed by the leader's Ed25519
 *                signature — PoB's optimistic block — and the BFT carries its bytes;
 *   2. validate  each validator decodes it strictly (structure, txids, tx root), checks shard,
 *                height, link to its tip and the producer's seal; every transaction must pass
 *                stateless rules and signature verification — in the verifier pool, except the
 *                ones this validator already verified byte for byte (gossip or its clients
 *                brought them: `Pipeline.holds`); only then does it co-sign the prepare and
 *                commit CoSi rounds;
 *   3. final     with the commit certificate the block is re-sealed as a Final block (header kind
 *                Final, seal = the certificate's participation mask + 64-byte CoSi signature) and
 *                committed through ShardState. Execution is deterministic: transactions failing
 *                stateful checks (a spent input, ...) stay in the block unapplied with their
 *                status, identically on every validator. The pipeline then settles the
 *                block's transactions and publishes their statuses. A record learned by catch-up is committed
 *                without verifying its signatures again: its commit certificate shows 2f + 1
 *                validators, so at least one honest one, verified them.
 *
 * Idle shards: the BFT asks the leader for a proposal as soon as a height opens, so a leader with
 * nothing waiting proposes an empty block; validators holding nothing proposable (nothing, or
 * only such orphans) delay their approval of an empty block by `idleBlockMs` (or until
 * transactions arrive), so an idle shard writes one
 * heartbeat block per idle interval instead of spinning empty blocks at network speed.
 *
 * Restart: with a durable `openLog` (fileFinalityLogs) the finality records and votes are durable
 * (finality-log.ts); heights the log holds beyond the shard state's tip (a crash between the two
 * appends) are committed from it before the BFT starts.
 *
 * Membership and the chain id every statement signs come from the epoch context: the shard's
 * members in the epoch, and the consensus instance (chain, shard, epoch).
 *
 * Transactions reach every member by gossip (tx-gossip.ts), which the driver owns: a client's
 * transaction enters the local pipeline and is forwarded to the shard's other validators.
 */
import { BftNode, type BftApplication } from "../../consensus/bft/protocol.js";
import type { FinalityRecord } from "../../consensus/bft/codec.js";
import { memoryFinalityLogs, type FinalityLog, type FinalityLogOpener } from "../../consensus/bft/log.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { SchnorrKey } from "../../crypto/schnorr.js";
import { IosError, check } from "../../errors.js";
import {
  BlockKind,
  HEADER_BYTES,
  MAX_BITMASK_BYTES,
  MAX_BLOCK_TXS,
  decodeBlock,
  decodeBlockEnvelope,
  encodeBlock,
  makeBlockHeader,
  sealOptimistic,
  type BlockHeader,
} from "../../ledger/block.js";
import type { MetricFamily } from "../../api/interface.js";
import type { EpochContext } from "../../epoch/interface.js";
import { SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { KeyPair } from "../../ledger/keys.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import type { Channel, Transport } from "../../net/interface.js";
import type { Clock, Rng } from "../../runtime/interface.js";
import { ByteKeyMap } from "../../ledger/byte-key-map.js";
import { RecordCursor } from "../../ledger/records.js";
import { ApplyStatus, applyStatusName } from "../../ledger/utxo-table.js";
import { sameBytes } from "../../bytes.js";
import { toHex } from "../../hex.js";
import type { MempoolEntry } from "../mempool.js";
import type { Pipeline } from "../pipeline.js";
import type { VerifierPool } from "../pool/interface.js";
import type { ShardState } from "../shard-state.js";
import { TxGossip } from "../tx-gossip.js";
import type { BlockEvent, ShardDriver, SubmitResult, TxStatus } from "./interface.js";

export type ShardConsensusErrorCode = "CONSENSUS_OPTIONS" | "CONSENSUS_NOT_MEMBER" | "CONSENSUS_LOG_BEHIND";

/** Transactions per proposal: 4,096 (≈ 0.9 MB of transfers) keeps one CoSi round's block well under the 3 MiB BFT proposal limit. */
export const DEFAULT_MAX_BLOCK_TXS = 4096;
/** View 0 timeout: 2 s covers a full block's verification plus two CoSi rounds on loopback with room to spare. */
export const DEFAULT_VIEW_TIMEOUT_MS = 2000;
/** CoSi per-level timeout: also the leader's retry delay when an attempt falls below 2f + 1. */
export const DEFAULT_LEVEL_TIMEOUT_MS = 40;
/** CoSi fan-out: 8 puts shards of up to 9 validators in a star (one level). */
export const DEFAULT_FANOUT = 8;
/** Heartbeat interval of an idle shard (see the header). */
export const DEFAULT_IDLE_BLOCK_MS = 250;
/**
 * A leader leaves a transaction whose input does not exist yet out of its proposals this long: its
 * parent may reach this validator later than the child (gossiped from a validator that was paused,
 * or sent again by a client that found its validator silent: `ios load` waits 5 s for a ping, then
 * resends). Past it the transaction is proposed and its block holds it unapplied, MISSING_INPUT.
 */
export const ORPHAN_PROPOSAL_WAIT_MS = 10_000;
/** Largest body of a proposal: the block limit's share after header and collective seal. */
const MAX_PROPOSAL_BODY_BYTES = 3 * 1024 * 1024 - HEADER_BYTES - 2 - MAX_BITMASK_BYTES - SIGNATURE_BYTES;

/** A block the shard finalized and this validator committed. */
export interface FinalBlock {
  readonly height: number;
  readonly hash: Uint8Array;
  /** The stored encoding: Final header, collective seal (the commit certificate), body. */
  readonly bytes: Uint8Array;
  /** Every transaction of the block, applied or not, packed (n × 32), in body order. */
  readonly txids: Uint8Array;
  /** One ApplyStatus per transaction, in body order (0 = applied). */
  readonly statuses: Uint8Array;
  /** The BFT proof: proposal plus prepare and commit certificates (`verifyFinality`). */
  readonly record: FinalityRecord;
}

export interface ShardConsensusOptions {
  readonly context: EpochContext;
  readonly shard: number;
  /** This validator's key (a member of the shard). */
  readonly key: KeyPair;
  /** Authenticated peer transport; peers are the shard's validators. Consensus opens its instance's channel on it. */
  readonly transport: Transport;
  /** Admits transactions (clients', gossiped) and holds the verified ones until settled. */
  readonly pipeline: Pipeline;
  /** The shard state final blocks are committed to (the pipeline's). */
  readonly state: ShardState;
  /** Verifies the transactions of proposals this validator has not verified yet. */
  readonly pool: VerifierPool;
  readonly maxBlockTxs?: number;
  readonly viewTimeoutMs?: number;
  readonly levelTimeoutMs?: number;
  readonly fanout?: number;
  readonly idleBlockMs?: number;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly verifier?: Ed25519Verifier;
  /** Directory of the durable finality log; without it the log lives in memory (tests). */
  /** Opens the finality log (votes and records); default: in memory. */
  readonly openLog?: FinalityLogOpener;
  /** Called when committing a final block fails (the shard state is then unusable); consensus stops. */
  readonly onError?: (error: unknown) => void;
}

/** The Final block of a finality record: the proposal's header as kind Final, sealed by the commit certificate. */
export function finalBlockOf(record: FinalityRecord): Uint8Array {
  const envelope = decodeBlockEnvelope(record.proposal);
  const header: BlockHeader = { ...envelope.header, kind: BlockKind.Final };
  return encodeBlock(header, { kind: "collective", participants: record.commitCert.mask, signature: record.commitCert.signature }, unpackTransactions(envelope.body));
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const chosen = value ?? fallback;
  check(Number.isFinite(chosen) && chosen > 0, "CONSENSUS_OPTIONS", `${name} must be a positive number, got ${String(value)}`);
  return chosen;
}

export class ShardConsensus implements BftApplication, ShardDriver {
  readonly mode = "bft";
  readonly bft: BftNode;
  readonly participants: readonly Uint8Array[];
  readonly chainId: Uint8Array;
  readonly log: FinalityLog;
  readonly gossip: TxGossip;
  /** The channel of (consensus, shard, epoch), shared by the BFT and its CoSi rounds. */
  readonly #channel: Channel;
  /** The channel of (client, shard, epoch): transaction gossip. */
  readonly #clientChannel: Channel;
  readonly #pipeline: Pipeline;
  readonly #state: ShardState;
  readonly #pool: VerifierPool;
  readonly #key: KeyPair;
  readonly #epoch: number;
  readonly #clock: Clock;
  readonly #verifier: Ed25519Verifier;
  readonly #maxBlockTxs: number;
  readonly #idleBlockMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<(block: FinalBlock) => void>();
  readonly #idleWaits = new Set<() => void>();
  /** The genesis outputs' txid (the chain id): an input it names that is gone was spent, not yet to come. */
  readonly #genesisTxid: Uint8Array;
  /** Waiting transactions seen with an input missing (hex txid → since, on the Clock): left out of proposals until ORPHAN_PROPOSAL_WAIT_MS. */
  #orphanSince = new Map<string, number>();
  #unsubscribe: (() => void) | undefined;
  #running = false;
  #failed = false;

  constructor(options: ShardConsensusOptions) {
    const { context, shard, key, pipeline, state } = options;
    this.participants = context.members(shard);
    check(
      this.participants.some((p) => sameBytes(p, key.publicKey)),
      "CONSENSUS_NOT_MEMBER",
      `key ${toHex(key.publicKey)} is not a validator of shard ${shard} in epoch ${context.epoch}`,
    );
    check(state.shard === shard, "CONSENSUS_OPTIONS", `the shard state is shard ${state.shard}, consensus runs shard ${shard}`);
    this.#maxBlockTxs = positive(options.maxBlockTxs, DEFAULT_MAX_BLOCK_TXS, "maxBlockTxs");
    check(Number.isSafeInteger(this.#maxBlockTxs) && this.#maxBlockTxs <= MAX_BLOCK_TXS, "CONSENSUS_OPTIONS", `maxBlockTxs must be an integer ≤ ${MAX_BLOCK_TXS}`);
    this.#idleBlockMs = positive(options.idleBlockMs, DEFAULT_IDLE_BLOCK_MS, "idleBlockMs");
    this.#pipeline = pipeline;
    this.#state = state;
    this.#pool = options.pool;
    this.#key = key;
    this.#epoch = context.epoch;
    this.#genesisTxid = context.chain;
    this.#clock = options.clock;
    this.#verifier = options.verifier ?? new Ed25519Verifier();
    this.#onError = options.onError ?? (() => undefined);
    this.chainId = context.instance(shard).key;
    const firstHeight = state.tip.height + 1;
    this.log = (options.openLog ?? memoryFinalityLogs)(firstHeight, this.participants.length);
    try {
      check(
        this.log.lastHeight >= state.tip.height,
        "CONSENSUS_LOG_BEHIND",
        `the finality log ends at height ${this.log.lastHeight}, the shard state at ${state.tip.height}: the log does not belong to this state`,
      );
      for (let height = state.tip.height + 1; height <= this.log.lastHeight; height++) this.#commit(this.log.get(height)!);
    } catch (error) {
      this.log.close();
      throw error;
    }
    const instance = { shard, epoch: context.epoch };
    this.#channel = options.transport.open({ protocol: "consensus", ...instance });
    this.#clientChannel = options.transport.open({ protocol: "client", ...instance });
    this.gossip = new TxGossip({ channel: this.#clientChannel, clock: options.clock, peers: this.participants.map(toHex), sink: pipeline });
    this.bft = new BftNode(
      {
        chainId: this.chainId,
        participants: this.participants,
        viewTimeoutMs: positive(options.viewTimeoutMs, DEFAULT_VIEW_TIMEOUT_MS, "viewTimeoutMs"),
        cosi: { fanout: positive(options.fanout, DEFAULT_FANOUT, "fanout"), levelTimeoutMs: positive(options.levelTimeoutMs, DEFAULT_LEVEL_TIMEOUT_MS, "levelTimeoutMs") },
      },
      {
        channel: this.#channel,
        clock: options.clock,
        rng: options.rng,
        key: SchnorrKey.fromSeed(key.secretKey),
        verifier: this.#verifier,
        app: this,
        log: this.log,
      },
    );
  }

  /** Joins the shard's agreement from the height after the local tip. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#pipeline.onAdmitted(() => this.#releaseIdleWaits());
    // The replicas flush in turn (ShardState FlushTurn), each after a height it led.
    const bft = this.bft;
    this.#state.setFlushTurn({ index: bft.selfIndex, replicas: this.participants.length, leads: (height) => bft.leaderOf(height, 0) === bft.selfIndex });
    this.bft.start();
  }

  /** Leaves the agreement and closes its channels (the transport is the caller's to close); committed blocks stay, unfinal transactions are the shard's. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.gossip.close();
    this.bft.close();
    this.#channel.close();
    this.#clientChannel.close();
    this.#releaseIdleWaits();
    this.log.close();
  }

  /** One call per final block this validator committed, in height order. */
  onFinalBlock(listener: (block: FinalBlock) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ——— ShardDriver ———

  /** Verified locally, then gossiped to the shard's other validators. */
  submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    return this.gossip.submit(transactions);
  }

  status(txid: Uint8Array): TxStatus {
    return this.#pipeline.status(txid);
  }

  onConfirmations(listener: (event: BlockEvent) => void): () => void {
    return this.#pipeline.onSettled(listener);
  }


  describe(): Record<string, unknown> {
    return { mode: "bft", validators: this.participants.length, height: this.bft.height, view: this.bft.view, viewChanges: this.bft.stats.viewChanges };
  }

  metrics(): MetricFamily[] {
    return [
      { name: "ios_consensus_view", help: "BFT view at the height being decided", type: "gauge", samples: [{ value: this.bft.view }] },
      { name: "ios_consensus_view_changes_total", help: "BFT views entered after view 0", type: "counter", samples: [{ value: this.bft.stats.viewChanges }] },
    ];
  }

  // ——— BftApplication ———

  propose(height: number): Uint8Array {
    const tip = this.#state.tip;
    check(height === tip.height + 1, "CONSENSUS_OPTIONS", `asked to propose height ${height}, the tip is ${tip.height}`);
    const entries = this.#proposable(this.#pipeline.peek(this.#maxBlockTxs, MAX_PROPOSAL_BODY_BYTES));
    const transactions = entries.map((entry) => entry.tx);
    // The pipeline's txids spare hashing every transaction again.
    const txids = new Uint8Array(entries.length * TXID_BYTES);
    entries.forEach((entry, i) => txids.set(entry.txid, i * TXID_BYTES));
    const header = makeBlockHeader(
      { kind: BlockKind.Optimistic, shard: this.#state.shard, epoch: this.#epoch, height, prevHash: tip.hash, timestamp: Math.max(this.#clock.wallNow(), this.#state.tipTimestamp), producer: this.#key.publicKey },
      transactions,
      txids,
    );
    return encodeBlock(header, sealOptimistic(header, this.#key), transactions);
  }

  async validate(height: number, proposal: Uint8Array): Promise<boolean> {
    try {
      const state = this.#state;
      // Strict decode: framing, every transaction's structure, txids and the tx root.
      const { header, seal, hash, transactions, txids } = decodeBlock(proposal);
      const tip = state.tip;
      if (header.kind !== BlockKind.Optimistic || seal.kind !== "producer") return false;
      if (header.shard !== state.shard || header.epoch !== this.#epoch || header.height !== height || height !== tip.height + 1 || !sameBytes(header.prevHash, tip.hash)) return false;
      if (header.timestamp < state.tipTimestamp) return false;
      if (!this.participants.some((p) => sameBytes(p, header.producer))) return false;
      if (!this.#verifier.verify(seal.signature, hash, header.producer)) return false;
      if (header.txCount === 0) {
        await this.#idleWait();
        return true;
      }
      // Transactions this validator already verified (same bytes) are not verified twice.
      const unverified = transactions.filter((tx, i) => !this.#pipeline.holds(txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES), tx));
      if (unverified.length === 0) return true;
      const checked = await this.#pool.validateTransactions(packTransactions(unverified), state.shard, state.shardCount);
      return checked.count === unverified.length && checked.verdicts.every((verdict) => verdict === 1);
    } catch (error) {
      if (error instanceof IosError) return false;
      throw error;
    }
  }

  onFinal(record: FinalityRecord): void {
    if (this.#failed) return;
    try {
      this.#commit(record);
    } catch (error) {
      this.#failed = true;
      void this.stop();
      this.#onError(error);
    }
  }

  /** Commits the Final block of `record` at the tip and settles its transactions. */
  #commit(record: FinalityRecord): void {
    const bytes = finalBlockOf(record);
    // commitBlock decodes and hashes every transaction already; its txids spare a second pass.
    const committed = this.#state.commitBlock(bytes);
    const block: FinalBlock = { height: committed.height, hash: committed.hash, bytes, txids: committed.txids, statuses: committed.statuses, record };
    this.#pipeline.settle(settlementOf(block));
    for (const listener of this.#listeners) listener(block);
  }

  /**
   * `entries` (oldest first) less the orphans: a transaction goes in once every input exists at the
   * tip or is created by one before it in the proposal, once an input is known spent (its creator
   * is final: no parent can come), or once it waited ORPHAN_PROPOSAL_WAIT_MS. Remembers when each
   * orphan was first seen; forgets the rest.
   */
  #proposable(entries: readonly MempoolEntry[]): MempoolEntry[] {
    const now = this.#clock.now();
    const created = new ByteKeyMap<true>();
    const proposable: MempoolEntry[] = [];
    const orphans = new Map<string, number>();
    for (const entry of entries) {
      const cursor = new RecordCursor(entry.record);
      const since = this.#orphanSince.get(entry.key) ?? now;
      if (now - since < ORPHAN_PROPOSAL_WAIT_MS && this.#awaitsParent(cursor, created)) {
        orphans.set(entry.key, since);
        continue;
      }
      proposable.push(entry);
      for (let j = 0; j < cursor.outputCount; j++) created.set(cursor.createdKey(j), true);
    }
    this.#orphanSince = orphans;
    return proposable;
  }

  /** Whether an input of the record at `cursor` neither exists nor is in `created`, and was not created by a final transaction (then it was spent). */
  #awaitsParent(cursor: RecordCursor, created: ByteKeyMap<true>): boolean {
    for (let i = 0; i < cursor.inputCount; i++) {
      const outpoint = cursor.outpoint(i);
      if (created.has(outpoint)) continue;
      const txid = outpoint.subarray(0, TXID_BYTES);
      if (this.#state.getUtxo(txid, cursor.outpointIndex(i)) !== undefined) continue;
      if (sameBytes(txid, this.#genesisTxid) || this.#state.getTransactionLocation(txid) !== undefined) return false;
      return true;
    }
    return false;
  }

  /** Resolves after the idle interval, or sooner when transactions arrive or consensus stops; at once when a proposable one waits (not only orphans). */
  #idleWait(): Promise<void> {
    if (!this.#running || (this.#pipeline.mempoolCount > 0 && this.#proposable(this.#pipeline.peek(this.#maxBlockTxs, MAX_PROPOSAL_BODY_BYTES)).length > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#clock.cancelTimer(timer);
        this.#idleWaits.delete(done);
        resolve();
      };
      const timer = this.#clock.setTimer(this.#idleBlockMs, done);
      this.#idleWaits.add(done);
    });
  }

  #releaseIdleWaits(): void {
    for (const done of [...this.#idleWaits]) done();
  }
}

/** The settlement of a final block: applied transactions final, the others rejected with their ApplyStatus name. */
function settlementOf(block: FinalBlock): BlockEvent {
  const count = block.statuses.length;
  const final = new Uint8Array(block.txids.length);
  let finalCount = 0;
  const rejected: { txid: Uint8Array; code: string }[] = [];
  for (let i = 0; i < count; i++) {
    const txid = block.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES);
    const status = block.statuses[i]!;
    if (status === ApplyStatus.Ok) final.set(txid, finalCount++ * TXID_BYTES);
    else rejected.push({ txid: txid.slice(), code: applyStatusName(status) });
  }
  return { height: block.height, hash: block.hash, final: final.subarray(0, finalCount * TXID_BYTES), rejected };
}
