/**
 * `ios epoch show` as a person runs it: a chain file of epochs 1..3 (real certificates, real DRP
 * transcripts; every validator carrying its own Servi and reputation, and a departure from epoch 2
 * on) verified from the genesis and printed — configuration, rnd, transcript hash, leader, shards,
 * leagues, each member's score inputs and the departures as the verified EpochContext gives them
 * — in text and JSON; with a
 * transcript, Algorithm 3 and its binding to the configuration; whatever a relay could hand over
 * instead (a flipped byte, another chain's genesis, another epoch's transcript, a cut transcript)
 * exits 1 with the code of the first failed check; and the same against a running node serving
 * its stored chain over HTTP.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { sha256 } from "../../src/crypto/sha256.js";
import { encodeIdentityChain } from "../../src/epoch/identity/link.js";
import type { EpochContext } from "../../src/epoch/interface.js";
import { toHex } from "../../src/hex.js";
import { genesisToJson } from "../../src/ledger/genesis.js";
import { PobTestBackend, TestShard, serveApi } from "../api/helpers.js";
import { believabilityScore } from "../../src/consensus/pob/believability.js";
import type { IdentityConfiguration } from "../../src/epoch/identity/interface.js";
import { buildArchive, genesis, genesisKeys, otherChain, registrants } from "../support/identity-chain.js";
import { ios } from "./helpers.js";

/** Configuration e: validator i carries Servi 100e + i and reputation 450 + 10i; from epoch 2 on a bond awaits release from epoch 4. */
function carried(configuration: IdentityConfiguration): IdentityConfiguration {
  const { epoch } = configuration;
  const departure = { validator: registrants[3]!.publicKey, bond: new Uint8Array(36).fill(9), payout: genesisKeys[0]!.publicKey, releaseEpoch: 4 };
  return {
    ...configuration,
    validators: configuration.validators.map((validator, i) => ({ ...validator, servi: 100 * epoch + i, reputation: 450 + 10 * i })),
    departures: epoch >= 2 ? [departure] : [],
  };
}
const archive = buildArchive(3, carried);
const directory = mkdtempSync(join(tmpdir(), "ios-epoch-"));
after(() => rmSync(directory, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string): string => {
  const path = join(directory, name);
  writeFileSync(path, bytes);
  return path;
};
const genesisFile = file("genesis.json", genesisToJson(genesis));
const chainBytes = encodeIdentityChain(archive.links);
const chainFile = file("chain.bin", chainBytes);
const transcriptFiles = archive.transcripts.map((transcript, i) => file(`transcript-${i + 1}.bin`, transcript));
const short = (key: Uint8Array): string => toHex(key).slice(0, 16);

/** What `ios epoch show` prints for epoch `e` of the archive, from the contexts the fixture verified. */
function expectedText(e: number): string[] {
  const context = archive.contexts[e]!;
  const lines = [
    `chain ${toHex(context.chain)} verified from the genesis: epochs 1..3`,
    `epoch ${e}`,
    `configuration ${toHex(context.configurationHash)}`,
    `rnd ${toHex(context.randomness)}`,
    `transcript ${toHex(sha256(archive.transcripts[e - 1]!))}`,
    `leader 1 view 0 ${short(archive.contexts[e - 1]!.validators[1]!.publicKey)}`,
    `validators ${context.validators.length}`,
  ];
  for (let shard = 0; shard < 2; shard++) {
    const { believable, normal } = context.leagues(shard);
    lines.push(`shard ${shard}: ${context.members(shard).map(short).join(" ")}`, `  believable ${believable.map(short).join(" ")}`.trimEnd(), `  normal ${normal.map(short).join(" ")}`);
    for (const { publicKey, stake, servi, reputation } of scoresOf(context, shard)) {
      lines.push(`  ${short(publicKey)} stake ${stake} servi ${servi} reputation ${reputation} score ${believabilityScore({ stake, servi, reputation }).toFixed(4)}`);
    }
  }
  lines.push(`departures ${e >= 2 ? 1 : 0}`);
  if (e >= 2) lines.push(`  ${short(registrants[3]!.publicKey)} bond ${"09".repeat(36)} payout ${short(genesisKeys[0]!.publicKey)} release from epoch 4`);
  return lines;
}

/** Shard `shard`'s members with what configuration e carried for them: Servi 100e + i and reputation 450 + 10i for the i-th validator in key order. */
function scoresOf(context: EpochContext, shard: number): { publicKey: Uint8Array; stake: bigint; servi: number; reputation: number }[] {
  return context.members(shard).map((publicKey) => {
    const i = context.validators.findIndex((validator) => toHex(validator.publicKey) === toHex(publicKey));
    return { publicKey, stake: context.validators[i]!.stake, servi: 100 * context.epoch + i, reputation: 450 + 10 * i };
  });
}

function expectedJson(e: number, context: EpochContext = archive.contexts[e]!): Record<string, unknown> {
  return {
    chain: toHex(context.chain),
    lastEpoch: 3,
    epoch: e,
    configurationHash: toHex(context.configurationHash),
    randomness: toHex(context.randomness),
    transcriptHash: toHex(sha256(archive.transcripts[e - 1]!)),
    leader: { index: 1, view: 0, publicKey: toHex(archive.contexts[e - 1]!.validators[1]!.publicKey) },
    validators: context.validators.length,
    shards: [0, 1].map((shard) => ({
      shard,
      members: context.members(shard).map(toHex),
      believable: context.leagues(shard).believable.map(toHex),
      normal: context.leagues(shard).normal.map(toHex),
      scores: scoresOf(context, shard).map(({ publicKey, stake, servi, reputation }) => ({ publicKey: toHex(publicKey), stake: stake.toString(), servi, reputation, score: believabilityScore({ stake, servi, reputation }) })),
    })),
    departures: e >= 2 ? [{ validator: toHex(registrants[3]!.publicKey), bond: "09".repeat(36), payout: toHex(genesisKeys[0]!.publicKey), releaseEpoch: 4 }] : [],
  };
}

describe("ios epoch show --chain FILE", () => {
  it("verifies epochs 1..3 from the genesis and prints the last one, or --epoch N, in text and JSON; checks a given transcript", async () => {
    const last = await ios(["epoch", "show", "--genesis", genesisFile, "--chain", chainFile]);
    assert.equal(last.code, 0, last.stderr);
    assert.equal(last.stdout, `${expectedText(3).join("\n")}\n`);
    assert.ok(archive.contexts[3]!.leagues(0).believable.length > 0, "a PoB policy draws a believable league");

    const second = await ios(["epoch", "show", "--genesis", genesisFile, "--chain", chainFile, "--epoch", "2", "--transcript-file", transcriptFiles[1]!, "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const shown = JSON.parse(second.stdout) as Record<string, unknown> & { transcript: { verified: boolean; servers: number } };
    assert.deepEqual({ ...shown, transcript: undefined }, { ...expectedJson(2), transcript: undefined });
    assert.deepEqual([shown.transcript.verified, shown.transcript.servers], [true, 4]);

    const text = await ios(["epoch", "show", "--genesis", genesisFile, "--chain", chainFile, "--epoch", "1", "--transcript", "--transcript-file", transcriptFiles[0]!]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout, `${[...expectedText(1), "transcript verified: 4 servers, its hash and rnd are the configuration's"].join("\n")}\n`);
  });

  it("exits 1 with the first failed check's code for a flipped byte, another chain's genesis, another epoch's or a cut transcript, an epoch past the last", async () => {
    const flip = (at: number): Uint8Array => {
      const bytes = Uint8Array.from(chainBytes);
      bytes[at]! ^= 0x01;
      return bytes;
    };
    const rnd2 = Buffer.from(chainBytes).indexOf(Buffer.from(archive.contexts[2]!.randomness));
    assert.ok(rnd2 > 0);
    const cut = archive.transcripts[0]!.subarray(0, archive.transcripts[0]!.length - 1);
    const cases: [string, string[], RegExp][] = [
      ["rnd of epoch 2 flipped", ["--chain", file("flipped.bin", flip(rnd2))], /IDENTITY_BAD_SIGNATURE/],
      ["version flipped", ["--chain", file("version.bin", flip(0))], /IDENTITY_UNKNOWN_VERSION/],
      ["another chain's genesis", ["--chain", chainFile, "--genesis", file("other.json", genesisToJson(otherChain))], /IDENTITY_WRONG_CHAIN/],
      ["epoch 1's transcript for epoch 2", ["--chain", chainFile, "--epoch", "2", "--transcript-file", transcriptFiles[0]!], /CLI_WRONG_TRANSCRIPT/],
      ["a cut transcript", ["--chain", chainFile, "--epoch", "1", "--transcript-file", file("cut.bin", cut)], /DRP_MALFORMED/],
      ["epoch 4 of 3", ["--chain", chainFile, "--epoch", "4"], /CLI_NO_EPOCH/],
      ["an empty chain", ["--chain", file("empty.bin", encodeIdentityChain([]))], /CLI_NO_EPOCH/],
    ];
    for (const [what, args, code] of cases) {
      const run = await ios(["epoch", "show", ...(args.includes("--genesis") ? [] : ["--genesis", genesisFile]), ...args]);
      assert.equal(run.code, 1, `${what}: ${run.stderr}`);
      assert.match(run.stderr, code, what);
      assert.equal(run.stdout, "", what);
    }
  });

  it("refuses missing or conflicting sources with CLI_USAGE, exit 2", async () => {
    for (const args of [
      ["--chain", chainFile],
      ["--genesis", genesisFile],
      ["--genesis", genesisFile, "--chain", chainFile, "--node", "http://127.0.0.1:1"],
      ["--genesis", genesisFile, "--chain", chainFile, "--transcript"],
      ["--genesis", genesisFile, "--chain", chainFile, "--epoch", "0"],
    ]) {
      const run = await ios(["epoch", "show", ...args]);
      assert.equal(run.code, 2, args.join(" "));
      assert.match(run.stderr, /CLI_USAGE/, args.join(" "));
    }
  });
});

describe("ios epoch show --node URL", () => {
  it("fetches the chain a running node keeps, verifies it and its transcript; an epoch the node lacks exits 1", async () => {
    const shard = TestShard.open(genesis, 0, genesisKeys[0]!, join(directory, "node"));
    const server = await serveApi(new PobTestBackend(shard, genesisKeys[0]!.publicKey, { consensus: {}, sealOnAccept: false }));
    try {
      archive.links.forEach((link, i) => shard.state.keepEpoch(i + 1, link, archive.transcripts[i]!));
      const node = `http://127.0.0.1:${server.port}`;
      const run = await ios(["epoch", "show", "--genesis", genesisFile, "--node", node, "--transcript", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const shown = JSON.parse(run.stdout) as Record<string, unknown> & { transcript: { verified: boolean } };
      assert.deepEqual({ ...shown, transcript: undefined }, { ...expectedJson(3), transcript: undefined });
      assert.equal(shown.transcript.verified, true);
      const text = await ios(["epoch", "show", "--genesis", genesisFile, "--node", node, "--epoch", "2"]);
      assert.equal(text.stdout, `${expectedText(2).join("\n")}\n`);

      const missing = await ios(["epoch", "show", "--genesis", genesisFile, "--node", node, "--epoch", "4", "--transcript"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /CLI_NO_EPOCH/);
    } finally {
      server.close();
      await shard.close();
    }
    const gone = await ios(["epoch", "show", "--genesis", genesisFile, "--node", `http://127.0.0.1:${server.port}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /API_UNREACHABLE/);
  });
});
