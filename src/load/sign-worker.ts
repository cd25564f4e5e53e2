/**
 * Worker-thread entry of the workload signer (src/load/workload.ts). Every export is a named task
 * run by Piscina with `run(task, { name })`. A task carries whole account chains in typed arrays
 * and answers with two buffers, never one message per transaction.
 *
 * Signing is node:crypto Ed25519 (RFC 8032) with one KeyObject per account, imported from JWK
 * (RFC 8037 §2: d = seed, x = public key): about 10× cheaper to create than from PKCS#8 DER here,
 * which matters when a set has many accounts and few transfers each.
 */
import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import { sha256 } from "../crypto/sha256.js";
import { TxKind, encodeUnsignedTransaction, encodedLength } from "../ledger/transaction.js";
import { encodeUnsignedCrossShardTransfer } from "../ledger/kinds/atomix.js";
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../codec/sizes.js";

const TRANSFER_BYTES = encodedLength(1, 2);
/** A cross-shard transfer of 1 input and 2 outputs (its input declares its amount): the larger slot. */
export const CROSS_TRANSFER_BYTES = TRANSFER_BYTES + 8;
/** Each transaction's slot in a result: the larger of the two kinds. */
export const SLOT_BYTES = CROSS_TRANSFER_BYTES;

/** The chains of a contiguous range of accounts. Account k's keys are at k × 32. */
export interface SignTask {
  /** The txid of genesis outputs (their outpoints are (genesisHash, index)). */
  readonly genesisHash: Uint8Array;
  readonly payment: bigint;
  readonly fee: bigint;
  readonly secretKeys: Uint8Array;
  readonly publicKeys: Uint8Array;
  /** Lanes of account k are laneStart[k] .. laneStart[k+1]; each starts at a genesis output. */
  readonly laneStart: Uint32Array;
  readonly laneOutput: Uint32Array;
  readonly laneAmount: BigUint64Array;
  /** Per transfer, in plan order: sending account (local index), its lane, recipient key (32 B each), 1 when the recipient is in another shard. */
  readonly senders: Uint32Array;
  readonly lanes: Uint32Array;
  readonly recipients: Uint8Array;
  readonly cross: Uint8Array;
}

export interface SignResult {
  /** Encoded transactions, each in a SLOT_BYTES slot, in task order. */
  readonly encodings: ArrayBuffer;
  /** Each one's length. */
  readonly lengths: ArrayBuffer;
  /** Their txids, 32 bytes each. */
  readonly txids: ArrayBuffer;
}

/**
 * Builds and signs the task's transfers in order: each spends its lane's current output, pays the
 * recipient (output 0) and returns the change to the sender (output 1, the lane's next output).
 * A transfer to another shard is a cross-shard transfer (Atomix lock, kind 1): its change exists
 * at (its txid, 1) once its unlock-to-commit applied, which the driver waits for before the lane's
 * next transfer.
 */
export function signChains(task: SignTask): SignResult {
  const accounts: { publicKey: Uint8Array; key: KeyObject }[] = [];
  for (let k = 0; k + 1 < task.laneStart.length; k++) {
    const publicKey = task.publicKeys.slice(k * PUBLIC_KEY_BYTES, (k + 1) * PUBLIC_KEY_BYTES);
    const jwk = { kty: "OKP", crv: "Ed25519", d: Buffer.from(task.secretKeys.subarray(k * SECRET_KEY_BYTES, (k + 1) * SECRET_KEY_BYTES)).toString("base64url"), x: Buffer.from(publicKey).toString("base64url") };
    accounts.push({ publicKey, key: createPrivateKey({ key: jwk, format: "jwk" }) });
  }
  const laneTxid = Array.from(task.laneOutput, () => task.genesisHash);
  const laneIndex = Array.from(task.laneOutput);
  const laneAmount = Array.from(task.laneAmount);
  const count = task.senders.length;
  const encodings = new Uint8Array(count * SLOT_BYTES);
  const lengths = new Uint32Array(count);
  const txids = new Uint8Array(count * TXID_BYTES);
  for (let i = 0; i < count; i++) {
    const account = accounts[task.senders[i]!]!;
    const lane = task.laneStart[task.senders[i]!]! + task.lanes[i]!;
    const change = laneAmount[lane]! - task.payment - task.fee;
    const input = { txid: laneTxid[lane]!, index: laneIndex[lane]!, owner: account.publicKey };
    const outputs = [
      { owner: task.recipients.subarray(i * PUBLIC_KEY_BYTES, (i + 1) * PUBLIC_KEY_BYTES), amount: task.payment },
      { owner: account.publicKey, amount: change },
    ];
    const unsigned = task.cross[i] === 1
      ? encodeUnsignedCrossShardTransfer({ kind: TxKind.AtomixLock, inputs: [{ ...input, amount: laneAmount[lane]! }], outputs })
      : encodeUnsignedTransaction({ kind: TxKind.Transfer, inputs: [input], outputs });
    const txid = sha256(unsigned);
    // Either kind's encoding is its unsigned encoding followed by one signature per input.
    const at = i * SLOT_BYTES;
    encodings.set(unsigned, at);
    encodings.set(sign(null, txid, account.key), at + unsigned.length);
    lengths[i] = unsigned.length + SIGNATURE_BYTES;
    txids.set(txid, i * TXID_BYTES);
    laneTxid[lane] = txid;
    laneIndex[lane] = 1;
    laneAmount[lane] = change;
  }
  return { encodings: encodings.buffer, lengths: lengths.buffer, txids: txids.buffer };
}
