/** `ios balance`, `ios status`: commands that read a node's client API. They load the HTTP client alone. */
import { ApiClient } from "../api/client.js";
import { EXIT_OK, hexKeyArgument, type CommandBody } from "./command.js";

export const DEFAULT_NODE = "http://127.0.0.1:7000";
const NODE_OPTION = { node: { type: "string" as const } };
const NODE_HELP = `  --node URL     the node's client API (default ${DEFAULT_NODE})`;

/** The client of `--node` (DEFAULT_NODE without it). */
export function client(values: Record<string, unknown>): ApiClient {
  return new ApiClient(typeof values.node === "string" ? values.node : DEFAULT_NODE);
}

export const balanceCommand: CommandBody = {
  usage: "PK [--node URL]",
  help: ["options:", NODE_HELP].join("\n"),
  options: NODE_OPTION,
  positionals: 1,
  async run(values, positionals, io) {
    const owner = hexKeyArgument(positionals[0], "PK");
    const balance = await client(values).balance(Buffer.from(owner).toString("hex"));
    io.out(`${balance.balance} in ${balance.outputs} output(s) (shard ${balance.shard}, height ${balance.height})`);
    return EXIT_OK;
  },
};

export const statusCommand: CommandBody = {
  usage: "[--node URL]",
  help: ["options:", NODE_HELP].join("\n"),
  options: NODE_OPTION,
  async run(values, _positionals, io) {
    io.out(JSON.stringify(await client(values).status(), null, 2));
    return EXIT_OK;
  },
};
