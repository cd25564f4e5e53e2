/**
 * The epoch context (src/epoch): the seeded shard assignment of white paper §4.1 (a permutation
 * of the validators cut into m near-equal buckets) and the per-epoch values built on it — shard
 * members, leagues, believability accounts and consensus instance ids.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { drawLeagues } from "../../src/consensus/pob/leagues.js";
import { REPUTATION_INITIAL } from "../../src/consensus/pob/believability.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { assignShards } from "../../src/epoch/assignment.js";
import { EpochContextValue, INSTANCE_KEY_BYTES, genesisEpochContext, genesisEpochValidators, instanceKey } from "../../src/epoch/context.js";
import { IosError } from "../../src/errors.js";
import { genesisRegistry, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { toHex } from "../../src/hex.js";

/** The k-th test randomness: SHA-256 of "rnd" ‖ u32le k (32 bytes, like rnd_e). */
function randomness(k: number): Uint8Array {
  const input = new Uint8Array(7);
  input.set(new TextEncoder().encode("rnd"));
  new DataView(input.buffer).setUint32(3, k, true);
  return sha256(input);
}

function coded(code: string): (error: unknown) => boolean {
  return (error) => error instanceof IosError && error.code === code;
}

const POLICY: ShardingPolicy = {
  believableLeagueSize: 1,
  normalLeagueSize: 3,
  samplingProbability: 0.1,
  minBelievableSize: 1,
  optimisticIntervalMs: 50,
  maxOptimisticBlockTxs: 2048,
};

describe("shard assignment (white paper §4.1)", () => {
  it("is a permutation cut into buckets of ⌊n/m⌋ or ⌈n/m⌉ validators", () => {
    for (const [n, m] of [[1, 1], [4, 4], [7, 2], [10, 3], [64, 5], [100, 7], [1000, 16]] as const) {
      const shards = assignShards(n, m, randomness(n * 31 + m));
      assert.equal(shards.length, n);
      const sizes = new Array<number>(m).fill(0);
      for (const shard of shards) {
        assert.ok(shard < m, `shard ${shard} out of range for m = ${m}`);
        sizes[shard]!++;
      }
      for (const size of sizes) assert.ok(size === Math.floor(n / m) || size === Math.ceil(n / m), `n = ${n}, m = ${m}: bucket of ${size}`);
      assert.equal(sizes.reduce((a, b) => a + b, 0), n);
    }
  });

  it("is a function of the randomness: the same rnd_e gives the same assignment", () => {
    for (let k = 0; k < 20; k++) assert.deepEqual(assignShards(50, 4, randomness(k)), assignShards(50, 4, Uint8Array.from(randomness(k))));
  });

  it("changes with the randomness: 200 seeds give 200 different assignments of 64 validators to 4 shards", () => {
    // 64!/(16!)^4 ≈ 10^36 assignments: a repeat among 200 uniform draws has probability ≈ 2·10^-32.
    const seen = new Set<string>();
    for (let k = 0; k < 200; k++) seen.add(assignShards(64, 4, randomness(k)).join(","));
    assert.equal(seen.size, 200);
  });

  it("is uniform: 9,000 seeds spread 6 validators over the 90 ways of filling 3 shards of 2 evenly", () => {
    const n = 6;
    const m = 3;
    const seeds = 9000;
    /** Validators of shard 0, then of shard 1 (shard 2 holds the rest): one of 6!/(2!·2!·2!) = 90 outcomes. */
    const outcomeOf = (shards: Uint32Array) => [0, 1].map((shard) => shards.reduce((bits, s, v) => (s === shard ? bits | (1 << v) : bits), 0)).join("/");
    const counts = new Map<string, number>();
    for (let k = 0; k < seeds; k++) {
      const outcome = outcomeOf(assignShards(n, m, randomness(k)));
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    }
    assert.equal(counts.size, 90, "every way of filling the shards occurs");
    const expected = seeds / 90;
    const chiSquare = [...counts.values()].reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    // χ² with 89 degrees of freedom exceeds 167.35 with probability 10^-6 for a uniform
    // assignment (its mean is 89), so a correct implementation fails only by a one-in-a-million
    // accident; a rule that favours some outcomes by 30% (e.g. a biased shuffle) lands near 89 + 0.09·9000 ≈ 900.
    const CHI_SQUARE_BOUND = 167.35;
    assert.ok(chiSquare < CHI_SQUARE_BOUND, `χ² = ${chiSquare.toFixed(1)} ≥ ${CHI_SQUARE_BOUND}: the assignment is not uniform`);
    // Each validator lands in each shard a third of the time: 3,000 ± 5σ (σ = √(9000·⅓·⅔) ≈ 44.7).
    for (let v = 0; v < n; v++) {
      for (let shard = 0; shard < m; shard++) {
        const times = [...counts].reduce((sum, [outcome, count]) => {
          const [first, second] = outcome.split("/").map(Number) as [number, number];
          const inShard = shard === 0 ? first & (1 << v) : shard === 1 ? second & (1 << v) : ~(first | second) & (1 << v);
          return inShard === 0 ? sum : sum + count;
        }, 0);
        assert.ok(Math.abs(times - seeds / m) < 5 * 44.7, `validator ${v} serves shard ${shard} ${times} times of ${seeds}`);
      }
    }
  });

  it("refuses fewer validators than shards (EPOCH_TOO_FEW_VALIDATORS) and randomness that is not 32 bytes", () => {
    assert.throws(() => assignShards(2, 3, randomness(0)), coded("EPOCH_TOO_FEW_VALIDATORS"));
    assert.throws(() => assignShards(0, 1, randomness(0)), coded("EPOCH_TOO_FEW_VALIDATORS"));
    assert.throws(() => assignShards(4, 2, new Uint8Array(31)), coded("EPOCH_BAD_RANDOMNESS"));
    const { genesis } = makeTestGenesis({ seed: "epoch-few", shardCount: 3, accounts: 1, amount: 1n, validators: 2 });
    assert.throws(() => genesisEpochContext(genesis), coded("EPOCH_TOO_FEW_VALIDATORS"));
  });
});

