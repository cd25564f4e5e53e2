/** `ios tx send|register|leave|release`: commands that sign a transaction and submit it to a node's client API. */
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_RETRIES, RETRYABLE_CODES } from "../api/errors.js";
import { ApiClient, type ApiClientErrorCode, type StatusJson, type SubmitJson, type TxStatusJson } from "../api/client.js";
import { IosError } from "../errors.js";
import { shardOfOwner } from "../ledger/shard.js";
import { MAX_AMOUNT, MAX_INPUTS, TxKind, encodeTransaction, outpointKey, signTransaction, type TxInput, type TxOutput } from "../ledger/transaction.js";
import { MIN_VALIDATOR_BOND, RegistrationOperation, registrationKind, signLeave, signRegistration, signRelease } from "../ledger/kinds/registration.js";
import { readU32 } from "../codec/binary.js";
import { bondOwner, registrationBond } from "../ledger/bond.js";
import { genesisPopChainId } from "../ledger/genesis.js";
import { signMessage } from "../ledger/keys.js";
import { proveKeyPossession } from "../consensus/registry.js";
import { toHex } from "../hex.js";
import { loadGenesisFile, loadKeyFile } from "../node/config.js";
import { runCrossShardTransfer, signCrossShardTransfer } from "../atomix/client.js";
import { httpAtomixAccess } from "../atomix/http-access.js";
import { DEFAULT_NODE, client } from "./read-commands.js";
import { EXIT_OK, EXIT_RUNTIME, hexKeyArgument, integerOption, required, type CliErrorCode, type Command, type CommandBody, type Output, type Values } from "./command.js";

const ATOMIX_STEP_TEXT = {
  lock: "lock submitted to the input shard(s)",
  proofs: "every input shard decided (proofs verified by the shards that apply the unlock)",
  unlock: "unlock submitted to every shard it touches",
  settled: "settled in every shard it touches",
} as const;
/** `--wait`: poll interval and default timeout. */
const WAIT_POLL_MS = 100;
const DEFAULT_WAIT_SECONDS = 30;

/** The amount option `name`: an integer in [1, 2^64 − 1]. */
function amountOption(values: Values, name: string): bigint {
  const text = required(values, name);
  if (!/^[1-9][0-9]{0,19}$/.test(text) || BigInt(text) > MAX_AMOUNT) throw new IosError<CliErrorCode>("CLI_USAGE", `--${name} must be an integer in [1, 2^64-1], got ${JSON.stringify(text)}`);
  return BigInt(text);
}

/** Unspent outputs of `payer` worth at least `amount` (at most MAX_INPUTS of them), as inputs; CLI_INSUFFICIENT_FUNDS when they do not reach it. */
async function gatherInputs(api: ApiClient, payer: { readonly publicKey: Uint8Array }, amount: bigint): Promise<{ inputs: TxInput[]; gathered: bigint; utxos: readonly { txid: string; index: number; amount: string }[] }> {
  const payerHex = Buffer.from(payer.publicKey).toString("hex");
  const { utxos } = await api.utxos(payerHex);
  const inputs: TxInput[] = [];
  let gathered = 0n;
  for (const utxo of utxos) {
    if (gathered >= amount || inputs.length === MAX_INPUTS) break;
    inputs.push({ txid: new Uint8Array(Buffer.from(utxo.txid, "hex")), index: utxo.index, owner: payer.publicKey });
    gathered += BigInt(utxo.amount);
  }
  if (gathered < amount) {
    throw new IosError<CliErrorCode>("CLI_INSUFFICIENT_FUNDS", `${payerHex.slice(0, 16)}… can gather ${gathered} from ${inputs.length} output(s), short of ${amount}`);
  }
  return { inputs, gathered, utxos };
}

/** `gatherInputs` at the first of `serving` that still serves the payer's shard when asked (one may have left it since its status was read). */
async function gatherInputsAt(serving: readonly NodeReading[], payer: { readonly publicKey: Uint8Array }, amount: bigint): ReturnType<typeof gatherInputs> {
  let refusal: unknown;
  for (const { api } of serving) {
    try {
      return await gatherInputs(api, payer, amount);
    } catch (error) {
      if (!(error instanceof IosError) || !MOVE_ON_CODES.has(error.code)) throw error;
      refusal = error;
    }
  }
  throw refusal;
}

