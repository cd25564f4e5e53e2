/**
 * What a PoB replica stores with every final block (the chain store's consensus record, one per
 * height, written in the block's LMDB transaction) so that a restart resumes exactly where the
 * replica was (issue 12 defects 4 and 6): the decided proposal's hash and state commitment, the
 * believability accounts after the height (stake, Servi, reputation, slashed), the believable
 * seats suspended, and the optimistic blocks the height ordered — their producer, timestamp and
 * range in the final block — from which the epoch's re-check history and the duplicate window
 * are rebuilt. Without it a replica restarted before a slashing would re-check less than the
 * others, pay other compensations and diverge.
 *
 * Encoding, little-endian: u8 version ‖ proposal hash[32] ‖ tip[32] ‖ u16 n ‖ n × { key[32] ‖
 * u64 stake ‖ u32 servi ‖ u16 reputation ‖ u8 excluded } (key order) ‖ u16 s ‖ s × suspended
 * key[32] ‖ u32 b ‖ b × { block hash[32] ‖ u16 producer (account index) ‖ u64 timestamp ‖ u32
 * first ‖ u32 count ‖ u8 flags (bit 0: kept for the re-check) }.
 *
 * API: `encodeReplicaRecord(record)`, `decodeReplicaRecord(bytes)`.
 */
import { BinaryReader, BinaryWriter, singleCode } from "../../codec/binary.js";
import { HASH_BYTES, PUBLIC_KEY_BYTES } from "../../codec/sizes.js";
import { check } from "../../errors.js";
import { toHex } from "../../hex.js";
import { ACCOUNT_STATE_BYTES, readAccountState, writeAccountState, type AccountState } from "./believability.js";
import type { PobErrorCode } from "./errors.js";
import { MAX_LEAGUE } from "./policy.js";
import { MAX_PROPOSAL_BLOCKS } from "./proposal.js";

const RECORD_VERSION = 1;
const CODES = singleCode<PobErrorCode>("POB_BAD_REPLICA_RECORD");
const ORDERED_BYTES = HASH_BYTES + 2 + 8 + 4 + 4 + 1;

/** An optimistic block a final height ordered. */
export interface OrderedBlock {
  readonly hash: Uint8Array;
  readonly producer: Uint8Array;
  readonly timestamp: number;
  /** Final height that ordered it. */
  readonly finalHeight: number;
  /** Its included transactions are the final block's [first, first + count). */
  readonly first: number;
  readonly count: number;
  /** Whether the epoch's re-check keeps it (its producer was not slashed). */
  readonly recheck: boolean;
}

export interface ReplicaRecord {
  readonly proposalHash: Uint8Array;
  readonly tip: Uint8Array;
  readonly accounts: readonly AccountState[];
  readonly suspended: readonly Uint8Array[];
  readonly ordered: readonly Omit<OrderedBlock, "finalHeight">[];
}

export function encodeReplicaRecord(record: ReplicaRecord): Uint8Array {
  const { accounts, suspended, ordered } = record;
  check<PobErrorCode>(accounts.length <= MAX_LEAGUE && suspended.length <= MAX_LEAGUE && ordered.length <= MAX_PROPOSAL_BLOCKS, "POB_BAD_ARGUMENT", "a replica record is bounded by MAX_LEAGUE and MAX_PROPOSAL_BLOCKS");
  const indexOf = new Map(accounts.map((account, i) => [toHex(account.publicKey), i]));
  const writer = BinaryWriter.ofSize(1 + 2 * HASH_BYTES + 2 + accounts.length * ACCOUNT_STATE_BYTES + 2 + suspended.length * PUBLIC_KEY_BYTES + 4 + ordered.length * ORDERED_BYTES)
    .u8(RECORD_VERSION).bytes(record.proposalHash).bytes(record.tip).u16(accounts.length);
  for (const account of accounts) writeAccountState(writer, account);
  writer.u16(suspended.length);
  for (const key of suspended) writer.bytes(key);
  writer.u32(ordered.length);
  for (const block of ordered) {
    const producer = indexOf.get(toHex(block.producer));
    check<PobErrorCode>(producer !== undefined, "POB_BAD_ARGUMENT", "an ordered block's producer has no account");
    writer.bytes(block.hash).u16(producer).u64(BigInt(block.timestamp)).u32(block.first).u32(block.count).u8(block.recheck ? 1 : 0);
  }
  return writer.finish();
}

/** Strict inverse of `encodeReplicaRecord`; anything else is POB_BAD_REPLICA_RECORD. */
export function decodeReplicaRecord(bytes: Uint8Array): ReplicaRecord {
  const reader = new BinaryReader(bytes, CODES);
  const version = reader.u8("version");
  check<PobErrorCode>(version === RECORD_VERSION, "POB_BAD_REPLICA_RECORD", `version ${version} is not ${RECORD_VERSION}`);
  const proposalHash = reader.bytes(HASH_BYTES, "proposal hash").slice();
  const tip = reader.bytes(HASH_BYTES, "tip").slice();
  const accountCount = reader.u16("account count");
  const accounts: AccountState[] = [];
  for (let i = 0; i < accountCount; i++) accounts.push(readAccountState(reader, "POB_BAD_REPLICA_RECORD", `account ${i}`));
  const suspendedCount = reader.u16("suspended count");
  const suspended: Uint8Array[] = [];
  for (let i = 0; i < suspendedCount; i++) suspended.push(reader.bytes(PUBLIC_KEY_BYTES, "suspended key").slice());
  const orderedCount = reader.u32("ordered count");
  check<PobErrorCode>(orderedCount <= MAX_PROPOSAL_BLOCKS, "POB_BAD_REPLICA_RECORD", `${orderedCount} ordered blocks exceed MAX_PROPOSAL_BLOCKS`);
  const ordered: Omit<OrderedBlock, "finalHeight">[] = [];
  for (let i = 0; i < orderedCount; i++) {
    const hash = reader.bytes(HASH_BYTES, "block hash").slice();
    const producer = reader.u16("producer");
    check<PobErrorCode>(producer < accounts.length, "POB_BAD_REPLICA_RECORD", `ordered block ${i} names producer ${producer} of ${accounts.length}`);
    const timestamp = reader.u53("timestamp");
    const first = reader.u32("first");
    const count = reader.u32("count");
    const flags = reader.u8("flags");
    check<PobErrorCode>(flags <= 1, "POB_BAD_REPLICA_RECORD", `ordered block ${i} has flags ${flags}`);
    ordered.push({ hash, producer: accounts[producer]!.publicKey, timestamp, first, count, recheck: flags === 1 });
  }
  reader.expectEnd("the ordered blocks");
  return { proposalHash, tip, accounts, suspended, ordered };
}
