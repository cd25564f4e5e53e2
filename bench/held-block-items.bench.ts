/**
 * A normal member's stateless checks of one held optimistic block and its sample's signature
 * items (issue 16, src/consensus/pob/finalization.ts `statelessOf`, `RecordItems`), A/B in one run,
 * over optimistic blocks of 250 one-input two-output transfers of shard 0 of 2 (a devnet producer
 * seals about that many per interval when saturated), one record in ten sampled:
 *   A: main: `validateStateless` with every signature item (three objects per signature), then
 *      the items grouped by record (a Map and an array per record) for the sampled ones;
 *   B: now: `validateStateless(…, "none")`, then `signatureItemsOf` for the sampled records only.
 * Each case keeps what it built for its last HELD blocks (4,000 transactions: the cpu-role bench's
 * closed-loop window in flight), as a member holds a block's checks until its height is final, so
 * the young generation's scavenges copy them as they would on a member: the timings include that.
 * Output: bench/results/held-block-items-ab.json (benny) with µs per transaction and B/A.
 */
import b from "benny";
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import type { SignatureItem } from "../src/crypto/ed25519.js";
import { TXID_BYTES } from "../src/codec/sizes.js";
import { txidsOf } from "../src/ledger/block.js";
import { genesisTxid, makeTestGenesis } from "../src/ledger/genesis.js";
import { shardOfOwner } from "../src/ledger/shard.js";
import { packTransactions, signatureItemsOf, validateStateless, type StatelessResult } from "../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../src/ledger/transaction.js";

const TRANSFERS = 250;
const SHARDS = 2;
/** Every tenth record, as p = 0.1 samples on average. */
const SAMPLED = (k: number) => k % 10 === 0;
const RESULTS_FOLDER = "bench/results";
/** Blocks a member holds at once: a few optimistic intervals' worth while their height is decided. */
const HELD = 16;

const { genesis, accounts } = makeTestGenesis({ seed: "held block items bench", shardCount: SHARDS, accounts: 3 * TRANSFERS, amount: 1_000_000n, validators: 1 });
const local = accounts.filter((account) => shardOfOwner(account.publicKey, SHARDS) === 0).slice(0, TRANSFERS + 1);
const transactions = local.slice(0, TRANSFERS).map((account, i) => {
  const index = genesis.outputs.findIndex((output) => Buffer.compare(output.owner, account.publicKey) === 0);
  const { transaction } = signTransaction({
    kind: TxKind.Transfer,
    inputs: [{ txid: genesisTxid(genesis), index, owner: account.publicKey }],
    outputs: [{ owner: local[i + 1]!.publicKey, amount: 10n }, { owner: account.publicKey, amount: 5n }],
  }, [account]);
  return encodeTransaction(transaction);
});
const body = packTransactions(transactions);
const txids = txidsOf(transactions);

/** What each case keeps of its last HELD blocks. */
const heldA: unknown[] = [];
const heldB: unknown[] = [];
function hold(ring: unknown[], kept: unknown): void {
  ring.push(kept);
  if (ring.length > HELD) ring.shift();
}

/** A: every item, grouped by record as main's `itemsByRecord` did, the sample's read. */
function itemsAll(): number {
  const checked = validateStateless(body, 0, SHARDS, "submitted", undefined, txids, "all");
  const byTx = new Map<number, SignatureItem[]>();
  checked.signatures.forEach((item, i) => {
    const tx = checked.signatureTx[i]!;
    let list = byTx.get(tx);
    if (list === undefined) byTx.set(tx, (list = []));
    list.push(item);
  });
  const items = Array.from(checked.recordTx, (tx) => byTx.get(tx) ?? []);
  hold(heldA, { checked, items });
  let sampled = 0;
  for (let k = 0; k < items.length; k++) if (SAMPLED(k)) sampled += items[k]!.length;
  return sampled;
}

function sampleItems(checked: StatelessResult): number {
  const built: SignatureItem[][] = [];
  for (let k = 0; k < checked.recordCount; k++) {
    if (!SAMPLED(k)) continue;
    const tx = checked.recordTx[k]!;
    built[k] = signatureItemsOf(transactions[tx]!, checked.txids.subarray(tx * TXID_BYTES, (tx + 1) * TXID_BYTES));
  }
  hold(heldB, { checked, built });
  return built.reduce((n, items) => n + items.length, 0);
}

/** B: no items in the checks, the sample's built from its transactions. */
function itemsSampled(): number {
  return sampleItems(validateStateless(body, 0, SHARDS, "submitted", undefined, txids, "none"));
}

if (itemsAll() !== Math.ceil(TRANSFERS / 10) || itemsSampled() !== Math.ceil(TRANSFERS / 10)) throw new Error("every transfer must pass, one signature each");

const rows: { case: string; microsPerTx: number; marginPercent: number }[] = [];
await b.suite(
  `A held block of ${TRANSFERS} transfers, shard 0 of ${SHARDS}, one record in ten sampled`,
  b.configure({ cases: { minSamples: 30, maxTime: 4 } }),
  b.add("A: every signature item, grouped by record", () => itemsAll()),
  b.add("B: no items, the sample's built", () => itemsSampled()),
  b.cycle(),
  b.complete((summary) => {
    for (const result of summary.results) rows.push({ case: result.name, microsPerTx: Math.round((result.details.mean * 1e7) / TRANSFERS) / 10, marginPercent: result.margin });
    console.table(rows);
  }),
  b.save({ file: "held-block-items", folder: RESULTS_FOLDER, format: "json" }),
);
writeFileSync(
  `${RESULTS_FOLDER}/held-block-items-ab.json`,
  JSON.stringify({ transfers: TRANSFERS, loadAverage: loadavg()[0], held: HELD, statistic: "µs per transaction (mean)", rows, ratioBtoA: Math.round((rows[1]!.microsPerTx / rows[0]!.microsPerTx) * 100) / 100 }, null, 2) + "\n",
);
