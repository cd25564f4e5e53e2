/**
 * Atomix without the client (white paper §6: "the shard of the minimum-value input coordinates";
 * proofs are gossiped and any party may submit the unlock). Every input shard watches the locks
 * its final chain holds: once a lock is older than the grace period (the client's turn), the
 * watchers of that shard finish the transfer themselves, so a lock never outlives an honest
 * member of its shard.
 *
 *   query    for each other input shard without a decision in hand, ask its members
 *            (ATOMIX_QUERY, carrying the signed transfer X): a member holding the decision
 *            answers with its phase and proof (ATOMIX_ANSWER); one whose shard never saw X
 *            submits X to its own shard, which then decides it (the client may have crashed
 *            before sending it there);
 *   unlock   as soon as the proofs decide (every input shard accepted, or one refused), submit
 *            the unlock to the own shard; the coordinator (the shard of the least input, as the
 *            white paper has it: client.ts `coordinatorShard`) also sends it to the f + 1 ranked
 *            members of every other shard it concerns (ATOMIX_SUBMIT, one of them honest), each
 *            of which submits it to its shard unless that shard already holds it;
 *   confirm  after its own shard committed, the coordinator asks the other shards (first their
 *            f + 1 members ranked for X, then all), then keeps sending the commit to each until
 *            f + 1 of its members answer "committed" (one of them honest): an output-only shard
 *            learns of X from nobody else. Asking first spares a shard that its client already
 *            served an unlock per acting member, and asking f + 1 first costs such a shard
 *            (f + 1)² queries and answers per X instead of (f + 1) · n.
 *   notice   the 2f + 1 members of a shard ranked first for X (f + 1 of them honest), as they
 *            apply X's unlock-to-commit in a final height, tell the members of X's other input
 *            shards that act on X (the f + 1 ranked first there: no other member watches it),
 *            one message per member and height listing those transfers: a watcher that hears
 *            "committed" from f + 1 members of every other shard X touches (one of them honest)
 *            while its own shard has committed X stops watching it, with no query, answer or
 *            unlock. When the client delivered, the confirm step thus costs (2f + 1)(f + 1)
 *            txids per other input shard instead of (f + 1)² queries and answers per transfer
 *            after the grace period.
 * Every input shard guards its own locks: one that never saw X is asked for its decision, which
 * makes it decide, and if it locked X its own watchers take over. X's only input shard settles X
 * with its lock (src/atomix/phases.ts): its watchers go straight to the confirm step.
 *
 * Who acts: the f + 1 members of the shard ranked first for the txid (`actingMembers`: the first
 * four bytes of txid XOR key) — at least one is honest whatever f members do, and the work is
 * spread over transfers. The rank needs no hash: any f + 1 members include an honest one, so a
 * client grinding its txid gains nothing. Unlocks of one X with one
 * decision share a txid, so parallel or repeated submissions change nothing (src/atomix/phases.ts).
 *
 * Bound: a lock is released or consumed within graceMs + (a retry and two final heights per round
 * trip) once the other shards' honest members are reachable (an output shard gets its commit in
 * the same bound; after a restart of the coordinator, for X settled within SETTLED_REWATCH_HEIGHTS); retries never stop while it holds,
 * their waits doubling from retryMs up to MAX_RETRY_MS (back to retryMs when a proof arrives).
 * Under load, watchers add a bounded trickle, not a flood of duplicates: at most
 * MAX_TRANSFERS_PER_ROUND transfers per round (oldest first, so a backlog of B locks past the
 * grace period adds up to B / MAX_TRANSFERS_PER_ROUND rounds to the bound), and an unlock the own
 * shard already holds (pending, optimistic or final) is not submitted again.
 *
 * Messages ("atomix" range), on the channel of the addressed shard:
 *   ATOMIX_QUERY   signed X
 *   ATOMIX_ANSWER  txid [32] ‖ u8 phase (0xff: none) ‖ u16 |proof| ‖ proof (src/atomix/proof.ts)
 *   ATOMIX_SUBMIT  an unlock, for the receiver's shard
 *   ATOMIX_COMMITTED  u16 count ‖ count × cross txid [32]: transfers the sender's shard committed
 *                  (at most MAX_NOTICE_TXIDS per message)
 *
 * API: class `AtomixWatcher` (watch, noticeCommitted, stop, stats), `ATOMIX_MESSAGES`, `actingMembers`.
 */
