/**
 * The SlashingEvidence kind (white paper §7.2; issue 12 defect 4): the ledger fact of a slashing.
 * A shard's Proof-of-Believability execution writes one into a final block when a sampled
 * signature of a believable producer's optimistic block is invalid (src/consensus/pob/slashing.ts
 * builds it); it spends the offender's bond (src/ledger/bond.ts), pays the owners who lost value
 * to the offender's forgeries that had already become final, and burns the rest. Clients never
 * submit one (`submittable: false`: TX_NOT_SUBMITTABLE), and only the kinds clients submit may
 * appear in a block someone else proposes, so no producer or leader can slash anyone by writing
 * one. Encoding, little-endian:
 *
 *   version u8 ‖ kind u8 (5) ‖ epoch u32 ‖ shard u32 ‖ final height u64 ‖ offender[32]
 *   ‖ bond outpoint { txid[32], index u32 } ‖ bond amount u64 ‖ compensationCount u16
 *   ‖ compensationCount × { owner[32], amount u64 }   (owners strictly ascending, amounts > 0)
 *   ‖ u32 length ‖ evidence (src/consensus/pob/evidence.ts, checked by the PoB layer)
 *
 * Σ compensations ≤ bond amount; the difference is burned. There are no signatures: the evidence
 * (the offender's own seal over a block holding a transaction with an invalid signature) is
 * what makes it valid, and every replica derived the same transaction from the same final inputs.
 * txid = SHA-256 of the whole encoding; the (epoch, shard, height, offender) it names keep it unique.
 *
 * Apply record: RECORD_HEADER ‖ inputCount u16 (1) ‖ outputCount u16 ‖ the bond as a RECORD_INPUT
 * (outpoint ‖ bondOwner(offender)) ‖ the compensations as RECORD_OUTPUTs: the kernel's spend rule
 * (assembly/utxo/index.ts) with no output required.
 */
import { BinaryReader, BinaryWriter, readU16, readU32, readU64 } from "../../codec/binary.js";
import { layout } from "../../codec/layout.js";
import { AMOUNT_BYTES, OUTPOINT_BYTES, OUTPUT_INDEX_BYTES, PUBLIC_KEY_BYTES, TXID_BYTES } from "../../codec/sizes.js";
import { shardOfOwner } from "../shard.js";
import { bondOwner } from "../bond.js";
import { RECORD_HEADER, RECORD_INPUT, RECORD_OUTPUT, TX_CODES, TX_PREFIX, TX_VERSION, TxKind, checkTxPrefix, type RecordLayout, type TxKindModule, type TxShape } from "./interface.js";
import { IosError, check } from "../../errors.js";
import type { LedgerErrorCode } from "../errors.js";
import type { TxOutput } from "./transfer.js";

/** Victims one slashing pays; beyond it the smallest losses go unpaid (src/consensus/pob/slashing.ts). */
export const MAX_COMPENSATIONS = 1024;
/** An evidence: header, seal, one transaction (≤ MAX_TX_BYTES) and its Merkle path, with room. */
export const MAX_EVIDENCE_BYTES = 20 * 1024;

const HEADER = layout({
  version: TX_PREFIX.size.version, kind: TX_PREFIX.size.kind, epoch: 4, shard: 4, height: 8, offender: PUBLIC_KEY_BYTES,
  bondTxid: TXID_BYTES, bondIndex: OUTPUT_INDEX_BYTES, bondAmount: AMOUNT_BYTES, compensationCount: 2,
});
const COMPENSATION = RECORD_OUTPUT;
/** Largest encoding: the header, every compensation, the evidence with its length. */
export const MAX_SLASHING_TX_BYTES = HEADER.bytes + MAX_COMPENSATIONS * COMPENSATION.bytes + 4 + MAX_EVIDENCE_BYTES;
const RECORD_COUNTS = layout({ inputCount: 2, outputCount: 2 });
const RECORD_INPUT_AT = RECORD_HEADER.bytes + RECORD_COUNTS.bytes;
const RECORD_OUTPUTS_AT = RECORD_INPUT_AT + RECORD_INPUT.bytes;

