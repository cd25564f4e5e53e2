/**
 * Lowercase hex of bytes, a view's own range only (not its whole backing buffer). Keys, txids and
 * hashes are named this way in maps, logs, JSON and peer ids.
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
