/**
 * The DRP session configuration C = (X, T, f, u, w) of the white paper §5.2 (Algorithm 2 inputs
 * 9–14, step 1a): the servers' keys X, the client's key, the grouping T, the fault bound f, the
 * purpose string u and the timestamp w; its canonical encoding; the session id H(C); and the
 * configuration checks of Algorithm 3 step 1.
 *
 * Each server has two keys: an Ed25519 key that signs its messages and its Schnorr share of the
 * collective signature on T' (cosign.ts), and a ristretto255 key y_i = x_i·G that PVSS encrypts
 * its shares to (pvss.ts). The signing key comes with its proof of possession (PoP) for the chain
 * id of the registry that admitted it (src/consensus/registry.ts, the same message and check):
 * the collective signature sums the signers' keys, so a key not proven would let a rogue server
 * pick A' = X·B − Σ A_j and sign for everyone (the rogue-key attack). C carries the PoPs so that
 * the client, every server and the offline verifier refuse such a configuration alike.
 *
 * The grouping T is a uniform permutation of the n servers, drawn from the client's 32-byte seed
 * r_T (step 1a) by the hash-stream Fisher–Yates of src/epoch/assignment.ts under its own domain,
 * cut into m groups of ⌊n/m⌋ or ⌈n/m⌉ (balanced); each group lists its members ascending. The
 * group thresholds are t_l = ⌊|T_l|/3⌋ + 1 (input 8).
 *
 * Encoding (little-endian, strict, DRP_MALFORMED on any structural fault):
 *   parties  u8 |chain id| ‖ chain id ‖ u16 n ‖ n × (Ed25519 key 32 ‖ ristretto255 key 32 ‖
 *            PoP 64) ‖ client Ed25519 key 32
 *   session  u16 f ‖ seed 32 ‖ u16 m ‖ m × (u16 |T_l| ‖ |T_l| × u16 server) ‖ u8 |u| ‖
 *            u (UTF-8) ‖ u64 w
 * The parties come first, so a server compares that prefix with the keys it knows byte for byte
 * instead of decoding and re-checking n keys per session.
 * Session id = SHA-256("IOSChain/drp/session/v1" ‖ encoding). Dealer j's PVSS proofs are bound
 * to H(C) ‖ u16 j; the output string is rnd = SHA-256("IOSChain/drp/randomness/v1" ‖ Z).
 */
import { sameBytes } from "../../bytes.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { HASH_BYTES, POINT_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../../codec/sizes.js";
import { MAX_CHAIN_ID_BYTES, keyProblem, verifyKeyPossession } from "../../consensus/registry.js";
import { sha256 } from "../../crypto/sha256.js";
import { check, invariant } from "../../errors.js";
import { seededPermutation } from "../assignment.js";
import { RistrettoPoint, pointBytes, readPoint } from "./dleq.js";
import type { DrpErrorCode } from "./errors.js";
import { MAX_SHARES } from "./pvss.js";

export interface ServerKeys {
  /** Ed25519 (RFC 8032): message signatures and the collective Schnorr signature. */
  readonly signingKey: Uint8Array;
  /** y_i = x_i·G on ristretto255: the PVSS encryption key. */
  readonly pvssKey: RistrettoPoint;
  /** The signing key's proof of possession for the chain id (registry.ts proveKeyPossession). */
  readonly possession: Uint8Array;
}

/** Who takes part: X, as every node knows it (Algorithm 2 input 15). */
export interface DrpParties {
  /** The chain id the PoPs sign (a genesis's genesisPopChainId): its registry admitted X. */
  readonly chainId: Uint8Array;
  /** X without the client: server i is `servers[i]`. */
  readonly servers: readonly ServerKeys[];
  /** X_0, the client's Ed25519 key. */
  readonly clientKey: Uint8Array;
}

