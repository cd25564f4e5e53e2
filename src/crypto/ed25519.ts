/**
 * Ed25519 verification (RFC 8032 §5.1.7) under ZIP-215 rules, on the AssemblyScript kernel
 * assembly/ed25519: single verification, batch verification (one multi-scalar multiplication,
 * bisection on failure) and aggregation of keys, commitments and response scalars for
 * collective signatures. Signing is not done here (node:crypto or @noble/curves sign), but the
 * kernel multiplies by secret scalars in constant time for ECVRF proving (`vrfProvePoints`), CoSi
 * commitments (`multiplyBaseSecret`) and the DRP's PVSS and DLEQ proofs (`multiplySecretPoint`),
 * wiping each scalar after use.
 *
 * ZIP-215: A and R may be non-canonical encodings (y ≥ p, x = 0 with the sign bit set) and
 * small-order points; S must be < L; the check is cofactored, [8][S]B = [8]R + [8][k]A with
 * k = SHA-512(R ‖ A ‖ M) mod L over the original encodings. Because the batch equation is the
 * cofactored one too, single and batch verification accept exactly the same signatures.
 *
 * The kernel also computes the curve part of ECVRF verification (`vrfPoints`, RFC 9381 §5.3 with
 * RFC 8032's strict decoding; src/crypto/vrf.ts hashes around it): public inputs only. For the
 * DRP's ristretto255 verification (src/epoch/drp) it sums Σ s_i·P_i of public points given in
 * extended coordinates (`linearCombination`) and decodes RFC 9496 encodings (`ristrettoDecode`):
 * a ristretto255 element is an edwards25519 point up to 4-torsion, so only the encoding differs.
 *
 * Decoded public keys are cached in WASM memory as the odd-multiples tables the scalar
 * multiplications use (about 12 KiB per key, see assembly/ed25519/index.ts), keyed by their 32
 * encoded bytes, bounded, least recently used out. A key's second single verification builds
 * tables of [2^32j]A that cut the doublings from 253 to 32; in a batch, items sharing a key
 * share one A term.
 */
import { randomFillSync } from "node:crypto";
import { IosError, check, invariant } from "../errors.js";
import { instantiateKernel, defaultFlavor, type WasmFlavor } from "./wasm.js";
import { layout } from "../codec/layout.js";
import { EXTENDED_POINT_BYTES, POINT_BYTES, PUBLIC_KEY_BYTES, SCALAR_BYTES, SIGNATURE_BYTES, VRF_CHALLENGE_BYTES } from "../codec/sizes.js";

export type Ed25519ErrorCode =
  | "ED25519_BAD_LENGTH"
  | "ED25519_BAD_POINT"
  | "ED25519_BAD_MASK"
  | "ED25519_BAD_RANDOM"
  | "ED25519_BAD_OPTION"
  | "ED25519_KERNEL_MEMORY";

/** Batch coefficients z_i are 128-bit (the batch equation's soundness bound is 2^-128). */
const COEFFICIENT_BYTES = 16;
/** Default cached keys: about 6 MiB of WASM memory. */
const DEFAULT_KEY_CACHE_SIZE = 512;
/** Items per multi-scalar multiplication; larger batches are verified in chunks of this size. */
const BATCH_CHUNK = 512;

