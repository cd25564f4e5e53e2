/**
 * Identity chain speed and sizes (src/epoch/identity): one `verifyEpochLink` of epoch 1 after a
 * genesis of n validators in m shards, with `joins` registrations entering, signed by the first
 * ⌊2n/3⌋ + 1 validators; beside it, what admitting all n keys afresh would cost (a registry
 * built from scratch: what `ValidatorRegistry.successor` saves by carrying checked proofs over).
 *
 * Each case verifies its link once untimed (it must pass), then RUNS times; the figure is the
 * median. Output: bench/results/identity.json.
 */
import { REPUTATION_INITIAL } from "../src/consensus/pob/believability.js";
import { writeFileSync } from "node:fs";
import { cosiThreshold, encodeCollectiveSignature } from "../src/consensus/cosi/codec.js";
import { ValidatorRegistry, proveKeyPossession } from "../src/consensus/registry.js";
import { Ed25519Verifier } from "../src/crypto/ed25519.js";
import { SchnorrKey } from "../src/crypto/schnorr.js";
import { vrfProve } from "../src/crypto/vrf.js";
import { genesisEpochContext } from "../src/epoch/context.js";
import { encodeIdentityConfiguration, identityConfigurationHash, nextIdentityConfiguration } from "../src/epoch/identity/configuration.js";
import { lotteryInput } from "../src/epoch/election/lottery.js";
import type { IdentityValidator } from "../src/epoch/identity/interface.js";
import { identityCertificateMessage, verifyEpochLink } from "../src/epoch/identity/link.js";
import { toHex } from "../src/hex.js";
import { deriveTestAccounts, genesisPopChainId, makeTestGenesis } from "../src/ledger/genesis.js";
import { OUTPOINT_BYTES } from "../src/codec/sizes.js";
import { SeededRng } from "../src/runtime/seeded-rng.js";
// The real multisignature from the Schnorr primitives, as the tests build certificates.
import { cosign } from "../test/support/cosign.js";

const RUNS = 20;
const EPOCH_LENGTH = 100;
const CASES = [
  { validators: 16, shards: 4, joins: 0 },
  { validators: 64, shards: 4, joins: 0 },
  { validators: 64, shards: 4, joins: 16 },
  { validators: 256, shards: 16, joins: 0 },
  { validators: 256, shards: 16, joins: 64 },
];

const verifier = new Ed25519Verifier();
const rng = SeededRng.fromSeed("identity bench");

function median(run: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1]!;
}

const results = CASES.map(({ validators: n, shards, joins }) => {
  const { genesis, validators: keys } = makeTestGenesis({ seed: `identity bench ${n}`, shardCount: shards, accounts: 1, amount: 1n, validators: n, epochLength: EPOCH_LENGTH });
  const context = genesisEpochContext(genesis);
  const secretOf = new Map(keys.map((pair) => [toHex(pair.publicKey), pair.secretKey]));
  const proofOf = new Map(context.registry.validators().map((entry) => [entry.peerId, entry.proof]));
  const chainId = genesisPopChainId(genesis);
  const set: IdentityValidator[] = [
    ...context.validators.map((v) => ({ ...v, pop: proofOf.get(toHex(v.publicKey))!, servi: 0, reputation: REPUTATION_INITIAL })),
    ...deriveTestAccounts(`identity bench ${n} joins`, joins).map((pair) => ({
      publicKey: pair.publicKey, stake: 1n, bond: rng.bytes(OUTPOINT_BYTES), pop: proveKeyPossession(SchnorrKey.fromSeed(pair.secretKey), chainId), servi: 0, reputation: REPUTATION_INITIAL,
    })),
  ];
  const leader = context.validators[0]!.publicKey;
  const configuration = encodeIdentityConfiguration(nextIdentityConfiguration(context, {
    validators: set,
    randomness: rng.bytes(32),
    transcriptHash: rng.bytes(32),
    lottery: { leader: 0, proof: vrfProve(secretOf.get(toHex(leader))!, lotteryInput(context.configurationHash, 0)), view: 0 },
    boundaries: Array.from({ length: shards }, () => ({ height: EPOCH_LENGTH, stateCommitment: rng.bytes(32) })),
    departures: [],
  }));
  const signers = context.validators.map((v) => SchnorrKey.fromSeed(secretOf.get(toHex(v.publicKey))!));
  const message = identityCertificateMessage(context.chain, 1, identityConfigurationHash(configuration));
  const certificate = encodeCollectiveSignature(cosign(signers, [...Array(cosiThreshold(n)).keys()], message, rng, verifier), n);
  verifyEpochLink(context, configuration, certificate, verifier);
  const verifyMs = median(() => verifyEpochLink(context, configuration, certificate, verifier));
  const freshRegistryMs = median(() => {
    const registry = new ValidatorRegistry(chainId);
    for (const { publicKey, pop } of set) registry.register(publicKey, pop);
  });
  const row = { validators: n, shards, joins, configurationBytes: configuration.length, certificateBytes: certificate.length, verifyEpochLinkMs: +verifyMs.toFixed(2), registryFromScratchMs: +freshRegistryMs.toFixed(1) };
  console.log(JSON.stringify(row));
  return row;
});

writeFileSync("bench/results/identity.json", `${JSON.stringify({ runs: RUNS, epochLength: EPOCH_LENGTH, results }, null, 2)}\n`);
