/**
 * The ValidatorRegistration kind (white paper §5.1: the identity chain lists each epoch's
 * validators with their keys; §7.1–7.2: a validator's stake is a bond slashing can take): how a
 * validator joins and leaves. A registration or leave final in epoch e−1 takes effect in epoch e
 * (the epoch engine's decisions). Two operations share the kind byte, told apart by the byte
 * after it. Encodings, little-endian:
 *
 *   register: version u8 ‖ kind u8 (4) ‖ operation u8 (0) ‖ validator[32] ‖ bond u64 ‖ chain[32]
 *             ‖ pop[64] ‖ spend section (./transfer.ts: inputCount u16 (1..MAX_INPUTS)
 *             ‖ changeCount u16 (0..MAX_OUTPUTS) ‖ inputs ‖ change outputs)
 *             ‖ inputCount × signature[64] ‖ validator signature[64]
 *   leave:    version u8 ‖ kind u8 (4) ‖ operation u8 (1) ‖ validator[32] ‖ bond outpoint[36]
 *             ‖ payout owner[32] ‖ validator signature[64]
 *
 * txid = SHA-256 of everything before the signatures, every signature over the txid.
 *
 * Register: the inputs are spent as a transfer's (signed by their owners, none a bond), the
 * change outputs created at (txid, j) and the bond at `registrationBond(validator)` (../bond.ts:
 * a function of the key, so a key with a live bond cannot register again: the kernel finds the
 * entry, OUTPUT_EXISTS) owned by bondOwner(validator); Σ change + bond ≤ Σ inputs, the rest
 * burned, as a transfer's fee. Statelessly: the validator key is canonical, of large order and
 * torsion-free (TX_BAD_VALIDATOR_KEY; src/consensus/registry.ts `keyProblem`), `pop` is its proof
 * of possession for `chain` (TX_BAD_POP: a rogue key x·B − ΣA_j has none), the very proof a
 * genesis validator carries (popMessage(key, chain)), with chain = genesisPopChainId of the
 * chain's genesis — so the identity chain admits it through the same ValidatorRegistry; the bond is at least
 * MIN_VALIDATOR_BOND (TX_BOND_TOO_SMALL); every owner, the bond's included, lives in the shard
 * it is submitted to. The validator key also signs the txid: the PoP proves possession but names
 * no bond, so without that signature anyone could bond a copied PoP's key with their own money
 * and make it a validator its holder never asked to be.
 *
 * `chain` is carried rather than known here: stateless validation has no chain context. The UTXO
 * kernel knows its chain (UtxoTable `chain`, set by the shard state from the genesis) and refuses a
 * registration naming another (WRONG_CHAIN): it stays unapplied in its block, spending nothing.
 *
 * Leave: the validator signs that its bond (a flagged outpoint) is to be released to `payout`,
 * which lives in the submitting shard; the kernel requires the bond to exist there owned by
 * bondOwner(validator) (MISSING_INPUT, OWNER_MISMATCH), so a leave names only the signer's own
 * bond. It changes no entry: it records intent, and the epoch transition (not built here) removes
 * the validator from the next epoch and releases the bond.
 *
 * Apply records: RECORD_HEADER ‖ operation u8, then
 *   register: chain[32] ‖ inputCount u16 ‖ changeCount + 1 u16 ‖ inputs ‖ change outputs
 *             (verbatim) ‖ bond RECORD_OUTPUT (bondOwner(validator), bond) ‖ bond key[36];
 *   leave:    the bond as a RECORD_INPUT (outpoint ‖ bondOwner(validator)), which the record
 *             layout reports as no input (nothing is spent).
 * The kernel's `applyRegistration` (assembly/utxo/index.ts) reads them.
 *
 * API: `registrationKind`, `encodeUnsignedRegistration`, `signRegistration`, `signLeave`,
 * `MIN_VALIDATOR_BOND`, `RegistrationOperation`.
 */
