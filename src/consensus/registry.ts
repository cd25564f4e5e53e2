/**
 * The validator registry: the public keys allowed to take part in collective signatures, each
 * admitted only with a proof of possession (PoP) of its secret key. Without the PoP a rogue
 * validator could register A' = X·B − ΣA_j, making the aggregate key of a mask its own key and
 * forging collective signatures alone (the rogue-key attack; Ristenpart–Yilek 2007, Boneh et al.
 * 2018). The PoP is an ordinary Ed25519 signature by the key over a domain-separated message that
 * names the key and the chain, so it cannot be replayed on another chain or lifted from another
 * protocol's signature (white paper §5.1: the identity chain carries keys with their PoPs).
 *
 * Keys are ordered by their encoding: that order is the participant index of a CoSi bitmask.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { IosError, check } from "../errors.js";
import { verify as verifyEd25519 } from "../crypto/ed25519.js";
import type { SchnorrKey } from "../crypto/schnorr.js";
import type { PeerId } from "../net/interface.js";
import { peerIdOf } from "../net/peer-auth.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../codec/sizes.js";
import { sameBytes } from "../bytes.js";
import { toHex } from "../hex.js";

export type RegistryErrorCode =
  | "REGISTRY_BAD_KEY"
  | "REGISTRY_BAD_POP"
  | "REGISTRY_BAD_CHAIN_ID"
  | "REGISTRY_DUPLICATE"
  | "REGISTRY_UNKNOWN";

/** Domain separator of proof-of-possession messages (DESIGN.md §2, CoSi row). */
export const POP_DOMAIN = "IOSChain/pop/v1";
/** A chain id is 1..64 bytes (a genesis hash, a network name); length-prefixed in the PoP message. */
export const MAX_CHAIN_ID_BYTES = 64;
/** CoSi masks index validators with 16-bit counts (src/consensus/cosi/codec.ts). */
export const MAX_VALIDATORS = 0xffff;

const DOMAIN_BYTES = new TextEncoder().encode(POP_DOMAIN);

function checkChainId(chainId: Uint8Array): void {
  check(
    chainId instanceof Uint8Array && chainId.length >= 1 && chainId.length <= MAX_CHAIN_ID_BYTES,
    "REGISTRY_BAD_CHAIN_ID",
    `chain id must be 1..${MAX_CHAIN_ID_BYTES} bytes`,
  );
}

/** The signed PoP message: "IOSChain/pop/v1" ‖ public key (32) ‖ u8 chain id length ‖ chain id. */
export function popMessage(publicKey: Uint8Array, chainId: Uint8Array): Uint8Array {
  check(publicKey instanceof Uint8Array && publicKey.length === PUBLIC_KEY_BYTES, "REGISTRY_BAD_KEY", `public key must be ${PUBLIC_KEY_BYTES} bytes`);
  checkChainId(chainId);
  const message = new Uint8Array(DOMAIN_BYTES.length + PUBLIC_KEY_BYTES + 1 + chainId.length);
  message.set(DOMAIN_BYTES, 0);
  message.set(publicKey, DOMAIN_BYTES.length);
  message[DOMAIN_BYTES.length + PUBLIC_KEY_BYTES] = chainId.length;
  message.set(chainId, DOMAIN_BYTES.length + PUBLIC_KEY_BYTES + 1);
  return message;
}

/** Whatever holds a secret key and signs with it (a SchnorrKey, a ledger key pair's signer). */
export type PossessionSigner = Pick<SchnorrKey, "publicKey" | "sign">;

/** The proof of possession of `key` for `chainId`. */
export function proveKeyPossession(key: PossessionSigner, chainId: Uint8Array): Uint8Array {
  return key.sign(popMessage(key.publicKey, chainId));
}

/**
 * Keys `keyProblem` found sound, by their bytes. A validator checks the same keys again every
 * epoch (its DRP configuration, the transition, registrations), and the torsion check is a full
 * scalar multiplication in JS (about 1 ms); the simulator, running every node in one process,
 * paid it n² times per epoch (a third of a whole-node TransEpoch test's CPU). Only sound keys are
 * kept: the answer is a pure function of the bytes, and a refused key costs its sender the whole
 * check again. Emptied when full, so a flood of fresh keys costs time, never memory.
 */
const SOUND_KEYS_KEPT = 4096;
const soundKeys = new Set<string>();

/**
 * Why `publicKey` may not be a validator key, or undefined if it may: the encoding must be
 * canonical and the point of large order, since a small-order key adds nothing a signer must
 * know and lets malleable "signatures" verify under ZIP-215's cofactored equation. The point
 * must also be torsion-free (in the prime-order subgroup): the cofactored equation ignores a
 * small-order component, so one secret would otherwise prove possession of eight keys A + T.
 */
