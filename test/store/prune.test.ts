// Pruning (schema.ts "Pruning", StoredBlock `prune`) on both stores: storing the MSB of epoch e
// deletes every per-height record of epochs ≤ e − 1 in the same transaction and keeps epoch e's,
// the epoch ends' final-height records, every MSB header, the latest body and every Atomix entry;
// the horizon survives a reopen, never passes the flushed height and only moves up.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredBlock } from "../../src/store/interface.js";
import type { RecordChainStore } from "../../src/store/record-store.js";
import { UTXO_ENTRY_BYTES } from "../../src/store/schema.js";
import { BlockKind, encodeBlockHeader, makeBlockHeader } from "../../src/ledger/block.js";
import { TestRng } from "../ledger/helpers.js";
import { codeOfAsync } from "../support/errors.js";
import { BACKENDS } from "./backends.js";

const L = 4;
const EPOCHS = 5;
const rng = new TestRng(0x9e0e);
const identity = { shard: 0, genesisId: rng.bytes(32) };
const hex = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : Buffer.from(bytes).toString("hex"));

/** What one height wrote, to look each record up again. */
interface Written {
  readonly block: StoredBlock;
  readonly txid: Uint8Array;
  readonly rejected: Uint8Array;
  readonly crossTxid: Uint8Array;
  readonly orderedHash: Uint8Array;
}

function orderedBlockAt(height: number): Uint8Array {
  const fields = { kind: BlockKind.Optimistic, shard: 0, epoch: Math.floor((height - 1) / L), height, prevHash: rng.bytes(32), timestamp: 1_000 + height, producer: rng.bytes(32) };
  return encodeBlockHeader(makeBlockHeader(fields, []));
}

function heightRecords(height: number, prune: boolean): Written {
  const txid = rng.bytes(32);
  const rejected = rng.bytes(32);
  const crossTxid = rng.bytes(32);
  const orderedHash = rng.bytes(32);
  const epoch = height / L - 1;
  const endsEpoch = height % L === 0;
  const block: StoredBlock = {
    height, hash: rng.bytes(32), bytes: rng.bytes(120), txids: txid, positions: [0], consensusState: rng.bytes(40),
    orderedBlocks: [{ hash: orderedHash, bytes: orderedBlockAt(height) }], rejections: [{ txid: rejected, code: "MISSING_INPUT" }],
    // Odd heights leave a lock open (phase 0), even ones settle (phase 2, committed): both are kept.
    atomix: [{ crossTxid, phase: height % 2 === 1 ? 0 : 2 }],
    certificate: rng.bytes(300), proposal: rng.bytes(200),
    ...(endsEpoch ? { msb: { epoch, header: rng.bytes(150), body: rng.bytes(UTXO_ENTRY_BYTES * (3 + epoch)), decisions: new Uint8Array(0) } } : {}),
    ...(endsEpoch && prune ? { prune: { below: epoch * L + 1, epochLength: L } } : {}),
  };
  return { block, txid, rejected, crossTxid, orderedHash };
}

