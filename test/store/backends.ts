// The two ChainStore implementations as one test fixture, so every store and shard-state test
// runs against both: LMDB in a fresh directory, and the in-memory store on a fresh MemoryDisk.
// `rawTable` reaches the committed records under the store (to damage them), `crashRun` commits
// a workload in a "process" that then dies without closing: a child process for LMDB, a
// MemoryDisk crash for memory.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { open } from "lmdb";
import { LmdbChainStore } from "../../src/store/chain-store.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import type { RecordChainStore } from "../../src/store/record-store.js";
import type { SubDatabase } from "../../src/store/schema.js";
import { ShardState, type ShardStateOptions } from "../../src/node/shard-state.js";
import { WORKLOAD_ACCOUNTS, commitWorkload } from "../ledger/store-crash-child.js";
import { makeWorkload } from "./workload.js";

/** Raw access to one sub-database's committed records. */
export interface RawTable {
  get(key: Buffer): Buffer | undefined;
  put(key: Buffer, value: Buffer): void;
  remove(key: Buffer): void;
}

export interface StoreBackend {
  readonly name: string;
  /** A new empty medium (a directory or a disk). */
  fresh(): Medium;
  open(medium: Medium): RecordChainStore;
  /** How ShardState.open reaches the medium. */
  location(medium: Medium): { directory: string } | { store: MemoryChainStore };
  /** Runs `edit` on the committed records of `table` while no store is open. */
  rawTable(medium: Medium, table: SubDatabase, edit: (table: RawTable) => void): Promise<void>;
  /**
   * Opens a ShardState of workload `seed` (WORKLOAD_ACCOUNTS accounts), commits blocks of
   * `txsPerBlock` up to `maxHeight` and dies without closing; returns the state's last
   * "supply utxoCount digest".
   */
  crashRun(medium: Medium, seed: string, flushInterval: number, txsPerBlock: number, maxHeight: number): string[];
}

export type Medium = string | MemoryDisk;

const CHILD = new URL("../ledger/store-crash-child.js", import.meta.url).pathname;

export function lmdbBackend(): StoreBackend {
  const root = mkdtempSync(join(tmpdir(), "ios-store-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let dirs = 0;
  return {
    name: "LMDB",
    fresh: () => join(root, `s${dirs++}`),
    open: (medium) => LmdbChainStore.open(medium as string),
    location: (medium) => ({ directory: medium as string }),
    rawTable: async (medium, table, edit) => {
      const env = open({ path: medium as string, overlappingSync: false });
      const db = env.openDB<Buffer, Buffer>({ name: table, keyEncoding: "binary", encoding: "binary" });
      try {
        edit({ get: (key) => db.get(key), put: (key, value) => void db.putSync(key, value), remove: (key) => void db.removeSync(key) });
      } finally {
        await env.close();
      }
    },
    crashRun: (medium, seed, flushInterval, txsPerBlock, maxHeight) => {
      const run = spawnSync(process.execPath, [CHILD, medium as string, seed, String(flushInterval), String(txsPerBlock), String(maxHeight)], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`crash child failed: ${run.stderr}`);
      return run.stdout.split("\n").find((line) => line.startsWith("summary "))!.split(" ").slice(1);
    },
  };
}

export function memoryBackend(): StoreBackend {
  let disks = 0;
  return {
    name: "memory",
    fresh: () => new MemoryDisk(`s${disks++}`),
    open: (medium) => MemoryChainStore.open(medium as MemoryDisk),
    location: (medium) => ({ store: MemoryChainStore.open(medium as MemoryDisk) }),
    rawTable: async (medium, table, edit) => {
      const records = (medium as MemoryDisk).records.get(table)!;
      edit({
        get: (key) => records.get(key.toString("latin1")),
        put: (key, value) => void records.set(key.toString("latin1"), Buffer.from(value)),
        remove: (key) => void records.delete(key.toString("latin1")),
      });
    },
    crashRun: (medium, seed, flushInterval, txsPerBlock, maxHeight) => {
      const disk = medium as MemoryDisk;
      const workload = makeWorkload(seed, WORKLOAD_ACCOUNTS);
      const options: ShardStateOptions = { store: MemoryChainStore.open(disk), genesis: workload.genesis, shard: 0, flushIntervalBlocks: flushInterval };
      const summary = commitWorkload(ShardState.open(options), workload, txsPerBlock, maxHeight, () => undefined);
      disk.crash();
      return summary;
    },
  };
}

export const BACKENDS: readonly (() => StoreBackend)[] = [lmdbBackend, memoryBackend];
