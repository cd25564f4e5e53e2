// Whole validators in the deterministic simulator (src/sim/validator-cluster.ts): 2 shards × 5
// Proof-of-Believability validators — the production pipeline, PoB driver, shard state and UTXO
// table — over virtual time and a simulated network with jittered latency, under signed load.
// A normal validator of shard 0 crashes mid-run and restarts from its disk; every replica of a
// shard must end with the same blocks, every transfer must be final everywhere, supply must be
// conserved, and a second run with the same seed must produce the same trace hash.
// IOS_SIM_SEED replays a failing seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { simSeed } from "../../src/sim/simulator.js";
import { pobCluster } from "./pob-cluster.js";
import { spenderOf } from "../../src/consensus/pob/assignment.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { RELAY_ANSWER_MS, TX_REFUSED, TX_RELAY, type PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { BinaryWriter } from "../../src/codec/binary.js";
import { codeBytesOf, codedTxidsSize, writeCodedTxids } from "../../src/codec/coded-txids.js";
import { POB_MESSAGES, SEAT_CHANGE_HOLD_MS, SUSPEND_AFTER_MS } from "../../src/consensus/pob/protocol.js";

const SHARDS = 2;
const PER_SHARD = 5;
const ACCOUNTS = 64;
const AMOUNT = 1_000_000n;
const ROUNDS = 3;
const POLICY: ShardingPolicy = {
  believableLeagueSize: 1,
  normalLeagueSize: 4,
  samplingProbability: 0.1,
  minBelievableSize: 1,
  optimisticIntervalMs: 50,
  maxOptimisticBlockTxs: 256,
};

/** 2 shards × 5 PoB validators of the test genesis: what every test of this file starts from. */
function cluster5x2(seed: string | number) {
  return pobCluster({ seed, genesisSeed: "whole-node", policy: POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT });
}

interface Transfer {
  readonly shard: number;
  readonly bytes: Uint8Array;
  readonly txid: string;
}

/**
 * ROUNDS rounds of transfers valid in order: in round r every account pays 1,000 to the next
 * account of its shard and keeps the change, spending its output of round r − 1.
 */
function planTransfers(accounts: readonly KeyPair[], genesisTxid: Uint8Array, perAccount: Map<string, number>): Transfer[][] {
  const byShard = new Map<number, KeyPair[]>();
  for (const account of accounts) {
    const shard = shardOfOwner(account.publicKey, SHARDS);
    byShard.set(shard, [...(byShard.get(shard) ?? []), account]);
  }
  const unspent = new Map(accounts.map((account) => [toHex(account.publicKey), { txid: genesisTxid, index: perAccount.get(toHex(account.publicKey))!, amount: AMOUNT }]));
  const rounds: Transfer[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const transfers: Transfer[] = [];
    for (const [shard, members] of byShard) {
      members.forEach((payer, i) => {
        const payee = members[(i + 1) % members.length]!;
        const coin = unspent.get(toHex(payer.publicKey))!;
        const fee = 10n;
        const { transaction, txid } = signTransaction(
          {
            kind: TxKind.Transfer,
            inputs: [{ txid: coin.txid, index: coin.index, owner: payer.publicKey }],
            outputs: [{ owner: payee.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: coin.amount - 1_000n - fee }],
          },
          [payer],
        );
        unspent.set(toHex(payer.publicKey), { txid, index: 1, amount: coin.amount - 1_000n - fee });
        transfers.push({ shard, bytes: encodeTransaction(transaction), txid: toHex(txid) });
      });
    }
    rounds.push(transfers);
  }
  return rounds;
}

interface RunResult {
  readonly traceHash: string;
  readonly heights: number[][];
  readonly finalEverywhere: boolean;
  /** Final heights the victim's shard decided while it was down. */
  readonly missed: number;
}

