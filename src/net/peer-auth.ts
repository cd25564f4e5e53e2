/**
 * Peer authentication: mutual Ed25519 challenge–response run on every new link before anything
 * else may cross it (DESIGN §8: "peer links are authenticated (signed challenge)"). Validators
 * are named by their Ed25519 public keys, the same keys the identity chain registers (white paper
 * §4, §5.4), so a link authenticated here carries messages attributable to one validator.
 *
 * Phases (both sides run them concurrently; frames are HELLO and AUTH of message-types.ts):
 *   1. HELLO  each side sends a fresh random 32-byte nonce and the public key it claims.
 *   2. admit  on the peer's HELLO, each side checks the claimed key: not its own, the key the
 *             dialer meant to reach, a member of the validator set (and whatever link policy the
 *             transport adds); otherwise the link is refused.
 *   3. AUTH   each side signs the transcript
 *               tag ‖ len(chain id) ‖ chain id ‖ signer role ‖ dialer nonce ‖ acceptor nonce
 *               ‖ dialer key ‖ acceptor key
 *             and sends the signature. Both nonces make the signature worthless on any other
 *             link; the role byte makes it worthless in the other direction of the same link;
 *             the chain id makes it worthless on another network.
 *   4. verify on the peer's AUTH, the signature is checked under the claimed key; the link is
 *             authenticated once it verifies. The transport bounds the whole exchange with a
 *             timeout (AUTH_TIMEOUT).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as signMessage,
  verify as verifyMessage,
  type KeyObject,
} from "node:crypto";
import { IosError, check } from "../errors.js";
import type { Rng } from "../runtime/interface.js";
import type { PeerId } from "./interface.js";
import { toHex } from "../hex.js";
import { BinaryWriter } from "../codec/binary.js";
import { layout } from "../codec/layout.js";
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES } from "../codec/sizes.js";

export type AuthErrorCode =
  | "AUTH_BAD_CONFIG"
  | "AUTH_BAD_MESSAGE"
  | "AUTH_UNEXPECTED"
  | "AUTH_SELF"
  | "AUTH_WRONG_PEER"
  | "AUTH_UNKNOWN_PEER"
  | "AUTH_WRONG_DIRECTION"
  | "AUTH_BANNED"
  | "AUTH_BAD_SIGNATURE"
  | "AUTH_TIMEOUT";

/** Domain-separation tag of the transcript; bump the version if the transcript changes. */
export const PEER_AUTH_TAG = new TextEncoder().encode("IOSChain/peer-auth/v1");
export const NONCE_BYTES = 32;
const HELLO = layout({ nonce: NONCE_BYTES, publicKey: PUBLIC_KEY_BYTES });
export const HELLO_BYTES = HELLO.bytes;
/** The chain id is length-prefixed with one byte. */
export const MAX_CHAIN_ID_BYTES = 255;

export type LinkRole = "dialer" | "acceptor";
const ROLE_BYTE: Record<LinkRole, number> = { dialer: 1, acceptor: 2 };

// DER wrappers of raw Ed25519 keys (RFC 8410): node:crypto imports keys only as PKCS#8 / SPKI.
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** The PeerId (lowercase hex) of a 32-byte public key. */
export function peerIdOf(publicKey: Uint8Array): PeerId {
  check(publicKey instanceof Uint8Array && publicKey.length === PUBLIC_KEY_BYTES, "AUTH_BAD_CONFIG", `public key must be ${PUBLIC_KEY_BYTES} bytes`);
  return toHex(publicKey);
}

/** A validator's Ed25519 key pair as used on peer links. */
export class PeerIdentity {
  readonly id: PeerId;

  private constructor(
    readonly publicKey: Uint8Array,
    private readonly privateKey: KeyObject,
  ) {
    this.id = peerIdOf(publicKey);
  }

  /** The identity of a 32-byte RFC 8032 seed (secret key). */
  static fromSeed(seed: Uint8Array): PeerIdentity {
    check(seed instanceof Uint8Array && seed.length === SECRET_KEY_BYTES, "AUTH_BAD_CONFIG", `seed must be ${SECRET_KEY_BYTES} bytes`);
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
    const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
    return new PeerIdentity(new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length)), privateKey);
  }

  static generate(): PeerIdentity {
    const { privateKey } = generateKeyPairSync("ed25519");
    const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
    return PeerIdentity.fromSeed(new Uint8Array(pkcs8.subarray(PKCS8_ED25519_PREFIX.length)));
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(signMessage(null, message, this.privateKey));
  }
}

/** Ed25519 verification (node:crypto); a malformed key or signature is simply invalid. */
export function verifyPeerSignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
    return verifyMessage(null, message, key, signature);
  } catch {
    // A key node:crypto cannot import verifies nothing; the caller refuses the link and counts it.
    return false;
  }
}

export interface TranscriptParts {
  chainId: Uint8Array;
  signer: LinkRole;
  dialerNonce: Uint8Array;
  acceptorNonce: Uint8Array;
  dialerKey: Uint8Array;
  acceptorKey: Uint8Array;
}

/** The bytes a side signs in phase 3 (see the header comment). */
export function authTranscript(parts: TranscriptParts): Uint8Array {
  const { chainId, dialerNonce, acceptorNonce, dialerKey, acceptorKey } = parts;
  const size = PEER_AUTH_TAG.length + 1 + chainId.length + 1 + dialerNonce.length + acceptorNonce.length + dialerKey.length + acceptorKey.length;
  return BinaryWriter.ofSize(size)
    .bytes(PEER_AUTH_TAG)
    .lengthPrefixed("u8", chainId)
    .u8(ROLE_BYTE[parts.signer])
    .bytes(dialerNonce)
    .bytes(acceptorNonce)
    .bytes(dialerKey)
    .bytes(acceptorKey)
    .finish();
}

