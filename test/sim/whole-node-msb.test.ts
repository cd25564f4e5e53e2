// Micro State Blocks under a byzantine leader (src/node/msb.ts, white paper §8 Algorithm 6): whole
// PoB validators of one shard of 5 with an epoch length, under transfers. The member that leads
// view 0 of the epoch's last height lies about the MSB: its execution binds a header hash with one
// bit flipped. Every other member executes the proposal before co-signing and reaches another
// commitment, so the lie is never co-signed: the last height is decided in a later view by an
// honest leader, its certificate binds the MSB header every honest replica stores (identical, its
// count and supply the certified set's, its body the stored latest one), and the liar, whose own
// commitment differs from the decided one, stops with POB_STATE_DIVERGED rather than store it.
// CI runs MSB_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeFinalHeightCertificate } from "../../src/atomix/proof.js";
import type { PobValidatorOptions } from "../../src/consensus/pob/finalization.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { decodeMsbHeader, msbHeaderHashOfEncoding } from "../../src/msb/header.js";
import { snapshotOfOrderedEntries } from "../../src/msb/snapshot.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 12;
const MSB_SEEDS = 1;
const driverOf = (node: { driver: unknown }) => node.driver as PobShardConsensus;

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
    msbAt: (height) => {
      const hash = honestMsb(height);
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
    const body = snapshotOfOrderedEntries(state.latestMsbBody());
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
}

describe("whole PoB validators: Micro State Blocks under a byzantine leader", () => {
  for (const seed of caseSeeds("msb-liar", MSB_SEEDS)) {
    it(`${seed}: the view-0 leader of the epoch's last height binds a wrong MSB header hash; it is not co-signed, and every honest replica stores the certified MSB`, async () => {
      await run(seed);
    });
  }
});
