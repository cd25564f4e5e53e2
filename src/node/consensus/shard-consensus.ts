/**
 * Shard consensus: the validators of one shard agree on every block with the ByzCoin-style BFT
 * (src/consensus/bft/protocol.ts; white paper §7.2, the normal league's phase 2), one-league mode:
 * every validator checks every transaction of every proposal (the paper's fallback when PoB's
 * believable league is not in use). Phases of one height h:
 *
 *   1. propose   the BFT leader of (h, view) builds a candidate block from its waiting
 *                transactions WITHOUT applying it: header (kind Optimistic, prev = tip hash,
 *                height = tip + 1, tx root, producer = leader) sealed by the leader's Ed25519
 *                signature — PoB's optimistic block — and the BFT carries its bytes;
 *   2. validate  each validator decodes it strictly (structure, txids, tx root), checks shard,
 *                height, link to its tip and the producer's seal; every transaction must pass
 *                stateless rules and signature verification — in the verifier pool, except the
 *                ones this validator already verified byte for byte (gossip or its clients
 *                brought them: `ConsensusHost.holds`); only then does it co-sign the prepare and
 *                commit CoSi rounds;
 *   3. final     with the commit certificate the block is re-sealed as a Final block (header kind
 *                Final, seal = the certificate's participation mask + 64-byte CoSi signature) and
 *                committed through ShardState. Execution is deterministic: transactions failing
 *                stateful checks (a spent input, ...) stay in the block unapplied with their
 *                status, identically on every validator. The host then drops the block's
 *                transactions and publishes statuses. A record learned by catch-up is committed
 *                without verifying its signatures again: its commit certificate shows 2f + 1
 *                validators, so at least one honest one, verified them.
 *
 * Idle shards: the BFT asks the leader for a proposal as soon as a height opens, so a leader with
 * nothing waiting proposes an empty block; validators holding nothing either delay their approval
 * of an empty block by `idleBlockMs` (or until transactions arrive), so an idle shard writes one
 * heartbeat block per idle interval instead of spinning empty blocks at network speed.
 *
 * Restart: with a `finalityDirectory` the finality records and votes are durable
 * (finality-log.ts); heights the log holds beyond the shard state's tip (a crash between the two
 * appends) are committed from it before the BFT starts.
 *
 * Membership: until the epoch machinery exists, validator i of the genesis serves shard
 * i mod shardCount (the rule `ios genesis` writes into the configs), in genesis order.
 */
import { BftNode, type BftApplication } from "../../consensus/bft/protocol.js";
import { DEFAULT_MAX_PROPOSAL_BYTES, type FinalityRecord } from "../../consensus/bft/codec.js";
import { MemoryFinalityLog, type FinalityLog } from "../../consensus/bft/log.js";
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
import type { Genesis } from "../../ledger/genesis.js";
import { genesisTxid } from "../../ledger/genesis.js";
import { SIGNATURE_BYTES, type KeyPair } from "../../ledger/keys.js";
import { packTransactions, unpackTransactions } from "../../ledger/stateless.js";
import { TXID_BYTES } from "../../ledger/transaction.js";
import type { Transport } from "../../net/interface.js";
import type { Clock, Rng } from "../../runtime/interface.js";
import { CryptoRng, SystemClock } from "../../runtime/system.js";
import { FileFinalityLog } from "./finality-log.js";
import type { ConsensusHost, FinalBlock } from "./interface.js";
import { sameBytes } from "../../bytes.js";

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
/** Largest body of a proposal: the block limit's share after header and collective seal. */
const MAX_PROPOSAL_BODY_BYTES = 3 * 1024 * 1024 - HEADER_BYTES - 2 - MAX_BITMASK_BYTES - SIGNATURE_BYTES;

