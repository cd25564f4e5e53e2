// Members must not take an honest producer for a censor (src/node/consensus/pob-consensus.ts,
// `#owes`): a member that relayed a transaction the producer does not seal within
// SERVICE_OVERDUE_MS stops counting the producer's signs of life, and once enough members do, the
// shard suspends it and falls back to one league. Two ways an honest producer used to get there,
// both found on the 2 × 5 devnet under a half cross-shard load (a shard suspended its producer,
// limped in one league through view changes, and left thousands of accepted transfers unsettled):
//  - a client sends one transaction whose input does not exist yet to every member: each relays
//    it, the producer holds it as an orphan (ORPHAN_WAIT_MS) as it must, and every member found
//    it overdue, so all of them vouched for the suspension. An orphan in the member's own view
//    proves nothing; it no longer counts;
//  - a client sends one transaction to the producer and to every member at once (the devnet
//    launcher's probe): the members' copies reached the producer as duplicates of its own, which it
//    dropped without a word, so a relay whose copy the producer then refused stayed "unsealed" at
//    every member until RELAY_ANSWER_MS. Now the producer keeps every relayer of a transaction and
//    tells each of a refusal, and a relay already answered at the member (sealed, final, refused)
//    owes nothing.
// Whole validators in the simulator; IOS_SIM_SEED replays a seed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { POB_MESSAGES, SERVICE_OVERDUE_MS, SUSPEND_AFTER_MS } from "../../src/consensus/pob/protocol.js";
import { BinaryWriter } from "../../src/codec/binary.js";
import { toHex } from "../../src/hex.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { DEFAULT_IDLE_PROPOSAL_MS, ORPHAN_WAIT_MS, TX_FINAL_AHEAD, type PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { POLICY } from "./fault-liveness.js";
import { pobCluster } from "./pob-cluster.js";

/** An output nobody created: a transaction spending it is an orphan (fixed bytes, so a seed replays the run). */
const MISSING = { txid: new Uint8Array(32).fill(0xab), index: 0 };

function shardZero(seed: string, idleBlockMs?: number) {
  const built = pobCluster({ seed: simSeed(seed), genesisSeed: "whole-node", policy: POLICY, shards: 2, perShard: 5, accounts: 64, amount: 1_000_000n, ...(idleBlockMs === undefined ? {} : { idleBlockMs }) });
  const { cluster } = built;
  const producer = toHex(cluster.context.leagues(0).believable[0]!);
  const members = cluster.members(0).filter((id) => id !== producer);
  const driver = (id: string) => cluster.node(id)!.driver as PobShardConsensus;
  const twoLeague = () => cluster.replicas(0).every((node) => (node.driver as PobShardConsensus).leagues.mode === "two-league");
  const suspicions = () => members.map((id) => driver(id).node.stats.refused.get("PROPOSAL_UNVOUCHED_SUSPENSION") ?? 0).reduce((a, b) => a + b, 0);
  const overdue = () => members.map((id) => driver(id).node.stats.overdueService).reduce((a, b) => a + b, 0);
  const viewChanges = () => members.map((id) => driver(id).node.bft!.stats.viewChanges).reduce((a, b) => a + b, 0);
  const payer = built.accounts.find((account) => shardOfOwner(account.publicKey, 2) === 0)!;
  return { ...built, producer, members, driver, twoLeague, suspicions, overdue, viewChanges, payer };
}

