/**
 * The epoch archive over the client API, on real HTTP (127.0.0.1) in front of a real shard state
 * (LMDB): GET /v1/epochs summarises each kept epoch, GET /v1/epochs/chain is the identity chain a
 * client verifies from the genesis alone, GET /v1/epochs/:epoch/drp-transcript the DRP transcript
 * its configuration names; epochs kept while serving appear at once; an epoch not kept is 404
 * EPOCH_UNKNOWN and a malformed one 400 API_BAD_PARAMETER. Through a whole validator, the HTTP
 * edge of the client port passes the routes and their binary bodies.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sha256 } from "../../src/crypto/sha256.js";
import { verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { decodeIdentityChain, verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { toHex } from "../../src/hex.js";
import { buildArchive, genesis, genesisKeys, verifier } from "../support/identity-chain.js";
import { PobTestBackend, TestShard, getJson, serveApi, startNode } from "./helpers.js";

const archive = buildArchive(3);
const directory = mkdtempSync(join(tmpdir(), "ios-api-epochs-"));
let shard: TestShard;
let server: Awaited<ReturnType<typeof serveApi>>;
let base: string;

before(async () => {
  shard = TestShard.open(genesis, 0, genesisKeys[0]!, join(directory, "data"));
  server = await serveApi(new PobTestBackend(shard, genesisKeys[0]!.publicKey, { consensus: {}, sealOnAccept: false }));
  base = `http://127.0.0.1:${server.port}`;
});

after(async () => {
  server.close();
  await shard.close();
  rmSync(directory, { recursive: true, force: true });
});

async function getBytes(path: string): Promise<{ status: number; type: string | null; bytes: Uint8Array }> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, type: response.headers.get("content-type"), bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe("GET /v1/epochs", () => {
  it("serves an empty archive, then every epoch kept while serving: summaries, the chain that verifies from the genesis, the transcripts", async () => {
    const empty = await getJson(`${base}/v1/epochs`);
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, { epoch: 0, epochs: [] });
    assert.deepEqual(decodeIdentityChain((await getBytes("/v1/epochs/chain")).bytes), []);

    archive.links.forEach((link, i) => shard.state.keepEpoch(i + 1, link, archive.transcripts[i]!));

    const listed = await getJson(`${base}/v1/epochs`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, {
      epoch: 0,
      epochs: [1, 2, 3].map((e) => ({
        epoch: e,
        configurationHash: toHex(archive.contexts[e]!.configurationHash),
        randomness: toHex(archive.contexts[e]!.randomness),
        transcriptHash: toHex(sha256(archive.transcripts[e - 1]!)),
        validators: archive.contexts[e]!.validators.length,
        shardCount: 2,
      })),
    });

    const chain = await getBytes("/v1/epochs/chain");
    assert.equal(chain.status, 200);
    assert.equal(chain.type, "application/octet-stream");
    const contexts = verifyIdentityChain(genesis, decodeIdentityChain(chain.bytes), verifier);
    assert.deepEqual(contexts.map((c) => toHex(c.configurationHash)), archive.contexts.map((c) => toHex(c.configurationHash)));

    for (let e = 1; e <= 3; e++) {
      const transcript = await getBytes(`/v1/epochs/${e}/drp-transcript`);
      assert.equal(transcript.status, 200);
      assert.equal(transcript.type, "application/octet-stream");
      assert.deepEqual(transcript.bytes, archive.transcripts[e - 1]);
      assert.deepEqual(verifyTranscript(transcript.bytes).rnd, contexts[e]!.randomness, `epoch ${e}: the transcript gives the configuration's rnd`);
    }
  });

  it("answers 404 EPOCH_UNKNOWN for an epoch not kept and 400 API_BAD_PARAMETER for a malformed one; other methods 405", async () => {
    for (const epoch of ["0", "4", "4294967295"]) {
      const { status, body } = await getJson(`${base}/v1/epochs/${epoch}/drp-transcript`);
      assert.equal(status, 404, epoch);
      assert.equal(body.error.code, "EPOCH_UNKNOWN", epoch);
    }
    for (const epoch of ["abc", "-1", "1e3", "4294967296", "01234567890", "%20"]) {
      const { status, body } = await getJson(`${base}/v1/epochs/${epoch}/drp-transcript`);
      assert.equal(status, 400, epoch);
      assert.equal(body.error.code, "API_BAD_PARAMETER", epoch);
    }
    const posted = await fetch(`${base}/v1/epochs/chain`, { method: "POST" });
    assert.equal(posted.status, 405);
    assert.equal(((await posted.json()) as { error: { code: string } }).error.code, "API_METHOD_NOT_ALLOWED");
  });
});

describe("GET /v1/epochs through a validator's HTTP edge", () => {
  it("serves the archive its store keeps, binary bodies intact", async () => {
    const net = { genesis, accounts: [], validators: genesisKeys, dir: mkdtempSync(join(tmpdir(), "ios-api-epochs-node-")) };
    const { node, base: edge } = await startNode(net);
    try {
      archive.links.forEach((link, i) => node.state.keepEpoch(i + 1, link, archive.transcripts[i]!));
      const listed = await getJson(`${edge}/v1/epochs`);
      assert.deepEqual(listed.body.epochs.map((entry: { configurationHash: string }) => entry.configurationHash), [1, 2, 3].map((e) => toHex(archive.contexts[e]!.configurationHash)));
      const chain = new Uint8Array(await (await fetch(`${edge}/v1/epochs/chain`)).arrayBuffer());
      assert.equal(verifyIdentityChain(genesis, decodeIdentityChain(chain), verifier).length, 4);
      const transcript = new Uint8Array(await (await fetch(`${edge}/v1/epochs/3/drp-transcript`)).arrayBuffer());
      assert.deepEqual(transcript, archive.transcripts[2]);
      const unknown = await getJson(`${edge}/v1/epochs/9/drp-transcript`);
      assert.deepEqual([unknown.status, unknown.body.error.code], [404, "EPOCH_UNKNOWN"]);
    } finally {
      await node.stop();
      rmSync(net.dir, { recursive: true, force: true });
    }
  });
});