export interface ShardConsensusOptions {
  readonly genesis: Genesis;
  readonly shard: number;
  /** This validator's key (a member of the shard). */
  readonly key: KeyPair;
  /** Authenticated peer transport; peers are the shard's validators. */
  readonly transport: Transport;
  readonly host: ConsensusHost;
  readonly maxBlockTxs?: number;
  readonly viewTimeoutMs?: number;
  readonly levelTimeoutMs?: number;
  readonly fanout?: number;
  readonly idleBlockMs?: number;
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly verifier?: Ed25519Verifier;
  /** Directory of the durable finality log; without it the log lives in memory (tests). */
  readonly finalityDirectory?: string;
  /** Called when committing a final block fails (the shard state is then unusable); consensus stops. */
  readonly onError?: (error: unknown) => void;
}

/** Public keys of shard `shard`'s validators, in genesis order (validator i serves shard i mod M). */
export function shardValidators(genesis: Genesis, shard: number): Uint8Array[] {
  check(Number.isInteger(shard) && shard >= 0 && shard < genesis.shardCount, "CONSENSUS_OPTIONS", `shard must be in 0..${genesis.shardCount - 1}, got ${shard}`);
  return genesis.validators.filter((_, i) => i % genesis.shardCount === shard).map((v) => v.publicKey);
}

