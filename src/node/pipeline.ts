/**
 * The validation pipeline of one validator (DESIGN.md §1: the main thread orchestrates and owns
 * state and LMDB, the worker pool runs batched hot paths; §3: stateless validation in the pool):
 * intake → worker pool → verified queue. What happens to verified transactions next — a solo
 * block, a BFT proposal, a PoB optimistic block — is the shard driver's (consensus/interface.ts).
 *
 * Phases of a transaction:
 *  1. intake: `submit` / `submitFramed` reserve room in the bounded mempool (refused with
 *     MEMPOOL_FULL when full) and append the bytes to the current batch;
 *  2. stateless: a batch of BATCH_TXS transactions (or one BATCH_AGE_MS old) is framed into one
 *     buffer and moved to a pool worker, which decodes, hashes, checks the shard and batch-verifies
 *     every signature (src/node/pool/worker.ts `validateTransactions`); at most TASKS_PER_WORKER
 *     batches per worker + 1 are in flight, the rest wait in order. The main thread never decodes a transaction;
 *  3. admission: valid transactions whose txid is already pending or final are duplicates (their
 *     current status is returned, not an error); the others enter the verified queue with their
 *     apply records;
 *  4. driven: the driver `peek`s (proposes without removing) or `take`s (moves out, still
 *     reserved and "pending") verified transactions, and `restore`s taken ones it could not use;
 *  5. settled: the driver reports each block or refusal with `settle`; the transactions leave
 *     for good (reservations released, rejections remembered for `status`) and listeners get the
 *     event.
 */
import { sameBytes } from "../bytes.js";
import { IosError, check } from "../errors.js";
import { toHex } from "../hex.js";
import { MAX_BLOCK_TXS } from "../ledger/block.js";
import { packTransactions, unpackTransactions } from "../ledger/stateless.js";
import { TXID_BYTES } from "../codec/sizes.js";
import { MAX_TX_BYTES } from "../ledger/transaction.js";
import type { Clock, TimerHandle } from "../runtime/interface.js";
import type { BlockEvent, SubmitResult, TxStatus } from "./consensus/interface.js";
import { Mempool, type MempoolEntry } from "./mempool.js";
import type { ValidatedBatch } from "./pipeline/validated-batch.js";
import { RecordCursor } from "../ledger/records.js";
import { TxKind } from "../ledger/kinds/interface.js";
import { TASKS_PER_WORKER, type VerifierPool } from "./pool/interface.js";
import type { ShardState } from "./shard-state.js";

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

export type PipelineErrorCode =
  | "MEMPOOL_FULL"
  | "PIPELINE_CLOSED"
  | "PIPELINE_OPTIONS"
  | "PIPELINE_BAD_TXID"
  | "PIPELINE_BAD_INPUT"
  /** The store could not keep an admitted transaction durably (its error's code when it has one). */
  | "PIPELINE_NOT_KEPT"
  /** A worker answer that does not match its batch (a bug, never bad input). */
  | "PIPELINE_BAD_TASK"
  /** Set by the worker task when an input's signature fails batch verification. */
  | "TX_BAD_SIGNATURE";

export interface PipelineOptions {
  /** The shard state blocks are applied to; opened and closed by the caller. */
  readonly state: ShardState;
  /** Worker pool running the `validateTransactions` task; owned by the caller. */
  readonly pool: VerifierPool;
  readonly maxPendingTxs?: number;
  readonly maxPendingBytes?: number;
  readonly batchTxs?: number;
  readonly batchAgeMs?: number;
  /** Times the partial intake batch. */
  readonly clock: Clock;
  /** The committees Atomix proofs may come from (src/atomix/proof.ts `encodeEpochCommittees`): Atomix transactions are admitted only with them. */
  readonly committees?: Uint8Array;
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

