/**
 * Fast bootstrap (white paper §8): download one section of a trusted MSB (./chunks.ts MsbSection:
 * the UTXO body, or the decisions) from untrusted sources, chunk by chunk, each chunk checked on
 * arrival against the header's root of that section with its range proof (./range.ts), and return
 * the leaves ready for the UTXO table (or the Atomix phase table) and the store.
 *
 * Trust: the caller certified the header (its hash is co-signed in the MSB chain); everything a
 * source sends is checked against it, so the body returned is the header's body or the call fails.
 *
 * Phases of `fetchMsbBody`:
 *   1. plan     ⌈count / MSB_CHUNK_ENTRIES⌉ chunks of the section, queued in order; a buffer of
 *               count × leaf bytes (76 for UTXO entries, 33 for decisions; count and root: the header's);
 *   2. request  at most `maxInFlight` chunks at once, each to the next source not marked bad
 *               (round robin, so the load spreads), each with a timeout on the injected `Clock`;
 *   3. verify   per answer: strict decode, the answer names the asked (section, shard, epoch, header
 *               hash, chunk), status OK, exactly the chunk's entry count, the range proof leads to the
 *               root (MSB_BAD_CHUNK, MSB_CHUNK_REFUSED); a timeout is MSB_CHUNK_TIMEOUT, a
 *               transport failure MSB_SOURCE_FAILED. Any of them marks the source bad for this
 *               fetch (recorded with its code) and puts the chunk back at the queue's head for
 *               the next source; a verified chunk is copied into the body, whoever sent it;
 *   4. finish   when every chunk is in: the count is the header's by construction (each chunk
 *               had exactly its range's entries); UTXOs: the supply (Σ amounts) must be the
 *               header's (MSB_STATE_MISMATCH; the root binds the entries, so only a header that
 *               lies about its supply fails here); decisions: strictly ascending cross txids and
 *               known phases (./decisions.ts; MSB_STATE_MISMATCH: only a header no honest replica
 *               built fails here). When no source is left with chunks missing: MSB_NO_SOURCE,
 *               its detail the report (every source's code).
 *
 * Sources are whatever the caller's `ChunkSource` names (peer ids over a transport channel, a
 * simulated peer, an in-process server): the fetcher sees only `request(source, request) →
 * Promise<answer bytes>`. Late answers (after their timeout, or after the fetch ended) are
 * ignored. Nothing here reads a real clock or randomness, so a simulated run replays from its seed.
 */
import { IosError, hasCodeIn } from "../errors.js";
import { sameBytes } from "../bytes.js";
import type { Clock, TimerHandle } from "../runtime/interface.js";
import { msbHeaderHash } from "./header.js";
import { MSB_ERROR_CODES, type MsbErrorCode, type MsbHeader } from "./interface.js";
import { ChunkStatus, MsbSection, chunkCount, chunkRange, decodeChunkAnswer, sectionOf, type ChunkRequest } from "./chunks.js";
import { checkDecisions } from "./decisions.js";
import { verifyRange } from "./range.js";
import { supplyOf } from "./snapshot.js";

/**
 * How long one chunk request may take: a full chunk (2.4 MiB) over an 8 Mbit/s link takes about
 * 2.5 s; twice that before the source counts as silent.
 */
export const MSB_CHUNK_TIMEOUT_MS = 5_000;
/**
 * Chunk requests outstanding at once: enough to keep a link busy while the previous answer is
 * hashed, and a bound on unverified answers held (4 × 2.4 MiB).
 */
export const MSB_CHUNKS_IN_FLIGHT = 4;

/** How the fetcher reaches sources: a transport channel, the simulator, an in-process server. */
export interface ChunkSource<Source> {
  /** The encoded answer of `source` to `request`; may never settle (the fetcher times out). */
  request(source: Source, request: ChunkRequest): Promise<Uint8Array>;
  /** The fetcher no longer waits for this answer (timed out, or the fetch ended): free what waits for it. */
  cancel?(source: Source, request: ChunkRequest): void;
}

export interface BootstrapOptions<Source> {
  /** The MSB header whose hash the caller has certified. */
  readonly header: MsbHeader;
  /** Which of its trees to download (its leaf count and root are the header's). */
  readonly section: MsbSection;
  readonly sources: readonly Source[];
  readonly network: ChunkSource<Source>;
  readonly clock: Clock;
  /** A source's name in the report and in error details (default String(source)). */
  readonly nameOf?: (source: Source) => string;
  readonly timeoutMs?: number;
  readonly maxInFlight?: number;
}

/** What one source did during a fetch. */
export interface SourceReport {
  readonly source: string;
  /** Chunks it sent that verified and were kept. */
  readonly chunks: number;
  /** Bytes of its answers that arrived in time (valid or not). */
  readonly bytes: number;
  /** Chunks it refused (UNKNOWN_MSB or OUT_OF_RANGE answers). */
  readonly refusals: number;
  /** Why it was marked bad, if it was. */
  readonly dropped?: { readonly code: MsbErrorCode; readonly message: string; readonly chunk: number };
}

