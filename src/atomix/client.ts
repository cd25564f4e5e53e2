/**
 * Atomix from the client's side (white paper §6, Algorithm 5, Byzantine Shard Atomic Commit):
 *
 *   1. lock      the signed cross-shard transfer X goes to every input shard; each locks its
 *                inputs or refuses them in a final block;
 *   2. proofs    each input shard's decision is fetched with its proof (src/atomix/proof.ts);
 *   3. unlock    every input shard accepted → an unlock-to-commit carrying all the proofs goes to
 *                every shard X touches; one refused → an unlock-to-abort carrying that proof goes
 *                to every input shard;
 *   4. settled   every shard reports X committed (or, on abort, every input shard aborted).
 *
 * Any party may run steps 2–4 for any X it knows (the coordinating shard's validators do when a
 * client vanishes: src/atomix/coordinator.ts); unlocks of one X with one decision share a txid, so
 * running them twice, or in parallel, changes nothing.
 *
 * API: `signCrossShardTransfer`, `AtomixAccess`, `runCrossShardTransfer`, `unlockFor`, `unlockBatchesFor`, `unlockBatchesOfHeight`,
 * `coordinatorShard`, `AtomixReport`.
 */
import { sameBytes } from "../bytes.js";
import { IosError } from "../errors.js";
import type { KeyPair } from "../ledger/keys.js";
import { signMessage } from "../ledger/keys.js";
import { sha256 } from "../crypto/sha256.js";
import {
  crossShardInputShards, crossShardTransferKind, crossShardTransferShards, decodeUnsignedCrossShardTransfer, encodeUnsignedCrossShardTransfer,
  type UnsignedCrossShardTransfer,
} from "../ledger/kinds/atomix.js";
import { encodeAtomixUnlock } from "../ledger/kinds/atomix-unlock.js";
import { atomixUnlockBatchSize, encodeAtomixUnlockBatch } from "../ledger/kinds/atomix-unlock-batch.js";
import { encodeMerkleMultiproof, merkleMultiproofOfPaths } from "../crypto/merkle-multiproof.js";
import type { LedgerErrorCode } from "../ledger/errors.js";
import { MAX_TX_BYTES, TxKind } from "../ledger/kinds/interface.js";
import { shardOfOwner } from "../ledger/shard.js";
import type { AtomixPhase } from "./phases.js";
import { acceptanceParts, encodeCertificate, proofAccepts, readProofPath } from "./proof.js";
import type { PackedMerkleProof } from "../crypto/merkle.js";

/** A signed cross-shard transfer: its encoding, txid and unsigned encoding (what unlocks carry). */
export interface SignedCrossShardTransfer {
  readonly bytes: Uint8Array;
  readonly txid: Uint8Array;
  readonly unsigned: Uint8Array;
}

/** Signs every input with its owner's key pair (found among `signers`). */
export function signCrossShardTransfer(tx: UnsignedCrossShardTransfer, signers: readonly KeyPair[]): SignedCrossShardTransfer {
  const unsigned = encodeUnsignedCrossShardTransfer(tx);
  const txid = sha256(unsigned);
  const signatures = tx.inputs.map((input, i) => {
    const signer = signers.find((pair) => sameBytes(pair.publicKey, input.owner));
    if (signer === undefined) throw new IosError<LedgerErrorCode>("TX_SIGNER_MISSING", `no key pair given for the owner of input ${i}`);
    return signMessage(signer.secretKey, txid);
  });
  return { bytes: crossShardTransferKind.encode({ ...tx, signatures }), txid, unsigned };
}

/**
 * The shard that drives X to its end when its client does not: the shard of the input of least
 * amount (ties: the earlier input), as the white paper's minimum-value rule.
 */
export function coordinatorShard(unsigned: Uint8Array, shardCount: number): number {
  const { inputs } = decodeUnsignedCrossShardTransfer(unsigned);
  let least = inputs[0]!;
  for (const input of inputs) if (input.amount < least.amount) least = input;
  return shardOfOwner(least.owner, shardCount);
}

/** What a shard says of X: its phase there and the proof of its lock decision, once it has them. */
export interface ShardView {
  readonly phase: AtomixPhase | undefined;
  readonly proof: Uint8Array | undefined;
}

/** How the flow reaches the shards (a client over HTTP, the simulator, a validator's peers). */
export interface AtomixAccess {
  readonly shardCount: number;
  /** Submits `tx` to shard `shard`; resolves when the shard answered (accepted or refused). */
  submit(shard: number, tx: Uint8Array): Promise<void>;
  /** Where shard `shard`'s final chain left X. */
  view(shard: number, crossTxid: Uint8Array): Promise<ShardView>;
  /** Resolves after `ms` (virtual time in the simulator). */
  sleep(ms: number): Promise<void>;
  /** Milliseconds on the flow's clock, for the report. */
  now(): number;
}

export type AtomixStep = "lock" | "proofs" | "unlock" | "settled";

