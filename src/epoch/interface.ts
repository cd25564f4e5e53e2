/**
 * The epoch context: everything that changes from one epoch to the next (white paper §4–5) in one
 * immutable value, so no other module decides who serves which shard, which epoch it is, or which
 * committee signs what. Genesis builds epoch 0 (`genesisEpochContext`, context.ts); the identity
 * chain (./identity) builds each following one from the previous context and the signed
 * configuration, which carries the Distributed Randomness Protocol's rnd_e.
 *
 * Consumers: genesis and config validation (is this key a validator, of which shard), the shard
 * drivers (BFT committee, PoB leagues, the chain id every signed statement binds), gossip and the
 * transport's peer set (the members of one's shard), and the client API's status.
 */
import type { BelievabilityLedger } from "../consensus/pob/believability.js";
import type { Leagues } from "../consensus/pob/leagues.js";
import type { ShardingPolicy } from "../consensus/pob/policy.js";
import type { Bond } from "../ledger/bond.js";
import type { ValidatorRegistry } from "../consensus/registry.js";
import type { ShardSchedule } from "./transepoch/interface.js";

export type EpochErrorCode =
  | "EPOCH_TOO_FEW_VALIDATORS"
  | "EPOCH_BAD_RANDOMNESS"
  | "EPOCH_BAD_NUMBER"
  | "EPOCH_BAD_LENGTH"
  | "EPOCH_NO_CONFIGURATION_HASH"
  | "EPOCH_NO_POLICY"
  | "EPOCH_NOT_VALIDATOR"
  | "EPOCH_UNREGISTERED_VALIDATOR";

/**
 * A validator of the epoch: its key, its stake and the outpoint where that stake is bonded, and
 * the believability score it carries over from the previous epoch (src/epoch/transition).
 */
export interface EpochValidator {
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  /** The bond's outpoint (txid ‖ u32le index; src/ledger/bond.ts), in the UTXO set of the shard it serves. */
  readonly bond: Uint8Array;
  /** Servi carried over; absent (the genesis, a newcomer): 0. */
  readonly servi?: number;
  /** Reputation carried over; absent (the genesis, a newcomer): REPUTATION_INITIAL (PoB believability.ts). */
  readonly reputation?: number;
}

/**
 * A validator that left (a final leave) and whose bond awaits its release (src/ledger/kinds/
 * registration.ts, operation release): the identity chain lists it from the epoch after its last
 * until a release spends the bond.
 */
export interface Departure {
  readonly validator: Uint8Array;
  /** The bond's outpoint: the one it served with. */
  readonly bond: Uint8Array;
  /** The owner its leave named: the only one a release may pay. */
  readonly payout: Uint8Array;
  /**
   * The first epoch a release may be final in: two after the epoch its leave was final in, so a
   * full epoch passes, out of every committee, in which evidence can still slash the bond.
   */
  readonly releaseEpoch: number;
}

/**
 * One consensus instance: the committee of `shard` in `epoch` after `batch` TransEpoch swaps
 * (./transepoch), of the chain `chain` (its genesis txid). Its byte form `instanceKey` is the
 * chain id that every BFT statement signs, so a certificate never carries over to another shard,
 * epoch, batch or chain.
 */
export interface ConsensusInstance {
  readonly chain: Uint8Array;
  readonly shard: number;
  readonly epoch: number;
  /** 0..B: the committee after this many swaps of the move into the epoch (epoch 0: 0). */
  readonly batch: number;
  /** chain (32) ‖ u32le shard ‖ u32le epoch ‖ u16le batch. */
  readonly key: Uint8Array;
}

