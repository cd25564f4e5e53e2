// The MSB bodies a store keeps (schema.ts MSB_BODIES_KEPT, version 7), on both stores: the latest
// two MSBs' bodies and decisions, by epoch, pruning or not; storing a third deletes the oldest in
// the same transaction (its records gone from the raw tables too); the list survives a reopen; a
// restore keeps the restored MSB alone; meta "msb" is strict (STORE_CORRUPT), and a version-6 store
// is refused (STORE_SCHEMA_MISMATCH), not misread.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredBlock } from "../../src/store/interface.js";
import type { RecordChainStore } from "../../src/store/record-store.js";
import { META_IDENTITY, META_MSB, MSB_BODIES_KEPT, MSB_BODY_CHUNK_ENTRIES, SCHEMA_VERSION, UTXO_ENTRY_BYTES, decodeKeptMsbs, encodeKeptMsbs, msbChunkKey } from "../../src/store/schema.js";
import { TestRng } from "../ledger/helpers.js";
import { codeOf, codeOfAsync } from "../support/errors.js";
import { BACKENDS } from "./backends.js";

const L = 3;
const rng = new TestRng(0xb0d1);
const identity = { shard: 0, genesisId: rng.bytes(32) };
const hex = (bytes: Uint8Array | undefined): string => (bytes === undefined ? "absent" : Buffer.from(bytes).toString("hex"));
const joined = (chunks: Iterable<Uint8Array> | undefined): string => (chunks === undefined ? "absent" : hex(Buffer.concat([...chunks])));

/** Sorted packed 33-byte decisions (cross txid ‖ phase), `count` of them. */
function decisionsOf(count: number): Uint8Array {
  const leaves = Array.from({ length: count }, () => Buffer.concat([rng.bytes(32), Buffer.of(2)])).sort(Buffer.compare);
  return Buffer.concat(leaves);
}

