/**
 * `ios drp verify FILE`: the white paper's Algorithm 3 (§5.2) on a DRP transcript L, offline
 * (src/epoch/drp/transcript.ts). Prints Z (the ristretto255 encoding) and rnd in hex and exits 0,
 * or exits 1 with the DRP code of the first failed check (CLI_IO if FILE cannot be read).
 */
import { readFileSync } from "node:fs";
import { IosError } from "../errors.js";
import { verifyTranscript } from "../epoch/drp/transcript.js";
import { EXIT_OK, type CliErrorCode, type Command } from "./command.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

const drpVerifyCommand: Command = {
  name: "verify",
  summary: "Verify a DRP transcript: print Z and rnd, or exit 1 with the failed check's code.",
  usage: "FILE",
  help: "FILE is a binary transcript L as the DRP client records it.",
  positionals: 1,
  async run(_values, positionals, io) {
    const file = positionals[0];
    if (file === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "the transcript FILE is required");
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (error) {
      throw new IosError<CliErrorCode>("CLI_IO", `cannot read ${file}: ${(error as Error).message}`);
    }
    const { z, rnd } = verifyTranscript(bytes);
    io.out(`z ${hex(z.toBytes())}`);
    io.out(`rnd ${hex(rnd)}`);
    return EXIT_OK;
  },
};

export const drpCommand: Command = {
  name: "drp",
  summary: "Verify Distributed Randomness Protocol transcripts (white paper §5).",
  usage: "<verify> ...",
  help: "",
  subcommands: [drpVerifyCommand],
};
