/**
 * SHA-256 and Merkle speed, one run, side by side: ours (SIMD and scalar builds) against
 * node:crypto, @noble/hashes, hash-wasm and @chainsafe/as-sha256, each through its best API.
 *
 * Suite 1 hashes 4096 different 64-byte messages per op (a Merkle node's size): ours in one
 * batch call, as-sha256 both one at a time (digest64) and batched four lanes at a time
 * (hashInto), the others one message at a time with their fastest synchronous call.
 * Suite 2 computes the RFC 6962 root (leaf = H(0x00 ‖ data), node = H(0x01 ‖ l ‖ r)) of 2^16
 * 32-byte leaves: ours inside WASM memory; the references level by level with a reused scratch
 * buffer. Every implementation's output is checked equal before timing.
 * Then the main cases run interleaved and keep their best round, a cross-check that a shared,
 * loaded machine disturbs less. Output: bench/results/sha256.json and sha256-merkle.json
 * (benny), and bench/results/sha256-rates.json (rates, ratios, interleaved best rounds).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { createSHA256 } from "hash-wasm";
import * as asSha256 from "@chainsafe/as-sha256";
import { Sha256Wasm } from "../src/crypto/sha256.js";
import { MerkleWasm } from "../src/crypto/merkle.js";

const MESSAGE_COUNT = 4096;
const LEAF_COUNT = 1 << 16;
/** Hashes in one root: 2^16 leaves and 2^16 - 1 nodes. */
const HASHES_PER_ROOT = 2 * LEAF_COUNT - 1;
const RESULTS_FOLDER = "bench/results";

const simd = new Sha256Wasm("simd");
const scalar = new Sha256Wasm("scalar");
const merkleSimd = new MerkleWasm(simd);
const merkleScalar = new MerkleWasm(scalar);
const hashWasm = await createSHA256();

const messages = new Uint8Array(randomBytes(MESSAGE_COUNT * 64));
const messageList = Array.from({ length: MESSAGE_COUNT }, (_, i) => messages.subarray(i * 64, (i + 1) * 64));
const leafData = new Uint8Array(randomBytes(LEAF_COUNT * 32));
const leaves = Array.from({ length: LEAF_COUNT }, (_, i) => leafData.subarray(i * 32, (i + 1) * 32));

type HashFn = (message: Uint8Array) => Uint8Array;
const nodeHash: HashFn = (m) => createHash("sha256").update(m).digest();
const hashWasmHash: HashFn = (m) => hashWasm.init().update(m).digest("binary");