export interface SignatureItem {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

export interface Ed25519VerifierOptions {
  flavor?: WasmFlavor;
  /** Decoded public keys kept in WASM memory (entries); 0 disables the cache. */
  keyCacheSize?: number;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  init(): void;
  configure(slots: number, batchItems: number): number;
  signaturePtr(): number;
  publicKeyPtr(): number;
  messagePtr(): number;
  messageCapacity(): number;
  outputPtr(): number;
  scalarPtr(): number;
  prepareKey(slot: number): number;
  challengeStart(): void;
  hashUpdate(length: number): void;
  hashReset(): void;
  hashDigest(): void;
  verify(slot: number, messageLength: number): number;
  verifyFinish(slot: number): number;
  batchItemFinish(item: number, slot: number): number;
  batchItemInvalidate(item: number): void;
  batchCheck(start: number, count: number): number;
  batchItemCheck(item: number): number;
  pointSumReset(): void;
  pointSumAddKey(slot: number): void;
  pointSumAddEncoded(): number;
  pointSumFinish(): void;
  scalarSumReset(): void;
  scalarSumAdd(): void;
  fieldInputPtr(): number;
  vrfInputPtr(): number;
  vrfOutputPtr(): number;
  vrfDecodeKey(): number;
  vrfTryHash(): number;
  vrfFinish(): number;
  secretScalarsPtr(): number;
  vrfProvePoints(): void;
  baseMultiplySecret(): void;
  combinationPointsPtr(): number;
  combinationScalarsPtr(): number;
  combinationOutputPtr(): number;
  combinationCapacity(): number;
  linearCombination(count: number): void;
  multiplySecretCombination(): void;
  ristrettoDecodeInput(): number;
}

/** The kernel's ECVRF buffers (assembly/ed25519/index.ts): its input Y ‖ Gamma ‖ c (zero-padded) ‖ s, its output H ‖ U ‖ V ‖ 8·Gamma. */
const VRF_INPUT = layout({ y: POINT_BYTES, gamma: POINT_BYTES, c: SCALAR_BYTES, s: SCALAR_BYTES });
const VRF_OUTPUT = layout({ h: POINT_BYTES, u: POINT_BYTES, v: POINT_BYTES, gamma8: POINT_BYTES });

/** What the kernel computes for an ECVRF verification (RFC 9381 §5.3): point encodings, views of one copy. */
export interface VrfPoints {
  /** H = encode_to_curve(Y, alpha). */
  readonly h: Uint8Array;
  /** U = s·B − c·Y. */
  readonly u: Uint8Array;
  /** V = s·H − c·Gamma. */
  readonly v: Uint8Array;
  /** 8·Gamma, proof_to_hash's input. */
  readonly gamma8: Uint8Array;
}

/** What the kernel computes for an ECVRF proof (RFC 9381 §5.1 steps 4–7): point encodings, views of one copy. */
export interface VrfProofPoints {
  /** H = encode_to_curve(Y, alpha). */
  readonly h: Uint8Array;
  /** Gamma = x·H. */
  readonly gamma: Uint8Array;
  /** k·B. */
  readonly kB: Uint8Array;
  /** k·H. */
  readonly kH: Uint8Array;
}

/** The kernel's ECVRF proving output (assembly/ed25519/index.ts vrfProvePoints): H ‖ Gamma ‖ k·B ‖ k·H. */
const VRF_PROOF_OUTPUT = layout({ h: POINT_BYTES, gamma: POINT_BYTES, kB: POINT_BYTES, kH: POINT_BYTES });

/** The kernel's linear-combination output: the sum's ristretto255 encoding (RFC 9496 §4.3.2) ‖ its extended coordinates. */
const COMBINATION_OUTPUT = layout({ ristretto: POINT_BYTES, coordinates: EXTENDED_POINT_BYTES });

/** A point as the kernel gives it (a decoding, a linear combination): its encoding and its representative. */
export interface KernelPoint {
  /** RFC 9496 §4.3.2 ristretto255 encoding (of the ristretto255 element a sum of representatives is). */
  readonly ristretto: Uint8Array;
  /** Extended coordinates X ‖ Y ‖ Z ‖ T of its edwards25519 representative (EXTENDED_POINT_BYTES). */
  readonly coordinates: Uint8Array;
}

/** Slot value meaning "no cached table: decode the key inside the batch item". */
const NO_SLOT = -1;

function defaultRandomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

export class Ed25519Verifier {
  readonly flavor: WasmFlavor;
  private readonly kernel: KernelExports;
  private readonly heap: Uint8Array;
  private readonly signaturePtr: number;
  private readonly publicKeyPtr: number;
  private readonly messagePtr: number;
  private readonly messageCapacity: number;
  private readonly outputPtr: number;
  private readonly scalarPtr: number;
  private readonly combinationPoints: number;
  private readonly combinationScalars: number;
  private readonly combinationCapacity: number;
  private readonly cacheCapacity: number;
  /** Slot used for a key that is not cached (cache disabled or a batch pinning every slot). */
  private readonly scratchSlot: number;
  /** Encoded key (latin1 string of its 32 bytes) → slot, in least-recently-used-first order. */
  private readonly keySlots = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  /** Batch generation that last used each slot: a batch never evicts a key it relies on. */
  private readonly slotPinnedBy: Int32Array;
  private batchGeneration = 0;

