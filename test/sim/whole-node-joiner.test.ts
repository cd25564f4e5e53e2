// Whole PoB validators (src/sim/validator-cluster.ts) whose validator set changes at an epoch
// switch (issue 14). During epoch 0 a newcomer's registration and a genesis validator's leave
// become final; epoch 1's configuration lists the newcomer and not the leaver. The newcomer's node
// starts from an empty disk (the genesis and its key only): it waits as a registrant, learns
// epoch 1's link from its peers' archives, syncs the shard epoch 1 assigns it up to the epoch's
// start and enters; its shard then finalizes heights whose commit certificates it co-signed.
// The leaver co-signs the transition out of epoch 0,
// then stops its driver at the switch (NODE_LEFT) and stays up as an observer; its shard goes
// on without it. Every shard's serving validators agree on their blocks, and the chain keeps its
// supply less the registration's fee. Variants: the newcomer starts during epoch 1, and it is
// crashed while entering (it knows epoch 1, it has not entered) and restarted.
// CI runs JOINER_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more; IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeFinalHeightCertificate } from "../../src/atomix/proof.js";
import { hasBit } from "../../src/consensus/cosi/mask.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { toHex } from "../../src/hex.js";
import { bondOwner } from "../../src/ledger/bond.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signLeave, signRegistration } from "../../src/ledger/kinds/registration.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import type { PeerId } from "../../src/net/interface.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { simSeed } from "../../src/sim/simulator.js";
import { caseSeeds, pobCluster, WHOLE_NODE, SIM_POLICY } from "./pob-cluster.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { checkShardChains } from "./epoch-load.js";

const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT } = WHOLE_NODE;
const L = 20;
const BOND = 5_000n;
const FEE = 10n;
const JOINER_SEEDS = 1;

interface Case {
  /** The newcomer's node starts once the others are in epoch 1 (else: as soon as its registration is final, in epoch 0). */
  readonly startInEpoch1: boolean;
  /** It is crashed once it knows epoch 1 and before it entered, and restarted 2 s later. */
  readonly crashWhileEntering: boolean;
}

