// Whole PoB validators (one shard, pruning on by default) whose committee is replaced entirely over
// two epochs while a client pays transfers: in epoch 1 two newcomers register and two genesis
// validators leave, and once those changes are in force the other two genesis validators leave and
// two more newcomers register. Each newcomer starts from an empty disk and joins the shard at the
// MSB before its first epoch's start, replaying the epoch between (node/sync `#bootstrap`), so the
// leavers (observers, then crashed) are not needed for any proof: every final transaction of the
// last two epochs has a transaction proof, served by each current member, that verifies offline
// against the committees of the identity chain — checked after each stage.
// Then fresh joiners sync from the members alone: from a member restarted on its pruned store (it
// serves the MSB before the latest and the epoch after it); to a target whose next epoch end its
// sources have passed (the MSB there is their previous one: no SYNC_NO_SOURCE); and past a source
// serving bad chunks of both kept bodies (dropped MSB_BAD_CHUNK each time, the bodies from the next).
// CI runs TURNOVER_SEEDS seeds; `WHOLE_NODE_SEEDS=N` adds N more; IOS_SIM_SEED replays one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { committeesOfContext, type CommitteeDirectory } from "../../src/atomix/proof.js";
import { movesOfContext, type MoveDirectory } from "../../src/epoch/transepoch/walk.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { toHex } from "../../src/hex.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { deriveTestAccounts, genesisSupply, type Genesis } from "../../src/ledger/genesis.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signLeave, signRegistration } from "../../src/ledger/kinds/registration.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { MsbChunkServer } from "../../src/msb/chunk-server.js";
import { ChunkStatus, MSB_CHUNK_ANSWER, MSB_CHUNK_REQUEST, decodeChunkRequest, encodeChunkAnswer } from "../../src/msb/chunks.js";
import { decodeMsbHeader } from "../../src/msb/header.js";
import type { PeerId } from "../../src/net/interface.js";
import { encodeMsbHeaderProof, MsbProver, verifyIosProof } from "../../src/node/msb-proof.js";
import { ShardState } from "../../src/node/shard-state.js";
import { SYNC_REQUEST, SYNC_RESPONSE, SyncStatus, decodeSyncRequest, encodeSyncResponse, encodeSyncedHeight } from "../../src/node/sync/codec.js";
import type { SyncReport } from "../../src/node/sync/interface.js";
import { CertStatus, MSB_CERT_ANSWER, MSB_CERT_REQUEST, decodeCertRequest, encodeCertAnswer } from "../../src/node/sync/msb-join.js";
import { ShardSync } from "../../src/node/sync/shard-sync.js";
import { moveEndOf, type ValidatorNode } from "../../src/node/validator.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SETTLED_CHECK_MS, type ValidatorCluster } from "../../src/sim/validator-cluster.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import { checkIdentityChains, payInRounds } from "./epoch-load.js";
import { caseSeeds, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const L = 20;
const GENESIS_VALIDATORS = 4;
const AMOUNT = 1_000_000n;
const FEE = 10n;
const BOND = 5_000n;
const ROUNDS = 60;
const TURNOVER_SEEDS = 1;
const verifier = new Ed25519Verifier();

/** The epoch of chain height h ≥ 1. */
const epochOf = (height: number) => Math.floor((height - 1) / L);

interface Stage {
  /** Registrations (newcomer, funder) and leaves (validator, payout), final in one epoch: they are in force from the next. */
  readonly register: readonly { readonly newcomer: KeyPair; readonly funder: KeyPair }[];
  readonly leave: readonly { readonly validator: KeyPair; readonly payout: KeyPair }[];
}

/**
 * Every final transaction of the last two epochs of `node`'s current epoch (heights from the first
 * of the epoch before it up to its tip): each block is held, and each transaction has a proof
 * `node` serves that verifies with `trust`. Returns the txids proven per epoch.
 */
function proveLastTwoEpochs(seed: string, node: ValidatorNode, trust: { committees: CommitteeDirectory; verifier: Ed25519Verifier }): Map<number, Set<string>> {
  const { state } = node;
  const current = node.context.epoch;
  const prover = new MsbProver(() => state);
  const proven = new Map<number, Set<string>>();
  for (let height = (current - 1) * L + 1; height <= state.tip.height; height++) {
    const bytes = state.getBlock(height);
    assert.ok(bytes !== undefined, `${seed}: ${toHex(node.setup.key.publicKey).slice(0, 8)} holds height ${height} (epoch ${epochOf(height)}, its epoch ${current}, base ${state.prunedBelow})`);
    const { txids } = decodeBlock(bytes);
    for (let at = 0; at < txids.length; at += 32) {
      const txid = txids.subarray(at, at + 32);
      const verified = verifyIosProof(prover.tx(txid), trust);
      assert.ok(verified.type === "tx" && toHex(verified.txid) === toHex(txid), `${seed}: the proof of ${toHex(txid).slice(0, 16)} at height ${height} verifies`);
      // An ended epoch's transaction chains to its MSB; the current epoch's carries its acceptance alone.
      assert.equal(verified.msb?.header.epoch, epochOf(height) < current ? epochOf(height) : undefined, `${seed}: height ${height}'s proof chains to its epoch's MSB once it ended`);
      const set = proven.get(epochOf(height)) ?? new Set<string>();
      proven.set(epochOf(height), set.add(toHex(txid)));
    }
  }
  return proven;
}

let proxies = 0;

/**
 * A simulator peer answering the shard's `msb` channel from `source`'s store: heights as state sync
 * does, certifications and chunks of the MSBs `serves` admits among the kept ones (UNKNOWN for the
 * others), every OK chunk answer passed through `chunk` (a byzantine source flips an entry byte).
 */
function proxy(cluster: ValidatorCluster, source: () => ShardState, options: { serves: (epoch: number) => boolean; chunk?: (answer: Uint8Array) => Uint8Array }): PeerId {
  const id = `proxy-${proxies++}`;
  cluster.sim.addNode(id, ({ transport }) => {
    const channel = transport.open({ protocol: "msb", shard: 0, epoch: 0 });
    const servers = new Map<number, MsbChunkServer>();
    const packed = (chunks: Iterable<Uint8Array>) => Uint8Array.from([...chunks].flatMap((chunk) => [...chunk]));
    const kept = (epoch: number) => options.serves(epoch) && source().keptMsbs.some((msb) => msb.epoch === epoch);
    channel.on(SYNC_REQUEST, (from, _type, payload) => {
      const state = source();
      const { id: request, first, count } = decodeSyncRequest(payload);
      const heights = Array.from({ length: Math.max(0, Math.min(count, state.tip.height - first + 1)) }, (_, k) => ({ block: state.getBlock(first + k)!, record: state.finalHeightRecord(first + k)! }));
      channel.send(from, SYNC_RESPONSE, encodeSyncResponse({ id: request, status: heights.length === 0 ? SyncStatus.Behind : SyncStatus.Ok, first }, heights.map(encodeSyncedHeight)));
    });
    channel.on(MSB_CERT_REQUEST, (from, _type, payload) => {
      const state = source();
      const epoch = decodeCertRequest(payload);
      const answer = kept(epoch)
        ? encodeCertAnswer({ status: CertStatus.Ok, epoch, proof: encodeMsbHeaderProof(state.msbHeader(epoch)!, state.certificateAt((epoch + 1) * L)!), earlierHeaders: Array.from({ length: epoch }, (_, e) => state.msbHeader(e)!) })
        : encodeCertAnswer({ status: CertStatus.Unknown, epoch });
      channel.send(from, MSB_CERT_ANSWER, answer);
    });
    channel.on(MSB_CHUNK_REQUEST, (from, _type, payload) => {
      const state = source();
      const request = decodeChunkRequest(payload);
      const { epoch } = request;
      if (!kept(epoch)) {
        channel.send(from, MSB_CHUNK_ANSWER, encodeChunkAnswer({ ...request, status: ChunkStatus.UnknownMsb, entries: new Uint8Array(0), hashes: [] }));
        return;
      }
      let server = servers.get(epoch);
      if (server === undefined) {
        server = new MsbChunkServer(decodeMsbHeader(state.msbHeader(epoch)!), packed(state.msbBody(epoch)!), packed(state.msbDecisions(epoch)!));
        servers.set(epoch, server);
      }
      channel.send(from, MSB_CHUNK_ANSWER, (options.chunk ?? ((answer) => answer))(server.serve(payload)));
    });
    return channel;
  });
  return id;
}

/** A fresh shard state on its own disk, synced by a ShardSync of its own to `target` from `sources`. */
async function joinFresh(cluster: ValidatorCluster, genesis: Genesis, { committees, moves }: { committees: CommitteeDirectory; moves: MoveDirectory }, target: number, sources: readonly PeerId[]) {
  const id = `fresh-${proxies++}`;
  let sync: ShardSync | undefined;
  let state: ShardState | undefined;
  cluster.sim.addNode(id, ({ transport, clock }) => {
    state = ShardState.open({ store: MemoryChainStore.open(new MemoryDisk(id)), genesis, shard: 0, prune: true });
    sync = new ShardSync({ state, transport, clock, committees, moves, epochLength: L, verifier });
    return sync;
  });
  await cluster.advance(1, () => sync !== undefined);
  let report: SyncReport | undefined;
  let failure: unknown;
  let done = false;
  sync!.sync(target, sources).then((r) => (report = r), (error: unknown) => (failure = error)).finally(() => (done = true));
  assert.ok(await cluster.advance(60_000, () => done), "the fresh sync settles");
  assert.equal(failure, undefined, `the fresh sync to ${target} succeeds: ${String(failure)}`);
  return { state: state!, report: report! };
}

async function run(seed: string) {
  const { genesis, accounts, validators, cluster, positions } = pobCluster({
    seed: simSeed(seed), genesisSeed: "whole-node-turnover", policy: SIM_POLICY, shards: 1, perShard: GENESIS_VALIDATORS, accounts: 12, amount: AMOUNT, epochLength: L,
  });
  const { context } = cluster;
  const chain = context.registry.chainId;
  const genesisIds = cluster.members(0);
  const keyOf = (id: PeerId) => validators.find((key) => toHex(key.publicKey) === id)!;
  const newcomers = deriveTestAccounts(`${seed}/newcomers`, 4);
  const funders = accounts.slice(0, 4);
  const payers = accounts.slice(4);
  const stages: Stage[] = [0, 1].map((stage) => ({
    register: [0, 1].map((k) => ({ newcomer: newcomers[2 * stage + k]!, funder: funders[2 * stage + k]! })),
    leave: [0, 1].map((k) => ({ validator: keyOf(genesisIds[2 * stage + k]!), payout: funders[2 * stage + k]! })),
  }));
  const started = [...genesisIds];
  const everyone = () => started.flatMap((id) => cluster.node(id) ?? []);
  const state = () => `epochs ${everyone().map((n) => `${n.role}:${n.context.epoch}:${n.state.tip.height}`).join()}, failures ${cluster.failures.map((f) => String(f.error)).join("; ")}`;

  // A transfer's status goes with its height on a pruned or joined replica: latch each once a serving replica answers it final.
  const load = payInRounds(cluster, payers, positions, { rounds: ROUNDS, amount: AMOUNT, fee: FEE });
  const seenFinal = new Set<string>();
  const latch = () => {
    for (const hex of load.txids) if (!seenFinal.has(hex) && cluster.serving(0).some((node) => node.driver.status(Buffer.from(hex, "hex")).state === "final")) seenFinal.add(hex);
    return true;
  };
  assert.ok(await cluster.advance(60_000, () => latch() && everyone().length === started.length && everyone().every((node) => node.context.epoch >= 1), SETTLED_CHECK_MS), `${seed}: epoch 1 (${state()})`);

  const changeFees = 2n * FEE * 2n;
  let inForce = 0;
  for (const [index, stage] of stages.entries()) {
    const changes = [
      ...stage.register.map(({ newcomer, funder }) => registrationKind.encode(signRegistration({
        kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: newcomer.publicKey, bond: BOND, chain,
        pop: proveKeyPossession(SchnorrKey.fromSeed(newcomer.secretKey), chain),
        // Each newcomer's funder pays from its genesis output (the funders are not among the payers of the load).
        inputs: [{ txid: context.chain, index: positions.get(toHex(funder.publicKey))!, owner: funder.publicKey }], outputs: [{ owner: funder.publicKey, amount: AMOUNT - BOND - FEE }],
      }, [funder], newcomer).transaction)),
      ...stage.leave.map(({ validator, payout }) => {
        const bond = context.validators.find((v) => toHex(v.publicKey) === toHex(validator.publicKey))!.bond;
        return registrationKind.encode(signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: validator.publicKey, bond, payout: payout.publicKey }, validator).transaction);
      }),
    ];
    assert.ok(await cluster.advance(10_000, () => latch() && cluster.serving(0).length > 0, SETTLED_CHECK_MS), `${seed}: a validator serves the shard (${state()})`);
    const answers = await cluster.submitAndWait(0, changes, toHex(cluster.serving(0)[0]!.setup.key.publicKey), 10_000);
    assert.deepEqual(answers.map((a) => a.outcome), changes.map(() => "accepted"), `${seed}: stage ${index}'s changes accepted (${JSON.stringify(answers)})`);
    const finalHeight = (tx: Uint8Array) => cluster.serving(0).map((node) => node.state.getTransactionLocation(transactionIdOfEncoding(tx))?.height).find((h) => h !== undefined);
    assert.ok(await cluster.advance(30_000, () => latch() && changes.every((tx) => finalHeight(tx) !== undefined), SETTLED_CHECK_MS), `${seed}: stage ${index}'s changes are final (${state()})`);
    const decidedIn = new Set(changes.map((tx) => epochOf(finalHeight(tx)!)));
    assert.equal(decidedIn.size, 1, `${seed}: stage ${index}'s changes are final in one epoch (${[...decidedIn].join()})`);
    const entering = [...decidedIn][0]! + 1;
    assert.ok(entering >= 2 && entering > inForce, `${seed}: stage ${index} takes effect at epoch ${entering} (final at ${changes.map((tx) => finalHeight(tx)).join()}; ${state()})`);
    inForce = entering;
    const ids = stage.register.map(({ newcomer }) => cluster.addRegistrant(newcomer));
    started.push(...ids);
    const members = () => everyone().filter((node) => node.serving);
    assert.ok(await cluster.advance(120_000, () => latch() && ids.every((id) => cluster.node(id)?.serving === true && cluster.node(id)!.context.epoch >= entering)
      && members().every((node) => node.context.epoch >= entering) && members().every((node) => node.state.tip.height >= entering * L + 3), SETTLED_CHECK_MS),
    `${seed}: stage ${index}'s newcomers serve in epoch ${entering} and the shard finalizes in it (${state()})`);
    // Each newcomer joined at the MSB before its first epoch's start and replayed the epoch between, then its first epoch's
    // opening (the previous committee's heights) up to its end, where the newcomers' committee took over.
    for (const id of ids) {
      const node = cluster.node(id)!;
      const entry = node.recentSwitches.find((candidate) => candidate.sync !== undefined);
      const end = moveEndOf(node.state, node.contexts[entry!.epoch]!)!;
      assert.deepEqual([entry?.sync?.msbHeight, entry?.sync?.heights], [(entry!.epoch - 1) * L, L + end - entry!.epoch * L], `${seed}: newcomer ${id.slice(0, 8)} joined at MSB ${entry!.epoch - 2} and replayed epoch ${entry!.epoch - 1} and the opening to ${end} (${JSON.stringify(entry)})`);
    }
    const leavers = stage.leave.map(({ validator }) => toHex(validator.publicKey));
    for (const id of leavers) assert.equal(cluster.node(id)?.role, "observer", `${seed}: leaver ${id.slice(0, 8)} observes`);
  }
  // Every genesis validator has left: nobody who served the shard in epoch 1 serves it now. They go down for good.
  for (const id of genesisIds) cluster.crash(id);
  const serving = () => cluster.serving(0);
  assert.deepEqual(serving().map((node) => toHex(node.setup.key.publicKey)).sort(), newcomers.map((key) => toHex(key.publicKey)).sort(), `${seed}: the newcomers are the committee`);

  // Stage 2's newcomers met the load in epoch `inForce` − 1 and `inForce` only by replay; with the genesis validators gone,
  // each current member proves every final transaction of the last two epochs.
  // The new committee finalizes, transfers among it (the load goes on: a round waits for the previous one).
  const paidIn = (epoch: number) => [...load.txids].some((hex) => serving().every((node) => {
    const height = node.state.getTransactionLocation(Buffer.from(hex, "hex"))?.height;
    return height !== undefined && epochOf(height) === epoch;
  }));
  assert.ok(await cluster.advance(60_000, () => latch() && serving().every((node) => node.state.tip.height >= inForce * L + 6) && paidIn(inForce), SETTLED_CHECK_MS),
    `${seed}: the new committee finalizes transfers (${state()}, final ${seenFinal.size}/${load.total})`);
  assert.deepEqual(cluster.failures, [], `${seed}: no driver failed`);
  const contexts = checkIdentityChains(seed, genesis, serving(), inForce);
  const trust = { committees: committeesOfContext(...contexts), verifier };
  const transfers = new Set(load.txids);
  for (const node of serving()) {
    const proven = proveLastTwoEpochs(seed, node, trust);
    for (const epoch of [inForce - 1, inForce]) {
      const paid = [...(proven.get(epoch) ?? [])].filter((hex) => transfers.has(hex)).length;
      assert.ok(paid > 0, `${seed}: transfers final in epoch ${epoch} are among the proven (${[...proven].map(([e, s]) => `${e}:${s.size}`).join()})`);
    }
  }

  // One member goes down and restarts on its pruned store; the shard passes the next epoch end, so every member keeps the
  // bodies of MSB inForce − 1 and MSB inForce (MSB_BODIES_KEPT) and the blocks from inForce·L on.
  const restartedId = toHex(newcomers[0]!.publicKey);
  cluster.crash(restartedId);
  await cluster.advance(500);
  cluster.restart(restartedId);
  const next = inForce + 1;
  assert.ok(await cluster.advance(120_000, () => latch() && serving().length === 4 && serving().every((node) => node.context.epoch >= next && node.state.tip.height >= next * L + 3), SETTLED_CHECK_MS),
    `${seed}: the committee enters epoch ${next} (${state()})`);
  for (const node of serving()) {
    assert.deepEqual(node.state.keptMsbs.map((msb) => msb.epoch), [inForce - 1, inForce], `${seed}: two MSB bodies kept`);
    assert.ok(node.state.prunedBelow <= inForce * L && node.state.prunedBelow > (inForce - 1) * L, `${seed}: blocks from ${inForce * L} kept, older ones pruned (horizon ${node.state.prunedBelow})`);
    assert.ok(node.state.getBlock(inForce * L) !== undefined, `${seed}: the block of MSB ${inForce - 1} is kept`);
  }
  const restarted = cluster.node(restartedId)!;
  const identity = checkIdentityChains(seed, genesis, serving(), next);
  const committees = { committees: committeesOfContext(...identity), moves: movesOfContext(...identity) };

  // A fresh joiner syncing to epoch `next`'s start from the restarted member alone: it joins at MSB inForce − 1, the member's
  // previous body, and replays epoch inForce from its pruned store; it ends equal to the member at that height.
  const fromRestarted = await joinFresh(cluster, genesis, committees, next * L, [restartedId]);
  const joined = fromRestarted.report.bootstrap!;
  assert.deepEqual([joined.restored, joined.epoch, joined.missed, fromRestarted.report.applied], [true, inForce - 1, undefined, L], `${seed}: joined at the previous MSB (${JSON.stringify(joined)})`);
  for (let height = inForce * L; height <= next * L; height++) assert.equal(toHex(fromRestarted.state.getBlock(height)!), toHex(restarted.state.getBlock(height)!), `${seed}: joiner height ${height}`);
  assert.deepEqual(fromRestarted.state.keptMsbs.map((msb) => msb.epoch), [inForce - 1, inForce]);

  // A joiner whose target epoch is the one before the members' (they passed its end): the MSB before it is gone everywhere
  // (only two bodies are kept), the one at its start is their previous one; no SYNC_NO_SOURCE, nothing to replay.
  const behind = await joinFresh(cluster, genesis, committees, inForce * L, serving().map((node) => toHex(node.setup.key.publicKey)));
  const late = behind.report.bootstrap!;
  assert.deepEqual([late.restored, late.epoch, late.missed?.map((m) => [m.epoch, m.failure.code]), behind.report.applied], [true, inForce - 1, [[inForce - 2, "SYNC_NO_SOURCE"]], 0],
    `${seed}: joined at the MSB of its target's start (${JSON.stringify(late)})`);
  assert.ok(late.dropped.every((d) => d.code === "SYNC_SOURCE_BEHIND"), `${seed}: every source answered UNKNOWN for MSB ${inForce - 2}`);

  // Bad chunks of both kept bodies: a source certifies both and flips an entry byte of every chunk it serves; the other
  // serves only the latest body. The join at the previous MSB fails (MSB_NO_SOURCE: its only body source was bad), the
  // join at the latest drops the bad source (MSB_BAD_CHUNK) and takes the body from the other.
  const member = () => serving().find((node) => toHex(node.setup.key.publicKey) !== restartedId)!.state;
  const flip = (answer: Uint8Array) => {
    const copy = Uint8Array.from(answer);
    if (copy.length > 60) copy[60]! ^= 1;
    return copy;
  };
  const bad = proxy(cluster, member, { serves: () => true, chunk: flip });
  const latestOnly = proxy(cluster, member, { serves: (epoch) => epoch === inForce });
  const past = await joinFresh(cluster, genesis, committees, next * L, [bad, latestOnly]);
  const both = past.report.bootstrap!;
  assert.equal(both.restored, true, JSON.stringify(both));
  assert.deepEqual(both.missed?.map((m) => [m.epoch, m.failure.code, m.body?.sources.find((s) => s.source === bad)?.dropped?.code]), [[inForce - 1, "MSB_NO_SOURCE", "MSB_BAD_CHUNK"]], `${seed}: the previous body's bad chunks (${JSON.stringify(both.missed)})`);
  assert.deepEqual([both.epoch, both.body?.sources.find((s) => s.source === bad)?.dropped?.code, both.body?.sources.find((s) => s.source === latestOnly)?.dropped], [inForce, "MSB_BAD_CHUNK", undefined], `${seed}: the latest body's bad chunks`);
  assert.equal(toHex(past.state.getBlock(next * L)!), toHex(member().getBlock(next * L)!));
  assert.equal(past.state.supply, decodeMsbHeader(member().msbHeader(inForce)!).supply, `${seed}: the joiner holds MSB ${inForce}'s supply`);

  // The chain keeps its supply less the fees (transfers and the changes), and the members agree on the kept heights.
  assert.ok(await cluster.advance(120_000, () => latch() && seenFinal.size === load.total, SETTLED_CHECK_MS), `${seed}: every transfer final (${seenFinal.size}/${load.total}, refused ${load.refused.join()})`);
  await cluster.advance(1_000);
  assert.deepEqual(load.refused, [], `${seed}: no transfer refused`);
  assert.equal(new Set(serving().map((node) => node.state.supply)).size, 1, `${seed}: one supply`);
  assert.equal(serving()[0]!.state.supply, genesisSupply(genesis) - FEE * BigInt(load.total) - changeFees, `${seed}: the chain keeps its supply, less the fees`);
  assert.deepEqual(cluster.handlerFailureCodes.filter((entry) => !entry.startsWith("drp:TRANSITION_NOT_LEADER ")), [], `${seed}: no handler threw`);
  await cluster.stop();
}

describe("whole PoB validators: the whole committee replaced over two epochs", () => {
  for (const seed of caseSeeds("turnover", TURNOVER_SEEDS)) {
    it(`${seed}: newcomers join at the MSB before their epoch and replay the epoch between; every final transaction of the last two epochs is proven by the new committee; fresh joiners from a restarted pruned member, behind, and past bad chunks of both bodies`, async () => {
      await run(seed);
    });
  }
});
