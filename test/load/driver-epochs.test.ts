// The driver across epoch switches (issue 14): two validators A and B over two real shards (LMDB
// state, worker pool, pipeline, solo block producer every 50 ms each). A validator serves one
// shard per epoch and the test switches them mid-run (A 0 → 1, B 1 → 0), as ValidatorNode
// #enterLatest does: from then on its /v1/status reports the new shard and epoch, its stream
// carries the new shard's confirmations, a submission goes to the new shard's pipeline (whose
// stateless check refuses the old shard's transactions with TX_WRONG_SHARD) and what it held for
// the shard it left is gone. In epoch 0 A holds what it accepts without passing it on (a driver
// stopped at the switch drops it), so those transactions settle only if the driver sends them
// again to B.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { ChainView, ClientBackend, MetricFamily, SubmitResult, TxStatus } from "../../src/api/interface.js";
import type { ConfirmationBatch, OptimisticBatch } from "../../src/api/stream-codec.js";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, decodeTransaction, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { MAX_RETRIES } from "../../src/api/errors.js";
import { runLoad, type DriverOptions, type LoadRun } from "../../src/load/driver.js";
import type { LoadReport } from "../../src/load/report.js";
import { LoadSet, generateLoad } from "../../src/load/workload.js";
import { TestShard, hex, serveApi, until } from "../api/helpers.js";

const made = makeTestGenesis({ seed: "driver epochs test", shardCount: 2, accounts: 96, amount: 1_000_000n, outputsPerAccount: 2, validators: 2 });
const [keyA, keyB] = made.validators.map((v) => v.publicKey) as [Uint8Array, Uint8Array];

/** One validator's client backend: the shard it serves now, and whether it holds (drops at the switch) what it accepts. */
class SwitchingBackend implements ClientBackend {
  readonly shardCount = 2;
  epoch = 0;
  /** Reported as `decidingEpoch` when set: the epoch of the heights it decides (the next one's in a TransEpoch opening). */
  decidingEpoch: number | undefined;
  /** Hex txids it accepted and held without passing them to a pipeline. */
  readonly held: string[] = [];
  /** Hex txids it answers "accepted" but keeps from its pipeline until `releaseWithheld` (a validator that sits on them). */
  readonly withholding = new Set<string>();
  readonly #withheld: Uint8Array[] = [];
  /** Transactions submitted to it so far, and answered. */
  received = 0;
  answered = 0;
  /** While set, a submission waits for it, then goes to the shard served by then (a node's submit waits for its switch). */
  gate: Promise<void> | undefined;
  readonly #listeners = new Set<(batch: ConfirmationBatch) => void>();