/** Submits `tx` to `api`, prints its txid and the node's answer, and with `--wait` follows it (`waitUntilFinal`). */
async function submitAndWait(api: ApiClient, tx: Uint8Array, values: Values, io: Output): Promise<number> {
  const submitted = await api.submitTransaction(tx);
  io.out(`txid ${submitted.txid} ${submitted.outcome}`);
  return values.wait === true ? waitUntilFinal(submitted.txid, values, io, api) : EXIT_OK;
}

/**
 * Polls `txid` until it is final (exit 0) or rejected (exit 1), printing the optimistic stage on
 * the way. The polls go to `api` (the node that took it) and then to every other node in `also`,
 * in turn: with an epoch length validators change shard at every switch, and one that left the
 * transaction's shard never learns it became final. With `resend`, a rejection that says where the
 * transaction went rather than what is wrong with it (RETRYABLE_CODES: its relay to the assignee
 * went unanswered across a switch, ...) sends the same bytes again through `resend`, which returns
 * the node that took them, at most MAX_RETRIES times.
 */
async function waitUntilFinal(txid: string, values: Values, io: Output, api: ApiClient, also: readonly ApiClient[] = [], resend?: () => Promise<ApiClient>): Promise<number> {
  const timeoutSeconds = integerOption(values, "timeout", 1, 3600, DEFAULT_WAIT_SECONDS);
  const deadline = Date.now() + timeoutSeconds * 1000;
  let nodes = [api, ...also.filter((node) => node !== api)];
  let turn = 0;
  let resends = 0;
  // A validator that relayed the transaction to its believable producer (PoB) hears of it again
  // when the producer's optimistic block arrives: until then it answers TX_NOT_FOUND. Another node
  // than the one submitted to may be down or restarting: its poll is skipped.
  const current = async (): Promise<{ readonly node: ApiClient; readonly status: TxStatusJson | undefined }> => {
    const node = nodes[turn++ % nodes.length]!;
    try {
      return { node, status: await node.transaction(txid) };
    } catch (error) {
      if ((error instanceof IosError && error.code === "TX_NOT_FOUND") || node !== api) return { node, status: undefined };
      throw error;
    }
  };
  let { node, status: final } = await current();
  let announced = false;
  while (final === undefined || final.state === "pending" || final.state === "optimistic" || (final.state === "rejected" && resend !== undefined && RETRYABLE_CODES.has(final.code ?? "") && resends < MAX_RETRIES)) {
    if (final?.state === "rejected") {
      io.out(`${txid} rejected with ${final.code} (where it went, not what it is): sending it again`);
      resends++;
      api = await resend!();
      nodes = [api, ...also.filter((other) => other !== api)];
      turn = 0;
    }
    if (final?.state === "optimistic" && !announced) {
      // The client library checked the seal and the Merkle proof; the league says the producer may seal.
      const consensus = (await node.status())["consensus"] as { believable?: unknown } | undefined;
      const believable = Array.isArray(consensus?.believable) ? consensus.believable.filter((key): key is string => typeof key === "string") : undefined;
      (await import("../api/optimistic.js")).verifyOptimistic(txid, final, believable);
      io.out(`optimistic in block ${final.block} of believable validator ${final.producer} (seal and Merkle proof verified)`);
      announced = true;
    }
    if (Date.now() > deadline) throw new IosError<CliErrorCode>("CLI_TIMEOUT", `${txid} still not final after ${timeoutSeconds} s; check it later with GET /v1/tx/${txid}`);
    await sleep(WAIT_POLL_MS);
    ({ node, status: final } = await current());
  }
  if (final.state === "rejected") {
    io.err(`error CLI_TX_REJECTED: ${txid} was rejected with ${final.code}`);
    return EXIT_RUNTIME;
  }
  io.out(`final at height ${final.height} index ${final.index} block ${final.blockHash}`);
  return EXIT_OK;
}

