// State sync (src/node/sync) over a real PoB history: whole validators of 2 shards × 5 (the
// simulator's cluster, epoch length L) finalize intra-shard transfers and cross-shard Atomix
// transfers (one committed, one racing loser refused and aborted) until shard 0 rests at height L.
// Every replica of shard 0 then serves its store through a ShardSync; a fresh shard state (a
// MemoryChainStore of its own) syncs 1..L from them and must end equal to the replicas in every
// durable respect later heights depend on, across a reopen. Byzantine sources — each tampering one
// way with the honest answer — are refused with their code while the sync completes from an
// honest source; with only byzantine sources the sync fails with SYNC_NO_SOURCE and the state
// stops at the verified prefix.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FinalHeightProver, committeesOfContext, decodeFinalHeightCertificate, type CommitteeDirectory } from "../../src/atomix/proof.js";
import { movesOfContext, type MoveDirectory } from "../../src/epoch/transepoch/walk.js";
import { commitDigest, prepareDigest } from "../../src/consensus/bft/codec.js";
import { stateCommitmentOf } from "../../src/consensus/pob/finalization.js";
import { proposalHash } from "../../src/consensus/pob/proposal.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { cosign } from "../support/cosign.js";
import { runCrossShardTransfer, signCrossShardTransfer, type SignedCrossShardTransfer } from "../../src/atomix/client.js";
import { CommitteeProofVerifier } from "../../src/atomix/proof.js";
import { PobValidator, type FinalStateWriter } from "../../src/consensus/pob/finalization.js";
import { drawLeagues } from "../../src/consensus/pob/leagues.js";
import type { ProposalCore } from "../../src/consensus/pob/proposal.js";
import { decodeAtomixUnlock } from "../../src/ledger/kinds/atomix-unlock.js";
import { TX_PREFIX } from "../../src/ledger/kinds/interface.js";
import { signatureItemsOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { resignedNonCanonically } from "../support/zip215.js";
import type { BlockAssembly } from "../../src/node/shard-state.js";
import { sameBytes } from "../../src/bytes.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { IosError } from "../../src/errors.js";
import { toHex } from "../../src/hex.js";
import { BlockKind, bodyRootOf, decodeBlock, encodeBlock, makeBlockHeader } from "../../src/ledger/block.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import type { PeerId } from "../../src/net/interface.js";
import { ShardState } from "../../src/node/shard-state.js";
import { SYNC_REQUEST, SYNC_RESPONSE, SyncStatus, decodeSyncRequest, decodeSyncResponse, encodeSyncRequest, encodeSyncResponse, encodeSyncedHeight, type SyncedHeight } from "../../src/node/sync/codec.js";
import { MAX_SYNC_HEIGHTS_PER_REQUEST, MAX_SYNC_RESPONSE_BYTES, SERVE_BYTES_PER_SECOND, type SyncErrorCode, type SyncReport } from "../../src/node/sync/interface.js";
import { ShardSync, verifyFinalHeight } from "../../src/node/sync/shard-sync.js";
import { codeOf } from "../support/errors.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import { MsbChunkServer } from "../../src/msb/chunk-server.js";
import { MSB_CHUNK_ANSWER, MSB_CHUNK_REQUEST } from "../../src/msb/chunks.js";
import { decodeMsbHeader } from "../../src/msb/header.js";
import { snapshotOfEntries } from "../../src/msb/snapshot.js";
import { encodeMsbHeaderProof } from "../../src/node/msb-proof.js";
import { CertStatus, MSB_CERT_ANSWER, MSB_CERT_REQUEST, decodeCertRequest, encodeCertAnswer } from "../../src/node/sync/msb-join.js";
import type { Simulator } from "../../src/sim/simulator.js";
import type { ValidatorCluster } from "../../src/sim/validator-cluster.js";
import { atomixAccess, pobCluster, WHOLE_NODE } from "./pob-cluster.js";

const L = 120;
const SHARD = 0;
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256 };
const verifier = new Ed25519Verifier();
const signingRng = SeededRng.fromSeed("state-sync/lying-committee");

/** A peer of the simulator that answers sync requests with what `answer` makes of the request (undefined: silence). */
type Answer = (request: { id: number; first: number; count: number }, from: PeerId) => Uint8Array | undefined;

interface World {
  sim: Simulator;
  cluster: ValidatorCluster;
  genesis: ReturnType<typeof pobCluster>["genesis"];
  committees: CommitteeDirectory;
  moves: MoveDirectory;
  replicas: ValidatorNode[];
  honest: PeerId[];
  /** The other shard's certificates of heights 1.., taken before its validators went down. */
  foreignCertificates: Uint8Array[];
  /** Every validator's key pair: what a whole byzantine committee signs with. */
  validators: readonly KeyPair[];
  /** The two racing cross-shard transfers (lock records of shard 0 and shard 1): one committed, one aborted. */
  transfers: readonly SignedCrossShardTransfer[];
  /** The genesis accounts' key pairs: the payers a byzantine source may collude with. */
  accounts: readonly KeyPair[];
}

let world: World;
let nodes = 0;

/** The honest heights first..first+count−1 a replica holds, as the codec carries them. */
function heightsOf(state: ShardState, first: number, count: number): SyncedHeight[] {
  const heights: SyncedHeight[] = [];
  for (let h = first; h < first + count && h <= state.tip.height; h++) heights.push({ block: state.getBlock(h)!, record: state.finalHeightRecord(h)! });
  return heights;
}

function okAnswer(id: number, first: number, heights: readonly SyncedHeight[]): Uint8Array {
  return encodeSyncResponse({ id, status: SyncStatus.Ok, first }, heights.map(encodeSyncedHeight));
}

/** Adds a byzantine source: a simulator node answering on the shard's sync instance as `answer` says. */
function byzantine(answer: Answer): PeerId {
  const id = `byzantine-${nodes++}`;
  world.sim.addNode(id, ({ transport }) => {
    const channel = transport.open({ protocol: "msb", shard: SHARD, epoch: 0 });
    channel.on(SYNC_REQUEST, (from, _type, payload) => {
      const reply = answer(decodeSyncRequest(payload), from);
      if (reply !== undefined) channel.send(from, SYNC_RESPONSE, reply);
    });
    return channel;
  });
  return id;
}

/** A byzantine source that answers honestly from replica 0's store, but with `tamper` applied to the heights. */
function tampering(tamper: (heights: SyncedHeight[], first: number) => SyncedHeight[]): PeerId {
  return byzantine(({ id, first, count }) => okAnswer(id, first, tamper(heightsOf(world.replicas[0]!.state, first, count), first)));
}

/**
 * `height` with its block's first transaction a payer can re-sign re-signed with a non-canonical R
 * (test/support/zip215.ts: it verifies, its txid is the same) and the header's body root rebuilt,
 * sealed as before; unchanged when no payer signed in it.
 */
