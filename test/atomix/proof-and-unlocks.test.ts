// Proofs of a shard's decision (src/atomix/proof.ts) and the unlock kinds that carry them
// (src/ledger/kinds/atomix-unlock.ts), over a final height built by hand: a committee of real
// Schnorr keys signs, with a real collective signature, the BFT commit statement of a PoB
// proposal whose state commitment includes the cross-shard transfer X and excludes another, Y,
// with the kernel's code. Every proof verifies offline; every kind of forgery fails with its code.
// Proofs built when read from a store (src/atomix/stored-proofs.ts) equal the ones the deciding
// replica cut at commit, byte for byte, on both stores, across a later phase, a reopen and a prune.
// In an encoded block, unlocks cite their heights' shared certified parts
// (src/ledger/kinds/atomix-citations.ts): the block decodes to the unlocks as submitted, each part
// is checked once, and every byzantine body (a missing, forged, other-height, uncited, repeated or
// reordered part, an inline proof, a bad citation) is refused with its code. An ATOMIX stream frame
// carries its height's certificate once and each lock decision's verdict and path: the proofs
// rebuilt from it are the prover's, and the batches built from it the ones whole proofs give.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stateCommitmentOf } from "../../src/consensus/pob/finalization.js";
import { proposalHashOfParts } from "../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import type { SchnorrKey } from "../../src/crypto/schnorr.js";
import { CommitteeProofVerifier, FINAL_CHAIN_DECISIONS, MAX_DECISION_PROOF_BYTES, MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, VerifiedCertificates, FinalHeightProver, certifiedProposalOf, decisionProofOf, decodeFinalHeightCertificate, decodeDecisionProof, encodeDecisionProof, proofAccepts, verifyDecisionProof, verifyFinalHeightCertificate } from "../../src/atomix/proof.js";
import { signCrossShardTransfer, unlockBatchesFor, unlockBatchesOfHeight, unlockFor, coordinatorShard } from "../../src/atomix/client.js";
import { atomixUnlockBatchKind, decodeAtomixUnlockBatch, encodeAtomixUnlockBatch } from "../../src/ledger/kinds/atomix-unlock-batch.js";
import { admits, crossTxidsOfRecord, encodeAtomixPhase, phaseAfter, SETTLED_REWATCH_HEIGHTS } from "../../src/atomix/phases.js";
import { DecisionProofReader, decisionProofAt, keepsProofAfterPrune } from "../../src/atomix/stored-proofs.js";
import type { SignedCrossShardTransfer } from "../../src/atomix/client.js";
import { BlockKind, blockHash, decodeBlock, decodeBlockEnvelope, encodeBlock, encodeBlockHeader, encodeBlockWithBody, makeBlockHeader, txidsOf, type BlockHeader } from "../../src/ledger/block.js";
import { CITED_BODY_MARK, CITED_PROOF_VERSION, readBlockBody } from "../../src/ledger/kinds/atomix-citations.js";
import { MAX_BLOCK_BYTES } from "../../src/ledger/block.js";
import type { CodecCodes } from "../../src/codec/binary.js";
import type { LedgerErrorCode } from "../../src/ledger/errors.js";
import { RegistrationOperation, registrationKind, signLeave, signRegistration } from "../../src/ledger/kinds/registration.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { signMessage } from "../../src/ledger/keys.js";
import { registrationBond } from "../../src/ledger/bond.js";
import { sameBytes } from "../../src/bytes.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { ACCOUNTS, signedTransfer } from "../ledger/helpers.js";
import type { StoredBlock } from "../../src/store/interface.js";
import { META_ATOMIX_INDEXED, NOT_DECIDED_HERE, atomixDecidedKey } from "../../src/store/schema.js";
import { BACKENDS } from "../store/backends.js";
import { FRAME_ATOMIX, atomixFrameHeight, decodeAtomix, encodeAtomix, type AtomixBatch, type AtomixFrameDecision } from "../../src/api/stream-codec.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { MAX_TX_BYTES, TxKind } from "../../src/ledger/kinds/interface.js";
import { atomixUnlockCross, atomixUnlockProofsAt, atomixUnlockTxid, decodeAtomixUnlock, encodeAtomixUnlock } from "../../src/ledger/kinds/atomix-unlock.js";
import { crossShardInputShards, crossShardTransferShardSets, crossShardTransferShards, crossShardTransferUnsigned, decodeUnsignedCrossShardTransfer } from "../../src/ledger/kinds/atomix.js";
import { actingMembers, isActingMember } from "../../src/atomix/watcher.js";
import { applyRecordOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { RecordCursor } from "../../src/ledger/records.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, unpackTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { committeesOf, finalHeightOf, type HeightMaker } from "../support/final-height.js";
import { codeOf } from "../support/errors.js";

const SHARDS = 2;
const verifier = new Ed25519Verifier();
const rng = SeededRng.fromSeed("atomix proofs");
const CHAIN = rng.bytes(32);
const accounts = deriveTestAccounts("atomix proofs", 16);
const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
const [alice, carol] = inShard(0);
const [bob, dave] = inShard(1);

/** The block codec's codes, for reading a region without the body-root check (what decoding did before issue 13's fix). */
const REGION_CODES: CodecCodes<LedgerErrorCode> = { truncated: "BLOCK_TRUNCATED", trailing: "BLOCK_TRAILING_BYTES", tooLarge: "BLOCK_TOO_LARGE", outOfRange: "BLOCK_BAD_FIELD" };

/** RFC 6962 §2.1 Merkle tree hash over the leaves, written from the RFC with @noble/hashes. */
function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return nobleSha256(new Uint8Array(0));
  if (leaves.length === 1) return nobleSha256(Uint8Array.from([0, ...leaves[0]!]));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nobleSha256(Uint8Array.from([1, ...referenceRoot(leaves.slice(0, k)), ...referenceRoot(leaves.slice(k))]));
}

/** Counts the Ed25519 checks a proof verifier makes (one per commit certificate it checks). */
class CountingVerifier extends Ed25519Verifier {
  calls = 0;
  override verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    this.calls++;
    return super.verify(signature, message, publicKey);
  }
}

const maker: HeightMaker = { rng, chain: CHAIN, verifier };
/** A committee of `n` per shard, epoch 0. */
const committees = (n: number) => committeesOf(maker, SHARDS, n);

/** X: alice (shard 0) and bob (shard 1) pay carol and dave; Y: another transfer of alice's. */
function transfers() {
  const coin = (owner: typeof alice) => ({ txid: rng.bytes(32), index: 0, owner: owner!.publicKey, amount: 1_000n });
  const x = signCrossShardTransfer({ kind: TxKind.AtomixLock, inputs: [coin(alice), coin(bob)], outputs: [{ owner: carol!.publicKey, amount: 1_500n }, { owner: dave!.publicKey, amount: 490n }] }, accounts);
  const y = signCrossShardTransfer({ kind: TxKind.AtomixLock, inputs: [coin(alice), coin(bob)], outputs: [{ owner: dave!.publicKey, amount: 2_000n }] }, accounts);
  return { x, y };
}

/** A final height of `shard` signed by `signers` of its committee: `included` txids, `excluded` entries; its prover. */
const finalHeight = (committee: SchnorrKey[], shard: number, included: readonly Uint8Array[], excluded: readonly { txid: Uint8Array; code: string }[], signers?: number[], height?: number) =>
  finalHeightOf(maker, committee, shard, included, excluded, signers, height);