  /** `admit` false: checked only (`Pipeline.verify`), never queued here. */
  constructor(count: number, readonly admit = true) {
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

/** An admitted transaction waiting to be kept durably before its "accepted" answer. */
interface KeptItem {
  readonly key: string;
  readonly txid: Uint8Array;
  readonly tx: Uint8Array;
  readonly submission: Submission;
  readonly slot: number;
}

/** Codes that refuse a submission for the moment, not the transaction. */
const RETRYABLE = new Set(["MEMPOOL_FULL", "PIPELINE_CLOSED"]);

interface BatchItem {
  readonly tx: Uint8Array;
  readonly submission: Submission;
  readonly slot: number;
}

function positiveInteger(value: number, name: string): number {
  check<PipelineErrorCode>(Number.isSafeInteger(value) && value >= 1, "PIPELINE_OPTIONS", `${name} must be a positive integer, got ${value}`);
  return value;
}

export class Pipeline {
  readonly shard: number;
  readonly shardCount: number;
  readonly #state: ShardState;
  readonly #pool: VerifierPool;
  #committees: Uint8Array | undefined;
  readonly #clock: Clock;
  readonly #batchTxs: number;
  readonly #batchAgeMs: number;
  readonly #maxInFlight: number;
  readonly #mempool: Mempool;
  readonly #recentRejections = new Map<string, string>();
  /** Entries a driver took with `take`, until settled, refused or restored. */
  readonly #taken = new Map<string, MempoolEntry>();
  #intake: BatchItem[] = [];
  #intakeTimer: TimerHandle | undefined;
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
    this.#committees = options.committees;
    this.shard = options.state.shard;
    this.shardCount = options.state.shardCount;
    this.#clock = options.clock;
    this.#batchTxs = positiveInteger(options.batchTxs ?? BATCH_TXS, "batchTxs");
    check<PipelineErrorCode>(this.#batchTxs <= MAX_BLOCK_TXS, "PIPELINE_OPTIONS", `batchTxs must be at most ${MAX_BLOCK_TXS}, got ${this.#batchTxs}`);
    this.#batchAgeMs = options.batchAgeMs ?? BATCH_AGE_MS;
    check<PipelineErrorCode>(Number.isFinite(this.#batchAgeMs) && this.#batchAgeMs >= 0, "PIPELINE_OPTIONS", `batchAgeMs must be ≥ 0, got ${this.#batchAgeMs}`);
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
    check<PipelineErrorCode>(Array.isArray(transactions) && transactions.every((tx) => tx instanceof Uint8Array), "PIPELINE_BAD_INPUT", "submit takes an array of Uint8Array encoded transactions");
    const submission = new Submission(transactions.length);
    transactions.forEach((tx, slot) => this.#admit(tx.slice(), submission, slot));
    return submission.done;
  }

  /**
   * Runs the same checks as `submit` (stateless and every signature, in the pool) without
   * queueing anything here: a transaction this validator hands to another (a PoB relay to its
   * assignee) gets its coded rejection before it leaves. Valid ones answer "accepted" (or
   * "duplicate" when pending or final here).
   */
  verify(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    check<PipelineErrorCode>(Array.isArray(transactions) && transactions.every((tx) => tx instanceof Uint8Array), "PIPELINE_BAD_INPUT", "verify takes an array of Uint8Array encoded transactions");
    const submission = new Submission(transactions.length, false);
    transactions.forEach((tx, slot) => this.#admit(tx, submission, slot));
    return submission.done;
  }

  /**
   * Submits a block-body framed buffer (u32le length ‖ encoding, repeated), copied once. Broken
   * framing throws BATCH_TRUNCATED before anything is admitted.
   */
  submitFramed(packed: Uint8Array): Promise<SubmitResult[]> {
    check<PipelineErrorCode>(packed instanceof Uint8Array, "PIPELINE_BAD_INPUT", "submitFramed takes a Uint8Array of framed transactions");
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
    else this.#intakeTimer ??= this.#clock.setTimer(this.#batchAgeMs, () => this.#flushIntake());
  }

  #flushIntake(): void {
    if (this.#intakeTimer !== undefined) this.#clock.cancelTimer(this.#intakeTimer);
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
      this.#pool.validateTransactions(framed, this.shard, this.shardCount, this.#committees).then(
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
    const kept: KeptItem[] = [];
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
      const known = this.#knownStatus(key, txid, record);
      if (known !== undefined) {
        this.#mempool.release(tx.length);
        this.#counters.duplicates++;
        submission.settle(slot, { outcome: "duplicate", txid, status: known });
        continue;
      }
      if (!submission.admit) {
        this.#mempool.release(tx.length);
        submission.settle(slot, { outcome: "accepted", txid });
        continue;
      }
      this.#recentRejections.delete(key);
      this.#mempool.add({ key, txid, tx, record });
      this.#counters.accepted++;
      admitted++;
      kept.push({ key, txid, tx, submission, slot });
    }
    if (admitted > 0) for (const listener of this.#admitListeners) listener(this.#mempool.size);
    if (kept.length > 0) this.#keep(kept);
  }

  /**
   * "accepted" is answered once the transactions are durable (the store's kept set), so that a
   * validator restarted before settling them queues them again instead of forgetting them. The
   * driver may use them meanwhile. If the store cannot keep them, those still queued are refused
   * with its code; those the driver took are on their way into a block and answered accepted.
   */
  #keep(kept: readonly KeptItem[]): void {
    let durable: Promise<void>;
    try {
      durable = this.#state.keepAccepted(kept);
    } catch (error) {
      durable = Promise.reject(error);
    }
    durable.then(
      () => {
        for (const { txid, submission, slot } of kept) submission.settle(slot, { outcome: "accepted", txid });
      },
      (error: unknown) => {
        const code = error instanceof IosError ? error.code : "PIPELINE_NOT_KEPT";
        for (const { key, txid, tx, submission, slot } of kept) {
          if (this.#mempool.remove(key) === undefined) {
            submission.settle(slot, { outcome: "accepted", txid });
            continue;
          }
          this.#mempool.release(tx.length);
          this.#countRejection(code);
          submission.settle(slot, { outcome: "rejected", txid, code, message: `not kept durably: ${error instanceof Error ? error.message : String(error)}` });
        }
      },
    );
  }

  /** Drops settled transactions from the store's kept set (a failure only leaves them to the next restart's recovery). */
  #unkeep(txids: readonly Uint8Array[]): void {
    if (txids.length === 0) return;
    try {
      this.#state.forgetAccepted(txids).catch(() => undefined);
    } catch {
      // A closed or failed store: recovery drops what turns out settled.
    }
  }

  /**
   * After a restart: offers again the transactions this validator answered "accepted" and had not
   * settled (the store's kept set), through `submit` — the driver's, which may now route them to
   * another validator (a PoB assignee). Those queued here again stay kept; the others (final or
   * refused meanwhile, or relayed) leave the kept set, except refusals for lack of room or a
   * closing pipeline, which say nothing of the transaction and wait for the next start.
   */
  async recoverAccepted(submit: (transactions: readonly Uint8Array[]) => Promise<readonly SubmitResult[]> = (txs) => this.submit(txs)): Promise<readonly SubmitResult[]> {
    const transactions = this.#state.acceptedTransactions();
    if (transactions.length === 0) return [];
    const results = await submit(transactions);
    this.#unkeep(results.flatMap((result) => {
      if (result.txid === undefined || RETRYABLE.has(result.code ?? "")) return [];
      const key = toHex(result.txid);
      return this.#mempool.has(key) || this.#taken.has(key) ? [] : [result.txid];
    }));
    return results;
  }

  /** The apply record of each valid transaction; checks the worker's answer matches the batch before anything settles. */
  #splitRecords(batch: readonly BatchItem[], validated: ValidatedBatch): Uint8Array[] {
    check<PipelineErrorCode>(validated.count === batch.length, "PIPELINE_BAD_TASK", `worker answered ${validated.count} verdicts for ${batch.length} transactions`);
    const records: Uint8Array[] = [];
    const cursor = new RecordCursor(validated.records);
    for (let index = 0; index < batch.length; index++) {
      if (validated.verdicts[index] !== 1) continue;
      check<PipelineErrorCode>(!cursor.done, "PIPELINE_BAD_TASK", `worker returned ${records.length} records, the verdicts ask for more`);
      records.push(cursor.bytes);
      cursor.next();
    }
    check<PipelineErrorCode>(cursor.done, "PIPELINE_BAD_TASK", `worker returned ${validated.records.length} record bytes, the verdicts account for ${cursor.offset}`);
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

  /**
   * Pending here, final in the store, or neither. With the transaction's apply `record`, a
   * transfer whose first input is still in the UTXO set answers "neither" without the store's
   * read: a final transfer spent its inputs, and a spent outpoint never comes back (it is
   * (txid, index) of the one transaction that created it). The table only runs ahead of the
   * store (an open execution spends, never unspends a final input), so it can skip the read only
   * for transactions that are not final; every other case asks the store as before.
   */
  #knownStatus(key: string, txid: Uint8Array, record?: Uint8Array): TxStatus | undefined {
    if (this.#mempool.has(key) || this.#taken.has(key)) return { state: "pending" };
    if (record !== undefined && this.#spendsUnspent(record)) return undefined;
    const location = this.#state.getTransactionLocation(txid);
    if (location !== undefined) return { state: "final", height: location.height, index: location.position };
    return undefined;
  }

  /** Whether `record` is a transfer whose first input is in the UTXO set (`#knownStatus`). */
  #spendsUnspent(record: Uint8Array): boolean {
    const cursor = new RecordCursor(record);
    if (cursor.kind !== TxKind.Transfer || cursor.inputCount === 0) return false;
    return this.#state.getUtxo(cursor.outpoint(0).subarray(0, TXID_BYTES), cursor.outpointIndex(0)) !== undefined;
  }

  #countRejection(code: string): void {
    this.#rejectedByCode.set(code, (this.#rejectedByCode.get(code) ?? 0) + 1);
  }

