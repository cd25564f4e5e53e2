/**
 * BFT statements and wire formats (src/consensus/bft/codec.ts): every message round-trips, every
 * decoder refuses truncated, padded or inconsistent input with BFT_BAD_MESSAGE, statements are
 * domain-separated, and view changes verify only with their signer's key and a real certificate.
 * Certificates are real CoSi-style multisignatures built with SchnorrKey (commit/respond).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { cosign as cosignWith } from "../support/cosign.js";
import type { CollectiveSignature } from "../../src/consensus/cosi/codec.js";
import {
  BFT_MESSAGES,
  MAX_FETCH_COUNT,
  commitDigest,
  decodeFetch,
  decodeFinalityRecord,
  decodePrepared,
  decodePropose,
  decodeViewChange,
  encodeFetch,
  encodeFinalityRecord,
  encodePrepared,
  encodePropose,
  encodeViewChange,
  prepareDigest,
  proposalHash,
  verifyFinality,
  verifyViewChange,
  viewChangeStatement,
  type FinalityRecord,
  type ViewChange,
} from "../../src/consensus/bft/codec.js";
import { MemoryFinalityLog } from "../../src/consensus/bft/log.js";
import { SeededRng } from "../../src/runtime/seeded-rng.js";
import { codeOf } from "../support/errors.js";

const CHAIN = new TextEncoder().encode("ioschain-bft-codec");
const verifier = new Ed25519Verifier();
const rng = SeededRng.fromSeed("bft-codec");
const N = 4;
const keys = Array.from({ length: N }, () => SchnorrKey.fromSeed(rng.bytes(32)));
const participants = keys.map((key) => key.publicKey);

/** A real multisignature of `message` by the signers in `indices` (mask bit i = participant i). */
const cosign = (message: Uint8Array, indices: readonly number[]): CollectiveSignature => cosignWith(keys, indices, message, rng, verifier);


const proposal = new TextEncoder().encode("a proposal");
const hash = proposalHash(proposal);

function finalRecord(height: number, view: number, signers: readonly number[] = [0, 1, 2]): FinalityRecord {
  const prepareCert = cosign(prepareDigest(CHAIN, height, view, hash), signers);
  const commitCert = cosign(commitDigest(CHAIN, height, view, hash, prepareCert, N), signers);
  return { height, view, proposal, prepareCert, commitCert };
}

function viewChange(signer: number, height: number, newView: number, prepared?: { view: number }): ViewChange {
  const certified = prepared === undefined ? undefined : { view: prepared.view, hash, cert: cosign(prepareDigest(CHAIN, height, prepared.view, hash), [0, 1, 3]) };
  const signature = keys[signer]!.sign(viewChangeStatement(CHAIN, height, newView, certified));
  return { height, newView, signer, prepared: certified, signature, proposal: certified === undefined ? undefined : proposal };
}

