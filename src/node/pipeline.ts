/**
 * The validation pipeline of one validator (issue 4; DESIGN.md §1: the main thread orchestrates and
 * owns state and LMDB, the worker pool runs batched hot paths; §3: stateless validation in the
 * pool, stateful apply per block on the shard's state machine). Solo mode stands in for the white
 * paper's §7.2 believable-first processing by a single validator until consensus drives blocks.
 *
 * Phases of a transaction:
 *  1. intake: `submit` / `submitFramed` reserve room in the bounded mempool (refused with
 *     MEMPOOL_FULL when full) and append the bytes to the current batch;
 *  2. stateless: a batch of BATCH_TXS transactions (or one BATCH_AGE_MS old) is framed into one
 *     buffer and moved to a pool worker, which decodes, hashes, checks the shard and batch-verifies
 *     every signature (src/node/pool/worker.ts `validateTransactions`); at most TASKS_PER_WORKER
 *     batches per worker + 1 are in flight, the rest wait in order. The main thread never decodes a transaction;
 *  3. admission: valid transactions whose txid is already pending or final are duplicates (their
 *     current status is returned, not an error); the others enter the mempool with their records;
 *  4. apply: a block driver (SoloBlockProducer until consensus drives blocks) calls
 *     `commitNextBlock`, which takes mempool entries in order, applies their records to the UTXO
 *     table, builds and seals the block of the applied ones and appends it durably in one LMDB
 *     transaction (ShardState.commitProduced);
 *  5. final: only after that append are the block's transactions final; the others are rejected
 *     with their ApplyStatus name. Listeners get one BlockEvent per block.
 * Under consensus, a leader proposes `candidates(...)` (left in the mempool) and the block the shard
 * finalizes is committed elsewhere; `settled(block)` then plays phase 5 for it.
 */
import { IosError } from "../errors.js";
import { BlockKind, HEADER_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, blockHash, encodeBlock, makeBlockHeader, sealOptimistic } from "../ledger/block.js";
import { SIGNATURE_BYTES, type KeyPair } from "../ledger/keys.js";
import { packTransactions, unpackTransactions } from "../ledger/stateless.js";
import { MAX_TX_BYTES, TXID_BYTES } from "../ledger/transaction.js";
import { APPLY_STATUS_NAMES, ApplyStatus } from "../ledger/utxo-table.js";
import type { Candidates } from "./consensus/interface.js";
import { Mempool, type MempoolEntry } from "./mempool.js";
import { recordLength, type ValidatedBatch } from "./pipeline/validated-batch.js";
import { TASKS_PER_WORKER, type VerifierPool } from "./pool/verify-pool.js";
import type { BuiltBlock, BlockSlot, ShardState } from "./shard-state.js";
import { toHex } from "../hex.js";

/**
 * Transactions per worker batch: 512, the Ed25519 verifier's multi-scalar chunk (BATCH_CHUNK in
 * src/crypto/ed25519.ts), so a batch of one-input transfers is one full MSM; smaller batches pay
 * more per signature (bench/results/ed25519-rates.json: batch 256 ≈ 1.6× batch 64).
 */
export const BATCH_TXS = 512;
/** A partial batch leaves after 5 ms: bounds the latency a lone transaction adds waiting for company. */
export const BATCH_AGE_MS = 5;
/**
 * Admitted and unsettled transactions: 200,000, about 20 s of the devnet target rate (10k tx/s, DESIGN.md §10,
 * issue 7) — enough to ride out a slow block, small enough to refuse early under overload.
 */
export const MAX_PENDING_TXS = 200_000;
/** Admitted bytes: 64 MiB, 200,000 one-input two-output transfers (218 B) with headroom. */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Recent rejections remembered for `status`: older ones answer "unknown". */
export const RECENT_REJECTIONS = 65_536;
/** Largest block body the producer fills: the block limit minus header and producer seal. */
const MAX_BODY_BYTES = MAX_BLOCK_BYTES - HEADER_BYTES - SIGNATURE_BYTES;

export type PipelineErrorCode =
  | "MEMPOOL_FULL"
  | "PIPELINE_CLOSED"
  | "PIPELINE_OPTIONS"
  | "PIPELINE_BAD_TXID"
  | "PIPELINE_BAD_INPUT"
  /** A worker answer that does not match its batch (a bug, never bad input). */
  | "PIPELINE_BAD_TASK"
  /** Set by the worker task when an input's signature fails batch verification. */
  | "TX_BAD_SIGNATURE";

