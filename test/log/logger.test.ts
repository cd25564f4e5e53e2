/**
 * The structured logger (src/log): the root's JSON lines, level filtering and its sources, child
 * bindings, the in-memory log of tests and the simulator, and HandlerFailures' throttled logging.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IosError } from "../../src/errors.js";
import { HandlerFailures } from "../../src/log/handler-failures.js";
import { LOG_LEVEL_ENV, MemoryLog, type LogLevel, createRootLogger, logLevelFromEnv, parseLogLevel } from "../../src/log/logger.js";

/** A root logger writing into an array of raw lines. */
function capturedRoot(level: LogLevel) {
  const lines: string[] = [];
  const logger = createRootLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

describe("root logger", () => {
  it("writes one JSON object per line: level name, time, pid, hostname, message and fields", () => {
    const { logger, lines } = capturedRoot("info");
    const before = Date.now();
    logger.info({ height: 7, peer: "ab" }, "block committed");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith("\n") && !lines[0]!.slice(0, -1).includes("\n"), "exactly one line");
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.level, "info");
    assert.equal(entry.msg, "block committed");
    assert.equal(entry.height, 7);
    assert.equal(entry.peer, "ab");
    assert.equal(entry.pid, process.pid);
    assert.equal(typeof entry.hostname, "string");
    assert.ok(entry.time >= before && entry.time <= Date.now());
  });

  it("drops lines below its level", () => {
    const { logger, lines } = capturedRoot("warn");
    logger.debug("no");
    logger.info("no");
    logger.warn("yes");
    logger.error({ code: "X" }, "yes");
    assert.deepEqual(lines.map((line) => JSON.parse(line).level), ["warn", "error"]);
    const silent = capturedRoot("silent");
    silent.logger.fatal("nothing at all");
    assert.equal(silent.lines.length, 0);
  });

  it("child loggers carry their bindings on every line, nested", () => {
    const { logger, lines } = capturedRoot("debug");
    const bft = logger.child({ subsystem: "bft" });
    bft.child({ shard: 1 }).debug({ view: 2 }, "view change");
    logger.info("root line");
    const [child, root] = lines.map((line) => JSON.parse(line));
    assert.deepEqual([child.subsystem, child.shard, child.view, child.msg], ["bft", 1, 2, "view change"]);
    assert.equal(root.subsystem, undefined);
  });

  it("takes its level from IOS_LOG_LEVEL, else the config's, else info, and refuses unknown names with LOG_BAD_LEVEL", () => {
    assert.equal(logLevelFromEnv(undefined, {}), "info");
    assert.equal(logLevelFromEnv("warn", { [LOG_LEVEL_ENV]: "" }), "warn", "a config's level when the variable is unset or empty");
    assert.equal(logLevelFromEnv("warn", { [LOG_LEVEL_ENV]: "debug" }), "debug", "the variable overrides the config");
    assert.throws(() => logLevelFromEnv(undefined, { [LOG_LEVEL_ENV]: "verbose" }), (error: unknown) => error instanceof IosError && error.code === "LOG_BAD_LEVEL" && /IOS_LOG_LEVEL/.test(error.message));
    assert.throws(() => parseLogLevel(3, "--log-level"), { code: "LOG_BAD_LEVEL" });
    assert.throws(() => createRootLogger({ level: "loud" as never, destination: { write: () => undefined } }), { code: "LOG_BAD_LEVEL" });
  });
});

describe("MemoryLog", () => {
  it("records parsed entries without writing, filtered by field, stamped by its clock", () => {
    let now = 5;
    const log = new MemoryLog({ clock: { now: () => now } });
    log.logger.child({ node: "a" }).debug({ code: "X" }, "first");
    now = 9;
    log.logger.info("second");
    assert.deepEqual(log.entries().map((e) => [e.level, e.msg, e.time]), [["debug", "first", 5], ["info", "second", 9]]);
    assert.deepEqual(log.entries({ node: "a", code: "X" }).map((e) => e.msg), ["first"]);
    assert.equal(log.entries({ node: "b" }).length, 0);
    const unclocked = new MemoryLog();
    unclocked.logger.info("no clock");
    assert.equal(unclocked.entries()[0]!.time, undefined, "no clock, no time: entries stay deterministic");
    log.clear();
    assert.equal(log.entries().length, 0);
  });

  it("filters by level and stays bounded, dropping the older half", () => {
    const log = new MemoryLog({ level: "warn", limit: 4 });
    log.logger.info("ignored");
    for (let i = 0; i < 5; i++) log.logger.warn({ i }, "kept");
    assert.deepEqual(log.entries().map((e) => e["i"]), [2, 3, 4]);
    assert.equal(log.dropped, 2);
    assert.throws(() => new MemoryLog({ limit: 1 }), { code: "LOG_BAD_OPTIONS" });
  });
});

describe("HandlerFailures", () => {
  it("counts every failure by subsystem and code, logs bugs every time and coded rejections at 1, 2, 4, 8, ...", () => {
    const log = new MemoryLog();
    const failures = new HandlerFailures(log.logger);
    for (let i = 0; i < 9; i++) assert.equal(failures.record("cosi", new IosError("COSI_BAD_MESSAGE", `junk ${i}`), { peer: "p" }), "COSI_BAD_MESSAGE");
    assert.equal(failures.record("cosi", new Error("boom")), "INTERNAL");
    assert.equal(failures.record("cosi", "not even an Error"), "INTERNAL");
    assert.equal(failures.count("cosi", "COSI_BAD_MESSAGE"), 9);
    assert.equal(failures.count("cosi", "INTERNAL"), 2);
    assert.equal(failures.count("bft", "INTERNAL"), 0);
    assert.equal(failures.total, 11);
    const rejections = log.entries({ code: "COSI_BAD_MESSAGE" });
    assert.deepEqual(rejections.map((e) => e["count"]), [1, 2, 4, 8]);
    assert.deepEqual(rejections.map((e) => [e.level, e["subsystem"], e["peer"]])[0], ["warn", "cosi", "p"]);
    assert.match(String(rejections[0]!["reason"]), /junk 0/);
    assert.equal(log.entries({ code: "INTERNAL", level: "error" }).length, 2);
    const [family] = failures.metrics();
    assert.equal(family!.name, "ios_handler_errors_total");
    assert.equal(family!.type, "counter");
    assert.deepEqual(family!.samples, [
      { labels: { subsystem: "cosi", code: "COSI_BAD_MESSAGE" }, value: 9 },
      { labels: { subsystem: "cosi", code: "INTERNAL" }, value: 2 },
    ]);
  });
});