describe("decision proofs", () => {
  const { keys, directory } = committees(7);
  const { x, y } = transfers();
  const filler = Array.from({ length: 9 }, () => rng.bytes(32));
  const included0 = [...filler.slice(0, 4), x.txid, ...filler.slice(4)];
  const excluded0 = [{ txid: filler[0]!, code: "POB_NOT_ASSIGNED" }, { txid: y.txid, code: "MISSING_INPUT" }];
  const height0 = finalHeight(keys[0]!, 0, included0, excluded0);

  it("an acceptance and a rejection verify offline against the shard's committee, and round-trip", () => {
    const accepted = height0.acceptance(4);
    assert.deepEqual(verifyDecisionProof(accepted, x.txid, directory), { epoch: 0, shard: 0, accepted: true, code: undefined });
    const rejected = height0.rejection(1);
    assert.deepEqual(verifyDecisionProof(rejected, y.txid, directory), { epoch: 0, shard: 0, accepted: false, code: "MISSING_INPUT" });
    for (const proof of [accepted, rejected]) assert.deepEqual(encodeDecisionProof(decodeDecisionProof(proof)), proof);
  });

  it("refuses another transaction, another shard's or epoch's committee, a refusal that decides nothing, too few signers, any flipped byte", () => {
    const accepted = height0.acceptance(4);
    const check = (proof: Uint8Array, txid: Uint8Array, dir = directory) => codeOf(() => new CommitteeProofVerifier(dir, verifier).verify(proof, txid));
    assert.equal(check(accepted, y.txid), "TX_PROOF_WRONG_TX");
    assert.equal(check(accepted, x.txid, (epoch, shard, batch) => directory(epoch, 1 - shard, batch)), "TX_PROOF_BAD_SIGNATURE", "shard 1's committee did not sign it");
    assert.equal(check(accepted, x.txid, (epoch, shard, batch) => directory(epoch + 1, shard, batch)), "TX_PROOF_UNKNOWN_COMMITTEE");
    assert.equal(check(height0.rejection(0), filler[0]!), "TX_PROOF_NOT_DECISIVE", "an unassigned producer's refusal decides nothing");
    const few = finalHeight(keys[0]!, 0, [x.txid], [], [0, 1, 2, 3]);
    assert.equal(check(few.acceptance(0), x.txid), "TX_PROOF_BAD_SIGNATURE", "4 of 7 is below 2f + 1 = 5");
    assert.equal(check(finalHeight(keys[0]!, 0, [x.txid], [], [0, 1, 2, 3, 4]).acceptance(0), x.txid), "no error", "5 of 7 is enough");
    for (let at = 0; at < accepted.length; at++) {
      const flipped = Uint8Array.from(accepted);
      flipped[at]! ^= 0x01;
      assert.match(String(check(flipped, x.txid)), /^TX_PROOF_/, `flipped byte ${at}`);
    }
    // The parts' body root (finalHeight's 0xb0 fill) is certified: each of its bytes flipped changes the signed commitment.
    const bodyRootAt = Buffer.from(accepted).indexOf(Buffer.alloc(32, 0xb0));
    assert.ok(bodyRootAt > 0, "the proof carries the body root");
    for (let at = bodyRootAt; at < bodyRootAt + 32; at++) {
      const flipped = Uint8Array.from(accepted);
      flipped[at]! ^= 0x01;
      assert.equal(check(flipped, x.txid), "TX_PROOF_BAD_SIGNATURE", `body root byte ${at - bodyRootAt} flipped`);
    }
    assert.equal(check(accepted.subarray(0, accepted.length - 1), x.txid), "TX_PROOF_MALFORMED");
    assert.equal(check(Buffer.concat([accepted, new Uint8Array(1)]), x.txid), "TX_PROOF_MALFORMED");
  });

  it("checks each height's commit certificate once per verifier, and a remembered certificate changes no verdict", () => {
    const counting = new CountingVerifier();
    const warm = new CommitteeProofVerifier(directory, counting);
    assert.equal(warm.verify(height0.acceptance(4), x.txid).accepted, true);
    assert.equal(warm.verify(height0.acceptance(0), filler[0]!).accepted, true);
    assert.equal(warm.verify(height0.rejection(1), y.txid).code, "MISSING_INPUT");
    assert.equal(counting.calls, 1, "three proofs of one final height: one signature check");
    const accepted = height0.acceptance(4);
    for (let at = 0; at < accepted.length; at++) {
      const flipped = Uint8Array.from(accepted);
      flipped[at]! ^= 0x01;
      assert.match(String(codeOf(() => warm.verify(flipped, x.txid))), /^TX_PROOF_/, `flipped byte ${at}, certificate remembered`);
    }
    const other = finalHeight(keys[0]!, 0, [x.txid], []);
    const before = counting.calls;
    assert.equal(warm.verify(other.acceptance(0), x.txid).accepted, true);
    assert.equal(counting.calls, before + 1, "another height's certificate is checked");
  });

  it("a remembered height vouches for its own certified bytes and committee only: a forged path, txid, verdict or certified part is still refused with its code; the memory is bounded", () => {
    const counting = new CountingVerifier();
    let current = directory;
    const warm = new CommitteeProofVerifier((epoch, shard, batch) => current(epoch, shard, batch), counting);
    const accepted = height0.acceptance(4);
    assert.equal(warm.verify(accepted, x.txid).accepted, true);
    assert.equal(counting.calls, 1);
    const forged = (edit: (bytes: Uint8Array) => void) => {
      const bytes = Uint8Array.from(accepted);
      edit(bytes);
      return codeOf(() => warm.verify(bytes, x.txid));
    };
    assert.equal(forged((b) => void (b[b.length - 1]! ^= 0x01)), "TX_PROOF_BAD_PATH", "a sibling of the path changed");
    const txidAt = 1 + 1 + 4 + 4 + 2 + 8 + 4;
    assert.equal(forged((b) => b.set(y.txid, txidAt)), "TX_PROOF_WRONG_TX", "another transaction's proof");
    assert.equal(codeOf(() => warm.verify((() => { const b = Uint8Array.from(accepted); b.set(y.txid, txidAt); return b; })(), y.txid)), "TX_PROOF_BAD_PATH", "the remembered roots do not hold Y at X's place");
    assert.equal(forged((b) => void (b[1] = 0)), "TX_PROOF_MALFORMED", "a rejection without its code");
    const before = counting.calls;
    // The supply, inside the certified part: same (epoch, shard, height, view), other bytes — checked in full, and refused.
    const supplyBytes = Buffer.alloc(8);
    supplyBytes.writeBigUInt64LE(123_456n);
    const supplyAt = Buffer.from(accepted).indexOf(supplyBytes);
    assert.ok(supplyAt > txidAt);
    assert.equal(forged((b) => void (b[supplyAt]! ^= 0x01)), "TX_PROOF_BAD_SIGNATURE", "a changed supply under the remembered height");
    assert.equal(counting.calls, before + 1, "a certified part unlike the remembered one is checked again");
    // Another committee for the same (epoch, shard): the remembered success no longer counts.
    current = (epoch, shard, batch) => directory(epoch, 1 - shard, batch);
    assert.equal(codeOf(() => warm.verify(accepted, x.txid)), "TX_PROOF_BAD_SIGNATURE", "verified against shard 0's committee, not this one");
    current = directory;
    // Bounded: two heights kept, the oldest forgotten first.
    const memory = new VerifiedCertificates(2);
    const heights = [11, 12, 13].map((h) => finalHeight(keys[0]!, 0, [x.txid], [], undefined, h).acceptance(0));
    const calls = () => counting.calls;
    const start = calls();
    for (const proof of heights) verifyDecisionProof(proof, x.txid, directory, counting, memory);
    assert.equal(memory.size, 2);
    assert.equal(calls(), start + 3);
    verifyDecisionProof(heights[2]!, x.txid, directory, counting, memory);
    assert.equal(calls(), start + 3, "the newest height is remembered");
    verifyDecisionProof(heights[0]!, x.txid, directory, counting, memory);
    assert.equal(calls(), start + 4, "the oldest was forgotten: checked again");
    assert.equal(memory.size, 2);
    assert.equal(codeOf(() => new VerifiedCertificates(0)), "TX_PROOF_MALFORMED");
  });

  it("a final-height certificate proves the height's state commitment, supply, count and accounts hash; refuses another committee, too few signers, any flipped byte", () => {
    const certificate = height0.certificate();
    const certified = verifyFinalHeightCertificate(certificate, directory, verifier);
    const proof = decodeDecisionProof(height0.acceptance(4));
    assert.deepEqual(certified, { epoch: 0, shard: 0, batch: 0, height: 7, view: 1, stateCommitment: stateCommitmentOf(proof.commitment), supply: 123_456n, count: 42n, accountsHash: proof.commitment.accountsHash, commitment: proof.commitment });
    const check = (bytes: Uint8Array, dir = directory) => codeOf(() => verifyFinalHeightCertificate(bytes, dir, verifier));
    assert.equal(check(certificate, (epoch, shard, batch) => directory(epoch, 1 - shard, batch)), "TX_PROOF_BAD_SIGNATURE", "shard 1's committee did not sign it");
    assert.equal(check(certificate, (epoch, shard, batch) => directory(epoch + 1, shard, batch)), "TX_PROOF_UNKNOWN_COMMITTEE");
    assert.equal(check(finalHeight(keys[0]!, 0, [x.txid], [], [0, 1, 2, 3]).certificate()), "TX_PROOF_BAD_SIGNATURE", "4 of 7 is below 2f + 1 = 5");
    for (let at = 0; at < certificate.length; at++) {
      const flipped = Uint8Array.from(certificate);
      flipped[at]! ^= 0x01;
      assert.match(String(check(flipped)), /^TX_PROOF_/, `flipped byte ${at}`);
    }
    assert.equal(check(certificate.subarray(0, certificate.length - 1)), "TX_PROOF_MALFORMED");
    assert.equal(check(Buffer.concat([certificate, new Uint8Array(1)])), "TX_PROOF_MALFORMED");
  });

  it("a prover rebuilt from a height's certificate and lists (a synced replica's) cuts the same proofs and certificate; decoding names the certified proposal", () => {
    const certificate = height0.certificate();
    const rebuilt = new FinalHeightProver({ certificate, included: Buffer.concat(included0), excluded: excluded0 });
    assert.deepEqual(rebuilt.certificate(), certificate);
    included0.forEach((_, i) => assert.deepEqual(rebuilt.acceptance(i), height0.acceptance(i)));
    excluded0.forEach((_, i) => assert.deepEqual(rebuilt.rejection(i), height0.rejection(i)));
    const decoded = decodeFinalHeightCertificate(certificate);
    const proof = decodeDecisionProof(height0.acceptance(0));
    assert.deepEqual(certifiedProposalOf(decoded), { stateCommitment: stateCommitmentOf(proof.commitment), proposalHash: proposalHashOfParts(proof.bodyDigest, stateCommitmentOf(proof.commitment)) });
    assert.equal(codeOf(() => decodeFinalHeightCertificate(certificate.subarray(1))), "TX_PROOF_MALFORMED");
  });

  it("replaying the own final chain reads what its proofs state, whatever the committees, and still checks their transaction", () => {
    assert.deepEqual(FINAL_CHAIN_DECISIONS.verify(height0.acceptance(4), x.txid), { epoch: 0, shard: 0, accepted: true, code: undefined });
    assert.deepEqual(FINAL_CHAIN_DECISIONS.verify(height0.rejection(1), y.txid), { epoch: 0, shard: 0, accepted: false, code: "MISSING_INPUT" });
    assert.equal(codeOf(() => FINAL_CHAIN_DECISIONS.verify(height0.acceptance(4), y.txid)), "TX_PROOF_WRONG_TX");
    assert.equal(codeOf(() => FINAL_CHAIN_DECISIONS.verify(height0.acceptance(4).subarray(1), x.txid)), "TX_PROOF_MALFORMED");
  });

  it("is small: about 0.9 KB for a committee of 100 and a block of 4,096 transactions (white paper §6.3: 80 B of collective signature against 9 KB of individual ones)", (t) => {
    const big = committees(100);
    const txids = Array.from({ length: 4_096 }, () => rng.bytes(32));
    const proof = finalHeight(big.keys[0]!, 0, txids, [], Array.from({ length: 67 }, (_, i) => i)).acceptance(1_234);
    assert.equal(verifyDecisionProof(proof, txids[1_234]!, big.directory).accepted, true);
    assert.ok(proof.length <= 910, `${proof.length} bytes`);
    t.diagnostic(`proof of acceptance, committee of 100, block of 4,096 transactions: ${proof.length} bytes`);
    assert.ok(proof.length < 100 * 96 / 10, "under a tenth of 100 individual signatures and keys");
  });
});

