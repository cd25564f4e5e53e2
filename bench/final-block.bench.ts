/**
 * A PoB final block's header and encoding on a 4,000-transfer height, before and after the
 * certified commitment carried the body root (issue 13, src/consensus/pob/finalization.ts), A/B
 * in one run:
 *   before: the commit computes the header with `makeBlockHeader(fields, txs, txids)`, hashing
 *           every transaction into the body root;
 *   after:  `execute` computes the body root once for the commitment parts, and the commit
 *           passes it to `makeBlockHeader(fields, txs, txids, bodyRoot)`, so it is not hashed again.
 * The cases: the commit before, the commit after, and the root `execute` now computes: the
 * height's total is "after" + "root in execute" against "before". Transfers are real (one input,
 * two outputs, 218 B, signed). Output: bench/results/final-block.json (benny) with the load average.
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { BlockKind, blockHash, bodyRootOf, encodeBlock, makeBlockHeader, txidsOf } from "../src/ledger/block.js";
import { deriveTestAccounts } from "../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../src/ledger/transaction.js";

const TRANSFERS = 4_000;
const RESULTS_FOLDER = "bench/results";

const [payer, ...payees] = deriveTestAccounts("final-block bench", 3);
const transactions = Array.from({ length: TRANSFERS }, (_, i) => encodeTransaction(signTransaction({
  kind: TxKind.Transfer,
  inputs: [{ txid: new Uint8Array(randomBytes(32)), index: i, owner: payer!.publicKey }],
  outputs: [{ owner: payees[0]!.publicKey, amount: 10n }, { owner: payees[1]!.publicKey, amount: 5n }],
}, [payer!]).transaction));
const txids = txidsOf(transactions);
const certifiedBodyRoot = bodyRootOf(transactions);
const fields = { kind: BlockKind.Final, shard: 0, epoch: 0, height: 1, prevHash: new Uint8Array(32), timestamp: 1, producer: payer!.publicKey } as const;
const seal = { kind: "collective", participants: Uint8Array.of(0x0f), signature: new Uint8Array(64) } as const;

function commit(bodyRoot?: Uint8Array): Uint8Array {
  const header = makeBlockHeader(fields, transactions, txids, bodyRoot);
  blockHash(header);
  return encodeBlock(header, seal, transactions);
}
if (Buffer.compare(commit(), commit(certifiedBodyRoot)) !== 0) throw new Error("the reused root gives another block");

const rows: { case: string; microsPerHeight: number; marginPercent: number }[] = [];
await b.suite(
  `PoB final block of ${TRANSFERS} transfers`,
  b.configure({ cases: { minSamples: 30, maxTime: 4 } }),
  b.add("before: commit, body root hashed again", () => commit()),
  b.add("after: commit, certified body root reused", () => commit(certifiedBodyRoot)),
  b.add("after: body root in execute (the commitment parts)", () => bodyRootOf(transactions)),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rows.push({ case: result.name, microsPerHeight: Math.round(result.details.mean * 1e6), marginPercent: result.margin });
    console.table(rows);
  }),
  b.save({ file: "final-block", folder: RESULTS_FOLDER, format: "json" }),
);
writeFileSync(`${RESULTS_FOLDER}/final-block-ab.json`, JSON.stringify({ transfers: TRANSFERS, loadAverage: loadavg()[0], statistic: "µs per height (mean)", rows }, null, 2) + "\n");
