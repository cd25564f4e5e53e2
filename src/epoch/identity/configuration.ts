/**
 * The configuration of epoch e ≥ 1, block e of the identity chain (./interface.ts; white paper
 * §4.1, DESIGN.md §5): one canonical binary encoding, its hash, and the builder of the next one.
 *
 * Encoding (little-endian; CONFIGURATION_VERSION 2 — version 1 had no scores and no departures):
 *   u8 version ‖ chain [32] ‖ u32 epoch (≥ 1) ‖ previous configuration hash [32] ‖
 *   u32 epoch length L (≥ 1) ‖ u32 shard count (1..MAX_SHARDS) ‖
 *   u8 policy flag (0 none, 1 present) ‖ [PoB policy, src/consensus/pob/policy.ts, 28 bytes] ‖
 *   u32 n (1..MAX_VALIDATORS) ‖ n × (public key [32] ‖ u64 stake (≥ 1) ‖ bond outpoint [36] ‖
 *   proof of possession [64] ‖ u32 servi ‖ u16 reputation (≤ REPUTATION_MAX)) in strictly
 *   ascending key order ‖
 *   rnd_e [32] ‖ SHA-256 of the DRP transcript [32] ‖
 *   lottery: u32 validator index ‖ ECVRF proof [80] ‖ u32 view ‖
 *   u32 m (1..MAX_SHARDS) ‖ m × (u64 height ‖ state commitment [32]), shard 0 first ‖
 *   u32 d (0..MAX_VALIDATORS) ‖ d × (bond outpoint [36] ‖ validator key [32] ‖ payout owner [32]
 *   ‖ u32 release epoch) in strictly ascending bond-outpoint order.
 * Servi and reputation are each validator's believability carried over from epoch e − 1 (a
 * newcomer's: 0 and REPUTATION_INITIAL); the departures are the bonds of validators gone that no
 * release has spent yet (src/epoch/interface.ts `Departure`).
 * Every valid configuration has exactly one encoding: fixed widths, a 0/1 flag, a checked policy
 * (one binary64 per accepted probability) and one order of the validators, which also makes a
 * repeated key visible. Decoding is strict: IDENTITY_TRUNCATED, IDENTITY_TRAILING_BYTES,
 * IDENTITY_OUT_OF_RANGE, IDENTITY_UNKNOWN_VERSION, IDENTITY_DUPLICATE_VALIDATOR,
 * IDENTITY_UNORDERED_VALIDATORS, IDENTITY_UNORDERED_DEPARTURES, POB_BAD_POLICY for a policy out of its ranges.
 *
 * Hash = SHA-256("IOSChain/identity/configuration/v1" ‖ encoding).
 *
 * Whether a configuration follows its previous epoch (chain, epoch, hash, L, shard count,
 * boundaries, lottery, signers) is ./link.ts's `verifyEpochLink`.
 *
 * API: `encodeIdentityConfiguration`, `decodeIdentityConfiguration`, `identityConfigurationHash`,
 * `nextIdentityConfiguration`, `MAX_CONFIGURATION_BYTES`.
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, HASH_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, VRF_PROOF_BYTES } from "../../codec/sizes.js";
import { POLICY_BYTES, readPolicy, validatePolicy, writePolicy } from "../../consensus/pob/policy.js";
import { REPUTATION_MAX } from "../../consensus/pob/believability.js";
import { MAX_VALIDATORS } from "../../consensus/registry.js";
import { sha256 } from "../../crypto/sha256.js";
import { check } from "../../errors.js";
import { MAX_EPOCH_LENGTH } from "../../ledger/genesis.js";
import { MAX_SHARDS } from "../../ledger/shard.js";
import { MAX_AMOUNT } from "../../ledger/transaction.js";
import type { Departure, EpochContext } from "../interface.js";
import type { IdentityConfiguration, IdentityErrorCode, IdentityValidator } from "./interface.js";

export const CONFIGURATION_VERSION = 2;
const CONFIGURATION_DOMAIN = new TextEncoder().encode("IOSChain/identity/configuration/v1");
const U32_MAX = 0xffff_ffff;

/** The fields before the policy. */
const HEAD = layout({ version: 1, chain: HASH_BYTES, epoch: 4, previous: HASH_BYTES, epochLength: 4, shardCount: 4, policyFlag: 1 });
const VALIDATOR_ENTRY = layout({ publicKey: PUBLIC_KEY_BYTES, stake: AMOUNT_BYTES, bond: OUTPOINT_BYTES, pop: SIGNATURE_BYTES, servi: 4, reputation: 2 });
/** rnd_e, the transcript hash and the lottery, between the validators and the boundaries. */
const DRAW = layout({ randomness: HASH_BYTES, transcriptHash: HASH_BYTES, lotteryValidator: 4, lotteryProof: VRF_PROOF_BYTES, lotteryView: 4 });
const BOUNDARY = layout({ height: 8, stateCommitment: HASH_BYTES });
const DEPARTURE = layout({ bond: OUTPOINT_BYTES, validator: PUBLIC_KEY_BYTES, payout: PUBLIC_KEY_BYTES, releaseEpoch: 4 });
const COUNT_BYTES = 4;

