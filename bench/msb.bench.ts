/**
 * Micro State Block build and proof rates (src/msb; white paper §8, issue 15), plain timings.
 *
 * For random UTXO sets of 100,000 and 1,000,000 outputs (1–3 outputs per transaction, random
 * owners and amounts), median of several runs:
 *  - sort: `sortByOutpoint` on the table's unordered entries (UtxoTable.snapshot order), and the
 *    plain alternative it replaces (an array of entries sorted with Buffer.compare), one run;
 *  - root: the RFC 6962 root of the sorted leaves (WASM kernel, packed 76-byte leaves);
 *  - build: `snapshotOfEntries` whole (sort + supply + root), the MSB build time;
 *  - ordered: the other source, a kept MSB body's chunks in outpoint order (the store's msbBody
 *    records, MSB_BODY_CHUNK_ENTRIES each, as `snapshotOfOrderedEntries` reads them), no sort;
 *  - tree: `msbTree` (every level kept, for serving proofs);
 *  - verify: `verifyUtxoProof` against the trusted header hash, proofs per second, and the size of one;
 *  - bootstrap: `fetchMsbBody` of the whole body from an in-process `MsbChunkServer` (no network:
 *    the protocol's own cost, encode + decode + range-proof verification + copy), the server's
 *    build (chunk roots), the bytes transferred and their ratio to the raw entries' bytes, and the
 *    fetch time over the root time (verifying a body is about hashing it once).
 * Output: bench/results/msb.json.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { UTXO_ENTRY } from "../src/codec/sizes.js";
import { merkleRootOfPackedLeaves } from "../src/crypto/merkle.js";
import { unpackEntry } from "../src/ledger/utxo-table.js";
import { backPointerEpochs, makeMsbHeader, msbHeaderHash } from "../src/msb/header.js";
import { proveUtxo, verifyUtxoProof } from "../src/msb/proof.js";
import { msbTree, snapshotOfEntries, snapshotOfOrderedEntries, sortByOutpoint } from "../src/msb/snapshot.js";
import { MSB_BODY_CHUNK_ENTRIES } from "../src/store/schema.js";
import { fetchMsbBody, type BootstrappedBody } from "../src/msb/bootstrap.js";
import { MsbChunkServer } from "../src/msb/chunk-server.js";
import { MsbSection, encodeChunkRequest } from "../src/msb/chunks.js";
import { decisionsOfEntries } from "../src/msb/decisions.js";
import { SystemClock } from "../src/runtime/system.js";
import { median } from "./stats.js";

/** The UTXO body is what is measured here: an MSB of a shard that decided no cross-shard transaction. */
const NO_DECISIONS = decisionsOfEntries(new Uint8Array(0));

const RESULTS_FOLDER = "bench/results";
const ENTRY = UTXO_ENTRY.bytes;
const SIZES = [100_000, 1_000_000];
const RUNS: Record<number, number> = { 100_000: 7, 1_000_000: 3 };
const VERIFY_PROOFS = 20_000;

/** `count` entries in no order, 1–3 outputs per random txid, as a UTXO table would hold them. */
function randomSet(count: number): Uint8Array {
  const packed = new Uint8Array(count * ENTRY);
  const owners = randomBytes(32 * 1024);
  for (let k = 0; k < count; ) {
    const txid = randomBytes(32);
    const outputs = Math.min(count - k, 1 + (txid[0]! % 3));
    for (let index = 0; index < outputs; index++, k++) {
      const at = k * ENTRY;
      packed.set(txid, at);
      new DataView(packed.buffer).setUint32(at + 32, index, true);
      packed.set(owners.subarray((k % 1024) * 32, (k % 1024 + 1) * 32), at + 36);
      new DataView(packed.buffer).setBigUint64(at + 68, 1n + BigInt(txid[1]!) * 1_000_000n, true);
    }
  }
  // Table order is hash order, not creation order: shuffle whole entries.
  const order = Array.from({ length: count }, (_, i) => i).sort(() => Math.random() - 0.5);
  const shuffled = new Uint8Array(packed.length);
  order.forEach((from, to) => shuffled.set(packed.subarray(from * ENTRY, (from + 1) * ENTRY), to * ENTRY));
  return shuffled;
}

