/**
 * The validation pipeline end to end with the solo driver committing its blocks, and the shard
 * state's one commit API (`assemble`): real worker threads (VerifierPool), real Ed25519
 * signatures, a real LMDB shard state in a temp directory. Balances and supply are checked against
 * a TypeScript model of the UTXO set.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IosError } from "../../src/errors.js";
import { BlockKind, decodeBlock, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { genesisTxid, makeTestGenesis, type Genesis } from "../../src/ledger/genesis.js";
import { signMessage, type KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions } from "../../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction, type TxOutput } from "../../src/ledger/transaction.js";
import { ApplyStatus, applyStatusName } from "../../src/ledger/utxo-table.js";
import type { BlockEvent, SubmitResult } from "../../src/node/consensus/interface.js";
import { SoloDriver, type SoloDriverOptions } from "../../src/node/consensus/solo-driver.js";
import { Pipeline, type PipelineOptions } from "../../src/node/pipeline.js";
import type { VerifierPool } from "../../src/node/pool/interface.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { ShardState, type BlockSlot, type CommitResult } from "../../src/node/shard-state.js";
import { SystemClock } from "../../src/runtime/system.js";
import { codeOf } from "../support/errors.js";

const SHARD_COUNT = 2;
const SHARD = 0;
const AMOUNT = 1_000_000n;
const { genesis, accounts, validators } = makeTestGenesis({ seed: "pipeline tests", shardCount: SHARD_COUNT, accounts: 64, amount: AMOUNT, validators: 1 });
const mine = accounts.filter((account) => shardOfOwner(account.publicKey, SHARD_COUNT) === SHARD);
const foreign = accounts.find((account) => shardOfOwner(account.publicKey, SHARD_COUNT) !== SHARD)!;
const GENESIS_ID = genesisTxid(genesis);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

interface Coin {
  readonly txid: Uint8Array;
  readonly index: number;
  readonly owner: KeyPair;
  readonly amount: bigint;
}

/** A TS model of the shard's UTXO set: outpoint hex → coin. */
class Model {
  readonly coins = new Map<string, Coin>();
  constructor(source: Genesis) {
    source.outputs.forEach((output, index) => {
      const owner = accounts.find((account) => hex(account.publicKey) === hex(output.owner))!;
      if (shardOfOwner(output.owner, SHARD_COUNT) === SHARD) this.add({ txid: GENESIS_ID, index, owner, amount: output.amount });
    });
  }
  add(coin: Coin): void {
    this.coins.set(`${hex(coin.txid)}:${coin.index}`, coin);
  }
  spend(coin: Coin): void {
    assert.ok(this.coins.delete(`${hex(coin.txid)}:${coin.index}`));
  }
  get supply(): bigint {
    let sum = 0n;
    for (const coin of this.coins.values()) sum += coin.amount;
    return sum;
  }
}

interface Transfer {
  readonly bytes: Uint8Array;
  readonly txid: Uint8Array;
  readonly spent: Coin;
  readonly created: Coin[];
}

/** Spends `coin` into `amount` for `to` and the change back to the owner (1 input, 2 outputs); `forger` signs instead of the owner. */
function transfer(coin: Coin, to: KeyPair, amount: bigint, forger?: KeyPair): Transfer {
  const outputs: TxOutput[] = [
    { owner: to.publicKey, amount },
    { owner: coin.owner.publicKey, amount: coin.amount - amount },
  ];
  const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: coin.txid, index: coin.index, owner: coin.owner.publicKey }], outputs }, [coin.owner]);
  const signatures = forger === undefined ? transaction.signatures : [signMessage(forger.secretKey, txid)];
  return {
    bytes: encodeTransaction({ ...transaction, signatures }),
    txid,
    spent: coin,
    created: [
      { txid, index: 0, owner: to, amount },
      { txid, index: 1, owner: coin.owner, amount: coin.amount - amount },
    ],
  };
}

function assertMatchesModel(state: ShardState, model: Model): void {
  assert.equal(state.supply, model.supply);
  assert.equal(state.utxoCount, model.coins.size);
  for (const coin of model.coins.values()) {
    const found = state.getUtxo(coin.txid, coin.index);
    assert.ok(found !== undefined, `missing UTXO ${hex(coin.txid)}:${coin.index}`);
    assert.equal(found.amount, coin.amount);
    assert.equal(hex(found.owner), hex(coin.owner.publicKey));
  }
}

function outcomes(results: readonly SubmitResult[]): string[] {
  return results.map((result) => (result.outcome === "rejected" ? `rejected:${result.code}` : result.outcome));
}

let pool: VerifierPool;
const clock = new SystemClock();

