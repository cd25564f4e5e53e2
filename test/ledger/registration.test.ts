// The ValidatorRegistration kind (src/ledger/kinds/registration.ts): its codec, every refusal
// code a byzantine sender can meet (bad PoP, rogue key, small bond, malformed fields, wrong
// shard, forged signatures), the records it writes applied by the real UTXO kernel (the bond in
// the UTXO set, conservation, double registration, leaves naming someone else's bond), and the
// listing of registrations and leaves over a chain of blocks (src/ledger/validator-changes.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { Ed25519Verifier } from "../../src/crypto/ed25519.js";
import { sha256 } from "../../src/crypto/sha256.js";
import { proveKeyPossession } from "../../src/consensus/registry.js";
import { BOND_INDEX_FLAG, bondOwner, registrationBond } from "../../src/ledger/bond.js";
import { deriveTestAccounts } from "../../src/ledger/genesis.js";
import { signMessage, type KeyPair } from "../../src/ledger/keys.js";
import { RECORD_HEADER, TX_PREFIX, TxKind } from "../../src/ledger/kinds/interface.js";
import {
  MIN_VALIDATOR_BOND, RegistrationOperation, encodeUnsignedRegistration, registrationKind, releaseOfRecord, signLeave, signRegistration, signRelease,
  type Leave, type UnsignedLeave, type UnsignedRegistration, type UnsignedRelease,
} from "../../src/ledger/kinds/registration.js";
import { applyRecordOf, scanTransaction, spenderOf, transactionIdOfEncoding } from "../../src/ledger/kinds/registry.js";
import { RecordCursor } from "../../src/ledger/records.js";
import { shardOfOwner } from "../../src/ledger/shard.js";
import { packTransactions, validateStateless } from "../../src/ledger/stateless.js";
import { outpointKey, type TxInput } from "../../src/ledger/transaction.js";
import { ApplyStatus, UtxoTable } from "../../src/ledger/utxo-table.js";
import { validatorChanges } from "../../src/ledger/validator-changes.js";
import { codeOf } from "../support/errors.js";
import { TestRng, hex, signedTransfer } from "./helpers.js";

const CHAIN = sha256(new TextEncoder().encode("registration tests chain"));
const accounts = deriveTestAccounts("registration", 8);
const validators = deriveTestAccounts("registration validators", 4);
const [alice, bob] = [accounts[0]!, accounts[1]!];
const [victor, walter] = [validators[0]!, validators[1]!];
const rng = new TestRng(0x4e6);

const popOf = (key: KeyPair, chain = CHAIN) => proveKeyPossession({ publicKey: key.publicKey, sign: (message) => signMessage(key.secretKey, message) }, chain);

interface Coin extends TxInput {
  readonly amount: bigint;
}
const coin = (owner: KeyPair, amount: bigint): Coin => ({ txid: rng.bytes(32), index: rng.below(8), owner: owner.publicKey, amount });

/** Victor registers with a bond of 5,000 from Alice's 6,000 coin, 990 back as change (10 burned). */
function registration(overrides: Partial<UnsignedRegistration> = {}, validator = victor): { tx: UnsignedRegistration; coins: Coin[] } {
  const coins = [coin(alice, 6000n)];
  const tx: UnsignedRegistration = {
    kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Register, validator: validator.publicKey, bond: 5000n,
    chain: CHAIN, pop: popOf(validator), inputs: coins.map(({ txid, index, owner }) => ({ txid, index, owner })), outputs: [{ owner: alice.publicKey, amount: 990n }],
    ...overrides,
  };
  return { tx, coins };
}

function signed(tx: UnsignedRegistration, validator = victor): { bytes: Uint8Array; txid: Uint8Array } {
  const { transaction, txid } = signRegistration(tx, accounts, validator);
  return { bytes: registrationKind.encode(transaction), txid };
}

function leave(validator: KeyPair, bond: Uint8Array, payout = bob.publicKey, signer = validator): { bytes: Uint8Array; txid: Uint8Array } {
  const tx: UnsignedLeave = { kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: validator.publicKey, bond, payout };
  const { transaction, txid } = signLeave(tx, signer);
  return { bytes: registrationKind.encode(transaction), txid };
}

/** The stateless verdict of `bytes` in shard `shard` of `shards`: null or the rejection code. */
function statelessCode(bytes: Uint8Array, shard = 0, shards = 1): string | null {
  return validateStateless(packTransactions([bytes]), shard, shards).rejections[0]?.code ?? null;
}

