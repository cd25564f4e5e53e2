import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { open } from "lmdb";
import { LmdbChainStore } from "../../src/store/chain-store.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import { OUTPOINT_BYTES } from "../../src/codec/sizes.js";
import { MAX_ORDERED_BLOCK_BYTES, META_FLUSHED, META_IDENTITY, SCHEMA_VERSION, UTXO_ENTRY_BYTES, UTXO_LOG_CHUNK_BYTES, UtxoLogPart, heightKey, utxoCompactionDue, utxoLogKey } from "../../src/store/schema.js";
import { UtxoDelta } from "../../src/store/utxo-delta.js";
import { TestRng } from "../ledger/helpers.js";
import { codeOfAsync } from "../support/errors.js";
import { flushedSet } from "../support/utxo-log.js";
import { BACKENDS, type RawTable } from "./backends.js";

const root = mkdtempSync(join(tmpdir(), "ios-store-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `s${dirs++}`);


const rng = new TestRng(0x5704e);

/** Packed 76-byte entries with random outpoints, owners and amounts 1..2^32. */
function randomEntries(n: number): Uint8Array {
  const out = Buffer.alloc(n * UTXO_ENTRY_BYTES);
  for (let i = 0; i < n; i++) {
    out.set(rng.bytes(68), i * UTXO_ENTRY_BYTES);
    out.writeBigUInt64LE(BigInt(rng.nextU32()) + 1n, i * UTXO_ENTRY_BYTES + 68);
  }
  return out;
}

function entryMap(packed: Uint8Array): Map<string, string> {
  const map = new Map<string, string>();
  const buffer = Buffer.from(packed);
  for (let at = 0; at < buffer.length; at += UTXO_ENTRY_BYTES) {
    map.set(buffer.toString("hex", at, at + OUTPOINT_BYTES), buffer.toString("hex", at + OUTPOINT_BYTES, at + UTXO_ENTRY_BYTES));
  }
  return map;
}

function supplyOf(values: Iterable<string>): bigint {
  let sum = 0n;
  for (const value of values) sum += Buffer.from(value, "hex").readBigUInt64LE(32);
  return sum;
}

function sampleBlock(height: number, txCount: number) {
  const txids = rng.bytes(32 * txCount);
  return { height, hash: rng.bytes(32), bytes: rng.bytes(100 + txCount), txids, positions: Array.from({ length: txCount }, (_, i) => i * 2 + 1) };
}

const identity = { shard: 3, genesisId: rng.bytes(32) };

for (const makeBackend of BACKENDS) {
const backend = makeBackend();

describe(`ChainStore records (${backend.name})`, () => {
  const dir = backend.fresh();
  const genesis = randomEntries(50);
  const model = entryMap(genesis);
  const ordered = [{ hash: rng.bytes(32), bytes: rng.bytes(300) }, { hash: rng.bytes(32), bytes: rng.bytes(1) }];
  const changeProofs = [{ txid: rng.bytes(32), tx: rng.bytes(200), proof: rng.bytes(700) }, { txid: rng.bytes(32), tx: rng.bytes(150), proof: rng.bytes(650) }];
  const certified = {
    certificate: rng.bytes(420), proposal: rng.bytes(700), rejections: [{ txid: rng.bytes(32), code: "MISSING_INPUT" }, { txid: rng.bytes(32), code: "POB_NOT_ASSIGNED" }],
    atomix: [{ crossTxid: rng.bytes(32), phase: 0, decided: true }, { crossTxid: rng.bytes(32), phase: 3 }],
  };
  const blocks = [{ ...sampleBlock(1, 5), orderedBlocks: ordered }, { ...sampleBlock(2, 0), changeProofs }, { ...sampleBlock(3, 40), ...certified }];

  it("starts uninitialized and refuses reads of the chain until genesis is written", async () => {
    const store = backend.open(dir);
    assert.equal(store.initialized, false);
    assert.equal(await codeOfAsync(() => store.tip), "STORE_NOT_INITIALIZED");
    assert.equal(await codeOfAsync(() => store.appendBlock(blocks[0]!)), "STORE_NOT_INITIALIZED");
    await store.close();
  });

  it("round-trips identity, tip, flushed marker, epoch and the genesis UTXO set", async () => {
    const store = backend.open(dir);
    store.initialize(identity, genesis);
    assert.equal(await codeOfAsync(() => store.initialize(identity, genesis)), "STORE_ALREADY_INITIALIZED");
    assert.deepEqual(store.identity, identity);
    assert.deepEqual(store.tip, { height: 0, hash: identity.genesisId });
    assert.deepEqual(store.flushed, { height: 0, count: 50, supply: supplyOf(model.values()), baseHeight: 0, baseCount: 50, logged: 0 });
    assert.deepEqual(flushedSet(store), model);
    store.setEpoch(7);
    assert.equal(store.epoch, 7);
    await store.close();
  });

  it("round-trips blocks by height and hash and the tx index", async () => {
    const store = backend.open(dir);
    for (const block of blocks) store.appendBlock(block);
    assert.deepEqual(store.tip, { height: 3, hash: blocks[2]!.hash });
    for (const block of blocks) {
      assert.deepEqual(store.getBlock(block.height), Buffer.from(block.bytes));
      assert.deepEqual(store.getBlockByHash(block.hash), Buffer.from(block.bytes));
      assert.equal(store.getHeight(block.hash), block.height);
      for (let i = 0; i < block.positions.length; i++) {
        assert.deepEqual(store.getTxLocation(block.txids.subarray(i * 32, i * 32 + 32)), { height: block.height, position: block.positions[i] });
      }
    }
    assert.equal(store.getBlock(4), undefined);
    assert.equal(store.getBlockByHash(rng.bytes(32)), undefined);
    assert.equal(store.getTxLocation(rng.bytes(32)), undefined);
    await store.close();
    const reopened = backend.open(dir);
    for (const { hash, bytes } of ordered) assert.deepEqual(reopened.orderedBlock(hash), bytes, "ordered blocks are kept by hash with their final block");
    assert.equal(reopened.orderedBlock(rng.bytes(32)), undefined);
    assert.equal(await codeOfAsync(() => reopened.orderedBlock(rng.bytes(31))), "STORE_BAD_INPUT");
    const byTxid = (a: { txid: Uint8Array }, b: { txid: Uint8Array }) => Buffer.compare(a.txid, b.txid);
    assert.deepEqual([...reopened.changeProofs()], [...changeProofs].sort(byTxid), "a block's change proofs are kept with it, in txid order");
    assert.deepEqual(reopened.finalHeightRecord(3), { certificate: certified.certificate, proposal: certified.proposal, rejections: certified.rejections, atomix: certified.atomix.map(({ crossTxid, phase }) => ({ crossTxid, phase })) },
      "a certified block keeps its certificate, rejections and phase writes in order, by height");
    assert.equal(reopened.finalHeightRecord(1), undefined, "a block without a certificate has no record");
    for (const certificate of [new Uint8Array(0), rng.bytes(16 * 1024 + 1)]) {
      assert.equal(await codeOfAsync(() => reopened.appendBlock({ ...sampleBlock(4, 1), certificate, proposal: certified.proposal })), "STORE_BAD_INPUT");
    }
    assert.equal(await codeOfAsync(() => reopened.appendBlock({ ...sampleBlock(4, 1), certificate: certified.certificate })), "STORE_BAD_INPUT", "a certificate without its proposal");
    assert.equal(await codeOfAsync(() => reopened.appendBlock({ ...sampleBlock(4, 1), proposal: certified.proposal })), "STORE_BAD_INPUT", "a proposal without its certificate");
    const next = sampleBlock(4, 1);
    for (const bad of [{ ...changeProofs[0]!, txid: rng.bytes(31) }, { ...changeProofs[0]!, tx: new Uint8Array(0) }, { ...changeProofs[0]!, proof: new Uint8Array(0) }]) {
      assert.equal(await codeOfAsync(() => reopened.appendBlock({ ...next, changeProofs: [bad] })), "STORE_BAD_INPUT");
    }
    assert.equal(reopened.tip.height, 3, "a refused block changes nothing");
    await reopened.close();
  });

  it("keeps ordered blocks ahead of their final block, durable across a reopen; refuses malformed ones", async () => {
    const store = backend.open(dir);
    const early = [{ hash: rng.bytes(32), bytes: rng.bytes(300) }, { hash: rng.bytes(32), bytes: rng.bytes(1) }];
    await store.keepOrderedBlocks(early);
    for (const { hash, bytes } of early) assert.deepEqual(store.orderedBlock(hash), bytes);
    assert.equal(await codeOfAsync(() => store.keepOrderedBlocks([{ hash: rng.bytes(31), bytes: rng.bytes(10) }])), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.keepOrderedBlocks([{ hash: rng.bytes(32), bytes: new Uint8Array(0) }])), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.keepOrderedBlocks([{ hash: rng.bytes(32), bytes: new Uint8Array(MAX_ORDERED_BLOCK_BYTES + 1) }])), "STORE_BAD_INPUT");
    await store.close();
    const reopened = backend.open(dir);
    for (const { hash, bytes } of early) assert.deepEqual(reopened.orderedBlock(hash), bytes, "kept before any final block, found after a restart");
    await reopened.close();
  });

  it("logs spends and creations under the flush's height with the flushed marker, inside a block or alone", async () => {
    const store = backend.open(dir);
    const added = randomEntries(30);
    const removed = [...model.keys()].slice(0, 20);
    const delta = new Map(model);
    for (const key of removed) delta.delete(key);
    for (const [key, value] of entryMap(added)) delta.set(key, value);
    const spent = Buffer.concat(removed.map((key) => Buffer.from(key, "hex")));
    const block = sampleBlock(4, 2);
    store.appendBlock(block, { spent, created: added, count: delta.size, supply: supplyOf(delta.values()) });
    const logged = spent.length + added.length;
    assert.deepEqual(store.flushed, { height: 4, count: 60, supply: supplyOf(delta.values()), baseHeight: 0, baseCount: 50, logged });
    assert.deepEqual(flushedSet(store), delta);
    store.appendBlock(sampleBlock(5, 1));
    const last = [...delta.keys()][0]!;
    delta.delete(last);
    store.flushUtxos({ spent: Buffer.from(last, "hex"), created: new Uint8Array(0), count: delta.size, supply: supplyOf(delta.values()) });
    const marker = { height: 5, count: 59, supply: supplyOf(delta.values()), baseHeight: 0, baseCount: 50, logged: logged + OUTPOINT_BYTES };
    assert.deepEqual(store.flushed, marker);
    await store.close();

    const reopened = backend.open(dir);
    assert.deepEqual(reopened.tip, { height: 5, hash: reopened.tip.hash });
    assert.deepEqual(reopened.flushed, marker);
    assert.equal(reopened.epoch, 7);
    assert.deepEqual(reopened.identity, identity);
    assert.deepEqual(flushedSet(reopened), delta);
    assert.deepEqual(reopened.getBlock(2), Buffer.from(blocks[1]!.bytes));
    assert.deepEqual([...reopened.utxoLog()].map(({ height, part }) => [height, part]),
      [[0, UtxoLogPart.base], [4, UtxoLogPart.spent], [4, UtxoLogPart.created], [5, UtxoLogPart.spent]], "the base, then each flush's parts in height order");
    await reopened.close();
    await backend.rawTable(dir, "utxo", (table) => {
      assert.deepEqual(table.get(utxoLogKey(4, UtxoLogPart.spent, 0)), spent, "a flush's spends lie under its height");
      assert.equal(table.get(Buffer.from(removed[1]!, "hex")), undefined, "nothing is keyed by an outpoint");
    });
  });

  it("rejects appends that do not follow the tip and bad arguments, changing nothing", async () => {
    const store = backend.open(dir);
    const tip = store.tip;
    assert.equal(await codeOfAsync(() => store.appendBlock(sampleBlock(7, 1))), "STORE_HEIGHT_GAP");
    assert.equal(await codeOfAsync(() => store.appendBlock(sampleBlock(5, 1))), "STORE_HEIGHT_GAP");
    assert.equal(await codeOfAsync(() => store.appendBlock({ ...sampleBlock(6, 1), hash: rng.bytes(31) })), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.appendBlock({ ...sampleBlock(6, 2), positions: [1] })), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.appendBlock({ ...sampleBlock(6, 1), positions: [-1] })), "STORE_BAD_INPUT");
    const kept = { hash: rng.bytes(32), bytes: rng.bytes(10) };
    for (const orderedBlocks of [[{ hash: rng.bytes(31), bytes: rng.bytes(10) }], [{ hash: rng.bytes(32), bytes: new Uint8Array(0) }], [kept, { hash: rng.bytes(32), bytes: new Uint8Array(MAX_ORDERED_BLOCK_BYTES + 1) }]]) {
      assert.equal(await codeOfAsync(() => store.appendBlock({ ...sampleBlock(6, 1), orderedBlocks })), "STORE_BAD_INPUT");
    }
    assert.equal(store.orderedBlock(kept.hash), undefined, "a refused block keeps none of its ordered blocks");
    const none = new Uint8Array(0);
    assert.equal(await codeOfAsync(() => store.appendBlock(sampleBlock(6, 1), { spent: rng.bytes(35), created: none, count: 0, supply: 0n })), "STORE_BAD_INPUT", "a 35-byte outpoint");
    assert.equal(await codeOfAsync(() => store.flushUtxos({ spent: none, created: rng.bytes(UTXO_ENTRY_BYTES - 1), count: 0, supply: 0n })), "STORE_BAD_INPUT", "a 75-byte entry");
    assert.equal(await codeOfAsync(() => store.flushUtxos({ spent: none, created: none, base: randomEntries(2), count: 3, supply: 0n })), "STORE_BAD_INPUT", "a base of another count");
    assert.equal(await codeOfAsync(() => store.flushUtxos({ spent: none, created: none, count: 0, supply: 1n << 64n })), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.flushUtxos({ spent: none, created: randomEntries(1), count: 60, supply: 0n })), "STORE_BAD_INPUT",
      "the tip is flushed already: a second log under its height would mix with the first");
    assert.equal(await codeOfAsync(() => store.getTxLocation(rng.bytes(31))), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.getBlock(-1)), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => store.setEpoch(2 ** 32)), "STORE_BAD_INPUT");
    assert.deepEqual(store.tip, tip);
    assert.equal(store.getBlock(6), undefined);
    await store.close();
    assert.equal(await codeOfAsync(() => store.getBlock(1)), "STORE_CLOSED");
  });
});

