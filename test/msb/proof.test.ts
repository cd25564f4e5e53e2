/**
 * MSB proof tests (src/msb/proof.ts): a UTXO proof-of-existence verifies for every output of
 * small sets (bonds and flagged indexes included) against the trusted header hash, and fails with a
 * code for absent and spent outputs, another header, every single-bit flip of a proof, every
 * truncation and trailing bytes; header paths reach every earlier MSB of a chain of headers in
 * O(log) hops and fail for flipped bits, skipped or foreign links. Set IOS_TEST_SEED to replay.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BinaryWriter } from "../../src/codec/binary.js";
import { unpackEntry } from "../../src/ledger/utxo-table.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { backPointerEpochs, encodeMsbHeader, makeMsbHeader, msbHeaderHash, skipPath } from "../../src/msb/header.js";
import { proveMsbHeaderPath, proveUtxo, verifyMsbHeaderPath, verifyUtxoProof } from "../../src/msb/proof.js";
import { msbTree, snapshotOfEntries } from "../../src/msb/snapshot.js";
import { MSB_ERROR_CODES, type MsbDecisions, type MsbHeader, type MsbSnapshot } from "../../src/msb/interface.js";
import { codeOf } from "../support/errors.js";
import { testSeed } from "../support/vectors.js";
import { concat, entriesOf, randomDecisions, randomEntries } from "./fixtures.js";

const seed = testSeed("msb proof");
const CHAIN = SeededRng.fromSeed(`${seed}/chain`).bytes(32);
const isMsbCode = (code: string): boolean => (MSB_ERROR_CODES as readonly string[]).includes(code);

/** The MSB of `snapshot` at `epoch`, with back-pointers drawn from `rng` (only the root matters here). */
function headerOf(rng: SeededRng, snapshot: MsbSnapshot, epoch: number): MsbHeader {
  return makeMsbHeader({ chain: CHAIN, shard: 1, epoch, height: 100 * epoch + 7, snapshot, decisions: randomDecisions(rng, 3), backPointers: backPointerEpochs(epoch).map(() => rng.bytes(32)) });
}

/** What a header states about its decisions, as makeMsbHeader takes them (the leaves are not needed here). */
function decisionsOfHeader(header: MsbHeader): MsbDecisions {
  return { entries: new Uint8Array(0), count: header.decisions, root: header.decisionsRoot };
}

/** Every single-bit flip of `bytes`. */
function* bitFlips(bytes: Uint8Array): Generator<[Uint8Array, string]> {
  for (let at = 0; at < bytes.length; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const copy = bytes.slice();
      copy[at] ^= 1 << bit;
      yield [copy, `byte ${at} bit ${bit}`];
    }
  }
}

