/**
 * The epoch archive of a validator (ChainStore `keepEpoch`, schema.ts epochLinks /
 * epochTranscripts), on both stores: the links and DRP transcripts of real epochs 1..3 (real
 * CoSi certificates, real n = 4 DRP runs) kept one transaction per epoch, read back after a
 * reopen and verified from the genesis; what a faulty caller could hand over instead (a gap, a
 * replayed epoch, epoch 0, empty or oversized parts) refused with STORE_BAD_INPUT and nothing
 * written; a torn archive or record refused as STORE_CORRUPT; a store of an older program (no
 * epoch sub-databases) opens with an empty archive; ShardState serves the same reads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { open } from "lmdb";
import { sha256 } from "../../src/crypto/sha256.js";
import { verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { decodeIdentityConfiguration, MAX_CONFIGURATION_BYTES } from "../../src/epoch/identity/configuration.js";
import { verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { genesisTxid } from "../../src/ledger/genesis.js";
import { ShardState } from "../../src/node/shard-state.js";
import { LmdbChainStore } from "../../src/store/chain-store.js";
import { epochKey } from "../../src/store/schema.js";
import { codeOfAsync } from "../support/errors.js";
import { buildArchive, genesis, verifier } from "../support/identity-chain.js";
import { BACKENDS, lmdbBackend } from "./backends.js";

const archive = buildArchive(3);
const identity = { shard: 0, genesisId: genesisTxid(genesis) };

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();

  describe(`epoch archive (${backend.name})`, () => {
    it("keeps epochs 1..3 one at a time, durable across a reopen; the kept chain verifies from the genesis and each transcript gives its rnd", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      assert.equal(await codeOfAsync(() => store.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!)), "STORE_NOT_INITIALIZED");
      store.initialize(identity, new Uint8Array(0));
      assert.equal(store.lastEpoch, 0);
      archive.links.forEach((link, i) => {
        store.keepEpoch(i + 1, link, archive.transcripts[i]!);
        assert.equal(store.lastEpoch, i + 1);
      });
      await store.close();

      const reopened = backend.open(medium);
      assert.equal(reopened.lastEpoch, 3);
      const links = [1, 2, 3].map((e) => reopened.epochLink(e)!);
      assert.deepEqual(links, archive.links);
      const contexts = verifyIdentityChain(genesis, links, verifier);
      for (let e = 1; e <= 3; e++) {
        const transcript = reopened.epochTranscript(e)!;
        assert.deepEqual(transcript, archive.transcripts[e - 1]);
        const configuration = decodeIdentityConfiguration(links[e - 1]!.configuration);
        assert.deepEqual(sha256(transcript), configuration.transcriptHash, `epoch ${e}: the transcript the configuration names`);
        assert.deepEqual(verifyTranscript(transcript).rnd, contexts[e]!.randomness);
      }
      for (const e of [0, 4]) {
        assert.equal(reopened.epochLink(e), undefined);
        assert.equal(reopened.epochTranscript(e), undefined);
      }
      assert.equal(await codeOfAsync(() => reopened.epochLink(-1)), "STORE_BAD_INPUT");
      await reopened.close();
    });

    it("refuses a gap, a replayed epoch, epoch 0 and empty or oversized parts, writing nothing", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize(identity, new Uint8Array(0));
      store.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!);
      const [link2, transcript2] = [archive.links[1]!, archive.transcripts[1]!];
      const refusals: [string, () => void][] = [
        ["gap", () => store.keepEpoch(3, archive.links[2]!, archive.transcripts[2]!)],
        ["replay", () => store.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!)],
        ["epoch 0", () => store.keepEpoch(0, link2, transcript2)],
        ["fractional", () => store.keepEpoch(1.5, link2, transcript2)],
        ["no transcript", () => store.keepEpoch(2, link2, new Uint8Array(0))],
        ["no certificate", () => store.keepEpoch(2, { ...link2, certificate: new Uint8Array(0) }, transcript2)],
        ["no configuration", () => store.keepEpoch(2, { ...link2, configuration: new Uint8Array(0) }, transcript2)],
        ["oversized configuration", () => store.keepEpoch(2, { ...link2, configuration: new Uint8Array(MAX_CONFIGURATION_BYTES + 1) }, transcript2)],
      ];
      for (const [what, keep] of refusals) assert.equal(await codeOfAsync(keep), "STORE_BAD_INPUT", what);
      assert.equal(store.lastEpoch, 1);
      assert.equal(store.epochLink(2), undefined);
      assert.equal(store.epochTranscript(2), undefined);
      await store.close();
      const reopened = backend.open(medium);
      assert.equal(reopened.lastEpoch, 1, "nothing of the refused calls reached the store");
      assert.equal(reopened.epochTranscript(3), undefined);
      await reopened.close();
    });

    it("a link without its transcript is a torn archive (STORE_CORRUPT on open); a cut link record is STORE_CORRUPT on read", async () => {
      const medium = backend.fresh();
      const store = backend.open(medium);
      store.initialize(identity, new Uint8Array(0));
      store.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!);
      store.keepEpoch(2, archive.links[1]!, archive.transcripts[1]!);
      await store.close();
      await backend.rawTable(medium, "epochLinks", (links) => links.put(epochKey(1), links.get(epochKey(1))!.subarray(0, 100)));
      const cut = backend.open(medium);
      assert.equal(await codeOfAsync(() => cut.epochLink(1)), "STORE_CORRUPT");
      assert.deepEqual(cut.epochLink(2), archive.links[1]);
      await cut.close();
      await backend.rawTable(medium, "epochTranscripts", (transcripts) => transcripts.remove(epochKey(2)));
      assert.equal(await codeOfAsync(() => backend.open(medium)), "STORE_CORRUPT");
    });

    it("ShardState keeps and serves the archive, and refuses to keep once closed", async () => {
      const medium = backend.fresh();
      const state = ShardState.open({ ...backend.location(medium), genesis, shard: 0 });
      assert.equal(state.lastEpoch, 0);
      state.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!);
      assert.equal(await codeOfAsync(() => state.keepEpoch(3, archive.links[2]!, archive.transcripts[2]!)), "STORE_BAD_INPUT");
      assert.equal(state.lastEpoch, 1);
      assert.deepEqual(state.epochLink(1), archive.links[0]);
      assert.deepEqual(state.epochTranscript(1), archive.transcripts[0]);
      await state.close();
      assert.equal(await codeOfAsync(() => state.keepEpoch(2, archive.links[1]!, archive.transcripts[1]!)), "STATE_CLOSED");
      const reopened = ShardState.open({ ...backend.location(medium), genesis, shard: 0 });
      assert.equal(reopened.lastEpoch, 1);
      await reopened.close();
    });
  });
}

describe("epoch archive in a store of an older program", () => {
  it("an LMDB store without the epoch sub-databases (schema 4 before them) opens with an empty archive and keeps epochs", async () => {
    const backend = lmdbBackend();
    const directory = backend.fresh() as string;
    const store = LmdbChainStore.open(directory);
    store.initialize(identity, new Uint8Array(0));
    await store.close();
    // What the older program left: its sub-databases only.
    const env = open({ path: directory, overlappingSync: false });
    for (const name of ["epochLinks", "epochTranscripts"]) await env.openDB({ name, keyEncoding: "binary", encoding: "binary" }).drop();
    assert.deepEqual([...env.getKeys()].filter((name) => String(name).startsWith("epoch")), []);
    await env.close();

    const older = LmdbChainStore.open(directory);
    assert.equal(older.lastEpoch, 0);
    older.keepEpoch(1, archive.links[0]!, archive.transcripts[0]!);
    assert.deepEqual(older.epochLink(1), archive.links[0]);
    await older.close();
  });
});
