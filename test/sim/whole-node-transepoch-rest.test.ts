// A late configuration over whole PoB validators (src/sim/validator-cluster.ts): the shards of a
// 2 × 4 network (the default devnet's shape: a committee of 3, f = 0), under chained transfers, are cut from each other, so
// neither can make configuration 1, while each goes on deciding epoch 1's heights in its opening
// up to the forced end (the epoch's last height but one), where the only valid proposal is the
// empty swap-in that needs the configuration (src/epoch/transepoch/move-rule.ts). There the shard
// rests: nothing can be proposed or accepted, so no leader is to blame and no view may time out
// (before `SwapInRule.resting`, views escalated 0.4, 0.8, 1.6, … 12.8 s while it waited, and once
// the configuration came the shard sat out the view it had reached; blocks arriving while it rested
// cut the wait, as work does at an idle height). Asserted: while cut off for
// 20 virtual seconds at the forced end no member changes view; after the cut heals, each shard
// decides the forced end within one base view timeout of its last member learning configuration 1,
// the epoch ends in batch B and carries on, every transfer final, and the serving replicas agree block for block.
// CI runs REST_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { simSeed } from "../../src/sim/simulator.js";
import { checkShardChains, payInRounds, planRounds } from "./epoch-load.js";
import { toHex } from "../../src/hex.js";
import { transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 40;
const SHARDS = 2;
const PER_SHARD = 4;
const REST_SEEDS = 2;
/** Rounds of chained transfers: enough to last through the cut and past it. */
const ROUNDS = 12;
const FEE = 10n;
/** The cluster's base view timeout (test/sim/pob-cluster.ts). */
const VIEW_TIMEOUT_MS = 400;
/** How long the shards stay cut off once both rest at the forced end. */
const CUT_MS = 20_000;
/** Epoch 1's forced end: its last height but one. */
const FORCED_END = 2 * L - 1;

function viewChangesOf(node: ValidatorNode): number {
  return (node.driver as PobShardConsensus).node.bft?.stats.viewChanges ?? 0;
}

async function run(seed: string) {
  const { sim, cluster, genesis, accounts, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-transepoch-rest", policy: { ...SIM_POLICY, normalLeagueSize: PER_SHARD - 1 }, shards: SHARDS, perShard: PER_SHARD,
    accounts: 4 * SHARDS, amount: 1_000_000n, epochLength: L,
  });
  // Chained transfers go on throughout from half the accounts; the other half pay once while the shards rest, so blocks arrive
  // at members then (work at a resting height must not end a view).
  const [chained, payOnce] = [accounts.filter((_, k) => k % 2 === 0), accounts.filter((_, k) => k % 2 === 1)];
  const load = payInRounds(cluster, chained, positions, { rounds: ROUNDS, amount: 1_000_000n, fee: FEE });
  const lateByShard = Array.from({ length: SHARDS }, (_, shard) =>
    planRounds(payOnce.filter((account) => shardOfOwner(account.publicKey, SHARDS) === shard), cluster.context.chain, positions, 1, 1_000_000n, FEE)[0] ?? []);
  const lateTransfers = lateByShard.flat();
  const members = Array.from({ length: SHARDS }, (_, shard) => cluster.members(shard));
  const nodes = () => members.flat().flatMap((id) => cluster.node(id) ?? []);
  sim.network.partition(members);
  const resting = () => nodes().length === SHARDS * PER_SHARD && nodes().every((node) => node.state.tip.height === FORCED_END - 1);
  assert.ok(await cluster.advance(60_000, resting), `${seed}: both shards decide epoch 1's opening up to the forced end (tips ${nodes().map((n) => n.state.tip.height).join(",")})`);
  assert.ok(nodes().every((node) => node.contexts.length === 1), `${seed}: cut off, no validator holds configuration 1`);

  const before = nodes().map(viewChangesOf);
  for (let shard = 0; shard < SHARDS; shard++) {
    const mine = lateByShard[shard]!;
    assert.ok(mine.length > 0, `${seed}: some account of shard ${shard} pays while it rests`);
    const producer = toHex(cluster.context.leagues(shard).believable[0]!);
    const answers = await cluster.submitAndWait(shard, mine, producer);
    assert.ok(answers.every((answer) => answer.outcome === "accepted"), `${seed}: shard ${shard}'s producer takes transfers while its shard rests (${JSON.stringify(answers.map((a) => [a.outcome, a.code]))})`);
  }
  await cluster.advance(CUT_MS);
  assert.ok(resting(), `${seed}: without configuration 1 nothing passes the forced end`);
  assert.deepEqual(nodes().map(viewChangesOf), before, `${seed}: no view changes while the shards rest for the configuration`);

  sim.network.heal();
  for (let shard = 0; shard < SHARDS; shard++) {
    const shardNodes = members[shard]!.map((id) => cluster.node(id)!);
    assert.ok(await cluster.advance(60_000, () => shardNodes.every((node) => node.contexts.length > 1)), `${seed}: shard ${shard}'s members learn configuration 1`);
    const configuredAt = sim.now();
    assert.ok(await cluster.advance(60_000, () => shardNodes.some((node) => node.state.tip.height >= FORCED_END)), `${seed}: shard ${shard} decides the forced end`);
    assert.ok(sim.now() - configuredAt <= VIEW_TIMEOUT_MS, `${seed}: shard ${shard} decided the forced end ${sim.now() - configuredAt} ms after its last member learned configuration 1 (at most one view timeout)`);
  }
  const passed = () => Array.from({ length: SHARDS }, (_, shard) => cluster.serving(shard)).every((serving) => serving.length > 0 && serving.every((node) => node.state.tip.height >= 2 * L));
  assert.ok(await cluster.advance(60_000, passed), `${seed}: both shards end epoch 1 in its own committee and serve epoch 2`);
  assert.ok(await cluster.advance(60_000, () => load.allFinal()), `${seed}: every transfer final (${load.unsettled()} unsettled)`);
  const lateFinal = () => lateByShard.every((mine, shard) => mine.every((tx) => cluster.serving(shard).every((node) => node.driver.status(transactionIdOfEncoding(tx)).state === "final")));
  assert.ok(await cluster.advance(10_000, lateFinal), `${seed}: the transfers sent while the shards rested are final`);
  assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged`);
  checkShardChains(seed, cluster, genesis, 2, L, FEE * BigInt(load.total + lateTransfers.length));
  await cluster.stop();
}

describe("sim: whole PoB validators resting at the forced end for a late configuration (2 × 4)", () => {
  for (const seed of caseSeeds("transepoch-rest", REST_SEEDS)) {
    it(`${seed}: no view change while resting; the forced end is decided within a view timeout of the configuration`, { timeout: 240_000 }, async () => {
      await run(seed);
    });
  }
});
