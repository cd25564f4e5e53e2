/**
 * The client API (DESIGN §8), mounted on the validator's uWebSockets.js app next to the peer
 * route. The app listens on the peer port itself and on a Unix socket behind the HTTP edge of the
 * client port (edge.ts); with `edgeOnly`, a request that did not come through the edge (the peer
 * port) answers 404 API_NOT_ON_PEER_PORT, so the edge's checks of clients cannot be bypassed.
 *
 * HTTP JSON routes (errors: `{ "error": { "code", "message" } }`, status from errors.ts):
 *   POST /v1/tx                     one transaction: JSON {"tx":"<hex>"} or {"txBase64":"..."},
 *                                   or the raw bytes as application/octet-stream
 *                                   → 202 accepted / 200 duplicate {txid, outcome, status}
 *   GET  /v1/tx/:txid               {txid, state: pending|optimistic|final|rejected, and by state:
 *                                   optimistic {block, producer, inclusion} (hex: the optimistic block, the
 *                                   believable validator that sealed it, and its signed header ‖ seal ‖
 *                                   the transaction's Merkle proof, which the client checks), final {height, index,
 *                                   blockHash}, rejected {code}}; a cross-shard transfer adds atomix (below)
 *   GET  /v1/atomix/:txid           {txid, shard, phase: locked|refused|committed|aborted, height, proof (hex,
 *                                   this shard's lock decision, src/atomix/proof.ts, built when read from its stored
 *                                   height: src/atomix/stored-proofs.ts; absent for an output shard, and once that
 *                                   height is pruned unless the transfer may still need it)} for a cross-shard transfer
 *                                   this shard's final chain touched (its inputs or outputs); 404 ATOMIX_NOT_FOUND
 *   GET  /v1/owner/:pk/balance      {owner, shard, balance (decimal string), outputs}
 *   GET  /v1/owner/:pk/utxos        {owner, shard, utxos: [{txid, index, amount}], truncated} (?limit=N)
 *   GET  /v1/block/:height          header, seal and txids (?bytes=1 adds the encoded block in hex); 404 MSB_PRUNED below the
 *                                   store's pruned horizon (src/store/schema.ts "Pruning")
 *   GET  /v1/block/hash/:hash       same, by block hash
 *   GET  /v1/status                 node facts: shard, shardCount, epoch (whose configuration assigns the shard),
 *                                   decidingEpoch and opening (a validator: the epoch of the heights it decides, the
 *                                   next one's while it runs that epoch's TransEpoch opening), tip, prunedBelow (the lowest height kept), prunes (whether it prunes), msb {epoch, height, root, count, supply}, ...
 *   GET  /v1/epochs                 {epoch (the node's), epochs: [{epoch, configurationHash, randomness,
 *                                   transcriptHash (hex), validators (count), shardCount}]}: the epoch archive
 *   GET  /v1/epochs/chain           application/octet-stream: links 1..last as encodeIdentityChain
 *                                   (src/epoch/identity/link.ts), what a client verifies from the genesis
 *   GET  /v1/epochs/:epoch/drp-transcript  application/octet-stream: the DRP transcript of that epoch
 *                                   (src/epoch/drp/transcript.ts); 404 EPOCH_UNKNOWN if not kept
 *   GET  /v1/msb/latest             {epoch, shard, height, count, supply, root, decisions, decisionsRoot, headerHash, proof}: the shard's
 *   GET  /v1/msb/:epoch             latest MSB (or epoch's) header facts and its proof (hex, type 1 of
 *                                   src/node/msb-proof.ts: header + the epoch-end final-height certificate);
 *                                   404 MSB_NONE, MSB_EPOCH_NOT_ENDED
 *   GET  /v1/utxo/:txid:index/proof application/octet-stream: the output's proof (type 2) against the latest MSB;
 *                                   404 MSB_UTXO_NOT_FOUND (spent, unknown, newer than the MSB, another shard's)
 *   GET  /v1/tx/:txid/proof         application/octet-stream: a final transaction's proof (type 3): its acceptance
 *                                   at its height and, once its epoch ended, the commitment chain to the MSB; 404 MSB_TX_NOT_FINAL
 *   GET  /metrics                   Prometheus text
 * WebSocket /v1/stream: bulk binary submission, confirmation events and, under PoB, optimistic
 * confirmations (stream-codec.ts). A subscriber sends {"op":"subscribe"} for every frame, or
 * {"op":"subscribe","atomix":false} to leave out the ATOMIX frames (their proofs are cut only if
 * some subscriber takes them: the load driver takes them from f + 1 validators per shard).
 *
 * Failures. An error with an ApiErrorCode is the API's own answer to a bad request (counted by
 * route and status), and so is a refused submission (answered with the rejection's code).
 * Anything else a route or the stream meets — a coded error from below (STORE_*, PIPELINE_*) or
 * a bug — is also logged and counted by HandlerFailures (subsystem "api") before it is answered.
 */
