// Child process of the crash-safety tests: opens a shard's durable state (real LMDB), then commits
// blocks of signed transfers in a loop and writes "ack <height> <block hash> <txid>..." to stdout
// (synchronously, fd 1) only after each commit has returned, i.e. once the block is final.
// Usage: node store-crash-child.js <directory> <seed> <flushIntervalBlocks> <txsPerBlock> <maxHeight>
// On reaching maxHeight it prints "summary <supply> <utxoCount> <sha256 of the sorted UTXO set>"
// and exits without closing, leaving any unflushed tail to be replayed by the next opener.
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ShardState } from "../../src/node/shard-state.js";
import { ENTRY_BYTES } from "../../src/ledger/utxo-table.js";
import { ChainBuilder, makeWorkload, type Workload } from "../store/workload.js";

export const WORKLOAD_ACCOUNTS = 64;

/** SHA-256 over the packed entries sorted by outpoint: equal digests = equal UTXO sets. */
export function utxoSetDigest(snapshot: Uint8Array): string {
  const entries: Uint8Array[] = [];
  for (let at = 0; at < snapshot.length; at += ENTRY_BYTES) entries.push(snapshot.subarray(at, at + ENTRY_BYTES));
  entries.sort(Buffer.compare);
  const hash = createHash("sha256");
  for (const entry of entries) hash.update(entry);
  return hash.digest("hex");
}

/**
 * Commits blocks of `txsPerBlock` transfers from the state's tip up to `maxHeight`, calling `ack`
 * after each commit returned; returns [supply, utxoCount, digest of the UTXO set].
 */
export function commitWorkload(state: ShardState, workload: Workload, txsPerBlock: number, maxHeight: number, ack: (line: string) => void): string[] {
  const tip = state.tip;
  const builder = new ChainBuilder(workload, tip.height, tip.hash, state.utxoSnapshot());
  while (state.tip.height < maxHeight) {
    const block = builder.nextBlock(txsPerBlock);
    const result = state.commitBlock(block.bytes);
    if (result.applied !== block.txids.length) throw new Error(`block ${block.height}: only ${result.applied} transactions applied`);
    const txids = block.txids.map((txid) => Buffer.from(txid).toString("hex")).join(" ");
    ack(`ack ${block.height} ${Buffer.from(block.hash).toString("hex")} ${txids}\n`);
  }
  return [String(state.supply), String(state.utxoCount), utxoSetDigest(state.utxoSnapshot())];
}

function main(): void {
  const [directory, seed, flushInterval, txsPerBlock, maxHeight] = process.argv.slice(2);
  const workload = makeWorkload(seed!, WORKLOAD_ACCOUNTS);
  const state = ShardState.open({ directory: directory!, genesis: workload.genesis, shard: 0, flushIntervalBlocks: Number(flushInterval) });
  writeSync(1, `ready ${state.tip.height} ${state.flushedHeight}\n`);
  const summary = commitWorkload(state, workload, Number(txsPerBlock), Number(maxHeight), (line) => writeSync(1, line));
  writeSync(1, `summary ${summary.join(" ")}\n`);
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
