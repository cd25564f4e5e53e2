/**
 * Micro State Blocks in a validator (white paper §8, Algorithm 6; formats: src/msb): at the last
 * height of every epoch, shard j's UTXO set after that height becomes msb_{j,e}, whose header hash
 * the height's state commitment binds (src/consensus/pob/finalization.ts `msbAt`), so the height's
 * final-height certificate certifies it.
 *
 * Phases:
 *  1. where: `isEpochEnd(h, L)`: h = (e + 1)·L ends epoch e = ⌊(h − 1)/L⌋ (epochs of L heights,
 *     src/node/sync/interface.ts `epochOfHeight`); no MSB without an epoch length;
 *  2. build (`buildMsb`): the body from the working table (`snapshotOfEntries`: sorted by
 *     outpoint, RFC 6962 root), the decisions (src/msb/decisions.ts: the store's Atomix phase
 *     table, which holds every height before this one, merged with this height's own phase
 *     writes), the header with the chain id (the genesis txid), shard, epoch, height, count,
 *     supply, root, decisions, decisions root and back-pointers: level i is the hash of the
 *     shard's stored header of epoch e − 2^i (`headerOf`); the stored bytes are hashed, never
 *     re-encoded;
 *  3. keep: the caller stores header, body and decisions with the height's final block, in its
 *     LMDB transaction (ChainStore StoredBlock `msb`).
 *
 * Every replica of the shard builds it the same way: consensus members in `execute`, before they
 * co-sign; a replica that syncs the shard's heights after applying each epoch-end height (src/node/
 * sync/shard-sync.ts), from its own earlier headers, which it rebuilt the same way while replaying
 * (a mover syncs a shard from the genesis: all of them).
 *
 * API: `isEpochEnd`, `epochEndHeight`, `buildMsb` → `BuiltMsb`.
 */
import { IosError, check } from "../errors.js";
import { HASH_BYTES } from "../codec/sizes.js";
import { backPointerEpochs, encodeMsbHeader, makeMsbHeader, msbHeaderHashOfEncoding } from "../msb/header.js";
import { snapshotOfEntries } from "../msb/snapshot.js";
import { decisionsOf, type PhaseOf } from "../msb/decisions.js";
import type { MsbErrorCode, MsbHeader } from "../msb/interface.js";

/** An MSB as a replica built it: what it stores and what the commitment binds. */
export interface BuiltMsb {
  readonly header: MsbHeader;
  /** The header's canonical encoding (stored as is). */
  readonly encoded: Uint8Array;
  /** `msbHeaderHash`: what the epoch-end commitment binds. */
  readonly hash: Uint8Array;
  /** The body: packed 76-byte entries in outpoint order (the tree's leaves). */
  readonly body: Uint8Array;
  /** The decisions: packed 33-byte leaves in cross txid order (src/msb/decisions.ts). */
  readonly decisions: Uint8Array;
  /** Wall time of the build (sort, supply, root, header), for `ios_msb_build_ms`. */
  readonly buildMs: number;
}

/** Whether chain height `height` is the last of its epoch (epochs of `epochLength` heights; none without). */
export function isEpochEnd(height: number, epochLength: number | undefined): boolean {
  return epochLength !== undefined && height >= 1 && height % epochLength === 0;
}

/** The last height of epoch `epoch`. */
export function epochEndHeight(epoch: number, epochLength: number): number {
  return (epoch + 1) * epochLength;
}

/**
 * The MSB of `entries` (the UTXO set after `height`, any order) and of the phases after `height`
 * (`phases`: the stored table before it, in cross txid order; `phaseWrites`: the height's own, in
 * order) for the epoch `height` ends, its back-pointers the hashes of the encodings `headerOf`
 * gives for earlier epochs of this shard.
 * MSB_BAD_INPUT when one is missing: a replica holding the shard's heights holds every header.
 */
export function buildMsb(fields: {
  readonly chain: Uint8Array;
  readonly shard: number;
  readonly height: number;
  readonly epochLength: number;
  readonly entries: Uint8Array;
  readonly phases: Iterable<PhaseOf>;
  readonly phaseWrites: readonly PhaseOf[];
  readonly headerOf: (epoch: number) => Uint8Array | undefined;
}): BuiltMsb {
  const { chain, shard, height, epochLength, entries, phases, phaseWrites, headerOf } = fields;
  check<MsbErrorCode>(isEpochEnd(height, epochLength), "MSB_BAD_INPUT", `height ${height} does not end an epoch of ${epochLength} heights`);
  const started = performance.now();
  const epoch = height / epochLength - 1;
  const backPointers = backPointerEpochs(epoch).map((earlier) => {
    const stored = headerOf(earlier);
    if (stored === undefined) throw new IosError<MsbErrorCode>("MSB_BAD_INPUT", `shard ${shard} keeps no MSB header of epoch ${earlier} (a back-pointer of epoch ${epoch})`);
    return msbHeaderHashOfEncoding(stored);
  });
  const snapshot = snapshotOfEntries(entries);
  const decisions = decisionsOf(phases, phaseWrites);
  const header = makeMsbHeader({ chain, shard, epoch, height, snapshot, decisions, backPointers });
  const encoded = encodeMsbHeader(header);
  const hash = msbHeaderHashOfEncoding(encoded);
  check<MsbErrorCode>(hash.length === HASH_BYTES, "MSB_BAD_INPUT", "a header hash is 32 bytes");
  return { header, encoded, hash, body: snapshot.entries, decisions: decisions.entries, buildMs: performance.now() - started };
}
