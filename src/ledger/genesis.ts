/**
 * Genesis: the JSON file every validator starts from (shard count, validators with stake, initial
 * outputs), its strict parser, and deterministic funded test accounts for load generation.
 *
 * File (amounts and stakes are decimal strings: u64 does not fit a JSON number):
 *   { "version": 1, "shardCount": 2, "timestamp": 0,
 *     "validators": [ { "publicKey": "<64 hex>", "stake": "1000", "pop": "<128 hex>" } ],
 *     "outputs":    [ { "owner": "<64 hex>", "amount": "5000" } ],
 *     "pob": { "believableLeagueSize": 1, "normalLeagueSize": 3, "samplingProbability": 0.1,
 *              "minBelievableSize": 1, "optimisticIntervalMs": 50, "maxOptimisticBlockTxs": 2048 },
 *     "epochLength": 1000 }
 * "pob" is optional: the Proof-of-Believability sharding policy (white paper §7.2 "the sharding
 * policy file"; DESIGN.md §4: part of the genesis configuration), kept here as plain numbers and
 * checked by src/consensus/pob/policy.ts where it is used.
 *
 * "epochLength" is optional: L, the final blocks of every shard per epoch (a u32 ≥ 1; epoch e
 * holds heights e·L + 1 .. (e + 1)·L, white paper §4 and the identity chain of src/epoch/identity).
 * Without it the chain has one endless epoch, epoch 0.
 *
 * Every validator carries "pop", its proof of possession (src/consensus/registry.ts): its key's
 * Ed25519 signature over popMessage(publicKey, genesisPopChainId(genesis)). The chain id is
 * SHA-256 of the genesis encoded without the proofs (`encodeUnsignedGenesis`), so a proof binds
 * this very genesis — every key, stake, output, the policy and the epoch length — yet cannot
 * depend on itself.
 * Parsing checks every proof through a ValidatorRegistry and refuses small-order and
 * non-canonical keys; without that, a key built from the others' (A' = X·B − ΣA_j) would let one
 * validator forge collective signatures alone (the rogue-key attack).
 *
 * Initial output i has the outpoint (genesisTxid, i), where genesisTxid = SHA-256 of the canonical
 * binary genesis (see `encodeGenesis`), so every validator derives the same UTXO set.
 *
 * API: `parseGenesis(json)`, `genesisToJson(genesis)`, `encodeGenesis(genesis)`, `genesisTxid`,
 * `genesisPopChainId(unsigned)`, `signGenesis(unsigned, keys)`, `genesisRegistry(genesis)`,
 * `genesisEntries(genesis, shard)` (packed UtxoTable entries of one shard, bonds aside), `genesisSupply`,
 * `genesisBondTxid`, `genesisBond(genesis, i)` (validator i's bond, ./bond.ts),
 * `deriveTestAccounts(seed, n)`, `makeTestGenesis(options)`.
 */
import { createHash } from "node:crypto";
import { sha256 } from "../crypto/sha256.js";
import { keyPairFromSecret, signMessage, type KeyPair } from "./keys.js";
import { MAX_SHARDS, checkShardIndex, shardOfOwner } from "./shard.js";
import { MAX_AMOUNT } from "./transaction.js";
import { ENTRY_BYTES, packEntry } from "./utxo-table.js";
import { toHex } from "../hex.js";
// The policy's meaning, checks and binary form live with Proof-of-Believability; genesis carries it.
import { POLICY_BYTES, writePolicy, type ShardingPolicy } from "../consensus/pob/policy.js";
import { MAX_VALIDATORS, ValidatorRegistry, proveKeyPossession } from "../consensus/registry.js";
import { AMOUNT_BYTES, HASH_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES } from "../codec/sizes.js";
import { BOND_INDEX_FLAG, type Bond } from "./bond.js";
import { BinaryWriter, writeU32 } from "../codec/binary.js";
import { IosError, check } from "../errors.js";
import type { LedgerErrorCode } from "./errors.js";

