/**
 * Joining a shard from an MSB instead of replaying it from the genesis (issue 15, white
 * paper §8 "fast bootstrap"): the certification message and its checks. `ShardSync` runs the
 * phases (shard-sync.ts `#bootstrap`), first for the MSB before the target epoch's start (the
 * joiner then replays the epoch between and holds the blocks of the last two epochs, as every
 * pruned replica does), then, when that fails, for the MSB at the target epoch's start:
 *   1. certify   ask a source for the MSB of epoch e (above the local tip): its type-1 proof (header + the epoch-end
 *                final-height certificate, node/msb-proof.ts) verified against the committee of
 *                (e, shard), its place (chain, shard, epoch, height (e+1)·L), and the shard's
 *                headers of epochs 0..e−1, each the one the next names as level-0 back-pointer
 *                (`verifyMsbCertification`): the MSBs to come name them as back-pointers, and a
 *                joiner keeps the same header chain as the replicas that replayed;
 *   2. block     the epoch-end height's block and final-height record by state sync's own request,
 *                checked as a synced height is except its link to the (absent) predecessor;
 *   3. body      `fetchMsbBody` (src/msb/bootstrap.ts) from the shard's validators over the same
 *                channel's chunk messages, each chunk proved against the certified header: the
 *                UTXO set (section 0) and then the shard's Atomix decisions (section 1, its replay
 *                guard, src/msb/decisions.ts), each against its own root;
 *   4. restore   ShardState.restoreAtMsb: ONE store transaction (the UTXO set and the phase table);
 *                then sync replays only the heights after the MSB, its commitment chain seeded by
 *                the restored certificate.
 *
 * Messages (little-endian, the `msb` range, node/sync state sync's channel):
 *
 *   MSB_CERT_REQUEST (0x84)  u8 version=1 ‖ u32 epoch                                       (5 B)
 *   MSB_CERT_ANSWER  (0x85)  u8 version=1 ‖ u8 status ‖ u32 epoch
 *                            status OK (0) only: u32 |proof| ‖ type-1 proof ‖ u32 k ‖
 *                            k × (u16 |header| ‖ header), the headers of epochs 0..k−1, k = epoch
 *                            UNKNOWN (1: the server keeps no body of that epoch's MSB: a server keeps
 *                            the latest two, store MSB_BODIES_KEPT),
 *                            BUSY (2: the peer's serving budget is spent): nothing after the head
 *
 * Decoding is strict (SYNC_MALFORMED): version, status, truncation, trailing bytes, k ≠ epoch.
 *
 * API: `MSB_CERT_REQUEST`, `MSB_CERT_ANSWER`, `CertStatus`, `encodeCertRequest` /
 * `decodeCertRequest`, `encodeCertAnswer` / `decodeCertAnswer`, `verifyMsbCertification`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import type { CommitteeDirectory } from "../../atomix/proof.js";
import type { Ed25519Verifier } from "../../crypto/ed25519.js";
import { sameBytes } from "../../bytes.js";
import { IosError, check, hasCodeIn } from "../../errors.js";
import { MAX_MSB_HEADER_BYTES, decodeMsbHeader, msbHeaderHashOfEncoding } from "../../msb/header.js";
import { MSB_ERROR_CODES, type MsbHeader } from "../../msb/interface.js";
import { messageType } from "../../net/message-types.js";
import { verifyIosProof } from "../msb-proof.js";
import { MAX_SYNC_RESPONSE_BYTES, type SyncErrorCode } from "./interface.js";

export const MSB_CERT_REQUEST = messageType("msb", 4);
export const MSB_CERT_ANSWER = messageType("msb", 5);
export const MSB_CERT_VERSION = 1;

export const CertStatus = { Ok: 0, Unknown: 1, Busy: 2 } as const;
export type CertStatus = (typeof CertStatus)[keyof typeof CertStatus];

const CODES = singleCode<SyncErrorCode>("SYNC_MALFORMED");
const REQUEST_BYTES = 1 + 4;
/** An answer before its certification: version, status, epoch. */
export const CERT_ANSWER_HEAD_BYTES = 1 + 1 + 4;

