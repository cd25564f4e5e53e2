/**
 * Identity-chain fixtures shared by the chain's own tests (test/epoch/identity), the epoch archive
 * (test/store), its API (test/api) and `ios epoch show` (test/cli): a PoB genesis of 7 validators
 * in 2 shards with epoch length L and small leagues, registrants' keys, and links built for real — the configuration
 * of epoch e + 1, a real ECVRF lottery of a validator of e, a real CoSi multisignature of e's
 * validators — with `options` to break any part. `buildArchive` adds real DRP runs: each link's
 * randomness and transcript hash are those of a transcript that verifies (Algorithm 3).
 */
import { REPUTATION_INITIAL } from "../../src/consensus/pob/believability.js";
import { cosiThreshold, encodeCollectiveSignature } from "../../src/consensus/cosi/codec.js";
import { DEFAULT_POLICY } from "../../src/consensus/pob/policy.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { vrfProve } from "../../src/crypto/vrf.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { makeParties, runSession } from "../../src/epoch/drp/local.js";
import { lotteryInput } from "../../src/epoch/election/lottery.js";
import { encodeIdentityConfiguration, identityConfigurationHash, nextIdentityConfiguration } from "../../src/epoch/identity/configuration.js";
import type { IdentityConfiguration, IdentityLink, IdentityValidator } from "../../src/epoch/identity/interface.js";
import { identityCertificateMessage, verifyEpochLink } from "../../src/epoch/identity/link.js";
import type { EpochContext } from "../../src/epoch/interface.js";
import { toHex } from "../../src/hex.js";
import { deriveTestAccounts, genesisPopChainId, makeTestGenesis } from "../../src/ledger/genesis.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { cosign } from "./cosign.js";
import { testSeed } from "./vectors.js";

export const rng = SeededRng.fromSeed(testSeed("identity chain"));
export const verifier = new Ed25519Verifier();
export const L = 10;
/** Leagues small enough that shards of 3–5 validators draw both (the default wants a normal league of 7). */
export const POLICY = { ...DEFAULT_POLICY, believableLeagueSize: 2, normalLeagueSize: 3, minBelievableSize: 1 };
export const base = { seed: "identity chain", shardCount: 2, accounts: 2, amount: 10n, validators: 7, stake: 1000n, epochLength: L, pob: POLICY };
export const { genesis, validators: genesisKeys } = makeTestGenesis(base);
/** The same validator keys on another chain (another timestamp, another genesis txid). */
export const otherChain = makeTestGenesis({ ...base, timestamp: 1 }).genesis;
export const registrants = deriveTestAccounts("identity chain/registrants", 4);
export const secretOf = new Map([...genesisKeys, ...registrants].map((pair) => [toHex(pair.publicKey), pair.secretKey]));
export const schnorrOf = (publicKey: Uint8Array): SchnorrKey => SchnorrKey.fromSeed(secretOf.get(toHex(publicKey))!);

/** A validator of `context` as the next configuration lists it: its stake, bond and proof of possession carried over. */
export function continuing(context: EpochContext, publicKey: Uint8Array): IdentityValidator {
  const proof = context.registry.validators().find((entry) => toHex(entry.publicKey) === toHex(publicKey))!.proof;
  const { servi = 0, reputation = REPUTATION_INITIAL } = context.validators.find((validator) => toHex(validator.publicKey) === toHex(publicKey))!;
  return { publicKey, stake: context.stakeOf(publicKey)!, bond: context.bondOf(publicKey)!.outpoint, pop: proof, servi, reputation };
}

/** A registrant entering with a fresh bond outpoint and its proof of possession for the chain's registry. */
export function registered(index: number, chainId = genesisPopChainId(genesis)): IdentityValidator {
  const key = schnorrOf(registrants[index]!.publicKey);
  return { publicKey: key.publicKey, stake: 500n + BigInt(index), bond: rng.bytes(36), pop: proveKeyPossession(key, chainId), servi: 0, reputation: REPUTATION_INITIAL };
}

