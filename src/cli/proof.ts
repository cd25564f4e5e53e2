/**
 * `ios proof get` and `ios proof verify`: proofs about a shard's Micro State Blocks and final
 * transactions (src/node/msb-proof.ts for the format), fetched from a validator and checked offline.
 *
 *   get     `--node URL` and one of `--tx ID` (GET /v1/tx/:id/proof) or `--utxo TXID:INDEX` (GET
 *           /v1/utxo/:outpoint/proof, against the shard's latest MSB) or `--msb EPOCH|latest` (GET
 *           /v1/msb/...), written to `--out FILE` as the API's bytes;
 *   verify  FILE against what the verifier trusts: committee keys — `--genesis FILE` with the
 *           identity chain (`--chain FILE` or `--node URL`, verified from the genesis as `ios epoch
 *           show` does: every epoch's committees; the genesis alone gives epoch 0's) — and/or a
 *           trusted MSB header hash `--msb-header HEX`. Prints what the proof shows (`--json` for
 *           machines); exits 1 with the code of the first failed check (MSB_*, TX_PROOF_*, IDENTITY_*).
 */
import { ApiClient } from "../api/client.js";
import { committeesOfContext } from "../atomix/proof.js";
import { genesisEpochContext } from "../epoch/context.js";
import { decodeIdentityChain, verifyIdentityChain } from "../epoch/identity/link.js";
import { IosError } from "../errors.js";
import { toHex } from "../hex.js";
import { loadGenesisFile } from "../node/config.js";
import { verifyIosProof, type ProofTrust } from "../node/msb-proof.js";
import { EXIT_OK, required, type CliErrorCode, type Command, type CommandBody } from "./command.js";
import { readInputFile, writeNewFile } from "./files.js";

/** The largest proof file read: a transaction proof of an epoch of 2^20 heights (src/node/msb-proof.ts) stays below. */
const MAX_PROOF_FILE_BYTES = 512 * 1024 * 1024;
/** The largest identity chain file read (as `ios epoch show`). */
const MAX_CHAIN_FILE_BYTES = 1024 * 1024 * 1024;

const getCommand: Command = {
  name: "get",
  summary: "Fetch a proof of a final transaction, an unspent output or an MSB header from a validator into a file.",
  usage: "--node URL (--tx ID | --utxo TXID:INDEX | --msb EPOCH|latest) --out FILE [--force]",
  help: [
    "  --node URL          a validator of the shard (its client API)",
    "  --tx ID             a final transaction of that shard: its acceptance, chained to its epoch's MSB once the epoch ended",
    "  --utxo TXID:INDEX   an unspent output in the shard's latest MSB",
    "  --msb EPOCH|latest  an MSB header with the certificate of its epoch's last height",
    "  --out FILE          where the proof's bytes go (refused if it exists, unless --force)",
  ].join("\n"),
  options: { node: { type: "string" }, tx: { type: "string" }, utxo: { type: "string" }, msb: { type: "string" }, out: { type: "string" }, force: { type: "boolean" } },
  async run(values, _positionals, io) {
    const api = new ApiClient(required(values, "node"));
    const out = required(values, "out");
    const asked = (["tx", "utxo", "msb"] as const).filter((name) => values[name] !== undefined);
    if (asked.length !== 1) throw new IosError<CliErrorCode>("CLI_USAGE", "give exactly one of --tx ID, --utxo TXID:INDEX and --msb EPOCH|latest");
    let proof: Uint8Array;
    if (typeof values.tx === "string") {
      if (!/^[0-9a-fA-F]{64}$/.test(values.tx)) throw new IosError<CliErrorCode>("CLI_USAGE", `--tx must be 64 hex digits, got ${JSON.stringify(values.tx)}`);
      proof = await api.requestBytes(`/v1/tx/${values.tx}/proof`);
    } else if (typeof values.utxo === "string") {
      if (!/^[0-9a-fA-F]{64}:[0-9]{1,10}$/.test(values.utxo)) throw new IosError<CliErrorCode>("CLI_USAGE", `--utxo must be TXID:INDEX (64 hex digits, a decimal index), got ${JSON.stringify(values.utxo)}`);
      proof = await api.requestBytes(`/v1/utxo/${values.utxo}/proof`);
    } else {
      const epoch = values.msb as string;
      if (epoch !== "latest" && !/^[0-9]{1,10}$/.test(epoch)) throw new IosError<CliErrorCode>("CLI_USAGE", `--msb must be an epoch number or "latest", got ${JSON.stringify(epoch)}`);
      const answer = await api.request<{ proof: string }>("GET", `/v1/msb/${epoch}`);
      proof = new Uint8Array(Buffer.from(answer.proof, "hex"));
    }
    writeNewFile(out, proof, values.force === true);
    io.out(`wrote ${proof.length} bytes to ${out}`);
    return EXIT_OK;
  },
};