function configurationBytes(hasPolicy: boolean, validators: number, shards: number, departures: number): number {
  return HEAD.bytes + (hasPolicy ? POLICY_BYTES : 0) + COUNT_BYTES + validators * VALIDATOR_ENTRY.bytes + DRAW.bytes + COUNT_BYTES + shards * BOUNDARY.bytes +
    COUNT_BYTES + departures * DEPARTURE.bytes;
}

/** The largest configuration: every validator a registry holds, every shard, a policy, as many departures as validators (about 16 MB). */
export const MAX_CONFIGURATION_BYTES = configurationBytes(true, MAX_VALIDATORS, MAX_SHARDS, MAX_VALIDATORS);

const CODES: CodecCodes<IdentityErrorCode> = {
  truncated: "IDENTITY_TRUNCATED",
  trailing: "IDENTITY_TRAILING_BYTES",
  tooLarge: "IDENTITY_OUT_OF_RANGE",
  outOfRange: "IDENTITY_OUT_OF_RANGE",
};

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function isIntegerIn(value: number, low: number, high: number): boolean {
  return Number.isInteger(value) && value >= low && value <= high;
}

function inRange(condition: boolean, message: string): asserts condition {
  check<IdentityErrorCode>(condition, "IDENTITY_OUT_OF_RANGE", message);
}

/** Every field in its range and the validators in strictly ascending key order: what both encoding and decoding require. */
function checkConfiguration(configuration: IdentityConfiguration): void {
  const { chain, epoch, previous, epochLength, shardCount, policy, validators, randomness, transcriptHash, lottery, boundaries, departures } = configuration;
  inRange(isBytes(chain, HASH_BYTES) && isBytes(previous, HASH_BYTES), `the chain id and the previous hash are ${HASH_BYTES} bytes`);
  inRange(isIntegerIn(epoch, 1, U32_MAX), `a configuration's epoch is a u32 ≥ 1 (epoch 0 is the genesis), got ${epoch}`);
  inRange(isIntegerIn(epochLength, 1, MAX_EPOCH_LENGTH), `the epoch length is in 1..${MAX_EPOCH_LENGTH}, got ${epochLength}`);
  inRange(isIntegerIn(shardCount, 1, MAX_SHARDS), `the shard count is in 1..${MAX_SHARDS}, got ${shardCount}`);
  if (policy !== undefined) validatePolicy(policy);
  inRange(isIntegerIn(validators.length, 1, MAX_VALIDATORS), `a configuration lists 1..${MAX_VALIDATORS} validators, got ${validators.length}`);
  validators.forEach((validator, i) => {
    const { publicKey, stake, bond, pop } = validator;
    inRange(isBytes(publicKey, PUBLIC_KEY_BYTES) && isBytes(bond, OUTPOINT_BYTES) && isBytes(pop, SIGNATURE_BYTES), `validator ${i}: key, bond outpoint or proof of possession of the wrong length`);
    inRange(typeof stake === "bigint" && stake >= 1n && stake <= MAX_AMOUNT, `validator ${i}: the stake is in 1..2^64 − 1`);
    inRange(isIntegerIn(validator.servi, 0, U32_MAX) && isIntegerIn(validator.reputation, 0, REPUTATION_MAX), `validator ${i}: Servi is a u32, reputation in 0..${REPUTATION_MAX}`);
    if (i === 0) return;
    const order = Buffer.compare(validators[i - 1]!.publicKey, publicKey);
    check<IdentityErrorCode>(order !== 0, "IDENTITY_DUPLICATE_VALIDATOR", `validators ${i - 1} and ${i} have the same key`);
    check<IdentityErrorCode>(order < 0, "IDENTITY_UNORDERED_VALIDATORS", `validator ${i}'s key is below validator ${i - 1}'s: keys are listed in ascending order`);
  });
  inRange(isBytes(randomness, HASH_BYTES) && isBytes(transcriptHash, HASH_BYTES), `rnd_e and the transcript hash are ${HASH_BYTES} bytes`);
  inRange(isIntegerIn(lottery.leader, 0, U32_MAX) && isIntegerIn(lottery.view, 0, U32_MAX) && isBytes(lottery.proof, VRF_PROOF_BYTES),
    `the lottery is a u32 validator index, a ${VRF_PROOF_BYTES}-byte VRF proof and a u32 view`);
  inRange(isIntegerIn(boundaries.length, 1, MAX_SHARDS), `a configuration lists 1..${MAX_SHARDS} shard boundaries, got ${boundaries.length}`);
  boundaries.forEach(({ height, stateCommitment }, shard) => {
    inRange(Number.isSafeInteger(height) && height >= 0 && isBytes(stateCommitment, HASH_BYTES), `boundary of shard ${shard}: a height up to 2^53 − 1 and a ${HASH_BYTES}-byte state commitment`);
  });
  inRange(isIntegerIn(departures.length, 0, MAX_VALIDATORS), `a configuration lists 0..${MAX_VALIDATORS} departures, got ${departures.length}`);
  departures.forEach(({ bond, validator, payout, releaseEpoch }, i) => {
    inRange(isBytes(bond, OUTPOINT_BYTES) && isBytes(validator, PUBLIC_KEY_BYTES) && isBytes(payout, PUBLIC_KEY_BYTES) && isIntegerIn(releaseEpoch, 0, U32_MAX),
      `departure ${i}: a bond outpoint, a validator key, a payout owner and a u32 release epoch`);
    check<IdentityErrorCode>(i === 0 || Buffer.compare(departures[i - 1]!.bond, bond) < 0, "IDENTITY_UNORDERED_DEPARTURES", `departure ${i}'s bond does not follow departure ${i - 1}'s: bonds are listed once, in ascending order`);
  });
}

