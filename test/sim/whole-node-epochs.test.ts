// Whole PoB validators (src/sim/validator-cluster.ts) living through several epochs: each epoch's
// last height is final, the validators configure the next epoch (src/epoch/transition) and every
// one of them switches into it (ValidatorNode): a new driver on the same state continues the
// shard's chain at height e·L + 1 under the new epoch's leagues and instance key. Transfers
// submitted throughout — some pending across a switch — all end final on every replica; every
// replica holds the same blocks, the same identity chain (verified from the genesis) and the same
// supply, less the fees. A validator crashed in one epoch and restarted in a later one catches up
// from its archive and the shard (the load and the checks: epoch-load.ts). CI runs EPOCHS_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ValidatorNode } from "../../src/node/validator.js";
import type { PeerId } from "../../src/net/interface.js";
import { simSeed } from "../../src/sim/simulator.js";
import { checkIdentityChains, checkShardChains, payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 10;
const EPOCHS = 3;
const ROUNDS = 6;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const EPOCHS_SEEDS = 1;

interface Case {
  readonly shards: number;
  readonly perShard: number;
  /** A validator crashes in epoch 0 and restarts once the others are in epoch 2. */
  readonly crash: boolean;
  /** A validator that epoch 1 moves to another shard crashes once it kept epoch 1's link, before it entered it, and restarts 2 s later. */
  readonly crashMover?: boolean;
}

async function run(seed: string, { shards, perShard, crash, crashMover = false }: Case) {
  const { sim, genesis, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-epochs", policy: SIM_POLICY, shards, perShard, accounts: 12 * shards, amount: AMOUNT, epochLength: L,
  });
  const ids = Array.from({ length: shards }, (_, shard) => cluster.members(shard)).flat();
  const validators = ids.length;
  const load = payInRounds(cluster, accounts, positions, { rounds: ROUNDS, amount: AMOUNT, fee: FEE });
  const victim = ids.at(-1)!;
  const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
  if (crash) {
    sim.schedule(500, "crash", () => cluster.crash(victim));
    // Down until the others are in epoch 2: it restarts into epochs it never saw configured.
    assert.ok(await cluster.advance(60_000, () => running().length === validators - 1 && cluster.node(victim) === undefined && running().every((node) => node.context.epoch >= 2)),
      `${seed}: the others reach epoch 2 (epochs ${running().map((n) => n.context.epoch).join()})`);
    cluster.restart(victim);
  }
  let mover: PeerId | undefined;
  if (crashMover) {
    // Configured and not entered: it is stopping its driver or syncing its new shard when it goes down.
    const switchingShard = (id: PeerId) => {
      const node = cluster.node(id);
      return node !== undefined && node.contexts.length > 1 && node.context.epoch === 0 && node.contexts[1]!.shardOf(node.setup.key.publicKey) !== node.shard;
    };
    assert.ok(await cluster.advance(60_000, () => (mover = ids.find(switchingShard)) !== undefined), `${seed}: a validator is about to change shard`);
    cluster.crash(mover!);
    await cluster.advance(2_000);
    cluster.restart(mover!);
  }
  const done = () => running().length === validators && running().every((node) => node.context.epoch >= EPOCHS) && load.allFinal();
  assert.ok(await cluster.advance(120_000, done),
    `${seed}: every validator reaches epoch ${EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, heights ${running().map((n) => n.state.tip.height).join()}, submitted ${load.txids.size}/${load.total}, unsettled ${load.unsettled()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  // A validator restarted during a transition may get the elected leader's proposal before its own election elected it:
  // refused TRANSITION_NOT_LEADER (it takes the link later). Nothing else may be refused or throw.
  const restarted = crash || crashMover;
  assert.deepEqual(cluster.handlerFailureCodes.filter((entry) => !(restarted && entry.startsWith("drp:TRANSITION_NOT_LEADER "))), [], `${seed}: no handler threw`);

  // One identity chain everywhere, verified from the genesis; each node runs its latest epoch's context and serves the shard it assigns.
  const nodes = running();
  const home = (node: ValidatorNode) => node.contexts[0]!.shardOf(node.setup.key.publicKey)!;
  checkIdentityChains(seed, genesis, nodes, EPOCHS);
  // Each shard's chain went on across the switches, every validator serving the shard now holds the same blocks.
  await cluster.advance(1_000);
  checkShardChains(seed, cluster, genesis, EPOCHS, L, FEE * BigInt(load.total));
  if (shards > 1) assert.ok(nodes.some((node) => node.lastSwitch?.sync !== undefined || node.shard !== home(node)), `${seed}: validators moved between shards`);
  if (mover !== undefined) {
    const restarted = cluster.node(mover)!;
    assert.ok(restarted.recentSwitches.some((entered) => (entered.sync?.heights ?? 0) > 0 || (entered.sync?.msbHeight ?? 0) > 0), `${seed}: the mover restarted before its new shard and synced it (${JSON.stringify(restarted.recentSwitches)})`);
  }
  if (crash) {
    // Restarted in epoch 0 at a low height: it learned the later links from its peers' archives and synced its shard up to the latest epoch's start.
    const restarted = cluster.node(victim)!;
    assert.ok(restarted.switches >= 1, `${seed}: the restarted validator entered a later epoch itself`);
    // It walked the links it missed before switching (catch-up settles Δ), so its first switch skipped epoch 1.
    assert.ok(restarted.recentSwitches[0]!.epoch >= 2, `${seed}: it switched once into the latest epoch it learned (${JSON.stringify(restarted.recentSwitches)})`);
    // Each sync joined at the shard's MSB (msb-join: no block below it fetched, the stayers' UTXO set and MSB headers, checked
    // above) or replayed because its sources had moved past that MSB (they keep the latest body only): never silently. A
    // replay of less than an epoch is a catch-up to the boundary (no MSB lies between): a validator that entered an epoch at
    // its move's end (the forced end, when no joiner asked) may reach the switch behind the epoch's last height.
    for (const { sync } of restarted.recentSwitches) {
      if (sync === undefined) continue;
      if (sync.msbHeight > 0) {
        assert.ok(restarted.state.prunedBelow >= sync.msbHeight && restarted.state.getBlock(1) === undefined, `${seed}: no height below its MSB was replayed (horizon ${restarted.state.prunedBelow})`);
      } else {
        assert.ok(sync.msbFailure === "SYNC_NO_SOURCE" || (sync.msbFailure === undefined && sync.heights < L), `${seed}: a replay says why it did not join (${JSON.stringify(restarted.recentSwitches)})`);
      }
    }
  }
  await cluster.stop();
}

describe("whole PoB validators across epochs", () => {
  for (const seed of caseSeeds("epochs", EPOCHS_SEEDS)) {
    // One shard switching through the epochs is the crash case's run with its other four validators (every assertion
    // of `run` holds for them), and the two-shard case checks a run without a restart, where nothing may be refused.
    it(`${seed}: one shard switches through ${EPOCHS} epochs under transfers, every replica agrees; a validator down across two switches restarts into the latest epoch`, async () => {
      await run(`${seed}/crash`, { shards: 1, perShard: 5, crash: true });
    });
    it(`${seed}: two shards through ${EPOCHS} epochs under transfers: validators move, sync, and the chain keeps its supply`, async () => {
      await run(`${seed}/shards`, { shards: 2, perShard: 5, crash: false });
    });
    it(`${seed}: a validator that goes down while moving to another shard restarts, syncs it and joins`, async () => {
      await run(`${seed}/mover`, { shards: 2, perShard: 5, crash: false, crashMover: true });
    });
  }
});
