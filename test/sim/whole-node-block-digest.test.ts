// Issue 13: every byte a member judges is bound by the block hash (src/ledger/block.ts, body
// root). Between whole PoB validators in the simulator (2 shards × 5), shard 1's believable
// producer is byzantine on its links (a relay would do the same): to two of its shard's members
// it sends every optimistic block whose unlocks cite a certified part with one byte of that part
// changed — inside the commit certificate's signature, so the copy keeps its header, seal, hash,
// length and every txid — both when it broadcasts and when it answers a fetch. Before the body
// root those members held the forged copy under the honest hash and judged the unlock
// TX_PROOF_BAD_SIGNATURE while the others accepted it. Now: no honest member holds the forgery
// (each refuses it with BLOCK_BODY_ROOT_MISMATCH and takes the honest copy from another member),
// every replica of each shard stores the same blocks and supply, the cross-shard transfer
// commits in both shards, and the shard keeps finalizing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { POB_MESSAGES } from "../../src/consensus/pob/protocol.js";
import { toHex } from "../../src/hex.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { HEADER_BYTES } from "../../src/ledger/block.js";
import { SIGNATURE_BYTES } from "../../src/codec/sizes.js";
import { CITED_BODY_MARK } from "../../src/ledger/kinds/atomix-citations.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { atomixUnlockTxid } from "../../src/ledger/kinds/atomix-unlock.js";
import { runCrossShardTransfer, signCrossShardTransfer } from "../../src/atomix/client.js";
import { encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { atomixAccess, entryOf, pobCluster, slashingsOf, WHOLE_NODE } from "./pob-cluster.js";

const POLICY: ShardingPolicy = {
  believableLeagueSize: 1, normalLeagueSize: 4, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 256,
};
const SHARDS = WHOLE_NODE.shards;
/** The forged byte: in the body's first certified part (after the mark, the part count and its u16 length), past its 22-byte head, its body digest and prepare hash (64), the certificate's committee size (2), mask (1), 10 bytes into its signature. */
const FORGED_AT = HEADER_BYTES + SIGNATURE_BYTES + 4 + 2 + 2 + 22 + 64 + 2 + 1 + 10;


describe("a byzantine relay rewrites an unlock's proof inside the blocks it forwards (issue 13)", () => {
  it("no honest member holds the forged copy: each refuses it with BLOCK_BODY_ROOT_MISMATCH, replicas agree, the transfer commits everywhere, the shard keeps finalizing", async () => {
    const { sim, genesis, accounts, cluster: nodes, positions } = pobCluster({ seed: "block-digest relay", genesisSeed: "block-digest", policy: POLICY, shards: SHARDS, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount });
    const leagues = nodes.context.leagues(1);
    const producer = nodes.members(1).find((id) => leagues.isBelievable(Buffer.from(id, "hex")))!;
    const victims = new Set(nodes.members(1).filter((id) => id !== producer).slice(0, 2));
    let forged = 0;
    sim.network.intercept(producer, (to, type, payload) => {
      if (type !== POB_MESSAGES.OPTIMISTIC_BLOCK || !victims.has(to)) return payload;
      const region = payload.subarray(HEADER_BYTES + SIGNATURE_BYTES);
      if (region.length < 4 || Buffer.from(region.buffer, region.byteOffset, 4).readUInt32LE(0) !== CITED_BODY_MARK) return payload;
      const copy = Uint8Array.from(payload);
      copy[FORGED_AT]! ^= 0x01;
      forged++;
      return copy;
    });

    const inShard = (shard: number) => accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === shard);
    const [a, c] = inShard(0);
    const [b, d] = inShard(1);
    const coin = (owner: typeof a) => ({ txid: nodes.context.chain, owner: owner!.publicKey, index: positions.get(toHex(owner!.publicKey))!, amount: WHOLE_NODE.amount });
    const x = signCrossShardTransfer({
      kind: TxKind.AtomixLock, inputs: [coin(a), coin(b)], outputs: [{ owner: c!.publicKey, amount: 1_200_000n }, { owner: d!.publicKey, amount: 799_990n }],
    }, [a!, b!]);
    await nodes.advance(500);
    let report: Awaited<ReturnType<typeof runCrossShardTransfer>> | undefined;
    let failure: unknown;
    void runCrossShardTransfer(x, atomixAccess(nodes)).then((r) => (report = r), (error: unknown) => (failure = error));
    const committedEverywhere = () => nodes.replicas(0).concat(nodes.replicas(1)).every((node) => node.state.atomix(x.txid)?.phase === "committed");
    const settled = await nodes.advance(20_000, () => (report !== undefined || failure !== undefined) && committedEverywhere());
    assert.equal(failure, undefined);
    assert.ok(settled, `phases: ${[0, 1].map((s) => nodes.replicas(s).map((n) => n.state.atomix(x.txid)?.phase ?? "-").join("/")).join(" | ")}`);
    assert.equal(report!.outcome, "committed");
    assert.ok(forged > 0, "the relay forged the unlock's block for its victims");
    const refusals = nodes.handlerFailureCodes.filter((line) => line.includes("BLOCK_BODY_ROOT_MISMATCH"));
    assert.ok(refusals.length > 0, `the forged copies are refused with the code: ${nodes.handlerFailureCodes.join(", ")}`);

    // The unlock final in shard 1 is the honest one on every replica, byte for byte.
    const unlockTxid = atomixUnlockTxid(TxKind.AtomixUnlockCommit, x.unsigned);
    for (const node of nodes.replicas(1)) assert.equal(node.driver.status(unlockTxid).state, "final", "the unlock is final in shard 1");

    // The shard keeps finalizing after the forgery: an intra-shard payment in shard 1 goes final on every replica.
    const [e] = inShard(1).filter((owner) => owner !== b && owner !== d);
    const { transaction, txid: payTxid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: nodes.context.chain, index: positions.get(toHex(e!.publicKey))!, owner: e!.publicKey }], outputs: [{ owner: d!.publicKey, amount: WHOLE_NODE.amount - 10n }] }, [e!]);
    const heights = nodes.replicas(1).map((node) => node.state.tip.height);
    void nodes.submit(1, [encodeTransaction(transaction)], entryOf(nodes, 1));
    assert.ok(await nodes.advance(5_000, () => nodes.replicas(1).every((node) => node.driver.status(payTxid).state === "final")), "a later payment goes final in shard 1");
    nodes.replicas(1).forEach((node, k) => assert.ok(node.state.tip.height > heights[k]!));

    await nodes.advance(1_000);
    let supply = 0n;
    for (let shard = 0; shard < SHARDS; shard++) {
      assert.equal(nodes.agreement(shard).firstDifference, undefined, `shard ${shard}: every replica stores the same blocks`);
      const replicas = nodes.replicas(shard);
      assert.equal(new Set(replicas.map((node) => node.state.supply)).size, 1, `shard ${shard}: replicas agree on supply`);
      supply += replicas[0]!.state.supply;
    }
    assert.equal(supply, genesisSupply(genesis) - 10n - 10n, "supply conserved: the transfer's fee and the payment's");
    assert.deepEqual(nodes.failures, []);
  });

  it("a transfer's signature rewritten in a forwarded block (outside its txid): refused with BLOCK_BODY_ROOT_MISMATCH, the payments go final everywhere, no member samples it as the honest producer's fraud, no slashing", async () => {
    // Every member checks every signature it holds (sampling probability 1), so a forged copy held would be sampled.
    const policy: ShardingPolicy = { ...POLICY, samplingProbability: 1 };
    const { genesis, accounts, cluster: nodes, positions, sim } = pobCluster({ seed: "block-digest signature", genesisSeed: "block-digest", policy, shards: SHARDS, perShard: WHOLE_NODE.perShard, accounts: 16, amount: WHOLE_NODE.amount });
    const producer = nodes.members(0).find((id) => nodes.context.leagues(0).isBelievable(Buffer.from(id, "hex")))!;
    const entry = entryOf(nodes, 0);
    const victims = new Set(nodes.members(0).filter((id) => id !== producer).slice(0, 2));
    let forged = 0;
    sim.network.intercept(producer, (to, type, payload) => {
      const region = HEADER_BYTES + SIGNATURE_BYTES;
      if (type !== POB_MESSAGES.OPTIMISTIC_BLOCK || !victims.has(to) || payload.length <= region) return payload;
      // The first transaction's last byte: its last input's signature (a plain body: u32 length ‖ transfer).
      const copy = Uint8Array.from(payload);
      copy[region + 4 + Buffer.from(copy.buffer, region, 4).readUInt32LE(0) - 1]! ^= 0x01;
      forged++;
      return copy;
    });
    const payers = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === 0).slice(0, 4);
    await nodes.advance(500);
    const txids = payers.map((payer, k) => {
      const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: nodes.context.chain, index: positions.get(toHex(payer.publicKey))!, owner: payer.publicKey }], outputs: [{ owner: payers[(k + 1) % payers.length]!.publicKey, amount: WHOLE_NODE.amount - 10n }] }, [payer]);
      void nodes.submit(0, [encodeTransaction(transaction)], entry);
      return txid;
    });
    assert.ok(await nodes.advance(5_000, () => nodes.replicas(0).every((node) => txids.every((txid) => node.driver.status(txid).state === "final"))), "every payment goes final on every replica");
    await nodes.advance(1_000);
    assert.ok(forged > 0, "the relay forged blocks for its victims");
    assert.ok(nodes.handlerFailureCodes.some((line) => line.includes("BLOCK_BODY_ROOT_MISMATCH")), nodes.handlerFailureCodes.join(", "));
    for (const node of nodes.replicas(0)) assert.deepEqual(slashingsOf(node), [], "no replica slashes the honest producer");
    assert.equal(nodes.agreement(0).firstDifference, undefined);
    assert.equal(new Set(nodes.replicas(0).map((node) => node.state.supply)).size, 1);
    assert.equal(nodes.replicas(0)[0]!.state.supply + nodes.replicas(1)[0]!.state.supply, genesisSupply(genesis) - 10n * BigInt(payers.length));
    assert.deepEqual(nodes.failures, []);
  });
});
