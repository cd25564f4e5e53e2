/**
 * The packed signature-batch codec (src/crypto/signature-batch.ts) and the verifier pool
 * (src/node/pool/): real worker threads running the real kernel, compared with in-thread
 * verification; malformed buffers reject with a code while workers and pool keep serving.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign as nodeSign } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { IosError } from "../../src/errors.js";
import { Ed25519Verifier, type SignatureItem } from "../../src/crypto/ed25519.js";
import {
  ITEM_HEADER_LENGTH,
  MAX_BATCH_ITEMS,
  MAX_MESSAGE_LENGTH,
  packSignatureBatch,
  scanSignatureBatch,
  sliceSignatureBatch,
  unpackSignatureBatch,
} from "../../src/crypto/signature-batch.js";
import { MIN_CHUNK_ITEMS, reviveWorkerError } from "../../src/node/pool/chunked-pool.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { verifySignatureBatch } from "../../src/node/pool/worker.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { readVectorFile, testSeed } from "../support/vectors.js";

const PKCS8_ED25519_PREFIX = Uint8Array.from(Buffer.from("302e020100300506032b657004220420", "hex"));
const seed = testSeed("pool");

/** `count` items from `keys` random keys; every `badEvery`-th one has a flipped signature bit. */
function makeItems(rng: SeededRng, count: number, keys: number, badEvery: number): SignatureItem[] {
  const keyPairs = Array.from({ length: keys }, () => {
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, rng.bytes(32)]), format: "der", type: "pkcs8" });
    return { privateKey, publicKey: Uint8Array.from(createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(12)) };
  });
  return Array.from({ length: count }, (_, index) => {
    const { privateKey, publicKey } = keyPairs[index % keys]!;
    const message = rng.bytes(rng.nextU32() % 120);
    const signature = Uint8Array.from(nodeSign(null, message, privateKey));
    if (index % badEvery === badEvery - 1) signature[rng.nextU32() % 64] ^= 1 << rng.nextU32() % 8;
    return { publicKey, signature, message };
  });
}

function assertMalformed(action: () => unknown): void {
  assert.throws(action, (error: unknown) => error instanceof IosError && error.code === "SIGNATURE_BATCH_MALFORMED");
}

const isMalformed = (error: unknown) => error instanceof IosError && error.code === "SIGNATURE_BATCH_MALFORMED";

describe("packed signature batch", () => {
  const items = makeItems(SeededRng.fromSeed(`${seed}/codec`), 5, 2, 3);
  items[1] = { ...items[1]!, message: new Uint8Array(0) };

  it("round-trips, with the decoded fields as views of the input", () => {
    const packed = packSignatureBatch(items);
    assert.equal(packed.length, 4 + items.reduce((n, item) => n + ITEM_HEADER_LENGTH + item.message.length, 0));
    assert.equal(new DataView(packed.buffer).getUint32(0, true), items.length);
    const decoded = unpackSignatureBatch(packed);
    assert.deepEqual(decoded, items);
    for (const item of decoded) {
      assert.equal(item.publicKey.buffer, packed.buffer);
      assert.equal(item.signature.buffer, packed.buffer);
      assert.equal(item.message.buffer, packed.buffer);
    }
    assert.deepEqual(unpackSignatureBatch(packSignatureBatch([])), []);
  });

  it("decodes a batch at a non-zero offset of a larger buffer", () => {
    const packed = packSignatureBatch(items);
    const framed = new Uint8Array(packed.length + 7);
    framed.set(packed, 3);
    assert.deepEqual(unpackSignatureBatch(framed.subarray(3, 3 + packed.length)), items);
  });

  it("slices items [from, to) into a batch of their own", () => {
    const packed = packSignatureBatch(items);
    const offsets = scanSignatureBatch(packed);
    assert.equal(offsets.length, items.length + 1);
    assert.deepEqual(unpackSignatureBatch(sliceSignatureBatch(packed, offsets, 1, 4)), items.slice(1, 4));
    assert.deepEqual(unpackSignatureBatch(sliceSignatureBatch(packed, offsets, 2, 2)), []);
    assert.throws(() => sliceSignatureBatch(packed, offsets, 3, 6), RangeError);
  });

  it("rejects truncation, trailing bytes, oversized counts and lengths with SIGNATURE_BATCH_MALFORMED", () => {
    const packed = packSignatureBatch(items);
    for (let cut = 0; cut < packed.length; cut += 7) assertMalformed(() => unpackSignatureBatch(packed.subarray(0, cut)));
    assertMalformed(() => unpackSignatureBatch(packed.subarray(0, packed.length - 1)));
    assertMalformed(() => unpackSignatureBatch(Uint8Array.of(...packed, 0)));
    const lyingCount = Uint8Array.from(packed);
    new DataView(lyingCount.buffer).setUint32(0, items.length + 1, true);
    assertMalformed(() => unpackSignatureBatch(lyingCount));
    new DataView(lyingCount.buffer).setUint32(0, MAX_BATCH_ITEMS + 1, true);
    assertMalformed(() => unpackSignatureBatch(lyingCount));
    const longMessage = Uint8Array.from(packed);
    new DataView(longMessage.buffer).setUint32(4 + 96, MAX_MESSAGE_LENGTH + 1, true);
    assertMalformed(() => unpackSignatureBatch(longMessage));
    assertMalformed(() => unpackSignatureBatch("not bytes" as unknown as Uint8Array));
  });

  it("refuses to pack wrong-length keys or signatures", () => {
    assertMalformed(() => packSignatureBatch([{ ...items[0]!, publicKey: new Uint8Array(31) }]));
    assertMalformed(() => packSignatureBatch([{ ...items[0]!, signature: new Uint8Array(65) }]));
  });
});

