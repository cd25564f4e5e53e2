/**
 * Test helpers of DRP runs over the in-process runner (src/epoch/drp/local.ts, re-exported):
 * re-signing a faulty server's message, T' read from a transcript, and Z recomputed directly
 * from the chosen dealers' secrets by replaying their Rngs.
 */
import { dealContext, groupOf, groupThreshold } from "../../../src/epoch/drp/config.js";
import { RistrettoPoint } from "../../../src/epoch/drp/dleq.js";
import type { Parties } from "../../../src/epoch/drp/local.js";
import { decodeChoice, decodeEnvelope, signEnvelope, type MessageKind } from "../../../src/epoch/drp/messages.js";
import { deal } from "../../../src/epoch/drp/pvss.js";
import { groupKeys } from "../../../src/epoch/drp/rules.js";
import { decodeTranscriptParts } from "../../../src/epoch/drp/transcript.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";

export { makeParties, runSession, type Faults, type Parties } from "../../../src/epoch/drp/local.js";

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