async function run(seed: string | number): Promise<RunResult> {
  const { sim, genesis, accounts, cluster, positions } = cluster5x2(seed);
  const genesisId = cluster.context.chain;
  const rounds = planTransfers(accounts, genesisId, positions);
  const all = rounds.flat();

  // The crash victim: a member of shard 0's normal league (the BFT committee), never its producer.
  const leagues = cluster.context.leagues(0);
  const victim = toHex(leagues.normal[leagues.normal.length - 1]!);
  const outcomes: string[] = [];
  rounds.forEach((round, r) => {
    sim.schedule(600 + 400 * r, `round ${r}`, () => {
      for (let shard = 0; shard < SHARDS; shard++) {
        const batch = round.filter((t) => t.shard === shard);
        // Through a normal validator other than the victim: it relays to the believable assignee.
        const via = cluster.members(shard).find((id) => id !== victim && cluster.node(id) !== undefined && !cluster.context.leagues(shard).isBelievable(Buffer.from(id, "hex")));
        void cluster.submit(shard, batch.map((t) => t.bytes), via)!.then((results) => {
          for (const result of results) outcomes.push(result.outcome);
        });
      }
    });
  });
  let missed = 0;
  sim.schedule(950, "crash a normal validator of shard 0", () => cluster.crash(victim));
  sim.schedule(1_800, "restart it from its disk", () => {
    cluster.restart(victim);
    const others = cluster.replicas(0).filter((node) => toHex(node.setup.key.publicKey) !== victim);
    missed = Math.max(...others.map((node) => node.state.tip.height)) - cluster.node(victim)!.state.tip.height;
  });

  const isFinalEverywhere = (): boolean =>
    cluster.replicas(0).length === PER_SHARD &&
    all.every((t) => cluster.replicas(t.shard).every((node) => node.driver.status(Buffer.from(t.txid, "hex")).state === "final"));
  const finalEverywhere = await cluster.advance(20_000, isFinalEverywhere, SETTLED_CHECK_MS);

  assert.deepEqual(cluster.failures, [], "no driver failed");
  assert.equal(cluster.handlerFailures, 0, "no message handler threw");
  assert.equal(outcomes.length, all.length, "every submission answered");
  assert.ok(outcomes.every((outcome) => outcome === "accepted"), `all accepted: ${outcomes.filter((o) => o !== "accepted").join(",")}`);

  // Agreement: every replica of a shard holds the same blocks up to the lowest tip, and after a
  // quiet period every replica reaches the highest tip any of them had (idle shards keep
  // finalizing empty heights, so the tips are compared at the moment they all reach it).
  await cluster.advance(2_000);
  const targets = Array.from({ length: SHARDS }, (_, shard) => Math.max(...cluster.replicas(shard).map((node) => node.state.tip.height)));
  const caughtUp = await cluster.advance(2_000, () => targets.every((target, shard) => cluster.replicas(shard).every((node) => node.state.tip.height >= target)));
  assert.ok(caughtUp, `every replica reaches its shard's highest tip ${targets.join(",")}`);
  const heights: number[][] = [];
  let supply = 0n;
  for (let shard = 0; shard < SHARDS; shard++) {
    const replicas = cluster.replicas(shard);
    assert.equal(replicas.length, PER_SHARD, `shard ${shard}: every validator runs`);
    assert.equal(cluster.agreement(shard).firstDifference, undefined, `shard ${shard}: every replica holds the same blocks`);
    heights.push(replicas.map((node) => node.state.tip.height));
    const supplies = new Set(replicas.map((node) => node.state.supply));
    assert.equal(supplies.size, 1, `shard ${shard}: replicas agree on supply`);
    supply += replicas[0]!.state.supply;
  }
  // Conservation: every transfer paid a fee of 10, nothing else left the ledger.
  assert.equal(supply, genesisSupply(genesis) - 10n * BigInt(all.length));
  const traceHash = sim.traceHash();
  await cluster.stop();
  return { traceHash, heights, finalEverywhere, missed };
}

/** Seeds CI runs (two: each runs twice, to replay it; more seeds are one scenario again); `WHOLE_NODE_SEEDS=N` runs N more (scripts or a long local run). */
const SEEDS = process.env["IOS_SIM_SEED"] !== undefined ? [simSeed("")] : Array.from({ length: 2 + Number(process.env["WHOLE_NODE_SEEDS"] ?? 0) }, (_, i) => `whole-node-${i + 1}`);

describe("whole validators in the simulator", () => {
  for (const seed of SEEDS) {
    it(`2 shards × 5 PoB validators under load, seed ${JSON.stringify(seed)}: a normal validator crashes and restarts, every replica agrees, the run replays by seed`, async () => {
      const first = await run(seed);
      assert.ok(first.finalEverywhere, "every transfer became final on every replica of its shard");
      assert.ok(first.missed > 0, `the shard decided heights while the victim was down (${first.missed}), which it caught up on`);
      const second = await run(seed);
      assert.equal(second.traceHash, first.traceHash, "the same seed replays to the same trace");
      assert.deepEqual(second.heights, first.heights);
    });
  }
});

