// What the whole-node epoch tests share (whole-node-epochs, whole-node-drp-byzantine): a light
// load of chained transfers paid by one client per shard across the epoch switches, and the
// checks of a finished run — one identity chain everywhere (verified from the genesis), each
// node's contexts agreeing with it (rnd_e, the shard of every validator, the leagues of every
// shard), each node serving the shard its epoch assigns, every replica of a shard holding the same
// blocks, and the chain's supply less the fees.
import assert from "node:assert/strict";
import { RETRYABLE_CODES } from "../../src/api/errors.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { verifyIdentityChain } from "../../src/epoch/identity/link.js";
import type { EpochContext } from "../../src/epoch/interface.js";
import { toHex } from "../../src/hex.js";
import { decodeBlock } from "../../src/ledger/block.js";
import { genesisSupply, type Genesis } from "../../src/ledger/genesis.js";
import type { KeyPair } from "../../src/ledger/keys.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { TxKind, encodeTransaction, signTransaction, transactionIdOfEncoding } from "../../src/ledger/transaction.js";
import type { ValidatorNode } from "../../src/node/validator.js";
import type { ValidatorCluster } from "../../src/sim/validator-cluster.js";
import { decodeFinalHeightCertificate } from "../../src/atomix/proof.js";
import { backPointerEpochs, decodeMsbHeader, msbHeaderHashOfEncoding, skipPath } from "../../src/msb/header.js";
import { proveMsbHeaderPath, verifyMsbHeaderPath } from "../../src/msb/proof.js";
import { snapshotOfEntries, snapshotOfOrderedEntries } from "../../src/msb/snapshot.js";

/** A client sends a round's unsettled transfers again after this long (a relay to a producer that is down is answered RELAY_UNANSWERED, not lost silently). */
const RESEND_MS = 5_000;
/** A client pays its next round this long after the previous one is final. */
const ROUND_GAP_MS = 400;
/** What each transfer pays the next account. */
const PAYMENT = 1_000n;
const verifier = new Ed25519Verifier();

/** Chained transfers: in round r every account pays 1,000 to the next one and keeps the change (its output of round r − 1). */
export function planRounds(accounts: readonly KeyPair[], genesisTxid: Uint8Array, positions: ReadonlyMap<string, number>, rounds: number, amount: bigint, fee: bigint): Uint8Array[][] {
  const unspent = new Map(accounts.map((a) => [toHex(a.publicKey), { txid: genesisTxid, index: positions.get(toHex(a.publicKey))!, amount }]));
  return Array.from({ length: rounds }, () => accounts.map((payer, i) => {
    const payee = accounts[(i + 1) % accounts.length]!;
    const coin = unspent.get(toHex(payer.publicKey))!;
    const change = coin.amount - PAYMENT - fee;
    const { transaction, txid } = signTransaction({
      kind: TxKind.Transfer,
      inputs: [{ txid: coin.txid, index: coin.index, owner: payer.publicKey }],
      outputs: [{ owner: payee.publicKey, amount: PAYMENT }, { owner: payer.publicKey, amount: change }],
    }, [payer]);
    unspent.set(toHex(payer.publicKey), { txid, index: 1, amount: change });
    return encodeTransaction(transaction);
  }));
}

export interface TransferLoad {
  /** Transfers planned in all. */
  readonly total: number;
  /** Txids (hex) the validators answered for. */
  readonly txids: ReadonlySet<string>;
  /** Codes of transfers refused; routing answers (RETRYABLE_CODES: TX_WRONG_SHARD from a validator that just left the shard, RELAY_UNANSWERED, …) are not: the round is sent again. */
  readonly refused: readonly string[];
  /** Every planned transfer was submitted and is final on every validator serving its shard now. */
  allFinal(): boolean;
  /** A few transfers not final everywhere, with each serving validator's pruning horizon and status (a failure's message). */
  unsettled(): string;
}

/**
 * One client per shard paying `rounds` chained rounds (planRounds): each round once the previous
 * one is final at a validator serving the shard now (a transfer spends its parent's output),
 * ROUND_GAP_MS later; with epochs of a few idle heights plus a transition, rounds land in every
 * epoch and around the switches. Like any client it sends a round's unsettled transfers again
 * after RESEND_MS.
 */
