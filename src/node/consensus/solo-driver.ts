/**
 * Solo driver: a lone validator orders and commits its shard's blocks (white paper §7.2's
 * believable-first processing with nobody to check it; the devnet's unreplicated reference).
 *
 * Phases of one block:
 *  1. tick: every `blockIntervalMs`, or at once when `maxBlockTxs` verified transactions wait;
 *  2. take: up to `maxBlockTxs` verified transactions leave the pipeline's queue, in order;
 *  3. apply + commit: their apply records are applied to the UTXO table and the block of the
 *     applied ones is sealed by the validator's key and appended durably, in one LMDB
 *     transaction (`ShardState.assemble`); on a commit failure the taken transactions go back;
 *  4. settle: the applied ones are final, the others rejected with their ApplyStatus name.
 */
import type { MetricFamily } from "../../api/interface.js";
import { check } from "../../errors.js";
import { BlockKind, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, blockHash, encodeBlock, makeBlockHeader, sealOptimistic } from "../../ledger/block.js";
import { SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { KeyPair } from "../../ledger/keys.js";
import { ApplyStatus, applyStatusName } from "../../ledger/utxo-table.js";
import type { Clock, TimerHandle } from "../../runtime/interface.js";
import type { MempoolEntry } from "../mempool.js";
import type { Pipeline } from "../pipeline.js";
import type { BlockSlot, BuiltBlock, ShardState } from "../shard-state.js";
import type { BlockEvent, ShardDriver, SubmitResult, TxStatus } from "./interface.js";

/** Solo block interval by default: short blocks keep client latency low. */
export const DEFAULT_BLOCK_INTERVAL_MS = 200;
/** Transactions per solo block by default, and the queue length that triggers a block before the interval. */
export const DEFAULT_SOLO_BLOCK_TXS = 4096;
/** Largest block body the producer fills: the block limit minus header and producer seal. */
const MAX_BODY_BYTES = MAX_BLOCK_BYTES - HEADER_BYTES - SIGNATURE_BYTES;

export type SoloDriverErrorCode = "SOLO_OPTIONS";

export interface SoloDriverOptions {
  readonly state: ShardState;
  readonly pipeline: Pipeline;
  /** Seals the blocks (the validator's key). */
  readonly key: KeyPair;
  /** Header epoch. */
  readonly epoch: number;
  readonly clock: Clock;
  readonly blockIntervalMs?: number;
  readonly maxBlockTxs?: number;
  /** Called with a commit failure; the driver stops after one. */
  readonly onError?: (error: unknown) => void;
}

export class SoloDriver implements ShardDriver {
  readonly mode = "solo";
  readonly #state: ShardState;
  readonly #pipeline: Pipeline;
  readonly #key: KeyPair;
  readonly #epoch: number;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #maxBlockTxs: number;
  readonly #onError: (error: unknown) => void;
  #interval: TimerHandle | undefined;
  #immediate: TimerHandle | undefined;
  #unsubscribe: (() => void) | undefined;
  #running = false;
  #stopping: Promise<void> | undefined;

  constructor(options: SoloDriverOptions) {
    this.#state = options.state;
    this.#pipeline = options.pipeline;
    this.#key = options.key;
    this.#epoch = options.epoch;
    this.#clock = options.clock;
    this.#intervalMs = options.blockIntervalMs ?? DEFAULT_BLOCK_INTERVAL_MS;
    check<SoloDriverErrorCode>(Number.isSafeInteger(this.#intervalMs) && this.#intervalMs >= 1, "SOLO_OPTIONS", `blockIntervalMs must be a positive integer, got ${this.#intervalMs}`);
    this.#maxBlockTxs = options.maxBlockTxs ?? DEFAULT_SOLO_BLOCK_TXS;
    check<SoloDriverErrorCode>(Number.isSafeInteger(this.#maxBlockTxs) && this.#maxBlockTxs >= 1 && this.#maxBlockTxs <= MAX_BLOCK_TXS, "SOLO_OPTIONS",
      `maxBlockTxs must be an integer in 1..${MAX_BLOCK_TXS}, got ${this.#maxBlockTxs}`);
    this.#onError = options.onError ?? (() => undefined);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#pipeline.onAdmitted((waiting) => {
      if (waiting >= this.#maxBlockTxs) this.#immediate ??= this.#clock.setTimer(0, () => this.#tick());
    });
    this.#armInterval();
  }

  #armInterval(): void {
    this.#interval = this.#clock.setTimer(this.#intervalMs, () => {
      this.#tick();
      if (this.#running) this.#armInterval();
    });
  }

  #tick(): void {
    this.#immediate = undefined;
    if (!this.#running) return;
    try {
      this.commitNextBlock();
      // One block per turn of the event loop, so intake keeps flowing while a backlog drains.
      if (this.#pipeline.mempoolCount >= this.#maxBlockTxs) this.#immediate = this.#clock.setTimer(0, () => this.#tick());
    } catch (error) {
      this.#halt();
      this.#onError(error);
    }
  }

  /**
   * Phases 2–4 for the next block, synchronously (fsynced when it returns); undefined when nothing
   * waits. A commit failure is rethrown (the shard state is then failed, STATE_FAILED) and the
   * taken transactions go back to the front of the queue: accepted transactions are never dropped.
   */
  commitNextBlock(): BlockEvent | undefined {
    const entries = this.#pipeline.take(this.#maxBlockTxs, MAX_BODY_BYTES);
    if (entries.length === 0) return undefined;
    const records = new Uint8Array(entries.reduce((sum, entry) => sum + entry.record.length, 0));
    let at = 0;
    for (const { record } of entries) {
      records.set(record, at);
      at += record.length;
    }
    let statuses: Uint8Array;
    let committed;
    const rejected: { txid: Uint8Array; code: string }[] = [];
    try {
      const assembly = this.#state.assemble();
      statuses = assembly.apply(records, entries.length);
      entries.forEach((entry, k) => {
        if (statuses[k] !== ApplyStatus.Ok) rejected.push({ txid: entry.txid, code: applyStatusName(statuses[k]!) });
      });
      committed = assembly.commit((slot) => ({ ...this.#buildBlock(slot, entries, statuses), rejections: rejected }));
    } catch (error) {
      this.#pipeline.restore(entries);
      throw error;
    }
    const final = new Uint8Array(committed.applied * TXID_BYTES);
    let position = 0;
    entries.forEach((entry, k) => {
      if (statuses[k] === ApplyStatus.Ok) final.set(entry.txid, position++ * TXID_BYTES);
    });
    return this.#pipeline.settle({ height: committed.height, hash: committed.hash, final, rejected });
  }

  #buildBlock(slot: BlockSlot, entries: readonly MempoolEntry[], statuses: Uint8Array): BuiltBlock {
    const transactions: Uint8Array[] = [];
    const txids = new Uint8Array(slot.applied * TXID_BYTES);
    entries.forEach((entry, k) => {
      if (statuses[k] !== ApplyStatus.Ok) return;
      txids.set(entry.txid, transactions.length * TXID_BYTES);
      transactions.push(entry.tx);
    });
    const fields = { kind: BlockKind.Optimistic, shard: this.#state.shard, epoch: this.#epoch, height: slot.height, prevHash: slot.prevHash, timestamp: Math.max(this.#clock.wallNow(), this.#state.tipTimestamp), producer: this.#key.publicKey };
    const header = makeBlockHeader(fields, transactions, txids);
    const bytes = encodeBlock(header, sealOptimistic(header, this.#key), transactions);
    return { bytes, hash: blockHash(header), txids };
  }

  #halt(): void {
    this.#running = false;
    this.#unsubscribe?.();
    if (this.#interval !== undefined) this.#clock.cancelTimer(this.#interval);
    if (this.#immediate !== undefined) this.#clock.cancelTimer(this.#immediate);
    this.#interval = undefined;
    this.#immediate = undefined;
  }

  /** Stops ticking, lets the pipeline's in-flight batches land, and commits everything it accepted. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#halt();
      await this.#pipeline.close();
      while (this.commitNextBlock() !== undefined);
    })();
    return this.#stopping;
  }

  submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    return this.#pipeline.submit(transactions);
  }

  status(txid: Uint8Array): TxStatus {
    return this.#pipeline.status(txid);
  }

  onConfirmations(listener: (event: BlockEvent) => void): () => void {
    return this.#pipeline.onSettled(listener);
  }


  describe(): Record<string, unknown> {
    return { mode: "solo" };
  }

  metrics(): MetricFamily[] {
    return [];
  }
}
