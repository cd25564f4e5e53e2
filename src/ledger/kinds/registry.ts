/**
 * The transaction-kind registry: kind byte → module (./interface.ts). Everything that handles
 * transaction bytes without caring about their kind goes through here: scanning, txids, shards,
 * signature items, apply records, the spender key. An unregistered kind is TX_UNKNOWN_KIND.
 *
 * Adding a kind: one module under src/ledger/kinds/, one entry in `BUILT_IN` below, and one case
 * in the UTXO kernel's `applyBlock` switch (assembly/utxo/index.ts) if its records change the UTXO
 * set. Tests may register extra kinds with `registerTxKind`.
 *
 * API: `registerTxKind(module)`, `txKindModule(kind)`, `kindOfTransaction(tx)`,
 * `scanTransaction(tx)`, `transactionIdOfEncoding(tx)`, `transactionIdIfWellFormed(tx)`, `signatureItemsOf(tx, txid)`,
 * `applyRecordOf(tx, txid, shard, shardCount)`, `spenderOf(tx)`.
 */
import type { SignatureItem } from "../../crypto/ed25519.js";
import { sha256 } from "../../crypto/sha256.js";
import { TX_PREFIX, checkTxPrefix, type TxKindModule, type TxShape } from "./interface.js";
import { transferKind } from "./transfer.js";
import { registrationKind } from "./registration.js";
import { slashingKind } from "./slashing.js";
import { crossShardTransferKind } from "./atomix.js";
import { atomixUnlockAbortKind, atomixUnlockCommitKind } from "./atomix-unlock.js";
import { atomixUnlockBatchKind } from "./atomix-unlock-batch.js";
import { IosError, check, hasCodeIn } from "../../errors.js";
import { LEDGER_ERROR_CODES, type LedgerErrorCode } from "../errors.js";

const BUILT_IN: readonly TxKindModule[] = [
  transferKind, slashingKind as TxKindModule, crossShardTransferKind as TxKindModule, atomixUnlockCommitKind as TxKindModule, atomixUnlockAbortKind as TxKindModule,
  registrationKind as TxKindModule, atomixUnlockBatchKind as TxKindModule,
];

/** Indexed by kind byte; a dense array keeps the per-transaction lookup one load. */
const modules: (TxKindModule | undefined)[] = new Array(256).fill(undefined);

/** Adds a kind. Throws TX_BAD_FIELD when its byte is out of range or already taken. */
export function registerTxKind(module: TxKindModule): void {
  const { kind } = module;
  check<LedgerErrorCode>(Number.isInteger(kind) && kind >= 0 && kind <= 0xff, "TX_BAD_FIELD", `kind ${kind} is not a byte`);
  check<LedgerErrorCode>(modules[kind] === undefined, "TX_BAD_FIELD", `kind ${kind} is already registered (${modules[kind]?.name})`);
  modules[kind] = module;
}

for (const module of BUILT_IN) registerTxKind(module);

/** The module of kind byte `kind`; throws TX_UNKNOWN_KIND. */
export function txKindModule(kind: number): TxKindModule {
  const module = modules[kind];
  if (module === undefined) throw new IosError<LedgerErrorCode>("TX_UNKNOWN_KIND", `kind ${kind} is not defined`);
  return module;
}

/** Size limit, version and kind of an encoding; the kind's module. */
export function kindOfTransaction(tx: Uint8Array): TxKindModule {
  return txKindModule(checkTxPrefix(tx));
}

/** Strict structural check of one encoding of any registered kind. */
export function scanTransaction(tx: Uint8Array): TxShape {
  return kindOfTransaction(tx).scan(tx);
}

/** txid of an encoding: SHA-256 over its unsigned prefix. Checks the structure first. */
export function transactionIdOfEncoding(tx: Uint8Array): Uint8Array {
  return sha256(tx.subarray(0, scanTransaction(tx).unsignedEnd));
}

/** The txid of a well-formed encoding, or undefined for a malformed one (its owner reports it elsewhere). */
export function transactionIdIfWellFormed(tx: Uint8Array): Uint8Array | undefined {
  try {
    return transactionIdOfEncoding(tx);
  } catch (error) {
    if (hasCodeIn(error, LEDGER_ERROR_CODES)) return undefined;
    throw error;
  }
}

/** The signature items of a valid encoding whose txid is `txid`. */
export function signatureItemsOf(tx: Uint8Array, txid: Uint8Array): SignatureItem[] {
  const module = kindOfTransaction(tx);
  const shape = module.scan(tx);
  const items: SignatureItem[] = [];
  module.signatureItems(tx, shape, txid, items);
  return items;
}

/** The apply record of one valid encoding in shard `shard` of `shardCount` (src/ledger/records.ts walks it). */
export function applyRecordOf(tx: Uint8Array, txid: Uint8Array, shard: number, shardCount: number): Uint8Array {
  const module = kindOfTransaction(tx);
  const shape = module.scan(tx);
  const record = new Uint8Array(module.recordBytesIn?.(tx, shape, shard, shardCount) ?? shape.recordBytes);
  module.writeRecord(tx, shape, txid, record, 0, shard, shardCount);
  return record;
}

/** The spender key of an encoding (PoB assignment, load routing), or undefined when its kind is unknown or it is too short. */
export function spenderOf(tx: Uint8Array): Uint8Array | undefined {
  return tx.length < TX_PREFIX.bytes ? undefined : modules[tx[TX_PREFIX.offset.kind]!]?.spender(tx);
}
