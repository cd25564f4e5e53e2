/**
 * SHA-256 (FIPS 180-4) on the `sha256` WASM kernel (assembly/sha256).
 *
 * The kernel owns fixed static regions (INPUT, HASHES, LENGTHS, PATH, OUT). Each `Sha256Wasm`
 * instantiates the kernel synchronously and creates its views of those regions once; a call
 * writes its input with one `set`, passes only a count or a length, and copies the result out.
 * The kernel never grows its memory, so the views stay valid for the instance's lifetime.
 * Messages longer than INPUT are streamed through it in INPUT-sized chunks.
 */
import { IosError } from "../errors.js";
import { defaultFlavor, instantiateKernel, type WasmFlavor } from "./wasm.js";
import { HASH_BYTES } from "../codec/sizes.js";

export type Sha256ErrorCode = "SHA256_BAD_LENGTH" | "SHA256_BAD_INPUT";

/** Size of the messages `sha256Batch64` takes: one SHA-256 block, FIPS 180-4 §5.1.1. */
export const SHA256_BATCH_MESSAGE_BYTES = 64;

/** The kernel's exports (assembly/sha256/index.ts); pointers and counts are u32. */
export interface Sha256KernelExports {
  readonly memory: WebAssembly.Memory;
  inputPtr(): number;
  inputCapacity(): number;
  hashesPtr(): number;
  hashCapacity(): number;
  lengthsPtr(): number;
  pathPtr(): number;
  pathCapacity(): number;
  outPtr(): number;
  sha256Init(): void;
  sha256Update(length: number): void;
  sha256Final(): void;
  sha256(length: number): void;
  sha256Batch64(count: number): void;
  merkleHashLeavesFixed(count: number, leafSize: number, first: number): void;
  merkleHashLeavesVariable(count: number, first: number): void;
  merkleHashPairs(count: number): void;
  merkleReduce(count: number): void;
  merkleLevels(count: number): number;
  merkleRootFromPath(index: number, size: number, count: number): number;
}

function requireBytes(data: unknown, what: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new IosError<Sha256ErrorCode>("SHA256_BAD_INPUT", `${what} must be a Uint8Array, got ${typeof data}`);
  }
}

/** One instance of the kernel with its views; `merkle.ts` drives the same instance. */
export class Sha256Wasm {
  readonly flavor: WasmFlavor;
  readonly kernel: Sha256KernelExports;
  /** INPUT region: messages, packed leaves, streamed chunks. */
  readonly input: Uint8Array<ArrayBuffer>;
  /** HASHES region: 32-byte results and Merkle levels. */
  readonly hashes: Uint8Array<ArrayBuffer>;
  /** LENGTHS region: byte lengths of variable-size leaves packed in INPUT. */
  readonly lengths: Uint32Array<ArrayBuffer>;
  /** PATH region: audit path siblings, 32 bytes each. */
  readonly path: Uint8Array<ArrayBuffer>;
  /** OUT region: one digest or root. */
  readonly out: Uint8Array<ArrayBuffer>;
  /** Number of 32-byte hashes HASHES holds. */
  readonly hashCapacity: number;
  /** Number of siblings PATH holds. */
  readonly pathCapacity: number;

  constructor(flavor: WasmFlavor = defaultFlavor()) {
    this.flavor = flavor;
    this.kernel = instantiateKernel("sha256", flavor).exports as unknown as Sha256KernelExports;
    const k = this.kernel;
    const buffer = k.memory.buffer as ArrayBuffer;
    this.hashCapacity = k.hashCapacity();
    this.pathCapacity = k.pathCapacity();
    this.input = new Uint8Array(buffer, k.inputPtr(), k.inputCapacity());
    this.hashes = new Uint8Array(buffer, k.hashesPtr(), this.hashCapacity * HASH_BYTES);
    this.lengths = new Uint32Array(buffer, k.lengthsPtr(), this.hashCapacity);
    this.path = new Uint8Array(buffer, k.pathPtr(), this.pathCapacity * HASH_BYTES);
    this.out = new Uint8Array(buffer, k.outPtr(), HASH_BYTES);
  }

  /** SHA-256 of `data`. */
  sha256(data: Uint8Array): Uint8Array {
    requireBytes(data, "data");
    this.digestToOut(data);
    return this.out.slice();
  }

  /**
   * SHA-256(prefix ‖ data), or of `data` alone when `prefix` is undefined, left in `out`: one
   * kernel call when it fits in INPUT, otherwise streamed in INPUT-sized chunks.
   */
  digestToOut(data: Uint8Array, prefix?: number): void {
    const k = this.kernel;
    const capacity = this.input.length;
    const head = prefix === undefined ? 0 : 1;
    if (prefix !== undefined) this.input[0] = prefix;
    if (head + data.length <= capacity) {
      this.input.set(data, head);
      k.sha256(head + data.length);
      return;
    }
    k.sha256Init();
    let offset = capacity - head;
    this.input.set(data.subarray(0, offset), head);
    k.sha256Update(capacity);
    while (offset < data.length) {
      const chunk = data.subarray(offset, offset + capacity);
      this.input.set(chunk);
      k.sha256Update(chunk.length);
      offset += chunk.length;
    }
    k.sha256Final();
  }

  /**
   * SHA-256 of each 64-byte message in `messages` (n × 64 bytes), four at a time on the SIMD
   * build. Returns the n digests concatenated (n × 32 bytes).
   */
  sha256Batch64(messages: Uint8Array): Uint8Array {
    requireBytes(messages, "messages");
    if (messages.length % SHA256_BATCH_MESSAGE_BYTES !== 0) {
      throw new IosError<Sha256ErrorCode>(
        "SHA256_BAD_LENGTH",
        `messages must be a whole number of 64-byte messages, got ${messages.length} bytes`,
      );
    }
    const count = messages.length / SHA256_BATCH_MESSAGE_BYTES;
    const digests = new Uint8Array(count * HASH_BYTES);
    const perCall = Math.min(this.hashCapacity, this.input.length / SHA256_BATCH_MESSAGE_BYTES);
    for (let first = 0; first < count; first += perCall) {
      const n = Math.min(perCall, count - first);
      this.input.set(messages.subarray(first * SHA256_BATCH_MESSAGE_BYTES, (first + n) * SHA256_BATCH_MESSAGE_BYTES));
      this.kernel.sha256Batch64(n);
      digests.set(this.hashes.subarray(0, n * HASH_BYTES), first * HASH_BYTES);
    }
    return digests;
  }
}

let defaultInstance: Sha256Wasm | undefined;

/** The process's (or worker thread's) shared instance, on the default flavor, made on first use. */
export function defaultSha256Wasm(): Sha256Wasm {
  defaultInstance ??= new Sha256Wasm();
  return defaultInstance;
}

/** SHA-256 of `data` (FIPS 180-4). */
export function sha256(data: Uint8Array): Uint8Array {
  return defaultSha256Wasm().sha256(data);
}

/** SHA-256 of each 64-byte message of `messages`; digests concatenated in order. */
export function sha256Batch64(messages: Uint8Array): Uint8Array {
  return defaultSha256Wasm().sha256Batch64(messages);
}
