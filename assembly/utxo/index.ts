// UTXO table kernel (DESIGN.md §3, "stateful validation"): the shard's unspent outputs in an
// open-addressing hash table in WASM memory, keyed by the 36-byte outpoint txid ‖ u32le(index),
// plus `applyBlock`, the stateful half of transaction validation.
//
// A table of 2^k buckets is two arrays: tags (u32 per bucket) and slots (80 bytes per bucket:
// key[36] = txid[32] ‖ index u32 | owner[32] | amount u64 | 4 bytes padding for alignment).
// tag 0 = empty, 2 = tombstone (only in a table being drained), odd = occupied (hash | 1); the
// home bucket is (tag >> 1) & mask. Probing scans the dense tag array (16 tags per cache line)
// and touches a slot only when its tag matches, so a miss costs about one cache line. txids are
// SHA-256 outputs, so their first 8 bytes are uniform; they are mixed with the index so the
// outputs of one transaction spread out.
//
// Linear probing, load factor ≤ 3/4, backward-shift deletion in the current table (no
// tombstones, probe lengths stay short under churn).
//
// Incremental growth: when an insert would pass 3/4 load, a table of twice the capacity becomes
// current and the previous one (capacity C) is drained MIGRATE_BUCKETS_PER_OP = 8 buckets per
// insert: one insert moves at most 8 entries, so there is never a full rehash, and a block's
// share of the migration is spread over the next C/8 inserts (several blocks for large tables).
// Lookups check the current table, then the draining one. The draining table takes no inserts;
// its deletions (spends, migrations) leave tombstones so its probe chains stay intact. The drain
// ends after C/8 inserts, well before the new table can fill: it starts at 3/8 load and needs
// 3C/4 net inserts to reach 3/4 (a margin of 6×; should it ever be reached, the rest of the drain
// runs before the next doubling).
//
// Memory: a bump allocator over fresh (zeroed) pages; a drained table's pages are not reused, so
// memory in use is at most about twice the current table plus the scratch buffer. The first
// touches of a new table's pages (page faults, about 1 ms per MB on this loaded machine) fall on
// the inserts just after a doubling.
//
// applyBlock reads packed apply records (built by the kind modules of src/ledger/kinds/):
//   kind u8 | length u32 (whole record) | txid[32] | the kind's body
// and dispatches on the kind byte in one switch, one case per kind; it writes one status byte per
// record (codes below): all or nothing per transaction.
//
// Undo: asked to (flags bit 0), applyBlock journals what it changes — every entry it removes,
// in full, and the key of every entry it creates, in order — so `undoBlock` can revert the last
// applied block to the same set, count and supply (a consensus execution that did not become
// final); `forgetUndo`, `insertEntries` and the next applyBlock end the journal. Only the last
// block is undoable. Journaling costs about 5% of the apply rate, so replay and commits of blocks
// decided elsewhere skip it. A kind without a case is UNKNOWN_KIND and
// skipped by its length. Transfer's and SlashingEvidence's bodies (src/ledger/kinds/transfer.ts,
// slashing.ts) share one layout, and one rule: spend the inputs, create the outputs, Σout ≤ Σin
// (the rest is burned); a transfer has at least one output, a slashing may have none:
//   nIn u16 | nOut u16 | nIn × (txid[32] index u32 owner[32]) | nOut × (owner[32] amount u64)
// A ValidatorRegistration body (src/ledger/kinds/registration.ts) starts with its operation u8:
// register (0) is chain[32] (the chain its proof of possession names: it must be the one
// `setChain` gave, else WRONG_CHAIN) then that spend layout whose last output is the bond,
// followed by the bond's key[36] (its index flagged): the same rule, the bond created at that
// key; leave (1) is one (outpoint[36] owner[32]) naming a bond that must exist with that owner,
// and changes nothing; release (2) is that spend layout with one input, a flagged bond key, and
// one output: the bond spent into (txid, 0). The epoch rule is the table's permits
// (`setReleases`: bond key ‖ payout owner, the departures whose release epoch has come, given by
// whoever drives the epoch): a release of a bond without a permit, or to another payout, is
// NOT_RELEASABLE — a table given none admits no release — unless applyBlock's flags say the
// records replay a final chain (bit 1), whose releases were judged when they became final;
// BOND_GONE when the bond is not there (released already, or slashed).

const KEY_BYTES: usize = 36;
const OWNER_OFFSET: usize = 36;
const AMOUNT_OFFSET: usize = 68;
const SLOT_BYTES: usize = 80;
const ENTRY_BYTES: usize = 76;
const TOMBSTONE: u32 = 2;

// Apply records (src/ledger/kinds/interface.ts RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT).
const RECORD_LENGTH_OFFSET: usize = 1;
const RECORD_TXID_OFFSET: usize = 5;
const RECORD_HEADER_BYTES: usize = 37;
const RECORD_INPUT_BYTES: usize = 68;
const RECORD_OUTPUT_BYTES: usize = 40;

