/**
 * `ShardSync`: serves one shard state's certified final blocks to peers, and brings that state up
 * to a target height from peers, verifying every height before it is applied (phases and message
 * layout: interface.ts, codec.ts).
 *
 * Verification of height h (`verifyFinalHeight`), against nothing but the committee directory,
 * the epoch length and the local tip — each failure a typed code that drops the source:
 *   1. the certificate verifies against the committee of (epoch, shard, batch) it names, and that is
 *      (⌊(h − 1)/L⌋, this shard) at BFT height h − epoch·L (SYNC_BAD_CERTIFICATE, _MISPLACED);
 *   1b. its batch is the walk's (src/epoch/transepoch/walk.ts: 0 at the epoch's first height, the
 *      batch of h − 1 or the one h − 1's swap-in moved to, B at the epoch's last), and a swap-in
 *      it carries passes `checkSwapIn` with this replica's commitments (SYNC_BAD_BATCH);
 *   2. its previous commitment is the tip's (SYNC_COMMITMENT_BREAK);
 *   3. the proposal sent is the certified one (its digest is the certificate's body digest,
 *      SYNC_BAD_PROPOSAL); the block is the Final block of h, of that epoch and shard, linked to
 *      the tip and to the certified previous block hash (its header's root is its txids', decodeBlock), with the proposal's timestamp and
 *      proposer, sealed with the certificate's commit certificate (SYNC_BAD_BLOCK);
 *   4. its txids are the certified included list, the rejections sent the certified excluded
 *      list, by RFC 6962 root and count (SYNC_INCLUDED_MISMATCH, SYNC_EXCLUDED_MISMATCH), and its
 *      header's body root is the certified one (SYNC_BODY_ROOT_MISMATCH; decodeBlock checked the
 *      body against the header): with the linkage, proposal and seal of step 3 every byte of the
 *      block is the shard's, the anchor's too (its previous hash is the certified previous block
 *      hash, step 3), so its hash is the one every replica holds;
 *   5. the phase writes sent are those its transactions decide (`atomixWritesOf`, SYNC_BAD_ATOMIX);
 *   6. every transaction passes stateless checks and applies (SYNC_APPLY_FAILED), and the UTXO
 *      supply and count after it are the certified ones (SYNC_STATE_MISMATCH), and so is the MSB
 *      header hash: at an epoch's last height the one of the MSB built from the state after it
 *      (src/node/msb.ts), zero elsewhere (SYNC_MSB_MISMATCH); otherwise the table's writes are
 *      undone and nothing is stored.
 *   Signatures are not verified: the certified body root binds them as the committee executed
 *   them, and a final block may hold an unsampled forgery (PoB samples) that every replica keeps
 *   and later re-checks: refusing it would leave a joiner without a source.
 * Then the height is
 * committed in one durable transaction with what its store keeps: certificate, rejections, phase
 * writes with the proofs this replica cuts from the certificate itself, change proofs, and at an
 * epoch's end the MSB header and body.
 *
 * To a batch of a move (TransEpoch, `untilBatch`): a validator entering an epoch's committee in
 * another shard, or behind, syncs up to the height whose certified swap-in moved the shard's
 * committee to batch `untilBatch` or past it (B: the move's end, the last batch's swap-in or the
 * forced end, src/epoch/transepoch/move-rule.ts, where the epoch's own committee takes over; a
 * joiner's own batch, where it takes its seat). That height is not known in advance: a source
 * lacking the next height is asked again after SYNC_BUSY_BACKOFF_MS (it is not dropped: the shard
 * has not decided it yet), and the sync stops after applying that height.
 *
 * API: `new ShardSync(options)`, `sync(target, sources, { untilBatch }): Promise<SyncReport>`, `close()`, `served`.
 */
