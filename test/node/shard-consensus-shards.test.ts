/**
 * Several shards side by side (issue 6): two shards of two validators each (validator i serves
 * shard i mod 2), all four on one full transport mesh, each shard running its own BFT over its
 * own members with its own chain id. A shard decides only its own transactions.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFinality } from "../../src/consensus/bft/codec.js";
import { decodeBlockEnvelope } from "../../src/ledger/block.js";
import { genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { PeerIdentity } from "../../src/net/peer-auth.js";
import { PEER_PATH, UwsTransport } from "../../src/net/uws-transport.js";
import { CryptoRng, SystemClock } from "../../src/runtime/system.js";
import { ShardConsensus, shardChainId, shardValidators } from "../../src/node/consensus/shard-consensus.js";
import { VerifiedTxQueue } from "../../src/node/consensus/verified-queue.js";
import { VerifierPool } from "../../src/node/pool/verify-pool.js";
import { ShardState } from "../../src/node/shard-state.js";
import { TxGossip } from "../../src/node/tx-gossip.js";

const SHARDS = 2;
const AMOUNT = 1_000_000n;
const { genesis, accounts, validators } = makeTestGenesis({ seed: "shards side by side", shardCount: SHARDS, accounts: 32, amount: AMOUNT, validators: 4 });
const GENESIS_ID = genesisTxid(genesis);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

interface Member {
  readonly shard: number;
  readonly state: ShardState;
  readonly pool: VerifierPool;
  readonly transport: UwsTransport;
  readonly consensus: ShardConsensus;
  readonly gossip: TxGossip;
  port: number;
}

function spend(index: number, to: KeyPair): { bytes: Uint8Array; txid: Uint8Array } {
  const owner = accounts[index]!;
  const { transaction, txid } = signTransaction(
    { kind: TxKind.Transfer, inputs: [{ txid: GENESIS_ID, index, owner: owner.publicKey }], outputs: [{ owner: to.publicKey, amount: AMOUNT }] },
    [owner],
  );
  return { bytes: encodeTransaction(transaction), txid };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("two shards, each with its own consensus, on one mesh", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-shards-side-by-side-"));
  const members: Member[] = [];

  before(async () => {
    for (const [i, key] of validators.entries()) {
      const shard = i % SHARDS;
      const state = ShardState.open({ directory: join(directory, `v${i}`), genesis, shard });
      const pool = new VerifierPool({ threads: 1 });
      const queue = new VerifiedTxQueue(state, pool);
      const peers = new Map(validators.filter((v) => v !== key).map((v) => [hex(v.publicKey), undefined] as const));
      const transport = new UwsTransport({ identity: PeerIdentity.fromSeed(key.secretKey), chainId: GENESIS_ID, host: "127.0.0.1", port: 0, peers, clock: new SystemClock(), rng: new CryptoRng() });
      const consensus = new ShardConsensus({ genesis, shard, key, transport, host: queue, viewTimeoutMs: 1000, idleBlockMs: 100 });
      const gossip = new TxGossip({ channel: transport.open({ protocol: "client", shard, epoch: 0 }), peers: consensus.participants.map(hex), sink: queue });
      const member: Member = { shard, state, pool, transport, consensus, gossip, port: 0 };
      member.port = (await transport.start()).port;
      members.push(member);
    }
    members.forEach((member, i) => {
      members.forEach((other, j) => {
        if (i !== j) member.transport.setPeer(hex(validators[j]!.publicKey), `ws://127.0.0.1:${other.port}${PEER_PATH}`);
      });
    });
    for (const member of members) member.consensus.start();
  });

  after(async () => {
    for (const member of members) {
      await member.consensus.stop();
      member.gossip.close();
      await member.transport.close();
      await member.pool.close();
      await member.state.close();
    }
    rmSync(directory, { recursive: true, force: true });
  });

  it("finalizes each shard's transfers on that shard's validators only, under that shard's chain id", async () => {
    for (let shard = 0; shard < SHARDS; shard++) {
      const expected = validators.filter((_, i) => i % SHARDS === shard).map((v) => hex(v.publicKey));
      assert.deepEqual(shardValidators(genesis, shard).map(hex), expected);
      for (const m of members.filter((m) => m.shard === shard)) assert.deepEqual(m.consensus.participants.map(hex), expected);
    }
    const byShard = [0, 1].map((shard) => accounts.map((a, index) => ({ a, index })).filter(({ a }) => shardOfOwner(a.publicKey, SHARDS) === shard).slice(0, 4));
    const transfers = byShard.map((owned) => owned.map(({ a, index }) => ({ ...spend(index, a), shard: shardOfOwner(a.publicKey, SHARDS) })));
    for (const list of transfers) {
      for (const [k, t] of list.entries()) {
        const entry = members.filter((m) => m.shard === t.shard)[k % 2]!;
        const [result] = await entry.gossip.submit([t.bytes]);
        assert.equal(result!.outcome, "accepted");
      }
    }
    const foreign = transfers[1]![0]!;
    const [refused] = await members.find((m) => m.shard === 0)!.gossip.submit([foreign.bytes]);
    assert.equal(refused!.outcome, "rejected", "a shard-0 validator refuses a shard-1 transaction");
    await waitFor(() => transfers.flat().every((t) => members.filter((m) => m.shard === t.shard).every((m) => m.state.getTransactionLocation(t.txid) !== undefined)), "every transfer final in its shard");
    for (const t of transfers.flat()) {
      for (const m of members.filter((m) => m.shard !== t.shard)) assert.equal(m.state.getTransactionLocation(t.txid), undefined, "never final in the other shard");
    }
    for (let shard = 0; shard < SHARDS; shard++) {
      const [a, b] = members.filter((m) => m.shard === shard);
      const shared = Math.min(a!.state.tip.height, b!.state.tip.height);
      for (let height = 1; height <= shared; height++) {
        assert.equal(hex(decodeBlockEnvelope(a!.state.getBlock(height)!).hash), hex(decodeBlockEnvelope(b!.state.getBlock(height)!).hash), `shard ${shard} height ${height}`);
        const record = a!.consensus.log.get(height)!;
        assert.ok(verifyFinality(shardValidators(genesis, shard), shardChainId(genesis, shard), record));
        assert.equal(verifyFinality(shardValidators(genesis, shard), shardChainId(genesis, 1 - shard), record), false, "a certificate does not carry over to the other shard");
      }
    }
  });
});
