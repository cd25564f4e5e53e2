/**
 * Atomix over real processes (issue 13): a 2-shard Proof-of-Believability devnet (`startDevnet`,
 * one believable producer and a normal league of three per shard, 8 `ios node` processes) and
 * `ios tx send` paying from a shard-0 account to a shard-1 account. The CLI runs the whole flow
 * over HTTP: the lock in shard 0, its proof from GET /v1/atomix, the unlock-to-commit in both
 * shards. Every validator of both shards must show the transfer committed, the balances must
 * move by the amount, and supply summed over the shards must stay.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ApiClient, type AtomixJson } from "../../src/api/client.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { deriveTestAccounts, parseGenesis } from "../../src/ledger/genesis.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { keyFileJson } from "../../src/node/config.js";
import { verifyDecisionProof, committeesOfContext } from "../../src/atomix/proof.js";
import { ios } from "../cli/helpers.js";
import { waitFor } from "./processes.js";

const root = mkdtempSync(join(tmpdir(), "ios-atomix-processes-"));
const SEED = "atomix processes";
const AMOUNT = 100_000n;
let devnet: Devnet | undefined;
after(async () => {
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("Atomix over real processes: a 2-shard PoB devnet", () => {
  it("ios tx send pays across shards: locked, proven, committed on every validator of both shards; balances and supply add up", async () => {
    devnet = await startDevnet({ shards: 2, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: SEED, accounts: 8, amount: AMOUNT, workers: 1 });
    assert.equal(devnet.consensus, true);
    const accounts = deriveTestAccounts(SEED, 8);
    const payer = accounts.find((a) => shardOfOwner(a.publicKey, 2) === 0)!;
    const payee = accounts.find((a) => shardOfOwner(a.publicKey, 2) === 1)!;
    const keyFile = join(root, "payer.key.json");
    writeFileSync(keyFile, keyFileJson(payer), { mode: 0o600 });
    const validators = devnet.manifest.validators;
    const urlOf = (shard: number) => validators.find((v) => v.shard === shard)!.http;
    const clients = validators.map((v) => ({ shard: v.shard, api: new ApiClient(v.http) }));
    const supply = async () => {
      let sum = 0n;
      for (const shard of [0, 1]) for (const account of accounts.filter((a) => shardOfOwner(a.publicKey, 2) === shard)) sum += BigInt((await new ApiClient(urlOf(shard)).balance(hex(account.publicKey))).balance);
      return sum;
    };
    const before = await supply();

    const sent = await ios(["tx", "send", "--from", keyFile, "--to", hex(payee.publicKey), "--amount", "1234", "--node", urlOf(0), "--node", urlOf(1), "--timeout", "60"]);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    const txid = /^txid ([0-9a-f]{64}) cross-shard: shard 0 → shard 1$/m.exec(sent.stdout)?.[1];
    assert.ok(txid !== undefined, sent.stdout);
    for (const step of ["lock submitted", "every input shard decided", "unlock submitted", "settled in every shard"]) assert.match(sent.stdout, new RegExp(step));

    // Every validator of both shards reaches the committed phase; shard 0's proof verifies offline.
    for (const { shard, api } of clients) {
      const found: AtomixJson = await waitFor(async (): Promise<AtomixJson | undefined> => {
        const view: AtomixJson | undefined = await api.atomix(txid).catch(() => undefined);
        return view?.phase === "committed" ? view : undefined;
      }, `validator of shard ${shard} committed ${txid}`);
      assert.equal(found.shard, shard);
      if (shard === 0) {
        assert.ok(found.proof !== undefined, "the input shard keeps the proof of its lock decision");
        const context = genesisEpochContext(parseGenesis(readFileSync(join(root, "devnet", "genesis.json"), "utf8")));
        assert.deepEqual(verifyDecisionProof(Buffer.from(found.proof, "hex"), Buffer.from(txid, "hex"), committeesOfContext(context)), { epoch: 0, shard: 0, accepted: true, code: undefined });
      } else {
        assert.equal(found.proof, undefined, "an output-only shard decided no lock");
      }
    }
    assert.equal((await new ApiClient(urlOf(1)).balance(hex(payee.publicKey))).balance, String(AMOUNT + 1234n));
    assert.equal((await new ApiClient(urlOf(0)).balance(hex(payer.publicKey))).balance, String(AMOUNT - 1234n));
    assert.equal(await supply(), before, "supply over both shards is conserved (the payment pays no fee)");
  });
});