  constructor(options: Ed25519VerifierOptions = {}) {
    const keyCacheSize = options.keyCacheSize ?? DEFAULT_KEY_CACHE_SIZE;
    check(
      Number.isSafeInteger(keyCacheSize) && keyCacheSize >= 0 && keyCacheSize <= 1 << 20,
      "ED25519_BAD_OPTION",
      `keyCacheSize must be an integer in [0, 2^20], got ${String(keyCacheSize)}`,
    );
    this.flavor = options.flavor ?? defaultFlavor();
    this.kernel = instantiateKernel("ed25519", this.flavor).exports as unknown as KernelExports;
    this.kernel.init();
    this.cacheCapacity = keyCacheSize;
    this.scratchSlot = keyCacheSize;
    if (this.kernel.configure(keyCacheSize + 1, BATCH_CHUNK) === 0) {
      throw new IosError<Ed25519ErrorCode>("ED25519_KERNEL_MEMORY", `cannot reserve memory for ${keyCacheSize} cached keys`);
    }
    this.heap = new Uint8Array(this.kernel.memory.buffer);
    this.signaturePtr = this.kernel.signaturePtr();
    this.publicKeyPtr = this.kernel.publicKeyPtr();
    this.messagePtr = this.kernel.messagePtr();
    this.messageCapacity = this.kernel.messageCapacity();
    this.outputPtr = this.kernel.outputPtr();
    this.scalarPtr = this.kernel.scalarPtr();
    this.combinationPoints = this.kernel.combinationPointsPtr();
    this.combinationScalars = this.kernel.combinationScalarsPtr();
    this.combinationCapacity = this.kernel.combinationCapacity();
    this.slotPinnedBy = new Int32Array(keyCacheSize + 1);
    for (let slot = keyCacheSize - 1; slot >= 0; slot--) this.freeSlots.push(slot);
  }

  /** ZIP-215 verification of one signature. Never throws: malformed input is invalid. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (!isBytes(signature, SIGNATURE_BYTES) || !isBytes(publicKey, PUBLIC_KEY_BYTES) || !(message instanceof Uint8Array)) {
      return false;
    }
    this.heap.set(publicKey, this.publicKeyPtr);
    const slot = this.keySlot(publicKey, false);
    if (slot === NO_SLOT) return false;
    this.heap.set(signature, this.signaturePtr);
    if (message.length <= this.messageCapacity) {
      this.heap.set(message, this.messagePtr);
      return this.kernel.verify(slot, message.length) !== 0;
    }
    this.kernel.challengeStart();
    this.absorb(message);
    return this.kernel.verifyFinish(slot) !== 0;
  }

  /**
   * Per-item verdicts (true = valid), identical to `verify` on each item. Each chunk of up to
   * 512 items is checked by one multi-scalar multiplication with random 128-bit coefficients;
   * a failing set is bisected until every bad item is named. Malformed items are invalid.
   */
  verifyBatch(items: readonly SignatureItem[], randomBytes: (length: number) => Uint8Array = defaultRandomBytes): boolean[] {
    const verdicts = new Array<boolean>(items.length).fill(false);
    for (let start = 0; start < items.length; start += BATCH_CHUNK) {
      const count = Math.min(BATCH_CHUNK, items.length - start);
      const coefficients = randomBytes(count * COEFFICIENT_BYTES);
      check(
        coefficients instanceof Uint8Array && coefficients.length >= count * COEFFICIENT_BYTES,
        "ED25519_BAD_RANDOM",
        `randomBytes(${count * COEFFICIENT_BYTES}) returned fewer bytes`,
      );
      this.verifyChunk(items, start, count, coefficients, verdicts);
    }
    return verdicts;
  }

