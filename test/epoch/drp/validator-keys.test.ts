/**
 * Validators' DRP keys (src/epoch/drp/validator-keys.ts): the Ed25519 key read as ristretto255
 * is the PVSS key of the Ed25519 secret scalar, on random keys; a whole DRP run between
 * validator keys recovers a Z its transcript verifies to; keys outside the prime-order group are
 * refused.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { makeConfig } from "../../../src/epoch/drp/config.js";
import { RistrettoPoint } from "../../../src/epoch/drp/dleq.js";
import { verifyTranscript } from "../../../src/epoch/drp/transcript.js";
import { validatorServerKeys, validatorServerSecrets } from "../../../src/epoch/drp/validator-keys.js";
import { keyPairFromSecret } from "../../../src/ledger/keys.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { codeOf } from "../../support/errors.js";
import { proveKeyPossession } from "../../../src/consensus/registry.js";
import { SchnorrKey } from "../../../src/crypto/schnorr.js";
import { runSession } from "./harness.js";

describe("validators' DRP keys", () => {
  it("the PVSS key is the Ed25519 key as a ristretto255 element, and is the Ed25519 secret scalar times G (200 random keys)", () => {
    const rng = SeededRng.fromSeed("drp validator keys");
    for (let i = 0; i < 200; i++) {
      const seed = rng.bytes(32);
      const { publicKey } = keyPairFromSecret(seed);
      const keys = validatorServerKeys(publicKey, new Uint8Array(64));
      const { pvssSecret, signingSeed } = validatorServerSecrets(seed);
      assert.deepEqual(keys.signingKey, publicKey);
      assert.deepEqual(signingSeed, seed);
      assert.ok(keys.pvssKey.equals(RistrettoPoint.BASE.multiply(pvssSecret)), `key ${i}`);
    }
  });

  it("a DRP run between validator keys ends with a Z its transcript verifies to", () => {
    const rng = SeededRng.fromSeed("drp validator run");
    const seeds = Array.from({ length: 7 }, () => rng.bytes(32));
    const clientSecret = rng.bytes(32);
    const chainId = rng.bytes(32);
    const config = makeConfig({
      chainId,
      servers: seeds.map((seed) => {
        const { publicKey } = keyPairFromSecret(seed);
        return validatorServerKeys(publicKey, proveKeyPossession(SchnorrKey.fromSeed(seed), chainId));
      }),
      clientKey: keyPairFromSecret(clientSecret).publicKey, groupCount: 2, groupingSeed: rng.bytes(32), purpose: "validator keys", timestamp: 1_700_000_000_000,
    });
    const client = runSession({ config, clientSecret, serverSecrets: seeds.map(validatorServerSecrets), serverSeeds: seeds.map((_, i) => `validator run/${i}`), label: "validator run" });
    assert.ok(verifyTranscript(client.transcript()).z.equals(client.output().z));
  });

  it("refuses a key that is no point, the identity, or a point with a torsion component", () => {
    const eightTorsion = ed25519.Point.fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    const mixed = ed25519.Point.BASE.add(eightTorsion).toBytes();
    const notAPoint = Uint8Array.from({ length: 32 }, () => 0xff);
    for (const key of [notAPoint, ed25519.Point.ZERO.toBytes(), mixed]) assert.equal(codeOf(() => validatorServerKeys(key, new Uint8Array(64))), "DRP_BAD_ARGUMENT");
  });
});