describe("a believable validator restarted behind the final chain", () => {
  it("confirms no re-spend of outputs the final chain spent, refuses until caught up, then finalizes fresh spends", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-stale-producer"));
    const [first, second] = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    // Each shard-0 account spends its genesis output again, to itself: valid against genesis only.
    const respends = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0).map((payer) => {
      const { transaction, txid } = signTransaction({
        kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: AMOUNT - 20n }],
      }, [payer]);
      return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
    });
    const submitted = (transfers: readonly { bytes: Uint8Array }[]) => cluster.submitAndWait(0, transfers.map((t) => t.bytes), producer);
    const statusOn = (id: string, txid: string) => cluster.status(id, txid);
    const finalEverywhere = (transfers: readonly { txid: string }[]) => cluster.replicas(0).length === PER_SHARD && transfers.every((t) => cluster.members(0).every((id) => statusOn(id, t.txid)?.state === "final"));

    sim.schedule(600, "first round, through the producer", () => void cluster.submit(0, first!.map((t) => t.bytes), producer));
    // The producer seals the round (every 50 ms) and crashes before its blocks are final on its own disk.
    sim.schedule(660, "crash the producer", () => cluster.crash(producer));
    assert.ok(await cluster.advance(5_000, () => first!.every((t) => cluster.members(0).filter((id) => id !== producer).every((id) => statusOn(id, t.txid)?.state === "final"))),
      "the normal league finalized the producer's sealed blocks without it");
    await cluster.advance(300);
    cluster.restart(producer);
    const behind = Math.max(...cluster.replicas(0).map((node) => node.state.tip.height)) - cluster.node(producer)!.state.tip.height;
    assert.ok(behind > 0, "the restarted producer is behind the final chain");
    assert.equal((await submitted(respends)).length, respends.length);

    // Until the fresh round is final everywhere, no validator may ever show a re-spend as optimistic or final.
    const seen = new Set<string>();
    const observe = (): boolean => {
      for (const id of cluster.members(0)) for (const t of respends) {
        const state = statusOn(id, t.txid)?.state;
        if (state === "optimistic" || state === "final") seen.add(`${id.slice(0, 8)} ${t.txid.slice(0, 8)} ${state}`);
      }
      return false;
    };
    let pending = second!;
    const resubmit = async (): Promise<void> => {
      // A client retries what a producer refused while catching up (POB_NOT_CAUGHT_UP).
      const results = await submitted(pending);
      pending = pending.filter((t, i) => results[i]!.outcome !== "accepted" || statusOn(producer, t.txid)?.state === "rejected");
    };
    await resubmit();
    for (let round = 0; round < 40 && !finalEverywhere(second!); round++) {
      await cluster.advance(100, observe);
      if (pending.length > 0) await resubmit();
    }
    assert.ok(finalEverywhere(second!), "the fresh round became final on every replica once the producer caught up");
    await cluster.advance(500, observe);
    assert.deepEqual([...seen], [], "no validator confirmed a re-spend");
    for (const t of respends) {
      const status = statusOn(producer, t.txid)!;
      assert.equal(status.state, "rejected", `re-spend ${t.txid.slice(0, 8)} is answered with a code by the producer`);
      assert.ok(["POB_NOT_CAUGHT_UP", "MISSING_INPUT"].includes((status as { code: string }).code), (status as { code: string }).code);
    }
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("a believable validator down (white paper §7.2, temporary downtime)", () => {
  it("its seat is suspended, the shard falls back to one league and keeps finalizing, then it catches up and takes its seat back", async () => {
    const { accounts, cluster, positions } = cluster5x2(simSeed("whole-node-downtime"));
    const [first, second] = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const via = cluster.members(0).find((id) => id !== producer)!;
    const modes = () => new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode));
    const finalEverywhere = (transfers: readonly { txid: string }[]) => transfers.every((t) => cluster.replicas(0).every((node) => node.driver.status(Buffer.from(t.txid, "hex")).state === "final"));
    await cluster.advance(600);
    cluster.crash(producer);
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS + 3_000, () => modes().size === 1 && modes().has("one-league")), "the normal league suspended the silent producer: one league");
    const answers = await cluster.submitAndWait(0, first!.map((t) => t.bytes), via);
    assert.ok(answers.every((a) => a.outcome === "accepted"), JSON.stringify(answers.filter((a) => a.outcome !== "accepted")));
    assert.ok(await cluster.advance(5_000, () => finalEverywhere(first!)), "the shard finalizes without its producer");

    cluster.restart(producer);
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS + 3_000, () => cluster.replicas(0).length === PER_SHARD && modes().size === 1 && modes().has("two-league")), "back and caught up, it retakes its seat on every replica");
    assert.ok(cluster.replicas(0).every((node) => (node.driver as PobShardConsensus).leagues.isBelievable(Buffer.from(producer, "hex"))));
    const seen = new Set<string>();
    void cluster.submit(0, second!.map((t) => t.bytes), via);
    assert.ok(await cluster.advance(5_000, () => {
      for (const t of second!) if (cluster.status(via, t.txid)?.state === "optimistic") seen.add(t.txid);
      return finalEverywhere(second!);
    }), "two leagues again: the next round is final everywhere");
    assert.ok(seen.size > 0, "and confirmed optimistically first");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("relayed submissions", () => {
  it("a non-assignee answers bad transactions with codes, and every relayed one resolves: refused, final or RELAY_UNANSWERED", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-relays"));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const [relayer, other] = cluster.members(0).filter((id) => id !== producer);
    const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
    const foreign = accounts.find((a) => shardOfOwner(a.publicKey, SHARDS) === 1)!;
    const spend = (payer: KeyPair, amount: bigint, owner = payer) => {
      const { transaction, txid } = signTransaction({
        kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(owner.publicKey))!, owner: owner.publicKey }], outputs: [{ owner: payer.publicKey, amount }],
      }, [payer]);
      return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
    };
    const submitTo = (via: string, txs: readonly { bytes: Uint8Array }[]) => cluster.submitAndWait(0, txs.map((t) => t.bytes), via);
    const statusOn = (id: string, txid: string) => cluster.status(id, txid)!;
    await cluster.advance(600);

    // Checked before the relay: a forged signature and another shard's spend get their codes, never "accepted".
    const forged = spend(payers[0]!, AMOUNT - 10n);
    forged.bytes[forged.bytes.length - 1]! ^= 1;
    const wrongShard = spend(foreign, AMOUNT - 10n);
    const refused = await submitTo(relayer!, [forged, wrongShard]);
    assert.deepEqual(refused.map((r) => [r.outcome, r.code]), [["rejected", "TX_BAD_SIGNATURE"], ["rejected", "TX_WRONG_SHARD"]]);

    // A double spend sent through two validators: one wins, the loser resolves to a code where it was submitted.
    const [a, b] = [spend(payers[1]!, AMOUNT - 10n), spend(payers[1]!, AMOUNT - 20n)];
    assert.deepEqual((await submitTo(relayer!, [a])).map((r) => r.outcome), ["accepted"]);
    assert.deepEqual((await submitTo(other!, [b])).map((r) => r.outcome), ["accepted"]);
    const settled = (id: string, txid: string) => ["final", "rejected"].includes(statusOn(id, txid).state);
    assert.ok(await cluster.advance(5_000, () => settled(relayer!, a.txid) && settled(other!, b.txid)), "both settle where they were submitted");
    const outcomes = [statusOn(relayer!, a.txid), statusOn(other!, b.txid)];
    assert.deepEqual(outcomes.map((o) => o.state).sort(), ["final", "rejected"], JSON.stringify(outcomes));
    const loser = outcomes.find((o) => o.state === "rejected") as { code: string };
    assert.ok(["POB_DOUBLE_SPEND_PENDING", "MISSING_INPUT"].includes(loser.code), loser.code);

    // The assignee goes down: what was relayed to it resolves to RELAY_UNANSWERED, not "pending" forever.
    cluster.crash(producer);
    const stranded = spend(payers[2]!, AMOUNT - 10n);
    assert.deepEqual((await submitTo(relayer!, [stranded])).map((r) => r.outcome), ["accepted"]);
    assert.equal(statusOn(relayer!, stranded.txid).state, "pending");
    // A peer that is not its assignee claims the transaction was refused, then sends garbage: neither counts.
    const failuresBefore = cluster.handlerFailures;
    sim.addNode("ee".repeat(32), ({ transport }) => {
      const channel = transport.open({ protocol: "client", shard: 0, epoch: 0 });
      const forged = [{ txid: Buffer.from(stranded.txid, "hex"), code: "MISSING_INPUT" }];
      const codes = codeBytesOf(forged);
      channel.send(relayer!, TX_REFUSED, writeCodedTxids(BinaryWriter.ofSize(4 + codedTxidsSize(codes)).u32(1), forged, codes).finish());
      channel.send(relayer!, TX_REFUSED, Uint8Array.of(1, 0, 0, 0, 7));
      return channel;
    });
    await cluster.advance(50);
    assert.equal(statusOn(relayer!, stranded.txid).state, "pending", "a refusal from another peer than the assignee is ignored");
    assert.equal(cluster.handlerFailures, failuresBefore + 1, "the malformed refusal is counted against its sender");
    assert.ok(await cluster.advance(RELAY_ANSWER_MS + 2_000, () => statusOn(relayer!, stranded.txid).state !== "pending"), "it resolves within the stated timeout");
    assert.deepEqual(statusOn(relayer!, stranded.txid), { state: "rejected", code: "RELAY_UNANSWERED" });
    await cluster.stop();
  });
});