export class PipelineError extends IosError<PipelineErrorCode> {
  constructor(code: PipelineErrorCode, message: string) {
    super(code, message);
    this.name = "PipelineError";
  }
}

export type TxStatus =
  | { readonly state: "pending" }
  | { readonly state: "final"; readonly height: number; readonly index: number }
  | { readonly state: "rejected"; readonly code: string }
  | { readonly state: "unknown" };

export type SubmitOutcome = "accepted" | "duplicate" | "rejected";

export interface SubmitResult {
  readonly outcome: SubmitOutcome;
  /** Undefined when the transaction could not be decoded (or was refused before validation). */
  readonly txid?: Uint8Array;
  /** Why it was rejected: MEMPOOL_FULL, TX_BAD_SIGNATURE, a TX_* ledger code, ... */
  readonly code?: string;
  readonly message?: string;
  /** For duplicates: the status of the transaction already known. */
  readonly status?: TxStatus;
}

export interface BlockEvent {
  readonly height: number;
  readonly hash: Uint8Array;
  /** Packed txids (n × 32) of the transactions the block made final, in block order. */
  readonly final: Uint8Array;
  /** Transactions taken for the block that failed the apply, with their ApplyStatus name. */
  readonly rejected: readonly { readonly txid: Uint8Array; readonly code: string }[];
}

export interface PipelineOptions {
  /** The shard state blocks are applied to; opened and closed by the caller. */
  readonly state: ShardState;
  /** Worker pool running the `validateTransactions` task; owned by the caller. */
  readonly pool: VerifierPool;
  /** Key that seals solo (optimistic) blocks. */
  readonly producer: KeyPair;
  /** Header epoch; default `state.epoch`. */
  readonly epoch?: number;
  readonly maxPendingTxs?: number;
  readonly maxPendingBytes?: number;
  readonly batchTxs?: number;
  readonly batchAgeMs?: number;
  /** Block timestamps in ms since the Unix epoch; default Date.now. */
  readonly clock?: () => number;
}

export interface PipelineMetrics {
  readonly submitted: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly refusedFull: number;
  /** Rejections by code, at validation and at apply. */
  readonly rejected: Readonly<Record<string, number>>;
  readonly finalized: number;
  readonly blocks: number;
  readonly batchesInFlight: number;
  readonly mempoolTxs: number;
  readonly reservedTxs: number;
  readonly reservedBytes: number;
}

/** One submission call: its results fill in as its batches come back. */
class Submission {
  readonly results: SubmitResult[];
  #outstanding: number;
  readonly done: Promise<SubmitResult[]>;
  #resolve!: (results: SubmitResult[]) => void;

  constructor(count: number) {
    this.results = new Array<SubmitResult>(count);
    this.#outstanding = count;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    if (count === 0) this.#resolve(this.results);
  }

  settle(slot: number, result: SubmitResult): void {
    this.results[slot] = result;
    if (--this.#outstanding === 0) this.#resolve(this.results);
  }
}

interface BatchItem {
  readonly tx: Uint8Array;
  readonly submission: Submission;
  readonly slot: number;
}

function pipelineCheck(condition: unknown, code: PipelineErrorCode, message: string): asserts condition {
  if (!condition) throw new PipelineError(code, message);
}

function positiveInteger(value: number, name: string): number {
  pipelineCheck(Number.isSafeInteger(value) && value >= 1, "PIPELINE_OPTIONS", `${name} must be a positive integer, got ${value}`);
  return value;
}

export class Pipeline {
  readonly shard: number;
  readonly shardCount: number;
  readonly #state: ShardState;
  readonly #pool: VerifierPool;
  readonly #producer: KeyPair;
  readonly #epoch: number;
  readonly #clock: () => number;
  readonly #batchTxs: number;
  readonly #batchAgeMs: number;
  readonly #maxInFlight: number;
  readonly #mempool: Mempool;
  readonly #recentRejections = new Map<string, string>();
  /** Entries a producer took with `takeVerified`, until settled or rejected. */
  readonly #taken = new Map<string, MempoolEntry>();
  #intake: BatchItem[] = [];
  #intakeTimer: NodeJS.Timeout | undefined;
  readonly #ready: BatchItem[][] = [];
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  readonly #blockListeners = new Set<(event: BlockEvent) => void>();
  readonly #admitListeners = new Set<(mempoolTxs: number) => void>();
  readonly #counters = { submitted: 0, accepted: 0, duplicates: 0, refusedFull: 0, finalized: 0, blocks: 0 };
  readonly #rejectedByCode = new Map<string, number>();

