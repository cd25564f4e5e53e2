// `ios drp verify FILE` as a person runs it: an n = 4 transcript recorded by the DRP client
// prints the client's Z and rnd and the session; a changed Z or a changed signature byte exits 1 with the code of
// the failed check; an unreadable file exits 1 with CLI_IO; a missing FILE, a device or a directory exits 2.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RistrettoPoint } from "../../src/epoch/drp/dleq.js";
import { makeParties, runSession } from "../epoch/drp/harness.js";
import { ios } from "./helpers.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("ios drp verify", () => {
  it("prints Z and rnd of a valid transcript; names the failed check of a changed one", async () => {
    const parties = makeParties(4, 1, "cli-4");
    const client = runSession(parties);
    const transcript = client.transcript();
    const { z, rnd } = client.output();
    const directory = mkdtempSync(join(tmpdir(), "ios-drp-"));
    try {
      const file = join(directory, "transcript.bin");
      writeFileSync(file, transcript);
      const ok = await ios(["drp", "verify", file]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(
        ok.stdout,
        [
          `z ${hex(z.toBytes())}`,
          `rnd ${hex(rnd)}`,
          `purpose "epoch randomness cli-4"`,
          `timestamp ${parties.config.timestamp}`,
          "servers 4 f 1 groups 1",
          `chain ${hex(parties.config.chainId)}`,
          `session ${hex(client.sessionId)}`,
          "",
        ].join("\n"),
      );

      // Z is the last 32 bytes; the last R3's signature ends just before it.
      const otherZ = Uint8Array.from(transcript);
      otherZ.set(z.add(RistrettoPoint.BASE).toBytes(), transcript.length - 32);
      const badSignature = Uint8Array.from(transcript);
      badSignature[transcript.length - 40]! ^= 0x01;
      for (const [bytes, code] of [
        [otherZ, /DRP_WRONG_OUTPUT/],
        [badSignature, /DRP_BAD_SIGNATURE/],
      ] as const) {
        writeFileSync(file, bytes);
        const bad = await ios(["drp", "verify", file]);
        assert.equal(bad.code, 1, bad.stdout);
        assert.match(bad.stderr, code);
        assert.equal(bad.stdout, "");
      }

      const missing = await ios(["drp", "verify", join(directory, "absent.bin")]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /CLI_IO/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("refuses a missing FILE with CLI_USAGE and exit 2", async () => {
    const run = await ios(["drp", "verify"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /CLI_USAGE/);
  });

  it("refuses a device or a directory without reading it (CLI_BAD_PATH, exit 2): /dev/zero would never end", async () => {
    for (const path of ["/dev/zero", tmpdir()]) {
      const run = await ios(["drp", "verify", path]);
      assert.equal(run.code, 2, path);
      assert.match(run.stderr, /CLI_BAD_PATH/, path);
    }
  });
});
