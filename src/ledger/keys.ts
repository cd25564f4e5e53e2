/**
 * Ed25519 key pairs for transaction owners (DESIGN.md §2: signing happens in TypeScript, WASM only
 * verifies). Signing uses node:crypto (OpenSSL), the fastest signer available here, which matters
 * for load generation.
 *
 * API: `keyPairFromSecret(secretKey32): KeyPair`, `signMessage(secretKey32, message): Uint8Array`.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import { SECRET_KEY_BYTES } from "../codec/sizes.js";
import { check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

export interface KeyPair {
  /** 32-byte Ed25519 public key (RFC 8032 encoding). */
  readonly publicKey: Uint8Array;
  /** 32-byte RFC 8032 private key seed. */
  readonly secretKey: Uint8Array;
}

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7); the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  let key = keyObjects.get(secretKey);
  if (key === undefined) {
    check<LedgerErrorCode>(secretKey.length === SECRET_KEY_BYTES, "TX_BAD_FIELD", `secret key must be ${SECRET_KEY_BYTES} bytes, got ${secretKey.length}`);
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey]), format: "der", type: "pkcs8" });
    keyObjects.set(secretKey, key);
  }
  return key;
}

export function keyPairFromSecret(secretKey: Uint8Array): KeyPair {
  const secret = Uint8Array.from(secretKey);
  const jwk = createPublicKey(privateKeyObject(secret)).export({ format: "jwk" });
  const publicKey = new Uint8Array(Buffer.from(jwk.x as string, "base64url"));
  return { publicKey, secretKey: secret };
}

/** Ed25519 signature (RFC 8032 §5.1.6) of `message` under the 32-byte `secretKey`. */
export function signMessage(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyObject(secretKey)));
}