  constructor(
    readonly publicKey: Uint8Array,
    public serving: TestShard,
    public holding: boolean,
    shards: readonly TestShard[],
  ) {
    // The node's listeners outlive its drivers: each epoch's shard feeds them (src/node/validator.ts Listeners).
    for (const shard of shards) {
      shard.pipeline.onSettled((batch) => {
        if (shard === this.serving) for (const listener of this.#listeners) listener(batch);
      });
    }
  }

  get shard(): number {
    return this.serving.state.shard;
  }

  get chain(): ChainView {
    return this.serving.state;
  }

  /** Enters `epoch` serving `shard`; what it held for the shard it left is dropped. */
  switchTo(shard: TestShard, epoch: number, holding = false): void {
    this.serving = shard;
    this.epoch = epoch;
    this.holding = holding;
  }

  async submit(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    this.received += transactions.length;
    if (this.gate !== undefined) await this.gate;
    const results = await this.#answer(transactions);
    this.answered += results.length;
    return results;
  }

  /** Passes what it withheld to its pipeline; the pipeline's answers. */
  releaseWithheld(): Promise<SubmitResult[]> {
    return this.serving.pipeline.submit(this.#withheld.splice(0));
  }

  async #answer(transactions: readonly Uint8Array[]): Promise<SubmitResult[]> {
    if (this.withholding.size > 0) {
      const passed = transactions.filter((tx) => !this.withholding.has(hex(transactionIdOfEncoding(tx))));
      this.#withheld.push(...transactions.filter((tx) => this.withholding.has(hex(transactionIdOfEncoding(tx)))));
      const answers = await this.serving.pipeline.submit(passed);
      return transactions.map((tx) => (this.withholding.has(hex(transactionIdOfEncoding(tx))) ? { outcome: "accepted", txid: transactionIdOfEncoding(tx) } : answers.shift()!));
    }
    if (!this.holding) return this.serving.pipeline.submit(transactions);
    return transactions.map((tx) => {
      const txid = transactionIdOfEncoding(tx);
      this.held.push(hex(txid));
      return { outcome: "accepted", txid };
    });
  }

  status(txid: Uint8Array): TxStatus {
    return this.serving.status(txid);
  }

  onConfirmations(listener: (batch: ConfirmationBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  onOptimistic(_listener: (batch: OptimisticBatch) => void): () => void {
    return () => undefined;
  }

  nodeStatus(): Record<string, unknown> {
    return { publicKey: hex(this.publicKey), consensus: { mode: "solo" }, ...(this.decidingEpoch === undefined ? {} : { decidingEpoch: this.decidingEpoch }) };
  }

  metrics(): MetricFamily[] {
    return [];
  }
}

/**
 * A serves shard 0 and B shard 1 in epoch 0, each behind a real API server, over two fresh shards in a temporary directory
 * (`blockMs`: each shard's solo producer interval; none: the test commits). `prepare` runs on the shards before the servers
 * start; `close` stops everything and removes the directory.
 */
async function servePair(name: string, options: { readonly blockMs?: number; readonly holding: boolean; readonly prepare?: (shards: [TestShard, TestShard]) => Promise<void> }) {
  const dir = await mkdtemp(join(tmpdir(), `ios-driver-${name}-`));
  const shards = [0, 1].map((shard) => TestShard.open(made.genesis, shard, made.validators[shard]!, join(dir, `data-${shard}`), options.blockMs)) as [TestShard, TestShard];
  await options.prepare?.(shards);
  const a = new SwitchingBackend(keyA, shards[0], options.holding, shards);
  const b = new SwitchingBackend(keyB, shards[1], false, shards);
  const servers = [await serveApi(a), await serveApi(b)];
  const endpoints = servers.map((server) => `ws://127.0.0.1:${server.port}/v1/stream`);
  const close = async (): Promise<void> => {
    for (const server of servers) server.close();
    for (const shard of shards) await shard.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { shards, a, b, endpoints, close };
}

/** Commits a block on each of `shards` every 20 ms until `running` ends, and returns its run. */
async function producingUntil(running: Promise<LoadRun>, shards: readonly TestShard[]): Promise<LoadRun> {
  const producer = setInterval(() => {
    for (const shard of shards) shard.solo.commitNextBlock();
  }, 20);
  return running.finally(() => clearInterval(producer));
}

/**
 * The run settled with exactly the refusals `rejectedByCode` counts (default none), and the report's counts of its
 * `count` transactions add up: each one submitted once, settled once, however often it was resent.
 */
function assertSettled({ report, end }: LoadRun, count: number, rejectedByCode: Record<string, number> = {}): void {
  assert.equal(end, "settled");
  assert.deepEqual(report.metrics.rejectedByCode, rejectedByCode);
  const t = report.metrics.totals;
  assert.equal(t.submitted, count, "a resend is not a submission");
  assert.equal(t.unsettled, 0);
  assert.equal(t.final + t.rejected, count, "submitted = final + rejected + unsettled");
  assert.equal(t.submitted, t.accepted + t.rejectedAtSubmission + t.unacknowledged);
  assert.equal(t.accepted, t.final + t.rejectedAfterAcceptance + t.pending);
  assert.equal(t.rejected, Object.values(report.metrics.rejectedByCode).reduce((a, b) => a + b, 0));
  assert.equal(t.resent, Object.values(report.metrics.resentByCause).reduce((a, b) => a + b, 0));
  assert.equal(report.metrics.latency.final.count, t.final, "each final counted once");
  assert.equal(report.metrics.series.final.reduce((a, b) => a + b, 0), t.final);
  assert.equal(report.metrics.series.submitted.reduce((a, b) => a + b, 0), t.submitted, "a resend is not a submission");
  for (const key of ["submitted", "final", "resent"] as const) {
    assert.equal(report.metrics.shards.reduce((sum, s) => sum + s[key], 0), t[key], `per-shard ${key} sums to the total`);
  }
}

/** Every transaction of `set` is final in the shard it belongs to. */
function assertFinalInItsShard(set: LoadSet, shards: readonly TestShard[]): void {
  for (let position = 0; position < set.count; position++) {
    assert.equal(shards[set.shard(position)]!.pipeline.status(set.txid(position)).state, "final", `transaction ${position} is final in shard ${set.shard(position)}`);
  }
}

type Pair = Awaited<ReturnType<typeof servePair>>;

describe("runLoad across epoch switches", () => {
  let pair: Pair;
  let accountsUsed = 0;

  before(async () => {
    pair = await servePair("epochs", { blockMs: 50, holding: true });
  });

  beforeEach(() => {
    pair.a.switchTo(pair.shards[0], 0, true);
    pair.b.switchTo(pair.shards[1], 0);
    pair.a.held.length = 0;
  });

  after(() => pair.close());

  async function freshSet(count: number, seed: string): Promise<LoadSet> {
    const accounts = made.accounts.slice(accountsUsed, accountsUsed + 24);
    accountsUsed += 24;
    return generateLoad({ genesis: made.genesis, accounts, count, seed, fee: 1n, threads: 2 });
  }

  /**
   * Runs the load of `set` and, once A holds `heldAtSwitch` transactions, enters epoch 1: A serves shard 1, B shard 0.
   * The run settles with nothing refused and every transaction final in its shard.
   */
  async function settledAcrossSwitch(set: LoadSet, options: Omit<DriverOptions, "set" | "endpoints">, heldAtSwitch: number): Promise<{ report: LoadReport; held: Set<string> }> {
    const { a, b, shards, endpoints } = pair;
    const running = runLoad({ ...options, set, endpoints });
    const held = await until(() => (a.held.length >= heldAtSwitch ? new Set(a.held) : undefined), `A to hold ${heldAtSwitch} transactions`, 30_000);
    a.switchTo(shards[1], 1);
    b.switchTo(shards[0], 1);
    const run = await running;
    assertSettled(run, set.count);
    assert.equal(run.report.metrics.totals.final, set.count);
    assertFinalInItsShard(set, shards);
    return { report: run.report, held };
  }

  it("follows a switch seen by polling: routes change shard, what the leaving validator held is sent again to the shard's new one, counts add up", async () => {
    const { endpoints } = pair;
    const { report, held } = await settledAcrossSwitch(await freshSet(300, "epochs poll"), { mode: { kind: "closed-loop", window: 60 }, durationMs: 60_000, drainTimeoutMs: 30_000, statusPollMs: 50 }, 20);
    const t = report.metrics.totals;
    // Every transaction A held was open when A left shard 0: each went again to B, once.
    assert.ok(held.size >= 20);
    assert.ok((report.metrics.resentByCause.ENDPOINT_LEFT_SHARD ?? 0) >= held.size, `resent ${JSON.stringify(report.metrics.resentByCause)} for ${held.size} held`);
    assert.ok(t.resent >= held.size);
    const { epochs } = report.run;
    assert.equal(epochs.first, 0);
    assert.equal(epochs.last, 1);
    assert.deepEqual(
      epochs.switches.map(({ endpoint, fromEpoch, toEpoch, fromShard, toShard }) => ({ endpoint, fromEpoch, toEpoch, fromShard, toShard })).sort((x, y) => (x.endpoint < y.endpoint ? -1 : 1)),
      [
        { endpoint: endpoints[0], fromEpoch: 0, toEpoch: 1, fromShard: 0, toShard: 1 },
        { endpoint: endpoints[1], fromEpoch: 0, toEpoch: 1, fromShard: 1, toShard: 0 },
      ].sort((x, y) => (x.endpoint! < y.endpoint! ? -1 : 1)),
    );
    assert.ok(epochs.routeRebuilds >= 1);
    assert.deepEqual(report.run.consensus, ["solo", "solo"]);
  });

  it("learns a switch from a not-my-shard refusal when it does not poll, and sends the refused transactions again", async () => {
    // No poll within the run: only a retryable refusal makes the driver read the statuses again.
    const { report, held } = await settledAcrossSwitch(await freshSet(300, "epochs refusal"), { mode: { kind: "open-loop", rate: 400 }, durationMs: 60_000, drainTimeoutMs: 30_000, statusPollMs: 600_000 }, 20);
    assert.ok((report.metrics.resentByCause.TX_WRONG_SHARD ?? 0) > 0, `resent ${JSON.stringify(report.metrics.resentByCause)}`);
    assert.ok((report.metrics.resentByCause.ENDPOINT_LEFT_SHARD ?? 0) >= held.size);
    assert.equal(report.run.epochs.last, 1);
  });

  it("gives up on a transaction every validator of its shard refuses as not theirs after MAX_RETRIES resends: rejected by that code", async () => {
    pair.a.switchTo(pair.shards[0], 0, false);
    const clean = await freshSet(40, "epochs mislabelled");
    // The last transaction of the set claims the other shard: that shard's validator refuses it each time.
    const last = clean.count - 1;
    const labels = clean.shards.slice();
    labels[last] = 1 - labels[last]!;
    const set = new LoadSet(clean.header, clean.bytes, clean.offsets, labels, clean.txids().slice());
    const run = await runLoad({ set, endpoints: pair.endpoints, mode: { kind: "closed-loop", window: 10 }, durationMs: 60_000, drainTimeoutMs: 30_000, statusPollMs: 600_000 });
    assertSettled(run, 40, { TX_WRONG_SHARD: 1 });
    assert.deepEqual(run.report.metrics.resentByCause, { TX_WRONG_SHARD: MAX_RETRIES });
    assert.equal(run.report.metrics.totals.final, 39);
  });
});

describe("runLoad across an epoch switch, step by step", () => {
  let pair: Pair;

  before(async () => {
    // No block producer: the test commits, so nothing is final before it says so.
    pair = await servePair("epochs-steps", { holding: false });
  });

  after(() => pair.close());

  it("sends every open transaction of a validator that left its shard again exactly once: stale acks are ignored, a duplicate answer keeps it open until final", async () => {
    const { a, b, shards, endpoints } = pair;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 24), count: 40, seed: "epochs steps", fee: 1n, threads: 2 });
    const ofShard = [set.indexesOfShard(0).length, set.indexesOfShard(1).length];
    assert.ok(ofShard[0]! > 0 && ofShard[1]! > 0);
    let openGate!: () => void;
    a.gate = new Promise((resolve) => (openGate = resolve));
    const running = runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 40 }, durationMs: 60_000, drainTimeoutMs: 30_000, statusPollMs: 50 });
    // Epoch 0: shard 1's transactions wait in B's pipeline, shard 0's in flight to A (no ack yet).
    await until(() => (a.received === ofShard[0] && shards[1].pipeline.pendingCount === ofShard[1] ? true : undefined), "every transaction at its validator");
    // Epoch 1: A serves shard 1, B shard 0. A's frames in flight will be answered by shard 1 (TX_WRONG_SHARD): stale, since the driver sends them to B.
    a.switchTo(shards[1], 1);
    b.switchTo(shards[0], 1);
    await until(() => (shards[0].pipeline.pendingCount === ofShard[0] ? true : undefined), "shard 0's transactions sent again to B");
    openGate();
    a.gate = undefined;
    // B's shard 1 transactions went again to A: shard 1 already holds them (duplicate), so they stay open until final.
    await until(() => (a.answered === ofShard[0]! + ofShard[1]! ? true : undefined), "shard 1's transactions sent again to A, and answered");
    const run = await producingUntil(running, shards);
    assertSettled(run, 40);
    const { report } = run;
    assert.deepEqual(report.metrics.resentByCause, { ENDPOINT_LEFT_SHARD: 40 });
    assert.deepEqual(report.metrics.shards.map((s) => s.resent), ofShard);
    assert.equal(report.metrics.totals.accepted, 40);
    assertFinalInItsShard(set, shards);
  });

  it("settles a resent transaction that the shard's new validator already holds final (its block was announced to no endpoint) by reading its status", async () => {
    // Epoch 1 as the previous test left it: A serves shard 1, B shard 0.
    const { a, b, shards, endpoints } = pair;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(24, 48), count: 30, seed: "epochs unannounced", fee: 1n, threads: 2 });
    const ofShard = [set.indexesOfShard(0).length, set.indexesOfShard(1).length];
    assert.ok(ofShard[0]! > 0 && ofShard[1]! > 0);
    const pendingBefore = shards.map((shard) => shard.pipeline.pendingCount);
    const answeredBefore = [a.answered, b.answered];
    const running = runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 30 }, durationMs: 60_000, drainTimeoutMs: 10_000, statusPollMs: 50 });
    await until(() => (shards.every((shard, i) => shard.pipeline.pendingCount === pendingBefore[i]! + ofShard[i]!) ? true : undefined), "every transaction pending at its validator");
    // Epoch 2: A serves shard 0 too; shard 1's block is final while no validator tells a client.
    a.switchTo(shards[0], 2);
    await until(() => {
      shards[1].solo.commitNextBlock();
      return set.indexesOfShard(1).every((position) => shards[1].pipeline.status(set.txid(position)).state === "final") ? true : undefined;
    }, "shard 1's transactions final");
    await new Promise((resolve) => setTimeout(resolve, 200));
    // B enters epoch 2 serving shard 1: A's shard 1 transactions go to B, which holds them final (duplicate), and B's shard 0 ones to A (pending there).
    b.switchTo(shards[1], 2);
    const total = set.count;
    await until(() => (a.answered === answeredBefore[0]! + total && b.answered === answeredBefore[1]! + total ? true : undefined), "each transaction sent once more, and answered");
    const run = await producingUntil(running, [shards[0]]);
    assertSettled(run, 30);
    const { report } = run;
    assert.deepEqual(report.metrics.resentByCause, { ENDPOINT_LEFT_SHARD: 30 });
    assert.equal(report.metrics.totals.final, 30);
    assert.deepEqual(report.run.epochs.switches.map((s) => [s.fromEpoch, s.toEpoch, s.fromShard, s.toShard]).sort(), [[1, 2, 0, 1], [1, 2, 1, 0]]);
  });
});

