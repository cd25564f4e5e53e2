/**
 * The driver of a node that decides no blocks: a registrant waiting for an epoch that lists its
 * key, or a validator that left (an observer). It is what the client API talks to meanwhile
 * (src/node/validator.ts keeps one in place of a shard driver):
 *   submit  refused, NODE_NOT_SERVING: a transaction sent here would reach no producer;
 *   status  what the state it reads holds final (the shard it served last, or the home store),
 *           else unknown;
 *   describe  the node's role and why it waits, for GET /v1/status.
 */
import type { MetricFamily, SubmitResult, TxStatus } from "../../api/interface.js";
import { transactionIdOfEncoding } from "../../ledger/kinds/registry.js";
import type { ShardState } from "../shard-state.js";
import type { BlockEvent, ShardDriver } from "./interface.js";

/** "registrant": no known epoch lists this key yet; "observer": it served an earlier epoch and the latest does not list it. */
export type WaitingRole = "registrant" | "observer";

export class WaitingDriver implements ShardDriver {
  readonly mode = "pob" as const;

  constructor(
    private readonly state: ShardState,
    readonly role: WaitingRole,
    /** The latest epoch this node knows (none of them lists it). */
    private readonly epoch: number,
  ) {}

  start(): void {}

  async stop(): Promise<void> {}

  async submit(transactions: readonly Uint8Array[]): Promise<readonly SubmitResult[]> {
    const message = `this node is a ${this.role}, not a validator of epoch ${this.epoch}: send transactions to a validator of the shard`;
    return transactions.map((tx): SubmitResult => {
      let txid: Uint8Array | undefined;
      try {
        txid = transactionIdOfEncoding(tx);
      } catch {
        // Not decodable: refused all the same, without a txid.
        txid = undefined;
      }
      return { outcome: "rejected", code: "NODE_NOT_SERVING", message, ...(txid === undefined ? {} : { txid }) };
    });
  }

  status(txid: Uint8Array): TxStatus {
    const location = this.state.getTransactionLocation(txid);
    return location === undefined ? { state: "unknown" } : { state: "final", height: location.height, index: location.position };
  }

  onConfirmations(_listener: (event: BlockEvent) => void): () => void {
    return () => undefined;
  }

  describe(): Record<string, unknown> {
    return {
      mode: "waiting",
      role: this.role,
      waiting: `not a validator of epoch ${this.epoch}: it enters the first epoch whose configuration lists its key (a registration final in epoch e enters at e + 1)`,
    };
  }

  metrics(): MetricFamily[] {
    return [];
  }
}