export function keyProblem(publicKey: Uint8Array): string | undefined {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return `public key must be ${PUBLIC_KEY_BYTES} bytes`;
  const known = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString("latin1");
  if (soundKeys.has(known)) return undefined;
  let point;
  try {
    point = ed25519.Point.fromBytes(publicKey);
  } catch {
    return "public key is not a canonical curve point";
  }
  if (point.isSmallOrder()) return "public key is a small-order point";
  if (!point.isTorsionFree()) return "public key has a small-order component";
  if (soundKeys.size >= SOUND_KEYS_KEPT) soundKeys.clear();
  soundKeys.add(known);
  return undefined;
}

/** Checks a PoP (ZIP-215 verification in WASM) after the key checks of `keyProblem`. */
export function verifyKeyPossession(publicKey: Uint8Array, proof: Uint8Array, chainId: Uint8Array): boolean {
  checkChainId(chainId);
  if (keyProblem(publicKey) !== undefined) return false;
  if (!(proof instanceof Uint8Array) || proof.length !== SIGNATURE_BYTES) return false;
  return verifyEd25519(proof, popMessage(publicKey, chainId), publicKey);
}

export interface RegisteredValidator {
  readonly publicKey: Uint8Array;
  readonly proof: Uint8Array;
  readonly peerId: PeerId;
}

/** Validators of one chain, ordered by public key encoding; every entry has a checked PoP. */
export class ValidatorRegistry {
  readonly chainId: Uint8Array;
  private readonly byPeer = new Map<PeerId, RegisteredValidator>();
  private ordered: RegisteredValidator[] | undefined;

  constructor(chainId: Uint8Array) {
    checkChainId(chainId);
    this.chainId = Uint8Array.from(chainId);
  }

  /** Admits a key with its PoP; returns its peer id (hex of the key). */
  register(publicKey: Uint8Array, proof: Uint8Array): PeerId {
    const problem = keyProblem(publicKey);
    if (problem !== undefined) throw new IosError<RegistryErrorCode>("REGISTRY_BAD_KEY", problem);
    check(proof instanceof Uint8Array && proof.length === SIGNATURE_BYTES, "REGISTRY_BAD_POP", `proof of possession must be ${SIGNATURE_BYTES} bytes`);
    const peerId = peerIdOf(publicKey);
    check(!this.byPeer.has(peerId), "REGISTRY_DUPLICATE", `validator ${peerId} is already registered`);
    check(this.byPeer.size < MAX_VALIDATORS, "REGISTRY_BAD_KEY", `a registry holds at most ${MAX_VALIDATORS} validators`);
    // The key and the proof's length are checked above: verifyKeyPossession would repeat keyProblem, half of this call's cost.
    check(
      verifyEd25519(proof, popMessage(publicKey, this.chainId), publicKey),
      "REGISTRY_BAD_POP",
      `proof of possession of ${peerId} does not verify for this chain`,
    );
    this.byPeer.set(peerId, { publicKey: Uint8Array.from(publicKey), proof: Uint8Array.from(proof), peerId });
    this.ordered = undefined;
    return peerId;
  }

  /**
   * The registry of a later epoch of the same chain (src/epoch/identity): exactly `entries`. An
   * entry this registry holds with the same proof is carried over without checking its proof
   * again; any other — a validator that registered after the genesis — is checked as `register`
   * checks it, for the same chain id (REGISTRY_* codes).
   */
  successor(entries: readonly { readonly publicKey: Uint8Array; readonly proof: Uint8Array }[]): ValidatorRegistry {
    check(entries.length <= MAX_VALIDATORS, "REGISTRY_BAD_KEY", `a registry holds at most ${MAX_VALIDATORS} validators`);
    const next = new ValidatorRegistry(this.chainId);
    for (const { publicKey, proof } of entries) {
      const known = publicKey instanceof Uint8Array ? this.byPeer.get(toHex(publicKey)) : undefined;
      if (known !== undefined && proof instanceof Uint8Array && sameBytes(known.proof, proof)) {
        check(!next.byPeer.has(known.peerId), "REGISTRY_DUPLICATE", `validator ${known.peerId} is already registered`);
        next.byPeer.set(known.peerId, known);
      } else {
        next.register(publicKey, proof);
      }
    }
    return next;
  }

  get size(): number {
    return this.byPeer.size;
  }

  has(peerId: PeerId): boolean {
    return this.byPeer.has(peerId);
  }

  /** The validators in participant order (ascending key encoding). */
  validators(): readonly RegisteredValidator[] {
    this.ordered ??= [...this.byPeer.values()].sort((a, b) => (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0));
    return this.ordered;
  }

  /** Public keys in participant order: the `registryKeys` of a collective signature. */
  publicKeys(): Uint8Array[] {
    return this.validators().map((validator) => validator.publicKey);
  }

  /** Participant index of a validator. */
  indexOf(peerId: PeerId): number {
    const index = this.validators().findIndex((validator) => validator.peerId === peerId);
    if (index < 0) throw new IosError<RegistryErrorCode>("REGISTRY_UNKNOWN", `validator ${String(peerId)} is not registered`);
    return index;
  }
}