function resignedHeight(height: SyncedHeight): SyncedHeight {
  const block = decodeBlock(height.block);
  const transactions = block.transactions.map((tx) => Uint8Array.from(tx));
  const at = transactions.findIndex((tx) => resignedNonCanonically(tx, world.accounts) !== undefined);
  if (at < 0) return height;
  const resigned = resignedNonCanonically(transactions[at]!, world.accounts)!;
  assert.deepEqual(transactionIdOfEncoding(resigned), transactionIdOfEncoding(transactions[at]!), "the same txid");
  const items = signatureItemsOf(resigned, transactionIdOfEncoding(resigned));
  assert.deepEqual(verifier.verifyBatch(items), items.map(() => true), "every signature of the re-signed transaction verifies (ZIP-215)");
  assert.notDeepEqual(resigned, transactions[at], "other bytes");
  transactions[at] = resigned;
  return { ...height, block: encodeBlock({ ...block.header, bodyRoot: bodyRootOf(transactions) }, block.seal, transactions) };
}

/** Heights whose final block holds a transaction a genesis account signed (what `resignedHeight` can rewrite). */
function resignableHeights(state: ShardState): number[] {
  return heightsOf(state, 1, L).filter((height) => resignedHeight(height) !== height).map((height) => decodeBlock(height.block).header.height);
}

/** A fresh syncing node: its own empty store; runs `sync(target, sources)` and the simulation until it settles. */
async function syncFresh(sources: readonly PeerId[], options: { target?: number; epochLength?: number; bootstrap?: boolean; disk?: MemoryDisk } = {}) {
  const id = `syncer-${nodes++}`;
  const disk = options.disk ?? new MemoryDisk(id);
  let sync: ShardSync | undefined;
  let state: ShardState | undefined;
  world.sim.addNode(id, ({ transport, clock }) => {
    state = ShardState.open({ store: MemoryChainStore.open(disk), genesis: world.genesis, shard: SHARD });
    // Replay unless asked to join at the MSB: most cases here check replay (msb-join's own cases below).
    sync = new ShardSync({ state, transport, clock, committees: world.committees, moves: world.moves, epochLength: options.epochLength ?? L, verifier, bootstrap: options.bootstrap ?? false });
    return sync;
  });
  await world.cluster.advance(1, () => sync !== undefined);
  let report: SyncReport | undefined;
  let failure: unknown;
  let done = false;
  sync!.sync(options.target ?? L, sources).then((r) => (report = r), (error: unknown) => (failure = error)).finally(() => (done = true));
  assert.ok(await world.cluster.advance(120_000, () => done), "the sync settles in virtual time");
  return { state: state!, report, failure, disk, sync: sync!, id };
}

/**
 * A source of the MSB join (msb-join.ts) answering from replica 0: certifications as `certify`
 * makes them of the honest answer, chunks as `chunk` makes them of the honest answer (undefined:
 * silence), sync heights honestly.
 */
function msbSource(options: { certify?: (honest: Uint8Array) => Uint8Array; chunk?: (honest: Uint8Array) => Uint8Array | undefined; heights?: (honest: SyncedHeight[], first: number) => SyncedHeight[] }): PeerId {
  const id = `msb-source-${nodes++}`;
  const replica = world.replicas[0]!.state;
  world.sim.addNode(id, ({ transport }) => {
    const channel = transport.open({ protocol: "msb", shard: SHARD, epoch: 0 });
    const header = replica.msbHeader(0)!;
    const packed = (chunks: Iterable<Uint8Array>) => Uint8Array.from([...chunks].flatMap((chunk) => [...chunk]));
    const server = new MsbChunkServer(decodeMsbHeader(header), packed(replica.msbBody(replica.latestMsb!.epoch)!), packed(replica.msbDecisions(replica.latestMsb!.epoch)!));
    channel.on(SYNC_REQUEST, (from, _type, payload) => {
      const { id: request, first, count } = decodeSyncRequest(payload);
      channel.send(from, SYNC_RESPONSE, okAnswer(request, first, (options.heights ?? ((honest) => honest))(heightsOf(replica, first, count), first)));
    });
    channel.on(MSB_CERT_REQUEST, (from, _type, payload) => {
      const epoch = decodeCertRequest(payload);
      const honest = encodeCertAnswer({ status: CertStatus.Ok, epoch, proof: encodeMsbHeaderProof(header, replica.certificateAt(L)!), earlierHeaders: [] });
      channel.send(from, MSB_CERT_ANSWER, (options.certify ?? ((bytes) => bytes))(honest));
    });
    channel.on(MSB_CHUNK_REQUEST, (from, _type, payload) => {
      const answer = (options.chunk ?? ((bytes) => bytes))(server.serve(payload));
      if (answer !== undefined) channel.send(from, MSB_CHUNK_ANSWER, answer);
    });
    return channel;
  });
  return id;
}

/** `bytes` with bit 0 of byte `at` (from the end when negative) flipped. */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at < 0 ? copy.length + at : at]! ^= 1;
  return copy;
}

/** The shard's Atomix phase table (the replay guard), as comparable strings in cross txid order. */
function phasesOf(state: ShardState): string[] {
  return [...state.atomixPhases()].map(({ crossTxid, phase }) => `${toHex(crossTxid)}:${phase}`);
}

/**
 * Height L + 1 as a one-league committee of shard 0's members would finalize `transactions` on
 * `state` (PoB finalization with the state's Atomix phases and the epoch's committee proofs), left
 * unstored: the verdict of every transaction and the state commitment reached.
 */
function nextHeightOn(state: ShardState, transactions: readonly Uint8Array[]) {
  const { context } = world.cluster;
  const members = context.members(SHARD);
  const accounts = context.believability(SHARD).copy();
  const leagues = drawLeagues({ epoch: context.epoch, seed: new Uint8Array(32), members, accounts, policy: { ...POLICY, normalLeagueSize: members.length } });
  assert.equal(leagues.mode, "one-league");
  let assembly: BlockAssembly | undefined;
  const utxo: FinalStateWriter = {
    applyBlock: (records, count) => ({ statuses: (assembly ??= state.assemble({ undoable: true })).apply(records, count) }),
    undoLastBlock: () => {
      assembly?.abort();
      assembly = undefined;
    },
    get supply() {
      return state.supply;
    },
    get count() {
      return state.utxoCount;
    },
  };
  const validator = new PobValidator({
    shard: SHARD, shardCount: WHOLE_NODE.shards, utxo, accounts, leagues, verifier,
    atomix: { verifier: new CommitteeProofVerifier(world.committees, verifier), phases: state },
    chain: { transactions: (height) => state.blockTransactions(height), createdOutput: (txid, index) => state.createdOutput(txid, index) },
    bondOf: (key) => context.bondOf(key), departureOf: (bond) => context.departureOf(bond),
  });
  const record = state.finalHeightRecord(L)!;
  validator.continueFrom(L, state.tipTimestamp, { proposalHash: proposalHash(record.proposal), tip: stateCommitmentOf(decodeFinalHeightCertificate(record.certificate).commitment) });
  const core: ProposalCore = {
    mode: "one-league", epoch: leagues.epoch, height: L + 1, timestamp: state.tipTimestamp + 1_000, prevHash: validator.previousProposal,
    proposer: leagues.committee[0]!, blocks: [], transactions, suspend: [], resume: [],
  };
  const outcome = validator.applyFinal(core, () => undefined, new Uint8Array(32).fill(7));
  const verdicts = transactions.map((tx) => {
    const txid = transactionIdOfEncoding(tx);
    const excluded = outcome.excluded.find((entry) => sameBytes(entry.txid, txid));
    return excluded?.code ?? "included";
  });
  const result = { verdicts, commitment: toHex(outcome.tip), supply: state.supply, count: state.utxoCount, decisions: outcome.atomix.map((d) => `${toHex(d.crossTxid)}:${d.phase}`) };
  assembly?.abort();
  return result;
}

