// Atomicity of the UTXO flush: the child (../ledger/store-crash-child.ts) flushes with every block
// (interval 1), so each block's transaction carries sorted UTXO writes and the "flushed" marker.
// Killed at random moments, the store must always reopen with the marker at the tip and the utxo
// records agreeing with it exactly: never a block without its flush, never half a flush.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { LmdbChainStore } from "../../src/store/chain-store.js";
import { UTXO_ENTRY_BYTES } from "../../src/store/schema.js";
import { TestRng } from "../ledger/helpers.js";
import { flushedEntries } from "../support/utxo-log.js";

const CHILD = new URL("../ledger/store-crash-child.js", import.meta.url).pathname;
const ROUNDS = 6;
const root = mkdtempSync(join(tmpdir(), "ios-flush-"));
after(() => rmSync(root, { recursive: true, force: true }));

function runAndKill(directory: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, directory, "flush atomicity", "1", "200", String(Number.MAX_SAFE_INTEGER)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const ready = out.includes("\n");
      out += chunk;
      if (!ready && out.includes("\n")) setTimeout(() => child.kill("SIGKILL"), delayMs);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`child exited by itself (code ${code}): ${err}`))));
  });
}

it(`a block and its UTXO flush commit together across ${ROUNDS} random SIGKILLs`, async () => {
  const directory = join(root, "shard");
  const rng = new TestRng(0xf1a5);
  let lastTip = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await runAndKill(directory, 20 + rng.below(200));
    const store = LmdbChainStore.open(directory);
    try {
      const { tip, flushed } = store;
      assert.equal(flushed.height, tip.height, `round ${round}: marker at ${flushed.height}, tip at ${tip.height}`);
      const entries = flushedEntries(store);
      let supply = 0n;
      for (let at = 0; at < entries.length; at += UTXO_ENTRY_BYTES) supply += entries.readBigUInt64LE(at + 68);
      const count = entries.length / UTXO_ENTRY_BYTES;
      assert.equal(count, flushed.count, `round ${round}: utxo records disagree with the marker's count`);
      assert.equal(supply, flushed.supply, `round ${round}: utxo records disagree with the marker's supply`);
      lastTip = tip.height;
    } finally {
      await store.close();
    }
  }
  assert.ok(lastTip > 0, "the children committed blocks");
});