/** A pipeline over `state` and the shared pool. */
function pipelineOf(state: ShardState, options: Partial<PipelineOptions> = {}): Pipeline {
  return new Pipeline({ state, pool, clock, ...options });
}

/** The solo driver of validator 0 over `state` and `pipeline` (not started: tests call `commitNextBlock`). */
function soloOf(state: ShardState, pipeline: Pipeline, options: Partial<SoloDriverOptions> = {}): SoloDriver {
  return new SoloDriver({ state, pipeline, key: validators[0]!, epoch: 0, clock, ...options });
}

/** Every settlement the pipeline publishes, in order. */
function recordSettlements(pipeline: Pipeline): BlockEvent[] {
  const events: BlockEvent[] = [];
  pipeline.onSettled((event) => events.push(event));
  return events;
}

/** Hex txid → [height, index in the block] of every transaction a settlement made final. */
function finalsOf(events: readonly BlockEvent[]): Map<string, [number, number]> {
  const finals = new Map<string, [number, number]>();
  for (const event of events) for (let i = 0; i < event.final.length / 32; i++) finals.set(hex(event.final.subarray(i * 32, (i + 1) * 32)), [event.height, i]);
  return finals;
}

/** The settlement of a block committed with `commitBlock`: applied transactions final, the others rejected by ApplyStatus name. */
function settlementOfCommit(commit: CommitResult): BlockEvent {
  const final: Uint8Array[] = [];
  const rejected: { txid: Uint8Array; code: string }[] = [];
  commit.statuses.forEach((status, i) => {
    const txid = commit.txids.subarray(i * 32, (i + 1) * 32);
    if (status === ApplyStatus.Ok) final.push(txid);
    else rejected.push({ txid, code: applyStatusName(status) });
  });
  return { height: commit.height, hash: commit.hash, final: Buffer.concat(final), rejected };
}

/** A block at `slot` of `transactions` (all applied), sealed by validator 0. */
function soloBlock(slot: BlockSlot, transactions: readonly Uint8Array[], consensusState?: Uint8Array) {
  const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: SHARD, epoch: 0, height: slot.height, prevHash: slot.prevHash, timestamp: 1, producer: validators[0]!.publicKey }, transactions);
  const bytes = encodeBlock(header, sealOptimistic(header, validators[0]!), transactions);
  const decoded = decodeBlock(bytes);
  return { bytes, hash: decoded.hash, txids: decoded.txids, ...(consensusState === undefined ? {} : { consensusState }) };
}
const directories: string[] = [];

