/**
 * Cost of the block header's body root (issue 13, src/ledger/block.ts): what every replica pays
 * per block to bind the full encodings, against the tx root it already computed and against the
 * alternative design (one flat SHA-256 of the packed body).
 *
 * Blocks: 4,000 one-input two-output transfers (real signatures, 218 B each), and 1,000 unlocks
 * of the half mix's size (858 B as submitted: what the body root hashes; hashing does not depend
 * on the content, so random bytes of that size stand in for them). Each case runs ROUNDS times
 * after a warm-up; the median and best round are reported in µs per block, with the load average. Output:
 * bench/results/block-digest.json.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { BlockKind, bodyRootOf, decodeBlock, encodeBlock, makeBlockHeader, sealOptimistic, txRootOf, txidsOf } from "../src/ledger/block.js";
import { sha256 } from "../src/crypto/sha256.js";
import { deriveTestAccounts } from "../src/ledger/genesis.js";
import { packTransactions } from "../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../src/ledger/transaction.js";

const ROUNDS = 40;
const TRANSFERS = 4_000;
const UNLOCKS = 1_000;
/** The half mix's unlock-to-commit as submitted (docs/ARCHITECTURE.md, Atomix: 858 B). */
const UNLOCK_BYTES = 858;

/** Median and best round, µs: on a shared machine the best round is the steadier figure. */
function micros(run: () => unknown): { median: number; best: number } {
  for (let i = 0; i < 5; i++) run();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    run();
    times.push((performance.now() - start) * 1000);
  }
  times.sort((a, b) => a - b);
  return { median: Math.round(times[Math.floor(ROUNDS / 2)]!), best: Math.round(times[0]!) };
}

const [payer, ...payees] = deriveTestAccounts("block-digest bench", 3);
const transfers = Array.from({ length: TRANSFERS }, (_, i) => encodeTransaction(signTransaction({
  kind: TxKind.Transfer,
  inputs: [{ txid: new Uint8Array(randomBytes(32)), index: i, owner: payer!.publicKey }],
  outputs: [{ owner: payees[0]!.publicKey, amount: 10n }, { owner: payees[1]!.publicKey, amount: 5n }],
}, [payer!]).transaction));
const unlocks = Array.from({ length: UNLOCKS }, () => new Uint8Array(randomBytes(UNLOCK_BYTES)));
const fields = { kind: BlockKind.Optimistic, shard: 0, epoch: 0, height: 1, prevHash: new Uint8Array(32), timestamp: 1, producer: payer!.publicKey } as const;

function caseOf(name: string, transactions: Uint8Array[], decodable: boolean) {
  const packed = packTransactions(transactions);
  const result: Record<string, unknown> = { block: name, bodyBytes: packed.length, bodyRootMicros: micros(() => bodyRootOf(transactions)), flatSha256Micros: micros(() => sha256(packed)) };
  if (decodable) {
    const txids = txidsOf(transactions);
    const header = makeBlockHeader(fields, transactions, txids);
    const bytes = encodeBlock(header, sealOptimistic(header, payer!), transactions);
    result["txRootMicros"] = micros(() => txRootOf(txidsOf(transactions)));
    result["decodeBlockMicros"] = micros(() => decodeBlock(bytes));
  }
  return result;
}

const results = [caseOf(`${TRANSFERS} transfers`, transfers, true), caseOf(`${UNLOCKS} unlocks of ${UNLOCK_BYTES} B`, unlocks, false)];
for (const r of results) console.log(JSON.stringify(r));
writeFileSync("bench/results/block-digest.json", JSON.stringify({ rounds: ROUNDS, statistic: "µs per block (median, best round)", loadAverage: loadavg()[0], results }, null, 2) + "\n");
