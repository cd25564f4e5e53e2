/**
 * The HTTP edge of a validator's port (issue 17): a node:net server that owns the public
 * host:port, checks every request head before uWebSockets.js sees it, and relays the bytes to
 * the uWS app listening on a private Unix socket. uWS 20.30 decides malformed heads in C++ and
 * either drops the connection unanswered (a Content-Length of -1, abc, 1e3 or 2^70; a lowercase
 * method; a 1 MB URL) or never answers (about 46 header fields or more, HTTP/1.0, a missing
 * Host, bare-LF lines, an absolute-form target; a non-HTTP line is held 10 s): here each gets
 * its status and a JSON error code, then a lingering close, so the client reads the answer
 * instead of a reset. Refusals of uWS itself (413 of a streamed body) get the lingering close too.
 *
 * The client's address reaches uWS in a PROXY protocol v2 header (HttpResponse.
 * getProxiedRemoteAddress): the stream's per-address limits see the real client. After a
 * WebSocket upgrade (the client stream, the peer links) bytes are relayed as they come.
 */
import type { Logger } from "../log/logger.js";
import { isIPv4, isIPv6, createServer, connect, type Server, type Socket } from "node:net";
import { Worker } from "node:worker_threads";
import { IosError, hasCodeIn } from "../errors.js";
import type { TransportErrorCode } from "../net/uws-transport.js";
import { API_ERROR_CODES, statusOfCode, type ApiErrorCode } from "./errors.js";
import { STATUS_TEXT } from "./http.js";

/** Request line plus header fields: 16 KiB, Node's own default (maxHeaderSize); clients here send under 1 KiB. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Request target: 8,000 octets, the request-line length RFC 9112 §3 asks every server to support. */
export const MAX_TARGET_BYTES = 8000;
/** Header fields: uWS 20.30 stops answering from about 46 on (measured), so the edge refuses past 40. */
export const MAX_HEADER_FIELDS = 40;
/** A request head must be complete this long after its first byte (else 408): slow or not HTTP at all. */
export const HEAD_TIMEOUT_MS = 5000;
/** A connection with no request under way is closed after this long, as uWS closes its idle ones (10 s). */
export const IDLE_TIMEOUT_MS = 10_000;
/** After an answer that closes the connection, what the client still sends is read and dropped this long (lingering close). */
export const LINGER_MS = 2000;
/** Chunk-size line of a chunked body (hex size and extensions). */
const MAX_CHUNK_LINE_BYTES = 1024;
/** A method is an upper-case token (RFC 9110 §9; uWS refuses lower case) of at most 20 letters. */
const REQUEST_LINE = /^([A-Z]{1,20}) (\S+) HTTP\/(\d)\.(\d)$/;
/** Header field name: an RFC 9110 §5.6.2 token. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CONTENT_LENGTH = /^[0-9]{1,15}$/;
const HEAD_END = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);

export interface EdgeOptions {
  readonly host: string;
  readonly port: number;
  /** The Unix socket uWS listens on. */
  readonly upstreamPath: string;
  /** Largest declared body (no route takes more): 413 past it. */
  readonly maxBodyBytes: number;
}

/** What a valid head asks of the relay. */
interface Head {
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly upgrade: boolean;
}

/** An edge refusal (never relayed): its status comes from the code (errors.ts). */
function refusal(code: ApiErrorCode, message: string): IosError<ApiErrorCode> {
  return new IosError(code, message);
}

/** Checks a complete request line: an HTTP/1.1 request for a path. */
function requestLine(line: string): IosError<ApiErrorCode> | undefined {
  if (line.length > MAX_TARGET_BYTES + 32) return refusal("API_URL_TOO_LONG", `the request target exceeds ${MAX_TARGET_BYTES} bytes`);
  const match = REQUEST_LINE.exec(line);
  if (match === null) return refusal("API_NOT_HTTP", `not an HTTP/1.1 request line (METHOD /path HTTP/1.1): ${JSON.stringify(line.slice(0, 80))}`);
  const [, , target, major, minor] = match;
  if (major !== "1" || minor !== "1") return refusal("API_HTTP_VERSION", `HTTP/${major}.${minor} is not served; use HTTP/1.1`);
  if (target!.length > MAX_TARGET_BYTES) return refusal("API_URL_TOO_LONG", `the request target of ${target!.length} bytes exceeds ${MAX_TARGET_BYTES}`);
  if (!target!.startsWith("/")) return refusal("API_BAD_REQUEST", `the request target must be a path starting with "/", got ${JSON.stringify(target!.slice(0, 80))}`);
  return undefined;
}