describe("unlock kinds", () => {
  const { keys, directory } = committees(4);
  const decisions = new CommitteeProofVerifier(directory, verifier);
  const { x, y } = transfers();
  const acceptedIn = (shard: number) => finalHeight(keys[shard]!, shard, [rng.bytes(32), x.txid], []).acceptance(1);
  const rejectedIn = (shard: number) => finalHeight(keys[shard]!, shard, [], [{ txid: x.txid, code: "MISSING_INPUT" }]).rejection(0);
  const stateless = (tx: Uint8Array, shard: number) => validateStateless(packTransactions([tx]), shard, SHARDS, "submitted", decisions).rejections[0]?.code ?? null;

  it("a commit with every input shard's acceptance passes in every shard it touches; its txid is the same whatever proofs it carries", () => {
    const commit = unlockFor(x.unsigned, new Map([[0, acceptedIn(0)], [1, acceptedIn(1)]]), SHARDS)!;
    assert.equal(commit.kind, "commit");
    assert.deepEqual([stateless(commit.bytes, 0), stateless(commit.bytes, 1)], [null, null]);
    const other = encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: x.unsigned, proofs: [acceptedIn(0), acceptedIn(1)] });
    assert.notDeepEqual(other, commit.bytes, "other proofs, other bytes");
    assert.deepEqual(transactionIdOfEncoding(other), transactionIdOfEncoding(commit.bytes));
    assert.deepEqual(transactionIdOfEncoding(other), atomixUnlockTxid(TxKind.AtomixUnlockCommit, x.unsigned));
    assert.notDeepEqual(atomixUnlockTxid(TxKind.AtomixUnlockAbort, x.unsigned), atomixUnlockTxid(TxKind.AtomixUnlockCommit, x.unsigned));
    assert.deepEqual(decodeAtomixUnlock(commit.bytes), { kind: TxKind.AtomixUnlockCommit, cross: Uint8Array.from(x.unsigned), proofs: decodeAtomixUnlock(commit.bytes).proofs });
    // Shard 1's record consumes bob's locked input and creates dave's output at (X, 1).
    const record = new RecordCursor(applyRecordOf(commit.bytes, transactionIdOfEncoding(commit.bytes), 1, SHARDS));
    assert.equal(record.inputCount, 1);
    assert.equal(record.outputCount, 1);
    assert.deepEqual(Buffer.from(record.createdKey(0)), Buffer.concat([x.txid, Buffer.from([1, 0, 0, 0])]));
  });

  it("what watchers read cheaply answers as before: X read in place in an unlock, an input shard hashed without the outputs, the acting members without ranking (every member, 200 txids, a non-member)", () => {
    const commit = unlockFor(x.unsigned, new Map([[0, acceptedIn(0)], [1, acceptedIn(1)]]), SHARDS)!;
    assert.deepEqual(atomixUnlockCross(commit.bytes), decodeAtomixUnlock(commit.bytes).cross);
    assert.deepEqual(crossShardInputShards(x.unsigned, SHARDS), [0, 1]);
    for (const [tx, shardCount] of [[x.unsigned, SHARDS], [y.unsigned, SHARDS], [x.unsigned, 3], [y.unsigned, 5]] as const) {
      const inputs = decodeUnsignedCrossShardTransfer(tx).inputs.map((input) => shardOfOwner(input.owner, shardCount));
      assert.deepEqual(crossShardInputShards(tx, shardCount), inputs);
      assert.deepEqual(crossShardTransferShardSets(tx, shardCount), { shards: crossShardTransferShards(tx, shardCount), inputShards: [...new Set(inputs)] });
    }
    for (const { bytes, unsigned } of [x, y]) assert.deepEqual(crossShardTransferUnsigned(bytes), unsigned);
    const members = Array.from({ length: 7 }, () => rng.bytes(32));
    // Two members sharing their first four bytes: the rank ties and the key decides.
    members[6]!.set(members[5]!.subarray(0, 4));
    const outsider = rng.bytes(32);
    let acting = 0;
    for (let k = 0; k < 200; k++) {
      const txid = k === 0 ? Uint8Array.from([...members[5]!.subarray(0, 4), ...rng.bytes(28)]) : rng.bytes(32);
      const ranked = actingMembers(members, txid);
      assert.equal(ranked.length, 3);
      for (const key of members) {
        const expected = ranked.some((r) => sameBytes(r, key));
        assert.equal(isActingMember(members, txid, key), expected);
        if (expected) acting++;
      }
      assert.equal(isActingMember(members, txid, outsider), false);
    }
    assert.equal(acting, 600);
  });

  it("a proof's verdict is read from its frame alone (proofAccepts), which is how unlockFor picks commit or abort; a malformed frame is TX_PROOF_MALFORMED", () => {
    const accepted = acceptedIn(0);
    const rejected = rejectedIn(0);
    assert.equal(proofAccepts(accepted), true);
    assert.equal(proofAccepts(rejected), false);
    assert.equal(unlockFor(x.unsigned, new Map([[0, rejected]]), SHARDS)!.kind, "abort", "one rejection aborts");
    assert.equal(unlockFor(x.unsigned, new Map([[0, accepted]]), SHARDS), undefined, "shard 1's decision is still missing");
    assert.equal(unlockFor(x.unsigned, new Map([[0, accepted], [1, rejectedIn(1)]]), SHARDS)!.kind, "abort");
    const version = Uint8Array.from(accepted);
    version[0]! ^= 0x01;
    const verdict = Uint8Array.from(accepted);
    verdict[1] = 2;
    const codeless = Uint8Array.from(rejected);
    codeless[1] = 1;
    for (const [what, bytes] of [["truncated", accepted.subarray(0, accepted.length - 1)], ["extended", Buffer.concat([accepted, new Uint8Array(1)])], ["another version", version], ["a verdict of 2", verdict], ["an acceptance with a code", codeless]] as const) {
      assert.equal(codeOf(() => proofAccepts(bytes)), "TX_PROOF_MALFORMED", what);
      assert.equal(codeOf(() => unlockFor(x.unsigned, new Map([[0, bytes]]), SHARDS)), "TX_PROOF_MALFORMED", `unlockFor: ${what}`);
    }
  });

  it("refuses an unlock whose proofs do not decide it, with codes", () => {
    const commit = (proofs: Uint8Array[]) => encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: x.unsigned, proofs });
    const abort = (proof: Uint8Array) => encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: x.unsigned, proofs: [proof] });
    assert.equal(stateless(commit([acceptedIn(0)]), 0), "TX_PROOF_MISSING", "shard 1's acceptance is missing");
    assert.equal(stateless(commit([acceptedIn(0), rejectedIn(1)]), 0), "TX_PROOF_WRONG_VERDICT");
    assert.equal(stateless(commit([acceptedIn(0), acceptedIn(0), acceptedIn(1)]), 0), "TX_BAD_FIELD", "one proof per input shard");
    assert.equal(stateless(abort(acceptedIn(1)), 0), "TX_PROOF_WRONG_VERDICT");
    assert.equal(stateless(abort(rejectedIn(1)), 0), null);
    const yProof = finalHeight(keys[0]!, 0, [y.txid], []).acceptance(0);
    assert.equal(stateless(commit([yProof, acceptedIn(1)]), 0), "TX_PROOF_WRONG_TX");
    assert.equal(codeOf(() => encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: x.unsigned, proofs: [rejectedIn(0), rejectedIn(1)] })), "TX_BAD_FIELD");
    assert.equal(codeOf(() => encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: x.unsigned, proofs: [] })), "TX_PROOF_MISSING");
    // Without a verifier (solo, BFT), no Atomix kind passes.
    assert.equal(validateStateless(packTransactions([abort(rejectedIn(1))]), 0, SHARDS).rejections[0]?.code, "TX_ATOMIX_UNSUPPORTED");
  });

  it("an abort goes to input shards only; the coordinator is the shard of the least input", () => {
    const outputOnly = signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [{ txid: rng.bytes(32), index: 0, owner: alice!.publicKey, amount: 10n }], outputs: [{ owner: dave!.publicKey, amount: 10n }],
    }, accounts);
    const abort = encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: outputOnly.unsigned, proofs: [finalHeight(keys[0]!, 0, [], [{ txid: outputOnly.txid, code: "MISSING_INPUT" }]).rejection(0)] });
    assert.deepEqual([stateless(abort, 0), stateless(abort, 1)], [null, "TX_WRONG_SHARD"]);
    assert.equal(coordinatorShard(x.unsigned, SHARDS), 0, "equal amounts: the first input's shard");
    const cheaperBob = signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [{ txid: rng.bytes(32), index: 0, owner: alice!.publicKey, amount: 10n }, { txid: rng.bytes(32), index: 0, owner: bob!.publicKey, amount: 5n }], outputs: [{ owner: dave!.publicKey, amount: 15n }],
    }, accounts);
    assert.equal(coordinatorShard(cheaperBob.unsigned, SHARDS), 1);
  });

  it("each shard decides a transfer once: the phase table", () => {
    const lock = TxKind.AtomixLock;
    const commit = TxKind.AtomixUnlockCommit;
    const abort = TxKind.AtomixUnlockAbort;
    assert.deepEqual([undefined, "locked", "refused", "committed", "aborted"].map((phase) => admits(lock, phase as never)), [true, false, false, false, false]);
    assert.deepEqual([undefined, "locked", "refused", "committed", "aborted"].map((phase) => admits(commit, phase as never)), [true, true, false, false, false]);
    assert.deepEqual([undefined, "locked", "refused", "committed", "aborted"].map((phase) => admits(abort, phase as never)), [true, true, true, false, false]);
    assert.deepEqual([phaseAfter(lock, true, false), phaseAfter(lock, false, false), phaseAfter(commit, true, false), phaseAfter(commit, false, false), phaseAfter(abort, true, false), phaseAfter(abort, false, false)],
      ["locked", "refused", "committed", undefined, "aborted", "aborted"]);
    // The lock of X's only input shard is its commit there; refused, it is refused all the same.
    assert.deepEqual([phaseAfter(lock, true, true), phaseAfter(lock, false, true)], ["committed", "refused"]);
  });
});

