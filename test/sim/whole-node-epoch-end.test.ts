// Whole PoB validators (src/sim/validator-cluster.ts) of a genesis with an epoch length: each
// shard finalizes exactly the epoch's L heights under epoch 0's drivers,
// and every replica hands out the epoch's boundary — the final-height certificate of height L,
// which verifies against the shard's committee and names the state commitment every replica
// reached, and the epoch's validator changes with their acceptance proofs (a registration sent
// during the epoch, before its shard restarted whole: the proof comes back from the store). Each validator's own epoch transition (src/epoch/transition, wired by
// ValidatorNode) takes its shard's boundary: every validator ends with the same link to epoch 1
// in its archive, verified from the genesis, whose validator set holds the registrant.
// Then every validator switches into epoch 1: the ones assigned another shard sync its L final
// heights from that shard's validators (src/node/sync) before their driver starts.
// CI runs EPOCH_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { REPUTATION_INITIAL, accountsHash, type AccountState } from "../../src/consensus/pob/believability.js";
import { describe, it } from "node:test";
import { committeesOfContext, verifyDecisionProof, verifyFinalHeightCertificate } from "../../src/atomix/proof.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { batchReachedAt, moveEndOf } from "../../src/node/validator.js";
import { decodeProposal } from "../../src/consensus/pob/proposal.js";
import { verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { toHex } from "../../src/hex.js";
import { bondOwner } from "../../src/ledger/bond.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signRegistration } from "../../src/ledger/kinds/registration.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster, WHOLE_NODE, SIM_POLICY } from "./pob-cluster.js";

const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT } = WHOLE_NODE;
const L = 20;
const BOND = 5_000n;
const EPOCH_SEEDS = 1;
const verifier = new Ed25519Verifier();
const driverOf = (node: { driver: unknown }) => node.driver as PobShardConsensus;

