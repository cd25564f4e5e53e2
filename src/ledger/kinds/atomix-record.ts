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
 * lockOwner = SHA-256("IOSChain/atomix/lock/v1" ‖ crossTxid): nobody can sign for it. The
 * unlock-to-commit batch (many X in one output shard) has its own record: ./atomix-batch-record.ts.
 *
 * API: `atomixLockOwner(crossTxid)`, `recordLockSettles(record)`, `atomixCrossTxidOf(record)`, `lockedKeyOf(outpoint)`,
 * `writeAtomixRecord(...)` (from X's bytes), `atomixRecordSize(...)`, `encodeAtomixRecord(...)` (from objects), `CROSS_INPUT`,
 * `atomixRecordLayout(balanced)`, `LOCK_INDEX_FLAG`, `ATOMIX_OUTPUT` `ATOMIX_EFFECTS` `ATOMIX_CREATED` (layouts the batch record shares).
 */
import { BinaryWriter, readU16, readU32, writeU16, writeU32 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, OUTPOINT_BYTES, OUTPUT_INDEX_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { sha256 } from "../../crypto/sha256.js";
import { invariant } from "../../errors.js";
import { RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, TxKind, type RecordLayout } from "./interface.js";

const LOCK_DOMAIN = new TextEncoder().encode("IOSChain/atomix/lock/v1");
/** A locked output's key: its outpoint with this bit set in the index (as the kernel's LOCK_FLAG). */
export const LOCK_INDEX_FLAG = 0x8000_0000;

/** An input of X as X encodes it (./atomix.ts): its outpoint, owner and declared amount; records copy it as it is. */
export const CROSS_INPUT = layout({ txid: TXID_BYTES, index: OUTPUT_INDEX_BYTES, owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES });
const FIXED = layout({ crossTxid: TXID_BYTES, lockOwner: PUBLIC_KEY_BYTES, inputCount: 2, outputCount: 2 });
const INPUT = layout({ outpoint: OUTPOINT_BYTES, owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES, mine: 1 });
/** An output in an Atomix record (the batch record's too): RECORD_OUTPUT and whether it is the applying shard's. */
export const ATOMIX_OUTPUT = layout({ owner: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES, mine: 1 });
/** The effects section's counts, and each created entry (key, value), in every Atomix record. */
export const ATOMIX_EFFECTS = layout({ spentCount: 2, createdCount: 2 });
export const ATOMIX_CREATED = layout({ key: OUTPOINT_BYTES, value: RECORD_OUTPUT.bytes });

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

function atomixRecordBytes(inputCount: number, outputCount: number, spentCount: number, createdCount: number): number {
  return RECORD_HEADER.bytes + FIXED.bytes + inputCount * INPUT.bytes + outputCount * ATOMIX_OUTPUT.bytes + ATOMIX_EFFECTS.bytes + spentCount * RECORD_INPUT.bytes + createdCount * ATOMIX_CREATED.bytes;
}

/**
 * What an OK apply of `kind` spends and creates in `shard` (see the header), as counts: `owners`
 * holds the shard of each input, then of each output.
 */
function effectCounts(kind: AtomixKind, inputCount: number, outputCount: number, owners: ArrayLike<number>, shard: number) {
  let mineInputs = 0;
  let mineOutputs = 0;
  for (let i = 0; i < inputCount; i++) if (owners[i] === shard) mineInputs++;
  for (let j = 0; j < outputCount; j++) if (owners[inputCount + j] === shard) mineOutputs++;
  // A lock with every input this shard's settles X (the kernel's settleLock): it creates outputs as a commit does.
  const settles = kind === TxKind.AtomixLock && mineInputs === inputCount;
  const createsOutputs = kind === TxKind.AtomixUnlockCommit || settles;
  return { spent: mineInputs, created: createsOutputs ? mineOutputs : mineInputs, createsOutputs };
}

/** Size of the Atomix record of `kind` in `shard`, for X's counts and its owners' shards (inputs, then outputs). */
export function atomixRecordSize(kind: AtomixKind, inputCount: number, outputCount: number, owners: ArrayLike<number>, shard: number): number {
  const { spent, created } = effectCounts(kind, inputCount, outputCount, owners, shard);
  return atomixRecordBytes(inputCount, outputCount, spent, created);
}

/**
 * Writes the Atomix record of `kind` (txid `txid`) for the cross-shard transfer `crossTxid` in
 * `shard`, at out[at], by copying X's entries as they are: `inputs` holds its inputs back to back
 * (outpoint[36] ‖ owner[32] ‖ declared amount u64 each, X's own input layout), `outputs` its
 * outputs (RECORD_OUTPUT each), `owners` the shard of each input, then of each output. Unchecked:
 * the kinds write records of what their scan accepted, and tests build records the kernel must
 * judge, bad ones included. Returns the record's size.
 */
export function writeAtomixRecord(
  kind: AtomixKind, txid: Uint8Array, crossTxid: Uint8Array, inputs: Uint8Array, outputs: Uint8Array,
  owners: ArrayLike<number>, shard: number, out: Uint8Array, at: number,
): number {
  const inputCount = inputs.length / CROSS_INPUT.bytes;
  const outputCount = outputs.length / RECORD_OUTPUT.bytes;
  const { spent, created, createsOutputs } = effectCounts(kind, inputCount, outputCount, owners, shard);
  const size = atomixRecordBytes(inputCount, outputCount, spent, created);
  const lockOwner = atomixLockOwner(crossTxid);
  out[at] = kind;
  writeU32(out, at + RECORD_HEADER.offset.length, size);
  out.set(txid, at + RECORD_HEADER.offset.txid);
  let w = at + RECORD_HEADER.bytes;
  out.set(crossTxid, w + FIXED.offset.crossTxid);
  out.set(lockOwner, w + FIXED.offset.lockOwner);
  writeU16(out, w + FIXED.offset.inputCount, inputCount);
  writeU16(out, w + FIXED.offset.outputCount, outputCount);
  w += FIXED.bytes;
  for (let i = 0; i < inputCount; i++, w += INPUT.bytes) {
    out.set(inputs.subarray(i * CROSS_INPUT.bytes, (i + 1) * CROSS_INPUT.bytes), w);
    out[w + INPUT.offset.mine] = owners[i] === shard ? 1 : 0;
  }
  for (let j = 0; j < outputCount; j++, w += ATOMIX_OUTPUT.bytes) {
    out.set(outputs.subarray(j * RECORD_OUTPUT.bytes, (j + 1) * RECORD_OUTPUT.bytes), w);
    out[w + ATOMIX_OUTPUT.offset.mine] = owners[inputCount + j] === shard ? 1 : 0;
  }
  writeU16(out, w + ATOMIX_EFFECTS.offset.spentCount, spent);
  writeU16(out, w + ATOMIX_EFFECTS.offset.createdCount, created);
  w += ATOMIX_EFFECTS.bytes;
  // A lock spends the inputs where they are; an unlock, their locked keys.
  for (let i = 0; i < inputCount; i++) {
    if (owners[i] !== shard) continue;
    const input = i * CROSS_INPUT.bytes;
    if (kind === TxKind.AtomixLock) {
      out.set(inputs.subarray(input, input + RECORD_INPUT.bytes), w);
    } else {
      writeLockedKey(inputs, input, out, w);
      out.set(lockOwner, w + RECORD_INPUT.offset.owner);
    }
    w += RECORD_INPUT.bytes;
  }
  if (createsOutputs) {
    for (let j = 0; j < outputCount; j++) {
      if (owners[inputCount + j] !== shard) continue;
      out.set(crossTxid, w);
      writeU32(out, w + TXID_BYTES, j);
      out.set(outputs.subarray(j * RECORD_OUTPUT.bytes, (j + 1) * RECORD_OUTPUT.bytes), w + ATOMIX_CREATED.offset.value);
      w += ATOMIX_CREATED.bytes;
    }
  } else {
    for (let i = 0; i < inputCount; i++) {
      if (owners[i] !== shard) continue;
      const input = i * CROSS_INPUT.bytes;
      if (kind === TxKind.AtomixLock) {
        // Moved to its locked key, owned by nobody who can sign, amount kept.
        writeLockedKey(inputs, input, out, w);
        out.set(lockOwner, w + ATOMIX_CREATED.offset.value + RECORD_OUTPUT.offset.owner);
        out.set(inputs.subarray(input + RECORD_INPUT.bytes, input + CROSS_INPUT.bytes), w + ATOMIX_CREATED.offset.value + RECORD_OUTPUT.offset.amount);
      } else {
        // An abort gives the input back as it was: outpoint, owner, amount.
        out.set(inputs.subarray(input, input + CROSS_INPUT.bytes), w);
      }
      w += ATOMIX_CREATED.bytes;
    }
  }
  invariant(w === at + size, "an Atomix record fills the size its counts give");
  return size;
}

/** Writes the locked key of the input at inputs[input] (its outpoint with LOCK_INDEX_FLAG) at out[to]. */
function writeLockedKey(inputs: Uint8Array, input: number, out: Uint8Array, to: number): void {
  out.set(inputs.subarray(input, input + TXID_BYTES), to);
  writeU32(out, to + TXID_BYTES, (readU32(inputs, input + TXID_BYTES) | LOCK_INDEX_FLAG) >>> 0);
}

/**
 * An Atomix apply record from its parts as objects, unchecked (tests build records the kernel must
 * judge, bad ones included): the parts are laid out as X lays them out, then written by
 * `writeAtomixRecord`.
 */
export function encodeAtomixRecord(kind: AtomixKind, txid: Uint8Array, crossTxid: Uint8Array, inputs: readonly AtomixRecordInput[], outputs: readonly AtomixRecordOutput[]): Uint8Array<ArrayBuffer> {
  const inputBytes = BinaryWriter.ofSize(inputs.length * CROSS_INPUT.bytes);
  for (const input of inputs) inputBytes.bytes(input.txid).u32(input.index).bytes(input.owner).u64(input.amount);
  const outputBytes = BinaryWriter.ofSize(outputs.length * RECORD_OUTPUT.bytes);
  for (const output of outputs) outputBytes.bytes(output.owner).u64(output.amount);
  // Shard 0 is the applying shard: a part marked mine lives there, any other in shard 1.
  const owners = [...inputs, ...outputs].map((part) => (part.mine ? 0 : 1));
  const x = { inputs: inputBytes.finish(), outputs: outputBytes.finish() };
  const record = new Uint8Array(atomixRecordSize(kind, inputs.length, outputs.length, owners, 0));
  writeAtomixRecord(kind, txid, crossTxid, x.inputs, x.outputs, owners, 0, record, 0);
  return record;
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
  return fixed + FIXED.bytes + readU16(records, fixed + FIXED.offset.inputCount) * INPUT.bytes + readU16(records, fixed + FIXED.offset.outputCount) * ATOMIX_OUTPUT.bytes;
}

/** The record layout of the Atomix kinds: their effects section. `balanced`: false for a commit (its outputs come from other shards' locks). */
export function atomixRecordLayout(balanced: boolean): RecordLayout {
  const spentAt = (records: Uint8Array, at: number) => effectsAt(records, at) + ATOMIX_EFFECTS.bytes;
  const createdAt = (records: Uint8Array, at: number) => spentAt(records, at) + readU16(records, effectsAt(records, at) + ATOMIX_EFFECTS.offset.spentCount) * RECORD_INPUT.bytes;
  return {
    balanced,
    inputCount: (records, at) => readU16(records, effectsAt(records, at) + ATOMIX_EFFECTS.offset.spentCount),
    inputAt: (records, at, i) => spentAt(records, at) + i * RECORD_INPUT.bytes,
    outputCount: (records, at) => readU16(records, effectsAt(records, at) + ATOMIX_EFFECTS.offset.createdCount),
    outputAt: (records, at, j) => createdAt(records, at) + j * ATOMIX_CREATED.bytes + ATOMIX_CREATED.offset.value,
    createdKeyAt: (records, at, j) => createdAt(records, at) + j * ATOMIX_CREATED.bytes + ATOMIX_CREATED.offset.key,
  };
}
