/**
 * Believability accounts (white paper §7.1–7.2, DESIGN.md §4): per validator its stake (IOS
 * tokens bonded at genesis), its Servi and its reputation, and the score the believable league is
 * drawn by.
 *
 * Score. score = 0 without stake (a believable validator must have something to lose when
 * slashed, §7.2); otherwise
 *   score = 0.5 · log2(1 + stake) / 64  +  0.25 · servi / (servi + SERVI_HALF)  +  0.25 · reputation / REPUTATION_MAX
 * Each term lies in [0, 1]. The league draw is consensus-critical, so the score is computed in
 * integers: `scoreUnits` is the score in units of 2^-32, with log2 in 16-bit fixed point by
 * repeated squaring, and no floating-point function whose rounding could differ between engines. Stake enters through its logarithm so that a large holder is only
 * moderately more likely to be drawn than a small one: §7.1 introduces Servi precisely against
 * Proof-of-Stake's drift to centralization. Servi saturates (half weight at SERVI_HALF
 * contributions) so that piling up contributions cannot buy a permanent seat, and reputation is
 * bounded for the same reason.
 *
 * Servi (§7.1): non-tradable — this class has no transfer operation, only `issueServi` (self-
 * issuance for a contribution: one unit per final block a validator helped verify) and
 * `clearServi` (self-destruction when its holder validates a block, so high scorers take turns).
 * Slashing (§7.2): stake burned, reputation and Servi zeroed, and the validator marked as
 * excluded from the believable league for the rest of the epoch; the epoch transition then
 * leaves it out of the next validator set (src/epoch/transition). The accounts of the others
 * carry over: each shard's accounts at an epoch's last height are certified by its state
 * commitment and the next configuration starts every validator from them (src/epoch/context.ts).
 *
 * All state changes are driven by final blocks, so every validator of a shard holds the same
 * accounts. Iteration is in key order (hex), never in insertion order.
 *
 * Account states as bytes (what a replica record stores, what a shard's epoch boundary carries
 * and its state commitment hashes): per account, key[32] ‖ u64 stake ‖ u32 servi ‖ u16 reputation
 * ‖ u8 excluded (0/1), little-endian; a list is u16 n ‖ n accounts in strictly ascending key order
 * (`snapshot`'s), so a list has one encoding. `accountsHash` = SHA-256("IOSChain/pob/accounts/v1"
 * ‖ list): the state commitment's `accountsHash` part (finalization.ts).
 *
 * API: class `BelievabilityLedger` (fromGenesis, get, has, validators, score, scoreUnits,
 * issueServi, clearServi, rewardReputation, slash, isExcluded, slashHistory, snapshot, restore, copy, beginEpoch),
 * `believabilityScore(account)`, `believabilityUnits(account)`, `log2Fixed(x)`, `writeAccountState`,
 * `readAccountState`, `encodeAccountStates`, `decodeAccountStates`, `accountsHash`, `ACCOUNT_STATE_BYTES`.
 */
import type { GenesisValidator } from "../../ledger/genesis.js";
import { toHex } from "../../hex.js";
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { PUBLIC_KEY_BYTES } from "../../codec/sizes.js";
import { sha256 } from "../../crypto/sha256.js";
import { IosError, check } from "../../errors.js";
import type { PobErrorCode } from "./errors.js";

/** Servi units at which the Servi term reaches half of its weight. */
export const SERVI_HALF = 16;
/** Reputation is an integer in 0..REPUTATION_MAX. */
export const REPUTATION_MAX = 1000;
/** A new validator starts half-way: neither trusted nor distrusted. */
export const REPUTATION_INITIAL = 500;
/** Reputation gained per optimistic block finalized without fault. */
export const REPUTATION_PER_BLOCK = 1;
/** Servi issued per contribution (one final block verified). */
export const SERVI_PER_CONTRIBUTION = 1;

const MAX_U64 = (1n << 64n) - 1n;

export interface BelievabilityAccount {
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  readonly servi: number;
  readonly reputation: number;
}

/** An account and whether it is excluded this epoch: what a replica stores (replica-state.ts). */
export interface AccountState extends BelievabilityAccount {
  readonly excluded: boolean;
}

/** One encoded account state (module doc). */
export const ACCOUNT_STATE_BYTES = PUBLIC_KEY_BYTES + 8 + 4 + 2 + 1;
/** A shard's accounts in one list: a u16 count (a shard has at most MAX_LEAGUE members, policy.ts). */
export const MAX_ACCOUNT_STATES = 0xffff;
const ACCOUNTS_DOMAIN = new TextEncoder().encode("IOSChain/pob/accounts/v1");
const ACCOUNT_CODES = singleCode<PobErrorCode>("POB_BAD_ACCOUNT");

