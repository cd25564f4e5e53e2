#!/usr/bin/env node
/**
 * The `ios` command (DESIGN §8). Exit codes: 0 success, 1 runtime error, 2 usage error.
 */
import { balanceCommand, statusCommand, txCommand } from "./client-commands.js";
import { dispatch, type Command } from "./command.js";
import { drpCommand } from "./drp.js";
import { epochCommand } from "./epoch.js";
import { devnetCommand, loadCommand, startCommand } from "./devnet-commands.js";
import { genesisCommand } from "./genesis.js";
import { keysCommand } from "./keys.js";
import { nodeCommand } from "./node-command.js";
import { vrfCommand } from "./vrf.js";
import { proofCommand } from "./proof.js";

const root: Command = {
  name: "ios",
  summary: "IOSChain: keys, genesis, validator node, client commands, devnet, load, VRF, DRP, epochs and proofs.",
  usage: "<command> [options]",
  help: "",
  subcommands: [keysCommand, genesisCommand, nodeCommand, txCommand, balanceCommand, statusCommand, devnetCommand, loadCommand, startCommand, vrfCommand, drpCommand, epochCommand, proofCommand],
};

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

// Exit explicitly: a stopped node may still hold idle client sockets open in uWS.
process.exit(await dispatch(root, process.argv.slice(2), io));
