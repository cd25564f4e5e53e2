/**
 * `ios tx send` picks, at submission time, a --node that serves the payer's shard (issue 16): a real
 * validator process on 127.0.0.1 behind scripted relays, also on 127.0.0.1, that play a node which
 * left the shard (its status still names it, its submissions answer TX_WRONG_SHARD) or a node of
 * another shard. Every other request a relay passes to the validator untouched.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
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

/** A scripted node: submissions refused with TX_WRONG_SHARD, its status rewritten by `status`, every read relayed to the validator. */
class Relay {
  readonly requests: string[] = [];
  readonly #server: Server;
  url = "";

  constructor(readonly status: (real: Record<string, unknown>) => Record<string, unknown> = (real) => real) {
    this.#server = createServer(async (request, response) => {
      const path = request.url ?? "/";
      this.requests.push(`${request.method} ${path}`);
      request.resume();
      if (request.method === "POST" && path === "/v1/tx") {
        response.writeHead(400, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { code: "TX_WRONG_SHARD", message: "input 0 belongs to shard 0, not 1" } }));
        return;
      }
      // The CLI reads nothing else than with GET.
      const answer = await fetch(`${validator}${path}`);
      const text = await answer.text();
      response.writeHead(answer.status, { "content-type": "application/json" });
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
