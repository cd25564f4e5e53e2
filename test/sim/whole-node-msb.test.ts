// Micro State Blocks under a byzantine leader (src/node/msb.ts, white paper §8 Algorithm 6): whole
// PoB validators of one shard of 5 with an epoch length, under transfers. The member that leads
// view 0 of the epoch's last height lies about the MSB: its execution binds a header hash with one
// bit flipped. Every other member executes the proposal before co-signing and reaches another
// commitment, so the lie is never co-signed: the last height is decided in a later view by an
// honest leader, its certificate binds the MSB header every honest replica stores (identical, its
// count and supply the certified set's, its body the stored latest one), and the liar, whose own
// commitment differs from the decided one, stops with POB_STATE_DIVERGED rather than store it.
// Then the proofs an honest replica serves (src/node/msb-proof.ts: MSB header, UTXO, transaction)
// verify offline against the committee keys or the MSB header hash, and every flipped byte fails with a code.
// CI runs MSB_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { committeesOfContext, decodeFinalHeightCertificate } from "../../src/atomix/proof.js";
import { UTXO_ENTRY } from "../../src/codec/sizes.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import type { EpochContext } from "../../src/epoch/interface.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { unpackEntry } from "../../src/ledger/utxo-table.js";
import { MsbProver, encodeMsbHeaderProof, verifyIosProof } from "../../src/node/msb-proof.js";
import type { ShardState } from "../../src/node/shard-state.js";
import type { PobValidatorOptions } from "../../src/consensus/pob/finalization.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { decodeMsbHeader, msbHeaderHashOfEncoding } from "../../src/msb/header.js";
import { snapshotOfOrderedEntries } from "../../src/msb/snapshot.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";
import { codeOf } from "../support/errors.js";
import { getJson, serveApi, stubBackend } from "../api/helpers.js";
import { proofCommand } from "../../src/cli/proof.js";

const L = 12;
const MSB_SEEDS = 1;
const driverOf = (node: { driver: unknown }) => node.driver as PobShardConsensus;
const verifier = new Ed25519Verifier();

async function run(seed: string) {
  const { cluster, accounts, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-msb", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 12, amount: 1_000_000n, epochLength: L,
  });
  const ids = cluster.members(0);
  const load = payInRounds(cluster, accounts, positions, { rounds: 4, amount: 1_000_000n, fee: 10n });
  await cluster.advance(50);
  // The BFT height of chain height L in epoch 0 is L: its view-0 leader.
  const liar = ids.find((id) => {
    const bft = driverOf(cluster.node(id)!).node.bft;
    return bft !== undefined && bft.leaderOf(L, 0) === bft.selfIndex;
  });
  assert.ok(liar !== undefined, `${seed}: some member leads view 0 of height ${L}`);
  // A byzantine replica: its execution binds a wrong MSB header hash (what it proposes and would co-sign).
  const validator = driverOf(cluster.node(liar)!).node.validator as unknown as { options: PobValidatorOptions };
  const honestMsb = validator.options.msbAt!;
  let lies = 0;
  validator.options = {
    ...validator.options,
    msbAt: (height, decisions) => {
      const hash = honestMsb(height, decisions);
      if (hash === undefined) return undefined;
      lies++;
      const lie = Uint8Array.from(hash);
      lie[31]! ^= 1;
      return lie;
    },
  };
  const honest = ids.filter((id) => id !== liar);
  const stored = () => honest.every((id) => cluster.node(id)!.state.msbHeader(0) !== undefined);
  assert.ok(await cluster.advance(60_000, stored), `${seed}: every honest replica stores MSB 0 (heights ${honest.map((id) => cluster.node(id)?.state.tip.height).join()})`);
  assert.ok(lies >= 1, `${seed}: the liar executed height ${L}`);

  const states = honest.map((id) => cluster.node(id)!.state);
  const header = states[0]!.msbHeader(0)!;
  for (const state of states) assert.equal(toHex(state.msbHeader(0)!), toHex(header), `${seed}: one MSB header on every honest replica`);
  const certificate = decodeFinalHeightCertificate(states[0]!.certificateAt(L)!);
  assert.ok(certificate.view >= 1, `${seed}: the liar's view-0 proposal was not co-signed (decided in view ${certificate.view})`);
  assert.equal(toHex(certificate.commitment.msbHeaderHash), toHex(msbHeaderHashOfEncoding(header)), `${seed}: the certificate binds the honest header`);
  const decoded = decodeMsbHeader(header);
  assert.deepEqual([BigInt(decoded.count), decoded.supply, decoded.height, decoded.epoch], [certificate.commitment.count, certificate.commitment.supply, L, 0]);
  assert.ok(decoded.count > 12, `${seed}: the transfers before height ${L} changed the set (${decoded.count} outputs)`);
  for (const state of states) {
    const body = snapshotOfOrderedEntries(state.msbBody(state.latestMsb!.epoch)!);
    assert.deepEqual([toHex(body.root), body.count], [toHex(decoded.root), decoded.count], `${seed}: the stored body is the header's`);
  }
  // The liar never stores a header of its own: its commitment is not the decided one.
  assert.equal(cluster.node(liar)?.state.msbHeader(0), undefined, `${seed}: the liar stored no MSB`);
  const liarNode = driverOf(cluster.node(liar)!).node;
  assert.ok(await cluster.advance(10_000, () => cluster.failures.some((failure) => failure.id === liar)),
    `${seed}: the liar stops (height ${liarNode.validator.height}, diverged ${JSON.stringify(liarNode.diverged?.height)})`);
  const diverged = cluster.failures.filter((failure) => failure.id === liar).map((failure) => (failure.error instanceof IosError ? failure.error.code : String(failure.error)));
  assert.deepEqual(diverged, ["POB_STATE_DIVERGED"], `${seed}: the liar stops as diverged`);
  assert.deepEqual(cluster.failures.filter((failure) => failure.id !== liar), [], `${seed}: no honest driver failed`);
  assert.ok(load.txids.size > 0);
  checkProofs(seed, states[0]!, cluster.context);
  await checkShown(seed, states[0]!);
}