/** Checks the start of a head still arriving, so that what is not HTTP is refused at once rather than after a timeout. */
function partialHead(bytes: Buffer): IosError<ApiErrorCode> | undefined {
  const lineEnd = bytes.indexOf(10);
  const start = bytes.toString("latin1", 0, Math.min(lineEnd < 0 ? bytes.length : lineEnd, 24));
  const space = start.indexOf(" ");
  const method = space < 0 ? start : start.slice(0, space);
  if (method.length > 0 && !/^[A-Z]*$/.test(method)) return refusal("API_NOT_HTTP", `not an HTTP request: it starts ${JSON.stringify(start)}`);
  if (space < 0 && method.length > 20) return refusal("API_NOT_HTTP", `not an HTTP request: it starts ${JSON.stringify(start)}`);
  if (lineEnd < 0) return bytes.length > MAX_TARGET_BYTES + 32 ? refusal("API_URL_TOO_LONG", `the request target exceeds ${MAX_TARGET_BYTES} bytes`) : undefined;
  if (lineEnd === 0 || bytes[lineEnd - 1] !== 13) return refusal("API_NOT_HTTP", "the request line must end in CRLF");
  return requestLine(bytes.toString("latin1", 0, lineEnd - 1));
}

/**
 * A well-formed head: an HTTP/1.1 request line for a path, then header fields (an RFC 9110
 * token, a colon, a value without CR, LF or NUL). One match is the fast path of `parseHead`.
 */
const WELL_FORMED_HEAD = /^[A-Z]{1,20} \/\S* HTTP\/1\.1(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n\0]*)*$/;
/** A plain request: one Host, no Content-Length, Transfer-Encoding or Upgrade (a GET as clients send it). */
const BODY_OR_UPGRADE_FIELD = /\r\n(?:content-length|transfer-encoding|upgrade|host):/gi;

/** Parses a complete head (without its final CRLFCRLF): a refusal, or what the relay must know. */
function parseHead(text: string, maxBodyBytes: number): IosError<ApiErrorCode> | Head {
  if (text.length <= MAX_TARGET_BYTES && WELL_FORMED_HEAD.test(text)) {
    let fields = 0;
    for (let at = text.indexOf("\r\n"); at >= 0; at = text.indexOf("\r\n", at + 2)) fields++;
    const special = text.match(BODY_OR_UPGRADE_FIELD);
    if (fields <= MAX_HEADER_FIELDS && special !== null && special.length === 1 && special[0]!.toLowerCase() === "\r\nhost:") return PLAIN_REQUEST;
  }
  return parseHeadFully(text, maxBodyBytes);
}

const PLAIN_REQUEST: Head = { contentLength: 0, chunked: false, upgrade: false };

