// Slashing as a ledger fact (issue 12 defect 4): the SlashingEvidence kind, bonds, compensation
// and the replica record a restart resumes from.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compensate } from "../../src/consensus/pob/slashing.js";
import { decodeReplicaRecord, encodeReplicaRecord, type ReplicaRecord } from "../../src/consensus/pob/replica-state.js";
import { bondEntries } from "../../src/ledger/bond.js";
import { genesisBond, makeTestGenesis } from "../../src/ledger/genesis.js";
import { MAX_COMPENSATIONS, slashingKind } from "../../src/ledger/kinds/slashing.js";
import { applyRecordOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { TxKind, encodeTransaction, signTransaction } from "../../src/ledger/transaction.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { codeOf } from "../support/errors.js";
import { IosError } from "../../src/errors.js";
import { readU32 } from "../../src/codec/binary.js";
import { BlockKind, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { ShardState } from "../../src/node/shard-state.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { toHex } from "../../src/hex.js";

const owner = (k: number) => new Uint8Array(32).fill(k);
const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 64 };

describe("slashing ledger facts", () => {
  const { genesis, accounts } = makeTestGenesis({ seed: "slashing facts", shardCount: 1, accounts: 4, amount: 500n, validators: 3, stake: 1_000n });
  const bond = genesisBond(genesis, 1);
  const slashing = (compensations: { owner: Uint8Array; amount: bigint }[]) => slashingKind.encode({
    kind: TxKind.SlashingEvidence, epoch: 0, shard: 0, height: 7, offender: bond.validator, bond: bond.outpoint, bondAmount: bond.amount, compensations, evidence: new Uint8Array([1, 2, 3]),
  });

  it("spends the bond, pays the compensations and burns the rest, in the kernel; clients cannot submit one", () => {
    const table = new UtxoTable({ initialCapacityLog2: 6 });
    table.insertEntries(bondEntries([bond]));
    const supply = table.supply;
    const tx = slashing([{ owner: owner(1), amount: 300n }, { owner: owner(2), amount: 200n }]);
    assert.deepEqual(slashingKind.decode(tx).compensations.map((c) => c.amount), [300n, 200n]);
    const txid = transactionIdOfEncoding(tx);
    const record = applyRecordOf(tx, txid, 0, 1);
    assert.deepEqual(Array.from(table.applyBlock(record, 1).statuses), [ApplyStatus.Ok]);
    assert.equal(table.supply, supply - 500n, "half the bond burned");
    assert.deepEqual(table.get(txid, 1), { owner: owner(2), amount: 200n });
    assert.equal(table.applyBlock(record, 1).statuses[0], ApplyStatus.MissingInput, "a bond is slashed once");
    // Derived by the shard, never submitted: a client's or producer's copy is refused with a code.
    assert.equal(validateStateless(packTransactions([tx]), 0, 1).rejections[0]?.code, "TX_NOT_SUBMITTABLE");
    assert.equal(validateStateless(packTransactions([tx]), 0, 1, "derived").rejections[0], null);
    // No compensation at all burns the whole bond; the kernel accepts a slashing with no output.
    const none = new UtxoTable({ initialCapacityLog2: 6 });
    none.insertEntries(bondEntries([bond]));
    const all = slashing([]);
    assert.equal(none.applyBlock(applyRecordOf(all, transactionIdOfEncoding(all), 0, 1), 1).statuses[0], ApplyStatus.Ok);
    assert.equal(none.supply, 0n);
  });

  it("a block someone else proposed may not carry one: commitBlock refuses it (STATE_INVALID_TX, TX_NOT_SUBMITTABLE) and keeps the bond", async () => {
    const pob = makeTestGenesis({ seed: "slashing facts pob", shardCount: 1, accounts: 4, amount: 500n, validators: 4, stake: 1_000n, pob: POLICY });
    const state = ShardState.open({ store: MemoryChainStore.open(new MemoryDisk("slashing commitBlock")), genesis: pob.genesis, shard: 0 });
    const pobBond = genesisBond(pob.genesis, 0);
    const fake = slashingKind.encode({
      kind: TxKind.SlashingEvidence, epoch: 0, shard: 0, height: 1, offender: pobBond.validator, bond: pobBond.outpoint, bondAmount: pobBond.amount,
      compensations: [{ owner: pob.accounts[0]!.publicKey, amount: pobBond.amount }], evidence: new Uint8Array([1]),
    });
    const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: 0, height: 1, prevHash: state.tip.hash, timestamp: 1, producer: pob.validators[1]!.publicKey }, [fake]);
    const block = encodeBlock(header, sealOptimistic(header, pob.validators[1]!), [fake]);
    const refused = (() => {
      try {
        state.commitBlock(block);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    assert.ok(refused instanceof IosError && refused.code === "STATE_INVALID_TX", String(refused));
    assert.equal((refused.detail as { code: string }).code, "TX_NOT_SUBMITTABLE");
    assert.equal(state.tip.height, 0);
    assert.deepEqual(state.getUtxo(pobBond.outpoint.subarray(0, 32), readU32(pobBond.outpoint, 32))?.amount, 1_000n, "the bond stays");
    await state.close();
  });

  it("refuses malformed slashings with codes, and any transfer that spends a bond", () => {
    assert.equal(codeOf(() => slashing([{ owner: owner(2), amount: 1n }, { owner: owner(1), amount: 1n }])), "TX_BAD_FIELD", "owners ascending");
    assert.equal(codeOf(() => slashing([{ owner: owner(1), amount: 1_001n }])), "TX_AMOUNT_OVERFLOW", "no more than the bond");
    assert.equal(codeOf(() => slashing([{ owner: owner(1), amount: 0n }])), "TX_ZERO_AMOUNT");
    const tx = slashing([]);
    for (let length = 0; length < tx.length; length++) assert.equal(codeOf(() => slashingKind.decode(tx.subarray(0, length))), "TX_TRUNCATED", `length ${length}`);
    const payer = accounts[0]!;
    const { transaction } = signTransaction({
      kind: TxKind.Transfer, inputs: [{ txid: bond.outpoint.subarray(0, 32), index: readU32(bond.outpoint, 32), owner: payer.publicKey }],
      outputs: [{ owner: payer.publicKey, amount: 1n }],
    }, [payer]);
    assert.equal(validateStateless(packTransactions([encodeTransaction(transaction)]), 0, 1).rejections[0]?.code, "TX_BAD_FIELD");
  });

  it("pays losses in full when the bond covers them, pro rata when it does not, the largest first beyond the cap", () => {
    const full = compensate([{ owner: owner(2), amount: 100n }, { owner: owner(1), amount: 50n }, { owner: owner(2), amount: 25n }], 1_000n);
    assert.deepEqual(full.payments.map((p) => [p.owner[0], p.amount]), [[1, 50n], [2, 125n]]);
    assert.deepEqual([full.burned, full.unpaid], [825n, 0n]);
    const short = compensate([{ owner: owner(1), amount: 300n }, { owner: owner(2), amount: 100n }], 100n);
    assert.deepEqual(short.payments.map((p) => [p.owner[0], p.amount]), [[1, 75n], [2, 25n]]);
    assert.deepEqual([short.burned, short.unpaid], [0n, 300n]);
    const many = Array.from({ length: MAX_COMPENSATIONS + 5 }, (_, i) => ({ owner: Uint8Array.from({ length: 32 }, (_, b) => (b < 4 ? (i >> (8 * b)) & 0xff : 0)), amount: BigInt(i + 1) }));
    const capped = compensate(many, 10n ** 12n);
    assert.equal(capped.payments.length, MAX_COMPENSATIONS);
    assert.equal(capped.unpaid, 1n + 2n + 3n + 4n + 5n, "the five smallest losses go unpaid");
  });

  it("a replica record round-trips, and a flipped or cut record is POB_BAD_REPLICA_RECORD", () => {
    const record: ReplicaRecord = {
      proposalHash: owner(9), tip: owner(8),
      accounts: [{ publicKey: owner(1), stake: 5n, servi: 3, reputation: 500, excluded: false }, { publicKey: owner(2), stake: 0n, servi: 0, reputation: 0, excluded: true }],
      suspended: [owner(1)],
      ordered: [{ hash: owner(7), producer: owner(2), timestamp: 1_700_000_000_000, first: 0, count: 4, recheck: false }],
    };
    const bytes = encodeReplicaRecord(record);
    const back = decodeReplicaRecord(bytes);
    assert.equal(toHex(encodeReplicaRecord(back)), toHex(bytes));
    assert.equal(back.accounts[1]!.excluded, true);
    assert.equal(toHex(back.ordered[0]!.producer), toHex(owner(2)));
    assert.equal(codeOf(() => decodeReplicaRecord(bytes.subarray(0, bytes.length - 1))), "POB_BAD_REPLICA_RECORD");
    const badFlag = Uint8Array.from(bytes);
    badFlag[bytes.length - 1] = 2;
    assert.equal(codeOf(() => decodeReplicaRecord(badFlag)), "POB_BAD_REPLICA_RECORD");
  });
});
