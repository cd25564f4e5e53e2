/**
 * Link catch-up: how a validator that missed one or more epoch transitions (down, partitioned or
 * restarted while the others configured the next epoch) learns the identity chain's later links
 * from its peers' archives, over one instance every validator keeps open, {drp, shard 0, epoch 0}
 * (no transition runs under epoch 0: `transitionInstances` starts at 1).
 *
 *   ask     while the epoch after the latest one this validator knows is not configured here, it
 *           asks `askPeers` validators at random for that epoch's link every `intervalMs`
 *           (ARCHIVE_REQUEST u32 epoch) and remembers whom it asked for it; an answer that
 *           configures it is followed at once by a request for the next epoch, so a validator
 *           several epochs behind walks the chain without waiting an interval per link.
 *   answer  a validator holding the link in its archive answers ARCHIVE_LINK (u32 epoch ‖ the
 *           transition's LINK encoding: configuration, certificate, transcript), at most once
 *           per peer and epoch per interval; a request for an epoch it does not keep, or over
 *           that budget, it ignores (counted in `stats.ignored`: ARCHIVE_NOT_KEPT,
 *           ARCHIVE_OVER_BUDGET).
 *   check   an answer for an epoch known by now is a late one, ignored (ARCHIVE_STALE). Any other
 *           answer must come from a peer asked for that very epoch, once per request: otherwise
 *           it is refused before any signature is checked (TRANSITION_UNASKED_LINK), so a peer
 *           cannot make this validator verify certificates at will. It counts only if
 *           `verifyEpochLink` accepts it after the latest known context (≥ ⌊2n/3⌋ + 1 of that
 *           epoch's validators signed the configuration: IDENTITY_* codes) and its transcript
 *           hashes to the one the configuration names (TRANSITION_BAD_LINK); a cut or garbled
 *           one is TRANSITION_MALFORMED. Algorithm 3 is not run again: the signers ran it before
 *           signing, and the certificate binds the transcript's hash. Refusals throw: the
 *           transport logs them and counts them against the sender (HandlerFailures).
 *
 * API: class `LinkCatchUp` (start, close, stats), type `CatchUpIgnoredCode`, `encodeArchiveLink`.
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../../codec/binary.js";
import { sameBytes } from "../../bytes.js";
import { sha256 } from "../../crypto/sha256.js";
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { check } from "../../errors.js";
import { toHex } from "../../hex.js";
import type { Channel, PeerId } from "../../net/interface.js";
import type { Clock, Rng, TimerHandle } from "../../runtime/interface.js";
import { decodeIdentityConfiguration } from "../identity/configuration.js";
import type { IdentityLink } from "../identity/interface.js";
import { verifyEpochLink } from "../identity/link.js";
import type { EpochContext } from "../interface.js";
import type { ConfiguredEpoch, TransitionErrorCode } from "./interface.js";
import { TRANSITION_MESSAGES, decodeLink, encodeLink, type LinkMessage } from "./messages.js";

/** The instance the archive is served on: every validator keeps it open for its lifetime. */
export const ARCHIVE_INSTANCE = { protocol: "drp", shard: 0, epoch: 0 } as const;
/** Validators asked per round: one honest holder among them answers. */
export const DEFAULT_ASK_PEERS = 3;

/**
 * What a catch-up ignores without refusing the sender (an honest peer can cause each):
 * ARCHIVE_STALE an answer for an epoch this validator knows by now (a late one: several peers are asked);
 * ARCHIVE_NOT_KEPT a request for an epoch this validator's archive does not hold (yet);
 * ARCHIVE_OVER_BUDGET a request from a peer already answered for that epoch within the interval.
 */
export type CatchUpIgnoredCode = "ARCHIVE_STALE" | "ARCHIVE_NOT_KEPT" | "ARCHIVE_OVER_BUDGET";

const CODES: CodecCodes<TransitionErrorCode> = { truncated: "TRANSITION_MALFORMED", trailing: "TRANSITION_MALFORMED", tooLarge: "TRANSITION_MALFORMED", outOfRange: "TRANSITION_MALFORMED" };

/** ARCHIVE_LINK: u32 epoch ‖ the transition's LINK encoding of `kept` (configuration, certificate, transcript). */
export function encodeArchiveLink(epoch: number, kept: LinkMessage): Uint8Array {
  const link = encodeLink(kept);
  return BinaryWriter.ofSize(4 + link.length).u32(epoch).bytes(link).finish();
}

export interface LinkCatchUpDependencies {
  readonly channel: Channel;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly verifier: Ed25519Verifier;
  /** The latest epoch context this validator knows (its archive's last). */
  readonly latest: () => EpochContext;
  /** This validator's archived link and transcript of `epoch`, if kept. */
  readonly archived: (epoch: number) => { readonly link: IdentityLink; readonly transcript: Uint8Array } | undefined;
  /** A checked link of the epoch after `latest()`: the node keeps it and enters the epoch. */
  readonly onLink: (configured: ConfiguredEpoch) => void;
}

