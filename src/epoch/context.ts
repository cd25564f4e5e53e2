/**
 * The epoch context as a value (interface.ts): validators, shard count, policy and rnd_e in; the
 * assignment (assignment.ts), the members of every shard, their leagues and the consensus
 * instance ids out. `genesisEpochContext` builds epoch 0 from the genesis; `EpochContextValue`
 * builds any epoch from its configuration and randomness (the identity chain's `verifyEpochLink`,
 * ./identity, feeds it a signed configuration, which carries DRP's rnd_e).
 *
 * Validators enter only through a ValidatorRegistry (src/consensus/registry.ts): every key of a
 * configuration must be registered there, i.e. canonical, of large order and with a checked
 * proof of possession, so a rogue key never becomes a shard member, a CoSi participant or a BFT
 * signer. Epoch 0's registry is the genesis's (`genesisRegistry`).
 *
 * Believability carries over (DESIGN.md §4): each validator of a configuration has the Servi and
 * reputation its shard's accounts held at the end of the previous epoch (a newcomer and the
 * genesis's validators: 0 and REPUTATION_INITIAL), so `believability(shard)` and the leagues drawn
 * from it follow from the configuration alone, for a third party as for a member.
 *
 * Epoch 0's randomness is SHA-256(domain ‖ genesis txid): public and fixed by the genesis, as
 * the white paper's bootstrapping assumes (§4: the first epoch's configuration is given).
 *
 * TransEpoch (./transepoch): a context built with its predecessor (`previous`, as `verifyEpochLink`
 * does) knows each shard's move from the predecessor's BFT committee (batch 0) to its own (batch
 * B): `batchCount`, `committee(shard, batch)` and `instance(shard, batch)`, whose key binds the
 * batch, so a certificate of one batch verifies against that batch's committee only.
 */
import { BelievabilityLedger, REPUTATION_INITIAL } from "../consensus/pob/believability.js";
import { drawLeagues, type Leagues } from "../consensus/pob/leagues.js";
import { validatePolicy, type ShardingPolicy } from "../consensus/pob/policy.js";
import { HASH_BYTES } from "../codec/sizes.js";
import { BinaryWriter } from "../codec/binary.js";
import { sha256 } from "../crypto/sha256.js";
import { check } from "../errors.js";
import type { ValidatorRegistry } from "../consensus/registry.js";
import { MAX_EPOCH_LENGTH, genesisBond, genesisBondTxid, genesisRegistry, genesisTxid, type Genesis } from "../ledger/genesis.js";
import { bondEntries, type Bond } from "../ledger/bond.js";
import { checkShardIndex } from "../ledger/shard.js";
import { toHex } from "../hex.js";
import { sameBytes } from "../bytes.js";
import { assignShards } from "./assignment.js";
import type { ConsensusInstance, Departure, EpochContext, EpochErrorCode, EpochValidator } from "./interface.js";
import type { ShardSchedule, TransEpochErrorCode, TransEpochSchedule } from "./transepoch/interface.js";
import { transEpochSchedule } from "./transepoch/schedule.js";

const GENESIS_RANDOMNESS_DOMAIN = new TextEncoder().encode("IOSChain/epoch/genesis-randomness/v1");
const LEAGUE_SEED_DOMAIN = new TextEncoder().encode("IOSChain/epoch/league-seed/v1");
/** chain id (32) ‖ u32le shard ‖ u32le epoch ‖ u16le batch. */
export const INSTANCE_KEY_BYTES = HASH_BYTES + 10;

/** What an epoch is built from: the identity chain's configuration and rnd_e. */
export type EpochConfiguration = Pick<EpochContext, "chain" | "epoch" | "randomness" | "shardCount" | "startHeight" | "validators" | "registry"> & {
  /** Bonds awaiting release (absent: none, as at the genesis). */
  readonly departures?: readonly Departure[];
  readonly policy?: ShardingPolicy;
  /** L (absent: one endless epoch); with it, `startHeight` must be epoch·L. */
  readonly epochLength?: number;
  /** Required from epoch 1 on; epoch 0's is the chain id. */
  readonly configurationHash?: Uint8Array;
  /**
   * The context of epoch − 1 (the identity chain's `verifyEpochLink` always gives it): its BFT
   * committees are batch 0 of this epoch's TransEpoch move. Absent: no move is known, every shard
   * has the one batch 0 with this epoch's committee (epoch 0; a context built alone in a test).
   */
  readonly previous?: EpochContext;
};

/** The byte form of a consensus instance: the chain id its BFT statements sign. */
export function instanceKey(chain: Uint8Array, shard: number, epoch: number, batch: number): Uint8Array {
  return BinaryWriter.ofSize(INSTANCE_KEY_BYTES).bytes(chain).u32(shard).u32(epoch).u16(batch).finish();
}

