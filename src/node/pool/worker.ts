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
import { Piscina } from "piscina";
import { check } from "../../errors.js";
import { validateStateless } from "../../ledger/stateless.js";
import { recordsWhere } from "../../ledger/records.js";
import {
  decodeValidationRequest,
  encodeValidatedBatch,
  type BatchRejection,
} from "../pipeline/validated-batch.js";
import { Ed25519Verifier } from "../../crypto/ed25519.js";
import { unpackSignatureBatch } from "../../crypto/signature-batch.js";
import { WASM_FLAVORS, type WasmFlavor } from "../../crypto/wasm.js";
import { WORKER_KEY_CACHE_SIZE } from "./interface.js";
import { CommitteeProofVerifier, decodeEpochCommittees, directoryOf } from "../../atomix/proof.js";

const requestedFlavor: unknown = (workerData as { flavor?: unknown } | null | undefined)?.flavor;
check(
  requestedFlavor === undefined || WASM_FLAVORS.includes(requestedFlavor as WasmFlavor),
  "VERIFIER_POOL_OPTIONS",
  `unknown WASM flavor ${String(requestedFlavor)}`,
);
const verifier = new Ed25519Verifier({
  keyCacheSize: WORKER_KEY_CACHE_SIZE,
  ...(requestedFlavor === undefined ? {} : { flavor: requestedFlavor as WasmFlavor }),
});

/** The last committees a task named and their verifier: an epoch's committees repeat in every request. */
let lastCommittees: { bytes: Buffer; verifier: CommitteeProofVerifier } | undefined;

function decisionVerifier(committees: Uint8Array): CommitteeProofVerifier | undefined {
  if (committees.length === 0) return undefined;
  if (lastCommittees === undefined || !lastCommittees.bytes.equals(committees)) {
    lastCommittees = { bytes: Buffer.from(committees), verifier: new CommitteeProofVerifier(directoryOf(decodeEpochCommittees(committees)), verifier) };
  }
  return lastCommittees.verifier;
}

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

/**
 * The pipeline's per-batch task (src/node/pipeline/validated-batch.ts has both layouts): stateless
 * validation (decode, txid, shard) and batch verification of every input signature, in one
 * message per batch. Returns, moved back, per-transaction verdicts, txids, the apply records of
 * the valid transactions and the code of each rejected one (TX_BAD_SIGNATURE when a signature
 * fails). Broken framing rejects the task with BATCH_TRUNCATED.
 */
export function validateTransactions(buffer: ArrayBuffer): ArrayBuffer {
  check(buffer instanceof ArrayBuffer, "PIPELINE_BAD_TASK", "the task must be an ArrayBuffer holding a validation request");
  const { shard, shardCount, committees, framed } = decodeValidationRequest(new Uint8Array(buffer));
  const stateless = validateStateless(framed, shard, shardCount, "submitted", decisionVerifier(committees));
  const signatureVerdicts = verifier.verifyBatch(stateless.signatures);
  const verdicts = new Uint8Array(stateless.count);
  for (let k = 0; k < stateless.recordCount; k++) verdicts[stateless.recordTx[k]!] = 1;
  const rejections: BatchRejection[] = [];
  stateless.rejections.forEach((rejection, index) => {
    if (rejection !== null) rejections.push({ index, code: rejection.code, message: rejection.message });
  });
  for (let item = 0; item < signatureVerdicts.length; item++) {
    const index = stateless.signatureTx[item]!;
    if (signatureVerdicts[item] || verdicts[index] === 0) continue;
    verdicts[index] = 0;
    rejections.push({ index, code: "TX_BAD_SIGNATURE", message: `signature of input ${inputOrdinal(stateless.signatureTx, item)} does not verify` });
  }
  rejections.sort((a, b) => a.index - b.index);
  const records = keepValidRecords(stateless.records, stateless.recordCount, stateless.recordTx, verdicts);
  const response = encodeValidatedBatch({ count: stateless.count, txids: stateless.txids, verdicts, records, rejections });
  return Piscina.move(response.buffer) as ArrayBuffer;
}

/** Position of signature item `item` among its transaction's inputs. */
function inputOrdinal(signatureTx: Uint32Array, item: number): number {
  let first = item;
  while (first > 0 && signatureTx[first - 1] === signatureTx[item]) first--;
  return item - first;
}

/** The records of transactions whose verdict stayed valid (records are in batch order). */
function keepValidRecords(records: Uint8Array, recordCount: number, recordTx: Uint32Array, verdicts: Uint8Array): Uint8Array {
  let allValid = true;
  for (let k = 0; k < recordCount; k++) if (verdicts[recordTx[k]!] === 0) allValid = false;
  return allValid ? records : recordsWhere(records, (k) => verdicts[recordTx[k]!] === 1).records;
}
