// Random UTXO sets for the MSB tests, and an independent RFC 6962 reference (plain sort +
// @noble/hashes), so the subsystem's roots are checked against code that shares nothing with it.
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { BOND_INDEX_FLAG } from "../../src/ledger/bond.js";
import { ENTRY_BYTES, packEntry } from "../../src/ledger/utxo-table.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { ATOMIX_DECISION } from "../../src/codec/sizes.js";
import { ATOMIX_PHASES } from "../../src/atomix/phases.js";
import { decisionsOfEntries } from "../../src/msb/decisions.js";
import type { MsbDecisions } from "../../src/msb/interface.js";

/**
 * `count` packed entries in no particular order: some transactions with several outputs (shared
 * txid), some txids sharing their first four bytes (ties of the sort key), some flagged indexes
 * (bonds, Atomix locks), amounts up to 2^40.
 */
export function randomEntries(rng: SeededRng, count: number): Uint8Array {
  const packed = new Uint8Array(count * ENTRY_BYTES);
  let txid = rng.bytes(32);
  let index = 0;
  for (let k = 0; k < count; k++) {
    const roll = rng.nextFloat();
    if (roll < 0.3 && k > 0) {
      index = Math.min(0xffff_ffff, index + 1 + Math.floor(rng.nextFloat() * 300));
    } else {
      const fresh = rng.bytes(32);
      if (roll < 0.45) fresh.set(txid.subarray(0, 4));
      txid = fresh;
      index = rng.nextFloat() < 0.1 ? (BOND_INDEX_FLAG | Math.floor(rng.nextFloat() * 4)) >>> 0 : Math.floor(rng.nextFloat() * 70000);
    }
    const amount = 1n + BigInt(Math.floor(rng.nextFloat() * 2 ** 40));
    packEntry({ txid, index, owner: rng.bytes(32), amount }, packed, k * ENTRY_BYTES);
  }
  return packed;
}

export function entriesOf(packed: Uint8Array): Uint8Array[] {
  return Array.from({ length: packed.length / ENTRY_BYTES }, (_, k) => packed.slice(k * ENTRY_BYTES, (k + 1) * ENTRY_BYTES));
}

/** The entries sorted by their first 36 bytes with Buffer.compare (the outpoint, bytewise). */
export function referenceSort(packed: Uint8Array): Uint8Array[] {
  return entriesOf(packed).sort((a, b) => Buffer.compare(a.subarray(0, 36), b.subarray(0, 36)));
}

/** RFC 6962 §2.1 MTH, recursively, on @noble/hashes. */
export function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return nobleSha256(new Uint8Array(0));
  if (leaves.length === 1) return nobleSha256(Uint8Array.from([0, ...leaves[0]!]));
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return nobleSha256(Uint8Array.from([1, ...referenceRoot(leaves.slice(0, split)), ...referenceRoot(leaves.slice(split))]));
}

export function shuffled<T>(rng: SeededRng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** `count` decisions of random cross txids and phases, in cross txid order (src/msb/decisions.ts leaves). */
export function randomDecisions(rng: SeededRng, count: number): MsbDecisions {
  const txids = Array.from({ length: count }, () => rng.bytes(32)).sort(Buffer.compare);
  const packed = new Uint8Array(count * ATOMIX_DECISION.bytes);
  txids.forEach((txid, i) => {
    packed.set(txid, i * ATOMIX_DECISION.bytes);
    packed[i * ATOMIX_DECISION.bytes + ATOMIX_DECISION.offset.phase] = Math.floor(rng.nextFloat() * ATOMIX_PHASES.length);
  });
  return decisionsOfEntries(packed);
}

/** A shard that decided no cross-shard transaction. */
export const NO_DECISIONS: MsbDecisions = decisionsOfEntries(new Uint8Array(0));