import { BinaryReader, BinaryWriter, readU32, readU64 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, HASH_BYTES, OUTPOINT_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import type { SignatureItem } from "../../crypto/ed25519.js";
import { sha256 } from "../../crypto/sha256.js";
import { keyProblem, verifyKeyPossession } from "../../consensus/registry.js";
import { sameBytes } from "../../bytes.js";
import { BOND_INDEX_FLAG, bondOwner, registrationBond } from "../bond.js";
import { signMessage, type KeyPair } from "../keys.js";
import { shardOfOwner } from "../shard.js";
import { IosError, check } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import { MAX_TX_BYTES, RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, TX_CODES, TX_PREFIX, TX_VERSION, TxKind, checkTxPrefix, type RecordLayout, type TxKindModule, type TxShape } from "./interface.js";
import {
  MAX_AMOUNT,
  checkOwnerShard,
  everySpendOwner,
  firstInputOwner,
  pushInputSignatureItems,
  readSignatures,
  readSpendSection,
  scanSpendSection,
  spendInputCount,
  spendOutputCount,
  spendRecordLayout,
  spendSectionLength,
  writeSignatures,
  writeSpendSection,
  type TxInput,
  type TxOutput,
} from "./transfer.js";

/**
 * The smallest bond a registration may post (white paper §7.1: stake in IOS tokens is what a
 * validator puts at risk; §7.2: slashing pays the victims of a believable validator's forgeries
 * from it). The genesis carries no floor, so the protocol sets one: the test genesis's default
 * stake (makeTestGenesis), so that joining costs something and keys are not free to multiply.
 */
export const MIN_VALIDATOR_BOND = 1000n;

export const RegistrationOperation = { Register: 0, Leave: 1 } as const;
export type RegistrationOperation = (typeof RegistrationOperation)[keyof typeof RegistrationOperation];

const REGISTER = layout({
  version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, operation: 1, validator: PUBLIC_KEY_BYTES, bond: AMOUNT_BYTES, chain: HASH_BYTES, pop: SIGNATURE_BYTES,
});
/** Where a registration's spend section starts. */
const SPEND_AT = REGISTER.bytes;
const LEAVE = layout({ version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, operation: 1, validator: PUBLIC_KEY_BYTES, bond: OUTPOINT_BYTES, payout: PUBLIC_KEY_BYTES });
const LEAVE_BYTES = LEAVE.bytes + SIGNATURE_BYTES;
/** A record's body opens with the operation byte. */
const RECORD_OPERATION_BYTES = 1;
/** Where a register record's spend section starts in its body: after the operation and the chain. */
const RECORD_SPEND_AT = RECORD_OPERATION_BYTES + HASH_BYTES;

export interface UnsignedRegistration {
  readonly kind: typeof TxKind.ValidatorRegistration;
  readonly operation: typeof RegistrationOperation.Register;
  readonly validator: Uint8Array;
  readonly bond: bigint;
  /** The chain id the proof of possession names: genesisPopChainId of the chain's genesis. */
  readonly chain: Uint8Array;
  readonly pop: Uint8Array;
  readonly inputs: readonly TxInput[];
  /** Change outputs (may be none). */
  readonly outputs: readonly TxOutput[];
}

export interface Registration extends UnsignedRegistration {
  /** One signature per input, in input order. */
  readonly signatures: readonly Uint8Array[];
  readonly validatorSignature: Uint8Array;
}

export interface UnsignedLeave {
  readonly kind: typeof TxKind.ValidatorRegistration;
  readonly operation: typeof RegistrationOperation.Leave;
  readonly validator: Uint8Array;
  /** The bond's outpoint (txid ‖ u32le index, index flagged). */
  readonly bond: Uint8Array;
  /** Who receives the bond when the epoch transition releases it. */
  readonly payout: Uint8Array;
}

export interface Leave extends UnsignedLeave {
  readonly validatorSignature: Uint8Array;
}

export type RegistrationTx = Registration | Leave;

function registerLength(inputCount: number, changeCount: number): number {
  return SPEND_AT + spendSectionLength(inputCount, changeCount) + (inputCount + 1) * SIGNATURE_BYTES;
}

function operationOf(tx: Uint8Array): number {
  return tx[REGISTER.offset.operation]!;
}

function validatorOf(tx: Uint8Array): Uint8Array {
  return tx.subarray(REGISTER.offset.validator, REGISTER.offset.validator + PUBLIC_KEY_BYTES);
}

function field(tx: Uint8Array, offset: number, bytes: number): Uint8Array {
  return tx.subarray(offset, offset + bytes);
}

function scan(tx: Uint8Array): TxShape {
  if (tx.length > MAX_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_TX_BYTES = ${MAX_TX_BYTES}`);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const operation = reader.u8("operation");
  if (operation === RegistrationOperation.Leave) return scanLeave(tx, reader);
  if (operation !== RegistrationOperation.Register) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `operation ${operation} is neither register (0) nor leave (1)`);
  reader.advance(SPEND_AT - reader.at, "the registration's fields");
  const bond = readU64(tx, REGISTER.offset.bond);
  if (bond < MIN_VALIDATOR_BOND) throw new IosError<LedgerErrorCode>("TX_BOND_TOO_SMALL", `a bond of ${bond} is below MIN_VALIDATOR_BOND = ${MIN_VALIDATOR_BOND}`);
  const { inputCount, outputCount } = scanSpendSection(tx, reader, "a registration", 0, registerLength);
  const changeAt = reader.at - outputCount * RECORD_OUTPUT.bytes;
  let total = bond;
  for (let j = 0; j < outputCount; j++) total += readU64(tx, changeAt + j * RECORD_OUTPUT.bytes + RECORD_OUTPUT.offset.amount);
  check<LedgerErrorCode>(total <= MAX_AMOUNT, "TX_AMOUNT_OVERFLOW", "the change and the bond exceed u64");
  return { unsignedEnd: reader.at, signatureCount: inputCount + 1, recordBytes: RECORD_HEADER.bytes + RECORD_SPEND_AT + spendSectionLength(inputCount, outputCount + 1) + OUTPOINT_BYTES };
}

function scanLeave(tx: Uint8Array, reader: BinaryReader<LedgerErrorCode>): TxShape {
  reader.expectRemaining(LEAVE_BYTES - reader.at, "a leave");
  if ((readU32(tx, LEAVE.offset.bond + TXID_BYTES) & BOND_INDEX_FLAG) === 0) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", "a leave names a bond, whose output index has BOND_INDEX_FLAG set");
  return { unsignedEnd: LEAVE.bytes, signatureCount: 1, recordBytes: RECORD_HEADER.bytes + RECORD_OPERATION_BYTES + RECORD_INPUT.bytes };
}

function checkKind(kind: number): void {
  check<LedgerErrorCode>(kind === TxKind.ValidatorRegistration, "TX_UNKNOWN_KIND", `kind ${kind} is not a ValidatorRegistration (${TxKind.ValidatorRegistration})`);
}

function decode(tx: Uint8Array): RegistrationTx {
  checkKind(checkTxPrefix(tx));
  scan(tx);
  const kind = TxKind.ValidatorRegistration;
  const validator = validatorOf(tx).slice();
  const validatorSignature = tx.slice(tx.length - SIGNATURE_BYTES);
  if (operationOf(tx) === RegistrationOperation.Leave) {
    return { kind, operation: RegistrationOperation.Leave, validator, bond: field(tx, LEAVE.offset.bond, OUTPOINT_BYTES).slice(), payout: field(tx, LEAVE.offset.payout, PUBLIC_KEY_BYTES).slice(), validatorSignature };
  }
  const reader = new BinaryReader(tx, TX_CODES, SPEND_AT, tx.length - SIGNATURE_BYTES);
  const { inputs, outputs } = readSpendSection(reader);
  const signatures = readSignatures(reader, inputs.length);
  return {
    kind, operation: RegistrationOperation.Register, validator, bond: readU64(tx, REGISTER.offset.bond),
    chain: field(tx, REGISTER.offset.chain, HASH_BYTES).slice(), pop: field(tx, REGISTER.offset.pop, SIGNATURE_BYTES).slice(),
    inputs, outputs, signatures, validatorSignature,
  };
}

/** Checks the fields of a registration or leave about to be encoded and writes its unsigned part into a writer with room for `signatureCount` signatures after it. */
function writeUnsigned(tx: UnsignedRegistration | UnsignedLeave, signatureCount: (inputCount: number) => number): BinaryWriter {
  checkKind(tx.kind);
  check<LedgerErrorCode>(tx.validator.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `the validator key must be ${PUBLIC_KEY_BYTES} bytes`);
  if (tx.operation === RegistrationOperation.Leave) {
    check<LedgerErrorCode>(tx.bond.length === OUTPOINT_BYTES, "TX_BAD_FIELD", `the bond outpoint must be ${OUTPOINT_BYTES} bytes`);
    check<LedgerErrorCode>(tx.payout.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `the payout owner must be ${PUBLIC_KEY_BYTES} bytes`);
    return BinaryWriter.ofSize(LEAVE.bytes + signatureCount(0) * SIGNATURE_BYTES)
      .u8(TX_VERSION).u8(tx.kind).u8(tx.operation).bytes(tx.validator).bytes(tx.bond).bytes(tx.payout);
  }
  check<LedgerErrorCode>(tx.operation === RegistrationOperation.Register, "TX_BAD_FIELD", `operation ${String(tx.operation)} is neither register nor leave`);
  check<LedgerErrorCode>(typeof tx.bond === "bigint" && tx.bond >= 0n && tx.bond <= MAX_AMOUNT, "TX_BAD_FIELD", "the bond must be a u64 bigint");
  check<LedgerErrorCode>(tx.chain.length === HASH_BYTES, "TX_BAD_FIELD", `the chain id must be ${HASH_BYTES} bytes`);
  check<LedgerErrorCode>(tx.pop.length === SIGNATURE_BYTES, "TX_BAD_FIELD", `the proof of possession must be ${SIGNATURE_BYTES} bytes`);
  const inputCount = tx.inputs.length;
  const writer = BinaryWriter.ofSize(SPEND_AT + spendSectionLength(inputCount, tx.outputs.length) + signatureCount(inputCount) * SIGNATURE_BYTES)
    .u8(TX_VERSION).u8(tx.kind).u8(tx.operation).bytes(tx.validator).u64(tx.bond).bytes(tx.chain).bytes(tx.pop);
  writeSpendSection(writer, "a registration", 0, registerLength(inputCount, tx.outputs.length), tx.inputs, tx.outputs);
  return writer;
}

/** The unsigned encoding of a registration or leave (the txid's preimage). */
export function encodeUnsignedRegistration(tx: UnsignedRegistration | UnsignedLeave): Uint8Array<ArrayBuffer> {
  return writeUnsigned(tx, () => 0).finish();
}

function encode(tx: RegistrationTx): Uint8Array<ArrayBuffer> {
  const writer = writeUnsigned(tx, (inputCount) => (tx.operation === RegistrationOperation.Leave ? 1 : inputCount + 1));
  if (tx.operation === RegistrationOperation.Register) writeSignatures(writer, tx.signatures, tx.inputs.length);
  check<LedgerErrorCode>(tx.validatorSignature.length === SIGNATURE_BYTES, "TX_BAD_FIELD", `the validator signature must be ${SIGNATURE_BYTES} bytes`);
  return writer.bytes(tx.validatorSignature).finish();
}

/**
 * Signs a registration: every input by its owner's key among `signers`, then by the validator's
 * `validator` key, all over the txid (TX_SIGNER_MISSING when an owner has no key).
 */
export function signRegistration(tx: UnsignedRegistration, signers: readonly KeyPair[], validator: KeyPair): { transaction: Registration; txid: Uint8Array } {
  const txid = sha256(encodeUnsignedRegistration(tx));
  const signatures = tx.inputs.map((input, i) => {
    const signer = signers.find((pair) => sameBytes(pair.publicKey, input.owner));
    if (signer === undefined) throw new IosError<LedgerErrorCode>("TX_SIGNER_MISSING", `no key pair given for the owner of input ${i}`);
    return signMessage(signer.secretKey, txid);
  });
  return { transaction: { ...tx, signatures, validatorSignature: signMessage(validator.secretKey, txid) }, txid };
}

/** Signs a leave with the validator's key over its txid. */
export function signLeave(tx: UnsignedLeave, validator: KeyPair): { transaction: Leave; txid: Uint8Array } {
  const txid = sha256(encodeUnsignedRegistration(tx));
  return { transaction: { ...tx, validatorSignature: signMessage(validator.secretKey, txid) }, txid };
}

/** Calls `visit` with every owner a registration creates or spends for (inputs, change, the bond) or a leave pays. */
function everyOwner(tx: Uint8Array, visit: (owner: Uint8Array, role: string, index: number) => boolean): void {
  if (operationOf(tx) === RegistrationOperation.Leave) {
    visit(field(tx, LEAVE.offset.payout, PUBLIC_KEY_BYTES), "payout owner", 0);
    return;
  }
  let going = true;
  everySpendOwner(tx, SPEND_AT, (owner, role, index) => (going = visit(owner, role, index)));
  if (going) visit(bondOwner(validatorOf(tx)), "bond owner", 0);
}

function shards(tx: Uint8Array, shardCount: number): number[] {
  const touched = new Set<number>();
  everyOwner(tx, (owner) => touched.add(shardOfOwner(owner, shardCount)) !== undefined);
  return [...touched].sort((a, b) => a - b);
}

/**
 * Every owner in `shard` (a registration's bond too: one shard decides each key's registrations);
 * then, for a registration, the validator key's soundness and its proof of possession. The proof
 * is one signature verification outside the batch: registrations are rare.
 */
function checkStateless(tx: Uint8Array, _shape: TxShape, shard: number, shardCount: number): void {
  if (shardCount > 1) everyOwner(tx, (owner, role, index) => checkOwnerShard(owner, role, index, shard, shardCount));
  if (operationOf(tx) === RegistrationOperation.Leave) return;
  const validator = validatorOf(tx);
  const problem = keyProblem(validator);
  if (problem !== undefined) throw new IosError<LedgerErrorCode>("TX_BAD_VALIDATOR_KEY", problem);
  const chain = field(tx, REGISTER.offset.chain, HASH_BYTES);
  const pop = field(tx, REGISTER.offset.pop, SIGNATURE_BYTES);
  if (!verifyKeyPossession(validator, pop, chain)) throw new IosError<LedgerErrorCode>("TX_BAD_POP", "the proof of possession does not verify for the validator key and the chain it names");
}

function signatureItems(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: SignatureItem[]): void {
  if (operationOf(tx) === RegistrationOperation.Register) pushInputSignatureItems(tx, SPEND_AT, shape.unsignedEnd, txid, out);
  out.push({ signature: tx.subarray(tx.length - SIGNATURE_BYTES), message: txid, publicKey: validatorOf(tx) });
}

/** A registration's first input owner (its funds' sender, as a transfer's); a leave's validator. */
function spender(tx: Uint8Array): Uint8Array | undefined {
  if (tx.length <= REGISTER.offset.operation) return undefined;
  if (operationOf(tx) === RegistrationOperation.Register) return firstInputOwner(tx, SPEND_AT);
  return tx.length < LEAVE.offset.validator + PUBLIC_KEY_BYTES ? undefined : validatorOf(tx);
}

function writeRecord(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: Uint8Array, at: number): void {
  const writer = new BinaryWriter(out, at).u8(TxKind.ValidatorRegistration).u32(shape.recordBytes).bytes(txid).u8(operationOf(tx));
  const validator = validatorOf(tx);
  if (operationOf(tx) === RegistrationOperation.Leave) {
    writer.bytes(field(tx, LEAVE.offset.bond, OUTPOINT_BYTES)).bytes(bondOwner(validator));
    return;
  }
  writer.bytes(field(tx, REGISTER.offset.chain, HASH_BYTES)).u16(spendInputCount(tx, SPEND_AT)).u16(spendOutputCount(tx, SPEND_AT) + 1)
    .bytes(tx.subarray(SPEND_AT + 4, shape.unsignedEnd))
    .bytes(bondOwner(validator)).u64(readU64(tx, REGISTER.offset.bond))
    .bytes(registrationBond(validator));
}

const spendRecord = spendRecordLayout(RECORD_SPEND_AT);
const isLeaveRecord = (records: Uint8Array, at: number): boolean => records[at + RECORD_HEADER.bytes] === RegistrationOperation.Leave;

/** A register record reads as its spend section, the bond last at its own key; a leave as nothing spent or created. */
const record: RecordLayout = {
  balanced: true,
  inputCount: (records, at) => (isLeaveRecord(records, at) ? 0 : spendRecord.inputCount(records, at)),
  inputAt: spendRecord.inputAt,
  outputCount: (records, at) => (isLeaveRecord(records, at) ? 0 : spendRecord.outputCount(records, at)),
  outputAt: spendRecord.outputAt,
  createdKeyAt: (records, at, j) => {
    const count = spendRecord.outputCount(records, at);
    return j === count - 1 ? spendRecord.outputAt(records, at, count) : undefined;
  },
};

export const registrationKind: TxKindModule<RegistrationTx> = {
  kind: TxKind.ValidatorRegistration,
  name: "ValidatorRegistration",
  submittable: true,
  scan,
  decode,
  encode,
  encodeUnsigned: encodeUnsignedRegistration,
  shards,
  checkStateless,
  signatureItems,
  spender,
  writeRecord,
  record,
};