export interface CertAnswer {
  readonly status: CertStatus;
  readonly epoch: number;
  /** OK only: the type-1 proof (node/msb-proof.ts). */
  readonly proof?: Uint8Array;
  /** OK only: the headers of epochs 0..epoch − 1, in epoch order. */
  readonly earlierHeaders?: readonly Uint8Array[];
}

export function encodeCertRequest(epoch: number): Uint8Array {
  return BinaryWriter.ofSize(REQUEST_BYTES).u8(MSB_CERT_VERSION).u32(epoch).finish();
}

export function decodeCertRequest(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes, CODES);
  const version = reader.u8("version");
  check<SyncErrorCode>(version === MSB_CERT_VERSION, "SYNC_MALFORMED", `MSB certification request version ${version}, this program reads ${MSB_CERT_VERSION}`);
  const epoch = reader.u32("epoch");
  reader.expectEnd("the MSB certification request");
  return epoch;
}

export function encodeCertAnswer(answer: CertAnswer): Uint8Array {
  const { proof, earlierHeaders } = answer;
  const ok = answer.status === CertStatus.Ok;
  check<SyncErrorCode>(ok === (proof !== undefined && earlierHeaders?.length === answer.epoch), "SYNC_BAD_INPUT", "an OK answer carries a proof and every earlier header, a refusal none");
  const size = CERT_ANSWER_HEAD_BYTES + (ok ? 4 + proof!.length + 4 + earlierHeaders!.reduce((sum, header) => sum + 2 + header.length, 0) : 0);
  const writer = BinaryWriter.ofSize(size).u8(MSB_CERT_VERSION).u8(answer.status).u32(answer.epoch);
  if (ok) {
    writer.lengthPrefixed("u32", proof!).u32(earlierHeaders!.length);
    for (const header of earlierHeaders!) writer.lengthPrefixed("u16", header);
  }
  return writer.finish();
}

export function decodeCertAnswer(bytes: Uint8Array): CertAnswer {
  check<SyncErrorCode>(bytes.length <= MAX_SYNC_RESPONSE_BYTES, "SYNC_OVERSIZE", `an answer of ${bytes.length} bytes exceeds ${MAX_SYNC_RESPONSE_BYTES}`);
  const reader = new BinaryReader(bytes, CODES);
  const version = reader.u8("version");
  check<SyncErrorCode>(version === MSB_CERT_VERSION, "SYNC_MALFORMED", `MSB certification answer version ${version}, this program reads ${MSB_CERT_VERSION}`);
  const status = reader.u8("status");
  check<SyncErrorCode>(status === CertStatus.Ok || status === CertStatus.Unknown || status === CertStatus.Busy, "SYNC_MALFORMED", `status ${status} is not defined`);
  const epoch = reader.u32("epoch");
  if (status !== CertStatus.Ok) {
    reader.expectEnd("a refusal");
    return { status: status as CertStatus, epoch };
  }
  const proof = reader.lengthPrefixed("u32", MAX_SYNC_RESPONSE_BYTES, "proof").slice();
  const k = reader.u32("header count");
  check<SyncErrorCode>(k === epoch, "SYNC_MALFORMED", `the MSB of epoch ${epoch} comes with the ${epoch} earlier headers, not ${k}`);
  const earlierHeaders = Array.from({ length: k }, (_, i) => reader.lengthPrefixed("u16", MAX_MSB_HEADER_BYTES, `header of epoch ${i}`).slice());
  reader.expectEnd("the MSB certification answer");
  return { status: CertStatus.Ok, epoch, proof, earlierHeaders };
}

/** What a joiner learns from a verified certification. */
export interface VerifiedCertification {
  readonly header: MsbHeader;
  /** The header's encoding and hash, as certified. */
  readonly encoded: Uint8Array;
  readonly hash: Uint8Array;
  readonly earlierHeaders: readonly { readonly epoch: number; readonly header: Uint8Array }[];
}