describe("BFT statements", () => {
  it("prepare and commit digests separate chain, height, view, proposal and round", () => {
    const base = prepareDigest(CHAIN, 5, 1, hash);
    const others = [
      prepareDigest(new TextEncoder().encode("other"), 5, 1, hash),
      prepareDigest(CHAIN, 6, 1, hash),
      prepareDigest(CHAIN, 5, 2, hash),
      prepareDigest(CHAIN, 5, 1, proposalHash(new Uint8Array(1))),
      commitDigest(CHAIN, 5, 1, hash, cosign(base, [0, 1, 2]), N),
    ];
    for (const other of others) assert.notDeepEqual(other, base);
    const cert = cosign(base, [0, 1, 2]);
    assert.notDeepEqual(commitDigest(CHAIN, 5, 1, hash, cert, N), commitDigest(CHAIN, 5, 1, hash, cosign(base, [0, 1, 3]), N), "the commit binds its prepare certificate");
    assert.equal(codeOf(() => prepareDigest(CHAIN, -1, 0, hash)), "BFT_BAD_INPUT");
    assert.equal(codeOf(() => prepareDigest(CHAIN, 1, 2 ** 32, hash)), "BFT_BAD_INPUT");
    assert.equal(codeOf(() => prepareDigest(new Uint8Array(0), 1, 0, hash)), "BFT_BAD_INPUT");
    assert.equal(codeOf(() => prepareDigest(CHAIN, 1, 0, new Uint8Array(31))), "BFT_BAD_INPUT");
  });

  it("a finality proof needs both certificates from a quorum", () => {
    const record = finalRecord(3, 0);
    assert.ok(verifyFinality(participants, CHAIN, record, verifier));
    const decoded = decodeFinalityRecord(encodeFinalityRecord(record, N), N, 1024);
    assert.ok(verifyFinality(participants, CHAIN, decoded, verifier), "and survives the wire");
    assert.ok(!verifyFinality(participants, CHAIN, finalRecord(3, 0, [0, 1]), verifier), "two of four is below 2f + 1");
    const commitOverPrepare = { ...record, commitCert: cosign(commitDigest(CHAIN, 3, 0, hash, finalRecord(3, 0, [1, 2, 3]).prepareCert, N), [0, 1, 2]) };
    assert.ok(!verifyFinality(participants, CHAIN, commitOverPrepare, verifier), "a commit for another prepare certificate");
    assert.equal(codeOf(() => verifyFinality([], CHAIN, record)), "BFT_BAD_INPUT");
  });

  it("a view change verifies only under its signer's key, with a real earlier certificate", () => {
    const plain = viewChange(2, 9, 1);
    const locked = viewChange(1, 9, 3, { view: 2 });
    assert.ok(verifyViewChange(participants, CHAIN, plain, verifier));
    assert.ok(verifyViewChange(participants, CHAIN, locked, verifier));
    assert.ok(!verifyViewChange(participants, CHAIN, { ...plain, signer: 3 }, verifier), "another signer");
    assert.ok(!verifyViewChange(participants, CHAIN, { ...plain, newView: 2 }, verifier), "another view");
    assert.ok(!verifyViewChange(participants, CHAIN, { ...locked, proposal: new Uint8Array(3) }, verifier), "bytes not matching the certified hash");
    const forged = { ...locked.prepared!, cert: cosign(prepareDigest(CHAIN, 9, 2, hash), [1]) };
    const signedForged = { ...locked, prepared: forged, signature: keys[1]!.sign(viewChangeStatement(CHAIN, 9, 3, forged)) };
    assert.ok(!verifyViewChange(participants, CHAIN, signedForged, verifier), "a certificate below threshold");
    const notEarlier = viewChange(1, 9, 2, { view: 2 });
    assert.ok(!verifyViewChange(participants, CHAIN, notEarlier, verifier), "a certificate from the new view itself");
    assert.ok(ed25519.verify(plain.signature, viewChangeStatement(CHAIN, 9, 1, undefined), participants[2]!), "an ordinary Ed25519 signature");
  });
});

