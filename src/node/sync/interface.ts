/**
 * State sync of one shard's final chain (issue 14): a validator that joins a shard at an epoch
 * boundary fetches the shard's final blocks from the shard's validators, checks each against the
 * committee of its epoch, applies it, and only then joins consensus. One `ShardSync` per shard
 * state a validator holds, on the transport's `msb` range (instance: protocol "msb", the shard,
 * epoch 0 — the chain, whatever epoch produced its blocks).
 *
 * Phases of a sync (`sync(target, sources)`):
 *   1. seed      the commitment chain starts at the local tip: the genesis commitment (zero, what
 *                every PoB replica starts from) at height 0, else the tip's stored certificate's;
 *   2. request   ask the current source for heights tip + 1 … target (at most
 *                MAX_SYNC_HEIGHTS_PER_REQUEST; the source bounds its answer in bytes);
 *   3. verify    every answered height, in order, before anything is written (shard-sync.ts
 *                `verifyFinalHeight`): certificate against the committee of the height's epoch,
 *                epoch/shard/BFT height, its TransEpoch batch along the walk (src/epoch/transepoch/walk.ts:
 *                an epoch starts at batch 0, moves one batch after a certified swap-in, ends at B;
 *                SYNC_BAD_BATCH), the certified proposal, block linkage, header and seal, included and excluded lists
 *                against the certified roots and counts, the header's body root against the certified one
 *                (SYNC_BODY_ROOT_MISMATCH: every byte of the block is then the shard's), commitment
 *                chain, Atomix phase writes;
 *   4. apply     the block's transactions to the UTXO table (every one must apply), supply and
 *                count equal the certificate's; at an epoch's last height the MSB this replica
 *                builds from the state after it (src/node/msb.ts, back-pointers from the headers
 *                it stored, which it rebuilt the same way while replaying the earlier epochs: a
 *                mover syncs a shard from its genesis) hashes to the certified MSB header hash
 *                (SYNC_MSB_MISMATCH), which is zero at every other height; then one durable
 *                transaction per height (the block, its certificate, rejections, phases with
 *                their proofs, change proofs, the MSB header and body);
 *   5. rotate    a source that sends anything invalid is dropped for this sync with its code; a
 *                silent or busy one is asked again in turn, dropped after MAX_SOURCE_STRIKES; the
 *                sync fails with SYNC_NO_SOURCE (state left at the verified prefix) when none is left.
 *
 * Serving: any authenticated peer may ask for a range; the answer holds the stored blocks with
 * their final-height records (store finalHeights) — "pruned" (SyncStatus.Pruned; the asker drops the
 * source with SYNC_PRUNED) from below its pruned horizon —, at most MAX_SYNC_HEIGHTS_PER_REQUEST heights
 * and MAX_SYNC_RESPONSE_BYTES, within a per-peer byte budget (SERVE_BYTES_PER_SECOND).
 *
 * API: `ShardSync` (shard-sync.ts: constructor(options), `sync(target, sources)`, `close()`,
 * `served`), `SyncReport`, `SyncOptions`, `SYNC_ERROR_CODES`, `epochOfHeight`, `bftHeightOf`.
 */
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import type { CommitteeDirectory } from "../../atomix/proof.js";
import type { MoveDirectory } from "../../epoch/transepoch/walk.js";
import type { PeerId, Transport } from "../../net/interface.js";
import type { Clock } from "../../runtime/interface.js";
import type { ShardState } from "../shard-state.js";
import type { BootstrapReport } from "../../msb/bootstrap.js";
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from "../../net/frame.js";
import { check } from "../../errors.js";