describe("whole validators against a byzantine relay", () => {
  it("a relay with broken framing is logged and counted against its sender, and the shard keeps finalizing", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-relay"));
    const [round] = planTransfers(accounts, cluster.context.chain, positions);
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const relay = cluster.members(0).find((id) => id !== producer)!;
    // A byzantine node on the network: relays whose framing cuts a transaction's length prefix short.
    sim.addNode("ee".repeat(32), ({ transport, clock }) => {
      const channel = transport.open({ protocol: "client", shard: 0, epoch: 0 });
      clock.setTimer(600, () => {
        for (const junk of [Uint8Array.of(9, 0, 0, 0, 1), Uint8Array.of(1, 2)]) channel.send(producer, TX_RELAY, junk);
      });
      return channel;
    });
    const transfers = round!.filter((t) => t.shard === 0);
    sim.schedule(650, "honest load", () => void cluster.submit(0, transfers.map((t) => t.bytes), relay));
    const final = await cluster.advance(10_000, () => cluster.replicas(0).length === PER_SHARD && transfers.every((t) => cluster.replicas(0).every((node) => node.driver.status(Buffer.from(t.txid, "hex")).state === "final")));
    assert.ok(final, "the honest transfers became final on every replica after the broken relays");
    assert.equal(cluster.handlerFailures, 2, "each broken relay is counted once, against the producer's client instance");
    const logged = sim.logs.entries({ code: "BATCH_TRUNCATED" });
    assert.ok(logged.length >= 1 && logged.every((entry) => entry["peer"] === "ee".repeat(32)), "logged with its code and its sender");
    await cluster.stop();
  });
});

