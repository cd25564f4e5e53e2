// The load driver's cross-shard unlocks from ATOMIX frames (issue 13): two shards, each one client
// API on its own uWS port over a backend that checks every submission statelessly with a real
// committee verifier (real keys, real collective signatures, src/atomix/proof.ts) and finalizes
// what passes in its next height. A height of locks is announced as a PoB validator does: its
// EVENTS frame and its ATOMIX frame (the height's certificate once, each lock's path). The
// driver's batches (built from the certificate and the paths) must pass in the output shard; when
// the output shard refuses them at intake, each transfer's single unlock, its proof rebuilt from
// the frame, must pass there too and equal, byte for byte, the proof the height's prover cuts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClientBackend, SubmitResult } from "../../src/api/interface.js";
import type { AtomixBatch, ConfirmationBatch } from "../../src/api/stream-codec.js";
import { encodeAtomixPhase } from "../../src/atomix/phases.js";
import { CommitteeProofVerifier, type FinalHeightProver } from "../../src/atomix/proof.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { makeTestGenesis } from "../../src/ledger/genesis.js";
import { decodeAtomixUnlock } from "../../src/ledger/kinds/atomix-unlock.js";
import { decodeAtomixUnlockBatch } from "../../src/ledger/kinds/atomix-unlock-batch.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { runLoad } from "../../src/load/driver.js";
import { generateLoad } from "../../src/load/workload.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { serveApi, stubBackend } from "../api/helpers.js";
import { committeesOf, finalHeightOf, type HeightMaker } from "../support/final-height.js";

const SHARDS = 2;
const TRANSFERS = 60;
const made = makeTestGenesis({ seed: "driver atomix test", shardCount: SHARDS, accounts: 24, amount: 1_000_000n, validators: SHARDS });
const maker: HeightMaker = { rng: SeededRng.fromSeed("driver atomix test"), chain: new Uint8Array(32).fill(7), verifier: new Ed25519Verifier() };
const { keys, directory } = committeesOf(maker, SHARDS, 4);
const COMMITTED = encodeAtomixPhase("committed");
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** One shard's validator as the driver sees it: submissions checked and finalized in the next height, its locks' ATOMIX frames. */
class AtomixShard {
  readonly #verifier = new CommitteeProofVerifier(directory, maker.verifier);
  readonly #confirmations = new Set<(batch: ConfirmationBatch) => void>();
  readonly #atomix = new Set<(batch: AtomixBatch) => void>();
  #height = 0;
  /** Whether batches are refused at intake (after their check), as when one of their transfers was committed already. */
  refuseBatches = false;
  /** The prover of each lock's height and its place there, by hex txid. */
  readonly locks = new Map<string, { readonly prover: FinalHeightProver; readonly index: number }>();
  readonly batches: Uint8Array[] = [];
  readonly unlocks: Uint8Array[] = [];
  readonly refused: string[] = [];

  constructor(readonly shard: number) {}

