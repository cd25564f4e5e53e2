/**
 * The Atomix client flow (./client.ts) over the client HTTP API: one or more nodes per shard,
 * found by asking each URL its shard (GET /v1/status). Submissions go to the shard's first node
 * that answers; a refusal is an answer (the shard decides: a duplicate, an unlock it already
 * applied), only an unreachable node moves on to the next. Views read GET /v1/atomix/:txid.
 *
 * API: `httpAtomixAccess(urls)`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { ApiClient } from "../api/client.js";
import { IosError } from "../errors.js";
import { toHex } from "../hex.js";
import type { AtomixAccess, AtomixErrorCode, ShardView } from "./client.js";
import type { AtomixPhase } from "./phases.js";

/** The shards' nodes from their URLs; throws ATOMIX_BAD_REQUEST when a shard has none or the URLs disagree on the shard count. */
export async function httpAtomixAccess(urls: readonly string[]): Promise<AtomixAccess & { readonly nodes: readonly (readonly ApiClient[])[] }> {
  const clients = urls.map((url) => new ApiClient(url));
  const statuses = await Promise.all(clients.map((api) => api.status()));
  const shardCount = statuses[0]?.shardCount ?? 0;
  if (statuses.some((status) => status.shardCount !== shardCount)) throw new IosError<AtomixErrorCode>("ATOMIX_BAD_REQUEST", "the nodes given serve chains of different shard counts");
  const nodes: ApiClient[][] = Array.from({ length: shardCount }, () => []);
  statuses.forEach((status, i) => nodes[status.shard]!.push(clients[i]!));
  const inShard = (shard: number): readonly ApiClient[] => {
    const found = nodes[shard];
    if (found === undefined || found.length === 0) throw new IosError<AtomixErrorCode>("ATOMIX_BAD_REQUEST", `no node of shard ${shard} was given (add its URL)`);
    return found;
  };
  return {
    shardCount,
    nodes,
    async submit(shard, tx) {
      let lastError: unknown;
      for (const api of inShard(shard)) {
        try {
          await api.submitTransaction(tx);
          return;
        } catch (error) {
          if (!(error instanceof IosError) || error.code === "API_UNREACHABLE" || error.code === "API_BAD_RESPONSE") {
            lastError = error;
            continue;
          }
          // Refused: the shard answered (an unlock it applied already, a lock it decided).
          return;
        }
      }
      throw lastError;
    },
    async view(shard, crossTxid): Promise<ShardView> {
      let lastError: unknown;
      for (const api of inShard(shard)) {
        try {
          const found = await api.atomix(toHex(crossTxid));
          return { phase: found.phase as AtomixPhase, proof: found.proof === undefined ? undefined : Uint8Array.from(Buffer.from(found.proof, "hex")) };
        } catch (error) {
          if (error instanceof IosError && error.code === "ATOMIX_NOT_FOUND") return { phase: undefined, proof: undefined };
          lastError = error;
        }
      }
      throw lastError;
    },
    sleep: (ms) => sleep(ms),
    now: () => performance.now(),
  };
}