/** RFC 6962 root computed level by level with `hash`, promoting an unpaired last node. */
function referenceRoot(hash: HashFn): Uint8Array {
  const scratch = new Uint8Array(65);
  let level = leaves.map((leaf) => {
    scratch[0] = 0x00;
    scratch.set(leaf, 1);
    return hash(scratch.subarray(0, 33));
  });
  scratch[0] = 0x01;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      scratch.set(level[i]!, 1);
      scratch.set(level[i + 1]!, 33);
      next.push(hash(scratch));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Every implementation must produce the same digests and root before its speed means anything. */
function checkAgreement(): void {
  const expected = messageList.map((m) => hex(nodeHash(m))).join("");
  const asBatch = new Uint8Array(MESSAGE_COUNT * 32);
  asSha256.hashInto(messages, asBatch);
  const digests: Record<string, string> = {
    "ours simd": hex(simd.sha256Batch64(messages)),
    "ours scalar": hex(scalar.sha256Batch64(messages)),
    noble: messageList.map((m) => hex(nobleSha256(m))).join(""),
    "hash-wasm": messageList.map((m) => hex(hashWasmHash(m))).join(""),
    "as-sha256 digest64": messageList.map((m) => hex(asSha256.digest64(m))).join(""),
    "as-sha256 hashInto": hex(asBatch),
  };
  for (const [name, value] of Object.entries(digests)) if (value !== expected) throw new Error(`${name} digests differ`);
  const root = hex(referenceRoot(nodeHash));
  const roots: Record<string, string> = {
    "ours simd packed": hex(merkleSimd.rootOfPackedLeaves(leafData, 32)),
    "ours scalar packed": hex(merkleScalar.rootOfPackedLeaves(leafData, 32)),
    "ours simd list": hex(merkleSimd.root(leaves)),
    noble: hex(referenceRoot(nobleSha256)),
    "hash-wasm": hex(referenceRoot(hashWasmHash)),
    "as-sha256": hex(referenceRoot(asSha256.digest)),
  };
  for (const [name, value] of Object.entries(roots)) if (value !== root) throw new Error(`${name} root differs`);
}
checkAgreement();

/** Hashes per op of each case, to turn ops/s into hashes/s. */
const perOp = new Map<string, number>();

function perMessage(name: string, hashOne: (message: Uint8Array) => unknown) {
  perOp.set(name, MESSAGE_COUNT);
  return b.add(name, () => {
    for (const message of messageList) hashOne(message);
  });
}

function perBatch(name: string, hashAll: () => unknown) {
  perOp.set(name, MESSAGE_COUNT);
  return b.add(name, hashAll);
}

function perRoot(name: string, root: () => unknown) {
  perOp.set(name, HASHES_PER_ROOT);
  return b.add(name, root);
}

const NODE = "node:crypto";
const AS_DIGEST64 = "@chainsafe/as-sha256 digest64";
const AS_BATCH = "@chainsafe/as-sha256 hashInto (4 lanes)";
const asOutput = new Uint8Array(MESSAGE_COUNT * 32);

interface Rate {
  name: string;
  hashesPerSecond: number;
  marginPercent: number;
}
const allRates: Record<string, Rate[]> = {};

/** Prints M hashes/s and ratios against `references`; keeps the rows for the rates file. */
function report(suite: string, references: readonly string[]) {
  return b.complete((summary) => {
    const rates: Rate[] = summary.results.map((result) => ({
      name: result.name,
      hashesPerSecond: Math.round(perOp.get(result.name)! / result.details.mean),
      marginPercent: result.margin,
    }));
    allRates[suite] = rates;
    const rateOf = (name: string) => rates.find((rate) => rate.name === name)!.hashesPerSecond;
    console.table(
      rates.map((rate) => ({
        case: rate.name,
        "M hashes/s": +(rate.hashesPerSecond / 1e6).toFixed(3),
        "±%": rate.marginPercent,
        ...Object.fromEntries(references.map((ref) => [`× ${ref}`, +(rate.hashesPerSecond / rateOf(ref)).toFixed(2)])),
      })),
    );
  });
}

const options = b.configure({ cases: { minTime: 1, maxTime: 3 } });

await b.suite(
  `SHA-256 of 64-byte messages (${MESSAGE_COUNT} per op)`,
  options,
  perBatch("ours sha256Batch64 (simd)", () => simd.sha256Batch64(messages)),
  perBatch("ours sha256Batch64 (scalar)", () => scalar.sha256Batch64(messages)),
  perMessage("ours sha256, one call per message (simd)", (m) => simd.sha256(m)),
  perMessage(NODE, nodeHash),
  perMessage("@noble/hashes", nobleSha256),
  perMessage("hash-wasm", hashWasmHash),
  perMessage(AS_DIGEST64, asSha256.digest64),
  perBatch(AS_BATCH, () => asSha256.hashInto(messages, asOutput)),
  b.cycle(),
  report("hash64", [AS_DIGEST64, AS_BATCH, NODE]),
  b.save({ file: "sha256", folder: RESULTS_FOLDER, format: "json" }),
);

const MERKLE_NODE = "node:crypto level by level";
const MERKLE_AS = "@chainsafe/as-sha256 level by level";

await b.suite(
  `Merkle root (RFC 6962) of 2^16 32-byte leaves (${HASHES_PER_ROOT} hashes per root)`,
  options,
  perRoot("ours rootOfPackedLeaves (simd)", () => merkleSimd.rootOfPackedLeaves(leafData, 32)),
  perRoot("ours rootOfPackedLeaves (scalar)", () => merkleScalar.rootOfPackedLeaves(leafData, 32)),
  perRoot("ours root of a leaf array (simd)", () => merkleSimd.root(leaves)),
  perRoot(MERKLE_NODE, () => referenceRoot(nodeHash)),
  perRoot("@noble/hashes level by level", () => referenceRoot(nobleSha256)),
  perRoot("hash-wasm level by level", () => referenceRoot(hashWasmHash)),
  perRoot(MERKLE_AS, () => referenceRoot(asSha256.digest)),
  b.cycle(),
  report("merkle", [MERKLE_AS, MERKLE_NODE]),
  b.save({ file: "sha256-merkle", folder: RESULTS_FOLDER, format: "json" }),
);

/**
 * The machine is shared, so benny's means move with other processes' load. As a cross-check,
 * the main cases also run interleaved, round after round, keeping each case's best round: a
 * load spike then hits every case alike and rarely all rounds.
 */
const INTERLEAVED_ROUNDS = 30;
const interleaved: [string, number, () => unknown][] = [
  ["ours sha256Batch64 (simd)", MESSAGE_COUNT, () => simd.sha256Batch64(messages)],
  ["ours sha256Batch64 (scalar)", MESSAGE_COUNT, () => scalar.sha256Batch64(messages)],
  [NODE, MESSAGE_COUNT, () => messageList.forEach(nodeHash)],
  [AS_DIGEST64, MESSAGE_COUNT, () => messageList.forEach((m) => asSha256.digest64(m))],
  [AS_BATCH, MESSAGE_COUNT, () => asSha256.hashInto(messages, asOutput)],
  ["merkle: ours rootOfPackedLeaves (simd)", HASHES_PER_ROOT, () => merkleSimd.rootOfPackedLeaves(leafData, 32)],
  ["merkle: " + MERKLE_AS, HASHES_PER_ROOT, () => referenceRoot(asSha256.digest)],
];
const bestRate = new Map<string, number>();
for (let round = 0; round < INTERLEAVED_ROUNDS; round++) {
  for (const [name, hashes, run] of interleaved) {
    const start = performance.now();
    run();
    const rate = (hashes / (performance.now() - start)) * 1000;
    bestRate.set(name, Math.max(bestRate.get(name) ?? 0, rate));
  }
}
const bestOf = (name: string) => bestRate.get(name)!;
const interleavedBest = interleaved.map(([name]) => ({
  case: name,
  "M hashes/s": +(bestOf(name) / 1e6).toFixed(3),
  [`× ${AS_DIGEST64}`]: +(bestOf(name) / bestOf(AS_DIGEST64)).toFixed(2),
  [`× ${AS_BATCH}`]: +(bestOf(name) / bestOf(AS_BATCH)).toFixed(2),
  [`× ${NODE}`]: +(bestOf(name) / bestOf(NODE)).toFixed(2),
}));
console.log(`\nBest of ${INTERLEAVED_ROUNDS} interleaved rounds`);
console.table(interleavedBest);

writeFileSync(
  `${RESULTS_FOLDER}/sha256-rates.json`,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      messageCount: MESSAGE_COUNT,
      leafCount: LEAF_COUNT,
      rates: allRates,
      interleavedBest: { rounds: INTERLEAVED_ROUNDS, cases: interleavedBest },
    },
    null,
    2,
  ) + "\n",
);
