/**
 * Shard consensus with one OS process per validator (issue 6): `ios genesis --consensus bft`
 * writes a 1-shard, 4-validator devnet; four `ios node` processes (ephemeral ports on 127.0.0.1)
 * agree on blocks over the authenticated transport. Signed transfers go to different validators
 * over HTTP; every validator must hold the same chain, every finality record must verify, and
 * after the leader is SIGKILLed the others change view and keep finalizing. Every child is
 * killed at the end.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MAX_PROPOSAL_BYTES, verifyFinality } from "../../src/consensus/bft/codec.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { decodeBlockEnvelope } from "../../src/ledger/block.js";
import { deriveTestAccounts, genesisTxid } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { FileFinalityLog } from "../../src/node/consensus/finality-log.js";
import { finalBlockOf } from "../../src/node/consensus/shard-consensus.js";
import { startShardNetwork, stopAll, stopProcess, waitFor, type ShardNetwork } from "./processes.js";

const SEED = "shard processes";
const VALIDATORS = 4;
const ACCOUNTS = 24;
const AMOUNT = 1_000_000n;

describe("one shard of 4 validator processes over loopback", () => {
  const directory = mkdtempSync(join(tmpdir(), "ios-shard-processes-"));
  const started: { network?: ShardNetwork } = {};
  const verifier = new Ed25519Verifier();

  after(async () => {
    await stopAll(started.network);
    rmSync(directory, { recursive: true, force: true });
  });

  it("agrees on one chain, proves every block final, and survives a SIGKILLed leader", async () => {
    const { genesis, validators } = await startShardNetwork(
      { directory, validators: VALIDATORS, accounts: ACCOUNTS, seed: SEED, pipeline: { workers: 1 }, consensus: { mode: "bft", viewTimeoutMs: 1000, idleBlockMs: 100 } },
      started,
    );
    const genesisId = genesisTxid(genesis);
    const accounts = deriveTestAccounts(SEED, ACCOUNTS);
    const context = genesisEpochContext(genesis);
    const participants = context.members(0);
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

    const transfer = (index: number, to: KeyPair): { bytes: Uint8Array; txid: string } => {
      const owner = accounts[index]!;
      const { transaction, txid } = signTransaction(
        {
          kind: TxKind.Transfer,
          inputs: [{ txid: genesisId, index, owner: owner.publicKey }],
          outputs: [
            { owner: to.publicKey, amount: 1000n },
            { owner: owner.publicKey, amount: AMOUNT - 1000n },
          ],
        },
        [owner],
      );
      return { bytes: encodeTransaction(transaction), txid: hex(txid) };
    };
    const running = () => validators.filter((v) => v.child !== undefined);
    const submitAndWait = async (transfers: { bytes: Uint8Array; txid: string }[]) => {
      const targets = running();
      const answers = await Promise.all(transfers.map((t, i) => targets[i % targets.length]!.api!.submitTransaction(t.bytes)));
      for (const answer of answers) assert.equal(answer.outcome, "accepted");
      for (const t of transfers) {
        for (const v of targets) await waitFor(async () => ((await v.api!.transaction(t.txid)).state === "final" ? true : undefined), `${t.txid} final on validator ${v.index}`);
      }
    };
    /** Same block hash at every height all running validators have. */
    const assertSameChain = async (): Promise<number> => {
      const tips = await Promise.all(running().map(async (v) => (await v.api!.status()).tip.height));
      const shared = Math.min(...tips);
      assert.ok(shared >= 1, `at least one final block (tips ${tips.join(", ")})`);
      for (let height = 1; height <= shared; height++) {
        const hashes = new Set<string>();
        for (const v of running()) {
          const response = await fetch(`http://127.0.0.1:${v.port}/v1/block/${height}`);
          hashes.add(((await response.json()) as { hash: string }).hash);
        }
        assert.equal(hashes.size, 1, `one block at height ${height}`);
      }
      return shared;
    };

    await submitAndWait(Array.from({ length: 8 }, (_, i) => transfer(i, accounts[ACCOUNTS - 1]!)));
    await assertSameChain();

    const viewChangesOf = async (v: (typeof validators)[number]) => ((await v.api!.status()) as unknown as { consensus: { viewChanges: number } }).consensus.viewChanges;
    const status = (await validators[0]!.api!.status()) as unknown as { consensus: { height: number; view: number } };
    const leader = validators[(status.consensus.height + status.consensus.view) % VALIDATORS]!;
    const survivors = validators.filter((v) => v !== leader);
    const before = await Promise.all(survivors.map(viewChangesOf));
    await stopProcess(leader, "SIGKILL");
    await submitAndWait(Array.from({ length: 6 }, (_, i) => transfer(8 + i, accounts[ACCOUNTS - 2]!)));
    await waitFor(async () => {
      const after = await Promise.all(survivors.map(viewChangesOf));
      return after.every((count, i) => count > before[i]!) ? true : undefined;
    }, "every survivor changed view past the dead leader");
    const shared = await assertSameChain();

    const hashes = new Map<number, string>();
    for (let height = 1; height <= shared; height++) {
      const response = await fetch(`http://127.0.0.1:${running()[0]!.port}/v1/block/${height}`);
      hashes.set(height, ((await response.json()) as { hash: string }).hash);
    }
    await Promise.all(running().map((v) => stopProcess(v, "SIGTERM")));
    for (const v of validators) {
      const log = new FileFinalityLog(join(v.dataDir, "finality"), { firstHeight: 1, participants: VALIDATORS, maxProposalBytes: DEFAULT_MAX_PROPOSAL_BYTES });
      try {
        assert.ok(log.lastHeight >= 1, `validator ${v.index} logged finality records`);
        for (let height = 1; height <= log.lastHeight; height++) {
          const record = log.get(height)!;
          assert.ok(verifyFinality(participants, context.instance(0).key, record, verifier), `validator ${v.index}: certificate of height ${height}`);
          const expected = hashes.get(height);
          if (expected !== undefined) assert.equal(hex(decodeBlockEnvelope(finalBlockOf(record)).hash), expected, `validator ${v.index}: height ${height}`);
        }
      } finally {
        log.close();
      }
    }
  });
});