/** The chain id BFT binds into every signed statement: genesis txid ‖ shard (u32le). */
export function shardChainId(genesis: Genesis, shard: number): Uint8Array {
  const id = new Uint8Array(36);
  id.set(genesisTxid(genesis), 0);
  new DataView(id.buffer).setUint32(32, shard, true);
  return id;
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

export class ShardConsensus implements BftApplication {
  readonly bft: BftNode;
  readonly participants: readonly Uint8Array[];
  readonly chainId: Uint8Array;
  readonly log: FinalityLog;
  readonly #host: ConsensusHost;
  readonly #key: KeyPair;
  readonly #verifier: Ed25519Verifier;
  readonly #maxBlockTxs: number;
  readonly #idleBlockMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<(block: FinalBlock) => void>();
  readonly #idleWaits = new Set<() => void>();
  #unsubscribe: (() => void) | undefined;
  #running = false;
  #failed = false;

  constructor(options: ShardConsensusOptions) {
    const { genesis, shard, key, host } = options;
    this.participants = shardValidators(genesis, shard);
    check(
      this.participants.some((p) => sameBytes(p, key.publicKey)),
      "CONSENSUS_NOT_MEMBER",
      `key ${Buffer.from(key.publicKey).toString("hex")} is not a validator of shard ${shard}`,
    );
    check(host.state.shard === shard, "CONSENSUS_OPTIONS", `the host's state is shard ${host.state.shard}, consensus runs shard ${shard}`);
    this.#maxBlockTxs = positive(options.maxBlockTxs, DEFAULT_MAX_BLOCK_TXS, "maxBlockTxs");
    check(Number.isSafeInteger(this.#maxBlockTxs) && this.#maxBlockTxs <= MAX_BLOCK_TXS, "CONSENSUS_OPTIONS", `maxBlockTxs must be an integer ≤ ${MAX_BLOCK_TXS}`);
    this.#idleBlockMs = positive(options.idleBlockMs, DEFAULT_IDLE_BLOCK_MS, "idleBlockMs");
    this.#host = host;
    this.#key = key;
    this.#verifier = options.verifier ?? new Ed25519Verifier();
    this.#onError = options.onError ?? (() => undefined);
    this.chainId = shardChainId(genesis, shard);
    const firstHeight = host.state.tip.height + 1;
    this.log =
      options.finalityDirectory === undefined
        ? new MemoryFinalityLog(firstHeight)
        : new FileFinalityLog(options.finalityDirectory, { firstHeight, participants: this.participants.length, maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES });
    try {
      check(
        this.log.lastHeight >= host.state.tip.height,
        "CONSENSUS_LOG_BEHIND",
        `the finality log ends at height ${this.log.lastHeight}, the shard state at ${host.state.tip.height}: the log does not belong to this state`,
      );
      for (let height = host.state.tip.height + 1; height <= this.log.lastHeight; height++) this.#commit(this.log.get(height)!);
    } catch (error) {
      if (this.log instanceof FileFinalityLog) this.log.close();
      throw error;
    }
    this.bft = new BftNode(
      {
        chainId: this.chainId,
        participants: this.participants,
        viewTimeoutMs: positive(options.viewTimeoutMs, DEFAULT_VIEW_TIMEOUT_MS, "viewTimeoutMs"),
        cosi: { fanout: positive(options.fanout, DEFAULT_FANOUT, "fanout"), levelTimeoutMs: positive(options.levelTimeoutMs, DEFAULT_LEVEL_TIMEOUT_MS, "levelTimeoutMs") },
      },
      {
        transport: options.transport,
        clock: options.clock ?? new SystemClock(),
        rng: options.rng ?? new CryptoRng(),
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
    this.#unsubscribe = this.#host.onAdmitted(() => this.#releaseIdleWaits());
    this.bft.start();
  }

  /** Leaves the agreement (the transport is the caller's to close); committed blocks stay. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.bft.close();
    this.#releaseIdleWaits();
    if (this.log instanceof FileFinalityLog) this.log.close();
  }

  /** One call per final block this validator committed, in height order. */
  onFinalBlock(listener: (block: FinalBlock) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ——— BftApplication ———

  propose(height: number): Uint8Array {
    const { state } = this.#host;
    const tip = state.tip;
    check(height === tip.height + 1, "CONSENSUS_OPTIONS", `asked to propose height ${height}, the tip is ${tip.height}`);
    const { transactions, txids } = this.#host.candidates(this.#maxBlockTxs, MAX_PROPOSAL_BODY_BYTES);
    // The host's txids spare hashing every transaction again.
    const header = makeBlockHeader(
      { kind: BlockKind.Optimistic, shard: state.shard, epoch: state.epoch, height, prevHash: tip.hash, timestamp: Math.max(Date.now(), state.tipTimestamp), producer: this.#key.publicKey },
      transactions,
      txids,
    );
    return encodeBlock(header, sealOptimistic(header, this.#key), transactions);
  }

  async validate(height: number, proposal: Uint8Array): Promise<boolean> {
    try {
      const { state, pool } = this.#host;
      // Strict decode: framing, every transaction's structure, txids and the tx root.
      const { header, seal, hash, transactions, txids } = decodeBlock(proposal);
      const tip = state.tip;
      if (header.kind !== BlockKind.Optimistic || seal.kind !== "producer") return false;
      if (header.shard !== state.shard || header.height !== height || height !== tip.height + 1 || !sameBytes(header.prevHash, tip.hash)) return false;
      if (header.timestamp < state.tipTimestamp) return false;
      if (!this.participants.some((p) => sameBytes(p, header.producer))) return false;
      if (!this.#verifier.verify(seal.signature, hash, header.producer)) return false;
      if (header.txCount === 0) {
        await this.#idleWait();
        return true;
      }
      // Transactions this validator already verified (same bytes) are not verified twice.
      const unverified = transactions.filter((tx, i) => !this.#host.holds(txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES), tx));
      if (unverified.length === 0) return true;
      const checked = await pool.validateTransactions(packTransactions(unverified), state.shard, state.shardCount);
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
    const committed = this.#host.state.commitBlock(bytes);
    const block: FinalBlock = { height: committed.height, hash: committed.hash, bytes, txids: committed.txids, statuses: committed.statuses, record };
    this.#host.settled(block);
    for (const listener of this.#listeners) listener(block);
  }

  /** Resolves after the idle interval, or sooner when transactions arrive or consensus stops. */
  #idleWait(): Promise<void> {
    if (!this.#running || this.#host.candidates(1, MAX_PROPOSAL_BODY_BYTES).transactions.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idleWaits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.#idleBlockMs);
      this.#idleWaits.add(done);
    });
  }

  #releaseIdleWaits(): void {
    for (const done of [...this.#idleWaits]) done();
  }
}