export class LinkCatchUp {
  readonly #deps: LinkCatchUpDependencies;
  readonly #intervalMs: number;
  readonly #askPeers: number;
  /** Last answer time per (peer, epoch), so that a peer asking in a loop costs one answer per interval. */
  readonly #answered = new Map<string, number>();
  /** The epoch last asked for and the peers asked for it that have not answered yet: the only answers checked. */
  #asked: { epoch: number; readonly peers: Set<PeerId> } = { epoch: 0, peers: new Set() };
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Answers sent, and what was ignored by code (refusals are thrown: the transport counts them). */
  readonly stats: { served: number; readonly ignored: Record<CatchUpIgnoredCode, number> } = {
    served: 0,
    ignored: { ARCHIVE_STALE: 0, ARCHIVE_NOT_KEPT: 0, ARCHIVE_OVER_BUDGET: 0 },
  };

  constructor(options: { readonly intervalMs: number; readonly askPeers?: number }, deps: LinkCatchUpDependencies) {
    this.#deps = deps;
    this.#intervalMs = options.intervalMs;
    this.#askPeers = options.askPeers ?? DEFAULT_ASK_PEERS;
    deps.channel.on(TRANSITION_MESSAGES.ARCHIVE_REQUEST, (from, _type, payload) => this.#answer(from, payload));
    deps.channel.on(TRANSITION_MESSAGES.ARCHIVE_LINK, (from, _type, payload) => this.#receive(from, payload));
  }

  /** Starts asking, one interval from now (an epoch's own transition usually configures it first). */
  start(): void {
    this.#schedule(this.#intervalMs);
  }

  /** Stops asking and answering; the channel stays its owner's. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#deps.clock.cancelTimer(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#deps.clock.cancelTimer(this.#timer);
    this.#timer = this.#deps.clock.setTimer(delayMs, () => {
      this.#timer = undefined;
      this.#ask();
      this.#schedule(this.#intervalMs);
    });
  }

  #ask(): void {
    const latest = this.#deps.latest();
    if (latest.epochLength === undefined) return;
    const self = this.#deps.channel.self;
    const peers = latest.validators.map((validator) => toHex(validator.publicKey)).filter((peer) => peer !== self);
    const epoch = latest.epoch + 1;
    if (this.#asked.epoch !== epoch) this.#asked = { epoch, peers: new Set() };
    const request = BinaryWriter.ofSize(4).u32(epoch).finish();
    for (const peer of this.#sample(peers)) {
      this.#asked.peers.add(peer);
      this.#deps.channel.send(peer, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request);
    }
  }

  /** Up to `askPeers` distinct peers at random. */
  #sample(peers: readonly PeerId[]): PeerId[] {
    const pool = [...peers];
    const chosen: PeerId[] = [];
    while (chosen.length < this.#askPeers && pool.length > 0) chosen.push(pool.splice(Math.floor(this.#deps.rng.nextFloat() * pool.length), 1)[0]!);
    return chosen;
  }

  #answer(from: PeerId, payload: Uint8Array): void {
    if (this.#closed) return;
    const reader = new BinaryReader(payload, CODES);
    const epoch = reader.u32("epoch");
    reader.expectEnd("the archive request");
    const kept = epoch === 0 ? undefined : this.#deps.archived(epoch);
    if (kept === undefined) return this.#ignore("ARCHIVE_NOT_KEPT");
    const key = `${from}/${epoch}`;
    const now = this.#deps.clock.now();
    const last = this.#answered.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return this.#ignore("ARCHIVE_OVER_BUDGET");
    this.#answered.set(key, now);
    if (this.#answered.size > 4096) this.#answered.delete(this.#answered.keys().next().value!);
    this.stats.served++;
    this.#deps.channel.send(from, TRANSITION_MESSAGES.ARCHIVE_LINK, encodeArchiveLink(epoch, kept));
  }

  #ignore(code: CatchUpIgnoredCode): void {
    this.stats.ignored[code]++;
  }

  #receive(from: PeerId, payload: Uint8Array): void {
    if (this.#closed) return;
    const reader = new BinaryReader(payload, CODES);
    const epoch = reader.u32("epoch");
    const latest = this.#deps.latest();
    if (epoch <= latest.epoch) return this.#ignore("ARCHIVE_STALE");
    // One answer per request, to the epoch asked: whatever else arrives is checked no further.
    check<TransitionErrorCode>(epoch === this.#asked.epoch && epoch === latest.epoch + 1 && this.#asked.peers.delete(from), "TRANSITION_UNASKED_LINK",
      `an answer for epoch ${epoch} that was not asked of this peer (epoch ${latest.epoch + 1} is the one asked for)`);
    const { link, transcript } = decodeLink(reader.bytes(reader.remaining, "the link"));
    const context = verifyEpochLink(latest, link.configuration, link.certificate, this.#deps.verifier);
    check<TransitionErrorCode>(sameBytes(sha256(transcript), decodeIdentityConfiguration(link.configuration).transcriptHash), "TRANSITION_BAD_LINK",
      `the transcript sent with epoch ${epoch}'s link is not the one its configuration names`);
    this.#deps.onLink({ context, link, transcript });
    // Further behind? Ask for the next link now.
    this.#schedule(0);
  }
}