/** A `--node` of `tx send` and what its GET /v1/status said at the last read (`failure` when it could not be used). */
interface NodeReading {
  readonly url: string;
  readonly api: ApiClient;
  readonly status?: StatusJson;
  readonly failure?: IosError;
}

/**
 * Answers that say where the transaction went rather than what is wrong with it (RETRYABLE_CODES:
 * TX_WRONG_SHARD from a node that left the shard at an epoch switch, RELAY_BACKLOG_FULL, ...), that
 * the node does not serve the payer's shard (OWNER_OTHER_SHARD to a read of the payer's outputs) or
 * no shard at all (NODE_NOT_SERVING: it waits outside the validator set), and a node that cannot be
 * reached. Another node of the shard is asked; the same signed bytes resubmitted to a node that
 * took them after all are a `duplicate`, never a second payment.
 */
const MOVE_ON_CODES: ReadonlySet<string> = new Set([...RETRYABLE_CODES, "OWNER_OTHER_SHARD", "NODE_NOT_SERVING", "API_UNREACHABLE"]);
/** Status reads (each followed by at most one submission) before `tx send` gives up on its shard: 8 ride out an epoch switch of a devnet (a few seconds). */
const MAX_SHARD_READS = 8;
/** Pause before the next read when every node serving the shard refused, or when none serves it while a switch is under way. */
const SHARD_READ_PAUSE_MS = 500;

/** GET /v1/status of every node, in parallel; a node that cannot be read, or says something unusable, carries its failure. */
async function readNodes(nodes: readonly NodeReading[]): Promise<NodeReading[]> {
  return Promise.all(nodes.map(async ({ url, api }): Promise<NodeReading> => {
    let status: StatusJson;
    try {
      status = await api.status();
    } catch (error) {
      if (!(error instanceof IosError)) throw error;
      return { url, api, failure: error };
    }
    const { shardCount, shard, epoch } = status;
    const usable = Number.isSafeInteger(shardCount) && shardCount > 0 && Number.isSafeInteger(shard) && shard >= 0 && shard < shardCount && Number.isSafeInteger(epoch) && epoch >= 0;
    return usable ? { url, api, status } : { url, api, failure: new IosError<ApiClientErrorCode>("API_BAD_RESPONSE", "its status names no valid shard, shard count and epoch") };
  }));
}

/**
 * What a set of readings says about shard `shardOf(shardCount)`: the nodes that serve it, those of
 * the latest epoch first (--node order within an epoch), and whether a switch is under way.
 */
function shardView(readings: readonly NodeReading[], shardOf: (shardCount: number) => number) {
  const read = readings.filter((reading): reading is NodeReading & { status: StatusJson } => reading.status !== undefined);
  // One node that cannot be read keeps its own error (API_UNREACHABLE has a hint); several are listed.
  if (read.length === 0) throw readings.length === 1 ? readings[0]!.failure! : new IosError<CliErrorCode>("CLI_NO_SHARD_NODE", `no --node could be read: ${describeReadings(readings)}`);
  const shardCount = read[0]!.status.shardCount;
  if (read.some((reading) => reading.status.shardCount !== shardCount)) throw new IosError<CliErrorCode>("CLI_USAGE", `the --node URLs serve chains of different shard counts: ${describeReadings(readings)}`);
  const shard = shardOf(shardCount);
  const epoch = Math.max(...read.map((reading) => reading.status.epoch));
  // A node still in an older epoch has not switched yet (it may leave the shard when it does): it is
  // tried after those of later epochs, not left out, so a node that claims a far epoch cannot make
  // every other one unusable. One waiting outside the validator set (role registrant or observer)
  // refuses every transaction.
  const serving = read
    .filter(({ status }) => status.shard === shard && (status.role ?? "validator") === "validator")
    .sort((a, b) => b.status.epoch - a.status.epoch);
  // The nodes disagree on the epoch, or one runs the next epoch's opening: a node may come to serve the shard at its switch.
  const switching = read.some(({ status }) => status.epoch !== epoch || (status.decidingEpoch ?? epoch) !== epoch);
  return { shardCount, shard, epoch, serving, switching };
}

