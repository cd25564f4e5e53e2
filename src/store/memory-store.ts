/**
 * The simulator's chain store: the records of schema.ts kept in memory, on a `MemoryDisk` that
 * outlives a node incarnation. The chain-store logic (checks, encodings, consistency checks on
 * open) is record-store.ts, shared with the LMDB store, so both answer alike.
 *
 * Crash model. A disk holds only committed transactions: a write transaction is staged and
 * applied at once when it returns (discarded if it throws), as LMDB commits. The simulator keeps
 * one disk per validator and hands it to every incarnation, like the validator's directory:
 * `crash()` revokes the open handle (the dead incarnation's objects can no longer read or write)
 * and leaves the records, so a restarted node opens exactly what was committed, while everything
 * held only in memory (ShardState's unflushed delta, its pending tx index) is gone.
 * Records are copied in and out, so no caller can reach into the disk through a shared buffer.
 */
import { RecordChainStore, type RecordEnvironment, type RecordTable } from "./record-store.js";
import { SUB_DATABASES, type SubDatabase } from "./schema.js";
import { check } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";

/** Keys as latin1 strings: one char per byte, so string order is byte order. */
type Records = Map<string, Buffer>;

const keyOf = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");

export class MemoryDisk {
  /** @internal Committed records per sub-database. */
  readonly records = new Map<SubDatabase, Records>(SUB_DATABASES.map((name) => [name, new Map()]));
  private handle: MemoryChainStore | undefined;

  /** `name` only labels messages (`memory:<name>`). */
  constructor(readonly name: string) {}

  /** The process holding the store died: its handle stops working; committed records stay. */
  crash(): void {
    this.handle?.crashed();
    this.handle = undefined;
  }

  /** @internal One open handle at a time, as one validator process owns its directory. */
  attach(store: MemoryChainStore): void {
    check<StoreErrorCode>(this.handle === undefined, "STORE_OPEN_FAILED", `memory:${this.name} is already open; close it or crash() the disk first`);
    this.handle = store;
  }

  /** @internal */
  detach(store: MemoryChainStore): void {
    if (this.handle === store) this.handle = undefined;
  }
}

/** A staged write: null removes. */
type Staged = Map<SubDatabase, Map<string, Buffer | null>>;

function memoryEnvironment(disk: MemoryDisk, onClose: () => void): RecordEnvironment {
  let staged: Staged | undefined;
  const table = (name: SubDatabase): RecordTable => {
    const records = disk.records.get(name)!;
    const stage = (key: Uint8Array, value: Buffer | null): void => {
      check<StoreErrorCode>(staged !== undefined, "STORE_BAD_INPUT", "memory store writes happen inside a transaction");
      let writes = staged.get(name);
      if (writes === undefined) staged.set(name, (writes = new Map()));
      writes.set(keyOf(key), value);
    };
    // Latin-1 keys compare as their bytes do.
    const sortedKeys = (range?: { readonly start: Uint8Array; readonly end: Uint8Array }): string[] =>
      [...records.keys()].filter((key) => range === undefined || (key >= keyOf(range.start) && key < keyOf(range.end))).sort();
    return {
      get: (key) => {
        const value = records.get(keyOf(key));
        return value === undefined ? undefined : Buffer.from(value);
      },
      put: (key, value) => stage(key, Buffer.from(value)),
      remove: (key) => stage(key, null),
      isEmpty: () => records.size === 0,
      lastKey: () => {
        let last: string | undefined;
        for (const key of records.keys()) if (last === undefined || key > last) last = key;
        return last === undefined ? undefined : Buffer.from(last, "latin1");
      },
      entries: (range) => sortedKeys(range).map((key) => ({ key: Buffer.from(key, "latin1"), value: Buffer.from(records.get(key)!) })),
      keys: () => sortedKeys().map((key) => Buffer.from(key, "latin1")),
    };
  };
  const transaction = (writes: () => void): void => {
    check<StoreErrorCode>(staged === undefined, "STORE_BAD_INPUT", "memory store transactions do not nest");
    staged = new Map();
    try {
      writes();
      for (const [name, changes] of staged) {
        const records = disk.records.get(name)!;
        for (const [key, value] of changes) {
          if (value === null) records.delete(key);
          else records.set(key, value);
        }
      }
    } finally {
      staged = undefined;
    }
  };
  return {
    table,
    transaction,
    // Committed at once, as a commit that takes no time.
    writeLater: (name, writes) => {
      const records = table(name);
      transaction(() => {
        for (const { key, value } of writes) {
          if (value === null) records.remove(key);
          else records.put(key, value);
        }
      });
      return Promise.resolve();
    },
    close: () => {
      onClose();
      return Promise.resolve();
    },
  };
}

export class MemoryChainStore extends RecordChainStore {
  /**
   * Opens the store on `disk` (empty: uninitialized, as a fresh directory), with the same checks
   * on its records as the LMDB store; STORE_OPEN_FAILED if another handle has it open.
   */
  static open(disk: MemoryDisk): MemoryChainStore {
    let store: MemoryChainStore | undefined;
    const env = memoryEnvironment(disk, () => disk.detach(store!));
    store = new MemoryChainStore(`memory:${disk.name}`, env);
    disk.attach(store);
    return store;
  }

  /** @internal Called by `MemoryDisk.crash`. */
  crashed(): void {
    this.revoke();
  }
}
