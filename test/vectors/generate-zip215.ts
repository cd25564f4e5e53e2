/**
 * Generates the ZIP-215 consensus vectors (test/vectors/zip215.json) and the extra edge cases
 * (test/vectors/zip215-edge.json). Run after `npx tsc`: `node dist/test/vectors/generate-zip215.js`.
 *
 * The generated files are committed; the test (test/crypto/ed25519.test.ts) re-checks every
 * vector against @noble/curves in zip215 mode, so a mistake here cannot make a test pass.
 *
 * Derivation of zip215.json, following ZIP-215 (https://zips.z.cash/zip-0215) and the
 * ed25519-zebra vector set it cites:
 * - The 8 points of the 8-torsion subgroup in canonical encoding (noble's
 *   ED25519_TORSION_SUBGROUP, checked here to be 8 distinct points P with [8]P = O).
 * - Their non-canonical encodings: a field element y < 19 can also be written y + p < 2^255, and a
 *   point with x = 0 can carry either sign bit. Every candidate (each y + p with both sign bits,
 *   each canonical torsion encoding with its sign bit flipped) that decodes under ZIP-215 rules to
 *   a small-order point is kept. ZIP-215's rationale counts 6 such encodings; this is asserted.
 * - All 14 × 14 pairings (A, R) with S = 0 and the message "Zcash" (as in ed25519-zebra). The
 *   cofactored equation [8][S]B = [8]R + [8][k]A holds because both sides are the identity, so
 *   every vector is valid under ZIP-215. node:crypto's verdict at generation time is recorded for
 *   information (OpenSSL checks the cofactorless equation and rejects non-canonical encodings).
 *
 * zip215-edge.json adds:
 * - S ≥ L (S = L, L + 1, 2^256 − 1) on an honest signature: invalid.
 * - Mixed-order A: A' = [a]B + T for each torsion point T ≠ O, with S = r + k·a where
 *   k = SHA-512(R ‖ A' ‖ M): valid under the cofactored equation, whatever k mod 8 is.
 * - Mixed-order R: R' = [r]B + T with S = r + k·a: valid under the cofactored equation.
 * - The same mixed-order signatures with the message altered: invalid.
 */
import { writeFileSync } from "node:fs";
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";

const Point = ed25519.Point;
/** Field modulus p = 2^255 − 19 (RFC 8032 §5.1). */
const P = 2n ** 255n - 19n;
/** Group order L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const SPKI_ED25519_PREFIX = hexToBytes("302a300506032b6570032100");
const ZCASH_MESSAGE = utf8ToBytes("Zcash");

function littleEndian(value: bigint, length = 32): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function decodeZip215(encoding: Uint8Array): ReturnType<typeof Point.fromBytes> | undefined {
  try {
    return Point.fromBytes(encoding, true);
  } catch {
    return undefined;
  }
}

function nodeCryptoVerdict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(concat(SPKI_ED25519_PREFIX, publicKey)), format: "der", type: "spki" });
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

function smallOrderEncodings(): { canonical: Uint8Array[]; nonCanonical: Uint8Array[] } {
  const canonical = ED25519_TORSION_SUBGROUP.map((hex) => hexToBytes(hex));
  const points = canonical.map((encoding) => Point.fromBytes(encoding));
  for (const [i, point] of points.entries()) {
    if (!point.multiplyUnsafe(8n).is0()) throw new Error(`torsion point ${i} does not have order dividing 8`);
    if (points.some((other, j) => j !== i && other.equals(point))) throw new Error(`torsion point ${i} repeats`);
  }
  const candidates: Uint8Array[] = [];
  for (let y = 0n; y + P < 2n ** 255n; y++) {
    const unreduced = littleEndian(y + P);
    candidates.push(unreduced, Uint8Array.from(unreduced, (b, i) => (i === 31 ? b | 0x80 : b)));
  }
  for (const encoding of canonical) candidates.push(Uint8Array.from(encoding, (b, i) => (i === 31 ? b ^ 0x80 : b)));
  const known = new Set(canonical.map(bytesToHex));
  const nonCanonical: Uint8Array[] = [];
  for (const candidate of candidates) {
    const hex = bytesToHex(candidate);
    const point = decodeZip215(candidate);
    if (point === undefined || known.has(hex) || !point.isSmallOrder()) continue;
    if (bytesToHex(point.toBytes()) === hex) continue;
    known.add(hex);
    nonCanonical.push(candidate);
  }
  if (nonCanonical.length !== 6) throw new Error(`expected 6 non-canonical small-order encodings, found ${nonCanonical.length}`);
  return { canonical, nonCanonical };
}

interface Vector {
  name: string;
  publicKey: string;
  signature: string;
  message: string;
  validZip215: boolean;
  nodeCryptoAtGeneration: boolean;
}

function vector(name: string, publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array, validZip215: boolean): Vector {
  return {
    name,
    publicKey: bytesToHex(publicKey),
    signature: bytesToHex(signature),
    message: bytesToHex(message),
    validZip215,
    nodeCryptoAtGeneration: nodeCryptoVerdict(publicKey, message, signature),
  };
}

function zip215Pairings(): Vector[] {
  const { canonical, nonCanonical } = smallOrderEncodings();
  const labelled = [
    ...canonical.map((e, i) => ({ label: `torsion[${i}]`, encoding: e })),
    ...nonCanonical.map((e, i) => ({ label: `noncanonical[${i}]`, encoding: e })),
  ];
  const zeroS = new Uint8Array(32);
  const vectors: Vector[] = [];
  for (const a of labelled) {
    for (const r of labelled) {
      vectors.push(vector(`A=${a.label} R=${r.label}`, a.encoding, concat(r.encoding, zeroS), ZCASH_MESSAGE, true));
    }
  }
  return vectors;
}

/** A scalar mod L derived from a label, so the edge vectors are reproducible. */
function labelScalar(label: string): bigint {
  return fromLittleEndian(sha512(utf8ToBytes(label))) % L;
}