/** L of the runs with an epoch length: epoch e holds heights 30e + 1 .. 30e + 30 (src/node/sync/interface.ts epochOfHeight). */
const EPOCH_LENGTH = 30;

/** Commits one block of one genesis spend of `account`'s output `index` (to itself, fee 1) on `shard`. */
async function commitSpend(shard: TestShard, index: number): Promise<void> {
  const output = made.genesis.outputs[index]!;
  const payer = made.accounts.find((account) => hex(account.publicKey) === hex(output.owner))!;
  const { transaction } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: genesisTxid(made.genesis), index, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: output.amount - 1n }] }, [payer]);
  const [result] = await shard.pipeline.submit([encodeTransaction(transaction)]);
  assert.equal(result!.outcome, "accepted");
  assert.ok(shard.solo.commitNextBlock() !== undefined);
}

/**
 * A pair (A on shard 0, B on shard 1, epoch 0) whose shards are both at epoch 0's last height: one block per genesis output of
 * accounts no load uses. `finalsAt[shard]` collects, per height after it, the final transactions of each height that made some.
 */
function pairAtEpochEnd(name: string, finalsAt: readonly [Map<number, number>, Map<number, number>]): Promise<Pair> {
  return servePair(name, {
    holding: false,
    prepare: async (shards) => {
      const reserved = new Set(made.accounts.slice(0, 48).map((account) => hex(account.publicKey)));
      for (const [i, shard] of shards.entries()) {
        const outputs = made.genesis.outputs.flatMap((output, index) => (reserved.has(hex(output.owner)) && shardOfOwner(output.owner, 2) === i ? [index] : []));
        assert.ok(outputs.length >= EPOCH_LENGTH);
        for (const index of outputs.slice(0, EPOCH_LENGTH)) await commitSpend(shard, index);
        assert.equal(shard.state.tip.height, EPOCH_LENGTH);
        shard.pipeline.onSettled((batch) => {
          if (batch.final.length > 0) finalsAt[i]!.set(batch.height, batch.final.length / 32);
        });
      }
    },
  });
}

