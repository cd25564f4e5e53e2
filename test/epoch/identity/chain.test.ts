/**
 * The identity chain (src/epoch/identity): configurations of epochs 1..3 built with real
 * validator keys, real proofs of possession, real ECVRF lotteries and real CoSi multisignatures
 * of the previous epoch's validators, verified from the genesis alone; then everything a
 * byzantine leader or relay could hand over instead — every single-byte flip, each wrong field
 * properly signed, too few signers, signers of another epoch, a configuration of another chain.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cosiThreshold } from "../../../src/consensus/cosi/codec.js";
import { vrfProve } from "../../../src/crypto/vrf.js";
import { genesisEpochContext } from "../../../src/epoch/context.js";
import {
  decodeIdentityConfiguration,
  encodeIdentityConfiguration,
  identityConfigurationHash,
  nextIdentityConfiguration,
} from "../../../src/epoch/identity/configuration.js";
import { lotteryInput } from "../../../src/epoch/election/lottery.js";
import type { IdentityValidator } from "../../../src/epoch/identity/interface.js";
import { decodeIdentityChain, encodeIdentityChain, identityCertificateMessage, verifyEpochLink, verifyIdentityChain } from "../../../src/epoch/identity/link.js";
import type { EpochContext } from "../../../src/epoch/interface.js";
import { toHex } from "../../../src/hex.js";
import { genesisTxid, makeTestGenesis } from "../../../src/ledger/genesis.js";
import { NO_ERROR, codeOf } from "../../support/errors.js";
import {
  L,
  POLICY,
  base,
  buildLink,
  continuing,
  defaultSigners,
  genesis,
  genesisKeys,
  otherChain,
  registered,
  registrants,
  rng,
  secretOf,
  verifier,
  type LinkOptions,
} from "../../support/identity-chain.js";

// Epoch 1: the genesis's 7 and registrant 0; epoch 2: one genesis validator leaves, registrants 1 and 2 join; epoch 3: registrant 3 joins.
const context0 = genesisEpochContext(genesis);
const set1 = [...context0.validators.map((v) => continuing(context0, v.publicKey)), registered(0)];
const link1 = buildLink(context0, set1);
const context1 = verifyEpochLink(context0, link1.configuration, link1.certificate);
const leaver = toHex(genesisKeys[2]!.publicKey);
const set2 = [...context1.validators.filter((v) => toHex(v.publicKey) !== leaver).map((v) => continuing(context1, v.publicKey)), registered(1), registered(2)];
const link2 = buildLink(context1, set2);
const context2 = verifyEpochLink(context1, link2.configuration, link2.certificate);
const set3 = [...context2.validators.map((v) => continuing(context2, v.publicKey)), registered(3)];
const link3 = buildLink(context2, set3);
const links = [link1, link2, link3];

/** The code verifying link 2 (after epoch 1) fails with, when built with `options`. */
function link2Code(options: LinkOptions, set: readonly IdentityValidator[] = set2, previous: EpochContext = context1): string {
  const link = buildLink(previous, set, options);
  return codeOf(() => verifyEpochLink(previous, link.configuration, link.certificate, verifier));
}