async function run(seed: string) {
  const { genesis, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-epoch-end", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: 16, amount: AMOUNT, epochLength: L,
  });
  const { context } = cluster;
  // A newcomer registers during epoch 0, paid by an account of the shard its bond lives in.
  const [newcomer] = deriveTestAccounts(`${seed}/newcomer`, 1);
  const bondShard = shardOfOwner(bondOwner(newcomer!.publicKey), SHARDS);
  const funder = accounts.find((a) => shardOfOwner(a.publicKey, SHARDS) === bondShard)!;
  const chain = context.registry.chainId;
  const registration = registrationKind.encode(signRegistration({
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: newcomer!.publicKey, bond: BOND, chain,
    pop: proveKeyPossession(SchnorrKey.fromSeed(newcomer!.secretKey), chain),
    inputs: [{ txid: context.chain, index: positions.get(toHex(funder.publicKey))!, owner: funder.publicKey }], outputs: [{ owner: funder.publicKey, amount: AMOUNT - BOND - 10n }],
  }, [funder], newcomer!).transaction);
  await cluster.advance(300);
  const [answer] = await cluster.submitAndWait(bondShard, [registration]);
  assert.equal(answer?.outcome, "accepted", `${seed}: ${JSON.stringify(answer)}`);
  // Once the registration is final, the bond shard restarts whole: its boundary must still carry it (the store kept its proof).
  const registrationTxid = toHex(transactionIdOfEncoding(registration));
  assert.ok(await cluster.advance(10_000, () => cluster.members(bondShard).every((id) => cluster.status(id, registrationTxid)?.state === "final")), `${seed}: the registration is final`);
  assert.ok(cluster.replicas(bondShard).every((node) => node.state.tip.height < L), `${seed}: the restart comes before the epoch's end`);
  for (const id of cluster.members(bondShard)) cluster.crash(id);
  await cluster.advance(200);
  for (const id of cluster.members(bondShard)) cluster.restart(id);

  const all = [0, 1].flatMap((shard) => cluster.replicas(shard));
  // Epoch 0's drivers: they keep their boundary after the switch into epoch 1 stopped them.
  const drivers = all.map(driverOf);
  assert.ok(await cluster.advance(30_000, () => drivers.every((driver) => driver.boundary !== undefined)), `${seed}: every replica reached the epoch's end (heights ${all.map((n) => n.state.tip.height).join()})`);
  assert.deepEqual(drivers.map((driver) => driver.node.validator.height), drivers.map(() => L), `${seed}: epoch 0's drivers decide exactly ${L} heights`);
  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged`);

  const committees = committeesOfContext(context);
  const endAccounts = new Map<string, AccountState>();
  for (let shard = 0; shard < SHARDS; shard++) {
    const replicas = cluster.replicas(shard);
    const commitments = new Set<string>();
    for (const node of replicas) {
      const driver = drivers[all.indexOf(node)]!;
      const boundary = driver.boundary!;
      const certified = verifyFinalHeightCertificate(boundary.certificate, committees, verifier);
      assert.deepEqual({ epoch: certified.epoch, shard: certified.shard, height: certified.height }, { epoch: 0, shard, height: L });
      assert.deepEqual(certified.stateCommitment, driver.node.validator.tip, `${seed}: the certificate names the state this replica reached`);
      assert.deepEqual(accountsHash(boundary.accounts), certified.accountsHash, `${seed}: the certificate commits to the accounts the boundary carries`);
      assert.deepEqual(boundary.accounts.map((a) => toHex(a.publicKey)), context.members(shard).map(toHex).sort(), `${seed}: one account per member of shard ${shard}`);
      for (const account of boundary.accounts) endAccounts.set(toHex(account.publicKey), account);
      commitments.add(toHex(certified.stateCommitment));
      const expected = shard === bondShard ? [toHex(transactionIdOfEncoding(registration))] : [];
      assert.deepEqual(boundary.changes.map((c) => toHex(transactionIdOfEncoding(c.tx))), expected, `${seed}: shard ${shard}'s changes`);
      for (const change of boundary.changes) assert.equal(verifyDecisionProof(change.proof, transactionIdOfEncoding(change.tx), committees, verifier).accepted, true);
    }
    assert.equal(commitments.size, 1, `${seed}: shard ${shard}'s replicas certify one state`);
  }

  // Each validator's own transition (ValidatorNode) took its shard's boundary and kept epoch 1 in its archive.
  assert.ok(await cluster.advance(30_000, () => all.every((node) => node.archive.lastEpoch === 1)), `${seed}: every validator configured epoch 1 (${all.map((n) => n.state.lastEpoch).join()})`);
  const links = new Set(all.map((node) => {
    const link = node.archive.epochLink(1)!;
    return toHex(link.configuration) + toHex(link.certificate);
  }));
  assert.equal(links.size, 1, `${seed}: one link everywhere`);
  const link = all[0]!.archive.epochLink(1)!;
  const [, epoch1] = verifyIdentityChain(genesis, [link], verifier);
  assert.equal(epoch1!.validators.length, SHARDS * PER_SHARD + 1, `${seed}: the registrant joins epoch 1`);
  assert.equal(epoch1!.stakeOf(newcomer!.publicKey), BOND);
  assert.deepEqual(verifyTranscript(all[0]!.archive.epochTranscript(1)!).rnd, epoch1!.randomness, `${seed}: the archived transcript gives rnd_1`);
  // Believability carries over: every validator of epoch 0 enters epoch 1 with its shard's end-of-epoch Servi and reputation.
  assert.ok([...endAccounts.values()].some((a) => a.reputation !== REPUTATION_INITIAL || a.servi !== 0), `${seed}: the epoch moved some score`);
  for (const validator of epoch1!.validators) {
    const carried = endAccounts.get(toHex(validator.publicKey));
    const expected = carried === undefined ? { servi: 0, reputation: REPUTATION_INITIAL } : { servi: carried.servi, reputation: carried.reputation };
    assert.deepEqual({ servi: validator.servi, reputation: validator.reputation }, expected, `${seed}: ${toHex(validator.publicKey).slice(0, 8)}'s score`);
    const shard = epoch1!.shardOf(validator.publicKey)!;
    const account = epoch1!.believability(shard).get(validator.publicKey);
    assert.deepEqual({ servi: account.servi, reputation: account.reputation }, expected, `${seed}: epoch 1's accounts start from it`);
  }

  // Every validator entered epoch 1: those assigned another shard synced it first; each shard goes on past L.
  assert.ok(await cluster.advance(30_000, () => all.every((node) => node.context.epoch === 1 && node.state.tip.height > L + 2)),
    `${seed}: every validator runs epoch 1 (epochs ${all.map((n) => n.context.epoch).join()}, heights ${all.map((n) => n.state.tip.height).join()})`);
  for (const node of all) {
    const moved = node.shard !== context.shardOf(node.setup.key.publicKey);
    assert.equal(node.shard, epoch1!.shardOf(node.setup.key.publicKey));
    // No rest at L: epoch 0's committee went on in epoch 1's opening (batch 0) until a certified height ended it, after L and
    // before the epoch's last height; epoch 1's own driver took over there.
    const end = moveEndOf(node.state, epoch1!);
    assert.ok(end !== undefined && end > L && end < 2 * L, `${seed}: shard ${node.shard}'s opening of epoch 1 ended at ${end}`);
    // A mover joins its new shard at the MSB of epoch 0 (height L) and replays up to the height whose swap-in gave it its seat
    // (its batch's, or the move's end when it takes no seat before B: src/node/validator.ts `#joinShard`); a stayer syncs nothing.
    const joinsIn = epoch1!.move(node.shard)?.batches.find((batch) => batch.joining.some((key) => toHex(key) === toHex(node.setup.key.publicKey)))?.index;
    let seat = end;
    for (let height = L + 1; joinsIn !== undefined && height < end; height++) {
      if (decodeProposal(node.state.finalHeightRecord(height)!.proposal).swapIn !== undefined && batchReachedAt(node.state, epoch1!, height) >= joinsIn) {
        seat = height;
        break;
      }
    }
    const sync = node.lastSwitch?.sync;
    assert.deepEqual(sync === undefined ? undefined : [sync.msbHeight, sync.heights], moved ? [L, seat - L] : undefined, `${seed}: a mover joins at the MSB of height ${L} and replays to its seat's height ${seat}, a stayer syncs nothing (${JSON.stringify(sync)})`);
  }
  assert.ok(all.some((node) => node.lastSwitch?.sync !== undefined), `${seed}: some validator changed shard`);
  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged`);
  await cluster.stop();
}

describe("whole PoB validators at an epoch's end", () => {
  for (const seed of caseSeeds("epoch-end", EPOCH_SEEDS)) {
    it(`${seed}: shards end epoch 0 at height L with certified boundaries, every validator's transition configures epoch 1 with a registrant, and movers sync their new shard`, async () => {
      await run(seed);
    });
  }
});
