/**
 * Two per-transfer costs of every replica under cross-shard load (issue 13), A/B in one run:
 *   blockDelta   the created/spent lists of a block of 1,000 applied records, 500 transfers and
 *                500 Atomix records (490 settling locks of one input paying another shard with
 *                change back, 10 unlock-to-commit batches of 70 transfers), 48 transfers spending
 *                Atomix outputs of the same block: A (main) keys the Atomix entries by latin1
 *                strings with a 76-byte copy each; B (`blockDelta`) by ByteKeyMap views.
 *   multiproof   verifying an unlock batch's multiproof, 70 leaves of a tree of 700: A (main)
 *                hashes each node in its own kernel call; B (`verifyMerkleMultiproof`) each
 *                level's nodes in one (`merkleHashPairs`).
 * A is main's code, copied here as it was. Output: bench/results/hash-delta-ab.json (µs per op,
 * B/A per case).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { BinaryWriter } from "../src/codec/binary.js";
import { HASH_BYTES, OUTPOINT_BYTES, TXID_BYTES } from "../src/codec/sizes.js";
import { MERKLE_NODE_PREFIX, merkleLeafHashesOfPackedLeaves, merkleTreeOfPackedLeaves } from "../src/crypto/merkle.js";
import { merkleMultiproofOfTree, verifyMerkleMultiproof, type MerkleMultiproof } from "../src/crypto/merkle-multiproof.js";
import { defaultSha256Wasm } from "../src/crypto/sha256.js";
import { ByteKeyMap } from "../src/ledger/byte-key-map.js";
import { TxKind } from "../src/ledger/kinds/interface.js";
import { encodeAtomixRecord, type AtomixKind } from "../src/ledger/kinds/atomix-record.js";
import { encodeAtomixBatchRecord } from "../src/ledger/kinds/atomix-batch-record.js";
import { encodeTransferRecord } from "../src/ledger/kinds/transfer.js";
import { RecordCursor } from "../src/ledger/records.js";
import { ApplyStatus, ENTRY_BYTES, UtxoTable, blockDelta } from "../src/ledger/utxo-table.js";
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

/** The block, its statuses once applied (every record OK), and the Atomix outputs transfers spend. */
function deltaBlock(): { records: Uint8Array; statuses: Uint8Array } {
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
  const packed = Buffer.concat(records);
  const { statuses } = table.applyBlock(packed, RECORDS, false);
  if (statuses.some((status) => status !== ApplyStatus.Ok)) throw new Error("every record of the bench block applies");
  return { records: packed, statuses };
}

/** Main's blockDelta (session 25), as it was. */
function blockDeltaMain(records: Uint8Array, statuses: Uint8Array): { created: Uint8Array; spent: Uint8Array } {
  const CANCEL_STRIDE = 0x10000;
  const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const createdOffsets: number[] = [];
  const createdTxs = new ByteKeyMap<number>();
  const cancelled = new Set<number>();
  const createdElsewhere = new Map<string, Uint8Array>();
  const spentKeys: Uint8Array[] = [];
  let createdCount = 0;
  const lastApplied = statuses.lastIndexOf(ApplyStatus.Ok);
  if (lastApplied < 0) return { created: new Uint8Array(0), spent: new Uint8Array(0) };
  const cursor = new RecordCursor(records);
  for (let t = 0; t <= lastApplied; t++) {
    if (t > 0) cursor.next();
    if (statuses[t] !== ApplyStatus.Ok) continue;
    for (let i = 0; i < cursor.inputCount; i++) {
      const outpoint = cursor.outpoint(i);
      if (createdElsewhere.size > 0 && createdElsewhere.delete(latin1(outpoint))) continue;
      const place = createdTxs.size === 0 ? undefined : createdTxs.get(outpoint.subarray(0, TXID_BYTES));
      const creator = place === undefined ? undefined : createdOffsets[place]!;
      if (creator === undefined) spentKeys.push(outpoint);
      else cancelled.add(creator * CANCEL_STRIDE + cursor.outpointIndex(i));
    }
    if (cursor.createsAtOwnTxid) {
      const place = createdTxs.get(cursor.txid);
      if (place === undefined) {
        createdTxs.set(cursor.txid, createdOffsets.length);
        createdOffsets.push(cursor.offset);
      } else createdOffsets[place] = cursor.offset;
      createdCount += cursor.outputCount;
      continue;
    }
    for (let j = 0; j < cursor.outputCount; j++) {
      const key = cursor.createdKey(j);
      const entry = new Uint8Array(ENTRY_BYTES);
      entry.set(key);
      entry.set(cursor.output(j), OUTPOINT_BYTES);
      createdElsewhere.set(latin1(key), entry);
    }
  }
  const spent = new Uint8Array(spentKeys.length * OUTPOINT_BYTES);
  spentKeys.forEach((key, k) => spent.set(key, k * OUTPOINT_BYTES));
  const created = new BinaryWriter(new Uint8Array((createdCount - cancelled.size + createdElsewhere.size) * ENTRY_BYTES));
  for (const recordAt of createdOffsets) {
    cursor.seek(recordAt);
    for (let j = 0; j < cursor.outputCount; j++) {
      if (cancelled.size === 0 || !cancelled.has(recordAt * CANCEL_STRIDE + j)) created.bytes(cursor.txid).u32(j).bytes(cursor.output(j));
    }
  }
  for (const entry of createdElsewhere.values()) created.bytes(entry);
  return { created: created.finish(), spent };
}