describe("identity chain", () => {
  it("verifies epochs 1..3 from the genesis: validators, registrations, leavers, randomness, heights and hashes", () => {
    const contexts = verifyIdentityChain(genesis, links, verifier);
    assert.equal(contexts.length, 4);
    assert.deepEqual(contexts[0]!.configurationHash, genesisTxid(genesis), "epoch 1 follows the chain id");
    const sets = [context0.validators, set1, set2, set3];
    for (let e = 1; e <= 3; e++) {
      const context = contexts[e]!;
      const link = links[e - 1]!;
      assert.deepEqual([context.epoch, context.startHeight, context.epochLength, context.shardCount], [e, e * L, L, 2]);
      assert.deepEqual(context.chain, genesisTxid(genesis));
      assert.deepEqual(context.configurationHash, identityConfigurationHash(link.configuration));
      assert.deepEqual(link.value.previous, contexts[e - 1]!.configurationHash);
      assert.deepEqual(context.randomness, link.value.randomness);
      assert.deepEqual(context.policy, POLICY);
      const expected = sets[e]!.map((v) => toHex(v.publicKey)).sort();
      assert.deepEqual(context.validators.map((v) => toHex(v.publicKey)), expected, `epoch ${e}: the set, in key order`);
      for (const v of sets[e]!) {
        assert.equal(context.stakeOf(v.publicKey), v.stake);
        assert.deepEqual(context.bondOf(v.publicKey)!.outpoint, v.bond);
        assert.ok(context.registry.has(toHex(v.publicKey)), "admitted with its proof of possession");
        assert.notEqual(context.shardOf(v.publicKey), undefined, "assigned to a shard");
      }
      assert.equal(context.registry.size, expected.length);
      assert.equal([0, 1].flatMap((shard) => context.members(shard)).length, expected.length);
    }
    assert.equal(contexts[2]!.shardOf(genesisKeys[2]!.publicKey), undefined, "the leaver is gone from epoch 2");
    assert.notEqual(contexts[1]!.shardOf(registrants[0]!.publicKey), undefined, "registrant 0 serves from epoch 1");
    const signer = contexts[1]!.validators.findIndex((v) => toHex(v.publicKey) === toHex(registrants[0]!.publicKey));
    assert.ok(defaultSigners(contexts[1]!).includes(signer), "registrant 0 co-signs epoch 2");
  });

  it("has one canonical encoding: decode and re-encode give the same bytes, for the chain as for each configuration", () => {
    for (const link of links) {
      const decoded = decodeIdentityConfiguration(link.configuration);
      assert.deepEqual(decoded, link.value);
      assert.deepEqual(encodeIdentityConfiguration(decoded), link.configuration);
    }
    const chain = encodeIdentityChain(links);
    const decoded = decodeIdentityChain(chain);
    assert.deepEqual(decoded, links.map(({ configuration, certificate }) => ({ configuration, certificate })));
    assert.deepEqual(encodeIdentityChain(decoded), chain);
    assert.equal(verifyIdentityChain(genesis, decoded, verifier).at(-1)!.epoch, 3);
    assert.deepEqual(decodeIdentityChain(encodeIdentityChain([])), []);
  });

  it("refuses every single-byte flip of a configuration or of its certificate", () => {
    const codes = new Map<string, number>();
    for (const [part, bytes] of [["configuration", link2.configuration], ["certificate", link2.certificate]] as const) {
      for (let i = 0; i < bytes.length; i++) {
        for (const flip of [0x01, 0x80]) {
          const bad = Uint8Array.from(bytes);
          bad[i] = bad[i]! ^ flip;
          const code = part === "configuration" ? codeOf(() => verifyEpochLink(context1, bad, link2.certificate, verifier)) : codeOf(() => verifyEpochLink(context1, link2.configuration, bad, verifier));
          assert.notEqual(code, NO_ERROR, `${part} byte ${i} ^ ${flip}`);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }
    }
    for (const code of ["IDENTITY_BAD_SIGNATURE", "IDENTITY_TOO_FEW_SIGNERS", "COSI_BAD_SIGNATURE_ENCODING", "IDENTITY_WRONG_CHAIN", "IDENTITY_WRONG_EPOCH", "IDENTITY_UNKNOWN_VERSION", "IDENTITY_OUT_OF_RANGE"]) {
      assert.ok(codes.has(code), `some flip is refused with ${code}: ${JSON.stringify([...codes])}`);
    }
    assert.equal(codeOf(() => verifyEpochLink(context1, link2.configuration, link2.certificate, verifier)), NO_ERROR, "the unflipped link still verifies");
  });

  it("refuses a properly signed configuration whose chain, epoch, previous hash, length, shards or boundaries are wrong", () => {
    const other = rng.bytes(32);
    assert.equal(link2Code({ change: (c) => ({ ...c, chain: other }) }), "IDENTITY_WRONG_CHAIN");
    assert.equal(link2Code({ change: (c) => ({ ...c, epoch: 3 }) }), "IDENTITY_WRONG_EPOCH");
    assert.equal(codeOf(() => verifyEpochLink(context0, link2.configuration, link2.certificate, verifier)), "IDENTITY_WRONG_EPOCH", "epoch 2 straight after the genesis");
    assert.equal(codeOf(() => verifyEpochLink(context1, link1.configuration, link1.certificate, verifier)), "IDENTITY_WRONG_EPOCH", "epoch 1 replayed after itself");
    assert.equal(link2Code({ change: (c) => ({ ...c, previous: other }) }), "IDENTITY_WRONG_PREVIOUS");
    assert.equal(link2Code({ change: (c) => ({ ...c, previous: context0.configurationHash }) }), "IDENTITY_WRONG_PREVIOUS", "naming epoch 0 as its previous");
    assert.equal(link2Code({ change: (c) => ({ ...c, epochLength: L + 1, boundaries: c.boundaries.map((b) => ({ ...b, height: 2 * (L + 1) })) }) }), "IDENTITY_WRONG_EPOCH_LENGTH");
    assert.equal(link2Code({ change: (c) => ({ ...c, shardCount: 3, boundaries: [...c.boundaries, c.boundaries[0]!] }) }), "IDENTITY_WRONG_SHARD_COUNT");
    assert.equal(link2Code({ change: (c) => ({ ...c, boundaries: c.boundaries.slice(1) }) }), "IDENTITY_WRONG_BOUNDARIES");
    assert.equal(link2Code({ change: (c) => ({ ...c, boundaries: [...c.boundaries, c.boundaries[0]!] }) }), "IDENTITY_WRONG_BOUNDARIES");
    for (const height of [2 * L - 1, 2 * L + 1, L, 0]) {
      assert.equal(link2Code({ change: (c) => ({ ...c, boundaries: [c.boundaries[0]!, { ...c.boundaries[1]!, height }] }) }), "IDENTITY_WRONG_HEIGHT", `height ${height}`);
    }
  });

  it("refuses a configuration signed for another chain, and a link after a genesis without epochs", () => {
    const foreign0 = genesisEpochContext(otherChain);
    const foreign = buildLink(foreign0, foreign0.validators.map((v) => continuing(foreign0, v.publicKey)));
    assert.equal(codeOf(() => verifyEpochLink(foreign0, foreign.configuration, foreign.certificate, verifier).epoch), NO_ERROR, "valid on its own chain, by the same keys");
    assert.equal(codeOf(() => verifyEpochLink(context0, foreign.configuration, foreign.certificate, verifier)), "IDENTITY_WRONG_CHAIN");
    assert.equal(codeOf(() => verifyEpochLink(context0, link1.configuration, foreign.certificate, verifier)), "IDENTITY_BAD_SIGNATURE", "the other chain's certificate on this chain's configuration");
    const signedForOther = buildLink(context0, set1, { message: (hash, c) => identityCertificateMessage(genesisTxid(otherChain), c.epoch, hash) });
    assert.equal(codeOf(() => verifyEpochLink(context0, signedForOther.configuration, signedForOther.certificate, verifier)), "IDENTITY_BAD_SIGNATURE", "signed over another chain id");
    const signedForOtherEpoch = buildLink(context0, set1, { message: (hash) => identityCertificateMessage(genesisTxid(genesis), 2, hash) });
    assert.equal(codeOf(() => verifyEpochLink(context0, signedForOtherEpoch.configuration, signedForOtherEpoch.certificate, verifier)), "IDENTITY_BAD_SIGNATURE", "signed for another epoch");
    const signedOtherHash = buildLink(context0, set1, { message: () => identityCertificateMessage(genesisTxid(genesis), 1, identityConfigurationHash(link1.configuration)) });
    assert.equal(codeOf(() => verifyEpochLink(context0, signedOtherHash.configuration, signedOtherHash.certificate, verifier)), "IDENTITY_BAD_SIGNATURE", "a certificate of another configuration");
    const endless = genesisEpochContext(makeTestGenesis({ ...base, epochLength: undefined }).genesis);
    assert.equal(codeOf(() => verifyEpochLink(endless, link1.configuration, link1.certificate, verifier)), "IDENTITY_ENDLESS_EPOCH");
    assert.equal(codeOf(() => nextIdentityConfiguration(endless, link1.value)), "IDENTITY_ENDLESS_EPOCH");
  });

  it("counts signers: ⌊2n/3⌋ + 1 of the previous epoch's n, each of them and only them", () => {
    const n = context1.validators.length;
    assert.equal(cosiThreshold(n), Math.floor((2 * n) / 3) + 1, "CoSi's threshold is ⌊2n/3⌋ + 1");
    const enough = defaultSigners(context1);
    assert.equal(link2Code({ signers: enough }), NO_ERROR);
    assert.equal(link2Code({ signers: enough.slice(1) }), "IDENTITY_TOO_FEW_SIGNERS");
    assert.equal(link2Code({ signers: enough.slice(0, 1) }), "IDENTITY_TOO_FEW_SIGNERS");
    assert.equal(link2Code({ signers: [...Array(n).keys()] }), NO_ERROR, "all of them");
    // A mask that claims one more signer than signed: the aggregate key is wrong.
    const link = buildLink(context1, set2, { signers: enough.slice(1) });
    const certificate = Uint8Array.from(link.certificate);
    const missing = enough[0]!;
    certificate[2 + (missing >> 3)] = certificate[2 + (missing >> 3)]! | (1 << (missing & 7));
    assert.equal(codeOf(() => verifyEpochLink(context1, link.configuration, certificate, verifier)), "IDENTITY_BAD_SIGNATURE");
  });

  it("refuses signers of another epoch", () => {
    // Epoch 1's committee (8, with the leaver) signs epoch 3, which epoch 2's 9 must sign.
    const byEpoch1 = buildLink(context2, set3, { committee: context1.validators.map((v) => v.publicKey), signers: defaultSigners(context1) });
    assert.equal(codeOf(() => verifyEpochLink(context2, byEpoch1.configuration, byEpoch1.certificate, verifier)), "IDENTITY_UNKNOWN_SIGNER");
    // A registrant of epoch 2 signs epoch 2 in a leaver's place: the mask's size is right, its keys are not.
    const impostor = context1.validators.map((v) => (toHex(v.publicKey) === leaver ? registrants[1]!.publicKey : v.publicKey));
    const leaverIndex = context1.validators.findIndex((v) => toHex(v.publicKey) === leaver);
    const withImpostor = [leaverIndex, ...defaultSigners(context1).filter((i) => i !== leaverIndex)].slice(0, cosiThreshold(impostor.length));
    assert.equal(link2Code({ committee: impostor, signers: withImpostor }), "IDENTITY_BAD_SIGNATURE");
    // One signer past the committee: a mask over n + 1.
    const wider = [...context1.validators.map((v) => v.publicKey), registrants[1]!.publicKey];
    assert.equal(link2Code({ committee: wider, signers: [context1.validators.length, ...defaultSigners(context1)] }), "IDENTITY_UNKNOWN_SIGNER");
    // Epoch 0's committee (7) signing epoch 2.
    assert.equal(link2Code({ committee: context0.validators.map((v) => v.publicKey), signers: defaultSigners(context0) }), "IDENTITY_UNKNOWN_SIGNER");
  });

  it("checks the leader's lottery: a validator of the previous epoch, its own ECVRF proof, for this view and chain", () => {
    assert.equal(link2Code({ view: 3, winner: 4 }), NO_ERROR, "a later view");
    assert.equal(link2Code({ change: (c) => ({ ...c, lottery: { ...c.lottery, leader: context1.validators.length } }) }), "IDENTITY_BAD_LOTTERY", "no such validator");
    assert.equal(link2Code({ change: (c) => ({ ...c, lottery: { ...c.lottery, leader: 2 } }) }), "IDENTITY_BAD_LOTTERY", "another validator's proof");
    assert.equal(link2Code({ change: (c) => ({ ...c, lottery: { ...c.lottery, view: 1 } }) }), "IDENTITY_BAD_LOTTERY", "the proof of another view");
    const foreignAlpha = vrfProve(secretOf.get(toHex(context1.validators[1]!.publicKey))!, lotteryInput(context0.configurationHash, 0));
    assert.equal(link2Code({ change: (c) => ({ ...c, lottery: { ...c.lottery, proof: foreignAlpha } }) }), "IDENTITY_BAD_LOTTERY", "a ticket of the previous epoch");
  });

  it("admits new validators only with a proof of possession for the chain's registry", () => {
    const stale = registered(1, genesisTxid(genesis));
    assert.equal(link2Code({}, [...set2.slice(0, -2), stale, set2.at(-1)!]), "REGISTRY_BAD_POP", "a proof for another chain id");
    const stolen = { ...registered(1), pop: set2.at(-1)!.pop };
    assert.equal(link2Code({}, [...set2.slice(0, -2), stolen, set2.at(-1)!]), "REGISTRY_BAD_POP", "another key's proof");
    const identity = new Uint8Array(32);
    identity[0] = 1;
    assert.equal(link2Code({}, [...set2, { ...registered(3), publicKey: identity }]), "REGISTRY_BAD_KEY", "the identity point as a key");
    const tooFew = [registered(1)];
    assert.equal(link2Code({}, tooFew), "EPOCH_TOO_FEW_VALIDATORS", "one validator for two shards");
  });

  it("stops a chain at its first bad link", () => {
    const flipped = Uint8Array.from(link2.certificate);
    flipped[flipped.length - 1] = flipped.at(-1)! ^ 1;
    assert.equal(codeOf(() => verifyIdentityChain(genesis, [link1, { configuration: link2.configuration, certificate: flipped }, link3], verifier)), "IDENTITY_BAD_SIGNATURE");
    assert.equal(codeOf(() => verifyIdentityChain(genesis, [link2, link1], verifier)), "IDENTITY_WRONG_EPOCH");
    assert.equal(codeOf(() => verifyIdentityChain(genesis, [link1, link3], verifier)), "IDENTITY_WRONG_EPOCH");
    assert.equal(codeOf(() => verifyIdentityChain(otherChain, links, verifier)), "IDENTITY_WRONG_CHAIN");
    assert.equal(verifyIdentityChain(genesis, [link1], verifier).length, 2);
  });
});

describe("identity configuration encoding", () => {
  const bytes = link2.configuration;
  /** Offsets of the documented layout: head 78, the policy 28, then u32 n and 146 bytes per validator. */
  const at = { epoch: 33, epochLength: 69, shardCount: 73, policyFlag: 77, validatorCount: 106, validators: 110 };
  const entry = 146;
  const n = set2.length;
  const boundaryCount = at.validators + n * entry + 32 + 32 + 4 + 80 + 4;
  const withU32 = (offset: number, value: number): Uint8Array => {
    const copy = Uint8Array.from(bytes);
    new DataView(copy.buffer).setUint32(offset, value, true);
    return copy;
  };

  it("is laid out as documented", () => {
    assert.equal(bytes[0], 2, "version");
    assert.deepEqual(bytes.subarray(1, 33), genesisTxid(genesis));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.deepEqual([view.getUint32(at.epoch, true), view.getUint32(at.epochLength, true), view.getUint32(at.shardCount, true), bytes[at.policyFlag]], [2, L, 2, 1]);
    assert.deepEqual(bytes.subarray(37, 69), context1.configurationHash);
    assert.equal(view.getUint32(at.validatorCount, true), n);
    assert.equal(view.getUint32(boundaryCount, true), 2);
    assert.equal(bytes.length, boundaryCount + 4 + 2 * 40 + 4);
    assert.equal(Number(view.getBigUint64(boundaryCount + 4, true)), 2 * L);
    assert.equal(view.getUint32(boundaryCount + 4 + 2 * 40, true), 0, "no departure");
    assert.deepEqual([view.getUint32(at.validators + 140, true), view.getUint16(at.validators + 144, true)], [set2[0]!.servi, set2[0]!.reputation], "each validator's carried Servi and reputation");
  });

  it("refuses truncation, trailing bytes, unknown versions and out-of-range fields with their codes", () => {
    for (let length = 0; length < bytes.length; length++) assert.equal(codeOf(() => decodeIdentityConfiguration(bytes.subarray(0, length))), "IDENTITY_TRUNCATED", `cut at ${length}`);
    assert.equal(codeOf(() => decodeIdentityConfiguration(Uint8Array.of(...bytes, 0))), "IDENTITY_TRAILING_BYTES");
    assert.equal(codeOf(() => decodeIdentityConfiguration(Uint8Array.of(1, ...bytes.subarray(1)))), "IDENTITY_UNKNOWN_VERSION", "version 1 (no scores) is not read as 2");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.epoch, 0))), "IDENTITY_OUT_OF_RANGE", "epoch 0");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.epochLength, 0))), "IDENTITY_OUT_OF_RANGE", "L = 0");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.shardCount, 0))), "IDENTITY_OUT_OF_RANGE", "no shard");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.shardCount, 1025))), "IDENTITY_OUT_OF_RANGE", "too many shards");
    const flag = Uint8Array.from(bytes);
    flag[at.policyFlag] = 2;
    assert.equal(codeOf(() => decodeIdentityConfiguration(flag)), "IDENTITY_OUT_OF_RANGE", "policy flag 2");
    const policy = withU32(at.policyFlag + 1 + 4, 2);
    assert.equal(codeOf(() => decodeIdentityConfiguration(policy)), "POB_BAD_POLICY", "a normal league of 2");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.validatorCount, 0))), "IDENTITY_OUT_OF_RANGE", "no validator");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.validatorCount, 0x10000))), "IDENTITY_OUT_OF_RANGE", "past the registry's limit");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(at.validatorCount, n + 1))), "IDENTITY_TRUNCATED", "one more than listed");
    assert.notEqual(codeOf(() => decodeIdentityConfiguration(withU32(at.validatorCount, n - 1))), NO_ERROR, "one fewer: the rest is misread");
    const zeroStake = Uint8Array.from(bytes);
    zeroStake.fill(0, at.validators + 32, at.validators + 40);
    assert.equal(codeOf(() => decodeIdentityConfiguration(zeroStake)), "IDENTITY_OUT_OF_RANGE", "stake 0");
    assert.equal(codeOf(() => decodeIdentityConfiguration(withU32(boundaryCount, 0))), "IDENTITY_OUT_OF_RANGE", "no boundary");
    const farHeight = Uint8Array.from(bytes);
    new DataView(farHeight.buffer).setBigUint64(boundaryCount + 4, 1n << 53n, true);
    assert.equal(codeOf(() => decodeIdentityConfiguration(farHeight)), "IDENTITY_OUT_OF_RANGE", "a height past 2^53 − 1");
  });

  it("refuses repeated and unordered validators, decoding and encoding", () => {
    const repeated = Uint8Array.from(bytes);
    repeated.copyWithin(at.validators + entry, at.validators, at.validators + entry);
    assert.equal(codeOf(() => decodeIdentityConfiguration(repeated)), "IDENTITY_DUPLICATE_VALIDATOR");
    const swapped = Uint8Array.from(bytes);
    swapped.set(bytes.subarray(at.validators, at.validators + entry), at.validators + entry);
    swapped.set(bytes.subarray(at.validators + entry, at.validators + 2 * entry), at.validators);
    assert.equal(codeOf(() => decodeIdentityConfiguration(swapped)), "IDENTITY_UNORDERED_VALIDATORS");
    const value = link2.value;
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...value, validators: [value.validators[0]!, ...value.validators] })), "IDENTITY_DUPLICATE_VALIDATOR");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...value, validators: [...value.validators].reverse() })), "IDENTITY_UNORDERED_VALIDATORS");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...value, validators: [] })), "IDENTITY_OUT_OF_RANGE");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...value, randomness: new Uint8Array(31) })), "IDENTITY_OUT_OF_RANGE");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...value, lottery: { ...value.lottery, view: -1 } })), "IDENTITY_OUT_OF_RANGE");
  });

  it("carries scores and departures: round trip, into the context (believability, departures, releasable), every flipped byte refused, ranges and order checked", () => {
    const scored = set2.map((v, i) => ({ ...v, servi: 3 * i, reputation: 1000 - 100 * i }));
    const bond = (fill: number) => Uint8Array.from({ length: 36 }, (_, j) => (j === 35 ? 0x80 : fill));
    const departures = [
      { bond: bond(1), validator: genesisKeys[2]!.publicKey, payout: registrants[0]!.publicKey, releaseEpoch: 3 },
      { bond: bond(2), validator: genesisKeys[3]!.publicKey, payout: registrants[1]!.publicKey, releaseEpoch: 2 },
    ];
    const link = buildLink(context1, scored, { change: (c) => ({ ...c, departures }) });
    assert.deepEqual(decodeIdentityConfiguration(link.configuration), link.value, "round trip");
    assert.equal(link.configuration.length, link2.configuration.length + 2 * (36 + 32 + 32 + 4), "104 bytes per departure");
    const context = verifyEpochLink(context1, link.configuration, link.certificate, verifier);
    for (const v of link.value.validators) {
      const account = context.believability(context.shardOf(v.publicKey)!).get(v.publicKey);
      assert.deepEqual([account.servi, account.reputation], [v.servi, v.reputation], "the context's accounts start from the configured scores");
    }
    assert.deepEqual(context.departures.map((d) => toHex(d.bond)), departures.map((d) => toHex(d.bond)));
    assert.deepEqual(context.releasable().map((d) => toHex(d.bond)), [toHex(bond(2))], "epoch 2 releases the bond whose release epoch is 2, not 3");
    assert.equal(context.departureOf(bond(1))?.releaseEpoch, 3);
    assert.equal(context.departureOf(bond(3)), undefined);
    for (let i = 0; i < link.configuration.length; i++) {
      const bad = Uint8Array.from(link.configuration);
      bad[i] = bad[i]! ^ 0x01;
      assert.notEqual(codeOf(() => verifyEpochLink(context1, bad, link.certificate, verifier)), NO_ERROR, `byte ${i}`);
    }
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...link.value, departures: [...departures].reverse() })), "IDENTITY_UNORDERED_DEPARTURES");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...link.value, departures: [departures[0]!, departures[0]!] })), "IDENTITY_UNORDERED_DEPARTURES", "a bond twice");
    const swapped = Uint8Array.from(link.configuration);
    const at = link.configuration.length - 2 * 104;
    swapped.set(link.configuration.subarray(at + 104, at + 208), at);
    swapped.set(link.configuration.subarray(at, at + 104), at + 104);
    assert.equal(codeOf(() => decodeIdentityConfiguration(swapped)), "IDENTITY_UNORDERED_DEPARTURES");
    const tooReputable = Uint8Array.from(link.configuration);
    new DataView(tooReputable.buffer).setUint16(110 + 144, 1001, true);
    assert.equal(codeOf(() => decodeIdentityConfiguration(tooReputable)), "IDENTITY_OUT_OF_RANGE", "reputation past REPUTATION_MAX");
    assert.equal(codeOf(() => encodeIdentityConfiguration({ ...link.value, validators: [{ ...scored[0]!, servi: -1 }, ...scored.slice(1)] })), "IDENTITY_OUT_OF_RANGE");
    const moreListed = Uint8Array.from(link.configuration);
    new DataView(moreListed.buffer).setUint32(at - 4, 3, true);
    assert.equal(codeOf(() => decodeIdentityConfiguration(moreListed)), "IDENTITY_TRUNCATED", "a departure more than the bytes hold");
  });

  it("hashes the encoding under its own domain", () => {
    const hash = identityConfigurationHash(bytes);
    assert.notDeepEqual(hash, identityConfigurationHash(link1.configuration));
    const flipped = Uint8Array.from(bytes);
    flipped[bytes.length - 1] = flipped.at(-1)! ^ 1;
    assert.notDeepEqual(identityConfigurationHash(flipped), hash);
  });
});