describe(`ChainStore refuses damaged and mismatched records (${backend.name})`, () => {
  it("a store with records but no identity, another schema version, a bad magic or a torn record is refused with its code", async () => {
    const bare = backend.fresh();
    await backend.rawTable(bare, "blocks", (blocks) => blocks.put(heightKey(1), Buffer.from("not ours")));
    assert.equal(await codeOfAsync(() => backend.open(bare)), "STORE_FOREIGN");

    const dir = backend.fresh();
    const store = backend.open(dir);
    store.initialize(identity, randomEntries(3));
    await store.close();
    const tamperMeta = (key: Buffer, edit: (value: Buffer) => Buffer) =>
      backend.rawTable(dir, "meta", (meta: RawTable) => meta.put(key, edit(Buffer.from(meta.get(key)!))));
    await tamperMeta(META_IDENTITY, (value) => (value.writeUInt32LE(SCHEMA_VERSION + 1, 8), value));
    assert.equal(await codeOfAsync(() => backend.open(dir)), "STORE_SCHEMA_MISMATCH");
    // Version 7 stored certificates without their TransEpoch batch (schema.ts): refused, not misread.
    await tamperMeta(META_IDENTITY, (value) => (value.writeUInt32LE(7, 8), value));
    assert.equal(await codeOfAsync(() => backend.open(dir)), "STORE_SCHEMA_MISMATCH");
    await tamperMeta(META_IDENTITY, (value) => (value.writeUInt32LE(SCHEMA_VERSION, 8), value.write("XXXX", 0), value));
    assert.equal(await codeOfAsync(() => backend.open(dir)), "STORE_FOREIGN");
    await tamperMeta(META_IDENTITY, (value) => (value.write("IOSC", 0), value));
    await backend.open(dir).close();
    await tamperMeta(META_FLUSHED, (value) => value.subarray(0, 20));
    assert.equal(await codeOfAsync(() => backend.open(dir)), "STORE_CORRUPT");
  });

  it("a block above the tip or a flushed marker above the tip gives STORE_CORRUPT", async () => {
    const dir = backend.fresh();
    const store = backend.open(dir);
    store.initialize(identity, randomEntries(3));
    store.appendBlock(sampleBlock(1, 1));
    await store.close();
    await backend.rawTable(dir, "blocks", (blocks) => blocks.put(heightKey(2), Buffer.from("stray")));
    assert.equal(await codeOfAsync(() => backend.open(dir)), "STORE_CORRUPT");

    const dir2 = backend.fresh();
    const store2 = backend.open(dir2);
    store2.initialize(identity, randomEntries(3));
    await store2.close();
    await backend.rawTable(dir2, "meta", (meta) => {
      const marker = Buffer.from(meta.get(META_FLUSHED)!);
      marker.writeBigUInt64LE(9n, 0);
      meta.put(META_FLUSHED, marker);
    });
    assert.equal(await codeOfAsync(() => backend.open(dir2)), "STORE_CORRUPT");
  });
});

