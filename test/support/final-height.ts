// A shard's final height built by hand, for Atomix proof tests: a committee of real Schnorr keys
// signs, with a real collective signature (cosign.ts), the BFT commit statement of a PoB proposal
// whose state commitment includes and excludes what the test lists; its FinalHeightProver cuts
// proofs that verify offline against the committee (`committeesOf`).
import { commitDigest, prepareDigest, type FinalityRecord } from "../../src/consensus/bft/codec.js";
import { excludedRoot, stateCommitmentOf, type CommitmentParts } from "../../src/consensus/pob/finalization.js";
import { proposalHash } from "../../src/consensus/pob/proposal.js";
import type { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { merkleRootOfPackedLeaves } from "../../src/crypto/merkle.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { FinalHeightProver, type Committee, type CommitteeDirectory } from "../../src/atomix/proof.js";
import { instanceKey } from "../../src/epoch/context.js";
import type { SeededRng } from "../../src/runtime/seeded-rng.js";
import { cosign } from "./cosign.js";

/** What every height of a test is made with: its randomness, chain and verifier. */
export interface HeightMaker {
  readonly rng: SeededRng;
  readonly chain: Uint8Array;
  readonly verifier: Ed25519Verifier;
}

/** A committee of `n` per shard of `shards`, epoch 0, batch 0, and the directory a verifier trusts. */
export function committeesOf(maker: HeightMaker, shards: number, n: number): { keys: SchnorrKey[][]; directory: CommitteeDirectory } {
  const keys = Array.from({ length: shards }, () => Array.from({ length: n }, () => SchnorrKey.fromSeed(maker.rng.bytes(32))));
  const list: Committee[] = keys.map((members, shard) => ({ chainId: instanceKey(maker.chain, shard, 0, 0), keys: members.map((k) => k.publicKey) }));
  return { keys, directory: (epoch, shard, batch) => (epoch === 0 && batch === 0 ? list[shard] : undefined) };
}

/** A final height of `shard` signed by `signers` of its committee: `included` txids, `excluded` entries; its prover. */
export function finalHeightOf(maker: HeightMaker, committee: SchnorrKey[], shard: number, included: readonly Uint8Array[], excluded: readonly { txid: Uint8Array; code: string }[], signers = committee.map((_, i) => i), height = 7): FinalHeightProver {
  const { rng, verifier } = maker;
  const packed = Buffer.concat(included);
  const commitment: CommitmentParts = {
    previous: rng.bytes(32), coreHash: rng.bytes(32), randomness: rng.bytes(32),
    includedRoot: merkleRootOfPackedLeaves(packed, 32), includedCount: included.length, bodyRoot: new Uint8Array(32).fill(0xb0), previousBlock: new Uint8Array(32).fill(0xb1), excludedRoot: excludedRoot(excluded), excludedCount: excluded.length, supply: 123_456n, count: 42n,
    accountsHash: rng.bytes(32), msbHeaderHash: rng.bytes(32),
  };
  const proposal = Buffer.concat([rng.bytes(300), stateCommitmentOf(commitment)]);
  const chainId = instanceKey(maker.chain, shard, 0, 0);
  const view = 1;
  const hash = proposalHash(proposal);
  const prepareCert = cosign(committee, signers, prepareDigest(chainId, height, view, hash), rng, verifier);
  const commitCert = cosign(committee, signers, commitDigest(chainId, height, view, hash, prepareCert, committee.length), rng, verifier);
  const record: FinalityRecord = { height, view, proposal, prepareCert, commitCert };
  return new FinalHeightProver({ epoch: 0, shard, batch: 0, record, committeeSize: committee.length, commitment, included: packed, excluded });
}
