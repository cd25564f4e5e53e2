/**
 * `ios epoch show`: an epoch of the identity chain (white paper §4.1, DESIGN.md §5) as anyone can
 * check it, trusting the genesis alone.
 *
 *   1  read the chain: `--node URL` fetches GET /v1/epochs/chain, `--chain FILE` reads the same
 *      bytes (src/epoch/identity/link.ts `encodeIdentityChain`) from a file
 *   2  verify every link from `--genesis FILE` (`verifyIdentityChain`: exit 1 with the code of
 *      the first failed check, e.g. IDENTITY_BAD_SIGNATURE)
 *   3  with `--transcript`, the chosen epoch's DRP transcript (fetched, or `--transcript-file
 *      FILE`): Algorithm 3 (`verifyTranscript`: DRP_* codes), its SHA-256 is the configuration's
 *      transcript hash and its rnd the configuration's (CLI_WRONG_TRANSCRIPT)
 *   4  print the chosen epoch (`--epoch N`, default the last; CLI_NO_EPOCH outside 1..last):
 *      configuration hash, rnd_e, transcript hash, the leader's lottery (validator index of the
 *      previous epoch, view), the validator count; per shard, its members, with a PoB policy its
 *      leagues as the EpochContext draws them (from rnd_e and the members' believability), and
 *      each member's score inputs as configuration v2 carries them over (stake, Servi,
 *      reputation) with the score the draw weighs; then the epoch's departures (bonds awaiting
 *      release: validator, bond outpoint, payout owner, first release epoch); `--json` for
 *      machines.
 */
import { ApiClient } from "../api/client.js";
import { sha256 } from "../crypto/sha256.js";
import { MAX_TRANSCRIPT_BYTES, verifyTranscript } from "../epoch/drp/transcript.js";
import { decodeIdentityConfiguration } from "../epoch/identity/configuration.js";
import { decodeIdentityChain, verifyIdentityChain } from "../epoch/identity/link.js";
import type { EpochContext } from "../epoch/interface.js";
import { sameBytes } from "../bytes.js";
import { check, IosError } from "../errors.js";
import { toHex } from "../hex.js";
import { loadGenesisFile } from "../node/config.js";
import { EXIT_OK, integerOption, required, type CliErrorCode, type Command, type CommandBody, type Values } from "./command.js";
import { readInputFile } from "./files.js";

/** The largest chain file read: a configuration of 1,000 validators is about 140 KB, so this holds thousands of epochs. */
const MAX_CHAIN_FILE_BYTES = 1024 * 1024 * 1024;
/** Hex digits of a key in the text output: enough to tell validators apart by eye. */
const SHORT_KEY_DIGITS = 16;

/** Decimals of a believability score in the text output: scores are in [0, 1], and the draw uses exact units anyway. */
const SCORE_DIGITS = 4;

const short = (key: Uint8Array): string => toHex(key).slice(0, SHORT_KEY_DIGITS);

/** A member's believability as the epoch starts: what its league draw weighs. */
interface ScoreView {
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  readonly servi: number;
  readonly reputation: number;
  /** In [0, 1] (believabilityScore). */
  readonly score: number;
}

interface ShardView {
  readonly shard: number;
  readonly members: readonly Uint8Array[];
  readonly leagues?: { readonly believable: readonly Uint8Array[]; readonly normal: readonly Uint8Array[] };
  readonly scores: readonly ScoreView[];
}

function shardsOf(context: EpochContext): ShardView[] {
  return Array.from({ length: context.shardCount }, (_, shard) => {
    const members = context.members(shard);
    const ledger = context.believability(shard);
    const scores = members.map((key) => ({ ...ledger.get(key), score: ledger.score(key) }));
    if (context.policy === undefined) return { shard, members, scores };
    const { believable, normal } = context.leagues(shard);
    return { shard, members, leagues: { believable, normal }, scores };
  });
}

/** Step 3: the transcript is the one configuration `epoch` names, and it proves that configuration's rnd. */
function checkTranscript(transcript: Uint8Array, context: EpochContext, transcriptHash: Uint8Array): ReturnType<typeof verifyTranscript> {
  const verified = verifyTranscript(transcript);
  check<CliErrorCode>(sameBytes(sha256(transcript), transcriptHash), "CLI_WRONG_TRANSCRIPT", `the transcript hashes to ${toHex(sha256(transcript))}; configuration ${context.epoch} names ${toHex(transcriptHash)}`);
  check<CliErrorCode>(sameBytes(verified.rnd, context.randomness), "CLI_WRONG_TRANSCRIPT", `the transcript gives rnd ${toHex(verified.rnd)}; configuration ${context.epoch} has ${toHex(context.randomness)}`);
  return verified;
}