// Kind bytes with a case in applyBlock (src/ledger/kinds/interface.ts TxKind).
const KIND_TRANSFER: u8 = 0;
const KIND_ATOMIX_LOCK: u8 = 1;
const KIND_ATOMIX_COMMIT: u8 = 2;
const KIND_ATOMIX_ABORT: u8 = 3;
const KIND_REGISTRATION: u8 = 4;
const KIND_SLASHING: u8 = 5;
const KIND_ATOMIX_COMMIT_BATCH: u8 = 6;
const REGISTRATION_REGISTER: u8 = 0;
const REGISTRATION_LEAVE: u8 = 1;
const REGISTRATION_RELEASE: u8 = 2;
/** A registration's operation byte, then its spend section or the bond its leave names. */
const REGISTRATION_OPERATION_BYTES: usize = 1;
const CHAIN_BYTES: usize = 32;
// Atomix record body (white paper §6; src/ledger/kinds/atomix-record.ts): crossTxid[32] ‖ lockOwner[32] ‖
// nIn u16 ‖ nOut u16 ‖ nIn × (outpoint[36] owner[32] amount u64 mine u8) ‖ nOut × (owner[32] amount u64 mine u8)
// ‖ the effects section for other readers (nSpent u16 ‖ nCreated u16 ‖ 68-byte and 76-byte entries), skipped here.
// `mine` marks the entries of the shard applying the record; inputs carry their declared amounts.
const ATOMIX_TXIDS_BYTES: usize = 64;
const ATOMIX_LOCK_OWNER_OFFSET: usize = 32;
const ATOMIX_INPUT_BYTES: usize = 77;
const ATOMIX_INPUT_AMOUNT_OFFSET: usize = 68;
const ATOMIX_INPUT_MINE_OFFSET: usize = 76;
const ATOMIX_OUTPUT_BYTES: usize = 41;
const ATOMIX_OUTPUT_MINE_OFFSET: usize = 40;
const ATOMIX_SPENT_BYTES: usize = 68;
const ATOMIX_CREATED_BYTES: usize = 76;
// Atomix batch commit body (src/ledger/kinds/atomix-batch-record.ts): nSpent u16 (0) ‖ nCreated u16
// ‖ nCreated × 76-byte created entries, skipped here ‖ nX u16 ‖ nX × X, where an X is
// crossTxid[32] ‖ declared u64 (Σ its inputs) ‖ nOut u16 ‖ nOut × (owner[32] amount u64 mine u8).
const BATCH_COUNT_BYTES: usize = 2;
const BATCH_X_DECLARED_OFFSET: usize = 32;
const BATCH_X_OUTPUT_COUNT_OFFSET: usize = 40;
const BATCH_X_FIXED_BYTES: usize = 42;
/** A locked output's key: its outpoint with this bit set in the index (no transaction has 2^31 outputs). */
const LOCK_FLAG: u32 = 0x8000_0000;
// Spend record body: nIn u16, nOut u16, then inputs and outputs.
const SPEND_COUNTS_BYTES: usize = 4;

/** Buckets drained per insert while growing: the bound on a growth pause (see the header). */
const MIGRATE_BUCKETS_PER_OP: u32 = 8;
/** 2^25 buckets × 84 B = 2.6 GiB: the largest table that fits a 4 GiB wasm32 memory. */
const MAX_CAPACITY_LOG2: u32 = 25;
const MIN_CAPACITY_LOG2: u32 = 4;

// Status codes of applyBlock (mirrored in src/ledger/utxo-table.ts).
const OK: u8 = 0;
const MISSING_INPUT: u8 = 1;
const OWNER_MISMATCH: u8 = 2;
const INSUFFICIENT_FUNDS: u8 = 3;
const OUTPUT_OVERFLOW: u8 = 4;
const DUPLICATE_INPUT: u8 = 5;
const OUTPUT_EXISTS: u8 = 6;
const MALFORMED: u8 = 7;
const OUT_OF_MEMORY: u8 = 8;
const UNKNOWN_KIND: u8 = 9;
// insertEntries only:
const ZERO_AMOUNT: u8 = 10;
const SUPPLY_OVERFLOW: u8 = 11;
// undoBlock only:
const NOTHING_TO_UNDO: u8 = 12;
// Atomix:
const NOT_LOCKED: u8 = 13;
const AMOUNT_MISMATCH: u8 = 14;
// Registration: the chain its proof of possession names is not this table's (or none was set).
const WRONG_CHAIN: u8 = 15;
// Release: the bond it names is not in the table.
const BOND_GONE: u8 = 16;
// Release: no permit of the epoch names its bond and payout (setReleases).
const NOT_RELEASABLE: u8 = 17;

// Journal records: op u8 ‖ a packed entry (removed) or its key (created), padded to 80 bytes.
const JOURNAL_RECORD_BYTES: usize = 80;
const JOURNAL_REMOVED: u8 = 1;
const JOURNAL_CREATED: u8 = 2;

let heapTop: usize = 0;

let currentTags: usize = 0;
let currentSlots: usize = 0;
let currentMask: u32 = 0;
let currentCount: u32 = 0;
// drainingTags == 0 when no table is being drained.
let drainingTags: usize = 0;
let drainingSlots: usize = 0;
let drainingMask: u32 = 0;
let drainingCount: u32 = 0;
let drainAt: u32 = 0;

let totalSupply: u64 = 0;
let journalPtr: usize = 0;
let journalCapacity: usize = 0;
let journalUsed: usize = 0;
let journalSupply: u64 = 0;
let journalOpen = false;
let journaling = false;
let scratchPtr: usize = 0;
let scratchBytes: usize = 0;
let lastCopied: u32 = 0;

function allocate(bytes: usize): usize {
  if (heapTop == 0) heapTop = (__heap_base + 15) & ~(<usize>15);
  const start = heapTop;
  const end = start + ((bytes + 15) & ~(<usize>15));
  if (end < start) return 0;
  const pagesNeeded = <i32>((end + 0xffff) >>> 16);
  const pagesHave = memory.size();
  if (pagesNeeded > pagesHave && memory.grow(pagesNeeded - pagesHave) < 0) return 0;
  heapTop = end;
  return start;
}

@inline function hashTag(key: usize): u32 {
  let h = load<u64>(key) ^ (<u64>load<u32>(key, 32) * 0x9e3779b97f4a7c15);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9;
  h ^= h >> 29;
  return <u32>h | 1;
}

@inline function keysEqual(a: usize, b: usize): bool {
  if (ASC_FEATURE_SIMD) {
    const same = v128.and(i8x16.eq(v128.load(a), v128.load(b)), i8x16.eq(v128.load(a, 16), v128.load(b, 16)));
    return v128.all_true<i8>(same) && load<u32>(a, 32) == load<u32>(b, 32);
  }
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) &&
    load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24) &&
    load<u32>(a, 32) == load<u32>(b, 32);
}

@inline function slotAt(slots: usize, index: u32): usize {
  return slots + <usize>index * SLOT_BYTES;
}

@inline function tagAt(tags: usize, index: u32): usize {
  return tags + (<usize>index << 2);
}

/** Bucket index of `key` in the table (tags, slots, mask), or -1. */
function findIn(tags: usize, slots: usize, mask: u32, key: usize, tag: u32): i32 {
  let i = (tag >> 1) & mask;
  while (true) {
    const t = load<u32>(tagAt(tags, i));
    if (t == 0) return -1;
    if (t == tag && keysEqual(slotAt(slots, i), key)) return <i32>i;
    i = (i + 1) & mask;
  }
}

// Where the last successful `find` found its key.
let foundInDraining = false;
let foundIndex: u32 = 0;