/** Whether the store's kept set becomes exactly `transactions` within a second (its updates commit asynchronously). */
async function keptBecomes(state: ShardState, transactions: readonly { bytes: Uint8Array }[]): Promise<boolean> {
  const wanted = transactions.map((t) => hex(t.bytes)).sort().join();
  for (let tries = 0; tries < 100; tries++) {
    if (state.acceptedTransactions().map(hex).sort().join() === wanted) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

function freshState(): { state: ShardState; directory: string } {
  const directory = mkdtempSync(join(tmpdir(), "ios-pipeline-"));
  directories.push(directory);
  return { state: ShardState.open({ directory, genesis, shard: SHARD }), directory };
}

function genesisCoins(model: Model): Coin[] {
  return [...model.coins.values()];
}

before(() => {
  pool = new PiscinaVerifierPool({ threads: 2 });
});

after(async () => {
  await pool.close();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

describe("pipeline with the solo driver", () => {
  it("finalizes valid transfers in two chained rounds; balances and supply match the model", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const model = new Model(genesis);
    const events = recordSettlements(pipeline);

    for (let round = 0; round < 2; round++) {
      const coins = genesisCoins(model).filter((coin) => coin.amount > 10n).slice(0, 24);
      const transfers = coins.map((coin, i) => transfer(coin, mine[(i + 1 + round) % mine.length]!, coin.amount / 3n));
      const results = await pipeline.submit(transfers.map((t) => t.bytes));
      assert.deepEqual(outcomes(results), transfers.map(() => "accepted"));
      results.forEach((result, i) => assert.equal(hex(result.txid!), hex(transfers[i]!.txid)));
      for (const t of transfers) assert.deepEqual(pipeline.status(t.txid), { state: "pending" });
      const event = solo.commitNextBlock();
      assert.ok(event !== undefined);
      assert.equal(event.final.length, transfers.length * 32);
      assert.equal(event.rejected.length, 0);
      for (const t of transfers) {
        model.spend(t.spent);
        for (const coin of t.created) model.add(coin);
      }
      transfers.forEach((t, i) => assert.deepEqual(pipeline.status(t.txid), { state: "final", height: round + 1, index: i }));
      const block = decodeBlock(state.getBlock(round + 1)!);
      assert.deepEqual(block.transactions.map(hex), transfers.map((t) => hex(t.bytes)));
    }
    assertMatchesModel(state, model);
    assert.equal(state.tip.height, 2);
    const { state: follower } = freshState();
    for (const height of [1, 2]) assert.equal(follower.commitBlock(state.getBlock(height)!).applied, 24, "produced blocks pass the full block validation");
    assert.equal(hex(follower.tip.hash), hex(state.tip.hash));
    assertMatchesModel(follower, model);
    await follower.close();
    assert.equal(events.length, 2);
    const finals = finalsOf(events);
    assert.equal(finals.size, 48);
    for (const [txid, [height, index]] of finals) assert.deepEqual(pipeline.status(Buffer.from(txid, "hex")), { state: "final", height, index }, "each settlement names the block and position");
    assert.equal(solo.commitNextBlock(), undefined, "an empty mempool makes no block");
    assert.equal(pipeline.metrics().finalized, 48);
    await pipeline.close();
    await state.close();
  });

  it("rejects a bad signature, malformed bytes and a wrong-shard output with their codes", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state);
    const coins = genesisCoins(new Model(genesis));
    const good = transfer(coins[0]!, mine[1]!, 5n);
    const forged = transfer(coins[1]!, mine[2]!, 5n, mine[3]!);
    const tampered = transfer(coins[2]!, mine[2]!, 5n).bytes.slice();
    tampered[tampered.length - 1]! ^= 0x01;
    const wrongShard = transfer(coins[3]!, foreign, 5n);
    const truncated = good.bytes.subarray(0, 40);
    const results = await pipeline.submit([forged.bytes, tampered, wrongShard.bytes, truncated, good.bytes]);
    assert.deepEqual(outcomes(results), ["rejected:TX_BAD_SIGNATURE", "rejected:TX_BAD_SIGNATURE", "rejected:TX_WRONG_SHARD", "rejected:TX_TRUNCATED", "accepted"]);
    assert.equal(results[3]!.txid, undefined, "undecodable bytes have no txid");
    assert.deepEqual(pipeline.status(forged.txid), { state: "rejected", code: "TX_BAD_SIGNATURE" });
    assert.match(results[2]!.message!, /shard/);
    assert.throws(() => pipeline.submitFramed(Uint8Array.of(9, 0, 0, 0, 1)), (error: unknown) => error instanceof IosError && error.code === "BATCH_TRUNCATED");
    const event = soloOf(state, pipeline).commitNextBlock()!;
    assert.equal(event.final.length, 32);
    assert.deepEqual(pipeline.metrics().rejected, { TX_BAD_SIGNATURE: 2, TX_WRONG_SHARD: 1, TX_TRUNCATED: 1 });
    await pipeline.close();
    await state.close();
  });

  it("treats duplicate submissions idempotently, while pending and once final", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const coins = genesisCoins(new Model(genesis));
    const t = transfer(coins[0]!, mine[1]!, 7n);
    const first = await pipeline.submitFramed(packTransactions([t.bytes, t.bytes]));
    assert.deepEqual(outcomes(first), ["accepted", "duplicate"]);
    assert.deepEqual(first[1]!.status, { state: "pending" });
    const again = await pipeline.submit([t.bytes]);
    assert.deepEqual(outcomes(again), ["duplicate"]);
    solo.commitNextBlock();
    const late = await pipeline.submit([t.bytes]);
    assert.deepEqual(outcomes(late), ["duplicate"]);
    assert.deepEqual(late[0]!.status, { state: "final", height: 1, index: 0 });
    assert.equal(solo.commitNextBlock(), undefined, "the duplicate never re-entered the mempool");
    assert.equal(pipeline.pendingCount, 0);
    await pipeline.close();
    await state.close();
  });

  it("refuses submissions past the cap with MEMPOOL_FULL and finalizes every accepted one", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state, { maxPendingTxs: 10 });
    const solo = soloOf(state, pipeline);
    const model = new Model(genesis);
    const transfers = genesisCoins(model).slice(0, 25).map((coin, i) => transfer(coin, mine[(i + 5) % mine.length]!, 11n));
    const results = await pipeline.submit(transfers.map((t) => t.bytes));
    const accepted = transfers.filter((_, i) => results[i]!.outcome === "accepted");
    assert.equal(accepted.length, 10);
    assert.deepEqual(outcomes(results).slice(10), new Array(15).fill("rejected:MEMPOOL_FULL"));
    assert.match(results[24]!.message!, /retry later/);
    assert.equal(pipeline.pendingCount, 10);
    assert.equal(pipeline.metrics().refusedFull, 15);
    solo.commitNextBlock();
    for (const t of accepted) assert.equal(pipeline.status(t.txid).state, "final");
    const retried = await pipeline.submit(transfers.slice(10, 20).map((t) => t.bytes));
    assert.deepEqual(outcomes(retried), new Array(10).fill("accepted"));
    solo.commitNextBlock();
    for (const t of transfers.slice(0, 20)) {
      model.spend(t.spent);
      for (const coin of t.created) model.add(coin);
    }
    assertMatchesModel(state, model);
    await pipeline.close();
    await state.close();
  });

  it("lets exactly one of two double spends become final (same block and across blocks)", async () => {
    const { state, directory } = freshState();
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const events = recordSettlements(pipeline);
    const rejectedAtApply = (): [string, string][] => events.flatMap((event) => event.rejected.map((r): [string, string] => [hex(r.txid), r.code]));
    const coins = genesisCoins(new Model(genesis));
    const first = transfer(coins[0]!, mine[1]!, 100n);
    const second = transfer(coins[0]!, mine[2]!, 200n);
    assert.deepEqual(outcomes(await pipeline.submit([first.bytes])), ["accepted"]);
    assert.deepEqual(outcomes(await pipeline.submit([second.bytes])), ["accepted"]);
    const event = solo.commitNextBlock()!;
    assert.equal(hex(event.final), hex(first.txid));
    assert.deepEqual(rejectedAtApply(), [[hex(second.txid), "MISSING_INPUT"]]);
    assert.deepEqual(pipeline.status(second.txid), { state: "rejected", code: "MISSING_INPUT" });
    assert.equal(decodeBlock(state.getBlock(1)!).transactions.length, 1, "the loser is not in the block");

    const third = transfer(coins[0]!, mine[3]!, 300n);
    assert.deepEqual(outcomes(await pipeline.submit([third.bytes])), ["accepted"]);
    const next = solo.commitNextBlock()!;
    assert.equal(next.final.length, 0);
    assert.deepEqual(next.rejected.map((r) => r.code), ["MISSING_INPUT"]);
    assert.equal(pipeline.status(first.txid).state, "final");
    await pipeline.close();
    await state.close();
    const reopened = ShardState.open({ directory, genesis, shard: SHARD, flushIntervalBlocks: 1 });
    assert.equal(reopened.tip.height, 2, "the block with no applied transaction is kept");
    assert.equal(decodeBlock(reopened.getBlock(2)!).transactions.length, 0);
    assert.equal(reopened.getTransactionLocation(second.txid), undefined);
    assert.deepEqual(reopened.rejection(second.txid), { height: 1, code: "MISSING_INPUT" }, "a refusal by a final block is stored with it");
    assert.deepEqual(reopened.rejection(third.txid), { height: 2, code: "MISSING_INPUT" });
    assert.equal(reopened.rejection(first.txid), undefined);
    const restarted = pipelineOf(reopened);
    assert.deepEqual(restarted.status(second.txid), { state: "rejected", code: "MISSING_INPUT" }, "and answered after a restart");
    assert.equal(restarted.status(first.txid).state, "final");
    await restarted.close();
    await reopened.close();
  });

  it("answers accepted once a transaction is kept durably, and queues what was unsettled again after a restart", async () => {
    const { state, directory } = freshState();
    const pipeline = pipelineOf(state);
    const coins = genesisCoins(new Model(genesis));
    const [a, b] = [transfer(coins[0]!, mine[1]!, 10n), transfer(coins[1]!, mine[2]!, 20n)];
    assert.deepEqual(outcomes(await pipeline.submit([a.bytes, b.bytes])), ["accepted", "accepted"]);
    assert.deepEqual(state.acceptedTransactions().map(hex).sort(), [a, b].map((t) => hex(t.bytes)).sort(), "accepted means kept in the store");
    assert.equal(hex(soloOf(state, pipeline, { maxBlockTxs: 1 }).commitNextBlock()!.final), hex(a.txid));
    assert.ok(await keptBecomes(state, [b]), "a settled transaction leaves the kept set");
    await pipeline.close();
    await state.close();

    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    // A crash between a block's commit and the kept set's update leaves a final transaction kept.
    await reopened.keepAccepted([{ txid: a.txid, tx: a.bytes }]);
    const restarted = pipelineOf(reopened);
    const inTxidOrder = [a, b].sort((x, y) => Buffer.compare(x.txid, y.txid));
    assert.deepEqual(outcomes(await restarted.recoverAccepted()), inTxidOrder.map((t) => (t === a ? "duplicate" : "accepted")));
    assert.deepEqual(restarted.status(b.txid), { state: "pending" }, "the unsettled one is queued again");
    assert.ok(await keptBecomes(reopened, [b]), "the final one leaves the kept set");
    assert.equal(hex(soloOf(reopened, restarted).commitNextBlock()!.final), hex(b.txid));
    assert.ok(await keptBecomes(reopened, []), "and so does the other once final");
    assert.equal(codeOf(() => reopened.keepAccepted([{ txid: new Uint8Array(31), tx: a.bytes }])), "STORE_BAD_INPUT");
    await restarted.close();
    await reopened.close();
  });

  it("asks the store whether a transfer is final only when its first input is spent, and refuses a replayed final one, also after a restart", async () => {
    const { state, directory } = freshState();
    /** The store's transaction-location reads (the real method, counted). */
    const counted = (s: ShardState) => {
      const read = s.getTransactionLocation.bind(s);
      const reads = { count: 0 };
      s.getTransactionLocation = (txid) => (reads.count++, read(txid));
      return reads;
    };
    const reads = counted(state);
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const coins = genesisCoins(new Model(genesis));
    const t = transfer(coins[0]!, mine[1]!, 7n);
    assert.deepEqual(outcomes(await pipeline.submit([t.bytes])), ["accepted"]);
    assert.equal(reads.count, 0, "its input is unspent: it cannot be final");
    assert.equal(hex(solo.commitNextBlock()!.final), hex(t.txid));
    const replayed = await pipeline.submit([t.bytes]);
    assert.deepEqual(outcomes(replayed), ["duplicate"]);
    assert.deepEqual(replayed[0]!.status, { state: "final", height: 1, index: 0 });
    assert.equal(reads.count, 1, "its input is spent: the store answers");
    // Spending an output that never existed: not in the table either, so the store is asked (and knows nothing).
    const phantom = transfer({ ...coins[1]!, index: coins[1]!.index + 10_000 }, mine[2]!, 1n);
    assert.deepEqual(outcomes(await pipeline.verify([phantom.bytes])), ["accepted"]);
    assert.equal(reads.count, 2);
    await pipeline.close();
    await state.close();

    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    const restarted = pipelineOf(reopened);
    const again = await restarted.submit([t.bytes]);
    assert.deepEqual(outcomes(again), ["duplicate"]);
    assert.deepEqual(again[0]!.status, { state: "final", height: 1, index: 0 });
    assert.equal(soloOf(reopened, restarted).commitNextBlock(), undefined, "nothing re-entered the mempool");
    await restarted.close();
    await reopened.close();
  });

  it("keeps every final transaction and the UTXO set across a restart", async () => {
    const { state, directory } = freshState();
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const model = new Model(genesis);
    const transfers = genesisCoins(model).slice(0, 12).map((coin, i) => transfer(coin, mine[(i + 2) % mine.length]!, 13n));
    await pipeline.submit(transfers.slice(0, 6).map((t) => t.bytes));
    solo.commitNextBlock();
    await pipeline.submit(transfers.slice(6).map((t) => t.bytes));
    solo.commitNextBlock();
    for (const t of transfers) {
      model.spend(t.spent);
      for (const coin of t.created) model.add(coin);
    }
    await pipeline.close();
    await state.close();

    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    const restarted = pipelineOf(reopened);
    assert.equal(reopened.tip.height, 2);
    transfers.forEach((t, i) => assert.deepEqual(restarted.status(t.txid), { state: "final", height: i < 6 ? 1 : 2, index: i % 6 }));
    assertMatchesModel(reopened, model);
    assert.deepEqual(outcomes(await restarted.submit([transfers[0]!.bytes])), ["duplicate"]);
    await restarted.close();
    assert.deepEqual(outcomes(await restarted.submit([transfers[0]!.bytes])), ["rejected:PIPELINE_CLOSED"]);
    await reopened.close();
  });

  it("produces blocks on its own with the solo driver, in batches through the workers", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state, { batchTxs: 8 });
    const producer = soloOf(state, pipeline, { blockIntervalMs: 20, maxBlockTxs: 16 });
    const transfers = genesisCoins(new Model(genesis)).slice(0, 30).map((coin, i) => transfer(coin, mine[(i + 3) % mine.length]!, 17n));
    const waiting = new Set(transfers.map((t) => hex(t.txid)));
    const allFinal = new Promise<void>((resolve) => {
      pipeline.onSettled((event) => {
        for (const txid of finalsOf([event]).keys()) waiting.delete(txid);
        if (waiting.size === 0) resolve();
      });
    });
    producer.start();
    const results = await Promise.all([pipeline.submit(transfers.slice(0, 13).map((t) => t.bytes)), pipeline.submit(transfers.slice(13).map((t) => t.bytes))]);
    assert.deepEqual(outcomes(results.flat()), new Array(30).fill("accepted"));
    await allFinal;
    await producer.stop();
    assert.ok(state.tip.height >= 2, "16-transaction blocks: at least two of them");
    assert.equal(pipeline.metrics().finalized, 30);
    await pipeline.close();
    await state.close();
  });

  it("a solo stop lets in-flight batches land and commits everything accepted, then refuses submissions", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state, { batchTxs: 4 });
    // An interval no test waits for: only the stop commits.
    const producer = soloOf(state, pipeline, { blockIntervalMs: 60_000, maxBlockTxs: 4 });
    producer.start();
    const transfers = genesisCoins(new Model(genesis)).slice(0, 10).map((coin, i) => transfer(coin, mine[(i + 4) % mine.length]!, 19n));
    // Not awaited: the batches are still in the intake or a worker when the stop begins.
    const submitted = pipeline.submit(transfers.map((t) => t.bytes));
    await producer.stop();
    assert.deepEqual(outcomes(await submitted), new Array(10).fill("accepted"));
    for (const t of transfers) assert.equal(pipeline.status(t.txid).state, "final");
    assert.equal(state.tip.height, 3, "blocks of at most maxBlockTxs");
    assert.deepEqual([1, 2, 3].map((height) => decodeBlock(state.getBlock(height)!).transactions.length), [4, 4, 2]);
    assert.equal(pipeline.pendingCount, 0);
    assert.equal(pipeline.metrics().finalized, 10);
    await producer.stop();
    assert.deepEqual(outcomes(await producer.submit([transfers[0]!.bytes])), ["rejected:PIPELINE_CLOSED"]);
    await state.close();
  });

  it("refuses a batch whose worker task fails as a whole with that code, keeping no reservation", async () => {
    const { state } = freshState();
    const closedPool = new PiscinaVerifierPool({ threads: 1 });
    await closedPool.close();
    const pipeline = pipelineOf(state, { pool: closedPool });
    const coins = genesisCoins(new Model(genesis));
    const results = await pipeline.submit([transfer(coins[0]!, mine[1]!, 3n).bytes, transfer(coins[1]!, mine[1]!, 3n).bytes]);
    assert.deepEqual(outcomes(results), ["rejected:VERIFIER_POOL_CLOSED", "rejected:VERIFIER_POOL_CLOSED"]);
    assert.equal(pipeline.pendingCount, 0);
    assert.equal(pipeline.pendingBytes, 0);
    await pipeline.close();
    await state.close();
  });

  it("hands candidates to a consensus proposal without removing them and settles the block it committed", async () => {
    const { state, directory } = freshState();
    const pipeline = pipelineOf(state);
    const events = recordSettlements(pipeline);
    const coins = genesisCoins(new Model(genesis));
    const winner = transfer(coins[0]!, mine[1]!, 5n);
    const loser = transfer(coins[0]!, mine[2]!, 6n);
    const spare = transfer(coins[1]!, mine[2]!, 7n);
    await pipeline.submit([winner.bytes, loser.bytes, spare.bytes]);
    const candidates = pipeline.peek(2, 1 << 20);
    const proposal = candidates.map((entry) => entry.tx);
    assert.deepEqual(proposal.map(hex), [hex(winner.bytes), hex(loser.bytes)]);
    assert.deepEqual(candidates.map((entry) => hex(entry.txid)), [hex(winner.txid), hex(loser.txid)], "with their txids, in the same order");
    assert.equal(pipeline.mempoolCount, 3, "candidates stay in the mempool");
    const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: SHARD, epoch: 0, height: 1, prevHash: state.tip.hash, timestamp: 1, producer: validators[0]!.publicKey }, proposal);
    const bytes = encodeBlock(header, sealOptimistic(header, validators[0]!), proposal);
    const event = pipeline.settle(settlementOfCommit(state.commitBlock(bytes)));
    assert.equal(hex(event.final), hex(winner.txid));
    assert.deepEqual(event.rejected.map((r) => [hex(r.txid), r.code]), [[hex(loser.txid), "MISSING_INPUT"]]);
    assert.deepEqual(events, [event]);
    assert.deepEqual(pipeline.status(winner.txid), { state: "final", height: 1, index: 0 });
    assert.deepEqual(pipeline.status(loser.txid), { state: "rejected", code: "MISSING_INPUT" });
    assert.equal(pipeline.mempoolCount, 1);
    assert.equal(pipeline.pendingCount, 1);
    assert.equal(soloOf(state, pipeline).commitNextBlock()!.final.length, 32, "the spare one still makes the next block");
    assert.equal(codeOf(() => pipeline.settle({ height: 3, hash: new Uint8Array(32), final: new Uint8Array(31), rejected: [] })), "PIPELINE_BAD_INPUT");
    await pipeline.close();
    await state.close();
    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    const restarted = pipelineOf(reopened);
    assert.deepEqual(restarted.status(loser.txid), { state: "rejected", code: "MISSING_INPUT" }, "a received block's refusal survives a restart");
    await restarted.close();
    await reopened.close();
  });

  it("checks its options, and the solo driver its own", async () => {
    const { state } = freshState();
    for (const options of [{ maxPendingTxs: 0 }, { batchTxs: 1.5 }, { batchAgeMs: -1 }, { maxPendingBytes: Number.NaN }]) {
      assert.equal(codeOf(() => pipelineOf(state, options)), "PIPELINE_OPTIONS");
    }
    const pipeline = pipelineOf(state);
    assert.throws(() => pipeline.submit(["00" as unknown as Uint8Array]), (error: unknown) => error instanceof IosError && error.code === "PIPELINE_BAD_INPUT");
    assert.throws(() => pipeline.status(new Uint8Array(31)), (error: unknown) => error instanceof IosError && error.code === "PIPELINE_BAD_TXID");
    for (const options of [{ maxBlockTxs: 0 }, { maxBlockTxs: 1.5 }, { blockIntervalMs: 0 }]) assert.equal(codeOf(() => soloOf(state, pipeline, options)), "SOLO_OPTIONS");
    await state.close();
  });
});

