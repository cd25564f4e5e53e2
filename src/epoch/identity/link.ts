/**
 * Links of the identity chain (./interface.ts; white paper §4.1, DESIGN.md §5): the certificate
 * epoch e − 1's validators put on the configuration of epoch e, the check of one link against
 * the previous epoch's context, and the walk from the genesis.
 *
 * Certificate: one collective Schnorr signature of the existing CoSi (src/consensus/cosi; its
 * encoding n u16 ‖ mask ‖ V ‖ r) with bit i of the mask standing for validator i of epoch e − 1
 * in configuration order, over the message
 *   "IOSChain/identity/certificate/v1" ‖ chain [32] ‖ u32le epoch ‖ configuration hash [32],
 * signed by at least ⌊2n/3⌋ + 1 of those n validators (counted, not weighted by stake; equal to
 * CoSi's n − ⌊(n − 1)/3⌋, `cosiThreshold`).
 *
 * `verifyEpochLink(previous, configuration, certificate)` checks, in order:
 *   1  the encoding (./configuration.ts codes)
 *   2  the previous epoch has a length                          IDENTITY_ENDLESS_EPOCH
 *   3  chain, epoch = previous + 1, previous hash               IDENTITY_WRONG_CHAIN / _EPOCH / _PREVIOUS
 *   4  same L and shard count                                   IDENTITY_WRONG_EPOCH_LENGTH / _SHARD_COUNT
 *   5  one boundary per shard, each at height e·L               IDENTITY_WRONG_BOUNDARIES / _HEIGHT
 *   6  the certificate: its encoding (COSI_BAD_SIGNATURE_ENCODING), a mask over exactly the
 *      previous validators (IDENTITY_UNKNOWN_SIGNER), enough signers (IDENTITY_TOO_FEW_SIGNERS),
 *      the aggregate under their keys (IDENTITY_BAD_SIGNATURE)
 *   7  the lottery: a previous validator's ECVRF proof over the election's lottery input (previous hash ‖ u32le view)
 *                                                               IDENTITY_BAD_LOTTERY
 *   8  every validator's key and proof of possession, through the previous registry's
 *      `successor` (REGISTRY_* codes), and the context itself (EPOCH_* codes)
 * and returns the EpochContext of epoch e — with the carried believability scores and the
 * departures the configuration states, so its leagues are the ones its members draw. The lottery proves the leader was entitled to run
 * DRP in that view; that its ticket was the minimum, that rnd_e is the output of the committed
 * transcript, that the validator set holds every final registration and that the scores and
 * departures are the ones the shards' certified boundaries give are what the ≥ 2/3 signers vouch for.
 *
 * Chain encoding (store-independent, for serving and showing the chain): u8 version 1 ‖ u32 k ‖
 * k × (u32 |configuration| ‖ configuration ‖ u32 |certificate| ‖ certificate), epochs 1..k.
 *
 * API: `identityCertificateMessage`, `verifyEpochLink`, `verifyIdentityChain`,
 * `encodeIdentityChain`, `decodeIdentityChain`.
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { HASH_BYTES } from "../../codec/sizes.js";
import { collectiveSignatureBytes, cosiThreshold, decodeCollectiveSignature, verifyCollectiveSignature } from "../../consensus/cosi/codec.js";
import { popcount } from "../../consensus/cosi/mask.js";
import { MAX_VALIDATORS } from "../../consensus/registry.js";
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { sameBytes } from "../../bytes.js";
import { IosError, check, hasCodeIn } from "../../errors.js";
import type { Genesis } from "../../ledger/genesis.js";
import { EpochContextValue, genesisEpochContext } from "../context.js";
import type { EpochContext } from "../interface.js";
import { MAX_CONFIGURATION_BYTES, decodeIdentityConfiguration, identityConfigurationHash } from "./configuration.js";
import { verifyLeaderLottery } from "../election/lottery.js";
import type { ElectionErrorCode } from "../election/interface.js";
import type { IdentityErrorCode, IdentityLink } from "./interface.js";

const CERTIFICATE_DOMAIN = new TextEncoder().encode("IOSChain/identity/certificate/v1");
const CERTIFICATE_MESSAGE = layout({ domain: CERTIFICATE_DOMAIN.length, chain: HASH_BYTES, epoch: 4, configurationHash: HASH_BYTES });
export const CHAIN_VERSION = 1;
/** The largest certificate: a mask over every validator a registry holds. */
export const MAX_CERTIFICATE_BYTES = collectiveSignatureBytes(MAX_VALIDATORS);
const CHAIN_CODES: CodecCodes<IdentityErrorCode> = {
  truncated: "IDENTITY_TRUNCATED",
  trailing: "IDENTITY_TRAILING_BYTES",
  tooLarge: "IDENTITY_OUT_OF_RANGE",
  outOfRange: "IDENTITY_OUT_OF_RANGE",
};