export function payInRounds(cluster: ValidatorCluster, accounts: readonly KeyPair[], positions: ReadonlyMap<string, number>, options: { readonly rounds: number; readonly amount: bigint; readonly fee: bigint }): TransferLoad {
  const { sim, context } = cluster;
  const shards = context.shardCount;
  const byShard = Array.from({ length: shards }, (_, shard) => accounts.filter((account) => shardOfOwner(account.publicKey, shards) === shard));
  const rounds = byShard.map((owners) => planRounds(owners, context.chain, positions, options.rounds, options.amount, options.fee));
  const txids = new Set<string>();
  const refused: string[] = [];
  // Transfers some validator serving their shard reported final (a validator that joins the shard at a later MSB never learns them).
  const seenFinal = new Set<string>();
  rounds.forEach((planned, shard) => {
    let round = 0;
    let sentAt = 0;
    const send = (node: ValidatorNode, batch: readonly Uint8Array[]): void => {
      sentAt = sim.now();
      void node.submit(batch).then((results) => {
        for (const result of results) {
          // A routing answer (the validator left the shard, or its relay went unanswered at a switch) is no refusal: the round is sent again.
          if (result.outcome === "rejected" && !RETRYABLE_CODES.has(result.code ?? "")) refused.push(`${result.code}`);
          if (result.txid !== undefined) txids.add(toHex(result.txid));
        }
      });
    };
    const pay = (): void => {
      // The validator keeping the most of the shard's history: one that joined at an MSB knows no transfer below it.
      const node = cluster.serving(shard).reduce<ValidatorNode | undefined>((best, next) => (best === undefined || next.state.prunedBelow < best.state.prunedBelow ? next : best), undefined);
      const current = round === 0 ? [] : planned[round - 1]!;
      const unsettled = node === undefined ? current : current.filter((tx) => {
        const final = node.driver.status(transactionIdOfEncoding(tx)).state === "final";
        if (final) seenFinal.add(toHex(transactionIdOfEncoding(tx)));
        return !final;
      });
      if (node !== undefined && unsettled.length === 0 && round < planned.length) send(node, planned[round++]!);
      else if (node !== undefined && unsettled.length > 0 && sim.now() - sentAt >= RESEND_MS) send(node, unsettled);
      // Until the last round is seen final too: a validator joining the shard at a later MSB would never tell.
      if (round < planned.length || unsettled.length > 0 || current !== planned[round - 1]) sim.schedule(ROUND_GAP_MS, `pay ${shard}`, pay);
    };
    sim.schedule(300, `pay ${shard}`, pay);
  });
  const total = options.rounds * accounts.length;
  const shardOfTx = new Map(rounds.flatMap((planned, shard) => planned.flat().map((tx) => [toHex(transactionIdOfEncoding(tx)), shard] as const)));
  // A validator that joined the shard at an MSB (msb-join) after the transfer's height never fetched its block: it does not know
  // it. Once every validator of a shard joined that way, none knows it; so the transfer must have been seen final by one earlier.
  const finalWhereServed = (txid: string): boolean => {
    const states = cluster.serving(shardOfTx.get(txid)!).map((node) => ({ joined: node.state.prunedBelow > 1, state: node.driver.status(Buffer.from(txid, "hex")).state }));
    if (states.some(({ state }) => state === "final")) seenFinal.add(txid);
    return seenFinal.has(txid) && states.every(({ joined, state }) => state === "final" || (joined && state === "unknown"));
  };
  const roundOf = new Map(rounds.flatMap((planned) => planned.flatMap((txs, round) => txs.map((tx) => [toHex(transactionIdOfEncoding(tx)), round] as const))));
  const unsettled = (): string => {
    const left = [...txids].filter((txid) => !finalWhereServed(txid));
    const where = (txid: string) => cluster.serving(shardOfTx.get(txid)!).map((node) => `${node.state.prunedBelow}/${node.driver.status(Buffer.from(txid, "hex")).state}`).join();
    // shard.round, "seen" when the client saw it final once; then each serving validator's pruning horizon / status.
    return `${left.length} (${left.map((txid) => `${shardOfTx.get(txid)}.${roundOf.get(txid)}${seenFinal.has(txid) ? " seen" : ""}`).join(", ")}): `
      + left.slice(0, 3).map((txid) => `${txid.slice(0, 8)}: ${where(txid)}`).join("; ");
  };
  return { total, txids, refused, allFinal: () => txids.size === total && [...txids].every(finalWhereServed), unsettled };
}

/** A context's assignment and leagues, comparable as text: the shard of every validator, each shard's believable league (in draw order), normal league and committee. */
function seatsOf(context: EpochContext): string {
  const shards = Array.from({ length: context.shardCount }, (_, shard) => {
    const leagues = context.policy === undefined ? undefined : context.leagues(shard);
    return { members: context.members(shard).map(toHex), believable: leagues?.believable.map(toHex), normal: leagues?.normal.map(toHex), committee: leagues?.committee.map(toHex) };
  });
  return JSON.stringify({ validators: context.validators.map((v) => [toHex(v.publicKey), context.shardOf(v.publicKey)]), shards });
}