  constructor(options: PipelineOptions) {
    this.#state = options.state;
    this.#pool = options.pool;
    this.#producer = options.producer;
    this.shard = options.state.shard;
    this.shardCount = options.state.shardCount;
    this.#epoch = options.epoch ?? options.state.epoch;
    this.#clock = options.clock ?? Date.now;
    this.#batchTxs = positiveInteger(options.batchTxs ?? BATCH_TXS, "batchTxs");
    pipelineCheck(this.#batchTxs <= MAX_BLOCK_TXS, "PIPELINE_OPTIONS", `batchTxs must be at most ${MAX_BLOCK_TXS}, got ${this.#batchTxs}`);
    this.#batchAgeMs = options.batchAgeMs ?? BATCH_AGE_MS;
    pipelineCheck(Number.isFinite(this.#batchAgeMs) && this.#batchAgeMs >= 0, "PIPELINE_OPTIONS", `batchAgeMs must be ≥ 0, got ${this.#batchAgeMs}`);
    this.#maxInFlight = options.pool.threads * TASKS_PER_WORKER + 1;
    this.#mempool = new Mempool({
      maxTxs: positiveInteger(options.maxPendingTxs ?? MAX_PENDING_TXS, "maxPendingTxs"),
      maxBytes: positiveInteger(options.maxPendingBytes ?? MAX_PENDING_BYTES, "maxPendingBytes"),
    });
  }

  /**
   * Submits encoded transactions (copied: the caller may reuse its buffers). Resolves with one
   * result per transaction, in order, once each is validated or refused; never rejects. Anything
   * but an array of Uint8Array throws PIPELINE_BAD_INPUT.
   */
  submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    pipelineCheck(Array.isArray(transactions) && transactions.every((tx) => tx instanceof Uint8Array), "PIPELINE_BAD_INPUT", "submit takes an array of Uint8Array encoded transactions");
    const submission = new Submission(transactions.length);
    transactions.forEach((tx, slot) => this.#admit(tx.slice(), submission, slot));
    return submission.done;
  }

  /**
   * Submits a block-body framed buffer (u32le length ‖ encoding, repeated), copied once. Broken
   * framing throws BATCH_TRUNCATED before anything is admitted.
   */
  submitFramed(packed: Uint8Array): Promise<SubmitResult[]> {
    pipelineCheck(packed instanceof Uint8Array, "PIPELINE_BAD_INPUT", "submitFramed takes a Uint8Array of framed transactions");
    const transactions = unpackTransactions(packed.slice());
    const submission = new Submission(transactions.length);
    transactions.forEach((tx, slot) => this.#admit(tx, submission, slot));
    return submission.done;
  }

  #admit(tx: Uint8Array, submission: Submission, slot: number): void {
    this.#counters.submitted++;
    if (this.#closed) {
      submission.settle(slot, { outcome: "rejected", code: "PIPELINE_CLOSED", message: "the pipeline is closed" });
      return;
    }
    if (tx.length > MAX_TX_BYTES) {
      this.#countRejection("TX_TOO_LARGE");
      submission.settle(slot, { outcome: "rejected", code: "TX_TOO_LARGE", message: `${tx.length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}` });
      return;
    }
    if (!this.#mempool.tryReserve(tx.length)) {
      this.#counters.refusedFull++;
      submission.settle(slot, {
        outcome: "rejected",
        code: "MEMPOOL_FULL",
        message: `the mempool holds ${this.#mempool.reservedTxs} transactions / ${this.#mempool.reservedBytes} bytes (limits ${this.#mempool.limits.maxTxs} / ${this.#mempool.limits.maxBytes}); retry later`,
      });
      return;
    }
    this.#intake.push({ tx, submission, slot });
    if (this.#intake.length >= this.#batchTxs) this.#flushIntake();
    else this.#intakeTimer ??= setTimeout(() => this.#flushIntake(), this.#batchAgeMs);
  }

  #flushIntake(): void {
    if (this.#intakeTimer !== undefined) clearTimeout(this.#intakeTimer);
    this.#intakeTimer = undefined;
    if (this.#intake.length === 0) return;
    this.#ready.push(this.#intake);
    this.#intake = [];
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#inFlight < this.#maxInFlight && this.#ready.length > 0) {
      const batch = this.#ready.shift()!;
      this.#inFlight++;
      const framed = packTransactions(batch.map((item) => item.tx));
      this.#pool.validateTransactions(framed, this.shard, this.shardCount).then(
        (validated) => this.#landBatch(batch, validated),
        (error: unknown) => this.#failBatch(batch, error),
      ).finally(() => {
        this.#inFlight--;
        this.#dispatch();
        this.#notifyIdle();
      });
    }
  }

  #landBatch(batch: readonly BatchItem[], validated: ValidatedBatch): void {
    let records: Uint8Array[];
    try {
      records = this.#splitRecords(batch, validated);
    } catch (error) {
      this.#failBatch(batch, error);
      return;
    }
    const rejections = new Map(validated.rejections.map((rejection) => [rejection.index, rejection]));
    let admitted = 0;
    for (let index = 0, valid = 0; index < batch.length; index++) {
      const { tx, submission, slot } = batch[index]!;
      // A view of the worker's answer, a fresh buffer this batch owns (the records share it too).
      const txid = validated.txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES);
      if (validated.verdicts[index] !== 1) {
        const rejection = rejections.get(index);
        const code = rejection?.code ?? "PIPELINE_BAD_TASK";
        this.#mempool.release(tx.length);
        this.#countRejection(code);
        const decoded = txid.some((byte) => byte !== 0);
        if (decoded) this.#rememberRejection(toHex(txid), code);
        submission.settle(slot, { outcome: "rejected", txid: decoded ? txid : undefined, code, message: rejection?.message ?? "no verdict" });
        continue;
      }
      const record = records[valid++]!;
      const key = toHex(txid);
      const known = this.#knownStatus(key, txid);
      if (known !== undefined) {
        this.#mempool.release(tx.length);
        this.#counters.duplicates++;
        submission.settle(slot, { outcome: "duplicate", txid, status: known });
        continue;
      }
      this.#recentRejections.delete(key);
      this.#mempool.add({ key, txid, tx, record });
      this.#counters.accepted++;
      admitted++;
      submission.settle(slot, { outcome: "accepted", txid });
    }
    if (admitted > 0) for (const listener of this.#admitListeners) listener(this.#mempool.size);
  }