export function encodeIdentityConfiguration(configuration: IdentityConfiguration): Uint8Array {
  checkConfiguration(configuration);
  const { policy, validators, lottery, boundaries, departures } = configuration;
  const writer = BinaryWriter.ofSize(configurationBytes(policy !== undefined, validators.length, boundaries.length, departures.length))
    .u8(CONFIGURATION_VERSION)
    .bytes(configuration.chain)
    .u32(configuration.epoch)
    .bytes(configuration.previous)
    .u32(configuration.epochLength)
    .u32(configuration.shardCount)
    .u8(policy === undefined ? 0 : 1);
  if (policy !== undefined) writePolicy(writer, policy);
  writer.u32(validators.length);
  for (const { publicKey, stake, bond, pop, servi, reputation } of validators) writer.bytes(publicKey).u64(stake).bytes(bond).bytes(pop).u32(servi).u16(reputation);
  writer.bytes(configuration.randomness).bytes(configuration.transcriptHash).u32(lottery.leader).bytes(lottery.proof).u32(lottery.view);
  writer.u32(boundaries.length);
  for (const { height, stateCommitment } of boundaries) writer.u64(height).bytes(stateCommitment);
  writer.u32(departures.length);
  for (const { bond, validator, payout, releaseEpoch } of departures) writer.bytes(bond).bytes(validator).bytes(payout).u32(releaseEpoch);
  return writer.finish();
}

/** A count read as a u32 and checked against its range before anything is allocated for it. */
function readCount(reader: BinaryReader<IdentityErrorCode>, max: number, entryBytes: number, what: string, min = 1): number {
  const count = reader.u32(`${what} count`);
  if (count < min || count > max) reader.fail("IDENTITY_OUT_OF_RANGE", `${what}: ${count} listed, ${min}..${max} allowed`);
  reader.need(count * entryBytes, what);
  return count;
}

