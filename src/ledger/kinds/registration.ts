/**
 * The ValidatorRegistration kind (white paper §5.1: the identity chain lists each epoch's
 * validators with their keys; §7.1–7.2: a validator's stake is a bond slashing can take): how a
 * validator joins, leaves and takes its bond back. A registration or leave final in epoch e−1
 * takes effect in epoch e (the epoch engine's decisions). Three operations share the kind byte,
 * told apart by the byte after it. Encodings, little-endian:
 *
 *   register: version u8 ‖ kind u8 (4) ‖ operation u8 (0) ‖ validator[32] ‖ bond u64 ‖ chain[32]
 *             ‖ pop[64] ‖ spend section (./transfer.ts: inputCount u16 (1..MAX_INPUTS)
 *             ‖ changeCount u16 (0..MAX_OUTPUTS) ‖ inputs ‖ change outputs)
 *             ‖ inputCount × signature[64] ‖ validator signature[64]
 *   leave:    version u8 ‖ kind u8 (4) ‖ operation u8 (1) ‖ validator[32] ‖ bond outpoint[36]
 *             ‖ payout owner[32] ‖ validator signature[64]
 *   release:  version u8 ‖ kind u8 (4) ‖ operation u8 (2) ‖ validator[32] ‖ bond outpoint[36]
 *             ‖ amount u64 (≥ 1) ‖ payout owner[32] ‖ validator signature[64]
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
 * bond. It changes no entry: it records intent; the epoch transition removes the validator from
 * the next epoch and lists its bond among the configuration's departures (src/epoch/interface.ts
 * `Departure`: bond, validator, the leave's payout, release epoch).
 *
 * Release: the validator signs that its bond goes to `payout` (`amount` of it; the rest, if any,
 * is burned). Statelessly the bond must be a flagged outpoint and the payout live in the
 * submitting shard. The epoch rule is the shard execution's (src/consensus/pob/finalization.ts,
 * from the epoch context's departures, as the slashing reads `bondOf`): the bond is a departure's
 * (TX_RELEASE_NOT_DEPARTED — a serving validator, or a bond no leave released), of the signing
 * key (TX_RELEASE_WRONG_KEY), the epoch is at least its release epoch — two after the leave's, a
 * full epoch out of every committee in which evidence can still slash it (TX_RELEASE_TOO_EARLY)
 * — and the payout is the leave's (TX_RELEASE_WRONG_PAYOUT). The kernel then spends the bond like
 * a slashing (a flagged input) into one output (txid, 0): BOND_GONE if the bond is no longer
 * there (released already, or slashed), OWNER_MISMATCH / INSUFFICIENT_FUNDS as for any spend.
 *
 * Apply records: RECORD_HEADER ‖ operation u8, then
 *   register: chain[32] ‖ inputCount u16 ‖ changeCount + 1 u16 ‖ inputs ‖ change outputs
 *             (verbatim) ‖ bond RECORD_OUTPUT (bondOwner(validator), bond) ‖ bond key[36];
 *   leave:    the bond as a RECORD_INPUT (outpoint ‖ bondOwner(validator)), which the record
 *             layout reports as no input (nothing is spent);
 *   release:  a spend section of one input, the bond (outpoint ‖ bondOwner(validator)), and one
 *             output (payout ‖ amount): u16 1 ‖ u16 1 ‖ RECORD_INPUT ‖ RECORD_OUTPUT.
 * The kernel's `applyRegistration` (assembly/utxo/index.ts) reads them.
 *
 * API: `registrationKind`, `encodeUnsignedRegistration`, `signRegistration`, `signLeave`,
 * `signRelease`, `releaseOfRecord`, `MIN_VALIDATOR_BOND`, `RegistrationOperation`.
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

export const RegistrationOperation = { Register: 0, Leave: 1, Release: 2 } as const;
export type RegistrationOperation = (typeof RegistrationOperation)[keyof typeof RegistrationOperation];

const REGISTER = layout({
  version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, operation: 1, validator: PUBLIC_KEY_BYTES, bond: AMOUNT_BYTES, chain: HASH_BYTES, pop: SIGNATURE_BYTES,
});
/** Where a registration's spend section starts. */
const SPEND_AT = REGISTER.bytes;
const LEAVE = layout({ version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, operation: 1, validator: PUBLIC_KEY_BYTES, bond: OUTPOINT_BYTES, payout: PUBLIC_KEY_BYTES });
const LEAVE_BYTES = LEAVE.bytes + SIGNATURE_BYTES;
const RELEASE = layout({
  version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, operation: 1, validator: PUBLIC_KEY_BYTES, bond: OUTPOINT_BYTES, amount: AMOUNT_BYTES, payout: PUBLIC_KEY_BYTES,
});
const RELEASE_BYTES = RELEASE.bytes + SIGNATURE_BYTES;
/** A record's body opens with the operation byte. */
const RECORD_OPERATION_BYTES = 1;
/** Where a register record's spend section starts in its body: after the operation and the chain. */
const RECORD_SPEND_AT = RECORD_OPERATION_BYTES + HASH_BYTES;
/** A release record's body: the operation, then a spend section of one input (the bond) and one output (the payout). */
const RELEASE_RECORD = layout({ operation: RECORD_OPERATION_BYTES, inputCount: 2, outputCount: 2, bond: OUTPOINT_BYTES, owner: PUBLIC_KEY_BYTES, payout: PUBLIC_KEY_BYTES, amount: AMOUNT_BYTES });

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

