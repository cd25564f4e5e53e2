/**
 * HTTP client of the client API (server.ts), used by the CLI: every refusal becomes an IosError
 * carrying the server's code and message; a node that cannot be reached is API_UNREACHABLE.
 * An optimistic status is checked before it is returned (`verifyOptimistic`): the producer's
 * seal over the header and the transaction's Merkle proof to its tx root, so a client trusts
 * the producer's key, not the validator it asked; API_BAD_PROOF otherwise.
 */
import { IosError } from "../errors.js";
import { decodeInclusion, verifyInclusion } from "../consensus/pob/evidence.js";
import { toHex } from "../hex.js";
import { blockHash, decodeBlockHeader } from "../ledger/block.js";
import { verify as verifySignature } from "../crypto/ed25519.js";
import { merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { sameBytes } from "../bytes.js";
import { TXID_BYTES } from "../codec/sizes.js";
import type { OptimisticBatch } from "./stream-codec.js";

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
    if (status.state === "optimistic") verifyOptimistic(txid, status);
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

const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * Checks an optimistic status of `txid`: its inclusion decodes, the header names `producer`, the
 * producer's seal verifies over the header, the Merkle proof leads from the txid to the header's
 * tx root, and the block hash is `block`; with `believable`, the producer is one of those keys
 * (the shard's believable league, from GET /v1/status). Throws API_BAD_PROOF.
 */
export function verifyOptimistic(txid: string, status: TxStatusJson, believable?: readonly string[]): void {
  const { inclusion, producer, block } = status;
  if (inclusion === undefined || producer === undefined || block === undefined || !HEX.test(inclusion) || !HEX.test(producer) || !HEX.test(txid)) {
    throw new IosError<ApiClientErrorCode>("API_BAD_PROOF", `the optimistic status of ${txid} carries no well-formed proof`);
  }
  let hash: Uint8Array;
  try {
    hash = verifyInclusion(decodeInclusion(Buffer.from(inclusion, "hex")), Buffer.from(txid, "hex"), Buffer.from(producer, "hex"));
  } catch (error) {
    if (!(error instanceof IosError)) throw error;
    throw new IosError<ApiClientErrorCode>("API_BAD_PROOF", `the optimistic confirmation of ${txid} does not verify: ${error.code}: ${error.message}`);
  }
  if (toHex(hash) !== block) throw new IosError<ApiClientErrorCode>("API_BAD_PROOF", `the proof of ${txid} is for block ${toHex(hash)}, not ${block}`);
  if (believable !== undefined && !believable.includes(producer)) {
    throw new IosError<ApiClientErrorCode>("API_BAD_PROOF", `${producer} sealed the optimistic block of ${txid} but is not a believable validator of the shard`);
  }
}

/**
 * Checks an OPTIMISTIC stream frame's signed block: the header hashes to `block` and names
 * `producer`, the producer's seal verifies, the block's txids give the header's tx root, and the
 * confirmed txids are among them in body order — so each confirmed txid is proven in a block the
 * producer signed. With `believable`, the producer must be one of those keys. Throws API_BAD_PROOF.
 */
export function verifyOptimisticBatch(batch: OptimisticBatch, believable?: readonly Uint8Array[]): void {
  const bad = (why: string): never => {
    throw new IosError<ApiClientErrorCode>("API_BAD_PROOF", `optimistic block ${toHex(batch.block)}: ${why}`);
  };
  const { signed } = batch;
  if (signed === undefined) return bad("the frame carries no signed block");
  let header;
  try {
    header = decodeBlockHeader(signed.header);
  } catch (error) {
    if (!(error instanceof IosError)) throw error;
    return bad(`its header does not decode (${error.code})`);
  }
  if (!sameBytes(blockHash(header), batch.block)) bad("the header does not hash to the block");
  if (!sameBytes(header.producer, batch.producer)) bad("the header names another producer");
  if (!verifySignature(signed.seal, batch.block, batch.producer)) bad("the producer's seal does not verify");
  if (signed.txids.length / TXID_BYTES !== header.txCount || !sameBytes(merkleRootOfPackedLeaves(signed.txids, TXID_BYTES), header.txRoot)) bad("its txids do not give the header's tx root");
  let at = 0;
  for (let k = 0; k < batch.txids.length; k += TXID_BYTES) {
    const txid = batch.txids.subarray(k, k + TXID_BYTES);
    while (at < signed.txids.length && !sameBytes(signed.txids.subarray(at, at + TXID_BYTES), txid)) at += TXID_BYTES;
    if (at >= signed.txids.length) bad(`confirmed txid ${toHex(txid)} is not in the block`);
    at += TXID_BYTES;
  }
  if (believable !== undefined && !believable.some((key) => sameBytes(key, batch.producer))) bad(`${toHex(batch.producer)} is not a believable validator of the shard`);
}