/** The state a joiner must reach at height L: the replicas' UTXO set, MSB, tip, and the certificate its commitment chain continues from. */
function joinedAt(state: ShardState) {
  const set = snapshotOfEntries(state.utxoSnapshot());
  return {
    tip: state.tip, utxos: `${toHex(set.root)}/${set.count}/${set.supply}`, supply: state.supply, msb: toHex(state.msbHeader(0) ?? new Uint8Array(0)), latest: state.latestMsb,
    body: [...state.msbBody(state.latestMsb!.epoch)!].map(toHex), decisions: [...state.msbDecisions(state.latestMsb!.epoch)!].map(toHex), phases: phasesOf(state), certificate: toHex(state.certificateAt(L) ?? new Uint8Array(0)), block: toHex(state.getBlock(L) ?? new Uint8Array(0)),
  };
}

/** Every durable respect of a synced state that later heights depend on, as comparable values. */
function durable(state: ShardState, reference: ShardState) {
  const entries = (snapshot: Uint8Array) => {
    const list: string[] = [];
    for (let at = 0; at < snapshot.length; at += 76) list.push(toHex(snapshot.subarray(at, at + 76)));
    return list.sort();
  };
  const perHeight = [];
  for (let h = 1; h <= reference.tip.height; h++) {
    const block = decodeBlock(reference.getBlock(h)!);
    const record = reference.finalHeightRecord(h)!;
    perHeight.push({
      block: toHex(state.getBlock(h) ?? new Uint8Array(0)),
      record: state.finalHeightRecord(h),
      continuation: state.finalHeightAt(h),
      locations: Array.from({ length: block.txids.length / 32 }, (_, i) => state.getTransactionLocation(block.txids.subarray(i * 32, i * 32 + 32))),
      rejections: record.rejections.map(({ txid }) => state.rejection(txid)),
      atomix: record.atomix.map(({ crossTxid }) => state.atomix(crossTxid)),
    });
  }
  return {
    tip: state.tip, supply: state.supply, count: state.utxoCount, utxos: entries(state.utxoSnapshot()), perHeight,
    changeProofs: [...state.changeProofs()],
  };
}

/**
 * Height `height` as a whole committee that lies would certify it: the same block and lists, the
 * commitment's MSB header hash with a bit flipped, the proposal carrying that commitment, and
 * prepare and commit certificates signed again by every member (the block sealed with the new one).
 */
function resignedWithAnotherMsb(height: SyncedHeight): SyncedHeight {
  const certified = decodeFinalHeightCertificate(height.record.certificate);
  const msbHeaderHash = Uint8Array.from(certified.commitment.msbHeaderHash);
  msbHeaderHash[0]! ^= 1;
  const commitment = { ...certified.commitment, msbHeaderHash };
  const proposal = Uint8Array.from(height.record.proposal);
  proposal.set(stateCommitmentOf(commitment), proposal.length - 32);
  const { context } = world.cluster;
  const secretOf = new Map(world.validators.map((v) => [toHex(v.publicKey), v.secretKey]));
  const committee = context.leagues(SHARD).committee.map((key) => SchnorrKey.fromSeed(secretOf.get(toHex(key))!));
  const chainId = context.instance(SHARD).key;
  const everyone = committee.map((_, i) => i);
  const hash = proposalHash(proposal);
  const prepareCert = cosign(committee, everyone, prepareDigest(chainId, certified.height, certified.view, hash), signingRng, verifier);
  const commitCert = cosign(committee, everyone, commitDigest(chainId, certified.height, certified.view, hash, prepareCert, committee.length), signingRng, verifier);
  const block = decodeBlock(height.block);
  const prover = new FinalHeightProver({
    epoch: certified.epoch, shard: certified.shard, batch: certified.batch, record: { height: certified.height, view: certified.view, proposal, prepareCert, commitCert },
    committeeSize: committee.length, commitment, included: block.txids, excluded: height.record.rejections,
  });
  return {
    block: encodeBlock(block.header, { kind: "collective", participants: commitCert.mask, signature: commitCert.signature }, block.transactions),
    record: { ...height.record, certificate: prover.certificate(), proposal },
  };
}

function codesOf(report: SyncReport | undefined): string[] {
  return (report?.dropped ?? []).map((d) => d.code);
}

function failureReport(failure: unknown): SyncReport {
  assert.ok(failure instanceof IosError, `a typed failure, got ${String(failure)}`);
  assert.equal(failure.code, "SYNC_NO_SOURCE");
  return (failure.detail as { report: SyncReport }).report;
}

