// ChainStore.restoreAtMsb on both backends (LMDB files and the memory store): a store holding a
// genesis set and a few blocks is replaced, in one transaction, by the chain at an MSB height — the
// UTXO set is the MSB body, tip / flushed marker / pruning horizon the height, the block there with its final-
// height record, the MSB header and the earlier ones, the Atomix phase table the MSB's decisions (at
// the MSB height, no proof) — and reopens the same; bad input changes nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ATOMIX_DECISION, OUTPOINT_BYTES } from "../../src/codec/sizes.js";
import type { StoredRestore } from "../../src/store/interface.js";
import { UTXO_ENTRY_BYTES } from "../../src/store/schema.js";
import { TestRng } from "../ledger/helpers.js";
import { codeOfAsync } from "../support/errors.js";
import { BACKENDS } from "./backends.js";
import { flushedEntries } from "../support/utxo-log.js";

const rng = new TestRng(0x4e57);

/** `n` packed entries with random outpoints, sorted by outpoint (an MSB body), amounts 1..2^32. */
function sortedEntries(n: number): Uint8Array {
  const entries = Array.from({ length: n }, () => {
    const entry = Buffer.alloc(UTXO_ENTRY_BYTES);
    entry.set(rng.bytes(68));
    entry.writeBigUInt64LE(BigInt(rng.nextU32()) + 1n, 68);
    return entry;
  }).sort((a, b) => Buffer.compare(a.subarray(0, OUTPOINT_BYTES), b.subarray(0, OUTPOINT_BYTES)));
  return Buffer.concat(entries);
}

/** `n` decisions (cross txid ‖ phase) sorted by cross txid, phases 0..3 in turn. */
function sortedDecisions(n: number): Uint8Array {
  const txids = Array.from({ length: n }, () => Buffer.from(rng.bytes(32))).sort(Buffer.compare);
  return Buffer.concat(txids.map((txid, i) => Buffer.concat([txid, Buffer.from([i % 4])])));
}

function block(height: number) {
  return { height, hash: rng.bytes(32), bytes: rng.bytes(100), txids: new Uint8Array(0), positions: [] };
}

function restoreAt(height: number, body: Uint8Array, decisions = sortedDecisions(10)): StoredRestore {
  return {
    block: { ...block(height), certificate: rng.bytes(200), proposal: rng.bytes(150), rejections: [], msb: { epoch: 2, header: rng.bytes(120), body, decisions } },
    earlierHeaders: [{ epoch: 0, header: rng.bytes(100) }, { epoch: 1, header: rng.bytes(110) }],
  };
}

