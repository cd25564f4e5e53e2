// The fault-liveness scenario of test/sim/whole-node-fault-liveness.test.ts: a PoB shard of 1
// believable producer and a normal league of 4 (f = 1) under chained load, one normal validator
// crashed (or frozen, then thawed) at a chosen moment, and the shard's progress measured on
// virtual time: the longest stretch with no new final height, every transfer final or rejected
// (with its code) on every running replica.
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import type { MessageType, PeerId } from "../../src/net/interface.js";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { Simulator } from "../../src/sim/simulator.js";
import { SETTLED_CHECK_MS, ValidatorCluster } from "../../src/sim/validator-cluster.js";
import { pobCluster } from "./pob-cluster.js";

export const SHARDS = 2;
export const PER_SHARD = 5;
const ACCOUNTS = 32;
const AMOUNT = 1_000_000n;
export const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
/** The cluster's BFT view timeout (test/sim/pob-cluster.ts). */
export const VIEW_TIMEOUT_MS = 400;

export interface Transfer {
  readonly bytes: Uint8Array;
  readonly txid: string;
}

/** `rounds` rounds of shard-0 transfers valid in order (of `shards`): each account pays 1,000 to the next and keeps the change. */
export function chainedTransfers(accounts: readonly KeyPair[], genesisTxid: Uint8Array, positions: Map<string, number>, rounds: number, shards = SHARDS): Transfer[][] {
  const payers = accounts.filter((a) => shardOfOwner(a.publicKey, shards) === 0);
  const coins = new Map(payers.map((a) => [toHex(a.publicKey), { txid: genesisTxid, index: positions.get(toHex(a.publicKey))!, amount: AMOUNT }]));
  const plan: Transfer[][] = [];
  for (let round = 0; round < rounds; round++) {
    plan.push(payers.map((payer, i) => {
      const payee = payers[(i + 1) % payers.length]!;
      const coin = coins.get(toHex(payer.publicKey))!;
      const change = coin.amount - 1_000n - 10n;
      const { transaction, txid } = signTransaction(
        { kind: TxKind.Transfer, inputs: [{ txid: coin.txid, index: coin.index, owner: payer.publicKey }], outputs: [{ owner: payee.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: change }] },
        [payer],
      );
      coins.set(toHex(payer.publicKey), { txid, index: 1, amount: change });
      return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
    }));
  }
  return plan;
}

export type Role = "leader" | "next-leader" | "member";

export interface FaultCase {
  readonly seed: string;
  /** Which normal validator of shard 0 the fault hits, by its role at `atMs`. */
  readonly role: Role;
  readonly atMs: number;
  /** Crash at the victim's `nth` send of `type` after `atMs` (that message is lost with it), instead of at `atMs`. */
  readonly onSend?: { readonly type: MessageType; readonly nth: number };
  /** Frozen this long, then resumed, instead of crashed. */
  readonly pauseMs?: number;
  /** One-way latency of every link of another running normal validator, from the fault on (a member slower than the CoSi level timeout). */
  readonly slowMemberMs?: number;
}

export interface FaultRun {
  readonly victim: string;
  /** Longest virtual time after the fault with no new final height on any running replica of shard 0. */
  readonly longestGapMs: number;
  /** Every stretch after the fault with no new final height longer than GAP_REPORTED_MS: [start, length] in virtual ms. */
  readonly gaps: (readonly [number, number])[];
  readonly finalEverywhere: boolean;
  /** "txid-prefix:code" of every transfer a running replica holds rejected. */
  readonly rejected: string[];
  /** View changes per running replica of shard 0 after the fault. */
  readonly viewChanges: number[];
  readonly failures: number;
  readonly handlerFailures: string[];
  readonly heights: number[];
}

/** Stretches without a new final height shorter than this are a height's ordinary time, not reported. */
const GAP_REPORTED_MS = 150;
const ROUNDS = 32;
const ROUND_MS = 150;
const LOAD_STARTS_MS = 500;

