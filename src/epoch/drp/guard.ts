/**
 * A DRP server's memory of the sessions it joined (white paper §5.2, Algorithm 2 input 15: the
 * configuration C, and so H(C), is unique to each run; §5.1: replayed messages are ignored).
 * A client that could run several sessions for one purpose u — another grouping seed, another w,
 * or its finished session's l1 replayed for fresh deals — could keep the output Z it likes best;
 * the guard lets a server join at most one session per (client, u), for good, and only one
 * whose timestamp w is within TIMESTAMP_WINDOW_MS of its own clock.
 *
 * Kept per node across runs (one DrpServer per run shares it): within a run, the server's phases
 * already ignore a second announce and any client message out of phase. Entries are never
 * dropped: u names the epoch (one entry per client per epoch), and dropping one would let that
 * client open a second session for u with a fresh w. The window bounds what a node that lost
 * its memory (a restart) can be made to join again: an l1 older than the window is refused.
 */
import type { Clock } from "../../runtime/interface.js";
import type { DrpConfig } from "./config.js";

/**
 * How far w may be from the server's wall clock, either way. The paper leaves it open; ten
 * minutes covers clock skew and the election's Δ (a DRP starts at once when its client wins).
 */
export const TIMESTAMP_WINDOW_MS = 10 * 60 * 1000;

export class SessionGuard {
  readonly #clock: Pick<Clock, "wallNow">;
  /** Client key (hex) ‖ u → the session id (hex) joined for it. */
  readonly #joined = new Map<string, string>();

  constructor(clock: Pick<Clock, "wallNow">) {
    this.#clock = clock;
  }

  /**
   * Why the server must not join session `sessionId` of `config`, or undefined when it may, in
   * which case the session is recorded as joined.
   */
  join(config: DrpConfig, sessionId: Uint8Array): string | undefined {
    const skew = Math.abs(config.timestamp - this.#clock.wallNow());
    if (skew > TIMESTAMP_WINDOW_MS) return `w is ${skew} ms from this server's clock, beyond ${TIMESTAMP_WINDOW_MS}`;
    const key = `${Buffer.from(config.clientKey).toString("hex")}/${config.purpose}`;
    const joined = this.#joined.get(key);
    const id = Buffer.from(sessionId).toString("hex");
    if (joined === id) return "this session was joined already: a replayed l1";
    if (joined !== undefined) return `the client already ran session ${joined} for this purpose`;
    this.#joined.set(key, id);
    return undefined;
  }
}