describe("Unlock-to-commit batches (issue 13: one transaction and one proof for the transfers one height settled)", () => {
  const { keys, directory } = committees(4);
  const decisions = new CommitteeProofVerifier(directory, verifier);
  const stateless = (tx: Uint8Array, shard: number, verifier: CommitteeProofVerifier = decisions) => validateStateless(packTransactions([tx]), shard, SHARDS, "submitted", verifier).rejections[0]?.code ?? null;
  /** A transfer settled by its lock in shard 0: alice's coin pays bob (shard 1) and her change to carol (shard 0). */
  const settledTransfer = (amount: bigint) => signCrossShardTransfer({
    kind: TxKind.AtomixLock, inputs: [{ txid: rng.bytes(32), index: 0, owner: alice!.publicKey, amount }], outputs: [{ owner: bob!.publicKey, amount: amount - 3n }, { owner: carol!.publicKey, amount: 2n }],
  }, accounts);
  const settled = Array.from({ length: 40 }, (_, k) => settledTransfer(1_000n + BigInt(k)));
  const filler = Array.from({ length: 60 }, () => rng.bytes(32));
  // Shard 0's height: the settled transfers among other transactions, every third place.
  const included = filler.flatMap((txid, i) => (i < settled.length ? [txid, settled[i]!.txid] : [txid]));
  const height = finalHeight(keys[0]!, 0, included, []);
  const positionOf = (x: SignedCrossShardTransfer) => included.findIndex((txid) => sameBytes(txid, x.txid));
  const proofOf = (x: SignedCrossShardTransfer, prover = height) => ({ unsigned: x.unsigned, proof: prover.acceptance(positionOf(x)) });
  const [batch] = unlockBatchesFor(settled.map((x) => proofOf(x)));

  it("commits every transfer of a height in its output shard with one proof: shard 1 creates each X's output there, nothing else; the txid covers the transfers, not the proof", () => {
    assert.equal(unlockBatchesFor(settled.map((x) => proofOf(x))).length, 1, "40 transfers fit one batch");
    assert.deepEqual([...batch!.members].sort((a, b) => a - b), settled.map((_, k) => k));
    assert.equal(stateless(batch!.bytes, 1), null);
    const decoded = decodeAtomixUnlockBatch(batch!.bytes);
    assert.deepEqual(encodeAtomixUnlockBatch(decoded), batch!.bytes);
    assert.deepEqual(decoded.crosses.map((cross) => Buffer.from(cross).toString("hex")).sort(), settled.map((x) => Buffer.from(x.unsigned).toString("hex")).sort());
    // The same transfers under another proof of their inclusion (another height holding them): another encoding, the same transaction.
    const elsewhere = finalHeight(keys[0]!, 0, [...settled.map((x) => x.txid), ...filler], [], undefined, 9);
    const [again] = unlockBatchesFor(settled.map((x) => ({ unsigned: x.unsigned, proof: elsewhere.acceptance(settled.indexOf(x)) })));
    assert.notDeepEqual(again!.bytes, batch!.bytes);
    assert.equal(stateless(again!.bytes, 1), null);
    const txidOf = (bytes: Uint8Array) => Buffer.from(transactionIdOfEncoding(bytes)).toString("hex");
    assert.deepEqual(txidOf(again!.bytes), txidOf(encodeAtomixUnlockBatch({ ...decodeAtomixUnlockBatch(again!.bytes), crosses: decoded.crosses })));
    const record = new RecordCursor(applyRecordOf(batch!.bytes, transactionIdOfEncoding(batch!.bytes), 1, SHARDS));
    assert.equal(record.kind, TxKind.AtomixUnlockBatch);
    assert.equal(record.inputCount, 0);
    assert.equal(record.outputCount, settled.length, "bob's output of each X; carol's change was created by the lock");
    const created = Array.from({ length: record.outputCount }, (_, j) => Buffer.from(record.createdKey(j)).toString("hex")).sort();
    assert.deepEqual(created, settled.map((x) => Buffer.concat([x.txid, Buffer.from([0, 0, 0, 0])]).toString("hex")).sort());
    assert.deepEqual(crossTxidsOfRecord(TxKind.AtomixUnlockBatch, record.bytes).map((txid) => Buffer.from(txid).toString("hex")).sort(), settled.map((x) => Buffer.from(x.txid).toString("hex")).sort());
    assert.deepEqual(atomixUnlockBatchKind.shards(batch!.bytes, SHARDS), [1]);
  });

  it("splits what does not fit a transaction into batches that each pass and together hold every transfer once", () => {
    const batches = unlockBatchesFor(settled.map((x) => proofOf(x)), 3_000);
    assert.ok(batches.length >= 3, `${batches.length} batches`);
    for (const { bytes } of batches) {
      assert.ok(bytes.length <= 3_000);
      assert.equal(stateless(bytes, 1), null);
    }
    assert.deepEqual(batches.flatMap((b) => b.members).sort((a, b) => a - b), settled.map((_, k) => k));
    assert.equal(codeOf(() => unlockBatchesFor(settled.map((x) => proofOf(x)), 100)), "TX_TOO_LARGE");
    // More than a transaction holds (MAX_TX_BYTES): split as well.
    const many = Array.from({ length: 130 }, (_, k) => settledTransfer(5_000n + BigInt(k)));
    const manyHeight = finalHeight(keys[0]!, 0, many.map((x) => x.txid), []);
    const split = unlockBatchesFor(many.map((x, k) => ({ unsigned: x.unsigned, proof: manyHeight.acceptance(k) })));
    assert.ok(split.length >= 2 && split.every(({ bytes }) => bytes.length <= MAX_TX_BYTES && stateless(bytes, 1) === null), `${split.length} batches of ${split.map((b) => b.bytes.length).join(", ")} bytes`);
    assert.deepEqual(split.flatMap((b) => b.members).sort((a, b) => a - b), many.map((_, k) => k));
    assert.equal(codeOf(() => unlockBatchesFor([proofOf(settled[0]!), proofOf(settled[1]!, finalHeight(keys[0]!, 0, included, [], undefined, 8))])), "TX_BAD_FIELD", "two heights' proofs");
    assert.equal(codeOf(() => unlockBatchesFor([{ unsigned: settled[0]!.unsigned, proof: finalHeight(keys[0]!, 0, [], [{ txid: settled[0]!.txid, code: "MISSING_INPUT" }]).rejection(0) }])), "TX_PROOF_WRONG_VERDICT");
  });

  it("checks the height's certificate once per verifier, for batches and single proofs of it alike", () => {
    const counting = new CountingVerifier();
    const warm = new CommitteeProofVerifier(directory, counting);
    assert.equal(stateless(batch!.bytes, 1, warm), null);
    assert.equal(warm.verify(height.acceptance(1), included[1]!).accepted, true);
    assert.equal(stateless(unlockBatchesFor(settled.slice(0, 5).map((x) => proofOf(x)))[0]!.bytes, 1, warm), null);
    assert.equal(counting.calls, 1);
    assert.deepEqual(FINAL_CHAIN_DECISIONS.verifyIncluded(decodeAtomixUnlockBatch(batch!.bytes).certificate, new Uint8Array(0), new Uint8Array(0)), { epoch: 0, shard: 0 });
  });

  it("refuses, with codes: the shard that settled them, a transfer with inputs in two shards, another shard's proof, a transfer the height does not hold, a forged path, index or certificate, too few signers, an unknown committee, any flipped byte", () => {
    const edit = (change: (batch: ReturnType<typeof decodeAtomixUnlockBatch>) => Partial<ReturnType<typeof decodeAtomixUnlockBatch>>) => {
      const decoded = decodeAtomixUnlockBatch(batch!.bytes);
      return encodeAtomixUnlockBatch({ ...decoded, ...change(decoded) });
    };
    assert.equal(stateless(batch!.bytes, 0), "TX_WRONG_SHARD", "shard 0 settled them: it has nothing to commit");
    // X, with inputs in both shards, included by shard 0: its lock there settles nothing.
    const { x } = transfers();
    const mixedHeight = finalHeight(keys[0]!, 0, [x.txid, settled[0]!.txid], []);
    const mixed = unlockBatchesFor([{ unsigned: x.unsigned, proof: mixedHeight.acceptance(0) }, { unsigned: settled[0]!.unsigned, proof: mixedHeight.acceptance(1) }])[0]!.bytes;
    assert.equal(stateless(mixed, 1), "TX_BAD_FIELD");
    // Shard 1's committee signing a height that holds transfers shard 0 settled.
    const theirs = finalHeight(keys[1]!, 1, included, []);
    assert.equal(stateless(unlockBatchesFor(settled.slice(0, 3).map((x) => proofOf(x, theirs)))[0]!.bytes, 0), "TX_WRONG_SHARD");
    const otherShards = unlockBatchesFor(settled.slice(0, 3).map((x) => proofOf(x, theirs)))[0]!.bytes;
    assert.equal(stateless(otherShards, 1), "TX_BAD_FIELD", "the proof is shard 1's, the transfers were settled in shard 0");
    const stranger = settledTransfer(77n);
    assert.equal(stateless(edit((b) => ({ crosses: [stranger.unsigned, ...b.crosses.slice(1)] })), 1), "TX_PROOF_BAD_PATH", "a transfer the height does not hold, at another's place");
    assert.equal(stateless(edit((b) => ({ crosses: [b.crosses[1]!, b.crosses[0]!, ...b.crosses.slice(2)] })), 1), "TX_PROOF_BAD_PATH", "two transfers swapped");
    assert.equal(stateless(edit((b) => ({ crosses: b.crosses.slice(1) })), 1), "TX_PROOF_BAD_PATH", "one transfer left out under the same multiproof");
    assert.equal(stateless(edit(() => ({ certificate: finalHeight(keys[0]!, 0, [...included].reverse(), [], undefined, 8).certificate() })), 1), "TX_PROOF_BAD_PATH", "another height's certificate: another root");
    assert.equal(stateless(edit(() => ({ certificate: finalHeight(keys[0]!, 0, included, [], [0, 1]).certificate() })), 1), "TX_PROOF_BAD_SIGNATURE", "2 of 4 signers");
    assert.equal(stateless(batch!.bytes, 1, new CommitteeProofVerifier((epoch, shard, b) => directory(epoch + 1, shard, b), verifier)), "TX_PROOF_UNKNOWN_COMMITTEE");
    assert.equal(stateless(edit(() => ({ multiproof: new Uint8Array(3) })), 1), "TX_PROOF_MALFORMED");
    for (let at = 0; at < batch!.bytes.length; at++) {
      const flipped = Uint8Array.from(batch!.bytes);
      flipped[at]! ^= 0x01;
      assert.match(String(stateless(flipped, 1)), /^TX_/, `flipped byte ${at}`);
    }
    assert.equal(codeOf(() => encodeAtomixUnlockBatch({ kind: TxKind.AtomixUnlockBatch, crosses: [], certificate: new Uint8Array(0), multiproof: new Uint8Array(0) })), "TX_BAD_FIELD");
    // Without a verifier (solo, BFT), no Atomix kind passes.
    assert.equal(validateStateless(packTransactions([batch!.bytes]), 1, SHARDS).rejections[0]?.code, "TX_ATOMIX_UNSUPPORTED");
  });

  it("from the height's certificate and each transfer's path (an ATOMIX frame's parts), the same batches byte for byte as from the whole proofs; paths that make no multiproof are refused with codes", () => {
    const pathOf = (x: SignedCrossShardTransfer) => ({ unsigned: x.unsigned, path: height.acceptancePath(positionOf(x)) });
    // Given in another order than the height's: the members still index what was given.
    const shuffled = [...settled].reverse();
    for (const maxBytes of [MAX_TX_BYTES, 3_000]) {
      const fromPaths = unlockBatchesOfHeight(height.certificate(), shuffled.map(pathOf), maxBytes);
      assert.ok(maxBytes === MAX_TX_BYTES ? fromPaths.length === 1 : fromPaths.length >= 3, `${fromPaths.length} batches under ${maxBytes} bytes`);
      assert.deepEqual(fromPaths, unlockBatchesFor(shuffled.map((x) => proofOf(x)), maxBytes));
    }
    const many = Array.from({ length: 130 }, (_, k) => settledTransfer(9_000n + BigInt(k)));
    const manyHeight = finalHeight(keys[0]!, 0, many.map((x) => x.txid), []);
    const split = unlockBatchesOfHeight(manyHeight.certificate(), many.map((x, k) => ({ unsigned: x.unsigned, path: manyHeight.acceptancePath(k) })));
    assert.ok(split.length >= 2);
    assert.deepEqual(split, unlockBatchesFor(many.map((x, k) => ({ unsigned: x.unsigned, proof: manyHeight.acceptance(k) }))));
    assert.deepEqual(unlockBatchesOfHeight(height.certificate(), []), []);
    const [first, second] = settled.map(pathOf);
    assert.equal(codeOf(() => unlockBatchesOfHeight(height.certificate(), [first!, { ...second!, path: second!.path.subarray(1) }])), "TX_PROOF_MALFORMED", "a malformed path");
    assert.equal(codeOf(() => unlockBatchesOfHeight(height.certificate(), [first!, { ...second!, path: manyHeight.acceptancePath(3) }])), "TX_BAD_FIELD", "another tree's path");
    assert.equal(codeOf(() => unlockBatchesOfHeight(height.certificate(), [first!, { ...second!, path: first!.path }])), "TX_BAD_FIELD", "one position twice");
  });

  it("each X of a batch is decided once, as by a single unlock-to-commit: the phase table", () => {
    const phases = [undefined, "locked", "refused", "committed", "aborted"] as const;
    assert.deepEqual(phases.map((phase) => admits(TxKind.AtomixUnlockBatch, phase)), phases.map((phase) => admits(TxKind.AtomixUnlockCommit, phase)));
    assert.deepEqual([phaseAfter(TxKind.AtomixUnlockBatch, true, false), phaseAfter(TxKind.AtomixUnlockBatch, false, false)], ["committed", undefined]);
  });
});

