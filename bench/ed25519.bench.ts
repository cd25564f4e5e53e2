/**
 * Ed25519 verification rate, one run, side by side: ours (single, and batches of 8/64/256, with
 * and without the key cache), node:crypto with a cached KeyObject, libsodium-wrappers (WASM),
 * sodium-native (native addon), @noble/curves, and the worker pool with 1 and 2 workers.
 *
 * Every case verifies honest signatures over 128-byte messages from a set of 4096 made with 64
 * keys (a block's signers repeat, which is what the key cache is for). Rates are verifications
 * per second (a batch case's size over its mean time per op), measured twice: by benny on the
 * wall clock, then per CPU-second of the process, which other load on a shared machine disturbs
 * less. Output: bench/results/ed25519.json (benny) and bench/results/ed25519-rates.json (both
 * rate tables with ratios against the references).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import sodium from "libsodium-wrappers";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier, type SignatureItem } from "../src/crypto/ed25519.js";
import { packSignatureBatch } from "../src/crypto/signature-batch.js";
import { defaultFlavor } from "../src/crypto/wasm.js";
import { PiscinaVerifierPool } from "../src/node/pool/verify-pool.js";
import type { VerifierPool } from "../src/node/pool/interface.js";

interface SodiumNative {
  crypto_sign_verify_detached(signature: Buffer, message: Buffer, publicKey: Buffer): boolean;
}
const sodiumNative = createRequire(import.meta.url)("sodium-native") as SodiumNative;

const ITEM_COUNT = 4096;
const KEY_COUNT = 64;
const MESSAGE_LENGTH = 128;
const BATCH_SIZES = [8, 64, 256] as const;
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const RESULTS_FOLDER = "bench/results";

const keys = Array.from({ length: KEY_COUNT }, () => {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, randomBytes(32)]), format: "der", type: "pkcs8" });
  const publicKey = Uint8Array.from(createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12));
  const keyObject = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
  return { privateKey, publicKey, keyObject };
});
const items = Array.from({ length: ITEM_COUNT }, (_, index) => {
  const key = keys[index % KEY_COUNT]!;
  const message = Uint8Array.from(randomBytes(MESSAGE_LENGTH));
  const signature = Uint8Array.from(nodeSign(null, message, key.privateKey));
  return {
    publicKey: key.publicKey,
    signature,
    message,
    keyObject: key.keyObject,
    buffers: { publicKey: Buffer.from(key.publicKey), signature: Buffer.from(signature), message: Buffer.from(message) },
  };
});

await sodium.ready;
const cached = new Ed25519Verifier();
const uncached = new Ed25519Verifier({ keyCacheSize: 0 });
const scalar = new Ed25519Verifier({ flavor: "scalar" });
const packed = packSignatureBatch(items);
const pools = { 1: new PiscinaVerifierPool({ threads: 1 }), 2: new PiscinaVerifierPool({ threads: 2 }) };

/** Every implementation must accept every prepared signature before its speed means anything. */
function checkAllValid(name: string, verifyOne: (item: (typeof items)[number]) => boolean): void {
  const rejected = items.slice(0, 256).filter((item) => !verifyOne(item)).length;
  if (rejected > 0) throw new Error(`${name} rejected ${rejected} honest signatures`);
}
checkAllValid("ours", (item) => cached.verify(item.signature, item.message, item.publicKey));
checkAllValid("ours batch", (item) => cached.verifyBatch([item])[0] === true);
checkAllValid("node:crypto", (item) => nodeVerify(null, item.message, item.keyObject, item.signature));
checkAllValid("libsodium-wrappers", (item) => sodium.crypto_sign_verify_detached(item.signature, item.message, item.publicKey));
checkAllValid("sodium-native", (item) => sodiumNative.crypto_sign_verify_detached(item.buffers.signature, item.buffers.message, item.buffers.publicKey));
if ((await pools[2].verifyPacked(packed)).some((verdict) => verdict !== 1)) throw new Error("the pool rejected honest signatures");

interface Case {
  name: string;
  /** Verifications one call of `run` performs. */
  perOp: number;
  /** Verifications the CPU-time pass measures (fewer for the slow reference). */
  cpuSample: number;
  run: () => void | Promise<void>;
}
type Item = (typeof items)[number];
const CPU_SAMPLE = 8192;

function single(name: string, verifyOne: (item: Item) => boolean, cpuSample = CPU_SAMPLE): Case {
  let next = 0;
  return {
    name,
    perOp: 1,
    cpuSample,
    run: () => {
      verifyOne(items[next]!);
      next = (next + 1) % ITEM_COUNT;
    },
  };
}