export interface DrpConfig extends DrpParties {
  /** f, the largest with n ≥ 3f + 1 (any n: the epoch's validators less the leader). */
  readonly faultTolerance: number;
  /** r_T: the seed of the grouping. */
  readonly groupingSeed: Uint8Array;
  /** T: server indexes per group, ascending within a group. */
  readonly groups: readonly (readonly number[])[];
  /** u. */
  readonly purpose: string;
  /** w, milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

/** Server indexes are u16 and PVSS share indexes are u16 (pvss.ts). */
export const MAX_SERVERS = MAX_SHARES;
/** u is u8 length-prefixed. */
export const MAX_PURPOSE_BYTES = 0xff;
export const GROUPING_SEED_BYTES = HASH_BYTES;
export const SESSION_ID_BYTES = HASH_BYTES;

const GROUPING_DOMAIN = new TextEncoder().encode("IOSChain/drp/grouping/v1");
const SESSION_DOMAIN = new TextEncoder().encode("IOSChain/drp/session/v1");
const RANDOMNESS_DOMAIN = new TextEncoder().encode("IOSChain/drp/randomness/v1");
const CODES = singleCode<DrpErrorCode>("DRP_MALFORMED");

/** t_l = ⌊|T_l|/3⌋ + 1 (white paper §5.2, input 8). */
export function groupThreshold(groupSize: number): number {
  return Math.floor(groupSize / 3) + 1;
}

/** 2f + 1: the signers the collective signature on T' needs (Algorithm 2 step 6a). */
export function signerQuorum(config: DrpConfig): number {
  return 2 * config.faultTolerance + 1;
}

/** The balanced seeded grouping of `serverCount` servers into `groupCount` groups. */
export function makeGrouping(serverCount: number, groupCount: number, seed: Uint8Array): number[][] {
  check<DrpErrorCode>(
    Number.isInteger(groupCount) && groupCount >= 1 && groupCount <= serverCount,
    "DRP_BAD_ARGUMENT",
    `the group count must be in [1, ${serverCount}], got ${groupCount}`,
  );
  check<DrpErrorCode>(seed.length === GROUPING_SEED_BYTES, "DRP_BAD_ARGUMENT", `a grouping seed is ${GROUPING_SEED_BYTES} bytes`);
  const groups: number[][] = Array.from({ length: groupCount }, () => []);
  // Position p of the permutation falls in group ⌊p·m/n⌋: sizes ⌊n/m⌋ or ⌈n/m⌉.
  seededPermutation(serverCount, seed, GROUPING_DOMAIN).forEach((server, position) => {
    groups[Math.floor((position * groupCount) / serverCount)]!.push(server);
  });
  for (const group of groups) group.sort((a, b) => a - b);
  return groups;
}

/** A configuration with f = (n − 1)/3 and the grouping of `groupingSeed`, checked. */
export function makeConfig(options: DrpParties & {
  readonly groupCount: number;
  readonly groupingSeed: Uint8Array;
  readonly purpose: string;
  readonly timestamp: number;
}): DrpConfig {
  const n = options.servers.length;
  const config: DrpConfig = {
    chainId: Uint8Array.from(options.chainId),
    servers: options.servers,
    clientKey: options.clientKey,
    faultTolerance: Math.floor((n - 1) / 3),
    groupingSeed: Uint8Array.from(options.groupingSeed),
    groups: makeGrouping(n, options.groupCount, options.groupingSeed),
    purpose: options.purpose,
    timestamp: options.timestamp,
  };
  checkConfig(config);
  return config;
}

/**
 * The keys of C (Algorithm 3 step 1): canonical prime-order signing keys, distinct, each with a
 * PoP that verifies for the chain id; PVSS keys other than the identity; DRP_BAD_CONFIG naming
 * the first fault. The costly part of checkConfig (a torsion check and a signature per server).
 */
function checkParties(parties: DrpParties): void {
  const n = parties.servers.length;
  const bad = (condition: unknown, message: string): void => check<DrpErrorCode>(condition, "DRP_BAD_CONFIG", message);
  bad(n >= 1 && n <= MAX_SERVERS, `the server count must be in [1, ${MAX_SERVERS}], got ${n}`);
  bad(parties.chainId.length >= 1 && parties.chainId.length <= MAX_CHAIN_ID_BYTES, `the chain id must be 1..${MAX_CHAIN_ID_BYTES} bytes`);
  const signingKeys = new Set<string>();
  parties.servers.forEach(({ signingKey, pvssKey, possession }, i) => {
    const problem = keyProblem(signingKey);
    bad(problem === undefined, `server ${i}: ${problem}`);
    bad(verifyKeyPossession(signingKey, possession, parties.chainId), `server ${i}: the proof of possession of its signing key does not verify for this chain`);
    bad(!pvssKey.is0(), `server ${i}: the PVSS key is the identity`);
    signingKeys.add(Buffer.from(signingKey).toString("latin1"));
  });
  bad(signingKeys.size === n, "two servers share a signing key");
  const clientProblem = keyProblem(parties.clientKey);
  bad(clientProblem === undefined, `client: ${clientProblem}`);
}

/**
 * The rest of Algorithm 3 step 1, for parties already checked: f = ⌊(n − 1)/3⌋, T the balanced
 * grouping of the seed, the sizes of u and w. DRP_BAD_CONFIG naming the first fault.
 */
export function checkSession(config: DrpConfig): void {
  const n = config.servers.length;
  const bad = (condition: unknown, message: string): void => check<DrpErrorCode>(condition, "DRP_BAD_CONFIG", message);
  // n ≥ 3f + 1 byzantine-tolerant servers; 2f + 1 signers then include f + 1 honest ones whatever n.
  bad(config.faultTolerance === Math.floor((n - 1) / 3), `f = ${config.faultTolerance} is not ⌊(n − 1)/3⌋ for n = ${n} servers`);
  bad(config.groupingSeed.length === GROUPING_SEED_BYTES, `the grouping seed must be ${GROUPING_SEED_BYTES} bytes`);
  const m = config.groups.length;
  bad(m >= 1 && m <= n, `the group count must be in [1, ${n}], got ${m}`);
  const seen = new Set<number>();
  for (const group of config.groups) {
    bad(group.length === Math.floor(n / m) || group.length === Math.ceil(n / m), `a group of ${group.length} is not balanced (n = ${n}, m = ${m})`);
    for (const server of group) {
      bad(Number.isInteger(server) && server >= 0 && server < n, `group member ${server} is not a server`);
      bad(!seen.has(server), `server ${server} is in two groups`);
      seen.add(server);
    }
  }
  bad(seen.size === n, "the groups do not cover every server");
  const expected = makeGrouping(n, m, config.groupingSeed);
  bad(
    config.groups.every((group, l) => group.length === expected[l]!.length && group.every((server, k) => server === expected[l]![k])),
    "the groups are not the grouping of the seed",
  );
  bad(new TextEncoder().encode(config.purpose).length <= MAX_PURPOSE_BYTES, `the purpose exceeds ${MAX_PURPOSE_BYTES} bytes`);
  bad(Number.isSafeInteger(config.timestamp) && config.timestamp >= 0, "the timestamp must be a non-negative safe integer");
}

/** Algorithm 3 step 1 (and what Algorithm 2 assumes of C): DRP_BAD_CONFIG naming the first fault. */
export function checkConfig(config: DrpConfig): void {
  checkParties(config);
  checkSession(config);
}

/** The parties' part of C's encoding, its prefix. */
function encodeParties(parties: DrpParties): Uint8Array {
  const n = parties.servers.length;
  const writer = BinaryWriter.ofSize(1 + parties.chainId.length + 2 + n * (2 * POINT_BYTES + SIGNATURE_BYTES) + PUBLIC_KEY_BYTES);
  writer.lengthPrefixed("u8", parties.chainId).u16(n);
  for (const { signingKey, pvssKey, possession } of parties.servers) writer.bytes(signingKey).bytes(pointBytes(pvssKey)).bytes(possession);
  return writer.bytes(parties.clientKey).finish();
}

/** Parties a server knows, checked, and their encoding, to compare C's prefix against. */
export interface KnownParties {
  readonly parties: DrpParties;
  readonly encoding: Uint8Array;
}

/** X as a node knows it (its registry's keys with their PoPs), checked once: DRP_BAD_CONFIG otherwise. */
export function knownParties(parties: DrpParties): KnownParties {
  checkParties(parties);
  return { parties, encoding: encodeParties(parties) };
}

export function encodeConfig(config: DrpConfig): Uint8Array {
  const parties = encodeParties(config);
  const purpose = new TextEncoder().encode(config.purpose);
  const groupBytes = config.groups.reduce((sum, group) => sum + 2 + 2 * group.length, 0);
  const writer = BinaryWriter.ofSize(parties.length + 2 + GROUPING_SEED_BYTES + 2 + groupBytes + 1 + purpose.length + 8);
  writer.bytes(parties).u16(config.faultTolerance).bytes(config.groupingSeed).u16(config.groups.length);
  for (const group of config.groups) {
    writer.u16(group.length);
    for (const server of group) writer.u16(server);
  }
  return writer.lengthPrefixed("u8", purpose).u64(config.timestamp).finish();
}

function readParties(reader: BinaryReader<DrpErrorCode>): DrpParties {
  const chainId = reader.lengthPrefixed("u8", MAX_CHAIN_ID_BYTES, "chain id").slice();
  const n = reader.u16("server count");
  const servers = Array.from({ length: n }, (_, i): ServerKeys => ({
    signingKey: reader.bytes(PUBLIC_KEY_BYTES, `server ${i} signing key`).slice(),
    pvssKey: readPoint(reader, `server ${i} PVSS key`),
    possession: reader.bytes(SIGNATURE_BYTES, `server ${i} proof of possession`).slice(),
  }));
  return { chainId, servers, clientKey: reader.bytes(PUBLIC_KEY_BYTES, "client key").slice() };
}

/**
 * Decodes the structure only; `checkConfig` judges the values. With `known`, C's parties must be
 * those byte for byte (DRP_BAD_CONFIG otherwise) and are taken from `known` undecoded.
 */
export function decodeConfig(bytes: Uint8Array, known?: KnownParties): DrpConfig {
  const reader = new BinaryReader<DrpErrorCode>(bytes, CODES);
  let parties: DrpParties;
  if (known === undefined) {
    parties = readParties(reader);
  } else {
    const prefix = reader.bytes(Math.min(known.encoding.length, reader.remaining), "parties");
    check<DrpErrorCode>(sameBytes(prefix, known.encoding), "DRP_BAD_CONFIG", "the configuration's parties are not the known keys X");
    parties = known.parties;
  }
  const faultTolerance = reader.u16("fault tolerance");
  const groupingSeed = reader.bytes(GROUPING_SEED_BYTES, "grouping seed").slice();
  const groupCount = reader.u16("group count");
  const groups = Array.from({ length: groupCount }, (_, l) => {
    const size = reader.u16(`group ${l} size`);
    return Array.from({ length: size }, () => reader.u16(`group ${l} member`));
  });
  let purpose: string;
  try {
    purpose = new TextDecoder("utf-8", { fatal: true }).decode(reader.lengthPrefixed("u8", MAX_PURPOSE_BYTES, "purpose"));
  } catch (error) {
    if (error instanceof TypeError) reader.fail("DRP_MALFORMED", "the purpose is not UTF-8");
    throw error;
  }
  const timestamp = reader.u53("timestamp");
  reader.expectEnd("the configuration");
  return { ...parties, faultTolerance, groupingSeed, groups, purpose, timestamp };
}

/** H(C): the session identifier (Algorithm 2 input 14). */
export function sessionIdOf(encodedConfig: Uint8Array): Uint8Array {
  const input = new Uint8Array(SESSION_DOMAIN.length + encodedConfig.length);
  input.set(SESSION_DOMAIN);
  input.set(encodedConfig, SESSION_DOMAIN.length);
  return sha256(input);
}

/** The group holding `server` and its 1-based share index in it. */
export function groupOf(config: DrpConfig, server: number): { readonly group: number; readonly shareIndex: number } {
  for (let l = 0; l < config.groups.length; l++) {
    const position = config.groups[l]!.indexOf(server);
    if (position >= 0) return { group: l, shareIndex: position + 1 };
  }
  invariant(false, `server ${server} is in a group of a checked configuration`);
}

/** The context of dealer `dealer`'s PVSS proofs in this session: H(C) ‖ u16le dealer. */
export function dealContext(sessionId: Uint8Array, dealer: number): Uint8Array {
  return BinaryWriter.ofSize(SESSION_ID_BYTES + 2).bytes(sessionId).u16(dealer).finish();
}

/** rnd = SHA-256(domain ‖ Z): the protocol's random string. */
export function randomnessOf(z: RistrettoPoint): Uint8Array {
  return sha256(BinaryWriter.ofSize(RANDOMNESS_DOMAIN.length + POINT_BYTES).bytes(RANDOMNESS_DOMAIN).bytes(pointBytes(z)).finish());
}