function describeReadings(readings: readonly NodeReading[]): string {
  return readings.map(({ url, status, failure }) => `${url} ${status === undefined ? `unusable (${failure?.message})` : `serves shard ${status.shard} in epoch ${status.epoch}`}`).join("; ");
}

/**
 * The nodes of `--node` that serve the payer's shard now (at least one; CLI_NO_SHARD_NODE when
 * none does and no switch is under way, or still none after MAX_SHARD_READS reads), and the shard
 * count the nodes agree on.
 */
async function nodesServing(nodes: readonly NodeReading[], shardOf: (shardCount: number) => number): Promise<{ serving: NodeReading[]; shardCount: number }> {
  for (let read = 1; ; read++) {
    const readings = await readNodes(nodes);
    const view = shardView(readings, shardOf);
    if (view.serving.length > 0) return view;
    if (!view.switching || read === MAX_SHARD_READS) throw noShardNode(view, readings, read);
    await sleep(SHARD_READ_PAUSE_MS);
  }
}

function noShardNode(view: { shard: number; epoch: number }, readings: readonly NodeReading[], reads: number, refusals: readonly string[] = []): IosError<CliErrorCode> {
  const tried = refusals.length === 0 ? "" : `; refused: ${refusals.join("; ")}`;
  return new IosError<CliErrorCode>("CLI_NO_SHARD_NODE", `no --node serves the payer's shard ${view.shard} in epoch ${view.epoch} (after ${reads} status read(s)): ${describeReadings(readings)}${tried}`);
}

/**
 * Submits `tx` to a node of `--node` that serves the payer's shard at submission time: statuses are
 * read, the first serving node not yet refused takes it; on a MOVE_ON_CODES refusal the statuses
 * are read again and the next serving node tries (once every serving node refused, after a pause,
 * all may try again), at most MAX_SHARD_READS reads in all. Returns the node that took it.
 */
async function submitToShard(nodes: readonly NodeReading[], shardOf: (shardCount: number) => number, tx: Uint8Array, io: Output): Promise<{ api: ApiClient; submitted: SubmitJson }> {
  const refused = new Set<string>();
  const refusals: string[] = [];
  for (let read = 1; ; read++) {
    const readings = await readNodes(nodes);
    const view = shardView(readings, shardOf);
    const next = view.serving.find((reading) => !refused.has(reading.url));
    if (next !== undefined) {
      try {
        return { api: next.api, submitted: await next.api.submitTransaction(tx) };
      } catch (error) {
        if (!(error instanceof IosError) || !MOVE_ON_CODES.has(error.code)) throw error;
        refused.add(next.url);
        refusals.push(`${next.url} ${error.code}`);
        io.out(`${next.url} refused it (${error.message}); reading the nodes' shards again`);
      }
    }
    if (read === MAX_SHARD_READS || (view.serving.length === 0 && !view.switching)) throw noShardNode(view, readings, read, refusals);
    if (next === undefined) {
      refused.clear();
      await sleep(SHARD_READ_PAUSE_MS);
    }
  }
}

