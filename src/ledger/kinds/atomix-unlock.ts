/**
 * The Atomix unlocks (white paper §6, Algorithm 5, step 3; kind bytes TxKind.AtomixUnlockCommit
 * and TxKind.AtomixUnlockAbort): anyone may submit one — the client, a validator of the
 * coordinating shard, any party holding the proofs — and its authority is the proofs it carries,
 * not a signature.
 *
 *   unlock-to-commit  carries one proof of acceptance per input shard of the cross-shard
 *                     transfer X. Each input shard consumes its locked inputs; each output shard
 *                     creates its outputs at (txid(X), j).
 *   unlock-to-abort   carries one proof of rejection from an input shard of X. Each input shard
 *                     that locked inputs for X releases them.
 *
 * Encoding, little-endian:
 *   version u8 ‖ kind u8 (2 | 3) ‖ u16 |X| ‖ X (the unsigned encoding of the cross-shard transfer)
 *   ‖ u8 proofCount ‖ proofCount × (u16 |proof| ‖ proof (src/atomix/proof.ts))
 * txid = SHA-256 of everything before the proofs: every party's unlock of X with one decision has
 * the same txid, so duplicates, replays and late arrivals are the same transaction (each shard
 * applies X's unlock once). Proofs are checked by the shard's DecisionVerifier (TX_PROOF_* codes);
 * a shard refuses an unlock that does not concern it (TX_WRONG_SHARD: a commit goes to X's input
 * and output shards, an abort to its input shards).
 *
 * Inside an encoded block, each proof is a citation of the block's shared certified part
 * (atomix-citations.ts); the block's decoding gives the unlock back as submitted.
 *
 * API: `atomixUnlockCommitKind`, `atomixUnlockAbortKind`, `encodeAtomixUnlock`, `decodeAtomixUnlock`,
 * `atomixUnlockTxid`, `atomixUnlockProofsAt`, `atomixUnlockCross`.
 */
