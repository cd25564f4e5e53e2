/** `ios node --config FILE`: runs one validator until SIGINT / SIGTERM. */
import { LOG_LEVEL_ENV, createRootLogger, logLevelFromEnv, parseLogLevel } from "../log/logger.js";
import { loadNodeSetup } from "../node/config.js";
import { EXIT_OK, required, type Command } from "./command.js";

export const nodeCommand: Command = {
  name: "node",
  summary: "Run a validator from its configuration file.",
  usage: "--config FILE [--log-level LEVEL]",
  help: [
    "options:",
    "  --config FILE      node configuration (see `ios genesis`, which writes one per validator)",
    `  --log-level LEVEL  fatal, error, warn, info, debug, trace or silent (default $${LOG_LEVEL_ENV}, else info)`,
    "",
    "Logs are JSON lines on stderr; stdout carries the lines below.",
    "Serves peers on ws://HOST:PORT/peer and clients on http://HOST:PORT/v1/... and /metrics.",
    "Stops cleanly (state flushed) on SIGINT or SIGTERM.",
  ].join("\n"),
  options: { config: { type: "string" }, "log-level": { type: "string" } },
  async run(values, _positionals, io) {
    const setup = loadNodeSetup(required(values, "config"));
    const levelFlag = values["log-level"];
    const logger = createRootLogger({ level: levelFlag === undefined ? logLevelFromEnv() : parseLogLevel(levelFlag, "--log-level") });
    // Loaded on demand: the other commands should not pay for LMDB, uWS and the worker pool.
    const { ValidatorNode } = await import("../node/validator.js");
    const node = await ValidatorNode.start(setup, { logger });
    io.out(`validator ${Buffer.from(setup.key.publicKey).toString("hex")} shard ${setup.config.shard} of ${setup.genesis.shardCount}, height ${node.tipHeight}`);
    io.out(`listening on http://${setup.config.listen.host}:${node.port}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    io.out("stopping");
    await node.stop();
    io.out("stopped");
    return EXIT_OK;
  },
};