export function encodeHello(nonce: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return BinaryWriter.ofSize(HELLO.bytes).bytes(nonce).bytes(publicKey).finish();
}

export interface HandshakeOptions {
  role: LinkRole;
  identity: PeerIdentity;
  /** Genesis / chain id binding the signatures to one network (1–255 bytes). */
  chainId: Uint8Array;
  /** Source of the nonce: a CSPRNG in production. */
  rng: Rng;
  /** The dialer's intended peer: any other key in the acceptor's HELLO is refused. */
  expectedPeer?: PeerId;
  /** Link policy on the claimed key (validator set, direction): an error code refuses it. */
  admit(peer: PeerId): AuthErrorCode | undefined;
}

type HandshakeState = "awaiting-hello" | "awaiting-auth" | "authenticated" | "failed";

/**
 * One side of one link's handshake, independent of sockets: feed it the peer's HELLO and AUTH
 * payloads in order; it returns what to send and throws `IosError<AuthErrorCode>` to refuse.
 */
export class PeerHandshake {
  readonly role: LinkRole;
  private readonly nonce: Uint8Array;
  private state: HandshakeState = "awaiting-hello";
  private peerNonce: Uint8Array | undefined;
  private peerKey: Uint8Array | undefined;
  private peerIdValue: PeerId | undefined;

  constructor(private readonly options: HandshakeOptions) {
    check(options.role === "dialer" || options.role === "acceptor", "AUTH_BAD_CONFIG", "role must be dialer or acceptor");
    check(
      options.chainId instanceof Uint8Array && options.chainId.length >= 1 && options.chainId.length <= MAX_CHAIN_ID_BYTES,
      "AUTH_BAD_CONFIG",
      `chain id must be 1–${MAX_CHAIN_ID_BYTES} bytes`,
    );
    check(options.role === "acceptor" || options.expectedPeer !== undefined, "AUTH_BAD_CONFIG", "a dialer must name the peer it expects");
    this.role = options.role;
    this.nonce = options.rng.bytes(NONCE_BYTES);
    check(this.nonce.length === NONCE_BYTES, "AUTH_BAD_CONFIG", "rng returned a nonce of the wrong length");
  }

  /** Our HELLO payload: nonce ‖ public key. */
  hello(): Uint8Array {
    return encodeHello(this.nonce, this.options.identity.publicKey);
  }

  get authenticated(): boolean {
    return this.state === "authenticated";
  }

  /** The claimed peer after its HELLO was admitted (authenticated only once `authenticated`). */
  get peer(): PeerId | undefined {
    return this.peerIdValue;
  }

  /** Phases 2–3: checks the peer's HELLO and returns our AUTH payload (signature). */
  receiveHello(payload: Uint8Array): Uint8Array {
    if (this.state !== "awaiting-hello") this.refuse("AUTH_UNEXPECTED", `HELLO received in state ${this.state}`);
    if (payload.length !== HELLO_BYTES) this.refuse("AUTH_BAD_MESSAGE", `HELLO must be ${HELLO_BYTES} bytes, got ${payload.length}`);
    const peerNonce = payload.slice(HELLO.offset.nonce, HELLO.offset.nonce + NONCE_BYTES);
    const peerKey = payload.slice(HELLO.offset.publicKey, HELLO.offset.publicKey + PUBLIC_KEY_BYTES);
    const peer = toHex(peerKey);
    const self = this.options.identity.id;
    if (peer === self) this.refuse("AUTH_SELF", "peer claims our own key");
    if (this.role === "dialer" && peer !== this.options.expectedPeer) {
      this.refuse("AUTH_WRONG_PEER", `dialed ${this.options.expectedPeer}, peer claims ${peer}`);
    }
    const refusal = this.options.admit(peer);
    if (refusal !== undefined) this.refuse(refusal, `peer ${peer} not admitted`);
    this.peerNonce = peerNonce;
    this.peerKey = peerKey;
    this.peerIdValue = peer;
    this.state = "awaiting-auth";
    return this.options.identity.sign(this.transcript(this.role));
  }

  /** Phase 4: verifies the peer's signature; returns the authenticated peer. */
  receiveAuth(payload: Uint8Array): PeerId {
    if (this.state !== "awaiting-auth") this.refuse("AUTH_UNEXPECTED", `AUTH received in state ${this.state}`);
    if (payload.length !== SIGNATURE_BYTES) this.refuse("AUTH_BAD_MESSAGE", `AUTH must be ${SIGNATURE_BYTES} bytes, got ${payload.length}`);
    const peerRole: LinkRole = this.role === "dialer" ? "acceptor" : "dialer";
    if (!verifyPeerSignature(this.peerKey!, this.transcript(peerRole), payload)) {
      this.refuse("AUTH_BAD_SIGNATURE", `signature of ${this.peerIdValue} does not verify`);
    }
    this.state = "authenticated";
    return this.peerIdValue!;
  }

  private transcript(signer: LinkRole): Uint8Array {
    const own = this.options.identity.publicKey;
    const dialer = this.role === "dialer";
    return authTranscript({
      chainId: this.options.chainId,
      signer,
      dialerNonce: dialer ? this.nonce : this.peerNonce!,
      acceptorNonce: dialer ? this.peerNonce! : this.nonce,
      dialerKey: dialer ? own : this.peerKey!,
      acceptorKey: dialer ? this.peerKey! : own,
    });
  }

  private refuse(code: AuthErrorCode, message: string): never {
    this.state = "failed";
    throw new IosError<AuthErrorCode>(code, message);
  }
}