export interface Slashing {
  readonly kind: typeof TxKind.SlashingEvidence;
  readonly epoch: number;
  readonly shard: number;
  /** The final height whose block holds it. */
  readonly height: number;
  readonly offender: Uint8Array;
  /** The bond's outpoint: txid ‖ u32le index. */
  readonly bond: Uint8Array;
  readonly bondAmount: bigint;
  /** Payments to the offender's victims, owners ascending. */
  readonly compensations: readonly TxOutput[];
  /** An encoded Evidence (src/consensus/pob/evidence.ts). */
  readonly evidence: Uint8Array;
}

function compensationCountOf(tx: Uint8Array): number {
  return readU16(tx, HEADER.offset.compensationCount);
}

function scan(tx: Uint8Array): TxShape {
  if (tx.length > MAX_SLASHING_TX_BYTES) throw new IosError<LedgerErrorCode>("TX_TOO_LARGE", `${tx.length} bytes exceed MAX_SLASHING_TX_BYTES = ${MAX_SLASHING_TX_BYTES}`);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  reader.advance(HEADER.bytes - TX_PREFIX.bytes - 2, "the slashing header");
  const count = reader.u16("compensation count");
  check<LedgerErrorCode>(count <= MAX_COMPENSATIONS, "TX_TOO_MANY_OUTPUTS", `${count} compensations exceed MAX_COMPENSATIONS = ${MAX_COMPENSATIONS}`);
  const bondAmount = readU64(tx, HEADER.offset.bondAmount);
  check<LedgerErrorCode>(bondAmount > 0n, "TX_ZERO_AMOUNT", "the bond amount must be > 0");
  reader.need(count * COMPENSATION.bytes, "the compensations");
  let total = 0n;
  for (let j = 0; j < count; j++) {
    if (j > 0 && Buffer.compare(compensationOwner(tx, j - 1), compensationOwner(tx, j)) >= 0) {
      throw new IosError<LedgerErrorCode>("TX_BAD_FIELD", `compensation ${j}: owners must be strictly ascending`);
    }
    const amount = readU64(tx, HEADER.bytes + j * COMPENSATION.bytes + COMPENSATION.offset.amount);
    check<LedgerErrorCode>(amount > 0n, "TX_ZERO_AMOUNT", `compensation ${j}: amount must be > 0`);
    total += amount;
  }
  reader.advance(count * COMPENSATION.bytes);
  check<LedgerErrorCode>(total <= bondAmount, "TX_AMOUNT_OVERFLOW", `compensations total ${total}, over the bond's ${bondAmount}`);
  const evidence = reader.lengthPrefixed("u32", MAX_EVIDENCE_BYTES, "evidence");
  check<LedgerErrorCode>(evidence.length > 0, "TX_BAD_FIELD", "the evidence is empty");
  reader.expectEnd("the evidence");
  return { unsignedEnd: tx.length, signatureCount: 0, recordBytes: RECORD_OUTPUTS_AT + count * RECORD_OUTPUT.bytes };
}

function checkKind(kind: number): void {
  check<LedgerErrorCode>(kind === TxKind.SlashingEvidence, "TX_UNKNOWN_KIND", `kind ${kind} is not a SlashingEvidence (${TxKind.SlashingEvidence})`);
}

function decode(tx: Uint8Array): Slashing {
  checkKind(checkTxPrefix(tx));
  scan(tx);
  const reader = new BinaryReader(tx, TX_CODES, TX_PREFIX.bytes);
  const epoch = reader.u32();
  const shard = reader.u32();
  const height = reader.u53("final height");
  const offender = reader.bytes(PUBLIC_KEY_BYTES).slice();
  const bond = reader.bytes(OUTPOINT_BYTES).slice();
  const bondAmount = reader.u64();
  const count = reader.u16();
  const compensations: TxOutput[] = [];
  for (let j = 0; j < count; j++) compensations.push({ owner: reader.bytes(PUBLIC_KEY_BYTES).slice(), amount: reader.u64() });
  const evidence = reader.lengthPrefixed("u32", MAX_EVIDENCE_BYTES).slice();
  reader.expectEnd();
  return { kind: TxKind.SlashingEvidence, epoch, shard, height, offender, bond, bondAmount, compensations, evidence };
}

