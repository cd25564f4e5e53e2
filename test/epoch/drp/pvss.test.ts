/**
 * DRP cryptography (src/epoch/drp/dleq.ts, pvss.ts): Chaum–Pedersen proofs verify only for their
 * statement and context; Schoenmakers PVSS deals of (n, t) = (4,2), (7,3), (16,6), (10,10) verify,
 * decrypt and recover the dealer's secret from every sampled t-subset; fewer shares refuse; a
 * wrong encrypted share is named by index; wrong-key or tampered decryptions fail; every
 * single-byte change of an encoded deal is caught; encodings round-trip byte for byte and refuse
 * truncation, trailing bytes, non-canonical points and scalars ≥ ℓ. Deterministic (SeededRng).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { Fn, RistrettoPoint, proveDleq, randomScalar, verifyDleq } from "../../../src/epoch/drp/dleq.js";
import {
  COMMITMENT_GENERATOR,
  DECRYPTED_SHARE_BYTES,
  SHARE_GENERATOR,
  deal,
  checkDealFraming,
  decodeDeal,
  decodeDealShare,
  decodeDecryptedShare,
  decryptShare,
  encodeDeal,
  encodeDecryptedShare,
  recoverSecret,
  shareCommitment,
  verifyDecryptedShare,
  verifyEncryptedShare,
  verifyEncryptedShares,
  type Deal,
  type DecryptedShare,
} from "../../../src/epoch/drp/pvss.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { codeOf, NO_ERROR } from "../../support/errors.js";

const CONTEXT = new TextEncoder().encode("epoch 7 round 1");
const OTHER_CONTEXT = new TextEncoder().encode("epoch 7 round 2");
/** ℓ little-endian (RFC 9496 §4.1 / RFC 8032 §5.1). */
const L_BYTES = Uint8Array.from(Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex"));

interface Participants {
  readonly secretKeys: bigint[];
  readonly publicKeys: RistrettoPoint[];
}

function participants(rng: SeededRng, n: number): Participants {
  const secretKeys = Array.from({ length: n }, () => randomScalar(rng));
  return { secretKeys, publicKeys: secretKeys.map((x) => SHARE_GENERATOR.multiply(x)) };
}

function decryptAll(theDeal: Deal, people: Participants, rng: SeededRng): DecryptedShare[] {
  return theDeal.shares.map((share, position) => decryptShare(people.secretKeys[position]!, position + 1, share.point, rng, CONTEXT));
}

/** `count` distinct random subsets of size `size` from `items` (plus the first and last `size`). */
function sampleSubsets<T>(rng: SeededRng, items: readonly T[], size: number, count: number): T[][] {
  const subsets = [items.slice(0, size), items.slice(items.length - size)];
  for (let k = 0; k < count; k++) {
    const pool = [...items];
    for (let i = pool.length - 1; i > 0; i--) {
      const j = rng.nextU32() % (i + 1);
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    subsets.push(pool.slice(0, size));
  }
  return subsets;
}

describe("DLEQ proofs", () => {
  const rng = SeededRng.fromSeed("drp/dleq");
  const x = randomScalar(rng);
  const g1 = SHARE_GENERATOR;
  const g2 = COMMITMENT_GENERATOR.multiply(randomScalar(rng));
  const h1 = g1.multiply(x);
  const h2 = g2.multiply(x);

  it("a proof of a true statement verifies, and fails for other points, contexts or a changed scalar", () => {
    const proof = proveDleq(x, g1, h1, g2, h2, rng, CONTEXT);
    assert.equal(verifyDleq(proof, g1, h1, g2, h2, CONTEXT), true);
    assert.equal(verifyDleq(proof, g1, h1, g2, h2, OTHER_CONTEXT), false);
    assert.equal(verifyDleq(proof, g1, h1, g2, h2.add(SHARE_GENERATOR), CONTEXT), false);
    assert.equal(verifyDleq(proof, g1, h1.add(SHARE_GENERATOR), g2, h2, CONTEXT), false);
    assert.equal(verifyDleq(proof, g2, h2, g1, h1, CONTEXT), false);
    assert.equal(verifyDleq({ challenge: proof.challenge, response: Fn.add(proof.response, 1n) }, g1, h1, g2, h2, CONTEXT), false);
    assert.equal(verifyDleq({ challenge: Fn.add(proof.challenge, 1n), response: proof.response }, g1, h1, g2, h2, CONTEXT), false);
    assert.equal(verifyDleq({ challenge: proof.challenge, response: Fn.ORDER }, g1, h1, g2, h2, CONTEXT), false);
  });

  it("a proof for unequal logarithms does not verify", () => {
    const y = Fn.add(x, 1n);
    const proof = proveDleq(x, g1, h1, g2, g2.multiply(y), rng, CONTEXT);
    assert.equal(verifyDleq(proof, g1, h1, g2, g2.multiply(y), CONTEXT), false);
  });
});

for (const [n, t] of [
  [4, 2],
  [7, 3],
  [16, 6],
  [10, 10],
] as const) {
  describe(`PVSS (n, t) = (${n}, ${t})`, () => {
    const rng = SeededRng.fromSeed(`drp/pvss/${n}/${t}`);
    const people = participants(rng.fork("keys"), n);
    const { deal: theDeal, secret } = deal(rng.fork("dealer"), people.publicKeys, t, CONTEXT);
    const decrypted = decryptAll(theDeal, people, rng.fork("decrypt"));

    it("the deal has t commitments with C_0 hiding the secret, and every encrypted share verifies", () => {
      assert.equal(theDeal.commitments.length, t);
      assert.equal(theDeal.shares.length, n);
      assert.equal(theDeal.commitments[0]!.equals(secret), false);
      assert.deepEqual(verifyEncryptedShares(theDeal, people.publicKeys, CONTEXT), []);
      assert.deepEqual(verifyEncryptedShares(theDeal, people.publicKeys, OTHER_CONTEXT), Array.from({ length: n }, (_, i) => i + 1));
    });

    it("every decrypted share verifies against its key and encrypted share, under its context only", () => {
      decrypted.forEach((share, position) => {
        assert.equal(share.index, position + 1);
        assert.equal(verifyDecryptedShare(share, people.publicKeys[position]!, theDeal.shares[position]!.point, CONTEXT), true);
        assert.equal(verifyDecryptedShare(share, people.publicKeys[position]!, theDeal.shares[position]!.point, OTHER_CONTEXT), false);
      });
    });

    it("every sampled t-subset recovers the dealer's secret; t − 1 shares are too few", () => {
      for (const subset of sampleSubsets(rng.fork("subsets"), decrypted, t, 8)) {
        assert.ok(recoverSecret(subset, t).equals(secret), `subset ${subset.map((s) => s.index).join(",")}`);
      }
      assert.equal(codeOf(() => recoverSecret(decrypted.slice(0, t - 1), t)), "DRP_TOO_FEW_SHARES");
      if (t > 1) assert.equal(recoverSecret(decrypted.slice(0, t - 1), t - 1).equals(secret), false);
    });

    it("a replaced encrypted share is reported by its index only", () => {
      const bad = Math.floor(n / 2);
      const shares = theDeal.shares.map((share, position) =>
        position === bad ? { point: share.point.add(SHARE_GENERATOR), proof: share.proof } : share,
      );
      assert.deepEqual(verifyEncryptedShares({ ...theDeal, shares }, people.publicKeys, CONTEXT), [bad + 1]);
    });

    it("a trustee's part (decodeDealShare) is its share and the commitments, and verifies as the whole deal says", () => {
      const bad = Math.floor(n / 2);
      const shares = theDeal.shares.map((share, position) => (position === bad ? { ...share, point: share.point.add(SHARE_GENERATOR) } : share));
      const bytes = encodeDeal({ ...theDeal, shares });
      for (let index = 1; index <= n; index++) {
        const part = decodeDealShare(bytes, index);
        assert.deepEqual([part.shareCount, part.threshold, part.index], [n, t, index]);
        assert.ok(part.commitments.every((commitment, j) => commitment.equals(theDeal.commitments[j]!)));
        assert.ok(part.share.point.equals(shares[index - 1]!.point));
        assert.equal(verifyEncryptedShare(part, people.publicKeys[index - 1]!, CONTEXT), index !== bad + 1, `share ${index}`);
        assert.equal(verifyEncryptedShare(part, people.publicKeys[index - 1]!, OTHER_CONTEXT), false);
      }
      assert.equal(codeOf(() => decodeDealShare(bytes, n + 1)), "DRP_MALFORMED");
      assert.equal(codeOf(() => decodeDealShare(bytes, 0)), "DRP_MALFORMED");
      assert.equal(codeOf(() => decodeDealShare(bytes.subarray(0, bytes.length - 1), 1)), "DRP_MALFORMED");
      assert.equal(codeOf(() => checkDealFraming(bytes)), NO_ERROR);
      assert.equal(codeOf(() => checkDealFraming(Uint8Array.of(...bytes, 0))), "DRP_MALFORMED");
    });
  });
}

describe("PVSS decrypted shares and recovery arguments", () => {
  const rng = SeededRng.fromSeed("drp/pvss/shares");
  const people = participants(rng.fork("keys"), 5);
  const { deal: theDeal, secret } = deal(rng.fork("dealer"), people.publicKeys, 3, CONTEXT);
  const decrypted = decryptAll(theDeal, people, rng.fork("decrypt"));

  it("a share decrypted with the wrong key fails, as does one with its point or proof changed", () => {
    const encrypted = theDeal.shares[0]!.point;
    const wrongKey = decryptShare(people.secretKeys[1]!, 1, encrypted, rng, CONTEXT);
    assert.equal(verifyDecryptedShare(wrongKey, people.publicKeys[0]!, encrypted, CONTEXT), false);
    const good = decrypted[0]!;
    const movedPoint = { ...good, point: good.point.add(SHARE_GENERATOR) };
    assert.equal(verifyDecryptedShare(movedPoint, people.publicKeys[0]!, encrypted, CONTEXT), false);
    const movedProof = { ...good, proof: { challenge: good.proof.challenge, response: Fn.sub(good.proof.response, 1n) } };
    assert.equal(verifyDecryptedShare(movedProof, people.publicKeys[0]!, encrypted, CONTEXT), false);
    assert.equal(verifyDecryptedShare(good, people.publicKeys[1]!, encrypted, CONTEXT), false);
    assert.equal(verifyDecryptedShare(good, people.publicKeys[0]!, theDeal.shares[1]!.point, CONTEXT), false);
  });

  it("recovery uses the first t shares, refuses repeated indexes and bad thresholds", () => {
    assert.ok(recoverSecret([decrypted[4]!, decrypted[2]!, decrypted[0]!, { index: 2, point: SHARE_GENERATOR }], 3).equals(secret));
    assert.equal(codeOf(() => recoverSecret([decrypted[0]!, decrypted[0]!, decrypted[1]!], 3)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => recoverSecret(decrypted, 0)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => recoverSecret([{ index: 0, point: SHARE_GENERATOR }, ...decrypted], 3)), "DRP_BAD_ARGUMENT");
  });

  it("deal and decryption refuse arguments out of range", () => {
    assert.equal(codeOf(() => deal(rng, people.publicKeys, 0, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => deal(rng, people.publicKeys, 6, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => deal(rng, [...people.publicKeys, RistrettoPoint.ZERO], 3, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => deal(rng, [], 1, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => decryptShare(0n, 1, theDeal.shares[0]!.point, rng, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => decryptShare(people.secretKeys[0]!, 0, theDeal.shares[0]!.point, rng, CONTEXT)), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => verifyEncryptedShares(theDeal, people.publicKeys.slice(1), CONTEXT)), "DRP_BAD_ARGUMENT");
  });

  it("X_i evaluated from the commitments interpolates back to C_0, and differs between deals", () => {
    const evaluated = [2, 4, 5].map((index) => ({ index, point: shareCommitment(theDeal.commitments, index) }));
    assert.ok(recoverSecret(evaluated, 3).equals(theDeal.commitments[0]!));
    const other = deal(rng.fork("other dealer"), people.publicKeys, 3, CONTEXT).deal;
    assert.equal(shareCommitment(theDeal.commitments, 1).equals(shareCommitment(other.commitments, 1)), false);
  });
});

describe("PVSS encodings", () => {
  const rng = SeededRng.fromSeed("drp/pvss/codec");
  const people = participants(rng.fork("keys"), 4);
  const { deal: theDeal } = deal(rng.fork("dealer"), people.publicKeys, 2, CONTEXT);
  const encoded = encodeDeal(theDeal);
  const decrypted = decryptAll(theDeal, people, rng.fork("decrypt"));

  it("a deal is 4 + 32·t + 96·n bytes and round-trips byte for byte, decoding to a deal that verifies", () => {
    assert.equal(encoded.length, 4 + 32 * 2 + 96 * 4);
    const decoded = decodeDeal(encoded);
    assert.deepEqual(encodeDeal(decoded), encoded);
    assert.deepEqual(verifyEncryptedShares(decoded, people.publicKeys, CONTEXT), []);
    assert.ok(decoded.commitments.every((c, j) => c.equals(theDeal.commitments[j]!)));
  });

  it("a decrypted share is 98 bytes and round-trips byte for byte", () => {
    for (const share of decrypted) {
      const bytes = encodeDecryptedShare(share);
      assert.equal(bytes.length, DECRYPTED_SHARE_BYTES);
      const decoded = decodeDecryptedShare(bytes);
      assert.equal(decoded.index, share.index);
      assert.deepEqual(encodeDecryptedShare(decoded), bytes);
      assert.equal(verifyDecryptedShare(decoded, people.publicKeys[share.index - 1]!, theDeal.shares[share.index - 1]!.point, CONTEXT), true);
    }
  });

  it("every single-byte change of an encoded deal fails decoding with DRP_MALFORMED or fails verification", () => {
    let refusedByDecoder = 0;
    for (let at = 0; at < encoded.length; at++) {
      const changed = Uint8Array.from(encoded);
      changed[at] = changed[at]! ^ 0x01;
      let decoded: Deal | undefined;
      const code = codeOf(() => (decoded = decodeDeal(changed)));
      if (code !== NO_ERROR) {
        assert.equal(code, "DRP_MALFORMED", `byte ${at}`);
        refusedByDecoder++;
        continue;
      }
      assert.notDeepEqual(verifyEncryptedShares(decoded!, people.publicKeys, CONTEXT), [], `byte ${at}`);
    }
    // Header bytes and many point flips are refused by the decoder; the rest reach verification.
    assert.ok(refusedByDecoder >= 4 && refusedByDecoder < encoded.length, `${refusedByDecoder} refused`);
  });

  it("a truncated, extended, non-canonical or out-of-range deal is DRP_MALFORMED", () => {
    assert.equal(codeOf(() => decodeDeal(encoded.subarray(0, encoded.length - 1))), "DRP_MALFORMED");
    assert.equal(codeOf(() => decodeDeal(new Uint8Array([...encoded, 0]))), "DRP_MALFORMED");
    assert.equal(codeOf(() => decodeDeal(encoded.subarray(0, 3))), "DRP_MALFORMED");
    const zeroThreshold = Uint8Array.from(encoded);
    zeroThreshold[2] = 0;
    assert.equal(codeOf(() => decodeDeal(zeroThreshold)), "DRP_MALFORMED");
    // A field element ≥ p is not a canonical ristretto255 encoding (RFC 9496 §4.3.1).
    const badPoint = Uint8Array.from(encoded);
    badPoint.fill(0xff, 4, 4 + 32);
    assert.equal(codeOf(() => decodeDeal(badPoint)), "DRP_MALFORMED");
    // The first proof's challenge set to ℓ itself: a scalar encoding ≥ ℓ.
    const bigScalar = Uint8Array.from(encoded);
    const challengeAt = 4 + 32 * 2 + 32;
    bigScalar.set(L_BYTES, challengeAt);
    assert.equal(bytesToNumberLE(bigScalar.subarray(challengeAt, challengeAt + 32)), Fn.ORDER);
    assert.equal(codeOf(() => decodeDeal(bigScalar)), "DRP_MALFORMED");
  });

  it("a decrypted share with index 0, a bad point, a scalar ≥ ℓ or the wrong length is DRP_MALFORMED", () => {
    const bytes = encodeDecryptedShare(decrypted[0]!);
    const zeroIndex = Uint8Array.from(bytes);
    zeroIndex[0] = 0;
    assert.equal(codeOf(() => decodeDecryptedShare(zeroIndex)), "DRP_MALFORMED");
    const badPoint = Uint8Array.from(bytes);
    badPoint.fill(0xff, 2, 2 + 32);
    assert.equal(codeOf(() => decodeDecryptedShare(badPoint)), "DRP_MALFORMED");
    const bigScalar = Uint8Array.from(bytes);
    bigScalar.set(L_BYTES, 2 + 32 + 32);
    assert.equal(codeOf(() => decodeDecryptedShare(bigScalar)), "DRP_MALFORMED");
    assert.equal(codeOf(() => decodeDecryptedShare(bytes.subarray(1))), "DRP_MALFORMED");
    assert.equal(codeOf(() => decodeDecryptedShare(new Uint8Array([...bytes, 0]))), "DRP_MALFORMED");
  });

  it("a decrypted share's every single-byte change fails decoding or verification", () => {
    const bytes = encodeDecryptedShare(decrypted[1]!);
    for (let at = 0; at < bytes.length; at++) {
      const changed = Uint8Array.from(bytes);
      changed[at] = changed[at]! ^ 0x80;
      let decoded: DecryptedShare | undefined;
      const code = codeOf(() => (decoded = decodeDecryptedShare(changed)));
      if (code !== NO_ERROR) {
        assert.equal(code, "DRP_MALFORMED", `byte ${at}`);
        continue;
      }
      const index = decoded!.index;
      const valid = index === 2 && verifyDecryptedShare(decoded!, people.publicKeys[1]!, theDeal.shares[1]!.point, CONTEXT);
      assert.equal(valid, false, `byte ${at}`);
    }
  });
});
