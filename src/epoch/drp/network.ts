/**
 * DRP runs over the peer transport (white paper §5.2, Algorithm 2): the message-driven roles of
 * session.ts on a Channel, with the phase deadlines the white paper's partial synchrony assumes.
 * A `DrpPort` owns the channel's one DRP message type and plays either role, run after run:
 *
 *   client  `lead`: l1 to every server; every server message goes to `DrpClient.receive`, and
 *           whatever it returns (the next client message) to every server. A phase that waits
 *           longer than `phaseTimeoutMs` for the silent is closed (`closePhase`): the run goes
 *           on with the answers at hand, or fails with the session's code (thresholds).
 *   server  `serve`: every message from the client's peer goes to `DrpServer.receive`, its
 *           answers back to the client; a server's refusal (a coded IosError: a T' or l3 that
 *           breaks the rules) goes to the transport, which counts and logs it. The port listens
 *           before it knows its client (the leader election of the same epoch decides it): the
 *           first messages of each other sender are kept, bounded, and answered once that sender
 *           becomes the client.
 *
 * One message type carries every DRP envelope both ways (the envelope names its kind and sender,
 * messages.ts). The channel is the caller's: it may carry other protocols' types of its range
 * (the leader election's), and it closes it.
 */
import type { Channel, PeerId } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { Clock, TimerHandle } from "../../runtime/interface.js";
import { IosError, check } from "../../errors.js";
import type { DrpErrorCode } from "./errors.js";
import type { DrpClient, DrpOutput, DrpServer } from "./session.js";

/** Every DRP envelope, client to server and back (drp range, after the election's types). */
export const DRP_MESSAGE = messageType("drp", 0x08);
/** Messages a port keeps from one sender that is not its client (yet). */
const BACKLOG_PER_SENDER = 4;
/** Senders a port keeps messages from. */
const BACKLOG_SENDERS = 64;

/** What a finished run yields: Z and rnd, and the transcript L anyone verifies (transcript.ts). */
export interface DrpRunResult extends DrpOutput {
  readonly transcript: Uint8Array;
}

/** A client run in progress. */
export interface DrpRun {
  /** Resolves with the output and transcript, or rejects with the session's IosError (DRP_TOO_FEW_SIGNERS, DRP_TOO_FEW_SHARES), or DRP_CLOSED once stopped. */
  readonly result: Promise<DrpRunResult>;
  stop(): void;
}

interface Leading {
  readonly client: DrpClient;
  readonly servers: ReadonlySet<PeerId>;
  step(produce: () => Uint8Array[]): void;
}

export class DrpPort {
  readonly #channel: Channel;
  readonly #clock: Clock;
  readonly #backlog = new Map<PeerId, Uint8Array[]>();
  #serving: { readonly server: DrpServer; readonly client: PeerId } | undefined;
  #leading: Leading | undefined;

  constructor(channel: Channel, clock: Clock) {
    this.#channel = channel;
    this.#clock = clock;
    channel.on(DRP_MESSAGE, (from, _type, payload) => {
      const leading = this.#leading;
      if (leading?.servers.has(from) === true) leading.step(() => leading.client.receive(payload));
      else if (from === this.#serving?.client) this.#answer(payload);
      else this.#keep(from, payload);
    });
  }

  /**
   * Answers `client` as `server`: what it sent so far, and everything after. A later `serve`
   * moves on to another client (the next leader, when one is skipped).
   */
  serve(server: DrpServer, client: PeerId): void {
    this.#serving = { server, client };
    const kept = this.#backlog.get(client) ?? [];
    this.#backlog.delete(client);
    for (const payload of kept) {
      try {
        this.#answer(payload);
      } catch (error) {
        // The caller is the election electing `client`, not a delivery: a refusal of a kept message
        // (DrpServer.receive) must not throw into it, and it counts as that message ignored.
        if (!(error instanceof IosError)) throw error;
      }
    }
  }

  /** Drives `client` against the servers at `servers` (server index → peer), each phase closed after `phaseTimeoutMs`. */
  lead(client: DrpClient, servers: readonly PeerId[], phaseTimeoutMs: number): DrpRun {
    check<DrpErrorCode>(Number.isFinite(phaseTimeoutMs) && phaseTimeoutMs > 0, "DRP_BAD_ARGUMENT", `the phase timeout must be positive, got ${phaseTimeoutMs}`);
    check<DrpErrorCode>(this.#leading === undefined, "DRP_WRONG_PHASE", "this port already leads a run");
    const clock = this.#clock;
    let timer: TimerHandle | undefined;
    let settle: { resolve: (result: DrpRunResult) => void; reject: (error: unknown) => void } | undefined;
    const result = new Promise<DrpRunResult>((resolve, reject) => (settle = { resolve, reject }));
    const finish = (error?: unknown): void => {
      if (settle === undefined) return;
      const { resolve, reject } = settle;
      settle = undefined;
      this.#leading = undefined;
      if (timer !== undefined) clock.cancelTimer(timer);
      if (error !== undefined) reject(error);
      else resolve({ ...client.output(), transcript: client.transcript() });
    };
    /** Sends what the client produced; a new client message opens a phase with its own deadline. */
    const step = (produce: () => Uint8Array[]): void => {
      if (settle === undefined) return;
      let messages: Uint8Array[];
      try {
        messages = produce();
      } catch (error) {
        finish(error);
        return;
      }
      if (client.phase === "done") {
        finish();
        return;
      }
      if (messages.length === 0) return;
      for (const message of messages) this.#channel.broadcast(servers, DRP_MESSAGE, message);
      if (timer !== undefined) clock.cancelTimer(timer);
      timer = clock.setTimer(phaseTimeoutMs, () => {
        timer = undefined;
        step(() => client.closePhase());
      });
    };
    this.#leading = { client, servers: new Set(servers), step };
    step(() => client.start());
    return { result, stop: () => finish(new IosError<DrpErrorCode>("DRP_CLOSED", "the DRP run was stopped before it finished")) };
  }

  #keep(from: PeerId, payload: Uint8Array): void {
    const kept = this.#backlog.get(from);
    if (kept === undefined) {
      if (this.#backlog.size < BACKLOG_SENDERS) this.#backlog.set(from, [payload]);
    } else if (kept.length < BACKLOG_PER_SENDER) {
      kept.push(payload);
    }
  }

  #answer(payload: Uint8Array): void {
    const { server, client } = this.#serving!;
    for (const answer of server.receive(payload)) this.#channel.send(client, DRP_MESSAGE, answer);
  }
}
