/**
 * The optimistic index of a PoB validator (src/node/consensus/optimistic-index.ts) over real
 * sealed optimistic blocks of signed transfers: what it answers, what it forgets, and its bounds —
 * entries past its capacity (oldest block first) and blocks queued behind a transaction that never
 * settles.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { TXID_BYTES } from "../../src/codec/sizes.js";
import { BlockKind, decodeBlock, encodeBlock, makeBlockHeader, sealOptimistic, type DecodedBlock } from "../../src/ledger/block.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { OptimisticIndex } from "../../src/node/consensus/optimistic-index.js";

const [producer, payer, payee] = deriveTestAccounts("optimistic index", 3);

/** A sealed optimistic block of `count` one-input transfers, decoded as a validator holds it. */
function block(count: number): DecodedBlock {
  const transactions = Array.from({ length: count }, (_, i) => encodeTransaction(signTransaction({
    kind: TxKind.Transfer,
    inputs: [{ txid: new Uint8Array(randomBytes(32)), index: i, owner: payer!.publicKey }],
    outputs: [{ owner: payee!.publicKey, amount: 10n }],
  }, [payer!]).transaction));
  const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: 0, height: 1, prevHash: new Uint8Array(32), timestamp: 1, producer: producer!.publicKey }, transactions);
  return decodeBlock(encodeBlock(header, sealOptimistic(header, producer!), transactions));
}

/** Txid `i` of `b`, as a copy (what a status request or a final block brings: other bytes, same value). */
const txid = (b: DecodedBlock, i: number): Uint8Array => Uint8Array.from(b.txids.subarray(i * TXID_BYTES, (i + 1) * TXID_BYTES));

describe("optimistic index", () => {
  it("answers each confirmed transaction with its block and position until it is forgotten; a block with nothing left is dropped", () => {
    const index = new OptimisticIndex(1000);
    const first = block(3);
    index.remember(first.hash, first);
    for (let i = 0; i < 3; i++) {
      const entry = index.get(txid(first, i));
      assert.ok(entry !== undefined);
      assert.deepEqual([entry.of.hash, entry.index], [first.hash, i]);
    }
    index.forget(txid(first, 1));
    index.forget(txid(first, 1));
    assert.deepEqual([index.has(txid(first, 0)), index.has(txid(first, 1)), index.size], [true, false, 2]);
    index.forget(txid(first, 0));
    index.forget(txid(first, 2));
    const second = block(2);
    index.remember(second.hash, second);
    assert.deepEqual([index.size, index.blocks], [2, 1], "the first block, with nothing left, was dropped");
  });

  it("remembers only the confirmed transactions of an announcement, and moves one a later block confirms again", () => {
    const index = new OptimisticIndex(1000);
    const earlier = block(4);
    index.remember(earlier.hash, earlier, Uint8Array.from([...txid(earlier, 0), ...txid(earlier, 2)]));
    assert.deepEqual([0, 1, 2, 3].map((i) => index.has(txid(earlier, i))), [true, false, true, false]);
    // A byzantine producer seals a block repeating a transaction of another: the latest confirmation answers.
    const repeating = { ...earlier, hash: new Uint8Array(randomBytes(32)) };
    index.remember(repeating.hash, repeating, txid(earlier, 2));
    assert.deepEqual(index.get(txid(earlier, 2))?.of.hash, repeating.hash);
    index.forget(txid(earlier, 0));
    const next = block(1);
    index.remember(next.hash, next);
    assert.deepEqual([index.size, index.blocks], [2, 2], "the earlier block has nothing left and was dropped; the repeating one and the next remain");
  });

  it("past its capacity it forgets the oldest block's transactions first", () => {
    const index = new OptimisticIndex(5);
    const blocks = [block(3), block(3), block(3)];
    for (const b of blocks) index.remember(b.hash, b);
    assert.equal(index.size, 3);
    assert.deepEqual(blocks.map((b) => [0, 1, 2].every((i) => index.has(txid(b, i)))), [false, false, true]);
  });

  it("a transaction that never settles holds its own block only: the blocks after it are compacted away", () => {
    const index = new OptimisticIndex(1000);
    const stuck = block(1);
    index.remember(stuck.hash, stuck);
    const busy = block(2);
    // Each announcement of the same transactions moves them to a new block record; the one before is left with none.
    for (let round = 0; round < 1000; round++) index.remember(busy.hash, busy);
    assert.ok(index.has(txid(stuck, 0)), "the unsettled transaction is still answered");
    assert.equal(index.size, 3);
    assert.ok(index.blocks <= 128, `blocks queued: ${index.blocks}`);
  });
});
