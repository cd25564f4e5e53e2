/** `ios node --config FILE`: runs one validator until SIGINT / SIGTERM. */
import { LOG_LEVEL_ENV, createRootLogger, logLevelFromEnv } from "../log/logger.js";
import { toHex } from "../hex.js";
import { loadNodeSetup } from "../node/config.js";
import { EXIT_OK, required, type CommandBody } from "./command.js";

export const nodeCommand: CommandBody = {
  usage: "--config FILE [--no-prune]",
  help: [
    "options:",
    "  --config FILE   node configuration (see `ios genesis`, which writes one per validator)",
    "  --no-prune      keep every block (the configuration's \"store\": {\"prune\": false}); by default a",
    "                  validator keeps the blocks of the last two epochs and the MSBs (src/store/schema.ts)",
    "",
    `Logs are JSON lines on stderr, at the level of $${LOG_LEVEL_ENV}, else the configuration's "log": {"level"}, else info.`,
    "Serves clients on http://HOST:PORT/v1/... and /metrics (listen.port) and peers on",
    "ws://HOST:PEERPORT/peer (listen.peerPort); peers dialing ws://HOST:PORT/peer also connect.",
    "Stops cleanly (state flushed) on SIGINT or SIGTERM.",
  ].join("\n"),
  options: { config: { type: "string" }, "no-prune": { type: "boolean" } },
  async run(values, _positionals, io) {
    const loaded = loadNodeSetup(required(values, "config"));
    const setup = values["no-prune"] === true ? { ...loaded, config: { ...loaded.config, store: { prune: false } } } : loaded;
    const logger = createRootLogger({ level: logLevelFromEnv(setup.config.logLevel) });
    // Loaded on demand: the other commands should not pay for LMDB, uWS and the worker pool.
    const { ValidatorNode } = await import("../node/validator.js");
    const node = await ValidatorNode.start(setup, { logger });
    io.out(`${node.role} ${toHex(setup.key.publicKey)} epoch ${node.context.epoch} shard ${node.shard} of ${setup.genesis.shardCount}, height ${node.tipHeight}`);
    io.out(`listening on http://${setup.config.listen.host}:${node.port}`);
    io.out(`peers on ws://${setup.config.listen.host}:${node.peerPort}/peer`);
    const log = logger.child({ subsystem: "node" });
    log.info({ publicKey: toHex(setup.key.publicKey), shard: setup.shard, epoch: setup.context.epoch, height: node.tipHeight, port: node.port, peerPort: node.peerPort }, "validator started");
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    io.out("stopping");
    await node.stop();
    log.info("validator stopped");
    io.out("stopped");
    return EXIT_OK;
  },
};
