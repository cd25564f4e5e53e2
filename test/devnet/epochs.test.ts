// The epoch transition over real processes (issue 14): a 2-shard PoB devnet whose genesis has an
// epoch length of 8. Each shard decides its 8 heights (idle shards decide empty ones) and rests;
// every `ios node` process hands its shard's boundary to its transition, and the validators elect
// a leader by VRF lottery, run DRP and co-sign configuration 1 over uWebSockets.js on 127.0.0.1.
// Every validator keeps the same link and transcript in its LMDB archive and serves them: the chain
// from GET /v1/epochs/chain verifies from the genesis alone, and the transcript from
// GET /v1/epochs/1/drp-transcript verifies offline and gives rnd_1. (Switching into epoch 1 is
// the epochs issue's next step: the shards stay at rest.)
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

describe("epochs over real processes", () => {
  it("a PoB devnet with an epoch length rests at height L and configures epoch 1 on every validator: the same chain and transcript, served and verified", async () => {
    devnet = await startDevnet({ shards: 2, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "epochs", accounts: 8, amount: 1_000_000n, workers: 1, epochLength: L });
    const urls = devnet.manifest.validators.map((v) => v.http);
    const clients = urls.map((url) => new ApiClient(url));
    const epochs = async () => Promise.all(urls.map(async (url) => (await (await fetch(`${url}/v1/epochs`)).json()) as { epochs: unknown[] }));
    assert.ok(await until(async () => (await epochs()).every((answer) => answer.epochs.length === 1), 60_000), "every validator keeps epoch 1");
    const chains = await Promise.all(clients.map((client) => client.identityChain()));
    assert.equal(new Set(chains.map(hex)).size, 1, "one chain everywhere");
    const links = decodeIdentityChain(chains[0]!);
    const [epoch0, epoch1] = verifyIdentityChain(devnet.genesis, links);
    assert.equal(epoch1!.epoch, 1);
    const transcripts = await Promise.all(clients.map((client) => client.drpTranscript(1)));
    assert.equal(new Set(transcripts.map(hex)).size, 1, "one transcript everywhere");
    assert.deepEqual(sha256(transcripts[0]!), decodeIdentityConfiguration(links[0]!.configuration).transcriptHash);
    assert.deepEqual(verifyTranscript(transcripts[0]!).rnd, epoch1!.randomness, "rnd_1 is the transcript's output");
    assert.notDeepEqual(epoch1!.randomness, epoch0!.randomness);
    const configuration = decodeIdentityConfiguration(links[0]!.configuration);
    assert.deepEqual(configuration.boundaries.map((b) => b.height), [L, L]);
    const heights = (await Promise.all(clients.map((client) => client.status()))).map((status) => status.tip.height);
    assert.deepEqual(heights, heights.map(() => L), "every shard rests at height L");
  });
});
