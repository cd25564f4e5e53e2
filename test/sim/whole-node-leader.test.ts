// Whole validators (src/sim/validator-cluster.ts) under a byzantine BFT leader of a PoB shard,
// played on the wire by the simulator's interceptor (`network.intercept`): the member's node
// runs the real protocol, and what it sends is rewritten or dropped.
//  - Equivocation: whenever it leads, two of the other three members receive another proposal for
//    the same height and view (a later timestamp: another core, so neither its randomness shares nor
//    its state commitment match it), the third the one it prepared: neither has a quorum alone.
//  - Withheld FINALIZED: it tells only one member that a height is final.
// Under load, every honest replica must end with the same blocks and state commitment at every
// height, every transfer final everywhere, supply conserved; the shard keeps deciding.
// CI runs LEADER_SEEDS seeds per case; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BFT_MESSAGES, decodePropose, encodePropose } from "../../src/consensus/bft/codec.js";
import { DEFAULT_MAX_PROPOSAL_BYTES } from "../../src/consensus/bft/codec.js";
import { decodeProposal, encodeProposal } from "../../src/consensus/pob/proposal.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import type { Interceptor } from "../../src/sim/network.js";
import { simSeed } from "../../src/sim/simulator.js";
import { pobCluster, slashingsOf, WHOLE_NODE, caseSeeds, SIM_POLICY } from "./pob-cluster.js";

const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT, fee: FEE } = WHOLE_NODE;
const ACCOUNTS = 32;
const LEADER_SEEDS = 2;

type Behaviour = "equivocating" | "withholding";

async function run(seed: string, behaviour: Behaviour) {
  const { sim, genesis, accounts, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-leader", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT,
  });
  const committee = cluster.context.leagues(0).committee.map(toHex);
  const byzantine = committee[1]!;
  const others = committee.filter((id) => id !== byzantine);
  const count = committee.length;
  const interceptor: Interceptor = behaviour === "equivocating"
    ? (to, type, payload) => {
      // Two of the three others get the second proposal: neither version has a quorum alone.
      if (type !== BFT_MESSAGES.PROPOSE || others.indexOf(to) === 0) return payload;
      const message = decodePropose(payload, count, DEFAULT_MAX_PROPOSAL_BYTES);
      const proposal = decodeProposal(message.proposal);
      return encodePropose({ ...message, proposal: encodeProposal({ ...proposal, timestamp: proposal.timestamp + 1 }) }, count);
    }
    : (to, type, payload) => (type === BFT_MESSAGES.FINALIZED && to !== others[0] ? undefined : payload);
  sim.network.intercept(byzantine, interceptor);

  // Two rounds of transfers in shard 0: each account pays the next and keeps the change.
  const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
  const coins = new Map(payers.map((a) => [toHex(a.publicKey), { txid: cluster.context.chain, index: positions.get(toHex(a.publicKey))!, amount: AMOUNT }]));
  const rounds = [0, 1].map(() => payers.map((payer, i) => {
    const coin = coins.get(toHex(payer.publicKey))!;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: coin.txid, index: coin.index, owner: payer.publicKey }],
      outputs: [{ owner: payers[(i + 1) % payers.length]!.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: coin.amount - 1_000n - FEE }],
    }, [payer]);
    coins.set(toHex(payer.publicKey), { txid, index: 1, amount: coin.amount - 1_000n - FEE });
    return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
  }));
  const via = others[others.length - 1]!;
  const finalEverywhere = (round: readonly { txid: string }[]) => round.every((t) => cluster.members(0).every((id) => cluster.status(id, t.txid)?.state === "final"));
  for (const round of rounds) {
    await cluster.advance(500);
    const answers = await cluster.submitAndWait(0, round.map((t) => t.bytes), via);
    assert.ok(answers.every((a) => a.outcome === "accepted"), `${seed}: ${JSON.stringify(answers.filter((a) => a.outcome !== "accepted"))}`);
    assert.ok(await cluster.advance(20_000, () => finalEverywhere(round)), `${seed}: the round is final on every replica despite the ${behaviour} leader`);
  }
  assert.ok(await cluster.advance(5_000, () => new Set(cluster.replicas(0).map((node) => node.state.tip.height)).size === 1), `${seed}: the replicas meet at one height`);

  assert.deepEqual(cluster.failures, [], `${seed}: no replica diverged`);
  const { commonHeight, firstDifference } = cluster.agreement(0);
  assert.ok(commonHeight > 0);
  assert.equal(firstDifference, undefined, `${seed}: every replica holds the same blocks`);
  const commitments = new Set(cluster.replicas(0).map((node) => toHex((node.driver as PobShardConsensus).node.validator.tip)));
  assert.equal(commitments.size, 1, `${seed}: one state commitment`);
  const viewChanges = cluster.replicas(0).flatMap((node) => {
    const bft = (node.driver as PobShardConsensus).node.bft;
    return bft === undefined ? [] : [bft.stats.viewChanges];
  });
  assert.ok(viewChanges.some((n) => n > 0), `${seed}: the ${behaviour} leader cost view changes (${viewChanges.join(",")})`);
  if (behaviour === "equivocating") {
    // Another core: a height ordering blocks carries shares for the first core, an idle one a state commitment the core does not reach.
    const refused = others.slice(1).map((id) => {
      const { badShares, commitmentMismatches } = (cluster.node(id)!.driver as PobShardConsensus).node.stats;
      return badShares + commitmentMismatches;
    });
    assert.ok(refused.every((n) => n > 0), `${seed}: the members given the second proposal refused it: its shares or its commitment are for another core (${refused.join(",")})`);
  }
  // The producer is honest: whatever the leader does, no replica may slash it.
  for (const node of cluster.replicas(0)) assert.deepEqual(slashingsOf(node), [], `${seed}: no slashing of the honest producer`);
  let supply = 0n;
  for (let shard = 0; shard < SHARDS; shard++) supply += cluster.replicas(shard)[0]!.state.supply;
  assert.equal(supply, genesisSupply(genesis) - FEE * BigInt(rounds.flat().length), `${seed}: supply is conserved, fees aside`);
  await cluster.stop();
}

const seeds = (name: string) => caseSeeds(name, LEADER_SEEDS);

describe("whole validators under a byzantine leader", () => {
  for (const seed of seeds("leader-equivocating")) {
    it(`${seed}: a leader sending two proposals for one height and view to two halves of the committee: one chain everywhere`, async () => {
      await run(seed, "equivocating");
    });
  }
  for (const seed of seeds("leader-withholding")) {
    it(`${seed}: a leader telling only one member that a height is final: the others decide the same value after a view change`, async () => {
      await run(seed, "withholding");
    });
  }
});