export interface BootstrapReport {
  readonly chunks: number;
  /** Answer bytes received in time from every source, valid or not. */
  readonly bytes: number;
  /** The section's own size (count × leaf bytes): bytes / entryBytes is the protocol's overhead. */
  readonly entryBytes: number;
  readonly requests: number;
  /** On the injected clock, from the call to the end. */
  readonly elapsedMs: number;
  readonly sources: readonly SourceReport[];
}

export interface BootstrappedBody {
  /** Packed leaves (76-byte entries in outpoint order, or 33-byte decisions in cross txid order): exactly the header's. */
  readonly entries: Uint8Array;
  readonly count: number;
  /** Σ amounts of a UTXO body; 0 for the decisions. */
  readonly supply: bigint;
  readonly report: BootstrapReport;
}

interface SourceState<Source> {
  readonly source: Source;
  readonly name: string;
  chunks: number;
  bytes: number;
  refusals: number;
  dropped?: { code: MsbErrorCode; message: string; chunk: number };
}

/** Downloads and verifies one section of `header` from `sources` (see the module doc for the phases); bad arguments reject with MSB_BAD_INPUT. */
export async function fetchMsbBody<Source>(options: BootstrapOptions<Source>): Promise<BootstrappedBody> {
  return new BodyFetch(options).run();
}

class BodyFetch<Source> {
  private readonly header: MsbHeader;
  private readonly section: MsbSection;
  private readonly entryBytes: number;
  private readonly count: number;
  private readonly root: Uint8Array;
  private readonly headerHash: Uint8Array;
  private readonly body: Uint8Array;
  private readonly total: number;
  private readonly queue: number[];
  private readonly states: SourceState<Source>[];
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  /** Requests awaiting their answer, with their timeout. */
  private readonly waiting = new Map<TimerHandle, { source: Source; request: ChunkRequest }>();
  private readonly startedAt: number;
  private next = 0;
  private inFlight = 0;
  private received = 0;
  private requests = 0;
  private bytes = 0;
  private finished = false;
  private resolve!: (body: BootstrappedBody) => void;
  private reject!: (error: unknown) => void;

  constructor(private readonly options: BootstrapOptions<Source>) {
    const { header, sources } = options;
    const badInput = (message: string) => new IosError<MsbErrorCode>("MSB_BAD_INPUT", message);
    if (!Array.isArray(sources)) throw badInput("sources are an array");
    this.timeoutMs = options.timeoutMs ?? MSB_CHUNK_TIMEOUT_MS;
    this.maxInFlight = options.maxInFlight ?? MSB_CHUNKS_IN_FLIGHT;
    if (!(this.timeoutMs > 0) || !Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) throw badInput("a positive timeout and at least one chunk in flight");
    if (!(Object.values(MsbSection) as unknown[]).includes(options.section)) throw badInput(`unknown MSB section ${String(options.section)}`);
    this.header = header;
    this.section = options.section;
    ({ entryBytes: this.entryBytes, count: this.count, root: this.root } = sectionOf(header, options.section));
    this.headerHash = msbHeaderHash(header);
    this.body = new Uint8Array(this.count * this.entryBytes);
    this.total = chunkCount(this.count);
    this.queue = Array.from({ length: this.total }, (_, chunk) => chunk);
    const nameOf = options.nameOf ?? String;
    this.states = sources.map((source) => ({ source, name: nameOf(source), chunks: 0, bytes: 0, refusals: 0 }));
    // A source listed twice would get a second chance after being marked bad.
    if (new Set(this.states.map((state) => state.name)).size !== this.states.length) throw badInput("every source is listed once");
    this.startedAt = options.clock.now();
  }

