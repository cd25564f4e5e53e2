/**
 * Stateless validation of a batch of transactions (DESIGN.md §3: the part that runs in the worker
 * pool, one task per batch). Pure function over one packed buffer; no state, no secrets.
 *
 * Input: `packed` = repeated { u32le length ‖ encoded transaction } (the same framing as a block
 * body). Per transaction: strict decode (transaction.ts), txid, and the shard check (every input
 * and output owner maps to `shard`: a transfer is intra-shard; cross-shard moves are Atomix kinds).
 * A transaction failing any check is rejected alone, with its code; the rest go on.
 *
 * Output, for the passing transactions in batch order:
 *  - `signatures`: one { signature, message: txid, publicKey: input owner } per input, ready for a
 *    batch verify (src/crypto/ed25519.ts `verifyBatch`), with `signatureTx` naming each item's tx;
 *  - `records`: packed apply records in exactly the layout assembly/utxo's applyBlock reads:
 *      txid[32] ‖ u16le nIn ‖ u16le nOut ‖ inputs (68 B each) ‖ outputs (40 B each)
 *    (inputs and outputs are copied verbatim from the encoding), with `recordTx`.
 * Everything returned is plain data (structured-clone safe), so a worker can post it back.
 *
 * API: `validateStateless(packed, shard, shardCount): StatelessResult`, `packTransactions(txs)`,
 * `unpackTransactions(packed)`.
 */
import type { SignatureItem } from "../crypto/ed25519.js";
import { defaultSha256Wasm } from "../crypto/sha256.js";
import { LedgerError, ledgerCheck, type LedgerErrorCode } from "./errors.js";
import { SIGNATURE_BYTES } from "./keys.js";
import { checkShardIndex, shardOfOwner } from "./shard.js";
import { INPUT_BYTES, OUTPOINT_BYTES, OUTPUT_BYTES, TXID_BYTES, TX_HEADER_BYTES, scanTransaction } from "./transaction.js";

/** Header of an apply record: txid[32] ‖ u16le nIn ‖ u16le nOut. */
export const RECORD_HEADER_BYTES = TXID_BYTES + 4;

export interface Rejection {
  readonly code: LedgerErrorCode;
  readonly message: string;
}

export interface StatelessResult {
  /** Transactions found in the batch. */
  readonly count: number;
  /** Per transaction: null if it passed, else why it was rejected. */
  readonly rejections: (Rejection | null)[];
  /** count × 32 bytes: txid of each transaction (zeros where rejected). */
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

/**
 * Frames encoded transactions as u32le length ‖ bytes, back to back. `headerBytes` zero bytes are
 * left in front for a caller's own header, so a framed message is built in one allocation.
 */
export function packTransactions(transactions: readonly Uint8Array[], headerBytes = 0): Uint8Array<ArrayBuffer> {
  const total = transactions.reduce((sum, tx) => sum + 4 + tx.length, headerBytes);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = headerBytes;
  for (const tx of transactions) {
    view.setUint32(at, tx.length, true);
    out.set(tx, at + 4);
    at += 4 + tx.length;
  }
  return out;
}

/** Splits a packed buffer into its transactions (views, not copies). Throws BATCH_TRUNCATED. */
export function unpackTransactions(packed: Uint8Array): Uint8Array[] {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < packed.length) {
    ledgerCheck(at + 4 <= packed.length, "BATCH_TRUNCATED", `length prefix at byte ${at} is cut short`);
    const length = view.getUint32(at, true);
    ledgerCheck(at + 4 + length <= packed.length, "BATCH_TRUNCATED", `transaction at byte ${at} declares ${length} bytes, ${packed.length - at - 4} remain`);
    out.push(packed.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

function checkShards(bytes: Uint8Array, start: number, inputCount: number, outputCount: number, shard: number, shardCount: number): void {
  if (shardCount === 1) return;
  for (let i = 0; i < inputCount; i++) {
    const owner = start + TX_HEADER_BYTES + i * INPUT_BYTES + OUTPOINT_BYTES;
    const actual = shardOfOwner(bytes.subarray(owner, owner + 32), shardCount);
    if (actual !== shard) throw new LedgerError("TX_WRONG_SHARD", `input ${i} belongs to shard ${actual}, not ${shard}`);
  }
  const outputs = start + TX_HEADER_BYTES + inputCount * INPUT_BYTES;
  for (let j = 0; j < outputCount; j++) {
    const owner = outputs + j * OUTPUT_BYTES;
    const actual = shardOfOwner(bytes.subarray(owner, owner + 32), shardCount);
    if (actual !== shard) throw new LedgerError("TX_WRONG_SHARD", `output ${j} belongs to shard ${actual}, not ${shard}`);
  }
}

/**
 * Validates every transaction of `packed` for shard `shard` of `shardCount`. Throws only when the
 * framing itself is broken (BATCH_TRUNCATED) or the shard arguments are invalid.
 */
export function validateStateless(packed: Uint8Array, shard: number, shardCount: number): StatelessResult {
  checkShardIndex(shard, shardCount);
  const transactions = unpackTransactions(packed);
  const count = transactions.length;
  const rejections: (Rejection | null)[] = new Array(count).fill(null);
  const txids = new Uint8Array(count * TXID_BYTES);
  const passed: { tx: Uint8Array; index: number; inputCount: number; unsignedEnd: number }[] = [];
  let recordBytes = 0;
  let signatureCount = 0;
  const sha = defaultSha256Wasm();
  transactions.forEach((tx, index) => {
    try {
      const shape = scanTransaction(tx, 0, tx.length);
      checkShards(tx, 0, shape.inputCount, shape.outputCount, shard, shardCount);
      sha.digestToOut(tx.subarray(0, shape.unsignedEnd));
      txids.set(sha.out, index * TXID_BYTES);
      passed.push({ tx, index, inputCount: shape.inputCount, unsignedEnd: shape.unsignedEnd });
      recordBytes += RECORD_HEADER_BYTES + shape.unsignedEnd - TX_HEADER_BYTES;
      signatureCount += shape.inputCount;
    } catch (error) {
      if (!(error instanceof LedgerError)) throw error;
      rejections[index] = { code: error.code, message: error.message };
    }
  });
  const records = new Uint8Array(recordBytes);
  const recordTx = new Uint32Array(passed.length);
  const signatures: SignatureItem[] = [];
  const signatureTx = new Uint32Array(signatureCount);
  let at = 0;
  passed.forEach(({ tx, index, inputCount, unsignedEnd }, k) => {
    const txid = txids.subarray(index * TXID_BYTES, (index + 1) * TXID_BYTES);
    records.set(txid, at);
    // u16le nIn ‖ u16le nOut ‖ inputs ‖ outputs are bytes 2.. of the unsigned encoding.
    records.set(tx.subarray(2, unsignedEnd), at + TXID_BYTES);
    at += RECORD_HEADER_BYTES + unsignedEnd - TX_HEADER_BYTES;
    recordTx[k] = index;
    for (let i = 0; i < inputCount; i++) {
      const owner = TX_HEADER_BYTES + i * INPUT_BYTES + OUTPOINT_BYTES;
      const signature = unsignedEnd + i * SIGNATURE_BYTES;
      signatureTx[signatures.length] = index;
      signatures.push({
        signature: tx.subarray(signature, signature + SIGNATURE_BYTES),
        message: txid,
        publicKey: tx.subarray(owner, owner + 32),
      });
    }
  });
  return { count, rejections, txids, records, recordCount: passed.length, recordTx, signatures, signatureTx };
}
