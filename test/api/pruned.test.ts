/**
 * A node whose store pruned heights below 5 (src/store/schema.ts "Pruning"): a block below the
 * horizon is 404 MSB_PRUNED, not BLOCK_NOT_FOUND; a kept height that is missing stays
 * BLOCK_NOT_FOUND; an unknown transaction's TX_NOT_FOUND names the horizon; /v1/status shows it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getJson, serveApi, stubBackend } from "./helpers.js";

const PRUNED_BELOW = 5;

const backend = stubBackend({ epoch: 2, chain: { tip: { height: 12, hash: new Uint8Array(32) }, prunedBelow: PRUNED_BELOW } });

describe("client API of a pruned store", () => {
  let served: Awaited<ReturnType<typeof serveApi>>;
  let base: string;
  before(async () => {
    served = await serveApi(backend);
    base = `http://127.0.0.1:${served.port}`;
  });
  after(() => served.close());

  it("answers pruned heights MSB_PRUNED, names the horizon, shows it in the status", async () => {
    for (const height of [1, PRUNED_BELOW - 1]) {
      const response = await getJson(`${base}/v1/block/${height}`);
      assert.equal(response.status, 404);
      assert.equal(response.body.error.code, "MSB_PRUNED", `height ${height}`);
    }
    assert.equal((await getJson(`${base}/v1/block/${PRUNED_BELOW}`)).body.error.code, "BLOCK_NOT_FOUND");
    assert.equal((await getJson(`${base}/v1/block/0`)).body.error.code, "BLOCK_NOT_FOUND");
    const tx = await getJson(`${base}/v1/tx/${"ab".repeat(32)}`);
    assert.equal(tx.body.error.code, "TX_NOT_FOUND");
    assert.match(tx.body.error.message, /heights below 5 are pruned/);
    assert.equal((await getJson(`${base}/v1/status`)).body.prunedBelow, PRUNED_BELOW);
  });
});