// ---- multiproof -------------------------------------------------------------------------------

const TREE_LEAVES = 700;
const PROVEN = 70;

/** Main's canonical walk and root (session 25), as they were: one kernel call per node hash. */
function walkMain(size: number, indices: readonly number[], steps?: {
  pair(from: number, to: number): void; promote(from: number, to: number): void; prove(level: number, from: number, sibling: number, to: number, node: number): void;
}): number {
  const positions = indices.slice();
  let known = positions.length;
  let nodes = 0;
  for (let level = 0, width = size; width > 1; level++, width = Math.ceil(width / 2)) {
    let to = 0;
    for (let from = 0; from < known; from++, to++) {
      const position = positions[from]!;
      const sibling = position % 2 === 0 ? position + 1 : position - 1;
      if (sibling >= width) steps?.promote(from, to);
      else if (from + 1 < known && positions[from + 1] === sibling) {
        steps?.pair(from, to);
        from++;
      } else {
        steps?.prove(level, from, sibling, to, nodes);
        nodes++;
      }
      positions[to] = Math.floor(position / 2);
    }
    known = to;
  }
  return nodes;
}

function rootMain(size: number, indices: readonly number[], known: Uint8Array, nodes: Uint8Array): Uint8Array {
  const sha = defaultSha256Wasm();
  const pair = new Uint8Array(2 * HASH_BYTES);
  const hashAt = (hashes: Uint8Array, i: number) => hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  const parent = (to: number, left: Uint8Array, right: Uint8Array) => {
    pair.set(left);
    pair.set(right, HASH_BYTES);
    sha.digestToOut(pair, MERKLE_NODE_PREFIX);
    known.set(sha.out, to * HASH_BYTES);
  };
  walkMain(size, indices, {
    pair: (from, to) => parent(to, hashAt(known, from), hashAt(known, from + 1)),
    promote: (from, to) => known.copyWithin(to * HASH_BYTES, from * HASH_BYTES, (from + 1) * HASH_BYTES),
    prove: (_level, from, sibling, to, node) =>
      sibling % 2 === 0 ? parent(to, hashAt(nodes, node), hashAt(known, from)) : parent(to, hashAt(known, from), hashAt(nodes, node)),
  });
  return known.slice(0, HASH_BYTES);
}

/** Main's verifyMerkleMultiproof on a proof whose arguments are well formed (the argument checks, the same in A and B, left out). */
function verifyMain(leaves: Uint8Array, proof: MerkleMultiproof, root: Uint8Array): boolean {
  const leafHashes = merkleLeafHashesOfPackedLeaves(leaves, 32);
  if (proof.nodes.length !== walkMain(proof.size, proof.indices) * HASH_BYTES) return false;
  const computed = rootMain(proof.size, proof.indices, leafHashes, proof.nodes);
  for (let i = 0; i < HASH_BYTES; i++) if (computed[i] !== root[i]) return false;
  return true;
}

