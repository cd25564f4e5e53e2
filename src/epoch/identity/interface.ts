/**
 * The identity chain (white paper §4.1: "the valid identities have been fixed in the identity
 * blockchain" before the lottery; DESIGN.md §5): block e ≥ 1 is the configuration of
 * epoch e, chained to the previous one by hash and collectively signed by at least ⌊2n/3⌋ + 1 of
 * epoch e − 1's n validators, so anyone holding the genesis alone verifies every epoch's
 * validators, shards and randomness, and from them every block certificate of that epoch.
 *
 * Consumers: epoch transitions (the next EpochContext comes from `verifyEpochLink`), validators
 * that sync a shard (they check final blocks against the contexts of `verifyIdentityChain`),
 * the leader election (whose winning lottery each configuration records), and the client API and CLI that serve
 * and show the chain (`encodeIdentityChain`).
 */
import type { ShardingPolicy } from "../../consensus/pob/policy.js";
import type { LeaderLottery } from "../election/interface.js";
import type { Departure, EpochValidator } from "../interface.js";

export type IdentityErrorCode =
  /** An encoding ends before a field. */
  | "IDENTITY_TRUNCATED"
  /** Bytes remain after the last field. */
  | "IDENTITY_TRAILING_BYTES"
  /** A field or count outside its range: epoch 0, L = 0, a zero stake, a reputation past its maximum, a height past 2^53 − 1, a flag other than 0/1. */
  | "IDENTITY_OUT_OF_RANGE"
  | "IDENTITY_UNKNOWN_VERSION"
  | "IDENTITY_DUPLICATE_VALIDATOR"
  /** Validators are listed in strictly ascending key order: one encoding per validator set. */
  | "IDENTITY_UNORDERED_VALIDATORS"
  /** Departures are listed in strictly ascending bond-outpoint order: one encoding per list, no bond twice. */
  | "IDENTITY_UNORDERED_DEPARTURES"
  /** The previous epoch has no length: a chain of one endless epoch has no epoch 1. */
  | "IDENTITY_ENDLESS_EPOCH"
  | "IDENTITY_WRONG_CHAIN"
  /** The configuration is not of the epoch after the previous one. */
  | "IDENTITY_WRONG_EPOCH"
  /** It names another previous configuration hash. */
  | "IDENTITY_WRONG_PREVIOUS"
  /** L or the shard count differs from the previous epoch's (heights and UTXO sets are cut by them). */
  | "IDENTITY_WRONG_EPOCH_LENGTH"
  | "IDENTITY_WRONG_SHARD_COUNT"
  /** Not one boundary per shard. */
  | "IDENTITY_WRONG_BOUNDARIES"
  /** A boundary height other than e·L, the last height of epoch e − 1. */
  | "IDENTITY_WRONG_HEIGHT"
  /** The lottery names no validator of epoch e − 1, or its VRF proof does not verify. */
  | "IDENTITY_BAD_LOTTERY"
  /** The certificate's mask is not over epoch e − 1's validators: it counts a signer outside them. */
  | "IDENTITY_UNKNOWN_SIGNER"
  | "IDENTITY_TOO_FEW_SIGNERS"
  /** The aggregate signature does not verify under the signers' keys for this chain, epoch and hash. */
  | "IDENTITY_BAD_SIGNATURE";

/**
 * A validator of the configuration: its epoch entry, its proof of possession (src/consensus/
 * registry.ts) and the believability score it carries into the epoch (required here: the
 * configuration states every score).
 */
export interface IdentityValidator extends EpochValidator {
  /** Ed25519 signature over popMessage(publicKey, the registry's chain id): what the genesis validators carry. */
  readonly pop: Uint8Array;
  readonly servi: number;
  readonly reputation: number;
}


/** Where a shard's chain ended epoch e − 1: its final height e·L and the state it committed there. */
export interface ShardBoundary {
  readonly height: number;
  /**
   * The state commitment the shard reached at that height (PoB finalization.ts
   * `stateCommitmentOf`), which its final-height certificate (src/atomix/proof.ts) proves.
   */
  readonly stateCommitment: Uint8Array;
}

/** The configuration of epoch e ≥ 1: block e of the identity chain. */
export interface IdentityConfiguration {
  /** The genesis txid. */
  readonly chain: Uint8Array;
  readonly epoch: number;
  /** Hash of the configuration of epoch e − 1 (epoch 1: the chain id). */
  readonly previous: Uint8Array;
  readonly epochLength: number;
  readonly shardCount: number;
  readonly policy: ShardingPolicy | undefined;
  /** Every validator of epoch e, in ascending key order. */
  readonly validators: readonly IdentityValidator[];
  /** rnd_e, the output of the DRP run that produced it (32 bytes). */
  readonly randomness: Uint8Array;
  /** SHA-256 of that run's transcript (src/epoch/drp/transcript.ts). */
  readonly transcriptHash: Uint8Array;
  /** The leader election's winning lottery (src/epoch/election, Algorithm 1). */
  readonly lottery: LeaderLottery;
  /** One per shard, in shard order. */
  readonly boundaries: readonly ShardBoundary[];
  /** Bonds of validators gone, awaiting release, in ascending bond-outpoint order. */
  readonly departures: readonly Departure[];
}

/** Block e of the chain as it is stored and served: the configuration and its certificate, encoded. */
export interface IdentityLink {
  /** `encodeIdentityConfiguration`'s bytes. */
  readonly configuration: Uint8Array;
  /** A collective signature (src/consensus/cosi/codec.ts: n u16 ‖ mask ‖ V ‖ r) of epoch e − 1's validators. */
  readonly certificate: Uint8Array;
}
