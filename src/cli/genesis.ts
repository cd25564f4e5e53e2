/**
 * `ios genesis`: a devnet's starting files, all derived from one seed (test keys: anyone with
 * the seed holds them), written by `writeDevnetFiles` (src/devnet/files.ts): genesis.json, one
 * key file and one node configuration per validator (of N validators, validator i serves clients
 * on base-port + i and peers on base-port + N + i, and lists its shard's other members as peers), and key files of the first funded accounts for
 * `ios tx send`. Which shard a validator serves comes from the genesis's epoch 0 (src/epoch); the
 * command prints it.
 */
import { IosError } from "../errors.js";
import { MIN_NORMAL_LEAGUE, type ShardingPolicy } from "../consensus/pob/policy.js";
import { DEFAULT_BELIEVABLE, DEFAULT_SAMPLING_P, devnetPobPolicy } from "../devnet/consensus-mode.js";
import { portsFromBase, writeDevnetFiles } from "../devnet/files.js";
import { MAX_EPOCH_LENGTH } from "../ledger/genesis.js";
import { shardOfOwner } from "../ledger/shard.js";
import { MAX_AMOUNT } from "../ledger/transaction.js";
import { EXIT_OK, epochsLine, integerOption, probabilityOption, required, validatorCountOption, type CommandBody, type Values, type CliErrorCode } from "./command.js";
import { outputPath } from "./files.js";
import { toHex } from "../hex.js";

const DEFAULT_AMOUNT = 1_000_000n;
const DEFAULT_BASE_PORT = 7000;
const DEFAULT_ACCOUNT_KEY_FILES = 10;
const MAX_VALIDATORS = 1024;
const MAX_ACCOUNTS = 1 << 20;

/** The PoB sharding policy of `--believable` / `--sampling-p` for shards of `perShard` validators. */
function pobPolicyOf(values: Values, perShard: number): ShardingPolicy {
  if (perShard < MIN_NORMAL_LEAGUE) throw new IosError<CliErrorCode>("CLI_USAGE", `--consensus pob needs at least ${MIN_NORMAL_LEAGUE} validators per shard (the normal league's minimum), got ${perShard}`);
  const believable = integerOption(values, "believable", 0, perShard - MIN_NORMAL_LEAGUE, Math.min(DEFAULT_BELIEVABLE, perShard - MIN_NORMAL_LEAGUE));
  return devnetPobPolicy({ validatorsPerShard: perShard, believable, samplingProbability: probabilityOption(values, "sampling-p", DEFAULT_SAMPLING_P) });
}