function timeMs(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeAsyncMs(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** The whole body fetched from one in-process server (every chunk verified), median of `runs`. */
async function bootstrapFigures(header: ReturnType<typeof makeMsbHeader>, entries: Uint8Array, runs: number) {
  let server!: MsbChunkServer;
  const serverBuildMs = Math.round(timeMs(() => (server = new MsbChunkServer(header, entries, NO_DECISIONS.entries))) * 10) / 10;
  const network = { request: (_source: string, request: Parameters<typeof encodeChunkRequest>[0]) => Promise.resolve(server.serve(encodeChunkRequest(request))) };
  const clock = new SystemClock({ unref: true });
  let body!: BootstrappedBody;
  const times: number[] = [];
  for (let run = 0; run < runs; run++) times.push(await timeAsyncMs(async () => (body = await fetchMsbBody({ header, section: MsbSection.Utxos, sources: ["local"], network, clock }))));
  if (!Buffer.from(body.entries).equals(Buffer.from(entries))) throw new Error("the bootstrapped body differs from the served one");
  const { bytes, entryBytes, chunks } = body.report;
  return { serverBuildMs, bootstrapMs: Math.round(median(times) * 10) / 10, chunks, bytes, entryBytes, bytesOverEntryBytes: Number((bytes / entryBytes).toFixed(6)) };
}

function medianMs(runs: number, run: () => void): number {
  return Math.round(median(Array.from({ length: runs }, () => timeMs(run))) * 10) / 10;
}

/** `sorted` as a kept MSB body's chunks (the msbBody records). */
function bodyChunks(sorted: Uint8Array): Uint8Array[] {
  const bytes = MSB_BODY_CHUNK_ENTRIES * ENTRY;
  return Array.from({ length: Math.ceil(sorted.length / bytes) }, (_, i) => sorted.subarray(i * bytes, (i + 1) * bytes));
}

// The machine is shared: the load average says how far the absolute times can be trusted (ratios hold better).
const figures: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, entryBytes: ENTRY, loadAverage1m: Number(loadavg()[0]!.toFixed(1)) };
for (const size of SIZES) {
  const runs = RUNS[size]!;
  const unordered = randomSet(size);
  const sorted = sortByOutpoint(unordered);
  const sortMs = medianMs(runs, () => sortByOutpoint(unordered));
  const plainSortMs = Math.round(timeMs(() => {
    const entries = Array.from({ length: size }, (_, k) => Buffer.from(unordered.buffer, k * ENTRY, ENTRY));
    entries.sort((a, b) => Buffer.compare(a.subarray(0, 36), b.subarray(0, 36)));
  }));
  const rootMs = medianMs(runs, () => merkleRootOfPackedLeaves(sorted, ENTRY));
  const buildMs = medianMs(runs, () => snapshotOfEntries(unordered));
  const chunks = bodyChunks(sorted);
  const orderedBuildMs = medianMs(runs, () => snapshotOfOrderedEntries(chunks));
  const snapshot = snapshotOfEntries(unordered);
  let tree = msbTree(snapshot);
  const treeMs = medianMs(Math.min(runs, 3), () => (tree = msbTree(snapshot)));
  const header = makeMsbHeader({ chain: randomBytes(32), shard: 0, epoch: 9, height: 1000, snapshot, decisions: NO_DECISIONS, backPointers: backPointerEpochs(9).map(() => randomBytes(32)) });
  const trusted = msbHeaderHash(header);
  const proofs = Array.from({ length: VERIFY_PROOFS }, () => {
    const { txid, index } = unpackEntry(snapshot.entries, Math.floor(Math.random() * size) * ENTRY);
    return proveUtxo(header, snapshot, tree, txid, index);
  });
  const verifyMs = timeMs(() => proofs.forEach((proof) => verifyUtxoProof(proof, trusted)));
  const bootstrap = await bootstrapFigures(header, snapshot.entries, Math.min(runs, 3));
  const result = {
    utxos: size,
    sortMs,
    plainArraySortMs: plainSortMs,
    rootMs,
    msbBuildMs: buildMs,
    orderedBuildMs,
    treeMs,
    proofBytes: proofs[0]!.length,
    verifyPerSecond: Math.round(VERIFY_PROOFS / (verifyMs / 1000)),
    bootstrap: { ...bootstrap, bootstrapOverRootTime: Number((bootstrap.bootstrapMs / rootMs).toFixed(2)) },
  };
  figures[`utxos${size}`] = result;
  console.log(JSON.stringify(result));
}
writeFileSync(join(RESULTS_FOLDER, "msb.json"), JSON.stringify(figures, null, 2) + "\n");
