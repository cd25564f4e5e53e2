// TransEpoch stage B over whole PoB validators (src/sim/validator-cluster.ts): shards move their
// committees batch by batch. 2 shards × 5 validators under chained transfers through 3 epochs
// (L = 80): once configuration e + 1 is known, batch c's joiners, (c − 1)·Δ' later (batches start Δ'
// apart), sync their new shard and send their signed SWAP_REQUEST every Δ/4; each batch's certified
// swap-in hands the shard to the next batch's driver on the same state, a mover serving its old shard until it is swapped out there while it takes its
// seat in the new one. Afterwards, per shard and epoch: the heights walk the batches 0, 1, …, B in
// order (each batch b + 1 entered through its joiners' signed swap-in, never the forced end, in every
// epoch that moves), every height's certificate verifies against committee(b) of its batch and only
// there; every epoch with B ≥ 2 counted; replicas agree byte for byte; every transfer final.
// Faults: a joiner crashed right after the request that completes its batch, restarted 5 s later (its signed
// request still swaps it in: its seat is down meanwhile, one of committee(b)'s faults), and one
// validator that never hears a request, so whenever it leads it proposes no swap-in (a leader
// omitting swaps: the patience and the other leaders get them in). Each run keeps every move
// batch by batch, before the forced end, except a later move the crashed joiner joins while still
// down, which may wait for it up to the forced end (and must still end in batch B).
// CI runs BATCH_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { committeesOfContext, decodeFinalHeightCertificate, verifyFinalHeightCertificate } from "../../src/atomix/proof.js";
import { decodeProposal } from "../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { decodeSwapIn, decodeSwapRequest } from "../../src/epoch/transepoch/swap.js";
import { checkBatchWalk, checkWalkedSwapIn, movesOfContext, type WalkedHeight } from "../../src/epoch/transepoch/walk.js";
import { toHex } from "../../src/hex.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SWAP_REQUEST } from "../../src/node/consensus/pob-consensus.js";
import type { ShardState } from "../../src/node/shard-state.js";
import { checkIdentityChains, checkShardChains, payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

/** 8-second epochs: batches start Δ' apart, and the configuration comes about halfway through (at L = 40 the forced end cut staggered moves). */
const L = 80;
/** The least spacing asserted between the first requests of consecutive batches (virtual ms). */
const STAGGER_FLOOR_MS = 100;
const EPOCHS = 3;
const SHARDS = 2;
const PER_SHARD = 5;
const ROUNDS = 10;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const BATCH_SEEDS = 1;
/** How long the crashed joiner stays down. */
const DOWN_MS = 5_000;
const verifier = new Ed25519Verifier();

type Fault = "none" | "joiner-crash" | "omitting-leader";

async function run(seed: string, fault: Fault = "none") {
  const { sim, genesis, accounts, cluster, positions, validators } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-transepoch-batches", policy: SIM_POLICY, shards: SHARDS, perShard: PER_SHARD, accounts: 12 * SHARDS, amount: AMOUNT, epochLength: L,
    // Every height kept: each epoch's batches are walked below.
    store: { prune: false },
  });
  const ids = Array.from({ length: SHARDS }, (_, shard) => cluster.members(shard)).flat();
  const running = () => ids.flatMap((id) => cluster.node(id) ?? []);
  const load = payInRounds(cluster, accounts, positions, { rounds: ROUNDS, amount: AMOUNT, fee: FEE });
  let crashed: { readonly id: string; readonly at: number; readonly epoch: number } | undefined;
  if (fault === "joiner-crash") {
    // The first joiner whose request completes its batch while the shard's committee is at the batch before (every other joiner
    // of the batch asked already and keeps asking every Δ) is crashed just after it, and restarted 5 s later: the batch can be
    // swapped in at once, its request included, while it is down. (The first joiner to ask would not do: its batch may wait for
    // earlier batches or other joiners longer than SWAP_MAX_LAG heights, and its one request goes stale.)
    const asked = new Map<string, Set<string>>();
    for (const id of ids) {
      sim.network.intercept(id, (_to, type, payload) => {
        if (type !== SWAP_REQUEST || crashed !== undefined) return payload;
        const request = decodeSwapRequest(payload);
        const context = cluster.node(id)!.contexts[request.epoch]!;
        const before = new Set(context.committee(request.shard, request.batch - 1).map(toHex));
        const joiners = context.committee(request.shard, request.batch).map(toHex).filter((key) => !before.has(key));
        const key = `${request.shard}/${request.epoch}/${request.batch}`;
        const batch = asked.get(key) ?? new Set<string>();
        asked.set(key, batch.add(toHex(request.joiner)));
        // The shard's committee is at the batch before (a replica's latest certificate says so): nothing else holds this one back.
        const replica = cluster.replicas(request.shard)[0]!;
        const latest = decodeFinalHeightCertificate(replica.state.certificateAt(replica.state.tip.height)!);
        if (latest.epoch === request.epoch && latest.batch === request.batch - 1 && joiners.every((joiner) => batch.has(joiner))) {
          crashed = { id, at: sim.now(), epoch: request.epoch };
          for (const other of ids) sim.network.intercept(other, undefined);
          sim.schedule(1, "crash the joiner", () => cluster.crash(id));
          sim.schedule(DOWN_MS, "restart the joiner", () => cluster.restart(id));
        }
        return payload;
      });
    }
  }
  // When each batch's first request went out (shard/epoch/batch → virtual ms): batches start Δ' apart.
  const firstAsked = new Map<string, number>();
  if (fault === "none") {
    for (const id of ids) {
      sim.network.intercept(id, (_to, type, payload) => {
        if (type === SWAP_REQUEST) {
          const request = decodeSwapRequest(payload);
          const key = `${request.shard}/${request.epoch}/${request.batch}`;
          if (!firstAsked.has(key)) firstAsked.set(key, sim.now());
        }
        return payload;
      });
    }
  }
  const deaf = toHex(validators[0]!.publicKey);
  if (fault === "omitting-leader") {
    // Nobody's request reaches this validator: leading, it never has a swap-in to propose.
    for (const id of ids) sim.network.intercept(id, (to, type, payload) => (type === SWAP_REQUEST && to === deaf ? undefined : payload));
  }
  // Every validator in the last epoch, past its boundary: each epoch's move walked to its end.
  const done = () => running().every((node) => node.context.epoch >= EPOCHS && (!node.serving || node.state.tip.height >= (EPOCHS + 1) * L)) && load.allFinal();
  assert.ok(await cluster.advance(240_000, done),
    `${seed}: every validator reaches epoch ${EPOCHS} with every transfer final (epochs ${running().map((n) => n.context.epoch).join()}, heights ${running().map((n) => n.state.tip.height).join()}, unsettled ${load.unsettled()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")})`);
  assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  assert.deepEqual(cluster.handlerFailureCodes, [], `${seed}: no handler threw`);
  await cluster.advance(1_000);
  const contexts = checkIdentityChains(seed, genesis, running(), EPOCHS);
  checkShardChains(seed, cluster, genesis, EPOCHS, L, FEE * BigInt(load.total));
  const committees = committeesOfContext(...contexts);
  const moves = movesOfContext(...contexts);
  const batchesOf: string[] = [];
  let multiBatch = 0;
  let staggered = 0;
  // When the crashed joiner's swap-in was proposed; heights the deaf validator proposed inside a move (batch b < B).
  let crashedSwapAt: number | undefined;
  let deafLed = 0;
  for (let shard = 0; shard < SHARDS; shard++) {
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      // A validator's state of the shard holding the whole epoch (one that joined at a later MSB holds none of it; a mover keeps the shard it left).
      const state: ShardState | undefined = running().flatMap((node) => node.stateOf(shard) ?? []).find((held) => held.prunedBelow <= epoch * L + 1 && held.getBlock(epoch * L + 1) !== undefined && held.tip.height >= (epoch + 1) * L);
      assert.ok(state !== undefined, `${seed}: some validator holds shard ${shard}'s epoch ${epoch}`);
      const context = contexts[epoch]!;
      const B = context.batchCount(shard);
      // A later move the crashed joiner joins while still down (its epoch began before the restart) may wait for it up to the
      // forced end: a joiner that cannot ask holds its batch (docs/TRANSEPOCH.md), and the forced end keeps the move live.
      const firstAt = decodeProposal(state.finalHeightRecord(epoch * L + 1)!.proposal).timestamp - (running()[0]!.clock.wallNow() - sim.now());
      const waitsForCrashed = crashed !== undefined && epoch > crashed.epoch && firstAt < crashed.at + DOWN_MS
        && context.move(shard)!.batches.some((batch) => batch.joining.some((key) => toHex(key) === crashed!.id));
      const walked: number[] = [];
      const swapsAt: string[] = [];
      let previous: WalkedHeight | undefined;
      for (let index = 1; index <= L; index++) {
        const height = epoch * L + index;
        const record: NonNullable<ReturnType<ShardState["finalHeightRecord"]>> = state.finalHeightRecord(height)!;
        const { batch } = decodeFinalHeightCertificate(record.certificate);
        const proposal = decodeProposal(record.proposal);
        const swapIn: Uint8Array | undefined = proposal.swapIn;
        if (batch < B && toHex(proposal.proposer) === deaf) deafLed++;
        // Its first swap-in (its epoch-1 move's batch): it may join another shard in a later epoch's move too.
        if (swapIn !== undefined && crashed !== undefined && decodeSwapIn(swapIn).some((request) => toHex(request.joiner) === crashed!.id && request.epoch === crashed!.epoch)) {
          crashedSwapAt = Math.min(crashedSwapAt ?? Number.POSITIVE_INFINITY, proposal.timestamp);
        }
        const here: WalkedHeight = { epoch, shard, height, index, epochLength: L, batch, swapIn };
        // The walk a chain walker applies: batch 0 first, one batch per checked swap-in, B at the boundary.
        checkBatchWalk(here, previous, moves);
        if (swapIn !== undefined) {
          const after = checkWalkedSwapIn(here, moves, (below) => (below < height ? state.finalHeightAt(below)?.stateCommitment : undefined));
          swapsAt.push(`${index}:${decodeSwapIn(swapIn).length}`);
          // Each batch entered through its joiners' signed requests (one per joiner of the batch), before the forced end.
          if (B > 0 && !(waitsForCrashed && index === L - 1)) {
            assert.ok(index < L - 1, `${seed}: shard ${shard} epoch ${epoch}: batch ${after} is swapped in at height ${index} of the epoch, before the forced end (${swapsAt.join(" ")})`);
            assert.equal(after, batch + 1, `${seed}: shard ${shard} epoch ${epoch}: height ${height}'s swap-in moves one batch`);
            assert.deepEqual(decodeSwapIn(swapIn).map((request) => toHex(request.joiner)), context.move(shard)!.batches[batch]!.joining.map(toHex),
              `${seed}: shard ${shard} epoch ${epoch}: batch ${after}'s swap-in carries its joiners' signed requests`);
          }
        }
        // The certificate verifies against committee(b) of its batch, and renamed to another batch against nothing.
        assert.equal(verifyFinalHeightCertificate(record.certificate, committees, verifier).batch, batch, `${seed}: shard ${shard} height ${height} verifies in batch ${batch}`);
        for (let other = 0; other <= B; other++) {
          if (other === batch || context.committee(shard, other).map(toHex).join() === context.committee(shard, batch).map(toHex).join()) continue;
          const renamed = Uint8Array.from(record.certificate);
          renamed[1 + 4 + 4] = other & 0xff;
          renamed[1 + 4 + 4 + 1] = other >> 8;
          assert.throws(() => verifyFinalHeightCertificate(renamed, committees, verifier), `${seed}: shard ${shard} height ${height} renamed to batch ${other} is refused`);
        }
        if (walked.at(-1) !== batch) walked.push(batch);
        previous = here;
      }
      batchesOf.push(`shard ${shard} epoch ${epoch}: B = ${B}, batches ${walked.join(" → ")}, swap-ins (index:requests) ${swapsAt.join(" ")}`);
      if (waitsForCrashed && walked.length < B + 1) {
        assert.equal(walked.at(-1), B, `${seed}: shard ${shard} epoch ${epoch}, waiting for the crashed joiner, still ends in batch ${B}`);
        continue;
      }
      assert.deepEqual(walked, Array.from({ length: B + 1 }, (_, b) => b), `${seed}: shard ${shard} epoch ${epoch} walks every batch 0..${B} in order`);
      if (B >= 2) multiBatch++;
      // From epoch 2 (a joiner measures the epoch time left from its shard's last two openings): batch B asks (B − 1) steps
      // after batch 1. Each step is min(Δ, t / 2B), t about 4 s here; joiners sync at their own pace before asking, so only
      // a floor of STAGGER_FLOOR_MS a step is asserted (without the stagger, batch 3 asked 1 s before batch 1, or with it).
      if (fault === "none" && B >= 2 && epoch >= 2) {
        const spread = firstAsked.get(`${shard}/${epoch}/${B}`)! - firstAsked.get(`${shard}/${epoch}/1`)!;
        assert.ok(spread >= (B - 1) * STAGGER_FLOOR_MS, `${seed}: shard ${shard} epoch ${epoch}: batch ${B} first asked ${spread} ms after batch 1`);
        staggered++;
      }
    }
  }
  assert.ok(multiBatch >= 2, `${seed}: at least two moves of B ≥ 2 batches (${batchesOf.join("; ")})`);
  if (fault === "none") assert.ok(staggered >= 1, `${seed}: some move of B ≥ 2 batches after epoch 1 had its batches staggered (${batchesOf.join("; ")})`);
  if (fault === "joiner-crash") {
    assert.ok(crashed !== undefined, `${seed}: a joiner asked for its seat and was crashed`);
    // Proposal timestamps are the leader's wall clock: the simulator's virtual time plus its fixed wall offset.
    const wallOffset = running()[0]!.clock.wallNow() - sim.now();
    crashedSwapAt = crashedSwapAt === undefined ? undefined : crashedSwapAt - wallOffset;
    assert.ok(crashedSwapAt !== undefined && crashedSwapAt > crashed.at && crashedSwapAt < crashed.at + DOWN_MS,
      `${seed}: the crashed joiner's signed request swapped it in while it was down (crashed at ${crashed.at} ms, swapped at ${crashedSwapAt} ms)`);
    const restarted = cluster.node(crashed.id)!;
    assert.ok(restarted.serving && restarted.context.epoch >= EPOCHS, `${seed}: the crashed joiner came back and serves epoch ${EPOCHS}`);
  }
  if (fault === "omitting-leader") {
    // It led some heights of the moves without any request: those proposals carried no swap-in, the swaps came in other views.
    assert.ok(deafLed > 0, `${seed}: the deaf validator led heights inside the moves (${deafLed}), none with a swap-in`);
    assert.ok(cluster.node(deaf)!.serving, `${seed}: the deaf validator serves`);
  }
  await cluster.stop();
}

describe("whole PoB validators: TransEpoch batch by batch", () => {
  for (const seed of caseSeeds("transepoch-batches", BATCH_SEEDS)) {
    it(`${seed}: 2 shards × 5 under chained transfers through ${EPOCHS} epochs: every move walks its batches in order through its joiners' swap-ins, each height certified by its batch's committee`, async () => {
      await run(seed);
    });
    it(`${seed}: a joiner crashed between its request and its swap: the swap still happens and the joiner comes back`, async () => {
      await run(`${seed}/joiner-crash`, "joiner-crash");
    });
    it(`${seed}: a validator that never hears a request, and so omits every swap when it leads, delays the moves but never stops them`, async () => {
      await run(`${seed}/omitting-leader`, "omitting-leader");
    });
  }
});
