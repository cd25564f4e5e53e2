/**
 * Two per-transfer costs of every replica under cross-shard load (issue 13), each beside the
 * reference it stands in for, in one run:
 *   blockDelta   the created/spent lists of a block of 1,000 applied records: A, 1,000 transfers
 *                (what an intra-shard block costs); B, 500 transfers and 500 Atomix records (490
 *                settling locks of one input paying another shard with change back, 10
 *                unlock-to-commit batches of 70 transfers), 48 transfers spending Atomix outputs of
 *                the same block. B/A: what an Atomix record costs the delta against a transfer.
 *   multiproof   an unlock batch's proof of 70 leaves of a tree of 700: A checks the 70 audit paths
 *                one by one (what 70 single unlocks carried); B verifies the multiproof
 *                (`verifyMerkleMultiproof`, each level in one `merkleHashPairs` call).
 * The A/B of session 26's changes against main's code (blockDelta ×0.40–0.44, multiproof ×0.56–0.59)
 * is bench/results/hash-delta-ab.json, made by this file at commit 7015160, which held main's code.
 * Output: bench/results/hash-delta.json (µs per op and per item, B/A per case).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { HASH_BYTES } from "../src/codec/sizes.js";
import { merkleTreeOfPackedLeaves, verifyMerkleProof } from "../src/crypto/merkle.js";
import { merkleMultiproofOfTree, verifyMerkleMultiproof, type MerkleMultiproof } from "../src/crypto/merkle-multiproof.js";
import { TxKind } from "../src/ledger/kinds/interface.js";
import { encodeAtomixRecord, type AtomixKind } from "../src/ledger/kinds/atomix-record.js";
import { encodeAtomixBatchRecord } from "../src/ledger/kinds/atomix-batch-record.js";
import { encodeTransferRecord } from "../src/ledger/kinds/transfer.js";
import { ApplyStatus, UtxoTable, blockDelta } from "../src/ledger/utxo-table.js";
import { SeededRng } from "../src/runtime/seeded-rng.js";

const RESULTS_FOLDER = "bench/results";
const rng = SeededRng.fromSeed("hash-delta bench");
const owners = Array.from({ length: 16 }, () => rng.bytes(32));

// ---- blockDelta -------------------------------------------------------------------------------

const TRANSFERS = 500;
const LOCKS = 490;
const BATCHES = 10;
const BATCH_ITEMS = 70;
const RECORDS = TRANSFERS + LOCKS + BATCHES;

/** Applies `records` to `table`: their statuses, each OK. */
function applied(table: UtxoTable, records: readonly Uint8Array[]): { records: Uint8Array; statuses: Uint8Array } {
  const packed = Buffer.concat(records);
  const { statuses } = table.applyBlock(packed, records.length, false);
  if (statuses.some((status) => status !== ApplyStatus.Ok)) throw new Error("every record of a bench block applies");
  return { records: packed, statuses };
}

/** A: RECORDS transfers of one coin each, paying one owner with change back. */
function transferBlock(): { records: Uint8Array; statuses: Uint8Array } {
  const table = new UtxoTable();
  const records = Array.from({ length: RECORDS }, (_, i) => {
    const coin = { txid: rng.bytes(32), index: 0, owner: owners[i % owners.length]!, amount: 1_000n };
    table.insert(coin);
    return encodeTransferRecord(rng.bytes(32), [coin], [{ owner: owners[(i + 1) % owners.length]!, amount: 300n }, { owner: coin.owner, amount: 680n }]);
  });
  return applied(table, records);
}

/** B: transfers and Atomix records alternating, with the Atomix outputs transfers spend. */
function mixedBlock(): { records: Uint8Array; statuses: Uint8Array } {
  const table = new UtxoTable();
  const coins = Array.from({ length: TRANSFERS + LOCKS }, (_, i) => ({ txid: rng.bytes(32), index: 0, owner: owners[i % owners.length]!, amount: 1_000n }));
  for (const coin of coins) table.insert(coin);
  const atomixOutputs: { txid: Uint8Array; index: number; owner: Uint8Array; amount: bigint }[] = [];
  const atomix: Uint8Array[] = [];
  for (let i = 0; i < LOCKS; i++) {
    const coin = coins[TRANSFERS + i]!;
    const crossTxid = rng.bytes(32);
    atomix.push(encodeAtomixRecord(TxKind.AtomixLock as AtomixKind, crossTxid, crossTxid, [{ ...coin, mine: true }],
      [{ owner: rng.bytes(32), amount: 400n, mine: false }, { owner: coin.owner, amount: 590n, mine: true }]));
    atomixOutputs.push({ txid: crossTxid, index: 1, owner: coin.owner, amount: 590n });
  }
  for (let k = 0; k < BATCHES; k++) {
    const items = Array.from({ length: BATCH_ITEMS }, () => ({ crossTxid: rng.bytes(32), declared: 1_000n, outputs: [{ owner: owners[rng.nextU32() % owners.length]!, amount: 400n, mine: true }] }));
    atomix.splice(k * 49, 0, encodeAtomixBatchRecord(rng.bytes(32), items));
  }
  // Transfers and Atomix records alternate; every tenth transfer (from the 30th) spends an Atomix output made earlier in the block.
  const records: Uint8Array[] = [];
  for (let i = 0; i < TRANSFERS; i++) {
    records.push(atomix[i]!);
    const input = i % 10 === 9 && i >= 20 ? atomixOutputs[i - 20]! : coins[i]!;
    records.push(encodeTransferRecord(rng.bytes(32), [input], [{ owner: owners[i % owners.length]!, amount: 300n }, { owner: input.owner, amount: 280n }]));
  }
  return applied(table, records);
}