describe("runLoad with the genesis epoch length: an event's height names its epoch", () => {
  let pair: Pair;
  /** Per shard: final transactions of each height of epoch 1 that made some final (what its validators announced). */
  const finalsAt: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];

  before(async () => {
    pair = await pairAtEpochEnd("epochs-length", finalsAt);
  });

  after(() => pair.close());

  it("learns a switch from the first event of the next epoch, without polling or refusals, and counts each height for the shard its endpoint served then", async () => {
    const { a, b, shards, endpoints } = pair;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(48, 72), count: 60, seed: "epochs length", fee: 1n, threads: 2 });
    const running = runLoad({ set, endpoints, epochLength: EPOCH_LENGTH, mode: { kind: "closed-loop", window: 30 }, durationMs: 60_000, drainTimeoutMs: 30_000, statusPollMs: 600_000 });
    // Epoch 0 ends with the window sent and pending; nothing more goes out before a final confirmation.
    await until(() => (a.answered + b.answered === 30 ? true : undefined), "the first 30 transactions at their validators");
    // Epoch 1: A serves shard 1, B shard 0; their next events are of heights L + 1.. .
    a.switchTo(shards[1], 1);
    b.switchTo(shards[0], 1);
    const run = await producingUntil(running, shards);
    assertSettled(run, 60);
    const { report } = run;
    // The driver learnt the switch from heights: no transaction went to a validator that no longer served its shard.
    assert.deepEqual(Object.keys(report.metrics.resentByCause).filter((cause) => cause !== "ENDPOINT_LEFT_SHARD"), []);
    assert.equal(report.run.epochs.switches.length, 2);
    assert.equal(report.run.epochs.last, 1);
    // Each shard's heights as its validators announced them, every one from the endpoint that served it in epoch 1.
    report.metrics.shards.forEach((summary, shard) => {
      const heights = [...finalsAt[shard]!.values()];
      assert.equal(summary.heights, heights.length, `shard ${shard}'s heights`);
      assert.equal(summary.txPerHeight, Math.round((heights.reduce((x, y) => x + y, 0) / heights.length) * 1000) / 1000, `shard ${shard}'s transactions per height`);
    });
  });
});

