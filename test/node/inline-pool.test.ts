/**
 * The simulator's InlineVerifierPool against the production PiscinaVerifierPool (real worker
 * threads): on random batches of valid, forged and malformed transactions and signature items,
 * both give the same answers byte for byte, and the same coded rejections.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import type { SignatureItem } from "../../src/crypto/ed25519.js";
import { isPackableItem, packSignatureBatch } from "../../src/crypto/signature-batch.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { signMessage } from "../../src/ledger/keys.js";
import { packTransactions } from "../../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { InlineVerifierPool } from "../../src/node/pool/inline-pool.js";
import type { VerifierPool } from "../../src/node/pool/interface.js";
import { PiscinaVerifierPool } from "../../src/node/pool/verify-pool.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { testSeed } from "../support/vectors.js";

const seed = testSeed("inline pool");
const rng = SeededRng.fromSeed(seed);
const keys = deriveTestAccounts("inline pool", 24);
const SHARD_COUNT = 2;

const pick = <T>(values: readonly T[]): T => values[rng.nextU32() % values.length]!;

/** One transaction's encoding: valid, signed by the wrong key, or malformed (cut short, flipped, random). */
function randomTransaction(): { bytes: Uint8Array; items: SignatureItem[] } {
  const owners = Array.from({ length: 1 + (rng.nextU32() % 3) }, () => pick(keys));
  const inputs = owners.map((owner) => ({ txid: rng.bytes(32), index: rng.nextU32() % 4, owner: owner.publicKey }));
  const outputs = Array.from({ length: 1 + (rng.nextU32() % 3) }, () => ({ owner: pick(keys).publicKey, amount: BigInt(1 + (rng.nextU32() % 1_000_000)) }));
  const { transaction, txid } = signTransaction({ kind: TxKind.Transfer, inputs, outputs }, owners);
  const roll = rng.nextU32() % 10;
  const signatures = roll === 0 ? transaction.signatures.map(() => signMessage(pick(keys).secretKey, txid)) : transaction.signatures;
  let bytes: Uint8Array = encodeTransaction({ ...transaction, signatures });
  if (roll === 1) bytes = bytes.subarray(0, rng.nextU32() % bytes.length);
  if (roll === 2) bytes = Uint8Array.from(bytes, (byte, i) => (i === rng.nextU32() % bytes.length ? byte ^ 0x40 : byte));
  if (roll === 3) bytes = rng.bytes(rng.nextU32() % 200);
  const items = owners.map((owner, i) => ({ publicKey: owner.publicKey, signature: signatures[i]!, message: txid }));
  return { bytes, items };
}

/** Signature items: valid, with a flipped bit, a wrong key, or fields of the wrong length. */
function randomItems(count: number): SignatureItem[] {
  const items: SignatureItem[] = [];
  while (items.length < count) items.push(...randomTransaction().items);
  return items.slice(0, count).map((item) => {
    const roll = rng.nextU32() % 8;
    if (roll === 0) return { ...item, signature: Uint8Array.from(item.signature, (byte, i) => (i === rng.nextU32() % 64 ? byte ^ 1 : byte)) };
    if (roll === 1) return { ...item, publicKey: pick(keys).publicKey };
    if (roll === 2) return { ...item, signature: item.signature.subarray(0, 63) };
    return item;
  });
}

/** The outcome of a call as comparable data: the value, or the rejection's code and message. */
async function outcome<T>(call: () => Promise<T>): Promise<{ value: T } | { code: string; message: string }> {
  try {
    return { value: await call() };
  } catch (error) {
    assert.ok(error instanceof IosError, `rejections are coded: ${String(error)}`);
    return { code: error.code, message: error.message };
  }
}

describe("InlineVerifierPool equals PiscinaVerifierPool byte for byte", () => {
  const piscina = new PiscinaVerifierPool({ threads: 2 });
  const inline: VerifierPool[] = [new InlineVerifierPool(), new InlineVerifierPool({ threads: 2 })];
  after(async () => {
    await piscina.close();
    for (const pool of inline) await pool.close();
  });

  it("validateTransactions: verdicts, txids, apply records and rejections of random batches", async () => {
    let rejected = 0;
    for (let round = 0; round < 12; round++) {
      const framed = packTransactions(Array.from({ length: rng.nextU32() % 150 }, () => randomTransaction().bytes));
      const shard = rng.nextU32() % SHARD_COUNT;
      const expected = await outcome(() => piscina.validateTransactions(framed, shard, SHARD_COUNT));
      assert.ok("value" in expected);
      rejected += expected.value.rejections.length;
      for (const pool of inline) assert.deepEqual(await outcome(() => pool.validateTransactions(framed, shard, SHARD_COUNT)), expected, `round ${round}`);
    }
    assert.ok(rejected > 0, "the batches held rejected transactions");
  });

  it("validateTransactions: broken framing rejects with the same code and message", async () => {
    const framed = packTransactions([randomTransaction().bytes, randomTransaction().bytes]);
    const broken = framed.subarray(0, framed.length - 3);
    const expected = await outcome(() => piscina.validateTransactions(broken, 0, SHARD_COUNT));
    assert.ok("code" in expected && expected.code === "BATCH_TRUNCATED");
    for (const pool of inline) assert.deepEqual(await outcome(() => pool.validateTransactions(broken, 0, SHARD_COUNT)), expected);
  });

  it("verifyBatch and verifyPacked: verdicts of random item batches, split or whole", async () => {
    for (const size of [0, 1, 63, 64, 129, 300]) {
      const items = randomItems(size);
      const expected = await piscina.verifyBatch(items);
      for (const pool of inline) assert.deepEqual(await pool.verifyBatch(items), expected, `size ${size}`);
      const packed = packSignatureBatch(items.filter(isPackableItem));
      const expectedPacked = await piscina.verifyPacked(packed);
      for (const pool of inline) assert.deepEqual(await pool.verifyPacked(packed), expectedPacked, `packed size ${size}`);
    }
  });

  it("a malformed packed batch rejects alike; the inline pool answers through a promise and refuses calls after close", async () => {
    const packed = packSignatureBatch(randomItems(10).filter(isPackableItem));
    const torn = packed.subarray(0, packed.length - 5);
    const expected = await outcome(() => piscina.verifyPacked(torn));
    assert.ok("code" in expected && expected.code === "SIGNATURE_BATCH_MALFORMED");
    for (const pool of inline) assert.deepEqual(await outcome(() => pool.verifyPacked(torn)), expected);

    const pool = new InlineVerifierPool();
    let answered = false;
    const pending = pool.verifyPacked(packed).then(() => (answered = true));
    assert.equal(answered, false, "the answer arrives asynchronously, as from a worker");
    await pending;
    await pool.close();
    assert.deepEqual(await outcome(() => pool.verifyBatch([])), { code: "VERIFIER_POOL_CLOSED", message: "VERIFIER_POOL_CLOSED: the verifier pool has been closed" });
    assert.throws(() => new InlineVerifierPool({ threads: 0 }), (error: unknown) => error instanceof IosError && error.code === "VERIFIER_POOL_OPTIONS");
  });
});