  #rememberRejection(key: string, code: string): void {
    this.#recentRejections.delete(key);
    this.#recentRejections.set(key, code);
    if (this.#recentRejections.size > RECENT_REJECTIONS) this.#recentRejections.delete(this.#recentRejections.keys().next().value!);
  }

  /** pending (validated, waiting for a block) / final (from the store) / rejected (recently, or by a stored final block) / unknown. */
  status(txid: Uint8Array): TxStatus {
    check<PipelineErrorCode>(txid instanceof Uint8Array && txid.length === TXID_BYTES, "PIPELINE_BAD_TXID", `a txid is ${TXID_BYTES} bytes`);
    const key = toHex(txid);
    const known = this.#knownStatus(key, txid);
    if (known !== undefined) return known;
    const code = this.#recentRejections.get(key) ?? this.#state.rejection(txid)?.code;
    return code === undefined ? { state: "unknown" } : { state: "rejected", code };
  }

  /**
   * Up to `maxTxs` verified transactions (at most `maxFramedBytes` framed), oldest first, left in
   * the queue: what a BFT leader proposes.
   */
  peek(maxTxs: number, maxFramedBytes: number): readonly MempoolEntry[] {
    return this.#mempool.peek(maxTxs, maxFramedBytes);
  }

  /**
   * Moves up to `maxTxs` verified transactions (at most `maxFramedBytes` framed), oldest first,
   * out of the queue to the driver: they keep their reservation and answer "pending" until
   * `settle` or `restore`.
   */
  take(maxTxs: number, maxFramedBytes: number): readonly MempoolEntry[] {
    const entries = this.#mempool.take(maxTxs, maxFramedBytes);
    for (const entry of entries) this.#taken.set(entry.key, entry);
    return entries;
  }

