// A one-league member answers a client only what it can keep (src/node/consensus/pob-consensus.ts `submit`): the hold it
// sends to the other members takes a transaction with no checks of its own, so the driver runs the validator's checks
// (stateless, every signature, duplicates) first, and a full hold (MAX_BLOCK_TXS: one final block's worth) refuses with
// POB_HOLD_FULL. Before, a badly signed or already final transfer was answered "accepted" and held and shared, and one
// past a full hold was answered "accepted" and dropped. Those checks take the pool's batch age: a submission whose checks
// end after a suspended producer took its seat back is routed by the shard's leagues of then, not refused by the closed
// hold. Whole PoB validators, 2 shards × 4 in one league (2 × 5 with a producer for the resumption).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BFT_MESSAGES } from "../../src/consensus/bft/codec.js";
import { POB_MESSAGES, SUSPEND_AFTER_MS } from "../../src/consensus/pob/protocol.js";
import { MAX_BLOCK_TXS } from "../../src/ledger/block.js";
import { decodeTransaction, encodeTransaction, signTransaction, TxKind } from "../../src/ledger/transaction.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { toHex } from "../../src/hex.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { SETTLED_CHECK_MS } from "../../src/sim/validator-cluster.js";
import { entryOf, genesisSelfTransfer, pobCluster, SIM_POLICY } from "./pob-cluster.js";

const SHARDS = 2;
const PER_SHARD = 4;
const AMOUNT = 1_000_000n;
const FEE = 10n;

/** Every member of each shard in the normal league: no producer, one league. */
function oneLeagueCluster(seed: string) {
  return pobCluster({
    seed: simSeed(seed), genesisSeed: "one-league submit", policy: { ...SIM_POLICY, normalLeagueSize: PER_SHARD }, shards: SHARDS, perShard: PER_SHARD, accounts: 8, amount: AMOUNT,
  });
}

