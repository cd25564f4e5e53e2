/**
 * A batch driver of a TransEpoch move (PobShardConsensus `batch`, TransEpoch stage B) in the
 * simulator, with real stores, pipelines, signatures and transport: shard 0 of a 2 × 5 chain
 * decides epoch 0 to its boundary L; then batch 1 of the move into epoch 1 (committee(1): epoch 0's
 * committee with batch 1's leaver swapped for its joiner, the joiner holding a state synced to L)
 * decides epoch 1's heights on batch 1's lane, each certified by committee(1) under batch 1's
 * instance key. Batch 2's joiner sends its signed SWAP_REQUEST on that lane; a byzantine peer sends
 * forged, replayed, misplaced and non-joiner requests in one burst: each refused and counted by code
 * at every member, none thrown, and the burst costs a member one signature verification at most
 * (a replay is refused before its signature, a sender's second request within the spacing too); the leader's proposal carries batch 2's swap-in, which ends the instance at
 * every member. Names its seed on failure; IOS_SIM_SEED replays it.
 */
import assert from "node:assert/strict";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, it } from "node:test";
import { committeesOfContext, decodeFinalHeightCertificate, verifyFinalHeightCertificate } from "../../src/atomix/proof.js";
import { decodeProposal } from "../../src/consensus/pob/proposal.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { EpochContextValue, genesisEpochContext, genesisEpochValidators } from "../../src/epoch/context.js";
import type { EpochContext } from "../../src/epoch/interface.js";
import { checkSwapIn, decodeSwapIn, signSwapRequest } from "../../src/epoch/transepoch/swap.js";
import { ShardSwaps } from "../../src/epoch/transepoch/swaps.js";
import { MoveSwapRule } from "../../src/epoch/transepoch/move-rule.js";
import { toHex } from "../../src/hex.js";
import { genesisRegistry, makeTestGenesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { batchLane } from "../../src/net/channels.js";
import type { Transport } from "../../src/net/interface.js";
import { PobShardConsensus, SWAP_REQUEST } from "../../src/node/consensus/pob-consensus.js";
import { Pipeline } from "../../src/node/pipeline.js";
import { InlineVerifierPool } from "../../src/node/pool/inline-pool.js";
import { ShardState } from "../../src/node/shard-state.js";
import type { Clock, Rng } from "../../src/runtime/interface.js";
import { Simulator, simSeed } from "../../src/sim/simulator.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import type { HandlerFailures } from "../../src/log/handler-failures.js";
import { SIM_POLICY } from "./pob-cluster.js";

const L = 12;
/** Virtual ms between two turns of the event loop (ValidatorCluster's slice). */
const SLICE_MS = 10;
const SHARD = 0;
const PATIENCE_MS = 4_000;
const encoder = new TextEncoder();

interface Peer {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly failures: HandlerFailures;
}

interface Member {
  readonly key: KeyPair;
  readonly peer: Peer;
  readonly state: ShardState;
  readonly pipeline: Pipeline;
  driver?: PobShardConsensus;
  swaps?: MoveSwapRule;
}

/** A copy of `disk`'s committed records: a state synced to where `disk` is (what state sync gives a joiner, byte for byte). */
function copyOf(disk: MemoryDisk, name: string): MemoryDisk {
  const copy = new MemoryDisk(name);
  for (const [table, records] of disk.records) copy.records.set(table, new Map(records));
  return copy;
}

describe("a TransEpoch batch driver", () => {
  it("decides in batch 1 with committee(1), takes batch 2's joiner's request on its lane, refuses forged ones with their codes, and ends at the swap-in", async () => {
    const seed = simSeed("transepoch-batch-driver");
    const context = `seed ${JSON.stringify(seed)}`;
    const sim = new Simulator({ seed, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 4 } } });
    const { genesis, validators } = makeTestGenesis({ seed: "transepoch batch driver", shardCount: 2, accounts: 2, amount: 1_000n, validators: 10, stake: 10_000n, pob: SIM_POLICY, epochLength: L });
    const epoch0 = genesisEpochContext(genesis);
    // Epoch 1 as its configuration would make it: the first randomness whose move of shard 0 has two batches, each with a joiner.
    let epoch1: EpochContext | undefined;
    for (let i = 0; epoch1 === undefined; i++) {
      const candidate = new EpochContextValue({
        chain: epoch0.chain, epoch: 1, randomness: sha256(encoder.encode(`batch driver rnd ${i}`)), shardCount: 2, startHeight: L, epochLength: L,
        validators: genesisEpochValidators(genesis), registry: genesisRegistry(genesis), configurationHash: sha256(encoder.encode(`conf ${i}`)), policy: SIM_POLICY, previous: epoch0,
      });
      const batches = candidate.move(SHARD)!.batches;
      // Joiners from shard 1 (not epoch 0's producers of shard 0): each runs only what this test starts for it.
      const fromElsewhere = (keys: readonly Uint8Array[]) => keys.length > 0 && keys.every((k) => epoch0.shardOf(k) !== SHARD);
      if (batches.length >= 2 && fromElsewhere(batches[0]!.joining) && fromElsewhere(batches[1]!.joining)) epoch1 = candidate;
    }
    const move = epoch1.move(SHARD)!;
    const keyOf = (publicKey: Uint8Array) => validators.find((v) => toHex(v.publicKey) === toHex(publicKey))!;
    const peers = new Map<string, Peer>();
    for (const { publicKey } of validators) {
      const id = toHex(publicKey);
      sim.addNode(id, ({ transport, clock, rng, failures }) => peers.set(id, { transport, clock, rng, failures }));
    }
    sim.run({ until: 0 });
    const memberOf = (key: KeyPair, disk: MemoryDisk): Member => {
      const peer = peers.get(toHex(key.publicKey))!;
      const state = ShardState.open({ store: MemoryChainStore.open(disk), genesis, shard: SHARD });
      return { key, peer, state, pipeline: new Pipeline({ state, pool: new InlineVerifierPool(), clock: peer.clock }) };
    };
    // Virtual time in slices, the event loop turning between them: final blocks commit through promises (as ValidatorCluster `advance`).
    const runTo = async (what: string, done: () => boolean): Promise<void> => {
      const until = sim.now() + 120_000;
      while (!done()) {
        assert.ok(sim.now() < until, `${context}: ${what}`);
        sim.run({ until: sim.now() + SLICE_MS });
        await nextTurn();
        await nextTurn();
      }
    };

    // 1. Epoch 0's shard 0 decides up to its boundary L.
    const disks = new Map<string, MemoryDisk>();
    const epochMembers = epoch0.members(SHARD).map((publicKey) => {
      const disk = new MemoryDisk(toHex(publicKey));
      disks.set(toHex(publicKey), disk);
      return memberOf(keyOf(publicKey), disk);
    });
    for (const member of epochMembers) {
      const { key, peer, state, pipeline } = member;
      member.driver = new PobShardConsensus({ context: epoch0, shard: SHARD, key, transport: peer.transport, pipeline, state, clock: peer.clock, rng: peer.rng, viewTimeoutMs: 400, idleProposalMs: 100 });
    }
    for (const member of epochMembers) member.driver!.start();
    await runTo("shard 0 reaches epoch 0's boundary", () => epochMembers.every((m) => m.state.tip.height === L));
    for (const member of epochMembers) await member.driver!.stop();

    // 2. Batch 1's instance: committee(1) (its joiner synced to L) and epoch 0's believable producers, on batch 1's lane.
    const [first, second] = move.batches as [typeof move.batches[0], typeof move.batches[0]];
    const committee1 = epoch1.committee(SHARD, 1);
    assert.deepEqual(committee1.map(toHex).sort(), epoch0.committee(SHARD, epoch0.batchCount(SHARD)).filter((k) => !first.leaving.some((l) => toHex(l) === toHex(k))).concat(first.joining).map(toHex).sort(), "committee(1) swaps batch 1's seats");
    const stayer = epochMembers.find((m) => committee1.some((k) => toHex(k) === toHex(m.key.publicKey)))!;
    const joiners1 = first.joining.map((publicKey) => memberOf(keyOf(publicKey), copyOf(disks.get(toHex(stayer.key.publicKey))!, `${toHex(publicKey)}-joined`)));
    const believable = epoch0.leagues(SHARD).believable.map(toHex);
    const running = [...epochMembers.filter((m) => committee1.some((k) => toHex(k) === toHex(m.key.publicKey)) || believable.includes(toHex(m.key.publicKey))), ...joiners1];
    for (const member of running) {
      const { key, peer, state, pipeline } = member;
      member.swaps = new MoveSwapRule({ clock: peer.clock, patienceMs: PATIENCE_MS, epochStart: L, epochLength: L },
        new ShardSwaps({ chain: epoch1.chain, shard: SHARD, epoch: 1, schedule: move, batch: 1, clock: peer.clock, patienceMs: PATIENCE_MS, commitmentAt: (h) => state.finalHeightAt(h)?.stateCommitment }));
      member.driver = new PobShardConsensus({
        context: epoch0, shard: SHARD, key, transport: peer.transport, pipeline, state, clock: peer.clock, rng: peer.rng, viewTimeoutMs: 400, idleProposalMs: 100,
        batch: { next: epoch1, index: 1, swaps: member.swaps },
      });
    }
    const voters = running.filter((m) => m.driver!.node.bft !== undefined);
    assert.deepEqual(voters.map((m) => toHex(m.key.publicKey)).sort(), committee1.map(toHex).sort(), "committee(1) runs the BFT, the joiner included, the leaver not");
    for (const member of running) member.driver!.start();
    await runTo("batch 1 decides two heights", () => running.every((m) => m.state.tip.height >= L + 2));
    const directory = committeesOfContext(epoch0, epoch1);
    for (let height = L + 1; height <= L + 2; height++) {
      const certificate = stayer.state.certificateAt(height)!;
      assert.equal(decodeFinalHeightCertificate(certificate).batch, 1, `${context}: height ${height} is certified in batch 1`);
      // Certificates count the instance's BFT heights from its epoch's start.
      assert.equal(verifyFinalHeightCertificate(certificate, directory).height, height - L, `${context}: height ${height}'s certificate verifies against committee(1)`);
    }

    // 3. Requests on batch 1's lane: batch 2's joiner's, signed, and a byzantine peer's.
    const lane = { protocol: "consensus" as const, ...batchLane(SHARD, 1, 1) };
    const joiner2 = keyOf(second.joining[0]!);
    const synced = stayer.state.tip.height;
    const request = (signer: KeyPair, fields: { joiner?: Uint8Array; batch?: number; epoch?: number; shard?: number; syncedHeight?: number } = {}) => {
      const syncedHeight = fields.syncedHeight ?? synced;
      return signSwapRequest(signer.secretKey, {
        chain: epoch1.chain, shard: fields.shard ?? SHARD, epoch: fields.epoch ?? 1, batch: fields.batch ?? 2, syncedHeight,
        commitment: stayer.state.finalHeightAt(syncedHeight)!.stateCommitment, joiner: fields.joiner ?? joiner2.publicKey,
      });
    };
    const stranger = validators.find((v) => !move.joining.some((k) => toHex(k) === toHex(v.publicKey)) && !running.some((m) => toHex(m.key.publicKey) === toHex(v.publicKey)))!;
    const forged = request(joiner2);
    forged[60]! ^= 1;
    // Newer than anything the joiner signed, so never a replay: only its signature (or the sender's pace) refutes it.
    const forgedNewer = signSwapRequest(joiner2.secretKey, {
      chain: epoch1.chain, shard: SHARD, epoch: 1, batch: 2, syncedHeight: synced + 1, commitment: sha256(Uint8Array.of(1)), joiner: joiner2.publicKey,
    });
    forgedNewer[forgedNewer.length - 1]! ^= 1;
    const byzantine = peers.get(toHex(stranger.publicKey))!.transport.open(lane);
    const honest = peers.get(toHex(joiner2.publicKey))!.transport.open(lane);
    const memberIds = running.map((m) => toHex(m.key.publicKey));
    byzantine.broadcast(memberIds, SWAP_REQUEST, forged);
    byzantine.broadcast(memberIds, SWAP_REQUEST, forgedNewer);
    byzantine.broadcast(memberIds, SWAP_REQUEST, request(stranger, { joiner: stranger.publicKey }));
    byzantine.broadcast(memberIds, SWAP_REQUEST, request(joiner2, { epoch: 2 }));
    byzantine.broadcast(memberIds, SWAP_REQUEST, request(joiner2, { batch: 1 }));
    byzantine.broadcast(memberIds, SWAP_REQUEST, request(joiner2, { syncedHeight: synced - 1 }));
    honest.broadcast(memberIds, SWAP_REQUEST, request(joiner2));
    byzantine.broadcast(memberIds, SWAP_REQUEST, request(joiner2));
    byzantine.broadcast(memberIds, SWAP_REQUEST, new Uint8Array(3));

    // 4. The leader proposes batch 2's swap-in; its certified height ends batch 1's instance at every member.
    await runTo("batch 1's instance ends at every member", () => running.every((m) => m.driver!.instanceEnd !== undefined));
    const end = stayer.driver!.instanceEnd!;
    assert.ok(end > synced && end <= L + L - 1, `${context}: the swap height ${end} follows the request and precedes the epoch's last height`);
    for (const member of running) {
      assert.equal(member.driver!.instanceEnd, end, `${context}: one end everywhere`);
      assert.equal(toHex(member.state.finalHeightAt(end)!.stateCommitment), toHex(stayer.state.finalHeightAt(end)!.stateCommitment), `${context}: one state at the end`);
    }
    const swapIn = decodeProposal(stayer.state.finalHeightRecord(end)!.proposal).swapIn!;
    assert.deepEqual(decodeSwapIn(swapIn).map((r) => toHex(r.joiner)), [toHex(joiner2.publicKey)], `${context}: the swap-in carries batch 2's joiner`);
    assert.equal(checkSwapIn(swapIn, { chain: epoch1.chain, shard: SHARD, epoch: 1, schedule: move, batch: 1, height: end, commitmentAt: (h) => stayer.state.finalHeightAt(h)?.stateCommitment }), 2,
      `${context}: any replica's check moves the committee to batch 2`);
    assert.equal(decodeFinalHeightCertificate(stayer.state.certificateAt(end)!).batch, 1, `${context}: the swap height itself is batch 1's`);
    assert.equal(decodeSwapIn(swapIn)[0]!.syncedHeight, synced, `${context}: the joiner's own request is the one carried`);
    const cheap = { TRANSEPOCH_NOT_JOINER: 1, TRANSEPOCH_WRONG_PLACE: 1, TRANSEPOCH_WRONG_BATCH: 1, TRANSEPOCH_MALFORMED: 1 };
    for (const member of running) {
      const refused = Object.fromEntries(member.swaps!.refused);
      const { TRANSEPOCH_BAD_SIGNATURE: verifiedBad = 0, TRANSEPOCH_REPLAYED: replays = 0, TRANSEPOCH_TOO_SOON: tooSoon = 0, ...rest } = refused;
      const who = `${context}: ${toHex(member.key.publicKey).slice(0, 8)}`;
      assert.deepEqual(rest, cheap, `${who}: misplaced, non-joiner and malformed requests refused by their codes`);
      // The byzantine peer's two forgeries, older request and copy of the joiner's: each refused — as a replay (the joiner's
      // came first on its own link), as too soon after its last checked one, or by its signature — but for the older
      // request, validly signed, kept when it is the first of the peer's to be checked and comes before the joiner's.
      const relayedRefused = verifiedBad + replays + tooSoon;
      assert.ok(relayedRefused === 3 || relayedRefused === 4, `${who}: the relayed four refused (${verifiedBad} bad signature, ${replays} replayed, ${tooSoon} too soon)`);
      assert.ok(verifiedBad <= 1, `${who}: one verification at most for the byzantine peer's burst`);
      const metric = member.driver!.metrics().find((m) => m.name === "ios_transepoch_swap_requests_refused_total")!;
      assert.equal(metric.samples.reduce((sum, s) => sum + s.value, 0), [...member.swaps!.refused.values()].reduce((a, b) => a + b, 0), `${context}: the metric counts them`);
    }
    assert.deepEqual([...peers.values()].map((p) => p.failures.total), [...peers.values()].map(() => 0), `${context}: no handler threw`);
    for (const member of running) await member.driver!.stop();
  });
});
