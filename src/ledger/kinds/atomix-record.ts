/**
 * The apply records of the Atomix kinds (white paper §6, Algorithm 5): lock (the client's
 * cross-shard transaction in an input shard), unlock to commit, unlock to abort. One layout for
 * the three, little-endian:
 *
 *   RECORD_HEADER (kind, length, txid) ‖ crossTxid[32] ‖ lockOwner[32] ‖ nIn u16 ‖ nOut u16
 *   ‖ nIn × { outpoint[36], owner[32], declared amount u64, mine u8 }
 *   ‖ nOut × { owner[32], amount u64, mine u8 }
 *   ‖ nSpent u16 ‖ nCreated u16 ‖ nSpent × RECORD_INPUT ‖ nCreated × { key[36], RECORD_OUTPUT }
 *
 * `mine` marks what belongs to the shard applying the record (the writer knows the shard). The
 * UTXO kernel (assembly/utxo/index.ts) applies the first part and checks it against the table;
 * the trailing effects section spells out, for every other reader (src/ledger/records.ts), the
 * entries an OK apply spends and creates:
 *   lock    spends this shard's inputs, creates each at its locked key (index | 2^31) owned by
 *           the lock owner, amount kept — unless every input is this shard's: then the lock
 *           settles X (`recordLockSettles`) and, like a commit, creates this shard's outputs instead;
 *   commit  spends those locked keys, creates this shard's outputs at (crossTxid, j);
 *   abort   spends those locked keys, creates each input again at its outpoint, for its owner.
 * lockOwner = SHA-256("IOSChain/atomix/lock/v1" ‖ crossTxid): nobody can sign for it.
 *
 * API: `atomixLockOwner(crossTxid)`, `recordLockSettles(record)`, `atomixCrossTxidOf(record)`, `lockedKeyOf(outpoint)`, `encodeAtomixRecord(...)`,
 * `atomixRecordBytes(nIn, nOut, nSpent, nCreated)`, `atomixRecordLayout(balanced)`, `LOCK_INDEX_FLAG`.
 */
