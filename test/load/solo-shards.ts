// Real validators for the load tests: one solo ValidatorNode per shard of a test genesis, in this
// process, each listening on an ephemeral 127.0.0.1 port; `nodes[s]` serves shard s.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { genesisToJson, type makeTestGenesis } from "../../src/ledger/genesis.js";
import { keyFileJson, loadNodeSetup, nodeConfigJson } from "../../src/node/config.js";
import { ValidatorNode } from "../../src/node/validator.js";
import { testLogger } from "../support/log.js";

export interface SoloShards {
  /** Holds genesis.json, the keys, configurations and data; removed by `stop`. */
  readonly dir: string;
  readonly nodes: ValidatorNode[];
  /** Each node's stream URL, in shard order. */
  readonly endpoints: string[];
  stop(): Promise<void>;
}

/** Starts one validator per shard of `made` (its validators, one per shard) in a fresh directory named from `prefix`. */
export async function startSoloShards(made: ReturnType<typeof makeTestGenesis>, prefix: string): Promise<SoloShards> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const nodes: ValidatorNode[] = [];
  await writeFile(join(dir, "genesis.json"), genesisToJson(made.genesis));
  for (let i = 0; i < made.genesis.shardCount; i++) {
    await writeFile(join(dir, `key-${i}.json`), keyFileJson(made.validators[i]!));
    await writeFile(join(dir, `node-${i}.json`), nodeConfigJson({
      genesis: "genesis.json", key: `key-${i}.json`, dataDir: `data-${i}`,
      listen: { host: "127.0.0.1", port: 0 }, peers: [], pipeline: { workers: 1, blockIntervalMs: 50 },
    }));
    const setup = loadNodeSetup(join(dir, `node-${i}.json`));
    nodes[setup.shard] = await ValidatorNode.start(setup, { logger: testLogger() });
  }
  return {
    dir, nodes, endpoints: nodes.map((node) => `ws://127.0.0.1:${node.port}/v1/stream`),
    async stop() {
      for (const node of nodes.filter((n) => n !== undefined)) await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