export interface AtomixReport {
  readonly txid: Uint8Array;
  readonly outcome: "committed" | "aborted";
  /** Clock time at which each step completed, from the start. */
  readonly stepsMs: Readonly<Record<AtomixStep, number>>;
  /** Each input shard's proof, by shard. */
  readonly proofs: ReadonlyMap<number, Uint8Array>;
}

export interface AtomixRunOptions {
  /** How often shards are asked again (default 20 ms). */
  readonly pollMs?: number;
  /** How long an unsettled shard is given before its unlock is submitted again (default 2 s: a lost submission, a crashed relay). */
  readonly resubmitMs?: number;
  /** Give up after this long (default 60 s): AtomixError ATOMIX_TIMEOUT, X still settles without this client. */
  readonly timeoutMs?: number;
  /** Skip step 1 (X is locked already: a coordinator finishing someone else's transfer). */
  readonly skipLock?: boolean;
  /** Called as each step completes. */
  readonly onStep?: (step: AtomixStep, atMs: number) => void;
}

const DEFAULT_POLL_MS = 20;
const DEFAULT_RESUBMIT_MS = 2_000;
const DEFAULT_TIMEOUT_MS = 60_000;

/** The unlock that follows the proofs gathered so far: commit once every input shard accepted, abort on the first rejection; undefined while one is missing. */
export function unlockFor(unsigned: Uint8Array, proofs: ReadonlyMap<number, Uint8Array>, shardCount: number): { kind: "commit" | "abort"; bytes: Uint8Array } | undefined {
  for (const proof of proofs.values()) {
    if (!proofAccepts(proof)) return { kind: "abort", bytes: encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: unsigned, proofs: [proof] }) };
  }
  const inputShards = [...new Set(crossShardInputShards(unsigned, shardCount))].sort((a, b) => a - b);
  if (!inputShards.every((shard) => proofs.has(shard))) return undefined;
  return { kind: "commit", bytes: encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: unsigned, proofs: inputShards.map((shard) => proofs.get(shard)!) }) };
}

/** A transfer settled by its lock, with that lock's proof of acceptance: what an unlock-to-commit batch commits. */
export interface SettledTransfer {
  /** X's unsigned encoding. */
  readonly unsigned: Uint8Array;
  readonly proof: Uint8Array;
}

/** A transfer settled by its lock, with that lock's encoded Merkle path in its height's included tree (an ATOMIX frame's). */
export interface SettledPath {
  /** X's unsigned encoding. */
  readonly unsigned: Uint8Array;
  readonly path: Uint8Array;
}

/** Unlock-to-commit batches and, for each, the indices of its transfers among those given. */
export type UnlockBatches = { readonly bytes: Uint8Array<ArrayBuffer>; readonly members: readonly number[] }[];

/**
 * The unlock-to-commit batches (src/ledger/kinds/atomix-unlock-batch.ts) that commit `settled` in
 * an output shard: transfers settled by one final height of one shard (their proofs share its
 * certificate, else TX_BAD_FIELD), as `unlockBatchesOfHeight` makes them from that certificate
 * and the proofs' paths.
 */