function batched(name: string, verifier: Ed25519Verifier, size: number): Case {
  const batches: SignatureItem[][] = [];
  for (let start = 0; start + size <= ITEM_COUNT; start += size) batches.push(items.slice(start, start + size));
  let next = 0;
  return {
    name,
    perOp: size,
    cpuSample: CPU_SAMPLE,
    run: () => {
      verifier.verifyBatch(batches[next]!);
      next = (next + 1) % batches.length;
    },
  };
}

function pooled(name: string, pool: VerifierPool): Case {
  return {
    name,
    perOp: ITEM_COUNT,
    cpuSample: CPU_SAMPLE,
    run: async () => {
      await pool.verifyPacked(packed);
    },
  };
}

/**
 * Verifications per CPU-second of the whole process (all threads), best of two passes. The
 * machine is shared, so wall-clock rates swing with other load; CPU time does much less. For the
 * pool cases it is the per-core rate including the pool's packing and messaging overhead.
 */
async function cpuRate(c: Case): Promise<number> {
  const ops = Math.ceil(c.cpuSample / c.perOp);
  let best = Infinity;
  for (let pass = 0; pass < 2; pass++) {
    const start = process.cpuUsage();
    for (let op = 0; op < ops; op++) await c.run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return Math.round((ops * c.perOp) / best);
}

const NODE = "node:crypto (cached KeyObject)";
const LIBSODIUM = "libsodium-wrappers (WASM)";
const SODIUM_NATIVE = "sodium-native (addon)";
const REFERENCES = [NODE, LIBSODIUM, SODIUM_NATIVE] as const;
const flavor = defaultFlavor();

const cases: Case[] = [
  single(NODE, (item) => nodeVerify(null, item.message, item.keyObject, item.signature)),
  single(LIBSODIUM, (item) => sodium.crypto_sign_verify_detached(item.signature, item.message, item.publicKey)),
  single(SODIUM_NATIVE, (item) => sodiumNative.crypto_sign_verify_detached(item.buffers.signature, item.buffers.message, item.buffers.publicKey)),
  single("@noble/curves (zip215)", (item) => ed25519.verify(item.signature, item.message, item.publicKey, { zip215: true }), 512),
  single(`ours single, key cache (${flavor})`, (item) => cached.verify(item.signature, item.message, item.publicKey)),
  single(`ours single, no key cache (${flavor})`, (item) => uncached.verify(item.signature, item.message, item.publicKey)),
  ...BATCH_SIZES.map((size) => batched(`ours batch ${size}, key cache (${flavor})`, cached, size)),
  ...BATCH_SIZES.map((size) => batched(`ours batch ${size}, no key cache (${flavor})`, uncached, size)),
  batched("ours batch 64, key cache (scalar)", scalar, 64),
  pooled(`pool, 1 worker, ${ITEM_COUNT} per call`, pools[1]),
  pooled(`pool, 2 workers, ${ITEM_COUNT} per call`, pools[2]),
];

function ratioTable(rates: Map<string, number>, label: string): Record<string, string | number>[] {
  return cases.map((c) => {
    const rate = rates.get(c.name)!;
    const ratios = REFERENCES.map((ref) => [`× ${ref.split(" ")[0]}`, +(rate / rates.get(ref)!).toFixed(2)]);
    return { case: c.name, [label]: rate, ...Object.fromEntries(ratios) };
  });
}

const wallRates = new Map<string, number>();
await b.suite(
  "Ed25519 verification",
  b.configure({ cases: { minTime: 1, maxTime: 3 } }),
  ...cases.map((c) => b.add(c.name, c.run)),
  b.cycle(),
  b.complete((summary) => {
    const perOp = new Map(cases.map((c) => [c.name, c.perOp]));
    // From the mean time per op rather than benny's rounded ops/s, which is coarse for the pool cases.
    for (const result of summary.results) wallRates.set(result.name, Math.round(perOp.get(result.name)! / result.details.mean));
  }),
  b.save({ file: "ed25519", folder: RESULTS_FOLDER, format: "json" }),
);
const wallTable = ratioTable(wallRates, "verif/s (wall)");
console.log("\nWall-clock rates (benny), verifications per second and ratios:");
console.table(wallTable);

const cpuRates = new Map<string, number>();
for (const c of cases) cpuRates.set(c.name, await cpuRate(c));
const cpuTable = ratioTable(cpuRates, "verif/CPU-s");
console.log("Rates per CPU-second (all threads), verifications and ratios:");
console.table(cpuTable);

writeFileSync(
  `${RESULTS_FOLDER}/ed25519-rates.json`,
  JSON.stringify(
    { date: new Date().toISOString(), node: process.version, itemCount: ITEM_COUNT, keyCount: KEY_COUNT, messageLength: MESSAGE_LENGTH, wallTable, cpuTable },
    null,
    2,
  ) + "\n",
);

await Promise.all([pools[1].close(), pools[2].close()]);