import { sameBytes } from "../bytes.js";
import { BinaryReader, BinaryWriter, readU32, singleCode } from "../codec/binary.js";
import { TXID_BYTES } from "../codec/sizes.js";
import { sha256 } from "../crypto/sha256.js";
import type { EpochContext } from "../epoch/interface.js";
import { IosError, hasCodeIn } from "../errors.js";
import { toHex } from "../hex.js";
import { crossShardInputShards, crossShardTransferShardSets, crossShardTransferUnsigned } from "../ledger/kinds/atomix.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode } from "../ledger/errors.js";
import { TX_PREFIX, TxKind } from "../ledger/kinds/interface.js";
import type { DecisionVerifier } from "../ledger/kinds/interface.js";
import { scanTransaction, transactionIdIfWellFormed } from "../ledger/kinds/registry.js";
import { guardedHandler } from "../net/guarded-handler.js";
import type { Channel, PeerId, Transport } from "../net/interface.js";
import { messageType } from "../net/message-types.js";
import type { Clock, TimerHandle } from "../runtime/interface.js";
import { coordinatorShard, unlockFor } from "./client.js";
import { ATOMIX_PHASES, decodeAtomixPhase, encodeAtomixPhase, isLockDecision, type AtomixDecision, type AtomixPhase } from "./phases.js";
import { MAX_DECISION_PROOF_BYTES } from "./proof.js";
import { atomixUnlockCross, atomixUnlockTxid } from "../ledger/kinds/atomix-unlock.js";
import { atomixUnlockBatchFirstCross } from "../ledger/kinds/atomix-unlock-batch.js";

export const ATOMIX_MESSAGES = {
  QUERY: messageType("atomix", 0),
  ANSWER: messageType("atomix", 1),
  SUBMIT: messageType("atomix", 2),
  COMMITTED: messageType("atomix", 3),
} as const;

/** Transfers one ATOMIX_COMMITTED message lists: 32 KB of txids, well under a frame. */
export const MAX_NOTICE_TXIDS = 1024;

const NO_PHASE = 0xff;
/** After a restart, the transfers their lock settled here within this many final heights are watched again (phases.ts). */
export { SETTLED_REWATCH_HEIGHTS } from "./phases.js";
/** The longest wait between two rounds for one transfer. */
export const MAX_RETRY_MS = 8_000;
/** Transfers one watcher acts on per round: what it adds to a loaded shard is bounded. */
export const MAX_TRANSFERS_PER_ROUND = 64;
const ANSWER_CODES = singleCode<"ATOMIX_BAD_MESSAGE">("ATOMIX_BAD_MESSAGE");

export interface AtomixWatcherOptions {
  readonly self: Uint8Array;
  readonly shard: number;
  readonly context: EpochContext;
  readonly transport: Transport;
  readonly clock: Clock;
  /** The own shard's final chain: where it left a cross-shard transfer. */
  readonly phaseOf: (crossTxid: Uint8Array) => { readonly phase: AtomixPhase; readonly proof: Uint8Array | undefined } | undefined;
  /** Submits a transaction to the own shard, as a client would (the pipeline validates it). */
  readonly submit: (tx: Uint8Array) => void;
  /** Whether the own shard already holds a transaction (pending, optimistic or final): not submitted again. */
  readonly holds: (txid: Uint8Array) => boolean;
  readonly verifier: DecisionVerifier;
  /** How long a lock is left to its client before the watchers act. */
  readonly graceMs: number;
  /** Between the first two rounds of queries and submissions; each later wait doubles, up to MAX_RETRY_MS. */
  readonly retryMs: number;
}

