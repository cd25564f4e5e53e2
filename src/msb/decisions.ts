/**
 * An MSB's decisions (header v2): every cross-shard transaction whose phase shard j's final chain
 * holds after the epoch's last height (src/atomix/phases.ts: locked, refused, committed, aborted),
 * committed beside the UTXO set. The phase table is the shard's Atomix replay guard (`admits` takes
 * an absent phase for a first sight), so a node that joins at the MSB must restore it with the set:
 * without it a replayed unlock-commit would mint again there, and an aborted X could lock again.
 *
 * Phases:
 *  1. collect: the store's phase table in key order (cross txid, LMDB's byte order) merged with the
 *     height's own phase writes, in their order (a later write of one transaction wins): both the
 *     consensus member (before it co-signs) and a replayer (after applying the height) hold the
 *     table up to the height before and the height's writes, so every replica gets the same leaves;
 *  2. commit: one 33-byte leaf per transaction (ATOMIX_DECISION: cross txid ‖ u8 phase), RFC 6962
 *     root by the WASM kernel (packed fixed-size leaves), count; an empty table has count 0 and the
 *     empty tree's root;
 *  3. check (`checkDecisions`): a body received in chunks, or handed to a restore, is strictly
 *     increasing by cross txid and every phase byte is a phase (MSB_UNORDERED, MSB_BAD_FIELD).
 *
 * What is committed is the phase only: the proof of a lock decision stays with the replicas that
 * decided it (a joined replica answers its phase, not its proof).
 *
 * API: `decisionsOf(table, writes)`, `decisionsOfEntries(packed)`, `checkDecisions(packed)`.
 */
import { ATOMIX_DECISION, TXID_BYTES } from "../codec/sizes.js";
import { ATOMIX_PHASES } from "../atomix/phases.js";
import { MERKLE_MAX_LEAVES, merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { IosError, check } from "../errors.js";
import type { MsbDecisions, MsbErrorCode } from "./interface.js";

const LEAF_BYTES = ATOMIX_DECISION.bytes;

/** One phase of one cross-shard transaction: a store entry or a height's write. */
export interface PhaseOf {
  readonly crossTxid: Uint8Array;
  /** `encodeAtomixPhase`. */
  readonly phase: number;
}

/**
 * The decisions after a height: `table` (the phases before it, ascending by cross txid, as the
 * store iterates them) overwritten by `writes` (the height's phase writes, in order; the last one
 * of a transaction wins).
 */
export function decisionsOf(table: Iterable<PhaseOf>, writes: readonly PhaseOf[]): MsbDecisions {
  const written = new Map<string, PhaseOf>();
  for (const write of writes) written.set(Buffer.from(write.crossTxid).toString("hex"), write);
  const pending = [...written.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, write]) => write);
  const leaves: PhaseOf[] = [];
  let next = 0;
  for (const entry of table) {
    while (next < pending.length && Buffer.compare(pending[next]!.crossTxid, entry.crossTxid) < 0) leaves.push(pending[next++]!);
    if (next < pending.length && Buffer.compare(pending[next]!.crossTxid, entry.crossTxid) === 0) leaves.push(pending[next++]!);
    else leaves.push(entry);
  }
  while (next < pending.length) leaves.push(pending[next++]!);
  const packed = new Uint8Array(leaves.length * LEAF_BYTES);
  leaves.forEach(({ crossTxid, phase }, i) => {
    check<MsbErrorCode>(crossTxid.length === TXID_BYTES, "MSB_BAD_INPUT", `a cross txid is ${TXID_BYTES} bytes`);
    packed.set(crossTxid, i * LEAF_BYTES);
    packed[i * LEAF_BYTES + ATOMIX_DECISION.offset.phase] = phase;
  });
  return decisionsOfEntries(packed);
}

/** The decisions of packed leaves (checked: `checkDecisions`). */
export function decisionsOfEntries(packed: Uint8Array): MsbDecisions {
  const count = checkDecisions(packed);
  return { entries: packed, count, root: merkleRootOfPackedLeaves(packed, LEAF_BYTES) };
}

/** The leaf count of packed decisions; throws unless strictly increasing by cross txid, each phase a phase. */
export function checkDecisions(packed: Uint8Array): number {
  check<MsbErrorCode>(packed instanceof Uint8Array && packed.length % LEAF_BYTES === 0, "MSB_BAD_INPUT", `packed decisions are a multiple of ${LEAF_BYTES} bytes`);
  const count = packed.length / LEAF_BYTES;
  check<MsbErrorCode>(count <= MERKLE_MAX_LEAVES, "MSB_BAD_INPUT", `${count} decisions exceed the ${MERKLE_MAX_LEAVES} leaves of a tree`);
  for (let i = 0; i < count; i++) {
    const at = i * LEAF_BYTES;
    const phase = packed[at + ATOMIX_DECISION.offset.phase]!;
    if (phase >= ATOMIX_PHASES.length) throw new IosError<MsbErrorCode>("MSB_BAD_FIELD", `decision ${i}: ${phase} is not an Atomix phase`);
    if (i > 0 && Buffer.compare(packed.subarray(at - LEAF_BYTES, at - LEAF_BYTES + TXID_BYTES), packed.subarray(at, at + TXID_BYTES)) >= 0) {
      throw new IosError<MsbErrorCode>("MSB_UNORDERED", `decision ${i} does not follow decision ${i - 1} in cross txid order`);
    }
  }
  return count;
}