export async function runFault(c: FaultCase): Promise<FaultRun> {
  const { sim, accounts, cluster, positions } = pobCluster({ seed: c.seed, genesisSeed: "fault-liveness", policy: POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT });
  const plan = chainedTransfers(accounts, cluster.context.chain, positions, ROUNDS);
  const all = plan.flat();
  const leagues = cluster.context.leagues(0);
  const producer = toHex(leagues.believable[0]!);
  const committee = leagues.committee.map(toHex);
  plan.forEach((round, r) => sim.schedule(LOAD_STARTS_MS + ROUND_MS * r, `round ${r}`, () => void cluster.submit(0, round.map((t) => t.bytes), producer)));

  let victim = "";
  let faultAt = Infinity;
  const bftOf = (id: PeerId) => (cluster.node(id)!.driver as PobShardConsensus).node.bft!;
  const strike = (): void => {
    faultAt = sim.now();
    if (c.slowMemberMs !== undefined) {
      const slow = committee.find((id) => id !== victim)!;
      for (const other of cluster.sim.nodeIds()) if (other !== slow) sim.network.setLinkBothWays(slow, other, { latency: { kind: "constant", ms: c.slowMemberMs } });
    }
    if (c.pauseMs === undefined) cluster.crash(victim);
    else {
      sim.pause(victim);
      sim.schedule(c.pauseMs, "thaw", () => sim.resume(victim));
    }
  };
  sim.schedule(c.atMs, "pick the victim", () => {
    const observer = bftOf(committee.find((id) => cluster.node(id) !== undefined)!);
    const h = observer.height;
    const v = observer.view;
    const leader = committee[observer.leaderOf(h, v)]!;
    const next = committee[observer.leaderOf(h + 1, 0)]!;
    victim = c.role === "leader" ? leader : c.role === "next-leader" ? (next === leader ? committee[observer.leaderOf(h + 2, 0)]! : next) : committee.find((id) => id !== leader && id !== next)!;
    if (c.onSend === undefined) return strike();
    let seen = 0;
    sim.network.intercept(victim, (_to, type, payload) => {
      if (type !== c.onSend!.type || faultAt !== Infinity) return payload;
      if (++seen < c.onSend!.nth) return payload;
      sim.schedule(0, "fault on send", strike);
      return undefined;
    });
  });

  const running = () => cluster.members(0).filter((id) => cluster.node(id) !== undefined && !(c.pauseMs === undefined && id === victim));
  let tip = 0;
  let lastRiseAt = 0;
  let settledCheckedAt = -Infinity;
  let longestGapMs = 0;
  const gaps: (readonly [number, number])[] = [];
  const viewChangesAtFault = new Map<string, number>();
  const finalOrRejectedEverywhere = (): boolean => {
    const now = sim.now();
    const top = Math.max(...running().map((id) => cluster.node(id)!.state.tip.height));
    if (faultAt !== Infinity && viewChangesAtFault.size === 0) for (const id of committee) if (cluster.node(id) !== undefined) viewChangesAtFault.set(id, bftOf(id).stats.viewChanges);
    if (top > tip) {
      if (faultAt !== Infinity) {
        const gap = now - Math.max(lastRiseAt, faultAt);
        longestGapMs = Math.max(longestGapMs, gap);
        if (gap > GAP_REPORTED_MS) gaps.push([Math.max(lastRiseAt, faultAt), gap]);
      }
      tip = top;
      lastRiseAt = now;
    }
    if (faultAt === Infinity || now < LOAD_STARTS_MS + ROUND_MS * ROUNDS || now - settledCheckedAt < SETTLED_CHECK_MS) return false;
    settledCheckedAt = now;
    return all.every((t) => running().every((id) => { const s = cluster.status(id, t.txid)?.state; return s === "final" || s === "rejected"; }));
  };
  const finalEverywhere = await cluster.advance(30_000, finalOrRejectedEverywhere);
  if (!finalEverywhere) longestGapMs = Math.max(longestGapMs, sim.now() - Math.max(lastRiseAt, faultAt));
  const rejected: string[] = [];
  for (const t of all) for (const id of running()) {
    const status = cluster.status(id, t.txid);
    if (status?.state === "rejected") rejected.push(`${t.txid.slice(0, 8)}:${(status as { code: string }).code}`);
  }
  const result: FaultRun = {
    victim: victim.slice(0, 8),
    longestGapMs,
    gaps,
    finalEverywhere: finalEverywhere && all.every((t) => running().every((id) => cluster.status(id, t.txid)?.state === "final")),
    rejected: [...new Set(rejected)],
    viewChanges: committee.filter((id) => cluster.node(id) !== undefined).map((id) => bftOf(id).stats.viewChanges - (viewChangesAtFault.get(id) ?? 0)),
    failures: cluster.failures.length,
    handlerFailures: cluster.handlerFailureCodes,
    heights: running().map((id) => cluster.node(id)!.state.tip.height),
  };
  await cluster.stop();
  return result;
}

export interface OneLeagueRun {
  /** Every transfer final on every replica at the end. */
  readonly finalEverywhere: boolean;
  /** "state:code" of the children as the running validators answered while the parents' validator was paused. */
  readonly duringPause: string[];
  readonly heights: number[];
  readonly failures: number;
  readonly handlerFailures: string[];
}

/**
 * One-league BFT (4 validators, f = 1): a round of transfers goes to validator 0, which is paused
 * just after; the round spending their outputs goes to validator 1 meanwhile (a client that sent
 * a chain through two validators, or a load driver whose routes moved). After `pauseMs` it resumes.
 */
export async function runOneLeaguePause(seed: string, pauseMs: number): Promise<OneLeagueRun> {
  const sim = new Simulator({ seed, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 4 } } });
  const { genesis, accounts, validators } = makeTestGenesis({ seed: "fault-liveness-bft", shardCount: 1, accounts: 8, amount: AMOUNT, validators: 4, stake: 10_000n });
  const cluster = new ValidatorCluster({ sim, genesis, keys: validators, consensus: { mode: "bft", viewTimeoutMs: VIEW_TIMEOUT_MS, idleBlockMs: 100 } });
  const positions = new Map(genesis.outputs.map((output, index) => [toHex(output.owner), index]));
  const [parents, children] = chainedTransfers(accounts, cluster.context.chain, positions, 2, 1);
  const ids = cluster.members(0);
  await cluster.advance(1_000);
  void cluster.submit(0, parents!.map((t) => t.bytes), ids[0]);
  await cluster.advance(1);
  sim.pause(ids[0]!);
  void cluster.submit(0, children!.map((t) => t.bytes), ids[1]);
  await cluster.advance(pauseMs);
  const duringPause = [...new Set(children!.flatMap((t) => ids.slice(1).map((id) => {
    const status = cluster.status(id, t.txid)!;
    return status.state === "rejected" ? `rejected:${status.code}` : status.state;
  })))].sort();
  sim.resume(ids[0]!);
  const all = [...parents!, ...children!];
  const finalEverywhere = await cluster.advance(10_000, () => all.every((t) => ids.every((id) => cluster.status(id, t.txid)?.state === "final")));
  const result = { finalEverywhere, duringPause, heights: ids.map((id) => cluster.node(id)!.state.tip.height), failures: cluster.failures.length, handlerFailures: cluster.handlerFailureCodes };
  await cluster.stop();
  return result;
}