/** The slot holding `key`, in the current or the draining table, or 0; sets foundIn*. */
function find(key: usize, tag: u32): usize {
  let i = findIn(currentTags, currentSlots, currentMask, key, tag);
  if (i >= 0) {
    foundInDraining = false;
    foundIndex = <u32>i;
    return slotAt(currentSlots, <u32>i);
  }
  if (drainingTags == 0) return 0;
  i = findIn(drainingTags, drainingSlots, drainingMask, key, tag);
  if (i < 0) return 0;
  foundInDraining = true;
  foundIndex = <u32>i;
  return slotAt(drainingSlots, <u32>i);
}

/** Places an entry known to be absent into the current table (which has a free bucket). */
function placeInCurrent(key: usize, owner: usize, amount: u64, tag: u32): void {
  let i = (tag >> 1) & currentMask;
  while (load<u32>(tagAt(currentTags, i)) != 0) i = (i + 1) & currentMask;
  const slot = slotAt(currentSlots, i);
  memory.copy(slot, key, KEY_BYTES);
  memory.copy(slot + OWNER_OFFSET, owner, 32);
  store<u64>(slot, amount, AMOUNT_OFFSET);
  store<u32>(tagAt(currentTags, i), tag);
  currentCount++;
}

function drainStep(): void {
  if (drainingTags == 0) return;
  const capacity = drainingMask + 1;
  let end = drainAt + MIGRATE_BUCKETS_PER_OP;
  if (end > capacity) end = capacity;
  for (let i = drainAt; i < end; i++) {
    const t = load<u32>(tagAt(drainingTags, i));
    if ((t & 1) != 0) {
      const slot = slotAt(drainingSlots, i);
      placeInCurrent(slot, slot + OWNER_OFFSET, load<u64>(slot, AMOUNT_OFFSET), t);
      store<u32>(tagAt(drainingTags, i), TOMBSTONE);
      drainingCount--;
    }
  }
  drainAt = end;
  if (end == capacity) {
    drainingTags = 0;
    drainingSlots = 0;
    drainingMask = 0;
  }
}

/** A zeroed table of `capacity` buckets: tags, then slots. Returns the tags address or 0. */
function allocateTable(capacity: u32): usize {
  return allocate((<usize>capacity << 2) + <usize>capacity * SLOT_BYTES);
}

/** Makes room for `extra` more entries under the 3/4 load bound; false when memory runs out. */
function reserve(extra: u32): bool {
  while ((<u64>currentCount + drainingCount + extra) * 4 > (<u64>currentMask + 1) * 3) {
    while (drainingTags != 0) drainStep();
    const capacity = (currentMask + 1) << 1;
    if (capacity > (<u32>1 << MAX_CAPACITY_LOG2)) return false;
    const table = allocateTable(capacity);
    if (table == 0) return false;
    drainingTags = currentTags;
    drainingSlots = currentSlots;
    drainingMask = currentMask;
    drainingCount = currentCount;
    drainAt = 0;
    currentTags = table;
    currentSlots = table + (<usize>capacity << 2);
    currentMask = capacity - 1;
    currentCount = 0;
  }
  return true;
}

/** Deletes bucket `index` of the current table by shifting its probe-chain successors back. */
function deleteFromCurrent(index: u32): void {
  let hole = index;
  let j = hole;
  while (true) {
    j = (j + 1) & currentMask;
    const t = load<u32>(tagAt(currentTags, j));
    if (t == 0) break;
    const home = (t >> 1) & currentMask;
    if (((j - home) & currentMask) >= ((j - hole) & currentMask)) {
      memory.copy(slotAt(currentSlots, hole), slotAt(currentSlots, j), SLOT_BYTES);
      store<u32>(tagAt(currentTags, hole), t);
      hole = j;
    }
  }
  store<u32>(tagAt(currentTags, hole), 0);
  currentCount--;
}

/** Deletes the entry the last successful `find` returned. */
function removeFound(): void {
  if (foundInDraining) {
    store<u32>(tagAt(drainingTags, foundIndex), TOMBSTONE);
    drainingCount--;
  } else {
    deleteFromCurrent(foundIndex);
  }
}

/** Resets the table to empty with 2^capacityLog2 buckets. Returns 0, or OUT_OF_MEMORY. */
export function init(capacityLog2: u32): u32 {
  if (capacityLog2 < MIN_CAPACITY_LOG2) capacityLog2 = MIN_CAPACITY_LOG2;
  if (capacityLog2 > MAX_CAPACITY_LOG2) return OUT_OF_MEMORY;
  const capacity = <u32>1 << capacityLog2;
  const table = allocateTable(capacity);
  if (table == 0) return OUT_OF_MEMORY;
  currentTags = table;
  currentSlots = table + (<usize>capacity << 2);
  currentMask = capacity - 1;
  currentCount = 0;
  drainingTags = 0;
  drainingSlots = 0;
  drainingMask = 0;
  drainingCount = 0;
  drainAt = 0;
  totalSupply = 0;
  journalOpen = false;
  return OK;
}

/** A buffer of at least `bytes` bytes for the caller's inputs and outputs (0 when out of memory). */
export function scratch(bytes: usize): usize {
  if (bytes > scratchBytes) {
    let size = scratchBytes * 2;
    if (size < bytes) size = bytes;
    const ptr = allocate(size);
    if (ptr == 0) return 0;
    scratchPtr = ptr;
    scratchBytes = size;
  }
  return scratchPtr;
}

export function count(): u32 {
  return currentCount + drainingCount;
}

export function supply(): u64 {
  return totalSupply;
}

export function capacity(): u32 {
  return currentMask + 1;
}

/** 1 while a previous table is still being drained into the current one. */
export function growing(): u32 {
  return drainingTags != 0 ? 1 : 0;
}

/**
 * Inserts `n` packed entries (key[36] owner[32] amount u64 = 76 bytes each) in order, stopping at
 * the first that cannot go in. Returns the number inserted; `lastStatus()` says why it stopped.
 */
let lastInsertStatus: u8 = OK;
export function insertEntries(ptr: usize, n: u32): u32 {
  lastInsertStatus = OK;
  journalOpen = false;
  for (let i: u32 = 0; i < n; i++) {
    const entry = ptr + <usize>i * ENTRY_BYTES;
    const amount = load<u64>(entry, AMOUNT_OFFSET);
    if (amount == 0) { lastInsertStatus = ZERO_AMOUNT; return i; }
    if (totalSupply + amount < totalSupply) { lastInsertStatus = SUPPLY_OVERFLOW; return i; }
    const tag = hashTag(entry);
    if (find(entry, tag) != 0) { lastInsertStatus = OUTPUT_EXISTS; return i; }
    if (!reserve(1)) { lastInsertStatus = OUT_OF_MEMORY; return i; }
    drainStep();
    placeInCurrent(entry, entry + OWNER_OFFSET, amount, tag);
    totalSupply += amount;
  }
  return n;
}