/** A table of `chain` (none: null) holding `coins`; applying `txs` (validated statelessly, shard 0 of 1) gives their statuses. */
function tableWith(coins: readonly Coin[], chain: Uint8Array | null = CHAIN): { table: UtxoTable; apply: (...txs: Uint8Array[]) => number[] } {
  const table = new UtxoTable(chain === null ? {} : { chain });
  for (const { txid, index, owner, amount } of coins) table.insert({ txid, index, owner, amount });
  return {
    table,
    apply: (...txs) => {
      const checked = validateStateless(packTransactions(txs), 0, 1);
      assert.ok(checked.rejections.every((rejection) => rejection === null), "every transaction passes stateless validation");
      return [...table.applyBlock(checked.records, checked.recordCount).statuses];
    },
  };
}

const bondKey = (validator: KeyPair) => registrationBond(validator.publicKey);
const bondTxid = (validator: KeyPair) => bondKey(validator).subarray(0, 32);

describe("validator registration: codec and stateless checks", () => {
  it("a registration and a leave round-trip, and their signature items verify with real signatures", () => {
    const { tx } = registration();
    const { bytes, txid } = signed(tx);
    const decoded = registrationKind.decode(bytes);
    assert.equal(hex(registrationKind.encode(decoded)), hex(bytes));
    assert.equal(decoded.operation, RegistrationOperation.Register);
    assert.equal(hex(transactionIdOfEncoding(bytes)), hex(txid));
    assert.equal(hex(txid), hex(sha256(encodeUnsignedRegistration(tx))));
    assert.equal(hex(spenderOf(bytes)!), hex(alice.publicKey), "a registration's sender is its funds' owner");
    const checked = validateStateless(packTransactions([bytes]), 0, 1);
    assert.equal(checked.rejections[0], null);
    const verifier = new Ed25519Verifier();
    assert.deepEqual(verifier.verifyBatch(checked.signatures), [true, true], "the input's owner and the validator signed");
    assert.equal(hex(checked.signatures[1]!.publicKey), hex(victor.publicKey));

    const left = leave(victor, bondKey(victor));
    const decodedLeave = registrationKind.decode(left.bytes);
    assert.equal(hex(registrationKind.encode(decodedLeave)), hex(left.bytes));
    assert.deepEqual(decodedLeave, { kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Leave, validator: victor.publicKey, bond: bondKey(victor), payout: bob.publicKey, validatorSignature: decodedLeave.validatorSignature });
    assert.equal(hex(spenderOf(left.bytes)!), hex(victor.publicKey));
    const leaveChecked = validateStateless(packTransactions([left.bytes]), 0, 1);
    assert.equal(leaveChecked.rejections[0], null);
    assert.deepEqual(verifier.verifyBatch(leaveChecked.signatures), [true]);
  });

  it("a registration may have no change output; the record's last output is the bond, at the key's bond outpoint", () => {
    const { tx } = registration({ outputs: [] });
    const { bytes, txid } = signed(tx);
    const checked = validateStateless(packTransactions([bytes]), 0, 1);
    assert.equal(checked.rejections[0], null);
    const cursor = new RecordCursor(checked.records);
    assert.equal(cursor.inputCount, 1);
    assert.equal(cursor.outputCount, 1);
    assert.equal(hex(cursor.createdKey(0)), hex(bondKey(victor)));
    assert.equal(hex(cursor.outputOwner(0)), hex(bondOwner(victor.publicKey)));
    assert.equal(cursor.outputAmount(0), 5000n);
    assert.equal(hex(cursor.txid), hex(txid));
  });

  it("forged or misattributed signatures fail the batch verification", () => {
    const { tx } = registration();
    const txid = sha256(encodeUnsignedRegistration(tx));
    const verifier = new Ed25519Verifier();
    const verdicts = (transaction: Parameters<typeof registrationKind.encode>[0]) =>
      verifier.verifyBatch(validateStateless(packTransactions([registrationKind.encode(transaction)]), 0, 1).signatures);
    const honest = signRegistration(tx, accounts, victor).transaction;
    // Walter pays nothing and signs for Victor: the validator signature is not Victor's.
    assert.deepEqual(verdicts({ ...honest, validatorSignature: signMessage(walter.secretKey, txid) }), [true, false]);
    // Alice's input signed by Bob.
    assert.deepEqual(verdicts({ ...honest, signatures: [signMessage(bob.secretKey, txid)] }), [false, true]);
    // A leave signed by someone else than the validator it names.
    const forgedLeave = leave(victor, bondKey(victor), bob.publicKey, walter);
    assert.deepEqual(verifier.verifyBatch(validateStateless(packTransactions([forgedLeave.bytes]), 0, 1).signatures), [false]);
    // A signature over another registration (replayed onto a different bond).
    const other = signRegistration({ ...tx, bond: 5001n }, accounts, victor).transaction;
    assert.deepEqual(verdicts({ ...honest, validatorSignature: other.validatorSignature }), [true, false]);
  });

  it("a bad proof of possession is TX_BAD_POP: another chain's, another key's, a flipped bit, a rogue key's", () => {
    assert.equal(statelessCode(signed(registration({ pop: popOf(victor, sha256(new Uint8Array(1))) }).tx).bytes), "TX_BAD_POP");
    assert.equal(statelessCode(signed(registration({ pop: popOf(walter) }).tx).bytes), "TX_BAD_POP");
    const flipped = popOf(victor);
    flipped[5]! ^= 1;
    assert.equal(statelessCode(signed(registration({ pop: flipped }).tx).bytes), "TX_BAD_POP");
    // The rogue key A' = x·B − A_victor: its author knows x, not A''s secret, and signs with x.
    const x = 0x1234_5678_9abc_def0n;
    const rogue = ed25519.Point.BASE.multiply(x).subtract(ed25519.Point.fromBytes(victor.publicKey)).toBytes();
    const rogueValidator: KeyPair = { publicKey: rogue, secretKey: walter.secretKey };
    const rogueTx = registration({ validator: rogue, pop: proveKeyPossession({ publicKey: rogue, sign: (message) => signMessage(walter.secretKey, message) }, CHAIN) }).tx;
    assert.equal(statelessCode(signed(rogueTx, rogueValidator).bytes), "TX_BAD_POP");
  });

  it("a small-order, torsioned or non-canonical validator key is TX_BAD_VALIDATOR_KEY", () => {
    const smallOrder = Uint8Array.from(Buffer.from("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "hex"));
    const torsioned = ed25519.Point.fromBytes(victor.publicKey).add(ed25519.Point.fromBytes(smallOrder)).toBytes();
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[0] = 0xee;
    nonCanonical[31] = 0x7f;
    for (const key of [smallOrder, ed25519.Point.ZERO.toBytes(), torsioned, nonCanonical]) {
      const { bytes } = signed(registration({ validator: key }).tx);
      assert.equal(statelessCode(bytes), "TX_BAD_VALIDATOR_KEY", hex(key));
    }
  });

  it("a bond below MIN_VALIDATOR_BOND is TX_BOND_TOO_SMALL; change and bond beyond u64 are TX_AMOUNT_OVERFLOW", () => {
    assert.equal(statelessCode(signed(registration({ bond: MIN_VALIDATOR_BOND - 1n }).tx).bytes), "TX_BOND_TOO_SMALL");
    assert.equal(statelessCode(signed(registration({ bond: MIN_VALIDATOR_BOND }).tx).bytes), null);
    assert.equal(statelessCode(signed(registration({ bond: 0n }).tx).bytes), "TX_BOND_TOO_SMALL");
    assert.equal(statelessCode(signed(registration({ bond: (1n << 64n) - 1n }).tx).bytes), "TX_AMOUNT_OVERFLOW");
  });

  it("every malformed field has its code", () => {
    const { tx } = registration();
    const { bytes } = signed(tx);
    const mutate = (edit: (copy: Uint8Array) => Uint8Array) => codeOf(() => scanTransaction(edit(Uint8Array.from(bytes))));
    assert.equal(mutate((b) => b.subarray(0, b.length - 1)), "TX_TRUNCATED", "the validator signature cut short");
    assert.equal(mutate((b) => b.subarray(0, b.length - 64)), "TX_TRUNCATED", "no validator signature");
    assert.equal(mutate((b) => Uint8Array.from([...b, 0])), "TX_TRAILING_BYTES");
    assert.equal(mutate((b) => b.subarray(0, 40)), "TX_TRUNCATED", "cut inside the fixed fields");
    assert.equal(mutate((b) => ((b[TX_PREFIX.bytes] = 3), b)), "TX_BAD_FIELD", "an unknown operation");
    assert.equal(mutate((b) => ((b[0] = 2), b)), "TX_UNKNOWN_VERSION");
    assert.equal(mutate(() => new Uint8Array(17 * 1024).fill(4, 1, 2).fill(1, 0, 1)), "TX_TOO_LARGE");
    assert.equal(codeOf(() => scanTransaction(signed({ ...tx, inputs: [] }).bytes)), "TX_NO_INPUTS");
    assert.equal(codeOf(() => scanTransaction(signed({ ...tx, inputs: [tx.inputs[0]!, tx.inputs[0]!] }).bytes)), "TX_DUPLICATE_INPUT");
    const bondInput = { txid: bondTxid(walter), index: BOND_INDEX_FLAG, owner: alice.publicKey };
    assert.equal(codeOf(() => scanTransaction(signed({ ...tx, inputs: [bondInput] }).bytes)), "TX_BAD_FIELD", "a registration cannot spend a bond");
    const unsignedZero = encodeUnsignedRegistration({ ...tx, outputs: [{ owner: alice.publicKey, amount: 1n }] });
    const zero = Uint8Array.from([...unsignedZero, ...new Uint8Array(128)]);
    zero.fill(0, unsignedZero.length - 8, unsignedZero.length);
    assert.equal(codeOf(() => scanTransaction(zero)), "TX_ZERO_AMOUNT");
    assert.equal(codeOf(() => registrationKind.encode({ ...signRegistration(tx, accounts, victor).transaction, pop: new Uint8Array(63) })), "TX_BAD_FIELD");
    assert.equal(codeOf(() => registrationKind.encode({ ...signRegistration(tx, accounts, victor).transaction, chain: new Uint8Array(31) })), "TX_BAD_FIELD");

    const left = leave(victor, bondKey(victor)).bytes;
    assert.equal(codeOf(() => scanTransaction(left.subarray(0, left.length - 1))), "TX_TRUNCATED");
    assert.equal(codeOf(() => scanTransaction(Uint8Array.from([...left, 1]))), "TX_TRAILING_BYTES");
    const unflagged = leave(victor, outpointKey(bondTxid(victor), 0)).bytes;
    assert.equal(codeOf(() => scanTransaction(unflagged)), "TX_BAD_FIELD", "a leave names a bond outpoint");
    assert.equal(codeOf(() => registrationKind.encode({ ...(registrationKind.decode(left) as Leave), payout: new Uint8Array(31) } as Leave)), "TX_BAD_FIELD");
  });

  it("every owner, the bond's included, must live in the shard it is submitted to", () => {
    const SHARDS = 2;
    const bondShard = shardOfOwner(bondOwner(victor.publicKey), SHARDS);
    const local = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) === bondShard);
    const inShard = registration({ inputs: [{ txid: rng.bytes(32), index: 0, owner: local[0]!.publicKey }], outputs: [{ owner: local[1]!.publicKey, amount: 7n }] }).tx;
    assert.equal(statelessCode(signed(inShard).bytes, bondShard, SHARDS), null);
    assert.deepEqual(registrationKind.shards(signed(inShard).bytes, SHARDS), [bondShard]);
    const elsewhere = accounts.filter((a) => shardOfOwner(a.publicKey, SHARDS) !== bondShard);
    const remote = elsewhere[0]!;
    const fundedElsewhere = { ...inShard, inputs: [{ txid: rng.bytes(32), index: 0, owner: elsewhere[0]!.publicKey }], outputs: [{ owner: elsewhere[1]!.publicKey, amount: 7n }] };
    assert.equal(statelessCode(signed(fundedElsewhere).bytes, 1 - bondShard, SHARDS), "TX_WRONG_SHARD", "the bond's shard decides the key's registrations");
    const remoteInput = { ...inShard, inputs: [{ txid: rng.bytes(32), index: 0, owner: remote.publicKey }] };
    assert.equal(statelessCode(signed(remoteInput).bytes, bondShard, SHARDS), "TX_WRONG_SHARD");
    const remoteChange = { ...inShard, outputs: [{ owner: remote.publicKey, amount: 7n }] };
    assert.equal(statelessCode(signed(remoteChange).bytes, bondShard, SHARDS), "TX_WRONG_SHARD");
    const payoutShard = shardOfOwner(remote.publicKey, SHARDS);
    assert.equal(statelessCode(leave(victor, bondKey(victor), remote.publicKey).bytes, payoutShard, SHARDS), null);
    assert.equal(statelessCode(leave(victor, bondKey(victor), remote.publicKey).bytes, 1 - payoutShard, SHARDS), "TX_WRONG_SHARD");
  });
});

