/**
 * Shard consensus in one process: four validators, each with its own LMDB shard state, verifier
 * pool and authenticated uWebSockets transport on a 127.0.0.1 ephemeral port, agree on blocks with
 * the BFT; transactions submitted to any validator reach the leader by gossip.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFinality } from "../../src/consensus/bft/codec.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { BlockKind, decodeBlock, decodeBlockEnvelope, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { PeerIdentity } from "../../src/net/peer-auth.js";
import { PEER_PATH, UwsTransport } from "../../src/net/uws-transport.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";
import { fileFinalityLogs } from "../../src/node/consensus/finality-log.js";
import { ShardConsensus, finalBlockOf, type FinalBlock, type ShardConsensusOptions } from "../../src/node/consensus/shard-consensus.js";
import { Pipeline } from "../../src/node/pipeline.js";
import type { VerifierPool } from "../../src/node/pool/interface.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { FLUSH_INTERVAL_BLOCKS, ShardState } from "../../src/node/shard-state.js";
import { testFailures } from "../support/log.js";
import { TX_BATCH, type TxGossip } from "../../src/node/tx-gossip.js";

const AMOUNT = 1_000_000n;
const VALIDATORS = 4;
const { genesis, accounts, validators } = makeTestGenesis({ seed: "shard consensus tests", shardCount: 1, accounts: 48, amount: AMOUNT, validators: VALIDATORS });
const GENESIS_ID = genesisTxid(genesis);
const context = genesisEpochContext(genesis);
const verifier = new Ed25519Verifier();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

interface Member {
  readonly key: KeyPair;
  readonly state: ShardState;
  readonly pool: VerifierPool;
  readonly pipeline: Pipeline;
  readonly transport: UwsTransport;
  readonly consensus: ShardConsensus;
  readonly gossip: TxGossip;
  /** The gossip's channel: (client, shard 0, epoch 0). */
  readonly blocks: FinalBlock[];
  port: number;
  alive: boolean;
}

/** Spends genesis output `index` (owned by accounts[index]) to `to`, change back. */
function spendGenesis(index: number, to: KeyPair, amount: bigint): { bytes: Uint8Array; txid: Uint8Array } {
  const owner = accounts[index]!;
  const { transaction, txid } = signTransaction(
    {
      kind: TxKind.Transfer,
      inputs: [{ txid: GENESIS_ID, index, owner: owner.publicKey }],
      outputs: [
        { owner: to.publicKey, amount },
        { owner: owner.publicKey, amount: AMOUNT - amount },
      ],
    },
    [owner],
  );
  return { bytes: encodeTransaction(transaction), txid };
}