export interface UnsignedRelease {
  readonly kind: typeof TxKind.ValidatorRegistration;
  readonly operation: typeof RegistrationOperation.Release;
  readonly validator: Uint8Array;
  /** The departed validator's bond outpoint (index flagged). */
  readonly bond: Uint8Array;
  /** What the payout receives (at most the bond; the rest is burned). */
  readonly amount: bigint;
  /** The owner the leave named (src/epoch/interface.ts `Departure.payout`). */
  readonly payout: Uint8Array;
}

export interface Release extends UnsignedRelease {
  readonly validatorSignature: Uint8Array;
}

export type RegistrationTx = Registration | Leave | Release;
type UnsignedRegistrationTx = UnsignedRegistration | UnsignedLeave | UnsignedRelease;

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
  if (operation === RegistrationOperation.Release) return scanRelease(tx, reader);
  if (operation !== RegistrationOperation.Register) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `operation ${operation} is none of register (0), leave (1), release (2)`);
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

function scanRelease(tx: Uint8Array, reader: BinaryReader<LedgerErrorCode>): TxShape {
  reader.expectRemaining(RELEASE_BYTES - reader.at, "a release");
  if ((readU32(tx, RELEASE.offset.bond + TXID_BYTES) & BOND_INDEX_FLAG) === 0) throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", "a release names a bond, whose output index has BOND_INDEX_FLAG set");
  if (readU64(tx, RELEASE.offset.amount) === 0n) throw new IosError<LedgerErrorCode>("TX_ZERO_AMOUNT", "a release pays a positive amount");
  return { unsignedEnd: RELEASE.bytes, signatureCount: 1, recordBytes: RECORD_HEADER.bytes + RELEASE_RECORD.bytes };
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
  if (operationOf(tx) === RegistrationOperation.Release) {
    return {
      kind, operation: RegistrationOperation.Release, validator, bond: field(tx, RELEASE.offset.bond, OUTPOINT_BYTES).slice(), amount: readU64(tx, RELEASE.offset.amount),
      payout: field(tx, RELEASE.offset.payout, PUBLIC_KEY_BYTES).slice(), validatorSignature,
    };
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

/** Checks the fields of a registration, leave or release about to be encoded and writes its unsigned part into a writer with room for `signatureCount` signatures after it. */
function writeUnsigned(tx: UnsignedRegistrationTx, signatureCount: (inputCount: number) => number): BinaryWriter {
  checkKind(tx.kind);
  check<LedgerErrorCode>(tx.validator.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `the validator key must be ${PUBLIC_KEY_BYTES} bytes`);
  if (tx.operation === RegistrationOperation.Leave) {
    check<LedgerErrorCode>(tx.bond.length === OUTPOINT_BYTES, "TX_BAD_FIELD", `the bond outpoint must be ${OUTPOINT_BYTES} bytes`);
    check<LedgerErrorCode>(tx.payout.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `the payout owner must be ${PUBLIC_KEY_BYTES} bytes`);
    return BinaryWriter.ofSize(LEAVE.bytes + signatureCount(0) * SIGNATURE_BYTES)
      .u8(TX_VERSION).u8(tx.kind).u8(tx.operation).bytes(tx.validator).bytes(tx.bond).bytes(tx.payout);
  }
  if (tx.operation === RegistrationOperation.Release) {
    check<LedgerErrorCode>(tx.bond.length === OUTPOINT_BYTES, "TX_BAD_FIELD", `the bond outpoint must be ${OUTPOINT_BYTES} bytes`);
    check<LedgerErrorCode>(typeof tx.amount === "bigint" && tx.amount > 0n && tx.amount <= MAX_AMOUNT, "TX_BAD_FIELD", "the amount must be a positive u64 bigint");
    check<LedgerErrorCode>(tx.payout.length === PUBLIC_KEY_BYTES, "TX_BAD_FIELD", `the payout owner must be ${PUBLIC_KEY_BYTES} bytes`);
    return BinaryWriter.ofSize(RELEASE.bytes + signatureCount(0) * SIGNATURE_BYTES)
      .u8(TX_VERSION).u8(tx.kind).u8(tx.operation).bytes(tx.validator).bytes(tx.bond).u64(tx.amount).bytes(tx.payout);
  }
  check<LedgerErrorCode>(tx.operation === RegistrationOperation.Register, "TX_BAD_FIELD", `operation ${String((tx as { operation: unknown }).operation)} is none of register, leave, release`);
  check<LedgerErrorCode>(typeof tx.bond === "bigint" && tx.bond >= 0n && tx.bond <= MAX_AMOUNT, "TX_BAD_FIELD", "the bond must be a u64 bigint");
  check<LedgerErrorCode>(tx.chain.length === HASH_BYTES, "TX_BAD_FIELD", `the chain id must be ${HASH_BYTES} bytes`);
  check<LedgerErrorCode>(tx.pop.length === SIGNATURE_BYTES, "TX_BAD_FIELD", `the proof of possession must be ${SIGNATURE_BYTES} bytes`);
  const inputCount = tx.inputs.length;
  const writer = BinaryWriter.ofSize(SPEND_AT + spendSectionLength(inputCount, tx.outputs.length) + signatureCount(inputCount) * SIGNATURE_BYTES)
    .u8(TX_VERSION).u8(tx.kind).u8(tx.operation).bytes(tx.validator).u64(tx.bond).bytes(tx.chain).bytes(tx.pop);
  writeSpendSection(writer, "a registration", 0, registerLength(inputCount, tx.outputs.length), tx.inputs, tx.outputs);
  return writer;
}

/** The unsigned encoding of a registration, leave or release (the txid's preimage). */
export function encodeUnsignedRegistration(tx: UnsignedRegistrationTx): Uint8Array<ArrayBuffer> {
  return writeUnsigned(tx, () => 0).finish();
}

function encode(tx: RegistrationTx): Uint8Array<ArrayBuffer> {
  const writer = writeUnsigned(tx, (inputCount) => (tx.operation === RegistrationOperation.Register ? inputCount + 1 : 1));
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

/** Signs a release with the validator's key over its txid. */
export function signRelease(tx: UnsignedRelease, validator: KeyPair): { transaction: Release; txid: Uint8Array } {
  const txid = sha256(encodeUnsignedRegistration(tx));
  return { transaction: { ...tx, validatorSignature: signMessage(validator.secretKey, txid) }, txid };
}

/**
 * The release an apply record of this kind states (`record` at `at`), or undefined for a register
 * or leave record: the bond it spends, the owner it claims for it (bondOwner of the signing key)
 * and the payout — what the shard's execution checks against the epoch's departures.
 */
export function releaseOfRecord(records: Uint8Array, at: number): { bond: Uint8Array; owner: Uint8Array; payout: Uint8Array } | undefined {
  const body = at + RECORD_HEADER.bytes;
  if (records[body + RELEASE_RECORD.offset.operation] !== RegistrationOperation.Release) return undefined;
  return {
    bond: field(records, body + RELEASE_RECORD.offset.bond, OUTPOINT_BYTES),
    owner: field(records, body + RELEASE_RECORD.offset.owner, PUBLIC_KEY_BYTES),
    payout: field(records, body + RELEASE_RECORD.offset.payout, PUBLIC_KEY_BYTES),
  };
}

/** Calls `visit` with every owner a registration creates or spends for (inputs, change, the bond) or a leave or release pays. */
function everyOwner(tx: Uint8Array, visit: (owner: Uint8Array, role: string, index: number) => boolean): void {
  if (operationOf(tx) === RegistrationOperation.Leave) {
    visit(field(tx, LEAVE.offset.payout, PUBLIC_KEY_BYTES), "payout owner", 0);
    return;
  }
  if (operationOf(tx) === RegistrationOperation.Release) {
    visit(field(tx, RELEASE.offset.payout, PUBLIC_KEY_BYTES), "payout owner", 0);
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
  if (operationOf(tx) !== RegistrationOperation.Register) return;
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

/** A registration's first input owner (its funds' sender, as a transfer's); a leave's or release's validator. */
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
  if (operationOf(tx) === RegistrationOperation.Release) {
    writer.u16(1).u16(1).bytes(field(tx, RELEASE.offset.bond, OUTPOINT_BYTES)).bytes(bondOwner(validator))
      .bytes(field(tx, RELEASE.offset.payout, PUBLIC_KEY_BYTES)).u64(readU64(tx, RELEASE.offset.amount));
    return;
  }
  writer.bytes(field(tx, REGISTER.offset.chain, HASH_BYTES)).u16(spendInputCount(tx, SPEND_AT)).u16(spendOutputCount(tx, SPEND_AT) + 1)
    .bytes(tx.subarray(SPEND_AT + 4, shape.unsignedEnd))
    .bytes(bondOwner(validator)).u64(readU64(tx, REGISTER.offset.bond))
    .bytes(registrationBond(validator));
}

const spendRecord = spendRecordLayout(RECORD_SPEND_AT);
const releaseRecord = spendRecordLayout(RECORD_OPERATION_BYTES);
const operationOfRecord = (records: Uint8Array, at: number): number => records[at + RECORD_HEADER.bytes]!;
/** The spend layout of a register or release record (a leave has none). */
const spendOf = (records: Uint8Array, at: number): RecordLayout => (operationOfRecord(records, at) === RegistrationOperation.Release ? releaseRecord : spendRecord);

/**
 * A register record reads as its spend section, the bond last at its own key; a release as its
 * spend of the bond into (txid, 0); a leave as nothing spent or created.
 */
const record: RecordLayout = {
  balanced: true,
  inputCount: (records, at) => (operationOfRecord(records, at) === RegistrationOperation.Leave ? 0 : spendOf(records, at).inputCount(records, at)),
  inputAt: (records, at, i) => spendOf(records, at).inputAt(records, at, i),
  outputCount: (records, at) => (operationOfRecord(records, at) === RegistrationOperation.Leave ? 0 : spendOf(records, at).outputCount(records, at)),
  outputAt: (records, at, j) => spendOf(records, at).outputAt(records, at, j),
  createdKeyAt: (records, at, j) => {
    if (operationOfRecord(records, at) !== RegistrationOperation.Register) return undefined;
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