  /** Sum of the public keys whose bit is set in mask (bit i, LSB-first in byte i>>3, selects key i). */
  aggregateKeys(publicKeys: readonly Uint8Array[], mask: Uint8Array): Uint8Array {
    check(mask instanceof Uint8Array, "ED25519_BAD_MASK", "mask must be a Uint8Array");
    check(
      mask.length >= Math.ceil(publicKeys.length / 8),
      "ED25519_BAD_MASK",
      `mask has ${mask.length} bytes, ${Math.ceil(publicKeys.length / 8)} needed for ${publicKeys.length} keys`,
    );
    for (let bit = publicKeys.length; bit < mask.length * 8; bit++) {
      check((mask[bit >> 3]! & (1 << (bit & 7))) === 0, "ED25519_BAD_MASK", `mask selects key ${bit} of ${publicKeys.length}`);
    }
    this.kernel.pointSumReset();
    publicKeys.forEach((publicKey, index) => {
      if ((mask[index >> 3]! & (1 << (index & 7))) === 0) return;
      check(isBytes(publicKey, PUBLIC_KEY_BYTES), "ED25519_BAD_LENGTH", `public key ${index} must be ${PUBLIC_KEY_BYTES} bytes`);
      this.heap.set(publicKey, this.publicKeyPtr);
      const slot = this.keySlot(publicKey, false);
      check(slot !== NO_SLOT, "ED25519_BAD_POINT", `public key ${index} is not a curve point`);
      this.kernel.pointSumAddKey(slot);
    });
    return this.finishPointSum();
  }

  /** Sum of encoded points (e.g. the commitments R_i of a collective signature). */
  aggregatePoints(points: readonly Uint8Array[]): Uint8Array {
    this.kernel.pointSumReset();
    points.forEach((point, index) => {
      check(isBytes(point, PUBLIC_KEY_BYTES), "ED25519_BAD_LENGTH", `point ${index} must be ${PUBLIC_KEY_BYTES} bytes`);
      this.heap.set(point, this.publicKeyPtr);
      check(this.kernel.pointSumAddEncoded() !== 0, "ED25519_BAD_POINT", `point ${index} is not a curve point`);
    });
    return this.finishPointSum();
  }

  /** Σ s_i mod L of 32-byte little-endian scalars (e.g. the responses of a collective signature). */
  sumScalars(scalars: readonly Uint8Array[]): Uint8Array {
    this.kernel.scalarSumReset();
    scalars.forEach((scalar, index) => {
      check(isBytes(scalar, SCALAR_BYTES), "ED25519_BAD_LENGTH", `scalar ${index} must be ${SCALAR_BYTES} bytes`);
      this.heap.set(scalar, this.scalarPtr);
      this.kernel.scalarSumAdd();
    });
    if (scalars.length === 0) return new Uint8Array(SCALAR_BYTES);
    return this.heap.slice(this.outputPtr, this.outputPtr + SCALAR_BYTES);
  }

