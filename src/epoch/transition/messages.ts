/**
 * The reconfiguration's own messages (drp range, after the election's and the DRP envelope) and
 * the two transport instances it runs on. Little-endian:
 *
 *   BOUNDARY  u32 |certificate| ‖ a final-height certificate (src/atomix/proof.ts) of epoch e's
 *             last height ‖ accounts ‖ changes
 *   accounts  the shard's believability accounts after that height, whose hash the certificate
 *             commits to (PoB believability.ts `encodeAccountStates`: u16 n ‖ n × (key ‖ u64 stake
 *             ‖ u32 servi ‖ u16 reputation ‖ u8 excluded), ascending keys)
 *   PROPOSAL  u32 |configuration| ‖ configuration ‖ u32 |transcript| ‖ transcript ‖ changes
 *   changes   u16 k ‖ k × (u32 |tx| ‖ registration or leave ‖ u16 |proof| ‖ its decision proof)
 *   LINK      u32 |configuration| ‖ configuration ‖ u32 |certificate| ‖ certificate ‖ u32 |transcript| ‖ transcript
 *   LOCK      a PROPOSAL's bytes: the one its sender agreed to sign, for the leader it elected since
 *   ARCHIVE_REQUEST, ARCHIVE_LINK  link catch-up (catch-up.ts)
 */
import { BinaryReader, BinaryWriter, type CodecCodes } from "../../codec/binary.js";
import { MAX_DECISION_PROOF_BYTES, MAX_FINAL_HEIGHT_CERTIFICATE_BYTES } from "../../atomix/proof.js";
import { MAX_TX_BYTES } from "../../ledger/kinds/interface.js";
import { ACCOUNT_STATE_BYTES, readAccountStates, writeAccountState, type AccountState } from "../../consensus/pob/believability.js";
import type { InstanceId, MessageType } from "../../net/interface.js";
import { MAX_TRANSCRIPT_BYTES } from "../drp/transcript.js";
import { messageType } from "../../net/message-types.js";
import { check } from "../../errors.js";
import { MAX_CONFIGURATION_BYTES } from "../identity/configuration.js";
import type { IdentityLink } from "../identity/interface.js";
import { MAX_CERTIFICATE_BYTES } from "../identity/link.js";
import type { ProvenChange, TransitionErrorCode } from "./interface.js";

export const TRANSITION_MESSAGES = {
  BOUNDARY: messageType("drp", 0x10),
  PROPOSAL: messageType("drp", 0x11),
  LINK: messageType("drp", 0x12),
  /** Link catch-up (catch-up.ts), on the archive instance: u32 epoch. */
  ARCHIVE_REQUEST: messageType("drp", 0x13),
  /** u32 epoch ‖ LINK. */
  ARCHIVE_LINK: messageType("drp", 0x14),
  /** A PROPOSAL this validator agreed to sign, sent to each leader it elects later (transition.ts, step 5). */
  LOCK: messageType("drp", 0x15),
} as const satisfies Record<string, MessageType>;

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

/** Changes one message carries (a u16 count). */
export const MAX_CHANGES = 0xffff;

function changesBytes(changes: readonly ProvenChange[]): number {
  return 2 + changes.reduce((sum, { tx, proof }) => sum + 6 + tx.length + proof.length, 0);
}

function writeChanges(writer: BinaryWriter, changes: readonly ProvenChange[]): BinaryWriter {
  check<TransitionErrorCode>(changes.length <= MAX_CHANGES, "TRANSITION_MALFORMED", `at most ${MAX_CHANGES} changes per message`);
  writer.u16(changes.length);
  for (const { tx, proof } of changes) writer.lengthPrefixed("u32", tx).lengthPrefixed("u16", proof);
  return writer;
}

function readChanges(reader: BinaryReader<TransitionErrorCode>): ProvenChange[] {
  return Array.from({ length: reader.u16("change count") }, () => ({
    tx: reader.lengthPrefixed("u32", MAX_TX_BYTES, "change").slice(),
    proof: reader.lengthPrefixed("u16", MAX_DECISION_PROOF_BYTES, "change proof").slice(),
  }));
}

/** A shard's end of epoch e: what the transition checks and carries into e + 1. */
export interface Boundary {
  /** The final-height certificate of epoch e's last height. */
  readonly certificate: Uint8Array;
  /** The shard's believability accounts after that height, in key order: the certificate's accounts hash is theirs. */
  readonly accounts: readonly AccountState[];
  readonly changes: readonly ProvenChange[];
}

export function encodeBoundary({ certificate, accounts, changes }: Boundary): Uint8Array {
  check<TransitionErrorCode>(accounts.length <= 0xffff, "TRANSITION_MALFORMED", "at most 65,535 accounts per boundary");
  const writer = BinaryWriter.ofSize(4 + certificate.length + 2 + accounts.length * ACCOUNT_STATE_BYTES + changesBytes(changes)).lengthPrefixed("u32", certificate).u16(accounts.length);
  for (const account of accounts) writeAccountState(writer, account);
  return writeChanges(writer, changes).finish();
}

export function decodeBoundary(payload: Uint8Array): Boundary {
  const reader = new BinaryReader(payload, CODES);
  const certificate = reader.lengthPrefixed("u32", MAX_FINAL_HEIGHT_CERTIFICATE_BYTES, "certificate").slice();
  const accounts = readAccountStates(reader, "TRANSITION_MALFORMED");
  const changes = readChanges(reader);
  reader.expectEnd("the boundary");
  return { certificate, accounts, changes };
}

export interface Proposal {
  readonly configuration: Uint8Array;
  readonly transcript: Uint8Array;
  /** Every change the configuration's validator set applies. */
  readonly changes: readonly ProvenChange[];
}

export function encodeProposal({ configuration, transcript, changes }: Proposal): Uint8Array {
  return writeChanges(BinaryWriter.ofSize(8 + configuration.length + transcript.length + changesBytes(changes)).lengthPrefixed("u32", configuration).lengthPrefixed("u32", transcript), changes).finish();
}

export function decodeProposal(payload: Uint8Array): Proposal {
  const reader = new BinaryReader(payload, CODES);
  const configuration = reader.lengthPrefixed("u32", MAX_CONFIGURATION_BYTES, "configuration").slice();
  const transcript = reader.lengthPrefixed("u32", MAX_TRANSCRIPT_BYTES, "transcript").slice();
  const changes = readChanges(reader);
  reader.expectEnd("the proposal");
  return { configuration, transcript, changes };
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
  const certificate = reader.lengthPrefixed("u32", MAX_CERTIFICATE_BYTES, "certificate").slice();
  const transcript = reader.lengthPrefixed("u32", MAX_TRANSCRIPT_BYTES, "transcript").slice();
  reader.expectEnd("the link");
  return { link: { configuration, certificate }, transcript };
}