const txSend: Command = {
  name: "send",
  summary: "Pay an amount from a key file's funds to a public key.",
  usage: "--from KEYFILE --to PK --amount N [--node URL]... [--wait [--timeout S]]",
  help: [
    "options:",
    "  --from KEYFILE  key file of the payer (spends its unspent outputs, change goes back to it)",
    "  --to PK         recipient public key (64 hex digits), in any shard",
    "  --amount N      amount to pay (integer > 0)",
    `  --node URL      a node's client API (default ${DEFAULT_NODE}); repeat it. The payment goes to a`,
    "                  node that serves the payer's shard when it is sent (statuses read then; if it",
    "                  left the shard and refuses, the statuses are read again and the next one takes",
    "                  it); add a node of the recipient's shard to pay across shards",
    "  --wait          wait until the transaction is final or rejected (asking each --node in turn:",
    "                  with epochs, a validator may leave the payer's shard meanwhile); a rejection",
    "                  that says where it went (RELAY_UNANSWERED, POB_NOT_ASSIGNED, ...) sends it again",
    `  --timeout S     seconds to wait with --wait, or for a cross-shard payment (default ${DEFAULT_WAIT_SECONDS})`,
    "",
    "A cross-shard payment runs Atomix (white paper §6) to its end: lock in the payer's shard, its",
    "proof, unlock-to-commit in both shards (or unlock-to-abort); each step is printed.",
    "exit code 0 when accepted (or final with --wait, committed across shards), 1 when refused,",
    "rejected or aborted; CLI_NO_SHARD_NODE when no --node serves the payer's shard.",
  ].join("\n"),
  options: { from: { type: "string" }, to: { type: "string" }, amount: { type: "string" }, wait: { type: "boolean" }, timeout: { type: "string" }, node: { type: "string", multiple: true } },
  async run(values, _positionals, io) {
    const payer = loadKeyFile(required(values, "from"));
    const recipient = hexKeyArgument(required(values, "to"), "--to");
    const amount = amountOption(values, "amount");
    const timeoutSeconds = integerOption(values, "timeout", 1, 3600, DEFAULT_WAIT_SECONDS);
    const urls = Array.isArray(values.node) && values.node.length > 0 ? values.node.map(String) : [DEFAULT_NODE];
    const nodes: NodeReading[] = urls.map((url) => ({ url, api: new ApiClient(url) }));
    const payerShardOf = (shardCount: number) => shardOfOwner(payer.publicKey, shardCount);

    const { serving, shardCount } = await nodesServing(nodes, payerShardOf);
    const payerShard = payerShardOf(shardCount);
    const recipientShard = shardOfOwner(recipient, shardCount);
    const { inputs, gathered, utxos } = await gatherInputsAt(serving, payer, amount);
    const outputs: TxOutput[] = [{ owner: recipient, amount }];
    if (gathered > amount) outputs.push({ owner: payer.publicKey, amount: gathered - amount });
    if (recipientShard !== payerShard) {
      const access = await httpAtomixAccess(urls);
      const amounts = new Map(utxos.map((u) => [`${u.txid}:${u.index}`, BigInt(u.amount)]));
      const x = signCrossShardTransfer({
        kind: TxKind.AtomixLock, outputs,
        inputs: inputs.map((input) => ({ ...input, amount: amounts.get(`${Buffer.from(input.txid).toString("hex")}:${input.index}`)! })),
      }, [payer]);
      io.out(`txid ${Buffer.from(x.txid).toString("hex")} cross-shard: shard ${payerShard} → shard ${recipientShard}`);
      const report = await runCrossShardTransfer(x, access, { timeoutMs: timeoutSeconds * 1000, onStep: (step, atMs) => io.out(`${ATOMIX_STEP_TEXT[step]} (${Math.round(atMs)} ms)`) });
      if (report.outcome === "aborted") {
        io.err(`error CLI_TX_REJECTED: ${Buffer.from(x.txid).toString("hex")} was aborted: shard ${payerShard} refused its inputs`);
        return EXIT_RUNTIME;
      }
      return EXIT_OK;
    }
    const { transaction } = signTransaction({ kind: TxKind.Transfer, inputs, outputs }, [payer]);
    const bytes = encodeTransaction(transaction);
    const { api, submitted } = await submitToShard(nodes, payerShardOf, bytes, io);
    io.out(`txid ${submitted.txid} ${submitted.outcome}`);
    if (values.wait !== true) return EXIT_OK;
    const resend = async () => (await submitToShard(nodes, payerShardOf, bytes, io)).api;
    return waitUntilFinal(submitted.txid, values, io, api, nodes.map((node) => node.api), resend);
  },
};

const WAIT_HELP = [
  "  --wait            wait until the transaction is final or rejected",
  `  --timeout S       seconds to wait with --wait (default ${DEFAULT_WAIT_SECONDS})`,
];
const WAIT_OPTIONS = { wait: { type: "boolean" as const }, timeout: { type: "string" as const } };

