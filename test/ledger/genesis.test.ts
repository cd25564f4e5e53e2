import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ED25519_TORSION_SUBGROUP, ed25519 } from "@noble/curves/ed25519.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import {
  deriveTestAccounts, encodeGenesis, encodeUnsignedGenesis, genesisEntries, genesisPopChainId, genesisRegistry, genesisSupply, genesisToJson,
  genesisTxid, makeTestGenesis, parseGenesis, signGenesis, type Genesis,
} from "../../src/ledger/genesis.js";
import { verifyCollectiveSignature } from "../../src/consensus/cosi/codec.js";
import { popMessage, proveKeyPossession, verifyKeyPossession } from "../../src/consensus/registry.js";
import { SchnorrKey } from "../../src/crypto/schnorr.js";
import { genesisEpochContext } from "../../src/epoch/context.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { ENTRY_BYTES, unpackEntry } from "../../src/ledger/utxo-table.js";
import { signMessage } from "../../src/ledger/keys.js";
import { hex } from "./helpers.js";
import { codeOf } from "../support/errors.js";
import { readVectorFile } from "../support/vectors.js";
import { DEFAULT_POLICY } from "../../src/consensus/pob/policy.js";


const { genesis, accounts, validators } = makeTestGenesis({ seed: "genesis tests", shardCount: 4, accounts: 40, amount: 1_000_000n, outputsPerAccount: 2, validators: 3, stake: 500n, timestamp: 1234 });