describe("epoch context", () => {
  const { genesis, validators } = makeTestGenesis({ seed: "epoch-context", shardCount: 3, accounts: 4, amount: 10n, validators: 13, stake: 500n, pob: POLICY });
  const context = genesisEpochContext(genesis);
  const registry = genesisRegistry(genesis);

  it("builds epoch 0 from the genesis: its chain id, shard count, validators and policy", () => {
    assert.deepEqual(context.chain, genesisTxid(genesis));
    assert.equal(context.epoch, 0);
    assert.equal(context.shardCount, 3);
    assert.equal(context.randomness.length, 32);
    assert.deepEqual(context.policy, POLICY);
    assert.deepEqual(genesisEpochContext(genesis).randomness, context.randomness, "rnd_0 is fixed by the genesis");
    const other = makeTestGenesis({ seed: "epoch-context", shardCount: 3, accounts: 4, amount: 10n, validators: 13, timestamp: 1 }).genesis;
    assert.notDeepEqual(genesisEpochContext(other).randomness, context.randomness, "another genesis, another rnd_0");
  });

  it("answers members, shard and stake of every validator consistently with the assignment", () => {
    const shards = assignShards(validators.length, 3, context.randomness);
    for (let shard = 0; shard < 3; shard++) {
      const expected = validators.filter((_, i) => shards[i] === shard).map((v) => toHex(v.publicKey));
      assert.deepEqual(context.members(shard).map(toHex), expected, `shard ${shard}: members in genesis order`);
    }
    validators.forEach((v, i) => {
      assert.equal(context.shardOf(v.publicKey), shards[i]);
      assert.equal(context.stakeOf(v.publicKey), 500n);
    });
    const stranger = makeTestGenesis({ seed: "stranger", shardCount: 1, accounts: 1, amount: 1n, validators: 1 }).validators[0]!;
    assert.equal(context.shardOf(stranger.publicKey), undefined);
    assert.equal(context.stakeOf(stranger.publicKey), undefined);
    assert.throws(() => context.members(3), coded("SHARD_BAD_INDEX"));
  });

  it("gives every shard, epoch, batch and chain its own consensus instance key", () => {
    const chains = [genesisTxid(genesis), sha256(new TextEncoder().encode("another chain"))];
    const keys = new Set<string>();
    for (const chain of chains) {
      for (const epoch of [0, 1, 0xffffffff]) {
        const value = new EpochContextValue({ chain, epoch, randomness: randomness(epoch % 7), shardCount: 3, startHeight: 0, validators: genesisEpochValidators(genesis), registry, configurationHash: randomness(5) });
        for (let shard = 0; shard < 3; shard++) {
          const instance = value.instance(shard);
          assert.deepEqual({ shard: instance.shard, epoch: instance.epoch, batch: instance.batch }, { shard, epoch, batch: 0 }, "built alone, an epoch has no move: one batch");
          assert.equal(instance.key.length, INSTANCE_KEY_BYTES);
          assert.deepEqual(instance.key, instanceKey(chain, shard, epoch, 0));
          assert.deepEqual(instance.key.subarray(0, 32), chain);
          const view = new DataView(instance.key.buffer, instance.key.byteOffset);
          assert.deepEqual([view.getUint32(32, true), view.getUint32(36, true), view.getUint16(40, true)], [shard, epoch, 0]);
          keys.add(toHex(instance.key));
          for (const batch of [1, 0xffff]) keys.add(toHex(instanceKey(chain, shard, epoch, batch)));
        }
      }
    }
    assert.equal(keys.size, 2 * 3 * 3 * 3);
    assert.throws(() => new EpochContextValue({ chain: chains[0]!, epoch: -1, randomness: randomness(0), shardCount: 1, startHeight: 0, validators: genesisEpochValidators(genesis), registry }), coded("EPOCH_BAD_NUMBER"));
  });

  it("admits only validators registered with a proof of possession (EPOCH_UNREGISTERED_VALIDATOR)", () => {
    const stranger = genesisEpochValidators(makeTestGenesis({ seed: "stranger", shardCount: 1, accounts: 1, amount: 1n, validators: 1 }).genesis)[0]!;
    const configuration = { chain: genesisTxid(genesis), epoch: 1, randomness: randomness(1), shardCount: 3, startHeight: 0, registry, configurationHash: randomness(2) };
    assert.throws(() => new EpochContextValue({ ...configuration, validators: [...genesisEpochValidators(genesis), stranger] }), coded("EPOCH_UNREGISTERED_VALIDATOR"));
    assert.equal(new EpochContextValue({ ...configuration, validators: genesisEpochValidators(genesis) }).validators.length, 13);
  });

  it("starts epoch e of length L at height e·L, and needs the hash of its configuration from epoch 1 on", () => {
    const validators = genesisEpochValidators(genesis);
    const base = { chain: genesisTxid(genesis), randomness: randomness(3), shardCount: 3, validators, registry };
    const third = new EpochContextValue({ ...base, epoch: 3, epochLength: 50, startHeight: 150, configurationHash: randomness(4) });
    assert.equal(third.epochLength, 50);
    assert.deepEqual(third.configurationHash, randomness(4));
    assert.equal(third.registry, registry);
    assert.throws(() => new EpochContextValue({ ...base, epoch: 3, epochLength: 50, startHeight: 149, configurationHash: randomness(4) }), coded("EPOCH_BAD_NUMBER"));
    for (const epochLength of [0, 1.5, 2 ** 32]) {
      assert.throws(() => new EpochContextValue({ ...base, epoch: 0, epochLength, startHeight: 0 }), coded("EPOCH_BAD_LENGTH"), String(epochLength));
    }
    assert.throws(() => new EpochContextValue({ ...base, epoch: 3, epochLength: 50, startHeight: 150 }), coded("EPOCH_NO_CONFIGURATION_HASH"));
    assert.throws(() => new EpochContextValue({ ...base, epoch: 3, epochLength: 50, startHeight: 150, configurationHash: new Uint8Array(31) }), coded("EPOCH_NO_CONFIGURATION_HASH"));
    const first = new EpochContextValue({ ...base, epoch: 0, startHeight: 0 });
    assert.deepEqual(first.configurationHash, base.chain, "epoch 0's configuration hash is the chain id");
    assert.equal(first.epochLength, undefined);
    const timed = genesisEpochContext(makeTestGenesis({ seed: "epoch-context", shardCount: 3, accounts: 4, amount: 10n, validators: 13, epochLength: 20 }).genesis);
    assert.deepEqual([timed.epochLength, timed.startHeight, toHex(timed.configurationHash)], [20, 0, toHex(timed.chain)]);
    assert.equal(context.epochLength, undefined, "a genesis without epochLength: one endless epoch");
  });

  it("draws each shard's leagues with drawLeagues over its members, from a seed of its own", () => {
    for (let shard = 0; shard < 3; shard++) {
      const members = context.members(shard);
      // SHA-256(domain ‖ rnd_e ‖ u32le shard): the seed context.ts documents.
      const domain = new TextEncoder().encode("IOSChain/epoch/league-seed/v1");
      const input = new Uint8Array(domain.length + 36);
      input.set(domain);
      input.set(context.randomness, domain.length);
      new DataView(input.buffer).setUint32(domain.length + 32, shard, true);
      const expected = drawLeagues({ epoch: 0, seed: sha256(input), members, accounts: context.believability(shard), policy: POLICY });
      const leagues = context.leagues(shard);
      assert.equal(leagues.mode, expected.mode);
      assert.equal(leagues.epoch, 0);
      assert.deepEqual(leagues.believable.map(toHex), expected.believable.map(toHex));
      assert.deepEqual(leagues.normal.map(toHex), expected.normal.map(toHex));
      assert.equal(leagues.believable.length + leagues.normal.length, members.length);
      for (const key of [...leagues.believable, ...leagues.normal]) assert.equal(context.shardOf(key), shard, "leagues hold only the shard's members");
      assert.equal(context.leagues(shard), leagues, "drawn once per epoch");
    }
  });

  it("opens the epoch with fresh believability accounts of the shard's members", () => {
    const ledger = context.believability(1);
    for (const member of context.members(1)) assert.ok(ledger.scoreUnits(member) > 0n, "a fresh member has a positive score");
  });

  it("opens a later epoch from the scores its configuration carries: leagues drawn from carried scores differ from fresh ones when the scores differ", () => {
    const validators = genesisEpochValidators(genesis);
    // Half the validators carry the top score (Servi far past SERVI_HALF, full reputation), half carry none.
    const carried = validators.map((validator, i) => ({ ...validator, ...(i % 2 === 0 ? { servi: 1_000_000, reputation: 1000 } : { servi: 0, reputation: 0 }) }));
    const top = new Set(carried.filter((v) => v.reputation === 1000).map((v) => toHex(v.publicKey)));
    const epochOf = (set: typeof validators, k: number) => new EpochContextValue({
      chain: genesisTxid(genesis), epoch: 1, randomness: randomness(100 + k), shardCount: 3, startHeight: 0, validators: set, registry, policy: POLICY, configurationHash: randomness(7),
    });
    let differ = 0;
    let topSeats = 0;
    let seats = 0;
    for (let k = 0; k < 40; k++) {
      const fresh = epochOf(validators, k);
      const scored = epochOf(carried, k);
      for (let shard = 0; shard < 3; shard++) {
        const accounts = scored.believability(shard);
        for (const member of scored.members(shard)) {
          const v = carried.find((c) => toHex(c.publicKey) === toHex(member))!;
          assert.deepEqual([accounts.get(member).servi, accounts.get(member).reputation, accounts.get(member).stake], [v.servi, v.reputation, v.stake], "the accounts start from the carried scores");
          assert.deepEqual([fresh.believability(shard).get(member).servi, fresh.believability(shard).get(member).reputation], [0, REPUTATION_INITIAL], "absent scores: a newcomer's");
        }
        assert.deepEqual(scored.members(shard), fresh.members(shard), "scores do not move validators between shards");
        const believable = scored.leagues(shard).believable.map(toHex);
        if (believable.join() !== fresh.leagues(shard).believable.map(toHex).join()) differ++;
        topSeats += believable.filter((key) => top.has(key)).length;
        seats += believable.length;
      }
    }
    assert.ok(differ > 0, "some draw changes with the scores");
    // Top scorers weigh about 0.58 against 0.08 (stake alone): they hold most believable seats, where fresh accounts split them evenly.
    assert.ok(topSeats > 0.75 * seats, `top scorers hold ${topSeats} of ${seats} seats`);
  });

  it("has no leagues without a PoB policy (EPOCH_NO_POLICY)", () => {
    const solo = makeTestGenesis({ seed: "epoch-solo", shardCount: 2, accounts: 1, amount: 1n, validators: 4 }).genesis;
    const plain = genesisEpochContext(solo);
    assert.equal(plain.policy, undefined);
    assert.throws(() => plain.leagues(0), coded("EPOCH_NO_POLICY"));
  });
});
