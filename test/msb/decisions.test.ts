/**
 * MSB decisions (src/msb/decisions.ts) and their build into an MSB (src/node/msb.ts `buildMsb`):
 * the leaves are the stored phase table overwritten by the height's own writes (the last write of a
 * transaction wins, new transactions land in cross txid order), checked against an independent
 * reference (a Map and a plain sort, RFC 6962 on @noble/hashes); the header binds their count and
 * root, so a different phase anywhere changes the header hash; checks refuse unordered leaves,
 * duplicates and bytes that are no phase. Set IOS_TEST_SEED to replay.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ATOMIX_DECISION } from "../../src/codec/sizes.js";
import { ATOMIX_PHASES } from "../../src/atomix/phases.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { checkDecisions, decisionsOf, type PhaseOf } from "../../src/msb/decisions.js";
import { decodeMsbHeader } from "../../src/msb/header.js";
import { buildMsb } from "../../src/node/msb.js";
import { codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";
import { randomEntries, referenceRoot } from "./fixtures.js";

const seed = testSeed("msb decisions");
const D = ATOMIX_DECISION.bytes;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function randomPhases(rng: SeededRng, count: number): PhaseOf[] {
  return Array.from({ length: count }, () => ({ crossTxid: rng.bytes(32), phase: Math.floor(rng.nextFloat() * ATOMIX_PHASES.length) }));
}

/** Map semantics, then a plain sort: what the merge must equal. */
function referenceLeaves(table: readonly PhaseOf[], writes: readonly PhaseOf[]): Uint8Array[] {
  const byTxid = new Map<string, number>();
  for (const { crossTxid, phase } of [...table, ...writes]) byTxid.set(hex(crossTxid), phase);
  return [...byTxid.keys()].sort().map((key) => Uint8Array.from([...Buffer.from(key, "hex"), byTxid.get(key)!]));
}

describe("MSB decisions", () => {
  const rng = SeededRng.fromSeed(seed);

  it("merges the stored table (cross txid order) with the height's writes: later writes win, new ones in order; root = RFC 6962 over 33-byte leaves", () => {
    for (const [tableSize, writeCount] of [[0, 0], [0, 5], [7, 0], [50, 20], [300, 120]] as const) {
      const table = randomPhases(rng, tableSize).sort((a, b) => Buffer.compare(a.crossTxid, b.crossTxid));
      // Writes: some overwrite stored entries, some are new, some name one transaction twice (the later one wins).
      const writes = randomPhases(rng, writeCount).map((write, i) => (i % 3 === 0 && table.length > 0 ? { ...write, crossTxid: table[i % table.length]!.crossTxid } : write));
      if (writes.length > 1) writes.push({ crossTxid: writes[0]!.crossTxid, phase: (writes[0]!.phase + 1) % ATOMIX_PHASES.length });
      const built = decisionsOf(table, writes);
      const expected = referenceLeaves(table, writes);
      assert.equal(built.count, expected.length, `${tableSize}/${writeCount}`);
      assert.deepEqual(Array.from({ length: built.count }, (_, i) => hex(built.entries.subarray(i * D, (i + 1) * D))), expected.map(hex));
      assert.deepEqual(hex(built.root), hex(referenceRoot(expected)));
    }
  });

  it("refuses leaves out of cross txid order, a duplicate, a byte that is no phase, and a partial leaf", () => {
    const built = decisionsOf(randomPhases(rng, 3).sort((a, b) => Buffer.compare(a.crossTxid, b.crossTxid)), []);
    assert.equal(checkDecisions(built.entries), 3);
    const swapped = Uint8Array.from([...built.entries.subarray(D, 2 * D), ...built.entries.subarray(0, D), ...built.entries.subarray(2 * D)]);
    assert.equal(codeOf(() => checkDecisions(swapped)), "MSB_UNORDERED");
    const duplicate = Uint8Array.from([...built.entries.subarray(0, D), ...built.entries.subarray(0, D)]);
    assert.equal(codeOf(() => checkDecisions(duplicate)), "MSB_UNORDERED");
    const notAPhase = built.entries.slice();
    notAPhase[D + ATOMIX_DECISION.offset.phase] = ATOMIX_PHASES.length;
    assert.equal(codeOf(() => checkDecisions(notAPhase)), "MSB_BAD_FIELD");
    assert.equal(codeOf(() => checkDecisions(built.entries.subarray(1))), "MSB_BAD_INPUT");
  });

  it("buildMsb binds the decisions after the height: the stored phases with the height's writes; one phase changed anywhere changes the header hash", () => {
    const entries = randomEntries(rng, 20);
    const table = randomPhases(rng, 10).sort((a, b) => Buffer.compare(a.crossTxid, b.crossTxid));
    const writes = [{ crossTxid: table[4]!.crossTxid, phase: (table[4]!.phase + 1) % 4 }, { crossTxid: rng.bytes(32), phase: 0 }];
    const build = (phases: readonly PhaseOf[], phaseWrites: readonly PhaseOf[]) => buildMsb({ chain: new Uint8Array(32), shard: 1, height: 12, epochLength: 12, entries, phases, phaseWrites, headerOf: () => undefined });
    const built = build(table, writes);
    const header = decodeMsbHeader(built.encoded);
    assert.equal(header.decisions, 11);
    assert.equal(hex(header.decisionsRoot), hex(referenceRoot(referenceLeaves(table, writes))));
    assert.equal(hex(built.decisions), hex(decisionsOf(table, writes).entries));
    const hashes = new Set([built, build(table, []), build(table, writes.slice(0, 1)), build([], writes)].map((b) => hex(b.hash)));
    assert.equal(hashes.size, 4, "each phase table gives its own header");
  });
});
