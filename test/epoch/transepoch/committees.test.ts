/**
 * Committees by (epoch, shard, TransEpoch batch): what every certificate verifier checks against
 * (src/epoch/context.ts `committee`/`instance`, src/atomix/proof.ts `epochCommittees`,
 * `encodeEpochCommittees`). Real PoB contexts of two epochs whose committees differ, a final height
 * signed with real Schnorr keys by one batch's committee under that batch's instance key: it
 * verifies as that batch only; named as another batch, checked against another batch's committee,
 * or signed under another batch's key, it is refused with a code.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CommitteeProofVerifier, FinalHeightProver, committeesOfContext, decodeEpochCommittees, directoryOf, encodeEpochCommittees, epochCommittees,
  trustedCommittees, verifyFinalHeightCertificate, type CommitteeDirectory,
} from "../../../src/atomix/proof.js";
import { commitDigest, prepareDigest, type FinalityRecord } from "../../../src/consensus/bft/codec.js";
import { stateCommitmentOf, type CommitmentParts } from "../../../src/consensus/pob/finalization.js";
import type { ShardingPolicy } from "../../../src/consensus/pob/policy.js";
import { proposalHash } from "../../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../../src/crypto/ed25519.js";
import { merkleRootOfPackedLeaves } from "../../../src/crypto/merkle.js";
import { SchnorrKey } from "../../../src/crypto/schnorr.js";
import { sha256 } from "../../../src/crypto/sha256.js";
import { EpochContextValue, genesisEpochContext, genesisEpochValidators, instanceKey } from "../../../src/epoch/context.js";
import type { EpochContext } from "../../../src/epoch/interface.js";
import { transEpochSchedule } from "../../../src/epoch/transepoch/schedule.js";
import { toHex } from "../../../src/hex.js";
import { genesisRegistry, makeTestGenesis } from "../../../src/ledger/genesis.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { cosign } from "../../support/cosign.js";
import { codeOf } from "../../support/errors.js";

const encoder = new TextEncoder();
const verifier = new Ed25519Verifier();
const rng = SeededRng.fromSeed("transepoch committees");
const policy: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 2048 };
const { genesis, validators } = makeTestGenesis({ seed: "transepoch-directory", shardCount: 2, accounts: 1, amount: 1n, validators: 12, stake: 500n, pob: policy });
const epoch0 = genesisEpochContext(genesis);
const epochOne = (previous?: EpochContext) => new EpochContextValue({
  chain: epoch0.chain, epoch: 1, randomness: sha256(encoder.encode("rnd 1")), shardCount: 2, startHeight: 0, validators: genesisEpochValidators(genesis),
  registry: genesisRegistry(genesis), configurationHash: sha256(encoder.encode("conf 1")), policy, ...(previous === undefined ? {} : { previous }),
});
const epoch1 = epochOne(epoch0);
const secretOf = new Map(validators.map((v) => [toHex(v.publicKey), v.secretKey]));
const hexes = (list: readonly Uint8Array[]) => list.map(toHex);

/** A final height of epoch 1, `shard`, signed by every member of `signers` under batch `keyBatch`'s instance key and named `batch` in its head. */
function finalHeight(shard: number, signers: readonly Uint8Array[], keyBatch: number, batch = keyBatch): { prover: FinalHeightProver; txid: Uint8Array; certificate(): Uint8Array } {
  const committee = signers.map((key) => SchnorrKey.fromSeed(secretOf.get(toHex(key))!));
  const included = Buffer.concat([rng.bytes(32), rng.bytes(32)]);
  const commitment: CommitmentParts = {
    previous: rng.bytes(32), coreHash: rng.bytes(32), randomness: rng.bytes(32), includedRoot: merkleRootOfPackedLeaves(included, 32), includedCount: 2, bodyRoot: new Uint8Array(32).fill(0xb0), previousBlock: new Uint8Array(32).fill(0xb1),
    excludedRoot: merkleRootOfPackedLeaves(new Uint8Array(0), 32), excludedCount: 0, supply: 1_000n, count: 3n, accountsHash: rng.bytes(32), msbHeaderHash: rng.bytes(32),
  };
  const proposal = Buffer.concat([rng.bytes(120), stateCommitmentOf(commitment)]);
  const chainId = instanceKey(epoch1.chain, shard, 1, keyBatch);
  const [height, view] = [5, 0];
  const hash = proposalHash(proposal);
  const everyone = committee.map((_, i) => i);
  const prepareCert = cosign(committee, everyone, prepareDigest(chainId, height, view, hash), rng, verifier);
  const commitCert = cosign(committee, everyone, commitDigest(chainId, height, view, hash, prepareCert, committee.length), rng, verifier);
  const record: FinalityRecord = { height, view, proposal, prepareCert, commitCert };
  const prover = new FinalHeightProver({ epoch: 1, shard, batch, record, committeeSize: committee.length, commitment, included, excluded: [] });
  return { prover, txid: included.subarray(32, 64), certificate: () => prover.certificate() };
}

