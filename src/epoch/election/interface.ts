/**
 * The epoch leader election (white paper §4.1, Algorithm 1; epoch-design point 4): the n
 * validators of epoch e − 1 elect, by VRF lottery, the validator that leads the Distributed
 * Randomness Protocol for epoch e. Types shared by the lottery (lottery.ts), the messages
 * (messages.ts) and the protocol (election.ts).
 */
import type { Channel } from "../../net/interface.js";
import type { Clock } from "../../runtime/interface.js";

export type ElectionErrorCode =
  /** A constructor or method argument is out of range (keys, Δ, epoch, secret key not a validator's). */
  | "ELECTION_BAD_CONFIG"
  /** A message is cut short, has trailing bytes or an unknown field value. */
  | "ELECTION_MALFORMED"
  /** The transport peer that delivered the message is not a validator of the election. */
  | "ELECTION_UNKNOWN_PEER"
  /** The message names another epoch (a replay from another election). */
  | "ELECTION_WRONG_EPOCH"
  /** The message names a view this node has left (a replay, or a leader that started late). */
  | "ELECTION_STALE_VIEW"
  /** The message names a view more than one ahead of this node's. */
  | "ELECTION_FUTURE_VIEW"
  /** The message names a validator index ≥ n. */
  | "ELECTION_BAD_VALIDATOR"
  /** The lottery's VRF proof does not verify under the named validator's key for this configuration and view (forged or misattributed). */
  | "ELECTION_BAD_PROOF"
  /** A START's or RESIGN's Ed25519 signature does not verify under the named leader's key (a START's signature is no RESIGN's). */
  | "ELECTION_BAD_SIGNATURE"
  /** The message comes from, or names, a validator skipped earlier in this epoch. */
  | "ELECTION_SKIPPED"
  /** A START from a validator other than the one this node locked in for the view. */
  | "ELECTION_NOT_LEADER"
  /** A method was called out of turn (startAsLeader by a node that did not lock itself in, or after its window). */
  | "ELECTION_WRONG_PHASE";

/** What the identity chain records as the leader's lottery (epoch-design point 2). */
export interface LeaderLottery {
  /** The view that elected the leader: 0, or the number of leaders skipped before it. */
  readonly view: number;
  /** The leader's index in epoch e − 1's configuration order. */
  readonly leader: number;
  /** ECVRF proof (80 bytes) of the leader's key over `lotteryInput(confHash, view)`. */
  readonly proof: Uint8Array;
}

/** A verified lottery: the proof and its output beta, the value compared. */
export interface Lottery {
  readonly validator: number;
  readonly proof: Uint8Array;
  /** ECVRF_proof_to_hash of the proof (64 bytes), compared as bytes. */
  readonly beta: Uint8Array;
}

export interface ElectionOutcome extends LeaderLottery {
  readonly epoch: number;
  readonly beta: Uint8Array;
  /** The leader's START (messages.ts): what the DRP session carries as its first message. */
  readonly start: Uint8Array;
}

export interface ElectionConfig {
  /** The epoch being configured, e ≥ 1: the election runs among the validators of e − 1. */
  readonly epoch: number;
  /** SHA-256 hash of configuration e − 1 (the identity chain's block e − 1): every lottery's input. */
  readonly confHash: Uint8Array;
  /** Public keys of epoch e − 1's validators in configuration order; index = validator number. */
  readonly validators: readonly Uint8Array[];
  /**
   * Δ, the synchrony bound (Algorithm 1 input 6), in milliseconds: view v's gossip window and the
   * time its locked-in leader has to start are Δ_v = Δ · 2^min(v, 4) (`viewDeltaMs`). See election.ts for the bound under which
   * honest validators agree.
   */
  readonly deltaMs: number;
  /** Views tried before the election gives up (default n: each failed view skips one validator). */
  readonly maxViews?: number;
}

export interface ElectionDependencies {
  /** The channel of the election's instance (`electionInstance(epoch)`); opened and closed by the owner, shared with DRP. */
  readonly channel: Channel;
  readonly clock: Clock;
  /** This validator's Ed25519 seed: its VRF key and its START signing key. */
  readonly secretKey: Uint8Array;
  /**
   * This node locked itself in: it must start DRP within Δ by calling `startAsLeader()` (which
   * signs and broadcasts START). Not calling it in time skips this node like any silent leader.
   */
  readonly onLeading?: (lottery: LeaderLottery & { readonly epoch: number }) => void;
  /** The leader is agreed at this node: its START arrived in time (or this node started). */
  readonly onElected?: (outcome: ElectionOutcome) => void;
  /** The leader this node elected resigned (a signed RESIGN of its view): skipped, and the next view begins after this call. */
  readonly onResigned?: (view: number, validator: number) => void;
  /** `validator` was locked in for `view` and did not start within Δ_v, was abandoned or resigned: skipped for the rest of the epoch. */
  readonly onSkipped?: (view: number, validator: number) => void;
  /** Every view up to maxViews failed. */
  readonly onFailed?: (views: number) => void;
}

export type ElectionPhase =
  /** Before `begin()`: lotteries of views 0 and 1 are verified and kept. */
  | "idle"
  /** Gossiping lotteries of the current view until its lock-in, Δ after the view began. */
  | "gossip"
  /** Locked in a leader; waiting up to Δ for its START. */
  | "awaiting-start"
  | "elected"
  | "failed";

export interface ElectionStats {
  /** Valid lotteries recorded (own included), over all views. */
  lotteries: number;
  /** Lotteries already held (same validator and view: equal beta, whatever the proof bytes), ignored. */
  duplicates: number;
  /** Lotteries of the current view that arrived after its lock-in: valid but too late to count. */
  late: number;
  /** Lotteries and STARTs this node forwarded (gossip relays). */
  relayed: number;
  /** Messages refused with an ELECTION_* code (counted per code by the transport's HandlerFailures, subsystem "drp"). */
  rejected: number;
  /** Messages that arrived after the election ended, ignored. */
  afterEnd: number;
}