describe("validator registration: the UTXO kernel", () => {
  it("a registration spends its inputs and creates the change and the bond, burning the rest; a leave of one's own bond changes nothing", () => {
    const { tx, coins } = registration();
    const { bytes, txid } = signed(tx);
    const { table, apply } = tableWith(coins);
    const supply = table.supply;
    const checked = validateStateless(packTransactions([bytes]), 0, 1);
    const delta = table.applyBlock(checked.records, checked.recordCount);
    assert.deepEqual([...delta.statuses], [ApplyStatus.Ok]);
    assert.equal(table.get(coins[0]!.txid, coins[0]!.index), undefined, "the input is spent");
    assert.deepEqual(table.get(txid, 0), { owner: alice.publicKey, amount: 990n }, "the change is at (txid, 0)");
    assert.deepEqual(table.get(bondTxid(victor), BOND_INDEX_FLAG), { owner: bondOwner(victor.publicKey), amount: 5000n }, "the bond is in the UTXO set");
    assert.equal(table.supply, supply - 10n, "6,000 in, 990 + 5,000 out: 10 burned");
    assert.equal(table.count, 2);
    const created = new Set<string>();
    for (let at = 0; at < delta.created.length; at += 76) created.add(hex(delta.created.subarray(at, at + 36)));
    assert.deepEqual(created, new Set([hex(outpointKey(txid, 0)), hex(bondKey(victor))]), "the block delta carries the bond at its key");

    assert.deepEqual(apply(leave(victor, bondKey(victor)).bytes), [ApplyStatus.Ok]);
    assert.equal(table.count, 2);
    assert.equal(table.supply, supply - 10n);
    assert.ok(table.has(bondTxid(victor), BOND_INDEX_FLAG), "a leave records intent: the bond stays until the epoch transition");
  });

  it("a registration whose change and bond exceed its inputs is INSUFFICIENT_FUNDS; a claimed owner that is not the input's is OWNER_MISMATCH", () => {
    const { tx, coins } = registration({ outputs: [{ owner: alice.publicKey, amount: 1001n }] });
    const { table, apply } = tableWith(coins);
    assert.deepEqual(apply(signed(tx).bytes), [ApplyStatus.InsufficientFunds]);
    assert.equal(table.has(bondTxid(victor), BOND_INDEX_FLAG), false);
    const exact = registration({ outputs: [{ owner: alice.publicKey, amount: 1000n }] });
    assert.deepEqual(tableWith(exact.coins).apply(signed(exact.tx).bytes), [ApplyStatus.Ok], "inputs = change + bond conserves");
    const stolen = registration();
    const { apply: applyStolen } = tableWith([{ ...stolen.coins[0]!, owner: bob.publicKey }]);
    assert.deepEqual(applyStolen(signed(stolen.tx).bytes), [ApplyStatus.OwnerMismatch]);
  });

  it("a key with a live bond cannot register again, in the same block or a later one; after undo it can", () => {
    const first = registration();
    const second = registration({ bond: 7000n, inputs: [{ txid: rng.bytes(32), index: 1, owner: bob.publicKey }], outputs: [] });
    const secondCoin: Coin = { ...second.tx.inputs[0]!, amount: 7000n };
    const { table, apply } = tableWith([...first.coins, secondCoin]);
    assert.deepEqual(apply(signed(first.tx).bytes, signed(second.tx).bytes), [ApplyStatus.Ok, ApplyStatus.OutputExists], "one block");
    assert.ok(table.has(secondCoin.txid, secondCoin.index), "the refused registration spent nothing");
    assert.deepEqual(apply(signed(second.tx).bytes), [ApplyStatus.OutputExists], "a later block");
    const other = tableWith([...first.coins, secondCoin]);
    other.table.applyBlock(validateStateless(packTransactions([signed(first.tx).bytes]), 0, 1).records, 1, true);
    other.table.undoLastBlock();
    assert.equal(other.table.has(bondTxid(victor), BOND_INDEX_FLAG), false, "undo removes the bond");
    assert.deepEqual(other.apply(signed(second.tx).bytes), [ApplyStatus.Ok]);
    assert.equal(other.table.get(bondTxid(victor), BOND_INDEX_FLAG)!.amount, 7000n);
  });

  it("a registration naming another chain than the table's, or a table given none, is WRONG_CHAIN and spends nothing", () => {
    const otherChain = sha256(new Uint8Array(3));
    const foreign = registration({ chain: otherChain, pop: popOf(victor, otherChain) });
    assert.equal(statelessCode(signed(foreign.tx).bytes), null, "its PoP is valid for the chain it names");
    const { table, apply } = tableWith(foreign.coins);
    assert.deepEqual(apply(signed(foreign.tx).bytes), [ApplyStatus.WrongChain]);
    assert.ok(table.has(foreign.coins[0]!.txid, foreign.coins[0]!.index), "the input is not spent");
    assert.equal(table.has(bondTxid(victor), BOND_INDEX_FLAG), false);
    const native = registration();
    assert.deepEqual(tableWith(native.coins, null).apply(signed(native.tx).bytes), [ApplyStatus.WrongChain], "a table that knows no chain admits no validator");
    assert.deepEqual(tableWith(native.coins, otherChain).apply(signed(native.tx).bytes), [ApplyStatus.WrongChain]);
    // An unset table's chain reads as zeros: a registration naming the zero chain is refused too.
    const zeroChain = new Uint8Array(32);
    const zero = registration({ chain: zeroChain, pop: popOf(victor, zeroChain) });
    assert.deepEqual(tableWith(zero.coins, null).apply(signed(zero.tx).bytes), [ApplyStatus.WrongChain]);
    assert.equal(codeOf(() => new UtxoTable({ chain: new Uint8Array(31) })), "UTXO_BAD_INPUT");
  });

  it("a leave naming a bond that is not the signer's is OWNER_MISMATCH; one naming no bond is MISSING_INPUT", () => {
    const { tx, coins } = registration();
    const { apply } = tableWith(coins);
    assert.deepEqual(apply(signed(tx).bytes), [ApplyStatus.Ok]);
    // Walter signs a leave of Victor's bond: the record claims bondOwner(walter), the bond is bondOwner(victor)'s.
    assert.deepEqual(apply(leave(walter, bondKey(victor)).bytes), [ApplyStatus.OwnerMismatch]);
    assert.deepEqual(apply(leave(walter, bondKey(walter)).bytes), [ApplyStatus.MissingInput]);
  });

  it("records the stateless step never writes are MALFORMED: an unknown operation, a wrong size, an unflagged bond key", () => {
    const { tx, coins } = registration();
    const { bytes, txid } = signed(tx);
    const record = applyRecordOf(bytes, txid, 0, 1);
    const leaveBytes = leave(victor, bondKey(victor)).bytes;
    const leaveRecord = applyRecordOf(leaveBytes, transactionIdOfEncoding(leaveBytes), 0, 1);
    const statusOf = (bad: Uint8Array) => {
      const { table } = tableWith(coins);
      return table.applyBlock(bad, 1).statuses[0];
    };
    const edited = (source: Uint8Array, edit: (copy: Uint8Array) => void) => {
      const copy = Uint8Array.from(source);
      edit(copy);
      return copy;
    };
    const operationAt = RECORD_HEADER.bytes;
    assert.equal(statusOf(record), ApplyStatus.Ok, "the record as written applies");
    assert.equal(statusOf(edited(record, (r) => (r[operationAt] = 3))), ApplyStatus.Malformed);
    assert.equal(statusOf(edited(record, (r) => (r[operationAt + 1] ^= 1))), ApplyStatus.WrongChain, "the record carries the chain the kernel compares");
    assert.equal(statusOf(edited(record, (r) => (r[r.length - 1] &= 0x7f))), ApplyStatus.Malformed, "the bond key's index must be flagged");
    const shorter = record.slice(0, record.length - 1);
    new DataView(shorter.buffer).setUint32(RECORD_HEADER.offset.length, shorter.length, true);
    assert.equal(statusOf(shorter), ApplyStatus.Malformed);
    assert.equal(statusOf(edited(leaveRecord, (r) => (r[operationAt + 1 + 35] &= 0x7f))), ApplyStatus.Malformed, "a leave names a flagged key");
    const longerLeave = Uint8Array.from([...leaveRecord, 0]);
    new DataView(longerLeave.buffer).setUint32(RECORD_HEADER.offset.length, longerLeave.length, true);
    assert.equal(statusOf(longerLeave), ApplyStatus.Malformed);
  });
});

