// The whole-node simulator tests' common start: PoB validators of a test genesis in a fresh
// simulator with 1–4 ms links (src/sim/validator-cluster.ts).
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { Simulator } from "../../src/sim/simulator.js";
import { ValidatorCluster } from "../../src/sim/validator-cluster.js";

export interface PobClusterOptions {
  readonly seed: string | number;
  readonly genesisSeed: string;
  readonly policy: ShardingPolicy;
  readonly shards: number;
  readonly perShard: number;
  readonly accounts: number;
  readonly amount: bigint;
}

/** The cluster, its genesis and keys, and each account's genesis output position (by owner hex). */
export function pobCluster(options: PobClusterOptions) {
  const sim = new Simulator({ seed: options.seed, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 4 } } });
  const { genesis, accounts, validators } = makeTestGenesis({
    seed: options.genesisSeed, shardCount: options.shards, accounts: options.accounts, amount: options.amount, validators: options.shards * options.perShard, stake: 10_000n, pob: options.policy,
  });
  const cluster = new ValidatorCluster({ sim, genesis, keys: validators, consensus: { mode: "pob", viewTimeoutMs: 400, idleBlockMs: 100 } });
  const positions = new Map(genesis.outputs.map((output, index) => [toHex(output.owner), index]));
  return { sim, genesis, accounts, validators, cluster, positions };
}