import { BinaryReader, BinaryWriter, readU16 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { sha256 } from "../../crypto/sha256.js";
import { IosError, check } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { atomixRecordLayout } from "./atomix-record.js";
import {
  AtomixShape, atomixShapeOf, checkAtomixSupported, crossShardOwners, crossShardInputShards, crossShardTransferKind, crossShardTransferShards, scanUnsignedCrossShardTransfer,
} from "./atomix.js";
import { MAX_ANY_TX_BYTES, TX_CODES, TX_PREFIX, TX_VERSION, TxKind, checkTxPrefix, type DecisionVerifier, type TxKindModule } from "./interface.js";

type UnlockKind = typeof TxKind.AtomixUnlockCommit | typeof TxKind.AtomixUnlockAbort;

const HEADER = layout({ version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, crossLength: 2 });
/** A commit carries one proof per input shard: at most one per input. */
const MAX_PROOFS = 255;

export interface AtomixUnlock {
  readonly kind: UnlockKind;
  /** The unsigned encoding of the cross-shard transfer it unlocks. */
  readonly cross: Uint8Array;
  readonly proofs: readonly Uint8Array[];
}

const crossOf = (tx: Uint8Array): Uint8Array => tx.subarray(HEADER.bytes, HEADER.bytes + readU16(tx, HEADER.offset.crossLength));
/** X's unsigned encoding inside an unlock that `scan` accepted (one a final block holds), a view: nothing decoded or copied. */
export const atomixUnlockCross = crossOf;
/** Where an unlock's u8 proof count lies: after X (framing read, not checked; atomix-citations.ts walks the proofs from there). */
export const atomixUnlockProofsAt = (tx: Uint8Array): number => HEADER.bytes + readU16(tx, HEADER.offset.crossLength);

function scanFor(kind: UnlockKind) {
  return (tx: Uint8Array): AtomixShape => {
    if (tx.length > MAX_ANY_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_ANY_TX_BYTES = ${MAX_ANY_TX_BYTES}`);
    const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
    const cross = reader.lengthPrefixed("u16", MAX_ANY_TX_BYTES, "cross-shard transfer");
    scanUnsignedCrossShardTransfer(cross);
    const unsignedEnd = reader.at;
    const proofCount = reader.u8("proof count");
    check<LedgerErrorCode>(proofCount >= 1 && proofCount <= MAX_PROOFS, "TX_PROOF_MISSING", "an unlock carries at least one proof");
    if (kind === TxKind.AtomixUnlockAbort && proofCount !== 1) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", "an unlock-to-abort carries exactly one proof of rejection");
    for (let k = 0; k < proofCount; k++) reader.lengthPrefixed("u16", MAX_ANY_TX_BYTES, `proof ${k}`);
    reader.expectEnd("the last proof");
    return new AtomixShape(kind, unsignedEnd, 0, cross);
  };
}

/** Strict decode of an unlock of either kind. */
export function decodeAtomixUnlock(tx: Uint8Array): AtomixUnlock {
  const kind = checkTxPrefix(tx);
  check<LedgerErrorCode>(kind === TxKind.AtomixUnlockCommit || kind === TxKind.AtomixUnlockAbort, "TX_UNKNOWN_KIND", `kind ${kind} is not an Atomix unlock`);
  scanFor(kind)(tx);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const cross = reader.lengthPrefixed("u16", MAX_ANY_TX_BYTES).slice();
  const proofs = Array.from({ length: reader.u8() }, () => reader.lengthPrefixed("u16", MAX_ANY_TX_BYTES).slice());
  return { kind, cross, proofs };
}

function unsignedOf(unlock: Pick<AtomixUnlock, "kind" | "cross">): BinaryWriter {
  check<LedgerErrorCode>(unlock.kind === TxKind.AtomixUnlockCommit || unlock.kind === TxKind.AtomixUnlockAbort, "TX_UNKNOWN_KIND", `kind ${unlock.kind} is not an Atomix unlock`);
  scanUnsignedCrossShardTransfer(unlock.cross);
  return BinaryWriter.ofSize(HEADER.bytes + unlock.cross.length).u8(TX_VERSION).u8(unlock.kind).lengthPrefixed("u16", unlock.cross);
}

export function encodeAtomixUnlock(unlock: AtomixUnlock): Uint8Array<ArrayBuffer> {
  const head = unsignedOf(unlock).finish();
  const size = head.length + 1 + unlock.proofs.reduce((n, proof) => n + 2 + proof.length, 0);
  const writer = BinaryWriter.ofSize(size).bytes(head).u8(unlock.proofs.length);
  for (const proof of unlock.proofs) writer.lengthPrefixed("u16", proof);
  const bytes = writer.finish();
  scanFor(unlock.kind)(bytes);
  return bytes;
}

/** The txid every unlock of `cross` with this decision has. */
export function atomixUnlockTxid(kind: UnlockKind, cross: Uint8Array): Uint8Array {
  return sha256(unsignedOf({ kind, cross }).finish());
}

/** The proofs of an unlock that `scan` accepted, views. */
function proofsOf(tx: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(tx, TX_CODES, atomixUnlockProofsAt(tx));
  return Array.from({ length: reader.u8() }, () => reader.lengthPrefixed("u16", MAX_ANY_TX_BYTES));
}

function checkCommit(tx: Uint8Array, shape: AtomixShape, owners: Uint16Array, shard: number, decisions: DecisionVerifier): void {
  if (!owners.includes(shard)) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `the cross-shard transfer touches no account of shard ${shard}`);
  const inputShards = new Set(owners.subarray(0, shape.inputCount));
  const proven = new Set<number>();
  for (const proof of proofsOf(tx)) {
    const decision = decisions.verify(proof, shape.crossTxid);
    if (!decision.accepted) throw new IosError<LedgerErrorCode>("TX_PROOF_WRONG_VERDICT", `shard ${decision.shard} rejected the transfer (${decision.code}): only an abort may follow`);
    if (!inputShards.has(decision.shard) || proven.has(decision.shard)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `a proof from shard ${decision.shard} is not one per input shard`);
    proven.add(decision.shard);
  }
  const missing = [...inputShards].filter((s) => !proven.has(s));
  if (missing.length > 0) throw new IosError<LedgerErrorCode>("TX_PROOF_MISSING", `no proof of acceptance from input shard(s) ${missing.join(", ")}`);
}

function checkAbort(tx: Uint8Array, shape: AtomixShape, owners: Uint16Array, shard: number, decisions: DecisionVerifier): void {
  const inputShards = owners.subarray(0, shape.inputCount);
  if (!inputShards.includes(shard)) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `shard ${shard} holds no input of the cross-shard transfer: nothing to release`);
  const decision = decisions.verify(proofsOf(tx)[0]!, shape.crossTxid);
  if (decision.accepted) throw new IosError<LedgerErrorCode>("TX_PROOF_WRONG_VERDICT", `shard ${decision.shard} accepted the transfer: an abort needs a rejection`);
  if (!inputShards.includes(decision.shard)) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `shard ${decision.shard} is not an input shard of the transfer`);
}

function unlockKind(kind: UnlockKind): TxKindModule<AtomixUnlock> {
  const scan = scanFor(kind);
  const check = kind === TxKind.AtomixUnlockCommit ? checkCommit : checkAbort;
  return {
    kind,
    name: kind === TxKind.AtomixUnlockCommit ? "AtomixUnlockCommit" : "AtomixUnlockAbort",
    submittable: true,
    scan,
    decode: decodeAtomixUnlock,
    encode: encodeAtomixUnlock,
    encodeUnsigned: (unlock) => unsignedOf(unlock).finish(),
    shards: (tx, shardCount) => (kind === TxKind.AtomixUnlockCommit ? crossShardTransferShards(crossOf(tx), shardCount) : [...new Set(crossShardInputShards(crossOf(tx), shardCount))].sort((a, b) => a - b)),
    checkStateless: (tx, shape, shard, shardCount, decisions) => {
      checkAtomixSupported(decisions);
      const atomix = atomixShapeOf(shape);
      check(tx, atomix, crossShardOwners(atomix, shardCount), shard, decisions);
    },
    signatureItems: () => {},
    // The cross-shard transfer's spender: its unlocks go to the producer its lock went to.
    spender: (tx) => (tx.length < HEADER.bytes ? undefined : crossShardTransferKind.spender(crossOf(tx))),
    recordBytesIn: (_tx, shape, shard, shardCount) => atomixShapeOf(shape).recordBytesIn(shard, shardCount),
    writeRecord: (_tx, shape, txid, out, at, shard, shardCount) => atomixShapeOf(shape).writeRecord(txid, out, at, shard, shardCount),
    // A commit's outputs come from other shards' locks: Σ created ≤ Σ spent holds across shards only.
    record: atomixRecordLayout(kind !== TxKind.AtomixUnlockCommit),
  };
}

export const atomixUnlockCommitKind = unlockKind(TxKind.AtomixUnlockCommit);
export const atomixUnlockAbortKind = unlockKind(TxKind.AtomixUnlockAbort);
