/**
 * A PoB final block's header and encoding on a 4,000-transfer height, A/B in one run:
 *   issue 13 before: the commit computes the header with `makeBlockHeader(fields, txs, txids)`,
 *           hashing every transaction into the body root and every txid into the tx root;
 *   before: `execute` computes both roots for the commitment parts (the body root and the root
 *           of the included txids); the commit reused the body root but hashed the txids' root again;
 *   after:  the commit passes both certified roots (`makeBlockHeader(fields, txs, undefined,
 *           roots)`): it hashes nothing.
 * and the body root `execute` computes for the commitment parts:
 *   before: `bodyRootOf` the included transactions, every leaf hashed again;
 *   after:  the leaf hashes each optimistic block kept when its own body root was checked
 *           (DecodedBlock.leafHashes), gathered 32 bytes per transaction in final order (here two
 *           blocks' halves, interleaved), then only the inner nodes;
 * with what keeping them costs the block's decoding (the body-root check): `merkleRoot` against
 * `merkleRootAndLeafHashes`.
 * Transfers are real (one input, two outputs, 218 B, signed). Output: bench/results/final-block.json
 * (benny) with the load average.
 */
import b from "benny";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { BlockKind, blockHash, bodyRootOf, encodeBlock, makeBlockHeader, txRootOf, txidsOf, type BlockRoots } from "../src/ledger/block.js";
import { HASH_BYTES } from "../src/codec/sizes.js";
import { merkleRoot, merkleRootAndLeafHashes, merkleRootOfLeafHashes } from "../src/crypto/merkle.js";
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
const certifiedRoots: BlockRoots = { txRoot: txRootOf(txids), bodyRoot: bodyRootOf(transactions) };
const fields = { kind: BlockKind.Final, shard: 0, epoch: 0, height: 1, prevHash: new Uint8Array(32), timestamp: 1, producer: payer!.publicKey } as const;
const seal = { kind: "collective", participants: Uint8Array.of(0x0f), signature: new Uint8Array(64) } as const;

// Two optimistic blocks of half the transactions each, as decoding kept their leaf hashes; the final order interleaves them.
const half = TRANSFERS / 2;
const kept = [merkleRootAndLeafHashes(transactions.slice(0, half)).leafHashes, merkleRootAndLeafHashes(transactions.slice(half)).leafHashes];
const finalOrder = Array.from({ length: TRANSFERS }, (_, i) => ({ block: i % 2, index: i >> 1 }));
const finalTransactions = finalOrder.map(({ block, index }) => transactions[block * half + index]!);

function bodyRootFromKept(): Uint8Array {
  const leafHashes = new Uint8Array(TRANSFERS * HASH_BYTES);
  finalOrder.forEach(({ block, index }, i) => leafHashes.set(kept[block]!.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES), i * HASH_BYTES));
  return merkleRootOfLeafHashes(leafHashes);
}
if (Buffer.compare(bodyRootFromKept(), bodyRootOf(finalTransactions)) !== 0) throw new Error("the kept leaf hashes give another body root");

function commit(roots?: BlockRoots): Uint8Array {
  const header = roots === undefined ? makeBlockHeader(fields, transactions, txids) : makeBlockHeader(fields, transactions, undefined, roots);
  blockHash(header);
  return encodeBlock(header, seal, transactions);
}
if (Buffer.compare(commit(), commit(certifiedRoots)) !== 0) throw new Error("the reused roots give another block");

const rows: { case: string; microsPerHeight: number; marginPercent: number }[] = [];
await b.suite(
  `PoB final block of ${TRANSFERS} transfers`,
  b.configure({ cases: { minSamples: 30, maxTime: 4 } }),
  b.add("issue 13 before: commit, both roots hashed", () => commit()),
  b.add("before: commit, the tx root hashed again", () => commit({ txRoot: txRootOf(txids), bodyRoot: certifiedRoots.bodyRoot })),
  b.add("after: commit, both certified roots reused", () => commit(certifiedRoots)),
  b.add("before: execute's body root, leaves hashed again", () => bodyRootOf(finalTransactions)),
  b.add("after: execute's body root from the kept leaf hashes", () => bodyRootFromKept()),
  b.add("before: a block's body-root check (merkleRoot)", () => merkleRoot(transactions)),
  b.add("after: a block's body-root check keeping the leaf hashes", () => merkleRootAndLeafHashes(transactions)),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rows.push({ case: result.name, microsPerHeight: Math.round(result.details.mean * 1e6), marginPercent: result.margin });
    console.table(rows);
  }),
  b.save({ file: "final-block", folder: RESULTS_FOLDER, format: "json" }),
);
writeFileSync(`${RESULTS_FOLDER}/final-block-ab.json`, JSON.stringify({ transfers: TRANSFERS, loadAverage: loadavg()[0], statistic: "µs per height (mean)", rows }, null, 2) + "\n");
