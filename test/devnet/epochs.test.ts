// Epochs over real processes (issue 14): a 2-shard PoB devnet whose genesis has an epoch length of
// 8. Each shard decides its 8 heights (idle shards decide empty ones); every `ios node` process
// hands its shard's boundary to its transition, and the validators elect a leader by VRF lottery,
// run DRP and co-sign the next configuration over uWebSockets.js on 127.0.0.1; then each one
// switches into the new epoch, those assigned another shard after syncing its final blocks. After
// EPOCHS epochs every validator keeps the same links and transcripts in its LMDB archive and serves
// them: the chain from GET /v1/epochs/chain verifies from the genesis alone, each transcript from
// GET /v1/epochs/:e/drp-transcript verifies offline and gives rnd_e, and each validator serves the
// shard its epoch assigns, past that epoch's start.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { decodeIdentityConfiguration } from "../../src/epoch/identity/configuration.js";
import { decodeIdentityChain, verifyIdentityChain } from "../../src/epoch/identity/link.js";

const root = mkdtempSync(join(tmpdir(), "ios-epochs-"));
let devnet: Devnet | undefined;
after(async () => {
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

const L = 8;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

async function until(predicate: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return predicate();
}

const EPOCHS = 3;

interface NodeStatus {
  readonly epoch: number;
  readonly shard: number;
  readonly tip: { readonly height: number };
  readonly lastSwitch?: { readonly epoch: number; readonly shard: number; readonly sync?: { readonly heights: number }; readonly pauseMs: number };
}

describe("epochs over real processes", () => {
  it(`a PoB devnet with an epoch length passes ${EPOCHS} epochs: every validator switches, movers sync, one chain and transcript per epoch, served and verified`, async () => {
    devnet = await startDevnet({ shards: 2, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "epochs", accounts: 8, amount: 1_000_000n, workers: 1, epochLength: L });
    const urls = devnet.manifest.validators.map((v) => v.http);
    const clients = urls.map((url) => new ApiClient(url));
    const statuses = async () => Promise.all(urls.map(async (url) => (await (await fetch(`${url}/v1/status`)).json()) as NodeStatus));
    assert.ok(await until(async () => (await statuses()).every((status) => status.epoch >= EPOCHS), 150_000),
      `every validator reaches epoch ${EPOCHS}: ${JSON.stringify((await statuses()).map((s) => [s.epoch, s.shard, s.tip.height]))}`);
    const chains = await Promise.all(clients.map((client) => client.identityChain()));
    const links = decodeIdentityChain(chains.reduce((shortest, chain) => (chain.length < shortest.length ? chain : shortest)));
    assert.ok(links.length >= EPOCHS);
    const contexts = verifyIdentityChain(devnet.genesis, links);
    for (const chain of chains) {
      // Every validator's chain is the same links (some may already hold one more).
      assert.deepEqual(decodeIdentityChain(chain).slice(0, links.length).map((link) => hex(link.configuration)), links.map((link) => hex(link.configuration)));
    }
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      const transcripts = await Promise.all(clients.map((client) => client.drpTranscript(epoch)));
      assert.equal(new Set(transcripts.map(hex)).size, 1, `one transcript of epoch ${epoch} everywhere`);
      assert.deepEqual(sha256(transcripts[0]!), decodeIdentityConfiguration(links[epoch - 1]!.configuration).transcriptHash);
      assert.deepEqual(verifyTranscript(transcripts[0]!).rnd, contexts[epoch]!.randomness, `rnd_${epoch} is the transcript's output`);
      assert.deepEqual(decodeIdentityConfiguration(links[epoch - 1]!.configuration).boundaries.map((b) => b.height), [epoch * L, epoch * L]);
    }
    const final = await statuses();
    devnet.manifest.validators.forEach((validator, i) => {
      const status = final[i]!;
      const context = contexts[status.epoch] ?? verifyIdentityChain(devnet!.genesis, decodeIdentityChain(chains[i]!)).at(-1)!;
      assert.equal(status.shard, context.shardOf(Buffer.from(validator.publicKey, "hex")), "each validator serves the shard its epoch assigns");
      assert.ok(status.tip.height > status.epoch * L, "its shard went on past the epoch's start");
    });
    assert.ok(final.some((status) => status.lastSwitch?.sync !== undefined), "validators moved between shards and synced");
  });
});
