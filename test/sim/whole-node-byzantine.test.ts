// Whole validators (src/sim/validator-cluster.ts) against a byzantine believable producer: an
// attacker holding the producer's key injects optimistic blocks with forged signatures, or a
// well-sealed and a bad-sealed copy of one block to different validators. After each run every
// honest replica of the shard holds the same blocks and the same state commitment at every
// height, the supply is conserved (fees aside), and a forgery is either caught — the producer
// slashed on every replica at the same height, the forged transfer never final — or, when the
// sample misses it, included identically everywhere. At p = 1 it is always caught.
// CI runs BYZANTINE_SEEDS seeds per case; `WHOLE_NODE_SEEDS=N` adds N more. IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { POB_MESSAGES, SUSPEND_AFTER_MS } from "../../src/consensus/pob/protocol.js";
import { encodeFinalityRecord } from "../../src/consensus/bft/codec.js";
import { buildOptimisticBlock } from "../../src/consensus/pob/optimistic.js";
import { toHex } from "../../src/hex.js";
import { HEADER_BYTES } from "../../src/ledger/block.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { burnedBy, pobCluster, WHOLE_NODE, caseSeeds } from "./pob-cluster.js";
import { SIM_WALL_ORIGIN_MS } from "../../src/sim/virtual-clock.js";

const { shards: SHARDS, perShard: PER_SHARD, amount: AMOUNT, fee: FEE } = WHOLE_NODE;
const ACCOUNTS = 32;
const BYZANTINE_SEEDS = 2;
const ATTACKER = "ee".repeat(32);

function policy(samplingProbability: number): ShardingPolicy {
  return { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
}

interface Scenario {
  readonly seed: string;
  readonly p: number;
  /** Forged transfers in the injected block (0: a seal split of one valid block instead). */
  readonly forged: number;
  /** Withheld bodies: the block goes to this one member (by index) and to nobody else. */
  readonly onlyTo?: number;
}

async function run({ seed, p, forged, onlyTo }: Scenario) {
  const { sim, genesis, accounts, validators, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-byzantine", policy: policy(p), shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT,
  });
  const producerKey = validators.find((v) => toHex(v.publicKey) === toHex(cluster.context.leagues(0).believable[0]!))!;
  const producer = toHex(producerKey.publicKey);
  const members = cluster.members(0).filter((id) => id !== producer);
  const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
  const transfer = (k: number, forge: boolean) => {
    const payer = payers[k]!;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
      outputs: [{ owner: payers[(k + 1) % payers.length]!.publicKey, amount: AMOUNT - FEE }],
    }, [payer]);
    const bytes = encodeTransaction(transaction);
    if (forge) bytes[bytes.length - 1]! ^= 0x01;
    return { bytes, txid: toHex(txid) };
  };
  const valid = transfer(0, false);
  const forgeries = Array.from({ length: forged }, (_, k) => transfer(k + 1, true));
  const honest = transfer(forged + 1, false);

  // The attacker holds the producer's key and speaks the real peer protocol from its own node.
  sim.addNode(ATTACKER, ({ transport, clock }) => {
    const channel = transport.open({ protocol: "consensus", shard: 0, epoch: 0 });
    clock.setTimer(600, () => {
      const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 1_000, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + clock.now() }, [valid.bytes, ...forgeries.map((f) => f.bytes)], producerKey);
      const badSeal = Uint8Array.from(bytes);
      badSeal[HEADER_BYTES + 7]! ^= 0x01;
      // A forgery goes to everyone; a seal split sends the good copy to half the validators only;
      // a withholding producer sends it to one validator, which must serve it to the others.
      members.forEach((id, i) => {
        if (onlyTo === undefined) channel.send(id, POB_MESSAGES.OPTIMISTIC_BLOCK, forged > 0 || i % 2 === 0 ? bytes : badSeal);
        else if (i === onlyTo) channel.send(id, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
      });
    });
    return channel;
  });
  sim.schedule(900, "an honest client", () => void cluster.submit(0, [honest.bytes], members[0]));
  const statusOn = (id: string, txid: string) => cluster.status(id, txid)?.state ?? "unknown";
  const settledEverywhere = (txid: string) => cluster.members(0).every((id) => ["final", "rejected"].includes(statusOn(id, txid)));
  const done = await cluster.advance(15_000, () => settledEverywhere(valid.txid) && settledEverywhere(honest.txid) && forgeries.every((f) => settledEverywhere(f.txid)));
  assert.ok(done, `${seed}: every transfer settled on every validator of the shard ${[valid, honest, ...forgeries].map((t) => cluster.members(0).map((id) => statusOn(id, t.txid)).join("/")).join(" ")}`);
  assert.deepEqual(cluster.failures, [], "no driver failed (no replica diverged)");
  await cluster.advance(1_000);

  // Agreement: the same blocks and state commitments at every height every replica reached.
  const replicas = cluster.replicas(0);
  const { commonHeight: lowest, firstDifference } = cluster.agreement(0);
  assert.ok(lowest > 0);
  assert.equal(firstDifference, undefined, `${seed}: every replica holds the same blocks`);
  const tips = new Set(replicas.filter((node) => node.state.tip.height === lowest).map((node) => toHex((node.driver as PobShardConsensus).node.validator.tip)));
  assert.equal(tips.size, 1, `${seed}: one state commitment at height ${lowest}`);

  const states = (txid: string) => new Set(cluster.members(0).map((id) => statusOn(id, txid)));
  assert.deepEqual([...states(valid.txid)], ["final"], "the valid transfer in the injected block is final everywhere");
  assert.deepEqual([...states(honest.txid)], ["final"], "honest load goes on");
  const slashed = replicas.map((node) => !(node.driver as PobShardConsensus).node.validator.leagues.isBelievable(producerKey.publicKey));
  assert.equal(new Set(slashed).size, 1, `${seed}: every replica slashed the producer, or none did`);
  const caught = slashed[0]!;
  for (const f of forgeries) assert.equal(states(f.txid).size, 1, `${seed}: forgery ${f.txid.slice(0, 8)} settled alike everywhere`);
  if (caught) {
    assert.ok(forged > 0, "a seal split is no offence");
    assert.ok(forgeries.every((f) => [...states(f.txid)][0] === "rejected"), `${seed}: once caught, every forgery of the block is excluded`);
  }
  if (p === 1 && forged > 0) assert.ok(caught, `${seed}: at p = 1 every forgery is caught`);
  const final = [valid, honest, ...forgeries].filter((t) => [...states(t.txid)][0] === "final").length;
  let supply = 0n;
  for (let shard = 0; shard < SHARDS; shard++) supply += cluster.replicas(shard)[0]!.state.supply;
  const burned = burnedBy(replicas[0]!);
  assert.equal(burned > 0n, caught, `${seed}: a slashing burned the bond exactly when the producer was caught (no forgery slipped before, so no victim)`);
  assert.equal(supply, genesisSupply(genesis) - FEE * BigInt(final) - burned, `${seed}: supply is conserved, fees and the burned bond aside`);
  await cluster.stop();
  return { caught };
}

