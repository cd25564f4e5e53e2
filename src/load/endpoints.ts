/**
 * What the load driver knows of its validators under epoch switching (issue 14): each stream URL's
 * current shard, epoch and believable league, read from GET /v1/status, and the routes built from
 * them. A validator may serve another shard in every epoch, so nothing here is fixed per URL.
 *
 * Phases:
 *  1. status: `fetchStatus(streamUrl)` reads GET /v1/status of the node behind the URL (same
 *     host, http) into an `EndpointStatus` (public key, shard, epoch, the epoch of the heights it
 *     decides, consensus, league);
 *  2. compare: `statusKey(status)` names what routing depends on (shard, epoch, league mode and
 *     believable list): two statuses with the same key route alike, so a poll that brings no new
 *     key leaves the routes as they are;
 *  3. route: `buildRoutes(endpoints, shardCount)` groups the endpoints by the shard they serve, in
 *     the latest epoch any of them reports for that shard (an endpoint whose status is older has
 *     not switched yet, or lags: it is used only when no newer one serves the shard), and gives
 *     each shard a `ShardRoute`: a transaction goes to the believable validator the protocol
 *     assigns its first input's owner to (`assignee` of `spenderOf`, src/consensus/pob/assignment.ts,
 *     white paper §7.2), since only it seals the transaction into an optimistic block; otherwise,
 *     or when that validator is not among the shard's endpoints, to the endpoint at (first byte of
 *     the key) mod (number of endpoints). A shard no endpoint serves has no route (undefined).
 *
 * API: `fetchStatus`, `statusKey`, `buildRoutes`, class `ShardRoute`, `nodeUrlOf`.
 */
import { ApiClient } from "../api/client.js";
import { assignee, spenderOf } from "../consensus/pob/assignment.js";
import { IosError } from "../errors.js";
import { toHex } from "../hex.js";
import type { LoadErrorCode } from "./errors.js";

const HEX_KEY = /^[0-9a-f]{64}$/;

/** What an endpoint's GET /v1/status says, as far as routing needs it. */
export interface EndpointStatus {
  /** Hex public key of the validator. */
  readonly publicKey: string;
  readonly shard: number;
  /** The epoch whose configuration assigns it `shard`. */
  readonly epoch: number;
  /** The epoch of the heights it decides: `epoch` + 1 while it runs that epoch's opening (TransEpoch), else `epoch`. */
  readonly decidingEpoch: number;
  /** "solo", "bft", "pob/two-league", "pob/one-league", ... as reported. */
  readonly consensus: string;
  /** The believable league (two-league PoB only) and the consensus height it was read at. */
  readonly believable: readonly Uint8Array[] | undefined;
  readonly height: number;
}

/** An endpoint as routes see it: its place in the driver's list and its latest status. */
export interface RoutedEndpoint {
  readonly index: number;
  readonly status: EndpointStatus;
}

