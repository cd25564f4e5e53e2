/**
 * SHA-256 kernel tests (src/crypto/sha256.ts) on both WASM builds: FIPS 180-4 vectors, a seeded
 * differential against node:crypto for every message length 0..1,100 and for random batches of
 * 64-byte messages, messages longer than the kernel's INPUT region (streamed), batches larger than
 * one kernel call, a worker thread, and bad input. Set IOS_TEST_SEED to replay a failing seed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { IosError } from "../../src/errors.js";
import { Sha256Wasm, sha256, sha256Batch64, SHA256_BATCH_MESSAGE_BYTES } from "../../src/crypto/sha256.js";
import { WASM_FLAVORS } from "../../src/crypto/wasm.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

interface FipsVector {
  name: string;
  message: { ascii: string } | { repeat: string; count: number };
  digest: string;
}

const vectors = readVectorFile<{ vectors: FipsVector[] }>("sha256-fips180-4.json").vectors;

const seed = testSeed("sha256");

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const nodeSha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

function messageOf(vector: FipsVector): Uint8Array {
  const text = "ascii" in vector.message ? vector.message.ascii : vector.message.repeat.repeat(vector.message.count);
  return new Uint8Array(Buffer.from(text, "latin1"));
}

function expectCode(code: string): (error: unknown) => boolean {
  return (error) => error instanceof IosError && error.code === code;
}

for (const flavor of WASM_FLAVORS) {
  describe(`SHA-256 kernel (${flavor} build)`, () => {
    const kernel = new Sha256Wasm(flavor);
    const rng = SeededRng.fromSeed(`${seed}/${flavor}`);

    it("matches the FIPS 180-4 vectors", () => {
      assert.equal(vectors.length, 5);
      for (const vector of vectors) {
        assert.equal(hex(kernel.sha256(messageOf(vector))), vector.digest, vector.name);
      }
    });

    it("matches node:crypto for random messages of every length 0..1100", () => {
      for (let length = 0; length <= 1100; length++) {
        const message = rng.bytes(length);
        assert.equal(hex(kernel.sha256(message)), nodeSha256(message), `length ${length}`);
      }
    });

    it("hashes a subarray view, not the whole underlying buffer", () => {
      const buffer = rng.bytes(300);
      const view = buffer.subarray(17, 211);
      assert.equal(hex(kernel.sha256(view)), nodeSha256(view));
    });

    it("streams messages longer than the kernel's input region", () => {
      const capacity = kernel.input.length;
      for (const length of [capacity - 1, capacity, capacity + 1, 2 * capacity + 77]) {
        const message = new Uint8Array(length);
        message.set(rng.bytes(1 << 16));
        message.set(rng.bytes(1 << 16), length - (1 << 16));
        assert.equal(hex(kernel.sha256(message)), nodeSha256(message), `length ${length}`);
      }
    });

    it("hashes random batches of 64-byte messages like node:crypto, four lanes and the remainder", () => {
      for (let round = 0; round < 60; round++) {
        const count = round < 20 ? round : 1 + (rng.nextU32() % 300);
        const messages = rng.bytes(count * SHA256_BATCH_MESSAGE_BYTES);
        const digests = kernel.sha256Batch64(messages);
        assert.equal(digests.length, count * 32);
        for (let i = 0; i < count; i++) {
          assert.equal(
            hex(digests.subarray(i * 32, (i + 1) * 32)),
            nodeSha256(messages.subarray(i * 64, (i + 1) * 64)),
            `batch of ${count}, message ${i}`,
          );
        }
      }
    });

    it("splits batches larger than one kernel call", () => {
      const count = kernel.hashCapacity + 5;
      const messages = rng.bytes(count * SHA256_BATCH_MESSAGE_BYTES);
      const digests = kernel.sha256Batch64(messages);
      for (let i = 0; i < count; i++) {
        assert.equal(hex(digests.subarray(i * 32, (i + 1) * 32)), nodeSha256(messages.subarray(i * 64, (i + 1) * 64)));
      }
    });

    it("rejects bad input with a code", () => {
      assert.throws(() => kernel.sha256Batch64(new Uint8Array(65)), expectCode("SHA256_BAD_LENGTH"));
      assert.throws(() => kernel.sha256Batch64(new Uint8Array(63)), expectCode("SHA256_BAD_LENGTH"));
      assert.throws(() => kernel.sha256("abc" as unknown as Uint8Array), expectCode("SHA256_BAD_INPUT"));
      assert.throws(() => kernel.sha256Batch64([1, 2] as unknown as Uint8Array), expectCode("SHA256_BAD_INPUT"));
      assert.equal(kernel.sha256Batch64(new Uint8Array(0)).length, 0);
    });
  });
}

describe("SHA-256 module-level functions", () => {
  it("use the default instance and agree with node:crypto", () => {
    const rng = SeededRng.fromSeed(`${seed}/module`);
    const message = rng.bytes(1000);
    assert.equal(hex(sha256(message)), nodeSha256(message));
    const batch = rng.bytes(9 * 64);
    const digests = sha256Batch64(batch);
    for (let i = 0; i < 9; i++) {
      assert.equal(hex(digests.subarray(i * 32, (i + 1) * 32)), nodeSha256(batch.subarray(i * 64, (i + 1) * 64)));
    }
  });

  it("load synchronously inside a worker thread", async () => {
    const moduleUrl = new URL("../../src/crypto/sha256.js", import.meta.url).href;
    const message = SeededRng.fromSeed(`${seed}/worker`).bytes(777);
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       import(workerData.moduleUrl).then((m) => parentPort.postMessage(m.sha256(workerData.message)));`,
      { eval: true, workerData: { moduleUrl, message } },
    );
    const digest = await new Promise<Uint8Array>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    assert.equal(hex(digest), nodeSha256(message));
  });
});