describe("genesis", () => {
  it("round-trips through JSON and keeps its txid", () => {
    const json = genesisToJson(genesis);
    const parsed = parseGenesis(json);
    assert.deepEqual(parsed, genesis);
    assert.equal(hex(genesisTxid(parsed)), hex(nobleSha256(encodeGenesis(genesis))));
    assert.equal(genesisSupply(parsed), 80_000_000n);
    assert.equal(parsed.validators.length, 3);
    assert.equal(hex(parsed.validators[0]!.publicKey), hex(validators[0]!.publicKey));
  });

  it("any change of content changes the genesis txid", () => {
    const base = hex(genesisTxid(genesis));
    const variants = [
      { ...genesis, shardCount: 5 },
      { ...genesis, timestamp: 1235 },
      { ...genesis, validators: genesis.validators.slice(1) },
      { ...genesis, outputs: [...genesis.outputs.slice(0, -1), { ...genesis.outputs.at(-1)!, amount: 999_999n }] },
    ];
    for (const variant of variants) assert.notEqual(hex(genesisTxid(variant)), base);
  });

  it("splits the initial outputs among shards by owner, as outpoints (genesisTxid, i)", () => {
    const txid = genesisTxid(genesis);
    const seen = new Set<number>();
    let total = 0n;
    for (let shard = 0; shard < 4; shard++) {
      const packed = genesisEntries(genesis, shard);
      assert.equal(packed.length % ENTRY_BYTES, 0);
      for (let at = 0; at < packed.length; at += ENTRY_BYTES) {
        const entry = unpackEntry(packed, at);
        assert.equal(hex(entry.txid), hex(txid));
        assert.equal(shardOfOwner(entry.owner, 4), shard);
        assert.equal(hex(entry.owner), hex(genesis.outputs[entry.index]!.owner));
        seen.add(entry.index);
        total += entry.amount;
      }
    }
    assert.equal(seen.size, genesis.outputs.length);
    assert.equal(total, genesisSupply(genesis));
    assert.equal(codeOf(() => genesisEntries(genesis, 4)), "SHARD_BAD_INDEX");
  });

  it("derives deterministic test accounts whose keys agree with @noble/curves", () => {
    const again = deriveTestAccounts("genesis tests", 40);
    assert.deepEqual(again.map((a) => hex(a.publicKey)), accounts.map((a) => hex(a.publicKey)));
    assert.equal(new Set(accounts.map((a) => hex(a.secretKey))).size, 40);
    assert.notEqual(hex(deriveTestAccounts("other seed", 1)[0]!.publicKey), hex(accounts[0]!.publicKey));
    assert.deepEqual(deriveTestAccounts(new TextEncoder().encode("genesis tests"), 2).map((a) => hex(a.publicKey)), accounts.slice(0, 2).map((a) => hex(a.publicKey)));
    const message = new TextEncoder().encode("check");
    for (const account of accounts.slice(0, 5)) {
      assert.equal(hex(ed25519.getPublicKey(account.secretKey)), hex(account.publicKey));
      assert.equal(hex(signMessage(account.secretKey, message)), hex(ed25519.sign(message, account.secretKey)));
    }
    assert.equal(codeOf(() => deriveTestAccounts("x", -1)), "GENESIS_BAD_FIELD");
  });

  it("rejects every malformed file with a precise code", () => {
    const valid = JSON.parse(genesisToJson(genesis)) as Record<string, unknown>;
    const output0 = (valid.outputs as Record<string, unknown>[])[0]!;
    const validator0 = (valid.validators as Record<string, unknown>[])[0]!;
    const variant = (patch: Record<string, unknown>) => JSON.stringify({ ...valid, ...patch });
    const withOutput = (patch: Record<string, unknown>) => variant({ outputs: [{ ...output0, ...patch }] });
    const withValidator = (patch: Record<string, unknown>) => variant({ validators: [{ ...validator0, ...patch }] });
    const cases: [string, string][] = [
      ["GENESIS_BAD_JSON", "{"],
      ["GENESIS_BAD_FIELD", "[]"],
      ["GENESIS_UNKNOWN_FIELD", variant({ extra: 1 })],
      ["GENESIS_MISSING_FIELD", JSON.stringify({ ...valid, outputs: undefined })],
      ["GENESIS_BAD_FIELD", variant({ version: 2 })],
      ["GENESIS_BAD_FIELD", variant({ shardCount: 0 })],
      ["GENESIS_BAD_FIELD", variant({ shardCount: 1.5 })],
      ["GENESIS_BAD_FIELD", variant({ timestamp: -1 })],
      ["GENESIS_BAD_FIELD", variant({ validators: [] })],
      ["GENESIS_BAD_FIELD", variant({ outputs: {} })],
      ["GENESIS_BAD_FIELD", withOutput({ amount: "0" })],
      ["GENESIS_BAD_FIELD", withOutput({ amount: "01" })],
      ["GENESIS_BAD_FIELD", withOutput({ amount: "-5" })],
      ["GENESIS_BAD_FIELD", withOutput({ amount: 5 })],
      ["GENESIS_BAD_FIELD", withOutput({ amount: "18446744073709551616" })],
      ["GENESIS_BAD_FIELD", withOutput({ owner: (output0.owner as string).toUpperCase() })],
      ["GENESIS_BAD_FIELD", withOutput({ owner: "ab" })],
      ["GENESIS_UNKNOWN_FIELD", withOutput({ memo: "x" })],
      ["GENESIS_MISSING_FIELD", JSON.stringify({ ...valid, outputs: [{ owner: output0.owner }] })],
      ["GENESIS_BAD_FIELD", variant({ outputs: [7] })],
      ["GENESIS_BAD_FIELD", withValidator({ stake: "0" })],
      ["GENESIS_DUPLICATE_VALIDATOR", variant({ validators: [validator0, validator0] })],
      ["GENESIS_SUPPLY_OVERFLOW", variant({ outputs: [{ ...output0, amount: "18446744073709551615" }, output0] })],
    ];
    for (const [code, json] of cases) assert.equal(codeOf(() => parseGenesis(json)), code, json.slice(0, 120));
    assert.throws(() => parseGenesis(withOutput({ owner: "ab" })), /outputs\[0\]\.owner must be 64 lowercase hex digits/);
    assert.throws(() => parseGenesis(variant({ extra: 1 })), /genesis: unknown field "extra"/);
  });
});