describe("worker task verifySignatureBatch (called in-thread)", () => {
  it("answers one verdict byte per item, equal to the verifier's", () => {
    const items = makeItems(SeededRng.fromSeed(`${seed}/task`), 40, 5, 4);
    const expected = new Ed25519Verifier().verifyBatch(items).map((ok) => (ok ? 1 : 0));
    assert.deepEqual([...new Uint8Array(verifySignatureBatch(packSignatureBatch(items).buffer))], expected);
    assert.ok(expected.includes(0) && expected.includes(1));
  });

  it("throws SIGNATURE_BATCH_MALFORMED on a malformed buffer", () => {
    assertMalformed(() => verifySignatureBatch(new ArrayBuffer(3)));
    assertMalformed(() => verifySignatureBatch(Uint8Array.of(1, 0, 0, 0, 9).buffer));
  });
});

describe("PiscinaVerifierPool", () => {
  const rng = SeededRng.fromSeed(`${seed}/pool`);
  const items = makeItems(rng, 600, 40, 7);
  const inThread = new Ed25519Verifier().verifyBatch(items);
  let pool: PiscinaVerifierPool;

  before(() => {
    pool = new PiscinaVerifierPool({ threads: 2 });
  });
  after(async () => {
    await pool.close();
  });

  it("gives the in-thread verdicts for a large batch split across both workers", async () => {
    assert.ok(items.length >= 2 * MIN_CHUNK_ITEMS);
    assert.ok(inThread.includes(false) && inThread.includes(true));
    assert.deepEqual(await pool.verifyBatch(items), inThread);
  });

  it("gives the in-thread verdicts for packed batches, leaving the caller's buffer intact", async () => {
    const packed = packSignatureBatch(items);
    const verdicts = await pool.verifyPacked(packed);
    assert.deepEqual([...verdicts].map((v) => v === 1), inThread);
    assert.equal(packed.buffer.byteLength, packed.length, "the caller's buffer is not detached");
    assert.deepEqual(unpackSignatureBatch(packed), items);
  });

  it("handles small and empty batches and items around chunk boundaries", async () => {
    for (const size of [0, 1, MIN_CHUNK_ITEMS - 1, MIN_CHUNK_ITEMS, 2 * MIN_CHUNK_ITEMS - 1, 2 * MIN_CHUNK_ITEMS + 1]) {
      assert.deepEqual(await pool.verifyBatch(items.slice(0, size)), inThread.slice(0, size), `size ${size}`);
      const packedVerdicts = await pool.verifyPacked(packSignatureBatch(items.slice(0, size)));
      assert.deepEqual([...packedVerdicts].map((v) => v === 1), inThread.slice(0, size), `packed size ${size}`);
    }
  });

  it("serves concurrent batches", async () => {
    const slices = [items.slice(0, 150), items.slice(150, 300), items.slice(300, 600), items.slice(10, 20)];
    const results = await Promise.all(slices.map((slice) => pool.verifyBatch(slice)));
    assert.deepEqual(results, [inThread.slice(0, 150), inThread.slice(150, 300), inThread.slice(300, 600), inThread.slice(10, 20)]);
  });

  it("answers false for wrong-length items and non-points without failing the batch", async () => {
    const notAPoint = Uint8Array.from(Buffer.from("0200000000000000000000000000000000000000000000000000000000000000", "hex"));
    const mixed: SignatureItem[] = [
      items[0]!,
      { ...items[0]!, publicKey: new Uint8Array(31) },
      items[1]!,
      { ...items[1]!, signature: items[1]!.signature.subarray(0, 10) },
      { ...items[2]!, signature: new Uint8Array(0), publicKey: new Uint8Array(0) },
      { ...items[3]!, publicKey: notAPoint },
      { ...items[4]!, signature: Uint8Array.of(...notAPoint, ...items[4]!.signature.subarray(32)) },
      items[2]!,
    ];
    const expected = [inThread[0], false, inThread[1], false, false, false, false, inThread[2]];
    assert.deepEqual(await pool.verifyBatch(mixed), expected);
    const packable = mixed.filter((_, i) => ![1, 3, 4].includes(i));
    assert.deepEqual([...(await pool.verifyPacked(packSignatureBatch(packable)))], [inThread[0], inThread[1], false, false, inThread[2]].map(Number));
  });

  it("gives the ZIP-215 vector verdicts (small-order, non-canonical, S >= L, mixed-order)", async () => {
    const vectors = ["zip215.json", "zip215-edge.json"].flatMap((file) => readVectorFile<{ vectors: { publicKey: string; signature: string; message: string; validZip215: boolean }[] }>(file).vectors);
    const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"));
    const vectorItems = vectors.map((v) => ({ publicKey: hex(v.publicKey), signature: hex(v.signature), message: hex(v.message) }));
    assert.deepEqual(await pool.verifyBatch(vectorItems), vectors.map((v) => v.validZip215));
  });

  it("rejects a malformed packed batch with SIGNATURE_BATCH_MALFORMED and keeps working", async () => {
    const packed = packSignatureBatch(items.slice(0, 100));
    await assert.rejects(pool.verifyPacked(packed.subarray(0, packed.length - 3)), isMalformed);
    await assert.rejects(pool.verifyPacked(Uint8Array.of(...packed, 1)), isMalformed);
    await assert.rejects(pool.verifyPacked(new Uint8Array(2)), isMalformed);
    assert.deepEqual([...(await pool.verifyPacked(packed))].map((v) => v === 1), inThread.slice(0, 100));
  });

  it("runs the scalar kernel when asked, with the same verdicts", async () => {
    const scalarPool = new PiscinaVerifierPool({ threads: 1, flavor: "scalar" });
    try {
      assert.deepEqual(await scalarPool.verifyBatch(items.slice(0, 200)), inThread.slice(0, 200));
    } finally {
      await scalarPool.close();
    }
  });

  it("rejects bad options and calls after close with coded errors", async () => {
    for (const threads of [0, -1, 1.5, 10_000]) {
      assert.throws(() => new PiscinaVerifierPool({ threads }), (e: unknown) => e instanceof IosError && e.code === "VERIFIER_POOL_OPTIONS");
    }
    assert.throws(
      () => new PiscinaVerifierPool({ flavor: "neon" as never }),
      (e: unknown) => e instanceof IosError && e.code === "VERIFIER_POOL_OPTIONS",
    );
    const closing = new PiscinaVerifierPool({ threads: 1 });
    await closing.close();
    await closing.close();
    const closed = (e: unknown) => e instanceof IosError && e.code === "VERIFIER_POOL_CLOSED";
    await assert.rejects(closing.verifyBatch(items.slice(0, 3)), closed);
    await assert.rejects(closing.verifyPacked(packSignatureBatch(items.slice(0, 3))), closed);
  });
});

