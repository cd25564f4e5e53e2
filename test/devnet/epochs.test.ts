// Epochs over real processes (issue 14), on one devnet: 2 shards × 4 PoB `ios node` processes whose
// genesis has an epoch length of 8. Each shard decides its 8 heights (idle shards decide empty
// ones); every process hands its shard's boundary to its transition, and the validators elect a
// leader by VRF lottery, run DRP and co-sign the next configuration over uWebSockets.js on
// 127.0.0.1; then each one switches into the new epoch, those assigned another shard after syncing
// its final blocks. One devnet serves both cases, in order (starting one is most of a case's time):
//   1 under load: the load harness drives 400 chained transfers at a steady rate through several
//     switches, during which validators change shard and leagues are redrawn. The harness follows
//     the switches (src/load: routes rebuilt from each validator's status, transactions left
//     behind sent again); the counts must add up — every transfer final, none rejected or
//     unsettled — and the chain must keep its supply less the fees, read from a validator serving
//     each shard at the end.
//   2 after EPOCHS epochs every validator keeps the same links and transcripts in its LMDB archive
//     and serves them: the chain from GET /v1/epochs/chain verifies from the genesis alone, each
//     transcript from GET /v1/epochs/:e/drp-transcript verifies offline and gives rnd_e, and each
//     validator serves the shard its epoch assigns, past that epoch's start. Each status names its
//     shard's latest MSB; `ios proof get|verify` fetch and check a UTXO proof and a transaction proof
//     against the committees of the identity chain verified from the genesis; a flipped byte fails.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiClient } from "../../src/api/client.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { startDevnet, type Devnet } from "../../src/devnet/launcher.js";
import { runDevnetLoad } from "../../src/devnet/session.js";
import { verifyTranscript } from "../../src/epoch/drp/transcript.js";
import { decodeIdentityConfiguration } from "../../src/epoch/identity/configuration.js";
import { decodeIdentityChain, verifyIdentityChain } from "../../src/epoch/identity/link.js";
import { genesisSupply } from "../../src/ledger/genesis.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { keyFileJson } from "../../src/node/config.js";
import { ios } from "../cli/helpers.js";
import { until } from "../support/until.js";

const L = 8;
const EPOCHS = 3;
const TRANSFERS = 400;
/** Transfers per second: 400 take about 20 s, several epochs of this devnet (each: L heights and a transition of a few seconds). */
const RATE = 20;

