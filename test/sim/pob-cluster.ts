// The whole-node simulator tests' common start: PoB validators of a test genesis in a fresh
// simulator with 1–4 ms links (src/sim/validator-cluster.ts), and what their final chains slashed.
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { Simulator } from "../../src/sim/simulator.js";
import { ValidatorCluster } from "../../src/sim/validator-cluster.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { kindOfTransaction } from "../../src/ledger/kinds/registry.js";
import { slashingKind } from "../../src/ledger/kinds/slashing.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import type { StoreSettings } from "../../src/node/config.js";
import type { AtomixAccess } from "../../src/atomix/client.js";
import type { PeerId } from "../../src/net/interface.js";

/** The whole-node tests' common shape: 2 shards × 5 validators, accounts of 1,000,000, transfers paying a fee of 10. */
/** The sharding policy of most whole-node simulations: one believable producer, a normal league of 4 sampling half the signatures, 50 ms optimistic blocks. */
export const SIM_POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.5, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
export const WHOLE_NODE: { readonly shards: number; readonly perShard: number; readonly amount: bigint; readonly fee: bigint } = { shards: 2, perShard: 5, amount: 1_000_000n, fee: 10n };

/**
 * The seeds of one seeded case: `${name}-${first}` … in CI (`ciCount` of them, `first` 1 unless
 * the case says why not), WHOLE_NODE_SEEDS more (`npm run test:seeds -- N`), or just `name` when
 * IOS_SIM_SEED replays one run.
 */
export function caseSeeds(name: string, ciCount: number, first = 1): string[] {
  if (process.env["IOS_SIM_SEED"] !== undefined) return [name];
  return Array.from({ length: ciCount + Number(process.env["WHOLE_NODE_SEEDS"] ?? 0) }, (_, i) => `${name}-${first + i}`);
}

export interface PobClusterOptions {
  readonly seed: string | number;
  readonly genesisSeed: string;
  readonly policy: ShardingPolicy;
  readonly shards: number;
  readonly perShard: number;
  readonly accounts: number;
  readonly amount: bigint;
  /** Final blocks per shard per epoch (the genesis's epochLength); default: one endless epoch. */
  readonly epochLength?: number;
  /** Every node's store settings (pruning); default: the node's defaults. */
  readonly store?: StoreSettings;
  /** Shards rest at their epoch's end until the next configuration (ValidatorDeps `restAtBoundary`): a history that stays fixed. */
  readonly restAtBoundary?: boolean;
  /** An idle shard's empty height every this many ms (default 100: the simulator's runs stay short); a devnet's is 5,000. */
  readonly idleBlockMs?: number;
  /** Heights' spacing (`consensus.minHeightIntervalMs`); default 0, back to back, as the scenarios were written (the node's is 150 ms: whole-node-height-spacing). */
  readonly minHeightIntervalMs?: number;
}

/** The cluster, its genesis and keys, and each account's genesis output position (by owner hex). */
export function pobCluster(options: PobClusterOptions) {
  const sim = new Simulator({ seed: options.seed, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 4 } } });
  const { genesis, accounts, validators } = makeTestGenesis({
    seed: options.genesisSeed, shardCount: options.shards, accounts: options.accounts, amount: options.amount, validators: options.shards * options.perShard, stake: 10_000n, pob: options.policy,
    ...(options.epochLength === undefined ? {} : { epochLength: options.epochLength }),
  });
  const cluster = new ValidatorCluster({ sim, genesis, keys: validators, consensus: { mode: "pob", viewTimeoutMs: 400, idleBlockMs: options.idleBlockMs ?? 100, minHeightIntervalMs: options.minHeightIntervalMs ?? 0 }, ...(options.store === undefined ? {} : { store: options.store }), ...(options.restAtBoundary === true ? { restAtBoundary: true } : {}) });
  const positions = new Map(genesis.outputs.map((output, index) => [toHex(output.owner), index]));
  return { sim, genesis, accounts, validators, cluster, positions };
}

/** A running normal validator of `shard` (not a believable producer): clients reach the shard through it. */
export function entryOf(nodes: ValidatorCluster, shard: number): PeerId {
  return nodes.members(shard).find((id) => nodes.node(id) !== undefined && !nodes.context.leagues(shard).isBelievable(Buffer.from(id, "hex")))!;
}

/** A transfer of the first account of `shard` paying its genesis output, less `fee`, to itself: bytes and txid. */
export function genesisSelfTransfer(nodes: ValidatorCluster, accounts: readonly KeyPair[], positions: ReadonlyMap<string, number>, shard: number, amount: bigint, fee: bigint) {
  const payer = accounts.find((a) => shardOfOwner(a.publicKey, nodes.context.shardCount) === shard)!;
  const { transaction, txid } = signTransaction({
    kind: TxKind.Transfer, inputs: [{ txid: nodes.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
    outputs: [{ owner: payer.publicKey, amount: amount - fee }],
  }, [payer]);
  return { bytes: encodeTransaction(transaction), txid };
}

/**
 * Each account of shard 0 pays itself `rounds` times, each transfer spending the one before,
 * submitted through `via`, a round every `everyMs` of virtual time. The txids, in send order.
 */
export async function sendChainedSelfTransfers(nodes: ValidatorCluster, accounts: readonly KeyPair[], positions: ReadonlyMap<string, number>, via: PeerId, rounds: number, everyMs: number): Promise<Uint8Array[]> {
  const heads = accounts.map((account) => ({ account, txid: nodes.context.chain, index: positions.get(toHex(account.publicKey))!, amount: WHOLE_NODE.amount }));
  const sent: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const head of heads) {
      const amount = head.amount - WHOLE_NODE.fee;
      const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: head.txid, index: head.index, owner: head.account.publicKey }], outputs: [{ owner: head.account.publicKey, amount }] }, [head.account]);
      void nodes.submit(0, [encodeTransaction(transaction)], via);
      Object.assign(head, { txid, index: 0, amount });
      sent.push(txid);
    }
    await nodes.advance(everyMs);
  }
  return sent;
}

/** The Atomix client's access to a simulated cluster: submits through `entryOf`, reads a shard's first replica, sleeps in virtual time. */
export function atomixAccess(nodes: ValidatorCluster): AtomixAccess {
  return {
    shardCount: nodes.context.shardCount,
    submit: async (shard, tx) => void (await nodes.submit(shard, [tx], entryOf(nodes, shard))),
    view: (shard, txid) => {
      const stored = nodes.replicas(shard)[0]!.state.atomix(txid);
      return Promise.resolve({ phase: stored?.phase, proof: stored?.proof });
    },
    sleep: (ms) => new Promise((resolve) => nodes.sim.schedule(ms, "atomix poll", () => resolve())),
    now: () => nodes.sim.now(),
  };
}

/** The slashing transactions in `node`'s final chain, oldest first. */
export function slashingsOf(node: ValidatorNode): Uint8Array[] {
  const found: Uint8Array[] = [];
  for (let height = 1; height <= node.state.tip.height; height++) {
    for (const tx of decodeBlock(node.state.getBlock(height)!).transactions) if (kindOfTransaction(tx).kind === TxKind.SlashingEvidence) found.push(tx);
  }
  return found;
}

/** What the slashings in `node`'s final chain burned: each bond less the compensations it paid. */
export function burnedBy(node: ValidatorNode): bigint {
  return slashingsOf(node).map((tx) => slashingKind.decode(tx)).reduce((sum, s) => sum + s.bondAmount - s.compensations.reduce((paid, c) => paid + c.amount, 0n), 0n);
}