export const genesisCommand: CommandBody = {
  usage: "--shards M (--validators N | --validators-per-shard K) --accounts K --seed S --out DIR [options]",
  help: [
    "options:",
    "  --shards M          shard count (1..1024)",
    "  --validators N      validators in all (N >= M); the genesis's epoch-0 randomness",
    "                      deals them out, ⌊N/M⌋ or ⌈N/M⌉ to a shard (printed below)",
    "  --validators-per-shard K  or K validators in every shard (N = K × M), as in `ios devnet`",
    "  --accounts K        funded test accounts, derived from the seed",
    "  --seed S            seed of every key (test keys: do not reuse for real funds)",
    "  --out DIR           output directory",
    `  --amount A          funds per account (default ${DEFAULT_AMOUNT})`,
    `  --base-port P       of N validators, validator i serves clients on P + i and peers`,
    `                      on P + N + i (default ${DEFAULT_BASE_PORT})`,
    "  --host H            listen host of every validator (default 127.0.0.1)",
    `  --account-keys C    key files written for the first C accounts (default min(K, ${DEFAULT_ACCOUNT_KEY_FILES}))`,
    "  --consensus MODE    solo (default: each validator commits alone), bft (a shard's",
    "                      validators agree on every block, all verifying every signature) or",
    "                      pob (Proof-of-Believability: believable validators confirm at once,",
    "                      the normal league finalizes by BFT and samples signatures)",
    `  --believable B      pob: believable validators per shard (default ${DEFAULT_BELIEVABLE}); the rest`,
    "                      of a shard's validators form its normal league",
    `  --sampling-p P      pob: probability that a normal validator re-verifies a signature (default ${DEFAULT_SAMPLING_P})`,
    `  --epoch-length L    final blocks per shard per epoch (1..${MAX_EPOCH_LENGTH}); default: one endless epoch`,
    "  --force             overwrite existing files",
    "",
    "writes DIR/genesis.json, DIR/validator-<i>.key.json, DIR/validator-<i>.config.json,",
    "DIR/account-<j>.key.json; start a validator with `ios node --config DIR/validator-0.config.json`.",
  ].join("\n"),
  options: {
    shards: { type: "string" },
    validators: { type: "string" },
    "validators-per-shard": { type: "string" },
    accounts: { type: "string" },
    seed: { type: "string" },
    out: { type: "string" },
    amount: { type: "string" },
    "base-port": { type: "string" },
    host: { type: "string" },
    "account-keys": { type: "string" },
    consensus: { type: "string" },
    believable: { type: "string" },
    "sampling-p": { type: "string" },
    "epoch-length": { type: "string" },
    force: { type: "boolean" },
  },
  async run(values, _positionals, io) {
    const shards = integerOption(values, "shards", 1, 1024);
    const validatorCount = validatorCountOption(values, shards, MAX_VALIDATORS).total;
    const accountCount = integerOption(values, "accounts", 1, MAX_ACCOUNTS);
    const seed = required(values, "seed");
    const out = await outputPath(required(values, "out"), "--out");
    const host = typeof values.host === "string" ? values.host : "127.0.0.1";
    const basePort = integerOption(values, "base-port", 1, 65_535 - 2 * validatorCount + 1, DEFAULT_BASE_PORT);
    const accountKeys = integerOption(values, "account-keys", 0, accountCount, Math.min(accountCount, DEFAULT_ACCOUNT_KEY_FILES));
    const amountText = typeof values.amount === "string" ? values.amount : String(DEFAULT_AMOUNT);
    if (!/^[1-9][0-9]{0,19}$/.test(amountText) || BigInt(amountText) > MAX_AMOUNT) throw new IosError<CliErrorCode>("CLI_USAGE", `--amount must be an integer in [1, 2^64-1], got ${JSON.stringify(amountText)}`);
    const amount = BigInt(amountText);
    if (amount * BigInt(accountCount) > MAX_AMOUNT) throw new IosError<CliErrorCode>("CLI_USAGE", `--amount × --accounts = ${amount * BigInt(accountCount)} exceeds the u64 supply limit`);
    const consensus = values.consensus ?? "solo";
    if (consensus !== "solo" && consensus !== "bft" && consensus !== "pob") throw new IosError<CliErrorCode>("CLI_USAGE", `--consensus must be solo, bft or pob, got ${JSON.stringify(consensus)}`);
    const pob = consensus === "pob" ? pobPolicyOf(values, Math.floor(validatorCount / shards)) : undefined;
    const epochLength = values["epoch-length"] === undefined ? undefined : integerOption(values, "epoch-length", 1, MAX_EPOCH_LENGTH);

    const layout = writeDevnetFiles({
      dir: out,
      seed,
      shards,
      validators: validatorCount,
      accounts: accountCount,
      amount,
      timestamp: Date.now(),
      host,
      ...portsFromBase(basePort, validatorCount),
      consensus,
      ...(pob === undefined ? {} : { pob }),
      ...(epochLength === undefined ? {} : { epochLength }),
      accountKeyFiles: accountKeys,
      force: values.force === true,
    });

    io.out(`genesis: ${shards} shard(s), ${validatorCount} validator(s), ${accountCount} account(s) of ${amount} → ${layout.genesisFile}`);
    io.out(epochsLine(epochLength));
    for (const v of layout.validators) io.out(`validator ${v.index}: shard ${v.shard}, port ${v.port}, peer port ${v.peerPort}, key ${v.publicKey}`);
    for (let j = 0; j < accountKeys; j++) io.out(`account ${j}: shard ${shardOfOwner(layout.accounts[j]!.publicKey, shards)}, key ${toHex(layout.accounts[j]!.publicKey)}`);
    return EXIT_OK;
  },
};