const txids = rng.bytes(TREE_LEAVES * 32);
const tree = merkleTreeOfPackedLeaves(txids, 32);
const indices = [...new Set(Array.from({ length: 4 * PROVEN }, () => rng.nextU32() % TREE_LEAVES))].slice(0, PROVEN).sort((x, y) => x - y);
const proof: MerkleMultiproof = { size: TREE_LEAVES, indices, nodes: merkleMultiproofOfTree(tree, indices) };
const leaves = new Uint8Array(PROVEN * 32);
indices.forEach((index, k) => leaves.set(txids.subarray(index * 32, (index + 1) * 32), k * 32));

// ---- run --------------------------------------------------------------------------------------

const block = deltaBlock();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const [deltaA, deltaB] = [blockDeltaMain(block.records, block.statuses), blockDelta(block.records, block.statuses)];
// Same answers before any timing.
if (hex(deltaA.created) !== hex(deltaB.created) || hex(deltaA.spent) !== hex(deltaB.spent)) throw new Error("the block deltas disagree");
if (!verifyMain(leaves, proof, tree.root) || !verifyMerkleMultiproof(leaves, 32, proof, tree.root)) throw new Error("a verifier refuses the proof");
const wrongRoot = Uint8Array.from(tree.root, (byte, i) => (i === 0 ? byte ^ 1 : byte));
if (verifyMain(leaves, proof, wrongRoot) || verifyMerkleMultiproof(leaves, 32, proof, wrongRoot)) throw new Error("a verifier accepts another root");

const cases = {
  blockDelta: { per: RECORDS, unit: "record", a: () => blockDeltaMain(block.records, block.statuses), b: () => blockDelta(block.records, block.statuses) },
  multiproof: { per: PROVEN, unit: "leaf", a: () => verifyMain(leaves, proof, tree.root), b: () => verifyMerkleMultiproof(leaves, 32, proof, tree.root) },
} as const;
const results: Record<string, { microsPerOp: number; microsPerItem: number; marginPercent: number }> = {};
for (const [name, { per, unit, a, b: bCase }] of Object.entries(cases)) {
  await b.suite(
    `${name}: ${per} ${unit}s per op`,
    b.configure({ cases: { minTime: 1, maxTime: 3 } }),
    b.add(`${name} A (main)`, a),
    b.add(`${name} B`, bCase),
    b.cycle(),
    b.complete((summary) => {
      for (const result of summary.results) {
        results[result.name] = { microsPerOp: result.details.mean * 1e6, microsPerItem: (result.details.mean * 1e6) / per, marginPercent: result.margin };
      }
    }),
  );
}
const ratios = Object.fromEntries(Object.keys(cases).map((name) => [name, results[`${name} B`]!.microsPerOp / results[`${name} A (main)`]!.microsPerOp]));
console.table(Object.entries(results).map(([name, r]) => ({ case: name, "µs/op": +r.microsPerOp.toFixed(2), "µs/item": +r.microsPerItem.toFixed(3), "±%": r.marginPercent })));
console.log(`B/A: ${Object.entries(ratios).map(([name, ratio]) => `${name} ${ratio.toFixed(2)}`).join(", ")}`);
writeFileSync(`${RESULTS_FOLDER}/hash-delta-ab.json`, `${JSON.stringify({
  bench: "hash-delta", date: new Date().toISOString(), node: process.version,
  blockDelta: { records: RECORDS, transfers: TRANSFERS, settlingLocks: LOCKS, batches: BATCHES, batchItems: BATCH_ITEMS },
  multiproof: { treeLeaves: TREE_LEAVES, proven: PROVEN, proofNodes: proof.nodes.length / HASH_BYTES },
  cases: results, ratioBtoA: ratios,
}, null, 2)}\n`);