export const GENESIS_VERSION = 1;
/** Genesis outputs: outpoint indexes are u32, and 2^24 keeps the file and its parse bounded. */
export const MAX_GENESIS_OUTPUTS = 1 << 24;
/** Genesis validators: the registry's limit (CoSi masks count in 16 bits), far above any committee size the paper considers (§5). */
export const MAX_GENESIS_VALIDATORS = MAX_VALIDATORS;
/** The epoch length is a u32 (it is one in the canonical genesis and in every epoch configuration). */
export const MAX_EPOCH_LENGTH = 0xffff_ffff;
/** Domain separation of the genesis txid and of test-account keys from every other hash. */
const GENESIS_DOMAIN = "IOSChain genesis v1";
/** Domain of the encoding without proofs of possession, whose hash the proofs sign. */
const UNSIGNED_GENESIS_DOMAIN = "IOSChain unsigned genesis v1";
const GENESIS_BOND_DOMAIN = new TextEncoder().encode("IOSChain/genesis-bonds/v1");
const TEST_ACCOUNT_DOMAIN = "IOSChain test account v1";

/** A validator as the genesis's author chooses it, before its key proves possession. */
export interface StakedKey {
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
}

export interface GenesisValidator extends StakedKey {
  /** Proof of possession of `publicKey`'s secret key for `genesisPopChainId` (64 bytes). */
  readonly pop: Uint8Array;
}

export interface GenesisOutput {
  readonly owner: Uint8Array;
  readonly amount: bigint;
}


const POB_POLICY_FIELDS = ["believableLeagueSize", "normalLeagueSize", "samplingProbability", "minBelievableSize", "optimisticIntervalMs", "maxOptimisticBlockTxs"] as const satisfies readonly (keyof ShardingPolicy)[];

export interface Genesis {
  readonly shardCount: number;
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number;
  readonly validators: readonly GenesisValidator[];
  readonly outputs: readonly GenesisOutput[];
  /** Shards run Proof-of-Believability with this policy; absent: solo or one-league BFT. */
  readonly pob?: ShardingPolicy;
  /** Final blocks per shard per epoch, 1..MAX_EPOCH_LENGTH; absent: one endless epoch. */
  readonly epochLength?: number;
}

/** A genesis before its validators prove possession of their keys: what the proofs sign. */
export type UnsignedGenesis = Omit<Genesis, "validators"> & { readonly validators: readonly StakedKey[] };

