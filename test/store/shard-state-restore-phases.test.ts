// ShardState.restoreAtMsb and the Atomix phase table (both backends): the phases restored from an
// MSB's decisions answer `phaseOf` (the replay guard the PoB admission reads) across a reopen, carry
// no lock proof, and a restored lock — whose block and proof this state never held — is left to
// the replicas that decided it: `watchedTransfers` passes over it instead of failing its invariant
// ("a lock's final block holds its transfer"). The chain continues above the restored height.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ATOMIX_DECISION } from "../../src/codec/sizes.js";
import { encodeAtomixPhase, type AtomixPhase } from "../../src/atomix/phases.js";
import { ShardState } from "../../src/node/shard-state.js";
import { sortByOutpoint } from "../../src/msb/snapshot.js";
import { TestRng } from "../ledger/helpers.js";
import { BACKENDS } from "./backends.js";
import { ChainBuilder, makeWorkload } from "./workload.js";

const rng = new TestRng(0x7a70);

/** Decisions (cross txid ‖ phase) in cross txid order. */
function decisionsOf(phases: readonly (readonly [Uint8Array, AtomixPhase])[]): Uint8Array {
  const sorted = [...phases].sort(([a], [b]) => Buffer.compare(a, b));
  const packed = new Uint8Array(sorted.length * ATOMIX_DECISION.bytes);
  sorted.forEach(([txid, phase], i) => {
    packed.set(txid, i * ATOMIX_DECISION.bytes);
    packed[i * ATOMIX_DECISION.bytes + ATOMIX_DECISION.offset.phase] = encodeAtomixPhase(phase);
  });
  return packed;
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`restored Atomix phases (${backend.name})`, () => {
    it("answer phaseOf without proofs across a reopen; a restored lock is not watched here; blocks after the MSB keep them", async () => {
      const workload = makeWorkload("shard-state-restore-phases", 8);
      const medium = backend.fresh();
      const open = () => ShardState.open({ ...backend.location(medium), genesis: workload.genesis, shard: 0, flushIntervalBlocks: 4 });
      let state = open();
      const builder = ChainBuilder.atGenesis(workload, state.utxoSnapshot());
      const first = builder.nextBlock(2);
      const [locked, committed, aborted, refused] = [rng.bytes(32), rng.bytes(32), rng.bytes(32), rng.bytes(32)];
      const phases: Array<[Uint8Array, AtomixPhase]> = [[locked, "locked"], [committed, "committed"], [aborted, "aborted"], [refused, "refused"]];
      // The MSB is the state after block 1, as a joiner restores it (its block, certificate and proposal are opaque to the store).
      const reference = ShardState.open({ ...backend.location(backend.fresh()), genesis: workload.genesis, shard: 0 });
      reference.commitBlock(first.bytes);
      state.restoreAtMsb({
        block: {
          height: 1, hash: first.hash, bytes: first.bytes, txids: new Uint8Array(0), positions: [], certificate: rng.bytes(200), proposal: rng.bytes(150),
          msb: { epoch: 0, header: rng.bytes(120), body: sortByOutpoint(reference.utxoSnapshot()), decisions: decisionsOf(phases) },
        },
        earlierHeaders: [],
      });
      await reference.close();
      const view = (s: ShardState) => phases.map(([txid]) => [s.phaseOf(txid), s.atomix(txid)?.height, s.atomix(txid)?.proof]);
      const expected = phases.map(([, phase]) => [phase, 1, undefined]);
      assert.deepEqual(view(state), expected);
      assert.deepEqual(state.watchedTransfers(0), [], "a restored lock is the deciding replicas' to finish");
      await state.close();
      state = open();
      assert.deepEqual(view(state), expected);
      assert.deepEqual(state.watchedTransfers(0), []);
      state.commitBlock(builder.nextBlock(2).bytes);
      assert.equal(state.tip.height, 2);
      assert.deepEqual(view(state), expected);
      await state.close();
    });
  });
}