const seeds = (name: string) => caseSeeds(name, BYZANTINE_SEEDS);

describe("whole validators against a byzantine producer", () => {
  for (const seed of seeds("byzantine-forgery-p1")) {
    it(`${seed}: a block with 2 forged signatures at p = 1 is caught, its producer slashed everywhere, the shard agrees`, async () => {
      await run({ seed, p: 1, forged: 2 });
    });
  }
  for (const seed of seeds("byzantine-forgery-p01")) {
    it(`${seed}: a block with 3 forged signatures at p = 0.1 ends identically on every replica, caught or not`, async () => {
      await run({ seed, p: 0.1, forged: 3 });
    });
  }
  for (const seed of seeds("byzantine-withheld")) {
    it(`${seed}: a block with a forged signature sent to one validator only is fetched by the others: one outcome everywhere`, async () => {
      await run({ seed, p: 0.5, forged: 1, onlyTo: PER_SHARD - 2 });
    });
  }
  for (const seed of seeds("byzantine-seal-split")) {
    it(`${seed}: a good copy to half the shard and a bad-sealed one to the rest: one outcome everywhere`, async () => {
      await run({ seed, p: 0.1, forged: 0 });
    });
  }
});

describe("whole validators against a byzantine producer sealing what fails the stateless checks", () => {
  it("a transfer paying into another shard in a sealed block is never confirmed optimistically, and is excluded with its code everywhere; the block's valid transfer goes on", async () => {
    const { sim, accounts, validators, cluster, positions } = pobCluster({
      seed: simSeed("byzantine-stateless"), genesisSeed: "whole-node-byzantine", policy: policy(0.1), shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT,
    });
    const producerKey = validators.find((v) => toHex(v.publicKey) === toHex(cluster.context.leagues(0).believable[0]!))!;
    const members = cluster.members(0).filter((id) => id !== toHex(producerKey.publicKey));
    const [payer, other] = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0);
    const elsewhere = accounts.find((a) => shardOfOwner(a.publicKey, SHARDS) === 1)!;
    const pay = (from: typeof payer, to: typeof payer) => {
      const { transaction, txid } = signTransaction({
        kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(from!.publicKey))!, owner: from!.publicKey }],
        outputs: [{ owner: to!.publicKey, amount: AMOUNT - FEE }],
      }, [from!]);
      return { bytes: encodeTransaction(transaction), txid: toHex(txid) };
    };
    const valid = pay(payer, other);
    const wrongShard = pay(other, elsewhere);
    sim.addNode(ATTACKER, ({ transport, clock }) => {
      const channel = transport.open({ protocol: "consensus", shard: 0, epoch: 0 });
      clock.setTimer(600, () => {
        const { bytes } = buildOptimisticBlock({ shard: 0, epoch: 0, height: 1_000, prevHash: new Uint8Array(32), timestamp: SIM_WALL_ORIGIN_MS + clock.now() }, [valid.bytes, wrongShard.bytes], producerKey);
        for (const id of members) channel.send(id, POB_MESSAGES.OPTIMISTIC_BLOCK, bytes);
      });
      return channel;
    });
    const optimistic = new Set<string>();
    const statusOn = (id: string, txid: string) => cluster.status(id, txid);
    const settled = await cluster.advance(10_000, () => {
      for (const id of members) for (const t of [valid, wrongShard]) if (statusOn(id, t.txid)?.state === "optimistic") optimistic.add(t.txid);
      return members.every((id) => statusOn(id, valid.txid)?.state === "final" && statusOn(id, wrongShard.txid)?.state === "rejected");
    });
    assert.ok(settled, "the valid transfer is final and the wrong-shard one rejected on every member");
    assert.ok(optimistic.has(valid.txid), "the block was announced: its valid transfer was confirmed optimistically");
    assert.ok(!optimistic.has(wrongShard.txid), "no member confirmed the wrong-shard transfer optimistically");
    for (const id of members) assert.equal((statusOn(id, wrongShard.txid) as { code: string }).code, "TX_WRONG_SHARD");
    assert.deepEqual(cluster.failures, [], "no replica failed or diverged");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});