function bad(message: string): never {
  throw new IosError<LedgerErrorCode>("GENESIS_BAD_FIELD", message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function onlyFields(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    check<LedgerErrorCode>(allowed.includes(key), "GENESIS_UNKNOWN_FIELD", `${where}: unknown field "${key}"`);
  }
  for (const key of allowed) {
    check<LedgerErrorCode>(key in value, "GENESIS_MISSING_FIELD", `${where}: missing field "${key}"`);
  }
}

function parseHex(value: unknown, bytes: number, where: string): Uint8Array {
  if (typeof value !== "string" || value.length !== bytes * 2 || !/^[0-9a-f]*$/.test(value)) bad(`${where} must be ${bytes * 2} lowercase hex digits`);
  return new Uint8Array(Buffer.from(value, "hex"));
}

function parseAmount(value: unknown, where: string): bigint {
  if (typeof value !== "string" || !/^[1-9][0-9]{0,19}$/.test(value)) bad(`${where} must be a decimal string of a positive integer`);
  const amount = BigInt(value);
  if (amount > MAX_AMOUNT) bad(`${where} exceeds u64`);
  return amount;
}

/** Structural checks (of the pops too if `signed`); `genesisRegistry` checks the keys and their proofs. */
function validate(genesis: UnsignedGenesis, signed: boolean): void {
  const { shardCount, timestamp, validators, outputs } = genesis;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARDS) bad(`shardCount must be an integer in 1..${MAX_SHARDS}`);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) bad("timestamp must be a non-negative integer (ms)");
  if (validators.length < 1 || validators.length > MAX_GENESIS_VALIDATORS) bad(`validators must hold 1..${MAX_GENESIS_VALIDATORS} entries`);
  if (outputs.length > MAX_GENESIS_OUTPUTS) bad(`outputs must hold at most ${MAX_GENESIS_OUTPUTS} entries`);
  const seen = new Set<string>();
  validators.forEach((validator, i) => {
    if (validator.publicKey.length !== PUBLIC_KEY_BYTES) bad(`validators[${i}].publicKey must be ${PUBLIC_KEY_BYTES} bytes`);
    if (validator.stake <= 0n || validator.stake > MAX_AMOUNT) bad(`validators[${i}].stake must be in 1..2^64-1`);
    if (signed) {
      const { pop } = validator as Partial<GenesisValidator>;
      check<LedgerErrorCode>(pop !== undefined, "GENESIS_MISSING_FIELD", `validators[${i}] has no proof of possession (pop)`);
      if (!(pop instanceof Uint8Array) || pop.length !== SIGNATURE_BYTES) bad(`validators[${i}].pop must be ${SIGNATURE_BYTES} bytes`);
    }
    const key = Buffer.from(validator.publicKey).toString("hex");
    check<LedgerErrorCode>(!seen.has(key), "GENESIS_DUPLICATE_VALIDATOR", `validators[${i}] repeats public key ${key}`);
    seen.add(key);
  });
  let supply = 0n;
  outputs.forEach((output, i) => {
    if (output.owner.length !== PUBLIC_KEY_BYTES) bad(`outputs[${i}].owner must be ${PUBLIC_KEY_BYTES} bytes`);
    if (output.amount <= 0n || output.amount > MAX_AMOUNT) bad(`outputs[${i}].amount must be in 1..2^64-1`);
    supply += output.amount;
  });
  // Stakes are bonded as outputs too (./bond.ts): the whole supply must fit a u64.
  for (const validator of validators) supply += validator.stake;
  check<LedgerErrorCode>(supply <= MAX_AMOUNT, "GENESIS_SUPPLY_OVERFLOW", "the sum of output amounts and stakes exceeds u64");
  const { epochLength } = genesis;
  if (epochLength !== undefined && !(Number.isInteger(epochLength) && epochLength >= 1 && epochLength <= MAX_EPOCH_LENGTH)) {
    bad(`epochLength must be an integer in 1..${MAX_EPOCH_LENGTH} (final blocks per shard per epoch), got ${JSON.stringify(epochLength)}`);
  }
  if (genesis.pob !== undefined) {
    for (const field of POB_POLICY_FIELDS) {
      const value = genesis.pob[field];
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (field !== "samplingProbability" && !Number.isSafeInteger(value))) {
        bad(`pob.${field} must be a non-negative ${field === "samplingProbability" ? "number" : "integer"}`);
      }
    }
  }
}

/**
 * Strictly parses a genesis file: unknown or missing fields, bad hex, bad amounts are errors, and
 * so is a validator key that is malformed or of small order (REGISTRY_BAD_KEY) or whose proof
 * of possession does not verify for this genesis (REGISTRY_BAD_POP).
 */