export const SYNC_ERROR_CODES = [
  /** A message that does not decode, or an answer whose framing lies. */
  "SYNC_MALFORMED",
  /** An answer larger than MAX_SYNC_RESPONSE_BYTES. */
  "SYNC_OVERSIZE",
  /** An answer whose heights are not the asked range's first ones, in order. */
  "SYNC_BAD_RANGE",
  /** A certificate that does not verify against the directory's committee (its TX_PROOF_* code in the message). */
  "SYNC_BAD_CERTIFICATE",
  /** A valid certificate of another epoch, shard or BFT height than the chain height it came with. */
  "SYNC_CERTIFICATE_MISPLACED",
  /** The certificate's previous commitment is not the previous height's. */
  "SYNC_COMMITMENT_BREAK",
  /** The proposal sent does not decode or is not the one the certificate signs. */
  "SYNC_BAD_PROPOSAL",
  /** The block does not decode, is not the Final block of this height/epoch/shard, does not link to the tip or to the certified previous block hash, or its seal is not the certificate's. */
  "SYNC_BAD_BLOCK",
  /** The block's transactions are not the certified included list (root or count). */
  "SYNC_INCLUDED_MISMATCH",
  /**
   * The block's header body root is not the certified one (finalization.ts, the commitment's body
   * root): its transactions carry other bytes than the shard's final block — a signature or an
   * unlock proof re-encoded under the same txid — though they may verify.
   */
  "SYNC_BODY_ROOT_MISMATCH",
  /** The rejections sent are not the certified excluded list (root or count). */
  "SYNC_EXCLUDED_MISMATCH",
  /** A transaction of the block fails stateless checks or does not apply to the UTXO set. */
  "SYNC_APPLY_FAILED",
  /** After the block, the UTXO supply or count is not the certificate's. */
  "SYNC_STATE_MISMATCH",
  /** The Atomix phase writes sent are not those the block's transactions decide. */
  "SYNC_BAD_ATOMIX",
  /**
   * The MSB header hash the certificate names is not the one this replica builds from its state
   * after the height (an epoch's last height), or is not zero elsewhere (src/node/msb.ts).
   */
  "SYNC_MSB_MISMATCH",
  /**
   * The height is certified by another TransEpoch batch than the walk allows (src/epoch/transepoch/walk.ts: an epoch's
   * first height by batch 0, then the batch before's unless it carried a swap-in, its last by B), or carries a swap-in
   * `checkSwapIn` refuses with the walker's commitments.
   */
  "SYNC_BAD_BATCH",
  /** The source does not hold the next height (it is behind, or holds it without a certificate). */
  "SYNC_SOURCE_BEHIND",
  /** The source pruned the next height (below its store's pruned horizon, src/store/schema.ts "Pruning"). */
  "SYNC_PRUNED",
  /** The source did not answer within SYNC_REQUEST_TIMEOUT_MS, MAX_SOURCE_STRIKES times. */
  "SYNC_TIMEOUT",
  /** The source answered "busy" MAX_SOURCE_STRIKES times. */
  "SYNC_SOURCE_BUSY",
  /** Every source was dropped before the target: the sync failed (detail: the report). */
  "SYNC_NO_SOURCE",
  /** A second sync while one runs, or a sync on a closed ShardSync. */
  "SYNC_BUSY",
  /** Bad arguments: a target that is not a height, no sources. */
  "SYNC_BAD_INPUT",
] as const;

export type SyncErrorCode = (typeof SYNC_ERROR_CODES)[number];

/** Heights one request asks for: bounds the server's work per request and the receiver's unverified buffer. */
export const MAX_SYNC_HEIGHTS_PER_REQUEST = 64;
/** The largest answer: what one transport frame carries (net/frame.ts). A single height larger than this cannot be served. */
export const MAX_SYNC_RESPONSE_BYTES = DEFAULT_MAX_FRAME_BYTES - FRAME_HEADER_BYTES;
/**
 * A server's bytes per second per peer: a full answer about every 130 ms, so a newcomer catches up
 * an epoch of 1,000 heights of 100 KB in about 3 s while a peer asking in a loop costs a bounded
 * share of an uplink.
 */
export const SERVE_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** Peers whose budgets a server tracks at once; the oldest is forgotten (its budget restarts full). */
export const MAX_TRACKED_PEERS = 1024;
/** How long a request may wait for its answer: a full answer over a slow link, several times over. */
export const SYNC_REQUEST_TIMEOUT_MS = 2_000;
/** Wait before asking again after a "busy" answer: about one answer's worth of the server's budget. */
export const SYNC_BUSY_BACKOFF_MS = 200;
/** Timeouts or busy answers (without progress between them) after which a source is dropped. */
export const MAX_SOURCE_STRIKES = 3;

