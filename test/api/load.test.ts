/**
 * A small load from a standard HTTP client (autocannon) against a real `ios node` process:
 * GET /v1/status and POST /v1/tx (distinct signed transfers, then their duplicates). Every
 * response must be a 2xx, and the node's resident memory (read from its own /metrics) may not
 * grow by more than RSS_GROWTH_BOUND between a warm-up round and a second, identical round.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { genesisToJson, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { keyFileJson, nodeConfigJson } from "../../src/node/config.js";
import { IosProcess } from "../cli/helpers.js";

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  [key: string]: unknown;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

/** Bound on RSS growth between two identical rounds: well above allocator noise (a few MiB). */
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;
const ROUND_SECONDS = 2;
const ACCOUNTS = 600;

const dir = mkdtempSync(join(tmpdir(), "ios-load-"));
let node: IosProcess | undefined;
after(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rss(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(text)![1]);
}

describe("HTTP API under load", () => {
  it("serves autocannon rounds without errors and with bounded memory growth", async (t) => {
    const { genesis, accounts, validators } = makeTestGenesis({ seed: "load-test", shardCount: 1, accounts: ACCOUNTS, amount: 100n, validators: 1 });
    writeFileSync(join(dir, "genesis.json"), genesisToJson(genesis));
    writeFileSync(join(dir, "key.json"), keyFileJson(validators[0]!));
    const config = JSON.parse(nodeConfigJson({ genesis: "genesis.json", key: "key.json", dataDir: "data", listen: { host: "127.0.0.1", port: 0 }, peers: [] }));
    writeFileSync(join(dir, "node.json"), JSON.stringify({ ...config, pipeline: { workers: 1, blockIntervalMs: 50 } }));
    node = new IosProcess(["node", "--config", join(dir, "node.json")]);
    const base = (await node.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

    const gid = genesisTxid(genesis);
    const bodies = accounts.map((payer, i) => {
      const { transaction } = signTransaction(
        { kind: TxKind.Transfer, inputs: [{ txid: gid, index: i, owner: payer.publicKey }], outputs: [{ owner: accounts[(i + 1) % ACCOUNTS]!.publicKey, amount: 100n }] },
        [payer],
      );
      return JSON.stringify({ tx: Buffer.from(encodeTransaction(transaction)).toString("hex") });
    });
    let next = 0;
    const round = () =>
      autocannon({
        url: base,
        connections: 8,
        duration: ROUND_SECONDS,
        requests: [
          { method: "GET", path: "/v1/status" },
          {
            method: "POST",
            path: "/v1/tx",
            headers: { "content-type": "application/json" },
            setupRequest: (request: Record<string, unknown>) => ({ ...request, body: bodies[next++ % bodies.length] }),
          },
        ],
      });

    const warm = await round();
    const before = await rss(base);
    const second = await round();
    const afterRss = await rss(base);
    for (const result of [warm, second]) {
      assert.ok(result.requests.total > 100, `only ${result.requests.total} requests`);
      assert.equal(result.errors, 0);
      assert.equal(result.timeouts, 0);
      assert.equal(result.non2xx, 0);
    }
    t.diagnostic(`requests ${warm.requests.total} + ${second.requests.total} in 2 × ${ROUND_SECONDS} s; node RSS ${(before / 2 ** 20).toFixed(1)} → ${(afterRss / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(afterRss - before < RSS_GROWTH_BOUND, `RSS grew by ${((afterRss - before) / 2 ** 20).toFixed(1)} MiB (bound ${RSS_GROWTH_BOUND / 2 ** 20} MiB)`);
    assert.equal(await node.stop(), 0);
  });
});
