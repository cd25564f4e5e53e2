/**
 * The shard's working UTXO set: the WASM open-addressing table of assembly/utxo (see its header
 * for the layout, the probing and the incremental growth), wrapped for TypeScript.
 *
 * API (class `UtxoTable`, one WASM instance each):
 *   new UtxoTable({ flavor?, initialCapacityLog2?, chain? })
 *   applyBlock(records, recordCount, undoable?, replay?): BlockDelta   stateful validation + application of a block
 *   setReleases(permits)                          the bond releases the epoch admits (kinds/registration.ts)
 *   undoLastBlock() / forgetUndo()                revert the last applied block exactly / make it permanent
 *   insertEntries(packed) / insert(entry)         load genesis outputs or a flushed set on restart
 *   removeEntries(outpoints)                      replay a flushed set's logged spends on restart
 *   get(txid, index) / has(txid, index)           lookups
 *   snapshot(): Uint8Array ; entries()            every entry (packed 76-byte form / objects)
 *   count, supply, capacity                       size, Σ amounts, buckets
 *   blockDelta(records, statuses)                 a BlockDelta's created/spent lists (read lazily by applyBlock's result; exported for the bench)
 * Packed entry (76 bytes, also the LMDB form: key = first 36, value = last 40):
 *   txid[32] ‖ u32le index ‖ owner[32] ‖ u64le amount.
 * `records` is the packed apply-record buffer produced by `validateStateless` (stateless.ts).
 * A BlockDelta reports the entries a block created and the keys it spent, with outputs created
 * and spent inside the same block cancelled out, so a store can upsert/delete them in a batch
 * (computed on first access from a private copy of the records).
 */