/** Every check of a head, field by field, with the precise refusal. */
function parseHeadFully(text: string, maxBodyBytes: number): IosError<ApiErrorCode> | Head {
  const lines = text.split("\r\n");
  const line = requestLine(lines[0]!);
  if (line !== undefined) return line;
  if (lines.length - 1 > MAX_HEADER_FIELDS) return refusal("API_HEADERS_TOO_LARGE", `${lines.length - 1} header fields exceed the limit of ${MAX_HEADER_FIELDS}`);
  let host = 0;
  const lengths: string[] = [];
  let transferEncoding: string | undefined;
  let upgrade = false;
  for (let i = 1; i < lines.length; i++) {
    const field = lines[i]!;
    const colon = field.indexOf(":");
    const name = colon < 0 ? field : field.slice(0, colon);
    if (colon < 0 || !FIELD_NAME.test(name) || /[\r\n\0]/.test(field)) return refusal("API_BAD_REQUEST", `malformed header field ${JSON.stringify(field.slice(0, 80))}`);
    const value = field.slice(colon + 1).trim();
    switch (name.toLowerCase()) {
      case "host":
        host++;
        break;
      case "content-length":
        lengths.push(value);
        break;
      case "transfer-encoding":
        if (transferEncoding !== undefined) return refusal("API_BAD_REQUEST", "Transfer-Encoding is given more than once");
        transferEncoding = value.toLowerCase();
        break;
      case "upgrade":
        upgrade = value.toLowerCase() === "websocket";
        break;
    }
  }
  if (host !== 1) return refusal("API_BAD_REQUEST", host === 0 ? "an HTTP/1.1 request needs a Host header" : "the Host header is given more than once");
  if (lengths.length > 1) return refusal("API_BAD_CONTENT_LENGTH", `Content-Length is given ${lengths.length} times (${lengths.map((l) => JSON.stringify(l)).join(", ")}); give it once`);
  if (transferEncoding !== undefined) {
    if (transferEncoding !== "chunked") return refusal("API_BAD_REQUEST", `Transfer-Encoding ${JSON.stringify(transferEncoding)} is not supported; use chunked or Content-Length`);
    if (lengths.length > 0) return refusal("API_BAD_REQUEST", "a request must not carry both Transfer-Encoding and Content-Length");
    return { contentLength: 0, chunked: true, upgrade: false };
  }
  const declared = lengths[0];
  if (declared === undefined) return { contentLength: 0, chunked: false, upgrade };
  if (!CONTENT_LENGTH.test(declared)) return refusal("API_BAD_CONTENT_LENGTH", `Content-Length ${JSON.stringify(declared.slice(0, 40))} is not a byte count`);
  const contentLength = Number(declared);
  if (contentLength > maxBodyBytes) return refusal("API_BODY_TOO_LARGE", `body of ${contentLength} bytes exceeds the limit of ${maxBodyBytes} bytes`);
  return { contentLength, chunked: false, upgrade: upgrade && contentLength === 0 };
}

/**
 * Finds where a chunked body ends (RFC 9112 §7.1), as its bytes pass, and refuses one past the
 * body limit before uWS sees the excess (uWS 20.30 may drop a refused chunked body unanswered).
 */
class ChunkScanner {
  private state: "size" | "data" | "data-end" | "trailer" = "size";
  private line = "";
  private left = 0;
  private total = 0;

  constructor(private readonly maxBodyBytes: number) {}

  /** Bytes of `bytes` that belong to the body, and whether the body ended there; throws an API refusal on bad framing. */
  scan(bytes: Buffer): { used: number; done: boolean } {
    let at = 0;
    while (at < bytes.length) {
      if (this.state === "data") {
        const take = Math.min(this.left, bytes.length - at);
        at += take;
        this.left -= take;
        if (this.left === 0) this.state = "data-end";
        continue;
      }
      const lineEnd = bytes.indexOf(10, at);
      const end = lineEnd < 0 ? bytes.length : lineEnd;
      this.line += bytes.toString("latin1", at, end);
      if (this.line.length > MAX_CHUNK_LINE_BYTES) throw refusal("API_BAD_REQUEST", "a chunk line is too long");
      at = lineEnd < 0 ? bytes.length : lineEnd + 1;
      if (lineEnd < 0) break;
      const line = this.line;
      this.line = "";
      if (!line.endsWith("\r")) throw refusal("API_BAD_REQUEST", "chunk lines must end in CRLF");
      const content = line.slice(0, -1);
      if (this.state === "data-end") {
        if (content !== "") throw refusal("API_BAD_REQUEST", "chunk data is longer than its size");
        this.state = "size";
      } else if (this.state === "size") {
        const size = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(content);
        if (size === null) throw refusal("API_BAD_REQUEST", `bad chunk size line ${JSON.stringify(content.slice(0, 40))}`);
        if (size[2] !== undefined) throw refusal("API_BAD_REQUEST", "chunk extensions are not supported");
        this.left = parseInt(size[1]!, 16);
        this.total += this.left;
        if (this.total > this.maxBodyBytes) throw refusal("API_BODY_TOO_LARGE", `body exceeds the limit of ${this.maxBodyBytes} bytes`);
        this.state = this.left === 0 ? "trailer" : "data";
      } else if (content === "") {
        return { used: at, done: true };
      }
    }
    return { used: at, done: false };
  }
}

