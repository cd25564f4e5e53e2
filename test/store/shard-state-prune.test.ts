// A pruning ShardState (ShardStateOptions.prune) on both stores: storing the MSB of epoch e prunes
// epochs ≤ e − 1, and `createdOutput` — what the PoB re-check reads for the inputs of the current
// epoch's blocks — still answers for outputs created below the horizon from the latest MSB's body
// (every output unspent at the epoch's start), the same as an unpruned state; a reopen replays
// from the flushed set across the horizon.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShardState } from "../../src/node/shard-state.js";
import { sortByOutpoint } from "../../src/msb/snapshot.js";
import { TestRng } from "../ledger/helpers.js";
import { BACKENDS } from "./backends.js";
import { ChainBuilder, makeWorkload } from "./workload.js";

const L = 6;
const EPOCHS = 5;
const TXS = 3;
const rng = new TestRng(0x5a7e);

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`a pruning shard state (${backend.name})`, () => {
    it("answers createdOutput below the horizon from the latest MSB body, like an unpruned state, and reopens", async () => {
      const workload = makeWorkload("shard-state-prune", 16);
      const pruned = backend.fresh();
      const full = backend.fresh();
      const open = (medium: typeof pruned, prune: boolean) => ShardState.open({ ...backend.location(medium), genesis: workload.genesis, shard: 0, flushIntervalBlocks: 4, prune });
      let state = open(pruned, true);
      const reference = open(full, false);
      const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
      const txids: Uint8Array[][] = [];
      for (let height = 1; height <= EPOCHS * L; height++) {
        const block = builder.nextBlock(TXS);
        txids.push(block.txids);
        const msb = height % L === 0 ? { epoch: height / L - 1, header: rng.bytes(150), body: sortByOutpoint(state.utxoSnapshot()), decisions: new Uint8Array(0) } : undefined;
        // The MSB body is the state after the block: commit first on the reference, then with the body it reached.
        reference.commitBlock(block.bytes);
        const after = msb === undefined ? undefined : { ...msb, body: sortByOutpoint(reference.utxoSnapshot()) };
        state.commitBlock(block.bytes, after);
        if (height === 3 * L + 2) {
          await state.close();
          state = open(pruned, true);
        }
      }
      assert.ok(state.prunedBelow > L, `pruned (horizon ${state.prunedBelow})`);
      assert.equal(state.getBlock(state.prunedBelow - 1), undefined);
      assert.equal(state.supply, reference.supply);
      let fromBody = 0;
      txids.forEach((block, i) => {
        for (const txid of block) {
          for (const index of [0, 1]) {
            const expected = reference.createdOutput(txid, index)!;
            const got = state.createdOutput(txid, index);
            if (i + 1 >= state.prunedBelow) {
              assert.deepEqual(got, expected, `height ${i + 1}: a kept output`);
            } else if (got !== undefined) {
              // Below the horizon: the outputs unspent at the latest MSB, with what created them.
              assert.deepEqual(got, expected, `height ${i + 1}: an output from the MSB body`);
              fromBody++;
            } else {
              // The last block stored the latest MSB: its body is the working set, so only spent outputs are missing.
              assert.equal(reference.getUtxo(txid, index), undefined, `height ${i + 1}: only spent outputs are missing`);
            }
          }
        }
      });
      assert.ok(fromBody > 0, "some outputs below the horizon were found in the body");
      await state.close();
      await reference.close();
    });
  });
}
