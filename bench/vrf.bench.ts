/**
 * ECVRF-EDWARDS25519-SHA512-TAI speed (src/crypto/vrf.ts), one run: vrfProve and vrfVerify
 * beside an Ed25519 single verification, ours (WASM, src/crypto/ed25519.ts, key cache on) and
 * @noble/curves' ed25519.verify, so the cost of a VRF check in signature checks is visible.
 *
 * Every case works through 256 keys, each with one 32-byte input (a round seed's size) and one
 * signature over the same bytes; vrfProve includes the RFC 8032 key expansion, as it does per
 * call. Rates are operations per second from benny's mean time per op. Output:
 * bench/results/vrf.json (benny) and bench/results/vrf-rates.json (rates and ratios).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier } from "../src/crypto/ed25519.js";
import { defaultFlavor } from "../src/crypto/wasm.js";
import { vrfProve, vrfVerify } from "../src/crypto/vrf.js";

const KEY_COUNT = 256;
const ALPHA_BYTES = 32;
const RESULTS_FOLDER = "bench/results";

const items = Array.from({ length: KEY_COUNT }, () => {
  const secretKey = Uint8Array.from(randomBytes(32));
  const alpha = Uint8Array.from(randomBytes(ALPHA_BYTES));
  return {
    secretKey,
    publicKey: ed25519.getPublicKey(secretKey),
    alpha,
    proof: vrfProve(secretKey, alpha),
    signature: ed25519.sign(alpha, secretKey),
  };
});
type Item = (typeof items)[number];
const verifier = new Ed25519Verifier();

const VRF_VERIFY = "vrfVerify";
const OURS = `Ed25519 verify, ours (${defaultFlavor()}, key cache)`;
const NOBLE = "Ed25519 verify, @noble/curves";
const cases: [string, (item: Item) => unknown][] = [
  ["vrfProve", (item) => vrfProve(item.secretKey, item.alpha)],
  [VRF_VERIFY, (item) => vrfVerify(item.publicKey, item.proof, item.alpha)],
  [OURS, (item) => verifier.verify(item.signature, item.alpha, item.publicKey)],
  [NOBLE, (item) => ed25519.verify(item.signature, item.alpha, item.publicKey)],
];

/** Every proof and signature must be accepted before its speed means anything. */
for (const item of items) {
  if (vrfVerify(item.publicKey, item.proof, item.alpha) === undefined) throw new Error("vrfVerify rejected an honest proof");
  if (!verifier.verify(item.signature, item.alpha, item.publicKey)) throw new Error("ours rejected an honest signature");
  if (!ed25519.verify(item.signature, item.alpha, item.publicKey)) throw new Error("noble rejected an honest signature");
}

function cycling(run: (item: Item) => unknown): () => void {
  let next = 0;
  return () => {
    run(items[next]!);
    next = (next + 1) % KEY_COUNT;
  };
}

const rates = new Map<string, number>();
await b.suite(
  "ECVRF-EDWARDS25519-SHA512-TAI",
  b.configure({ cases: { minTime: 1, maxTime: 3 } }),
  ...cases.map(([name, run]) => b.add(name, cycling(run))),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rates.set(result.name, Math.round(1 / result.details.mean));
  }),
  b.save({ file: "vrf", folder: RESULTS_FOLDER, format: "json" }),
);

const table = cases.map(([name]) => ({
  case: name,
  "ops/s": rates.get(name)!,
  "µs/op": +(1e6 / rates.get(name)!).toFixed(1),
}));
const ratios = {
  "vrfVerify time / ours Ed25519 verify time": +(rates.get(OURS)! / rates.get(VRF_VERIFY)!).toFixed(2),
  "vrfVerify time / @noble Ed25519 verify time": +(rates.get(NOBLE)! / rates.get(VRF_VERIFY)!).toFixed(2),
};
console.log("\nRates (benny, wall clock):");
console.table(table);
console.log(ratios);
writeFileSync(
  `${RESULTS_FOLDER}/vrf-rates.json`,
  JSON.stringify({ date: new Date().toISOString(), node: process.version, keyCount: KEY_COUNT, alphaBytes: ALPHA_BYTES, table, ratios }, null, 2) + "\n",
);
