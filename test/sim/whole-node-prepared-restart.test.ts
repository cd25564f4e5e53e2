// Whole validators of a PoB shard (src/sim/validator-cluster.ts) restarted all at once while a
// value is prepared but not decided: the leader of the height falls silent right after sending
// PREPARED for a proposal that orders optimistic blocks, so every member is locked on a value
// whose bodies were, until now, only in memory. The whole shard then crashes and restarts from
// its stores. Each co-signer kept those bodies before co-signing (PobNodeDependencies
// `keepBlocks`), so the locked value is re-proposed, executed and decided, and the shard goes on:
// without them, every later view refuses the locked value for missing bodies, forever.
// CI runs RESTART_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BFT_MESSAGES, DEFAULT_MAX_PROPOSAL_BYTES, decodePrepared, decodePropose } from "../../src/consensus/bft/codec.js";
import { decodeProposal } from "../../src/consensus/pob/proposal.js";
import { toHex } from "../../src/hex.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import type { PeerId } from "../../src/net/interface.js";
import { simSeed } from "../../src/sim/simulator.js";
import { pobCluster, WHOLE_NODE, caseSeeds, SIM_POLICY } from "./pob-cluster.js";

const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT, fee: FEE } = WHOLE_NODE;
const ACCOUNTS = 32;
const RESTART_SEEDS = 2;

async function run(seed: string) {
  const { sim, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-prepared-restart", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT,
  });
  const committee = cluster.context.leagues(0).committee.map(toHex);
  const count = committee.length;
  // Each committee member, when it leads: the heights it proposed blocks at; once it sent PREPARED
  // for one of them to every other member, it says nothing more (as if it hung).
  let silenced: { readonly leader: PeerId; readonly height: number } | undefined;
  for (const leader of committee) {
    const orderingHeights = new Set<number>();
    const preparedTo = new Set<PeerId>();
    sim.network.intercept(leader, (to, type, payload) => {
      if (silenced !== undefined) return silenced.leader === leader ? undefined : payload;
      if (type === BFT_MESSAGES.PROPOSE) {
        const message = decodePropose(payload, count, DEFAULT_MAX_PROPOSAL_BYTES);
        if (decodeProposal(message.proposal).blocks.length > 0) orderingHeights.add(message.height);
      } else if (type === BFT_MESSAGES.PREPARED) {
        const { height } = decodePrepared(payload, count);
        if (orderingHeights.has(height)) {
          preparedTo.add(to);
          if (preparedTo.size === count - 1) silenced = { leader, height };
        }
      }
      return payload;
    });
  }

  const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
  const round = payers.map((payer, i) => {
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
      outputs: [{ owner: payers[(i + 1) % payers.length]!.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: AMOUNT - 1_000n - FEE }],
    }, [payer]);
    return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
  });
  await cluster.advance(500);
  const answers = await cluster.submitAndWait(0, round.map((t) => t.bytes), committee[committee.length - 1]!);
  assert.ok(answers.every((a) => a.outcome === "accepted"), `${seed}: ${JSON.stringify(answers.filter((a) => a.outcome !== "accepted"))}`);
  assert.ok(await cluster.advance(10_000, () => silenced !== undefined), `${seed}: a leader sent PREPARED for a proposal ordering blocks`);
  const stuck = silenced!;
  // Let PREPARED reach every member (links take 1–4 ms), then crash the whole shard.
  await cluster.advance(10);
  const heightsBefore = cluster.members(0).map((id) => cluster.node(id)!.state.tip.height);
  assert.ok(heightsBefore.every((h) => h < stuck.height), `${seed}: no member decided height ${stuck.height} before the crash (${heightsBefore.join()})`);
  for (const id of cluster.members(0)) cluster.crash(id);
  await cluster.advance(200);
  for (const leader of committee) sim.network.intercept(leader, undefined);
  for (const id of cluster.members(0)) cluster.restart(id);

  const finalEverywhere = () => round.every((t) => cluster.members(0).every((id) => cluster.status(id, t.txid)?.state === "final"));
  assert.ok(await cluster.advance(30_000, () => finalEverywhere() && cluster.members(0).every((id) => cluster.node(id)!.state.tip.height > stuck.height)),
    `${seed}: after restarting with height ${stuck.height} prepared, the shard decides it and goes on (heights ${cluster.members(0).map((id) => cluster.node(id)?.state.tip.height).join()})`);
  assert.ok(await cluster.advance(5_000, () => new Set(cluster.replicas(0).map((node) => node.state.tip.height)).size === 1), `${seed}: the replicas meet at one height`);
  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged`);
  const { commonHeight, firstDifference } = cluster.agreement(0);
  assert.ok(commonHeight > stuck.height);
  assert.equal(firstDifference, undefined, `${seed}: every replica holds the same blocks`);
  const commitments = new Set(cluster.replicas(0).map((node) => toHex((node.driver as PobShardConsensus).node.validator.tip)));
  assert.equal(commitments.size, 1, `${seed}: one state commitment`);
  await cluster.stop();
}

describe("a whole PoB shard restarted while a value is prepared", () => {
  for (const seed of caseSeeds("prepared-restart", RESTART_SEEDS)) {
    it(`${seed}: the bodies of the locked value survive in the co-signers' stores, and the shard decides it after the restart`, async () => {
      await run(seed);
    });
  }
});
