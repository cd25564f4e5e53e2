/**
 * A whole DRP run (white paper §5.2, Algorithm 2) in one process: deterministic keys for a
 * client and n servers (with their PoPs for LOCAL_CHAIN_ID), and a loop that delivers every
 * message between the roles of session.ts in three rounds (l1 → R1, l2 → R2, l3 → R3; the
 * deadline of a phase is the moment no message is left in flight), with hooks to silence or
 * rewrite a server's messages, each server's SessionGuard, and the time each party took per
 * round on an injected clock. Real signatures and real PVSS throughout: the tests and the
 * benchmark (bench/drp.bench.ts) run sessions through it; a deployment drives the same roles
 * over its Transport instead.
 */
import { proveKeyPossession } from "../../consensus/registry.js";
import { keyPairFromSecret, signMessage } from "../../ledger/keys.js";
import type { Clock } from "../../runtime/interface.js";
import { SeededRng } from "../../runtime/seeded-rng.js";
import { SECRET_KEY_BYTES } from "../../codec/sizes.js";
import { GROUPING_SEED_BYTES, knownParties, makeConfig, type DrpConfig, type ServerKeys } from "./config.js";
import { RistrettoPoint, multiplySecret, randomScalar } from "./dleq.js";
import { SessionGuard } from "./guard.js";
import { DrpClient, DrpServer, type ServerSecrets } from "./session.js";

/** A fixed w, so that a label names one configuration (and one session id) for good. */
const LOCAL_TIMESTAMP = 1_700_000_000_000;
/** The chain id the local servers' PoPs sign. */
const LOCAL_CHAIN_ID = new TextEncoder().encode("IOSChain/drp/local");

export interface Parties {
  readonly config: DrpConfig;
  readonly clientSecret: Uint8Array;
  readonly serverSecrets: readonly ServerSecrets[];
  /** The seed of server i's Rng: its first draws are its deal's coefficients. */
  readonly serverSeeds: readonly string[];
  readonly label: string;
}

/** n servers in `groupCount` groups, keys and grouping seed from `label`. */
export function makeParties(serverCount: number, groupCount: number, label: string): Parties {
  const keyRng = SeededRng.fromSeed(`${label}/keys`);
  const serverSecrets: ServerSecrets[] = [];
  const servers: ServerKeys[] = [];
  for (let i = 0; i < serverCount; i++) {
    const signingSeed = keyRng.bytes(SECRET_KEY_BYTES);
    const pvssSecret = randomScalar(keyRng);
    serverSecrets.push({ signingSeed, pvssSecret });
    const signingKey = keyPairFromSecret(signingSeed).publicKey;
    const possession = proveKeyPossession({ publicKey: signingKey, sign: (message) => signMessage(signingSeed, message) }, LOCAL_CHAIN_ID);
    servers.push({ signingKey, pvssKey: multiplySecret(RistrettoPoint.BASE, pvssSecret), possession });
  }
  const clientSecret = keyRng.bytes(SECRET_KEY_BYTES);
  const config = makeConfig({
    chainId: LOCAL_CHAIN_ID,
    servers,
    clientKey: keyPairFromSecret(clientSecret).publicKey,
    groupCount,
    groupingSeed: keyRng.bytes(GROUPING_SEED_BYTES),
    purpose: `epoch randomness ${label}`,
    timestamp: LOCAL_TIMESTAMP,
  });
  const serverSeeds = servers.map((_, i) => `${label}/server/${i}`);
  return { config, clientSecret, serverSecrets, serverSeeds, label };
}

/** A clock that reads w: the local servers judge the fixed timestamp fresh. */
export function localClock(parties: Parties): Pick<Clock, "wallNow"> {
  return { wallNow: () => parties.config.timestamp };
}

export interface Faults {
  /** Servers that never answer. */
  readonly silent?: ReadonlySet<number>;
  /** Replaces server `server`'s outgoing message (bytes as signed) by what it returns. */
  readonly rewrite?: (server: number, message: Uint8Array) => Uint8Array;
}

/**
 * Time one delivery round took: the client handling the replies (and sending what follows), and
 * the servers handling the broadcasts, summed and the slowest one alone.
 */
export interface RoundTime {
  readonly clientMs: number;
  readonly serversMs: number;
  readonly slowestServerMs: number;
}

export interface TimedRun {
  readonly client: DrpClient;
  /** The servers as the run left them. */
  readonly servers: readonly DrpServer[];
  readonly rounds: readonly RoundTime[];
}

/**
 * One run to the end, timed by `clock` round by round: Σ (client + slowest server) over the
 * rounds is the run's critical path were every party on its own core with a free network.
 * Server i keeps its node's memory in `guards[i]` (a fresh guard each by default).
 */
export function runTimedSession(
  parties: Parties,
  clock: Pick<Clock, "now">,
  faults: Faults = {},
  guards: readonly SessionGuard[] = parties.config.servers.map(() => new SessionGuard(localClock(parties))),
): TimedRun {
  const { config } = parties;
  const timed = <T>(work: () => T): { readonly result: T; readonly ms: number } => {
    const start = clock.now();
    const result = work();
    return { result, ms: clock.now() - start };
  };
  const started = timed(() => {
    const client = new DrpClient(config, parties.clientSecret, SeededRng.fromSeed(`${parties.label}/client`));
    return { client, broadcasts: client.start() };
  });
  const { client } = started.result;
  // X as every server's node knows it: checked and encoded once for all of them.
  const known = knownParties(config);
  const servers = config.servers.map(
    (_, i) => new DrpServer(i, known, parties.serverSecrets[i]!, SeededRng.fromSeed(parties.serverSeeds[i]!), guards[i]!),
  );
  let broadcasts = started.result.broadcasts;
  let clientMs = started.ms;
  const rounds: RoundTime[] = [];
  while (client.phase !== "done") {
    const serverMs = servers.map(() => 0);
    const replies = broadcasts.flatMap((broadcast) =>
      servers.flatMap((server, i) => {
        if (faults.silent?.has(i) === true) return [];
        const answered = timed(() => server.receive(broadcast));
        serverMs[i]! += answered.ms;
        return answered.result.map((reply) => faults.rewrite?.(i, reply) ?? reply);
      }),
    );
    const handled = timed(() => {
      const next = replies.flatMap((reply) => client.receive(reply));
      return next.length === 0 ? client.closePhase() : next;
    });
    broadcasts = handled.result;
    rounds.push({ clientMs: clientMs + handled.ms, serversMs: serverMs.reduce((a, b) => a + b, 0), slowestServerMs: Math.max(...serverMs) });
    clientMs = 0;
  }
  return { client, servers, rounds };
}

const UNTIMED = { now: (): number => 0 };

/** One run to the end: the client, done (or the coded error of its failure, thrown). */
export function runSession(parties: Parties, faults: Faults = {}): DrpClient {
  return runTimedSession(parties, UNTIMED, faults).client;
}