/** Victor's release of `bond` to `payout` (Bob by default), signed by `signer`. */
function release(bond: Uint8Array, amount = 5000n, payout = bob.publicKey, validator = victor, signer = validator): { bytes: Uint8Array; txid: Uint8Array } {
  const tx: UnsignedRelease = { kind: TxKind.ValidatorRegistration, operation: RegistrationOperation.Release, validator: validator.publicKey, bond, amount, payout };
  const { transaction, txid } = signRelease(tx, signer);
  return { bytes: registrationKind.encode(transaction), txid };
}

/** Victor's bond of 5,000 at its registration outpoint, as a table entry. */
const victorBond = (): Coin => ({ txid: bondTxid(victor), index: BOND_INDEX_FLAG, owner: bondOwner(victor.publicKey), amount: 5000n } as Coin);

describe("bond release: codec, stateless checks and the UTXO kernel", () => {
  it("round-trips as documented; its one signature is the validator's; its record states the bond, the claimed owner and the payout", () => {
    const { bytes, txid } = release(bondKey(victor));
    assert.equal(bytes.length, 3 + 32 + 36 + 8 + 32 + 64);
    assert.deepEqual([bytes[TX_PREFIX.bytes], hex(bytes.subarray(3, 35)), hex(bytes.subarray(35, 71)), new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(71, true), hex(bytes.subarray(79, 111))],
      [RegistrationOperation.Release, hex(victor.publicKey), hex(bondKey(victor)), 5000n, hex(bob.publicKey)]);
    const decoded = registrationKind.decode(bytes);
    assert.equal(hex(registrationKind.encode(decoded)), hex(bytes));
    assert.equal(hex(transactionIdOfEncoding(bytes)), hex(txid));
    assert.equal(hex(spenderOf(bytes)!), hex(victor.publicKey));
    const checked = validateStateless(packTransactions([bytes]), 0, 1);
    assert.equal(checked.rejections[0], null);
    assert.deepEqual(new Ed25519Verifier().verifyBatch(checked.signatures), [true]);
    assert.equal(hex(checked.signatures[0]!.publicKey), hex(victor.publicKey));
    const stated = releaseOfRecord(new RecordCursor(checked.records).bytes, 0)!;
    assert.deepEqual([hex(stated.bond), hex(stated.owner), hex(stated.payout)], [hex(bondKey(victor)), hex(bondOwner(victor.publicKey)), hex(bob.publicKey)]);
    assert.equal(releaseOfRecord(new RecordCursor(validateStateless(packTransactions([leave(victor, bondKey(victor)).bytes]), 0, 1).records).bytes, 0), undefined, "a leave states no release");
  });

  it("every single-byte change of a signed release is refused: by the scan, or by its signature", () => {
    const { bytes } = release(bondKey(victor));
    const verifier = new Ed25519Verifier();
    for (let at = 0; at < bytes.length; at++) {
      const flipped = Uint8Array.from(bytes);
      flipped[at]! ^= 0x01;
      const checked = validateStateless(packTransactions([flipped]), 0, 1);
      const rejection = checked.rejections[0];
      if (rejection !== null && rejection !== undefined) continue;
      assert.ok(verifier.verifyBatch(checked.signatures).includes(false), `byte ${at}: a flip that passes the scan breaks the validator's signature`);
    }
  });

  it("statelessly: a bond outpoint without BOND_INDEX_FLAG is TX_BAD_FIELD, a zero amount TX_ZERO_AMOUNT, a payout of another shard TX_WRONG_SHARD", () => {
    const unflagged = Uint8Array.from(bondKey(victor));
    unflagged[35]! &= 0x7f;
    assert.equal(statelessCode(release(unflagged).bytes), "TX_BAD_FIELD");
    const zero = Uint8Array.from(release(bondKey(victor)).bytes);
    zero.fill(0, 71, 79);
    assert.equal(codeOf(() => scanTransaction(zero)), "TX_ZERO_AMOUNT");
    assert.equal(codeOf(() => scanTransaction(zero.subarray(0, zero.length - 1))), "TX_TRUNCATED");
    const SHARDS = 2;
    const payoutShard = shardOfOwner(bob.publicKey, SHARDS);
    assert.equal(statelessCode(release(bondKey(victor)).bytes, payoutShard, SHARDS), null);
    assert.equal(statelessCode(release(bondKey(victor)).bytes, 1 - payoutShard, SHARDS), "TX_WRONG_SHARD");
  });

  it("the kernel admits only the releases the epoch permits (NOT_RELEASABLE otherwise: no permit, another payout); a replayed final chain needs none", () => {
    const { table, apply } = tableWith([victorBond()]);
    assert.deepEqual(apply(release(bondKey(victor)).bytes), [ApplyStatus.NotReleasable], "a table given no permit admits no release");
    table.setReleases([{ bond: bondKey(victor), payout: alice.publicKey }]);
    assert.deepEqual(apply(release(bondKey(victor)).bytes), [ApplyStatus.NotReleasable], "the permit names another payout");
    table.setReleases([{ bond: bondKey(walter), payout: bob.publicKey }, { bond: bondKey(victor), payout: bob.publicKey }]);
    table.setReleases([{ bond: bondKey(walter), payout: bob.publicKey }]);
    assert.deepEqual(apply(release(bondKey(victor)).bytes), [ApplyStatus.NotReleasable], "permits are replaced, not added to");
    assert.ok(table.has(bondTxid(victor), BOND_INDEX_FLAG), "nothing spent");
    const { bytes } = release(bondKey(victor));
    const checked = validateStateless(packTransactions([bytes]), 0, 1);
    assert.deepEqual([...table.applyBlock(checked.records, checked.recordCount, false, true).statuses], [ApplyStatus.Ok], "replaying a final chain: admitted when it became final");
    assert.equal(table.has(bondTxid(victor), BOND_INDEX_FLAG), false);
  });

  it("the kernel spends the bond into the payout (the rest burned); a second release is BOND_GONE, another's bond OWNER_MISMATCH, more than the bond INSUFFICIENT_FUNDS", () => {
    const { table, apply } = tableWith([victorBond()]);
    table.setReleases([{ bond: bondKey(victor), payout: bob.publicKey }]);
    const supply = table.supply;
    assert.deepEqual(apply(release(bondKey(victor), 6000n).bytes), [ApplyStatus.InsufficientFunds]);
    assert.deepEqual(apply(release(bondKey(victor), 5000n, bob.publicKey, walter).bytes), [ApplyStatus.OwnerMismatch], "Walter names Victor's bond: its owner is Victor's bond owner");
    const { bytes, txid } = release(bondKey(victor), 4990n);
    assert.deepEqual(apply(bytes), [ApplyStatus.Ok]);
    assert.equal(table.has(bondTxid(victor), BOND_INDEX_FLAG), false, "the bond is spent");
    assert.deepEqual(table.get(txid, 0), { owner: bob.publicKey, amount: 4990n }, "the payout is at (txid, 0)");
    assert.equal(table.supply, supply - 10n, "10 burned");
    assert.deepEqual(apply(release(bondKey(victor), 4000n).bytes), [ApplyStatus.BondGone], "released already");
  });

  it("records the stateless step never writes are MALFORMED: two inputs, an unflagged bond key", () => {
    const { bytes, txid } = release(bondKey(victor));
    const record = applyRecordOf(bytes, txid, 0, 1);
    const statusOf = (bad: Uint8Array) => {
      const { table } = tableWith([victorBond()]);
      table.setReleases([{ bond: bondKey(victor), payout: bob.publicKey }]);
      return table.applyBlock(bad, 1).statuses[0];
    };
    const edited = (edit: (copy: Uint8Array) => void) => {
      const copy = Uint8Array.from(record);
      edit(copy);
      return copy;
    };
    const body = RECORD_HEADER.bytes;
    assert.equal(statusOf(record), ApplyStatus.Ok, "the record as written applies");
    assert.equal(statusOf(edited((r) => (r[body + 1] = 2))), ApplyStatus.Malformed, "two inputs");
    assert.equal(statusOf(edited((r) => (r[body + 5 + 35]! &= 0x7f))), ApplyStatus.Malformed, "an unflagged bond key");
  });
});