async function readSources(values: Values): Promise<{ chain: Uint8Array; transcript: (epoch: number) => Promise<Uint8Array> | undefined }> {
  const node = values.node;
  const file = values.chain;
  if ((node === undefined) === (file === undefined)) throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --node URL (fetch the chain) and --chain FILE (read it)");
  const transcriptFile = values["transcript-file"];
  if (typeof node === "string") {
    if (transcriptFile !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--transcript-file goes with --chain; with --node, --transcript fetches the transcript");
    const api = new ApiClient(node);
    return { chain: await api.identityChain(), transcript: (epoch) => (values.transcript === true ? api.drpTranscript(epoch) : undefined) };
  }
  if (values.transcript === true && transcriptFile === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "with --chain, give the transcript as --transcript-file FILE");
  const chain = readInputFile(file as string, MAX_CHAIN_FILE_BYTES);
  const transcript = typeof transcriptFile === "string" ? readInputFile(transcriptFile, MAX_TRANSCRIPT_BYTES) : undefined;
  return { chain, transcript: () => (transcript === undefined ? undefined : Promise.resolve(transcript)) };
}

const showCommand: Command = {
  name: "show",
  summary: "Verify the identity chain from the genesis and show an epoch: configuration, rnd, leader, shards, leagues, scores and departures.",
  usage: "--genesis FILE (--node URL | --chain FILE) [--epoch N] [--transcript | --transcript-file FILE] [--json]",
  help: [
    "  --genesis FILE          the network's genesis.json: the trust anchor every link is verified from",
    "  --node URL              fetch the chain from a node's client API (GET /v1/epochs/chain)",
    "  --chain FILE            read the chain from a file instead (the same bytes)",
    "  --epoch N               the epoch to show (default: the last)",
    "  --transcript            also fetch that epoch's DRP transcript from --node and check it",
    "  --transcript-file FILE  the transcript to check, with --chain",
    "  --json                  machine-readable output",
    "Exits 1 with the code of the first failed check: IDENTITY_* for a bad link, DRP_* for a bad",
    "transcript, CLI_WRONG_TRANSCRIPT for a transcript the configuration does not name.",
  ].join("\n"),
  options: {
    genesis: { type: "string" },
    node: { type: "string" },
    chain: { type: "string" },
    epoch: { type: "string" },
    transcript: { type: "boolean" },
    "transcript-file": { type: "string" },
    json: { type: "boolean" },
  },
  async run(values, _positionals, io) {
    const genesis = loadGenesisFile(required(values, "genesis"));
    const asked = values.epoch === undefined ? undefined : integerOption(values, "epoch", 1, 0xffff_ffff);
    const sources = await readSources(values);
    const links = decodeIdentityChain(sources.chain);
    const contexts = verifyIdentityChain(genesis, links);
    const last = links.length;
    check<CliErrorCode>(last > 0, "CLI_NO_EPOCH", "the chain holds no epoch after the genesis yet");
    const epoch = asked ?? last;
    check<CliErrorCode>(epoch <= last, "CLI_NO_EPOCH", `the chain holds epochs 1..${last}, not ${epoch}`);
    const context = contexts[epoch]!;
    const configuration = decodeIdentityConfiguration(links[epoch - 1]!.configuration);
    const { leader, view } = configuration.lottery;
    const leaderKey = contexts[epoch - 1]!.validators[leader]!.publicKey;
    const transcriptBytes = await sources.transcript(epoch);
    const transcript = transcriptBytes === undefined ? undefined : checkTranscript(transcriptBytes, context, configuration.transcriptHash);
    const shards = shardsOf(context);

    if (values.json === true) {
      const keys = (list: readonly Uint8Array[]): string[] => list.map(toHex);
      io.out(JSON.stringify({
        chain: toHex(context.chain),
        lastEpoch: last,
        epoch,
        configurationHash: toHex(context.configurationHash),
        randomness: toHex(context.randomness),
        transcriptHash: toHex(configuration.transcriptHash),
        leader: { index: leader, view, publicKey: toHex(leaderKey) },
        validators: context.validators.length,
        shards: shards.map(({ shard, members, leagues, scores }) => ({
          shard,
          members: keys(members),
          ...(leagues === undefined ? {} : { believable: keys(leagues.believable), normal: keys(leagues.normal) }),
          scores: scores.map(({ publicKey, stake, servi, reputation, score }) => ({ publicKey: toHex(publicKey), stake: stake.toString(), servi, reputation, score })),
        })),
        departures: context.departures.map(({ validator, bond, payout, releaseEpoch }) => ({ validator: toHex(validator), bond: toHex(bond), payout: toHex(payout), releaseEpoch })),
        ...(transcript === undefined ? {} : { transcript: { verified: true, servers: transcript.config.servers.length, session: toHex(transcript.sessionId) } }),
      }));
      return EXIT_OK;
    }
    io.out(`chain ${toHex(context.chain)} verified from the genesis: epochs 1..${last}`);
    io.out(`epoch ${epoch}`);
    io.out(`configuration ${toHex(context.configurationHash)}`);
    io.out(`rnd ${toHex(context.randomness)}`);
    io.out(`transcript ${toHex(configuration.transcriptHash)}`);
    io.out(`leader ${leader} view ${view} ${short(leaderKey)}`);
    io.out(`validators ${context.validators.length}`);
    for (const { shard, members, leagues, scores } of shards) {
      io.out(`shard ${shard}: ${members.map(short).join(" ")}`);
      if (leagues !== undefined) {
        io.out(`  believable ${leagues.believable.map(short).join(" ")}`.trimEnd());
        io.out(`  normal ${leagues.normal.map(short).join(" ")}`.trimEnd());
      }
      for (const { publicKey, stake, servi, reputation, score } of scores) {
        io.out(`  ${short(publicKey)} stake ${stake} servi ${servi} reputation ${reputation} score ${score.toFixed(SCORE_DIGITS)}`);
      }
    }
    io.out(`departures ${context.departures.length}`);
    for (const { validator, bond, payout, releaseEpoch } of context.departures) {
      io.out(`  ${short(validator)} bond ${toHex(bond)} payout ${short(payout)} release from epoch ${releaseEpoch}`);
    }
    if (transcript !== undefined) io.out(`transcript verified: ${transcript.config.servers.length} servers, its hash and rnd are the configuration's`);
    return EXIT_OK;
  },
};

export const epochCommand: CommandBody = {
  usage: "<show> ...",
  help: "",
  subcommands: [showCommand],
};
