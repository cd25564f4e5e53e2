/**
 * The production chain store: the records of schema.ts in one LMDB environment per validator
 * (the logic shared with the in-memory store is record-store.ts).
 *
 * Durability. Every write is a `transactionSync` on an environment opened with
 * `overlappingSync: false`: LMDB's commit fsyncs the data and the meta page before it returns, so
 * when `appendBlock` returns the block is on disk and may be acknowledged as final. (lmdb-js's
 * default overlapping sync commits first and syncs later; its `flushed` promise would have to be
 * awaited before every acknowledgement, and measured no faster for one-block transactions.)
 * `noSync` is never used: it would make acknowledgements lies after a power loss.
 * The cost: the commit blocks the calling thread for the fsync (see bench/store.bench.ts).
 */
import { mkdirSync, statSync } from "node:fs";
import { open, type Database, type RootDatabase } from "lmdb";
import { checkLmdbDataFile } from "./lmdb-file.js";
import { RecordChainStore, type RecordEnvironment, type RecordTable } from "./record-store.js";
import { SUB_DATABASES, type SubDatabase } from "./schema.js";
import { IosError, check } from "../errors.js";
import type { StoreErrorCode } from "./errors.js";

function lmdbTable(db: Database<Buffer, Buffer>): RecordTable {
  return {
    // lmdb-js writes any Uint8Array (write.js: `value instanceof Uint8Array`); its typings say Buffer.
    get: (key) => db.get(key as Buffer),
    put: (key, value, append) => void (append === true ? db.putSync(key as Buffer, value as Buffer, { append: true }) : db.putSync(key as Buffer, value as Buffer)),
    remove: (key) => void db.removeSync(key as Buffer),
    isEmpty: () => db.getKeysCount({ limit: 1 }) === 0,
    lastKey: () => {
      for (const key of db.getKeys({ reverse: true, limit: 1 })) return key;
      return undefined;
    },
    entries: (range) => db.getRange(range === undefined ? { snapshot: true } : { start: range.start, end: range.end, snapshot: true }),
    keys: () => db.getKeys({ snapshot: true }),
  };
}

function lmdbEnvironment(env: RootDatabase): RecordEnvironment {
  const dbs = new Map<SubDatabase, Database<Buffer, Buffer>>(SUB_DATABASES.map((name) => [name, env.openDB<Buffer, Buffer>({ name, keyEncoding: "binary", encoding: "binary" })]));
  const tables = new Map<SubDatabase, RecordTable>([...dbs].map(([name, db]) => [name, lmdbTable(db)]));
  return {
    table: (name) => tables.get(name)!,
    transaction: (writes) => void env.transactionSync(writes),
    // lmdb-js queues asynchronous writes in call order and commits each turn's in one transaction
    // on its write thread, synced (overlappingSync off) before the promises resolve.
    writeLater: async (name, writes) => {
      const db = dbs.get(name)!;
      await Promise.all(writes.map(({ key, value }) => (value === null ? db.remove(key) : db.put(key, value))));
    },
    close: () => env.close(),
  };
}

export class LmdbChainStore extends RecordChainStore {
  /**
   * Opens (creating if absent) the store in `directory`. Refuses, with a coded error, a directory
   * holding a damaged LMDB file (STORE_CORRUPT), another program's environment (STORE_FOREIGN),
   * another schema (STORE_SCHEMA_MISMATCH) or inconsistent metadata (STORE_CORRUPT).
   */
  static open(directory: string): LmdbChainStore {
    check<StoreErrorCode>(typeof directory === "string" && directory.length > 0, "STORE_BAD_INPUT", "store directory must be a non-empty path");
    try {
      mkdirSync(directory, { recursive: true });
    } catch (error) {
      throw new IosError<StoreErrorCode>("STORE_OPEN_FAILED", `cannot create ${directory}: ${(error as Error).message}`);
    }
    check<StoreErrorCode>(statSync(directory).isDirectory(), "STORE_OPEN_FAILED", `${directory} is not a directory`);
    checkLmdbDataFile(directory);
    let env: RootDatabase;
    try {
      env = open({ path: directory, noSubdir: false, overlappingSync: false, maxDbs: SUB_DATABASES.length + 2 });
    } catch (error) {
      throw new IosError<StoreErrorCode>("STORE_OPEN_FAILED", `cannot open LMDB environment ${directory}: ${(error as Error).message}`);
    }
    try {
      const foreign = [...env.getKeys()].filter((name) => !(SUB_DATABASES as readonly unknown[]).includes(name));
      check<StoreErrorCode>(foreign.length === 0, "STORE_FOREIGN", `${directory} holds records this schema does not define (${foreign.slice(0, 3).join(", ")})`);
      return new LmdbChainStore(directory, lmdbEnvironment(env));
    } catch (error) {
      void env.close();
      throw error;
    }
  }
}