/**
 * The identity chain every node in `nodes` holds up to `epochs` (at least): one link per epoch
 * everywhere, verified from the genesis; each node's contexts give the same configuration,
 * rnd_e, assignment and leagues as the verified chain; each node serves the shard its latest
 * epoch assigns. Returns the verified contexts (epoch 0 first).
 */
export function checkIdentityChains(seed: string, genesis: Genesis, nodes: readonly ValidatorNode[], epochs: number): EpochContext[] {
  const knownBy = (node: ValidatorNode) => node.contexts.length - 1;
  assert.ok(Math.min(...nodes.map(knownBy)) >= epochs, `${seed}: every node knows ${epochs} epochs (${nodes.map(knownBy).join()})`);
  // Epochs go on while this runs: the chain is the longest node's, and each node must hold its prefix.
  const longest = nodes.reduce((best, node) => (knownBy(node) > knownBy(best) ? node : best));
  const links = Array.from({ length: knownBy(longest) }, (_, i) => longest.archive.epochLink(i + 1)!);
  const contexts = verifyIdentityChain(genesis, links, verifier);
  for (const node of nodes) {
    for (let epoch = 1; epoch <= knownBy(node); epoch++) {
      const link = node.archive.epochLink(epoch)!;
      assert.equal(toHex(link.configuration) + toHex(link.certificate), toHex(links[epoch - 1]!.configuration) + toHex(links[epoch - 1]!.certificate), `${seed}: one link of epoch ${epoch}`);
      const mine = node.contexts[epoch]!;
      assert.equal(toHex(mine.configurationHash), toHex(contexts[epoch]!.configurationHash), `${seed}: one configuration of epoch ${epoch}`);
      assert.equal(toHex(mine.randomness), toHex(contexts[epoch]!.randomness), `${seed}: one rnd_${epoch}`);
      assert.equal(seatsOf(mine), seatsOf(contexts[epoch]!), `${seed}: one assignment and one set of leagues in epoch ${epoch}`);
    }
    assert.equal(node.shard, contexts[node.context.epoch]!.shardOf(node.setup.key.publicKey), `${seed}: each validator serves the shard its epoch assigns`);
  }
  return contexts;
}

/**
 * Micro State Blocks (src/node/msb.ts) of the epochs that ended: every validator serving the shard
 * (stayers, and movers that synced it) stores the same header, of this chain, shard, epoch and
 * last height; its hash is the one the last height's certificate commits to, its count and supply
 * the certified UTXO set's at that height; each back-pointer is the stored header 2^i epochs back,
 * and a header path from the last MSB to every earlier one verifies. The latest body is kept in
 * full and hashes to the latest header's root.
 */
export function checkMsbChain(seed: string, serving: readonly ValidatorNode[], shard: number, ended: number, epochLength: number): void {
  assert.ok(ended >= 1, `${seed}: shard ${shard} ended an epoch`);
  // The headers of every epoch end: every serving validator keeps all of them, joiners too (their certification carried them).
  const state = lowestBase(serving).state;
  const headerOf = (epoch: number) => decodeMsbHeader(state.msbHeader(epoch)!);
  const last = ended - 1;
  for (let epoch = 0; epoch < ended; epoch++) {
    const stored = state.msbHeader(epoch);
    assert.ok(stored !== undefined, `${seed}: shard ${shard} stores the MSB of epoch ${epoch}`);
    for (const node of serving) assert.equal(toHex(node.state.msbHeader(epoch) ?? new Uint8Array(0)), toHex(stored), `${seed}: shard ${shard}'s validators store one MSB header of epoch ${epoch}`);
    const header = decodeMsbHeader(stored);
    const height = (epoch + 1) * epochLength;
    assert.deepEqual([header.shard, header.epoch, header.height, toHex(header.chain)], [shard, epoch, height, toHex(state.chainId)], `${seed}: MSB ${epoch}'s place`);
    backPointerEpochs(epoch).forEach((earlier, level) => {
      assert.equal(toHex(header.backPointers[level]!), toHex(msbHeaderHashOfEncoding(state.msbHeader(earlier)!)), `${seed}: MSB ${epoch}'s back-pointer ${level} names MSB ${earlier}`);
    });
    // Epoch ends below every joiner's MSB are certified by whoever replayed them; when every validator serving the shard now
    // joined later, nobody here keeps that certificate (the header is still bound by the later headers' back-pointers).
    const kept = serving.map((node) => node.state.certificateAt(height)).find((certificate) => certificate !== undefined);
    assert.ok(kept !== undefined || epoch < last, `${seed}: the latest epoch end's certificate is kept`);
    if (kept === undefined) continue;
    const certified = decodeFinalHeightCertificate(kept).commitment;
    assert.equal(toHex(certified.msbHeaderHash), toHex(msbHeaderHashOfEncoding(stored)), `${seed}: the certificate of height ${height} binds MSB ${epoch}`);
    assert.deepEqual([BigInt(header.count), header.supply], [certified.count, certified.supply], `${seed}: MSB ${epoch} holds the certified UTXO set of height ${height}`);
  }
  const lastHash = msbHeaderHashOfEncoding(state.msbHeader(last)!);
  for (let to = 0; to <= last; to++) {
    const path = verifyMsbHeaderPath(proveMsbHeaderPath(last, to, headerOf), lastHash);
    assert.deepEqual(path.map((header) => header.epoch), skipPath(last, to).epochs, `${seed}: MSB ${last} reaches MSB ${to} through back-pointers`);
  }
  for (const node of serving) {
    // A validator ahead of the common height may have passed the next epoch end already.
    assert.ok((node.state.latestMsb?.epoch ?? -1) >= last, `${seed}: shard ${shard}'s latest MSB is epoch ${last}'s or later`);
    if (node.state.latestMsb!.epoch > last) continue;
    const body = snapshotOfOrderedEntries(node.state.msbBody(node.state.latestMsb!.epoch)!);
    assert.deepEqual([toHex(body.root), body.count, body.supply], [toHex(headerOf(last).root), headerOf(last).count, headerOf(last).supply], `${seed}: the latest MSB body is its header's`);
  }
}

