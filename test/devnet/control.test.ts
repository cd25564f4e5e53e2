/**
 * The devnet control path's codec and errors (src/devnet/control.ts): requests and replies round
 * trip; anything else (not JSON, unknown fields, a bad op, token or index, an oversized line, a
 * malformed reply) is DEVNET_BAD_CONTROL; a launcher that is gone is DEVNET_LAUNCHER_GONE; a wrong
 * token is refused by a real server, and the launcher's coded errors come back with their code.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import { CONTROL_FILE, controlDevnet, decodeControlReply, decodeControlRequest, encodeControlReply, encodeControlRequest, serveControl } from "../../src/devnet/control.js";
import type { Devnet, ValidatorView } from "../../src/devnet/launcher.js";

const root = mkdtempSync(join(tmpdir(), "ios-control-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = "ab".repeat(32);
const coded = (code: string) => (error: unknown) => error instanceof IosError && error.code === code;
const VIEW: ValidatorView = { index: 0, shard: 0, league: "bft", pid: 42, state: "running", http: "http://127.0.0.1:1", log: "/x.log", restarts: 0, exit: null };

describe("devnet control codec", () => {
  it("round-trips requests and replies", () => {
    for (const request of [{ token: TOKEN, op: "status" as const }, { token: TOKEN, op: "restart" as const, validator: 3 }, { token: TOKEN, op: "pause" as const, validator: 0 }]) {
      const line = encodeControlRequest(request);
      assert.ok(line.endsWith("\n"));
      assert.deepEqual(decodeControlRequest(line.trimEnd()), request);
    }
    const ok = { ok: true as const, validators: [VIEW] };
    assert.deepEqual(decodeControlReply(encodeControlReply(ok).trimEnd()), ok);
    const refusal = { ok: false as const, code: "DEVNET_NO_VALIDATOR", message: "no 9" };
    assert.deepEqual(decodeControlReply(encodeControlReply(refusal).trimEnd()), refusal);
  });

  it("refuses malformed requests with DEVNET_BAD_CONTROL", () => {
    const bad = [
      "not json",
      "[1]",
      JSON.stringify({ token: TOKEN, op: "status", extra: 1 }),
      JSON.stringify({ token: "short", op: "status" }),
      JSON.stringify({ token: TOKEN, op: "explode", validator: 1 }),
      JSON.stringify({ token: TOKEN, op: "status", validator: 1 }),
      JSON.stringify({ token: TOKEN, op: "stop" }),
      JSON.stringify({ token: TOKEN, op: "stop", validator: 1.5 }),
      JSON.stringify({ token: TOKEN, op: "stop", validator: "1" }),
      JSON.stringify({ token: TOKEN, op: "stop", validator: 1, pad: "x".repeat(5000) }),
    ];
    for (const line of bad) assert.throws(() => decodeControlRequest(line), coded("DEVNET_BAD_CONTROL"), line.slice(0, 80));
  });

  it("refuses malformed replies with DEVNET_BAD_CONTROL", () => {
    const bad = ["{}", JSON.stringify({ ok: false, code: "lower", message: "m" }), JSON.stringify({ ok: true, validators: [{ index: 0 }] }), JSON.stringify({ ok: true, validators: [{ ...VIEW, state: "zombie" }] }), "nope"];
    for (const line of bad) assert.throws(() => decodeControlReply(line), coded("DEVNET_BAD_CONTROL"), line);
  });
});

describe("devnet control over TCP", () => {
  /** A launcher stand-in: the control server only calls these methods. */
  const devnet = {
    validators: () => [VIEW],
    stopValidator: async (index: number) => {
      throw new IosError("DEVNET_NO_VALIDATOR", `not ${index}`);
    },
  } as unknown as Devnet;

  it("answers with the views, passes the launcher's codes back, refuses a wrong token", async () => {
    const dir = join(root, "live");
    mkdirSync(dir);
    const server = await serveControl(devnet, dir);
    try {
      assert.deepEqual(await controlDevnet(dir, "status"), [VIEW]);
      await assert.rejects(controlDevnet(dir, "stop", 7), coded("DEVNET_NO_VALIDATOR"));
      const file = join(dir, CONTROL_FILE);
      const contents = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...contents, token: "cd".repeat(32) }));
      await assert.rejects(controlDevnet(dir, "status"), coded("DEVNET_BAD_CONTROL"));
    } finally {
      await server.close();
    }
    await assert.rejects(controlDevnet(dir, "status"), coded("DEVNET_LAUNCHER_GONE"), "close removes control.json");
  });

  it("reports a launcher that is gone or silent as DEVNET_LAUNCHER_GONE", async () => {
    const dir = join(root, "gone");
    mkdirSync(dir);
    await assert.rejects(controlDevnet(dir, "status"), coded("DEVNET_LAUNCHER_GONE"));
    // A port nobody listens on any more.
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, "127.0.0.1", () => ok()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((ok) => probe.close(() => ok()));
    writeFileSync(join(dir, CONTROL_FILE), JSON.stringify({ schema: "ioschain.devnet-control/1", host: "127.0.0.1", port, token: TOKEN, launcherPid: 1 }));
    await assert.rejects(controlDevnet(dir, "status"), coded("DEVNET_LAUNCHER_GONE"));
    // A listener that never answers.
    const silent = createServer(() => undefined);
    await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", () => ok()));
    writeFileSync(join(dir, CONTROL_FILE), JSON.stringify({ schema: "ioschain.devnet-control/1", host: "127.0.0.1", port: (silent.address() as { port: number }).port, token: TOKEN, launcherPid: 1 }));
    try {
      await assert.rejects(controlDevnet(dir, "status", undefined, 300), coded("DEVNET_LAUNCHER_GONE"));
    } finally {
      silent.close();
    }
    writeFileSync(join(dir, CONTROL_FILE), "{}");
    await assert.rejects(controlDevnet(dir, "status"), coded("DEVNET_BAD_CONTROL"));
  });
});