/** Indices of `context`'s validators that sign by default: the newest (not in the genesis) first, up to the threshold. */
export function defaultSigners(context: EpochContext): number[] {
  const isGenesis = new Set(genesisKeys.map((pair) => toHex(pair.publicKey)));
  const order = context.validators.map((_, i) => i).sort((a, b) => Number(isGenesis.has(toHex(context.validators[a]!.publicKey))) - Number(isGenesis.has(toHex(context.validators[b]!.publicKey))));
  return order.slice(0, cosiThreshold(context.validators.length));
}

export interface LinkOptions {
  /** Edits the configuration before it is encoded and signed. */
  readonly change?: (configuration: IdentityConfiguration) => IdentityConfiguration;
  /** Indices of `previous`'s validators that sign. */
  readonly signers?: readonly number[];
  /** The keys the mask stands for (default: `previous`'s validators in configuration order). */
  readonly committee?: readonly Uint8Array[];
  /** What the signers sign instead of the certificate message of the configuration. */
  readonly message?: (hash: Uint8Array, configuration: IdentityConfiguration) => Uint8Array;
  readonly winner?: number;
  readonly view?: number;
  /** rnd_e and the transcript hash (default: random bytes, for tests that run no DRP). */
  readonly draw?: { readonly randomness: Uint8Array; readonly transcriptHash: Uint8Array };
}

/** Block e + 1 after `previous` with validators `set`, signed as `options` say. */
export function buildLink(previous: EpochContext, set: readonly IdentityValidator[], options: LinkOptions = {}): IdentityLink & { value: IdentityConfiguration } {
  const winner = options.winner ?? 1;
  const view = options.view ?? 0;
  const proof = vrfProve(secretOf.get(toHex(previous.validators[winner]!.publicKey))!, lotteryInput(previous.configurationHash, view));
  const outcome = {
    validators: set,
    ...(options.draw ?? { randomness: rng.bytes(32), transcriptHash: rng.bytes(32) }),
    lottery: { leader: winner, proof, view },
    boundaries: Array.from({ length: previous.shardCount }, () => ({ height: (previous.epoch + 1) * L, stateCommitment: rng.bytes(32) })),
    departures: [],
  };
  const value = (options.change ?? ((c) => c))(nextIdentityConfiguration(previous, outcome));
  const configuration = encodeIdentityConfiguration(value);
  const hash = identityConfigurationHash(configuration);
  const committee = options.committee ?? previous.validators.map((v) => v.publicKey);
  const message = options.message?.(hash, value) ?? identityCertificateMessage(value.chain, value.epoch, hash);
  const signature = cosign(committee.map(schnorrOf), options.signers ?? defaultSigners(previous), message, rng, verifier);
  return { configuration, certificate: encodeCollectiveSignature(signature, committee.length), value };
}

/** What a validator keeps of epochs 1..k: each link, the DRP transcript it names, and the contexts 0..k. */
export interface EpochArchiveFixture {
  readonly links: readonly IdentityLink[];
  readonly transcripts: readonly Uint8Array[];
  readonly contexts: readonly EpochContext[];
}

/**
 * Epochs 1..`epochs` after the genesis, registrant e − 1 joining in epoch e, each link's rnd and
 * transcript hash those of a real n = 4 DRP run (src/epoch/drp/local.ts); `change` edits each
 * configuration before it is signed (carried scores, departures).
 */
export function buildArchive(epochs: number, change?: (configuration: IdentityConfiguration) => IdentityConfiguration): EpochArchiveFixture {
  const contexts = [genesisEpochContext(genesis)];
  const links: IdentityLink[] = [];
  const transcripts: Uint8Array[] = [];
  for (let e = 1; e <= epochs; e++) {
    const previous = contexts.at(-1)!;
    const client = runSession(makeParties(4, 1, `identity chain epoch ${e}`));
    const transcript = client.transcript();
    const set = [...previous.validators.map((v) => continuing(previous, v.publicKey)), registered(e - 1)];
    const { configuration, certificate } = buildLink(previous, set, { draw: { randomness: client.output().rnd, transcriptHash: sha256(transcript) }, ...(change === undefined ? {} : { change }) });
    contexts.push(verifyEpochLink(previous, configuration, certificate, verifier));
    links.push({ configuration, certificate });
    transcripts.push(transcript);
  }
  return { links, transcripts, contexts };
}