describe("ShardState.assemble", () => {
  it("applies records from several parts, commits one durable block of the applied ones, and reopens to the same state", async () => {
    const { state, directory } = freshState();
    const coins = genesisCoins(new Model(genesis));
    const a = transfer(coins[0]!, mine[1]!, 3n);
    const b = transfer(coins[1]!, mine[2]!, 4n);
    const doubleSpend = transfer(coins[0]!, mine[3]!, 5n);
    const first = await pool.validateTransactions(packTransactions([a.bytes]), SHARD, SHARD_COUNT);
    const second = await pool.validateTransactions(packTransactions([b.bytes, doubleSpend.bytes]), SHARD, SHARD_COUNT);
    const genesisTip = state.tip.hash;
    const assembly = state.assemble();
    assert.deepEqual([...assembly.apply(first.records, first.count)], [0]);
    assert.deepEqual([...assembly.apply(second.records, second.count)].map((s) => s === 0), [true, false], "the second spend of coin 0 fails");
    // Nothing interleaves with a block being assembled.
    assert.equal(codeOf(() => state.flush()), "STATE_STAGED");
    assert.equal(codeOf(() => state.assemble()), "STATE_STAGED");
    let slotSeen: BlockSlot | undefined;
    const committed = assembly.commit((slot) => {
      slotSeen = slot;
      return soloBlock(slot, [a.bytes, b.bytes], new Uint8Array(64).fill(7));
    });
    assert.deepEqual({ height: slotSeen!.height, prevHash: hex(slotSeen!.prevHash), applied: slotSeen!.applied }, { height: 1, prevHash: hex(genesisTip), applied: 2 }, "the slot follows the tip and counts the applied records of both parts");
    assert.deepEqual({ height: committed.height, applied: committed.applied }, { height: 1, applied: 2 });
    assert.equal(state.getTransactionLocation(b.txid)?.position, 1);
    assert.equal(hex(state.consensusStateAt()!), hex(new Uint8Array(64).fill(7)));
    const next = state.assemble();
    assert.equal(next.commit((slot) => soloBlock(slot, [])).height, 2, "after the commit the next assembly starts");
    const supply = state.supply;
    const tipTime = state.tipTimestamp;
    assert.equal(tipTime, decodeBlock(state.getBlock(2)!).header.timestamp, "the tip's time is the last committed block's");
    await state.close();
    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    assert.equal(reopened.tip.height, 2);
    assert.equal(reopened.tipTimestamp, tipTime, "and survives a reopen");
    assert.equal(reopened.supply, supply);
    assert.equal(hex(reopened.consensusStateAt(1)!), hex(new Uint8Array(64).fill(7)));
    assert.equal(reopened.consensusStateAt(2), undefined, "block 2 stored no consensus record");
    assert.equal(reopened.getUtxo(coins[0]!.txid, coins[0]!.index), undefined);
    await reopened.close();
  });

  it("a failed apply leaves the state failed (STATE_FAILED), not stuck with an open assembly", async () => {
    const { state } = freshState();
    const assembly = state.assemble();
    assert.equal(codeOf(() => assembly.apply(new Uint8Array(0), -1)), "UTXO_BAD_INPUT");
    assert.equal(codeOf(() => state.assemble()), "STATE_FAILED");
    assert.equal(codeOf(() => assembly.commit((slot) => soloBlock(slot, []))), "STATE_FAILED");
    await state.close();
  });

  it("commits an empty assembly as an empty block at tip + 1", async () => {
    const { state, directory } = freshState();
    const utxos = state.utxoCount;
    const committed = state.assemble().commit((slot) => {
      assert.equal(slot.applied, 0);
      return soloBlock(slot, []);
    });
    assert.deepEqual({ height: committed.height, applied: committed.applied }, { height: 1, applied: 0 });
    assert.equal(hex(state.tip.hash), hex(committed.hash));
    assert.equal(decodeBlock(state.getBlock(1)!).transactions.length, 0);
    assert.equal(state.utxoCount, utxos);
    await state.close();
    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    assert.equal(reopened.tip.height, 1, "the empty block is durable");
    await reopened.close();
  });

  it("a commit of the wrong count fails the state; applied records never reach the flushed set", async () => {
    const { state, directory } = freshState();
    const coins = genesisCoins(new Model(genesis));
    const validated = await pool.validateTransactions(packTransactions([transfer(coins[0]!, mine[1]!, 3n).bytes]), SHARD, SHARD_COUNT);
    state.assemble().apply(validated.records, validated.count);
    await state.close();
    const reopened = ShardState.open({ directory, genesis, shard: SHARD });
    assert.equal(reopened.tip.height, 0);
    assert.ok(reopened.getUtxo(coins[0]!.txid, coins[0]!.index) !== undefined, "the uncommitted spend was not flushed at close");
    const assembly = reopened.assemble();
    assembly.apply(validated.records, validated.count);
    assert.equal(codeOf(() => assembly.commit(() => ({ bytes: new Uint8Array(1), hash: new Uint8Array(32), txids: new Uint8Array(0) }))), "STATE_TX_COUNT_MISMATCH");
    assert.equal(codeOf(() => reopened.assemble()), "STATE_FAILED");
    await reopened.close();
  });

  it("a block builder that throws marks the state failed; the solo driver puts its transactions back", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state);
    const solo = soloOf(state, pipeline);
    const coins = genesisCoins(new Model(genesis));
    await pipeline.submit([transfer(coins[0]!, mine[1]!, 3n).bytes]);
    const validated = await pool.validateTransactions(packTransactions([transfer(coins[1]!, mine[1]!, 3n).bytes]), SHARD, SHARD_COUNT);
    const assembly = state.assemble();
    assembly.apply(validated.records, validated.count);
    assert.throws(() => assembly.commit(() => { throw new Error("the builder broke"); }), /the builder broke/);
    assert.equal(state.tip.height, 0, "nothing was appended");
    assert.equal(codeOf(() => state.assemble()), "STATE_FAILED");
    assert.equal(codeOf(() => state.commitBlock(new Uint8Array(0))), "STATE_FAILED");
    assert.equal(codeOf(() => solo.commitNextBlock()), "STATE_FAILED");
    assert.equal(pipeline.mempoolCount, 1, "the accepted transaction is kept for a reopened state");
    assert.equal(pipeline.pendingCount, 1);
    await pipeline.close();
    await state.close();
  });
});