export interface SyncOptions {
  readonly state: ShardState;
  readonly transport: Transport;
  readonly clock: Clock;
  /** The committees a certificate of (epoch, shard) must verify against: the epochs the synced heights span. */
  readonly committees: CommitteeDirectory;
  /** The TransEpoch moves the synced heights' batches are walked along (src/epoch/transepoch/walk.ts `movesOfContext`). */
  readonly moves: MoveDirectory;
  /** The genesis's epochLength: epoch e holds heights e·L + 1 .. (e + 1)·L; undefined: one endless epoch. */
  readonly epochLength: number | undefined;
  readonly verifier?: Ed25519Verifier;
  /**
   * Join at an MSB above the tip instead of replaying to the target (msb-join.ts): the one before
   * the target epoch's start, else the one at its start (shard-sync.ts `#bootstrap`); default true.
   */
  readonly bootstrap?: boolean;
}

/** A sync's join at an MSB (msb-join.ts), when the target epoch's start lay above the tip. */
export interface SyncBootstrap {
  /** The MSB's epoch and height (the height its epoch ends). */
  readonly epoch: number;
  readonly height: number;
  /** Whether the store was restored there; false: the sync replayed instead (`failure` says why). */
  readonly restored: boolean;
  /** Bytes of every answer of the join: certifications, the epoch-end height, the body's chunks. */
  readonly bytes: number;
  /** Sources whose certification or epoch-end height was refused, and why. */
  readonly dropped: readonly DroppedSource[];
  readonly elapsedMs: number;
  /** Outputs restored. */
  readonly count?: number;
  /** The body's download (src/msb/bootstrap.ts), when it ran. */
  readonly body?: BootstrapReport;
  /** The decisions' download (the Atomix phases, section 1), when it ran. */
  readonly decisions?: BootstrapReport;
  readonly failure?: { readonly code: string; readonly message: string };
  /**
   * Earlier attempts that failed, in order: a join tries the MSB before the target epoch's start
   * first, then the one at its start (shard-sync.ts `#bootstrap`); `epoch`, `height` and the rest
   * are the last attempt's, `bytes` and `dropped` every attempt's.
   */
  readonly missed?: readonly MissedMsb[];
}

/** A join attempt at an MSB that failed before the next was tried (SyncBootstrap `missed`). */
export interface MissedMsb {
  readonly epoch: number;
  readonly height: number;
  readonly failure: { readonly code: string; readonly message: string };
  /** The body's download, when it ran (which source sent what). */
  readonly body?: BootstrapReport;
}

/** A source dropped for this sync, and why. */
export interface DroppedSource {
  readonly peer: PeerId;
  readonly code: SyncErrorCode;
  readonly message: string;
}

export interface SyncReport {
  /** The local tip before and after. */
  readonly from: number;
  readonly to: number;
  /** Heights verified and applied by replay (to − from, or to − the MSB height after a join). */
  readonly applied: number;
  /** Payload bytes of the answers received (valid or not). */
  readonly bytes: number;
  /** Sources that contributed at least one applied height, in first-use order. */
  readonly used: readonly PeerId[];
  readonly dropped: readonly DroppedSource[];
  /** Answers ignored: not from the asked source, or for another request (a late answer). */
  readonly ignored: number;
  /** On the Clock, from the call to the end. */
  readonly elapsedMs: number;
  /** The join at an MSB, when one was tried. */
  readonly bootstrap?: SyncBootstrap;
}

/** The epoch holding chain height `height` ≥ 1: ⌊(h − 1)/L⌋, or 0 without an epoch length. */
export function epochOfHeight(height: number, epochLength: number | undefined): number {
  check<SyncErrorCode>(Number.isSafeInteger(height) && height >= 1, "SYNC_BAD_INPUT", `height ${height} is not a chain height ≥ 1`);
  return epochLength === undefined ? 0 : Math.floor((height - 1) / epochLength);
}

/** The BFT height of chain height `height` in its epoch's instance: h − epoch·L. */
export function bftHeightOf(height: number, epochLength: number | undefined): number {
  return epochLength === undefined ? height : height - epochOfHeight(height, epochLength) * epochLength;
}