// ---- multiproof -------------------------------------------------------------------------------

const TREE_LEAVES = 700;
const PROVEN = 70;

const txids = rng.bytes(TREE_LEAVES * 32);
const tree = merkleTreeOfPackedLeaves(txids, 32);
const indices = [...new Set(Array.from({ length: 4 * PROVEN }, () => rng.nextU32() % TREE_LEAVES))].slice(0, PROVEN).sort((x, y) => x - y);
const proof: MerkleMultiproof = { size: TREE_LEAVES, indices, nodes: merkleMultiproofOfTree(tree, indices) };
const leaves = new Uint8Array(PROVEN * 32);
indices.forEach((index, k) => leaves.set(txids.subarray(index * 32, (index + 1) * 32), k * 32));

// ---- run --------------------------------------------------------------------------------------

const [transfers, mixed] = [transferBlock(), mixedBlock()];
const paths = indices.map((index) => tree.proof(index));
/** The 70 leaves, each by its own audit path. */
const verifyPaths = (root: Uint8Array): boolean => indices.every((index, k) => verifyMerkleProof(txids.subarray(index * 32, (index + 1) * 32), paths[k]!, root));
// Both sides answer alike before any timing.
if (!verifyPaths(tree.root) || !verifyMerkleMultiproof(leaves, 32, proof, tree.root)) throw new Error("a verifier refuses the proof");
const wrongRoot = Uint8Array.from(tree.root, (byte, i) => (i === 0 ? byte ^ 1 : byte));
if (verifyPaths(wrongRoot) || verifyMerkleMultiproof(leaves, 32, proof, wrongRoot)) throw new Error("a verifier accepts another root");

const cases = {
  blockDelta: { per: RECORDS, unit: "record", a: () => blockDelta(transfers.records, transfers.statuses), b: () => blockDelta(mixed.records, mixed.statuses) },
  multiproof: { per: PROVEN, unit: "leaf", a: () => verifyPaths(tree.root), b: () => verifyMerkleMultiproof(leaves, 32, proof, tree.root) },
} as const;
const results: Record<string, { microsPerOp: number; microsPerItem: number; marginPercent: number }> = {};
for (const [name, { per, unit, a, b: bCase }] of Object.entries(cases)) {
  await b.suite(
    `${name}: ${per} ${unit}s per op`,
    b.configure({ cases: { minTime: 1, maxTime: 3 } }),
    b.add(`${name} A`, a),
    b.add(`${name} B`, bCase),
    b.cycle(),
    b.complete((summary) => {
      for (const result of summary.results) {
        results[result.name] = { microsPerOp: result.details.mean * 1e6, microsPerItem: (result.details.mean * 1e6) / per, marginPercent: result.margin };
      }
    }),
  );
}
const ratios = Object.fromEntries(Object.keys(cases).map((name) => [name, results[`${name} B`]!.microsPerOp / results[`${name} A`]!.microsPerOp]));
console.table(Object.entries(results).map(([name, r]) => ({ case: name, "µs/op": +r.microsPerOp.toFixed(2), "µs/item": +r.microsPerItem.toFixed(3), "±%": r.marginPercent })));
console.log(`B/A: ${Object.entries(ratios).map(([name, ratio]) => `${name} ${ratio.toFixed(2)}`).join(", ")}`);
writeFileSync(`${RESULTS_FOLDER}/hash-delta.json`, `${JSON.stringify({
  bench: "hash-delta", date: new Date().toISOString(), node: process.version,
  blockDelta: { records: RECORDS, a: "transfers only", b: { transfers: TRANSFERS, settlingLocks: LOCKS, batches: BATCHES, batchItems: BATCH_ITEMS } },
  multiproof: { treeLeaves: TREE_LEAVES, proven: PROVEN, proofNodes: proof.nodes.length / HASH_BYTES, a: "one audit path per leaf", b: "the multiproof" },
  cases: results, ratioBtoA: ratios,
}, null, 2)}\n`);
