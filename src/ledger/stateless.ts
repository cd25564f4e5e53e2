/**
 * Stateless validation of a batch of transactions (DESIGN.md §3: the part that runs in the worker
 * pool, one task per batch). Pure function over one packed buffer; no state, no secrets.
 *
 * Input: `packed` = repeated { u32le length ‖ encoded transaction } (the same framing as a block
 * body). Per transaction, through its kind's module (./kinds/registry.ts): strict scan, txid, and
 * the kind's stateless rule for `shard` (a transfer is intra-shard). A transaction failing any
 * check is rejected alone, with its code; the rest go on.
 *
 * Output, for the passing transactions in batch order:
 *  - `signatures`: the kind's signature items (for a transfer, one per input, over the txid),
 *    ready for a batch verify (src/crypto/ed25519.ts `verifyBatch`), with `signatureTx` naming
 *    each item's tx;
 *  - `records`: packed apply records (./kinds/interface.ts RECORD_HEADER, then the kind's body;
 *    ./records.ts walks them), with `recordTx`.
 * Everything returned is plain data (structured-clone safe), so a worker can post it back.
 *
 * API: `validateStateless(packed, shard, shardCount, origin?, decisions?, knownTxids?, wanted?): StatelessResult`,
 * `signatureItemsOf(tx, txid)`, `packTransactions(txs)`, `unpackTransactions(packed)`.
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../codec/binary.js";
import { TXID_BYTES } from "../codec/sizes.js";
import type { SignatureItem } from "../crypto/ed25519.js";
import { defaultSha256Wasm } from "../crypto/sha256.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode } from "./errors.js";
import type { DecisionVerifier, TxKindModule, TxShape } from "./kinds/interface.js";
import { kindOfTransaction } from "./kinds/registry.js";
import { checkShardIndex } from "./shard.js";
import { IosError, hasCodeIn } from "../errors.js";

export interface Rejection {
  readonly code: LedgerErrorCode;
  readonly message: string;
}

export interface StatelessResult {
  /** Transactions found in the batch. */
  readonly count: number;
  /** Per transaction: null if it passed, else why it was rejected. */
  readonly rejections: (Rejection | null)[];
  /** count × 32 bytes: txid of each transaction (zeros where it is malformed: its scan failed). */
  readonly txids: Uint8Array;
  /** Packed apply records of the passing transactions, in batch order. */
  readonly records: Uint8Array;
  readonly recordCount: number;
  /** Batch index of each record. */
  readonly recordTx: Uint32Array;
  readonly signatures: SignatureItem[];
  /** Batch index of each signature item. */
  readonly signatureTx: Uint32Array;
}

const BATCH_CODES: CodecCodes<LedgerErrorCode> = {
  truncated: "BATCH_TRUNCATED",
  trailing: "BATCH_TRUNCATED",
  tooLarge: "BATCH_TOO_LARGE",
  outOfRange: "BATCH_TRUNCATED",
};

/**
 * Frames encoded transactions as u32le length ‖ bytes, back to back. `headerBytes` zero bytes are
 * left in front for a caller's own header, so a framed message is built in one allocation.
 */
export function packTransactions(transactions: readonly Uint8Array[], headerBytes = 0): Uint8Array<ArrayBuffer> {
  const total = transactions.reduce((sum, tx) => sum + 4 + tx.length, headerBytes);
  const writer = new BinaryWriter(new Uint8Array(total), headerBytes);
  for (const tx of transactions) writer.lengthPrefixed("u32", tx);
  return writer.finish();
}

/**
 * Splits a packed buffer into its transactions (views, not copies). Throws BATCH_TRUNCATED, or
 * the codes of `codes` (a block body uses its own). With `count`, exactly that many must be there
 * and nothing after them.
 */
export function unpackTransactions(packed: Uint8Array, codes: CodecCodes<string> = BATCH_CODES, count?: number): Uint8Array[] {
  const reader = new BinaryReader(packed, codes);
  const out: Uint8Array[] = [];
  while (count === undefined ? reader.remaining > 0 : out.length < count) out.push(reader.lengthPrefixed("u32", 0xffffffff, `transaction ${out.length}`));
  reader.expectEnd(`transaction ${out.length - 1}`);
  return out;
}

interface Passed {
  readonly tx: Uint8Array;
  readonly index: number;
  readonly module: TxKindModule;
  readonly shape: TxShape;
  /** Its record's size in this shard. */
  readonly recordBytes: number;
}