/** Block `height`; at an epoch's end it stores that epoch's MSB (its body spans two msbBody chunks in epoch 1). */
function block(height: number, prune: boolean): StoredBlock {
  const epoch = height / L - 1;
  const ends = height % L === 0;
  const entries = epoch === 1 ? MSB_BODY_CHUNK_ENTRIES + 2 : 3 + epoch;
  return {
    height, hash: rng.bytes(32), bytes: rng.bytes(80), txids: new Uint8Array(0), positions: [], certificate: rng.bytes(200), proposal: rng.bytes(100),
    ...(ends ? { msb: { epoch, header: rng.bytes(150), body: rng.bytes(UTXO_ENTRY_BYTES * entries), decisions: decisionsOf(epoch) } } : {}),
    ...(ends && prune && epoch > 0 ? { prune: { below: epoch * L, epochLength: L } } : {}),
  };
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();

  describe(`MSB bodies kept (${backend.name})`, () => {
    for (const prune of [true, false]) {
      it(`keeps the latest ${MSB_BODIES_KEPT} bodies and decisions by epoch, deleting the oldest with the next MSB, across a reopen (prune ${prune})`, async () => {
        const medium = backend.fresh();
        let store: RecordChainStore = backend.open(medium);
        store.initialize(identity, new Uint8Array(0));
        const msbs: StoredBlock["msb"][] = [];
        for (let height = 1; height <= 4 * L; height++) {
          const next = block(height, prune);
          store.appendBlock(next, { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n });
          if (next.msb === undefined) continue;
          msbs.push(next.msb);
          const epoch = next.msb.epoch;
          const kept = [epoch - 1, epoch].filter((e) => e >= 0);
          assert.deepEqual(store.keptMsbs.map((msb) => msb.epoch), kept, `after MSB ${epoch}`);
          assert.equal(store.latestMsb?.epoch, epoch);
          for (const e of kept) {
            assert.equal(joined(store.msbBody(e)), hex(msbs[e]!.body), `body ${e} after MSB ${epoch}`);
            assert.equal(joined(store.msbDecisions(e)), hex(msbs[e]!.decisions), `decisions ${e} after MSB ${epoch}`);
            assert.deepEqual(store.keptMsbs.find((msb) => msb.epoch === e), {
              epoch: e, count: msbs[e]!.body.length / UTXO_ENTRY_BYTES, chunks: Math.ceil(msbs[e]!.body.length / UTXO_ENTRY_BYTES / MSB_BODY_CHUNK_ENTRIES),
              decisions: e, decisionChunks: Math.ceil(e / MSB_BODY_CHUNK_ENTRIES),
            });
          }
          for (let older = 0; older < epoch - 1; older++) {
            assert.equal(store.msbBody(older), undefined, `body ${older} deleted after MSB ${epoch}`);
            assert.equal(store.msbDecisions(older), undefined);
            assert.equal(hex(store.msbHeader(older)), hex(msbs[older]!.header), `header ${older} kept`);
          }
        }
        await store.close();
        // The dropped bodies' records are gone from the tables (epoch 1's body had two chunks), the kept ones are there.
        await backend.rawTable(medium, "msbBody", (table) => {
          for (const [epoch, chunk] of [[0, 0], [1, 0], [1, 1]] as const) assert.equal(table.get(msbChunkKey(epoch, chunk)), undefined, `msbBody ${epoch}/${chunk}`);
          assert.ok(table.get(msbChunkKey(2, 0)) !== undefined && table.get(msbChunkKey(3, 0)) !== undefined);
        });
        await backend.rawTable(medium, "msbDecisions", (table) => {
          assert.equal(table.get(msbChunkKey(1, 0)), undefined);
          assert.ok(table.get(msbChunkKey(3, 0)) !== undefined);
        });
        store = backend.open(medium);
        assert.deepEqual(store.keptMsbs.map((msb) => msb.epoch), [2, 3], "reopened");
        assert.equal(joined(store.msbBody(2)), hex(msbs[2]!.body));
        assert.equal(joined(store.msbBody(3)), hex(msbs[3]!.body));
        await store.close();
      });
    }

    it("a restore keeps the restored MSB alone; the next MSB joins it", async () => {
      const store = backend.open(backend.fresh());
      store.initialize(identity, new Uint8Array(0));
      for (let height = 1; height <= 2 * L; height++) store.appendBlock(block(height, true));
      assert.deepEqual(store.keptMsbs.map((msb) => msb.epoch), [0, 1]);
      const restored = block(3 * L, true);
      const body = Buffer.concat(Array.from({ length: 4 }, (_, i) => Buffer.concat([Buffer.alloc(35), Buffer.of(i), rng.bytes(32), Buffer.alloc(8)])));
      store.restoreAtMsb({ block: { ...restored, msb: { ...restored.msb!, body }, certificate: restored.certificate! }, earlierHeaders: [{ epoch: 0, header: rng.bytes(150) }, { epoch: 1, header: rng.bytes(150) }] });
      assert.deepEqual(store.keptMsbs.map((msb) => msb.epoch), [2]);
      assert.equal(store.msbBody(1), undefined);
      assert.equal(joined(store.msbBody(2)), hex(body));
      for (let height = 3 * L + 1; height <= 4 * L; height++) store.appendBlock(block(height, true));
      assert.deepEqual(store.keptMsbs.map((msb) => msb.epoch), [2, 3]);
      await store.close();
    });

    it(`a store of schema 6 (one latest body, keyed by chunk) is refused STORE_SCHEMA_MISMATCH; a corrupt list STORE_CORRUPT`, async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize(identity, new Uint8Array(0));
      for (let height = 1; height <= L; height++) store.appendBlock(block(height, false));
      await store.close();
      const tamper = (key: Buffer, edit: (value: Buffer) => Buffer) => backend.rawTable(medium, "meta", (meta) => meta.put(key, edit(Buffer.from(meta.get(key)!))));
      await tamper(META_IDENTITY, (value) => (value.writeUInt32LE(6, 8), value));
      assert.equal(await codeOfAsync(() => backend.open(medium)), "STORE_SCHEMA_MISMATCH");
      await tamper(META_IDENTITY, (value) => (value.writeUInt32LE(SCHEMA_VERSION, 8), value));
      await backend.open(medium).close();
      await tamper(META_MSB, (value) => value.subarray(4));
      assert.equal(await codeOfAsync(() => backend.open(medium)), "STORE_CORRUPT");
    });
  });
}

describe("meta \"msb\" (the kept MSBs)", () => {
  it("round-trips up to MSB_BODIES_KEPT ascending epochs and refuses anything else with STORE_CORRUPT", () => {
    const msb = (epoch: number) => ({ epoch, count: 5, chunks: 1, decisions: 0, decisionChunks: 0 });
    assert.deepEqual(decodeKeptMsbs(encodeKeptMsbs([msb(4), msb(5)])), [msb(4), msb(5)]);
    assert.deepEqual(decodeKeptMsbs(encodeKeptMsbs([msb(0)])), [msb(0)]);
    const refused = (value: Buffer, why: string) => assert.equal(codeOf(() => decodeKeptMsbs(value)), "STORE_CORRUPT", why);
    refused(encodeKeptMsbs([]), "none listed");
    refused(encodeKeptMsbs([msb(1), msb(2), msb(3)]), "more than kept");
    refused(encodeKeptMsbs([msb(5), msb(4)]), "descending");
    refused(encodeKeptMsbs([msb(4), msb(4)]), "twice");
    refused(encodeKeptMsbs([{ ...msb(1), chunks: 2 }]), "chunks not the count's");
    refused(encodeKeptMsbs([{ ...msb(1), decisions: 3, decisionChunks: 0 }]), "decision chunks not the count's");
    const value = encodeKeptMsbs([msb(1)]);
    refused(value.subarray(0, value.length - 1), "cut");
    refused(Buffer.concat([value, Buffer.of(0)]), "padded");
  });
});
