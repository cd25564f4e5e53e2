// Registrations and leaves through a shard's state (src/node/shard-state.ts): committed in final
// blocks, applied by the WASM kernel (the bond appears in the UTXO set, a second registration of
// the key and a leave of someone else's bond stay in their block unapplied), and listed by
// `validatorChanges(from, to)` in chain order, the same after a reopen replays the store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readU32 } from "../../src/codec/binary.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import type { ShardingPolicy } from "../../src/consensus/pob/policy.js";
import { BlockKind, encodeBlock, makeBlockHeader, sealOptimistic } from "../../src/ledger/block.js";
import { BOND_INDEX_FLAG, bondOwner, registrationBond } from "../../src/ledger/bond.js";
import { deriveTestAccounts, genesisBond, genesisPopChainId, genesisTxid, makeTestGenesis } from "../../src/ledger/genesis.js";
import { signMessage, type KeyPair } from "../../src/ledger/keys.js";
import { TxKind } from "../../src/ledger/kinds/interface.js";
import { RegistrationOperation, registrationKind, signLeave, signRegistration } from "../../src/ledger/kinds/registration.js";
import { ApplyStatus } from "../../src/ledger/utxo-table.js";
import { ShardState } from "../../src/node/shard-state.js";
import { MemoryChainStore, MemoryDisk } from "../../src/store/memory-store.js";
import { codeOf } from "../support/errors.js";
import { hex } from "../ledger/helpers.js";

const POLICY: ShardingPolicy = { believableLeagueSize: 1, normalLeagueSize: 3, samplingProbability: 0.1, minBelievableSize: 1, optimisticIntervalMs: 50, maxOptimisticBlockTxs: 64 };
const { genesis, accounts, validators } = makeTestGenesis({ seed: "registration shard state", shardCount: 1, accounts: 3, amount: 10_000n, validators: 4, stake: 2_000n, pob: POLICY });
const [alice, bob, carol] = [accounts[0]!, accounts[1]!, accounts[2]!];
const [newcomer] = deriveTestAccounts("registration shard state newcomer", 1);
const producer = validators[0]!;
const chain = genesisPopChainId(genesis);
const genesisId = genesisTxid(genesis);
const outputOf = (owner: KeyPair) => genesis.outputs.findIndex((o) => hex(o.owner) === hex(owner.publicKey));

function register(funder: KeyPair, bond: bigint, popChain = chain): Uint8Array {
  const pop = proveKeyPossession({ publicKey: newcomer!.publicKey, sign: (message) => signMessage(newcomer!.secretKey, message) }, popChain);
  const { transaction } = signRegistration({
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: newcomer!.publicKey, bond, chain: popChain, pop,
    inputs: [{ txid: genesisId, index: outputOf(funder), owner: funder.publicKey }], outputs: [{ owner: funder.publicKey, amount: 10_000n - bond - 1n }],
  }, accounts, newcomer!);
  return registrationKind.encode(transaction);
}

function leave(validator: KeyPair, bond: Uint8Array, payout: KeyPair): Uint8Array {
  const { transaction } = signLeave({ kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: validator.publicKey, bond, payout: payout.publicKey }, validator);
  return registrationKind.encode(transaction);
}

function block(state: ShardState, transactions: Uint8Array[]): Uint8Array {
  const height = state.tip.height + 1;
  const header = makeBlockHeader({ kind: BlockKind.Optimistic, shard: 0, epoch: 0, height, prevHash: state.tip.hash, timestamp: height, producer: producer.publicKey }, transactions);
  return encodeBlock(header, sealOptimistic(header, producer), transactions);
}

describe("ShardState: validator registrations", () => {
  it("commits registrations and leaves, holds the bond in the UTXO set, and lists the applied changes in chain order", async () => {
    const disk = new MemoryDisk("registration shard state");
    const state = ShardState.open({ store: MemoryChainStore.open(disk), genesis, shard: 0 });
    const supply = state.supply;
    const otherChain = register(bob, 4_000n, genesisTxid(genesis));
    const first = register(alice, 3_000n);
    const again = register(bob, 4_000n);
    const one = state.commitBlock(block(state, [otherChain, first, again]));
    assert.deepEqual([...one.statuses], [ApplyStatus.WrongChain, ApplyStatus.Ok, ApplyStatus.OutputExists], "the genesis's PoP chain only; a key with a live bond registers once");
    const bond = registrationBond(newcomer!.publicKey);
    assert.deepEqual(state.getUtxo(bond.subarray(0, 32), BOND_INDEX_FLAG), { owner: bondOwner(newcomer!.publicKey), amount: 3_000n });
    assert.equal(state.supply, supply - 1n, "the fee burned, the bond still counted");

    const genesisValidator = validators[1]!;
    const genesisOutpoint = genesisBond(genesis, 1).outpoint;
    const two = state.commitBlock(block(state, [
      leave(newcomer!, bond, carol),
      leave(validators[2]!, genesisOutpoint, carol),
      leave(genesisValidator, genesisOutpoint, carol),
    ]));
    assert.deepEqual([...two.statuses], [ApplyStatus.Ok, ApplyStatus.OwnerMismatch, ApplyStatus.Ok], "only the bond's own validator leaves with it");
    assert.equal(state.getUtxo(genesisOutpoint.subarray(0, 32), readU32(genesisOutpoint, 32))?.amount, 2_000n, "a leave releases nothing by itself");

    const listed = (s: ShardState, from: number, to: number) => s.validatorChanges(from, to).map((c) => [c.operation, c.height, c.position, hex(c.publicKey), hex(c.bond)]);
    const expected = [
      ["register", 1, 1, hex(newcomer!.publicKey), hex(bond)],
      ["leave", 2, 0, hex(newcomer!.publicKey), hex(bond)],
      ["leave", 2, 2, hex(genesisValidator.publicKey), hex(genesisOutpoint)],
    ];
    assert.deepEqual(listed(state, 1, 2), expected);
    assert.deepEqual(listed(state, 2, 2), expected.slice(1));
    const [registration] = state.validatorChanges(1, 1);
    assert.ok(registration?.operation === "register");
    assert.equal(registration.stake, 3_000n);
    assert.equal(codeOf(() => state.validatorChanges(1, 3)), "STORE_BAD_INPUT");
    assert.equal(codeOf(() => state.validatorChanges(0, 2)), "STORE_BAD_INPUT");
    await state.close();

    const reopened = ShardState.open({ store: MemoryChainStore.open(disk), genesis, shard: 0 });
    assert.deepEqual(listed(reopened, 1, 2), expected, "the listing reads the stored chain");
    await reopened.close();
  });
});