export interface EpochContext {
  /** The chain: SHA-256 of the canonical genesis (genesisTxid). */
  readonly chain: Uint8Array;
  readonly epoch: number;
  /** 32 bytes: rnd_e, the epoch's randomness (epoch 0: derived from the genesis). */
  readonly randomness: Uint8Array;
  readonly shardCount: number;
  /** Final height of every shard's chain when the epoch began (epoch 0: 0); its blocks follow. With an epoch length L, e·L. */
  readonly startHeight: number;
  /**
   * L, the final blocks of every shard per epoch (the genesis's `epochLength`): epoch e holds
   * heights e·L + 1 .. (e + 1)·L. Undefined: one endless epoch.
   */
  readonly epochLength: number | undefined;
  /**
   * The hash of the identity-chain configuration that defines this epoch (./identity), which the
   * next configuration names as its previous one and the next leader lottery draws on; epoch 0:
   * the chain id.
   */
  readonly configurationHash: Uint8Array;
  /** The registry that admitted every validator with its proof of possession; later registrations prove possession for its chain id. */
  readonly registry: ValidatorRegistry;
  /** Every validator of the epoch, in configuration order. */
  readonly validators: readonly EpochValidator[];
  /** Validators gone whose bonds are not released yet, in ascending bond-outpoint order (epoch 0: none). */
  readonly departures: readonly Departure[];
  /** The departure whose bond is at `bond` (an outpoint); undefined if none. */
  departureOf(bond: Uint8Array): Departure | undefined;
  /**
   * The departures whose bond may be released in this epoch (release epoch reached): the permits
   * every shard's UTXO kernel is given for the epoch (src/ledger/utxo-table.ts `setReleases`).
   */
  releasable(): readonly Departure[];
  /** Proof-of-Believability policy of the epoch; undefined: shards run solo or one-league BFT. */
  readonly policy: ShardingPolicy | undefined;
  /** Members of `shard` (keys), in configuration order; SHARD_BAD_INDEX outside 0..m−1. */
  members(shard: number): readonly Uint8Array[];
  /** The shard `publicKey` serves this epoch; undefined for a key that is not a validator. */
  shardOf(publicKey: Uint8Array): number | undefined;
  /** `publicKey`'s stake; undefined for a key that is not a validator. */
  stakeOf(publicKey: Uint8Array): bigint | undefined;
  /** `publicKey`'s bond; undefined for a key that is not a validator. */
  bondOf(publicKey: Uint8Array): Bond | undefined;
  /** The bonds of `shard`'s members, packed as UtxoTable entries: part of the shard's genesis state. */
  bondEntries(shard: number): Uint8Array;
  /**
   * Believability accounts of `shard`'s members at the start of the epoch: each one's stake and
   * the Servi and reputation it carried over (a newcomer's and the genesis's: 0 and REPUTATION_INITIAL).
   */
  believability(shard: number): BelievabilityLedger;
  /** The leagues of `shard` drawn from rnd_e and `believability(shard)` (EPOCH_NO_POLICY without a policy). */
  leagues(shard: number): Leagues;
  /**
   * B: the TransEpoch batches of `shard`'s move from the previous epoch's BFT committee to this
   * one's (./transepoch/schedule.ts over `Leagues.committee`; epoch 0, or a context built without
   * its predecessor: 0).
   */
  batchCount(shard: number): number;
  /**
   * The BFT committee of `shard` after `batch` swaps (0..B): batch 0 the previous epoch's
   * committee, batch B this epoch's (`Leagues.committee`; without a policy, the members);
   * TRANSEPOCH_BAD_BATCH outside 0..B.
   */
  committee(shard: number, batch: number): readonly Uint8Array[];
  /**
   * `shard`'s move from the previous epoch's committee (./transepoch/schedule.ts): its batches'
   * leavers and joiners in order; undefined when the context knows no predecessor (epoch 0, or
   * built without `previous`): then no swap-in is valid and the shard has one batch, 0.
   */
  move(shard: number): ShardSchedule | undefined;
  /** The consensus instance of `shard` after `batch` swaps (default B: the epoch's own committee). */
  instance(shard: number, batch?: number): ConsensusInstance;
  /**
   * Batch 0 of the next epoch for `shard`: its instance (epoch + 1, shard, 0) and committee (this
   * epoch's own). It needs no configuration of the next epoch, so a shard can decide the next
   * epoch's first heights while that configuration is being made (TransEpoch; the next epoch's
   * context, once known, gives the same batch 0).
   */
  opening(shard: number): { readonly instance: ConsensusInstance; readonly committee: readonly Uint8Array[] };
}
