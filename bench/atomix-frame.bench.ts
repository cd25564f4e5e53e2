/**
 * The ATOMIX stream frame of a final height (issue 13, src/api/stream-codec.ts), A/B in one run on
 * a height of 1,000 included transactions, 500 of them cross-shard transfers its locks settled
 * (the load's half mix), committee of 4:
 *   cut   what a validator streaming the frame does at commit: A (main) cuts each decision's whole
 *         proof (`FinalHeightProver.acceptance`: head, txid, verdict, the ~0.4 KB certified part,
 *         path) and frames them; B frames the height's certificate once and each decision's path
 *         (`acceptancePath`). The prover is warm (its Merkle tree built once, as both do per height).
 *   read  what the load driver does with the frame: A decodes it (a copy of each proof), reads each
 *         verdict (`proofAccepts`) and assembles the output shard's batches from the proofs
 *         (`unlockBatchesFor`: each proof split and compared with the first); B decodes the frame
 *         (views), reads each verdict from its code and assembles the batches from the certificate
 *         and the paths (`unlockBatchesOfHeight`).
 * Both sides give the same batches, byte for byte (checked before timing).
 * Output: bench/results/atomix-frame-ab.json (µs per decision, B/A per case, frame bytes).
 */
import b from "benny";
import { writeFileSync } from "node:fs";
import { decodeAtomix, encodeAtomix, FRAME_ATOMIX } from "../src/api/stream-codec.js";
import { signCrossShardTransfer, unlockBatchesFor, unlockBatchesOfHeight, type SettledPath, type SettledTransfer } from "../src/atomix/client.js";
import { encodeAtomixPhase } from "../src/atomix/phases.js";
import { FinalHeightProver, MAX_DECISION_PROOF_BYTES, proofAccepts } from "../src/atomix/proof.js";
import { BinaryReader, BinaryWriter, singleCode } from "../src/codec/binary.js";
import { TXID_BYTES } from "../src/codec/sizes.js";
import { merkleRootOfPackedLeaves } from "../src/crypto/merkle.js";
import { deriveTestAccounts } from "../src/ledger/genesis.js";
import { TxKind } from "../src/ledger/kinds/interface.js";
import { shardOfOwner } from "../src/ledger/shard.js";
import { SeededRng } from "../src/runtime/seeded-rng.js";

const DECISIONS = 500;
const INCLUDED = 1000;
const COMMITTEE = 4;
const SHARDS = 2;
const RESULTS_FOLDER = "bench/results";
const rng = SeededRng.fromSeed("atomix frame bench");
const accounts = deriveTestAccounts("atomix frame bench", 64);
const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
const [payers, payees] = [inShard(0), inShard(1)];
const COMMITTED = encodeAtomixPhase("committed");

/** The load's cross-shard transfer: one input in shard 0, paying shard 1 with change back; settled by its lock. */
const transfers = Array.from({ length: DECISIONS }, (_, i) => {
  const payer = payers[i % payers.length]!;
  return signCrossShardTransfer({
    kind: TxKind.AtomixLock,
    inputs: [{ txid: rng.bytes(32), index: 0, owner: payer.publicKey, amount: 1_000n }],
    outputs: [{ owner: payees[i % payees.length]!.publicKey, amount: 400n }, { owner: payer.publicKey, amount: 590n }],
  }, [payer]);
});
/** Shard 0's height: every other included transaction one of the transfers. */
const included = Buffer.concat(transfers.flatMap((x) => [rng.bytes(32), x.txid]));
const positionOf = (k: number) => 2 * k + 1;
/** Certificates are cut, not verified, on both sides: the signatures need only their sizes. */
const signature = () => ({ mask: Uint8Array.of(0b1111), signature: rng.bytes(64) });
const prover = new FinalHeightProver({
  epoch: 0, shard: 0, batch: 0, committeeSize: COMMITTEE, included, excluded: [],
  record: { height: 77, view: 0, proposal: rng.bytes(400), prepareCert: signature(), commitCert: signature() },
  commitment: {
    previous: rng.bytes(32), coreHash: rng.bytes(32), randomness: rng.bytes(32), includedRoot: merkleRootOfPackedLeaves(included, TXID_BYTES), includedCount: INCLUDED,
    bodyRoot: rng.bytes(32), excludedRoot: rng.bytes(32), excludedCount: 0, supply: 1n, count: 1n, accountsHash: rng.bytes(32), msbHeaderHash: new Uint8Array(32), previousBlock: rng.bytes(32),
  },
});
const HEIGHT = 77;