/**
 * Removes the entries whose 36-byte keys are packed at `ptr` (`n` of them), in order, stopping at
 * the first the table does not hold (`lastStatus()` MISSING_INPUT). Returns the number removed.
 * Replays a flushed set's logged spends on load (src/store/schema.ts, "utxo").
 */
export function removeEntries(ptr: usize, n: u32): u32 {
  lastInsertStatus = OK;
  journalOpen = false;
  for (let i: u32 = 0; i < n; i++) {
    const key = ptr + <usize>i * KEY_BYTES;
    const slot = find(key, hashTag(key));
    if (slot == 0) { lastInsertStatus = MISSING_INPUT; return i; }
    totalSupply -= load<u64>(slot, AMOUNT_OFFSET);
    removeFound();
  }
  return n;
}

export function lastStatus(): u8 {
  return lastInsertStatus;
}

/** Copies owner[32] ‖ amount u64 of the entry with the 36-byte key at `keyPtr` to `outPtr`; 1 if found. */
export function lookup(keyPtr: usize, outPtr: usize): u32 {
  const bucket = find(keyPtr, hashTag(keyPtr));
  if (bucket == 0) return 0;
  memory.copy(outPtr, bucket + OWNER_OFFSET, 40);
  return 1;
}

/**
 * Copies up to `max` packed 76-byte entries, starting at position `cursor` of the combined bucket
 * space (current table, then the draining one), to `outPtr`. Returns the cursor to continue from
 * (capacity of both tables once done); `copied()` gives the number of entries written.
 */
export function copyEntries(cursor: u32, outPtr: usize, max: u32): u32 {
  const currentCapacity = currentMask + 1;
  const end = currentCapacity + (drainingTags != 0 ? drainingMask + 1 : 0);
  let written: u32 = 0;
  let position = cursor;
  while (position < end && written < max) {
    const inCurrent = position < currentCapacity;
    const index = inCurrent ? position : position - currentCapacity;
    const tag = load<u32>(tagAt(inCurrent ? currentTags : drainingTags, index));
    if ((tag & 1) != 0) {
      memory.copy(outPtr + <usize>written * ENTRY_BYTES, slotAt(inCurrent ? currentSlots : drainingSlots, index), ENTRY_BYTES);
      written++;
    }
    position++;
  }
  lastCopied = written;
  return position;
}

export function copied(): u32 {
  return lastCopied;
}

/** Room for `records` more journal records; false when memory runs out (nothing is changed then). */
function reserveJournal(records: u32): bool {
  const needed = journalUsed + <usize>records * JOURNAL_RECORD_BYTES;
  if (needed <= journalCapacity) return true;
  let size = journalCapacity * 2;
  if (size < needed) size = needed;
  const ptr = allocate(size);
  if (ptr == 0) return false;
  memory.copy(ptr, journalPtr, journalUsed);
  journalPtr = ptr;
  journalCapacity = size;
  return true;
}

@inline function journalAppend(op: u8, from: usize, bytes: usize): void {
  const at = journalPtr + journalUsed;
  store<u8>(at, op);
  memory.copy(at + 1, from, bytes);
  journalUsed += JOURNAL_RECORD_BYTES;
}

/**
 * Status of one spend record (Transfer, SlashingEvidence, a registration) of `size` bytes whose
 * spend layout starts `bodyAt` bytes into it, with at least `minOutputs` outputs; mutates the
 * table only when it returns OK. Only a slashing may spend a key whose index has its top bit set
 * (a bond; for anyone else a locked output is MALFORMED here, whatever the kind's own checks
 * said). With `bondLast` the last output is created at the flagged key that follows the outputs.
 */
function applySpend(record: usize, size: usize, minOutputs: u32, flaggedInputs: bool, bodyAt: usize, bondLast: bool): u8 {
  if (size < bodyAt + SPEND_COUNTS_BYTES) return MALFORMED;
  const inputCount = <u32>load<u16>(record + bodyAt);
  const outputCount = <u32>load<u16>(record + bodyAt + 2);
  if (inputCount == 0 || outputCount < minOutputs) return MALFORMED;
  const inputs = record + bodyAt + SPEND_COUNTS_BYTES;
  const bondKeyBytes: usize = bondLast ? KEY_BYTES : 0;
  if (size != bodyAt + SPEND_COUNTS_BYTES + <usize>inputCount * RECORD_INPUT_BYTES + <usize>outputCount * RECORD_OUTPUT_BYTES + bondKeyBytes) return MALFORMED;
  const outputs = inputs + <usize>inputCount * RECORD_INPUT_BYTES;
  // The bond's key, or 0: every output then lands at (txid, j).
  const bondKey: usize = bondLast ? outputs + <usize>outputCount * RECORD_OUTPUT_BYTES : 0;
  if (bondKey != 0 && (load<u32>(bondKey, 32) & LOCK_FLAG) == 0) return MALFORMED;
  if (!flaggedInputs) {
    for (let i: u32 = 0; i < inputCount; i++) if ((load<u32>(inputs + <usize>i * RECORD_INPUT_BYTES, 32) & LOCK_FLAG) != 0) return MALFORMED;
  }
  for (let i: u32 = 1; i < inputCount; i++) {
    const a = inputs + <usize>i * RECORD_INPUT_BYTES;
    for (let j: u32 = 0; j < i; j++) {
      if (keysEqual(a, inputs + <usize>j * RECORD_INPUT_BYTES)) return DUPLICATE_INPUT;
    }
  }
  // Σin cannot wrap: every entry is part of totalSupply, which insertEntries keeps within u64.
  let sumIn: u64 = 0;
  for (let i: u32 = 0; i < inputCount; i++) {
    const input = inputs + <usize>i * RECORD_INPUT_BYTES;
    const bucket = find(input, hashTag(input));
    if (bucket == 0) return MISSING_INPUT;
    if (memory.compare(bucket + OWNER_OFFSET, input + KEY_BYTES, 32) != 0) return OWNER_MISMATCH;
    sumIn += load<u64>(bucket, AMOUNT_OFFSET);
  }
  let sumOut: u64 = 0;
  for (let j: u32 = 0; j < outputCount; j++) {
    const amount = load<u64>(outputs + <usize>j * RECORD_OUTPUT_BYTES, 32);
    if (amount == 0) return MALFORMED;
    if (sumOut + amount < sumOut) return OUTPUT_OVERFLOW;
    sumOut += amount;
  }
  if (sumIn < sumOut) return INSUFFICIENT_FUNDS;
  // The output keys txid ‖ j are built in a static buffer.
  memory.copy(scratchKey, record + RECORD_TXID_OFFSET, 32);
  for (let j: u32 = 0; j < outputCount; j++) {
    const key = spendOutputKey(j, outputCount, bondKey);
    if (find(key, hashTag(key)) != 0) return OUTPUT_EXISTS;
  }
  if (!reserve(outputCount) || (journaling && !reserveJournal(inputCount + outputCount))) return OUT_OF_MEMORY;
  for (let i: u32 = 0; i < inputCount; i++) {
    const input = inputs + <usize>i * RECORD_INPUT_BYTES;
    const bucket = find(input, hashTag(input));
    if (journaling) journalAppend(JOURNAL_REMOVED, bucket, ENTRY_BYTES);
    removeFound();
  }
  for (let j: u32 = 0; j < outputCount; j++) {
    const key = spendOutputKey(j, outputCount, bondKey);
    drainStep();
    const output = outputs + <usize>j * RECORD_OUTPUT_BYTES;
    placeInCurrent(key, output, load<u64>(output, 32), hashTag(key));
    if (journaling) journalAppend(JOURNAL_CREATED, key, KEY_BYTES);
  }
  totalSupply = totalSupply - sumIn + sumOut;
  return OK;
}