describe("whole validators against a byzantine relay of final records", () => {
  it("corrupted, truncated and replayed records sent to a validator behind the committee change nothing: counted against the relay, the replicas agree", async () => {
    const { sim, cluster } = pobCluster({ seed: simSeed("byzantine-records"), genesisSeed: "whole-node-byzantine", policy: policy(0.1), shards: SHARDS, perShard: PER_SHARD, accounts: ACCOUNTS, amount: AMOUNT });
    const leagues = cluster.context.leagues(0);
    const producer = toHex(leagues.believable[0]!);
    await cluster.advance(600);
    // The producer is outside the committee: it learns final heights from records. Down for a while, it needs the next ones.
    cluster.crash(producer);
    await cluster.advance(SUSPEND_AFTER_MS / 2);
    const member = cluster.node(toHex(leagues.normal[0]!))!;
    const recordAt = (height: number) => encodeFinalityRecord((member.driver as PobShardConsensus).node.bft!.log.get(height)!, leagues.normal.length);
    cluster.restart(producer);
    const needed = cluster.node(producer)!.state.tip.height + 1;
    assert.ok(member.state.tip.height > needed, "the shard decided heights the producer missed");
    // One bit of the proposal's state commitment (its last bytes): a replica that applied it would diverge.
    const flipped = recordAt(needed);
    const proposalEnd = 8 + 4 + 4 + (member.driver as PobShardConsensus).node.bft!.log.get(needed)!.proposal.length;
    flipped[proposalEnd - 1]! ^= 0x01;
    const truncated = recordAt(needed).subarray(0, 40);
    sim.addNode(ATTACKER, ({ transport }) => {
      const channel = transport.open({ protocol: "consensus", shard: 0, epoch: 0 });
      // A replayed old record, the one it needs next with one flipped bit (its certificate no longer verifies), a truncated one.
      for (const bytes of [recordAt(1), flipped, truncated]) channel.send(producer, POB_MESSAGES.FINAL_RECORD, bytes);
      return channel;
    });
    const target = member.state.tip.height;
    assert.ok(await cluster.advance(5_000, () => cluster.node(producer)!.state.tip.height >= target), "the producer catches up from the committee's records");
    assert.equal(cluster.handlerFailures, 1, "the truncated record is refused with its code and counted against the relay");
    assert.deepEqual(cluster.failures, [], "no replica failed or diverged");
    assert.equal(cluster.agreement(0).firstDifference, undefined, "every replica holds the same blocks");
    await cluster.stop();
  });
});