export function parseGenesis(json: string): Genesis {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new IosError<LedgerErrorCode>("GENESIS_BAD_JSON", `not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(value)) bad("the genesis must be a JSON object");
  const { pob: pobValue, epochLength, ...required } = value;
  onlyFields(required, ["version", "shardCount", "timestamp", "validators", "outputs"], "genesis");
  if (value.version !== GENESIS_VERSION) bad(`version must be ${GENESIS_VERSION}`);
  if (!Array.isArray(value.validators)) bad("validators must be an array");
  if (!Array.isArray(value.outputs)) bad("outputs must be an array");
  const validators = value.validators.map((entry: unknown, i: number): GenesisValidator => {
    if (!isRecord(entry)) bad(`validators[${i}] must be an object`);
    onlyFields(entry, ["publicKey", "stake", "pop"], `validators[${i}]`);
    return {
      publicKey: parseHex(entry.publicKey, PUBLIC_KEY_BYTES, `validators[${i}].publicKey`),
      stake: parseAmount(entry.stake, `validators[${i}].stake`),
      pop: parseHex(entry.pop, SIGNATURE_BYTES, `validators[${i}].pop`),
    };
  });
  const outputs = value.outputs.map((entry: unknown, i: number): GenesisOutput => {
    if (!isRecord(entry)) bad(`outputs[${i}] must be an object`);
    onlyFields(entry, ["owner", "amount"], `outputs[${i}]`);
    return { owner: parseHex(entry.owner, PUBLIC_KEY_BYTES, `outputs[${i}].owner`), amount: parseAmount(entry.amount, `outputs[${i}].amount`) };
  });
  let pob: ShardingPolicy | undefined;
  if (pobValue !== undefined) {
    if (!isRecord(pobValue)) bad("pob must be an object");
    onlyFields(pobValue, POB_POLICY_FIELDS, "pob");
    pob = pobValue as unknown as ShardingPolicy;
  }
  const genesis: Genesis = {
    shardCount: value.shardCount as number,
    timestamp: value.timestamp as number,
    validators,
    outputs,
    ...(pob === undefined ? {} : { pob }),
    ...(epochLength === undefined ? {} : { epochLength: epochLength as number }),
  };
  genesisRegistry(genesis);
  return genesis;
}

export function genesisToJson(genesis: Genesis): string {
  validate(genesis, true);
  return JSON.stringify(
    {
      version: GENESIS_VERSION,
      shardCount: genesis.shardCount,
      timestamp: genesis.timestamp,
      validators: genesis.validators.map((v) => ({ publicKey: toHex(v.publicKey), stake: v.stake.toString(), pop: toHex(v.pop) })),
      outputs: genesis.outputs.map((o) => ({ owner: toHex(o.owner), amount: o.amount.toString() })),
      ...(genesis.pob === undefined ? {} : { pob: Object.fromEntries(POB_POLICY_FIELDS.map((field) => [field, genesis.pob![field]])) }),
      ...(genesis.epochLength === undefined ? {} : { epochLength: genesis.epochLength }),
    },
    null,
    2,
  );
}

/**
 * Canonical binary genesis: domain ‖ u32 shardCount ‖ u64 timestamp ‖ u32 #validators ‖
 * (publicKey ‖ u64 stake ‖ pop)* ‖ u32 #outputs ‖ (owner ‖ u64 amount)*, little-endian; with a
 * PoB policy, then the policy's binary form (src/consensus/pob/policy.ts, POLICY_BYTES); with an
 * epoch length, then u32 epochLength. A genesis without either encodes as it did before them, so
 * older genesis files keep their txid; the encoding stays injective because the counts fix where
 * the outputs end and the tail's length (0, 4, 28 or 32 bytes) says which of the two follow. The
 * unsigned encoding (`encodeUnsignedGenesis`) is the same under its own domain and without the
 * 64-byte pops, so the proofs of possession bind the epoch length too.
 */
/** A validator (key ‖ stake) or an output (owner ‖ amount). */
const KEYED_AMOUNT_BYTES = PUBLIC_KEY_BYTES + AMOUNT_BYTES;
const EPOCH_LENGTH_BYTES = 4;

function encodeWith(genesis: UnsignedGenesis, domainText: string, pops: readonly Uint8Array[] | undefined): Uint8Array {
  validate(genesis, pops !== undefined);
  const domain = Buffer.from(domainText, "utf8");
  const validatorBytes = KEYED_AMOUNT_BYTES + (pops === undefined ? 0 : SIGNATURE_BYTES);
  const tailBytes = (genesis.pob === undefined ? 0 : POLICY_BYTES) + (genesis.epochLength === undefined ? 0 : EPOCH_LENGTH_BYTES);
  const writer = BinaryWriter.ofSize(domain.length + 4 + 8 + 4 + genesis.validators.length * validatorBytes + 4 + genesis.outputs.length * KEYED_AMOUNT_BYTES + tailBytes)
    .bytes(domain)
    .u32(genesis.shardCount)
    .u64(genesis.timestamp)
    .u32(genesis.validators.length);
  genesis.validators.forEach(({ publicKey, stake }, i) => {
    writer.bytes(publicKey).u64(stake);
    if (pops !== undefined) writer.bytes(pops[i]!);
  });
  writer.u32(genesis.outputs.length);
  for (const { owner, amount } of genesis.outputs) writer.bytes(owner).u64(amount);
  if (genesis.pob !== undefined) writePolicy(writer, genesis.pob);
  if (genesis.epochLength !== undefined) writer.u32(genesis.epochLength);
  return writer.finish();
}

export function encodeGenesis(genesis: Genesis): Uint8Array {
  return encodeWith(genesis, GENESIS_DOMAIN, genesis.validators.map((validator) => validator.pop));
}

/** The genesis without its proofs of possession (a signed genesis's proofs are ignored). */
export function encodeUnsignedGenesis(genesis: UnsignedGenesis): Uint8Array {
  return encodeWith(genesis, UNSIGNED_GENESIS_DOMAIN, undefined);
}

/** The txid of the genesis outputs: output i is the outpoint (genesisTxid, i). */
export function genesisTxid(genesis: Genesis): Uint8Array {
  return sha256(encodeGenesis(genesis));
}

/** The chain id the validators' proofs of possession sign: SHA-256 of the unsigned genesis. */
export function genesisPopChainId(genesis: UnsignedGenesis): Uint8Array {
  return sha256(encodeUnsignedGenesis(genesis));
}

/** `unsigned` with every validator's proof of possession, signed by `keys` (one per validator, any order). */
export function signGenesis(unsigned: UnsignedGenesis, keys: readonly KeyPair[]): Genesis {
  const chainId = genesisPopChainId(unsigned);
  const secretOf = new Map(keys.map((pair) => [toHex(pair.publicKey), pair.secretKey]));
  const validators = unsigned.validators.map(({ publicKey, stake }, i): GenesisValidator => {
    const secretKey = secretOf.get(toHex(publicKey));
    check<LedgerErrorCode>(secretKey !== undefined, "GENESIS_MISSING_KEY", `validators[${i}]: no secret key for ${toHex(publicKey)} to prove its possession`);
    return { publicKey, stake, pop: proveKeyPossession({ publicKey, sign: (message) => signMessage(secretKey, message) }, chainId) };
  });
  return { ...unsigned, validators };
}

/**
 * The validators admitted through a ValidatorRegistry for `genesisPopChainId(genesis)`: the only
 * way a genesis key becomes a validator. GENESIS_* codes for a malformed entry (GENESIS_MISSING_FIELD
 * without a pop), REGISTRY_BAD_KEY for a non-canonical or small-order key, REGISTRY_BAD_POP for a
 * proof that does not verify.
 */
export function genesisRegistry(genesis: Genesis): ValidatorRegistry {
  validate(genesis, true);
  const registry = new ValidatorRegistry(genesisPopChainId(genesis));
  for (const { publicKey, pop } of genesis.validators) registry.register(publicKey, pop);
  return registry;
}

/** The txid of the genesis bonds (./bond.ts): SHA-256(domain ‖ genesis txid). */
export function genesisBondTxid(genesis: Genesis): Uint8Array {
  return sha256(BinaryWriter.ofSize(GENESIS_BOND_DOMAIN.length + HASH_BYTES).bytes(GENESIS_BOND_DOMAIN).bytes(genesisTxid(genesis)).finish());
}

/** Genesis validator i's bond: outpoint (genesisBondTxid, BOND_INDEX_FLAG | i), its stake. */
export function genesisBond(genesis: Genesis, i: number, bondTxid = genesisBondTxid(genesis)): Bond {
  const validator = genesis.validators[i];
  check<LedgerErrorCode>(validator !== undefined, "GENESIS_BAD_FIELD", `genesis has no validator ${i}`);
  return { outpoint: BinaryWriter.ofSize(OUTPOINT_BYTES).bytes(bondTxid).u32((BOND_INDEX_FLAG | i) >>> 0).finish(), validator: validator.publicKey, amount: validator.stake };
}

/**
 * Σ of every genesis output and bond (all shards): what the shards' UTXO sets start with. Stakes
 * are bonded as outputs when the genesis has a PoB policy, the one consensus that slashes.
 */
export function genesisSupply(genesis: Genesis): bigint {
  const bonded = genesis.pob === undefined ? 0n : genesis.validators.reduce((sum, v) => sum + v.stake, 0n);
  return genesis.outputs.reduce((sum, output) => sum + output.amount, 0n) + bonded;
}

/** The genesis outputs living in `shard`, packed as UtxoTable entries (76 bytes each). */
export function genesisEntries(genesis: Genesis, shard: number): Uint8Array {
  checkShardIndex(shard, genesis.shardCount);
  const txid = genesisTxid(genesis);
  const mine = genesis.outputs.flatMap((output, index) => (shardOfOwner(output.owner, genesis.shardCount) === shard ? [{ output, index }] : []));
  const packed = new Uint8Array(mine.length * ENTRY_BYTES);
  mine.forEach(({ output, index }, k) => packEntry({ txid, index, owner: output.owner, amount: output.amount }, packed, k * ENTRY_BYTES));
  return packed;
}

/**
 * `n` deterministic Ed25519 key pairs: secret key i = SHA-512(domain ‖ seed ‖ u32le(i))[0..32].
 * For load generation and tests only: anyone who knows the seed holds the keys.
 */
export function deriveTestAccounts(seed: string | Uint8Array, n: number): KeyPair[] {
  check<LedgerErrorCode>(Number.isInteger(n) && n >= 0 && n <= 0xffffffff, "GENESIS_BAD_FIELD", `account count must be a u32, got ${n}`);
  const seedBytes = typeof seed === "string" ? Buffer.from(seed, "utf8") : seed;
  const index = new Uint8Array(4);
  const accounts: KeyPair[] = [];
  for (let i = 0; i < n; i++) {
    writeU32(index, 0, i);
    const digest = createHash("sha512").update(TEST_ACCOUNT_DOMAIN).update(seedBytes).update(index).digest();
    accounts.push(keyPairFromSecret(digest.subarray(0, SECRET_KEY_BYTES)));
  }
  return accounts;
}

export interface TestGenesisOptions {
  readonly seed: string;
  readonly shardCount: number;
  /** Funded accounts, each owning `outputsPerAccount` outputs of `amount`. */
  readonly accounts: number;
  readonly amount: bigint;
  readonly outputsPerAccount?: number;
  /** Validators (derived from `seed + "/validators"`), each with `stake`. */
  readonly validators: number;
  readonly stake?: bigint;
  readonly timestamp?: number;
  /** The PoB sharding policy, if the shards run Proof-of-Believability. */
  readonly pob?: ShardingPolicy;
  /** Final blocks per shard per epoch; absent: one endless epoch. */
  readonly epochLength?: number;
}

/** A genesis funding `deriveTestAccounts(seed, accounts)`, with derived validator keys and their proofs of possession. */
export function makeTestGenesis(options: TestGenesisOptions): { genesis: Genesis; accounts: KeyPair[]; validators: KeyPair[] } {
  const accounts = deriveTestAccounts(options.seed, options.accounts);
  const validators = deriveTestAccounts(`${options.seed}/validators`, options.validators);
  const perAccount = options.outputsPerAccount ?? 1;
  const outputs: GenesisOutput[] = [];
  for (const account of accounts) {
    for (let k = 0; k < perAccount; k++) outputs.push({ owner: account.publicKey, amount: options.amount });
  }
  const genesis = signGenesis(
    {
      shardCount: options.shardCount,
      timestamp: options.timestamp ?? 0,
      validators: validators.map((v) => ({ publicKey: v.publicKey, stake: options.stake ?? 1000n })),
      outputs,
      ...(options.pob === undefined ? {} : { pob: options.pob }),
      ...(options.epochLength === undefined ? {} : { epochLength: options.epochLength }),
    },
    validators,
  );
  return { genesis, accounts, validators };
}