import { DECISIVE_CODES, FINAL_CHAIN_DECISIONS, FinalHeightProver, certifiedProposalOf, decodeFinalHeightCertificate, verifyFinalHeightCertificate, type CertifiedHeight } from "../../atomix/proof.js";
import { crossTxidsOfRecord, encodeAtomixPhase, isAtomixKind, phaseAfter } from "../../atomix/phases.js";
import { sameBytes } from "../../bytes.js";
import { codedTxidLeaf } from "../../codec/coded-txids.js";
import { HASH_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { merkleRoot, merkleRootOfPackedLeaves } from "../../crypto/merkle.js";
import { IosError, check, hasCodeIn } from "../../errors.js";
import { toHex } from "../../hex.js";
import { BlockKind, decodeBlock, type DecodedBlock } from "../../ledger/block.js";
import { decodeProposal, proposalBodyDigest } from "../../consensus/pob/proposal.js";
import { recordLockSettles } from "../../ledger/kinds/atomix-record.js";
import { TX_PREFIX, TxKind } from "../../ledger/kinds/interface.js";
import { RecordCursor } from "../../ledger/records.js";
import { validateStateless } from "../../ledger/stateless.js";
import { ApplyStatus } from "../../ledger/utxo-table.js";
import type { Channel, PeerId } from "../../net/interface.js";
import type { TimerHandle } from "../../runtime/interface.js";
import type { AtomixWrite, ProvenTransaction, StoredMsb } from "../../store/interface.js";
import { NO_MSB } from "../../consensus/pob/finalization.js";
import { buildMsb, isEpochEnd } from "../msb.js";
import type { StoredFinalHeight } from "../../store/schema.js";
import type { ShardState } from "../shard-state.js";
import { ATOMIX_DECISION, UTXO_ENTRY } from "../../codec/sizes.js";
import { fetchMsbBody, MSB_CHUNKS_IN_FLIGHT, type BootstrapReport } from "../../msb/bootstrap.js";
import { ChannelChunkSource } from "../../msb/chunk-channel.js";
import { MsbChunkServer } from "../../msb/chunk-server.js";
import { ChunkStatus, MSB_CHUNK_ANSWER, MSB_CHUNK_REQUEST, MsbSection, decodeChunkRequest, encodeChunkAnswer } from "../../msb/chunks.js";
import { decodeMsbHeader } from "../../msb/header.js";
import { MSB_ERROR_CODES } from "../../msb/interface.js";
import { encodeMsbHeaderProof } from "../msb-proof.js";
import { batchAfter, checkBatchWalk, checkWalkedSwapIn, type WalkedHeight } from "../../epoch/transepoch/walk.js";
import { epochEndHeight } from "../msb.js";
import { CertStatus, MSB_CERT_ANSWER, MSB_CERT_REQUEST, decodeCertAnswer, decodeCertRequest, encodeCertAnswer, encodeCertRequest, verifyMsbCertification, type CertAnswer, type VerifiedCertification } from "./msb-join.js";
import {
  RESPONSE_HEAD_BYTES, SYNC_REQUEST, SYNC_RESPONSE, SyncStatus, decodeSyncRequest, decodeSyncResponse, encodeSyncRequest, encodeSyncResponse, encodeSyncedHeight, type SyncResponse, type SyncedHeight,
} from "./codec.js";
import {
  MAX_SOURCE_STRIKES, MAX_SYNC_HEIGHTS_PER_REQUEST, MAX_SYNC_RESPONSE_BYTES, MAX_TRACKED_PEERS, SERVE_BYTES_PER_SECOND, SYNC_BUSY_BACKOFF_MS, SYNC_ERROR_CODES, SYNC_REQUEST_TIMEOUT_MS,
  bftHeightOf, epochOfHeight, type DroppedSource, type MissedMsb, type SyncBootstrap, type SyncErrorCode, type SyncOptions, type SyncReport,
} from "./interface.js";

/** The commitment every PoB replica's chain starts from (finalization.ts PobValidator's first tip). */
const GENESIS_COMMITMENT = new Uint8Array(HASH_BYTES);

/** A per-peer byte budget refilled at SERVE_BYTES_PER_SECOND up to one full answer. */
interface Budget {
  bytes: number;
  at: number;
}

export class ShardSync {
  readonly #state: ShardState;
  readonly #channel: Channel;
  readonly #options: SyncOptions;
  readonly #budgets = new Map<PeerId, Budget>();
  #nextRequest = 1;
  /** The request in flight and where its answer goes. */
  /** Resolvers of `#sleep`s in progress, woken by `close`. */
  readonly #sleepers = new Set<() => void>();
  #waiting: { readonly id: number; readonly source: PeerId; readonly answer: (response: SyncResponse | IosError<SyncErrorCode>, bytes: number) => void } | undefined;
  #ignored = 0;
  #running = false;
  #served = 0;
  /** The chunk servers of the state's kept MSBs (the latest two), by epoch, each built on the first request for it. */
  readonly #chunkServers = new Map<number, MsbChunkServer>();
  /** What chunk servers no longer kept had answered (`chunksServed` counts every server's). */
  #retiredChunkStats = { served: 0, refused: 0, bytes: 0 };
  /** Chunk answers waiting for their peer's budget to refill, by peer. */
  readonly #deferred = new Map<PeerId, number>();
  readonly #timers = new Set<TimerHandle>();
  readonly #chunkSource: ChannelChunkSource;
  /** The certification request in flight and where its answer goes. */
  /** The last height this sync verified and committed: the next one's batch walk continues from it without reading the store. */
  #walked: WalkStep | undefined;
  #certWaiting: { readonly source: PeerId; readonly epoch: number; readonly answer: (answer: CertAnswer | IosError<SyncErrorCode>, bytes: number) => void } | undefined;

  constructor(options: SyncOptions) {
    this.#options = options;
    this.#state = options.state;
    // One channel for the shard's chain: state sync, MSB certification and MSB chunks.
    this.#channel = options.transport.open({ protocol: "msb", shard: options.state.shard, epoch: 0 });
    this.#channel.on(SYNC_REQUEST, (from, _type, payload) => this.#serve(from, payload));
    this.#channel.on(SYNC_RESPONSE, (from, _type, payload) => this.#receive(from, payload));
    this.#channel.on(MSB_CERT_REQUEST, (from, _type, payload) => this.#serveCertification(from, payload));
    this.#channel.on(MSB_CERT_ANSWER, (from, _type, payload) => this.#receiveCertification(from, payload));
    this.#channel.on(MSB_CHUNK_REQUEST, (from, _type, payload) => this.#serveChunk(from, payload));
    this.#chunkSource = new ChannelChunkSource(this.#channel);
  }

  close(): void {
    for (const timer of this.#timers) this.#options.clock.cancelTimer(timer);
    this.#timers.clear();
    this.#channel.close();
    this.#chunkSource.close();
    // A sync waiting for its shard to decide the next height (`untilBatch`), or for an answer, gives up now: its timers are gone.
    for (const wake of this.#sleepers) wake();
    this.#sleepers.clear();
    const closed = (): IosError<SyncErrorCode> => new IosError<SyncErrorCode>("SYNC_NO_SOURCE", "this ShardSync closed while it waited for an answer");
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.answer(closed(), 0);
    const certWaiting = this.#certWaiting;
    this.#certWaiting = undefined;
    certWaiting?.answer(closed(), 0);
  }

  /** Waits `ms` of the clock, or until `close`. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.#options.clock.setTimer(ms, () => {
        this.#timers.delete(timer);
        this.#sleepers.delete(resolve);
        resolve();
      });
      this.#timers.add(timer);
      this.#sleepers.add(resolve);
    });
  }

  /** What the MSB chunk servers answered (metrics, tests), every kept MSB's and earlier ones': zero before the first request. */
  get chunksServed(): { readonly served: number; readonly refused: number; readonly bytes: number } {
    const total = { ...this.#retiredChunkStats };
    for (const server of this.#chunkServers.values()) {
      const { served, refused, bytes } = server.stats;
      total.served += served;
      total.refused += refused;
      total.bytes += bytes;
    }
    return total;
  }

  /** Requests answered with heights (metrics). */
  get served(): number {
    return this.#served;
  }

  // ---- serving ----

  #serve(from: PeerId, payload: Uint8Array): void {
    let request;
    try {
      request = decodeSyncRequest(payload);
    } catch (error) {
      if (hasCodeIn(error, SYNC_ERROR_CODES)) return;
      throw error;
    }
    const head = { id: request.id, first: request.first };
    if (!this.#hasBudget(from)) {
      this.#channel.send(from, SYNC_RESPONSE, encodeSyncResponse({ ...head, status: SyncStatus.Busy }, []));
      return;
    }
    if (request.first < this.#state.prunedBelow) {
      this.#channel.send(from, SYNC_RESPONSE, encodeSyncResponse({ ...head, status: SyncStatus.Pruned }, []));
      return;
    }
    const heights: Uint8Array[] = [];
    let size = RESPONSE_HEAD_BYTES;
    const last = Math.min(request.first + request.count - 1, this.#state.tip.height);
    for (let height = request.first; height <= last; height++) {
      const record = this.#state.finalHeightRecord(height);
      if (record === undefined) break;
      const encoded = encodeSyncedHeight({ block: this.#state.getBlock(height)!, record });
      if (size + encoded.length > MAX_SYNC_RESPONSE_BYTES) break;
      heights.push(encoded);
      size += encoded.length;
    }
    if (heights.length === 0) {
      this.#channel.send(from, SYNC_RESPONSE, encodeSyncResponse({ ...head, status: SyncStatus.Behind }, []));
      return;
    }
    this.#charge(from, size);
    this.#served++;
    this.#channel.send(from, SYNC_RESPONSE, encodeSyncResponse({ ...head, status: SyncStatus.Ok }, heights));
  }

  /** Whether `peer`'s budget, refilled to now, is not spent. */
  #hasBudget(peer: PeerId): boolean {
    return this.#refill(peer).bytes > 0;
  }

  /** `peer`'s budget refilled to now (one budget per peer for everything this channel serves). */
  #refill(peer: PeerId): Budget {
    const now = this.#options.clock.now();
    let budget = this.#budgets.get(peer);
    if (budget === undefined) {
      if (this.#budgets.size >= MAX_TRACKED_PEERS) this.#budgets.delete(this.#budgets.keys().next().value!);
      budget = { bytes: MAX_SYNC_RESPONSE_BYTES, at: now };
      this.#budgets.set(peer, budget);
    }
    budget.bytes = Math.min(MAX_SYNC_RESPONSE_BYTES, budget.bytes + ((now - budget.at) * SERVE_BYTES_PER_SECOND) / 1000);
    budget.at = now;
    return budget;
  }

  /**
   * The certification of one of the state's kept MSBs (msb-join.ts: the latest two, whose bodies
   * its chunk servers serve), when it is of the asked epoch and every earlier header is kept;
   * UNKNOWN otherwise, BUSY when the peer's budget is spent.
   */
  #serveCertification(from: PeerId, payload: Uint8Array): void {
    let epoch: number;
    try {
      epoch = decodeCertRequest(payload);
    } catch (error) {
      if (hasCodeIn(error, SYNC_ERROR_CODES)) return;
      throw error;
    }
    if (!this.#hasBudget(from)) {
      this.#channel.send(from, MSB_CERT_ANSWER, encodeCertAnswer({ status: CertStatus.Busy, epoch }));
      return;
    }
    const state = this.#state;
    const epochLength = this.#options.epochLength;
    const header = state.keptMsbs.some((kept) => kept.epoch === epoch) ? state.msbHeader(epoch) : undefined;
    const certificate = header === undefined || epochLength === undefined ? undefined : state.certificateAt(epochEndHeight(epoch, epochLength));
    const earlierHeaders = Array.from({ length: epoch }, (_, earlier) => state.msbHeader(earlier));
    if (header === undefined || certificate === undefined || earlierHeaders.some((earlier) => earlier === undefined)) {
      this.#channel.send(from, MSB_CERT_ANSWER, encodeCertAnswer({ status: CertStatus.Unknown, epoch }));
      return;
    }
    const answer = encodeCertAnswer({ status: CertStatus.Ok, epoch, proof: encodeMsbHeaderProof(header, certificate), earlierHeaders: earlierHeaders as Uint8Array[] });
    this.#charge(from, answer.length);
    this.#channel.send(from, MSB_CERT_ANSWER, answer);
  }

  /**
   * A chunk of a kept MSB, the one the request names by epoch (either section: UTXO entries or
   * decisions, src/msb/chunk-server.ts), within the peer's budget: one 46-byte
   * request costs up to 2.4 MiB of upload, so an answer over budget waits for the refill
   * (at most MSB_CHUNKS_IN_FLIGHT per peer; more are dropped, the fetcher times them out).
   */
  #serveChunk(from: PeerId, payload: Uint8Array): void {
    let answer: Uint8Array;
    try {
      const request = decodeChunkRequest(payload);
      const server = this.#chunkServerOf(request.epoch);
      // No such MSB kept: answer as a server of another MSB does.
      answer = server === undefined ? encodeChunkAnswer({ ...request, status: ChunkStatus.UnknownMsb, entries: new Uint8Array(0), hashes: [] }) : server.serve(payload);
    } catch (error) {
      if (hasCodeIn(error, MSB_ERROR_CODES)) return;
      throw error;
    }
    const budget = this.#refill(from);
    if (budget.bytes > 0) {
      budget.bytes -= answer.length;
      this.#channel.send(from, MSB_CHUNK_ANSWER, answer);
      return;
    }
    const waiting = this.#deferred.get(from) ?? 0;
    if (waiting >= MSB_CHUNKS_IN_FLIGHT) return;
    this.#deferred.set(from, waiting + 1);
    const timer = this.#options.clock.setTimer(Math.ceil((-budget.bytes * 1000) / SERVE_BYTES_PER_SECOND) + 1, () => {
      this.#timers.delete(timer);
      const left = (this.#deferred.get(from) ?? 1) - 1;
      if (left === 0) this.#deferred.delete(from);
      else this.#deferred.set(from, left);
      if (!this.#channel.isOpen) return;
      this.#refill(from).bytes -= answer.length;
      this.#channel.send(from, MSB_CHUNK_ANSWER, answer);
    });
    this.#timers.add(timer);
  }

  /**
   * The chunk server of the state's kept MSB of `epoch`, built on its first request; servers of MSBs
   * no longer kept are dropped. Undefined when that MSB's body is not kept.
   */
  #chunkServerOf(epoch: number): MsbChunkServer | undefined {
    const state = this.#state;
    const kept = state.keptMsbs;
    for (const [served, server] of this.#chunkServers) {
      if (kept.some((msb) => msb.epoch === served)) continue;
      const { served: answered, refused, bytes } = server.stats;
      this.#retiredChunkStats = { served: this.#retiredChunkStats.served + answered, refused: this.#retiredChunkStats.refused + refused, bytes: this.#retiredChunkStats.bytes + bytes };
      this.#chunkServers.delete(served);
    }
    const msb = kept.find((candidate) => candidate.epoch === epoch);
    if (msb === undefined) return undefined;
    let server = this.#chunkServers.get(epoch);
    if (server === undefined) {
      const joined = (chunks: Iterable<Uint8Array>, bytes: number): Uint8Array => {
        const packed = new Uint8Array(bytes);
        let at = 0;
        for (const chunk of chunks) {
          packed.set(chunk, at);
          at += chunk.length;
        }
        return packed;
      };
      const header = decodeMsbHeader(state.msbHeader(epoch)!);
      server = new MsbChunkServer(header, joined(state.msbBody(epoch)!, msb.count * UTXO_ENTRY.bytes), joined(state.msbDecisions(epoch)!, msb.decisions * ATOMIX_DECISION.bytes));
      this.#chunkServers.set(epoch, server);
    }
    return server;
  }

  #charge(peer: PeerId, bytes: number): void {
    this.#budgets.get(peer)!.bytes -= bytes;
  }

  // ---- fetching ----

  #receive(from: PeerId, payload: Uint8Array): void {
    const waiting = this.#waiting;
    if (waiting === undefined || from !== waiting.source) {
      this.#ignored++;
      return;
    }
    let response: SyncResponse;
    try {
      response = decodeSyncResponse(payload);
    } catch (error) {
      if (!hasCodeIn(error, SYNC_ERROR_CODES)) throw error;
      // Whatever request it was meant for, the asked source sent it: it is dropped.
      this.#waiting = undefined;
      waiting.answer(error, payload.length);
      return;
    }
    if (response.id !== waiting.id) {
      // A late answer to an earlier request (or a replay): not this request's.
      this.#ignored++;
      return;
    }
    this.#waiting = undefined;
    waiting.answer(response, payload.length);
  }

  /** Asks `source` for heights from `first`; resolves with its answer, an error to drop it for, or undefined on timeout. */
  #ask(source: PeerId, first: number, count: number): Promise<{ response: SyncResponse | IosError<SyncErrorCode> | undefined; bytes: number }> {
    const { clock } = this.#options;
    const id = this.#nextRequest++ >>> 0;
    if (!this.#channel.isOpen) return Promise.resolve({ response: new IosError<SyncErrorCode>("SYNC_NO_SOURCE", "this ShardSync is closed"), bytes: 0 });
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      this.#waiting = {
        id, source,
        answer: (response, bytes) => {
          clock.cancelTimer(timer!);
          resolve({ response, bytes });
        },
      };
      timer = clock.setTimer(SYNC_REQUEST_TIMEOUT_MS, () => {
        if (this.#waiting?.id === id) this.#waiting = undefined;
        resolve({ response: undefined, bytes: 0 });
      });
      this.#channel.send(source, SYNC_REQUEST, encodeSyncRequest({ id, first, count }));
    });
  }

  /**
   * Brings the local state from its tip to `target` from `sources`, asked in turn (module doc,
   * interface.ts phases). Resolves with the report once the tip is `target`; rejects with
   * SYNC_NO_SOURCE (detail: { report }) when every source was dropped first, the state then at the
   * verified prefix. A tip already at or above `target` resolves at once.
   */
  async sync(target: number, sources: readonly PeerId[], mode: { readonly untilBatch?: number } = {}): Promise<SyncReport> {
    check<SyncErrorCode>(Number.isSafeInteger(target) && target >= 0, "SYNC_BAD_INPUT", `target ${target} is not a height`);
    check<SyncErrorCode>(sources.length > 0, "SYNC_BAD_INPUT", "no source to sync from");
    check<SyncErrorCode>(!this.#running && this.#channel.isOpen, "SYNC_BUSY", "a sync runs already, or this ShardSync is closed");
    const seed = this.#seedCommitment();
    this.#running = true;
    const { clock } = this.#options;
    const started = clock.now();
    const from = this.#state.tip.height;
    const dropped: DroppedSource[] = [];
    const used: PeerId[] = [];
    const strikes = new Map<PeerId, number>();
    const ignoredBefore = this.#ignored;
    let bytes = 0;
    let previous = seed;
    const live = [...new Set(sources)];
    let turn = 0;
    const drop = (peer: PeerId, code: SyncErrorCode, message: string): void => {
      dropped.push({ peer, code, message });
      live.splice(live.indexOf(peer), 1);
    };
    let bootstrap: SyncBootstrap | undefined;
    const report = (): SyncReport => ({
      from, to: this.#state.tip.height, applied: this.#state.tip.height - Math.max(from, bootstrap?.restored === true ? bootstrap.height : from), bytes, used, dropped,
      ignored: this.#ignored - ignoredBefore, elapsedMs: clock.now() - started, ...(bootstrap === undefined ? {} : { bootstrap }),
    });
    try {
      bootstrap = await this.#bootstrap(target, live, false);
      if (bootstrap !== undefined) bytes += bootstrap.bytes;
      if (bootstrap?.restored === true) previous = this.#seedCommitment();
      // Only an end within the target's epoch counts (the state may hold the end of the epoch before's opening).
      const length = this.#options.epochLength;
      const epochStart = length === undefined ? 0 : Math.floor(target / length) * length;
      const reaches = (height: number): boolean => mode.untilBatch !== undefined && height > epochStart && (this.#batchAfter(height) ?? -1) >= mode.untilBatch;
      let ended = reaches(this.#state.tip.height);
      while (this.#state.tip.height < target && !ended) {
        if (!this.#channel.isOpen) throw new IosError<SyncErrorCode, { report: SyncReport }>("SYNC_NO_SOURCE", `closed at height ${this.#state.tip.height} of ${target}`, { report: report() });
        if (live.length === 0 && bootstrap === undefined) {
          // The replay from the tip found no source (pruned past it, most likely): join at the target epoch's start instead.
          bootstrap = await this.#bootstrap(target, [...new Set(sources)], true);
          if (bootstrap !== undefined) bytes += bootstrap.bytes;
          if (bootstrap?.restored === true) {
            previous = this.#seedCommitment();
            live.push(...new Set(sources));
            strikes.clear();
          }
        }
        if (live.length === 0) {
          throw new IosError<SyncErrorCode, { report: SyncReport }>("SYNC_NO_SOURCE", `no source left at height ${this.#state.tip.height} of ${target} (${dropped.map((d) => d.code).join(", ")})`, { report: report() });
        }
        const source = live[turn % live.length]!;
        const first = this.#state.tip.height + 1;
        const { response, bytes: received } = await this.#ask(source, first, Math.min(MAX_SYNC_HEIGHTS_PER_REQUEST, target - first + 1));
        bytes += received;
        const strike = (code: SyncErrorCode, message: string): void => {
          const count = (strikes.get(source) ?? 0) + 1;
          strikes.set(source, count);
          if (count >= MAX_SOURCE_STRIKES) drop(source, code, message);
          else turn++;
        };
        if (response === undefined) {
          strike("SYNC_TIMEOUT", `no answer within ${SYNC_REQUEST_TIMEOUT_MS} ms`);
          continue;
        }
        if (response instanceof IosError) {
          drop(source, response.code, response.message);
          continue;
        }
        if (response.status === SyncStatus.Busy) {
          strike("SYNC_SOURCE_BUSY", "the source's budget for this peer is spent");
          await new Promise<void>((resolve) => clock.setTimer(SYNC_BUSY_BACKOFF_MS, resolve));
          continue;
        }
        if (response.status === SyncStatus.Pruned) {
          drop(source, "SYNC_PRUNED", `the source pruned height ${first}`);
          continue;
        }
        if (response.status === SyncStatus.Behind) {
          if (mode.untilBatch !== undefined) {
            // The shard has not decided that height yet (or this source has not heard of it): ask again shortly, in turn.
            turn++;
            await this.#sleep(SYNC_BUSY_BACKOFF_MS);
            if (!this.#channel.isOpen) throw new IosError<SyncErrorCode, { report: SyncReport }>("SYNC_NO_SOURCE", `closed at height ${this.#state.tip.height} before the instance's end`, { report: report() });
            continue;
          }
          drop(source, "SYNC_SOURCE_BEHIND", `the source lacks height ${first}`);
          continue;
        }
        if (response.first !== first || response.heights.length > target - first + 1) {
          drop(source, "SYNC_BAD_RANGE", `asked for ${first}.., answered ${response.first}..${response.first + response.heights.length - 1}`);
          continue;
        }
        try {
          for (const height of response.heights) {
            previous = this.#applyVerified(height, previous);
            if (!used.includes(source)) used.push(source);
            strikes.delete(source);
            if (reaches(this.#state.tip.height)) {
              ended = true;
              break;
            }
          }
        } catch (error) {
          if (!hasCodeIn(error, SYNC_ERROR_CODES)) throw error;
          drop(source, error.code, error.message);
        }
      }
      return report();
    } finally {
      this.#waiting = undefined;
      this.#running = false;
    }
  }

  /** The batch the stored final proposal of `height` moved its shard's committee to (it carries a swap-in); undefined for a height without one stored. */
  #batchAfter(height: number): number | undefined {
    const record = height === 0 ? undefined : this.#state.finalHeightRecord(height);
    const swapIn = record === undefined ? undefined : decodeProposal(record.proposal).swapIn;
    const { epochLength, moves } = this.#options;
    if (swapIn === undefined || epochLength === undefined) return undefined;
    const epoch = epochOfHeight(height, epochLength);
    const move = moves(epoch, this.#state.shard);
    return move === undefined ? undefined : batchAfter(decodeFinalHeightCertificate(record!.certificate).batch, height - epoch * epochLength, epochLength, move);
  }

  /** Asks `source` for the certification of the MSB of `epoch`; resolves with its answer, an error to drop it for, or undefined on timeout. */
  #askCertification(source: PeerId, epoch: number): Promise<{ answer: CertAnswer | IosError<SyncErrorCode> | undefined; bytes: number }> {
    const { clock } = this.#options;
    if (!this.#channel.isOpen) return Promise.resolve({ answer: new IosError<SyncErrorCode>("SYNC_NO_SOURCE", "this ShardSync is closed"), bytes: 0 });
    return new Promise((resolve) => {
      let timer: TimerHandle | undefined;
      this.#certWaiting = {
        source, epoch,
        answer: (answer, bytes) => {
          clock.cancelTimer(timer!);
          resolve({ answer, bytes });
        },
      };
      timer = clock.setTimer(SYNC_REQUEST_TIMEOUT_MS, () => {
        this.#certWaiting = undefined;
        resolve({ answer: undefined, bytes: 0 });
      });
      this.#channel.send(source, MSB_CERT_REQUEST, encodeCertRequest(epoch));
    });
  }

  #receiveCertification(from: PeerId, payload: Uint8Array): void {
    const waiting = this.#certWaiting;
    if (waiting === undefined || from !== waiting.source) {
      this.#ignored++;
      return;
    }
    let answer: CertAnswer;
    try {
      answer = decodeCertAnswer(payload);
    } catch (error) {
      if (!hasCodeIn(error, SYNC_ERROR_CODES)) throw error;
      this.#certWaiting = undefined;
      waiting.answer(error, payload.length);
      return;
    }
    if (answer.epoch !== waiting.epoch) {
      this.#ignored++;
      return;
    }
    this.#certWaiting = undefined;
    waiting.answer(answer, payload.length);
  }

  /**
   * Joins at an MSB when the target's epoch start lies above the local tip (msb-join.ts phases):
   * first at the MSB before it, so that the replay of the epoch between leaves the blocks of the last
   * two epochs (the transactions a validator proves, schema.ts "Pruning"), then, when no source
   * keeps that one (a source keeps the latest two MSB bodies, MSB_BODIES_KEPT), at the target
   * epoch's start itself; each an MSB above the tip. A state already at or past the first replays
   * from its tip instead (it keeps the blocks it holds of the epoch between), and joins at the
   * target epoch's start only when that replay found no source (`afterReplay`: its sources pruned
   * the heights above its tip). Undefined when there is none to join at; a
   * failed join (every attempt failed, each source dropped with its code) leaves the state
   * untouched and says why: the caller replays instead.
   */
  async #bootstrap(target: number, sources: readonly PeerId[], afterReplay: boolean): Promise<SyncBootstrap | undefined> {
    const { epochLength, clock } = this.#options;
    if (epochLength === undefined || this.#options.bootstrap === false) return undefined;
    const targetEpoch = Math.floor(target / epochLength);
    const tip = this.#state.tip.height;
    // A state at or past the MSB before the target epoch's start (a validator back in a shard it
    // left, one restarted behind) replays from its tip first: it keeps the blocks it holds of the epoch between.
    if (!afterReplay && targetEpoch >= 2 && tip >= epochEndHeight(targetEpoch - 2, epochLength)) return undefined;
    const epochs = [targetEpoch - 2, targetEpoch - 1].filter((epoch) => epoch >= 0 && epochEndHeight(epoch, epochLength) > tip);
    if (epochs.length === 0) return undefined;
    const started = clock.now();
    const missed: MissedMsb[] = [];
    let bytes = 0;
    const dropped: DroppedSource[] = [];
    let outcome: SyncBootstrap | undefined;
    for (const epoch of epochs) {
      const attempt = await this.#joinAt(epoch, sources);
      bytes += attempt.bytes;
      dropped.push(...attempt.dropped);
      outcome = { ...attempt, bytes, dropped, elapsedMs: clock.now() - started, ...(missed.length === 0 ? {} : { missed: [...missed] }) };
      if (attempt.restored) break;
      missed.push({ epoch, height: attempt.height, failure: attempt.failure!, ...(attempt.body === undefined ? {} : { body: attempt.body }) });
    }
    return outcome;
  }

  /** One join attempt at the MSB of `epoch` (`#bootstrap`): restored, or the state untouched and the failure. */
  async #joinAt(epoch: number, sources: readonly PeerId[]): Promise<SyncBootstrap> {
    const { clock } = this.#options;
    const epochLength = this.#options.epochLength!;
    const state = this.#state;
    const height = epochEndHeight(epoch, epochLength);
    const started = clock.now();
    let bytes = 0;
    const dropped: DroppedSource[] = [];
    const outcome = (restored: boolean, more: Partial<SyncBootstrap> = {}): SyncBootstrap => ({ height, epoch, restored, bytes, dropped, elapsedMs: clock.now() - started, ...more });
    let anchor: { readonly certification: VerifiedCertification; readonly synced: SyncedHeight; readonly verified: VerifiedHeight } | undefined;
    for (const source of sources) {
      const { answer, bytes: received } = await this.#askCertification(source, epoch);
      bytes += received;
      try {
        if (answer === undefined) throw new IosError<SyncErrorCode>("SYNC_TIMEOUT", `no MSB certification within ${SYNC_REQUEST_TIMEOUT_MS} ms`);
        if (answer instanceof IosError) throw answer;
        if (answer.status !== CertStatus.Ok) throw new IosError<SyncErrorCode>(answer.status === CertStatus.Busy ? "SYNC_SOURCE_BUSY" : "SYNC_SOURCE_BEHIND", `the source holds no MSB of epoch ${epoch} to certify`);
        const certification = verifyMsbCertification(answer, { chain: state.chainId, shard: state.shard, epoch, height }, this.#options.committees, this.#options.verifier);
        const { response, bytes: blockBytes } = await this.#ask(source, height, 1);
        bytes += blockBytes;
        if (response === undefined) throw new IosError<SyncErrorCode>("SYNC_TIMEOUT", `no answer for height ${height} within ${SYNC_REQUEST_TIMEOUT_MS} ms`);
        if (response instanceof IosError) throw response;
        if (response.status !== SyncStatus.Ok || response.first !== height || response.heights.length !== 1) {
          throw new IosError<SyncErrorCode>("SYNC_BAD_RANGE", `asked for height ${height} alone, answered status ${response.status}, ${response.heights.length} height(s) from ${response.first}`);
        }
        const synced = response.heights[0]!;
        const verified = verifyFinalHeight(state, synced, { anchorAt: height }, this.#options);
        const { commitment } = verified.certified;
        if (!sameBytes(commitment.msbHeaderHash, certification.hash) || commitment.supply !== certification.header.supply || commitment.count !== BigInt(certification.header.count)) {
          throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `height ${height}'s certificate does not bind the certified MSB of epoch ${epoch} (its hash, supply and count)`);
        }
        anchor = { certification, synced, verified };
        break;
      } catch (error) {
        if (!hasCodeIn(error, SYNC_ERROR_CODES)) throw error;
        dropped.push({ peer: source, code: error.code, message: error.message });
      }
    }
    if (anchor === undefined) return outcome(false, { failure: { code: "SYNC_NO_SOURCE", message: `no source certified the MSB of epoch ${epoch} (${dropped.map((d) => d.code).join(", ")})` } });
    const { certification, synced, verified } = anchor;
    // Both trees the header names: the UTXO set and the Atomix decisions (the replay guard), each proved against its root.
    let body;
    let decisions;
    try {
      body = await fetchMsbBody({ header: certification.header, section: MsbSection.Utxos, sources, network: this.#chunkSource, clock });
      bytes += body.report.bytes;
      decisions = await fetchMsbBody({ header: certification.header, section: MsbSection.Decisions, sources, network: this.#chunkSource, clock });
      bytes += decisions.report.bytes;
    } catch (error) {
      if (!hasCodeIn(error, MSB_ERROR_CODES)) throw error;
      const report = (error.detail as { report?: BootstrapReport } | undefined)?.report;
      return outcome(false, {
        failure: { code: error.code, message: error.message },
        ...(body !== undefined ? { body: body.report } : {}),
        ...(report === undefined ? {} : body === undefined ? { body: report } : { decisions: report }),
      });
    }
    const { record } = synced;
    state.restoreAtMsb({
      block: {
        height, hash: verified.block.hash, bytes: synced.block, txids: new Uint8Array(0), positions: [], rejections: record.rejections, atomix: verified.atomix,
        certificate: record.certificate, proposal: record.proposal, msb: { epoch, header: certification.encoded, body: body.entries, decisions: decisions.entries },
      },
      earlierHeaders: certification.earlierHeaders,
    });
    return outcome(true, { count: body.count, body: body.report, decisions: decisions.report });
  }

  /** The commitment the next height's certificate must name as previous (phase 1). */
  #seedCommitment(): Uint8Array {
    const { height } = this.#state.tip;
    if (height === 0) return GENESIS_COMMITMENT;
    const certificate = this.#state.certificateAt(height);
    check<SyncErrorCode>(certificate !== undefined, "SYNC_BAD_INPUT", `the local tip ${height} has no certificate to continue the commitment chain from`);
    return certifiedCommitmentOf(certificate);
  }

  /** Verifies height tip + 1 (module doc, steps 1–6) and commits it; returns its state commitment. */
  #applyVerified(height: SyncedHeight, previous: Uint8Array): Uint8Array {
    const state = this.#state;
    const h = state.tip.height + 1;
    const { certified, atomix, changeProofs, block, records, recordCount, walked } = verifyFinalHeight(state, height, previous, this.#options, this.#walked);
    // Certified final blocks of their epochs: a bond release in one was judged under that epoch's permits.
    const assembly = state.assemble({ undoable: true, replay: true });
    const statuses = assembly.apply(records, recordCount);
    const refused = statuses.findIndex((status) => status !== ApplyStatus.Ok);
    if (refused >= 0 || state.supply !== certified.supply || BigInt(state.utxoCount) !== certified.count) {
      assembly.abort();
      if (refused >= 0) throw new IosError<SyncErrorCode>("SYNC_APPLY_FAILED", `height ${h}: transaction ${refused} does not apply (status ${statuses[refused]})`);
      throw new IosError<SyncErrorCode>("SYNC_STATE_MISMATCH", `height ${h}: supply ${state.supply} / count ${state.utxoCount}, certified ${certified.supply} / ${certified.count}`);
    }
    let msb: StoredMsb | undefined;
    try {
      msb = this.#certifiedMsb(h, certified.commitment.msbHeaderHash, atomix);
    } catch (error) {
      assembly.abort();
      throw error;
    }
    assembly.commit(() => ({
      bytes: height.block, hash: block.hash, txids: block.txids, rejections: height.record.rejections, atomix, changeProofs,
      certificate: height.record.certificate, proposal: height.record.proposal, ...(msb === undefined ? {} : { msb }),
    }));
    this.#walked = walked;
    return certified.stateCommitment;
  }

  /**
   * The MSB height `h` binds, built from the state after it (step 4: the table after the height's
   * writes; the stored phases, the earlier heights', and the height's own `phaseWrites`, not yet
   * stored): its certified hash checked; undefined (and a zero hash checked) off an epoch's end.
   */
  #certifiedMsb(h: number, bound: Uint8Array, phaseWrites: readonly AtomixWrite[]): StoredMsb | undefined {
    const { epochLength } = this.#options;
    const state = this.#state;
    if (!isEpochEnd(h, epochLength)) {
      if (!sameBytes(bound, NO_MSB)) throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `height ${h} ends no epoch, yet its certificate names an MSB header`);
      return undefined;
    }
    const built = buildMsb({
      chain: state.chainId, shard: state.shard, height: h, epochLength: epochLength!, entries: state.utxoSnapshot(),
      phases: state.atomixPhases(), phaseWrites, headerOf: (epoch) => state.msbHeader(epoch),
    });
    if (!sameBytes(built.hash, bound)) {
      throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `height ${h}: the certified MSB header hash is not the one of the state after it (${built.header.count} outputs, supply ${built.header.supply})`);
    }
    return { epoch: built.header.epoch, header: built.encoded, body: built.body, decisions: built.decisions };
  }
}

/** What `verifyFinalHeight` found sound: the certified height, its block, the records to apply and what the store keeps with it. */
export interface VerifiedHeight {
  readonly certified: CertifiedHeight;
  readonly block: DecodedBlock;
  readonly records: Uint8Array;
  readonly recordCount: number;
  /** The phase writes with the proofs this replica cut from the certificate. */
  readonly atomix: AtomixWrite[];
  readonly changeProofs: ProvenTransaction[];
  /** Its batch and swap-in: where the next height's walk continues. */
  readonly walked: WalkStep;
}

/** Runs `step`, turning any coded error of decoding untrusted bytes into `code`. */
function coded<T>(code: SyncErrorCode, what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof IosError) throw new IosError<SyncErrorCode>(code, `${what}: ${error.message}`);
    throw error;
  }
}

/**
 * Steps 1–5 of the module doc for the height after `state`'s tip, whose predecessor's state
 * commitment is `previous`: what to apply (step 6 is the caller's, with the table) and to store.
 * Given `{ anchorAt }` instead, height `anchorAt` without its link to a predecessor (neither the
 * previous commitment nor the previous hash: a bootstrap anchors it by the certified MSB it binds).
 * Throws the first SYNC_* code that applies; changes nothing.
 */
export function verifyFinalHeight(
  state: ShardState, height: SyncedHeight, previous: Uint8Array | { readonly anchorAt: number }, options: Pick<SyncOptions, "committees" | "moves" | "epochLength" | "verifier">,
  walkHint?: WalkStep,
): VerifiedHeight {
  const tip = state.tip;
  // An anchor (a bootstrap's MSB height, msb-join.ts) is checked without its predecessor: the joiner has none.
  const anchored = !(previous instanceof Uint8Array);
  const h = anchored ? previous.anchorAt : tip.height + 1;
  const { record } = height;
  const certified = coded("SYNC_BAD_CERTIFICATE", `height ${h}`, () => verifyFinalHeightCertificate(record.certificate, options.committees, options.verifier));
  const epoch = epochOfHeight(h, options.epochLength);
  const bftHeight = bftHeightOf(h, options.epochLength);
  if (certified.epoch !== epoch || certified.shard !== state.shard || certified.height !== bftHeight) {
    throw new IosError<SyncErrorCode>("SYNC_CERTIFICATE_MISPLACED", `height ${h} needs a certificate of epoch ${epoch}, shard ${state.shard}, BFT height ${bftHeight}; got ${certified.epoch}, ${certified.shard}, ${certified.height}`);
  }
  const { commitment } = certified;
  if (!anchored && !sameBytes(commitment.previous, previous)) throw new IosError<SyncErrorCode>("SYNC_COMMITMENT_BREAK", `height ${h}: the certificate does not continue the commitment of height ${tip.height}`);

  const { commitCertificate, bodyDigest } = decodeFinalHeightCertificate(record.certificate);
  // The header's timestamp and producer are the certified proposal's: the certificate signs its digest.
  if (!sameBytes(coded("SYNC_BAD_PROPOSAL", `height ${h}`, () => proposalBodyDigest(record.proposal)), bodyDigest)) {
    throw new IosError<SyncErrorCode>("SYNC_BAD_PROPOSAL", `height ${h}: the proposal sent is not the certified one`);
  }
  const proposal = coded("SYNC_BAD_PROPOSAL", `height ${h}`, () => decodeProposal(record.proposal));
  const walked = walkBatch(state, h, certified.batch, proposal.swapIn, anchored, options, walkHint);

  const block = coded("SYNC_BAD_BLOCK", `height ${h}`, () => decodeBlock(height.block));
  const { header, seal } = block;
  const sealed = seal.kind === "collective" && sameBytes(seal.participants, commitCertificate.mask) && sameBytes(seal.signature, commitCertificate.signature);
  // The previous hash is certified (the commitment's previous block): an anchor, whose predecessor the joiner lacks, is bound too.
  if (header.kind !== BlockKind.Final || header.shard !== state.shard || header.epoch !== epoch || header.height !== h || (!anchored && !sameBytes(header.prevHash, tip.hash))
    || !sameBytes(header.prevHash, commitment.previousBlock)
    || header.timestamp !== proposal.timestamp || !sameBytes(header.producer, proposal.proposer) || !sealed) {
    throw new IosError<SyncErrorCode>("SYNC_BAD_BLOCK", `height ${h}: not the Final block of epoch ${epoch}, shard ${state.shard} on the tip, of the certified proposal, sealed with its commit certificate`);
  }
  const txCount = block.txids.length / TXID_BYTES;
  if (txCount !== commitment.includedCount || !sameBytes(merkleRootOfPackedLeaves(block.txids, TXID_BYTES), commitment.includedRoot)) {
    throw new IosError<SyncErrorCode>("SYNC_INCLUDED_MISMATCH", `height ${h}: the block's ${txCount} transactions are not the certified ${commitment.includedCount}`);
  }
  if (!sameBytes(header.bodyRoot, commitment.bodyRoot)) {
    throw new IosError<SyncErrorCode>("SYNC_BODY_ROOT_MISMATCH", `height ${h}: the block's transactions are not the bytes the committee certified (another body root under the same txids)`);
  }
  const { rejections } = record;
  if (rejections.length !== commitment.excludedCount || !sameBytes(merkleRoot(rejections.map(codedTxidLeaf)), commitment.excludedRoot)
    || rejections.some((entry) => entry.code.length === 0)) {
    throw new IosError<SyncErrorCode>("SYNC_EXCLUDED_MISMATCH", `height ${h}: the ${rejections.length} rejections sent are not the certified ${commitment.excludedCount}`);
  }

  // The committee certified these transactions: stateless structure only, as replay does.
  const stateless = coded("SYNC_APPLY_FAILED", `height ${h}`, () => validateStateless(block.body, state.shard, state.shardCount, "derived", FINAL_CHAIN_DECISIONS));
  const failed = stateless.rejections.findIndex((rejection) => rejection !== null);
  if (failed >= 0 || stateless.count !== txCount || stateless.recordCount !== txCount) {
    throw new IosError<SyncErrorCode>("SYNC_APPLY_FAILED", `height ${h}: ${failed >= 0 ? `transaction ${failed}: ${stateless.rejections[failed]!.message}` : "not one apply record per transaction"}`);
  }
  const prover = new FinalHeightProver({ certificate: record.certificate, included: block.txids, excluded: rejections });
  const atomix = atomixWritesOf(stateless.records, stateless.recordTx, block.txids, record, h);
  const changeProofs: ProvenTransaction[] = [];
  block.transactions.forEach((tx, index) => {
    if (tx[TX_PREFIX.offset.kind] === TxKind.ValidatorRegistration) changeProofs.push({ txid: block.txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES), tx, proof: prover.acceptance(index) });
  });
  return { certified, block, records: stateless.records, recordCount: stateless.recordCount, atomix, changeProofs, walked };
}