describe("a one-league member's answers to a client", () => {
  it("refuses a badly signed transfer and a final one with their codes, and shares neither", async () => {
    const { sim, accounts, cluster, positions } = oneLeagueCluster("one-league submit checks");
    await cluster.advance(600);
    assert.deepEqual([...new Set(cluster.replicas(0).map((node) => (node.driver as PobShardConsensus).leagues.mode))], ["one-league"]);
    const member = entryOf(cluster, 0);
    let shared = 0;
    sim.network.intercept(member, (_to, type, payload) => (type === POB_MESSAGES.TRANSACTION && shared++, payload));

    const { bytes, txid } = genesisSelfTransfer(cluster, accounts, positions, 0, AMOUNT, FEE);
    const decoded = decodeTransaction(bytes);
    const forged = Uint8Array.from(decoded.signatures[0]!);
    forged[0]! ^= 0x01;
    const badlySigned = encodeTransaction({ ...decoded, signatures: [forged] });
    const [refused] = await cluster.submitAndWait(0, [badlySigned], member);
    assert.equal(refused?.outcome, "rejected", JSON.stringify(refused));
    assert.match(refused?.code ?? "", /SIGNATURE/, "refused by its signature");
    assert.equal(shared, 0, "a refused transfer is not sent to the other members");
    assert.ok(cluster.serving(0).every((replica) => replica.driver.status(txid).state !== "pending"), "held nowhere");

    const [accepted] = await cluster.submitAndWait(0, [bytes], member);
    assert.equal(accepted?.outcome, "accepted", JSON.stringify(accepted));
    assert.ok(shared >= 1, "the accepted transfer is shared with the other members");
    const finalEverywhere = () => cluster.serving(0).every((replica) => replica.driver.status(txid).state === "final");
    assert.ok(await cluster.advance(10_000, finalEverywhere, SETTLED_CHECK_MS), "final on every replica");
    const sharedBefore = shared;
    const [again] = await cluster.submitAndWait(0, [bytes], member);
    assert.equal(again?.outcome, "duplicate", `a final transfer sent again is a duplicate: ${JSON.stringify(again)}`);
    assert.equal(shared, sharedBefore, "and is not shared again");
    await cluster.stop();
  });

  it("a submission verified while its producer takes the seat back goes to the producer, not refused POB_NOT_BELIEVABLE", async () => {
    // The default leagues: one believable producer per shard and a normal league of 4.
    const { accounts, cluster, positions } = pobCluster({ seed: simSeed("one-league submit resume"), genesisSeed: "one-league submit", policy: SIM_POLICY, shards: SHARDS, perShard: 5, accounts: 8, amount: AMOUNT });
    const producer = toHex(cluster.context.leagues(0).believable[0]!);
    const modeOn = (id: string) => (cluster.node(id)?.driver as PobShardConsensus | undefined)?.leagues.mode;
    await cluster.advance(600);
    const via = entryOf(cluster, 0);
    cluster.crash(producer);
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS + 3_000, () => modeOn(via) === "one-league"), "the silent producer suspended: one league");
    const payer = accounts.find((account) => shardOfOwner(account.publicKey, SHARDS) === 0)!;
    const input = { txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey };
    // A new transfer of one output every millisecond (each its own txid, so none is a duplicate; the final blocks keep one,
    // the others are double spends) from the restart until well after the seat is back: those verified across the switch
    // (the pipeline's batch age is 5 ms) meet the two-league shard.
    let sent = 0;
    const next = () => encodeTransaction(signTransaction({
      kind: TxKind.Transfer, inputs: [input], outputs: [{ owner: payer.publicKey, amount: AMOUNT - FEE - BigInt(sent++) }],
    }, [payer]).transaction);
    cluster.restart(producer);
    const answers: { outcome: string; code?: string | undefined }[] = [];
    let resumedAt: number | undefined;
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS + 3_000, () => {
      void cluster.submit(0, [next()], via)?.then(([answer]) => answers.push(answer!));
      resumedAt ??= modeOn(via) === "two-league" ? cluster.sim.now() : undefined;
      return resumedAt !== undefined && cluster.sim.now() >= resumedAt + 20;
    }), "the producer takes its seat back");
    await cluster.advance(50);
    assert.equal(answers.length, sent, "every submission answered");
    assert.deepEqual(answers.filter((answer) => answer.outcome !== "accepted"), [], "each accepted: held for one league, or relayed to the producer");
    await cluster.stop();
  });

  it("refuses with POB_HOLD_FULL past MAX_BLOCK_TXS held, and holds the transfers it accepted", async () => {
    const { sim, accounts, cluster, positions } = oneLeagueCluster("one-league submit full");
    await cluster.advance(600);
    // No proposal gets through: the holds keep everything they take.
    for (const id of cluster.members(0)) sim.network.intercept(id, (_to, type, payload) => (type === BFT_MESSAGES.PROPOSE ? undefined : payload));
    const member = entryOf(cluster, 0);
    const payer = accounts.find((account) => shardOfOwner(account.publicKey, SHARDS) === 0)!;
    const input = { txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey };
    // Distinct transfers of one output (double spends of each other: the hold checks no state, the final block does).
    const transfers = Array.from({ length: MAX_BLOCK_TXS + 1 }, (_, i) => signTransaction({
      kind: TxKind.Transfer, inputs: [input], outputs: [{ owner: payer.publicKey, amount: AMOUNT - FEE - BigInt(i) }],
    }, [payer]));
    const answers = await cluster.submitAndWait(0, transfers.map(({ transaction }) => encodeTransaction(transaction)), member, 20_000);
    const outcomes = new Map<string, number>();
    for (const answer of answers) outcomes.set(answer.code ?? answer.outcome, (outcomes.get(answer.code ?? answer.outcome) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(outcomes), { accepted: MAX_BLOCK_TXS, POB_HOLD_FULL: 1 });
    const last = answers[MAX_BLOCK_TXS]!;
    assert.equal(last.code, "POB_HOLD_FULL", "the one past the hold's room");
    const driver = cluster.node(member)!.driver;
    assert.notEqual(driver.status(transfers[MAX_BLOCK_TXS]!.txid).state, "pending", "the refused one is not held");
    assert.ok(transfers.slice(0, MAX_BLOCK_TXS).every(({ txid }) => driver.status(txid).state === "pending"), "every accepted one is held");
    await cluster.stop();
  });
});