/** The PROXY protocol v2 header (haproxy's proxy-protocol.txt §2.2) that tells uWS who the client is. */
function proxyHeader(socket: Socket): Buffer {
  const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  const plain = (address: string | undefined) => (address?.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address?.split("%")[0]);
  const source = plain(socket.remoteAddress);
  const destination = plain(socket.localAddress);
  const v4 = source !== undefined && destination !== undefined && isIPv4(source) && isIPv4(destination);
  const v6 = source !== undefined && destination !== undefined && isIPv6(source) && isIPv6(destination);
  if (!v4 && !v6) return Buffer.from([...signature, 0x20, 0x00, 0x00, 0x00]);
  const addressBytes = v4 ? 4 : 16;
  const header = Buffer.alloc(16 + 2 * addressBytes + 4);
  header.set(signature);
  header[12] = 0x21; // version 2, PROXY
  header[13] = v4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  header.writeUInt16BE(2 * addressBytes + 4, 14);
  header.set(v4 ? ipv4Bytes(source!) : ipv6Bytes(source!), 16);
  header.set(v4 ? ipv4Bytes(destination!) : ipv6Bytes(destination!), 16 + addressBytes);
  header.writeUInt16BE(socket.remotePort ?? 0, 16 + 2 * addressBytes);
  header.writeUInt16BE(socket.localPort ?? 0, 18 + 2 * addressBytes);
  return header;
}

function ipv4Bytes(address: string): number[] {
  return address.split(".").map(Number);
}

