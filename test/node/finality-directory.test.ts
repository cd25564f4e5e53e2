/**
 * Where a validator keeps each instance's finality log (src/node/validator.ts `finalityDirectory`):
 * the home shard's epoch 0 in `finality`, any other (shard, epoch) in its own directory, the
 * epoch's opening and each batch 1..B − 1 of its move apart from the epoch's own instance, so a
 * restarted member never reads one instance's records and votes as another's.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { finalityDirectory, type LogInstance } from "../../src/node/validator.js";

describe("finality log directories", () => {
  it("keeps the own instance, the opening and every batch of a move apart", () => {
    const dir = "/data";
    assert.equal(finalityDirectory(dir, 0, 0, 0), join(dir, "finality"), "the home shard's epoch 0: the legacy directory");
    const instances: LogInstance[] = ["own", "opening", 1, 2, 3];
    const paths = [0, 1].flatMap((shard) => [2, 3].flatMap((epoch) => instances.map((instance) => finalityDirectory(dir, 0, shard, epoch, instance))));
    assert.equal(new Set(paths).size, paths.length, "one directory per (shard, epoch, instance)");
    assert.equal(finalityDirectory(dir, 0, 1, 3, 2), join(dir, "finality", "1-3-b2"));
    for (const bad of [0, -1, 1.5]) assert.throws(() => finalityDirectory(dir, 0, 1, 3, bad), /batch 1..B − 1/, `batch ${bad} has no log of its own`);
  });
});