describe("ATOMIX frames (issue 13: the height's certificate once, each decision's verdict and path)", () => {
  const { keys, directory } = committees(4);
  const [locked, refused, committed, aborted] = (["locked", "refused", "committed", "aborted"] as const).map(encodeAtomixPhase);
  const NONE = new Uint8Array(0);
  // Shard 0's height: 30 accepted locks among other transactions, 6 refused ones among other exclusions.
  const accepted = Array.from({ length: 30 }, () => rng.bytes(32));
  const included = accepted.flatMap((txid) => [rng.bytes(32), txid]);
  const refusals = Array.from({ length: 6 }, (_, k) => ({ txid: rng.bytes(32), code: k % 2 === 0 ? "MISSING_INPUT" : "NOT_LOCKED" }));
  const excluded = [{ txid: rng.bytes(32), code: "POB_NOT_ASSIGNED" }, ...refusals];
  const prover = finalHeight(keys[0]!, 0, included, excluded);
  const acceptedAt = (k: number) => 2 * k + 1;
  const decisions: AtomixFrameDecision[] = [
    ...accepted.map((txid, k) => ({ txid, phase: k % 3 === 0 ? committed : locked, code: "", path: prover.acceptancePath(acceptedAt(k)) })),
    ...refusals.map(({ txid, code }, k) => ({ txid, phase: refused, code, path: prover.rejectionPath(k + 1) })),
    // An unlock's commit and an abort here: no lock decision, no proof.
    { txid: rng.bytes(32), phase: committed, code: "", path: NONE },
    { txid: rng.bytes(32), phase: aborted, code: "", path: NONE },
  ];
  const batch: AtomixBatch = { height: 2 ** 40 + 7, certificate: prover.certificate(), decisions };
  const frame = encodeAtomix(batch);
  /** The frame as the stream codec's module doc lays it out, written field by field with no check. */
  const rawFrame = (certificate: Uint8Array, list: readonly AtomixFrameDecision[], count = list.length): Uint8Array => {
    const parts: Buffer[] = [Buffer.from([FRAME_ATOMIX]), Buffer.alloc(8), Buffer.alloc(2), Buffer.from(certificate), Buffer.alloc(4)];
    parts[1]!.writeBigUInt64LE(BigInt(batch.height));
    parts[2]!.writeUInt16LE(certificate.length);
    parts[4]!.writeUInt32LE(count);
    for (const { txid, phase, code, path } of list) {
      const length = Buffer.alloc(2);
      length.writeUInt16LE(path.length);
      parts.push(Buffer.from(txid), Buffer.from([phase, code.length]), Buffer.from(code, "latin1"), length, Buffer.from(path));
    }
    return new Uint8Array(Buffer.concat(parts));
  };
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

  it("round-trips, laid out as documented, with the certified part once; each lock decision's proof rebuilt from the certificate is the prover's, byte for byte, and verifies", () => {
    assert.equal(hex(frame), hex(rawFrame(batch.certificate, decisions)));
    const certified = Buffer.from(batch.certificate.subarray(23));
    assert.equal(Buffer.from(frame).indexOf(certified), Buffer.from(frame).lastIndexOf(certified), "the certified part is carried once");
    const decoded = decodeAtomix(frame);
    assert.equal(atomixFrameHeight(frame), batch.height);
    assert.deepEqual(decoded, batch);
    const verdicts: string[] = [];
    decoded.decisions.forEach((decision, i) => {
      if (decision.path.length === 0) return;
      const rebuilt = decisionProofOf(decoded.certificate, decision);
      const cut = i < accepted.length ? prover.acceptance(acceptedAt(i)) : prover.rejection(i - accepted.length + 1);
      assert.equal(hex(rebuilt), hex(cut), `decision ${i}`);
      const proven = verifyDecisionProof(rebuilt, decision.txid, directory, verifier);
      verdicts.push(proven.accepted ? "accepted" : proven.code!);
    });
    assert.deepEqual(verdicts, [...accepted.map(() => "accepted"), ...refusals.map((r) => r.code)]);
    // A height whose decisions are no lock decisions: no certificate, no path.
    const bare = { height: 3, certificate: NONE, decisions: decisions.slice(-2) };
    assert.deepEqual(decodeAtomix(encodeAtomix(bare)), bare);
    assert.equal(codeOf(() => decisionProofOf(batch.certificate.subarray(1), decisions[0]!)), "TX_PROOF_MALFORMED");
  });

  it("refuses, STREAM_BAD_FRAME: every truncation, a trailing byte, every length field one more or one less, a verdict without a path, paths without a certificate or a certificate without paths, a length over its bound, another frame type", () => {
    const bad = (bytes: Uint8Array) => codeOf(() => decodeAtomix(bytes));
    for (let length = 0; length < frame.length; length++) assert.equal(bad(frame.subarray(0, length)), "STREAM_BAD_FRAME", `cut at ${length}`);
    assert.equal(bad(Uint8Array.from([...frame, 0])), "STREAM_BAD_FRAME", "a trailing byte");
    // Every length field: (offset, width); the count's too.
    const fields: [number, 1 | 2 | 4][] = [[9, 2], [11 + batch.certificate.length, 4]];
    let at = 15 + batch.certificate.length;
    for (const { code, path } of decisions) {
      fields.push([at + 33, 1], [at + 34 + code.length, 2]);
      at += 36 + code.length + path.length;
    }
    assert.equal(at, frame.length);
    for (const [offset, width] of fields) {
      const value = Buffer.from(frame).readUIntLE(offset, width);
      for (const changed of [value + 1, value - 1]) {
        if (changed < 0) continue;
        const flipped = Buffer.from(frame);
        flipped.writeUIntLE(changed, offset, width);
        assert.equal(bad(new Uint8Array(flipped)), "STREAM_BAD_FRAME", `length at ${offset}: ${value} → ${changed}`);
      }
    }
    assert.equal(bad(rawFrame(NONE, [{ txid: rng.bytes(32), phase: refused, code: "MISSING_INPUT", path: NONE }])), "STREAM_BAD_FRAME", "a verdict without a path");
    assert.equal(bad(rawFrame(NONE, decisions)), "STREAM_BAD_FRAME", "paths without their certificate");
    assert.equal(bad(rawFrame(batch.certificate, decisions.slice(-2))), "STREAM_BAD_FRAME", "a certificate without a path");
    assert.equal(bad(rawFrame(new Uint8Array(MAX_FINAL_HEIGHT_CERTIFICATE_BYTES + 1), decisions)), "STREAM_BAD_FRAME", "a certificate over its bound");
    assert.equal(bad(rawFrame(batch.certificate, [{ ...decisions[0]!, path: new Uint8Array(MAX_DECISION_PROOF_BYTES + 1) }])), "STREAM_BAD_FRAME", "a path over its bound");
    assert.equal(bad(rawFrame(batch.certificate, decisions, 0xffff_ffff)), "STREAM_BAD_FRAME", "a count no frame holds");
    const otherType = Uint8Array.from([FRAME_ATOMIX + 1, ...frame.subarray(1)]);
    assert.equal(bad(otherType), "STREAM_BAD_FRAME");
    assert.equal(codeOf(() => atomixFrameHeight(otherType)), "STREAM_BAD_FRAME");
    assert.equal(codeOf(() => atomixFrameHeight(frame.subarray(0, 5))), "STREAM_BAD_FRAME");
    // The encoder writes nothing the decoder refuses.
    const encodeBad = (certificate: Uint8Array, list: AtomixFrameDecision[]) => codeOf(() => encodeAtomix({ height: 1, certificate, decisions: list }));
    assert.equal(encodeBad(batch.certificate, [{ ...decisions[0]!, txid: rng.bytes(31) }]), "STREAM_BAD_FRAME", "a short txid");
    assert.equal(encodeBad(batch.certificate, [decisions[0]!, { ...decisions[0]!, code: "MISSING_INPUT", path: NONE }]), "STREAM_BAD_FRAME", "a verdict without a path");
    assert.equal(encodeBad(NONE, decisions), "STREAM_BAD_FRAME", "paths without their certificate");
    assert.equal(encodeBad(batch.certificate, decisions.slice(-2)), "STREAM_BAD_FRAME", "a certificate without a path");
    assert.equal(encodeBad(batch.certificate, [{ ...decisions[0]!, code: "X".repeat(256) }]), "STREAM_BAD_FRAME", "a code over 255 bytes");
  });
});