describe("genesis PoB policy", () => {
  const pob = { believableLeagueSize: 2, normalLeagueSize: 5, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 2048 };
  const withPolicy = makeTestGenesis({ seed: "genesis tests", shardCount: 4, accounts: 40, amount: 1_000_000n, outputsPerAccount: 2, validators: 3, stake: 500n, timestamp: 1234, pob }).genesis;

  it("round-trips the optional policy and binds it into the txid; without one the encoding is unchanged", () => {
    const parsed = parseGenesis(genesisToJson(withPolicy));
    assert.deepEqual(parsed.pob, pob);
    assert.equal(hex(genesisTxid(parsed)), hex(genesisTxid(withPolicy)));
    assert.notEqual(hex(genesisTxid(withPolicy)), hex(genesisTxid(genesis)));
    assert.equal(encodeGenesis(withPolicy).length, encodeGenesis(genesis).length + 28);
    assert.equal(hex(encodeUnsignedGenesis(withPolicy).subarray(0, encodeUnsignedGenesis(genesis).length)), hex(encodeUnsignedGenesis(genesis)));
    assert.notEqual(hex(genesisTxid({ ...withPolicy, pob: { ...pob, samplingProbability: 0.2 } })), hex(genesisTxid(withPolicy)));
    assert.equal("pob" in parseGenesis(genesisToJson(genesis)), false);
  });

  it("refuses a policy with unknown, missing or non-numeric fields", () => {
    const json = JSON.parse(genesisToJson(withPolicy)) as { pob: Record<string, unknown> };
    const variant = (change: (p: Record<string, unknown>) => void): string => {
      const copy = structuredClone(json);
      change(copy.pob);
      return JSON.stringify(copy);
    };
    assert.equal(codeOf(() => parseGenesis(variant((p) => (p.extra = 1)))), "GENESIS_UNKNOWN_FIELD");
    assert.equal(codeOf(() => parseGenesis(variant((p) => delete p.samplingProbability))), "GENESIS_MISSING_FIELD");
    assert.equal(codeOf(() => parseGenesis(variant((p) => (p.normalLeagueSize = 2.5)))), "GENESIS_BAD_FIELD");
    assert.equal(codeOf(() => parseGenesis(variant((p) => (p.samplingProbability = "0.1")))), "GENESIS_BAD_FIELD");
    assert.equal(codeOf(() => parseGenesis(JSON.stringify({ ...json, pob: [] }))), "GENESIS_BAD_FIELD");
  });
});

describe("genesis epoch length", () => {
  const options = { seed: "genesis tests", shardCount: 4, accounts: 40, amount: 1_000_000n, outputsPerAccount: 2, validators: 3, stake: 500n, timestamp: 1234 };
  const timed = makeTestGenesis({ ...options, epochLength: 100 }).genesis;

  it("round-trips, appends one u32 to the encoding and commits the txid and the proofs to it", () => {
    const json = genesisToJson(timed);
    assert.equal((JSON.parse(json) as { epochLength: unknown }).epochLength, 100);
    const parsed = parseGenesis(json);
    assert.equal(parsed.epochLength, 100);
    assert.equal(hex(genesisTxid(parsed)), hex(genesisTxid(timed)));
    const plain = encodeGenesis(genesis);
    const encoded = encodeGenesis(timed);
    assert.equal(encoded.length, plain.length + 4);
    assert.equal(hex(encoded.subarray(plain.length)), "64000000", "u32le 100 after the outputs");
    assert.equal(hex(encodeUnsignedGenesis(timed).subarray(0, encodeUnsignedGenesis(genesis).length)), hex(encodeUnsignedGenesis(genesis)));
    assert.notEqual(hex(genesisPopChainId(timed)), hex(genesisPopChainId(genesis)), "the proofs of possession sign the epoch length");
    assert.notEqual(hex(genesisTxid({ ...timed, epochLength: 101 })), hex(genesisTxid(timed)));
    const both = makeTestGenesis({ ...options, epochLength: 100, pob: DEFAULT_POLICY }).genesis;
    assert.equal(encodeGenesis(both).length, plain.length + 28 + 4);
    assert.equal(parseGenesis(genesisToJson(both)).epochLength, 100);
    assert.deepEqual(parseGenesis(genesisToJson(both)).pob, DEFAULT_POLICY);
  });

  it("keeps genesis files written before it valid, with the same txid and JSON", () => {
    const vectors = readVectorFile<{ cases: { name: string; genesis: Record<string, unknown>; txid: string }[] }>("genesis-before-epoch-length.json");
    assert.equal(vectors.cases.length, 2);
    for (const { name, genesis: file, txid } of vectors.cases) {
      const parsed = parseGenesis(JSON.stringify(file));
      assert.equal("epochLength" in parsed, false, name);
      assert.equal(hex(genesisTxid(parsed)), txid, name);
      assert.deepEqual(JSON.parse(genesisToJson(parsed)), file, name);
    }
  });

  it("refuses an epoch length that is not an integer in 1..2^32 − 1, and one the proofs did not sign", () => {
    const valid = JSON.parse(genesisToJson(timed)) as Record<string, unknown>;
    for (const epochLength of [0, -1, 1.5, "100", null, 2 ** 32, true]) {
      assert.equal(codeOf(() => parseGenesis(JSON.stringify({ ...valid, epochLength }))), "GENESIS_BAD_FIELD", JSON.stringify(epochLength));
    }
    assert.equal(codeOf(() => genesisToJson({ ...timed, epochLength: 0 })), "GENESIS_BAD_FIELD");
    assert.equal(codeOf(() => parseGenesis(JSON.stringify({ ...valid, epochLength: 2 ** 32 - 1 }))), "REGISTRY_BAD_POP", "a valid length the validators did not sign");
    const { epochLength: _dropped, ...endless } = valid;
    assert.equal(codeOf(() => parseGenesis(JSON.stringify(endless))), "REGISTRY_BAD_POP", "the length removed after signing");
    const longest = makeTestGenesis({ ...options, epochLength: 2 ** 32 - 1 }).genesis;
    assert.equal(parseGenesis(genesisToJson(longest)).epochLength, 2 ** 32 - 1);
  });
});

