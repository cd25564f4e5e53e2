// A real collective signature without running the CoSi protocol: each signer's Schnorr commitment
// and response (SchnorrKey, src/crypto/schnorr.ts) aggregated as CoSi does, so certificates in
// codec and proof tests verify exactly as the protocol's own (verifyCollectiveSignature).
import { challengeScalar, type SchnorrKey } from "../../src/crypto/schnorr.js";
import type { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import type { CollectiveSignature } from "../../src/consensus/cosi/codec.js";
import type { Rng } from "../../src/runtime/interface.js";

/** The multisignature of `message` by `keys[i]` for i in `indices` (mask bit i = participant i of `keys`). */
export function cosign(keys: readonly SchnorrKey[], indices: readonly number[], message: Uint8Array, rng: Rng, verifier: Ed25519Verifier): CollectiveSignature {
  const mask = new Uint8Array(Math.ceil(keys.length / 8));
  for (const i of indices) mask[i >> 3] = mask[i >> 3]! | (1 << (i & 7));
  const commitments = indices.map((i) => keys[i]!.commit(rng));
  const V = verifier.aggregatePoints(commitments.map((c) => c.point));
  const c = challengeScalar(V, verifier.aggregateKeys(keys.map((key) => key.publicKey), mask), message);
  const r = verifier.sumScalars(indices.map((i, k) => keys[i]!.respond(commitments[k]!, c)));
  const signature = new Uint8Array(64);
  signature.set(V, 0);
  signature.set(r, 32);
  return { mask, signature };
}