describe("Decision proofs built when read from the store (issue 13: no proof stored per lock)", () => {
  const { keys, directory } = committees(4);
  const L = 4;
  /** Well-formed transactions: locks of distinct transfers (what a shard's blocks hold; any kind would do). */
  const locks = (count: number) => Array.from({ length: count }, () => transfers().x);

  /** Height `height` as the committing replica had it: its block, its records for the store, and its in-memory prover (what cut the proofs stored before). */
  function committedHeight(height: number, included: readonly SignedCrossShardTransfer[], excluded: readonly { txid: Uint8Array; code: string }[], atomix: StoredBlock["atomix"]) {
    const transactions = included.map((t) => t.bytes);
    const prover = finalHeight(keys[0]!, 0, included.map((t) => t.txid), excluded, [0, 1, 2], height);
    const header = makeBlockHeader({ kind: BlockKind.Final, shard: 0, epoch: 0, height, prevHash: rng.bytes(32), timestamp: 1_000 + height, producer: rng.bytes(32) }, transactions);
    const bytes = encodeBlock(header, { kind: "collective", participants: new Uint8Array(1), signature: rng.bytes(64) }, transactions);
    const block: StoredBlock = {
      height, hash: blockHash(header), bytes, txids: txidsOf(transactions), positions: transactions.map((_, i) => i),
      certificate: prover.certificate(), proposal: rng.bytes(100), rejections: excluded, atomix,
    };
    return { block, prover };
  }
  const locked = encodeAtomixPhase("locked");
  const refused = encodeAtomixPhase("refused");
  const committed = encodeAtomixPhase("committed");
  const flush = { spent: new Uint8Array(0), created: new Uint8Array(0), count: 0, supply: 0n };
  const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString("hex"));

  for (const makeBackend of BACKENDS) {
    const backend = makeBackend();
    it(`equal, byte for byte, the proofs the deciding replica cut at commit, and verify offline; a later phase keeps them; no decision, no proof (${backend.name})`, async () => {
      const medium = backend.fresh();
      let store = backend.open(medium);
      store.initialize({ shard: 0, genesisId: rng.bytes(32) }, new Uint8Array(0));
      const [a, b, x, c] = locks(4);
      const { y } = transfers();
      const output = rng.bytes(32);
      const first = committedHeight(1, [a!, b!, x!, c!], [{ txid: rng.bytes(32), code: "POB_NOT_ASSIGNED" }, { txid: y.txid, code: "MISSING_INPUT" }],
        [{ crossTxid: x!.txid, phase: locked, decided: true }, { crossTxid: y.txid, phase: refused, decided: true }, { crossTxid: output, phase: committed, fresh: true }]);
      store.appendBlock(first.block, flush);
      const expected = { x: first.prover.acceptance(2), y: first.prover.rejection(1) };
      const check = (when: string) => {
        const reader = new DecisionProofReader(store);
        const proofOf = (txid: Uint8Array) => reader.proofOf(txid, store.atomix(txid)!);
        assert.equal(hex(proofOf(x!.txid)), hex(expected.x), `${when}: the acceptance, as stored before`);
        assert.equal(hex(proofOf(y.txid)), hex(expected.y), `${when}: the rejection, as stored before`);
        assert.equal(hex(decisionProofAt(store, x!.txid, store.atomix(x!.txid)!)), hex(expected.x), `${when}: without a reader's provers, the same`);
        assert.deepEqual(verifyDecisionProof(proofOf(x!.txid)!, x!.txid, directory), { epoch: 0, shard: 0, accepted: true, code: undefined });
        assert.deepEqual(verifyDecisionProof(proofOf(y.txid)!, y.txid, directory), { epoch: 0, shard: 0, accepted: false, code: "MISSING_INPUT" });
        assert.equal(proofOf(output), undefined, `${when}: an output shard's entry has no proof`);
        assert.equal(store.atomix(x!.txid)!.proof.length, 0, `${when}: no proof bytes stored with the entry`);
      };
      check("appended");
      assert.deepEqual({ ...store.atomix(output)!, proof: hex(store.atomix(output)!.proof) }, { phase: committed, height: 1, decidedAt: NOT_DECIDED_HERE, proof: "" }, "a fresh write: a first entry");
      // X committed here at height 2 (an unlock): the entry moves on, its decision stays at height 1. Z, fresh, is locked and
      // committed in that one height: one entry, the last phase, decided there.
      const z = rng.bytes(32);
      store.appendBlock(committedHeight(2, locks(2), [], [
        { crossTxid: x!.txid, phase: committed }, { crossTxid: z, phase: locked, decided: true, fresh: true }, { crossTxid: z, phase: committed },
      ]).block, flush);
      assert.deepEqual({ ...store.atomix(x!.txid)!, proof: hex(store.atomix(x!.txid)!.proof) }, { phase: committed, height: 2, decidedAt: 1, proof: "" });
      assert.deepEqual({ ...store.atomix(z)!, proof: hex(store.atomix(z)!.proof) }, { phase: committed, height: 2, decidedAt: 2, proof: "" });
      check("after a later phase");
      await store.close();
      store = backend.open(medium);
      check("reopened");
      // An entry naming a height that decided nothing about X yields no proof, never another transaction's.
      assert.equal(decisionProofAt(store, x!.txid, { ...store.atomix(x!.txid)!, decidedAt: 2 }), undefined);
      assert.equal(decisionProofAt(store, x!.txid, { ...store.atomix(x!.txid)!, decidedAt: 9 }), undefined, "a height not stored");
      await store.close();
    });

    for (const beforeIndex of [false, true]) {
      const written = beforeIndex ? ", in a store written before the atomixDecided index (built when it opens)" : "";
      it(`a prune writes the proofs still asked for into their entries before their height goes, and only those${written} (${backend.name})`, async () => {
        const medium = backend.fresh();
        let store = backend.open(medium);
        store.initialize({ shard: 0, genesisId: rng.bytes(32) }, new Uint8Array(0));
        const [open, settledByLock, unlocked] = locks(3);
        const { y } = transfers();
        const first = committedHeight(1, [open!, settledByLock!, unlocked!], [{ txid: y.txid, code: "MISSING_INPUT" }], [
          { crossTxid: open!.txid, phase: locked, decided: true }, { crossTxid: settledByLock!.txid, phase: committed, decided: true },
          { crossTxid: unlocked!.txid, phase: locked, decided: true }, { crossTxid: y.txid, phase: refused, decided: true },
        ]);
        store.appendBlock(first.block, flush);
        for (let height = 2; height <= 3 * L; height++) {
          const epoch = height / L - 1;
          const ends = height % L === 0;
          const atomix = height === 2 ? [{ crossTxid: unlocked!.txid, phase: committed }] : [];
          if (beforeIndex && height === 2 * L) {
            // The first prune comes at 2L: before it, the store loses its index and marker, as an older program's store never had them.
            await store.close();
            await backend.rawTable(medium, "atomixDecided", (table) => {
              for (const txid of [open!.txid, settledByLock!.txid, unlocked!.txid, y.txid]) {
                const key = atomixDecidedKey(1, txid);
                assert.ok(table.get(key) !== undefined, "height 1's decisions are indexed");
                table.remove(key);
              }
            });
            await backend.rawTable(medium, "meta", (table) => table.remove(META_ATOMIX_INDEXED));
            store = backend.open(medium);
          }
          store.appendBlock({
            ...committedHeight(height, locks(1), [], atomix).block,
            ...(ends ? { msb: { epoch, header: rng.bytes(100), body: new Uint8Array(0), decisions: new Uint8Array(0) }, prune: { below: epoch * L + 1, epochLength: L } } : {}),
          }, flush);
        }
        const check = (when: string) => {
          assert.equal(store.prunedBelow, 2 * L + 1, when);
          assert.equal(store.getBlock(1), undefined, `${when}: height 1 is pruned`);
          const reader = new DecisionProofReader(store);
          const proofOf = (txid: Uint8Array) => reader.proofOf(txid, store.atomix(txid)!);
          assert.equal(hex(proofOf(open!.txid)), hex(first.prover.acceptance(0)), `${when}: still locked: kept`);
          assert.equal(hex(proofOf(settledByLock!.txid)), hex(first.prover.acceptance(1)), `${when}: settled by its lock within the rewatch bound: kept`);
          assert.equal(hex(proofOf(y.txid)), hex(first.prover.rejection(0)), `${when}: refused: kept`);
          assert.equal(proofOf(unlocked!.txid), undefined, `${when}: committed here by an unlock: nobody asks for it any more`);
          assert.equal(store.atomix(unlocked!.txid)!.phase, committed, `${when}: the phase stays (replay guard)`);
        };
        check("pruned");
        await store.close();
        store = backend.open(medium);
        check("reopened");
        await store.close();
        await backend.rawTable(medium, "atomixDecided", (table) => {
          for (const txid of [open!.txid, y.txid]) assert.equal(table.get(atomixDecidedKey(1, txid)), undefined, "the pruned height's index entries went with it");
        });
      });
    }
  }

  it("keepsProofAfterPrune: locked or refused always, settled by its lock only within SETTLED_REWATCH_HEIGHTS, never without a decision or when already written", () => {
    const entry = (phase: Parameters<typeof encodeAtomixPhase>[0], height: number, decidedAt: number, proof = new Uint8Array(0)) => ({ phase: encodeAtomixPhase(phase), height, decidedAt, proof });
    const at = 5_000;
    assert.equal(keepsProofAfterPrune(entry("locked", 10, 10), at), true);
    assert.equal(keepsProofAfterPrune(entry("refused", 10, 10), at), true);
    assert.equal(keepsProofAfterPrune(entry("committed", at - SETTLED_REWATCH_HEIGHTS, at - SETTLED_REWATCH_HEIGHTS), at), true);
    assert.equal(keepsProofAfterPrune(entry("committed", at - SETTLED_REWATCH_HEIGHTS - 1, at - SETTLED_REWATCH_HEIGHTS - 1), at), false);
    assert.equal(keepsProofAfterPrune(entry("committed", 20, 10), at), false, "committed by a later unlock");
    assert.equal(keepsProofAfterPrune(entry("aborted", 20, 10), at), false);
    assert.equal(keepsProofAfterPrune(entry("locked", 10, NOT_DECIDED_HERE), at), false, "a restored entry");
    assert.equal(keepsProofAfterPrune(entry("locked", 10, 10, new Uint8Array(5)), at), false, "already written");
  });
});

