/**
 * League draw of one shard for one epoch (white paper §7.2; DESIGN.md §4).
 *
 * The believable league is a score-weighted sample without replacement, drawn seat by seat:
 * for seat i, r = u256(SHA-256(domain ‖ epoch randomness ‖ u32le epoch ‖ u32le i)) mod W, where
 * W is the sum of the remaining candidates' scores (exact integer units, believability.ts), and
 * the seat goes to the candidate whose cumulative score interval (candidates in key order)
 * contains r. Seat by seat, each remaining candidate wins with probability proportional to its
 * score — the law that Efraimidis–Spirakis keys also give — but in integer arithmetic only, so
 * every validator computes the same league from the epoch randomness alone (the DRP output of
 * §5; a genesis seed until DRP exists), whatever its floating-point library. The modulo bias is
 * below 2^-180 for any realistic W.
 *
 * Eligible for the believable league: online, stake > 0 (score > 0), not excluded after a
 * slashing this epoch. The league is cut so that at least `normalLeagueSize` online validators
 * remain in the normal league (its BFT needs 3f + 1 live members). With fewer than `minBelievableSize` believable
 * validators the shard falls back to one league (§7.2): every validator is in the normal league
 * and verifies every transaction. The same rule applies after a slashing mid-epoch
 * (`withoutValidator`), so the fallback engages and disengages with the league size.
 *
 * API: `drawLeagues(input): Leagues`, `Leagues.withoutValidator(key)`, `Leagues.isBelievable(key)`.
 */
import { sha256 } from "../../crypto/sha256.js";
import type { BelievabilityLedger } from "./believability.js";
import { validatePolicy, type ShardingPolicy } from "./policy.js";
import { toHex } from "../../hex.js";
import { BinaryWriter } from "../../codec/binary.js";
import { check } from "../../errors.js";
import type { PobErrorCode } from "./errors.js";

const LEAGUE_DOMAIN = new TextEncoder().encode("IOSChain/pob/league/v1");
export const EPOCH_SEED_BYTES = 32;

export type LeagueMode = "two-league" | "one-league";

export interface Leagues {
  readonly epoch: number;
  readonly mode: LeagueMode;
  /** Believable validators, in draw order (seat 0 first); empty in one-league mode. */
  readonly believable: readonly Uint8Array[];
  /** Every other member of the shard, in key order; all of them in one-league mode. */
  readonly normal: readonly Uint8Array[];
  /**
   * The epoch's BFT committee: the normal league as drawn (every member when the draw itself
   * fell back to one league), in key order. Suspensions and slashings move validators between
   * leagues but never change it, so every replica — running since the epoch began or restarted
   * from its store — runs the same committee and certificates of the same width.
   */
  readonly committee: readonly Uint8Array[];
  readonly policy: ShardingPolicy;
  isBelievable(publicKey: Uint8Array): boolean;
  /** Drawn believable validators the final chain suspended (down, §7.2 "temporary downtime"), in draw order. */
  readonly suspended: readonly Uint8Array[];
  isSuspended(publicKey: Uint8Array): boolean;
  /** The leagues after `publicKey` was slashed: it moves to the normal league for good, the fallback is re-evaluated. */
  withoutValidator(publicKey: Uint8Array): Leagues;
  /** A believable validator found down steps out until resumed (its seat kept); unchanged for any other key. */
  suspend(publicKey: Uint8Array): Leagues;
  /** A suspended, unslashed validator takes its seat back; unchanged for any other key. */
  resume(publicKey: Uint8Array): Leagues;
}

export interface LeagueDrawInput {
  readonly epoch: number;
  /** 32-byte epoch randomness (DRP output, or the genesis seed). */
  readonly seed: Uint8Array;
  /** The shard's validators (all need a believability account). */
  readonly members: readonly Uint8Array[];
  readonly accounts: BelievabilityLedger;
  readonly policy: ShardingPolicy;
  /** Members currently reachable; all of them when omitted. */
  readonly online?: readonly Uint8Array[];
}

/** The draw's random integer for seat `seat`: SHA-256(domain ‖ seed ‖ u32le epoch ‖ u32le seat) as a big-endian u256. */
function seatRandom(seed: Uint8Array, epoch: number, seat: number): bigint {
  const input = BinaryWriter.ofSize(LEAGUE_DOMAIN.length + EPOCH_SEED_BYTES + 8).bytes(LEAGUE_DOMAIN).bytes(seed).u32(epoch).u32(seat).finish();
  return BigInt(`0x${Buffer.from(sha256(input)).toString("hex")}`);
}

/**
 * The epoch's draw (believable seats in order, the normal league) and what the final chain did to
 * it since: slashed validators are out for the epoch, suspended ones until resumed. The active
 * league is the seats less both; below the policy's minimum the shard runs one league.
 */
class DrawnLeagues implements Leagues {
  readonly mode: LeagueMode;
  readonly believable: readonly Uint8Array[];
  readonly normal: readonly Uint8Array[];
  readonly suspended: readonly Uint8Array[];
  readonly committee: readonly Uint8Array[];
  private readonly believableKeys: Set<string>;