  /**
   * The curve part of ECVRF verification (RFC 9381 §5.3; the hashing is src/crypto/vrf.ts's):
   * decodes Y strictly and validates it (not of small order), takes as H the 8-multiple of the
   * first `candidate(ctr)`, ctr = 0, 1, … below `tries`, that decodes strictly to a point whose
   * 8-multiple is not the identity, decodes Gamma strictly and s < L, and gives H, U = s·B − c·Y,
   * V = s·H − c·Gamma and 8·Gamma encoded. Undefined when the key or the proof does not decode;
   * `challenge` is c's 16 bytes, little-endian. Throws only when no candidate is a point
   * (probability 2^-tries).
   */
  vrfPoints(publicKey: Uint8Array, gamma: Uint8Array, challenge: Uint8Array, s: Uint8Array, candidate: (ctr: number) => Uint8Array, tries: number): VrfPoints | undefined {
    check(isBytes(publicKey, POINT_BYTES) && isBytes(gamma, POINT_BYTES) && isBytes(s, SCALAR_BYTES) && isBytes(challenge, VRF_CHALLENGE_BYTES), "ED25519_BAD_LENGTH", `a VRF key, Gamma and s are 32 bytes, c ${VRF_CHALLENGE_BYTES}`);
    const input = this.kernel.vrfInputPtr();
    this.heap.set(publicKey, input + VRF_INPUT.offset.y);
    if (this.kernel.vrfDecodeKey() === 0) return undefined;
    this.encodeToCurve(candidate, tries);
    this.heap.set(gamma, input + VRF_INPUT.offset.gamma);
    this.heap.fill(0, input + VRF_INPUT.offset.c, input + VRF_INPUT.offset.c + VRF_INPUT.size.c);
    this.heap.set(challenge, input + VRF_INPUT.offset.c);
    this.heap.set(s, input + VRF_INPUT.offset.s);
    if (this.kernel.vrfFinish() === 0) return undefined;
    const output = this.kernel.vrfOutputPtr();
    const out = this.heap.slice(output, output + VRF_OUTPUT.bytes);
    const part = (name: keyof typeof VRF_OUTPUT.offset) => out.subarray(VRF_OUTPUT.offset[name], VRF_OUTPUT.offset[name] + VRF_OUTPUT.size[name]);
    return { h: part("h"), u: part("u"), v: part("v"), gamma8: part("gamma8") };
  }

  /**
   * The curve part of ECVRF proving (RFC 9381 §5.1; the hashing and s = k + c·x are
   * src/crypto/vrf.ts's): H as in `vrfPoints` (public: from Y and alpha), then Gamma = x·H, k·B and
   * k·H, constant time in the secret scalars x and k (32 bytes little-endian, below 2^255), which
   * the kernel wipes; `nonce(h)` gives k from H's encoding (RFC 9381 §5.4.2.2).
   */
  vrfProvePoints(x: Uint8Array, nonce: (h: Uint8Array) => Uint8Array, candidate: (ctr: number) => Uint8Array, tries: number): VrfProofPoints {
    check(isBytes(x, SCALAR_BYTES) && x[SCALAR_BYTES - 1]! < 0x80, "ED25519_BAD_LENGTH", `a VRF secret scalar is ${SCALAR_BYTES} bytes below 2^255`);
    this.encodeToCurve(candidate, tries);
    const output = this.kernel.vrfOutputPtr();
    const k = nonce(this.heap.slice(output, output + POINT_BYTES));
    check(isBytes(k, SCALAR_BYTES) && k[SCALAR_BYTES - 1]! < 0x80, "ED25519_BAD_LENGTH", `a VRF nonce is ${SCALAR_BYTES} bytes below 2^255`);
    const scalars = this.kernel.secretScalarsPtr();
    this.heap.set(x, scalars);
    this.heap.set(k, scalars + SCALAR_BYTES);
    this.kernel.vrfProvePoints();
    const out = this.heap.slice(output, output + VRF_PROOF_OUTPUT.bytes);
    const part = (name: keyof typeof VRF_PROOF_OUTPUT.offset) => out.subarray(VRF_PROOF_OUTPUT.offset[name], VRF_PROOF_OUTPUT.offset[name] + VRF_PROOF_OUTPUT.size[name]);
    return { h: part("h"), gamma: part("gamma"), kB: part("kB"), kH: part("kH") };
  }