function encode(tx: Slashing): Uint8Array<ArrayBuffer> {
  checkKind(tx.kind);
  check<LedgerErrorCode>(tx.offender.length === PUBLIC_KEY_BYTES && tx.bond.length === OUTPOINT_BYTES, "TX_BAD_FIELD", "offender is a key, bond an outpoint");
  check<LedgerErrorCode>(Number.isSafeInteger(tx.height) && tx.height >= 0, "TX_BAD_FIELD", "height must be a safe integer ≥ 0");
  check<LedgerErrorCode>(tx.compensations.every((c) => c.owner.length === PUBLIC_KEY_BYTES), "TX_BAD_FIELD", `compensation owners are ${PUBLIC_KEY_BYTES} bytes`);
  const writer = BinaryWriter.ofSize(HEADER.bytes + tx.compensations.length * COMPENSATION.bytes + 4 + tx.evidence.length)
    .u8(TX_VERSION).u8(tx.kind).u32(tx.epoch).u32(tx.shard).u64(BigInt(tx.height)).bytes(tx.offender).bytes(tx.bond).u64(tx.bondAmount)
    .u16(tx.compensations.length);
  for (const { owner, amount } of tx.compensations) writer.bytes(owner).u64(amount);
  const encoded = writer.lengthPrefixed("u32", tx.evidence).finish();
  scan(encoded);
  return encoded;
}

function compensationOwner(tx: Uint8Array, j: number): Uint8Array {
  const at = HEADER.bytes + j * COMPENSATION.bytes;
  return tx.subarray(at, at + PUBLIC_KEY_BYTES);
}

function shards(tx: Uint8Array, shardCount: number): number[] {
  const shard = readU32(tx, HEADER.offset.shard);
  check<LedgerErrorCode>(shard < shardCount, "TX_WRONG_SHARD", `shard ${shard} is not below ${shardCount}`);
  return [shard];
}

/** Of `shard`, and so is every victim it pays (the forged inputs it makes good were of this shard). */
function checkStateless(tx: Uint8Array, _shape: TxShape, shard: number, shardCount: number): void {
  const named = readU32(tx, HEADER.offset.shard);
  if (named !== shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `a slashing of shard ${named}, not ${shard}`);
  for (let j = 0; j < compensationCountOf(tx); j++) {
    const actual = shardOfOwner(compensationOwner(tx, j), shardCount);
    if (actual !== shard) throw new IosError<LedgerErrorCode>("TX_WRONG_SHARD", `compensation ${j} belongs to shard ${actual}, not ${shard}`);
  }
}

function offender(tx: Uint8Array): Uint8Array | undefined {
  return tx.length < HEADER.offset.offender + PUBLIC_KEY_BYTES ? undefined : tx.subarray(HEADER.offset.offender, HEADER.offset.offender + PUBLIC_KEY_BYTES);
}

function writeRecord(tx: Uint8Array, shape: TxShape, txid: Uint8Array, out: Uint8Array, at: number): void {
  const count = compensationCountOf(tx);
  new BinaryWriter(out, at)
    .u8(TxKind.SlashingEvidence)
    .u32(shape.recordBytes)
    .bytes(txid)
    .u16(1)
    .u16(count)
    .bytes(tx.subarray(HEADER.offset.bondTxid, HEADER.offset.bondTxid + OUTPOINT_BYTES))
    .bytes(bondOwner(offender(tx)!))
    .bytes(tx.subarray(HEADER.bytes, HEADER.bytes + count * COMPENSATION.bytes));
}

const record: RecordLayout = {
  balanced: true,
  inputCount: () => 1,
  inputAt: (_records, at) => at + RECORD_INPUT_AT,
  outputCount: (records, at) => readU16(records, at + RECORD_HEADER.bytes + RECORD_COUNTS.offset.outputCount),
  outputAt: (_records, at, j) => at + RECORD_OUTPUTS_AT + j * RECORD_OUTPUT.bytes,
};

export const slashingKind: TxKindModule<Slashing> = {
  kind: TxKind.SlashingEvidence,
  name: "SlashingEvidence",
  submittable: false,
  scan,
  decode,
  encode,
  encodeUnsigned: encode,
  shards,
  checkStateless,
  signatureItems: () => undefined,
  spender: offender,
  writeRecord,
  record,
};