  constructor(
    readonly epoch: number,
    private readonly seats: readonly Uint8Array[],
    private readonly drawnNormal: readonly Uint8Array[],
    readonly policy: ShardingPolicy,
    private readonly slashed: ReadonlySet<string> = new Set(),
    private readonly suspendedKeys: ReadonlySet<string> = new Set(),
  ) {
    const active = seats.filter((v) => !slashed.has(toHex(v)) && !suspendedKeys.has(toHex(v)));
    const stepped = seats.filter((v) => !active.includes(v));
    this.suspended = seats.filter((v) => suspendedKeys.has(toHex(v)) && !slashed.has(toHex(v)));
    this.committee = (seats.length < policy.minBelievableSize ? [...seats, ...drawnNormal] : [...drawnNormal]).sort(byKey);
    if (active.length < policy.minBelievableSize) {
      this.mode = "one-league";
      this.believable = [];
      this.normal = [...seats, ...drawnNormal].sort(byKey);
    } else {
      this.mode = "two-league";
      this.believable = active;
      this.normal = [...drawnNormal, ...stepped].sort(byKey);
    }
    this.believableKeys = new Set(this.believable.map(toHex));
  }

  isBelievable(publicKey: Uint8Array): boolean {
    return this.believableKeys.has(toHex(publicKey));
  }

  isSuspended(publicKey: Uint8Array): boolean {
    const key = toHex(publicKey);
    return this.suspendedKeys.has(key) && !this.slashed.has(key);
  }

  private isSeat(publicKey: Uint8Array): boolean {
    return this.seats.some((v) => Buffer.compare(v, publicKey) === 0);
  }

  withoutValidator(publicKey: Uint8Array): Leagues {
    const key = toHex(publicKey);
    if (!this.isSeat(publicKey) || this.slashed.has(key)) return this;
    return new DrawnLeagues(this.epoch, this.seats, this.drawnNormal, this.policy, new Set([...this.slashed, key]), this.suspendedKeys);
  }

  suspend(publicKey: Uint8Array): Leagues {
    const key = toHex(publicKey);
    if (!this.isSeat(publicKey) || this.slashed.has(key) || this.suspendedKeys.has(key)) return this;
    return new DrawnLeagues(this.epoch, this.seats, this.drawnNormal, this.policy, this.slashed, new Set([...this.suspendedKeys, key]));
  }

  resume(publicKey: Uint8Array): Leagues {
    if (!this.isSuspended(publicKey)) return this;
    const key = toHex(publicKey);
    return new DrawnLeagues(this.epoch, this.seats, this.drawnNormal, this.policy, this.slashed, new Set([...this.suspendedKeys].filter((k) => k !== key)));
  }
}

function byKey(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function drawLeagues(input: LeagueDrawInput): Leagues {
  const { epoch, seed, members, accounts } = input;
  const policy = validatePolicy(input.policy);
  check<PobErrorCode>(seed instanceof Uint8Array && seed.length === EPOCH_SEED_BYTES, "POB_BAD_SEED", `epoch seed must be ${EPOCH_SEED_BYTES} bytes`);
  check<PobErrorCode>(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, "POB_BAD_ARGUMENT", `epoch must be a u32, got ${epoch}`);
  check<PobErrorCode>(members.length > 0, "POB_EMPTY_LEAGUE", "a shard needs at least one validator");
  const memberKeys = members.map(toHex);
  check<PobErrorCode>(new Set(memberKeys).size === members.length, "POB_DUPLICATE_VALIDATOR", "members repeat a validator");
  const online = new Set((input.online ?? members).map(toHex));
  const candidates: { key: Uint8Array; units: bigint }[] = [];
  for (const member of [...members].sort(byKey)) {
    const units = accounts.scoreUnits(member);
    if (!online.has(toHex(member)) || accounts.isExcluded(member) || units <= 0n) continue;
    candidates.push({ key: member, units });
  }
  const onlineMembers = members.filter((m) => online.has(toHex(m))).length;
  const room = Math.max(0, onlineMembers - policy.normalLeagueSize);
  const size = Math.min(policy.believableLeagueSize, candidates.length, room);
  const believable: Uint8Array[] = [];
  for (let seat = 0; seat < size; seat++) {
    const total = candidates.reduce((sum, c) => sum + c.units, 0n);
    let r = seatRandom(seed, epoch, seat) % total;
    let chosen = 0;
    while (r >= candidates[chosen]!.units) {
      r -= candidates[chosen]!.units;
      chosen++;
    }
    believable.push(Uint8Array.from(candidates[chosen]!.key));
    candidates.splice(chosen, 1);
  }
  const chosen = new Set(believable.map(toHex));
  const normal = members.filter((m) => !chosen.has(toHex(m))).map((m) => Uint8Array.from(m));
  return new DrawnLeagues(epoch, believable, normal, policy);
}
