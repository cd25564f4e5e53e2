/**
 * HTTP client of the client API (server.ts), used by the CLI: every refusal becomes an IosError
 * carrying the server's code and message; a node that cannot be reached is API_UNREACHABLE.
 * An optimistic status is checked before it is returned (`verifyOptimistic`, ./optimistic.ts):
 * the producer's seal over the header and the transaction's Merkle proof to its tx root, so a
 * client trusts the producer's key, not the validator it asked; API_BAD_PROOF otherwise. That
 * check (block and evidence codecs, every transaction kind) is imported with the first optimistic
 * status, so a client that only reads statuses and balances loads none of it.
 */
import { IosError } from "../errors.js";

export type ApiClientErrorCode = "API_UNREACHABLE" | "API_BAD_URL" | "API_BAD_RESPONSE" | "API_BAD_PROOF";

export interface TxStatusJson {
  readonly txid: string;
  readonly state: "pending" | "optimistic" | "final" | "rejected";
  /** Optimistic: the optimistic block's hash and the believable validator that sealed it (hex). */
  readonly block?: string;
  readonly producer?: string;
  /** Optimistic: header ‖ seal ‖ Merkle proof (hex), checked by `verifyOptimistic`. */
  readonly inclusion?: string;
  /** Final: where the transaction is. */
  readonly height?: number;
  readonly index?: number;
  readonly blockHash?: string;
  /** Rejected: why. */
  readonly code?: string;
}

export interface SubmitJson {
  readonly txid: string;
  readonly outcome: "accepted" | "duplicate";
  readonly status: Omit<TxStatusJson, "txid">;
}

export interface AtomixJson {
  readonly txid: string;
  readonly shard: number;
  readonly phase: "locked" | "refused" | "committed" | "aborted";
  readonly height: number;
  /** Hex of the proof of this shard's lock decision (src/atomix/proof.ts); absent where the shard holds no input. */
  readonly proof?: string;
}

export interface UtxosJson {
  readonly owner: string;
  readonly shard: number;
  readonly height: number;
  readonly utxos: { readonly txid: string; readonly index: number; readonly amount: string }[];
  readonly truncated: boolean;
}

export interface BalanceJson {
  readonly owner: string;
  readonly shard: number;
  readonly height: number;
  readonly balance: string;
  readonly outputs: number;
}

export interface StatusJson {
  readonly shard: number;
  readonly shardCount: number;
  readonly epoch: number;
  readonly tip: { readonly height: number; readonly hash: string };
  readonly [key: string]: unknown;
}

/** Per-request timeout: a node that does not answer in this long is reported unreachable. */
const REQUEST_TIMEOUT_MS = 10_000;

export class ApiClient {
  private readonly base: string;

  constructor(baseUrl: string) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new IosError<ApiClientErrorCode>("API_BAD_URL", `${JSON.stringify(baseUrl)} is not a URL; use e.g. http://127.0.0.1:7000`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new IosError<ApiClientErrorCode>("API_BAD_URL", `node URL must be http:// or https://, got ${url.protocol}`);
    }
    this.base = url.origin;
  }

  async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(method, path, body);
    const value = parseJson(method, path, response.status, await response.text());
    if (!response.ok) refusal(method, path, response.status, value);
    return value as T;
  }

  /** A binary answer (application/octet-stream); a refusal is still the JSON error object. */
  async requestBytes(path: string): Promise<Uint8Array> {
    const response = await this.fetch("GET", path);
    if (!response.ok) refusal("GET", path, response.status, parseJson("GET", path, response.status, await response.text()));
    return new Uint8Array(await response.arrayBuffer());
  }

  private async fetch(method: "GET" | "POST", path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const reason = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new IosError<ApiClientErrorCode>("API_UNREACHABLE", `cannot reach the node at ${this.base} (${reason}); is \`ios node\` running there?`);
    }
  }

  submitTransaction(tx: Uint8Array): Promise<SubmitJson> {
    return this.request("POST", "/v1/tx", { tx: Buffer.from(tx).toString("hex") });
  }

  /** A transaction's status; an optimistic one only once its proof checks out (API_BAD_PROOF otherwise). */
  async transaction(txid: string): Promise<TxStatusJson> {
    const status = await this.request<TxStatusJson>("GET", `/v1/tx/${txid}`);
    if (status.state === "optimistic") (await import("./optimistic.js")).verifyOptimistic(txid, status);
    return status;
  }

  /** Where this node's shard left a cross-shard transfer: its phase and the proof of the shard's lock decision (ATOMIX_NOT_FOUND when untouched). */
  atomix(txid: string): Promise<AtomixJson> {
    return this.request("GET", `/v1/atomix/${txid}`);
  }

  balance(owner: string): Promise<BalanceJson> {
    return this.request("GET", `/v1/owner/${owner}/balance`);
  }

  utxos(owner: string, limit?: number): Promise<UtxosJson> {
    return this.request("GET", `/v1/owner/${owner}/utxos${limit === undefined ? "" : `?limit=${limit}`}`);
  }

  status(): Promise<StatusJson> {
    return this.request("GET", "/v1/status");
  }

  /** The node's identity chain, epochs 1..last (src/epoch/identity/link.ts `encodeIdentityChain`), to verify from the genesis. */
  identityChain(): Promise<Uint8Array> {
    return this.requestBytes("/v1/epochs/chain");
  }

  /** The DRP transcript of `epoch` (EPOCH_UNKNOWN if the node does not keep it). */
  drpTranscript(epoch: number): Promise<Uint8Array> {
    return this.requestBytes(`/v1/epochs/${epoch}/drp-transcript`);
  }
}

function parseJson(method: string, path: string, status: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new IosError<ApiClientErrorCode>("API_BAD_RESPONSE", `${method} ${path}: HTTP ${status} with a non-JSON body`);
  }
}

/** The server's coded refusal of a request. */
function refusal(method: string, path: string, status: number, value: unknown): never {
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code === "string" && typeof error.message === "string") throw new IosError(error.code, error.message, { status });
  throw new IosError<ApiClientErrorCode>("API_BAD_RESPONSE", `${method} ${path}: HTTP ${status} without an error object`);
}
