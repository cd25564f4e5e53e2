/**
 * One HTTP exchange on uWebSockets.js, following its rules: `onAborted` is registered before
 * anything asynchronous, the body is read with `onData` (each chunk copied: uWS reuses the
 * buffer), writes are corked, and nothing touches `res` once the client went away or it was
 * answered. Bodies are size-limited from the Content-Length header and again while streaming.
 */
import type { HttpRequest, HttpResponse } from "uWebSockets.js";
import { IosError } from "../errors.js";
import { RETRY_AFTER_SECONDS, SATURATED_CODES, statusOfCode, type ApiErrorCode } from "./errors.js";

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "200 OK",
  202: "202 Accepted",
  400: "400 Bad Request",
  404: "404 Not Found",
  405: "405 Method Not Allowed",
  408: "408 Request Timeout",
  413: "413 Payload Too Large",
  414: "414 URI Too Long",
  415: "415 Unsupported Media Type",
  429: "429 Too Many Requests",
  431: "431 Request Header Fields Too Large",
  500: "500 Internal Server Error",
  503: "503 Service Unavailable",
  505: "505 HTTP Version Not Supported",
};

export class HttpExchange {
  private done = false;
  private aborted = false;
  /** The body was refused before it was read in full: the answer must close the connection. */
  bodyUnread = false;
  /** Request facts copied up front: `req` is only valid until the handler returns. */
  readonly method: string;
  readonly url: string;
  readonly query: string;
  readonly contentType: string;
  readonly contentLength: string;
  /** A HEAD request: answered with the headers a GET would get, never a body (RFC 9110 §9.3.2). */
  readonly headOnly: boolean;

  constructor(
    private readonly res: HttpResponse,
    req: HttpRequest,
  ) {
    this.method = req.getMethod();
    this.headOnly = this.method === "head";
    this.url = req.getUrl();
    this.query = req.getQuery() ?? "";
    this.contentType = req.getHeader("content-type").toLowerCase();
    this.contentLength = req.getHeader("content-length");
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  get answered(): boolean {
    return this.done || this.aborted;
  }

  /** Answers with JSON; `closeConnection` drops the socket after the answer. */
  json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}, closeConnection = false): void {
    this.send(status, "application/json", JSON.stringify(body), headers, closeConnection);
  }

  send(status: number, contentType: string, body: string | Uint8Array, headers: Readonly<Record<string, string>> = {}, closeConnection = false): void {
    if (this.answered) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(STATUS_TEXT[status] ?? `${status} Error`).writeHeader("content-type", contentType);
      for (const [key, value] of Object.entries(headers)) this.res.writeHeader(key, value);
      if (!this.headOnly) {
        this.res.end(body, closeConnection);
        return;
      }
      // uWS 20.30 leaves a response open after endWithoutBody(length), so the length goes in as a
      // header; a HEAD request carries no body, so its connection never needs closing.
      this.res.writeHeader("content-length", String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength));
      this.res.endWithoutBody();
    });
  }

  error(error: IosError, closeConnection = false, extraHeaders: Readonly<Record<string, string>> = {}): void {
    const headers: Record<string, string> = { ...extraHeaders };
    if (SATURATED_CODES.has(error.code)) headers["retry-after"] = String(RETRY_AFTER_SECONDS);
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    this.json(statusOfCode(error.code), { error: { code: error.code, message } }, headers, closeConnection);
  }

  /**
   * Reads the whole body. Rejects with API_BODY_TOO_LARGE as soon as it is known to exceed
   * `limit` bytes (declared or streamed; the caller answers and closes the connection, since the
   * rest would still arrive) and with API_BAD_REQUEST for a malformed Content-Length. Resolves
   * undefined if the client went away first.
   */
  readBody(limit: number): Promise<Buffer | undefined> {
    const declared = this.contentLength === "" ? undefined : Number(this.contentLength);
    if (declared !== undefined && (!/^[0-9]+$/.test(this.contentLength) || !Number.isSafeInteger(declared))) {
      this.bodyUnread = true;
      return Promise.reject(new IosError<ApiErrorCode>("API_BAD_REQUEST", `Content-Length ${JSON.stringify(this.contentLength)} is not a byte count`));
    }
    if (declared !== undefined && declared > limit) {
      this.bodyUnread = true;
      return Promise.reject(new IosError<ApiErrorCode>("API_BODY_TOO_LARGE", `body of ${declared} bytes exceeds the limit of ${limit} bytes`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      this.res.onData((chunk, isLast) => {
        if (refused || this.answered) return;
        size += chunk.byteLength;
        if (size > limit) {
          refused = true;
          this.bodyUnread = true;
          reject(new IosError<ApiErrorCode>("API_BODY_TOO_LARGE", `body exceeds the limit of ${limit} bytes`));
          return;
        }
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) resolve(Buffer.concat(chunks, size));
      });
      this.res.onAborted(() => {
        this.aborted = true;
        resolve(undefined);
      });
    });
  }
}
