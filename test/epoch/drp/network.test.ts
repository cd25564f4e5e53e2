/**
 * DRP runs over the simulator's network (src/epoch/drp/network.ts `DrpPort`): the client and every server
 * are nodes with real channels and virtual timers; the transcript of each finished run verifies
 * offline (Algorithm 3). Silent servers are closed out by the phase deadline while the thresholds
 * hold; beyond them the run fails with the session's code; strangers' messages change nothing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DRP_MESSAGE, DrpPort, type DrpRunResult } from "../../../src/epoch/drp/network.js";
import { DrpClient, DrpServer } from "../../../src/epoch/drp/session.js";
import { knownParties } from "../../../src/epoch/drp/config.js";
import { SessionGuard } from "../../../src/epoch/drp/guard.js";
import { localClock } from "../../../src/epoch/drp/local.js";
import { verifyTranscript } from "../../../src/epoch/drp/transcript.js";
import { IosError } from "../../../src/errors.js";
import type { Channel, InstanceId, PeerId } from "../../../src/net/interface.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { Simulator } from "../../../src/sim/simulator.js";
import { makeParties } from "./harness.js";

const INSTANCE: InstanceId = { protocol: "drp", shard: 0, epoch: 1 };
const PHASE_TIMEOUT_MS = 200;
const CLIENT: PeerId = "c".repeat(64);
const STRANGER: PeerId = "e".repeat(64);
const serverId = (i: number): PeerId => i.toString(16).padStart(64, "0");

interface Run {
  readonly sim: Simulator;
  readonly outcome: () => { result?: DrpRunResult; error?: unknown; at: number } | undefined;
  readonly stop: () => void;
}

function world(label: string, serverCount: number, options: { silent?: (groups: readonly (readonly number[])[]) => readonly number[]; stranger?: boolean; serveAtMs?: number } = {}): Run {
  const parties = makeParties(serverCount, 2, label);
  const sim = new Simulator({ seed: label, defaultLink: { latency: { kind: "uniform", minMs: 1, maxMs: 20 } } });
  const servers = parties.config.servers.map((_, i) => serverId(i));
  const silent = options.silent?.(parties.config.groups) ?? [];
  servers.forEach((id, i) =>
    sim.addNode(id, ({ transport, clock }) => {
      if (silent.includes(i)) return undefined;
      const channel = transport.open(INSTANCE);
      const server = new DrpServer(i, knownParties(parties.config), parties.serverSecrets[i]!, SeededRng.fromSeed(parties.serverSeeds[i]!), new SessionGuard(localClock(parties)));
      const port = new DrpPort(channel, clock);
      if (options.serveAtMs === undefined) port.serve(server, CLIENT);
      else clock.setTimer(options.serveAtMs, () => port.serve(server, CLIENT));
      return channel;
    }),
  );
  let outcome: { result?: DrpRunResult; error?: unknown; at: number } | undefined;
  let stop: () => void = () => undefined;
  sim.addNode(CLIENT, ({ transport, clock }) => {
    const channel: Channel = transport.open(INSTANCE);
    const client = new DrpClient(parties.config, parties.clientSecret, SeededRng.fromSeed(`${label}/client`));
    const run = new DrpPort(channel, clock).lead(client, servers, PHASE_TIMEOUT_MS);
    stop = run.stop;
    run.result.then((result) => (outcome = { result, at: clock.now() }), (error: unknown) => (outcome = { error, at: clock.now() }));
    return channel;
  });
  if (options.stranger === true) {
    // Not a server: replays garbage and a copy of nothing to the client every 5 ms.
    sim.addNode(STRANGER, ({ transport, clock }) => {
      const channel = transport.open(INSTANCE);
      const rng = SeededRng.fromSeed(`${label}/stranger`);
      const spam = (): void => {
        channel.send(CLIENT, DRP_MESSAGE, rng.bytes(1 + rng.nextU32() % 300));
        clock.setTimer(5, spam);
      };
      clock.setTimer(0, spam);
      return channel;
    });
  }
  return { sim, outcome: () => outcome, stop: () => stop() };
}

/** Runs until the client's promise settled (microtasks drained between events). */
async function settle(run: Run, limitMs = 20_000): Promise<NonNullable<ReturnType<Run["outcome"]>>> {
  for (let at = 0; at < limitMs && run.outcome() === undefined; at += 10) {
    run.sim.run({ until: run.sim.now() + 10 });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const outcome = run.outcome();
  assert.ok(outcome !== undefined, "the run settled");
  return outcome;
}

describe("DRP over the network (simulator)", () => {
  it("n = 7: every server answers; the transcript verifies offline to the same Z and rnd", async () => {
    const run = world("drp-net-honest", 7);
    const { result, error, at } = await settle(run);
    assert.equal(error, undefined);
    const verified = verifyTranscript(result!.transcript);
    assert.ok(verified.z.equals(result!.z));
    assert.deepEqual(verified.rnd, result!.rnd);
    assert.ok(at < PHASE_TIMEOUT_MS, `no phase waited for its deadline (done at ${at} ms)`);
  });

  it("n = 7, f = 2 silent servers (one per group): each phase closes at its deadline and the run still succeeds", async () => {
    const run = world("drp-net-silent", 7, { silent: (groups) => groups.map((group) => group[0]!) });
    const { result, error, at } = await settle(run);
    assert.equal(error, undefined);
    assert.ok(verifyTranscript(result!.transcript).z.equals(result!.z));
    // Dealing and decrypting wait for every server; signing only for those that committed.
    assert.ok(at >= 2 * PHASE_TIMEOUT_MS, `the dealing and decrypting phases waited for the silent until their deadlines (done at ${at} ms)`);
  });

  it("n = 7, f + 1 = 3 silent servers: fewer than 2f + 1 commit, the run fails with DRP_TOO_FEW_SIGNERS", async () => {
    const run = world("drp-net-too-silent", 7, { silent: () => [0, 3, 6] });
    const { error } = await settle(run);
    assert.ok(error instanceof IosError && error.code === "DRP_TOO_FEW_SIGNERS", String(error));
  });

  it("a stranger's messages to the client are never looked at: the run ends as without it", async () => {
    const quiet = await settle(world("drp-net-stranger", 4));
    const noisy = await settle(world("drp-net-stranger", 4, { stranger: true }));
    assert.deepEqual(noisy.result!.transcript, quiet.result!.transcript);
  });

  it("servers that learn who the client is after its announce arrived answer it from their backlog: no phase waits for a deadline", async () => {
    const late = await settle(world("drp-net-late", 7, { serveAtMs: 40 }));
    assert.equal(late.error, undefined);
    assert.ok(verifyTranscript(late.result!.transcript).z.equals(late.result!.z));
    assert.ok(late.at < PHASE_TIMEOUT_MS, `done at ${late.at} ms`);
  });

  it("stop() ends an unfinished run with DRP_CLOSED", async () => {
    const run = world("drp-net-stop", 4, { silent: () => [0, 1, 2, 3] });
    run.sim.run({ until: 50 });
    run.stop();
    const { error } = await settle(run);
    assert.ok(error instanceof IosError && error.code === "DRP_CLOSED", String(error));
  });
});