/** Output j's key in a spend record: the bond key for the last one when there is one, else txid ‖ j in scratchKey (which holds the txid). */
@inline function spendOutputKey(j: u32, outputCount: u32, bondKey: usize): usize {
  if (bondKey != 0 && j == outputCount - 1) return bondKey;
  store<u32>(scratchKey, j, 32);
  return scratchKey;
}

// The chain registrations must name (setChain), and whether one was given: a table that knows no
// chain admits no validator.
const chainId: usize = memory.data(32, 16);
let chainSet = false;

/** Sets the 32-byte chain id at `ptr` that registrations must name (the genesis's PoP chain id). */
export function setChain(ptr: usize): void {
  memory.copy(chainId, ptr, CHAIN_BYTES);
  chainSet = true;
}

/** A registration record: its operation picks the rule (see the header). */
function applyRegistration(record: usize, size: usize): u8 {
  const bodyAt = RECORD_HEADER_BYTES + REGISTRATION_OPERATION_BYTES;
  if (size < bodyAt) return MALFORMED;
  const operation = load<u8>(record + RECORD_HEADER_BYTES);
  if (operation == REGISTRATION_LEAVE) return checkLeave(record + bodyAt, size - bodyAt);
  if (operation == REGISTRATION_RELEASE) return applyRelease(record, size, bodyAt);
  if (operation != REGISTRATION_REGISTER) return MALFORMED;
  if (size < bodyAt + CHAIN_BYTES) return MALFORMED;
  if (!chainSet || memory.compare(record + bodyAt, chainId, CHAIN_BYTES) != 0) return WRONG_CHAIN;
  return applySpend(record, size, 1, false, bodyAt + CHAIN_BYTES, true);
}

/**
 * A leave: the bond it names (a flagged key) exists and is owned as the record claims (the
 * leaving validator's bond owner). The bond stays: it is released by the epoch transition.
 */
function checkLeave(bond: usize, bytes: usize): u8 {
  if (bytes != RECORD_INPUT_BYTES || (load<u32>(bond, 32) & LOCK_FLAG) == 0) return MALFORMED;
  const bucket = find(bond, hashTag(bond));
  if (bucket == 0) return MISSING_INPUT;
  if (memory.compare(bucket + OWNER_OFFSET, bond + KEY_BYTES, 32) != 0) return OWNER_MISMATCH;
  return OK;
}

// The releases the epoch admits (setReleases): permits of bond key[36] ‖ payout owner[32].
const RELEASE_PERMIT_BYTES: usize = 68;
let releasesPtr: usize = 0;
let releasesCapacity: u32 = 0;
let releasesCount: u32 = 0;
// Set by applyBlock's flags bit 1 for the block being applied: a final chain replayed.
let releasesTrusted = false;

/** Replaces the permits with the `n` at `ptr` (bond key ‖ payout owner each); OK or OUT_OF_MEMORY. */
export function setReleases(ptr: usize, n: u32): u8 {
  if (n > releasesCapacity) {
    const region = allocate(<usize>n * RELEASE_PERMIT_BYTES);
    if (region == 0) return OUT_OF_MEMORY;
    releasesPtr = region;
    releasesCapacity = n;
  }
  memory.copy(releasesPtr, ptr, <usize>n * RELEASE_PERMIT_BYTES);
  releasesCount = n;
  return OK;
}

/** Whether a permit names `bond` (a key) and `payout` (an owner). */
function permitted(bond: usize, payout: usize): bool {
  for (let i: u32 = 0; i < releasesCount; i++) {
    const permit = releasesPtr + <usize>i * RELEASE_PERMIT_BYTES;
    if (keysEqual(permit, bond) && memory.compare(permit + KEY_BYTES, payout, 32) == 0) return true;
  }
  return false;
}

/** A release: one flagged bond key spent into one output (see the header). */
function applyRelease(record: usize, size: usize, bodyAt: usize): u8 {
  if (size != bodyAt + SPEND_COUNTS_BYTES + RECORD_INPUT_BYTES + RECORD_OUTPUT_BYTES) return MALFORMED;
  if (load<u16>(record + bodyAt) != 1 || load<u16>(record + bodyAt + 2) != 1) return MALFORMED;
  const bond = record + bodyAt + SPEND_COUNTS_BYTES;
  if ((load<u32>(bond, 32) & LOCK_FLAG) == 0) return MALFORMED;
  if (!releasesTrusted && !permitted(bond, bond + RECORD_INPUT_BYTES)) return NOT_RELEASABLE;
  if (find(bond, hashTag(bond)) == 0) return BOND_GONE;
  return applySpend(record, size, 1, true, bodyAt, false);
}

