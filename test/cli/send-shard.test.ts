/**
 * `ios tx send` picks, at submission time, a --node that serves the payer's shard (issue 16): a real
 * validator process on 127.0.0.1 behind scripted relays, also on 127.0.0.1, that play a node which
 * left the shard (its status still names it, its submissions answer TX_WRONG_SHARD) or a node of
 * another shard. Every other request a relay passes to the validator untouched.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { toHex } from "../../src/hex.js";
import { transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { loadKeyFile } from "../../src/node/config.js";
import { ios, IosProcess, singleValidatorConfig, startValidator } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "ios-cli-send-shard-"));
const running: IosProcess[] = [];
const relays: Relay[] = [];
let validator: string;
before(async () => {
  ({ url: validator } = await startValidator(await singleValidatorConfig(dir, "send-shard", 4, 1000), running));
});
after(async () => {
  for (const relay of relays) await relay.close();
  for (const p of running) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

const payerFile = join(dir, "account-0.key.json");
const payee = (): string => Buffer.from(loadKeyFile(join(dir, "account-1.key.json")).publicKey).toString("hex");

function body(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

/**
 * A scripted node: its status rewritten by `status`, every other read relayed to the validator.
 * Submissions are refused with TX_WRONG_SHARD, except the first `accepts`: it answers them
 * accepted and, from then on, their status as rejected with RELAY_UNANSWERED (a node whose relay
 * to the assignee went unanswered across a switch).
 */
class Relay {
  readonly requests: string[] = [];
  readonly #server: Server;
  readonly #unanswered = new Set<string>();
  url = "";