/** The `--node` client, which must serve shard `shardOf(shardCount)` (CLI_USAGE naming `why`), and the shard count. */
async function nodeOfShard(values: Values, shardOf: (shardCount: number) => number, why: string): Promise<{ api: ApiClient; shardCount: number }> {
  const api = client(values);
  const status = await api.status();
  const shard = shardOf(status.shardCount);
  if (status.shard !== shard) throw new IosError<CliErrorCode>("CLI_USAGE", `--node serves shard ${status.shard}; ${why} shard ${shard}`);
  return { api, shardCount: status.shardCount };
}

const txRegister: Command = {
  name: "register",
  summary: "Register a validator key with a bond paid from a key file's funds (it joins at the next epoch).",
  usage: "--from KEYFILE --validator KEYFILE --bond N --genesis FILE [--node URL] [--wait [--timeout S]]",
  help: [
    "options:",
    "  --from KEYFILE       key file of the payer (spends its unspent outputs, change goes back to it)",
    "  --validator KEYFILE  key file of the validator to register: it proves possession and signs",
    `  --bond N             the bond, the validator's stake (at least ${MIN_VALIDATOR_BOND})`,
    "  --genesis FILE       the network's genesis.json (the chain its proof of possession names)",
    `  --node URL           a node of the bond's shard (default ${DEFAULT_NODE})`,
    ...WAIT_HELP,
    "",
    "The bond lives in the shard of its owner (a key derived from the validator's), and so must",
    "the payer's funds. exit code 0 when accepted (or final with --wait), 1 when rejected.",
  ].join("\n"),
  options: { from: { type: "string" }, validator: { type: "string" }, bond: { type: "string" }, genesis: { type: "string" }, node: { type: "string" }, ...WAIT_OPTIONS },
  async run(values, _positionals, io) {
    const payer = loadKeyFile(required(values, "from"));
    const validator = loadKeyFile(required(values, "validator"));
    const bond = amountOption(values, "bond");
    const chain = genesisPopChainId(loadGenesisFile(required(values, "genesis")));
    const { api, shardCount } = await nodeOfShard(values, (count) => shardOfOwner(bondOwner(validator.publicKey), count), "the validator's bond lives in");
    const [payerShard, bondShard] = [shardOfOwner(payer.publicKey, shardCount), shardOfOwner(bondOwner(validator.publicKey), shardCount)];
    if (payerShard !== bondShard) throw new IosError<CliErrorCode>("CLI_USAGE", `the payer's funds are in shard ${payerShard}, the bond's shard is ${bondShard}: move them there first`);
    const { inputs, gathered } = await gatherInputs(api, payer, bond);
    const pop = proveKeyPossession({ publicKey: validator.publicKey, sign: (message) => signMessage(validator.secretKey, message) }, chain);
    const { transaction } = signRegistration({
      kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: validator.publicKey, bond, chain, pop,
      inputs, outputs: gathered > bond ? [{ owner: payer.publicKey, amount: gathered - bond }] : [],
    }, [payer], validator);
    io.out(`bond ${toHex(registrationBond(validator.publicKey))} of ${bond}`);
    return submitAndWait(api, registrationKind.encode(transaction), values, io);
  },
};

const txLeave: Command = {
  name: "leave",
  summary: "Leave the validator set at the next epoch; the bond can be released to a payout key an epoch later (tx release).",
  usage: "--validator KEYFILE --payout PK [--bond TXID:INDEX] [--node URL] [--wait [--timeout S]]",
  help: [
    "options:",
    "  --validator KEYFILE  key file of the leaving validator (signs the leave)",
    "  --payout PK          who receives the bond (64 hex digits), in the bond's shard",
    "  --bond TXID:INDEX    the bond's outpoint (default: the bond its registration created; a",
    "                       genesis validator names its genesis bond)",
    `  --node URL           a node of the payout's shard, which holds the bond (default ${DEFAULT_NODE})`,
    ...WAIT_HELP,
  ].join("\n"),
  options: { validator: { type: "string" }, payout: { type: "string" }, bond: { type: "string" }, node: { type: "string" }, ...WAIT_OPTIONS },
  async run(values, _positionals, io) {
    const { validator, payout, bond, api } = await bondArguments(values);
    const { transaction } = signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: validator.publicKey, bond, payout }, validator);
    return submitAndWait(api, registrationKind.encode(transaction), values, io);
  },
};