  /** Taken transactions the driver could not use (a failed commit) go back to the front of the queue. */
  restore(entries: readonly MempoolEntry[]): void {
    const back = entries.filter((entry) => this.#taken.delete(entry.key));
    this.#mempool.restore(back);
  }

  /**
   * Empties the queue for the next driver (an epoch switch): the stopped driver's taken and
   * unsettled transactions, then the waiting ones, in that order, their room released. They stay
   * in the store's accepted set until settled, so a crash before the next driver re-admits them
   * loses nothing either.
   */
  drainQueued(): Uint8Array[] {
    const entries = [...this.#taken.values(), ...this.#mempool.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)];
    this.#taken.clear();
    for (const entry of entries) this.#mempool.release(entry.tx.length);
    return entries.map((entry) => entry.tx);
  }

  /**
   * Whether this exact transaction (same bytes under `txid`) was verified here and waits in the
   * queue: a consensus proposal's copy need not be verified again.
   */
  holds(txid: Uint8Array, tx: Uint8Array): boolean {
    const entry = this.#mempool.get(toHex(txid));
    return entry !== undefined && sameBytes(entry.tx, tx);
  }

  /**
   * Phase 5: `event.final` (packed txids) became final at `event.height` and `event.rejected`
   * were refused, each with its code. Whatever of them this pipeline holds — queued or taken —
   * leaves and releases its reservation; listeners get the event.
   */
  settle(event: BlockEvent): BlockEvent {
    check<PipelineErrorCode>(event.final.length % TXID_BYTES === 0, "PIPELINE_BAD_INPUT", "final txids must be packed 32 bytes each");
    const settled: Uint8Array[] = [];
    // A validator holding nothing (a normal member: what its clients send is relayed) has nothing to release.
    const holding = this.#mempool.size > 0 || this.#taken.size > 0;
    for (let at = 0; holding && at < event.final.length; at += TXID_BYTES) this.#forget(toHex(event.final.subarray(at, at + TXID_BYTES)), settled);
    for (const { txid, code } of event.rejected) {
      const key = toHex(txid);
      this.#forget(key, settled);
      this.#countRejection(code);
      this.#rememberRejection(key, code);
    }
    this.#unkeep(settled);
    this.#counters.finalized += event.final.length / TXID_BYTES;
    this.#counters.blocks++;
    return this.#publish(event);
  }

  /**
   * Taken transactions the driver refused before any block (e.g. PoB's producer: a pending double
   * spend): settled as rejected with their codes, announced at the current tip.
   */
  refuse(refusals: readonly { readonly entry: MempoolEntry; readonly code: string }[]): void {
    if (refusals.length === 0) return;
    const rejected: { txid: Uint8Array; code: string }[] = [];
    for (const { entry, code } of refusals) {
      if (!this.#taken.delete(entry.key)) continue;
      this.#mempool.release(entry.tx.length);
      this.#countRejection(code);
      this.#rememberRejection(entry.key, code);
      rejected.push({ txid: entry.txid, code });
    }
    this.#unkeep(rejected.map((r) => r.txid));
    const tip = this.#state.tip;
    this.#publish({ height: tip.height, hash: tip.hash, final: new Uint8Array(0), rejected });
  }

  /**
   * Transactions this validator did not queue (relayed to their assignee) settled as rejected,
   * each with its code: remembered for `status` and announced at the current tip.
   */
  settleRejected(rejected: readonly { readonly txid: Uint8Array; readonly code: string }[]): void {
    if (rejected.length === 0) return;
    for (const { txid, code } of rejected) {
      this.#countRejection(code);
      this.#rememberRejection(toHex(txid), code);
    }
    const tip = this.#state.tip;
    this.#publish({ height: tip.height, hash: tip.hash, final: new Uint8Array(0), rejected });
  }

  /** Releases the reservation of a settled transaction held in the queue or taken; its txid joins `settled`. */
  #forget(key: string, settled: Uint8Array[]): void {
    const held = this.#mempool.remove(key) ?? this.#taken.get(key);
    if (held === undefined) return;
    this.#taken.delete(key);
    this.#mempool.release(held.tx.length);
    settled.push(held.txid);
  }

  #publish(event: BlockEvent): BlockEvent {
    for (const listener of this.#blockListeners) listener(event);
    return event;
  }

  /** One event per settlement; returns the unsubscribe function. */
  onSettled(listener: (event: BlockEvent) => void): () => void {
    this.#blockListeners.add(listener);
    return () => this.#blockListeners.delete(listener);
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

  /** A new epoch's trusted committees (`committees` of the options): later validation batches use them. */
  useCommittees(committees: Uint8Array | undefined): void {
    this.#committees = committees;
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