describe("Unlocks cite their heights' shared certified part in a block (issue 13)", () => {
  const { keys, directory } = committees(4);
  const xs = Array.from({ length: 6 }, () => transfers().x);
  // Two final heights per input shard decide the six transfers: X0–X2 in heights a, X3–X5 in heights b.
  const heightOf = (shard: number, group: readonly SignedCrossShardTransfer[], height: number) => finalHeight(keys[shard]!, shard, [rng.bytes(32), ...group.map((t) => t.txid)], [], keys[shard]!.map((_, i) => i), height);
  const provers = [0, 1].map((shard) => [heightOf(shard, xs.slice(0, 3), 11), heightOf(shard, xs.slice(3), 12)]);
  const acceptance = (shard: number, k: number) => provers[shard]![k < 3 ? 0 : 1]!.acceptance(1 + (k % 3));
  const unlocks = xs.map((x, k) => encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: x.unsigned, proofs: [acceptance(0, k), acceptance(1, k)] }));
  // A rejection of X5 by shard 0, in a third height: an abort citing its own part.
  const rejection = finalHeight(keys[0]!, 0, [], [{ txid: xs[5]!.txid, code: "MISSING_INPUT" }], [0, 1, 2, 3], 13).rejection(0);
  const abort = encodeAtomixUnlock({ kind: TxKind.AtomixUnlockAbort, cross: xs[5]!.unsigned, proofs: [rejection] });
  // Other transactions are carried as they are: a lock.
  const transactions = [unlocks[0]!, xs[0]!.bytes, unlocks[1]!, unlocks[3]!, abort, unlocks[2]!, unlocks[4]!, unlocks[5]!];
  const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: 0, height: 5, prevHash: rng.bytes(32), timestamp: 1_000, producer: rng.bytes(32) }, transactions);
  const signature = rng.bytes(64);
  const encoded = encodeBlock(header, { kind: "producer", signature }, transactions);
  const regionAt = encodeBlockHeader(header).length + signature.length;
  const blockOf = (region: Uint8Array, head: BlockHeader = header) => Buffer.concat([encodeBlockHeader(head), signature, region]);
  const stateless = (body: Uint8Array, ed25519: Ed25519Verifier) => validateStateless(body, 0, SHARDS, "submitted", new CommitteeProofVerifier(directory, ed25519)).rejections.flatMap((r, k) => (r === null ? [] : [`${k}:${r.code}`]));

  /** A sectioned region as its parts and its transactions (citations in place). */
  function split(region: Uint8Array): { parts: Uint8Array[]; txs: Uint8Array[] } {
    const view = Buffer.from(region.buffer, region.byteOffset, region.length);
    assert.equal(view.readUInt32LE(0), CITED_BODY_MARK);
    let at = 6;
    const parts = Array.from({ length: view.readUInt16LE(4) }, () => {
      const length = view.readUInt16LE(at);
      at += 2 + length;
      return Uint8Array.from(view.subarray(at - length, at));
    });
    const txs: Uint8Array[] = [];
    while (at < view.length) {
      const length = view.readUInt32LE(at);
      txs.push(Uint8Array.from(view.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    return { parts, txs };
  }
  const join = ({ parts, txs }: { parts: readonly Uint8Array[]; txs: readonly Uint8Array[] }): Uint8Array => {
    const head = Buffer.alloc(6);
    head.writeUInt32LE(CITED_BODY_MARK, 0);
    head.writeUInt16LE(parts.length, 4);
    return Buffer.concat([head, ...parts.flatMap((p) => [Buffer.from(Uint16Array.of(p.length).buffer), p]), ...txs.flatMap((tx) => [Buffer.from(Uint32Array.of(tx.length).buffer), tx])]);
  };
  /** The citations of an unlock in the region's form: [offset in the tx, part cited]. */
  const citationsOf = (tx: Uint8Array): [number, number][] => {
    const out: [number, number][] = [];
    let at = atomixUnlockProofsAt(tx) + 1;
    for (let k = 0; k < tx[atomixUnlockProofsAt(tx)]!; k++) {
      if (tx[at + 2] === CITED_PROOF_VERSION) out.push([at + 2, tx[at + 4]! | (tx[at + 5]! << 8)]);
      at += 2 + (tx[at]! | (tx[at + 1]! << 8));
    }
    return out;
  };
  const region = encoded.subarray(regionAt);
  const { parts, txs } = split(region);
  const decodeCode = (bytes: Uint8Array) => codeOf(() => decodeBlock(bytes));

  it("carries each height's certified part once, cited by every unlock of it, and decodes to the unlocks as submitted", () => {
    assert.equal(parts.length, 5, "heights a and b of both input shards, and the rejection's height");
    assert.deepEqual(txs[1], xs[0]!.bytes, "a lock is carried as it is");
    assert.deepEqual(citationsOf(txs[0]!).map(([, part]) => part), [0, 1], "X0 cites shard 0's and shard 1's height a");
    assert.deepEqual(citationsOf(txs[3]!).map(([, part]) => part), [2, 3], "X3 cites the heights b, parts in order of first citation");
    assert.deepEqual(citationsOf(txs[4]!).map(([, part]) => part), [4]);
    assert.deepEqual(citationsOf(txs[7]!).map(([, part]) => part), [2, 3]);
    const decoded = decodeBlock(encoded);
    assert.deepEqual(decoded.transactions, transactions, "every unlock byte for byte as submitted");
    assert.deepEqual(decoded.body, packTransactions(transactions));
    assert.deepEqual(decodeBlockEnvelope(encoded).body, packTransactions(transactions));
    assert.deepEqual(encodeBlockWithBody(header, { kind: "producer", signature }, transactions).body, packTransactions(transactions));
    assert.deepEqual(decoded.hash, blockHash(header));
    assert.deepEqual(encodeBlock(header, { kind: "producer", signature }, decoded.transactions), encoded, "one encoding");
    // Size: each of the 13 proofs shrinks to its decision and path; the 5 parts are written once.
    const plain = packTransactions(transactions).length;
    const partBytes = parts[0]!.length;
    assert.equal(partBytes, 22 + 64 + 2 + 1 + 64 + 312, "head, body digest and prepare hash, certificate of 4, commitment parts (nine hashes, two u32, two u64)");
    assert.equal(plain - region.length, 13 * (partBytes - 2) - (6 + 5 * (2 + partBytes)));
    assert.ok(txs[0]!.length < unlocks[0]!.length - 2 * (partBytes - 2) + 1, `a commit of 2 proofs: ${unlocks[0]!.length} → ${txs[0]!.length} bytes`);
  });

  it("checks each cited part's certificate once per verifier: the decoded unlocks all pass", () => {
    const counting = new CountingVerifier();
    assert.deepEqual(stateless(decodeBlock(encoded).body, counting), []);
    assert.equal(counting.calls, 5, "13 proofs, 5 certified parts");
  });

  it("a block without unlocks, or whose unlocks carry no citable proof, is its plain packed transactions", () => {
    const plainTxs = [xs[0]!.bytes, xs[1]!.bytes];
    const plainHeader = makeBlockHeader({ ...header, kind: BlockKind.Optimistic }, plainTxs);
    const bytes = encodeBlock(plainHeader, { kind: "producer", signature }, plainTxs);
    assert.deepEqual(bytes.subarray(regionAt), packTransactions(plainTxs));
    assert.deepEqual(decodeBlock(bytes).transactions, plainTxs);
    // A malformed proof (not citable) stays inline, and decoding leaves it to the stateless check.
    const malformed = encodeAtomixUnlock({ kind: TxKind.AtomixUnlockCommit, cross: xs[0]!.unsigned, proofs: [acceptance(0, 0).subarray(0, 100), acceptance(1, 0).subarray(0, 60)] });
    const withMalformed = makeBlockHeader({ ...header }, [malformed]);
    const malformedBlock = encodeBlock(withMalformed, { kind: "producer", signature }, [malformed]);
    assert.deepEqual(malformedBlock.subarray(regionAt), packTransactions([malformed]));
    assert.deepEqual(stateless(decodeBlock(malformedBlock).body, verifier), ["0:TX_PROOF_MALFORMED"]);
  });

  it("refuses a citation of a part the block does not carry, a part repeated, uncited or out of order, an inline proof, a bad part or citation, with codes", () => {
    const withTxs = (edit: (copy: Uint8Array[]) => void) => {
      const copy = txs.map((tx) => Uint8Array.from(tx));
      edit(copy);
      return join({ parts, txs: copy });
    };
    const cite = (tx: Uint8Array, which: number, part: number) => {
      const [at] = citationsOf(tx)[which]!;
      tx[at + 2] = part & 0xff;
      tx[at + 3] = part >> 8;
    };
    assert.equal(decodeCode(blockOf(withTxs((t) => cite(t[5]!, 0, 5)))), "BLOCK_CITATION_UNKNOWN", "a citation of part 5 of 5");
    assert.equal(decodeCode(blockOf(join({ parts: [...parts, parts[0]!], txs }))), "BLOCK_PART_REPEATED");
    const spare = Uint8Array.from(parts[0]!);
    spare[30]! ^= 1;
    assert.equal(decodeCode(blockOf(join({ parts: [...parts, spare], txs }))), "BLOCK_PART_UNCITED", "a part no unlock cites");
    assert.equal(decodeCode(blockOf(join({ parts: [parts[1]!, parts[0]!, ...parts.slice(2)], txs: txs.map((tx, k) => { const copy = Uint8Array.from(tx); if (k === 0 || k === 2 || k === 5) { cite(copy, 0, 1); cite(copy, 1, 0); } return copy; }) }))), "BLOCK_PARTS_OUT_OF_ORDER", "parts 0 and 1 swapped, and every citation with them");
    assert.equal(decodeCode(blockOf(withTxs((t) => cite(t[0]!, 1, 2)))), "BLOCK_PARTS_OUT_OF_ORDER", "the first unlock cites part 2 before part 1");
    assert.equal(decodeCode(blockOf(withTxs((t) => { t[4] = abort; }))), "BLOCK_PROOF_NOT_CITED", "the abort's proof inline beside its part");
    assert.equal(decodeCode(blockOf(join({ parts: parts.slice(0, 4), txs: txs.map((tx, k) => (k === 4 ? abort : tx)) }))), "BLOCK_PROOF_NOT_CITED", "the abort's proof inline, its part left out");
    assert.equal(decodeCode(blockOf(packTransactions(transactions))), "BLOCK_PROOF_NOT_CITED", "a plain body whose unlocks could cite");
    assert.equal(decodeCode(blockOf(Buffer.concat([Buffer.from(Uint32Array.of(txs[4]!.length).buffer), txs[4]!, packTransactions(transactions.filter((_, k) => k !== 4))]), makeBlockHeader({ ...header }, [txs[4]!, ...transactions.filter((_, k) => k !== 4)]))), "BLOCK_CITATION_UNKNOWN", "a citation in a body without parts");
    const shortPart = Uint8Array.from(parts[0]!.subarray(0, parts[0]!.length - 1));
    assert.equal(decodeCode(blockOf(join({ parts: [shortPart, ...parts.slice(1)], txs }))), "BLOCK_BAD_PART");
    assert.equal(decodeCode(blockOf(Buffer.concat([region.subarray(0, 4), Buffer.alloc(2), region.subarray(6 + 2 + parts[0]!.length)]))), "BLOCK_BAD_PART", "a section of no part");
    assert.equal(decodeCode(blockOf(withTxs((t) => { const [at] = citationsOf(t[0]!)[0]!; t[0]![at + 4 + 32] = 9; }))), "BLOCK_BAD_CITATION", "a code length past the citation");
    assert.equal(decodeCode(blockOf(region.subarray(0, region.length - 1))), "BLOCK_TRUNCATED");
    assert.equal(decodeCode(blockOf(region, { ...header, bodyBytes: header.bodyBytes + 1 })), "BLOCK_BAD_FIELD", "the expansion falls short of the header's body size");
    assert.equal(decodeCode(blockOf(region, { ...header, bodyBytes: header.bodyBytes - 1 })), "BLOCK_BAD_FIELD", "the expansion exceeds the header's body size");
  });

  /** The block of `forgedRegion` under a header that binds it: a producer sealing its own forgery. */
  const sealedBy = (forgedRegion: Uint8Array) => {
    const expanded = readBlockBody(forgedRegion, txs.length, MAX_BLOCK_BYTES, REGION_CODES).expand();
    return blockOf(forgedRegion, makeBlockHeader({ ...header }, unpackTransactions(expanded)));
  };

  it("a forged part, or a citation of another height's part, under the honest header is BLOCK_BODY_ROOT_MISMATCH (a relay's copy: same hash, same size); under a header binding it (the producer's own), the unlocks citing it are refused by the stateless check with its code", () => {
    const forged = parts.map((part, k) => {
      if (k !== 1) return part;
      const copy = Uint8Array.from(part);
      copy[22 + 64 + 2 + 1 + 10]! ^= 1; // inside the commit certificate's signature
      return copy;
    });
    const forgedRegion = join({ parts: forged, txs });
    assert.equal(forgedRegion.length, region.length);
    assert.equal(decodeCode(blockOf(forgedRegion)), "BLOCK_BODY_ROOT_MISMATCH");
    const decoded = decodeBlock(sealedBy(forgedRegion));
    assert.deepEqual(decoded.txids, decodeBlock(encoded).txids, "the forgery keeps every txid: the tx root alone cannot tell the copies apart");
    assert.deepEqual(stateless(decoded.body, verifier), ["0:TX_PROOF_BAD_SIGNATURE", "2:TX_PROOF_BAD_SIGNATURE", "5:TX_PROOF_BAD_SIGNATURE"], "every unlock citing shard 1's height a");
    // X4 (height b) cites height a of shard 0 instead: the path does not lead to that part's root.
    const otherRegion = (() => {
      const copy = txs.map((tx) => Uint8Array.from(tx));
      const [at] = citationsOf(copy[6]!)[0]!;
      copy[6]![at + 2] = 0;
      return join({ parts, txs: copy });
    })();
    assert.equal(decodeCode(blockOf(otherRegion)), "BLOCK_BODY_ROOT_MISMATCH");
    assert.deepEqual(stateless(decodeBlock(sealedBy(otherRegion)).body, verifier), ["6:TX_PROOF_BAD_PATH"]);
  });

  // Issue 13: every byte a member judges is bound by the block hash. Audit (docs/ARCHITECTURE.md, "Blocks"):
  // a txid leaves out a transfer's, a lock's and a registration's signatures and an unlock's
  // proofs (in a block: the parts and the citations' decisions and paths).
  describe("the body root binds every byte of the body", () => {
    const transfer = signedTransfer([{ txid: rng.bytes(32), index: 0, owner: ACCOUNTS[0]!.publicKey }], [{ owner: ACCOUNTS[1]!.publicKey, amount: 7n }]);
    const leaver = ACCOUNTS[2]!;
    const left = registrationKind.encode(signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: leaver.publicKey, bond: registrationBond(leaver.publicKey), payout: ACCOUNTS[3]!.publicKey }, leaver).transaction);
    const registrant = ACCOUNTS[4]!;
    const pop = proveKeyPossession({ publicKey: registrant.publicKey, sign: (message) => signMessage(registrant.secretKey, message) }, CHAIN);
    const registered = registrationKind.encode(signRegistration({
      kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: registrant.publicKey, bond: 5_000n, chain: CHAIN, pop,
      inputs: [{ txid: rng.bytes(32), index: 1, owner: ACCOUNTS[0]!.publicKey }], outputs: [{ owner: ACCOUNTS[0]!.publicKey, amount: 990n }],
    }, ACCOUNTS, registrant).transaction);
    const mixed = [transfer.bytes, left, registered, ...transactions];
    const mixedHeader = makeBlockHeader({ ...header }, mixed);
    const mixedBlock = encodeBlock(mixedHeader, { kind: "producer", signature }, mixed);

    /** The txids the decoder gave before the body root (the header's body size and the tx root still checked), or undefined when it refused the copy. */
    const txidsWithoutBodyRoot = (bytes: Uint8Array): Uint8Array | undefined => {
      try {
        const { bytes: size, expand } = readBlockBody(bytes.subarray(regionAt), mixed.length, mixedHeader.bodyBytes, REGION_CODES);
        return size === mixedHeader.bodyBytes ? txidsOf(unpackTransactions(expand(), REGION_CODES, mixed.length)) : undefined;
      } catch {
        return undefined;
      }
    };

    it("each byte flipped in an otherwise valid block is refused with a BLOCK_ code; every byte outside every txid with BLOCK_BODY_ROOT_MISMATCH", () => {
      const honest = decodeBlock(mixedBlock);
      assert.deepEqual(honest.transactions, mixed);
      const outsideTxids = new Set<number>();
      for (let at = regionAt; at < mixedBlock.length; at++) {
        const copy = Uint8Array.from(mixedBlock);
        copy[at]! ^= 0x10;
        const code = codeOf(() => decodeBlock(copy));
        assert.match(String(code), /^BLOCK_/, `body byte ${at - regionAt} flipped: ${code}`);
        const txids = txidsWithoutBodyRoot(copy);
        if (txids !== undefined && sameBytes(txids, honest.txids)) {
          assert.equal(code, "BLOCK_BODY_ROOT_MISMATCH", `body byte ${at - regionAt}`);
          outsideTxids.add(at - regionAt);
        }
      }
      // Where the audit's uncovered bytes lie in the region: the transfer's, the leave's, the registration's (input and validator) and the lock's (two inputs) signatures (each tx's at the end of its frame), a part's certified bytes, the last unlock's path.
      const signatureBytes = (txEnd: number) => Array.from({ length: 64 }, (_, k) => txEnd - 64 + k);
      const transferEnd = 6 + parts.reduce((n, p) => n + 2 + p.length, 0) + 4 + transfer.bytes.length;
      const leaveEnd = transferEnd + 4 + left.length;
      const registrationEnd = leaveEnd + 4 + registered.length;
      const lockEnd = registrationEnd + 4 + txs[0]!.length + 4 + xs[0]!.bytes.length; // after the first unlock (its cited form)
      const partAt = 6 + 2 + parts[0]!.length + 2; // part 1
      for (const at of [...signatureBytes(transferEnd), ...signatureBytes(leaveEnd), ...signatureBytes(registrationEnd), ...signatureBytes(registrationEnd - 64), ...signatureBytes(lockEnd), ...signatureBytes(lockEnd - 64), partAt + 22 + 64 + 2 + 1 + 10, mixedBlock.length - regionAt - 1]) {
        assert.ok(outsideTxids.has(at), `region byte ${at} is outside every txid and refused as BLOCK_BODY_ROOT_MISMATCH`);
      }
      assert.ok(outsideTxids.size > 2 * 64 + parts.length * 300, `${outsideTxids.size} bytes outside every txid`);
    });

    it("differential: random blocks of every kind encode, decode back to the same transactions and header, re-encode identically, and their body root is the RFC 6962 reference over the full encodings", () => {
      const pool = [...mixed, xs[1]!.bytes, xs[2]!.bytes];
      for (let round = 0; round < 60; round++) {
        const below = (n: number) => Math.floor(rng.nextFloat() * n);
      const picked = Array.from({ length: below(pool.length + 1) }, () => pool[below(pool.length)]!);
        const unique = picked.filter((tx, k) => picked.indexOf(tx) === k);
        const head = makeBlockHeader({ ...header, kind: round % 2 === 0 ? BlockKind.Optimistic : BlockKind.Final, height: round }, unique);
        const seal = head.kind === BlockKind.Optimistic ? { kind: "producer" as const, signature } : { kind: "collective" as const, participants: Uint8Array.of(0b1101), signature };
        const bytes = encodeBlock(head, seal, unique);
        const decoded = decodeBlock(bytes);
        assert.deepEqual(decoded.transactions, unique);
        assert.deepEqual(decoded.header, head);
        assert.deepEqual(encodeBlock(decoded.header, decoded.seal, decoded.transactions), bytes);
        assert.deepEqual(head.bodyRoot, referenceRoot(unique));
      }
    });
  });
});