  /** v·B encoded, constant time in the secret scalar v (32 bytes little-endian, below 2^255; wiped in the kernel). */
  multiplyBaseSecret(v: Uint8Array): Uint8Array {
    check(isBytes(v, SCALAR_BYTES) && v[SCALAR_BYTES - 1]! < 0x80, "ED25519_BAD_LENGTH", `a secret scalar is ${SCALAR_BYTES} bytes below 2^255`);
    this.heap.set(v, this.kernel.secretScalarsPtr());
    this.kernel.baseMultiplySecret();
    return this.heap.slice(this.outputPtr, this.outputPtr + POINT_BYTES);
  }

  /** encode_to_curve's try-and-increment (RFC 9381 §5.4.1.1) in the kernel: H set and encoded first in its VRF output. */
  private encodeToCurve(candidate: (ctr: number) => Uint8Array, tries: number): void {
    const field = this.kernel.fieldInputPtr();
    let found = false;
    for (let ctr = 0; ctr < tries && !found; ctr++) {
      this.heap.set(candidate(ctr).subarray(0, POINT_BYTES), field);
      found = this.kernel.vrfTryHash() !== 0;
    }
    invariant(found, `encode_to_curve found no point in ${tries} tries`);
  }

  /**
   * Σ s_i·P_i in variable time, for public points and scalars only (proof checks, interpolation
   * of published shares). Points are extended coordinates (EXTENDED_POINT_BYTES, each coordinate
   * below p), scalars 32 bytes little-endian below 2^253. The kernel sums up to its capacity per
   * Straus pass; a longer list carries the partial sum into the next pass as a term with scalar 1.
   */
  /**
   * s·P for a public point P (extended coordinates, EXTENDED_POINT_BYTES) and a secret scalar s
   * (32 bytes little-endian below 2^253), constant time in s, which the kernel wipes; the product
   * is public (a PVSS commitment or share, a DLEQ nonce commitment).
   */
  multiplySecretPoint(point: Uint8Array, scalar: Uint8Array): KernelPoint {
    check(isBytes(point, EXTENDED_POINT_BYTES), "ED25519_BAD_LENGTH", `a point must be ${EXTENDED_POINT_BYTES} bytes`);
    check(isBytes(scalar, SCALAR_BYTES) && scalar[SCALAR_BYTES - 1]! < 0x20, "ED25519_BAD_LENGTH", `a secret scalar must be ${SCALAR_BYTES} bytes below 2^253`);
    this.heap.set(point, this.combinationPoints);
    this.heap.set(scalar, this.kernel.secretScalarsPtr());
    this.kernel.multiplySecretCombination();
    return this.combinationOutput();
  }

  linearCombination(points: readonly Uint8Array[], scalars: readonly Uint8Array[]): KernelPoint {
    check(points.length === scalars.length, "ED25519_BAD_LENGTH", `${points.length} points for ${scalars.length} scalars`);
    points.forEach((point, i) => check(isBytes(point, EXTENDED_POINT_BYTES), "ED25519_BAD_LENGTH", `point ${i} must be ${EXTENDED_POINT_BYTES} bytes`));
    scalars.forEach((scalar, i) => check(isBytes(scalar, SCALAR_BYTES) && scalar[SCALAR_BYTES - 1]! < 0x20, "ED25519_BAD_LENGTH", `scalar ${i} must be ${SCALAR_BYTES} bytes below 2^253`));
    const output = this.kernel.combinationOutputPtr();
    const carried = output + COMBINATION_OUTPUT.offset.coordinates;
    let next = 0;
    let terms = 0;
    do {
      terms = 0;
      if (next > 0) {
        this.heap.copyWithin(this.combinationPoints, carried, carried + EXTENDED_POINT_BYTES);
        this.heap.fill(0, this.combinationScalars, this.combinationScalars + SCALAR_BYTES);
        this.heap[this.combinationScalars] = 1;
        terms = 1;
      }
      for (; terms < this.combinationCapacity && next < points.length; terms++, next++) {
        this.heap.set(points[next]!, this.combinationPoints + terms * EXTENDED_POINT_BYTES);
        this.heap.set(scalars[next]!, this.combinationScalars + terms * SCALAR_BYTES);
      }
      this.kernel.linearCombination(terms);
    } while (next < points.length);
    return this.combinationOutput();
  }