function challenge(r: Uint8Array, a: Uint8Array, message: Uint8Array): bigint {
  return fromLittleEndian(sha512(concat(r, a, message))) % L;
}

function edgeCases(): Vector[] {
  const vectors: Vector[] = [];
  const secret = hexToBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const honestKey = ed25519.getPublicKey(secret);
  const message = utf8ToBytes("S must be below L");
  const honest = ed25519.sign(message, secret);
  const sOf = (signature: Uint8Array) => fromLittleEndian(signature.subarray(32));
  const withS = (s: bigint) => concat(honest.subarray(0, 32), littleEndian(s));
  vectors.push(vector("honest signature", honestKey, honest, message, true));
  vectors.push(vector("S = L", honestKey, withS(L), message, false));
  vectors.push(vector("S = L + 1", honestKey, withS(L + 1n), message, false));
  vectors.push(vector("S = 2^256 - 1", honestKey, withS(2n ** 256n - 1n), message, false));
  vectors.push(vector("S + L (same residue)", honestKey, withS(sOf(honest) + L), message, false));

  const a = labelScalar("IOSChain ZIP-215 mixed-order secret");
  const torsion = ED25519_TORSION_SUBGROUP.map((hex) => Point.fromBytes(hexToBytes(hex))).filter((t) => !t.is0());
  for (const [i, t] of torsion.entries()) {
    const mixedMessage = utf8ToBytes(`mixed-order A, torsion ${i}`);
    const mixedKey = Point.BASE.multiply(a).add(t).toBytes();
    const r = labelScalar(`IOSChain ZIP-215 nonce A ${i}`);
    const rEncoding = Point.BASE.multiply(r).toBytes();
    const s = (r + challenge(rEncoding, mixedKey, mixedMessage) * a) % L;
    const signature = concat(rEncoding, littleEndian(s));
    vectors.push(vector(`mixed-order A (torsion ${i})`, mixedKey, signature, mixedMessage, true));
    vectors.push(vector(`mixed-order A (torsion ${i}), altered message`, mixedKey, signature, utf8ToBytes(`mixed-order A, torsion ${i}!`), false));
  }
  const key = Point.BASE.multiply(a).toBytes();
  for (const [i, t] of torsion.entries()) {
    const mixedMessage = utf8ToBytes(`mixed-order R, torsion ${i}`);
    const r = labelScalar(`IOSChain ZIP-215 nonce R ${i}`);
    const rEncoding = Point.BASE.multiply(r).add(t).toBytes();
    const s = (r + challenge(rEncoding, key, mixedMessage) * a) % L;
    const signature = concat(rEncoding, littleEndian(s));
    vectors.push(vector(`mixed-order R (torsion ${i})`, key, signature, mixedMessage, true));
    vectors.push(vector(`mixed-order R (torsion ${i}), wrong key`, honestKey, signature, mixedMessage, false));
  }
  return vectors;
}

function save(file: string, description: string, vectors: Vector[]): void {
  const url = new URL(`../../../test/vectors/${file}`, import.meta.url);
  const document = { description, generatedWith: `node ${process.version}, OpenSSL ${process.versions.openssl}`, vectors };
  writeFileSync(url, JSON.stringify(document, null, 2) + "\n");
  console.log(`${url.pathname}: ${vectors.length} vectors`);
}

save(
  "zip215.json",
  "ZIP-215 small-order vectors: the 14 small-order encodings (8 canonical torsion points + 6 non-canonical) paired as (A, R), S = 0, message \"Zcash\"; all valid under ZIP-215. Generated by test/vectors/generate-zip215.ts.",
  zip215Pairings(),
);
save(
  "zip215-edge.json",
  "ZIP-215 edge cases: S >= L (invalid), mixed-order A and R signed honestly (valid under the cofactored equation). Generated by test/vectors/generate-zip215.ts.",
  edgeCases(),
);