export function writeAccountState(writer: BinaryWriter, account: AccountState): void {
  writer.bytes(account.publicKey).u64(account.stake).u32(account.servi).u16(account.reputation).u8(account.excluded ? 1 : 0);
}

/** Reads one account state; a reputation above REPUTATION_MAX or a flag other than 0/1 is `code`. */
export function readAccountState<Code extends string>(reader: BinaryReader<Code>, code: Code, what = "account"): AccountState {
  const publicKey = reader.bytes(PUBLIC_KEY_BYTES, `${what} key`).slice();
  const stake = reader.u64(`${what} stake`);
  const servi = reader.u32(`${what} servi`);
  const reputation = reader.u16(`${what} reputation`);
  const excluded = reader.u8(`${what} excluded flag`);
  if (reputation > REPUTATION_MAX || excluded > 1) reader.fail(code, `${what}: reputation ${reputation} (at most ${REPUTATION_MAX}) or excluded flag ${excluded} (0 or 1) out of range`);
  return { publicKey, stake, servi, reputation, excluded: excluded === 1 };
}

/** u16 n ‖ n account states (module doc); POB_BAD_ACCOUNT unless the keys ascend strictly. */
export function encodeAccountStates(states: readonly AccountState[]): Uint8Array {
  check<PobErrorCode>(states.length <= MAX_ACCOUNT_STATES, "POB_BAD_ACCOUNT", `at most ${MAX_ACCOUNT_STATES} accounts in one list`);
  const writer = BinaryWriter.ofSize(2 + states.length * ACCOUNT_STATE_BYTES).u16(states.length);
  states.forEach((state, i) => {
    check<PobErrorCode>(i === 0 || Buffer.compare(states[i - 1]!.publicKey, state.publicKey) < 0, "POB_BAD_ACCOUNT", `account ${i}'s key does not follow account ${i - 1}'s: lists are in ascending key order`);
    writeAccountState(writer, state);
  });
  return writer.finish();
}

/** Strict inverse of `encodeAccountStates` at the reader's position (POB_BAD_ACCOUNT for a list out of order). */
export function readAccountStates<Code extends string>(reader: BinaryReader<Code>, code: Code): AccountState[] {
  const count = reader.u16("account count");
  reader.need(count * ACCOUNT_STATE_BYTES, "the accounts");
  const states: AccountState[] = [];
  for (let i = 0; i < count; i++) {
    const state = readAccountState(reader, code, `account ${i}`);
    if (i > 0 && Buffer.compare(states[i - 1]!.publicKey, state.publicKey) >= 0) reader.fail(code, `account ${i}'s key does not follow account ${i - 1}'s: lists are in ascending key order`);
    states.push(state);
  }
  return states;
}

export function decodeAccountStates(bytes: Uint8Array): AccountState[] {
  const reader = new BinaryReader(bytes, ACCOUNT_CODES);
  const states = readAccountStates(reader, "POB_BAD_ACCOUNT");
  reader.expectEnd("the accounts");
  return states;
}

/** SHA-256(domain ‖ `encodeAccountStates(states)`): what a state commitment binds the accounts by. */
export function accountsHash(states: readonly AccountState[]): Uint8Array {
  const encoded = encodeAccountStates(states);
  return sha256(BinaryWriter.ofSize(ACCOUNTS_DOMAIN.length + encoded.length).bytes(ACCOUNTS_DOMAIN).bytes(encoded).finish());
}

export interface SlashRecord {
  readonly publicKey: Uint8Array;
  readonly epoch: number;
  readonly burned: bigint;
}

interface MutableAccount {
  publicKey: Uint8Array;
  stake: bigint;
  servi: number;
  reputation: number;
}

/** Fractional bits of the fixed-point log2. */
const LOG2_FRACTION_BITS = 16;
/** Score units per 1.0 of score. */
export const SCORE_UNIT_BITS = 32n;

