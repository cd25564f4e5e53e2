// `ios load --cross-shard 0.5` over real processes (issue 13): a 2-shard Proof-of-Believability
// devnet (8 `ios node` processes) driven by the load harness with half of its transfers paying
// across shards (lock, proof, unlock-to-commit; each transfer has one input shard, whose lock
// settles it there, so the unlock goes to the other shard). Counts must add up, and every account's balance
// on the nodes must match an independent replay of every final block of both shards by a model
// ledger written here from the white paper's rules (transfer, lock, commit, abort).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { runDevnetLoad } from "../../src/devnet/session.js";
import { genesisSupply, genesisTxid } from "../../src/ledger/genesis.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { crossShardTransferKind, decodeUnsignedCrossShardTransfer } from "../../src/ledger/kinds/atomix.js";
import { decodeAtomixUnlock } from "../../src/ledger/kinds/atomix-unlock.js";
import { decodeAtomixUnlockBatch } from "../../src/ledger/kinds/atomix-unlock-batch.js";
import { transferKind } from "../../src/ledger/kinds/transfer.js";
import { kindOfTransaction, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { sha256 } from "../../src/crypto/sha256.js";
import type { LoadReport } from "../../src/load/report.js";
import { keepingOnFailure } from "../support/artifacts.js";

const root = mkdtempSync(join(tmpdir(), "ios-cross-load-"));
let devnet: Devnet | undefined;
after(async () => {
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

const SHARDS = 2;
const TRANSFERS = 300;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const outpoint = (txid: Uint8Array, index: number) => `${hex(txid)}:${index}`;

/**
 * The model: per shard, outpoint → (owner, amount), locked outputs apart. Applies what a final
 * block included, as the white paper says each kind does in the applying shard.
 */
class ModelShard {
  readonly unspent = new Map<string, { owner: string; amount: bigint }>();
  readonly locked = new Map<string, { owner: string; amount: bigint }>();
  /** Locks that settled their transfer (every input here). */
  settled = 0;
  /** Transfers committed here by unlock-to-commit batches, and by single unlocks. */
  batched = 0;
  unlocked = 0;
  /** The height of each settling lock (txid hex), and the spends of their outputs final at that same height. */
  readonly settledAt = new Map<string, number>();
  spentAtLockHeight = 0;
  constructor(readonly shard: number) {}

  apply(tx: Uint8Array, height: number): void {
    const mine = (owner: Uint8Array) => shardOfOwner(owner, SHARDS) === this.shard;
    const kind = kindOfTransaction(tx).kind;
    const spends = (input: { txid: Uint8Array }) => {
      if (this.settledAt.get(hex(input.txid)) === height) this.spentAtLockHeight++;
    };
    if (kind === TxKind.Transfer) {
      const t = transferKind.decode(tx);
      const txid = transactionIdOfEncoding(tx);
      t.inputs.forEach(spends);
      for (const input of t.inputs) assert.ok(this.unspent.delete(outpoint(input.txid, input.index)), "a transfer spends an unspent output");
      t.outputs.forEach((o, j) => this.unspent.set(outpoint(txid, j), { owner: hex(o.owner), amount: o.amount }));
    } else if (kind === TxKind.AtomixLock) {
      const x = crossShardTransferKind.decode(tx);
      // The only input shard decides the transfer by its lock: it commits here at once.
      const settles = x.inputs.every((i) => mine(i.owner));
      x.inputs.filter((i) => mine(i.owner)).forEach(spends);
      for (const input of x.inputs.filter((i) => mine(i.owner))) {
        const key = outpoint(input.txid, input.index);
        const entry = this.unspent.get(key);
        assert.ok(entry !== undefined && entry.amount === input.amount, "a lock takes an unspent output of the declared amount");
        this.unspent.delete(key);
        if (!settles) this.locked.set(key, entry);
      }
      if (settles) {
        this.settled++;
        const crossTxid = transactionIdOfEncoding(tx);
        this.settledAt.set(hex(crossTxid), height);
        x.outputs.forEach((o, j) => mine(o.owner) && this.unspent.set(outpoint(crossTxid, j), { owner: hex(o.owner), amount: o.amount }));
      }
    } else if (kind === TxKind.AtomixUnlockBatch) {
      // Transfers their locks settled elsewhere: only their outputs here.
      for (const cross of decodeAtomixUnlockBatch(tx).crosses) {
        this.batched++;
        const crossTxid = sha256(cross);
        decodeUnsignedCrossShardTransfer(cross).outputs.forEach((o, j) => mine(o.owner) && this.unspent.set(outpoint(crossTxid, j), { owner: hex(o.owner), amount: o.amount }));
      }
    } else {
      const unlock = decodeAtomixUnlock(tx);
      this.unlocked++;
      const x = decodeUnsignedCrossShardTransfer(unlock.cross);
      const crossTxid = sha256(unlock.cross);
      for (const input of x.inputs.filter((i) => mine(i.owner))) {
        const key = outpoint(input.txid, input.index);
        const entry = this.locked.get(key);
        assert.ok(entry !== undefined, "an unlock releases a lock held here");
        this.locked.delete(key);
        if (kind === TxKind.AtomixUnlockAbort) this.unspent.set(key, entry);
      }
      if (kind === TxKind.AtomixUnlockCommit) x.outputs.forEach((o, j) => mine(o.owner) && this.unspent.set(outpoint(crossTxid, j), { owner: hex(o.owner), amount: o.amount }));
    }
  }

  balance(owner: string): bigint {
    let sum = 0n;
    for (const entry of this.unspent.values()) if (entry.owner === owner) sum += entry.amount;
    return sum;
  }
}

describe("ios load --cross-shard over real processes", () => {
  it("a 2-shard PoB devnet under a half cross-shard load: counts add up, balances match a replay of every shard's blocks", () => keepingOnFailure(root, () => ({}), async () => {
    devnet = await startDevnet({ shards: SHARDS, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "cross load", accounts: 24, amount: 1_000_000n, workers: 1 });
    const { set, run, files } = await runDevnetLoad(devnet, { count: TRANSFERS, crossShard: 0.5, seed: "cross", mode: { kind: "closed-loop", window: 60 }, durationMs: 60_000, drainTimeoutMs: 30_000, reportDir: join(root, "report") });
    const crossCount = Array.from({ length: set.count }, (_, i) => set.tx(i)[1]).filter((kind) => kind === TxKind.AtomixLock).length;
    assert.ok(crossCount > TRANSFERS / 4 && crossCount < (3 * TRANSFERS) / 4, `about half are cross-shard: ${crossCount}`);
    const m = run.report.metrics;
    const summary = JSON.stringify({ totals: m.totals, rejected: m.rejectedByCode, resent: m.resentByCause, intra: m.byKind.intra.final, cross: m.byKind.cross.final, locked: m.byKind.cross.phases.locked.count, proven: m.byKind.cross.phases.proven.count });
    assert.equal(run.end, "settled", summary);
    assert.deepEqual([m.totals.submitted, m.totals.final, m.totals.rejected, m.totals.pending], [TRANSFERS, TRANSFERS, 0, 0], summary);
    assert.deepEqual([m.byKind.intra.final, m.byKind.cross.final], [TRANSFERS - crossCount, crossCount]);
    assert.equal(m.byKind.cross.phases.locked.count, crossCount);
    assert.equal(m.byKind.cross.phases.proven.count, crossCount);
    assert.ok(m.byKind.cross.phases.locked.p50Ms <= m.byKind.cross.phases.proven.p50Ms && m.byKind.cross.phases.proven.p50Ms <= m.byKind.cross.finalLatency.p50Ms, "phases in order");
    assert.ok(m.shards.every((s) => s.heights > 0 && s.txPerHeight > 0), "every shard's final heights are counted");
    const report = JSON.parse(readFileSync(files.json, "utf8")) as LoadReport;
    assert.equal(report.metrics.byKind.cross.final, crossCount);
    assert.match(readFileSync(files.markdown, "utf8"), /\| cross-shard \| \d+ \|/);

    // The replay: every final block of every shard, from a validator of it, through the model.
    const clientOf = (shard: number) => new ApiClient(devnet!.manifest.validators.find((v) => v.shard === shard)!.http);
    const models = [0, 1].map((shard) => new ModelShard(shard));
    const chain = genesisTxid(devnet.genesis);
    devnet.genesis.outputs.forEach((output, index) => models[shardOfOwner(output.owner, SHARDS)]!.unspent.set(outpoint(chain, index), { owner: hex(output.owner), amount: output.amount }));
    for (const model of models) {
      const api = clientOf(model.shard);
      const { tip } = await api.status();
      for (let height = 1; height <= tip.height; height++) {
        const block = await api.request<{ bytes: string }>("GET", `/v1/block/${height}?bytes=1`);
        for (const tx of decodeBlock(Buffer.from(block.bytes, "hex")).transactions) model.apply(tx, height);
      }
      assert.equal(model.locked.size, 0, `shard ${model.shard}: no lock remains`);
    }
    // The workload's cross-shard transfers have one input shard each: every one was settled by its lock.
    assert.equal(models[0]!.settled + models[1]!.settled, crossCount);
    // Their commits in the other shard: the driver sends one batch per final height and shard, not one unlock per transfer.
    const [batched, unlocked] = [models[0]!.batched + models[1]!.batched, models[0]!.unlocked + models[1]!.unlocked];
    assert.ok(batched + unlocked >= crossCount && batched > unlocked, `committed by batches: ${batched}, by single unlocks: ${unlocked}`);
    // What spends a settling lock's change is sent right behind it, as after an intra-shard transfer: some land in the lock's own height.
    assert.ok(models[0]!.spentAtLockHeight + models[1]!.spentAtLockHeight > 0, "the driver did not hold the spends of settling locks' change until their proofs");
    for (const account of devnet.accounts) {
      const owner = hex(account.publicKey);
      const shard = shardOfOwner(account.publicKey, SHARDS);
      assert.equal(BigInt((await clientOf(shard).balance(owner)).balance), models[shard]!.balance(owner), `balance of ${owner.slice(0, 12)} in shard ${shard}`);
    }
    // Every transfer pays a fee of 1 (intra) or leaves 1 unclaimed (cross): the accounts' funds over both shards.
    let funds = 0n;
    for (const model of models) for (const entry of model.unspent.values()) funds += entry.amount;
    assert.equal(funds, devnet.genesis.outputs.reduce((sum, o) => sum + o.amount, 0n) - BigInt(TRANSFERS));
    // And the nodes' supply (bonds included) is the genesis supply less the same fees.
    let supply = 0n;
    for (const shard of [0, 1]) supply += BigInt((await clientOf(shard).status()).supply as string);
    assert.equal(supply, genesisSupply(devnet.genesis) - BigInt(TRANSFERS));
  }));
});
