/**
 * Test harness of DRP runs (src/epoch/drp/session.ts): deterministic keys for a client and n
 * servers, an in-process loop delivering messages between them (the deadline of a phase is the
 * moment no message is left in flight), hooks to silence or rewrite a server's messages, and Z
 * recomputed directly from the chosen dealers' secrets by replaying their Rngs.
 */
import { keyPairFromSecret } from "../../../src/ledger/keys.js";
import { makeConfig, dealContext, groupOf, groupThreshold, type DrpConfig, type ServerKeys } from "../../../src/epoch/drp/config.js";
import { RistrettoPoint, randomScalar } from "../../../src/epoch/drp/dleq.js";
import { decodeChoice, decodeEnvelope, signEnvelope, type MessageKind } from "../../../src/epoch/drp/messages.js";
import { deal } from "../../../src/epoch/drp/pvss.js";
import { groupKeys } from "../../../src/epoch/drp/rules.js";
import { DrpClient, DrpServer, type ServerSecrets } from "../../../src/epoch/drp/session.js";
import { decodeTranscriptParts } from "../../../src/epoch/drp/transcript.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";

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
    const signingSeed = keyRng.bytes(32);
    const pvssSecret = randomScalar(keyRng);
    serverSecrets.push({ signingSeed, pvssSecret });
    servers.push({ signingKey: keyPairFromSecret(signingSeed).publicKey, pvssKey: RistrettoPoint.BASE.multiply(pvssSecret) });
  }
  const clientSecret = keyRng.bytes(32);
  const config = makeConfig({
    servers,
    clientKey: keyPairFromSecret(clientSecret).publicKey,
    groupCount,
    groupingSeed: keyRng.bytes(32),
    purpose: `epoch randomness ${label}`,
    timestamp: 1_700_000_000_000,
  });
  const serverSeeds = servers.map((_, i) => `${label}/server/${i}`);
  return { config, clientSecret, serverSecrets, serverSeeds, label };
}

export interface Faults {
  /** Servers that never answer. */
  readonly silent?: ReadonlySet<number>;
  /** Replaces server `server`'s outgoing message (bytes as signed) by what it returns. */
  readonly rewrite?: (server: number, message: Uint8Array) => Uint8Array;
}

/** One run to the end: the client, done (or the coded error of its failure, thrown). */
export function runSession(parties: Parties, faults: Faults = {}): DrpClient {
  const { config } = parties;
  const client = new DrpClient(config, parties.clientSecret, SeededRng.fromSeed(`${parties.label}/client`));
  const servers = config.servers.map(
    (_, i) => new DrpServer(i, config.servers, config.clientKey, parties.serverSecrets[i]!, SeededRng.fromSeed(parties.serverSeeds[i]!)),
  );
  let broadcasts = client.start();
  while (client.phase !== "done") {
    const replies = broadcasts.flatMap((broadcast) =>
      servers.flatMap((server, i) =>
        faults.silent?.has(i) === true ? [] : server.receive(broadcast).map((reply) => faults.rewrite?.(i, reply) ?? reply),
      ),
    );
    broadcasts = replies.flatMap((reply) => client.receive(reply));
    if (broadcasts.length === 0) broadcasts = client.closePhase();
  }
  return client;
}

/** Re-signs `body` as server `server`'s message of `kind` (a faulty but authentic server). */
export function resign(parties: Parties, server: number, kind: MessageKind, body: Uint8Array): Uint8Array {
  return signEnvelope(kind, server, body, parties.serverSecrets[server]!.signingSeed).bytes;
}

/** T' as the transcript records it. */
export function chosenOf(parties: Parties, transcript: Uint8Array): readonly (readonly number[])[] {
  const { config } = parties;
  return decodeChoice(decodeEnvelope(decodeTranscriptParts(transcript).choice).body, config.servers.length, config.groups.length).chosen;
}

/**
 * Z = Σ S_j0 over T', each S_j0 the secret of dealer j's deal rebuilt from its Rng seed (its deal
 * is the first thing it draws), without decryption or interpolation.
 */
export function directOutput(parties: Parties, sessionId: Uint8Array, chosen: readonly (readonly number[])[]): RistrettoPoint {
  const { config } = parties;
  return chosen.flat().reduce((z, dealer) => {
    const { group } = groupOf(config, dealer);
    const threshold = groupThreshold(config.groups[group]!.length);
    const { secret } = deal(SeededRng.fromSeed(parties.serverSeeds[dealer]!), groupKeys(config, group), threshold, dealContext(sessionId, dealer));
    return z.add(secret);
  }, RistrettoPoint.ZERO);
}