  constructor(readonly status: (real: Record<string, unknown>) => Record<string, unknown> = (real) => real, accepts = 0) {
    this.#server = createServer(async (request, response) => {
      const path = request.url ?? "/";
      this.requests.push(`${request.method} ${path}`);
      const sent = await body(request);
      const answer = (code: number, json: unknown) => {
        response.writeHead(code, { "content-type": "application/json" });
        response.end(JSON.stringify(json));
      };
      if (request.method === "POST" && path === "/v1/tx") {
        if (this.#unanswered.size >= accepts) return answer(400, { error: { code: "TX_WRONG_SHARD", message: "input 0 belongs to shard 0, not 1" } });
        const txid = toHex(transactionIdOfEncoding(Buffer.from((JSON.parse(sent) as { tx: string }).tx, "hex")));
        this.#unanswered.add(txid);
        return answer(202, { txid, outcome: "accepted", status: { state: "pending" } });
      }
      const asked = /^\/v1\/tx\/([0-9a-f]{64})$/.exec(path)?.[1];
      if (asked !== undefined && this.#unanswered.has(asked)) return answer(200, { txid: asked, state: "rejected", code: "RELAY_UNANSWERED" });
      // The CLI reads nothing else than with GET.
      const relayed = await fetch(`${validator}${path}`);
      const text = await relayed.text();
      response.writeHead(relayed.status, { "content-type": "application/json" });
      response.end(path === "/v1/status" ? JSON.stringify(this.status(JSON.parse(text) as Record<string, unknown>)) : text);
    });
    relays.push(this);
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    assert.ok(address !== null && typeof address === "object");
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  count(request: string): number {
    return this.requests.filter((seen) => seen === request).length;
  }
}

describe("ios tx send finds a node of the payer's shard at submission time", { timeout: 120_000 }, () => {
  it("a node that left the shard refuses with TX_WRONG_SHARD: the statuses are read again and the payment lands, final, at the next node serving it", async () => {
    const left = await new Relay().listen();
    // An unreachable node first: its status cannot be read, so it is passed over.
    const sent = await ios(["tx", "send", "--from", payerFile, "--to", payee(), "--amount", "250", "--node", "http://127.0.0.1:9", "--node", left.url, "--node", validator, "--wait"]);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    assert.equal(left.count("POST /v1/tx"), 1, "the node that left was asked once");
    assert.match(sent.stdout, new RegExp(`^${left.url} refused it \\(TX_WRONG_SHARD: input 0 belongs to shard 0, not 1\\); reading the nodes' shards again\ntxid ([0-9a-f]{64}) accepted\nfinal at height \\d+ index 0 block [0-9a-f]{64}\n$`));
    const txid = /txid ([0-9a-f]{64}) accepted/.exec(sent.stdout)![1]!;
    assert.equal((await new ApiClient(validator).transaction(txid)).state, "final", "the validator took it and made it final");
    assert.equal((await new ApiClient(validator).balance(payee())).balance, "1250");
  });

  it("a node that claims a far epoch of the payer's shard is tried first, but its refusal leaves the nodes of earlier epochs usable", async () => {
    const far = await new Relay((real) => ({ ...real, epoch: 1_000_000, decidingEpoch: 1_000_000 })).listen();
    const sent = await ios(["tx", "send", "--from", payerFile, "--to", payee(), "--amount", "7", "--node", validator, "--node", far.url]);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    assert.equal(far.count("POST /v1/tx"), 1, "the latest epoch's node was asked first");
    assert.match(sent.stdout, new RegExp(`^${far.url} refused it \\(TX_WRONG_SHARD: .*\\); reading the nodes' shards again\ntxid [0-9a-f]{64} accepted\n$`));
  });

  it("with --wait, a rejection that says where the transaction went (RELAY_UNANSWERED) sends the same bytes again, and they land, final, at a node of the shard", async () => {
    const relayer = await new Relay(undefined, 1).listen();
    const sent = await ios(["tx", "send", "--from", payerFile, "--to", payee(), "--amount", "3", "--node", relayer.url, "--node", validator, "--wait"]);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    const txid = /^txid ([0-9a-f]{64}) accepted\n/.exec(sent.stdout)?.[1];
    assert.ok(txid !== undefined, sent.stdout);
    assert.equal(relayer.count("POST /v1/tx"), 2, "accepted once, then refused as not its shard");
    assert.match(sent.stdout, new RegExp(`\n${txid} rejected with RELAY_UNANSWERED \\(where it went, not what it is\\): sending it again\n${relayer.url} refused it \\(TX_WRONG_SHARD: .*\\); reading the nodes' shards again\nfinal at height \\d+ index 0 block [0-9a-f]{64}\n$`));
    assert.equal((await new ApiClient(validator).transaction(txid)).state, "final");
  });

  it("a --node list of another shard only is refused with CLI_NO_SHARD_NODE before anything is read or sent", async () => {
    const payerKey = loadKeyFile(payerFile).publicKey;
    const otherShard = 1 - shardOfOwner(payerKey, 2);
    // Two shards, one steady epoch: the relay serves the payer's other shard, and no switch is under way.
    const elsewhere = await new Relay((real) => ({ ...real, shardCount: 2, shard: otherShard, epoch: 4, decidingEpoch: 4 })).listen();
    const sent = await ios(["tx", "send", "--from", payerFile, "--to", payee(), "--amount", "5", "--node", elsewhere.url]);
    assert.equal(sent.code, 1, sent.stderr);
    assert.equal(sent.stdout, "");
    assert.match(sent.stderr, new RegExp(`^error CLI_NO_SHARD_NODE: no --node serves the payer's shard ${1 - otherShard} in epoch 4 \\(after 1 status read\\(s\\)\\): ${elsewhere.url} serves shard ${otherShard} in epoch 4\nhint: give --node URLs of validators serving the payer's shard`));
    assert.deepEqual(elsewhere.requests, ["GET /v1/status"], "only its status was read");
  });

  it("nodes that keep refusing are asked a bounded number of times, then CLI_NO_SHARD_NODE names their refusals", async () => {
    const stuck = await new Relay().listen();
    const sent = await ios(["tx", "send", "--from", payerFile, "--to", payee(), "--amount", "5", "--node", stuck.url]);
    assert.equal(sent.code, 1, sent.stderr);
    assert.match(sent.stderr, new RegExp(`^error CLI_NO_SHARD_NODE: no --node serves the payer's shard 0 in epoch 0 \\(after \\d+ status read\\(s\\)\\): .*; refused: ${stuck.url} TX_WRONG_SHARD`));
    const posts = stuck.count("POST /v1/tx");
    assert.ok(posts > 1 && posts <= 8, `asked again after a fresh read, and not without end: ${posts}`);
    assert.doesNotMatch(sent.stdout, / accepted/);
  });
});