describe(`the UTXO log (${backend.name})`, () => {
  /**
   * Flushes random windows as ShardState does (a new base when utxoCompactionDue says so) into a
   * fresh store, checking after each that the log adds up to the model; returns the medium and
   * the model, with the store closed.
   */
  async function flushWindows(windows: number, perWindow: number) {
    const medium = backend.fresh();
    const store = backend.open(medium);
    const model = entryMap(randomEntries(40));
    store.initialize(identity, Buffer.concat([...model].map(([key, value]) => Buffer.from(key + value, "hex"))));
    let compactions = 0;
    for (let height = 1; height <= windows; height++) {
      const spentKeys = [...model.keys()].filter(() => rng.below(4) === 0);
      for (const key of spentKeys) model.delete(key);
      const created = randomEntries(perWindow);
      for (const [key, value] of entryMap(created)) model.set(key, value);
      const spent = Buffer.concat(spentKeys.map((key) => Buffer.from(key, "hex")));
      const packedSet = Buffer.concat([...model].map(([key, value]) => Buffer.from(key + value, "hex")));
      const due = utxoCompactionDue(store.flushed, spent.length + created.length);
      if (due) compactions++;
      store.appendBlock(sampleBlock(height, 1), { spent, created, ...(due ? { base: packedSet } : {}), count: model.size, supply: supplyOf(model.values()) });
      assert.deepEqual(flushedSet(store), model, `height ${height}: the log adds up to the set`);
      const { baseHeight, baseCount, logged } = store.flushed;
      assert.ok(logged < Math.max(baseCount * UTXO_ENTRY_BYTES, 1) + spent.length + created.length, `height ${height}: the log stays within a window of the base's size`);
      if (due) assert.deepEqual({ baseHeight, baseCount, logged }, { baseHeight: height, baseCount: model.size, logged: 0 });
    }
    await store.close();
    return { medium, model, compactions };
  }

  it("compacts into a new base and deletes every older record, the set unchanged across reopens", async () => {
    const { medium, model, compactions } = await flushWindows(30, 120);
    assert.ok(compactions >= 2 && compactions < 30, `${compactions} compactions in 30 flushes: some, not every flush`);
    const store = backend.open(medium);
    assert.deepEqual(flushedSet(store), model);
    const { baseHeight, height } = store.flushed;
    const records = [...store.utxoLog()];
    assert.ok(records.every((record) => record.height >= baseHeight && record.height <= height), "nothing older than the base is left");
    assert.ok(records.filter(({ part }) => part === UtxoLogPart.base).every(({ bytes }) => bytes.length <= UTXO_LOG_CHUNK_BYTES && bytes.length % UTXO_ENTRY_BYTES === 0),
      "the base is in chunks of one overflow page");
    await store.close();
  });

  it("a compaction over many pages of keys deletes every older record", async () => {
    // ~18k entries: ~350 chunks, keys over several B-tree leaf pages (about 130 a page), deleted whole at each compaction.
    const { medium, model, compactions } = await flushWindows(8, 4000);
    assert.ok(compactions >= 2, `${compactions} compactions`);
    const store = backend.open(medium);
    const { baseHeight } = store.flushed;
    const records = [...store.utxoLog()];
    assert.ok(records.length > 300, `${records.length} records`);
    assert.ok(records.every(({ height }) => height >= baseHeight), "nothing older than the base is left");
    assert.deepEqual(flushedSet(store), model);
    await store.close();
  });

  it("refuses a log with a chunk missing, a record out of place, a torn chunk or sums the marker does not name (STORE_CORRUPT)", async () => {
    const { medium } = await flushWindows(2, 60);
    const opened = backend.open(medium);
    const { baseHeight, height } = opened.flushed;
    assert.ok(height > baseHeight, "the log holds a flush after its base");
    await opened.close();
    const edit = (change: (table: RawTable) => void) => backend.rawTable(medium, "utxo", change);
    const damaged = async (why: string, change: (table: RawTable) => void) => {
      await edit(change);
      const store = backend.open(medium);
      assert.equal(await codeOfAsync(() => [...store.utxoLog()]), "STORE_CORRUPT", why);
      await store.close();
    };
    const firstCreated = utxoLogKey(height, UtxoLogPart.created, 0);
    let saved = Buffer.alloc(0);
    await edit((table) => void (saved = Buffer.from(table.get(firstCreated)!)));
    await damaged("chunk 0 of a part missing", (table) => table.remove(firstCreated));
    await edit((table) => table.put(firstCreated, saved));
    await damaged("a record above the flushed height", (table) => table.put(utxoLogKey(height + 1, UtxoLogPart.created, 0), saved));
    await edit((table) => table.remove(utxoLogKey(height + 1, UtxoLogPart.created, 0)));
    await damaged("a base record at another height than the marker's base", (table) => table.put(utxoLogKey(height, UtxoLogPart.base, 0), saved));
    await edit((table) => table.remove(utxoLogKey(height, UtxoLogPart.base, 0)));
    await damaged("a torn chunk", (table) => table.put(firstCreated, saved.subarray(1)));
    await damaged("a chunk the marker's sums do not count", (table) => table.put(firstCreated, saved.subarray(UTXO_ENTRY_BYTES)));
    await edit((table) => table.put(firstCreated, saved));
    const store = backend.open(medium);
    assert.ok([...store.utxoLog()].length > 0, "restored, the log reads again");
    await store.close();
  });
});
}