/** A leave's or release's arguments: the validator's key, the payout, the bond (its registration's by default) and a node of the payout's shard. */
async function bondArguments(values: Values) {
  const validator = loadKeyFile(required(values, "validator"));
  const payout = hexKeyArgument(required(values, "payout"), "--payout");
  const bond = typeof values.bond === "string" ? outpointArgument(values.bond, "--bond") : registrationBond(validator.publicKey);
  const { api } = await nodeOfShard(values, (count) => shardOfOwner(payout, count), "the payout key lives in");
  return { validator, payout, bond, api };
}

const txRelease: Command = {
  name: "release",
  summary: "Take a departed validator's bond back to the payout its leave named (from the second epoch after the leave).",
  usage: "--validator KEYFILE --payout PK [--bond TXID:INDEX] [--node URL] [--wait [--timeout S]]",
  help: [
    "options:",
    "  --validator KEYFILE  key file of the validator that left (signs the release)",
    "  --payout PK          the payout its leave named (64 hex digits): the only one a release may pay",
    "  --bond TXID:INDEX    the bond's outpoint (default: the bond its registration created; a",
    "                       genesis validator names its genesis bond)",
    `  --node URL           a node of the payout's shard, which holds the bond (default ${DEFAULT_NODE})`,
    ...WAIT_HELP,
    "",
    "The whole bond, as the node's UTXO set holds it, goes to the payout. A leave final in epoch e",
    "takes the validator out of epoch e + 1; its bond can be released from epoch e + 2 on, a full",
    "epoch in which evidence against it can still slash it. Refusals: TX_RELEASE_TOO_EARLY,",
    "TX_RELEASE_NOT_DEPARTED (no leave took it out), TX_RELEASE_WRONG_KEY, TX_RELEASE_WRONG_PAYOUT,",
    "BOND_GONE (released already, or slashed); CLI_NO_BOND when the node holds no such bond.",
  ].join("\n"),
  options: { validator: { type: "string" }, payout: { type: "string" }, bond: { type: "string" }, node: { type: "string" }, ...WAIT_OPTIONS },
  async run(values, _positionals, io) {
    const { validator, payout, bond, api } = await bondArguments(values);
    // The bond's amount as the shard holds it: its owner is the validator's bond owner.
    const { utxos } = await api.utxos(toHex(bondOwner(validator.publicKey)));
    const held = utxos.find((utxo) => utxo.txid === toHex(bond.subarray(0, 32)) && utxo.index === readU32(bond, 32));
    if (held === undefined) throw new IosError<CliErrorCode>("CLI_NO_BOND", `the node holds no bond ${toHex(bond)} of this validator: released already, slashed, or in another shard`);
    const amount = BigInt(held.amount);
    const { transaction } = signRelease({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Release, validator: validator.publicKey, bond, amount, payout }, validator);
    io.out(`release of bond ${toHex(bond)}: ${amount} to ${toHex(payout)}`);
    return submitAndWait(api, registrationKind.encode(transaction), values, io);
  },
};

/** TXID:INDEX (64 hex digits, a u32) as an outpoint, or CLI_USAGE naming `what`. */
function outpointArgument(text: string, what: string): Uint8Array {
  const match = /^([0-9a-fA-F]{64}):([0-9]{1,10})$/.exec(text);
  if (match === null || Number(match[2]) > 0xffffffff) throw new IosError<CliErrorCode>("CLI_USAGE", `${what} must be TXID:INDEX (64 hex digits, a u32), got ${JSON.stringify(text)}`);
  return outpointKey(new Uint8Array(Buffer.from(match[1]!, "hex")), Number(match[2]));
}

export const txCommand: CommandBody = {
  usage: "<send|register|leave|release> ...",
  help: "",
  subcommands: [txSend, txRegister, txLeave, txRelease],
};
