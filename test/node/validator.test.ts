import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { describe, it } from "node:test";
import { PEER_PATH, type UwsTransport } from "../../src/net/uws-transport.js";
import { AMOUNT, genesisSpend, getJson, hex, makeNet, postJson, startNode, until } from "../api/helpers.js";

describe("validator node", () => {
  it("a clean stop commits what it accepted, and a restart serves the same chain, statuses and balances", async () => {
    const net = makeNet("validator-restart", 1, 24);
    try {
      // A long block interval: the submissions below are still pending when the node stops.
      let { node, base } = await startNode(net, { pipeline: { workers: 1, blockIntervalMs: 60_000 } });
      const txs = Array.from({ length: 10 }, (_, i) => genesisSpend(net, i, net.accounts[20]!.publicKey, 100n));
      for (const tx of txs) assert.equal((await postJson(`${base}/v1/tx`, { tx: hex(tx.bytes) })).status, 202);
      assert.equal((await getJson(`${base}/v1/tx/${hex(txs[0]!.txid)}`)).body.state, "pending");
      await node.stop();
      await node.stop();

      ({ node, base } = await startNode(net));
      try {
        const status = await getJson(`${base}/v1/status`);
        assert.equal(status.body.tip.height, 1);
        for (const tx of txs) {
          const { body } = await getJson(`${base}/v1/tx/${hex(tx.txid)}`);
          assert.equal(body.state, "final");
          assert.equal(body.height, 1);
        }
        const balance = await getJson(`${base}/v1/owner/${hex(net.accounts[20]!.publicKey)}/balance`);
        assert.equal(balance.body.balance, String(AMOUNT + 10n * 100n));
        assert.equal(balance.body.outputs, 11);
        const payer = await getJson(`${base}/v1/owner/${hex(net.accounts[0]!.publicKey)}/balance`);
        assert.equal(payer.body.balance, String(AMOUNT - 100n));
        assert.equal(status.body.supply, String(AMOUNT * 24n));
      } finally {
        await node.stop();
      }
    } finally {
      rmSync(net.dir, { recursive: true, force: true });
    }
  });

  it("two validators authenticate each other over the transport sharing the client API's port", async () => {
    const net = makeNet("validator-peers", 1, 4, 2);
    const idOf = (i: number) => hex(net.validators[i]!.publicKey);
    try {
      const a = await startNode(net, { peers: [{ publicKey: idOf(1) }] }, 0);
      const b = await startNode(net, { peers: [{ publicKey: idOf(0) }] }, 1);
      try {
        // The lower key dials (transport link policy); tell it where the other listens.
        const [dialer, acceptor, acceptorId] = idOf(0) < idOf(1) ? [a, b, idOf(1)] : [b, a, idOf(0)];
        (dialer.node.transport as UwsTransport).setPeer(acceptorId, `ws://127.0.0.1:${acceptor.node.port}${PEER_PATH}`);
        for (const side of [a, b]) {
          await until(async () => ((await getJson(`${side.base}/v1/status`)).body.peers.connected === 1 ? true : undefined), "an authenticated link");
          assert.match(await (await fetch(`${side.base}/metrics`)).text(), /^ios_peers_connected 1$/m);
        }
      } finally {
        await a.node.stop();
        await b.node.stop();
      }
    } finally {
      rmSync(net.dir, { recursive: true, force: true });
    }
  });
});
