/**
 * A DRP run over the peer transport (white paper §5.2, Algorithm 2): the message-driven roles of
 * session.ts on a Channel, with the phase deadlines the white paper's partial synchrony assumes.
 *
 *   client  start: l1 to every server; every server message goes to `DrpClient.receive`, and
 *           whatever it returns (the next client message) to every server. A phase that waits
 *           longer than `phaseTimeoutMs` for the silent is closed (`closePhase`): the run goes
 *           on with the answers at hand, or fails with the session's code (thresholds).
 *   server  every message from the client's peer goes to `DrpServer.receive`, its answers back
 *           to the client; messages from anyone else are not looked at. The port listens before
 *           it knows its client (`DrpServerPort`): what arrives early is kept, bounded.
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

export interface DrpNetworkOptions {
  readonly channel: Channel;
  readonly clock: Clock;
  /** How long a client phase waits for silent servers (Δ). */
  readonly phaseTimeoutMs: number;
}

/** What a finished run yields: Z and rnd, and the transcript L anyone verifies (transcript.ts). */
export interface DrpRunResult extends DrpOutput {
  readonly transcript: Uint8Array;
}

/**
 * Drives `client` against the servers at `servers` (server index → peer). Resolves with the
 * output and transcript, or rejects with the session's IosError (DRP_TOO_FEW_SIGNERS,
 * DRP_TOO_FEW_SHARES) when a threshold no longer holds, or DRP_CLOSED when `stop` ends it first.
 */
export function runDrpClient(client: DrpClient, servers: readonly PeerId[], options: DrpNetworkOptions): { readonly result: Promise<DrpRunResult>; stop(): void } {
  const { channel, clock, phaseTimeoutMs } = options;
  check<DrpErrorCode>(Number.isFinite(phaseTimeoutMs) && phaseTimeoutMs > 0, "DRP_BAD_ARGUMENT", `the phase timeout must be positive, got ${phaseTimeoutMs}`);
  const known = new Set(servers);
  let timer: TimerHandle | undefined;
  let settle: { resolve: (result: DrpRunResult) => void; reject: (error: unknown) => void } | undefined;
  const result = new Promise<DrpRunResult>((resolve, reject) => (settle = { resolve, reject }));

  const finish = (error?: unknown): void => {
    if (settle === undefined) return;
    const { resolve, reject } = settle;
    settle = undefined;
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
    for (const message of messages) channel.broadcast(servers, DRP_MESSAGE, message);
    if (timer !== undefined) clock.cancelTimer(timer);
    timer = clock.setTimer(phaseTimeoutMs, () => {
      timer = undefined;
      step(() => client.closePhase());
    });
  };

  channel.on(DRP_MESSAGE, (from, _type, payload) => {
    if (known.has(from)) step(() => client.receive(payload));
  });
  step(() => client.start());
  return { result, stop: () => finish(new IosError<DrpErrorCode>("DRP_CLOSED", "the DRP run was stopped before it finished")) };
}

/** Messages a server port keeps from one sender before it knows its client. */
const BACKLOG_PER_SENDER = 4;
/** Senders a server port keeps messages from before it knows its client. */
const BACKLOG_SENDERS = 64;

/**
 * A server's end of a run on `channel`: registered at once, so that the client's first messages
 * are not lost while the caller still decides who the client is (the leader election of the same
 * epoch); `serve(server, client)` answers what `client` sent so far (the last few messages of
 * each sender are kept until then) and everything it sends after.
 */
export class DrpServerPort {
  readonly #channel: Channel;
  readonly #backlog = new Map<PeerId, Uint8Array[]>();
  #serving: { readonly server: DrpServer; readonly client: PeerId } | undefined;

  constructor(channel: Channel) {
    this.#channel = channel;
    channel.on(DRP_MESSAGE, (from, _type, payload) => {
      if (this.#serving === undefined) this.#keep(from, payload);
      else if (from === this.#serving.client) this.#answer(payload);
    });
  }

  serve(server: DrpServer, client: PeerId): void {
    check<DrpErrorCode>(this.#serving === undefined, "DRP_WRONG_PHASE", "this port already serves a client");
    this.#serving = { server, client };
    const kept = this.#backlog.get(client) ?? [];
    this.#backlog.clear();
    for (const payload of kept) this.#answer(payload);
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