import { BinaryWriter, readU16 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { sha256 } from "../../crypto/sha256.js";
import { RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, TxKind, type RecordLayout } from "./interface.js";

const LOCK_DOMAIN = new TextEncoder().encode("IOSChain/atomix/lock/v1");
/** A locked output's key: its outpoint with this bit set in the index (as the kernel's LOCK_FLAG). */
export const LOCK_INDEX_FLAG = 0x8000_0000;

const FIXED = layout({ crossTxid: TXID_BYTES, lockOwner: PUBLIC_KEY_BYTES, inputCount: 2, outputCount: 2 });
const INPUT = layout({ outpoint: OUTPOINT_BYTES, owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES, mine: 1 });
const OUTPUT = layout({ owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES, mine: 1 });
const EFFECTS = layout({ spentCount: 2, createdCount: 2 });
const CREATED = layout({ key: OUTPOINT_BYTES, value: RECORD_OUTPUT.bytes });

export interface AtomixRecordInput {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: Uint8Array;
  readonly amount: bigint;
  readonly mine: boolean;
}

export interface AtomixRecordOutput {
  readonly owner: Uint8Array;
  readonly amount: bigint;
  readonly mine: boolean;
}

export type AtomixKind = typeof TxKind.AtomixLock | typeof TxKind.AtomixUnlockCommit | typeof TxKind.AtomixUnlockAbort;

export function atomixLockOwner(crossTxid: Uint8Array): Uint8Array {
  const input = new Uint8Array(LOCK_DOMAIN.length + TXID_BYTES);
  input.set(LOCK_DOMAIN);
  input.set(crossTxid, LOCK_DOMAIN.length);
  return sha256(input);
}

/** The key a lock moves outpoint (txid, index) to. */
export function lockedKeyOf(txid: Uint8Array, index: number): Uint8Array {
  return BinaryWriter.ofSize(OUTPOINT_BYTES).bytes(txid).u32((index | LOCK_INDEX_FLAG) >>> 0).finish();
}

export function atomixRecordBytes(inputCount: number, outputCount: number, spentCount: number, createdCount: number): number {
  return RECORD_HEADER.bytes + FIXED.bytes + inputCount * INPUT.bytes + outputCount * OUTPUT.bytes + EFFECTS.bytes + spentCount * RECORD_INPUT.bytes + createdCount * CREATED.bytes;
}

/** What an OK apply of `kind` spends and creates in the shard the `mine` flags describe (see the header). */
function effectsOf(kind: AtomixKind, crossTxid: Uint8Array, lockOwner: Uint8Array, inputs: readonly AtomixRecordInput[], outputs: readonly AtomixRecordOutput[]) {
  const outpoint = (txid: Uint8Array, index: number) => BinaryWriter.ofSize(OUTPOINT_BYTES).bytes(txid).u32(index).finish();
  const mineInputs = inputs.filter((input) => input.mine);
  // A lock with every input this shard's settles X (the kernel's settleLock): it creates outputs as a commit does.
  const settles = kind === TxKind.AtomixLock && mineInputs.length === inputs.length;
  const locks = kind === TxKind.AtomixLock && !settles;
  const spent = mineInputs.map((input) => (kind === TxKind.AtomixLock
    ? { key: outpoint(input.txid, input.index), owner: input.owner }
    : { key: lockedKeyOf(input.txid, input.index), owner: lockOwner }));
  const created = kind === TxKind.AtomixUnlockCommit || settles
    ? outputs.flatMap((output, j) => (output.mine ? [{ key: outpoint(crossTxid, j), owner: output.owner, amount: output.amount }] : []))
    : mineInputs.map((input) => (locks
      ? { key: lockedKeyOf(input.txid, input.index), owner: lockOwner, amount: input.amount }
      : { key: outpoint(input.txid, input.index), owner: input.owner, amount: input.amount }));
  return { spent, created };
}

/**
 * An Atomix apply record from its parts, unchecked: the kind modules write theirs with it, and
 * tests build records the kernel must judge, bad ones included.
 */
export function encodeAtomixRecord(kind: AtomixKind, txid: Uint8Array, crossTxid: Uint8Array, inputs: readonly AtomixRecordInput[], outputs: readonly AtomixRecordOutput[]): Uint8Array<ArrayBuffer> {
  const lockOwner = atomixLockOwner(crossTxid);
  const { spent, created } = effectsOf(kind, crossTxid, lockOwner, inputs, outputs);
  const size = atomixRecordBytes(inputs.length, outputs.length, spent.length, created.length);
  const writer = BinaryWriter.ofSize(size).u8(kind).u32(size).bytes(txid).bytes(crossTxid).bytes(lockOwner).u16(inputs.length).u16(outputs.length);
  for (const input of inputs) writer.bytes(input.txid).u32(input.index).bytes(input.owner).u64(input.amount).u8(input.mine ? 1 : 0);
  for (const output of outputs) writer.bytes(output.owner).u64(output.amount).u8(output.mine ? 1 : 0);
  writer.u16(spent.length).u16(created.length);
  for (const entry of spent) writer.bytes(entry.key).bytes(entry.owner);
  for (const entry of created) writer.bytes(entry.key).bytes(entry.owner).u64(entry.amount);
  return writer.finish();
}

/** The cross-shard transaction an Atomix record (its bytes, header first) locks or unlocks: a view. */
export function atomixCrossTxidOf(record: Uint8Array): Uint8Array {
  const at = RECORD_HEADER.bytes + FIXED.offset.crossTxid;
  return record.subarray(at, at + TXID_BYTES);
}

/** Whether the Atomix lock record (its bytes, header first) settles its X: every input is marked the shard's. */
export function recordLockSettles(record: Uint8Array): boolean {
  const fixed = RECORD_HEADER.bytes;
  const inputs = fixed + FIXED.bytes;
  const count = readU16(record, fixed + FIXED.offset.inputCount);
  for (let i = 0; i < count; i++) if (record[inputs + i * INPUT.bytes + INPUT.offset.mine] === 0) return false;
  return true;
}

/** Offset of the effects section of the record at `at`. */
function effectsAt(records: Uint8Array, at: number): number {
  const fixed = at + RECORD_HEADER.bytes;
  return fixed + FIXED.bytes + readU16(records, fixed + FIXED.offset.inputCount) * INPUT.bytes + readU16(records, fixed + FIXED.offset.outputCount) * OUTPUT.bytes;
}

/** The record layout of the Atomix kinds: their effects section. `balanced`: false for a commit (its outputs come from other shards' locks). */
export function atomixRecordLayout(balanced: boolean): RecordLayout {
  const spentAt = (records: Uint8Array, at: number) => effectsAt(records, at) + EFFECTS.bytes;
  const createdAt = (records: Uint8Array, at: number) => spentAt(records, at) + readU16(records, effectsAt(records, at) + EFFECTS.offset.spentCount) * RECORD_INPUT.bytes;
  return {
    balanced,
    inputCount: (records, at) => readU16(records, effectsAt(records, at) + EFFECTS.offset.spentCount),
    inputAt: (records, at, i) => spentAt(records, at) + i * RECORD_INPUT.bytes,
    outputCount: (records, at) => readU16(records, effectsAt(records, at) + EFFECTS.offset.createdCount),
    outputAt: (records, at, j) => createdAt(records, at) + j * CREATED.bytes + CREATED.offset.value,
    createdKeyAt: (records, at, j) => createdAt(records, at) + j * CREATED.bytes + CREATED.offset.key,
  };
}