/** Main's frame: u8 0x04 ‖ u64 height ‖ u32 n ‖ n × (txid ‖ u8 phase ‖ u16 |proof| ‖ proof), a whole proof per lock decision. */
function cutA(): Uint8Array {
  const decisions = transfers.map((x, k) => ({ txid: x.txid, phase: COMMITTED, proof: prover.acceptance(positionOf(k)) }));
  const size = 1 + 8 + 4 + decisions.reduce((n, d) => n + TXID_BYTES + 1 + 2 + d.proof.length, 0);
  const writer = BinaryWriter.ofSize(size).u8(FRAME_ATOMIX).u64(HEIGHT).u32(decisions.length);
  for (const { txid, phase, proof } of decisions) writer.bytes(txid).u8(phase).lengthPrefixed("u16", proof);
  return writer.finish();
}

function cutB(): Uint8Array {
  return encodeAtomix({ height: HEIGHT, certificate: prover.certificate(), decisions: transfers.map((x, k) => ({ txid: x.txid, phase: COMMITTED, code: "", path: prover.acceptancePath(positionOf(k)) })) });
}

/** Main's decoder (a copy of each txid and proof), each verdict read, the batches from the proofs. */
function readA(frame: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(frame, singleCode("STREAM_BAD_FRAME"));
  reader.u8("tag");
  reader.u53("height");
  const decisions = Array.from({ length: reader.u32("count") }, () => ({ txid: reader.bytes(TXID_BYTES).slice(), phase: reader.u8(), proof: reader.lengthPrefixed("u16", MAX_DECISION_PROOF_BYTES).slice() }));
  reader.expectEnd();
  const settled: SettledTransfer[] = [];
  decisions.forEach(({ proof }, k) => {
    if (!proofAccepts(proof)) throw new Error("a refusal");
    settled.push({ unsigned: transfers[k]!.unsigned, proof });
  });
  return unlockBatchesFor(settled).map((batch) => batch.bytes);
}

function readB(frame: Uint8Array): Uint8Array[] {
  const { certificate, decisions } = decodeAtomix(frame);
  const settled: SettledPath[] = [];
  decisions.forEach(({ code, path }, k) => {
    if (code !== "") throw new Error("a refusal");
    settled.push({ unsigned: transfers[k]!.unsigned, path });
  });
  return unlockBatchesOfHeight(certificate, settled).map((batch) => batch.bytes);
}

const frameA = cutA();
const frameB = cutB();
// Same batches, byte for byte, before any timing.
const hex = (list: Uint8Array[]) => list.map((bytes) => Buffer.from(bytes).toString("hex")).join("|");
if (hex(readA(frameA)) !== hex(readB(frameB))) throw new Error("the batches differ");

const cases = { cut: [cutA, cutB], read: [() => readA(frameA), () => readB(frameB)] } as const;
const results: Record<string, { microsPerDecision: number; marginPercent: number }> = {};
for (const [name, [a, bCase]] of Object.entries(cases)) {
  await b.suite(
    `atomix frame ${name}: ${DECISIONS} lock decisions per op`,
    b.configure({ cases: { minTime: 1, maxTime: 3 } }),
    b.add(`${name} A (main)`, a),
    b.add(`${name} B`, bCase),
    b.cycle(),
    b.complete((summary) => {
      for (const result of summary.results) results[result.name] = { microsPerDecision: (result.details.mean * 1e6) / DECISIONS, marginPercent: result.margin };
    }),
  );
}
const ratios = Object.fromEntries(Object.keys(cases).map((name) => [name, results[`${name} B`]!.microsPerDecision / results[`${name} A (main)`]!.microsPerDecision]));
const frameBytes = { A: frameA.length, B: frameB.length, ratioBtoA: frameB.length / frameA.length };
console.table(Object.entries(results).map(([name, r]) => ({ case: name, "µs/decision": +r.microsPerDecision.toFixed(3), "±%": r.marginPercent })));
console.log(`B/A: ${Object.entries(ratios).map(([name, ratio]) => `${name} ${ratio.toFixed(2)}`).join(", ")}; frame ${frameA.length} → ${frameB.length} bytes`);
writeFileSync(`${RESULTS_FOLDER}/atomix-frame-ab.json`, `${JSON.stringify({ bench: "atomix-frame", date: new Date().toISOString(), node: process.version, decisions: DECISIONS, included: INCLUDED, committee: COMMITTEE, cases: results, ratioBtoA: ratios, frameBytes }, null, 2)}\n`);
