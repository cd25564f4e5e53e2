// `ios vrf prove|verify` as a person runs it, against RFC 9381 Appendix B.3 (Examples 16–18,
// ECVRF-EDWARDS25519-SHA512-TAI): the printed pi and beta, verification of each published proof,
// and the exit codes of a flipped proof byte, another input, a bad key and malformed arguments.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyPairFromSecret } from "../../src/ledger/keys.js";
import { keyFileJson } from "../../src/node/config.js";
import { readVectorFile } from "../support/vectors.js";
import { ios } from "./helpers.js";

interface Vector { name: string; secretKey: string; publicKey: string; alpha: string; proof: string; output: string }
const { vectors } = readVectorFile<{ vectors: Vector[] }>("rfc9381-ecvrf-edwards25519-sha512-tai.json");

describe("ios vrf", () => {
  it("proves each RFC 9381 example from a secret or a key file, printing the published pi and beta", async () => {
    const directory = mkdtempSync(join(tmpdir(), "ios-vrf-"));
    try {
      for (const v of vectors) {
        const file = join(directory, `${v.name}.key.json`);
        writeFileSync(file, keyFileJson(keyPairFromSecret(new Uint8Array(Buffer.from(v.secretKey, "hex")))));
        for (const source of [["--secret-hex", v.secretKey], ["--key", file]]) {
          const run = await ios(["vrf", "prove", ...source, "--alpha", v.alpha]);
          assert.equal(run.code, 0, run.stderr);
          assert.equal(run.stdout, `pi ${v.proof}\nbeta ${v.output}\n`, `${v.name} via ${source[0]}`);
        }
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("verifies each published proof and prints beta; refuses a flipped byte, another input or another key with VRF_BAD_PROOF", async () => {
    for (const v of vectors) {
      const ok = await ios(["vrf", "verify", "--pub", v.publicKey, "--alpha", v.alpha, "--pi", v.proof]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, `beta ${v.output}\n`);
    }
    const v = vectors[2]!;
    const flipped = Buffer.from(v.proof, "hex");
    flipped[50]! ^= 0x01;
    const other = vectors[1]!;
    for (const args of [
      ["--pub", v.publicKey, "--alpha", v.alpha, "--pi", flipped.toString("hex")],
      ["--pub", v.publicKey, "--alpha", "af83", "--pi", v.proof],
      ["--pub", other.publicKey, "--alpha", v.alpha, "--pi", v.proof],
      // A small-order key (the identity point) is refused by validate_key (RFC 9381 §5.4.5).
      ["--pub", "01".padEnd(64, "0"), "--alpha", v.alpha, "--pi", v.proof],
    ]) {
      const bad = await ios(["vrf", "verify", ...args]);
      assert.equal(bad.code, 1, bad.stdout);
      assert.match(bad.stderr, /VRF_BAD_PROOF/);
    }
  });

  it("refuses malformed arguments with CLI_USAGE and exit 2", async () => {
    const v = vectors[0]!;
    for (const args of [
      ["prove", "--alpha", "00"],
      ["prove", "--secret-hex", v.secretKey, "--key", "x.json", "--alpha", "00"],
      ["prove", "--secret-hex", v.secretKey.slice(2), "--alpha", "00"],
      ["prove", "--secret-hex", v.secretKey, "--alpha", "abc"],
      ["prove", "--secret-hex", v.secretKey],
      ["verify", "--pub", v.publicKey.slice(2), "--alpha", "", "--pi", v.proof],
      ["verify", "--pub", v.publicKey, "--alpha", "", "--pi", v.proof.slice(2)],
      ["verify", "--pub", v.publicKey, "--alpha", "zz", "--pi", v.proof],
    ]) {
      const run = await ios(["vrf", ...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stdout}`);
      assert.match(run.stderr, /CLI_USAGE/);
    }
  });
});
