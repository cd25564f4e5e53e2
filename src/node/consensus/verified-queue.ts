/**
 * A validator's verified, not yet final transactions, in arrival order: the ConsensusHost of a
 * node run without the solo pipeline (tests, benches of consensus alone). Submitted transactions
 * are checked statelessly and their signatures batch-verified in the worker pool, then wait here
 * until a final block settles them. Bounded by count; a full queue refuses with MEMPOOL_FULL.
 */
import { check } from "../../errors.js";
import { packTransactions } from "../../ledger/stateless.js";
import type { VerifierPool } from "../pool/verify-pool.js";
import type { ShardState } from "../shard-state.js";
import type { Candidates, ConsensusHost, FinalBlock, TxSink, TxSubmitResult } from "./interface.js";
import { toHex } from "../../hex.js";
import { TXID_BYTES } from "../../codec/sizes.js";

/** Waiting transactions by default: 200,000, the pipeline's MAX_PENDING_TXS. */
export const DEFAULT_QUEUE_TXS = 200_000;


export class VerifiedTxQueue implements ConsensusHost, TxSink {
  readonly #waiting = new Map<string, { readonly tx: Uint8Array; readonly txid: Uint8Array }>();
  readonly #admitListeners = new Set<(waiting: number) => void>();
  readonly #maxTxs: number;

  constructor(
    readonly state: ShardState,
    readonly pool: VerifierPool,
    options: { readonly maxTxs?: number } = {},
  ) {
    this.#maxTxs = options.maxTxs ?? DEFAULT_QUEUE_TXS;
    check(Number.isSafeInteger(this.#maxTxs) && this.#maxTxs >= 1, "QUEUE_OPTIONS", `maxTxs must be a positive integer, got ${String(options.maxTxs)}`);
  }

  get size(): number {
    return this.#waiting.size;
  }

  async submit(transactions: readonly Uint8Array[]): Promise<TxSubmitResult[]> {
    if (transactions.length === 0) return [];
    const batch = await this.pool.validateTransactions(packTransactions(transactions), this.state.shard, this.state.shardCount);
    const rejections = new Map(batch.rejections.map((r) => [r.index, r]));
    let admitted = 0;
    const results = transactions.map((tx, i): TxSubmitResult => {
      const txid = batch.txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES);
      if (batch.verdicts[i] !== 1) {
        const rejection = rejections.get(i);
        return { outcome: "rejected", txid, code: rejection?.code ?? "TX_INVALID", message: rejection?.message ?? "failed validation" };
      }
      const key = toHex(txid);
      if (this.#waiting.has(key) || this.state.getTransactionLocation(txid) !== undefined) return { outcome: "duplicate", txid };
      if (this.#waiting.size >= this.#maxTxs) return { outcome: "rejected", txid, code: "MEMPOOL_FULL", message: `${this.#maxTxs} transactions wait already` };
      this.#waiting.set(key, { tx: tx.slice(), txid });
      admitted++;
      return { outcome: "accepted", txid };
    });
    if (admitted > 0) for (const listener of this.#admitListeners) listener(this.#waiting.size);
    return results;
  }

  candidates(maxTxs: number, maxBodyBytes: number): Candidates {
    const transactions: Uint8Array[] = [];
    const txids: Uint8Array[] = [];
    let bytes = 0;
    for (const { tx, txid } of this.#waiting.values()) {
      if (transactions.length >= maxTxs || bytes + 4 + tx.length > maxBodyBytes) break;
      transactions.push(tx);
      txids.push(txid);
      bytes += 4 + tx.length;
    }
    return { transactions, txids: Uint8Array.from(Buffer.concat(txids)) };
  }

  holds(txid: Uint8Array, tx: Uint8Array): boolean {
    const held = this.#waiting.get(toHex(txid));
    return held !== undefined && Buffer.compare(held.tx, tx) === 0;
  }

  settled(block: FinalBlock): void {
    for (let i = 0; i * TXID_BYTES < block.txids.length; i++) this.#waiting.delete(toHex(block.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES)));
  }

  onAdmitted(listener: (waiting: number) => void): () => void {
    this.#admitListeners.add(listener);
    return () => this.#admitListeners.delete(listener);
  }
}
