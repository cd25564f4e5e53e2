/**
 * A shard's proof of its lock decision on a cross-shard transfer X, built when read from what the
 * store keeps anyway (issue 13: storing one ~0.76 KB proof per lock in every height's LMDB
 * transaction, on every replica, was the largest part of a cross-shard transfer's validator CPU).
 *
 *   1. The atomix entry names the height that decided the lock (`StoredAtomix.decidedAt`).
 *   2. That height's final-height record holds its certificate (the certified part every proof of
 *      the height shares) and its excluded list; its block gives the included txids in final order.
 *   3. `FinalHeightProver` cuts the proof from them (src/atomix/proof.ts): an acceptance when X is
 *      among the included txids, else a rejection when X is excluded with a decisive code. The
 *      bytes are those the deciding replica cut from its own height at commit (same head, same
 *      certified part, same path): the format, size and offline verification are unchanged.
 *   4. Once the height is pruned, the proof is the one written into the entry at the prune
 *      (`keepsProofAfterPrune`), or none.
 *
 * Every reader goes through `DecisionProofReader.proofOf` (the API's `GET /v1/atomix/:txid` and
 * `GET /v1/tx/:id`, the watchers' answers and the restart's watch list through ShardState
 * `atomix`), or `decisionProofAt` (the store's prune). A reader keeps the provers of the last few
 * heights it read, so the proofs of one height cost one block decoding and one tree.
 *
 * API: `DecisionProofSource`, `decisionProofAt`, `DecisionProofReader`, `keepsProofAfterPrune`,
 * `PROVERS_KEPT`.
 */
import { TXID_BYTES } from "../codec/sizes.js";
import { sameBytes } from "../bytes.js";
import { decodeBlock } from "../ledger/block.js";
import type { StoredAtomix, StoredFinalHeight } from "../store/schema.js";
import { NOT_DECIDED_HERE } from "../store/schema.js";
import { decodeAtomixPhase, SETTLED_REWATCH_HEIGHTS } from "./phases.js";
import { DECISIVE_CODES, FinalHeightProver } from "./proof.js";

/** What a proof is built from: the store's per-height records (ChainStore or the store itself). */
export interface DecisionProofSource {
  finalHeightRecord(height: number): StoredFinalHeight | undefined;
  getBlock(height: number): Uint8Array | undefined;
}

/**
 * Heights whose provers a reader keeps: the decisions asked about are those of the last few final
 * heights (a client's lock just final, a watcher's query after the grace), and each height's
 * prover holds its txids and trees (~64 B a transaction).
 */
export const PROVERS_KEPT = 8;

/** One height's prover and the txids it proves among. */
interface HeightProofs {
  readonly prover: FinalHeightProver;
  readonly included: Uint8Array;
  readonly rejections: StoredFinalHeight["rejections"];
}

function heightProofsOf(source: DecisionProofSource, height: number): HeightProofs | undefined {
  const record = source.finalHeightRecord(height);
  const block = source.getBlock(height);
  if (record === undefined || block === undefined) return undefined;
  const included = decodeBlock(block).txids;
  return { prover: new FinalHeightProver({ certificate: record.certificate, included, excluded: record.rejections }), included, rejections: record.rejections };
}

/** The proof of X's decision at a height: its acceptance if included, else its decisive rejection; undefined if that height decided neither. */
function proofIn(height: HeightProofs, crossTxid: Uint8Array): Uint8Array | undefined {
  const { included } = height;
  for (let at = 0, index = 0; at < included.length; at += TXID_BYTES, index++) {
    if (sameBytes(included.subarray(at, at + TXID_BYTES), crossTxid)) return height.prover.acceptance(index);
  }
  const index = height.rejections.findIndex((entry) => sameBytes(entry.txid, crossTxid) && DECISIVE_CODES.has(entry.code));
  return index < 0 ? undefined : height.prover.rejection(index);
}

/** The proof of the lock decision an atomix entry names, built from `source` (module doc); undefined without one. */
export function decisionProofAt(source: DecisionProofSource, crossTxid: Uint8Array, entry: StoredAtomix): Uint8Array | undefined {
  if (entry.proof.length > 0) return entry.proof;
  if (entry.decidedAt === NOT_DECIDED_HERE) return undefined;
  const height = heightProofsOf(source, entry.decidedAt);
  return height === undefined ? undefined : proofIn(height, crossTxid);
}

/** `decisionProofAt` with the provers of the last PROVERS_KEPT heights kept. */
export class DecisionProofReader {
  readonly #heights = new Map<number, HeightProofs>();

  constructor(private readonly source: DecisionProofSource) {}

  proofOf(crossTxid: Uint8Array, entry: StoredAtomix): Uint8Array | undefined {
    if (entry.proof.length > 0) return entry.proof;
    if (entry.decidedAt === NOT_DECIDED_HERE) return undefined;
    let height = this.#heights.get(entry.decidedAt);
    if (height === undefined) {
      height = heightProofsOf(this.source, entry.decidedAt);
      // A pruned height: nothing to keep, and the entry's own bytes (step 4) were empty.
      if (height === undefined) return undefined;
      this.#heights.set(entry.decidedAt, height);
      if (this.#heights.size > PROVERS_KEPT) this.#heights.delete(this.#heights.keys().next().value!);
    }
    return proofIn(height, crossTxid);
  }
}

/**
 * Whether an entry's proof is written into it when its deciding height is pruned (the store's
 * prune, at chain height `height`): while this shard's decision may still be asked for — X still
 * locked or refused here (the other shards need the proof to commit or abort), or settled by its
 * lock within SETTLED_REWATCH_HEIGHTS (the watchers still push its commit to the other shards).
 */
export function keepsProofAfterPrune(entry: StoredAtomix, height: number): boolean {
  if (entry.decidedAt === NOT_DECIDED_HERE || entry.proof.length > 0) return false;
  const phase = decodeAtomixPhase(entry.phase);
  if (phase === "locked" || phase === "refused") return true;
  return phase === "committed" && entry.height === entry.decidedAt && entry.decidedAt >= height - SETTLED_REWATCH_HEIGHTS;
}
