/**
 * Per-transaction cost of a PoB validator's optimistic index (issue 16, src/node/consensus/
 * optimistic-index.ts), A/B in one run: every replica remembers each transaction of an announced
 * optimistic block and forgets it when its final block commits. A: the keying main had in
 * pob-consensus.ts (a hex string per txid into a Map, the relayed list asked each time; entries
 * trimmed oldest first past the bound). B: `OptimisticIndex` (the txid's bytes in a ByteKeyMap, the
 * relayed list asked only when it holds any: empty here, as on a validator that relays nothing).
 *
 * Workload: 100 optimistic blocks of 2,000 txids (SHA-256-like random bytes), each remembered on
 * announcement and forgotten 4 blocks later (a block is final a few blocks after its announcement),
 * so the index holds ~8,000 entries in steady state. Output: bench/results/optimistic-index-ab.json
 * (benny) with µs per transaction and B/A.
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { TXID_BYTES } from "../src/codec/sizes.js";
import type { DecodedBlock } from "../src/ledger/block.js";
import { toHex } from "../src/hex.js";
import { OPTIMISTIC_STATUS_ENTRIES } from "../src/node/consensus/pob-consensus.js";
import { OptimisticIndex } from "../src/node/consensus/optimistic-index.js";

const BLOCKS = 100;
const BLOCK_TXS = 2000;
/** Blocks announced and not final yet. */
const IN_FLIGHT = 4;
const TXS = BLOCKS * BLOCK_TXS;
const RESULTS_FOLDER = "bench/results";

/** What the index reads of a decoded block: its txids and count (the rest is not touched). */
const blocks = Array.from({ length: BLOCKS }, () => ({ hash: new Uint8Array(randomBytes(32)), txids: new Uint8Array(randomBytes(TXID_BYTES * BLOCK_TXS)), header: { txCount: BLOCK_TXS } }) as unknown as DecodedBlock);

/** A: a hex key per transaction, as pob-consensus.ts did before the index. */
function runHexMap(): number {
  const optimistic = new Map<string, { hash: Uint8Array; block: DecodedBlock; index: number }>();
  const relayed = new Map<string, unknown>();
  for (let n = 0; n < BLOCKS; n++) {
    const block = blocks[n]!;
    for (let index = 0; index < BLOCK_TXS; index++) {
      const key = toHex(block.txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES));
      optimistic.set(key, { hash: block.hash, block, index });
      relayed.delete(key);
    }
    for (const key of optimistic.keys()) {
      if (optimistic.size <= OPTIMISTIC_STATUS_ENTRIES) break;
      optimistic.delete(key);
    }
    if (n < IN_FLIGHT) continue;
    const final = blocks[n - IN_FLIGHT]!.txids;
    for (let at = 0; at < final.length; at += TXID_BYTES) {
      const key = toHex(final.subarray(at, at + TXID_BYTES));
      optimistic.delete(key);
      relayed.delete(key);
    }
  }
  return optimistic.size;
}

/** B: the index by bytes. */
function runIndex(): number {
  const optimistic = new OptimisticIndex(OPTIMISTIC_STATUS_ENTRIES);
  const relayed = new Map<string, unknown>();
  for (let n = 0; n < BLOCKS; n++) {
    const block = blocks[n]!;
    optimistic.remember(block.hash, block, block.txids, relayed.size === 0 ? undefined : (txid) => relayed.delete(toHex(txid)));
    if (n < IN_FLIGHT) continue;
    const final = blocks[n - IN_FLIGHT]!.txids;
    for (let at = 0; at < final.length; at += TXID_BYTES) {
      const txid = final.subarray(at, at + TXID_BYTES);
      optimistic.forget(txid);
      if (relayed.size > 0) relayed.delete(toHex(txid));
    }
  }
  return optimistic.size;
}

// Both hold the same transactions at the end before their speed means anything.
if (runHexMap() !== IN_FLIGHT * BLOCK_TXS || runIndex() !== IN_FLIGHT * BLOCK_TXS) throw new Error("the two indexes disagree on what they hold");

const HEX = "A: hex-string Map (main)";
const INDEX = "B: OptimisticIndex (bytes)";
await b.suite(
  `optimistic index: ${BLOCKS} blocks × ${BLOCK_TXS} txids remembered, each forgotten ${IN_FLIGHT} blocks later, per op`,
  b.configure({ cases: { minTime: 1, maxTime: 4 } }),
  b.add(HEX, runHexMap),
  b.add(INDEX, runIndex),
  b.cycle(),
  b.complete((summary) => {
    const micros = Object.fromEntries(summary.results.map((result) => [result.name, { microsPerTx: (result.details.mean * 1e6) / TXS, marginPercent: result.margin }]));
    const ratio = micros[INDEX]!.microsPerTx / micros[HEX]!.microsPerTx;
    console.table(Object.entries(micros).map(([name, m]) => ({ case: name, "µs/tx": +m.microsPerTx.toFixed(3), "±%": m.marginPercent })));
    console.log(`B/A: ${ratio.toFixed(2)}`);
    writeFileSync(`${RESULTS_FOLDER}/optimistic-index-ab.json`, `${JSON.stringify({ bench: "optimistic-index", date: new Date().toISOString(), node: process.version, blocks: BLOCKS, blockTxs: BLOCK_TXS, inFlight: IN_FLIGHT, cases: micros, ratioBtoA: ratio }, null, 2)}\n`);
  }),
);