/** http(s)://host:port of the node behind a ws(s)://host:port/v1/stream URL. */
export function nodeUrlOf(streamUrl: string): string {
  const url = new URL(streamUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

/** Reads GET /v1/status of the node behind `streamUrl` (see the API's status route and the PoB status fields); LOAD_CONNECT_FAILED when unusable. */
export async function fetchStatus(streamUrl: string): Promise<EndpointStatus> {
  const nodeUrl = nodeUrlOf(streamUrl);
  const unusable = (why: string) => new IosError<LoadErrorCode>("LOAD_CONNECT_FAILED", `${nodeUrl}/v1/status (status of ${streamUrl}) ${why}`);
  let body: unknown;
  try {
    body = await new ApiClient(nodeUrl).status();
  } catch (error) {
    throw unusable(`cannot be read: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null) throw unusable("is not a JSON object");
  const { publicKey, shard, epoch, decidingEpoch, consensus } = body as Record<string, unknown>;
  if (typeof publicKey !== "string" || !HEX_KEY.test(publicKey)) throw unusable("has no publicKey of 64 lowercase hex digits");
  if (!Number.isInteger(shard) || (shard as number) < 0) throw unusable("has no non-negative integer shard");
  if (!Number.isInteger(epoch) || (epoch as number) < 0) throw unusable("has no non-negative integer epoch");
  // Absent before TransEpoch's openings (and on nodes without epochs): the heights are the configured epoch's.
  if (decidingEpoch !== undefined && decidingEpoch !== epoch && decidingEpoch !== (epoch as number) + 1) throw unusable("reports a decidingEpoch other than its epoch or the next");
  const facts = typeof consensus === "object" && consensus !== null ? (consensus as Record<string, unknown>) : {};
  const mode = typeof facts.mode === "string" ? facts.mode : "unknown";
  const leagueMode = typeof facts.leagueMode === "string" ? facts.leagueMode : undefined;
  const height = typeof facts.height === "number" && Number.isFinite(facts.height) ? facts.height : 0;
  const described = leagueMode === undefined ? mode : `${mode}/${leagueMode}`;
  const base = { publicKey, shard: shard as number, epoch: epoch as number, decidingEpoch: (decidingEpoch ?? epoch) as number, consensus: described, height };
  if (mode !== "pob" || leagueMode !== "two-league") return { ...base, believable: undefined };
  const believable = facts.believable;
  if (!Array.isArray(believable) || believable.length === 0 || !believable.every((key) => typeof key === "string" && HEX_KEY.test(key))) {
    throw unusable("reports two-league PoB without a non-empty consensus.believable list of 64-hex-digit keys");
  }
  return { ...base, believable: believable.map((key: string) => new Uint8Array(Buffer.from(key, "hex"))) };
}

/** What routing depends on in a status: equal keys route alike (the consensus height does not matter). */
export function statusKey(status: EndpointStatus): string {
  return `${status.shard}/${status.epoch}/${status.consensus}/${status.believable?.map(toHex).join(",") ?? ""}`;
}

/** Map key of a 32-byte value (a public key): one char per byte, read in place. */
function key32(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/**
 * The entry-validator choice of one shard (see the file comment). Assignments are remembered per
 * owner key, so each sender costs one `assignee` call per route.
 */
export class ShardRoute {
  readonly #endpoints: readonly RoutedEndpoint[];
  readonly #believable: readonly Uint8Array[] | undefined;
  readonly #byPublicKey = new Map<string, number>();
  readonly #byOwner = new Map<string, number>();

  constructor(endpoints: readonly RoutedEndpoint[]) {
    this.#endpoints = endpoints;
    // Every endpoint of the shard in this epoch should report the same league; the latest view (highest height) wins.
    const pob = endpoints.filter((e) => e.status.believable !== undefined).sort((a, b) => b.status.height - a.status.height)[0];
    this.#believable = pob?.status.believable;
    for (const endpoint of endpoints) this.#byPublicKey.set(endpoint.status.publicKey, endpoint.index);
  }

  get usesAssignee(): boolean {
    return this.#believable !== undefined;
  }

  /** The consensus the shard's endpoints report ("none" without endpoints). */
  get consensus(): string {
    return this.#endpoints[0]?.status.consensus ?? "none";
  }

  /** The driver's index of the endpoint `tx` goes to; undefined when no endpoint serves the shard. */
  endpointFor(tx: Uint8Array): number | undefined {
    if (this.#endpoints.length === 0) return undefined;
    const spender = spenderOf(tx);
    const byByte = this.#endpoints[(spender?.[0] ?? 0) % this.#endpoints.length]!.index;
    if (this.#believable === undefined || spender === undefined) return byByte;
    const key = key32(spender);
    let index = this.#byOwner.get(key);
    if (index === undefined) {
      index = this.#byPublicKey.get(toHex(assignee(spender, this.#believable))) ?? byByte;
      this.#byOwner.set(key, index);
    }
    return index;
  }
}

/** One route per shard over the endpoints serving it in the latest epoch any of them reports for it (see the file comment). */
export function buildRoutes(endpoints: readonly RoutedEndpoint[], shardCount: number): ShardRoute[] {
  return Array.from({ length: shardCount }, (_, shard) => {
    const serving = endpoints.filter((e) => e.status.shard === shard);
    const latest = serving.reduce((max, e) => Math.max(max, e.status.epoch), -1);
    return new ShardRoute(serving.filter((e) => e.status.epoch === latest));
  });
}
