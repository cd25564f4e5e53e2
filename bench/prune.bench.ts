/**
 * Disk of a validator's store with pruning off and on (src/store/schema.ts "Pruning"), one run,
 * real LMDB (bench/results/disk.json).
 *
 * A store goes through EPOCHS epochs of EPOCH_LENGTH blocks under a steady load, written as a PoB
 * validator writes them (LmdbChainStore.appendBlock, one fsynced transaction per block): each
 * block TXS_PER_BLOCK indexed txids, a BLOCK_BYTES body, its consensus record, final-height
 * certificate and proposal, the optimistic block it ordered (BLOCK_BYTES, a decodable header),
 * REJECTIONS_PER_BLOCK rejections and one Atomix write; the epoch's last block carries the MSB
 * (header and a body of MSB_ENTRIES entries; the store keeps the latest two bodies, MSB_BODIES_KEPT)
 * and, with pruning on, the prune request.
 * Measured after each epoch: data.mdb's size, which is LMDB's page high-water mark (the file does
 * not shrink; freed pages are reused by later transactions, so with pruning the size flattens
 * once the freed pages of a pruned epoch cover the next epoch's writes), and the epoch-end
 * append's time (the prune runs inside it) against the mean append.
 * A third run prunes under a heavy cross-shard load: HEAVY_ATOMIX_PER_BLOCK decided transfers per
 * block (aborted: no proof kept past the prune). The Atomix table is never pruned (the replay
 * guard), so it grows by an epoch's worth each epoch; the prune reads only the entries its heights
 * decided (atomixDecided), and its epoch-end append should not grow with the table.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbChainStore } from "../src/store/chain-store.js";
import type { StoredBlock } from "../src/store/interface.js";
import { UTXO_ENTRY_BYTES } from "../src/store/schema.js";
import { BlockKind, encodeBlockHeader, makeBlockHeader } from "../src/ledger/block.js";
import { encodeAtomixPhase } from "../src/atomix/phases.js";

const RESULTS_FILE = "bench/results/disk.json";
const EPOCHS = 16;
const EPOCH_LENGTH = 40;
const TXS_PER_BLOCK = 200;
/** About 250 bytes per transfer. */
const BLOCK_BYTES = TXS_PER_BLOCK * 250;
const REJECTIONS_PER_BLOCK = 2;
const MSB_ENTRIES = 20_000;
const HEAVY_ATOMIX_PER_BLOCK = 250;
const ABORTED = encodeAtomixPhase("aborted");

const root = mkdtempSync(join(tmpdir(), "ios-prune-bench-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));

function orderedBlock(height: number): Uint8Array {
  const header = encodeBlockHeader(makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: 0, height, prevHash: randomBytes(32), timestamp: height, producer: randomBytes(32) }, []));
  const bytes = randomBytes(BLOCK_BYTES);
  bytes.set(header);
  return bytes;
}

function blockAt(height: number, prune: boolean, atomixPerBlock: number): StoredBlock {
  const epoch = height / EPOCH_LENGTH - 1;
  const endsEpoch = height % EPOCH_LENGTH === 0;
  return {
    height, hash: randomBytes(32), bytes: randomBytes(BLOCK_BYTES), txids: randomBytes(32 * TXS_PER_BLOCK), positions: Array.from({ length: TXS_PER_BLOCK }, (_, i) => i),
    consensusState: randomBytes(300), certificate: randomBytes(500), proposal: randomBytes(1_200),
    orderedBlocks: [{ hash: randomBytes(32), bytes: orderedBlock(height) }],
    rejections: Array.from({ length: REJECTIONS_PER_BLOCK }, () => ({ txid: randomBytes(32), code: "MISSING_INPUT" })),
    atomix: atomixPerBlock === 0 ? [{ crossTxid: randomBytes(32), phase: 2 }] : Array.from({ length: atomixPerBlock }, () => ({ crossTxid: randomBytes(32), phase: ABORTED, decided: true })),
    ...(endsEpoch ? { msb: { epoch, header: randomBytes(200), body: randomBytes(MSB_ENTRIES * UTXO_ENTRY_BYTES), decisions: new Uint8Array(0) } } : {}),
    // The node's request (ShardState pruneWith): below e·L, the block of MSB e − 1 kept as a joiner's anchor.
    ...(endsEpoch && prune ? { prune: { below: epoch * EPOCH_LENGTH, epochLength: EPOCH_LENGTH } } : {}),
  };
}

interface EpochFigure {
  readonly epoch: number;
  readonly dataMdbBytes: number;
  readonly epochEndAppendMs: number;
  readonly meanAppendMs: number;
  readonly prunedBelow: number;
  /** Epochs of the MSB bodies kept. */
  readonly keptBodies: readonly number[];
}

/** `atomixPerBlock` 0: the steady load's one undecided Atomix write per block. */
function run(prune: boolean, atomixPerBlock = 0): EpochFigure[] {
  const directory = join(root, `${prune ? "on" : "off"}-${atomixPerBlock}`);
  const store = LmdbChainStore.open(directory);
  store.initialize({ shard: 0, genesisId: randomBytes(32) }, new Uint8Array(0));
  const figures: EpochFigure[] = [];
  const flush = { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n };
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    let total = 0;
    let last = 0;
    for (let k = 1; k <= EPOCH_LENGTH; k++) {
      const block = blockAt(epoch * EPOCH_LENGTH + k, prune, atomixPerBlock);
      const start = performance.now();
      // Every block flushes (an empty UTXO batch): the horizon is never held back by the flushed height.
      store.appendBlock(block, flush);
      const ms = performance.now() - start;
      total += ms;
      if (k === EPOCH_LENGTH) last = ms;
    }
    figures.push({ epoch, dataMdbBytes: statSync(join(directory, "data.mdb")).size, epochEndAppendMs: round(last), meanAppendMs: round(total / EPOCH_LENGTH), prunedBelow: store.prunedBelow, keptBodies: store.keptMsbs.map((msb) => msb.epoch) });
  }
  void store.close();
  return figures;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

const off = run(false);
const on = run(true);
const onHeavyAtomix = run(true, HEAVY_ATOMIX_PER_BLOCK);
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
console.log("epoch  off MiB  on MiB  epoch-end append ms off/on  mean append ms off/on");
off.forEach((figure, i) => console.log(`${String(figure.epoch).padStart(5)}  ${String(mib(figure.dataMdbBytes)).padStart(7)}  ${String(mib(on[i]!.dataMdbBytes)).padStart(6)}  ${figure.epochEndAppendMs}/${on[i]!.epochEndAppendMs}  ${figure.meanAppendMs}/${on[i]!.meanAppendMs}`));
console.log(`pruning on, ${HEAVY_ATOMIX_PER_BLOCK} decided Atomix transfers per block: epoch-end append ms / mean append ms by epoch`);
console.log(onHeavyAtomix.map((figure) => `${figure.epoch}: ${figure.epochEndAppendMs}/${figure.meanAppendMs}`).join("  "));
writeFileSync(RESULTS_FILE, JSON.stringify({
  what: "data.mdb bytes (LMDB page high-water mark) after each epoch, pruning off vs on; epoch-end append time (the prune runs in it) vs the mean append",
  parameters: { epochs: EPOCHS, epochLength: EPOCH_LENGTH, txsPerBlock: TXS_PER_BLOCK, blockBytes: BLOCK_BYTES, orderedBlockBytes: BLOCK_BYTES, msbEntries: MSB_ENTRIES, heavyAtomixPerBlock: HEAVY_ATOMIX_PER_BLOCK },
  off, on, onHeavyAtomix,
}, null, 2) + "\n");
