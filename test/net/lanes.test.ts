/**
 * Lanes of one epoch's instances in the channel table (src/net/channels.ts, "Lanes"): the epoch's
 * own instance (batch B, the plain fields), its opening (batch 0) and each batch 1..B − 1 of its
 * move are separate channels on one transport, so a message sent on one lane reaches that lane's
 * handler only; every lane of every shard below MAX_SHARDS is distinct; batch 0's lane is the
 * opening's; fields no lane can carry are refused CHANNEL_BAD_INSTANCE.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChannelTable, OPENING_LANE_BIT, batchLane, openingLane, type ChannelCarrier } from "../../src/net/channels.js";
import { messageType } from "../../src/net/message-types.js";
import { MAX_SHARDS } from "../../src/ledger/shard.js";
import { codeOf } from "../support/errors.js";

const FINALIZED_LIKE = messageType("consensus", 0x04);
const carrier: ChannelCarrier = { self: "self", send: () => undefined, broadcast: () => undefined };

describe("batch lanes", () => {
  it("routes each lane of an epoch's move to its own instance only", () => {
    const table = new ChannelTable(carrier);
    const [shard, epoch, batchCount] = [3, 7, 4];
    const heard: string[] = [];
    const lanes = new Map<string, { shard: number; epoch: number }>([["own", { shard, epoch }]]);
    for (let batch = 0; batch < batchCount; batch++) lanes.set(`batch ${batch}`, batchLane(shard, epoch, batch));
    lanes.set("other shard's batch 1", batchLane(shard + 1, epoch, 1));
    lanes.set("next epoch's batch 1", batchLane(shard, epoch + 1, 1));
    for (const [name, lane] of lanes) table.open({ protocol: "consensus", ...lane }).on(FINALIZED_LIKE, () => heard.push(name));
    assert.deepEqual(batchLane(shard, epoch, 0), { shard, epoch: openingLane(epoch) }, "batch 0's lane is the opening's");
    for (const [name, lane] of lanes) {
      heard.length = 0;
      const handler = table.route(FINALIZED_LIKE, lane.shard, lane.epoch);
      assert.equal(typeof handler, "function", name);
      (handler as (from: string, type: number, payload: Uint8Array) => void)("peer", FINALIZED_LIKE, new Uint8Array(0));
      assert.deepEqual(heard, [name], `${name}'s message reaches ${name} only`);
    }
    assert.equal(table.route(FINALIZED_LIKE, batchLane(shard, epoch, batchCount).shard, openingLane(epoch)), "no-instance", "batch B has no move lane open");
  });

  it("gives every (shard, batch) of an epoch a distinct lane, apart from the plain fields, and refuses what no lane carries", () => {
    const seen = new Set<string>();
    for (let shard = 0; shard < MAX_SHARDS; shard += 97) {
      seen.add(`${shard}/7`);
      for (const batch of [0, 1, 2, 31, 0xffff]) {
        const { shard: field, epoch } = batchLane(shard, 7, batch);
        assert.ok(epoch >= OPENING_LANE_BIT && (batch === 0 || field >= 0x1_0000), "a move lane is apart from every plain instance");
        const key = `${field}/${epoch}`;
        assert.ok(!seen.has(key), `lane ${key} of shard ${shard}, batch ${batch} is taken once`);
        seen.add(key);
      }
    }
    for (const [what, shard, epoch, batch] of [["a batch of 2^16", 0, 1, 0x1_0000], ["a shard of 2^16", 0x1_0000, 1, 1], ["a negative batch", 0, 1, -1], ["an epoch of 2^31", 0, OPENING_LANE_BIT, 1], ["a fractional batch", 0, 1, 1.5]] as const) {
      assert.equal(codeOf(() => batchLane(shard, epoch, batch)), "CHANNEL_BAD_INSTANCE", what);
    }
  });
});