/** Real history: transfers within shard 0, a committed cross-shard transfer and a racing loser, then shard 0 rests at L. */
async function buildHistory(): Promise<World> {
  const { sim, genesis, accounts, validators, cluster, positions } = pobCluster({ seed: "state-sync", genesisSeed: "state-sync", policy: POLICY, shards: WHOLE_NODE.shards, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount, epochLength: L, restAtBoundary: true });
  const chain = cluster.context.chain;
  const byShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, WHOLE_NODE.shards) === shard);
  const coin = (a: KeyPair) => ({ owner: a.publicKey, index: positions.get(toHex(a.publicKey))!, amount: WHOLE_NODE.amount });
  const [a0, b0, c0, ...rest0] = byShard(0);
  const [a1, b1] = byShard(1);
  const access = atomixAccess(cluster);
  await cluster.advance(500);
  // Two cross-shard transfers race for a0's output: one commits, the other is refused in shard 0 and aborted.
  const race = (other: KeyPair, payee: KeyPair) => signCrossShardTransfer({
    kind: TxKind.AtomixLock, inputs: [{ txid: chain, ...coin(a0!) }, { txid: chain, ...coin(other) }], outputs: [{ owner: payee.publicKey, amount: 2_000_000n }],
  }, [a0!, other]);
  let outcomes: string[] | undefined;
  const transfers = [race(a1!, b0!), race(b1!, b1!)];
  void Promise.all(transfers.map((x) => runCrossShardTransfer(x, access))).then((reports) => (outcomes = reports.map((r) => r.outcome).sort()));
  // Intra-shard transfers, one of them a double spend of the other (excluded with its code).
  const pay = (payer: KeyPair, payee: KeyPair, amount: bigint) => encodeTransaction(signTransaction({
    kind: TxKind.Transfer, inputs: [{ txid: chain, index: coin(payer).index, owner: payer.publicKey }],
    outputs: [{ owner: payee.publicKey, amount }, { owner: payer.publicKey, amount: WHOLE_NODE.amount - amount - WHOLE_NODE.fee }],
  }, [payer]).transaction);
  for (const payer of [b0!, c0!, ...rest0]) void cluster.submit(SHARD, [pay(payer, a0!, 1_000n)]);
  void cluster.submit(SHARD, [pay(c0!, b0!, 2_000n)]);
  assert.ok(await cluster.advance(20_000, () => outcomes !== undefined), "the cross-shard flows finish");
  assert.deepEqual(outcomes, ["aborted", "committed"]);
  const replicas = cluster.replicas(SHARD);
  assert.ok(await cluster.advance(60_000, () => replicas.every((node) => node.state.tip.height === L)), `shard ${SHARD} reaches ${L}`);
  // The other shard's validators go down: 5 of 10 cannot certify epoch 1 (≥ ⌊2n/3⌋ + 1 = 7 signers), so nobody switches and
  // shard SHARD rests at L (restAtBoundary: no opening of epoch 1 before its configuration), serving a fixed history.
  const other = cluster.replicas(1 - SHARD)[0]!;
  const foreignCertificates = Array.from({ length: other.state.tip.height }, (_, i) => other.state.certificateAt(i + 1)!);
  for (const id of cluster.members(1 - SHARD)) cluster.crash(id);
  await cluster.advance(5_000);
  assert.ok(replicas.every((node) => node.context.epoch === 0 && node.state.tip.height === L), `shard ${SHARD} rests at ${L} in epoch 0`);
  assert.deepEqual(cluster.failures, []);
  const committees = committeesOfContext(cluster.context);
  // Each replica serves its shard's final chain itself (ValidatorNode holds a ShardSync per state it keeps).
  return { sim, cluster, genesis, committees, moves: movesOfContext(cluster.context), replicas, honest: [...cluster.members(SHARD)], foreignCertificates, validators, transfers, accounts };
}

