// Atomix (white paper §6, Algorithm 5) between whole PoB validators in the simulator: 2 shards ×
// 5 validators. A client pays across shards with inputs in both; each input shard locks or
// refuses in a final block, proofs are read from the shards' stores, and the unlock settles every
// shard. Invariants: supply conserved across shards, every replica of a shard agrees, each shard's
// phase of X is the one outcome, no output exists for an aborted transfer, every lock released.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { lockedKeyOf } from "../../src/ledger/kinds/atomix-record.js";
import { atomixUnlockTxid } from "../../src/ledger/kinds/atomix-unlock.js";
import { runCrossShardTransfer, signCrossShardTransfer, unlockBatchesFor, unlockFor, type SignedCrossShardTransfer } from "../../src/atomix/client.js";
import { decodeAtomixUnlockBatch } from "../../src/ledger/kinds/atomix-unlock-batch.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { CommitteeProofVerifier, decisionProofOf, decodeDecisionProof, verifyDecisionProof, committeesOfContext } from "../../src/atomix/proof.js";
import { atomixAccess, caseSeeds, pobCluster, WHOLE_NODE } from "./pob-cluster.js";
import { ATOMIX_MESSAGES, rankedMembers } from "../../src/atomix/watcher.js";
import { ATOMIX_GRACE_MS, ATOMIX_RETRY_MS, type PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import type { ValidatorCluster } from "../../src/sim/validator-cluster.js";

const POLICY: ShardingPolicy = {
  believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256,
};

function cluster(seed: string) {
  return pobCluster({ seed, genesisSeed: "whole-node-atomix", policy: POLICY, shards: WHOLE_NODE.shards, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount });
}


/** One account per shard, with its genesis output. */
function payers(accounts: readonly KeyPair[], positions: Map<string, number>) {
  const byShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, WHOLE_NODE.shards) === shard);
  const coin = (a: KeyPair) => ({ owner: a.publicKey, index: positions.get(toHex(a.publicKey))!, amount: WHOLE_NODE.amount });
  return { byShard, coin };
}

/** Σ supply over both shards, checking that every replica of a shard agrees on its blocks and supply. */
function totalSupply(nodes: ValidatorCluster): bigint {
  let supply = 0n;
  for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
    const replicas = nodes.replicas(shard);
    assert.equal(nodes.agreement(shard).firstDifference, undefined, `shard ${shard}: every replica holds the same blocks`);
    assert.equal(new Set(replicas.map((node) => node.state.supply)).size, 1, `shard ${shard}: replicas agree on supply`);
    supply += replicas[0]!.state.supply;
  }
  return supply;
}

/** Each shard's phase of each transfer, for failure messages. */
function phases(nodes: ValidatorCluster, transfers: readonly SignedCrossShardTransfer[]): string {
  return transfers.map((t) => `${toHex(t.txid).slice(0, 8)}: ${Array.from({ length: WHOLE_NODE.shards }, (_, shard) => nodes.replicas(shard).map((node) => node.state.atomix(t.txid)?.phase ?? "-").join("/")).join(" | ")}`).join("; ");
}

async function settle(nodes: ValidatorCluster, promise: Promise<unknown>, transfers: readonly SignedCrossShardTransfer[], ms = 20_000): Promise<void> {
  let finished = false;
  let failure: unknown;
  promise.then(() => (finished = true), (error: unknown) => ((failure = error), (finished = true)));
  if (!(await nodes.advance(ms, () => finished))) assert.fail(`the flow did not finish in virtual time: ${phases(nodes, transfers)}`);
  if (failure !== undefined) throw failure;
}

