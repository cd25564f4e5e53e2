/** RFC 8032 §7.1 Ed25519 test vectors (test/vectors/rfc8032-ed25519.json), hex fields. */
import { readVectorFile } from "./vectors.js";

export interface Rfc8032Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}

export function rfc8032Vectors(): Rfc8032Vector[] {
  return readVectorFile<{ vectors: Rfc8032Vector[] }>("rfc8032-ed25519.json").vectors;
}
