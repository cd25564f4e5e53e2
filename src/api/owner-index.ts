/**
 * Owner → unspent outputs index behind GET /v1/owner/:pk/balance and /utxos.
 *
 * Built from the shard's working UTXO set when the node opens (so it survives restarts without a
 * file of its own), then kept up to date from committed blocks. Blocks are indexed lazily: a
 * committed height is only queued, and the queue is drained on the next owner query, so block
 * production pays nothing for the index when nobody asks. A transaction of a block counts only if
 * the store's tx index places it at that height and position (i.e. it applied).
 */
import { decodeBlock } from "../ledger/block.js";
import { applyRecordOf } from "../ledger/kinds/registry.js";
import { RecordCursor } from "../ledger/records.js";
import type { ChainView } from "./interface.js";
import { readU32, readU64 } from "../codec/binary.js";
import { OUTPOINT_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";

export interface OwnedOutput {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly amount: bigint;
}

/** Map key of raw bytes: one char per byte (latin1) takes half the memory of hex. */
function key(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export class OwnerIndex {
  /** owner key → outpoint key (txid ‖ u32le index) → amount */
  private readonly owners = new Map<string, Map<string, bigint>>();
  /** outpoint key → owner key, to remove spent outputs by outpoint. */
  private readonly outpoints = new Map<string, string>();
  private indexedHeight: number;
  /** Highest committed height reported; blocks above indexedHeight wait for a query. */
  private committedHeight: number;

  constructor(readonly chain: ChainView) {
    this.indexedHeight = this.committedHeight = this.load();
  }

  /** Indexes the chain's working set; returns the tip height it is as of. */
  private load(): number {
    this.owners.clear();
    this.outpoints.clear();
    const snapshot = this.chain.utxoSnapshot();
    for (let at = 0; at < snapshot.length; at += UTXO_ENTRY.bytes) {
      const owner = at + UTXO_ENTRY.offset.owner;
      this.add(key(snapshot.subarray(at, at + OUTPOINT_BYTES)), key(snapshot.subarray(owner, owner + PUBLIC_KEY_BYTES)), readU64(snapshot, at + UTXO_ENTRY.offset.amount));
    }
    return this.chain.tip.height;
  }

  /** Records that block `height` was committed; it is indexed on the next query. */
  blockCommitted(height: number): void {
    if (height > this.committedHeight) this.committedHeight = height;
  }

  /** Unspent outputs of `owner` (32 bytes) as of the tip. */
  outputsOf(owner: Uint8Array): OwnedOutput[] {
    this.catchUp();
    const owned = this.owners.get(key(owner));
    if (owned === undefined) return [];
    return [...owned].map(([outpoint, amount]) => {
      const bytes = Buffer.from(outpoint, "latin1");
      return { txid: new Uint8Array(bytes.subarray(UTXO_ENTRY.offset.txid, TXID_BYTES)), index: readU32(bytes, UTXO_ENTRY.offset.index), amount };
    });
  }

  balanceOf(owner: Uint8Array): { balance: bigint; outputs: number } {
    this.catchUp();
    const owned = this.owners.get(key(owner));
    let balance = 0n;
    if (owned !== undefined) for (const amount of owned.values()) balance += amount;
    return { balance, outputs: owned?.size ?? 0 };
  }

  /** Owners with at least one unspent output. */
  get ownerCount(): number {
    return this.owners.size;
  }

  private add(outpoint: string, owner: string, amount: bigint): void {
    let owned = this.owners.get(owner);
    if (owned === undefined) this.owners.set(owner, (owned = new Map()));
    owned.set(outpoint, amount);
    this.outpoints.set(outpoint, owner);
  }

  private remove(outpoint: string): void {
    const owner = this.outpoints.get(outpoint);
    if (owner === undefined) return;
    this.outpoints.delete(outpoint);
    const owned = this.owners.get(owner)!;
    owned.delete(outpoint);
    if (owned.size === 0) this.owners.delete(owner);
  }

  private catchUp(): void {
    // Blocks it has not indexed were pruned since: start again from the working set.
    if (this.indexedHeight + 1 < this.chain.prunedBelow) this.indexedHeight = Math.max(this.committedHeight, this.load());
    while (this.indexedHeight < this.committedHeight) this.indexBlock(++this.indexedHeight);
  }

  private indexBlock(height: number): void {
    const bytes = this.chain.getBlock(height);
    if (bytes === undefined) return;
    const block = decodeBlock(bytes);
    block.transactions.forEach((tx, position) => {
      const txid = block.txids.subarray(position * TXID_BYTES, (position + 1) * TXID_BYTES);
      const location = this.chain.getTransactionLocation(txid);
      if (location === undefined || location.height !== height || location.position !== position) return;
      const record = new RecordCursor(applyRecordOf(tx, txid, this.chain.shard, this.chain.shardCount));
      for (let i = 0; i < record.inputCount; i++) this.remove(key(record.outpoint(i)));
      for (let j = 0; j < record.outputCount; j++) this.add(key(record.createdKey(j)), key(record.outputOwner(j)), record.outputAmount(j));
    });
  }
}