describe("BFT wire formats", () => {
  it("every message round-trips", () => {
    const justification = [viewChange(0, 4, 2), viewChange(1, 4, 2, { view: 1 }), viewChange(3, 4, 2)];
    const propose = decodePropose(encodePropose({ height: 4, view: 2, proposal, justification }, N), N, 1024);
    assert.deepEqual(propose.proposal, proposal);
    assert.equal(propose.justification.length, 3);
    assert.equal(propose.justification[1]!.proposal, undefined, "proof entries travel without the proposal bytes");
    assert.ok(propose.justification.every((vc) => verifyViewChange(participants, CHAIN, vc, verifier)));
    const vc = justification[1]!;
    assert.deepEqual(decodeViewChange(encodeViewChange(vc, N), N, 1024), vc);
    const cert = cosign(prepareDigest(CHAIN, 4, 2, hash), [0, 1, 2]);
    assert.deepEqual(decodePrepared(encodePrepared({ height: 4, view: 2, hash, cert }, N), N), { height: 4, view: 2, hash, cert });
    assert.deepEqual(decodeFetch(encodeFetch({ fromHeight: 2 ** 40, count: 7 })), { fromHeight: 2 ** 40, count: 7 });
    assert.deepEqual(new Set(Object.values(BFT_MESSAGES)).size, Object.keys(BFT_MESSAGES).length);
    for (const type of Object.values(BFT_MESSAGES)) assert.ok(type >= 0x10 && type <= 0x2f, "inside BFT's part of the consensus range");
  });

  it("decoders refuse truncation, padding, oversize and inconsistent fields", () => {
    const record = encodeFinalityRecord(finalRecord(1, 0), N);
    const vc = encodeViewChange(viewChange(1, 4, 3, { view: 2 }), N);
    const propose = encodePropose({ height: 4, view: 0, proposal, justification: [] }, N);
    const cases: [string, () => unknown][] = [
      ["truncated record", () => decodeFinalityRecord(record.subarray(0, record.length - 1), N, 1024)],
      ["padded record", () => decodeFinalityRecord(Uint8Array.from([...record, 0]), N, 1024)],
      ["record for another n", () => decodeFinalityRecord(record, 5, 1024)],
      ["proposal above the limit", () => decodeFinalityRecord(record, N, proposal.length - 1)],
      ["truncated view change", () => decodeViewChange(vc.subarray(0, 20), N, 1024)],
      ["signer outside the registry", () => decodeViewChange(encodeViewChange({ ...viewChange(1, 4, 3), signer: 4 }, N), N, 1024)],
      ["bad prepared flag", () => decodeViewChange(Uint8Array.from(vc, (byte, i) => (i === 14 ? 2 : byte)), N, 1024)],
      ["padded propose", () => decodePropose(Uint8Array.from([...propose, 0]), N, 1024)],
      ["height above 2^53", () => decodePropose(Uint8Array.from(propose, (byte, i) => (i < 8 ? 0xff : byte)), N, 1024)],
      ["more view changes than validators", () => decodePropose(Uint8Array.from(propose, (byte, i) => (i === propose.length - 2 ? 5 : byte)), N, 1024)],
      ["fetch of zero", () => decodeFetch(encodeFetch({ fromHeight: 1, count: 0 }))],
      ["fetch above the limit", () => decodeFetch(encodeFetch({ fromHeight: 1, count: MAX_FETCH_COUNT + 1 }))],
      ["empty prepared", () => decodePrepared(new Uint8Array(0), N)],
    ];
    for (const [what, fn] of cases) assert.equal(codeOf(fn), "BFT_BAD_MESSAGE", what);
    const withProposalInProof = (() => {
      const inner = encodeViewChange(viewChange(1, 4, 2, { view: 1 }), N);
      const out = new Uint8Array(8 + 4 + 4 + proposal.length + 2 + 4 + inner.length);
      const view = new DataView(out.buffer);
      view.setBigUint64(0, 4n, true);
      view.setUint32(8, 2, true);
      view.setUint32(12, proposal.length, true);
      out.set(proposal, 16);
      view.setUint16(16 + proposal.length, 1, true);
      view.setUint32(18 + proposal.length, inner.length, true);
      out.set(inner, 22 + proposal.length);
      return out;
    })();
    assert.equal(codeOf(() => decodePropose(withProposalInProof, N, 1024)), "BFT_BAD_MESSAGE", "a proof entry carrying proposal bytes");
  });
});

describe("MemoryFinalityLog", () => {
  it("appends in height order from its first height", () => {
    const log = new MemoryFinalityLog(5);
    assert.equal(log.lastHeight, 4);
    assert.equal(codeOf(() => log.append(finalRecord(6, 0))), "BFT_BAD_INPUT");
    log.append(finalRecord(5, 0));
    assert.equal(log.lastHeight, 5);
    assert.equal(log.get(5)!.height, 5);
    assert.equal(log.get(4), undefined);
    assert.equal(codeOf(() => new MemoryFinalityLog(-1)), "BFT_BAD_INPUT");
  });
});