/** A walked height's batch and swap-in (`verifyFinalHeight` returns it: the next height's walk continues from it). */
export interface WalkStep {
  readonly height: number;
  readonly batch: number;
  readonly swapIn: Uint8Array | undefined;
}

/**
 * Step 1b: height `h`'s batch along the epoch's walk. The height before comes from `hint` when it
 * is that height (the sync's last verified one), else from the store; an anchor (an MSB's epoch
 * end) has none: its batch must be B.
 */
function walkBatch(
  state: ShardState, h: number, batch: number, swapIn: Uint8Array | undefined, anchored: boolean, options: Pick<SyncOptions, "moves" | "epochLength">, hint: WalkStep | undefined,
): WalkStep {
  const step = { height: h, batch, swapIn };
  const { epochLength } = options;
  if (epochLength === undefined) {
    // One endless epoch: one committee, no move.
    if (batch !== 0 || swapIn !== undefined) throw new IosError<SyncErrorCode>("SYNC_BAD_BATCH", `height ${h}: a chain without epochs has batch 0 only and no swap-in`);
    return step;
  }
  const epoch = epochOfHeight(h, epochLength);
  const walked: WalkedHeight = { epoch, shard: state.shard, height: h, index: h - epoch * epochLength, epochLength, batch, swapIn };
  const previous = anchored || walked.index === 1 ? undefined : hint?.height === h - 1 ? hint : storedStep(state, h - 1);
  try {
    checkBatchWalk(walked, previous, options.moves);
    if (swapIn !== undefined) checkWalkedSwapIn(walked, options.moves, (below) => (below < h ? state.finalHeightAt(below)?.stateCommitment : undefined));
  } catch (error) {
    if (error instanceof IosError) throw new IosError<SyncErrorCode>("SYNC_BAD_BATCH", `height ${h}: ${error.code}: ${error.message}`);
    throw error;
  }
  return step;
}