  run(): Promise<BootstrappedBody> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.pump();
    });
  }

  /** Launches requests up to the bound; finishes when every chunk is in or no source is left. */
  private pump(): void {
    if (this.finished) return;
    if (this.received === this.total) return this.finish();
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const state = this.nextSource();
      if (state === undefined) {
        if (this.inFlight === 0) this.fail(new IosError<MsbErrorCode, { report: BootstrapReport }>("MSB_NO_SOURCE",
          `every source was marked bad with ${this.total - this.received} of ${this.total} chunks missing`, { report: this.report() }));
        return;
      }
      this.launch(state, this.queue.shift()!);
    }
  }

  private nextSource(): SourceState<Source> | undefined {
    for (let tried = 0; tried < this.states.length; tried++) {
      const state = this.states[this.next]!;
      this.next = (this.next + 1) % this.states.length;
      if (state.dropped === undefined) return state;
    }
    return undefined;
  }

  private launch(state: SourceState<Source>, chunk: number): void {
    const request: ChunkRequest = { section: this.section, shard: this.header.shard, epoch: this.header.epoch, headerHash: this.headerHash, chunk };
    let settled = false;
    this.inFlight++;
    this.requests++;
    const settle = (): boolean => {
      if (settled || this.finished) return false;
      settled = true;
      this.inFlight--;
      this.options.clock.cancelTimer(timer);
      this.waiting.delete(timer);
      return true;
    };
    const timer = this.options.clock.setTimer(this.timeoutMs, () => {
      if (!settle()) return;
      this.options.network.cancel?.(state.source, request);
      this.dropSource(state, chunk, "MSB_CHUNK_TIMEOUT", `no answer within ${this.timeoutMs} ms`);
    });
    this.waiting.set(timer, { source: state.source, request });
    let answer: Promise<Uint8Array>;
    try {
      answer = this.options.network.request(state.source, request);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (bytes) => {
        if (!settle()) return;
        try {
          this.accept(state, chunk, bytes);
        } catch (error) {
          if (!hasCodeIn(error, MSB_ERROR_CODES)) throw error;
          return this.dropSource(state, chunk, error.code, error.message);
        }
        this.pump();
      },
      (error: unknown) => {
        if (settle()) this.dropSource(state, chunk, "MSB_SOURCE_FAILED", error instanceof Error ? error.message : String(error));
      },
    ).catch((error: unknown) => this.fail(error));
  }

  /** Marks the source bad, requeues the chunk first, and goes on with the others. */
  private dropSource(state: SourceState<Source>, chunk: number, code: MsbErrorCode, message: string): void {
    state.dropped ??= { code, message, chunk };
    this.queue.unshift(chunk);
    this.pump();
  }

  /** Verifies one answer and copies its entries into the body; an MSB_* error says why not. */
  private accept(state: SourceState<Source>, chunk: number, bytes: Uint8Array): void {
    const bad = (message: string, cause?: string): never => {
      throw new IosError<MsbErrorCode>("MSB_BAD_CHUNK", `source ${state.name}, chunk ${chunk}: ${message}`, { source: state.name, chunk, cause });
    };
    if (!(bytes instanceof Uint8Array)) bad("the answer is not bytes");
    state.bytes += bytes.length;
    this.bytes += bytes.length;
    let answer;
    try {
      answer = decodeChunkAnswer(bytes);
    } catch (error) {
      if (!hasCodeIn(error, MSB_ERROR_CODES)) throw error;
      return bad(error.message, error.code);
    }
    if (answer.section !== this.section || answer.shard !== this.header.shard || answer.epoch !== this.header.epoch || answer.chunk !== chunk || !sameBytes(answer.headerHash, this.headerHash)) {
      bad(`answers chunk ${answer.chunk} of section ${answer.section}, shard ${answer.shard}, epoch ${answer.epoch}; asked chunk ${chunk} of section ${this.section}, shard ${this.header.shard}, epoch ${this.header.epoch} (or another header)`);
    }
    if (answer.status !== ChunkStatus.Ok) {
      state.refusals++;
      throw new IosError<MsbErrorCode>("MSB_CHUNK_REFUSED", `source ${state.name} refused chunk ${chunk} (status ${answer.status})`, { source: state.name, chunk, status: answer.status });
    }
    const { entryBytes } = this;
    const { start, end } = chunkRange(this.count, chunk);
    if (answer.entries.length !== (end - start) * entryBytes) bad(`${answer.entries.length / entryBytes} entries, the chunk has ${end - start}`);
    try {
      verifyRange(this.root, this.count, start, answer.entries, entryBytes, answer.hashes);
    } catch (error) {
      if (!hasCodeIn(error, MSB_ERROR_CODES)) throw error;
      bad(error.message, error.code);
    }
    this.body.set(answer.entries, start * entryBytes);
    state.chunks++;
    this.received++;
  }

  private finish(): void {
    const { count } = this;
    // The count holds by construction: every chunk was accepted with exactly its range's entries.
    let supply = 0n;
    if (this.section === MsbSection.Utxos) {
      supply = supplyOf(this.body, count);
      if (supply !== this.header.supply) {
        return this.fail(new IosError<MsbErrorCode>("MSB_STATE_MISMATCH", `the body holds supply ${supply}, the header states ${this.header.supply}`));
      }
    } else {
      try {
        checkDecisions(this.body);
      } catch (error) {
        if (!hasCodeIn(error, MSB_ERROR_CODES)) throw error;
        return this.fail(new IosError<MsbErrorCode>("MSB_STATE_MISMATCH", `the header's decisions are not a phase table: ${error.message}`, { cause: error.code }));
      }
    }
    this.end();
    this.resolve({ entries: this.body, count, supply, report: this.report() });
  }

  private fail(error: unknown): void {
    if (this.finished) return;
    this.end();
    this.reject(error);
  }

  private end(): void {
    this.finished = true;
    for (const [timer, { source, request }] of this.waiting) {
      this.options.clock.cancelTimer(timer);
      this.options.network.cancel?.(source, request);
    }
    this.waiting.clear();
  }

  private report(): BootstrapReport {
    return {
      chunks: this.total, bytes: this.bytes, entryBytes: this.body.length, requests: this.requests,
      elapsedMs: this.options.clock.now() - this.startedAt,
      sources: this.states.map(({ name, chunks, bytes, refusals, dropped }) => ({ source: name, chunks, bytes, refusals, ...(dropped ? { dropped: { ...dropped } } : {}) })),
    };
  }
}