const root = mkdtempSync(join(tmpdir(), "ios-epochs-"));
let devnet: Devnet;
before(async () => {
  devnet = await startDevnet({ shards: 2, validatorsPerShard: 4, believable: 1, dir: join(root, "devnet"), seed: "epochs", accounts: 24, amount: 1_000_000n, workers: 1, epochLength: L, idleHeartbeatMs: 250 });
});
after(async () => {
  await devnet?.stop();
  rmSync(root, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

interface NodeStatus {
  readonly epoch: number;
  readonly shard: number;
  readonly supply: string;
  readonly tip: { readonly height: number };
  readonly lastSwitch?: { readonly epoch: number; readonly shard: number; readonly sync?: { readonly heights: number }; readonly pauseMs: number };
}

const statuses = async (): Promise<NodeStatus[]> => Promise.all(devnet.manifest.validators.map(async (v) => (await new ApiClient(v.http).status()) as unknown as NodeStatus));

describe("epochs over real processes", () => {
  it("a PoB devnet with an epoch length passes several epochs under a steady load: the harness follows the switches and the counts add up", async () => {
    const { run } = await runDevnetLoad(devnet, { count: TRANSFERS, seed: "epochs", mode: { kind: "open-loop", rate: RATE }, durationMs: 120_000, drainTimeoutMs: 60_000, reportDir: join(root, "report") });
    const m = run.report.metrics;
    const { epochs } = run.report.run;
    const summary = JSON.stringify({ end: run.end, totals: m.totals, rejected: m.rejectedByCode, resent: m.resentByCause, epochs: { first: epochs.first, last: epochs.last, switches: epochs.switches.length } });
    assert.equal(run.end, "settled", summary);
    assert.deepEqual([m.totals.submitted, m.totals.final, m.totals.rejected, m.totals.unsettled], [TRANSFERS, TRANSFERS, 0, 0], summary);
    assert.ok(epochs.last - epochs.first >= 2, `the load spans at least two switches: ${summary}`);
    assert.ok(epochs.switches.length > 0, `the harness saw validators switch: ${summary}`);

    // Every validator serves the shard its latest epoch assigns; the shards' supplies add up to the genesis's less one fee per transfer.
    const all = await statuses();
    const servingEach = [0, 1].map((shard) => all.filter((status) => status.shard === shard));
    assert.ok(servingEach.every((list) => list.length > 0), "each shard has validators");
    let supply = 0n;
    for (const list of servingEach) {
      // Validators of one shard agree on its supply once at the same height; the quiet end of the run leaves only empty heights.
      supply += BigInt(list[0]!.supply);
      assert.equal(new Set(list.map((status) => status.supply)).size, 1, "a shard's validators agree on its supply");
    }
    assert.equal(supply, genesisSupply(devnet.genesis) - BigInt(TRANSFERS), "the chain keeps its supply less the fees");
  });

  it(`a PoB devnet with an epoch length passes ${EPOCHS} epochs: every validator switches, movers sync, one chain and transcript per epoch, served and verified`, async () => {
    const clients = devnet.manifest.validators.map((v) => new ApiClient(v.http));
    assert.ok(await until(async () => (await statuses()).every((status) => status.epoch >= EPOCHS), 150_000),
      `every validator reaches epoch ${EPOCHS}: ${JSON.stringify((await statuses()).map((s) => [s.epoch, s.shard, s.tip.height]))}`);
    const chains = await Promise.all(clients.map((client) => client.identityChain()));
    const links = decodeIdentityChain(chains.reduce((shortest, chain) => (chain.length < shortest.length ? chain : shortest)));
    assert.ok(links.length >= EPOCHS);
    const contexts = verifyIdentityChain(devnet.genesis, links);
    for (const chain of chains) {
      // Every validator's chain is the same links (some may already hold one more).
      assert.deepEqual(decodeIdentityChain(chain).slice(0, links.length).map((link) => hex(link.configuration)), links.map((link) => hex(link.configuration)));
    }
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      const transcripts = await Promise.all(clients.map((client) => client.drpTranscript(epoch)));
      assert.equal(new Set(transcripts.map(hex)).size, 1, `one transcript of epoch ${epoch} everywhere`);
      assert.deepEqual(sha256(transcripts[0]!), decodeIdentityConfiguration(links[epoch - 1]!.configuration).transcriptHash);
      assert.deepEqual(verifyTranscript(transcripts[0]!).rnd, contexts[epoch]!.randomness, `rnd_${epoch} is the transcript's output`);
      assert.deepEqual(decodeIdentityConfiguration(links[epoch - 1]!.configuration).boundaries.map((b) => b.height), [epoch * L, epoch * L]);
    }
    const final = await statuses();
    devnet.manifest.validators.forEach((validator, i) => {
      const status = final[i]!;
      const context = contexts[status.epoch] ?? verifyIdentityChain(devnet.genesis, decodeIdentityChain(chains[i]!)).at(-1)!;
      assert.equal(status.shard, context.shardOf(Buffer.from(validator.publicKey, "hex")), "each validator serves the shard its epoch assigns");
    });
    // Each shard goes on past its epoch's start: a validator read just as it switched is at that height, so each is read until it is past.
    for (const validator of devnet.manifest.validators) {
      const client = new ApiClient(validator.http);
      assert.ok(await until(async () => {
        const status = (await client.status()) as unknown as NodeStatus;
        return status.tip.height > status.epoch * L;
      }, 10_000), `${validator.http}: its shard went on past the epoch's start`);
    }
    assert.ok(final.some((status) => status.lastSwitch?.sync !== undefined), "validators moved between shards and synced");

    // Micro State Blocks over processes: each validator's status names its shard's latest MSB; a UTXO proof against it and the
    // proof of the transaction that created the output, fetched and verified with the CLI from the genesis and the identity chain.
    for (const [i, validator] of devnet.manifest.validators.entries()) {
      const { msb } = (await clients[i]!.status()) as unknown as { msb?: { epoch: number; height: number; count: number } };
      assert.ok(msb !== undefined && msb.epoch >= EPOCHS - 1 && msb.height === (msb.epoch + 1) * L && msb.count > 0, `validator ${i} (${validator.http}): its shard's latest MSB ${JSON.stringify(msb)}`);
    }
    // Validators change shard at every switch: each step asks one serving shard 0 now, the next one if it just left.
    const shard0 = async (): Promise<string[]> => (await statuses()).flatMap((status, i) => (status.shard === 0 ? [devnet.manifest.validators[i]!.http] : []));
    const account = devnet.accounts.find((a) => shardOfOwner(a.publicKey, 2) === 0)!;
    // A transfer paid now: its block is kept by the validators of shard 0 through the next epoch (one that joins the shard at a
    // later MSB keeps no block below it, and the API answers TX_NOT_FOUND naming its horizon).
    const payee = devnet.accounts.find((a) => a !== account && shardOfOwner(a.publicKey, 2) === 0)!;
    const keyFile = join(root, "payer.key.json");
    writeFileSync(keyFile, keyFileJson(account), { mode: 0o600 });
    // Validators switch shard every few seconds here: every validator is given, and the CLI sends the payment to one serving
    // shard 0 when it is sent (and to the next one if that one left the shard before it arrived: TX_WRONG_SHARD).
    const sent = await ios(["tx", "send", "--from", keyFile, "--to", hex(payee.publicKey), "--amount", "777", ...devnet.manifest.validators.flatMap((v) => ["--node", v.http]), "--wait", "--timeout", "120"]);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    const paid = /txid ([0-9a-f]{64}) accepted\n(?:optimistic .*\n)?final at height (\d+)/.exec(sent.stdout);
    assert.ok(paid !== null, sent.stdout);
    const output = { txid: paid[1]!, index: 0 };
    const created = { height: Number(paid[2]) };
    // The output is in the latest MSB once an epoch ended after the height that created it.
    assert.ok(await until(async () => (((await new ApiClient((await shard0())[0]!).status()) as unknown as { msb?: { height: number } }).msb?.height ?? 0) >= created.height, 60_000),
      `an MSB of shard 0 after height ${created.height}`);
    const files = { utxo: join(root, "utxo.proof"), tx: join(root, "tx.proof") };
    // The transaction proof first, while the shard rests at the epoch's end: every validator of shard 0 holds the epoch's blocks
    // then; after the switch, one that joined shard 0 at this MSB keeps none below it (MSB_PRUNED), and all may have.
    for (const [flag, value, file] of [["--tx", output.txid, files.tx], ["--utxo", `${output.txid}:${output.index}`, files.utxo]] as const) {
      let got: Awaited<ReturnType<typeof ios>> | undefined;
      let server = "";
      assert.ok(await until(async () => {
        for (server of await shard0()) {
          got = await ios(["proof", "get", "--node", server, flag, value, "--out", file, "--force"]);
          if (got.code === 0) return true;
        }
        return false;
      }, 30_000), `ios proof get ${flag}: ${got?.stderr}`);
      const verified = await ios(["proof", "verify", file, "--genesis", devnet.manifest.genesis, "--node", server, "--json"]);
      assert.equal(verified.code, 0, `ios proof verify (${flag}): ${verified.stderr}`);
      const shown = JSON.parse(verified.stdout) as { verified: boolean; type: string; txid: string; msb?: { epoch: number; shard: number } };
      assert.deepEqual([shown.verified, shown.txid, shown.msb?.shard], [true, output.txid, 0], verified.stdout);
      // One flipped byte, and the CLI refuses it with a code.
      const bytes = readFileSync(file);
      bytes[bytes.length - 7]! ^= 1;
      writeFileSync(`${file}.flipped`, bytes);
      const refused = await ios(["proof", "verify", `${file}.flipped`, "--genesis", devnet.manifest.genesis, "--node", server]);
      assert.equal(refused.code, 1, `a flipped proof is refused: ${refused.stdout}`);
      assert.match(refused.stderr, /[A-Z]+_[A-Z_]+/);
    }
    for (const [i, validator] of devnet.manifest.validators.entries()) {
      const metrics = await (await fetch(`${validator.http}/metrics`)).text();
      const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
      assert.ok(value("ios_epoch") >= final[i]!.epoch && value("ios_epoch_switches_total") >= EPOCHS, `validator ${i}: the epoch metrics follow the switches`);
      assert.ok(value("ios_epoch_transition_leaders_left") >= 0 && value("ios_epoch_links_served_total") >= 0, `validator ${i}: the transition and catch-up counts are exported`);
      assert.match(metrics, /^ios_epoch_link_catch_up_ignored_total\{code="ARCHIVE_OVER_BUDGET"\} \d+$/m);
    }
  });
});
