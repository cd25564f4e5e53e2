/**
 * The worker's batch scan (issue 11: the hot path must not slow down when transactions go through
 * the kind registry and the codec toolkit): `validateStateless` over batches of 512 pre-signed
 * 1-input 2-output transfers (the pipeline's batch size), without signature verification, which
 * is the ed25519 kernel's cost and unchanged. Two cases: one shard (no shard check) and shard 0 of
 * two (every owner hashed for its shard). Output: bench/results/stateless.json (benny) and
 * bench/results/stateless-rates.json (transactions per second).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { genesisTxid, makeTestGenesis } from "../src/ledger/genesis.js";
import { shardOfOwner } from "../src/ledger/shard.js";
import { packTransactions, validateStateless } from "../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../src/ledger/transaction.js";

const RESULTS_FOLDER = "bench/results";
/** The pipeline's batch (src/node/pipeline.ts BATCH_TXS). */
const BATCH_TXS = 512;
const BATCHES = 8;

/** Batches of transfers that all live in shard 0 of `shardCount`. */
function batches(shardCount: number): Uint8Array[] {
  const { genesis, accounts } = makeTestGenesis({ seed: `stateless bench ${shardCount}`, shardCount, accounts: 4 * BATCH_TXS * BATCHES, amount: 1_000_000n, validators: 1 });
  const g = genesisTxid(genesis);
  const local = accounts.filter((account) => shardOfOwner(account.publicKey, shardCount) === 0).slice(0, BATCH_TXS * BATCHES + 1);
  const transfers = local.slice(0, BATCH_TXS * BATCHES).map((account, i) => {
    const index = genesis.outputs.findIndex((output) => Buffer.compare(output.owner, account.publicKey) === 0);
    const to = local[i + 1]!;
    const { transaction } = signTransaction({
      kind: TxKind.Transfer,
      inputs: [{ txid: g, index, owner: account.publicKey }],
      outputs: [{ owner: to.publicKey, amount: 400_000n }, { owner: account.publicKey, amount: 600_000n }],
    }, [account]);
    return encodeTransaction(transaction);
  });
  return Array.from({ length: BATCHES }, (_, k) => packTransactions(transfers.slice(k * BATCH_TXS, (k + 1) * BATCH_TXS)));
}

const cases = [1, 2].map((shardCount) => ({ shardCount, packed: batches(shardCount) }));
for (const { shardCount, packed } of cases) {
  for (const batch of packed) {
    const result = validateStateless(batch, 0, shardCount);
    if (result.recordCount !== BATCH_TXS) throw new Error(`shardCount ${shardCount}: ${result.recordCount} of ${BATCH_TXS} passed`);
  }
}

const rates: { name: string; txPerSecond: number; marginPercent: number }[] = [];
await b.suite(
  `validateStateless, ${BATCHES} batches × ${BATCH_TXS} transfers per op`,
  b.configure({ cases: { minSamples: 20, maxTime: 4 } }),
  ...cases.map(({ shardCount, packed }) => b.add(`shard 0 of ${shardCount}`, () => {
    for (const batch of packed) validateStateless(batch, 0, shardCount);
  })),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rates.push({ name: result.name, txPerSecond: Math.round((BATCHES * BATCH_TXS) / result.details.mean), marginPercent: result.margin });
    console.table(rates.map((rate) => ({ case: rate.name, "k tx/s": Math.round(rate.txPerSecond / 1000), "±%": rate.marginPercent })));
  }),
  b.save({ file: "stateless", folder: RESULTS_FOLDER, format: "json" }),
);
writeFileSync(`${RESULTS_FOLDER}/stateless-rates.json`, JSON.stringify({ batchTxs: BATCH_TXS, rates }, null, 2) + "\n");