describe("UTXO proof-of-existence", () => {
  it("verifies for every output of sets of 1..17 outputs, giving back the output and its position", () => {
    const rng = SeededRng.fromSeed(`${seed}/every`);
    for (const size of [1, 2, 3, 5, 8, 13, 17]) {
      const snapshot = snapshotOfEntries(randomEntries(rng, size));
      const header = headerOf(rng, snapshot, size);
      const trusted = msbHeaderHash(header);
      const tree = msbTree(snapshot);
      entriesOf(snapshot.entries).forEach((leaf, position) => {
        const entry = unpackEntry(leaf);
        const verified = verifyUtxoProof(proveUtxo(header, snapshot, tree, entry.txid, entry.index), trusted);
        assert.deepEqual(verified.entry, entry);
        assert.equal(verified.position, position);
        assert.deepEqual(verified.header, header);
        assert.deepEqual(verified.headerHash, trusted);
      });
    }
  });

  it("cannot be made for an absent or spent output, and an old proof fails against the newer MSB", () => {
    const rng = SeededRng.fromSeed(`${seed}/spent`);
    const packed = randomEntries(rng, 9);
    const before = snapshotOfEntries(packed);
    const spent = unpackEntry(entriesOf(packed)[4]!);
    const after = snapshotOfEntries(concat(entriesOf(packed).filter((_, k) => k !== 4)));
    const oldHeader = headerOf(rng, before, 2);
    const newHeader = headerOf(rng, after, 3);
    assert.equal(codeOf(() => proveUtxo(newHeader, after, msbTree(after), spent.txid, spent.index)), "MSB_NOT_FOUND");
    assert.equal(codeOf(() => proveUtxo(newHeader, after, msbTree(after), rng.bytes(32), 0)), "MSB_NOT_FOUND");
    const empty = snapshotOfEntries(new Uint8Array(0));
    assert.equal(codeOf(() => proveUtxo(headerOf(rng, empty, 0), empty, msbTree(empty), spent.txid, spent.index)), "MSB_NOT_FOUND");
    const oldProof = proveUtxo(oldHeader, before, msbTree(before), spent.txid, spent.index);
    assert.deepEqual(verifyUtxoProof(oldProof, msbHeaderHash(oldHeader)).entry, spent);
    assert.equal(codeOf(() => verifyUtxoProof(oldProof, msbHeaderHash(newHeader))), "MSB_UNTRUSTED_HEADER");
    assert.equal(codeOf(() => proveUtxo(newHeader, before, msbTree(before), spent.txid, spent.index)), "MSB_BAD_INPUT", "header of another set");
  });

  it("fails with an MSB code for every single-bit flip, every truncation and a trailing byte", () => {
    const rng = SeededRng.fromSeed(`${seed}/flips`);
    const snapshot = snapshotOfEntries(randomEntries(rng, 6));
    const header = headerOf(rng, snapshot, 5);
    const trusted = msbHeaderHash(header);
    const { txid, index } = unpackEntry(entriesOf(snapshot.entries)[4]!);
    const proof = proveUtxo(header, snapshot, msbTree(snapshot), txid, index);
    assert.equal(verifyUtxoProof(proof, trusted).position, 4);
    const codes = new Set<string>();
    for (const [flipped, where] of bitFlips(proof)) {
      const code = codeOf(() => verifyUtxoProof(flipped, trusted));
      assert.ok(isMsbCode(code), `${where}: ${code}`);
      codes.add(code);
    }
    for (const code of ["MSB_BAD_VERSION", "MSB_UNTRUSTED_HEADER", "MSB_BAD_PROOF", "MSB_OUT_OF_RANGE"]) assert.ok(codes.has(code), `some flip gives ${code}`);
    for (let length = 0; length < proof.length; length++) assert.ok(isMsbCode(codeOf(() => verifyUtxoProof(proof.subarray(0, length), trusted))), `cut at ${length}`);
    assert.equal(codeOf(() => verifyUtxoProof(Uint8Array.from([...proof, 0]), trusted)), "MSB_TRAILING");
  });

  it("without a trusted hash checks the path to the proof's own header only", () => {
    const rng = SeededRng.fromSeed(`${seed}/untrusted`);
    const snapshot = snapshotOfEntries(randomEntries(rng, 4));
    const header = headerOf(rng, snapshot, 1);
    const { txid, index } = unpackEntry(entriesOf(snapshot.entries)[0]!);
    const proof = proveUtxo(header, snapshot, msbTree(snapshot), txid, index);
    // A forger relabels the header (same root, another height): only a trusted hash tells.
    const relabelled = proveUtxo({ ...header, height: 1 }, snapshot, msbTree(snapshot), txid, index);
    assert.equal(verifyUtxoProof(relabelled).header.height, 1);
    assert.equal(codeOf(() => verifyUtxoProof(relabelled, msbHeaderHash(header))), "MSB_UNTRUSTED_HEADER");
    // A leaf changed in the proof fails even untrusted: the root binds it.
    const leafAt = 1 + 2 + encodeMsbHeader(header).length;
    const forged = proof.slice();
    forged[leafAt + 70] ^= 1;
    assert.equal(codeOf(() => verifyUtxoProof(forged)), "MSB_BAD_PROOF");
    assert.equal(codeOf(() => verifyUtxoProof(proof, new Uint8Array(31))), "MSB_BAD_INPUT");
  });

  it("refuses a zero amount and a position at or beyond the count", () => {
    const rng = SeededRng.fromSeed(`${seed}/fields`);
    const snapshot = snapshotOfEntries(randomEntries(rng, 3));
    const header = headerOf(rng, snapshot, 0);
    const headerBytes = encodeMsbHeader(header);
    const leaf = entriesOf(snapshot.entries)[0]!;
    const build = (leafBytes: Uint8Array, position: number, siblings: number): Uint8Array => {
      const writer = BinaryWriter.ofSize(1 + 2 + headerBytes.length + 76 + 4 + siblings * 32).u8(1).lengthPrefixed("u16", headerBytes).bytes(leafBytes).u32(position);
      for (let i = 0; i < siblings; i++) writer.bytes(rng.bytes(32));
      return writer.finish();
    };
    const zero = leaf.slice();
    zero.fill(0, 68);
    assert.equal(codeOf(() => verifyUtxoProof(build(zero, 0, 2))), "MSB_BAD_FIELD");
    assert.equal(codeOf(() => verifyUtxoProof(build(leaf, 3, 0))), "MSB_OUT_OF_RANGE");
    assert.equal(codeOf(() => verifyUtxoProof(build(leaf, 0, 2))), "MSB_BAD_PROOF");
    assert.equal(codeOf(() => verifyUtxoProof(build(leaf, 0, 3))), "MSB_TRAILING");
  });
});

