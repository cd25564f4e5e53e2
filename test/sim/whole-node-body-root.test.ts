// Issue 13: the certified state commitment binds the final block's body root (src/consensus/pob/
// finalization.ts). Whole PoB validators of one shard of 5 under transfers. The member that leads
// view 0 of some heights is byzantine when it leads: it executes its proposal over copies of the
// optimistic blocks in which one transaction is re-signed by its payer with a non-canonical R
// (test/support/zip215.ts: ZIP-215-valid, same txid, same state), so its commitment differs from
// the honest one only by the body root. Every other member executes the same proposal over the
// blocks it holds, reaches another commitment and does not co-sign: each such height is decided in
// a later view, every replica stores the same final blocks, and each final block's header body
// root is the one its certificate carries. Without the body root in the parts the lie is co-signed
// in view 0 (mutation-checked).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeFinalHeightCertificate } from "../../src/atomix/proof.js";
import { merkleRootAndLeafHashes } from "../../src/crypto/merkle.js";
import type { PobValidator } from "../../src/consensus/pob/finalization.js";
import { toHex } from "../../src/hex.js";
import { decodeBlock, type DecodedBlock } from "../../src/ledger/block.js";
import { packTransactions } from "../../src/ledger/stateless.js";
import type { PobShardConsensus } from "../../src/node/consensus/pob-consensus.js";
import { simSeed } from "../../src/sim/simulator.js";
import { resignedNonCanonically } from "../support/zip215.js";
import { payInRounds } from "./epoch-load.js";
import { pobCluster, SIM_POLICY } from "./pob-cluster.js";

const driverOf = (node: { driver: unknown }) => node.driver as PobShardConsensus;

describe("whole PoB validators: a leader whose executed body root differs is not co-signed", () => {
  it("the lying leader's proposals binding a re-signed copy's body root are refused by every honest member; those heights are decided in a later view, replicas agree byte for byte, and every final header's body root is the certified one", async () => {
    const { cluster, accounts, positions } = pobCluster({
      seed: simSeed("whole-node-body-root"), genesisSeed: "whole-node-body-root", policy: SIM_POLICY, shards: 1, perShard: 5, accounts: 12, amount: 1_000_000n,
    });
    const ids = cluster.members(0);
    const load = payInRounds(cluster, accounts, positions, { rounds: 4, amount: 1_000_000n, fee: 10n });
    await cluster.advance(50);
    const liar = ids.find((id) => {
      const bft = driverOf(cluster.node(id)!).node.bft;
      return bft !== undefined && [1, 2, 3, 4, 5].some((h) => bft.leaderOf(h, 0) === bft.selfIndex);
    });
    assert.ok(liar !== undefined, "some member leads view 0 of an early height");
    // The byzantine execution: its own proposals only, over a copy of each block with one payer's transaction re-signed.
    const validator = driverOf(cluster.node(liar)!).node.validator;
    const honestExecute = validator.execute.bind(validator);
    const lied = new Set<number>();
    /** A copy of the block with its first payer's transaction re-signed; undefined when no payer signed in it. */
    const forged = (body: Uint8Array | DecodedBlock | undefined): DecodedBlock | undefined => {
      if (body === undefined) return undefined;
      const block = body instanceof Uint8Array ? decodeBlock(body) : body;
      const at = block.transactions.findIndex((tx) => resignedNonCanonically(tx, accounts) !== undefined);
      if (at < 0) return undefined;
      const transactions = [...block.transactions];
      transactions[at] = resignedNonCanonically(transactions[at]!, accounts)!;
      // Its own leaf hashes, as decoding the re-signed copy would give them.
      return { ...block, transactions, body: packTransactions(transactions), leafHashes: merkleRootAndLeafHashes(transactions).leafHashes };
    };
    validator.execute = ((core, bodyOf, randomness, coreHash) => {
      if (toHex(core.proposer) !== liar) return honestExecute(core, bodyOf, randomness, coreHash);
      return honestExecute(core, (hash) => {
        const body = bodyOf(hash);
        const copy = forged(body);
        if (copy === undefined) return body;
        lied.add(core.height);
        return copy;
      }, randomness, coreHash);
    }) as PobValidator["execute"];

    const honest = ids.filter((id) => id !== liar);
    assert.ok(await cluster.advance(60_000, () => load.allFinal() && lied.size > 0), `every transfer final and the liar lied at least once (${load.unsettled()})`);
    const states = honest.map((id) => cluster.node(id)!.state);
    const tip = Math.min(...states.map((state) => state.tip.height));
    for (const height of lied) {
      if (height > tip) continue;
      const certificate = decodeFinalHeightCertificate(states[0]!.certificateAt(height)!);
      assert.ok(certificate.view >= 1, `height ${height}: the liar's view-0 proposal was not co-signed (decided in view ${certificate.view})`);
    }
    assert.ok([...lied].some((height) => height <= tip), "a lied height is final on the honest replicas");
    // The normal league co-signs (the believable producer does not).
    const normal = new Set(cluster.context.leagues(0).normal.map(toHex));
    const refusals = honest.filter((id) => normal.has(id)).map((id) => driverOf(cluster.node(id)!).node.stats.commitmentMismatches);
    assert.ok(refusals.length >= 3 && refusals.every((count) => count > 0), `every honest normal-league member refused to co-sign (${refusals.join()})`);
    for (let h = 1; h <= tip; h++) {
      const block = states[0]!.getBlock(h)!;
      for (const state of states.slice(1)) assert.equal(toHex(state.getBlock(h)!), toHex(block), `height ${h}: one final block on every honest replica`);
      const certified = decodeFinalHeightCertificate(states[0]!.certificateAt(h)!).commitment.bodyRoot;
      assert.equal(toHex(decodeBlock(block).header.bodyRoot), toHex(certified), `height ${h}: the header's body root is the certified one`);
    }
    assert.deepEqual(cluster.failures.filter((failure) => failure.id !== liar), [], "no honest driver failed");
    await cluster.stop();
  });
});
