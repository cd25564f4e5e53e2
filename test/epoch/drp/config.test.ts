/**
 * DRP configuration and envelopes (src/epoch/drp/config.ts, messages.ts; white paper §5.2
 * inputs 7–14 and Algorithm 3 step 1): the seeded grouping is a balanced partition, the same for
 * a seed and different for another; thresholds t_l = ⌊|T_l|/3⌋ + 1; the configuration encoding
 * round-trips, its session id depends on every field, and checkConfig refuses each broken rule,
 * a rogue key (A' = x·B − Σ A_j, which would sign T' for everyone) above all: the client, the
 * verifier and makeConfig refuse it for want of a proof of possession, the servers for not being
 * the key they know;
 * envelopes refuse unknown kinds, senders that do not fit the kind, truncation and trailing bytes,
 * and signatures only verify for their sender's key.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import {
  checkConfig,
  decodeConfig,
  encodeConfig,
  groupThreshold,
  knownParties,
  makeConfig,
  makeGrouping,
  sessionIdOf,
  type DrpConfig,
} from "../../../src/epoch/drp/config.js";
import { RistrettoPoint } from "../../../src/epoch/drp/dleq.js";
import { choiceChallenge, verifyAggregate } from "../../../src/epoch/drp/cosign.js";
import { SessionGuard } from "../../../src/epoch/drp/guard.js";
import { localClock } from "../../../src/epoch/drp/local.js";
import { CLIENT_SENDER, MessageKind, decodeEnvelope, encodeAnnounce, isAuthentic, signEnvelope } from "../../../src/epoch/drp/messages.js";
import { DrpClient, DrpServer } from "../../../src/epoch/drp/session.js";
import { keyProblem } from "../../../src/consensus/registry.js";
import { IosError } from "../../../src/errors.js";
import { SeededRng } from "../../../src/runtime/seeded-rng.js";
import { codeOf, NO_ERROR } from "../../support/errors.js";
import { makeParties } from "./harness.js";

const seed = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

describe("DRP grouping and thresholds", () => {
  it("cuts a seeded permutation into balanced, disjoint, covering, ascending groups", () => {
    for (const [n, m] of [
      [4, 1],
      [7, 2],
      [16, 4],
      [16, 3],
      [31, 5],
      [10, 10],
    ] as const) {
      const groups = makeGrouping(n, m, seed(7));
      assert.equal(groups.length, m);
      assert.deepEqual(groups.flat().sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), `n = ${n}, m = ${m} covers each server once`);
      const sizes = groups.map((g) => g.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes} are balanced`);
      for (const group of groups) assert.deepEqual(group, [...group].sort((a, b) => a - b));
      assert.deepEqual(makeGrouping(n, m, seed(7)), groups);
    }
    assert.notDeepEqual(makeGrouping(16, 4, seed(7)), makeGrouping(16, 4, seed(8)));
    assert.equal(codeOf(() => makeGrouping(4, 5, seed(1))), "DRP_BAD_ARGUMENT");
    assert.equal(codeOf(() => makeGrouping(4, 1, new Uint8Array(31))), "DRP_BAD_ARGUMENT");
  });

  it("t_l = ⌊|T_l|/3⌋ + 1", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 16].map(groupThreshold), [1, 1, 2, 2, 2, 3, 3, 6]);
  });
});

describe("DRP configuration", () => {
  const { config } = makeParties(7, 2, "config-7");

  it("round-trips its encoding; the session id depends on every field", () => {
    const bytes = encodeConfig(config);
    assert.deepEqual(encodeConfig(decodeConfig(bytes)), bytes);
    const id = sessionIdOf(bytes);
    const variants: DrpConfig[] = [
      { ...config, purpose: `${config.purpose}!` },
      { ...config, timestamp: config.timestamp + 1 },
      { ...config, groupingSeed: seed(9), groups: makeGrouping(7, 2, seed(9)) },
      { ...config, servers: [...config.servers].reverse() },
    ];
    for (const variant of variants) assert.notDeepEqual(sessionIdOf(encodeConfig(variant)), id);
  });

  it("any server count: f = ⌊(n − 1)/3⌋ (8 servers tolerate 2), and no other f", () => {
    const eight = makeParties(8, 2, "config-8").config;
    assert.equal(eight.faultTolerance, 2);
    assert.equal(codeOf(() => checkConfig(eight)), NO_ERROR);
    for (const faultTolerance of [1, 3]) assert.equal(codeOf(() => checkConfig({ ...eight, faultTolerance })), "DRP_BAD_CONFIG");
  });

  it("checkConfig refuses each broken rule with DRP_BAD_CONFIG", () => {
    assert.equal(codeOf(() => checkConfig(config)), NO_ERROR);
    const other = makeParties(4, 1, "config-4").config;
    const servers = config.servers;
    const broken: DrpConfig[] = [
      { ...config, faultTolerance: 1 },
      { ...config, servers: [...servers.slice(0, 6), servers[0]!] },
      { ...config, servers: servers.map((s, i) => (i === 3 ? { ...s, pvssKey: RistrettoPoint.ZERO } : s)) },
      // The Ed25519 identity (01 00…00) is a small-order point.
      { ...config, servers: servers.map((s, i) => (i === 3 ? { ...s, signingKey: Uint8Array.of(1, ...new Uint8Array(31)) } : s)) },
      { ...config, clientKey: new Uint8Array(32).fill(0xff) },
      { ...config, groups: [config.groups[0]!.slice(2), [...config.groups[1]!, ...config.groups[0]!.slice(0, 2)]] },
      { ...config, groups: [config.groups[0]!, [...config.groups[1]!.slice(1), config.groups[0]![0]!]] },
      { ...config, groups: [config.groups[1]!, config.groups[0]!] },
      { ...config, groupingSeed: seed(3) },
      { ...config, purpose: "u".repeat(256) },
      { ...config, chainId: new TextEncoder().encode("another chain") },
      { ...config, chainId: new Uint8Array(0) },
      { ...config, servers: servers.map((s, i) => (i === 3 ? { ...s, possession: servers[2]!.possession } : s)) },
      { ...other, groups: [[0, 1, 2, 3]].map((g) => g.reverse()) },
    ];
    broken.forEach((bad, k) => assert.equal(codeOf(() => checkConfig(bad)), "DRP_BAD_CONFIG", `variant ${k}`));
  });

  it("refuses a rogue key, which would let one server sign T' for all, for its missing proof of possession", () => {
    const parties = makeParties(4, 1, "rogue-4");
    const { servers } = parties.config;
    const rogue = 3;
    // The rogue knows x; its key cancels the others', so Σ A_i = x·B.
    const x = 0x5eedn;
    const others = servers.filter((_, i) => i !== rogue).reduce((sum, s) => sum.add(ed25519.Point.fromBytes(s.signingKey)), ed25519.Point.ZERO);
    const rogueKey = ed25519.Point.BASE.multiply(x).subtract(others).toBytes();
    const keys = servers.map((s, i) => (i === rogue ? rogueKey : s.signingKey));
    // Alone, it makes the collective signature of all four on any challenge: V = v·B, r = v + c·x.
    const v = 0xc0ffeen;
    const challenge = choiceChallenge(ed25519.Point.BASE.multiply(v).toBytes(), new Uint8Array(32), new Uint8Array(0));
    const c = bytesToNumberLE(challenge);
    const commitments = [ed25519.Point.BASE.multiply(v).toBytes(), ...[1, 2, 3].map(() => ed25519.Point.ZERO.toBytes())];
    const response = ed25519.Point.Fn.toBytes(ed25519.Point.Fn.add(v, ed25519.Point.Fn.mul(c, x)));
    assert.ok(verifyAggregate(response, challenge, commitments, keys), "the rogue key forges the aggregate");
    assert.equal(keyProblem(rogueKey), undefined, "the rogue key is a well-formed, prime-order key");

    // Its PoP cannot be made; it offers its real key's instead.
    const withRogue = { ...parties.config, servers: servers.map((s, i) => (i === rogue ? { ...s, signingKey: rogueKey } : s)) };
    for (const refuse of [() => checkConfig(withRogue), () => new DrpClient(withRogue, parties.clientSecret, SeededRng.fromSeed("rogue"))]) {
      assert.throws(refuse, (error: unknown) => error instanceof IosError && error.code === "DRP_BAD_CONFIG" && /server 3: the proof of possession/.test(error.message));
    }
    const { clientKey, chainId, groupingSeed, purpose, timestamp } = parties.config;
    assert.equal(codeOf(() => makeConfig({ chainId, servers: withRogue.servers, clientKey, groupCount: 1, groupingSeed, purpose, timestamp })), "DRP_BAD_CONFIG");
    assert.equal(codeOf(() => knownParties(withRogue)), "DRP_BAD_CONFIG", "a node cannot take it for X either");

    // A server knows X: an l1 announcing the rogue configuration, signed by the client, is ignored.
    const configBytes = encodeConfig(withRogue);
    const announce = signEnvelope(MessageKind.announce, CLIENT_SENDER, encodeAnnounce({ sessionId: sessionIdOf(configBytes), config: configBytes }), parties.clientSecret);
    const server = (guardSeed: string) =>
      new DrpServer(0, knownParties(parties.config), parties.serverSecrets[0]!, SeededRng.fromSeed(guardSeed), new SessionGuard(localClock(parties)));
    assert.deepEqual(server("rogue-server").receive(announce.bytes), []);
    const honestBytes = encodeConfig(parties.config);
    const honest = signEnvelope(MessageKind.announce, CLIENT_SENDER, encodeAnnounce({ sessionId: sessionIdOf(honestBytes), config: honestBytes }), parties.clientSecret);
    assert.equal(server("honest-server").receive(honest.bytes).length, 1, "control: the configuration of X is answered");
  });

  it("decodeConfig refuses truncation, trailing bytes and a purpose that is not UTF-8", () => {
    const bytes = encodeConfig(config);
    assert.equal(codeOf(() => decodeConfig(bytes.subarray(0, bytes.length - 1))), "DRP_MALFORMED");
    assert.equal(codeOf(() => decodeConfig(Uint8Array.of(...bytes, 0))), "DRP_MALFORMED");
    const purposeAt = bytes.length - 8 - config.purpose.length;
    const notUtf8 = Uint8Array.from(bytes);
    notUtf8[purposeAt] = 0xff;
    assert.equal(codeOf(() => decodeConfig(notUtf8)), "DRP_MALFORMED");
  });
});

describe("DRP envelopes", () => {
  const parties = makeParties(4, 1, "envelope-4");
  const body = Uint8Array.of(1, 2, 3);

  it("round-trip, and verify only under the sender's key", () => {
    const message = signEnvelope(MessageKind.response, 2, body, parties.serverSecrets[2]!.signingSeed);
    const decoded = decodeEnvelope(message.bytes);
    assert.deepEqual([decoded.kind, decoded.sender, [...decoded.body]], [MessageKind.response, 2, [1, 2, 3]]);
    assert.ok(isAuthentic(decoded, parties.config.servers[2]!.signingKey));
    assert.ok(!isAuthentic(decoded, parties.config.servers[1]!.signingKey));
  });

  it("refuse unknown kinds, senders that do not fit the kind, truncation and trailing bytes", () => {
    const secret = parties.clientSecret;
    const good = signEnvelope(MessageKind.announce, CLIENT_SENDER, body, secret).bytes;
    assert.equal(codeOf(() => decodeEnvelope(good)), NO_ERROR);
    const unknownKind = Uint8Array.from(good);
    unknownKind[0] = 7;
    for (const bytes of [
      unknownKind,
      signEnvelope(MessageKind.announce, 0, body, secret).bytes,
      signEnvelope(MessageKind.deal, CLIENT_SENDER, body, secret).bytes,
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
    ]) {
      assert.equal(codeOf(() => decodeEnvelope(bytes)), "DRP_MALFORMED");
    }
  });
});
