/**
 * The leader election's three messages (white paper §4.1, Algorithm 1 steps 2 and 5), in the "drp"
 * range of message types, on the channel of `electionInstance(e)` (the election and DRP belong to
 * no shard: their instance is shard 0 of the "drp" range, for the epoch being configured).
 *
 *   LOTTERY  u32 epoch ‖ u32 view ‖ u16 validator ‖ VRF proof (80)                  90 bytes
 *            self-authenticating: the proof verifies only under the named validator's key, over
 *            this configuration and view, so anyone may relay it (gossip) and a relayed copy
 *            is as good as the original;
 *   START    the same 90 bytes (the leader's own lottery) ‖ Ed25519 signature (64)  154 bytes
 *            signed by the leader over "IOSChain/election/start/v1" ‖ conf hash ‖ those 90 bytes:
 *            "the leader started DRP", which the DRP session carries as its first message;
 *            relayable too, as the signature binds it to its author.
 *   RESIGN   the same layout as START, signed over "IOSChain/election/resign/v1" ‖ conf hash
 *            ‖ those 90 bytes: "the leader I was, elected in this view, cannot deliver" (its DRP
 *            run failed its thresholds); every node that elected it skips it at once instead of
 *            waiting for the delivery deadline. It can only hasten a skip the leader could
 *            cause anyway by falling silent.
 * Integers little-endian; decoding is strict (ELECTION_MALFORMED on a wrong length).
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { HASH_BYTES, SIGNATURE_BYTES, VRF_PROOF_BYTES } from "../../codec/sizes.js";
import { verify } from "../../crypto/ed25519.js";
import { signMessage } from "../../ledger/keys.js";
import type { InstanceId, MessageType } from "../../net/interface.js";
import { messageType } from "../../net/message-types.js";
import type { ElectionErrorCode } from "./interface.js";

/** The election's types: the first of the "drp" range, 0x40–0x47 kept for it (DRP's envelope is 0x48). */
export const ELECTION_MESSAGES = {
  LOTTERY: messageType("drp", 0x00),
  START: messageType("drp", 0x01),
  RESIGN: messageType("drp", 0x02),
} as const satisfies Record<string, MessageType>;

/** The shard field of the election's instance: it runs among all validators, not in a shard. */
export const ELECTION_SHARD = 0;

/** u32 epoch ‖ u32 view ‖ u16 validator ‖ proof (module doc). */
export const LOTTERY_MESSAGE_BYTES = 4 + 4 + 2 + VRF_PROOF_BYTES;
/** START and RESIGN: a lottery message ‖ the leader's signature. */
export const START_MESSAGE_BYTES = LOTTERY_MESSAGE_BYTES + SIGNATURE_BYTES;
/** Validator indexes are u16 on the wire. */
export const MAX_VALIDATORS = 0xffff;

const START_DOMAIN = new TextEncoder().encode("IOSChain/election/start/v1");
const RESIGN_DOMAIN = new TextEncoder().encode("IOSChain/election/resign/v1");
const CODES = singleCode<ElectionErrorCode>("ELECTION_MALFORMED");

/** The channel instance of the election (and the DRP run) configuring `epoch`. */
export function electionInstance(epoch: number): InstanceId {
  return { protocol: "drp", shard: ELECTION_SHARD, epoch };
}

export interface LotteryMessage {
  readonly epoch: number;
  readonly view: number;
  readonly validator: number;
  readonly proof: Uint8Array;
}

export interface StartMessage extends LotteryMessage {
  readonly signature: Uint8Array;
  /** The whole message, as signed and relayed. */
  readonly bytes: Uint8Array;
}

export function encodeLottery(message: LotteryMessage): Uint8Array {
  return BinaryWriter.ofSize(LOTTERY_MESSAGE_BYTES).u32(message.epoch).u32(message.view).u16(message.validator).bytes(message.proof).finish();
}

function readLottery(reader: BinaryReader<ElectionErrorCode>): LotteryMessage {
  return { epoch: reader.u32("epoch"), view: reader.u32("view"), validator: reader.u16("validator"), proof: reader.bytes(VRF_PROOF_BYTES, "VRF proof").slice() };
}

export function decodeLottery(bytes: Uint8Array): LotteryMessage {
  const reader = new BinaryReader<ElectionErrorCode>(bytes, CODES);
  reader.expectRemaining(LOTTERY_MESSAGE_BYTES, "a LOTTERY");
  return readLottery(reader);
}

function signingInput(domain: Uint8Array, confHash: Uint8Array, lottery: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(domain.length + HASH_BYTES + LOTTERY_MESSAGE_BYTES).bytes(domain).bytes(confHash).bytes(lottery).finish();
}

function signLotteryStatement(domain: Uint8Array, secretKey: Uint8Array, confHash: Uint8Array, lottery: LotteryMessage): Uint8Array {
  const body = encodeLottery(lottery);
  const signature = signMessage(secretKey, signingInput(domain, confHash, body));
  return BinaryWriter.ofSize(START_MESSAGE_BYTES).bytes(body).bytes(signature).finish();
}

/** The leader's START over its own lottery, signed with its Ed25519 seed `secretKey`. */
export function signStart(secretKey: Uint8Array, confHash: Uint8Array, lottery: LotteryMessage): Uint8Array {
  return signLotteryStatement(START_DOMAIN, secretKey, confHash, lottery);
}

/** The leader's RESIGN of the view its lottery names, signed with its Ed25519 seed `secretKey`. */
export function signResign(secretKey: Uint8Array, confHash: Uint8Array, lottery: LotteryMessage): Uint8Array {
  return signLotteryStatement(RESIGN_DOMAIN, secretKey, confHash, lottery);
}

/** Decodes a START or a RESIGN (one layout). */
export function decodeStart(bytes: Uint8Array): StartMessage {
  const reader = new BinaryReader<ElectionErrorCode>(bytes, CODES);
  reader.expectRemaining(START_MESSAGE_BYTES, "a START");
  const lottery = readLottery(reader);
  return { ...lottery, signature: reader.bytes(SIGNATURE_BYTES, "signature").slice(), bytes: bytes.slice() };
}

/** Whether the START's signature verifies under `publicKey` for configuration `confHash` (ZIP-215, WASM). */
export function isStartAuthentic(start: StartMessage, confHash: Uint8Array, publicKey: Uint8Array): boolean {
  return verify(start.signature, signingInput(START_DOMAIN, confHash, start.bytes.subarray(0, LOTTERY_MESSAGE_BYTES)), publicKey);
}

/** Whether a RESIGN (decoded by `decodeStart`) is signed by `publicKey` for configuration `confHash`: a START's signature is not one. */
export function isResignAuthentic(resign: StartMessage, confHash: Uint8Array, publicKey: Uint8Array): boolean {
  return verify(resign.signature, signingInput(RESIGN_DOMAIN, confHash, resign.bytes.subarray(0, LOTTERY_MESSAGE_BYTES)), publicKey);
}