describe("MSB header path", () => {
  /** A shard's MSB chain of epochs 0..last, each header's back-pointers the hashes of the real earlier ones. */
  function msbChain(rng: SeededRng, last: number): MsbHeader[] {
    const headers: MsbHeader[] = [];
    for (let epoch = 0; epoch <= last; epoch++) {
      const snapshot = snapshotOfEntries(randomEntries(rng, 1 + (epoch % 3)));
      headers.push(makeMsbHeader({ chain: CHAIN, shard: 1, epoch, height: 10 * epoch, snapshot, decisions: randomDecisions(rng, epoch % 2), backPointers: backPointerEpochs(epoch).map((e) => msbHeaderHash(headers[e]!)) }));
    }
    return headers;
  }

  it("leads from any MSB to every earlier one in O(log) headers", () => {
    const rng = SeededRng.fromSeed(`${seed}/paths`);
    const headers = msbChain(rng, 40);
    for (let from = 0; from < headers.length; from++) {
      for (let to = 0; to <= from; to++) {
        const path = verifyMsbHeaderPath(proveMsbHeaderPath(from, to, (e) => headers[e]!), msbHeaderHash(headers[from]!));
        assert.deepEqual(path.map((h) => h.epoch), skipPath(from, to).epochs);
        assert.deepEqual(path.at(-1), headers[to]);
        assert.ok(path.length <= (from === to ? 1 : Math.floor(Math.log2(from - to)) + 2));
      }
    }
  });

  it("fails for every bit flip, another trusted header, a skipped or non-power-of-two link, another shard", () => {
    const rng = SeededRng.fromSeed(`${seed}/bad-paths`);
    const headers = msbChain(rng, 13);
    const trusted = msbHeaderHash(headers[13]!);
    const path = proveMsbHeaderPath(13, 2, (e) => headers[e]!);
    assert.deepEqual(verifyMsbHeaderPath(path, trusted).map((h) => h.epoch), [13, 5, 3, 2], "distance 11 = 8 + 2 + 1");
    for (const [flipped, where] of bitFlips(path)) assert.ok(isMsbCode(codeOf(() => verifyMsbHeaderPath(flipped, trusted))), where);
    assert.equal(codeOf(() => verifyMsbHeaderPath(path, msbHeaderHash(headers[12]!))), "MSB_UNTRUSTED_HEADER");
    const encode = (epochs: number[], chain = headers): Uint8Array => {
      const encodings = epochs.map((e) => encodeMsbHeader(chain[e]!));
      const writer = BinaryWriter.ofSize(2 + encodings.reduce((n, e) => n + 2 + e.length, 0)).u8(1).u8(encodings.length);
      for (const encoding of encodings) writer.lengthPrefixed("u16", encoding);
      return writer.finish();
    };
    assert.equal(verifyMsbHeaderPath(encode([13, 12, 8, 0]), trusted).length, 4, "any power-of-two hops are a valid path");
    assert.equal(codeOf(() => verifyMsbHeaderPath(encode([13, 10]), trusted)), "MSB_BAD_PATH", "3 is not a power of two");
    assert.equal(codeOf(() => verifyMsbHeaderPath(encode([13, 12, 12]), trusted)), "MSB_BAD_PATH", "a hop of 0 epochs");
    const forkRng = SeededRng.fromSeed(`${seed}/fork`);
    const fork = msbChain(forkRng, 13);
    assert.equal(codeOf(() => verifyMsbHeaderPath(encode([13, 12], [...headers.slice(0, 12), fork[12]!, headers[13]!]), trusted)), "MSB_BAD_PATH", "a header the back-pointer does not name");
    // Epoch 13 names, at level 0, a header of shard 2: a co-signed pointer still may not change shard.
    const foreign = makeMsbHeader({ ...headers[12]!, snapshot: { entries: new Uint8Array(0), count: headers[12]!.count, supply: headers[12]!.supply, root: headers[12]!.root }, decisions: decisionsOfHeader(headers[12]!), shard: 2 });
    const pointing = makeMsbHeader({ ...headers[13]!, snapshot: { entries: new Uint8Array(0), count: headers[13]!.count, supply: headers[13]!.supply, root: headers[13]!.root }, decisions: decisionsOfHeader(headers[13]!), backPointers: [msbHeaderHash(foreign), ...headers[13]!.backPointers.slice(1)] });
    const crossShard = encode([13, 12], [...headers.slice(0, 12), foreign, pointing]);
    assert.equal(codeOf(() => verifyMsbHeaderPath(crossShard, msbHeaderHash(pointing))), "MSB_BAD_PATH");
    assert.equal(codeOf(() => verifyMsbHeaderPath(encode([13]).subarray(0, 1), trusted)), "MSB_TRUNCATED");
    assert.equal(codeOf(() => verifyMsbHeaderPath(Uint8Array.from([1, 0]), trusted)), "MSB_OUT_OF_RANGE");
    assert.equal(codeOf(() => verifyMsbHeaderPath(Uint8Array.from([2, 1]), trusted)), "MSB_BAD_VERSION");
  });
});