/**
 * Where a batch comes from: `submitted` — from anyone else (a client, a producer's optimistic
 * block, a leader's proposal): a kind clients cannot submit is TX_NOT_SUBMITTABLE; `derived` — a
 * final block this replica built and stored itself (its replay), where derived kinds belong.
 */
export type BatchOrigin = "submitted" | "derived";

/**
 * Which signature items a validation returns: `all` of them, or `none` (`signatures` and
 * `signatureTx` empty) for a caller that verifies only some transactions and takes their items
 * with `signatureItemsOf` (a PoB member samples one transaction in ten: building and keeping
 * three objects per signature for the rest, while their block is held, cost more than the checks).
 */
export type SignatureItemsWanted = "all" | "none";

/**
 * Validates every transaction of `packed` for shard `shard` of `shardCount`. Throws only when the
 * framing itself is broken (BATCH_TRUNCATED) or the shard arguments are invalid. `knownTxids`
 * (count × 32 bytes, in batch order) are the txids the caller already computed from these very
 * bytes (a decoded block's, `decodeBlock` hashed them): each transaction is then hashed once, not
 * twice; they are returned as `txids`, not copied. Any other count throws BATCH_TRUNCATED.
 */
export function validateStateless(
  packed: Uint8Array,
  shard: number,
  shardCount: number,
  origin: BatchOrigin = "submitted",
  decisions?: DecisionVerifier,
  knownTxids?: Uint8Array,
  wanted: SignatureItemsWanted = "all",
): StatelessResult {
  checkShardIndex(shard, shardCount);
  const transactions = unpackTransactions(packed);
  const count = transactions.length;
  if (knownTxids !== undefined && knownTxids.length !== count * TXID_BYTES) {
    throw new IosError<LedgerErrorCode>("BATCH_TRUNCATED", `${knownTxids.length / TXID_BYTES} known txids for ${count} transactions`);
  }
  const rejections: (Rejection | null)[] = new Array(count).fill(null);
  const txids = knownTxids ?? new Uint8Array(count * TXID_BYTES);
  const passed: Passed[] = [];
  let recordBytes = 0;
  let signatureCount = 0;
  const sha = defaultSha256Wasm();
  transactions.forEach((tx, index) => {
    try {
      const module = kindOfTransaction(tx);
      const shape = module.scan(tx);
      // A well-formed transaction has a txid even when a rule below refuses it: its refusal is answered by it.
      if (knownTxids === undefined) {
        sha.digestToOut(tx.subarray(0, shape.unsignedEnd));
        txids.set(sha.out, index * TXID_BYTES);
      }
      if (!module.submittable && origin === "submitted") throw new IosError<LedgerErrorCode>("TX_NOT_SUBMITTABLE", `a ${module.name} is derived by the shard, never submitted`);
      module.checkStateless(tx, shape, shard, shardCount, decisions);
      const bytes = module.recordBytesIn?.(tx, shape, shard, shardCount) ?? shape.recordBytes;
      passed.push({ tx, index, module, shape, recordBytes: bytes });
      recordBytes += bytes;
      signatureCount += shape.signatureCount;
    } catch (error) {
      if (!hasCodeIn(error, LEDGER_ERROR_CODES)) throw error;
      rejections[index] = { code: error.code, message: error.message };
    }
  });
  const records = new Uint8Array(recordBytes);
  const recordTx = new Uint32Array(passed.length);
  const signatures: SignatureItem[] = [];
  const signatureTx = new Uint32Array(wanted === "all" ? signatureCount : 0);
  let at = 0;
  passed.forEach(({ tx, index, module, shape, recordBytes: bytes }, k) => {
    const txid = txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES);
    module.writeRecord(tx, shape, txid, records, at, shard, shardCount);
    at += bytes;
    recordTx[k] = index;
    if (wanted === "none") return;
    const first = signatures.length;
    module.signatureItems(tx, shape, txid, signatures);
    for (let item = first; item < signatures.length; item++) signatureTx[item] = index;
  });
  return { count, rejections, txids, records, recordCount: passed.length, recordTx, signatures, signatureTx };
}

/**
 * The signature items of one transaction that passed `validateStateless` (its txid given): what
 * its validation with `all` would have listed for it, in the same order.
 */
export function signatureItemsOf(tx: Uint8Array, txid: Uint8Array): SignatureItem[] {
  const module = kindOfTransaction(tx);
  const items: SignatureItem[] = [];
  module.signatureItems(tx, module.scan(tx), txid, items);
  return items;
}
