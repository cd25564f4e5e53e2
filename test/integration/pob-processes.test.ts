/**
 * Proof-of-Believability with one OS process per validator (issue 6): `ios genesis --consensus pob
 * --believable 1` writes a 1-shard, 4-validator devnet whose league draw puts one validator in the
 * believable league and three in the normal league. Signed transfers are sent over HTTP to
 * validators of both leagues (a normal one relays to the believable one); every transaction must
 * be announced optimistically on a client stream before it is final, every validator must store
 * the same final chain, each final block's commit certificate must verify against the finality
 * log, and the HTTP status must show the optimistic and final states. Every child is killed at
 * the end.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { FRAME_OPTIMISTIC, decodeOptimistic } from "../../src/api/stream-codec.js";
import { DEFAULT_MAX_PROPOSAL_BYTES, verifyFinality } from "../../src/consensus/bft/codec.js";
import { proposalHash } from "../../src/consensus/pob/proposal.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { BlockKind, decodeBlock } from "../../src/ledger/block.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { deriveTestAccounts, genesisTxid } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { FileFinalityLog } from "../../src/node/consensus/finality-log.js";
import { startShardNetwork, stopAll, waitFor, type ShardNetwork } from "./processes.js";

const SEED = "pob processes";
const VALIDATORS = 4;
const ACCOUNTS = 16;
const AMOUNT = 1_000_000n;

/** A transaction's state on one validator; "unknown" while it has not heard of it (HTTP 404 TX_NOT_FOUND). */
async function stateOn(api: { transaction(txid: string): Promise<{ state: string }> }, txid: string): Promise<{ state: string; code?: string }> {
  try {
    return await api.transaction(txid);
  } catch (error) {
    if ((error as { code?: string }).code === "TX_NOT_FOUND") return { state: "unknown" };
    throw error;
  }
}

