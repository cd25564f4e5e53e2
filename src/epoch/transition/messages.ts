/**
 * The reconfiguration's own messages (drp range, after the election's and the DRP envelope) and
 * the two transport instances it runs on. Little-endian:
 *
 *   BOUNDARY  a final-height certificate (src/atomix/proof.ts) of epoch e's last height
 *   PROPOSAL  u32 |configuration| ‖ configuration ‖ u32 |transcript| ‖ transcript
 *   LINK      u32 |configuration| ‖ configuration ‖ u32 |certificate| ‖ certificate ‖ u32 |transcript| ‖ transcript
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../../codec/binary.js";
import { MAX_FINAL_HEIGHT_CERTIFICATE_BYTES } from "../../atomix/proof.js";
import { collectiveSignatureBytes } from "../../consensus/cosi/codec.js";
import { MAX_VALIDATORS } from "../../consensus/registry.js";
import type { InstanceId, MessageType } from "../../net/interface.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../../net/frame.js";
import { messageType } from "../../net/message-types.js";
import { check } from "../../errors.js";
import { MAX_CONFIGURATION_BYTES } from "../identity/configuration.js";
import type { IdentityLink } from "../identity/interface.js";
import type { TransitionErrorCode } from "./interface.js";

export const TRANSITION_MESSAGES = {
  BOUNDARY: messageType("drp", 0x10),
  PROPOSAL: messageType("drp", 0x11),
  LINK: messageType("drp", 0x12),
} as const satisfies Record<string, MessageType>;

/** A transcript travels in one frame (which bounds a whole message further). */
export const MAX_TRANSCRIPT_BYTES = DEFAULT_MAX_FRAME_BYTES;
/** The CoSi of the configuration runs in the consensus range under this shard number, which no shard has. */
export const IDENTITY_SHARD = 0xffff_ffff;

const CODES: CodecCodes<TransitionErrorCode> = {
  truncated: "TRANSITION_MALFORMED",
  trailing: "TRANSITION_MALFORMED",
  tooLarge: "TRANSITION_MALFORMED",
  outOfRange: "TRANSITION_MALFORMED",
};

/** The reconfiguration to `epoch` runs on these two instances. */
export function transitionInstances(epoch: number): { readonly drp: InstanceId; readonly cosi: InstanceId } {
  return { drp: { protocol: "drp", shard: 0, epoch }, cosi: { protocol: "consensus", shard: IDENTITY_SHARD, epoch } };
}

export function checkBoundary(payload: Uint8Array): Uint8Array {
  check<TransitionErrorCode>(payload.length <= MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "TRANSITION_MALFORMED", `a boundary certificate is at most ${MAX_FINAL_HEIGHT_CERTIFICATE_BYTES} bytes`);
  return payload;
}

export interface Proposal {
  readonly configuration: Uint8Array;
  readonly transcript: Uint8Array;
}

export function encodeProposal({ configuration, transcript }: Proposal): Uint8Array {
  return BinaryWriter.ofSize(8 + configuration.length + transcript.length).lengthPrefixed("u32", configuration).lengthPrefixed("u32", transcript).finish();
}

export function decodeProposal(payload: Uint8Array): Proposal {
  const reader = new BinaryReader(payload, CODES);
  const configuration = reader.lengthPrefixed("u32", MAX_CONFIGURATION_BYTES, "configuration").slice();
  const transcript = reader.lengthPrefixed("u32", MAX_TRANSCRIPT_BYTES, "transcript").slice();
  reader.expectEnd("the proposal");
  return { configuration, transcript };
}

export interface LinkMessage {
  readonly link: IdentityLink;
  readonly transcript: Uint8Array;
}

export function encodeLink({ link, transcript }: LinkMessage): Uint8Array {
  return BinaryWriter.ofSize(12 + link.configuration.length + link.certificate.length + transcript.length)
    .lengthPrefixed("u32", link.configuration).lengthPrefixed("u32", link.certificate).lengthPrefixed("u32", transcript)
    .finish();
}

export function decodeLink(payload: Uint8Array): LinkMessage {
  const reader = new BinaryReader(payload, CODES);
  const configuration = reader.lengthPrefixed("u32", MAX_CONFIGURATION_BYTES, "configuration").slice();
  const certificate = reader.lengthPrefixed("u32", collectiveSignatureBytes(MAX_VALIDATORS), "certificate").slice();
  const transcript = reader.lengthPrefixed("u32", MAX_TRANSCRIPT_BYTES, "transcript").slice();
  reader.expectEnd("the link");
  return { link: { configuration, certificate }, transcript };
}