import { BinaryWriter, readU32, readU64, writeU32 } from "../codec/binary.js";
import { HASH_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES, UTXO_ENTRY } from "../codec/sizes.js";
import { instantiateKernel, type WasmFlavor } from "../crypto/wasm.js";
import { ByteKeyMap } from "./byte-key-map.js";
import { RecordCursor } from "./records.js";
import { outpointKey } from "./transaction.js";
import { IosError, check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

/** A packed entry (UTXO_ENTRY): the outpoint key, then the value (owner ‖ amount, a record output's layout). */
export const ENTRY_BYTES = UTXO_ENTRY.bytes;

/** Status of one transaction in `applyBlock` (codes shared with assembly/utxo/index.ts). */
export const ApplyStatus = {
  Ok: 0,
  MissingInput: 1,
  OwnerMismatch: 2,
  InsufficientFunds: 3,
  /** Σ outputs exceeds u64 (Σ inputs cannot: the table's supply is kept within u64). */
  OutputOverflow: 4,
  DuplicateInput: 5,
  /** An output's outpoint is already in the table: (txid, j), or a registration's bond outpoint (its key's bond is live); or an Atomix batch creates it twice. */
  OutputExists: 6,
  /** The record does not fit the buffer, has no inputs or outputs, a zero amount, or an unknown registration operation or unflagged bond key (a release's too). */
  Malformed: 7,
  OutOfMemory: 8,
  /** The kernel has no case for the record's kind (the records after it still apply). */
  UnknownKind: 9,
  /** Atomix: an input of this shard is not locked by this transaction (commit, abort). */
  NotLocked: 13,
  /** Atomix: an input's declared amount is not the output's. */
  AmountMismatch: 14,
  /** Registration: its proof of possession names another chain than the table's (or the table was given none). */
  WrongChain: 15,
  /** Release: the bond it names is not in the table (released already, or slashed). */
  BondGone: 16,
  /** Release: no permit of the epoch names its bond and payout (`setReleases`). */
  NotReleasable: 17,
} as const;
export type ApplyStatus = (typeof ApplyStatus)[keyof typeof ApplyStatus];
export const APPLY_STATUS_NAMES: readonly string[] = [
  "OK", "MISSING_INPUT", "OWNER_MISMATCH", "INSUFFICIENT_FUNDS", "OUTPUT_OVERFLOW",
  "DUPLICATE_INPUT", "OUTPUT_EXISTS", "MALFORMED", "OUT_OF_MEMORY", "UNKNOWN_KIND",
  // 10–12 are insertEntries' and undoBlock's own statuses, never a record's.
  "ZERO_AMOUNT", "SUPPLY_OVERFLOW", "NOTHING_TO_UNDO", "NOT_LOCKED", "AMOUNT_MISMATCH", "WRONG_CHAIN", "BOND_GONE", "NOT_RELEASABLE",
];

/** The code a transaction settles with when its apply fails: its status's name. */
export function applyStatusName(status: number): string {
  return APPLY_STATUS_NAMES[status] ?? `APPLY_STATUS_${status}`;
}

/** undoBlock's status when no applied block can be undone (assembly/utxo/index.ts). */
const NOTHING_TO_UNDO = 12;

/** Why `insertEntries` stopped (codes of the kernel's lastStatus()). */
const INSERT_FAILURES: Record<number, [LedgerErrorCode, string]> = {
  6: ["UTXO_DUPLICATE_ENTRY", "outpoint already present"],
  8: ["UTXO_OUT_OF_MEMORY", "the table cannot grow further"],
  10: ["UTXO_BAD_INPUT", "amount must be > 0"],
  11: ["UTXO_SUPPLY_OVERFLOW", "total supply would exceed u64"],
};

/** Initial buckets: 2^16 (5 MiB), enough for a devnet shard before the first doubling. */
const DEFAULT_CAPACITY_LOG2 = 16;
/** Entries (or outpoints) copied into the kernel's scratch per insertEntries / removeEntries call: at most 608 KiB. */
const ENTRIES_PER_CALL = 8192;
/** Entries per copyEntries call when taking a snapshot: bounds the scratch buffer to 304 KiB. */
const SNAPSHOT_CHUNK = 4096;

export interface UtxoEntry {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: Uint8Array;
  readonly amount: bigint;
}

export interface BlockDelta {
  /** One ApplyStatus per record, in order. */
  readonly statuses: Uint8Array;
  /** Records applied (status Ok). */
  readonly applied: number;
  /** Packed 76-byte entries created by the block and still unspent after it. */
  readonly created: Uint8Array;
  /** Packed 36-byte outpoint keys of entries that existed before the block and were spent by it. */
  readonly spent: Uint8Array;
}

interface UtxoKernel {
  memory: WebAssembly.Memory;
  init(capacityLog2: number): number;
  scratch(bytes: number): number;
  count(): number;
  supply(): bigint;
  capacity(): number;
  growing(): number;
  insertEntries(ptr: number, n: number): number;
  removeEntries(ptr: number, n: number): number;
  lastStatus(): number;
  lookup(keyPtr: number, outPtr: number): number;
  copyEntries(cursor: number, outPtr: number, max: number): number;
  copied(): number;
  applyBlock(ptr: number, bytes: number, n: number, statusPtr: number, flags: number): number;
  undoBlock(): number;
  forgetUndo(): void;
  setChain(ptr: number): void;
  setReleases(ptr: number, n: number): number;
}

/** A bond the epoch lets its validator take back, and the owner the release must pay (a context's `releasable()`). */
export interface ReleasePermit {
  readonly bond: Uint8Array;
  readonly payout: Uint8Array;
}

const RELEASE_PERMIT_BYTES = OUTPOINT_BYTES + PUBLIC_KEY_BYTES;
/** The kernel's OK and OUT_OF_MEMORY (assembly/utxo/index.ts). */
const KERNEL_OK = 0;

export function packEntry(entry: UtxoEntry, out = new Uint8Array(ENTRY_BYTES), offset = 0): Uint8Array {
  check<LedgerErrorCode>(entry.owner.length === PUBLIC_KEY_BYTES, "UTXO_BAD_INPUT", `owner must be ${PUBLIC_KEY_BYTES} bytes`);
  check<LedgerErrorCode>(entry.amount > 0n && entry.amount < 1n << 64n, "UTXO_BAD_INPUT", "amount must be in 1..2^64-1");
  new BinaryWriter(out, offset).bytes(outpointKey(entry.txid, entry.index)).bytes(entry.owner).u64(entry.amount);
  return out;
}

export function unpackEntry(packed: Uint8Array, offset = 0): UtxoEntry {
  return {
    txid: packed.slice(offset + UTXO_ENTRY.offset.txid, offset + UTXO_ENTRY.offset.txid + TXID_BYTES),
    index: readU32(packed, offset + UTXO_ENTRY.offset.index),
    owner: packed.slice(offset + UTXO_ENTRY.offset.owner, offset + UTXO_ENTRY.offset.owner + PUBLIC_KEY_BYTES),
    amount: readU64(packed, offset + UTXO_ENTRY.offset.amount),
  };
}

export class UtxoTable {
  readonly flavor: WasmFlavor | undefined;
  private readonly kernel: UtxoKernel;
  private heap: Uint8Array<ArrayBuffer>;

  /**
   * `chain`: the 32-byte chain id a registration's proof of possession must name to apply
   * (genesisPopChainId); without it every registration is WRONG_CHAIN.
   */
  constructor(options: { flavor?: WasmFlavor; initialCapacityLog2?: number; chain?: Uint8Array } = {}) {
    const capacityLog2 = options.initialCapacityLog2 ?? DEFAULT_CAPACITY_LOG2;
    check<LedgerErrorCode>(Number.isInteger(capacityLog2) && capacityLog2 >= 4 && capacityLog2 <= 25, "UTXO_BAD_INPUT",
      `initialCapacityLog2 must be an integer in 4..25, got ${capacityLog2}`);
    this.flavor = options.flavor;
    this.kernel = instantiateKernel("utxo", options.flavor).exports as unknown as UtxoKernel;
    if (this.kernel.init(capacityLog2) !== 0) throw new IosError<LedgerErrorCode>("UTXO_OUT_OF_MEMORY", "cannot allocate the initial table");
    this.heap = new Uint8Array(this.kernel.memory.buffer);
    if (options.chain !== undefined) {
      check<LedgerErrorCode>(options.chain.length === HASH_BYTES, "UTXO_BAD_INPUT", `a chain id is ${HASH_BYTES} bytes`);
      const ptr = this.scratch(HASH_BYTES);
      this.memory().set(options.chain, ptr);
      this.kernel.setChain(ptr);
    }
  }

  /** A view of WASM memory; memory.grow detaches the old buffer, so re-read after every call. */
  private memory(): Uint8Array<ArrayBuffer> {
    if (this.heap.buffer !== this.kernel.memory.buffer) this.heap = new Uint8Array(this.kernel.memory.buffer);
    return this.heap;
  }

  private scratch(bytes: number): number {
    const ptr = this.kernel.scratch(bytes);
    if (ptr === 0) throw new IosError<LedgerErrorCode>("UTXO_OUT_OF_MEMORY", `cannot reserve ${bytes} bytes of WASM memory`);
    return ptr;
  }

  get count(): number {
    return this.kernel.count();
  }

  /** Σ amounts of all entries (u64). */
  get supply(): bigint {
    return BigInt.asUintN(64, this.kernel.supply());
  }

  /** Buckets of the current table. */
  get capacity(): number {
    return this.kernel.capacity();
  }

  /** True while an older table is still being drained into the current one. */
  get growing(): boolean {
    return this.kernel.growing() === 1;
  }

  /**
   * Passes `packed` (`what`, `stride` bytes each) to the kernel `call` through its scratch,
   * ENTRIES_PER_CALL at a time; `call` answers how many it took, and `refuse` gets the index of
   * the first it did not take.
   */
  private inCalls(packed: Uint8Array, stride: number, what: string, call: (ptr: number, n: number) => number, refuse: (index: number) => never): void {
    check<LedgerErrorCode>(packed.length % stride === 0, "UTXO_BAD_INPUT", `packed ${what} must be a multiple of ${stride} bytes`);
    const total = packed.length / stride;
    for (let first = 0; first < total; first += ENTRIES_PER_CALL) {
      const n = Math.min(ENTRIES_PER_CALL, total - first);
      const ptr = this.scratch(n * stride);
      this.memory().set(packed.subarray(first * stride, (first + n) * stride), ptr);
      const taken = call(ptr, n);
      if (taken < n) refuse(first + taken);
    }
  }

  /**
   * Inserts packed 76-byte entries (genesis outputs, or the flushed set on restart). Throws on a
   * duplicate outpoint, a zero amount or a supply overflow; entries before the bad one stay in.
   */
  insertEntries(packed: Uint8Array): void {
    this.inCalls(packed, ENTRY_BYTES, "entries", (ptr, n) => this.kernel.insertEntries(ptr, n), (entry) => {
      const [code, why] = INSERT_FAILURES[this.kernel.lastStatus()] ?? ["UTXO_BAD_INPUT", "rejected"];
      throw new IosError<LedgerErrorCode>(code, `entry ${entry}: ${why}`, { entry });
    });
  }

  /**
   * Removes the entries of packed 36-byte outpoints (a flushed set's logged spends, on restart).
   * Throws UTXO_MISSING_ENTRY for an outpoint the table does not hold; those before it are removed.
   */
  removeEntries(outpoints: Uint8Array): void {
    this.inCalls(outpoints, OUTPOINT_BYTES, "outpoints", (ptr, n) => this.kernel.removeEntries(ptr, n), (entry) => {
      throw new IosError<LedgerErrorCode>("UTXO_MISSING_ENTRY", `outpoint ${entry}: not in the table`, { entry });
    });
  }

  insert(entry: UtxoEntry): void {
    this.insertEntries(packEntry(entry));
  }

  get(txid: Uint8Array, index: number): { owner: Uint8Array; amount: bigint } | undefined {
    const ptr = this.lookupEntry(txid, index);
    if (ptr === undefined) return undefined;
    const memory = this.memory();
    const owner = ptr + UTXO_ENTRY.offset.owner;
    return { owner: memory.slice(owner, owner + PUBLIC_KEY_BYTES), amount: readU64(memory, ptr + UTXO_ENTRY.offset.amount) };
  }

  has(txid: Uint8Array, index: number): boolean {
    return this.lookupEntry(txid, index) !== undefined;
  }

  /**
   * Looks outpoint (txid, index) up, its key written straight into the kernel's scratch (a lookup
   * per input on the hot paths: no key buffer, no copy of the txid back): the scratch entry's
   * address, owner and amount filled in, or undefined when absent. Same checks as `outpointKey`.
   */
  private lookupEntry(txid: Uint8Array, index: number): number | undefined {
    check<LedgerErrorCode>(txid.length === TXID_BYTES, "TX_BAD_FIELD", "txid must be 32 bytes");
    check<LedgerErrorCode>(Number.isInteger(index) && index >= 0 && index <= 0xffffffff, "TX_BAD_FIELD", "index must be a u32");
    const ptr = this.scratch(ENTRY_BYTES);
    const memory = this.memory();
    memory.set(txid, ptr + UTXO_ENTRY.offset.txid);
    writeU32(memory, ptr + UTXO_ENTRY.offset.index, index);
    return this.kernel.lookup(ptr, ptr + UTXO_ENTRY.offset.owner) === 0 ? undefined : ptr;
  }

  /** Every entry, packed (76 bytes each), in table order (not sorted). */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.count * ENTRY_BYTES);
    const ptr = this.scratch(SNAPSHOT_CHUNK * ENTRY_BYTES);
    let cursor = 0;
    let written = 0;
    for (;;) {
      const next = this.kernel.copyEntries(cursor, ptr, SNAPSHOT_CHUNK);
      const n = this.kernel.copied();
      out.set(this.memory().subarray(ptr, ptr + n * ENTRY_BYTES), written * ENTRY_BYTES);
      written += n;
      if (next === cursor || n < SNAPSHOT_CHUNK) break;
      cursor = next;
    }
    return out.subarray(0, written * ENTRY_BYTES);
  }

  *entries(): Generator<UtxoEntry> {
    const packed = this.snapshot();
    for (let at = 0; at < packed.length; at += ENTRY_BYTES) yield unpackEntry(packed, at);
  }

  /**
   * The bond releases this table admits from now on (registration.ts, operation release): a
   * release of a bond no permit names, or to another payout, is NOT_RELEASABLE. Whoever drives the
   * epoch gives its context's `releasable()`; a table given none admits no release.
   */
  setReleases(permits: readonly ReleasePermit[]): void {
    const ptr = this.scratch(Math.max(1, permits.length * RELEASE_PERMIT_BYTES));
    const memory = this.memory();
    permits.forEach(({ bond, payout }, i) => {
      check<LedgerErrorCode>(bond.length === OUTPOINT_BYTES && payout.length === PUBLIC_KEY_BYTES, "UTXO_BAD_INPUT", "a permit is a bond outpoint and a payout owner");
      memory.set(bond, ptr + i * RELEASE_PERMIT_BYTES);
      memory.set(payout, ptr + i * RELEASE_PERMIT_BYTES + OUTPOINT_BYTES);
    });
    if (this.kernel.setReleases(ptr, permits.length) !== KERNEL_OK) throw new IosError<LedgerErrorCode>("UTXO_OUT_OF_MEMORY", `cannot hold ${permits.length} release permits`);
  }

  /**
   * Applies `recordCount` packed apply records in order: per transaction, all inputs exist with the
   * claimed owner, sums fit u64 and Σin ≥ Σout, then inputs are spent and outputs created — or
   * nothing changes and its status says why. Σin − Σout (the fee) leaves the supply. `undoable`
   * (default) keeps the journal `undoLastBlock` needs; without it the apply is about 5% faster.
   * `replay`: the records are a final chain's being replayed, whose bond releases were judged when
   * they became final, so no permit is asked of them (the epoch's permits may have moved on since).
   */
  applyBlock(records: Uint8Array, recordCount: number, undoable = true, replay = false): BlockDelta {
    check<LedgerErrorCode>(Number.isInteger(recordCount) && recordCount >= 0, "UTXO_BAD_INPUT", "recordCount must be a non-negative integer");
    const ptr = this.scratch(records.length + recordCount);
    this.memory().set(records, ptr);
    const statusPtr = ptr + records.length;
    const applied = this.kernel.applyBlock(ptr, records.length, recordCount, statusPtr, (undoable ? 1 : 0) | (replay ? 2 : 0));
    const statuses = this.memory().slice(statusPtr, statusPtr + recordCount);
    return new AppliedBlock(records.slice(), statuses, applied);
  }

  /**
   * Reverts the last `applyBlock` exactly — entries, count and supply — (a consensus execution
   * that did not become final). Only the last block can be undone, and only until `forgetUndo`,
   * `insertEntries` or the next `applyBlock`; otherwise UTXO_NOTHING_TO_UNDO.
   */
  undoLastBlock(): void {
    const status = this.kernel.undoBlock();
    check<LedgerErrorCode>(status !== NOTHING_TO_UNDO, "UTXO_NOTHING_TO_UNDO", "no applied block can be undone");
  }

  /** Makes the last applied block permanent: it can no longer be undone. */
  forgetUndo(): void {
    this.kernel.forgetUndo();
  }
}

