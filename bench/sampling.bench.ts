/**
 * Per-transaction cost of phase 2's sampling decision on a normal member (issue 16,
 * src/consensus/pob/sampling.ts), A/B in one run, over the 4,000 txids of a block at p = 0.1:
 *   A: the decision as main made it: the txid copied out of the block's packed txids (`slice`),
 *      SHA-256 of (domain ‖ block seed ‖ txid) returned as a fresh digest, its first u32 read;
 *   B: `Sampler.isSampled` now: the txid a view of the packed txids, the digest read in the
 *      SHA-256 kernel's output, nothing allocated per transaction.
 * Both decide alike (checked before timing). Output: bench/results/sampling-ab.json (benny) with
 * ns per transaction and B/A.
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { HASH_BYTES, TXID_BYTES } from "../src/codec/sizes.js";
import { readU32 } from "../src/codec/binary.js";
import { sha256 } from "../src/crypto/sha256.js";
import { Sampler, sampleSeed, samplingThreshold } from "../src/consensus/pob/sampling.js";

const TXS = 4000;
const P = 0.1;
const RESULTS_FOLDER = "bench/results";
const txids = new Uint8Array(randomBytes(TXS * TXID_BYTES));
const seed = sampleSeed(new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)));
const DOMAIN = new TextEncoder().encode("IOSChain/pob/sample/v1");

/** A: main's decision, a copy of the txid and a fresh digest per transaction. */
function sampleCopying(): number {
  const threshold = samplingThreshold(P);
  const input = new Uint8Array(DOMAIN.length + HASH_BYTES + TXID_BYTES);
  input.set(DOMAIN);
  input.set(seed, DOMAIN.length);
  let sampled = 0;
  for (let i = 0; i < TXS; i++) {
    input.set(txids.slice(i * TXID_BYTES, (i + 1) * TXID_BYTES), DOMAIN.length + HASH_BYTES);
    if (readU32(sha256(input), 0) < threshold) sampled++;
  }
  return sampled;
}

/** B: `Sampler.isSampled` on views. */
function sampleInPlace(): number {
  const sampler = new Sampler(P, seed);
  let sampled = 0;
  for (let i = 0; i < TXS; i++) if (sampler.isSampled(txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES))) sampled++;
  return sampled;
}

if (sampleCopying() !== sampleInPlace()) throw new Error("the two decisions differ");

const rows: { case: string; nsPerTx: number; marginPercent: number }[] = [];
await b.suite(
  `PoB sampling decision, ${TXS} txids, p = ${P}`,
  b.configure({ cases: { minSamples: 30, maxTime: 3 } }),
  b.add("A: txid copied, digest allocated", () => sampleCopying()),
  b.add("B: txid viewed, digest read in the kernel", () => sampleInPlace()),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rows.push({ case: result.name, nsPerTx: Math.round((result.details.mean * 1e9) / TXS), marginPercent: result.margin });
    console.table(rows);
  }),
  b.save({ file: "sampling", folder: RESULTS_FOLDER, format: "json" }),
);
writeFileSync(
  `${RESULTS_FOLDER}/sampling-ab.json`,
  JSON.stringify({ txs: TXS, p: P, loadAverage: loadavg()[0], statistic: "ns per transaction (mean)", rows, ratioBtoA: Math.round((rows[1]!.nsPerTx / rows[0]!.nsPerTx) * 100) / 100 }, null, 2) + "\n",
);