// A 36-byte key buffer in static memory for the outputs' outpoints.
const scratchKey: usize = memory.data(48, 16);
/** Output keys of an Atomix commit (scratchKey holds locked keys meanwhile). */
const outputKey: usize = memory.data(48, 16);

/**
 * Applies `n` packed apply records found in [ptr, ptr + bytes) in order, writing one status byte
 * per record at `statusPtr`; with flags bit 0 the block can then be undone (`undoBlock`); bit 1 marks a final chain replayed (releases need no permit). A record whose length does not fit the buffer marks itself and every
 * later one MALFORMED. Returns the number of records applied (status OK).
 */
// The parts of the Atomix record being applied (parseAtomix). Plain globals: an object would be
// allocated by the runtime at __heap_base, where the bump allocator puts the tables.
let atomixBody: usize = 0;
let atomixInputCount: u32 = 0;
let atomixOutputCount: u32 = 0;
let atomixInputs: usize = 0;
let atomixOutputs: usize = 0;

function parseAtomix(record: usize, size: usize): bool {
  const counts = RECORD_HEADER_BYTES + ATOMIX_TXIDS_BYTES;
  if (size < counts + SPEND_COUNTS_BYTES) return false;
  const inputCount = <u32>load<u16>(record, counts);
  const outputCount = <u32>load<u16>(record, counts + 2);
  const effects = counts + SPEND_COUNTS_BYTES + <usize>inputCount * ATOMIX_INPUT_BYTES + <usize>outputCount * ATOMIX_OUTPUT_BYTES;
  if (size < effects + SPEND_COUNTS_BYTES) return false;
  const spentCount = <usize>load<u16>(record + effects);
  const createdCount = <usize>load<u16>(record + effects + 2);
  if (size != effects + SPEND_COUNTS_BYTES + spentCount * ATOMIX_SPENT_BYTES + createdCount * ATOMIX_CREATED_BYTES) return false;
  atomixBody = record + RECORD_HEADER_BYTES;
  atomixInputCount = inputCount;
  atomixOutputCount = outputCount;
  atomixInputs = record + counts + SPEND_COUNTS_BYTES;
  atomixOutputs = atomixInputs + <usize>inputCount * ATOMIX_INPUT_BYTES;
  return true;
}

@inline function atomixInput(i: u32): usize {
  return atomixInputs + <usize>i * ATOMIX_INPUT_BYTES;
}

@inline function isMine(entry: usize, mineOffset: usize): bool {
  return load<u8>(entry + mineOffset) != 0;
}

/** Writes `input`'s locked key (its outpoint, index | LOCK_FLAG) to the scratch key. */
@inline function lockedKeyOf(input: usize): usize {
  memory.copy(scratchKey, input, KEY_BYTES);
  store<u32>(scratchKey, load<u32>(input, 32) | LOCK_FLAG, 32);
  return scratchKey;
}

/**
 * Lock (the client's cross-shard transaction in one of its input shards): every input of this
 * shard must exist, be owned as claimed and hold its declared amount; each then moves to its
 * locked key, owned by the lock owner (SHA-256 of a domain and the cross txid: nobody signs for
 * it), amount kept — supply and count unchanged. All or nothing. When every input is this
 * shard's, its lock alone decides X: the lock settles it here at once (settleLock).
 */
function applyLock(record: usize, size: usize): u8 {
  if (!parseAtomix(record, size)) return MALFORMED;
  let mine: u32 = 0;
  let declared: u64 = 0;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    const amount = load<u64>(input, ATOMIX_INPUT_AMOUNT_OFFSET);
    if (declared + amount < declared) return OUTPUT_OVERFLOW;
    declared += amount;
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    if ((load<u32>(input, 32) & LOCK_FLAG) != 0) return MALFORMED;
    for (let j: u32 = 0; j < i; j++) if (keysEqual(input, atomixInput(j))) return DUPLICATE_INPUT;
    const bucket = find(input, hashTag(input));
    if (bucket == 0) return MISSING_INPUT;
    if (memory.compare(bucket + OWNER_OFFSET, input + KEY_BYTES, 32) != 0) return OWNER_MISMATCH;
    if (load<u64>(bucket, AMOUNT_OFFSET) != amount) return AMOUNT_MISMATCH;
    const locked = lockedKeyOf(input);
    if (find(locked, hashTag(locked)) != 0) return OUTPUT_EXISTS;
    mine++;
  }
  if (mine == 0) return MALFORMED;
  if (mine == atomixInputCount) return settleLock(declared);
  if (!reserve(mine) || (journaling && !reserveJournal(2 * mine))) return OUT_OF_MEMORY;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    const bucket = find(input, hashTag(input));
    if (journaling) journalAppend(JOURNAL_REMOVED, bucket, ENTRY_BYTES);
    removeFound();
    const locked = lockedKeyOf(input);
    drainStep();
    placeInCurrent(locked, atomixBody + ATOMIX_LOCK_OWNER_OFFSET, load<u64>(input, ATOMIX_INPUT_AMOUNT_OFFSET), hashTag(locked));
    if (journaling) journalAppend(JOURNAL_CREATED, locked, KEY_BYTES);
  }
  return OK;
}

/**
 * The lock of X's only input shard (applyLock checked every input): nobody else can refuse X, so
 * its acceptance is X's commit — the inputs are consumed and this shard's outputs created now, as
 * an unlock-to-commit would; the other shards still need theirs.
 */
function settleLock(declared: u64): u8 {
  const status = checkOutputs(declared);
  if (status != OK) return status;
  if (!reserve(mineOutputCount) || (journaling && !reserveJournal(atomixInputCount + mineOutputCount))) return OUT_OF_MEMORY;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    const bucket = find(input, hashTag(input));
    if (journaling) journalAppend(JOURNAL_REMOVED, bucket, ENTRY_BYTES);
    removeFound();
  }
  placeOutputs();
  totalSupply = totalSupply - declared + mineOutputSum;
  return OK;
}

// Σ and count of this shard's outputs, left by checkOutputs (globals: see parseAtomix).
let mineOutputSum: u64 = 0;
let mineOutputCount: u32 = 0;

/**
 * Every output of the record is > 0 and Σ all outputs fits u64 and is ≤ `declared` (Σ declared
 * inputs); this shard's outputs (crossTxid, j), j counted over all outputs, do not exist yet.
 */