/** What the validators of epoch − 1 co-sign for the configuration of `epoch` with this hash. */
export function identityCertificateMessage(chain: Uint8Array, epoch: number, configurationHash: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(CERTIFICATE_MESSAGE.bytes).bytes(CERTIFICATE_DOMAIN).bytes(chain).u32(epoch).bytes(configurationHash).finish();
}

/**
 * The context of the epoch after `previous` if `configuration` is its configuration and
 * `certificate` the signature of ≥ ⌊2n/3⌋ + 1 of `previous`'s validators on it (checks and codes
 * in the file comment). `verifier`: the WASM verifier to aggregate keys with (a shared one by default).
 */
export function verifyEpochLink(previous: EpochContext, configuration: Uint8Array, certificate: Uint8Array, verifier?: Ed25519Verifier): EpochContext {
  const next = decodeIdentityConfiguration(configuration);
  const { epoch, epochLength } = next;
  check<IdentityErrorCode>(previous.epochLength !== undefined, "IDENTITY_ENDLESS_EPOCH", `epoch ${previous.epoch} has no length, so no epoch follows it`);
  check<IdentityErrorCode>(sameBytes(next.chain, previous.chain), "IDENTITY_WRONG_CHAIN", "the configuration is of another chain");
  check<IdentityErrorCode>(epoch === previous.epoch + 1, "IDENTITY_WRONG_EPOCH", `the configuration is of epoch ${epoch}, the one after epoch ${previous.epoch} is ${previous.epoch + 1}`);
  check<IdentityErrorCode>(sameBytes(next.previous, previous.configurationHash), "IDENTITY_WRONG_PREVIOUS", `the configuration does not follow epoch ${previous.epoch}'s`);
  check<IdentityErrorCode>(epochLength === previous.epochLength, "IDENTITY_WRONG_EPOCH_LENGTH", `epoch length ${epochLength}, the chain's is ${previous.epochLength}`);
  check<IdentityErrorCode>(next.shardCount === previous.shardCount, "IDENTITY_WRONG_SHARD_COUNT", `${next.shardCount} shards, the chain has ${previous.shardCount}`);
  check<IdentityErrorCode>(next.boundaries.length === next.shardCount, "IDENTITY_WRONG_BOUNDARIES", `${next.boundaries.length} shard boundaries for ${next.shardCount} shards`);
  const boundary = epoch * epochLength;
  next.boundaries.forEach(({ height }, shard) => {
    check<IdentityErrorCode>(height === boundary, "IDENTITY_WRONG_HEIGHT", `shard ${shard}'s boundary is at height ${height}; epoch ${epoch - 1} ends at ${boundary}`);
  });

  const hash = identityConfigurationHash(configuration);
  const signers = previous.validators.map((validator) => validator.publicKey);
  const cs = decodeCollectiveSignature(certificate);
  check<IdentityErrorCode>(cs.count === signers.length, "IDENTITY_UNKNOWN_SIGNER", `the certificate's mask spans ${cs.count} validators, epoch ${previous.epoch} has ${signers.length}`);
  const threshold = cosiThreshold(signers.length);
  check<IdentityErrorCode>(popcount(cs.mask) >= threshold, "IDENTITY_TOO_FEW_SIGNERS", `${popcount(cs.mask)} of ${signers.length} signed, ${threshold} must`);
  check<IdentityErrorCode>(verifyCollectiveSignature(signers, identityCertificateMessage(next.chain, epoch, hash), cs, threshold, verifier), "IDENTITY_BAD_SIGNATURE",
    `the certificate does not verify under its signers' keys for epoch ${epoch}`);

  try {
    verifyLeaderLottery(previous.configurationHash, signers, next.lottery);
  } catch (error) {
    if (error instanceof IosError && hasCodeIn<ElectionErrorCode>(error, ["ELECTION_BAD_VALIDATOR", "ELECTION_BAD_PROOF"])) throw new IosError<IdentityErrorCode>("IDENTITY_BAD_LOTTERY", error.message);
    throw error;
  }

  return new EpochContextValue({
    chain: next.chain,
    epoch,
    randomness: next.randomness,
    shardCount: next.shardCount,
    startHeight: boundary,
    epochLength,
    configurationHash: hash,
    validators: next.validators.map(({ publicKey, stake, bond, servi, reputation }) => ({ publicKey, stake, bond, servi, reputation })),
    departures: next.departures,
    registry: previous.registry.successor(next.validators.map(({ publicKey, pop }) => ({ publicKey, proof: pop }))),
    ...(next.policy === undefined ? {} : { policy: next.policy }),
    previous,
  });
}