describe("LmdbChainStore refuses damaged files and foreign environments", () => {
  it("a data file that is not LMDB (random bytes, zeros, a torn meta page) gives STORE_CORRUPT, not a crash", async () => {
    for (const content of [randomBytes(20_000), Buffer.alloc(9000), Buffer.from("short")]) {
      const dir = freshDir();
      await LmdbChainStore.open(dir).close();
      writeFileSync(join(dir, "data.mdb"), content);
      assert.equal(await codeOfAsync(() => LmdbChainStore.open(dir)), "STORE_CORRUPT");
    }
    const dir = freshDir();
    const store = LmdbChainStore.open(dir);
    store.initialize(identity, randomEntries(3));
    await store.close();
    const file = join(dir, "data.mdb");
    const bytes = readFileSync(file);
    bytes.writeUInt32LE(0x12345678, 4096 + 24);
    writeFileSync(file, bytes);
    assert.equal(await codeOfAsync(() => LmdbChainStore.open(dir)), "STORE_CORRUPT");
  });

  it("a path that is a file gives STORE_OPEN_FAILED", async () => {
    const file = join(root, "plain-file");
    writeFileSync(file, "x");
    assert.equal(await codeOfAsync(() => LmdbChainStore.open(file)), "STORE_OPEN_FAILED");
  });

  it("another program's LMDB environment gives STORE_FOREIGN", async () => {
    const dir = freshDir();
    const env = open({ path: dir, overlappingSync: false });
    await env.put("users/1", { name: "alice" });
    await env.close();
    assert.equal(await codeOfAsync(() => LmdbChainStore.open(dir)), "STORE_FOREIGN");
  });
});