/**
 * Phase 1: the answer's proof verifies against the committee of (epoch, shard) and names the MSB of
 * `expected` (chain, shard, epoch, height); every earlier header is the one its successor's
 * level-0 back-pointer names, of this chain and shard and its epoch. Throws SYNC_BAD_CERTIFICATE
 * (an unverifiable proof: its code in the message) or SYNC_MSB_MISMATCH (a sound proof of another
 * MSB, or a header chain that breaks).
 */
export function verifyMsbCertification(answer: CertAnswer, expected: { readonly chain: Uint8Array; readonly shard: number; readonly epoch: number; readonly height: number },
  committees: CommitteeDirectory, verifier?: Ed25519Verifier): VerifiedCertification {
  check<SyncErrorCode>(answer.status === CertStatus.Ok && answer.proof !== undefined && answer.earlierHeaders !== undefined, "SYNC_BAD_INPUT", "only an OK answer certifies");
  let verified;
  try {
    verified = verifyIosProof(answer.proof, { committees, ...(verifier === undefined ? {} : { verifier }) });
  } catch (error) {
    // Every coded failure of untrusted bytes (MSB_PROOF_*, MSB_*, TX_PROOF_*): the source's fault.
    if (error instanceof IosError) {
      throw new IosError<SyncErrorCode>("SYNC_BAD_CERTIFICATE", `MSB of epoch ${expected.epoch}: ${error.code}: ${error.message}`);
    }
    throw error;
  }
  if (verified.type !== "msb-header") throw new IosError<SyncErrorCode>("SYNC_BAD_CERTIFICATE", `MSB of epoch ${expected.epoch}: a ${verified.type} proof, not an MSB header's`);
  const { header, headerHash } = verified;
  const place = (h: MsbHeader): boolean => sameBytes(h.chain, expected.chain) && h.shard === expected.shard;
  if (!place(header) || header.epoch !== expected.epoch || header.height !== expected.height) {
    throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `asked for the MSB of chain ${expected.shard}/${expected.epoch} at height ${expected.height}; certified: shard ${header.shard}, epoch ${header.epoch}, height ${header.height}`);
  }
  const earlierHeaders: { epoch: number; header: Uint8Array }[] = [];
  let named = header.backPointers[0];
  for (let epoch = expected.epoch - 1; epoch >= 0; epoch--) {
    const encoded = answer.earlierHeaders[epoch]!;
    if (named === undefined || !sameBytes(msbHeaderHashOfEncoding(encoded), named)) {
      throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `the header sent for epoch ${epoch} is not the one epoch ${epoch + 1}'s back-pointer names`);
    }
    let earlier: MsbHeader;
    try {
      earlier = decodeMsbHeader(encoded);
    } catch (error) {
      if (hasCodeIn(error, MSB_ERROR_CODES)) throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `the header of epoch ${epoch}: ${error.message}`);
      throw error;
    }
    if (!place(earlier) || earlier.epoch !== epoch) throw new IosError<SyncErrorCode>("SYNC_MSB_MISMATCH", `the header named for epoch ${epoch} is of shard ${earlier.shard}, epoch ${earlier.epoch}`);
    earlierHeaders.unshift({ epoch, header: encoded });
    named = earlier.backPointers[0];
  }
  const encoded = proofHeaderBytes(answer.proof);
  return { header, encoded, hash: headerHash, earlierHeaders };
}

/** The header bytes inside a type-1 proof (already verified: u8 type ‖ u8 version ‖ u16 |header| ‖ header ‖ …). */
function proofHeaderBytes(proof: Uint8Array): Uint8Array {
  const reader = new BinaryReader(proof, CODES);
  reader.advance(2);
  return reader.lengthPrefixed("u16", MAX_MSB_HEADER_BYTES, "MSB header").slice();
}