function checkOutputs(declared: u64): u8 {
  let total: u64 = 0;
  mineOutputSum = 0;
  mineOutputCount = 0;
  const key = outputKey;
  memory.copy(key, atomixBody, 32);
  for (let j: u32 = 0; j < atomixOutputCount; j++) {
    const output = atomixOutputs + <usize>j * ATOMIX_OUTPUT_BYTES;
    const amount = load<u64>(output, 32);
    if (amount == 0) return MALFORMED;
    if (total + amount < total) return OUTPUT_OVERFLOW;
    total += amount;
    if (!isMine(output, ATOMIX_OUTPUT_MINE_OFFSET)) continue;
    store<u32>(key, j, 32);
    if (find(key, hashTag(key)) != 0) return OUTPUT_EXISTS;
    mineOutputSum += amount;
    mineOutputCount++;
  }
  return total > declared ? INSUFFICIENT_FUNDS : OK;
}

/**
 * Creates this shard's outputs (crossTxid, j) that checkOutputs passed; room is reserved. With
 * `probe` (a batch, whose checks could not see its own placements) it stops before a key that
 * exists. Returns the j it stopped at: atomixOutputCount once all are placed.
 */
function placeOutputs(probe: bool = false): u32 {
  const key = outputKey;
  memory.copy(key, atomixBody, 32);
  for (let j: u32 = 0; j < atomixOutputCount; j++) {
    const output = atomixOutputs + <usize>j * ATOMIX_OUTPUT_BYTES;
    if (!isMine(output, ATOMIX_OUTPUT_MINE_OFFSET)) continue;
    store<u32>(key, j, 32);
    const tag = hashTag(key);
    if (probe && find(key, tag) != 0) return j;
    drainStep();
    placeInCurrent(key, output, load<u64>(output, 32), tag);
    if (journaling) journalAppend(JOURNAL_CREATED, key, KEY_BYTES);
  }
  return atomixOutputCount;
}

/** Removes this shard's outputs (crossTxid, j), j < `end`, that placeOutputs created. */
function removeOutputs(end: u32): void {
  const key = outputKey;
  memory.copy(key, atomixBody, 32);
  for (let j: u32 = 0; j < end; j++) {
    const output = atomixOutputs + <usize>j * ATOMIX_OUTPUT_BYTES;
    if (!isMine(output, ATOMIX_OUTPUT_MINE_OFFSET)) continue;
    store<u32>(key, j, 32);
    find(key, hashTag(key));
    removeFound();
  }
}

/** Whether `input`'s locked entry exists and belongs to this record's lock; leaves it found. */
@inline function lockedByThis(input: usize): usize {
  const locked = lockedKeyOf(input);
  const bucket = find(locked, hashTag(locked));
  if (bucket == 0 || memory.compare(bucket + OWNER_OFFSET, atomixBody + ATOMIX_LOCK_OWNER_OFFSET, 32) != 0) return 0;
  return bucket;
}

/** OK when this shard's input `i` differs from the earlier inputs and is locked by this record's transaction, with its declared amount. */
function checkLockedInput(i: u32): u8 {
  const input = atomixInput(i);
  for (let j: u32 = 0; j < i; j++) if (keysEqual(input, atomixInput(j))) return DUPLICATE_INPUT;
  const bucket = lockedByThis(input);
  if (bucket == 0) return NOT_LOCKED;
  if (load<u64>(bucket, AMOUNT_OFFSET) != load<u64>(input, ATOMIX_INPUT_AMOUNT_OFFSET)) return AMOUNT_MISMATCH;
  return OK;
}

/**
 * Unlock to commit: this shard's inputs must be locked by this transaction (consumed), its
 * outputs (crossTxid, j), j counted over all outputs, are created. Σ all outputs ≤ Σ all declared
 * inputs is checked again here (the kind checks it statelessly). All or nothing.
 */
function applyCommit(record: usize, size: usize): u8 {
  if (!parseAtomix(record, size)) return MALFORMED;
  let declared: u64 = 0;
  let sumIn: u64 = 0;
  let mine: u32 = 0;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    const amount = load<u64>(input, ATOMIX_INPUT_AMOUNT_OFFSET);
    if (declared + amount < declared) return OUTPUT_OVERFLOW;
    declared += amount;
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    const status = checkLockedInput(i);
    if (status != OK) return status;
    sumIn += amount;
    mine++;
  }
  const status = checkOutputs(declared);
  if (status != OK) return status;
  if (mine + mineOutputCount == 0) return MALFORMED;
  if (!reserve(mineOutputCount) || (journaling && !reserveJournal(mine + mineOutputCount))) return OUT_OF_MEMORY;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    const bucket = lockedByThis(input);
    if (journaling) journalAppend(JOURNAL_REMOVED, bucket, ENTRY_BYTES);
    removeFound();
  }
  placeOutputs();
  totalSupply = totalSupply - sumIn + mineOutputSum;
  return OK;
}

/**
 * Unlock to abort: every input of this shard, locked by this transaction, moves back to its
 * outpoint and owner. A shard locks all its inputs of a transaction or none, so one that did not
 * (it refused the lock, or never saw it) answers NOT_LOCKED and changes nothing, as does a
 * repeated abort: the effect of an OK abort is a function of the record alone.
 */
function applyAbort(record: usize, size: usize): u8 {
  if (!parseAtomix(record, size)) return MALFORMED;
  let mine: u32 = 0;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    const status = checkLockedInput(i);
    if (status != OK) return status;
    mine++;
  }
  if (mine == 0) return MALFORMED;
  if (!reserve(mine) || (journaling && !reserveJournal(2 * mine))) return OUT_OF_MEMORY;
  for (let i: u32 = 0; i < atomixInputCount; i++) {
    const input = atomixInput(i);
    if (!isMine(input, ATOMIX_INPUT_MINE_OFFSET)) continue;
    const bucket = lockedByThis(input);
    const amount = load<u64>(bucket, AMOUNT_OFFSET);
    if (journaling) journalAppend(JOURNAL_REMOVED, bucket, ENTRY_BYTES);
    removeFound();
    drainStep();
    // The original key: the record's outpoint (its index has no flag; the lock checked it).
    placeInCurrent(input, input + KEY_BYTES, amount, hashTag(input));
    if (journaling) journalAppend(JOURNAL_CREATED, input, KEY_BYTES);
  }
  return OK;
}

