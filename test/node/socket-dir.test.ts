/**
 * A validator's client socket directory (src/node/socket-dir.ts): one per data directory, taken
 * back from a validator that died without its stop, refused while a listener answers on its
 * socket, and never followed or removed when it is not this user's directory. Real Unix sockets.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import { claimSocketDirectory, releaseSocketDirectory, SOCKET_FILE, socketDirectoryOf } from "../../src/node/socket-dir.js";

const home = mkdtempSync(join(tmpdir(), "ios-socket-dir-test-"));
const claimed: string[] = [];
after(() => {
  for (const path of claimed) rmSync(path, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

/** A fresh data directory of this test and its socket directory, removed at the end. */
function dataDirectory(name: string): { dataDir: string; socketDir: string } {
  const dataDir = join(home, name);
  mkdirSync(dataDir);
  const socketDir = socketDirectoryOf(dataDir);
  claimed.push(socketDir);
  return { dataDir, socketDir };
}

const refusedWith = (code: string) => (error: unknown) => error instanceof IosError && error.code === code;

function listen(path: string): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer((socket) => socket.destroy());
    server.once("error", fail);
    server.listen(path, () => done(server));
  });
}

/** A child process listening on `path`, SIGKILLed once it listens. */
async function listenAndDie(path: string): Promise<void> {
  const child = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}, () => console.log("up"))`], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((done) => child.stdout!.once("data", () => done()));
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGKILL");
  await exited;
}

describe("socket directory", () => {
  it("is one path per data directory, the same through a symbolic link, in the temporary directory", () => {
    const { dataDir, socketDir } = dataDirectory("named");
    const other = dataDirectory("other");
    const link = join(home, "link");
    symlinkSync(dataDir, link);
    assert.equal(socketDirectoryOf(link), socketDir);
    assert.notEqual(other.socketDir, socketDir);
    assert.match(socketDir, /\/ios-uws-[0-9a-f]{16}$/);
    assert.ok(join(socketDir, SOCKET_FILE).length < 108, "a socket path fits sun_path");
  });

  it("is made afresh, private, when absent or left by a validator that died (a socket nothing answers on)", async () => {
    const { dataDir, socketDir } = dataDirectory("stale");
    assert.equal(await claimSocketDirectory(dataDir), socketDir);
    assert.equal(lstatSync(socketDir).mode & 0o777, 0o700);
    // What a killed validator leaves: its socket file, nothing listening (a clean close would unlink it).
    await listenAndDie(join(socketDir, SOCKET_FILE));
    assert.ok(lstatSync(join(socketDir, SOCKET_FILE)).isSocket());
    writeFileSync(join(socketDir, "left-over"), "x");
    assert.equal(await claimSocketDirectory(dataDir), socketDir);
    assert.deepEqual(readdirSync(socketDir), ["pid"], "the dead validator's files are gone; the claim names its process");
  });

  it("is released by a supervisor only for the process that claimed it", async () => {
    const { dataDir, socketDir } = dataDirectory("owned");
    await claimSocketDirectory(dataDir);
    releaseSocketDirectory(dataDir, process.pid + 1);
    assert.ok(existsSync(socketDir), "another process's exit (a start refused there) leaves it");
    releaseSocketDirectory(dataDir, process.pid);
    assert.ok(!existsSync(socketDir), "the claiming process's exit removes it");
    releaseSocketDirectory(dataDir, process.pid);
  });

  it("is refused while a listener answers on its socket (NODE_DATA_DIR_IN_USE), and left to it", async () => {
    const { dataDir, socketDir } = dataDirectory("busy");
    await claimSocketDirectory(dataDir);
    const server = await listen(join(socketDir, SOCKET_FILE));
    try {
      await assert.rejects(claimSocketDirectory(dataDir), refusedWith("NODE_DATA_DIR_IN_USE"));
      assert.ok(existsSync(join(socketDir, SOCKET_FILE)), "the running validator's socket stays");
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it("is refused when its path is a symbolic link or a file (NODE_SOCKET_DIR_UNSAFE), which stay", async () => {
    const linked = dataDirectory("linked");
    const target = join(home, "target");
    mkdirSync(target);
    writeFileSync(join(target, "kept"), "x");
    symlinkSync(target, linked.socketDir);
    await assert.rejects(claimSocketDirectory(linked.dataDir), refusedWith("NODE_SOCKET_DIR_UNSAFE"));
    assert.ok(lstatSync(linked.socketDir).isSymbolicLink() && existsSync(join(target, "kept")), "neither the link nor what it points at is touched");

    const filed = dataDirectory("filed");
    writeFileSync(filed.socketDir, "x");
    await assert.rejects(claimSocketDirectory(filed.dataDir), refusedWith("NODE_SOCKET_DIR_UNSAFE"));
    assert.ok(lstatSync(filed.socketDir).isFile());
  });

  it("is refused with NODE_SOCKET_DIR_FAILED, not as a rival's, when the temporary directory cannot hold it", async () => {
    const { dataDir } = dataDirectory("no-tmp");
    // A file where the temporary directory should be: making anything in it fails (ENOTDIR), even for root.
    const notADirectory = join(home, "tmp-is-a-file");
    writeFileSync(notADirectory, "x");
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = notADirectory;
    try {
      await assert.rejects(claimSocketDirectory(dataDir), refusedWith("NODE_SOCKET_DIR_FAILED"));
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    // With its temporary directory back, the same data directory is claimed.
    const directory = await claimSocketDirectory(dataDir);
    assert.ok(lstatSync(directory).isDirectory());
  });
});
