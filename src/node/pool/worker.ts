/**
 * Worker-thread entry of the node's Piscina pool (src/node/pool/verify-pool.ts). Every export is
 * a named task; the pool runs one with `run(task, { name })`. Tasks take and return whole batches
 * in `ArrayBuffer`s, never one message per item.
 *
 * The Ed25519 verifier is created when a worker loads this file, so each thread instantiates the
 * WASM kernel once and keeps its key cache across tasks. `workerData.flavor` picks the kernel
 * build; without it the default (SIMD where available, `IOS_WASM=scalar` to force scalar) applies.
 */
import { workerData } from "node:worker_threads";
import { check } from "../../errors.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { unpackSignatureBatch } from "../../crypto/signature-batch.js";
import { WASM_FLAVORS, type WasmFlavor } from "../../crypto/wasm.js";

const requestedFlavor: unknown = (workerData as { flavor?: unknown } | null | undefined)?.flavor;
check(
  requestedFlavor === undefined || WASM_FLAVORS.includes(requestedFlavor as WasmFlavor),
  "VERIFIER_POOL_OPTIONS",
  `unknown WASM flavor ${String(requestedFlavor)}`,
);
const verifier = new Ed25519Verifier(requestedFlavor === undefined ? {} : { flavor: requestedFlavor as WasmFlavor });

/**
 * Verifies a packed signature batch (src/crypto/signature-batch.ts) and returns one verdict byte
 * per item, 1 valid and 0 invalid, in batch order. A malformed buffer throws
 * SIGNATURE_BATCH_MALFORMED, which rejects this task only; the worker stays up.
 */
export function verifySignatureBatch(buffer: ArrayBuffer): ArrayBuffer {
  check(buffer instanceof ArrayBuffer, "SIGNATURE_BATCH_MALFORMED", "the task must be an ArrayBuffer holding a packed batch");
  const verdicts = verifier.verifyBatch(unpackSignatureBatch(new Uint8Array(buffer)));
  const bytes = new Uint8Array(verdicts.length);
  for (let index = 0; index < verdicts.length; index++) bytes[index] = verdicts[index] ? 1 : 0;
  return bytes.buffer;
}