describe("validator registration: listing a chain's changes", () => {
  it("lists applied registrations and leaves in chain order, skipping refused ones", () => {
    const victorReg = signed(registration().tx);
    const walterReg = signed(registration({ validator: walter.publicKey, pop: popOf(walter) }, walter).tx, walter);
    const third = signed(registration({ validator: validators[2]!.publicKey, pop: popOf(validators[2]!) }, validators[2]).tx, validators[2]);
    const refused = signed(registration({ validator: validators[3]!.publicKey, pop: popOf(validators[3]!) }, validators[3]).tx, validators[3]);
    const victorLeave = leave(victor, bondKey(victor));
    const transfer = signedTransfer([{ txid: rng.bytes(32), index: 0, owner: alice.publicKey }], [{ owner: bob.publicKey, amount: 5n }], [alice]).bytes;
    const blocks = [
      { height: 5, transactions: [victorReg.bytes, refused.bytes] },
      { height: 6, transactions: [] },
      { height: 7, transactions: [transfer, third.bytes, victorLeave.bytes, walterReg.bytes] },
      { height: 8, transactions: [release(bondKey(victor)).bytes] },
    ];
    const refusedAt = "5:1";
    const changes = validatorChanges(blocks, (txid, height, position) => {
      assert.equal(hex(txid), hex(transactionIdOfEncoding(blocks.find((b) => b.height === height)!.transactions[position]!)), "asked about the transaction at its place");
      return `${height}:${position}` !== refusedAt;
    });
    assert.deepEqual(changes.map((c) => [c.operation, c.height, c.position, hex(c.publicKey)]), [
      ["register", 5, 0, hex(victor.publicKey)],
      ["register", 7, 1, hex(validators[2]!.publicKey)],
      ["leave", 7, 2, hex(victor.publicKey)],
      ["register", 7, 3, hex(walter.publicKey)],
      ["release", 8, 0, hex(victor.publicKey)],
    ]);
    const [first, , left] = changes;
    assert.ok(first!.operation === "register" && left!.operation === "leave");
    assert.equal(first.stake, 5000n);
    assert.equal(hex(first.bond), hex(bondKey(victor)));
    assert.equal(hex(first.pop), hex(popOf(victor)));
    assert.equal(hex(first.txid), hex(victorReg.txid));
    assert.equal(hex(left.bond), hex(bondKey(victor)));
    assert.equal(hex(left.payout), hex(bob.publicKey));
    const released = changes.at(-1)!;
    assert.ok(released.operation === "release");
    assert.deepEqual([hex(released.bond), hex(released.payout)], [hex(bondKey(victor)), hex(bob.publicKey)]);
  });
});