  private combinationOutput(): KernelPoint {
    const output = this.kernel.combinationOutputPtr();
    const out = this.heap.slice(output, output + COMBINATION_OUTPUT.bytes);
    return {
      ristretto: out.subarray(COMBINATION_OUTPUT.offset.ristretto, COMBINATION_OUTPUT.offset.ristretto + POINT_BYTES),
      coordinates: out.subarray(COMBINATION_OUTPUT.offset.coordinates, COMBINATION_OUTPUT.offset.coordinates + EXTENDED_POINT_BYTES),
    };
  }

  /**
   * RFC 9496 §4.3.1 decoding of a ristretto255 encoding into the extended coordinates of its
   * representative (the same form as linearCombination's), or undefined if it is not canonical.
   */
  ristrettoDecode(encoding: Uint8Array): KernelPoint | undefined {
    check(isBytes(encoding, POINT_BYTES), "ED25519_BAD_LENGTH", `a ristretto255 encoding is ${POINT_BYTES} bytes`);
    this.heap.set(encoding, this.publicKeyPtr);
    if (this.kernel.ristrettoDecodeInput() === 0) return undefined;
    return this.combinationOutput();
  }

  /** SHA-512 (FIPS 180-4) computed by the kernel. */
  sha512(data: Uint8Array): Uint8Array {
    check(data instanceof Uint8Array, "ED25519_BAD_LENGTH", "data must be a Uint8Array");
    this.kernel.hashReset();
    this.absorb(data);
    this.kernel.hashDigest();
    return this.heap.slice(this.outputPtr, this.outputPtr + 64);
  }

  private finishPointSum(): Uint8Array {
    this.kernel.pointSumFinish();
    return this.heap.slice(this.outputPtr, this.outputPtr + PUBLIC_KEY_BYTES);
  }

  /** Streams data through the message buffer into the running SHA-512. */
  private absorb(data: Uint8Array): void {
    for (let offset = 0; offset < data.length; offset += this.messageCapacity) {
      const chunk = data.subarray(offset, Math.min(data.length, offset + this.messageCapacity));
      this.heap.set(chunk, this.messagePtr);
      this.kernel.hashUpdate(chunk.length);
    }
  }

  /**
   * The slot holding the decoded table of the key already written to the public-key buffer, or
   * NO_SLOT when it is not a point. In a batch (`pinned`), returns NO_SLOT also when the only
   * evictable slot is in use by the same batch; the batch item then decodes the key itself.
   */
  private keySlot(publicKey: Uint8Array, pinned: boolean): number {
    if (this.cacheCapacity === 0) {
      if (pinned) return NO_SLOT;
      return this.kernel.prepareKey(this.scratchSlot) !== 0 ? this.scratchSlot : NO_SLOT;
    }
    const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, PUBLIC_KEY_BYTES).toString("latin1");
    const cached = this.keySlots.get(id);
    if (cached !== undefined) {
      this.keySlots.delete(id);
      this.keySlots.set(id, cached);
      if (pinned) this.slotPinnedBy[cached] = this.batchGeneration;
      return cached;
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      const [oldestId, oldestSlot] = this.keySlots.entries().next().value as [string, number];
      if (pinned && this.slotPinnedBy[oldestSlot] === this.batchGeneration) return NO_SLOT;
      this.keySlots.delete(oldestId);
      slot = oldestSlot;
    }
    if (this.kernel.prepareKey(slot) === 0) {
      this.freeSlots.push(slot);
      return NO_SLOT;
    }
    this.keySlots.set(id, slot);
    if (pinned) this.slotPinnedBy[slot] = this.batchGeneration;
    return slot;
  }