/** The batch and swap-in of a height this state holds with its certificate. */
function storedStep(state: ShardState, height: number): WalkStep {
  const record = state.finalHeightRecord(height);
  check<SyncErrorCode>(record !== undefined, "SYNC_BAD_INPUT", `height ${height} is held without its final-height record: the batch walk cannot continue from it`);
  return { height, batch: decodeFinalHeightCertificate(record.certificate).batch, swapIn: decodeProposal(record.proposal).swapIn };
}

/**
 * The phase writes of a height, checked against what its transactions decide (finalization.ts
 * `decideAtomix`): every included Atomix record's phase, in order, a lock marked decided
 * proof; between them, writes of records the kernel refused (excluded): "refused" only for an
 * excluded X with a decisive code (with its rejection proof), or "aborted" (an abort the kernel
 * refused still aborts; its txid is not in the write, so this one is taken as sent).
 */
function atomixWritesOf(records: Uint8Array, recordTx: Uint32Array, txids: Uint8Array, record: StoredFinalHeight, h: number): AtomixWrite[] {
  const decided: { crossTxid: Uint8Array; phase: number; position: number; lock: boolean }[] = [];
  for (let cursor = new RecordCursor(records), k = 0; !cursor.done; cursor.next(), k++) {
    const { kind } = cursor;
    if (!isAtomixKind(kind)) continue;
    const position = recordTx[k]!;
    const phase = encodeAtomixPhase(phaseAfter(kind, true, kind === TxKind.AtomixLock && recordLockSettles(cursor.bytes))!);
    for (const crossTxid of crossTxidsOfRecord(kind, cursor.bytes)) {
      decided.push({ crossTxid, phase, position, lock: sameBytes(txids.subarray(position * TXID_BYTES, (position + 1) * TXID_BYTES), crossTxid) });
    }
  }
  const refused = encodeAtomixPhase("refused");
  const aborted = encodeAtomixPhase("aborted");
  let next = 0;
  const writes = record.atomix.map(({ crossTxid, phase }): AtomixWrite => {
    const expected = decided[next];
    if (expected !== undefined && expected.phase === phase && sameBytes(expected.crossTxid, crossTxid)) {
      next++;
      return { crossTxid, phase, ...(expected.lock ? { decided: true } : {}) };
    }
    if (phase === refused && record.rejections.some((entry) => sameBytes(entry.txid, crossTxid) && DECISIVE_CODES.has(entry.code))) return { crossTxid, phase, decided: true };
    if (phase === aborted) return { crossTxid, phase };
    throw new IosError<SyncErrorCode>("SYNC_BAD_ATOMIX", `height ${h}: phase write ${toHex(crossTxid).slice(0, 16)}… → ${phase} is not one its transactions decide`);
  });
  if (next !== decided.length) throw new IosError<SyncErrorCode>("SYNC_BAD_ATOMIX", `height ${h}: ${decided.length - next} phase write(s) its transactions decide are missing`);
  return writes;
}

/** The state commitment a stored certificate (verified when it was stored) names. */
function certifiedCommitmentOf(certificate: Uint8Array): Uint8Array {
  return certifiedProposalOf(decodeFinalHeightCertificate(certificate)).stateCommitment;
}
