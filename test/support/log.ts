// Loggers for tests: entries stay in memory (MemoryLog), so a test can assert on them and the
// test output stays clean.
import { HandlerFailures } from "../../src/log/handler-failures.js";
import { MemoryLog, type Logger } from "../../src/log/logger.js";

export function testLogger(): Logger {
  return new MemoryLog().logger;
}

export function testFailures(): HandlerFailures {
  return new HandlerFailures(testLogger());
}
