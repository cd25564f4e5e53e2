/**
 * A validator's DRP keys (white paper §5.2 input 2: every server's PVSS key y_i = x_i·G is known
 * to all) are its Ed25519 validator key: x_i is the Ed25519 secret scalar a (RFC 8032 §5.1.5)
 * and y_i the same point A = a·B read as a ristretto255 element (RFC 9496 §4: ristretto255 is the
 * prime-order group of edwards25519 points, and a registered validator key lies in it — the
 * registry refuses keys with a torsion component, src/consensus/registry.ts `keyProblem`). So the
 * identity chain, which already fixes every validator's key with its proof of possession, fixes
 * its PVSS key too; nothing more is registered.
 *
 * Reusing a for decryption is sound here: a server decrypts only shares whose DLEQ proof against
 * the dealer's commitments verified (session.ts), i.e. Y = p(i)·y with p(i) the dealer's own
 * polynomial value, so S = Y/x = p(i)·G tells the dealer nothing it did not know; every proof is
 * Fiat–Shamir over its own domain (dleq.ts), apart from Ed25519's and the Schnorr multisignature's.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { keyProblem } from "../../consensus/registry.js";
import { IosError } from "../../errors.js";
import type { ServerKeys } from "./config.js";
import { Fn, RistrettoPoint } from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";
import type { ServerSecrets } from "./session.js";

/**
 * The DRP keys of the validator whose Ed25519 public key is `publicKey`, with the proof of
 * possession its registry holds (DRP_BAD_ARGUMENT for a non-point or a key outside the
 * prime-order group).
 */
export function validatorServerKeys(publicKey: Uint8Array, possession: Uint8Array): ServerKeys {
  const problem = keyProblem(publicKey);
  if (problem !== undefined) throw new IosError<DrpErrorCode>("DRP_BAD_ARGUMENT", `a validator key is refused: ${problem}`);
  return { signingKey: Uint8Array.from(publicKey), pvssKey: new RistrettoPoint(ed25519.Point.fromBytes(publicKey)), possession: Uint8Array.from(possession) };
}

/** The DRP secrets of the validator whose Ed25519 seed is `seed`. */
export function validatorServerSecrets(seed: Uint8Array): ServerSecrets {
  return { signingSeed: Uint8Array.from(seed), pvssSecret: Fn.create(ed25519.utils.getExtendedPublicKey(seed).scalar) };
}
