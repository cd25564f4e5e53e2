/**
 * Transaction gossip among one shard's validators (issue 6): whichever validator leads a height
 * must hold the transactions clients sent to the others. Phases:
 *
 *   1. submit   a client's transactions enter through `submit`, which hands them to the local
 *               sink (pipeline or queue: stateless checks + signatures in the worker pool);
 *   2. forward  the ones the sink accepted are queued once per txid (a bounded set of recently
 *               forwarded txids deduplicates) and sent in batches — at GOSSIP_BATCH_TXS, or
 *               GOSSIP_DELAY_MS after the first — to every other validator of the shard as one
 *               TX_BATCH message (block-body framing: u32le length ‖ tx, repeated);
 *   3. admit    a receiving validator hands the batch to its sink, which verifies it like a
 *               client's; gossip is one hop (the mesh is complete), so received transactions
 *               are not forwarded again.
 *
 * Delivery is best effort (the transport drops on overload); a transaction lost on the way still
 * becomes final when the validator holding it leads (leaders rotate every height).
 */
import { IosError, check } from "../errors.js";
import { packTransactions, unpackTransactions } from "../ledger/stateless.js";
import type { Channel, PeerId } from "../net/interface.js";
import { messageType } from "../net/message-types.js";
import type { Clock, TimerHandle } from "../runtime/interface.js";
import type { SubmitResult, TxSink } from "./consensus/interface.js";
import { toHex } from "../hex.js";

/** The client range's first message: a batch of transactions relayed between validators. */
export const TX_BATCH = messageType("client", 0);
/** Transactions per gossip message: 1,024 transfers ≈ 230 KB, well under the 4 MiB frame limit. */
export const GOSSIP_BATCH_TXS = 1024;
/** A partial batch leaves after 5 ms (the pipeline's BATCH_AGE_MS): bounds the delay gossip adds. */
export const GOSSIP_DELAY_MS = 5;
/** Recently forwarded txids remembered for deduplication. */
export const GOSSIP_SEEN_TXIDS = 262_144;
/** Transactions queued for forwarding at most; beyond, new ones are not forwarded (the leader rotation still includes them). */
export const GOSSIP_MAX_QUEUED = 65_536;

export interface TxGossipOptions {
  /** The shard's client channel (client, shard, epoch); its owner closes it. */
  readonly channel: Channel;
  /** Times the partial forwarding batch. */
  readonly clock: Clock;
  /** The shard's validators (hex public keys), self included or not. */
  readonly peers: readonly PeerId[];
  readonly sink: TxSink;
}

export interface TxGossipStats {
  forwarded: number;
  received: number;
  dropped: number;
  badMessages: number;
}


export class TxGossip implements TxSink {
  readonly stats: TxGossipStats = { forwarded: 0, received: 0, dropped: 0, badMessages: 0 };
  /** The (client, shard, epoch) channel it gossips on. */
  readonly channel: Channel;
  readonly #peers: readonly PeerId[];
  readonly #sink: TxSink;
  readonly #seen = new Set<string>();
  #queue: Uint8Array[] = [];
  #timer: TimerHandle | undefined;
  readonly #clock: Clock;
  #closed = false;

  constructor(options: TxGossipOptions) {
    check(Array.isArray(options.peers), "GOSSIP_OPTIONS", "peers must be an array of hex public keys");
    this.channel = options.channel;
    this.#clock = options.clock;
    this.#peers = options.peers.filter((peer) => peer !== options.channel.self);
    this.#sink = options.sink;
    // The promise goes to the transport, which logs and counts a rejection (guarded-handler.ts).
    this.channel.on(TX_BATCH, (_from, _type, payload) => this.#onBatch(payload));
  }

  /** Phase 1–2: submits locally and forwards what was accepted. */
  async submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    const results = await this.#sink.submit(transactions);
    results.forEach((result, i) => {
      if (result.outcome === "accepted" && result.txid !== undefined) this.#enqueue(result.txid, transactions[i]!);
    });
    return results;
  }

  #enqueue(txid: Uint8Array, tx: Uint8Array): void {
    if (this.#closed || this.#peers.length === 0) return;
    const key = toHex(txid);
    if (this.#seen.has(key)) return;
    if (this.#queue.length >= GOSSIP_MAX_QUEUED) {
      this.stats.dropped++;
      return;
    }
    this.#remember(key);
    this.#queue.push(tx);
    if (this.#queue.length >= GOSSIP_BATCH_TXS) this.flush();
    else this.#timer ??= this.#clock.setTimer(GOSSIP_DELAY_MS, () => this.flush());
  }

  /** Sends everything queued now. */
  flush(): void {
    if (this.#timer !== undefined) this.#clock.cancelTimer(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, GOSSIP_BATCH_TXS);
      this.channel.broadcast(this.#peers, TX_BATCH, packTransactions(batch));
      this.stats.forwarded += batch.length;
    }
  }

  async #onBatch(payload: Uint8Array): Promise<void> {
    if (this.#closed) return;
    let transactions: Uint8Array[];
    try {
      transactions = unpackTransactions(payload);
    } catch (error) {
      if (error instanceof IosError) this.stats.badMessages++;
      throw error;
    }
    this.stats.received += transactions.length;
    try {
      // Outcomes need no answer: accepted ones wait for a block, duplicates and rejections are dropped here.
      await this.#sink.submit(transactions);
    } catch (error) {
      // A sink refusing the batch as a whole (closed pool while shutting down) drops it, like a lost message.
      if (error instanceof IosError) this.stats.dropped += transactions.length;
      throw error;
    }
  }

  #remember(key: string): void {
    this.#seen.add(key);
    if (this.#seen.size > GOSSIP_SEEN_TXIDS) this.#seen.delete(this.#seen.values().next().value!);
  }

  /** Stops forwarding and ignores further batches. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.cancelTimer(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
  }
}
