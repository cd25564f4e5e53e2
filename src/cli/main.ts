#!/usr/bin/env node
/**
 * The `ios` command (DESIGN §8). Exit codes: 0 success, 1 runtime error, 2 usage error. Each command's
 * module is imported when the command is chosen: `ios --help` or `ios tx send` loads no node, LMDB
 * or load harness it does not run.
 */
import { setFlagsFromString } from "node:v8";
import { dispatch, type CommandIndex } from "./command.js";

const root: CommandIndex = {
  name: "ios",
  summary: "IOSChain: keys, genesis, validator node, client commands, devnet, load, VRF, DRP, epochs and proofs.",
  usage: "<command> [options]",
  subcommands: [
    { name: "keys", summary: "Create and inspect key files.", load: async () => (await import("./keys.js")).keysCommand },
    { name: "genesis", summary: "Write a genesis, validator keys and node configurations for a devnet.", load: async () => (await import("./genesis.js")).genesisCommand },
    { name: "node", summary: "Run a validator from its configuration file.", load: async () => (await import("./node-command.js")).nodeCommand, longRunning: true },
    { name: "tx", summary: "Send transactions.", load: async () => (await import("./client-commands.js")).txCommand },
    { name: "balance", summary: "Print the balance of a public key.", load: async () => (await import("./read-commands.js")).balanceCommand },
    { name: "status", summary: "Print a node's status.", load: async () => (await import("./read-commands.js")).statusCommand },
    { name: "devnet", summary: "Launch a local devnet: one validator process per node on 127.0.0.1.", load: async () => (await import("./devnet-commands.js")).devnetCommand, longRunning: true },
    { name: "load", summary: "Generate signed transfers and drive them through running validators; write a report.", load: async () => (await import("./devnet-commands.js")).loadCommand, longRunning: true },
    { name: "start", summary: "The default demo: devnet of 2 shards × 5 validators, 30 s of load, summary, clean up.", load: async () => (await import("./devnet-commands.js")).startCommand, longRunning: true },
    { name: "vrf", summary: "Prove and verify RFC 9381 VRF outputs (ECVRF-EDWARDS25519-SHA512-TAI).", load: async () => (await import("./vrf.js")).vrfCommand },
    { name: "drp", summary: "Verify Distributed Randomness Protocol transcripts (white paper §5).", load: async () => (await import("./drp.js")).drpCommand },
    { name: "epoch", summary: "Show epochs of the identity chain, verified from the genesis (white paper §4.1).", load: async () => (await import("./epoch.js")).epochCommand },
    { name: "proof", summary: "Fetch and verify proofs of final transactions, unspent outputs and MSB headers (white paper §8).", load: async () => (await import("./proof.js")).proofCommand },
  ],
};

const io = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

/*
 * Exit explicitly: a stopped node may still hold idle client sockets open in uWS. Node's exit joins
 * V8's worker threads, and an optimizing (Turbofan) job on one of them can be waiting for this
 * thread to collect garbage: the process then hangs after printing all its output
 * (nodejs/node#54918; seen in CI under load). A one-shot command therefore runs without the
 * optimizing compilers, so no such job exists: V8 reads `--max-opt` whenever a function gets hot,
 * so setting it here, before the command's module loads, holds for all of the command
 * (`--no-concurrent-recompilation` only counts at start-up). It costs one-shot commands no time;
 * the long-running ones keep Turbofan for their hot paths. WASM tier-up is not affected.
 * Measurements: docs/ARCHITECTURE.md, "`ios` exit".
 */
const argv = process.argv.slice(2);
if (root.subcommands.find((command) => command.name === argv[0])?.longRunning !== true) setFlagsFromString("--max-opt=1");
process.exit(await dispatch(root, argv, io));