/**
 * Output indexes per creator in `blockDelta`'s cancelled set: an applied spend names an output its
 * creator made, j < the u16 output count; creator offsets stay far below 2^53 / 2^16.
 */
const CANCEL_STRIDE = 0x10000;

/** A BlockDelta whose created/spent lists are computed on first access (the apply hot path skips them). */
class AppliedBlock implements BlockDelta {
  private lists: { created: Uint8Array; spent: Uint8Array } | undefined;

  constructor(
    private readonly records: Uint8Array,
    readonly statuses: Uint8Array,
    readonly applied: number,
  ) {}

  get created(): Uint8Array {
    this.lists ??= blockDelta(this.records, this.statuses);
    return this.lists.created;
  }

  get spent(): Uint8Array {
    this.lists ??= blockDelta(this.records, this.statuses);
    return this.lists.spent;
  }
}

/**
 * Entries created and keys spent by the applied records, net of outputs spent in the same block.
 * Outputs at (record txid, j) — every kind but Atomix's and a registration's bond — are found by
 * their creator's txid without a key per output; the others (RecordCursor.createdKey) by their
 * keys, each a ByteKeyMap key viewing `records` (no string, no copy per output).
 * `created` lists the outputs at their creator's txid first, in order of the creators' first
 * appearance, then the others in order of creation (a key spent and created again counts from its
 * last creation). Its readers (the store's pending delta) key every entry, so nothing depends on
 * this order; it is kept stable so that equal blocks give equal bytes.
 */