/** ⌊log2(x) · 2^16⌋ for x ≥ 1, exactly, by repeated squaring of the mantissa. */
export function log2Fixed(x: bigint): bigint {
  if (x < 1n) throw new IosError<PobErrorCode>("POB_BAD_ARGUMENT", "log2 of a value below 1");
  const whole = BigInt(x.toString(2).length - 1);
  const one = 1n << 62n;
  let y = (x << 62n) >> whole; // x / 2^whole in [1, 2), 62 fractional bits
  let fraction = 0n;
  for (let bit = LOG2_FRACTION_BITS - 1; bit >= 0; bit--) {
    y = (y * y) >> 62n;
    if (y >= 2n * one) {
      y >>= 1n;
      fraction |= 1n << BigInt(bit);
    }
  }
  return (whole << BigInt(LOG2_FRACTION_BITS)) | fraction;
}

/**
 * The documented score in units of 2^-32 (see the file header); 0 when stake is 0. Weights 1/2,
 * 1/4, 1/4 are shifts; each term is floored.
 */
export function believabilityUnits(account: Pick<BelievabilityAccount, "stake" | "servi" | "reputation">): bigint {
  if (account.stake <= 0n) return 0n;
  // log2(1 + stake) / 64 in Q32 = log2Fixed · 2^32 / (64 · 2^16) = log2Fixed · 2^10; half weight: 2^9.
  const stakeUnits = log2Fixed(1n + account.stake) << 9n;
  const servi = BigInt(account.servi);
  const serviUnits = ((servi << SCORE_UNIT_BITS) / (servi + BigInt(SERVI_HALF))) >> 2n;
  const reputationUnits = ((BigInt(account.reputation) << SCORE_UNIT_BITS) / BigInt(REPUTATION_MAX)) >> 2n;
  return stakeUnits + serviUnits + reputationUnits;
}

/** The score as a number in [0, 1] (for display and analysis; the draw uses the units). */
export function believabilityScore(account: Pick<BelievabilityAccount, "stake" | "servi" | "reputation">): number {
  return Number(believabilityUnits(account)) / 2 ** Number(SCORE_UNIT_BITS);
}

export class BelievabilityLedger {
  private readonly accounts = new Map<string, MutableAccount>();
  /** Validators slashed in the current epoch: out of the believable league until it ends. */
  private readonly excluded = new Set<string>();
  private readonly slashes: SlashRecord[] = [];
  private currentEpoch: number;