describe("catch-up from stored final blocks", () => {
  const BEHIND = 70;
  it("a committee member and the producer, down for more than 64 heights while every peer restarts, catch up from the stores and agree", async () => {
    const { accounts, cluster, positions } = cluster5x2(simSeed("whole-node-catch-up"));
    const rounds = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const leagues = cluster.context.leagues(0);
    const victim = toHex(leagues.normal[leagues.normal.length - 1]!);
    const producer = toHex(leagues.believable[0]!);
    const others = cluster.members(0).filter((id) => id !== victim);
    const peers = others.filter((id) => id !== producer);
    const via = peers[0]!;
    const tipOf = (id: string) => cluster.node(id)!.state.tip.height;
    const finalOn = (ids: readonly string[], transfers: readonly { txid: string }[]) => transfers.every((t) => ids.every((id) => cluster.status(id, t.txid)?.state === "final"));
    const modes = () => new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode));

    await cluster.advance(300);
    cluster.crash(victim);
    const downAt = tipOf(via);
    // Every round orders optimistic blocks whose bodies the victim never received.
    for (const round of rounds) {
      const answers = await cluster.submitAndWait(0, round.map((t) => t.bytes), via);
      assert.ok(answers.every((a) => a.outcome === "accepted"), JSON.stringify(answers.filter((a) => a.outcome !== "accepted")));
      assert.ok(await cluster.advance(5_000, () => finalOn(others, round)), "the shard finalizes the round without the victim");
    }
    // The producer (outside the committee: it learns heights from records) goes down too; the shard suspends it.
    cluster.crash(producer);
    const producerDownAt = tipOf(via);
    // Idle heights until both are past one catch-up window (64 records) behind.
    assert.ok(await cluster.advance(60_000, () => peers.every((id) => tipOf(id) >= producerDownAt + BEHIND)), `the shard decided ${BEHIND} heights without them (${downAt}, ${producerDownAt} → ${peers.map(tipOf).join(",")})`);

    // Every peer restarts: what they held in memory (optimistic bodies, recent records) is gone.
    for (const id of peers) cluster.crash(id);
    for (const id of peers) cluster.restart(id);
    await cluster.advance(500);
    cluster.restart(victim);
    cluster.restart(producer);
    const target = Math.max(...peers.map(tipOf));
    assert.ok(Math.min(tipOf(victim), tipOf(producer)) <= target - BEHIND, "both restart more than a catch-up window behind");
    const caught = await cluster.advance(30_000, () => tipOf(victim) >= target && tipOf(producer) >= target);
    assert.ok(caught, `both catch up to ${target} (at ${tipOf(victim)}, ${tipOf(producer)})`);
    assert.ok(finalOn([victim, producer], rounds.flat()), "every transfer is final on both");
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS + 3_000, () => modes().size === 1 && modes().has("two-league")), "caught up, the producer takes its seat back on every replica");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    assert.equal(new Set(cluster.replicas(0).map((node) => node.state.supply)).size, 1, "replicas agree on supply");
    assert.deepEqual(cluster.failures, [], "no driver failed");
    await cluster.stop();
  });
});

