/**
 * `ios vrf prove|verify`: the ECVRF of RFC 9381 (ECVRF-EDWARDS25519-SHA512-TAI, src/crypto/vrf.ts)
 * from the command line. `prove` prints pi (80 bytes) and beta (64 bytes) in hex; `verify` prints
 * beta and exits 0 for a valid proof, or exits 1 with VRF_BAD_PROOF (also for a key that is not a
 * valid, non-small-order curve point: RFC 9381 §5.4.5 validate_key).
 */
import { IosError } from "../errors.js";
import { SECRET_KEY_BYTES, VRF_PROOF_BYTES } from "../codec/sizes.js";
import { vrfProofToHash, vrfProve, vrfVerify, type VrfErrorCode } from "../crypto/vrf.js";
import { loadKeyFile } from "../node/config.js";
import { EXIT_OK, hexKeyArgument, required, type CliErrorCode, type Command, type CommandBody, type Values } from "./command.js";

/** Hex of any length (alpha), or exactly `bytes` bytes when given. */
function hexOption(values: Values, name: string, bytes?: number): Uint8Array {
  const text = required(values, name);
  const ok = /^([0-9a-fA-F]{2})*$/.test(text) && (bytes === undefined || text.length === 2 * bytes);
  if (!ok) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} must be ${bytes === undefined ? "an even number of" : `${2 * bytes}`} hex digits, got ${JSON.stringify(text)}`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** --alpha may be empty (RFC 9381 Example 16 proves the empty string). */
function alphaOf(values: Values): Uint8Array {
  const text = values.alpha;
  if (text === "") return new Uint8Array(0);
  return hexOption(values, "alpha");
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

const vrfProveCommand: Command = {
  name: "prove",
  summary: "Prove a VRF output: print pi and beta in hex.",
  usage: "(--key FILE | --secret-hex HEX) --alpha HEX",
  help: [
    "options:",
    "  --key FILE         an Ed25519 key file (ios keys new)",
    "  --secret-hex HEX   or the 32-byte Ed25519 seed in hex",
    "  --alpha HEX        the input, hex (may be empty: --alpha '')",
  ].join("\n"),
  options: { key: { type: "string" }, "secret-hex": { type: "string" }, alpha: { type: "string" } },
  async run(values, _positionals, io) {
    if ((values.key === undefined) === (values["secret-hex"] === undefined)) throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --key FILE and --secret-hex HEX");
    const secret = values.key !== undefined ? loadKeyFile(required(values, "key")).secretKey : hexOption(values, "secret-hex", SECRET_KEY_BYTES);
    const pi = vrfProve(secret, alphaOf(values));
    io.out(`pi ${hex(pi)}`);
    io.out(`beta ${hex(vrfProofToHash(pi))}`);
    return EXIT_OK;
  },
};

const vrfVerifyCommand: Command = {
  name: "verify",
  summary: "Verify a VRF proof: print beta, or exit 1 with VRF_BAD_PROOF.",
  usage: "--pub HEX --alpha HEX --pi HEX",
  help: [
    "options:",
    "  --pub HEX     the prover's Ed25519 public key (64 hex digits)",
    "  --alpha HEX   the input, hex (may be empty)",
    `  --pi HEX      the proof (${2 * VRF_PROOF_BYTES} hex digits)`,
  ].join("\n"),
  options: { pub: { type: "string" }, alpha: { type: "string" }, pi: { type: "string" } },
  async run(values, _positionals, io) {
    const publicKey = hexKeyArgument(typeof values.pub === "string" ? values.pub : undefined, "--pub");
    const beta = vrfVerify(publicKey, hexOption(values, "pi", VRF_PROOF_BYTES), alphaOf(values));
    if (beta === undefined) throw new IosError<VrfErrorCode>("VRF_BAD_PROOF", "the proof does not show this output of this key on this input (or the key is not a valid curve point)");
    io.out(`beta ${hex(beta)}`);
    return EXIT_OK;
  },
};

export const vrfCommand: CommandBody = {
  usage: "<prove|verify> ...",
  help: "",
  subcommands: [vrfProveCommand, vrfVerifyCommand],
};
