/**
 * Joining a shard at its latest MSB vs replaying it from the genesis (issue 15, msb-join): whole
 * PoB validators of the simulator (1 shard × 5, epochs of EPOCH_LENGTH heights) live through
 * EPOCHS epochs under chained transfers (test/sim/epoch-load.ts); then two fresh states of the
 * shard sync to the latest epoch's start height from the validators, one replaying every height
 * (bootstrap off), one joining at the MSB (certification, the epoch-end height, the body in
 * chunks). Records the bytes each downloaded, `bootstrapToReplayBytes` (goal ≤ 0.05), heights,
 * UTXO count and virtual time. Results: bench/results/bootstrap.json.
 * Not benny: one sample is a whole simulated run.
 */
import { committeesOfContext } from "../src/atomix/proof.js";
import { movesOfContext } from "../src/epoch/transepoch/walk.js";
import { Ed25519Verifier } from "../src/crypto/ed25519.js";
import { ShardState } from "../src/node/shard-state.js";
import type { SyncReport } from "../src/node/sync/interface.js";
import { ShardSync } from "../src/node/sync/shard-sync.js";
import { simSeed } from "../src/sim/simulator.js";
import { MemoryChainStore, MemoryDisk } from "../src/store/memory-store.js";
import { payInRounds } from "../test/sim/epoch-load.js";
import { SIM_POLICY, pobCluster } from "../test/sim/pob-cluster.js";
import { mergeResults } from "./stats.js";

const RESULTS_FILE = "bench/results/bootstrap.json";
const EPOCH_LENGTH = Number(process.env.BOOTSTRAP_BENCH_EPOCH_LENGTH ?? 20);
const EPOCHS = Number(process.env.BOOTSTRAP_BENCH_EPOCHS ?? 5);
const ROUNDS = Number(process.env.BOOTSTRAP_BENCH_ROUNDS ?? 12);
const ACCOUNTS = 24;
const SHARD = 0;

const { sim, genesis, accounts, cluster, positions } = pobCluster({
  seed: simSeed("bootstrap-bench"), genesisSeed: "bootstrap-bench", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: ACCOUNTS, amount: 1_000_000n, epochLength: EPOCH_LENGTH,
});
const load = payInRounds(cluster, accounts, positions, { rounds: ROUNDS, amount: 1_000_000n, fee: 10n });
const members = cluster.members(SHARD);
const reached = await cluster.advance(600_000, () => members.every((id) => (cluster.node(id)?.context.epoch ?? 0) >= EPOCHS) && load.allFinal());
if (!reached) throw new Error(`the cluster did not reach epoch ${EPOCHS} with every transfer final`);
const serving = cluster.serving(SHARD);
const target = Math.min(...serving.map((node) => node.context.startHeight));
// Committees of every epoch the synced heights span: a validator's verified contexts hold them.
const directory = committeesOfContext(...serving[0]!.contexts);
const moves = movesOfContext(...serving[0]!.contexts);

async function syncFresh(name: string, bootstrap: boolean): Promise<{ report: SyncReport; wallMs: number; utxos: number }> {
  let sync: ShardSync | undefined;
  let state: ShardState | undefined;
  sim.addNode(name, ({ transport, clock }) => {
    state = ShardState.open({ store: MemoryChainStore.open(new MemoryDisk(name)), genesis, shard: SHARD });
    sync = new ShardSync({ state, transport, clock, committees: directory, moves, epochLength: EPOCH_LENGTH, verifier: new Ed25519Verifier(), bootstrap });
    return sync;
  });
  await cluster.advance(1, () => sync !== undefined);
  const started = performance.now();
  let report: SyncReport | undefined;
  let failure: unknown;
  sync!.sync(target, members).then((r) => (report = r), (error: unknown) => (failure = error));
  await cluster.advance(600_000, () => report !== undefined || failure !== undefined);
  if (report === undefined) throw new Error(`${name}: ${String(failure)}`);
  return { report, wallMs: performance.now() - started, utxos: state!.utxoCount };
}

const replay = await syncFresh("replayer", false);
const joined = await syncFresh("joiner", true);
await cluster.stop();
if (joined.report.bootstrap?.restored !== true) throw new Error(`the joiner did not join at the MSB: ${JSON.stringify(joined.report.bootstrap)}`);
const result = {
  date: new Date().toISOString(),
  setup: { shards: 1, validators: members.length, epochLength: EPOCH_LENGTH, epochs: EPOCHS, transfers: load.total },
  target,
  utxos: joined.utxos,
  replay: { bytes: replay.report.bytes, heights: replay.report.applied, virtualMs: replay.report.elapsedMs, wallMs: Math.round(replay.wallMs) },
  bootstrap: {
    bytes: joined.report.bytes, msbHeight: joined.report.bootstrap.height, heightsAfter: joined.report.applied, chunks: joined.report.bootstrap.body?.chunks,
    bodyBytes: joined.report.bootstrap.body?.bytes, entryBytes: joined.report.bootstrap.body?.entryBytes, virtualMs: joined.report.elapsedMs, wallMs: Math.round(joined.wallMs),
  },
  bootstrapToReplayBytes: joined.report.bytes / replay.report.bytes,
};
console.log(JSON.stringify(result, null, 2));
mergeResults(RESULTS_FILE, result);