describe("MemoryDisk", () => {
  it("outlives its store: a crash revokes the open handle and keeps exactly what was committed", async () => {
    const disk = new MemoryDisk("crash");
    const store = MemoryChainStore.open(disk);
    assert.equal(await codeOfAsync(() => MemoryChainStore.open(disk)), "STORE_OPEN_FAILED", "one handle at a time");
    const genesis = randomEntries(10);
    store.initialize(identity, genesis);
    const block = sampleBlock(1, 3);
    store.appendBlock(block);
    const bytes = Buffer.from(block.bytes);
    block.bytes.fill(0);
    disk.crash();
    assert.equal(await codeOfAsync(() => store.getBlock(1)), "STORE_CLOSED", "the dead incarnation's handle no longer reads");
    assert.equal(await codeOfAsync(() => store.appendBlock(sampleBlock(2, 1))), "STORE_CLOSED", "nor writes");
    await store.close();
    const reopened = MemoryChainStore.open(disk);
    assert.deepEqual(reopened.tip, { height: 1, hash: block.hash });
    assert.deepEqual(reopened.getBlock(1), bytes, "records were copied in: the caller's buffer is not the disk");
    assert.deepEqual(flushedSet(reopened), entryMap(genesis));
    await reopened.close();
    await MemoryChainStore.open(disk).close();
  });
});