/** The latest MSB header as the API (GET /v1/msb/latest) and `ios proof verify` show it: its decisions and decisionsRoot with the rest. */
async function checkShown(seed: string, state: ShardState): Promise<void> {
  const prover = new MsbProver(() => state);
  const { proof, header, headerHash } = prover.header();
  const expected = [header.decisions, toHex(header.decisionsRoot), toHex(header.root), toHex(headerHash)];
  const served = await serveApi(stubBackend({ msb: prover }));
  try {
    const { status, body } = await getJson(`http://127.0.0.1:${served.port}/v1/msb/latest`);
    assert.equal(status, 200);
    assert.deepEqual([body.decisions, body.decisionsRoot, body.root, body.headerHash], expected, `${seed}: GET /v1/msb/latest`);
  } finally {
    served.close();
  }
  const dir = mkdtempSync(join(tmpdir(), "ios-msb-proof-"));
  try {
    const file = join(dir, "header.proof");
    writeFileSync(file, proof);
    const lines: string[] = [];
    const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
    const verify = proofCommand.subcommands!.find((command) => command.name === "verify")!;
    assert.equal(await verify.run!({ "msb-header": toHex(headerHash), json: true }, [file], io), 0);
    const shown = JSON.parse(lines[0]!) as { msb: { decisions: number; decisionsRoot: string; root: string; headerHash: string } };
    assert.deepEqual([shown.msb.decisions, shown.msb.decisionsRoot, shown.msb.root, shown.msb.headerHash], expected, `${seed}: ios proof verify --json`);
    lines.length = 0;
    assert.equal(await verify.run!({ "msb-header": toHex(headerHash) }, [file], io), 0);
    assert.ok(lines.some((line) => line.includes(`decisions ${header.decisions} decisionsRoot ${toHex(header.decisionsRoot)}`)), `${seed}: ios proof verify: ${lines.join(" | ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


/** Flips one bit of every byte in [from, to) of `proof` in turn: each must fail with a code. */
function everyFlipFails(seed: string, what: string, proof: Uint8Array, verify: (bytes: Uint8Array) => unknown, from = 0, to = proof.length): void {
  for (let i = from; i < to; i++) {
    const flipped = Uint8Array.from(proof);
    flipped[i]! ^= 1 << (i % 8);
    const code = codeOf(() => verify(flipped));
    assert.ok(code !== "no error" && !code.startsWith("uncoded"), `${seed}: ${what} with byte ${i} of ${proof.length} flipped fails with a code (got ${code})`);
  }
}

/** The proofs a validator serves (src/node/msb-proof.ts, what the API answers), verified offline; every flipped byte fails. */
function checkProofs(seed: string, state: ShardState, context: EpochContext): void {
  const prover = new MsbProver(() => state);
  const committees = committeesOfContext(context);
  const trust = { committees, verifier };
  // The MSB header of epoch 0, with the certificate of height L.
  const { proof: headerProof, headerHash } = prover.header(0);
  assert.equal(toHex(prover.header().headerHash), toHex(headerHash), `${seed}: the latest MSB is epoch 0's`);
  const shown = verifyIosProof(headerProof, trust);
  assert.equal(shown.type, "msb-header");
  assert.equal(verifyIosProof(headerProof, { trustedMsbHeader: headerHash }).type, "msb-header");
  everyFlipFails(seed, "an MSB header proof", headerProof, (bytes) => verifyIosProof(bytes, trust));
  // An output of the latest MSB.
  const body = snapshotOfOrderedEntries(state.msbBody(state.latestMsb!.epoch)!);
  const entry = unpackEntry(body.entries, 3 * UTXO_ENTRY.bytes);
  const utxoProof = prover.utxo(entry.txid, entry.index);
  const utxo = verifyIosProof(utxoProof, trust);
  assert.ok(utxo.type === "utxo" && toHex(utxo.entry.owner) === toHex(entry.owner) && utxo.entry.amount === entry.amount && toHex(utxo.headerHash) === toHex(headerHash));
  assert.equal(verifyIosProof(utxoProof, { trustedMsbHeader: headerHash }).type, "utxo");
  everyFlipFails(seed, "a UTXO proof (committee keys)", utxoProof, (bytes) => verifyIosProof(bytes, trust));
  // Against a trusted header hash alone, every byte of the MSB part is bound (the certificate's signature is not checked: module doc).
  const utxoPart = 2 + 4 + new DataView(utxoProof.buffer, utxoProof.byteOffset).getUint32(2, true);
  everyFlipFails(seed, "a UTXO proof (trusted header hash)", utxoProof, (bytes) => verifyIosProof(bytes, { trustedMsbHeader: headerHash }), 0, utxoPart);
  // A final transaction of epoch 0: its acceptance, chained to the MSB of the epoch's end.
  let txid: Uint8Array | undefined;
  let at = 0;
  for (let height = 1; height < L && txid === undefined; height++) {
    const block = decodeBlock(state.getBlock(height)!);
    if (block.txids.length > 0) [txid, at] = [block.txids.slice(0, 32), height];
  }
  assert.ok(txid !== undefined, `${seed}: a transaction final before height ${L}`);
  const txProof = prover.tx(txid);
  const tx = verifyIosProof(txProof, trust);
  assert.ok(tx.type === "tx" && toHex(tx.txid) === toHex(txid) && tx.height === at && toHex(tx.msb!.headerHash) === toHex(headerHash), `${seed}: the transaction of height ${at} chains to MSB 0`);
  assert.equal(verifyIosProof(txProof, { ...trust, trustedMsbHeader: headerHash }).type, "tx");
  everyFlipFails(seed, "a transaction proof", txProof, (bytes) => verifyIosProof(bytes, trust));
  // The commitment parts of the heights between end the proof (312 B each); a part's body root follows previous, core hash,
  // randomness, included root and count (132 B in): each of its bytes flipped breaks the chain to the certified end.
  const between = L - at - 1;
  assert.ok(between > 0, `${seed}: heights lie between the transaction's and the epoch's end`);
  for (let part = 0; part < between; part++) {
    const bodyRootAt = txProof.length - (between - part) * 312 + 132;
    for (let i = bodyRootAt; i < bodyRootAt + 32; i++) {
      const flipped = Uint8Array.from(txProof);
      flipped[i]! ^= 1 << (i % 8);
      assert.equal(codeOf(() => verifyIosProof(flipped, trust)), "MSB_PROOF_BROKEN_CHAIN", `${seed}: body root byte ${i - bodyRootAt} of the parts of height ${at + 1 + part}`);
    }
  }
  assert.equal(toHex(txProof.subarray(txProof.length - between * 312 + 132, txProof.length - between * 312 + 164)), toHex(decodeFinalHeightCertificate(state.certificateAt(at + 1)!).commitment.bodyRoot), `${seed}: the first part between is height ${at + 1}'s, its body root where it is read`);
  // Refusals, each with its code.
  assert.equal(codeOf(() => verifyIosProof(txProof, { trustedMsbHeader: headerHash })), "MSB_PROOF_NEEDS_COMMITTEE");
  const otherHash = Uint8Array.from(headerHash);
  otherHash[0]! ^= 1;
  assert.equal(codeOf(() => verifyIosProof(utxoProof, { trustedMsbHeader: otherHash })), "MSB_UNTRUSTED_HEADER");
  assert.equal(codeOf(() => verifyIosProof(headerProof, { committees: (epoch, shard, batch) => committees(epoch + 2, shard, batch), verifier })), "TX_PROOF_UNKNOWN_COMMITTEE", "an epoch not known");
  // The next epoch's batch 0 is known (EpochContext.opening): the same keys under another instance key.
  assert.equal(codeOf(() => verifyIosProof(headerProof, { committees: (epoch, shard, batch) => committees(epoch + 1, shard, batch), verifier })), "TX_PROOF_BAD_SIGNATURE", "the next epoch's opening");
  assert.equal(codeOf(() => verifyIosProof(encodeMsbHeaderProof(state.msbHeader(0)!, state.certificateAt(L - 1)!), trust)), "MSB_PROOF_MISMATCH", "another height's certificate");
  assert.equal(codeOf(() => verifyIosProof(headerProof, {})), "MSB_PROOF_NO_TRUST");
  assert.equal(codeOf(() => verifyIosProof(Uint8Array.of(9, 1), trust)), "MSB_PROOF_UNKNOWN_TYPE");
  assert.equal(codeOf(() => prover.header(7)), "MSB_EPOCH_NOT_ENDED");
  assert.equal(codeOf(() => prover.utxo(new Uint8Array(32).fill(3), 0)), "MSB_UTXO_NOT_FOUND");
  assert.equal(codeOf(() => prover.tx(new Uint8Array(32).fill(3))), "MSB_TX_NOT_FINAL");
}

describe("whole PoB validators: Micro State Blocks under a byzantine leader", () => {
  for (const seed of caseSeeds("msb-liar", MSB_SEEDS)) {
    it(`${seed}: the view-0 leader of the epoch's last height binds a wrong MSB header hash; it is not co-signed, every honest replica stores the certified MSB, and its proofs verify, every flipped byte refused`, async () => {
      await run(seed);
    });
  }
});