async function run(seed: string, { startInEpoch1, crashWhileEntering }: Case) {
  const { sim, genesis, accounts, cluster, positions, validators } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-joiner", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: 16, amount: AMOUNT, epochLength: L,
  });
  const { context } = cluster;
  const chain = context.registry.chainId;
  const funderIn = (shard: number, skip: Uint8Array | undefined) => accounts.find((a) => shardOfOwner(a.publicKey, SHARDS) === shard && a.publicKey !== skip)!;
  // The newcomer registers, paid by an account of the shard its bond lives in.
  const [newcomer] = deriveTestAccounts(`${seed}/newcomer`, 1);
  const bondShard = shardOfOwner(bondOwner(newcomer!.publicKey), SHARDS);
  const funder = funderIn(bondShard, undefined);
  const registration = registrationKind.encode(signRegistration({
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: newcomer!.publicKey, bond: BOND, chain,
    pop: proveKeyPossession(SchnorrKey.fromSeed(newcomer!.secretKey), chain),
    inputs: [{ txid: context.chain, index: positions.get(toHex(funder.publicKey))!, owner: funder.publicKey }], outputs: [{ owner: funder.publicKey, amount: AMOUNT - BOND - FEE }],
  }, [funder], newcomer!).transaction);
  // A genesis validator of shard 0 leaves: its bond's shard takes the leave, paid out to an account there.
  const leaverId = cluster.members(0)[0]!;
  const leaverKey = validators.find((key) => toHex(key.publicKey) === leaverId)!;
  const leaverBond = context.validators.find((v) => toHex(v.publicKey) === leaverId)!.bond;
  const leaveShard = shardOfOwner(bondOwner(leaverKey.publicKey), SHARDS);
  const payout = funderIn(leaveShard, funder.publicKey);
  const leave = registrationKind.encode(signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: leaverKey.publicKey, bond: leaverBond, payout: payout.publicKey }, leaverKey).transaction);

  await cluster.advance(300);
  for (const [shard, tx] of [[bondShard, registration], [leaveShard, leave]] as const) {
    const [answer] = await cluster.submitAndWait(shard, [tx]);
    assert.equal(answer?.outcome, "accepted", `${seed}: ${JSON.stringify(answer)}`);
  }
  const finalIn = (shard: number, tx: Uint8Array) => cluster.members(shard).every((id) => cluster.status(id, transactionIdOfEncoding(tx))?.state === "final");
  assert.ok(await cluster.advance(10_000, () => finalIn(bondShard, registration) && finalIn(leaveShard, leave)), `${seed}: the registration and the leave are final`);
  assert.ok([0, 1].every((shard) => cluster.replicas(shard).every((node) => node.context.epoch === 0)), `${seed}: both are final in epoch 0`);

  const genesisIds = [0, 1].flatMap((shard) => cluster.members(shard));
  const running = () => genesisIds.flatMap((id) => cluster.node(id) ?? []);
  if (startInEpoch1) assert.ok(await cluster.advance(60_000, () => running().every((node) => node.contexts.length > 1)), `${seed}: the genesis validators configure epoch 1`);
  const newcomerId: PeerId = cluster.addRegistrant(newcomer!);
  await cluster.advance(50);
  const joiner = () => cluster.node(newcomerId);
  assert.equal(joiner()?.role, "registrant", `${seed}: the newcomer's node waits first`);
  assert.equal(joiner()?.serving, false);
  const refused = await joiner()!.submit([registration]);
  assert.equal(refused[0]?.code, "NODE_NOT_SERVING", `${seed}: a registrant takes no transactions`);

  if (crashWhileEntering) {
    assert.ok(await cluster.advance(60_000, () => joiner() !== undefined && joiner()!.contexts.length > 1 && !joiner()!.serving), `${seed}: the newcomer learns epoch 1`);
    cluster.crash(newcomerId);
    await cluster.advance(2_000);
    cluster.restart(newcomerId);
  }

  // The newcomer enters and its shard finalizes heights it co-signed: the commit certificates in its store carry its bit in
  // the committee of their epoch (heights it decided itself; the synced ones were signed before it entered).
  const cosigned = (node: ValidatorNode): number => {
    let count = 0;
    for (let height = L + 1; height <= node.state.tip.height; height++) {
      const certificate = node.state.certificateAt(height);
      if (certificate === undefined) continue;
      const { epoch, commitCertificate } = decodeFinalHeightCertificate(certificate);
      const committee = node.contexts[epoch]?.leagues(node.shard).committee.map(toHex) ?? [];
      const index = committee.indexOf(newcomerId);
      if (index >= 0 && hasBit(commitCertificate.mask, index)) count++;
    }
    return count;
  };
  const COSIGNED = 3;
  const everyone = () => [...running(), ...(joiner() === undefined ? [] : [joiner()!])];
  assert.ok(await cluster.advance(120_000, () => joiner()?.serving === true && cosigned(joiner()!) >= COSIGNED, SETTLED_CHECK_MS),
    `${seed}: the newcomer enters and co-signs ${COSIGNED} heights (${everyone().map((n) => `${n.role}:${n.context.epoch}:${n.state.tip.height}`).join()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  // A validator that enters an epoch late (the newcomer after its sync, a restart) may get the elected leader's
  // transition proposal before its own election elected it: refused TRANSITION_NOT_LEADER (it takes the link later).
  assert.deepEqual(cluster.handlerFailureCodes.filter((entry) => !entry.startsWith("drp:TRANSITION_NOT_LEADER ")), [], `${seed}: no handler threw`);

  const node = joiner()!;
  const epoch1 = node.contexts[1]!;
  assert.notEqual(epoch1.shardOf(newcomer!.publicKey), undefined, `${seed}: epoch 1 lists the newcomer`);
  assert.equal(epoch1.shardOf(leaverKey.publicKey), undefined, `${seed}: epoch 1 does not list the leaver`);
  assert.equal(node.shard, node.contexts[node.context.epoch]!.shardOf(newcomer!.publicKey), `${seed}: it serves the shard its epoch assigns`);
  // It brought its empty disk to its epoch's start (joined at the shard's MSB there, or replayed the heights before it) and entered;
  // a restart may find the sync done and start in that epoch.
  const entry = node.recentSwitches[0];
  if (!crashWhileEntering || entry !== undefined) {
    const synced = entry?.sync !== undefined && (entry.sync.msbHeight === entry.epoch * L || entry.sync.heights > 0);
    assert.ok(entry !== undefined && entry.epoch >= 1 && synced, `${seed}: the newcomer synced its shard and entered (${JSON.stringify(node.recentSwitches)})`);
    assert.equal(entry.shard, node.contexts[entry.epoch]!.shardOf(newcomer!.publicKey));
    if (!startInEpoch1) assert.equal(entry.epoch, 1, `${seed}: registered in epoch 0, it enters at epoch 1`);
  }
  assert.ok(sim.logs.entries({ code: "NODE_ENTERED" }).length >= 1, `${seed}: the newcomer logged its entry`);

  // The leaver stopped its driver at the switch into epoch 1 and stays up as an observer; its shard went on.
  const leaver = cluster.node(leaverId)!;
  assert.equal(leaver.role, "observer", `${seed}: the leaver observes`);
  assert.equal(leaver.serving, false);
  assert.ok(leaver.contexts.length > 1);
  assert.ok(sim.logs.entries({ code: "NODE_LEFT", epoch: 1 }).length === 1, `${seed}: the leaver logged NODE_LEFT once`);
  const leaverShard = context.shardOf(leaverKey.publicKey)!;
  assert.ok(cluster.serving(leaverShard).every((n) => n.state.tip.height > L), `${seed}: the leaver's shard went on`);

  // Every shard's serving validators hold the same blocks (a joiner from its MSB on), MSB chain and UTXO set; the chain keeps its
  // supply less the registration's fee.
  await cluster.advance(1_000);
  checkShardChains(seed, cluster, genesis, 1, L, FEE);
  await cluster.stop();
}

describe("whole PoB validators: a registrant enters, a leaver leaves", () => {
  for (const seed of caseSeeds("joiner", JOINER_SEEDS)) {
    it(`${seed}: a registrant started from an empty disk in epoch 0 enters at epoch 1, syncs its shard and co-signs it; a leaver stops at the switch and observes`, async () => {
      await run(seed, { startInEpoch1: false, crashWhileEntering: false });
    });
    it(`${seed}: a registrant started in epoch 1 and crashed while entering restarts and enters`, async () => {
      await run(`${seed}/restart`, { startInEpoch1: true, crashWhileEntering: true });
    });
  }
});
