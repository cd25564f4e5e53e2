/**
 * The reconfiguration from epoch e to e + 1 (white paper §4–5, Algorithms 1–3; epoch design in
 * docs/ARCHITECTURE.md): every validator of epoch e runs one `EpochTransition`, which turns the
 * shards' boundaries into the signed configuration of e + 1 and its EpochContext. Types shared by
 * the messages (messages.ts) and the protocol (transition.ts).
 */
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import type { Channel } from "../../net/interface.js";
import type { Clock, Rng } from "../../runtime/interface.js";
import type { IdentityLink } from "../identity/interface.js";
import type { EpochContext } from "../interface.js";

export type TransitionErrorCode =
  /** A constructor argument is out of range: no epoch length or PoB policy, Δ, a key that is not a validator's. */
  | "TRANSITION_BAD_CONFIG"
  /** A message is cut short, has trailing bytes or a part over its size limit. */
  | "TRANSITION_MALFORMED"
  /** The peer that delivered a message is not a validator of epoch e. */
  | "TRANSITION_UNKNOWN_PEER"
  /** A boundary certificate is not of epoch e's last height. */
  | "TRANSITION_WRONG_BOUNDARY"
  /**
   * A boundary's believability accounts are not the ones its certificate commits to (their hash is
   * not the certified accounts hash), or not exactly the shard's members of epoch e.
   */
  | "TRANSITION_BAD_ACCOUNTS"
  /** Two verified certificates of one shard's last height commit to different states (the shard broke its safety). */
  | "TRANSITION_CONFLICTING_BOUNDARY"
  /** A proposal from a validator that is not the elected leader here. */
  | "TRANSITION_NOT_LEADER"
  /** A proposal whose transcript is not of the elected leader's DRP run for this epoch and view. */
  | "TRANSITION_BAD_TRANSCRIPT"
  /** A proposal whose configuration differs from the one this validator derives from what it verified. */
  | "TRANSITION_BAD_CONFIGURATION"
  /** A link whose transcript is not the one its configuration names. */
  | "TRANSITION_BAD_LINK"
  /** An archive answer (link catch-up) for an epoch not asked of its sender, or a second answer to one request. */
  | "TRANSITION_UNASKED_LINK"
  /** A validator change that is not a registration or leave its shard accepted in epoch e. */
  | "TRANSITION_BAD_CHANGE"
  /** A proposal that leaves out a validator change this validator holds a proof of. */
  | "TRANSITION_MISSING_CHANGE";

export interface TransitionConfig {
  /** Epoch e: it must have an epoch length (the identity chain) and a PoB policy (its committees certify the boundaries). */
  readonly previous: EpochContext;
  /** Δ: every election view's gossip and start windows, and every DRP phase's deadline. */
  readonly deltaMs: number;
  /**
   * How long an elected leader has to deliver the signed configuration before every validator
   * skips it and the election goes to its next view. Default 40 Δ: three DRP phases and a CoSi
   * session, each bounded by Δ-sized deadlines, with room.
   */
  readonly deliveryTimeoutMs?: number;
  /** The CoSi tree that signs the configuration (src/consensus/cosi). */
  readonly cosi: { readonly fanout: number; readonly levelTimeoutMs: number };
}

export interface TransitionDependencies {
  /** The drp-range channel of epoch e + 1 (`transitionInstances`): election, DRP, boundaries, proposals, links. */
  readonly channel: Channel;
  /** The consensus-range channel of the configuration's CoSi (`transitionInstances`). */
  readonly cosiChannel: Channel;
  readonly clock: Clock;
  /** Nonces of CoSi and the DRP's deals: CryptoRng in production, a SeededRng in the simulator. */
  readonly rng: Rng;
  /** This validator's Ed25519 seed: its lottery, DRP and CoSi key. */
  readonly secretKey: Uint8Array;
  readonly verifier: Ed25519Verifier;
  /** Epoch e + 1 is configured here: its context, its identity-chain link and its DRP transcript. */
  readonly onConfigured: (result: ConfiguredEpoch) => void;
}

/**
 * A registration, leave or release (src/ledger/kinds/registration.ts) final in epoch e, with the decision
 * proof of its acceptance by its shard's committee (src/atomix/proof.ts): what changes the
 * validator set of e + 1, checkable by every validator.
 */
export interface ProvenChange {
  readonly tx: Uint8Array;
  readonly proof: Uint8Array;
}

export interface ConfiguredEpoch {
  readonly context: EpochContext;
  readonly link: IdentityLink;
  /** The DRP transcript whose hash the configuration carries (src/epoch/drp/transcript.ts). */
  readonly transcript: Uint8Array;
}

export type TransitionPhase =
  /** Collecting each shard's boundary certificate of epoch e's last height. */
  | "boundaries"
  /** Electing the DRP leader (src/epoch/election). */
  | "election"
  /** The leader runs DRP, proposes the configuration and has it co-signed. */
  | "configuring"
  | "configured"
  /** Every validator was skipped: no leader delivered. */
  | "failed";

export interface TransitionStats {
  /** Messages refused with a TRANSITION_* code (the transport counts them per code). */
  rejected: number;
  /** Leaders skipped after election: for not delivering in time, or resigning (this validator's own resignations included). */
  abandoned: number;
  /** Times this validator resigned as leader (its DRP run or CoSi session failed). */
  resigned: number;
}
