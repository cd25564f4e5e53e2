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
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../codec/sizes.js";

const TRANSFER_BYTES = encodedLength(1, 2);
const UNSIGNED_TRANSFER_BYTES = TRANSFER_BYTES - SIGNATURE_BYTES;

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
  /** Per transfer, in plan order: sending account (local index), its lane, recipient key (32 B each). */
  readonly senders: Uint32Array;
  readonly lanes: Uint32Array;
  readonly recipients: Uint8Array;
}

export interface SignResult {
  /** Encoded transfers, TRANSFER_BYTES each, in task order. */
  readonly encodings: ArrayBuffer;
  /** Their txids, 32 bytes each. */
  readonly txids: ArrayBuffer;
}

/**
 * Builds and signs the task's transfers in order: each spends its lane's current output, pays the
 * recipient (output 0) and returns the change to the sender (output 1, the lane's next output).
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
  const encodings = new Uint8Array(count * TRANSFER_BYTES);
  const txids = new Uint8Array(count * TXID_BYTES);
  for (let i = 0; i < count; i++) {
    const account = accounts[task.senders[i]!]!;
    const lane = task.laneStart[task.senders[i]!]! + task.lanes[i]!;
    const change = laneAmount[lane]! - task.payment - task.fee;
    const unsigned = encodeUnsignedTransaction({
      kind: TxKind.Transfer,
      inputs: [{ txid: laneTxid[lane]!, index: laneIndex[lane]!, owner: account.publicKey }],
      outputs: [
        { owner: task.recipients.subarray(i * PUBLIC_KEY_BYTES, (i + 1) * PUBLIC_KEY_BYTES), amount: task.payment },
        { owner: account.publicKey, amount: change },
      ],
    });
    const txid = sha256(unsigned);
    // The full encoding is the unsigned encoding followed by one signature per input (transaction.ts).
    const at = i * TRANSFER_BYTES;
    encodings.set(unsigned, at);
    encodings.set(sign(null, txid, account.key), at + UNSIGNED_TRANSFER_BYTES);
    txids.set(txid, i * TXID_BYTES);
    laneTxid[lane] = txid;
    laneIndex[lane] = 1;
    laneAmount[lane] = change;
  }
  return { encodings: encodings.buffer, txids: txids.buffer };
}