  constructor(accounts: readonly BelievabilityAccount[], epoch = 0) {
    check<PobErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "POB_BAD_ACCOUNT", `epoch must be a u32, got ${epoch}`);
    this.currentEpoch = epoch;
    accounts.forEach((account, i) => {
      check<PobErrorCode>(account.publicKey instanceof Uint8Array && account.publicKey.length === PUBLIC_KEY_BYTES, "POB_BAD_ACCOUNT", `account ${i}: publicKey must be ${PUBLIC_KEY_BYTES} bytes`);
      check<PobErrorCode>(typeof account.stake === "bigint" && account.stake >= 0n && account.stake <= MAX_U64, "POB_BAD_ACCOUNT", `account ${i}: stake must be a u64`);
      check<PobErrorCode>(Number.isSafeInteger(account.servi) && account.servi >= 0, "POB_BAD_ACCOUNT", `account ${i}: servi must be a non-negative integer`);
      check<PobErrorCode>(Number.isInteger(account.reputation) && account.reputation >= 0 && account.reputation <= REPUTATION_MAX, "POB_BAD_ACCOUNT",
        `account ${i}: reputation must be an integer in 0..${REPUTATION_MAX}`);
      const key = toHex(account.publicKey);
      check<PobErrorCode>(!this.accounts.has(key), "POB_DUPLICATE_VALIDATOR", `account ${i} repeats validator ${key}`);
      this.accounts.set(key, { publicKey: Uint8Array.from(account.publicKey), stake: account.stake, servi: account.servi, reputation: account.reputation });
    });
  }

  /** Accounts of the genesis validators: their stake, no Servi, the initial reputation. */
  static fromGenesis(validators: readonly GenesisValidator[]): BelievabilityLedger {
    return new BelievabilityLedger(validators.map((v) => ({ publicKey: v.publicKey, stake: v.stake, servi: 0, reputation: REPUTATION_INITIAL })));
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  private account(publicKey: Uint8Array): MutableAccount {
    const account = this.accounts.get(toHex(publicKey));
    if (account === undefined) throw new IosError<PobErrorCode>("POB_UNKNOWN_VALIDATOR", `validator ${toHex(publicKey)} has no believability account`);
    return account;
  }

  has(publicKey: Uint8Array): boolean {
    return this.accounts.has(toHex(publicKey));
  }

  /** A copy of one account. */
  get(publicKey: Uint8Array): BelievabilityAccount {
    const { stake, servi, reputation } = this.account(publicKey);
    return { publicKey: Uint8Array.from(publicKey), stake, servi, reputation };
  }

  /** Every validator key, in hex order. */
  validators(): Uint8Array[] {
    return [...this.accounts.keys()].sort().map((key) => Uint8Array.from(this.accounts.get(key)!.publicKey));
  }

  score(publicKey: Uint8Array): number {
    return believabilityScore(this.account(publicKey));
  }

  /** The exact score (units of 2^-32) the league draw weighs by. */
  scoreUnits(publicKey: Uint8Array): bigint {
    return believabilityUnits(this.account(publicKey));
  }

  /** Self-issuance of Servi for `contributions` contributions (§7.1). */
  issueServi(publicKey: Uint8Array, contributions = 1): void {
    check<PobErrorCode>(Number.isSafeInteger(contributions) && contributions > 0, "POB_BAD_ARGUMENT", `contributions must be a positive integer, got ${contributions}`);
    const account = this.account(publicKey);
    account.servi += contributions * SERVI_PER_CONTRIBUTION;
  }

  /** Self-destruction of Servi: its holder validated a block (§7.1). */
  clearServi(publicKey: Uint8Array): void {
    this.account(publicKey).servi = 0;
  }

  /** Reputation for a block finalized without fault, capped at REPUTATION_MAX. */
  rewardReputation(publicKey: Uint8Array): void {
    const account = this.account(publicKey);
    account.reputation = Math.min(REPUTATION_MAX, account.reputation + REPUTATION_PER_BLOCK);
  }

  /**
   * Slashes a validator proven to have signed an invalid transaction (§7.2): all stake burned,
   * reputation and Servi zeroed, excluded for the rest of the epoch. Idempotent within an epoch.
   */
  slash(publicKey: Uint8Array): SlashRecord {
    const account = this.account(publicKey);
    const key = toHex(publicKey);
    const record: SlashRecord = { publicKey: Uint8Array.from(publicKey), epoch: this.currentEpoch, burned: account.stake };
    account.stake = 0n;
    account.reputation = 0;
    account.servi = 0;
    this.excluded.add(key);
    this.slashes.push(record);
    return record;
  }

  isExcluded(publicKey: Uint8Array): boolean {
    return this.excluded.has(toHex(publicKey));
  }

  /** Every slashing so far, in order. */
  slashHistory(): readonly SlashRecord[] {
    return this.slashes;
  }

  /** Every account with its exclusion, in key order (one pass: it is taken at every final height). */
  snapshot(): AccountState[] {
    return [...this.accounts.keys()].sort().map((key) => {
      const { publicKey, stake, servi, reputation } = this.accounts.get(key)!;
      return { publicKey: Uint8Array.from(publicKey), stake, servi, reputation, excluded: this.excluded.has(key) };
    });
  }

  /**
   * Sets every account to the state a replica stored (a restart): the same validators, each with
   * its stake, Servi, reputation and exclusion. POB_BAD_ACCOUNT when the validator sets differ.
   */
  restore(states: readonly AccountState[]): void {
    check<PobErrorCode>(states.length === this.accounts.size, "POB_BAD_ACCOUNT", `${states.length} stored accounts for ${this.accounts.size} validators`);
    for (const state of states) {
      const account = this.accounts.get(toHex(state.publicKey));
      check<PobErrorCode>(account !== undefined, "POB_BAD_ACCOUNT", `stored account ${toHex(state.publicKey)} is not a validator of this shard`);
      account.stake = state.stake;
      account.servi = state.servi;
      account.reputation = state.reputation;
      if (state.excluded) this.excluded.add(toHex(state.publicKey));
      else this.excluded.delete(toHex(state.publicKey));
    }
  }

  /** An independent ledger with the same accounts, exclusions and epoch (no slash history): what an execution changes before it is final. */
  copy(): BelievabilityLedger {
    const copy = new BelievabilityLedger([], this.currentEpoch);
    for (const [key, account] of this.accounts) copy.accounts.set(key, { ...account });
    for (const key of this.excluded) copy.excluded.add(key);
    return copy;
  }

  /** Starts epoch `epoch` (> the current one): the per-epoch exclusions end. */
  beginEpoch(epoch: number): void {
    check<PobErrorCode>(Number.isInteger(epoch) && epoch > this.currentEpoch && epoch <= 0xffffffff, "POB_BAD_ARGUMENT",
      `next epoch must be an integer above ${this.currentEpoch}, got ${epoch}`);
    this.currentEpoch = epoch;
    this.excluded.clear();
  }
}
