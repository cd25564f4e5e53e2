/**
 * Link catch-up: how a validator that missed one or more epoch transitions (down, partitioned or
 * restarted while the others configured the next epoch) learns the identity chain's later links
 * from its peers' archives, over one instance every validator keeps open, {drp, shard 0, epoch 0}
 * (no transition runs under epoch 0: `transitionInstances` starts at 1).
 *
 *   ask     while the epoch after the latest one this validator knows is not configured here, it
 *           asks `askPeers` validators at random for that epoch's link every `intervalMs`
 *           (ARCHIVE_REQUEST u32 epoch); an answer that configures it is followed at once by a
 *           request for the next epoch, so a validator several epochs behind walks the chain
 *           without waiting an interval per link.
 *   answer  a validator holding the link in its archive answers ARCHIVE_LINK (u32 epoch ‖ the
 *           transition's LINK encoding: configuration, certificate, transcript), at most once
 *           per peer and epoch per interval; anything else it ignores.
 *   check   an answer counts only if `verifyEpochLink` accepts it after the latest known context
 *           (≥ ⌊2n/3⌋ + 1 of that epoch's validators signed the configuration) and its transcript
 *           hashes to the one the configuration names. Algorithm 3 is not run again: the signers
 *           ran it before signing, and the certificate binds the transcript's hash. Bad answers
 *           throw TRANSITION_BAD_LINK (the transport counts them against the sender).
 *
 * API: class `LinkCatchUp` (start, close, served).
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
import { TRANSITION_MESSAGES, decodeLink, encodeLink } from "./messages.js";

/** The instance the archive is served on: every validator keeps it open for its lifetime. */
export const ARCHIVE_INSTANCE = { protocol: "drp", shard: 0, epoch: 0 } as const;
/** Validators asked per round: one honest holder among them answers. */
export const DEFAULT_ASK_PEERS = 3;

const CODES: CodecCodes<TransitionErrorCode> = { truncated: "TRANSITION_MALFORMED", trailing: "TRANSITION_MALFORMED", tooLarge: "TRANSITION_MALFORMED", outOfRange: "TRANSITION_MALFORMED" };

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
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Answers sent. */
  served = 0;

  constructor(options: { readonly intervalMs: number; readonly askPeers?: number }, deps: LinkCatchUpDependencies) {
    this.#deps = deps;
    this.#intervalMs = options.intervalMs;
    this.#askPeers = options.askPeers ?? DEFAULT_ASK_PEERS;
    deps.channel.on(TRANSITION_MESSAGES.ARCHIVE_REQUEST, (from, _type, payload) => this.#answer(from, payload));
    deps.channel.on(TRANSITION_MESSAGES.ARCHIVE_LINK, (_from, _type, payload) => this.#receive(payload));
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
    const request = BinaryWriter.ofSize(4).u32(latest.epoch + 1).finish();
    for (const peer of this.#sample(peers)) this.#deps.channel.send(peer, TRANSITION_MESSAGES.ARCHIVE_REQUEST, request);
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
    if (kept === undefined) return;
    const key = `${from}/${epoch}`;
    const now = this.#deps.clock.now();
    const last = this.#answered.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return;
    this.#answered.set(key, now);
    if (this.#answered.size > 4096) this.#answered.delete(this.#answered.keys().next().value!);
    const link = encodeLink(kept);
    this.served++;
    this.#deps.channel.send(from, TRANSITION_MESSAGES.ARCHIVE_LINK, BinaryWriter.ofSize(4 + link.length).u32(epoch).bytes(link).finish());
  }

  #receive(payload: Uint8Array): void {
    if (this.#closed) return;
    const reader = new BinaryReader(payload, CODES);
    const epoch = reader.u32("epoch");
    const latest = this.#deps.latest();
    // A late or repeated answer for an epoch known by now is no news.
    if (epoch !== latest.epoch + 1) return;
    const { link, transcript } = decodeLink(reader.bytes(reader.remaining, "the link"));
    const context = verifyEpochLink(latest, link.configuration, link.certificate, this.#deps.verifier);
    check<TransitionErrorCode>(sameBytes(sha256(transcript), decodeIdentityConfiguration(link.configuration).transcriptHash), "TRANSITION_BAD_LINK",
      `the transcript sent with epoch ${epoch}'s link is not the one its configuration names`);
    this.#deps.onLink({ context, link, transcript });
    // Further behind? Ask for the next link now.
    this.#schedule(0);
  }
}
