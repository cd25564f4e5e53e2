/**
 * `ios drp verify FILE`: the white paper's Algorithm 3 (§5.2) on a DRP transcript L, offline
 * (src/epoch/drp/transcript.ts). Prints Z (the ristretto255 encoding) and rnd in hex, then the
 * session's purpose u, timestamp w, n and f, the chain id whose registry the servers' proofs of
 * possession name, and the session id for the reader to match against the intended use (step 1),
 * and exits 0; or exits 1 with the DRP code of the first failed check
 * (CLI_IO if FILE cannot be read; CLI_BAD_PATH, exit 2, if it is not a regular file or is oversized).
 */
import { IosError } from "../errors.js";
import { MAX_TRANSCRIPT_BYTES, verifyTranscript } from "../epoch/drp/transcript.js";
import { EXIT_OK, type CliErrorCode, type Command, type CommandBody } from "./command.js";
import { readInputFile } from "./files.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

const drpVerifyCommand: Command = {
  name: "verify",
  summary: "Verify a DRP transcript: print Z, rnd and the session, or exit 1 with the failed check's code.",
  usage: "FILE",
  help: "FILE is a binary transcript L as the DRP client records it.",
  positionals: 1,
  async run(_values, positionals, io) {
    const file = positionals[0];
    if (file === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "the transcript FILE is required");
    const { z, rnd, config, sessionId } = verifyTranscript(readInputFile(file, MAX_TRANSCRIPT_BYTES));
    io.out(`z ${hex(z.toBytes())}`);
    io.out(`rnd ${hex(rnd)}`);
    io.out(`purpose ${JSON.stringify(config.purpose)}`);
    io.out(`timestamp ${config.timestamp}`);
    io.out(`servers ${config.servers.length} f ${config.faultTolerance} groups ${config.groups.length}`);
    io.out(`chain ${hex(config.chainId)}`);
    io.out(`session ${hex(sessionId)}`);
    return EXIT_OK;
  },
};

export const drpCommand: CommandBody = {
  usage: "<verify> ...",
  help: "",
  subcommands: [drpVerifyCommand],
};
