/** RFC 8032 §7.1 Ed25519 test vectors (test/vectors/rfc8032-ed25519.json), hex fields. */
import { readFileSync } from "node:fs";

export interface Rfc8032Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}

export function rfc8032Vectors(): Rfc8032Vector[] {
  const file = new URL("../../../test/vectors/rfc8032-ed25519.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { vectors: Rfc8032Vector[] }).vectors;
}
