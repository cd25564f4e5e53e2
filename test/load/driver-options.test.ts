// Driver input checks and connection failures, against real sockets (no node needed).
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { runLoad } from "../../src/load/driver.js";
import { generateLoad } from "../../src/load/workload.js";

const made = makeTestGenesis({ seed: "driver options", shardCount: 2, accounts: 8, amount: 1000n, validators: 1 });

/** A port that was just free: listen on :0, read it, close. Nothing listens there afterwards. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("runLoad options", () => {
  it("rejects bad options with LOAD_BAD_OPTION before connecting", async () => {
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: 8, seed: "o", threads: 1 });
    const url = "ws://127.0.0.1:1/v1/stream";
    const ok = { set, endpoints: [url], mode: { kind: "closed-loop", window: 4 } as const, durationMs: 1000 };
    const bad = [
      { ...ok, endpoints: [] },
      { ...ok, endpoints: [url, url] },
      { ...ok, endpoints: ["http://127.0.0.1:1/v1/stream"] },
      { ...ok, epochLength: 0 },
      { ...ok, statusPollMs: 0 },
      { ...ok, mode: { kind: "open-loop", rate: 0 } as const },
      { ...ok, mode: { kind: "closed-loop", window: 0 } as const },
      { ...ok, durationMs: 0 },
      { ...ok, frameTxs: 20_000 },
      { ...ok, drainTimeoutMs: -1 },
    ];
    for (const options of bad) await assert.rejects(runLoad(options), { code: "LOAD_BAD_OPTION" });
  });

  it("fails with LOAD_CONNECT_FAILED when a validator cannot be reached", async () => {
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: 8, seed: "o", threads: 1 });
    const url = `ws://127.0.0.1:${await closedPort()}/v1/stream`;
    await assert.rejects(runLoad({ set, endpoints: [url], mode: { kind: "open-loop", rate: 100 }, durationMs: 500 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "LOAD_CONNECT_FAILED");
      assert.match(error.message, new RegExp(url.replace(/[/.]/g, "\\$&")));
      return true;
    });
  });
});