interface Watched {
  readonly txid: Uint8Array;
  /** The signed transfer, as the own shard's final block holds it. */
  readonly x: Uint8Array;
  readonly unsigned: Uint8Array;
  /** The shards X touches and its input shards, distinct, ascending (one SHA-256 per owner, once per watch). */
  readonly shards: readonly number[];
  readonly inputShards: readonly number[];
  /** Whether the own shard's final chain committed X: set once known ("committed" is never left), so notices need no store read. */
  committedHere: boolean;
  readonly since: number;
  /** Rounds run so far, and when the next one is due (exponential backoff). */
  rounds: number;
  nextRoundAt: number;
  readonly proofs: Map<number, Uint8Array>;
  /** Per other shard, the members that answered "committed". */
  readonly committed: Map<number, Set<PeerId>>;
  /** Other shards already asked whether they committed: those still short of f + 1 "committed" get the unlock. */
  readonly asked: Set<number>;
}

export interface AtomixWatcherStats {
  queries: number;
  answers: number;
  /** Unlocks this watcher submitted to its own shard. */
  unlocks: number;
  /** Transactions other shards' watchers handed to this one's shard. */
  relayed: number;
  /** Transfers whose watch ended on f + 1 "committed" notices of every other shard, without a round. */
  noticed: number;
  /** Messages refused: malformed, or carrying what a watcher does not relay (a query about anything but a cross-shard transfer, a submission of anything but an unlock). */
  malformed: number;
}