describe("state sync of a PoB shard from its validators", () => {
  before(async () => {
    world = await buildHistory();
  });
  after(async () => {
    await world.cluster.stop();
  });

  it("the history holds what sync must carry: transfers, a rejection, Atomix phases with proofs (refused, aborted, committed)", () => {
    const state = world.replicas[0]!.state;
    const records = Array.from({ length: L }, (_, i) => state.finalHeightRecord(i + 1)!);
    assert.ok(records.every((r) => r !== undefined), "every final height keeps its certificate");
    const phases = new Set(records.flatMap((r) => r.atomix.map((w) => w.phase)));
    assert.ok(phases.size >= 3, `several Atomix phases were written (${[...phases].join()})`);
    assert.ok(records.some((r) => r.rejections.length > 0), "some height excluded a transaction");
    assert.ok(Array.from({ length: L }, (_, i) => decodeBlock(state.getBlock(i + 1)!).header.txCount).reduce((a, b) => a + b, 0) >= 5, "the blocks hold transactions");
  });

  it(`a fresh state syncs heights 1..${L} from the shard's validators and ends equal to them in every durable respect, across a reopen`, async () => {
    const started = process.cpuUsage();
    const { state, report, failure, disk } = await syncFresh(world.honest);
    const cpu = process.cpuUsage(started);
    assert.equal(failure, undefined);
    assert.equal(report!.applied, L);
    assert.deepEqual(codesOf(report), []);
    assert.deepEqual(report!.used, [world.honest[0]]);
    const reference = durable(world.replicas[0]!.state, world.replicas[0]!.state);
    assert.deepEqual(durable(state, world.replicas[0]!.state), reference);
    for (const replica of world.replicas.slice(1)) assert.deepEqual(durable(replica.state, world.replicas[0]!.state), reference, "the replicas agree");
    console.log(`# synced ${L} heights: ${report!.bytes} bytes, ${report!.elapsedMs} virtual ms, ${((cpu.user + cpu.system) / 1000 / L).toFixed(2)} ms CPU per height`);
    await state.close();
    const reopened = ShardState.open({ store: MemoryChainStore.open(disk), genesis: world.genesis, shard: SHARD });
    assert.deepEqual(durable(reopened, world.replicas[0]!.state), reference, "the synced store replays to the same state");
    await reopened.close();
  });

  const refusals: [string, SyncErrorCode, () => PeerId][] = [
    ["a forged block (a transaction swapped, header rebuilt)", "SYNC_INCLUDED_MISMATCH", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      if (block.transactions.length === 0) return height;
      const other = heightsOf(world.replicas[0]!.state, 1, L).map((h) => decodeBlock(h.block)).find((b) => b.transactions.length > 0 && b.header.height !== block.header.height)!;
      const transactions = [other.transactions[0]!, ...block.transactions.slice(1)];
      const header = makeBlockHeader({ ...block.header, kind: BlockKind.Final }, transactions);
      return { ...height, block: encodeBlock(header, block.seal, transactions) };
    }))],
    ["a block whose transaction is swapped without rebuilding its header", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      if (block.transactions.length === 0) return height;
      const other = heightsOf(world.replicas[0]!.state, 1, L).map((h) => decodeBlock(h.block)).find((b) => b.transactions.length > 0 && b.header.height !== block.header.height)!;
      const transactions = [other.transactions[0]!, ...block.transactions.slice(1)];
      // The header keeps its root; only its size follows the body.
      const bodyBytes = transactions.reduce((sum, tx) => sum + 4 + tx.length, 0);
      return { ...height, block: encodeBlock({ ...block.header, bodyBytes }, block.seal, transactions) };
    }))],
    ["a transaction's signature flipped (the txid, hence the certified root, unchanged; the header's body root is not)", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const bytes = Uint8Array.from(height.block);
      bytes[bytes.length - 1]! ^= 1;
      return decodeBlock(height.block).transactions.length === 0 ? height : { ...height, block: bytes };
    }))],
    ["a transaction's signature flipped and the header's body root rebuilt (the txid, hence the certified root, unchanged)", "SYNC_BODY_ROOT_MISMATCH", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      if (block.transactions.length === 0) return height;
      const transactions = block.transactions.map((tx) => Uint8Array.from(tx));
      transactions[transactions.length - 1]![transactions[transactions.length - 1]!.length - 1]! ^= 1;
      return { ...height, block: encodeBlock({ ...block.header, bodyRoot: bodyRootOf(transactions) }, block.seal, transactions) };
    }))],
    ["a transaction re-signed by its payer with a non-canonical R (ZIP-215-valid, same txid) and the header's body root rebuilt", "SYNC_BODY_ROOT_MISMATCH", () => tampering((heights) => heights.map(resignedHeight))],
    ["another height's proposal", "SYNC_BAD_PROPOSAL", () => tampering((heights, first) => heights.map((height, i) => ({
      ...height, record: { ...height.record, proposal: world.replicas[0]!.state.finalHeightRecord(first + i + 1)!.proposal },
    })))],
    ["a block whose header's timestamp is moved (its hash then differs: the next height would not link)", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      return { ...height, block: encodeBlock({ ...block.header, timestamp: block.header.timestamp + 1 }, block.seal, block.transactions) };
    }))],
    ["a block whose header names another previous block", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      return { ...height, block: encodeBlock({ ...block.header, prevHash: new Uint8Array(32).fill(7) }, block.seal, block.transactions) };
    }))],
    ["a block whose header names another producer", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      return { ...height, block: encodeBlock({ ...block.header, producer: new Uint8Array(32).fill(9) }, block.seal, block.transactions) };
    }))],
    ["a block whose header says another height", "SYNC_BAD_BLOCK", () => tampering((heights) => heights.map((height) => {
      const block = decodeBlock(height.block);
      return { ...height, block: encodeBlock({ ...block.header, height: block.header.height + 1 }, block.seal, block.transactions) };
    }))],
    ["a block sealed with another height's commit certificate", "SYNC_BAD_BLOCK", () => tampering((heights, first) => heights.map((height, i) => {
      const block = decodeBlock(height.block);
      const { seal } = decodeBlock(world.replicas[0]!.state.getBlock(first + i + 1)!);
      return { ...height, block: encodeBlock(block.header, seal, block.transactions) };
    }))],
    ["the next height's block with this height's certificate", "SYNC_BAD_BLOCK", () => tampering((heights, first) => heights.map((height, i) => ({ ...height, block: world.replicas[0]!.state.getBlock(first + i + 1)! })))],
    ["the certificate of the next height", "SYNC_CERTIFICATE_MISPLACED", () => tampering((heights, first) => heights.map((height, i) => ({ ...height, record: world.replicas[0]!.state.finalHeightRecord(first + i + 1)! })))],
    ["the certificate of another shard at the same height", "SYNC_CERTIFICATE_MISPLACED", () => tampering((heights, first) => heights.map((height, i) => ({
      ...height, record: { ...height.record, certificate: world.foreignCertificates[first + i - 1]! },
    })))],
    ["a certificate with a flipped byte", "SYNC_BAD_CERTIFICATE", () => tampering((heights) => heights.map((height) => {
      const certificate = Uint8Array.from(height.record.certificate);
      certificate[certificate.length - 20]! ^= 1;
      return { ...height, record: { ...height.record, certificate } };
    }))],
    ["a certificate renamed to another TransEpoch batch (its u16 after version, epoch and shard)", "SYNC_BAD_CERTIFICATE", () => tampering((heights) => heights.map((height) => {
      const certificate = Uint8Array.from(height.record.certificate);
      new DataView(certificate.buffer).setUint16(1 + 4 + 4, new DataView(certificate.buffer).getUint16(1 + 4 + 4, true) + 1, true);
      return { ...height, record: { ...height.record, certificate } };
    }))],
    ["a rejection dropped", "SYNC_EXCLUDED_MISMATCH", () => tampering((heights) => heights.map((height) => ({ ...height, record: { ...height.record, rejections: height.record.rejections.slice(1) } })))],
    ["a phase write turned (committed/locked/…) into another", "SYNC_BAD_ATOMIX", () => tampering((heights) => heights.map((height) => ({
      ...height, record: { ...height.record, atomix: height.record.atomix.map((w) => ({ ...w, phase: w.phase === 0 ? 2 : 0 })) },
    })))],
    ["an extra phase write for a transaction the height did not decide", "SYNC_BAD_ATOMIX", () => tampering((heights) => heights.map((height) => ({
      ...height, record: { ...height.record, atomix: [...height.record.atomix, { crossTxid: new Uint8Array(32).fill(5), phase: 2 }] },
    })))],
    ["the phase writes withheld", "SYNC_BAD_ATOMIX", () => tampering((heights) => heights.map((height) => ({ ...height, record: { ...height.record, atomix: [] } })))],
    ["the epoch's last height certified by a whole lying committee with another MSB header hash (everything else as honest)", "SYNC_MSB_MISMATCH", () => tampering((heights, first) => heights.map((height, i) => (first + i === L ? resignedWithAnotherMsb(height) : height)))],
    ["a range that skips the first height asked", "SYNC_BAD_RANGE", () => byzantine(({ id, first, count }) => okAnswer(id, first + 1, heightsOf(world.replicas[0]!.state, first + 1, count)))],
    ["a truncated answer", "SYNC_MALFORMED", () => byzantine(({ id, first, count }) => okAnswer(id, first, heightsOf(world.replicas[0]!.state, first, count)).subarray(0, 200))],
    ["an oversize answer", "SYNC_OVERSIZE", () => byzantine(({ id, first }) => {
      const big = new Uint8Array(MAX_SYNC_RESPONSE_BYTES + 1);
      big.set(encodeSyncResponse({ id, status: SyncStatus.Ok, first }, []));
      return big;
    })],
    ["a claim to lack the height", "SYNC_SOURCE_BEHIND", () => byzantine(({ id, first }) => encodeSyncResponse({ id, status: SyncStatus.Behind, first }, []))],
  ];

  for (const [what, code, make] of refusals) {
    it(`refuses ${what} with ${code}, and completes from an honest source`, async () => {
      const liar = make();
      const { state, report, failure } = await syncFresh([liar, world.honest[1]!]);
      assert.equal(failure, undefined);
      assert.deepEqual(report!.dropped.map((d) => [d.peer, d.code]), [[liar, code]], JSON.stringify(report!.dropped));
      // The liar may contribute a verified prefix (heights before the one it tampers with) only.
      assert.equal(report!.used.at(-1), world.honest[1]);
      assert.ok(report!.used.every((peer) => peer === liar || peer === world.honest[1]));
      assert.equal(state.tip.height, L);
      assert.deepEqual(state.tip, world.replicas[0]!.state.tip);
      assert.equal(state.supply, world.replicas[0]!.state.supply);
    });
  }

  it("the last height a sync reaches, served with one transaction re-signed (non-canonical R, ZIP-215-valid, same txid) and its body root rebuilt: SYNC_BODY_ROOT_MISMATCH, the next source completes, every block byte-identical to the shard's", async () => {
    const replica = world.replicas[0]!.state;
    const resignable = resignableHeights(replica);
    assert.ok(resignable.length > 0, "some final block holds a payer's transaction");
    // Nothing after the target binds its block: before the body root was certified, this block verified (same txids, valid signatures).
    const target = resignable.at(-1)!;
    const liar = tampering((heights, first) => heights.map((height, i) => (first + i === target ? resignedHeight(height) : height)));
    const { state, report, failure } = await syncFresh([liar, world.honest[2]!], { target });
    assert.equal(failure, undefined);
    assert.deepEqual(report!.dropped.map((d) => [d.peer, d.code]), [[liar, "SYNC_BODY_ROOT_MISMATCH"]]);
    assert.equal(report!.used.at(-1), world.honest[2]);
    assert.equal(state.tip.height, target);
    for (let h = 1; h <= target; h++) assert.equal(toHex(state.getBlock(h)!), toHex(replica.getBlock(h)!), `block ${h} is the shard's, byte for byte`);
  });

  it("a syncer whose epoch length says height 5 ends epoch 0 finds no MSB certified there: SYNC_MSB_MISMATCH, the state stops at 4", async () => {
    const { state, failure } = await syncFresh([world.honest[2]!], { target: 10, epochLength: 5 });
    const report = failureReport(failure);
    assert.deepEqual(codesOf(report), ["SYNC_MSB_MISMATCH"]);
    assert.equal(state.tip.height, 4, "heights 1..4 verified and applied, nothing after");
    assert.equal(state.msbHeader(0), undefined);
  });

  it("msb-join: a fresh state joins at the shard's MSB of epoch 0 (certified, body in verified chunks, one restore) instead of replaying 1..L, equal to the replicas at L across a reopen, and continues from there", async () => {
    const { state, report, failure, disk } = await syncFresh(world.honest.slice(0, 3), { bootstrap: true });
    assert.equal(failure, undefined);
    const joined = report!.bootstrap!;
    assert.equal(joined.restored, true, JSON.stringify(joined.failure));
    assert.deepEqual([joined.epoch, joined.height, report!.applied, report!.to], [0, L, 0, L], "no height replayed: the state starts at the MSB");
    assert.ok(joined.body!.chunks >= 1 && joined.body!.entryBytes === world.replicas[0]!.state.utxoCount * 76, "the body came in chunks");
    assert.ok(joined.body!.sources.filter((source) => source.chunks > 0).length >= 1);
    assert.deepEqual(joinedAt(state), joinedAt(world.replicas[0]!.state));
    assert.equal(state.prunedBelow, L);
    assert.equal(state.getBlock(L - 1), undefined, "blocks below the MSB were never fetched");
    assert.equal(state.finalHeightRecord(L - 1), undefined);
    // Durable: one transaction wrote it all.
    await state.close();
    const reopened = ShardState.open({ store: MemoryChainStore.open(disk), genesis: world.genesis, shard: SHARD });
    assert.deepEqual(joinedAt(reopened), joinedAt(world.replicas[0]!.state));
    assert.equal(reopened.prunedBelow, L);
    await reopened.close();
  });

  it("msb-atomix: a joined state restores every Atomix phase decided before its MSB (decisions proved against the header), and refuses a replayed unlock-commit and resubmitted committed and aborted X exactly as a replayer does (same codes, same state commitment)", async () => {
    const replica = world.replicas[0]!.state;
    const replayed = await syncFresh(world.honest.slice(0, 3), { bootstrap: false });
    const joined = await syncFresh(world.honest.slice(0, 3), { bootstrap: true });
    assert.equal(joined.report!.bootstrap?.restored, true, JSON.stringify(joined.report!.bootstrap?.failure));
    // The phase table is the replicas', and the joiner fetched it as the MSB's decisions (33 bytes each).
    const phases = phasesOf(replica);
    assert.ok(phases.length >= 2, `the history decided cross-shard transfers (${phases.length})`);
    assert.deepEqual(phasesOf(joined.state), phases);
    assert.deepEqual(phasesOf(replayed.state), phases);
    assert.equal(joined.report!.bootstrap!.decisions!.entryBytes, phases.length * 33);
    const phaseOf = (state: ShardState, x: SignedCrossShardTransfer) => state.phaseOf(x.txid);
    for (const x of world.transfers) assert.equal(phaseOf(joined.state, x), phaseOf(replica, x));
    const winner = world.transfers.find((x) => phaseOf(replica, x) === "committed");
    const loser = world.transfers.find((x) => phaseOf(replica, x) === "aborted");
    assert.ok(winner !== undefined && loser !== undefined, `one X committed and one aborted in shard ${SHARD}`);
    // The winner's unlock-commit shard 0's chain applied, as anyone who saw it could replay it.
    const unlockCommit = (() => {
      for (let h = 1; h <= L; h++) {
        const found = decodeBlock(replica.getBlock(h)!).transactions.find((tx) => tx[TX_PREFIX.offset.kind] === TxKind.AtomixUnlockCommit && sameBytes(decodeAtomixUnlock(tx).cross, winner.unsigned));
        if (found !== undefined) return found;
      }
      throw new Error(`no unlock-commit of ${toHex(winner.txid)} in shard ${SHARD}'s chain`);
    })();
    const resubmitted = [unlockCommit, loser.bytes, winner.bytes];
    const expected = nextHeightOn(replayed.state, resubmitted);
    assert.deepEqual(expected.verdicts, Array(3).fill("TX_ATOMIX_DECIDED"), "a replica that decided them refuses all three, deciding nothing");
    assert.deepEqual(expected.decisions, []);
    assert.deepEqual(nextHeightOn(joined.state, resubmitted), expected, "the joined replica: same verdicts, same supply and count, same commitment");
    await replayed.state.close();
    await joined.state.close();
  });

  it("msb-join: a joined state serves the MSB itself (certification and chunks), so the next joiner joins from it alone", async () => {
    const first = await syncFresh([world.honest[1]!], { bootstrap: true });
    assert.equal(first.report!.bootstrap?.restored, true);
    const second = await syncFresh([first.id], { bootstrap: true });
    assert.equal(second.failure, undefined);
    assert.equal(second.report!.bootstrap?.restored, true, JSON.stringify(second.report!.bootstrap));
    assert.deepEqual(joinedAt(second.state), joinedAt(world.replicas[0]!.state));
    assert.ok(first.sync.chunksServed.served >= 1, "the first joiner served the chunks");
  });

  it("msb-join's anchor check (verifyFinalHeight without a predecessor) refuses a block with one transaction re-signed (non-canonical R, ZIP-215-valid) and its body root rebuilt: SYNC_BODY_ROOT_MISMATCH; the shard's block passes", async () => {
    // The anchor of a join is the epoch's last height, empty in this history: the same check is run on a height with transfers.
    const replica = world.replicas[0]!.state;
    const at = resignableHeights(replica).at(-1)!;
    const [honest] = heightsOf(replica, at, 1);
    const fresh = ShardState.open({ store: MemoryChainStore.open(new MemoryDisk("anchor-check")), genesis: world.genesis, shard: SHARD });
    const options = { committees: world.committees, moves: world.moves, epochLength: L, verifier };
    assert.equal(toHex(verifyFinalHeight(fresh, honest!, { anchorAt: at }, options).block.hash), toHex(decodeBlock(honest!.block).hash));
    assert.equal(codeOf(() => verifyFinalHeight(fresh, resignedHeight(honest!), { anchorAt: at }, options)), "SYNC_BODY_ROOT_MISMATCH");
    await fresh.close();
  });

  it("msb-join: an anchor served with another previous block hash (the joiner has no predecessor to link it to) is refused against the certified one: SYNC_BAD_BLOCK; the join anchors at the next source's block, byte for byte", async () => {
    const replica = world.replicas[0]!.state;
    const liar = msbSource({
      heights: (honest, first) => honest.map((height, i) => {
        if (first + i !== L) return height;
        const block = decodeBlock(height.block);
        return { ...height, block: encodeBlock({ ...block.header, prevHash: new Uint8Array(32).fill(7) }, block.seal, block.transactions) };
      }),
    });
    const { state, report, failure } = await syncFresh([liar, world.honest[3]!], { bootstrap: true });
    assert.equal(failure, undefined);
    const joined = report!.bootstrap!;
    assert.equal(joined.restored, true, JSON.stringify(joined.failure));
    assert.deepEqual(joined.dropped.map((d) => [d.peer, d.code]), [[liar, "SYNC_BAD_BLOCK"]]);
    assert.equal(toHex(state.getBlock(L)!), toHex(replica.getBlock(L)!));
    assert.deepEqual(joinedAt(state), joinedAt(replica));
  });

  it("msb-join: a source serving bad chunks is dropped (MSB_BAD_CHUNK) and the body comes from the next; a bad certification is refused (SYNC_BAD_CERTIFICATE)", async () => {
    // Flip a byte of the first entry of every OK chunk answer (head 46 B, u32 count, then the entries).
    const badChunks = msbSource({ chunk: (honest) => (honest.length > 60 ? flipped(honest, 60) : honest) });
    const { state, report, failure } = await syncFresh([badChunks, world.honest[2]!], { bootstrap: true });
    assert.equal(failure, undefined);
    const joined = report!.bootstrap!;
    assert.equal(joined.restored, true, JSON.stringify(joined.failure));
    const bad = joined.body!.sources.find((source) => source.source === badChunks)!;
    assert.deepEqual([bad.chunks, bad.dropped?.code], [0, "MSB_BAD_CHUNK"]);
    assert.deepEqual(joinedAt(state), joinedAt(world.replicas[0]!.state));

    // A flipped bit in the certificate, then in the header: refused with their codes.
    // A bit of the commit certificate's collective signature: the certificate still decodes, is in place and binds the header.
    const signature = decodeFinalHeightCertificate(world.replicas[0]!.state.certificateAt(L)!).commitCertificate.signature;
    const badSignature = msbSource({ certify: (honest) => flipped(honest, Buffer.from(honest).indexOf(Buffer.from(signature)) + 7) });
    const otherHeader = msbSource({ certify: (honest) => flipped(honest, 6 + 4 + 4 + 2 + 40) });
    const second = await syncFresh([badSignature, otherHeader, world.honest[3]!], { bootstrap: true });
    assert.equal(second.report!.bootstrap?.restored, true);
    assert.deepEqual(second.report!.bootstrap!.dropped.map((d) => [d.peer, d.code]), [[badSignature, "SYNC_BAD_CERTIFICATE"], [otherHeader, "SYNC_BAD_CERTIFICATE"]]);
    assert.deepEqual(joinedAt(second.state), joinedAt(world.replicas[0]!.state));
  });

  it("msb-join: when every source's chunks are bad the join fails with its code (MSB_NO_SOURCE), the state is untouched, and the sync replays 1..L instead", async () => {
    const badChunks = msbSource({ chunk: (honest) => (honest.length > 60 ? flipped(honest, 60) : honest) });
    const { state, report, failure } = await syncFresh([badChunks], { bootstrap: true });
    assert.equal(failure, undefined);
    const joined = report!.bootstrap!;
    assert.deepEqual([joined.restored, joined.failure?.code], [false, "MSB_NO_SOURCE"]);
    assert.equal(report!.applied, L, "replayed from the genesis");
    assert.equal(state.prunedBelow, 1);
    assert.deepEqual(joinedAt(state), joinedAt(world.replicas[0]!.state));
  });

  it("msb-join: a joiner that crashes mid-download restarts with its store untouched (genesis), and joins on the next sync", async () => {
    // Chunks never answered: the fetch waits on its timeouts while the node goes down.
    const silent = msbSource({ chunk: () => undefined });
    const id = `syncer-${nodes++}`;
    const disk = new MemoryDisk(id);
    let sync: ShardSync | undefined;
    world.sim.addNode(id, ({ transport, clock }) => {
      const state = ShardState.open({ store: MemoryChainStore.open(disk), genesis: world.genesis, shard: SHARD });
      sync = new ShardSync({ state, transport, clock, committees: world.committees, moves: world.moves, epochLength: L, verifier });
      return sync;
    });
    await world.cluster.advance(1, () => sync !== undefined);
    void sync!.sync(L, [silent]).catch(() => undefined);
    await world.cluster.advance(1_000);
    world.sim.crash(id);
    disk.crash();
    const restarted = ShardState.open({ store: MemoryChainStore.open(disk), genesis: world.genesis, shard: SHARD });
    assert.deepEqual([restarted.tip.height, restarted.prunedBelow, restarted.latestMsb], [0, 1, undefined], "nothing of the join was written");
    await restarted.close();
    const again = await syncFresh([world.honest[4]!], { bootstrap: true, disk });
    assert.equal(again.report!.bootstrap?.restored, true);
    assert.deepEqual(joinedAt(again.state), joinedAt(world.replicas[0]!.state));
  });

  it("a synced state stores the shard's MSB of epoch 0 (built from its own state after height L), identical to the replicas'", async () => {
    const { state, failure } = await syncFresh([world.honest[1]!]);
    assert.equal(failure, undefined);
    const header = world.replicas[0]!.state.msbHeader(0);
    assert.ok(header !== undefined);
    assert.equal(toHex(state.msbHeader(0)!), toHex(header));
    assert.deepEqual(state.latestMsb, world.replicas[0]!.state.latestMsb);
    assert.deepEqual([...state.msbBody(state.latestMsb!.epoch)!].map(toHex), [...world.replicas[0]!.state.msbBody(state.latestMsb!.epoch)!].map(toHex));
  });

  it("a withheld answer times out and the next source completes the sync; a replayed answer for another request is ignored", async () => {
    const silent = byzantine(() => undefined);
    let captured: Uint8Array | undefined;
    const replayer = byzantine(({ id, first, count }) => (captured ??= okAnswer(id, first, heightsOf(world.replicas[0]!.state, first, count))));
    const { report, failure, state } = await syncFresh([silent, replayer, world.honest[3]!]);
    assert.equal(failure, undefined);
    assert.equal(state.tip.height, L);
    assert.ok(report!.used.includes(world.honest[3]!));
    assert.ok(!report!.used.includes(silent), "the silent source contributed nothing");
    assert.ok(report!.ignored >= 1, "the replayed answer was ignored");
  });

  it("with only byzantine sources the sync fails with SYNC_NO_SOURCE, and the state stops at the verified prefix", async () => {
    const PREFIX = 7;
    // Honest up to PREFIX, then a forged rejection list.
    const partial = tampering((heights, first) => heights.map((height, i) => (first + i <= PREFIX ? height : { ...height, record: { ...height.record, rejections: [...height.record.rejections, { txid: new Uint8Array(32), code: "MISSING_INPUT" }] } })));
    const silent = byzantine(() => undefined);
    const { state, failure } = await syncFresh([partial, silent]);
    const report = failureReport(failure);
    assert.deepEqual(codesOf(report).sort(), ["SYNC_EXCLUDED_MISMATCH", "SYNC_TIMEOUT"]);
    assert.equal(state.tip.height, PREFIX);
    assert.equal(report.applied, PREFIX);
    assert.deepEqual(state.tip, { height: PREFIX, hash: decodeBlock(world.replicas[0]!.state.getBlock(PREFIX)!).hash });
  });

  it("a fork certified by the same committee (another run of the same genesis) breaks the commitment chain: SYNC_COMMITMENT_BREAK", async () => {
    const fork = pobCluster({ seed: "state-sync-fork", genesisSeed: "state-sync", policy: POLICY, shards: WHOLE_NODE.shards, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount, epochLength: L });
    const grown = () => fork.cluster.replicas(SHARD).length === WHOLE_NODE.perShard && fork.cluster.replicas(SHARD).every((node) => node.state.tip.height >= 20);
    assert.ok(await fork.cluster.advance(30_000, grown), "the other run reaches height 20");
    const forked = fork.cluster.replicas(SHARD)[0]!.state;
    assert.notDeepEqual(forked.certificateAt(11), world.replicas[0]!.state.certificateAt(11), "the runs differ");
    const forker = byzantine(({ id, first, count }) => okAnswer(id, first, heightsOf(forked, first, Math.min(count, 20 - first + 1))));
    const first = await syncFresh([world.honest[0]!], { target: 10 });
    let report: SyncReport | undefined;
    void first.sync.sync(L, [forker, world.honest[1]!]).then((r) => (report = r));
    assert.ok(await world.cluster.advance(60_000, () => report !== undefined));
    assert.deepEqual(report!.dropped.map((d) => [d.peer, d.code]), [[forker, "SYNC_COMMITMENT_BREAK"]]);
    assert.deepEqual(first.state.tip, world.replicas[0]!.state.tip);
    await fork.cluster.stop();
  });

  it("a server answers at most MAX_SYNC_HEIGHTS_PER_REQUEST heights, BUSY once a peer's byte budget is spent, and serves it again once refilled; malformed requests get no answer", async () => {
    const answers: { status: number; first: number; heights: number; bytes: number }[] = [];
    let send: ((payload: Uint8Array) => void) | undefined;
    const id = `greedy-${nodes++}`;
    world.sim.addNode(id, ({ transport }) => {
      const channel = transport.open({ protocol: "msb", shard: SHARD, epoch: 0 });
      channel.on(SYNC_RESPONSE, (_from, _type, payload) => {
        const answer = decodeSyncResponse(payload);
        answers.push({ status: answer.status, first: answer.first, heights: answer.heights.length, bytes: payload.length });
      });
      send = (payload) => channel.send(world.honest[0]!, SYNC_REQUEST, payload);
      return channel;
    });
    assert.ok(await world.cluster.advance(10, () => send !== undefined));
    send!(new Uint8Array(5));
    send!(encodeSyncRequest({ id: 0, first: 1, count: MAX_SYNC_HEIGHTS_PER_REQUEST }).subarray(1));
    const burst = 200;
    for (let i = 1; i <= burst; i++) send!(encodeSyncRequest({ id: i, first: 1, count: MAX_SYNC_HEIGHTS_PER_REQUEST }));
    assert.ok(await world.cluster.advance(100, () => answers.length === burst), `every well-formed request is answered, the malformed ones not (${answers.length})`);
    const ok = answers.filter((a) => a.status === SyncStatus.Ok);
    assert.ok(ok.every((a) => a.first === 1 && a.heights === MAX_SYNC_HEIGHTS_PER_REQUEST));
    const busy = answers.filter((a) => a.status === SyncStatus.Busy).length;
    assert.ok(busy > 0 && ok.length + busy === burst, `${ok.length} served, ${busy} busy`);
    // The requests reach the server over links of 1..4 ms (pob-cluster.ts): the budget refills for up to 3 ms meanwhile.
    const refill = Math.ceil((SERVE_BYTES_PER_SECOND * 3) / 1000 / ok[0]!.bytes);
    assert.ok(ok.length <= Math.ceil(MAX_SYNC_RESPONSE_BYTES / ok[0]!.bytes) + 1 + refill, `served within one full answer's budget and its refill (${ok.length} × ${ok[0]!.bytes} bytes)`);
    await world.cluster.advance(1_000);
    answers.length = 0;
    send!(encodeSyncRequest({ id: burst + 1, first: 1, count: 1 }));
    assert.ok(await world.cluster.advance(100, () => answers.length === 1));
    assert.deepEqual(answers.map((a) => [a.status, a.heights]), [[SyncStatus.Ok, 1]], "served again after the budget refilled");
  });

  it("refuses a sync without sources or one while another runs (SYNC_BAD_INPUT, SYNC_BUSY), and syncs again after", async () => {
    const { sync } = await syncFresh([world.honest[0]!], { target: 3 });
    const codeOfRejection = async (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => (error instanceof IosError ? error.code : String(error)));
    assert.equal(await codeOfRejection(sync.sync(L, [])), "SYNC_BAD_INPUT");
    let report: SyncReport | undefined;
    void sync.sync(6, [world.honest[0]!]).then((r) => (report = r));
    assert.equal(await codeOfRejection(sync.sync(L, [world.honest[0]!])), "SYNC_BUSY");
    assert.ok(await world.cluster.advance(10_000, () => report !== undefined));
    assert.deepEqual({ from: report!.from, to: report!.to }, { from: 3, to: 6 });
  });

  it("a synced state continues: a second sync from its tip seeds the commitment chain from its stored certificate", async () => {
    const first = await syncFresh([world.honest[4]!], { target: 40 });
    assert.equal(first.report!.applied, 40);
    let report: SyncReport | undefined;
    void first.sync.sync(L, [world.honest[0]!]).then((r) => (report = r));
    assert.ok(await world.cluster.advance(60_000, () => report !== undefined));
    assert.deepEqual({ from: report!.from, to: report!.to, dropped: report!.dropped }, { from: 40, to: L, dropped: [] });
    assert.deepEqual(first.state.tip, world.replicas[0]!.state.tip);
  });
});
