/** `ios keys new|show`: Ed25519 key files (format in src/node/config.ts). */
import { IosError } from "../errors.js";
import { randomBytes } from "node:crypto";
import { keyPairFromSecret } from "../ledger/keys.js";
import { shardOfOwner } from "../ledger/shard.js";
import { keyFileJson, loadKeyFile } from "../node/config.js";
import { EXIT_OK, integerOption, required, type Command, type CommandBody, type CliErrorCode } from "./command.js";
import { outputPath, writeNewFile } from "./files.js";

const keysNew: Command = {
  name: "new",
  summary: "Generate a new Ed25519 key pair into a key file.",
  usage: "--out FILE [--force]",
  help: [
    "options:",
    "  --out FILE   where to write the key file (created with mode 0600)",
    "  --force      overwrite FILE if it exists",
  ].join("\n"),
  options: { out: { type: "string" }, force: { type: "boolean" } },
  async run(values, _positionals, io) {
    const file = await outputPath(required(values, "out"), "--out");
    const pair = keyPairFromSecret(randomBytes(32));
    writeNewFile(file, keyFileJson(pair), values.force === true, 0o600);
    io.out(`public key ${Buffer.from(pair.publicKey).toString("hex")}`);
    io.out(`written to ${file}`);
    return EXIT_OK;
  },
};

const keysShow: Command = {
  name: "show",
  summary: "Print the public key of a key file (and its shard with --shards).",
  usage: "FILE [--shards M]",
  help: ["options:", "  --shards M   also print the shard of the key among M shards"].join("\n"),
  options: { shards: { type: "string" } },
  positionals: 1,
  async run(values, positionals, io) {
    const file = positionals[0];
    if (file === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "the key FILE is required");
    const shards = values.shards === undefined ? undefined : integerOption(values, "shards", 1, 1024);
    const pair = loadKeyFile(file);
    io.out(`public key ${Buffer.from(pair.publicKey).toString("hex")}`);
    if (shards !== undefined) io.out(`shard ${shardOfOwner(pair.publicKey, shards)} of ${shards}`);
    return EXIT_OK;
  },
};

export const keysCommand: CommandBody = {
  usage: "<new|show> ...",
  help: "",
  subcommands: [keysNew, keysShow],
};