export class EpochContextValue implements EpochContext {
  readonly chain: Uint8Array;
  readonly epoch: number;
  readonly randomness: Uint8Array;
  readonly shardCount: number;
  readonly startHeight: number;
  readonly epochLength: number | undefined;
  readonly configurationHash: Uint8Array;
  readonly registry: ValidatorRegistry;
  readonly validators: readonly EpochValidator[];
  readonly policy: ShardingPolicy | undefined;
  readonly departures: readonly Departure[];
  readonly #departureOf: Map<string, Departure>;
  readonly #shardOf = new Map<string, number>();
  readonly #validatorOf = new Map<string, EpochValidator>();
  readonly #members: Uint8Array[][];
  readonly #leagues: (Leagues | undefined)[];
  readonly #previous: EpochContext | undefined;
  /** The TransEpoch move from `#previous`'s committees, computed on first use. */
  #move: TransEpochSchedule | undefined;

  constructor(configuration: EpochConfiguration) {
    const { chain, epoch, randomness, shardCount, startHeight, epochLength, configurationHash, validators, policy, registry, departures = [], previous } = configuration;
    check<EpochErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "EPOCH_BAD_NUMBER", `epoch must be a u32, got ${epoch}`);
    this.chain = Uint8Array.from(chain);
    this.epoch = epoch;
    this.randomness = Uint8Array.from(randomness);
    this.shardCount = shardCount;
    check<EpochErrorCode>(Number.isSafeInteger(startHeight) && startHeight >= 0, "EPOCH_BAD_NUMBER", `startHeight must be a non-negative integer, got ${startHeight}`);
    check<EpochErrorCode>(epochLength === undefined || (Number.isInteger(epochLength) && epochLength >= 1 && epochLength <= MAX_EPOCH_LENGTH), "EPOCH_BAD_LENGTH",
      `the epoch length must be an integer in 1..${MAX_EPOCH_LENGTH}, got ${String(epochLength)}`);
    check<EpochErrorCode>(epochLength === undefined || startHeight === epoch * epochLength, "EPOCH_BAD_NUMBER",
      `epoch ${epoch} of length ${String(epochLength)} starts at height ${epoch * (epochLength ?? 0)}, not ${startHeight}`);
    check<EpochErrorCode>(configurationHash === undefined ? epoch === 0 : configurationHash.length === HASH_BYTES, "EPOCH_NO_CONFIGURATION_HASH",
      `epoch ${epoch} needs the ${HASH_BYTES}-byte hash of its configuration`);
    check<EpochErrorCode>(previous === undefined || (previous.epoch + 1 === epoch && previous.shardCount === shardCount && sameBytes(previous.chain, chain)), "EPOCH_BAD_NUMBER",
      `epoch ${epoch} of ${shardCount} shards does not follow epoch ${String(previous?.epoch)} of ${String(previous?.shardCount)}`);
    this.#previous = previous;
    this.startHeight = startHeight;
    this.epochLength = epochLength;
    this.configurationHash = Uint8Array.from(configurationHash ?? chain);
    this.registry = registry;
    this.validators = validators;
    this.policy = policy === undefined ? undefined : validatePolicy(policy);
    this.departures = departures;
    this.#departureOf = new Map(departures.map((departure) => [toHex(departure.bond), departure]));
    const shards = assignShards(validators.length, shardCount, randomness);
    this.#members = Array.from({ length: shardCount }, () => []);
    validators.forEach((validator, i) => {
      const key = toHex(validator.publicKey);
      check<EpochErrorCode>(registry.has(key), "EPOCH_UNREGISTERED_VALIDATOR", `validator ${key} has no proof of possession in the registry`);
      this.#shardOf.set(key, shards[i]!);
      this.#validatorOf.set(key, validator);
      this.#members[shards[i]!]!.push(validator.publicKey);
    });
    this.#leagues = new Array<Leagues | undefined>(shardCount);
  }

  members(shard: number): readonly Uint8Array[] {
    checkShardIndex(shard, this.shardCount);
    return this.#members[shard]!;
  }

  shardOf(publicKey: Uint8Array): number | undefined {
    return this.#shardOf.get(toHex(publicKey));
  }

  stakeOf(publicKey: Uint8Array): bigint | undefined {
    return this.#validatorOf.get(toHex(publicKey))?.stake;
  }

  bondOf(publicKey: Uint8Array): Bond | undefined {
    const validator = this.#validatorOf.get(toHex(publicKey));
    return validator && { outpoint: validator.bond, validator: validator.publicKey, amount: validator.stake };
  }

  bondEntries(shard: number): Uint8Array {
    return bondEntries(this.members(shard).map((publicKey) => this.bondOf(publicKey)!));
  }

  departureOf(bond: Uint8Array): Departure | undefined {
    return this.#departureOf.get(toHex(bond));
  }

  releasable(): readonly Departure[] {
    return this.departures.filter((departure) => departure.releaseEpoch <= this.epoch);
  }

  believability(shard: number): BelievabilityLedger {
    const members = this.members(shard);
    return new BelievabilityLedger(members.map((publicKey) => {
      const { stake, servi = 0, reputation = REPUTATION_INITIAL } = this.#validatorOf.get(toHex(publicKey))!;
      return { publicKey, stake, servi, reputation };
    }), this.epoch);
  }

  leagues(shard: number): Leagues {
    check<EpochErrorCode>(this.policy !== undefined, "EPOCH_NO_POLICY", `epoch ${this.epoch} has no Proof-of-Believability policy, so shards have no leagues`);
    const members = this.members(shard);
    this.#leagues[shard] ??= drawLeagues({ epoch: this.epoch, seed: this.#leagueSeed(shard), members, accounts: this.believability(shard), policy: this.policy });
    return this.#leagues[shard]!;
  }

  batchCount(shard: number): number {
    checkShardIndex(shard, this.shardCount);
    return this.#moveOf(shard)?.batches.length ?? 0;
  }

  committee(shard: number, batch: number): readonly Uint8Array[] {
    const count = this.batchCount(shard);
    check<TransEpochErrorCode>(Number.isInteger(batch) && batch >= 0 && batch <= count, "TRANSEPOCH_BAD_BATCH", `shard ${shard} of epoch ${this.epoch} has batches 0..${count}, not ${batch}`);
    // The ends are the two epochs' committees in their own order (the BFT's participant order, which certificate masks follow).
    if (batch === count) return this.#ownCommittee(shard);
    if (batch === 0) return this.#previous!.committee(shard, this.#previous!.batchCount(shard));
    return this.#moveOf(shard)!.committee(batch);
  }

  move(shard: number): ShardSchedule | undefined {
    checkShardIndex(shard, this.shardCount);
    return this.#moveOf(shard);
  }

  opening(shard: number): { readonly instance: ConsensusInstance; readonly committee: readonly Uint8Array[] } {
    const epoch = this.epoch + 1;
    check<EpochErrorCode>(epoch <= 0xffffffff, "EPOCH_BAD_NUMBER", `epoch ${this.epoch} is the last a u32 numbers`);
    return { instance: { chain: this.chain, shard, epoch, batch: 0, key: instanceKey(this.chain, shard, epoch, 0) }, committee: this.committee(shard, this.batchCount(shard)) };
  }

  instance(shard: number, batch = this.batchCount(shard)): ConsensusInstance {
    check<TransEpochErrorCode>(Number.isInteger(batch) && batch >= 0 && batch <= this.batchCount(shard), "TRANSEPOCH_BAD_BATCH", `shard ${shard} of epoch ${this.epoch} has no batch ${batch}`);
    return { chain: this.chain, shard, epoch: this.epoch, batch, key: instanceKey(this.chain, shard, this.epoch, batch) };
  }

  /** The BFT committee the epoch draws for `shard`: the normal league under PoB, every member without a policy. */
  #ownCommittee(shard: number): readonly Uint8Array[] {
    return this.policy === undefined ? this.members(shard) : this.leagues(shard).committee;
  }

  /** `shard`'s move from the previous epoch's committee (undefined without a previous context). */
  #moveOf(shard: number): ShardSchedule | undefined {
    const previous = this.#previous;
    if (previous === undefined) return undefined;
    this.#move ??= transEpochSchedule({
      before: Array.from({ length: this.shardCount }, (_, j) => previous.committee(j, previous.batchCount(j))),
      after: Array.from({ length: this.shardCount }, (_, j) => this.#ownCommittee(j)),
      randomness: this.randomness,
      shardCount: this.shardCount,
    });
    return this.#move.shards[shard];
  }

  /** SHA-256(domain ‖ rnd_e ‖ u32le shard): each shard draws its leagues from its own seed. */
  #leagueSeed(shard: number): Uint8Array {
    return sha256(BinaryWriter.ofSize(LEAGUE_SEED_DOMAIN.length + HASH_BYTES + 4).bytes(LEAGUE_SEED_DOMAIN).bytes(this.randomness).u32(shard).finish());
  }
}

