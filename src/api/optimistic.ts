/**
 * Checks of optimistic confirmations a client receives (white paper §7.2): a status's inclusion
 * proof (`verifyOptimistic`) and a stream frame's signed block (`verifyOptimisticBatch`), so a
 * client trusts the producer's key, not the validator it asked. API_BAD_PROOF otherwise.
 */
import { IosError } from "../errors.js";
import { decodeInclusion, verifyInclusion } from "../consensus/pob/evidence.js";
import { toHex } from "../hex.js";
import { blockHash, decodeBlockHeader } from "../ledger/block.js";
import { verify as verifySignature } from "../crypto/ed25519.js";
import { merkleRootOfPackedLeaves } from "../crypto/merkle.js";
import { sameBytes } from "../bytes.js";
import { TXID_BYTES } from "../codec/sizes.js";
import type { ApiClientErrorCode, TxStatusJson } from "./client.js";
import type { OptimisticBatch } from "./stream-codec.js";

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