describe("a believable validator crashed with accepted, unsealed transactions", () => {
  it("answers each of them final or rejected after its restart, never unknown", async () => {
    const { accounts, cluster, positions } = cluster5x2(simSeed("whole-node-accepted"));
    const [round] = planTransfers(accounts, cluster.context.chain, positions).map((r) => r.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    await cluster.advance(600);
    const answers = await cluster.submitAndWait(0, round!.map((t) => t.bytes), producer);
    assert.ok(answers.every((a) => a.outcome === "accepted"), JSON.stringify(answers.filter((a) => a.outcome !== "accepted")));
    // Down at once: the transactions were accepted, not yet sealed, or sealed and never sent.
    cluster.crash(producer);
    const sealed = round!.filter((t) => cluster.members(0).some((id) => id !== producer && cluster.status(id, t.txid)?.state !== "unknown"));
    assert.ok(sealed.length < round!.length, `some accepted transactions were not sealed before the crash (${sealed.length}/${round!.length})`);
    await cluster.advance(1_000);
    cluster.restart(producer);
    const finalEverywhere = () => cluster.replicas(0).length === PER_SHARD && round!.every((t) => cluster.members(0).every((id) => cluster.status(id, t.txid)?.state === "final"));
    assert.ok(await cluster.advance(10_000, finalEverywhere), "every transaction accepted before the crash is final on every replica");
    assert.deepEqual(cluster.node(producer)!.state.acceptedTransactions(), [], "and none is kept as pending any more");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("a believable validator that says it is up but serves nothing (censorship)", () => {
  it("is suspended like a silent one, keeps no seat while it censors, and the shard finalizes without it", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-censor"));
    const [first] = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    // Clients spread over the normal validators, each of which relays to the assignee and sees it serve nothing.
    const normal = cluster.members(0).filter((id) => id !== producer);
    const viaOf = (k: number) => normal[k % normal.length]!;
    const modes = () => new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode));
    await cluster.advance(600);
    // Its heartbeats go out; its blocks, block answers and refusals never do.
    sim.network.intercept(producer, (_to, type, payload) => (type === POB_MESSAGES.OPTIMISTIC_BLOCK || type === TX_REFUSED ? undefined : payload));
    for (const [k, t] of first!.entries()) {
      const [answer] = await cluster.submitAndWait(0, [t.bytes], viaOf(k));
      assert.equal(answer!.outcome, "accepted", "relayed to the censoring assignee");
    }
    assert.ok(await cluster.advance(3 * SUSPEND_AFTER_MS, () => modes().size === 1 && modes().has("one-league")), "the shard suspended the producer that serves nothing");
    assert.ok(await cluster.advance(RELAY_ANSWER_MS, () => first!.every((t, k) => ["rejected", "final"].includes(cluster.status(viaOf(k), t.txid)?.state ?? "unknown"))),
      "every censored transaction is answered where it was submitted");
    // Clients retry what came back unanswered (the suspended producer offers what it held on too); the one league finalizes it.
    const retried = first!.filter((t, k) => cluster.status(viaOf(k), t.txid)?.state === "rejected");
    if (retried.length > 0) await cluster.submitAndWait(0, retried.map((t) => t.bytes), normal[0]);
    const finalEverywhere = () => first!.every((t) => cluster.replicas(0).every((node) => node.driver.status(Buffer.from(t.txid, "hex")).state === "final"));
    assert.ok(await cluster.advance(5_000, finalEverywhere), "every transfer is final on every replica");
    await cluster.advance(2 * SUSPEND_AFTER_MS);
    assert.ok(modes().size === 1 && modes().has("one-league"), "its heartbeats do not win its seat back while it is remembered censoring");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("a lone member to which the producer owes service (its relay lost on the way)", () => {
  it("proposes the suspension once per hold, not at every height it leads: the others refuse it, the producer keeps its seat, the shard finalizes", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-lone-suspicion"));
    const rounds = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const [lone, ...others] = cluster.members(0).filter((id) => id !== producer);
    const modes = () => new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode));
    const refusedBy = (id: string) => (cluster.node(id)!.driver as PobShardConsensus).node.stats.refused.get("PROPOSAL_UNVOUCHED_SUSPENSION") ?? 0;
    await cluster.advance(600);
    const viewChangesBefore = new Map(others.map((id) => [id, (cluster.node(id)!.driver as PobShardConsensus).node.bft!.stats.viewChanges]));
    // Its relays never reach the producer, so to it alone the producer owes service (SERVICE_OVERDUE_MS) until the relay settles
    // RELAY_UNANSWERED, and is remembered censoring CENSORSHIP_MEMORY_MS more; every other member hears the producer serve.
    sim.network.intercept(lone!, (to, type, payload) => (to === producer && type === TX_RELAY ? undefined : payload));
    // A first-round transfer: its input exists, so the producer could seal it (an orphan would prove nothing). Its payer's
    // later transfers spend its change, which never comes: they stay out of the load.
    const relayed = rounds[0]!.at(-1)!;
    const payer = toHex(spenderOf(relayed.bytes)!);
    const direct = rounds.flat().filter((t) => toHex(spenderOf(t.bytes)!) !== payer);
    const [answer] = await cluster.submitAndWait(0, [relayed.bytes], lone);
    assert.equal(answer!.outcome, "accepted", "relayed to the assignee, and lost");
    let twoLeague = true;
    const spanMs = 2 * SEAT_CHANGE_HOLD_MS;
    const chunks = 4;
    for (let k = 0; k < chunks; k++) {
      const chunk = direct.slice((k * direct.length) / chunks, ((k + 1) * direct.length) / chunks);
      const answers = await cluster.submitAndWait(0, chunk.map((t) => t.bytes), producer);
      assert.ok(answers.every((a) => a.outcome === "accepted"));
      await cluster.advance(spanMs / chunks, () => !(twoLeague &&= modes().size === 1 && modes().has("two-league")));
    }
    assert.ok(twoLeague, "the producer is never suspended");
    const refusals = others.map(refusedBy);
    assert.ok(refusals.some((n) => n > 0), `the others refused its suspension (${refusals.join(",")})`);
    // One lost view per hold over the span, one more where the span cuts a hold: not one per height it leads (10 heights a
    // second). (A refused proposal may be validated twice: its leader sends it again after a failed round.)
    const most = spanMs / SEAT_CHANGE_HOLD_MS + 1;
    const viewChanges = others.map((id) => (cluster.node(id)!.driver as PobShardConsensus).node.bft!.stats.viewChanges - (viewChangesBefore.get(id) ?? 0));
    assert.ok(viewChanges.every((n) => n <= most), `each of the others changed view at most ${most} times (${viewChanges.join(",")}; refusals ${refusals.join(",")})`);
    assert.ok(await cluster.advance(5_000, () => direct.every((t) => cluster.replicas(0).every((node) => node.driver.status(Buffer.from(t.txid, "hex")).state === "final"))),
      "every transfer sent to the producer is final on every replica");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("a relay sent before the producer was heard (its driver not up yet, as at a switch)", () => {
  it("goes again at the producer's first sign of life: final without the client's resend, and no member takes the producer for a censor", async () => {
    const { sim, accounts, cluster, positions } = cluster5x2(simSeed("whole-node-relay-before-heard"));
    const [first] = planTransfers(accounts, cluster.context.chain, positions).map((round) => round.filter((t) => t.shard === 0));
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const [member, ...others] = cluster.members(0).filter((id) => id !== producer);
    const refusedBy = (id: string) => (cluster.node(id)!.driver as PobShardConsensus).node.stats.refused.get("PROPOSAL_UNVOUCHED_SUSPENSION") ?? 0;
    // From the start, for less than SUSPEND_AFTER_MS: nothing of the producer reaches the member, and the member's relays to it are lost.
    const cutMs = SUSPEND_AFTER_MS - 500;
    sim.network.intercept(producer, (to, _type, payload) => (to === member && sim.now() < cutMs ? undefined : payload));
    sim.network.intercept(member!, (to, type, payload) => (to === producer && type === TX_RELAY && sim.now() < cutMs ? undefined : payload));
    await cluster.advance(cutMs / 2);
    const [transfer] = first!;
    const [answer] = await cluster.submitAndWait(0, [transfer!.bytes], member);
    assert.equal(answer!.outcome, "accepted", "relayed, and lost");
    assert.ok(await cluster.advance(cutMs + 2_000, () => cluster.status(member!, transfer!.txid)?.state === "final"), `final where it was sent (${JSON.stringify(cluster.status(member!, transfer!.txid))})`);
    // Long enough for an unserved relay to make the member a suspicious leader (SERVICE_OVERDUE_MS, then SUSPEND_AFTER_MS of ignored heartbeats).
    await cluster.advance(RELAY_ANSWER_MS);
    assert.deepEqual([member!, ...others].map(refusedBy), [0, 0, 0, 0], "no member refused a suspension: none was proposed");
    assert.ok(cluster.replicas(0).every((node) => node.driver.status(Buffer.from(transfer!.txid, "hex")).state === "final"), "final on every replica");
    await cluster.stop();
  });
});

describe("one double spend sent to two believable validators", () => {
  for (const seed of ["whole-node-double-1", "whole-node-double-2"]) {
    it(`${seed}: exactly one spend is final on every replica, the other is refused with a code where it was sent`, async () => {
      const policy: ShardingPolicy = { ...POLICY, believableLeagueSize: 2 };
      const { accounts, cluster, positions } = pobCluster({ seed: simSeed(seed), genesisSeed: "whole-node", policy, shards: SHARDS, perShard: PER_SHARD + 1, accounts: ACCOUNTS, amount: AMOUNT });
      const [producerA, producerB] = cluster.context.leagues(0).believable.map(toHex);
      const payer = accounts.find((a) => shardOfOwner(a.publicKey, SHARDS) === 0)!;
      const spend = (to: number) => {
        const { transaction, txid } = signTransaction({
          kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
          outputs: [{ owner: accounts[to]!.publicKey, amount: AMOUNT - 10n }],
        }, [payer]);
        return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
      };
      const [first, second] = [spend(1), spend(2)];
      await cluster.advance(600);
      const [answerA, answerB] = await Promise.all([cluster.submitAndWait(0, [first.bytes], producerA), cluster.submitAndWait(0, [second.bytes], producerB)]);
      const settled = (id: string, txid: string) => ["final", "rejected"].includes(cluster.status(id, txid)?.state ?? "unknown");
      const answered = (): boolean => settled(producerA!, first.txid) && settled(producerB!, second.txid)
        && [first, second].some((t) => cluster.members(0).every((id) => cluster.status(id, t.txid)?.state === "final"));
      assert.ok(await cluster.advance(RELAY_ANSWER_MS + 2_000, answered), `both spends settle where they were sent (${answerA![0]!.outcome}, ${answerB![0]!.outcome})`);
      const finalOn = (t: { txid: string }) => cluster.members(0).filter((id) => cluster.status(id, t.txid)?.state === "final").length;
      const counts = [finalOn(first), finalOn(second)].sort();
      assert.deepEqual(counts, [0, PER_SHARD + 1], "one spend final on every replica, the other on none");
      const loser = finalOn(first) === 0 ? { t: first, via: producerA! } : { t: second, via: producerB! };
      const status = cluster.status(loser.via, loser.t.txid);
      assert.equal(status?.state, "rejected", "the loser is answered with a code where it was sent");
      assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
      await cluster.stop();
    });
  }
});