  private verifyChunk(
    items: readonly SignatureItem[],
    start: number,
    count: number,
    coefficients: Uint8Array,
    verdicts: boolean[],
  ): void {
    this.batchGeneration++;
    for (let i = 0; i < count; i++) {
      const item = items[start + i];
      if (
        item === null || typeof item !== "object" ||
        !isBytes(item.signature, SIGNATURE_BYTES) || !isBytes(item.publicKey, PUBLIC_KEY_BYTES) ||
        !(item.message instanceof Uint8Array)
      ) {
        this.kernel.batchItemInvalidate(i);
        continue;
      }
      this.heap.set(item.publicKey, this.publicKeyPtr);
      const slot = this.keySlot(item.publicKey, true);
      this.heap.set(item.signature, this.signaturePtr);
      this.kernel.challengeStart();
      this.absorb(item.message);
      const z = coefficients.subarray(i * COEFFICIENT_BYTES, (i + 1) * COEFFICIENT_BYTES);
      this.heap.set(z, this.scalarPtr);
      if (z.every((byte) => byte === 0)) this.heap[this.scalarPtr] = 1; // z must be non-zero
      verdicts[start + i] = this.kernel.batchItemFinish(i, slot) !== 0;
    }
    this.bisect(0, count, false, start, verdicts);
  }

  /**
   * Checks items [from, from + count) of the kernel's batch arena; on failure splits in halves.
   * `knownToFail` skips the check when the caller already knows the set fails (its sibling
   * passed inside a failing parent). A single item gets the single-signature check.
   */
  private bisect(from: number, count: number, knownToFail: boolean, offset: number, verdicts: boolean[]): boolean {
    if (count === 1) {
      const valid = verdicts[offset + from]! && this.kernel.batchItemCheck(from) !== 0;
      verdicts[offset + from] = valid;
      return valid;
    }
    if (!knownToFail && this.kernel.batchCheck(from, count) !== 0) return true;
    const half = count >> 1;
    const leftPassed = this.bisect(from, half, false, offset, verdicts);
    this.bisect(from + half, count - half, leftPassed, offset, verdicts);
    return false;
  }
}

let defaultVerifier: Ed25519Verifier | undefined;

function sharedVerifier(): Ed25519Verifier {
  defaultVerifier ??= new Ed25519Verifier();
  return defaultVerifier;
}

/** ZIP-215 verification with the process-wide default verifier. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return sharedVerifier().verify(signature, message, publicKey);
}

export function verifyBatch(items: readonly SignatureItem[]): boolean[] {
  return sharedVerifier().verifyBatch(items);
}

export function linearCombination(points: readonly Uint8Array[], scalars: readonly Uint8Array[]): KernelPoint {
  return sharedVerifier().linearCombination(points, scalars);
}

/** s·P for a secret scalar s, constant time in s (`Ed25519Verifier.multiplySecretPoint`), on this thread's curve kernel. */
export function multiplySecretPoint(point: Uint8Array, scalar: Uint8Array): KernelPoint {
  return sharedCurveKernel().multiplySecretPoint(point, scalar);
}

export function ristrettoDecode(encoding: Uint8Array): KernelPoint | undefined {
  return sharedVerifier().ristrettoDecode(encoding);
}

export function aggregateKeys(publicKeys: readonly Uint8Array[], mask: Uint8Array): Uint8Array {
  return sharedVerifier().aggregateKeys(publicKeys, mask);
}

let curveKernel: Ed25519Verifier | undefined;

/**
 * One kernel per thread for the curve arithmetic of VRF proving and verification and of CoSi
 * commitments (no key cache: their keys are decoded per use), so those modules share its
 * instantiation and base-point tables.
 */
export function sharedCurveKernel(): Ed25519Verifier {
  return (curveKernel ??= new Ed25519Verifier({ keyCacheSize: 0 }));
}