describe("members do not take an honest producer for a censor", () => {
  it("a transaction with a missing input sent to every member: held as an orphan by the producer, refused, answered everywhere; the producer keeps its seat", async () => {
    const { cluster, producer, members, twoLeague, suspicions, viewChanges, payer } = shardZero("false-censorship-orphan");
    await cluster.advance(600);
    const { transaction, txid } = signTransaction(
      { kind: TxKind.Transfer, inputs: [{ ...MISSING, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: 1_000n }] },
      [payer],
    );
    const orphan = encodeTransaction(transaction);
    const views = viewChanges();
    const answers = await Promise.all([producer, ...members].map((via) => cluster.submitAndWait(0, [orphan], via)));
    assert.ok(answers.every(([answer]) => answer!.outcome === "accepted"), "every validator takes it: its input may come later");
    let kept = true;
    const answered = () => members.every((id) => cluster.status(id, toHex(txid))?.state === "rejected");
    assert.ok(await cluster.advance(ORPHAN_WAIT_MS + 3 * SUSPEND_AFTER_MS, () => !(kept &&= twoLeague()) || answered()), "every member answers it");
    assert.ok(kept && twoLeague(), "the producer is never suspended");
    await cluster.advance(2 * SUSPEND_AFTER_MS);
    assert.ok(twoLeague(), "nor after the orphan is refused");
    assert.equal(suspicions(), 0, "no member proposed or refused a suspension");
    assert.equal(viewChanges(), views, "no view was lost");
    assert.equal(cluster.agreement(0).firstDifference, undefined);
    await cluster.stop();
  });

  it("one transaction sent to the producer and every member at once (the launcher's probe), its optimistic block lost on the way to one member: final on every replica, every relay settled, the producer keeps its seat", async () => {
    const { sim, cluster, producer, members, twoLeague, suspicions, viewChanges, payer, positions } = shardZero("false-censorship-probe");
    await cluster.advance(600);
    // That member learns the probe from the final chain only, as after a block missed at a switch or a one-league height.
    const [blind] = members;
    sim.network.intercept(producer, (to, type, payload) => (to === blind && type === POB_MESSAGES.OPTIMISTIC_BLOCK ? undefined : payload));
    const { transaction, txid } = signTransaction(
      {
        kind: TxKind.Transfer,
        inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }],
        outputs: [{ owner: payer.publicKey, amount: 1_000_000n }],
      },
      [payer],
    );
    const probe = encodeTransaction(transaction);
    const views = viewChanges();
    await Promise.all([producer, ...members].map((via) => cluster.submitAndWait(0, [probe], via)));
    const final = () => cluster.replicas(0).every((node) => node.driver.status(txid).state === "final");
    assert.ok(await cluster.advance(5_000, final), "final on every replica");
    await cluster.advance(3 * SUSPEND_AFTER_MS);
    assert.ok(twoLeague(), "the producer keeps its seat");
    assert.equal(suspicions(), 0);
    assert.equal(viewChanges(), views, "no view was lost");
    for (const id of members) assert.deepEqual(await (cluster.node(id)!.driver as PobShardConsensus).acceptedUnsettled(), [], `${id.slice(0, 8)} holds no unanswered relay`);
    await cluster.stop();
  });

  it("the producer's block reaches no member (their links not up yet at a start): each member relaying one of its transactions gets the block, which becomes final; nothing is found overdue", async () => {
    const { sim, cluster, producer, members, driver, twoLeague, overdue, payer, positions } = shardZero("false-censorship-unseen-block");
    await cluster.advance(600);
    const { transaction, txid } = signTransaction(
      { kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: 1_000_000n }] },
      [payer],
    );
    const bytes = encodeTransaction(transaction);
    // Its first broadcast is lost on the way to every member, so no leader can order the block.
    let lost = true;
    sim.network.intercept(producer, (_to, type, payload) => (lost && type === POB_MESSAGES.OPTIMISTIC_BLOCK ? undefined : payload));
    await cluster.submitAndWait(0, [bytes], producer);
    assert.ok(await cluster.advance(1_000, () => driver(producer).status(txid).state === "optimistic"), "sealed at the producer");
    lost = false;
    const before = overdue();
    // The launcher's probe: the client sends it to every member too.
    const answers = await Promise.all(members.map((via) => cluster.submitAndWait(0, [bytes], via)));
    assert.ok(answers.every(([answer]) => answer!.outcome === "accepted"), "each member relays it: it has not seen the block");
    const final = () => cluster.replicas(0).every((node) => node.driver.status(txid).state === "final");
    assert.ok(await cluster.advance(SERVICE_OVERDUE_MS, final), "final on every replica before any relay is overdue");
    await cluster.advance(2 * SERVICE_OVERDUE_MS);
    assert.equal(overdue(), before, "no member found the producer overdue");
    assert.ok(twoLeague());
    await cluster.stop();
  });

  it("a member behind the chain relays a transaction final there: the producer's answer makes it fetch the heights it lacks at once, and it finds nothing overdue", async () => {
    // The devnet's idle heartbeat: without the answer, the member learns the heights it missed only at the next one, seconds later.
    const { sim, cluster, producer, members, driver, twoLeague, overdue, payer, positions } = shardZero("false-censorship-behind", DEFAULT_IDLE_PROPOSAL_MS);
    await cluster.advance(600);
    const [behind] = members;
    const others = [...cluster.members(0), ...cluster.members(1)].filter((id) => id !== behind);
    const height = () => driver(producer).node.validator.height;
    const { transaction, txid } = signTransaction(
      { kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: 1_000_000n }] },
      [payer],
    );
    const bytes = encodeTransaction(transaction);
    // Just after an idle height, the member is cut off while the transfer becomes final (the other three members decide without
    // it), as a member whose links came up late: it waits for the next height as for an idle one, a whole heartbeat.
    const idle = height();
    assert.ok(await cluster.advance(2 * DEFAULT_IDLE_PROPOSAL_MS, () => height() > idle));
    sim.network.partition([others]);
    await cluster.submitAndWait(0, [bytes], producer);
    assert.ok(await cluster.advance(SERVICE_OVERDUE_MS, () => driver(producer).status(txid).state === "final"), "final without the member");
    sim.network.heal();
    const before = overdue();
    assert.equal(driver(behind).status(txid).state === "final", false, "the member is behind");
    const [answer] = await cluster.submitAndWait(0, [bytes], behind);
    assert.equal(answer!.outcome, "accepted", "it cannot tell: the transfer's input is unspent in its state");
    assert.ok(await cluster.advance(SERVICE_OVERDUE_MS / 2, () => driver(behind).status(txid).state === "final"), "it catches up well before the relay would be overdue");
    await cluster.advance(2 * SERVICE_OVERDUE_MS);
    assert.equal(overdue(), before, "no member found the producer overdue");
    assert.ok(twoLeague());
    assert.deepEqual(await driver(behind).acceptedUnsettled(), [], "its relay is answered");
    await cluster.stop();
  });

  it("a byzantine peer's TX_FINAL_AHEAD: a malformed one is refused with its code, a false height changes nothing (the producer keeps producing, the chain agrees)", async () => {
    const { cluster, producer, driver, payer, positions } = shardZero("false-censorship-final-ahead");
    await cluster.advance(600);
    // A validator of the other shard has no client channel of shard 0 open: it speaks on one as any peer could.
    const liar = cluster.members(1)[0]!;
    const channel = cluster.node(liar)!.transport.open({ protocol: "client", shard: 0, epoch: 0 });
    channel.send(producer, TX_FINAL_AHEAD, new Uint8Array(7));
    channel.send(producer, TX_FINAL_AHEAD, BinaryWriter.ofSize(8).u64(1_000_000_000).finish());
    await cluster.advance(500);
    assert.ok(cluster.handlerFailureCodes.some((entry) => entry.startsWith("client:POB_BAD_MESSAGE ")), `the malformed one is counted: ${cluster.handlerFailureCodes.join("; ")}`);
    const { transaction, txid } = signTransaction(
      { kind: TxKind.Transfer, inputs: [{ txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: 1_000_000n }] },
      [payer],
    );
    const [answer] = await cluster.submitAndWait(0, [encodeTransaction(transaction)], producer);
    assert.equal(answer!.outcome, "accepted", "the producer still takes transactions: a claimed height is no evidence that it is behind");
    assert.ok(await cluster.advance(3_000, () => cluster.replicas(0).every((node) => node.driver.status(txid).state === "final")), "final everywhere");
    assert.equal(driver(producer).status(txid).state, "final");
    assert.equal(cluster.agreement(0).firstDifference, undefined);
    channel.close();
    await cluster.stop();
  });

  it("a relay that reached the producer as a duplicate of a copy it then refuses: every relaying member hears the refusal at once, not RELAY_UNANSWERED after RELAY_ANSWER_MS", async () => {
    const { cluster, producer, members, twoLeague, payer, positions } = shardZero("false-censorship-duplicate-refused");
    await cluster.advance(600);
    const coin = { txid: cluster.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey };
    // Held as an orphan at the producer (one input is missing), so the members' relays arrive as duplicates of its copy.
    const held = signTransaction({ kind: TxKind.Transfer, inputs: [coin, { ...MISSING, owner: payer.publicKey }], outputs: [{ owner: payer.publicKey, amount: 1_000n }] }, [payer]);
    // Then the coin is spent, so the producer refuses the orphan at its next look.
    const spend = signTransaction({ kind: TxKind.Transfer, inputs: [coin], outputs: [{ owner: payer.publicKey, amount: 1_000_000n }] }, [payer]);
    const heldBytes = encodeTransaction(held.transaction);
    await Promise.all([producer, ...members].map((via) => cluster.submitAndWait(0, [heldBytes], via)));
    await cluster.advance(300);
    await cluster.submitAndWait(0, [encodeTransaction(spend.transaction)], producer);
    const refusedAtMembers = () => members.every((id) => cluster.status(id, toHex(held.txid))?.state === "rejected");
    assert.ok(await cluster.advance(SUSPEND_AFTER_MS, refusedAtMembers), "every member's client hears the refusal within seconds");
    for (const id of members) {
      const status = cluster.status(id, toHex(held.txid));
      assert.ok(status?.state === "rejected" && status.code !== "RELAY_UNANSWERED", `the producer's own code, got ${JSON.stringify(status)}`);
    }
    assert.ok(twoLeague());
    await cluster.stop();
  });
});