  backend(): ClientBackend {
    return stubBackend({
      shard: this.shard,
      shardCount: SHARDS,
      chain: { shard: this.shard, shardCount: SHARDS },
      submit: async (transactions) => this.#submit(transactions),
      onConfirmations: (listener) => this.#listen(this.#confirmations, listener),
      onAtomix: (listener) => this.#listen(this.#atomix, listener),
      nodeStatus: () => ({ publicKey: hex(made.validators[this.shard]!.publicKey), consensus: { mode: "pob", leagueMode: "one-league", height: this.#height } }),
    });
  }

  #listen<T>(set: Set<(batch: T) => void>, listener: (batch: T) => void): () => void {
    set.add(listener);
    return () => set.delete(listener);
  }

  #submit(transactions: readonly Uint8Array[]): SubmitResult[] {
    const locks: Uint8Array[] = [];
    const finals: Uint8Array[] = [];
    const results = transactions.map((tx): SubmitResult => {
      const txid = transactionIdOfEncoding(tx);
      const refusal = validateStateless(packTransactions([tx]), this.shard, SHARDS, "submitted", this.#verifier).rejections[0];
      if (refusal !== null && refusal !== undefined) {
        this.refused.push(refusal.code);
        return { outcome: "rejected", txid, code: refusal.code };
      }
      if (tx[1] === TxKind.AtomixLock) locks.push(txid);
      else if (tx[1] === TxKind.AtomixUnlockBatch) {
        this.batches.push(tx);
        if (this.refuseBatches) return { outcome: "rejected", txid, code: "TX_ATOMIX_DECIDED" };
        finals.push(txid);
      } else {
        this.unlocks.push(tx);
        finals.push(txid);
      }
      return { outcome: "accepted", txid };
    });
    // The next height, after the ack.
    setImmediate(() => this.#commit(locks, finals));
    return results;
  }

  #commit(locks: readonly Uint8Array[], finals: readonly Uint8Array[]): void {
    if (locks.length + finals.length === 0) return;
    const height = ++this.#height;
    for (const listener of this.#confirmations) listener({ height, final: Buffer.concat([...locks, ...finals]), rejected: [] });
    if (locks.length === 0) return;
    const prover = finalHeightOf(maker, keys[this.shard]!, this.shard, locks, [], undefined, height);
    locks.forEach((txid, index) => this.locks.set(hex(txid), { prover, index }));
    // Every lock of the workload settles its transfer (one input shard): committed here by the lock.
    const batch: AtomixBatch = { height, certificate: prover.certificate(), decisions: locks.map((txid, index) => ({ txid, phase: COMMITTED, code: "", path: prover.acceptancePath(index) })) };
    for (const listener of this.#atomix) listener(batch);
  }
}

describe("runLoad's cross-shard unlocks from ATOMIX frames (certificate once, paths)", () => {
  const shards = [new AtomixShard(0), new AtomixShard(1)];
  const servers: Awaited<ReturnType<typeof serveApi>>[] = [];
  let endpoints: string[];

  before(async () => {
    for (const shard of shards) servers.push(await serveApi(shard.backend()));
    endpoints = servers.map((server) => `ws://127.0.0.1:${server.port}/v1/stream`);
  });

  after(() => {
    for (const server of servers) server.close();
  });

  const run = async (seed: string) => {
    for (const shard of shards) {
      shard.batches.length = 0;
      shard.unlocks.length = 0;
      shard.refused.length = 0;
    }
    const set = await generateLoad({ genesis: made.genesis, accounts: made.accounts, count: TRANSFERS, seed, fee: 1n, threads: 1, crossShard: 1 });
    const { report, end } = await runLoad({ set, endpoints, mode: { kind: "closed-loop", window: 20 }, durationMs: 60_000, drainTimeoutMs: 30_000, frameTxs: 10 });
    assert.equal(end, "settled");
    assert.deepEqual(shards.map((shard) => shard.refused), [[], []], "every submission passed its stateless check");
    assert.equal(report.metrics.totals.final, TRANSFERS);
    assert.equal(report.metrics.byKind.cross.final, TRANSFERS);
  };

  it("commits each height's settled transfers in the other shard by batches that pass its proof check", async () => {
    await run("atomix batches");
    const batched = shards.flatMap((shard) => shard.batches.flatMap((tx) => decodeAtomixUnlockBatch(tx).crosses));
    assert.equal(batched.length, TRANSFERS, "each transfer in exactly one batch");
    assert.ok(shards.every((shard) => shard.batches.length > 0 && shard.batches.length < TRANSFERS / 2), `${shards.map((s) => s.batches.length).join(" + ")} batches`);
    assert.equal(shards[0]!.unlocks.length + shards[1]!.unlocks.length, 0, "no single unlock");
  });

  it("when the output shard refuses a batch at intake, sends each transfer's single unlock, its proof rebuilt from the frame: the prover's own, and it passes", async () => {
    for (const shard of shards) shard.refuseBatches = true;
    await run("atomix fallbacks");
    const unlocks = shards.flatMap((shard) => shard.unlocks);
    assert.ok(shards.every((shard) => shard.batches.length > 0), "batches were tried first");
    assert.equal(unlocks.length, TRANSFERS, "one single unlock per transfer");
    for (const tx of unlocks) {
      const { kind, cross, proofs } = decodeAtomixUnlock(tx);
      assert.equal(kind, TxKind.AtomixUnlockCommit);
      const lock = shards.map((shard) => shard.locks.get(hex(sha256(cross)))).find((found) => found !== undefined);
      assert.ok(lock !== undefined);
      assert.deepEqual(proofs, [lock.prover.acceptance(lock.index)]);
    }
  });
});