describe("Atomix between whole PoB validators", () => {
  it("a transfer with inputs in both shards commits everywhere: locks, proofs that verify offline, outputs in both shards, supply conserved", async () => {
    const { sim, genesis, accounts, cluster: nodes, positions } = cluster("atomix-commit");
    const { byShard, coin } = payers(accounts, positions);
    // Commit notices go to the members that act on each transfer they list, and to no other (watcher.ts, notice).
    const noticed: { from: string; to: string; txids: string[] }[] = [];
    for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
      for (const id of nodes.members(shard)) {
        sim.network.intercept(id, (to, type, payload) => {
          if (type === ATOMIX_MESSAGES.COMMITTED) noticed.push({ from: id, to, txids: Array.from({ length: (payload.length - 2) / 32 }, (_, k) => toHex(payload.subarray(2 + 32 * k, 34 + 32 * k))) });
          return payload;
        });
      }
    }
    const [a0, b0] = byShard(0);
    const [a1] = byShard(1);
    const chain = nodes.context.chain;
    const x: SignedCrossShardTransfer = signCrossShardTransfer({
      kind: TxKind.AtomixLock,
      inputs: [{ txid: chain, ...coin(a0!) }, { txid: chain, ...coin(a1!) }],
      outputs: [{ owner: b0!.publicKey, amount: 1_500_000n }, { owner: a1!.publicKey, amount: 499_990n }],
    }, [a0!, a1!]);
    await nodes.advance(500);
    // Every phase gets its optimistic confirmation (white paper §7.2 phase 1) in each shard it runs in.
    const optimistic = [new Set<string>(), new Set<string>()];
    for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
      for (const node of nodes.replicas(shard)) {
        node.driver.onOptimistic?.((batch) => {
          for (let at = 0; at < batch.txids.length; at += 32) optimistic[shard]!.add(toHex(batch.txids.subarray(at, at + 32)));
        });
      }
    }
    const steps: string[] = [];
    let report: Awaited<ReturnType<typeof runCrossShardTransfer>> | undefined;
    await settle(nodes, runCrossShardTransfer(x, atomixAccess(nodes), { onStep: (step) => steps.push(step) }).then((r) => (report = r)), [x]);
    assert.equal(report!.outcome, "committed");
    assert.deepEqual(steps, ["lock", "proofs", "unlock", "settled"]);
    const commitTxid = toHex(atomixUnlockTxid(TxKind.AtomixUnlockCommit, x.unsigned));
    for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
      assert.ok(optimistic[shard]!.has(toHex(x.txid)), `shard ${shard} confirmed the lock optimistically`);
      assert.ok(optimistic[shard]!.has(commitTxid), `shard ${shard} confirmed the unlock-to-commit optimistically`);
    }

    // Both proofs are acceptances that verify against the epoch's committees, and nowhere else.
    const committees = committeesOfContext(nodes.context);
    for (const [shard, proof] of report!.proofs) {
      const decision = verifyDecisionProof(proof, x.txid, committees);
      assert.deepEqual({ shard: decision.shard, accepted: decision.accepted }, { shard, accepted: true });
      assert.ok(proof.length < 1_024, `a proof is small: ${proof.length} bytes`);
      assert.throws(() => verifyDecisionProof(proof, x.txid, (epoch, s, batch) => committees(epoch, 1 - s, batch)), { code: "TX_PROOF_BAD_SIGNATURE" });
      for (let at = 0; at < proof.length; at++) {
        const flipped = Uint8Array.from(proof);
        flipped[at]! ^= 1;
        assert.throws(() => new CommitteeProofVerifier(committees).verify(flipped, x.txid), (error: { code?: string }) => error.code?.startsWith("TX_PROOF_") === true, `a flipped byte ${at} fails`);
      }
      assert.equal(decodeDecisionProof(proof).epoch, 0);
    }
    await nodes.advance(1_000);
    for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
      for (const node of nodes.replicas(shard)) {
        assert.equal(node.state.atomix(x.txid)?.phase, "committed", `shard ${shard}: every replica committed`);
        // The locks are gone and the inputs spent.
        assert.equal(node.state.getUtxo(chain, coin(shard === 0 ? a0! : a1!).index), undefined);
        const locked = lockedKeyOf(chain, coin(shard === 0 ? a0! : a1!).index);
        assert.equal(node.state.getUtxo(locked.subarray(0, 32), new DataView(locked.buffer).getUint32(32, true)), undefined, "no lock remains");
      }
    }
    assert.deepEqual(nodes.replicas(0)[0]!.state.getUtxo(x.txid, 0), { owner: b0!.publicKey, amount: 1_500_000n });
    assert.equal(nodes.replicas(1)[0]!.state.getUtxo(x.txid, 0), undefined, "an output lives in its own shard only");
    assert.deepEqual(nodes.replicas(1)[0]!.state.getUtxo(x.txid, 1), { owner: a1!.publicKey, amount: 499_990n });
    // The fee (10) left the ledger; nothing else did.
    assert.equal(totalSupply(nodes), genesisSupply(genesis) - 10n);
    // Past the watchers' grace: each shard's members told the other input shard that they committed
    // X (its client served both), so the coordinator's f + 1 acting watchers stopped watching it
    // without a query, and no member is handed the unlock again.
    await nodes.advance(ATOMIX_GRACE_MS + 3 * ATOMIX_RETRY_MS);
    const watchers = [0, 1].flatMap((shard) => nodes.replicas(shard)).map((node) => (node.driver as PobShardConsensus).atomix!);
    const actors = Math.floor((WHOLE_NODE.perShard - 1) / 3) + 1;
    assert.equal(watchers.reduce((n, w) => n + w.stats.noticed, 0), 2 * actors, "every acting watcher of both input shards heard f + 1 members of the other");
    assert.equal(watchers.reduce((n, w) => n + w.stats.queries + w.stats.answers, 0), 0, "no query, no answer");
    assert.equal(watchers.reduce((n, w) => n + w.stats.relayed, 0), 0, "no unlock relayed to a shard that committed");
    assert.ok(watchers.every((w) => w.watching === 0), "nothing left to watch");
    // Each shard's f + 1 members acting on X heard from the 2f + 1 members of the other ranked first for X: (2f + 1)(f + 1) notices per shard, each of X alone.
    const ranked = [0, 1].map((shard) => rankedMembers(nodes.members(shard).map((id) => Buffer.from(id, "hex")), x.txid).map(toHex));
    const [acting, senders] = [actors, 2 * actors - 1].map((count) => ranked.map((order) => new Set(order.slice(0, count))));
    assert.equal(noticed.length, 2 * (2 * actors - 1) * actors);
    for (const { from, to, txids } of noticed) {
      assert.deepEqual(txids, [toHex(x.txid)]);
      const [sent, received] = [from, to].map((id) => (nodes.members(0).includes(id) ? 0 : 1));
      assert.ok(sent !== received && senders![sent]!.has(from) && acting![received]!.has(to), "from a sender ranked among the 2f + 1 first to a member acting on X");
    }
    assert.deepEqual(nodes.failures, []);
    await nodes.stop();
  });

  it("two transfers racing for one input: exactly one locks it; the other aborts everywhere and its other shard's lock is released", async () => {
    const { genesis, accounts, cluster: nodes, positions } = cluster("atomix-race");
    const { byShard, coin } = payers(accounts, positions);
    const [a0, b0] = byShard(0);
    const [a1, b1] = byShard(1);
    const chain = nodes.context.chain;
    // Both spend a0's genesis output; each also spends a distinct shard-1 output.
    const make = (other: KeyPair, payee: KeyPair) => signCrossShardTransfer({
      kind: TxKind.AtomixLock,
      inputs: [{ txid: chain, ...coin(a0!) }, { txid: chain, ...coin(other) }],
      outputs: [{ owner: payee.publicKey, amount: 2_000_000n }],
    }, [a0!, other]);
    const x = make(a1!, b0!);
    const y = make(b1!, b1!);
    await nodes.advance(500);
    // The proofs each replica cut from its own final height at commit, rebuilt from its ATOMIX frames (the certificate once, each lock's path): what the store held before issue 13.
    const framed = new Map<string, Uint8Array>();
    for (let shard = 0; shard < WHOLE_NODE.shards; shard++) {
      nodes.replicas(shard).forEach((node, k) => {
        (node.driver as PobShardConsensus).onAtomix((batch) => {
          for (const decision of batch.decisions) if (decision.path.length > 0) framed.set(`${shard}/${k}/${toHex(decision.txid)}`, decisionProofOf(batch.certificate, decision));
        });
      });
    }
    const access = atomixAccess(nodes);
    const reports: Awaited<ReturnType<typeof runCrossShardTransfer>>[] = [];
    await settle(nodes, Promise.all([x, y].map((t) => runCrossShardTransfer(t, access).then((r) => reports.push(r)))), [x, y]);
    assert.deepEqual(reports.map((r) => r.outcome).sort(), ["aborted", "committed"], "exactly one commits");
    await nodes.advance(1_000);
    const winner = reports.find((r) => r.outcome === "committed")!.txid;
    const loser = [x, y].find((t) => !Buffer.from(t.txid).equals(winner))!;
    const loserOther = Buffer.from(loser.txid).equals(x.txid) ? a1! : b1!;
    for (const node of nodes.replicas(1)) {
      assert.equal(node.state.atomix(loser.txid)?.phase, "aborted");
      assert.deepEqual(node.state.getUtxo(chain, coin(loserOther).index), { owner: loserOther.publicKey, amount: WHOLE_NODE.amount }, "the loser's shard-1 input is spendable again");
    }
    for (const node of nodes.replicas(0)) assert.ok(["refused", "aborted"].includes(node.state.atomix(loser.txid)!.phase), "shard 0 refused the loser's lock");
    assert.equal(nodes.replicas(0)[0]!.state.getUtxo(loser.txid, 0), undefined, "no output of the aborted transfer exists");
    // Every replica's proof built when read equals, byte for byte, the one it cut at commit: acceptances and the refusal alike.
    const committees = committeesOfContext(nodes.context);
    const verdicts = new Set<string>();
    for (const shard of [0, 1]) {
      nodes.replicas(shard).forEach((node, k) => {
        for (const t of [x, y]) {
          const atCommit = framed.get(`${shard}/${k}/${toHex(t.txid)}`);
          assert.ok(atCommit !== undefined, `shard ${shard}: replica ${k} decided ${toHex(t.txid).slice(0, 8)}`);
          const read = node.state.atomix(t.txid)?.proof;
          assert.equal(toHex(read ?? new Uint8Array(0)), toHex(atCommit), `shard ${shard}: replica ${k}, ${toHex(t.txid).slice(0, 8)}`);
          verdicts.add(String(verifyDecisionProof(read!, t.txid, committees).accepted));
        }
      });
    }
    assert.deepEqual([...verdicts].sort(), ["false", "true"], "acceptances and a rejection");
    assert.equal(totalSupply(nodes), genesisSupply(genesis));
    assert.deepEqual(nodes.failures, []);
    await nodes.stop();
  });

  it("unlock-to-commit batches: the transfers one height settled commit in their output shard on every replica; a batch holding a committed X is refused whole, overlapping batches commit each X once, a replay changes nothing, and the notices end the watches", async () => {
    const { genesis, accounts, cluster: nodes, positions } = cluster("atomix-batch");
    const { byShard, coin } = payers(accounts, positions);
    const chain = nodes.context.chain;
    const payers0 = byShard(0);
    const [payee] = byShard(1);
    assert.ok(payers0.length >= 7, `${payers0.length} accounts in shard 0`);
    // Each pays half its coin to shard 1's payee and keeps its change: settled by its lock in shard 0.
    const transfers = payers0.slice(0, 7).map((payer) => signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [{ txid: chain, ...coin(payer) }], outputs: [{ owner: payee!.publicKey, amount: WHOLE_NODE.amount / 2n }, { owner: payer.publicKey, amount: WHOLE_NODE.amount / 2n - 5n }],
    }, [payer]));
    await nodes.advance(500);
    await nodes.submitAndWait(0, transfers.map((t) => t.bytes));
    const committedIn = (shard: number, t: SignedCrossShardTransfer) => nodes.replicas(shard).every((node) => node.state.atomix(t.txid)?.phase === "committed");
    if (!(await nodes.advance(10_000, () => transfers.every((t) => committedIn(0, t))))) assert.fail(`locks not final: ${phases(nodes, transfers)}`);
    const settledOf = (list: readonly SignedCrossShardTransfer[]) => list.map((t) => ({ unsigned: t.unsigned, proof: nodes.replicas(0)[0]!.state.atomix(t.txid)!.proof! }));
    // A batch's transfers share their height: group by the height each proof names.
    const heightOf = (t: SignedCrossShardTransfer) => decodeDecisionProof(nodes.replicas(0)[0]!.state.atomix(t.txid)!.proof!).height;
    const batchesOf = (list: readonly SignedCrossShardTransfer[]) => [...new Set(list.map(heightOf))].flatMap((h) => unlockBatchesFor(settledOf(list.filter((t) => heightOf(t) === h))).map((b) => b.bytes));
    const commitIn1 = async (txs: readonly Uint8Array[], what: string, done: () => boolean) => {
      const answers = await nodes.submitAndWait(1, txs);
      if (!(await nodes.advance(10_000, done))) assert.fail(`${what}: ${phases(nodes, transfers)}; answers ${answers.map((a) => a.code ?? a.outcome).join(", ")}`);
      return answers;
    };
    const [first, ...rest] = transfers;
    // X0 committed in shard 1 by its own unlock: a batch still holding it is refused whole, with nothing created.
    await commitIn1([unlockFor(first!.unsigned, new Map([[0, settledOf([first!])[0]!.proof]]), WHOLE_NODE.shards)!.bytes], "X0's own unlock", () => committedIn(1, first!));
    const holding = batchesOf(transfers);
    const answers = await nodes.submitAndWait(1, holding);
    await nodes.advance(2_000);
    const member = nodes.members(1)[0]!;
    const codeOf1 = (tx: Uint8Array, k: number, list: readonly { code?: string }[]) => {
      const status = nodes.status(member, transactionIdOfEncoding(tx));
      return list[k]!.code ?? (status?.state === "rejected" ? status.code : status?.state);
    };
    const holds = (batch: Uint8Array, t: SignedCrossShardTransfer) => decodeAtomixUnlockBatch(batch).crosses.some((cross) => Buffer.from(cross).equals(t.unsigned));
    let refusedWhole = 0;
    holding.forEach((batch, k) => {
      if (!holds(batch, first!)) return;
      refusedWhole++;
      assert.equal(codeOf1(batch, k, answers), "TX_ATOMIX_DECIDED", "the batch holding X0 is refused");
      for (const t of rest) if (holds(batch, t)) assert.equal(committedIn(1, t), false, "nothing a refused batch holds is committed by it");
    });
    assert.equal(refusedWhole, 1);
    // Two overlapping batches in flight together: the transfers both hold are committed once, by one of them.
    const [left, right] = [batchesOf(rest.slice(0, 4)), batchesOf(rest.slice(2))];
    await commitIn1([...left, ...right], "overlapping batches", () => rest.slice(2, 4).every((t) => committedIn(1, t)));
    // A member of shard 1 crashed right after: its stored blocks, the batches included, replay to the same state.
    const restarted = nodes.members(1)[1]!;
    nodes.crash(restarted);
    await nodes.advance(200);
    nodes.restart(restarted);
    await nodes.advance(2_000);
    // What a refused batch left gets a batch of its own (as the load driver falls back); a replay of a committed one changes nothing.
    const uncommitted = rest.filter((t) => !committedIn(1, t));
    if (uncommitted.length > 0) await commitIn1(batchesOf(uncommitted), "the rest", () => rest.every((t) => committedIn(1, t)));
    const supply = totalSupply(nodes);
    const replay = await nodes.submitAndWait(1, [...left, ...right]);
    await nodes.advance(2_000);
    replay.forEach((answer, k) => assert.ok(answer.outcome === "duplicate" || codeOf1([...left, ...right][k]!, k, replay) === "TX_ATOMIX_DECIDED", `replay ${k}: ${answer.outcome} ${answer.code ?? ""}`));
    assert.equal(totalSupply(nodes), supply, "a replay creates nothing");
    for (const t of transfers) {
      assert.ok(committedIn(1, t), `${toHex(t.txid).slice(0, 8)} committed in shard 1`);
      for (const node of nodes.replicas(1)) assert.deepEqual(node.state.getUtxo(t.txid, 0), { owner: payee!.publicKey, amount: WHOLE_NODE.amount / 2n });
      assert.equal(nodes.replicas(1)[0]!.state.getUtxo(t.txid, 1), undefined, "the change lives in shard 0");
      assert.deepEqual(nodes.replicas(0)[0]!.state.getUtxo(t.txid, 1), { owner: payers0[transfers.indexOf(t)]!.publicKey, amount: WHOLE_NODE.amount / 2n - 5n });
    }
    // Fees (5 each) left the ledger; nothing else did, and no output was created twice.
    assert.equal(totalSupply(nodes), genesisSupply(genesis) - 5n * BigInt(transfers.length));
    // The batches' commits were noticed: shard 0's watchers of the settled locks end without relaying an unlock.
    await nodes.advance(ATOMIX_GRACE_MS + 3 * ATOMIX_RETRY_MS);
    const watchers = [0, 1].flatMap((shard) => nodes.replicas(shard)).map((node) => (node.driver as PobShardConsensus).atomix!);
    assert.ok(watchers.every((w) => w.watching === 0), "nothing left to watch");
    assert.equal(watchers.reduce((n, w) => n + w.stats.relayed, 0), 0, "no unlock relayed to a shard that committed");
    assert.ok(transfers.every((t) => nodes.node(restarted)!.state.atomix(t.txid)?.phase === "committed"), "the restarted member's phases came back");
    assert.deepEqual(nodes.failures, []);
    await nodes.stop();
  });

  for (const ratio of [0.25, 1]) {
    for (const seed of caseSeeds(`atomix-mix-${ratio}`, 2)) {
      it(`a load of transfers, ${ratio * 100} % of them cross-shard, each through its client's flow: all final or committed everywhere, supply conserved, no lock left (${seed})`, async () => {
        const { genesis, accounts, cluster: nodes, positions } = cluster(seed);
        const chain = nodes.context.chain;
        const { coin } = payers(accounts, positions);
        const rng = SeededRng.fromSeed(seed);
        await nodes.advance(500);
        const access = atomixAccess(nodes);
        const flows: Promise<unknown>[] = [];
        const intra: { txid: Uint8Array; shard: number }[] = [];
        let cross = 0;
        // Every account pays once, from its genesis output: to another shard with probability `ratio`.
        for (const payer of accounts) {
          const shard = shardOfOwner(payer.publicKey, WHOLE_NODE.shards);
          const crossing = rng.nextU32() < ratio * 0x1_0000_0000;
          const payees = accounts.filter((a) => (shardOfOwner(a.publicKey, WHOLE_NODE.shards) === shard) !== crossing);
          const payee = payees[rng.nextU32() % payees.length]!;
          const outputs = [{ owner: payee.publicKey, amount: 1_000n }, { owner: payer.publicKey, amount: WHOLE_NODE.amount - 1_000n - WHOLE_NODE.fee }];
          if (crossing) {
            cross++;
            flows.push(runCrossShardTransfer(signCrossShardTransfer({ kind: TxKind.AtomixLock, inputs: [{ txid: chain, ...coin(payer) }], outputs }, [payer]), access));
          } else {
            const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: chain, index: coin(payer).index, owner: payer.publicKey }], outputs }, [payer]);
            intra.push({ txid, shard });
            void nodes.submit(shard, [encodeTransaction(transaction)]);
          }
        }
        const reports: { outcome: string }[] = [];
        await settle(nodes, Promise.all(flows).then((all) => reports.push(...(all as { outcome: string }[]))), []);
        assert.equal(reports.length, cross);
        assert.ok(reports.every((r) => r.outcome === "committed"), "every cross-shard transfer commits");
        const finalEverywhere = () => intra.every(({ txid, shard }) => nodes.replicas(shard).every((node) => node.driver.status(txid).state === "final"));
        assert.ok(await nodes.advance(10_000, finalEverywhere), "every intra-shard transfer final on every replica of its shard");
        await nodes.advance(1_000);
        assert.equal(totalSupply(nodes), genesisSupply(genesis) - WHOLE_NODE.fee * BigInt(accounts.length));
        for (let shard = 0; shard < WHOLE_NODE.shards; shard++) for (const node of nodes.replicas(shard)) assert.equal(node.state.watchedTransfers(Number.POSITIVE_INFINITY).length, 0, "no lock remains");
        assert.deepEqual(nodes.failures, []);
        await nodes.stop();
      });
    }
  }
});
