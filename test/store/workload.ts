// A deterministic, always-valid workload for the store tests, the crash test and the store bench:
// funded test accounts from a seeded genesis, and a builder of signed blocks of 1-input 2-output
// transfers, each paying FEE, so the supply after n applied transactions is genesis − n·FEE.
import { BlockKind, blockHash, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { genesisSupply, genesisTxid, makeTestGenesis, type Genesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { ENTRY_BYTES, unpackEntry } from "../../src/ledger/utxo-table.js";

export const FEE = 1n;
/** Large enough to halve ~40 times before an output gets too small to split. */
export const GENESIS_AMOUNT = 1n << 50n;

export interface Workload {
  readonly genesis: Genesis;
  readonly accounts: KeyPair[];
  readonly producer: KeyPair;
  readonly supply: bigint;
}

export function makeWorkload(seed: string, accounts: number, outputsPerAccount = 1, amount = GENESIS_AMOUNT): Workload {
  const made = makeTestGenesis({ seed, shardCount: 1, accounts, amount, outputsPerAccount, validators: 1 });
  return { genesis: made.genesis, accounts: made.accounts, producer: made.validators[0]!, supply: genesisSupply(made.genesis) };
}

interface Spendable {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: KeyPair;
  readonly amount: bigint;
}

export interface BuiltBlock {
  readonly height: number;
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly txids: Uint8Array[];
}

/** Spends outputs first-in first-out; block contents depend only on the starting UTXO set and height. */
export class ChainBuilder {
  private readonly owners = new Map<string, KeyPair>();
  private spendable: Spendable[] = [];
  private next = 0;

  constructor(
    private readonly workload: Workload,
    private height: number,
    private tipHash: Uint8Array,
    /** Packed 76-byte UtxoTable entries, e.g. `ShardState.utxoSnapshot()`. */
    entries: Uint8Array,
  ) {
    for (const account of workload.accounts) this.owners.set(Buffer.from(account.publicKey).toString("hex"), account);
    const unpacked = [];
    for (let at = 0; at < entries.length; at += ENTRY_BYTES) unpacked.push({ key: entries.subarray(at, at + 36), entry: unpackEntry(entries, at) });
    unpacked.sort((a, b) => Buffer.compare(a.key, b.key));
    this.spendable = unpacked.map(({ entry }) => ({ txid: entry.txid, index: entry.index, amount: entry.amount, owner: this.ownerOf(entry.owner) }));
  }

  static atGenesis(workload: Workload, entries: Uint8Array): ChainBuilder {
    return new ChainBuilder(workload, 0, genesisTxid(workload.genesis), entries);
  }

  private ownerOf(publicKey: Uint8Array): KeyPair {
    const owner = this.owners.get(Buffer.from(publicKey).toString("hex"));
    if (owner === undefined) throw new Error("an output is owned by a key outside the workload");
    return owner;
  }

  /** A signed transfer spending the oldest spendable output into two outputs (minus FEE). */
  private transfer(seq: number): { bytes: Uint8Array; txid: Uint8Array } {
    const input = this.spendable[this.next++]!;
    const half = (input.amount - FEE) / 2n;
    const payee = this.workload.accounts[(seq * 7 + this.height) % this.workload.accounts.length]!;
    const outputs = [{ owner: payee.publicKey, amount: half }, { owner: input.owner.publicKey, amount: input.amount - FEE - half }];
    const { transaction, txid } = signTransaction(
      { kind: TxKind.Transfer, inputs: [{ txid: input.txid, index: input.index, owner: input.owner.publicKey }], outputs },
      [input.owner],
    );
    this.spendable.push({ txid, index: 0, owner: payee, amount: half }, { txid, index: 1, owner: input.owner, amount: input.amount - FEE - half });
    return { bytes: encodeTransaction(transaction), txid };
  }

  /** The next block (height tip + 1) with `txCount` valid transfers; the builder moves its tip to it. */
  nextBlock(txCount: number): BuiltBlock {
    const transfers = Array.from({ length: txCount }, (_, seq) => this.transfer(seq));
    const transactions = transfers.map((t) => t.bytes);
    const height = this.height + 1;
    const header = makeBlockHeader(
      { kind: BlockKind.Optimistic, shard: 0, epoch: 0, height, prevHash: this.tipHash, timestamp: height * 1000, producer: this.workload.producer.publicKey },
      transactions,
    );
    const bytes = encodeBlock(header, sealOptimistic(header, this.workload.producer), transactions);
    const hash = blockHash(header);
    this.height = height;
    this.tipHash = hash;
    if (this.next > 4096) {
      this.spendable = this.spendable.slice(this.next);
      this.next = 0;
    }
    return { height, hash, bytes, txids: transfers.map((t) => t.txid) };
  }
}