describe("the pipeline's taken transactions (PoB's producer)", () => {
  it("take keeps transactions pending and reserved until settled or refused, with events for each", async () => {
    const { state } = freshState();
    const pipeline = pipelineOf(state);
    const events = recordSettlements(pipeline);
    const coins = genesisCoins(new Model(genesis));
    const txs = [0, 1, 2].map((i) => transfer(coins[i]!, mine[5]!, 2n));
    await pipeline.submit(txs.map((t) => t.bytes));
    const taken = pipeline.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    assert.equal(taken.length, 3);
    assert.equal(pipeline.mempoolCount, 0);
    assert.equal(pipeline.pendingCount, 3);
    for (const t of txs) assert.deepEqual(pipeline.status(t.txid), { state: "pending" });
    const again = await pipeline.submit([txs[0]!.bytes]);
    assert.equal(again[0]!.outcome, "duplicate");
    pipeline.refuse([{ entry: taken[2]!, code: "POB_DOUBLE_SPEND_PENDING" }]);
    assert.deepEqual(pipeline.status(taken[2]!.txid), { state: "rejected", code: "POB_DOUBLE_SPEND_PENDING" });
    assert.equal(pipeline.pendingCount, 2);
    const final = new Uint8Array(64);
    final.set(taken[0]!.txid, 0);
    final.set(taken[1]!.txid, 32);
    pipeline.settle({ height: 1, hash: new Uint8Array(32), final, rejected: [] });
    assert.equal(pipeline.pendingCount, 0);
    assert.deepEqual(events.map((e) => [e.final.length / 32, e.rejected.map((r) => r.code)]), [[0, ["POB_DOUBLE_SPEND_PENDING"]], [2, []]]);
    assert.equal(codeOf(() => pipeline.settle({ height: 2, hash: new Uint8Array(32), final: new Uint8Array(31), rejected: [] })), "PIPELINE_BAD_INPUT");
    await pipeline.close();
    await state.close();
  });
});
