/**
 * Fixtures of the client API tests: a real validator (LMDB in a temp dir, worker pool, uWS on an
 * ephemeral 127.0.0.1 port) over a deterministic genesis, signed transfers of its funded
 * accounts, and polling of conditions reached through the API.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genesisTxid, makeTestGenesis, type Genesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { TxKind, encodeTransaction, signTransaction, type TxInput, type TxOutput } from "../../src/ledger/transaction.js";
import { nodeConfigJson, parseNodeConfig, type NodeSetup } from "../../src/node/config.js";
import { ValidatorNode } from "../../src/node/validator.js";

export const AMOUNT = 1_000n;

export interface TestNet {
  genesis: Genesis;
  accounts: KeyPair[];
  validators: KeyPair[];
  dir: string;
}

export function makeNet(seed: string, shards = 1, accounts = 32, validatorCount = shards): TestNet {
  const { genesis, accounts: keys, validators } = makeTestGenesis({ seed, shardCount: shards, accounts, amount: AMOUNT, validators: validatorCount });
  return { genesis, accounts: keys, validators, dir: mkdtempSync(join(tmpdir(), "ios-api-")) };
}

/** The setup of validator `index` of `net` (shard index mod shardCount), listening on port 0. */
export function setupOf(net: TestNet, extra: Record<string, unknown> = {}, index = 0): NodeSetup {
  const file = join(net.dir, `validator-${index}.json`);
  const json = JSON.parse(
    nodeConfigJson({
      genesis: "genesis.json",
      key: "key.json",
      shard: index % net.genesis.shardCount,
      dataDir: `data-${index}`,
      listen: { host: "127.0.0.1", port: 0 },
      peers: [],
    }),
  ) as Record<string, unknown>;
  const config = parseNodeConfig(JSON.stringify({ ...json, pipeline: { workers: 1, blockIntervalMs: 50 }, ...extra }), file);
  return { config, genesis: net.genesis, key: net.validators[index]! };
}

export async function startNode(net: TestNet, extra: Record<string, unknown> = {}, index = 0): Promise<{ node: ValidatorNode; base: string }> {
  const node = await ValidatorNode.start(setupOf(net, extra, index));
  return { node, base: `http://127.0.0.1:${node.port}` };
}

/** Account `i` pays `amount` of its genesis output to `to`, change back to itself. */
export function genesisSpend(net: TestNet, i: number, to: Uint8Array, amount: bigint): { bytes: Uint8Array; txid: Uint8Array } {
  const payer = net.accounts[i]!;
  const inputs: TxInput[] = [{ txid: genesisTxid(net.genesis), index: i, owner: payer.publicKey }];
  const outputs: TxOutput[] = [{ owner: to, amount }];
  if (amount < AMOUNT) outputs.push({ owner: payer.publicKey, amount: AMOUNT - amount });
  const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs, outputs }, [payer]);
  return { bytes: encodeTransaction(transaction), txid };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

export async function postJson(url: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body) });
  return { status: response.status, body: await response.json(), headers: response.headers };
}