/** The committees the verifier trusts: every epoch of the identity chain verified from the genesis, or the genesis's. */
async function committeesOf(values: Record<string, unknown>): Promise<ProofTrust["committees"]> {
  const genesisFile = values.genesis;
  if (genesisFile === undefined) {
    if (values.chain !== undefined || values.node !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "--chain and --node need --genesis, the anchor the identity chain is verified from");
    return undefined;
  }
  const genesis = loadGenesisFile(genesisFile as string);
  if (values.chain !== undefined && values.node !== undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "give at most one of --chain FILE and --node URL");
  const chain = typeof values.chain === "string" ? readInputFile(values.chain, MAX_CHAIN_FILE_BYTES)
    : typeof values.node === "string" ? await new ApiClient(values.node).identityChain() : undefined;
  const contexts = chain === undefined ? [genesisEpochContext(genesis)] : verifyIdentityChain(genesis, decodeIdentityChain(chain));
  return committeesOfContext(...contexts);
}

const verifyCommand: Command = {
  name: "verify",
  summary: "Check a proof offline against the committee keys of its epoch (identity chain from the genesis) or a trusted MSB header hash.",
  usage: "FILE [--genesis FILE [--chain FILE | --node URL]] [--msb-header HEX] [--json]",
  help: [
    "  FILE               the proof (ios proof get --out)",
    "  --genesis FILE     the network's genesis.json: epoch 0's committees, and the anchor of the identity chain",
    "  --chain FILE       the identity chain (GET /v1/epochs/chain bytes): every later epoch's committees, verified from the genesis",
    "  --node URL         fetch the identity chain from a node instead (it is verified all the same)",
    "  --msb-header HEX   a trusted MSB header hash (64 hex digits): the proof's MSB must be that one",
    "  --json             machine-readable output",
    "A transaction proof needs committee keys; a UTXO or MSB header proof may rest on --msb-header alone.",
    "Exits 1 with the code of the first failed check (MSB_*, MSB_PROOF_*, TX_PROOF_*, IDENTITY_*).",
  ].join("\n"),
  options: { genesis: { type: "string" }, chain: { type: "string" }, node: { type: "string" }, "msb-header": { type: "string" }, json: { type: "boolean" } },
  positionals: 1,
  async run(values, positionals, io) {
    const file = positionals[0];
    if (file === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "give the proof FILE");
    const trustedText = values["msb-header"];
    if (trustedText !== undefined && !/^[0-9a-fA-F]{64}$/.test(trustedText as string)) throw new IosError<CliErrorCode>("CLI_USAGE", `--msb-header must be 64 hex digits, got ${JSON.stringify(trustedText)}`);
    const committees = await committeesOf(values);
    if (committees === undefined && trustedText === undefined) throw new IosError<CliErrorCode>("CLI_USAGE", "give --genesis (committee keys) or --msb-header HEX: something to check the proof against");
    const trust: ProofTrust = {
      ...(committees === undefined ? {} : { committees }),
      ...(typeof trustedText === "string" ? { trustedMsbHeader: new Uint8Array(Buffer.from(trustedText, "hex")) } : {}),
    };
    const verified = verifyIosProof(readInputFile(file, MAX_PROOF_FILE_BYTES), trust);
    const msb = verified.type === "tx" ? verified.msb : verified;
    const msbJson = msb === undefined ? undefined : {
      epoch: msb.header.epoch, shard: msb.header.shard, height: msb.header.height, count: msb.header.count, supply: msb.header.supply.toString(), root: toHex(msb.header.root),
      decisions: msb.header.decisions, decisionsRoot: toHex(msb.header.decisionsRoot), headerHash: toHex(msb.headerHash),
    };
    const shown = verified.type === "utxo"
      ? { type: "utxo", txid: toHex(verified.entry.txid), index: verified.entry.index, owner: toHex(verified.entry.owner), amount: verified.entry.amount.toString(), position: verified.position, msb: msbJson }
      : verified.type === "tx"
        ? { type: "tx", txid: toHex(verified.txid), epoch: verified.epoch, shard: verified.shard, bftHeight: verified.height, ...(msbJson === undefined ? {} : { msb: msbJson }) }
        : { type: "msb-header", msb: msbJson };
    if (values.json === true) {
      io.out(JSON.stringify({ verified: true, against: committees === undefined ? "msb-header" : "committee", ...shown }));
      return EXIT_OK;
    }
    io.out(`verified ${verified.type} proof against ${committees === undefined ? "the trusted MSB header" : "the committee keys"}`);
    for (const [key, value] of Object.entries(shown)) if (key !== "type" && key !== "msb") io.out(`${key} ${String(value)}`);
    if (msbJson !== undefined) io.out(`msb epoch ${msbJson.epoch} shard ${msbJson.shard} height ${msbJson.height} count ${msbJson.count} supply ${msbJson.supply} root ${msbJson.root} decisions ${msbJson.decisions} decisionsRoot ${msbJson.decisionsRoot} header ${msbJson.headerHash}`);
    return EXIT_OK;
  },
};

export const proofCommand: CommandBody = {
  usage: "<get|verify> ...",
  help: "",
  subcommands: [getCommand, verifyCommand],
};