describe("runLoad with the genesis epoch length, across a TransEpoch opening", () => {
  let pair: Pair;
  const finalsAt: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];

  before(async () => {
    pair = await pairAtEpochEnd("epochs-opening", finalsAt);
  });

  after(() => pair.close());

  it("confirms at once the next epoch's heights an endpoint decides in its opening (status epoch 0, decidingEpoch 1): no switch, no resend", async () => {
    const { a, b, shards, endpoints } = pair;
    // Both run epoch 1's opening on their epoch-0 shards: heights L + 1.. are epoch 1's, configuration 1 is not made yet.
    a.decidingEpoch = 1;
    b.decidingEpoch = 1;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(72, 96), count: 60, seed: "epochs opening", fee: 1n, threads: 2 });
    // The status is read once, at the start: a confirmation held until a status shows epoch 1 would wait forever (no drain).
    const running = runLoad({ set, endpoints, epochLength: EPOCH_LENGTH, mode: { kind: "closed-loop", window: 30 }, durationMs: 60_000, drainTimeoutMs: 10_000, statusPollMs: 600_000 });
    const run = await producingUntil(running, shards);
    assertSettled(run, 60);
    assertFinalInItsShard(set, shards);
    assert.deepEqual(run.report.metrics.resentByCause, {});
    assert.deepEqual(run.report.run.epochs.switches, []);
    // Every height is counted for the shard its endpoint decides it for.
    run.report.metrics.shards.forEach((summary, shard) => {
      assert.ok([...finalsAt[shard]!.keys()].every((height) => height > EPOCH_LENGTH));
      assert.equal(summary.heights, finalsAt[shard]!.size, `shard ${shard}'s heights`);
    });
  });

  it("refuses, before submitting, an endpoint whose status claims to decide an epoch other than its own or the next", async () => {
    const { a, endpoints } = pair;
    a.decidingEpoch = 5;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(72, 74), count: 2, seed: "epochs opening bad", fee: 1n, threads: 1 });
    try {
      await assert.rejects(runLoad({ set, endpoints, epochLength: EPOCH_LENGTH, mode: { kind: "closed-loop", window: 2 }, durationMs: 1000 }), /LOAD_CONNECT_FAILED: .*reports a decidingEpoch other than its epoch or the next/);
    } finally {
      a.decidingEpoch = undefined;
    }
  });
});