/** The contexts of epochs 0..k: the genesis's, then one per link (`verifyEpochLink`'s codes for the first bad one). */
export function verifyIdentityChain(genesis: Genesis, links: readonly IdentityLink[], verifier?: Ed25519Verifier): EpochContext[] {
  const contexts = [genesisEpochContext(genesis)];
  for (const { configuration, certificate } of links) contexts.push(verifyEpochLink(contexts.at(-1)!, configuration, certificate, verifier));
  return contexts;
}

export function encodeIdentityChain(links: readonly IdentityLink[]): Uint8Array {
  const size = 1 + 4 + links.reduce((sum, link) => sum + 8 + link.configuration.length + link.certificate.length, 0);
  const writer = BinaryWriter.ofSize(size).u8(CHAIN_VERSION).u32(links.length);
  for (const { configuration, certificate } of links) writer.lengthPrefixed("u32", configuration).lengthPrefixed("u32", certificate);
  return writer.finish();
}

/** The links `bytes` encode, copied; each part's own encoding is checked when the link is verified. */
export function decodeIdentityChain(bytes: Uint8Array): IdentityLink[] {
  check<IdentityErrorCode>(bytes instanceof Uint8Array, "IDENTITY_TRUNCATED", "an identity chain is bytes");
  const reader = new BinaryReader(bytes, CHAIN_CODES);
  const version = reader.u8("the chain version");
  check<IdentityErrorCode>(version === CHAIN_VERSION, "IDENTITY_UNKNOWN_VERSION", `identity chain version ${version}, expected ${CHAIN_VERSION}`);
  const count = reader.u32("the link count");
  const links: IdentityLink[] = [];
  for (let i = 0; i < count; i++) {
    // Each link takes at least its two length fields: a count the bytes cannot hold fails here, not after allocating.
    reader.need(8, `link ${i + 1}`);
    const configuration = reader.lengthPrefixed("u32", MAX_CONFIGURATION_BYTES, `configuration ${i + 1}`).slice();
    links.push({ configuration, certificate: reader.lengthPrefixed("u32", MAX_CERTIFICATE_BYTES, `certificate ${i + 1}`).slice() });
  }
  reader.expectEnd("the last link");
  return links;
}
