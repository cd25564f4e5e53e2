/**
 * The DRP server's session guard (src/epoch/drp/guard.ts; white paper §5.2 input 15, §5.1): one
 * session per client and purpose for good, a replayed l1 refused, w within TIMESTAMP_WINDOW_MS of
 * the server's clock; and servers of a finished run, or new servers of the same nodes, that
 * answer none of that run's messages again nor a second session of its client and purpose, while
 * a server without that memory (the control) answers them.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { knownParties, makeConfig, sessionIdOf, encodeConfig, type DrpConfig } from "../../../src/epoch/drp/config.js";
import { SessionGuard, TIMESTAMP_WINDOW_MS } from "../../../src/epoch/drp/guard.js";
import { localClock, runTimedSession } from "../../../src/epoch/drp/local.js";
import { DrpClient, DrpServer } from "../../../src/epoch/drp/session.js";
import { decodeTranscriptParts } from "../../../src/epoch/drp/transcript.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { makeParties, type Parties } from "./harness.js";

const clockAt = (ms: number) => ({ wallNow: () => ms });

/** The same parties' configuration with another grouping seed, purpose or timestamp. */
function variant(parties: Parties, change: { readonly seedByte?: number; readonly purpose?: string; readonly timestamp?: number }): DrpConfig {
  const { config } = parties;
  return makeConfig({
    chainId: config.chainId,
    servers: config.servers,
    clientKey: config.clientKey,
    groupCount: config.groups.length,
    groupingSeed: change.seedByte === undefined ? config.groupingSeed : new Uint8Array(32).fill(change.seedByte),
    purpose: change.purpose ?? config.purpose,
    timestamp: change.timestamp ?? config.timestamp,
  });
}

/** l1 of a session of `config`, signed by the parties' client. */
function announceOf(parties: Parties, config: DrpConfig): Uint8Array {
  return new DrpClient(config, parties.clientSecret, SeededRng.fromSeed("announce")).start()[0]!;
}

function serverOf(parties: Parties, index: number, guard: SessionGuard): DrpServer {
  return new DrpServer(index, knownParties(parties.config), parties.serverSecrets[index]!, SeededRng.fromSeed(`guard-test/${index}`), guard);
}

describe("DRP session guard", () => {
  const parties = makeParties(4, 1, "guard-4");
  const { config } = parties;
  const id = (c: DrpConfig): Uint8Array => sessionIdOf(encodeConfig(c));

  it("admits one session per client and purpose, for good; another purpose or client is another slot", () => {
    const guard = new SessionGuard(localClock(parties));
    assert.equal(guard.join(config, id(config)), undefined);
    assert.match(guard.join(config, id(config)) ?? "", /replayed l1/);
    const reseeded = variant(parties, { seedByte: 9 });
    assert.notDeepEqual(id(reseeded), id(config));
    assert.match(guard.join(reseeded, id(reseeded)) ?? "", /already ran session/);
    const later = variant(parties, { timestamp: config.timestamp + 1 });
    assert.match(guard.join(later, id(later)) ?? "", /already ran session/);
    const nextEpoch = variant(parties, { purpose: `${config.purpose} next` });
    assert.equal(guard.join(nextEpoch, id(nextEpoch)), undefined);
    const otherClient = makeParties(4, 1, "guard-4-other-client").config;
    assert.equal(guard.join(otherClient, id(otherClient)), undefined);
  });

  it("admits w up to TIMESTAMP_WINDOW_MS from its clock, either way, and nothing further", () => {
    const w = config.timestamp;
    for (const now of [w - TIMESTAMP_WINDOW_MS, w + TIMESTAMP_WINDOW_MS]) {
      assert.equal(new SessionGuard(clockAt(now)).join(config, id(config)), undefined, `clock at w ${now - w} ms`);
    }
    for (const now of [w - TIMESTAMP_WINDOW_MS - 1, w + TIMESTAMP_WINDOW_MS + 1]) {
      assert.match(new SessionGuard(clockAt(now)).join(config, id(config)) ?? "", /beyond/, `clock at w ${now - w} ms`);
    }
  });

  it("a server answers no message of a finished run again, nor a second session of its client and purpose", () => {
    const guards = config.servers.map(() => new SessionGuard(localClock(parties)));
    const { client, servers } = runTimedSession(parties, { now: () => 0 }, {}, guards);
    const { announce, choice, reveal } = decodeTranscriptParts(client.transcript());
    const second = announceOf(parties, variant(parties, { seedByte: 9 }));
    const nextEpoch = announceOf(parties, variant(parties, { purpose: `${config.purpose} next` }));
    servers.forEach((server, i) => {
      for (const message of [announce, choice, reveal, second]) assert.deepEqual(server.receive(message), [], `finished server ${i}`);
      // The node's next DrpServer shares its guard: the replayed l1 and the second session are refused.
      for (const message of [announce, second]) assert.deepEqual(serverOf(parties, i, guards[i]!).receive(message), [], `restarted server ${i}`);
      assert.equal(serverOf(parties, i, guards[i]!).receive(nextEpoch).length, 1, `server ${i} joins the next purpose`);
      // Control: without the node's memory, a server deals for both.
      for (const message of [announce, second]) {
        assert.equal(serverOf(parties, i, new SessionGuard(localClock(parties))).receive(message).length, 1, `forgetful server ${i}`);
      }
    });
  });

  it("a server ignores an l1 whose w is outside its clock's window", () => {
    const announce = announceOf(parties, config);
    const late = serverOf(parties, 0, new SessionGuard(clockAt(config.timestamp + TIMESTAMP_WINDOW_MS + 1)));
    assert.deepEqual(late.receive(announce), []);
    const inTime = serverOf(parties, 0, new SessionGuard(clockAt(config.timestamp + TIMESTAMP_WINDOW_MS)));
    assert.equal(inTime.receive(announce).length, 1);
  });
});