export class AtomixWatcher {
  readonly stats: AtomixWatcherStats = { queries: 0, answers: 0, unlocks: 0, relayed: 0, noticed: 0, malformed: 0 };
  readonly #watched = new Map<string, Watched>();
  readonly #channels: Channel[];
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(private readonly options: AtomixWatcherOptions) {
    const { context, transport, shard } = options;
    this.#channels = Array.from({ length: context.shardCount }, (_, k) => transport.open({ protocol: "atomix", shard: k, epoch: context.epoch }));
    const guard = (handler: (from: PeerId, payload: Uint8Array) => void) => guardedHandler(() => this.#stopped, () => this.stats.malformed++, handler);
    const own = this.#channels[shard]!;
    own.on(ATOMIX_MESSAGES.QUERY, guard((from, payload) => this.#answerQuery(from, payload)));
    own.on(ATOMIX_MESSAGES.SUBMIT, guard((from, payload) => this.#relaySubmission(from, payload)));
    this.#channels.forEach((channel, k) => {
      if (k === shard) return;
      channel.on(ATOMIX_MESSAGES.ANSWER, guard((from, payload) => this.#receiveAnswer(k, from, payload)));
      channel.on(ATOMIX_MESSAGES.COMMITTED, guard((from, payload) => this.#receiveNotice(k, from, payload)));
    });
  }

  /**
   * A final height of the own shard moved these decisions (`included`: its included
   * transactions, where each applied decision's transaction lies): for the unlocks-to-commit
   * among them that this member ranks among the 2f + 1 first for, the acting members of each
   * other input shard of their transfers are told, in one message per member (module doc, notice).
   */
  noticeCommitted(decisions: readonly AtomixDecision[], included: readonly Uint8Array[]): void {
    if (this.#stopped) return;
    const own = this.options.context.members(this.options.shard);
    const self = own.findIndex((key) => sameBytes(key, this.options.self));
    const byShard = new Map<number, Uint8Array[]>();
    // The input shards of the transfers each applied unlock commits (a batch's share one: the shard that settled them all).
    const inputShardsAt = new Map<number, number[]>();
    for (const decision of decisions) {
      if (decision.phase !== "committed" || isLockDecision(decision) || decision.position === undefined) continue;
      // Its other shards' notices may have come first: the own commit completes the watch.
      const key = toHex(decision.crossTxid);
      const watched = this.#watched.get(key);
      if (watched !== undefined) {
        watched.committedHere = true;
        if (this.#confirmedElsewhere(watched)) this.#endByNotices(key);
      }
      // f + 1 notices end a watch: 2f + 1 senders bring them whatever f members do.
      if (self < 0 || ranksBefore(own, decision.crossTxid, self) > 2 * faultsOf(own.length)) continue;
      // A final height's unlock: X is read in place (its block's checks passed), only its inputs' owners hashed.
      let inputShards = inputShardsAt.get(decision.position);
      if (inputShards === undefined) {
        const unlock = included[decision.position]!;
        const cross = unlock[TX_PREFIX.offset.kind] === TxKind.AtomixUnlockBatch ? atomixUnlockBatchFirstCross(unlock) : atomixUnlockCross(unlock);
        inputShards = distinctShards(crossShardInputShards(cross, this.options.context.shardCount));
        inputShardsAt.set(decision.position, inputShards);
      }
      for (const k of inputShards) {
        if (k === this.options.shard) continue;
        const list = byShard.get(k);
        if (list === undefined) byShard.set(k, [decision.crossTxid]);
        else list.push(decision.crossTxid);
      }
    }
    for (const [k, txids] of byShard) {
      // Each member hears of the transfers it acts on only: no other member of shard k watches them.
      const members = this.options.context.members(k);
      const faults = faultsOf(members.length);
      members.forEach((member, i) => {
        const acted = txids.filter((txid) => ranksBefore(members, txid, i) <= faults);
        for (let at = 0; at < acted.length; at += MAX_NOTICE_TXIDS) {
          const chunk = acted.slice(at, at + MAX_NOTICE_TXIDS);
          const writer = BinaryWriter.ofSize(2 + chunk.length * TXID_BYTES).u16(chunk.length);
          for (const txid of chunk) writer.bytes(txid);
          this.#channels[this.options.shard]!.send(toHex(member), ATOMIX_MESSAGES.COMMITTED, writer.finish());
        }
      });
    }
  }

  /**
   * Watches a lock the own shard's final chain holds (`x`: the signed transfer, `txid` its txid);
   * `committed` when that chain already committed X (its lock settled it).
   */
  watch(x: Uint8Array, txid: Uint8Array, committed = false): void {
    // Most locks are other members' to act on: that is decided first, before any copy or hex key.
    if (this.#stopped || !this.#acts(txid)) return;
    const key = toHex(txid);
    if (this.#watched.has(key)) return;
    // X as the own final chain holds it: its scan passed there.
    const unsigned = Uint8Array.from(crossShardTransferUnsigned(x));
    this.#watched.set(key, {
      txid, x: Uint8Array.from(x), unsigned, ...crossShardTransferShardSets(unsigned, this.options.context.shardCount),
      committedHere: committed, since: this.options.clock.now(), rounds: 0, nextRoundAt: 0, proofs: new Map(), committed: new Map(), asked: new Set(),
    });
    this.#timer ??= this.options.clock.setTimer(this.options.retryMs, () => this.#tick());
  }

  /** Transfers being watched. */
  get watching(): number {
    return this.#watched.size;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.options.clock.cancelTimer(this.#timer);
    this.#timer = undefined;
    for (const channel of this.#channels) channel.close();
  }

  /** Whether this member is among the f + 1 that act for `txid` (module doc). */
  #acts(txid: Uint8Array): boolean {
    return isActingMember(this.options.context.members(this.options.shard), txid, this.options.self);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const now = this.options.clock.now();
    let acted = 0;
    for (const [key, watched] of this.#watched) {
      // A bounded number of transfers per round, oldest first: the rest wait for the next.
      if (acted >= MAX_TRANSFERS_PER_ROUND) break;
      if (now - watched.since < this.options.graceMs || now < watched.nextRoundAt) continue;
      acted++;
      if (!this.#round(watched)) {
        this.#watched.delete(key);
        continue;
      }
      // Backing off keeps a loaded shard from being flooded with the same unlocks every second.
      watched.nextRoundAt = now + Math.min(this.options.retryMs * 2 ** watched.rounds, MAX_RETRY_MS);
      watched.rounds++;
    }
    if (this.#watched.size > 0) this.#timer = this.options.clock.setTimer(this.options.retryMs, () => this.#tick());
  }

  /** One round for one transfer (module doc); false once nothing is left to do. */
  #round(watched: Watched): boolean {
    const { shard, context } = this.options;
    const here = this.options.phaseOf(watched.txid);
    if (here === undefined || here.phase === "aborted" || here.phase === "refused") return false;
    const { shards, inputShards } = watched;
    const coordinates = coordinatorShard(watched.unsigned, context.shardCount) === shard;
    if (here.proof !== undefined) watched.proofs.set(shard, here.proof);
    if (here.phase === "committed") {
      if (!coordinates) return false;
      const waiting = shards.filter((k) => k !== shard && (watched.committed.get(k)?.size ?? 0) <= faultsOf(context.members(k).length));
      if (waiting.length === 0) return false;
      let unlock: ReturnType<typeof unlockFor> | null = null;
      for (const k of waiting) {
        if (!watched.asked.has(k)) {
          // Asked first, and only its f + 1 members ranked first: a shard that already committed (its client delivered) costs
          // f + 1 queries, not an unlock per member; a shard short of f + 1 "committed" answers is asked in full next round.
          this.#sendToShard(k, ATOMIX_MESSAGES.QUERY, watched.x, watched.txid, "ranked");
          watched.asked.add(k);
          continue;
        }
        unlock ??= unlockFor(watched.unsigned, watched.proofs, context.shardCount);
        if (unlock?.kind === "commit") this.#sendToShard(k, ATOMIX_MESSAGES.SUBMIT, unlock.bytes, watched.txid);
        this.#sendToShard(k, ATOMIX_MESSAGES.QUERY, watched.x, watched.txid);
      }
      return true;
    }
    for (const k of inputShards) if (!watched.proofs.has(k)) this.#sendToShard(k, ATOMIX_MESSAGES.QUERY, watched.x, watched.txid);
    const unlock = unlockFor(watched.unsigned, watched.proofs, context.shardCount);
    if (unlock !== undefined) {
      if (!this.options.holds(atomixUnlockTxid(unlock.kind === "commit" ? TxKind.AtomixUnlockCommit : TxKind.AtomixUnlockAbort, watched.unsigned))) {
        this.stats.unlocks++;
        this.options.submit(unlock.bytes);
      }
      if (coordinates) for (const k of unlock.kind === "commit" ? shards : inputShards) if (k !== shard) this.#sendToShard(k, ATOMIX_MESSAGES.SUBMIT, unlock.bytes, watched.txid);
    }
    return true;
  }

  /**
   * A query goes to every member of shard k (f + 1 answers count), or to its f + 1 members ranked
   * first for `txid` (`to` "ranked": a first ask whose answers are all expected to agree); an
   * unlock to its f + 1 ranked members, one of them honest.
   */
  #sendToShard(k: number, type: number, payload: Uint8Array, txid: Uint8Array, to: "all" | "ranked" = type === ATOMIX_MESSAGES.QUERY ? "all" : "ranked"): void {
    if (type === ATOMIX_MESSAGES.QUERY) this.stats.queries++;
    const members = this.options.context.members(k);
    this.#channels[k]!.broadcast((to === "all" ? members : actingMembers(members, txid)).map(toHex), type, payload);
  }

  /** A member of another shard asks where this shard left X: answer, and submit X here if this shard holds inputs of it and never saw it. */
  #answerQuery(from: PeerId, x: Uint8Array): void {
    if (this.options.context.shardOf(Buffer.from(from, "hex")) === undefined) return;
    // Only a well-formed cross-shard transfer is asked about: anything else is dropped and counted.
    const unsigned = this.#crossShardTransferOf(x);
    if (unsigned === undefined) return;
    const txid = sha256(unsigned);
    const here = this.options.phaseOf(txid);
    if (here === undefined && crossShardInputShards(unsigned, this.options.context.shardCount).includes(this.options.shard)) {
      this.stats.relayed++;
      this.options.submit(Uint8Array.from(x));
    }
    const proof = here?.proof ?? new Uint8Array(0);
    const answer = BinaryWriter.ofSize(TXID_BYTES + 1 + 2 + proof.length).bytes(txid).u8(here === undefined ? NO_PHASE : encodeAtomixPhase(here.phase)).lengthPrefixed("u16", proof).finish();
    this.#channels[this.options.shard]!.send(from, ATOMIX_MESSAGES.ANSWER, answer);
  }

  /** An unlock another shard's watcher sends this shard: submitted here like a client's (the shard checks its proofs). */
  #relaySubmission(from: PeerId, tx: Uint8Array): void {
    if (this.options.context.shardOf(Buffer.from(from, "hex")) === undefined) return;
    // Watchers hand over unlocks only: a peer cannot make every member submit whatever it likes.
    const kind = tx[TX_PREFIX.offset.kind];
    if (tx.length < TX_PREFIX.bytes || (kind !== TxKind.AtomixUnlockCommit && kind !== TxKind.AtomixUnlockAbort)) {
      this.stats.malformed++;
      return;
    }
    const txid = transactionIdIfWellFormed(tx);
    if (txid === undefined) {
      this.stats.malformed++;
      return;
    }
    if (this.options.holds(txid)) return;
    this.stats.relayed++;
    this.options.submit(Uint8Array.from(tx));
  }

  /** The unsigned encoding of `x` if it is a well-formed cross-shard transfer; else counted as malformed. */
  #crossShardTransferOf(x: Uint8Array): Uint8Array | undefined {
    try {
      if (x[TX_PREFIX.offset.kind] !== TxKind.AtomixLock) throw new IosError<LedgerErrorCode>("TX_UNKNOWN_KIND", "not a cross-shard transfer");
      return x.subarray(0, scanTransaction(x).unsignedEnd);
    } catch (error) {
      if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
      this.stats.malformed++;
      return undefined;
    }
  }

  /**
   * Shard `k`'s member says its shard committed these transfers: counted like its "committed"
   * answers; a watched transfer that every other shard it touches confirmed this way, f + 1
   * members each, and that the own shard committed, is no longer watched.
   */
  #receiveNotice(k: number, from: PeerId, payload: Uint8Array): void {
    if (this.options.context.shardOf(Buffer.from(from, "hex")) !== k) return;
    const reader = new BinaryReader(payload, ANSWER_CODES);
    const count = reader.u16("count");
    if (count > MAX_NOTICE_TXIDS) reader.fail("ATOMIX_BAD_MESSAGE", `a notice lists at most ${MAX_NOTICE_TXIDS} transfers, got ${count}`);
    const txids = reader.bytes(count * TXID_BYTES, "txids");
    reader.expectEnd("the txids");
    for (let at = 0; at < txids.length; at += TXID_BYTES) {
      const key = toHex(txids.subarray(at, at + TXID_BYTES));
      const watched = this.#watched.get(key);
      if (watched === undefined) continue;
      this.#countCommitted(watched, k, from);
      if (this.#confirmedElsewhere(watched) && this.#committedHere(watched)) this.#endByNotices(key);
    }
  }

  /** Whether f + 1 members of every other shard X touches said they committed it. */
  #confirmedElsewhere(watched: Watched): boolean {
    const { shard, context } = this.options;
    return watched.shards.every((k) => k === shard || (watched.committed.get(k)?.size ?? 0) > faultsOf(context.members(k).length));
  }

  /** Whether the own shard's final chain committed X (read from the store until it did). */
  #committedHere(watched: Watched): boolean {
    watched.committedHere ||= this.options.phaseOf(watched.txid)?.phase === "committed";
    return watched.committedHere;
  }

  #endByNotices(key: string): void {
    this.#watched.delete(key);
    this.stats.noticed++;
  }

  #countCommitted(watched: Watched, k: number, from: PeerId): void {
    const members = watched.committed.get(k) ?? new Set<PeerId>();
    members.add(from);
    watched.committed.set(k, members);
  }

  /** Shard `k`'s member answers a query: keep a proof that verifies as shard k's, count a "committed". */
  #receiveAnswer(k: number, from: PeerId, payload: Uint8Array): void {
    if (this.options.context.shardOf(Buffer.from(from, "hex")) !== k) return;
    const reader = new BinaryReader(payload, ANSWER_CODES);
    const txid = reader.bytes(TXID_BYTES, "txid");
    const phaseByte = reader.u8("phase");
    const proof = reader.lengthPrefixed("u16", MAX_DECISION_PROOF_BYTES, "proof");
    reader.expectEnd("the proof");
    const watched = this.#watched.get(toHex(txid));
    if (watched === undefined || (phaseByte !== NO_PHASE && phaseByte >= ATOMIX_PHASES.length)) return;
    this.stats.answers++;
    if (proof.length > 0 && !watched.proofs.has(k)) {
      try {
        if (this.options.verifier.verify(proof, watched.txid).shard === k) {
          watched.proofs.set(k, Uint8Array.from(proof));
          // Progress (at most one proof per shard): the next round acts at once, with short waits again.
          watched.rounds = 0;
          watched.nextRoundAt = 0;
        }
      } catch (error) {
        if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
      }
    }
    if (phaseByte !== NO_PHASE && decodeAtomixPhase(phaseByte) === "committed") this.#countCommitted(watched, k, from);
  }
}