function supplyOf(body: Uint8Array): bigint {
  let supply = 0n;
  for (let at = 0; at < body.length; at += UTXO_ENTRY_BYTES) supply += Buffer.from(body).readBigUInt64LE(at + 68);
  return supply;
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`restoreAtMsb (${backend.name})`, () => {
    it("replaces the chain below the MSB height in one transaction and reopens the same", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize({ shard: 0, genesisId: rng.bytes(32) }, sortedEntries(50));
      // Phases the store held before: gone with the chain they came from.
      const stale = rng.bytes(32);
      for (let h = 1; h <= 3; h++) store.appendBlock({ ...block(h), atomix: [{ crossTxid: h === 1 ? stale : rng.bytes(32), phase: 0 }] });
      const body = sortedEntries(9_000); // two store chunks of 8,192
      const decisions = sortedDecisions(8_200); // two as well
      const restore = restoreAt(60, body, decisions);
      store.restoreAtMsb(restore);
      const D = ATOMIX_DECISION.bytes;
      const phases = (s: typeof store) => [...s.atomixEntries()].map(({ crossTxid, entry }) => [Buffer.from(crossTxid).toString("hex"), entry.phase, entry.height, entry.decidedAt, entry.proof.length]);
      const expectedPhases = Array.from({ length: 8_200 }, (_, i) => [Buffer.from(decisions.subarray(i * D, i * D + 32)).toString("hex"), i % 4, 60, 0, 0]);
      assert.deepEqual(phases(store), expectedPhases, "the phase table is the MSB's decisions, at its height, without proofs");
      assert.equal(store.atomix(stale), undefined);
      assert.equal(Buffer.concat([...store.msbDecisions(store.latestMsb!.epoch)!]).toString("hex"), Buffer.from(decisions).toString("hex"));
      const view = (s: typeof store) => ({
        tip: s.tip, flushed: s.flushed, prunedBelow: s.prunedBelow, latest: s.latestMsb, set: flushedEntries(s).toString("hex"),
        body: Buffer.concat([...s.msbBody(s.latestMsb!.epoch)!]).toString("hex"), headers: [0, 1, 2].map((e) => Buffer.from(s.msbHeader(e) ?? []).toString("hex")),
        below: [1, 2, 3, 59].map((h) => s.getBlock(h)), at: Buffer.from(s.getBlock(60)!).toString("hex"), record: s.finalHeightRecord(60)?.certificate,
      });
      const expected = {
        tip: { height: 60, hash: restore.block.hash }, flushed: { height: 60, count: 9_000, supply: supplyOf(body), baseHeight: 60, baseCount: 9_000, logged: 0 }, prunedBelow: 60, latest: { epoch: 2, count: 9_000, chunks: 2, decisions: 8_200, decisionChunks: 2 },
        set: Buffer.from(body).toString("hex"), body: Buffer.from(body).toString("hex"),
        headers: [...restore.earlierHeaders.map((h) => h.header), restore.block.msb.header].map((h) => Buffer.from(h).toString("hex")),
        below: [undefined, undefined, undefined, undefined], at: Buffer.from(restore.block.bytes).toString("hex"), record: restore.block.certificate,
      };
      assert.deepEqual(view(store), expected);
      // The chain continues at the MSB height + 1.
      store.appendBlock(block(61));
      await store.close();
      const reopened = backend.open(medium);
      assert.deepEqual({ ...view(reopened), tip: undefined }, { ...expected, tip: undefined });
      assert.deepEqual(phases(reopened), expectedPhases);
      assert.equal(Buffer.concat([...reopened.msbDecisions(reopened.latestMsb!.epoch)!]).toString("hex"), Buffer.from(decisions).toString("hex"));
      assert.equal(reopened.tip.height, 61);
      await reopened.close();
    });

    it("refuses a height not above the tip, an unsorted body, unsorted decisions and a byte that is no phase, writing nothing (STORE_BAD_INPUT)", async () => {
      const store = backend.open(backend.fresh());
      store.initialize({ shard: 0, genesisId: rng.bytes(32) }, sortedEntries(5));
      for (let h = 1; h <= 3; h++) store.appendBlock(block(h));
      const before = { tip: store.tip, prunedBelow: store.prunedBelow, set: flushedEntries(store).toString("hex") };
      assert.equal(await codeOfAsync(() => store.restoreAtMsb(restoreAt(3, sortedEntries(4)))), "STORE_BAD_INPUT");
      const body = sortedEntries(4);
      const unsorted = Buffer.concat([body.subarray(UTXO_ENTRY_BYTES * 2), body.subarray(0, UTXO_ENTRY_BYTES * 2)]);
      assert.equal(await codeOfAsync(() => store.restoreAtMsb(restoreAt(40, unsorted))), "STORE_BAD_INPUT");
      const decisions = sortedDecisions(3);
      const D = ATOMIX_DECISION.bytes;
      const unsortedDecisions = Buffer.concat([decisions.subarray(D), decisions.subarray(0, D)]);
      assert.equal(await codeOfAsync(() => store.restoreAtMsb(restoreAt(40, body, unsortedDecisions))), "STORE_BAD_INPUT");
      const notAPhase = Buffer.from(decisions);
      notAPhase[D - 1] = 4;
      assert.equal(await codeOfAsync(() => store.restoreAtMsb(restoreAt(40, body, notAPhase))), "STORE_BAD_INPUT");
      assert.equal(await codeOfAsync(() => store.restoreAtMsb(restoreAt(40, body, decisions.subarray(1)))), "STORE_BAD_INPUT", "not whole decisions");
      assert.deepEqual([...store.atomixEntries()], []);
      assert.deepEqual({ tip: store.tip, prunedBelow: store.prunedBelow, set: flushedEntries(store).toString("hex") }, before);
      await store.close();
    });
  });
}