  /** The apply record of each valid transaction; checks the worker's answer matches the batch before anything settles. */
  #splitRecords(batch: readonly BatchItem[], validated: ValidatedBatch): Uint8Array[] {
    pipelineCheck(validated.count === batch.length, "PIPELINE_BAD_TASK", `worker answered ${validated.count} verdicts for ${batch.length} transactions`);
    const records: Uint8Array[] = [];
    let at = 0;
    for (let index = 0; index < batch.length; index++) {
      if (validated.verdicts[index] !== 1) continue;
      const length = recordLength(validated.records, at);
      records.push(validated.records.subarray(at, at + length));
      at += length;
    }
    pipelineCheck(at === validated.records.length, "PIPELINE_BAD_TASK", `worker returned ${validated.records.length} record bytes, the verdicts account for ${at}`);
    return records;
  }

  /** A task that failed as a whole (closed pool, dead worker): every transaction in it is refused with the code. */
  #failBatch(batch: readonly BatchItem[], error: unknown): void {
    const code = error instanceof IosError ? error.code : "PIPELINE_BAD_TASK";
    const message = error instanceof Error ? error.message : String(error);
    for (const { tx, submission, slot } of batch) {
      this.#mempool.release(tx.length);
      this.#countRejection(code);
      submission.settle(slot, { outcome: "rejected", code, message });
    }
  }

  #knownStatus(key: string, txid: Uint8Array): TxStatus | undefined {
    if (this.#mempool.has(key) || this.#taken.has(key)) return { state: "pending" };
    const location = this.#state.getTransactionLocation(txid);
    if (location !== undefined) return { state: "final", height: location.height, index: location.position };
    return undefined;
  }

  #countRejection(code: string): void {
    this.#rejectedByCode.set(code, (this.#rejectedByCode.get(code) ?? 0) + 1);
  }

  #rememberRejection(key: string, code: string): void {
    this.#recentRejections.delete(key);
    this.#recentRejections.set(key, code);
    if (this.#recentRejections.size > RECENT_REJECTIONS) this.#recentRejections.delete(this.#recentRejections.keys().next().value!);
  }

  /** pending (validated, waiting for a block) / final (from the store) / rejected (recently) / unknown. */
  status(txid: Uint8Array): TxStatus {
    pipelineCheck(txid instanceof Uint8Array && txid.length === TXID_BYTES, "PIPELINE_BAD_TXID", `a txid is ${TXID_BYTES} bytes`);
    const key = toHex(txid);
    const known = this.#knownStatus(key, txid);
    if (known !== undefined) return known;
    const code = this.#recentRejections.get(key);
    return code === undefined ? { state: "unknown" } : { state: "rejected", code };
  }

  /**
   * Takes up to `maxTxs` mempool transactions in order, applies them, and persists the block of
   * the applied ones (synchronous; fsynced when it returns). Undefined when the mempool is empty.
   * A commit failure is rethrown (after the apply it leaves the shard state failed, STATE_FAILED)
   * and the taken transactions go back to the front of the mempool.
   */
  commitNextBlock(maxTxs: number = MAX_BLOCK_TXS): BlockEvent | undefined {
    pipelineCheck(Number.isSafeInteger(maxTxs) && maxTxs >= 1 && maxTxs <= MAX_BLOCK_TXS, "PIPELINE_OPTIONS", `maxTxs must be in 1..${MAX_BLOCK_TXS}, got ${maxTxs}`);
    const entries = this.#mempool.take(maxTxs, MAX_BODY_BYTES);
    if (entries.length === 0) return undefined;
    const records = new Uint8Array(entries.reduce((sum, entry) => sum + entry.record.length, 0));
    let at = 0;
    for (const { record } of entries) {
      records.set(record, at);
      at += record.length;
    }
    let commit;
    try {
      commit = this.#state.commitProduced(records, entries.length, (slot) => this.#buildBlock(slot, entries));
    } catch (error) {
      // Accepted transactions are never dropped: they wait for a state that can commit again.
      this.#mempool.restore(entries);
      throw error;
    }
    for (const entry of entries) this.#mempool.release(entry.tx.length);
    const final = new Uint8Array(commit.applied * TXID_BYTES);
    const rejected: { txid: Uint8Array; code: string }[] = [];
    let position = 0;
    entries.forEach((entry, k) => {
      const status = commit.statuses[k]!;
      if (status === ApplyStatus.Ok) {
        final.set(entry.txid, position++ * TXID_BYTES);
        return;
      }
      const code = APPLY_STATUS_NAMES[status] ?? `APPLY_STATUS_${status}`;
      this.#countRejection(code);
      this.#rememberRejection(entry.key, code);
      rejected.push({ txid: entry.txid, code });
    });
    this.#counters.finalized += commit.applied;
    this.#counters.blocks++;
    return this.#publish({ height: commit.height, hash: commit.hash, final, rejected });
  }

  #buildBlock(slot: BlockSlot, entries: readonly MempoolEntry[]): BuiltBlock {
    const transactions: Uint8Array[] = [];
    const txids = new Uint8Array(slot.applied.length * TXID_BYTES);
    slot.applied.forEach((k, i) => {
      const entry = entries[k]!;
      transactions.push(entry.tx);
      txids.set(entry.txid, i * TXID_BYTES);
    });
    const fields = { kind: BlockKind.Optimistic, shard: this.shard, epoch: this.#epoch, height: slot.height, prevHash: slot.prevHash, timestamp: Math.max(this.#clock(), this.#state.tipTimestamp), producer: this.#producer.publicKey };
    const header = makeBlockHeader(fields, transactions, txids);
    const bytes = encodeBlock(header, sealOptimistic(header, this.#producer), transactions);
    return { bytes, hash: blockHash(header), txids };
  }


  /**
   * Up to `maxTxs` waiting transactions (at most `maxBodyBytes` framed), oldest first, left in the
   * mempool: what a consensus leader proposes instead of `commitNextBlock`.
   */
  candidates(maxTxs: number, maxBodyBytes: number): Candidates {
    const entries = this.#mempool.peek(maxTxs, maxBodyBytes);
    const txids = new Uint8Array(entries.length * TXID_BYTES);
    entries.forEach((entry, i) => txids.set(entry.txid, i * TXID_BYTES));
    return { transactions: entries.map((entry) => entry.tx), txids };
  }

  /**
   * Whether this exact transaction (same bytes under `txid`) was validated here and waits in the
   * mempool: a consensus proposal's copy need not be verified again.
   */
  holds(txid: Uint8Array, tx: Uint8Array): boolean {
    const entry = this.#mempool.get(toHex(txid));
    return entry !== undefined && Buffer.compare(entry.tx, tx) === 0;
  }

  /**
   * A block committed to the shard state by someone else (consensus) settled these transactions:
   * `txids` packed in body order, `statuses` one ApplyStatus each. Those held here leave the
   * mempool; listeners get the block's event as for `commitNextBlock`.
   */
  settled(block: { readonly height: number; readonly hash: Uint8Array; readonly txids: Uint8Array; readonly statuses: Uint8Array }): BlockEvent {
    const count = block.statuses.length;
    pipelineCheck(block.txids.length === count * TXID_BYTES, "PIPELINE_BAD_INPUT", `${block.txids.length / TXID_BYTES} txids for ${count} statuses`);
    const final = new Uint8Array(block.txids.length);
    let finalCount = 0;
    const rejected: { txid: Uint8Array; code: string }[] = [];
    for (let i = 0; i < count; i++) {
      const txid = block.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES);
      const status = block.statuses[i]!;
      if (status === ApplyStatus.Ok) final.set(txid, finalCount++ * TXID_BYTES);
      else rejected.push({ txid: txid.slice(), code: APPLY_STATUS_NAMES[status] ?? `APPLY_STATUS_${status}` });
    }
    return this.settledEvent({ height: block.height, hash: block.hash, final: final.subarray(0, finalCount * TXID_BYTES), rejected });
  }

  /**
   * A final block settled `event.final` (packed txids) and rejected `event.rejected` (each with its
   * code): whatever of them this pipeline holds — in the mempool or taken by `takeVerified` — is
   * released; listeners get the event.
   */
  settledEvent(event: BlockEvent): BlockEvent {
    pipelineCheck(event.final.length % TXID_BYTES === 0, "PIPELINE_BAD_INPUT", "final txids must be packed 32 bytes each");
    for (let at = 0; at < event.final.length; at += TXID_BYTES) this.#forget(toHex(event.final.subarray(at, at + TXID_BYTES)));
    for (const { txid, code } of event.rejected) {
      const key = toHex(txid);
      this.#forget(key);
      this.#countRejection(code);
      this.#rememberRejection(key, code);
    }
    this.#counters.finalized += event.final.length / TXID_BYTES;
    this.#counters.blocks++;
    return this.#publish(event);
  }

  /** Releases the reservation of a settled transaction held in the mempool or taken. */
  #forget(key: string): void {
    const held = this.#mempool.remove(key) ?? this.#taken.get(key);
    if (held === undefined) return;
    this.#taken.delete(key);
    this.#mempool.release(held.tx.length);
  }

  /**
   * Removes every validated transaction from the mempool, oldest first, for a producer that keeps
   * them until a final block settles them (PoB's optimistic producer; its own block size bounds
   * what it seals at a time): they keep their reservation and answer "pending" until
   * `settledEvent` or `rejectTaken`.
   */
  takeVerified(): readonly MempoolEntry[] {
    const entries = this.#mempool.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    for (const entry of entries) this.#taken.set(entry.key, entry);
    return entries;
  }

  /** A taken transaction the producer refused (e.g. a pending double spend): rejected with `code`, its room released. */
  rejectTaken(entries: readonly { readonly entry: MempoolEntry; readonly code: string }[]): void {
    if (entries.length === 0) return;
    for (const { entry, code } of entries) {
      if (!this.#taken.delete(entry.key)) continue;
      this.#mempool.release(entry.tx.length);
      this.#countRejection(code);
      this.#rememberRejection(entry.key, code);
    }
    this.#publish({ height: this.#state.tip.height, hash: this.#state.tip.hash, final: new Uint8Array(0), rejected: entries.map(({ entry, code }) => ({ txid: entry.txid, code })) });
  }

  #publish(event: BlockEvent): BlockEvent {
    for (const listener of this.#blockListeners) listener(event);
    return event;
  }

  /** The shard state this pipeline admits against and commits to. */
  get state(): ShardState {
    return this.#state;
  }

  /** The worker pool that validates its batches. */
  get pool(): VerifierPool {
    return this.#pool;
  }

  /** One event per committed block; returns the unsubscribe function. */
  onBlock(listener: (event: BlockEvent) => void): () => void {
    this.#blockListeners.add(listener);
    return () => this.#blockListeners.delete(listener);
  }

  /** Each transaction a block made final, with its height and position in the block. */
  onFinal(listener: (txid: Uint8Array, height: number, index: number) => void): () => void {
    return this.onBlock((event) => {
      for (let i = 0; i * TXID_BYTES < event.final.length; i++) listener(event.final.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES), event.height, i);
    });
  }

  /** Each transaction a block's apply rejected (e.g. MISSING_INPUT for a double spend's loser). */
  onRejected(listener: (txid: Uint8Array, code: string) => void): () => void {
    return this.onBlock((event) => {
      for (const { txid, code } of event.rejected) listener(txid, code);
    });
  }

  /** Called with the mempool size whenever validated transactions were added (block drivers use it). */
  onAdmitted(listener: (mempoolTxs: number) => void): () => void {
    this.#admitListeners.add(listener);
    return () => this.#admitListeners.delete(listener);
  }

  /** Sends the partial intake batch now and resolves when no batch is waiting or in a worker. */
  async drain(): Promise<void> {
    this.#flushIntake();
    while (this.#inFlight > 0 || this.#ready.length > 0 || this.#intake.length > 0) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      this.#flushIntake();
    }
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Validated transactions waiting for a block. */
  get mempoolCount(): number {
    return this.#mempool.size;
  }

  /** Admitted, not yet settled (intake, workers, mempool). */
  get pendingCount(): number {
    return this.#mempool.reservedTxs;
  }

  get pendingBytes(): number {
    return this.#mempool.reservedBytes;
  }

  metrics(): PipelineMetrics {
    return {
      ...this.#counters,
      rejected: Object.fromEntries(this.#rejectedByCode),
      batchesInFlight: this.#inFlight,
      mempoolTxs: this.#mempool.size,
      reservedTxs: this.#mempool.reservedTxs,
      reservedBytes: this.#mempool.reservedBytes,
    };
  }

  /**
   * Refuses further submissions (PIPELINE_CLOSED) and waits for the batches already admitted to
   * land in the mempool. Mempool transactions not yet in a block stay unfinal; the state and the
   * pool are the caller's to close.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }
}

/** What drives block production; issue 6's proof-of-belief consensus replaces the solo producer. */
export interface BlockDriver {
  start(): void;
  stop(): Promise<void>;
}

export interface SoloProducerOptions {
  /** Commit a block this often (ms); default 200 (src/node/config.ts's default interval). */
  readonly blockIntervalMs?: number;
  /** Transactions per block, and the mempool size that triggers a block before the interval; default 4,096. */
  readonly maxBlockTxs?: number;
  /** Called with a commit failure; the producer stops after one. */
  readonly onError?: (error: unknown) => void;
}

/** Solo block production: one validator orders and commits its shard's blocks (until consensus lands). */
export class SoloBlockProducer implements BlockDriver {
  readonly #pipeline: Pipeline;
  readonly #intervalMs: number;
  readonly #maxBlockTxs: number;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #unsubscribe: (() => void) | undefined;
  #running = false;

  constructor(pipeline: Pipeline, options: SoloProducerOptions = {}) {
    this.#pipeline = pipeline;
    this.#intervalMs = positiveInteger(options.blockIntervalMs ?? 200, "blockIntervalMs");
    this.#maxBlockTxs = positiveInteger(options.maxBlockTxs ?? 4096, "maxBlockTxs");
    pipelineCheck(this.#maxBlockTxs <= MAX_BLOCK_TXS, "PIPELINE_OPTIONS", `maxBlockTxs must be at most ${MAX_BLOCK_TXS}, got ${this.#maxBlockTxs}`);
    this.#onError = options.onError ?? (() => undefined);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#pipeline.onAdmitted((waiting) => {
      if (waiting >= this.#maxBlockTxs) this.#immediate ??= setImmediate(() => this.#tick());
    });
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
  }

  #tick(): void {
    this.#immediate = undefined;
    if (!this.#running) return;
    try {
      this.#pipeline.commitNextBlock(this.#maxBlockTxs);
      // One block per turn of the event loop, so intake keeps flowing while a backlog drains.
      if (this.#pipeline.mempoolCount >= this.#maxBlockTxs) this.#immediate = setImmediate(() => this.#tick());
    } catch (error) {
      void this.stop();
      this.#onError(error);
    }
  }

  /** Stops producing; blocks already committed stay, waiting transactions stay in the mempool. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }
}
