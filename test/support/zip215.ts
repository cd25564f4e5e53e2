/**
 * A second valid signature under ZIP-215 for the same message: its R the identity point written
 * non-canonically (y = p + 1), its S = k·a with k hashed over that encoding. Only the key's holder
 * can make it; ZIP-215 verification (src/crypto/ed25519.ts) accepts it, so a transaction re-signed
 * this way keeps its txid and verifies, with other bytes.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { signatureItemsOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { toHex } from "../../src/hex.js";

/** The order of the prime-order subgroup (RFC 8032 §5.1). */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
/** The identity (x = 0, y = 1) encoded as y = p + 1 = 2^255 − 18: ZIP-215 decodes it, RFC 8032 refuses it. */
const NON_CANONICAL_IDENTITY = Uint8Array.from([0xee, ...new Array<number>(30).fill(0xff), 0x7f]);

function littleEndian(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, v = value; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  return bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);
}

/** A ZIP-215-valid signature of `message` whose R is a non-canonical encoding. */
export function signWithNonCanonicalR(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
  const k = fromLittleEndian(sha512(Uint8Array.from([...NON_CANONICAL_IDENTITY, ...pointBytes, ...message]))) % GROUP_ORDER;
  return Uint8Array.from([...NON_CANONICAL_IDENTITY, ...littleEndian((k * scalar) % GROUP_ORDER)]);
}

/**
 * `tx` with its first signature made by one of `keys` replaced by a non-canonical-R one (same
 * length, same txid), or undefined when none of its signers is among `keys`.
 */
export function resignedNonCanonically(tx: Uint8Array, keys: readonly KeyPair[]): Uint8Array<ArrayBuffer> | undefined {
  for (const item of signatureItemsOf(tx, transactionIdOfEncoding(tx))) {
    const signer = keys.find((key) => toHex(key.publicKey) === toHex(item.publicKey));
    if (signer === undefined) continue;
    const at = Buffer.from(tx).indexOf(Buffer.from(item.signature));
    if (at < 0) continue;
    const resigned = Uint8Array.from(tx);
    resigned.set(signWithNonCanonicalR(signer.secretKey, item.message), at);
    return resigned;
  }
  return undefined;
}