/** The validator keeping the most of the shard's chain (the lowest pruning horizon: one that replayed it, if any did). */
function lowestBase(serving: readonly ValidatorNode[]): ValidatorNode {
  return serving.reduce((best, node) => (node.state.prunedBelow < best.state.prunedBelow ? node : best));
}

/** The shard's UTXO set at a node as its RFC 6962 root over outpoint order, count and supply: equal roots, equal sets. */
export function utxoSetOf(node: ValidatorNode): string {
  const set = snapshotOfEntries(node.state.utxoSnapshot());
  return `${toHex(set.root)}/${set.count}/${set.supply}`;
}

/**
 * Each shard's chain went on across the switches: height h is of epoch ⌊(h − 1)/L⌋, every
 * validator serving the shard now holds the same blocks up to their common height (at least
 * `epochs`·L) and the same supply; the shards' supplies sum to the genesis's less `fees`.
 */
export function checkShardChains(seed: string, cluster: ValidatorCluster, genesis: Genesis, epochs: number, epochLength: number, fees: bigint): void {
  let supply = 0n;
  for (let shard = 0; shard < cluster.context.shardCount; shard++) {
    const serving = cluster.serving(shard);
    assert.ok(serving.length > 0);
    const common = Math.min(...serving.map((node) => node.state.tip.height));
    assert.ok(common >= epochs * epochLength, `${seed}: shard ${shard} passed height ${epochs * epochLength} (common ${common})`);
    const reference = lowestBase(serving);
    for (let height = reference.state.prunedBelow; height <= common; height++) {
      const block = reference.state.getBlock(height)!;
      assert.equal(decodeBlock(block).header.epoch, Math.floor((height - 1) / epochLength), `${seed}: shard ${shard} height ${height}'s epoch`);
      // A validator that joined at an MSB keeps the blocks from its MSB's height on, and answers none below it.
      for (const node of serving) {
        if (height >= node.state.prunedBelow) assert.equal(toHex(node.state.getBlock(height)!), toHex(block), `${seed}: shard ${shard} height ${height} agrees`);
        else assert.equal(node.state.getBlock(height), undefined, `${seed}: shard ${shard} height ${height} lies below a joiner's MSB`);
      }
    }
    checkMsbChain(seed, serving, shard, Math.floor(common / epochLength), epochLength);
    const supplies = new Set(serving.map((node) => node.state.supply));
    assert.equal(supplies.size, 1, `${seed}: shard ${shard}'s validators agree on its supply`);
    const atCommon = serving.filter((node) => node.state.tip.height === common);
    assert.equal(new Set(atCommon.map(utxoSetOf)).size, 1, `${seed}: shard ${shard}'s validators at height ${common} hold one UTXO set`);
    supply += serving[0]!.state.supply;
  }
  assert.equal(supply, genesisSupply(genesis) - fees, `${seed}: the chain keeps its supply, less the fees`);
}