/** Whether every per-height record of `written` is in `store` (true), none of them (false), or a mix (throws). */
function presence(store: RecordChainStore, { block, txid, rejected, orderedHash }: Written): boolean {
  const found = {
    block: store.getBlock(block.height) !== undefined,
    byHash: store.getBlockByHash(block.hash) !== undefined,
    consensus: store.consensusStateAt(block.height) !== undefined,
    txIndex: store.getTxLocation(txid) !== undefined,
    rejection: store.rejection(rejected) !== undefined,
    ordered: store.orderedBlock(orderedHash) !== undefined,
    // An epoch end's record is kept either way (checked by the callers).
    ...(block.height % L === 0 ? {} : { finalHeight: store.finalHeightRecord(block.height) !== undefined }),
  };
  const values = Object.values(found);
  assert.ok(values.every((v) => v === values[0]), `height ${block.height}: a partial prune ${JSON.stringify(found)}`);
  return values[0]!;
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();

  describe(`pruning (${backend.name})`, () => {
    it(`keeps epochs e and e + 1 and the epoch ends' records through ${EPOCHS} epochs, across a reopen`, async () => {
      const medium = backend.fresh();
      let store = backend.open(medium);
      store.initialize(identity, rng.bytes(UTXO_ENTRY_BYTES * 0));
      const written: Written[] = [];
      for (let height = 1; height <= EPOCHS * L; height++) {
        const records = heightRecords(height, true);
        written.push(records);
        store.appendBlock(records.block, { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n });
        if (height % L !== 0) continue;
        const epoch = height / L - 1;
        const horizon = Math.max(1, epoch * L + 1);
        assert.equal(store.prunedBelow, horizon, `after the MSB of epoch ${epoch}`);
        for (const at of written) assert.equal(presence(store, at), at.block.height >= horizon, `height ${at.block.height} after the MSB of epoch ${epoch}`);
      }
      const check = (opened: RecordChainStore, when: string): void => {
        const horizon = (EPOCHS - 1) * L + 1;
        assert.equal(opened.prunedBelow, horizon, when);
        for (const at of written) {
          assert.equal(presence(opened, at), at.block.height >= horizon, `${when}: height ${at.block.height}`);
          // Every Atomix entry stays (the replay guard), locked or settled.
          assert.equal(opened.atomix(at.crossTxid)?.height, at.block.height, `${when}: the Atomix entry of height ${at.block.height}`);
          if (at.block.height % L === 0) {
            const epoch = at.block.height / L - 1;
            assert.equal(hex(opened.finalHeightRecord(at.block.height)?.certificate), hex(at.block.certificate), `${when}: epoch ${epoch}'s end certificate`);
            assert.equal(hex(opened.msbHeader(epoch)), hex(at.block.msb!.header), `${when}: MSB header ${epoch}`);
          }
        }
        assert.equal(hex(Buffer.concat([...opened.msbBody(opened.latestMsb!.epoch)!])), hex(written.at(-1)!.block.msb!.body), `${when}: the latest body`);
        assert.equal(opened.tip.height, EPOCHS * L);
      };
      check(store, "open");
      await store.close();
      store = backend.open(medium);
      check(store, "reopened");
      await store.close();
    });

    it("never prunes above the flushed height, and the horizon only moves up", async () => {
      const store = backend.open(backend.fresh());
      store.initialize(identity, new Uint8Array(0));
      const written: Written[] = [];
      for (let height = 1; height <= 3 * L; height++) {
        const records = heightRecords(height, true);
        written.push(records);
        // Flushed only at height 3: the MSB of epoch 1 (height 8) asks for 1..4 and gets 1..2 (the flushed block stays).
        store.appendBlock(records.block, height === 3 ? { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n } : undefined);
        if (height === 2 * L) assert.equal(store.prunedBelow, 3, "lowered to the flushed height");
      }
      assert.equal(store.prunedBelow, 3, "the MSB of epoch 2 (below 9) is lowered to 3 as well");
      for (const at of written) assert.equal(presence(store, at), at.block.height >= 3, `height ${at.block.height}`);
      assert.equal(await codeOfAsync(() => store.appendBlock({ ...heightRecords(3 * L + 1, false).block, prune: { below: 5, epochLength: 0 } })), "STORE_BAD_INPUT");
      assert.equal(await codeOfAsync(() => store.appendBlock({ ...heightRecords(3 * L + 1, false).block, prune: { below: -1, epochLength: L } })), "STORE_BAD_INPUT");
      assert.equal(store.tip.height, 3 * L, "a refused prune request appends nothing");
      await store.close();
    });

    it("without prune requests, nothing is deleted", async () => {
      const store = backend.open(backend.fresh());
      store.initialize(identity, new Uint8Array(0));
      const written: Written[] = [];
      for (let height = 1; height <= 3 * L; height++) {
        written.push(heightRecords(height, false));
        store.appendBlock(written.at(-1)!.block, { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n });
      }
      assert.equal(store.prunedBelow, 1);
      for (const at of written) assert.ok(presence(store, at), `height ${at.block.height}`);
      await store.close();
    });
  });
}