/** The f + 1 members of a shard ranked first for `txid` (`rankedMembers`): one of them is honest. */
export function actingMembers(members: readonly Uint8Array[], txid: Uint8Array): Uint8Array[] {
  return rankedMembers(members, txid).slice(0, faultsOf(members.length) + 1);
}

/** A shard's members in their order for `txid`: u32 of txid XOR u32 of key, then the key. */
export function rankedMembers(members: readonly Uint8Array[], txid: Uint8Array): Uint8Array[] {
  const prefix = readU32(txid, 0);
  return members.map((key) => ({ key, rank: (readU32(key, 0) ^ prefix) >>> 0 })).sort((a, b) => a.rank - b.rank || Buffer.compare(a.key, b.key)).map(({ key }) => key);
}

/**
 * Whether `self` is among `actingMembers(members, txid)`, without ranking or allocating: it is iff
 * it is a member and fewer than f + 1 members rank before it (every member's lock asks this).
 */
export function isActingMember(members: readonly Uint8Array[], txid: Uint8Array, self: Uint8Array): boolean {
  const at = members.findIndex((key) => sameBytes(key, self));
  return at >= 0 && ranksBefore(members, txid, at) <= faultsOf(members.length);
}

/** How many members rank before member `at` for `txid` (`rankedMembers`' order). */
function ranksBefore(members: readonly Uint8Array[], txid: Uint8Array, at: number): number {
  const prefix = readU32(txid, 0);
  const self = members[at]!;
  const rank = (readU32(self, 0) ^ prefix) >>> 0;
  let before = 0;
  for (const key of members) {
    const other = (readU32(key, 0) ^ prefix) >>> 0;
    if (other < rank || (other === rank && Buffer.compare(key, self) < 0)) before++;
  }
  return before;
}

/** Distinct shards of a list, in order of first appearance. */
function distinctShards(shards: readonly number[]): number[] {
  return [...new Set(shards)];
}

/** f of a shard of n members: ⌊(n − 1) / 3⌋. */
function faultsOf(n: number): number {
  return Math.floor((n - 1) / 3);
}