describe("runLoad when a transfer reaches its shard before the transfer it spends", () => {
  let pair: Pair;

  before(async () => {
    pair = await servePair("parent-late", { blockMs: 50, holding: false });
  });

  after(() => pair.close());

  it("sends a transfer refused MISSING_INPUT again once its still-open parent is final, instead of counting a rejection", async () => {
    const { a, b, shards, endpoints } = pair;
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts.slice(0, 8), count: 40, seed: "parent late", fee: 1n, threads: 2 });
    // The first transfer of the set is held back by its validator (accepted, not passed on): what spends its output arrives first.
    const parent = 0;
    const children = Array.from({ length: set.count }, (_, position) => position).filter((position) => hex(decodeTransaction(set.tx(position)).inputs[0]!.txid) === hex(set.txid(parent)));
    assert.ok(children.length >= 1, "the set spends the first transfer's output");
    const validator = set.shard(parent) === 0 ? a : b;
    validator.withholding.add(hex(set.txid(parent)));
    const missingInputs = (): number => shards[set.shard(parent)]!.pipeline.metrics().rejected.MISSING_INPUT ?? 0;
    const refusedBefore = missingInputs();
    const running = runLoad({ set, endpoints, mode: { kind: "open-loop", rate: 400 }, durationMs: 10_000, drainTimeoutMs: 20_000, statusPollMs: 600_000 });
    // The child was refused for its missing input while the parent is still open at the driver; then the parent goes on.
    await until(() => (missingInputs() > refusedBefore ? true : undefined), "the child refused MISSING_INPUT");
    validator.withholding.clear();
    assert.deepEqual((await validator.releaseWithheld()).map((answer) => answer.outcome), ["accepted"]);
    const run = await running;
    assertSettled(run, set.count);
    assertFinalInItsShard(set, shards);
    assert.ok((run.report.metrics.resentByCause.MISSING_INPUT ?? 0) >= 1, `resent: ${JSON.stringify(run.report.metrics.resentByCause)}`);
  });
});