/** The configuration `bytes` encode (file comment), with every field copied out of `bytes`. */
export function decodeIdentityConfiguration(bytes: Uint8Array): IdentityConfiguration {
  check<IdentityErrorCode>(bytes instanceof Uint8Array, "IDENTITY_TRUNCATED", "a configuration is bytes");
  check<IdentityErrorCode>(bytes.length <= MAX_CONFIGURATION_BYTES, "IDENTITY_OUT_OF_RANGE", `a configuration is at most ${MAX_CONFIGURATION_BYTES} bytes, got ${bytes.length}`);
  const reader = new BinaryReader(bytes, CODES);
  reader.need(HEAD.bytes, "the configuration head");
  const version = reader.u8();
  check<IdentityErrorCode>(version === CONFIGURATION_VERSION, "IDENTITY_UNKNOWN_VERSION", `configuration version ${version}, expected ${CONFIGURATION_VERSION}`);
  const chain = reader.bytes(HASH_BYTES).slice();
  const epoch = reader.u32();
  const previous = reader.bytes(HASH_BYTES).slice();
  const epochLength = reader.u32();
  const shardCount = reader.u32();
  const policyFlag = reader.u8();
  if (policyFlag > 1) reader.fail("IDENTITY_OUT_OF_RANGE", `the policy flag is 0 or 1, got ${policyFlag}`);
  const policy = policyFlag === 1 ? readPolicy(reader) : undefined;
  const validators = Array.from({ length: readCount(reader, MAX_VALIDATORS, VALIDATOR_ENTRY.bytes, "validators") }, (): IdentityValidator => ({
    publicKey: reader.bytes(PUBLIC_KEY_BYTES).slice(),
    stake: reader.u64(),
    bond: reader.bytes(OUTPOINT_BYTES).slice(),
    pop: reader.bytes(SIGNATURE_BYTES).slice(),
    servi: reader.u32(),
    reputation: reader.u16(),
  }));
  reader.need(DRAW.bytes, "rnd_e, the transcript hash and the lottery");
  const randomness = reader.bytes(HASH_BYTES).slice();
  const transcriptHash = reader.bytes(HASH_BYTES).slice();
  const lottery = { leader: reader.u32(), proof: reader.bytes(VRF_PROOF_BYTES).slice(), view: reader.u32() };
  const boundaries = Array.from({ length: readCount(reader, MAX_SHARDS, BOUNDARY.bytes, "shard boundaries") }, () => ({
    height: reader.u53("boundary height"),
    stateCommitment: reader.bytes(HASH_BYTES).slice(),
  }));
  const departures = Array.from({ length: readCount(reader, MAX_VALIDATORS, DEPARTURE.bytes, "departures", 0) }, (): Departure => ({
    bond: reader.bytes(OUTPOINT_BYTES).slice(),
    validator: reader.bytes(PUBLIC_KEY_BYTES).slice(),
    payout: reader.bytes(PUBLIC_KEY_BYTES).slice(),
    releaseEpoch: reader.u32(),
  }));
  reader.expectEnd("the departures");
  const configuration: IdentityConfiguration = { chain, epoch, previous, epochLength, shardCount, policy, validators, randomness, transcriptHash, lottery, boundaries, departures };
  checkConfiguration(configuration);
  return configuration;
}

/** SHA-256(domain ‖ encoding): what the next configuration names as previous and the certificate signs. */
export function identityConfigurationHash(encoding: Uint8Array): Uint8Array {
  return sha256(BinaryWriter.ofSize(CONFIGURATION_DOMAIN.length + encoding.length).bytes(CONFIGURATION_DOMAIN).bytes(encoding).finish());
}

/** What an epoch's run decides; the rest of the next configuration follows from the previous epoch. */
export type EpochOutcome = Pick<IdentityConfiguration, "validators" | "randomness" | "transcriptHash" | "lottery" | "boundaries" | "departures">;

/**
 * The configuration of the epoch after `previous`: its chain, epoch + 1, its configuration hash,
 * L, shard count and policy, with `outcome` — validators sorted into key order, departures into bond order.
 */
export function nextIdentityConfiguration(previous: EpochContext, outcome: EpochOutcome): IdentityConfiguration {
  check<IdentityErrorCode>(previous.epochLength !== undefined, "IDENTITY_ENDLESS_EPOCH", `epoch ${previous.epoch} has no length, so no epoch follows it`);
  return {
    chain: previous.chain,
    epoch: previous.epoch + 1,
    previous: previous.configurationHash,
    epochLength: previous.epochLength,
    shardCount: previous.shardCount,
    policy: previous.policy,
    ...outcome,
    validators: [...outcome.validators].sort((a, b) => Buffer.compare(a.publicKey, b.publicKey)),
    departures: [...outcome.departures].sort((a, b) => Buffer.compare(a.bond, b.bond)),
  };
}