/** The genesis validators as epoch validators: validator i's stake is bonded at (genesisBondTxid, i). */
export function genesisEpochValidators(genesis: Genesis): EpochValidator[] {
  const bondTxid = genesisBondTxid(genesis);
  return genesis.validators.map(({ publicKey, stake }, i) => ({ publicKey, stake, bond: genesisBond(genesis, i, bondTxid).outpoint }));
}

/**
 * Epoch 0: the genesis's validators (admitted by `genesisRegistry`: REGISTRY_* codes for a bad key
 * or proof), shard count, policy and epoch length, randomness SHA-256(domain ‖ genesis txid); its
 * configuration hash is the chain id.
 */
export function genesisEpochContext(genesis: Genesis): EpochContext {
  const chain = genesisTxid(genesis);
  const input = new Uint8Array(GENESIS_RANDOMNESS_DOMAIN.length + chain.length);
  input.set(GENESIS_RANDOMNESS_DOMAIN);
  input.set(chain, GENESIS_RANDOMNESS_DOMAIN.length);
  return new EpochContextValue({
    chain,
    epoch: 0,
    randomness: sha256(input),
    shardCount: genesis.shardCount,
    startHeight: 0,
    validators: genesisEpochValidators(genesis),
    registry: genesisRegistry(genesis),
    ...(genesis.pob === undefined ? {} : { policy: genesis.pob }),
    ...(genesis.epochLength === undefined ? {} : { epochLength: genesis.epochLength }),
  });
}