describe("Proof-of-Believability: one shard of 4 validator processes over loopback", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-pob-processes-"));
  const started: { network?: ShardNetwork } = {};
  const verifier = new Ed25519Verifier();

  after(async () => {
    await stopAll(started.network);
    rmSync(directory, { recursive: true, force: true });
  });

  it("confirms optimistically, finalizes by the normal league, and stores one verifiable chain everywhere", async () => {
    const { genesis, validators } = await startShardNetwork(
      {
        directory, validators: VALIDATORS, accounts: ACCOUNTS, seed: SEED, pipeline: { workers: 1 },
        consensus: { mode: "pob", viewTimeoutMs: 1000, idleBlockMs: 100 }, pob: { believable: 1, samplingProbability: 0.5 },
      },
      started,
    );
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
    const statuses = await Promise.all(validators.map((v) => v.api!.status()));
    const consensus = statuses.map((s) => (s as unknown as { consensus: { mode: string; leagueMode: string; believable: string[]; normal: string[]; role: string } }).consensus);
    for (const c of consensus) {
      assert.equal(c.mode, "pob");
      assert.equal(c.leagueMode, "two-league");
      assert.deepEqual(c.believable, consensus[0]!.believable, "every validator drew the same league");
    }
    assert.equal(consensus[0]!.believable.length, 1);
    assert.equal(consensus[0]!.normal.length, 3);
    const believable = validators.find((v) => v.publicKey === consensus[0]!.believable[0])!;
    const normal = validators.filter((v) => v !== believable);

    // A client stream on a normal validator hears optimistic blocks it did not produce.
    const optimisticAt = new Map<string, { at: number; producer: string }>();
    const stream = new WebSocket(`ws://127.0.0.1:${normal[0]!.port}/v1/stream`);
    await new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", reject);
    });
    stream.on("message", (data: Buffer) => {
      const frame = new Uint8Array(data);
      if (frame[0] !== FRAME_OPTIMISTIC) return;
      const batch = decodeOptimistic(frame);
      for (let at = 0; at < batch.txids.length; at += 32) optimisticAt.set(hex(batch.txids.subarray(at, at + 32)), { at: Date.now(), producer: hex(batch.producer) });
    });
    stream.send(JSON.stringify({ op: "subscribe" }));

    const genesisId = genesisTxid(genesis);
    const accounts = deriveTestAccounts(SEED, ACCOUNTS);
    const transfers = accounts.slice(0, 12).map((owner, index) => {
      const { transaction, txid } = signTransaction(
        {
          kind: TxKind.Transfer,
          inputs: [{ txid: genesisId, index, owner: owner.publicKey }],
          outputs: [
            { owner: accounts[(index + 1) % ACCOUNTS]!.publicKey, amount: 1000n },
            { owner: owner.publicKey, amount: AMOUNT - 1000n },
          ],
        },
        [owner],
      );
      return { bytes: encodeTransaction(transaction), txid: hex(txid) };
    });
    // Entry through every validator: the normal ones relay to the believable producer.
    const answers = await Promise.all(transfers.map((t, i) => validators[i % VALIDATORS]!.api!.submitTransaction(t.bytes)));
    for (const answer of answers) assert.equal(answer.outcome, "accepted");
    for (const t of transfers) {
      for (const v of validators) await waitFor(async () => ((await stateOn(v.api!, t.txid)).state === "final" ? true : undefined), `${t.txid} final on validator ${v.index}`);
    }
    for (const t of transfers) {
      const seen = optimisticAt.get(t.txid);
      assert.ok(seen !== undefined, `${t.txid} was announced optimistically`);
      assert.equal(seen.producer, believable.publicKey);
    }
    stream.close();

    // A double spend of an output already pending at the producer is refused by its view.
    const spent = accounts[12]!;
    const spend = (to: number) =>
      encodeTransaction(
        signTransaction({ kind: TxKind.Transfer, inputs: [{ txid: genesisId, index: 12, owner: spent.publicKey }], outputs: [{ owner: accounts[to]!.publicKey, amount: AMOUNT - 1n }] }, [spent])
          .transaction,
      );
    const first = await believable.api!.submitTransaction(spend(13));
    assert.equal(first.outcome, "accepted");
    const second = await believable.api!.submitTransaction(spend(14));
    const secondTxid = second.txid!;
    await waitFor(async () => ((await stateOn(believable.api!, first.txid!)).state === "final" ? true : undefined), "the first spend final");
    const loser = await waitFor(async () => {
      const status = await stateOn(believable.api!, secondTxid);
      return status.state === "rejected" ? status : undefined;
    }, "the second spend rejected");
    assert.equal((loser as { code?: string }).code, "POB_DOUBLE_SPEND_PENDING");

    // One chain: the same block hash at every height on every validator, kind Final, certified.
    const tips = await Promise.all(validators.map(async (v) => (await v.api!.status()).tip.height));
    const height = Math.min(...tips);
    assert.ok(height >= 1);
    const blockAt = (v: (typeof validators)[number], h: number) => v.api!.request<{ hash: string; kind: string; bytes: string }>("GET", `/v1/block/${h}?bytes=1`);
    // Block time never runs backwards: every final block, empty ones too, is no earlier than its parent (block 1's is the genesis).
    let parentTimestamp = genesis.timestamp;
    for (let h = 1; h <= height; h++) {
      const blocks = await Promise.all(validators.map((v) => blockAt(v, h)));
      assert.equal(new Set(blocks.map((b) => b.hash)).size, 1, `validators disagree at height ${h}`);
      for (const b of blocks) assert.equal(b.kind, "final");
      const { timestamp } = blocks[0]! as unknown as { timestamp: number };
      assert.ok(timestamp >= parentTimestamp, `block ${h}'s timestamp ${timestamp} is earlier than its parent's ${parentTimestamp}`);
      parentTimestamp = timestamp;
    }
    const normalKeys = consensus[0]!.normal.map((k) => new Uint8Array(Buffer.from(k, "hex")));
    const log = new FileFinalityLog(join(normal[0]!.dataDir, "finality"), { firstHeight: 1, participants: normalKeys.length, maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES });
    try {
      const chainId = genesisEpochContext(genesis).instance(0).key;
      let finalTxs = 0;
      for (let h = 1; h <= Math.min(height, log.lastHeight); h++) {
        const record = log.get(h)!;
        assert.ok(verifyFinality(normalKeys, chainId, record, verifier, proposalHash), `finality record ${h} verifies`);
        const block = decodeBlock(new Uint8Array(Buffer.from((await blockAt(normal[0]!, h)).bytes, "hex")));
        assert.equal(block.header.kind, BlockKind.Final);
        assert.ok(block.seal.kind === "collective" && hex(block.seal.signature) === hex(record.commitCert.signature), `block ${h} is sealed by its commit certificate`);
        assert.ok(proposalHash(record.proposal).length === 32);
        finalTxs += block.header.txCount;
      }
      assert.ok(finalTxs >= transfers.length + 1);
    } finally {
      log.close();
    }
  });
});