async function waitFor(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("shard consensus over real sockets, 4 validators in one process", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-shard-consensus-"));
  const members: Member[] = [];
  const participants = context.members(0);

  /** Opens validator i's state, pool, pipeline, transport (ephemeral port) and consensus (with its gossip). */
  async function openMember(i: number): Promise<Member> {
    const key = validators[i]!;
    const state = ShardState.open({ directory: join(directory, `v${i}`), genesis, shard: 0 });
    const pool = new PiscinaVerifierPool({ threads: 1 });
    const clock = new SystemClock();
    const pipeline = new Pipeline({ state, pool, clock });
    const others = validators.filter((v) => v !== key).map((v) => [hex(v.publicKey), undefined] as const);
    const transport = new UwsTransport({
      identity: PeerIdentity.fromSeed(key.secretKey),
      chainId: GENESIS_ID,
      host: "127.0.0.1",
      port: 0,
      peers: new Map(others),
      clock,
      rng: new CryptoRng(),
      failures: testFailures(),
    });
    const consensus = new ShardConsensus({
      context,
      shard: 0,
      key,
      transport,
      pipeline,
      state,
      pool,
      clock,
      rng: new CryptoRng(),
      viewTimeoutMs: 1000,
      idleBlockMs: 100,
      openLog: fileFinalityLogs(join(directory, `v${i}-finality`)),
    });
    const member: Member = { key, state, pool, pipeline, transport, consensus, gossip: consensus.gossip, blocks: [], port: 0, alive: true };
    consensus.onFinalBlock((block) => member.blocks.push(block));
    member.port = (await transport.start()).port;
    return member;
  }

  function link(member: Member): void {
    for (const other of members) {
      if (other === member || !other.alive) continue;
      member.transport.setPeer(hex(other.key.publicKey), `ws://127.0.0.1:${other.port}${PEER_PATH}`);
      other.transport.setPeer(hex(member.key.publicKey), `ws://127.0.0.1:${member.port}${PEER_PATH}`);
    }
  }

  async function crash(member: Member): Promise<void> {
    member.alive = false;
    await member.consensus.stop();
    await member.pipeline.close();
    await member.transport.close();
    await member.pool.close();
    await member.state.close();
  }

  before(async () => {
    assert.equal(participants.length, VALIDATORS);
    for (let i = 0; i < VALIDATORS; i++) members.push(await openMember(i));
    for (const member of members) link(member);
    for (const member of members) member.consensus.start();
  });

  after(async () => {
    for (const member of members) if (member.alive) await crash(member);
    rmSync(directory, { recursive: true, force: true });
  });

  const live = (): Member[] => members.filter((m) => m.alive);
  const finalEverywhere = (txid: Uint8Array): boolean => live().every((m) => m.state.getTransactionLocation(txid) !== undefined);

  /** Every live validator holds the same block at every height they share, and every record proves its block. */
  function assertIdenticalChains(): void {
    const shared = Math.min(...live().map((m) => m.state.tip.height));
    assert.ok(shared >= 1, "at least one block is final");
    for (let height = 1; height <= shared; height++) {
      const hashes = new Set(live().map((m) => hex(decodeBlockEnvelope(m.state.getBlock(height)!).hash)));
      assert.equal(hashes.size, 1, `one block at height ${height}`);
    }
    for (const member of live()) {
      for (let height = member.consensus.log.lastHeight; height >= 1 && member.consensus.log.get(height) !== undefined; height--) {
        const record = member.consensus.log.get(height)!;
        assert.ok(verifyFinality(participants, context.instance(0).key, record, verifier), `certificate of height ${height}`);
        const stored = decodeBlockEnvelope(member.state.getBlock(height)!);
        assert.equal(stored.header.kind, BlockKind.Final);
        assert.ok(stored.seal.kind === "collective" && hex(stored.seal.participants) === hex(record.commitCert.mask) && hex(stored.seal.signature) === hex(record.commitCert.signature));
        assert.equal(hex(finalBlockOf(record)), hex(member.state.getBlock(height)!));
      }
    }
  }

  it("finalizes transfers sent to different validators, identically on all four", async () => {
    const receiver = accounts[47]!;
    const transfers = Array.from({ length: 16 }, (_, i) => spendGenesis(i, receiver, 1000n + BigInt(i)));
    const results = await Promise.all(transfers.map((t, i) => members[i % VALIDATORS]!.consensus.submit([t.bytes])));
    for (const [result] of results) assert.equal(result!.outcome, "accepted");
    await waitFor(() => transfers.every((t) => finalEverywhere(t.txid)), "16 transfers final on every validator");
    assertIdenticalChains();
    assert.equal(members.reduce((sum, m) => sum + m.gossip.stats.forwarded, 0), transfers.length, "each client transaction is forwarded once, by the validator it was sent to");
    const [again] = await members[0]!.consensus.submit([transfers[0]!.bytes]);
    assert.equal(again!.outcome, "duplicate");
    assert.equal(members[0]!.gossip.stats.forwarded, transfers.length / VALIDATORS, "a duplicate is not forwarded");
    for (const block of members[0]!.blocks) {
      const producer = hex(decodeBlock(block.bytes).header.producer);
      assert.ok(participants.some((p) => hex(p) === producer), `block ${block.height} was proposed by a shard validator`);
    }
    for (const member of members) assert.equal(member.state.getUtxo(GENESIS_ID, 0), undefined, "the spent genesis output is gone everywhere");
    const supplies = new Set(members.map((m) => m.state.supply.toString()));
    assert.equal(supplies.size, 1);
  });

  it("flushes in turn: the four validators' UTXO sets are flushed at four different heights", async () => {
    await waitFor(() => Math.min(...live().map((m) => m.state.tip.height)) >= FLUSH_INTERVAL_BLOCKS + 4, "a full flush interval of heights");
    const flushed = live().map((m) => m.state.flushedHeight);
    assert.equal(new Set(flushed).size, VALIDATORS, `flushed heights ${flushed.join()}`);
    assert.ok(flushed.every((height) => height > 0));
  });

  it("refuses a proposal earlier than its parent block, and stores non-decreasing block times", async () => {
    const member = members[0]!;
    const producer = validators[1]!;
    /** An empty proposal at the tip + 1, sealed by a shard validator; built and validated in one tick, before the tip can move. */
    const validateAt = (timestamp: number): Promise<boolean> => {
      const tip = member.state.tip;
      const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: member.state.epoch, height: tip.height + 1, prevHash: tip.hash, timestamp, producer: producer.publicKey }, []);
      return member.consensus.validate(tip.height + 1, encodeBlock(header, sealOptimistic(header, producer), []));
    };
    assert.equal(await validateAt(member.state.tipTimestamp - 1), false);
    assert.equal(await validateAt(member.state.tipTimestamp), true);
    let parent = genesis.timestamp;
    for (let height = 1; height <= member.state.tip.height; height++) {
      const { timestamp } = decodeBlockEnvelope(member.state.getBlock(height)!).header;
      assert.ok(timestamp >= parent, `block ${height} at ${timestamp} is earlier than its parent at ${parent}`);
      parent = timestamp;
    }
  });

  it("counts a malformed gossip batch and keeps going", async () => {
    const target = members[3]!;
    members[0]!.gossip.channel.send(hex(target.key.publicKey), TX_BATCH, Uint8Array.of(9, 0, 0, 0, 1));
    await waitFor(() => target.gossip.stats.badMessages === 1, "the bad batch counted");
  });

  it("applies exactly one of two conflicting spends, the same one everywhere", async () => {
    const a = spendGenesis(20, accounts[46]!, 5n);
    const b = spendGenesis(20, accounts[45]!, 7n);
    const [[ra], [rb]] = await Promise.all([members[1]!.consensus.submit([a.bytes]), members[2]!.consensus.submit([b.bytes])]);
    assert.equal(ra!.outcome, "accepted");
    assert.equal(rb!.outcome, "accepted");
    const settled = (m: Member, txid: Uint8Array): boolean => m.blocks.some((block) => block.txids.length > 0 && Buffer.from(block.txids).toString("hex").includes(hex(txid)));
    await waitFor(() => members.every((m) => settled(m, a.txid) && settled(m, b.txid)), "both spends settled in blocks");
    const winners = new Set(members.map((m) => (m.state.getTransactionLocation(a.txid) !== undefined ? "a" : "") + (m.state.getTransactionLocation(b.txid) !== undefined ? "b" : "")));
    assert.equal(winners.size, 1, "the same outcome on every validator");
    assert.ok(winners.has("a") || winners.has("b"), "exactly one spend applied");
    assertIdenticalChains();
  });

  it("replaces a crashed leader by view change and keeps finalizing", async () => {
    const next = members[0]!.consensus.bft.height;
    const leader = members[members[0]!.consensus.bft.leaderOf(next, 0)]!;
    await crash(leader);
    const before = live().map((m) => m.consensus.bft.stats.viewChanges);
    const transfers = Array.from({ length: 6 }, (_, i) => spendGenesis(30 + i, accounts[44]!, 3n));
    const targets = live();
    const results = await Promise.all(transfers.map((t, i) => targets[i % targets.length]!.consensus.submit([t.bytes])));
    for (const [result] of results) assert.equal(result!.outcome, "accepted");
    await waitFor(() => transfers.every((t) => finalEverywhere(t.txid)), "transfers final on the three survivors");
    const after = live().map((m) => m.consensus.bft.stats.viewChanges);
    assert.ok(after.some((count, i) => count > before[i]!), "the survivors changed view");
    assertIdenticalChains();
  });

  it("restarts a crashed validator from its data directory and catches it up", async () => {
    const index = members.findIndex((m) => !m.alive);
    const survivorTip = Math.max(...live().map((m) => m.state.tip.height));
    const restarted = await openMember(index);
    assert.ok(restarted.consensus.log.lastHeight >= 1, "the finality log survived the crash");
    assert.equal(restarted.consensus.log.lastHeight, restarted.state.tip.height);
    members[index] = restarted;
    link(restarted);
    restarted.consensus.start();
    const transfer = spendGenesis(40, accounts[43]!, 9n);
    const [result] = await restarted.consensus.submit([transfer.bytes]);
    assert.equal(result!.outcome, "accepted");
    await waitFor(() => finalEverywhere(transfer.txid) && restarted.state.tip.height > survivorTip, "the restarted validator caught up and finalized a new transfer");
    assertIdenticalChains();
  });

  /**
   * The parts of a consensus outside the running shard (state in `name`, pool, pipeline, an
   * unstarted transport of `key`), handed to `run` and closed after it.
   */
  async function withStandalone(name: string, key: KeyPair, run: (parts: Omit<ShardConsensusOptions, "key">, state: ShardState) => Promise<void>): Promise<void> {
    const state = ShardState.open({ directory: join(directory, name), genesis, shard: 0 });
    const pool = new PiscinaVerifierPool({ threads: 1 });
    const clock = new SystemClock();
    const transport = new UwsTransport({ identity: PeerIdentity.fromSeed(key.secretKey), chainId: GENESIS_ID, host: "127.0.0.1", port: 0, peers: new Map(), clock, rng: new CryptoRng(), failures: testFailures() });
    const pipeline = new Pipeline({ state, pool, clock });
    try {
      await run({ context, shard: 0, transport, pipeline, state, pool, clock, rng: new CryptoRng() }, state);
    } finally {
      await pipeline.close();
      await transport.close();
      await pool.close();
      await state.close();
    }
  }

  it("replays a finality log ahead of its shard state, and refuses a key outside the shard", async () => {
    const source = live()[0]!;
    const copy = join(directory, "replay-finality");
    cpSync(join(directory, `v${members.indexOf(source)}-finality`), copy, { recursive: true });
    const key = validators[0]!;
    await withStandalone("replay-state", key, async (parts, state) => {
      assert.throws(() => new ShardConsensus({ ...parts, key: accounts[0]! }), { code: "CONSENSUS_NOT_MEMBER" });
      const replayed = new ShardConsensus({ ...parts, key, openLog: fileFinalityLogs(copy) });
      assert.ok(replayed.log.lastHeight >= 1);
      assert.equal(state.tip.height, replayed.log.lastHeight, "every logged height was committed");
      for (let height = 1; height <= state.tip.height; height++) assert.equal(hex(state.getBlock(height)!), hex(source.state.getBlock(height)!));
      assert.equal(state.supply, source.state.supply);
      await replayed.stop();
    });
  });

  it("validates only proposals of the context's epoch", async () => {
    const key = validators[1]!;
    await withStandalone("epoch-state", key, async (parts, state) => {
      const consensus = new ShardConsensus({ ...parts, key });
      const own = consensus.propose(1);
      assert.equal(decodeBlock(own).header.epoch, context.epoch, "a proposal carries the context's epoch");
      assert.equal(await consensus.validate(1, own), true);
      const transfer = spendGenesis(41, accounts[42]!, 2n);
      const proposalOf = (epoch: number): Uint8Array => {
        const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch, height: 1, prevHash: state.tip.hash, timestamp: 1, producer: validators[2]!.publicKey }, [transfer.bytes]);
        return encodeBlock(header, sealOptimistic(header, validators[2]!), [transfer.bytes]);
      };
      assert.equal(await consensus.validate(1, proposalOf(context.epoch)), true, "a member's proposal of this epoch is valid");
      assert.equal(await consensus.validate(1, proposalOf(context.epoch + 1)), false, "the same proposal under another epoch is refused");
      await consensus.stop();
    });
  });
});