export function blockDelta(records: Uint8Array, statuses: Uint8Array): { created: Uint8Array; spent: Uint8Array } {
  /**
   * Offsets of the applied records that created outputs at their own txid, in first-seen order, and
   * each txid's place in that list (keyed by a view: no key string per record).
   */
  const createdOffsets: number[] = [];
  const createdTxs = new ByteKeyMap<number>();
  /** Outputs (creator record offset, j) spent in the same block, as creator × CANCEL_STRIDE + j. */
  const cancelled = new Set<number>();
  /**
   * Entries created elsewhere, in order of creation: key and value (views of `records`), the value
   * dropped when the same block spends the key; `elsewhereAt` gives a live key's place.
   */
  const elsewhereKeys: Uint8Array[] = [];
  const elsewhereValues: (Uint8Array | undefined)[] = [];
  const elsewhereAt = new ByteKeyMap<number>();
  const spentKeys: Uint8Array[] = [];
  let createdCount = 0;
  // Up to the last applied record every header is sound (the kernel stepped over them); past it
  // the buffer may be cut short, and nothing there changed the table.
  const lastApplied = statuses.lastIndexOf(ApplyStatus.Ok);
  if (lastApplied < 0) return { created: new Uint8Array(0), spent: new Uint8Array(0) };
  const cursor = new RecordCursor(records);
  for (let t = 0; t <= lastApplied; t++) {
    if (t > 0) cursor.next();
    if (statuses[t] !== ApplyStatus.Ok) continue;
    for (let i = 0; i < cursor.inputCount; i++) {
      const outpoint = cursor.outpoint(i);
      if (elsewhereAt.size > 0) {
        const place = elsewhereAt.get(outpoint);
        if (place !== undefined) {
          elsewhereAt.delete(outpoint);
          elsewhereValues[place] = undefined;
          continue;
        }
      }
      const place = createdTxs.size === 0 ? undefined : createdTxs.get(outpoint.subarray(0, TXID_BYTES));
      const creator = place === undefined ? undefined : createdOffsets[place]!;
      if (creator === undefined) spentKeys.push(outpoint);
      else cancelled.add(creator * CANCEL_STRIDE + cursor.outpointIndex(i));
    }
    if (cursor.createsAtOwnTxid) {
      const place = createdTxs.get(cursor.txid);
      if (place === undefined) {
        createdTxs.set(cursor.txid, createdOffsets.length);
        createdOffsets.push(cursor.offset);
      } else createdOffsets[place] = cursor.offset;
      createdCount += cursor.outputCount;
      continue;
    }
    // A key in `elsewhereAt` is live in the table, and no applied record creates a live key
    // (OUTPUT_EXISTS, a batch's own repeats included): each key here is new to the map.
    for (let j = 0; j < cursor.outputCount; j++) {
      const key = cursor.createdKey(j);
      elsewhereAt.set(key, elsewhereKeys.length);
      elsewhereKeys.push(key);
      elsewhereValues.push(cursor.output(j));
    }
  }
  const spent = new Uint8Array(spentKeys.length * OUTPOINT_BYTES);
  spentKeys.forEach((key, k) => spent.set(key, k * OUTPOINT_BYTES));
  const created = new BinaryWriter(new Uint8Array((createdCount - cancelled.size + elsewhereAt.size) * ENTRY_BYTES));
  for (const recordAt of createdOffsets) {
    cursor.seek(recordAt);
    for (let j = 0; j < cursor.outputCount; j++) {
      if (cancelled.size === 0 || !cancelled.has(recordAt * CANCEL_STRIDE + j)) created.bytes(cursor.txid).u32(j).bytes(cursor.output(j));
    }
  }
  elsewhereKeys.forEach((key, k) => {
    const value = elsewhereValues[k];
    if (value !== undefined) created.bytes(key).bytes(value);
  });
  return { created: created.finish(), spent };
}