describe("pool worker resilience (the worker file under a bare Piscina)", () => {
  it("a malformed buffer rejects its task only, its code revivable; the same worker thread then verifies a batch", async () => {
    const piscina = new Piscina({
      filename: fileURLToPath(new URL("../../src/node/pool/worker.js", import.meta.url)),
      minThreads: 1,
      maxThreads: 1,
    });
    try {
      const items = makeItems(SeededRng.fromSeed(`${seed}/resilience`), 20, 3, 5);
      const expected = new Ed25519Verifier().verifyBatch(items).map((ok) => (ok ? 1 : 0));
      const run = (buffer: ArrayBuffer) => piscina.run(buffer, { name: "verifySignatureBatch", transferList: [buffer] });
      const first = new Uint8Array((await run(packSignatureBatch(items).buffer)) as ArrayBuffer);
      const threadId = piscina.threads[0]!.threadId;
      const truncated = packSignatureBatch(items).slice(0, 50).buffer;
      const workerError: unknown = await run(truncated).then(
        () => assert.fail("a truncated batch must be rejected"),
        (error: unknown) => error,
      );
      assert.ok(!(workerError instanceof IosError), "the code does not survive structured clone by itself");
      const revived = reviveWorkerError(workerError);
      assert.equal(revived.code, "SIGNATURE_BATCH_MALFORMED");
      assert.equal(revived.message, (workerError as Error).message);
      assert.equal(reviveWorkerError(new Error("worker exited")).code, "VERIFIER_POOL_TASK_FAILED");
      await assert.rejects(piscina.run("not a buffer", { name: "verifySignatureBatch" }), /SIGNATURE_BATCH_MALFORMED/);
      const second = new Uint8Array((await run(packSignatureBatch(items).buffer)) as ArrayBuffer);
      assert.deepEqual([...first], expected);
      assert.deepEqual([...second], expected);
      assert.equal(piscina.threads.length, 1);
      assert.equal(piscina.threads[0]!.threadId, threadId, "the worker that saw bad input is still the one serving");
    } finally {
      await piscina.close();
    }
  });
});
