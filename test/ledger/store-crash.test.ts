// Crash safety of the shard's durable state: a child process (store-crash-child.ts) commits blocks
// of signed transfers to a real LMDB store and acknowledges each one on stdout; the parent SIGKILLs
// it at seeded random moments, many times, and after every kill reopens the store and checks that
// the tip is a block boundary at or above the last acknowledged height, every acknowledged block
// and transaction is still there, and the UTXO set after replay has the supply of genesis minus fees.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { genesisEntries } from "../../src/ledger/genesis.js";
import { ENTRY_BYTES } from "../../src/ledger/utxo-table.js";
import { ShardState } from "../../src/node/shard-state.js";
import { FEE, makeWorkload } from "../store/workload.js";
import { TestRng } from "./helpers.js";
import { WORKLOAD_ACCOUNTS } from "./store-crash-child.js";

const CHILD = new URL("./store-crash-child.js", import.meta.url).pathname;
const SEED = "crash test";
const ROUNDS = 24;
/** Small flush interval, so kills also land inside flush transactions and replays are frequent. */
const FLUSH_INTERVAL = 3;
const TXS_PER_BLOCK = 20;

const root = mkdtempSync(join(tmpdir(), "ios-crash-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Round {
  readonly lines: string[];
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
}

/** Runs the child and SIGKILLs it `delayMs` after it reports ready (or after spawn, if `fromSpawn`). */
function runAndKill(directory: string, delayMs: number, fromSpawn: boolean): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, directory, SEED, String(FLUSH_INTERVAL), String(TXS_PER_BLOCK), String(Number.MAX_SAFE_INTEGER)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let armed = false;
    const arm = () => {
      if (armed) return;
      armed = true;
      setTimeout(() => child.kill("SIGKILL"), delayMs);
    };
    if (fromSpawn) arm();
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (out.startsWith("ready ") && out.includes("\n")) arm();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.on("error", reject);
    // "close", not "exit": only then has everything the child wrote to the pipe been read.
    child.on("close", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`child exited by itself (code ${code}): ${err}`));
      // A line cut short by the kill was never an acknowledgement: keep complete lines only.
      else resolve({ lines: out.split("\n").slice(0, -1), signal, code });
    });
  });
}

it(`survives ${ROUNDS} SIGKILLs at random moments without losing an acknowledged block or transaction`, async () => {
  const directory = join(root, "shard");
  const workload = makeWorkload(SEED, WORKLOAD_ACCOUNTS);
  const genesisCount = genesisEntries(workload.genesis, 0).length / ENTRY_BYTES;
  const rng = new TestRng(0xc4a54);
  const acknowledged = new Map<number, { hash: string; txids: string[] }>();
  let lastAcknowledged = 0;
  let killedMidReplayOrFlush = 0;
  let previousTip = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const fromSpawn = round % 4 === 3;
    const delay = fromSpawn ? 50 + rng.below(400) : rng.below(150);
    const { lines } = await runAndKill(directory, delay, fromSpawn);
    for (const line of lines) {
      const [kind, height, hash, ...txids] = line.split(" ");
      if (kind !== "ack") continue;
      acknowledged.set(Number(height), { hash: hash!, txids });
      lastAcknowledged = Math.max(lastAcknowledged, Number(height));
    }

    const state = ShardState.open({ directory, genesis: workload.genesis, shard: 0, flushIntervalBlocks: FLUSH_INTERVAL });
    try {
      const tip = state.tip.height;
      assert.ok(tip >= lastAcknowledged, `round ${round}: tip ${tip} is below the acknowledged height ${lastAcknowledged}`);
      // A block committed just before the kill has no acknowledgement yet; the next child builds on it.
      assert.ok(tip >= previousTip, `round ${round}: tip ${tip} went below the tip ${previousTip} seen before`);
      assert.ok(tip <= Math.max(lastAcknowledged, previousTip) + 1, `round ${round}: tip ${tip} is more than one unacknowledged block ahead`);
      previousTip = tip;
      if (state.flushedHeight < tip) killedMidReplayOrFlush++;
      for (const [height, block] of acknowledged) {
        const stored = state.getBlockByHash(Buffer.from(block.hash, "hex"));
        assert.ok(stored !== undefined, `round ${round}: acknowledged block ${height} is gone`);
        assert.deepEqual(state.getBlock(height), stored);
        block.txids.forEach((txid, position) => {
          assert.deepEqual(state.getTransactionLocation(Buffer.from(txid, "hex")), { height, position }, `round ${round}: tx ${txid} of block ${height} lost`);
        });
      }
      const applied = BigInt(tip * TXS_PER_BLOCK);
      assert.equal(state.supply, workload.supply - applied * FEE, `round ${round}: supply is not genesis minus fees`);
      assert.equal(state.utxoCount, genesisCount + tip * TXS_PER_BLOCK, `round ${round}: each 1-in 2-out transfer adds one UTXO`);
    } finally {
      await state.close();
    }
  }
  assert.ok(lastAcknowledged > ROUNDS, `the children made progress (${lastAcknowledged} blocks acknowledged)`);
  assert.ok(killedMidReplayOrFlush > 0, "some kills left an unflushed tail to replay");
});