/** Points the Atomix parts at the batch's X at `x` (crossTxid first, as atomixBody); returns the next X. */
function batchX(x: usize): usize {
  atomixBody = x;
  atomixOutputCount = <u32>load<u16>(x, BATCH_X_OUTPUT_COUNT_OFFSET);
  atomixOutputs = x + BATCH_X_FIXED_BYTES;
  return atomixOutputs + <usize>atomixOutputCount * ATOMIX_OUTPUT_BYTES;
}

/**
 * Unlock to commit, batched: an output shard's commits of many X whose locks settled in their one
 * input shard (no input here). Each X is checked as applyCommit checks its outputs, then every
 * X's outputs of this shard are created. All or nothing: a key placed twice (one crossTxid in two
 * X) undoes this record's placements and journal entries (OUTPUT_EXISTS).
 */
function applyBatchCommit(record: usize, size: usize): u8 {
  if (size < RECORD_HEADER_BYTES + SPEND_COUNTS_BYTES || load<u16>(record, RECORD_HEADER_BYTES) != 0) return MALFORMED;
  const createdCount = <u32>load<u16>(record, RECORD_HEADER_BYTES + 2);
  // The X section follows the effects section (nCreated entries), which only sizes it here.
  const xsAt = RECORD_HEADER_BYTES + SPEND_COUNTS_BYTES + <usize>createdCount * ATOMIX_CREATED_BYTES;
  if (size < xsAt + BATCH_COUNT_BYTES) return MALFORMED;
  const xCount = <u32>load<u16>(record + xsAt);
  if (xCount == 0) return MALFORMED;
  const first = record + xsAt + BATCH_COUNT_BYTES;
  let at = xsAt + BATCH_COUNT_BYTES;
  for (let k: u32 = 0; k < xCount; k++) {
    if (size - at < BATCH_X_FIXED_BYTES) return MALFORMED;
    at += BATCH_X_FIXED_BYTES + <usize>load<u16>(record + at, BATCH_X_OUTPUT_COUNT_OFFSET) * ATOMIX_OUTPUT_BYTES;
    if (at > size) return MALFORMED;
  }
  if (at != size) return MALFORMED;
  let mine: u32 = 0;
  let sum: u64 = 0;
  for (let k: u32 = 0, x = first; k < xCount; k++) {
    x = batchX(x);
    const status = checkOutputs(load<u64>(atomixBody, BATCH_X_DECLARED_OFFSET));
    if (status != OK) return status;
    if (sum + mineOutputSum < sum) return OUTPUT_OVERFLOW;
    sum += mineOutputSum;
    mine += mineOutputCount;
  }
  if (mine == 0 || mine != createdCount) return MALFORMED;
  if (!reserve(mine) || (journaling && !reserveJournal(mine))) return OUT_OF_MEMORY;
  const journalMark = journalUsed;
  for (let k: u32 = 0, x = first; k < xCount; k++) {
    const next = batchX(x);
    const stop = placeOutputs(true);
    if (stop < atomixOutputCount) {
      // An earlier X of this record placed that key (the same crossTxid twice): undo them all.
      removeOutputs(stop);
      for (let y = first; y != x; ) {
        y = batchX(y);
        removeOutputs(atomixOutputCount);
      }
      journalUsed = journalMark;
      return OUTPUT_EXISTS;
    }
    x = next;
  }
  totalSupply += sum;
  return OK;
}

export function applyBlock(ptr: usize, bytes: usize, n: u32, statusPtr: usize, flags: u32): u32 {
  journalUsed = 0;
  journalSupply = totalSupply;
  journaling = (flags & 1) != 0;
  releasesTrusted = (flags & 2) != 0;
  journalOpen = journaling;
  const end = ptr + bytes;
  let at = ptr;
  let applied: u32 = 0;
  for (let t: u32 = 0; t < n; t++) {
    let status = MALFORMED;
    if (at + RECORD_HEADER_BYTES <= end) {
      const size = <usize>load<u32>(at, RECORD_LENGTH_OFFSET);
      if (size >= RECORD_HEADER_BYTES && size <= end - at) {
        // The one dispatch point on the kind byte: one case per kind whose records change the table.
        switch (load<u8>(at)) {
          case KIND_TRANSFER:
            status = applySpend(at, size, 1, false, RECORD_HEADER_BYTES, false);
            break;
          case KIND_SLASHING:
            status = applySpend(at, size, 0, true, RECORD_HEADER_BYTES, false);
            break;
          case KIND_REGISTRATION:
            status = applyRegistration(at, size);
            break;
          case KIND_ATOMIX_LOCK:
            status = applyLock(at, size);
            break;
          case KIND_ATOMIX_COMMIT:
            status = applyCommit(at, size);
            break;
          case KIND_ATOMIX_ABORT:
            status = applyAbort(at, size);
            break;
          case KIND_ATOMIX_COMMIT_BATCH:
            status = applyBatchCommit(at, size);
            break;
          default:
            status = UNKNOWN_KIND;
        }
        at += size;
      } else {
        at = end;
      }
    }
    if (status == OK) applied++;
    store<u8>(statusPtr + t, status);
  }
  return applied;
}

/**
 * Reverts the last applyBlock: its journal is replayed backwards (created entries removed, removed
 * entries put back), and the supply restored. Returns OK, or NOTHING_TO_UNDO when no block's
 * journal is open. The table never shrinks, so putting entries back needs no new memory beyond
 * the buckets they held.
 */
export function undoBlock(): u8 {
  if (!journalOpen) return NOTHING_TO_UNDO;
  journalOpen = false;
  let at = journalUsed;
  while (at > 0) {
    at -= JOURNAL_RECORD_BYTES;
    const record = journalPtr + at;
    const entry = record + 1;
    const tag = hashTag(entry);
    if (load<u8>(record) == JOURNAL_CREATED) {
      find(entry, tag);
      removeFound();
    } else {
      reserve(1);
      drainStep();
      placeInCurrent(entry, entry + OWNER_OFFSET, load<u64>(entry, AMOUNT_OFFSET), tag);
    }
  }
  totalSupply = journalSupply;
  journalUsed = 0;
  return OK;
}

/** Ends the journal of the last applyBlock (it became final): it can no longer be undone. */
export function forgetUndo(): void {
  journalOpen = false;
  journalUsed = 0;
}