/** Where a certificate's u16 batch lies: after its version, epoch and shard. */
const BATCH_AT = 1 + 4 + 4;
/** A decision proof's: after its version, verdict, epoch and shard. */
const PROOF_BATCH_AT = 1 + 1 + 4 + 4;

describe("TransEpoch committees by (epoch, shard, batch)", () => {
  it("batch 0 is the previous epoch's committee, batch B the epoch's own, each under its own instance key; the pipeline's bytes list every batch", () => {
    const directory = committeesOfContext(epoch0, epoch1);
    const wire = directoryOf(decodeEpochCommittees(encodeEpochCommittees([epoch0, epoch1].map(epochCommittees))));
    let moved = 0;
    for (let shard = 0; shard < 2; shard++) {
      const move = transEpochSchedule({ before: [0, 1].map((s) => epoch0.leagues(s).committee), after: [0, 1].map((s) => epoch1.leagues(s).committee), randomness: epoch1.randomness, shardCount: 2 }).shards[shard]!;
      const B = move.batches.length;
      moved += B;
      assert.equal(epoch1.batchCount(shard), B);
      assert.equal(epoch1.instance(shard).batch, B, "an epoch's own committee decides in its last batch");
      assert.deepEqual(hexes(directory(0, shard, 0)!.keys), hexes(epoch0.leagues(shard).committee));
      assert.equal(directory(0, shard, 1), undefined, "the genesis epoch has no move");
      assert.deepEqual(hexes(directory(1, shard, 0)!.keys), hexes(epoch0.leagues(shard).committee));
      assert.deepEqual(hexes(directory(1, shard, B)!.keys), hexes(epoch1.leagues(shard).committee), "batch B in the BFT's participant order");
      const keys = new Set<string>();
      for (let b = 0; b <= B; b++) {
        const committee = directory(1, shard, b)!;
        assert.deepEqual(committee.chainId, instanceKey(epoch1.chain, shard, 1, b));
        keys.add(toHex(committee.chainId));
        assert.deepEqual(hexes(committee.keys), hexes(move.committee(b)));
        assert.deepEqual(hexes(wire(1, shard, b)!.keys), hexes(committee.keys), "the worker's directory is the same");
        assert.deepEqual(wire(1, shard, b)!.chainId, committee.chainId);
      }
      assert.equal(keys.size, B + 1, "no two batches share an instance key");
      for (const directoryOfIt of [directory, wire]) {
        assert.equal(directoryOfIt(1, shard, B + 1), undefined);
        assert.equal(directoryOfIt(1, shard, -1), undefined);
      }
    }
    assert.ok(moved > 0, "the reassignment moves some seat");
    assert.equal(directory(3, 0, 0), undefined, "an epoch not listed");
    assert.equal(directory(2, 0, 1), undefined, "only the next epoch's batch 0 is known before its configuration");
    assert.equal(epochOne().batchCount(0), 0, "an epoch built without its predecessor knows no move");
  });

  it("an epoch opens the next: its own committee under the next epoch's batch-0 key, which the next epoch's context gives alike once configured", () => {
    const before = committeesOfContext(epoch0);
    const after = committeesOfContext(epoch0, epoch1);
    for (let shard = 0; shard < 2; shard++) {
      const { instance, committee } = epoch0.opening(shard);
      assert.deepEqual({ epoch: instance.epoch, shard: instance.shard, batch: instance.batch }, { epoch: 1, shard, batch: 0 });
      assert.deepEqual(instance.key, epoch1.instance(shard, 0).key);
      assert.deepEqual(hexes(committee), hexes(epoch1.committee(shard, 0)), "the same keys in the same order: a certificate's mask reads alike");
      assert.deepEqual(before(1, shard, 0), { chainId: instance.key, keys: committee }, "known before configuration 1");
      assert.deepEqual(hexes(after(1, shard, 0)!.keys), hexes(committee));
      assert.deepEqual(after(1, shard, 0)!.chainId, instance.key);
      assert.equal(before(1, shard, 1), undefined, "no later batch before the configuration");
      assert.deepEqual(hexes(after(2, shard, 0)!.keys), hexes(epoch1.committee(shard, epoch1.batchCount(shard))), "epoch 1 opens epoch 2");
    }
    const wire = directoryOf(decodeEpochCommittees(encodeEpochCommittees(trustedCommittees([epoch0]))));
    assert.deepEqual(wire(1, 0, 0)!.chainId, epoch1.instance(0, 0).key, "the pipeline's bytes carry the opening");
    // A certificate of the opening, signed by epoch 0's committee before epoch 1 is configured, verifies then and after.
    const shard = 0;
    const height = finalHeight(shard, epoch0.opening(shard).committee, 0);
    for (const directory of [before, after]) assert.equal(verifyFinalHeightCertificate(height.certificate(), directory, verifier).batch, 0);
  });

  it("a certificate of batch b verifies against committee(b) only: named as another batch, checked against another batch's committee or signed under another batch's key, it is refused with a code", () => {
    const directory = committeesOfContext(epoch0, epoch1);
    const shard = [0, 1].find((s) => epoch1.batchCount(s) >= 1)!;
    const B = epoch1.batchCount(shard);
    const check = (bytes: Uint8Array, dir: CommitteeDirectory = directory) => codeOf(() => verifyFinalHeightCertificate(bytes, dir, verifier));
    for (let b = 0; b <= B; b++) {
      const height = finalHeight(shard, epoch1.committee(shard, b), b);
      const certificate = height.certificate();
      assert.equal(verifyFinalHeightCertificate(certificate, directory, verifier).batch, b);
      const acceptance = height.prover.acceptance(1);
      assert.equal(new CommitteeProofVerifier(directory, verifier).verify(acceptance, height.txid).accepted, true, "a decision proof of batch b");
      const renamedProof = Uint8Array.from(acceptance);
      new DataView(renamedProof.buffer).setUint16(PROOF_BATCH_AT, b === 0 ? 1 : 0, true);
      assert.equal(codeOf(() => new CommitteeProofVerifier(directory, verifier).verify(renamedProof, height.txid)), "TX_PROOF_BAD_SIGNATURE", "a decision proof renamed to another batch");
      for (let other = 0; other <= B + 1; other++) {
        if (other === b) continue;
        // A byzantine relay renames the batch: the other batch's committee and key do not sign it.
        const renamed = Uint8Array.from(certificate);
        new DataView(renamed.buffer).setUint16(BATCH_AT, other, true);
        assert.equal(check(renamed), other > B ? "TX_PROOF_UNKNOWN_COMMITTEE" : "TX_PROOF_BAD_SIGNATURE", `batch ${b} renamed ${other}`);
        // A verifier whose directory answers another batch's committee for this one.
        if (other <= B) assert.equal(check(certificate, (e, s) => directory(e, s, other)), "TX_PROOF_BAD_SIGNATURE", `batch ${b} against committee(${other})`);
        // committee(b) signing under another batch's instance key, named b or named that batch.
        if (other <= B && epoch1.committee(shard, other).length === epoch1.committee(shard, b).length) {
          assert.equal(check(finalHeight(shard, epoch1.committee(shard, b), other, b).certificate()), "TX_PROOF_BAD_SIGNATURE", `committee(${b}) under key ${other}, named ${b}`);
          assert.equal(check(finalHeight(shard, epoch1.committee(shard, b), other, other).certificate()), "TX_PROOF_BAD_SIGNATURE", `committee(${b}) under key ${other}, named ${other}`);
        }
      }
    }
    // The previous epoch's committee cannot speak for the epoch's own batch, nor the epoch's for the previous epoch.
    assert.equal(check(finalHeight(shard, epoch1.committee(shard, 0), B).certificate()), "TX_PROOF_BAD_SIGNATURE");
  });
});