describe("genesis proofs of possession", () => {
  const valid = JSON.parse(genesisToJson(genesis)) as { validators: Record<string, unknown>[] } & Record<string, unknown>;
  const withValidators = (validators: Record<string, unknown>[]): string => JSON.stringify({ ...valid, validators });
  const withValidator0 = (patch: Record<string, unknown>): string => withValidators([{ ...valid.validators[0]!, ...patch }, ...valid.validators.slice(1)]);
  const chainId = genesisPopChainId(genesis);

  it("carries one proof per validator, signed over the genesis without proofs, in JSON and in the txid", () => {
    genesis.validators.forEach((validator, i) => {
      assert.equal(valid.validators[i]!.pop, hex(validator.pop));
      assert.equal(hex(validator.pop), hex(proveKeyPossession(SchnorrKey.fromSeed(validators[i]!.secretKey), chainId)), "the PoP is the key's signature of popMessage(key, genesisPopChainId)");
    });
    assert.equal(hex(chainId), hex(nobleSha256(encodeUnsignedGenesis(genesis))));
    assert.equal(hex(genesisPopChainId({ ...genesis, validators: genesis.validators.map(({ publicKey, stake }) => ({ publicKey, stake })) })), hex(chainId), "the chain id ignores the proofs");
    const encoding = encodeGenesis(genesis);
    const firstPop = "IOSChain genesis v1".length + 4 + 8 + 4 + 32 + 8;
    assert.equal(hex(encoding.subarray(firstPop, firstPop + 64)), hex(genesis.validators[0]!.pop));
    assert.equal(genesisRegistry(genesis).size, 3);
  });

  it("refuses a missing, malformed, foreign or stale proof", () => {
    const { pop: _pop, ...withoutPop } = valid.validators[0]!;
    const otherChain = makeTestGenesis({ seed: "genesis tests", shardCount: 4, accounts: 40, amount: 1_000_000n, outputsPerAccount: 2, validators: 3, stake: 500n, timestamp: 1235 }).genesis;
    const cases: [string, string, string][] = [
      ["GENESIS_MISSING_FIELD", withValidators([withoutPop, ...valid.validators.slice(1)]), "no pop"],
      ["GENESIS_BAD_FIELD", withValidator0({ pop: "ab" }), "short pop"],
      ["GENESIS_BAD_FIELD", withValidator0({ pop: (valid.validators[0]!.pop as string).toUpperCase() }), "upper-case hex"],
      ["REGISTRY_BAD_POP", withValidator0({ pop: "00".repeat(64) }), "zero signature"],
      ["REGISTRY_BAD_POP", withValidator0({ pop: valid.validators[1]!.pop }), "another key's proof"],
      ["REGISTRY_BAD_POP", withValidator0({ pop: hex(otherChain.validators[0]!.pop) }), "the same key's proof for another chain id"],
      ["REGISTRY_BAD_POP", JSON.stringify({ ...valid, timestamp: 1235 }), "the genesis changed after signing"],
    ];
    for (const [code, json, why] of cases) assert.equal(codeOf(() => parseGenesis(json)), code, why);
    const stale: Genesis = { ...genesis, validators: genesis.validators.map((v, i) => ({ ...v, pop: otherChain.validators[i]!.pop })) };
    assert.equal(codeOf(() => genesisEpochContext(stale)), "REGISTRY_BAD_POP", "a genesis object is checked as a file is");
    assert.equal(codeOf(() => signGenesis(genesis, validators.slice(1))), "GENESIS_MISSING_KEY", "signing needs every validator's key");
  });

  it("refuses small-order and non-canonical validator keys", () => {
    assert.equal(ED25519_TORSION_SUBGROUP.length, 8);
    for (const torsion of ED25519_TORSION_SUBGROUP) {
      assert.equal(codeOf(() => parseGenesis(withValidator0({ publicKey: torsion }))), "REGISTRY_BAD_KEY", `torsion point ${torsion}`);
    }
    const yAboveP = "ee" + "ff".repeat(30) + "7f"; // y = p + 1 ≥ p
    const negativeZero = "01" + "00".repeat(30) + "80"; // the identity with the sign bit of x set
    for (const key of [yAboveP, negativeZero]) assert.equal(codeOf(() => parseGenesis(withValidator0({ publicKey: key }))), "REGISTRY_BAD_KEY", key);
    const mixed = ed25519.Point.fromBytes(validators[0]!.publicKey).add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]!)).toBytes();
    assert.equal(codeOf(() => parseGenesis(withValidator0({ publicKey: hex(mixed) }))), "REGISTRY_BAD_KEY", "a key with a small-order component");
  });

  it("keeps out a rogue key A' = X·B − ΣA_j that would sign for every validator alone", () => {
    const attacker = SchnorrKey.fromSeed(nobleSha256(new TextEncoder().encode("rogue")));
    const honest = genesis.validators.map((v) => ed25519.Point.fromBytes(v.publicKey));
    const rogueKey = honest.reduce((point, key) => point.subtract(key), ed25519.Point.fromBytes(attacker.publicKey)).toBytes();
    const keys = [...genesis.validators.map((v) => v.publicKey), rogueKey];
    const message = new TextEncoder().encode("block 1 of shard 0");
    const forged = { mask: Uint8Array.of(0b1111), signature: attacker.sign(message) };
    assert.ok(verifyCollectiveSignature(keys, message, forged, keys.length), "on raw keys the attacker alone forges the signature of all four");
    const unsigned = { ...genesis, validators: [...genesis.validators, { publicKey: rogueKey, stake: 500n }] };
    const rogueChainId = genesisPopChainId(unsigned);
    const honestProofs = validators.map((pair) => ({ publicKey: pair.publicKey, stake: 500n, pop: proveKeyPossession(SchnorrKey.fromSeed(pair.secretKey), rogueChainId) }));
    const attempt = attacker.sign(popMessage(rogueKey, rogueChainId));
    const rogue: Genesis = { ...genesis, validators: [...honestProofs, { publicKey: rogueKey, stake: 500n, pop: attempt }] };
    const refusal = new RegExp(`proof of possession of ${hex(rogueKey)} does not verify`);
    assert.throws(() => parseGenesis(genesisToJson(rogue)), refusal);
    assert.equal(codeOf(() => parseGenesis(genesisToJson(rogue))), "REGISTRY_BAD_POP");
    assert.throws(() => genesisEpochContext(rogue), refusal, "so it never becomes a shard member or CoSi participant");
    for (const { publicKey, pop } of honestProofs) assert.ok(verifyKeyPossession(publicKey, pop, rogueChainId), "only the rogue's proof fails");
  });
});