describe("UtxoDelta", () => {
  const entry = (key: Uint8Array, amount: bigint): Uint8Array => {
    const out = Buffer.alloc(UTXO_ENTRY_BYTES);
    out.set(key);
    out.writeBigUInt64LE(amount, 68);
    return out;
  };

  const hexes = (packed: Uint8Array, stride: number): string[] => {
    const out: string[] = [];
    for (let at = 0; at < packed.length; at += stride) out.push(Buffer.from(packed.subarray(at, at + stride)).toString("hex"));
    return out.sort();
  };

  it("cancels outputs created and spent in the window; packs the net spends and creations", () => {
    const delta = new UtxoDelta();
    const keys = Array.from({ length: 200 }, () => rng.bytes(OUTPOINT_BYTES));
    delta.addBlock(Buffer.concat(keys.slice(0, 100).map((k, i) => entry(k, BigInt(i + 1)))), Buffer.concat(keys.slice(100, 150)));
    delta.addBlock(Buffer.concat(keys.slice(150).map((k) => entry(k, 5n))), Buffer.concat(keys.slice(0, 40)));
    assert.equal(delta.size, 60 + 50 + 50);
    const { spent, created } = delta.parts();
    assert.deepEqual(hexes(spent, OUTPOINT_BYTES), hexes(Buffer.concat(keys.slice(100, 150)), OUTPOINT_BYTES), "the flushed entries spent, none created in the window");
    const expected = [...keys.slice(40, 100).map((k, i) => entry(k, BigInt(i + 41))), ...keys.slice(150).map((k) => entry(k, 5n))];
    assert.deepEqual(hexes(created, UTXO_ENTRY_BYTES), hexes(Buffer.concat(expected), UTXO_ENTRY_BYTES), "the survivors created, with their values");
    delta.clear();
    assert.equal(delta.size, 0);
    assert.deepEqual(delta.parts(), { spent: new Uint8Array(0), created: new Uint8Array(0) });
  });

  it("keys moved back and forth (Atomix lock, abort, lock again) net to the parts a model log needs, window after window", () => {
    // The model: the flushed set. Each window applies random blocks that spend live keys and create
    // absent ones, some of them keys spent earlier (an abort re-creating an outpoint), and then
    // applies the window's parts as a restart does: spends removed (each present), creations added (each absent).
    const flushed = new Map<string, bigint>();
    const keys = Array.from({ length: 24 }, () => Buffer.from(rng.bytes(OUTPOINT_BYTES)).toString("hex"));
    const live = new Map<string, bigint>();
    const delta = new UtxoDelta();
    let recreated = 0;
    for (let window = 0; window < 40; window++) {
      for (let block = 0; block < 5; block++) {
        const spent = keys.filter((k) => live.has(k) && rng.below(3) === 0);
        for (const k of spent) live.delete(k);
        const created = keys.filter((k) => !live.has(k) && !spent.includes(k) && rng.below(3) === 0);
        for (const k of created) live.set(k, BigInt(rng.below(1_000) + 1));
        delta.addBlock(Buffer.concat(created.map((k) => entry(Buffer.from(k, "hex"), live.get(k)!))), Buffer.concat(spent.map((k) => Buffer.from(k, "hex"))));
      }
      const parts = delta.parts();
      const createdKeys = new Set(hexes(parts.created, UTXO_ENTRY_BYTES).map((hex) => hex.slice(0, OUTPOINT_BYTES * 2)));
      for (const key of hexes(parts.spent, OUTPOINT_BYTES)) {
        assert.ok(flushed.delete(key), "a spend names a flushed entry");
        if (createdKeys.has(key)) recreated++;
      }
      for (const hex of hexes(parts.created, UTXO_ENTRY_BYTES)) {
        const key = hex.slice(0, OUTPOINT_BYTES * 2);
        assert.ok(!flushed.has(key), "a creation names an absent entry");
        flushed.set(key, Buffer.from(hex, "hex").readBigUInt64LE(68));
      }
      delta.clear();
      assert.deepEqual(flushed, live, `window ${window}: the log adds up to the live set`);
    }
    assert.ok(recreated > 0, "some window re-created a flushed entry");
  });

  it("refuses a double create, a double spend and misaligned buffers", async () => {
    const delta = new UtxoDelta();
    const key = rng.bytes(OUTPOINT_BYTES);
    delta.addBlock(entry(key, 1n), new Uint8Array(0));
    assert.equal(await codeOfAsync(() => delta.addBlock(entry(key, 1n), new Uint8Array(0))), "STORE_BAD_INPUT");
    const other = rng.bytes(OUTPOINT_BYTES);
    delta.addBlock(new Uint8Array(0), other);
    assert.equal(await codeOfAsync(() => delta.addBlock(new Uint8Array(0), other)), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => delta.addBlock(new Uint8Array(75), new Uint8Array(0))), "STORE_BAD_INPUT");
    assert.equal(await codeOfAsync(() => delta.addBlock(new Uint8Array(0), new Uint8Array(35))), "STORE_BAD_INPUT");
  });
});