export function unlockBatchesFor(settled: readonly SettledTransfer[], maxBytes = MAX_TX_BYTES): UnlockBatches {
  if (settled.length === 0) return [];
  const parts = settled.map(({ unsigned, proof }) => ({ unsigned, ...acceptanceParts(proof) }));
  const { head, certified } = parts[0]!;
  const sameHeight = ({ head: other, certified: part }: (typeof parts)[number]) =>
    other.epoch === head.epoch && other.shard === head.shard && other.batch === head.batch && other.height === head.height && other.view === head.view && sameBytes(part, certified);
  if (!parts.every(sameHeight)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", "a batch's transfers were settled by one final height: their proofs' certificates differ");
  return batchesOf(encodeCertificate(head, certified), parts, maxBytes);
}

/**
 * The unlock-to-commit batches that commit, in an output shard, transfers one final height settled,
 * given as that height's final-height certificate and each lock's encoded path (an ATOMIX frame:
 * one frame, one height, so nothing is compared). Nothing is verified here: a batch whose
 * certificate or paths are not the height's is refused by the shard. TX_PROOF_MALFORMED for a
 * malformed path, TX_BAD_FIELD for paths of two tree sizes or one position twice.
 */
export function unlockBatchesOfHeight(certificate: Uint8Array, settled: readonly SettledPath[], maxBytes = MAX_TX_BYTES): UnlockBatches {
  if (settled.length === 0) return [];
  return batchesOf(certificate, settled.map(({ unsigned, path }) => ({ unsigned, path: readProofPath(path) })), maxBytes);
}

/**
 * As few batches under `certificate` as fit `maxBytes` each; `members` lists the indices into
 * `settled` of each batch's transfers. Each batch's multiproof is assembled from the transfers'
 * own paths: nothing is hashed.
 */
function batchesOf(certificate: Uint8Array, settled: readonly { readonly unsigned: Uint8Array; readonly path: PackedMerkleProof }[], maxBytes: number): UnlockBatches {
  const parts = settled.map(({ unsigned, path }, member) => ({ member, unsigned, path }));
  parts.sort((a, b) => a.path.index - b.path.index);
  const size = parts[0]!.path.size;
  parts.forEach(({ path }, k) => {
    if (path.size !== size || (k > 0 && path.index === parts[k - 1]!.path.index)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", "a batch's paths are of distinct positions in one tree");
  });
  /** A chunk's batch parts, and the batch's encoded size. */
  const partsOf = (chunk: typeof parts) => {
    const multiproof = encodeMerkleMultiproof({ size, indices: chunk.map((part) => part.path.index), nodes: merkleMultiproofOfPaths(size, chunk.map((part) => part.path)) });
    const crosses = chunk.map((part) => part.unsigned);
    return { crosses, multiproof, bytes: atomixUnlockBatchSize(crosses, certificate.length, multiproof.length) };
  };
  const batches: { bytes: Uint8Array<ArrayBuffer>; members: number[] }[] = [];
  for (let start = 0; start < parts.length;) {
    // The largest chunk from `start` that fits: shrunk in proportion to its excess until it does.
    let length = parts.length - start;
    let batch = partsOf(parts.slice(start, start + length));
    while (batch.bytes > maxBytes) {
      if (length === 1) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `one transfer's batch takes ${batch.bytes} bytes, over ${maxBytes}`);
      length = Math.max(1, Math.min(length - 1, Math.floor((length * maxBytes) / batch.bytes)));
      batch = partsOf(parts.slice(start, start + length));
    }
    batches.push({ bytes: encodeAtomixUnlockBatch({ kind: TxKind.AtomixUnlockBatch, crosses: batch.crosses, certificate, multiproof: batch.multiproof }), members: parts.slice(start, start + length).map((part) => part.member) });
    start += length;
  }
  return batches;
}

/** Steps 1–4 for X (`bytes` signed, or only `unsigned` with `skipLock`); resolves with the outcome. */
export async function runCrossShardTransfer(x: { readonly bytes?: Uint8Array; readonly unsigned: Uint8Array }, access: AtomixAccess, options: AtomixRunOptions = {}): Promise<AtomixReport> {
  const { shardCount } = access;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const start = access.now();
  const deadline = start + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const txid = sha256(x.unsigned);
  const inputShards = [...new Set(crossShardInputShards(x.unsigned, shardCount))].sort((a, b) => a - b);
  const allShards = crossShardTransferShards(x.unsigned, shardCount);
  const stepsMs: Partial<Record<AtomixStep, number>> = {};
  const done = (step: AtomixStep): void => {
    stepsMs[step] = access.now() - start;
    options.onStep?.(step, stepsMs[step]);
  };
  const waitUntil = async (what: string, ready: () => Promise<boolean>): Promise<void> => {
    while (!(await ready())) {
      if (access.now() >= deadline) throw new IosError<AtomixErrorCode>("ATOMIX_TIMEOUT", `${what} did not happen within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`);
      await access.sleep(pollMs);
    }
  };

  if (options.skipLock !== true) {
    if (x.bytes === undefined) throw new IosError<AtomixErrorCode>("ATOMIX_BAD_REQUEST", "locking needs the signed transfer");
    await Promise.all(inputShards.map((shard) => access.submit(shard, x.bytes!)));
  }
  done("lock");

  const proofs = new Map<number, Uint8Array>();
  let unlock: ReturnType<typeof unlockFor>;
  await waitUntil("every input shard's decision", async () => {
    for (const shard of inputShards) {
      if (proofs.has(shard)) continue;
      const { proof } = await access.view(shard, txid);
      if (proof !== undefined) proofs.set(shard, proof);
    }
    unlock = unlockFor(x.unsigned, proofs, shardCount);
    return unlock !== undefined;
  });
  done("proofs");

  const targets = unlock!.kind === "commit" ? allShards : inputShards;
  const settledPhase: AtomixPhase = unlock!.kind === "commit" ? "committed" : "aborted";
  const settled = new Set<number>();
  const resubmitMs = options.resubmitMs ?? DEFAULT_RESUBMIT_MS;
  let submittedAt = -Infinity;
  await waitUntil(`every shard's ${unlock!.kind}`, async () => {
    for (const shard of targets) {
      // A shard that refused X holds nothing to release: its abort settles it all the same.
      if (!settled.has(shard) && (await access.view(shard, txid)).phase === settledPhase) settled.add(shard);
    }
    if (settled.size < targets.length && access.now() - submittedAt >= resubmitMs) {
      submittedAt = access.now();
      await Promise.all(targets.filter((shard) => !settled.has(shard)).map((shard) => access.submit(shard, unlock!.bytes)));
      if (stepsMs.unlock === undefined) done("unlock");
    }
    return settled.size === targets.length;
  });
  if (stepsMs.unlock === undefined) done("unlock");
  done("settled");
  return { txid, outcome: settledPhase, stepsMs: stepsMs as Record<AtomixStep, number>, proofs };
}

export type AtomixErrorCode = "ATOMIX_TIMEOUT" | "ATOMIX_BAD_REQUEST";