import uWS from "uWebSockets.js";
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from "uWebSockets.js";
import { sendBinary } from "../net/uws-send.js";
import { IosError, hasCodeIn, invariant } from "../errors.js";
import { blockHash, decodeBlock, decodeBlockHeader, type DecodedBlock } from "../ledger/block.js";
import { shardOfOwner } from "../ledger/shard.js";
import type { HandlerFailures } from "../log/handler-failures.js";
import type { ApiLimits } from "../node/config.js";
import { API_ERROR_CODES, statusOfCode, type ApiErrorCode } from "./errors.js";
import { HttpExchange } from "./http.js";
import type { ClientBackend, EpochArchiveView, MetricFamily, MsbProofService, SubmitResult, TxStatus } from "./interface.js";
import { LabeledCounter, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./metrics.js";
import { OwnerIndex } from "./owner-index.js";
import {
  decodeSubmission,
  encodeAck,
  encodeError,
  encodeEvents,
  encodeAtomix,
  encodeOptimistic,
  type ConfirmationBatch,
  type OptimisticBatch,
} from "./stream-codec.js";
import { toHex } from "../hex.js";
import { decodeIdentityConfiguration, identityConfigurationHash } from "../epoch/identity/configuration.js";
import type { IdentityLink } from "../epoch/identity/interface.js";
import { encodeIdentityChain } from "../epoch/identity/link.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../codec/sizes.js";

export const STREAM_PATH = "/v1/stream";
/** Submission frames a connection may have awaiting their ack; past it frames are refused (STREAM_BUSY). */
export const MAX_FRAMES_IN_FLIGHT = 8;
/** Close code of a subscriber dropped for not reading its events (RFC 6455 §7.4.2 private range). */
export const CLOSE_SLOW_CONSUMER = 4008;
/** Close code of a stream that neither subscribed nor submitted within `streamIdleMs`. */
export const CLOSE_IDLE = 4009;
/**
 * A quarter of the stream slots is kept for client addresses that hold none: once only that
 * many are free, an address that already has a stream is refused, so a newcomer still gets in.
 */
export const RESERVED_STREAM_SHARE = 0.25;
/** Idle streams are looked for this many times per `streamIdleMs`: one closes within 1.25 × the limit. */
const IDLE_SWEEPS_PER_LIMIT = 4;
/** GET /v1/owner/:pk/utxos: default and largest page. */
const DEFAULT_UTXO_LIMIT = 1000;
const MAX_UTXO_LIMIT = 10_000;
/** uWS closes a stream silent for this long; its automatic pings keep a live client's open. */
const STREAM_IDLE_TIMEOUT_SEC = 120;

interface StreamClient {
  /** The client's address (the one the edge saw, passed by the PROXY header, else the socket's). */
  readonly address: string;
  /** When it last subscribed or submitted (ms, performance.now()). */
  lastActiveMs: number;
  nextSequence: number;
  inFlight: number;
  subscribed: boolean;
  /** Whether a subscriber takes ATOMIX frames (its subscribe op's `atomix`, true unless false). */
  atomix: boolean;
  open: boolean;
  /** Acks leave in the order their frames arrived. */
  ackChain: Promise<void>;
}

function hexParam(value: string, bytes: number, what: string): Uint8Array {
  if (value.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new IosError<ApiErrorCode>("API_BAD_PARAMETER", `${what} must be ${bytes * 2} hex digits, got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return new Uint8Array(Buffer.from(value, "hex"));
}

/** An epoch path parameter: a decimal u32. */
function epochParam(text: string): number {
  const epoch = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(epoch <= 0xffffffff)) throw new IosError<ApiErrorCode>("API_BAD_PARAMETER", `epoch must be a decimal u32, got ${JSON.stringify(text.slice(0, 40))}`);
  return epoch;
}

/** GET /v1/epochs's entry of one kept link. */
function epochJson(link: IdentityLink): Record<string, unknown> {
  const configuration = decodeIdentityConfiguration(link.configuration);
  return {
    epoch: configuration.epoch,
    configurationHash: toHex(identityConfigurationHash(link.configuration)),
    randomness: toHex(configuration.randomness),
    transcriptHash: toHex(configuration.transcriptHash),
    validators: configuration.validators.length,
    shardCount: configuration.shardCount,
  };
}

const BINARY = "application/octet-stream";

function queryParam(query: string, name: string): string | undefined {
  return new URLSearchParams(query).get(name) ?? undefined;
}

function statusJson(status: TxStatus, blockHash: (height: number) => string | undefined): Record<string, unknown> {
  switch (status.state) {
    case "optimistic":
      return { state: "optimistic", block: toHex(status.block), producer: toHex(status.producer), ...(status.inclusion === undefined ? {} : { inclusion: toHex(status.inclusion) }) };
    case "final":
      return { state: "final", height: status.height, index: status.index, blockHash: blockHash(status.height) };
    case "rejected":
      return { state: "rejected", code: status.code };
    default:
      return { state: status.state };
  }
}

/** GET /v1/atomix's body (and GET /v1/tx's `atomix`) for one cross-shard transfer, if this shard's chain touched it. */
function atomixJsonOf(entry: ReturnType<ClientBackend["chain"]["atomix"]>): Record<string, unknown> | undefined {
  if (entry === undefined) return undefined;
  return { phase: entry.phase, height: entry.height, ...(entry.proof === undefined ? {} : { proof: toHex(entry.proof) }) };
}

function blockJson(block: DecodedBlock, withBytes: Uint8Array | undefined): Record<string, unknown> {
  const { header, seal } = block;
  return {
    height: header.height,
    hash: toHex(block.hash),
    kind: header.kind === 0 ? "optimistic" : "final",
    shard: header.shard,
    epoch: header.epoch,
    prevHash: toHex(header.prevHash),
    txRoot: toHex(header.txRoot),
    timestamp: header.timestamp,
    producer: toHex(header.producer),
    txCount: header.txCount,
    bodyBytes: header.bodyBytes,
    bodyRoot: toHex(header.bodyRoot),
    seal: seal.kind === "producer" ? { kind: "producer", signature: toHex(seal.signature) } : { kind: "collective", participants: toHex(seal.participants), signature: toHex(seal.signature) },
    txids: Array.from({ length: header.txCount }, (_, i) => toHex(block.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES))),
    ...(withBytes === undefined ? {} : { bytes: toHex(withBytes) }),
  };
}

/** The transaction bytes of a POST /v1/tx body. */
function transactionFromBody(contentType: string, body: Buffer): Uint8Array {
  const type = contentType.split(";")[0]!.trim();
  if (type === "application/octet-stream") {
    if (body.length === 0) throw new IosError<ApiErrorCode>("API_BAD_REQUEST", "the body is empty; send the encoded transaction");
    return new Uint8Array(body);
  }
  if (type !== "application/json") {
    throw new IosError<ApiErrorCode>("API_UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json ({"tx":"<hex>"}) or application/octet-stream, got ${JSON.stringify(contentType)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new IosError<ApiErrorCode>("API_BAD_JSON", `body is not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new IosError<ApiErrorCode>("API_BAD_REQUEST", 'body must be a JSON object {"tx":"<hex>"}');
  const fields = Object.keys(value);
  if (fields.length !== 1 || (fields[0] !== "tx" && fields[0] !== "txBase64")) {
    throw new IosError<ApiErrorCode>("API_BAD_REQUEST", `body must hold exactly one field, "tx" (hex) or "txBase64"; got ${JSON.stringify(fields)}`);
  }
  const text = (value as Record<string, unknown>)[fields[0]!];
  if (typeof text !== "string" || text.length === 0) throw new IosError<ApiErrorCode>("API_BAD_REQUEST", `"${fields[0]}" must be a non-empty string`);
  if (fields[0] === "tx") {
    if (text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) throw new IosError<ApiErrorCode>("API_BAD_REQUEST", '"tx" must be an even number of hex digits');
    return new Uint8Array(Buffer.from(text, "hex"));
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) throw new IosError<ApiErrorCode>("API_BAD_REQUEST", '"txBase64" must be padded standard base64');
  return new Uint8Array(Buffer.from(text, "base64"));
}

export class ClientApi {
  /** The owner index of the chain the backend serves now (a validator that changes shard at an epoch switch serves another). */
  #owners: OwnerIndex;
  private readonly requests = new LabeledCounter("ios_api_http_requests_total", "HTTP requests answered, by route and status", ["route", "status"]);
  private readonly streamFrames = new LabeledCounter("ios_api_stream_frames_total", "WebSocket stream frames, by kind", ["kind"]);
  private readonly streamDrops = new LabeledCounter("ios_api_stream_dropped_subscribers_total", "Subscribers closed for falling behind", []);
  private readonly streams = new Set<WebSocket<StreamClient>>();
  /** Open streams by client address. */
  private readonly streamsByAddress = new Map<string, number>();
  private readonly idleSweep: NodeJS.Timeout;
  private readonly streamsRefused = new LabeledCounter("ios_api_stream_refused_total", "Stream upgrades refused, by reason", ["reason"]);
  private readonly streamsIdleClosed = new LabeledCounter("ios_api_stream_idle_closed_total", "Streams closed for neither subscribing nor submitting", []);
  private readonly unsubscribeConfirmations: () => void;
  private readonly unsubscribeOptimistic: () => void;
  private readonly unsubscribeAtomix: () => void;
  private stopped = false;

  constructor(
    private readonly app: TemplatedApp,
    private readonly backend: ClientBackend,
    private readonly limits: ApiLimits,
    private readonly failures: HandlerFailures,
    /** Serve only requests that came through the edge (file comment); false for an app with no edge in front. */
    private readonly edgeOnly = false,
  ) {
    this.#owners = new OwnerIndex(backend.chain);
    this.unsubscribeConfirmations = backend.onConfirmations((batch) => this.confirmations(batch));
    this.unsubscribeOptimistic = backend.onOptimistic((batch) => this.optimistic(batch));
    this.unsubscribeAtomix = backend.onAtomix?.((batch) => this.broadcast("atomix", () => encodeAtomix(batch))) ?? (() => undefined);
    this.idleSweep = setInterval(() => this.closeIdleStreams(), limits.streamIdleMs / IDLE_SWEEPS_PER_LIMIT).unref();
    this.mount();
  }

  get owners(): OwnerIndex {
    if (this.#owners.chain !== this.backend.chain) this.#owners = new OwnerIndex(this.backend.chain);
    return this.#owners;
  }

  /** Closes every stream connection and stops answering (503) the requests still arriving. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.idleSweep);
    this.unsubscribeConfirmations();
    this.unsubscribeOptimistic();
    this.unsubscribeAtomix();
    for (const ws of [...this.streams]) ws.end(1001, "SHUTDOWN");
    this.streams.clear();
  }

  /** Mounts `handler` for `method` (a GET route answers HEAD too, without the body); other methods get 405. */
  private route(method: "get" | "post", pattern: string, name: string, handler: (exchange: HttpExchange, req: HttpRequest) => void | Promise<void>): void {
    const serve = (res: HttpResponse, req: HttpRequest) => {
      const exchange = new HttpExchange(res, req);
      if (this.refusedOffEdge(res, exchange, name)) return;
      if (this.stopped) {
        this.answerError(exchange, name, new IosError<ApiErrorCode>("API_UNAVAILABLE", "the node is shutting down"));
        return;
      }
      let result: void | Promise<void>;
      try {
        result = handler(exchange, req);
      } catch (error) {
        this.answerError(exchange, name, error);
        return;
      }
      if (result instanceof Promise) result.catch((error: unknown) => this.answerError(exchange, name, error));
    };
    this.app[method](pattern, serve);
    if (method === "get") this.app.head(pattern, serve);
    const allowed = method === "get" ? "GET, HEAD" : "POST";
    this.app.any(pattern, (res: HttpResponse, req: HttpRequest) => {
      const exchange = new HttpExchange(res, req);
      if (this.refusedOffEdge(res, exchange, name)) return;
      this.answerError(exchange, name, new IosError<ApiErrorCode>("API_METHOD_NOT_ALLOWED", `${exchange.method.toUpperCase()} is not allowed on ${exchange.url}; use ${allowed}`), { allow: allowed });
    });
  }

  /**
   * Answers API_NOT_ON_PEER_PORT to a request that reached uWS on a TCP port of its own (with
   * `edgeOnly`: the peer port) instead of the edge's Unix socket. The socket's own address tells
   * them apart (empty over a Unix socket); a PROXY header would not: a peer-port client can send one.
   */
  private refusedOffEdge(res: HttpResponse, exchange: HttpExchange, route: string): boolean {
    if (!this.edgeOnly || res.getRemoteAddress().byteLength === 0) return false;
    this.answerError(exchange, route, new IosError<ApiErrorCode>("API_NOT_ON_PEER_PORT", `${exchange.method.toUpperCase()} ${exchange.url} is not served on the peer port, which takes only peer links; use the client port`));
    return true;
  }

  private answerError(exchange: HttpExchange, route: string, error: unknown, headers: Readonly<Record<string, string>> = {}): void {
    if (hasCodeIn(error, API_ERROR_CODES)) return this.refuse(exchange, route, error, headers);
    this.failures.record("api", error, { route });
    const coded =
      error instanceof IosError
        ? new IosError(error.code, error.message)
        : new IosError<ApiErrorCode>("API_INTERNAL", `internal error: ${(error as Error)?.message ?? String(error)}`);
    this.refuse(exchange, route, coded, headers);
  }

  /** Answers a refusal with the status of its code (not counted as a handler failure). */
  private refuse(exchange: HttpExchange, route: string, error: IosError, headers: Readonly<Record<string, string>> = {}): void {
    if (exchange.answered) return;
    this.requests.inc([route, String(statusOfCode(error.code))]);
    // A refused body may still be arriving: close the connection rather than read it.
    exchange.error(error, exchange.bodyUnread, headers);
  }

  private answer(exchange: HttpExchange, route: string, status: number, body: unknown): void {
    this.requests.inc([route, String(status)]);
    exchange.json(status, body);
  }

  private blockHashAt(height: number): string | undefined {
    const bytes = this.backend.chain.getBlock(height);
    return bytes === undefined ? undefined : toHex(blockHash(decodeBlockHeader(bytes)));
  }

  private atomixJson(txid: Uint8Array): Record<string, unknown> | undefined {
    return atomixJsonOf(this.backend.chain.atomix(txid));
  }

  private ownerParam(value: string): Uint8Array {
    const owner = hexParam(value, PUBLIC_KEY_BYTES, "owner public key");
    const shard = shardOfOwner(owner, this.backend.shardCount);
    if (shard !== this.backend.shard) {
      throw new IosError<ApiErrorCode>("OWNER_OTHER_SHARD", `owner ${value.slice(0, 16)}… belongs to shard ${shard}; ask a validator of shard ${shard} (this node serves shard ${this.backend.shard})`);
    }
    return owner;
  }

  private proofs(): MsbProofService {
    const service = this.backend.msb;
    if (service === undefined) throw new IosError<ApiErrorCode>("MSB_NONE", "this node makes no Micro State Blocks (PoB with an epoch length only)");
    return service;
  }

  /** GET /v1/msb/latest and /v1/msb/:epoch: the header's fields and its proof (type 1, hex). */
  private answerMsb(exchange: HttpExchange, epoch?: number): void {
    const { proof, header, headerHash } = this.proofs().header(epoch);
    this.answer(exchange, "msb", 200, {
      epoch: header.epoch, shard: header.shard, height: header.height, count: header.count, supply: header.supply.toString(), root: toHex(header.root),
      decisions: header.decisions, decisionsRoot: toHex(header.decisionsRoot), headerHash: toHex(headerHash), proof: toHex(proof),
    });
  }

  private answerBinary(exchange: HttpExchange, route: string, bytes: Uint8Array): void {
    this.requests.inc([route, "200"]);
    exchange.send(200, BINARY, bytes);
  }

  private mount(): void {
    this.route("post", "/v1/tx", "submit", async (exchange) => {
      const body = await exchange.readBody(this.limits.maxBodyBytes);
      if (body === undefined) return;
      const tx = transactionFromBody(exchange.contentType, body);
      const [result] = await this.backend.submit([tx]);
      this.submitted(exchange, result!);
    });
    this.route("get", "/v1/tx/:txid", "tx", (exchange, req) => {
      const txid = hexParam(req.getParameter(0), TXID_BYTES, "txid");
      const status = this.backend.status(txid);
      if (status.state === "unknown") {
        const { prunedBelow } = this.backend.chain;
        const kept = prunedBelow > 1 ? ` kept (heights below ${prunedBelow} are pruned)` : "";
        throw new IosError<ApiErrorCode>("TX_NOT_FOUND", `transaction ${toHex(txid)} is neither pending nor in a block of this shard${kept}`);
      }
      const atomix = this.atomixJson(txid);
      this.answer(exchange, "tx", 200, { txid: toHex(txid), ...statusJson(status, (h) => this.blockHashAt(h)), ...(atomix === undefined ? {} : { atomix }) });
    });
    this.route("get", "/v1/atomix/:txid", "atomix", (exchange, req) => {
      const txid = hexParam(req.getParameter(0), TXID_BYTES, "txid");
      const atomix = this.atomixJson(txid);
      if (atomix === undefined) throw new IosError<ApiErrorCode>("ATOMIX_NOT_FOUND", `no final block of shard ${this.backend.shard} touched cross-shard transfer ${toHex(txid)}`);
      this.answer(exchange, "atomix", 200, { txid: toHex(txid), shard: this.backend.shard, ...atomix });
    });
    this.route("get", "/v1/owner/:pk/balance", "balance", (exchange, req) => {
      const owner = this.ownerParam(req.getParameter(0));
      const { balance, outputs } = this.owners.balanceOf(owner);
      this.answer(exchange, "balance", 200, { owner: toHex(owner), shard: this.backend.shard, height: this.backend.chain.tip.height, balance: balance.toString(), outputs });
    });
    this.route("get", "/v1/owner/:pk/utxos", "utxos", (exchange, req) => {
      const owner = this.ownerParam(req.getParameter(0));
      const limitText = queryParam(exchange.query, "limit");
      const limit = limitText === undefined ? DEFAULT_UTXO_LIMIT : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_UTXO_LIMIT || !/^[0-9]+$/.test(limitText ?? "1")) {
        throw new IosError<ApiErrorCode>("API_BAD_PARAMETER", `limit must be an integer in [1, ${MAX_UTXO_LIMIT}], got ${JSON.stringify(limitText)}`);
      }
      const outputs = this.owners.outputsOf(owner);
      this.answer(exchange, "utxos", 200, {
        owner: toHex(owner),
        shard: this.backend.shard,
        height: this.backend.chain.tip.height,
        utxos: outputs.slice(0, limit).map((o) => ({ txid: toHex(o.txid), index: o.index, amount: o.amount.toString() })),
        truncated: outputs.length > limit,
      });
    });
    this.route("get", "/v1/block/:height", "block", (exchange, req) => {
      const text = req.getParameter(0);
      const height = /^[0-9]{1,15}$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(height)) throw new IosError<ApiErrorCode>("API_BAD_PARAMETER", `height must be a non-negative decimal integer, got ${JSON.stringify(text.slice(0, 40))}`);
      const { prunedBelow } = this.backend.chain;
      if (height > 0 && height < prunedBelow) throw new IosError<ApiErrorCode>("MSB_PRUNED", `height ${height} is pruned (this node keeps heights from ${prunedBelow}; the MSBs certify the state)`);
      this.answerBlock(exchange, this.backend.chain.getBlock(height), `no block at height ${height} (tip is ${this.backend.chain.tip.height})`);
    });
    this.route("get", "/v1/block/hash/:hash", "block", (exchange, req) => {
      const hash = hexParam(req.getParameter(0), HASH_BYTES, "block hash");
      this.answerBlock(exchange, this.backend.chain.getBlockByHash(hash), `no block with hash ${toHex(hash)}`);
    });
    this.route("get", "/v1/status", "status", (exchange) => {
      const msb = this.backend.msb?.latestSummary();
      this.answer(exchange, "status", 200, {
        ...this.backend.nodeStatus(),
        ...(msb === undefined ? {} : { msb: { epoch: msb.epoch, height: msb.height, root: toHex(msb.root), count: msb.count, supply: msb.supply.toString() } }),
        shard: this.backend.shard,
        shardCount: this.backend.shardCount,
        epoch: this.backend.epoch,
        tip: { height: this.backend.chain.tip.height, hash: toHex(this.backend.chain.tip.hash) },
        prunedBelow: this.backend.chain.prunedBelow,
        prunes: this.backend.chain.prunes,
        streams: this.streams.size,
      });
    });
    this.route("get", "/v1/epochs", "epochs", (exchange) => {
      this.answer(exchange, "epochs", 200, { epoch: this.backend.epoch, epochs: this.keptLinks().map(epochJson) });
    });
    this.route("get", "/v1/epochs/chain", "epoch-chain", (exchange) => {
      this.requests.inc(["epoch-chain", "200"]);
      exchange.send(200, BINARY, encodeIdentityChain(this.keptLinks()));
    });
    this.route("get", "/v1/epochs/:epoch/drp-transcript", "epoch-transcript", (exchange, req) => {
      const epoch = epochParam(req.getParameter(0));
      const transcript = this.archive.epochTranscript(epoch);
      if (transcript === undefined) throw new IosError<ApiErrorCode>("EPOCH_UNKNOWN", `this node keeps the transcripts of epochs 1..${this.archive.lastEpoch}, not of epoch ${epoch}`);
      this.requests.inc(["epoch-transcript", "200"]);
      exchange.send(200, BINARY, transcript);
    });
    this.route("get", "/v1/msb/latest", "msb", (exchange) => this.answerMsb(exchange));
    this.route("get", "/v1/msb/:epoch", "msb", (exchange, req) => this.answerMsb(exchange, epochParam(req.getParameter(0))));
    this.route("get", "/v1/utxo/:outpoint/proof", "utxo-proof", (exchange, req) => {
      const text = req.getParameter(0);
      const [txidText = "", indexText = ""] = text.split(":");
      const index = /^[0-9]{1,10}$/.test(indexText) ? Number(indexText) : NaN;
      if (!(index <= 0xffffffff)) throw new IosError<ApiErrorCode>("API_BAD_PARAMETER", `an outpoint is <txid hex>:<index>, got ${JSON.stringify(text.slice(0, 80))}`);
      this.answerBinary(exchange, "utxo-proof", this.proofs().utxo(hexParam(txidText, TXID_BYTES, "txid"), index));
    });
    this.route("get", "/v1/tx/:txid/proof", "tx-proof", (exchange, req) => {
      this.answerBinary(exchange, "tx-proof", this.proofs().tx(hexParam(req.getParameter(0), TXID_BYTES, "txid")));
    });
    this.route("get", "/metrics", "metrics", (exchange) => {
      this.requests.inc(["metrics", "200"]);
      exchange.send(200, PROMETHEUS_CONTENT_TYPE, renderPrometheus(this.metricFamilies()));
    });
    this.mountStream();
    this.app.any("/*", (res, req) => {
      const exchange = new HttpExchange(res, req);
      if (this.refusedOffEdge(res, exchange, "unknown")) return;
      this.answerError(exchange, "unknown", new IosError<ApiErrorCode>("API_NOT_FOUND", `no route ${exchange.method.toUpperCase()} ${exchange.url}; see /v1/status, /v1/tx, /v1/owner/:pk/balance, /v1/block/:height, /v1/epochs, /metrics`));
    });
  }

  /** Links 1..lastEpoch of the archive (kept without gaps). */
  private keptLinks(): IdentityLink[] {
    const { archive } = this;
    return Array.from({ length: archive.lastEpoch }, (_, i) => {
      const link = archive.epochLink(i + 1);
      invariant(link !== undefined, `the archive keeps epochs 1..${archive.lastEpoch} without a gap`);
      return link;
    });
  }

  /** The epoch archive this node serves (its home store's). */
  private get archive(): EpochArchiveView {
    return this.backend.archive ?? this.backend.chain;
  }

  private answerBlock(exchange: HttpExchange, bytes: Uint8Array | undefined, missing: string): void {
    if (bytes === undefined) throw new IosError<ApiErrorCode>("BLOCK_NOT_FOUND", missing);
    const withBytes = queryParam(exchange.query, "bytes") === "1";
    this.answer(exchange, "block", 200, blockJson(decodeBlock(bytes), withBytes ? bytes : undefined));
  }

  private submitted(exchange: HttpExchange, result: SubmitResult): void {
    if (result.outcome === "rejected") {
      return this.refuse(exchange, "submit", new IosError(result.code ?? "API_BAD_REQUEST", result.message ?? "transaction refused"));
    }
    const txid = result.txid!;
    this.answer(exchange, "submit", result.outcome === "accepted" ? 202 : 200, {
      txid: toHex(txid),
      outcome: result.outcome,
      status: statusJson(this.backend.status(txid), (h) => this.blockHashAt(h)),
    });
  }

  private metricFamilies(): MetricFamily[] {
    const memory = process.memoryUsage();
    return [
      ...this.backend.metrics(),
      this.requests.family(),
      this.streamFrames.family(),
      this.streamDrops.family(),
      this.streamsRefused.family(),
      this.streamsIdleClosed.family(),
      { name: "ios_api_stream_queued_bytes", help: "Bytes the stream subscribers hold unread", type: "gauge", samples: [{ value: this.subscriberQueueBytes }] },
      { name: "ios_api_stream_connections", help: "Open WebSocket stream connections", type: "gauge", samples: [{ value: this.streams.size }] },
      { name: "ios_api_indexed_owners", help: "Owners with unspent outputs in the owner index", type: "gauge", samples: [{ value: this.owners.ownerCount }] },
      { name: "process_resident_memory_bytes", help: "Resident set size", type: "gauge", samples: [{ value: memory.rss }] },
      { name: "nodejs_heap_used_bytes", help: "V8 heap in use", type: "gauge", samples: [{ value: memory.heapUsed }] },
    ];
  }

  private mountStream(): void {
    this.app.ws<StreamClient>(STREAM_PATH, {
      maxPayloadLength: this.limits.maxStreamFrameBytes,
      // We watch the buffered amount ourselves (slow subscribers are closed), so uWS never drops.
      maxBackpressure: this.limits.maxSubscriberBufferBytes + this.limits.maxStreamFrameBytes,
      closeOnBackpressureLimit: 0,
      idleTimeout: STREAM_IDLE_TIMEOUT_SEC,
      sendPingsAutomatically: true,
      // sendBinary's compress hint relies on it.
      compression: uWS.DISABLED,
      upgrade: (res, req, context) => {
        const exchange = new HttpExchange(res, req);
        if (this.refusedOffEdge(res, exchange, "stream")) return;
        const address = Buffer.from(res.getProxiedRemoteAddressAsText()).toString() || Buffer.from(res.getRemoteAddressAsText()).toString();
        const refusal = this.streamRefusal(address);
        if (refusal !== undefined) {
          this.streamsRefused.inc([refusal.code]);
          this.answerError(exchange, "stream", refusal);
          return;
        }
        const client: StreamClient = { address, lastActiveMs: performance.now(), nextSequence: 0, inFlight: 0, subscribed: false, atomix: true, open: true, ackChain: Promise.resolve() };
        res.upgrade(client, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context);
      },
      open: (ws) => {
        this.streams.add(ws);
        const { address } = ws.getUserData();
        this.streamsByAddress.set(address, (this.streamsByAddress.get(address) ?? 0) + 1);
      },
      message: (ws, message, isBinary) => {
        const client = ws.getUserData();
        if (!isBinary) {
          this.control(ws, client, Buffer.from(message).toString("utf8"));
          return;
        }
        this.streamFrames.inc(["submission"]);
        client.lastActiveMs = performance.now();
        this.submitFrame(ws, client, new Uint8Array(message.slice(0)));
      },
      close: (ws) => {
        const client = ws.getUserData();
        client.open = false;
        this.streams.delete(ws);
        const held = (this.streamsByAddress.get(client.address) ?? 1) - 1;
        if (held > 0) this.streamsByAddress.set(client.address, held);
        else this.streamsByAddress.delete(client.address);
      },
    });
  }

  private sendFrame(ws: WebSocket<StreamClient>, client: StreamClient, frame: Uint8Array): void {
    if (!client.open) return;
    ws.cork(() => sendBinary(ws, frame));
  }

  private control(ws: WebSocket<StreamClient>, client: StreamClient, text: string): void {
    let op: unknown;
    let atomix: unknown;
    try {
      ({ op, atomix } = (JSON.parse(text) as Record<string, unknown>) ?? {});
    } catch {
      // The client's bad JSON: answered below with STREAM_BAD_CONTROL, like any unknown op.
      op = undefined;
    }
    if ((op === "subscribe" && (atomix === undefined || typeof atomix === "boolean")) || (op === "unsubscribe" && atomix === undefined)) {
      client.subscribed = op === "subscribe";
      client.atomix = atomix !== false;
      client.lastActiveMs = performance.now();
      this.streamFrames.inc([op]);
      return;
    }
    this.streamFrames.inc(["bad_control"]);
    this.sendFrame(ws, client, encodeError("STREAM_BAD_CONTROL", `text frames must be {"op":"subscribe"} (with "atomix": false to leave out ATOMIX frames) or {"op":"unsubscribe"}, got ${JSON.stringify(text.slice(0, 80))}`));
  }

  private submitFrame(ws: WebSocket<StreamClient>, client: StreamClient, frame: Uint8Array): void {
    const sequence = client.nextSequence++;
    let transactions: Uint8Array[];
    try {
      if (client.inFlight >= MAX_FRAMES_IN_FLIGHT) {
        throw new IosError("STREAM_BUSY", `frame ${sequence}: ${MAX_FRAMES_IN_FLIGHT} frames already await their acks; wait for an ack before sending more`);
      }
      transactions = decodeSubmission(frame);
    } catch (error) {
      if (!(error instanceof IosError)) this.failures.record("api", error, { route: "stream" });
      const { code, message } = error instanceof IosError ? error : new IosError<ApiErrorCode>("API_INTERNAL", String(error));
      client.ackChain = client.ackChain.then(() => this.sendFrame(ws, client, encodeError(code, `frame ${sequence}: ${message}`)));
      return;
    }
    client.inFlight++;
    const results = this.backend.submit(transactions);
    client.ackChain = client.ackChain.then(async () => {
      try {
        const acks = encodeAck(sequence, await results);
        this.streamFrames.inc(["ack"]);
        this.sendFrame(ws, client, acks);
      } catch (error) {
        // ClientBackend.submit never rejects: this is a bug, answered and recorded.
        this.failures.record("api", error, { route: "stream" });
        this.sendFrame(ws, client, encodeError("API_INTERNAL", `frame ${sequence}: ${(error as Error)?.message ?? String(error)}`));
      } finally {
        client.inFlight--;
      }
    });
  }

  private confirmations(batch: ConfirmationBatch): void {
    this.owners.blockCommitted(batch.height);
    this.broadcast("events", () => encodeEvents(batch));
  }

  private optimistic(batch: OptimisticBatch): void {
    if (batch.txids.length === 0) return;
    this.broadcast("optimistic", () => encodeOptimistic(batch));
  }

  /**
   * Sends one frame (encoded once, on first need) to every subscriber; drops those past their own
   * unread limit, then, while all together hold more than the node's queue budget, the furthest
   * behind: what subscribers can pin is maxSubscriberQueueBytes plus this frame once per subscriber.
   */
  private broadcast(kind: "events" | "optimistic" | "atomix", encode: () => Uint8Array): void {
    let frame: Uint8Array | undefined;
    const backlogs: { ws: WebSocket<StreamClient>; bytes: number }[] = [];
    let queued = 0;
    for (const ws of this.streams) {
      const client = ws.getUserData();
      if (!client.subscribed || !client.open || (kind === "atomix" && !client.atomix)) continue;
      if (ws.getBufferedAmount() > this.limits.maxSubscriberBufferBytes) {
        this.dropSlowConsumer(ws);
        continue;
      }
      frame ??= encode();
      this.streamFrames.inc([kind]);
      sendBinary(ws, frame);
      const bytes = ws.getBufferedAmount();
      if (bytes > 0) backlogs.push({ ws, bytes });
      queued += bytes;
    }
    if (queued <= this.limits.maxSubscriberQueueBytes) return;
    backlogs.sort((a, b) => b.bytes - a.bytes);
    for (const { ws, bytes } of backlogs) {
      if (queued <= this.limits.maxSubscriberQueueBytes) break;
      this.dropSlowConsumer(ws);
      queued -= bytes;
    }
  }

  private dropSlowConsumer(ws: WebSocket<StreamClient>): void {
    this.streamDrops.inc([]);
    ws.getUserData().open = false;
    ws.end(CLOSE_SLOW_CONSUMER, "SLOW_CONSUMER");
  }

  /** Bytes the subscribers hold unread, in all (the gauge ios_api_stream_queued_bytes). */
  get subscriberQueueBytes(): number {
    let queued = 0;
    for (const ws of this.streams) if (ws.getUserData().open) queued += ws.getBufferedAmount();
    return queued;
  }

  /** Why a stream from `address` is refused now: shutting down, all slots taken, or the address holds its share. */
  private streamRefusal(address: string): IosError<ApiErrorCode> | undefined {
    const { maxStreams, maxStreamsPerAddress } = this.limits;
    if (this.stopped) return new IosError<ApiErrorCode>("API_UNAVAILABLE", "the node is shutting down");
    const open = this.streams.size;
    const held = this.streamsByAddress.get(address) ?? 0;
    if (open >= maxStreams) return new IosError<ApiErrorCode>("API_UNAVAILABLE", `the node already serves ${maxStreams} streams; retry later`);
    if (held >= maxStreamsPerAddress) return new IosError<ApiErrorCode>("API_TOO_MANY_STREAMS", `${address} already holds ${held} streams, the most one client address may; close one first`);
    const reserved = Math.ceil(maxStreams * RESERVED_STREAM_SHARE);
    if (held > 0 && maxStreams - open <= reserved) {
      return new IosError<ApiErrorCode>("API_UNAVAILABLE", `the last ${reserved} of ${maxStreams} stream slots are kept for clients without one; ${address} already holds ${held}; retry later`);
    }
    return undefined;
  }

  /** Closes the streams that neither subscribed nor submitted within streamIdleMs (close code 4009 STREAM_IDLE). */
  private closeIdleStreams(): void {
    const oldest = performance.now() - this.limits.streamIdleMs;
    for (const ws of this.streams) {
      const client = ws.getUserData();
      if (!client.open || client.subscribed || client.inFlight > 0 || client.lastActiveMs > oldest) continue;
      this.streamsIdleClosed.inc([]);
      client.open = false;
      ws.end(CLOSE_IDLE, "STREAM_IDLE");
    }
  }
}
