/**
 * The final chain of a replica that keeps no block store (the PoB protocol tests): each final
 * outcome's transactions by height, and the outputs the genesis and those transactions created,
 * for the re-check and compensation of src/consensus/pob/finalization.ts. Its owner records every
 * outcome it commits.
 */
import type { FinalChain, FinalOutcome } from "../../src/consensus/pob/finalization.js";
import { genesisTxid, type Genesis } from "../../src/ledger/genesis.js";
import { createdOutputOf } from "../../src/ledger/records.js";
import { TXID_BYTES } from "../../src/codec/sizes.js";
import { toHex } from "../../src/hex.js";

/** The final chain of shard 0, in memory. */
export class MemoryFinalChain implements FinalChain {
  private readonly heights = new Map<number, readonly Uint8Array[]>();
  private readonly created = new Map<string, { readonly tx: Uint8Array; readonly txid: Uint8Array }>();
  private readonly genesisId: string;

  constructor(private readonly genesis: Genesis) {
    this.genesisId = toHex(genesisTxid(genesis));
  }

  record(outcome: FinalOutcome): void {
    this.heights.set(outcome.height, outcome.includedTransactions);
    outcome.includedTransactions.forEach((tx, i) => {
      const txid = outcome.included.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES);
      this.created.set(toHex(txid), { tx, txid });
    });
  }

  transactions(height: number): readonly Uint8Array[] {
    return this.heights.get(height) ?? [];
  }

  createdOutput(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined {
    if (toHex(txid) === this.genesisId) return this.genesis.outputs[index];
    const created = this.created.get(toHex(txid));
    return created && createdOutputOf(created.tx, created.txid, index, 0, this.genesis.shardCount);
  }
}