function ipv6Bytes(address: string): Uint8Array {
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

type Mode = "head" | "body" | "chunked" | "upgrading" | "tunnel" | "closing";

/** One client connection: its heads checked, its bytes relayed to its own uWS connection. */
class EdgeConnection {
  private mode: Mode = "head";
  /** Client bytes received and not yet relayed. */
  private pending: Buffer = EMPTY;
  private bodyLeft = 0;
  private chunks: ChunkScanner | undefined;
  private upstream: Socket | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  /** A refusal waiting for uWS to finish the requests relayed before it. */
  private deferred: IosError<ApiErrorCode> | undefined;

  constructor(
    private readonly client: Socket,
    private readonly edge: EdgeServer,
  ) {
    client.setNoDelay(true);
    client.setTimeout(IDLE_TIMEOUT_MS, () => this.client.destroy());
    client.on("data", (data: Buffer) => this.received(data));
    client.on("drain", () => this.upstream?.resume());
    client.on("end", () => (this.upstream === undefined ? this.client.end() : this.upstream.end()));
    client.on("error", () => this.client.destroy());
    client.on("close", () => this.closed());
  }

  private received(data: Buffer): void {
    if (this.mode === "closing") return;
    if (this.mode === "tunnel") {
      this.relay(data);
      return;
    }
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.advance();
  }

  /** Relays what the pending bytes allow, head by head. */
  private advance(): void {
    try {
      while (this.pending.length > 0) {
        if (this.mode === "head") {
          if (!this.takeHead()) return;
        } else if (this.mode === "body") {
          const take = Math.min(this.bodyLeft, this.pending.length);
          this.relay(this.pending.subarray(0, take));
          this.pending = this.pending.subarray(take);
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.mode = "head";
        } else if (this.mode === "chunked") {
          const { used, done } = this.chunks!.scan(this.pending);
          this.relay(this.pending.subarray(0, used));
          this.pending = this.pending.subarray(used);
          if (done) this.mode = "head";
        } else if (this.mode === "tunnel") {
          this.relay(this.pending);
          this.pending = EMPTY;
        } else {
          // upgrading: held until uWS answers the upgrade; closing: dropped.
          if (this.mode === "closing") this.pending = EMPTY;
          return;
        }
      }
    } catch (error) {
      this.refuse(hasCodeIn(error, API_ERROR_CODES) ? error : refusal("API_BAD_REQUEST", String(error)));
    }
  }

  /** Takes one complete head off the pending bytes and relays it; false when it is incomplete or refused. */
  private takeHead(): boolean {
    const end = this.pending.indexOf(HEAD_END);
    if (end < 0) {
      const early = partialHead(this.pending);
      if (early !== undefined) {
        this.refuse(early);
      } else if (this.pending.length > MAX_HEAD_BYTES) {
        this.refuse(refusal("API_HEADERS_TOO_LARGE", `the request head exceeds ${MAX_HEAD_BYTES} bytes`));
      } else {
        this.headTimer ??= setTimeout(() => this.refuse(refusal("API_REQUEST_TIMEOUT", `no complete request head within ${HEAD_TIMEOUT_MS} ms`)), HEAD_TIMEOUT_MS);
      }
      return false;
    }
    if (this.headTimer !== undefined) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    }
    if (end + HEAD_END.length > MAX_HEAD_BYTES) {
      const early = partialHead(this.pending);
      this.refuse(early ?? refusal("API_HEADERS_TOO_LARGE", `the request head of ${end + HEAD_END.length} bytes exceeds ${MAX_HEAD_BYTES}`));
      return false;
    }
    const head = parseHead(this.pending.toString("latin1", 0, end), this.edge.options.maxBodyBytes);
    if (head instanceof IosError) {
      this.refuse(head);
      return false;
    }
    this.relay(this.pending.subarray(0, end + HEAD_END.length));
    this.pending = this.pending.subarray(end + HEAD_END.length);
    if (head.upgrade) {
      // Nothing is relayed until uWS has answered the upgrade: the client waits in TCP's buffers, not in ours.
      this.mode = "upgrading";
      this.client.pause();
    } else if (head.chunked) {
      this.mode = "chunked";
      this.chunks = new ChunkScanner(this.edge.options.maxBodyBytes);
    } else if (head.contentLength > 0) {
      this.mode = "body";
      this.bodyLeft = head.contentLength;
    }
    return true;
  }

  private relay(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.upstream === undefined) this.openUpstream();
    if (!this.upstream!.write(bytes)) this.client.pause();
  }

  private openUpstream(): void {
    const upstream = connect(this.edge.options.upstreamPath);
    this.upstream = upstream;
    // From here on uWS's own timeouts govern the connection (HTTP idle, WebSocket pings).
    this.client.setTimeout(0);
    upstream.write(proxyHeader(this.client));
    upstream.on("data", (data: Buffer) => this.answered(data));
    upstream.on("drain", () => this.client.resume());
    upstream.on("error", () => upstream.destroy());
    upstream.on("close", () => this.upstreamClosed());
  }

  /** uWS's answer goes to the client as it is; the answer to an upgrade decides whether the rest is a tunnel. */
  private answered(data: Buffer): void {
    if (!this.client.write(data)) this.upstream?.pause();
    if (this.mode === "upgrading") {
      this.mode = data.toString("latin1", 0, 12) === "HTTP/1.1 101" ? "tunnel" : "head";
      if (this.mode === "tunnel") this.edge.tunneled();
      this.client.resume();
      this.advance();
    }
  }

  private upstreamClosed(): void {
    this.upstream = undefined;
    if (this.client.destroyed) return;
    if (this.deferred !== undefined) this.answer(this.deferred);
    this.linger();
  }

  /** Answers `error` and closes; after requests already relayed, once uWS has answered them. */
  private refuse(error: IosError<ApiErrorCode>): void {
    if (this.mode === "closing") return;
    this.edge.refused(error.code);
    this.mode = "closing";
    this.pending = EMPTY;
    if (this.headTimer !== undefined) clearTimeout(this.headTimer);
    if (this.upstream !== undefined) {
      this.deferred = error;
      const upstream = this.upstream;
      upstream.end();
      setTimeout(() => upstream.destroy(), LINGER_MS).unref();
      return;
    }
    this.answer(error);
    this.linger();
  }

  private answer(error: IosError<ApiErrorCode>): void {
    const status = statusOfCode(error.code);
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    const body = JSON.stringify({ error: { code: error.code, message } });
    this.client.write(
      `HTTP/1.1 ${STATUS_TEXT[status] ?? `${status} Error`}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  /** Ends the client's side and drops what it still sends for LINGER_MS, so it reads the answer rather than a reset. */
  private linger(): void {
    this.mode = "closing";
    this.client.resume();
    this.client.end();
    setTimeout(() => this.client.destroy(), LINGER_MS).unref();
  }

  private closed(): void {
    if (this.headTimer !== undefined) clearTimeout(this.headTimer);
    this.upstream?.destroy();
    this.edge.connections.delete(this.client);
  }
}

/** The listener itself, in the edge's worker thread (edge-worker.ts). */
export class EdgeServer {
  readonly connections = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly options: EdgeOptions,
    /** Called with the code of every request the edge answers itself. */
    readonly refused: (code: string) => void,
    /** Called for every WebSocket upgrade uWS accepted through the edge. */
    readonly tunneled: () => void,
    /** The port it listens on (the configured one, or the ephemeral one picked). */
    readonly port: number,
  ) {}

  static listen(options: EdgeOptions, refused: (code: string) => void, tunneled: () => void): Promise<EdgeServer> {
    // Half-open: a client that ends its side still gets the answers to what it sent.
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: options.host, port: options.port, exclusive: true }, () => {
        const edge = new EdgeServer(server, options, refused, tunneled, (server.address() as { port: number }).port);
        server.on("connection", (socket: Socket) => {
          edge.connections.add(socket);
          new EdgeConnection(socket, edge);
        });
        resolve(edge);
      });
    });
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Messages of the edge's worker thread to the validator's. */
export type EdgeWorkerMessage =
  | { readonly listening: number }
  | { readonly failed: string }
  | { readonly refused: string }
  | { readonly tunneled: true }
  | { readonly closed: true };

/**
 * The public listener of a validator's port (see the top of this file), run in a worker thread
 * of its own: relaying every byte costs about as much CPU as uWS's handling of a small request,
 * and there it does not take the validator's thread (uWS, the pipeline, consensus).
 */
export class HttpEdge {
  /** Requests the edge refused itself, by error code. */
  readonly refusals = new Map<string, number>();
  /** WebSocket connections relayed (client streams, and peer links dialed to the client port rather than the peer port). */
  tunnels = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly options: EdgeOptions,
    /** The port it listens on (the configured one, or the ephemeral one picked). */
    readonly port: number,
    logger: Logger,
  ) {
    worker.on("message", (message: EdgeWorkerMessage) => {
      if ("refused" in message) this.refusals.set(message.refused, (this.refusals.get(message.refused) ?? 0) + 1);
      else if ("tunneled" in message) this.tunnels++;
    });
    // A bug in the edge must not take the validator down with an unhandled 'error' event.
    worker.on("error", (error) => logger.error({ err: error, code: "API_EDGE_STOPPED" }, "the HTTP edge stopped"));
  }

  /** Starts the edge's worker; `logger` hears of a failure of the edge itself. */
  static listen(options: EdgeOptions, logger: Logger): Promise<HttpEdge> {
    const worker = new Worker(new URL("./edge-worker.js", import.meta.url), { workerData: options });
    worker.unref();
    return new Promise((resolve, reject) => {
      const failed = (reason: string) => {
        void worker.terminate();
        reject(new IosError<TransportErrorCode>("TRANSPORT_LISTEN_FAILED", `cannot listen on ${options.host}:${options.port} (${reason})`));
      };
      worker.once("error", (error) => failed(error.message));
      worker.once("message", (message: EdgeWorkerMessage) => {
        if ("listening" in message) resolve(new HttpEdge(worker, options, message.listening, logger));
        else failed("failed" in message ? message.failed : "the edge worker stopped");
      });
    });
  }

  /** Stops listening, closes every connection and ends the worker. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      // A worker that already died (see the 'error' handler) resolves through 'exit'.
      this.worker.once("exit", () => resolve());
      this.worker.on("message", (message: EdgeWorkerMessage) => {
        if ("closed" in message) void this.worker.terminate();
      });
      this.worker.postMessage("close");
    });
    return this.closing;
  }
}