describe("identity chain encoding", () => {
  const chain = encodeIdentityChain(links);

  it("refuses truncation, trailing bytes, another version and a count the bytes cannot hold", () => {
    for (const length of [0, 1, 4, 5, 8, 100, chain.length - 1]) assert.equal(codeOf(() => decodeIdentityChain(chain.subarray(0, length))), "IDENTITY_TRUNCATED", `cut at ${length}`);
    assert.equal(codeOf(() => decodeIdentityChain(Uint8Array.of(...chain, 0))), "IDENTITY_TRAILING_BYTES");
    assert.equal(codeOf(() => decodeIdentityChain(Uint8Array.of(2, ...chain.subarray(1)))), "IDENTITY_UNKNOWN_VERSION");
    const huge = Uint8Array.from(chain);
    new DataView(huge.buffer).setUint32(1, 0xffff_ffff, true);
    assert.equal(codeOf(() => decodeIdentityChain(huge)), "IDENTITY_TRUNCATED");
    const oversized = Uint8Array.from(chain);
    new DataView(oversized.buffer).setUint32(5, 0xffff_ffff, true);
    assert.equal(codeOf(() => decodeIdentityChain(oversized)), "IDENTITY_OUT_OF_RANGE", "a configuration length past the largest configuration");
  });
});
